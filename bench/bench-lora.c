/*
 * bench-lora.c - what LoRA adapters cost at run time on the default model.
 *
 *   load      first load of an adapter file (mmap + binding), ms
 *   swap      changing sequence 0's adapter set between two requests, us
 *   decode    tokens/s generating 128 tokens after a 32-token prompt with 0,
 *             1 and 3 rank-16 adapters (all seven projections) active, and
 *             the ratio to no adapter, measured interleaved in the same run
 *   mixed     4 sequences with 4 different adapters decoded as one batch
 *             vs the same 4 run one after another
 *   memory    resident memory with 20 adapters loaded and used vs none
 *
 * Adapters are random (A uniform in +-1/sqrt(n_in), B small), written as F16
 * like the trained ones, into a temporary folder that is removed at the end.
 *
 * The decode figures are medians over the repetitions, and the cost is the
 * median of each repetition's own ratio (the runs with and without adapters
 * of one repetition are seconds apart, so drift between repetitions cancels)
 * with its interquartile range.
 *
 * Usage: bench-lora [MODEL] [--threads N] [--rank R] [--reps N] [--decode-only]
 *   --reps N        repetitions of each measurement (default 3, at most 64)
 *   --decode-only   the load, swap and decode rows only
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/generate.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/models.h"

#define N_ADAPTERS 20
#define N_PROMPT 32
#define N_GEN 128
#define REPS 3
#define MAX_REPS 64

static uint64_t rng_state = 0x5eed;

static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtod(line + 6, NULL);
    if (f)
        fclose(f);
    return kb / 1024.0;
}

static int write_random_adapter(const struct loco_model *m, int32_t r, const char *path)
{
    const struct loco_hparams *hp = loco_model_hparams(m);
    int64_t C = hp->n_embd, q = (int64_t)hp->n_head * hp->head_dim;
    int64_t kv = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff;
    const int64_t ins[] = {C, C, C, q, C, C, F}, outs[] = {q, kv, kv, C, F, F, C};
    size_t n = (size_t)hp->n_layer * LOCO_LORA_N_TARGETS;
    struct loco_lora_pair *pairs = calloc(n, sizeof *pairs);
    float *buf = malloc((size_t)r * (size_t)(F + F) * sizeof *buf * 2);
    if (!pairs || !buf)
        return -1;
    size_t k = 0;
    for (int il = 0; il < hp->n_layer; il++)
        for (int t = 0; t < LOCO_LORA_N_TARGETS; t++)
            pairs[k++] = (struct loco_lora_pair){il, (enum loco_lora_target)t, ins[t], outs[t], r,
                                                 NULL, NULL};
    /* every pair shares one random A and B block (only the cost matters) */
    float *a = buf, *b = buf + (size_t)r * (size_t)(F + F);
    for (int64_t i = 0; i < r * F * 2; i++) {
        a[i] = frand() / 24.0f;
        b[i] = frand() * 0.01f;
    }
    for (size_t i = 0; i < n; i++) {
        pairs[i].a = a;
        pairs[i].b = b;
    }
    char sha[65];
    int rc = loco_model_sha256(m, sha);
    struct loco_adapter_meta meta = {.arch = hp->arch_name, .base_sha256 = sha, .alpha = 32};
    if (!rc)
        rc = loco_adapter_write(path, &meta, pairs, n, LOCO_TYPE_F16);
    free(pairs);
    free(buf);
    return rc;
}

/* Prefill N_PROMPT tokens on seq, then greedy-free decode of N_GEN (fixed
 * tokens: the cost does not depend on which). Returns decode tokens/s. */
static double decode_tps(struct loco_context *c, int32_t seq)
{
    int32_t tok[N_PROMPT], pos[N_PROMPT], sq[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) {
        tok[i] = 100 + i * 7;
        pos[i] = i;
        sq[i] = seq;
    }
    loco_context_seq_clear(c, seq);
    struct loco_batch b = {N_PROMPT, tok, pos, sq, NULL};
    if (loco_decode(c, &b))
        return -1;
    double t0 = loco_time_ms();
    for (int i = 0; i < N_GEN; i++) {
        int32_t t = 200 + i, p = N_PROMPT + i;
        struct loco_batch one = {1, &t, &p, &seq, NULL};
        if (loco_decode(c, &one))
            return -1;
    }
    return N_GEN * 1e3 / (loco_time_ms() - t0);
}

