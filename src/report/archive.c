/*
 * archive.c - evaluation records kept per semester:
 *
 *   results/<semester>/<adapter>-<benchmarks>-<date>.json   the record, byte for byte
 *   results/<semester>/<adapter>-<benchmarks>-<date>.md     its report
 *   results/<semester>/<adapter>-<benchmarks>-<date>.html   its report with charts
 *
 * The semester comes from the record's own date (January-June: YYYY-S1,
 * July-December: YYYY-S2), so archiving later, or on another machine,
 * files a record in the same place. The record is copied as it is, not
 * re-serialised: the archive is the audit trail.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loco/fileio.h"
#include "loco/models.h"
#include "loco/project.h"
#include "loco/report.h"
#include "report/report_internal.h"

#define NAME_PART_MAX 96 /* characters of a file name taken from the benchmarks */

int loco_results_semester(const char *date, char *buf, size_t cap)
{
    bool ok = date && strlen(date) >= 7 && date[4] == '-';
    for (int i = 0; ok && i < 7; i++)
        ok = i == 4 || isdigit((unsigned char)date[i]);
    int month = ok ? (date[5] - '0') * 10 + (date[6] - '0') : 0;
    if (!ok || month < 1 || month > 12)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "date '%.40s' does not start YYYY-MM (records write ISO 8601 "
                              "dates such as 2026-11-27T10:15:00Z)",
                              date ? date : "");
    int n = snprintf(buf, cap, "%.4s-S%d", date, month <= 6 ? 1 : 2);
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "no room for a semester name");
    return LOCO_OK;
}

static int results_path(char *buf, size_t cap, int n)
{
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "the results folder path is too long");
    return LOCO_OK;
}

int loco_results_default_dir(char *buf, size_t cap)
{
    const char *env = getenv("LOCO_RESULTS_DIR");
    if (env && env[0])
        return results_path(buf, cap, snprintf(buf, cap, "%s", env));
    struct loco_project_location *proj = malloc(sizeof *proj);
    if (!proj)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory locating the project");
    int rc = loco_project_locate(NULL, proj);
    if (rc == LOCO_OK)
        rc = results_path(buf, cap, snprintf(buf, cap, "%s/results", proj->root));
    else
        loco_error_prefix("no results folder (set LOCO_RESULTS_DIR or pass one)");
    free(proj);
    return rc;
}

/* ---- the archived name ------------------------------------------------------ */

/* Append s to buf (at *len), keeping letters, digits, '.', '_', '-' and
 * turning anything else into '_'. */
static void put_safe(char *buf, size_t cap, size_t *len, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max && *len + 1 < cap; i++) {
        char c = s[i];
        bool keep = isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
        if (c == '.' && *len == 0)
            keep = false; /* no hidden files */
        buf[(*len)++] = keep ? c : '_';
    }
    buf[*len] = '\0';
}

static void put_char(char *buf, size_t cap, size_t *len, char c)
{
    if (*len + 1 < cap) {
        buf[(*len)++] = c;
        buf[*len] = '\0';
    }
}

/* A custom benchmark is a path: keep its file name without ".jsonl". */
static void put_bench(char *buf, size_t cap, size_t *len, const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    size_t n = strlen(base);
    if (n > 6 && !strcmp(base + n - 6, ".jsonl"))
        n -= 6;
    put_safe(buf, cap, len, base, n);
}

/* "<adapter>-<bench>+<bench>-<date without colons>" */
static void archive_stem(const struct report_record *r, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    put_safe(buf, cap, &len, r->adapter_name && r->adapter_name[0] ? r->adapter_name : "record",
             64);
    for (size_t i = 0; i < r->n && len < NAME_PART_MAX + 64; i++) {
        put_char(buf, cap, &len, i ? '+' : '-');
        put_bench(buf, cap, &len, r->b[i].name);
    }
    char date[40];
    size_t d = 0;
    for (size_t i = 0; r->date[i] && d + 1 < sizeof date; i++)
        if (r->date[i] != ':')
            date[d++] = r->date[i];
    date[d] = '\0';
    put_char(buf, cap, &len, '-');
    put_safe(buf, cap, &len, date, sizeof date);
}

