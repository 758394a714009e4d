/*
 * test-install.c - installing shared adapters (loco/install.h): the adapter
 * index, Hugging Face references, unpacking hostile bundles, and whole
 * installs of the shipped math adapter into a temporary user data folder,
 * each refusal leaving the adapters folder and the overlay as they were.
 * Nothing here reaches the network.
 */
#include "testutil.h"

#include <dirent.h>
#include <zip.h>

#include "loco/install.h"
#include "loco/registry.h"

#define SHIPPED_BASE "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
#define OTHER_BASE "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* ---- the index ------------------------------------------------------------ */

static const char good_index[] =
    "{\"version\": 1, \"adapters\": ["
    " {\"name\": \"math-plus\", \"domain\": \"math\", \"base_sha256\": \"" SHIPPED_BASE "\","
    "  \"url\": \"files/math-plus.gguf\", \"sha256\": \"" OTHER_BASE "\", \"size\": 9800000,"
    "  \"license\": \"Apache-2.0\", \"record\": \"https://example.org/r.json\"},"
    " {\"name\": \"code-x\", \"domain\": \"code\", \"base_sha256\": \"" SHIPPED_BASE "\","
    "  \"url\": \"https://cdn.example.org/code-x.zip\", \"sha256\": \"" OTHER_BASE "\","
    "  \"size\": 12, \"license\": \"MIT\", \"version\": \"2.0.1\","
    "  \"record\": {\"benchmark\": \"mbpp\", \"score\": 0.25, \"passed\": true}}]}";

static void test_index_parse(void **state)
{
    (void)state;
    struct loco_install_index *idx;
    assert_int_equal(loco_install_index_parse(good_index, sizeof good_index - 1,
                                              "https://host.example/shared/index.json", &idx),
                     LOCO_OK);
    assert_int_equal(idx->n_entries, 2);
    const struct loco_install_entry *e = loco_install_index_find(idx, "math-plus");
    assert_non_null(e);
    assert_string_equal(e->domain, "math");
    assert_int_equal(e->size, 9800000);
    assert_string_equal(e->license, "Apache-2.0");
    assert_string_equal(e->version, "");
    char url[4096];
    assert_int_equal(loco_install_index_file_url(idx, e, url, sizeof url), LOCO_OK);
    assert_string_equal(url, "https://host.example/shared/files/math-plus.gguf");
    e = loco_install_index_find(idx, "code-x");
    assert_string_equal(e->version, "2.0.1");
    assert_non_null(strstr(e->record, "\"benchmark\":\"mbpp\""));
    assert_int_equal(loco_install_index_file_url(idx, e, url, sizeof url), LOCO_OK);
    assert_string_equal(url, "https://cdn.example.org/code-x.zip");
    assert_null(loco_install_index_find(idx, "nope"));
    assert_non_null(strstr(loco_error_message(), "math-plus, code-x"));
    loco_install_index_free(idx);

    /* a local index: relative URLs are files beside it */
    assert_int_equal(
        loco_install_index_parse(good_index, sizeof good_index - 1, "/srv/idx/index.json", &idx),
        LOCO_OK);
    assert_int_equal(loco_install_index_file_url(idx, &idx->entries[0], url, sizeof url), LOCO_OK);
    assert_string_equal(url, "/srv/idx/files/math-plus.gguf");
    loco_install_index_free(idx);
}

static void test_index_load_and_kinds(void **state)
{
    (void)state;
    char tmp[1024], path[2048];
    test_make_tmpdir(tmp, sizeof tmp, "install-index");
    snprintf(path, sizeof path, "%s/index.json", tmp);
    test_write_file(path, good_index);
    struct loco_install_index *idx;
    assert_int_equal(loco_install_index_load(path, false, &idx), LOCO_OK);
    assert_int_equal(idx->n_entries, 2);
    assert_string_equal(idx->origin, path);
    loco_install_index_free(idx);
    snprintf(path, sizeof path, "%s/absent.json", tmp);
    assert_true(loco_install_index_load(path, false, &idx) < 0);
    assert_non_null(strstr(loco_error_message(), "cannot read the adapter index"));
    assert_int_equal(loco_install_index_load("file:///etc/hostname", false, &idx),
                     LOCO_ERR_INVALID);
    test_rm_rf(tmp);

    const char *names[] = {"index", "url", "hf", "file", "bundle", "peft"};
    for (int k = LOCO_INSTALL_INDEX; k <= LOCO_INSTALL_PEFT; k++)
        assert_string_equal(loco_install_kind_name((enum loco_install_kind)k), names[k - 1]);
    struct loco_install_limits lim = loco_install_default_limits();
    assert_int_equal(lim.max_files, 64);
    assert_int_equal(lim.max_depth, 4);
    struct loco_install_params p = loco_install_default_params();
    assert_int_equal(p.limits.max_bytes, lim.max_bytes);
    assert_false(p.dry_run);
}

