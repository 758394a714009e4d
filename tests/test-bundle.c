/*
 * test-bundle.c - submission bundles (loco/bundle.h): the manifest written
 * and read back, the refusals of a manifest that lies or names unsafe
 * paths, extraction of hostile archives built here with libzip (escaping
 * names, links, devices, duplicates, too many or too big entries) leaving
 * nothing behind, and pack + verify on the project's shipped adapters
 * (code passed its gate, math did not) and on a small project made here.
 */
#include "testutil.h"

#include <fcntl.h>
#include <zip.h>

#include "loco/bundle.h"
#include "loco/registry.h"

static const char SHA_A[] = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
static const char SHA_B[] = "727e67ef8842e1db3d934c38dc2ae0123d1b5eff7bdd0a063221d3f627382008";
/* sha256("hello") */
static const char SHA_HELLO[] = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

/* ---- helpers ---------------------------------------------------------------------- */

struct zentry {
    const char *name;
    const char *data;
    uint32_t mode; /* Unix st_mode for the external attributes; 0: leave libzip's */
};

/* A zip at `path` holding entries e[n]. */
static void make_zip(const char *path, const struct zentry *e, size_t n)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(z, e[i].data, strlen(e[i].data), 0);
        assert_non_null(s);
        zip_int64_t idx = zip_file_add(z, e[i].name, s, ZIP_FL_ENC_UTF_8);
        if (idx < 0) /* libzip refuses some names itself: then there is nothing to test */
            fail_msg("libzip would not add '%s': %s", e[i].name, zip_strerror(z));
        if (e[i].mode)
            zip_file_set_external_attributes(z, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
                                             e[i].mode << 16);
    }
    assert_int_equal(zip_close(z), 0);
}

/* How many entries folder `dir` holds (0 when empty or missing). */
static int count_entries(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "find '%s' -mindepth 1 2>/dev/null | wc -l", dir);
    FILE *f = popen(cmd, "r");
    int n = -1;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &n), 1);
    pclose(f);
    return n;
}

static struct loco_registry *project_registry(void)
{
    char path[4096];
    test_source_path("adapters/registry.yaml", path, sizeof path);
    struct loco_registry *r = loco_registry_load_file(path, false);
    if (!r)
        fail_msg("%s: %s", path, loco_error_message());
    return r;
}

static const struct loco_bundle_check *find_check(const struct loco_bundle_verify_result *res,
                                                  const char *name)
{
    for (size_t i = 0; i < res->n_checks; i++)
        if (!strcmp(res->checks[i].name, name))
            return &res->checks[i];
    fail_msg("no check named %s", name);
    return NULL;
}

/* ---- paths and the manifest ------------------------------------------------------- */

