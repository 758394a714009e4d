/*
 * test-sched.c - the serving loop (loco/sched.h): requests with different
 * adapters decoded together give exactly the answers loco_generate gives
 * each alone; a cached prefix changes nothing; cancelling, a full queue, a
 * prompt too long, stopping with and without drain.
 * Model: shared/fixtures/models/stories260K.gguf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/generate.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/sched.h"
#include "testutil.h"
#include "lora-fixture.h"

#define N_JOBS 9

struct fixture {
    struct loco_model *m;
    int32_t *prompts[N_JOBS];
    size_t lens[N_JOBS];
    struct loco_adapter *ad[2];
    char dir[64];
};

/* A random rank-2 adapter on q and up (lora-fixture.h), written and loaded
 * for model m with tokens. */
static struct loco_adapter *random_adapter(struct loco_model *m, const char *path, uint64_t seed)
{
    struct rand_adapter ra;
    rng_seed(seed);
    make_adapter(&ra, m, LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_UP), 2,
                 1.0f);
    struct loco_adapter_meta meta = {.arch = loco_model_hparams(m)->arch_name, .alpha = 4};
    int rc = loco_adapter_write(path, &meta, ra.pairs, ra.n, LOCO_TYPE_F16);
    free_adapter(&ra);
    return rc == LOCO_OK ? loco_adapter_load(path, m) : NULL;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    *state = f;
    char path[1024];
    if (!test_shared_path("fixtures/models/stories260K.gguf", path, sizeof path))
        return 0;
    f->m = loco_model_load(path, loco_model_default_params());
    if (!f->m)
        return -1;
    const char *texts[N_JOBS] = {"Once upon a time", "Lily had a red ball", "The sun was hot",
                                 "Tom and his dog", "A little bird sang", "One day, Sam",
                                 "The cat jumped", "Mom said", "In the park there was a tree"};
    for (int i = 0; i < N_JOBS; i++)
        if (loco_tokenizer_encode(loco_model_tokenizer(f->m), texts[i], strlen(texts[i]), true,
                                  false, &f->prompts[i], &f->lens[i]))
            return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/loco-test-sched-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    for (int k = 0; k < 2; k++) {
        char p[128];
        snprintf(p, sizeof p, "%s/a%d.gguf", f->dir, k);
        if (!(f->ad[k] = random_adapter(f->m, p, 99 + 1000 * (uint64_t)k)))
            return -1;
        unlink(p);
    }
    rmdir(f->dir);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < N_JOBS; i++)
        free(f->prompts[i]);
    for (int k = 0; k < 2; k++)
        loco_adapter_free(f->ad[k]);
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
    cp.n_threads = 2;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    return c;
}

static struct loco_generate_params params(uint64_t seed)
{
    struct loco_generate_params p = loco_generate_default_params();
    p.max_tokens = 24;
    p.sampling.temperature = 0.8f; /* sampled: the seed must make it repeatable */
    p.sampling.seed = seed;
    return p;
}

/* ---- one request's outcome ------------------------------------------------ */

struct outcome {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int status;
    struct loco_generate_result res;
    char streamed[4096];
    size_t n_streamed;
    int32_t stop_after; /* > 0: on_token says stop after this many tokens */
    int32_t tokens;
    sem_t *hold;        /* not NULL: the first token waits for it */
};

static void outcome_init(struct outcome *o)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
}

static void outcome_wait(struct outcome *o)
{
    pthread_mutex_lock(&o->mu);
    while (!o->done)
        pthread_cond_wait(&o->cv, &o->mu);
    pthread_mutex_unlock(&o->mu);
}

static void outcome_free(struct outcome *o)
{
    loco_generate_result_free(&o->res);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
}

static bool on_token(void *user, int32_t token, const char *piece, size_t len, float lp)
{
    (void)token, (void)lp;
    struct outcome *o = user;
    if (o->hold && o->tokens == 0)
        sem_wait(o->hold);
    o->tokens++;
    if (o->n_streamed + len < sizeof o->streamed) {
        memcpy(o->streamed + o->n_streamed, piece, len);
        o->n_streamed += len;
    }
    return !(o->stop_after > 0 && o->tokens >= o->stop_after);
}

