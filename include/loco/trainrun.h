/*
 * loco/trainrun.h - `loco train RECIPE.yaml`: the training driver around the
 * LoRA core (loco/train.h).
 *
 * A recipe (YAML) says which base model, which data and how to train. The
 * driver turns the data into masked token sequences with the model's own
 * chat template, runs AdamW with warm-up and cosine decay, gradient
 * accumulation and clipping, checkpoints so that a killed run resumes, and
 * writes the adapter, a loss curve, a copy of the recipe and a training log.
 *
 * Determinism: everything a step does (which examples, in which order, the
 * dropout masks, the optimizer update) is a pure function of the recipe and
 * the state stored in the checkpoint, so a run killed at any moment and
 * restarted ends with a byte-identical adapter (same thread count assumed;
 * see loco/train.h).
 *
 * Modules (src/train/run/): recipe.c (YAML), data.c (JSONL -> examples),
 * optim.c (AdamW, schedule, clipping, PRNG), checkpoint.c, report.c (SVG,
 * training log), run.c (the loop). Nothing here prints; progress goes to a
 * callback.
 */
#ifndef LOCO_TRAINRUN_H
#define LOCO_TRAINRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/model.h"
#include "loco/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- recipes ------------------------------------------------------------ */

enum loco_data_format {
    LOCO_DATA_INSTRUCTION = 0, /* {"instruction","input","output"} */
    LOCO_DATA_MESSAGES,        /* {"messages":[{"role","content"},...]}: last assistant turn */
    LOCO_DATA_FIELDS,          /* prompt/response templates over the record's fields */
};

/* A parsed recipe. Every `char *` is malloc'd and owned by the recipe (NULL
 * when absent); paths are already resolved (env expanded, relative paths
 * joined to the recipe's folder). Free with loco_recipe_free(). */
struct loco_recipe {
    char *path; /* the recipe file as given */
    char *text; /* its exact bytes (NUL-terminated) */
    size_t text_len;
    char *name;          /* adapter name (required) */
    char *domain;        /* "" when not given */
    char *base;          /* model name or path (default "default") */
    char *chat_template; /* template override, or NULL for the model's own */

    /* data */
    char *data_path; /* as written in the recipe */
    char *data_file; /* resolved */
    enum loco_data_format format;
    char *prompt;          /* fields: template such as "{question}" */
    char *response;        /* fields: template such as "{answer_text}" */
    char *system;          /* system prompt, or NULL (the template's default) */
    int64_t offset, limit; /* applied after the filters; limit 0 = all */
    char *range_field;     /* numeric field kept when in [range_min, range_max] */
    double range_min, range_max;
    char *include_field, *include_regex; /* keep records whose field matches */
    char *exclude_field, *exclude_regex; /* drop records whose field matches */
    int32_t max_tokens;                  /* per example, prompt side truncated first */
    double validation;                   /* < 1: fraction of examples, >= 1: count */

    struct loco_lora_config lora;

    /* optimizer and schedule */
    double lr, min_lr, beta1, beta2, eps, weight_decay, clip;
    int32_t warmup_steps;

    /* training */
    int32_t epochs;
    int64_t max_steps; /* > 0 overrides epochs */
    int32_t batch;     /* sequences per optimizer step (gradient accumulation) */
    uint64_t seed;
    int32_t threads;          /* 0 = all available */
    int32_t checkpoint_every; /* steps; 0 = only at the end */
    int32_t eval_every;       /* steps; 0 = before and after only */

    /* output */
    char *out_dir;         /* resolved; default: <recipe folder>/<name> */
    int32_t samples;       /* held-out prompts for the side-by-side (default 5) */
    int32_t sample_tokens; /* bound on each generated answer (default 128) */
};

/* Read and parse `path`. On failure NULL and a message naming the file, the
 * line and the key (unknown key, wrong type, value out of range, missing
 * required key, malformed YAML). */
struct loco_recipe *loco_recipe_load(const char *path);
/* The same from text already in memory; `path` locates relative paths and
 * names the file in messages. */
struct loco_recipe *loco_recipe_parse(const char *text, size_t len, const char *path);
void loco_recipe_free(struct loco_recipe *r);

/* sha256 (hex) of the recipe text plus the overrides that change the run
 * (max_steps): a checkpoint is only resumed under the same hash. */
void loco_recipe_hash(const struct loco_recipe *r, char hex_out[65]);

/* "q,k,v" style text of a target mask, into buf. */
void loco_recipe_targets_str(unsigned mask, char *buf, size_t cap);

