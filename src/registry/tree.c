/*
 * tree.c - the registry's YAML tree: read with libyaml's document loader
 * (every node keeps its file and line for error messages), edit, and write
 * back with libyaml's emitter.
 *
 * Scalars stay text: the schema (view.c) decides what a value must be. A
 * string that would read back as a number, bool or null is written quoted.
 */
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/sbuf.h"
#include "core/util.h"
#include "core/yaml_guard.h"
#include "registry/registry_internal.h"

/* Limits on a registry's YAML beyond its size and depth: a few hundred
 * adapters need some thousands of nodes and rarely an alias; a "billion
 * laughs" file needs millions of expanded nodes and is refused before any
 * is built. */
#define REGISTRY_MAX_ALIASES 1000
#define REGISTRY_MAX_NODES 200000

/* ---- building ------------------------------------------------------------ */

struct rnode *rnode_new(enum rkind kind)
{
    struct rnode *n = calloc(1, sizeof *n);
    if (n)
        n->kind = kind;
    return n;
}

static char *dup_str(const char *s)
{
    size_t len = strlen(s);
    char *d = malloc(len + 1);
    if (d)
        memcpy(d, s, len + 1);
    return d;
}

/* Would a YAML 1.1/1.2 reader take this plain text for something other
 * than a string? */
static bool looks_typed(const char *s)
{
    static const char *const words[] = {"true",  "false", "yes", "no", "on",  "off",
                                        "null",  "~",     "y",   "n",  "True", "False",
                                        "Yes",   "No",    "Null", "NULL", "TRUE", "FALSE"};
    if (!s[0])
        return true;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    char *end;
    errno = 0;
    (void)strtod(s, &end);
    if (*end == '\0')
        return true;
    /* 1_000, 0x1f, 2026-27 style dates are fine as strings, but "2026-11-27"
     * would be a timestamp to YAML 1.1 */
    return strspn(s, "0123456789-:.TZ ") == strlen(s);
}

struct rnode *rnode_str(const char *s)
{
    struct rnode *n = rnode_new(RNODE_SCALAR);
    if (!n)
        return NULL;
    n->str = dup_str(s ? s : "");
    if (!n->str) {
        free(n);
        return NULL;
    }
    n->quoted = looks_typed(n->str);
    return n;
}

static struct rnode *plain_scalar(const char *text)
{
    struct rnode *n = rnode_str(text);
    if (n)
        n->quoted = false;
    return n;
}

struct rnode *rnode_num(double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.10g", v);
    return plain_scalar(buf);
}

struct rnode *rnode_int(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return plain_scalar(buf);
}

struct rnode *rnode_bool(bool v)
{
    return plain_scalar(v ? "true" : "false");
}

void rnode_free(struct rnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        rnode_free(n->kids[i]);
    }
    free(n->keys);
    free(n->kids);
    free(n->str);
    free(n);
}

static int grow(struct rnode *n)
{
    if (n->n < n->cap)
        return LOCO_OK;
    size_t cap = n->cap ? 2 * n->cap : 8;
    struct rnode **kids = realloc(n->kids, cap * sizeof *kids);
    if (!kids)
        return LOCO_ERR_NOMEM;
    n->kids = kids;
    if (n->kind == RNODE_MAP) {
        char **keys = realloc(n->keys, cap * sizeof *keys);
        if (!keys)
            return LOCO_ERR_NOMEM;
        n->keys = keys;
    }
    n->cap = cap;
    return LOCO_OK;
}

struct rnode *rnode_copy(const struct rnode *n)
{
    struct rnode *c = rnode_new(n->kind);
    if (!c)
        return NULL;
    c->quoted = n->quoted;
    c->flow = n->flow;
    c->file = n->file;
    c->line = n->line;
    if (n->str && !(c->str = dup_str(n->str)))
        goto fail;
    for (size_t i = 0; i < n->n; i++) {
        if (grow(c) != LOCO_OK)
            goto fail;
        struct rnode *k = rnode_copy(n->kids[i]);
        if (!k)
            goto fail;
        if (n->kind == RNODE_MAP && !(c->keys[c->n] = dup_str(n->keys[i]))) {
            rnode_free(k);
            goto fail;
        }
        c->kids[c->n++] = k;
    }
    return c;
fail:
    rnode_free(c);
    return NULL;
}

int rnode_index(const struct rnode *map, const char *key)
{
    if (!map || map->kind != RNODE_MAP)
        return -1;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return (int)i;
    return -1;
}

