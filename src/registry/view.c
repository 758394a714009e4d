/*
 * view.c - the typed view of a (merged) registry tree, and the schema check.
 *
 * Each field is read by a small getter that knows its type; a missing,
 * mistyped or out-of-range value becomes a problem naming the file, line,
 * field path ("adapters[math].lora.rank") and value, with the fix. Unknown
 * keys are problems too (a typo like `scroes:` would otherwise vanish).
 * The schema itself is documented in docs/registry.md.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/lora.h"
#include "loco/models.h"
#include "loco/strategy.h"
#include "registry/registry_internal.h"

/* ---- problems and owned storage ---------------------------------------- */

void registry_problem(struct loco_registry *r, const struct rnode *node, const char *file,
                      const char *field, const char *value, const char *fmt, ...)
{
    if (r->n_problems == r->cap_problems) {
        size_t cap = r->cap_problems ? 2 * r->cap_problems : 16;
        struct loco_registry_problem *p = realloc(r->problems, cap * sizeof *p);
        if (!p)
            return; /* out of memory: the problem is lost, the count stays honest */
        r->problems = p;
        r->cap_problems = cap;
    }
    struct loco_registry_problem *p = &r->problems[r->n_problems++];
    memset(p, 0, sizeof *p);
    const char *f = file ? file : (node && node->file ? node->file : r->project_path);
    snprintf(p->file, sizeof p->file, "%s", f);
    p->line = node ? node->line : 0;
    snprintf(p->field, sizeof p->field, "%s", field ? field : "");
    snprintf(p->value, sizeof p->value, "%s", value ? value : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
}

int registry_fail_with_problems(const struct loco_registry *r)
{
    const struct loco_registry_problem *p = &r->problems[0];
    char more[96] = "";
    if (r->n_problems > 1)
        snprintf(more, sizeof more, " (and %zu more problems)", r->n_problems - 1);
    return loco_error_set(LOCO_ERR_FORMAT, "%s:%d: %s%s%s%s: %s%s; `loco registry validate` lists all",
                          p->file, p->line, p->field, p->value[0] ? " = '" : "", p->value,
                          p->value[0] ? "'" : "", p->message, more);
}

static void *own(struct loco_registry *r, void *p)
{
    if (!p)
        return NULL;
    if (r->n_owned == r->cap_owned) {
        size_t cap = r->cap_owned ? 2 * r->cap_owned : 32;
        void **o = realloc(r->owned, cap * sizeof *o);
        if (!o) {
            free(p);
            return NULL;
        }
        r->owned = o;
        r->cap_owned = cap;
    }
    r->owned[r->n_owned++] = p;
    return p;
}

/* ---- typed getters ------------------------------------------------------ */

/* The field path "<prefix>.<key>" (or "<key>" at the top). */
static const char *path_of(char *buf, size_t cap, const char *prefix, const char *key)
{
    snprintf(buf, cap, "%s%s%s", prefix, prefix[0] ? "." : "", key);
    return buf;
}

static const struct rnode *need(struct loco_registry *r, const struct rnode *map,
                                const char *prefix, const char *key, enum rkind kind,
                                bool required)
{
    char f[256];
    const struct rnode *n = rnode_get(map, key);
    static const char *const kind_names[] = {"a value", "a mapping", "a list"};
    if (!n || (kind == RNODE_SCALAR && n->kind == RNODE_SCALAR && !rnode_has_text(n))) {
        if (required)
            registry_problem(r, map, NULL, path_of(f, sizeof f, prefix, key), "",
                             "missing; add `%s:` here (docs/registry.md lists the fields)", key);
        return NULL;
    }
    if (n->kind != kind) {
        registry_problem(r, n, NULL, path_of(f, sizeof f, prefix, key),
                         n->kind == RNODE_SCALAR ? n->str : "", "must be %s", kind_names[kind]);
        return NULL;
    }
    return n;
}

static const char *get_str(struct loco_registry *r, const struct rnode *map, const char *prefix,
                           const char *key, bool required)
{
    const struct rnode *n = need(r, map, prefix, key, RNODE_SCALAR, required);
    return n ? n->str : "";
}

/* How a scalar reads as a number. */
enum num_read { NUM_OK, NUM_NOT_A_NUMBER, NUM_OUT_OF_RANGE };

/* A finite number; 1e999 is out of range (as written), "nan" or "sixteen"
 * is not a number. */
static enum num_read parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || isnan(v) || (isinf(v) && errno != ERANGE))
        return NUM_NOT_A_NUMBER;
    if (errno == ERANGE && isinf(v))
        return NUM_OUT_OF_RANGE;
    *out = v; /* an underflow (1e-999) reads as 0 or a tiny number: the range decides */
    return NUM_OK;
}