/* The index text with `from` replaced by `to` must be refused, naming `says`. */
static void refused(const char *from, const char *to, const char *says)
{
    char text[4096];
    const char *at = strstr(good_index, from);
    assert_non_null(at);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good_index), good_index, to,
             at + strlen(from));
    struct loco_install_index *idx = (void *)1;
    int rc = loco_install_index_parse(text, strlen(text), "idx.json", &idx);
    if (rc == LOCO_OK) { /* the url check happens when the entry is used */
        char url[4096];
        rc = loco_install_index_file_url(idx, &idx->entries[0], url, sizeof url);
        loco_install_index_free(idx);
    } else {
        assert_null(idx);
    }
    assert_true(rc < 0);
    if (!strstr(loco_error_message(), says))
        fail_msg("'%s' -> '%s': message '%s' lacks '%s'", from, to, loco_error_message(), says);
}

static void test_index_refusals(void **state)
{
    (void)state;
    refused("\"version\": 1", "\"version\": 2", "must be 1");
    refused("\"adapters\": [", "\"adapterz\": [", "\"adapters\" must be a list");
    refused("\"sha256\": \"" OTHER_BASE "\", \"size\": 9800000",
            "\"sha256\": \"abc\", \"size\": 9800000", "adapters[0].sha256 = 'abc'");
    refused("\"size\": 9800000", "\"size\": 0", "adapters[0].size");
    refused("\"size\": 9800000", "\"size\": 1.5", "adapters[0].size");
    refused("\"license\": \"Apache-2.0\", ", "", "adapters[0].license");
    refused("\"name\": \"code-x\"", "\"name\": \"math-plus\"", "listed twice");
    refused("\"name\": \"math-plus\"", "\"name\": \"Math Plus\"", "adapters[0].name");
    refused("\"record\": \"https://example.org/r.json\"", "\"record\": 3", "adapters[0].record");
    refused("files/math-plus.gguf", "../../etc/passwd", "inside the index's folder");
    refused("files/math-plus.gguf", "/etc/passwd", "inside the index's folder");
    refused("{\"version\"", "[{\"version\"", "not valid JSON");
}

static void test_hf_url(void **state)
{
    (void)state;
    char url[4096];
    bool has_file;
    assert_int_equal(
        loco_install_hf_url("hf:ada/math-lora/adapter.gguf", url, sizeof url, &has_file), LOCO_OK);
    assert_true(has_file);
    assert_string_equal(url, "https://huggingface.co/ada/math-lora/resolve/main/adapter.gguf");
    assert_int_equal(loco_install_hf_url("hf:ada/math-lora", url, sizeof url, &has_file), LOCO_OK);
    assert_false(has_file);
    assert_string_equal(url, "https://huggingface.co/api/models/ada/math-lora");
    const char *bad[] = {"hf:ada",           "hf:../x/y", "hf:ada/../f",
                         "hf:ada/r/../../x", "hf:a b/c",  "https://x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(loco_install_hf_url(bad[i], url, sizeof url, &has_file), LOCO_ERR_INVALID);
}

/* ---- hostile archives -------------------------------------------------------- */

struct entry {
    const char *name;
    const char *text;
    mode_t mode; /* 0: none recorded */
};

static void make_zip(const char *path, const struct entry *e, size_t n)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(z, e[i].text, strlen(e[i].text), 0);
        zip_int64_t at = zip_file_add(z, e[i].name, s, ZIP_FL_ENC_UTF_8);
        assert_true(at >= 0);
        if (e[i].mode)
            assert_int_equal(zip_file_set_external_attributes(z, (zip_uint64_t)at, 0,
                                                              ZIP_OPSYS_UNIX,
                                                              (zip_uint32_t)e[i].mode << 16),
                             0);
    }
    assert_int_equal(zip_close(z), 0);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

/* Unpack entries into a fresh dir/out: the status, and the message must
 * name `says` on a refusal. */
