/*
 * trainer.c - LoRA training: forward and hand-written backward through a
 * llama/qwen2 transformer whose base weights are frozen.
 *
 * The forward is the inference engine's (forward.c; docs/model.md)
 * for one sequence at positions 0..n-1, with every adapted projection
 *     y = W x + s B (A drop(x)),   s = alpha / R   (Hu et al. 2021, LoRA)
 * and logits only at positions that predict a target. The backward runs
 * the same layers in reverse: gradients reach A and B only, but the
 * activation gradient flows through everything (output norm, residuals,
 * attention with its softmax and rope, the RMSNorms, SwiGLU, the LoRA
 * branches). Every parallel loop runs on the trainer's own thread pool
 * (loco/pool.h), which stays fast when other programs share the cores.
 * Products over the sequence are OpenBLAS sgemm calls split into one part
 * per thread (ops.c train_gemm); rows, elements and attention heads go out
 * in fixed chunks, each writing outputs no other chunk writes, so a result
 * depends only on the thread count (through train_gemm), never on which
 * thread ran which chunk.
 *
 * Shapes: T tokens, C n_embd, H heads, Hkv kv heads, D head dim, F n_ff,
 * V vocab, R rank, L layers; the legend of the saved tensors is in
 * trainer_internal.h.
 */
#include "train/core/trainer_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "loco/pool.h"
#include "train/core/ops.h"

#define LOGIT_ROWS 64       /* head rows per chunk: bounds the [rows][V] logits buffer */
#define ATT_ROWS 64         /* query rows per attention block */
#define MAX_SEQ_LIMIT 65536 /* keeps [T][T] attention scratch sane */
#define MAX_RANK 4096
#define ROW_CHUNK 8      /* rows per chunk of a row loop */
#define ELEM_CHUNK 16384 /* elements per chunk of an elementwise loop */

/* ---- creation ------------------------------------------------------------- */

static int check_config(const struct loco_model *m, const struct loco_lora_config *cfg,
                        int32_t max_seq, int32_t n_threads)
{
    const struct loco_hparams *hp = loco_model_hparams(m);
    if (hp->arch != LOCO_ARCH_LLAMA && hp->arch != LOCO_ARCH_QWEN2)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "training supports the llama and qwen2 architectures; this model "
                              "is '%s'",
                              hp->arch_name);
    if (hp->final_softcap != 0.0f || hp->n_swa != 0)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "training: logit softcapping and sliding "
                                                    "windows are not supported");
    if (cfg->rank <= 0 || cfg->rank > MAX_RANK)
        return loco_error_set(LOCO_ERR_INVALID, "LoRA rank %d is out of range (1..%d)", cfg->rank,
                              MAX_RANK);
    if (!(cfg->alpha > 0.0f) || !isfinite(cfg->alpha))
        return loco_error_set(LOCO_ERR_INVALID, "LoRA alpha %g must be positive",
                              (double)cfg->alpha);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return loco_error_set(LOCO_ERR_INVALID, "LoRA dropout %g must be in [0, 1)",
                              (double)cfg->dropout);
    if (cfg->targets == 0 || (cfg->targets & ~LOCO_LORA_ALL_TARGETS))
        return loco_error_set(LOCO_ERR_INVALID,
                              "LoRA target mask 0x%x names no projection or an "
                              "unknown one",
                              cfg->targets);
    if (max_seq <= 0 || max_seq > MAX_SEQ_LIMIT || n_threads <= 0 || n_threads > 1024)
        return loco_error_set(LOCO_ERR_INVALID,
                              "trainer: max_seq %d (1..%d) or n_threads %d is "
                              "out of range",
                              max_seq, MAX_SEQ_LIMIT, n_threads);
    return LOCO_OK;
}

static const struct loco_weight *base_weight(const struct loco_layer *L, enum loco_lora_target t)
{
    const struct loco_weight *w[LOCO_LORA_N_TARGETS] = {&L->wq,   &L->wk, &L->wv,  &L->wo,
                                                        &L->gate, &L->up, &L->down};
    return w[t];
}

struct dequant_job {
    const struct loco_type_traits *tr;
    const struct loco_weight *w;
    size_t row; /* bytes per row of w */
    float *dst;
};

static void dequant_rows(void *arg, int64_t r0, int64_t r1, int32_t thread)
{
    const struct dequant_job *j = arg;
    const char *src = j->w->data;
    for (int64_t r = r0; r < r1; r++)
        j->tr->to_float(src + (size_t)r * j->row, j->dst + (size_t)r * (size_t)j->w->n_in,
                        j->w->n_in);
}

/* dequantize n_out rows of a weight into dst [n_out][n_in] */
static int dequantize(const struct loco_weight *w, float *dst, struct loco_pool *pool)
{
    const struct loco_type_traits *tr = loco_type_traits(w->type);
    if (!tr || !tr->to_float)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "training: cannot dequantize %s weights",
                              loco_type_name(w->type));
    struct dequant_job j = {tr, w, loco_type_row_size(w->type, w->n_in), dst};
    loco_pool_for(pool, w->n_out, ROW_CHUNK, dequant_rows, &j);
    return LOCO_OK;
}

