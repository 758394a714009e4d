/*
 * edit.c - changing the registry: scores, adapters, promotion, removal.
 *
 * Every change is one transaction (transact()) on one file, the "layer":
 *   1. lock "<file>.lock" (flock; waits for another writer to finish);
 *   2. load the merged registry as it is now (refusing a broken one);
 *   3. read the layer file and let an edit function change its tree;
 *   4. merge the changed layer with the other one and check the schema, so
 *      a change that would leave the registry invalid is refused unwritten;
 *   5. write the layer atomically (temporary file, fsync, rename); unlock.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/fileio.h"
#include "loco/lora.h"
#include "registry/registry_internal.h"

typedef int (*edit_fn)(struct rnode *layer, const struct loco_registry *cur,
                       enum loco_registry_layer which, void *user);

/* The layer's tree; a missing overlay starts as an empty version-2 file. */
static int read_layer(const char *path, bool is_user, struct rnode **out)
{
    int rc = rnode_parse_file(path, path, out);
    if (rc == LOCO_ERR_NOT_FOUND && is_user) {
        loco_error_clear();
        *out = rnode_new(RNODE_MAP);
        if (!*out)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        return rnode_set(*out, "schema_version", rnode_int(LOCO_REGISTRY_SCHEMA_VERSION));
    }
    return rc;
}

/* Would the registry with `text` as the layer's content be valid? With
 * `overlay` false, the project file is checked alone. */
static int check_candidate(const struct loco_registry *cur, enum loco_registry_layer which,
                           const char *text, size_t len, bool overlay)
{
    struct loco_registry *c = calloc(1, sizeof *c);
    if (!c)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    memcpy(c->project_path, cur->project_path, sizeof c->project_path);
    memcpy(c->user_path, cur->user_path, sizeof c->user_path);
    int rc;
    if (which == LOCO_REGISTRY_PROJECT)
        rc = rnode_parse_text(text, len, c->project_path, &c->tree);
    else
        rc = rnode_parse_file(c->project_path, c->project_path, &c->tree);
    if (rc == LOCO_OK && which == LOCO_REGISTRY_USER)
        rc = rnode_parse_text(text, len, c->user_path, &c->user_tree);
    else if (rc == LOCO_OK && c->user_path[0] && overlay) {
        rc = rnode_parse_file(c->user_path, c->user_path, &c->user_tree);
        if (rc == LOCO_ERR_NOT_FOUND) {
            loco_error_clear();
            rc = LOCO_OK;
        }
    }
    if (rc == LOCO_OK && c->user_tree)
        rc = registry_merge(c->tree, c->user_tree);
    if (rc == LOCO_OK)
        rc = registry_build_view(c);
    if (rc == LOCO_OK && c->n_problems > 0) {
        registry_fail_with_problems(c);
        loco_error_prefix("refused: the change would leave the registry invalid");
        rc = LOCO_ERR_INVALID;
    }
    loco_registry_free(c);
    return rc;
}

static int transact(const struct loco_registry_params *p, enum loco_registry_layer which,
                    edit_fn fn, void *user)
{
    struct loco_registry_params lp = p ? *p : loco_registry_default_params();
    lp.lenient = false; /* never write on top of a registry with problems */
    struct loco_registry *cur = NULL;
    struct rnode *layer = NULL;
    char *text = NULL;
    size_t len = 0;
    char path[LOCO_REGISTRY_PATH_MAX];
    struct loco_registry tmp = {0};
    if (which != LOCO_REGISTRY_PROJECT && which != LOCO_REGISTRY_USER)
        return loco_error_set(LOCO_ERR_INVALID, "write to the project or the user registry");
    int rc = registry_set_paths(&tmp, &lp);
    if (rc != LOCO_OK)
        return rc;
    memcpy(path, which == LOCO_REGISTRY_USER ? tmp.user_path : tmp.project_path, sizeof path);
    if (!path[0])
        return loco_error_set(LOCO_ERR_INVALID, "no user registry to write to; set XDG_DATA_HOME");
    int fd = registry_lock(path);
    if (fd < 0)
        return fd;
    registry_remove_stale_temps(path);
    cur = loco_registry_load(&lp);
    if (!cur) {
        rc = LOCO_ERR_FORMAT;
        loco_error_prefix("cannot change the registry");
    }
    if (rc == LOCO_OK)
        rc = read_layer(path, which == LOCO_REGISTRY_USER, &layer);
    if (rc == LOCO_OK)
        rc = fn(layer, cur, which, user);
    if (rc == LOCO_OK)
        rc = rnode_emit(layer, &text, &len);
    if (rc == LOCO_OK && which == LOCO_REGISTRY_PROJECT)
        rc = check_candidate(cur, which, text, len, false);
    if (rc == LOCO_OK)
        rc = check_candidate(cur, which, text, len, true);
    if (rc == LOCO_OK)
        rc = loco_file_write_atomic(path, text, len);
    free(text);
    rnode_free(layer);
    loco_registry_free(cur);
    registry_unlock(fd);
    return rc;
}

