/*
 * test-registry.c - the adapter registry: schema v2 parsing and problems
 * (file, line, field, value), the overlay merge rule, file checks (hashes,
 * base compatibility, rank/alpha/targets), scores, promotion, removal, and
 * the write guarantees: concurrent writers lose nothing, a writer killed
 * mid-write leaves the old file intact. Hostile YAML (alias bombs, 100,000
 * levels of nesting, a second document, random mutations) is refused with
 * file and line, quickly and in little memory.
 *
 * Registries are written into a fresh temporary folder per test; the
 * shipped adapters/registry.yaml is checked when the shipped adapters are
 * present (skipped otherwise).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loco/fileio.h"
#include "loco/lora.h"
#include "loco/models.h"
#include "loco/registry.h"
#include "registry/registry_internal.h"
#include "testutil.h"

#define BASE_SHA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FILE_SHA "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct fx {
    char dir[256];
    char project[512];
    char user[512];
    struct loco_registry_params p;
};

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    return test_read_file(path, NULL);
}

/* One adapter entry in YAML. */
static void adapter_yaml(char *buf, size_t cap, const char *name, const char *domain,
                         const char *status, const char *scores)
{
    snprintf(buf, cap,
             "  - name: %s\n"
             "    domain: %s\n"
             "    version: 1.0.0\n"
             "    file: %s.gguf\n"
             "    sha256: " FILE_SHA "\n"
             "    base_sha256: " BASE_SHA "\n"
             "    lora: {rank: 2, alpha: 4, targets: [q]}\n"
             "    provenance:\n"
             "      recipe: recipes/%s.yaml\n"
             "      data: test data\n"
             "      seed: 7\n"
             "      semester: 2026-S2\n"
             "      authors: [Ada, Alan]\n"
             "    router:\n"
             "      keywords: [%s]\n"
             "      examples: [\"an example about %s\"]\n"
             "    status: %s\n"
             "%s",
             name, domain, name, name, domain, domain, status, scores ? scores : "");
}

static const char head_yaml[] = "schema_version: 2\n"
                                "base_model:\n"
                                "  name: Tiny\n"
                                "  file: tiny.gguf\n"
                                "  sha256: " BASE_SHA "\n"
                                "  architecture: llama\n"
                                "  academic_year: \"2026\"\n"
                                "domains:\n"
                                "  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k], strategy: calc}\n"
                                "  code: {primary_benchmark: humaneval, benchmarks: [humaneval, mbpp]}\n"
                                "adapters:\n";

/* The standard project registry: m1 (math, active), m2 (math, candidate),
 * c1 (code, active). */