static int load_weights(struct loco_trainer *t)
{
    const struct loco_model *m = t->m;
    size_t total = (size_t)m->output.n_in * (size_t)m->output.n_out;
    for (int il = 0; il < t->hp.n_layer; il++)
        for (int j = 0; j < LOCO_LORA_N_TARGETS; j++) {
            const struct loco_weight *w = base_weight(&m->layers[il], (enum loco_lora_target)j);
            total += (size_t)w->n_in * (size_t)w->n_out;
        }
    t->weights = malloc(total * sizeof(float));
    if (!t->weights)
        return loco_error_set(LOCO_ERR_NOMEM, "training: out of memory for %zu MB of f32 weights",
                              total * sizeof(float) >> 20);
    float *p = t->weights;
    int rc = dequantize(&m->output, p, t->pool);
    t->head = p;
    p += (size_t)m->output.n_in * (size_t)m->output.n_out;
    for (int il = 0; il < t->hp.n_layer && rc == LOCO_OK; il++) {
        t->layers[il].base = &m->layers[il];
        for (int j = 0; j < LOCO_LORA_N_TARGETS && rc == LOCO_OK; j++) {
            const struct loco_weight *w = base_weight(&m->layers[il], (enum loco_lora_target)j);
            struct train_proj *pr = &t->layers[il].proj[j];
            rc = dequantize(w, p, t->pool);
            pr->w = p;
            pr->n_in = w->n_in;
            pr->n_out = w->n_out;
            p += (size_t)w->n_in * (size_t)w->n_out;
        }
    }
    return rc;
}

/* Parameter layout (train.h): per layer, per enabled target in enum order,
 * A [R][n_in] then B [n_out][R]. A ~ U(-1/sqrt(n_in), 1/sqrt(n_in)), B = 0. */
static int init_params(struct loco_trainer *t, uint64_t seed)
{
    size_t R = (size_t)t->cfg.rank, n = 0;
    for (int il = 0; il < t->hp.n_layer; il++)
        for (int j = 0; j < LOCO_LORA_N_TARGETS; j++) {
            struct train_proj *pr = &t->layers[il].proj[j];
            pr->lora = (t->cfg.targets & LOCO_LORA_TARGET_BIT(j)) != 0;
            if (!pr->lora)
                continue;
            pr->a = n;
            n += R * (size_t)pr->n_in;
            pr->b = n;
            n += (size_t)pr->n_out * R;
        }
    t->n_params = n;
    t->params = calloc(n, sizeof(float));
    t->grads = calloc(n, sizeof(float));
    if (!t->params || !t->grads)
        return loco_error_set(LOCO_ERR_NOMEM, "training: out of memory for %zu parameters", n);
    struct loco_xoshiro r;
    loco_xoshiro_seed(&r, seed);
    for (int il = 0; il < t->hp.n_layer; il++)
        for (int j = 0; j < LOCO_LORA_N_TARGETS; j++) {
            const struct train_proj *pr = &t->layers[il].proj[j];
            if (!pr->lora)
                continue;
            float bound = 1.0f / sqrtf((float)pr->n_in);
            for (size_t i = 0; i < R * (size_t)pr->n_in; i++)
                t->params[pr->a + i] = bound * (2.0f * loco_xoshiro_float(&r) - 1.0f);
        }
    return LOCO_OK;
}

static int64_t max_n_in(const struct loco_trainer *t)
{
    const struct loco_hparams *hp = &t->hp;
    int64_t qd = (int64_t)hp->n_head * hp->head_dim;
    int64_t a = hp->n_embd > qd ? hp->n_embd : qd;
    return a > hp->n_ff ? a : hp->n_ff;
}

/* Saved activations: per layer 4 x [T][C]-like rows plus the LoRA rows. */
static int alloc_activations(struct loco_trainer *t)
{
    const struct loco_hparams *hp = &t->hp;
    size_t T = (size_t)t->max_seq, C = (size_t)hp->n_embd, F = (size_t)hp->n_ff;
    size_t qd = (size_t)hp->n_head * (size_t)hp->head_dim;
    size_t kvd = (size_t)hp->n_head_kv * (size_t)hp->head_dim, R = (size_t)t->cfg.rank;
    size_t per_layer = T * (2 * C + 2 + 2 * qd + 2 * kvd + 2 * F), mask_bytes = 0;
    for (int j = 0; j < LOCO_LORA_N_TARGETS; j++)
        if (t->layers[0].proj[j].lora) {
            per_layer += T * R;
            mask_bytes += T * (size_t)t->layers[0].proj[j].n_in;
        }
    t->acts = malloc(per_layer * (size_t)hp->n_layer * sizeof(float));
    if (t->cfg.dropout > 0.0f)
        t->masks = malloc(mask_bytes * (size_t)hp->n_layer);
    if (!t->acts || (t->cfg.dropout > 0.0f && !t->masks))
        return loco_error_set(LOCO_ERR_NOMEM,
                              "training: out of memory for the activations of "
                              "%d tokens (%zu MB); use shorter sequences",
                              t->max_seq, per_layer * (size_t)hp->n_layer * sizeof(float) >> 20);
    float *p = t->acts;
    uint8_t *mp = t->masks;
#define CARVE(field, count) (L->field = p, p += (count))
    for (int il = 0; il < hp->n_layer; il++) {
        struct train_layer *L = &t->layers[il];
        CARVE(x_attn, T * C);
        CARVE(rstd_attn, T);
        CARVE(q, T * qd);
        CARVE(k, T * kvd);
        CARVE(v, T * kvd);
        CARVE(att, T * qd);
        CARVE(x_ffn, T * C);
        CARVE(rstd_ffn, T);
        CARVE(g, T * F);
        CARVE(u, T * F);
        for (int j = 0; j < LOCO_LORA_N_TARGETS; j++) {
            struct train_proj *pr = &L->proj[j];
            if (!pr->lora)
                continue;
            CARVE(proj[j].lu, T * R);
            if (mp) {
                pr->keep = mp;
                mp += T * (size_t)pr->n_in;
            }
        }
    }
#undef CARVE
    return LOCO_OK;
}

