/*
 * sample.c - the sampling chain (see loco/sample.h).
 *
 * Candidates live in one array allocated with the sampler; each step
 * shrinks `n` in place, so sampling a token allocates nothing.
 *
 * Logits from a broken model or adapter may be NaN or infinite. Every mode
 * first makes them comparable (sanitize): NaN counts as -inf, and when some
 * logits are +inf those tokens share all the probability. Without that, a
 * NaN breaks the sort's ordering and the partition runs off the array.
 */
#include "loco/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"

struct cand {
    int32_t id;
    float logit;
    float p;
};

struct loco_sampler {
    struct loco_sampler_params p;
    int32_t n_vocab;
    struct cand *cand; /* [n_vocab] */
    int32_t *history;  /* ring of the last repeat_last_n tokens */
    int32_t hist_len, hist_pos;
    struct loco_xoshiro rng;
};

struct loco_sampler_params loco_sampler_default_params(void)
{
    struct loco_sampler_params p = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .seed = LOCO_SEED_RANDOM,
    };
    return p;
}

/* ---- random numbers: xoshiro256** seeded by splitmix64 (core/rng.h) ---- */

static void seed_rng(struct loco_sampler *s, uint64_t seed)
{
    if (seed == LOCO_SEED_RANDOM) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
    }
    loco_xoshiro_seed(&s->rng, seed);
}

/* ---- lifecycle --------------------------------------------------------- */

struct loco_sampler *loco_sampler_init(struct loco_sampler_params p, int32_t n_vocab)
{
    if (!isfinite(p.temperature) || !isfinite(p.top_p) || !isfinite(p.min_p) ||
        !isfinite(p.repeat_penalty) || !(p.repeat_penalty > 0.0f)) {
        loco_error_set(LOCO_ERR_INVALID, "sampler: temperature %g, top_p %g, min_p %g and "
                       "repeat_penalty %g must be finite (and the penalty above 0)",
                       (double)p.temperature, (double)p.top_p, (double)p.min_p,
                       (double)p.repeat_penalty);
        return NULL;
    }
    if (n_vocab <= 0 || p.repeat_last_n < 0 || p.n_allowed < 0 || (p.n_allowed && !p.allowed)) {
        loco_error_set(LOCO_ERR_INVALID, "sampler: n_vocab %d, repeat_last_n %d, %d allowed "
                       "tokens%s", n_vocab, p.repeat_last_n, p.n_allowed,
                       p.n_allowed && !p.allowed ? " but no list" : "");
        return NULL;
    }
    struct loco_sampler *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->p = p;
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->history = malloc(((size_t)p.repeat_last_n + 1) * sizeof *s->history);
    if (!s->cand || !s->history)
        goto oom;
    seed_rng(s, p.seed);
    return s;
oom:
    loco_sampler_free(s);
    loco_error_set(LOCO_ERR_NOMEM, "out of memory for a sampler");
    return NULL;
}

void loco_sampler_free(struct loco_sampler *s)
{
    if (!s)
        return;
    free(s->cand);
    free(s->history);
    free(s);
}

void loco_sampler_reset(struct loco_sampler *s)
{
    s->hist_len = 0;
    s->hist_pos = 0;
}

void loco_sampler_accept(struct loco_sampler *s, int32_t token)
{
    if (s->p.repeat_last_n == 0)
        return;
    s->history[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % s->p.repeat_last_n;
    if (s->hist_len < s->p.repeat_last_n)
        s->hist_len++;
}

/* ---- helpers ------------------------------------------------------------ */

int32_t loco_argmax(const float *logits, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[best] || (isnan(logits[best]) && !isnan(logits[i])))
            best = i;
    return best;
}

float loco_logprob(const float *logits, int32_t n, int32_t id)
{
    float max = logits[loco_argmax(logits, n)];
    if (isnan(logits[id]) || isnan(max) || max == -INFINITY)
        return -INFINITY; /* NaN is -inf; so is everything when nothing is usable */
    if (max == INFINITY) { /* the +inf tokens share the probability */
        int32_t n_inf = 0;
        for (int32_t i = 0; i < n; i++)
            n_inf += logits[i] == INFINITY;
        return logits[id] == INFINITY ? (float)-log((double)n_inf) : -INFINITY;
    }
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        if (!isnan(logits[i]))
            sum += exp((double)(logits[i] - max));
    return (float)((double)(logits[id] - max) - log(sum));
}

