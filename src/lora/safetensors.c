/*
 * safetensors.c - a validating safetensors reader (see loco/safetensors.h).
 *
 * Why this shape: a PEFT adapter is a file from a stranger, so nothing in it
 * is trusted until checked. The JSON header is parsed with cJSON (which
 * keeps duplicate keys, so duplicates are looked for by sorting the names),
 * each entry is checked on its own (dtype known, shape and offsets
 * non-negative integers, byte size = product(shape) * dtype size, inside the
 * buffer), and then the entries sorted by offset must tile the buffer from
 * byte 0 to its last byte, as the reference reader (safetensors/src/
 * tensor.rs) requires. Format: docs/formats/lora.md, safetensors.
 */
#include "loco/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loco/quant.h"

struct loco_safetensors {
    char *path;            /* "" for memory images */
    void *map;             /* the mapping, NULL for memory images */
    const uint8_t *base;   /* the whole image */
    size_t size;           /* its bytes */
    const uint8_t *buffer; /* tensor data: base + 8 + header length */
    size_t buffer_size;
    int64_t n_tensors;
    struct loco_st_tensor *tensors;        /* sorted by data offset */
    const struct loco_st_tensor **by_name; /* the same tensors, sorted by name */
    int64_t n_meta;
    char **meta; /* 2 * n_meta strings: key, value, key, value, ... */
};

/* ---- dtypes -------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t size;
} dtypes[LOCO_ST_DTYPE_COUNT] = {
    [LOCO_ST_BOOL] = {"BOOL", 1},       [LOCO_ST_U8] = {"U8", 1},
    [LOCO_ST_I8] = {"I8", 1},           [LOCO_ST_F8_E4M3] = {"F8_E4M3", 1},
    [LOCO_ST_F8_E5M2] = {"F8_E5M2", 1}, [LOCO_ST_I16] = {"I16", 2},
    [LOCO_ST_U16] = {"U16", 2},         [LOCO_ST_F16] = {"F16", 2},
    [LOCO_ST_BF16] = {"BF16", 2},       [LOCO_ST_I32] = {"I32", 4},
    [LOCO_ST_U32] = {"U32", 4},         [LOCO_ST_F32] = {"F32", 4},
    [LOCO_ST_I64] = {"I64", 8},         [LOCO_ST_U64] = {"U64", 8},
    [LOCO_ST_F64] = {"F64", 8},
};

const char *loco_st_dtype_name(enum loco_st_dtype t)
{
    return (unsigned)t < LOCO_ST_DTYPE_COUNT ? dtypes[t].name : "?";
}

size_t loco_st_dtype_size(enum loco_st_dtype t)
{
    return (unsigned)t < LOCO_ST_DTYPE_COUNT ? dtypes[t].size : 0;
}

int loco_st_dtype_parse(const char *name, enum loco_st_dtype *out)
{
    for (int i = 0; i < LOCO_ST_DTYPE_COUNT; i++)
        if (strcmp(name, dtypes[i].name) == 0) {
            *out = (enum loco_st_dtype)i;
            return LOCO_OK;
        }
    return loco_error_set(LOCO_ERR_UNSUPPORTED,
                          "dtype \"%.40s\" is not supported (known: F32, F16, BF16, F64, "
                          "F8_E4M3, F8_E5M2, I8..I64, U8..U64, BOOL)",
                          name);
}

/* ---- small checked helpers ---------------------------------------------- */

static uint64_t read_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A JSON number that is a non-negative integer a double holds exactly. */
static bool json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || d != floor(d))
        return false;
    *out = (uint64_t)d;
    return true;
}

static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* ---- one header entry ---------------------------------------------------- */

static int parse_dtype(const cJSON *e, struct loco_st_tensor *t)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(j))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor '%.200s': \"dtype\" is %s, expected a string", t->name,
                              j ? "not a string" : "missing");
    if (loco_st_dtype_parse(j->valuestring, &t->dtype) != LOCO_OK)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "tensor '%.200s': dtype \"%.40s\" is unknown",
                              t->name, j->valuestring);
    return LOCO_OK;
}

