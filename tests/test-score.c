/*
 * test-score.c - the answer scorers: exact match, lm-eval's regex filter,
 * GSM8K, the Porter stemmer, ROUGE-L and multiple choice.
 *
 * Goldens: tests/reference/rouge-golden.json, written by
 * tests/reference/make-rouge-golden.py from Google's rouge-score and NLTK.
 * It holds only ids and numbers for the data-set pairs; the texts are read
 * again from ../shared (tests needing it skip when it is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/score.h"
#include "testutil.h"

#define ROUGE_TOL 1e-6

/* ---- helpers ------------------------------------------------------------ */

/* |got - want| <= tol, in double precision (cmocka's float assert rounds). */
static cJSON *read_golden(void)
{
    char *text = test_source_text("tests/reference/rouge-golden.json");
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static void assert_extract(const char *response, enum loco_gsm8k_filter f, const char *want)
{
    char *got = NULL;
    assert_int_equal(loco_gsm8k_extract(response, f, &got), LOCO_OK);
    assert_string_equal(got, want);
    free(got);
}

static void assert_normalised(const char *s, uint32_t flags, const char *want)
{
    char *got = loco_score_normalise(s, flags);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* ---- exact match ---------------------------------------------------------- */

static void test_normalise_flags(void **state)
{
    (void)state;
    assert_normalised("  Paris \n", LOCO_NORM_NONE, "Paris");
    assert_normalised("The  Eiffel\tTower", LOCO_NORM_NONE, "The  Eiffel\tTower");
    assert_normalised("The  Eiffel\tTower", LOCO_NORM_WHITESPACE, "The Eiffel Tower");
    assert_normalised("The Eiffel Tower", LOCO_NORM_CASE, "the eiffel tower");
    assert_normalised("Hello, world!", LOCO_NORM_PUNCTUATION, "Hello world");
    assert_normalised(" a , b ;c ", LOCO_NORM_PUNCTUATION | LOCO_NORM_WHITESPACE, "a b c");
    assert_normalised("Ünïcode STAYS", LOCO_NORM_CASE, "Ünïcode stays");
    assert_normalised("", LOCO_NORM_WHITESPACE, "");
    assert_null(loco_score_normalise(NULL, 0));
}

static void test_exact_match(void **state)
{
    (void)state;
    assert_int_equal(loco_score_exact_match("Paris\n", "Paris", LOCO_NORM_NONE), 1);
    assert_int_equal(loco_score_exact_match("paris", "Paris", LOCO_NORM_NONE), 0);
    assert_int_equal(loco_score_exact_match("paris", "Paris", LOCO_NORM_CASE), 1);
    assert_int_equal(loco_score_exact_match("Paris.", "Paris", LOCO_NORM_CASE), 0);
    assert_int_equal(loco_score_exact_match("Paris.", "Paris", LOCO_NORM_PUNCTUATION), 1);
    assert_int_equal(loco_score_exact_match(NULL, "x", 0), LOCO_ERR_INVALID);
}

/* ---- regex filter --------------------------------------------------------- */

static void test_regex_extract_groups_and_select(void **state)
{
    (void)state;
    char *out = NULL;
    /* no group: the whole match; select first and last */
    assert_int_equal(loco_score_regex_extract("a1 b22 c333", "[0-9]+", 0, "none", &out), LOCO_OK);
    assert_string_equal(out, "1");
    free(out);
    assert_int_equal(loco_score_regex_extract("a1 b22 c333", "[0-9]+", -1, "none", &out), LOCO_OK);
    assert_string_equal(out, "333");
    free(out);
    assert_int_equal(loco_score_regex_extract("a1 b22 c333", "[0-9]+", 1, "none", &out), LOCO_OK);
    assert_string_equal(out, "22");
    free(out);
    /* one group: the group, stripped */
    assert_int_equal(loco_score_regex_extract("x= 7 ;", "=( *[0-9] *);", 0, "none", &out), LOCO_OK);
    assert_string_equal(out, "7");
    free(out);
    /* two groups: the first non-empty one */
    assert_int_equal(loco_score_regex_extract("ab", "(x)?(b)", 0, "none", &out), LOCO_OK);
    assert_string_equal(out, "b");
    free(out);
    /* no match: the fallback */
    assert_int_equal(loco_score_regex_extract("abc", "[0-9]", 0, "[invalid]", &out), LOCO_OK);
    assert_string_equal(out, "[invalid]");
    free(out);
}

static void test_regex_extract_errors(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(loco_score_regex_extract("abc", "(unclosed", 0, "", &out), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "(unclosed"));
    assert_null(out);
    assert_int_equal(loco_score_regex_extract("a1", "[0-9]", 3, "", &out), LOCO_ERR_RANGE);
    assert_int_equal(loco_score_regex_extract("a1", "[0-9]", -2, "", &out), LOCO_ERR_RANGE);
    assert_int_equal(loco_score_regex_extract(NULL, "x", 0, "", &out), LOCO_ERR_INVALID);
}

/* Empty matches advance as in Python's re.findall: findall("x*", "ab")
 * gives ['', '', ''], so the last of three is empty. */
static void test_regex_extract_empty_matches(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(loco_score_regex_extract("ab", "x*", 2, "none", &out), LOCO_OK);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(loco_score_regex_extract("ab", "x*", 3, "none", &out), LOCO_ERR_RANGE);
    /* findall("a*", "baa") == ['', 'aa', ''] */
    assert_int_equal(loco_score_regex_extract("baa", "a*", 1, "none", &out), LOCO_OK);
    assert_string_equal(out, "aa");
    free(out);
}

/* ---- GSM8K ----------------------------------------------------------------- */

static void test_gsm8k_strict(void **state)
{
    (void)state;
    assert_extract("She makes 9 * 2 = $18.\n#### 18", LOCO_GSM8K_STRICT, "18");
    assert_extract("#### 1,234.5 and later #### 7", LOCO_GSM8K_STRICT, "1,234.5");
    assert_extract("#### -3.", LOCO_GSM8K_STRICT, "-3.");
    assert_extract("####18", LOCO_GSM8K_STRICT, LOCO_GSM8K_INVALID);
    assert_extract("The answer is 18", LOCO_GSM8K_STRICT, LOCO_GSM8K_INVALID);
    /* the final "." of the pattern is any character: greedy "42." then " " */
    assert_extract("So The answer is 42. Done.", LOCO_GSM8K_STRICT_COT, "42.");
    assert_extract("so the answer is 42. Done.", LOCO_GSM8K_STRICT_COT, LOCO_GSM8K_INVALID);
    assert_extract("The answer is 42", LOCO_GSM8K_STRICT_COT, "4");
    assert_extract("The answer is $42", LOCO_GSM8K_STRICT_COT, LOCO_GSM8K_INVALID);
    assert_int_equal(loco_gsm8k_extract("x", (enum loco_gsm8k_filter)9, &(char *){NULL}),
                     LOCO_ERR_INVALID);
}

static void test_gsm8k_flexible(void **state)
{
    (void)state;
    /* the last match; a lone digit needs the second alternative */
    assert_extract("3 apples and 4 pears make 7", LOCO_GSM8K_FLEXIBLE, "7");
    assert_extract("It costs $1,200.", LOCO_GSM8K_FLEXIBLE, "$1,200.");
    assert_extract("-5 is the answer", LOCO_GSM8K_FLEXIBLE, "-5");
    assert_extract("Total: 12 dollars, i.e. 12.", LOCO_GSM8K_FLEXIBLE, "12.");
    assert_extract("no digits here", LOCO_GSM8K_FLEXIBLE, LOCO_GSM8K_INVALID);
    /* "..": two characters of the first class count as a number */
    assert_extract("5 ..", LOCO_GSM8K_FLEXIBLE, "..");
}

static void test_gsm8k_normalise(void **state)
{
    (void)state;
    char *s = loco_gsm8k_normalise("Janet sells <<16-3-4=9>>9 eggs.\n#### 1,018");
    assert_string_equal(s, "1018");
    free(s);
    s = loco_gsm8k_normalise("$1,200.");
    assert_string_equal(s, "1200");
    free(s);
    s = loco_gsm8k_normalise("12..");
    assert_string_equal(s, "12.");
    free(s);
    s = loco_gsm8k_normalise("7.\n");
    assert_string_equal(s, "7\n");
    free(s);
    s = loco_gsm8k_normalise("[INVALID]");
    assert_string_equal(s, "[invalid]");
    free(s);
    assert_null(loco_gsm8k_normalise(NULL));
}

static void test_gsm8k_score(void **state)
{
    (void)state;
    assert_int_equal(loco_gsm8k_score("... so $18.\n#### 18", "18", LOCO_GSM8K_STRICT), 1);
    assert_int_equal(loco_gsm8k_score("#### 1,000", "1000", LOCO_GSM8K_STRICT), 1);
    assert_int_equal(loco_gsm8k_score("#### 18.", "x #### 18", LOCO_GSM8K_STRICT), 1);
    assert_int_equal(loco_gsm8k_score("#### 18.0", "18", LOCO_GSM8K_STRICT), 0);
    assert_int_equal(loco_gsm8k_score("The total is $18.", "18", LOCO_GSM8K_STRICT), 0);
    assert_int_equal(loco_gsm8k_score("The total is $18.", "18", LOCO_GSM8K_FLEXIBLE), 1);
    assert_int_equal(loco_gsm8k_score("18 then 19", "18", LOCO_GSM8K_FLEXIBLE), 0);
    assert_int_equal(loco_gsm8k_score(NULL, "18", LOCO_GSM8K_FLEXIBLE), LOCO_ERR_INVALID);
}

static void test_gsm8k_prompts(void **state)
{
    (void)state;
    struct loco_gsm8k_example shots[2] = {
        {"t0", "What is 1+1?", "1+1 = <<1+1=2>>2\n#### 2", "2"},
        {"t1", "What is 2*3?", "2*3 = 6\n#### 6", "6"},
    };
    char *p = loco_gsm8k_fewshot_prompt(shots, 2, 2, "What is 5-2?");
    assert_string_equal(p, "Question: What is 1+1?\nAnswer: 1+1 = <<1+1=2>>2\n#### 2\n\n"
                           "Question: What is 2*3?\nAnswer: 2*3 = 6\n#### 6\n\n"
                           "Question: What is 5-2?\nAnswer:");
    free(p);
    p = loco_gsm8k_fewshot_prompt(shots, 2, 1, "Q?");
    assert_string_equal(p, "Question: What is 1+1?\nAnswer: 1+1 = <<1+1=2>>2\n#### 2\n\n"
                           "Question: Q?\nAnswer:");
    free(p);
    p = loco_gsm8k_fewshot_prompt(NULL, 0, 0, "Q?");
    assert_string_equal(p, "Question: Q?\nAnswer:");
    free(p);
    assert_null(loco_gsm8k_fewshot_prompt(shots, 2, 3, "Q?"));
    assert_non_null(strstr(loco_error_message(), "3 shots"));

    p = loco_gsm8k_chat_prompt("How many eggs?");
    assert_non_null(strstr(p, "#### <number>"));
    size_t n = strlen(p), q = strlen("Question: How many eggs?");
    assert_true(n > q && strcmp(p + n - q, "Question: How many eggs?") == 0);
    free(p);
    assert_null(loco_gsm8k_chat_prompt(NULL));
}

/* Every gold worked solution in the test split scores 1 against its own
 * answer under both filters: the filters and the normalisation agree with
 * how the data set was made. */
static void test_gsm8k_dataset_self_consistent(void **state)
{
    (void)state;
    char path[4096];
    if (!test_shared_path("datasets/gsm8k/test.jsonl", path, sizeof path))
        skip();
    struct loco_gsm8k_example *ex = NULL;
    size_t n = 0;
    assert_int_equal(loco_gsm8k_load(path, 0, &ex, &n), LOCO_OK);
    assert_int_equal(n, 1319);
    assert_string_equal(ex[0].id, "gsm8k-test-0");
    assert_string_equal(ex[0].answer, "18");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(loco_gsm8k_score(ex[i].answer_text, ex[i].answer, LOCO_GSM8K_STRICT), 1);
        assert_int_equal(loco_gsm8k_score(ex[i].answer_text, ex[i].answer, LOCO_GSM8K_FLEXIBLE), 1);
    }
    loco_gsm8k_examples_free(ex, n);
}

