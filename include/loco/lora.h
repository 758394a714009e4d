/*
 * loco/lora.h - LoRA adapters: the GGUF file format, loading against a
 * base model, writing, and per-sequence adapter sets at run time.
 *
 * File format (llama.cpp's; docs/formats/lora.md): general.type = "adapter",
 * general.architecture = the base's, adapter.type = "lora",
 * adapter.lora.alpha (f32); tensors "<base tensor>.lora_a" with
 * ne = [n_in, r] and "<base tensor>.lora_b" with ne = [r, n_out], i.e. A is
 * r rows of n_in values and B is n_out rows of r values. LocoLLM adds
 * locollm.* keys (base sha256, name, domain, provenance); files without them
 * (made by llama.cpp's converter) still load.
 *
 * At run time a projection y = W x becomes
 *     y = W x + sum_i scale_i * (alpha_i / r_i) * B_i (A_i x)
 * for the adapters in the token's sequence's adapter set. An adapter is
 * mapped once and used in place; changing a sequence's set is a pointer
 * change. A sequence's KV cache is tagged with its set: setting a different
 * set forgets the cached positions, so a cache is never reused under
 * another set.
 */
#ifndef LOCO_LORA_H
#define LOCO_LORA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/model.h"
#include "loco/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The projections a LoRA can adapt. Norms, embeddings and the output head
 * are never adapted. */
enum loco_lora_target {
    LOCO_LORA_Q = 0,
    LOCO_LORA_K,
    LOCO_LORA_V,
    LOCO_LORA_O,
    LOCO_LORA_GATE,
    LOCO_LORA_UP,
    LOCO_LORA_DOWN,
    LOCO_LORA_N_TARGETS
};

#define LOCO_LORA_TARGET_BIT(t) (1u << (unsigned)(t))
#define LOCO_LORA_ALL_TARGETS ((1u << LOCO_LORA_N_TARGETS) - 1u)

/* Short name: "q", "k", "v", "o", "gate", "up", "down". */
const char *loco_lora_target_name(enum loco_lora_target t);
/* GGUF tensor stem: "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate",
 * "ffn_up", "ffn_down" (the base tensor is "blk.N.<stem>.weight"). */
const char *loco_lora_target_tensor(enum loco_lora_target t);
/* Accepts the short name, the PEFT module name (q_proj, ..., gate_proj,
 * up_proj, down_proj, o_proj) or the GGUF stem. */
int loco_lora_target_parse(const char *name, enum loco_lora_target *out);
/* "q,v,o" style list -> bit mask; LOCO_ERR_INVALID naming the bad entry. */
int loco_lora_targets_parse(const char *list, unsigned *mask_out);

/* ---- loaded adapters ---------------------------------------------------- */

struct loco_adapter_info {
    char path[1024];
    char name[128];        /* locollm.adapter.name, else the file stem */
    char domain[64];       /* locollm.adapter.domain or adapter.lora.task_name; "" if none */
    char arch[32];         /* general.architecture */
    char base_sha256[65];  /* locollm.base.sha256; "" when the file does not record it */
    float alpha;           /* adapter.lora.alpha (0: scale is used as is) */
    int32_t rank;          /* largest rank among its pairs */
    unsigned targets;      /* LOCO_LORA_TARGET_BIT mask of what it adapts */
    int32_t n_pairs;       /* (layer, target) pairs present */
    enum loco_type type;   /* storage type of A/B (F32, F16 or BF16) */
    size_t file_bytes;
};

struct loco_adapter; /* opaque */

/* Map `path` and bind every pair to `base`'s projections. Refused with a
 * message saying what was expected when the architecture differs, when the
 * file records a base sha256 other than the base's, or when a shape does not
 * fit. `base` is borrowed and must outlive the adapter. */
struct loco_adapter *loco_adapter_load(const char *path, const struct loco_model *base);
void loco_adapter_free(struct loco_adapter *a);
const struct loco_adapter_info *loco_adapter_info(const struct loco_adapter *a);
/* A number unique to this load in this process (KV-cache tags use it). */
uint64_t loco_adapter_id(const struct loco_adapter *a);

/* The unit input direction v[n_in] that the adapter's update to projection
 * t of layer il stretches most (the top right singular vector of B A, by
 * power iteration) and that stretch, the top singular value times
 * alpha / r, in *sigma (may be NULL). LOCO_ERR_NOT_FOUND when the adapter
 * leaves that projection alone. Zero-shot routing reads these. */
