/*
 * context_internal.h - a context's private state, shared by the forward
 * pass (forward.c) and the LoRA hook (lora_apply.c).
 */
#ifndef LOCO_CONTEXT_INTERNAL_H
#define LOCO_CONTEXT_INTERNAL_H

#include "loco/lora.h"
#include "loco/pool.h"
#include "model_internal.h"

/* One sequence's adapter set and the tag its KV cache carries. */
struct seq_adapters {
    int32_t n;
    struct loco_adapter_ref refs[LOCO_MAX_SET_ADAPTERS];
    uint64_t tag;
};

/* The tokens of the current batch that one adapter applies to. */
struct lora_group {
    const struct loco_adapter *adapter;
    int32_t n;
    int32_t *idx;  /* [n] batch rows */
    float *scale;  /* [n] user scale of the row's sequence */
};

struct lora_state {
    struct seq_adapters *sets; /* [S] */
    int32_t n_active;          /* sequences with a non-empty set */
    struct lora_group *groups; /* this batch's adapters */
    int32_t n_groups, cap_groups;
    float *xg, *tmp, *yg;      /* gathered input, A x, B (A x) */
    float *bt32;               /* one projection's B^T in f32 for sgemm */
    size_t cap_xg, cap_tmp, cap_yg, cap_bt32;
};

struct att_run {
    int32_t t0, n;    /* batch rows [t0, t0 + n) */
    int32_t seq, p0;  /* their sequence and first position */
};

struct att_job {
    int32_t run, r0, n, h;
};

struct loco_context {
    const struct loco_model *m;
    struct loco_context_params p;
    struct loco_pool *pool; /* p.n_threads threads for matmuls and attention */
    bool simd;              /* the CPU runs AVX2 (a SIMD kernel set is in use) */
    int32_t *seq_len;   /* [S] cached positions per sequence */
    int32_t *seq_tokens; /* [S][T] the token at each cached position */
    float *k_cache;     /* [S][L][T][Hkv*D] */
    float *v_cache;     /* [S][L][T][Hkv*D] */
    /* activations for up to n_batch tokens, carved from one block */
    float *block;
    float *x;           /* [B][C]  residual stream */
    float *h;           /* [B][C]  normalized input of a sublayer */
    float *o;           /* [B][C]  sublayer output */
    float *q;           /* [B][H*D] */
    float *k;           /* [B][Hkv*D] */
    float *v;           /* [B][Hkv*D] */
    float *att;         /* [B][H*D] attention output */
    float *ff_gate;     /* [B][F] */
    float *ff_up;       /* [B][F] */
    float *scores;      /* [threads][ATT_BLOCK][T] attention scores */
    float *rope_cos;    /* [B][n_rot/2] for the current layer's base */
    float *rope_sin;    /* [B][n_rot/2] */
    float *logits;      /* [n_logits][V], grown on demand */
    struct att_run *runs; /* [B] attention runs of the current batch */
    struct att_job *jobs; /* [B * H] attention work items */
    int32_t logits_cap;
    int32_t n_logits;
    int32_t last_n;     /* tokens of the last successful decode call (their x rows) */
    float *capture;     /* loco_context_capture: [L][capture_tokens][C], or NULL */
    int32_t capture_tokens;
    int32_t n_layers_run; /* loco_context_set_layers: layers a decode runs (0: all) */
    size_t bytes;
    struct lora_state lora; /* per-sequence adapter sets (lora_apply.c) */
};

/* Group this batch's rows by adapter (nothing to do when no sequence has
 * adapters). */
int lora_prepare(struct loco_context *c, const struct loco_batch *b);
/* Ask for the A and B of projection `t` of layer il of every decode-size
 * group, before the base product runs, so that lora_add finds them in
 * cache. */
void lora_prefetch(const struct loco_context *c, int il, enum loco_lora_target t);
/* y[n][n_out] += the LoRA deltas of projection `t` of layer il for x[n][n_in]. */
int lora_add(struct loco_context *c, int il, enum loco_lora_target t, const float *x,
             int64_t n_in, int32_t n, float *y, int64_t n_out);
/* Whether projection `t` of layer il runs fused (lora_project): quantized
 * activations and every group with a pair there decode-size, so each row's
 * delta is the per-row path's whatever its batch. */
bool lora_fusable(const struct loco_context *c, int il, enum loco_lora_target t);
/* y[n][w->n_out] = w x plus the LoRA deltas of projection `t` of layer il,
 * the B products inside the base product's work items
 * (loco_matmul_pool_then). Only where lora_fusable holds. */
int lora_project(struct loco_context *c, int il, enum loco_lora_target t,
                 const struct loco_weight *w, const float *x, int32_t n, float *y);
int lora_init(struct loco_context *c);
void lora_free(struct loco_context *c);

#endif
