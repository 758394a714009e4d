/*
 * test-exchlog.c - the exchange log: an exchange logged and read back field
 * by field, its answer filled in later, listing newest first with filters,
 * feedback (consistency rules, unknown ids, the latest judgement counting),
 * refusing files that are not a log (another SQLite database, the
 * evaluation cache, a text file, a newer schema) without writing into them,
 * two processes logging at once, and hostile strings. The learned router,
 * which reads this log, is tested in test-router.c.
 *
 * LOCO_LOG_DB points at a temporary file throughout: the tests never touch
 * the user's log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loco/evalcache.h"
#include "loco/exchlog.h"
#include "loco/registry.h"
#include "loco/router.h"
#include "testutil.h"

#define SHA_A "1111111111111111111111111111111111111111111111111111111111111111"

static char dir[64];
static char log_path[128];

/* ---- helpers ----------------------------------------------------------------- */

static void remove_log(const char *path)
{
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    char side[256];
    for (int i = 0; i < 4; i++) {
        snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
        unlink(side);
    }
}

static struct loco_exchlog *fresh_log(void)
{
    remove_log(log_path);
    struct loco_exchlog *log = NULL;
    if (loco_exchlog_open(log_path, &log) != LOCO_OK)
        fail_msg("%s", loco_error_message());
    return log;
}

/* A decision as loco_route() leaves it: math chosen over code and base. */
static void math_decision(struct loco_route_decision *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->router, sizeof d->router, "keyword");
    snprintf(d->domain, sizeof d->domain, "math");
    snprintf(d->adapter, sizeof d->adapter, "math-v1");
    d->n = 3;
    const char *names[] = {"math", "code", "base"};
    const double prob[] = {0.75, 0.125, 0.125};
    for (size_t i = 0; i < 3; i++) {
        snprintf(d->names[i], sizeof d->names[i], "%s", names[i]);
        d->prob[i] = prob[i];
    }
    d->confidence = 0.75;
    snprintf(d->reason, sizeof d->reason, "keywords 'how many' (score 3.0)");
    d->ms = 0.25;
}


/* ---- the log --------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    (void)state;
    struct loco_exchlog *log = fresh_log();
    assert_string_equal(loco_exchlog_file(log), log_path);
    struct loco_route_decision d;
    math_decision(&d);
    struct loco_exchange e = {.command = "ask", .query = "How many pens?", .route = &d,
                              .adapter = "math-v1", .model = "/m/model.gguf",
                              .first_token_ms = -1, .total_ms = -1};
    int64_t id = 0;
    assert_int_equal(loco_exchlog_add(log, &e, &id), LOCO_OK);
    assert_int_equal(id, 1);

    struct loco_exchange_record r;
    assert_int_equal(loco_exchlog_get(log, id, &r), LOCO_OK);
    assert_int_equal(r.id, 1);
    assert_int_equal(strlen(r.time), 20); /* 2026-03-01T12:00:00Z */
    assert_int_equal(r.time[10], 'T');
    assert_int_equal(r.time[19], 'Z');
    assert_string_equal(r.command, "ask");
    assert_string_equal(r.query, "How many pens?");
    assert_string_equal(r.router, "keyword");
    assert_string_equal(r.domain, "math");
    assert_string_equal(r.adapter, "math-v1");
    assert_true(fabs(r.confidence - 0.75) < 1e-12);
    assert_string_equal(r.probabilities, "{\"math\":0.75,\"code\":0.125,\"base\":0.125}");
    assert_string_equal(r.reason, "keywords 'how many' (score 3.0)");
    assert_false(r.answered); /* not answered yet */
    assert_string_equal(r.answer, "");
    assert_string_equal(r.model, "/m/model.gguf");
    assert_string_equal(r.model_sha256, "");
    assert_true(fabs(r.route_ms - 0.25) < 1e-12);
    assert_true(isnan(r.first_token_ms) && isnan(r.total_ms));
    assert_int_equal(r.n_feedback, 0);
    loco_exchange_record_free(&r);

    /* the answer arrives: the adapter that actually answered, counts, timings */
    e.adapter = "";
    e.answer = "12 pens";
    e.n_prompt = 30;
    e.n_generated = 4;
    e.first_token_ms = 55.5;
    e.total_ms = 80;
    assert_int_equal(loco_exchlog_finish(log, id, &e), LOCO_OK);
    assert_int_equal(loco_exchlog_get(log, id, &r), LOCO_OK);
    assert_true(r.answered);
    assert_string_equal(r.answer, "12 pens");
    assert_string_equal(r.adapter, "");
    assert_string_equal(r.domain, "math"); /* the route stays */
    assert_int_equal(r.n_prompt, 30);
    assert_int_equal(r.n_generated, 4);
    assert_true(fabs(r.first_token_ms - 55.5) < 1e-12);
    assert_true(fabs(r.total_ms - 80) < 1e-12);
    loco_exchange_record_free(&r);
    assert_int_equal(loco_exchlog_finish(log, 99, &e), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_exchlog_get(log, 99, &r), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "#99"));

    /* not routed: empty route, NaN confidence */
    e = (struct loco_exchange){.command = "chat", .query = "hello", .answer = "hi"};
    assert_int_equal(loco_exchlog_add(log, &e, &id), LOCO_OK);
    assert_int_equal(id, 2);
    assert_int_equal(loco_exchlog_get(log, id, &r), LOCO_OK);
    assert_string_equal(r.router, "");
    assert_string_equal(r.domain, "");
    assert_string_equal(r.probabilities, "");
    assert_true(isnan(r.confidence) && isnan(r.route_ms));
    assert_string_equal(r.command, "chat");
    loco_exchange_record_free(&r);
    assert_int_equal(loco_exchlog_count(log, false), 2);
    loco_exchlog_close(log);
}

