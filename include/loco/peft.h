/*
 * loco/peft.h - import a Hugging Face PEFT LoRA adapter (a folder with
 * adapter_config.json and adapter_model.safetensors) as a LocoLLM /
 * llama.cpp GGUF adapter (loco/lora.h), and export one back (the inverse,
 * at the end of this header).
 *
 * What the import does, following llama.cpp's convert_lora_to_gguf.py
 * (docs/formats/lora.md, Importing PEFT adapters):
 *   - tensor names base_model.model.model.layers.N.self_attn.q_proj.lora_A
 *     .weight (k, v, o; mlp gate, up, down) become blk.N.attn_q.weight.lora_a
 *     and so on; A ([r][n_in]) and B ([n_out][r]) keep their bytes' layout;
 *   - for the llama architecture the rows of B for q and k are permuted
 *     within each head (docs/model.md) because the GGUF converter permuted the
 *     base's q/k rows the same way; qwen2, qwen3 and gemma3 are left alone;
 *   - lora_alpha becomes adapter.lora.alpha; with use_rslora (scale
 *     alpha/sqrt(r)) the file stores alpha*sqrt(r), so alpha/r gives the
 *     same scale;
 *   - the base model's sha256 and name, and the PEFT provenance, are
 *     recorded so that the adapter refuses to load on another base.
 * Full tensors (embed_tokens, lm_head, modules_to_save), DoRA, per-module
 * rank/alpha patterns and LoRA biases are refused with a message saying so.
 *
 * Legend: C n_embd, H n_head, Hkv n_head_kv, D head_dim, F n_ff, R rank.
 */
#ifndef LOCO_PEFT_H
#define LOCO_PEFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- adapter_config.json ------------------------------------------------ */

struct loco_peft_config {
    int32_t r;        /* rank */
    float lora_alpha; /* as written in the config */
    float alpha;      /* what the GGUF stores: lora_alpha, or lora_alpha*sqrt(r) for rsLoRA */
    bool use_rslora;
    bool fan_in_fan_out;      /* concerns Conv1D bases only; A/B keep nn.Linear layouts */
    unsigned targets;         /* LOCO_LORA_TARGET_BIT mask from a target_modules list; 0 when
                                 target_modules is a string (a regex or "all-linear") */
    char target_modules[256]; /* as written ("q_proj,v_proj" for a list) */
    char base_model[512];     /* base_model_name_or_path, "" when absent */
};

/* Parse the text of an adapter_config.json. `label` names the file in
 * messages. Refused: peft_type other than LORA, missing or bad r /
 * lora_alpha, non-empty rank_pattern or alpha_pattern, use_dora,
 * lora_bias, bias other than "none", modules_to_save, and target modules
 * other than the seven projections. */
int loco_peft_config_parse(const char *json, size_t len, const char *label,
                           struct loco_peft_config *out);
/* Read and parse a file. */
int loco_peft_config_read(const char *path, struct loco_peft_config *out);

/* ---- tensor names and layouts ------------------------------------------- */

/* "base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight" -> layer
 * 3, LOCO_LORA_Q, is_b = true (".lora_A.default.weight" is accepted too).
 * LOCO_ERR_UNSUPPORTED with a message for names that are not LoRA halves of
 * the seven projections (embed_tokens, lm_head, modules_to_save copies,
 * biases, DoRA magnitudes, ...). */
int loco_peft_parse_name(const char *name, int32_t *layer, enum loco_lora_target *target,
                         bool *is_b);

/* The llama converter's q/k row permutation (docs/model.md), in place, on
 * `rows` [n_out][n_cols] with n_out = n_head * D: within each head, new row
 * 2j = old row j and new row 2j+1 = old row j + D/2. LOCO_ERR_INVALID when
 * n_out is not a multiple of 2 * n_head. */
int loco_peft_permute_rows(float *rows, int64_t n_out, int64_t n_cols, int32_t n_head);

/* (n_in, n_out) of projection `t` in `base`: q: C -> H*D, k, v: C -> Hkv*D,
 * o: H*D -> C, gate, up: C -> F, down: F -> C. */
void loco_peft_target_shape(const struct loco_hparams *hp, enum loco_lora_target t, int64_t *n_in,
                            int64_t *n_out);

/* ---- the import --------------------------------------------------------- */

struct loco_peft_import_params {
    const char *name;    /* adapter name; NULL: the folder's name */
    const char *domain;  /* NULL to leave it out */
    enum loco_type type; /* storage of A/B: F16 (default), F32 or BF16 */
    bool overwrite;      /* replace an existing output file */
};

struct loco_peft_import_params loco_peft_import_default_params(void);

/* What an import did. */
struct loco_peft_import_result {
    char path[4096]; /* the file written */
    char name[128];
    int32_t n_pairs;
    int32_t rank;
    float alpha;      /* adapter.lora.alpha written */
    unsigned targets; /* LOCO_LORA_TARGET_BIT mask */
    bool permuted_qk; /* the llama q/k permutation was applied */
};

