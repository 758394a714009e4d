/*
 * test-evalcache.c - the evaluation's generation cache: keys, round trips,
 * persistence, two writer processes at once, a writer killed mid-run, and
 * files that are not caches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loco/evalcache.h"
#include "testutil.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/loco-test-evalcache-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    test_rm_rf(dir);
    return 0;
}

static void test_keys(void **state)
{
    (void)state;
    char k1[65], k2[65];
    assert_int_equal(loco_evalcache_key("m", "a", "s", "p", k1), LOCO_OK);
    assert_int_equal(strlen(k1), 64);
    assert_int_equal(loco_evalcache_key("m", "a", "s", "p", k2), LOCO_OK);
    assert_string_equal(k1, k2);
    /* every part matters, and moving text between parts changes the key */
    const char *variants[][4] = {{"M", "a", "s", "p"}, {"m", "A", "s", "p"}, {"m", "a", "S", "p"},
                                 {"m", "a", "s", "P"}, {"ma", "", "s", "p"}, {"m", "as", "", "p"}};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        assert_int_equal(loco_evalcache_key(variants[i][0], variants[i][1], variants[i][2],
                                            variants[i][3], k2),
                         LOCO_OK);
        assert_string_not_equal(k1, k2);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    char path[128], key[65];
    snprintf(path, sizeof path, "%s/rt.sqlite", dir);
    struct loco_evalcache *c;
    assert_int_equal(loco_evalcache_open(path, &c), LOCO_OK);
    assert_int_equal(loco_evalcache_count(c), 0);
    loco_evalcache_key("sha", "math@abc:1", "greedy,256", "What is 2+2?", key);
    struct loco_evalcache_entry e;
    assert_int_equal(loco_evalcache_get(c, key, &e), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_evalcache_put(c, key, "sha", "math@abc:1", "greedy,256",
                                        "What is 2+2?", "4\n#### 4 \xc3\xa9", 7, 12.5),
                     LOCO_OK);
    assert_int_equal(loco_evalcache_get(c, key, &e), LOCO_OK);
    assert_string_equal(e.output, "4\n#### 4 \xc3\xa9");
    assert_int_equal(e.n_tokens, 7);
    assert_true(e.ms == 12.5);
    free(e.output);
    /* replacing keeps one row */
    assert_int_equal(loco_evalcache_put(c, key, "sha", "math@abc:1", "greedy,256",
                                        "What is 2+2?", "5", 1, 1.0),
                     LOCO_OK);
    assert_int_equal(loco_evalcache_count(c), 1);
    loco_evalcache_close(c);
    /* persisted */
    assert_int_equal(loco_evalcache_open(path, &c), LOCO_OK);
    assert_int_equal(loco_evalcache_get(c, key, &e), LOCO_OK);
    assert_string_equal(e.output, "5");
    free(e.output);
    loco_evalcache_close(c);
}

static void write_many(const char *path, int from, int n)
{
    struct loco_evalcache *c;
    if (loco_evalcache_open(path, &c) != LOCO_OK)
        _exit(3);
    for (int i = from; i < from + n; i++) {
        char prompt[32], key[65];
        snprintf(prompt, sizeof prompt, "item %d", i);
        loco_evalcache_key("m", "", "s", prompt, key);
        if (loco_evalcache_put(c, key, "m", "", "s", prompt, prompt, i, 0) != LOCO_OK)
            _exit(4);
    }
    loco_evalcache_close(c);
}

/* Two processes writing at once lose nothing. */
static void test_two_writers(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/two.sqlite", dir);
    pid_t pid[2];
    for (int k = 0; k < 2; k++) {
        pid[k] = fork();
        assert_true(pid[k] >= 0);
        if (pid[k] == 0) {
            write_many(path, k * 1000, 200);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = 0;
        waitpid(pid[k], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    struct loco_evalcache *c;
    assert_int_equal(loco_evalcache_open(path, &c), LOCO_OK);
    assert_int_equal(loco_evalcache_count(c), 400);
    loco_evalcache_close(c);
}

/* A writer killed with SIGKILL leaves every answer it committed readable. */
static void test_killed_writer(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/killed.sqlite", dir);
    write_many(path, 0, 10); /* the parent's own answers first */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        write_many(path, 100, 1000000);
        _exit(0);
    }
    usleep(300 * 1000);
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st));
    struct loco_evalcache *c;
    assert_int_equal(loco_evalcache_open(path, &c), LOCO_OK);
    int64_t n = loco_evalcache_count(c);
    print_message("the killed writer had committed %lld answers\n", (long long)n - 10);
    assert_true(n > 10);
    /* every committed row is whole: the child's i-th answer is its prompt */
    char key[65];
    struct loco_evalcache_entry e;
    loco_evalcache_key("m", "", "s", "item 100", key);
    assert_int_equal(loco_evalcache_get(c, key, &e), LOCO_OK);
    assert_string_equal(e.output, "item 100");
    free(e.output);
    loco_evalcache_key("m", "", "s", "item 5", key);
    assert_int_equal(loco_evalcache_get(c, key, &e), LOCO_OK);
    free(e.output);
    loco_evalcache_close(c);
}

static void test_not_a_cache(void **state)
{
    (void)state;
    char path[128];
    struct loco_evalcache *c = NULL;
    snprintf(path, sizeof path, "%s/text.sqlite", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not a database, just some text that is long enough to matter......\n", f);
    fclose(f);
    assert_int_equal(loco_evalcache_open(path, &c), LOCO_ERR_FORMAT);
    assert_null(c);
    assert_non_null(strstr(loco_error_message(), "not an evaluation cache"));
    /* another application's SQLite database */
    snprintf(path, sizeof path, "%s/other.sqlite", dir);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "printf 'PRAGMA application_id=7; CREATE TABLE t(x);' | sqlite3 '%s' 2>/dev/null",
             path);
    if (system(cmd) == 0) {
        assert_int_equal(loco_evalcache_open(path, &c), LOCO_ERR_FORMAT);
        assert_non_null(strstr(loco_error_message(), "not a LocoLLM"));
    }
    snprintf(path, sizeof path, "%s/no/such/dir/c.sqlite", dir);
    assert_int_equal(loco_evalcache_open(path, &c), LOCO_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),          cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_two_writers),   cmocka_unit_test(test_killed_writer),
        cmocka_unit_test(test_not_a_cache),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
