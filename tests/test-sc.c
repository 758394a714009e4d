/*
 * test-sc.c - self-consistency and its parts: a sequence forked with
 * loco_context_seq_copy decodes exactly like its source; loco_generate_sc's
 * K answers are exactly K separate seeded runs of loco_generate; loco_vote
 * on hand-made answers; the universal self-consistency prompt, reply parser
 * and pick. Model: shared/fixtures/models/stories260K.gguf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "loco/generate.h"
#include "loco/model.h"
#include "loco/strategy.h"
#include "testutil.h"

#define K 5

struct fixture {
    struct loco_model *m;
    int32_t *prompt;
    size_t n_prompt;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    *state = f;
    f->m = test_stories();
    if (!f->m)
        return 0;
    const char *text = "Once upon a time, there was a little girl named Lily";
    return loco_tokenizer_encode(loco_model_tokenizer(f->m), text, strlen(text), true, false,
                                 &f->prompt, &f->n_prompt);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->prompt);
    loco_model_free(f->m);
    free(f);
    return 0;
}

static struct loco_context *ctx_for(const struct loco_model *m, int32_t n_ctx, int32_t n_seq)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_seq = n_seq;
    cp.n_batch = 32;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    return c;
}

/* Decode `tok` at position pos of sequence seq; a copy of its logits [V]. */
static float *decode_one(struct loco_context *c, int32_t seq, int32_t tok, int32_t pos, int32_t v)
{
    struct loco_batch b = {.n = 1, .tokens = &tok, .pos = &pos, .seq = &seq};
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    float *out = malloc((size_t)v * sizeof *out);
    assert_non_null(out);
    memcpy(out, loco_context_logits(c, 0), (size_t)v * sizeof *out);
    return out;
}

static void prefill(struct loco_context *c, int32_t seq, const int32_t *toks, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        struct loco_batch b = {.n = 1, .tokens = &toks[i], .pos = &i, .seq = &seq};
        assert_int_equal(loco_decode(c, &b), LOCO_OK);
    }
}

/* ---- loco_context_seq_copy ----------------------------------------------- */

static void test_seq_copy_decodes_like_source(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    int32_t v = loco_model_hparams(f->m)->n_vocab, n = (int32_t)f->n_prompt;
    struct loco_context *c = ctx_for(f->m, 64, 3);
    prefill(c, 0, f->prompt, n);
    prefill(c, 1, f->prompt + 2, n - 2); /* something else on dst, to be replaced */
    assert_int_equal(loco_context_seq_copy(c, 0, 1, n), LOCO_OK);
    assert_int_equal(loco_context_seq_len(c, 1), n);
    assert_memory_equal(loco_context_seq_tokens(c, 1), f->prompt, (size_t)n * sizeof(int32_t));
    /* the next token on the fork and on the source: the same logits, bit for bit */
    float *on_src = decode_one(c, 0, 42, n, v);
    float *on_dst = decode_one(c, 1, 42, n, v);
    assert_memory_equal(on_src, on_dst, (size_t)v * sizeof(float));
    /* a prefix: dst's length becomes n - 3, and it continues like a sequence
     * that only ever saw those tokens */
    assert_int_equal(loco_context_seq_copy(c, 0, 2, n - 3), LOCO_OK);
    assert_int_equal(loco_context_seq_len(c, 2), n - 3);
    assert_int_equal(loco_context_seq_len(c, 0), n + 1); /* the source is unchanged */
    float *on_prefix = decode_one(c, 2, f->prompt[n - 3], n - 3, v);
    struct loco_context *fresh = ctx_for(f->m, 64, 1);
    prefill(fresh, 0, f->prompt, n - 3);
    float *on_fresh = decode_one(fresh, 0, f->prompt[n - 3], n - 3, v);
    assert_memory_equal(on_prefix, on_fresh, (size_t)v * sizeof(float));
    /* bad arguments: beyond the source's length, sequences out of range */
    assert_int_equal(loco_context_seq_copy(c, 0, 1, n + 2), LOCO_ERR_INVALID);
    assert_int_equal(loco_context_seq_copy(c, 0, 3, 1), LOCO_ERR_INVALID);
    assert_int_equal(loco_context_seq_copy(c, -1, 1, 1), LOCO_ERR_INVALID);
    assert_int_equal(loco_context_seq_copy(c, 0, 1, -1), LOCO_ERR_INVALID);
    /* onto itself: a truncation */
    assert_int_equal(loco_context_seq_copy(c, 0, 0, 4), LOCO_OK);
    assert_int_equal(loco_context_seq_len(c, 0), 4);
    free(on_src);
    free(on_dst);
    free(on_prefix);
    free(on_fresh);
    loco_context_free(fresh);
    loco_context_free(c);
}