static void on_done(void *user, int status, struct loco_generate_result *res)
{
    struct outcome *o = user;
    pthread_mutex_lock(&o->mu);
    o->status = status;
    o->res = *res;
    o->done = true;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

static struct loco_sched_request request(const struct fixture *f, int i, struct outcome *o,
                                         const struct loco_adapter *a)
{
    struct loco_sched_request r = {.prompt = f->prompts[i], .n_prompt = f->lens[i],
                                   .gen = params(1234 + (uint64_t)i), .on_token = on_token,
                                   .on_done = on_done, .user = o};
    if (a) {
        r.adapters[0] = (struct loco_adapter_ref){a, 1.0f};
        r.n_adapters = 1;
    }
    return r;
}

/* job i's adapter: none, the first or the second, in turn */
static const struct loco_adapter *adapter_of(const struct fixture *f, int i)
{
    return i % 3 == 0 ? NULL : f->ad[i % 3 - 1];
}

/* ---- tests ---------------------------------------------------------------- */

static void test_matches_alone(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    /* reference: each prompt alone on a fresh context with its adapter */
    struct loco_generate_result ref[N_JOBS];
    for (int i = 0; i < N_JOBS; i++) {
        struct loco_context *c = ctx_for(f->m, 1);
        const struct loco_adapter *a = adapter_of(f, i);
        if (a) {
            struct loco_adapter_ref r = {a, 1.0f};
            assert_int_equal(loco_context_set_adapters(c, 0, &r, 1), LOCO_OK);
        }
        struct loco_generate_params p = params(1234 + (uint64_t)i);
        assert_int_equal(loco_generate(c, 0, loco_model_tokenizer(f->m), f->prompts[i],
                                       f->lens[i], &p, NULL, NULL, &ref[i]),
                         LOCO_OK);
        loco_context_free(c);
    }
    /* all nine at once through three slots, mixed adapters */
    struct loco_context *c = ctx_for(f->m, 3);
    struct loco_sched *s = loco_sched_start(c, loco_model_tokenizer(f->m), NULL);
    assert_non_null(s);
    struct outcome out[N_JOBS];
    for (int i = 0; i < N_JOBS; i++) {
        outcome_init(&out[i]);
        struct loco_sched_request r = request(f, i, &out[i], adapter_of(f, i));
        assert_int_equal(loco_sched_submit(s, &r, NULL), LOCO_OK);
    }
    for (int i = 0; i < N_JOBS; i++) {
        outcome_wait(&out[i]);
        assert_int_equal(out[i].status, LOCO_OK);
        assert_string_equal(out[i].res.text, ref[i].text);
        assert_int_equal(out[i].res.n_generated, ref[i].n_generated);
        assert_int_equal(out[i].res.stop, ref[i].stop);
        /* what was streamed is the answer */
        assert_int_equal(out[i].n_streamed, strlen(ref[i].text));
        assert_memory_equal(out[i].streamed, ref[i].text, out[i].n_streamed);
    }
    struct loco_sched_stats st;
    loco_sched_stats(s, &st);
    assert_int_equal(st.submitted, N_JOBS);
    assert_int_equal(st.finished, N_JOBS);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.queued, 0);
    assert_true(st.step_rows > st.steps); /* some steps decoded several requests */
    uint64_t steps = 0;
    for (int k = 0; k < LOCO_SCHED_BATCH_BUCKETS; k++)
        steps += st.batch_hist[k];
    assert_int_equal(steps, st.steps);

    /* the same request again: prefilled from its start, the same answer */
    struct outcome again;
    outcome_init(&again);
    struct loco_sched_request r = request(f, 8, &again, adapter_of(f, 8));
    assert_int_equal(loco_sched_submit(s, &r, NULL), LOCO_OK);
    outcome_wait(&again);
    assert_int_equal(again.status, LOCO_OK);
    assert_int_equal(again.res.n_cached, 0);
    assert_string_equal(again.res.text, ref[8].text);
    outcome_free(&again);
    loco_sched_stop(s, true, -1);

    /* with reuse_prefix the slot's cache serves the prompt once it is
     * there (the first time nothing is cached) */
    struct loco_sched_params sp = loco_sched_default_params();
    sp.reuse_prefix = true;
    sp.prefill_chunk = 5; /* and prompts prefilled in several chunks */
    s = loco_sched_start(c, loco_model_tokenizer(f->m), &sp);
    assert_non_null(s);
    for (int k = 0; k < 2; k++) {
        outcome_init(&again);
        r = request(f, 8, &again, adapter_of(f, 8));
        assert_int_equal(loco_sched_submit(s, &r, NULL), LOCO_OK);
        outcome_wait(&again);
        assert_int_equal(again.status, LOCO_OK);
        if (k == 0)
            assert_int_equal(again.res.n_cached, 0);
        else
            assert_int_equal(again.res.n_cached, (int32_t)f->lens[8] - 1);
        assert_true(again.res.n_generated > 0);
        outcome_free(&again);
    }
    struct loco_sched_stats st2;
    loco_sched_stats(s, &st2);
    assert_int_equal(st2.cached_tokens, f->lens[8] - 1);
    loco_sched_stop(s, true, -1);
    loco_context_free(c);
    for (int i = 0; i < N_JOBS; i++) {
        outcome_free(&out[i]);
        loco_generate_result_free(&ref[i]);
    }
}

