/*
 * recipe.c - reading a training recipe (YAML) into struct loco_recipe.
 *
 * The whole schema is one table below: a dotted key, its kind, where it
 * lands in the struct and its allowed range. The YAML document is walked
 * node by node against that table, so an unknown key, a mapping where a
 * number belongs or a number out of range is reported with the file, the
 * line and the full key, and the message lists the keys that do exist.
 *
 * Paths: "${VAR}" and "${VAR:-default}" expand from the environment (e.g.
 * ${LOCO_SHARED_DIR:-../../shared}/datasets/...), then a relative path is
 * taken relative to the recipe's own folder, so a recipe runs from any
 * working directory.
 */
#include "loco/trainrun.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/yaml_guard.h"
#include "loco/eval.h"
#include "train/run/run_internal.h"

enum key_kind {
    K_MAP,     /* a nested mapping */
    K_STR,     /* char * */
    K_PATH,    /* char *, expanded and resolved after parsing */
    K_I32,     /* int32_t */
    K_I64,     /* int64_t */
    K_U64,     /* uint64_t */
    K_F64,     /* double */
    K_F32,     /* float */
    K_FORMAT,  /* enum loco_data_format */
    K_PROMPT,  /* a named prompt format (loco/eval.h): fields with its templates */
    K_TARGETS, /* list (or "q,k,v" text) -> unsigned mask */
    K_BETAS,   /* [beta1, beta2] */
};

struct key {
    const char *name; /* dotted path */
    enum key_kind kind;
    size_t off;      /* offsetof(struct loco_recipe, field) */
    double min, max; /* numbers only */
};

#define F(field) offsetof(struct loco_recipe, field)
#define BIG 1e15

static const struct key keys[] = {
    {"name", K_STR, F(name), 0, 0},
    {"domain", K_STR, F(domain), 0, 0},
    {"base", K_STR, F(base), 0, 0},
    {"chat_template", K_STR, F(chat_template), 0, 0},
    {"data", K_MAP, 0, 0, 0},
    {"data.path", K_PATH, F(data_path), 0, 0},
    {"data.format", K_FORMAT, F(format), 0, 0},
    {"data.prompt_format", K_PROMPT, F(prompt), 0, 0},
    {"data.prompt", K_STR, F(prompt), 0, 0},
    {"data.response", K_STR, F(response), 0, 0},
    {"data.system", K_STR, F(system), 0, 0},
    {"data.offset", K_I64, F(offset), 0, BIG},
    {"data.limit", K_I64, F(limit), 0, BIG},
    {"data.range", K_MAP, 0, 0, 0},
    {"data.range.field", K_STR, F(range_field), 0, 0},
    {"data.range.min", K_F64, F(range_min), -BIG, BIG},
    {"data.range.max", K_F64, F(range_max), -BIG, BIG},
    {"data.include", K_MAP, 0, 0, 0},
    {"data.include.field", K_STR, F(include_field), 0, 0},
    {"data.include.regex", K_STR, F(include_regex), 0, 0},
    {"data.exclude", K_MAP, 0, 0, 0},
    {"data.exclude.field", K_STR, F(exclude_field), 0, 0},
    {"data.exclude.regex", K_STR, F(exclude_regex), 0, 0},
    {"data.max_tokens", K_I32, F(max_tokens), 8, 1 << 20},
    {"data.validation", K_F64, F(validation), 0, 1e9},
    {"lora", K_MAP, 0, 0, 0},
    {"lora.rank", K_I32, F(lora.rank), 1, 1024},
    {"lora.alpha", K_F32, F(lora.alpha), 0, 1e6},
    {"lora.dropout", K_F32, F(lora.dropout), 0, 0.95},
    {"lora.targets", K_TARGETS, F(lora.targets), 0, 0},
    {"optimizer", K_MAP, 0, 0, 0},
    {"optimizer.lr", K_F64, F(lr), 0, 10},
    {"optimizer.min_lr", K_F64, F(min_lr), 0, 10},
    {"optimizer.betas", K_BETAS, F(beta1), 0, 0},
    {"optimizer.eps", K_F64, F(eps), 0, 1},
    {"optimizer.weight_decay", K_F64, F(weight_decay), 0, 10},
    {"optimizer.warmup_steps", K_I32, F(warmup_steps), 0, 1 << 30},
    {"optimizer.clip", K_F64, F(clip), 0, 1e9},
    {"training", K_MAP, 0, 0, 0},
    {"training.epochs", K_I32, F(epochs), 1, 100000},
    {"training.max_steps", K_I64, F(max_steps), 0, BIG},
    {"training.batch", K_I32, F(batch), 1, 1 << 20},
    {"training.seed", K_U64, F(seed), 0, 0},
    {"training.threads", K_I32, F(threads), 0, 1024},
    {"training.checkpoint_every", K_I32, F(checkpoint_every), 0, 1 << 30},
    {"training.eval_every", K_I32, F(eval_every), 0, 1 << 30},
    {"output", K_MAP, 0, 0, 0},
    {"output.dir", K_PATH, F(out_dir), 0, 0},
    {"output.samples", K_I32, F(samples), 0, 1000},
    {"output.sample_tokens", K_I32, F(sample_tokens), 1, 1 << 16},
};

