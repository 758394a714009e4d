/*
 * optim.c - the optimizer and everything a step's numbers come from:
 * AdamW, the learning-rate schedule and gradient clipping. The PRNG that
 * seeds shuffles and dropout masks (loco_rng_next, loco_rng_mix, declared in
 * loco/trainrun.h) is core/rng.c's.
 *
 * Legend: P number of trainable parameters.
 */
#include <math.h>

#include "loco/trainrun.h"

void loco_adamw_update(float *p, const float *g, float *m, float *v, size_t n, double lr,
                       const struct loco_adamw_params *h, int64_t t)
{
    /* bias corrections 1 - beta^t, once per step */
    const float b1 = (float)h->beta1, b2 = (float)h->beta2;
    const float c1 = (float)(1.0 - pow(h->beta1, (double)t));
    const float c2 = (float)(1.0 - pow(h->beta2, (double)t));
    const float flr = (float)lr, decay = (float)(lr * h->weight_decay), eps = (float)h->eps;
    for (size_t i = 0; i < n; i++) { /* p, g, m, v: [P] */
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        float mhat = m[i] / c1, vhat = v[i] / c2;
        p[i] -= decay * p[i] + flr * mhat / (sqrtf(vhat) + eps);
    }
}

double loco_lr_at(int64_t s, int64_t total, int32_t warmup, double lr, double min_lr)
{
    if (s < warmup)
        return lr * (double)(s + 1) / (double)warmup;
    int64_t span = total - warmup;
    double progress = span > 0 ? (double)(s - warmup) / (double)span : 0.0;
    if (progress > 1)
        progress = 1;
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + cos(M_PI * progress));
}

double loco_grad_clip(float *g, size_t n, double max_norm)
{
    double sum = 0; /* in double: P can be millions of small squares */
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * (double)g[i];
    double norm = sqrt(sum);
    if (max_norm > 0 && norm > max_norm) {
        float scale = (float)(max_norm / norm);
        for (size_t i = 0; i < n; i++)
            g[i] *= scale;
    }
    return norm;
}
