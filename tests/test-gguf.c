/*
 * test-gguf.c - the GGUF reader and writer, as a specification.
 *
 * What a correct GGUF module does:
 *   - every metadata type, array and tensor type written comes back equal,
 *     in llama.cpp's strict layout, with the default or a custom alignment;
 *   - the real fixture models open and show their known facts;
 *   - every hostile or truncated file is refused with a message naming the
 *     field, the value and the byte offset, and never crashes (hostile
 *     images are copied into exactly-sized heap buffers so that a sanitizer
 *     build catches any read past the end);
 *   - a failed write leaves the file it would have replaced untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loco/gguf.h"
#include "testutil.h"

static char tmp_dir[64]; /* a fresh folder for the files a test writes */

static void tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmp_dir, name);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test-gguf-XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    chmod(tmp_dir, 0700);
    return nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers: hand-made images ----------------------------------------- */

/* A GGUF image built byte by byte, to say exactly what is wrong in it. */
struct bytes {
    uint8_t data[4096];
    size_t len;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    assert_true(b->len + n <= sizeof b->data);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u32(struct bytes *b, uint32_t v)
{
    put(b, &v, 4);
}

static void put_u64(struct bytes *b, uint64_t v)
{
    put(b, &v, 8);
}

static void put_str(struct bytes *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

static void put_header(struct bytes *b, uint32_t version, int64_t n_tensors, int64_t n_kv)
{
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, (uint64_t)n_tensors);
    put_u64(b, (uint64_t)n_kv);
}

static void put_kv_u32(struct bytes *b, const char *key, uint32_t v)
{
    put_str(b, key);
    put_u32(b, LOCO_GGUF_UINT32);
    put_u32(b, v);
}

static void put_tensor_info(struct bytes *b, const char *name, uint32_t n_dims, const int64_t *ne,
                            uint32_t type, uint64_t offset)
{
    put_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        put_u64(b, (uint64_t)ne[d]);
    put_u32(b, type);
    put_u64(b, offset);
}

static void put_pad(struct bytes *b, size_t alignment)
{
    static const uint8_t zero[256];
    put(b, zero, (alignment - b->len % alignment) % alignment);
}

/* Open a copy of the image in an exactly-sized heap buffer. */
static struct loco_gguf *open_copy(const uint8_t *data, size_t len, uint8_t **copy)
{
    *copy = malloc(len ? len : 1);
    assert_non_null(*copy);
    memcpy(*copy, data, len);
    return loco_gguf_open_memory(*copy, len);
}

/* The image must be refused, and the message must contain each needle. */
static void expect_reject(const struct bytes *b, const char *needle1, const char *needle2)
{
    uint8_t *copy;
    struct loco_gguf *g = open_copy(b->data, b->len, &copy);
    const char *msg = loco_error_message();
    if (g || !strstr(msg, needle1) || (needle2 && !strstr(msg, needle2)))
        print_error("expected a refusal naming '%s' and '%s', got %s: \"%s\"\n", needle1,
                    needle2 ? needle2 : "", g ? "success" : "failure", msg);
    assert_null(g);
    assert_non_null(strstr(msg, needle1));
    if (needle2)
        assert_non_null(strstr(msg, needle2));
    free(copy);
}

static struct loco_gguf *expect_open(const struct bytes *b, uint8_t **copy)
{
    struct loco_gguf *g = open_copy(b->data, b->len, copy);
    if (!g)
        print_error("unexpected refusal: %s\n", loco_error_message());
    assert_non_null(g);
    return g;
}

/* Deterministic test bytes. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + seed * 17 + 7);
}

static uint64_t padded(uint64_t n, uint64_t a)
{
    return (n + a - 1) / a * a;
}

static void write_or_fail(struct loco_gguf_writer *w, const char *path)
{
    int rc = loco_gguf_writer_write(w, path);
    if (rc != LOCO_OK)
        print_error("write %s: %s\n", path, loco_error_message());
    assert_int_equal(rc, LOCO_OK);
}

static struct loco_gguf *open_or_fail(const char *path)
{
    struct loco_gguf *g = loco_gguf_open(path);
    if (!g)
        print_error("open %s: %s\n", path, loco_error_message());
    assert_non_null(g);
    return g;
}

/* ---- round trips ------------------------------------------------------- */

static void set_every_scalar(struct loco_gguf_writer *w)
{
    assert_int_equal(loco_gguf_writer_set_u8(w, "t.u8", 250), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_i8(w, "t.i8", -120), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_u16(w, "t.u16", 65000), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_i16(w, "t.i16", -32000), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_u32(w, "t.u32", 4000000000u), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_i32(w, "t.i32", -2000000000), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_u64(w, "t.u64", UINT64_MAX), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_i64(w, "t.i64", INT64_MIN), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_f32(w, "t.f32", 1.5f), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_f64(w, "t.f64", -2.25e300), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_bool(w, "t.true", true), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_bool(w, "t.false", false), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo"), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "t.empty", ""), LOCO_OK);
    /* setting a key again replaces value and type, keeping its place */
    assert_int_equal(loco_gguf_writer_set_u8(w, "t.replaced", 1), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "t.replaced", "second"), LOCO_OK);
}

static void check_every_scalar(const struct loco_gguf *g)
{
    uint32_t u32 = 0;
    int64_t i64 = 0;
    uint64_t u64 = 0;
    float f = 0;
    bool b = false;
    struct loco_str s = {NULL, 0};
    char buf[4];

    assert_int_equal(loco_gguf_get_u32(g, "t.u8", &u32), LOCO_OK);
    assert_int_equal(u32, 250);
    assert_int_equal(loco_gguf_get_i64(g, "t.i8", &i64), LOCO_OK);
    assert_int_equal(i64, -120);
    assert_int_equal(loco_gguf_get_u32(g, "t.u16", &u32), LOCO_OK);
    assert_int_equal(u32, 65000);
    assert_int_equal(loco_gguf_get_i64(g, "t.i16", &i64), LOCO_OK);
    assert_int_equal(i64, -32000);
    assert_int_equal(loco_gguf_get_u32(g, "t.u32", &u32), LOCO_OK);
    assert_int_equal(u32, 4000000000u);
    assert_int_equal(loco_gguf_get_i64(g, "t.i32", &i64), LOCO_OK);
    assert_int_equal(i64, -2000000000);
    assert_int_equal(loco_gguf_get_u64(g, "t.u64", &u64), LOCO_OK);
    assert_true(u64 == UINT64_MAX);
    assert_int_equal(loco_gguf_get_i64(g, "t.i64", &i64), LOCO_OK);
    assert_true(i64 == INT64_MIN);
    assert_int_equal(loco_gguf_get_f32(g, "t.f32", &f), LOCO_OK);
    assert_true(f == 1.5f);
    assert_int_equal(loco_gguf_get_f32(g, "t.f64", &f), LOCO_OK); /* FLOAT64 narrows */
    assert_true(f == (float)-2.25e300);
    double d = 0;
    assert_int_equal(loco_gguf_get_f64(g, "t.f64", &d), LOCO_OK); /* as stored */
    assert_true(d == -2.25e300);
    assert_int_equal(loco_gguf_get_f64(g, "t.f32", &d), LOCO_OK);
    assert_true(d == 1.5);
    assert_int_equal(loco_gguf_get_f64(g, "t.str", &d), LOCO_ERR_TYPE);
    assert_int_equal(loco_gguf_get_f64(g, "t.nosuch", &d), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_gguf_get_bool(g, "t.true", &b), LOCO_OK);
    assert_true(b);
    assert_int_equal(loco_gguf_get_bool(g, "t.false", &b), LOCO_OK);
    assert_false(b);
    assert_int_equal(loco_gguf_get_str(g, "t.str", &s), LOCO_OK);
    assert_int_equal(s.len, 6);
    assert_memory_equal(s.ptr, "h\xc3\xa9llo", 6);
    assert_int_equal(loco_gguf_get_str(g, "t.empty", &s), LOCO_OK);
    assert_int_equal(s.len, 0);
    assert_int_equal(loco_gguf_get_str_buf(g, "t.replaced", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "sec"); /* truncated to cap - 1 */
    assert_int_equal(loco_gguf_kv_type(g, loco_gguf_find_key(g, "t.replaced")), LOCO_GGUF_STRING);
}

static void check_getter_refusals(const struct loco_gguf *g)
{
    uint32_t u32 = 77;
    int64_t i64;
    uint64_t u64;
    float f;
    bool b;

    assert_int_equal(loco_gguf_get_u32(g, "no.such.key", &u32), LOCO_ERR_NOT_FOUND);
    assert_int_equal(u32, 77);                                           /* untouched */
    assert_int_equal(loco_gguf_get_u32(g, "t.i8", &u32), LOCO_ERR_TYPE); /* -120 */
    assert_non_null(strstr(loco_error_message(), "t.i8"));
    assert_int_equal(loco_gguf_get_u32(g, "t.u64", &u32), LOCO_ERR_TYPE); /* too big */
    assert_int_equal(loco_gguf_get_i64(g, "t.u64", &i64), LOCO_ERR_TYPE);
    assert_int_equal(loco_gguf_get_u64(g, "t.i64", &u64), LOCO_ERR_TYPE); /* negative */
    assert_int_equal(loco_gguf_get_u32(g, "t.str", &u32), LOCO_ERR_TYPE);
    assert_non_null(strstr(loco_error_message(), "STRING"));
    assert_int_equal(loco_gguf_get_u32(g, "t.true", &u32), LOCO_ERR_TYPE); /* bool */
    assert_int_equal(loco_gguf_get_f32(g, "t.u32", &f), LOCO_ERR_TYPE);
    assert_int_equal(loco_gguf_get_bool(g, "t.u8", &b), LOCO_ERR_TYPE);
    assert_int_equal(loco_gguf_get_arr(g, "t.u8", NULL, NULL, NULL), LOCO_ERR_TYPE);
}

/* One array of each numeric element type, values 0, -1 (or max), 2, ... */
static void set_every_array(struct loco_gguf_writer *w)
{
    const uint8_t u8[] = {0, 255, 2};
    const int8_t i8[] = {0, -1, 2};
    const uint16_t u16[] = {0, 65535, 2};
    const int16_t i16[] = {0, -1, 2};
    const uint32_t u32[] = {0, 4294967295u, 2};
    const int32_t i32[] = {0, -1, 2};
    const float f32[] = {0.0f, -1.0f, 2.5f};
    const uint8_t bools[] = {0, 1, 1};
    const uint64_t u64[] = {0, UINT64_MAX, 2};
    const int64_t i64[] = {0, -1, 2};
    const double f64[] = {0.0, -1.0, 2.5};
    const void *data[] = {u8, i8, u16, i16, u32, i32, f32, bools, NULL, NULL, u64, i64, f64};
    const char *const strs[] = {"<unk>", "", "\xe2\x96\x81the"};
    char key[32];

    for (int t = 0; t < LOCO_GGUF_TYPE_COUNT; t++) {
        if (t == LOCO_GGUF_STRING || t == LOCO_GGUF_ARRAY)
            continue;
        snprintf(key, sizeof key, "arr.%s", loco_gguf_type_name(t));
        assert_int_equal(loco_gguf_writer_set_arr(w, key, t, data[t], 3), LOCO_OK);
    }
    assert_int_equal(loco_gguf_writer_set_arr_str(w, "arr.STRING", strs, 3), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_arr(w, "arr.empty", LOCO_GGUF_INT32, NULL, 0), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_arr_str(w, "arr.empty_str", NULL, 0), LOCO_OK);
}

static void check_numeric_array(const struct loco_gguf *g, int t)
{
    char key[32];
    int64_t kv;
    enum loco_gguf_type et = LOCO_GGUF_TYPE_COUNT;
    uint64_t n = 0;
    const void *data = NULL;
    bool is_unsigned = t == LOCO_GGUF_UINT8 || t == LOCO_GGUF_UINT16 || t == LOCO_GGUF_UINT32;

    snprintf(key, sizeof key, "arr.%s", loco_gguf_type_name(t));
    kv = loco_gguf_find_key(g, key);
    assert_true(kv >= 0);
    assert_int_equal(loco_gguf_kv_type(g, kv), LOCO_GGUF_ARRAY);
    assert_int_equal(loco_gguf_get_arr(g, key, &et, &n, &data), LOCO_OK);
    assert_int_equal(et, t);
    assert_int_equal(n, 3);
    assert_non_null(data);
    assert_int_equal(loco_gguf_arr_type(g, kv), t);
    assert_int_equal(loco_gguf_arr_len(g, kv), 3);
    assert_int_equal(loco_gguf_arr_int(g, kv, 0), 0);
    assert_int_equal(loco_gguf_arr_int(g, kv, 2), t == LOCO_GGUF_BOOL ? 1 : 2);
    if (t == LOCO_GGUF_UINT64)
        assert_true(loco_gguf_arr_int(g, kv, 1) == INT64_MAX); /* clamped */
    else if (is_unsigned)
        assert_true(loco_gguf_arr_int(g, kv, 1) > 0);
    else if (t != LOCO_GGUF_BOOL)
        assert_int_equal(loco_gguf_arr_int(g, kv, 1), -1);
    if (t == LOCO_GGUF_FLOAT32 || t == LOCO_GGUF_FLOAT64)
        assert_true(loco_gguf_arr_float(g, kv, 2) == 2.5);
    assert_int_equal(loco_gguf_arr_int(g, kv, 3), 0); /* out of range */
    assert_null(loco_gguf_arr_str(g, kv, 0).ptr);     /* not strings */
}

static void check_every_array(const struct loco_gguf *g)
{
    int64_t kv = loco_gguf_find_key(g, "arr.STRING");
    uint64_t n = 99;
    const void *data = g;
    struct loco_str s = {NULL, 0};

    for (int t = 0; t < LOCO_GGUF_TYPE_COUNT; t++) {
        if (t != LOCO_GGUF_STRING && t != LOCO_GGUF_ARRAY)
            check_numeric_array(g, t);
    }
    assert_int_equal(loco_gguf_get_arr(g, "arr.STRING", NULL, &n, &data), LOCO_OK);
    assert_int_equal(n, 3);
    assert_null(data); /* strings go through loco_gguf_arr_str */
    s = loco_gguf_arr_str(g, kv, 0);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "<unk>", 5);
    assert_int_equal(loco_gguf_arr_str(g, kv, 1).len, 0);
    s = loco_gguf_arr_str(g, kv, 2);
    assert_int_equal(s.len, 6);
    assert_memory_equal(s.ptr, "\xe2\x96\x81the", 6);
    assert_null(loco_gguf_arr_str(g, kv, 3).ptr);
    assert_int_equal(loco_gguf_arr_int(g, kv, 0), 0);
    assert_int_equal(loco_gguf_arr_len(g, loco_gguf_find_key(g, "arr.empty")), 0);
    assert_int_equal(loco_gguf_arr_len(g, loco_gguf_find_key(g, "arr.empty_str")), 0);
    assert_int_equal(loco_gguf_arr_type(g, loco_gguf_find_key(g, "arr.empty_str")),
                     LOCO_GGUF_STRING);
    assert_int_equal(loco_gguf_arr_len(g, loco_gguf_find_key(g, "t.u8")), 0);
}

static void test_metadata_round_trip(void **state)
{
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    struct loco_gguf *g;
    char path[128];
    (void)state;

    tmp_path(path, sizeof path, "meta.gguf");
    assert_non_null(w);
    set_every_scalar(w);
    set_every_array(w);
    write_or_fail(w, path);
    loco_gguf_writer_free(w);

    g = open_or_fail(path);
    assert_int_equal(loco_gguf_version(g), 3);
    assert_int_equal(loco_gguf_n_tensors(g), 0);
    assert_int_equal(loco_gguf_n_kv(g), 15 + 11 + 3);    /* scalars, arrays, string/empty */
    assert_string_equal(loco_gguf_kv_key(g, 0), "t.u8"); /* insertion order */
    assert_string_equal(loco_gguf_kv_key(g, 14), "t.replaced");
    assert_null(loco_gguf_kv_key(g, -1));
    assert_null(loco_gguf_kv_key(g, loco_gguf_n_kv(g)));
    assert_int_equal(loco_gguf_find_key(g, "absent"), -1);
    /* no tensors: the data section starts right after the metadata */
    assert_int_equal(loco_gguf_data_offset(g), loco_gguf_file_size(g));
    assert_string_equal(loco_gguf_path(g), path);
    check_every_scalar(g);
    check_getter_refusals(g);
    check_every_array(g);
    loco_gguf_close(g);
}

/* Tensors of several types and ranks (a 4-D one, a vector, a scalar, an
 * empty one), written with `alignment`, read back equal and packed. */
static void tensor_round_trip(uint32_t alignment, const char *name)
{
    static const struct {
        const char *name;
        enum loco_type type;
        uint32_t n_dims;
        int64_t ne[4];
        size_t size;
    } specs[] = {
        {"token_embd.weight", LOCO_TYPE_F32, 2, {8, 3, 1, 1}, 8 * 3 * 4},
        {"blk.0.attn_q.weight", LOCO_TYPE_Q4_K, 2, {256, 2, 1, 1}, 2 * 144},
        {"blk.0.ffn_down.weight", LOCO_TYPE_Q6_K, 2, {512, 1, 1, 1}, 2 * 210},
        {"blk.0.attn_k.weight", LOCO_TYPE_Q8_0, 3, {64, 2, 3, 1}, 2 * 34 * 6},
        {"half", LOCO_TYPE_F16, 4, {3, 1, 2, 2}, 3 * 2 * 4},
        {"ids", LOCO_TYPE_I32, 1, {5, 1, 1, 1}, 20},
        {"scalar", LOCO_TYPE_F32, 0, {1, 1, 1, 1}, 4},
        {"empty", LOCO_TYPE_Q4_0, 2, {32, 0, 1, 1}, 0},
    };
    enum { N = sizeof specs / sizeof specs[0] };
    uint8_t data[N][2048];
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    struct loco_gguf *g;
    char path[128];
    uint64_t expect_offset = 0;

    tmp_path(path, sizeof path, name);
    assert_int_equal(loco_gguf_writer_set_alignment(w, alignment), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "general.architecture", "llama"), LOCO_OK);
    for (int i = 0; i < N; i++) {
        fill(data[i], specs[i].size, (unsigned)i);
        assert_int_equal(loco_gguf_writer_add_tensor(w, specs[i].name, specs[i].type,
                                                     specs[i].n_dims, specs[i].ne, data[i]),
                         LOCO_OK);
    }
    write_or_fail(w, path);
    loco_gguf_writer_free(w);

