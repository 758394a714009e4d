/*
 * eval_report.c - the report of one evaluation record, as Markdown and as a
 * self-contained HTML page, and writing both beside the record.
 *
 * Sections, in order: what was evaluated (adapter, model, hashes, date,
 * version, settings); the results table (per benchmark: scores with CIs,
 * the paired difference with its CI, test and p, effect size, power, gate);
 * in HTML the two charts; each gate's reason and the paired counts;
 * generation time and cache hits; fields this version does not know; and a
 * few example items per benchmark, those where base and adapter disagree
 * first.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_get.h"
#include "core/util.h"
#include "loco/fileio.h"
#include "loco/report.h"
#include "report/report_internal.h"

#define EXAMPLES_PER_BENCH 3
#define ANSWER_CHARS 240
#define PROMPT_CHARS 160
#define SHA_CHARS 12
#define OTHER_CHARS 300

/* ---- what was evaluated ----------------------------------------------------- */

static void sha_cell(struct report_doc *d, const char *sha)
{
    if (!sha || !sha[0]) {
        doc_text(d, "-");
        return;
    }
    doc_text(d, "sha256 ");
    doc_code(d, sha, SHA_CHARS);
}

static void setting_value(struct report_doc *d, const cJSON *v)
{
    if (cJSON_IsString(v))
        doc_text(d, v->valuestring);
    else if (cJSON_IsNumber(v))
        doc_fmt(d, "%g", v->valuedouble);
    else if (cJSON_IsBool(v))
        doc_text(d, cJSON_IsTrue(v) ? "true" : "false");
    else {
        char *brief = report_json_brief(v, 120);
        doc_text(d, brief ? brief : "?");
        free(brief);
    }
}

static void header_row(struct report_doc *d, const char *label)
{
    doc_cell(d);
    doc_strong(d, label);
    doc_cell(d);
}

static void write_header(struct report_doc *d, const struct report_record *r)
{
    static const char *const heads[] = {"", ""};
    doc_table_begin(d, heads, "ll");
    header_row(d, "adapter");
    doc_text(d, r->adapter_name ? r->adapter_name : "-");
    doc_fmt(d, " (domain %s, scale %g), ", r->adapter_domain ? r->adapter_domain : "-",
            isnan(r->scale) ? 1.0 : r->scale);
    sha_cell(d, r->adapter_sha);
    doc_row_end(d);
    header_row(d, "adapter file");
    doc_text(d, r->adapter_path ? r->adapter_path : "-");
    doc_row_end(d);
    header_row(d, "base model");
    doc_text(d, r->model_path ? r->model_path : "-");
    doc_text(d, ", ");
    sha_cell(d, r->model_sha);
    doc_row_end(d);
    header_row(d, "date");
    doc_text(d, r->date ? r->date : "-");
    doc_row_end(d);
    header_row(d, "loco version");
    doc_text(d, r->version ? r->version : "-");
    doc_row_end(d);
    header_row(d, "settings");
    const cJSON *s;
    size_t i = 0;
    for (s = r->settings ? r->settings->child : NULL; s; s = s->next) {
        doc_fmt(d, "%s%s ", i++ ? ", " : "", s->string ? s->string : "?");
        setting_value(d, s);
    }
    if (i == 0)
        doc_text(d, "-");
    doc_row_end(d);
    doc_table_end(d);
}

/* ---- results ---------------------------------------------------------------- */

static void value_ci(struct report_doc *d, double v, const double ci[2], bool sign)
{
    char a[32], lo[32], hi[32];
    if (sign)
        doc_raw(d, "%s", report_signed(a, sizeof a, v, 3));
    else
        doc_raw(d, "%s", report_num(a, sizeof a, v, 3));
    if (isnan(ci[0]) && isnan(ci[1]))
        return;
    if (sign)
        doc_raw(d, " [%s, %s]", report_signed(lo, sizeof lo, ci[0], 3),
                report_signed(hi, sizeof hi, ci[1], 3));
    else
        doc_raw(d, " [%s, %s]", report_num(lo, sizeof lo, ci[0], 3),
                report_num(hi, sizeof hi, ci[1], 3));
}

static void gate_cell(struct report_doc *d, const struct report_bench *b)
{
    if (b->verdict)
        doc_verdict(d, b->verdict);
    else
        doc_text(d, "-");
    if (b->gate)
        doc_fmt(d, " (%s)", b->gate);
}

