/*
 * swarm_report.c - the swarm's record (JSON, LOCO_SWARM_RECORD) and its
 * Markdown report (loco/swarm.h). The record holds everything needed to
 * check the figures: the model and adapter hashes, the serving decisions,
 * the settings, which items were left out for contamination, every item's
 * picks and scores, and per benchmark and policy the mean, the paired
 * difference and its test; the composite says which scale it uses.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/swarm.h"

#define SCALE_TEXT                                                                                 \
    "each benchmark's paired difference from the base model divided by the spread of the "         \
    "base model's scores on it (Glass's delta, base model as control): pass/fail benchmarks "      \
    "sqrt(p~(1-p~)) with p~ = (k + 1/2)/(n + 1), scored benchmarks the sample sd (if the "         \
    "base scores do not vary: the sd of all policies' scores pooled); the composite is the "       \
    "mean of these over benchmarks (equal weight), in base-model standard deviations. "            \
    "Interval and p: stratified paired bootstrap (items resampled within each benchmark, "         \
    "each benchmark's n kept, scales held fixed)"

/* A number, or null when it is not finite. */
static cJSON *num(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *interval(struct loco_ci ci)
{
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, num(ci.lo));
    cJSON_AddItemToArray(a, num(ci.hi));
    return a;
}

/* The domain a pick names, or "base". */
static const char *pick_name(const struct loco_swarm *s, size_t pick)
{
    return pick < s->n_domains ? s->domains[pick].name : LOCO_ROUTE_BASE;
}

static const char *source_name(const struct loco_swarm *s, int source)
{
    return source >= 0 ? s->domains[source].adapter : "base model";
}

static cJSON *serving_json(const struct loco_swarm *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "rule",
                            s->serve_candidates
                                ? "serve_candidates: the best candidate serves even "
                                  "when it has not passed its gate"
                                : "proven only: the active adapter or a candidate "
                                  "that passed its gate; otherwise the base model");
    cJSON_AddBoolToObject(o, "serve_candidates", s->serve_candidates);
    cJSON *arr = cJSON_AddArrayToObject(o, "domains");
    for (size_t d = 0; d < s->n_domains; d++) {
        const struct loco_swarm_domain *sd = &s->domains[d];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "domain", sd->name);
        if (sd->adapter[0]) {
            cJSON_AddStringToObject(x, "adapter", sd->adapter);
            cJSON_AddStringToObject(x, "status", sd->status);
            cJSON_AddStringToObject(x, "path", sd->path);
            cJSON_AddStringToObject(x, "sha256", sd->sha256);
        } else
            cJSON_AddNullToObject(x, "adapter");
        cJSON_AddStringToObject(x, "reason", loco_serve_reason_name(sd->reason));
        cJSON_AddStringToObject(x, "reason_text", loco_serve_reason_text(sd->reason));
        if (sd->note[0])
            cJSON_AddStringToObject(x, "note", sd->note);
        cJSON_AddItemToArray(arr, x);
    }
    return o;
}

static cJSON *settings_json(const struct loco_swarm *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "decoding", "greedy");
    cJSON_AddNumberToObject(o, "limit", (double)s->limit);
    cJSON_AddNumberToObject(o, "random_policy_seed", (double)s->seed);
    cJSON_AddNumberToObject(o, "alpha", s->stats.alpha);
    cJSON_AddNumberToObject(o, "bootstrap_resamples", s->stats.bootstrap_b);
    cJSON_AddNumberToObject(o, "bootstrap_seed", (double)s->stats.seed);
    cJSON_AddStringToObject(o, "tests",
                            "pass/fail: exact McNemar; scored: Wilcoxon "
                            "signed-rank; intervals of differences: paired "
                            "bootstrap (percentile)");
    return o;
}

