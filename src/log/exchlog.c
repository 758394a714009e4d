/*
 * exchlog.c - the exchange log (see loco/exchlog.h): one SQLite file with a
 * table of exchanges and a table of judgements on them.
 *
 * Every statement binds its values (nothing is pasted into SQL), so a query
 * or an answer may hold any text. A record read back keeps its strings in
 * one block, so freeing it is one call.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "loco/exchlog.h"
#include "loco/models.h" /* loco_models_mkdirs */

#define SCHEMA_VERSION 1
#define APPLICATION_ID 0x4c6f4c67 /* "LoLg"; the evaluation cache is "LoCo" */
#define BUSY_TIMEOUT_MS 30000

struct loco_exchlog {
    sqlite3 *db;
    char path[4096];
};

static const char *const schema_sql =
    "CREATE TABLE exchanges ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),"
    " command TEXT NOT NULL, query TEXT NOT NULL,"
    " router TEXT NOT NULL, domain TEXT NOT NULL, adapter TEXT NOT NULL,"
    " confidence REAL, probabilities TEXT, reason TEXT NOT NULL,"
    " answer TEXT, model TEXT NOT NULL, model_sha256 TEXT NOT NULL,"
    " prompt_tokens INTEGER, generated_tokens INTEGER,"
    " route_ms REAL, first_token_ms REAL, total_ms REAL);"
    "CREATE INDEX exchanges_domain ON exchanges (domain);"
    "CREATE TABLE feedback ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " exchange INTEGER NOT NULL REFERENCES exchanges (id),"
    " time TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),"
    " verdict TEXT NOT NULL CHECK (verdict IN ('good', 'bad')),"
    " domain TEXT);"
    "CREATE INDEX feedback_exchange ON feedback (exchange);";

/* ---- the file -------------------------------------------------------------- */

static int put_path(char *buf, size_t cap, int n)
{
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "the exchange log's path is too long");
    return LOCO_OK;
}

int loco_exchlog_path(char *buf, size_t cap)
{
    const char *env = getenv("LOCO_LOG_DB");
    if (env && env[0])
        return put_path(buf, cap, snprintf(buf, cap, "%s", env));
    int rc = loco_user_path(LOCO_USER_DATA, LOCO_EXCHLOG_FILE, buf, cap);
    if (rc == LOCO_ERR_NOT_FOUND)
        return loco_error_set(rc, "no home directory for the exchange log; set LOCO_LOG_DB");
    if (rc)
        return loco_error_set(rc, "the exchange log's path is too long");
    return LOCO_OK;
}

bool loco_exchlog_disabled(void)
{
    const char *env = getenv("LOCO_NO_LOG");
    return env && env[0] && strcmp(env, "0") != 0;
}

static int db_error(const struct loco_exchlog *log, const char *what)
{
    return loco_error_set(LOCO_ERR_IO, "exchange log %s: %s: %s", log->path, what,
                          sqlite3_errmsg(log->db));
}

static int not_a_log(const struct loco_exchlog *log)
{
    return loco_error_set(LOCO_ERR_FORMAT, "%s is not an exchange log (not an SQLite "
                          "database); move it away or set LOCO_LOG_DB to another file",
                          log->path);
}

static int exec(struct loco_exchlog *log, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(log->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return LOCO_OK;
    int rc = sqlite3_errcode(log->db) == SQLITE_NOTADB
                 ? not_a_log(log)
                 : loco_error_set(LOCO_ERR_IO, "exchange log %s: %s", log->path,
                                  msg ? msg : sqlite3_errmsg(log->db));
    sqlite3_free(msg);
    return rc;
}

static int prepare(struct loco_exchlog *log, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(log->db, sql, -1, st, NULL) == SQLITE_OK)
        return LOCO_OK;
    *st = NULL;
    return sqlite3_errcode(log->db) == SQLITE_NOTADB ? not_a_log(log)
                                                     : db_error(log, "preparing a statement");
}

/* One integer from a statement without parameters (a PRAGMA, a count). */
static int query_int(struct loco_exchlog *log, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = prepare(log, sql, &st);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (step == SQLITE_ROW)
        return LOCO_OK;
    return sqlite3_errcode(log->db) == SQLITE_NOTADB ? not_a_log(log)
                                                     : db_error(log, "reading its header");
}

