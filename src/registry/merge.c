/*
 * merge.c - the user overlay merged over the project registry.
 *
 * The rule (docs/registry.md, "Overlay"):
 *   - mappings merge key by key, recursively;
 *   - any other overlay value (scalar, list) replaces the project's;
 *   - `adapters` merge by `name`: a known name overrides the fields the
 *     overlay gives, a new name is appended;
 *   - an adapter's `scores` merge by `benchmark` in the same way, except
 *     that an overlay score entry replaces the project's entry whole (a
 *     score is one measurement, never a mix of two);
 *   - `base_model` is the project's alone (view.c reports an overlay that
 *     sets it).
 * Merged nodes keep the file and line they came from, so a problem in the
 * merged view is reported against the file that caused it.
 */
#include <string.h>

#include "registry/registry_internal.h"

static int merge_node(struct rnode *base, const struct rnode *over, const char *key);

/* Entries of seq `over` merged into seq `base` by the scalar at `id`. Entries
 * without it are appended as they are (the schema check reports them). */
static int merge_keyed_seq(struct rnode *base, const struct rnode *over, const char *id,
                           bool replace_whole)
{
    for (size_t i = 0; i < over->n; i++) {
        const struct rnode *o = over->kids[i];
        const struct rnode *name = rnode_get(o, id);
        int at = (name && name->kind == RNODE_SCALAR) ? rnode_find_by(base, id, name->str) : -1;
        int rc;
        if (at < 0) {
            rc = rnode_append(base, rnode_copy(o));
        } else if (replace_whole) {
            struct rnode *c = rnode_copy(o);
            if (!c)
                return loco_error_set(LOCO_ERR_NOMEM, "out of memory merging the registry");
            rnode_free(base->kids[at]);
            base->kids[at] = c;
            rc = LOCO_OK;
        } else {
            rc = merge_node(base->kids[at], o, NULL);
        }
        if (rc != LOCO_OK)
            return rc;
    }
    return LOCO_OK;
}

static int merge_map(struct rnode *base, const struct rnode *over)
{
    for (size_t i = 0; i < over->n; i++) {
        const char *k = over->keys[i];
        struct rnode *b = rnode_get(base, k);
        int rc = b ? merge_node(b, over->kids[i], k) : rnode_set(base, k, rnode_copy(over->kids[i]));
        if (rc != LOCO_OK)
            return rc;
    }
    return LOCO_OK;
}

/* Merge `over` into `base`, where both sit under `key` (NULL: a list item). */
static int merge_node(struct rnode *base, const struct rnode *over, const char *key)
{
    if (base->kind == RNODE_MAP && over->kind == RNODE_MAP)
        return merge_map(base, over);
    if (key && base->kind == RNODE_SEQ && over->kind == RNODE_SEQ) {
        if (strcmp(key, "adapters") == 0)
            return merge_keyed_seq(base, over, "name", false);
        if (strcmp(key, "scores") == 0)
            return merge_keyed_seq(base, over, "benchmark", true);
    }
    struct rnode *c = rnode_copy(over);
    if (!c)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory merging the registry");
    /* replace base's content in place (base is owned by its parent) */
    struct rnode tmp = *base;
    *base = *c;
    *c = tmp;
    rnode_free(c);
    return LOCO_OK;
}

int registry_merge(struct rnode *base, const struct rnode *overlay)
{
    for (size_t i = 0; i < overlay->n; i++) {
        if (strcmp(overlay->keys[i], "base_model") == 0)
            continue; /* the project's alone; view.c reports it */
        const char *k = overlay->keys[i];
        struct rnode *b = rnode_get(base, k);
        int rc = b ? merge_node(b, overlay->kids[i], k)
                   : rnode_set(base, k, rnode_copy(overlay->kids[i]));
        if (rc != LOCO_OK)
            return rc;
    }
    return LOCO_OK;
}
