/*
 * test-perplexity.c - loco_perplexity_* against a reference written from
 * the rule in loco/perplexity.h (llama-perplexity's chunking): every chunk
 * decoded one token at a time from an empty cache, its first token BOS, the
 * second half scored with a log-softmax in long double. Also the counts,
 * the chunk limit, early stopping and every refusal. Model:
 * shared/fixtures/models/stories260K.gguf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loco/model.h"
#include "loco/perplexity.h"
#include "loco/tokenizer.h"
#include "testutil.h"

struct fixture {
    struct loco_model *m;
    int32_t *toks;
    size_t n;
};

static const char text[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park with her friends. One day, she saw a big red ball under a tree. She ran to get it, "
    "but a small dog got there first. The dog wagged its tail and looked at Lily. Lily smiled "
    "and said, \"Can we play together?\" The dog barked happily, and they played with the ball "
    "all afternoon. When the sun went down, Lily went home and told her mom about her new "
    "friend. Her mom was happy and gave her a big hug. The next day, Lily went back to the park "
    "and the dog was waiting for her by the tree.";

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    *state = f;
    f->m = test_stories();
    if (!f->m)
        return 0;
    return loco_tokenizer_encode(loco_model_tokenizer(f->m), text, strlen(text), true, false,
                                 &f->toks, &f->n);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->toks);
    loco_model_free(f->m);
    free(f);
    return 0;
}

static struct loco_context *ctx_for(const struct loco_model *m, int32_t n_ctx, int32_t n_batch)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    cp.n_threads = 1;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    return c;
}

/* The reference: sum of the scored NLLs of n_chunks chunks of L, and how many. */
static long double reference(const struct fixture *f, int32_t L, int32_t n_chunks, int64_t *count)
{
    const struct loco_tokenizer *tok = loco_model_tokenizer(f->m);
    const int32_t V = loco_model_hparams(f->m)->n_vocab; /* the logits' width */
    struct loco_context *c = ctx_for(f->m, L, 1);
    long double sum = 0;
    *count = 0;
    for (int32_t ch = 0; ch < n_chunks; ch++) {
        loco_context_seq_clear(c, 0);
        for (int32_t j = 0; j < L; j++) {
            int32_t t = f->toks[(size_t)ch * (size_t)L + (size_t)j], pos = j, seq = 0;
            if (j == 0 && loco_tokenizer_add_bos(tok))
                t = loco_tokenizer_bos(tok);
            struct loco_batch b = {.n = 1, .tokens = &t, .pos = &pos, .seq = &seq};
            assert_int_equal(loco_decode(c, &b), LOCO_OK);
            if (j < L / 2 || j > L - 2)
                continue;
            const float *lg = loco_context_logits(c, 0);
            long double z = 0;
            for (int32_t v = 0; v < V; v++)
                z += expl((long double)lg[v]);
            int32_t next = f->toks[(size_t)ch * (size_t)L + (size_t)j + 1];
            sum += logl(z) - (long double)lg[next];
            (*count)++;
        }
    }
    loco_context_free(c);
    return sum;
}

static void test_matches_reference(void **state)
{
    struct fixture *f = *state;
    if (!f->m) {
        skip();
        return;
    }
    const int32_t L = 32;
    assert_true(f->n >= 3 * (size_t)L); /* three whole chunks and a remainder */
    const int32_t whole = (int32_t)(f->n / (size_t)L);
    /* n_batch 8: a chunk in four pieces, the scored half starting mid-way */
    struct loco_context *c = ctx_for(f->m, 64, 8);
    struct loco_perplexity_params p = {.n_ctx = L, .n_chunks = 0};
    struct loco_perplexity_result r;
    assert_int_equal(loco_perplexity_tokens(c, f->m, f->toks, f->n, p, NULL, NULL, &r), LOCO_OK);
    int64_t count;
    long double sum = reference(f, L, whole, &count);
    assert_int_equal(r.n_chunks, whole);
    assert_int_equal(r.n_tokens, (int32_t)f->n);
    assert_int_equal(r.n_scored, (int64_t)whole * (L - 1 - L / 2));
    assert_int_equal(r.n_scored, count);
    double want = (double)expl(sum / (long double)count);
    test_assert_near(r.ppl, want, 1e-4 * want, __FILE__, __LINE__);
    assert_true(r.ppl > 1.0 && r.ppl_error > 0.0 && r.ppl_error < r.ppl);
    test_assert_near(r.nll, log(r.ppl), 1e-12, __FILE__, __LINE__);

    /* the text path tokenizes the same way */
    struct loco_perplexity_result rt;
    assert_int_equal(loco_perplexity_text(c, f->m, text, strlen(text), p, NULL, NULL, &rt),
                     LOCO_OK);
    assert_true(rt.ppl == r.ppl && rt.n_scored == r.n_scored);
    loco_context_free(c);
}

