/*
 * bench-sc.c - what self-consistency costs: K = 5 sampled answers with the
 * prompt prefilled once and the five decoded in one batch
 * (loco_generate_sc), against one answer and against five separate answers
 * (loco_generate five times, each prefilling the prompt again). Issue 12's
 * target: sc:5 at most 2x the wall time of one answer.
 *
 * Prompts: the first N GSM8K test questions (../shared/datasets/gsm8k),
 * rendered with the default model's chat template; sampled at temperature
 * 0.7 (seed 7, answer i seed 7 + i), at most 128 tokens. Every run starts
 * from an empty KV cache. Prints the summed wall times, tokens generated,
 * the ratios to one answer, and checks that sc:5's answers are the five
 * separate answers.
 *
 * Usage: bench-sc [N] [--threads T] [--max-tokens M] [--profile]
 *        (N default 4, T 2, M 128; --profile runs sc:5 alone, for perf)
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/generate.h"
#include "loco/models.h"
#include "loco/strategy.h"

#define BENCH_NAME "bench-sc"
#include "bench-answers.h"

#define SC_K 5

/* Answer i of the prompt alone (seed + i), from an empty cache. */
static char *one(struct loco_context *c, const struct loco_model *m, const int32_t *prompt,
                 size_t n, struct loco_generate_params p, int32_t i, struct totals *t)
{
    p.sampling.seed += (uint64_t)i;
    struct loco_generate_result r;
    loco_context_seq_clear(c, 0);
    double t0 = loco_time_ms();
    if (loco_generate(c, 0, loco_model_tokenizer(m), prompt, n, &p, NULL, NULL, &r))
        die("generate");
    t->ms += loco_time_ms() - t0;
    t->tokens += r.n_generated;
    char *text = r.text;
    r.text = NULL;
    loco_generate_result_free(&r);
    return text;
}

/* sc:5 from an empty cache; the number of answers that differ from `ref`. */
static int sc(struct loco_context *c, const struct loco_model *m, const int32_t *prompt, size_t n,
              const struct loco_generate_params *p, char *const *ref, struct totals *t)
{
    struct loco_generate_result r[SC_K];
    loco_context_seq_clear(c, 0);
    double t0 = loco_time_ms();
    if (loco_generate_sc(c, loco_model_tokenizer(m), prompt, n, SC_K, p, r))
        die("generate_sc");
    t->ms += loco_time_ms() - t0;
    int differ = 0;
    for (int i = 0; i < SC_K; i++) {
        t->tokens += r[i].n_generated;
        differ += strcmp(r[i].text, ref[i]) != 0;
        loco_generate_result_free(&r[i]);
    }
    return differ;
}

int main(int argc, char **argv)
{
    size_t n = 4;
    int threads = 2;
    bool profile = false;
    struct loco_generate_params p = loco_generate_default_params();
    p.max_tokens = 128;
    p.sampling.temperature = 0.7f;
    p.sampling.seed = 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--profile") == 0)
            profile = true;
        else if (strcmp(argv[i], "--max-tokens") == 0 && i + 1 < argc)
            p.max_tokens = (int32_t)strtol(argv[++i], NULL, 10);
        else
            n = (size_t)strtoul(argv[i], NULL, 10);
    }
    char path[4096], data[4096];
    const char *shared = getenv("LOCO_SHARED_DIR");
    snprintf(data, sizeof data, "%s/datasets/gsm8k/test.jsonl", shared ? shared : "../shared");
    FILE *f = fopen(data, "r");
    if (loco_models_resolve("default", path, sizeof path) != LOCO_OK || !f || n == 0) {
        printf("bench-sc: skipped: needs the default model (`loco models pull default`) and %s "
               "(set LOCO_SHARED_DIR)\n", data);
        if (f)
            fclose(f);
        return 0;
    }
    struct loco_model *m = loco_model_load(path, loco_model_default_params());
    if (!m)
        die(path);
    int32_t **prompts = calloc(n, sizeof *prompts);
    size_t *lens = calloc(n, sizeof *lens);
    n = load_prompts(m, f, n, prompts, lens);
    fclose(f);
    struct loco_context *c1 = context(m, 1, threads), *c5 = context(m, SC_K, threads);
    struct totals t_one = {0}, t_sep = {0}, t_sc = {0};
    int differ = 0;
    for (size_t q = 0; profile && q < n; q++) {
        char *none[SC_K] = {"", "", "", "", ""};
        sc(c5, m, prompts[q], lens[q], &p, none, &t_sc);
    }
    if (profile) {
        printf("sc:5 alone: %.0f ms, %lld tokens\n", t_sc.ms, (long long)t_sc.tokens);
        n = 0;
    }
    for (size_t q = 0; q < n; q++) {
        char *ref[SC_K];
        free(one(c1, m, prompts[q], lens[q], p, 0, &t_one));
        for (int i = 0; i < SC_K; i++)
            ref[i] = one(c1, m, prompts[q], lens[q], p, i, &t_sep);
        differ += sc(c5, m, prompts[q], lens[q], &p, ref, &t_sc);
        for (int i = 0; i < SC_K; i++)
            free(ref[i]);
    }
    printf("default model (%s), %zu GSM8K test questions, T=0.7, <= %d tokens, %d threads\n\n",
           path, n, p.max_tokens, threads);
    printf("| run | wall ms | tokens generated | ms / question | x one answer |\n"
           "|---|---:|---:|---:|---:|\n");
    printf("| one answer | %.0f | %lld | %.0f | 1.00 |\n", t_one.ms, (long long)t_one.tokens,
           t_one.ms / (double)n);
    printf("| sc:5 (shared prefill, batched decode) | %.0f | %lld | %.0f | %.2f |\n", t_sc.ms,
           (long long)t_sc.tokens, t_sc.ms / (double)n, t_sc.ms / t_one.ms);
    printf("| 5 separate answers | %.0f | %lld | %.0f | %.2f |\n", t_sep.ms,
           (long long)t_sep.tokens, t_sep.ms / (double)n, t_sep.ms / t_one.ms);
    printf("\nsc:5 vs 5 separate: %.2fx faster; answers differing from the separate runs: %d of "
           "%zu\n", t_sep.ms / t_sc.ms, differ, n * SC_K);
    for (size_t q = 0; q < n; q++)
        free(prompts[q]);
    free(prompts);
    free(lens);
    loco_context_free(c1);
    loco_context_free(c5);
    loco_model_free(m);
    return differ ? 1 : 0;
}
