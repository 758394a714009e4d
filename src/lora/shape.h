/*
 * shape.h - what an adapter file's tensors say about it without loading
 * it: its rank and the projections it targets (the registry's file check
 * and `loco adapters install` compare these with what an entry claims).
 */
#ifndef LOCO_LORA_SHAPE_H
#define LOCO_LORA_SHAPE_H

#include <stdint.h>

#include "loco/gguf.h"

/* The largest rank and the LOCO_LORA_TARGET_BIT mask of the "blk.N.T.lora_a"
 * tensors of g (names it does not know are skipped). */
void lora_gguf_shape(const struct loco_gguf *g, int32_t *rank, unsigned *targets);

#endif