static void test_path_safe(void **state)
{
    (void)state;
    static const char *const good[] = {"manifest.json", "adapters/code/code.gguf",
                                       "results/2026-S2/code-mbpp.json", "a_b-c.d"};
    static const char *const bad[] = {
        "",     "/etc/passwd", "../x",  "a/../b", "a/./b",
        "a//b", "a/",          ".",     "..",     "a\\b",
        "a b",  "é",           "a/b:c", "~/x",    "a/b/c/d/e/f/g/h/i"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(loco_bundle_path_safe(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (loco_bundle_path_safe(bad[i]))
            fail_msg("'%s' was taken as safe", bad[i]);
    char longname[LOCO_BUNDLE_PATH_MAX + 1];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(loco_bundle_path_safe(longname));
}

static void fill_manifest(struct loco_bundle_manifest *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->format, sizeof m->format, "%s", LOCO_BUNDLE_FORMAT);
    snprintf(m->name, sizeof m->name, "code");
    snprintf(m->domain, sizeof m->domain, "code");
    snprintf(m->version, sizeof m->version, "1.0.0");
    snprintf(m->base_sha256, sizeof m->base_sha256, "%s", SHA_A);
    snprintf(m->adapter_sha256, sizeof m->adapter_sha256, "%s", SHA_B);
    snprintf(m->loco_version, sizeof m->loco_version, "0.1.0");
    snprintf(m->date, sizeof m->date, "2026-12-07T10:00:00Z");
    m->n_files = 2;
    snprintf(m->files[0].path, sizeof m->files[0].path, "adapters/code/code.gguf");
    snprintf(m->files[0].sha256, 65, "%s", SHA_B);
    m->files[0].size = 9799904;
    snprintf(m->files[0].role, sizeof m->files[0].role, "adapter");
    snprintf(m->files[1].path, sizeof m->files[1].path, "recipes/code.yaml");
    snprintf(m->files[1].sha256, 65, "%s", SHA_HELLO);
    m->files[1].size = 5;
    snprintf(m->files[1].role, sizeof m->files[1].role, "recipe");
    m->entry_json = strdup("{\"name\":\"code\",\"lora\":{\"rank\":16}}");
}

static void test_manifest_round_trip(void **state)
{
    (void)state;
    struct loco_bundle_manifest m, back;
    fill_manifest(&m);
    char *json = loco_bundle_manifest_json(&m);
    assert_non_null(json);
    assert_int_equal(loco_bundle_manifest_parse(json, &back), LOCO_OK);
    assert_string_equal(back.format, LOCO_BUNDLE_FORMAT);
    assert_string_equal(back.name, "code");
    assert_string_equal(back.version, "1.0.0");
    assert_string_equal(back.base_sha256, SHA_A);
    assert_string_equal(back.adapter_sha256, SHA_B);
    assert_string_equal(back.date, "2026-12-07T10:00:00Z");
    assert_int_equal(back.n_files, 2);
    assert_string_equal(back.files[0].path, "adapters/code/code.gguf");
    assert_int_equal(back.files[0].size, 9799904);
    assert_string_equal(back.files[1].sha256, SHA_HELLO);
    assert_string_equal(back.files[1].role, "recipe");
    cJSON *e = cJSON_Parse(back.entry_json);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "lora"), "rank")->valueint, 16);
    cJSON_Delete(e);
    free(json);
    loco_bundle_manifest_free(&back);
    /* an entry that is not an object is not written */
    free(m.entry_json);
    m.entry_json = strdup("[1]");
    assert_null(loco_bundle_manifest_json(&m));
    loco_bundle_manifest_free(&m);
}

/* The manifest with one field replaced (JSON text of the new value) must be
 * refused, with a message holding `why`. */
static void expect_refused(const char *key, const char *value, const char *why)
{
    struct loco_bundle_manifest m, back;
    fill_manifest(&m);
    char *json = loco_bundle_manifest_json(&m);
    cJSON *o = cJSON_Parse(json);
    cJSON *files = cJSON_GetObjectItem(o, "files");
    cJSON *target = strncmp(key, "files.", 6) ? o : cJSON_GetArrayItem(files, 1);
    const char *k = strncmp(key, "files.", 6) ? key : key + 6;
    if (value)
        cJSON_ReplaceItemInObject(target, k, cJSON_Parse(value));
    else
        cJSON_DeleteItemFromObject(target, k);
    char *text = cJSON_Print(o);
    int rc = loco_bundle_manifest_parse(text, &back);
    if (rc != LOCO_ERR_FORMAT)
        fail_msg("%s = %s was accepted", key, value ? value : "(absent)");
    if (!strstr(loco_error_message(), why))
        fail_msg("%s: message '%s' lacks '%s'", key, loco_error_message(), why);
    free(text);
    cJSON_Delete(o);
    free(json);
    loco_bundle_manifest_free(&m);
}

