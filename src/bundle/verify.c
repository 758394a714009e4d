/*
 * verify.c - `loco adapters verify`: the submission checklist decided from
 * the bundle's own files (loco/bundle.h lists the checks).
 *
 * Nothing is re-derived here: the entry goes through the registry
 * validator (loco_registry_load_file + loco_registry_check_files) inside a
 * registry made of the project's base model and the bundle's domain, and
 * the records' gates are decided again by the evaluation harness's own
 * loco_eval_record_regate, so a bundle is held to today's rules whatever
 * loco wrote it. Every file read comes from the private folder
 * loco_bundle_extract made, and only files it extracted and the manifest
 * lists are opened.
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json_get.h"
#include "core/util.h"
#include "loco/bundle.h"
#include "loco/eval.h"
#include "loco/report.h"
#include "loco/stats.h"
#include "loco/trainrun.h"

/* What the checks share. */
struct verify {
    const struct loco_registry *project;
    struct loco_bundle_contents c;
    struct loco_bundle_manifest m;
    cJSON *entry; /* the manifest's registry entry */
    const struct loco_registry_domain *domain;
    struct loco_bundle_verify_result *res;
};

const char *loco_bundle_check_status_name(enum loco_bundle_check_status s)
{
    return s == LOCO_BUNDLE_PASS ? "PASS" : s == LOCO_BUNDLE_WARN ? "WARN" : "FAIL";
}

struct loco_bundle_verify_params loco_bundle_verify_default_params(void)
{
    return (struct loco_bundle_verify_params){.tmp_dir = NULL,
                                              .limits = loco_bundle_default_limits()};
}

__attribute__((format(printf, 4, 5))) static void check(struct loco_bundle_verify_result *res,
                                                        const char *name,
                                                        enum loco_bundle_check_status st,
                                                        const char *fmt, ...)
{
    if (res->n_checks >= LOCO_BUNDLE_MAX_CHECKS)
        return;
    struct loco_bundle_check *c = &res->checks[res->n_checks++];
    c->name = name;
    c->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof c->reason, fmt, ap);
    va_end(ap);
    if (st == LOCO_BUNDLE_FAIL)
        res->ok = false;
}