/* ---- tree helpers for edits -------------------------------------------- */

/* layer.adapters (created when missing). */
static struct rnode *layer_adapters(struct rnode *layer)
{
    struct rnode *seq = rnode_get(layer, "adapters");
    if (seq && seq->kind == RNODE_SEQ)
        return seq;
    if (rnode_set(layer, "adapters", rnode_new(RNODE_SEQ)) != LOCO_OK)
        return NULL;
    return rnode_get(layer, "adapters");
}

/* The layer's entry for `name`; with `create`, a new {name: ...} entry (the
 * overlay's way of overriding some fields of a project adapter). */
static struct rnode *layer_entry(struct rnode *layer, const char *name, bool create)
{
    struct rnode *seq = layer_adapters(layer);
    if (!seq)
        return NULL;
    int at = rnode_find_by(seq, "name", name);
    if (at >= 0)
        return seq->kids[at];
    if (!create)
        return NULL;
    struct rnode *m = rnode_new(RNODE_MAP);
    if (!m || rnode_set(m, "name", rnode_str(name)) != LOCO_OK || rnode_append(seq, m) != LOCO_OK)
        return NULL;
    return seq->kids[seq->n - 1];
}

static int no_entry(const struct loco_registry *cur, const char *name)
{
    return loco_error_set(LOCO_ERR_INVALID,
                          "adapter '%s' is defined in the user overlay %s, not in the project "
                          "registry %s; write to the overlay instead",
                          name, cur->user_path, cur->project_path);
}

/* ---- scores --------------------------------------------------------------- */

struct score_edit {
    const char *adapter;
    const struct loco_registry_score *s;
};

static struct rnode *score_node(const struct loco_registry_score *s)
{
    struct rnode *m = rnode_new(RNODE_MAP);
    if (!m)
        return NULL;
    int rc = rnode_set(m, "benchmark", rnode_str(s->benchmark));
    if (rc == LOCO_OK) rc = rnode_set(m, "score", rnode_num(s->score));
    if (rc == LOCO_OK) rc = rnode_set(m, "ci_low", rnode_num(s->ci_low));
    if (rc == LOCO_OK) rc = rnode_set(m, "ci_high", rnode_num(s->ci_high));
    if (rc == LOCO_OK) rc = rnode_set(m, "base_score", rnode_num(s->base_score));
    if (rc == LOCO_OK) rc = rnode_set(m, "p_value", rnode_num(s->p_value));
    if (rc == LOCO_OK) rc = rnode_set(m, "passed", rnode_bool(s->passed));
    if (rc == LOCO_OK) rc = rnode_set(m, "n_items", rnode_int(s->n_items));
    if (rc == LOCO_OK) rc = rnode_set(m, "record", rnode_str(s->record));
    if (rc != LOCO_OK) {
        rnode_free(m);
        return NULL;
    }
    return m;
}

static int edit_score(struct rnode *layer, const struct loco_registry *cur,
                      enum loco_registry_layer which, void *user)
{
    const struct score_edit *e = user;
    if (!loco_registry_find(cur, e->adapter))
        return LOCO_ERR_NOT_FOUND;
    struct rnode *entry = layer_entry(layer, e->adapter, which == LOCO_REGISTRY_USER);
    if (!entry)
        return which == LOCO_REGISTRY_USER ? LOCO_ERR_NOMEM : no_entry(cur, e->adapter);
    struct rnode *seq = rnode_get(entry, "scores");
    if (!seq || seq->kind != RNODE_SEQ) {
        if (rnode_set(entry, "scores", rnode_new(RNODE_SEQ)) != LOCO_OK)
            return LOCO_ERR_NOMEM;
        seq = rnode_get(entry, "scores");
    }
    struct rnode *m = score_node(e->s);
    if (!m)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    int at = rnode_find_by(seq, "benchmark", e->s->benchmark);
    if (at < 0)
        return rnode_append(seq, m);
    rnode_free(seq->kids[at]);
    seq->kids[at] = m;
    return LOCO_OK;
}

