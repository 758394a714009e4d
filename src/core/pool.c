/*
 * pool.c - persistent worker threads and a chunked parallel for-loop
 * (see loco/pool.h for why the engine has its own).
 *
 * One loop at a time runs on a pool. Its life, as the caller sees it:
 *
 *   1. wait until no worker is still inside the previous loop (almost
 *      always already true);
 *   2. write the loop (fn, arg, n, chunk) and open it: `state` gets a new
 *      odd epoch; wake the workers that went to sleep, if any;
 *   3. take chunks like any worker;
 *   4. wait until the last chunk is finished (spin briefly, then sleep);
 *   5. close the loop: the epoch becomes even.
 *
 * The chunks are first dealt out in nt contiguous runs, one per thread, so
 * threads work on distant parts of the output (no cache line written by
 * two of them at once); each run has its own atomic counter. A thread takes
 * chunks from its own run, then from the others' in turn, so a run whose
 * owner is descheduled (or never woke up) is finished by the rest.
 *
 * A worker enters an open loop by raising the `active` count in the same
 * 64-bit word as the epoch (one compare-and-swap, so it can only enter the
 * loop it saw), takes chunks until none are left, and leaves.
 * The caller never waits for a worker that has not entered: a descheduled
 * worker simply finds the loop closed when it runs again. Because the loop's
 * fields are written only while `active` is 0 and the epoch is even, a
 * worker that entered reads a loop that cannot change under it.
 *
 * Waiting: spin for LOCO_POOL_SPIN_US with the CPU's pause instruction,
 * then sleep on a futex. The counters `sleepers` and `caller_sleeping`
 * let the other side skip the wake-up system call when nobody sleeps; the
 * sequentially consistent order of "announce I sleep, re-check" against
 * "publish, check for sleepers" means no wake-up is lost.
 */
#include "loco/pool.h"

#include "loco/core.h"

#include <assert.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

#define EPOCH_ONE ((uint64_t)1 << 32)

struct worker {
    struct loco_pool *pool;
    int32_t index; /* 1..n_threads-1; the caller is 0 */
    pthread_t thread;
};

/* Fields that different threads write sit on different cache lines, so a
 * thread taking a chunk does not evict the line every other thread reads
 * the loop from. */
#define LINE 64

/* One thread's run of chunks [next, end), and the counter all threads take
 * them from. */
struct run {
    _Alignas(LINE) _Atomic int64_t next;
    int64_t end;
};

struct loco_pool {
    int32_t n_threads;
    struct worker *workers; /* [n_threads - 1] */
    struct run *runs;       /* [n_threads] */
    /* the current loop: written only while the epoch is even and active 0 */
    loco_pool_fn fn;
    void *arg;
    int64_t n, chunk, n_chunks;
    _Alignas(LINE) _Atomic int64_t done;      /* chunks finished */
    _Alignas(LINE) _Atomic uint32_t finished; /* 1 once done == n_chunks (futex word) */
    _Atomic uint32_t caller_sleeping;
    _Alignas(LINE) _Atomic uint64_t state;    /* epoch << 32 | workers inside the loop */
    _Alignas(LINE) _Atomic uint32_t wake_seq; /* bumped to wake sleeping workers (futex word) */
    _Atomic int32_t sleepers;                 /* workers asleep or about to be */
    _Atomic bool stop;
};

/* ---- small helpers ----------------------------------------------------- */

static void futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Spin until done(arg) or LOCO_POOL_SPIN_US pass; whether done. */
static bool spin_until(bool (*done)(struct loco_pool *, uint32_t), struct loco_pool *p, uint32_t x)
{
    int64_t end = 0;
    for (uint32_t i = 0;; i++) {
        if (done(p, x))
            return true;
        cpu_relax();
        if ((i & 63) == 63) { /* read the clock now and then, not every turn */
            int64_t t = now_us();
            if (!end)
                end = t + LOCO_POOL_SPIN_US;
            else if (t >= end)
                return false;
        }
    }
}