static void result_row(struct report_doc *d, const struct report_bench *b)
{
    char t1[32], t2[32];
    doc_cell(d);
    doc_text(d, b->name);
    doc_cell(d);
    doc_text(d, report_num(t1, sizeof t1, b->n_items, 0));
    doc_cell(d);
    doc_text(d, b->metric ? b->metric : "-");
    doc_cell(d);
    value_ci(d, b->base, b->base_ci, false);
    doc_cell(d);
    value_ci(d, b->adapter, b->adapter_ci, false);
    doc_cell(d);
    value_ci(d, b->diff, b->diff_ci, true);
    doc_cell(d);
    doc_text(d, b->test ? b->test : "-");
    doc_cell(d);
    doc_text(d, report_p(t1, sizeof t1, b->p));
    doc_cell(d);
    if (b->effect_name)
        doc_fmt(d, "%s = %s", b->effect_name, report_signed(t1, sizeof t1, b->effect, 2));
    else
        doc_text(d, "-");
    doc_cell(d);
    doc_raw(d, "%s / %s", report_num(t1, sizeof t1, b->power10, 2),
            report_num(t2, sizeof t2, b->power5, 2));
    doc_cell(d);
    gate_cell(d, b);
    doc_row_end(d);
}

static void write_results(struct report_doc *d, const struct report_record *r)
{
    char h0[64], h1[64];
    snprintf(h0, sizeof h0, "%s [95%% CI]", r->side[0]);
    snprintf(h1, sizeof h1, "%s [95%% CI]", r->side[1]);
    const char *const heads[] = {"benchmark", "items", "metric",        h0,    h1,
                                 "diff [95% CI]", "test", "p", "effect", "power 10/5 pt",
                                 "gate"};
    doc_heading(d, 2, "Results");
    doc_table_begin(d, heads, "lrlrrrlrrrl");
    for (size_t i = 0; i < r->n; i++)
        result_row(d, &r->b[i]);
    doc_table_end(d);
}

/* "Rerun 2 of 2, planned n=311: decided by run 1 (PASS); this run alone:
 * FAIL", or the plan alone. */
static void rerun_line(struct report_doc *d, const struct report_record *r,
                       const struct report_bench *b)
{
    double rerun = loco_json_number(b->json, "rerun"), planned = loco_json_number(b->json, "planned_n");
    double by = loco_json_number(b->json, "decided_by_run");
    const cJSON *own = cJSON_GetObjectItemCaseSensitive(b->json, "run_verdict");
    size_t runs = 0; /* runs of the record that measured this benchmark */
    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r->root, "runs"))
    {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(run, "benchmarks"))
        {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "benchmark");
            runs += cJSON_IsString(nm) && !strcmp(nm->valuestring, b->name);
        }
    }
    char t[32];
    if (!isnan(rerun)) {
        doc_fmt(d, ". Rerun %s of %zu", report_num(t, sizeof t, rerun, 0), runs);
        doc_fmt(d, isnan(planned) ? ", no planned n" : ", planned n=%s",
                report_num(t, sizeof t, planned, 0));
        doc_fmt(d, ": the gate was decided by run %s", report_num(t, sizeof t, by, 0));
        if (cJSON_IsString(own))
            doc_fmt(d, "; this run alone: %s", own->valuestring);
    } else if (!isnan(planned)) {
        doc_fmt(d, ". Planned n=%s", report_num(t, sizeof t, planned, 0));
    }
}

static void write_gates(struct report_doc *d, const struct report_record *r)
{
    char t[4][32];
    doc_heading(d, 2, "Gates");
    doc_list_begin(d);
    for (size_t i = 0; i < r->n; i++) {
        const struct report_bench *b = &r->b[i];
        doc_item_begin(d);
        doc_strong(d, b->name);
        doc_text(d, ": ");
        gate_cell(d, b);
        if (b->why && b->why[0]) {
            doc_text(d, ": ");
            doc_text(d, b->why);
        }
        if (!isnan(b->pairs[0]) || !isnan(b->pairs[1]))
            doc_fmt(d, ". Pairs: both right %s, %s only %s, %s only %s, both wrong %s",
                    report_num(t[0], 32, b->pairs[0], 0), r->side[0],
                    report_num(t[1], 32, b->pairs[1], 0), r->side[1],
                    report_num(t[2], 32, b->pairs[2], 0), report_num(t[3], 32, b->pairs[3], 0));
        if (!isnan(b->bootstrap_p))
            doc_fmt(d, ". Bootstrap p = %s", report_p(t[0], 32, b->bootstrap_p));
        if (!isnan(b->rank_biserial))
            doc_fmt(d, ", rank-biserial r = %s", report_signed(t[0], 32, b->rank_biserial, 2));
        rerun_line(d, r, b);
        doc_item_end(d);
    }
    doc_list_end(d);
}

