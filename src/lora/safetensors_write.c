/*
 * safetensors_write.c - write safetensors files (see loco/safetensors.h).
 *
 * The PEFT export (src/lora/peft_export.c) writes adapter_model.safetensors
 * through this. The layout is the reference library's (safetensors/src/
 * tensor.rs, docs/formats/lora.md, safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON padded with spaces to a multiple of 8,
 * then the tensors' bytes back to back. Tensors are ordered by decreasing
 * element size, then by name, so every tensor starts at a multiple of its
 * element size. Numbers in the header are printed as integers by hand
 * (cJSON would print a double), so any 64-bit offset is exact.
 */
#include "loco/safetensors.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loco/fileio.h"

struct st_entry {
    char *name;
    enum loco_st_dtype dtype;
    uint32_t n_dims;
    int64_t shape[LOCO_ST_MAX_DIMS];
    const void *data; /* borrowed */
    uint64_t bytes;
};

struct loco_safetensors_writer {
    cJSON *metadata; /* "__metadata__": an object of strings */
    struct st_entry *entries;
    size_t n, cap;
};

struct loco_safetensors_writer *loco_safetensors_writer_init(void)
{
    struct loco_safetensors_writer *w = calloc(1, sizeof *w);
    if (w)
        w->metadata = cJSON_CreateObject();
    if (!w || !w->metadata) {
        free(w);
        loco_error_set(LOCO_ERR_NOMEM, "out of memory for a safetensors writer");
        return NULL;
    }
    return w;
}

void loco_safetensors_writer_free(struct loco_safetensors_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->entries[i].name);
    free(w->entries);
    cJSON_Delete(w->metadata);
    free(w);
}

int loco_safetensors_writer_set_metadata(struct loco_safetensors_writer *w, const char *key,
                                         const char *value)
{
    if (!w || !key || !value)
        return loco_error_set(LOCO_ERR_INVALID, "safetensors metadata: key and value are required");
    if (cJSON_GetObjectItemCaseSensitive(w->metadata, key))
        return loco_error_set(LOCO_ERR_INVALID, "safetensors metadata key '%.100s' given twice",
                              key);
    if (!cJSON_AddStringToObject(w->metadata, key, value))
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for safetensors metadata");
    return LOCO_OK;
}

static bool name_taken(const struct loco_safetensors_writer *w, const char *name)
{
    if (strcmp(name, "__metadata__") == 0)
        return true;
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->entries[i].name, name) == 0)
            return true;
    return false;
}

/* product(shape) * element size, or false on a negative dimension or an
 * overflow. */
static bool tensor_bytes(enum loco_st_dtype dtype, uint32_t n_dims, const int64_t *shape,
                         uint64_t *out)
{
    uint64_t n = loco_st_dtype_size(dtype);
    for (uint32_t d = 0; d < n_dims; d++) {
        if (shape[d] < 0 || (shape[d] > 0 && n > UINT64_MAX / (uint64_t)shape[d]))
            return false;
        n *= (uint64_t)shape[d];
    }
    *out = n;
    return true;
}

int loco_safetensors_writer_add(struct loco_safetensors_writer *w, const char *name,
                                enum loco_st_dtype dtype, uint32_t n_dims, const int64_t *shape,
                                const void *data)
{
    if (!w || !name || (n_dims && !shape))
        return loco_error_set(LOCO_ERR_INVALID, "safetensors writer: name and shape are required");
    if ((unsigned)dtype >= LOCO_ST_DTYPE_COUNT || n_dims > LOCO_ST_MAX_DIMS)
        return loco_error_set(LOCO_ERR_INVALID,
                              "safetensors tensor '%.100s': dtype %d or %u dimensions "
                              "(at most %d) not writable",
                              name, (int)dtype, n_dims, LOCO_ST_MAX_DIMS);
    if (name_taken(w, name))
        return loco_error_set(LOCO_ERR_INVALID, "safetensors tensor name '%.100s' used twice",
                              name);
    struct st_entry e = {.dtype = dtype, .n_dims = n_dims, .data = data};
    if (!tensor_bytes(dtype, n_dims, shape, &e.bytes))
        return loco_error_set(LOCO_ERR_INVALID,
                              "safetensors tensor '%.100s': a dimension is negative or the "
                              "size overflows",
                              name);
    if (e.bytes && !data)
        return loco_error_set(LOCO_ERR_INVALID, "safetensors tensor '%.100s' has no data", name);
    if (n_dims)
        memcpy(e.shape, shape, n_dims * sizeof *shape);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        struct st_entry *grown = realloc(w->entries, cap * sizeof *grown);
        if (!grown)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory for safetensors tensors");
        w->entries = grown;
        w->cap = cap;
    }
    e.name = malloc(strlen(name) + 1);
    if (!e.name)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for safetensors tensors");
    memcpy(e.name, name, strlen(name) + 1);
    w->entries[w->n++] = e;
    return LOCO_OK;
}

