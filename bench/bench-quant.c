/*
 * bench-quant.c - throughput of the quant kernels.
 *
 *   vec_dot   one activation row against many weight rows of 4096 elements
 *             (about 256 KiB of weights, so it measures the kernel, not DRAM):
 *             GB/s of weight bytes and GFLOP/s (2 per element), scalar
 *             reference vs the selected kernels, and their ratio.
 *   matmul    loco_matmul on a SmolLM2-sized 1536 x 576 matrix (n_in 1536 so
 *             that the K-quants fit; 884,736 weights, the ffn_down shape) at
 *             n_tok 1 (decode: weight-bandwidth bound) and 512 (prefill:
 *             compute bound) with 1 and 2 threads.
 *   batch     the small-batch path on the same matrix, 1 thread, n_tok 1, 2,
 *             4, 8: the old per-token loop (vec_dot once per weight row and
 *             token) against the multi-token kernels (each weight block
 *             unpacked once per group of up to LQ_MULTI_MAX tokens), both
 *             over pre-quantized activations with matmul's chunking, timed
 *             alternately in the same run; then loco_matmul with n_tok
 *             tokens in one call against n_tok calls of one token.
 *
 * Every figure is the best of many short trials (the machine may be shared).
 *
 * Usage: bench-quant [quick]   ("quick" shortens every measurement)
 */
#include "loco/quant.h"

#include "../src/quant/quant-impl.h" /* the multi-token kernels (private) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double min_seconds = 0.3;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 12345;

static float rng_gauss_ish(void)
{
    /* sum of 4 uniforms: cheap, bell-shaped, deterministic */
    float s = 0.0f;
    for (int k = 0; k < 4; k++) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        s += (float)(rng_state >> 40) * 0x1p-24f - 0.5f;
    }
    return s;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "bench-quant: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* n_rows rows of n floats quantized to t (reference quantizer). */
static void *make_rows(enum loco_type t, int64_t n, int64_t n_rows)
{
    const size_t rs = loco_type_row_size(t, n);
    float *f = xmalloc((size_t)n * sizeof(float));
    char *w = xmalloc(rs * (size_t)n_rows);
    for (int64_t r = 0; r < n_rows; r++) {
        for (int64_t i = 0; i < n; i++)
            f[i] = rng_gauss_ish();
        loco_type_traits_ref(t)->from_float(f, w + (size_t)r * rs, n);
    }
    free(f);
    return w;
}

/* Best (shortest) of many short trials: the machine may be shared, and the
 * fastest trial is the one nobody interrupted. */
struct trial {
    void (*run)(const struct trial *);
    loco_vec_dot_fn dot;
    const char *w;
    size_t rs;
    int64_t n, n_rows;
    const void *y;
    size_t arow;
    lq_vec_dot_multi_fn multi;
    enum loco_type t;
    const float *x;
    float *out;
    int64_t n_tok;
    int n_threads;
};

static double best_time(const struct trial *tr)
{
    double best = 1e30, start = now();
    tr->run(tr); /* warm-up */
    do {
        double t0 = now();
        tr->run(tr);
        double t = now() - t0;
        best = t < best ? t : best;
    } while (now() - start < min_seconds);
    return best;
}

static volatile float sink;

static void run_dots(const struct trial *tr)
{
    for (int64_t r = 0; r < tr->n_rows; r++) {
        float s;
        tr->dot(tr->n, &s, tr->w + (size_t)r * tr->rs, tr->y);
        sink += s;
    }
}

static void run_matmul(const struct trial *tr)
{
    if (loco_matmul(tr->w, tr->t, tr->n, tr->n_rows, tr->x, tr->n_tok, tr->out, tr->n_threads)) {
        fprintf(stderr, "bench-quant: matmul failed for %s\n", loco_type_name(tr->t));
        exit(1);
    }
}

/* Best of each of two runs, alternating short trials so that both see
 * the same machine load. */
static void best_time_pair(const struct trial *a, const struct trial *b, double *ta, double *tb)
{
    double start = now();
    *ta = *tb = 1e30;
    a->run(a);
    b->run(b);
    do {
        for (int k = 0; k < 2; k++) {
            const struct trial *tr = k ? b : a;
            double t0 = now();
            tr->run(tr);
            double t = now() - t0;
            double *best = k ? tb : ta;
            *best = t < *best ? t : *best;
        }
    } while (now() - start < 2 * min_seconds);
}

