/*
 * test-core.c - error messages (per thread, prefixing, status names) and
 * atomic file writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loco/core.h"
#include "loco/fileio.h"

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
    assert_string_equal(loco_status_name(-999), "unknown");
}

/* ---- atomic writes -------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 4096);
    size_t n = buf ? fread(buf, 1, 4095, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

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
    char dir[] = "/tmp/loco-fileio-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    assert_int_equal(loco_file_write_atomic(path, "first", 5), LOCO_OK);
    char *t = slurp(path);
    assert_string_equal(t, "first");
    free(t);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* not mkstemp's 0600 */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(loco_file_write_atomic(path, "second", 6), LOCO_OK);
    t = slurp(path);
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

static void test_atomic_abort_and_errors(void **state)
{
    (void)state;
    char dir[] = "/tmp/loco-fileio-XXXXXX";
    assert_non_null(mkdtemp(dir));
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
    char *t = slurp(path);
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
    char dir[] = "/tmp/loco-fileio-XXXXXX";
    assert_non_null(mkdtemp(dir));
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
    char *t = slurp(path);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_read),
        cmocka_unit_test(test_long_message_truncated),
        cmocka_unit_test(test_per_thread),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_atomic_write_new_and_replace),
        cmocka_unit_test(test_atomic_abort_and_errors),
        cmocka_unit_test(test_atomic_killed_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
