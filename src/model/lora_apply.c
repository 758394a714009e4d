/*
 * lora_apply.c - adapter sets per sequence and the LoRA hook of every
 * projection: y += scale * (alpha / r) * B (A x).
 *
 * A batch can mix sequences with different sets. Before the layers run, the
 * batch's rows are grouped by adapter; each projection then runs A and B once
 * per adapter over that adapter's rows (gathered when they are not the whole
 * batch) and scatters the scaled result back, so four sequences with four
 * adapters cost four small products per projection, not a batch each.
 */
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context_internal.h"
#include "core/rng.h"
#include "lora/lora_internal.h"

/* Below this many multiply-adds a LoRA product runs on one thread: the
 * fork/join of a parallel region would cost more than it saves. */
#define LORA_PARALLEL_MIN (1 << 18)

/* Groups of at most this many rows take the per-row path: decode steps (so
 * a sequence's numbers do not depend on how many others share its batch)
 * and short prompts. */
#define LORA_FEW_ROWS 64

int lora_init(struct loco_context *c)
{
    c->lora.sets = calloc((size_t)c->p.n_seq, sizeof *c->lora.sets);
    if (!c->lora.sets)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for adapter sets");
    return LOCO_OK;
}

void lora_free(struct loco_context *c)
{
    struct lora_state *ls = &c->lora;
    for (int32_t g = 0; g < ls->cap_groups; g++) {
        free(ls->groups[g].idx);
        free(ls->groups[g].scale);
    }
    free(ls->groups);
    free(ls->sets);
    free(ls->xg);
    free(ls->tmp);
    free(ls->yg);
    free(ls->bt32);
}

/* A tag for the set: each id and scale mixed in by the splitmix64
 * finaliser, so that nearby ids and scales differ. */
static uint64_t set_tag(const struct loco_adapter_ref *refs, int32_t n)
{
    if (n == 0)
        return 0;
    uint64_t h = 0x6c6f636f6c6c6dULL;
    for (int32_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &refs[i].scale, sizeof bits);
        h = loco_mix64(h ^ loco_adapter_id(refs[i].adapter));
        h = loco_mix64(h ^ bits);
    }
    return h ? h : 1;
}

int loco_context_set_adapters(struct loco_context *c, int32_t seq,
                              const struct loco_adapter_ref *refs, int32_t n)
{
    if (seq < 0 || seq >= c->p.n_seq)
        return loco_error_set(LOCO_ERR_INVALID, "adapter set: sequence %d out of range (0..%d)",
                              seq, c->p.n_seq - 1);
    if (n < 0 || n > LOCO_MAX_SET_ADAPTERS || (n > 0 && !refs))
        return loco_error_set(LOCO_ERR_INVALID, "adapter set: %d adapters (allowed 0..%d)", n,
                              LOCO_MAX_SET_ADAPTERS);
    for (int32_t i = 0; i < n; i++) {
        const struct loco_adapter *a = refs[i].adapter;
        if (!a)
            return loco_error_set(LOCO_ERR_INVALID, "adapter set: entry %d has no adapter", i);
        if (a->base != c->m)
            return loco_error_set(LOCO_ERR_INVALID, "adapter %s was loaded for another model "
                                  "than this context's", a->info.name);
        if (!isfinite(refs[i].scale))
            return loco_error_set(LOCO_ERR_INVALID, "adapter %s: scale is not finite",
                                  a->info.name);
        for (int32_t j = 0; j < i; j++)
            if (refs[j].adapter == a)
                return loco_error_set(LOCO_ERR_INVALID, "adapter %s appears twice in one set; "
                                      "give it once with the summed scale", a->info.name);
    }
    struct seq_adapters *s = &c->lora.sets[seq];
    uint64_t tag = set_tag(refs, n);
    if (tag != s->tag)
        c->seq_len[seq] = 0; /* the cache was computed under another set */
    c->lora.n_active += (n > 0) - (s->n > 0);
    s->n = n;
    if (n)
        memcpy(s->refs, refs, (size_t)n * sizeof *refs);
    s->tag = tag;
    return LOCO_OK;
}

uint64_t loco_context_seq_adapter_tag(const struct loco_context *c, int32_t seq)
{
    return seq >= 0 && seq < c->p.n_seq ? c->lora.sets[seq].tag : 0;
}