static void test_manifest_refusals(void **state)
{
    (void)state;
    expect_refused("format", "\"locollm-bundle/9\"", "pack it again");
    expect_refused("name", NULL, "\"name\" is missing");
    expect_refused("base_sha256",
                   "\"B179C9523D0E6A0F98A330C7562B682750A6F8C8C15E5BC70EA373728110DB53\"",
                   "lowercase hex");
    expect_refused("adapter_sha256", "\"abc\"", "lowercase hex");
    expect_refused("files.path", "\"../../etc/passwd\"", "not a safe relative path");
    expect_refused("files.path", "\"/etc/passwd\"", "not a safe relative path");
    expect_refused("files.path", "\"adapters/code/code.gguf\"", "listed twice");
    expect_refused("files.size", "-1", "not a byte count");
    expect_refused("files.size", "1.5", "not a byte count");
    expect_refused("registry_entry", "\"code\"", "not an object");
    struct loco_bundle_manifest back;
    assert_int_equal(loco_bundle_manifest_parse("not json", &back), LOCO_ERR_FORMAT);
    assert_int_equal(loco_bundle_manifest_parse(NULL, &back), LOCO_ERR_FORMAT);
}

/* ---- extraction of hostile archives ------------------------------------------------- */

/* Extract entries e[n] under a fresh folder: returns the status; the folder
 * must hold nothing afterwards when refused, and nothing may appear beside
 * it (where '..' would lead). */
static int extract_case(const struct zentry *e, size_t n, const struct loco_bundle_limits *lim,
                        const char *why)
{
    char top[256], zip[512], inner[512];
    test_make_tmpdir(top, sizeof top, "bundle-x");
    snprintf(zip, sizeof zip, "%s/b.zip", top);
    snprintf(inner, sizeof inner, "%s/private", top);
    assert_int_equal(mkdir(inner, 0700), 0);
    make_zip(zip, e, n);
    struct loco_bundle_contents c;
    int rc = loco_bundle_extract(zip, inner, lim, &c);
    if (why) {
        assert_int_not_equal(rc, LOCO_OK);
        if (!strstr(loco_error_message(), why))
            fail_msg("message '%s' lacks '%s'", loco_error_message(), why);
        assert_string_equal(c.dir, "");
        assert_int_equal(count_entries(inner), 0); /* nothing left behind */
        assert_int_equal(count_entries(top), 2);   /* b.zip and private/: nothing escaped */
    } else {
        assert_int_equal(rc, LOCO_OK);
        loco_bundle_contents_remove(&c);
        assert_int_equal(count_entries(inner), 0);
    }
    test_rm_rf(top);
    return rc;
}

