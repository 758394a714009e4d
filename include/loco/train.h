/*
 * loco/train.h - the LoRA training core: forward and hand-written backward
 * through the transformer with the base weights frozen.
 *
 * The base weights are the model's quantized values, dequantized to f32 once
 * when the trainer is created. Only the LoRA matrices are trained; every
 * adapted projection computes
 *     y = W x + (alpha / r) * B (A dropout(x))
 * exactly as the run-time hook does (loco/lora.h) with scale 1, so an
 * exported adapter reproduces the trainer's logits.
 *
 * Parameters live in one flat f32 vector so that an optimizer and a
 * checkpoint need not know the model's structure. Layout: for each layer
 * il = 0..L-1, for each enabled target in enum order (q, k, v, o, gate, up,
 * down): A [r][n_in] then B [n_out][r]. Initialisation (PEFT's): A uniform
 * in [-1/sqrt(n_in), 1/sqrt(n_in)] from the seed, B = 0.
 *
 * A run with the same inputs, seed and thread count gives bit-identical
 * results.
 */
#ifndef LOCO_TRAIN_H
#define LOCO_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/lora.h"
#include "loco/model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct loco_lora_config {
    int32_t rank;
    float alpha;
    float dropout;    /* probability of zeroing an input of A (inverted dropout) */
    unsigned targets; /* LOCO_LORA_TARGET_BIT mask */
};

struct loco_trainer; /* opaque */

/* Trainer for sequences of up to max_seq tokens. Architectures: llama and
 * qwen2 (others are refused with a message). `m` is borrowed. */
struct loco_trainer *loco_trainer_create(const struct loco_model *m,
                                         const struct loco_lora_config *cfg, int32_t max_seq,
                                         int32_t n_threads, uint64_t seed);
void loco_trainer_free(struct loco_trainer *t);

size_t loco_trainer_n_params(const struct loco_trainer *t);
float *loco_trainer_params(struct loco_trainer *t); /* [n_params], writable */
float *loco_trainer_grads(struct loco_trainer *t);  /* [n_params] */
void loco_trainer_zero_grads(struct loco_trainer *t);
const struct loco_lora_config *loco_trainer_config(const struct loco_trainer *t);

/* One sequence of n <= max_seq tokens. target[i] != 0 marks token i as a
 * training target, predicted from position i-1 (target[0] is ignored).
 * Adds grad_scale * d(sum of the targets' negative log-likelihoods)/d(param)
 * to the gradients; *loss_sum gets that sum and *n_targets the count.
 * dropout_seed drives the dropout masks (ignored when dropout is 0). */
int loco_trainer_forward_backward(struct loco_trainer *t, const int32_t *tokens,
                                  const uint8_t *target, int32_t n, float grad_scale,
                                  uint64_t dropout_seed, double *loss_sum, int32_t *n_targets);

/* The same loss without gradients and without dropout. */
int loco_trainer_loss(struct loco_trainer *t, const int32_t *tokens, const uint8_t *target,
                      int32_t n, double *loss_sum, int32_t *n_targets);

/* Write the current parameters as an adapter file (meta->alpha and
 * meta->arch are filled from the trainer when zero/NULL). */
int loco_trainer_save_adapter(const struct loco_trainer *t, const char *path,
                              const struct loco_adapter_meta *meta, enum loco_type type);

#ifdef __cplusplus
}
#endif
#endif
