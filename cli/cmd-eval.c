/*
 * cmd-eval.c - `loco eval ADAPTER`: the adapter against the base model on
 * the same items, with paired statistics and gates.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli-engine.h"
#include "cli-route.h"
#include "cli-strategy.h"
#include "cmd-eval-pair.h"
#include "cmd-eval-rescore.h"
#include "cmd-eval-swarm.h"
#include "commands.h"
#include "loco/contam.h"
#include "loco/eval.h"
#include "loco/fileio.h"
#include "loco/models.h"
#include "loco/registry.h"
#include "loco/report.h"

#define MAX_BENCH 16
#define EXIT_GATE_FAILED 3 /* the run went through; a gate stops the adapter */

static const char eval_usage[] =
    "usage: loco eval ADAPTER [options]\n"
    "       loco eval --swarm [--router NAME ...] [--bench NAME ...] [options]\n"
    "       loco eval --pair RECORD.json:SIDE RECORD.json:SIDE [--bench NAME] [--json]\n\n"
    "Runs the base model and the adapter on the same benchmark items (greedy unless\n"
    "--samples), scores both (judged benchmarks: by a judge model), and reports per\n"
    "benchmark: scores with 95% CIs, the paired difference, a paired test (exact\n"
    "McNemar for pass/fail items, Wilcoxon + paired bootstrap for scores), effect\n"
    "size, power, and the gate: on the adapter's own domain the gain must be\n"
    "significant (p < 0.05); elsewhere the upper 95% bound of the drop must be\n"
    "<= 5 points, and a check whose base scores below 5 points is uninformative (it\n"
    "cannot see such a drop). Answers and judgments are cached: a killed run\n"
    "resumes, a repeated one is free. ADAPTER may be a run-time set, A:w,B:w\n"
    "(the adapter side answers with all of it; not recorded in the registry).\n\n"
    "options:\n";

_Static_assert(EXIT_GATE_FAILED == 3, "the help below says 3");
static const char eval_epilog[] =
    "\nexit status: 0 the run went through and every gate passed (or is an\n"
    "uninformative non-inferiority check); 3 a gate failed (the record and the\n"
    "registry's scores are written all the same); 1 an error; 2 a bad command line.\n"
    "--plan, --pair, --regate, --rescore and --swarm decide no gate here: 0 when\n"
    "they went through.\n";

struct progress {
    double t0;
    bool tty;
    const char *side[2]; /* "base", "adapter"; with --strategy "plain" and its name */
};

static void on_progress(void *user, const char *bench, const char *phase, int side, size_t done,
                        size_t total)
{
    struct progress *pr = user;
    if (!pr->tty && done != total)
        return;
    double el = (loco_time_ms() - pr->t0) / 1e3;
    double eta = done ? el * (double)(total - done) / (double)done : 0;
    fprintf(stderr, "%s%s %-7s %-7s %zu/%zu  %.0f s elapsed  ETA %.0f s%s", pr->tty ? "\r" : "",
            bench, pr->side[side ? 1 : 0], phase, done, total, el, done < total ? eta : 0.0,
            pr->tty && done < total ? "   " : "\n");
    fflush(stderr);
    if (done == total)
        pr->t0 = loco_time_ms();
}

/* pass@k and the judge's figures, under the table. */
static void print_extras(const struct loco_eval_bench *b)
{
    for (int side = 0; side < 2 && b->n_pass_k; side++) {
        printf("%s %s, n=%u samples per item:", b->name, side ? "adapter" : "base", b->samples);
        for (size_t k = 0; k < b->n_pass_k; k++)
            printf(" pass@%u %.3f", b->pass_k[k], b->pass_at_k[side][k]);
        printf("\n");
    }
    for (int side = 0; side < 2 && b->judged; side++)
        printf("%s %s: mean rating %.2f of %d, per-item sd %.2f, range %.2f; %zu of %zu "
               "judgments unparseable\n",
               b->name, side ? "adapter" : "base", b->mean_rating[side], b->rating_max,
               b->rating_sd[side], b->rating_range[side], b->n_unparsed[side],
               b->n_judgments[side]);
    if (b->judged)
        printf("%s: judge %s, rubric %s; %zu of %zu items rated on both sides\n", b->name, b->judge,
               loco_judge_rubric_name(b->rubric), b->n_used, b->n);
}

/* side0, side1: the columns' names ("base", the adapter; or with a
 * strategy "math plain", "math calc"). */
static void print_table(const struct loco_eval_bench *b, size_t n, const char *side0,
                        const char *side1)
{
    printf("| benchmark | items | metric | %s | %s | diff [95%% CI] | p | test | gate |\n",
           side0, side1);
    printf("|---|---:|---|---:|---:|---|---:|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        char items[48]; /* the paired items, and of how many when some were left out */
        if (b[i].n_used == b[i].n)
            snprintf(items, sizeof items, "%zu", b[i].n);
        else
            snprintf(items, sizeof items, "%zu of %zu", b[i].n_used, b[i].n);
        printf("| %s | %s | %s | %.3f | %.3f | %+.3f [%+.3f, %+.3f] | %.3g | %s | %s %s |\n",
               b[i].name, items, b[i].metric, b[i].base_score, b[i].adapter_score, b[i].diff,
               b[i].diff_ci.lo, b[i].diff_ci.hi, b[i].p_value, b[i].binary ? "McNemar" : "Wilcoxon",
               loco_gate_kind_name(b[i].gate_kind), loco_gate_verdict_name(b[i].verdict));
    }
    for (size_t i = 0; i < n; i++) {
        double power10 = b[i].binary ? b[i].bin.power[0] : b[i].cont.power[0];
        double power5 = b[i].binary ? b[i].bin.power[1] : b[i].cont.power[1];
        printf("\n%s: %s. Power for a 10-point gain %.2f, for 5 points %.2f. Generation: %s "
               "%.0f s (%zu cached), %s %.0f s (%zu cached).\n",
               b[i].name, b[i].gate_why ? b[i].gate_why : "", power10, power5, side0,
               b[i].gen_ms[0] / 1e3, b[i].n_cached[0], side1, b[i].gen_ms[1] / 1e3,
               b[i].n_cached[1]);
        if (b[i].contam_checked)
            printf("Contamination: %zu of %zu items flagged (%zu exact, %zu sharing a 13-gram "
                   "with the training data)%s.\n",
                   b[i].n_contaminated, b[i].n, b[i].n_contam_exact, b[i].n_contam_overlap,
                   b[i].decontaminated ? "; left out of the statistics" : "");
        print_extras(&b[i]);
    }
}

/* `file` (which exists) as the registry stores a record: relative to the
 * folder of `registry_file` (where `loco registry validate` looks), or
 * absolute when the two share nothing below the root. */