/* Append to a reason being built. */
__attribute__((format(printf, 3, 4))) static void add(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* The text of extracted file `path` (malloc'd) or NULL. */
static char *read_entry(const struct verify *v, const char *path, size_t max)
{
    if (!loco_bundle_contents_find(&v->c, path))
        return NULL;
    char full[4096 + LOCO_BUNDLE_PATH_MAX + 2], *text = NULL;
    snprintf(full, sizeof full, "%s/%s", v->c.dir, path);
    return loco_read_regular_file(full, max, &text, NULL) == LOCO_OK ? text : NULL;
}

/* ---- files: the manifest against what the zip holds ------------------------------- */

/* Each listed file against the one extracted, and each extracted file
 * against the list: what differs is appended to why. */
static void listed_vs_found(const struct verify *v, char *why, size_t cap)
{
    for (size_t i = 0; i < v->m.n_files; i++) {
        const struct loco_bundle_file *want = &v->m.files[i];
        const struct loco_bundle_file *got = loco_bundle_contents_find(&v->c, want->path);
        if (!got)
            add(why, cap, "%s is missing; ", want->path);
        else if (got->size != want->size || strcmp(got->sha256, want->sha256))
            add(why, cap,
                "%s does not match the manifest (sha256 %.12s..., %llu bytes; "
                "manifest %.12s..., %llu bytes); ",
                want->path, got->sha256, (unsigned long long)got->size, want->sha256,
                (unsigned long long)want->size);
    }
    for (size_t i = 0; i < v->c.n_files; i++) {
        const char *p = v->c.files[i].path;
        bool listed = !strcmp(p, LOCO_BUNDLE_MANIFEST);
        for (size_t j = 0; !listed && j < v->m.n_files; j++)
            listed = !strcmp(v->m.files[j].path, p);
        if (!listed)
            add(why, cap, "%s is in the zip but not in the manifest; ", p);
    }
}

/* The manifest names its adapter file, with the sha256 it states, and an
 * entry that parses. */
static void adapter_and_entry(const struct verify *v, char *why, size_t cap)
{
    const struct loco_bundle_file *ad = NULL;
    for (size_t i = 0; i < v->m.n_files; i++)
        if (!strcmp(v->m.files[i].role, "adapter"))
            ad = &v->m.files[i];
    if (!ad)
        add(why, cap, "the manifest names no adapter file; ");
    else if (strcmp(ad->sha256, v->m.adapter_sha256))
        add(why, cap, "adapter_sha256 is not the adapter file's sha256; ");
    const char *name = loco_json_string(v->entry, "name");
    const char *domain = loco_json_string(v->entry, "domain");
    if (!cJSON_IsObject(v->entry))
        add(why, cap, "the registry entry does not parse; ");
    else if (!name || !domain || strcmp(name, v->m.name) || strcmp(domain, v->m.domain))
        add(why, cap, "the registry entry's name or domain is not the manifest's (%s, %s); ",
            v->m.name, v->m.domain);
}

static bool check_files(struct verify *v)
{
    char *text = read_entry(v, LOCO_BUNDLE_MANIFEST, LOCO_BUNDLE_MAX_MANIFEST_BYTES);
    if (!text) {
        check(v->res, "files", LOCO_BUNDLE_FAIL,
              "no readable " LOCO_BUNDLE_MANIFEST ": not a bundle made by `loco adapters pack`");
        return false;
    }
    int rc = loco_bundle_manifest_parse(text, &v->m);
    free(text);
    if (rc != LOCO_OK) {
        check(v->res, "files", LOCO_BUNDLE_FAIL, "%s", loco_error_message());
        return false;
    }
    snprintf(v->res->name, sizeof v->res->name, "%s", v->m.name);
    v->entry = cJSON_Parse(v->m.entry_json);
    char why[1400] = "";
    listed_vs_found(v, why, sizeof why);
    adapter_and_entry(v, why, sizeof why);
    if (why[0]) {
        why[strlen(why) - 2] = '\0';
        check(v->res, "files", LOCO_BUNDLE_FAIL,
              "%s: the bundle was changed after packing; pack it again", why);
        return false;
    }
    check(v->res, "files", LOCO_BUNDLE_PASS, "%zu files match the manifest's sha256 and size",
          v->m.n_files);
    return true;
}

/* ---- base ----------------------------------------------------------------------------- */

static void check_base(struct verify *v)
{
    const struct loco_registry_base *b = loco_registry_base(v->project);
    const char *entry_base = loco_json_string(v->entry, "base_sha256");
    if (!entry_base || strcmp(entry_base, v->m.base_sha256))
        check(v->res, "base", LOCO_BUNDLE_FAIL,
              "the manifest's base_sha256 %.12s... is not the registry entry's (%.12s...)",
              v->m.base_sha256, entry_base ? entry_base : "none");
    else if (strcmp(v->m.base_sha256, b->sha256))
        check(v->res, "base", LOCO_BUNDLE_FAIL,
              "trained for base %.12s..., but the project's base model is %s (%.12s...): "
              "retrain the adapter on %s (loco train), evaluate and pack it again",
              v->m.base_sha256, b->name, b->sha256, b->file);
    else
        check(v->res, "base", LOCO_BUNDLE_PASS,
              "trained for the project's base model %s (%.12s...)", b->name, b->sha256);
}

/* ---- registry: the validator on a registry holding the entry --------------------------- */

static cJSON *domain_json(const struct loco_registry_domain *d)
{
    cJSON *o = cJSON_CreateObject();
    if (d->description[0])
        cJSON_AddStringToObject(o, "description", d->description);
    cJSON_AddStringToObject(o, "primary_benchmark", d->primary_benchmark);
    cJSON *bs = cJSON_AddArrayToObject(o, "benchmarks");
    for (size_t i = 0; i < d->benchmarks.n; i++)
        cJSON_AddItemToArray(bs, cJSON_CreateString(d->benchmarks.v[i]));
    if (d->strategy[0])
        cJSON_AddStringToObject(o, "strategy", d->strategy);
    if (d->min_vote_share > 0) {
        cJSON_AddNumberToObject(o, "min_vote_share", d->min_vote_share);
        if (d->below_threshold[0])
            cJSON_AddStringToObject(o, "below_threshold", d->below_threshold);
    }
    return o;
}

/* The registry text: JSON is YAML's flow style, so each part is JSON. */
static char *registry_text(const struct verify *v)
{
    const struct loco_registry_base *b = loco_registry_base(v->project);
    cJSON *base = cJSON_CreateObject(), *doms = cJSON_CreateObject();
    cJSON_AddStringToObject(base, "name", b->name);
    cJSON_AddStringToObject(base, "file", b->file);
    cJSON_AddStringToObject(base, "sha256", b->sha256);
    cJSON_AddStringToObject(base, "architecture", b->architecture);
    cJSON_AddStringToObject(base, "academic_year", b->academic_year);
    if (v->domain)
        cJSON_AddItemToObject(doms, v->domain->name, domain_json(v->domain));
    char *bs = cJSON_PrintUnformatted(base), *ds = cJSON_PrintUnformatted(doms);
    char *es = cJSON_PrintUnformatted(v->entry);
    size_t cap = (bs ? strlen(bs) : 0) + (ds ? strlen(ds) : 0) + (es ? strlen(es) : 0) + 128;
    char *text = bs && ds && es ? malloc(cap) : NULL;
    if (text)
        snprintf(text, cap, "schema_version: 2\nbase_model: %s\ndomains: %s\nadapters:\n- %s\n", bs,
                 ds, es);
    free(bs), free(ds), free(es);
    cJSON_Delete(base), cJSON_Delete(doms);
    return text;
}

static int write_registry(const struct verify *v, char *path, size_t cap)
{
    snprintf(path, cap, "%s/adapters/registry.yaml", v->c.dir);
    char *text = registry_text(v);
    int fd = text ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
    bool ok = fd >= 0 && loco_write_all(fd, text, strlen(text));
    if (fd >= 0)
        close(fd);
    free(text);
    return ok ? LOCO_OK
              : loco_error_set(LOCO_ERR_IO, "cannot write the registry to check (the bundle "
                                            "holds adapters/registry.yaml, or no memory)");
}

static void check_registry(struct verify *v)
{
    char path[4096 + 64];
    if (write_registry(v, path, sizeof path) != LOCO_OK) {
        check(v->res, "registry", LOCO_BUNDLE_FAIL, "%s", loco_error_message());
        return;
    }
    struct loco_registry *r = loco_registry_load_file(path, true);
    if (!r) {
        check(v->res, "registry", LOCO_BUNDLE_FAIL, "the entry does not load: %s",
              loco_error_message());
        return;
    }
    size_t n = loco_registry_check_files(r);
    char why[1400] = "";
    for (size_t i = 0; i < n && i < 4; i++) {
        const struct loco_registry_problem *pr = loco_registry_problem_at(r, i);
        add(why, sizeof why, "%s = '%s': %s; ", pr->field, pr->value, pr->message);
    }
    loco_registry_free(r);
    if (n) {
        why[strlen(why) - 2] = '\0';
        check(v->res, "registry", LOCO_BUNDLE_FAIL, "%zu problem(s): %s", n, why);
        return;
    }
    const struct loco_registry_adapter *same = loco_registry_find(v->project, v->m.name);
    if (same && strcmp(same->sha256, v->m.adapter_sha256))
        check(v->res, "registry", LOCO_BUNDLE_WARN,
              "the entry is valid, but the project already has another adapter named %s "
              "(sha256 %.12s...): pick a new name, or bump `version` to replace it",
              v->m.name, same->sha256);
    else
        check(v->res, "registry", LOCO_BUNDLE_PASS,
              "the entry passes `loco registry validate` with its files (adapter hash, GGUF "
              "base, rank, alpha, targets, records)%s",
              same ? "; the project already lists this very file" : "");
}

/* ---- the records: gates, out-of-domain, contamination, reports --------------------------- */

/* The record texts of the bundle, re-gated: cJSON objects, NULL-terminated. */
static size_t load_records(struct verify *v, cJSON **out, const char **paths, char *why, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < v->m.n_files && n < LOCO_BUNDLE_MAX_FILES; i++) {
        if (strcmp(v->m.files[i].role, "record"))
            continue;
        char *text = read_entry(v, v->m.files[i].path, LOCO_REPORT_MAX_RECORD), *regated = NULL;
        if (!text || loco_eval_record_regate(text, &regated, NULL, 0) != LOCO_OK) {
            add(why, cap, "%s is not an evaluation record; ", v->m.files[i].path);
            free(text);
            continue;
        }
        free(text);
        cJSON *o = cJSON_Parse(regated);
        free(regated);
        const char *sha =
            loco_json_string(cJSON_GetObjectItemCaseSensitive(o, "adapter"), "sha256");
        if (!sha || strcmp(sha, v->m.adapter_sha256)) {
            add(why, cap,
                "%s evaluated another adapter file (sha256 %.12s...): evaluate this one; ",
                v->m.files[i].path, sha ? sha : "none");
            cJSON_Delete(o);
            continue;
        }
        paths[n] = v->m.files[i].path;
        out[n++] = o;
    }
    return n;
}

/* The entry's `passed` for `bench`: 1, 0, or -1 when it has no such score. */
static int entry_passed(const struct verify *v, const char *bench)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(v->entry, "scores"))
    {
        const char *b = loco_json_string(s, "benchmark");
        if (b && !strcmp(b, bench))
            return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "passed"));
    }
    return -1;
}

