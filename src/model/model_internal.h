/*
 * model_internal.h - the model's private structures, shared by the loader
 * (model.c) and the forward pass (forward.c).
 */
#ifndef LOCO_MODEL_INTERNAL_H
#define LOCO_MODEL_INTERNAL_H

#include "loco/model.h"
#include "loco/quant.h"

/* A weight matrix used in place: n_out rows of n_in elements of `type`. */
struct loco_weight {
    const void *data;
    enum loco_type type;
    int64_t n_in;
    int64_t n_out;
};

struct loco_layer {
    /* f32 copies, NULL when the architecture has none */
    float *attn_norm;      /* [C] */
    float *ffn_norm;       /* [C] */
    float *q_norm;         /* [D]   qwen3, gemma3 */
    float *k_norm;         /* [D]   qwen3, gemma3 */
    float *post_attn_norm; /* [C]   gemma3 */
    float *post_ffw_norm;  /* [C]   gemma3 */
    float *bq, *bk, *bv;   /* [H*D], [Hkv*D], [Hkv*D]  qwen2 */
    struct loco_weight wq, wk, wv, wo;  /* [C -> H*D], [C -> Hkv*D] x2, [H*D -> C] */
    struct loco_weight gate, up, down;  /* [C -> F] x2, [F -> C] */
    bool local;       /* sliding-window layer */
    float rope_base;  /* this layer's rope base and scale */
    float rope_scale;
};

struct loco_model {
    struct loco_gguf *gguf;
    struct loco_hparams hp;
    struct loco_model_params params;
    struct loco_tokenizer *tokenizer;
    struct loco_weight tok_embd; /* [C -> V] rows are token embeddings */
    struct loco_weight output;   /* [C -> V] (tok_embd when tied) */
    float *output_norm;          /* [C] */
    struct loco_layer *layers;   /* [L] */
    float *f32_block;            /* one allocation holding every f32 vector */
    char sha256[65];             /* file digest, computed on first use (lora.c) */
};

#endif
