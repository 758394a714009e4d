/*
 * runs.c - pre-registered sample sizes, reruns and verdicts in the
 * evaluation record (docs/evaluation.md, "Planned n, reruns and verdicts").
 *
 * A record file keeps every run made into it: `runs` summarises each one
 * and the gate of a benchmark is decided once, by the first run that
 * measured it. Rerunning with more items adds a run (its statistics are
 * kept and shown) but cannot change the verdict: that is what stops a
 * check from being repeated until it passes.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/eval.h"
#include "loco/stats.h"
#include "core/json_get.h"

#define ASSUMED_SD 0.5

/* ---- small JSON helpers ------------------------------------------------------ */

static void set_item(cJSON *o, const char *key, cJSON *v)
{
    if (cJSON_HasObjectItem(o, key))
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else
        cJSON_AddItemToObject(o, key, v);
}

static void set_str(cJSON *o, const char *key, const char *s)
{
    set_item(o, key, cJSON_CreateString(s));
}

static void set_num(cJSON *o, const char *key, double v)
{
    set_item(o, key, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

/* The benchmark object named `name` in a record's (or run's) list. */
static cJSON *find_bench(const cJSON *list, const char *name)
{
    cJSON *b;
    cJSON_ArrayForEach(b, list)
    {
        const char *bn = loco_json_string(b, "benchmark");
        if (bn && !strcmp(bn, name))
            return b;
    }
    return NULL;
}

static bool is_record(const cJSON *r)
{
    const char *kind = loco_json_string(r, "record");
    return cJSON_IsObject(r) && kind && !strcmp(kind, "locollm-eval/1");
}

/* ---- planning ---------------------------------------------------------------- */

static double sample_sd(const double *x, size_t n)
{
    if (n < 2)
        return NAN;
    double m = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (double)(n - 1));
}

/* The sd of the per-item differences a record stores for a benchmark. */
static double items_diff_sd(const cJSON *b, size_t *n_out)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(b, "items");
    size_t n = (size_t)cJSON_GetArraySize(items), m = 0;
    double *d = n ? malloc(n * sizeof *d) : NULL;
    const cJSON *it, *list = d ? items : NULL;
    cJSON_ArrayForEach(it, list)
    {
        double s0 = loco_json_number(cJSON_GetObjectItemCaseSensitive(it, "base"), "score");
        double s1 = loco_json_number(cJSON_GetObjectItemCaseSensitive(it, "adapter"), "score");
        if (isfinite(s0) && isfinite(s1))
            d[m++] = s1 - s0;
    }
    double sd = sample_sd(d, m);
    free(d);
    *n_out = m;
    return sd;
}

