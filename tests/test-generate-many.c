/*
 * test-generate-many.c - loco_generate_many: many prompts through a few
 * slots must give exactly the answers loco_generate gives one at a time,
 * with and without an adapter; failures stay per job; the callback can stop.
 * Model: shared/fixtures/models/stories260K.gguf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/generate.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "testutil.h"

#define N_JOBS 9

struct fixture {
    char path[1024];
    struct loco_model *m;
    int32_t *prompts[N_JOBS];
    size_t lens[N_JOBS];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (!test_shared_path("fixtures/models/stories260K.gguf", f->path, sizeof f->path))
        return 0;
    f->m = loco_model_load(f->path, loco_model_default_params());
    if (!f->m)
        return -1;
    const char *texts[N_JOBS] = {"Once upon a time", "Lily had a red ball", "The sun was hot",
                                 "Tom and his dog", "A little bird sang", "One day, Sam",
                                 "The cat jumped", "Mom said", "In the park there was a tree"};
    for (int i = 0; i < N_JOBS; i++)
        if (loco_tokenizer_encode(loco_model_tokenizer(f->m), texts[i], strlen(texts[i]), true,
                                  false, &f->prompts[i], &f->lens[i]))
            return -1;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < N_JOBS; i++)
        free(f->prompts[i]);
    loco_model_free(f->m);
    free(f);
    return 0;
}

static struct loco_context *ctx_for(const struct loco_model *m, int n_seq)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 96;
    cp.n_seq = n_seq;
    cp.n_batch = 32;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    return c;
}

static struct loco_generate_params params(void)
{
    struct loco_generate_params p = loco_generate_default_params();
    p.max_tokens = 24;
    p.sampling.temperature = 0.8f; /* sampled: the per-job seed must make it repeatable */
    p.sampling.seed = 1234;
    return p;
}

/* reference: each prompt alone on a fresh context */
static void one_at_a_time(const struct fixture *f, const struct loco_adapter *a,
                          struct loco_generate_result *ref)
{
    struct loco_generate_params p = params();
    for (int i = 0; i < N_JOBS; i++) {
        struct loco_context *c = ctx_for(f->m, 1);
        if (a) {
            struct loco_adapter_ref r = {a, 1.0f};
            assert_int_equal(loco_context_set_adapters(c, 0, &r, 1), LOCO_OK);
        }
        assert_int_equal(loco_generate(c, 0, loco_model_tokenizer(f->m), f->prompts[i],
                                       f->lens[i], &p, NULL, NULL, &ref[i]),
                         LOCO_OK);
        loco_context_free(c);
    }
}

static size_t n_done;

static bool count_done(void *user, size_t i, struct loco_gen_job *job)
{
    (void)user, (void)i, (void)job;
    n_done++;
    return true;
}

static void check_many(const struct fixture *f, const struct loco_adapter *a, int n_slots)
{
    struct loco_generate_result ref[N_JOBS];
    one_at_a_time(f, a, ref);
    struct loco_context *c = ctx_for(f->m, n_slots);
    for (int s = 0; a && s < n_slots; s++) {
        struct loco_adapter_ref r = {a, 1.0f};
        assert_int_equal(loco_context_set_adapters(c, s, &r, 1), LOCO_OK);
    }
    struct loco_gen_job jobs[N_JOBS];
    for (int i = 0; i < N_JOBS; i++)
        jobs[i] = (struct loco_gen_job){.prompt = f->prompts[i], .n_prompt = f->lens[i]};
    struct loco_generate_params p = params();
    n_done = 0;
    assert_int_equal(loco_generate_many(c, loco_model_tokenizer(f->m), jobs, N_JOBS, &p,
                                        count_done, NULL),
                     LOCO_OK);
    assert_int_equal(n_done, N_JOBS);
    int differing = 0;
    for (int i = 1; i < N_JOBS; i++)
        differing += strcmp(ref[i].text, ref[0].text) != 0;
    for (int i = 0; i < N_JOBS; i++) {
        assert_int_equal(jobs[i].status, LOCO_OK);
        assert_int_equal(jobs[i].res.n_generated, ref[i].n_generated);
        assert_int_equal(jobs[i].res.stop, ref[i].stop);
        assert_memory_equal(jobs[i].res.tokens, ref[i].tokens,
                            (size_t)ref[i].n_generated * sizeof(int32_t));
        assert_string_equal(jobs[i].res.text, ref[i].text);
        loco_generate_result_free(&jobs[i].res);
        loco_generate_result_free(&ref[i]);
    }
    assert_true(differing > 0); /* the prompts really lead somewhere different */
    loco_context_free(c);
}