static int unpack(const char *tmp /* < 1024 bytes */, const struct entry *e, size_t n,
                  const struct loco_install_limits *lim, const char *says)
{
    char zip[4096], out[4096];
    snprintf(zip, sizeof zip, "%.1024s/b.zip", tmp);
    snprintf(out, sizeof out, "%.1024s/out", tmp);
    test_rm_rf(out);
    assert_int_equal(mkdir(out, 0755), 0);
    make_zip(zip, e, n);
    int rc = loco_install_unpack_zip(zip, out, lim);
    if (rc && says && !strstr(loco_error_message(), says))
        fail_msg("message '%s' lacks '%s'", loco_error_message(), says);
    return rc;
}

static void test_unpack_hostile(void **state)
{
    (void)state;
    char tmp[1024], path[4096];
    test_make_tmpdir(tmp, sizeof tmp, "install-zip");
    struct loco_install_limits lim = loco_install_default_limits();

    const struct entry ok[] = {{"bundle/", "", 040755},
                               {"bundle/a.gguf", "GGUF", 0100644},
                               {"bundle/manifest.json", "{}", 0}};
    assert_int_equal(unpack(tmp, ok, 3, &lim, NULL), LOCO_OK);
    snprintf(path, sizeof path, "%s/out/bundle/a.gguf", tmp);
    size_t len = 0;
    char *text = test_read_file(path, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(text, "GGUF", 4);
    free(text);

    const struct entry abs[] = {{"/tmp/loco-install-abs", "x", 0}};
    assert_int_equal(unpack(tmp, abs, 1, &lim, "absolute path"), LOCO_ERR_INVALID);
    assert_int_equal(access("/tmp/loco-install-abs", F_OK), -1);
    const struct entry up[] = {{"a.gguf", "x", 0}, {"../escaped", "x", 0}};
    assert_int_equal(unpack(tmp, up, 2, &lim, "'../escaped'"), LOCO_ERR_INVALID);
    snprintf(path, sizeof path, "%s/escaped", tmp);
    assert_int_equal(access(path, F_OK), -1);
    const struct entry deep_up[] = {{"a/../../x", "x", 0}};
    assert_int_equal(unpack(tmp, deep_up, 1, &lim, "leaves the folder"), LOCO_ERR_INVALID);
    const struct entry link[] = {{"lnk", "/etc", 0120777}, {"lnk/passwd", "x", 0}};
    assert_int_equal(unpack(tmp, link, 2, &lim, "symbolic link"), LOCO_ERR_INVALID);
    const struct entry dev[] = {{"null", "", 020666}};
    assert_int_equal(unpack(tmp, dev, 1, &lim, "device or FIFO"), LOCO_ERR_INVALID);
    const struct entry fifo[] = {{"pipe", "", 010644}};
    assert_int_equal(unpack(tmp, fifo, 1, &lim, "device or FIFO"), LOCO_ERR_INVALID);
    /* nothing of the refused ones was written */
    snprintf(path, sizeof path, "%s/out", tmp);
    assert_int_equal(count_entries(path), 0);

    struct loco_install_limits few = lim;
    few.max_files = 2;
    const struct entry many[] = {{"a", "1", 0}, {"b", "2", 0}, {"c", "3", 0}};
    assert_int_equal(unpack(tmp, many, 3, &few, "3 entries, more than the limit of 2"),
                     LOCO_ERR_INVALID);
    assert_int_equal(unpack(tmp, many, 2, &few, NULL), LOCO_OK);
    struct loco_install_limits small = lim;
    small.max_bytes = 10;
    const struct entry big[] = {{"a", "0123456", 0}, {"b", "0123456", 0}};
    assert_int_equal(unpack(tmp, big, 2, &small, "more than 10 bytes"), LOCO_ERR_INVALID);
    struct loco_install_limits shallow = lim;
    shallow.max_depth = 1;
    const struct entry deep[] = {{"a/b/c/d", "x", 0}};
    assert_int_equal(unpack(tmp, deep, 1, &shallow, "folders deep"), LOCO_ERR_INVALID);

    snprintf(path, sizeof path, "%s/not.zip", tmp);
    test_write_file(path, "not a zip at all");
    assert_int_equal(loco_install_unpack_zip(path, tmp, &lim), LOCO_ERR_FORMAT);
    test_rm_rf(tmp);
}

/* ---- whole installs -------------------------------------------------------- */

struct fx {
    char tmp[1024];
    char registry[4096];
    char adir[4096];
    char overlay[4096];
    char adapter[4096]; /* the shipped math adapter */
    char sha[65];
};

/* A project registry of base `base` with the domains math and code. */
static void write_registry(struct fx *f, const char *base)
{
    char text[2048];
    snprintf(text, sizeof text,
             "schema_version: 2\n"
             "base_model: {name: SmolLM2-135M-Instruct, file: SmolLM2-135M-Instruct.Q4_1.gguf, "
             "sha256: %s, architecture: llama, academic_year: \"2026\"}\n"
             "domains:\n"
             "  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}\n"
             "  code: {primary_benchmark: mbpp, benchmarks: [mbpp]}\n"
             "adapters: []\n",
             base);
    test_write_file(f->registry, text);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    *state = f;
    test_make_tmpdir(f->tmp, sizeof f->tmp, "install");
    snprintf(f->registry, sizeof f->registry, "%s/proj/adapters/registry.yaml", f->tmp);
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/proj/adapters", f->tmp);
    loco_models_mkdirs(dir);
    snprintf(dir, sizeof dir, "%s/data", f->tmp);
    setenv("XDG_DATA_HOME", dir, 1);
    snprintf(f->adir, sizeof f->adir, "%s/data/locollm/adapters", f->tmp);
    snprintf(f->overlay, sizeof f->overlay, "%s/data/locollm/registry.yaml", f->tmp);
    unsetenv("LOCO_ADAPTERS_DIR");
    unsetenv("LOCO_ADAPTER_INDEX");
    setenv("LOCO_REGISTRY", f->registry, 1);
    write_registry(f, SHIPPED_BASE);
    test_source_path("adapters/math/math.gguf", f->adapter, sizeof f->adapter);
    assert_int_equal(loco_models_sha256_file(f->adapter, f->sha), LOCO_OK);
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    test_rm_rf(f->tmp);
    free(f);
    return 0;
}

/* The adapters folder's names and the overlay's text, to compare before
 * and after a refusal. */
static void snapshot(const struct fx *f, char *buf, size_t cap)
{
    size_t used = 0;
    DIR *d = opendir(f->adir);
    for (struct dirent *e; d && (e = readdir(d));)
        used += (size_t)snprintf(buf + used, cap - used, "%s;", e->d_name);
    if (d)
        closedir(d);
    size_t len = 0;
    char *text = access(f->overlay, F_OK) == 0 ? test_read_file(f->overlay, &len) : NULL;
    snprintf(buf + used, cap - used, "|%.*s", (int)len, text ? text : "");
    free(text);
}

/* After a remove: the same adapter files as before (the overlay may now
 * hold an empty `adapters: []`). */
static void assert_same_files(const struct fx *f, const char *before)
{
    char after[8192];
    snapshot(f, after, sizeof after);
    assert_memory_equal(before, after, (size_t)(strchr(before, '|') - before + 1));
    assert_int_equal(strchr(before, '|') - before, strchr(after, '|') - after);
}

static void assert_unchanged(const struct fx *f, const char *before)
{
    char after[8192];
    snapshot(f, after, sizeof after);
    assert_string_equal(before, after);
}

static void test_install_file_and_remove(void **state)
{
    struct fx *f = *state;
    struct loco_install_params p = loco_install_default_params();
    struct loco_install_result r;
    /* a killed install's staging folder is cleaned by the next one */
    char stale[4096];
    snprintf(stale, sizeof stale, "%.2000s/.install-dead01", f->adir);
    loco_models_mkdirs(stale);
    assert_int_equal(loco_install(f->adapter, &p, &r), LOCO_OK);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(r.kind, LOCO_INSTALL_FILE);
    assert_string_equal(r.name, "math");
    assert_string_equal(r.domain, "math");
    assert_string_equal(r.sha256, f->sha);
    assert_string_equal(r.base_sha256, SHIPPED_BASE);
    assert_true(r.base_recorded);
    assert_int_equal(r.rank, 16);
    char want[4096];
    snprintf(want, sizeof want, "%.2000s/math.gguf", f->adir);
    assert_string_equal(r.path, want);

    struct loco_registry *reg = loco_registry_load(NULL);
    assert_non_null(reg);
    const struct loco_registry_adapter *a = loco_registry_find(reg, "math");
    assert_non_null(a);
    assert_true(a->user);
    assert_string_equal(a->path, want);
    assert_string_equal(a->sha256, f->sha);
    assert_int_equal(a->status, LOCO_REGISTRY_CANDIDATE);
    assert_int_equal(loco_registry_check_files(reg), 0);
    loco_registry_free(reg);

    /* a second install of the same name is refused, changing nothing */
    char before[8192];
    snapshot(f, before, sizeof before);
    assert_int_equal(loco_install(f->adapter, &p, &r), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "already in the registry"));
    assert_unchanged(f, before);

    /* remove --delete-file undoes it */
    char removed[4096];
    assert_int_equal(loco_registry_remove_adapter(NULL, "math", true, removed, sizeof removed),
                     LOCO_OK);
    assert_int_equal(access(want, F_OK), -1);
}

