/*
 * finish.c - what a finished run leaves in its output folder:
 *   NAME.gguf         the adapter (F16), with the recipe and the run's
 *                     numbers as locollm.train.* provenance keys;
 *   loss.svg          the loss curve;
 *   recipe.yaml       the recipe, byte for byte;
 *   TRAINING_LOG.md   the log template filled in, with a side-by-side of
 *                     base and adapter answers on held-out prompts.
 * The adapter holds nothing that depends on time or on interruptions, so a
 * resumed run writes the same bytes as an uninterrupted one.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loco/generate.h"
#include "loco/lora.h"
#include "train/run/run_state.h"

/* ---- the adapter -------------------------------------------------------- */

#define N_PROV 10

static void fmt_loss(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "n/a");
    else
        snprintf(buf, cap, "%.4f", v);
}

static int save_adapter(struct run *R)
{
    const struct loco_recipe *r = R->r;
    char seed[32], n_train[32], n_val[32], steps[32], tokens[32], vb[32], va[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    snprintf(n_train, sizeof n_train, "%zu", R->d->n_train);
    snprintf(n_val, sizeof n_val, "%zu", R->d->n_val);
    snprintf(steps, sizeof steps, "%lld", (long long)R->step);
    snprintf(tokens, sizeof tokens, "%lld", (long long)R->tokens_seen);
    fmt_loss(vb, sizeof vb, R->s->val_before);
    fmt_loss(va, sizeof va, R->s->val_after);
    const char *keys[N_PROV] = {
        "locollm.train.recipe",  "locollm.train.recipe_sha256", "locollm.train.seed",
        "locollm.train.data",    "locollm.train.examples",      "locollm.train.val_examples",
        "locollm.train.steps",   "locollm.train.tokens",        "locollm.train.val_loss_before",
        "locollm.train.val_loss"};
    const char *values[N_PROV] = {r->text, R->hash, seed,   r->data_path, n_train,
                                  n_val,   steps,   tokens, vb,           va};
    int rc = loco_model_sha256(R->m, R->base_sha);
    if (rc)
        return rc;
    struct loco_adapter_meta meta = {
        .base_sha256 = R->base_sha,
        .base_name = r->base,
        .name = r->name,
        .domain = r->domain[0] ? r->domain : NULL,
        .extra_keys = keys,
        .extra_values = values,
        .n_extra = N_PROV,
    };
    return loco_trainer_save_adapter(R->t, R->s->adapter_path, &meta, LOCO_TYPE_F16);
}

/* ---- side by side ------------------------------------------------------- */

static void fenced(FILE *f, const char *title, const char *text, size_t max)
{
    size_t n = strlen(text);
    fprintf(f, "**%s**\n\n~~~~text\n%.*s%s\n~~~~\n\n", title, (int)(n > max ? max : n), text,
            n > max ? " [...]" : "");
}

static int answer(struct loco_context *ctx, const struct loco_model *m,
                  const struct loco_train_example *e, const struct loco_adapter *a,
                  int32_t max_tokens, char **out)
{
    struct loco_adapter_ref ref = {.adapter = a, .scale = 1.0f};
    int rc = loco_context_set_adapters(ctx, 0, a ? &ref : NULL, a ? 1 : 0);
    if (rc)
        return rc;
    loco_context_seq_clear(ctx, 0);
    struct loco_generate_params gp = loco_generate_default_params();
    gp.max_tokens = max_tokens;
    gp.sampling.temperature = 0; /* greedy */
    gp.sampling.repeat_penalty = 1;
    struct loco_generate_result res = {0};
    rc = loco_generate(ctx, 0, loco_model_tokenizer(m), e->tokens, (size_t)e->n_prompt, &gp, NULL,
                       NULL, &res);
    if (!rc) {
        *out = res.text;
        res.text = NULL;
    }
    loco_generate_result_free(&res);
    return rc;
}

static int one_sample(struct run *R, struct loco_context *ctx, const struct loco_adapter *a,
                      int32_t i, FILE *f)
{
    const struct loco_train_example *e = &R->d->examples[R->d->val[i]];
    char *base = NULL, *tuned = NULL;
    int rc = answer(ctx, R->m, e, NULL, R->r->sample_tokens, &base);
    if (!rc)
        rc = answer(ctx, R->m, e, a, R->r->sample_tokens, &tuned);
    if (!rc) {
        fprintf(f, "### %d. Validation example from line %lld\n\n", i + 1, (long long)e->line);
        fenced(f, "Prompt", e->prompt, 1500);
        fenced(f, "Base model", base, 4000);
        fenced(f, "With the adapter", tuned, 4000);
        fenced(f, "Reference", e->reference, 4000);
    }
    free(base);
    free(tuned);
    return rc;
}

/* Markdown for the log's "Side by side" section (malloc'd). */
static int samples_markdown(struct run *R, char **out)
{
    int32_t n = R->r->samples < (int32_t)R->d->n_val ? R->r->samples : (int32_t)R->d->n_val;
    size_t len = 0;
    FILE *f = open_memstream(out, &len);
    if (!f)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (n <= 0) {
        fprintf(f, "(no samples: output.samples is 0 or there is no validation split)\n");
        fclose(f);
        return LOCO_OK;
    }
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = R->d->stats.max_len + R->r->sample_tokens + 8;
    cp.n_seq = 1;
    cp.n_batch = cp.n_ctx < 512 ? cp.n_ctx : 512;
    cp.n_threads = R->threads;
    struct loco_context *ctx = loco_context_init(R->m, cp);
    struct loco_adapter *a = ctx ? loco_adapter_load(R->s->adapter_path, R->m) : NULL;
    int rc = a ? LOCO_OK : LOCO_ERR_IO;
    char msg[64];
    for (int32_t i = 0; i < n && !rc; i++) {
        snprintf(msg, sizeof msg, "sample %d of %d", i + 1, n);
        run_emit(R, LOCO_TRAIN_PHASE_SAMPLE, msg);
        rc = one_sample(R, ctx, a, i, f);
    }
    fclose(f);
    loco_adapter_free(a);
    loco_context_free(ctx);
    return rc;
}

/* ---- the log ------------------------------------------------------------ */

static char *val_table(const struct run *R)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f, "| step | validation loss |\n|---:|---:|\n");
    for (int64_t i = 0; i < R->n_val; i++)
        fprintf(f, "| %lld | %.4f |\n", (long long)R->val[i].step, R->val[i].loss);
    fclose(f);
    return out;
}