static int alloc_scratch(struct loco_trainer *t)
{
    const struct loco_hparams *hp = &t->hp;
    size_t T = (size_t)t->max_seq, C = (size_t)hp->n_embd, F = (size_t)hp->n_ff;
    size_t qd = (size_t)hp->n_head * (size_t)hp->head_dim, V = (size_t)hp->n_vocab;
    size_t kvd = (size_t)hp->n_head_kv * (size_t)hp->head_dim, R = (size_t)t->cfg.rank;
    size_t half = (size_t)hp->n_rot / 2, nt = (size_t)t->nt;
    size_t floats =
        T * (8 * C + 2 * qd + 2 * kvd + 2 * qd + 4 * F + (size_t)max_n_in(t) + R + 2 * half + 1) +
        nt * 2 * ATT_ROWS * T + LOGIT_ROWS * V;
    size_t bytes = floats * sizeof(float) + T * (sizeof(double) + 2 * sizeof(int32_t));
    t->work = malloc(bytes);
    if (!t->work)
        return loco_error_set(LOCO_ERR_NOMEM, "training: out of memory for %zu MB of scratch",
                              bytes >> 20);
    struct train_scratch *s = &t->s;
    /* the doubles first: malloc's alignment suits them whatever T is */
    s->nll = t->work;
    float *p = (float *)(s->nll + T);
#define CARVE(field, count) (s->field = p, p += (count))
    CARVE(h, T * C);
    CARVE(o, T * C);
    CARVE(x_out, T * C);
    CARVE(dx, T * C);
    CARVE(dh, T * C);
    CARVE(hf, T * C);
    CARVE(dhf, T * C);
    CARVE(act, T * F);
    CARVE(dact, T * F);
    CARVE(dg, T * F);
    CARVE(du, T * F);
    CARVE(xd, T * (size_t)max_n_in(t));
    CARVE(dq, T * qd);
    CARVE(datt, T * qd);
    CARVE(dk, T * kvd);
    CARVE(dv, T * kvd);
    CARVE(dkh, T * qd);
    CARVE(dvh, T * qd);
    CARVE(ldu, T * R);
    CARVE(rope_cs, T * half);
    CARVE(rope_sn, T * half);
    CARVE(rstd_f, T);
    CARVE(probs, nt * 2 * ATT_ROWS * T);
    CARVE(logits, LOGIT_ROWS * V);
#undef CARVE
    s->rows = (int32_t *)p;
    s->tgt = s->rows + T;
    return LOCO_OK;
}

struct loco_trainer *loco_trainer_create(const struct loco_model *m,
                                         const struct loco_lora_config *cfg, int32_t max_seq,
                                         int32_t n_threads, uint64_t seed)
{
    if (!m || !cfg) {
        loco_error_set(LOCO_ERR_INVALID, "trainer: model and config are required");
        return NULL;
    }
    if (check_config(m, cfg, max_seq, n_threads))
        return NULL;
    struct loco_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory for a trainer");
        return NULL;
    }
    t->m = m;
    t->hp = *loco_model_hparams(m);
    t->cfg = *cfg;
    t->lora_scale = cfg->alpha / (float)cfg->rank;
    t->max_seq = max_seq;
    t->nt = n_threads;
    t->layers = calloc((size_t)t->hp.n_layer, sizeof *t->layers);
    int rc = t->layers ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory for a trainer");
    if (rc == LOCO_OK) {
        t->pool = loco_pool_init(n_threads); /* sets the error when it fails */
        rc = t->pool ? LOCO_OK : LOCO_ERR_NOMEM;
    }
    if (rc == LOCO_OK)
        rc = load_weights(t);
    if (rc == LOCO_OK)
        rc = init_params(t, seed);
    if (rc == LOCO_OK)
        rc = alloc_activations(t);
    if (rc == LOCO_OK)
        rc = alloc_scratch(t);
    if (rc != LOCO_OK) {
        loco_trainer_free(t);
        return NULL;
    }
    return t;
}

void loco_trainer_free(struct loco_trainer *t)
{
    if (!t)
        return;
    free(t->weights);
    free(t->layers);
    free(t->params);
    free(t->grads);
    free(t->acts);
    free(t->masks);
    free(t->work);
    loco_pool_free(t->pool);
    free(t);
}

size_t loco_trainer_n_params(const struct loco_trainer *t)
{
    return t->n_params;
}

float *loco_trainer_params(struct loco_trainer *t)
{
    return t->params;
}

float *loco_trainer_grads(struct loco_trainer *t)
{
    return t->grads;
}

void loco_trainer_zero_grads(struct loco_trainer *t)
{
    memset(t->grads, 0, t->n_params * sizeof(float));
}

const struct loco_lora_config *loco_trainer_config(const struct loco_trainer *t)
{
    return &t->cfg;
}

/* ---- one pass: what the forward needs to know ---------------------------- */

struct pass {
    int32_t n;      /* tokens run through the layers */
    int32_t n_rows; /* positions whose logits predict a target */
    bool grad;      /* run the backward */
    bool dropout;   /* apply dropout (training with p > 0) */
    uint64_t dseed; /* dropout seed */
    float grad_scale;
};

/* ---- LoRA linear: y = x W^T + s (drop(x) A^T) B^T ------------------------ */

/* Dropout mask of row `row` of projection (il, j): inverted dropout keeps
 * an input with probability 1 - p; the stream depends only on the seed and
 * the row's coordinates, so rows can be filled in parallel. */
static void fill_mask(const struct loco_trainer *t, const struct pass *ps, int il, int j,
                      int32_t row, uint8_t *keep, int64_t n_in)
{
    uint64_t key = ps->dseed ^ ((uint64_t)il << 48) ^ ((uint64_t)j << 40) ^ (uint64_t)row;
    struct loco_xoshiro r;
    loco_xoshiro_seed(&r, loco_splitmix64(&key));
    uint32_t threshold = (uint32_t)((double)t->cfg.dropout * 4294967296.0);
    for (int64_t i = 0; i < n_in; i += 2) {
        uint64_t bits = loco_xoshiro_next(&r);
        keep[i] = (uint32_t)bits >= threshold;
        if (i + 1 < n_in)
            keep[i + 1] = (uint32_t)(bits >> 32) >= threshold;
    }
}

