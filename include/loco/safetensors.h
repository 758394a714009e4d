/*
 * loco/safetensors.h - read and write safetensors files (Hugging Face's tensor
 * container; PEFT saves LoRA adapters in it).
 *
 * Layout (docs/formats/lora.md, safetensors): an 8-byte little-endian header length N
 * (at most 100,000,000), N bytes of JSON mapping each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]} plus an optional
 * "__metadata__" object of strings, then the byte buffer. Offsets are
 * relative to the buffer; shapes are row-major (shape[0] outermost), NOT
 * reversed like GGUF's ne.
 *
 * The reader maps the file and checks everything before trusting it: every
 * tensor's offsets lie in the buffer with begin <= end, its byte size equals
 * product(shape) * dtype size, the tensors tile the buffer exactly (no gap,
 * no overlap, nothing after the last), and no name appears twice. A bad file
 * gets LOCO_ERR_FORMAT and a message naming the file, the tensor and the
 * field. Tensor data is never copied: `data` points into the mapping and
 * stays valid until loco_safetensors_close().
 */
#ifndef LOCO_SAFETENSORS_H
#define LOCO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_ST_MAX_HEADER 100000000u /* bytes of JSON header allowed */
#define LOCO_ST_MAX_DIMS 8

/* The element types the format names. Files may hold any of them; only the
 * float types convert to f32 (loco_safetensors_to_f32). */
enum loco_st_dtype {
    LOCO_ST_BOOL = 0,
    LOCO_ST_U8,
    LOCO_ST_I8,
    LOCO_ST_F8_E4M3,
    LOCO_ST_F8_E5M2,
    LOCO_ST_I16,
    LOCO_ST_U16,
    LOCO_ST_F16,
    LOCO_ST_BF16,
    LOCO_ST_I32,
    LOCO_ST_U32,
    LOCO_ST_F32,
    LOCO_ST_I64,
    LOCO_ST_U64,
    LOCO_ST_F64,
    LOCO_ST_DTYPE_COUNT
};

/* "F32", "BF16", ...; "?" for an out-of-range value. */
const char *loco_st_dtype_name(enum loco_st_dtype t);
/* Bytes per element (0 for an out-of-range value). */
size_t loco_st_dtype_size(enum loco_st_dtype t);
/* "F16" -> LOCO_ST_F16. LOCO_ERR_UNSUPPORTED (message names the dtype) for
 * a name this reader does not know. */
int loco_st_dtype_parse(const char *name, enum loco_st_dtype *out);

struct loco_st_tensor {
    const char *name; /* NUL-terminated, owned by the handle */
    enum loco_st_dtype dtype;
    uint32_t n_dims;                 /* 0 for a scalar */
    int64_t shape[LOCO_ST_MAX_DIMS]; /* row-major: shape[0] outermost */
    int64_t n_elements;              /* product of shape (1 for a scalar) */
    uint64_t begin, end;             /* data_offsets, relative to the buffer */
    const void *data;                /* into the mapping; may be unaligned */
};

struct loco_safetensors; /* opaque reader handle */

/* ---- opening ------------------------------------------------------------ */

/* Map and validate `path`; on success *out is a handle the caller frees
 * with loco_safetensors_close(). Returns LOCO_OK, LOCO_ERR_IO (cannot read
 * the file), LOCO_ERR_FORMAT (malformed) or LOCO_ERR_UNSUPPORTED (a dtype
 * this reader does not know); the message starts with the path. */
int loco_safetensors_open(const char *path, struct loco_safetensors **out);
/* Validate an image already in memory (same statuses). `data` is borrowed
 * and must outlive the handle. Used by the fuzzer and the tests. */
int loco_safetensors_open_memory(const void *data, size_t size, struct loco_safetensors **out);
void loco_safetensors_close(struct loco_safetensors *st);

/* ---- contents ----------------------------------------------------------- */

/* Tensors in the order their data lies in the buffer. */
int64_t loco_safetensors_n_tensors(const struct loco_safetensors *st);
/* Tensor i (NULL when i is out of range); owned by the handle. */
const struct loco_st_tensor *loco_safetensors_tensor(const struct loco_safetensors *st, int64_t i);
/* The tensor called `name`, or NULL (no message set). */
const struct loco_st_tensor *loco_safetensors_find(const struct loco_safetensors *st,
                                                   const char *name);
/* Value of `key` in "__metadata__", or NULL when absent. Owned by the
 * handle. */
const char *loco_safetensors_metadata(const struct loco_safetensors *st, const char *key);
/* The path given to open ("" for memory images). */
const char *loco_safetensors_path(const struct loco_safetensors *st);

/* ---- data --------------------------------------------------------------- */

/* Convert tensor t (from st) to f32 into dst, which holds `cap` floats;
 * cap must be at least t->n_elements. F32, F16, BF16 and F64 convert;
 * other dtypes give LOCO_ERR_UNSUPPORTED naming the tensor and dtype. */
int loco_safetensors_to_f32(const struct loco_safetensors *st, const struct loco_st_tensor *t,
                            float *dst, size_t cap);

/* ---- writing (src/lora/safetensors_write.c) ----------------------------- */

/* A file is collected in memory and written in one call, laid out as the
 * reference library lays it out: "__metadata__" first, tensors ordered by
 * decreasing element size (so each starts aligned to it), then by name, the
 * header padded with spaces to a multiple of 8. The file is written
 * atomically (loco/fileio.h); what loco_safetensors_open accepts. */
struct loco_safetensors_writer; /* opaque */

/* NULL on out of memory (message set). Free with loco_safetensors_writer_free. */
struct loco_safetensors_writer *loco_safetensors_writer_init(void);
void loco_safetensors_writer_free(struct loco_safetensors_writer *w);
/* A "__metadata__" string entry; key and value are copied. A key given
 * twice is LOCO_ERR_INVALID. */
int loco_safetensors_writer_set_metadata(struct loco_safetensors_writer *w, const char *key,
                                         const char *value);
/* Add a tensor of `dtype` with a row-major shape[n_dims] (n_dims <=
 * LOCO_ST_MAX_DIMS, 0 for a scalar): `data` holds product(shape) * dtype
 * size bytes, little-endian, and is BORROWED until
 * loco_safetensors_writer_write returns; the name is copied. Refused with
 * LOCO_ERR_INVALID: a name used twice or "__metadata__", an unknown dtype, a
 * negative dimension. */
int loco_safetensors_writer_add(struct loco_safetensors_writer *w, const char *name,
                                enum loco_st_dtype dtype, uint32_t n_dims, const int64_t *shape,
                                const void *data);
/* Write the file to `path` atomically (temporary file, fsync, rename); on
 * failure the target is unchanged. */
int loco_safetensors_writer_write(struct loco_safetensors_writer *w, const char *path);

#ifdef __cplusplus
}
#endif
#endif