/* ---- loco_generate_sc ---------------------------------------------------- */

static struct loco_generate_params sampled(void)
{
    struct loco_generate_params p = loco_generate_default_params();
    p.max_tokens = 24;
    p.sampling.temperature = 0.8f;
    p.sampling.seed = 1234;
    return p;
}

static int n_calculated; /* answers of check_sc holding a calculator result ">>" */

/* sc:K on one context against K runs of loco_generate, each on a fresh
 * context with seed + i: the same tokens, log-probabilities, text, stop. */
static void check_sc(const struct fixture *f, int32_t n_ctx, int32_t k,
                     const struct loco_generate_params *p)
{
    const struct loco_tokenizer *tok = loco_model_tokenizer(f->m);
    struct loco_generate_result sc[K], ref[K];
    struct loco_context *c = ctx_for(f->m, n_ctx, K);
    assert_int_equal(loco_generate_sc(c, tok, f->prompt, f->n_prompt, k, p, sc), LOCO_OK);
    int differing = 0;
    for (int32_t i = 0; i < k; i++) {
        struct loco_generate_params pi = *p;
        pi.sampling.seed = p->sampling.seed + (uint64_t)i;
        struct loco_context *one = ctx_for(f->m, n_ctx, 1);
        assert_int_equal(loco_generate(one, 0, tok, f->prompt, f->n_prompt, &pi, NULL, NULL,
                                       &ref[i]),
                         LOCO_OK);
        loco_context_free(one);
        assert_int_equal(sc[i].n_generated, ref[i].n_generated);
        assert_int_equal(sc[i].stop, ref[i].stop);
        assert_int_equal(sc[i].n_prompt, (int32_t)f->n_prompt);
        assert_int_equal(sc[i].n_cached, i == 0 ? 0 : (int32_t)f->n_prompt);
        assert_memory_equal(sc[i].tokens, ref[i].tokens,
                            (size_t)ref[i].n_generated * sizeof(int32_t));
        assert_memory_equal(sc[i].logprobs, ref[i].logprobs,
                            (size_t)ref[i].n_generated * sizeof(float));
        assert_string_equal(sc[i].text, ref[i].text);
        differing += i > 0 && strcmp(sc[i].text, sc[0].text) != 0;
        n_calculated += strstr(sc[i].text, ">>") != NULL;
        if (p->sampling.n_allowed == 2)
            assert_int_equal(sc[i].stop, LOCO_STOP_EOG);
    }
    if (k > 1 && p->max_tokens > 0)
        assert_true(differing > 0); /* the seeds really lead somewhere different */
    for (int32_t i = 0; i < k; i++) {
        loco_generate_result_free(&sc[i]);
        loco_generate_result_free(&ref[i]);
    }
    loco_context_free(c);
}

static void test_sc_matches_separate_runs(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    struct loco_generate_params p = sampled();
    check_sc(f, 96, K, &p);     /* answers end by max_tokens or end of text */
    check_sc(f, 96, 1, &p);
    check_sc(f, 96, 3, &p);
    check_sc(f, (int32_t)f->n_prompt + 6, K, &p); /* the context fills up first */
    /* end of text at different steps: only the end token and one other may
     * be drawn, at a temperature that makes them near even; finished
     * answers leave the batch while the others go on */
    const struct loco_tokenizer *tok = loco_model_tokenizer(f->m);
    int32_t two[2] = {loco_tokenizer_eos(tok), f->prompt[3]};
    struct loco_generate_params q = sampled();
    q.sampling.allowed = two;
    q.sampling.n_allowed = 2;
    q.sampling.temperature = 40.0f;
    check_sc(f, 96, K, &q);
    /* calc: answers drawn from "<", "1" and "=" open annotations such as
     * "<<11=", which the calculator closes with "11>>" (">" is never drawn) */
    int32_t calc_set[3] = {loco_tokenizer_find(tok, "<"), loco_tokenizer_find(tok, "1"),
                           loco_tokenizer_find(tok, "<0x3D>")};
    q.sampling.allowed = calc_set;
    q.sampling.n_allowed = 3;
    q.max_tokens = 48;
    q.calc = true;
    n_calculated = 0;
    check_sc(f, 96, K, &q);
    assert_true(n_calculated > 0);
    p.max_tokens = 0;
    check_sc(f, 96, K, &p);
}