static void write_project(struct fx *f)
{
    char a[2048], b[2048], c[2048], all[8192];
    adapter_yaml(a, sizeof a, "m1", "math", "active", NULL);
    adapter_yaml(b, sizeof b, "m2", "math", "candidate", NULL);
    adapter_yaml(c, sizeof c, "c1", "code", "active", NULL);
    snprintf(all, sizeof all, "%s%s%s%s", head_yaml, a, b, c);
    put_file(f->project, all);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/loco-registry-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->project, sizeof f->project, "%s/registry.yaml", f->dir);
    snprintf(f->user, sizeof f->user, "%s/user/registry.yaml", f->dir);
    f->p = loco_registry_default_params();
    f->p.project_path = f->project;
    f->p.user_path = f->user;
    write_project(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static struct loco_registry_score good_score(const char *bench, double s, bool passed)
{
    struct loco_registry_score sc = {bench, s, s - 0.05, s + 0.05, 0.3, 0.01, passed, 100,
                                     "records/r.json"};
    return sc;
}

/* ---- paths and names ----------------------------------------------------- */

static void test_paths(void **state)
{
    char buf[LOCO_REGISTRY_PATH_MAX];
    setenv("LOCO_REGISTRY", "/x/reg.yaml", 1);
    assert_int_equal(loco_registry_project_path(buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/x/reg.yaml");
    unsetenv("LOCO_REGISTRY");
    assert_int_equal(loco_registry_project_path(buf, sizeof buf), LOCO_OK);
    assert_non_null(strstr(buf, "/adapters/registry.yaml"));
    setenv("XDG_DATA_HOME", "/data", 1);
    assert_int_equal(loco_registry_user_path(buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/data/locollm/registry.yaml");
    setenv("XDG_DATA_HOME", "/data/", 1); /* a trailing '/' adds no "//" */
    assert_int_equal(loco_registry_user_path(buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/data/locollm/registry.yaml");
    assert_int_equal(loco_registry_user_path(buf, 8), LOCO_ERR_RANGE);
    assert_non_null(strstr(loco_error_message(), "registry path is too long"));
    setenv("XDG_DATA_HOME", "relative", 1); /* not absolute: ignored, per the XDG spec */
    setenv("HOME", "/home/u", 1);
    assert_int_equal(loco_registry_user_path(buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/home/u/.local/share/locollm/registry.yaml");
    unsetenv("XDG_DATA_HOME");
    assert_int_equal(loco_registry_project_path(buf, 4), LOCO_ERR_RANGE);
    struct loco_registry_params p = loco_registry_default_params();
    assert_null(p.project_path);
    assert_null(p.user_path);
    assert_false(p.lenient);
}

static void test_status_names(void **state)
{
    enum loco_registry_status s;
    assert_string_equal(loco_registry_status_name(LOCO_REGISTRY_RETIRED), "retired");
    assert_int_equal(loco_registry_status_parse("active", &s), LOCO_OK);
    assert_int_equal(s, LOCO_REGISTRY_ACTIVE);
    assert_int_equal(loco_registry_status_parse("activ", &s), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "candidate, active, retired"));
}

/* ---- reading ----------------------------------------------------------- */

static void test_load_and_lookup(void **state)
{
    struct fx *f = *state;
    struct loco_registry *r = loco_registry_load(&f->p);
    assert_non_null(r);
    assert_int_equal(loco_registry_n_problems(r), 0);
    const struct loco_registry_base *b = loco_registry_base(r);
    assert_string_equal(b->name, "Tiny");
    assert_string_equal(b->academic_year, "2026");
    assert_int_equal(loco_registry_n_domains(r), 2);
    const struct loco_registry_domain *d = loco_registry_find_domain(r, "code");
    assert_non_null(d);
    assert_string_equal(d->primary_benchmark, "humaneval");
    assert_int_equal(d->benchmarks.n, 2);
    assert_string_equal(d->strategy, ""); /* absent: plain */
    assert_string_equal(loco_registry_find_domain(r, "math")->strategy, "calc");
    assert_ptr_equal(loco_registry_domain_at(r, 1), d);
    assert_null(loco_registry_domain_at(r, 2));
    assert_int_equal(loco_registry_n_adapters(r), 3);
    const struct loco_registry_adapter *a = loco_registry_find(r, "m2");
    assert_non_null(a);
    assert_ptr_equal(loco_registry_adapter_at(r, 1), a);
    assert_string_equal(a->domain, "math");
    assert_int_equal(a->rank, 2);
    assert_true(a->alpha == 4.0);
    assert_int_equal(a->targets.n, 1);
    assert_int_equal(a->provenance.seed, 7);
    assert_int_equal(a->provenance.authors.n, 2);
    assert_string_equal(a->provenance.authors.v[1], "Alan");
    assert_string_equal(a->keywords.v[0], "math");
    assert_int_equal(a->status, LOCO_REGISTRY_CANDIDATE);
    assert_false(a->user);
    assert_int_equal(a->line, 29);
    char want[600];
    snprintf(want, sizeof want, "%s/m2.gguf", f->dir);
    assert_string_equal(a->path, want);
    assert_string_equal(loco_registry_active(r, "math")->name, "m1");
    assert_null(loco_registry_active(r, "nope"));
    assert_null(loco_registry_score(a, "gsm8k"));
    assert_null(loco_registry_primary_score(r, a));
    assert_null(loco_registry_find(r, "zz"));
    assert_non_null(strstr(loco_error_message(), "known: m1, m2, c1"));
    loco_registry_free(r);
    /* load_file: the project alone */
    r = loco_registry_load_file(f->project, false);
    assert_non_null(r);
    assert_int_equal(loco_registry_n_adapters(r), 3);
    loco_registry_free(r);
}

static bool has_problem(const struct loco_registry *r, int line, const char *field,
                        const char *value, const char *text)
{
    for (size_t i = 0; i < loco_registry_n_problems(r); i++) {
        const struct loco_registry_problem *p = loco_registry_problem_at(r, i);
        if ((line == 0 || p->line == line) && strcmp(p->field, field) == 0 &&
            strcmp(p->value, value) == 0 && strstr(p->message, text))
            return true;
    }
    for (size_t i = 0; i < loco_registry_n_problems(r); i++) {
        const struct loco_registry_problem *p = loco_registry_problem_at(r, i);
        fprintf(stderr, "  have %s:%d %s = '%s': %s\n", p->file, p->line, p->field, p->value,
                p->message);
    }
    return false;
}

/* The project registry: the tiny base, these domains (YAML lines after
 * "domains:") and one active math adapter m1. */
static void put_domains(const struct fx *f, const char *domains)
{
    char a[2048], all[8192];
    adapter_yaml(a, sizeof a, "m1", "math", "active", NULL);
    snprintf(all, sizeof all,
             "schema_version: 2\nbase_model:\n  name: Tiny\n  file: tiny.gguf\n"
             "  sha256: " BASE_SHA "\n  architecture: llama\n  academic_year: \"2026\"\n"
             "domains:\n%sadapters:\n%s",
             domains, a);
    put_file(f->project, all);
}

/* A domain's default strategy must be one loco_strategy_parse knows. */
static void test_domain_strategy(void **state)
{
    struct fx *f = *state;
    put_domains(f, "  math: {primary_benchmark: gsm8k, strategy: nosuch}\n"
                   "  code: {primary_benchmark: mbpp, strategy: re2+calc}\n");
    assert_null(loco_registry_load_file(f->project, false));
    assert_non_null(strstr(loco_error_message(), "nosuch"));
    struct loco_registry *r = loco_registry_load_file(f->project, true);
    assert_non_null(r);
    assert_true(has_problem(r, 9, "domains.math.strategy", "nosuch", "unknown strategy"));
    assert_int_equal(loco_registry_n_problems(r), 1);
    assert_string_equal(loco_registry_find_domain(r, "code")->strategy, "re2+calc");
    loco_registry_free(r);
}

/* A domain's vote threshold: min_vote_share in [0, 1], below_threshold
 * abstain or fallback, and below_threshold only with a threshold. */
static void test_domain_vote_threshold(void **state)
{
    struct fx *f = *state;
    put_domains(f, "  math: {primary_benchmark: gsm8k, strategy: sc:5, min_vote_share: 0.6,"
                   " below_threshold: fallback}\n"
                   "  code: {primary_benchmark: mbpp, min_vote_share: 1.5, below_threshold: maybe}\n"
                   "  writing: {primary_benchmark: judge, min_vote_share: half}\n"
                   "  summarisation: {primary_benchmark: rouge, below_threshold: abstain}\n"
                   "  arc: {primary_benchmark: arc, strategy: ensemble:2, min_vote_share: 1}\n");
    assert_null(loco_registry_load_file(f->project, false));
    struct loco_registry *r = loco_registry_load_file(f->project, true);
    assert_non_null(r);
    assert_true(has_problem(r, 10, "domains.code.min_vote_share", "1.5", "from 0 to 1"));
    assert_true(has_problem(r, 10, "domains.code.below_threshold", "maybe", "abstain or fallback"));
    assert_true(has_problem(r, 11, "domains.writing.min_vote_share", "half", "not a number"));
    assert_true(has_problem(r, 12, "domains.summarisation.below_threshold", "abstain",
                            "without min_vote_share"));
    assert_int_equal(loco_registry_n_problems(r), 4);
    const struct loco_registry_domain *m = loco_registry_find_domain(r, "math");
    assert_true(m->min_vote_share == 0.6);
    assert_string_equal(m->below_threshold, "fallback");
    const struct loco_registry_domain *arc = loco_registry_find_domain(r, "arc");
    assert_true(arc->min_vote_share == 1.0);
    assert_string_equal(arc->below_threshold, ""); /* absent: abstain */
    assert_string_equal(arc->strategy, "ensemble:2");
    /* absent: no threshold */
    assert_true(loco_registry_find_domain(r, "writing")->min_vote_share == 0.0);
    char *js = loco_registry_json(r, NULL);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"min_vote_share\":\t0.6"));
    assert_non_null(strstr(js, "\"below_threshold\":\t\"fallback\""));
    free(js);
    loco_registry_free(r);
}

static void test_schema_problems(void **state)
{
    struct fx *f = *state;
    char a[2048], b[2048], all[8192];
    adapter_yaml(a, sizeof a, "m1", "math", "active", "    scroes: []\n");
    adapter_yaml(b, sizeof b, "Bad Name", "poetry", "actve",
                 "    scores:\n"
                 "      - {benchmark: gsm8k, score: 0.9, ci_low: 0.1, ci_high: 0.2,"
                 " base_score: 0.1, p_value: 2, passed: maybe, n_items: 0, record: r.json}\n");
    snprintf(all, sizeof all, "%s%s%s", head_yaml, a, b);
    /* sha256 typo in the second adapter, rank out of range */
    char *p = strstr(all + strlen(head_yaml) + strlen(a), FILE_SHA);
    p[3] = 'X';
    p = strstr(all + strlen(head_yaml) + strlen(a), "rank: 2");
    p[6] = '0';
    put_file(f->project, all);

    assert_null(loco_registry_load_file(f->project, false));
    assert_non_null(strstr(loco_error_message(), f->project));
    assert_non_null(strstr(loco_error_message(), "more problems"));

    struct loco_registry *r = loco_registry_load_file(f->project, true);
    assert_non_null(r);
    assert_true(has_problem(r, 29, "adapters[m1].scroes", "scroes", "unknown field"));
    assert_true(has_problem(r, 30, "adapters[Bad Name].name", "Bad Name", "lowercase"));
    assert_true(has_problem(r, 31, "adapters[Bad Name].domain", "poetry", "no such domain"));
    assert_true(has_problem(r, 34, "adapters[Bad Name].sha256", "bbbXbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "64 lowercase hex"));
    assert_true(has_problem(r, 36, "adapters[Bad Name].lora.rank", "0", "whole number"));
    assert_true(has_problem(r, 46, "adapters[Bad Name].status", "actve", "candidate, active or retired"));
    assert_true(has_problem(r, 48, "adapters[Bad Name].scores[0].p_value", "2", "from 0 to 1"));
    assert_true(has_problem(r, 48, "adapters[Bad Name].scores[0].passed", "maybe", "true or false"));
    assert_true(has_problem(r, 48, "adapters[Bad Name].scores[0].n_items", "0", "whole number"));
    assert_true(has_problem(r, 0, "adapters[Bad Name].scores[0]", "0.1 <= 0.9 <= 0.2", "inside its interval"));
    loco_registry_free(r);

    /* missing sections, wrong version, two actives in one domain */
    adapter_yaml(a, sizeof a, "m1", "math", "active", NULL);
    adapter_yaml(b, sizeof b, "m2", "math", "active", NULL);
    snprintf(all, sizeof all, "schema_version: 1\ndomains:\n  math: {primary_benchmark: gsm8k}\n"
             "adapters:\n%s%s", a, b);
    put_file(f->project, all);
    r = loco_registry_load_file(f->project, true);
    assert_non_null(r);
    assert_true(has_problem(r, 1, "schema_version", "1", "version 2"));
    assert_true(has_problem(r, 1, "base_model", "", "missing"));
    assert_true(has_problem(r, 0, "adapters[m2].status", "active", "both active"));
    loco_registry_free(r);
}

static void test_yaml_errors(void **state)
{
    struct fx *f = *state;
    put_file(f->project, "schema_version: 2\nadapters: [\n  - name: x\n");
    assert_null(loco_registry_load_file(f->project, true));
    assert_non_null(strstr(loco_error_message(), "YAML error"));
    assert_non_null(strstr(loco_error_message(), f->project));
    put_file(f->project, "schema_version: 2\nschema_version: 2\n");
    assert_null(loco_registry_load_file(f->project, true));
    assert_non_null(strstr(loco_error_message(), ":2: key 'schema_version' appears twice"));
    put_file(f->project, "- a list\n");
    assert_null(loco_registry_load_file(f->project, true));
    assert_non_null(strstr(loco_error_message(), "must be a mapping"));
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.yaml", f->dir);
    assert_null(loco_registry_load_file(missing, true));
    assert_non_null(strstr(loco_error_message(), "none.yaml"));
}

/* ---- the overlay ---------------------------------------------------------- */

static void test_overlay_merge(void **state)
{
    struct fx *f = *state;
    char a[2048], all[4096], dir[600];
    snprintf(dir, sizeof dir, "%s/user", f->dir);
    mkdir(dir, 0755);
    adapter_yaml(a, sizeof a, "m3", "math", "active", NULL);
    snprintf(all, sizeof all,
             "schema_version: 2\n"
             "domains:\n  math: {description: sums}\n"
             "adapters:\n"
             "  - name: m2\n    version: 2.0.0\n    router: {keywords: [algebra], examples: [x]}\n"
             "  - name: c1\n    scores:\n"
             "      - {benchmark: humaneval, score: 0.5, ci_low: 0.4, ci_high: 0.6, base_score: 0.3,"
             " p_value: 0.01, passed: true, n_items: 164, record: rec/c1.json}\n"
             "%s",
             a);
    put_file(f->user, all);
    struct loco_registry *r = loco_registry_load(&f->p);
    assert_non_null(r);
    assert_int_equal(loco_registry_n_problems(r), 0);
    assert_int_equal(loco_registry_n_adapters(r), 4);
    const struct loco_registry_adapter *m2 = loco_registry_find(r, "m2");
    assert_string_equal(m2->version, "2.0.0");     /* overridden */
    assert_string_equal(m2->domain, "math");       /* kept */
    assert_string_equal(m2->keywords.v[0], "algebra");
    assert_false(m2->user);
    const struct loco_registry_adapter *m3 = loco_registry_find(r, "m3");
    assert_true(m3->user);
    assert_string_equal(m3->source, f->user);
    char want[600];
    snprintf(want, sizeof want, "%s/user/m3.gguf", f->dir); /* relative to the overlay */
    assert_string_equal(m3->path, want);
    /* the overlay's active adapter wins its domain */
    assert_string_equal(loco_registry_active(r, "math")->name, "m3");
    assert_int_equal(loco_registry_find(r, "m1")->status, LOCO_REGISTRY_CANDIDATE);
    const struct loco_registry_adapter *c1 = loco_registry_find(r, "c1");
    assert_int_equal(c1->n_scores, 1);
    assert_true(loco_registry_primary_score(r, c1)->score == 0.5);
    assert_string_equal(loco_registry_find_domain(r, "math")->description, "sums");
    assert_string_equal(loco_registry_find_domain(r, "math")->primary_benchmark, "gsm8k");
    loco_registry_free(r);

    /* the overlay may not change the base model; problems name the overlay */
    put_file(f->user, "base_model: {name: Other}\nadapters:\n  - name: ghost\n    version: 1\n");
    f->p.lenient = true;
    r = loco_registry_load(&f->p);
    assert_non_null(r);
    assert_true(has_problem(r, 1, "base_model", "", "may not set the base model"));
    assert_true(has_problem(r, 3, "adapters[ghost].domain", "", "missing"));
    assert_string_equal(loco_registry_problem_at(r, 0)->file, f->user);
    assert_string_equal(loco_registry_base(r)->name, "Tiny");
    loco_registry_free(r);
    f->p.lenient = false;
}

/* ---- file checks ----------------------------------------------------------- */

/* A tiny real adapter: one q pair, rank 2, n_in = n_out = 4. */
static void write_adapter(const char *path, const char *base_sha, float alpha)
{
    float a[8] = {0}, b[8] = {0};
    struct loco_lora_pair pair = {0, LOCO_LORA_Q, 4, 4, 2, a, b};
    struct loco_adapter_meta meta = {.arch = "llama", .base_sha256 = base_sha, .name = "m1",
                                     .domain = "math", .alpha = alpha};
    assert_int_equal(loco_adapter_write(path, &meta, &pair, 1, LOCO_TYPE_F32), LOCO_OK);
}

static void test_check_files(void **state)
{
    struct fx *f = *state;
    char path[600], sha[65], all[8192], a[2048];
    snprintf(path, sizeof path, "%s/m1.gguf", f->dir);
    write_adapter(path, BASE_SHA, 4);
    assert_int_equal(loco_models_sha256_file(path, sha), LOCO_OK);
    adapter_yaml(a, sizeof a, "m1", "math", "active", NULL);
    char *p = strstr(a, FILE_SHA);
    memcpy(p, sha, 64);
    snprintf(all, sizeof all, "%s%s", head_yaml, a);
    put_file(f->project, all);
    struct loco_registry *r = loco_registry_load_file(f->project, true);
    assert_non_null(r);
    assert_int_equal(loco_registry_check_files(r), 0);
    loco_registry_free(r);

    /* the file records another base; alpha and the hash differ too */
    write_adapter(path, FILE_SHA, 8);
    r = loco_registry_load_file(f->project, true);
    size_t n = loco_registry_check_files(r);
    assert_true(n >= 3);
    assert_true(has_problem(r, 0, "adapters[m1].sha256", sha, "hashes to"));
    assert_true(has_problem(r, 0, "adapters[m1].base_sha256", BASE_SHA, "locollm.base.sha256"));
    assert_true(has_problem(r, 0, "adapters[m1].lora.alpha", "4", "adapter.lora.alpha = 8"));
    loco_registry_free(r);

    /* a score record that does not exist; a missing file */
    unlink(path);
    snprintf(all, sizeof all, "%s%s    scores:\n      - {benchmark: gsm8k, score: 0.5, ci_low: 0.4,"
             " ci_high: 0.6, base_score: 0.3, p_value: 0.01, passed: true, n_items: 60,"
             " record: rec/none.json}\n", head_yaml, a);
    put_file(f->project, all);
    r = loco_registry_load_file(f->project, true);
    loco_registry_check_files(r);
    assert_true(has_problem(r, 0, "adapters[m1].file", "m1.gguf", "no such file"));
    assert_true(has_problem(r, 0, "adapters[m1].scores[0].record", "rec/none.json",
                            "no such evaluation record"));
    loco_registry_free(r);
}

static void test_shipped_registry(void **state)
{
    const char *src = getenv("LOCO_SOURCE_DIR");
    char path[1024], gguf[1024];
    snprintf(path, sizeof path, "%s/adapters/registry.yaml", src ? src : ".");
    snprintf(gguf, sizeof gguf, "%s/adapters/math/math.gguf", src ? src : ".");
    struct stat st;
    if (stat(path, &st) != 0 || stat(gguf, &st) != 0) {
        fprintf(stderr, "skipping: %s or the shipped adapters not found\n", path);
        skip();
    }
    struct loco_registry *r = loco_registry_load_file(path, true);
    assert_non_null(r);
    size_t n = loco_registry_check_files(r);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s:%d %s: %s\n", loco_registry_problem_at(r, i)->file,
                loco_registry_problem_at(r, i)->line, loco_registry_problem_at(r, i)->field,
                loco_registry_problem_at(r, i)->message);
    assert_int_equal(n, 0);
    for (size_t i = 0; i < loco_registry_n_domains(r); i++) {
        const struct loco_registry_domain *d = loco_registry_domain_at(r, i);
        assert_true(d->primary_benchmark[0] != '\0');
    }
    assert_non_null(loco_registry_find(r, "math"));
    assert_true(loco_registry_find(r, "math")->keywords.n >= 5);
    loco_registry_free(r);
}

/* ---- paths that leave the registry --------------------------------------- */

/* `text` with the first `from` replaced by `to` (into buf). */
static void replaced(char *buf, size_t cap, const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    snprintf(buf, cap, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

/* The project file: the head and m1 with one substitution. */
static void put_m1(struct fx *f, const char *from, const char *to)
{
    char a[2048], b[2048], all[8192];
    adapter_yaml(a, sizeof a, "m1", "math", "active",
                 "    scores:\n"
                 "      - {benchmark: gsm8k, score: 0.5, ci_low: 0.4, ci_high: 0.6, base_score: 0.3,"
                 " p_value: 0.01, passed: true, n_items: 60, record: rec/r.json}\n");
    snprintf(all, sizeof all, "%s%s", head_yaml, a);
    replaced(b, sizeof b, all, from, to);
    put_file(f->project, b);
}

static bool has_field(const struct loco_registry *r, const char *field)
{
    for (size_t i = 0; i < loco_registry_n_problems(r); i++)
        if (strcmp(loco_registry_problem_at(r, i)->field, field) == 0)
            return true;
    return false;
}

/* The path field is refused on a strict load (message: file, line, field)
 * and listed on a lenient one; nothing it names is hashed or opened. */
static void expect_path_refused(struct fx *f, int line, const char *field, const char *value,
                                const char *text)
{
    char where[600];
    assert_null(loco_registry_load_file(f->project, false));
    snprintf(where, sizeof where, "%s:%d: %s = '%s'", f->project, line, field, value);
    if (!strstr(loco_error_message(), where))
        fprintf(stderr, "expected \"%s\" in: %s\n", where, loco_error_message());
    assert_non_null(strstr(loco_error_message(), where));
    struct loco_registry *r = loco_registry_load_file(f->project, true);
    assert_non_null(r);
    assert_true(has_problem(r, line, field, value, text));
    loco_registry_check_files(r);
    assert_false(has_field(r, "adapters[m1].sha256")); /* /etc/passwd was not hashed */
    for (size_t i = 0; i < loco_registry_n_problems(r); i++)
        assert_null(strstr(loco_registry_problem_at(r, i)->message, "hashes to"));
    loco_registry_free(r);
}

static void test_paths_stay_inside(void **state)
{
    struct fx *f = *state;
    char target[600];
    /* the registry's folder is f->dir (a folder in /tmp), the project folder /tmp */
    put_m1(f, "file: m1.gguf", "file: ../../../../../etc/passwd");
    expect_path_refused(f, 15, "adapters[m1].file", "../../../../../etc/passwd",
                        "leads to /etc/passwd, outside the registry's folder");
    put_m1(f, "file: m1.gguf", "file: /etc/shadow");
    expect_path_refused(f, 15, "adapters[m1].file", "/etc/shadow", "outside the registry's folder");
    put_m1(f, "      seed: 7\n", "      seed: 7\n      training_log: /etc/shadow\n");
    expect_path_refused(f, 23, "adapters[m1].provenance.training_log", "/etc/shadow",
                        "leads to /etc/shadow");
    put_m1(f, "recipe: recipes/m1.yaml", "recipe: ../../etc/recipe.yaml");
    expect_path_refused(f, 20, "adapters[m1].provenance.recipe", "../../etc/recipe.yaml",
                        "outside the project folder");
    put_m1(f, "record: rec/r.json", "record: ../../../etc/passwd");
    expect_path_refused(f, 30, "adapters[m1].scores[0].record", "../../../etc/passwd",
                        "leads to /etc/passwd");
    put_m1(f, "file: tiny.gguf", "file: /etc/shadow");
    expect_path_refused(f, 4, "base_model.file", "/etc/shadow", "not a path");

    /* a symlink inside the folder that leads out of it */
    snprintf(target, sizeof target, "%s/m1.gguf", f->dir);
    assert_int_equal(symlink("/etc/passwd", target), 0);
    put_m1(f, "file: m1.gguf", "file: m1.gguf");
    expect_path_refused(f, 15, "adapters[m1].file", "m1.gguf", "symbolic link");
    unlink(target);

    /* what stays inside loads: a detour, the project's recipes/ and results/ */
    put_m1(f, "file: m1.gguf", "file: sub/../m1.gguf");
    struct loco_registry *r = loco_registry_load_file(f->project, false);
    assert_non_null(r);
    loco_registry_free(r);
    put_m1(f, "recipe: recipes/m1.yaml", "recipe: ../recipes/m1.yaml");
    r = loco_registry_load_file(f->project, false);
    assert_non_null(r);
    loco_registry_free(r);
    put_m1(f, "record: rec/r.json", "record: ../results/r.json");
    r = loco_registry_load_file(f->project, false);
    assert_non_null(r);
    loco_registry_free(r);
}

/* The overlay's paths obey the same rule against its own folder, and a
 * write that would put such a path in a registry is refused. */
static void test_overlay_paths(void **state)
{
    struct fx *f = *state;
    char a[2048], b[2048], all[4096], dir[600];
    snprintf(dir, sizeof dir, "%s/user", f->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    adapter_yaml(a, sizeof a, "u1", "math", "candidate", NULL);
    replaced(b, sizeof b, a, "file: u1.gguf", "file: ../../../../../etc/passwd");
    snprintf(all, sizeof all, "schema_version: 2\nadapters:\n%s", b);
    put_file(f->user, all);
    assert_null(loco_registry_load(&f->p));
    assert_non_null(strstr(loco_error_message(), f->user));
    assert_non_null(strstr(loco_error_message(), "adapters[u1].file"));
    f->p.lenient = true;
    struct loco_registry *r = loco_registry_load(&f->p);
    assert_non_null(r);
    assert_true(has_problem(r, 6, "adapters[u1].file", "../../../../../etc/passwd",
                            "outside the overlay's folder or your adapters folder"));
    assert_string_equal(loco_registry_find(r, "u1")->path, "");
    loco_registry_free(r);
    f->p.lenient = false;
    unlink(f->user);

    /* recording a score whose record lies outside is refused; nothing changes */
    char *before = read_text(f->project);
    struct loco_registry_score s = good_score("gsm8k", 0.4, true);
    s.record = "/etc/passwd";
    assert_int_not_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "m1", &s),
                         LOCO_OK);
    assert_non_null(strstr(loco_error_message(), "record"));
    char *after = read_text(f->project);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_not_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_USER, "m1", &s),
                         LOCO_OK);
    s.record = "records/r.json";
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_USER, "m1", &s), LOCO_OK);
}

/* A FIFO (or any non-regular file) as the registry or the overlay is
 * refused at once; before, the open waited for a writer forever. */
static void test_fifo_registry(void **state)
{
    struct fx *f = *state;
    char dir[600];
    alarm(20); /* a hang fails the test instead of stalling the suite */
    unlink(f->project);
    assert_int_equal(mkfifo(f->project, 0600), 0);
    assert_null(loco_registry_load_file(f->project, true));
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    assert_non_null(strstr(loco_error_message(), f->project));
    unlink(f->project);
    write_project(f);
    snprintf(dir, sizeof dir, "%s/user", f->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkfifo(f->user, 0600), 0);
    assert_null(loco_registry_load(&f->p));
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    unlink(f->user);
    assert_int_equal(mkdir(f->user, 0755), 0); /* a folder is refused too */
    assert_null(loco_registry_load(&f->p));
    assert_non_null(strstr(loco_error_message(), "folder"));
    rmdir(f->user);
    /* an adapter file that is a FIFO is reported, not hashed (which would wait) */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/m1.gguf", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct loco_registry *r = loco_registry_load(&f->p);
    assert_non_null(r);
    loco_registry_check_files(r);
    assert_true(has_problem(r, 15, "adapters[m1].file", "m1.gguf", "not a regular file"));
    loco_registry_free(r);
    alarm(0);
}

/* A value the schema refuses is reported once, as written: `rank: sixteen`
 * is not a number (and not also "rank '0' differs from the file"), and
 * `alpha: 1e999` is out of range as written (not shown as 0). */
static void test_follow_on_values(void **state)
{
    struct fx *f = *state;
    char path[600], sha[65], a[2048], b[2048], c[2048], all[8192];
    snprintf(path, sizeof path, "%s/m1.gguf", f->dir);
    write_adapter(path, BASE_SHA, 4);
    assert_int_equal(loco_models_sha256_file(path, sha), LOCO_OK);
    adapter_yaml(a, sizeof a, "m1", "math", "active", NULL);
    memcpy(strstr(a, FILE_SHA), sha, 64);
    replaced(b, sizeof b, a, "rank: 2, alpha: 4, targets: [q]",
             "rank: sixteen, alpha: 1e999, targets: [q, sideways]");
    snprintf(all, sizeof all, "%s%s", head_yaml, b);
    put_file(f->project, all);
    struct loco_registry *r = loco_registry_load_file(f->project, true);
    assert_non_null(r);
    loco_registry_check_files(r);
    assert_true(has_problem(r, 18, "adapters[m1].lora.rank", "sixteen", "not a whole number"));
    assert_true(has_problem(r, 18, "adapters[m1].lora.alpha", "1e999", "out of range; must be"));
    assert_true(has_problem(r, 18, "adapters[m1].lora.targets[1]", "sideways", "not a projection"));
    size_t rank = 0, alpha = 0, targets = 0;
    for (size_t i = 0; i < loco_registry_n_problems(r); i++) {
        const struct loco_registry_problem *p = loco_registry_problem_at(r, i);
        rank += strcmp(p->field, "adapters[m1].lora.rank") == 0;
        alpha += strcmp(p->field, "adapters[m1].lora.alpha") == 0;
        targets += strncmp(p->field, "adapters[m1].lora.targets", 25) == 0;
        assert_string_not_equal(p->value, "0");
    }
    assert_int_equal(rank, 1);
    assert_int_equal(alpha, 1);
    assert_int_equal(targets, 1);
    loco_registry_free(r);

    /* a rank past int64 is out of range as written; "nan" is not a number */
    replaced(c, sizeof c, a, "rank: 2, alpha: 4", "rank: 99999999999999999999, alpha: nan");
    snprintf(all, sizeof all, "%s%s", head_yaml, c);
    put_file(f->project, all);
    r = loco_registry_load_file(f->project, true);
    assert_true(has_problem(r, 18, "adapters[m1].lora.rank", "99999999999999999999",
                            "out of range; must be a whole number from 1 to 4096"));
    assert_true(has_problem(r, 18, "adapters[m1].lora.alpha", "nan", "not a number"));
    loco_registry_free(r);

    /* a score that is not a number is reported once, not also as "0 is
     * outside its interval" */
    snprintf(all, sizeof all, "%s%s    scores:\n      - {benchmark: gsm8k, score: high, ci_low: 0.4,"
             " ci_high: 0.6, base_score: 0.3, p_value: 0.01, passed: true, n_items: 60,"
             " record: r.json}\n", head_yaml, a);
    put_file(f->project, all);
    r = loco_registry_load_file(f->project, true);
    assert_true(has_problem(r, 30, "adapters[m1].scores[0].score", "high", "not a number"));
    assert_false(has_field(r, "adapters[m1].scores[0]"));
    loco_registry_free(r);

    /* a valid rank that differs from the file is still reported */
    replaced(c, sizeof c, a, "rank: 2", "rank: 3");
    snprintf(all, sizeof all, "%s%s", head_yaml, c);
    put_file(f->project, all);
    r = loco_registry_load_file(f->project, true);
    loco_registry_check_files(r);
    assert_true(has_problem(r, 18, "adapters[m1].lora.rank", "3", "rank 2"));
    loco_registry_free(r);
}

/* ---- writes ---------------------------------------------------------------- */

static void test_record_score(void **state)
{
    struct fx *f = *state;
    struct loco_registry_score s = good_score("gsm8k", 0.4, true);
    /* the overlay: a partial entry holding only the name and scores */
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_USER, "m1", &s), LOCO_OK);
    s.score = 0.45; /* replaces, does not add */
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_USER, "m1", &s), LOCO_OK);
    struct loco_registry_score s2 = good_score("mbpp", 0.2, false);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "c1", &s2), LOCO_OK);
    struct loco_registry *r = loco_registry_load(&f->p);
    assert_non_null(r);
    const struct loco_registry_adapter *m1 = loco_registry_find(r, "m1");
    assert_int_equal(m1->n_scores, 1);
    const struct loco_registry_score *got = loco_registry_primary_score(r, m1);
    assert_true(got->score == 0.45);
    assert_true(got->passed);
    assert_int_equal(got->n_items, 100);
    assert_string_equal(got->record, "records/r.json");
    assert_false(m1->user); /* a score in the overlay does not make it a user adapter */
    got = loco_registry_score(loco_registry_find(r, "c1"), "mbpp");
    assert_non_null(got);
    assert_false(got->passed);
    loco_registry_free(r);
    char *text = read_text(f->user);
    assert_non_null(strstr(text, "name: m1"));
    assert_null(strstr(text, "domain:")); /* only what the overlay overrides */
    free(text);

    /* refusals leave the files unchanged */
    char *before = read_text(f->project);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "zz", &s),
                     LOCO_ERR_NOT_FOUND);
    s.ci_low = 0.5; /* above the score */
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "m1", &s),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "inside its interval"));
    s = good_score("gsm8k", 0.4, true);
    s.record = "";
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "m1", &s),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "record"));
    char *after = read_text(f->project);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static struct loco_registry_adapter make_adapter(const char *name, const char *domain,
                                                 const char **strs)
{
    struct loco_registry_adapter a = {0};
    struct loco_registry_strs two = {strs, 2};
    a.name = name;
    a.domain = domain;
    a.version = "0.1";
    a.file = "adapters/x.gguf";
    a.sha256 = FILE_SHA;
    a.base_sha256 = BASE_SHA;
    a.rank = 8;
    a.alpha = 16;
    a.targets = (struct loco_registry_strs){strs + 2, 2};
    a.provenance = (struct loco_registry_provenance){"r.yaml", "d", 1, "2026-S2", two, ""};
    a.keywords = two;
    a.examples = two;
    a.status = LOCO_REGISTRY_CANDIDATE;
    return a;
}