int loco_eval_plan_bench(const char *benchmark, bool binary, enum loco_gate_kind gate,
                         const char *previous, double base_rate, double sd, double effect,
                         double alpha, double power, struct loco_eval_plan_bench *out)
{
    if (!benchmark || !out)
        return loco_error_set(LOCO_ERR_INVALID, "plan: NULL benchmark or output");
    memset(out, 0, sizeof *out);
    snprintf(out->benchmark, sizeof out->benchmark, "%s", benchmark);
    out->gate = gate;
    out->binary = binary;
    out->effect = effect;
    out->base_rate = NAN;
    cJSON *prev = previous ? cJSON_Parse(previous) : NULL;
    const cJSON *pb =
        is_record(prev)
            ? find_bench(cJSON_GetObjectItemCaseSensitive(prev, "benchmarks"), benchmark)
            : NULL;
    double spread = NAN;
    if (pb) {
        out->base_rate = loco_json_number(pb, "base_score");
        double n = loco_json_number(pb, "n_used");
        if (!isfinite(n))
            n = loco_json_number(pb, "n_items");
        const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(pb, "pairs");
        if (binary && pairs && n > 0) {
            double disc = loco_json_number(pairs, "base_only") + loco_json_number(pairs, "adapter_only");
            spread = (disc > 0 ? disc : 1.0) / n;
            snprintf(out->basis, sizeof out->basis,
                     "the previous record: %.0f of %.0f pairs "
                     "discordant%s",
                     disc, n, disc > 0 ? "" : " (taken as 1)");
        } else if (!binary) {
            size_t m = 0;
            spread = items_diff_sd(pb, &m);
            if (isfinite(spread) && spread > 0)
                snprintf(out->basis, sizeof out->basis,
                         "the previous record: sd %.3f of %zu "
                         "per-item differences",
                         spread, m);
            else
                spread = NAN;
        }
    }
    cJSON_Delete(prev);
    if (!isfinite(spread) && binary) {
        bool known = isfinite(base_rate) && base_rate >= 0 && base_rate <= 1;
        double p = known ? base_rate : 0.5;
        double delta = gate == LOCO_GATE_SUPERIORITY ? effect : 0.0;
        if (p + delta > 1)
            delta = 1 - p;
        spread = loco_stats_disc_independent(p, delta);
        if (known)
            out->base_rate = base_rate;
        snprintf(out->basis, sizeof out->basis,
                 "%s %.3f, errors assumed independent "
                 "(discordance %.3f; conservative)",
                 known ? "base rate" : "no base rate known: assumed", p, spread);
    }
    if (!isfinite(spread)) {
        bool given = isfinite(sd) && sd > 0;
        spread = given ? sd : ASSUMED_SD;
        snprintf(out->basis, sizeof out->basis, "%s sd %.3f of the per-item differences",
                 given ? "stated" : "no record: assumed (conservative for 0..1 scores)", spread);
    }
    if (binary && spread <= 0)
        spread = 1e-3;
    int rc = binary ? loco_stats_plan_binary(gate, spread > 1 ? 1 : spread, effect, alpha, power,
                                             &out->stats)
                    : loco_stats_plan_continuous(gate, spread, effect, alpha, power, &out->stats);
    out->floor = gate == LOCO_GATE_NONINFERIORITY && isfinite(out->base_rate) &&
                 !loco_stats_ni_informative(out->base_rate, effect, NULL);
    return rc;
}

char *loco_eval_plan_json(const struct loco_eval_plan_bench *b, size_t n, double alpha,
                          double power, const char *date)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "date", date ? date : "");
    cJSON_AddNumberToObject(o, "alpha", alpha);
    cJSON_AddNumberToObject(o, "power", power);
    cJSON_AddStringToObject(o, "rule",
                            "the first run of each benchmark decides its gate; "
                            "planned_n is the n it should be decided on");
    cJSON *arr = cJSON_AddArrayToObject(o, "benchmarks");
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "benchmark", b[i].benchmark);
        cJSON_AddStringToObject(e, "gate", loco_gate_kind_name(b[i].gate));
        cJSON_AddStringToObject(e, "items", b[i].binary ? "pass/fail" : "scores");
        cJSON_AddNumberToObject(e, b[i].gate == LOCO_GATE_SUPERIORITY ? "effect" : "margin",
                                b[i].effect);
        cJSON_AddNumberToObject(e, "planned_n", b[i].stats.n);
        cJSON_AddNumberToObject(e, "n_formula", b[i].stats.n_raw);
        cJSON_AddNumberToObject(e, b[i].binary ? "discordance" : "sd", b[i].stats.spread);
        cJSON_AddNumberToObject(e, "power_at_planned_n", b[i].stats.power_at_n);
        if (isfinite(b[i].base_rate))
            cJSON_AddNumberToObject(e, "base_rate", b[i].base_rate);
        if (b[i].available)
            cJSON_AddNumberToObject(e, "available", (double)b[i].available);
        cJSON_AddStringToObject(e, "basis", b[i].basis);
        if (b[i].floor)
            cJSON_AddStringToObject(e, "floor",
                                    "the base scores below the margin: the check "
                                    "is uninformative at any n");
        cJSON_AddItemToArray(arr, e);
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

/* ---- deciding once over the runs ----------------------------------------------- */