static struct lora_group *group_for(struct loco_context *c, const struct loco_adapter *a)
{
    struct lora_state *ls = &c->lora;
    for (int32_t g = 0; g < ls->n_groups; g++)
        if (ls->groups[g].adapter == a)
            return &ls->groups[g];
    if (ls->n_groups == ls->cap_groups) {
        int32_t cap = ls->cap_groups ? 2 * ls->cap_groups : 8;
        struct lora_group *p = realloc(ls->groups, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        memset(p + ls->cap_groups, 0, (size_t)(cap - ls->cap_groups) * sizeof *p);
        ls->groups = p;
        ls->cap_groups = cap;
    }
    struct lora_group *g = &ls->groups[ls->n_groups];
    if (!g->idx) {
        g->idx = malloc((size_t)c->p.n_batch * sizeof *g->idx);
        g->scale = malloc((size_t)c->p.n_batch * sizeof *g->scale);
        if (!g->idx || !g->scale)
            return NULL;
    }
    g->adapter = a;
    g->n = 0;
    ls->n_groups++;
    return g;
}

static int grow(float **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return LOCO_OK;
    float *p = realloc(*buf, need * sizeof *p);
    if (!p)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for LoRA scratch (%zu floats)",
                              need);
    *buf = p;
    *cap = need;
    return LOCO_OK;
}

int lora_prepare(struct loco_context *c, const struct loco_batch *b)
{
    struct lora_state *ls = &c->lora;
    ls->n_groups = 0;
    if (!ls->n_active)
        return LOCO_OK;
    int32_t max_rank = 0;
    size_t group_rows = 0; /* a row is in one group per adapter of its set */
    for (int32_t i = 0; i < b->n; i++) {
        const struct seq_adapters *s = &ls->sets[b->seq[i]];
        group_rows += (size_t)s->n;
        for (int32_t k = 0; k < s->n; k++) {
            struct lora_group *g = group_for(c, s->refs[k].adapter);
            if (!g)
                return loco_error_set(LOCO_ERR_NOMEM, "out of memory grouping adapters");
            g->idx[g->n] = i;
            g->scale[g->n++] = s->refs[k].scale;
            if (g->adapter->info.rank > max_rank)
                max_rank = g->adapter->info.rank;
        }
    }
    const struct loco_hparams *hp = &c->m->hp;
    int64_t wide = hp->n_embd;
    int64_t qd = (int64_t)hp->n_head * hp->head_dim;
    if (hp->n_ff > wide)
        wide = hp->n_ff;
    if (qd > wide)
        wide = qd;
    size_t rows = (size_t)b->n;
    int rc = grow(&ls->xg, &ls->cap_xg, rows * (size_t)wide);
    if (!rc)
        rc = grow(&ls->yg, &ls->cap_yg, rows * (size_t)wide);
    if (!rc)
        rc = grow(&ls->tmp, &ls->cap_tmp,
                  (group_rows > rows ? group_rows : rows) * (size_t)max_rank);
    /* the sgemm branch (long groups, and every group in f32 mode) needs B^T in f32 */
    if (!rc && (b->n > LORA_FEW_ROWS || c->m->params.matmul_mode == LOCO_MATMUL_F32_ACT))
        rc = grow(&ls->bt32, &ls->cap_bt32, (size_t)max_rank * (size_t)wide);
    return rc;
}

static int product(const struct loco_context *c, const struct loco_weight *w, const float *x,
                   int32_t n, float *y)
{
    struct loco_pool *pool = (int64_t)n * w->n_in * w->n_out >= LORA_PARALLEL_MIN ? c->pool : NULL;
    if (c->m->params.matmul_mode == LOCO_MATMUL_F32_ACT)
        return loco_matmul_f32act_pool(pool, w->data, w->type, w->n_in, w->n_out, x, n, y);
    return loco_matmul_pool(pool, w->data, w->type, w->n_in, w->n_out, x, n, y);
}

/* y[0..n) += sum_k t[k] * bt[k][0..n): the B product of one token, bt in
 * fp16 or f32 with rows ld elements apart (a block of columns of the
 * transposed B). Portable loops, and AVX2/F16C/FMA ones. */
static void axpy_f16_plain(float *restrict y, const void *restrict bt, const float *restrict t,
                           int64_t r, int64_t n, int64_t ld)
{
    for (int64_t k = 0; k < r; k++) {
        const float tk = t[k];
        const uint16_t *row = (const uint16_t *)bt + k * ld;
        for (int64_t o = 0; o < n; o++)
            y[o] += tk * loco_fp16_to_fp32(row[o]);
    }
}