static void selection_text(const struct loco_recipe *r, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + len, cap - len, __VA_ARGS__);                                      \
        if (w_ > 0 && (size_t)w_ < cap - len)                                                      \
            len += (size_t)w_;                                                                     \
    } while (0)
    if (r->range_field)
        ADD("%s in [%g, %g]; ", r->range_field, r->range_min, r->range_max);
    if (r->include_field)
        ADD("%s matches `%s`; ", r->include_field, r->include_regex);
    if (r->exclude_field)
        ADD("%s does not match `%s`; ", r->exclude_field, r->exclude_regex);
    if (r->offset || r->limit)
        ADD("offset %lld, limit %lld; ", (long long)r->offset, (long long)r->limit);
    ADD("validation %g (drawn with the seed)", r->validation);
#undef ADD
}

static void duration_text(double s, char *buf, size_t cap)
{
    long t = lround(s);
    snprintf(buf, cap, "%ldh %02ldm %02lds (%.0f s)", t / 3600, t / 60 % 60, t % 60, s);
}

/* The template's keys and values, built up section by section. */
struct kv {
    const char *keys[64];
    const char *values[64];
    char buf[64][96];
    size_t n;
};

static void kv_str(struct kv *kv, const char *key, const char *value)
{
    if (kv->n == 64)
        return;
    kv->keys[kv->n] = key;
    kv->values[kv->n++] = value ? value : "";
}

__attribute__((format(printf, 3, 4))) static void kv_fmt(struct kv *kv, const char *key,
                                                         const char *fmt, ...)
{
    if (kv->n == 64)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kv->buf[kv->n], sizeof kv->buf[kv->n], fmt, ap);
    va_end(ap);
    kv_str(kv, key, kv->buf[kv->n]);
}

static void kv_loss(struct kv *kv, const char *key, double v)
{
    if (isnan(v))
        kv_str(kv, key, "n/a");
    else
        kv_fmt(kv, key, "%.4f", v);
}

static void log_data(struct kv *kv, const struct run *R, char *sel, size_t cap)
{
    static const char *formats[] = {"instruction", "messages", "fields"};
    const struct loco_recipe *r = R->r;
    const struct loco_train_data_stats *st = &R->d->stats;
    selection_text(r, sel, cap);
    kv_str(kv, "data_path", r->data_path);
    kv_str(kv, "format", formats[r->format]);
    kv_str(kv, "selection", sel);
    kv_fmt(kv, "n_records", "%lld", (long long)st->n_records);
    kv_fmt(kv, "n_selected", "%lld", (long long)st->n_selected);
    kv_fmt(kv, "n_truncated", "%lld", (long long)st->n_truncated);
    kv_fmt(kv, "n_dropped", "%lld", (long long)st->n_dropped);
    kv_fmt(kv, "n_examples", "%zu", R->d->n_examples);
    kv_fmt(kv, "n_train", "%zu", R->d->n_train);
    kv_fmt(kv, "n_val", "%zu", R->d->n_val);
    kv_fmt(kv, "n_tokens", "%lld", (long long)st->n_tokens);
    kv_fmt(kv, "n_target", "%lld", (long long)st->n_target);
    kv_fmt(kv, "len_min", "%d", st->min_len);
    kv_fmt(kv, "len_mean", "%.1f", st->mean_len);
    kv_fmt(kv, "len_max", "%d", st->max_len);
    kv_fmt(kv, "max_tokens", "%d", r->max_tokens);
}

