/*
 * contam_recipe.c - the contamination index of an adapter's training data,
 * read through the adapter's own training recipe: the same file, filters,
 * offset, limit and templates that `loco train` used, so the index holds
 * exactly the texts the adapter saw (its validation split included, which
 * it was scored on during training).
 */
#include <stdlib.h>

#include "loco/contam.h"
#include "loco/trainrun.h"

int loco_contam_index_add_recipe(struct loco_contam_index *ix, const char *recipe_path,
                                 const struct loco_model *m, size_t *n_examples)
{
    if (!ix || !recipe_path || !m)
        return loco_error_set(LOCO_ERR_INVALID, "contamination: no index, recipe or model");
    struct loco_recipe *r = loco_recipe_load(recipe_path);
    if (!r) {
        loco_error_prefix("contamination check: training recipe %s", recipe_path);
        return LOCO_ERR_IO;
    }
    struct loco_train_data *d = loco_train_data_load(r, m);
    if (!d) {
        loco_error_prefix("contamination check: training data of %s", recipe_path);
        loco_recipe_free(r);
        return LOCO_ERR_IO;
    }
    int rc = LOCO_OK;
    for (size_t i = 0; i < d->n_examples && rc == LOCO_OK; i++) {
        const struct loco_train_example *e = &d->examples[i];
        if (e->prompt)
            rc = loco_contam_index_add(ix, e->prompt);
        if (rc == LOCO_OK && e->reference)
            rc = loco_contam_index_add(ix, e->reference);
    }
    if (n_examples)
        *n_examples = d->n_examples;
    loco_train_data_free(d);
    loco_recipe_free(r);
    return rc;
}
