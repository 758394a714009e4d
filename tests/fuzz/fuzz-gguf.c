/*
 * fuzz-gguf.c - libFuzzer harness for the GGUF reader.
 *
 * Why: model files come from strangers. The reader must refuse any
 * malformed image with a message, never read outside it, never leak, and
 * whatever it accepts must be safe to walk in full. So each input is
 * parsed with loco_gguf_open_memory() and, when accepted, every key, every
 * array element, and every byte of every tensor is touched through the
 * public API, and every entry is copied into a writer (which re-validates
 * shapes and types). Run it with tests/fuzz/run-fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loco/gguf.h"

/* Accumulates touched bytes so the compiler cannot skip the reads. */
static volatile uint64_t sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += b[i];
    sink += sum;
}

static void walk_array(const struct loco_gguf *g, int64_t kv)
{
    enum loco_gguf_type et = loco_gguf_arr_type(g, kv);
    uint64_t n = loco_gguf_arr_len(g, kv);
    enum loco_gguf_type et2;
    uint64_t n2;
    const void *data = NULL;
    if (loco_gguf_get_arr(g, loco_gguf_kv_key(g, kv), &et2, &n2, &data) != LOCO_OK || et2 != et ||
        n2 != n)
        abort();
    if (et != LOCO_GGUF_STRING)
        touch(data, (size_t)n * loco_gguf_type_size(et));
    for (uint64_t i = 0; i <= n; i++) { /* one past the end on purpose */
        struct loco_str s = loco_gguf_arr_str(g, kv, i);
        touch(s.ptr, s.len);
        sink += (uint64_t)loco_gguf_arr_int(g, kv, i);
        sink += loco_gguf_arr_float(g, kv, i) != 0.0;
    }
}

static void walk_scalar(const struct loco_gguf *g, const char *key)
{
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    float f;
    bool b;
    struct loco_str s = {NULL, 0};
    char buf[16];
    if (loco_gguf_get_u32(g, key, &u32) == LOCO_OK)
        sink += u32;
    if (loco_gguf_get_i64(g, key, &i64) == LOCO_OK)
        sink += (uint64_t)i64;
    if (loco_gguf_get_u64(g, key, &u64) == LOCO_OK)
        sink += u64;
    if (loco_gguf_get_f32(g, key, &f) == LOCO_OK)
        sink += (uint64_t)(f == f);
    if (loco_gguf_get_bool(g, key, &b) == LOCO_OK)
        sink += b;
    if (loco_gguf_get_str(g, key, &s) == LOCO_OK)
        touch(s.ptr, s.len);
    if (loco_gguf_get_str_buf(g, key, buf, sizeof buf) == LOCO_OK)
        sink += strlen(buf);
}

static void walk_kvs(const struct loco_gguf *g, struct loco_gguf_writer *w)
{
    for (int64_t i = 0; i < loco_gguf_n_kv(g); i++) {
        const char *key = loco_gguf_kv_key(g, i);
        if (!key || loco_gguf_find_key(g, key) != i)
            abort(); /* keys are unique and findable */
        if (loco_gguf_kv_type(g, i) == LOCO_GGUF_ARRAY)
            walk_array(g, i);
        else
            walk_scalar(g, key);
        if (loco_gguf_writer_copy_kv(w, g, i) != LOCO_OK)
            abort(); /* whatever was read can be written back */
    }
    sink += (uint64_t)loco_gguf_find_key(g, "general.architecture");
}

static void walk_tensors(const struct loco_gguf *g, struct loco_gguf_writer *w)
{
    for (int64_t i = 0; i < loco_gguf_n_tensors(g); i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        if (loco_gguf_find_tensor(g, t->name) != t)
            abort(); /* names are unique and findable */
        if (t->offset % loco_gguf_alignment(g) != 0)
            abort();
        touch(t->data, t->size);
        if (loco_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data) != LOCO_OK)
            abort(); /* the writer accepts whatever the reader accepts */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct loco_gguf *g = loco_gguf_open_memory(data, size);
    struct loco_gguf_writer *w;
    if (!g) {
        if (loco_error_message()[0] == '\0')
            abort(); /* every refusal says why */
        return 0;
    }
    w = loco_gguf_writer_init();
    if (loco_gguf_data_offset(g) > loco_gguf_file_size(g))
        abort();
    walk_kvs(g, w);
    walk_tensors(g, w);
    loco_gguf_writer_free(w);
    loco_gguf_close(g);
    return 0;
}
