/*
 * trend.c - how the system improved over the semesters, from the archived
 * records under results/<YYYY-Sn>/.
 *
 * For each domain and semester: the best adapter score on the in-domain
 * benchmark (the record's adapter.domain; the benchmark with in_domain
 * true, or gated for superiority in records that predate that field) over
 * every record archived in that semester. The composite of a semester is
 * the mean of those best scores over the domains that have one in that
 * semester; a domain with no record there is left out of the mean (not
 * counted as zero), and the table says how many domains each mean covers.
 *
 * Folders that are not named YYYY-S1 / YYYY-S2 are ignored; files in them
 * that are not readable records are skipped and listed.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loco/report.h"
#include "report/report_internal.h"

#define TREND_MAX_FILES 100000

struct trend_obs { /* one record's in-domain result */
    size_t semester;
    char *domain, *adapter;
    double score;
};

struct trend_cell {
    double best; /* NAN: no record */
    char *adapter;
};

struct loco_trend {
    char **semesters;
    size_t n_sem;
    char **domains;
    size_t n_dom;
    struct trend_cell *cells; /* [n_dom][n_sem] */
    size_t n_records;
    char **skipped;
    size_t n_skipped;
};

/* ---- a list of strings -------------------------------------------------------- */

struct strs {
    char **v;
    size_t n, cap;
};

static int strs_add(struct strs *s, const char *text)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory listing results");
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n] = strdup(text);
    if (!s->v[s->n])
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory listing results");
    s->n++;
    return LOCO_OK;
}

static void strs_free(struct strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_semester(const char *name)
{
    return strlen(name) == 7 && strspn(name, "0123456789") == 4 && name[4] == '-' &&
           name[5] == 'S' && (name[6] == '1' || name[6] == '2');
}

/* Names in dir that pass keep(), sorted. */
static int list_dir(const char *dir, bool (*keep)(const char *), struct strs *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "no results folder %s (records are archived there by `loco "
                              "report archive RECORD.json`)",
                              dir);
    struct dirent *e;
    int rc = LOCO_OK;
    while (!rc && (e = readdir(d)) != NULL)
        if (keep(e->d_name)) {
            rc = out->n < TREND_MAX_FILES
                     ? strs_add(out, e->d_name)
                     : loco_error_set(LOCO_ERR_RANGE, "%s holds over %d records", dir,
                                      TREND_MAX_FILES);
        }
    closedir(d);
    if (!rc && out->n)
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return rc;
}

static bool is_json(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

/* ---- reading the records ---------------------------------------------------------- */

struct loader {
    struct strs skipped;
    struct trend_obs *obs;
    size_t n_obs, cap_obs;
    size_t n_records;
};

static int add_obs(struct loader *l, size_t sem, const char *domain, const char *adapter,
                   double score)
{
    if (l->n_obs == l->cap_obs) {
        size_t cap = l->cap_obs ? l->cap_obs * 2 : 32;
        struct trend_obs *o = realloc(l->obs, cap * sizeof *o);
        if (!o)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading results");
        l->obs = o;
        l->cap_obs = cap;
    }
    struct trend_obs *o = &l->obs[l->n_obs];
    o->semester = sem;
    o->score = score;
    o->domain = strdup(domain);
    o->adapter = strdup(adapter);
    if (!o->domain || !o->adapter) {
        free(o->domain);
        free(o->adapter);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading results");
    }
    l->n_obs++;
    return LOCO_OK;
}

static int skip(struct loader *l, const char *path, const char *why)
{
    struct loco_sbuf b = {.max = REPORT_MAX_OUTPUT};
    loco_sbuf_printf(&b, "%s: %s", path, why);
    char *line = report_buf_finish(&b);
    int rc = line ? strs_add(&l->skipped, line) : LOCO_ERR_NOMEM;
    free(line);
    return rc;
}

/* One record file: its in-domain adapter score, if it has one. */
static int read_one(struct loader *l, size_t sem, const char *path)
{
    char *text = NULL;
    if (loco_report_read_file(path, &text, NULL) != LOCO_OK)
        return skip(l, path, loco_error_message());
    struct report_record r;
    int rc = report_record_parse(text, &r);
    free(text);
    if (rc)
        return skip(l, path, loco_error_message());
    l->n_records++;
    for (size_t i = 0; !rc && i < r.n && r.adapter_domain; i++)
        if (r.b[i].in_domain && isfinite(r.b[i].adapter)) {
            rc = add_obs(l, sem, r.adapter_domain, r.adapter_name ? r.adapter_name : "?",
                         r.b[i].adapter);
            break;
        }
    report_record_free(&r);
    return rc;
}

static int read_semester(struct loader *l, const char *results_dir, size_t sem, const char *name)
{
    char dir[4200], path[4600];
    snprintf(dir, sizeof dir, "%s/%s", results_dir, name);
    struct strs files = {0};
    int rc = list_dir(dir, is_json, &files);
    for (size_t i = 0; !rc && i < files.n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files.v[i]);
        rc = read_one(l, sem, path);
    }
    strs_free(&files);
    return rc;
}

/* ---- the table ---------------------------------------------------------------------- */

