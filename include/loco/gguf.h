/*
 * loco/gguf.h - read and write GGUF v2/v3 files.
 *
 * The reader maps the file (mmap) and validates everything it reads before
 * trusting it: counts against the bytes left, string lengths, tensor shapes,
 * types and offsets against the file size. A corrupt or hostile file gets
 * LOCO_ERR_FORMAT and a message naming the field and byte offset; it never
 * crashes the reader. Tensor data is never copied: each tensor's `data`
 * points into the mapping and stays valid until loco_gguf_close().
 *
 * The writer builds a file in memory-light form (metadata copied, tensor
 * data borrowed) and writes it atomically: temporary file, fsync, rename.
 * Its output follows llama.cpp's strict layout (tensor data packed in
 * tensor-info order, each padded to the alignment).
 *
 * Layout facts: docs/formats/gguf.md.
 */
#ifndef LOCO_GGUF_H
#define LOCO_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata value types, numbered as in the file. */
enum loco_gguf_type {
    LOCO_GGUF_UINT8 = 0,
    LOCO_GGUF_INT8 = 1,
    LOCO_GGUF_UINT16 = 2,
    LOCO_GGUF_INT16 = 3,
    LOCO_GGUF_UINT32 = 4,
    LOCO_GGUF_INT32 = 5,
    LOCO_GGUF_FLOAT32 = 6,
    LOCO_GGUF_BOOL = 7,
    LOCO_GGUF_STRING = 8,
    LOCO_GGUF_ARRAY = 9,
    LOCO_GGUF_UINT64 = 10,
    LOCO_GGUF_INT64 = 11,
    LOCO_GGUF_FLOAT64 = 12,
    LOCO_GGUF_TYPE_COUNT
};

#define LOCO_GGUF_DEFAULT_ALIGNMENT 32
#define LOCO_GGUF_MAX_DIMS 4
#define LOCO_GGUF_MAX_NAME 64 /* tensor names are shorter than this */

/* A string inside the mapping: NOT NUL-terminated. */
struct loco_str {
    const char *ptr;
    size_t len;
};

struct loco_gguf_tensor {
    char name[LOCO_GGUF_MAX_NAME]; /* NUL-terminated copy */
    uint32_t n_dims;
    int64_t ne[LOCO_GGUF_MAX_DIMS]; /* ne[0] innermost; missing dims are 1 */
    enum loco_type type;
    uint64_t offset;  /* relative to the data section */
    size_t size;      /* bytes */
    const void *data; /* into the mapping */
};

struct loco_gguf; /* opaque reader handle */

/* ---- opening ---------------------------------------------------------- */

/* Map and parse `path`. Returns NULL on failure (see loco_error_message()).
 * The caller owns the handle and frees it with loco_gguf_close(). */
struct loco_gguf *loco_gguf_open(const char *path);

/* Parse a GGUF image already in memory. `data` is borrowed: it must outlive
 * the handle. Used by the fuzzer and by tests. */
struct loco_gguf *loco_gguf_open_memory(const void *data, size_t size);

void loco_gguf_close(struct loco_gguf *g);

uint32_t loco_gguf_version(const struct loco_gguf *g);
uint32_t loco_gguf_alignment(const struct loco_gguf *g);
size_t loco_gguf_data_offset(const struct loco_gguf *g); /* file offset of data section */
size_t loco_gguf_file_size(const struct loco_gguf *g);
const char *loco_gguf_path(const struct loco_gguf *g); /* "" for memory images */

/* ---- metadata --------------------------------------------------------- */

int64_t loco_gguf_n_kv(const struct loco_gguf *g);
/* Key of entry i (NUL-terminated copy owned by the handle). */
const char *loco_gguf_kv_key(const struct loco_gguf *g, int64_t i);
enum loco_gguf_type loco_gguf_kv_type(const struct loco_gguf *g, int64_t i);
/* Index of `key`, or -1 when absent. */
int64_t loco_gguf_find_key(const struct loco_gguf *g, const char *key);

/* Typed getters. Each returns LOCO_OK, LOCO_ERR_NOT_FOUND (key absent; *out
 * untouched, no message set) or LOCO_ERR_TYPE (message names key and type).
 * Integer getters accept any integer type whose value fits the target;
 * loco_gguf_get_f32 and _f64 accept FLOAT32 and FLOAT64 (_f64 without
 * narrowing: a validator that shows a value shows it as stored). */
int loco_gguf_get_u32(const struct loco_gguf *g, const char *key, uint32_t *out);
int loco_gguf_get_i64(const struct loco_gguf *g, const char *key, int64_t *out);
int loco_gguf_get_u64(const struct loco_gguf *g, const char *key, uint64_t *out);
int loco_gguf_get_f32(const struct loco_gguf *g, const char *key, float *out);
int loco_gguf_get_f64(const struct loco_gguf *g, const char *key, double *out);
int loco_gguf_get_bool(const struct loco_gguf *g, const char *key, bool *out);
/* String value; the result points into the mapping (not NUL-terminated). */
int loco_gguf_get_str(const struct loco_gguf *g, const char *key, struct loco_str *out);
/* Same, copied NUL-terminated into buf (truncated to cap-1 bytes). */
int loco_gguf_get_str_buf(const struct loco_gguf *g, const char *key, char *buf, size_t cap);

