/*
 * loco/registry.h - the adapter registry: which adapters exist, for which
 * domain and base model, which one is active, and how they scored.
 *
 * Why it exists: the router needs the active adapter of each domain and its
 * keywords, the evaluation harness needs somewhere to record scores, and the
 * project lead needs to compare and promote adapters. All of that is one
 * YAML file, adapters/registry.yaml (schema v2, docs/registry.md), plus a
 * user overlay, $XDG_DATA_HOME/locollm/registry.yaml (default
 * ~/.local/share/locollm/registry.yaml), holding installed adapters and
 * local results.
 *
 * Merge rule (overlay over project): mappings merge key by key; any other
 * value in the overlay replaces the project's; `adapters` entries merge by
 * `name` (a new name adds an adapter, a known name overrides only the fields
 * the overlay gives); an adapter's `scores` merge by `benchmark`; the
 * overlay may not set `base_model`. An adapter the overlay marks active is
 * the active one of its domain: a project adapter of that domain marked
 * active is then seen as a candidate.
 *
 * Writes: every change is one transaction on one file: take an flock on
 * "<file>.lock" beside it, read the file, change it, write a temporary file
 * beside it, fsync, rename over the file. Readers never lock: they see the
 * old file or the new one, never a mix. Comments in a rewritten file are not
 * kept (a one-line header pointing at docs/registry.md is written instead).
 *
 * Every function returns LOCO_OK or a negative loco_status with a message
 * (loco_error_message()) that names the file, line, field and value; nothing
 * here prints.
 */
#ifndef LOCO_REGISTRY_H
#define LOCO_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_REGISTRY_SCHEMA_VERSION 2
#define LOCO_REGISTRY_PATH_MAX 4096

/* ---- where the files are ------------------------------------------------ */

/* The project registry: the `registry` of loco_project_locate() (loco/project.h:
 * $LOCO_REGISTRY, $LOCO_PROJECT_DIR, the working tree, beside the binary, the
 * user data folder); LOCO_ERR_NOT_FOUND listing where it looked. */
int loco_registry_project_path(char *buf, size_t cap);
/* The user overlay: $XDG_DATA_HOME/locollm/registry.yaml (when XDG_DATA_HOME
 * is an absolute path), else ~/.local/share/locollm/registry.yaml. */
int loco_registry_user_path(char *buf, size_t cap);

struct loco_registry_params {
    const char *project_path; /* NULL: loco_registry_project_path() */
    const char *user_path;    /* NULL: loco_registry_user_path(); "": no overlay */
    bool lenient;             /* load despite schema problems (they are listed instead) */
};

struct loco_registry_params loco_registry_default_params(void);

/* Which file a write goes to. */
enum loco_registry_layer {
    LOCO_REGISTRY_PROJECT = 0,
    LOCO_REGISTRY_USER = 1,
    LOCO_REGISTRY_AUTO = 2, /* promotion only: the project file when the adapter to promote is
                               defined there, else the user overlay */
};

/* ---- the merged view ---------------------------------------------------- */

enum loco_registry_status {
    LOCO_REGISTRY_CANDIDATE = 0,
    LOCO_REGISTRY_ACTIVE,
    LOCO_REGISTRY_RETIRED,
};

/* "candidate", "active", "retired". */
const char *loco_registry_status_name(enum loco_registry_status s);
/* LOCO_ERR_INVALID (message lists the three) for anything else. */
int loco_registry_status_parse(const char *s, enum loco_registry_status *out);

/* A list of strings owned by the registry. */
struct loco_registry_strs {
    const char *const *v;
    size_t n;
};

/* One benchmark result, derived from an evaluation record (`record` is the
 * JSON record's path, relative to the registry file that holds the entry).
 * Scores are fractions or metrics where higher is better. */
struct loco_registry_score {
    const char *benchmark; /* e.g. "gsm8k" */
    double score;
    double ci_low, ci_high; /* confidence interval of score */
    double base_score;      /* the base model on the same items */
    double p_value;         /* paired test against the base */
    bool passed;            /* the harness's gate: beats the base significantly, no regressions */
    int64_t n_items;
    const char *record;
};

struct loco_registry_base {
    const char *name;          /* e.g. "SmolLM2-135M-Instruct" */
    const char *file;          /* GGUF file name in the model cache (never a path) */
    const char *sha256;        /* of that file */
    const char *architecture;  /* general.architecture, e.g. "llama" */
    const char *academic_year; /* e.g. "2026" or "2026-27" */
};