#define N_KEYS (sizeof keys / sizeof keys[0])

/* The parse in progress: the recipe, and the line each key was set on. */
struct parse {
    struct loco_recipe *r;
    const char *file;
    yaml_document_t *doc;
    int line[N_KEYS]; /* 0 = not given */
};

static void recipe_defaults(struct loco_recipe *r)
{
    r->format = LOCO_DATA_INSTRUCTION;
    r->max_tokens = 384;
    r->validation = 0.05;
    r->lora = (struct loco_lora_config){
        .rank = 16, .alpha = 32, .dropout = 0.05f, .targets = LOCO_LORA_ALL_TARGETS};
    r->lr = 2e-4;
    r->min_lr = 0;
    r->beta1 = 0.9;
    r->beta2 = 0.999;
    r->eps = 1e-8;
    r->weight_decay = 0;
    r->clip = 1.0;
    r->epochs = 1;
    r->batch = 8;
    r->seed = 42;
    r->checkpoint_every = 25;
    r->samples = 5;
    r->sample_tokens = 128;
}

static int key_index(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* "path, format, ..." : the keys directly under `prefix` ("" = top level). */
static void keys_under(const char *prefix, char *buf, size_t cap)
{
    size_t np = strlen(prefix), len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *k = keys[i].name;
        if (np && (strncmp(k, prefix, np) != 0 || k[np] != '.'))
            continue;
        const char *rest = np ? k + np + 1 : k;
        if (strchr(rest, '.'))
            continue;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", rest);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

static int line_of(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

static int fail_at(const struct parse *ps, const yaml_node_t *n, const char *key, const char *fmt,
                   const char *detail)
{
    char what[512];
    snprintf(what, sizeof what, fmt, detail);
    return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: %s: %s", ps->file, line_of(n), key, what);
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int parse_number(const struct parse *ps, const yaml_node_t *n, const struct key *k,
                        bool integer, double *out)
{
    const char *what = integer ? "an integer" : "a number";
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(ps, n, k->name, "expected %s, got a list or a mapping", what);
    const char *s = scalar(n);
    char *end = NULL;
    errno = 0;
    double v = integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v)) {
        char msg[256];
        snprintf(msg, sizeof msg, "expected %s, got '%.200s'", what, s);
        return fail_at(ps, n, k->name, "%s", msg);
    }
    if (k->max > k->min && (v < k->min || v > k->max)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s is out of range [%g, %g]", s, k->min, k->max);
        return fail_at(ps, n, k->name, "%s", msg);
    }
    *out = v;
    return LOCO_OK;
}

static int parse_u64(const struct parse *ps, const yaml_node_t *n, const struct key *k,
                     uint64_t *out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(ps, n, k->name, "expected %s, got a list or a mapping",
                       "a non-negative integer");
    const char *s = scalar(n);
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-')
        return fail_at(ps, n, k->name, "expected a non-negative integer, got '%.200s'", s);
    *out = (uint64_t)v;
    return LOCO_OK;
}

static int parse_format(const struct parse *ps, const yaml_node_t *n, const struct key *k,
                        enum loco_data_format *out)
{
    static const char *names[] = {"instruction", "messages", "fields"};
    if (n->type == YAML_SCALAR_NODE)
        for (int i = 0; i < 3; i++)
            if (strcmp(scalar(n), names[i]) == 0) {
                *out = (enum loco_data_format)i;
                return LOCO_OK;
            }
    return fail_at(ps, n, k->name, "expected instruction, messages or fields, got '%.100s'",
                   n->type == YAML_SCALAR_NODE ? scalar(n) : "(not a scalar)");
}

/* A list of names, or one "q,k,v" string. */
static int parse_targets(const struct parse *ps, const yaml_node_t *n, const struct key *k,
                         unsigned *out)
{
    char list[256] = "";
    size_t len = 0;
    if (n->type == YAML_SCALAR_NODE) {
        snprintf(list, sizeof list, "%s", scalar(n));
    } else if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            yaml_node_t *e = yaml_document_get_node(ps->doc, *it);
            if (!e || e->type != YAML_SCALAR_NODE)
                return fail_at(ps, n, k->name, "%s", "expected a list of target names");
            int w = snprintf(list + len, sizeof list - len, "%s%s", len ? "," : "", scalar(e));
            if (w < 0 || (size_t)w >= sizeof list - len)
                return fail_at(ps, n, k->name, "%s", "list too long");
            len += (size_t)w;
        }
    } else {
        return fail_at(ps, n, k->name, "%s", "expected a list such as [q, k, v, o]");
    }
    if (loco_lora_targets_parse(list, out) != LOCO_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", loco_error_message());
        return fail_at(ps, n, k->name, "%s", msg);
    }
    return LOCO_OK;
}

