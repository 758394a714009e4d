/*
 * benches.c - which benchmarks there are: the built-in ones (their files,
 * splits and answer lengths), the built-in domains' benchmarks, what a run
 * covers when none are named, the names records use, and the parameters a
 * run accepts. The items themselves are read by items.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "bench_internal.h"
#include "loco/registry.h"

static const struct bench_def builtins[] = {
    {"gsm8k", K_GSM8K, "gsm8k/test.jsonl", 320, 0, 0},
    /* maths by code: the same problems, answered with a Python program */
    {"gsm8k-pot", K_GSM8K_POT, "gsm8k/test.jsonl", 320, 0, 0},
    {"mbpp", K_MBPP, "mbpp/mbpp.jsonl", 384, 0, 0},
    {"humaneval", K_HUMANEVAL, "humaneval/humaneval.jsonl", 384, 0, 0},
    /* records 1-600 train the summarisation adapter */
    {"summarisation", K_ROUGE, "summarisation/summarisation.jsonl", 64, 600, 0},
    {"arc-easy", K_ARC, "arc/ARC-Easy-test.jsonl", 24, 0, 0},
    {"arc-challenge", K_ARC, "arc/ARC-Challenge-test.jsonl", 24, 0, 0},
    /* AlpacaEval's writing prompts: evaluation only */
    {"judge", K_JUDGE, "alpacaeval_gpt4/alpacaeval_gpt4_writing.jsonl", 256, 0, 0},
    /* the writing adapter trains on records 1-800; 1001-1200 are held out */
    {"judge-roleplay", K_JUDGE, "gpteacher_roleplay/gpteacher_roleplay.jsonl", 256, 1000, 1200},
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

static const char *const bench_names[] = {
    "gsm8k",    "gsm8k-pot",     "mbpp",  "humaneval",      "summarisation",
    "arc-easy", "arc-challenge", "judge", "judge-roleplay", NULL};

const char *const *loco_eval_bench_names(void)
{
    return bench_names;
}

/* The built-in domains and their benchmarks: what a run uses when there is
 * no registry (the registry's domains take over when there is one). */
static const struct {
    const char *domain, *bench;
} domain_benches[] = {
    {"math", "gsm8k"},
    {"code", "mbpp"},
    {"summarisation", "summarisation"},
    {"writing", "judge"},
};
#define N_DOMAIN_BENCHES (sizeof domain_benches / sizeof domain_benches[0])

const char *loco_eval_domain_bench(const char *domain)
{
    for (size_t i = 0; domain && i < N_DOMAIN_BENCHES; i++)
        if (!strcmp(domain, domain_benches[i].domain))
            return domain_benches[i].bench;
    return NULL;
}

const struct bench_def *eval_find_builtin(const char *name)
{
    for (size_t i = 0; name && i < N_BUILTINS; i++)
        if (!strcmp(builtins[i].name, name))
            return &builtins[i];
    return NULL;
}

bool loco_eval_bench_judged(const char *bench)
{
    const struct bench_def *d = eval_find_builtin(bench);
    return d && d->kind == K_JUDGE;
}

/* Append `bench` to out[cap] unless it is there already. */
static size_t add_once(const char **out, size_t n, size_t cap, const char *bench)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(out[i], bench))
            return n;
    if (n < cap)
        out[n++] = bench;
    return n;
}

size_t loco_eval_default_benches(const struct loco_registry *reg, const char *domain,
                                 const char **out, size_t cap)
{
    const struct loco_registry_domain *own = reg ? loco_registry_find_domain(reg, domain) : NULL;
    const char *first = own && eval_find_builtin(own->primary_benchmark)
                            ? own->primary_benchmark
                            : loco_eval_domain_bench(domain);
    size_t n = first ? add_once(out, 0, cap, first) : 0;
    size_t nd = reg ? loco_registry_n_domains(reg) : N_DOMAIN_BENCHES;
    for (size_t d = 0; d < nd; d++) {
        const char *b =
            reg ? loco_registry_domain_at(reg, d)->primary_benchmark : domain_benches[d].bench;
        if (eval_find_builtin(b) && !loco_eval_bench_judged(b))
            n = add_once(out, n, cap, b);
    }
    return n;
}

bool loco_eval_bench_in_domain(const struct loco_registry *reg, const char *domain,
                               const char *bench, const char *custom_domain)
{
    if (!domain || !bench)
        return false;
    if (custom_domain)
        return !strcmp(custom_domain, domain);
    const struct loco_registry_domain *d = reg ? loco_registry_find_domain(reg, domain) : NULL;
    for (size_t i = 0; d && i < d->benchmarks.n; i++)
        if (!strcmp(d->benchmarks.v[i], bench))
            return true;
    const char *own = loco_eval_domain_bench(domain);
    return !d && own && !strcmp(bench, own);
}