static uint32_t epoch_of(uint64_t state)
{
    return (uint32_t)(state >> 32);
}

/* ---- the worker's side ------------------------------------------------- */

/* Whether there is something for a worker that last ran epoch `seen`. */
static bool has_work(struct loco_pool *p, uint32_t seen)
{
    uint32_t e = epoch_of(atomic_load(&p->state));
    return atomic_load(&p->stop) || ((e & 1) && e != seen);
}

/* Block until has_work(p, seen): spin, then sleep on wake_seq. */
static void wait_for_work(struct loco_pool *p, uint32_t seen)
{
    if (spin_until(has_work, p, seen))
        return;
    for (;;) {
        atomic_fetch_add(&p->sleepers, 1);
        uint32_t seq = atomic_load(&p->wake_seq);
        bool ready = has_work(p, seen);
        if (!ready)
            futex_wait(&p->wake_seq, seq);
        atomic_fetch_sub(&p->sleepers, 1);
        if (ready || has_work(p, seen))
            return;
    }
}

/* Join loop `epoch` if it is still open: raise the active count. */
static bool enter(struct loco_pool *p, uint32_t epoch)
{
    uint64_t s = atomic_load(&p->state);
    while (epoch_of(s) == epoch)
        if (atomic_compare_exchange_weak(&p->state, &s, s + 1))
            return true;
    return false;
}

static void finish(struct loco_pool *p)
{
    atomic_store(&p->finished, 1);
    if (atomic_load(&p->caller_sleeping))
        futex_wake_all(&p->finished);
}

/* Take chunks until none are left: this thread's run first, then the
 * others' in turn. */