/* Larger elements first, then by name. */
static int entry_order(const void *x, const void *y)
{
    const struct st_entry *a = x, *b = y;
    size_t sa = loco_st_dtype_size(a->dtype), sb = loco_st_dtype_size(b->dtype);
    if (sa != sb)
        return sa > sb ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* "[1,2,3]" into buf; false when it does not fit. */
static bool int_list(char *buf, size_t cap, const uint64_t *v, size_t n)
{
    size_t len = 0;
    int k = snprintf(buf, cap, "[");
    for (size_t i = 0; k > 0 && i < n; i++) {
        len += (size_t)k;
        k = len < cap ? snprintf(buf + len, cap - len, "%s%" PRIu64, i ? "," : "", v[i]) : -1;
    }
    if (k > 0 && len + (size_t)k < cap) {
        len += (size_t)k;
        k = snprintf(buf + len, cap - len, "]");
    }
    return k > 0 && len + (size_t)k < cap;
}

/* One tensor's header entry: {"dtype", "shape", "data_offsets"}. */
static int add_entry_json(cJSON *root, const struct st_entry *e, uint64_t begin)
{
    uint64_t dims[LOCO_ST_MAX_DIMS], offs[2] = {begin, begin + e->bytes};
    char shape[LOCO_ST_MAX_DIMS * 22 + 4], offsets[48];
    for (uint32_t d = 0; d < e->n_dims; d++)
        dims[d] = (uint64_t)e->shape[d];
    cJSON *j = cJSON_CreateObject();
    bool ok = j && int_list(shape, sizeof shape, dims, e->n_dims) &&
              int_list(offsets, sizeof offsets, offs, 2) &&
              cJSON_AddStringToObject(j, "dtype", loco_st_dtype_name(e->dtype)) &&
              cJSON_AddRawToObject(j, "shape", shape) &&
              cJSON_AddRawToObject(j, "data_offsets", offsets);
    if (!ok || !cJSON_AddItemToObject(root, e->name, j)) {
        cJSON_Delete(j);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for a safetensors header");
    }
    return LOCO_OK;
}

/* The header JSON (malloc'd) for the entries in their sorted order. */
static int header_json(const struct loco_safetensors_writer *w, char **out)
{
    cJSON *root = cJSON_CreateObject();
    int rc = root ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory for a header");
    if (!rc && cJSON_GetArraySize(w->metadata) > 0) {
        cJSON *meta = cJSON_Duplicate(w->metadata, true);
        if (!meta || !cJSON_AddItemToObject(root, "__metadata__", meta)) {
            cJSON_Delete(meta);
            rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory for a header");
        }
    }
    uint64_t offset = 0;
    for (size_t i = 0; !rc && i < w->n; i++) {
        rc = add_entry_json(root, &w->entries[i], offset);
        offset += w->entries[i].bytes;
    }
    *out = rc ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!rc && !*out)
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory printing a safetensors header");
    return rc;
}

static int write_all(struct loco_atomic_file *af, const struct loco_safetensors_writer *w,
                     const char *json)
{
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    bool ok = fwrite(len, 1, 8, af->f) == 8 && fwrite(json, 1, n, af->f) == n;
    for (size_t i = n; ok && i < padded; i++)
        ok = fputc(' ', af->f) != EOF;
    for (size_t i = 0; ok && i < w->n; i++)
        ok = fwrite(w->entries[i].data, 1, w->entries[i].bytes, af->f) == w->entries[i].bytes;
    return ok ? LOCO_OK : loco_error_set(LOCO_ERR_IO, "cannot write %s", af->path);
}

int loco_safetensors_writer_write(struct loco_safetensors_writer *w, const char *path)
{
    if (!w || !path)
        return loco_error_set(LOCO_ERR_INVALID, "safetensors writer: writer and path required");
    if (w->n > 1)
        qsort(w->entries, w->n, sizeof *w->entries, entry_order);
    char *json = NULL;
    int rc = header_json(w, &json);
    if (!rc && strlen(json) > LOCO_ST_MAX_HEADER - 8)
        rc = loco_error_set(LOCO_ERR_RANGE, "%s: the header would exceed %u bytes", path,
                            LOCO_ST_MAX_HEADER);
    struct loco_atomic_file af;
    if (!rc)
        rc = loco_atomic_open(&af, path);
    if (!rc) {
        rc = write_all(&af, w, json);
        if (rc)
            loco_atomic_abort(&af);
        else
            rc = loco_atomic_commit(&af);
    }
    free(json);
    return rc;
}