struct rnode *rnode_get(const struct rnode *map, const char *key)
{
    int i = rnode_index(map, key);
    return i < 0 ? NULL : map->kids[i];
}

int rnode_set(struct rnode *map, const char *key, struct rnode *val)
{
    if (!val)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory editing the registry");
    int i = rnode_index(map, key);
    if (i >= 0) {
        rnode_free(map->kids[i]);
        map->kids[i] = val;
        return LOCO_OK;
    }
    char *k = dup_str(key);
    if (!k || grow(map) != LOCO_OK) {
        free(k);
        rnode_free(val);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory editing the registry");
    }
    map->keys[map->n] = k;
    map->kids[map->n++] = val;
    return LOCO_OK;
}

void rnode_remove(struct rnode *n, size_t i)
{
    if (i >= n->n)
        return;
    rnode_free(n->kids[i]);
    if (n->keys)
        free(n->keys[i]);
    for (size_t j = i + 1; j < n->n; j++) {
        n->kids[j - 1] = n->kids[j];
        if (n->keys)
            n->keys[j - 1] = n->keys[j];
    }
    n->n--;
}

int rnode_append(struct rnode *seq, struct rnode *item)
{
    if (!item || grow(seq) != LOCO_OK) {
        rnode_free(item);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory editing the registry");
    }
    seq->kids[seq->n++] = item;
    return LOCO_OK;
}

bool rnode_has_text(const struct rnode *n)
{
    if (!n || n->kind != RNODE_SCALAR)
        return false;
    if (n->quoted)
        return true;
    return n->str[0] && strcmp(n->str, "~") != 0 && strcmp(n->str, "null") != 0;
}

int rnode_find_by(const struct rnode *seq, const char *key, const char *value)
{
    if (!seq || seq->kind != RNODE_SEQ)
        return -1;
    for (size_t i = 0; i < seq->n; i++) {
        const struct rnode *v = rnode_get(seq->kids[i], key);
        if (v && v->kind == RNODE_SCALAR && strcmp(v->str, value) == 0)
            return (int)i;
    }
    return -1;
}

/* ---- reading ------------------------------------------------------------- */

struct load_ctx {
    yaml_document_t *doc;
    const char *file;
};

static int convert(struct load_ctx *c, yaml_node_t *yn, int depth, struct rnode **out);

static int convert_pairs(struct load_ctx *c, yaml_node_t *yn, int depth, struct rnode *m)
{
    for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return loco_error_set(LOCO_ERR_FORMAT, "%s:%lu: a mapping key must be plain text",
                                  c->file, (unsigned long)(yn->start_mark.line + 1));
        const char *key = (const char *)k->data.scalar.value;
        if (rnode_index(m, key) >= 0)
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "%s:%lu: key '%s' appears twice in the same mapping; keep one",
                                  c->file, (unsigned long)(k->start_mark.line + 1), key);
        struct rnode *kid;
        int rc = convert(c, v, depth + 1, &kid);
        if (rc != LOCO_OK)
            return rc;
        if ((rc = rnode_set(m, key, kid)) != LOCO_OK)
            return rc;
    }
    return LOCO_OK;
}

static int convert(struct load_ctx *c, yaml_node_t *yn, int depth, struct rnode **out)
{
    if (depth > REGISTRY_MAX_DEPTH)
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%lu: nested deeper than %d levels", c->file,
                              (unsigned long)(yn->start_mark.line + 1), REGISTRY_MAX_DEPTH);
    enum rkind kind = yn->type == YAML_MAPPING_NODE    ? RNODE_MAP
                      : yn->type == YAML_SEQUENCE_NODE ? RNODE_SEQ
                                                       : RNODE_SCALAR;
    struct rnode *n = rnode_new(kind);
    int rc = LOCO_OK;
    if (!n)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", c->file);
    n->file = c->file;
    n->line = (int32_t)yn->start_mark.line + 1;
    if (kind == RNODE_SCALAR) {
        n->str = dup_str((const char *)yn->data.scalar.value);
        n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        if (!n->str)
            rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", c->file);
    } else if (kind == RNODE_SEQ) {
        n->flow = yn->data.sequence.style == YAML_FLOW_SEQUENCE_STYLE;
        for (yaml_node_item_t *it = yn->data.sequence.items.start;
             rc == LOCO_OK && it < yn->data.sequence.items.top; it++) {
            struct rnode *kid = NULL;
            rc = convert(c, yaml_document_get_node(c->doc, *it), depth + 1, &kid);
            if (rc == LOCO_OK)
                rc = rnode_append(n, kid);
        }
    } else {
        rc = convert_pairs(c, yn, depth, n);
    }
    if (rc != LOCO_OK) {
        rnode_free(n);
        return rc;
    }
    *out = n;
    return LOCO_OK;
}

