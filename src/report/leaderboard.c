/*
 * leaderboard.c - the adapters of each domain ranked by their scores in the
 * registry (which the evaluation harness derives from its records), as
 * Markdown, a self-contained HTML page, or JSON rows for scripts.
 *
 * Order: domains as the registry lists them; within a domain its primary
 * benchmark first, then its other benchmarks, then any other benchmark an
 * adapter of the domain was scored on (with `all`); within a benchmark the
 * highest score first (ties: more items, then name), rows without a score
 * last. Rank counts within domain and benchmark; 0 means "no score".
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/report.h"
#include "loco/stats.h"
#include "report/report_internal.h"

struct loco_leaderboard_params loco_leaderboard_default_params(void)
{
    struct loco_leaderboard_params p = {NULL, false};
    return p;
}

/* ---- building ------------------------------------------------------------------- */

static bool listed(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

struct row_src { /* what one row is made from */
    const struct loco_registry *r;
    const struct loco_registry_adapter *a;
    const char *benchmark;
    bool primary;
    const struct loco_registry_score *s; /* NULL: no score */
};

/* The gate and verdict the score's record gives its benchmark; false when
 * the record cannot be read or lacks them. The record path is as the
 * registry stores it: absolute, relative to the registry file that defines
 * the adapter, or (the user overlay's) relative to the working folder. */
static bool record_verdict(const struct loco_registry_adapter *a,
                           const struct loco_registry_score *s, const char **gate,
                           const char **verdict)
{
    if (!s->record || !s->record[0])
        return false;
    char path[8192];
    const char *slash = a->source ? strrchr(a->source, '/') : NULL;
    if (s->record[0] != '/' && slash)
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - a->source), a->source, s->record);
    else
        snprintf(path, sizeof path, "%s", s->record);
    char *text = NULL;
    if (loco_report_read_file(path, &text, NULL) != LOCO_OK &&
        loco_report_read_file(s->record, &text, NULL) != LOCO_OK)
        return false;
    cJSON *r = cJSON_Parse(text);
    free(text);
    bool found = false;
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(r, "benchmarks"))
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(b, "benchmark");
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(b, "gate");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, "verdict");
        enum loco_gate_verdict vv;
        if (!cJSON_IsString(nm) || strcmp(nm->valuestring, s->benchmark) || !cJSON_IsString(g) ||
            !cJSON_IsString(v) || loco_gate_verdict_parse(v->valuestring, &vv) != LOCO_OK)
            continue;
        *gate = loco_gate_kind_name(strcmp(g->valuestring, "superiority") ? LOCO_GATE_NONINFERIORITY
                                                                          : LOCO_GATE_SUPERIORITY);
        *verdict = loco_gate_verdict_name(vv);
        found = true;
        break;
    }
    cJSON_Delete(r);
    return found;
}

/* The gate and verdict of a score: its record's, else derived from the
 * registry (see loco/report.h). */
static void score_verdict(const struct loco_registry *r, const struct loco_registry_adapter *a,
                          const struct loco_registry_score *s, const char **gate,
                          const char **verdict)
{
    if (record_verdict(a, s, gate, verdict))
        return;
    const struct loco_registry_domain *dom = loco_registry_find_domain(r, a->domain);
    bool own = dom && (!strcmp(dom->primary_benchmark, s->benchmark) ||
                       listed(dom->benchmarks.v, dom->benchmarks.n, s->benchmark));
    *gate = loco_gate_kind_name(own ? LOCO_GATE_SUPERIORITY : LOCO_GATE_NONINFERIORITY);
    struct loco_stats_params sp = loco_stats_default_params();
    if (!own && !loco_stats_ni_informative(s->base_score, sp.ni_margin, NULL))
        *verdict = loco_gate_verdict_name(LOCO_VERDICT_UNINFORMATIVE);
    else
        *verdict = loco_gate_verdict_name(s->passed ? LOCO_VERDICT_PASS : LOCO_VERDICT_FAIL);
}

