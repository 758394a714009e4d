/*
 * run.c - `loco train`: load the recipe, the base model and the data, then
 * the training loop (gradient accumulation, clipping, AdamW, schedule),
 * with validation and checkpoints, and resuming from a checkpoint.
 *
 * What makes a killed run end byte-identical to an uninterrupted one: each
 * step's examples come from loco_train_data_order(examples_seen + j), the
 * dropout seed of its micro-batch j from (rng, step, j) where rng is drawn
 * from the recipe's seed, its learning rate from the step number; the
 * checkpoint stores examples_seen, rng, the step, the parameters and both
 * Adam moments, so nothing depends on when the process started.
 */
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/generate.h"
#include "loco/models.h"
#include "train/run/run_state.h"

struct loco_train_params loco_train_default_params(void)
{
    return (struct loco_train_params){0};
}

void run_emit(struct run *R, enum loco_train_phase phase, const char *message)
{
    if (!R->p->progress)
        return;
    double secs = (loco_time_ms() - R->t0) / 1e3;
    int64_t done = R->step - R->step0;
    struct loco_train_progress pr = {
        .phase = phase,
        .step = R->step,
        .total = R->total,
        .loss = R->step > 0 ? R->loss[R->step - 1] : NAN,
        .lr = loco_lr_at(R->step > 0 ? R->step - 1 : 0, R->total, R->r->warmup_steps, R->r->lr,
                         R->r->min_lr),
        .tokens_per_s = secs > 0 ? (double)(R->tokens_seen - R->tokens0) / secs : 0,
        .eta_s = done > 0 ? secs / (double)done * (double)(R->total - R->step) : 0,
        .val_loss = R->n_val ? R->val[R->n_val - 1].loss : NAN,
        .message = message,
    };
    R->p->progress(R->p->user, &pr);
}

static int32_t available_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

/* ---- setup -------------------------------------------------------------- */

static int load_recipe(struct run *R, const char *path)
{
    const struct loco_train_params *p = R->p;
    R->r = loco_recipe_load(path);
    if (!R->r)
        return LOCO_ERR_FORMAT;
    if (p->max_steps > 0)
        R->r->max_steps = p->max_steps;
    if (p->threads > 0)
        R->r->threads = p->threads;
    if (p->out_dir) {
        char *dir = strdup(p->out_dir);
        if (!dir)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        free(R->r->out_dir);
        R->r->out_dir = dir;
    }
    R->threads = R->r->threads > 0 ? R->r->threads : available_cpus();
    loco_recipe_hash(R->r, R->hash);
    snprintf(R->s->out_dir, sizeof R->s->out_dir, "%s", R->r->out_dir);
    snprintf(R->ckpt_path, sizeof R->ckpt_path, "%s/checkpoint.bin", R->r->out_dir);
    snprintf(R->s->adapter_path, sizeof R->s->adapter_path, "%s/%s.gguf", R->r->out_dir,
             R->r->name);
    return LOCO_OK;
}

static int load_model_and_data(struct run *R)
{
    char msg[4300];
    if (loco_models_resolve(R->r->base, R->s->model_path, sizeof R->s->model_path) != LOCO_OK) {
        loco_error_prefix("%s: base", R->r->path);
        return LOCO_ERR_NOT_FOUND;
    }
    snprintf(msg, sizeof msg, "loading %s", R->s->model_path);
    run_emit(R, LOCO_TRAIN_PHASE_LOAD, msg);
    R->m = loco_model_load(R->s->model_path, loco_model_default_params());
    if (!R->m)
        return LOCO_ERR_IO;
    snprintf(msg, sizeof msg, "reading %s", R->r->data_file);
    run_emit(R, LOCO_TRAIN_PHASE_LOAD, msg);
    R->d = loco_train_data_load(R->r, R->m);
    if (!R->d)
        return LOCO_ERR_FORMAT;
    const struct loco_recipe *r = R->r;
    int64_t per_epoch = ((int64_t)R->d->n_train + r->batch - 1) / r->batch;
    R->total = r->max_steps > 0 ? r->max_steps : per_epoch * r->epochs;
    R->s->data = R->d->stats;
    R->s->n_train = R->d->n_train;
    R->s->n_val = R->d->n_val;
    R->s->total_steps = R->total;
    return LOCO_OK;
}

static int alloc_state(struct run *R)
{
    /* capacity rounded up to 8 tokens: keeps the core's scratch arrays aligned */
    int32_t max_seq = (R->d->stats.max_len + 7) & ~7;
    R->t = loco_trainer_create(R->m, &R->r->lora, max_seq, R->threads, R->r->seed);
    if (!R->t)
        return LOCO_ERR_INVALID;
    R->n_params = loco_trainer_n_params(R->t);
    R->s->n_params = R->n_params;
    R->adam_m = calloc(R->n_params ? R->n_params : 1, sizeof(float));
    R->adam_v = calloc(R->n_params ? R->n_params : 1, sizeof(float));
    R->loss = calloc((size_t)R->total + 1, sizeof(float));
    R->val = calloc((size_t)R->total + 2, sizeof *R->val);
    R->perm = calloc(R->d->n_train, sizeof *R->perm);
    R->perm_epoch = -1;
    R->rng = loco_rng_mix(R->r->seed, 0x64726f70 /* "drop" */, 0);
    if (!R->adam_m || !R->adam_v || !R->loss || !R->val || !R->perm)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the optimizer state");
    return LOCO_OK;
}

