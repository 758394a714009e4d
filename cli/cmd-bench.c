/*
 * cmd-bench.c - `loco bench`: prompt and generation speed, llama-bench style.
 *
 * pp512: one decode call of 512 random tokens; tg128: 128 single-token
 * decodes; each after an untimed warm-up, repeated (default 5) on a cleared
 * cache, reported as mean +- standard deviation of tokens/s (docs/generation.md).
 * Then the memory bandwidth (STREAM triad) and the generation roofline:
 * bandwidth / bytes of weights read per generated token.
 *
 * --load N measures everything again while N child processes spin on the
 * CPU, the way other programs on a laptop compete for its cores, and prints
 * those figures beside the quiet ones. The children are killed and reaped
 * when the measurement ends, when it fails, and on SIGINT/SIGTERM; each
 * also asks the kernel to kill it if loco dies first.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli-engine.h"
#include "commands.h"
#include "loco/bench.h"
#include "loco/models.h"

struct bench_opts {
    const char *model;
    int threads[16];
    int n_threads;
    int n_prompt, n_gen, reps;
    int load; /* competing busy processes for the second measurement */
    bool no_stream;
    bool json; /* one JSON object at the end instead of the tables */
};

#define MAX_LOAD 64

static const char bench_usage[] =
    "usage: loco bench [--model NAME|PATH] [--threads N[,N...]] [-p N] [-n N] [-r N] [--load N]\n\n"
    "Measures prompt processing (ppN) and generation (tgN) speed in tokens/s,\n"
    "peak memory, memory bandwidth and the generation roofline.\n\n"
    "options:\n";

struct stats {
    double mean, sd;
};

static struct stats summarize(const double *v, int n)
{
    struct stats s = {0, 0};
    for (int i = 0; i < n; i++)
        s.mean += v[i] / n;
    for (int i = 0; i < n && n > 1; i++)
        s.sd += (v[i] - s.mean) * (v[i] - s.mean) / (n - 1);
    s.sd = sqrt(s.sd);
    return s;
}

static int run_pp(struct loco_context *c, const int32_t *toks, int n, double *tps)
{
    int32_t *pos = malloc((size_t)n * sizeof *pos), *seq = calloc((size_t)n, sizeof *seq);
    if (!pos || !seq) {
        free(pos);
        free(seq);
        return LOCO_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++)
        pos[i] = i;
    loco_context_seq_clear(c, 0);
    struct loco_batch b = {.n = n, .tokens = toks, .pos = pos, .seq = seq};
    double t0 = loco_time_ms();
    int rc = loco_decode(c, &b);
    *tps = 1e3 * n / (loco_time_ms() - t0);
    free(pos);
    free(seq);
    return rc;
}

static int run_tg(struct loco_context *c, const int32_t *toks, int n, double *tps)
{
    loco_context_seq_clear(c, 0);
    double t0 = loco_time_ms();
    for (int i = 0; i < n; i++) {
        int32_t pos = i, seq = 0;
        struct loco_batch b = {.n = 1, .tokens = &toks[i], .pos = &pos, .seq = &seq};
        int rc = loco_decode(c, &b);
        if (rc)
            return rc;
    }
    *tps = 1e3 * n / (loco_time_ms() - t0);
    return LOCO_OK;
}

/* warm-up + reps of one test */
static int bench_test(struct loco_context *c, const struct bench_opts *o, bool pp,
                      const int32_t *toks, struct stats *out)
{
    int n = pp ? o->n_prompt : o->n_gen;
    double v[64], ignore;
    int rc = pp ? run_pp(c, toks, n, &ignore) : run_tg(c, toks, n < 16 ? n : 16, &ignore);
    for (int r = 0; rc == LOCO_OK && r < o->reps; r++)
        rc = pp ? run_pp(c, toks, n, &v[r]) : run_tg(c, toks, n, &v[r]);
    if (rc)
        return rc;
    *out = summarize(v, o->reps);
    return LOCO_OK;
}

/* "1,2,4" into o->threads; false after saying why. */
static bool parse_thread_list(const char *list, struct bench_opts *o)
{
    int n = 0;
    struct cli_option row = CLI_OPT_INT(0, "threads", &n, "N", 1, 512, NULL);
    char item[32], err[256];
    o->n_threads = 0;
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), p);
        if (o->n_threads == 16 || !cli_opt_set(&row, item, err, sizeof err)) {
            cli_errorf("%s", o->n_threads == 16 ? "--threads: at most 16 thread counts" : err);
            return false;
        }
        o->threads[o->n_threads++] = n;
        p += len;
        if (!*p)
            return true;
    }
}