static enum num_read parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end)
        return NUM_NOT_A_NUMBER;
    if (errno == ERANGE)
        return NUM_OUT_OF_RANGE;
    *out = (int64_t)v;
    return NUM_OK;
}

/* A number in [lo, hi]; *out untouched when missing or bad. A bad value is
 * one problem showing the value as written: not a number, or out of range. */
static bool get_num(struct loco_registry *r, const struct rnode *map, const char *prefix,
                    const char *key, bool required, double lo, double hi, double *out)
{
    char f[256];
    const struct rnode *n = need(r, map, prefix, key, RNODE_SCALAR, required);
    double v = 0;
    if (!n)
        return false;
    enum num_read got = parse_double(n->str, &v);
    if (got == NUM_OK && (v < lo || v > hi))
        got = NUM_OUT_OF_RANGE;
    if (got != NUM_OK) {
        registry_problem(r, n, NULL, path_of(f, sizeof f, prefix, key), n->str,
                         "%s; must be a number from %g to %g",
                         got == NUM_NOT_A_NUMBER ? "not a number" : "out of range", lo, hi);
        return false;
    }
    *out = v;
    return true;
}

static bool get_int(struct loco_registry *r, const struct rnode *map, const char *prefix,
                    const char *key, bool required, int64_t lo, int64_t hi, int64_t *out)
{
    char f[256];
    const struct rnode *n = need(r, map, prefix, key, RNODE_SCALAR, required);
    int64_t v = 0;
    if (!n)
        return false;
    enum num_read got = parse_i64(n->str, &v);
    if (got == NUM_OK && (v < lo || v > hi))
        got = NUM_OUT_OF_RANGE;
    if (got != NUM_OK) {
        registry_problem(r, n, NULL, path_of(f, sizeof f, prefix, key), n->str,
                         "%s; must be a whole number from %lld to %lld",
                         got == NUM_NOT_A_NUMBER ? "not a whole number" : "out of range",
                         (long long)lo, (long long)hi);
        return false;
    }
    *out = v;
    return true;
}

static bool get_bool(struct loco_registry *r, const struct rnode *map, const char *prefix,
                     const char *key, bool *out)
{
    char f[256];
    const struct rnode *n = need(r, map, prefix, key, RNODE_SCALAR, true);
    if (!n)
        return false;
    if (strcmp(n->str, "true") == 0 || strcmp(n->str, "false") == 0) {
        *out = n->str[0] == 't';
        return true;
    }
    registry_problem(r, n, NULL, path_of(f, sizeof f, prefix, key), n->str,
                     "must be true or false");
    return false;
}

/* A list of non-empty strings; empty list when missing. */
static struct loco_registry_strs get_strs(struct loco_registry *r, const struct rnode *map,
                                          const char *prefix, const char *key, bool required)
{
    struct loco_registry_strs s = {NULL, 0};
    char f[256];
    const struct rnode *n = need(r, map, prefix, key, RNODE_SEQ, required);
    if (!n)
        return s;
    if (n->n == 0 && required)
        registry_problem(r, n, NULL, path_of(f, sizeof f, prefix, key), "",
                         "is empty; give at least one entry");
    const char **v = own(r, calloc(n->n + 1, sizeof *v));
    if (!v)
        return s;
    for (size_t i = 0; i < n->n; i++) {
        const struct rnode *it = n->kids[i];
        if (!rnode_has_text(it)) {
            char fi[300];
            snprintf(fi, sizeof fi, "%s[%zu]", path_of(f, sizeof f, prefix, key), i);
            registry_problem(r, it, NULL, fi, it->kind == RNODE_SCALAR ? it->str : "",
                             "must be a non-empty string");
            continue;
        }
        v[s.n++] = it->str;
    }
    s.v = v;
    return s;
}

