/*
 * test-pool.c - the engine's thread pool (loco/pool.h):
 *  1. every index of [0, n) is handed out exactly once, in chunks of the
 *     asked size starting at multiples of it, for many n / chunk / thread
 *     combinations, and no thread index is used by two calls at once;
 *  2. a loop writing disjoint outputs gives the serial loop's bits;
 *  3. empty and negative ranges call nothing; a NULL pool runs in order;
 *  4. loops separated by pauses longer than the spin (workers asleep) still
 *     run on all threads and finish;
 *  5. two pools used from two threads at the same time;
 *  6. bad sizes are refused; pools are started and freed many times;
 *  7. loco_matmul_pool / loco_matmul_f32act_pool give loco_matmul's bits on
 *     pools of 1..4 threads (and a NULL pool), for the dot, multi-token and
 *     sgemm paths;
 *  8. loco_matmul_pool_then calls its epilogue once for every output row,
 *     only after that row holds the product for every token (the epilogue's
 *     own writes are kept), with the product's bits, on every path and
 *     pool size; without an epilogue it is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/core.h"
#include "loco/pool.h"
#include "loco/quant.h"
#include "testutil.h"

#define MAX_N 5000

/* What a coverage loop records. */
struct cover {
    int64_t n, chunk;
    int32_t n_threads;
    _Atomic int hits[MAX_N];
    _Atomic int busy[16]; /* per thread index: inside fn now */
    _Atomic int bad;      /* chunk shape or thread index wrong */
};

static void cover_fn(void *arg, int64_t begin, int64_t end, int32_t thread)
{
    struct cover *c = arg;
    if (thread < 0 || thread >= c->n_threads || atomic_exchange(&c->busy[thread], 1) != 0) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    if (begin < 0 || end > c->n || begin >= end || (c->chunk > 0 && begin % c->chunk != 0) ||
        (c->chunk > 0 && end - begin > c->chunk) ||
        (c->chunk > 0 && end != c->n && end - begin != c->chunk))
        atomic_fetch_add(&c->bad, 1);
    for (int64_t i = begin; i < end && i < MAX_N; i++)
        atomic_fetch_add(&c->hits[i], 1);
    atomic_store(&c->busy[thread], 0);
}

static void check_cover(struct loco_pool *p, int64_t n, int64_t chunk)
{
    struct cover *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->n = n;
    c->chunk = chunk;
    c->n_threads = loco_pool_n_threads(p);
    loco_pool_for(p, n, chunk, cover_fn, c);
    assert_int_equal(atomic_load(&c->bad), 0);
    for (int64_t i = 0; i < n; i++)
        if (atomic_load(&c->hits[i]) != 1)
            fail_msg("n %lld chunk %lld threads %d: index %lld run %d times", (long long)n,
                     (long long)chunk, c->n_threads, (long long)i, atomic_load(&c->hits[i]));
    free(c);
}

static void test_every_index_once(void **state)
{
    (void)state;
    const int32_t threads[] = {1, 2, 3, 4, 8};
    const int64_t ns[] = {1, 2, 3, 7, 64, 100, 1000, 4097, MAX_N};
    const int64_t chunks[] = {-5, 0, 1, 3, 64, 999, 6000};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        struct loco_pool *p = loco_pool_init(threads[t]);
        assert_non_null(p);
        assert_int_equal(loco_pool_n_threads(p), threads[t]);
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
            for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++)
                check_cover(p, ns[i], chunks[k]);
        loco_pool_free(p);
    }
}

/* y[i] = a float function of i, written by whichever thread runs i */
static float value(int64_t i)
{
    return sinf((float)i * 0.37f) * expf((float)(i % 17) * 0.1f) / (1.0f + (float)i);
}

static void fill_fn(void *arg, int64_t begin, int64_t end, int32_t thread)
{
    float *y = arg;
    for (int64_t i = begin; i < end; i++)
        y[i] = value(i);
}

static void test_same_bits_as_serial(void **state)
{
    (void)state;
    const int64_t n = 4099;
    float *want = malloc((size_t)n * sizeof *want), *got = malloc((size_t)n * sizeof *got);
    assert_non_null(want);
    assert_non_null(got);
    for (int64_t i = 0; i < n; i++)
        want[i] = value(i);
    for (int32_t nt = 1; nt <= 4; nt++) {
        struct loco_pool *p = loco_pool_init(nt);
        assert_non_null(p);
        for (int64_t chunk = 0; chunk <= 130; chunk += 13) {
            memset(got, 0xff, (size_t)n * sizeof *got);
            loco_pool_for(p, n, chunk, fill_fn, got);
            assert_memory_equal(got, want, (size_t)n * sizeof *got);
        }
        loco_pool_free(p);
    }
    free(want);
    free(got);
}