    g = open_or_fail(path);
    assert_int_equal(loco_gguf_alignment(g), alignment);
    assert_int_equal(loco_gguf_find_key(g, "general.alignment") >= 0,
                     alignment != LOCO_GGUF_DEFAULT_ALIGNMENT);
    assert_int_equal(loco_gguf_data_offset(g) % alignment, 0);
    assert_int_equal(loco_gguf_n_tensors(g), N);
    for (int i = 0; i < N; i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        assert_string_equal(t->name, specs[i].name);
        assert_ptr_equal(loco_gguf_find_tensor(g, specs[i].name), t);
        assert_int_equal(t->n_dims, specs[i].n_dims);
        assert_memory_equal(t->ne, specs[i].ne, sizeof t->ne);
        assert_int_equal(t->type, specs[i].type);
        assert_int_equal(t->size, specs[i].size);
        assert_int_equal(t->offset, expect_offset); /* strict layout: packed in order */
        assert_memory_equal(t->data, data[i], specs[i].size);
        expect_offset += padded(specs[i].size, alignment);
    }
    assert_int_equal(loco_gguf_file_size(g), loco_gguf_data_offset(g) + expect_offset);
    assert_null(loco_gguf_tensor(g, N));
    assert_null(loco_gguf_tensor(g, -1));
    assert_null(loco_gguf_find_tensor(g, "output.weight"));
    loco_gguf_close(g);
}