static int check_score(const char *adapter, const struct loco_registry_score *s)
{
    if (!adapter || !adapter[0] || !s || !s->benchmark || !s->benchmark[0])
        return loco_error_set(LOCO_ERR_INVALID, "a score needs an adapter name and a benchmark");
    if (!s->record || !s->record[0])
        return loco_error_set(LOCO_ERR_INVALID,
                              "score of '%s' on %s has no record: scores come from evaluation "
                              "records; pass the record's path",
                              adapter, s->benchmark);
    double v[5] = {s->score, s->ci_low, s->ci_high, s->base_score, s->p_value};
    for (int i = 0; i < 5; i++)
        if (!isfinite(v[i]))
            return loco_error_set(LOCO_ERR_INVALID, "score of '%s' on %s: a value is not finite",
                                  adapter, s->benchmark);
    if (!(s->ci_low <= s->score && s->score <= s->ci_high))
        return loco_error_set(LOCO_ERR_INVALID,
                              "score of '%s' on %s: %g must lie inside its interval [%g, %g]",
                              adapter, s->benchmark, s->score, s->ci_low, s->ci_high);
    if (!(s->p_value >= 0 && s->p_value <= 1) || s->n_items < 1)
        return loco_error_set(LOCO_ERR_INVALID,
                              "score of '%s' on %s: p_value %g must be in [0, 1] and n_items "
                              "%lld at least 1",
                              adapter, s->benchmark, s->p_value, (long long)s->n_items);
    return LOCO_OK;
}

int loco_registry_record_score(const struct loco_registry_params *p,
                               enum loco_registry_layer layer, const char *adapter,
                               const struct loco_registry_score *s)
{
    int rc = check_score(adapter, s);
    if (rc != LOCO_OK)
        return rc;
    struct score_edit e = {adapter, s};
    return transact(p, layer, edit_score, &e);
}

/* ---- adding adapters ------------------------------------------------------ */

static struct rnode *strs_node(struct loco_registry_strs s, bool flow)
{
    struct rnode *seq = rnode_new(RNODE_SEQ);
    if (!seq)
        return NULL;
    seq->flow = flow;
    for (size_t i = 0; i < s.n; i++)
        if (rnode_append(seq, rnode_str(s.v[i])) != LOCO_OK) {
            rnode_free(seq);
            return NULL;
        }
    return seq;
}

static struct rnode *sub_map(struct rnode *m, const char *key)
{
    return rnode_set(m, key, rnode_new(RNODE_MAP)) == LOCO_OK ? rnode_get(m, key) : NULL;
}