/* matmul's small-batch loop on one thread: rows in chunks of about 32 KiB of
 * weights, tokens outer; tr->multi NULL: one vec_dot per row and token. */
static void run_batch(const struct trial *tr)
{
    const int64_t chunk = (int64_t)(32768 / tr->rs) > 0 ? (int64_t)(32768 / tr->rs) : 1;
    const char *y = tr->y;
    for (int64_t o0 = 0; o0 < tr->n_rows; o0 += chunk) {
        const int64_t o1 = o0 + chunk < tr->n_rows ? o0 + chunk : tr->n_rows;
        for (int64_t t = 0; t < tr->n_tok;) {
            int g = tr->multi ? LQ_MULTI_MAX : 1;
            g = tr->n_tok - t < g ? (int)(tr->n_tok - t) : g;
            for (int64_t o = o0; o < o1; o++) {
                const char *w = tr->w + (size_t)o * tr->rs;
                if (g == 1)
                    tr->dot(tr->n, &tr->out[t * tr->n_rows + o], w, y + (size_t)t * tr->arow);
                else
                    tr->multi(tr->n, &tr->out[t * tr->n_rows + o], (size_t)tr->n_rows, w,
                              y + (size_t)t * tr->arow, tr->arow, g);
            }
            t += g;
        }
    }
}

/* n_tok single-token loco_matmul calls, one after another. */
static void run_matmul_singles(const struct trial *tr)
{
    for (int64_t t = 0; t < tr->n_tok; t++)
        if (loco_matmul(tr->w, tr->t, tr->n, tr->n_rows, tr->x + t * tr->n, 1,
                        tr->out + t * tr->n_rows, tr->n_threads)) {
            fprintf(stderr, "bench-quant: matmul failed for %s\n", loco_type_name(tr->t));
            exit(1);
        }
}

static void bench_batch(enum loco_type t)
{
    const int64_t n_in = 1536, n_out = 576, toks[4] = {1, 2, 4, 8};
    const enum loco_type vt = loco_type_traits(t)->vec_dot_type;
    const size_t rs = loco_type_row_size(t, n_in), arow = loco_type_row_size(vt, n_in);
    char *w = make_rows(t, n_in, n_out);
    void *yq = make_rows(vt, n_in, 8);
    float *x = xmalloc((size_t)(n_in * 8) * sizeof(float));
    float *out = xmalloc((size_t)(n_out * 8) * sizeof(float));
    for (int64_t i = 0; i < n_in * 8; i++)
        x[i] = rng_gauss_ish();
    printf("%-5s", loco_type_name(t));
    for (int k = 0; k < 4; k++) {
        struct trial old = {.run = run_batch,
                            .dot = loco_type_traits(t)->vec_dot,
                            .w = w,
                            .rs = rs,
                            .n = n_in,
                            .n_rows = n_out,
                            .y = yq,
                            .arow = arow,
                            .out = out,
                            .n_tok = toks[k]};
        struct trial new = old;
        new.multi = lq_vec_dot_multi(t);
        double t_old, t_new;
        best_time_pair(&old, &new, &t_old, &t_new);
        printf("  %6.0f %6.0f %4.2fx", (double)toks[k] / t_old, (double)toks[k] / t_new,
               t_old / t_new);
    }
    printf("   |");
    for (int k = 1; k < 4; k++) {
        struct trial one = {.run = run_matmul_singles,
                            .w = w,
                            .n = n_in,
                            .n_rows = n_out,
                            .t = t,
                            .x = x,
                            .out = out,
                            .n_tok = toks[k],
                            .n_threads = 1};
        struct trial batch = one;
        batch.run = run_matmul;
        double t_one, t_batch;
        best_time_pair(&one, &batch, &t_one, &t_batch);
        printf("  %4.2fx", t_one / t_batch);
    }
    printf("\n");
    free(w);
    free(yq);
    free(x);
    free(out);
}

