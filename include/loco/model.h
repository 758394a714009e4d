/*
 * loco/model.h - transformer weights and the forward pass.
 *
 * A model is a GGUF file mapped read-only: weights are used in place (never
 * copied) except the small norm and bias vectors, which are converted to f32
 * once. Supported architectures: llama (SmolLM2, TinyLlama, llama2.c),
 * qwen2, qwen3 and gemma3 (docs/model.md).
 *
 * A context holds the mutable state for a batch of independent sequences:
 * a KV cache per sequence sized to what the caller asks (n_ctx tokens), and
 * one activation block for up to n_batch tokens per decode call. A decode
 * call takes any mix of tokens from any sequences (prefill of one, decode
 * step of several, or both) and computes logits where asked.
 *
 * Legend for shapes in comments: B tokens in a batch, C n_embd, H n_head,
 * Hkv n_head_kv, D head_dim, F n_ff, V n_vocab, T n_ctx, L n_layer.
 */
#ifndef LOCO_MODEL_H
#define LOCO_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/gguf.h"
#include "loco/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

enum loco_arch { LOCO_ARCH_LLAMA = 1, LOCO_ARCH_QWEN2, LOCO_ARCH_QWEN3, LOCO_ARCH_GEMMA3 };

enum loco_rope_type { LOCO_ROPE_NORM = 0, LOCO_ROPE_NEOX = 2 };

struct loco_hparams {
    enum loco_arch arch;
    char arch_name[32];
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;    /* C */
    int32_t n_layer;   /* L */
    int32_t n_head;    /* H */
    int32_t n_head_kv; /* Hkv */
    int32_t head_dim;  /* D, keys and values */
    int32_t n_ff;      /* F */
    int32_t n_rot;     /* rotated dims per head */
    enum loco_rope_type rope_type;
    float rope_base;      /* global layers */
    float rope_base_swa;  /* sliding-window layers (gemma3) */
    float rope_freq_scale;
    float rms_eps;
    float attn_scale;     /* multiplies q.k */
    float embd_scale;     /* multiplies the input embedding (gemma3: sqrt(C)) */
    int32_t n_swa;        /* sliding window (0 = none) */
    int32_t swa_pattern;  /* layer il is local when il % pattern < pattern - 1 */
    float final_softcap;  /* 0 = none */
    bool tied_output;     /* output head is token_embd */
};

/* How matrix products treat activations. */
enum loco_matmul_mode {
    LOCO_MATMUL_QUANT_ACT = 0, /* quantize activations like llama.cpp (default, fastest) */
    LOCO_MATMUL_F32_ACT = 1,   /* dequantize weights, f32 activations */
};

struct loco_model_params {
    enum loco_matmul_mode matmul_mode;
    bool gelu_fp16; /* round GELU input/output through fp16 like ggml's CPU table */
    bool load_tokenizer; /* build a tokenizer from the file's vocabulary */
};

struct loco_model_params loco_model_default_params(void);

struct loco_model; /* opaque */

/* Map `path` and bind its tensors. NULL on failure with a message naming
 * the file and the missing or malformed key/tensor. Free with
 * loco_model_free(). */
struct loco_model *loco_model_load(const char *path, struct loco_model_params params);
void loco_model_free(struct loco_model *m);

const struct loco_hparams *loco_model_hparams(const struct loco_model *m);
/* The file; valid while the model lives. */
const struct loco_gguf *loco_model_gguf(const struct loco_model *m);
/* The tokenizer (NULL when params.load_tokenizer was false or the file has
 * no vocabulary); owned by the model. */
const struct loco_tokenizer *loco_model_tokenizer(const struct loco_model *m);
/* Bytes of weights a single decode step reads (all matrices + the output
 * head; the embedding contributes one row). Used for the roofline. */
size_t loco_model_weight_bytes_per_token(const struct loco_model *m);
/* Total bytes of tensor data in the file. */
size_t loco_model_weight_bytes(const struct loco_model *m);
uint64_t loco_model_n_params(const struct loco_model *m);

/* ---- contexts ---------------------------------------------------------- */