static void axpy_f32_plain(float *restrict y, const void *restrict bt, const float *restrict t,
                           int64_t r, int64_t n, int64_t ld)
{
    for (int64_t k = 0; k < r; k++) {
        const float tk = t[k], *row = (const float *)bt + k * ld;
        for (int64_t o = 0; o < n; o++)
            y[o] += tk * row[o];
    }
}

/* The SIMD loops keep 8 outputs in a register across all r rows, so y is
 * read and written once, not r times. */
__attribute__((target("avx2,fma,f16c"))) static void
axpy_f16_avx2(float *restrict y, const void *restrict bt, const float *restrict t, int64_t r,
              int64_t n, int64_t ld)
{
    const uint16_t *b = bt;
    int64_t o = 0;
    for (; o + 8 <= n; o += 8) {
        __m256 acc = _mm256_loadu_ps(y + o);
        for (int64_t k = 0; k < r; k++) {
            __m256 bk = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + k * ld + o)));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(t[k]), bk, acc);
        }
        _mm256_storeu_ps(y + o, acc);
    }
    for (; o < n; o++) /* fused as the vector lanes are: the same bits */
        for (int64_t k = 0; k < r; k++)
            y[o] = fmaf(t[k], loco_fp16_to_fp32(b[k * ld + o]), y[o]);
}

__attribute__((target("avx2,fma"))) static void
axpy_f32_avx2(float *restrict y, const void *restrict bt, const float *restrict t, int64_t r,
              int64_t n, int64_t ld)
{
    const float *b = bt;
    int64_t o = 0;
    for (; o + 8 <= n; o += 8) {
        __m256 acc = _mm256_loadu_ps(y + o);
        for (int64_t k = 0; k < r; k++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(t[k]), _mm256_loadu_ps(b + k * ld + o), acc);
        _mm256_storeu_ps(y + o, acc);
    }
    for (; o < n; o++) /* fused as the vector lanes are: the same bits */
        for (int64_t k = 0; k < r; k++)
            y[o] = fmaf(t[k], b[k * ld + o], y[o]);
}

typedef void (*axpy_rows_fn)(float *restrict, const void *restrict, const float *restrict,
                             int64_t, int64_t, int64_t);

static axpy_rows_fn pick_axpy(enum loco_type bt_type)
{
    bool simd = strcmp(loco_quant_kernel_set(), "scalar") != 0; /* AVX2 at least */
    if (bt_type == LOCO_TYPE_F16)
        return simd ? axpy_f16_avx2 : axpy_f16_plain;
    return simd ? axpy_f32_avx2 : axpy_f32_plain;
}

/* The A a decode step multiplies by: the Q8_0 copy where there is one. */
static const struct loco_weight *decode_a(const struct lora_pair *p)
{
    return p->aq.data ? &p->aq : &p->a;
}

/* The B product of one row, y += t Bt, by blocks of B_COLS output columns
 * on the context's threads: a column's sum runs over the same rows in the
 * same order however the columns are split (B_COLS is a multiple of the
 * SIMD loops' 8), so the bits do not depend on the thread count. */
#define B_COLS 128

struct b_job {
    axpy_rows_fn axpy;
    float *y;
    const char *bt;
    size_t elt; /* bytes per element of bt */
    const float *t;
    int64_t r, n_out;
};

static void b_columns(void *arg, int64_t o0, int64_t o1, int32_t thread)
{
    const struct b_job *j = arg;
    (void)thread;
    j->axpy(j->y + o0, j->bt + (size_t)o0 * j->elt, j->t, j->r, o1 - o0, j->n_out);
}

/* A decode step: a few rows, quantized-activation mode. A x uses the
 * weight type's own dot kernel on x converted once per row (what
 * loco_matmul would do, without its allocation and thread fork for a
 * product this small); B goes through the transposed fp16 copy, its
 * columns split between the threads when there are more than B_COLS. */

/* t[0..r) = f A x for one row x: A's weight-type dot kernel on x converted
 * once (into ls->xg, which holds n_in floats: room for f16 or Q8_0) */
