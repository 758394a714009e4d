/*
 * gguf.c - the GGUF reader (see loco/gguf.h; layout in
 * docs/formats/gguf.md).
 *
 * Why it looks the way it does: a model file comes from outside, so every
 * number in it is a claim to check before it is used. The parser walks the
 * file with a cursor that refuses to read past the end; every count is
 * compared with the bytes left before anything proportional to it is
 * allocated; every failure names the field, the value and the byte offset.
 * Nothing is copied that need not be: string values, array elements and
 * tensor data stay in the mapping, and the handle holds only indexes into
 * it (keys are copied, NUL-terminated, because callers compare them as C
 * strings).
 *
 * File layout, all little-endian:
 *   "GGUF" u32 version  i64 n_tensors  i64 n_kv
 *   n_kv x      { string key, u32 type, value }
 *   n_tensors x { string name, u32 n_dims, i64 ne[n_dims], u32 type, u64 offset }
 *   padding to the alignment, then the tensor data section.
 * A string is a u64 byte count and the bytes (no NUL).
 */
#include "loco/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf/gguf_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader assumes a little-endian host"
#endif

/* Smallest possible records, used to bound counts by the bytes left:
 * a KV is key length (8) + one key byte + type (4) + a 1-byte value;
 * a tensor info is name length (8) + one name byte + n_dims (4) + type (4)
 * + offset (8). */
#define MIN_KV_BYTES 14
#define MIN_TENSOR_INFO_BYTES 25
/* Hard limits far above any real model, so that a hostile header cannot
 * make the reader reserve memory for millions of entries. */
#define MAX_KV ((int64_t)1 << 20)
#define MAX_TENSORS ((int64_t)1 << 24)

/* ---- the handle ------------------------------------------------------- */

struct gguf_kv {
    char *key;     /* NUL-terminated copy */
    size_t offset; /* file offset of the record (for messages) */
    enum loco_gguf_type type;
    enum loco_gguf_type elem_type; /* arrays only */
    uint64_t n;                    /* arrays only: element count */
    const uint8_t *value;          /* scalar or packed numeric elements, in the mapping */
    struct loco_str str;           /* STRING only */
    struct loco_str *strs;         /* string arrays only: n entries into the mapping */
};

/* Open-addressing hash table from names to entry indexes: duplicate checks
 * at open time and lookups stay O(1) however many entries a file has. */
struct name_index {
    int64_t *slots; /* entry index, or -1 for an empty slot */
    size_t mask;    /* slot count - 1 (a power of two) */
};

struct loco_gguf {
    const uint8_t *base; /* the file image */
    size_t size;
    void *map;  /* our mapping, or NULL for a borrowed image */
    char *path; /* "" for memory images */
    uint32_t version;
    uint32_t alignment;
    size_t data_offset;
    int64_t n_kv;
    struct gguf_kv *kv;
    struct name_index kv_index;
    int64_t n_tensors;
    struct loco_gguf_tensor *tensors;
    size_t *tensor_at; /* file offset of each tensor info (for messages) */
    struct name_index tensor_index;
};

/* ---- ggml tensor types (docs/formats/gguf.md) ------------------------- */

/* Indexed by ggml type id. Ids without a row (4, 5, 31-33, 36-38 were
 * removed from ggml; 40-42 are too new for this table) have block 0 and are
 * rejected. The IQ sizes are those of ggml's block structs. */
static const struct loco_gguf_type_info ggml_types[] = {
    [0] = {"F32", 1, 4},         [1] = {"F16", 1, 2},         [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},      [6] = {"Q5_0", 32, 22},      [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},      [9] = {"Q8_1", 32, 36},      [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},   [12] = {"Q4_K", 256, 144},   [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},   [15] = {"Q8_K", 256, 292},   [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},  [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},   [21] = {"IQ3_S", 256, 110},  [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},         [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},        [27] = {"I64", 1, 8},        [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},   [30] = {"BF16", 1, 2},       [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},   [39] = {"MXFP4", 32, 17},
};

struct loco_gguf_type_info loco_gguf_ggml_type(uint32_t id)
{
    static const struct loco_gguf_type_info unknown = {"unknown", 0, 0};
    if (id >= sizeof ggml_types / sizeof ggml_types[0] || ggml_types[id].block == 0)
        return unknown;
    return ggml_types[id];
}

/* a * b into *out, false on int64 overflow (a, b >= 0). */
static bool mul_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a != 0 && b > INT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

bool loco_gguf_tensor_nbytes(uint32_t type, const int64_t ne[LOCO_GGUF_MAX_DIMS], uint64_t *nbytes)
{
    struct loco_gguf_type_info info = loco_gguf_ggml_type(type);
    int64_t elems = 1;
    int64_t bytes = 1;
    if (info.block == 0)
        return false;
    for (int d = 0; d < LOCO_GGUF_MAX_DIMS; d++) {
        if (ne[d] < 0 || !mul_i64(elems, ne[d], &elems))
            return false;
    }
    if (ne[0] % info.block != 0)
        return false;
    /* row bytes, then rows: each step checked */
    if (!mul_i64(ne[0] / info.block, (int64_t)info.size, &bytes))
        return false;
    for (int d = 1; d < LOCO_GGUF_MAX_DIMS; d++) {
        if (!mul_i64(bytes, ne[d], &bytes))
            return false;
    }
    *nbytes = (uint64_t)bytes;
    return true;
}

/* ---- metadata value types --------------------------------------------- */