static enum loco_gate_verdict verdict_of(const cJSON *b)
{
    enum loco_gate_verdict v = LOCO_VERDICT_FAIL;
    const char *name = loco_json_string(b, "verdict");
    if (!name || loco_gate_verdict_parse(name, &v) != LOCO_OK)
        v = LOCO_VERDICT_FAIL;
    return v;
}

static bool superiority(const cJSON *b)
{
    const char *g = loco_json_string(b, "gate");
    return g && !strcmp(g, "superiority");
}

/* The n that decided benchmark b of record rec: the deciding run's
 * (a rerun keeps the first run's verdict), else b's own. */
static double decided_n(const cJSON *rec, const cJSON *b, const char *name)
{
    double by = loco_json_number(b, "decided_by_run");
    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(rec, "runs"))
    {
        if (!isfinite(by) || loco_json_number(run, "run") != by)
            continue;
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(run, "benchmarks"))
        {
            const char *n = loco_json_string(x, "benchmark");
            if (n && !strcmp(n, name) && isfinite(loco_json_number(x, "n_used")))
                return loco_json_number(x, "n_used");
        }
    }
    return loco_json_number(b, "n_used");
}

/* The primary benchmark's gate. */
static void check_gate(struct verify *v, cJSON **recs, size_t n)
{
    const char *primary = v->domain ? v->domain->primary_benchmark : NULL;
    if (!primary) {
        check(v->res, "gate", LOCO_BUNDLE_FAIL,
              "domain %s is not in the project registry, so its primary benchmark is unknown: "
              "add the domain to adapters/registry.yaml in the pull request",
              v->m.domain);
        return;
    }
    const cJSON *b = NULL, *rec = NULL;
    for (size_t i = 0; i < n && !b; i++) {
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(recs[i], "benchmarks"))
        {
            const char *name = loco_json_string(x, "benchmark");
            if (name && !strcmp(name, primary) && superiority(x)) {
                b = x;
                rec = recs[i];
                break;
            }
        }
    }
    if (!b) {
        check(v->res, "gate", LOCO_BUNDLE_FAIL,
              "no record of this adapter file holds %s (the domain's primary benchmark) under the "
              "superiority gate: run `loco eval %s --bench %s --out ...` and pack again",
              primary, v->m.name, primary);
        return;
    }
    enum loco_gate_verdict vd = verdict_of(b);
    double n_used = decided_n(rec, b, primary), planned = loco_json_number(b, "planned_n");
    double p = loco_json_number(b, "p_value"), diff = loco_json_number(b, "diff");
    const char *why = loco_json_string(b, "why");
    int claimed = entry_passed(v, primary);
    if (vd != LOCO_VERDICT_PASS)
        check(v->res, "gate", LOCO_BUNDLE_FAIL,
              "%s: %s on the superiority gate (%s; diff %+.3f, p = %.3g, n = %.0f): the adapter "
              "does not beat the base model significantly",
              primary, loco_gate_verdict_name(vd), why ? why : "no reason recorded", diff, p,
              n_used);
    else if (claimed <= 0)
        check(v->res, "gate", LOCO_BUNDLE_FAIL,
              "%s passed in the record, but the registry entry %s: take the scores from the "
              "record (loco eval writes them)",
              primary, claimed ? "has no score for it" : "says passed: false");
    else if (isfinite(planned) && !(n_used >= planned))
        check(v->res, "gate", LOCO_BUNDLE_FAIL,
              "%s: significant gain (diff %+.3f, p = %.3g), but decided on n = %.0f, below the "
              "planned n = %.0f: a run on fewer items than planned does not count (loco eval "
              "--limit %.0f into a new record)",
              primary, diff, p, n_used, planned, planned);
    else if (!isfinite(planned))
        check(v->res, "gate", LOCO_BUNDLE_WARN,
              "%s: significant gain over the base (diff %+.3f, p = %.3g, n = %.0f), but the "
              "record has no plan for it, so the n was not fixed in advance (loco eval %s "
              "--plan --out RECORD before the run)",
              primary, diff, p, n_used, v->m.name);
    else
        check(v->res, "gate", LOCO_BUNDLE_PASS,
              "%s: significant gain over the base (diff %+.3f, p = %.3g) on n = %.0f, planned "
              "n = %.0f",
              primary, diff, p, n_used, planned);
}