static int adapter_fields(struct rnode *m, const struct loco_registry_adapter *a)
{
    int rc = rnode_set(m, "name", rnode_str(a->name));
    if (rc == LOCO_OK) rc = rnode_set(m, "domain", rnode_str(a->domain));
    if (rc == LOCO_OK) rc = rnode_set(m, "version", rnode_str(a->version));
    if (rc == LOCO_OK) rc = rnode_set(m, "file", rnode_str(a->file));
    if (rc == LOCO_OK) rc = rnode_set(m, "sha256", rnode_str(a->sha256));
    if (rc == LOCO_OK) rc = rnode_set(m, "base_sha256", rnode_str(a->base_sha256));
    struct rnode *l = rc == LOCO_OK ? sub_map(m, "lora") : NULL;
    if (!l)
        return LOCO_ERR_NOMEM;
    rc = rnode_set(l, "rank", rnode_int(a->rank));
    if (rc == LOCO_OK) rc = rnode_set(l, "alpha", rnode_num(a->alpha));
    if (rc == LOCO_OK) rc = rnode_set(l, "targets", strs_node(a->targets, true));
    const struct loco_registry_provenance *pv = &a->provenance;
    struct rnode *v = rc == LOCO_OK ? sub_map(m, "provenance") : NULL;
    if (!v)
        return LOCO_ERR_NOMEM;
    rc = rnode_set(v, "recipe", rnode_str(pv->recipe));
    if (rc == LOCO_OK) rc = rnode_set(v, "data", rnode_str(pv->data));
    if (rc == LOCO_OK && pv->seed >= 0) rc = rnode_set(v, "seed", rnode_int(pv->seed));
    if (rc == LOCO_OK) rc = rnode_set(v, "semester", rnode_str(pv->semester));
    if (rc == LOCO_OK) rc = rnode_set(v, "authors", strs_node(pv->authors, true));
    if (rc == LOCO_OK && pv->training_log && pv->training_log[0])
        rc = rnode_set(v, "training_log", rnode_str(pv->training_log));
    struct rnode *ro = rc == LOCO_OK ? sub_map(m, "router") : NULL;
    if (!ro)
        return LOCO_ERR_NOMEM;
    rc = rnode_set(ro, "keywords", strs_node(a->keywords, true));
    if (rc == LOCO_OK) rc = rnode_set(ro, "examples", strs_node(a->examples, false));
    if (rc == LOCO_OK) rc = rnode_set(m, "status", rnode_str(loco_registry_status_name(a->status)));
    struct rnode *sc = rc == LOCO_OK ? rnode_new(RNODE_SEQ) : NULL;
    for (size_t i = 0; sc && i < a->n_scores; i++)
        if (rnode_append(sc, score_node(&a->scores[i])) != LOCO_OK) {
            rnode_free(sc);
            sc = NULL;
        }
    return sc ? rnode_set(m, "scores", sc) : LOCO_ERR_NOMEM;
}