/* Import the PEFT folder `dir` for `base` into `out_path` (NULL: <name>.gguf
 * in loco_adapters_dir(), created when missing). Checks that every pair has
 * both halves, rank r and the base's shapes, and that the layers exist.
 * Refuses to replace an existing file unless params->overwrite. `result`
 * may be NULL. Nothing is written on failure. */
int loco_peft_import(const char *dir, const struct loco_model *base, const char *out_path,
                     const struct loco_peft_import_params *params,
                     struct loco_peft_import_result *result);

/* ---- the export (src/lora/peft_export.c) -------------------------------- */

/* The inverse of loco_peft_permute_rows, in place: within each head, new row
 * j = old row 2j and new row j + D/2 = old row 2j + 1. Same refusals. */
int loco_peft_unpermute_rows(float *rows, int64_t n_out, int64_t n_cols, int32_t n_head);

/* An adapter_config.json for `c` (what loco_peft_config_parse reads back
 * into the same r, lora_alpha, use_rslora, targets and base_model), in
 * PEFT's own form: peft_type LORA, task_type CAUSAL_LM, bias "none",
 * fan_in_fan_out false, target_modules the PEFT names of c->targets (q_proj,
 * ..., down_proj), lora_dropout 0, inference_mode true, no patterns, DoRA or
 * modules_to_save. Keys sorted, as PEFT writes them. On success *out is a
 * NUL-terminated text the caller frees. */
int loco_peft_config_format(const struct loco_peft_config *c, char **out);

/* Stored type of the exported tensors: as the adapter stores each one. */
#define LOCO_PEFT_EXPORT_AS_STORED LOCO_TYPE_COUNT

struct loco_peft_export_params {
    /* F32, F16, BF16, or LOCO_PEFT_EXPORT_AS_STORED (default): each tensor
     * keeps the adapter's type, so its values and bytes are unchanged */
    enum loco_type type;
    /* base_model_name_or_path; NULL: the adapter's locollm.peft.base_model
     * (set by an import), else the Hugging Face repository the base GGUF
     * records (general.source.huggingface.repository, or a huggingface.co
     * general.source.url), else the adapter's locollm.base.name, else the
     * base's general.name, else "" */
    const char *base_model;
    bool overwrite; /* write into a folder that is not empty, replacing the two files */
};

struct loco_peft_export_params loco_peft_export_default_params(void);

/* What an export did. */
struct loco_peft_export_result {
    char dir[4096];
    int32_t n_pairs;
    int32_t rank;
    float lora_alpha;   /* as written in adapter_config.json */
    bool use_rslora;    /* written true when the adapter was imported with it */
    unsigned targets;   /* LOCO_LORA_TARGET_BIT mask */
    bool unpermuted_qk; /* the llama q/k rows of B were put back in Hugging Face order */
    char dtypes[32];    /* safetensors dtypes written, "F16" or "F16,F32" */
    char base_model[512];
    size_t bytes; /* size of adapter_model.safetensors */
};

/* Export the GGUF adapter `gguf_path` as the PEFT folder `dir` (created
 * when missing): adapter_model.safetensors with tensors
 * base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight [R][n_in]
 * and .lora_B.weight [n_out][R] (likewise k, v, o and mlp gate, up, down),
 * and adapter_config.json (loco_peft_config_format), each written
 * atomically. The exact inverse of loco_peft_import: for llama the q/k rows
 * of B are un-permuted (loco_peft_unpermute_rows); adapter.lora.alpha
 * becomes lora_alpha (the rank when it is 0, since PEFT scales by
 * lora_alpha / r), or lora_alpha with use_rslora when the adapter was
 * imported that way and the numbers agree exactly.
 *
 * `base` (borrowed; may be NULL) is the model the adapter is for: given, the
 * adapter is first loaded against it (loco_adapter_load: architecture,
 * sha256, shapes and finite values checked; a refusal comes back as
 * LOCO_ERR_FORMAT with the loader's message) and its head counts undo the
 * permutation; NULL, the file is checked on its own, and a llama adapter of
 * q or k is refused (the permutation needs the head count).
 *
 * Refused with a message: a quantized adapter (LocoLLM reads F32, F16 and
 * BF16 adapters only and does not dequantize them), pairs of different ranks
 * (a PEFT config holds one r, and import refuses rank_pattern), a missing
 * half, values that are not finite, a `dir` that is a file, or a folder that
 * is not empty without p->overwrite. Nothing is written on a refusal.
 * `result` may be NULL. */
int loco_peft_export(const char *gguf_path, const struct loco_model *base, const char *dir,
                     const struct loco_peft_export_params *p,
                     struct loco_peft_export_result *result);

#ifdef __cplusplus
}
#endif
#endif