static const char *const gguf_type_names[LOCO_GGUF_TYPE_COUNT] = {
    "UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",   "FLOAT32",
    "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64",
};

static const size_t gguf_type_sizes[LOCO_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

size_t loco_gguf_type_size(enum loco_gguf_type t)
{
    return (unsigned)t < LOCO_GGUF_TYPE_COUNT ? gguf_type_sizes[t] : 0;
}

const char *loco_gguf_type_name(enum loco_gguf_type t)
{
    return (unsigned)t < LOCO_GGUF_TYPE_COUNT ? gguf_type_names[t] : "unknown";
}

/* ---- the cursor: bounds-checked reads --------------------------------- */

struct cursor {
    const uint8_t *base;
    size_t size;
    size_t pos;
};

static size_t cursor_left(const struct cursor *c)
{
    return c->size - c->pos;
}

static int cursor_skip(struct cursor *c, size_t n, const char *what)
{
    if (n > cursor_left(c))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s at offset %zu needs %zu bytes but the file ends after %zu "
                              "(file size %zu)",
                              what, c->pos, n, cursor_left(c), c->size);
    c->pos += n;
    return LOCO_OK;
}

static int cursor_read(struct cursor *c, void *dst, size_t n, const char *what)
{
    const uint8_t *src = c->base + c->pos;
    int rc = cursor_skip(c, n, what);
    if (rc == LOCO_OK)
        memcpy(dst, src, n);
    return rc;
}

static int read_u32(struct cursor *c, uint32_t *v, const char *what)
{
    return cursor_read(c, v, sizeof *v, what);
}

static int read_u64(struct cursor *c, uint64_t *v, const char *what)
{
    return cursor_read(c, v, sizeof *v, what);
}

static int read_i64(struct cursor *c, int64_t *v, const char *what)
{
    return cursor_read(c, v, sizeof *v, what);
}

/* A string: u64 length, then the bytes. *out points into the image. */
static int read_str(struct cursor *c, const char *what, struct loco_str *out)
{
    size_t at = c->pos;
    uint64_t len = 0;
    int rc = read_u64(c, &len, what);
    if (rc != LOCO_OK)
        return rc;
    if (len > cursor_left(c))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s at offset %zu: length %" PRIu64 " exceeds the %zu bytes left "
                              "(file size %zu)",
                              what, at, len, cursor_left(c), c->size);
    out->ptr = (const char *)c->base + c->pos;
    out->len = (size_t)len;
    c->pos += (size_t)len;
    return LOCO_OK;
}

/* A value type id; ARRAY only where allowed (not inside an array). */
static int read_type(struct cursor *c, const char *what, bool allow_array, enum loco_gguf_type *out)
{
    size_t at = c->pos;
    uint32_t t = 0;
    int rc = read_u32(c, &t, what);
    if (rc != LOCO_OK)
        return rc;
    if (t >= LOCO_GGUF_TYPE_COUNT)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s %" PRIu32 " at offset %zu is not a GGUF type "
                              "(0..%d)",
                              what, t, at, LOCO_GGUF_TYPE_COUNT - 1);
    if (t == LOCO_GGUF_ARRAY && !allow_array)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s at offset %zu is ARRAY: nested arrays are "
                              "not allowed",
                              what, at);
    *out = (enum loco_gguf_type)t;
    return LOCO_OK;
}

/* ---- name index ------------------------------------------------------- */

typedef const char *(*name_fn)(const struct loco_gguf *g, int64_t i);

static const char *kv_name(const struct loco_gguf *g, int64_t i)
{
    return g->kv[i].key;
}

static const char *tensor_name(const struct loco_gguf *g, int64_t i)
{
    return g->tensors[i].name;
}

/* FNV-1a, 64 bit. */
static uint64_t hash_name(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int index_init(struct name_index *ix, int64_t n)
{
    size_t cap = 8;
    while (cap < (size_t)n * 2)
        cap *= 2;
    ix->slots = malloc(cap * sizeof *ix->slots);
    if (!ix->slots)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for a %zu-slot name index", cap);
    memset(ix->slots, 0xff, cap * sizeof *ix->slots); /* all -1 */
    ix->mask = cap - 1;
    return LOCO_OK;
}

/* Slot holding `name`, or the empty slot where it would go. */
static size_t index_slot(const struct name_index *ix, const struct loco_gguf *g, name_fn name,
                         const char *key)
{
    size_t s = (size_t)hash_name(key) & ix->mask;
    while (ix->slots[s] >= 0 && strcmp(name(g, ix->slots[s]), key) != 0)
        s = (s + 1) & ix->mask;
    return s;
}

/* Add entry i; returns -1, or the index of an earlier entry with that name. */
static int64_t index_add(struct name_index *ix, const struct loco_gguf *g, name_fn name, int64_t i)
{
    size_t s = index_slot(ix, g, name, name(g, i));
    if (ix->slots[s] >= 0)
        return ix->slots[s];
    ix->slots[s] = i;
    return -1;
}

static int64_t index_find(const struct name_index *ix, const struct loco_gguf *g, name_fn name,
                          const char *key)
{
    if (!ix->slots || !key)
        return -1;
    return ix->slots[index_slot(ix, g, name, key)];
}

/* ---- header ----------------------------------------------------------- */

static int parse_magic_version(struct cursor *c, uint32_t *version)
{
    uint8_t magic[4] = {0};
    int rc = cursor_read(c, magic, sizeof magic, "GGUF magic");
    if (rc != LOCO_OK)
        return rc;
    if (memcmp(magic, "GGUF", 4) != 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "bad magic %02x %02x %02x %02x at offset 0: not a "
                              "GGUF file (expected \"GGUF\")",
                              magic[0], magic[1], magic[2], magic[3]);
    rc = read_u32(c, version, "GGUF version");
    if (rc != LOCO_OK)
        return rc;
    if (*version != 0 && (*version & 0xffff) == 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "GGUF version 0x%08" PRIx32 " at offset 4 looks "
                              "byte-swapped: the file was probably written on a big-endian "
                              "machine",
                              *version);
    if (*version == 1)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "GGUF version 1 at offset 4 is not supported; "
                              "convert the file to version 3 with a current llama.cpp");
    if (*version < 2 || *version > 3)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "GGUF version %" PRIu32 " at offset 4 is not "
                              "supported (this reader knows versions 2 and 3)",
                              *version);
    return LOCO_OK;
}