static void count_fn(void *arg, int64_t begin, int64_t end, int32_t thread)
{
    atomic_fetch_add((_Atomic int64_t *)arg, 1);
}

static void order_fn(void *arg, int64_t begin, int64_t end, int32_t thread)
{
    int64_t *log = arg; /* log[0]: entries so far, then begin values */
    log[1 + log[0]++] = thread == 0 ? begin : -1;
}

static void test_empty_ranges_and_null_pool(void **state)
{
    (void)state;
    _Atomic int64_t calls = 0;
    struct loco_pool *p = loco_pool_init(3);
    assert_non_null(p);
    loco_pool_for(p, 0, 4, count_fn, &calls);
    loco_pool_for(p, -7, 4, count_fn, &calls);
    loco_pool_for(p, 0, 0, count_fn, &calls);
    loco_pool_for(NULL, 0, 1, count_fn, &calls);
    assert_int_equal(atomic_load(&calls), 0);
    loco_pool_free(p);

    /* a NULL pool: one thread, the caller, chunks in order */
    assert_int_equal(loco_pool_n_threads(NULL), 1);
    int64_t log[16] = {0};
    loco_pool_for(NULL, 10, 3, order_fn, log);
    assert_int_equal(log[0], 4);
    assert_int_equal(log[1], 0);
    assert_int_equal(log[2], 3);
    assert_int_equal(log[3], 6);
    assert_int_equal(log[4], 9);
    loco_pool_free(NULL); /* no-op */
}

static void test_wakes_sleeping_workers(void **state)
{
    (void)state;
    struct loco_pool *p = loco_pool_init(4);
    assert_non_null(p);
    for (int round = 0; round < 40; round++) {
        /* longer than the spin: the workers are asleep on the futex */
        usleep(round % 2 ? 2 * LOCO_POOL_SPIN_US : 10 * LOCO_POOL_SPIN_US);
        check_cover(p, 64 + round, 1);
    }
    /* back to back: the workers are still spinning */
    for (int round = 0; round < 2000; round++)
        check_cover(p, 16, 1);
    loco_pool_free(p);
}

/* One thread's own pool, many loops; failures counts wrong outputs. */
struct pool_user {
    int32_t n_threads;
    int64_t n;
    int failures;
};

static void square_fn(void *arg, int64_t begin, int64_t end, int32_t thread)
{
    int64_t *y = arg;
    for (int64_t i = begin; i < end; i++)
        y[i] = i * i;
}

static void *use_pool(void *arg)
{
    struct pool_user *u = arg;
    struct loco_pool *p = loco_pool_init(u->n_threads);
    int64_t *y = malloc((size_t)u->n * sizeof *y);
    if (!p || !y) {
        u->failures = -1;
        free(y);
        loco_pool_free(p);
        return NULL;
    }
    for (int round = 0; round < 500; round++) {
        memset(y, 0, (size_t)u->n * sizeof *y);
        loco_pool_for(p, u->n, 1 + round % 7, square_fn, y);
        for (int64_t i = 0; i < u->n; i++)
            u->failures += y[i] != i * i;
    }
    free(y);
    loco_pool_free(p);
    return NULL;
}

static void test_two_pools_two_threads(void **state)
{
    (void)state;
    struct pool_user a = {.n_threads = 2, .n = 301}, b = {.n_threads = 3, .n = 517};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, use_pool, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, use_pool, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.failures, 0);
    assert_int_equal(b.failures, 0);
}

/* Each chunk waits until all three chunks have started: the loop can end
 * only if three different threads took one each. */
struct meet {
    _Atomic int arrived;
    _Atomic int threads_seen;
};

static void meet_fn(void *arg, int64_t begin, int64_t end, int32_t thread)
{
    struct meet *m = arg;
    atomic_fetch_or(&m->threads_seen, 1 << thread);
    atomic_fetch_add(&m->arrived, 1);
    while (atomic_load(&m->arrived) < 3)
        sched_yield();
}

static void test_all_threads_take_part(void **state)
{
    (void)state;
    struct loco_pool *p = loco_pool_init(3);
    assert_non_null(p);
    for (int round = 0; round < 20; round++) {
        if (round % 4 == 0)
            usleep(5 * LOCO_POOL_SPIN_US); /* sometimes start with the workers asleep */
        struct meet m = {0, 0};
        loco_pool_for(p, 3, 1, meet_fn, &m);
        assert_int_equal(atomic_load(&m.arrived), 3);
        assert_int_equal(atomic_load(&m.threads_seen), 7);
    }
    loco_pool_free(p);
}