static void record_path_for(const char *registry_file, const char *file, char *buf, size_t cap)
{
    char f[4096], dir[4096], reg[4096];
    snprintf(reg, sizeof reg, "%s", registry_file);
    char *slash = strrchr(reg, '/');
    if (slash)
        *slash = '\0';
    if (!realpath(file, f) || !realpath(slash ? reg : ".", dir)) {
        snprintf(buf, cap, "%s", file);
        return;
    }
    size_t dl = strlen(dir), common = 0; /* where the shared leading folders end (a '/') */
    if (!strncmp(f, dir, dl) && f[dl] == '/')
        common = dl; /* the file is inside the registry's folder */
    else
        for (size_t i = 0; f[i] && f[i] == dir[i]; i++)
            if (f[i] == '/')
                common = i;
    if (common == 0) {
        snprintf(buf, cap, "%s", f);
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (const char *p = dir + common; *p; p++) /* one ../ per folder left in dir */
        if (*p == '/' && used + 4 < cap) {
            memcpy(buf + used, "../", 4);
            used += 3;
        }
    snprintf(buf + used, cap - used, "%s", f + common + 1);
}

/* The registry's scores come from the record just written; reg is the
 * registry the run read (NULL when there was none). */
static int record_scores(const struct loco_registry *reg, const char *registry,
                         const char *adapter, const char *record, const char *layer_name,
                         const struct loco_eval_bench *b, size_t n,
                         const enum loco_gate_verdict *decided)
{
    /* --registry FILE: that file alone, and the scores go there */
    struct loco_registry_params rp = cli_registry_params(registry);
    if (!reg)
        return cli_fail("cannot read the registry to record the scores");
    if (!loco_registry_find(reg, adapter)) {
        fprintf(stderr,
                "loco eval: %s is not in the registry; scores not recorded (add it, "
                "then run again: the answers are cached)\n",
                adapter);
        return 0;
    }
    enum loco_registry_layer layer =
        !strcmp(layer_name, "project") ? LOCO_REGISTRY_PROJECT : LOCO_REGISTRY_USER;
    /* the project registry travels with the repository: its records are
     * relative to it; the user overlay keeps the path as given */
    char reg_file[4096], rel[4096];
    if (layer == LOCO_REGISTRY_PROJECT) {
        if (registry)
            snprintf(reg_file, sizeof reg_file, "%s", registry);
        else if (loco_registry_project_path(reg_file, sizeof reg_file) != LOCO_OK)
            return cli_fail("cannot find the registry file");
        record_path_for(reg_file, record, rel, sizeof rel);
        record = rel;
    }
    for (size_t i = 0; i < n; i++) {
        struct loco_ci ci = b[i].binary ? b[i].bin.adapter_ci : b[i].cont.adapter_ci;
        if (!isfinite(b[i].adapter_score) || !isfinite(ci.lo) || !isfinite(ci.hi)) {
            fprintf(stderr, "loco eval: %s has no score to record (%s)\n", b[i].name,
                    b[i].gate_why ? b[i].gate_why : "no statistics");
            continue;
        }
        /* the registry's `passed`: the gate does not stop a promotion */
        struct loco_registry_score sc = {.benchmark = b[i].name,
                                         .score = b[i].adapter_score,
                                         .ci_low = ci.lo,
                                         .ci_high = ci.hi,
                                         .base_score = b[i].base_score,
                                         .p_value = b[i].p_value,
                                         .passed =
                                             loco_eval_verdict_passes(decided[i], b[i].gate_kind),
                                         .n_items = (int64_t)b[i].n_used,
                                         .record = record};
        if (loco_registry_record_score(&rp, layer, adapter, &sc) != LOCO_OK)
            return cli_fail("cannot record a score in the registry");
    }
    fprintf(stderr, "loco eval: scores of %s recorded in the %s registry\n", adapter,
            registry                         ? registry
            : layer == LOCO_REGISTRY_PROJECT ? "project"
                                             : "user");
    return 0;
}

/* user, project or none: the old values of --registry (now --record-in). */
static bool is_choice_word(const char *v)
{
    return !strcmp(v, "user") || !strcmp(v, "project") || !strcmp(v, "none");
}

/* Options that would change nothing are refused rather than ignored. */
static bool check_options(const struct loco_eval_params *p, const char *const *benches, size_t n,
                          bool temperature_set)
{
    bool shots = n == 0, samples = n == 0; /* the default set has gsm8k and mbpp */
    for (size_t i = 0; i < n; i++) {
        shots = shots || loco_eval_bench_takes_shots(benches[i]);
        samples = samples || loco_eval_bench_takes_samples(benches[i]);
    }
    const char *why = p->shots && !shots ? "--shots applies to gsm8k only"
                      : p->samples > 1 && !samples
                          ? "--samples applies to mbpp, humaneval and custom code benchmarks"
                      : temperature_set && p->samples < 2 && p->strategy.kind != LOCO_STRATEGY_SC &&
                                p->strategy.kind != LOCO_STRATEGY_USC
                          ? "--temperature needs --samples N (N > 1) or --strategy sc:K|usc:K; "
                            "answers are greedy"
                      : !p->judge.url != !p->judge.model
                          ? "--judge-url and --judge-model go together"
                          : NULL;
    if (why)
        fprintf(stderr, "loco eval: %s (see loco eval --help)\n", why);
    char *url = !why && p->judge.url ? loco_judge_chat_url(p->judge.url) : NULL;
    if (!why && p->judge.url && !url) {
        fprintf(stderr, "loco eval: --judge-url: %s\n", loco_error_message());
        return false;
    }
    free(url);
    return !why;
}

/* ADAPTER as a run-time set "A:w,B:w,..." (composition.md): the adapter side
 * answers with all of it, each weight times --scale; p->also gets the
 * members after the first (into also[]), and the first one's scale is
 * returned. */
static double eval_set_params(const struct cli_engine *e, double scale,
                              struct loco_adapter_ref *also, struct loco_eval_params *p)
{
    for (int i = 1; i < e->n_set; i++)
        also[i - 1] = (struct loco_adapter_ref){e->set[i].adapter, e->set[i].scale * (float)scale};
    p->also = also;
    p->n_also = e->n_set - 1;
    return scale * e->set[0].scale;
}

/* The record names a set by its spec and its members' files. */
static void eval_set_info(struct loco_eval_record_info *info, const struct cli_engine *e,
                          const char *spec)
{
    snprintf(info->adapter_name, sizeof info->adapter_name, "%s", spec);
    size_t k = 0;
    for (int i = 0; i < e->n_set && k < sizeof info->adapter_path; i++)
        k += (size_t)snprintf(info->adapter_path + k, sizeof info->adapter_path - k, "%s%s",
                              i ? "," : "", loco_adapter_info(e->set[i].adapter)->path);
}

/* The adapter's training recipe: the registry's provenance.recipe (relative
 * to the registry file's folder), else recipe.yaml beside the adapter file. */
static bool find_recipe(const struct loco_registry *reg, const char *name, const char *adapter_path,
                        char *buf, size_t cap)
{
    const struct loco_registry_adapter *ra = reg ? loco_registry_find(reg, name) : NULL;
    if (ra && ra->provenance.recipe && ra->provenance.recipe[0]) {
        const char *rec = ra->provenance.recipe, *src = ra->source ? ra->source : "";
        const char *slash = strrchr(src, '/');
        if (rec[0] == '/' || !slash)
            snprintf(buf, cap, "%s", rec);
        else
            snprintf(buf, cap, "%.*s/%s", (int)(slash - src), src, rec);
        if (access(buf, R_OK) == 0)
            return true;
    }
    const char *slash = strrchr(adapter_path, '/');
    if (slash)
        snprintf(buf, cap, "%.*s/recipe.yaml", (int)(slash - adapter_path), adapter_path);
    else
        snprintf(buf, cap, "recipe.yaml");
    return access(buf, R_OK) == 0;
}

/* Index the adapter's training data; on failure the check is skipped and
 * the record says why. */
static struct loco_contam_index *contam_index(const struct cli_engine *e,
                                              const struct loco_registry *reg,
                                              const struct loco_adapter_info *in,
                                              const char *shared_dir,
                                              struct loco_eval_record_info *cs)
{
    /* recipes name their data as ${LOCO_SHARED_DIR:-...}: point that at the
     * shared folder this evaluation reads (a recipe copied beside its
     * adapter sits at another depth than recipes/) */
    char shared[4096];
    const char *env = getenv("LOCO_SHARED_DIR");
    if ((!env || !env[0]) && shared_dir && realpath(shared_dir, shared))
        setenv("LOCO_SHARED_DIR", shared, 1);
    if (!find_recipe(reg, in->name, in->path, cs->contam_recipe, sizeof cs->contam_recipe)) {
        snprintf(cs->contam_why, sizeof cs->contam_why,
                 "no training recipe found for %s "
                 "(registry provenance.recipe or recipe.yaml beside the adapter)",
                 in->name);
        return NULL;
    }
    struct loco_contam_index *ix = loco_contam_index_init(0);
    if (!ix || loco_contam_index_add_recipe(ix, cs->contam_recipe, e->model,
                                            &cs->contam_examples) != LOCO_OK) {
        snprintf(cs->contam_why, sizeof cs->contam_why, "%s", loco_error_message());
        loco_contam_index_free(ix);
        return NULL;
    }
    cs->contam_checked = true;
    return ix;
}

/* Write the record, its reports and (with --archive) the archived copy. */
static int write_outputs(const char *out_path, const char *rec, bool archive, bool quiet)
{
    if (loco_file_write_atomic(out_path, rec, strlen(rec)) != LOCO_OK)
        return cli_fail("cannot write the record");
    if (!quiet)
        printf("\nrecord: %s\n", out_path);
    if (loco_report_write(out_path) != LOCO_OK)
        return cli_fail("cannot write the reports");
    if (!quiet)
        printf("reports: the same name with .md and .html\n");
    if (archive) {
        char where[4096];
        if (loco_results_archive(out_path, NULL, where, sizeof where) != LOCO_OK)
            return cli_fail("cannot archive the record");
        if (!quiet)
            printf("archived: %s\n", where);
    }
    return 0;
}

static int default_cache(char *buf, size_t cap)
{
    char dir[4096];
    if (loco_models_dir(dir, sizeof dir))
        return -1;
    char *slash = strrchr(dir, '/'); /* .../locollm/models -> .../locollm */
    if (slash)
        *slash = '\0';
    if (loco_models_mkdirs(dir))
        return -1;
    int n = snprintf(buf, cap, "%s/eval-cache.sqlite", dir);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static bool is_custom_file(const char *bench)
{
    size_t n = strlen(bench);
    return n > 6 && !strcmp(bench + n - 6, ".jsonl");
}

/* The record already at `path` (malloc'd), or NULL when there is none. */
static char *read_existing(const char *path)
{
    char *text = NULL;
    if (!path || access(path, R_OK) != 0 || loco_report_read_file(path, &text, NULL) != LOCO_OK)
        return NULL;
    return text;
}

/* A record at `path` of another series (adapter file, model, strategy or
 * engine: loco_eval_record_same_series) is about to be
 * replaced by a new series: keep it beside, as STEM.superseded-DATE.json
 * with its reports, so no run is lost. */
static int keep_superseded(const char *path, const char *previous, const char *current)
{
    if (!previous || loco_eval_record_same_series(previous, current))
        return 0;
    cJSON *r = cJSON_Parse(previous);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "date");
    char date[40] = "undated";
    size_t k = 0;
    for (const char *c = cJSON_IsString(d) ? d->valuestring : ""; *c && k + 1 < sizeof date; c++)
        if (*c != ':') /* 2026-11-27T13:04:54Z -> 2026-11-27T130454Z */
            date[k++] = *c;
    if (k)
        date[k] = '\0';
    cJSON_Delete(r);
    size_t len = strlen(path);
    int stem = (int)(len > 5 && !strcmp(path + len - 5, ".json") ? len - 5 : len);
    char keep[4200];
    snprintf(keep, sizeof keep, "%.*s.superseded-%s.json", stem, path, date);
    if (loco_file_write_atomic(keep, previous, strlen(previous)) != LOCO_OK ||
        loco_report_write(keep) != LOCO_OK)
        return cli_fail("cannot keep the record being replaced");
    printf("the record at %s was of another series (adapter file, model, strategy or engine): "
           "kept as %s\n",
           path, keep);
    return 0;
}

/* The exit status of a run that went through: EXIT_GATE_FAILED when a
 * benchmark's decided verdict stops the adapter (the record and the
 * registry's scores are written all the same), else 0. */
static int gate_status(const struct loco_eval_bench *b, size_t n,
                       const enum loco_gate_verdict *decided)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        if (!loco_eval_verdict_passes(decided[i], b[i].gate_kind)) {
            fprintf(stderr, "%sloco eval: %s did not pass its %s gate (%s)\n", failed ? "" : "\n",
                    b[i].name, loco_gate_kind_name(b[i].gate_kind),
                    loco_gate_verdict_name(decided[i]));
            failed++;
        }
    return failed ? EXIT_GATE_FAILED : 0;
}