/* Arrays. loco_gguf_get_arr gives the element type, count, and a pointer to
 * the packed little-endian elements inside the mapping (possibly unaligned:
 * read with memcpy, or use the element getters below). For string arrays
 * `data` is NULL; use loco_gguf_arr_str. */
int loco_gguf_get_arr(const struct loco_gguf *g, const char *key, enum loco_gguf_type *elem_type,
                      uint64_t *n, const void **data);
/* Element i of a string array at key index `kv` (no bounds left unchecked:
 * returns {NULL,0} when kv or i is out of range or not a string array). */
struct loco_str loco_gguf_arr_str(const struct loco_gguf *g, int64_t kv, uint64_t i);
/* Numeric element i of an array at key index `kv`, converted. */
int64_t loco_gguf_arr_int(const struct loco_gguf *g, int64_t kv, uint64_t i);
double loco_gguf_arr_float(const struct loco_gguf *g, int64_t kv, uint64_t i);
/* Length of the array at key index kv (0 if not an array). */
uint64_t loco_gguf_arr_len(const struct loco_gguf *g, int64_t kv);
enum loco_gguf_type loco_gguf_arr_type(const struct loco_gguf *g, int64_t kv);

/* Size in bytes of one scalar of a metadata type (0 for STRING/ARRAY). */
size_t loco_gguf_type_size(enum loco_gguf_type t);
const char *loco_gguf_type_name(enum loco_gguf_type t);

/* ---- tensors ---------------------------------------------------------- */

int64_t loco_gguf_n_tensors(const struct loco_gguf *g);
const struct loco_gguf_tensor *loco_gguf_tensor(const struct loco_gguf *g, int64_t i);
/* NULL when absent (no message set). */
const struct loco_gguf_tensor *loco_gguf_find_tensor(const struct loco_gguf *g, const char *name);

/* ---- writing ---------------------------------------------------------- */

struct loco_gguf_writer; /* opaque */

struct loco_gguf_writer *loco_gguf_writer_init(void);
void loco_gguf_writer_free(struct loco_gguf_writer *w);

/* Setters copy key and value. Setting an existing key replaces its value. */
int loco_gguf_writer_set_u8(struct loco_gguf_writer *w, const char *key, uint8_t v);
int loco_gguf_writer_set_i8(struct loco_gguf_writer *w, const char *key, int8_t v);
int loco_gguf_writer_set_u16(struct loco_gguf_writer *w, const char *key, uint16_t v);
int loco_gguf_writer_set_i16(struct loco_gguf_writer *w, const char *key, int16_t v);
int loco_gguf_writer_set_u32(struct loco_gguf_writer *w, const char *key, uint32_t v);
int loco_gguf_writer_set_i32(struct loco_gguf_writer *w, const char *key, int32_t v);
int loco_gguf_writer_set_u64(struct loco_gguf_writer *w, const char *key, uint64_t v);
int loco_gguf_writer_set_i64(struct loco_gguf_writer *w, const char *key, int64_t v);
int loco_gguf_writer_set_f32(struct loco_gguf_writer *w, const char *key, float v);
int loco_gguf_writer_set_f64(struct loco_gguf_writer *w, const char *key, double v);
int loco_gguf_writer_set_bool(struct loco_gguf_writer *w, const char *key, bool v);
int loco_gguf_writer_set_str(struct loco_gguf_writer *w, const char *key, const char *v);
/* Numeric array: n packed elements of elem_type (not STRING/ARRAY). */
int loco_gguf_writer_set_arr(struct loco_gguf_writer *w, const char *key,
                             enum loco_gguf_type elem_type, const void *data, uint64_t n);
int loco_gguf_writer_set_arr_str(struct loco_gguf_writer *w, const char *key,
                                 const char *const *strs, uint64_t n);
/* Copy entry kv of a reader (any type, arrays included). */
int loco_gguf_writer_copy_kv(struct loco_gguf_writer *w, const struct loco_gguf *g, int64_t kv);
/* Alignment for the data section (power of two); also written as
 * general.alignment when not 32. */
int loco_gguf_writer_set_alignment(struct loco_gguf_writer *w, uint32_t alignment);

/* Add a tensor. `data` (loco_type_row_size(type, ne[0]) * ne[1]*ne[2]*ne[3]
 * bytes) is BORROWED until loco_gguf_writer_write returns. */
int loco_gguf_writer_add_tensor(struct loco_gguf_writer *w, const char *name, enum loco_type type,
                                uint32_t n_dims, const int64_t *ne, const void *data);

/* Write atomically to `path` (temp file in the same folder, fsync, rename). */
int loco_gguf_writer_write(struct loco_gguf_writer *w, const char *path);

#ifdef __cplusplus
}
#endif
#endif