static void test_sizes_and_lifecycle(void **state)
{
    (void)state;
    assert_null(loco_pool_init(0));
    assert_int_equal(strstr(loco_error_message(), "0 threads") != NULL, 1);
    assert_null(loco_pool_init(-3));
    assert_null(loco_pool_init(LOCO_POOL_MAX_THREADS + 1));
    /* started and stopped at once, after sleeping, after work */
    for (int i = 0; i < 50; i++)
        loco_pool_free(loco_pool_init(1 + i % 5));
    struct loco_pool *p = loco_pool_init(4);
    assert_non_null(p);
    usleep(5 * LOCO_POOL_SPIN_US);
    loco_pool_free(p);
    p = loco_pool_init(4);
    assert_non_null(p);
    check_cover(p, 1000, 7);
    loco_pool_free(p);
}

/* ---- the matrix products on a pool ---------------------------------------- */

static float frand(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*x >> 40) & 0xffff) / 32768.0f - 1.0f;
}

/* Random weights of type t (malloc'd, rows of n_in) and activations. */
static void random_problem(enum loco_type t, int64_t n_in, int64_t n_out, int64_t n_tok,
                           uint64_t seed, void **w, float **x)
{
    const size_t wrow = loco_type_row_size(t, n_in);
    float *wf = malloc((size_t)(n_in * n_out) * sizeof *wf);
    *x = malloc((size_t)(n_in * n_tok) * sizeof **x);
    *w = malloc(wrow * (size_t)n_out);
    assert_true(wf && *x && *w);
    for (int64_t i = 0; i < n_in * n_out; i++)
        wf[i] = frand(&seed);
    for (int64_t i = 0; i < n_in * n_tok; i++)
        (*x)[i] = frand(&seed);
    for (int64_t o = 0; o < n_out; o++)
        loco_type_traits(t)->from_float(wf + o * n_in, (char *)*w + (size_t)o * wrow, n_in);
    free(wf);
}

static void check_products(enum loco_type t, int64_t n_in, int64_t n_out, int64_t n_tok)
{
    const struct loco_type_traits *tr = loco_type_traits(t);
    void *w;
    float *x;
    random_problem(t, n_in, n_out, n_tok, 7, &w, &x);
    float *want = malloc((size_t)(n_out * n_tok) * sizeof *want);
    float *got = malloc((size_t)(n_out * n_tok) * sizeof *got);
    assert_true(want && got);
    for (int f32act = 0; f32act < 2; f32act++) {
        int rc = f32act ? loco_matmul_f32act(w, t, n_in, n_out, x, n_tok, want, 1)
                        : loco_matmul(w, t, n_in, n_out, x, n_tok, want, 1);
        assert_int_equal(rc, LOCO_OK);
        for (int32_t nt = 0; nt <= 4; nt++) {
            struct loco_pool *p = nt ? loco_pool_init(nt) : NULL; /* 0: a NULL pool */
            memset(got, 0xff, (size_t)(n_out * n_tok) * sizeof *got);
            rc = f32act ? loco_matmul_f32act_pool(p, w, t, n_in, n_out, x, n_tok, got)
                        : loco_matmul_pool(p, w, t, n_in, n_out, x, n_tok, got);
            assert_int_equal(rc, LOCO_OK);
            if (memcmp(got, want, (size_t)(n_out * n_tok) * sizeof *got) != 0)
                fail_msg("%s %s n_tok %lld on %d threads: bits differ from 1 thread", tr->name,
                         f32act ? "f32act" : "matmul", (long long)n_tok, nt);
            loco_pool_free(p);
        }
    }
    free(x);
    free(want);
    free(got);
    free(w);
}

static void test_matmul_on_a_pool(void **state)
{
    (void)state;
    const enum loco_type types[] = {LOCO_TYPE_F32, LOCO_TYPE_F16, LOCO_TYPE_Q4_1, LOCO_TYPE_Q8_0,
                                    LOCO_TYPE_Q4_K};
    const int64_t toks[] = {1, 3, 9, 50}; /* dot, multi-token, sgemm (f32), sgemm (quantized) */
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        for (size_t j = 0; j < sizeof toks / sizeof *toks; j++)
            check_products(types[i], 256, 203, toks[j]);
    /* the n_threads form, on its per-thread pool, also matches */
    float x[256] = {0}, w[256 * 3], y1[3], y2[3];
    for (int i = 0; i < 256 * 3; i++)
        w[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < 256; i++)
        x[i] = (float)(i % 5);
    assert_int_equal(loco_matmul(w, LOCO_TYPE_F32, 256, 3, x, 1, y1, 1), LOCO_OK);
    assert_int_equal(loco_matmul(w, LOCO_TYPE_F32, 256, 3, x, 1, y2, 3), LOCO_OK);
    assert_memory_equal(y1, y2, sizeof y1);
}

