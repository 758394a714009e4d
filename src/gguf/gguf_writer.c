/*
 * gguf_writer.c - the GGUF writer (see loco/gguf.h; layout in
 * docs/formats/gguf.md).
 *
 * Why it looks the way it does: the writer is how quantized models, LoRA
 * adapters and test fixtures come into being, and llama.cpp must be able to
 * load what it writes. So it follows llama.cpp's strict layout: version 3,
 * tensor infos in insertion order, tensor data packed in that same order,
 * every tensor (and the start of the data section) padded with zeros to the
 * alignment.
 *
 * Each metadata value is encoded into its file form (type id, then payload)
 * the moment it is set, so writing is a plain copy and replacing a key is
 * swapping one buffer. Tensor data is borrowed, never copied.
 *
 * Writes are atomic: the file is built under a temporary name in the same
 * directory, flushed to disk, and renamed over the target. A failure at any
 * step removes the temporary file and leaves an existing file untouched.
 */
#include "loco/gguf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "gguf/gguf_internal.h"
#include "loco/fileio.h"

#define GGUF_VERSION 3
#define ALIGNMENT_KEY "general.alignment"

struct writer_kv {
    char *key;
    uint8_t *val; /* u32 type id, then the value exactly as in the file */
    size_t val_len;
};

struct writer_tensor {
    char name[LOCO_GGUF_MAX_NAME];
    uint32_t n_dims;
    int64_t ne[LOCO_GGUF_MAX_DIMS];
    uint32_t type;
    uint64_t size;    /* bytes, unpadded */
    const void *data; /* borrowed */
};

struct loco_gguf_writer {
    struct writer_kv *kv;
    size_t n_kv, cap_kv;
    struct writer_tensor *tensors;
    size_t n_tensors, cap_tensors;
    uint32_t alignment;
};

/* ---- encoding values into a byte buffer -------------------------------- */

/* Values are encoded into a core/sbuf.h buffer (bytes, no limit of its own);
 * a failed append sticks in b->failed and check_kv reports it. */

static void buf_u32(struct loco_sbuf *b, uint32_t v)
{
    loco_sbuf_add(b, &v, sizeof v);
}

static void buf_u64(struct loco_sbuf *b, uint64_t v)
{
    loco_sbuf_add(b, &v, sizeof v);
}

static void buf_str(struct loco_sbuf *b, const char *s, size_t len)
{
    buf_u64(b, len);
    loco_sbuf_add(b, s, len);
}

/* ---- lifecycle --------------------------------------------------------- */

struct loco_gguf_writer *loco_gguf_writer_init(void)
{
    struct loco_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory for a GGUF writer");
        return NULL;
    }
    w->alignment = LOCO_GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void loco_gguf_writer_free(struct loco_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    free(w->kv);
    free(w->tensors);
    free(w);
}

/* ---- metadata ---------------------------------------------------------- */

static int64_t find_kv(const struct loco_gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0)
            return (int64_t)i;
    }
    return -1;
}

static void remove_kv(struct loco_gguf_writer *w, const char *key)
{
    int64_t i = find_kv(w, key);
    if (i < 0)
        return;
    free(w->kv[i].key);
    free(w->kv[i].val);
    memmove(&w->kv[i], &w->kv[i + 1], (w->n_kv - (size_t)i - 1) * sizeof *w->kv);
    w->n_kv--;
}

/* A fresh slot at the end of the key list, key copied. */
static int append_kv(struct loco_gguf_writer *w, const char *key, struct writer_kv **out)
{
    size_t len = strlen(key);
    char *copy = malloc(len + 1);
    if (copy && w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        struct writer_kv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) {
            free(copy);
            copy = NULL;
        } else {
            w->kv = kv;
            w->cap_kv = cap;
        }
    }
    if (!copy)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory adding key '%s'", key);
    memcpy(copy, key, len + 1);
    *out = &w->kv[w->n_kv++];
    **out = (struct writer_kv){copy, NULL, 0};
    return LOCO_OK;
}

/* general.alignment must be a UINT32 power of two; it also sets the
 * alignment the data section is written with. */
