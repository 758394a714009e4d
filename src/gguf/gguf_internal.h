/*
 * gguf_internal.h - what the GGUF reader and writer share, and nobody else.
 *
 * The container module keeps its own small table of ggml tensor types
 * (block size and bytes per block, docs/formats/gguf.md) instead of asking the
 * quant module: reading and writing files must not depend on which kernels
 * exist, and a file with a type the engine cannot compute with should still
 * open so that tools can list it.
 */
#ifndef LOCO_GGUF_INTERNAL_H
#define LOCO_GGUF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/gguf.h"

/* Facts about one ggml type id as GGUF stores it. */
struct loco_gguf_type_info {
    const char *name; /* "Q4_K"; "unknown" for ids without a record */
    int64_t block;    /* elements per block; 0 when unknown or removed */
    size_t size;      /* bytes per block */
};

/* Record for ggml type id `id` (any value; unknown ids get block 0). */
struct loco_gguf_type_info loco_gguf_ggml_type(uint32_t id);

/* Bytes taken by a tensor of `type` and shape ne[0..3] (missing dims 1):
 * ne[0]/block * size * ne[1] * ne[2] * ne[3]. Returns false when the type is
 * unknown, ne[0] is not a multiple of the block, a dimension is negative, or
 * the element count or the byte count does not fit in int64. */
bool loco_gguf_tensor_nbytes(uint32_t type, const int64_t ne[LOCO_GGUF_MAX_DIMS], uint64_t *nbytes);

/* Raw little-endian bytes of the scalar value of entry kv (NULL for strings,
 * arrays, or an index out of range). Used by the writer to copy entries
 * without converting them. */
const void *loco_gguf_kv_scalar(const struct loco_gguf *g, int64_t kv);

#endif