static int parse_shape(const cJSON *e, struct loco_st_tensor *t)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(j))
        return loco_error_set(LOCO_ERR_FORMAT, "tensor '%.200s': \"shape\" is %s, expected a list",
                              t->name, j ? "not a list" : "missing");
    int n = cJSON_GetArraySize(j);
    if (n > LOCO_ST_MAX_DIMS)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor '%.200s': \"shape\" has %d dimensions (at "
                              "most %d are supported)",
                              t->name, n, LOCO_ST_MAX_DIMS);
    uint64_t count = 1, d;
    const cJSON *dim;
    t->n_dims = 0;
    cJSON_ArrayForEach(dim, j)
    {
        if (!json_uint(dim, &d) || d > INT64_MAX)
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "tensor '%.200s': \"shape\"[%u] is not a "
                                  "non-negative integer",
                                  t->name, t->n_dims);
        if (!mul_u64(count, d, &count) || count > INT64_MAX)
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "tensor '%.200s': \"shape\" has too many "
                                  "elements (the product overflows)",
                                  t->name);
        t->shape[t->n_dims++] = (int64_t)d;
    }
    t->n_elements = (int64_t)count;
    return LOCO_OK;
}

static int parse_offsets(const cJSON *e, struct loco_st_tensor *t, size_t buffer_size)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 ||
        !json_uint(cJSON_GetArrayItem(j, 0), &t->begin) ||
        !json_uint(cJSON_GetArrayItem(j, 1), &t->end))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor '%.200s': \"data_offsets\" is %s, expected "
                              "[begin, end] with non-negative integers",
                              t->name, j ? "malformed" : "missing");
    if (t->begin > t->end)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor '%.200s': \"data_offsets\" [%" PRIu64 ", %" PRIu64
                              "] has begin after end",
                              t->name, t->begin, t->end);
    if (t->end > buffer_size)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor '%.200s': \"data_offsets\" end %" PRIu64
                              " is past the end of the %zu-byte data buffer",
                              t->name, t->end, buffer_size);
    uint64_t bytes;
    if (!mul_u64((uint64_t)t->n_elements, loco_st_dtype_size(t->dtype), &bytes) ||
        bytes != t->end - t->begin)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor '%.200s': \"data_offsets\" [%" PRIu64 ", %" PRIu64
                              "] hold %" PRIu64 " bytes but shape x %s needs %" PRId64 " x %zu",
                              t->name, t->begin, t->end, t->end - t->begin,
                              loco_st_dtype_name(t->dtype), t->n_elements,
                              loco_st_dtype_size(t->dtype));
    return LOCO_OK;
}

static int parse_entry(struct loco_safetensors *st, const cJSON *e, struct loco_st_tensor *t)
{
    size_t len = strlen(e->string);
    char *name = malloc(len + 1);
    if (!name)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for a tensor name");
    memcpy(name, e->string, len + 1);
    t->name = name;
    if (!cJSON_IsObject(e))
        return loco_error_set(LOCO_ERR_FORMAT, "tensor '%.200s': entry is not a JSON object", name);
    int rc = parse_dtype(e, t);
    if (rc == LOCO_OK)
        rc = parse_shape(e, t);
    if (rc == LOCO_OK)
        rc = parse_offsets(e, t, st->buffer_size);
    if (rc == LOCO_OK)
        t->data = st->buffer + t->begin;
    return rc;
}

/* ---- __metadata__ --------------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int parse_metadata(struct loco_safetensors *st, const cJSON *m)
{
    if (st->meta)
        return loco_error_set(LOCO_ERR_FORMAT, "\"__metadata__\" appears twice in the header");
    if (!cJSON_IsObject(m))
        return loco_error_set(LOCO_ERR_FORMAT, "\"__metadata__\" is not a JSON object");
    int n = cJSON_GetArraySize(m);
    st->meta = calloc(2 * (size_t)n + 1, sizeof *st->meta);
    if (!st->meta)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %d metadata entries", n);
    const cJSON *e;
    cJSON_ArrayForEach(e, m)
    {
        if (!cJSON_IsString(e))
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "\"__metadata__\" entry '%.200s' is not a string", e->string);
        char **kv = &st->meta[2 * st->n_meta];
        kv[0] = dup_str(e->string);
        kv[1] = dup_str(e->valuestring);
        st->n_meta++;
        if (!kv[0] || !kv[1])
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory for metadata");
    }
    return LOCO_OK;
}

/* ---- the whole header ------------------------------------------------------ */

static int cmp_offset(const void *pa, const void *pb)
{
    const struct loco_st_tensor *a = pa, *b = pb;
    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    return (a->end > b->end) - (a->end < b->end);
}

static int cmp_name(const void *pa, const void *pb)
{
    const struct loco_st_tensor *const *a = pa, *const *b = pb;
    return strcmp((*a)->name, (*b)->name);
}

