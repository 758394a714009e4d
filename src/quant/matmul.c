/*
 * matmul.c - y = W x for a batch of tokens, on any weight type.
 *
 * Shapes (I = n_in, O = n_out, T = n_tok):
 *   W [O][I] in type wt (row o is row_size(wt, I) bytes), x [T][I] f32,
 *   y [T][O] f32.
 *
 * loco_matmul does what llama.cpp's CPU backend does (docs/formats/quant.md): each
 * activation row is quantized once to the weight type's partner
 * (vec_dot_type) and y[t][o] = vec_dot(W[o], xq[t]). Output rows are split
 * in chunks that the threads of a loco_pool take as they come free (so a
 * thread the OS has descheduled does not hold the others up); inside a
 * chunk the token loop is outside the row loop, so the chunk's weights stay
 * in L1/L2 while every token passes over them. Each y[t][o] is one vec_dot
 * call whatever the chunking, so results do not depend on the thread
 * count. With 2 or more tokens the types that have a multi-token kernel
 * (quant-impl.h: Q4_0, Q4_1, Q8_0, Q4_K, Q6_K) take the tokens up to
 * LQ_MULTI_MAX at a time, so each weight block is unpacked once per group
 * rather than once per token; that kernel returns the very bits of the
 * per-token vec_dot, so nothing else changes.
 *
 * With T >= 8, F32 weights go through OpenBLAS sgemm instead; so do F16 and
 * BF16 weights, and quantized weights with T >= 48 (prefill): the
 * activations are still rounded through the partner type exactly as above,
 * then widened back to f32, the weights are dequantized 64 rows at a time,
 * and sgemm does the products (see matmul_dequant_sgemm: only the summation
 * order changes). loco_matmul_f32act uses sgemm for T >= 8 as well. All
 * sgemm paths use fixed 64-row chunks (one sgemm call each, OpenBLAS itself
 * kept to one thread), so they too give the same bits for any n_threads.
 */
#include "quant-impl.h"

#include "loco/core.h"
#include "loco/pool.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define SGEMM_MIN_TOKENS 8 /* below this a plain dot loop is as fast */
#define QUANT_SGEMM_MIN_TOKENS LOCO_MATMUL_QUANT_SGEMM_MIN_TOKENS /* measured crossover 32..48 */
#define SGEMM_ROWS 64       /* output rows per sgemm call (fixed: determinism) */
#define CHUNK_BYTES 32768   /* weight bytes per work item when T > 1 */
#define F32ACT_ROWS 16      /* rows dequantized at a time when T < 8 */
#define CHUNKS_PER_THREAD 4 /* T = 1: chunks per thread, so a late thread's share moves */

static int check_args(const void *w, enum loco_type wt, int64_t n_in, int64_t n_out, const float *x,
                      int64_t n_tok, const float *y)
{
    const struct loco_type_traits *t = loco_type_traits(wt);
    if (!w || !x || !y)
        return loco_error_set(LOCO_ERR_INVALID, "matmul: weight, input and output must be set");
    if (t->block_size == 0)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "matmul: unknown tensor type id %d", (int)wt);
    if (n_in <= 0 || n_out < 0 || n_tok < 0)
        return loco_error_set(LOCO_ERR_INVALID, "matmul: bad shape n_in=%lld n_out=%lld n_tok=%lld",
                              (long long)n_in, (long long)n_out, (long long)n_tok);
    if (n_in % t->block_size != 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "matmul: row length %lld is not a multiple of %s's block size %lld",
                              (long long)n_in, t->name, (long long)t->block_size);
    return LOCO_OK;
}

/* ---- sgemm ------------------------------------------------------------- */

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* We split the work ourselves; OpenBLAS threads would oversubscribe. */
static void blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

static bool sgemm_fits(int64_t n_in, int64_t n_out, int64_t n_tok)
{
    return n_in <= INT_MAX && n_out <= INT_MAX && n_tok <= INT_MAX;
}