static void test_install_refusals(void **state)
{
    struct fx *f = *state;
    struct loco_install_params p = loco_install_default_params();
    struct loco_install_result r;
    char before[8192];
    loco_models_mkdirs(f->adir);
    snapshot(f, before, sizeof before);

    p.sha256 = OTHER_BASE; /* a pin the file does not match */
    assert_int_equal(loco_install(f->adapter, &p, &r), LOCO_ERR_CHECKSUM);
    assert_non_null(strstr(loco_error_message(), "hashes to"));
    assert_unchanged(f, before);
    p.sha256 = "xyz";
    assert_int_equal(loco_install(f->adapter, &p, &r), LOCO_ERR_INVALID);
    p.sha256 = NULL;

    p.domain = "poetry"; /* not a registry domain */
    assert_int_equal(loco_install(f->adapter, &p, &r), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "no domain 'poetry'"));
    assert_unchanged(f, before);
    p.domain = NULL;

    p.name = "Bad Name";
    assert_int_equal(loco_install(f->adapter, &p, &r), LOCO_ERR_INVALID);
    p.name = NULL;

    write_registry(f, OTHER_BASE); /* the adapter is for another base */
    assert_int_equal(loco_install(f->adapter, &p, &r), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "retrain"));
    assert_unchanged(f, before);
    write_registry(f, SHIPPED_BASE);

    char notgguf[4096];
    snprintf(notgguf, sizeof notgguf, "%s/model.gguf", f->tmp);
    test_write_file(notgguf, "GGUF but not really");
    assert_int_equal(loco_install(notgguf, &p, &r), LOCO_ERR_FORMAT);
    assert_unchanged(f, before);

    assert_int_equal(loco_install("no/such/file.gguf", &p, &r), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_install("some-name", &p, &r), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "--index"));
    assert_unchanged(f, before);
}