/* One run's summary of one benchmark. */
static cJSON *bench_summary(const cJSON *b)
{
    static const char *const keys[] = {
        "benchmark", "metric",  "n_items", "n_used",  "base_score", "adapter_score", "diff",
        "diff_ci95", "p_value", "gate",    "verdict", "passed",     "why",           NULL};
    cJSON *s = cJSON_CreateObject();
    for (size_t i = 0; keys[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, keys[i]);
        if (v)
            cJSON_AddItemToObject(s, keys[i], cJSON_Duplicate(v, true));
    }
    const cJSON *own = cJSON_GetObjectItemCaseSensitive(b, "run_verdict");
    if (own) /* a rerun's summary keeps what that run itself found */
        set_item(s, "verdict", cJSON_Duplicate(own, true));
    return s;
}

static cJSON *run_summary(const cJSON *rec, int number)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "run", number);
    const char *date = loco_json_string(rec, "date");
    cJSON_AddStringToObject(r, "date", date ? date : "");
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(rec, "settings");
    double limit = loco_json_number(settings, "limit");
    if (isfinite(limit))
        cJSON_AddNumberToObject(r, "limit", limit);
    cJSON *arr = cJSON_AddArrayToObject(r, "benchmarks");
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(rec, "benchmarks"))
        cJSON_AddItemToArray(arr, bench_summary(b));
    return r;
}

static const char *verdict_of(const cJSON *b)
{
    const char *v = loco_json_string(b, "verdict");
    if (v)
        return v;
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "passed")) ? "PASS" : "FAIL";
}

__attribute__((format(printf, 3, 4))) static void append(char *note, size_t cap, const char *fmt,
                                                         ...)
{
    if (!note || !cap)
        return;
    size_t k = strlen(note);
    if (k + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + k, cap - k, fmt, ap);
    va_end(ap);
}

/* The plan's entry for a benchmark, or NULL. */
static const cJSON *plan_entry(const cJSON *plan, const char *name)
{
    return plan ? find_bench(cJSON_GetObjectItemCaseSensitive(plan, "benchmarks"), name) : NULL;
}

/* Decide each benchmark of `rec` (run number `k`, its summary already the
 * last of `runs`) once over the runs. */
static void decide(cJSON *rec, const cJSON *runs, int k, const cJSON *plan, char *note, size_t cap)
{
    cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(rec, "benchmarks"))
    {
        const char *name = loco_json_string(b, "benchmark");
        if (!name)
            continue;
        if (!loco_json_string(b, "verdict")) /* a record from before verdicts: from "passed" */
            set_str(b, "verdict", verdict_of(b));
        const cJSON *first = NULL, *run;
        int first_no = 0, count = 0;
        cJSON_ArrayForEach(run, runs)
        {
            const cJSON *rb = find_bench(cJSON_GetObjectItemCaseSensitive(run, "benchmarks"), name);
            if (!rb)
                continue;
            count++;
            if (!first) {
                first = rb;
                first_no = (int)loco_json_number(run, "run");
            }
        }
        const cJSON *pe = plan_entry(plan, name);
        double planned = loco_json_number(pe, "planned_n");
        if (isfinite(planned))
            set_num(b, "planned_n", planned);
        char why[512];
        const char *own_why = loco_json_string(b, "why");
        snprintf(why, sizeof why, "%s", own_why ? own_why : "");
        if (first && first_no != k) { /* a rerun: the verdict stays the first run's */
            const char *dv = verdict_of(first);
            set_str(b, "run_verdict", verdict_of(b));
            set_str(b, "verdict", dv);
            set_item(b, "passed", cJSON_CreateBool(!strcmp(dv, "PASS")));
            set_num(b, "decided_by_run", first_no);
            set_num(b, "rerun", count);
            double dn = loco_json_number(first, "n_used");
            const char *fwhy = loco_json_string(first, "why");
            snprintf(why, sizeof why, "decided by run %d on n=%.0f: %s", first_no, dn,
                     fwhy ? fwhy : "");
            append(note, cap,
                   "%s: rerun %d of %s%s%.0f; the gate was decided by run %d on "
                   "n=%.0f (%s); this run alone: %s.\n",
                   name, count, name, isfinite(planned) ? ", planned n=" : ", no plan: n=",
                   isfinite(planned) ? planned : loco_json_number(b, "n_used"), first_no, dn, dv,
                   loco_json_string(b, "run_verdict"));
        } else {
            set_num(b, "decided_by_run", k);
        }
        const cJSON *decider = first && first_no != k ? first : b;
        double dn = loco_json_number(decider, "n_used");
        if (isfinite(planned) && isfinite(dn) && dn != planned) {
            char pn[160];
            snprintf(pn, sizeof pn, "decided on n=%.0f, planned n=%.0f", dn, planned);
            set_str(b, "plan_note", pn);
            append(why, sizeof why, " (%s)", pn);
            if (!(first && first_no != k))
                append(note, cap, "%s: the gate was %s.\n", name, pn);
        }
        set_str(b, "why", why);
    }
}