/* 1 to run, 0 after --help, -1 after a bad command line (said why). */
static int parse_bench(int argc, char **argv, struct bench_opts *o)
{
    _Static_assert(MAX_LOAD == 64, "the help says max 64");
    o->model = "default";
    o->n_threads = 1;
    o->threads[0] = cli_default_threads();
    o->n_prompt = 512;
    o->n_gen = 128;
    o->reps = 5;
    const char *threads = NULL;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "model", &o->model, "NAME|PATH", "model to measure (default: default)"),
        CLI_OPT_STRING(0, "threads", &threads, "LIST",
                       "thread counts, e.g. 1,2 (default: all CPUs)"),
        CLI_OPT_INT('p', NULL, &o->n_prompt, "N", 1, 8192, "prompt length (default: 512)"),
        CLI_OPT_INT('n', NULL, &o->n_gen, "N", 1, 8192, "generated tokens (default: 128)"),
        CLI_OPT_INT('r', NULL, &o->reps, "N", 1, 64, "repetitions (default: 5)"),
        CLI_OPT_FLAG(0, "no-stream", &o->no_stream, "skip the bandwidth probe"),
        CLI_OPT_INT(0, "load", &o->load, "N", 0, MAX_LOAD,
                    "then measure again while N processes spin on the CPU\n"
                    "(a busy machine), and print both (default: 0, max 64);\n"
                    "the processes are killed when the bench ends"),
        CLI_OPT_FLAG(0, "json", &o->json, "the figures as one JSON object"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"bench", bench_usage, NULL, opts, 0, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return n_args == CLI_OPT_HELP ? 0 : -1;
    if (threads && !parse_thread_list(threads, o))
        return -1;
    return 1;
}

static void print_header(const struct loco_model *m, const char *path)
{
    const struct loco_hparams *hp = loco_model_hparams(m);
    printf("model: %s (%s, %.1f MiB, %.1f M params, kernels: %s)\n\n", path, hp->arch_name,
           (double)loco_model_weight_bytes(m) / (1 << 20), (double)loco_model_n_params(m) / 1e6,
           loco_quant_kernel_set());
    printf("| threads | test    |             t/s |\n|--------:|---------|----------------:|\n");
}

/* pp and tg of one thread count */
struct bench_row {
    struct stats pp, tg;
};

static void print_row(const struct bench_opts *o, int threads, const struct bench_row *r)
{
    printf("| %7d | pp%-5d | %9.2f ± %-5.2f |\n", threads, o->n_prompt, r->pp.mean, r->pp.sd);
    printf("| %7d | tg%-5d | %9.2f ± %-5.2f |\n", threads, o->n_gen, r->tg.mean, r->tg.sd);
    fflush(stdout);
}

static int bench_threads(const struct loco_model *m, const struct bench_opts *o, int threads,
                         const int32_t *toks, struct bench_row *out)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = o->n_prompt + o->n_gen;
    cp.n_batch = o->n_prompt;
    cp.n_threads = threads;
    struct loco_context *c = loco_context_init(m, cp);
    if (!c)
        return LOCO_ERR_NOMEM;
    int rc = bench_test(c, o, true, toks, &out->pp);
    if (rc == LOCO_OK)
        rc = bench_test(c, o, false, toks, &out->tg);
    loco_context_free(c);
    return rc;
}

/* ---- a competing load -------------------------------------------------- */

/* The busy children; a signal handler reads them, so only whole entries
 * below load_n are valid. */
static pid_t load_pids[MAX_LOAD];
static volatile sig_atomic_t load_n;

static void kill_load(void) /* async-signal-safe: kill and waitpid only */
{
    for (int i = 0; i < load_n; i++)
        kill(load_pids[i], SIGKILL);
    for (int i = 0; i < load_n; i++)
        while (waitpid(load_pids[i], NULL, 0) < 0 && errno == EINTR)
            ;
    load_n = 0;
}

static void on_fatal_signal(int sig)
{
    int saved = errno;
    kill_load();
    signal(sig, SIG_DFL);
    raise(sig);
    errno = saved;
}