static void test_extract_good(void **state)
{
    (void)state;
    char top[256], zip[512];
    test_make_tmpdir(top, sizeof top, "bundle-g");
    snprintf(zip, sizeof zip, "%s/g.zip", top);
    struct zentry e[] = {{"manifest.json", "{}", 0},
                         {"adapters/", "", S_IFDIR | 0755},
                         {"adapters/x/hello.txt", "hello", S_IFREG | 0644}};
    make_zip(zip, e, 3);
    struct loco_bundle_contents c;
    assert_int_equal(loco_bundle_extract(zip, top, NULL, &c), LOCO_OK);
    assert_int_equal(c.n_files, 2); /* the folder entry makes no file */
    const struct loco_bundle_file *f = loco_bundle_contents_find(&c, "adapters/x/hello.txt");
    assert_non_null(f);
    assert_int_equal(f->size, 5);
    assert_string_equal(f->sha256, SHA_HELLO);
    assert_null(loco_bundle_contents_find(&c, "adapters/x/other"));
    char path[4400];
    snprintf(path, sizeof path, "%s/adapters/x/hello.txt", c.dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(stat(c.dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700); /* private */
    loco_bundle_contents_remove(&c);
    assert_string_equal(c.dir, "");
    assert_int_equal(count_entries(top), 1); /* g.zip alone */
    test_rm_rf(top);
}

static void test_extract_hostile(void **state)
{
    (void)state;
    struct zentry dotdot[] = {{"manifest.json", "{}", 0}, {"../evil.txt", "x", 0}};
    extract_case(dotdot, 2, NULL, "not a safe relative path");
    struct zentry inner_dotdot[] = {{"a/../../evil.txt", "x", 0}};
    extract_case(inner_dotdot, 1, NULL, "not a safe relative path");
    struct zentry absolute[] = {{"/tmp/evil.txt", "x", 0}};
    extract_case(absolute, 1, NULL, "not a safe relative path");
    struct zentry empty_part[] = {{"a//b", "x", 0}};
    extract_case(empty_part, 1, NULL, "not a safe relative path");
    struct zentry link[] = {{"adapters/link", "/etc/passwd", S_IFLNK | 0777}};
    extract_case(link, 1, NULL, "link, device or FIFO");
    struct zentry fifo[] = {{"fifo", "", S_IFIFO | 0644}};
    extract_case(fifo, 1, NULL, "link, device or FIFO");
    struct zentry dev[] = {{"dev", "", S_IFCHR | 0644}};
    extract_case(dev, 1, NULL, "link, device or FIFO");
    /* a file that a later entry would write through as a folder */
    struct zentry clash[] = {{"a", "x", 0}, {"a/b", "y", 0}};
    extract_case(clash, 2, NULL, "cannot create");
}

static void test_extract_limits(void **state)
{
    (void)state;
    struct zentry many[LOCO_BUNDLE_MAX_FILES + 1];
    char names[LOCO_BUNDLE_MAX_FILES + 1][16];
    for (size_t i = 0; i < LOCO_BUNDLE_MAX_FILES + 1; i++) {
        snprintf(names[i], sizeof names[i], "f%zu", i);
        many[i] = (struct zentry){names[i], "x", 0};
    }
    extract_case(many, LOCO_BUNDLE_MAX_FILES + 1, NULL, "entries (at most 64)");
    extract_case(many, LOCO_BUNDLE_MAX_FILES, NULL, NULL); /* exactly the limit: fine */
    struct loco_bundle_limits lim = loco_bundle_default_limits();
    lim.max_files = 2;
    extract_case(many, 3, &lim, "entries (at most 2)");
    lim = loco_bundle_default_limits();
    lim.max_file_bytes = 4;
    struct zentry big[] = {{"big", "hello", 0}};
    extract_case(big, 1, &lim, "too big");
    lim = loco_bundle_default_limits();
    lim.max_total_bytes = 8;
    struct zentry two[] = {{"a", "hello", 0}, {"b", "hello", 0}};
    extract_case(two, 2, &lim, "too big");
}

static void test_extract_not_a_zip(void **state)
{
    (void)state;
    char top[256], path[512];
    test_make_tmpdir(top, sizeof top, "bundle-n");
    snprintf(path, sizeof path, "%s/x.zip", top);
    FILE *f = fopen(path, "w");
    fputs("not a zip at all", f);
    fclose(f);
    struct loco_bundle_contents c;
    assert_int_equal(loco_bundle_extract(path, top, NULL, &c), LOCO_ERR_FORMAT);
    assert_int_not_equal(loco_bundle_extract(top, top, NULL, &c), LOCO_OK); /* a folder */
    snprintf(path, sizeof path, "%s/missing.zip", top);
    assert_int_not_equal(loco_bundle_extract(path, top, NULL, &c), LOCO_OK);
    assert_int_equal(count_entries(top), 1);
    test_rm_rf(top);
}

/* ---- pack and verify on the shipped adapters ------------------------------------------ */

static void test_pack_verify_code(void **state)
{
    (void)state;
    struct loco_registry *r = project_registry();
    char top[256], zip[512], priv[512];
    test_make_tmpdir(top, sizeof top, "bundle-p");
    snprintf(zip, sizeof zip, "%s/code.zip", top);
    snprintf(priv, sizeof priv, "%s/tmp", top);
    assert_int_equal(mkdir(priv, 0700), 0);
    struct loco_bundle_pack_result pr;
    assert_int_equal(loco_bundle_pack(r, "code", zip, &pr), LOCO_OK);
    assert_string_equal(pr.path, zip);
    assert_int_equal(pr.n_files, 10); /* gguf, recipe, log, svg, 2 x (json, md, html) */
    struct loco_bundle_contents c;
    assert_int_equal(loco_bundle_extract(zip, priv, NULL, &c), LOCO_OK);
    char *text = NULL;
    char mpath[4400];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", c.dir);
    text = test_read_file(mpath, NULL);
    struct loco_bundle_manifest m;
    assert_int_equal(loco_bundle_manifest_parse(text, &m), LOCO_OK);
    assert_string_equal(m.name, "code");
    assert_string_equal(m.adapter_sha256, SHA_B);
    assert_string_equal(m.base_sha256, SHA_A);
    assert_non_null(loco_bundle_contents_find(&c, "results/2026-S2/code-mbpp.json"));
    assert_non_null(loco_bundle_contents_find(&c, "recipes/code.yaml"));
    cJSON *e = cJSON_Parse(m.entry_json);
    assert_string_equal(cJSON_GetObjectItem(e, "file")->valuestring, "code/code.gguf");
    assert_string_equal(cJSON_GetObjectItem(e, "status")->valuestring, "candidate");
    cJSON_Delete(e);
    free(text);
    loco_bundle_manifest_free(&m);
    loco_bundle_contents_remove(&c);

    struct loco_bundle_verify_params vp = loco_bundle_verify_default_params();
    vp.tmp_dir = priv;
    struct loco_bundle_verify_result *res = malloc(sizeof *res);
    assert_int_equal(loco_bundle_verify(zip, r, &vp, res), LOCO_OK);
    for (size_t i = 0; i < res->n_checks; i++)
        fprintf(stderr, "  %s %s: %s\n", loco_bundle_check_status_name(res->checks[i].status),
                res->checks[i].name, res->checks[i].reason);
    assert_true(res->ok);
    assert_string_equal(res->name, "code");
    assert_int_equal(find_check(res, "files")->status, LOCO_BUNDLE_PASS);
    assert_int_equal(find_check(res, "base")->status, LOCO_BUNDLE_PASS);
    assert_int_equal(find_check(res, "registry")->status, LOCO_BUNDLE_PASS);
    /* a significant gain, but the record has no plan */
    assert_int_equal(find_check(res, "gate")->status, LOCO_BUNDLE_WARN);
    assert_non_null(strstr(find_check(res, "gate")->reason, "no plan"));
    const struct loco_bundle_check *ood = find_check(res, "out-of-domain");
    assert_int_equal(ood->status, LOCO_BUNDLE_PASS);
    assert_non_null(strstr(ood->reason, "gsm8k uninformative"));
    assert_non_null(strstr(ood->reason, "summarisation PASS"));
    assert_int_equal(find_check(res, "contamination")->status, LOCO_BUNDLE_PASS);
    assert_int_equal(find_check(res, "reports")->status, LOCO_BUNDLE_PASS);
    assert_int_equal(find_check(res, "training-log")->status, LOCO_BUNDLE_WARN);
    assert_int_equal(count_entries(priv), 0); /* the private folder is gone */
    char *json = loco_bundle_verify_json(zip, res);
    cJSON *o = cJSON_Parse(json);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "checks")), (int)res->n_checks);
    cJSON_Delete(o);
    free(json);
    free(res);
    loco_registry_free(r);
    test_rm_rf(top);
}