/* y[t][o0 + r] = sum_i wr[r][i] * x[t][i] for r < rows (wr: rows x n_in f32). */
static void sgemm_chunk(const float *wr, int64_t rows, int64_t n_in, const float *x, int64_t n_tok,
                        float *y, int64_t n_out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_tok, (int)rows, (int)n_in, 1.0f, x,
                (int)n_in, wr, (int)n_in, 0.0f, y, (int)n_out);
}

/* One loop's arguments, for the pool's workers. */
struct mm_job {
    const struct loco_type_traits *tw, *ta; /* weight type, activation partner type */
    const char *w;                          /* weights, wrow bytes per row */
    const void *x;                          /* activations: f32, or arow-byte rows */
    void *out;                              /* y, or the rounded activations */
    float *buf;                             /* per-thread dequantized rows */
    size_t wrow, arow, buf_rows;
    int64_t n_in, n_out, n_tok;
};

/* rows [o0, o1) of y = W x with f32 weights, one sgemm call */
static void sgemm_f32_rows(void *arg, int64_t o0, int64_t o1, int32_t thread)
{
    const struct mm_job *j = arg;
    sgemm_chunk((const float *)j->w + o0 * j->n_in, o1 - o0, j->n_in, j->x, j->n_tok,
                (float *)j->out + o0, j->n_out);
}

static void matmul_sgemm_f32(struct loco_pool *pool, const float *w, int64_t n_in, int64_t n_out,
                             const float *x, int64_t n_tok, float *y)
{
    pthread_once(&blas_once, blas_single_thread);
    struct mm_job j = {
        .w = (const char *)w, .x = x, .out = y, .n_in = n_in, .n_out = n_out, .n_tok = n_tok};
    loco_pool_for(pool, n_out, SGEMM_ROWS, sgemm_f32_rows, &j);
}

/* ---- quantized activations -------------------------------------------- */

/* Tokens per work item when each token is converted on its own: a few
 * chunks per thread, each a run of neighbouring rows (rows written by two
 * threads at once would share cache lines). */
static int64_t token_chunk(int64_t n_tok, const struct loco_pool *pool)
{
    int64_t parts = (int64_t)loco_pool_n_threads(pool) * CHUNKS_PER_THREAD;
    return (n_tok + parts - 1) / parts;
}

static void quantize_tokens(void *arg, int64_t t0, int64_t t1, int32_t thread)
{
    const struct mm_job *j = arg;
    for (int64_t t = t0; t < t1; t++)
        j->ta->from_float((const float *)j->x + t * j->n_in, (char *)j->out + (size_t)t * j->arow,
                          j->n_in);
}

/* The T activation rows in the partner type, one row of arow bytes each;
 * malloc'd, the caller frees. NULL on allocation failure. */
static void *quantize_activations(struct loco_pool *pool, const struct loco_type_traits *ta,
                                  const float *x, int64_t n_in, int64_t n_tok, size_t arow)
{
    char *xq = malloc(arow * (size_t)n_tok + 64);
    if (!xq)
        return NULL;
    struct mm_job j = {.ta = ta, .x = x, .out = xq, .arow = arow, .n_in = n_in, .n_tok = n_tok};
    loco_pool_for(n_tok >= 4 ? pool : NULL, n_tok, token_chunk(n_tok, pool), quantize_tokens, &j);
    return xq;
}

/* Rows per work item: for a single token, CHUNKS_PER_THREAD ranges per
 * thread; for several, about CHUNK_BYTES of weights (reused from cache by
 * every token), but never fewer chunks than threads. */