/* A record count: non-negative, below `max`, and at least `min_bytes` per
 * record must fit in what is left of the file. */
static int parse_count(struct cursor *c, const char *what, int64_t max, size_t min_bytes,
                       int64_t *n)
{
    size_t at = c->pos;
    int rc = read_i64(c, n, what);
    if (rc != LOCO_OK)
        return rc;
    if (*n < 0)
        return loco_error_set(LOCO_ERR_FORMAT, "%s = %" PRId64 " at offset %zu is negative", what,
                              *n, at);
    if ((uint64_t)*n > cursor_left(c) / min_bytes)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s = %" PRId64 " at offset %zu cannot fit in "
                              "the %zu bytes left (each needs at least %zu)",
                              what, *n, at, cursor_left(c), min_bytes);
    if (*n > max)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s = %" PRId64 " at offset %zu exceeds this "
                              "reader's limit of %" PRId64,
                              what, *n, at, max);
    return LOCO_OK;
}

/* ---- key-value records ------------------------------------------------ */

static int parse_str_array(struct cursor *c, struct gguf_kv *kv, uint64_t count, size_t at)
{
    /* each element is at least its 8-byte length */
    if (count > cursor_left(c) / 8)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "array count %" PRIu64 " at offset %zu: %" PRIu64
                              " strings cannot fit in the %zu bytes left",
                              count, at, count, cursor_left(c));
    if (count == 0)
        return LOCO_OK;
    kv->strs = malloc((size_t)count * sizeof *kv->strs);
    if (!kv->strs)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %" PRIu64 " string offsets",
                              count);
    for (uint64_t i = 0; i < count; i++) {
        int rc = read_str(c, "string element", &kv->strs[i]);
        if (rc != LOCO_OK) {
            loco_error_prefix("element %" PRIu64 " of %" PRIu64, i, count);
            return rc;
        }
    }
    return LOCO_OK;
}

static int parse_array(struct cursor *c, struct gguf_kv *kv)
{
    size_t at;
    uint64_t count = 0;
    size_t esize;
    int rc = read_type(c, "array element type", false, &kv->elem_type);
    if (rc != LOCO_OK)
        return rc;
    at = c->pos;
    rc = read_u64(c, &count, "array count");
    if (rc != LOCO_OK)
        return rc;
    kv->n = count;
    if (kv->elem_type == LOCO_GGUF_STRING)
        return parse_str_array(c, kv, count, at);
    esize = gguf_type_sizes[kv->elem_type];
    if (count > cursor_left(c) / esize)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "array count %" PRIu64 " at offset %zu: %" PRIu64
                              " x %zu-byte %s elements exceed the %zu bytes left",
                              count, at, count, esize, gguf_type_names[kv->elem_type],
                              cursor_left(c));
    kv->value = c->base + c->pos;
    c->pos += (size_t)count * esize;
    return LOCO_OK;
}

static int parse_value(struct cursor *c, struct gguf_kv *kv)
{
    if (kv->type == LOCO_GGUF_STRING)
        return read_str(c, "string value", &kv->str);
    if (kv->type == LOCO_GGUF_ARRAY)
        return parse_array(c, kv);
    kv->value = c->base + c->pos;
    return cursor_skip(c, gguf_type_sizes[kv->type], gguf_type_names[kv->type]);
}

static int copy_key(const struct loco_str *key, size_t at, char **out)
{
    if (key->len == 0)
        return loco_error_set(LOCO_ERR_FORMAT, "key at offset %zu is empty", at);
    if (memchr(key->ptr, '\0', key->len))
        return loco_error_set(LOCO_ERR_FORMAT, "key at offset %zu contains a NUL byte", at);
    *out = malloc(key->len + 1);
    if (!*out)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for a %zu-byte key", key->len);
    memcpy(*out, key->ptr, key->len);
    (*out)[key->len] = '\0';
    return LOCO_OK;
}

static int parse_kv(struct cursor *c, struct gguf_kv *kv)
{
    struct loco_str key = {NULL, 0};
    int rc;
    kv->offset = c->pos;
    rc = read_str(c, "key", &key);
    if (rc == LOCO_OK)
        rc = copy_key(&key, kv->offset, &kv->key);
    if (rc == LOCO_OK)
        rc = read_type(c, "value type", true, &kv->type);
    if (rc == LOCO_OK)
        rc = parse_value(c, kv);
    return rc;
}

