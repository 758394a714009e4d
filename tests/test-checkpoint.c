/*
 * test-checkpoint.c - a checkpoint reads back exactly what was written, and
 * a damaged, truncated or foreign file is refused with a message instead of
 * being resumed from. Overwriting one is atomic: the old checkpoint stays
 * readable until the complete new one is renamed over it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loco/fileio.h"
#include "loco/trainrun.h"
#include "testutil.h"

#define N 1000

static float params[N], moment1[N], moment2[N], losses[7];
static struct loco_val_point vals[2] = {{0, 3.5f}, {5, 2.25f}};

static char dir[64]; /* a private folder per run, removed at the end */

static void make_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static int setup(void **state)
{
    (void)state;
    test_make_tmpdir(dir, sizeof dir, "ckpt");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rm_rf(dir);
    return 0;
}

static struct loco_checkpoint sample(void)
{
    for (int i = 0; i < N; i++) {
        params[i] = (float)i * 0.5f - 3;
        moment1[i] = (float)i * 1e-3f;
        moment2[i] = (float)i * 1e-6f;
    }
    for (int i = 0; i < 7; i++)
        losses[i] = 4.0f - (float)i * 0.25f;
    struct loco_checkpoint c = {
        .n_params = N,
        .step = 7,
        .total_steps = 20,
        .examples_seen = 56,
        .rng_state = 0x1234567890abcdefull,
        .tokens_seen = 12345,
        .elapsed_s = 98.5,
        .params = params,
        .m = moment1,
        .v = moment2,
        .train_loss = losses,
        .val = vals,
        .n_val = 2,
    };
    memset(c.recipe_hash, 'a', 64);
    return c;
}

static void test_round_trip(void **state)
{
    char path[256];
    make_path(path, sizeof path, "rt.bin");
    struct loco_checkpoint c = sample(), r;
    assert_int_equal(loco_checkpoint_write(path, &c), LOCO_OK);
    assert_int_equal(loco_checkpoint_read(path, &r), LOCO_OK);
    assert_string_equal(r.recipe_hash,
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(r.n_params, N);
    assert_int_equal(r.step, 7);
    assert_int_equal(r.total_steps, 20);
    assert_int_equal(r.examples_seen, 56);
    assert_true(r.rng_state == 0x1234567890abcdefull);
    assert_int_equal(r.tokens_seen, 12345);
    assert_float_equal(r.elapsed_s, 98.5, 0);
    assert_memory_equal(r.params, params, sizeof params);
    assert_memory_equal(r.m, moment1, sizeof moment1);
    assert_memory_equal(r.v, moment2, sizeof moment2);
    assert_memory_equal(r.train_loss, losses, sizeof losses);
    assert_int_equal(r.n_val, 2);
    assert_int_equal(r.val[1].step, 5);
    assert_float_equal(r.val[1].loss, 2.25f, 0);
    loco_checkpoint_free(&r);
    unlink(path);
}

/* ---- the write is atomic ------------------------------------------------- */

/* What the writer's temporary file looked like just before its rename. */
static struct {
    char tmp[512];          /* its path */
    bool tmp_complete;      /* it read back as the new checkpoint (step 8) */
    bool target_still_old;  /* the target still read back as the old one (step 7) */
} seen;
static const char *hook_target;

static void before_rename(const char *tmp_path)
{
    struct loco_checkpoint r;
    snprintf(seen.tmp, sizeof seen.tmp, "%s", tmp_path);
    if (loco_checkpoint_read(tmp_path, &r) == LOCO_OK) {
        seen.tmp_complete = r.step == 8;
        loco_checkpoint_free(&r);
    }
    if (loco_checkpoint_read(hook_target, &r) == LOCO_OK) {
        seen.target_still_old = r.step == 7;
        loco_checkpoint_free(&r);
    }
}

static size_t entries_in(const char *folder)
{
    DIR *d = opendir(folder);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Overwriting a checkpoint: the new one is written whole to a temporary
 * file beside the target while the old one stays readable, then renamed
 * over it; nothing else is left in the folder. */
static void test_write_is_atomic(void **state)
{
    char sub[256], path[300];
    snprintf(sub, sizeof sub, "%s/atomic", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/ckpt.bin", sub);
    struct loco_checkpoint c = sample(), r;
    assert_int_equal(loco_checkpoint_write(path, &c), LOCO_OK);
    c.step = 8;
    c.train_loss = params; /* step 8 stores 8 losses: any 8 floats will do */
    memset(&seen, 0, sizeof seen);
    hook_target = path;
    loco_atomic_test_hook_before_rename = before_rename;
    int rc = loco_checkpoint_write(path, &c);
    loco_atomic_test_hook_before_rename = NULL;
    assert_int_equal(rc, LOCO_OK);
    /* the temporary file sat beside the target, under the target's name */
    assert_int_equal(strncmp(seen.tmp, path, strlen(path)), 0);
    assert_int_equal(strncmp(seen.tmp + strlen(path), LOCO_ATOMIC_TMP_SUFFIX,
                             strlen(LOCO_ATOMIC_TMP_SUFFIX)), 0);
    assert_true(seen.tmp_complete);
    assert_true(seen.target_still_old);
    /* and was renamed into place: the target is the new checkpoint */
    assert_int_not_equal(access(seen.tmp, F_OK), 0);
    assert_int_equal(entries_in(sub), 1);
    assert_int_equal(loco_checkpoint_read(path, &r), LOCO_OK);
    assert_int_equal(r.step, 8);
    assert_memory_equal(r.train_loss, params, 8 * sizeof(float));
    loco_checkpoint_free(&r);
}

/* Change one byte at `at` (from the end when negative) or cut the file. */
static void damage(const char *path, long at, bool truncate_it)
{
    size_t len = 0;
    char *buf = test_read_file(path, &len);
    assert_non_null(buf);
    size_t pos = at < 0 ? len + (size_t)at : (size_t)at;
    if (!truncate_it)
        buf[pos] ^= 0x40;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(buf, 1, truncate_it ? pos : len, f);
    fclose(f);
    free(buf);
}

static void expect_refused(const char *name, long at, bool cut, int want, const char *words)
{
    char path[256];
    make_path(path, sizeof path, name);
    struct loco_checkpoint c = sample(), r;
    assert_int_equal(loco_checkpoint_write(path, &c), LOCO_OK);
    damage(path, at, cut);
    assert_int_equal(loco_checkpoint_read(path, &r), want);
    assert_non_null(strstr(loco_error_message(), words));
    assert_non_null(strstr(loco_error_message(), path));
    assert_null(r.params);
    unlink(path);
}

static void test_corruption_refused(void **state)
{
    expect_refused("flip.bin", 2000, false, LOCO_ERR_CHECKSUM, "damaged"); /* in params */
    expect_refused("digest.bin", -3, false, LOCO_ERR_CHECKSUM, "damaged"); /* in the sha */
    expect_refused("cut.bin", -100, true, LOCO_ERR_FORMAT, "truncated");
    expect_refused("magic.bin", 0, false, LOCO_ERR_FORMAT, "not a LocoLLM checkpoint");
    expect_refused("short.bin", 20, true, LOCO_ERR_FORMAT, "too short");
}

static void test_missing(void **state)
{
    struct loco_checkpoint r;
    assert_int_equal(loco_checkpoint_read("/tmp/loco-no-such-checkpoint.bin", &r),
                     LOCO_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_write_is_atomic),
        cmocka_unit_test(test_corruption_refused),
        cmocka_unit_test(test_missing),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