struct loco_context_params {
    int32_t n_ctx;     /* KV cache length per sequence (tokens) */
    int32_t n_seq;     /* number of independent sequences */
    int32_t n_batch;   /* max tokens in one decode call */
    int32_t n_threads; /* threads (the context's loco_pool) for matmuls and attention */
};

struct loco_context_params loco_context_default_params(void);

struct loco_context; /* opaque */

/* Allocate KV cache (2 * L * n_seq * n_ctx * Hkv * D floats) and activations
 * for n_batch tokens. `m` is borrowed and must outlive the context. */
struct loco_context *loco_context_init(const struct loco_model *m,
                                       struct loco_context_params params);
void loco_context_free(struct loco_context *c);

struct loco_context_params loco_context_params(const struct loco_context *c);
/* Bytes allocated by the context (KV cache + activations). */
size_t loco_context_bytes(const struct loco_context *c);

/* One decode call: n tokens, token i at position pos[i] of sequence seq[i].
 * Positions of a sequence must continue its cache: a token at position p
 * needs positions 0..p-1 of that sequence already in the cache or earlier in
 * this batch. want_logits[i] asks for the logits after token i (NULL: only
 * for the last token). */
struct loco_batch {
    int32_t n;
    const int32_t *tokens;
    const int32_t *pos;
    const int32_t *seq;
    const bool *want_logits;
};

int loco_decode(struct loco_context *c, const struct loco_batch *batch);

/* Logits [V] of the k-th token that asked for them in the last decode call
 * (in batch order). NULL if k is out of range. Valid until the next call. */
const float *loco_context_logits(const struct loco_context *c, int32_t k);
int32_t loco_context_n_logits(const struct loco_context *c);

/* The final hidden state of token i (batch order) of the last decode call:
 * the last layer's output after the output norm, i.e. what the output head
 * reads, into out[n_embd]. Computed for every token whether or not it asked
 * for logits (routers read it without paying for the head). Valid until the
 * next decode call; LOCO_ERR_RANGE for an i outside that call. */
int loco_context_hidden(const struct loco_context *c, int32_t i, float *out);

/* From the next decode call on, keep every layer's attention input (the
 * normalised residual that q, k and v read) of each token at position
 * p < max_tokens in buf[layer][p][n_embd] (routers read what the adapters'
 * projections see). buf NULL or max_tokens 0 stops it. buf is borrowed. */
void loco_context_capture(struct loco_context *c, float *buf, int32_t max_tokens);

/* Early exit: from the next decode call on, run only the first n_layers of
 * the model's layers (0 or L: all of them). Routers read early layers'
 * hidden states for a fraction of a full pass. While it is set, decode
 * computes no logits (loco_context_n_logits is 0), loco_context_hidden is
 * the output of layer n_layers - 1 after the output norm, and the skipped
 * layers' KV cache is left unfilled: clear the sequence before decoding it
 * with all layers again. LOCO_ERR_INVALID outside [0, L]. */
int loco_context_set_layers(struct loco_context *c, int32_t n_layers);

/* Forget sequence s (its next token starts at position 0). */
void loco_context_seq_clear(struct loco_context *c, int32_t s);
/* Number of cached positions of sequence s. */
int32_t loco_context_seq_len(const struct loco_context *c, int32_t s);
/* The tokens at cached positions [0, seq_len) of sequence s (NULL if s is
 * out of range); valid until the next decode or clear. */
const int32_t *loco_context_seq_tokens(const struct loco_context *c, int32_t s);
/* Keep only positions [0, n) of sequence s (n <= current length). */
int loco_context_seq_truncate(struct loco_context *c, int32_t s, int32_t n);
/* Fork sequence src into dst: dst's cache becomes positions [0, n) of src's
 * (keys, values and the token at each position; n <= src's length) and dst
 * takes src's adapter set (loco_context_set_adapters), under which those
 * keys and values were computed. dst's old cache is dropped; src is
 * unchanged. A prompt prefilled once can then be continued by several
 * sequences (self-consistency). LOCO_ERR_INVALID for a sequence out of
 * range or n beyond src's length. */
int loco_context_seq_copy(struct loco_context *c, int32_t src, int32_t dst, int32_t n);

#ifdef __cplusplus
}
#endif
#endif