/* Keys of `map` must be among `known` (NULL-terminated). */
static void check_keys(struct loco_registry *r, const struct rnode *map, const char *prefix,
                       const char *const *known)
{
    if (!map || map->kind != RNODE_MAP)
        return;
    for (size_t i = 0; i < map->n; i++) {
        bool ok = false;
        char list[512] = "";
        size_t len = 0;
        for (const char *const *k = known; *k; k++) {
            ok = ok || strcmp(map->keys[i], *k) == 0;
            int w = snprintf(list + len, sizeof list - len, "%s%s", k == known ? "" : ", ", *k);
            if (w > 0 && (size_t)w < sizeof list - len)
                len += (size_t)w;
        }
        if (!ok) {
            char f[256];
            registry_problem(r, map->kids[i], NULL, path_of(f, sizeof f, prefix, map->keys[i]),
                             map->keys[i], "unknown field; the known ones here are: %s", list);
        }
    }
}

static bool plain_name(const char *s)
{
    return s[0] && s[0] != '.' && s[0] != '-' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(s) && strlen(s) < 64;
}

static void check_name(struct loco_registry *r, const struct rnode *map, const char *prefix,
                       const char *key, const char *value)
{
    char f[256];
    if (value[0] && !plain_name(value))
        registry_problem(r, rnode_get(map, key), NULL, path_of(f, sizeof f, prefix, key), value,
                         "must be lowercase letters, digits, '.', '_' or '-' (at most 63)");
}

static void check_sha(struct loco_registry *r, const struct rnode *map, const char *prefix,
                      const char *key, const char *value)
{
    char f[256];
    if (value[0] && !(loco_models_sha256_valid(value) && strspn(value, "0123456789abcdef") == 64))
        registry_problem(r, rnode_get(map, key), NULL, path_of(f, sizeof f, prefix, key), value,
                         "must be 64 lowercase hex digits (run `sha256sum FILE`)");
}

/* A path field must not lead outside its roots (paths.c); when it does, a
 * problem names the field, line and where it leads, and false comes back.
 * `descriptive`: a value with "://" is a description (a URL), not a path. */
static bool check_path(struct loco_registry *r, const struct rnode *map, const char *prefix,
                       const char *key, enum registry_root kind, bool descriptive)
{
    char why[768], f[256];
    const struct rnode *n = rnode_get(map, key);
    if (!n || n->kind != RNODE_SCALAR || (descriptive && strstr(n->str, "://")))
        return true;
    if (registry_path_allowed(r, n, kind, why, sizeof why))
        return true;
    registry_problem(r, n, NULL, path_of(f, sizeof f, prefix, key), n->str, "%s", why);
    return false;
}

/* base_model.file names a file in the model cache: a name, never a path. */
static void check_cache_name(struct loco_registry *r, const struct rnode *map, const char *value)
{
    if (value[0] && (strchr(value, '/') || strcmp(value, ".") == 0 || strcmp(value, "..") == 0))
        registry_problem(r, rnode_get(map, "file"), NULL, "base_model.file", value,
                         "must be a file name in the model cache (`loco models list`), not a "
                         "path");
}

/* ---- sections ------------------------------------------------------------ */

