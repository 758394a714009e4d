/*
 * test-contam.c - the contamination check: normalisation, planted exact and
 * partial overlaps found, clean items clean, and the real GSM8K split
 * (../shared/datasets/gsm8k; skipped when absent): train and test share
 * (nearly) no 13-grams, and a training set holding a test item is flagged;
 * an adapter's training data indexed through its recipe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/contam.h"
#include "loco/model.h"
#include "testutil.h"

static void test_normalize(void **state)
{
    char *s = loco_contam_normalize("  Janet\xe2\x80\x99s DUCKS lay 16 eggs -- per\tday!\n");
    assert_string_equal(s, "janet s ducks lay 16 eggs per day");
    free(s);
    s = loco_contam_normalize("Caf\xc3\xa9 \xc2\xa9 na\xc3\xafve\xe2\x80\x94x \xff y");
    assert_string_equal(s, "caf\xc3\xa9 na\xc3\xafve x y"); /* letters kept, symbols split */
    free(s);
    s = loco_contam_normalize("?!...");
    assert_string_equal(s, "");
    free(s);
    s = loco_contam_normalize(NULL);
    assert_string_equal(s, "");
    free(s);
}

/* Three training texts of 16, 17 and 14 words. */
static const char *train_texts[] = {
    "the quick brown fox jumps over the lazy dog while seven cats watch from a fence",
    "Alice has 12 apples and gives 5 to Bob, how many apples does Alice have left now?",
    "a completely unrelated training sentence about the weather in the mountains during early "
    "spring",
};

static struct loco_contam_index *small_index(void)
{
    struct loco_contam_index *ix = loco_contam_index_init(0);
    assert_non_null(ix);
    for (size_t i = 0; i < sizeof train_texts / sizeof *train_texts; i++)
        assert_int_equal(loco_contam_index_add(ix, train_texts[i]), LOCO_OK);
    return ix;
}

static void test_index(void **state)
{
    struct loco_contam_index *ix = small_index();
    assert_int_equal(loco_contam_index_texts(ix), 3);
    /* 16 + 17 + 14 words: 4 + 5 + 2 windows of 13 */
    assert_int_equal(loco_contam_index_ngrams(ix), 11);
    assert_int_equal(loco_contam_index_add(ix, NULL), LOCO_ERR_INVALID);
    assert_null(loco_contam_index_init(65));
    assert_non_null(strstr(loco_error_message(), "65"));
    loco_contam_index_free(ix);
    loco_contam_index_free(NULL);
}

static void test_query(void **state)
{
    struct loco_contam_index *ix = small_index();
    struct loco_contam_hit h;
    /* exact after normalisation: case, punctuation and spacing differ */
    assert_int_equal(loco_contam_query(ix,
                                       "ALICE has 12 apples AND gives 5 to Bob; how many apples "
                                       "does alice have left now",
                                       &h),
                     LOCO_OK);
    assert_true(h.exact);
    assert_int_equal(h.ngrams, 5);
    assert_int_equal(h.found, 5);
    /* partial: the first 14 words of a training text inside a new item */
    assert_int_equal(loco_contam_query(ix,
                                       "Question: the quick brown fox jumps over the lazy dog "
                                       "while seven cats watch from somewhere else entirely today",
                                       &h),
                     LOCO_OK);
    assert_false(h.exact);
    assert_int_equal(h.ngrams, 7); /* 19 words */
    assert_int_equal(h.found, 2);  /* "the quick .. watch" and "quick .. from" */
    assert_true(h.fraction > 0.28 && h.fraction < 0.29);
    /* clean: same words, other order; and a short item (no 13-grams) */
    assert_int_equal(loco_contam_query(ix,
                                       "dog lazy the over jumps fox brown quick the while seven "
                                       "cats watch from a fence",
                                       &h),
                     LOCO_OK);
    assert_false(h.exact);
    assert_int_equal(h.found, 0);
    assert_int_equal(loco_contam_query(ix, "how many apples", &h), LOCO_OK);
    assert_true(h.ngrams == 0 && h.found == 0 && h.fraction == 0.0 && !h.exact);
    assert_int_equal(loco_contam_query(ix, NULL, &h), LOCO_ERR_INVALID);
    loco_contam_index_free(ix);
}