static int parse_kvs(struct loco_gguf *g, struct cursor *c, int64_t n_kv)
{
    if (n_kv > 0) {
        g->kv = calloc((size_t)n_kv, sizeof *g->kv);
        if (!g->kv)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %" PRId64 " keys", n_kv);
    }
    for (int64_t i = 0; i < n_kv; i++) {
        int rc;
        g->n_kv = i + 1; /* so that close() frees a half-parsed entry */
        rc = parse_kv(c, &g->kv[i]);
        if (rc != LOCO_OK) {
            if (g->kv[i].key)
                loco_error_prefix("kv %" PRId64 " '%s'", i, g->kv[i].key);
            else
                loco_error_prefix("kv %" PRId64, i);
            return rc;
        }
    }
    return LOCO_OK;
}

static int index_kvs(struct loco_gguf *g)
{
    int rc = index_init(&g->kv_index, g->n_kv);
    for (int64_t i = 0; rc == LOCO_OK && i < g->n_kv; i++) {
        int64_t first = index_add(&g->kv_index, g, kv_name, i);
        if (first >= 0)
            rc = loco_error_set(LOCO_ERR_FORMAT,
                                "duplicate key '%s' at offset %zu (kv %" PRId64
                                ", first seen as kv %" PRId64 " at offset %zu)",
                                g->kv[i].key, g->kv[i].offset, i, first, g->kv[first].offset);
    }
    return rc;
}

/* general.alignment: optional, UINT32, a non-zero power of two. */
static int parse_alignment(struct loco_gguf *g)
{
    int64_t i = index_find(&g->kv_index, g, kv_name, "general.alignment");
    uint32_t a;
    g->alignment = LOCO_GGUF_DEFAULT_ALIGNMENT;
    if (i < 0)
        return LOCO_OK;
    if (g->kv[i].type != LOCO_GGUF_UINT32)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "general.alignment (kv %" PRId64 " at offset %zu)"
                              " has type %s; it must be UINT32",
                              i, g->kv[i].offset, gguf_type_names[g->kv[i].type]);
    memcpy(&a, g->kv[i].value, sizeof a);
    if (a == 0 || (a & (a - 1)) != 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "general.alignment = %" PRIu32 " (kv %" PRId64
                              " at offset %zu) is not a power of two",
                              a, i, g->kv[i].offset);
    g->alignment = a;
    return LOCO_OK;
}

/* ---- tensor infos ----------------------------------------------------- */

static int parse_tensor_name(struct cursor *c, struct loco_gguf_tensor *t)
{
    size_t at = c->pos;
    struct loco_str name = {NULL, 0};
    int rc = read_str(c, "tensor name", &name);
    if (rc != LOCO_OK)
        return rc;
    if (name.len == 0)
        return loco_error_set(LOCO_ERR_FORMAT, "tensor name at offset %zu is empty", at);
    if (name.len >= LOCO_GGUF_MAX_NAME)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor name at offset %zu is %zu bytes long; "
                              "names must be shorter than %d",
                              at, name.len, LOCO_GGUF_MAX_NAME);
    if (memchr(name.ptr, '\0', name.len))
        return loco_error_set(LOCO_ERR_FORMAT, "tensor name at offset %zu contains a NUL byte", at);
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = '\0';
    return LOCO_OK;
}

static int parse_tensor_shape(struct cursor *c, struct loco_gguf_tensor *t)
{
    size_t at = c->pos;
    int rc = read_u32(c, &t->n_dims, "n_dims");
    if (rc != LOCO_OK)
        return rc;
    if (t->n_dims > LOCO_GGUF_MAX_DIMS)
        return loco_error_set(LOCO_ERR_FORMAT, "n_dims = %" PRIu32 " at offset %zu exceeds %d",
                              t->n_dims, at, LOCO_GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < LOCO_GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        at = c->pos;
        rc = read_i64(c, &t->ne[d], "ne");
        if (rc != LOCO_OK)
            return rc;
        if (t->ne[d] < 0)
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "ne[%" PRIu32 "] = %" PRId64 " at offset %zu"
                                  " is negative",
                                  d, t->ne[d], at);
    }
    return LOCO_OK;
}

/* Type id, then the byte size the type and shape imply. */
static int parse_tensor_type(struct cursor *c, struct loco_gguf_tensor *t)
{
    size_t at = c->pos;
    uint32_t type = 0;
    uint64_t nbytes = 0;
    struct loco_gguf_type_info info;
    int rc = read_u32(c, &type, "tensor type");
    if (rc != LOCO_OK)
        return rc;
    info = loco_gguf_ggml_type(type);
    if (info.block == 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor type %" PRIu32 " at offset %zu is not a "
                              "known ggml type",
                              type, at);
    if (t->ne[0] % info.block != 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "ne[0] = %" PRId64 " is not a multiple of the "
                              "%s block size %" PRId64,
                              t->ne[0], info.name, info.block);
    if (!loco_gguf_tensor_nbytes(type, t->ne, &nbytes) || nbytes > SIZE_MAX)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                              "] of %s overflows a 64-bit size",
                              t->ne[0], t->ne[1], t->ne[2], t->ne[3], info.name);
    t->type = (enum loco_type)type;
    t->size = (size_t)nbytes;
    return LOCO_OK;
}

static int parse_tensor(struct cursor *c, uint32_t alignment, struct loco_gguf_tensor *t)
{
    size_t at;
    int rc = parse_tensor_name(c, t);
    if (rc == LOCO_OK)
        rc = parse_tensor_shape(c, t);
    if (rc == LOCO_OK)
        rc = parse_tensor_type(c, t);
    at = c->pos;
    if (rc == LOCO_OK)
        rc = read_u64(c, &t->offset, "tensor data offset");
    if (rc == LOCO_OK && t->offset % alignment != 0)
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "data offset %" PRIu64 " at offset %zu is not a "
                            "multiple of the alignment %" PRIu32,
                            t->offset, at, alignment);
    return rc;
}