/* A child: spin until killed, or until the parent dies. */
static _Noreturn void spin(pid_t parent)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the parent died before prctl */
        _exit(0);
    for (volatile unsigned long x = 0;; x++)
        ;
}

static bool start_load(int n, bool quiet)
{
    struct sigaction sa = {.sa_handler = on_fatal_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    pid_t parent = getpid();
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "loco bench: cannot start load process %d of %d: %s\n", i + 1, n,
                    strerror(errno));
            kill_load();
            return false;
        }
        if (pid == 0)
            spin(parent);
        load_pids[i] = pid;
        load_n = i + 1;
    }
    if (!quiet) {
        printf("\ncompeting load: %d busy processes (pids", n);
        for (int i = 0; i < n; i++)
            printf(" %d", (int)load_pids[i]);
        printf(")\n");
        fflush(stdout);
    }
    usleep(200 * 1000); /* let them get going */
    return true;
}

static void stop_load(bool quiet)
{
    int n = load_n;
    kill_load();
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (n && !quiet)
        printf("competing load stopped: %d processes killed and reaped\n", n);
}

static void print_beside(const struct bench_opts *o, const struct bench_row *quiet,
                         const struct bench_row *loaded)
{
    printf("\n| threads | test    |       quiet t/s |  t/s, load %-4d | load/quiet |\n"
           "|--------:|---------|----------------:|----------------:|-----------:|\n",
           o->load);
    for (int t = 0; t < o->n_threads; t++) {
        const struct stats *q[2] = {&quiet[t].pp, &quiet[t].tg};
        const struct stats *l[2] = {&loaded[t].pp, &loaded[t].tg};
        for (int k = 0; k < 2; k++)
            printf("| %7d | %s%-5d | %9.2f ± %-5.2f | %9.2f ± %-5.2f | %9.2fx |\n", o->threads[t],
                   k ? "tg" : "pp", k ? o->n_gen : o->n_prompt, q[k]->mean, q[k]->sd, l[k]->mean,
                   l[k]->sd, q[k]->mean > 0 ? l[k]->mean / q[k]->mean : 0);
    }
}

/* Every thread count quiet (printed as it goes), then with --load every one
 * again under the load, and both side by side. */
static int bench_all(const struct loco_model *m, const struct bench_opts *o, const int32_t *toks,
                     struct bench_row *quiet, struct bench_row *loaded)
{
    int rc = LOCO_OK;
    for (int t = 0; rc == LOCO_OK && t < o->n_threads; t++)
        if ((rc = bench_threads(m, o, o->threads[t], toks, &quiet[t])) == LOCO_OK && !o->json)
            print_row(o, o->threads[t], &quiet[t]);
    if (rc != LOCO_OK || o->load == 0)
        return rc;
    if (!start_load(o->load, o->json))
        return LOCO_ERR_INVALID;
    for (int t = 0; rc == LOCO_OK && t < o->n_threads; t++)
        rc = bench_threads(m, o, o->threads[t], toks, &loaded[t]);
    stop_load(o->json);
    if (rc == LOCO_OK && !o->json)
        print_beside(o, quiet, loaded);
    return rc;
}

static cJSON *stats_json(const struct stats *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "tokens_per_s", s->mean);
    cJSON_AddNumberToObject(o, "sd", s->sd);
    return o;
}