static int64_t chunk_rows(size_t wrow, int64_t n_out, int64_t n_tok, int nt)
{
    int64_t balanced = (n_out + nt - 1) / nt;
    if (n_tok == 1) {
        int64_t parts = (int64_t)nt * (nt > 1 ? CHUNKS_PER_THREAD : 1);
        int64_t rows = (n_out + parts - 1) / parts;
        rows = (rows + 15) / 16 * 16; /* whole cache lines of y per chunk */
        return rows > 0 ? rows : 1;
    }
    int64_t rows = (int64_t)(CHUNK_BYTES / (wrow ? wrow : 1));
    if (rows > balanced)
        rows = balanced;
    return rows > 0 ? rows : 1;
}

/* The kernels of one weight type and the row sizes they step by. */
struct dot_kernels {
    loco_vec_dot_fn dot;       /* one token */
    lq_vec_dot_multi_fn multi; /* up to LQ_MULTI_MAX tokens; NULL: none */
    size_t wrow, arow;         /* bytes per weight row, per activation row */
};

/* Weight rows stream from memory once per token in a decode step, and one
 * core's hardware prefetchers alone fetch them at about 40% of its
 * bandwidth (measured on a 2-vCPU Xeon, docs/benchmarks.md): before each
 * row, the row and the PREFETCH_AHEAD bytes after it are prefetched, so that
 * many cache-line loads are in flight while the kernel works. */
#define PREFETCH_AHEAD 2048
#define CACHE_LINE 64

/* The weight rows [o0, n_out) as a prefetch stream: `next` is the first
 * address not yet asked for (a cache-line start, until a stop lands inside
 * a line or the matrix does not start on one: a prefetch asks for the whole
 * line of its address either way), `size` the matrix's bytes from w. */
struct prefetch {
    const char *w, *next;
    size_t size;
};

static struct prefetch prefetch_start(const char *w, size_t wrow, int64_t o0, int64_t n_out)
{
    const size_t first = (size_t)o0 * wrow;
    const size_t lead = (uintptr_t)(w + first) % CACHE_LINE;
    return (struct prefetch){w, w + first - (first >= lead ? lead : first), (size_t)n_out * wrow};
}

/* ask for every line up to `to` bytes from w (at most the matrix's end);
 * no pointer is formed outside the matrix */
static inline void prefetch_to(struct prefetch *p, size_t to)
{
    const char *stop = p->w + (to < p->size ? to : p->size);
    while (p->next < stop) {
        __builtin_prefetch(p->next, 0, 3);
        p->next = stop - p->next > CACHE_LINE ? p->next + CACHE_LINE : stop;
    }
}

/* y[t][o] for rows o0..o1 and tokens t0..t0+g: with g >= 2 and a multi
 * kernel, each weight row is read and unpacked once for all g tokens. Either
 * way every y[t][o] has the bits of dot(W[o], xq[t]). */
static void dot_group(const struct dot_kernels *k, const char *w, const char *xq, int64_t n_in,
                      int64_t n_out, int64_t o0, int64_t o1, int64_t t0, int g, float *y)
{
    const char *xt = xq + (size_t)t0 * k->arow;
    float *yt = y + t0 * n_out;
    struct prefetch pf = prefetch_start(w, k->wrow, o0, n_out);
    if (g == 1 || !k->multi) {
        /* the weights of later tokens come from cache: prefetch for the first */
        for (int64_t o = o0; o < o1; o++) {
            prefetch_to(&pf, (size_t)(o + 1) * k->wrow + PREFETCH_AHEAD);
            k->dot(n_in, &yt[o], w + (size_t)o * k->wrow, xt);
        }
        xt += k->arow;
        yt += n_out;
        for (int j = 1; j < g; j++, xt += k->arow, yt += n_out)
            for (int64_t o = o0; o < o1; o++)
                k->dot(n_in, &yt[o], w + (size_t)o * k->wrow, xt);
        return;
    }
    for (int64_t o = o0; o < o1; o++) {
        prefetch_to(&pf, (size_t)(o + 1) * k->wrow + PREFETCH_AHEAD);
        k->multi(n_in, &yt[o], (size_t)n_out, w + (size_t)o * k->wrow, xt, k->arow, g);
    }
}