/* Entries sorted by offset must cover [0, buffer_size) with no gap or
 * overlap. */
static int check_tiling(const struct loco_safetensors *st)
{
    uint64_t expected = 0;
    for (int64_t i = 0; i < st->n_tensors; i++) {
        const struct loco_st_tensor *t = &st->tensors[i];
        if (t->begin != expected)
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "tensor '%.200s': \"data_offsets\" begin %" PRIu64
                                  " should be %" PRIu64 " (tensors must tile the data "
                                  "buffer: %s)",
                                  t->name, t->begin, expected,
                                  t->begin < expected ? "it overlaps the previous tensor"
                                                      : "there is a gap before it");
        expected = t->end;
    }
    if (expected != st->buffer_size)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "the data buffer has %zu bytes but the tensors "
                              "cover only %" PRIu64 " (trailing bytes after the last tensor)",
                              st->buffer_size, expected);
    return LOCO_OK;
}

static int index_names(struct loco_safetensors *st)
{
    st->by_name = malloc(((size_t)st->n_tensors + 1) * sizeof *st->by_name);
    if (!st->by_name)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the tensor index");
    for (int64_t i = 0; i < st->n_tensors; i++)
        st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, (size_t)st->n_tensors, sizeof *st->by_name, cmp_name);
    for (int64_t i = 1; i < st->n_tensors; i++) {
        const char *a = st->by_name[i - 1]->name;
        if (strcmp(a, st->by_name[i]->name) == 0)
            return loco_error_set(LOCO_ERR_FORMAT, "tensor '%.200s' appears twice in the header",
                                  a);
    }
    return LOCO_OK;
}

static int parse_entries(struct loco_safetensors *st, const cJSON *root)
{
    int n = cJSON_GetArraySize(root);
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    if (!st->tensors)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %d tensors", n);
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        int rc;
        if (strcmp(e->string, "__metadata__") == 0)
            rc = parse_metadata(st, e);
        else
            rc = parse_entry(st, e, &st->tensors[st->n_tensors++]);
        if (rc != LOCO_OK)
            return rc;
    }
    /* order by offset first (the index below points into this order) */
    qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_offset);
    int rc = index_names(st);
    return rc == LOCO_OK ? check_tiling(st) : rc;
}

/* Only JSON whitespace may follow the header object (the reference writer
 * pads with spaces). */
static bool only_space(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

static int parse_header(struct loco_safetensors *st)
{
    if (st->size < 8)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "file is %zu bytes, too short for the 8-byte "
                              "header length",
                              st->size);
    uint64_t n = read_le64(st->base);
    if (n > LOCO_ST_MAX_HEADER)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "header length %" PRIu64 " exceeds the limit of "
                              "%u bytes",
                              n, LOCO_ST_MAX_HEADER);
    if (n > st->size - 8)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "header length %" PRIu64 " runs past the end of "
                              "the %zu-byte file",
                              n, st->size);
    const char *json = (const char *)st->base + 8, *end = NULL;
    st->buffer = st->base + 8 + n;
    st->buffer_size = st->size - 8 - (size_t)n;
    if (n == 0 || json[0] != '{')
        return loco_error_set(LOCO_ERR_FORMAT, "header does not start with '{' (not a "
                                               "safetensors file?)");
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)n, &end, false);
    if (!root || !cJSON_IsObject(root) || !end || !only_space(end, json + n)) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        cJSON_Delete(root);
        return loco_error_set(LOCO_ERR_FORMAT,
                              "header is not a valid JSON object (error near "
                              "header byte %zu)",
                              at);
    }
    int rc = parse_entries(st, root);
    cJSON_Delete(root);
    return rc;
}

/* ---- opening and closing --------------------------------------------------- */