static void test_matches_one_at_a_time(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    check_many(f, NULL, 1);
    check_many(f, NULL, 3);
    check_many(f, NULL, 8);
}

static void test_with_adapter(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    /* a random rank-2 adapter on q and up, stored as F16 */
    const struct loco_hparams *hp = loco_model_hparams(f->m);
    struct loco_lora_pair pairs[64];
    float *bufs[128];
    size_t n = 0;
    uint64_t r = 99;
    for (int il = 0; il < hp->n_layer; il++)
        for (int t = 0; t < 2; t++) {
            enum loco_lora_target tg = t ? LOCO_LORA_UP : LOCO_LORA_Q;
            int64_t n_in = hp->n_embd, n_out = t ? hp->n_ff : (int64_t)hp->n_head * hp->head_dim;
            float *a = malloc((size_t)(2 * n_in) * sizeof *a);
            float *b = malloc((size_t)(2 * n_out) * sizeof *b);
            for (int64_t i = 0; i < 2 * n_in; i++, r = r * 6364136223846793005ULL + 1)
                a[i] = (float)((r >> 40) & 0xffff) / 65536.0f - 0.5f;
            for (int64_t i = 0; i < 2 * n_out; i++, r = r * 6364136223846793005ULL + 1)
                b[i] = (float)((r >> 40) & 0xffff) / 65536.0f - 0.5f;
            bufs[2 * n] = a;
            bufs[2 * n + 1] = b;
            pairs[n++] = (struct loco_lora_pair){il, tg, n_in, n_out, 2, a, b};
        }
    char dir[] = "/tmp/loco-test-many-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.gguf", dir);
    struct loco_adapter_meta meta = {.arch = hp->arch_name, .alpha = 4};
    assert_int_equal(loco_adapter_write(path, &meta, pairs, n, LOCO_TYPE_F16), LOCO_OK);
    struct loco_adapter *a = loco_adapter_load(path, f->m);
    assert_non_null(a);
    check_many(f, a, 4);
    loco_adapter_free(a);
    for (size_t i = 0; i < 2 * n; i++)
        free(bufs[i]);
    unlink(path);
    rmdir(dir);
}

static bool stop_after_two(void *user, size_t i, struct loco_gen_job *job)
{
    (void)i, (void)job;
    return ++*(int *)user < 2;
}

static void test_failures_and_stop(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    struct loco_context *c = ctx_for(f->m, 2);
    int32_t *long_prompt = calloc(200, sizeof *long_prompt);
    for (int i = 0; i < 200; i++)
        long_prompt[i] = 300 + i % 50;
    struct loco_gen_job jobs[4] = {{.prompt = f->prompts[0], .n_prompt = f->lens[0]},
                                   {.prompt = long_prompt, .n_prompt = 200},
                                   {.prompt = NULL, .n_prompt = 0},
                                   {.prompt = f->prompts[1], .n_prompt = f->lens[1]}};
    struct loco_generate_params p = params();
    assert_int_equal(loco_generate_many(c, loco_model_tokenizer(f->m), jobs, 4, &p, NULL, NULL),
                     LOCO_OK);
    assert_int_equal(jobs[0].status, LOCO_OK);
    assert_int_equal(jobs[1].status, LOCO_ERR_RANGE);
    assert_int_equal(jobs[2].status, LOCO_ERR_INVALID);
    assert_int_equal(jobs[3].status, LOCO_OK);
    assert_true(jobs[3].res.n_generated > 0);
    for (int i = 0; i < 4; i++)
        loco_generate_result_free(&jobs[i].res);
    /* stop after two finished jobs: later jobs are never started */
    struct loco_gen_job many[N_JOBS];
    for (int i = 0; i < N_JOBS; i++)
        many[i] = (struct loco_gen_job){.prompt = f->prompts[i], .n_prompt = f->lens[i]};
    int seen = 0;
    assert_int_equal(loco_generate_many(c, loco_model_tokenizer(f->m), many, N_JOBS, &p,
                                        stop_after_two, &seen),
                     LOCO_OK);
    int ok = 0, not_started = 0;
    for (int i = 0; i < N_JOBS; i++) {
        ok += many[i].status == LOCO_OK;
        not_started += many[i].status == LOCO_ERR_NOT_FOUND;
        loco_generate_result_free(&many[i].res);
    }
    assert_int_equal(ok, 2);
    assert_true(not_started >= N_JOBS - 4);
    free(long_prompt);
    loco_context_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_one_at_a_time),
        cmocka_unit_test(test_with_adapter),
        cmocka_unit_test(test_failures_and_stop),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
