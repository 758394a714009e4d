/*
 * test-core.c - the utility layer of src/core: error messages (per thread,
 * prefixing, status names), atomic file writes, the string buffer, reading
 * whole files, write_all, dir_of, the user's XDG folders, curl's one-time
 * setup, and the random number streams (pinned to reference values).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loco/core.h"
#include "core/rng.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "loco/fileio.h"
#include "testutil.h"

static void test_set_and_read(void **state)
{
    (void)state;
    assert_int_equal(loco_error_set(LOCO_ERR_FORMAT, "bad %s at %d", "magic", 4),
                     LOCO_ERR_FORMAT);
    assert_string_equal(loco_error_message(), "bad magic at 4");
    loco_error_prefix("file %s", "x.gguf");
    assert_string_equal(loco_error_message(), "file x.gguf: bad magic at 4");
    loco_error_clear();
    assert_string_equal(loco_error_message(), "");
}

static void test_long_message_truncated(void **state)
{
    (void)state;
    char big[4000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    loco_error_set(LOCO_ERR_IO, "%s", big);
    assert_true(strlen(loco_error_message()) < sizeof big);
}

static void *other_thread(void *arg)
{
    (void)arg;
    loco_error_set(LOCO_ERR_IO, "from the other thread");
    return NULL;
}

static void test_per_thread(void **state)
{
    (void)state;
    loco_error_set(LOCO_ERR_NOMEM, "mine");
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    assert_string_equal(loco_error_message(), "mine");
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(loco_status_name(LOCO_OK), "ok");
    assert_string_equal(loco_status_name(LOCO_ERR_CHECKSUM), "checksum");
    assert_string_equal(loco_status_name(LOCO_ERR_BUSY), "busy");
    assert_string_equal(loco_status_name(LOCO_ERR_CANCELLED), "cancelled");
    assert_string_equal(loco_status_name(-999), "unknown");
}

/* ---- atomic writes -------------------------------------------------------- */

/* Entries in dir other than . and .. */
static int n_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static void test_atomic_write_new_and_replace(void **state)
{
    (void)state;
    char dir[200];
    test_make_tmpdir(dir, sizeof dir, "fileio");
    char path[256];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    assert_int_equal(loco_file_write_atomic(path, "first", 5), LOCO_OK);
    char *t = test_read_file(path, NULL);
    assert_string_equal(t, "first");
    free(t);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* not mkstemp's 0600 */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(loco_file_write_atomic(path, "second", 6), LOCO_OK);
    t = test_read_file(path, NULL);
    assert_string_equal(t, "second");
    free(t);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640); /* the replaced file's mode is kept */
    assert_int_equal(loco_file_write_atomic(path, "", 0), LOCO_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(n_entries(dir), 1); /* no temporary left behind */
    unlink(path);
    rmdir(dir);
}

/* A named file opens for reading only when it is a regular file; a FIFO
 * with no writer is refused at once (a plain open would wait forever), and
 * the descriptor reads normally (blocking again). */
static void test_open_regular(void **state)
{
    (void)state;
    char dir[256], path[512], fifo[512], buf[8] = "";
    test_make_tmpdir(dir, sizeof dir, "fileio");
    snprintf(path, sizeof path, "%s/f.txt", dir);
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    assert_int_equal(loco_file_write_atomic(path, "abc", 3), LOCO_OK);
    int fd = -2;
    assert_int_equal(loco_open_regular(path, &fd), LOCO_OK);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(read(fd, buf, sizeof buf), 3);
    close(fd);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(loco_open_regular(fifo, &fd), LOCO_ERR_INVALID);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    assert_int_equal(loco_open_regular(dir, &fd), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "folder"));
    unlink(path);
    assert_int_equal(loco_open_regular(path, &fd), LOCO_ERR_NOT_FOUND);
    FILE *f = NULL;
    assert_int_equal(loco_fopen_regular(fifo, &f), LOCO_ERR_INVALID);
    assert_null(f);
    unlink(fifo);
    rmdir(dir);
}