/* Every run kept in the record, and the plan (when there is more than one
 * run, or a plan). */
static void write_runs(struct report_doc *d, const struct report_record *r)
{
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(r->root, "runs");
    const cJSON *plan = cJSON_GetObjectItemCaseSensitive(r->root, "plan");
    if (cJSON_GetArraySize(runs) < 2 && !cJSON_IsObject(plan))
        return;
    const char *const heads[] = {"run",     "date",          "benchmark", "items",
                                 r->side[0], r->side[1], "diff [95% CI]", "p",
                                 "this run's verdict"};
    char t[32], t2[32];
    doc_heading(d, 2, "Runs");
    if (cJSON_IsObject(plan)) {
        doc_para_begin(d);
        doc_fmt(d, "Planned before the runs (alpha %s, power %s): ",
                report_num(t, sizeof t, loco_json_number(plan, "alpha"), 3),
                report_num(t2, sizeof t2, loco_json_number(plan, "power"), 2));
        const cJSON *e;
        size_t i = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(plan, "benchmarks"))
        {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "benchmark");
            doc_fmt(d, "%s%s n=%s", i++ ? "; " : "", cJSON_IsString(nm) ? nm->valuestring : "?",
                    report_num(t, sizeof t, loco_json_number(e, "planned_n"), 0));
        }
        double after = loco_json_number(plan, "after_runs");
        if (after > 0)
            doc_fmt(d, " (made after %s run(s))", report_num(t, sizeof t, after, 0));
        doc_text(d, ". The first run of each benchmark decides its gate.");
        doc_para_end(d);
    }
    doc_table_begin(d, heads, "rllrrrrrl");
    const cJSON *run;
    cJSON_ArrayForEach(run, runs)
    {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(run, "benchmarks"))
        {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "benchmark");
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "verdict");
            const cJSON *dt = cJSON_GetObjectItemCaseSensitive(run, "date");
            const cJSON *ci = cJSON_GetObjectItemCaseSensitive(e, "diff_ci95");
            double c2[2] = {cJSON_IsNumber(cJSON_GetArrayItem(ci, 0))
                                ? cJSON_GetArrayItem(ci, 0)->valuedouble
                                : NAN,
                            cJSON_IsNumber(cJSON_GetArrayItem(ci, 1))
                                ? cJSON_GetArrayItem(ci, 1)->valuedouble
                                : NAN};
            doc_cell(d);
            doc_text(d, report_num(t, sizeof t, loco_json_number(run, "run"), 0));
            doc_cell(d);
            doc_text(d, cJSON_IsString(dt) ? dt->valuestring : "-");
            doc_cell(d);
            doc_text(d, cJSON_IsString(nm) ? nm->valuestring : "?");
            doc_cell(d);
            double n = loco_json_number(e, "n_used");
            doc_text(d, report_num(t, sizeof t, isnan(n) ? loco_json_number(e, "n_items") : n, 0));
            doc_cell(d);
            doc_text(d, report_num(t, sizeof t, loco_json_number(e, "base_score"), 3));
            doc_cell(d);
            doc_text(d, report_num(t, sizeof t, loco_json_number(e, "adapter_score"), 3));
            doc_cell(d);
            value_ci(d, loco_json_number(e, "diff"), c2, true);
            doc_cell(d);
            doc_text(d, report_p(t, sizeof t, loco_json_number(e, "p_value")));
            doc_cell(d);
            if (cJSON_IsString(v))
                doc_verdict(d, v->valuestring);
            else
                doc_text(d, "-");
            doc_row_end(d);
        }
    }
    doc_table_end(d);
}