bool eval_is_custom(const char *bench)
{
    size_t len = strlen(bench);
    return len > 6 && !strcmp(bench + len - 6, ".jsonl");
}

bool loco_eval_bench_takes_shots(const char *bench)
{
    return bench && !strcmp(bench, "gsm8k");
}

bool loco_eval_bench_takes_samples(const char *bench)
{
    return bench &&
           (!strcmp(bench, "mbpp") || !strcmp(bench, "humaneval") || eval_is_custom(bench));
}

struct loco_eval_params loco_eval_default_params(void)
{
    return (struct loco_eval_params){.shared_dir = "../shared",
                                     .slots = 4,
                                     .n_ctx = 1280,
                                     .threads = 2,
                                     .stats = loco_stats_default_params(),
                                     .samples = 1,
                                     .temperature = 0.8f,
                                     .top_p = 0.95f,
                                     .seed = 1,
                                     .judge = loco_judge_default_params(),
                                     .strategy = {.kind = LOCO_STRATEGY_PLAIN, .k = 1}};
}

int loco_eval_params_check(const struct loco_eval_params *p)
{
    if (!p)
        return loco_error_set(LOCO_ERR_INVALID, "evaluation: no parameters");
    if (p->slots < 1 || p->slots > LOCO_EVAL_MAX_SLOTS)
        return loco_error_set(LOCO_ERR_RANGE,
                              "evaluation: slots is %d, expected 1 to %d (more "
                              "sequences at once would change the answers)",
                              (int)p->slots, LOCO_EVAL_MAX_SLOTS);
    if (p->samples < 1 || p->samples > LOCO_EVAL_MAX_SAMPLES)
        return loco_error_set(LOCO_ERR_RANGE, "evaluation: samples is %u, expected 1 to %d",
                              p->samples, LOCO_EVAL_MAX_SAMPLES);
    if (p->shots > LOCO_EVAL_MAX_SHOTS)
        return loco_error_set(LOCO_ERR_RANGE, "evaluation: shots is %u, at most %d", p->shots,
                              LOCO_EVAL_MAX_SHOTS);
    bool many = p->strategy.kind == LOCO_STRATEGY_SC || p->strategy.kind == LOCO_STRATEGY_USC;
    int rc = eval_ensemble_check(p);
    if (rc)
        return rc;
    if (many && (p->strategy.k < 2 || p->strategy.k > LOCO_EVAL_MAX_SLOTS || p->samples > 1))
        return loco_error_set(LOCO_ERR_RANGE, "evaluation: %s:%d needs K from 2 to %d and one "
                              "sample per item (no --samples)",
                              p->strategy.kind == LOCO_STRATEGY_SC ? "sc" : "usc",
                              p->strategy.k, LOCO_EVAL_MAX_SLOTS);
    if (p->n_also < 0 || p->n_also >= LOCO_MAX_SET_ADAPTERS || (p->n_also && !p->also))
        return loco_error_set(LOCO_ERR_RANGE, "evaluation: a run-time set holds 1 to %d adapters "
                              "(%d more given)", LOCO_MAX_SET_ADAPTERS, (int)p->n_also);
    if (!(p->stats.alpha > 0 && p->stats.alpha <= 0.5))
        return loco_error_set(LOCO_ERR_RANGE, "evaluation: alpha is %g, expected (0, 0.5]",
                              p->stats.alpha);
    return eval_engine_check(p); /* what an engine cannot answer */
}

static void name_bench(const char *bench, bool builtin, char *name, size_t cap)
{
    if (builtin) {
        snprintf(name, cap, "%s", bench);
        return;
    }
    /* a custom file is named by its stem, lowercased to a registry-safe name */
    const char *base = strrchr(bench, '/');
    base = base ? base + 1 : bench;
    size_t k = 0;
    for (; base[k] && k + 1 < cap && strcmp(base + k, ".jsonl"); k++) {
        char ch = (char)tolower((unsigned char)base[k]);
        name[k] = isalnum((unsigned char)ch) || ch == '.' || ch == '_' ? ch : '-';
    }
    name[k] = '\0';
}

void loco_eval_bench_name(const char *bench, char *name, size_t cap)
{
    name_bench(bench ? bench : "", eval_find_builtin(bench) != NULL, name, cap);
}