static void a_row(struct lora_state *ls, const struct lora_pair *p, const float *x, int64_t n_in,
                  float f, float *t)
{
    const struct loco_weight *a = decode_a(p);
    const struct loco_type_traits *tw = loco_type_traits(a->type);
    const size_t a_bytes = loco_type_row_size(a->type, n_in);
    const void *xv = x;
    if (tw->vec_dot_type != LOCO_TYPE_F32) {
        loco_type_traits(tw->vec_dot_type)->from_float(x, ls->xg, n_in);
        xv = ls->xg;
    }
    for (int64_t k = 0; k < a->n_out; k++)
        tw->vec_dot(n_in, &t[k], (const char *)a->data + (size_t)k * a_bytes, xv);
    for (int64_t k = 0; k < a->n_out; k++)
        t[k] *= f;
}

static int few_rows(struct loco_context *c, const struct lora_group *g, const struct lora_pair *p,
                    const float *x, int64_t n_in, float *y, int64_t n_out)
{
    struct lora_state *ls = &c->lora;
    int64_t r = decode_a(p)->n_out;
    axpy_rows_fn axpy = pick_axpy(p->bt_type);
    const size_t elt = loco_type_row_size(p->bt_type, 1); /* fp16 or f32 */
    for (int32_t j = 0; j < g->n; j++) {
        float *t = ls->tmp;
        a_row(ls, p, x + (size_t)g->idx[j] * (size_t)n_in, n_in, g->scale[j] * p->factor, t);
        struct b_job job = {axpy, y + (size_t)g->idx[j] * (size_t)n_out, p->bt, elt, t, r, n_out};
        loco_pool_for(n_out > B_COLS ? c->pool : NULL, n_out, B_COLS, b_columns, &job);
    }
    return LOCO_OK;
}

/* into L2: the base product streams its weights through L1 meanwhile */
static void prefetch_l2(const void *p, size_t n)
{
    for (size_t o = 0; o < n; o += 64)
        __builtin_prefetch((const char *)p + o, 0, 2);
}

/* ---- decode steps fused with the base product ------------------------- */

bool lora_fusable(const struct loco_context *c, int il, enum loco_lora_target t)
{
    const struct lora_state *ls = &c->lora;
    if (c->m->params.matmul_mode != LOCO_MATMUL_QUANT_ACT)
        return false;
    for (int32_t gi = 0; gi < ls->n_groups; gi++)
        if (ls->groups[gi].n > LORA_FEW_ROWS &&
            lora_pair_at(ls->groups[gi].adapter, il, t)->a.data)
            return false;
    return true;
}

/* t = f A x for every row of every group, into ls->tmp in group order */
static void a_products(struct loco_context *c, int il, enum loco_lora_target t, const float *x,
                       int64_t n_in)
{
    struct lora_state *ls = &c->lora;
    float *tj = ls->tmp;
    for (int32_t gi = 0; gi < ls->n_groups; gi++) {
        const struct lora_group *g = &ls->groups[gi];
        const struct lora_pair *p = lora_pair_at(g->adapter, il, t);
        if (!p->a.data)
            continue;
        for (int32_t j = 0; j < g->n; j++, tj += decode_a(p)->n_out)
            a_row(ls, p, x + (size_t)g->idx[j] * (size_t)n_in, n_in, g->scale[j] * p->factor, tj);
    }
}

struct fused_job {
    const struct loco_context *c;
    int il;
    enum loco_lora_target t;
    float *y;
    int64_t n_out;
};

/* The B products of output rows [o0, o1) of every group row, added in group
 * order as lora_add does. A column's sum is the same chain of fused
 * multiply-adds in a vector lane or in the scalar tail, so the bits do not
 * depend on how the rows were split. */
static void b_then(void *arg, int64_t o0, int64_t o1)
{
    const struct fused_job *fj = arg;
    const struct lora_state *ls = &fj->c->lora;
    const float *tj = ls->tmp;
    for (int32_t gi = 0; gi < ls->n_groups; gi++) {
        const struct lora_group *g = &ls->groups[gi];
        const struct lora_pair *p = lora_pair_at(g->adapter, fj->il, fj->t);
        if (!p->a.data)
            continue;
        axpy_rows_fn axpy = pick_axpy(p->bt_type);
        const size_t elt = loco_type_row_size(p->bt_type, 1);
        const int64_t r = decode_a(p)->n_out;
        const char *bt = (const char *)p->bt + (size_t)o0 * elt;
        for (int32_t j = 0; j < g->n; j++, tj += r)
            axpy(fj->y + (size_t)g->idx[j] * (size_t)fj->n_out + o0, bt, tj, r, o1 - o0,
                 fj->n_out);
    }
}