static void test_gsm8k_fewshot_from_train(void **state)
{
    (void)state;
    char path[4096];
    if (!test_shared_path("datasets/gsm8k/train.jsonl", path, sizeof path))
        skip();
    struct loco_gsm8k_example *ex = NULL;
    size_t n = 0;
    assert_int_equal(loco_gsm8k_load(path, 5, &ex, &n), LOCO_OK);
    assert_int_equal(n, 5);
    char *p = loco_gsm8k_fewshot_prompt(ex, n, 5, "How many?");
    assert_non_null(p);
    assert_memory_equal(p, "Question: ", 10);
    assert_memory_equal(p + 10, ex[0].question, strlen(ex[0].question));
    size_t questions = 0;
    for (const char *s = p; (s = strstr(s, "Question: ")); s++)
        questions++;
    assert_int_equal(questions, 6);
    assert_non_null(strstr(p, ex[4].answer_text));
    free(p);
    loco_gsm8k_examples_free(ex, n);
}

static void test_gsm8k_load_errors(void **state)
{
    (void)state;
    struct loco_gsm8k_example *ex = NULL;
    size_t n = 7;
    assert_int_equal(loco_gsm8k_load("/nonexistent/gsm8k.jsonl", 0, &ex, &n), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "/nonexistent/gsm8k.jsonl"));
    assert_null(ex);
    assert_int_equal(n, 0);

    char tmp[] = "/tmp/loco-gsm8k-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"id\":\"a\",\"question\":\"q\",\"answer_text\":\"#### 1\",\"answer\":\"1\"}\n\n"
          "{\"id\":\"b\",\"question\":\"q\",\"answer_text\":\"#### 2\"}\n",
          f);
    fclose(f);
    assert_int_equal(loco_gsm8k_load(tmp, 0, &ex, &n), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), ":3: field \"answer\""));
    assert_int_equal(loco_gsm8k_load(tmp, 1, &ex, &n), LOCO_OK); /* max stops before line 3 */
    assert_int_equal(n, 1);
    loco_gsm8k_examples_free(ex, n);
    remove(tmp);
}