static void test_list(void **state)
{
    (void)state;
    struct loco_exchlog *log = fresh_log();
    struct loco_route_decision d;
    math_decision(&d);
    test_log_one(log, "How many APPLES?", &d, "math-v1");   /* 1 */
    test_log_one(log, "What is the capital?", NULL, "");    /* 2: not routed, base model */
    test_log_one(log, "How many pears?", &d, "");           /* 3: math, but the base answered */
    snprintf(d.domain, sizeof d.domain, "base");
    test_log_one(log, "Who wrote Hamlet?", &d, "");         /* 4 */

    struct loco_exchange_record *r;
    size_t n;
    assert_int_equal(loco_exchlog_list(log, NULL, &r, &n), LOCO_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(r[i].id, 4 - (int64_t)i); /* newest first */
    assert_string_equal(r[3].query, "How many APPLES?");
    loco_exchange_records_free(r, n);

    struct loco_exchlog_filter f = {.domain = "math"};
    assert_int_equal(loco_exchlog_list(log, &f, &r, &n), LOCO_OK);
    assert_int_equal(n, 2);
    assert_int_equal(r[0].id, 3);
    loco_exchange_records_free(r, n);

    f = (struct loco_exchlog_filter){.adapter = "base"}; /* the base model answered */
    assert_int_equal(loco_exchlog_list(log, &f, &r, &n), LOCO_OK);
    assert_int_equal(n, 3);
    loco_exchange_records_free(r, n);

    f = (struct loco_exchlog_filter){.query = "how many apples"}; /* any case */
    assert_int_equal(loco_exchlog_list(log, &f, &r, &n), LOCO_OK);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].id, 1);
    loco_exchange_records_free(r, n);

    f = (struct loco_exchlog_filter){.query = "how many", .adapter = "math-v1"};
    assert_int_equal(loco_exchlog_list(log, &f, &r, &n), LOCO_OK);
    assert_int_equal(n, 1);
    loco_exchange_records_free(r, n);

    f = (struct loco_exchlog_filter){.limit = 2};
    assert_int_equal(loco_exchlog_list(log, &f, &r, &n), LOCO_OK);
    assert_int_equal(n, 2);
    assert_int_equal(r[1].id, 3);
    loco_exchange_records_free(r, n);

    f = (struct loco_exchlog_filter){.domain = "astrology"};
    assert_int_equal(loco_exchlog_list(log, &f, &r, &n), LOCO_OK);
    assert_int_equal(n, 0);
    loco_exchange_records_free(r, n);
    loco_exchlog_close(log);
}

