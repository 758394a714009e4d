/*
 * bench-ensemble.c - what the ensemble costs: the members (adapters given
 * on the command line, plus the base model with --base) answering one
 * question as one batched decode with mixed adapters
 * (loco_generate_ensemble), against the first member's one answer and
 * against every member answering alone, one after another (loco_generate
 * each time, each prefilling the prompt again).
 *
 * Prompts: the first N GSM8K test questions (../shared/datasets/gsm8k),
 * rendered with the default model's chat template; greedy with loco ask's
 * repetition penalty (1.1), as the ensemble answers there; at most 128
 * tokens. Every run starts from an empty
 * KV cache. Prints the summed wall times, tokens generated, the ratios to
 * one answer, and checks that each member's answer in the ensemble is its
 * answer alone.
 *
 * Usage: bench-ensemble [N] [--threads T] [--max-tokens M] [--base] ADAPTER...
 *        (N default 4, T 2, M 128; e.g. adapters/math/math.gguf --base)
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/generate.h"
#include "loco/lora.h"
#include "loco/models.h"
#include "loco/strategy.h"

#define BENCH_NAME "bench-ensemble"
#include "bench-answers.h"

#define MAX_MEMBERS 8

/* Member mb alone on an empty cache; its answer (malloc'd). */
static char *alone(struct loco_context *c, const struct loco_model *m, const int32_t *prompt,
                   size_t n, const struct loco_generate_params *p,
                   const struct loco_ensemble_member *mb, struct totals *t)
{
    struct loco_generate_result r;
    loco_context_seq_clear(c, 0);
    if (loco_context_set_adapters(c, 0, mb->set, mb->n_set))
        die("adapters");
    double t0 = loco_time_ms();
    if (loco_generate(c, 0, loco_model_tokenizer(m), prompt, n, p, NULL, NULL, &r))
        die("generate");
    t->ms += loco_time_ms() - t0;
    t->tokens += r.n_generated;
    char *text = r.text;
    r.text = NULL;
    loco_generate_result_free(&r);
    return text;
}

/* The ensemble on empty caches; the number of answers that differ from ref. */
static int ensemble(struct loco_context *c, const struct loco_model *m, const int32_t *prompt,
                    size_t n, const struct loco_generate_params *p,
                    const struct loco_ensemble_member *mb, int32_t k, char *const *ref,
                    struct totals *t)
{
    struct loco_generate_result r[MAX_MEMBERS];
    for (int32_t i = 0; i < k; i++)
        loco_context_seq_clear(c, i);
    double t0 = loco_time_ms();
    if (loco_generate_ensemble(c, loco_model_tokenizer(m), prompt, n, mb, k, p, r))
        die("generate_ensemble");
    t->ms += loco_time_ms() - t0;
    int differ = 0;
    for (int32_t i = 0; i < k; i++) {
        t->tokens += r[i].n_generated;
        differ += strcmp(r[i].text, ref[i]) != 0;
        loco_generate_result_free(&r[i]);
    }
    return differ;
}

struct args {
    size_t n;
    int threads;
    int32_t max_tokens;
    bool base;
    const char *paths[MAX_MEMBERS];
    int32_t n_paths;
};

static void parse_args(int argc, char **argv, struct args *a)
{
    *a = (struct args){.n = 4, .threads = 2, .max_tokens = 128};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            a->threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--max-tokens") == 0 && i + 1 < argc)
            a->max_tokens = (int32_t)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--base") == 0)
            a->base = true;
        else if (argv[i][0] >= '0' && argv[i][0] <= '9')
            a->n = (size_t)strtoul(argv[i], NULL, 10);
        else if (a->n_paths < MAX_MEMBERS - 1)
            a->paths[a->n_paths++] = argv[i];
    }
}