/* The strategy a record compares with plain ("plain": an adapter record). */
static const char *record_strategy(const cJSON *rec)
{
    const char *s = loco_json_string(cJSON_GetObjectItemCaseSensitive(rec, "settings"), "strategy");
    return s ? s : "plain";
}

/* Whether two records' answers came from the same place: both from loco
 * (no "engine"), or from the same engine (kind, URL, the models asked). */
static bool same_engine(const cJSON *a, const cJSON *b)
{
    const cJSON *ea = cJSON_GetObjectItemCaseSensitive(a, "engine");
    const cJSON *eb = cJSON_GetObjectItemCaseSensitive(b, "engine");
    static const char *const keys[] = {"kind", "url", "base_model", "adapter_model"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *x = loco_json_string(ea, keys[i]), *y = loco_json_string(eb, keys[i]);
        if (strcmp(x ? x : "", y ? y : ""))
            return false;
    }
    return true;
}

static bool same_series(const cJSON *a, const cJSON *b)
{
    if (strcmp(record_strategy(a), record_strategy(b)))
        return false; /* plain-vs-strategy runs are another series than adapter runs */
    if (!same_engine(a, b))
        return false; /* an engine's answers are another series than loco's */
    const char *a0 = loco_json_string(cJSON_GetObjectItemCaseSensitive(a, "adapter"), "sha256");
    const char *a1 = loco_json_string(cJSON_GetObjectItemCaseSensitive(b, "adapter"), "sha256");
    const char *m0 = loco_json_string(cJSON_GetObjectItemCaseSensitive(a, "model"), "sha256");
    const char *m1 = loco_json_string(cJSON_GetObjectItemCaseSensitive(b, "model"), "sha256");
    return a0 && a1 && m0 && m1 && !strcmp(a0, a1) && !strcmp(m0, m1);
}

bool loco_eval_record_same_series(const char *a, const char *b)
{
    cJSON *x = a ? cJSON_Parse(a) : NULL, *y = b ? cJSON_Parse(b) : NULL;
    bool same = is_record(x) && is_record(y) && same_series(x, y);
    cJSON_Delete(x);
    cJSON_Delete(y);
    return same;
}

/* The previous record's run that its top-level benchmarks hold gets their
 * items, so that every run's items stay in the record, each once. */
static void keep_items(cJSON *runs, const cJSON *prev)
{
    double last = loco_json_number(prev, "run");
    cJSON *run, *target = NULL;
    cJSON_ArrayForEach(run, runs)
    {
        if (!isfinite(last) || loco_json_number(run, "run") == last)
            target = run;
    }
    cJSON *b, *list = cJSON_GetObjectItemCaseSensitive(target, "benchmarks");
    cJSON_ArrayForEach(b, list)
    {
        const char *name = loco_json_string(b, "benchmark");
        const cJSON *full =
            name ? find_bench(cJSON_GetObjectItemCaseSensitive(prev, "benchmarks"), name) : NULL;
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(full, "items");
        if (items && !cJSON_HasObjectItem(b, "items"))
            cJSON_AddItemToObject(b, "items", cJSON_Duplicate(items, true));
    }
}