/* ---- Porter stemmer ------------------------------------------------------ */

static void test_porter_golden_words(void **state)
{
    (void)state;
    cJSON *g = read_golden();
    const cJSON *stems = cJSON_GetObjectItem(g, "stems");
    assert_true(cJSON_GetArraySize(stems) > 400);
    const cJSON *pair;
    char out[64];
    cJSON_ArrayForEach(pair, stems)
    {
        const char *word = cJSON_GetArrayItem(pair, 0)->valuestring;
        const char *want = cJSON_GetArrayItem(pair, 1)->valuestring;
        int n = loco_porter_stem(word, out, sizeof out);
        if (n < 0 || strcmp(out, want) != 0)
            fail_msg("stem(\"%s\") = \"%s\", NLTK says \"%s\"", word, out, want);
        assert_int_equal((size_t)n, strlen(want));
    }
    cJSON_Delete(g);
}

static void test_porter_paper_examples_and_limits(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"CARESSES", "caress"},       {"ponies", "poni"}, {"relational", "relat"},
        {"conditional", "condit"},    {"hopping", "hop"}, {"filing", "file"},
        {"generalizations", "gener"}, {"a", "a"},         {"", ""},
        {"yyyyyy", "yyyyyi"},         {"2017", "2017"},
    };
    char out[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(loco_porter_stem(cases[i][0], out, sizeof out) >= 0);
        assert_string_equal(out, cases[i][1]);
    }
    /* a long run of y's stems in linear time (each y flips consonant/vowel) */
    size_t n = 200000;
    char *ys = malloc(n + 1), *stem = malloc(n + 1);
    memset(ys, 'y', n);
    ys[n] = '\0';
    assert_int_equal(loco_porter_stem(ys, stem, n + 1), (int)n);
    assert_int_equal(stem[n - 1], 'i'); /* step 1c: y after a consonant */
    free(ys);
    free(stem);

    assert_int_equal(loco_porter_stem("running", out, 7), LOCO_ERR_RANGE);
    assert_int_equal(loco_porter_stem("running", out, 8), 3);
    assert_int_equal(loco_porter_stem(NULL, out, 8), LOCO_ERR_INVALID);
}