static int check_alignment_kv(const struct loco_sbuf *b, uint32_t *alignment)
{
    uint32_t type;
    uint32_t a;
    memcpy(&type, b->p, sizeof type);
    if (type != LOCO_GGUF_UINT32 || b->len != 8)
        return loco_error_set(LOCO_ERR_TYPE, ALIGNMENT_KEY " must be UINT32, not %s",
                              loco_gguf_type_name((enum loco_gguf_type)type));
    memcpy(&a, b->p + 4, sizeof a);
    if (a == 0 || (a & (a - 1)) != 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              ALIGNMENT_KEY " = %" PRIu32 " is not a power of two", a);
    *alignment = a;
    return LOCO_OK;
}

static int check_kv(const char *key, const struct loco_sbuf *b, uint32_t *alignment)
{
    if (!key || key[0] == '\0')
        return loco_error_set(LOCO_ERR_INVALID, "a GGUF key must be a non-empty string");
    if (b->failed)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory encoding the value of '%s'", key);
    if (strcmp(key, ALIGNMENT_KEY) == 0)
        return check_alignment_kv(b, alignment);
    return LOCO_OK;
}

/* Replace the value of `key`, or append it. */
static int store_kv(struct loco_gguf_writer *w, const char *key, struct loco_sbuf *b)
{
    int64_t i = find_kv(w, key);
    struct writer_kv *kv = NULL;
    if (i >= 0)
        kv = &w->kv[i];
    else if (append_kv(w, key, &kv) != LOCO_OK)
        return LOCO_ERR_NOMEM;
    free(kv->val);
    kv->val = (uint8_t *)b->p;
    kv->val_len = b->len;
    return LOCO_OK;
}

/* Store the encoded value `b` under `key`; b->p is owned from here on. */
static int put_kv(struct loco_gguf_writer *w, const char *key, struct loco_sbuf *b)
{
    uint32_t alignment = w ? w->alignment : 0;
    int rc = w ? check_kv(key, b, &alignment)
               : loco_error_set(LOCO_ERR_INVALID, "no writer to set a key in");
    if (rc == LOCO_OK)
        rc = store_kv(w, key, b);
    if (rc != LOCO_OK) {
        loco_sbuf_free(b);
        return rc;
    }
    w->alignment = alignment;
    return LOCO_OK;
}

static int set_scalar(struct loco_gguf_writer *w, const char *key, enum loco_gguf_type type,
                      const void *v)
{
    struct loco_sbuf b = {0};
    buf_u32(&b, type);
    loco_sbuf_add(&b, v, loco_gguf_type_size(type));
    return put_kv(w, key, &b);
}

int loco_gguf_writer_set_u8(struct loco_gguf_writer *w, const char *key, uint8_t v)
{
    return set_scalar(w, key, LOCO_GGUF_UINT8, &v);
}

int loco_gguf_writer_set_i8(struct loco_gguf_writer *w, const char *key, int8_t v)
{
    return set_scalar(w, key, LOCO_GGUF_INT8, &v);
}

int loco_gguf_writer_set_u16(struct loco_gguf_writer *w, const char *key, uint16_t v)
{
    return set_scalar(w, key, LOCO_GGUF_UINT16, &v);
}

int loco_gguf_writer_set_i16(struct loco_gguf_writer *w, const char *key, int16_t v)
{
    return set_scalar(w, key, LOCO_GGUF_INT16, &v);
}

int loco_gguf_writer_set_u32(struct loco_gguf_writer *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, LOCO_GGUF_UINT32, &v);
}

int loco_gguf_writer_set_i32(struct loco_gguf_writer *w, const char *key, int32_t v)
{
    return set_scalar(w, key, LOCO_GGUF_INT32, &v);
}

int loco_gguf_writer_set_u64(struct loco_gguf_writer *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, LOCO_GGUF_UINT64, &v);
}

int loco_gguf_writer_set_i64(struct loco_gguf_writer *w, const char *key, int64_t v)
{
    return set_scalar(w, key, LOCO_GGUF_INT64, &v);
}

int loco_gguf_writer_set_f32(struct loco_gguf_writer *w, const char *key, float v)
{
    return set_scalar(w, key, LOCO_GGUF_FLOAT32, &v);
}