static void build_base(struct loco_registry *r, const struct rnode *root)
{
    static const char *const known[] = {"name", "file", "sha256", "architecture",
                                        "academic_year", "description", NULL};
    const struct rnode *b = need(r, root, "", "base_model", RNODE_MAP, true);
    struct loco_registry_base *o = &r->base;
    o->name = get_str(r, b, "base_model", "name", true);
    o->file = get_str(r, b, "base_model", "file", true);
    o->sha256 = get_str(r, b, "base_model", "sha256", true);
    o->architecture = get_str(r, b, "base_model", "architecture", true);
    o->academic_year = get_str(r, b, "base_model", "academic_year", true);
    check_keys(r, b, "base_model", known);
    check_sha(r, b, "base_model", "sha256", o->sha256);
    check_cache_name(r, b, o->file);
    const char *y = o->academic_year;
    if (y[0] && !((strlen(y) == 4 && strspn(y, "0123456789") == 4) ||
                  (strlen(y) == 7 && strspn(y, "0123456789") == 4 && y[4] == '-' &&
                   strspn(y + 5, "0123456789") == 2)))
        registry_problem(r, rnode_get(b, "academic_year"), NULL, "base_model.academic_year", y,
                         "must be a year (\"2026\") or a span (\"2026-27\"), quoted");
    const struct rnode *u = r->user_tree ? rnode_get(r->user_tree, "base_model") : NULL;
    if (u)
        registry_problem(r, u, r->user_path, "base_model", "",
                         "the user overlay may not set the base model (one base per registry); "
                         "remove this section from %s",
                         r->user_path);
}

/* min_vote_share in [0, 1] and below_threshold abstain|fallback, which
 * means nothing without a threshold. */
static void check_vote_threshold(struct loco_registry *r, const struct rnode *m,
                                 const char *prefix, struct loco_registry_domain *d)
{
    char f[200];
    get_num(r, m, prefix, "min_vote_share", false, 0, 1, &d->min_vote_share);
    d->below_threshold = get_str(r, m, prefix, "below_threshold", false);
    const struct rnode *below = rnode_get(m, "below_threshold");
    enum loco_vote_below b;
    path_of(f, sizeof f, prefix, "below_threshold");
    if (d->below_threshold[0] && loco_vote_below_parse(d->below_threshold, &b) != LOCO_OK)
        registry_problem(r, below, NULL, f, d->below_threshold, "%s", loco_error_message());
    else if (d->below_threshold[0] && !rnode_get(m, "min_vote_share"))
        registry_problem(r, below, NULL, f, d->below_threshold,
                         "means nothing without min_vote_share (the vote share, 0 to 1, below "
                         "which it applies); add one or remove this line");
}

static void build_domain(struct loco_registry *r, const char *name, const struct rnode *m,
                         struct loco_registry_domain *d)
{
    static const char *const known[] = {"description",    "primary_benchmark", "benchmarks",
                                        "strategy",       "min_vote_share",    "below_threshold",
                                        NULL};
    char prefix[128], f[200];
    snprintf(prefix, sizeof prefix, "domains.%s", name);
    d->name = name;
    if (!plain_name(name))
        registry_problem(r, m, NULL, "domains", name,
                         "a domain name must be lowercase letters, digits, '.', '_' or '-'");
    if (m->kind != RNODE_MAP) {
        registry_problem(r, m, NULL, prefix, "", "must be a mapping with primary_benchmark");
        d->description = d->primary_benchmark = d->strategy = d->below_threshold = "";
        return;
    }
    check_keys(r, m, prefix, known);
    d->description = get_str(r, m, prefix, "description", false);
    d->primary_benchmark = get_str(r, m, prefix, "primary_benchmark", true);
    check_name(r, m, prefix, "primary_benchmark", d->primary_benchmark);
    d->benchmarks = get_strs(r, m, prefix, "benchmarks", false);
    d->strategy = get_str(r, m, prefix, "strategy", false);
    struct loco_strategy st;
    if (d->strategy[0] && loco_strategy_parse(d->strategy, &st) != LOCO_OK)
        registry_problem(r, rnode_get(m, "strategy"), NULL,
                         path_of(f, sizeof f, prefix, "strategy"), d->strategy, "%s",
                         loco_error_message());
    check_vote_threshold(r, m, prefix, d);
    bool listed = d->benchmarks.n == 0;
    for (size_t i = 0; i < d->benchmarks.n; i++)
        listed = listed || strcmp(d->benchmarks.v[i], d->primary_benchmark) == 0;
    if (!listed && d->primary_benchmark[0])
        registry_problem(r, rnode_get(m, "primary_benchmark"), NULL,
                         path_of(f, sizeof f, prefix, "primary_benchmark"), d->primary_benchmark,
                         "is not in the domain's benchmarks list; add it there");
}