/* The runs a previous record holds (a record from before runs were kept
 * was run 1), with the items of its last run. */
static cJSON *previous_runs(const cJSON *prev)
{
    const cJSON *kept = prev ? cJSON_GetObjectItemCaseSensitive(prev, "runs") : NULL;
    cJSON *runs;
    if (cJSON_IsArray(kept)) {
        runs = cJSON_Duplicate(kept, true);
    } else {
        runs = cJSON_CreateArray();
        if (prev && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(prev, "benchmarks")))
            cJSON_AddItemToArray(runs, run_summary(prev, 1));
    }
    if (prev)
        keep_items(runs, prev);
    return runs;
}

int loco_eval_record_merge(const char *previous, const char *current, const char *plan, char **out,
                           char *note, size_t cap)
{
    if (!current || !out)
        return loco_error_set(LOCO_ERR_INVALID, "record merge: NULL record or output");
    *out = NULL;
    if (note && cap)
        note[0] = '\0';
    cJSON *cur = cJSON_Parse(current);
    if (!is_record(cur)) {
        cJSON_Delete(cur);
        return loco_error_set(LOCO_ERR_FORMAT, "record merge: not a locollm-eval/1 record");
    }
    cJSON *prev = previous ? cJSON_Parse(previous) : NULL;
    if (prev && !is_record(prev)) {
        cJSON_Delete(prev);
        prev = NULL;
    }
    if (prev) { /* same adapter file and model, else a new series */
        if (!same_series(prev, cur)) {
            append(note, cap,
                   "the record there was of another adapter file or model: a new "
                   "series of runs starts\n");
            cJSON_Delete(prev);
            prev = NULL;
        }
    }
    cJSON *runs = previous_runs(prev);
    cJSON *pl = plan ? cJSON_Parse(plan) : NULL;
    if (!pl && prev && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(prev, "plan")))
        pl = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(prev, "plan"), true);
    if (plan && pl)
        cJSON_AddNumberToObject(pl, "after_runs", cJSON_GetArraySize(runs));
    int k = cJSON_GetArraySize(runs);
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cur, "benchmarks")) > 0) {
        k++;
        cJSON_AddItemToArray(runs, run_summary(cur, k));
        decide(cur, runs, k, pl, note, cap);
        /* the summary of this run carries the decided fields too */
        cJSON *last = cJSON_GetArrayItem(runs, cJSON_GetArraySize(runs) - 1);
        cJSON_ReplaceItemInObjectCaseSensitive(last, "benchmarks", cJSON_CreateArray());
        cJSON *b;
        cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(cur, "benchmarks"))
            cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(last, "benchmarks"),
                                 bench_summary(b));
    } else if (prev) { /* nothing measured: keep the previous run's benchmarks */
        set_item(cur, "benchmarks",
                 cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(prev, "benchmarks"), true));
        const char *date = loco_json_string(prev, "date");
        if (date)
            set_str(cur, "date", date);
    }
    set_num(cur, "run", k);
    if (pl) {
        int after = (int)loco_json_number(pl, "after_runs");
        set_item(cur, "plan", pl);
        if (after > 0 && plan)
            append(note, cap,
                   "the plan comes after %d run(s): benchmarks they measured stay "
                   "decided by them\n",
                   after);
    }
    set_item(cur, "runs", runs);
    cJSON_Delete(prev);
    *out = cJSON_Print(cur);
    cJSON_Delete(cur);
    return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "record merge: out of memory");
}

/* ---- re-gating a stored record ----------------------------------------------- */