struct mask_job {
    const struct loco_trainer *t;
    const struct pass *ps;
    int il, j;
    int64_t n_in;
    float inv;  /* 1 / (1 - p) */
    float *out; /* xd, or dx */
    const float *in;
    const uint8_t *keep;
};

static void fill_mask_rows(void *arg, int64_t r0, int64_t r1, int32_t thread)
{
    const struct mask_job *m = arg;
    uint8_t *keep = m->t->layers[m->il].proj[m->j].keep;
    for (int64_t r = r0; r < r1; r++)
        fill_mask(m->t, m->ps, m->il, m->j, (int32_t)r, keep + (size_t)r * (size_t)m->n_in,
                  m->n_in);
}

/* out = in * keep / (1 - p) */
static void mask_elems(void *arg, int64_t i0, int64_t i1, int32_t thread)
{
    const struct mask_job *m = arg;
    for (int64_t i = i0; i < i1; i++)
        m->out[i] = m->keep[i] ? m->in[i] * m->inv : 0.0f;
}

/* out += in * keep / (1 - p) */
static void mask_add_elems(void *arg, int64_t i0, int64_t i1, int32_t thread)
{
    const struct mask_job *m = arg;
    for (int64_t i = i0; i < i1; i++)
        m->out[i] += m->keep[i] ? m->in[i] * m->inv : 0.0f;
}

/* xd = x * keep / (1 - p) over n rows */
static void apply_mask(const struct loco_trainer *t, float *xd, const float *x, const uint8_t *keep,
                       int32_t n, int64_t n_in)
{
    struct mask_job m = {.inv = 1.0f / (1.0f - t->cfg.dropout), .out = xd, .in = x, .keep = keep};
    loco_pool_for(t->pool, (int64_t)n * n_in, ELEM_CHUNK, mask_elems, &m);
}

/* y [n][n_out] = projection j of layer il applied to x [n][n_in] */
static void linear_fwd(struct loco_trainer *t, const struct pass *ps, int il, int j, const float *x,
                       float *y)
{
    struct train_proj *pr = &t->layers[il].proj[j];
    int32_t n = ps->n, n_in = (int32_t)pr->n_in, n_out = (int32_t)pr->n_out, R = t->cfg.rank;
    train_gemm(t->pool, false, true, n, n_out, n_in, 1.0f, x, n_in, pr->w, n_in, 0.0f, y, n_out);
    if (!pr->lora)
        return;
    const float *xin = x;
    if (ps->dropout) {
        struct mask_job m = {.t = t, .ps = ps, .il = il, .j = j, .n_in = n_in};
        loco_pool_for(t->pool, n, ROW_CHUNK, fill_mask_rows, &m);
        apply_mask(t, t->s.xd, x, pr->keep, n, n_in);
        xin = t->s.xd;
    }
    const float *A = t->params + pr->a, *B = t->params + pr->b;
    /* lu [n][R] = drop(x) A^T, then y += s lu B^T */
    train_gemm(t->pool, false, true, n, R, n_in, 1.0f, xin, n_in, A, n_in, 0.0f, pr->lu, R);
    train_gemm(t->pool, false, true, n, n_out, R, t->lora_scale, pr->lu, R, B, R, 1.0f, y, n_out);
}

/* Backward of linear_fwd given dy [n][n_out]: dA, dB += their gradients;
 * dx [n][n_in] = (beta = 0) or += (beta = 1) the input gradient, skipped
 * when dx is NULL. x is the forward's (undropped) input. */
static void linear_bwd(struct loco_trainer *t, const struct pass *ps, int il, int j, const float *x,
                       const float *dy, float *dx, float beta)
{
    struct train_proj *pr = &t->layers[il].proj[j];
    int32_t n = ps->n, n_in = (int32_t)pr->n_in, n_out = (int32_t)pr->n_out, R = t->cfg.rank;
    if (dx)
        train_gemm(t->pool, false, false, n, n_in, n_out, 1.0f, dy, n_out, pr->w, n_in, beta, dx,
                   n_in);
    if (!pr->lora)
        return;
    const float *A = t->params + pr->a, *B = t->params + pr->b;
    float *dA = t->grads + pr->a, *dB = t->grads + pr->b, *ldu = t->s.ldu;
    const float *xin = x;
    if (ps->dropout) {
        apply_mask(t, t->s.xd, x, pr->keep, n, n_in);
        xin = t->s.xd;
    }
    /* dB [n_out][R] += s dy^T lu;  ldu [n][R] = s dy B;  dA [R][n_in] += ldu^T drop(x) */
    train_gemm(t->pool, true, false, n_out, R, n, t->lora_scale, dy, n_out, pr->lu, R, 1.0f, dB, R);
    train_gemm(t->pool, false, false, n, R, n_out, t->lora_scale, dy, n_out, B, R, 0.0f, ldu, R);
    train_gemm(t->pool, true, false, R, n_in, n, 1.0f, ldu, R, xin, n_in, 1.0f, dA, n_in);
    if (!dx)
        return;
    if (!ps->dropout) {
        train_gemm(t->pool, false, false, n, n_in, R, 1.0f, ldu, R, A, n_in, 1.0f, dx, n_in);
        return;
    }
    /* d drop(x) = ldu A, then through the mask */
    float *dxd = t->s.xd;
    train_gemm(t->pool, false, false, n, n_in, R, 1.0f, ldu, R, A, n_in, 0.0f, dxd, n_in);
    struct mask_job m = {
        .inv = 1.0f / (1.0f - t->cfg.dropout), .out = dx, .in = dxd, .keep = pr->keep};
    loco_pool_for(t->pool, (int64_t)n * n_in, ELEM_CHUNK, mask_add_elems, &m);
}

