/*
 * evalcache.c - the evaluation's generation cache (see loco/evalcache.h).
 */
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/evalcache.h"

#define SCHEMA_VERSION 1

struct loco_evalcache {
    sqlite3 *db;
    char path[1024];
    sqlite3_stmt *get, *put, *count;
};

static int db_error(struct loco_evalcache *c, const char *what)
{
    return loco_error_set(LOCO_ERR_IO, "evaluation cache %s: %s: %s", c->path, what,
                          sqlite3_errmsg(c->db));
}

static int exec(struct loco_evalcache *c, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return LOCO_OK;
    int rc = loco_error_set(LOCO_ERR_IO, "evaluation cache %s: %s", c->path,
                            msg ? msg : sqlite3_errmsg(c->db));
    sqlite3_free(msg);
    return rc;
}

/* One integer PRAGMA; a file that is not a database is a format error. */
static int pragma_int(struct loco_evalcache *c, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return LOCO_OK;
    if (sqlite3_errcode(c->db) == SQLITE_NOTADB)
        return loco_error_set(LOCO_ERR_FORMAT, "%s is not an evaluation cache (not an SQLite "
                              "database); move it away or pass another --cache", c->path);
    return db_error(c, "reading its header");
}

/* The file must be new, or carry our application id and schema version.
 * Check and creation are one write transaction: two processes opening a new
 * cache at once must not see each other's half-written header. */
static int check_schema_locked(struct loco_evalcache *c);

static int check_schema(struct loco_evalcache *c)
{
    int rc = exec(c, "BEGIN IMMEDIATE");
    if (rc && sqlite3_errcode(c->db) == SQLITE_NOTADB)
        return loco_error_set(LOCO_ERR_FORMAT, "%s is not an evaluation cache (not an SQLite "
                              "database); move it away or pass another --cache", c->path);
    if (rc)
        return rc;
    rc = check_schema_locked(c);
    int end = exec(c, rc ? "ROLLBACK" : "COMMIT");
    return rc ? rc : end;
}

static int check_schema_locked(struct loco_evalcache *c)
{
    int app = 0, version = 0;
    int rc = pragma_int(c, "PRAGMA application_id", &app);
    if (!rc)
        rc = pragma_int(c, "PRAGMA user_version", &version);
    if (rc)
        return rc;
    const int ours = 0x4c6f436f; /* "LoCo" */
    if (app == 0 && version == 0) {
        rc = exec(c, "PRAGMA application_id = 1282360175;" /* 0x4c6f436f */
                     "PRAGMA user_version = 1;"
                     "CREATE TABLE IF NOT EXISTS generations ("
                     " key TEXT PRIMARY KEY, model TEXT NOT NULL, adapters TEXT NOT NULL,"
                     " settings TEXT NOT NULL, prompt TEXT NOT NULL, output TEXT NOT NULL,"
                     " n_tokens INTEGER NOT NULL, ms REAL NOT NULL,"
                     " created TEXT NOT NULL DEFAULT (datetime('now')))");
    } else if (app != ours) {
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s is an SQLite database but not a LocoLLM "
                            "evaluation cache; pass another --cache", c->path);
    } else if (version != SCHEMA_VERSION) {
        rc = loco_error_set(LOCO_ERR_UNSUPPORTED, "%s has cache schema %d; this loco reads %d",
                            c->path, version, SCHEMA_VERSION);
    }
    return rc;
}

int loco_evalcache_open(const char *path, struct loco_evalcache **out)
{
    *out = NULL;
    struct loco_evalcache *c = calloc(1, sizeof *c);
    if (!c)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    snprintf(c->path, sizeof c->path, "%s", path);
    int rc = LOCO_OK;
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        rc = db_error(c, "cannot open");
    if (!rc) {
        sqlite3_busy_timeout(c->db, 30000);
        rc = check_schema(c);
    }
    if (!rc)
        rc = exec(c, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
    if (!rc &&
        (sqlite3_prepare_v2(c->db, "SELECT output, n_tokens, ms FROM generations WHERE key = ?",
                            -1, &c->get, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(c->db,
                            "INSERT OR REPLACE INTO generations (key, model, adapters, "
                            "settings, prompt, output, n_tokens, ms) VALUES (?,?,?,?,?,?,?,?)",
                            -1, &c->put, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(c->db, "SELECT count(*) FROM generations", -1, &c->count, NULL) !=
             SQLITE_OK))
        rc = db_error(c, "preparing statements");
    if (rc) {
        loco_evalcache_close(c);
        return rc;
    }
    *out = c;
    return LOCO_OK;
}

void loco_evalcache_close(struct loco_evalcache *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->get);
    sqlite3_finalize(c->put);
    sqlite3_finalize(c->count);
    sqlite3_close(c->db);
    free(c);
}

int loco_evalcache_key(const char *model_sha256, const char *adapters, const char *settings,
                       const char *prompt, char key_out[65])
{
    const char *parts[4] = {model_sha256, adapters, settings, prompt};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return loco_error_set(LOCO_ERR_NOMEM, "sha256 unavailable");
    }
    for (int i = 0; i < 4; i++) {
        const char *p = parts[i] ? parts[i] : "";
        char len[32];
        int n = snprintf(len, sizeof len, "%zu:", strlen(p));
        EVP_DigestUpdate(md, len, (size_t)n);
        EVP_DigestUpdate(md, p, strlen(p));
    }
    unsigned char digest[32];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(key_out + 2 * i, 3, "%02x", digest[i]);
    return LOCO_OK;
}

int loco_evalcache_get(struct loco_evalcache *c, const char *key,
                       struct loco_evalcache_entry *e)
{
    memset(e, 0, sizeof *e);
    sqlite3_reset(c->get);
    sqlite3_bind_text(c->get, 1, key, -1, SQLITE_TRANSIENT);
    int st = sqlite3_step(c->get);
    if (st == SQLITE_DONE)
        return LOCO_ERR_NOT_FOUND;
    if (st != SQLITE_ROW)
        return db_error(c, "reading an answer");
    const unsigned char *text = sqlite3_column_text(c->get, 0);
    e->output = strdup(text ? (const char *)text : "");
    e->n_tokens = sqlite3_column_int(c->get, 1);
    e->ms = sqlite3_column_double(c->get, 2);
    sqlite3_reset(c->get);
    return e->output ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

int loco_evalcache_put(struct loco_evalcache *c, const char *key, const char *model_sha256,
                       const char *adapters, const char *settings, const char *prompt,
                       const char *output, int32_t n_tokens, double ms)
{
    const char *text[6] = {key, model_sha256, adapters, settings, prompt, output};
    sqlite3_reset(c->put);
    for (int i = 0; i < 6; i++)
        sqlite3_bind_text(c->put, i + 1, text[i] ? text[i] : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(c->put, 7, n_tokens);
    sqlite3_bind_double(c->put, 8, ms);
    int st = sqlite3_step(c->put);
    sqlite3_reset(c->put);
    return st == SQLITE_DONE ? LOCO_OK : db_error(c, "storing an answer");
}

int64_t loco_evalcache_count(struct loco_evalcache *c)
{
    sqlite3_reset(c->count);
    int64_t n = sqlite3_step(c->count) == SQLITE_ROW ? sqlite3_column_int64(c->count, 0)
                                                      : db_error(c, "counting");
    sqlite3_reset(c->count);
    return n;
}