static void test_is_contaminated(void **state)
{
    struct loco_contam_hit exact = {.exact = true},
                           some = {.ngrams = 10, .found = 2, .fraction = 0.2},
                           none = {.ngrams = 10};
    assert_true(loco_contam_is_contaminated(&exact, 0.9));
    assert_true(loco_contam_is_contaminated(&some, 0.0));
    assert_true(loco_contam_is_contaminated(&some, 0.2));
    assert_false(loco_contam_is_contaminated(&some, 0.5));
    assert_false(loco_contam_is_contaminated(&none, 0.0));
}

static void test_check_report(void **state)
{
    struct loco_contam_index *ix = small_index();
    const char *items[] = {
        "a clean evaluation item that shares no long run of words with any training text at all",
        train_texts[1],
        "prefix words the quick brown fox jumps over the lazy dog while seven cats watch here",
        "short",
    };
    const char *ids[] = {"e0", "e1", "e2", "e3"};
    struct loco_contam_report r;
    assert_int_equal(loco_contam_check(ix, items, ids, 4, LOCO_CONTAM_DEFAULT_THRESHOLD, &r),
                     LOCO_OK);
    assert_int_equal(r.n_items, 4);
    assert_int_equal(r.n_exact, 1);
    assert_int_equal(r.n_overlap, 2);
    assert_int_equal(r.n_flagged, 2);
    assert_int_equal(r.flagged[0], 1);
    assert_int_equal(r.flagged[1], 2);
    assert_string_equal(r.flagged_ids[0], "e1");
    assert_string_equal(r.flagged_ids[1], "e2");
    assert_false(loco_contam_gate(&r));
    loco_contam_report_free(&r);
    /* a higher threshold keeps the exact match and drops the partial one */
    assert_int_equal(loco_contam_check(ix, items, NULL, 4, 0.5, &r), LOCO_OK);
    assert_int_equal(r.n_flagged, 1);
    assert_null(r.flagged_ids);
    loco_contam_report_free(&r);
    /* only the clean items: the gate passes */
    assert_int_equal(loco_contam_check(ix, items, ids, 1, 0.0, &r), LOCO_OK);
    assert_true(loco_contam_gate(&r));
    loco_contam_report_free(&r);
    assert_int_equal(loco_contam_check(ix, items, ids, 4, 1.5, &r), LOCO_ERR_INVALID);
    assert_false(loco_contam_gate(NULL));
    loco_contam_index_free(ix);
}

/* ---- GSM8K -------------------------------------------------------------- */

struct jsonl {
    char **text; /* [n] question, or question + "\n" + answer_text */
    char **id;   /* [n] */
    size_t n;
};

static void jsonl_free(struct jsonl *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->text[i]);
        free(j->id[i]);
    }
    free(j->text);
    free(j->id);
}

static struct jsonl load_gsm8k(const char *path, int with_answer)
{
    struct jsonl j = {0};
    char *all = test_read_file(path, NULL);
    assert_non_null(all);
    size_t cap = 1;
    for (const char *p = all; *p; p++)
        cap += *p == '\n';
    j.text = calloc(cap, sizeof(char *));
    j.id = calloc(cap, sizeof(char *));
    for (char *line = all; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        const char *q = cJSON_GetObjectItemCaseSensitive(o, "question")->valuestring;
        const char *a = cJSON_GetObjectItemCaseSensitive(o, "answer_text")->valuestring;
        size_t len = strlen(q) + strlen(a) + 2;
        j.text[j.n] = malloc(len);
        snprintf(j.text[j.n], len, "%s%s%s", q, with_answer ? "\n" : "", with_answer ? a : "");
        j.id[j.n++] = strdup(cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring);
        cJSON_Delete(o);
        line = nl ? nl + 1 : NULL;
    }
    free(all);
    return j;
}

/* An independent reference for the check: every 13-word window of the
 * normalised training texts, kept as the words themselves (no hashing), in
 * one sorted array that each test question's windows are looked up in by
 * binary search. Normalisation is loco_contam_normalize's (test_normalize
 * covers it); windows, matching and counting are done here from scratch. */
struct window {
    const char *p; /* first word, inside a normalised text */
    size_t len;    /* bytes up to the end of the 13th word */
};

struct ref_index {
    char **norm; /* [n_texts] normalised training texts, owned */
    size_t n_texts;
    struct window *w; /* [n] */
    size_t n, cap;
};