static int build(struct loco_trend *t, struct loader *l)
{
    struct strs doms = {0};
    for (size_t i = 0; i < l->n_obs; i++) {
        bool seen = false;
        for (size_t d = 0; d < doms.n && !seen; d++)
            seen = !strcmp(doms.v[d], l->obs[i].domain);
        if (!seen && strs_add(&doms, l->obs[i].domain)) {
            strs_free(&doms);
            return LOCO_ERR_NOMEM;
        }
    }
    qsort(doms.v, doms.n, sizeof *doms.v, cmp_str);
    t->domains = doms.v;
    t->n_dom = doms.n;
    t->cells = calloc(t->n_dom * t->n_sem, sizeof *t->cells);
    if (!t->cells)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory building the trend");
    for (size_t i = 0; i < t->n_dom * t->n_sem; i++)
        t->cells[i].best = NAN;
    for (size_t i = 0; i < l->n_obs; i++) {
        size_t d = 0;
        while (strcmp(t->domains[d], l->obs[i].domain))
            d++;
        struct trend_cell *c = &t->cells[d * t->n_sem + l->obs[i].semester];
        if (isnan(c->best) || l->obs[i].score > c->best) {
            c->best = l->obs[i].score;
            c->adapter = l->obs[i].adapter; /* borrowed from the loader until handed over */
        }
    }
    for (size_t i = 0; i < t->n_dom * t->n_sem; i++)
        if (t->cells[i].adapter && !(t->cells[i].adapter = strdup(t->cells[i].adapter)))
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory building the trend");
    return LOCO_OK;
}

static void loader_free(struct loader *l)
{
    for (size_t i = 0; i < l->n_obs; i++) {
        free(l->obs[i].domain);
        free(l->obs[i].adapter);
    }
    free(l->obs);
    strs_free(&l->skipped);
}

int loco_trend_load(const char *results_dir, struct loco_trend **out)
{
    *out = NULL;
    char def[4096];
    if (!results_dir) {
        int rc = loco_results_default_dir(def, sizeof def);
        if (rc)
            return rc;
        results_dir = def;
    }
    struct loco_trend *t = calloc(1, sizeof *t);
    if (!t)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    struct strs sems = {0};
    struct loader l = {0};
    int rc = list_dir(results_dir, is_semester, &sems);
    t->semesters = sems.v;
    t->n_sem = sems.n;
    for (size_t s = 0; !rc && s < t->n_sem; s++)
        rc = read_semester(&l, results_dir, s, t->semesters[s]);
    if (!rc && l.n_obs == 0)
        rc = loco_error_set(LOCO_ERR_NOT_FOUND,
                            "no evaluation record with an in-domain score under %s/<YYYY-S1|"
                            "YYYY-S2>/ (%zu records read, %zu skipped)",
                            results_dir, l.n_records, l.skipped.n);
    if (!rc)
        rc = build(t, &l);
    t->n_records = l.n_records;
    t->skipped = l.skipped.v;
    t->n_skipped = l.skipped.n;
    l.skipped.v = NULL;
    l.skipped.n = 0;
    loader_free(&l);
    if (rc) {
        loco_trend_free(t);
        return rc;
    }
    *out = t;
    return LOCO_OK;
}

void loco_trend_free(struct loco_trend *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_sem; i++)
        free(t->semesters[i]);
    free(t->semesters);
    for (size_t i = 0; i < t->n_dom; i++)
        free(t->domains[i]);
    free(t->domains);
    for (size_t i = 0; t->cells && i < t->n_dom * t->n_sem; i++)
        free(t->cells[i].adapter);
    free(t->cells);
    for (size_t i = 0; i < t->n_skipped; i++)
        free(t->skipped[i]);
    free(t->skipped);
    free(t);
}

/* ---- accessors ------------------------------------------------------------------------ */

size_t loco_trend_n_semesters(const struct loco_trend *t)
{
    return t->n_sem;
}
const char *loco_trend_semester(const struct loco_trend *t, size_t s)
{
    return s < t->n_sem ? t->semesters[s] : NULL;
}
size_t loco_trend_n_domains(const struct loco_trend *t)
{
    return t->n_dom;
}
const char *loco_trend_domain(const struct loco_trend *t, size_t d)
{
    return d < t->n_dom ? t->domains[d] : NULL;
}
size_t loco_trend_n_records(const struct loco_trend *t)
{
    return t->n_records;
}
size_t loco_trend_n_skipped(const struct loco_trend *t)
{
    return t->n_skipped;
}
const char *loco_trend_skipped(const struct loco_trend *t, size_t i)
{
    return i < t->n_skipped ? t->skipped[i] : NULL;
}

double loco_trend_best(const struct loco_trend *t, size_t d, size_t s)
{
    return d < t->n_dom && s < t->n_sem ? t->cells[d * t->n_sem + s].best : NAN;
}

const char *loco_trend_best_adapter(const struct loco_trend *t, size_t d, size_t s)
{
    return d < t->n_dom && s < t->n_sem ? t->cells[d * t->n_sem + s].adapter : NULL;
}

double loco_trend_composite(const struct loco_trend *t, size_t s, size_t *n_domains)
{
    double sum = 0;
    size_t n = 0;
    for (size_t d = 0; d < t->n_dom; d++) {
        double v = loco_trend_best(t, d, s);
        if (!isnan(v)) {
            sum += v;
            n++;
        }
    }
    if (n_domains)
        *n_domains = n;
    return n ? sum / (double)n : NAN;
}