static int parse_betas(const struct parse *ps, const yaml_node_t *n, const struct key *k,
                       struct loco_recipe *r)
{
    static const struct key beta = {"optimizer.betas", K_F64, 0, 0, 0.999999};
    if (n->type != YAML_SEQUENCE_NODE ||
        n->data.sequence.items.top - n->data.sequence.items.start != 2)
        return fail_at(ps, n, k->name, "%s", "expected two numbers, e.g. [0.9, 0.999]");
    double b[2];
    for (int i = 0; i < 2; i++) {
        yaml_node_t *e = yaml_document_get_node(ps->doc, n->data.sequence.items.start[i]);
        int rc = parse_number(ps, e ? e : n, &beta, false, &b[i]);
        if (rc)
            return rc;
    }
    r->beta1 = b[0];
    r->beta2 = b[1];
    return LOCO_OK;
}

static int parse_string(const struct parse *ps, const yaml_node_t *n, const struct key *k,
                        char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(ps, n, k->name, "%s", "expected text, got a list or a mapping");
    char *s = strdup(scalar(n));
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    free(*out);
    *out = s;
    return LOCO_OK;
}

/* `data.prompt_format: NAME`: format fields with the prompt and response of
 * the table the evaluation uses (src/eval/prompts.c). */
static int parse_prompt_format(const struct parse *ps, const yaml_node_t *n, const struct key *k)
{
    const struct loco_prompt_format *f =
        n->type == YAML_SCALAR_NODE ? loco_prompt_format_find(scalar(n)) : NULL;
    if (!f || !f->response)
        return fail_at(ps, n, k->name, "expected gsm8k, mbpp or summarisation, got '%.100s'",
                       n->type == YAML_SCALAR_NODE ? scalar(n) : "(not a scalar)");
    struct loco_recipe *r = ps->r;
    free(r->prompt);
    free(r->response);
    r->prompt = strdup(f->prompt);
    r->response = strdup(f->response);
    r->format = LOCO_DATA_FIELDS;
    return r->prompt && r->response ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

static int parse_value(const struct parse *ps, const yaml_node_t *n, const struct key *k)
{
    char *field = (char *)ps->r + k->off;
    double d = 0;
    int rc;
    switch (k->kind) {
    case K_STR:
    case K_PATH:
        return parse_string(ps, n, k, (char **)(void *)field);
    case K_I32:
        if ((rc = parse_number(ps, n, k, true, &d)) == LOCO_OK)
            *(int32_t *)(void *)field = (int32_t)d;
        return rc;
    case K_I64:
        if ((rc = parse_number(ps, n, k, true, &d)) == LOCO_OK)
            *(int64_t *)(void *)field = (int64_t)d;
        return rc;
    case K_F64:
        if ((rc = parse_number(ps, n, k, false, &d)) == LOCO_OK)
            *(double *)(void *)field = d;
        return rc;
    case K_F32:
        if ((rc = parse_number(ps, n, k, false, &d)) == LOCO_OK)
            *(float *)(void *)field = (float)d;
        return rc;
    case K_U64:
        return parse_u64(ps, n, k, (uint64_t *)(void *)field);
    case K_FORMAT:
        return parse_format(ps, n, k, (enum loco_data_format *)(void *)field);
    case K_PROMPT:
        return parse_prompt_format(ps, n, k);
    case K_TARGETS:
        return parse_targets(ps, n, k, (unsigned *)(void *)field);
    case K_BETAS:
        return parse_betas(ps, n, k, ps->r);
    case K_MAP:
        break;
    }
    return LOCO_OK;
}

static int walk_mapping(struct parse *ps, const yaml_node_t *map, const char *prefix);

static int walk_pair(struct parse *ps, const yaml_node_t *kn, const yaml_node_t *vn,
                     const char *prefix)
{
    if (kn->type != YAML_SCALAR_NODE)
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: a key must be plain text", ps->file,
                              line_of(kn));
    char full[256], known[512];
    snprintf(full, sizeof full, "%s%s%s", prefix, prefix[0] ? "." : "", scalar(kn));
    int i = key_index(full);
    if (i < 0) {
        keys_under(prefix, known, sizeof known);
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: unknown key '%s' (known%s%s: %s)", ps->file,
                              line_of(kn), full, prefix[0] ? " under " : " keys", prefix, known);
    }
    if (ps->line[i])
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: key '%s' given twice (first on line %d)",
                              ps->file, line_of(kn), full, ps->line[i]);
    ps->line[i] = line_of(kn);
    if (keys[i].kind != K_MAP)
        return parse_value(ps, vn, &keys[i]);
    if (vn->type != YAML_MAPPING_NODE) {
        keys_under(full, known, sizeof known);
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: %s: expected a mapping with keys %s",
                              ps->file, line_of(vn), full, known);
    }
    return walk_mapping(ps, vn, full);
}