/* ---- ROUGE-L --------------------------------------------------------------- */

static void test_rouge_tokenize(void **state)
{
    (void)state;
    struct loco_rouge_tokens t;
    assert_int_equal(loco_rouge_tokenize("The cats' 3 HATS-were: £80m!", false, &t), LOCO_OK);
    static const char *const plain[] = {"the", "cats", "3", "hats", "were", "80m"};
    assert_int_equal(t.n, 6);
    for (size_t i = 0; i < t.n; i++)
        assert_string_equal(t.tok[i], plain[i]);
    loco_rouge_tokens_free(&t);

    assert_int_equal(loco_rouge_tokenize("The cats' 3 HATS-were running", true, &t), LOCO_OK);
    static const char *const stemmed[] = {"the", "cat", "3", "hat", "were", "run"};
    assert_int_equal(t.n, 6);
    for (size_t i = 0; i < t.n; i++)
        assert_string_equal(t.tok[i], stemmed[i]);
    loco_rouge_tokens_free(&t);

    /* U+0130 lowers to "i" + a combining dot (a separator), U+212A to "k" */
    assert_int_equal(loco_rouge_tokenize("\xC4\xB0stanbul \xE2\x84\xAA"
                                         "elvin caf\xC3\xA9",
                                         false, &t),
                     LOCO_OK);
    static const char *const uni[] = {"i", "stanbul", "kelvin", "caf"};
    assert_int_equal(t.n, 4);
    for (size_t i = 0; i < t.n; i++)
        assert_string_equal(t.tok[i], uni[i]);
    loco_rouge_tokens_free(&t);

    assert_int_equal(loco_rouge_tokenize(" -- ", true, &t), LOCO_OK);
    assert_int_equal(t.n, 0);
    loco_rouge_tokens_free(&t);
    assert_int_equal(loco_rouge_tokenize(NULL, true, &t), LOCO_ERR_INVALID);
}

static void test_rouge_l_by_hand(void **state)
{
    (void)state;
    struct loco_rouge_score s;
    /* reference 6 tokens, candidate 4, LCS "the cat on mat" = 4 */
    assert_int_equal(loco_rouge_l("the cat sat on the mat", "the cat on mat", true, &s), LOCO_OK);
    assert_near(s.precision, 1.0, 1e-12);
    assert_near(s.recall, 4.0 / 6.0, 1e-12);
    assert_near(s.f1, 0.8, 1e-12);
    assert_int_equal(loco_rouge_l("", "anything", true, &s), LOCO_OK);
    assert_near(s.f1, 0.0, 0.0);
    assert_int_equal(loco_rouge_l("a b", "c d", true, &s), LOCO_OK);
    assert_near(s.precision + s.recall + s.f1, 0.0, 0.0);
    /* stemming matters: "runs" ~ "running" only with the stemmer */
    assert_int_equal(loco_rouge_l("she runs", "she running", false, &s), LOCO_OK);
    assert_near(s.f1, 0.5, 1e-12);
    assert_int_equal(loco_rouge_l("she runs", "she running", true, &s), LOCO_OK);
    assert_near(s.f1, 1.0, 1e-12);
    assert_int_equal(loco_rouge_l(NULL, "x", true, &s), LOCO_ERR_INVALID);
}

static void check_score(const char *what, const struct loco_rouge_score *got, const cJSON *want,
                        double *max_err)
{
    double w[3] = {cJSON_GetObjectItem(want, "precision")->valuedouble,
                   cJSON_GetObjectItem(want, "recall")->valuedouble,
                   cJSON_GetObjectItem(want, "f1")->valuedouble};
    double g[3] = {got->precision, got->recall, got->f1};
    for (int k = 0; k < 3; k++) {
        double e = fabs(g[k] - w[k]);
        if (e > *max_err)
            *max_err = e;
        if (e > ROUGE_TOL)
            fail_msg("%s: score %d is %.9f, rouge-score says %.9f", what, k, g[k], w[k]);
    }
}

static void test_rouge_l_golden_synthetic(void **state)
{
    (void)state;
    cJSON *g = read_golden();
    const cJSON *pairs = cJSON_GetObjectItem(g, "synthetic"), *p;
    double max_err = 0;
    assert_true(cJSON_GetArraySize(pairs) >= 10);
    cJSON_ArrayForEach(p, pairs)
    {
        const char *ref = cJSON_GetObjectItem(p, "reference")->valuestring;
        const char *cand = cJSON_GetObjectItem(p, "candidate")->valuestring;
        struct loco_rouge_score s;
        assert_int_equal(loco_rouge_l(ref, cand, true, &s), LOCO_OK);
        check_score(ref, &s, p, &max_err);
    }
    cJSON_Delete(g);
}

/* The candidate the golden script built: the first 30 runs of non-ASCII-
 * whitespace characters of the document, joined by single spaces. */
static char *first_words(const char *doc, int n_words)
{
    char *out = malloc(strlen(doc) + 1);
    size_t n = 0;
    const char *ws = " \t\n\r\f\v";
    const char *p = doc + strspn(doc, ws);
    for (int w = 0; w < n_words && *p; w++) {
        size_t k = strcspn(p, ws);
        if (w > 0)
            out[n++] = ' ';
        memcpy(out + n, p, k);
        n += k;
        p += k;
        p += strspn(p, ws);
    }
    out[n] = '\0';
    return out;
}