static void check_ood(struct verify *v, cJSON **recs, size_t n)
{
    char list[1400] = "";
    size_t count = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        double margin = loco_json_number(cJSON_GetObjectItemCaseSensitive(recs[i], "settings"),
                                         "non_inferiority_margin");
        const cJSON *b;
        cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(recs[i], "benchmarks"))
        {
            if (superiority(b))
                continue;
            enum loco_gate_verdict vd = verdict_of(b);
            const char *name = loco_json_string(b, "benchmark");
            failed |= vd == LOCO_VERDICT_FAIL;
            add(list, sizeof list, "%s %s (%s); ", name ? name : "?", loco_gate_verdict_name(vd),
                vd == LOCO_VERDICT_UNINFORMATIVE ? "the base scores below the margin: it cannot "
                                                   "see a drop"
                : vd == LOCO_VERDICT_PASS        ? "the drop's upper bound is within the margin"
                                                 : "the adapter may lose more than the margin");
            count++;
        }
        if (isfinite(margin) && fabs(margin - 0.05) > 1e-9)
            add(list, sizeof list, "margin %.3g, not 0.05; ", margin);
    }
    if (!count) {
        check(v->res, "out-of-domain", LOCO_BUNDLE_WARN,
              "no out-of-domain benchmark in the records: evaluate the other domains' primary "
              "benchmarks (loco eval %s --out ...) to show it costs them at most 5 points",
              v->m.name);
        return;
    }
    list[strlen(list) - 2] = '\0';
    check(v->res, "out-of-domain", failed ? LOCO_BUNDLE_FAIL : LOCO_BUNDLE_PASS,
          "non-inferiority within 5 points: %s", list);
}