static int add_row(struct loco_leaderboard *lb, size_t *cap, const struct row_src *src)
{
    if (lb->n == *cap) {
        size_t n = *cap ? *cap * 2 : 16;
        struct loco_leaderboard_row *rows = realloc(lb->rows, n * sizeof *rows);
        if (!rows)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory building the leaderboard");
        lb->rows = rows;
        *cap = n;
    }
    const struct loco_registry_score *s = src->s;
    struct loco_leaderboard_row *row = &lb->rows[lb->n++];
    *row = (struct loco_leaderboard_row){.name = src->a->name,
                                         .domain = src->a->domain,
                                         .benchmark = src->benchmark,
                                         .status = loco_registry_status_name(src->a->status),
                                         .active = src->a->status == LOCO_REGISTRY_ACTIVE,
                                         .primary = src->primary,
                                         .has_score = s != NULL,
                                         .score = s ? s->score : NAN,
                                         .ci_low = s ? s->ci_low : NAN,
                                         .ci_high = s ? s->ci_high : NAN,
                                         .base_score = s ? s->base_score : NAN,
                                         .gain = s ? s->score - s->base_score : NAN,
                                         .p_value = s ? s->p_value : NAN,
                                         .passed = s && s->passed,
                                         .n_items = s ? s->n_items : 0,
                                         .record = s && s->record ? s->record : ""};
    if (s)
        score_verdict(src->r, src->a, s, &row->gate, &row->verdict);
    return LOCO_OK;
}

static int cmp_rows(const void *pa, const void *pb)
{
    const struct loco_leaderboard_row *a = pa, *b = pb;
    if (a->has_score != b->has_score)
        return a->has_score ? -1 : 1;
    if (a->has_score && a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->n_items != b->n_items)
        return a->n_items > b->n_items ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Rows of one domain and benchmark: every adapter of the domain on the
 * primary benchmark (with or without a score), only the scored ones on
 * the others. Then sorted and ranked. */
static int add_benchmark(const struct loco_registry *r, const struct loco_registry_domain *dom,
                         const char *bench, struct loco_leaderboard *lb, size_t *cap)
{
    bool primary = !strcmp(bench, dom->primary_benchmark);
    size_t first = lb->n;
    for (size_t i = 0; i < loco_registry_n_adapters(r); i++) {
        const struct loco_registry_adapter *a = loco_registry_adapter_at(r, i);
        if (strcmp(a->domain, dom->name))
            continue;
        struct row_src src = {r, a, bench, primary, loco_registry_score(a, bench)};
        if ((src.s || primary) && add_row(lb, cap, &src))
            return LOCO_ERR_NOMEM;
    }
    qsort(lb->rows + first, lb->n - first, sizeof *lb->rows, cmp_rows);
    for (size_t i = first; i < lb->n; i++)
        lb->rows[i].rank = lb->rows[i].has_score ? (int32_t)(i - first + 1) : 0;
    return LOCO_OK;
}

/* The benchmarks of a domain in leaderboard order (at most cap). */
static size_t domain_benchmarks(const struct loco_registry *r,
                                const struct loco_registry_domain *dom, bool all, const char **out,
                                size_t cap)
{
    size_t n = 0;
    out[n++] = dom->primary_benchmark;
    for (size_t i = 0; all && i < dom->benchmarks.n && n < cap; i++)
        if (!listed(out, n, dom->benchmarks.v[i]))
            out[n++] = dom->benchmarks.v[i];
    for (size_t i = 0; all && i < loco_registry_n_adapters(r); i++) {
        const struct loco_registry_adapter *a = loco_registry_adapter_at(r, i);
        for (size_t k = 0; !strcmp(a->domain, dom->name) && k < a->n_scores && n < cap; k++)
            if (!listed(out, n, a->scores[k].benchmark))
                out[n++] = a->scores[k].benchmark;
    }
    return n;
}

static int unknown_domain(const struct loco_registry *r, const char *name)
{
    char list[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < loco_registry_n_domains(r) && len < sizeof list; i++) {
        int w = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                         loco_registry_domain_at(r, i)->name);
        len += w > 0 ? (size_t)w : 0;
    }
    return loco_error_set(LOCO_ERR_NOT_FOUND, "no domain '%s' in the registry (domains: %s)", name,
                          list[0] ? list : "none");
}