static void test_rouge_l_golden_xsum(void **state)
{
    (void)state;
    char path[4096];
    if (!test_shared_path("datasets/summarisation/summarisation.jsonl", path, sizeof path))
        skip();
    cJSON *g = read_golden();
    const cJSON *pairs = cJSON_GetObjectItem(g, "pairs");
    size_t n_pairs = (size_t)cJSON_GetArraySize(pairs);
    assert_int_equal(n_pairs, 200);
    char *text = test_read_file(path, NULL);
    assert_non_null(text);
    char *cursor = text, *line;
    double max_err = 0;
    size_t checked = 0;
    while (checked < n_pairs && (line = strsep(&cursor, "\n"))) {
        cJSON *rec = cJSON_Parse(line);
        assert_non_null(rec);
        const cJSON *want = cJSON_GetArrayItem(pairs, (int)checked);
        const char *id = cJSON_GetObjectItem(rec, "id")->valuestring;
        assert_string_equal(id, cJSON_GetObjectItem(want, "id")->valuestring);
        char *cand = first_words(cJSON_GetObjectItem(rec, "document")->valuestring, 30);
        struct loco_rouge_score s;
        assert_int_equal(
            loco_rouge_l(cJSON_GetObjectItem(rec, "summary")->valuestring, cand, true, &s),
            LOCO_OK);
        check_score(id, &s, want, &max_err);
        free(cand);
        cJSON_Delete(rec);
        checked++;
    }
    assert_int_equal(checked, 200);
    print_message("ROUGE-L: %zu pairs agree with rouge-score, max |difference| %.3g\n", checked,
                  max_err);
    free(text);
    cJSON_Delete(g);
}

/* ---- multiple choice ------------------------------------------------------- */

static const struct loco_mc_choice SAFETY[] = {
    {"A", "safety goggles"},
    {"B", "breathing mask"},
    {"C", "rubber gloves"},
    {"D", "lead apron"},
};

static void test_mc_prompt(void **state)
{
    (void)state;
    char *p = loco_mc_prompt("Which keeps out mold spores?", SAFETY, 4);
    assert_string_equal(p, "Question: Which keeps out mold spores?\n"
                           "A. safety goggles\nB. breathing mask\nC. rubber gloves\n"
                           "D. lead apron\n"
                           "Answer with the label of the correct choice (A, B, C or D).\n"
                           "Answer:");
    free(p);
    struct loco_mc_choice two[] = {{"1", "yes"}, {"2", "no"}};
    p = loco_mc_prompt("Q?", two, 2);
    assert_non_null(strstr(p, "1. yes\n2. no\n"));
    assert_non_null(strstr(p, "(1 or 2)"));
    free(p);
    struct loco_mc_choice bad[] = {{"AB", "x"}};
    assert_null(loco_mc_prompt("Q?", bad, 1));
    assert_null(loco_mc_prompt("Q?", SAFETY, 0));
    struct loco_mc_choice dup[] = {{"A", "x"}, {"A", "y"}};
    assert_null(loco_mc_prompt("Q?", dup, 2));
    assert_non_null(strstr(loco_error_message(), "twice"));
}

static void test_mc_extract_forms(void **state)
{
    (void)state;
    static const struct {
        const char *answer;
        int want;
    } cases[] = {
        {"B", 1},
        {"  (C)", 2},
        {"D) lead apron", 3},
        {"A. safety goggles", 0},
        {"B\nBecause spores are breathed in.", 1},
        {"The answer is B.", 1},
        {"The correct answer is: (C)", 2},
        {"Answer: **D**", 3},
        {"I think the answer would be option A", 0},
        {"It is not A. The answer is B", 1},            /* last explicit statement */
        {"Maybe (A) or maybe not, the answer is C", 2}, /* explicit beats parentheses */
        {"Spores are stopped by (B).", 1},
        {"They should wear a breathing mask.", 1}, /* "a" is not label A */
        {"Wear Rubber Gloves!", 2},
        {"A breathing mask", 1}, /* "A" opening a sentence is not a label */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = loco_mc_extract(cases[i].answer, SAFETY, 4);
        if (got != cases[i].want)
            fail_msg("\"%s\": picked %d, want %d", cases[i].answer, got, cases[i].want);
    }
    assert_int_equal(loco_mc_extract("I do not know.", SAFETY, 4), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_mc_extract("The answer is E", SAFETY, 4), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_mc_extract(NULL, SAFETY, 4), LOCO_ERR_INVALID);

    struct loco_mc_choice numeric[] = {{"1", "mask"}, {"2", "breathing mask"}, {"3", "x"}};
    assert_int_equal(loco_mc_extract("Answer: 3", numeric, 3), 2);
    assert_int_equal(loco_mc_extract("2", numeric, 3), 1);
    assert_int_equal(loco_mc_extract("a breathing mask", numeric, 3), 1); /* longest text */
    assert_int_equal(loco_mc_extract("a mask", numeric, 3), 0);
}

static void test_mc_score(void **state)
{
    (void)state;
    assert_int_equal(loco_mc_score("The answer is B", SAFETY, 4, "B"), 1);
    assert_int_equal(loco_mc_score("The answer is A", SAFETY, 4, "B"), 0);
    assert_int_equal(loco_mc_score("no idea", SAFETY, 4, "B"), 0);
    assert_int_equal(loco_mc_score("B", SAFETY, 4, NULL), LOCO_ERR_INVALID);
}