static int walk_mapping(struct parse *ps, const yaml_node_t *map, const char *prefix)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(ps->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(ps->doc, p->value);
        if (!kn || !vn)
            return loco_error_set(LOCO_ERR_FORMAT, "%s: malformed mapping", ps->file);
        int rc = walk_pair(ps, kn, vn, prefix);
        if (rc)
            return rc;
    }
    return LOCO_OK;
}

/* ---- paths -------------------------------------------------------------- */

/* Expand ${VAR} and ${VAR:-default} in s. */
static int expand_env(const char *s, const char *file, int line, const char *key, char **out)
{
    char buf[4096];
    size_t len = 0;
    while (*s) {
        const char *piece = s;
        size_t n = 1;
        char name[128];
        if (s[0] == '$' && s[1] == '{') {
            const char *close = strchr(s, '}');
            if (!close)
                return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: %s: '${' without '}'", file, line,
                                      key);
            const char *def = strstr(s, ":-");
            size_t name_len = (def && def < close ? def : close) - (s + 2);
            if (name_len == 0 || name_len >= sizeof name)
                return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: %s: bad variable name", file, line,
                                      key);
            memcpy(name, s + 2, name_len);
            name[name_len] = '\0';
            const char *val = getenv(name);
            if (val && val[0]) {
                piece = val;
                n = strlen(val);
            } else if (def && def < close) {
                piece = def + 2;
                n = (size_t)(close - piece);
            } else {
                return loco_error_set(LOCO_ERR_NOT_FOUND,
                                      "%s:%d: %s: environment variable %s is not set (set it, "
                                      "or write ${%s:-default})",
                                      file, line, key, name, name);
            }
            s = close + 1;
        } else {
            s++;
        }
        if (len + n >= sizeof buf)
            return loco_error_set(LOCO_ERR_RANGE, "%s:%d: %s: path too long", file, line, key);
        memcpy(buf + len, piece, n);
        len += n;
    }
    buf[len] = '\0';
    *out = strdup(buf);
    return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