struct dot_job {
    const struct dot_kernels *k;
    const char *w, *xq;
    int64_t n_in, n_out, n_tok;
    float *y;
    loco_matmul_then_fn then; /* NULL: none */
    void *then_arg;
};

/* output rows [o0, o1) for every token, then the caller's epilogue on them */
static void dot_chunk(void *arg, int64_t o0, int64_t o1, int32_t thread)
{
    const struct dot_job *j = arg;
    for (int64_t t = 0; t < j->n_tok; t += LQ_MULTI_MAX) {
        const int g = j->n_tok - t < LQ_MULTI_MAX ? (int)(j->n_tok - t) : LQ_MULTI_MAX;
        dot_group(j->k, j->w, j->xq, j->n_in, j->n_out, o0, o1, t, g, j->y);
    }
    if (j->then)
        j->then(j->then_arg, o0, o1);
    (void)thread;
}

static void dot_rows(struct loco_pool *pool, const struct dot_kernels *k, const char *w,
                     const char *xq, int64_t n_in, int64_t n_out, int64_t n_tok, float *y,
                     loco_matmul_then_fn then, void *then_arg)
{
    const int64_t rows = chunk_rows(k->wrow, n_out, n_tok, loco_pool_n_threads(pool));
    struct dot_job j = {k, w, xq, n_in, n_out, n_tok, y, then, then_arg};
    loco_pool_for(pool, n_out, rows, dot_chunk, &j);
}

static void f32act_sgemm(struct loco_pool *pool, const struct loco_type_traits *tw, const char *w,
                         size_t wrow, int64_t n_in, int64_t n_out, const float *x, int64_t n_tok,
                         float *y, float *buf);

static void widen_tokens(void *arg, int64_t t0, int64_t t1, int32_t thread)
{
    const struct mm_job *j = arg;
    for (int64_t t = t0; t < t1; t++)
        j->ta->to_float((const char *)j->x + (size_t)t * j->arow, (float *)j->out + t * j->n_in,
                        j->n_in);
}

/* Many tokens: round the activations through the partner type exactly as
 * the dot path does, widen them back to f32, dequantize 64 weight rows at a
 * time and let sgemm do the products. For F16/BF16 the products of two
 * halves are exact in f32; for the quantized types the integer-domain sums
 * become f32 sums, a difference at the level of f32 rounding. Either way
 * only the summation order changes, and compute-bound prefill gets sgemm's
 * speed. */
static int matmul_dequant_sgemm(struct loco_pool *pool, const void *w, enum loco_type wt,
                                int64_t n_in, int64_t n_out, const float *x, int64_t n_tok,
                                float *y)
{
    const struct loco_type_traits *tw = loco_type_traits(wt);
    const struct loco_type_traits *ta = loco_type_traits(tw->vec_dot_type);
    const size_t arow = loco_type_row_size(tw->vec_dot_type, n_in);
    const int nt = loco_pool_n_threads(pool);
    char *xq = quantize_activations(pool, ta, x, n_in, n_tok, arow);
    float *xr = malloc((size_t)(n_in * n_tok) * sizeof(float));
    float *buf = malloc((size_t)nt * SGEMM_ROWS * (size_t)n_in * sizeof(float));
    if (!xq || !xr || !buf) {
        free(xq);
        free(xr);
        free(buf);
        return loco_error_set(LOCO_ERR_NOMEM, "matmul: no memory for %lld x %lld activations",
                              (long long)n_tok, (long long)n_in);
    }
    struct mm_job j = {.ta = ta, .x = xq, .out = xr, .arow = arow, .n_in = n_in, .n_tok = n_tok};
    loco_pool_for(pool, n_tok, token_chunk(n_tok, pool), widen_tokens, &j);
    f32act_sgemm(pool, tw, w, loco_type_row_size(wt, n_in), n_in, n_out, xr, n_tok, y, buf);
    free(xq);
    free(xr);
    free(buf);
    return LOCO_OK;
}