/* Make the first n candidates' logits comparable: NaN -> -inf, and when any
 * is +inf, those become 0 and all others -inf (they share the probability).
 * Returns false when no candidate is usable (all NaN or -inf). */
static bool sanitize(struct cand *c, int32_t n)
{
    bool any_inf = false, usable = false;
    for (int32_t i = 0; i < n; i++) {
        if (isnan(c[i].logit))
            c[i].logit = -INFINITY;
        any_inf |= c[i].logit == INFINITY;
        usable |= c[i].logit > -INFINITY;
    }
    for (int32_t i = 0; any_inf && i < n; i++)
        c[i].logit = c[i].logit == INFINITY ? 0.0f : -INFINITY;
    return usable;
}

static int no_usable_logit(int32_t n)
{
    return loco_error_set(LOCO_ERR_INVALID,
                          "sampler: none of the %d candidate logits is a number above -inf "
                          "(all NaN or -inf); the model or adapter produced unusable output",
                          n);
}

/* top-p with more than this many candidates sorts them in runs of this
 * size, then 4x, 16x, ... as needed (top_p_runs) */
#define TOP_P_RUN 64

static int by_logit_desc(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit < y->logit ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Move the k largest candidates to the front, in no order (quickselect). */
static void select_top(struct cand *c, int32_t n, int32_t k)
{
    if (k >= n)
        return;
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        struct cand pivot = c[(lo + hi) / 2];
        int32_t i = lo, j = hi;
        while (i <= j) {
            while (by_logit_desc(&c[i], &pivot) < 0)
                i++;
            while (by_logit_desc(&c[j], &pivot) > 0)
                j--;
            if (i <= j) {
                struct cand t = c[i];
                c[i++] = c[j];
                c[j--] = t;
            }
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
}

/* Move the k largest candidates to the front, sorted. */
static void partial_sort(struct cand *c, int32_t n, int32_t k)
{
    select_top(c, n, k);
    qsort(c, (size_t)k, sizeof *c, by_logit_desc);
}

/* p = softmax(logit / temp) over the first n candidates */
static void softmax(struct cand *c, int32_t n, float temp)
{
    float max = c[0].logit;
    for (int32_t i = 1; i < n; i++)
        max = c[i].logit > max ? c[i].logit : max;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - max) / temp);
        sum += c[i].p;
    }
    for (int32_t i = 0; i < n; i++)
        c[i].p = (float)(c[i].p / sum);
}

static void apply_penalty(struct loco_sampler *s)
{
    float pen = s->p.repeat_penalty;
    if (pen == 1.0f)
        return;
    for (int32_t h = 0; h < s->hist_len; h++) {
        int32_t id = s->history[h];
        if (id < 0 || id >= s->n_vocab)
            continue;
        struct cand *c = &s->cand[id];
        if (c->p != 0.0f) /* penalize each distinct token once */
            continue;
        c->logit = c->logit <= 0.0f ? c->logit * pen : c->logit / pen;
        c->p = 1.0f;
    }
}

/* Top-k by sorting the k largest, then top-p over their softmax. */
static int32_t truncate_sorted(struct loco_sampler *s, int32_t n, int32_t k)
{
    partial_sort(s->cand, n, k);
    n = k;
    softmax(s->cand, n, 1.0f);
    if (s->p.top_p < 1.0f) {
        double cum = 0.0;
        for (int32_t i = 0; i < n; i++) {
            cum += s->cand[i].p;
            if (cum >= s->p.top_p) {
                n = i + 1;
                break;
            }
        }
    }
    return n;
}

/* Top-p over the k largest candidates without sorting all k (top-k off
 * leaves k at the whole vocabulary, and a sort of 49,152 candidates per
 * token costs as much as a fifth of a small model's decode step): the
 * softmax's normaliser over all k, then the candidates sorted only in
 * growing runs from the top until their probabilities reach top_p. The
 * runs join into the same order a full sort gives (by_logit_desc is a
 * total order), and each kept candidate gets softmax's probability; the
 * normaliser is summed in array order rather than sorted order, which can
 * move its last bits. Returns how many candidates top-p keeps. */