/* Inside a write transaction: a new, empty file gets our header and tables;
 * anything else must carry our application id and schema version. An
 * SQLite file with tables of its own but no application id is someone
 * else's database, not a new log. */
static int check_schema_locked(struct loco_exchlog *log)
{
    int64_t app = 0, version = 0, n_objects = 0;
    int rc = query_int(log, "PRAGMA application_id", &app);
    if (!rc)
        rc = query_int(log, "PRAGMA user_version", &version);
    if (!rc)
        rc = query_int(log, "SELECT count(*) FROM sqlite_master", &n_objects);
    if (rc)
        return rc;
    if (app == 0 && version == 0 && n_objects == 0) {
        char header[128];
        snprintf(header, sizeof header, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                 APPLICATION_ID, SCHEMA_VERSION);
        rc = exec(log, header);
        return rc ? rc : exec(log, schema_sql);
    }
    if (app != APPLICATION_ID)
        return loco_error_set(LOCO_ERR_FORMAT, "%s is an SQLite database but not a LocoLLM "
                              "exchange log; set LOCO_LOG_DB to another file", log->path);
    if (version != SCHEMA_VERSION)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "%s has exchange-log schema %d; this loco "
                              "reads %d", log->path, (int)version, SCHEMA_VERSION);
    return LOCO_OK;
}

/* Check and creation are one write transaction: two processes opening a new
 * log at once must not see each other's half-written header. */