int loco_gguf_writer_set_f64(struct loco_gguf_writer *w, const char *key, double v)
{
    return set_scalar(w, key, LOCO_GGUF_FLOAT64, &v);
}

int loco_gguf_writer_set_bool(struct loco_gguf_writer *w, const char *key, bool v)
{
    uint8_t byte = v ? 1 : 0;
    return set_scalar(w, key, LOCO_GGUF_BOOL, &byte);
}

int loco_gguf_writer_set_str(struct loco_gguf_writer *w, const char *key, const char *v)
{
    struct loco_sbuf b = {0};
    if (!v)
        return loco_error_set(LOCO_ERR_INVALID, "NULL string value for key '%s'",
                              key ? key : "(null)");
    buf_u32(&b, LOCO_GGUF_STRING);
    buf_str(&b, v, strlen(v));
    return put_kv(w, key, &b);
}

static bool is_numeric(enum loco_gguf_type t)
{
    return (unsigned)t < LOCO_GGUF_TYPE_COUNT && t != LOCO_GGUF_STRING && t != LOCO_GGUF_ARRAY;
}

int loco_gguf_writer_set_arr(struct loco_gguf_writer *w, const char *key,
                             enum loco_gguf_type elem_type, const void *data, uint64_t n)
{
    struct loco_sbuf b = {0};
    size_t esize = loco_gguf_type_size(elem_type);
    if (!is_numeric(elem_type))
        return loco_error_set(LOCO_ERR_INVALID,
                              "array '%s': element type %s is not numeric "
                              "(use loco_gguf_writer_set_arr_str for strings)",
                              key ? key : "(null)", loco_gguf_type_name(elem_type));
    if (n > SIZE_MAX / esize || (n > 0 && !data))
        return loco_error_set(LOCO_ERR_INVALID, "array '%s': %" PRIu64 " elements %s",
                              key ? key : "(null)", n, data ? "are too many" : "but no data");
    buf_u32(&b, LOCO_GGUF_ARRAY);
    buf_u32(&b, elem_type);
    buf_u64(&b, n);
    loco_sbuf_add(&b, data, (size_t)n * esize);
    return put_kv(w, key, &b);
}

int loco_gguf_writer_set_arr_str(struct loco_gguf_writer *w, const char *key,
                                 const char *const *strs, uint64_t n)
{
    struct loco_sbuf b = {0};
    buf_u32(&b, LOCO_GGUF_ARRAY);
    buf_u32(&b, LOCO_GGUF_STRING);
    buf_u64(&b, n);
    for (uint64_t i = 0; i < n; i++) {
        if (!strs || !strs[i]) {
            loco_sbuf_free(&b);
            return loco_error_set(LOCO_ERR_INVALID,
                                  "string array '%s': element %" PRIu64 " is NULL",
                                  key ? key : "(null)", i);
        }
        buf_str(&b, strs[i], strlen(strs[i]));
    }
    return put_kv(w, key, &b);
}

/* Encode the array at entry kv of g (strings read through the reader). */
static void encode_reader_array(struct loco_sbuf *b, const struct loco_gguf *g, int64_t kv)
{
    enum loco_gguf_type et = loco_gguf_arr_type(g, kv);
    uint64_t n = loco_gguf_arr_len(g, kv);
    const void *data = NULL;
    buf_u32(b, LOCO_GGUF_ARRAY);
    buf_u32(b, et);
    buf_u64(b, n);
    if (et != LOCO_GGUF_STRING) {
        loco_gguf_get_arr(g, loco_gguf_kv_key(g, kv), NULL, NULL, &data);
        loco_sbuf_add(b, data, (size_t)n * loco_gguf_type_size(et));
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct loco_str s = loco_gguf_arr_str(g, kv, i);
        buf_str(b, s.ptr, s.len);
    }
}