static void test_atomic_abort_and_errors(void **state)
{
    (void)state;
    char dir[200];
    test_make_tmpdir(dir, sizeof dir, "fileio");
    char path[256];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    assert_int_equal(loco_file_write_atomic(path, "keep", 4), LOCO_OK);
    struct loco_atomic_file af;
    assert_int_equal(loco_atomic_open(&af, path), LOCO_OK);
    assert_non_null(af.f);
    fputs("half a fil", af.f);
    assert_int_equal(n_entries(dir), 2);
    loco_atomic_abort(&af);
    assert_int_equal(n_entries(dir), 1);
    char *t = test_read_file(path, NULL);
    assert_string_equal(t, "keep");
    free(t);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir/f.txt", dir);
    assert_int_equal(loco_file_write_atomic(missing, "x", 1), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "no/such/dir/f.txt"));
    assert_int_equal(loco_file_write_atomic("", "x", 1), LOCO_ERR_INVALID);
    /* a folder where the file should be: the rename fails, the folder stays */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    char inner[320];
    snprintf(inner, sizeof inner, "%s/x", sub);
    assert_int_equal(loco_file_write_atomic(inner, "y", 1), LOCO_OK);
    assert_int_equal(loco_file_write_atomic(sub, "x", 1), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "unchanged"));
    assert_int_equal(n_entries(dir), 2);
    unlink(inner);
    rmdir(sub);
    unlink(path);
    rmdir(dir);
}

static void pause_forever(const char *tmp)
{
    char ready[512];
    snprintf(ready, sizeof ready, "%s.ready", tmp);
    FILE *f = fopen(ready, "w");
    if (f)
        fclose(f);
    for (;;)
        pause();
}