/* The epilogue over all rows after a product that has none of its own */
struct then_job {
    loco_matmul_then_fn then;
    void *arg;
};

static void then_columns(void *arg, int64_t o0, int64_t o1, int32_t thread)
{
    const struct then_job *j = arg;
    j->then(j->arg, o0, o1);
    (void)thread;
}

#define THEN_ROWS 128 /* output rows per epilogue work item after an sgemm product */

static int matmul_pool_then(struct loco_pool *pool, const void *w, enum loco_type wt, int64_t n_in,
                            int64_t n_out, const float *x, int64_t n_tok, float *y,
                            loco_matmul_then_fn then, void *then_arg);

int loco_matmul_pool(struct loco_pool *pool, const void *w, enum loco_type wt, int64_t n_in,
                     int64_t n_out, const float *x, int64_t n_tok, float *y)
{
    return matmul_pool_then(pool, w, wt, n_in, n_out, x, n_tok, y, NULL, NULL);
}

int loco_matmul_pool_then(struct loco_pool *pool, const void *w, enum loco_type wt, int64_t n_in,
                          int64_t n_out, const float *x, int64_t n_tok, float *y,
                          loco_matmul_then_fn then, void *then_arg)
{
    if (!then)
        return loco_error_set(LOCO_ERR_INVALID, "matmul: an epilogue call needs its function");
    return matmul_pool_then(pool, w, wt, n_in, n_out, x, n_tok, y, then, then_arg);
}

static int matmul_pool_then(struct loco_pool *pool, const void *w, enum loco_type wt, int64_t n_in,
                            int64_t n_out, const float *x, int64_t n_tok, float *y,
                            loco_matmul_then_fn then, void *then_arg)
{
    int rc = check_args(w, wt, n_in, n_out, x, n_tok, y);
    if (rc != LOCO_OK)
        return rc;
    const struct loco_type_traits *tw = loco_type_traits(wt);
    const struct loco_type_traits *ta = loco_type_traits(tw->vec_dot_type);
    if (!tw->vec_dot || !ta->from_float)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "matmul: no dot-product kernel for %s weights",
                              tw->name);
    if (n_out == 0 || n_tok == 0)
        return LOCO_OK;
    if (n_tok >= SGEMM_MIN_TOKENS && sgemm_fits(n_in, n_out, n_tok)) {
        bool f32 = wt == LOCO_TYPE_F32;
        if (f32 || wt == LOCO_TYPE_F16 || wt == LOCO_TYPE_BF16 ||
            n_tok >= QUANT_SGEMM_MIN_TOKENS) {
            if (f32)
                matmul_sgemm_f32(pool, w, n_in, n_out, x, n_tok, y);
            else
                rc = matmul_dequant_sgemm(pool, w, wt, n_in, n_out, x, n_tok, y);
            if (rc == LOCO_OK && then) {
                struct then_job tj = {then, then_arg};
                loco_pool_for(pool, n_out, THEN_ROWS, then_columns, &tj);
            }
            return rc;
        }
    }
    const size_t wrow = loco_type_row_size(wt, n_in);
    const size_t arow = loco_type_row_size(tw->vec_dot_type, n_in);
    void *xq = NULL;
    if (tw->vec_dot_type != LOCO_TYPE_F32) {
        xq = quantize_activations(pool, ta, x, n_in, n_tok, arow);
        if (!xq)
            return loco_error_set(LOCO_ERR_NOMEM, "matmul: no memory for %lld quantized rows",
                                  (long long)n_tok);
    }
    const struct dot_kernels k = {tw->vec_dot, lq_vec_dot_multi(wt), wrow, arow};
    dot_rows(pool, &k, w, xq ? xq : (const void *)x, n_in, n_out, n_tok, y, then, then_arg);
    free(xq);
    return LOCO_OK;
}

