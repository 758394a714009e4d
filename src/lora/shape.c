/*
 * shape.c - an adapter file's rank and targets from its tensors (shape.h).
 */
#include "lora/shape.h"

#include <stdio.h>
#include <string.h>

#include "loco/lora.h"

void lora_gguf_shape(const struct loco_gguf *g, int32_t *rank, unsigned *targets)
{
    *rank = 0;
    *targets = 0;
    for (int64_t i = 0; i < loco_gguf_n_tensors(g); i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        char stem[LOCO_GGUF_MAX_NAME];
        int layer;
        size_t len = strlen(t->name);
        if (len < 8 || strcmp(t->name + len - 7, ".lora_a") != 0)
            continue;
        if (sscanf(t->name, "blk.%d.%63[^.]", &layer, stem) != 2)
            continue;
        enum loco_lora_target tg;
        if (loco_lora_target_parse(stem, &tg) == LOCO_OK)
            *targets |= LOCO_LORA_TARGET_BIT(tg);
        if (t->ne[1] > *rank)
            *rank = (int32_t)t->ne[1];
    }
    loco_error_clear();
}