/* 4 sequences, one token each per step, N_GEN steps: tokens/s overall. */
static double mixed_tps(struct loco_context *c, bool batched)
{
    for (int s = 0; s < 4; s++) {
        int32_t tok[N_PROMPT], pos[N_PROMPT], sq[N_PROMPT];
        for (int i = 0; i < N_PROMPT; i++) {
            tok[i] = 100 + i * 7 + s;
            pos[i] = i;
            sq[i] = s;
        }
        loco_context_seq_clear(c, s);
        struct loco_batch b = {N_PROMPT, tok, pos, sq, NULL};
        if (loco_decode(c, &b))
            return -1;
    }
    double t0 = loco_time_ms();
    if (batched) {
        for (int i = 0; i < N_GEN; i++) {
            int32_t tok[4], pos[4], sq[4];
            bool want[4] = {true, true, true, true};
            for (int s = 0; s < 4; s++) {
                tok[s] = 200 + i + s;
                pos[s] = N_PROMPT + i;
                sq[s] = s;
            }
            struct loco_batch b = {4, tok, pos, sq, want};
            if (loco_decode(c, &b))
                return -1;
        }
    } else {
        for (int s = 0; s < 4; s++)
            for (int i = 0; i < N_GEN; i++) {
                int32_t t = 200 + i + s, p = N_PROMPT + i, sq = s;
                struct loco_batch one = {1, &t, &p, &sq, NULL};
                if (loco_decode(c, &one))
                    return -1;
            }
    }
    return 4.0 * N_GEN * 1e3 / (loco_time_ms() - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* the q-quantile (0..1) of v[0..n), by the nearest rank (v is left as it is) */
static double quantile(const double *v, int n, double q)
{
    double sorted[MAX_REPS];
    memcpy(sorted, v, (size_t)n * sizeof *v);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    return sorted[(int)(q * (n - 1) + 0.5)];
}

static double median(const double *v, int n)
{
    return quantile(v, n, 0.5);
}

/* "cost C% (IQR A..B%)": the per-repetition costs base/with - 1 */
static void print_cost(const char *what, const double *with, const double *base, int n)
{
    double cost[MAX_REPS];
    for (int i = 0; i < n; i++)
        cost[i] = 100.0 * (base[i] / with[i] - 1.0);
    double mw = median(with, n);
    printf("| decode, %s | %.1f tok/s (%.3fx, cost %.1f%%, IQR %.1f..%.1f%%) |\n", what, mw,
           mw / median(base, n), median(cost, n), quantile(cost, n, 0.25),
           quantile(cost, n, 0.75));
}

/* The 4 sequences as one batch and one after another, interleaved over the
 * repetitions: the medians of both. */
static void batched_vs_serial(struct loco_context *c, int reps, double *batched, double *serial)
{
    double v[2][MAX_REPS];
    for (int rep = 0; rep < reps; rep++) {
        v[0][rep] = mixed_tps(c, true);
        v[1][rep] = mixed_tps(c, false);
    }
    *batched = median(v[0], reps);
    *serial = median(v[1], reps);
}

int main(int argc, char **argv)
{
    const char *model = "default";
    int threads = 2, rank = 16, reps = REPS;
    bool decode_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--decode-only") == 0)
            decode_only = true;
        else if (strcmp(argv[i], "--rank") == 0 && i + 1 < argc)
            rank = (int)strtol(argv[++i], NULL, 10);
        else
            model = argv[i];
    }
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "bench-lora: --reps must be 1..%d\n", MAX_REPS);
        return 2;
    }
    char path[4096];
    if (loco_models_resolve(model, path, sizeof path) != LOCO_OK) {
        printf("bench-lora: skipped: %s (run `loco models pull default`)\n", loco_error_message());
        return 0;
    }
    struct loco_model *m = loco_model_load(path, loco_model_default_params());
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = N_PROMPT + N_GEN + 8;
    cp.n_seq = 4;
    cp.n_batch = 64;
    cp.n_threads = threads;
    struct loco_context *c = m ? loco_context_init(m, cp) : NULL;
    char dir[] = "/tmp/loco-bench-lora-XXXXXX";
    if (!c || !mkdtemp(dir)) {
        fprintf(stderr, "bench-lora: %s\n", loco_error_message());
        return 1;
    }
    printf("model %s, %d threads, adapters rank %d on q,k,v,o,gate,up,down (F16), "
           "%d repetitions\n\n", path, threads, rank, reps);
    decode_tps(c, 0); /* warm the weights into the page cache */
    double rss_none = rss_mib();

    struct loco_adapter *ad[N_ADAPTERS];
    char file[4200];
    double load_ms = 0;
    size_t file_bytes = 0;
    for (int i = 0; i < N_ADAPTERS; i++) {
        snprintf(file, sizeof file, "%s/a%02d.gguf", dir, i);
        if (write_random_adapter(m, rank, file)) {
            fprintf(stderr, "bench-lora: %s\n", loco_error_message());
            return 1;
        }
        double t0 = loco_time_ms();
        ad[i] = loco_adapter_load(file, m);
        load_ms += loco_time_ms() - t0;
        if (!ad[i]) {
            fprintf(stderr, "bench-lora: %s\n", loco_error_message());
            return 1;
        }
        file_bytes += loco_adapter_info(ad[i])->file_bytes;
    }

    /* swap: alternate two sets on sequence 0, as two requests would */
    int n_swaps = 100000;
    double t0 = loco_time_ms();
    for (int i = 0; i < n_swaps; i++) {
        struct loco_adapter_ref r = {ad[i & 1], 1.0f};
        loco_context_set_adapters(c, 0, &r, 1);
    }
    double swap_us = (loco_time_ms() - t0) * 1e3 / n_swaps;

    /* decode with 0, 1, 3 adapters, interleaved */
    double tps[3][MAX_REPS];
    const int counts[3] = {0, 1, 3};
    for (int rep = 0; rep < reps; rep++)
        for (int k = 0; k < 3; k++) {
            struct loco_adapter_ref refs[3] = {{ad[0], 1.0f}, {ad[1], 1.0f}, {ad[2], 1.0f}};
            loco_context_set_adapters(c, 0, refs, counts[k]);
            tps[k][rep] = decode_tps(c, 0);
        }
    double base_tps = median(tps[0], reps);

    double plain_batched = 0, plain_serial = 0, batched = 0, serial = 0, rss_all = 0;
    if (!decode_only) {
        /* the same without adapters: what batching gives the base engine */
        for (int s = 0; s < 4; s++)
            loco_context_set_adapters(c, s, NULL, 0);
        batched_vs_serial(c, reps, &plain_batched, &plain_serial);

        /* mixed batch of 4 sets vs one after another, interleaved */
        for (int s = 0; s < 4; s++) {
            struct loco_adapter_ref r = {ad[s], 1.0f};
            loco_context_set_adapters(c, s, &r, 1);
        }
        batched_vs_serial(c, reps, &batched, &serial);

        /* memory: use every adapter once so its pages are resident */
        for (int i = 0; i < N_ADAPTERS; i++) {
            struct loco_adapter_ref r = {ad[i], 1.0f};
            loco_context_set_adapters(c, 0, &r, 1);
            int32_t tok = 5, pos = 0, sq = 0;
            struct loco_batch one = {1, &tok, &pos, &sq, NULL};
            loco_context_seq_clear(c, 0);
            loco_decode(c, &one);
        }
        rss_all = rss_mib();
    }
    printf("| measurement | value |\n|---|---|\n");
    printf("| adapter file size | %.2f MiB |\n", (double)file_bytes / N_ADAPTERS / 1048576.0);
    printf("| first load (mmap + bind), mean of %d | %.3f ms |\n", N_ADAPTERS,
           load_ms / N_ADAPTERS);
    printf("| swap (set change between requests) | %.3f us |\n", swap_us);
    printf("| decode, no adapter | %.1f tok/s |\n", base_tps);
    print_cost("1 adapter", tps[1], tps[0], reps);
    print_cost("3 adapters", tps[2], tps[0], reps);
    if (!decode_only) {
        printf("| 4 seqs x 4 adapters, one batch | %.1f tok/s |\n", batched);
        printf("| 4 seqs x 4 adapters, one after another | %.1f tok/s |\n", serial);
        printf("| mixed batch speed-up | %.2fx |\n", batched / serial);
        printf("| 4 seqs, no adapter: one batch / one after another | %.1f / %.1f tok/s (%.2fx) |\n",
               plain_batched, plain_serial, plain_batched / plain_serial);
        printf("| RSS, no adapter | %.1f MiB |\n", rss_none);
        printf("| RSS, %d adapters loaded and used | %.1f MiB (+%.1f MiB) |\n", N_ADAPTERS, rss_all,
               rss_all - rss_none);
    }

    loco_context_free(c);
    for (int i = 0; i < N_ADAPTERS; i++)
        loco_adapter_free(ad[i]);
    loco_model_free(m);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