/* Everything the tables say, as one object on stdout. */
static void print_json(const struct loco_model *m, const char *path, const struct bench_opts *o,
                       const struct bench_row *quiet, const struct bench_row *loaded,
                       double peak_rss_kib, const double *triad_gbs)
{
    const struct loco_hparams *hp = loco_model_hparams(m);
    size_t bytes_tok = loco_model_weight_bytes_per_token(m);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", path);
    cJSON_AddStringToObject(j, "architecture", hp->arch_name);
    cJSON_AddNumberToObject(j, "weight_bytes", (double)loco_model_weight_bytes(m));
    cJSON_AddNumberToObject(j, "params", (double)loco_model_n_params(m));
    cJSON_AddStringToObject(j, "kernels", loco_quant_kernel_set());
    cJSON_AddNumberToObject(j, "prompt_tokens", o->n_prompt);
    cJSON_AddNumberToObject(j, "generated_tokens", o->n_gen);
    cJSON_AddNumberToObject(j, "repetitions", o->reps);
    cJSON_AddNumberToObject(j, "load", o->load);
    cJSON *rows = cJSON_AddArrayToObject(j, "results");
    for (int t = 0; t < o->n_threads; t++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "threads", o->threads[t]);
        cJSON_AddItemToObject(r, "pp", stats_json(&quiet[t].pp));
        cJSON_AddItemToObject(r, "tg", stats_json(&quiet[t].tg));
        if (o->load) {
            cJSON *l = cJSON_AddObjectToObject(r, "under_load");
            cJSON_AddItemToObject(l, "pp", stats_json(&loaded[t].pp));
            cJSON_AddItemToObject(l, "tg", stats_json(&loaded[t].tg));
        }
        if (!o->no_stream) {
            double roof = triad_gbs[t] * 1e9 / (double)bytes_tok;
            cJSON_AddNumberToObject(r, "triad_gb_per_s", triad_gbs[t]);
            cJSON_AddNumberToObject(r, "roofline_tokens_per_s", roof);
        }
        cJSON_AddItemToArray(rows, r);
    }
    cJSON_AddNumberToObject(j, "peak_rss_bytes", peak_rss_kib * 1024.0);
    cJSON_AddNumberToObject(j, "weight_bytes_per_token", (double)bytes_tok);
    char *text = cJSON_Print(j);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(j);
}

/* The bandwidth and roofline lines under the tables. */
static void print_memory(const struct loco_model *m, const struct bench_opts *o,
                         const struct bench_row *quiet, double peak_rss_kib,
                         const double *triad_gbs)
{
    size_t bytes_tok = loco_model_weight_bytes_per_token(m);
    printf("\npeak RSS: %.1f MiB (model file %.1f MiB, mmapped)\n", peak_rss_kib / 1024.0,
           (double)loco_model_weight_bytes(m) / (1 << 20));
    printf("weights read per generated token: %.1f MiB\n", (double)bytes_tok / (1 << 20));
    for (int t = 0; !o->no_stream && t < o->n_threads; t++) {
        double roof = triad_gbs[t] * 1e9 / (double)bytes_tok;
        printf("threads %d: triad bandwidth %.2f GB/s, roofline %.1f t/s, tg%d at %.0f%% "
               "of roofline\n",
               o->threads[t], triad_gbs[t], roof, o->n_gen, 100.0 * quiet[t].tg.mean / roof);
    }
}

int cmd_bench(int argc, char **argv)
{
    struct bench_opts o = {0};
    int pr = parse_bench(argc, argv, &o);
    if (pr <= 0)
        return pr == 0 ? 0 : 2;
    char path[4096];
    if (loco_models_resolve(o.model, path, sizeof path) != LOCO_OK)
        return cli_fail("cannot find the model");
    struct loco_model *m = loco_model_load(path, loco_model_default_params());
    if (!m)
        return cli_fail("cannot load the model");
    int n_tok = o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen;
    int32_t *toks = malloc((size_t)n_tok * sizeof *toks);
    uint64_t x = 42;
    for (int i = 0; toks && i < n_tok; i++) { /* random ids, like llama-bench */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((x >> 33) % (uint64_t)loco_model_hparams(m)->n_vocab);
    }
    if (!o.json)
        print_header(m, path);
    struct bench_row quiet[16] = {0}, loaded[16] = {0};
    int rc = toks ? bench_all(m, &o, toks, quiet, loaded) : LOCO_ERR_NOMEM;
    struct rusage ru; /* the peak before the bandwidth probe's buffers */
    getrusage(RUSAGE_SELF, &ru);
    double triad_gbs[16] = {0};
    for (int t = 0; rc == LOCO_OK && !o.no_stream && t < o.n_threads; t++)
        triad_gbs[t] = loco_bench_stream_triad_gbs(64u << 20, o.threads[t], 5);
    if (rc == LOCO_OK && o.json)
        print_json(m, path, &o, quiet, loaded, (double)ru.ru_maxrss, triad_gbs);
    else if (rc == LOCO_OK)
        print_memory(m, &o, quiet, (double)ru.ru_maxrss, triad_gbs);
    free(toks);
    loco_model_free(m);
    return rc == LOCO_OK ? 0 : cli_fail("bench failed");
}