static void test_sc_shares_a_cached_prompt(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    const struct loco_tokenizer *tok = loco_model_tokenizer(f->m);
    struct loco_generate_params p = sampled();
    struct loco_generate_result res[K];
    struct loco_context *c = ctx_for(f->m, 96, K);
    assert_int_equal(loco_generate_sc(c, tok, f->prompt, f->n_prompt, K, &p, res), LOCO_OK);
    for (int i = 0; i < K; i++)
        loco_generate_result_free(&res[i]);
    /* the same prompt again: sequence 0 keeps all but its last token */
    assert_int_equal(loco_generate_sc(c, tok, f->prompt, f->n_prompt, K, &p, res), LOCO_OK);
    assert_int_equal(res[0].n_cached, (int32_t)f->n_prompt - 1);
    for (int i = 0; i < K; i++) {
        /* the last token of an answer stopped by max_tokens is never decoded */
        int32_t decoded = res[i].n_generated - (res[i].stop != LOCO_STOP_EOG);
        assert_int_equal(loco_context_seq_len(c, i), (int32_t)f->n_prompt + decoded);
        loco_generate_result_free(&res[i]);
    }
    /* more answers than sequences, an empty prompt */
    assert_int_equal(loco_generate_sc(c, tok, f->prompt, f->n_prompt, K + 1, &p, res),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_generate_sc(c, tok, f->prompt, 0, K, &p, res), LOCO_ERR_INVALID);
    assert_int_equal(loco_generate_sc(c, tok, f->prompt, f->n_prompt, 0, &p, res),
                     LOCO_ERR_INVALID);
    loco_context_free(c);
}

/* ---- loco_vote ----------------------------------------------------------- */

static void expect_vote(const char *domain, const char *const *answers, int32_t k,
                        int32_t winner, double share)
{
    int32_t w = -1;
    double s = -1.0;
    assert_int_equal(loco_vote(domain, answers, k, &w, &s), LOCO_OK);
    assert_int_equal(w, winner);
    assert_near(s, share, 1e-12);
}

static void test_vote_math(void **state)
{
    (void)state;
    /* 18 three times (as "#### 18", a last number, "18.00"), 20 once, one without a number */
    const char *a[] = {"She pays 9 * 2 = 18 dollars.\n#### 18", "I think it is 20",
                       "so 18 dollars in all", "no idea", "#### 18.00"};
    expect_vote("math", a, 5, 0, 0.6);
    /* the winner is the earliest answer of the winning value */
    const char *b[] = {"#### 7", "#### 1,000", "The total is $1000.", "#### 1000"};
    expect_vote("math", b, 4, 1, 0.75);
    /* a tie goes to the earliest answer */
    const char *c[] = {"#### 5", "#### 7", "#### 7", "#### 5"};
    expect_vote("math", c, 4, 0, 0.5);
    /* nothing to count: the first answer, share 0 */
    const char *d[] = {"no idea", NULL, "none"};
    expect_vote("gsm8k", d, 3, 0, 0.0);
    /* \boxed{} counts too; a NULL answer does not vote but counts in the share */
    const char *e[] = {NULL, "\\boxed{42}", "the answer is 42"};
    expect_vote("math", e, 3, 1, 2.0 / 3.0);
}

static void test_vote_choice_and_text(void **state)
{
    (void)state;
    const char *mc[] = {"The answer is B", "(C)", "B", "I think the answer is C", "C."};
    expect_vote("arc", mc, 5, 1, 0.6);
    const char *none[] = {"no letter here", "(C)"};
    expect_vote("choice", none, 2, 1, 0.5);
    /* any other domain: trimmed, case-folded, whitespace collapsed */
    const char *text[] = {"London", "  Paris ", "paris", "New  York", "PARIS\n", "new york", ""};
    expect_vote("writing", text, 7, 1, 3.0 / 7.0);
    expect_vote(NULL, text, 7, 1, 3.0 / 7.0);
    const char *tie[] = {"new york", "  ", "Paris", "New\tYork", "paris"};
    expect_vote("writing", tie, 5, 0, 0.4);
    int32_t w = 0;
    double s = 0;
    assert_int_equal(loco_vote("math", text, 0, &w, &s), LOCO_ERR_INVALID);
    assert_int_equal(loco_vote("math", NULL, 2, &w, &s), LOCO_ERR_INVALID);
}