/* Expand and resolve a path key against the recipe's folder. */
static int resolve_path(const struct parse *ps, const char *key, const char *value, char **out)
{
    char *expanded = NULL;
    int rc = expand_env(value, ps->file, ps->line[key_index(key)], key, &expanded);
    if (rc)
        return rc;
    if (expanded[0] == '/') {
        *out = expanded;
        return LOCO_OK;
    }
    char dir[4096], joined[8192];
    loco_dir_of(ps->file, dir, sizeof dir);
    snprintf(joined, sizeof joined, "%s/%s", dir, expanded);
    free(expanded);
    *out = strdup(joined);
    return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

/* ---- checks after the walk ---------------------------------------------- */

/* data.path, when it exists, must be a regular file: a FIFO would make the
 * reader wait for a writer forever, a folder or device is a mistake. (A
 * missing file is reported when the data is read, with the search rules.) */
static int check_data_file(const struct parse *ps, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return LOCO_OK;
    return loco_error_set(LOCO_ERR_INVALID, "%s:%d: data.path: %s is a %s, not a regular file",
                          ps->file, ps->line[key_index("data.path")], path,
                          S_ISDIR(st.st_mode)    ? "folder"
                          : S_ISFIFO(st.st_mode) ? "FIFO (named pipe)"
                                                 : "device or socket");
}

static int need(const struct parse *ps, const char *key, const char *why)
{
    if (ps->line[key_index(key)])
        return LOCO_OK;
    return loco_error_set(LOCO_ERR_FORMAT, "%s: missing key '%s'%s", ps->file, key, why);
}

static int check_regex(const struct parse *ps, const char *key, const char *re)
{
    if (!re)
        return LOCO_OK;
    int err;
    PCRE2_SIZE off;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
    if (code) {
        pcre2_code_free(code);
        return LOCO_OK;
    }
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: %s: bad regular expression at offset %zu: %s",
                          ps->file, ps->line[key_index(key)], key, (size_t)off, (const char *)msg);
}

static bool name_ok(const char *s)
{
    if (!s[0])
        return false;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *s))
            return false;
    return true;
}

static int check_data(const struct parse *ps)
{
    const struct loco_recipe *r = ps->r;
    int rc = need(ps, "data.path", " (the JSONL file to train on)");
    int named = ps->line[key_index("data.prompt_format")];
    if (!rc && named &&
        (ps->line[key_index("data.prompt")] || ps->line[key_index("data.response")] ||
         r->format != LOCO_DATA_FIELDS))
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: data.prompt_format gives the format and "
                              "its prompt and response: drop data.format, prompt and response",
                              ps->file, named);
    if (!rc && r->format == LOCO_DATA_FIELDS && !named)
        rc = need(ps, "data.prompt", " (format: fields needs prompt and response templates)");
    if (!rc && r->format == LOCO_DATA_FIELDS && !named)
        rc = need(ps, "data.response", " (format: fields needs prompt and response templates)");
    if (!rc && ps->line[key_index("data.range")]) {
        if (!r->range_field || !ps->line[key_index("data.range.min")] ||
            !ps->line[key_index("data.range.max")])
            return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: data.range needs field, min and max",
                                  ps->file, ps->line[key_index("data.range")]);
    }
    if (!rc && (!r->include_field) != (!r->include_regex))
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: data.include needs field and regex",
                              ps->file, ps->line[key_index("data.include")]);
    if (!rc && (!r->exclude_field) != (!r->exclude_regex))
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: data.exclude needs field and regex",
                              ps->file, ps->line[key_index("data.exclude")]);
    if (!rc)
        rc = check_regex(ps, "data.include.regex", r->include_regex);
    if (!rc)
        rc = check_regex(ps, "data.exclude.regex", r->exclude_regex);
    if (!rc && r->validation >= 1 && r->validation != floor(r->validation))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s:%d: data.validation: a count must be whole; use a number "
                              "below 1 for a fraction",
                              ps->file, ps->line[key_index("data.validation")]);
    return rc;
}