static int32_t top_p_runs(struct cand *c, int32_t n, int32_t k, float top_p)
{
    select_top(c, n, k);
    float max = c[0].logit;
    for (int32_t i = 1; i < k; i++)
        max = c[i].logit > max ? c[i].logit : max;
    double sum = 0.0;
    for (int32_t i = 0; i < k; i++)
        sum += expf(c[i].logit - max);
    double cum = 0.0;
    int32_t done = 0;
    for (int64_t run = TOP_P_RUN; done < k; run *= 4) {
        const int32_t m = run < k - done ? (int32_t)run : k - done;
        partial_sort(c + done, k - done, m);
        for (int32_t i = done; i < done + m; i++) {
            c[i].p = (float)(expf(c[i].logit - max) / sum);
            cum += c[i].p;
            if (cum >= top_p)
                return i + 1;
        }
        done += m;
    }
    return k;
}

/* top-k, top-p, min-p: shrink n */
static int32_t truncate(struct loco_sampler *s, int32_t n)
{
    int32_t k = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n;
    if (s->p.top_p < 1.0f && k > TOP_P_RUN)
        n = top_p_runs(s->cand, n, k, s->p.top_p);
    else
        n = truncate_sorted(s, n, k);
    if (s->p.min_p > 0.0f) {
        float floor_p = s->cand[0].p * s->p.min_p;
        int32_t keep = 1;
        while (keep < n && s->cand[keep].p >= floor_p)
            keep++;
        n = keep;
    }
    return n;
}

/* A draw from the softmax at `temp` of the first n (sanitized) candidates.
 * The rounded probabilities need not sum to 1, so r in [0, 1) is scaled to
 * their sum, added up in the loop's order: r * total < total, so the loop
 * always stops, and at a candidate whose probability is not 0 (a token
 * at -inf is never drawn, even when r lands past the rounded total). */
static int32_t draw(struct loco_sampler *s, int32_t n, float temp)
{
    softmax(s->cand, n, temp);
    double total = 0.0;
    for (int32_t i = 0; i < n; i++)
        total += s->cand[i].p;
    double r = loco_xoshiro_double(&s->rng) * total, cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += s->cand[i].p;
        if (r < cum)
            return s->cand[i].id;
    }
    return s->cand[0].id; /* not reached: cum ends at total */
}

/* The index of the best of the first n candidates, lowest on ties. */
static int32_t best_of(const struct cand *c, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (c[i].logit > c[best].logit)
            best = i;
    return best;
}

/* Only the allowed tokens (valid ids; others are ignored): greedy, or a
 * draw from their softmax at the temperature (no other truncation: the set
 * is already the choice). No valid id at all: greedy over the vocabulary. */
static int32_t sample_allowed(struct loco_sampler *s, const float *logits)
{
    int32_t n = 0;
    for (int32_t i = 0; i < s->p.n_allowed && n < s->n_vocab; i++) {
        int32_t id = s->p.allowed[i];
        if (id >= 0 && id < s->n_vocab)
            s->cand[n++] = (struct cand){.id = id, .logit = logits[id], .p = 0.0f};
    }
    if (n == 0) {
        int32_t id = loco_argmax(logits, s->n_vocab);
        return logits[id] > -INFINITY ? id : no_usable_logit(s->n_vocab);
    }
    if (!sanitize(s->cand, n))
        return no_usable_logit(n);
    if (s->p.temperature <= 0.0f)
        return s->cand[best_of(s->cand, n)].id;
    return draw(s, n, s->p.temperature);
}

/* The whole vocabulary: penalty, then greedy or top-k/p, min-p and a draw. */
static int32_t sample_all(struct loco_sampler *s, const float *logits)
{
    int32_t n = s->n_vocab;
    if (s->p.temperature <= 0.0f && s->p.repeat_penalty == 1.0f) {
        int32_t id = loco_argmax(logits, n);
        return logits[id] > -INFINITY ? id : no_usable_logit(n);
    }
    for (int32_t i = 0; i < n; i++)
        s->cand[i] = (struct cand){.id = i, .logit = logits[i], .p = 0.0f};
    apply_penalty(s);
    if (!sanitize(s->cand, n)) /* after the penalty: a division may overflow */
        return no_usable_logit(n);
    if (s->p.temperature <= 0.0f)
        return best_of(s->cand, n);
    n = truncate(s, n);
    return draw(s, n, s->p.temperature);
}

int32_t loco_sampler_sample(struct loco_sampler *s, const float *logits, float *logprob)
{
    int32_t chosen = s->p.n_allowed > 0 ? sample_allowed(s, logits) : sample_all(s, logits);
    if (chosen < 0)
        return chosen;
    if (logprob)
        *logprob = loco_logprob(logits, s->n_vocab, chosen);
    return chosen;
}
