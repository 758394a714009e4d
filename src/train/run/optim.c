/*
 * optim.c - the optimizer and everything a step's numbers come from:
 * AdamW, the learning-rate schedule, gradient clipping and the PRNG that
 * seeds shuffles and dropout masks.
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

uint64_t loco_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t loco_rng_mix(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t s = a;
    uint64_t x = loco_rng_next(&s);
    s = x ^ b;
    x = loco_rng_next(&s);
    s = x ^ c;
    return loco_rng_next(&s);
}
