/*
 * cmd-bench.c - `loco bench`: prompt and generation speed, llama-bench style.
 *
 * pp512: one decode call of 512 random tokens; tg128: 128 single-token
 * decodes; each after an untimed warm-up, repeated (default 5) on a cleared
 * cache, reported as mean +- standard deviation of tokens/s (facts G.2).
 * Then the memory bandwidth (STREAM triad) and the generation roofline:
 * bandwidth / bytes of weights read per generated token.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli-engine.h"
#include "commands.h"
#include "loco/bench.h"
#include "loco/models.h"

struct bench_opts {
    const char *model;
    int threads[16];
    int n_threads;
    int n_prompt, n_gen, reps;
    bool no_stream;
};

static void bench_help(FILE *out)
{
    fprintf(out, "usage: loco bench [--model NAME|PATH] [--threads N[,N...]] [-p N] [-n N] "
                 "[-r N]\n\n"
                 "Measures prompt processing (ppN) and generation (tgN) speed in tokens/s,\n"
                 "peak memory, memory bandwidth and the generation roofline.\n\n"
                 "  --model NAME|PATH   model to measure (default: default)\n"
                 "  --threads LIST      thread counts, e.g. 1,2 (default: all CPUs)\n"
                 "  -p N                prompt length (default: 512)\n"
                 "  -n N                generated tokens (default: 128)\n"
                 "  -r N                repetitions (default: 5)\n"
                 "  --no-stream         skip the bandwidth probe\n");
}

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

/* warm-up + reps of one test; prints its row */
static int bench_test(struct loco_context *c, const struct bench_opts *o, bool pp, int threads,
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
    char test[32];
    snprintf(test, sizeof test, "%s%d", pp ? "pp" : "tg", n);
    printf("| %7d | %-7s | %9.2f ± %-5.2f |\n", threads, test, out->mean, out->sd);
    fflush(stdout);
    return LOCO_OK;
}

static int parse_bench(int argc, char **argv, struct bench_opts *o)
{
    o->model = "default";
    o->n_threads = 1;
    o->threads[0] = cli_default_threads();
    o->n_prompt = 512;
    o->n_gen = 128;
    o->reps = 5;
    for (int i = 1; i < argc; i++) {
        const char *v;
        long n;
        if (cli_is_help(argv[i])) {
            bench_help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--no-stream") == 0) {
            o->no_stream = true;
        } else if (cli_opt(argc, argv, &i, "--model", &v)) {
            o->model = v;
        } else if (cli_opt(argc, argv, &i, "--threads", &v)) {
            o->n_threads = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && o->n_threads < 16;
                 t = strtok_r(NULL, ",", &save)) {
                if (!cli_parse_int("--threads", t, 1, 512, &n))
                    return -1;
                o->threads[o->n_threads++] = (int)n;
            }
        } else if (cli_opt(argc, argv, &i, "-p", &v)) {
            if (!cli_parse_int("-p", v, 1, 8192, &n))
                return -1;
            o->n_prompt = (int)n;
        } else if (cli_opt(argc, argv, &i, "-n", &v)) {
            if (!cli_parse_int("-n", v, 1, 8192, &n))
                return -1;
            o->n_gen = (int)n;
        } else if (cli_opt(argc, argv, &i, "-r", &v)) {
            if (!cli_parse_int("-r", v, 1, 64, &n))
                return -1;
            o->reps = (int)n;
        } else {
            fprintf(stderr, "loco bench: unknown option '%s' (see loco bench --help)\n", argv[i]);
            return -1;
        }
    }
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

static int bench_threads(const struct loco_model *m, const struct bench_opts *o, int threads,
                         const int32_t *toks, double *tg_out)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = o->n_prompt + o->n_gen;
    cp.n_batch = o->n_prompt;
    cp.n_threads = threads;
    struct loco_context *c = loco_context_init(m, cp);
    if (!c)
        return LOCO_ERR_NOMEM;
    struct stats pp, tg;
    int rc = bench_test(c, o, true, threads, toks, &pp);
    if (rc == LOCO_OK)
        rc = bench_test(c, o, false, threads, toks, &tg);
    *tg_out = tg.mean;
    loco_context_free(c);
    return rc;
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
    print_header(m, path);
    double tg[16] = {0};
    int rc = toks ? LOCO_OK : LOCO_ERR_NOMEM;
    for (int t = 0; rc == LOCO_OK && t < o.n_threads; t++)
        rc = bench_threads(m, &o, o.threads[t], toks, &tg[t]);
    if (rc == LOCO_OK) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        size_t bytes_tok = loco_model_weight_bytes_per_token(m);
        printf("\npeak RSS: %.1f MiB (model file %.1f MiB, mmapped)\n", ru.ru_maxrss / 1024.0,
               (double)loco_model_weight_bytes(m) / (1 << 20));
        printf("weights read per generated token: %.1f MiB\n", (double)bytes_tok / (1 << 20));
        for (int t = 0; !o.no_stream && t < o.n_threads; t++) {
            double gbs = loco_bench_stream_triad_gbs(64u << 20, o.threads[t], 5);
            double roof = gbs * 1e9 / (double)bytes_tok;
            printf("threads %d: triad bandwidth %.2f GB/s, roofline %.1f t/s, tg%d at %.0f%% "
                   "of roofline\n",
                   o.threads[t], gbs, roof, o.n_gen, 100.0 * tg[t] / roof);
        }
    }
    free(toks);
    loco_model_free(m);
    return rc == LOCO_OK ? 0 : cli_fail("bench failed");
}