static void test_tensors_default_alignment(void **state)
{
    (void)state;
    tensor_round_trip(LOCO_GGUF_DEFAULT_ALIGNMENT, "tensors32.gguf");
}

static void test_tensors_custom_alignment(void **state)
{
    (void)state;
    tensor_round_trip(64, "tensors64.gguf");
    tensor_round_trip(1, "tensors1.gguf");
    tensor_round_trip(4096, "tensors4096.gguf");
}

static void test_writer_refuses_bad_input(void **state)
{
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    const int64_t ne[4] = {32, 2, 1, 1};
    const int64_t odd[2] = {33, 1};
    const int64_t neg[2] = {32, -1};
    uint8_t data[1024] = {0};
    char long_name[LOCO_GGUF_MAX_NAME + 1];
    (void)state;

    memset(long_name, 'x', LOCO_GGUF_MAX_NAME);
    long_name[LOCO_GGUF_MAX_NAME] = '\0';
    assert_int_equal(loco_gguf_writer_set_u32(w, "", 1), LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_set_alignment(w, 48), LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_set_alignment(w, 0), LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_set_u64(w, "general.alignment", 64), LOCO_ERR_TYPE);
    assert_int_equal(loco_gguf_writer_set_u32(w, "general.alignment", 12), LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_set_arr(w, "a", LOCO_GGUF_STRING, data, 1), LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_set_str(w, "s", NULL), LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_add_tensor(w, long_name, LOCO_TYPE_F32, 2, ne, data),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_add_tensor(w, "t", (enum loco_type)4, 2, ne, data),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_add_tensor(w, "t", LOCO_TYPE_Q4_0, 2, odd, data),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "block size 32"));
    assert_int_equal(loco_gguf_writer_add_tensor(w, "t", LOCO_TYPE_Q4_0, 2, neg, data),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_add_tensor(w, "t", LOCO_TYPE_F32, 5, ne, data),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_add_tensor(w, "t", LOCO_TYPE_F32, 2, ne, NULL),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_gguf_writer_add_tensor(w, "t", LOCO_TYPE_F32, 2, ne, data), LOCO_OK);
    assert_int_equal(loco_gguf_writer_add_tensor(w, "t", LOCO_TYPE_F32, 2, ne, data),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "already"));
    loco_gguf_writer_free(w);
}

