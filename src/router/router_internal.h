/*
 * router_internal.h - the routers built into the table of router.c.
 */
#ifndef LOCO_ROUTER_INTERNAL_H
#define LOCO_ROUTER_INTERNAL_H

#include "loco/router.h"

extern const struct loco_router_ops router_keyword_ops;
extern const struct loco_router_ops router_classifier_ops;
extern const struct loco_router_ops router_arrow_ops;
extern const struct loco_router_ops router_learned_ops;

/* A router's file: $env when set, else `name` in the registry file's folder. */
int router_file_path(const struct loco_registry *reg, const char *env, const char *name,
                     char *buf, size_t cap);

/* loco_classifier_fit on the rows rows[0..n) of X (rows NULL: the first n
 * rows), so cross-validation folds need no copy of X (classifier.c). */
int classifier_fit_rows(const float *X, const int32_t *y, const size_t *rows, size_t n,
                        int32_t dim, const char *const *labels, int32_t n_labels,
                        const struct loco_classifier_params *p, struct loco_classifier *out);

#endif