int loco_adapter_direction(const struct loco_adapter *a, int il, enum loco_lora_target t,
                           float *v, float *sigma);

/* sha256 (lowercase hex) of the base model file, computed once per model
 * and cached. */
int loco_model_sha256(const struct loco_model *m, char hex_out[65]);

/* ---- writing ------------------------------------------------------------ */

/* One adapted projection, f32, in row-major order. */
struct loco_lora_pair {
    int32_t layer;
    enum loco_lora_target target;
    int64_t n_in, n_out;
    int32_t rank;
    const float *a; /* [rank][n_in] */
    const float *b; /* [n_out][rank] */
};

struct loco_adapter_meta {
    const char *arch;        /* general.architecture (required) */
    const char *base_sha256; /* NULL or "" to leave it out */
    const char *base_name;   /* NULL to leave it out */
    const char *name;        /* NULL to leave it out */
    const char *domain;      /* NULL to leave it out; also written as adapter.lora.task_name */
    float alpha;
    /* extra string keys (e.g. "locollm.train.recipe"), n_extra pairs */
    const char *const *extra_keys;
    const char *const *extra_values;
    size_t n_extra;
};

/* Write an adapter atomically; A and B are stored as `type` (F32, F16 or
 * BF16). */
int loco_adapter_write(const char *path, const struct loco_adapter_meta *meta,
                       const struct loco_lora_pair *pairs, size_t n_pairs, enum loco_type type);

/* ---- per-sequence adapter sets ------------------------------------------ */

#define LOCO_MAX_SET_ADAPTERS 8

struct loco_adapter_ref {
    const struct loco_adapter *adapter;
    float scale; /* user scale; the applied factor is scale * alpha / r (scale when alpha is 0) */
};

/* Give sequence `seq` the set refs[0..n) (n = 0: the base model). When the
 * set differs from the sequence's current one its cached positions are
 * forgotten. The adapters are borrowed and must outlive their use. */
int loco_context_set_adapters(struct loco_context *c, int32_t seq,
                              const struct loco_adapter_ref *refs, int32_t n);
/* The tag of sequence seq's set (0 = no adapter). Equal tags mean the same
 * adapters with the same scales. */
uint64_t loco_context_seq_adapter_tag(const struct loco_context *c, int32_t seq);

/* ---- finding adapters by name ------------------------------------------- */

/* Folder for installed/imported adapters: $LOCO_ADAPTERS_DIR, else
 * $XDG_DATA_HOME/locollm/adapters, else ~/.local/share/locollm/adapters. */
int loco_adapters_dir(char *buf, size_t cap);
/* NAME or a path -> a file: a path (contains '/' or ends in .gguf) is taken
 * as is; a name is looked up as NAME.gguf in loco_adapters_dir() and then in
 * the project's adapters/ folder. LOCO_ERR_NOT_FOUND lists where it looked. */
int loco_adapters_resolve(const char *name_or_path, char *path_out, size_t cap);

/* "NAME[:scale][,NAME2[:scale]]" -> names and scales (scale defaults to 1).
 * Returns the count (1..cap) or a negative status naming the bad entry; a
 * spec naming no adapter at all ("", ",") is LOCO_ERR_INVALID. */
struct loco_adapter_spec {
    char name[1024];
    float scale;
};
int loco_adapter_spec_parse(const char *spec, struct loco_adapter_spec *out, int32_t cap);

/* ---- merging adapters (src/lora/merge.c, docs/composition.md) ----------- */

/* Several adapters of one base become one adapter file. For each layer and
 * projection, input i contributes the update the run time would add for it
 * in a set with scale w_i:
 *     delta_i = w_i * (alpha_i / r_i) * B_i A_i          [n_out][n_in]
 * (w_i when alpha_i is 0); a projection an input leaves alone counts as a
 * zero delta. The methods:
 *   linear  sum_i delta_i. Without a rank: exact, by stacking the factors
 *           (the pair's rank is the sum of the inputs' ranks), so the file
 *           gives the same outputs as the run-time set "A:w_A,B:w_B".
 *   ties    TIES-Merging (Yadav et al. 2023): trim each delta to its top
 *           `density` fraction by magnitude, elect each entry's sign as the
 *           sign of the sum of the trimmed values, average the trimmed values
 *           that agree with it (loco_merge_ties).
 *   dare    DARE (Yu et al. 2024): drop each entry with probability
 *           1 - density, rescale the kept ones by 1 / density, sum
 *           (loco_merge_dare).
 * A dense result is factorised by truncated SVD to the rank asked for
 * (loco_merge_factorise). The file records its alpha as its largest rank
 * and folds each pair's remaining factor into B, so the loader's
 * alpha / r reproduces the merged update exactly. */