static void test_add_and_remove(void **state)
{
    struct fx *f = *state;
    static const char *strs[] = {"alpha", "beta", "q", "v"};
    struct loco_registry_adapter a = make_adapter("u1", "math", strs);
    assert_int_equal(loco_registry_add_adapter(&f->p, LOCO_REGISTRY_USER, &a), LOCO_OK);
    a.version = "0.2"; /* same name: replaced */
    assert_int_equal(loco_registry_add_adapter(&f->p, LOCO_REGISTRY_USER, &a), LOCO_OK);
    struct loco_registry *r = loco_registry_load(&f->p);
    assert_non_null(r);
    const struct loco_registry_adapter *u = loco_registry_find(r, "u1");
    assert_non_null(u);
    assert_true(u->user);
    assert_string_equal(u->version, "0.2");
    assert_int_equal(u->targets.n, 2);
    assert_int_equal(loco_registry_n_adapters(r), 4);
    loco_registry_free(r);
    /* an adapter of an unknown domain is refused, nothing written */
    a.name = "u2";
    a.domain = "poetry";
    assert_int_equal(loco_registry_add_adapter(&f->p, LOCO_REGISTRY_USER, &a), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "poetry"));

    /* remove: project adapters refused, user ones removed (file deleted on request) */
    assert_int_equal(loco_registry_remove_adapter(&f->p, "m1", false, NULL, 0), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "project adapter"));
    char file[600], removed[600];
    snprintf(file, sizeof file, "%s/user/adapters", f->dir);
    mkdir(file, 0755);
    snprintf(file, sizeof file, "%s/user/adapters/x.gguf", f->dir);
    put_file(file, "x");
    assert_int_equal(loco_registry_remove_adapter(&f->p, "u1", false, removed, sizeof removed),
                     LOCO_OK);
    assert_string_equal(removed, file);
    assert_int_equal(access(file, F_OK), 0); /* kept without delete_file */
    assert_int_equal(loco_registry_remove_adapter(&f->p, "u1", true, NULL, 0), LOCO_ERR_NOT_FOUND);
    a.name = "u1";
    a.domain = "math";
    assert_int_equal(loco_registry_add_adapter(&f->p, LOCO_REGISTRY_USER, &a), LOCO_OK);
    assert_int_equal(loco_registry_remove_adapter(&f->p, "u1", true, NULL, 0), LOCO_OK);
    assert_int_equal(access(file, F_OK), -1);
    r = loco_registry_load(&f->p);
    assert_null(loco_registry_find(r, "u1"));
    loco_registry_free(r);
}