/* ---- universal self-consistency ------------------------------------------ */

static void test_usc_prompt(void **state)
{
    (void)state;
    const char *answers[] = {"  2 + 2 = 4 \n", "It is four.", NULL};
    char *p = loco_usc_prompt("What is 2 + 2?", answers, 3);
    assert_non_null(p);
    assert_string_equal(p, "I have generated the following responses to the question: What is "
                           "2 + 2?\n\n"
                           "Response 0: 2 + 2 = 4\n"
                           "Response 1: It is four.\n"
                           "Response 2: \n\n"
                           "Evaluate these responses.\n"
                           "Select the most consistent response based on majority consensus.\n"
                           "Start your answer with \"The most consistent response is Response "
                           "X\" (without quotes).");
    free(p);
    assert_null(loco_usc_prompt("q", answers, 0));
    assert_null(loco_usc_prompt(NULL, answers, 1));
}

static void test_usc_parse(void **state)
{
    (void)state;
    assert_int_equal(loco_usc_parse("The most consistent response is Response 2.", 3), 2);
    assert_int_equal(loco_usc_parse("Response 1 is long, but the most consistent response is "
                                    "Response 0", 3), 0);
    assert_int_equal(loco_usc_parse("the most consistent response is response #1", 3), 1);
    /* an index out of range is passed over */
    assert_int_equal(loco_usc_parse("The most consistent response is Response 7; response 2 "
                                    "agrees", 3), 2);
    assert_int_equal(loco_usc_parse("Response 4", 5), 4);
    assert_int_equal(loco_usc_parse("Response 5", 5), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_usc_parse("They all look fine to me.", 3), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "fine to me"));
    assert_int_equal(loco_usc_parse("", 3), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_usc_parse(NULL, 3), LOCO_ERR_INVALID);
}

static void test_usc_pick(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    /* stories260K has no chat template: the prompt goes in as text. Its
     * reply is whatever a story model writes; the pick must be an answer
     * index either way, 0 when the reply names none. */
    const char *answers[] = {"Lily found a ball.", "Lily found a red ball.", "Tom ran home."};
    struct loco_context *c = ctx_for(f->m, 256, 1);
    struct loco_generate_params p = sampled();
    int32_t w = -1, again = -1;
    int rc = loco_usc_pick(c, loco_model_tokenizer(f->m), f->m, "What did Lily find?", answers,
                           3, &p, &w);
    assert_true(rc == LOCO_OK || rc == LOCO_ERR_NOT_FOUND);
    assert_true(w >= 0 && w < 3);
    if (rc == LOCO_ERR_NOT_FOUND)
        assert_int_equal(w, 0);
    /* greedy: the same pick again, whatever the seed */
    p.sampling.seed = 99;
    assert_int_equal(loco_usc_pick(c, loco_model_tokenizer(f->m), f->m, "What did Lily find?",
                                   answers, 3, &p, &again),
                     rc);
    assert_int_equal(again, w);
    /* a selection prompt longer than the context is an error */
    struct loco_context *tiny = ctx_for(f->m, 16, 1);
    assert_int_equal(loco_usc_pick(tiny, loco_model_tokenizer(f->m), f->m, "What did Lily find?",
                                   answers, 3, &p, &w),
                     LOCO_ERR_RANGE);
    assert_int_equal(w, 0);
    loco_context_free(tiny);
    loco_context_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_copy_decodes_like_source),
        cmocka_unit_test(test_sc_matches_separate_runs),
        cmocka_unit_test(test_sc_shares_a_cached_prompt),
        cmocka_unit_test(test_vote_math),
        cmocka_unit_test(test_vote_choice_and_text),
        cmocka_unit_test(test_usc_prompt),
        cmocka_unit_test(test_usc_parse),
        cmocka_unit_test(test_usc_pick),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