static int parse_tensors(struct loco_gguf *g, struct cursor *c, int64_t n_tensors)
{
    if (n_tensors > 0) {
        g->tensors = calloc((size_t)n_tensors, sizeof *g->tensors);
        g->tensor_at = calloc((size_t)n_tensors, sizeof *g->tensor_at);
        if (!g->tensors || !g->tensor_at)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %" PRId64 " tensors",
                                  n_tensors);
    }
    for (int64_t i = 0; i < n_tensors; i++) {
        struct loco_gguf_tensor *t = &g->tensors[i];
        int rc;
        g->n_tensors = i + 1;
        g->tensor_at[i] = c->pos;
        rc = parse_tensor(c, g->alignment, t);
        if (rc != LOCO_OK && t->name[0])
            loco_error_prefix("tensor %" PRId64 " '%s' (info at offset %zu)", i, t->name,
                              g->tensor_at[i]);
        else if (rc != LOCO_OK)
            loco_error_prefix("tensor %" PRId64 " (info at offset %zu)", i, g->tensor_at[i]);
        if (rc != LOCO_OK)
            return rc;
    }
    return LOCO_OK;
}

static int index_tensors(struct loco_gguf *g)
{
    int rc = index_init(&g->tensor_index, g->n_tensors);
    for (int64_t i = 0; rc == LOCO_OK && i < g->n_tensors; i++) {
        int64_t first = index_add(&g->tensor_index, g, tensor_name, i);
        if (first >= 0)
            rc = loco_error_set(LOCO_ERR_FORMAT,
                                "duplicate tensor name '%s': tensor %" PRId64
                                " (info at offset %zu) and tensor %" PRId64 " (offset %zu)",
                                g->tensors[i].name, first, g->tensor_at[first], i, g->tensor_at[i]);
    }
    return rc;
}

/* One tensor's data range, for the overlap check. */
struct span {
    uint64_t start, end; /* [start, end) relative to the data section */
    int64_t i;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* No two tensors may share bytes: a file whose tensors overlap was not
 * written by any GGUF writer, and a writer to one tensor (training, an
 * in-place conversion) would silently change the other. Sorted by start,
 * each tensor must begin at or after the furthest end seen so far. Empty
 * tensors hold no bytes and cannot overlap. */
static int check_overlaps(const struct loco_gguf *g)
{
    struct span *sp = g->n_tensors > 1 ? malloc((size_t)g->n_tensors * sizeof *sp) : NULL;
    size_t n = 0;
    int rc = LOCO_OK;
    if (g->n_tensors > 1 && !sp)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory checking %" PRId64 " tensors",
                              g->n_tensors);
    for (int64_t i = 0; sp && i < g->n_tensors; i++) {
        const struct loco_gguf_tensor *t = &g->tensors[i];
        if (t->size > 0)
            sp[n++] = (struct span){t->offset, t->offset + t->size, i};
    }
    if (n > 1)
        qsort(sp, n, sizeof *sp, span_cmp);
    for (size_t k = 1, far = 0; rc == LOCO_OK && k < n; k++) {
        if (sp[k].start < sp[far].end) {
            const struct loco_gguf_tensor *a = &g->tensors[sp[far].i], *b = &g->tensors[sp[k].i];
            rc = loco_error_set(LOCO_ERR_FORMAT,
                                "tensors '%s' (data [%" PRIu64 ", %" PRIu64 ")) and '%s' "
                                "(data [%" PRIu64 ", %" PRIu64 ")) overlap; each tensor needs "
                                "bytes of its own",
                                a->name, sp[far].start, sp[far].end, b->name, sp[k].start,
                                sp[k].end);
        }
        if (sp[k].end > sp[far].end)
            far = k;
    }
    free(sp);
    return rc;
}

/* The data section starts after the tensor infos, rounded up to the
 * alignment when there are tensors; each tensor's bytes must lie inside the
 * file. */
static int place_tensors(struct loco_gguf *g, size_t end_of_infos)
{
    size_t a = g->alignment;
    g->data_offset = end_of_infos;
    if (g->n_tensors > 0)
        g->data_offset = end_of_infos + (a - end_of_infos % a) % a;
    if (g->data_offset > g->size || g->data_offset < end_of_infos)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "data section at offset %zu (tensor infos end at "
                              "%zu, alignment %zu) starts past end of file (size %zu)",
                              g->data_offset, end_of_infos, a, g->size);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        struct loco_gguf_tensor *t = &g->tensors[i];
        size_t room = g->size - g->data_offset;
        if (t->offset > room)
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "tensor '%s': data offset %" PRIu64 " (from "
                                  "the data section at %zu) lies past end of file (size %zu)",
                                  t->name, t->offset, g->data_offset, g->size);
        if (t->size > room - t->offset)
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "tensor '%s': data [offset %zu, size %zu] "
                                  "extends past end of file (size %zu)",
                                  t->name, g->data_offset + (size_t)t->offset, t->size, g->size);
        t->data = g->base + g->data_offset + t->offset;
    }
    return check_overlaps(g);
}

/* ---- opening and closing ---------------------------------------------- */

