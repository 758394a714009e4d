/*
 * loco/pool.h - the engine's thread pool: a parallel for-loop that stays
 * fast on a quiet machine and degrades gracefully on a busy one.
 *
 * Why not OpenMP: with libgomp's default (active) wait policy, idle threads
 * spin for a long time between parallel regions. When other programs want
 * the same cores, those spinning threads steal the time the working ones
 * need, and a static split makes every region wait for its slowest
 * (descheduled) thread: generation ran 20x slower under a competing load.
 * The passive policy fixes that but costs ~40% on a quiet machine, because
 * each region then starts with a wake-up system call.
 *
 * This pool does what both need:
 *   - the range [0, n) is cut into fixed chunks that threads take from one
 *     atomic counter, so when a thread is descheduled the running ones take
 *     its share instead of waiting for it;
 *   - the calling thread works too (a pool of n_threads starts n_threads-1
 *     workers);
 *   - an idle thread spins only briefly (LOCO_POOL_SPIN_US, with a pause
 *     instruction) so back-to-back regions start without a system call,
 *     then sleeps on a futex, so it never burns a core while the machine is
 *     busy; the caller waiting for stragglers does the same.
 * Chunk boundaries depend only on n and chunk, never on timing, so a loop
 * whose chunks write disjoint outputs gives the same bits for any thread
 * count and any schedule.
 */
#ifndef LOCO_POOL_H
#define LOCO_POOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_POOL_MAX_THREADS 1024
#ifndef LOCO_POOL_SPIN_US /* a build may set it: -DLOCO_POOL_SPIN_US=N */
#define LOCO_POOL_SPIN_US 50 /* how long an idle thread spins before it sleeps */
#endif

struct loco_pool; /* opaque */

/* The body of a parallel loop: handle indices [begin, end). `thread` is in
 * [0, n_threads) and no two calls running at the same time share it (the
 * caller is thread 0), so it can index per-thread scratch space. */
typedef void (*loco_pool_fn)(void *arg, int64_t begin, int64_t end, int32_t thread);

/* ---- lifecycle --------------------------------------------------------- */

/* A pool of n_threads threads, the caller included: n_threads - 1 workers
 * are started and wait for work. n_threads 1 starts none (every loop runs
 * on the caller). NULL with LOCO_ERR_INVALID (n_threads outside
 * 1..LOCO_POOL_MAX_THREADS) or LOCO_ERR_NOMEM (memory, or a thread could not
 * be started). Free with loco_pool_free. */
struct loco_pool *loco_pool_init(int32_t n_threads);

/* Stop and join the workers, then free the pool. NULL is a no-op. Must not
 * be called while a loop on this pool is running. */
void loco_pool_free(struct loco_pool *p);

/* Threads a loop may use, the caller included (1 for a NULL pool). */
int32_t loco_pool_n_threads(const struct loco_pool *p);

/* ---- running a loop ---------------------------------------------------- */

/* Call fn over [0, n) in chunks [k*chunk, min((k+1)*chunk, n)), each chunk
 * exactly once, on the caller and the pool's workers; returns when every
 * chunk is done. chunk <= 0 asks for about one chunk per thread. n <= 0
 * calls nothing. A NULL pool runs every chunk on the caller, in order, as
 * thread 0. One loop at a time per pool: a pool is used by one thread (the
 * one that owns its context), and fn must not start a loop on the same
 * pool. Different pools may run loops from different threads at once. */
void loco_pool_for(struct loco_pool *p, int64_t n, int64_t chunk, loco_pool_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