static void write_generation(struct report_doc *d, const struct report_record *r)
{
    char h[6][64];
    const char *const what[] = {"time (s)", "cached"};
    for (int s = 0; s < 2; s++) {
        snprintf(h[2 * s], sizeof h[0], "%s %s", r->side[s], what[0]);
        snprintf(h[2 * s + 1], sizeof h[0], "%s %s", r->side[s], what[1]);
        snprintf(h[4 + s], sizeof h[0], "%s tokens", r->side[s]);
    }
    const char *const heads[] = {"benchmark", h[0], h[1], h[2], h[3], h[4], h[5]};
    char t[32];
    doc_heading(d, 2, "Generation");
    doc_table_begin(d, heads, "lrrrrrr");
    for (size_t i = 0; i < r->n; i++) {
        const struct report_bench *b = &r->b[i];
        doc_cell(d);
        doc_text(d, b->name);
        for (int s = 0; s < 2; s++) {
            doc_cell(d);
            doc_text(d, report_num(t, sizeof t, b->gen_ms[s] / 1e3, 1));
            doc_cell(d);
            doc_text(d, report_num(t, sizeof t, b->cached[s], 0));
        }
        for (int s = 0; s < 2; s++) {
            doc_cell(d);
            doc_text(d, report_num(t, sizeof t, b->tokens[s], 0));
        }
        doc_row_end(d);
    }
    doc_table_end(d);
}

/* ---- contamination, judge and pass@k ----------------------------------------- */

static void contamination_item(struct report_doc *d, const struct report_bench *b,
                               const cJSON *c)
{
    char t[4][32];
    doc_item_begin(d);
    doc_strong(d, b->name);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "checked"))) {
        doc_text(d, ": contamination not checked");
        doc_item_end(d);
        return;
    }
    double flagged = loco_json_number(c, "flagged");
    doc_fmt(d, ": %s of %s items flagged (%s exact, %s sharing a 13-gram with the training data)",
            report_num(t[0], 32, flagged, 0), report_num(t[1], 32, b->n_items, 0),
            report_num(t[2], 32, loco_json_number(c, "exact"), 0),
            report_num(t[3], 32, loco_json_number(c, "overlap"), 0));
    if (flagged > 0)
        doc_text(d, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "decontaminated"))
                        ? "; left out of the statistics"
                        : "; the gate fails");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c, "flagged_ids"), *id;
    size_t shown = 0;
    cJSON_ArrayForEach(id, ids)
    {
        if (!cJSON_IsString(id) || shown == 8)
            continue;
        doc_text(d, shown++ ? ", " : ": ");
        doc_code(d, id->valuestring, 40);
    }
    if ((size_t)cJSON_GetArraySize(ids) > shown)
        doc_text(d, ", ...");
    doc_item_end(d);
}

static void judge_item(struct report_doc *d, const struct report_bench *b, const cJSON *j)
{
    char t[6][32];
    const cJSON *judge = cJSON_GetObjectItemCaseSensitive(j, "judge");
    const cJSON *rubric = cJSON_GetObjectItemCaseSensitive(j, "rubric");
    const cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "scale"), 1);
    doc_item_begin(d);
    doc_strong(d, b->name);
    doc_fmt(d, ": judged by %s, rubric %s (1-%s), %s judgments per answer",
            cJSON_IsString(judge) ? judge->valuestring : "?",
            cJSON_IsString(rubric) ? rubric->valuestring : "?",
            report_num(t[0], 32, cJSON_IsNumber(top) ? top->valuedouble : NAN, 0),
            report_num(t[1], 32, loco_json_number(j, "judgments_per_answer"), 0));
    for (int s = 0; s < 2; s++) {
        const cJSON *side = cJSON_GetObjectItemCaseSensitive(j, s ? "adapter" : "base");
        doc_fmt(d, "; %s: mean rating %s (per-item sd %s, range %s), %s of %s judgments "
                   "unparseable",
                s ? "adapter" : "base", report_num(t[0], 32, loco_json_number(side, "mean_rating"), 2),
                report_num(t[1], 32, loco_json_number(side, "mean_item_sd"), 2),
                report_num(t[2], 32, loco_json_number(side, "mean_item_range"), 2),
                report_num(t[3], 32, loco_json_number(side, "unparseable"), 0),
                report_num(t[4], 32, loco_json_number(side, "judgments"), 0));
    }
    double unrated = loco_json_number(j, "unrated_items");
    if (unrated > 0)
        doc_fmt(d, "; %s items without a valid rating on a side are left out",
                report_num(t[5], 32, unrated, 0));
    doc_item_end(d);
}