/* ---- real files -------------------------------------------------------- */

static void test_stories260k(void **state)
{
    char path[512];
    struct loco_gguf *g;
    struct loco_str s = {NULL, 0};
    uint32_t ctx = 0;
    float eps = 0;
    int64_t tokens;
    const struct loco_gguf_tensor *embd;
    (void)state;

    if (!test_shared_path("fixtures/models/stories260K.gguf", path, sizeof path))
        skip();
    g = open_or_fail(path);
    assert_int_equal(loco_gguf_version(g), 3);
    assert_int_equal(loco_gguf_alignment(g), 32);
    assert_int_equal(loco_gguf_file_size(g), 1185376);
    assert_int_equal(loco_gguf_get_str(g, "general.architecture", &s), LOCO_OK);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "llama", 5);
    assert_int_equal(loco_gguf_get_u32(g, "llama.context_length", &ctx), LOCO_OK);
    assert_int_equal(ctx, 128);
    assert_int_equal(loco_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps), LOCO_OK);
    assert_true(eps == 1e-5f);
    tokens = loco_gguf_find_key(g, "tokenizer.ggml.tokens");
    assert_int_equal(loco_gguf_arr_type(g, tokens), LOCO_GGUF_STRING);
    assert_int_equal(loco_gguf_arr_len(g, tokens), 512);
    s = loco_gguf_arr_str(g, tokens, 1);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "<s>", 3);
    assert_int_equal(loco_gguf_n_tensors(g), 48);
    for (int64_t i = 0; i < 48; i++)
        assert_int_equal(loco_gguf_tensor(g, i)->type, LOCO_TYPE_F32);
    embd = loco_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(embd);
    assert_int_equal(embd->ne[0], 64);
    assert_int_equal(embd->ne[1], 512);
    assert_int_equal(embd->size, 64 * 512 * 4);
    assert_int_equal(loco_gguf_data_offset(g) % 32, 0);
    loco_gguf_close(g);
}