static void check_contamination(struct verify *v, cJSON **recs, const char **paths, size_t n)
{
    char why[1400] = "";
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(recs[i], "contamination");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ct, "checked"))) {
            add(why, sizeof why, "%s: checked against %.0f training examples%s; ", paths[i],
                loco_json_number(ct, "training_examples"),
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ct, "decontaminate"))
                    ? ", flagged items left out"
                    : "");
        } else {
            const char *w = loco_json_string(ct, "why");
            add(why, sizeof why, "%s: not checked (%s); ", paths[i],
                w ? w
                  : "no contamination "
                    "report in the record");
            failed = true;
        }
    }
    if (!n) {
        check(v->res, "contamination", LOCO_BUNDLE_FAIL, "no record to read it from");
        return;
    }
    why[strlen(why) - 2] = '\0';
    check(v->res, "contamination", failed ? LOCO_BUNDLE_FAIL : LOCO_BUNDLE_PASS, "%s%s", why,
          failed ? ": evaluate again where the recipe's training data can be read" : "");
}

static void check_reports(struct verify *v, const char **paths, size_t n)
{
    char why[1400] = "";
    for (size_t i = 0; i < n; i++) {
        static const char *const ext[] = {".md", ".html"};
        for (int k = 0; k < 2; k++) {
            char p[LOCO_BUNDLE_PATH_MAX + 8];
            snprintf(p, sizeof p, "%.*s%s", (int)(strlen(paths[i]) - 5), paths[i], ext[k]);
            if (!loco_bundle_contents_find(&v->c, p))
                add(why, sizeof why, "%s is missing; ", p);
        }
    }
    if (why[0]) {
        why[strlen(why) - 2] = '\0';
        check(v->res, "reports", LOCO_BUNDLE_WARN, "%s (loco report eval renders them)", why);
    } else {
        check(v->res, "reports", LOCO_BUNDLE_PASS, "each record has its .md and .html report");
    }
}