static cJSON *contamination_json(const struct loco_swarm *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "checked", s->contam);
    cJSON_AddStringToObject(o, "rule",
                            "an item whose prompt shares a 13-gram with the training "
                            "data of any serving adapter is left out of every "
                            "policy's comparison");
    cJSON_AddNumberToObject(o, "threshold", s->contam_threshold);
    cJSON *arr = cJSON_AddArrayToObject(o, "indexes");
    for (size_t d = 0; d < s->n_domains; d++) {
        const struct loco_swarm_domain *sd = &s->domains[d];
        if (!sd->adapter[0])
            continue;
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "adapter", sd->adapter);
        cJSON_AddBoolToObject(x, "checked", sd->contam_checked);
        if (sd->contam_checked) {
            cJSON_AddStringToObject(x, "recipe", sd->recipe);
            cJSON_AddNumberToObject(x, "training_examples", (double)sd->n_train);
        } else
            cJSON_AddStringToObject(x, "why", s->contam ? sd->contam_why : "--no-contam");
        cJSON_AddItemToArray(arr, x);
    }
    cJSON *fl = cJSON_AddArrayToObject(o, "flagged");
    for (size_t i = 0; i < s->n_items; i++) {
        const struct loco_swarm_item *it = &s->items[i];
        if (!it->contaminated)
            continue;
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "benchmark", s->bench[it->bench].name);
        cJSON_AddStringToObject(x, "id", it->id);
        cJSON_AddStringToObject(x, "adapters", it->flagged_by);
        cJSON_AddItemToArray(fl, x);
    }
    return o;
}

static cJSON *cell_json(const struct loco_swarm *s, size_t k, size_t b)
{
    const struct loco_swarm_cell *c = &s->cell[k][b];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "policy", s->policies[k]);
    cJSON_AddNumberToObject(o, "n", (double)c->n);
    cJSON_AddItemToObject(o, "mean", num(c->mean));
    cJSON_AddItemToObject(o, "ci", interval(c->ci));
    if (k != s->base_policy) {
        cJSON_AddItemToObject(o, "diff_vs_base", num(c->diff));
        cJSON_AddItemToObject(o, "diff_ci_bootstrap", interval(c->diff_ci));
        cJSON_AddItemToObject(o, "diff_p_bootstrap", num(c->diff_boot_p));
        cJSON_AddItemToObject(o, s->bench[b].binary ? "diff_ci_newcombe" : "diff_ci_t",
                              interval(c->diff_ci_alt));
        cJSON_AddItemToObject(o, "p_value", num(c->p_value));
        cJSON_AddStringToObject(o, "test", s->bench[b].binary ? "mcnemar-exact" : "wilcoxon");
    }
    if (isfinite(c->routing_acc))
        cJSON_AddNumberToObject(o, "routing_accuracy", c->routing_acc);
    return o;
}

static cJSON *benchmarks_json(const struct loco_swarm *s)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t b = 0; b < s->n_bench; b++) {
        const struct loco_swarm_bench *sb = &s->bench[b];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", sb->name);
        cJSON_AddStringToObject(o, "domain", s->domains[sb->domain].name);
        cJSON_AddStringToObject(o, "metric", sb->metric);
        cJSON_AddBoolToObject(o, "binary", sb->binary);
        cJSON_AddNumberToObject(o, "n_items", (double)sb->n_items);
        cJSON_AddNumberToObject(o, "n_contaminated", (double)sb->n_flagged);
        cJSON_AddNumberToObject(o, "n_unscored", (double)sb->n_unscored);
        cJSON_AddNumberToObject(o, "n", (double)sb->n_used);
        cJSON_AddItemToObject(o, "scale", num(sb->scale));
        cJSON_AddStringToObject(o, "scale_from", sb->scale_from ? sb->scale_from : "none");
        cJSON *pol = cJSON_AddArrayToObject(o, "policies");
        for (size_t k = 0; k < s->n_policies; k++)
            cJSON_AddItemToArray(pol, cell_json(s, k, b));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *composite_json(const struct loco_swarm *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "scale", LOCO_SWARM_SCALE);
    cJSON_AddStringToObject(o, "description", SCALE_TEXT);
    cJSON *arr = cJSON_AddArrayToObject(o, "policies");
    for (size_t k = 0; k < s->n_policies; k++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "policy", s->policies[k]);
        cJSON_AddItemToObject(x, "gain_vs_base", num(s->composite[k].mean));
        cJSON_AddItemToObject(x, "ci", interval(s->composite[k].ci));
        cJSON_AddItemToObject(x, "p_value", num(s->composite[k].p_value));
        cJSON_AddNumberToObject(x, "p_value_resolution", 1.0 / (double)s->stats.bootstrap_b);
        cJSON_AddItemToArray(arr, x);
    }
    return o;
}