static void test_callback_stops(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    struct loco_context *c = ctx_for(f->m, 2);
    struct loco_sched *s = loco_sched_start(c, loco_model_tokenizer(f->m), NULL);
    struct outcome o;
    outcome_init(&o);
    o.stop_after = 3;
    struct loco_sched_request r = request(f, 0, &o, NULL);
    assert_int_equal(loco_sched_submit(s, &r, NULL), LOCO_OK);
    outcome_wait(&o);
    assert_int_equal(o.status, LOCO_OK);
    assert_int_equal(o.res.stop, LOCO_STOP_CALLBACK);
    assert_int_equal(o.res.n_generated, 3);
    outcome_free(&o);
    loco_sched_stop(s, true, -1);
    loco_context_free(c);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    struct loco_context *c = ctx_for(f->m, 1);
    struct loco_sched_params sp = {.max_queue = 1};
    struct loco_sched *s = loco_sched_start(c, loco_model_tokenizer(f->m), &sp);
    assert_non_null(s);
    /* bad requests */
    struct outcome o;
    outcome_init(&o);
    struct loco_sched_request r = request(f, 0, &o, NULL);
    r.on_done = NULL;
    assert_int_equal(loco_sched_submit(s, &r, NULL), LOCO_ERR_INVALID);
    r = request(f, 0, &o, NULL);
    r.n_prompt = 0;
    assert_int_equal(loco_sched_submit(s, &r, NULL), LOCO_ERR_INVALID);
    int32_t *long_prompt = calloc(200, sizeof *long_prompt);
    r = request(f, 0, &o, NULL);
    r.prompt = long_prompt;
    r.n_prompt = 200; /* the context holds 96 */
    assert_int_equal(loco_sched_submit(s, &r, NULL), LOCO_ERR_RANGE);
    free(long_prompt);

    /* A holds the loop in its first token; B waits; C finds the queue full;
     * B is cancelled while waiting */
    sem_t hold;
    sem_init(&hold, 0, 0);
    struct outcome a, b;
    outcome_init(&a);
    outcome_init(&b);
    a.hold = &hold;
    struct loco_sched_request ra = request(f, 0, &a, NULL), rb = request(f, 1, &b, NULL);
    uint64_t id_a = 0, id_b = 0;
    assert_int_equal(loco_sched_submit(s, &ra, &id_a), LOCO_OK);
    /* wait until A is in its slot (it has left the queue) */
    struct loco_sched_stats st;
    do {
        usleep(1000);
        loco_sched_stats(s, &st);
    } while (st.running == 0);
    assert_int_equal(loco_sched_submit(s, &rb, &id_b), LOCO_OK);
    assert_true(id_b > id_a);
    r = request(f, 2, &o, NULL);
    assert_int_equal(loco_sched_submit(s, &r, NULL), LOCO_ERR_BUSY);
    loco_sched_cancel(s, id_b);
    loco_sched_cancel(s, 987654); /* unknown: ignored */
    sem_post(&hold);
    outcome_wait(&a);
    outcome_wait(&b);
    assert_int_equal(a.status, LOCO_OK);
    assert_true(a.res.n_generated > 0);
    assert_int_equal(b.status, LOCO_ERR_CANCELLED);
    assert_null(b.res.text);
    outcome_free(&a);
    outcome_free(&b);
    outcome_free(&o);
    sem_destroy(&hold);
    loco_sched_stop(s, true, -1);
    loco_context_free(c);
}

struct stopper {
    struct loco_sched *s;
    bool drain;
};

static void *stop_thread(void *arg)
{
    struct stopper *st = arg;
    loco_sched_stop(st->s, st->drain, 0);
    return NULL;
}

