/*
 * export.c - write the trainer's LoRA parameters as an adapter file.
 *
 * Kept apart from trainer.c so that the forward/backward core does not
 * depend on the adapter writer (src/lora).
 */
#include "train/core/trainer_internal.h"

#include <stdlib.h>

int loco_trainer_save_adapter(const struct loco_trainer *t, const char *path,
                              const struct loco_adapter_meta *meta, enum loco_type type)
{
    if (!t || !path)
        return loco_error_set(LOCO_ERR_INVALID, "save adapter: trainer and path are required");
    struct loco_adapter_meta md = {0};
    if (meta)
        md = *meta;
    if (md.alpha == 0.0f)
        md.alpha = t->cfg.alpha;
    if (!md.arch)
        md.arch = t->hp.arch_name;
    size_t cap = (size_t)t->hp.n_layer * LOCO_LORA_N_TARGETS, n = 0;
    struct loco_lora_pair *pairs = calloc(cap, sizeof *pairs);
    if (!pairs)
        return loco_error_set(LOCO_ERR_NOMEM, "save adapter: out of memory");
    for (int il = 0; il < t->hp.n_layer; il++)
        for (int j = 0; j < LOCO_LORA_N_TARGETS; j++) {
            const struct train_proj *pr = &t->layers[il].proj[j];
            if (!pr->lora)
                continue;
            pairs[n++] = (struct loco_lora_pair){.layer = il,
                                                 .target = (enum loco_lora_target)j,
                                                 .n_in = pr->n_in,
                                                 .n_out = pr->n_out,
                                                 .rank = t->cfg.rank,
                                                 .a = t->params + pr->a,
                                                 .b = t->params + pr->b};
        }
    int rc = loco_adapter_write(path, &md, pairs, n, type);
    free(pairs);
    return rc;
}