static cJSON *items_json(const struct loco_swarm *s)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < s->n_items; i++) {
        const struct loco_swarm_item *it = &s->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", it->id);
        cJSON_AddStringToObject(o, "benchmark", s->bench[it->bench].name);
        cJSON_AddStringToObject(o, "domain", s->domains[s->bench[it->bench].domain].name);
        cJSON_AddBoolToObject(o, "used", it->used);
        if (it->contaminated)
            cJSON_AddStringToObject(o, "contaminated_for", it->flagged_by);
        cJSON *pol = cJSON_AddObjectToObject(o, "policies");
        for (size_t k = 0; k < s->n_policies; k++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "pick", pick_name(s, it->pick[k]));
            cJSON_AddStringToObject(x, "served_by", source_name(s, it->source[k]));
            cJSON_AddItemToObject(x, "score", num(it->score[k]));
            cJSON_AddItemToObject(pol, s->policies[k], x);
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

char *loco_swarm_json(const struct loco_swarm *s)
{
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "record", LOCO_SWARM_RECORD);
    cJSON_AddStringToObject(r, "loco_version", LOCO_VERSION);
    cJSON_AddStringToObject(r, "date", s->date);
    cJSON *m = cJSON_AddObjectToObject(r, "model");
    cJSON_AddStringToObject(m, "path", s->model_path);
    cJSON_AddStringToObject(m, "sha256", s->model_sha256);
    cJSON_AddItemToObject(r, "serving", serving_json(s));
    cJSON *rt = cJSON_AddArrayToObject(r, "routers");
    for (size_t k = 1; k < s->base_policy; k++)
        cJSON_AddItemToArray(rt, cJSON_CreateString(s->policies[k]));
    if (s->routers_left_out[0])
        cJSON_AddStringToObject(r, "routers_left_out", s->routers_left_out);
    cJSON_AddStringToObject(r, "policies",
                            "oracle: the item's own domain; each router: the "
                            "domain it picks; base: the base model; random: a "
                            "domain or base drawn uniformly per item; every "
                            "domain answered by its serving adapter");
    cJSON_AddItemToObject(r, "settings", settings_json(s));
    cJSON_AddItemToObject(r, "contamination", contamination_json(s));
    cJSON_AddItemToObject(r, "composite", composite_json(s));
    cJSON_AddItemToObject(r, "benchmarks", benchmarks_json(s));
    cJSON_AddItemToObject(r, "items", items_json(s));
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    return text;
}

/* ---- Markdown ------------------------------------------------------------ */

static void md_interval(FILE *f, struct loco_ci ci)
{
    fprintf(f, "[%+.3f, %+.3f]", ci.lo, ci.hi);
}

static void md_serving(FILE *f, const struct loco_swarm *s)
{
    fprintf(f, "Serving rule: %s.\n\n| domain | answered by | why |\n|---|---|---|\n",
            s->serve_candidates ? "serve_candidates (unproven candidates serve too)"
                                : "only proven adapters (active, or a candidate that passed "
                                  "its gate); otherwise the base model");
    for (size_t d = 0; d < s->n_domains; d++) {
        const struct loco_swarm_domain *sd = &s->domains[d];
        fprintf(f, "| %s | %s | %s%s%s |\n", sd->name, sd->adapter[0] ? sd->adapter : "base model",
                loco_serve_reason_text(sd->reason), sd->note[0] ? "; " : "", sd->note);
    }
}