/* An index beside a copy of the adapter; `size` and `sha` as it claims. */
static void write_index(const struct fx *f, const char *path, uint64_t size, const char *sha,
                        const char *base)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"version\": 1, \"adapters\": [{\"name\": \"math-shared\", \"domain\": \"math\","
             " \"base_sha256\": \"%s\", \"url\": \"math.gguf\", \"sha256\": \"%s\","
             " \"size\": %llu, \"license\": \"Apache-2.0\", \"record\": {\"score\": 0.4}}]}",
             base, sha, (unsigned long long)size);
    test_write_file(path, text);
}

static void test_install_index(void **state)
{
    struct fx *f = *state;
    char dir[2048], copy[4096], index[4096], before[8192];
    snprintf(dir, sizeof dir, "%s/idx", f->tmp);
    loco_models_mkdirs(dir);
    loco_models_mkdirs(f->adir);
    snprintf(copy, sizeof copy, "%s/math.gguf", dir);
    snprintf(index, sizeof index, "%s/index.json", dir);
    size_t len = 0;
    char *bytes = test_read_file(f->adapter, &len);
    FILE *out = fopen(copy, "wb");
    assert_int_equal(fwrite(bytes, 1, len, out), len);
    fclose(out);
    free(bytes);

    struct loco_install_params p = loco_install_default_params();
    struct loco_install_result r;
    p.index = index;
    snapshot(f, before, sizeof before);
    write_index(f, index, len + 1, f->sha, SHIPPED_BASE); /* wrong size */
    assert_int_equal(loco_install("math-shared", &p, &r), LOCO_ERR_CHECKSUM);
    assert_non_null(strstr(loco_error_message(), "the index says"));
    assert_unchanged(f, before);
    write_index(f, index, len, OTHER_BASE, SHIPPED_BASE); /* wrong sha256 */
    assert_int_equal(loco_install("math-shared", &p, &r), LOCO_ERR_CHECKSUM);
    assert_unchanged(f, before);
    write_index(f, index, len, f->sha, OTHER_BASE); /* for another base: refused before fetching */
    assert_int_equal(loco_install("math-shared", &p, &r), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "trained for the base model aaaaaaaaaaaa"));
    assert_unchanged(f, before);

    write_index(f, index, len, f->sha, SHIPPED_BASE);
    p.dry_run = true;
    assert_int_equal(loco_install("math-shared", &p, &r), LOCO_OK);
    assert_true(r.dry_run);
    assert_string_equal(r.fetch, copy);
    assert_string_equal(r.expect_sha256, f->sha);
    assert_unchanged(f, before);
    p.dry_run = false;

    /* through the environment, as the registry's `index:` would */
    p.index = NULL;
    setenv("LOCO_ADAPTER_INDEX", index, 1);
    assert_int_equal(loco_install("math-shared", &p, &r), LOCO_OK);
    unsetenv("LOCO_ADAPTER_INDEX");
    assert_string_equal(r.name, "math-shared");
    assert_string_equal(r.license, "Apache-2.0");
    assert_string_equal(r.record, "{\"score\":0.4}");
    assert_int_equal(loco_registry_remove_adapter(NULL, "math-shared", true, NULL, 0), LOCO_OK);
    assert_same_files(f, before);
}