/* The verdict of one stored benchmark by the current rules. */
static const char *regate_bench(cJSON *b, double alpha, double margin, const char **why)
{
    const char *gate = loco_json_string(b, "gate");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(b, "in_domain");
    bool sup = gate ? !strcmp(gate, "superiority") : cJSON_IsTrue(in);
    double n = loco_json_number(b, "n_used");
    if (!isfinite(n))
        n = loco_json_number(b, "n_items");
    const cJSON *ci = cJSON_GetObjectItemCaseSensitive(b, "diff_ci95");
    const cJSON *lo = cJSON_GetArrayItem(ci, 0), *hi = cJSON_GetArrayItem(ci, 1);
    struct loco_ci dci = {cJSON_IsNumber(lo) ? lo->valuedouble : NAN,
                          cJSON_IsNumber(hi) ? hi->valuedouble : NAN};
    size_t nn = isfinite(n) && n > 0 ? (size_t)n : 0;
    enum loco_gate_verdict v;
    if (sup)
        v = loco_stats_gate_domain(nn, loco_json_number(b, "p_value"), loco_json_number(b, "diff"), alpha, why)
                ? LOCO_VERDICT_PASS
                : LOCO_VERDICT_FAIL;
    else
        v = loco_stats_gate_noninferior_verdict(nn, loco_json_number(b, "base_score"), dci, margin, why);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(b, "contamination");
    if (loco_json_number(ct, "flagged") > 0 &&
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ct, "decontaminated"))) {
        v = LOCO_VERDICT_FAIL;
        *why = "contaminated: items share 13-grams with the adapter's training data "
               "(see contamination; --decontaminate scores the clean items)";
    }
    if (!isfinite(loco_json_number(b, "base_score"))) { /* no statistics were possible */
        v = LOCO_VERDICT_FAIL;
        const char *old = loco_json_string(b, "why");
        *why = old ? old : "no statistics";
    }
    set_str(b, "gate", sup ? "superiority" : "non-inferiority");
    return loco_gate_verdict_name(v);
}

int loco_eval_record_regate(const char *record, char **out, char *changes, size_t cap)
{
    if (!record || !out)
        return loco_error_set(LOCO_ERR_INVALID, "regate: NULL record or output");
    *out = NULL;
    if (changes && cap)
        changes[0] = '\0';
    cJSON *r = cJSON_Parse(record);
    if (!is_record(r)) {
        cJSON_Delete(r);
        return loco_error_set(LOCO_ERR_FORMAT, "regate: not a locollm-eval/1 record");
    }
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(r, "settings");
    double alpha = loco_json_number(settings, "alpha"), margin = loco_json_number(settings, "non_inferiority_margin");
    struct loco_stats_params dp = loco_stats_default_params();
    if (!isfinite(alpha))
        alpha = dp.alpha;
    if (!isfinite(margin))
        margin = dp.ni_margin;
    /* each run's summaries first (their own verdicts), then the benchmarks */
    cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r, "runs"))
    {
        cJSON *b;
        cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(run, "benchmarks"))
        {
            const char *why = NULL;
            const char *v = regate_bench(b, alpha, margin, &why);
            set_str(b, "verdict", v);
            set_item(b, "passed", cJSON_CreateBool(!strcmp(v, "PASS")));
            set_str(b, "why", why);
        }
    }
    cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(r, "benchmarks"))
    {
        const char *why = NULL, *before = verdict_of(b);
        char was[32];
        snprintf(was, sizeof was, "%s", before);
        const char *v = regate_bench(b, alpha, margin, &why);
        set_str(b, "verdict", v);
        set_item(b, "passed", cJSON_CreateBool(!strcmp(v, "PASS")));
        set_str(b, "why", why);
        cJSON_DeleteItemFromObjectCaseSensitive(b, "run_verdict");
        if (strcmp(was, v))
            append(changes, cap, "%s (%s): %s -> %s\n", loco_json_string(b, "benchmark"), loco_json_string(b, "gate"), was,
                   v);
    }
    /* decide once again over the runs, when the record keeps them */
    cJSON *runs = cJSON_GetObjectItemCaseSensitive(r, "runs");
    int k = (int)loco_json_number(r, "run");
    if (cJSON_IsArray(runs) && k > 0)
        decide(r, runs, k, cJSON_GetObjectItemCaseSensitive(r, "plan"), NULL, 0);
    *out = cJSON_Print(r);
    cJSON_Delete(r);
    return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "regate: out of memory");
}