/* The n_threads forms run on a pool kept per calling thread (started on
 * first use, restarted when n_threads changes, stopped when the thread
 * exits), so repeated calls do not start threads each time. *pool is NULL
 * for a single thread, and on failure (the message is set). */
static pthread_key_t call_pool_key;
static pthread_once_t call_pool_once = PTHREAD_ONCE_INIT;

static void call_pool_free(void *pool)
{
    loco_pool_free(pool);
}

static void call_pool_key_init(void)
{
    pthread_key_create(&call_pool_key, call_pool_free);
}

static int call_pool(int n_threads, struct loco_pool **pool)
{
    *pool = NULL;
    if (n_threads <= 1)
        return LOCO_OK;
    if (n_threads > LOCO_POOL_MAX_THREADS)
        n_threads = LOCO_POOL_MAX_THREADS;
    pthread_once(&call_pool_once, call_pool_key_init);
    struct loco_pool *p = pthread_getspecific(call_pool_key);
    if (!p || loco_pool_n_threads(p) != n_threads) {
        loco_pool_free(p);
        p = loco_pool_init(n_threads);
        pthread_setspecific(call_pool_key, p);
    }
    *pool = p;
    return p ? LOCO_OK : LOCO_ERR_NOMEM;
}

int loco_matmul(const void *w, enum loco_type wt, int64_t n_in, int64_t n_out, const float *x,
                int64_t n_tok, float *y, int n_threads)
{
    struct loco_pool *pool;
    int rc = call_pool(n_threads, &pool);
    if (rc == LOCO_OK)
        rc = loco_matmul_pool(pool, w, wt, n_in, n_out, x, n_tok, y);
    return rc;
}

/* ---- f32 activations ---------------------------------------------------- */

/* Rows [o0, o1) dequantized into this thread's part of buf (j->buf_rows
 * rows of n_in floats); returns that part. */
static float *dequant_rows(const struct mm_job *j, int64_t o0, int64_t o1, int32_t thread)
{
    float *rows_f32 = j->buf + (size_t)thread * j->buf_rows * (size_t)j->n_in;
    for (int64_t r = 0; r < o1 - o0; r++)
        j->tw->to_float(j->w + (size_t)(o0 + r) * j->wrow, rows_f32 + r * j->n_in, j->n_in);
    return rows_f32;
}

static void f32act_sgemm_rows(void *arg, int64_t o0, int64_t o1, int32_t thread)
{
    const struct mm_job *j = arg;
    float *rows_f32 = dequant_rows(j, o0, o1, thread);
    sgemm_chunk(rows_f32, o1 - o0, j->n_in, j->x, j->n_tok, (float *)j->out + o0, j->n_out);
}

/* T >= 8: dequantize 64 rows at a time into a per-thread buffer, then one
 * sgemm for all tokens against them. */
static void f32act_sgemm(struct loco_pool *pool, const struct loco_type_traits *tw, const char *w,
                         size_t wrow, int64_t n_in, int64_t n_out, const float *x, int64_t n_tok,
                         float *y, float *buf)
{
    pthread_once(&blas_once, blas_single_thread);
    struct mm_job j = {.tw = tw,
                       .w = w,
                       .x = x,
                       .out = y,
                       .buf = buf,
                       .wrow = wrow,
                       .buf_rows = SGEMM_ROWS,
                       .n_in = n_in,
                       .n_out = n_out,
                       .n_tok = n_tok};
    loco_pool_for(pool, n_out, SGEMM_ROWS, f32act_sgemm_rows, &j);
}

static void f32act_dot_rows(void *arg, int64_t o0, int64_t o1, int32_t thread)
{
    const struct mm_job *j = arg;
    const loco_vec_dot_fn dot = loco_type_traits(LOCO_TYPE_F32)->vec_dot;
    const float *x = j->x;
    float *y = j->out, *rows_f32 = dequant_rows(j, o0, o1, thread);
    for (int64_t t = 0; t < j->n_tok; t++)
        for (int64_t r = 0; r < o1 - o0; r++)
            dot(j->n_in, &y[t * j->n_out + o0 + r], rows_f32 + r * j->n_in, x + t * j->n_in);
}