static void test_tiny_llama_q4_k_m(void **state)
{
    char path[512];
    struct loco_gguf *g;
    int counts[LOCO_TYPE_COUNT] = {0};
    (void)state;

    if (!test_shared_path("fixtures/golden/tiny-llama-Q4_K_M.gguf", path, sizeof path))
        skip();
    g = open_or_fail(path);
    assert_int_equal(loco_gguf_n_tensors(g), 30);
    for (int64_t i = 0; i < loco_gguf_n_tensors(g); i++)
        counts[loco_gguf_tensor(g, i)->type]++;
    assert_int_equal(counts[LOCO_TYPE_Q4_K], 20);
    assert_int_equal(counts[LOCO_TYPE_Q6_K], 3);
    assert_int_equal(counts[LOCO_TYPE_F32], 7);
    assert_int_equal(loco_gguf_find_tensor(g, "output.weight")->type, LOCO_TYPE_Q6_K);
    assert_int_equal(loco_gguf_find_tensor(g, "blk.2.attn_v.weight")->type, LOCO_TYPE_Q6_K);
    assert_int_equal(loco_gguf_find_tensor(g, "blk.2.ffn_down.weight")->type, LOCO_TYPE_Q6_K);
    assert_int_equal(loco_gguf_find_tensor(g, "blk.0.attn_q.weight")->size, 256 / 256 * 144 * 256);
    loco_gguf_close(g);
}

/* Every GGUF shipped in the shared fixtures opens. */
static void test_all_fixtures_open(void **state)
{
    static const char *const files[] = {
        "fixtures/tokenizer/ggml-vocab-llama-spm.gguf",
        "fixtures/tokenizer/ggml-vocab-gpt-2.gguf",
        "fixtures/tokenizer/ggml-vocab-phi-3.gguf",
        "fixtures/tokenizer/ggml-vocab-starcoder.gguf",
        "fixtures/golden/tiny-gemma3-Q8_0.gguf",
        "fixtures/golden/tiny-qwen2-Q4_K_M.gguf",
        "fixtures/golden/tiny-llama-Q4_0.gguf",
        "fixtures/golden/tiny-llama-Q5_K_M.gguf",
    };
    char path[512];
    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (!test_shared_path(files[i], path, sizeof path))
            skip();
        loco_gguf_close(open_or_fail(path));
    }
}

/* Copying every entry and tensor of a llama.cpp-written file reproduces
 * it byte for byte: the writer's layout is llama.cpp's. */
static void test_copy_reproduces_llama_cpp_file(void **state)
{
    char src[512];
    char dst[128];
    struct loco_gguf *g;
    struct loco_gguf_writer *w;
    size_t len_a = 0, len_b = 0;
    char *a, *b;
    (void)state;

    if (!test_shared_path("fixtures/models/stories260K.gguf", src, sizeof src))
        skip();
    w = loco_gguf_writer_init();
    tmp_path(dst, sizeof dst, "copy.gguf");
    g = open_or_fail(src);
    for (int64_t i = 0; i < loco_gguf_n_kv(g); i++)
        assert_int_equal(loco_gguf_writer_copy_kv(w, g, i), LOCO_OK);
    for (int64_t i = 0; i < loco_gguf_n_tensors(g); i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        assert_int_equal(
            loco_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data), LOCO_OK);
    }
    write_or_fail(w, dst);
    loco_gguf_writer_free(w);
    loco_gguf_close(g);
    a = test_read_file(src, &len_a);
    b = test_read_file(dst, &len_b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(len_a, len_b);
    assert_memory_equal(a, b, len_a);
    free(a);
    free(b);
}

static void test_open_errors(void **state)
{
    char path[128];
    int fd;
    (void)state;

    tmp_path(path, sizeof path, "missing.gguf");
    assert_null(loco_gguf_open(path));
    assert_non_null(strstr(loco_error_message(), "missing.gguf"));
    assert_null(loco_gguf_open(tmp_dir)); /* a folder */
    assert_non_null(strstr(loco_error_message(), "not a regular file"));
    tmp_path(path, sizeof path, "pipe.gguf"); /* a FIFO: refused, not waited on */
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_null(loco_gguf_open(path));
    assert_non_null(strstr(loco_error_message(), "not a regular file"));
    unlink(path);
    tmp_path(path, sizeof path, "empty.gguf");
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_null(loco_gguf_open(path));
    assert_non_null(strstr(loco_error_message(), "magic"));
    assert_null(loco_gguf_open_memory(NULL, 0));
}

/* ---- hostile images ---------------------------------------------------- */