static void build_domains(struct loco_registry *r, const struct rnode *root)
{
    const struct rnode *ds = need(r, root, "", "domains", RNODE_MAP, true);
    if (!ds)
        return;
    if (ds->n == 0)
        registry_problem(r, ds, NULL, "domains", "", "no domains; add at least one");
    r->domains = own(r, calloc(ds->n + 1, sizeof *r->domains));
    if (!r->domains)
        return;
    for (size_t i = 0; i < ds->n; i++)
        build_domain(r, ds->keys[i], ds->kids[i], &r->domains[r->n_domains++]);
}

static void build_score(struct loco_registry *r, const struct rnode *m, const char *prefix,
                        struct loco_registry_score *s)
{
    static const char *const known[] = {"benchmark", "score",   "ci_low", "ci_high",
                                        "base_score", "p_value", "passed", "n_items",
                                        "record",     "effect_size", "power", "evaluated",
                                        NULL};
    check_keys(r, m, prefix, known);
    s->benchmark = get_str(r, m, prefix, "benchmark", true);
    check_name(r, m, prefix, "benchmark", s->benchmark);
    bool read = get_num(r, m, prefix, "score", true, -1e12, 1e12, &s->score);
    read = get_num(r, m, prefix, "ci_low", true, -1e12, 1e12, &s->ci_low) && read;
    read = get_num(r, m, prefix, "ci_high", true, -1e12, 1e12, &s->ci_high) && read;
    get_num(r, m, prefix, "base_score", true, -1e12, 1e12, &s->base_score);
    get_num(r, m, prefix, "p_value", true, 0, 1, &s->p_value);
    get_bool(r, m, prefix, "passed", &s->passed);
    get_int(r, m, prefix, "n_items", true, 1, INT64_MAX, &s->n_items);
    s->record = get_str(r, m, prefix, "record", true);
    check_path(r, m, prefix, "record", REGISTRY_ROOT_PROJECT, false);
    double x;
    get_num(r, m, prefix, "effect_size", false, -1e12, 1e12, &x);
    get_num(r, m, prefix, "power", false, 0, 1, &x);
    /* compared only when all three were read: a value refused above is
     * reported once, as written, not again as the 0 it was left at */
    if (read && !(s->ci_low <= s->score && s->score <= s->ci_high)) {
        char v[96];
        snprintf(v, sizeof v, "%g <= %g <= %g", s->ci_low, s->score, s->ci_high);
        registry_problem(r, rnode_get(m, "score"), NULL, prefix, v,
                         "the score must lie inside its interval [ci_low, ci_high]");
    }
}

static void build_scores(struct loco_registry *r, const struct rnode *m, const char *prefix,
                         struct loco_registry_adapter *a)
{
    char f[160];
    const struct rnode *seq = need(r, m, prefix, "scores", RNODE_SEQ, false);
    if (!seq)
        return;
    struct loco_registry_score *s = own(r, calloc(seq->n + 1, sizeof *s));
    if (!s)
        return;
    for (size_t i = 0; i < seq->n; i++) {
        snprintf(f, sizeof f, "%s.scores[%zu]", prefix, i);
        if (seq->kids[i]->kind != RNODE_MAP) {
            registry_problem(r, seq->kids[i], NULL, f, "", "must be a mapping (benchmark, ...)");
            continue;
        }
        memset(&s[a->n_scores], 0, sizeof *s);
        build_score(r, seq->kids[i], f, &s[a->n_scores]);
        for (size_t j = 0; j < a->n_scores; j++)
            if (strcmp(s[j].benchmark, s[a->n_scores].benchmark) == 0)
                registry_problem(r, seq->kids[i], NULL, f, s[j].benchmark,
                                 "a second score for this benchmark; keep one");
        a->n_scores++;
    }
    a->scores = s;
}

