/*
 * stream.c - STREAM-style memory bandwidth probe (see loco/bench.h).
 *
 * It lives in the quant module because the kernels here are what that
 * bandwidth limits: a matmul over n_tok = 1 streams every weight byte once,
 * so bandwidth / weight bytes bounds tokens per second.
 *
 * Each thread first touches the part of the arrays it will later stream
 * (same static schedule), so pages land near the thread that uses them.
 */
#include "loco/bench.h"

#include "loco/core.h"

#include <omp.h>
#include <stdlib.h>

static volatile double stream_sink; /* keeps the compiler from dropping the triad */

static double triad_once(double *a, const double *b, const double *c, size_t n, int nt)
{
    const double s = 3.0;
    double t0 = omp_get_wtime();
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
    return omp_get_wtime() - t0;
}

double loco_bench_stream_triad_gbs(size_t bytes_per_array, int n_threads, int reps)
{
    const size_t n = bytes_per_array / sizeof(double);
    if (n == 0 || n_threads < 1 || reps < 1)
        return loco_error_set(LOCO_ERR_INVALID,
                              "stream: need bytes_per_array >= 8, n_threads >= 1, reps >= 1");
    const size_t bytes = (n * sizeof(double) + 63) / 64 * 64;
    double *a = aligned_alloc(64, bytes), *b = aligned_alloc(64, bytes);
    double *c = aligned_alloc(64, bytes);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return loco_error_set(LOCO_ERR_NOMEM, "stream: cannot allocate 3 x %zu bytes", bytes);
    }
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (size_t i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = triad_once(a, b, c, n, n_threads);
        best = t < best ? t : best;
    }
    stream_sink = a[0] + a[n / 2] + a[n - 1];
    free(a);
    free(b);
    free(c);
    return 3.0 * (double)(n * sizeof(double)) / best / 1e9;
}