static void test_bad_magic_and_version(void **state)
{
    struct bytes b = {.len = 0};
    (void)state;

    put(&b, "GGUE", 4);
    put_u32(&b, 3);
    put_u64(&b, 0);
    put_u64(&b, 0);
    expect_reject(&b, "bad magic", "offset 0");

    for (uint32_t v = 0; v <= 5; v++) {
        b.len = 0;
        put_header(&b, v, 0, 0);
        if (v == 2 || v == 3) {
            uint8_t *copy;
            struct loco_gguf *g = expect_open(&b, &copy);
            assert_int_equal(loco_gguf_version(g), v);
            loco_gguf_close(g);
            free(copy);
        } else {
            char needle[32];
            snprintf(needle, sizeof needle, "version %u", v);
            expect_reject(&b, needle, "offset 4");
        }
    }
    b.len = 0;
    put_header(&b, 0x03000000, 0, 0); /* a big-endian writer's 3 */
    expect_reject(&b, "0x03000000", "byte-swapped");
}

/* A small valid file cut at every length: each prefix is refused without a
 * crash until the last tensor's bytes are all there. */
static void test_truncated_at_every_byte(void **state)
{
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    const int64_t ne[2] = {32, 2};
    const char *const strs[] = {"a", "bc"};
    const int16_t arr[] = {1, -2, 3};
    uint8_t data[32 * 4]; /* enough for both tensors */
    char path[128];
    char *file;
    size_t len = 0;
    size_t need;
    struct loco_gguf *full;
    (void)state;

    fill(data, sizeof data, 3);
    tmp_path(path, sizeof path, "small.gguf");
    loco_gguf_writer_set_str(w, "general.architecture", "llama");
    loco_gguf_writer_set_arr_str(w, "tok", strs, 2);
    loco_gguf_writer_set_arr(w, "arr", LOCO_GGUF_INT16, arr, 3);
    loco_gguf_writer_set_f64(w, "f", 0.5);
    loco_gguf_writer_add_tensor(w, "a", LOCO_TYPE_F32, 1, ne, data);
    loco_gguf_writer_add_tensor(w, "b", LOCO_TYPE_Q8_0, 2, ne, data);
    write_or_fail(w, path);
    loco_gguf_writer_free(w);
    file = test_read_file(path, &len);
    assert_non_null(file);
    full = loco_gguf_open_memory(file, len);
    assert_non_null(full);
    need = loco_gguf_data_offset(full) + loco_gguf_tensor(full, 1)->offset +
           loco_gguf_tensor(full, 1)->size;
    loco_gguf_close(full);

    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *copy;
        struct loco_gguf *g = open_copy((const uint8_t *)file, cut, &copy);
        if (cut < need) {
            if (g)
                print_error("a prefix of %zu bytes opened\n", cut);
            assert_null(g);
            assert_true(loco_error_message()[0] != '\0');
        } else {
            assert_non_null(g);
        }
        loco_gguf_close(g);
        free(copy);
    }
    free(file);
}

static void test_huge_counts(void **state)
{
    struct bytes b = {.len = 0};
    (void)state;

    put_header(&b, 3, 0, INT64_MAX);
    expect_reject(&b, "n_kv = 9223372036854775807", "offset 16");
    b.len = 0;
    put_header(&b, 3, 0, 2); /* two KVs cannot fit in 0 bytes */
    expect_reject(&b, "n_kv = 2", "cannot fit");
    b.len = 0;
    put_header(&b, 3, -1, 0);
    expect_reject(&b, "n_tensors = -1", "negative");
    b.len = 0;
    put_header(&b, 3, 1, 1); /* room for the KV, none left for the tensor */
    put_kv_u32(&b, "a", 1);
    put(&b, "0123456789", 10);
    expect_reject(&b, "n_tensors = 1", "after the metadata");
}

/* Counts that the bytes left would allow, but beyond any real model. */
static void test_count_limits(void **state)
{
    size_t len = 16 << 20;
    uint8_t *image = calloc(1, len);
    struct bytes head = {.len = 0};
    (void)state;

    assert_non_null(image);
    put_header(&head, 3, 0, ((int64_t)1 << 20) + 1);
    memcpy(image, head.data, head.len);
    assert_null(loco_gguf_open_memory(image, len));
    assert_non_null(strstr(loco_error_message(), "n_kv = 1048577 at offset 16 exceeds"));
    free(image);
}

static void test_huge_lengths(void **state)
{
    struct bytes b = {.len = 0};
    (void)state;

    put_header(&b, 3, 0, 1);
    put_u64(&b, UINT64_MAX); /* key length */
    put(&b, "key and more bytes", 18);
    expect_reject(&b, "key at offset 24", "length 18446744073709551615");

    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "s");
    put_u32(&b, LOCO_GGUF_STRING);
    put_u64(&b, 1000);
    put(&b, "short", 5);
    expect_reject(&b, "string value at offset 37", "length 1000");

    b.len = 0; /* 2^61 elements of 8 bytes: the byte count overflows 64 bits */
    put_header(&b, 3, 0, 1);
    put_str(&b, "arr");
    put_u32(&b, LOCO_GGUF_ARRAY);
    put_u32(&b, LOCO_GGUF_UINT64);
    put_u64(&b, (uint64_t)1 << 61);
    put_u64(&b, 7);
    expect_reject(&b, "array count 2305843009213693952", "offset 43");

    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "arr");
    put_u32(&b, LOCO_GGUF_ARRAY);
    put_u32(&b, LOCO_GGUF_STRING);
    put_u64(&b, UINT64_MAX / 2);
    put_str(&b, "x");
    expect_reject(&b, "array count 9223372036854775807", "strings cannot fit");
}