/* ---- elementwise helpers ------------------------------------------------- */

/* Rows of C: the forward writes h (and rstd when non-NULL) from x; the
 * backward adds into dx from dh, given x and the forward's saved_rstd. */
struct norm_job {
    const struct loco_trainer *t;
    float *h, *rstd, *dx;
    const float *x, *w, *dh, *saved_rstd;
};

static void norm_fwd_rows(void *arg, int64_t r0, int64_t r1, int32_t thread)
{
    const struct norm_job *j = arg;
    int64_t C = j->t->hp.n_embd;
    for (int64_t r = r0; r < r1; r++) {
        float rs = train_op_rmsnorm_fwd(j->h + r * C, j->x + r * C, j->w, C, j->t->hp.rms_eps);
        if (j->rstd)
            j->rstd[r] = rs;
    }
}

static void norm_bwd_rows(void *arg, int64_t r0, int64_t r1, int32_t thread)
{
    const struct norm_job *j = arg;
    int64_t C = j->t->hp.n_embd;
    for (int64_t r = r0; r < r1; r++)
        train_op_rmsnorm_bwd(j->dx + r * C, j->dh + r * C, j->x + r * C, j->w, j->saved_rstd[r], C);
}

/* h[t] = rmsnorm(x[t]) * w for n rows of C; rstd[t] saved when non-NULL */
static void norm_rows(const struct loco_trainer *t, float *h, float *rstd, const float *x,
                      const float *w, int32_t n)
{
    struct norm_job j = {.t = t, .h = h, .rstd = rstd, .x = x, .w = w};
    loco_pool_for(t->pool, n, ROW_CHUNK, norm_fwd_rows, &j);
}

static void norm_rows_bwd(const struct loco_trainer *t, float *dx, const float *dh, const float *x,
                          const float *w, const float *rstd, int32_t n)
{
    struct norm_job j = {.t = t, .dx = dx, .x = x, .w = w, .dh = dh, .saved_rstd = rstd};
    loco_pool_for(t->pool, n, ROW_CHUNK, norm_bwd_rows, &j);
}

static void add_bias(float *y, const float *b, int32_t n, int64_t dim)
{
    if (!b)
        return;
    for (int32_t r = 0; r < n; r++)
        for (int64_t i = 0; i < dim; i++)
            y[r * dim + i] += b[i];
}

/* Elementwise: y = a + b (residual), y = silu(a) * b (swiglu), or
 * (y, y2) = (dg, du) from dy = d(silu(g) * u), a = g, b = u. */
struct elem_job {
    float *y, *y2;
    const float *a, *b, *dy;
};

static void residual_elems(void *arg, int64_t i0, int64_t i1, int32_t thread)
{
    const struct elem_job *e = arg;
    for (int64_t i = i0; i < i1; i++)
        e->y[i] = e->a[i] + e->b[i];
}

static void swiglu_fwd_elems(void *arg, int64_t i0, int64_t i1, int32_t thread)
{
    const struct elem_job *e = arg;
    train_op_swiglu_fwd(e->y + i0, e->a + i0, e->b + i0, i1 - i0);
}

static void swiglu_bwd_elems(void *arg, int64_t i0, int64_t i1, int32_t thread)
{
    const struct elem_job *e = arg;
    train_op_swiglu_bwd(e->y + i0, e->y2 + i0, e->dy + i0, e->a + i0, e->b + i0, i1 - i0);
}

/* y = a + b over n rows of C */
static void residual(const struct loco_trainer *t, float *y, const float *a, const float *b,
                     int32_t n)
{
    struct elem_job e = {.y = y, .a = a, .b = b};
    loco_pool_for(t->pool, (int64_t)n * t->hp.n_embd, ELEM_CHUNK, residual_elems, &e);
}

/* act [n][F] = silu(g) * u */
static void swiglu(const struct loco_trainer *t, float *act, const float *g, const float *u,
                   int32_t n)
{
    struct elem_job e = {.y = act, .a = g, .b = u};
    loco_pool_for(t->pool, (int64_t)n * t->hp.n_ff, ELEM_CHUNK, swiglu_fwd_elems, &e);
}

/* writes dg, du [n][F] from dact */
static void swiglu_bwd(const struct loco_trainer *t, float *dg, float *du, const float *dact,
                       const float *g, const float *u, int32_t n)
{
    struct elem_job e = {.y = dg, .y2 = du, .dy = dact, .a = g, .b = u};
    loco_pool_for(t->pool, (int64_t)n * t->hp.n_ff, ELEM_CHUNK, swiglu_bwd_elems, &e);
}

struct rope_job {
    const struct loco_trainer *t;
    float *q; /* [n][nh][D] */
    int32_t nh;
    bool bwd;
};

static void rope_row_range(void *arg, int64_t r0, int64_t r1, int32_t thread)
{
    const struct rope_job *j = arg;
    const struct loco_trainer *t = j->t;
    int32_t D = t->hp.head_dim, half = t->hp.n_rot / 2;
    for (int64_t r = r0; r < r1; r++) {
        const float *cs = t->s.rope_cs + r * half, *sn = t->s.rope_sn + r * half;
        for (int32_t h = 0; h < j->nh; h++) {
            float *x = j->q + ((size_t)r * j->nh + h) * D;
            if (j->bwd)
                train_op_rope_bwd(x, cs, sn, t->hp.n_rot, t->hp.rope_type);
            else
                train_op_rope_fwd(x, cs, sn, t->hp.n_rot, t->hp.rope_type);
        }
    }
}