static void test_feedback(void **state)
{
    (void)state;
    struct loco_exchlog *log = fresh_log();
    struct loco_route_decision d;
    math_decision(&d);
    int64_t a = test_log_one(log, "How many pens?", &d, "math-v1");
    int64_t b = test_log_one(log, "Sum the list in Python", &d, "math-v1");
    int64_t c = test_log_one(log, "hello", NULL, "");

    assert_int_equal(loco_exchlog_feedback(log, a, true, NULL), LOCO_OK);
    assert_int_equal(loco_exchlog_feedback(log, a, true, "math"), LOCO_OK); /* same domain */
    /* good with another domain, bad naming the routed one: refused */
    assert_int_equal(loco_exchlog_feedback(log, b, true, "code"), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "bad --domain code"));
    assert_int_equal(loco_exchlog_feedback(log, b, false, "math"), LOCO_ERR_INVALID);
    assert_int_equal(loco_exchlog_feedback(log, b, false, NULL), LOCO_OK);
    assert_int_equal(loco_exchlog_feedback(log, b, false, "code"), LOCO_OK); /* judged again */
    assert_int_equal(loco_exchlog_feedback(log, c, false, "writing"), LOCO_OK); /* not routed */
    assert_int_equal(loco_exchlog_feedback(log, 42, true, NULL), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "no exchange #42"));
    assert_int_equal(loco_exchlog_count(log, true), 5);

    struct loco_exchange_record r;
    assert_int_equal(loco_exchlog_get(log, b, &r), LOCO_OK);
    assert_int_equal(r.n_feedback, 2);
    assert_false(r.feedback[0].good);
    assert_string_equal(r.feedback[0].domain, "");
    assert_string_equal(r.feedback[1].domain, "code");
    assert_int_equal(strlen(r.feedback[1].time), 20);
    loco_exchange_record_free(&r);

    /* one judgement per exchange, the latest, oldest first */
    struct loco_judged *j;
    size_t n;
    assert_int_equal(loco_exchlog_judged(log, 100, &j, &n), LOCO_OK);
    assert_int_equal(n, 3);
    assert_string_equal(j[0].query, "How many pens?");
    assert_true(j[0].good);
    assert_string_equal(j[0].corrected, "math");
    assert_string_equal(j[1].query, "Sum the list in Python");
    assert_string_equal(j[1].routed, "math");
    assert_false(j[1].good);
    assert_string_equal(j[1].corrected, "code");
    assert_string_equal(j[2].routed, "");
    assert_string_equal(j[2].corrected, "writing");
    loco_judged_free(j, n);
    assert_int_equal(loco_exchlog_judged(log, 1, &j, &n), LOCO_OK); /* the latest one */
    assert_int_equal(n, 1);
    assert_string_equal(j[0].query, "hello");
    loco_judged_free(j, n);
    loco_exchlog_close(log);
}

/* ---- files that are not a log ---------------------------------------------------- */

static void sql(const char *path, const char *statements)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, statements, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t sql_int(const char *path, const char *query)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_refuses_foreign_files(void **state)
{
    (void)state;
    struct loco_exchlog *log = NULL;
    /* someone's SQLite database with its own tables */
    remove_log(log_path);
    sql(log_path, "CREATE TABLE photos (id INTEGER, name TEXT); INSERT INTO photos VALUES (1, 'x')");
    assert_int_equal(loco_exchlog_open(log_path, &log), LOCO_ERR_FORMAT);
    assert_null(log);
    assert_non_null(strstr(loco_error_message(), "not a LocoLLM exchange log"));
    assert_non_null(strstr(loco_error_message(), log_path));
    assert_int_equal(sql_int(log_path, "SELECT count(*) FROM sqlite_master"), 1); /* untouched */
    assert_int_equal(sql_int(log_path, "PRAGMA application_id"), 0);

    /* the evaluation cache is a LocoLLM database, but not a log */
    remove_log(log_path);
    struct loco_evalcache *cache;
    assert_int_equal(loco_evalcache_open(log_path, &cache), LOCO_OK);
    loco_evalcache_close(cache);
    assert_int_equal(loco_exchlog_open(log_path, &log), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "not a LocoLLM exchange log"));

    /* not a database at all */
    remove_log(log_path);
    FILE *f = fopen(log_path, "wb");
    assert_non_null(f);
    fputs("query,answer\nhello,world\nthis is a CSV file, not SQLite, and long enough to have a "
          "header-sized first block of text in it.................................\n", f);
    fclose(f);
    assert_int_equal(loco_exchlog_open(log_path, &log), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "not an SQLite database"));
    char *text = NULL;
    f = fopen(log_path, "rb");
    size_t len = 0;
    assert_non_null(f);
    assert_int_equal(getline(&text, &len, f) > 0, 1);
    assert_string_equal(text, "query,answer\n"); /* not overwritten */
    free(text);
    fclose(f);

    /* a log from a newer loco */
    log = fresh_log();
    loco_exchlog_close(log);
    sql(log_path, "PRAGMA user_version = 99");
    assert_int_equal(loco_exchlog_open(log_path, &log), LOCO_ERR_UNSUPPORTED);
    assert_non_null(strstr(loco_error_message(), "schema 99"));
    remove_log(log_path);
}

