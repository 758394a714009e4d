/*
 * lora_internal.h - a loaded adapter as the forward pass sees it, and what
 * the module's files share.
 */
#ifndef LOCO_LORA_INTERNAL_H
#define LOCO_LORA_INTERNAL_H

#include <string.h>

#include "loco/lora.h"
#include "model/model_internal.h"

/* One adapted projection: A maps n_in -> r, B maps r -> n_out. a.data is
 * NULL where the adapter leaves the projection alone. */
struct lora_pair {
    struct loco_weight a;
    /* A requantized to Q8_0 for decode steps in the default (quantized
     * activation) mode, where the f16 dots would cost more than the base
     * model's int8 ones; data NULL when n_in is not a multiple of 32. */
    struct loco_weight aq;
    struct loco_weight b;
    /* B transposed, [r][n_out]: a row per rank, added as axpy rows. fp16 when
     * the file stores B as F16 (exact, half the memory), else f32. */
    void *bt;
    enum loco_type bt_type;
    float factor; /* alpha / r, or 1 when alpha is 0 */
};

struct loco_adapter {
    struct loco_gguf *gguf;
    const struct loco_model *base;
    struct loco_adapter_info info;
    uint64_t id;
    int32_t n_layer;
    struct lora_pair *pairs; /* [n_layer][LOCO_LORA_N_TARGETS] */
};

static inline const struct lora_pair *lora_pair_at(const struct loco_adapter *a, int il,
                                                   enum loco_lora_target t)
{
    return &a->pairs[(size_t)il * LOCO_LORA_N_TARGETS + (size_t)t];
}

/* The file name of path without its folder and ".gguf" ("a/math.gguf" ->
 * "math"), cut to fit out[cap]: an adapter's default name. */
static inline void lora_file_stem(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".gguf") == 0)
        n -= 5;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

#endif