static void test_pack_verify_math_fails_gate(void **state)
{
    (void)state;
    struct loco_registry *r = project_registry();
    char top[256], zip[512];
    test_make_tmpdir(top, sizeof top, "bundle-m");
    snprintf(zip, sizeof zip, "%s/math.zip", top);
    struct loco_bundle_pack_result pr;
    assert_int_equal(loco_bundle_pack(r, "math", zip, &pr), LOCO_OK);
    struct loco_bundle_verify_result *res = malloc(sizeof *res);
    assert_int_equal(loco_bundle_verify(zip, r, NULL, res), LOCO_OK);
    assert_false(res->ok);
    assert_int_equal(find_check(res, "files")->status, LOCO_BUNDLE_PASS);
    const struct loco_bundle_check *g = find_check(res, "gate");
    assert_int_equal(g->status, LOCO_BUNDLE_FAIL);
    assert_non_null(strstr(g->reason, "gsm8k: FAIL"));
    assert_int_equal(find_check(res, "out-of-domain")->status, LOCO_BUNDLE_WARN);
    free(res);
    loco_registry_free(r);
    test_rm_rf(top);
}

/* A bundle whose manifest lies about a hash, and one whose entry lies
 * about the adapter (a consistent manifest, but rank 8): both FAIL. */
