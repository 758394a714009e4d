/*
 * registry.c - finding the registry files, loading (project + overlay,
 * merged) and looking things up. See loco/registry.h for the rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "loco/project.h"
#include "registry/registry_internal.h"

/* ---- paths ---------------------------------------------------------------- */

static int put_path(char *buf, size_t cap, int n)
{
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "the registry path is too long");
    return LOCO_OK;
}

int loco_registry_project_path(char *buf, size_t cap)
{
    struct loco_project_location *loc = malloc(sizeof *loc);
    if (!loc)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory locating the project");
    int rc = loco_project_locate(NULL, loc);
    if (rc == LOCO_OK)
        rc = put_path(buf, cap, snprintf(buf, cap, "%s", loc->registry));
    free(loc);
    return rc;
}

int loco_registry_user_path(char *buf, size_t cap)
{
    int rc = loco_user_path(LOCO_USER_DATA, "registry.yaml", buf, cap);
    if (rc == LOCO_ERR_NOT_FOUND)
        loco_error_set(rc, "no home directory for the user registry; set XDG_DATA_HOME");
    else if (rc == LOCO_ERR_RANGE)
        loco_error_set(rc, "the registry path is too long");
    return rc;
}

struct loco_registry_params loco_registry_default_params(void)
{
    struct loco_registry_params p = {NULL, NULL, false};
    return p;
}

/* ---- status names ----------------------------------------------------------- */

static const char *const status_names[] = {"candidate", "active", "retired"};

const char *loco_registry_status_name(enum loco_registry_status s)
{
    return (unsigned)s < 3 ? status_names[s] : "?";
}

int loco_registry_status_parse(const char *s, enum loco_registry_status *out)
{
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, status_names[i]) == 0) {
            *out = (enum loco_registry_status)i;
            return LOCO_OK;
        }
    return loco_error_set(LOCO_ERR_INVALID,
                          "status '%s' is not one of candidate, active, retired", s ? s : "");
}

/* ---- loading ---------------------------------------------------------------- */

void loco_registry_free(struct loco_registry *r)
{
    if (!r)
        return;
    rnode_free(r->tree);
    rnode_free(r->user_tree);
    for (size_t i = 0; i < r->n_owned; i++)
        free(r->owned[i]);
    free(r->owned);
    free(r->problems);
    free(r);
}

int registry_set_paths(struct loco_registry *r, const struct loco_registry_params *p)
{
    int rc;
    if (p && p->project_path)
        rc = put_path(r->project_path, sizeof r->project_path,
                      snprintf(r->project_path, sizeof r->project_path, "%s", p->project_path));
    else
        rc = loco_registry_project_path(r->project_path, sizeof r->project_path);
    if (rc != LOCO_OK)
        return rc;
    if (p && p->user_path)
        return put_path(r->user_path, sizeof r->user_path,
                        snprintf(r->user_path, sizeof r->user_path, "%s", p->user_path));
    if (loco_registry_user_path(r->user_path, sizeof r->user_path) != LOCO_OK)
        r->user_path[0] = '\0'; /* no home: no overlay */
    return LOCO_OK;
}

/* Parse the files, merge, build the view. */
static int load_trees(struct loco_registry *r)
{
    int rc = rnode_parse_file(r->project_path, r->project_path, &r->tree);
    if (rc == LOCO_ERR_NOT_FOUND)
        loco_error_prefix("no project registry (`loco registry path` says how it is found)");
    if (rc != LOCO_OK)
        return rc;
    if (r->user_path[0]) {
        rc = rnode_parse_file(r->user_path, r->user_path, &r->user_tree);
        if (rc == LOCO_ERR_NOT_FOUND) {
            loco_error_clear();
            r->user_tree = NULL;
        } else if (rc != LOCO_OK) {
            return rc;
        } else if ((rc = registry_merge(r->tree, r->user_tree)) != LOCO_OK) {
            return rc;
        }
    }
    return registry_build_view(r);
}

static struct loco_registry *finish(struct loco_registry *r, int rc, bool lenient)
{
    if (rc == LOCO_OK && r->n_problems > 0 && !lenient)
        rc = registry_fail_with_problems(r);
    if (rc != LOCO_OK) {
        loco_registry_free(r);
        return NULL;
    }
    return r;
}