static void test_install_bundle(void **state)
{
    struct fx *f = *state;
    char zip[4096], before[8192], manifest[512];
    size_t len = 0;
    char *bytes = test_read_file(f->adapter, &len);
    snprintf(zip, sizeof zip, "%s/math-bundle.zip", f->tmp);
    loco_models_mkdirs(f->adir);
    snapshot(f, before, sizeof before);
    for (int bad = 1; bad >= 0; bad--) {
        snprintf(manifest, sizeof manifest,
                 "{\"adapter\": {\"name\": \"bundled\", \"domain\": \"math\"}, \"files\": "
                 "[{\"path\": \"bundled.gguf\", \"sha256\": \"%s\", \"size\": %zu}]}",
                 bad ? OTHER_BASE : f->sha, len);
        int err = 0;
        zip_t *z = zip_open(zip, ZIP_CREATE | ZIP_TRUNCATE, &err);
        assert_non_null(z);
        assert_true(
            zip_file_add(z, "bundled/bundled.gguf", zip_source_buffer(z, bytes, len, 0), 0) >= 0);
        assert_true(zip_file_add(z, "bundled/manifest.json",
                                 zip_source_buffer(z, manifest, strlen(manifest), 0), 0) >= 0);
        assert_int_equal(zip_close(z), 0);
        struct loco_install_result r;
        int rc = loco_install(zip, NULL, &r);
        if (bad) { /* the manifest's sha256 does not match the adapter */
            assert_int_equal(rc, LOCO_ERR_CHECKSUM);
            assert_non_null(strstr(loco_error_message(), "its manifest.json says"));
            assert_unchanged(f, before);
            continue;
        }
        assert_int_equal(rc, LOCO_OK);
        assert_int_equal(r.kind, LOCO_INSTALL_BUNDLE);
        assert_string_equal(r.name, "bundled");
        assert_string_equal(r.sha256, f->sha);
    }
    free(bytes);
    assert_int_equal(loco_registry_remove_adapter(NULL, "bundled", true, NULL, 0), LOCO_OK);
    assert_same_files(f, before);
}

static void test_registry_index_key(void **state)
{
    struct fx *f = *state;
    char text[2048];
    size_t len = 0;
    char *orig = test_read_file(f->registry, &len);
    const char *vals[] = {"https://example.org/loco/index.json", "shared/index.json",
                          "ftp://example.org/index.json", ""};
    for (int i = 0; i < 4; i++) {
        snprintf(text, sizeof text, "%sindex: \"%s\"\n", orig, vals[i]);
        test_write_file(f->registry, text);
        struct loco_registry *r = loco_registry_load(NULL);
        if (i < 2) {
            assert_non_null(r);
            assert_string_equal(loco_registry_index(r), vals[i]);
            loco_registry_free(r);
        } else {
            assert_null(r);
            assert_non_null(strstr(loco_error_message(), "index"));
        }
    }
    test_write_file(f->registry, orig);
    struct loco_registry *r = loco_registry_load(NULL);
    assert_string_equal(loco_registry_index(r), "");
    loco_registry_free(r);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_parse),
        cmocka_unit_test(test_index_refusals),
        cmocka_unit_test(test_index_load_and_kinds),
        cmocka_unit_test(test_hf_url),
        cmocka_unit_test(test_unpack_hostile),
        cmocka_unit_test_setup_teardown(test_install_file_and_remove, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_install_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_install_index, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_install_bundle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_registry_index_key, fx_setup, fx_teardown),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