static void test_bad_value_types(void **state)
{
    struct bytes b = {.len = 0};
    (void)state;

    put_header(&b, 3, 0, 1);
    put_str(&b, "nested");
    put_u32(&b, LOCO_GGUF_ARRAY);
    put_u32(&b, LOCO_GGUF_ARRAY);
    put_u64(&b, 0);
    expect_reject(&b, "nested arrays", "'nested'");

    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "weird");
    put_u32(&b, 13);
    put_u32(&b, 0);
    expect_reject(&b, "value type 13", "offset 37");

    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "weird");
    put_u32(&b, LOCO_GGUF_ARRAY);
    put_u32(&b, 0xffffffffu);
    put_u64(&b, 0);
    expect_reject(&b, "element type 4294967295", "offset 41");
}

static void test_bad_keys(void **state)
{
    struct bytes b = {.len = 0};
    (void)state;

    put_header(&b, 3, 0, 3);
    put_kv_u32(&b, "a.b", 1);
    put_kv_u32(&b, "c", 2);
    put_kv_u32(&b, "a.b", 3);
    expect_reject(&b, "duplicate key 'a.b'", "offset 24");

    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_kv_u32(&b, "", 1);
    expect_reject(&b, "key at offset 24 is empty", NULL);

    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_u64(&b, 3);
    put(&b, "a\0b", 3);
    put_u32(&b, LOCO_GGUF_UINT8);
    put(&b, "x", 1);
    expect_reject(&b, "NUL byte", NULL);
}

static void test_bad_alignment(void **state)
{
    struct bytes b = {.len = 0};
    (void)state;

    put_header(&b, 3, 0, 1);
    put_kv_u32(&b, "general.alignment", 48);
    expect_reject(&b, "general.alignment = 48", "power of two");
    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_kv_u32(&b, "general.alignment", 0);
    expect_reject(&b, "general.alignment = 0", "power of two");
    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "general.alignment");
    put_u32(&b, LOCO_GGUF_UINT64);
    put_u64(&b, 64);
    expect_reject(&b, "type UINT64", "must be UINT32");
}

/* One tensor info with the given fields, then the padded data section. */
static void one_tensor(struct bytes *b, const char *name, uint32_t n_dims, const int64_t *ne,
                       uint32_t type, uint64_t offset, size_t data_bytes)
{
    static const uint8_t zero[512];
    b->len = 0;
    put_header(b, 3, 1, 0);
    put_tensor_info(b, name, n_dims, ne, type, offset);
    put_pad(b, 32);
    put(b, zero, data_bytes);
}

static void test_bad_tensor_infos(void **state)
{
    struct bytes b = {.len = 0};
    const int64_t ne[5] = {32, 2, 1, 1, 1}; /* five, for the n_dims = 5 case */
    const int64_t neg[2] = {32, -3};
    const int64_t odd[1] = {33};
    const int64_t big[3] = {(int64_t)1 << 32, (int64_t)1 << 32, (int64_t)1 << 32};
    char name64[65];
    (void)state;

    one_tensor(&b, "w", 2, ne, 4, 0, 256); /* id 4 was removed from ggml */
    expect_reject(&b, "tensor type 4", "offset 53");
    one_tensor(&b, "w", 2, ne, 43, 0, 256);
    expect_reject(&b, "tensor type 43", "'w'");
    one_tensor(&b, "w", 5, ne, 0, 0, 256);
    expect_reject(&b, "n_dims = 5", "offset 33");
    one_tensor(&b, "w", 2, neg, 0, 0, 256);
    expect_reject(&b, "ne[1] = -3", "offset 45");
    one_tensor(&b, "w", 1, odd, LOCO_TYPE_Q4_0, 0, 256);
    expect_reject(&b, "ne[0] = 33", "Q4_0 block size 32");
    one_tensor(&b, "w", 3, big, LOCO_TYPE_F32, 0, 256);
    expect_reject(&b, "overflows", "'w'");
    memset(name64, 'n', 64);
    name64[64] = '\0';
    one_tensor(&b, name64, 2, ne, 0, 0, 256);
    expect_reject(&b, "is 64 bytes long", "shorter than 64");
    one_tensor(&b, "", 2, ne, 0, 0, 256);
    expect_reject(&b, "tensor name at offset 24 is empty", NULL);
    one_tensor(&b, "w", 2, ne, 0, 16, 256);
    expect_reject(&b, "data offset 16", "alignment 32");
}

static void test_tensor_data_out_of_file(void **state)
{
    struct bytes b = {.len = 0};
    const int64_t ne[2] = {32, 2}; /* 256 bytes of F32 */
    (void)state;

    one_tensor(&b, "blk.0.attn_q.weight", 2, ne, 0, 0, 255);
    expect_reject(&b, "tensor 'blk.0.attn_q.weight': data [offset 96, size 256]",
                  "extends past end of file (size 351)");
    one_tensor(&b, "w", 2, ne, 0, UINT64_MAX - 31, 256);
    expect_reject(&b, "data offset 18446744073709551584", "past end of file (size 352)");

    b.len = 0; /* padding before the data section cut short */
    put_header(&b, 3, 1, 0);
    put_tensor_info(&b, "w", 1, ne, 0, 0);
    put(&b, "\0", 1);
    expect_reject(&b, "data section", "past end of file");
}

static void test_duplicate_tensor_name(void **state)
{
    static const uint8_t zero[64];
    struct bytes b = {.len = 0};
    const int64_t ne[1] = {8};
    (void)state;

    put_header(&b, 3, 2, 0);
    put_tensor_info(&b, "w", 1, ne, 0, 0);
    put_tensor_info(&b, "w", 1, ne, 0, 32);
    put_pad(&b, 32);
    put(&b, zero, sizeof zero);
    expect_reject(&b, "duplicate tensor name 'w'", "offset 24");
}

/* Two tensors whose data ranges share bytes are refused, naming both; so is
 * one whose range lies inside another's; touching ranges and empty tensors
 * are fine. */