struct loco_registry_domain {
    const char *name;
    const char *description;            /* "" when absent */
    const char *primary_benchmark;      /* what promote --best and list rank by */
    struct loco_registry_strs benchmarks; /* all benchmarks of the domain (primary included) */
    const char *strategy;               /* the default strategy (loco/strategy.h) of
                                           questions routed here; "" when absent: plain */
    /* a voted answer (sc, usc, ensemble) whose vote share is below
     * min_vote_share (0..1; 0 when absent: never below) abstains or falls
     * back to the base model, as below_threshold says ("abstain",
     * "fallback"; "" when absent: abstain); docs/strategies.md */
    double min_vote_share;
    const char *below_threshold;
};

struct loco_registry_provenance {
    const char *recipe;       /* path of the training recipe */
    const char *data;         /* what it was trained on */
    int64_t seed;             /* -1 when absent */
    const char *semester;     /* e.g. "2026-S2" */
    struct loco_registry_strs authors;
    const char *training_log; /* "" when absent */
};

struct loco_registry_adapter {
    const char *name;
    const char *domain;
    const char *version;
    const char *file;                   /* as written */
    const char *path;                   /* file resolved against the folder of the
                                           registry file that set it ("" when it
                                           leads out of it: docs/registry.md) */
    const char *sha256;                 /* of the adapter file */
    const char *base_sha256;            /* the base it was trained for */
    int32_t rank;
    double alpha;
    struct loco_registry_strs targets;  /* q, k, v, o, gate, up, down */
    struct loco_registry_provenance provenance;
    struct loco_registry_strs keywords; /* router keywords */
    struct loco_registry_strs examples; /* example queries */
    enum loco_registry_status status;
    const struct loco_registry_score *scores;
    size_t n_scores;
    const char *source; /* registry file that defines it */
    int32_t line;       /* its line there (0: unknown) */
    bool user;          /* defined by the user overlay (not only overridden there) */
};

struct loco_registry; /* opaque */

/* Load the project registry with the user overlay merged over it (a missing
 * overlay is an empty one; a missing project file is an error). Schema
 * problems fail the load with the first one named, unless p->lenient. `p`
 * may be NULL for the defaults. Free with loco_registry_free(). */
struct loco_registry *loco_registry_load(const struct loco_registry_params *p);
/* One file alone, as a complete registry (what `loco registry validate FILE`
 * checks). */
struct loco_registry *loco_registry_load_file(const char *path, bool lenient);
void loco_registry_free(struct loco_registry *r);

/* Every pointer below is owned by `r` and valid until loco_registry_free(). */
const struct loco_registry_base *loco_registry_base(const struct loco_registry *r);
/* The project registry file this view was loaded from. */
const char *loco_registry_file(const struct loco_registry *r);
/* The router the registry names (top-level `router:`), "" when it names
 * none (loco/router.h then uses "keyword"). */
const char *loco_registry_router(const struct loco_registry *r);
/* The adapter index the registry names (top-level `index:`, an http(s) URL
 * or a path taken from the project registry's folder; docs/sharing.md), ""
 * when it names none. */
const char *loco_registry_index(const struct loco_registry *r);
/* Top-level `serve_candidates: true`: candidates that have not passed their
 * gate serve their domain too (loco/router.h, "serving"); false when absent. */
bool loco_registry_serve_candidates(const struct loco_registry *r);
size_t loco_registry_n_domains(const struct loco_registry *r);
const struct loco_registry_domain *loco_registry_domain_at(const struct loco_registry *r, size_t i);
const struct loco_registry_domain *loco_registry_find_domain(const struct loco_registry *r,
                                                             const char *name);
size_t loco_registry_n_adapters(const struct loco_registry *r);
const struct loco_registry_adapter *loco_registry_adapter_at(const struct loco_registry *r,
                                                             size_t i);
/* NULL (and a LOCO_ERR_NOT_FOUND message listing the known names) when absent. */
const struct loco_registry_adapter *loco_registry_find(const struct loco_registry *r,
                                                       const char *name);
/* The active adapter of `domain`, or NULL (no message). */
const struct loco_registry_adapter *loco_registry_active(const struct loco_registry *r,
                                                         const char *domain);