/* The first option given on the command line that is not in `allowed`
 * (a NULL-ended list of long names), or NULL. */
static const char *pair_other_option(const struct cli_option *opts, const char *const *allowed)
{
    for (const struct cli_option *o = opts; o->kind != CLI_OPT_KIND_END; o++) {
        if (!o->seen || !o->long_name)
            continue;
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(o->long_name, *a) == 0;
        if (!ok)
            return o->long_name;
    }
    return NULL;
}

/* `loco eval --regate RECORD`: the gates again from the stored statistics. */
static int regate(const char *path)
{
    char *text = NULL, *out = NULL, changes[4096];
    if (loco_report_read_file(path, &text, NULL) != LOCO_OK)
        return cli_fail("cannot read the record");
    int rc = loco_eval_record_regate(text, &out, changes, sizeof changes);
    free(text);
    if (rc != LOCO_OK)
        return cli_fail("cannot re-gate the record");
    rc =
        loco_file_write_atomic(path, out, strlen(out)) == LOCO_OK ? 0 : cli_fail("cannot write it");
    free(out);
    if (!rc && loco_report_write(path) != LOCO_OK)
        rc = cli_fail("cannot write the reports");
    if (!rc)
        printf("%s:%s", path, changes[0] ? "\n" : " no verdict changed\n");
    if (!rc && changes[0])
        printf("%s", changes);
    return rc;
}

/* What --plan needs besides the eval params. */
struct plan_opts {
    bool on;
    double effect, power, sd;
};

/* The registry's base score of `adapter` on `bench`, NaN when none. */
static double registry_base(const struct loco_registry *reg, const char *adapter, const char *bench)
{
    const struct loco_registry_adapter *a = reg ? loco_registry_find(reg, adapter) : NULL;
    const struct loco_registry_score *sc = a ? loco_registry_score(a, bench) : NULL;
    return sc ? sc->base_score : NAN;
}

/* The record the registry cites for `adapter` on `bench` (malloc'd text),
 * or NULL: the path is relative to the registry file that defines the
 * adapter, or (user overlay) as given. */