int loco_gguf_writer_copy_kv(struct loco_gguf_writer *w, const struct loco_gguf *g, int64_t kv)
{
    const char *key = g ? loco_gguf_kv_key(g, kv) : NULL;
    enum loco_gguf_type type;
    struct loco_str s = {NULL, 0};
    struct loco_sbuf b = {0};
    if (!key)
        return loco_error_set(LOCO_ERR_INVALID, "no entry %" PRId64 " to copy", kv);
    type = loco_gguf_kv_type(g, kv);
    if (type == LOCO_GGUF_ARRAY) {
        encode_reader_array(&b, g, kv);
    } else if (type == LOCO_GGUF_STRING) {
        loco_gguf_get_str(g, key, &s);
        buf_u32(&b, type);
        buf_str(&b, s.ptr, s.len);
    } else {
        buf_u32(&b, type);
        loco_sbuf_add(&b, loco_gguf_kv_scalar(g, kv), loco_gguf_type_size(type));
    }
    return put_kv(w, key, &b);
}

int loco_gguf_writer_set_alignment(struct loco_gguf_writer *w, uint32_t alignment)
{
    if (!w || alignment == 0 || (alignment & (alignment - 1)) != 0)
        return loco_error_set(LOCO_ERR_INVALID, "alignment %" PRIu32 " is not a power of two",
                              alignment);
    if (alignment == LOCO_GGUF_DEFAULT_ALIGNMENT) {
        remove_kv(w, ALIGNMENT_KEY);
        w->alignment = alignment;
        return LOCO_OK;
    }
    return loco_gguf_writer_set_u32(w, ALIGNMENT_KEY, alignment);
}

/* ---- tensors ----------------------------------------------------------- */

static int check_tensor_name(const struct loco_gguf_writer *w, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= LOCO_GGUF_MAX_NAME)
        return loco_error_set(LOCO_ERR_INVALID, "tensor name '%s' must be 1 to %d bytes long",
                              name ? name : "(null)", LOCO_GGUF_MAX_NAME - 1);
    for (size_t i = 0; i < w->n_tensors; i++) {
        if (strcmp(w->tensors[i].name, name) == 0)
            return loco_error_set(LOCO_ERR_INVALID, "tensor '%s' was already added", name);
    }
    return LOCO_OK;
}

static int check_tensor_shape(const char *name, enum loco_type type, uint32_t n_dims,
                              const int64_t *ne, int64_t full[LOCO_GGUF_MAX_DIMS])
{
    struct loco_gguf_type_info info = loco_gguf_ggml_type((uint32_t)type);
    if (info.block == 0)
        return loco_error_set(LOCO_ERR_INVALID, "tensor '%s': type %d is not a known ggml type",
                              name, (int)type);
    if (n_dims > LOCO_GGUF_MAX_DIMS || (n_dims > 0 && !ne))
        return loco_error_set(LOCO_ERR_INVALID,
                              "tensor '%s': n_dims %" PRIu32 " (at most %d, "
                              "with a shape)",
                              name, n_dims, LOCO_GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < LOCO_GGUF_MAX_DIMS; d++) {
        full[d] = d < n_dims ? ne[d] : 1;
        if (full[d] < 0)
            return loco_error_set(LOCO_ERR_INVALID,
                                  "tensor '%s': ne[%" PRIu32 "] = %" PRId64 " is negative", name, d,
                                  full[d]);
    }
    if (full[0] % info.block != 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "tensor '%s': ne[0] = %" PRId64 " is not a "
                              "multiple of the %s block size %" PRId64,
                              name, full[0], info.name, info.block);
    return LOCO_OK;
}

static int grow_tensors(struct loco_gguf_writer *w)
{
    size_t cap = w->cap_tensors ? w->cap_tensors * 2 : 16;
    struct writer_tensor *t;
    if (w->n_tensors < w->cap_tensors)
        return LOCO_OK;
    t = realloc(w->tensors, cap * sizeof *t);
    if (!t)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %zu tensors", cap);
    w->tensors = t;
    w->cap_tensors = cap;
    return LOCO_OK;
}