static void pass_k_item(struct report_doc *d, const struct report_bench *b, const cJSON *pk)
{
    char t[2][32];
    doc_item_begin(d);
    doc_strong(d, b->name);
    doc_fmt(d, ": %s samples per item and side (unbiased estimator)",
            report_num(t[0], 32, loco_json_number(pk, "n"), 0));
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(pk, "base");
    const cJSON *ad = cJSON_GetObjectItemCaseSensitive(pk, "adapter"), *k;
    cJSON_ArrayForEach(k, base)
    {
        doc_fmt(d, "; %s base %s, adapter %s", k->string ? k->string : "?",
                report_num(t[0], 32, loco_json_number(base, k->string), 3),
                report_num(t[1], 32, loco_json_number(ad, k->string), 3));
    }
    doc_item_end(d);
}

/* What the results table does not show: the contamination check, the
 * judge's figures and pass@k. */
static void write_checks(struct report_doc *d, const struct report_record *r)
{
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(r->root, "contamination");
    bool any = top != NULL;
    for (size_t i = 0; i < r->n; i++)
        any = any || cJSON_GetObjectItemCaseSensitive(r->b[i].json, "judge") ||
              cJSON_GetObjectItemCaseSensitive(r->b[i].json, "pass_at_k");
    if (!any)
        return;
    doc_heading(d, 2, "Checks");
    doc_list_begin(d);
    if (top) {
        char t[32];
        doc_item_begin(d);
        doc_strong(d, "contamination");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(top, "checked"))) {
            const cJSON *rec = cJSON_GetObjectItemCaseSensitive(top, "recipe");
            doc_fmt(d, ": the prompts against the %s training examples read through ",
                    report_num(t, sizeof t, loco_json_number(top, "training_examples"), 0));
            doc_code(d, cJSON_IsString(rec) ? rec->valuestring : "?", 120);
            doc_text(d, " (exact matches and word 13-grams)");
        } else {
            const cJSON *why = cJSON_GetObjectItemCaseSensitive(top, "why");
            doc_text(d, ": not checked: ");
            doc_text(d, cJSON_IsString(why) ? why->valuestring : "?");
        }
        doc_item_end(d);
    }
    for (size_t i = 0; i < r->n; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(r->b[i].json, "contamination");
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(r->b[i].json, "judge");
        const cJSON *pk = cJSON_GetObjectItemCaseSensitive(r->b[i].json, "pass_at_k");
        if (cJSON_IsObject(c))
            contamination_item(d, &r->b[i], c);
        if (cJSON_IsObject(j))
            judge_item(d, &r->b[i], j);
        if (cJSON_IsObject(pk))
            pass_k_item(d, &r->b[i], pk);
    }
    doc_list_end(d);
}

/* ---- what this version does not know ---------------------------------------- */

static void other_field(struct report_doc *d, const char *where, const cJSON *v)
{
    char *brief = report_json_brief(v, OTHER_CHARS);
    doc_item_begin(d);
    if (where) {
        doc_text(d, where);
        doc_text(d, " ");
    }
    doc_code(d, v->string, 0);
    doc_text(d, ": ");
    doc_text(d, brief ? brief : "?");
    doc_item_end(d);
    free(brief);
}

/* Fields of the record (and of its benchmarks) this version does not render. */
static size_t count_other(const struct report_record *r)
{
    size_t n = 0;
    for (const cJSON *v = r->root->child; v; v = v->next)
        n += !report_known_record_key(v->string);
    for (size_t i = 0; i < r->n; i++)
        for (const cJSON *v = r->b[i].json->child; v; v = v->next)
            n += !report_known_bench_key(v->string);
    return n;
}