/* What the epilogue of test 8 sees: each row's calls, and rows that were
 * not yet the product when it ran. */
struct then_seen {
    const float *want;
    float *y;
    int64_t n_out, n_tok;
    atomic_int *calls; /* [n_out] */
    atomic_int early;
};

static void then_mark(void *arg, int64_t o0, int64_t o1)
{
    struct then_seen *s = arg;
    for (int64_t o = o0; o < o1; o++) {
        atomic_fetch_add(&s->calls[o], 1);
        for (int64_t t = 0; t < s->n_tok; t++) {
            float *yo = &s->y[t * s->n_out + o];
            if (memcmp(yo, &s->want[t * s->n_out + o], sizeof *yo) != 0)
                atomic_fetch_add(&s->early, 1);
            *yo += (float)o; /* kept: nothing writes the row after this */
        }
    }
}

static void check_then(enum loco_type t, int64_t n_in, int64_t n_out, int64_t n_tok)
{
    const struct loco_type_traits *tr = loco_type_traits(t);
    void *w;
    float *x;
    random_problem(t, n_in, n_out, n_tok, 11, &w, &x);
    float *want = malloc((size_t)(n_out * n_tok) * sizeof *want);
    float *got = malloc((size_t)(n_out * n_tok) * sizeof *got);
    atomic_int *calls = malloc((size_t)n_out * sizeof *calls);
    assert_true(want && got && calls);
    assert_int_equal(loco_matmul(w, t, n_in, n_out, x, n_tok, want, 1), LOCO_OK);
    for (int32_t nt = 0; nt <= 4; nt++) {
        struct loco_pool *p = nt ? loco_pool_init(nt) : NULL;
        struct then_seen seen = {want, got, n_out, n_tok, calls, 0};
        for (int64_t o = 0; o < n_out; o++)
            atomic_init(&calls[o], 0);
        memset(got, 0xff, (size_t)(n_out * n_tok) * sizeof *got);
        assert_int_equal(loco_matmul_pool_then(p, w, t, n_in, n_out, x, n_tok, got, then_mark,
                                               &seen),
                         LOCO_OK);
        for (int64_t o = 0; o < n_out; o++)
            if (atomic_load(&calls[o]) != 1)
                fail_msg("%s n_tok %lld on %d threads: row %lld had %d epilogue calls", tr->name,
                         (long long)n_tok, nt, (long long)o, atomic_load(&calls[o]));
        if (atomic_load(&seen.early))
            fail_msg("%s n_tok %lld on %d threads: %d values were not the product yet", tr->name,
                     (long long)n_tok, nt, atomic_load(&seen.early));
        for (int64_t tk = 0; tk < n_tok; tk++)
            for (int64_t o = 0; o < n_out; o++) {
                float w_to = want[tk * n_out + o] + (float)o;
                if (memcmp(&got[tk * n_out + o], &w_to, sizeof w_to) != 0)
                    fail_msg("%s n_tok %lld on %d threads: y[%lld][%lld] lost the epilogue's "
                             "write", tr->name, (long long)n_tok, nt, (long long)tk, (long long)o);
            }
        loco_pool_free(p);
    }
    free(x);
    free(want);
    free(got);
    free(calls);
    free(w);
}

static void test_matmul_then(void **state)
{
    (void)state;
    const enum loco_type types[] = {LOCO_TYPE_F32, LOCO_TYPE_Q4_1, LOCO_TYPE_Q4_K};
    const int64_t toks[] = {1, 3, 9, 50};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        for (size_t j = 0; j < sizeof toks / sizeof *toks; j++)
            check_then(types[i], 256, 203, toks[j]);
    float w[256] = {0}, x[256] = {0}, y[1];
    assert_int_equal(loco_matmul_pool_then(NULL, w, LOCO_TYPE_F32, 256, 1, x, 1, y, NULL, NULL),
                     LOCO_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_same_bits_as_serial),
        cmocka_unit_test(test_empty_ranges_and_null_pool),
        cmocka_unit_test(test_wakes_sleeping_workers),
        cmocka_unit_test(test_two_pools_two_threads),
        cmocka_unit_test(test_all_threads_take_part),
        cmocka_unit_test(test_sizes_and_lifecycle),
        cmocka_unit_test(test_matmul_on_a_pool),
        cmocka_unit_test(test_matmul_then),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