static void test_arc_item_parse(void **state)
{
    (void)state;
    struct loco_arc_item it;
    assert_int_equal(loco_arc_item_parse("{\"id\":\"q1\",\"question\":\"Which?\",\"choices\":"
                                         "[{\"label\":\"1\",\"text\":\"one\"},"
                                         "{\"label\":\"2\",\"text\":\"two\"}],\"answerKey\":\"2\"}",
                                         &it),
                     LOCO_OK);
    assert_string_equal(it.id, "q1");
    assert_string_equal(it.question, "Which?");
    assert_string_equal(it.answer_key, "2");
    assert_int_equal(it.n_choices, 2);
    assert_string_equal(it.choices[1].text, "two");
    loco_arc_item_free(&it);

    assert_int_equal(loco_arc_item_parse("{\"id\":\"q2\",\"question\":\"?\",\"choices\":[],"
                                         "\"answerKey\":\"A\"}",
                                         &it),
                     LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "choices"));
    assert_int_equal(loco_arc_item_parse("{\"id\":\"q3\",\"question\":\"?\",\"choices\":"
                                         "[{\"label\":\"A\",\"text\":\"x\"}],\"answerKey\":\"B\"}",
                                         &it),
                     LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "answerKey"));
    assert_int_equal(loco_arc_item_parse("[1]", &it), LOCO_ERR_FORMAT);
}

/* On the real ARC-Easy and ARC-Challenge test sets: answering with the
 * label, the label in a sentence, or the right choice's text always scores
 * 1, and the prompt lists every choice. */
static void check_arc_file(const char *rel)
{
    char path[4096];
    if (!test_shared_path(rel, path, sizeof path))
        skip();
    char *text = test_read_file(path, NULL);
    assert_non_null(text);
    char *cursor = text, *line;
    size_t n = 0, by_text = 0;
    while ((line = strsep(&cursor, "\n")) && *line) {
        struct loco_arc_item it;
        if (loco_arc_item_parse(line, &it) != LOCO_OK)
            fail_msg("%s:%zu: %s", rel, n + 1, loco_error_message());
        char buf[64];
        assert_int_equal(loco_mc_score(it.answer_key, it.choices, it.n_choices, it.answer_key), 1);
        snprintf(buf, sizeof buf, "The answer is %s.", it.answer_key);
        assert_int_equal(loco_mc_score(buf, it.choices, it.n_choices, it.answer_key), 1);
        snprintf(buf, sizeof buf, "(%s)", it.answer_key);
        assert_int_equal(loco_mc_score(buf, it.choices, it.n_choices, it.answer_key), 1);
        for (size_t c = 0; c < it.n_choices; c++) {
            const char *t = it.choices[c].text;
            bool is_label = false; /* text "C" is read as label C, by design */
            for (size_t k = 0; k < it.n_choices; k++)
                is_label = is_label || strcmp(t, it.choices[k].label) == 0;
            if (is_label)
                continue;
            by_text++;
            int got = loco_mc_extract(t, it.choices, it.n_choices);
            if (got != (int)c)
                fail_msg("%s: answering with choice %zu's text \"%s\" picked %d", it.id, c, t, got);
        }
        char *p = loco_mc_prompt(it.question, it.choices, it.n_choices);
        assert_non_null(p);
        for (size_t c = 0; c < it.n_choices; c++)
            assert_non_null(strstr(p, it.choices[c].text));
        free(p);
        loco_arc_item_free(&it);
        n++;
    }
    print_message("%s: %zu questions; each of %zu choice texts picks its own choice\n", rel, n,
                  by_text);
    assert_true(n > 1000);
    free(text);
}

static void test_arc_dataset_easy(void **state)
{
    (void)state;
    check_arc_file("datasets/arc/ARC-Easy-test.jsonl");
}

static void test_arc_dataset_challenge(void **state)
{
    (void)state;
    check_arc_file("datasets/arc/ARC-Challenge-test.jsonl");
}

/* ---- numbers: the shared extraction, the numeric and regex scorers ------- */

static void check_parse(const char *text, double want)
{
    double v = NAN;
    if (loco_number_parse(text, &v) != LOCO_OK)
        fail_msg("\"%s\" did not parse: %s", text, loco_error_message());
    assert_near(v, want, 1e-12 * fmax(1.0, fabs(want)));
}