static int edit_add(struct rnode *layer, const struct loco_registry *cur,
                    enum loco_registry_layer which, void *user)
{
    const struct loco_registry_adapter *a = user;
    struct rnode *seq = layer_adapters(layer);
    struct rnode *m = rnode_new(RNODE_MAP);
    if (!seq || !m) {
        rnode_free(m);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    if (adapter_fields(m, a) != LOCO_OK) {
        rnode_free(m);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    int at = rnode_find_by(seq, "name", a->name);
    if (at < 0)
        return rnode_append(seq, m);
    rnode_free(seq->kids[at]);
    seq->kids[at] = m;
    return LOCO_OK;
}

int loco_registry_add_adapter(const struct loco_registry_params *p,
                              enum loco_registry_layer layer,
                              const struct loco_registry_adapter *a)
{
    if (!a || !a->name || !a->domain || !a->version || !a->file || !a->sha256 ||
        !a->base_sha256 || !a->provenance.recipe || !a->provenance.data ||
        !a->provenance.semester)
        return loco_error_set(LOCO_ERR_INVALID, "an adapter to add needs name, domain, version, "
                                                "file, sha256, base_sha256 and provenance");
    return transact(p, layer, edit_add, (void *)a);
}

/* ---- removing ---------------------------------------------------------------- */

struct remove_edit {
    const char *name;
    char path[LOCO_REGISTRY_PATH_MAX];
};

static int edit_remove(struct rnode *layer, const struct loco_registry *cur,
                       enum loco_registry_layer which, void *user)
{
    struct remove_edit *e = user;
    const struct loco_registry_adapter *a = loco_registry_find(cur, e->name);
    if (!a)
        return LOCO_ERR_NOT_FOUND;
    if (!a->user)
        return loco_error_set(LOCO_ERR_INVALID,
                              "'%s' is a project adapter (%s:%d); remove only removes adapters "
                              "installed in your overlay %s. To take it out of use, set its "
                              "status to retired in the project registry",
                              e->name, a->source, a->line, cur->user_path);
    snprintf(e->path, sizeof e->path, "%s", a->path);
    struct rnode *seq = layer_adapters(layer);
    int at = seq ? rnode_find_by(seq, "name", e->name) : -1;
    if (at >= 0)
        rnode_remove(seq, (size_t)at);
    return LOCO_OK;
}

int loco_registry_remove_adapter(const struct loco_registry_params *p, const char *name,
                                 bool delete_file, char *removed_path, size_t cap)
{
    struct remove_edit e = {name, ""};
    if (!name || !name[0])
        return loco_error_set(LOCO_ERR_INVALID, "which adapter? give its name");
    int rc = transact(p, LOCO_REGISTRY_USER, edit_remove, &e);
    if (rc != LOCO_OK)
        return rc;
    if (removed_path && cap)
        snprintf(removed_path, cap, "%s", e.path);
    if (delete_file && e.path[0] && unlink(e.path) != 0 && errno != ENOENT)
        return loco_error_set(LOCO_ERR_IO,
                              "removed '%s' from the registry but cannot delete %s: %s", name,
                              e.path, strerror(errno));
    return LOCO_OK;
}

/* ---- promotion ------------------------------------------------------------ */

struct promote_edit {
    const char *adapter; /* NULL: choose the best of `domain` */
    const char *domain;
    char chosen[128];
    char demoted[128];
};

static int set_status(struct rnode *layer, const struct loco_registry *cur,
                      enum loco_registry_layer which, const char *name, const char *status)
{
    struct rnode *entry = layer_entry(layer, name, which == LOCO_REGISTRY_USER);
    if (!entry)
        return which == LOCO_REGISTRY_USER ? loco_error_set(LOCO_ERR_NOMEM, "out of memory")
                                           : no_entry(cur, name);
    return rnode_set(entry, "status", rnode_str(status));
}

static int do_promote(struct rnode *layer, const struct loco_registry *cur,
                      enum loco_registry_layer which, struct promote_edit *e)
{
    const struct loco_registry_adapter *a = loco_registry_find(cur, e->adapter);
    if (!a)
        return LOCO_ERR_NOT_FOUND;
    snprintf(e->chosen, sizeof e->chosen, "%s", a->name);
    int rc = set_status(layer, cur, which, a->name, "active");
    for (size_t i = 0; rc == LOCO_OK && i < cur->n_adapters; i++) {
        const struct loco_registry_adapter *b = &cur->adapters[i];
        if (b == a || strcmp(b->domain, a->domain) != 0)
            continue;
        struct rnode *entry = layer_entry(layer, b->name, false);
        const struct rnode *st = entry ? rnode_get(entry, "status") : NULL;
        bool active_here = st && st->kind == RNODE_SCALAR && strcmp(st->str, "active") == 0;
        if (b->status != LOCO_REGISTRY_ACTIVE && !active_here)
            continue;
        if (!entry && which == LOCO_REGISTRY_PROJECT)
            continue; /* an overlay adapter: the project file cannot demote it */
        rc = set_status(layer, cur, which, b->name, "candidate");
        if (rc == LOCO_OK && b->status == LOCO_REGISTRY_ACTIVE)
            snprintf(e->demoted, sizeof e->demoted, "%s", b->name);
    }
    return rc;
}

static int edit_promote(struct rnode *layer, const struct loco_registry *cur,
                        enum loco_registry_layer which, void *user)
{
    return do_promote(layer, cur, which, user);
}

/* Why adapter a does not qualify for --best, or NULL when it does. */
/* Why adapter a cannot be promoted (into buf), or NULL: it must not be
 * retired, its primary score s must have passed its gate, and so must every
 * other score recorded for it (the out-of-domain non-inferiority checks). */
static const char *disqualified(const struct loco_registry_adapter *a,
                                const struct loco_registry_score *s, char *buf, size_t cap)
{
    if (a->status == LOCO_REGISTRY_RETIRED)
        return "retired";
    if (!s)
        return "no score on the primary benchmark";
    if (!s->passed)
        return "its gate did not pass";
    for (size_t i = 0; i < a->n_scores; i++)
        if (!a->scores[i].passed) {
            snprintf(buf, cap, "its gate on %s did not pass (a regression outside its domain)",
                     a->scores[i].benchmark);
            return buf;
        }
    return NULL;
}

static bool better(const struct loco_registry_score *s, const char *name,
                   const struct loco_registry_score *best, const char *best_name)
{
    if (!best)
        return true;
    if (s->score != best->score)
        return s->score > best->score;
    if (s->n_items != best->n_items)
        return s->n_items > best->n_items;
    return strcmp(name, best_name) < 0;
}

/* The best qualifying adapter of `domain` in cur, or LOCO_ERR_NOT_FOUND
 * naming each adapter and why it does not qualify. */
static int pick_best(const struct loco_registry *cur, const char *domain,
                     const struct loco_registry_adapter **out)
{
    const struct loco_registry_domain *d = loco_registry_find_domain(cur, domain);
    if (!d)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no domain '%s' in the registry", domain);
    const struct loco_registry_adapter *best = NULL;
    const struct loco_registry_score *best_s = NULL;
    char why[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < cur->n_adapters; i++) {
        const struct loco_registry_adapter *a = &cur->adapters[i];
        if (strcmp(a->domain, d->name) != 0)
            continue;
        const struct loco_registry_score *s = loco_registry_score(a, d->primary_benchmark);
        char reason[160];
        const char *no = disqualified(a, s, reason, sizeof reason);
        if (no) {
            int w = snprintf(why + len, sizeof why - len, "%s%s: %s", len ? "; " : "", a->name, no);
            if (w > 0 && (size_t)w < sizeof why - len)
                len += (size_t)w;
        } else if (better(s, a->name, best_s, best ? best->name : "")) {
            best = a;
            best_s = s;
        }
    }
    if (!best)
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "no adapter of domain '%s' qualifies: it needs a %s score whose "
                              "gate passed (%s); run `loco eval` on its adapters first",
                              d->name, d->primary_benchmark,
                              len ? why : "the domain has no adapters");
    *out = best;
    return LOCO_OK;
}

static int edit_best(struct rnode *layer, const struct loco_registry *cur,
                     enum loco_registry_layer which, void *user)
{
    struct promote_edit *e = user;
    const struct loco_registry_adapter *best;
    int rc = pick_best(cur, e->domain, &best);
    if (rc != LOCO_OK)
        return rc;
    e->adapter = best->name;
    return do_promote(layer, cur, which, e);
}

/* LOCO_REGISTRY_AUTO -> the layer that defines the adapter to promote. */
static int auto_layer(const struct loco_registry_params *p, const char *adapter,
                      const char *domain, enum loco_registry_layer *layer)
{
    if (*layer != LOCO_REGISTRY_AUTO)
        return LOCO_OK;
    struct loco_registry *cur = loco_registry_load(p);
    if (!cur)
        return LOCO_ERR_FORMAT;
    const struct loco_registry_adapter *a = NULL;
    int rc = LOCO_OK;
    if (adapter)
        rc = (a = loco_registry_find(cur, adapter)) ? LOCO_OK : LOCO_ERR_NOT_FOUND;
    else
        rc = pick_best(cur, domain, &a);
    if (rc == LOCO_OK)
        *layer = a->user ? LOCO_REGISTRY_USER : LOCO_REGISTRY_PROJECT;
    loco_registry_free(cur);
    return rc;
}

static void copy_out(char *dst, size_t cap, const char *src)
{
    if (dst && cap)
        snprintf(dst, cap, "%s", src);
}

int loco_registry_promote(const struct loco_registry_params *p, enum loco_registry_layer layer,
                          const char *adapter, char *demoted, size_t demoted_cap)
{
    struct promote_edit e = {adapter, NULL, "", ""};
    if (!adapter || !adapter[0])
        return loco_error_set(LOCO_ERR_INVALID, "which adapter? give its name");
    int rc = auto_layer(p, adapter, NULL, &layer);
    if (rc == LOCO_OK)
        rc = transact(p, layer, edit_promote, &e);
    if (rc == LOCO_OK)
        copy_out(demoted, demoted_cap, e.demoted);
    return rc;
}

int loco_registry_promote_best(const struct loco_registry_params *p,
                               enum loco_registry_layer layer, const char *domain, char *chosen,
                               size_t chosen_cap, char *demoted, size_t demoted_cap)
{
    struct promote_edit e = {NULL, domain, "", ""};
    if (!domain || !domain[0])
        return loco_error_set(LOCO_ERR_INVALID, "which domain? give its name");
    int rc = auto_layer(p, NULL, domain, &layer);
    if (rc == LOCO_OK)
        rc = transact(p, layer, edit_best, &e);
    if (rc == LOCO_OK) {
        copy_out(chosen, chosen_cap, e.chosen);
        copy_out(demoted, demoted_cap, e.demoted);
    }
    return rc;
}