int rnode_parse_text(const char *text, size_t len, const char *file_label, struct rnode **out)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    const struct yaml_guard_limits lim = {
        .max_bytes = REGISTRY_MAX_BYTES,
        .max_depth = REGISTRY_MAX_DEPTH + 1, /* the root mapping is level 1 */
        .max_aliases = REGISTRY_MAX_ALIASES,
        .max_anchors = REGISTRY_MAX_ALIASES,
        .max_nodes = REGISTRY_MAX_NODES,
    };
    int rc = loco_yaml_guard_check(text, len, file_label, &lim);
    if (rc != LOCO_OK)
        return rc;
    if (!yaml_parser_initialize(&parser))
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", file_label);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s:%lu:%lu: YAML error: %s%s%s; fix the syntax there",
                            file_label, (unsigned long)(parser.problem_mark.line + 1),
                            (unsigned long)(parser.problem_mark.column + 1),
                            parser.problem ? parser.problem : "malformed",
                            parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    struct load_ctx c = {&doc, file_label};
    if (!root) {
        *out = rnode_new(RNODE_MAP);
        rc = *out ? LOCO_OK : LOCO_ERR_NOMEM;
    } else if (root->type != YAML_MAPPING_NODE) {
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "%s:%lu: the registry must be a mapping (schema_version, base_model, "
                            "domains, adapters)",
                            file_label, (unsigned long)(root->start_mark.line + 1));
    } else {
        rc = convert(&c, root, 0, out);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int rnode_parse_file(const char *path, const char *file_label, struct rnode **out)
{
    char *text;
    size_t len;
    /* a FIFO or folder named as the registry is refused, not waited on */
    int rc = loco_read_regular_file(path, REGISTRY_MAX_BYTES, &text, &len);
    if (rc != LOCO_OK)
        return rc;
    rc = rnode_parse_text(text, len, file_label, out);
    free(text);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

/* libyaml's output handler: append to the loco_sbuf in data; 0 stops the
 * emitter when an append failed. */
static int out_write(void *data, unsigned char *buffer, size_t size)
{
    struct loco_sbuf *o = data;
    loco_sbuf_add(o, buffer, size);
    return !o->failed;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool quoted)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                      style))
        return 0;
    return yaml_emitter_emit(e, &ev);
}

static int emit_node(yaml_emitter_t *e, const struct rnode *n)
{
    yaml_event_t ev;
    if (n->kind == RNODE_SCALAR)
        return emit_scalar(e, n->str, n->quoted);
    if (n->kind == RNODE_SEQ) {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                  n->flow ? YAML_FLOW_SEQUENCE_STYLE
                                                          : YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        for (size_t i = 0; i < n->n; i++)
            if (!emit_node(e, n->kids[i]))
                return 0;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
        !yaml_emitter_emit(e, &ev))
        return 0;
    for (size_t i = 0; i < n->n; i++)
        if (!emit_scalar(e, n->keys[i], false) || !emit_node(e, n->kids[i]))
            return 0;
    return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
}

static const char header[] =
    "# LocoLLM adapter registry, schema v2: see docs/registry.md.\n"
    "# Written by `loco`; comments are not kept when it rewrites this file.\n";

int rnode_emit(const struct rnode *root, char **out, size_t *len)
{
    struct loco_sbuf o = {0};
    yaml_emitter_t e;
    yaml_event_t ev;
    loco_sbuf_add(&o, header, sizeof header - 1);
    if (o.failed)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory writing the registry");
    if (!yaml_emitter_initialize(&e)) {
        loco_sbuf_free(&o);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory writing the registry");
    }
    yaml_emitter_set_output(&e, out_write, &o);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, 100);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
             yaml_emitter_emit(&e, &ev) && emit_node(&e, root) &&
             yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) &&
             yaml_emitter_flush(&e);
    const char *problem = e.problem;
    yaml_emitter_delete(&e);
    if (!ok) {
        loco_sbuf_free(&o);
        return loco_error_set(LOCO_ERR_FORMAT, "cannot write the registry as YAML: %s",
                              problem ? problem : "out of memory");
    }
    *len = o.len;
    *out = loco_sbuf_finish(&o); /* cannot fail: no append failed */
    return LOCO_OK;
}
