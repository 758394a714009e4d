/*
 * fuzz-safetensors.c - libFuzzer harness for the safetensors reader and
 * the PEFT config and tensor-name parsers.
 *
 * Why: PEFT adapters come from strangers (`loco adapters import`). The
 * reader must refuse any malformed image with a status and a message,
 * never read outside it, never leak, and whatever it accepts must be safe
 * to walk in full. So each input is opened with
 * loco_safetensors_open_memory() and, when accepted, every tensor is found
 * again by name, checked against the image's bounds, every byte touched and
 * the float ones converted; each name also goes through
 * loco_peft_parse_name(). The same bytes are parsed as an
 * adapter_config.json too. Run it with tests/fuzz/run-fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loco/peft.h"
#include "loco/safetensors.h"

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

static void walk_tensor(const struct loco_safetensors *st, const struct loco_st_tensor *t,
                        const uint8_t *data, size_t size)
{
    const uint8_t *p = t->data;
    size_t bytes = (size_t)(t->end - t->begin);
    if (loco_safetensors_find(st, t->name) != t)
        abort(); /* names are unique and findable */
    if (t->begin > t->end || p < data || p + bytes > data + size)
        abort(); /* inside the image */
    if (bytes != (size_t)t->n_elements * loco_st_dtype_size(t->dtype))
        abort();
    touch(p, bytes);
    float *f = malloc((size_t)t->n_elements * sizeof *f + 1);
    if (f && loco_safetensors_to_f32(st, t, f, (size_t)t->n_elements) == LOCO_OK)
        for (int64_t i = 0; i < t->n_elements; i++)
            sink += f[i] == f[i];
    free(f);
    int32_t layer;
    enum loco_lora_target target;
    bool is_b;
    if (loco_peft_parse_name(t->name, &layer, &target, &is_b) == LOCO_OK)
        sink += (uint64_t)layer + (uint64_t)target + is_b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct loco_safetensors *st = NULL;
    int rc = loco_safetensors_open_memory(data, size, &st);
    if (rc != LOCO_OK) {
        if (st || rc >= 0 || loco_error_message()[0] == '\0')
            abort(); /* every refusal says why */
    } else {
        for (int64_t i = 0; i < loco_safetensors_n_tensors(st); i++)
            walk_tensor(st, loco_safetensors_tensor(st, i), data, size);
        const char *fmt = loco_safetensors_metadata(st, "format");
        if (fmt)
            sink += strlen(fmt);
        loco_safetensors_close(st);
    }
    struct loco_peft_config cfg;
    rc = loco_peft_config_parse((const char *)data, size, "fuzz.json", &cfg);
    if (rc == LOCO_OK)
        sink += (uint64_t)cfg.r + strlen(cfg.target_modules) + strlen(cfg.base_model);
    else if (loco_error_message()[0] == '\0')
        abort();
    return 0;
}