#define MAX_BENCH_PER_DOMAIN 64

int loco_leaderboard_build(const struct loco_registry *r, const struct loco_leaderboard_params *p,
                           struct loco_leaderboard *out)
{
    struct loco_leaderboard_params def = loco_leaderboard_default_params();
    if (!p)
        p = &def;
    memset(out, 0, sizeof *out);
    if (p->domain && !loco_registry_find_domain(r, p->domain))
        return unknown_domain(r, p->domain);
    size_t cap = 0;
    for (size_t d = 0; d < loco_registry_n_domains(r); d++) {
        const struct loco_registry_domain *dom = loco_registry_domain_at(r, d);
        if (p->domain && strcmp(p->domain, dom->name))
            continue;
        const char *benches[MAX_BENCH_PER_DOMAIN];
        size_t nb = domain_benchmarks(r, dom, p->all, benches, MAX_BENCH_PER_DOMAIN);
        for (size_t k = 0; k < nb; k++)
            if (add_benchmark(r, dom, benches[k], out, &cap)) {
                loco_leaderboard_free(out);
                return LOCO_ERR_NOMEM;
            }
    }
    return LOCO_OK;
}

void loco_leaderboard_free(struct loco_leaderboard *lb)
{
    free(lb->rows);
    lb->rows = NULL;
    lb->n = 0;
}

/* ---- Markdown and HTML -------------------------------------------------------------- */

static void row_cells(struct report_doc *d, const struct loco_leaderboard_row *w)
{
    char a[32], b[32], c[32];
    doc_cell(d);
    if (w->rank)
        doc_raw(d, "%d", (int)w->rank);
    else
        doc_text(d, "-");
    doc_cell(d);
    doc_text(d, w->name);
    doc_cell(d);
    doc_text(d, w->domain);
    doc_cell(d);
    doc_text(d, w->benchmark);
    doc_cell(d);
    doc_raw(d, "%s", report_num(a, sizeof a, w->score, 3));
    if (w->has_score)
        doc_raw(d, " [%s, %s]", report_num(b, sizeof b, w->ci_low, 3),
                report_num(c, sizeof c, w->ci_high, 3));
    doc_cell(d);
    doc_raw(d, "%s", report_num(a, sizeof a, w->base_score, 3));
    doc_cell(d);
    doc_raw(d, "%s", report_signed(a, sizeof a, w->gain, 3));
    doc_cell(d);
    doc_raw(d, "%s", report_p(a, sizeof a, w->p_value));
    doc_cell(d);
    doc_text(d, w->gate ? w->gate : "-");
    doc_cell(d);
    if (w->verdict)
        doc_verdict(d, w->verdict);
    else
        doc_text(d, "-");
    doc_cell(d);
    doc_text(d, w->active ? "active" : w->status);
    doc_cell(d);
    if (w->has_score)
        doc_raw(d, "%lld", (long long)w->n_items);
    else
        doc_text(d, "-");
    doc_row_end(d);
}