static void test_paths(void **state)
{
    (void)state;
    char path[4096], saved[128], home[1024] = "", xdg[1024] = "";
    snprintf(saved, sizeof saved, "%s", getenv("LOCO_LOG_DB"));
    if (getenv("HOME"))
        snprintf(home, sizeof home, "%s", getenv("HOME"));
    if (getenv("XDG_DATA_HOME"))
        snprintf(xdg, sizeof xdg, "%s", getenv("XDG_DATA_HOME"));
    assert_int_equal(loco_exchlog_path(path, sizeof path), LOCO_OK);
    assert_string_equal(path, log_path);
    unsetenv("LOCO_LOG_DB");
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    assert_int_equal(loco_exchlog_path(path, sizeof path), LOCO_OK);
    assert_string_equal(path, "/xdg/data/locollm/logs.sqlite");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/student", 1);
    assert_int_equal(loco_exchlog_path(path, sizeof path), LOCO_OK);
    assert_string_equal(path, "/home/student/.local/share/locollm/logs.sqlite");
    setenv("LOCO_LOG_DB", saved, 1);
    setenv("HOME", home, 1);
    if (xdg[0])
        setenv("XDG_DATA_HOME", xdg, 1);
    assert_int_equal(loco_exchlog_path(path, 8), LOCO_ERR_RANGE);

    unsetenv("LOCO_NO_LOG");
    assert_false(loco_exchlog_disabled());
    setenv("LOCO_NO_LOG", "0", 1);
    assert_false(loco_exchlog_disabled());
    setenv("LOCO_NO_LOG", "1", 1);
    assert_true(loco_exchlog_disabled());
    unsetenv("LOCO_NO_LOG");

    /* the default path: its folder is created */
    char nested[256];
    snprintf(nested, sizeof nested, "%s/a/b/logs.sqlite", dir);
    setenv("LOCO_LOG_DB", nested, 1);
    struct loco_exchlog *log;
    assert_int_equal(loco_exchlog_open(NULL, &log), LOCO_OK);
    assert_string_equal(loco_exchlog_file(log), nested);
    loco_exchlog_close(log);
    remove_log(nested);
    snprintf(nested, sizeof nested, "%s/a/b", dir);
    assert_int_equal(rmdir(nested), 0);
    snprintf(nested, sizeof nested, "%s/a", dir);
    assert_int_equal(rmdir(nested), 0);
    setenv("LOCO_LOG_DB", saved, 1);
}

/* ---- two processes, hostile strings ------------------------------------------- */

#define PER_CHILD 150

static void child_logs(int who)
{
    struct loco_exchlog *log;
    if (loco_exchlog_open(log_path, &log) != LOCO_OK)
        _exit(10);
    for (int i = 0; i < PER_CHILD; i++) {
        char q[64];
        snprintf(q, sizeof q, "child %d question %d", who, i);
        struct loco_exchange e = {.command = "ask", .query = q, .answer = "a"};
        int64_t id;
        if (loco_exchlog_add(log, &e, &id) != LOCO_OK || loco_exchlog_feedback(log, id, true,
                                                                                NULL) != LOCO_OK)
            _exit(11);
    }
    loco_exchlog_close(log);
    _exit(0);
}