/* rope (or its backward) on every head of q [n][nh][D] */
static void rope_rows(const struct loco_trainer *t, float *q, int32_t n, int32_t nh, bool bwd)
{
    struct rope_job j = {t, q, nh, bwd};
    loco_pool_for(t->pool, n, ROW_CHUNK, rope_row_range, &j);
}

/* thread `thread`'s two [ATT_ROWS][T] attention buffers */
static float *thread_probs(const struct loco_trainer *t, int32_t thread)
{
    return t->s.probs + (size_t)thread * 2 * ATT_ROWS * (size_t)t->max_seq;
}

/* rope cos/sin for positions 0..n-1, recomputed only when they change */
static void rope_tables(struct loco_trainer *t, int32_t n, const struct loco_layer *B)
{
    struct train_scratch *s = &t->s;
    if (n <= s->rope_n && B->rope_base == s->rope_base && B->rope_scale == s->rope_scale)
        return;
    train_op_rope_tables(s->rope_cs, s->rope_sn, n, t->hp.n_rot, B->rope_base, B->rope_scale);
    s->rope_n = n;
    s->rope_base = B->rope_base;
    s->rope_scale = B->rope_scale;
}

/* ---- forward -------------------------------------------------------------- */

struct attn_job {
    struct loco_trainer *t;
    const struct train_layer *L;
    int32_t n; /* tokens */
};

/* forward jobs [j0, j1): job = (block of ATT_ROWS query rows) * H + head */
static void attn_fwd_jobs(void *arg, int64_t j0, int64_t j1, int32_t thread)
{
    const struct attn_job *a = arg;
    const struct loco_hparams *hp = &a->t->hp;
    const struct train_layer *L = a->L;
    int32_t H = hp->n_head, D = hp->head_dim, qd = H * D, kvd = hp->n_head_kv * D;
    int32_t group = H / hp->n_head_kv;
    for (int64_t job = j0; job < j1; job++) {
        int32_t h = (int32_t)(job % H), r0 = (int32_t)(job / H) * ATT_ROWS, g = h / group;
        int32_t bn = a->n - r0 < ATT_ROWS ? a->n - r0 : ATT_ROWS;
        train_op_attn_fwd(L->att + h * D, qd, L->q + h * D, qd, L->k + g * D, L->v + g * D, kvd, r0,
                          bn, D, hp->attn_scale, thread_probs(a->t, thread));
    }
}

static void attention_fwd(struct loco_trainer *t, const struct pass *ps, int il)
{
    const struct loco_hparams *hp = &t->hp;
    struct train_layer *L = &t->layers[il];
    const struct loco_layer *B = L->base;
    int32_t n = ps->n, H = hp->n_head, D = hp->head_dim, Hkv = hp->n_head_kv;
    int32_t qd = H * D, kvd = Hkv * D;
    norm_rows(t, t->s.h, L->rstd_attn, L->x_attn, B->attn_norm, n);
    linear_fwd(t, ps, il, LOCO_LORA_Q, t->s.h, L->q);
    linear_fwd(t, ps, il, LOCO_LORA_K, t->s.h, L->k);
    linear_fwd(t, ps, il, LOCO_LORA_V, t->s.h, L->v);
    add_bias(L->q, B->bq, n, qd);
    add_bias(L->k, B->bk, n, kvd);
    add_bias(L->v, B->bv, n, kvd);
    rope_tables(t, n, B);
    rope_rows(t, L->q, n, H, false);
    rope_rows(t, L->k, n, Hkv, false);
    /* one job per (head, block of ATT_ROWS query rows) */
    int32_t n_blocks = (n + ATT_ROWS - 1) / ATT_ROWS;
    struct attn_job a = {t, L, n};
    loco_pool_for(t->pool, (int64_t)H * n_blocks, 1, attn_fwd_jobs, &a);
    linear_fwd(t, ps, il, LOCO_LORA_O, L->att, t->s.o);
    residual(t, L->x_ffn, L->x_attn, t->s.o, n);
}

/* x_next [n][C] = x_ffn + down(silu(gate h) * up h) */
static void ffn_fwd(struct loco_trainer *t, const struct pass *ps, int il, float *x_next)
{
    struct train_layer *L = &t->layers[il];
    int32_t n = ps->n;
    norm_rows(t, t->s.h, L->rstd_ffn, L->x_ffn, L->base->ffn_norm, n);
    linear_fwd(t, ps, il, LOCO_LORA_GATE, t->s.h, L->g);
    linear_fwd(t, ps, il, LOCO_LORA_UP, t->s.h, L->u);
    swiglu(t, t->s.act, L->g, L->u, n);
    linear_fwd(t, ps, il, LOCO_LORA_DOWN, t->s.act, t->s.o);
    residual(t, x_next, L->x_ffn, t->s.o, n);
}

static void embed(struct loco_trainer *t, const int32_t *tokens, int32_t n)
{
    const struct loco_weight *e = &t->m->tok_embd;
    int64_t C = t->hp.n_embd;
    float *x = t->layers[0].x_attn;
    for (int32_t r = 0; r < n; r++) {
        loco_get_row(e->data, e->type, e->n_in, tokens[r], x + r * C);
        if (t->hp.embd_scale != 1.0f)
            for (int64_t i = 0; i < C; i++)
                x[r * C + i] *= t->hp.embd_scale;
    }
}

static void layers_fwd(struct loco_trainer *t, const struct pass *ps, const int32_t *tokens)
{
    int nl = t->hp.n_layer;
    embed(t, tokens, ps->n);
    for (int il = 0; il < nl; il++) {
        attention_fwd(t, ps, il);
        ffn_fwd(t, ps, il, il + 1 < nl ? t->layers[il + 1].x_attn : t->s.x_out);
    }
}