static void build_lora(struct loco_registry *r, const struct rnode *m, const char *prefix,
                       struct loco_registry_adapter *a)
{
    static const char *const known[] = {"rank", "alpha", "targets", "dropout", NULL};
    char p[160];
    snprintf(p, sizeof p, "%s.lora", prefix);
    const struct rnode *l = need(r, m, prefix, "lora", RNODE_MAP, true);
    int64_t rank = 0;
    if (!l)
        return;
    check_keys(r, l, p, known);
    get_int(r, l, p, "rank", true, 1, 4096, &rank);
    a->rank = (int32_t)rank;
    get_num(r, l, p, "alpha", true, 1e-6, 1e6, &a->alpha);
    double dropout;
    get_num(r, l, p, "dropout", false, 0, 1, &dropout);
    a->targets = get_strs(r, l, p, "targets", true);
    for (size_t i = 0; i < a->targets.n; i++) {
        enum loco_lora_target t;
        if (loco_lora_target_parse(a->targets.v[i], &t) != LOCO_OK) {
            char f[200];
            snprintf(f, sizeof f, "%s.targets[%zu]", p, i);
            registry_problem(r, rnode_get(l, "targets")->kids[i], NULL, f, a->targets.v[i],
                             "not a projection; use q, k, v, o, gate, up or down");
        }
    }
    loco_error_clear();
}

static void build_provenance(struct loco_registry *r, const struct rnode *m, const char *prefix,
                             struct loco_registry_adapter *a)
{
    static const char *const known[] = {"recipe", "data", "seed", "semester", "authors",
                                        "training_log", "notes", NULL};
    char p[160];
    snprintf(p, sizeof p, "%s.provenance", prefix);
    const struct rnode *v = need(r, m, prefix, "provenance", RNODE_MAP, true);
    struct loco_registry_provenance *o = &a->provenance;
    o->seed = -1;
    check_keys(r, v, p, known);
    o->recipe = get_str(r, v, p, "recipe", true);
    o->data = get_str(r, v, p, "data", true);
    get_int(r, v, p, "seed", false, 0, INT64_MAX, &o->seed);
    o->semester = get_str(r, v, p, "semester", true);
    o->authors = get_strs(r, v, p, "authors", true);
    o->training_log = get_str(r, v, p, "training_log", false);
    check_path(r, v, p, "recipe", REGISTRY_ROOT_PROJECT, true);
    check_path(r, v, p, "training_log", REGISTRY_ROOT_FOLDER, true);
}

static void build_router(struct loco_registry *r, const struct rnode *m, const char *prefix,
                         struct loco_registry_adapter *a)
{
    static const char *const known[] = {"keywords", "examples", NULL};
    char p[160];
    snprintf(p, sizeof p, "%s.router", prefix);
    const struct rnode *v = need(r, m, prefix, "router", RNODE_MAP, true);
    check_keys(r, v, p, known);
    a->keywords = get_strs(r, v, p, "keywords", true);
    a->examples = get_strs(r, v, p, "examples", true);
}

/* `file` against the folder of the registry file that set it. */
static const char *resolve_file(struct loco_registry *r, const struct rnode *n)
{
    if (!n || n->kind != RNODE_SCALAR || !n->str[0])
        return "";
    if (n->str[0] == '/' || !n->file)
        return n->str;
    const char *slash = strrchr(n->file, '/');
    size_t dlen = slash ? (size_t)(slash - n->file) : 1;
    size_t len = dlen + strlen(n->str) + 2;
    char *p = own(r, malloc(len));
    if (!p)
        return n->str;
    snprintf(p, len, "%.*s/%s", (int)dlen, slash ? n->file : ".", n->str);
    return p;
}