/* ---- data --------------------------------------------------------------- */

/* One training sequence: the chat-templated prompt (generation prompt
 * included), then the response tokens and the end-of-turn token. */
struct loco_train_example {
    int32_t *tokens; /* [n] */
    uint8_t *target; /* [n]: 1 on response tokens and the end of turn */
    int32_t n;
    int32_t n_prompt; /* tokens[0..n_prompt) are the prompt */
    int64_t line;     /* line in the JSONL file (1-based) */
    char *prompt;     /* the user message text (after templating, before truncation) */
    char *reference;  /* the response text */
};

struct loco_train_data_stats {
    int64_t n_records;   /* non-empty lines read */
    int64_t n_selected;  /* after filters, offset and limit */
    int64_t n_truncated; /* prompt shortened to fit max_tokens */
    int64_t n_dropped;   /* response alone does not fit max_tokens */
    int64_t n_tokens;    /* all tokens of the kept examples */
    int64_t n_target;    /* of which targets */
    int32_t min_len, max_len;
    double mean_len;
    int64_t train_tokens; /* tokens in the training split */
};

/* Examples, the split, and counts. Owned arrays; free with
 * loco_train_data_free(). */
struct loco_train_data {
    struct loco_train_example *examples; /* [n_examples] in file order */
    size_t n_examples;
    size_t *train; /* [n_train] indices into examples, file order */
    size_t n_train;
    size_t *val; /* [n_val] indices, file order */
    size_t n_val;
    struct loco_train_data_stats stats;
    int32_t eot; /* the end-of-turn token appended to responses */
};

/* Load, select, template, tokenize (with m's tokenizer and chat template)
 * and split the recipe's data. */
struct loco_train_data *loco_train_data_load(const struct loco_recipe *r,
                                             const struct loco_model *m);
void loco_train_data_free(struct loco_train_data *d);

/* Expand "{field}" references in `tmpl` over a JSON record (cJSON *);
 * "{{" and "}}" are literal braces. Strings as is, numbers in shortest
 * form, arrays one element per line. malloc'd result, or NULL with a message
 * naming the missing field. */
char *loco_train_template_expand(const char *tmpl, const void *record);

/* The training example at global position g (0, 1, 2, ... over all epochs):
 * epoch g / n_train, in that epoch's order, a permutation drawn from
 * (seed, epoch). `perm` is scratch space of n_train entries and `*perm_epoch`
 * the epoch it holds (start with -1). Returns an index into d->examples. */
size_t loco_train_data_order(const struct loco_train_data *d, uint64_t seed, int64_t g,
                             size_t *perm, int64_t *perm_epoch);

/* ---- optimizer ---------------------------------------------------------- */

struct loco_adamw_params {
    double beta1, beta2, eps, weight_decay;
};

/* One AdamW step (Loshchilov & Hutter 2019, decoupled weight decay; the
 * form PyTorch's torch.optim.AdamW computes), t = 1, 2, ...:
 *   p -= lr * wd * p
 *   m  = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)          */
void loco_adamw_update(float *p, const float *g, float *m, float *v, size_t n, double lr,
                       const struct loco_adamw_params *h, int64_t t);

/* Learning rate for step s = 0..total-1: linear warm-up to lr over
 * `warmup` steps ((s+1)/warmup), then cosine decay to min_lr
 * (Loshchilov & Hutter 2017, SGDR without restarts). */
double loco_lr_at(int64_t s, int64_t total, int32_t warmup, double lr, double min_lr);

/* Global-norm clipping (Pascanu et al. 2013): when the L2 norm of g exceeds
 * max_norm (> 0), scale g by max_norm / norm. Returns the norm before. */
double loco_grad_clip(float *g, size_t n, double max_norm);

/* splitmix64 (Steele et al. 2014): advance *state and return 64 bits. */
uint64_t loco_rng_next(uint64_t *state);
/* A seed derived from a few numbers (for dropout masks, shuffles). */
uint64_t loco_rng_mix(uint64_t a, uint64_t b, uint64_t c);

/* ---- checkpoints -------------------------------------------------------- */

struct loco_val_point {
    int64_t step; /* optimizer steps done when it was measured */
    float loss;
};

/* Everything a resumed run needs. Arrays are malloc'd by
 * loco_checkpoint_read (free with loco_checkpoint_free); for writing they are
 * borrowed from the caller. */