/* ---- the head and the loss ----------------------------------------------- */

struct xent_job {
    struct train_scratch *s;
    const struct pass *ps;
    int32_t r0, V; /* first target row of the logits buffer, vocab */
};

/* rows [r0, r1) of the logits buffer: their loss, and their gradient in place */
static void xent_rows(void *arg, int64_t r0, int64_t r1, int32_t thread)
{
    const struct xent_job *x = arg;
    for (int64_t r = r0; r < r1; r++)
        x->s->nll[x->r0 + r] = train_op_xent(x->s->logits + (size_t)r * x->V, x->V,
                                             x->s->tgt[x->r0 + r], x->ps->grad_scale, x->ps->grad);
}

/* Logits for the target rows in chunks of LOGIT_ROWS; each chunk's
 * cross-entropy gradient goes straight back through the head into dhf. */
static double head_loss(struct loco_trainer *t, const struct pass *ps)
{
    struct train_scratch *s = &t->s;
    int32_t C = t->hp.n_embd, V = t->hp.n_vocab;
    for (int32_t r = 0; r < ps->n_rows; r++)
        memcpy(s->dhf + (size_t)r * C, s->x_out + (size_t)s->rows[r] * C,
               (size_t)C * sizeof(float));
    norm_rows(t, s->hf, s->rstd_f, s->dhf, t->m->output_norm, ps->n_rows);
    for (int32_t r0 = 0; r0 < ps->n_rows; r0 += LOGIT_ROWS) {
        int32_t cn = ps->n_rows - r0 < LOGIT_ROWS ? ps->n_rows - r0 : LOGIT_ROWS;
        train_gemm(t->pool, false, true, cn, V, C, 1.0f, s->hf + (size_t)r0 * C, C, t->head, C,
                   0.0f, s->logits, V);
        struct xent_job x = {s, ps, r0, V};
        loco_pool_for(t->pool, cn, 1, xent_rows, &x);
        if (ps->grad) /* dhf [cn][C] = dlogits [cn][V] head [V][C] */
            train_gemm(t->pool, false, false, cn, C, V, 1.0f, s->logits, V, t->head, C, 0.0f,
                       s->dhf + (size_t)r0 * C, C);
    }
    double loss = 0.0;
    for (int32_t r = 0; r < ps->n_rows; r++)
        loss += s->nll[r];
    return loss;
}

/* target rows [r0, r1): their positions' rows of dx (distinct positions) */
static void head_bwd_rows(void *arg, int64_t r0, int64_t r1, int32_t thread)
{
    const struct loco_trainer *t = arg;
    const struct train_scratch *s = &t->s;
    int64_t C = t->hp.n_embd;
    for (int64_t r = r0; r < r1; r++)
        train_op_rmsnorm_bwd(s->dx + s->rows[r] * C, s->dhf + r * C, s->x_out + s->rows[r] * C,
                             t->m->output_norm, s->rstd_f[r], C);
}

/* dx [n][C] = the gradient of the loss w.r.t. the last residual stream */
static void head_bwd(struct loco_trainer *t, const struct pass *ps)
{
    memset(t->s.dx, 0, (size_t)ps->n * (size_t)t->hp.n_embd * sizeof(float));
    loco_pool_for(t->pool, ps->n_rows, ROW_CHUNK, head_bwd_rows, t);
}

/* ---- backward -------------------------------------------------------------- */

/* dx: on entry d(loss)/d(x_next), on return d(loss)/d(x_ffn) */
static void ffn_bwd(struct loco_trainer *t, const struct pass *ps, int il)
{
    struct train_layer *L = &t->layers[il];
    struct train_scratch *s = &t->s;
    int32_t n = ps->n;
    norm_rows(t, s->h, NULL, L->x_ffn, L->base->ffn_norm, n);
    swiglu(t, s->act, L->g, L->u, n);
    linear_bwd(t, ps, il, LOCO_LORA_DOWN, s->act, s->dx, s->dact, 0.0f);
    swiglu_bwd(t, s->dg, s->du, s->dact, L->g, L->u, n);
    linear_bwd(t, ps, il, LOCO_LORA_GATE, s->h, s->dg, s->dh, 0.0f);
    linear_bwd(t, ps, il, LOCO_LORA_UP, s->h, s->du, s->dh, 1.0f);
    norm_rows_bwd(t, s->dx, s->dh, L->x_ffn, L->base->ffn_norm, L->rstd_ffn, n);
}

struct group_job {
    const struct loco_trainer *t;
    int32_t n; /* tokens */
};

/* rows [r0, r1) of dk and dv; each sums its group's heads in head order */
static void sum_group_rows(void *arg, int64_t r0, int64_t r1, int32_t thread)
{
    const struct group_job *j = arg;
    const struct loco_hparams *hp = &j->t->hp;
    int32_t D = hp->head_dim, Hkv = hp->n_head_kv, group = hp->n_head / Hkv, n = j->n;
    const struct train_scratch *s = &j->t->s;
    for (int64_t r = r0; r < r1; r++)
        for (int32_t g = 0; g < Hkv; g++)
            for (int32_t d = 0; d < D; d++) {
                float sk = 0.0f, sv = 0.0f;
                for (int32_t h = g * group; h < (g + 1) * group; h++) {
                    sk += s->dkh[((size_t)h * n + r) * D + d];
                    sv += s->dvh[((size_t)h * n + r) * D + d];
                }
                s->dk[((size_t)r * Hkv + g) * D + d] = sk;
                s->dv[((size_t)r * Hkv + g) * D + d] = sv;
            }
}

/* dk/dv [n][Hkv*D] = sum over each group's heads of dkh/dvh [H][n][D] */
static void sum_groups(const struct loco_trainer *t, int32_t n)
{
    struct group_job j = {t, n};
    loco_pool_for(t->pool, n, ROW_CHUNK, sum_group_rows, &j);
}