static void build_adapter(struct loco_registry *r, const struct rnode *m, size_t idx,
                          struct loco_registry_adapter *a)
{
    static const char *const known[] = {"name",       "domain", "version", "file",
                                        "sha256",     "base_sha256", "lora", "provenance",
                                        "router",     "status", "scores", "description",
                                        NULL};
    const struct rnode *nm = rnode_get(m, "name");
    char prefix[128], f[200];
    if (rnode_has_text(nm))
        snprintf(prefix, sizeof prefix, "adapters[%s]", nm->str);
    else
        snprintf(prefix, sizeof prefix, "adapters[%zu]", idx);
    a->line = m->line;
    a->source = m->file ? m->file : r->project_path;
    a->user = r->user_path[0] && m->file == r->user_path;
    check_keys(r, m, prefix, known);
    a->name = get_str(r, m, prefix, "name", true);
    check_name(r, m, prefix, "name", a->name);
    a->domain = get_str(r, m, prefix, "domain", true);
    if (a->domain[0] && !loco_registry_find_domain(r, a->domain))
        registry_problem(r, rnode_get(m, "domain"), NULL, path_of(f, sizeof f, prefix, "domain"), a->domain,
                         "no such domain; add it under `domains:` or use one listed there");
    a->version = get_str(r, m, prefix, "version", true);
    a->file = get_str(r, m, prefix, "file", true);
    a->path = resolve_file(r, rnode_get(m, "file"));
    if (!check_path(r, m, prefix, "file", REGISTRY_ROOT_FOLDER, false))
        a->path = ""; /* never followed, not even by a lenient load */
    a->sha256 = get_str(r, m, prefix, "sha256", true);
    check_sha(r, m, prefix, "sha256", a->sha256);
    a->base_sha256 = get_str(r, m, prefix, "base_sha256", true);
    check_sha(r, m, prefix, "base_sha256", a->base_sha256);
    if (a->base_sha256[0] && r->base.sha256[0] && strcmp(a->base_sha256, r->base.sha256) != 0)
        registry_problem(r, rnode_get(m, "base_sha256"), NULL,
                         path_of(f, sizeof f, prefix, "base_sha256"), a->base_sha256,
                         "this adapter was trained for another base model; this registry's "
                         "base_model.sha256 is %s (retrain it on that base)",
                         r->base.sha256);
    build_lora(r, m, prefix, a);
    build_provenance(r, m, prefix, a);
    build_router(r, m, prefix, a);
    const char *st = get_str(r, m, prefix, "status", true);
    if (st[0] && loco_registry_status_parse(st, &a->status) != LOCO_OK) {
        registry_problem(r, rnode_get(m, "status"), NULL, path_of(f, sizeof f, prefix, "status"),
                         st, "must be candidate, active or retired");
        loco_error_clear();
    }
    build_scores(r, m, prefix, a);
}

static void conflict(struct loco_registry *r, const struct rnode *m,
                     const struct loco_registry_adapter *a, const struct loco_registry_adapter *b)
{
    char f[128];
    snprintf(f, sizeof f, "adapters[%s].status", b->name);
    registry_problem(r, rnode_get(m, "status"), NULL, f, "active",
                     "adapters '%s' and '%s' are both active for domain '%s'; at most one may "
                     "be (make one a candidate, or use `loco promote`)",
                     a->name, b->name, a->domain);
}

/* An overlay `status: active` wins over the project's active adapter of the
 * same domain; two actives from one file are a problem. */