static int gguf_parse(struct loco_gguf *g)
{
    struct cursor c = {g->base, g->size, 0};
    int64_t n_tensors = 0;
    int64_t n_kv = 0;
    int rc = parse_magic_version(&c, &g->version);
    if (rc == LOCO_OK)
        rc = parse_count(&c, "n_tensors", MAX_TENSORS, MIN_TENSOR_INFO_BYTES, &n_tensors);
    if (rc == LOCO_OK)
        rc = parse_count(&c, "n_kv", MAX_KV, MIN_KV_BYTES, &n_kv);
    if (rc == LOCO_OK)
        rc = parse_kvs(g, &c, n_kv);
    if (rc == LOCO_OK)
        rc = index_kvs(g);
    if (rc == LOCO_OK)
        rc = parse_alignment(g);
    if (rc == LOCO_OK && (uint64_t)n_tensors > cursor_left(&c) / MIN_TENSOR_INFO_BYTES)
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "n_tensors = %" PRId64 " at offset 8 cannot fit in "
                            "the %zu bytes left after the metadata (at offset %zu)",
                            n_tensors, cursor_left(&c), c.pos);
    if (rc == LOCO_OK)
        rc = parse_tensors(g, &c, n_tensors);
    if (rc == LOCO_OK)
        rc = index_tensors(g);
    if (rc == LOCO_OK)
        rc = place_tensors(g, c.pos);
    return rc;
}

static struct loco_gguf *gguf_new(const char *path)
{
    struct loco_gguf *g = calloc(1, sizeof *g);
    size_t len = strlen(path);
    if (g)
        g->path = malloc(len + 1);
    if (!g || !g->path) {
        free(g);
        loco_error_set(LOCO_ERR_NOMEM, "out of memory opening '%s'", path);
        return NULL;
    }
    memcpy(g->path, path, len + 1);
    return g;
}

struct loco_gguf *loco_gguf_open_memory(const void *data, size_t size)
{
    struct loco_gguf *g = gguf_new("");
    if (!g)
        return NULL;
    g->base = data;
    g->size = data ? size : 0;
    if (gguf_parse(g) != LOCO_OK) {
        loco_gguf_close(g);
        return NULL;
    }
    return g;
}

/* Map the whole file read-only. An empty file maps to nothing (mmap
 * rejects length 0) and the parser reports it as truncated. */
static int map_file(struct loco_gguf *g, const char *path)
{
    struct stat st;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer forever; the S_ISREG check below then refuses it. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int rc = LOCO_OK;
    if (fd < 0)
        return loco_error_set(LOCO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = loco_error_set(LOCO_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = loco_error_set(LOCO_ERR_IO, "'%s' is not a regular file", path);
    else if ((uint64_t)st.st_size > SIZE_MAX)
        rc = loco_error_set(LOCO_ERR_NOMEM, "'%s' is too large to map", path);
    if (rc == LOCO_OK && st.st_size > 0) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
            rc = loco_error_set(LOCO_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
        else
            g->map = map;
    }
    if (rc == LOCO_OK) {
        g->base = g->map;
        g->size = g->map ? (size_t)st.st_size : 0;
    }
    close(fd);
    return rc;
}

struct loco_gguf *loco_gguf_open(const char *path)
{
    struct loco_gguf *g;
    int rc;
    if (!path) {
        loco_error_set(LOCO_ERR_INVALID, "no GGUF path given");
        return NULL;
    }
    g = gguf_new(path);
    if (!g)
        return NULL;
    rc = map_file(g, path);
    if (rc == LOCO_OK) {
        rc = gguf_parse(g);
        if (rc != LOCO_OK)
            loco_error_prefix("%s", path);
    }
    if (rc != LOCO_OK) {
        loco_gguf_close(g);
        return NULL;
    }
    return g;
}

void loco_gguf_close(struct loco_gguf *g)
{
    if (!g)
        return;
    for (int64_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].strs);
    }
    free(g->kv);
    free(g->kv_index.slots);
    free(g->tensors);
    free(g->tensor_at);
    free(g->tensor_index.slots);
    if (g->map)
        munmap(g->map, g->size);
    free(g->path);
    free(g);
}

uint32_t loco_gguf_version(const struct loco_gguf *g)
{
    return g->version;
}

uint32_t loco_gguf_alignment(const struct loco_gguf *g)
{
    return g->alignment;
}

size_t loco_gguf_data_offset(const struct loco_gguf *g)
{
    return g->data_offset;
}

size_t loco_gguf_file_size(const struct loco_gguf *g)
{
    return g->size;
}

const char *loco_gguf_path(const struct loco_gguf *g)
{
    return g->path;
}

/* ---- metadata lookups ------------------------------------------------- */

int64_t loco_gguf_n_kv(const struct loco_gguf *g)
{
    return g->n_kv;
}

static const struct gguf_kv *kv_at(const struct loco_gguf *g, int64_t i)
{
    return (i >= 0 && i < g->n_kv) ? &g->kv[i] : NULL;
}

const char *loco_gguf_kv_key(const struct loco_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv ? kv->key : NULL;
}

enum loco_gguf_type loco_gguf_kv_type(const struct loco_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv ? kv->type : LOCO_GGUF_TYPE_COUNT;
}

int64_t loco_gguf_find_key(const struct loco_gguf *g, const char *key)
{
    return index_find(&g->kv_index, g, kv_name, key);
}

const void *loco_gguf_kv_scalar(const struct loco_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type == LOCO_GGUF_STRING || kv->type == LOCO_GGUF_ARRAY)
        return NULL;
    return kv->value;
}

/* ---- numeric conversion ------------------------------------------------ */

/* An integer read from the file, signed or not. */
struct wide_int {
    bool is_signed;
    int64_t s;
    uint64_t u;
};