static int check_schema(struct loco_exchlog *log)
{
    int rc = exec(log, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    rc = check_schema_locked(log);
    int end = exec(log, rc ? "ROLLBACK" : "COMMIT");
    return rc ? rc : end;
}

/* The folder of `path`, created when missing. */
static int make_folder(const char *path)
{
    char dir[4096];
    loco_dir_of(path, dir, sizeof dir);
    if (!strcmp(dir, ".") || !strcmp(dir, "/"))
        return LOCO_OK;
    return loco_models_mkdirs(dir);
}

int loco_exchlog_open(const char *path, struct loco_exchlog **out)
{
    *out = NULL;
    struct loco_exchlog *log = calloc(1, sizeof *log);
    if (!log)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory opening the exchange log");
    int rc = path ? put_path(log->path, sizeof log->path,
                             snprintf(log->path, sizeof log->path, "%s", path))
                  : loco_exchlog_path(log->path, sizeof log->path);
    if (!rc && !path)
        rc = make_folder(log->path);
    if (!rc && sqlite3_open_v2(log->path, &log->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                               NULL) != SQLITE_OK)
        rc = db_error(log, "cannot open");
    if (!rc) {
        sqlite3_busy_timeout(log->db, BUSY_TIMEOUT_MS);
        rc = check_schema(log);
    }
    if (!rc)
        rc = exec(log, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
    if (rc) {
        loco_exchlog_close(log);
        return rc;
    }
    *out = log;
    return LOCO_OK;
}

void loco_exchlog_close(struct loco_exchlog *log)
{
    if (!log)
        return;
    sqlite3_close(log->db);
    free(log);
}

const char *loco_exchlog_file(const struct loco_exchlog *log)
{
    return log->path;
}

/* ---- writing ---------------------------------------------------------------- */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

static void bind_ms(sqlite3_stmt *st, int i, double ms)
{
    if (ms >= 0 && isfinite(ms))
        sqlite3_bind_double(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

/* The route's probabilities as a JSON object, malloc'd; NULL on no memory. */
static char *probabilities_json(const struct loco_route_decision *d)
{
    cJSON *j = cJSON_CreateObject();
    for (size_t i = 0; j && i < d->n; i++)
        cJSON_AddNumberToObject(j, d->names[i], d->prob[i]);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return text;
}

/* Binds ?1..?6: adapter, answer, prompt and generated tokens, first-token
 * and total ms (the part loco_exchlog_finish replaces). */
static void bind_outcome(sqlite3_stmt *st, const struct loco_exchange *e)
{
    bind_text(st, 1, e->adapter);
    if (e->answer)
        bind_text(st, 2, e->answer);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int(st, 3, e->n_prompt);
    sqlite3_bind_int(st, 4, e->n_generated);
    bind_ms(st, 5, e->first_token_ms);
    bind_ms(st, 6, e->total_ms);
}

int loco_exchlog_add(struct loco_exchlog *log, const struct loco_exchange *e, int64_t *id_out)
{
    const struct loco_route_decision *d = e->route;
    char *probs = d ? probabilities_json(d) : NULL;
    if (d && !probs)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory logging an exchange");
    sqlite3_stmt *st;
    int rc = prepare(log,
                     "INSERT INTO exchanges (adapter, answer, prompt_tokens, generated_tokens,"
                     " first_token_ms, total_ms, command, query, router, domain, confidence,"
                     " probabilities, reason, model, model_sha256, route_ms)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                     " ?15, ?16)",
                     &st);
    if (rc) {
        free(probs);
        return rc;
    }
    bind_outcome(st, e);
    bind_text(st, 7, e->command);
    bind_text(st, 8, e->query);
    bind_text(st, 9, d ? d->router : "");
    bind_text(st, 10, d ? d->domain : "");
    if (d) {
        sqlite3_bind_double(st, 11, d->confidence);
        sqlite3_bind_text(st, 12, probs, -1, SQLITE_TRANSIENT);
    }
    bind_text(st, 13, d ? d->reason : "");
    bind_text(st, 14, e->model);
    bind_text(st, 15, e->model_sha256);
    bind_ms(st, 16, d ? d->ms : -1);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    free(probs);
    if (step != SQLITE_DONE)
        return db_error(log, "logging an exchange");
    if (id_out)
        *id_out = sqlite3_last_insert_rowid(log->db);
    return LOCO_OK;
}

int loco_exchlog_finish(struct loco_exchlog *log, int64_t id, const struct loco_exchange *e)
{
    sqlite3_stmt *st;
    int rc = prepare(log,
                     "UPDATE exchanges SET adapter = ?1, answer = ?2, prompt_tokens = ?3,"
                     " generated_tokens = ?4, first_token_ms = ?5, total_ms = ?6 WHERE id = ?7",
                     &st);
    if (rc)
        return rc;
    bind_outcome(st, e);
    sqlite3_bind_int64(st, 7, id);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return db_error(log, "logging an answer");
    if (sqlite3_changes(log->db) == 0)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no exchange #%lld in %s", (long long)id,
                              log->path);
    return LOCO_OK;
}

/* The domain exchange `id` was routed to ("" when not routed) into buf. */
static int routed_domain(struct loco_exchlog *log, int64_t id, char *buf, size_t cap)
{
    sqlite3_stmt *st;
    int rc = prepare(log, "SELECT domain FROM exchanges WHERE id = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        snprintf(buf, cap, "%s", text ? (const char *)text : "");
    }
    sqlite3_finalize(st);
    if (step == SQLITE_DONE)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no exchange #%lld in %s (see loco logs)",
                              (long long)id, log->path);
    return step == SQLITE_ROW ? LOCO_OK : db_error(log, "reading an exchange");
}

/* A judgement must agree with itself: good keeps the routed domain, bad
 * rejects it. */
static int check_verdict(int64_t id, const char *routed, bool good, const char *domain)
{
    if (!domain || !domain[0] || !routed[0])
        return LOCO_OK;
    if (good && strcmp(domain, routed) != 0)
        return loco_error_set(LOCO_ERR_INVALID, "exchange #%lld was routed to %s; 'good' "
                              "confirms that, so it cannot name %s (use: bad --domain %s)",
                              (long long)id, routed, domain, domain);
    if (!good && strcmp(domain, routed) == 0)
        return loco_error_set(LOCO_ERR_INVALID, "exchange #%lld was routed to %s; 'bad' says "
                              "that was wrong, so --domain must name another domain (or say "
                              "good)", (long long)id, routed);
    return LOCO_OK;
}

int loco_exchlog_feedback(struct loco_exchlog *log, int64_t id, bool good, const char *domain)
{
    char routed[LOCO_ROUTE_NAME_MAX * 2];
    int rc = routed_domain(log, id, routed, sizeof routed);
    if (!rc)
        rc = check_verdict(id, routed, good, domain);
    sqlite3_stmt *st = NULL;
    if (!rc)
        rc = prepare(log, "INSERT INTO feedback (exchange, verdict, domain) VALUES (?1, ?2, ?3)",
                     &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, good ? "good" : "bad");
    if (domain && domain[0])
        bind_text(st, 3, domain);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? LOCO_OK : db_error(log, "recording feedback");
}

/* ---- reading ---------------------------------------------------------------- */

#define RECORD_COLUMNS                                                                           \
    "id, time, command, query, router, domain, adapter, confidence, probabilities, reason,"      \
    " answer, model, model_sha256, prompt_tokens, generated_tokens, route_ms, first_token_ms,"  \
    " total_ms"

static double column_ms(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* The string columns of RECORD_COLUMNS copied into one block, r->mem. */
static int read_strings(sqlite3_stmt *st, struct loco_exchange_record *r)
{
    enum { N = 10 };
    static const int cols[N] = {2, 3, 4, 5, 6, 8, 9, 10, 11, 12};
    const char **dst[N] = {&r->command, &r->query,  &r->router, &r->domain, &r->adapter,
                           &r->probabilities, &r->reason, &r->answer, &r->model,
                           &r->model_sha256};
    const unsigned char *src[N];
    size_t len[N], total = 0;
    for (int i = 0; i < N; i++) {
        src[i] = sqlite3_column_text(st, cols[i]);
        len[i] = src[i] ? (size_t)sqlite3_column_bytes(st, cols[i]) : 0;
        total += len[i] + 1;
    }
    r->mem = malloc(total);
    if (!r->mem)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading the exchange log");
    char *at = r->mem;
    for (int i = 0; i < N; i++) {
        if (len[i])
            memcpy(at, src[i], len[i]);
        at[len[i]] = '\0';
        *dst[i] = at;
        at += len[i] + 1;
    }
    return LOCO_OK;
}

static int read_record(sqlite3_stmt *st, struct loco_exchange_record *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    const unsigned char *time = sqlite3_column_text(st, 1);
    snprintf(r->time, sizeof r->time, "%s", time ? (const char *)time : "");
    r->answered = sqlite3_column_type(st, 10) != SQLITE_NULL;
    r->confidence = column_ms(st, 7);
    r->n_prompt = sqlite3_column_int(st, 13);
    r->n_generated = sqlite3_column_int(st, 14);
    r->route_ms = column_ms(st, 15);
    r->first_token_ms = column_ms(st, 16);
    r->total_ms = column_ms(st, 17);
    return read_strings(st, r);
}

void loco_exchange_record_free(struct loco_exchange_record *r)
{
    if (!r)
        return;
    free(r->mem);
    free(r->feedback);
    memset(r, 0, sizeof *r);
}

void loco_exchange_records_free(struct loco_exchange_record *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        loco_exchange_record_free(&r[i]);
    free(r);
}

static const char *nonempty(const char *s)
{
    return s && s[0] ? s : NULL;
}

static void bind_filter(sqlite3_stmt *st, const struct loco_exchlog_filter *f)
{
    const char *adapter = nonempty(f->adapter);
    if (adapter && !strcmp(adapter, LOCO_ROUTE_BASE))
        adapter = ""; /* the base model */
    const char *v[3] = {nonempty(f->domain), adapter, nonempty(f->query)};
    for (int i = 0; i < 3; i++)
        if (v[i])
            sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, f->limit ? (int64_t)f->limit : 20);
}

int loco_exchlog_list(struct loco_exchlog *log, const struct loco_exchlog_filter *f,
                      struct loco_exchange_record **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct loco_exchlog_filter any = {0};
    sqlite3_stmt *st;
    int rc = prepare(log,
                     "SELECT " RECORD_COLUMNS " FROM exchanges"
                     " WHERE (?1 IS NULL OR domain = ?1) AND (?2 IS NULL OR adapter = ?2)"
                     " AND (?3 IS NULL OR instr(lower(query), lower(?3)) > 0)"
                     " ORDER BY id DESC LIMIT ?4",
                     &st);
    if (rc)
        return rc;
    bind_filter(st, f ? f : &any);
    size_t cap = 0;
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            struct loco_exchange_record *grown = realloc(*out, nc * sizeof *grown);
            if (!grown) {
                rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory listing exchanges");
                break;
            }
            *out = grown;
            cap = nc;
        }
        rc = read_record(st, &(*out)[*n]);
        if (!rc)
            *n += 1;
    }
    if (!rc && step != SQLITE_DONE)
        rc = db_error(log, "listing exchanges");
    sqlite3_finalize(st);
    if (rc) {
        loco_exchange_records_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int read_feedback(struct loco_exchlog *log, struct loco_exchange_record *r)
{
    sqlite3_stmt *st;
    int rc = prepare(log, "SELECT id, time, verdict, domain FROM feedback WHERE exchange = ?1"
                          " ORDER BY id", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, r->id);
    size_t cap = 0;
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->n_feedback == cap) {
            size_t nc = cap ? 2 * cap : 4;
            struct loco_feedback *grown = realloc(r->feedback, nc * sizeof *grown);
            if (!grown) {
                rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory reading feedback");
                break;
            }
            r->feedback = grown;
            cap = nc;
        }
        struct loco_feedback *fb = &r->feedback[r->n_feedback++];
        const unsigned char *t = sqlite3_column_text(st, 1), *dom = sqlite3_column_text(st, 3);
        fb->id = sqlite3_column_int64(st, 0);
        snprintf(fb->time, sizeof fb->time, "%s", t ? (const char *)t : "");
        const unsigned char *verdict = sqlite3_column_text(st, 2);
        fb->good = verdict && !strcmp((const char *)verdict, "good");
        snprintf(fb->domain, sizeof fb->domain, "%s", dom ? (const char *)dom : "");
    }
    if (!rc && step != SQLITE_DONE)
        rc = db_error(log, "reading feedback");
    sqlite3_finalize(st);
    return rc;
}