static void write_other(struct report_doc *d, const struct report_record *r)
{
    if (count_other(r) == 0)
        return;
    doc_heading(d, 2, "Other fields");
    doc_list_begin(d);
    for (const cJSON *v = r->root->child; v; v = v->next)
        if (!report_known_record_key(v->string))
            other_field(d, NULL, v);
    for (size_t i = 0; i < r->n; i++)
        for (const cJSON *v = r->b[i].json->child; v; v = v->next)
            if (!report_known_bench_key(v->string))
                other_field(d, r->b[i].name, v);
    doc_list_end(d);
}

/* ---- example items ---------------------------------------------------------- */

static bool disagree(const struct report_item *it)
{
    if (isnan(it->score[0]) || isnan(it->score[1]))
        return false;
    return fabs(it->score[0] - it->score[1]) > 1e-9;
}

static void answer_cell(struct report_doc *d, const struct report_item *it, int s)
{
    char t[32];
    doc_cell(d);
    doc_fmt(d, "(%s) ", report_num(t, sizeof t, it->score[s], 2));
    doc_text_cut(d, it->output[s], ANSWER_CHARS);
    if (it->detail[s] && it->detail[s][0]) {
        doc_text(d, " - ");
        doc_text_cut(d, it->detail[s], ANSWER_CHARS);
    }
}

static void example_row(struct report_doc *d, const struct report_item *it)
{
    doc_cell(d);
    doc_text(d, it->id);
    doc_cell(d);
    doc_text_cut(d, it->prompt ? it->prompt : "", PROMPT_CHARS);
    answer_cell(d, it, 0);
    answer_cell(d, it, 1);
    doc_row_end(d);
}

/* The first items where the sides disagree; the first items when none do. */
static void write_examples_of(struct report_doc *d, const struct report_record *r,
                              const struct report_bench *b)
{
    char h0[64], h1[64];
    snprintf(h0, sizeof h0, "%s (score) answer", r->side[0]);
    snprintf(h1, sizeof h1, "%s (score) answer", r->side[1]);
    const char *const heads[] = {"item", "prompt", h0, h1};
    size_t n = report_record_n_items(b), n_dis = 0, shown = 0;
    struct report_item it;
    for (size_t i = 0; i < n; i++)
        n_dis += report_record_item(b, i, &it) && disagree(&it);
    doc_heading(d, 3, b->name);
    doc_para_begin(d);
    char sides[96]; /* "Base and adapter", or "The plain and re2 answers" */
    if (!strcmp(r->side[0], "base"))
        snprintf(sides, sizeof sides, "Base and adapter");
    else
        snprintf(sides, sizeof sides, "The %s and %s answers", r->side[0], r->side[1]);
    if (n_dis)
        doc_fmt(d, "%s scored %zu of the %zu items differently; the first %zu:", sides, n_dis, n,
                n_dis < EXAMPLES_PER_BENCH ? n_dis : EXAMPLES_PER_BENCH);
    else
        doc_fmt(d, "%s scored all %zu items alike; the first %zu:", sides, n,
                n < EXAMPLES_PER_BENCH ? n : EXAMPLES_PER_BENCH);
    doc_para_end(d);
    doc_table_begin(d, heads, "llll");
    for (size_t i = 0; i < n && shown < EXAMPLES_PER_BENCH; i++)
        if (report_record_item(b, i, &it) && (!n_dis || disagree(&it))) {
            example_row(d, &it);
            shown++;
        }
    doc_table_end(d);
}

static void write_examples(struct report_doc *d, const struct report_record *r)
{
    bool any = false;
    for (size_t i = 0; i < r->n; i++)
        any = any || report_record_n_items(&r->b[i]) > 0;
    if (!any)
        return;
    doc_heading(d, 2, "Example items");
    for (size_t i = 0; i < r->n; i++)
        if (report_record_n_items(&r->b[i]) > 0)
            write_examples_of(d, r, &r->b[i]);
}

/* ---- the whole report ------------------------------------------------------- */

static void write_title(struct report_doc *d, const struct report_record *r)
{
    char title[512];
    if (!strcmp(r->side[0], "base"))
        snprintf(title, sizeof title, "Evaluation of %s (%s) against the base model",
                 r->adapter_name ? r->adapter_name : "?",
                 r->adapter_domain ? r->adapter_domain : "?");
    else
        snprintf(title, sizeof title, "Evaluation of %s (%s): plain answers against %s",
                 r->adapter_name ? r->adapter_name : "?",
                 r->adapter_domain ? r->adapter_domain : "?", r->side[1]);
    doc_heading(d, 1, title);
}