int loco_gguf_writer_add_tensor(struct loco_gguf_writer *w, const char *name, enum loco_type type,
                                uint32_t n_dims, const int64_t *ne, const void *data)
{
    struct writer_tensor t = {.n_dims = n_dims, .type = (uint32_t)type, .data = data};
    int rc;
    if (!w)
        return loco_error_set(LOCO_ERR_INVALID, "no writer to add tensor '%s' to",
                              name ? name : "(null)");
    rc = check_tensor_name(w, name);
    if (rc == LOCO_OK)
        rc = check_tensor_shape(name, type, n_dims, ne, t.ne);
    if (rc == LOCO_OK && !loco_gguf_tensor_nbytes(t.type, t.ne, &t.size))
        rc = loco_error_set(LOCO_ERR_INVALID, "tensor '%s': shape overflows a 64-bit size", name);
    if (rc == LOCO_OK && t.size > 0 && !data)
        rc = loco_error_set(LOCO_ERR_INVALID, "tensor '%s': no data for %" PRIu64 " bytes", name,
                            t.size);
    if (rc == LOCO_OK)
        rc = grow_tensors(w);
    if (rc != LOCO_OK)
        return rc;
    memcpy(t.name, name, strlen(name) + 1);
    w->tensors[w->n_tensors++] = t;
    return LOCO_OK;
}

/* ---- writing ----------------------------------------------------------- */

/* An output stream that counts bytes, for padding, and remembers errno. */
struct out {
    FILE *f;
    uint64_t pos;
    int err; /* errno of the first failure, 0 if none */
};

static void out_put(struct out *o, const void *p, size_t n)
{
    if (o->err || n == 0)
        return;
    errno = 0;
    if (fwrite(p, 1, n, o->f) != n)
        o->err = errno ? errno : EIO;
    o->pos += n;
}

static void out_u32(struct out *o, uint32_t v)
{
    out_put(o, &v, sizeof v);
}

static void out_u64(struct out *o, uint64_t v)
{
    out_put(o, &v, sizeof v);
}

static void out_str(struct out *o, const char *s)
{
    size_t len = strlen(s);
    out_u64(o, len);
    out_put(o, s, len);
}

/* Zero bytes up to the next multiple of the alignment. */
static void out_pad(struct out *o, uint32_t alignment)
{
    static const uint8_t zeros[256];
    uint64_t n = (alignment - o->pos % alignment) % alignment;
    while (n > 0) {
        size_t chunk = n < sizeof zeros ? (size_t)n : sizeof zeros;
        out_put(o, zeros, chunk);
        n -= chunk;
    }
}

static uint64_t padded(uint64_t size, uint32_t alignment)
{
    return size + (alignment - size % alignment) % alignment;
}

static void write_header_and_kvs(const struct loco_gguf_writer *w, struct out *o)
{
    out_put(o, "GGUF", 4);
    out_u32(o, GGUF_VERSION);
    out_u64(o, w->n_tensors);
    out_u64(o, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        out_str(o, w->kv[i].key);
        out_put(o, w->kv[i].val, w->kv[i].val_len);
    }
}

/* Tensor infos with offsets packed in order, then the padded data. */
static void write_tensors(const struct loco_gguf_writer *w, struct out *o)
{
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const struct writer_tensor *t = &w->tensors[i];
        out_str(o, t->name);
        out_u32(o, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            out_u64(o, (uint64_t)t->ne[d]);
        out_u32(o, t->type);
        out_u64(o, offset);
        offset += padded(t->size, w->alignment);
    }
    if (w->n_tensors > 0)
        out_pad(o, w->alignment);
    for (size_t i = 0; i < w->n_tensors; i++) {
        out_put(o, w->tensors[i].data, (size_t)w->tensors[i].size);
        out_pad(o, w->alignment);
    }
}

int loco_gguf_writer_write(struct loco_gguf_writer *w, const char *path)
{
    if (!w || !path || !path[0])
        return loco_error_set(LOCO_ERR_INVALID, "no writer or no path to write to");
    struct loco_atomic_file af;
    int rc = loco_atomic_open(&af, path);
    if (rc != LOCO_OK)
        return rc;
    struct out o = {af.f, 0, 0};
    write_header_and_kvs(w, &o);
    write_tensors(w, &o);
    if (o.err) {
        loco_atomic_abort(&af);
        return loco_error_set(LOCO_ERR_IO, "cannot write '%s': %s", path, strerror(o.err));
    }
    return loco_atomic_commit(&af);
}
