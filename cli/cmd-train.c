/*
 * cmd-train.c - `loco train RECIPE.yaml`: train a LoRA adapter from a
 * recipe, resuming from OUT/checkpoint.bin when a run was interrupted.
 *
 * The work is loco_train_run() (loco/trainrun.h); this file parses the
 * flags, prints progress on stderr (one updating line on a terminal, plain
 * lines otherwise) and the summary on stdout. Ctrl-C asks the run to write
 * a checkpoint and stop; a second Ctrl-C kills it.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "loco/trainrun.h"

static volatile int stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
    signal(SIGINT, SIG_DFL);
}

static const char train_usage[] =
    "usage: loco train [options] RECIPE.yaml\n\n"
    "Trains a LoRA adapter as the recipe says (see docs/training.md) and writes\n"
    "NAME.gguf, loss.svg, recipe.yaml and TRAINING_LOG.md to its output folder.\n"
    "Rerunning the same command resumes from OUT/checkpoint.bin.\n\n"
    "options:\n";

static void format_secs(double s, char *buf, size_t cap)
{
    long t = lround(s);
    if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

struct printer {
    bool tty;
    bool open_line; /* an updating line is on screen */
};

static void end_line(struct printer *pr)
{
    if (pr->open_line)
        fputc('\n', stderr);
    pr->open_line = false;
}

static void print_step(struct printer *pr, const struct loco_train_progress *p)
{
    char eta[32];
    format_secs(p->eta_s, eta, sizeof eta);
    fprintf(stderr, "%sstep %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s%s",
            pr->tty ? "\r\033[K" : "", (long long)p->step, (long long)p->total, p->loss, p->lr,
            p->tokens_per_s, eta, pr->tty ? "" : "\n");
    pr->open_line = pr->tty;
}

static void on_progress(void *user, const struct loco_train_progress *p)
{
    struct printer *pr = user;
    switch (p->phase) {
    case LOCO_TRAIN_PHASE_STEP:
        print_step(pr, p);
        break;
    case LOCO_TRAIN_PHASE_EVAL:
        end_line(pr);
        fprintf(stderr, "validation loss at step %lld: %.4f\n", (long long)p->step, p->val_loss);
        break;
    case LOCO_TRAIN_PHASE_CHECKPOINT:
        if (!pr->tty)
            fprintf(stderr, "checkpoint at step %lld: %s\n", (long long)p->step, p->message);
        break;
    case LOCO_TRAIN_PHASE_LOAD:
    case LOCO_TRAIN_PHASE_SAMPLE:
        end_line(pr);
        fprintf(stderr, "%s\n", p->message);
        break;
    case LOCO_TRAIN_PHASE_DONE:
        end_line(pr);
        break;
    }
    fflush(stderr);
}

static void print_data(const struct loco_train_summary *s)
{
    const struct loco_train_data_stats *d = &s->data;
    printf("records %lld, selected %lld, truncated %lld, dropped %lld\n", (long long)d->n_records,
           (long long)d->n_selected, (long long)d->n_truncated, (long long)d->n_dropped);
    printf("examples %zu (train %zu, validation %zu)\n", s->n_train + s->n_val, s->n_train,
           s->n_val);
    printf("tokens %lld (targets %lld), per example min %d mean %.1f max %d; train split %lld\n",
           (long long)d->n_tokens, (long long)d->n_target, d->min_len, d->mean_len, d->max_len,
           (long long)d->train_tokens);
    printf("steps %lld\n", (long long)s->total_steps);
}

static void print_summary(const struct loco_train_summary *s)
{
    if (s->interrupted) {
        printf("interrupted at step %lld of %lld; rerun the same command to resume\n",
               (long long)s->steps, (long long)s->total_steps);
        return;
    }
    if (s->resumed_from)
        printf("resumed from step %lld\n", (long long)s->resumed_from);
    printf("trained %lld steps, %zu trainable parameters, %.0f tokens/s\n", (long long)s->steps,
           (size_t)s->n_params, s->tokens_per_s);
    printf("validation loss %.4f -> %.4f\n", s->val_before, s->val_after);
    printf("adapter: %s\nlog:     %s/TRAINING_LOG.md\n", s->adapter_path, s->out_dir);
}