static char *registry_record(const struct loco_registry *reg, const char *adapter,
                             const char *bench)
{
    const struct loco_registry_adapter *a = reg ? loco_registry_find(reg, adapter) : NULL;
    const struct loco_registry_score *sc = a ? loco_registry_score(a, bench) : NULL;
    if (!sc || !sc->record || !sc->record[0])
        return NULL;
    char path[8192];
    const char *slash = a->source ? strrchr(a->source, '/') : NULL;
    if (sc->record[0] != '/' && slash)
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - a->source), a->source, sc->record);
    else
        snprintf(path, sizeof path, "%s", sc->record);
    char *text = read_existing(path);
    return text ? text : read_existing(sc->record);
}

/* `loco eval ADAPTER --plan`: the n each benchmark needs; with --out the
 * plan goes into the record file (kept with its runs). */
static int plan_run(const char *record_head, const struct loco_eval_params *p,
                    const struct plan_opts *po, const char *const *benches, const bool *in_domain,
                    size_t n_bench, const struct loco_registry *reg, const char *adapter,
                    const char *out_path)
{
    struct loco_eval_plan_bench plan[MAX_BENCH];
    char *previous = read_existing(out_path);
    int status = 0;
    printf("Plan: alpha %.3g, power %.2f; superiority for a gain of %.3g, non-inferiority for "
           "the margin %.3g\n\n",
           p->stats.alpha, po->power, po->effect, p->stats.ni_margin);
    printf("| benchmark | gate | items | planned n | available | power at n | rests on |\n");
    printf("|---|---|---|---:|---:|---:|---|\n");
    for (size_t i = 0; i < n_bench && !status; i++) {
        bool binary = true;
        size_t avail = 0;
        if (loco_eval_bench_info(benches[i], p, &binary, &avail, NULL) != LOCO_OK) {
            status = cli_fail("cannot read the benchmark");
            break;
        }
        enum loco_gate_kind gate = in_domain[i] ? LOCO_GATE_SUPERIORITY : LOCO_GATE_NONINFERIORITY;
        char name[64];
        loco_eval_bench_name(benches[i], name, sizeof name);
        double effect = gate == LOCO_GATE_SUPERIORITY ? po->effect : p->stats.ni_margin;
        /* the record at --out, else the one the registry cites */
        int rc =
            loco_eval_plan_bench(name, binary, gate, previous, registry_base(reg, adapter, name),
                                 po->sd, effect, p->stats.alpha, po->power, &plan[i]);
        char *cited = rc || !strncmp(plan[i].basis, "the previous record", 19)
                          ? NULL
                          : registry_record(reg, adapter, name);
        if (cited)
            rc = loco_eval_plan_bench(name, binary, gate, cited, registry_base(reg, adapter, name),
                                      po->sd, effect, p->stats.alpha, po->power, &plan[i]);
        free(cited);
        if (rc != LOCO_OK) {
            status = cli_fail("cannot plan");
            break;
        }
        plan[i].available = avail;
        char n_text[32];
        snprintf(n_text, sizeof n_text, plan[i].floor ? "uninformative" : "%u", plan[i].stats.n);
        printf("| %s | %s | %s | %s | %zu | %.2f | %s |\n", name, loco_gate_kind_name(gate),
               binary ? "pass/fail" : "scores", n_text, avail, plan[i].stats.power_at_n,
               plan[i].basis);
    }
    for (size_t i = 0; i < n_bench && !status; i++) {
        if (plan[i].floor)
            printf("%s: the base scores %.3f, below the margin %.3g: the non-inferiority check "
                   "is uninformative at any n (docs/statistics.md, the floor rule).\n",
                   plan[i].benchmark, plan[i].base_rate, plan[i].effect);
        else if (plan[i].available && plan[i].stats.n > plan[i].available)
            printf("%s: needs %u items, the benchmark has %zu: it cannot reach power %.2f "
                   "for this effect.\n",
                   plan[i].benchmark, plan[i].stats.n, plan[i].available, po->power);
    }
    if (!status && out_path) {
        char date[32];
        time_t now = time(NULL);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        char *pj = loco_eval_plan_json(plan, n_bench, p->stats.alpha, po->power, date);
        char *merged = NULL, note[2048];
        if (!pj || loco_eval_record_merge(previous, record_head, pj, &merged, note, sizeof note) !=
                       LOCO_OK)
            status = cli_fail("cannot record the plan");
        else if (keep_superseded(out_path, previous, record_head))
            status = 1;
        else if (loco_file_write_atomic(out_path, merged, strlen(merged)) != LOCO_OK)
            status = cli_fail("cannot write the record");
        else
            printf("\nplan recorded in %s; run `loco eval` with --limit N and the same --out: "
                   "the first run of each benchmark decides its gate\n%s",
                   out_path, note);
        free(pj);
        free(merged);
    }
    free(previous);
    return status;
}

static void print_sides(const struct loco_eval_bench *b, size_t n, const char *adapter,
                        const struct loco_strategy *st)
{
    char plain[160], with[160], name[LOCO_STRATEGY_NAME_MAX];
    if (st->kind == LOCO_STRATEGY_PLAIN) {
        print_table(b, n, "base", adapter);
        return;
    }
    snprintf(plain, sizeof plain, "%s plain", adapter);
    snprintf(with, sizeof with, "%s %s", adapter, loco_strategy_name(st, name, sizeof name));
    print_table(b, n, plain, with);
}

/* ---- --strategy ensemble: the members ------------------------------------- */

/* What goes with --strategy ensemble: one adapter (no run-time set, scale
 * 1: the members answer alone at scale 1), no engine, and no
 * --serve-candidates (the candidates are members anyway). False (and a
 * message) when refused. */
static bool ensemble_flags(const struct cli_option *opts, const char *adapter, const char *strategy,
                           bool serve_candidates)
{
    const char *why =
        adapter && strchr(adapter, ',')
            ? "the members answer alone: ADAPTER is one adapter, not a run-time set"
        : cli_opt_seen(opts, "scale")  ? "the members answer alone at scale 1: no --scale"
        : cli_opt_seen(opts, "engine") ? "the members answer here: no --engine"
        : serve_candidates
            ? "the members are the domain's adapters, candidates that have not passed their "
              "gate included (an evaluation is how they get ranked): no --serve-candidates"
            : NULL;
    if (why)
        fprintf(stderr, "loco eval --strategy %s: %s (docs/strategies.md)\n", strategy, why);
    return !why;
}