struct loco_registry *loco_registry_load(const struct loco_registry_params *p)
{
    struct loco_registry *r = calloc(1, sizeof *r);
    if (!r) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory loading the registry");
        return NULL;
    }
    int rc = registry_set_paths(r, p);
    if (rc == LOCO_OK)
        rc = load_trees(r);
    return finish(r, rc, p && p->lenient);
}

struct loco_registry *loco_registry_load_file(const char *path, bool lenient)
{
    struct loco_registry_params p = {path, "", lenient};
    if (!path) {
        loco_error_set(LOCO_ERR_INVALID, "no registry file given");
        return NULL;
    }
    return loco_registry_load(&p);
}

/* ---- looking things up ------------------------------------------------------ */

const struct loco_registry_base *loco_registry_base(const struct loco_registry *r)
{
    return &r->base;
}

const char *loco_registry_file(const struct loco_registry *r)
{
    return r->project_path;
}

const char *loco_registry_router(const struct loco_registry *r)
{
    return r->router ? r->router : "";
}

const char *loco_registry_index(const struct loco_registry *r)
{
    return r->index ? r->index : "";
}

size_t loco_registry_n_domains(const struct loco_registry *r)
{
    return r->n_domains;
}

const struct loco_registry_domain *loco_registry_domain_at(const struct loco_registry *r, size_t i)
{
    return i < r->n_domains ? &r->domains[i] : NULL;
}

const struct loco_registry_domain *loco_registry_find_domain(const struct loco_registry *r,
                                                             const char *name)
{
    for (size_t i = 0; name && i < r->n_domains; i++)
        if (strcmp(r->domains[i].name, name) == 0)
            return &r->domains[i];
    return NULL;
}

size_t loco_registry_n_adapters(const struct loco_registry *r)
{
    return r->n_adapters;
}

const struct loco_registry_adapter *loco_registry_adapter_at(const struct loco_registry *r,
                                                             size_t i)
{
    return i < r->n_adapters ? &r->adapters[i] : NULL;
}

const struct loco_registry_adapter *loco_registry_find(const struct loco_registry *r,
                                                       const char *name)
{
    char known[512] = "";
    size_t len = 0;
    for (size_t i = 0; name && i < r->n_adapters; i++)
        if (strcmp(r->adapters[i].name, name) == 0)
            return &r->adapters[i];
    for (size_t i = 0; i < r->n_adapters; i++) {
        int w = snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                         r->adapters[i].name);
        if (w < 0 || (size_t)w >= sizeof known - len)
            break;
        len += (size_t)w;
    }
    loco_error_set(LOCO_ERR_NOT_FOUND, "no adapter named '%s' in the registry (%s%s%s); known: %s",
                   name ? name : "", r->project_path, r->user_path[0] ? " + " : "", r->user_path,
                   len ? known : "none");
    return NULL;
}

const struct loco_registry_adapter *loco_registry_active(const struct loco_registry *r,
                                                         const char *domain)
{
    for (size_t i = 0; domain && i < r->n_adapters; i++)
        if (r->adapters[i].status == LOCO_REGISTRY_ACTIVE &&
            strcmp(r->adapters[i].domain, domain) == 0)
            return &r->adapters[i];
    return NULL;
}

const struct loco_registry_score *loco_registry_score(const struct loco_registry_adapter *a,
                                                      const char *benchmark)
{
    for (size_t i = 0; a && benchmark && i < a->n_scores; i++)
        if (strcmp(a->scores[i].benchmark, benchmark) == 0)
            return &a->scores[i];
    return NULL;
}

const struct loco_registry_score *loco_registry_primary_score(const struct loco_registry *r,
                                                              const struct loco_registry_adapter *a)
{
    const struct loco_registry_domain *d = a ? loco_registry_find_domain(r, a->domain) : NULL;
    return d ? loco_registry_score(a, d->primary_benchmark) : NULL;
}

size_t loco_registry_n_problems(const struct loco_registry *r)
{
    return r->n_problems;
}

const struct loco_registry_problem *loco_registry_problem_at(const struct loco_registry *r,
                                                             size_t i)
{
    return i < r->n_problems ? &r->problems[i] : NULL;
}
