/*
 * router_internal.h - the routers built into the table of router.c.
 */
#ifndef LOCO_ROUTER_INTERNAL_H
#define LOCO_ROUTER_INTERNAL_H

#include "loco/router.h"

extern const struct loco_router_ops router_keyword_ops;
extern const struct loco_router_ops router_classifier_ops;
extern const struct loco_router_ops router_arrow_ops;

#endif
