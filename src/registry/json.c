/*
 * json.c - the registry as JSON, for `loco adapters list --json` and
 * `loco adapters info --json` (scripts read these; field names match the
 * YAML schema, plus "primary_benchmark", "primary_score", "source").
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_internal.h"

static cJSON *strs_json(struct loco_registry_strs s)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < s.n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(s.v[i]));
    return a;
}

static cJSON *score_json(const struct loco_registry_score *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "benchmark", s->benchmark);
    cJSON_AddNumberToObject(o, "score", s->score);
    cJSON_AddNumberToObject(o, "ci_low", s->ci_low);
    cJSON_AddNumberToObject(o, "ci_high", s->ci_high);
    cJSON_AddNumberToObject(o, "base_score", s->base_score);
    cJSON_AddNumberToObject(o, "p_value", s->p_value);
    cJSON_AddBoolToObject(o, "passed", s->passed);
    cJSON_AddNumberToObject(o, "n_items", (double)s->n_items);
    cJSON_AddStringToObject(o, "record", s->record);
    return o;
}

static void add_provenance(cJSON *o, const struct loco_registry_provenance *p)
{
    cJSON *v = cJSON_AddObjectToObject(o, "provenance");
    if (!v)
        return;
    cJSON_AddStringToObject(v, "recipe", p->recipe);
    cJSON_AddStringToObject(v, "data", p->data);
    if (p->seed >= 0)
        cJSON_AddNumberToObject(v, "seed", (double)p->seed);
    else
        cJSON_AddNullToObject(v, "seed");
    cJSON_AddStringToObject(v, "semester", p->semester);
    cJSON_AddItemToObject(v, "authors", strs_json(p->authors));
    cJSON_AddStringToObject(v, "training_log", p->training_log);
}

static cJSON *adapter_obj(const struct loco_registry *r, const struct loco_registry_adapter *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "domain", a->domain);
    cJSON_AddStringToObject(o, "version", a->version);
    cJSON_AddStringToObject(o, "status", loco_registry_status_name(a->status));
    cJSON_AddStringToObject(o, "file", a->file);
    cJSON_AddStringToObject(o, "path", a->path);
    cJSON_AddStringToObject(o, "sha256", a->sha256);
    cJSON_AddStringToObject(o, "base_sha256", a->base_sha256);
    cJSON *l = cJSON_AddObjectToObject(o, "lora");
    if (l) {
        cJSON_AddNumberToObject(l, "rank", a->rank);
        cJSON_AddNumberToObject(l, "alpha", a->alpha);
        cJSON_AddItemToObject(l, "targets", strs_json(a->targets));
    }
    add_provenance(o, &a->provenance);
    cJSON *ro = cJSON_AddObjectToObject(o, "router");
    if (ro) {
        cJSON_AddItemToObject(ro, "keywords", strs_json(a->keywords));
        cJSON_AddItemToObject(ro, "examples", strs_json(a->examples));
    }
    cJSON *sc = cJSON_AddArrayToObject(o, "scores");
    for (size_t i = 0; sc && i < a->n_scores; i++)
        cJSON_AddItemToArray(sc, score_json(&a->scores[i]));
    const struct loco_registry_domain *d = loco_registry_find_domain(r, a->domain);
    const struct loco_registry_score *ps = loco_registry_primary_score(r, a);
    cJSON_AddStringToObject(o, "primary_benchmark", d ? d->primary_benchmark : "");
    if (ps)
        cJSON_AddItemToObject(o, "primary_score", score_json(ps));
    else
        cJSON_AddNullToObject(o, "primary_score");
    cJSON_AddStringToObject(o, "source", a->source);
    cJSON_AddNumberToObject(o, "line", a->line);
    cJSON_AddBoolToObject(o, "user", a->user);
    return o;
}

static char *print_free(cJSON *o)
{
    char *s = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        loco_error_set(LOCO_ERR_NOMEM, "out of memory writing JSON");
    return s;
}

char *loco_registry_adapter_json(const struct loco_registry *r,
                                 const struct loco_registry_adapter *a)
{
    return print_free(adapter_obj(r, a));
}

char *loco_registry_json(const struct loco_registry *r, const char *domain)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return print_free(NULL);
    cJSON *b = cJSON_AddObjectToObject(o, "base_model");
    if (b) {
        cJSON_AddStringToObject(b, "name", r->base.name);
        cJSON_AddStringToObject(b, "file", r->base.file);
        cJSON_AddStringToObject(b, "sha256", r->base.sha256);
        cJSON_AddStringToObject(b, "architecture", r->base.architecture);
        cJSON_AddStringToObject(b, "academic_year", r->base.academic_year);
    }
    cJSON *ds = cJSON_AddArrayToObject(o, "domains");
    for (size_t i = 0; ds && i < r->n_domains; i++) {
        const struct loco_registry_domain *d = &r->domains[i];
        cJSON *x = cJSON_CreateObject();
        if (!x)
            break;
        cJSON_AddStringToObject(x, "name", d->name);
        cJSON_AddStringToObject(x, "description", d->description);
        cJSON_AddStringToObject(x, "primary_benchmark", d->primary_benchmark);
        cJSON_AddItemToObject(x, "benchmarks", strs_json(d->benchmarks));
        cJSON_AddStringToObject(x, "strategy", d->strategy[0] ? d->strategy : "plain");
        cJSON_AddNumberToObject(x, "min_vote_share", d->min_vote_share);
        cJSON_AddStringToObject(x, "below_threshold",
                                d->below_threshold[0] ? d->below_threshold : "abstain");
        const struct loco_registry_adapter *act = loco_registry_active(r, d->name);
        if (act)
            cJSON_AddStringToObject(x, "active", act->name);
        else
            cJSON_AddNullToObject(x, "active");
        cJSON_AddItemToArray(ds, x);
    }
    cJSON *as = cJSON_AddArrayToObject(o, "adapters");
    for (size_t i = 0; as && i < r->n_adapters; i++)
        if (!domain || strcmp(r->adapters[i].domain, domain) == 0)
            cJSON_AddItemToArray(as, adapter_obj(r, &r->adapters[i]));
    return print_free(o);
}