static void settle_actives(struct loco_registry *r, const struct rnode *seq)
{
    for (size_t i = 0; i < r->n_adapters; i++) {
        struct loco_registry_adapter *a = &r->adapters[i];
        const struct rnode *st = rnode_get(seq->kids[i], "status");
        if (a->status != LOCO_REGISTRY_ACTIVE || !st || st->file != r->user_path)
            continue;
        for (size_t j = 0; j < r->n_adapters; j++) {
            const struct rnode *sj = rnode_get(seq->kids[j], "status");
            if (j != i && r->adapters[j].status == LOCO_REGISTRY_ACTIVE &&
                strcmp(r->adapters[j].domain, a->domain) == 0 && sj && sj->file != r->user_path)
                r->adapters[j].status = LOCO_REGISTRY_CANDIDATE;
        }
    }
    for (size_t i = 0; i < r->n_adapters; i++)
        for (size_t j = i + 1; j < r->n_adapters; j++)
            if (r->adapters[i].status == LOCO_REGISTRY_ACTIVE &&
                r->adapters[j].status == LOCO_REGISTRY_ACTIVE &&
                strcmp(r->adapters[i].domain, r->adapters[j].domain) == 0)
                conflict(r, seq->kids[j], &r->adapters[i], &r->adapters[j]);
}

static void build_adapters(struct loco_registry *r, const struct rnode *root)
{
    const struct rnode *seq = need(r, root, "", "adapters", RNODE_SEQ, true);
    if (!seq)
        return;
    r->adapters = own(r, calloc(seq->n + 1, sizeof *r->adapters));
    if (!r->adapters)
        return;
    for (size_t i = 0; i < seq->n; i++) {
        const struct rnode *m = seq->kids[i];
        struct loco_registry_adapter *a = &r->adapters[r->n_adapters];
        if (m->kind != RNODE_MAP) {
            char f[64];
            snprintf(f, sizeof f, "adapters[%zu]", i);
            registry_problem(r, m, NULL, f, "", "must be a mapping (name, domain, ...)");
            return; /* indexes of seq and adapters must stay aligned */
        }
        build_adapter(r, m, i, a);
        for (size_t j = 0; j < r->n_adapters; j++)
            if (a->name[0] && strcmp(r->adapters[j].name, a->name) == 0)
                registry_problem(r, m, NULL, "adapters.name", a->name,
                                 "a second adapter with this name; names must be unique");
        r->n_adapters++;
    }
    settle_actives(r, seq);
}

/* `index:` names the adapter index `loco adapters install NAME` reads
 * (docs/sharing.md): an http(s) URL or a path, never another scheme. */
static void build_index(struct loco_registry *r, const struct rnode *root)
{
    r->index = get_str(r, root, "", "index", false);
    const char *v = r->index;
    if (!rnode_get(root, "index"))
        return;
    bool url = strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0;
    if (!v[0] || (strstr(v, "://") && !url))
        registry_problem(r, rnode_get(root, "index"), NULL, "index", v,
                         "must be an http(s) URL or a path of the adapter index (a JSON file; "
                         "docs/sharing.md)");
}

bool loco_registry_serve_candidates(const struct loco_registry *r)
{
    return r->serve_candidates;
}

int registry_build_view(struct loco_registry *r)
{
    static const char *const known[] = {"schema_version", "base_model", "domains", "adapters",
                                        "router", "serve_candidates", "index", NULL};
    const struct rnode *root = r->tree;
    check_keys(r, root, "", known);
    const struct rnode *v = need(r, root, "", "schema_version", RNODE_SCALAR, true);
    if (v && strcmp(v->str, "2") != 0)
        registry_problem(r, v, NULL, "schema_version", v->str,
                         "this loco reads schema version 2 (docs/registry.md says how to "
                         "migrate)");
    const struct rnode *uv = r->user_tree ? rnode_get(r->user_tree, "schema_version") : NULL;
    if (uv && (uv->kind != RNODE_SCALAR || strcmp(uv->str, "2") != 0))
        registry_problem(r, uv, r->user_path, "schema_version",
                         uv->kind == RNODE_SCALAR ? uv->str : "", "the overlay must be version 2");
    r->router = get_str(r, root, "", "router", false);
    build_index(r, root);
    if (rnode_get(root, "serve_candidates"))
        get_bool(r, root, "", "serve_candidates", &r->serve_candidates);
    build_base(r, root);
    build_domains(r, root);
    build_adapters(r, root);
    return LOCO_OK;
}