static void run_chunks(struct loco_pool *p, int32_t thread)
{
    for (int32_t i = 0; i < p->n_threads; i++) {
        struct run *r = &p->runs[(thread + i) % p->n_threads];
        for (;;) {
            int64_t k = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
            if (k >= r->end)
                break;
            int64_t begin = k * p->chunk;
            int64_t end = p->n - begin > p->chunk ? begin + p->chunk : p->n;
            p->fn(p->arg, begin, end, thread);
            if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == p->n_chunks)
                finish(p);
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct loco_pool *p = w->pool;
    uint32_t seen = 0;
    for (;;) {
        wait_for_work(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        uint32_t epoch = epoch_of(atomic_load(&p->state));
        seen = epoch;
        if ((epoch & 1) && enter(p, epoch)) {
            run_chunks(p, w->index);
            atomic_fetch_sub(&p->state, 1);
        }
    }
}

/* ---- the caller's side ------------------------------------------------- */

static bool loop_finished(struct loco_pool *p, uint32_t unused)
{
    return atomic_load(&p->finished) != 0;
}

static void wait_finished(struct loco_pool *p)
{
    if (spin_until(loop_finished, p, 0))
        return;
    while (!atomic_load(&p->finished)) {
        atomic_store(&p->caller_sleeping, 1);
        if (!atomic_load(&p->finished))
            futex_wait(&p->finished, 0);
        atomic_store(&p->caller_sleeping, 0);
    }
}

/* A worker still inside the last loop has no chunk left; it leaves within
 * instructions unless it was descheduled right there, so yield to it. */
static void wait_workers_left(struct loco_pool *p)
{
    for (int i = 0; (uint32_t)atomic_load(&p->state) != 0; i++) {
        if (i < 1000)
            cpu_relax();
        else
            sched_yield();
    }
}

/* Where thread t's run starts when n_chunks are dealt to nt threads. */
static int64_t run_start(int64_t n_chunks, int32_t nt, int32_t t)
{
    int64_t base = n_chunks / nt, extra = n_chunks % nt;
    return base * t + (t < extra ? t : extra);
}

static void run_serial(int64_t n, int64_t chunk, loco_pool_fn fn, void *arg)
{
    for (int64_t begin = 0; begin < n; begin += chunk)
        fn(arg, begin, n - begin > chunk ? begin + chunk : n, 0);
}

void loco_pool_for(struct loco_pool *p, int64_t n, int64_t chunk, loco_pool_fn fn, void *arg)
{
    if (n <= 0)
        return;
    int32_t nt = loco_pool_n_threads(p);
    if (chunk <= 0)
        chunk = n / nt + (n % nt != 0);
    int64_t n_chunks = n / chunk + (n % chunk != 0);
    if (nt == 1 || n_chunks == 1) {
        run_serial(n, chunk, fn, arg);
        return;
    }
    /* one loop at a time: not from two threads, not from inside fn */
    assert((epoch_of(atomic_load(&p->state)) & 1) == 0);
    wait_workers_left(p);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->chunk = chunk;
    p->n_chunks = n_chunks;
    for (int32_t t = 0; t < nt; t++) { /* the first n_chunks % nt runs get one more */
        atomic_store_explicit(&p->runs[t].next, run_start(n_chunks, nt, t), memory_order_relaxed);
        p->runs[t].end = run_start(n_chunks, nt, t + 1);
    }
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    atomic_fetch_add(&p->state, EPOCH_ONE); /* open: the epoch becomes odd */
    if (atomic_load(&p->sleepers) > 0) {
        atomic_fetch_add(&p->wake_seq, 1);
        futex_wake_all(&p->wake_seq);
    }
    run_chunks(p, 0);
    wait_finished(p);
    atomic_fetch_add(&p->state, EPOCH_ONE); /* close: even again */
}

/* ---- lifecycle --------------------------------------------------------- */

static void stop_workers(struct loco_pool *p, int32_t n_started)
{
    atomic_store(&p->stop, true);
    atomic_fetch_add(&p->wake_seq, 1);
    futex_wake_all(&p->wake_seq);
    for (int32_t i = 0; i < n_started; i++)
        pthread_join(p->workers[i].thread, NULL);
}

struct loco_pool *loco_pool_init(int32_t n_threads)
{
    if (n_threads < 1 || n_threads > LOCO_POOL_MAX_THREADS) {
        loco_error_set(LOCO_ERR_INVALID, "thread pool: %d threads (allowed 1..%d)", n_threads,
                       LOCO_POOL_MAX_THREADS);
        return NULL;
    }
    struct loco_pool *p = aligned_alloc(LINE, (sizeof *p + LINE - 1) / LINE * LINE);
    if (p) {
        memset(p, 0, sizeof *p);
        p->workers = calloc((size_t)n_threads, sizeof *p->workers);
        p->runs = aligned_alloc(LINE, (size_t)n_threads * sizeof *p->runs);
    }
    if (!p || !p->workers || !p->runs) {
        if (p) {
            free(p->workers);
            free(p->runs);
        }
        free(p);
        loco_error_set(LOCO_ERR_NOMEM, "out of memory for a pool of %d threads", n_threads);
        return NULL;
    }
    p->n_threads = n_threads;
    for (int32_t i = 0; i < n_threads - 1; i++) {
        p->workers[i] = (struct worker){.pool = p, .index = i + 1};
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            stop_workers(p, i);
            free(p->workers);
            free(p->runs);
            free(p);
            loco_error_set(LOCO_ERR_NOMEM, "thread pool: cannot start worker %d of %d", i + 1,
                           n_threads - 1);
            return NULL;
        }
    }
    return p;
}

void loco_pool_free(struct loco_pool *p)
{
    if (!p)
        return;
    wait_workers_left(p);
    stop_workers(p, p->n_threads - 1);
    free(p->workers);
    free(p->runs);
    free(p);
}

int32_t loco_pool_n_threads(const struct loco_pool *p)
{
    return p ? p->n_threads : 1;
}