static void test_promote(void **state)
{
    struct fx *f = *state;
    char demoted[64], chosen[64];
    assert_int_equal(loco_registry_promote(&f->p, LOCO_REGISTRY_PROJECT, "m2", demoted,
                                           sizeof demoted), LOCO_OK);
    assert_string_equal(demoted, "m1");
    struct loco_registry *r = loco_registry_load(&f->p);
    assert_string_equal(loco_registry_active(r, "math")->name, "m2");
    assert_int_equal(loco_registry_find(r, "m1")->status, LOCO_REGISTRY_CANDIDATE);
    assert_string_equal(loco_registry_active(r, "code")->name, "c1"); /* other domains alone */
    loco_registry_free(r);

    /* --best: none qualifies yet */
    assert_int_equal(loco_registry_promote_best(&f->p, LOCO_REGISTRY_AUTO, "math", chosen,
                                                sizeof chosen, demoted, sizeof demoted),
                     LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "m1: no score on the primary benchmark"));
    /* m1 scores higher but failed its gate; m2 passed with a lower score */
    struct loco_registry_score s = good_score("gsm8k", 0.6, false);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "m1", &s), LOCO_OK);
    s = good_score("gsm8k", 0.3, true);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "m2", &s), LOCO_OK);
    assert_int_equal(loco_registry_promote(&f->p, LOCO_REGISTRY_AUTO, "m1", NULL, 0), LOCO_OK);
    assert_int_equal(loco_registry_promote_best(&f->p, LOCO_REGISTRY_AUTO, "math", chosen,
                                                sizeof chosen, demoted, sizeof demoted),
                     LOCO_OK);
    assert_string_equal(chosen, "m2");
    assert_string_equal(demoted, "m1");
    /* an overlay adapter that passed higher wins, and is promoted in the overlay */
    static const char *strs[] = {"a", "b", "q", "v"};
    struct loco_registry_adapter a = make_adapter("u1", "math", strs);
    assert_int_equal(loco_registry_add_adapter(&f->p, LOCO_REGISTRY_USER, &a), LOCO_OK);
    s = good_score("gsm8k", 0.5, true);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_USER, "u1", &s), LOCO_OK);
    assert_int_equal(loco_registry_promote_best(&f->p, LOCO_REGISTRY_AUTO, "math", chosen,
                                                sizeof chosen, demoted, sizeof demoted),
                     LOCO_OK);
    assert_string_equal(chosen, "u1");
    r = loco_registry_load(&f->p);
    assert_string_equal(loco_registry_active(r, "math")->name, "u1");
    assert_int_equal(loco_registry_find(r, "m2")->status, LOCO_REGISTRY_CANDIDATE);
    loco_registry_free(r);
    /* u1 fails an out-of-domain check: it no longer qualifies, m2 is chosen */
    s = good_score("mbpp", 0.1, false);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_USER, "u1", &s), LOCO_OK);
    assert_int_equal(loco_registry_promote_best(&f->p, LOCO_REGISTRY_AUTO, "math", chosen,
                                                sizeof chosen, demoted, sizeof demoted),
                     LOCO_OK);
    assert_string_equal(chosen, "m2");
    s = good_score("mbpp", 0.1, true); /* fixed: u1 qualifies again */
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_USER, "u1", &s), LOCO_OK);
    assert_int_equal(loco_registry_promote_best(&f->p, LOCO_REGISTRY_AUTO, "math", chosen,
                                                sizeof chosen, demoted, sizeof demoted),
                     LOCO_OK);
    assert_string_equal(chosen, "u1");
    s = good_score("mbpp", 0.1, false);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_USER, "u1", &s), LOCO_OK);
    s = good_score("gsm8k", 0.3, false);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "m2", &s), LOCO_OK);
    assert_int_equal(loco_registry_promote_best(&f->p, LOCO_REGISTRY_AUTO, "math", chosen,
                                                sizeof chosen, demoted, sizeof demoted),
                     LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "u1: its gate on mbpp did not pass"));
    /* the project layer cannot promote an overlay adapter */
    assert_int_equal(loco_registry_promote(&f->p, LOCO_REGISTRY_PROJECT, "u1", NULL, 0),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "user overlay"));
    assert_int_equal(loco_registry_promote_best(&f->p, LOCO_REGISTRY_AUTO, "poetry", NULL, 0,
                                                NULL, 0), LOCO_ERR_NOT_FOUND);
}