#define LOCO_MERGE_MAX_INPUTS 16

enum loco_merge_method {
    LOCO_MERGE_LINEAR = 0,
    LOCO_MERGE_TIES,
    LOCO_MERGE_DARE,
};

/* "linear", "ties", "dare" (and back); parse: LOCO_ERR_INVALID listing them. */
const char *loco_merge_method_name(enum loco_merge_method m);
int loco_merge_method_parse(const char *name, enum loco_merge_method *out);

struct loco_merge_input {
    const struct loco_adapter *adapter; /* borrowed for the call */
    float weight;                       /* w_i above: a finite number */
};

struct loco_merge_params {
    enum loco_merge_method method; /* default linear */
    int32_t rank;                  /* 0: linear exact, ties and dare the largest input rank
                                      (capped by the projection's size); else 1..min(n_out, n_in) */
    float density;                 /* ties and dare: fraction kept, in (0, 1]; default 0.2 */
    uint64_t seed;                 /* dare's random drops (each projection draws from a stream
                                      derived from seed, layer and projection); default 1 */
    const char *name;              /* NULL: the output file's stem */
    const char *domain;            /* NULL: the first input's domain */
    enum loco_type type;           /* storage of A and B: F16 (default), F32 or BF16 */
    bool overwrite;                /* replace an existing output file (default false) */
};

struct loco_merge_params loco_merge_default_params(void);

struct loco_merge_result {
    int32_t rank;    /* the largest rank written (also its alpha) */
    int32_t n_pairs; /* (layer, projection) pairs written */
    bool exact;      /* linear without a rank: no approximation made */
    /* summed over the factorised matrices: ||D||_F^2 and ||D_R||_F^2, the
     * energy the rank-R factors keep (both 0 when exact); the relative
     * Frobenius error is sqrt(1 - kept / total) */
    double energy_total, energy_kept;
    size_t file_bytes;
};

/* Merge in[0..n) (1 <= n <= LOCO_MERGE_MAX_INPUTS, all loaded against the
 * same base) by p and write the result to `path` atomically (a failure
 * leaves no file). The file is a plain adapter in llama.cpp's format with
 * locollm.merge.* keys recording the method, the sources (names, files,
 * sha256), weights, density, seed and rank. Refused with a message: inputs of
 * different bases, a weight that is not finite, a density outside (0, 1], a
 * rank below 0 or above a projection's min(n_out, n_in), an existing path
 * without p->overwrite. `out` may be NULL. */
int loco_adapter_merge(const struct loco_merge_input *in, int32_t n,
                       const struct loco_merge_params *p, const char *path,
                       struct loco_merge_result *out);

/* The dense steps, on n deltas of len values each (the weights already
 * applied), out[len]. Exposed for tests and for students to try.
 *
 * TIES: delta i keeps its k = max(1, round(density * len)) largest
 * magnitudes (ties at the threshold broken by index) and the rest become 0;
 * the elected sign of entry j is sign(sum_i trimmed_i[j]); out[j] is the
 * mean of the trimmed_i[j] with that sign (0 when the sum is 0). */
int loco_merge_ties(const float *const *deltas, int32_t n, size_t len, float density, float *out);
/* DARE: out[j] = sum_i keep_i[j] * delta_i[j] / density, keep_i[j] true with
 * probability density, drawn from a stream that depends on seed and i only
 * (the same seed gives the same drops). density 1 is the plain sum. */
int loco_merge_dare(const float *const *deltas, int32_t n, size_t len, float density, uint64_t seed,
                    float *out);
/* The best rank-R approximation of d [n_out][n_in] (Eckart-Young): the
 * truncated SVD d ~ U_R S_R V_R^T, split as b = U_R sqrt(S_R) [n_out][R] and
 * a = sqrt(S_R) V_R^T [R][n_in]. Computed from the R largest eigenpairs of
 * the smaller Gram matrix (d d^T or d^T d; LAPACK's dsyevr), in double.
 * *energy_total = ||d||_F^2 and *energy_kept = the sum of the R largest
 * squared singular values (either may be NULL). LOCO_ERR_INVALID for a rank
 * outside 1..min(n_out, n_in). */
int loco_merge_factorise(const float *d, int64_t n_out, int64_t n_in, int32_t rank, float *b,
                         float *a, double *energy_kept, double *energy_total);

#ifdef __cplusplus
}
#endif
#endif
