/*
 * cmd-train.c - `loco train RECIPE.yaml`: train a LoRA adapter from a
 * recipe, resuming from OUT/checkpoint.bin when a run was interrupted.
 *
 * The work is loco_train_run() (loco/trainrun.h); this file parses the
 * flags, prints progress on stderr (one updating line on a terminal, plain
 * lines otherwise) and the summary on stdout. Ctrl-C asks the run to write
 * a checkpoint and stop; a second Ctrl-C kills it.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
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

static void train_help(FILE *out)
{
    fprintf(out,
            "usage: loco train [options] RECIPE.yaml\n\n"
            "Trains a LoRA adapter as the recipe says (see docs/training.md) and writes\n"
            "NAME.gguf, loss.svg, recipe.yaml and TRAINING_LOG.md to its output folder.\n"
            "Rerunning the same command resumes from OUT/checkpoint.bin.\n\n"
            "  --out DIR          output folder (default: the recipe's output.dir)\n"
            "  --threads N        CPU threads (default: the recipe's, else all available)\n"
            "  --max-steps N      stop after N optimizer steps (changes the schedule)\n"
            "  --restart          ignore an existing checkpoint and start over\n"
            "  --dry-run          parse the recipe, load the data, print counts; no training\n");
}

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

static int parse_flags(int argc, char **argv, struct loco_train_params *p, const char **recipe)
{
    const char *v;
    long n;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            train_help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--restart") == 0) {
            p->restart = true;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            p->dry_run = true;
        } else if (cli_opt(argc, argv, &i, "--out", &v)) {
            p->out_dir = v;
        } else if (cli_opt(argc, argv, &i, "--threads", &v)) {
            if (!cli_parse_int("--threads", v, 1, 1024, &n))
                return 2;
            p->threads = (int32_t)n;
        } else if (cli_opt(argc, argv, &i, "--max-steps", &v)) {
            if (!cli_parse_int("--max-steps", v, 1, 1L << 40, &n))
                return 2;
            p->max_steps = n;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "loco train: unknown option '%s' (see loco train --help)\n", argv[i]);
            return 2;
        } else if (*recipe) {
            fprintf(stderr, "loco train: one recipe at a time ('%s' and '%s')\n", *recipe, argv[i]);
            return 2;
        } else {
            *recipe = argv[i];
        }
    }
    if (!*recipe) {
        fprintf(stderr, "loco train: no recipe given (see loco train --help)\n");
        return 2;
    }
    return -1;
}

int cmd_train(int argc, char **argv)
{
    struct loco_train_params p = loco_train_default_params();
    const char *recipe = NULL;
    int status = parse_flags(argc, argv, &p, &recipe);
    if (status >= 0)
        return status;
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
    if (p.dry_run)
        print_data(&s);
    else
        print_summary(&s);
    return s.interrupted ? 130 : 0;
}