/* T < 8: dequantize F32ACT_ROWS rows at a time, f32 dot with each token. */
static void f32act_dots(struct loco_pool *pool, const struct loco_type_traits *tw, const char *w,
                        size_t wrow, int64_t n_in, int64_t n_out, const float *x, int64_t n_tok,
                        float *y, float *buf)
{
    struct mm_job j = {.tw = tw,
                       .w = w,
                       .x = x,
                       .out = y,
                       .buf = buf,
                       .wrow = wrow,
                       .buf_rows = F32ACT_ROWS,
                       .n_in = n_in,
                       .n_out = n_out,
                       .n_tok = n_tok};
    loco_pool_for(pool, n_out, F32ACT_ROWS, f32act_dot_rows, &j);
}

int loco_matmul_f32act_pool(struct loco_pool *pool, const void *w, enum loco_type wt, int64_t n_in,
                            int64_t n_out, const float *x, int64_t n_tok, float *y)
{
    int rc = check_args(w, wt, n_in, n_out, x, n_tok, y);
    if (rc != LOCO_OK)
        return rc;
    const struct loco_type_traits *tw = loco_type_traits(wt);
    if (!tw->to_float)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "matmul: cannot dequantize %s weights",
                              tw->name);
    const int nt = loco_pool_n_threads(pool);
    if (n_out == 0 || n_tok == 0)
        return LOCO_OK;
    const bool big = n_tok >= SGEMM_MIN_TOKENS && sgemm_fits(n_in, n_out, n_tok);
    if (wt == LOCO_TYPE_F32 && big) {
        matmul_sgemm_f32(pool, w, n_in, n_out, x, n_tok, y);
        return LOCO_OK;
    }
    const size_t rows = big ? SGEMM_ROWS : F32ACT_ROWS;
    float *buf = malloc((size_t)nt * rows * (size_t)n_in * sizeof(float));
    if (!buf)
        return loco_error_set(LOCO_ERR_NOMEM, "matmul: no memory for %d x %zu dequantized rows", nt,
                              rows);
    const size_t wrow = loco_type_row_size(wt, n_in);
    if (big)
        f32act_sgemm(pool, tw, w, wrow, n_in, n_out, x, n_tok, y, buf);
    else
        f32act_dots(pool, tw, w, wrow, n_in, n_out, x, n_tok, y, buf);
    free(buf);
    return LOCO_OK;
}

int loco_matmul_f32act(const void *w, enum loco_type wt, int64_t n_in, int64_t n_out,
                       const float *x, int64_t n_tok, float *y, int n_threads)
{
    struct loco_pool *pool;
    int rc = call_pool(n_threads, &pool);
    if (rc == LOCO_OK)
        rc = loco_matmul_f32act_pool(pool, w, wt, n_in, n_out, x, n_tok, y);
    return rc;
}

/* ---- one row ------------------------------------------------------------ */

int loco_get_row(const void *w, enum loco_type wt, int64_t n_in, int64_t row, float *dst)
{
    const struct loco_type_traits *t = loco_type_traits(wt);
    if (!w || !dst || n_in <= 0 || row < 0)
        return loco_error_set(LOCO_ERR_INVALID, "get_row: bad arguments (n_in=%lld row=%lld)",
                              (long long)n_in, (long long)row);
    if (!t->to_float)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "get_row: cannot dequantize %s", t->name);
    if (n_in % t->block_size != 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "get_row: row length %lld is not a multiple of %s's block size %lld",
                              (long long)n_in, t->name, (long long)t->block_size);
    const size_t wrow = loco_type_row_size(wt, n_in);
    t->to_float((const char *)w + (size_t)row * wrow, dst, n_in);
    return LOCO_OK;
}