static void bench_vec_dot(enum loco_type t)
{
    const int64_t n = 4096;
    const enum loco_type vt = loco_type_traits(t)->vec_dot_type;
    const size_t rs = loco_type_row_size(t, n);
    const int64_t n_rows = (int64_t)(256 * 1024 / rs) + 1;
    char *w = make_rows(t, n, n_rows);
    void *y = make_rows(vt, n, 1);
    struct trial tr = {.run = run_dots, .w = w, .rs = rs, .n = n, .n_rows = n_rows, .y = y};
    tr.dot = loco_type_traits_ref(t)->vec_dot;
    double ts = best_time(&tr);
    tr.dot = loco_type_traits(t)->vec_dot;
    double tf = best_time(&tr);
    double bytes = (double)rs * (double)n_rows, flops = 2.0 * (double)n * (double)n_rows;
    printf("%-5s %8.2f %8.2f   %8.2f %8.2f   %6.1fx\n", loco_type_name(t), bytes / ts / 1e9,
           flops / ts / 1e9, bytes / tf / 1e9, flops / tf / 1e9, ts / tf);
    free(w);
    free(y);
}

static void bench_matmul(enum loco_type t)
{
    const int64_t n_in = 1536, n_out = 576, toks[2] = {1, 512};
    const size_t wbytes = loco_type_row_size(t, n_in) * (size_t)n_out;
    char *w = make_rows(t, n_in, n_out);
    float *x = xmalloc((size_t)(n_in * 512) * sizeof(float));
    float *y = xmalloc((size_t)(n_out * 512) * sizeof(float));
    for (int64_t i = 0; i < n_in * 512; i++)
        x[i] = rng_gauss_ish();
    printf("%-5s %7.2f MB", loco_type_name(t), (double)wbytes / 1e6);
    for (int k = 0; k < 2; k++) {
        for (int nt = 1; nt <= 2; nt++) {
            struct trial tr = {.run = run_matmul,
                               .w = w,
                               .n = n_in,
                               .n_rows = n_out,
                               .t = t,
                               .x = x,
                               .out = y,
                               .n_tok = toks[k],
                               .n_threads = nt};
            double per = best_time(&tr);
            double gflops = 2.0 * (double)(n_in * n_out * toks[k]) / per / 1e9;
            if (toks[k] == 1)
                printf("  %7.1f us %6.2f GB/s", per * 1e6, (double)wbytes / per / 1e9);
            else
                printf("  %7.2f ms %6.1f GF/s", per * 1e3, gflops);
        }
    }
    printf("\n");
    free(w);
    free(x);
    free(y);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "quick") == 0)
        min_seconds = 0.05;
    static const enum loco_type types[] = {
        LOCO_TYPE_F32,  LOCO_TYPE_F16,  LOCO_TYPE_BF16, LOCO_TYPE_Q8_0,
        LOCO_TYPE_Q4_0, LOCO_TYPE_Q4_1, LOCO_TYPE_Q5_0, LOCO_TYPE_Q5_1,
        LOCO_TYPE_Q4_K, LOCO_TYPE_Q5_K, LOCO_TYPE_Q6_K,
    };
    const size_t n_types = sizeof types / sizeof types[0];
    printf("kernel set: %s\n\n", loco_quant_kernel_set());
    printf("vec_dot, n = 4096, ~256 KiB of weight rows (L2-resident)\n");
    printf("type  --- scalar ref ---   --- %-6s ----   speed-up\n", loco_quant_kernel_set());
    printf("         GB/s  GFLOP/s       GB/s  GFLOP/s\n");
    for (size_t i = 0; i < n_types; i++)
        bench_vec_dot(types[i]);
    printf("\nloco_matmul, n_in 1536 x n_out 576 (%s kernels)\n", loco_quant_kernel_set());
    printf("type  weights   n_tok=1, 1 thread     n_tok=1, 2 threads    "
           "n_tok=512, 1 thr     n_tok=512, 2 thr\n");
    for (size_t i = 0; i < n_types; i++)
        bench_matmul(types[i]);
    printf("\nsmall batches, n_in 1536 x n_out 576, 1 thread (%s kernels): matrix-vector\n"
           "products per second, per-token vec_dot loop (old) vs multi-token kernel (new)\n",
           loco_quant_kernel_set());
    printf("type  ----- n_tok=1 -----  ----- n_tok=2 -----  ----- n_tok=4 -----  "
           "----- n_tok=8 -----  |  loco_matmul batch vs singles\n");
    printf("         old    new           old    new           old    new           old    new"
           "        |   n=2    n=4    n=8\n");
    for (size_t i = 0; i < n_types; i++)
        if (lq_vec_dot_multi(types[i]))
            bench_batch(types[i]);
    return 0;
}