static int finish(struct parse *ps)
{
    struct loco_recipe *r = ps->r;
    int rc = need(ps, "name", " (the adapter's name)");
    if (!rc && !name_ok(r->name))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s:%d: name: '%s' may use only letters, digits, '_', '.' and '-'",
                              ps->file, ps->line[key_index("name")], r->name);
    if (!rc)
        rc = check_data(ps);
    if (!rc && r->min_lr > r->lr)
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: optimizer.min_lr (%g) exceeds lr (%g)",
                              ps->file, ps->line[key_index("optimizer.min_lr")], r->min_lr, r->lr);
    if (!rc)
        rc = resolve_path(ps, "data.path", r->data_path, &r->data_file);
    if (!rc)
        rc = check_data_file(ps, r->data_file);
    if (!rc) {
        char *raw = r->out_dir;
        r->out_dir = NULL;
        rc = resolve_path(ps, "output.dir", raw ? raw : r->name, &r->out_dir);
        free(raw);
    }
    if (!rc && r->base && (strchr(r->base, '/') || strstr(r->base, ".gguf"))) {
        char *raw = r->base; /* a path, not a model name: resolve it like the others */
        r->base = NULL;
        rc = resolve_path(ps, "base", raw, &r->base);
        free(raw);
    }
    if (!rc && !r->base)
        r->base = strdup("default");
    if (!rc && !r->domain)
        r->domain = strdup("");
    if (!rc && (!r->base || !r->domain))
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    return rc;
}

/* ---- entry points ------------------------------------------------------- */

static int load_document(const char *text, size_t len, const char *file, yaml_document_t *doc)
{
    /* refused before loading: deep nesting, alias bombs, a second document */
    const struct yaml_guard_limits lim = {.max_bytes = 1 << 20, .max_depth = 16,
                                          .max_aliases = 100, .max_anchors = 100,
                                          .max_nodes = 100000};
    int guard = loco_yaml_guard_check(text, len, file, &lim);
    if (guard != LOCO_OK)
        return guard;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = LOCO_OK;
    if (!yaml_parser_load(&parser, doc))
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s:%zu: malformed YAML: %s", file,
                            parser.problem_mark.line + 1,
                            parser.problem ? parser.problem : "parse error");
    yaml_parser_delete(&parser);
    return rc;
}

struct loco_recipe *loco_recipe_parse(const char *text, size_t len, const char *path)
{
    struct loco_recipe *r = calloc(1, sizeof *r);
    struct parse ps = {.r = r, .file = path};
    if (!r) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    recipe_defaults(r);
    r->path = strdup(path);
    r->text = malloc(len + 1);
    if (!r->path || !r->text) {
        loco_recipe_free(r);
        loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(r->text, text, len);
    r->text[len] = '\0';
    r->text_len = len;
    yaml_document_t doc;
    int rc = load_document(text, len, path, &doc);
    if (rc) {
        loco_recipe_free(r);
        return NULL;
    }
    ps.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s: the recipe is empty", path);
    else if (root->type != YAML_MAPPING_NODE)
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "%s:%d: a recipe is a mapping of keys (name:, "
                            "data:, lora:, ...)",
                            path, line_of(root));
    else
        rc = walk_mapping(&ps, root, "");
    yaml_document_delete(&doc);
    if (!rc)
        rc = finish(&ps);
    if (rc) {
        loco_recipe_free(r);
        return NULL;
    }
    return r;
}

struct loco_recipe *loco_recipe_load(const char *path)
{
    size_t len = 0;
    char *text = NULL;
    /* a FIFO or folder named as the recipe is refused, not waited on */
    if (loco_read_regular_file(path, 1 << 20, &text, &len) != LOCO_OK)
        return NULL;
    struct loco_recipe *r = loco_recipe_parse(text, len, path);
    free(text);
    return r;
}

void loco_recipe_free(struct loco_recipe *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].kind == K_STR || keys[i].kind == K_PATH)
            free(*(char **)(void *)((char *)r + keys[i].off));
    free(r->path);
    free(r->text);
    free(r->data_file);
    free(r);
}

void loco_recipe_hash(const struct loco_recipe *r, char hex_out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    char extra[64];
    int len = snprintf(extra, sizeof extra, "\nmax_steps=%lld", (long long)r->max_steps);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        EVP_DigestUpdate(ctx, r->text, r->text_len);
        EVP_DigestUpdate(ctx, extra, (size_t)len);
        EVP_DigestFinal_ex(ctx, md, &n);
    }
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex_out + 2 * i, 3, "%02x", i < n ? md[i] : 0);
    hex_out[64] = '\0';
}

void loco_recipe_targets_str(unsigned mask, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int t = 0; t < LOCO_LORA_N_TARGETS; t++) {
        if (!(mask & LOCO_LORA_TARGET_BIT(t)))
            continue;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? "," : "",
                         loco_lora_target_name((enum loco_lora_target)t));
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
    }
}