/* heads [h0, h1): each head's whole backward, with this thread's scratch */
static void attn_bwd_heads(void *arg, int64_t h0, int64_t h1, int32_t thread)
{
    const struct attn_job *a = arg;
    const struct loco_hparams *hp = &a->t->hp;
    const struct train_layer *L = a->L;
    const struct train_scratch *s = &a->t->s;
    int32_t D = hp->head_dim, qd = hp->n_head * D, kvd = hp->n_head_kv * D, n = a->n;
    int32_t group = hp->n_head / hp->n_head_kv;
    float *p = thread_probs(a->t, thread);
    for (int64_t h = h0; h < h1; h++) {
        int32_t g = (int32_t)h / group;
        train_op_attn_bwd(s->dq + h * D, s->dkh + (size_t)h * n * D, s->dvh + (size_t)h * n * D,
                          s->datt + h * D, qd, L->q + h * D, qd, L->k + g * D, L->v + g * D, kvd, n,
                          D, hp->attn_scale, ATT_ROWS, p, p + (size_t)ATT_ROWS * a->t->max_seq);
    }
}

/* dx: on entry d(loss)/d(x_ffn), on return d(loss)/d(x_attn) (left alone
 * at layer 0, whose input gradient nobody needs) */
static void attention_bwd(struct loco_trainer *t, const struct pass *ps, int il)
{
    const struct loco_hparams *hp = &t->hp;
    struct train_layer *L = &t->layers[il];
    struct train_scratch *s = &t->s;
    int32_t n = ps->n, H = hp->n_head, Hkv = hp->n_head_kv;
    linear_bwd(t, ps, il, LOCO_LORA_O, L->att, s->dx, s->datt, 0.0f);
    struct attn_job a = {t, L, n};
    loco_pool_for(t->pool, H, 1, attn_bwd_heads, &a);
    sum_groups(t, n);
    rope_tables(t, n, L->base);
    rope_rows(t, s->dq, n, H, true);
    rope_rows(t, s->dk, n, Hkv, true);
    norm_rows(t, s->h, NULL, L->x_attn, L->base->attn_norm, n);
    float *dh = il > 0 ? s->dh : NULL;
    linear_bwd(t, ps, il, LOCO_LORA_Q, s->h, s->dq, dh, 0.0f);
    linear_bwd(t, ps, il, LOCO_LORA_K, s->h, s->dk, dh, 1.0f);
    linear_bwd(t, ps, il, LOCO_LORA_V, s->h, s->dv, dh, 1.0f);
    if (dh)
        norm_rows_bwd(t, s->dx, dh, L->x_attn, L->base->attn_norm, L->rstd_attn, n);
}

/* ---- public passes ---------------------------------------------------------- */

/* Validate the inputs and list the target rows; ps->n becomes the tokens
 * that matter (positions after the last predicting one are skipped). */
static int plan(struct loco_trainer *t, struct pass *ps, const int32_t *tokens,
                const uint8_t *target, int32_t n)
{
    if (!tokens || !target || n <= 0 || n > t->max_seq)
        return loco_error_set(LOCO_ERR_INVALID,
                              "trainer: a sequence of %d tokens (allowed "
                              "1..%d)",
                              n, t->max_seq);
    ps->n_rows = 0;
    for (int32_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= t->hp.n_vocab)
            return loco_error_set(LOCO_ERR_INVALID,
                                  "trainer: token %d at position %d is outside "
                                  "the vocabulary of %d",
                                  tokens[i], i, t->hp.n_vocab);
        if (i > 0 && target[i]) {
            t->s.rows[ps->n_rows] = i - 1;
            t->s.tgt[ps->n_rows++] = tokens[i];
        }
    }
    ps->n = ps->n_rows ? t->s.rows[ps->n_rows - 1] + 1 : 0;
    return LOCO_OK;
}

static int run(struct loco_trainer *t, struct pass *ps, const int32_t *tokens,
               const uint8_t *target, int32_t n, double *loss_sum, int32_t *n_targets)
{
    int rc = plan(t, ps, tokens, target, n);
    if (rc)
        return rc;
    double loss = 0.0;
    if (ps->n_rows > 0) {
        int blas_threads = openblas_get_num_threads();
        openblas_set_num_threads(1); /* we split the products over our own threads */
        layers_fwd(t, ps, tokens);
        loss = head_loss(t, ps);
        if (ps->grad) {
            head_bwd(t, ps);
            for (int il = t->hp.n_layer - 1; il >= 0; il--) {
                ffn_bwd(t, ps, il);
                attention_bwd(t, ps, il);
            }
        }
        openblas_set_num_threads(blas_threads);
    }
    if (loss_sum)
        *loss_sum = loss;
    if (n_targets)
        *n_targets = ps->n_rows;
    return LOCO_OK;
}

int loco_trainer_forward_backward(struct loco_trainer *t, const int32_t *tokens,
                                  const uint8_t *target, int32_t n, float grad_scale,
                                  uint64_t dropout_seed, double *loss_sum, int32_t *n_targets)
{
    struct pass ps = {.grad = true,
                      .dropout = t->cfg.dropout > 0.0f,
                      .dseed = dropout_seed,
                      .grad_scale = grad_scale};
    return run(t, &ps, tokens, target, n, loss_sum, n_targets);
}

int loco_trainer_loss(struct loco_trainer *t, const int32_t *tokens, const uint8_t *target,
                      int32_t n, double *loss_sum, int32_t *n_targets)
{
    struct pass ps = {.grad = false, .dropout = false, .grad_scale = 1.0f};
    return run(t, &ps, tokens, target, n, loss_sum, n_targets);
}