static int window_cmp(const void *a, const void *b)
{
    const struct window *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Calls fn for each window of `norm`; returns the number of windows. */
static size_t each_window(const char *norm, void (*fn)(void *, struct window), void *user)
{
    const char *starts[LOCO_CONTAM_NGRAM];
    size_t words = 0, windows = 0;
    for (const char *p = norm; *p;) {
        starts[words++ % LOCO_CONTAM_NGRAM] = p;
        const char *end = strchr(p, ' ');
        if (!end)
            end = p + strlen(p);
        if (words >= LOCO_CONTAM_NGRAM) {
            const char *first = starts[words % LOCO_CONTAM_NGRAM];
            if (fn)
                fn(user, (struct window){first, (size_t)(end - first)});
            windows++;
        }
        p = *end ? end + 1 : end;
    }
    return windows;
}

static void ref_push(void *user, struct window w)
{
    struct ref_index *r = user;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1 << 16;
        r->w = realloc(r->w, r->cap * sizeof *r->w);
        assert_non_null(r->w);
    }
    r->w[r->n++] = w;
}

static void ref_build(struct ref_index *r, char *const *texts, size_t n)
{
    memset(r, 0, sizeof *r);
    r->norm = calloc(n, sizeof *r->norm);
    r->n_texts = n;
    for (size_t i = 0; i < n; i++) {
        r->norm[i] = loco_contam_normalize(texts[i]);
        each_window(r->norm[i], ref_push, r);
    }
    qsort(r->w, r->n, sizeof *r->w, window_cmp);
}

struct ref_count {
    const struct ref_index *r;
    uint32_t found;
};

static void ref_lookup(void *user, struct window w)
{
    struct ref_count *c = user;
    c->found += bsearch(&w, c->r->w, c->r->n, sizeof w, window_cmp) != NULL;
}

/* The hit loco_contam_query should give for `text`. */
static struct loco_contam_hit ref_query(const struct ref_index *r, const char *text)
{
    char *norm = loco_contam_normalize(text);
    struct ref_count c = {r, 0};
    struct loco_contam_hit h = {0};
    h.ngrams = (uint32_t)each_window(norm, ref_lookup, &c);
    h.found = c.found;
    h.fraction = h.ngrams ? (double)h.found / h.ngrams : 0.0;
    for (size_t i = 0; i < r->n_texts && !h.exact; i++)
        h.exact = *norm && strcmp(norm, r->norm[i]) == 0;
    free(norm);
    return h;
}

static void ref_free(struct ref_index *r)
{
    for (size_t i = 0; i < r->n_texts; i++)
        free(r->norm[i]);
    free(r->norm);
    free(r->w);
}

static void test_gsm8k(void **state)
{
    char train_path[4096], test_path[4096];
    if (!test_shared_path("datasets/gsm8k/train.jsonl", train_path, sizeof train_path) ||
        !test_shared_path("datasets/gsm8k/test.jsonl", test_path, sizeof test_path))
        skip();
    struct jsonl train = load_gsm8k(train_path, 1), test = load_gsm8k(test_path, 0);
    assert_true(train.n > 7000 && test.n > 1300);
    struct loco_contam_index *ix = loco_contam_index_init(0);
    for (size_t i = 0; i < train.n; i++)
        assert_int_equal(loco_contam_index_add(ix, train.text[i]), LOCO_OK);
    struct loco_contam_report r;
    assert_int_equal(loco_contam_check(ix, (const char *const *)test.text,
                                       (const char *const *)test.id, test.n, 0.0, &r),
                     LOCO_OK);
    /* every item's hit equals the reference's, worked out without hashes */
    struct ref_index ref;
    ref_build(&ref, train.text, train.n);
    size_t ref_overlap = 0, ref_exact = 0;
    for (size_t i = 0; i < test.n; i++) {
        struct loco_contam_hit want = ref_query(&ref, test.text[i]);
        if (want.ngrams != r.hits[i].ngrams || want.found != r.hits[i].found ||
            want.exact != r.hits[i].exact)
            fail_msg("%s: %u of %u windows found%s, the reference %u of %u%s", test.id[i],
                     r.hits[i].found, r.hits[i].ngrams, r.hits[i].exact ? " (exact)" : "",
                     want.found, want.ngrams, want.exact ? " (exact)" : "");
        ref_overlap += want.found > 0;
        ref_exact += want.exact;
    }
    ref_free(&ref);
    assert_int_equal(r.n_overlap, ref_overlap);
    assert_int_equal(r.n_exact, ref_exact);
    assert_true(ref_overlap > 0); /* the comparison saw matches, not only misses */
    assert_int_equal(r.n_exact, 0); /* no test question is copied into train */
    fprintf(stderr, "gsm8k: %zu of %zu test questions share a 13-gram with train\n", r.n_overlap,
            r.n_items);
    loco_contam_report_free(&r);
    /* a training set holding test item 17 (question and worked answer) */
    assert_int_equal(loco_contam_index_add(ix, test.text[17]), LOCO_OK);
    assert_int_equal(loco_contam_check(ix, (const char *const *)test.text,
                                       (const char *const *)test.id, test.n, 0.0, &r),
                     LOCO_OK);
    assert_true(r.hits[17].exact && r.hits[17].fraction == 1.0);
    int found = 0;
    for (size_t i = 0; i < r.n_flagged; i++)
        found += strcmp(r.flagged_ids[i], test.id[17]) == 0;
    assert_int_equal(found, 1);
    assert_false(loco_contam_gate(&r));
    loco_contam_report_free(&r);
    loco_contam_index_free(ix);
    jsonl_free(&train);
    jsonl_free(&test);
}

