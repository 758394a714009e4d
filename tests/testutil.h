/*
 * testutil.h - what the unit tests share: skips that count, where the
 * shared fixtures and the default model are (and the tiny stories260K model
 * loaded), temporary folders, reading and writing whole files, and
 * assert_near for doubles.
 *
 * Skips. A test whose input is absent (../shared, the default model in the
 * model cache, python3) prints "skipping: <what is missing>" and calls
 * skip(). cmocka counts a skipped test as passed, so this header counts the
 * skips itself, and main() ends with LOCO_RUN_TESTS: the program exits 0
 * when every test ran and passed, 77 when none failed but some skipped, and
 * 1 when any failed. CMake gives every test SKIP_RETURN_CODE 77, so ctest
 * lists such a program as skipped, not passed, and counts it.
 *
 * With LOCO_TEST_NO_SKIP=1 in the environment a skip is a failure. CI sets
 * it: there ../shared and the default model are present, so a skip means a
 * test that should have run did not.
 *
 * Include it after <cmocka.h> (it includes cmocka itself, so the order is
 * only a habit) and call nothing here from library code.
 */
#ifndef LOCO_TESTUTIL_H
#define LOCO_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loco/core.h"
#include "loco/exchlog.h"
#include "loco/model.h"
#include "loco/models.h"
#include "loco/sandbox.h"

/* ---- skips that count ----------------------------------------------------- */

#define TEST_SKIP_EXIT 77 /* ctest's SKIP_RETURN_CODE, set in CMakeLists.txt */

static int test_skips; /* skip() calls in this program */

/* Whether LOCO_TEST_NO_SKIP asks for every test to run ("", "0": no). */
static inline bool test_no_skip(void)
{
    const char *v = getenv("LOCO_TEST_NO_SKIP");
    return v && *v && strcmp(v, "0") != 0;
}

/* cmocka's skip(), counted; a failure under LOCO_TEST_NO_SKIP. */
static inline void test_skip_at(const char *file, int line)
{
    test_skips++;
    if (test_no_skip()) {
        print_error("a test skipped under LOCO_TEST_NO_SKIP=1 (the message above names what "
                    "is missing)\n");
        _fail(file, line);
    }
    _skip(file, line);
}

#undef skip
#define skip() test_skip_at(__FILE__, __LINE__)

/* The exit status for cmocka's count of failed tests (see the top). */
static inline int test_exit_status(int failed)
{
    if (failed)
        return 1; /* never 77 by accident */
    if (test_skips) {
        fprintf(stderr, "%d test%s skipped\n", test_skips, test_skips == 1 ? "" : "s");
        return TEST_SKIP_EXIT;
    }
    return 0;
}

/* The last line of every test program's main(). */
#define LOCO_RUN_TESTS(tests, setup, teardown)                                                      \
    test_exit_status(cmocka_run_group_tests(tests, setup, teardown))

/* ---- numbers -------------------------------------------------------------- */

/* |got - want| <= tol, with both values in the message; NaN never passes. */
#define assert_near(got, want, tol) test_assert_near(got, want, tol, __FILE__, __LINE__)

static inline void test_assert_near(double got, double want, double tol, const char *file,
                                    int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%.17g differs from %.17g by more than %g\n", got, want, tol);
        _fail(file, line);
    }
}

/* ---- whole files ---------------------------------------------------------- */