static void log_hparams(struct kv *kv, const struct run *R, char *targets, size_t cap)
{
    const struct loco_recipe *r = R->r;
    loco_recipe_targets_str(r->lora.targets, targets, cap);
    kv_fmt(kv, "rank", "%d", r->lora.rank);
    kv_fmt(kv, "alpha", "%g", r->lora.alpha);
    kv_fmt(kv, "dropout", "%g", r->lora.dropout);
    kv_str(kv, "targets", targets);
    kv_fmt(kv, "n_params", "%zu", R->n_params);
    kv_fmt(kv, "lr", "%g", r->lr);
    kv_fmt(kv, "beta1", "%g", r->beta1);
    kv_fmt(kv, "beta2", "%g", r->beta2);
    kv_fmt(kv, "eps", "%g", r->eps);
    kv_fmt(kv, "weight_decay", "%g", r->weight_decay);
    kv_fmt(kv, "warmup_steps", "%d", r->warmup_steps);
    kv_fmt(kv, "min_lr", "%g", r->min_lr);
    kv_fmt(kv, "steps", "%lld", (long long)R->step);
    kv_fmt(kv, "epochs_done", "%.2f", (double)R->examples_seen / (double)R->d->n_train);
    kv_fmt(kv, "batch", "%d", r->batch);
    kv_fmt(kv, "clip", "%g", r->clip);
    kv_fmt(kv, "seed", "%llu", (unsigned long long)r->seed);
    kv_fmt(kv, "sample_tokens", "%d", r->sample_tokens);
}

static void log_run(struct kv *kv, const struct run *R, char *cpu, size_t cap, char *dur,
                    size_t dcap)
{
    loco_cpu_model(cpu, cap);
    duration_text(R->s->train_s, dur, dcap);
    kv_str(kv, "cpu", cpu);
    kv_fmt(kv, "cores", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    kv_fmt(kv, "threads", "%d", R->threads);
    kv_str(kv, "duration", dur);
    kv_fmt(kv, "tokens_seen", "%lld", (long long)R->tokens_seen);
    kv_fmt(kv, "tokens_per_s", "%.0f",
           R->s->train_s > 0 ? (double)R->tokens_seen / R->s->train_s : 0);
    kv_loss(kv, "val_before", R->s->val_before);
    kv_loss(kv, "val_after", R->s->val_after);
}

static int write_log(struct run *R, const char *samples)
{
    const struct loco_recipe *r = R->r;
    struct kv *kv = calloc(1, sizeof *kv);
    char cpu[256], sel[1024], dur[64], date[64], targets[64], adapter[256];
    char *vt = val_table(R);
    if (!kv || !vt) {
        free(kv);
        free(vt);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    snprintf(adapter, sizeof adapter, "%s.gguf", r->name);
    kv_str(kv, "name", r->name);
    kv_str(kv, "adapter_file", adapter);
    kv_str(kv, "domain", r->domain[0] ? r->domain : "-");
    kv_str(kv, "base_model", R->s->model_path);
    kv_str(kv, "base_sha256", R->base_sha);
    kv_str(kv, "recipe_hash", R->hash);
    kv_str(kv, "date", date);
    kv_str(kv, "version", LOCO_VERSION);
    kv_str(kv, "val_table", vt);
    kv_str(kv, "samples", samples);
    log_data(kv, R, sel, sizeof sel);
    log_hparams(kv, R, targets, sizeof targets);
    log_run(kv, R, cpu, sizeof cpu, dur, sizeof dur);
    char *text = loco_template_fill(loco_train_log_template, kv->keys, kv->values, kv->n);
    free(vt);
    free(kv);
    if (!text)
        return LOCO_ERR_FORMAT;
    char path[4300];
    snprintf(path, sizeof path, "%s/TRAINING_LOG.md", r->out_dir);
    int rc = loco_file_write_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

int run_finish(struct run *R)
{
    char path[4300];
    int rc = save_adapter(R);
    snprintf(path, sizeof path, "%s/loss.svg", R->r->out_dir);
    if (!rc)
        rc = loco_train_write_svg(path, R->loss, R->step, R->val, R->n_val);
    snprintf(path, sizeof path, "%s/recipe.yaml", R->r->out_dir);
    if (!rc)
        rc = loco_file_write_atomic(path, R->r->text, R->r->text_len);
    char *samples = NULL;
    if (!rc)
        rc = samples_markdown(R, &samples);
    if (!rc)
        rc = write_log(R, samples);
    free(samples);
    return rc;
}