struct loco_checkpoint {
    char recipe_hash[65];
    uint64_t n_params;
    int64_t step; /* optimizer steps done */
    int64_t total_steps;
    int64_t examples_seen; /* data order position: next global example index */
    uint64_t rng_state;    /* the run's PRNG base: dropout seed = mix(rng, step, j) */
    int64_t tokens_seen;
    double elapsed_s;      /* training time before this process */
    float *params, *m, *v; /* [n_params] */
    float *train_loss;     /* [step] mean loss of each step */
    struct loco_val_point *val;
    int64_t n_val;
};

#define LOCO_CHECKPOINT_VERSION 1

/* Atomic write: `path`.tmp, fsync, rename, fsync of the folder. The file
 * ends with the sha256 of everything before it. */
int loco_checkpoint_write(const char *path, const struct loco_checkpoint *c);
/* Read and verify (magic, version, sizes, sha256); LOCO_ERR_NOT_FOUND when
 * there is no file, LOCO_ERR_FORMAT / LOCO_ERR_CHECKSUM naming the fault. */
int loco_checkpoint_read(const char *path, struct loco_checkpoint *c);
void loco_checkpoint_free(struct loco_checkpoint *c);

/* ---- reports ------------------------------------------------------------ */

/* loss.svg: train loss per step (a line) and validation points (dots), with
 * axes, ticks and labels. Hand-written SVG, written atomically. */
int loco_train_write_svg(const char *path, const float *train_loss, int64_t n_steps,
                         const struct loco_val_point *val, int64_t n_val);

/* The TRAINING_LOG.md template (docs/templates/TRAINING_LOG_TEMPLATE.md, the
 * same text compiled in). Placeholders are {{key}}. */
extern const char loco_train_log_template[];

/* Replace every {{key}} in tmpl with its value (keys[i] -> values[i]);
 * an unknown key is an error naming it. malloc'd result or NULL. */
char *loco_template_fill(const char *tmpl, const char *const *keys, const char *const *values,
                         size_t n);

/* CPU model name (from /proc/cpuinfo) into buf; "unknown" when not found. */
void loco_cpu_model(char *buf, size_t cap);

/* ---- the run ------------------------------------------------------------ */

enum loco_train_phase {
    LOCO_TRAIN_PHASE_LOAD = 0,   /* loading model and data (message set) */
    LOCO_TRAIN_PHASE_EVAL,       /* a validation loss was measured (val_loss) */
    LOCO_TRAIN_PHASE_STEP,       /* an optimizer step finished */
    LOCO_TRAIN_PHASE_CHECKPOINT, /* a checkpoint was written */
    LOCO_TRAIN_PHASE_SAMPLE,     /* generating the side-by-side samples */
    LOCO_TRAIN_PHASE_DONE,
};

struct loco_train_progress {
    enum loco_train_phase phase;
    int64_t step, total; /* steps done / planned */
    double loss;         /* this step's mean target loss */
    double lr;
    double grad_norm;    /* before clipping */
    double tokens_per_s; /* this process's training throughput */
    double eta_s;
    double val_loss;           /* EVAL */
    int32_t sample, n_samples; /* SAMPLE */
    const char *message;       /* LOAD/SAMPLE/DONE text, valid during the call */
};

typedef void (*loco_train_progress_fn)(void *user, const struct loco_train_progress *p);

struct loco_train_params {
    const char *out_dir;      /* overrides the recipe's output dir (NULL: keep) */
    int32_t threads;          /* > 0 overrides the recipe */
    int64_t max_steps;        /* > 0 overrides the recipe (part of the recipe hash) */
    bool restart;             /* ignore (and replace) an existing checkpoint */
    bool dry_run;             /* parse, load data, fill the summary; no training */
    const volatile int *stop; /* when *stop becomes non-zero: checkpoint and return */
    loco_train_progress_fn progress;
    void *user;
};

struct loco_train_params loco_train_default_params(void);

struct loco_train_summary {
    struct loco_train_data_stats data;
    size_t n_train, n_val;
    uint64_t n_params;
    int64_t steps, total_steps;
    int64_t resumed_from;         /* step the run resumed at (0 = fresh) */
    double val_before, val_after; /* NaN when not measured */
    double tokens_per_s, train_s;
    bool interrupted; /* stopped by *stop; a checkpoint holds the state */
    char out_dir[4096];
    char adapter_path[4096];
    char model_path[4096];
};

/* Run (or resume, or dry-run) the recipe at `path`. */
int loco_train_run(const char *recipe_path, const struct loco_train_params *p,
                   struct loco_train_summary *out);

#ifdef __cplusplus
}
#endif
#endif
