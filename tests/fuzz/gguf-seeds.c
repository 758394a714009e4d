/*
 * gguf-seeds.c - write the seed corpus for fuzz-gguf with the writer.
 *
 * Why: the fuzzer finds its way much faster from small valid files that
 * already use every metadata type, several tensor types and a custom
 * alignment than from nothing. Generating them here (rather than
 * committing binary files or copying shared fixtures) keeps the seeds in
 * step with the writer and reviewable as code.
 *
 * One malformed seed is written byte by byte (tensors whose data overlap),
 * since the writer cannot make it.
 *
 * Usage: gguf-seeds DIR   (writes a few .gguf files into DIR; run-fuzz.sh calls it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/gguf.h"

static uint8_t bytes[4096]; /* tensor contents: a simple pattern */

static int finish(struct loco_gguf_writer *w, const char *dir, const char *name)
{
    char path[1024];
    int rc;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rc = loco_gguf_writer_write(w, path);
    if (rc != LOCO_OK)
        fprintf(stderr, "gguf-seeds: %s\n", loco_error_message());
    loco_gguf_writer_free(w);
    return rc;
}

/* Every scalar type, arrays of several element types, a string array. */
static int seed_metadata(const char *dir)
{
    static const char *const tokens[] = {"<unk>", "<s>", "</s>", "", "\xe2\x96\x81the"};
    static const float scores[] = {0.0f, -1.0f, -2.5f, 3.0f, 1e-5f};
    static const int32_t types[] = {2, 3, 3, 1, 1};
    static const uint8_t flags[] = {1, 0, 1};
    static const int64_t big[] = {INT64_MIN, -1, INT64_MAX};
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    loco_gguf_writer_set_str(w, "general.architecture", "llama");
    loco_gguf_writer_set_u8(w, "u8", 200);
    loco_gguf_writer_set_i8(w, "i8", -100);
    loco_gguf_writer_set_u16(w, "u16", 60000);
    loco_gguf_writer_set_i16(w, "i16", -30000);
    loco_gguf_writer_set_u32(w, "llama.context_length", 128);
    loco_gguf_writer_set_i32(w, "i32", -7);
    loco_gguf_writer_set_u64(w, "u64", UINT64_MAX);
    loco_gguf_writer_set_i64(w, "i64", INT64_MIN);
    loco_gguf_writer_set_f32(w, "f32", 1e-5f);
    loco_gguf_writer_set_f64(w, "f64", 0.1);
    loco_gguf_writer_set_bool(w, "bool", true);
    loco_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, 5);
    loco_gguf_writer_set_arr(w, "tokenizer.ggml.scores", LOCO_GGUF_FLOAT32, scores, 5);
    loco_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", LOCO_GGUF_INT32, types, 5);
    loco_gguf_writer_set_arr(w, "flags", LOCO_GGUF_BOOL, flags, 3);
    loco_gguf_writer_set_arr(w, "big", LOCO_GGUF_INT64, big, 3);
    return finish(w, dir, "metadata.gguf");
}

/* A few tensor types and ranks with the default alignment. */
static int seed_tensors(const char *dir, uint32_t alignment, const char *name)
{
    static const int64_t mat[2] = {4, 2};
    static const int64_t q8[2] = {32, 2};
    static const int64_t qk[1] = {256};
    static const int64_t cube[3] = {2, 2, 2};
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    loco_gguf_writer_set_alignment(w, alignment);
    loco_gguf_writer_set_str(w, "general.architecture", "llama");
    loco_gguf_writer_add_tensor(w, "token_embd.weight", LOCO_TYPE_F32, 2, mat, bytes);
    loco_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", LOCO_TYPE_Q8_0, 2, q8, bytes);
    loco_gguf_writer_add_tensor(w, "blk.0.ffn_up.weight", LOCO_TYPE_Q4_K, 1, qk, bytes);
    loco_gguf_writer_add_tensor(w, "cube", LOCO_TYPE_F16, 3, cube, bytes);
    loco_gguf_writer_add_tensor(w, "scalar", LOCO_TYPE_I32, 0, NULL, bytes);
    return finish(w, dir, name);
}

static int seed_empty(const char *dir)
{
    return finish(loco_gguf_writer_init(), dir, "empty.gguf");
}

/* Append n bytes of p to the image (cap bytes). */
static size_t put(uint8_t *img, size_t at, const void *p, size_t n)
{
    memcpy(img + at, p, n);
    return at + n;
}

/* A malformed file the writer cannot make: two tensors whose data ranges
 * share bytes ("a" is [0, 64), "b" [32, 64)), so the fuzzer starts next to
 * the reader's overlap check. Little-endian, like every GGUF. */
static int seed_overlap(const char *dir)
{
    static const char *const names[2] = {"a", "b"};
    const uint64_t ne[2] = {16, 8}, offset[2] = {0, 32};
    const uint32_t version = 3, n_dims = 1, f32 = 0;
    const uint64_t n_tensors = 2, n_kv = 0, name_len = 1;
    uint8_t img[256] = {0};
    size_t at = put(img, 0, "GGUF", 4);
    at = put(img, at, &version, 4);
    at = put(img, at, &n_tensors, 8);
    at = put(img, at, &n_kv, 8);
    for (int i = 0; i < 2; i++) {
        at = put(img, at, &name_len, 8);
        at = put(img, at, names[i], 1);
        at = put(img, at, &n_dims, 4);
        at = put(img, at, &ne[i], 8);
        at = put(img, at, &f32, 4);
        at = put(img, at, &offset[i], 8);
    }
    at += (32 - at % 32) % 32 + 64; /* padding, then the 64 data bytes (zeros) */
    char path[1024];
    snprintf(path, sizeof path, "%s/overlap.gguf", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(img, 1, at, f) != at || fclose(f) != 0) {
        fprintf(stderr, "gguf-seeds: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: gguf-seeds DIR\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 37 + 11);
    rc |= seed_metadata(argv[1]);
    rc |= seed_tensors(argv[1], LOCO_GGUF_DEFAULT_ALIGNMENT, "tensors.gguf");
    rc |= seed_tensors(argv[1], 8, "tensors-align8.gguf");
    rc |= seed_empty(argv[1]);
    rc |= seed_overlap(argv[1]);
    return rc ? 1 : 0;
}