/* ---- an adapter's training data through its recipe ------------------------- */

static void test_recipe_index(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    char dir[] = "/tmp/loco-contam-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char data[300], recipe[300], text[1024];
    snprintf(data, sizeof data, "%s/data.jsonl", dir);
    snprintf(recipe, sizeof recipe, "%s/r.yaml", dir);
    FILE *f = fopen(data, "w");
    assert_non_null(f);
    fputs("{\"question\":\"Ann has seven red marbles and buys twelve blue marbles at the "
          "corner shop on Monday. How many marbles does she have now?\",\"answer_text\":"
          "\"She has 7 + 12 = 19 marbles.\\n#### 19\"}\n"
          "{\"question\":\"A farmer plants four rows of nine cabbages and then sells half of "
          "all the cabbages at the market. How many are left?\",\"answer_text\":\"#### 18\"}\n"
          "{\"question\":\"This third problem is past the recipe's limit and so it was never "
          "seen by the adapter during its training run at all.\",\"answer_text\":\"#### 1\"}\n",
          f);
    fclose(f);
    snprintf(text, sizeof text,
             "name: t\nchat_template: chatml\ndata:\n  path: data.jsonl\n  format: fields\n"
             "  prompt: \"{question}\"\n  response: \"{answer_text}\"\n  limit: 2\n"
             "  validation: 1\n");
    f = fopen(recipe, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);

    struct loco_contam_index *ix = loco_contam_index_init(0);
    size_t n = 0;
    assert_int_equal(loco_contam_index_add_recipe(ix, recipe, m, &n), LOCO_OK);
    assert_int_equal(n, 2); /* limit 2: the validation example is indexed too */
    struct loco_contam_hit hit;
    /* a paraphrased copy of the first question shares 13-grams */
    assert_int_equal(loco_contam_query(ix, "Ann has seven red marbles and buys twelve blue "
                                           "marbles at the corner shop on Monday. How many?",
                                       &hit), LOCO_OK);
    assert_true(hit.found > 0);
    assert_int_equal(loco_contam_query(ix, "A farmer plants four rows of nine cabbages and then "
                                           "sells half of all the cabbages at the market. How "
                                           "many are left?", &hit), LOCO_OK);
    assert_true(hit.exact);
    assert_int_equal(loco_contam_query(ix, "This third problem is past the recipe's limit and "
                                           "so it was never seen by the adapter during its "
                                           "training run at all.", &hit), LOCO_OK);
    assert_false(hit.exact);
    assert_int_equal(hit.found, 0);
    /* a missing recipe and a recipe whose data is gone: errors that name them */
    char missing[320];
    snprintf(missing, sizeof missing, "%s/none.yaml", dir);
    assert_true(loco_contam_index_add_recipe(ix, missing, m, NULL) < 0);
    assert_non_null(strstr(loco_error_message(), "none.yaml"));
    unlink(data);
    assert_true(loco_contam_index_add_recipe(ix, recipe, m, NULL) < 0);
    assert_non_null(strstr(loco_error_message(), "data.jsonl"));
    unlink(recipe);
    rmdir(dir);
    loco_contam_index_free(ix);
    loco_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),    cmocka_unit_test(test_index),
        cmocka_unit_test(test_query),        cmocka_unit_test(test_is_contaminated),
        cmocka_unit_test(test_check_report), cmocka_unit_test(test_gsm8k),
        cmocka_unit_test(test_recipe_index),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
