/*
 * loco/report.h - what people read about evaluations: the Markdown and HTML
 * report of one evaluation record, the results archive (one folder per
 * semester), the trend over semesters, and the leaderboard built from the
 * registry's scores.
 *
 * Why it exists: the evaluation record ("locollm-eval/1", written by `loco
 * eval`) holds everything needed to audit a result item by item, but it is
 * JSON for machines. The functions here turn it into a report a student can
 * read (tables, the gate and its reason, example items) and a self-contained
 * HTML page with SVG charts (no scripts, no external URLs), keep records
 * per semester under results/, and draw how each domain's best adapter and
 * the whole system improved over the semesters. docs/reports.md describes
 * the output; the rules that matter:
 *
 *   - semester of a date: January-June = YYYY-S1, July-December = YYYY-S2
 *     (2026-11-27 -> 2026-S2);
 *   - archive name: results/<semester>/<adapter>-<benchmarks>-<date>.json,
 *     with .md and .html rendered beside it; archiving the same record again
 *     changes nothing;
 *   - trend: per domain and semester the best adapter score on the domain's
 *     in-domain benchmark; composite = mean over the domains that have such
 *     a score in that semester (a domain without a record is left out of
 *     that semester's mean, not counted as zero).
 *
 * The record parser is tolerant: unknown fields are shown under "Other
 * fields", missing optional ones as "-". A text that is not JSON, or JSON
 * that is not an evaluation record, is refused with LOCO_ERR_FORMAT.
 *
 * Every function returns LOCO_OK or a negative loco_status, or NULL, with a
 * message (loco_error_message()) naming the file or field; nothing prints.
 * Every file is written atomically (loco/fileio.h).
 */
#ifndef LOCO_REPORT_H
#define LOCO_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The "record" field of the evaluation records this module reads. */
#define LOCO_REPORT_RECORD_KIND "locollm-eval/1"
/* Records larger than this are refused (bytes). */
#define LOCO_REPORT_MAX_RECORD (512u << 20)

/* ---- one evaluation record ---------------------------------------------- */

/* The report of `record_json` (the text of a locollm-eval/1 record) as
 * Markdown / as one self-contained HTML page with inline CSS and SVG charts
 * (scores with their CIs; a forest plot of the paired differences with the
 * zero line and the non-inferiority margin). malloc'd, NUL-terminated;
 * caller frees. NULL with LOCO_ERR_FORMAT when the text is not JSON or not
 * an evaluation record. */
char *loco_report_markdown(const char *record_json);
char *loco_report_html(const char *record_json);

/* Read the record at `record_json_path` and write its reports beside it:
 * STEM.md and STEM.html, where STEM is the path without ".json". */
int loco_report_write(const char *record_json_path);

/* Read a whole file (at most LOCO_REPORT_MAX_RECORD bytes) into a malloc'd,
 * NUL-terminated buffer; *len (may be NULL) receives its length. */
int loco_report_read_file(const char *path, char **text, size_t *len);

/* ---- the results archive -------------------------------------------------- */

/* "YYYY-S1" for January-June, "YYYY-S2" for July-December of a date that
 * starts "YYYY-MM" (ISO 8601, as records write it). LOCO_ERR_FORMAT naming
 * the date otherwise. */
int loco_results_semester(const char *date, char *buf, size_t cap);

/* Where records are archived: $LOCO_RESULTS_DIR when set, else
 * <project>/results. */
int loco_results_default_dir(char *buf, size_t cap);

/* Copy a record (a path, or the JSON text itself when it starts with '{')
 * into results_dir/<semester>/<adapter>-<benchmarks>-<date>.json (folders
 * created as needed; results_dir NULL: the default), byte for byte, and
 * render .md and .html beside it. Archiving the same record again finds
 * the same file and rewrites only its reports; a different record that
 * would take the same name gets "-2", "-3", ... out_path (may be NULL)
 * receives the archived JSON's path. */
int loco_results_archive(const char *record_json_path_or_text, const char *results_dir,
                         char *out_path, size_t cap);

/* ---- the trend over semesters ------------------------------------------- */

struct loco_trend; /* opaque */

/* Read every results_dir/<YYYY-Sn>/ *.json record (results_dir NULL: the
 * default). Files that are not readable records are skipped and listed
 * (loco_trend_skipped). LOCO_ERR_NOT_FOUND when no record has an in-domain
 * score. Free with loco_trend_free(). */