int main(int argc, char **argv)
{
    struct args a;
    parse_args(argc, argv, &a);
    struct loco_generate_params p = loco_generate_default_params();
    p.max_tokens = a.max_tokens;
    p.sampling.temperature = 0.0f;
    p.sampling.repeat_penalty = 1.1f; /* as loco ask answers */
    char path[4096], data[4096];
    const char *shared = getenv("LOCO_SHARED_DIR");
    snprintf(data, sizeof data, "%s/datasets/gsm8k/test.jsonl", shared ? shared : "../shared");
    FILE *f = fopen(data, "r");
    if (loco_models_resolve("default", path, sizeof path) != LOCO_OK || !f || a.n == 0 ||
        a.n_paths + a.base < 2) {
        printf("bench-ensemble: skipped: needs the default model (`loco models pull default`), "
               "%s (set LOCO_SHARED_DIR) and two members (ADAPTER... [--base])\n", data);
        if (f)
            fclose(f);
        return 0;
    }
    struct loco_model *m = loco_model_load(path, loco_model_default_params());
    if (!m)
        die(path);
    struct loco_adapter *ad[MAX_MEMBERS];
    struct loco_adapter_ref refs[MAX_MEMBERS];
    struct loco_ensemble_member mb[MAX_MEMBERS];
    int32_t k = 0;
    for (; k < a.n_paths; k++) {
        if (!(ad[k] = loco_adapter_load(a.paths[k], m)))
            die(a.paths[k]);
        refs[k] = (struct loco_adapter_ref){ad[k], 1.0f};
        mb[k] = (struct loco_ensemble_member){&refs[k], 1};
    }
    if (a.base)
        mb[k++] = (struct loco_ensemble_member){NULL, 0};
    int32_t **prompts = calloc(a.n, sizeof *prompts);
    size_t *lens = calloc(a.n, sizeof *lens);
    size_t n = load_prompts(m, f, a.n, prompts, lens);
    fclose(f);
    struct loco_context *c1 = context(m, 1, a.threads), *ck = context(m, k, a.threads);
    struct totals t_one = {0}, t_sep = {0}, t_ens = {0};
    int differ = 0;
    for (size_t q = 0; q < n; q++) {
        char *ref[MAX_MEMBERS];
        free(alone(c1, m, prompts[q], lens[q], &p, &mb[0], &t_one));
        for (int32_t i = 0; i < k; i++)
            ref[i] = alone(c1, m, prompts[q], lens[q], &p, &mb[i], &t_sep);
        differ += ensemble(ck, m, prompts[q], lens[q], &p, mb, k, ref, &t_ens);
        for (int32_t i = 0; i < k; i++)
            free(ref[i]);
    }
    printf("default model (%s), %d members, %zu GSM8K test questions, greedy, <= %d tokens, "
           "%d threads\n\n", path, k, n, p.max_tokens, a.threads);
    printf("| run | wall ms | tokens generated | ms / question | x one answer |\n"
           "|---|---:|---:|---:|---:|\n");
    printf("| one answer (first member) | %.0f | %lld | %.0f | 1.00 |\n", t_one.ms,
           (long long)t_one.tokens, t_one.ms / (double)n);
    printf("| ensemble (batched decode, mixed adapters) | %.0f | %lld | %.0f | %.2f |\n",
           t_ens.ms, (long long)t_ens.tokens, t_ens.ms / (double)n, t_ens.ms / t_one.ms);
    printf("| members one after another | %.0f | %lld | %.0f | %.2f |\n", t_sep.ms,
           (long long)t_sep.tokens, t_sep.ms / (double)n, t_sep.ms / t_one.ms);
    printf("\nensemble vs members one after another: %.2fx faster; answers differing from the "
           "members alone: %d of %zu\n", t_sep.ms / t_ens.ms, differ, n * (size_t)k);
    for (size_t q = 0; q < n; q++)
        free(prompts[q]);
    free(prompts);
    free(lens);
    loco_context_free(c1);
    loco_context_free(ck);
    for (int32_t i = 0; i < a.n_paths; i++)
        loco_adapter_free(ad[i]);
    loco_model_free(m);
    return differ ? 1 : 0;
}