static void test_json(void **state)
{
    struct fx *f = *state;
    struct loco_registry_score s = good_score("gsm8k", 0.4, true);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "m1", &s), LOCO_OK);
    struct loco_registry *r = loco_registry_load(&f->p);
    char *j = loco_registry_adapter_json(r, loco_registry_find(r, "m1"));
    cJSON *o = cJSON_Parse(j);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "m1");
    assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "active");
    cJSON *ps = cJSON_GetObjectItem(o, "primary_score");
    assert_true(cJSON_GetObjectItem(ps, "score")->valuedouble == 0.4);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "scores")), 1);
    cJSON_Delete(o);
    free(j);
    j = loco_registry_json(r, "math");
    o = cJSON_Parse(j);
    assert_non_null(o);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "adapters")), 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "domains")), 2);
    cJSON *d0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "domains"), 0);
    assert_string_equal(cJSON_GetObjectItem(d0, "active")->valuestring, "m1");
    cJSON_Delete(o);
    free(j);
    loco_registry_free(r);
}

/* Round trip: what the writer emits reads back to the same values, and
 * strings that look like numbers stay strings. */
static void test_emit_roundtrip(void **state)
{
    struct rnode *m = rnode_new(RNODE_MAP);
    assert_int_equal(rnode_set(m, "year", rnode_str("2026")), LOCO_OK);
    assert_int_equal(rnode_set(m, "text", rnode_str("a: b # c")), LOCO_OK);
    assert_int_equal(rnode_set(m, "n", rnode_num(0.125)), LOCO_OK);
    char *text;
    size_t len;
    assert_int_equal(rnode_emit(m, &text, &len), LOCO_OK);
    assert_non_null(strstr(text, "year: \"2026\""));
    struct rnode *back;
    assert_int_equal(rnode_parse_text(text, len, "t", &back), LOCO_OK);
    assert_string_equal(rnode_get(back, "text")->str, "a: b # c");
    assert_string_equal(rnode_get(back, "n")->str, "0.125");
    assert_true(rnode_get(back, "year")->quoted);
    rnode_free(back);
    rnode_free(m);
    free(text);
}