/* loco_perplexity_file reads the text and computes what _text does. */
static void test_file(void **state)
{
    struct fixture *f = *state;
    if (!f->m) {
        skip();
        return;
    }
    char dir[256], path[320];
    test_make_tmpdir(dir, sizeof dir, "ppl");
    snprintf(path, sizeof path, "%s/text.txt", dir);
    test_write_file(path, text);
    struct loco_context *c = ctx_for(f->m, 32, 32);
    struct loco_perplexity_params p = {.n_ctx = 32};
    struct loco_perplexity_result a, b;
    assert_int_equal(loco_perplexity_text(c, f->m, text, strlen(text), p, NULL, NULL, &a), LOCO_OK);
    assert_int_equal(loco_perplexity_file(c, f->m, path, p, NULL, NULL, &b), LOCO_OK);
    assert_true(a.ppl == b.ppl && a.n_scored == b.n_scored && a.n_tokens == b.n_tokens);
    snprintf(path, sizeof path, "%s/nosuch.txt", dir);
    assert_int_equal(loco_perplexity_file(c, f->m, path, p, NULL, NULL, &b), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "nosuch.txt"));
    assert_int_equal(loco_perplexity_file(c, f->m, NULL, p, NULL, NULL, &b), LOCO_ERR_INVALID);
    loco_context_free(c);
    test_rm_rf(dir);
}

static int stop_after_two(void *user, int32_t chunk, int32_t n_chunks, double ppl)
{
    int *calls = user;
    (*calls)++;
    assert_true(chunk >= 1 && chunk <= n_chunks && ppl > 1.0);
    return chunk == 2;
}

static void test_chunk_limit_and_stop(void **state)
{
    struct fixture *f = *state;
    if (!f->m) {
        skip();
        return;
    }
    struct loco_context *c = ctx_for(f->m, 32, 32);
    struct loco_perplexity_params p = {.n_ctx = 16, .n_chunks = 3};
    struct loco_perplexity_result r;
    assert_int_equal(loco_perplexity_tokens(c, f->m, f->toks, f->n, p, NULL, NULL, &r), LOCO_OK);
    assert_int_equal(r.n_chunks, 3);
    assert_int_equal(r.n_scored, 3 * 7);
    int64_t count;
    double want = (double)expl(reference(f, 16, 3, &count) / 21.0L);
    test_assert_near(r.ppl, want, 1e-4 * want, __FILE__, __LINE__);
    int calls = 0;
    p.n_chunks = 0;
    assert_int_equal(loco_perplexity_tokens(c, f->m, f->toks, f->n, p, stop_after_two, &calls, &r),
                     LOCO_OK);
    assert_int_equal(calls, 2);
    assert_int_equal(r.n_chunks, 2);
    assert_int_equal(r.n_scored, 2 * 7);
    loco_context_free(c);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    if (!f->m) {
        skip();
        return;
    }
    struct loco_context *c = ctx_for(f->m, 32, 32);
    struct loco_perplexity_result r;
    struct loco_perplexity_params odd = {.n_ctx = 15}, tiny = {.n_ctx = 2}, big = {.n_ctx = 64};
    assert_int_equal(loco_perplexity_tokens(c, f->m, f->toks, f->n, odd, NULL, NULL, &r),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_perplexity_tokens(c, f->m, f->toks, f->n, tiny, NULL, NULL, &r),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_perplexity_tokens(c, f->m, f->toks, f->n, big, NULL, NULL, &r),
                     LOCO_ERR_RANGE); /* larger than the context */
    struct loco_perplexity_params p = {.n_ctx = 32};
    assert_int_equal(loco_perplexity_tokens(c, f->m, f->toks, 63, p, NULL, NULL, &r),
                     LOCO_ERR_RANGE); /* fewer than two chunks */
    assert_non_null(strstr(loco_error_message(), "at least 64"));
    assert_int_equal(loco_perplexity_tokens(c, f->m, f->toks, 64, p, NULL, NULL, &r), LOCO_OK);
    assert_int_equal(r.n_chunks, 2);
    assert_int_equal(loco_perplexity_tokens(NULL, f->m, f->toks, f->n, p, NULL, NULL, &r),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_perplexity_text(c, f->m, NULL, 0, p, NULL, NULL, &r), LOCO_ERR_INVALID);
    /* a token id outside the vocabulary, here at the start of a later
     * decode piece (chunks of 32 in pieces of 8 would read its logits'
     * target before the decode sees it): refused before anything runs */
    int32_t *bad = malloc(f->n * sizeof *bad);
    assert_non_null(bad);
    memcpy(bad, f->toks, f->n * sizeof *bad);
    const int32_t V = loco_model_hparams(f->m)->n_vocab;
    const int32_t ids[] = {V, -1, V + 1000};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        bad[24] = ids[i];
        assert_int_equal(loco_perplexity_tokens(c, f->m, bad, f->n, p, NULL, NULL, &r),
                         LOCO_ERR_INVALID);
        assert_non_null(strstr(loco_error_message(), "outside the model's vocabulary"));
    }
    free(bad);
    loco_context_free(c);
}

static void test_default_params(void **state)
{
    (void)state;
    struct loco_perplexity_params p = loco_perplexity_default_params();
    assert_int_equal(p.n_ctx, 512);
    assert_int_equal(p.n_chunks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),    cmocka_unit_test(test_file),
        cmocka_unit_test(test_chunk_limit_and_stop), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_default_params),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