static void test_stop(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    /* with drain: everything queued is answered */
    struct loco_context *c = ctx_for(f->m, 1);
    struct loco_sched *s = loco_sched_start(c, loco_model_tokenizer(f->m), NULL);
    struct outcome out[4];
    for (int i = 0; i < 4; i++) {
        outcome_init(&out[i]);
        struct loco_sched_request r = request(f, i, &out[i], NULL);
        assert_int_equal(loco_sched_submit(s, &r, NULL), LOCO_OK);
    }
    loco_sched_stop(s, true, -1);
    for (int i = 0; i < 4; i++) {
        assert_true(out[i].done);
        assert_int_equal(out[i].status, LOCO_OK);
        assert_true(out[i].res.n_generated > 0);
        outcome_free(&out[i]);
    }
    /* without drain: the running one ends early, the waiting ones are
     * cancelled, and submit refuses once stopping */
    s = loco_sched_start(c, loco_model_tokenizer(f->m), NULL);
    sem_t hold;
    sem_init(&hold, 0, 0);
    outcome_init(&out[0]);
    out[0].hold = &hold;
    struct loco_sched_request r0 = request(f, 0, &out[0], NULL);
    assert_int_equal(loco_sched_submit(s, &r0, NULL), LOCO_OK);
    struct loco_sched_stats st;
    do {
        usleep(1000);
        loco_sched_stats(s, &st);
    } while (st.running == 0);
    outcome_init(&out[1]);
    struct loco_sched_request r1 = request(f, 1, &out[1], NULL);
    assert_int_equal(loco_sched_submit(s, &r1, NULL), LOCO_OK);
    struct stopper sp = {s, false};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_thread, &sp), 0);
    /* submit fails once the stop has begun: then let A's token go */
    struct outcome extra[64];
    int n_extra = 0, rc;
    do {
        outcome_init(&extra[n_extra]);
        struct loco_sched_request rx = request(f, 2, &extra[n_extra], NULL);
        rc = loco_sched_submit(s, &rx, NULL);
        if (rc == LOCO_OK && n_extra < 63)
            n_extra++;
        else
            outcome_free(&extra[n_extra]);
        if (rc == LOCO_OK)
            usleep(1000);
    } while (rc == LOCO_OK);
    assert_int_equal(rc, LOCO_ERR_IO);
    sem_post(&hold);
    pthread_join(th, NULL);
    assert_true(out[0].done);
    assert_int_equal(out[0].status, LOCO_OK);
    assert_int_equal(out[0].res.stop, LOCO_STOP_CALLBACK);
    assert_true(out[1].done);
    assert_int_equal(out[1].status, LOCO_ERR_CANCELLED);
    for (int i = 0; i < n_extra; i++) {
        assert_true(extra[i].done);
        assert_int_equal(extra[i].status, LOCO_ERR_CANCELLED);
        outcome_free(&extra[i]);
    }
    outcome_free(&out[0]);
    outcome_free(&out[1]);
    sem_destroy(&hold);
    loco_context_free(c);
}

static void test_cancel_all(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    struct loco_context *c = ctx_for(f->m, 1);
    struct loco_sched *s = loco_sched_start(c, loco_model_tokenizer(f->m), NULL);
    sem_t hold;
    sem_init(&hold, 0, 0);
    struct outcome a, b, after;
    outcome_init(&a);
    outcome_init(&b);
    a.hold = &hold;
    struct loco_sched_request ra = request(f, 0, &a, NULL), rb = request(f, 1, &b, NULL);
    assert_int_equal(loco_sched_submit(s, &ra, NULL), LOCO_OK);
    struct loco_sched_stats st;
    do {
        usleep(1000);
        loco_sched_stats(s, &st);
    } while (st.running == 0);
    assert_int_equal(loco_sched_submit(s, &rb, NULL), LOCO_OK);
    loco_sched_cancel_all(s);
    sem_post(&hold);
    outcome_wait(&a);
    outcome_wait(&b);
    assert_int_equal(a.status, LOCO_OK);
    assert_int_equal(a.res.stop, LOCO_STOP_CALLBACK);
    assert_int_equal(b.status, LOCO_ERR_CANCELLED);
    /* the loop goes on for new requests */
    outcome_init(&after);
    struct loco_sched_request rc = request(f, 2, &after, NULL);
    assert_int_equal(loco_sched_submit(s, &rc, NULL), LOCO_OK);
    outcome_wait(&after);
    assert_int_equal(after.status, LOCO_OK);
    assert_true(after.res.n_generated > 0);
    loco_sched_cancel_all(NULL); /* ignored */
    outcome_free(&a);
    outcome_free(&b);
    outcome_free(&after);
    sem_destroy(&hold);
    loco_sched_stop(s, true, -1);
    loco_context_free(c);
}

static void test_invalid_start(void **state)
{
    (void)state;
    assert_null(loco_sched_start(NULL, NULL, NULL));
    assert_true(strlen(loco_error_message()) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_alone),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_cancel_all),
        cmocka_unit_test(test_invalid_start),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