static void md_contamination(FILE *f, const struct loco_swarm *s)
{
    if (!s->contam) {
        fprintf(f, "\nContamination: not checked (--no-contam).\n");
        return;
    }
    fprintf(f, "\nContamination: items sharing a 13-gram with a serving adapter's training "
               "data are left out of every policy.");
    for (size_t d = 0; d < s->n_domains; d++)
        if (s->domains[d].adapter[0] && !s->domains[d].contam_checked)
            fprintf(f, " Not checked for %s: %s.", s->domains[d].adapter, s->domains[d].contam_why);
    size_t shown = 0;
    for (size_t i = 0; i < s->n_items; i++)
        if (s->items[i].contaminated)
            fprintf(f, "%s%s %s (%s)",
                    shown++ ? ", " : " Flagged: ", s->bench[s->items[i].bench].name, s->items[i].id,
                    s->items[i].flagged_by);
    fprintf(f, "%s\n", shown ? "." : " None flagged.");
}

static void md_table(FILE *f, const struct loco_swarm *s)
{
    fprintf(f, "\n| policy |");
    for (size_t b = 0; b < s->n_bench; b++)
        fprintf(f, " %s (%s, %s, n=%zu) |", s->bench[b].name, s->domains[s->bench[b].domain].name,
                s->bench[b].metric, s->bench[b].n_used);
    fprintf(f, " composite gain (base sd) |\n|---|");
    for (size_t b = 0; b <= s->n_bench; b++)
        fprintf(f, "---:|");
    fprintf(f, "\n");
    for (size_t k = 0; k < s->n_policies; k++) {
        fprintf(f, "| %s |", s->policies[k]);
        for (size_t b = 0; b < s->n_bench; b++) {
            const struct loco_swarm_cell *c = &s->cell[k][b];
            fprintf(f, " %.3f", c->mean);
            if (k != s->base_policy) {
                fprintf(f, " (%+.3f ", c->diff);
                md_interval(f, c->diff_ci);
                fprintf(f, ", p=%.3g)", c->p_value);
            }
            if (isfinite(c->routing_acc))
                fprintf(f, ", routed right %.0f%%", 100 * c->routing_acc);
            fprintf(f, " |");
        }
        if (k == s->base_policy)
            fprintf(f, " 0 |\n");
        else {
            fprintf(f, " **%+.3f** ", s->composite[k].mean);
            md_interval(f, s->composite[k].ci);
            double floor_p = 1.0 / (double)s->stats.bootstrap_b; /* no resample at or below 0 */
            if (s->composite[k].p_value < floor_p)
                fprintf(f, ", p<%.2g |\n", floor_p);
            else
                fprintf(f, ", p=%.3g |\n", s->composite[k].p_value);
        }
    }
}

char *loco_swarm_markdown(const struct loco_swarm *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fprintf(f, "# The routed swarm against the base model\n\n");
    fprintf(f, "%s; model %s (sha256 %.12s); routers:", s->date, s->model_path, s->model_sha256);
    for (size_t k = 1; k < s->base_policy; k++)
        fprintf(f, " %s", s->policies[k]);
    if (s->base_policy == 1)
        fprintf(f, " none");
    fprintf(f, "; first %zu items per benchmark%s.\n\n", s->limit, s->limit ? "" : " (all)");
    if (s->routers_left_out[0])
        fprintf(f, "Routers left out: %s.\n\n", s->routers_left_out);
    md_serving(f, s);
    md_contamination(f, s);
    md_table(f, s);
    fprintf(f,
            "\nEach cell: the mean score on the clean items, then the paired difference "
            "from the base model with its 95%% paired bootstrap interval and the paired p "
            "(exact McNemar for pass/fail, Wilcoxon signed-rank for scores). Composite: "
            "%s.\n",
            SCALE_TEXT);
    fclose(f);
    return text;
}