static void test_number_parse(void **state)
{
    (void)state;
    check_parse("18", 18);
    check_parse(" 1,234 ", 1234);
    check_parse("1,234,567.5", 1234567.5);
    check_parse("$5", 5);
    check_parse("\\$5", 5);
    check_parse("-$2.50", -2.5);
    check_parse("$-2.50", -2.5);
    check_parse("50%", 50);
    check_parse("50\\%", 50);
    check_parse("18.", 18);
    check_parse("3.50", 3.5);
    check_parse(".5", 0.5);
    check_parse("+7", 7);
    check_parse("3/4", 0.75);
    check_parse("\\frac{3}{4}", 0.75);
    check_parse("\\dfrac{1}{8}", 0.125);
    check_parse("\xe2\x82\xac"
                "12",
                12);
    check_parse("\xc2\xa3"
                "3,000",
                3000);
    double v;
    const char *bad[] = {"",    "abc",       "1.2.3", ",5", "5,",           "1,,2",
                         "3/0", "18 apples", "-",     "$",  "\\frac{1}{0}", "1e5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (loco_number_parse(bad[i], &v) != LOCO_ERR_FORMAT)
            fail_msg("\"%s\" parsed as a number", bad[i]);
    assert_int_equal(loco_number_parse(NULL, &v), LOCO_ERR_INVALID);
}

static void test_number_equal(void **state)
{
    (void)state;
    assert_true(loco_number_equal(3.5, 3.50, LOCO_NUMBER_REL_TOL));
    assert_true(loco_number_equal(0, 0, LOCO_NUMBER_REL_TOL));
    assert_true(loco_number_equal(1e6, 1e6 * (1 + 5e-7), LOCO_NUMBER_REL_TOL));
    assert_false(loco_number_equal(1e6, 1e6 * (1 + 2e-6), LOCO_NUMBER_REL_TOL));
    assert_false(loco_number_equal(0.1, 0.2, LOCO_NUMBER_REL_TOL));
    assert_false(loco_number_equal(0, 1e-9, LOCO_NUMBER_REL_TOL));
    assert_false(loco_number_equal(NAN, NAN, LOCO_NUMBER_REL_TOL));
}

static void check_extract(const char *resp, uint32_t rules, const char *want, uint32_t want_rule)
{
    char *got = NULL;
    uint32_t rule = 99;
    assert_int_equal(loco_number_extract(resp, rules, &got, &rule), LOCO_OK);
    if (strcmp(got, want) || rule != want_rule)
        fail_msg("\"%s\" (rules %u): got \"%s\" by rule %u, want \"%s\" by %u", resp, rules, got,
                 rule, want, want_rule);
    free(got);
}

static void test_number_extract_order(void **state)
{
    (void)state;
    /* "#### N" wins over a boxed number and over later numbers */
    check_extract("x = 5\n#### 18\nThat is 2 more than 16.", LOCO_NUMBER_ALL, "18",
                  LOCO_NUMBER_HASHES);
    /* then the last \boxed{} that holds a number */
    check_extract("so \\boxed{7} ... no: \\boxed{\\frac{1}{2}} and 3 apples", LOCO_NUMBER_ALL,
                  "\\frac{1}{2}", LOCO_NUMBER_BOXED);
    check_extract("The answer is \\boxed{x = 42}.", LOCO_NUMBER_ALL, "42", LOCO_NUMBER_BOXED);
    check_extract("\\boxed{no number} but 9 here", LOCO_NUMBER_ALL, "9", LOCO_NUMBER_LAST);
    /* then the last number (flexible-extract's pattern, as the text has it) */
    check_extract("She pays $1,200. Then 3 more.", LOCO_NUMBER_ALL, "3", LOCO_NUMBER_LAST);
    check_extract("Total: $1,234.", LOCO_NUMBER_ALL, "$1,234.", LOCO_NUMBER_LAST);
    check_extract("no digits here", LOCO_NUMBER_ALL, LOCO_GSM8K_INVALID, 0);
    /* one rule at a time is exactly GSM8K's filters */
    const char *resps[] = {"x = 5\n#### 18\nThat is 2 more.", "#### 1,000\n", "It is 7.",
                           "\\boxed{4}", "nothing"};
    for (size_t i = 0; i < sizeof resps / sizeof resps[0]; i++) {
        char *a = NULL, *b = NULL;
        assert_int_equal(loco_number_extract(resps[i], LOCO_NUMBER_HASHES, &a, NULL), LOCO_OK);
        assert_int_equal(loco_gsm8k_extract(resps[i], LOCO_GSM8K_STRICT, &b), LOCO_OK);
        assert_string_equal(a, b);
        free(a);
        free(b);
        assert_int_equal(loco_number_extract(resps[i], LOCO_NUMBER_LAST, &a, NULL), LOCO_OK);
        assert_int_equal(loco_gsm8k_extract(resps[i], LOCO_GSM8K_FLEXIBLE, &b), LOCO_OK);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    char *x = NULL;
    assert_int_equal(loco_number_extract(NULL, LOCO_NUMBER_ALL, &x, NULL), LOCO_ERR_INVALID);
}

static void test_score_numeric(void **state)
{
    (void)state;
    char d[160];
    assert_int_equal(loco_score_numeric("So she earns $1,234.00 in all.", "1234", d, sizeof d), 1);
    assert_non_null(strstr(d, "rule=last"));
    assert_int_equal(loco_score_numeric("#### 3.50", "3.5", d, sizeof d), 1);
    assert_non_null(strstr(d, "rule=####"));
    assert_int_equal(loco_score_numeric("The rate is 12.5%.", "12.5", NULL, 0), 1);
    assert_int_equal(loco_score_numeric("\\boxed{\\frac{3}{4}}", "0.75", NULL, 0), 1);
    assert_int_equal(loco_score_numeric("It is 3/4 of the cake", "0.75", NULL, 0),
                     0); /* last number is 4 */
    assert_int_equal(loco_score_numeric("#### 19", "18", NULL, 0), 0);
    assert_int_equal(loco_score_numeric("I cannot say.", "18", d, sizeof d), 0);
    assert_non_null(strstr(d, "rule=none"));
    /* a worked reference: its own number */
    assert_int_equal(loco_score_numeric("18", "16 - 3 - 4 = 9 eggs; 9 * 2 = 18\n#### 18", NULL, 0),
                     1);
    assert_true(loco_score_numeric("18", "no number at all", NULL, 0) < 0);
    assert_int_equal(loco_score_numeric(NULL, "1", NULL, 0), LOCO_ERR_INVALID);
}

static void test_regex_scorer(void **state)
{
    (void)state;
    assert_int_equal(loco_score_regex_check("Answer: (\\w+)"), LOCO_OK);
    assert_int_equal(loco_score_regex_check("Answer: (\\w+"), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "does not compile at offset"));
    assert_int_equal(loco_score_regex_check("Answer: \\w+"), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "0 capture groups"));
    assert_int_equal(loco_score_regex_check("(a)(b)"), LOCO_ERR_INVALID);
    assert_int_equal(loco_score_regex_check("(?:a)(b)"), LOCO_OK);
    char d[160];
    uint32_t cw = LOCO_NORM_CASE | LOCO_NORM_WHITESPACE;
    /* the last match's group, normalised, against the reference */
    assert_int_equal(loco_score_regex_match("Answer: Paris. Final answer: LONDON", "Answer: (\\w+)",
                                            "london", cw, d, sizeof d),
                     0); /* the pattern is case-sensitive: its last match is "Paris" */
    assert_string_equal(d, "captured=Paris");
    assert_int_equal(loco_score_regex_match("Answer: Paris. Final Answer: LONDON", "Answer: (\\w+)",
                                            "london", cw, d, sizeof d),
                     1);
    assert_string_equal(d, "captured=LONDON");
    assert_int_equal(loco_score_regex_match("nothing", "Answer: (\\w+)", "x", cw, d, sizeof d), 0);
    assert_string_equal(d, "no match");
    assert_int_equal(
        loco_score_regex_match("Answer:  New   York ", "Answer:(.*)", "new york", cw, NULL, 0), 1);
    assert_int_equal(loco_score_regex_match("x", "(", "x", cw, NULL, 0), LOCO_ERR_INVALID);
}