static void test_two_processes(void **state)
{
    (void)state;
    remove_log(log_path); /* both create it: the header is written once */
    pid_t pid[2];
    for (int k = 0; k < 2; k++) {
        pid[k] = fork();
        assert_true(pid[k] >= 0);
        if (pid[k] == 0)
            child_logs(k);
    }
    for (int k = 0; k < 2; k++) {
        int st = 0;
        waitpid(pid[k], &st, 0);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    struct loco_exchlog *log;
    assert_int_equal(loco_exchlog_open(log_path, &log), LOCO_OK);
    assert_int_equal(loco_exchlog_count(log, false), 2 * PER_CHILD);
    assert_int_equal(loco_exchlog_count(log, true), 2 * PER_CHILD);
    struct loco_exchange_record *r;
    size_t n;
    struct loco_exchlog_filter f = {.query = "child 1 ", .limit = 1000};
    assert_int_equal(loco_exchlog_list(log, &f, &r, &n), LOCO_OK);
    assert_int_equal(n, PER_CHILD); /* every one of child 1's, ids distinct */
    for (size_t i = 1; i < n; i++)
        assert_true(r[i].id < r[i - 1].id);
    loco_exchange_records_free(r, n);
    loco_exchlog_close(log);
}

static void test_hostile_strings(void **state)
{
    (void)state;
    struct loco_exchlog *log = fresh_log();
    const char *query = "'); DROP TABLE exchanges; -- \"quoted\" 100% _under_ \\back\\ "
                        "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x88 \t\n\r end";
    size_t big = 1u << 20; /* a 1 MiB answer */
    char *answer = malloc(big + 1);
    assert_non_null(answer);
    for (size_t i = 0; i < big; i++)
        answer[i] = "ab'\"\n;%\\"[i % 9];
    answer[big] = '\0';
    struct loco_route_decision d;
    math_decision(&d);
    snprintf(d.reason, sizeof d.reason, "keyword '%s'", "it's \"odd\"");
    struct loco_exchange e = {.command = "ask", .query = query, .route = &d, .adapter = "x'y",
                              .answer = answer, .model = "/path with spaces/m'o\"del.gguf"};
    int64_t id;
    assert_int_equal(loco_exchlog_add(log, &e, &id), LOCO_OK);
    struct loco_exchange_record r;
    assert_int_equal(loco_exchlog_get(log, id, &r), LOCO_OK);
    assert_string_equal(r.query, query);
    assert_string_equal(r.answer, answer);
    assert_string_equal(r.adapter, "x'y");
    assert_string_equal(r.reason, "keyword 'it's \"odd\"'");
    assert_string_equal(r.model, "/path with spaces/m'o\"del.gguf");
    loco_exchange_record_free(&r);
    struct loco_exchlog_filter f = {.query = "DROP TABLE"};
    struct loco_exchange_record *list;
    size_t n;
    assert_int_equal(loco_exchlog_list(log, &f, &list, &n), LOCO_OK);
    assert_int_equal(n, 1);
    loco_exchange_records_free(list, n);
    f.query = "%"; /* no LIKE wildcards: a literal percent sign */
    assert_int_equal(loco_exchlog_list(log, &f, &list, &n), LOCO_OK);
    assert_int_equal(n, 1);
    loco_exchange_records_free(list, n);
    f.query = "_x_";
    assert_int_equal(loco_exchlog_list(log, &f, &list, &n), LOCO_OK);
    assert_int_equal(n, 0);
    loco_exchange_records_free(list, n);
    assert_int_equal(loco_exchlog_count(log, false), 1);
    free(answer);
    loco_exchlog_close(log);
}

/* ---- fixture ------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/loco-exchlog-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(log_path, sizeof log_path, "%s/logs.sqlite", dir);
    setenv("LOCO_LOG_DB", log_path, 1); /* never the user's log */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_log(log_path);
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_feedback),
        cmocka_unit_test(test_refuses_foreign_files),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_two_processes),
        cmocka_unit_test(test_hostile_strings),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