/* ---- checkpoints -------------------------------------------------------- */

static int save_checkpoint(struct run *R)
{
    struct loco_checkpoint c = {
        .n_params = R->n_params,
        .step = R->step,
        .total_steps = R->total,
        .examples_seen = R->examples_seen,
        .rng_state = R->rng,
        .tokens_seen = R->tokens_seen,
        .elapsed_s = R->elapsed_before + (loco_time_ms() - R->t0) / 1e3,
        .params = loco_trainer_params(R->t),
        .m = R->adam_m,
        .v = R->adam_v,
        .train_loss = R->loss,
        .val = R->val,
        .n_val = R->n_val,
    };
    memcpy(c.recipe_hash, R->hash, sizeof c.recipe_hash);
    int rc = loco_checkpoint_write(R->ckpt_path, &c);
    if (!rc)
        run_emit(R, LOCO_TRAIN_PHASE_CHECKPOINT, R->ckpt_path);
    return rc;
}

static int check_resumable(const struct run *R, const struct loco_checkpoint *c)
{
    if (strcmp(c->recipe_hash, R->hash) != 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s was written for a different recipe (or --max-steps); rerun "
                              "with --restart to start over, or restore the recipe it was made "
                              "with (a copy is %s/recipe.yaml)",
                              R->ckpt_path, R->r->out_dir);
    if (c->n_params != R->n_params || c->total_steps != R->total || c->step > R->total ||
        c->rng_state != R->rng || c->n_val > R->total + 2)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s does not fit this run (%llu parameters, %lld steps; this run "
                              "has %zu and %lld); rerun with --restart",
                              R->ckpt_path, (unsigned long long)c->n_params,
                              (long long)c->total_steps, R->n_params, (long long)R->total);
    return LOCO_OK;
}

/* Resume from OUT/checkpoint.bin when there is one. */
static int resume(struct run *R)
{
    if (R->p->restart) {
        remove(R->ckpt_path);
        return LOCO_OK;
    }
    struct loco_checkpoint c;
    int rc = loco_checkpoint_read(R->ckpt_path, &c);
    if (rc == LOCO_ERR_NOT_FOUND) {
        loco_error_clear();
        return LOCO_OK;
    }
    if (!rc)
        rc = check_resumable(R, &c);
    if (!rc) {
        memcpy(loco_trainer_params(R->t), c.params, R->n_params * sizeof(float));
        memcpy(R->adam_m, c.m, R->n_params * sizeof(float));
        memcpy(R->adam_v, c.v, R->n_params * sizeof(float));
        memcpy(R->loss, c.train_loss, (size_t)c.step * sizeof(float));
        memcpy(R->val, c.val, (size_t)c.n_val * sizeof *R->val);
        R->n_val = c.n_val;
        R->step = R->step0 = c.step;
        R->examples_seen = c.examples_seen;
        R->rng = c.rng_state;
        R->tokens_seen = R->tokens0 = c.tokens_seen;
        R->elapsed_before = c.elapsed_s;
        R->s->resumed_from = c.step;
    }
    loco_checkpoint_free(&c);
    return rc;
}

/* ---- the loop ----------------------------------------------------------- */

static int32_t n_targets(const struct loco_train_example *e)
{
    int32_t k = 0;
    for (int32_t i = 1; i < e->n; i++)
        k += e->target[i] != 0;
    return k;
}

/* Mean loss over the validation split, appended to the history. */
static int evaluate(struct run *R)
{
    double sum = 0;
    int64_t count = 0;
    for (size_t i = 0; i < R->d->n_val; i++) {
        const struct loco_train_example *e = &R->d->examples[R->d->val[i]];
        double ls = 0;
        int32_t nt = 0;
        int rc = loco_trainer_loss(R->t, e->tokens, e->target, e->n, &ls, &nt);
        if (rc)
            return rc;
        sum += ls;
        count += nt;
    }
    if (!count)
        return LOCO_OK;
    R->val[R->n_val++] = (struct loco_val_point){R->step, (float)(sum / (double)count)};
    run_emit(R, LOCO_TRAIN_PHASE_EVAL, NULL);
    return LOCO_OK;
}

/* One optimizer step over `batch` sequences: accumulate gradients of the
 * batch's mean target loss, clip, AdamW. */
