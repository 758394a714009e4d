/*
 * direction.c - the input direction an adapter's update stretches most:
 * the top right singular vector of B A for one projection, by power
 * iteration on (B A)^T (B A) = A^T (B^T B) A without forming the n_in x n_in
 * matrix (r is small). Zero-shot routing (Arrow, Ostapenko et al. 2024)
 * scores a query's hidden states against these directions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loco/quant.h"
#include "lora/lora_internal.h"

#define POWER_STEPS 100

int loco_adapter_direction(const struct loco_adapter *a, int il, enum loco_lora_target t,
                           float *v, float *sigma)
{
    if (!a || il < 0 || il >= a->n_layer || (int)t < 0 || t >= LOCO_LORA_N_TARGETS)
        return loco_error_set(LOCO_ERR_INVALID, "adapter direction: layer %d, target %d", il,
                              (int)t);
    const struct lora_pair *p = lora_pair_at(a, il, t);
    if (!p->a.data)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "the adapter leaves layer %d's %s alone", il,
                              loco_lora_target_name(t));
    int64_t n_in = p->a.n_in, r = p->a.n_out, n_out = p->b.n_out;
    float *A = malloc((size_t)(r * n_in) * sizeof *A), *Brow = malloc((size_t)r * sizeof *Brow);
    double *G = calloc((size_t)(r * r), sizeof *G), *y = malloc((size_t)r * sizeof *y);
    double *z = malloc((size_t)r * sizeof *z), *x = malloc((size_t)n_in * sizeof *x);
    int rc = A && Brow && G && y && z && x ? LOCO_OK
                                           : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < r && !rc; k++)
        rc = loco_get_row(p->a.data, p->a.type, n_in, k, A + k * n_in);
    for (int64_t o = 0; o < n_out && !rc; o++) { /* G = B^T B, B row o holds r values */
        rc = loco_get_row(p->b.data, p->b.type, r, o, Brow);
        for (int64_t i = 0; i < r && !rc; i++)
            for (int64_t j = 0; j < r; j++)
                G[i * r + j] += (double)Brow[i] * Brow[j];
    }
    double lambda = 0;
    for (int64_t j = 0; j < n_in && !rc; j++) /* a fixed start with every component */
        x[j] = 1.0 + 0.01 * (double)(j % 7);
    for (int step = 0; step < POWER_STEPS && !rc; step++) {
        for (int64_t k = 0; k < r; k++) {
            double s = 0;
            for (int64_t j = 0; j < n_in; j++)
                s += A[k * n_in + j] * x[j];
            y[k] = s;
        }
        for (int64_t i = 0; i < r; i++) {
            double s = 0;
            for (int64_t j = 0; j < r; j++)
                s += G[i * r + j] * y[j];
            z[i] = s;
        }
        double norm = 0;
        for (int64_t j = 0; j < n_in; j++) {
            double s = 0;
            for (int64_t k = 0; k < r; k++)
                s += A[k * n_in + j] * z[k];
            x[j] = s;
            norm += s * s;
        }
        norm = sqrt(norm); /* |M x| with |x| = 1 after the first step: lambda */
        if (norm == 0) {
            rc = loco_error_set(LOCO_ERR_INVALID, "layer %d's %s update is zero", il,
                                loco_lora_target_name(t));
            break;
        }
        lambda = norm;
        for (int64_t j = 0; j < n_in; j++)
            x[j] /= norm;
    }
    if (!rc) {
        for (int64_t j = 0; j < n_in; j++)
            v[j] = (float)x[j];
        if (sigma)
            *sigma = (float)(sqrt(lambda) * p->factor);
    }
    free(A);
    free(Brow);
    free(G);
    free(y);
    free(z);
    free(x);
    return rc;
}