static void write_board(struct report_doc *d, const struct loco_leaderboard *lb)
{
    static const char *const heads[] = {"rank",           "adapter", "domain", "benchmark",
                                        "score [95% CI]", "base",    "gain",   "p",
                                        "gate",           "verdict", "status", "items"};
    doc_heading(d, 1, "LocoLLM leaderboard");
    if (lb->n == 0) {
        doc_para_begin(d);
        doc_text(d, "No adapters.");
        doc_para_end(d);
        return;
    }
    for (size_t i = 0; i < lb->n; i++) {
        if (i == 0 || strcmp(lb->rows[i].domain, lb->rows[i - 1].domain)) {
            if (i)
                doc_table_end(d);
            doc_heading(d, 2, lb->rows[i].domain);
            doc_table_begin(d, heads, "rllllrrrllll");
        }
        row_cells(d, &lb->rows[i]);
    }
    doc_table_end(d);
    doc_para_begin(d);
    doc_text(d, "Ranked within domain and benchmark by score (ties: more items, then name). "
                "gain = score - base score on the same items; p from the paired test; gate: "
                "superiority on the domain's own benchmarks (a significant gain), "
                "non-inferiority elsewhere (the drop's upper 95% bound within 5 points); "
                "verdict: PASS, FAIL, or uninformative for a non-inferiority check whose base "
                "scores below the 5-point margin, so that no drop of the margin could be seen "
                "(docs/evaluation.md, docs/statistics.md).");
    doc_para_end(d);
}

char *loco_leaderboard_markdown(const struct loco_leaderboard *lb)
{
    struct loco_sbuf b = {.max = REPORT_MAX_OUTPUT};
    struct report_doc d = {.b = &b, .html = false};
    write_board(&d, lb);
    return report_buf_finish(&b);
}

char *loco_leaderboard_html(const struct loco_leaderboard *lb)
{
    struct loco_sbuf b = {.max = REPORT_MAX_OUTPUT};
    struct report_doc d = {.b = &b, .html = true};
    loco_sbuf_adds(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<title>LocoLLM leaderboard</title>\n<style>\n");
    loco_sbuf_adds(&b, report_css);
    loco_sbuf_adds(&b, "</style>\n</head>\n<body>\n");
    write_board(&d, lb);
    loco_sbuf_adds(&b, "</body>\n</html>\n");
    return report_buf_finish(&b);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void add_number(cJSON *o, const char *key, bool has, double v)
{
    if (has && isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *row_json(const struct loco_leaderboard_row *w)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_number(o, "rank", w->rank > 0, w->rank);
    cJSON_AddStringToObject(o, "name", w->name);
    cJSON_AddStringToObject(o, "domain", w->domain);
    cJSON_AddStringToObject(o, "benchmark", w->benchmark);
    cJSON_AddBoolToObject(o, "primary", w->primary);
    add_number(o, "score", w->has_score, w->score);
    add_number(o, "ci_low", w->has_score, w->ci_low);
    add_number(o, "ci_high", w->has_score, w->ci_high);
    add_number(o, "base_score", w->has_score, w->base_score);
    add_number(o, "gain", w->has_score, w->gain);
    add_number(o, "p_value", w->has_score, w->p_value);
    cJSON_AddBoolToObject(o, "passed", w->passed);
    if (w->gate)
        cJSON_AddStringToObject(o, "gate", w->gate);
    else
        cJSON_AddNullToObject(o, "gate");
    if (w->verdict)
        cJSON_AddStringToObject(o, "verdict", w->verdict);
    else
        cJSON_AddNullToObject(o, "verdict");
    cJSON_AddBoolToObject(o, "active", w->active);
    cJSON_AddStringToObject(o, "status", w->status);
    add_number(o, "n_items", w->has_score, (double)w->n_items);
    if (w->has_score)
        cJSON_AddStringToObject(o, "record", w->record);
    else
        cJSON_AddNullToObject(o, "record");
    return o;
}

char *loco_leaderboard_json(const struct loco_leaderboard *lb)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < lb->n; i++) {
        cJSON *o = row_json(&lb->rows[i]);
        if (!o) {
            cJSON_Delete(arr);
            arr = NULL;
        } else
            cJSON_AddItemToArray(arr, o);
    }
    char *text = arr ? cJSON_Print(arr) : NULL;
    cJSON_Delete(arr);
    if (!text)
        loco_error_set(LOCO_ERR_NOMEM, "out of memory writing the leaderboard");
    return text;
}