/* Whole file as a NUL-terminated malloc'd buffer, or NULL. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

/* Write text to path (created or replaced); the test fails when it cannot. */
static inline void test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static inline cJSON *test_read_json(const char *path)
{
    char *text = test_read_file(path, NULL);
    if (!text)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

/* ---- where the inputs are ------------------------------------------------- */

/* Path of `rel` under the shared folder (LOCO_SHARED_DIR, else ../shared)
 * into buf; false, with "skipping: ..." on stderr, when it is absent. */
static inline bool test_shared_path(const char *rel, char *buf, size_t cap)
{
    const char *dir = getenv("LOCO_SHARED_DIR");
    if (!dir)
        dir = "../shared";
    snprintf(buf, cap, "%s/%s", dir, rel);
    struct stat st;
    if (stat(buf, &st) != 0) {
        fprintf(stderr, "skipping: %s not found (set LOCO_SHARED_DIR)\n", buf);
        return false;
    }
    return true;
}

/* Path of `rel` in the source tree (LOCO_SOURCE_DIR, set by CMake for every
 * test, else the current folder) into buf. The tree is always there: a file
 * of it that is missing fails the test that reads it, it never skips. */
static inline void test_source_path(const char *rel, char *buf, size_t cap)
{
    const char *src = getenv("LOCO_SOURCE_DIR");
    snprintf(buf, cap, "%s/%s", src && *src ? src : ".", rel);
}

/* The NUL-terminated text of a source-tree file (malloc'd); fails the test
 * naming the path when it cannot be read. */
static inline char *test_source_text(const char *rel)
{
    char path[4096];
    test_source_path(rel, path, sizeof path);
    char *text = test_read_file(path, NULL);
    if (!text)
        fail_msg("cannot read %s (set LOCO_SOURCE_DIR to the source tree)", path);
    return text;
}

/* The default model (SmolLM2-135M-Instruct Q4_1) into buf: LOCO_DEFAULT_MODEL
 * when set, else the model cache (loco_models_resolve, as `loco` finds it).
 * False, with "skipping: ..." on stderr, when it is not there. */
static inline bool test_default_model(char *buf, size_t cap)
{
    const char *env = getenv("LOCO_DEFAULT_MODEL");
    if (env && *env)
        snprintf(buf, cap, "%s", env);
    else if (loco_models_resolve("default", buf, cap) != LOCO_OK)
        buf[0] = '\0';
    struct stat st;
    if (!buf[0] || stat(buf, &st) != 0) {
        fprintf(stderr, "skipping: the default model is not in the model cache (run `loco "
                        "models pull default`, or set LOCO_DEFAULT_MODEL)\n");
        return false;
    }
    return true;
}

/* The tiny real llama of the fixtures (stories260K, f32) with default
 * parameters; the caller frees it. NULL, with "skipping: ..." on stderr,
 * when ../shared lacks it; a file that is there but does not load fails the
 * test. */
static inline struct loco_model *test_stories(void)
{
    char path[4096];
    if (!test_shared_path("fixtures/models/stories260K.gguf", path, sizeof path))
        return NULL;
    struct loco_model *m = loco_model_load(path, loco_model_default_params());
    if (!m)
        fail_msg("loading %s: %s", path, loco_error_message());
    return m;
}

/* Whether python3 can be found (the sandbox's search); "skipping: ..." on
 * stderr when not. */
static inline bool test_have_python(void)
{
    char path[512];
    if (loco_sandbox_find_program("python3", path, sizeof path) == LOCO_OK)
        return true;
    fprintf(stderr, "skipping: python3 not found (%s)\n", loco_error_message());
    return false;
}

/* ---- temporary folders ---------------------------------------------------- */

/* A new empty folder /tmp/loco-<name>-XXXXXX into buf (cap >= 64). */
static inline void test_make_tmpdir(char *buf, size_t cap, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, cap, "%s/loco-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", name);
    assert_non_null(mkdtemp(buf));
}

static inline int test_rm_entry(const char *path, const struct stat *st, int flag,
                                struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Remove a folder and everything under it (a missing one is fine). */
static inline void test_rm_rf(const char *dir)
{
    nftw(dir, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Log one `ask` exchange of `query` with route d and adapter (NULL: the
 * base model) into log; its id (> 0). The exchange log's tests and the
 * learned router's (which learns from logged feedback) share it. */
static inline int64_t test_log_one(struct loco_exchlog *log, const char *query,
                                   const struct loco_route_decision *d, const char *adapter)
{
    struct loco_exchange e = {.command = "ask", .query = query, .route = d, .adapter = adapter,
                              .answer = "an answer", .model = "/m/model.gguf",
                              .model_sha256 = "11111111111111111111111111111111"
                                              "11111111111111111111111111111111",
                              .n_prompt = 12, .n_generated = 5, .first_token_ms = 40,
                              .total_ms = 90};
    int64_t id = 0;
    assert_int_equal(loco_exchlog_add(log, &e, &id), LOCO_OK);
    assert_true(id > 0);
    return id;
}

#endif