/* Decode the integer of type t at p; false when t is not an integer type.
 * Copies the little-endian bytes into the low end of a u64 and, for signed
 * types, extends the sign bit. */
static bool decode_int(enum loco_gguf_type t, const uint8_t *p, struct wide_int *v)
{
    uint64_t raw = 0;
    size_t n = gguf_type_sizes[t];
    switch (t) {
    case LOCO_GGUF_UINT8:
    case LOCO_GGUF_UINT16:
    case LOCO_GGUF_UINT32:
    case LOCO_GGUF_UINT64:
        v->is_signed = false;
        break;
    case LOCO_GGUF_INT8:
    case LOCO_GGUF_INT16:
    case LOCO_GGUF_INT32:
    case LOCO_GGUF_INT64:
        v->is_signed = true;
        break;
    default:
        return false;
    }
    memcpy(&raw, p, n);
    if (v->is_signed && n < 8 && (raw >> (8 * n - 1)) & 1)
        raw |= ~(uint64_t)0 << (8 * n);
    v->u = raw;
    memcpy(&v->s, &raw, sizeof v->s);
    return true;
}

/* Any numeric type (integers, floats, bool) at p as a double. */
static bool decode_float(enum loco_gguf_type t, const uint8_t *p, double *out)
{
    struct wide_int v;
    float f;
    if (t == LOCO_GGUF_FLOAT32) {
        memcpy(&f, p, 4);
        *out = f;
    } else if (t == LOCO_GGUF_FLOAT64) {
        memcpy(out, p, 8);
    } else if (t == LOCO_GGUF_BOOL) {
        *out = *p != 0;
    } else if (decode_int(t, p, &v)) {
        *out = v.is_signed ? (double)v.s : (double)v.u;
    } else {
        return false;
    }
    return true;
}

/* The integer value of `key` if it lies in [min, max] (max as unsigned). */
static int get_int(const struct loco_gguf *g, const char *key, int64_t min, uint64_t max,
                   const char *target, struct wide_int *v)
{
    const struct gguf_kv *kv = kv_at(g, loco_gguf_find_key(g, key));
    bool fits;
    if (!kv)
        return LOCO_ERR_NOT_FOUND;
    if (kv->type == LOCO_GGUF_ARRAY || kv->type == LOCO_GGUF_STRING ||
        !decode_int(kv->type, kv->value, v))
        return loco_error_set(LOCO_ERR_TYPE, "key '%s' has type %s; expected an integer (%s)", key,
                              gguf_type_names[kv->type], target);
    if (v->is_signed)
        fits = v->s >= min && (v->s < 0 || (uint64_t)v->s <= max);
    else
        fits = v->u <= max;
    if (!fits && v->is_signed)
        return loco_error_set(LOCO_ERR_TYPE, "key '%s' = %" PRId64 " (%s) does not fit in %s", key,
                              v->s, gguf_type_names[kv->type], target);
    if (!fits)
        return loco_error_set(LOCO_ERR_TYPE, "key '%s' = %" PRIu64 " (%s) does not fit in %s", key,
                              v->u, gguf_type_names[kv->type], target);
    return LOCO_OK;
}

int loco_gguf_get_u32(const struct loco_gguf *g, const char *key, uint32_t *out)
{
    struct wide_int v;
    int rc = get_int(g, key, 0, UINT32_MAX, "uint32", &v);
    if (rc == LOCO_OK)
        *out = (uint32_t)(v.is_signed ? (uint64_t)v.s : v.u);
    return rc;
}

int loco_gguf_get_i64(const struct loco_gguf *g, const char *key, int64_t *out)
{
    struct wide_int v;
    int rc = get_int(g, key, INT64_MIN, INT64_MAX, "int64", &v);
    if (rc == LOCO_OK)
        *out = v.is_signed ? v.s : (int64_t)v.u;
    return rc;
}

int loco_gguf_get_u64(const struct loco_gguf *g, const char *key, uint64_t *out)
{
    struct wide_int v;
    int rc = get_int(g, key, 0, UINT64_MAX, "uint64", &v);
    if (rc == LOCO_OK)
        *out = v.is_signed ? (uint64_t)v.s : v.u;
    return rc;
}

/* Entry `key` if it has type `want` (or `also`), else the status. */
static int find_typed(const struct loco_gguf *g, const char *key, enum loco_gguf_type want,
                      enum loco_gguf_type also, const struct gguf_kv **out)
{
    const struct gguf_kv *kv = kv_at(g, loco_gguf_find_key(g, key));
    if (!kv)
        return LOCO_ERR_NOT_FOUND;
    if (kv->type != want && kv->type != also)
        return loco_error_set(LOCO_ERR_TYPE, "key '%s' has type %s; expected %s", key,
                              gguf_type_names[kv->type], gguf_type_names[want]);
    *out = kv;
    return LOCO_OK;
}

int loco_gguf_get_f32(const struct loco_gguf *g, const char *key, float *out)
{
    const struct gguf_kv *kv;
    double d;
    int rc = find_typed(g, key, LOCO_GGUF_FLOAT32, LOCO_GGUF_FLOAT64, &kv);
    if (rc == LOCO_OK && decode_float(kv->type, kv->value, &d))
        *out = (float)d;
    return rc;
}

int loco_gguf_get_f64(const struct loco_gguf *g, const char *key, double *out)
{
    const struct gguf_kv *kv;
    double d;
    int rc = find_typed(g, key, LOCO_GGUF_FLOAT64, LOCO_GGUF_FLOAT32, &kv);
    if (rc == LOCO_OK && decode_float(kv->type, kv->value, &d))
        *out = d;
    return rc;
}