static void test_atomic_killed_writer(void **state)
{
    (void)state;
    char dir[200];
    test_make_tmpdir(dir, sizeof dir, "fileio");
    char path[256];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    assert_int_equal(loco_file_write_atomic(path, "old", 3), LOCO_OK);
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        loco_atomic_test_hook_before_rename = pause_forever;
        loco_file_write_atomic(path, "new and complete", 16);
        _exit(3);
    }
    int ready = 0;
    for (int i = 0; i < 1000 && !ready; i++) {
        ready = n_entries(dir) == 3; /* f.txt, the temporary, its .ready */
        if (!ready)
            usleep(10000);
    }
    assert_true(ready);
    assert_int_equal(kill(kid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(kid, &st, 0), kid);
    assert_true(WIFSIGNALED(st));
    char *t = test_read_file(path, NULL);
    assert_string_equal(t, "old");
    free(t);
    /* clean up the stale temporary and its marker */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char full[600];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(full);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- the string buffer (core/sbuf.h) --------------------------------------- */

static void test_sbuf_appends(void **state)
{
    (void)state;
    struct loco_sbuf b = {0};
    loco_sbuf_adds(&b, "count: ");
    loco_sbuf_printf(&b, "%d of %s", 3, "four");
    loco_sbuf_add(&b, "\0x", 2); /* bytes, NUL included */
    loco_sbuf_adds(&b, NULL);    /* nothing */
    assert_int_equal(b.len, 18);
    assert_memory_equal(b.p, "count: 3 of four\0x", 19);
    char big[2000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    loco_sbuf_printf(&b, "[%s]", big); /* past printf's small stack buffer */
    assert_int_equal(b.len, 18 + 2 + 1999);
    assert_int_equal(b.p[b.len - 1], ']');
    assert_int_equal(b.p[b.len], '\0');
    assert_int_equal(loco_sbuf_status(&b), LOCO_OK);
    char *text = loco_sbuf_finish(&b);
    assert_non_null(text);
    assert_int_equal(text[20], 'z');
    assert_null(b.p); /* given up */
    assert_int_equal(b.len, 0);
    free(text);
}

static void test_sbuf_empty_and_free(void **state)
{
    (void)state;
    struct loco_sbuf b = {0};
    char *text = loco_sbuf_finish(&b);
    assert_string_equal(text, ""); /* nothing appended is still a string */
    free(text);
    loco_sbuf_adds(&b, "dropped");
    loco_sbuf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_sbuf_limit_sticks(void **state)
{
    (void)state;
    struct loco_sbuf b = {.max = 8};
    loco_sbuf_adds(&b, "12345678"); /* exactly max fits */
    assert_false(b.failed);
    loco_sbuf_adds(&b, "9");
    assert_true(b.failed && b.too_long);
    loco_sbuf_adds(&b, ""); /* later appends do nothing */
    assert_string_equal(b.p, "12345678");
    assert_int_equal(loco_sbuf_status(&b), LOCO_ERR_RANGE);
    assert_null(loco_sbuf_finish(&b));
    assert_non_null(strstr(loco_error_message(), "8-byte limit"));
    assert_null(b.p);
    assert_int_equal(b.max, 8); /* the limit is kept for reuse */
    struct loco_sbuf c = {.max = 4};
    loco_sbuf_printf(&c, "%s", "too long");
    assert_int_equal(loco_sbuf_status(&c), LOCO_ERR_RANGE);
    loco_sbuf_free(&c);
}

static void test_sbuf_reserve(void **state)
{
    (void)state;
    struct loco_sbuf b = {.max = 1000};
    assert_true(loco_sbuf_reserve(&b, 600));
    assert_int_equal(b.cap, 601); /* exactly: a known size wastes nothing */
    char *at = b.p;
    char data[600];
    memset(data, 'r', sizeof data);
    loco_sbuf_add(&b, data, sizeof data);
    assert_ptr_equal(b.p, at); /* no second allocation */
    assert_int_equal(b.len, 600);
    assert_false(loco_sbuf_reserve(&b, 401)); /* past max */
    assert_int_equal(loco_sbuf_status(&b), LOCO_ERR_RANGE);
    loco_sbuf_free(&b);
}

static void test_str_printf(void **state)
{
    (void)state;
    char *s = loco_str_printf("%s=%d", "n", 42);
    assert_string_equal(s, "n=42");
    free(s);
}

/* ---- files and paths (core/util.h) ----------------------------------------- */

static void test_read_whole_file(void **state)
{
    (void)state;
    char dir[64], path[128];
    test_make_tmpdir(dir, sizeof dir, "core-read");
    snprintf(path, sizeof path, "%s/f.txt", dir);
    test_write_file(path, "hello\nworld");
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(loco_read_file(path, 100, &text, &len), LOCO_OK);
    assert_string_equal(text, "hello\nworld");
    assert_int_equal(len, 11);
    free(text);
    assert_int_equal(loco_read_file(path, 11, &text, NULL), LOCO_OK); /* exactly the limit */
    free(text);
    assert_int_equal(loco_read_file(path, 10, &text, &len), LOCO_ERR_RANGE);
    assert_null(text);
    assert_non_null(strstr(loco_error_message(), "larger than 10 bytes"));
    test_write_file(path, "");
    assert_int_equal(loco_read_file(path, 10, &text, &len), LOCO_OK);
    assert_string_equal(text, "");
    assert_int_equal(len, 0);
    free(text);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none", dir);
    assert_int_equal(loco_read_file(missing, 10, &text, &len), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), missing));
    assert_int_equal(loco_read_file(dir, 10, &text, &len), LOCO_ERR_IO); /* a folder */
    assert_null(text);
    assert_non_null(strstr(loco_error_message(), "is a folder"));
    /* a named FIFO without a writer is refused at once, not waited on */
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(20); /* a hang fails the test instead of stalling the suite */
    assert_int_equal(loco_read_file(fifo, 10, &text, &len), LOCO_ERR_IO);
    alarm(0);
    assert_null(text);
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    assert_non_null(strstr(loco_error_message(), fifo));
    test_rm_rf(dir);
}

static void test_read_big_file(void **state)
{
    (void)state;
    char dir[64], path[128];
    test_make_tmpdir(dir, sizeof dir, "core-big");
    snprintf(path, sizeof path, "%s/big", dir);
    size_t n = 200000; /* several read chunks */
    char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    assert_int_equal(loco_file_write_atomic(path, data, n), LOCO_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(loco_read_file(path, n, &text, &len), LOCO_OK);
    assert_int_equal(len, n);
    assert_memory_equal(text, data, n);
    free(text);
    assert_int_equal(loco_read_file(path, n - 1, &text, &len), LOCO_ERR_RANGE);
    free(data);
    test_rm_rf(dir);
}

static void test_read_regular_file(void **state)
{
    (void)state;
    char dir[64], path[128], fifo[128];
    test_make_tmpdir(dir, sizeof dir, "core-regular");
    snprintf(path, sizeof path, "%s/f.yaml", dir);
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    test_write_file(path, "a: 1\n");
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(loco_read_regular_file(path, 100, &text, &len), LOCO_OK);
    assert_string_equal(text, "a: 1\n");
    assert_int_equal(len, 5);
    free(text);
    assert_int_equal(loco_read_regular_file(path, 4, &text, &len), LOCO_ERR_RANGE);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* no writer: a plain open would wait forever */
    assert_int_equal(loco_read_regular_file(fifo, 100, &text, &len), LOCO_ERR_INVALID);
    assert_null(text);
    assert_int_equal(loco_read_regular_file(dir, 100, &text, &len), LOCO_ERR_INVALID);
    snprintf(path, sizeof path, "%s/none", dir);
    assert_int_equal(loco_read_regular_file(path, 100, &text, &len), LOCO_ERR_NOT_FOUND);
    test_rm_rf(dir);
}

static void test_read_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_true(loco_write_all(fds[1], "through a pipe", 14));
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(loco_read_file(path, 100, &text, &len), LOCO_OK); /* not a regular file */
    assert_string_equal(text, "through a pipe");
    assert_int_equal(len, 14);
    free(text);
    close(fds[0]);
}

static void test_write_all(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_true(loco_write_all(fds[1], "abc", 3));
    assert_true(loco_write_all(fds[1], "", 0));
    char got[4] = {0};
    assert_int_equal(read(fds[0], got, sizeof got), 3);
    assert_string_equal(got, "abc");
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    assert_false(loco_write_all(fds[1], "x", 1)); /* no reader left */
    close(fds[1]);
    assert_false(loco_write_all(-1, "x", 1));
}

static void test_dir_of(void **state)
{
    (void)state;
    char buf[32];
    loco_dir_of("a/b/c.txt", buf, sizeof buf);
    assert_string_equal(buf, "a/b");
    loco_dir_of("/top.txt", buf, sizeof buf);
    assert_string_equal(buf, "/");
    loco_dir_of("alone.txt", buf, sizeof buf);
    assert_string_equal(buf, ".");
    loco_dir_of("/x/y/", buf, sizeof buf);
    assert_string_equal(buf, "/x/y");
    loco_dir_of("long/folder/name/f", buf, 5);
    assert_string_equal(buf, "long");
}

/* Set or unset (value NULL) one variable, keeping the old value in keep. */
static void set_env(const char *name, const char *value, char *keep, size_t cap)
{
    const char *old = getenv(name);
    snprintf(keep, cap, "%s", old ? old : "");
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

static void test_user_paths(void **state)
{
    (void)state;
    char home[512], data[512], cache[512], buf[256];
    set_env("HOME", "/home/student", home, sizeof home);
    set_env("XDG_DATA_HOME", NULL, data, sizeof data);
    set_env("XDG_CACHE_HOME", NULL, cache, sizeof cache);
    assert_string_equal(loco_home_dir(), "/home/student");
    assert_int_equal(loco_user_path(LOCO_USER_DATA, "adapters", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/home/student/.local/share/locollm/adapters");
    assert_int_equal(loco_user_path(LOCO_USER_CACHE, "models", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/home/student/.cache/locollm/models");
    assert_int_equal(loco_user_path(LOCO_USER_DATA, NULL, buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/home/student/.local/share/locollm");
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    setenv("XDG_CACHE_HOME", "relative/cache", 1); /* not absolute: ignored, as the spec says */
    assert_int_equal(loco_user_path(LOCO_USER_DATA, "registry.yaml", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/xdg/data/locollm/registry.yaml");
    assert_int_equal(loco_user_path(LOCO_USER_CACHE, "", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/home/student/.cache/locollm");
    assert_int_equal(loco_user_path(LOCO_USER_DATA, "x", buf, 8), LOCO_ERR_RANGE);
    setenv("XDG_DATA_HOME", "/xdg/data//", 1); /* no doubled slash */
    assert_int_equal(loco_user_path(LOCO_USER_DATA, "x", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/xdg/data/locollm/x");
    setenv("HOME", "/", 1);
    assert_int_equal(loco_user_path(LOCO_USER_CACHE, "models", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "/.cache/locollm/models");
    setenv("HOME", home, 1);
    setenv("XDG_DATA_HOME", data, 1);
    setenv("XDG_CACHE_HOME", cache, 1);
    if (!data[0])
        unsetenv("XDG_DATA_HOME");
    if (!cache[0])
        unsetenv("XDG_CACHE_HOME");
}

static void test_curl_init_once(void **state)
{
    (void)state;
    assert_int_equal(loco_curl_init(), LOCO_OK);
    assert_int_equal(loco_curl_init(), LOCO_OK); /* a second call is harmless */
}

/* ---- random numbers (core/rng.h) ------------------------------------------- */

/* Expected values below come from an independent Python transcription of
 * the published reference code (splitmix64.c, xoshiro256starstar.c); they
 * pin the streams that results and records depend on. */
static void test_splitmix64_stream(void **state)
{
    (void)state;
    uint64_t s = 0;
    assert_true(loco_rng_next(&s) == 0xe220a8397b1dcdafull);
    assert_true(loco_rng_next(&s) == 0x6e789e6aa1b965f4ull);
    assert_true(loco_rng_next(&s) == 0x06c45d188009454full);
    s = 1234567;
    assert_true(loco_rng_next(&s) == 0x599ed017fb08fc85ull);
    assert_true(loco_rng_next(&s) == 0x2c73f08458540fa5ull);
    assert_true(loco_mix64(0x9e3779b97f4a7c15ull) == 0xe220a8397b1dcdafull);
    s = 1234567;
    assert_true(loco_splitmix64(&s) == 0x599ed017fb08fc85ull); /* the inline twin */
    assert_true(loco_rng_mix(1, 2, 3) == 0xd0734750fde362b3ull);
}

static void test_rng_below(void **state)
{
    (void)state;
    uint64_t s = 7;
    const size_t want[5] = {7, 4, 6, 3, 4};
    for (int i = 0; i < 5; i++)
        assert_int_equal(loco_rng_below(&s, 10), want[i]);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(loco_rng_below(&s, 1), 0);
}

static void test_xoshiro_stream(void **state)
{
    (void)state;
    struct loco_xoshiro r;
    loco_xoshiro_seed(&r, 42);
    assert_true(loco_xoshiro_next(&r) == 0x15780b2e0c2ec716ull);
    assert_true(loco_xoshiro_next(&r) == 0x6104d9866d113a7eull);
    assert_true(loco_xoshiro_next(&r) == 0xae17533239e499a1ull);
    assert_true(loco_xoshiro_next(&r) == 0xecb8ad4703b360a1ull);
    loco_xoshiro_seed(&r, 42);
    assert_float_equal(loco_xoshiro_double(&r), 0.08386297105988216, 1e-17);
    loco_xoshiro_seed(&r, 42);
    /* the top 24 bits of the first draw: 0x15780b / 2^24 */
    assert_float_equal(loco_xoshiro_float(&r), 0x15780b / 16777216.0, 1e-9);
    for (int i = 0; i < 1000; i++) {
        double d = loco_xoshiro_double(&r);
        assert_true(d >= 0.0 && d < 1.0);
    }
}

static void test_one_word_generators(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull; /* the learned router's seed */
    assert_true(loco_xorshift64(&x) == 0xdc1b77ae0bf34dadull);
    assert_true(x == 0xdc1b77ae0bf34dadull);
    assert_true(loco_xorshift64(&x) == 0x64f0eeb9026e6076ull);
    assert_true(loco_xorshift64(&x) == 0x7b07ce91e5906136ull);
    uint64_t l = 1; /* the classifier's seed */
    assert_true(loco_lcg64(&l) == 0x6c576fac43fd007cull);
    assert_true(loco_lcg64(&l) == 0x826886b3864a1b1bull);
    assert_true(loco_lcg64(&l) == 0xa5fae1992097aa0eull);
    assert_true(l == 0xa5fae1992097aa0eull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_read),
        cmocka_unit_test(test_long_message_truncated),
        cmocka_unit_test(test_per_thread),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_atomic_write_new_and_replace),
        cmocka_unit_test(test_open_regular),
        cmocka_unit_test(test_atomic_abort_and_errors),
        cmocka_unit_test(test_atomic_killed_writer),
        cmocka_unit_test(test_sbuf_appends),
        cmocka_unit_test(test_sbuf_empty_and_free),
        cmocka_unit_test(test_sbuf_limit_sticks),
        cmocka_unit_test(test_sbuf_reserve),
        cmocka_unit_test(test_str_printf),
        cmocka_unit_test(test_read_whole_file),
        cmocka_unit_test(test_read_big_file),
        cmocka_unit_test(test_read_regular_file),
        cmocka_unit_test(test_read_pipe),
        cmocka_unit_test(test_write_all),
        cmocka_unit_test(test_dir_of),
        cmocka_unit_test(test_user_paths),
        cmocka_unit_test(test_curl_init_once),
        cmocka_unit_test(test_splitmix64_stream),
        cmocka_unit_test(test_rng_below),
        cmocka_unit_test(test_xoshiro_stream),
        cmocka_unit_test(test_one_word_generators),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