/* ---- copying ------------------------------------------------------------------ */

/* 1: path holds exactly text; 0: it does not exist; -1: it holds something else. */
static int same_file(const char *path, const char *text, size_t len)
{
    char *old = NULL;
    size_t n = 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    /* a FIFO or folder of that name is refused at once: another name is picked */
    if (loco_report_read_file(path, &old, &n) != LOCO_OK)
        return -1;
    int same = n == len && memcmp(old, text, len) == 0;
    free(old);
    return same ? 1 : -1;
}

/* Pick dir/stem.json, or dir/stem-K.json when another record has that name. */
static int pick_path(const char *dir, const char *stem, const char *text, size_t len, char *path,
                     size_t cap, bool *exists)
{
    for (int k = 1; k < 1000; k++) {
        char suffix[16] = "";
        if (k > 1)
            snprintf(suffix, sizeof suffix, "-%d", k);
        int n = snprintf(path, cap, "%s/%s%s.json", dir, stem, suffix);
        if (n < 0 || (size_t)n >= cap)
            return loco_error_set(LOCO_ERR_RANGE, "the archive path %s/%s.json is too long", dir,
                                  stem);
        int same = same_file(path, text, len);
        if (same >= 0) {
            *exists = same == 1;
            return LOCO_OK;
        }
    }
    return loco_error_set(LOCO_ERR_RANGE, "%s/%s.json: 999 different records with this name", dir,
                          stem);
}

static int load_record_text(const char *path_or_text, char **text, size_t *len)
{
    const char *p = path_or_text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p != '{')
        return loco_report_read_file(path_or_text, text, len);
    *len = strlen(path_or_text);
    *text = malloc(*len + 1);
    if (!*text)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory copying the record");
    memcpy(*text, path_or_text, *len + 1);
    return LOCO_OK;
}

static int archive_text(const char *text, size_t len, const char *results_dir, char *out_path,
                        size_t cap)
{
    struct report_record r;
    int rc = report_record_parse(text, &r);
    if (rc)
        return rc;
    char semester[16], dir[4096], stem[256], path[4400];
    rc = loco_results_semester(r.date, semester, sizeof semester);
    if (rc)
        loco_error_prefix("the record's date");
    int n = rc ? 0 : snprintf(dir, sizeof dir, "%s/%s", results_dir, semester);
    if (!rc && (n < 0 || (size_t)n >= sizeof dir))
        rc = loco_error_set(LOCO_ERR_RANGE, "the results folder path is too long");
    if (!rc)
        archive_stem(&r, stem, sizeof stem);
    report_record_free(&r);
    bool exists = false;
    if (!rc)
        rc = loco_models_mkdirs(dir);
    if (!rc)
        rc = pick_path(dir, stem, text, len, path, sizeof path, &exists);
    if (!rc && !exists)
        rc = loco_file_write_atomic(path, text, len);
    if (!rc)
        rc = loco_report_write(path);
    if (!rc && out_path && snprintf(out_path, cap, "%s", path) >= (int)cap)
        rc = loco_error_set(LOCO_ERR_RANGE, "no room for the archived path %s", path);
    return rc;
}

int loco_results_archive(const char *record_json_path_or_text, const char *results_dir,
                         char *out_path, size_t cap)
{
    if (!record_json_path_or_text)
        return loco_error_set(LOCO_ERR_INVALID, "no record to archive");
    char def[4096];
    if (!results_dir) {
        int rc = loco_results_default_dir(def, sizeof def);
        if (rc)
            return rc;
        results_dir = def;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = load_record_text(record_json_path_or_text, &text, &len);
    if (!rc)
        rc = archive_text(text, len, results_dir, out_path, cap);
    free(text);
    return rc;
}