/* ---- concurrency and crashes ---------------------------------------------- */

#define N_WRITERS 4
#define N_WRITES 15

static void test_concurrent_writers(void **state)
{
    struct fx *f = *state;
    static const char *names[] = {"m1", "m2", "c1", "m1"};
    pid_t kids[N_WRITERS];
    for (int w = 0; w < N_WRITERS; w++) {
        kids[w] = fork();
        assert_true(kids[w] >= 0);
        if (kids[w] == 0) {
            int bad = 0;
            for (int i = 0; i < N_WRITES; i++) {
                char bench[32];
                snprintf(bench, sizeof bench, "b%d_%d", w, i);
                struct loco_registry_score s = good_score(bench, 0.1 + 0.01 * i, true);
                enum loco_registry_layer layer = (i % 2) ? LOCO_REGISTRY_USER : LOCO_REGISTRY_PROJECT;
                bad += loco_registry_record_score(&f->p, layer, names[w], &s) != LOCO_OK;
                if (i % 5 == 0) { /* adapters too */
                    static const char *strs[] = {"a", "b", "q", "v"};
                    char nm[32];
                    snprintf(nm, sizeof nm, "w%d-%d", w, i);
                    struct loco_registry_adapter a = make_adapter(nm, "code", strs);
                    bad += loco_registry_add_adapter(&f->p, LOCO_REGISTRY_USER, &a) != LOCO_OK;
                }
            }
            _exit(bad);
        }
    }
    for (int w = 0; w < N_WRITERS; w++) {
        int st;
        assert_int_equal(waitpid(kids[w], &st, 0), kids[w]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    struct loco_registry *r = loco_registry_load(&f->p);
    assert_non_null(r);
    for (int w = 0; w < N_WRITERS; w++)
        for (int i = 0; i < N_WRITES; i++) {
            char bench[32];
            snprintf(bench, sizeof bench, "b%d_%d", w, i);
            assert_non_null(loco_registry_score(loco_registry_find(r, names[w]), bench));
            if (i % 5 == 0) {
                char nm[32];
                snprintf(nm, sizeof nm, "w%d-%d", w, i);
                assert_non_null(loco_registry_find(r, nm));
            }
        }
    assert_int_equal(loco_registry_n_adapters(r), 3 + N_WRITERS * 3);
    loco_registry_free(r);
}

static void pause_forever(const char *tmp)
{
    char flag[600];
    snprintf(flag, sizeof flag, "%s.ready", tmp);
    FILE *fp = fopen(flag, "w");
    if (fp)
        fclose(fp);
    for (;;)
        pause();
}

static void test_killed_writer(void **state)
{
    struct fx *f = *state;
    char *before = read_text(f->project);
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        loco_atomic_test_hook_before_rename = pause_forever;
        struct loco_registry_score s = good_score("gsm8k", 0.9, true);
        loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "m1", &s);
        _exit(3);
    }
    /* wait for the child to have written and synced its temporary file */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q 'registry.yaml.tmp-.*\\.ready'", f->dir);
    int ready = 0;
    for (int i = 0; i < 1000 && !ready; i++) {
        ready = system(cmd) == 0;
        if (!ready)
            usleep(10000);
    }
    assert_true(ready);
    assert_int_equal(kill(kid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(kid, &st, 0), kid);
    assert_true(WIFSIGNALED(st));
    /* the old file is intact and loads */
    char *after = read_text(f->project);
    assert_string_equal(before, after);
    struct loco_registry *r = loco_registry_load(&f->p);
    assert_non_null(r);
    assert_null(loco_registry_score(loco_registry_find(r, "m1"), "gsm8k"));
    loco_registry_free(r);
    /* the lock died with the writer; the next write works and clears its temp file */
    struct loco_registry_score s = good_score("gsm8k", 0.7, true);
    assert_int_equal(loco_registry_record_score(&f->p, LOCO_REGISTRY_PROJECT, "m1", &s), LOCO_OK);
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -qE 'registry.yaml.tmp-[^.]{6}$'", f->dir);
    assert_int_not_equal(system(cmd), 0);
    r = loco_registry_load(&f->p);
    assert_true(loco_registry_score(loco_registry_find(r, "m1"), "gsm8k")->score == 0.7);
    loco_registry_free(r);
    free(before);
    free(after);
}

/* ---- hostile YAML: aliases, depth, documents ------------------------------ */

/* A "billion laughs" registry: lol0 is a list of 10 scalars, each lolN a
 * list of 10 aliases of lol(N-1), so lol<levels-1> expands to 10^levels. */
static char *alias_bomb(int levels, const char *head)
{
    size_t cap = 4096 + (size_t)levels * 128;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, cap, "%slol:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n", head);
    for (int i = 1; i < levels; i++) {
        n += (size_t)snprintf(s + n, cap - n, "  l%d: &l%d [", i, i);
        for (int k = 0; k < 10; k++)
            n += (size_t)snprintf(s + n, cap - n, "*l%d%s", i - 1, k < 9 ? ", " : "]\n");
    }
    return s;
}