static void test_verify_lies(void **state)
{
    (void)state;
    struct loco_registry *r = project_registry();
    char top[256], zip[512];
    test_make_tmpdir(top, sizeof top, "bundle-l");
    snprintf(zip, sizeof zip, "%s/lie.zip", top);
    struct loco_bundle_manifest m;
    fill_manifest(&m);
    m.n_files = 1;
    snprintf(m.files[0].path, sizeof m.files[0].path, "recipes/code.yaml");
    snprintf(m.files[0].sha256, 65, "%s", SHA_A); /* not sha256("hello") */
    m.files[0].size = 5;
    snprintf(m.files[0].role, sizeof m.files[0].role, "recipe");
    char *json = loco_bundle_manifest_json(&m);
    struct zentry e[] = {{"manifest.json", json, 0},
                         {"recipes/code.yaml", "hello", 0},
                         {"extra.txt", "unlisted", 0}};
    make_zip(zip, e, 3);
    struct loco_bundle_verify_result *res = malloc(sizeof *res);
    assert_int_equal(loco_bundle_verify(zip, r, NULL, res), LOCO_OK);
    assert_false(res->ok);
    const struct loco_bundle_check *f = find_check(res, "files");
    assert_int_equal(f->status, LOCO_BUNDLE_FAIL);
    assert_non_null(strstr(f->reason, "recipes/code.yaml does not match the manifest"));
    assert_non_null(strstr(f->reason, "extra.txt is in the zip but not in the manifest"));
    assert_non_null(strstr(f->reason, "names no adapter file"));
    /* fill_manifest's entry has no domain */
    assert_non_null(strstr(f->reason, "name or domain is not the manifest's"));
    /* a hostile archive stops at the first check */
    struct zentry evil[] = {{"../evil", "x", 0}};
    make_zip(zip, evil, 1);
    assert_int_equal(loco_bundle_verify(zip, r, NULL, res), LOCO_OK);
    assert_false(res->ok);
    assert_int_equal(res->n_checks, 1);
    assert_string_equal(res->checks[0].name, "archive");
    assert_int_equal(res->checks[0].status, LOCO_BUNDLE_FAIL);
    free(res);
    free(json);
    loco_bundle_manifest_free(&m);
    loco_registry_free(r);
    test_rm_rf(top);
}

/* ---- pack's refusals, on a small project made here ---------------------------------------- */

static void put(const char *dir, const char *rel, const char *text)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char parent[4400];
    snprintf(parent, sizeof parent, "%s", path);
    *strrchr(parent, '/') = '\0';
    char cmd[4500];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", parent);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char small_registry[] =
    "schema_version: 2\n"
    "base_model: {name: B, file: b.gguf, sha256: %s, architecture: llama, academic_year: "
    "\"2026\"}\n"
    "domains:\n  code: {primary_benchmark: mbpp, benchmarks: [mbpp]}\n"
    "adapters:\n"
    "- name: x\n  domain: code\n  version: 1.0.0\n  file: x/x.gguf\n  sha256: %s\n"
    "  base_sha256: %s\n"
    "  lora: {rank: 4, alpha: 8, targets: [q]}\n"
    "  provenance: {recipe: ../recipes/x.yaml, data: d, semester: 2026-S2, authors: [A]%s}\n"
    "  router: {keywords: [k], examples: [e]}\n  status: candidate\n%s";