static int st_new(const char *path, struct loco_safetensors **out)
{
    struct loco_safetensors *st = calloc(1, sizeof *st);
    if (st)
        st->path = dup_str(path);
    if (!st || !st->path) {
        free(st);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    *out = st;
    return LOCO_OK;
}

int loco_safetensors_open_memory(const void *data, size_t size, struct loco_safetensors **out)
{
    struct loco_safetensors *st = NULL;
    if (!out)
        return loco_error_set(LOCO_ERR_INVALID, "loco_safetensors_open_memory: out is NULL");
    *out = NULL;
    int rc = st_new("", &st);
    if (rc)
        return rc;
    st->base = data;
    st->size = data ? size : 0;
    rc = parse_header(st);
    if (rc) {
        loco_safetensors_close(st);
        return rc;
    }
    *out = st;
    return LOCO_OK;
}

static int map_file(struct loco_safetensors *st, const char *path)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO: refused below, not
                                                                waited on */
    int rc = LOCO_OK;
    if (fd < 0)
        return loco_error_set(LOCO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0)
        rc = loco_error_set(LOCO_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        rc = loco_error_set(LOCO_ERR_IO, "'%s' is not a regular file", path);
    if (rc == LOCO_OK && sb.st_size > 0) {
        void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
            rc = loco_error_set(LOCO_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
        else {
            st->map = map;
            st->base = map;
            st->size = (size_t)sb.st_size;
        }
    }
    close(fd);
    return rc;
}

int loco_safetensors_open(const char *path, struct loco_safetensors **out)
{
    struct loco_safetensors *st = NULL;
    if (!path || !out)
        return loco_error_set(LOCO_ERR_INVALID, "loco_safetensors_open: path and out are "
                                                "required");
    *out = NULL;
    int rc = st_new(path, &st);
    if (rc)
        return rc;
    rc = map_file(st, path);
    if (rc == LOCO_OK) {
        rc = parse_header(st);
        if (rc != LOCO_OK)
            loco_error_prefix("%s", path);
    }
    if (rc != LOCO_OK) {
        loco_safetensors_close(st);
        return rc;
    }
    *out = st;
    return LOCO_OK;
}

void loco_safetensors_close(struct loco_safetensors *st)
{
    if (!st)
        return;
    for (int64_t i = 0; i < st->n_tensors; i++)
        free((char *)st->tensors[i].name);
    for (int64_t i = 0; i < 2 * st->n_meta; i++)
        free(st->meta[i]);
    free(st->meta);
    free(st->tensors);
    free(st->by_name);
    if (st->map)
        munmap(st->map, st->size);
    free(st->path);
    free(st);
}

/* ---- contents -------------------------------------------------------------- */

int64_t loco_safetensors_n_tensors(const struct loco_safetensors *st)
{
    return st->n_tensors;
}

const struct loco_st_tensor *loco_safetensors_tensor(const struct loco_safetensors *st, int64_t i)
{
    return i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

const struct loco_st_tensor *loco_safetensors_find(const struct loco_safetensors *st,
                                                   const char *name)
{
    int64_t lo = 0, hi = st->n_tensors; /* binary search over by_name */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const struct loco_st_tensor *t = st->by_name[mid];
        int c = strcmp(t->name, name);
        if (c == 0)
            return t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *loco_safetensors_metadata(const struct loco_safetensors *st, const char *key)
{
    for (int64_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i], key) == 0)
            return st->meta[2 * i + 1];
    return NULL;
}

const char *loco_safetensors_path(const struct loco_safetensors *st)
{
    return st->path;
}

/* ---- data ------------------------------------------------------------------ */

static float elem_to_f32(enum loco_st_dtype dt, const uint8_t *p)
{
    switch (dt) {
    case LOCO_ST_F32: {
        uint32_t u =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    case LOCO_ST_F16:
        return loco_fp16_to_fp32((uint16_t)(p[0] | p[1] << 8));
    case LOCO_ST_BF16:
        return loco_bf16_to_fp32((uint16_t)(p[0] | p[1] << 8));
    default: { /* F64 */
        uint64_t u = read_le64(p);
        double d;
        memcpy(&d, &u, sizeof d);
        return (float)d;
    }
    }
}

int loco_safetensors_to_f32(const struct loco_safetensors *st, const struct loco_st_tensor *t,
                            float *dst, size_t cap)
{
    const char *file = st->path[0] ? st->path : "safetensors image";
    if (t->dtype != LOCO_ST_F32 && t->dtype != LOCO_ST_F16 && t->dtype != LOCO_ST_BF16 &&
        t->dtype != LOCO_ST_F64)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "%s: tensor '%.200s' has dtype %s; only F32, "
                              "F16, BF16 and F64 convert to f32",
                              file, t->name, loco_st_dtype_name(t->dtype));
    if ((uint64_t)t->n_elements > cap)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s: tensor '%.200s' has %" PRId64 " elements "
                              "but the destination holds %zu",
                              file, t->name, t->n_elements, cap);
    size_t es = loco_st_dtype_size(t->dtype);
    const uint8_t *src = t->data;
    for (int64_t i = 0; i < t->n_elements; i++)
        dst[i] = elem_to_f32(t->dtype, src + (size_t)i * es);
    return LOCO_OK;
}