int loco_trend_load(const char *results_dir, struct loco_trend **out);
void loco_trend_free(struct loco_trend *t);

/* Semesters in order (oldest first), domains in name order. Pointers are
 * owned by t. */
size_t loco_trend_n_semesters(const struct loco_trend *t);
const char *loco_trend_semester(const struct loco_trend *t, size_t s);
size_t loco_trend_n_domains(const struct loco_trend *t);
const char *loco_trend_domain(const struct loco_trend *t, size_t d);
/* Best in-domain adapter score of domain d in semester s (NAN when there is
 * none) and the adapter that scored it (NULL when none). */
double loco_trend_best(const struct loco_trend *t, size_t d, size_t s);
const char *loco_trend_best_adapter(const struct loco_trend *t, size_t d, size_t s);
/* Mean of loco_trend_best over the domains that have one in semester s
 * (NAN when none has); *n_domains (may be NULL) receives how many. */
double loco_trend_composite(const struct loco_trend *t, size_t s, size_t *n_domains);
size_t loco_trend_n_records(const struct loco_trend *t);
/* Files skipped as unreadable, each "PATH: why". */
size_t loco_trend_n_skipped(const struct loco_trend *t);
const char *loco_trend_skipped(const struct loco_trend *t, size_t i);

/* A standalone SVG line chart (x: semesters, y: score 0..1; one line per
 * domain and a thicker composite line; points alone for one semester), a
 * Markdown table, and an HTML page with both. malloc'd; caller frees. */
char *loco_trend_svg(const struct loco_trend *t);
char *loco_trend_markdown(const struct loco_trend *t);
char *loco_trend_html(const struct loco_trend *t);

/* ---- the leaderboard ------------------------------------------------------ */

struct loco_leaderboard_params {
    const char *domain; /* only this domain; NULL: all (LOCO_ERR_NOT_FOUND listing the
                           domains when it is not one) */
    bool all;           /* a row per adapter and scored benchmark, not only the primary */
};

struct loco_leaderboard_params loco_leaderboard_default_params(void);

/* One row: an adapter and one benchmark. Strings are borrowed from the
 * registry the leaderboard was built from. */
struct loco_leaderboard_row {
    int32_t rank; /* 1-based within domain and benchmark; 0: no score */
    const char *name;
    const char *domain;
    const char *benchmark;
    const char *status; /* candidate, active, retired */
    bool active;
    bool primary;   /* the domain's primary benchmark */
    bool has_score; /* false: the numbers below are NAN and n_items 0 */
    double score, ci_low, ci_high, base_score, gain, p_value;
    bool passed; /* the registry's passed: the gate does not stop a promotion */
    /* the gate and its verdict, from the score's record when it can be read
     * (its benchmark's "gate" and "verdict"), else derived: superiority on
     * the domain's own benchmarks, non-inferiority elsewhere; uninformative
     * for non-inferiority when base_score < 0.05, the default margin (the
     * floor rule, loco_stats_ni_informative); NULL without a score */
    const char *gate;    /* "superiority", "non-inferiority" */
    const char *verdict; /* "PASS", "FAIL", "uninformative" */
    int64_t n_items;
    const char *record; /* the evaluation record ("" without a score) */
};

struct loco_leaderboard {
    struct loco_leaderboard_row *rows;
    size_t n;
};

/* Rows grouped by domain (registry order), then benchmark (primary first),
 * ranked by score (ties: more items, then name; rows without a score last,
 * rank 0). Without p->all an adapter has one row, on its domain's primary
 * benchmark. The rows borrow strings from r: free the leaderboard before r. */
int loco_leaderboard_build(const struct loco_registry *r, const struct loco_leaderboard_params *p,
                           struct loco_leaderboard *out);
void loco_leaderboard_free(struct loco_leaderboard *lb);

/* Renderings; malloc'd, caller frees. JSON: a list of row objects (rank,
 * name, domain, benchmark, score, ci_low, ci_high, base_score, gain,
 * p_value, passed, gate, verdict, active, status, n_items, record; null
 * where unknown). */
char *loco_leaderboard_markdown(const struct loco_leaderboard *lb);
char *loco_leaderboard_html(const struct loco_leaderboard *lb);
char *loco_leaderboard_json(const struct loco_leaderboard *lb);

#ifdef __cplusplus
}
#endif
#endif