static int pack_small(const char *dir, const char *log_field, const char *scores, const char *zip)
{
    char text[4096], path[4400];
    snprintf(text, sizeof text, small_registry, SHA_A, SHA_B, SHA_A, log_field, scores);
    put(dir, "adapters/registry.yaml", text);
    snprintf(path, sizeof path, "%s/adapters/registry.yaml", dir);
    struct loco_registry *r = loco_registry_load_file(path, false);
    if (!r)
        fail_msg("%s", loco_error_message());
    struct loco_bundle_pack_result pr;
    int rc = loco_bundle_pack(r, "x", zip, &pr);
    loco_registry_free(r);
    return rc;
}

static void test_pack_refusals(void **state)
{
    (void)state;
    char top[256], zip[512];
    test_make_tmpdir(top, sizeof top, "bundle-r");
    snprintf(zip, sizeof zip, "%s/out.zip", top);
    put(top, "adapters/x/x.gguf", "not really a gguf");
    put(top, "recipes/x.yaml", "recipe");
    /* no training log */
    assert_int_equal(pack_small(top, "", "", zip), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "the training log"));
    assert_non_null(strstr(loco_error_message(), "TRAINING_LOG_TEMPLATE.md"));
    /* a training log, but no scores */
    put(top, "adapters/x/TRAINING_LOG.md", "# Training log: x\n");
    assert_int_equal(pack_small(top, ", training_log: x/TRAINING_LOG.md", "", zip),
                     LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "no evaluation record"));
    /* scores that cite a record that is not there */
    const char *scores = "  scores: [{benchmark: mbpp, score: 0.1, ci_low: 0.05, ci_high: 0.15, "
                         "base_score: 0.05, p_value: 0.03, passed: true, n_items: 100, "
                         "record: ../results/2026-S2/x-mbpp.json}]\n";
    assert_int_equal(pack_small(top, "", scores, zip), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "x-mbpp.json"));
    assert_non_null(strstr(loco_error_message(), "is missing"));
    /* a score, but not on the primary benchmark */
    const char *other = "  scores: [{benchmark: gsm8k, score: 0.1, ci_low: 0.05, ci_high: 0.15, "
                        "base_score: 0.05, p_value: 0.03, passed: true, n_items: 100, "
                        "record: ../results/2026-S2/x-gsm8k.json}]\n";
    assert_int_equal(pack_small(top, "", other, zip), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "primary benchmark mbpp"));
    struct stat st;
    assert_int_not_equal(stat(zip, &st), 0); /* nothing was written */
    /* an unknown adapter */
    struct loco_registry *r = project_registry();
    struct loco_bundle_pack_result pr;
    assert_int_equal(loco_bundle_pack(r, "no-such-adapter", zip, &pr), LOCO_ERR_NOT_FOUND);
    loco_registry_free(r);
    test_rm_rf(top);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_safe),
        cmocka_unit_test(test_manifest_round_trip),
        cmocka_unit_test(test_manifest_refusals),
        cmocka_unit_test(test_extract_good),
        cmocka_unit_test(test_extract_hostile),
        cmocka_unit_test(test_extract_limits),
        cmocka_unit_test(test_extract_not_a_zip),
        cmocka_unit_test(test_pack_verify_code),
        cmocka_unit_test(test_pack_verify_math_fails_gate),
        cmocka_unit_test(test_verify_lies),
        cmocka_unit_test(test_pack_refusals),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