/* Load the bomb in a child whose address space is capped at 1 GiB (not
 * under ASan, which reserves more): the child exits 0 when the load was
 * refused with a message naming the alias, the file and a line. Before the
 * limits, the tree walker expanded the aliases (16-24 GB for 10 levels);
 * under the cap that ended in "out of memory" instead. */
static void expect_bomb_refused(struct fx *f, bool overlay)
{
    char *bomb = alias_bomb(10, overlay ? "" : "schema_version: 2\n");
    put_file(overlay ? f->user : f->project, bomb);
    free(bomb);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
#if !defined(__SANITIZE_ADDRESS__)
        struct rlimit cap = {1ul << 30, 1ul << 30};
        setrlimit(RLIMIT_AS, &cap);
#endif
        struct loco_registry *r = loco_registry_load(&f->p);
        const char *msg = loco_error_message();
        const char *file = overlay ? f->user : f->project;
        int ok = !r && strstr(msg, "alias *l") && strstr(msg, file) && strstr(msg, "yaml:");
        if (!ok)
            fprintf(stderr, "not refused as expected: %s\n", r ? "loaded" : msg);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_yaml_alias_bomb(void **state)
{
    struct fx *f = *state;
    expect_bomb_refused(f, false);
    write_project(f);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/user", f->dir);
    mkdir(dir, 0755);
    expect_bomb_refused(f, true); /* through the user overlay, as route and ask load it */
}

/* Aliases used modestly still work; cycles and unknown anchors do not. */
static void test_yaml_aliases_in_bounds(void **state)
{
    (void)state;
    struct rnode *t = NULL;
    const char ok[] = "a: &x {k: [1, 2]}\nb: *x\nc: [*x, *x]\n";
    assert_int_equal(rnode_parse_text(ok, strlen(ok), "ok.yaml", &t), LOCO_OK);
    assert_int_equal(rnode_get(rnode_get(t, "c")->kids[1], "k")->n, 2);
    rnode_free(t);
    const char cycle[] = "a: &x [1, *x, *x]\n";
    assert_int_not_equal(rnode_parse_text(cycle, strlen(cycle), "cycle.yaml", &t), LOCO_OK);
    assert_non_null(strstr(loco_error_message(), "cycle.yaml:1: alias *x is inside its own"));
    const char unknown[] = "a: 1\nb: *nope\n";
    assert_int_not_equal(rnode_parse_text(unknown, strlen(unknown), "u.yaml", &t), LOCO_OK);
    assert_non_null(strstr(loco_error_message(), "u.yaml:2:"));
    /* 1001 aliases of a scalar: too many, whatever they expand to */
    size_t cap = 16 + 1001 * 4, n = 0;
    char *many = malloc(cap);
    n += (size_t)snprintf(many, cap, "a: &s 1\nb: [");
    for (int i = 0; i < 1001; i++)
        n += (size_t)snprintf(many + n, cap - n, "*s,");
    many[n - 1] = ']';
    assert_int_not_equal(rnode_parse_text(many, n, "many.yaml", &t), LOCO_OK);
    assert_non_null(strstr(loco_error_message(), "more than 1000 YAML aliases"));
    free(many);
}

/* 100,000 levels of nesting are refused at level 34, without reading the
 * rest: even an unclosed document gets the depth error, not a syntax error
 * found after parsing everything (which took 97 s). */
static void test_yaml_deep_nesting(void **state)
{
    (void)state;
    enum { DEEP = 100000 };
    char *text = malloc(2 * DEEP + 16);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, 16, "a: ");
    memset(text + n, '[', DEEP);
    n += DEEP;
    text[n] = '\0';
    struct rnode *t = NULL;
    assert_int_equal(rnode_parse_text(text, n, "deep.yaml", &t), LOCO_ERR_RANGE);
    assert_non_null(strstr(loco_error_message(), "deep.yaml:1: nested deeper than"));
    memset(text + n, ']', DEEP); /* closed, too */
    n += DEEP;
    assert_int_equal(rnode_parse_text(text, n, "deep.yaml", &t), LOCO_ERR_RANGE);
    assert_non_null(strstr(loco_error_message(), "nested deeper than"));
    free(text);
}