static int train_step(struct run *R)
{
    const struct loco_recipe *r = R->r;
    size_t idx[256], n_micro = (size_t)r->batch;
    int64_t total_targets = 0;
    size_t *ids = n_micro <= 256 ? idx : malloc(n_micro * sizeof *ids);
    if (!ids)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < n_micro; j++) {
        ids[j] = loco_train_data_order(R->d, r->seed, R->examples_seen + (int64_t)j, R->perm,
                                       &R->perm_epoch);
        total_targets += n_targets(&R->d->examples[ids[j]]);
    }
    loco_trainer_zero_grads(R->t);
    double loss_sum = 0;
    int rc = LOCO_OK;
    for (size_t j = 0; j < n_micro && !rc; j++) {
        const struct loco_train_example *e = &R->d->examples[ids[j]];
        double ls = 0;
        int32_t nt = 0;
        rc = loco_trainer_forward_backward(R->t, e->tokens, e->target, e->n,
                                           total_targets ? 1.0f / (float)total_targets : 0.0f,
                                           loco_rng_mix(R->rng, (uint64_t)R->step, j), &ls, &nt);
        loss_sum += ls;
        R->tokens_seen += e->n;
    }
    if (ids != idx)
        free(ids);
    if (rc)
        return rc;
    float *grads = loco_trainer_grads(R->t);
    loco_grad_clip(grads, R->n_params, r->clip);
    double lr = loco_lr_at(R->step, R->total, r->warmup_steps, r->lr, r->min_lr);
    struct loco_adamw_params h = {r->beta1, r->beta2, r->eps, r->weight_decay};
    loco_adamw_update(loco_trainer_params(R->t), grads, R->adam_m, R->adam_v, R->n_params, lr, &h,
                      R->step + 1);
    R->loss[R->step] = total_targets ? (float)(loss_sum / (double)total_targets) : 0.0f;
    R->examples_seen += (int64_t)n_micro;
    R->step++;
    return LOCO_OK;
}

static bool stop_requested(const struct run *R)
{
    return R->p->stop && *R->p->stop;
}

static int train_loop(struct run *R)
{
    const struct loco_recipe *r = R->r;
    int rc = LOCO_OK;
    if (R->step == 0 && R->n_val == 0)
        rc = evaluate(R);
    while (!rc && R->step < R->total) {
        if (stop_requested(R)) {
            R->s->interrupted = true;
            return save_checkpoint(R);
        }
        rc = train_step(R);
        if (!rc)
            run_emit(R, LOCO_TRAIN_PHASE_STEP, NULL);
        if (!rc && r->eval_every && R->step % r->eval_every == 0 && R->step < R->total)
            rc = evaluate(R);
        if (!rc && r->checkpoint_every && R->step % r->checkpoint_every == 0 && R->step < R->total)
            rc = save_checkpoint(R);
    }
    if (!rc && (R->n_val == 0 || R->val[R->n_val - 1].step != R->total))
        rc = evaluate(R);
    if (!rc)
        rc = save_checkpoint(R); /* a rerun of a finished run only rewrites the outputs */
    return rc;
}

/* ---- entry point -------------------------------------------------------- */

static void run_free(struct run *R)
{
    loco_trainer_free(R->t);
    loco_train_data_free(R->d);
    loco_model_free(R->m);
    loco_recipe_free(R->r);
    free(R->adam_m);
    free(R->adam_v);
    free(R->loss);
    free(R->val);
    free(R->perm);
}

static void fill_summary(struct run *R)
{
    struct loco_train_summary *s = R->s;
    double secs = (loco_time_ms() - R->t0) / 1e3;
    s->steps = R->step;
    s->train_s = R->elapsed_before + secs;
    s->tokens_per_s = secs > 0 ? (double)(R->tokens_seen - R->tokens0) / secs : 0;
    if (R->n_val && R->val[0].step == 0)
        s->val_before = R->val[0].loss;
    if (R->n_val && R->val[R->n_val - 1].step == R->total)
        s->val_after = R->val[R->n_val - 1].loss;
}

int loco_train_run(const char *recipe_path, const struct loco_train_params *p,
                   struct loco_train_summary *out)
{
    struct loco_train_params defaults = loco_train_default_params();
    struct run R = {.p = p ? p : &defaults, .s = out};
    memset(out, 0, sizeof *out);
    out->val_before = out->val_after = NAN;
    R.t0 = loco_time_ms();
    int rc = load_recipe(&R, recipe_path);
    if (!rc)
        rc = load_model_and_data(&R);
    if (!rc && R.p->dry_run) {
        run_free(&R);
        return LOCO_OK;
    }
    if (!rc)
        rc = loco_models_mkdirs(R.r->out_dir);
    if (!rc)
        rc = alloc_state(&R);
    if (!rc)
        rc = resume(&R);
    if (!rc) {
        R.t0 = loco_time_ms();
        rc = train_loop(&R);
    }
    if (!rc)
        fill_summary(&R);
    if (!rc && !out->interrupted)
        rc = run_finish(&R);
    if (!rc)
        run_emit(&R, LOCO_TRAIN_PHASE_DONE, out->adapter_path);
    run_free(&R);
    return rc;
}