int loco_exchlog_get(struct loco_exchlog *log, int64_t id, struct loco_exchange_record *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = prepare(log, "SELECT " RECORD_COLUMNS " FROM exchanges WHERE id = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = read_record(st, out);
    else if (step == SQLITE_DONE)
        rc = loco_error_set(LOCO_ERR_NOT_FOUND, "no exchange #%lld in %s (see loco logs)",
                            (long long)id, log->path);
    else
        rc = db_error(log, "reading an exchange");
    sqlite3_finalize(st);
    if (!rc)
        rc = read_feedback(log, out);
    if (rc)
        loco_exchange_record_free(out);
    return rc;
}

int64_t loco_exchlog_count(struct loco_exchlog *log, bool feedback)
{
    int64_t n = 0;
    int rc = query_int(log, feedback ? "SELECT count(*) FROM feedback"
                                     : "SELECT count(*) FROM exchanges", &n);
    return rc ? rc : n;
}

/* ---- what the learned router reads -------------------------------------- */

void loco_judged_free(struct loco_judged *j, size_t n)
{
    for (size_t i = 0; j && i < n; i++)
        free(j[i].query);
    free(j);
}

static int read_judged(sqlite3_stmt *st, struct loco_judged *j)
{
    const unsigned char *q = sqlite3_column_text(st, 0), *routed = sqlite3_column_text(st, 1),
                        *verdict = sqlite3_column_text(st, 2),
                        *corrected = sqlite3_column_text(st, 3);
    j->query = strdup(q ? (const char *)q : "");
    snprintf(j->routed, sizeof j->routed, "%s", routed ? (const char *)routed : "");
    j->good = verdict && !strcmp((const char *)verdict, "good");
    snprintf(j->corrected, sizeof j->corrected, "%s", corrected ? (const char *)corrected : "");
    return j->query ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory reading feedback");
}

int loco_exchlog_judged(struct loco_exchlog *log, size_t max, struct loco_judged **out,
                        size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = prepare(log,
                     "SELECT e.query, e.domain, f.verdict, f.domain FROM feedback f"
                     " JOIN exchanges e ON e.id = f.exchange"
                     " WHERE f.id IN (SELECT max(id) FROM feedback GROUP BY exchange)"
                     " ORDER BY f.id DESC LIMIT ?1",
                     &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, max > INT64_MAX ? INT64_MAX : (int64_t)max);
    struct loco_judged *j = NULL;
    size_t cap = 0;
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            struct loco_judged *grown = realloc(j, nc * sizeof *grown);
            if (!grown) {
                rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory reading feedback");
                break;
            }
            j = grown;
            cap = nc;
        }
        if (!(rc = read_judged(st, &j[*n])))
            *n += 1;
    }
    if (!rc && step != SQLITE_DONE)
        rc = db_error(log, "reading feedback");
    sqlite3_finalize(st);
    if (rc) {
        loco_judged_free(j, *n);
        *n = 0;
        return rc;
    }
    for (size_t a = 0, b = *n ? *n - 1 : 0; a < b; a++, b--) { /* oldest first */
        struct loco_judged t = j[a];
        j[a] = j[b];
        j[b] = t;
    }
    *out = j;
    return LOCO_OK;
}