/* NaN (not measured) as null. */
static void add_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

/* The summary (or with a dry run, the data counts) as one JSON object. */
static void print_json(const struct loco_train_summary *s, bool dry_run)
{
    const struct loco_train_data_stats *d = &s->data;
    cJSON *j = cJSON_CreateObject();
    cJSON *data = cJSON_AddObjectToObject(j, "data");
    cJSON_AddNumberToObject(data, "records", (double)d->n_records);
    cJSON_AddNumberToObject(data, "selected", (double)d->n_selected);
    cJSON_AddNumberToObject(data, "truncated", (double)d->n_truncated);
    cJSON_AddNumberToObject(data, "dropped", (double)d->n_dropped);
    cJSON_AddNumberToObject(data, "train", (double)s->n_train);
    cJSON_AddNumberToObject(data, "validation", (double)s->n_val);
    cJSON_AddNumberToObject(data, "tokens", (double)d->n_tokens);
    cJSON_AddNumberToObject(data, "target_tokens", (double)d->n_target);
    cJSON_AddNumberToObject(j, "total_steps", (double)s->total_steps);
    if (!dry_run) {
        cJSON_AddBoolToObject(j, "interrupted", s->interrupted);
        cJSON_AddNumberToObject(j, "steps", (double)s->steps);
        cJSON_AddNumberToObject(j, "resumed_from", (double)s->resumed_from);
        cJSON_AddNumberToObject(j, "trainable_parameters", (double)s->n_params);
        add_number(j, "tokens_per_s", s->tokens_per_s);
        add_number(j, "train_s", s->train_s);
        add_number(j, "validation_loss_before", s->val_before);
        add_number(j, "validation_loss_after", s->val_after);
        cJSON_AddStringToObject(j, "out_dir", s->out_dir);
        cJSON_AddStringToObject(j, "adapter", s->adapter_path);
    }
    cJSON_AddStringToObject(j, "model", s->model_path);
    char *text = cJSON_Print(j);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(j);
}

int cmd_train(int argc, char **argv)
{
    struct loco_train_params p = loco_train_default_params();
    int threads = 0;
    uint64_t max_steps = 0;
    bool json = false;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "out", &p.out_dir, "DIR",
                       "output folder (default: the recipe's output.dir)"),
        CLI_OPT_INT(0, "threads", &threads, "N", 1, 1024,
                    "CPU threads (default: the recipe's, else all available)"),
        CLI_OPT_U64_RANGE(0, "max-steps", &max_steps, "N", 1, (double)(1LL << 40),
                          "stop after N optimizer steps (changes the schedule)"),
        CLI_OPT_FLAG(0, "restart", &p.restart, "ignore an existing checkpoint and start over"),
        CLI_OPT_FLAG(0, "dry-run", &p.dry_run,
                     "parse the recipe, load the data, print counts; no training"),
        CLI_OPT_FLAG(0, "json", &json, "print the summary (or the counts) as JSON"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"train", train_usage, NULL, opts, 1, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 0) {
        cli_opt_errorf("train", "no recipe given (see loco train --help)");
        return 2;
    }
    const char *recipe = argv[0];
    if (cli_opt_seen(opts, "threads"))
        p.threads = threads;
    if (cli_opt_seen(opts, "max-steps"))
        p.max_steps = (int64_t)max_steps;
    struct printer pr = {.tty = isatty(STDERR_FILENO)};
    p.progress = on_progress;
    p.user = &pr;
    p.stop = &stop_flag;
    signal(SIGINT, on_sigint);
    struct loco_train_summary s;
    int rc = loco_train_run(recipe, &p, &s);
    end_line(&pr);
    signal(SIGINT, SIG_DFL);
    if (rc != LOCO_OK)
        return cli_fail("train failed");
    if (json)
        print_json(&s, p.dry_run);
    else if (p.dry_run)
        print_data(&s);
    else
        print_summary(&s);
    return s.interrupted ? 130 : 0;
}
