/*
 * yaml_guard.c - limits on a YAML text, checked on libyaml's event stream
 * before the document loader sees it (see core/yaml_guard.h).
 *
 * Expanded size: every scalar and every collection counts 1, an alias
 * counts the expanded size of the node its anchor names. A running total
 * of those counts is the size a tree walker would build, so the check can
 * stop at the first alias that makes it too big, long before anything is
 * expanded. An anchor's size is the total at its node's end minus the total
 * at its start.
 */
#include "core/yaml_guard.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "loco/core.h"

struct anchor {
    char *name;
    uint64_t size; /* expanded nodes; valid once closed */
    bool open;     /* its collection has not ended yet */
};

/* One open mapping or sequence: where the total stood at its start and
 * which anchor (index, or -1) names it. */
struct frame {
    uint64_t start;
    int32_t anchor;
};

struct guard {
    const struct yaml_guard_limits *lim;
    const char *file;
    struct anchor *anchors;
    uint32_t n_anchors, n_aliases;
    struct frame *stack; /* [max_depth + 1] */
    uint32_t depth, documents;
    uint64_t total;
};

static unsigned long line_of(const yaml_event_t *ev)
{
    return (unsigned long)ev->start_mark.line + 1;
}

static int32_t find_anchor(const struct guard *g, const char *name)
{
    for (uint32_t i = g->n_anchors; i-- > 0;) /* latest definition wins */
        if (strcmp(g->anchors[i].name, name) == 0)
            return (int32_t)i;
    return -1;
}

/* A node starts: count it, and define its anchor (if any) as open. */
static int node_start(struct guard *g, const yaml_event_t *ev, const yaml_char_t *anchor,
                      int32_t *index)
{
    *index = -1;
    if (++g->total > g->lim->max_nodes)
        return loco_error_set(LOCO_ERR_RANGE, "%s:%lu: more than %llu YAML nodes", g->file,
                              line_of(ev), (unsigned long long)g->lim->max_nodes);
    if (!anchor)
        return LOCO_OK;
    if (g->n_anchors >= g->lim->max_anchors)
        return loco_error_set(LOCO_ERR_RANGE, "%s:%lu: more than %u YAML anchors (&name)", g->file,
                              line_of(ev), g->lim->max_anchors);
    size_t n = strlen((const char *)anchor);
    char *name = malloc(n + 1);
    if (!name)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", g->file);
    memcpy(name, anchor, n + 1);
    g->anchors[g->n_anchors] = (struct anchor){name, 1, true};
    *index = (int32_t)g->n_anchors++;
    return LOCO_OK;
}

static int on_alias(struct guard *g, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    if (++g->n_aliases > g->lim->max_aliases)
        return loco_error_set(LOCO_ERR_RANGE, "%s:%lu: more than %u YAML aliases (*name)", g->file,
                              line_of(ev), g->lim->max_aliases);
    int32_t i = find_anchor(g, name);
    if (i < 0)
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%lu: alias *%s names no anchor before it",
                              g->file, line_of(ev), name);
    if (g->anchors[i].open)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s:%lu: alias *%s is inside its own anchor (a cycle)", g->file,
                              line_of(ev), name);
    g->total += g->anchors[i].size;
    if (g->total > g->lim->max_nodes)
        return loco_error_set(LOCO_ERR_RANGE,
                              "%s:%lu: alias *%s expands the document past %llu nodes (nested "
                              "aliases, a \"billion laughs\" file?)",
                              g->file, line_of(ev), name, (unsigned long long)g->lim->max_nodes);
    return LOCO_OK;
}

static int on_collection_start(struct guard *g, const yaml_event_t *ev, const yaml_char_t *anchor)
{
    if (g->depth >= g->lim->max_depth)
        return loco_error_set(LOCO_ERR_RANGE, "%s:%lu: nested deeper than %u levels", g->file,
                              line_of(ev), g->lim->max_depth);
    struct frame *f = &g->stack[g->depth++];
    f->start = g->total;
    return node_start(g, ev, anchor, &f->anchor);
}

static void on_collection_end(struct guard *g)
{
    struct frame *f = &g->stack[--g->depth];
    if (f->anchor >= 0) {
        g->anchors[f->anchor].size = g->total - f->start;
        g->anchors[f->anchor].open = false;
    }
}

/* One event; *done is set at the end of the stream. */
static int on_event(struct guard *g, const yaml_event_t *ev, bool *done)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++g->documents > 1)
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "%s:%lu: a second YAML document starts here; the file must "
                                  "hold one document (remove the '---' and what follows, or "
                                  "merge it into the first)",
                                  g->file, line_of(ev));
        return LOCO_OK;
    case YAML_SCALAR_EVENT: {
        int32_t a;
        int rc = node_start(g, ev, ev->data.scalar.anchor, &a);
        if (rc == LOCO_OK && a >= 0)
            g->anchors[a].open = false; /* a scalar is complete at once, size 1 */
        return rc;
    }
    case YAML_ALIAS_EVENT:
        return on_alias(g, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_collection_start(g, ev, ev->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT:
        return on_collection_start(g, ev, ev->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        on_collection_end(g);
        return LOCO_OK;
    case YAML_STREAM_END_EVENT:
        *done = true;
        return LOCO_OK;
    default:
        return LOCO_OK;
    }
}

int loco_yaml_guard_check(const char *text, size_t len, const char *file,
                          const struct yaml_guard_limits *lim)
{
    if (len > lim->max_bytes)
        return loco_error_set(LOCO_ERR_RANGE, "%s: %zu bytes is more than the %zu allowed", file,
                              len, lim->max_bytes);
    struct guard g = {.lim = lim, .file = file};
    g.anchors = calloc(lim->max_anchors ? lim->max_anchors : 1, sizeof *g.anchors);
    g.stack = calloc((size_t)lim->max_depth + 1, sizeof *g.stack);
    yaml_parser_t parser;
    if (!g.anchors || !g.stack || !yaml_parser_initialize(&parser)) {
        free(g.anchors);
        free(g.stack);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", file);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = LOCO_OK;
    bool done = false;
    while (rc == LOCO_OK && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev))
            break; /* a syntax error: the loader reports it */
        rc = on_event(&g, &ev, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    for (uint32_t i = 0; i < g.n_anchors; i++)
        free(g.anchors[i].name);
    free(g.anchors);
    free(g.stack);
    return rc;
}