static void test_overlapping_tensors(void **state)
{
    static const uint8_t zero[128];
    struct bytes b = {.len = 0};
    const int64_t ne8[1] = {8}, ne16[1] = {16}, ne0[1] = {0};
    struct loco_gguf *g;
    uint8_t *copy;
    (void)state;

    /* "a" is [0, 64); "b" starts at 32 */
    put_header(&b, 3, 2, 0);
    put_tensor_info(&b, "a", 1, ne16, LOCO_TYPE_F32, 0);
    put_tensor_info(&b, "b", 1, ne8, LOCO_TYPE_F32, 32);
    put_pad(&b, 32);
    put(&b, zero, 96);
    expect_reject(&b, "tensors 'a' (data [0, 64)) and 'b' (data [32, 64)) overlap", NULL);

    /* the same offset twice, listed in the other order: found by sorting */
    b.len = 0;
    put_header(&b, 3, 3, 0);
    put_tensor_info(&b, "late", 1, ne8, LOCO_TYPE_F32, 64);
    put_tensor_info(&b, "big", 1, ne16, LOCO_TYPE_F32, 0);
    put_tensor_info(&b, "inner", 1, ne8, LOCO_TYPE_F32, 32); /* inside "big" */
    put_pad(&b, 32);
    put(&b, zero, 96);
    expect_reject(&b, "'big'", "'inner'");

    /* adjacent ranges and an empty tensor at a used offset load */
    b.len = 0;
    put_header(&b, 3, 3, 0);
    put_tensor_info(&b, "x", 1, ne8, LOCO_TYPE_F32, 0);
    put_tensor_info(&b, "y", 1, ne8, LOCO_TYPE_F32, 32);
    put_tensor_info(&b, "e", 1, ne0, LOCO_TYPE_F32, 32);
    put_pad(&b, 32);
    put(&b, zero, 64);
    g = open_copy(b.data, b.len, &copy);
    assert_non_null(g);
    assert_int_equal(loco_gguf_n_tensors(g), 3);
    loco_gguf_close(g);
    free(copy);
}

/* ---- atomic writes ----------------------------------------------------- */

/* Write a one-key file holding `value` to path. */
static int write_marker(const char *path, uint32_t value)
{
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    int rc;
    loco_gguf_writer_set_u32(w, "marker", value);
    rc = loco_gguf_writer_write(w, path);
    loco_gguf_writer_free(w);
    return rc;
}

static uint32_t read_marker(const char *path)
{
    struct loco_gguf *g = open_or_fail(path);
    uint32_t v = 0;
    assert_int_equal(loco_gguf_get_u32(g, "marker", &v), LOCO_OK);
    loco_gguf_close(g);
    return v;
}

/* Number of entries in a folder, "." and ".." not counted. */
static int count_entries(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    int n = 0;
    assert_non_null(dir);
    while ((e = readdir(dir)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(dir);
    return n;
}

static void test_overwrite_replaces(void **state)
{
    char dir[128];
    char path[160];
    (void)state;

    tmp_path(dir, sizeof dir, "over");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    assert_int_equal(write_marker(path, 1), LOCO_OK);
    assert_int_equal(write_marker(path, 2), LOCO_OK);
    assert_int_equal(read_marker(path), 2);
    assert_int_equal(count_entries(dir), 1); /* no temporary left over */
}

/* Root ignores folder permissions, so as root the refused write runs in a
 * child that first becomes the unprivileged user `nobody`. */
static int write_marker_unprivileged(const char *path)
{
    pid_t pid;
    int status;
    if (geteuid() != 0)
        return write_marker(path, 2) == LOCO_ERR_IO ? 0 : 1;
    pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(77);
        _exit(write_marker(path, 2) == LOCO_ERR_IO ? 0 : 1);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 1;
    return WEXITSTATUS(status);
}

static void test_failed_write_keeps_original(void **state)
{
    char dir[128];
    char path[160];
    int result;
    (void)state;

    tmp_path(dir, sizeof dir, "readonly");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    assert_int_equal(write_marker(path, 1), LOCO_OK);
    assert_int_equal(chmod(tmp_dir, 0755), 0); /* let `nobody` reach the folder */
    assert_int_equal(chmod(dir, 0555), 0);
    result = write_marker_unprivileged(path);
    chmod(dir, 0755);
    if (result == 77) {
        print_message("skipping: cannot drop root privileges to test a read-only folder\n");
        skip();
    }
    assert_int_equal(result, 0);
    assert_int_equal(read_marker(path), 1);
    assert_int_equal(count_entries(dir), 1);
}

/* When the final rename fails (the target is a folder) the temporary file
 * is removed and the target is left alone. */
static void test_failed_rename_cleans_up(void **state)
{
    char dir[128];
    char target[160];
    (void)state;

    tmp_path(dir, sizeof dir, "rename");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(target, sizeof target, "%s/m.gguf", dir);
    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_equal(write_marker(target, 1), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "rename"));
    assert_int_equal(count_entries(dir), 1);
    tmp_path(dir, sizeof dir, "no/such/folder/m.gguf");
    assert_int_equal(write_marker(dir, 1), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "temporary"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_round_trip),
        cmocka_unit_test(test_tensors_default_alignment),
        cmocka_unit_test(test_tensors_custom_alignment),
        cmocka_unit_test(test_writer_refuses_bad_input),
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_tiny_llama_q4_k_m),
        cmocka_unit_test(test_all_fixtures_open),
        cmocka_unit_test(test_copy_reproduces_llama_cpp_file),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_bad_magic_and_version),
        cmocka_unit_test(test_truncated_at_every_byte),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_count_limits),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_bad_value_types),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_bad_alignment),
        cmocka_unit_test(test_bad_tensor_infos),
        cmocka_unit_test(test_tensor_data_out_of_file),
        cmocka_unit_test(test_duplicate_tensor_name),
        cmocka_unit_test(test_overlapping_tensors),
        cmocka_unit_test(test_overwrite_replaces),
        cmocka_unit_test(test_failed_write_keeps_original),
        cmocka_unit_test(test_failed_rename_cleans_up),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