static void check_records(struct verify *v)
{
    cJSON *recs[LOCO_BUNDLE_MAX_FILES];
    const char *paths[LOCO_BUNDLE_MAX_FILES];
    char why[1024] = "";
    size_t n = load_records(v, recs, paths, why, sizeof why);
    if (why[0]) {
        why[strlen(why) - 2] = '\0';
        check(v->res, "records", LOCO_BUNDLE_FAIL, "%s", why);
    }
    check_gate(v, recs, n);
    check_ood(v, recs, n);
    check_contamination(v, recs, paths, n);
    check_reports(v, paths, n);
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(recs[i]);
}

/* ---- the training log ---------------------------------------------------------------------- */

static void check_training_log(struct verify *v)
{
    const char *path = NULL;
    for (size_t i = 0; i < v->m.n_files; i++)
        if (!strcmp(v->m.files[i].role, "training_log"))
            path = v->m.files[i].path;
    char *text = path ? read_entry(v, path, 16u << 20) : NULL;
    size_t len = text ? strlen(text) : 0;
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    if (!text || len == 0)
        check(v->res, "training-log", LOCO_BUNDLE_FAIL,
              "%s: `loco train` writes TRAINING_LOG.md; keep it with the adapter",
              text ? "the training log is empty" : "no training log in the bundle");
    else if (strstr(text, "{{") || !strcmp(text, loco_train_log_template))
        check(v->res, "training-log", LOCO_BUNDLE_FAIL,
              "%s is the empty template (its {{...}} placeholders are unfilled): use the log "
              "`loco train` wrote for this run",
              path);
    else if (strstr(text, "paste both scores here") || strstr(text, "What would you try next?\n"))
        check(v->res, "training-log", LOCO_BUNDLE_WARN,
              "%s is filled in by loco train, but its \"to fill in\" sections (Evaluation, "
              "Notes) still hold the template's prompts: add the scores and what you learned",
              path);
    else
        check(v->res, "training-log", LOCO_BUNDLE_PASS, "%s is filled in", path);
    free(text);
}

/* ---- the whole ------------------------------------------------------------------------------ */

int loco_bundle_verify(const char *bundle_path, const struct loco_registry *project,
                       const struct loco_bundle_verify_params *p,
                       struct loco_bundle_verify_result *res)
{
    if (!bundle_path || !project || !res)
        return loco_error_set(LOCO_ERR_INVALID, "verify: NULL argument");
    memset(res, 0, sizeof *res);
    res->ok = true;
    struct loco_bundle_verify_params dp = loco_bundle_verify_default_params();
    if (!p)
        p = &dp;
    struct verify *v = calloc(1, sizeof *v);
    if (!v)
        return loco_error_set(LOCO_ERR_NOMEM, "verify: out of memory");
    v->project = project;
    v->res = res;
    if (loco_bundle_extract(bundle_path, p->tmp_dir, &p->limits, &v->c) != LOCO_OK) {
        check(res, "archive", LOCO_BUNDLE_FAIL, "%s", loco_error_message());
        free(v);
        return LOCO_OK;
    }
    check(res, "archive", LOCO_BUNDLE_PASS, "%zu entries, every name and type safe", v->c.n_files);
    if (check_files(v)) {
        v->domain = loco_registry_find_domain(project, v->m.domain);
        check_base(v);
        check_registry(v);
        check_records(v);
        check_training_log(v);
    }
    cJSON_Delete(v->entry);
    loco_bundle_manifest_free(&v->m);
    loco_bundle_contents_remove(&v->c);
    free(v);
    return LOCO_OK;
}

char *loco_bundle_verify_json(const char *bundle_path, const struct loco_bundle_verify_result *res)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bundle", bundle_path);
    cJSON_AddStringToObject(o, "name", res->name);
    cJSON_AddBoolToObject(o, "ok", res->ok);
    cJSON *list = cJSON_AddArrayToObject(o, "checks");
    for (size_t i = 0; i < res->n_checks; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", res->checks[i].name);
        cJSON_AddStringToObject(c, "status", loco_bundle_check_status_name(res->checks[i].status));
        cJSON_AddStringToObject(c, "reason", res->checks[i].reason);
        cJSON_AddItemToArray(list, c);
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s)
        loco_error_set(LOCO_ERR_NOMEM, "verify: out of memory");
    return s;
}