/* 50 worked GSM8K solutions (the train split's, ending "#### N") as answers:
 * exact_match against the number scores every one 0, the numeric scorer
 * every one 1, also with the number boxed at the end instead, and a wrong
 * number 0. */
static void test_numeric_worked_answers(void **state)
{
    (void)state;
    char path[4096];
    if (!test_shared_path("datasets/gsm8k/train.jsonl", path, sizeof path))
        skip();
    struct loco_gsm8k_example *ex = NULL;
    size_t n = 0;
    assert_int_equal(loco_gsm8k_load(path, 50, &ex, &n), LOCO_OK);
    assert_int_equal(n, 50);
    size_t exact = 0, numeric = 0, boxed = 0, wrong = 0;
    for (size_t i = 0; i < n; i++) {
        exact += loco_score_exact_match(ex[i].answer_text, ex[i].answer,
                                        LOCO_NORM_CASE | LOCO_NORM_WHITESPACE) == 1;
        numeric += loco_score_numeric(ex[i].answer_text, ex[i].answer, NULL, 0) == 1;
        /* the same solution without its "#### N" line, ending in \boxed{N} */
        char buf[4096];
        const char *h = strstr(ex[i].answer_text, "####");
        int k = (int)(h ? h - ex[i].answer_text : (ptrdiff_t)strlen(ex[i].answer_text));
        snprintf(buf, sizeof buf, "%.*sSo the answer is \\boxed{%s}.", k, ex[i].answer_text,
                 ex[i].answer);
        boxed += loco_score_numeric(buf, ex[i].answer, NULL, 0) == 1;
        double v;
        assert_int_equal(loco_number_parse(ex[i].answer, &v), LOCO_OK);
        snprintf(buf, sizeof buf, "#### %.17g", v + 1);
        wrong += loco_score_numeric(buf, ex[i].answer, NULL, 0) == 1;
    }
    print_message("50 worked answers: exact_match %zu/50, numeric %zu/50 (boxed %zu/50, "
                  "off by one %zu/50)\n",
                  exact, numeric, boxed, wrong);
    assert_int_equal(exact, 0);
    assert_int_equal(numeric, 50);
    assert_int_equal(boxed, 50);
    assert_int_equal(wrong, 0);
    loco_gsm8k_examples_free(ex, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise_flags),
        cmocka_unit_test(test_exact_match),
        cmocka_unit_test(test_regex_extract_groups_and_select),
        cmocka_unit_test(test_regex_extract_errors),
        cmocka_unit_test(test_regex_extract_empty_matches),
        cmocka_unit_test(test_gsm8k_strict),
        cmocka_unit_test(test_gsm8k_flexible),
        cmocka_unit_test(test_gsm8k_normalise),
        cmocka_unit_test(test_gsm8k_score),
        cmocka_unit_test(test_gsm8k_prompts),
        cmocka_unit_test(test_gsm8k_dataset_self_consistent),
        cmocka_unit_test(test_gsm8k_fewshot_from_train),
        cmocka_unit_test(test_gsm8k_load_errors),
        cmocka_unit_test(test_number_parse),
        cmocka_unit_test(test_number_equal),
        cmocka_unit_test(test_number_extract_order),
        cmocka_unit_test(test_score_numeric),
        cmocka_unit_test(test_regex_scorer),
        cmocka_unit_test(test_numeric_worked_answers),
        cmocka_unit_test(test_porter_golden_words),
        cmocka_unit_test(test_porter_paper_examples_and_limits),
        cmocka_unit_test(test_rouge_tokenize),
        cmocka_unit_test(test_rouge_l_by_hand),
        cmocka_unit_test(test_rouge_l_golden_synthetic),
        cmocka_unit_test(test_rouge_l_golden_xsum),
        cmocka_unit_test(test_mc_prompt),
        cmocka_unit_test(test_mc_extract_forms),
        cmocka_unit_test(test_mc_score),
        cmocka_unit_test(test_arc_item_parse),
        cmocka_unit_test(test_arc_dataset_easy),
        cmocka_unit_test(test_arc_dataset_challenge),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