int loco_gguf_get_bool(const struct loco_gguf *g, const char *key, bool *out)
{
    const struct gguf_kv *kv;
    int rc = find_typed(g, key, LOCO_GGUF_BOOL, LOCO_GGUF_BOOL, &kv);
    if (rc == LOCO_OK)
        *out = kv->value[0] != 0;
    return rc;
}

int loco_gguf_get_str(const struct loco_gguf *g, const char *key, struct loco_str *out)
{
    const struct gguf_kv *kv;
    int rc = find_typed(g, key, LOCO_GGUF_STRING, LOCO_GGUF_STRING, &kv);
    if (rc == LOCO_OK)
        *out = kv->str;
    return rc;
}

int loco_gguf_get_str_buf(const struct loco_gguf *g, const char *key, char *buf, size_t cap)
{
    struct loco_str s = {NULL, 0};
    int rc;
    if (!buf || cap == 0)
        return loco_error_set(LOCO_ERR_INVALID, "no buffer to copy key '%s' into", key);
    rc = loco_gguf_get_str(g, key, &s);
    if (rc == LOCO_OK) {
        size_t n = s.len < cap - 1 ? s.len : cap - 1;
        memcpy(buf, s.ptr, n);
        buf[n] = '\0';
    }
    return rc;
}

/* ---- arrays ----------------------------------------------------------- */

int loco_gguf_get_arr(const struct loco_gguf *g, const char *key, enum loco_gguf_type *elem_type,
                      uint64_t *n, const void **data)
{
    const struct gguf_kv *kv;
    int rc = find_typed(g, key, LOCO_GGUF_ARRAY, LOCO_GGUF_ARRAY, &kv);
    if (rc != LOCO_OK)
        return rc;
    if (elem_type)
        *elem_type = kv->elem_type;
    if (n)
        *n = kv->n;
    if (data)
        *data = kv->elem_type == LOCO_GGUF_STRING ? NULL : (const void *)kv->value;
    return LOCO_OK;
}

/* Entry kv if it is an array with more than i elements. */
static const struct gguf_kv *arr_at(const struct loco_gguf *g, int64_t kv, uint64_t i)
{
    const struct gguf_kv *e = kv_at(g, kv);
    if (!e || e->type != LOCO_GGUF_ARRAY || i >= e->n)
        return NULL;
    return e;
}

struct loco_str loco_gguf_arr_str(const struct loco_gguf *g, int64_t kv, uint64_t i)
{
    const struct gguf_kv *e = arr_at(g, kv, i);
    if (!e || e->elem_type != LOCO_GGUF_STRING)
        return (struct loco_str){NULL, 0};
    return e->strs[i];
}

/* Element i as a double; false for string arrays or out of range. */
static bool arr_number(const struct loco_gguf *g, int64_t kv, uint64_t i, double *d,
                       struct wide_int *v, bool *is_int)
{
    const struct gguf_kv *e = arr_at(g, kv, i);
    const uint8_t *p;
    if (!e || e->elem_type == LOCO_GGUF_STRING)
        return false;
    p = e->value + i * gguf_type_sizes[e->elem_type];
    *is_int = decode_int(e->elem_type, p, v);
    return decode_float(e->elem_type, p, d);
}

/* Integer elements exactly; others (float, bool) truncated toward zero and
 * clamped to the int64 range, NaN as 0. Unsigned values above INT64_MAX
 * clamp to INT64_MAX. 0 when out of range. */
int64_t loco_gguf_arr_int(const struct loco_gguf *g, int64_t kv, uint64_t i)
{
    struct wide_int v;
    double d;
    bool is_int;
    if (!arr_number(g, kv, i, &d, &v, &is_int))
        return 0;
    if (is_int && v.is_signed)
        return v.s;
    if (is_int)
        return v.u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v.u;
    if (!(d == d))
        return 0;
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    if (d <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

double loco_gguf_arr_float(const struct loco_gguf *g, int64_t kv, uint64_t i)
{
    struct wide_int v;
    double d;
    bool is_int;
    return arr_number(g, kv, i, &d, &v, &is_int) ? d : 0.0;
}

uint64_t loco_gguf_arr_len(const struct loco_gguf *g, int64_t kv)
{
    const struct gguf_kv *e = kv_at(g, kv);
    return (e && e->type == LOCO_GGUF_ARRAY) ? e->n : 0;
}

/* Element type of the array at kv; LOCO_GGUF_TYPE_COUNT when not an array. */
enum loco_gguf_type loco_gguf_arr_type(const struct loco_gguf *g, int64_t kv)
{
    const struct gguf_kv *e = kv_at(g, kv);
    return (e && e->type == LOCO_GGUF_ARRAY) ? e->elem_type : LOCO_GGUF_TYPE_COUNT;
}

/* ---- tensors ---------------------------------------------------------- */

int64_t loco_gguf_n_tensors(const struct loco_gguf *g)
{
    return g->n_tensors;
}

const struct loco_gguf_tensor *loco_gguf_tensor(const struct loco_gguf *g, int64_t i)
{
    return (i >= 0 && i < g->n_tensors) ? &g->tensors[i] : NULL;
}

const struct loco_gguf_tensor *loco_gguf_find_tensor(const struct loco_gguf *g, const char *name)
{
    return loco_gguf_tensor(g, index_find(&g->tensor_index, g, tensor_name, name));
}