/* The adapter's score on `benchmark`, or NULL. */
const struct loco_registry_score *loco_registry_score(const struct loco_registry_adapter *a,
                                                      const char *benchmark);
/* Its score on its domain's primary benchmark, or NULL. */
const struct loco_registry_score *loco_registry_primary_score(const struct loco_registry *r,
                                                              const struct loco_registry_adapter *a);

/* ---- as JSON (for --json output) ----------------------------------------- */

/* One adapter as a JSON object: every field, its primary benchmark and
 * score, and where it is defined. malloc'd, NUL-terminated; caller frees.
 * NULL when out of memory. */
char *loco_registry_adapter_json(const struct loco_registry *r,
                                 const struct loco_registry_adapter *a);
/* {"base_model": {...}, "domains": [...], "adapters": [...]} with the
 * adapters of `domain` only when it is not NULL. Same ownership. */
char *loco_registry_json(const struct loco_registry *r, const char *domain);

/* ---- problems and validation -------------------------------------------- */

struct loco_registry_problem {
    char file[LOCO_REGISTRY_PATH_MAX]; /* registry file (or the adapter file for file checks) */
    int32_t line;                      /* 1-based; 0 when unknown */
    char field[256];                   /* e.g. "adapters[math].lora.rank" */
    char value[256];                   /* the offending value ("" when missing) */
    char message[768];                 /* what is wrong and the fix */
};

/* Schema problems found while loading (lenient loads keep them). */
size_t loco_registry_n_problems(const struct loco_registry *r);
const struct loco_registry_problem *loco_registry_problem_at(const struct loco_registry *r,
                                                             size_t i);

/* Check what the schema cannot: each adapter file exists and has the
 * recorded sha256, is a LoRA adapter GGUF for the base's architecture,
 * records (locollm.base.sha256) the same base as the registry, and has the
 * recorded rank, alpha and targets; score records exist; the base model
 * file, when it is in the model cache, has the recorded sha256. Problems
 * are appended to r's list; returns how many problems r now has in all. */
size_t loco_registry_check_files(struct loco_registry *r);

/* ---- writing (each call is one locked, atomic transaction) -------------- */

/* Set or replace `adapter`'s entry for s->benchmark in `layer`'s file. The
 * adapter must exist in the merged registry; in the overlay a project
 * adapter gets an entry holding only its name and scores. The score must be
 * well-formed (finite numbers, ci_low <= score <= ci_high, p in [0, 1],
 * n_items >= 1, a record path). `p` may be NULL. */
int loco_registry_record_score(const struct loco_registry_params *p,
                               enum loco_registry_layer layer, const char *adapter,
                               const struct loco_registry_score *s);

/* Add `a` (every schema field set; source/line/user/path ignored) to
 * `layer`'s file, replacing an entry of the same name there. */
int loco_registry_add_adapter(const struct loco_registry_params *p,
                              enum loco_registry_layer layer,
                              const struct loco_registry_adapter *a);

/* Remove an adapter that the user overlay defines. A project adapter is
 * refused (LOCO_ERR_INVALID saying so). With delete_file, its file is
 * deleted too. removed_path (may be NULL) receives the adapter file's path. */
int loco_registry_remove_adapter(const struct loco_registry_params *p, const char *name,
                                 bool delete_file, char *removed_path, size_t cap);

/* Make `adapter` the active one of its domain in `layer`'s file; the
 * previous active adapter(s) of that domain become candidates. demoted
 * (may be NULL) receives the name of the adapter demoted ("" if none).
 * Writing the project layer needs the adapter to be defined there. */
int loco_registry_promote(const struct loco_registry_params *p, enum loco_registry_layer layer,
                          const char *adapter, char *demoted, size_t demoted_cap);

/* Pick, among `domain`'s non-retired adapters whose score on the domain's
 * primary benchmark has passed its gate, the one with the highest score
 * (ties: more items, then name) and promote it. LOCO_ERR_NOT_FOUND naming
 * each adapter and why it does not qualify when none does. chosen receives
 * the chosen adapter's name. */
int loco_registry_promote_best(const struct loco_registry_params *p,
                               enum loco_registry_layer layer, const char *domain, char *chosen,
                               size_t chosen_cap, char *demoted, size_t demoted_cap);

#ifdef __cplusplus
}
#endif
#endif