/* A second document is an error naming its line, not silently dropped. */
static void test_yaml_second_document(void **state)
{
    struct fx *f = *state;
    put_file(f->project, "schema_version: 2\nadapters: []\n---\nadapters: [x]\n");
    assert_null(loco_registry_load_file(f->project, true));
    assert_non_null(strstr(loco_error_message(), "yaml:3: a second YAML document"));
    assert_non_null(strstr(loco_error_message(), f->project));
    struct rnode *t = NULL;
    const char one[] = "---\na: 1\n...\n"; /* one document with markers is fine */
    assert_int_equal(rnode_parse_text(one, strlen(one), "one.yaml", &t), LOCO_OK);
    rnode_free(t);
}

/* Fuzz-style: thousands of mutations of a real registry (random bytes and
 * YAML tokens: anchors, aliases, brackets, document markers) either parse
 * or fail with a message; never crash, leak (ASan) or blow up. */
static void test_yaml_mutations(void **state)
{
    (void)state;
    static const char *const tokens[] = {"&a ", "*a ", "&b ", "*b ", "[", "]", "{", "}",
                                         "---\n", "...\n", ": ", "- ", "\n  ", "'", "\"",
                                         "? ", ",", "!!str ", "&a [*a, *a] ", "\t", "#"};
    char a[2048], base[4096];
    adapter_yaml(a, sizeof a, "m1", "math", "active", NULL);
    snprintf(base, sizeof base, "%s%s", head_yaml, a);
    size_t base_len = strlen(base), cap = base_len + 4096;
    char *text = malloc(cap);
    assert_non_null(text);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(text, base, base_len);
        size_t n = base_len;
        int edits = 1 + iter % 8;
        for (int e = 0; e < edits; e++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(rng >> 33) % (n + 1);
            if ((rng >> 13) % 2) {
                const char *tok = tokens[(rng >> 20) % (sizeof tokens / sizeof tokens[0])];
                size_t tl = strlen(tok);
                if (n + tl >= cap)
                    continue;
                memmove(text + at + tl, text + at, n - at);
                memcpy(text + at, tok, tl);
                n += tl;
            } else if (at < n) {
                text[at] = (char)(rng >> 40);
            }
        }
        struct rnode *t = NULL;
        loco_error_clear();
        int rc = rnode_parse_text(text, n, "fuzz.yaml", &t);
        if (rc == LOCO_OK)
            rnode_free(t);
        else
            assert_true(strlen(loco_error_message()) > 0);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test_setup_teardown(test_load_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_problems, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_strategy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_vote_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_stay_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_on_values, setup, teardown),
        cmocka_unit_test(test_shipped_registry),
        cmocka_unit_test_setup_teardown(test_record_score, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_and_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test(test_emit_roundtrip),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_alias_bomb, setup, teardown),
        cmocka_unit_test(test_yaml_aliases_in_bounds),
        cmocka_unit_test(test_yaml_deep_nesting),
        cmocka_unit_test_setup_teardown(test_yaml_second_document, setup, teardown),
        cmocka_unit_test(test_yaml_mutations),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