/* Whether two adapter files are one file. */
static bool same_file(const char *a, const char *b)
{
    char ra[4096], rb[4096];
    return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

/* The members of an ensemble evaluation of `a`, into out[LOCO_EVAL_MAX_MEMBERS]
 * (docs/strategies.md): the registry's adapters of a's domain in the
 * order ask's ensemble takes them (best-ranked first), candidates that have
 * not passed their gate included, the first n (0: all); a itself is one
 * of them (when the order leaves it out, or beyond n, it takes the last
 * place); a lone member gets the base model as second voter. Members that
 * do not load are left out, with a message. Returns how many. */
static int32_t ensemble_members(struct cli_engine *e, const struct loco_registry *reg,
                                const struct loco_adapter *a, int32_t n,
                                struct loco_eval_member *out)
{
    const struct loco_adapter_info *ai = loco_adapter_info(a);
    const struct loco_registry_adapter *order[LOCO_EVAL_MAX_MEMBERS];
    int32_t ranks[LOCO_EVAL_MAX_MEMBERS], max = n > 0 ? n : LOCO_EVAL_MAX_MEMBERS, k = 0;
    size_t avail = reg ? cli_ensemble_order(reg, LOCO_SERVE_CANDIDATES, ai->domain, order, ranks,
                                            LOCO_EVAL_MAX_MEMBERS)
                       : 0;
    bool has_a = false;
    for (size_t i = 0; i < avail && k < max; i++) {
        bool is_a = same_file(order[i]->path, ai->path);
        if ((is_a && has_a) || (!is_a && !has_a && k == max - 1))
            continue; /* registered twice under one file; or the last place is a's */
        const struct loco_adapter *m = is_a ? a : cli_engine_load_adapter(e, order[i]->path);
        if (!m) {
            fprintf(stderr, "loco eval: ensemble: %s does not load here and does not vote\n",
                    order[i]->name);
            continue;
        }
        has_a = has_a || is_a;
        out[k++] = (struct loco_eval_member){order[i]->name, m, ranks[i]};
    }
    if (!has_a)
        out[k++] = (struct loco_eval_member){ai->name, a, 0};
    if (k == 1) { /* as in ask: the base model votes too */
        fprintf(stderr, "loco eval: ensemble: %s is the only adapter of the %s domain; the "
                        "base model votes too\n",
                ai->name, ai->domain);
        out[k++] = (struct loco_eval_member){"base model", NULL, 0};
    }
    return k;
}

/* The ensemble's members under the table: each member's score alone, the
 * items its answer won, its ranks, and what its answers cost here. */
static void print_members(const struct loco_eval_bench *b)
{
    if (!b->n_members)
        return;
    printf("%s ensemble of %d (a tie goes to the earliest):\n", b->name, (int)b->n_members);
    for (int32_t m = 0; m < b->n_members; m++) {
        const struct loco_eval_member_result *r = &b->members[m];
        char rank[16] = "unranked";
        if (r->rank > 0)
            snprintf(rank, sizeof rank, "#%d", (int)r->rank);
        printf("  %d. %s (%s): alone %.3f, chosen on %zu of %zu items; %.0f s, %zu of %zu "
               "answers cached\n",
               (int)m + 1, r->name, rank, r->score, r->n_won, b->n, r->gen_ms / 1e3, r->n_cached,
               b->n);
    }
}

/* --engine and its options: what they go with, the kind, the key. The
 * record_in an engine's run records in ("none": its scores are not this
 * system's; an explicit user|project is refused). False (and a message)
 * when refused. */
static bool engine_flags(const struct cli_option *opts, struct loco_eval_params *p,
                         const char *kind, int parallel, const char **record_in)
{
    bool flags = kind || p->engine.api_key || cli_opt_seen(opts, "engine-parallel");
    const char *why = !p->engine.url && flags
                          ? "--engine-kind, --engine-key and --engine-parallel go with --engine"
                      : !p->engine.url ? NULL
                      : cli_opt_seen(opts, "swarm") || cli_opt_seen(opts, "rescore") ||
                              cli_opt_seen(opts, "regate") || cli_opt_seen(opts, "plan")
                          ? "--engine answers an adapter's evaluation: no --swarm, --rescore, "
                            "--regate or --plan (they generate nothing, or route here)"
                      : cli_opt_seen(opts, "slots")
                          ? "--slots sets the local sequences; with --engine use "
                            "--engine-parallel N"
                      : cli_opt_seen(opts, "record-in") && strcmp(*record_in, "none")
                          ? "--engine: the scores are the engine's, not this system's; they "
                            "are not recorded in the registry (the record at --out says which "
                            "engine answered)"
                          : NULL;
    if (why) {
        fprintf(stderr, "loco eval: %s (see loco eval --help)\n", why);
        return false;
    }
    if (!p->engine.url)
        return true;
    if (kind && loco_remote_kind_parse(kind, &p->engine.kind) != LOCO_OK) {
        fprintf(stderr, "loco eval: --engine-kind: %s\n", loco_error_message());
        return false;
    }
    const char *key = getenv("LOCO_ENGINE_KEY");
    if (!p->engine.api_key && key && key[0])
        p->engine.api_key = key;
    p->engine.parallel = parallel;
    *record_in = "none";
    return true;
}

/* Connect to the engine once, before any work: the kind, the model names
 * each side is asked for (into info and p), and what it will not say. */
static bool engine_probe(struct loco_eval_params *p, const struct loco_adapter *a, double scale,
                         struct loco_eval_record_info *info)
{
    if (loco_eval_engine_probe(p, a, (float)scale, info, &p->engine.kind) != LOCO_OK) {
        cli_fail("cannot evaluate on the engine");
        return false;
    }
    fprintf(stderr, "loco eval: answers from the %s engine at %s (base: %s, adapter: %s)\n",
            info->engine_kind, info->engine_url, info->engine_base_model,
            info->engine_adapter_model);
    return true;
}

int cmd_eval(int argc, char **argv)
{
    struct cli_engine_opts o;
    cli_engine_defaults(&o);
    o.gen.max_tokens = 0; /* 0: each benchmark's own answer length */
    struct loco_eval_params p = loco_eval_default_params();
    const char *env_shared = getenv("LOCO_SHARED_DIR");
    if (env_shared && env_shared[0])
        p.shared_dir = env_shared;
    const char *benches[MAX_BENCH], *out_path = NULL, *record_in = NULL, *registry = NULL;
    struct cli_strs bench_list = {benches, 0, MAX_BENCH};
    bool json = false, no_cache = false, archive = false, no_contam = false, swarm = false,
         omit_prompts = false, serve_candidates = false;
    const char *routers[8];
    struct cli_strs router_list = {routers, 0, 8};
    const char *in_domain_flag = NULL, *regate_path = NULL, *rescore_path = NULL;
    const char *pair_first = NULL; /* --pair: the first record's side */
    const char *cache_flag = NULL, *rubric = NULL, *strategy = NULL;
    bool dry_run = false, verbose = false; /* --rescore */
    struct plan_opts po = {false, 0.05, 0.8, NAN};
    double scale = 1.0;
    int limit = 0, shots = 0, samples = 1, judgments = 3;
    const char *engine_kind = NULL; /* --engine-kind */
    int engine_parallel = LOCO_EVAL_ENGINE_PARALLEL;
    char cache_path[4200] = "", slots_help[128];
    snprintf(slots_help, sizeof slots_help, "sequences generated at once (default 4, at most %d)",
             LOCO_EVAL_MAX_SLOTS);
    struct cli_option opts[] = {
        CLI_OPT_LIST(0, "bench", &bench_list, "NAME",
                     "gsm8k, gsm8k-pot, mbpp, humaneval, summarisation,\n"
                     "arc-easy, arc-challenge, judge, judge-roleplay, or FILE.jsonl\n"
                     "(exact_match, numeric, regex, rouge, code_execution or\n"
                     "llm_judge items; docs/benchmarks.md)\n"
                     "(repeatable; default: the adapter's domain's benchmark,\n"
                     "then each registry domain's primary benchmark that scores\n"
                     "itself: gsm8k, mbpp, summarisation)"),
        CLI_OPT_INT(0, "limit", &limit, "N", 1, 1 << 24, "first N items of each benchmark"),
        CLI_OPT_STRING(0, "strategy", &strategy, "S",
                       "compare the adapter answering plain with the adapter\n"
                       "answering with strategy S (re2, calc, re2+calc, sc:K,\n"
                       "usc:K; they sample at --temperature, default 0.8;\n"
                       "ensemble[:N]: the domain's adapters, candidates included,\n"
                       "each answering plain, then the vote) on the same items,\n"
                       "instead of the base model with the adapter; the scores\n"
                       "are not recorded in the registry (docs/strategies.md)"),
        CLI_OPT_INT(0, "shots", &shots, "K", 0, LOCO_EVAL_MAX_SHOTS,
                    "gsm8k: the first K train problems with worked answers as\n"
                    "earlier chat turns (default 0: zero-shot)"),
        CLI_OPT_INT(0, "samples", &samples, "N", 1, LOCO_EVAL_MAX_SAMPLES,
                    "mbpp, humaneval, custom code: N sampled answers per item\n"
                    "and side; items score c/N (Wilcoxon) and pass@k is\n"
                    "reported (unbiased estimator). Default 1: greedy pass@1"),
        CLI_OPT_FLOAT(0, "temperature", &p.temperature, "T", 0.01, 5,
                      "sampling temperature with --samples (default 0.8; top-p 0.95)"),
        CLI_OPT_U64(0, "seed", &p.seed, "S", "seeds sampled answers and judgments (default 1)"),
        CLI_OPT_STRING(0, "judge-rubric", &rubric, "R",
                       "judge benchmarks: mtbench (ratings 1-10, default) or\n"
                       "prometheus (1-5); a score is (rating - 1) / (max - 1)"),
        CLI_OPT_INT(0, "judgments", &judgments, "N", 1, LOCO_JUDGE_MAX_JUDGMENTS,
                    "judgments per answer, each its own seed (default 3)"),
        CLI_OPT_STRING(0, "judge-url", &p.judge.url, "URL",
                       "judge with an OpenAI-compatible endpoint (e.g.\n"
                       "http://localhost:8080/v1) instead of the base model;\n"
                       "API key from $LOCO_JUDGE_API_KEY"),
        CLI_OPT_STRING(0, "judge-model", &p.judge.model, "NAME",
                       "the endpoint's model (needed with --judge-url)"),
        CLI_OPT_INT(0, "slots", &p.slots, "N", 1, LOCO_EVAL_MAX_SLOTS, slots_help),
        CLI_OPT_DOUBLE(0, "scale", &scale, "S", -100, 100, "adapter scale (default 1)"),
        CLI_OPT_STRING(0, "cache", &cache_flag, "FILE",
                       "generation cache (default ~/.cache/locollm/eval-cache.sqlite)"),
        CLI_OPT_FLAG(0, "no-cache", &no_cache, "generate everything again"),
        CLI_OPT_STRING(0, "shared", &p.shared_dir, "DIR",
                       "the shared data folder (default $LOCO_SHARED_DIR or ../shared)"),
        CLI_OPT_STRING(0, "out", &out_path, "FILE", "write the JSON record (every item) there"),
        CLI_OPT_INT(0, "max-tokens", &o.gen.max_tokens, "N", 1, 1 << 20,
                    "answer length (default: each benchmark's own)"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_CHOICE(0, "record-in", &record_in, "user|project|none",
                       "with --out: record the scores (and the record's path)\n"
                       "in the registry's user overlay (default), the project\n"
                       "file (or the --registry FILE, the default with it), or\n"
                       "nowhere, for an adapter the registry knows\n"
                       "(--registry user|project|none is the old spelling)"),
        CLI_OPT_FLAG(0, "json", &json, "print the record instead of the table"),
        CLI_OPT_FLAG(0, "omit-prompts", &omit_prompts,
                     "leave the items' prompts out of the record (their ids\n"
                     "name the dataset records: for records kept in a\n"
                     "repository without copying the datasets)"),
        CLI_OPT_FLAG(0, "archive", &archive,
                     "with --out: also file the record (and its reports) under\n"
                     "results/<semester>/ ($LOCO_RESULTS_DIR overrides)"),
        CLI_OPT_STRING(0, "in-domain", &in_domain_flag, "DOMAIN",
                       "the custom FILE.jsonl benchmarks belong to DOMAIN (overrides\n"
                       "a file's header): superiority for an adapter of DOMAIN"),
        CLI_OPT_GROUP("planned n and reruns (a record file keeps every run; the first run of a "
                      "benchmark\ndecides its gate, a rerun says it is one and keeps that "
                      "verdict):"),
        CLI_OPT_FLAG(0, "plan", &po.on,
                     "report the n each benchmark needs (nothing is run); with\n"
                     "--out, record the plan in that record file"),
        CLI_OPT_DOUBLE(0, "effect", &po.effect, "E", 1e-4, 0.9999,
                       "the smallest gain worth finding (superiority; default 0.05);\n"
                       "non-inferiority plans for the margin (0.05)"),
        CLI_OPT_DOUBLE(0, "power", &po.power, "P", 0.05, 0.9999,
                       "the power the plan asks for (default 0.8)"),
        CLI_OPT_DOUBLE(0, "alpha", &p.stats.alpha, "A", 1e-6, 0.5,
                       "significance level of the tests and intervals (default 0.05)"),
        CLI_OPT_DOUBLE(0, "sd", &po.sd, "S", 1e-6, 10,
                       "the sd of per-item differences for scored benchmarks, when\n"
                       "no earlier record has one (default: assumed 0.5)"),
        CLI_OPT_STRING(0, "regate", &regate_path, "RECORD.json",
                       "decide the record's gates again by the current rules from\n"
                       "its stored statistics (nothing is generated) and rewrite it\n"
                       "and its reports"),
        CLI_OPT_STRING(0, "rescore", &rescore_path, "RECORD.json",
                       "score the record's stored answers again with the current\n"
                       "scorers (nothing is generated; judged benchmarks keep\n"
                       "their judgments), recompute the statistics and verdicts,\n"
                       "print what changed and rewrite it and its reports;\n"
                       "--bench FILE.jsonl names a custom benchmark it holds"),
        CLI_OPT_STRING(0, "pair", &pair_first, "RECORD.json:SIDE",
                       "compare one side (base or adapter; a strategy record's\n"
                       "plain answers are its base side) of a stored record with\n"
                       "a side of the record named after the options, item by\n"
                       "item, with the tests its runs used (nothing is generated;\n"
                       "items the runs left out stay out)"),
        CLI_OPT_FLAG(0, "dry-run", &dry_run, "with --rescore: write nothing"),
        CLI_OPT_FLAG(0, "verbose", &verbose, "with --rescore: list the changed items"),
        CLI_OPT_GROUP("contamination (the prompts against the adapter's training data, read "
                      "through\nits recipe: the registry's provenance.recipe or recipe.yaml "
                      "beside the adapter):"),
        CLI_OPT_DOUBLE(0, "contam-threshold", &p.contam_threshold, "F", 0, 1,
                       "flag an item when this fraction of its 13-grams occurs\n"
                       "in the training data (default 0: any one; exact copies\n"
                       "always); a flagged item fails the benchmark's gate"),
        CLI_OPT_FLAG(0, "decontaminate", &p.decontaminate,
                     "score only the unflagged items instead (both sides)"),
        CLI_OPT_FLAG(0, "no-contam", &no_contam, "skip the check"),
        CLI_OPT_GROUP("the routed system (--swarm): over the domains' benchmarks, every item "
                      "answered\nby the adapter of its own domain (oracle), by the adapter each "
                      "router picks, by\nthe base model, and by a random domain; mean scores, "
                      "differences from the base\nmodel with 95% intervals, routing accuracy and "
                      "the composite"),
        CLI_OPT_FLAG(0, "swarm", &swarm, "score the routed system instead of one adapter"),
        CLI_OPT_LIST(0, "router", &router_list, "NAME",
                     "a router to compare (repeatable; default keyword,\nclassifier)"),
        CLI_SERVE_OPTION(&serve_candidates),
        CLI_OPT_GROUP("the answers' engine (docs/scale-out.md): items, prompts, the cache, "
                      "scoring,\njudging, statistics and the record stay here; both sides' "
                      "answers are\ngenerated there (greedy: temperature 0; sampled: seeded)"),
        CLI_OPT_STRING(0, "engine", &p.engine.url, "URL",
                       "generate on this OpenAI-compatible engine (vLLM,\n"
                       "llama-server, loco serve), asked for the base model and\n"
                       "the adapter by name; not with calc, re2+calc, usc:K or\n"
                       "--chat-template; scores not recorded in the registry"),
        CLI_OPT_STRING(0, "engine-kind", &engine_kind, "K",
                       "auto, openai, vllm, llama-server or loco (default: auto)"),
        CLI_OPT_STRING(0, "engine-key", &p.engine.api_key, "KEY",
                       "API key sent as Bearer (default: $LOCO_ENGINE_KEY)"),
        CLI_OPT_INT(0, "engine-parallel", &engine_parallel, "N", 1, LOCO_EVAL_MAX_ENGINE_PARALLEL,
                    "requests in flight (default 4)"),
        CLI_ENGINE_MODEL_OPTIONS(&o),
        CLI_OPT_STRING(0, "chat-template", &o.chat_template, "NAME",
                       "chatml, gemma, llama3 or phi3 (default: from the model)"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"eval", eval_usage, eval_epilog, opts, 1, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    const char *adapter = n_args ? argv[0] : NULL;
    size_t n_bench = bench_list.n, n_routers = router_list.n;
    bool temperature_set = cli_opt_seen(opts, "temperature") > 0;
    bool plan_knobs =
        cli_opt_seen(opts, "effect") || cli_opt_seen(opts, "power") || cli_opt_seen(opts, "sd");
    if (cli_opt_seen(opts, "limit"))
        p.limit = (size_t)limit;
    if (cli_opt_seen(opts, "shots"))
        p.shots = (uint32_t)shots;
    if (cli_opt_seen(opts, "samples"))
        p.samples = (uint32_t)samples;
    if (cli_opt_seen(opts, "judgments"))
        p.judge.n_judgments = (uint32_t)judgments;
    if (cache_flag)
        snprintf(cache_path, sizeof cache_path, "%s", cache_flag);
    if (rubric && loco_judge_rubric_parse(rubric, &p.judge.rubric) != LOCO_OK) {
        fprintf(stderr, "loco eval: --judge-rubric: %s\n", loco_error_message());
        return 2;
    }
    if (registry && is_choice_word(registry)) { /* the old --registry user|project|none */
        if (record_in) {
            fprintf(stderr, "loco eval: --registry %s is the old --record-in; give one\n",
                    registry);
            return 2;
        }
        record_in = registry;
        registry = NULL;
    }
    if (registry && record_in && !strcmp(record_in, "user")) {
        fprintf(stderr, "loco eval: --record-in user: --registry FILE reads no user overlay "
                        "(the scores go to FILE)\n");
        return 2;
    }
    if (!record_in)
        record_in = registry ? "project" : "user";
    if (!engine_flags(opts, &p, engine_kind, engine_parallel, &record_in))
        return 2;
    if (pair_first) {
        static const char *const pair_opts[] = {"pair", "bench", "json", "alpha", NULL};
        const char *other = pair_other_option(opts, pair_opts);
        if (n_args != 1 || n_bench > 1 || other) {
            fprintf(stderr, "loco eval --pair A.json:SIDE B.json:SIDE: two records and at most "
                            "--bench NAME, --json and --alpha A%s%s (it compares stored "
                            "answers; nothing is run or written)\n",
                    other ? ", not --" : "", other ? other : "");
            return 2;
        }
        /* without --alpha the first record's own settings */
        return eval_pair(pair_first, argv[0], n_bench ? benches[0] : NULL,
                         cli_opt_seen(opts, "alpha") ? &p.stats : NULL, json);
    }
    if (regate_path) {
        if (adapter || swarm || po.on) {
            fprintf(stderr, "loco eval --regate RECORD: no adapter, --swarm or --plan (it "
                            "re-decides a stored record)\n");
            return 2;
        }
        return regate(regate_path);
    }
    if (rescore_path && (adapter || swarm || po.on)) {
        fprintf(stderr, "loco eval --rescore RECORD: no adapter, --swarm or --plan (it "
                        "re-scores a stored record)\n");
        return 2;
    }
    if (strategy) {
        if (loco_strategy_parse(strategy, &p.strategy) != LOCO_OK) {
            fprintf(stderr, "loco eval: --strategy: %s\n", loco_error_message());
            return 2;
        }
        if (p.strategy.kind == LOCO_STRATEGY_ENSEMBLE &&
            !ensemble_flags(opts, adapter, strategy, serve_candidates))
            return 2;
        if (swarm || rescore_path || (cli_opt_seen(opts, "record-in") &&
                                      strcmp(record_in, "none"))) {
            fprintf(stderr, "loco eval --strategy: no --swarm, --rescore or --record-in "
                            "user|project (a strategy's scores are not an adapter's)\n");
            return 2;
        }
        record_in = "none";
    }
    if (rescore_path)
        return eval_rescore(rescore_path, &p, benches, n_bench, dry_run, verbose);
    if (dry_run || verbose) {
        fprintf(stderr, "loco eval: --dry-run and --verbose go with --rescore\n");
        return 2;
    }
    bool any_custom = false;
    for (size_t b = 0; b < n_bench; b++)
        any_custom = any_custom || is_custom_file(benches[b]);
    if (in_domain_flag && !any_custom) {
        fprintf(stderr, "loco eval: --in-domain declares custom FILE.jsonl benchmarks; name "
                        "one with --bench\n");
        return 2;
    }
    if (!po.on && plan_knobs) {
        fprintf(stderr, "loco eval: --effect, --power and --sd go with --plan\n");
        return 2;
    }
    if (po.on && (swarm || json || archive)) {
        fprintf(stderr, "loco eval --plan: no --swarm, --json or --archive (it runs nothing)\n");
        return 2;
    }
    if (!adapter && !swarm) {
        fprintf(stderr, "loco eval: name one adapter (see loco eval --help)\n");
        return 2;
    }
    if (swarm && (adapter || archive || json)) {
        fprintf(stderr, "loco eval --swarm: no adapter, --archive or --json (it compares the "
                        "registry's adapters under each router)\n");
        return 2;
    }
    if ((n_routers || serve_candidates) && !swarm) {
        fprintf(stderr, "loco eval: --router and --serve-candidates go with --swarm\n");
        return 2;
    }
    if (!check_options(&p, benches, n_bench, temperature_set))
        return 2;
    if (archive && !out_path) {
        fprintf(stderr, "loco eval: --archive files the record written by --out FILE\n");
        return 2;
    }
    if (no_contam && p.decontaminate) {
        fprintf(stderr, "loco eval: --decontaminate needs the contamination check (drop "
                        "--no-contam)\n");
        return 2;
    }
    const char *key = getenv("LOCO_JUDGE_API_KEY");
    p.judge.api_key = key && key[0] ? key : NULL;
    if (!no_cache && !cache_path[0] && default_cache(cache_path, sizeof cache_path)) {
        cli_fail("no place for the evaluation cache (use --cache FILE or --no-cache)");
        return 1;
    }
    p.cache_path = no_cache ? NULL : cache_path;
    p.threads = o.threads;
    p.max_tokens = o.gen.max_tokens;
    p.chat_template = o.chat_template;
    o.adapters = adapter;
    struct cli_engine e;
    if (!cli_engine_open(&e, &o))
        return 1;
    if (swarm) {
        struct eval_swarm_opts so = {.benches = benches,
                                     .n_bench = n_bench,
                                     .routers = routers,
                                     .n_routers = n_routers,
                                     .seed = p.seed,
                                     .out_path = out_path,
                                     .contam = !no_contam,
                                     .registry = registry,
                                     .serve = serve_candidates ? LOCO_SERVE_CANDIDATES
                                                               : LOCO_SERVE_REGISTRY};
        int rc = eval_swarm(&e, &p, &so);
        cli_engine_close(&e);
        return rc;
    }
    const struct loco_adapter *a = e.set[0].adapter;
    struct loco_adapter_ref also[LOCO_MAX_SET_ADAPTERS];
    if (e.n_set > 1)
        record_in = "none"; /* a run-time set: its scores are no one adapter's */
    scale = eval_set_params(&e, scale, also, &p);
    const char *domain = loco_adapter_info(a)->domain;
    struct loco_registry_params rp = cli_registry_params(registry);
    struct loco_registry *reg = loco_registry_load(&rp); /* NULL: no registry, fine */
    struct loco_eval_record_info info;
    if (loco_eval_record_info_fill(&info, e.model, e.path, a, (float)scale) != LOCO_OK) {
        loco_registry_free(reg);
        cli_engine_close(&e);
        return cli_fail("cannot read the model and adapter for the record");
    }
    info.omit_prompts = omit_prompts;
    if (e.n_set > 1)
        eval_set_info(&info, &e, adapter);
    struct loco_eval_member members[LOCO_EVAL_MAX_MEMBERS];
    if (p.strategy.kind == LOCO_STRATEGY_ENSEMBLE) {
        p.members = members;
        p.n_members = ensemble_members(&e, reg, a, p.strategy.k, members);
    }
    if (p.engine.url && !engine_probe(&p, a, scale, &info)) {
        loco_registry_free(reg);
        cli_engine_close(&e);
        return 1;
    }
    struct loco_contam_index *ix = NULL;
    if (no_contam)
        snprintf(info.contam_why, sizeof info.contam_why, "--no-contam");
    else if (!(ix = contam_index(&e, reg, loco_adapter_info(a), p.shared_dir, &info)))
        fprintf(stderr, "loco eval: contamination not checked: %s\n", info.contam_why);
    else
        fprintf(stderr, "loco eval: contamination check against %zu training examples (%s)\n",
                info.contam_examples, info.contam_recipe);
    p.contam = ix;
    if (n_bench == 0)
        n_bench = loco_eval_default_benches(reg, domain, benches, MAX_BENCH);
    struct loco_eval_bench results[MAX_BENCH];
    char st_name[LOCO_STRATEGY_NAME_MAX];
    loco_strategy_name(&p.strategy, st_name, sizeof st_name);
    bool with_strategy = p.strategy.kind != LOCO_STRATEGY_PLAIN;
    struct progress pr = {loco_time_ms(),
                          isatty(STDERR_FILENO),
                          {with_strategy ? "plain" : "base", with_strategy ? st_name : "adapter"}};
    int status = 0;
    size_t done = 0;
    bool in_domain[MAX_BENCH];
    for (size_t b = 0; b < n_bench && !status; b++) {
        char *file_domain = NULL;
        bool binary, custom = is_custom_file(benches[b]);
        size_t n_items;
        if (custom && !in_domain_flag &&
            loco_eval_bench_info(benches[b], &p, &binary, &n_items, &file_domain) != LOCO_OK)
            status = cli_fail("cannot read the benchmark");
        in_domain[b] = loco_eval_bench_in_domain(reg, domain, benches[b],
                                                 !custom          ? NULL
                                                 : in_domain_flag ? in_domain_flag
                                                                  : file_domain);
        free(file_domain);
    }
    if (po.on && !status) {
        char *head = loco_eval_record_json(&info, &p, results, 0);
        status = head ? plan_run(head, &p, &po, benches, in_domain, n_bench, reg,
                                 loco_adapter_info(a)->name, out_path)
                      : cli_fail("out of memory");
        free(head);
        n_bench = 0; /* a plan runs nothing */
    }
    for (size_t b = 0; b < n_bench && !status; b++) {
        if (loco_eval_bench_run(e.model, a, (float)scale, benches[b], in_domain[b], &p, on_progress,
                                &pr, &results[done]) != LOCO_OK)
            status = cli_fail("evaluation failed");
        else
            done++;
    }
    if (!status && !po.on) {
        char *rec = loco_eval_record_json(&info, &p, results, done);
        char *merged = NULL, note[4096] = "";
        if (rec && out_path) { /* the record file keeps every run */
            char *previous = read_existing(out_path);
            if (loco_eval_record_merge(previous, rec, NULL, &merged, note, sizeof note) != LOCO_OK)
                status = cli_fail("cannot merge the record with the one at --out");
            else
                status = keep_superseded(out_path, previous, rec);
            free(previous);
        }
        const char *final = merged ? merged : rec;
        if (json && final)
            puts(final);
        else
            print_sides(results, done, info.adapter_name, &p.strategy);
        for (size_t b = 0; !json && b < done; b++)
            print_members(&results[b]);
        if (!json && info.engine_kind[0])
            printf("\nAnswers generated by the %s engine at %s (%s, %s); scores not recorded "
                   "in the registry.\n",
                   info.engine_kind, info.engine_url, info.engine_base_model,
                   info.engine_adapter_model);
        if (note[0])
            fprintf(json ? stderr : stdout, "\n%s", note);
        if (!rec)
            status = cli_fail("out of memory for the record");
        enum loco_gate_verdict decided[MAX_BENCH];
        loco_eval_record_verdicts(final, results, done, decided);
        if (out_path && final && !status) {
            status = write_outputs(out_path, final, archive, json);
            if (!status && strcmp(record_in, "none"))
                status = record_scores(reg, registry, loco_adapter_info(a)->name, out_path,
                                       record_in, results, done, decided);
        }
        if (final && !status)
            status = gate_status(results, done, decided);
        free(merged);
        free(rec);
    }
    for (size_t b = 0; b < done; b++)
        loco_eval_bench_free(&results[b]);
    loco_contam_index_free(ix);
    loco_registry_free(reg);
    cli_engine_close(&e);
    return status;
}