static void write_charts(struct report_doc *d, const struct report_record *r)
{
    doc_heading(d, 2, "Charts");
    loco_sbuf_adds(d->b, "<figure>\n");
    report_svg_bars(d->b, r);
    if (!strcmp(r->side[0], "base"))
        loco_sbuf_adds(d->b, "<figcaption>Scores of the base model and the adapter, with 95% "
                             "confidence intervals.</figcaption>\n</figure>\n<figure>\n");
    else
        loco_sbuf_printf(d->b,
                         "<figcaption>Scores of the plain and the %s answers, with 95%% "
                         "confidence intervals.</figcaption>\n</figure>\n<figure>\n",
                         r->side[1]);
    report_svg_forest(d->b, r);
    loco_sbuf_printf(d->b,
                     "<figcaption>Paired difference (%s - %s) with its 95%% "
                     "confidence interval; the dashed line is the non-inferiority margin "
                     "(-%g).</figcaption>\n</figure>\n",
                     r->side[1], r->side[0], r->ni_margin);
}

static void write_body(struct report_doc *d, const struct report_record *r)
{
    write_title(d, r);
    write_header(d, r);
    write_results(d, r);
    if (d->html)
        write_charts(d, r);
    write_gates(d, r);
    write_runs(d, r);
    write_generation(d, r);
    write_checks(d, r);
    write_other(d, r);
    write_examples(d, r);
}

char *loco_report_markdown(const char *record_json)
{
    struct report_record r;
    if (report_record_parse(record_json, &r) != LOCO_OK)
        return NULL;
    struct loco_sbuf b = {.max = REPORT_MAX_OUTPUT};
    struct report_doc d = {.b = &b, .html = false};
    write_body(&d, &r);
    report_record_free(&r);
    return report_buf_finish(&b);
}

char *loco_report_html(const char *record_json)
{
    struct report_record r;
    if (report_record_parse(record_json, &r) != LOCO_OK)
        return NULL;
    struct loco_sbuf b = {.max = REPORT_MAX_OUTPUT};
    struct report_doc d = {.b = &b, .html = true};
    loco_sbuf_adds(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<title>Evaluation of ");
    report_html(&b, r.adapter_name ? r.adapter_name : "?");
    loco_sbuf_adds(&b, "</title>\n<style>\n");
    loco_sbuf_adds(&b, report_css);
    loco_sbuf_adds(&b, "</style>\n</head>\n<body>\n");
    write_body(&d, &r);
    loco_sbuf_adds(&b, "</body>\n</html>\n");
    report_record_free(&r);
    return report_buf_finish(&b);
}

/* ---- files -------------------------------------------------------------------- */

int loco_report_read_file(const char *path, char **text, size_t *len)
{
    return loco_read_file(path, LOCO_REPORT_MAX_RECORD, text, len);
}

/* STEM.ext for a record path (STEM = the path without ".json"). */
static int sibling(const char *json_path, const char *ext, char *buf, size_t cap)
{
    size_t n = strlen(json_path);
    if (n > 5 && !strcmp(json_path + n - 5, ".json"))
        n -= 5;
    int w = snprintf(buf, cap, "%.*s%s", (int)n, json_path, ext);
    if (w < 0 || (size_t)w >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "the path %s is too long", json_path);
    return LOCO_OK;
}

static int write_text(const char *path, char *text)
{
    if (!text)
        return LOCO_ERR_NOMEM;
    int rc = loco_file_write_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

int loco_report_write(const char *record_json_path)
{
    char md[4096], html[4096], *json;
    int rc = sibling(record_json_path, ".md", md, sizeof md);
    if (!rc)
        rc = sibling(record_json_path, ".html", html, sizeof html);
    if (!rc)
        rc = loco_report_read_file(record_json_path, &json, NULL);
    if (rc)
        return rc;
    char *mdt = loco_report_markdown(json);
    char *htt = mdt ? loco_report_html(json) : NULL;
    free(json);
    if (!mdt || !htt) {
        free(mdt);
        free(htt);
        loco_error_prefix("%s", record_json_path);
        return LOCO_ERR_FORMAT;
    }
    rc = write_text(md, mdt);
    int rc2 = write_text(html, htt);
    return rc ? rc : rc2;
}