int lora_project(struct loco_context *c, int il, enum loco_lora_target t,
                 const struct loco_weight *w, const float *x, int32_t n, float *y)
{
    a_products(c, il, t, x, w->n_in);
    lora_prefetch(c, il, t); /* B into L2 while the base product streams its weights */
    struct fused_job fj = {c, il, t, y, w->n_out};
    return loco_matmul_pool_then(c->pool, w->data, w->type, w->n_in, w->n_out, x, n, y, b_then,
                                 &fj);
}

void lora_prefetch(const struct loco_context *c, int il, enum loco_lora_target t)
{
    const struct lora_state *ls = &c->lora;
    if (c->m->params.matmul_mode != LOCO_MATMUL_QUANT_ACT)
        return;
    for (int32_t gi = 0; gi < ls->n_groups; gi++) {
        const struct lora_group *g = &ls->groups[gi];
        const struct lora_pair *p = lora_pair_at(g->adapter, il, t);
        if (!p->a.data || g->n > LORA_FEW_ROWS)
            continue;
        const struct loco_weight *a = decode_a(p);
        prefetch_l2(a->data, (size_t)a->n_out * loco_type_row_size(a->type, a->n_in));
        prefetch_l2(p->bt, (size_t)a->n_out * loco_type_row_size(p->bt_type, p->b.n_out));
    }
}

int lora_add(struct loco_context *c, int il, enum loco_lora_target t, const float *x,
             int64_t n_in, int32_t n, float *y, int64_t n_out)
{
    struct lora_state *ls = &c->lora;
    bool quant_mode = c->m->params.matmul_mode == LOCO_MATMUL_QUANT_ACT;
    for (int32_t gi = 0; gi < ls->n_groups; gi++) {
        const struct lora_group *g = &ls->groups[gi];
        const struct lora_pair *p = lora_pair_at(g->adapter, il, t);
        if (!p->a.data)
            continue;
        if (quant_mode && g->n <= LORA_FEW_ROWS) {
            few_rows(c, g, p, x, n_in, y, n_out);
            continue;
        }
        /* rows in batch order 0..n-1 need no gathering */
        bool whole = g->n == n && g->idx[0] == 0 && g->idx[n - 1] == n - 1;
        const float *xin = x;
        if (!whole) {
            for (int32_t j = 0; j < g->n; j++)
                memcpy(ls->xg + (size_t)j * (size_t)n_in, x + (size_t)g->idx[j] * (size_t)n_in,
                       (size_t)n_in * sizeof(float));
            xin = ls->xg;
        }
        int64_t r = p->a.n_out;
        const struct loco_weight *a = quant_mode && p->aq.data ? &p->aq : &p->a;
        int rc = product(c, a, xin, g->n, ls->tmp);
        if (rc)
            return rc;
        const float *bt = p->bt;
        if (p->bt_type == LOCO_TYPE_F16) {
            const uint16_t *h = p->bt;
            for (size_t i = 0; i < (size_t)(r * n_out); i++)
                ls->bt32[i] = loco_fp16_to_fp32(h[i]);
            bt = ls->bt32;
        }
        for (int32_t j = 0; j < g->n; j++) {
            float f = g->scale[j] * p->factor;
            for (int64_t k = 0; k < r; k++)
                ls->tmp[(size_t)j * (size_t)r + (size_t)k] *= f;
        }
        if (whole) {
            /* y += (f t) Bt in one sgemm */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, (int)n_out, (int)r, 1.0f,
                        ls->tmp, (int)r, bt, (int)n_out, 1.0f, y, (int)n_out);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, (int)n_out, (int)r, 1.0f,
                    ls->tmp, (int)r, bt, (int)n_out, 0.0f, ls->yg, (int)n_out);
        for (int32_t j = 0; j < g->n; j++) {
            float *dst = y + (size_t)g->idx[j] * (size_t)n_out;
            const float *src = ls->yg + (size_t)j * (size_t)n_out;
            for (int64_t o = 0; o < n_out; o++)
                dst[o] += src[o];
        }
    }
    return LOCO_OK;
}
