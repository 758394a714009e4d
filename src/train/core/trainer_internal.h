/*
 * trainer_internal.h - the trainer's structures, shared by trainer.c (the
 * forward and backward passes) and export.c (writing an adapter).
 *
 * Shapes: T max_seq tokens, C n_embd, H heads, Hkv kv heads, D head dim,
 * F n_ff, V vocab, R LoRA rank, L layers.
 */
#ifndef LOCO_TRAINER_INTERNAL_H
#define LOCO_TRAINER_INTERNAL_H

#include "loco/train.h"
#include "model/model_internal.h"

/* One projection of a layer and, when trained, its LoRA pair. */
struct train_proj {
    const float *w; /* base matrix [n_out][n_in], dequantized */
    int64_t n_in, n_out;
    bool lora;     /* adapted by the LoRA */
    size_t a, b;   /* offsets of A [R][n_in] and B [n_out][R] in the parameters */
    float *lu;     /* saved A drop(x) [T][R] */
    uint8_t *keep; /* saved dropout mask [T][n_in]; NULL when dropout is 0 */
};

struct train_layer {
    struct train_proj proj[LOCO_LORA_N_TARGETS]; /* q, k, v, o, gate, up, down */
    const struct loco_layer *base;               /* norms, biases, rope (the model's) */
    /* saved by the forward for the backward */
    float *x_attn;    /* [T][C] residual stream entering the attention block */
    float *rstd_attn; /* [T] */
    float *q;         /* [T][H*D] after bias and rope */
    float *k;         /* [T][Hkv*D] after bias and rope */
    float *v;         /* [T][Hkv*D] */
    float *att;       /* [T][H*D] attention output, input of Wo */
    float *x_ffn;     /* [T][C] residual stream entering the FFN block */
    float *rstd_ffn;  /* [T] */
    float *g;         /* [T][F] gate projection */
    float *u;         /* [T][F] up projection */
};

/* Per-call work buffers, each [T] rows, carved from one block. */
struct train_scratch {
    float *h;                 /* [T][C] normalized input of a sublayer */
    float *o;                 /* [T][C] sublayer output */
    float *act;               /* [T][F] silu(g) * u */
    float *xd;                /* [T][max n_in] dropped input of A */
    float *x_out;             /* [T][C] residual stream after the last layer */
    float *dx;                /* [T][C] gradient of the residual stream */
    float *dh;                /* [T][C] gradient of a normalized input */
    float *dq;                /* [T][H*D] */
    float *dk, *dv;           /* [T][Hkv*D] */
    float *dkh, *dvh;         /* [H][T][D] per query head, summed over each group */
    float *datt;              /* [T][H*D] */
    float *dact, *dg, *du;    /* [T][F] */
    float *ldu;               /* [T][R] gradient of A drop(x) */
    float *probs;             /* [threads][2][64][T] attention probabilities and their gradient */
    float *rope_cs, *rope_sn; /* [T][n_rot/2] */
    int32_t rope_n;           /* positions the rope tables hold, and for which base and scale */
    float rope_base, rope_scale;
    float *hf;     /* [T][C] final normalized rows that predict a target */
    float *rstd_f; /* [T] */
    float *dhf;    /* [T][C] */
    float *logits; /* [LOGIT_ROWS][V] */
    double *nll;   /* [T] */
    int32_t *rows; /* [T] position whose logits predict target k */
    int32_t *tgt;  /* [T] the target token */
};

struct loco_trainer {
    const struct loco_model *m;
    struct loco_hparams hp;
    struct loco_lora_config cfg;
    float lora_scale; /* alpha / R */
    int32_t max_seq;
    int32_t nt;                 /* threads, the caller included */
    struct loco_pool *pool;     /* nt threads that run every parallel loop; owned */
    float *weights;             /* every dequantized matrix, one block */
    const float *head;          /* [V][C] output head (the token embedding when tied) */
    struct train_layer *layers; /* [L] */
    size_t n_params;
    float *params;  /* [n_params] */
    float *grads;   /* [n_params] */
    float *acts;    /* saved activations, one block */
    uint8_t *masks; /* saved dropout masks, one block (NULL without dropout) */
    void *work;     /* scratch, one block: doubles, then floats, then ints */
    struct train_scratch s;
};

#endif
