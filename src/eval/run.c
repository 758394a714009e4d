/*
 * run.c - one benchmark on the base model and on an adapter (see
 * loco/eval.h): load items, generate both sides (batched, cached), score,
 * judge when the benchmark is judged, compare.
 *
 * Every generation goes through one path, eval_run_batch() (batch.c): a
 * list of requests (a conversation and the text the cache key names)
 * answered under one setting (adapter, decoding, seed), read from the cache
 * when there, else generated with loco_generate_many (or asked of the HTTP
 * judge) and stored. A side's answers are one batch, or one batch per
 * sample when several are sampled; its judgments are one batch per
 * judgment. The record's JSON is written by record_json.c.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "loco/bench_items.h"
#include "loco/codeeval.h"
#include "loco/eval.h"
#include "loco/evalcache.h"
#include "loco/generate.h"
#include "loco/judge.h"
#include "loco/models.h"
#include "loco/sandbox.h"
#include "loco/score.h"
#include "rescore_internal.h"

enum kind {
    K_GSM8K, K_MBPP, K_HUMANEVAL, K_ROUGE, K_ARC, K_EXACT, K_CODE_CUSTOM, K_JUDGE, K_NUMERIC,
    K_REGEX
};

/* One item and what scores it. */
struct item {
    char *id;
    char *prompt;
    char *gold;         /* gsm8k answer, reference summary, arc key, exact reference,
                           judge reference answer */
    char *code_prompt;  /* humaneval: the function signature and docstring */
    char *test;         /* humaneval test code; mbpp setup code */
    char *entry_point;  /* humaneval */
    char **tests;       /* mbpp / custom code asserts */
    size_t n_tests;
    struct loco_arc_item arc;
    uint32_t norm;      /* custom exact_match and regex normalisation */
    char *pattern;      /* custom regex items: the checked pattern */
    char *rubric;       /* custom llm_judge: what the judge grades */
    char *system;       /* custom items: a system message before the prompt, or NULL */
    char *key_text;     /* with a system message: what the cache key names, else NULL */
};

struct bench_def {
    const char *name;
    enum kind kind;
    const char *file;  /* under datasets/ */
    int32_t max_tokens;
    size_t from, to;   /* 0-based line range [from, to) of the file; to = 0: to the end */
};

static const struct bench_def builtins[] = {
    {"gsm8k", K_GSM8K, "gsm8k/test.jsonl", 320, 0, 0},
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

static const char *const bench_names[] = {"gsm8k",         "mbpp",     "humaneval",
                                          "summarisation", "arc-easy", "arc-challenge",
                                          "judge",         "judge-roleplay", NULL};

/* pass@k is reported for these k (those <= n). */
static const uint32_t pass_ks[LOCO_EVAL_MAX_PASS_K] = {1, 5, 10, 20, 50, 100};

const char *const *loco_eval_bench_names(void)
{
    return bench_names;
}

const char *loco_eval_domain_bench(const char *domain)
{
    if (!domain)
        return NULL;
    if (!strcmp(domain, "math"))
        return "gsm8k";
    if (!strcmp(domain, "code"))
        return "mbpp";
    if (!strcmp(domain, "summarisation"))
        return "summarisation";
    if (!strcmp(domain, "writing"))
        return "judge";
    return NULL;
}

static bool is_custom(const char *bench)
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
    return bench && (!strcmp(bench, "mbpp") || !strcmp(bench, "humaneval") || is_custom(bench));
}

struct loco_eval_params loco_eval_default_params(void)
{
    return (struct loco_eval_params){.shared_dir = "../shared", .slots = 4, .n_ctx = 1280,
                                     .threads = 2, .stats = loco_stats_default_params(),
                                     .samples = 1, .temperature = 0.8f, .top_p = 0.95f,
                                     .seed = 1, .judge = loco_judge_default_params()};
}

double loco_eval_pass_at_k(uint32_t n, uint32_t c, uint32_t k)
{
    if (k == 0 || k > n || c > n)
        return NAN;
    if (n - c < k)
        return 1.0; /* every draw of k contains a correct sample */
    double all_wrong = 1.0; /* C(n-c, k) / C(n, k) */
    for (uint32_t i = n - c + 1; i <= n; i++)
        all_wrong *= 1.0 - (double)k / (double)i;
    return 1.0 - all_wrong;
}

/* ---- items ---------------------------------------------------------------- */

static void item_free(struct item *it)
{
    free(it->id);
    free(it->prompt);
    free(it->gold);
    free(it->code_prompt);
    free(it->test);
    free(it->entry_point);
    for (size_t i = 0; i < it->n_tests; i++)
        free(it->tests[i]);
    free(it->tests);
    free(it->rubric);
    free(it->pattern);
    free(it->system);
    free(it->key_text);
    if (it->arc.id)
        loco_arc_item_free(&it->arc);
}

static char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
        return strdup(buf);
    }
    return NULL;
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* The first `max` words of text (XSum articles run to thousands of tokens). */
static char *first_words(const char *text, size_t max)
{
    size_t words = 0, i = 0, n = strlen(text);
    bool in_word = false;
    for (; i < n; i++) {
        bool space = text[i] == ' ' || text[i] == '\n' || text[i] == '\t';
        if (!space && !in_word && ++words > max)
            break;
        in_word = !space;
    }
    return strndup(text, i);
}

static char *join_tests(char **tests, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(tests[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(s + at, len - at, "%s%s", tests[i], i + 1 < n ? "\n" : "");
    s[at] = '\0';
    return s;
}

/* One JSONL record of a built-in benchmark -> item. 0 = use it, 1 = skip
 * (outside the benchmark's split), negative = error. */
static int builtin_item(enum kind kind, const cJSON *j, size_t line, struct item *it)
{
    switch (kind) {
    case K_GSM8K:
        it->id = json_str(j, "id");
        it->prompt = json_str(j, "question");
        it->gold = json_str(j, "answer");
        break;
    case K_MBPP: {
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(j, "task_id");
        if (!cJSON_IsNumber(tid) || tid->valuedouble < 11 || tid->valuedouble > 510)
            return 1; /* the standard test split */
        it->id = str_printf("mbpp-%d", (int)tid->valuedouble);
        const cJSON *tl = cJSON_GetObjectItemCaseSensitive(j, "test_list");
        it->n_tests = (size_t)cJSON_GetArraySize(tl);
        it->tests = calloc(it->n_tests + 1, sizeof *it->tests);
        for (size_t i = 0; it->tests && i < it->n_tests; i++) {
            const cJSON *t = cJSON_GetArrayItem(tl, (int)i);
            it->tests[i] = strdup(cJSON_IsString(t) ? t->valuestring : "");
        }
        char *text = json_str(j, "text"), *tests = it->tests ? join_tests(it->tests, it->n_tests)
                                                              : NULL;
        /* the training recipe's format (recipes/code.yaml) */
        if (text && tests)
            it->prompt = str_printf("%s\nYour code should pass these tests:\n%s", text, tests);
        free(text);
        free(tests);
        it->test = json_str(j, "test_setup_code");
        if (!it->test)
            it->test = strdup("");
        break;
    }
    case K_HUMANEVAL: {
        it->id = json_str(j, "task_id");
        it->code_prompt = json_str(j, "prompt");
        it->test = json_str(j, "test");
        it->entry_point = json_str(j, "entry_point");
        if (it->code_prompt)
            it->prompt = str_printf("Complete this Python function. Answer with the whole "
                                    "function in a ```python block.\n\n```python\n%s```",
                                    it->code_prompt);
        break;
    }
    case K_ROUGE: {
        it->id = json_str(j, "id");
        char *doc = json_str(j, "document");
        char *cut = doc ? first_words(doc, 400) : NULL;
        /* the training recipe's format (recipes/summarisation.yaml) */
        if (cut)
            it->prompt = str_printf("Summarise this article in one sentence.\n\n%s", cut);
        free(doc);
        free(cut);
        it->gold = json_str(j, "summary");
        break;
    }
    case K_ARC: {
        char *text = cJSON_PrintUnformatted(j);
        int rc = text ? loco_arc_item_parse(text, &it->arc) : LOCO_ERR_NOMEM;
        free(text);
        if (rc)
            return rc;
        it->id = strdup(it->arc.id);
        char *body = loco_mc_prompt(it->arc.question, it->arc.choices, it->arc.n_choices);
        if (body)
            it->prompt = str_printf("%s\nAnswer with the letter of the correct choice.", body);
        free(body);
        it->gold = strdup(it->arc.answer_key);
        break;
    }
    case K_JUDGE: {
        /* the writing recipe's format (recipes/writing.yaml, format: instruction) */
        it->id = json_str(j, "id");
        char *ins = json_str(j, "instruction"), *in = json_str(j, "input");
        if (ins)
            it->prompt = in && in[0] ? str_printf("%s\n\n%s", ins, in) : strdup(ins);
        free(ins);
        free(in);
        it->gold = json_str(j, "output");
        break;
    }
    default:
        return loco_error_set(LOCO_ERR_INVALID, "not a built-in benchmark kind");
    }
    if (!it->id || !it->prompt)
        return loco_error_set(LOCO_ERR_FORMAT, "line %zu: the record lacks the fields this "
                              "benchmark reads", line + 1);
    return LOCO_OK;
}

static int load_builtin(const struct bench_def *d, const struct loco_eval_params *p,
                        struct item **out, size_t *n_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/%s", p->shared_dir ? p->shared_dir : "../shared",
             d->file);
    FILE *f = fopen(path, "r");
    if (!f)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "benchmark %s: cannot read %s; point "
                              "--shared (or LOCO_SHARED_DIR) at the shared data folder",
                              d->name, path);
    size_t cap = 64, n = 0, line_no = 0;
    struct item *items = calloc(cap, sizeof *items);
    char *line = NULL;
    size_t lcap = 0;
    int rc = items ? LOCO_OK : LOCO_ERR_NOMEM;
    while (rc == LOCO_OK && (!d->to || line_no < d->to) && getline(&line, &lcap, f) >= 0 &&
           (!p->limit || n < p->limit)) {
        if (line_no < d->from) { /* outside the benchmark's records */
            line_no++;
            continue;
        }
        cJSON *j = cJSON_Parse(line);
        if (!j) {
            rc = loco_error_set(LOCO_ERR_FORMAT, "%s:%zu: not JSON", path, line_no + 1);
            break;
        }
        if (n == cap) {
            struct item *g = realloc(items, 2 * cap * sizeof *g);
            if (!g) {
                cJSON_Delete(j);
                rc = LOCO_ERR_NOMEM;
                break;
            }
            memset(g + cap, 0, cap * sizeof *g);
            items = g;
            cap *= 2;
        }
        int r = builtin_item(d->kind, j, line_no, &items[n]);
        cJSON_Delete(j);
        if (r < 0) {
            loco_error_prefix("%s", path);
            rc = r;
        } else if (r == 1) {
            item_free(&items[n]);
            memset(&items[n], 0, sizeof items[n]);
        } else {
            n++;
        }
        line_no++;
    }
    free(line);
    fclose(f);
    if (rc) {
        for (size_t i = 0; i <= n && items && i < cap; i++)
            item_free(&items[i]);
        free(items);
        return rc;
    }
    *out = items;
    *n_out = n;
    return LOCO_OK;
}

static int load_custom(const char *path, const struct loco_eval_params *p, enum kind *kind,
                       struct item **out, size_t *n_out)
{
    struct loco_bench_items *set = NULL;
    int rc = loco_bench_items_load(path, &set);
    if (rc)
        return rc;
    size_t n = set->n && p->limit && p->limit < set->n ? p->limit : set->n;
    struct item *items = calloc(n ? n : 1, sizeof *items);
    if (!items) {
        loco_bench_items_free(set);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    enum loco_eval_type first = n ? set->items[0].type : LOCO_EVAL_EXACT_MATCH;
    for (size_t i = 0; i < n && !rc; i++) {
        const struct loco_bench_item *b = &set->items[i];
        if (b->type != first)
            rc = loco_error_set(LOCO_ERR_UNSUPPORTED, "%s: item %s is %s but the first item is "
                                "%s; one benchmark file holds one evaluation_type",
                                path, b->id, loco_eval_type_name(b->type),
                                loco_eval_type_name(first));
        items[i].id = strdup(b->id);
        items[i].prompt = strdup(b->prompt);
        items[i].gold = b->reference ? strdup(b->reference) : NULL;
        items[i].norm = b->normalise;
        items[i].pattern = b->pattern ? strdup(b->pattern) : NULL;
        items[i].rubric = b->rubric ? strdup(b->rubric) : NULL;
        if (b->system) { /* the key names the system message too */
            items[i].system = strdup(b->system);
            items[i].key_text = str_printf("[system]\n%s\n[user]\n%s", b->system, b->prompt);
        }
        if (b->n_tests) {
            items[i].n_tests = b->n_tests;
            items[i].tests = calloc(b->n_tests, sizeof *items[i].tests);
            for (size_t t = 0; items[i].tests && t < b->n_tests; t++)
                items[i].tests[t] = strdup(b->tests[t]);
            items[i].test = strdup("");
        }
    }
    *kind = first == LOCO_EVAL_ROUGE            ? K_ROUGE
            : first == LOCO_EVAL_CODE_EXECUTION ? K_CODE_CUSTOM
            : first == LOCO_EVAL_LLM_JUDGE      ? K_JUDGE
            : first == LOCO_EVAL_NUMERIC        ? K_NUMERIC
            : first == LOCO_EVAL_REGEX          ? K_REGEX
                                                : K_EXACT;
    loco_bench_items_free(set);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            item_free(&items[i]);
        free(items);
        return rc;
    }
    *out = items;
    *n_out = n;
    return LOCO_OK;
}

/* ---- scoring -------------------------------------------------------------- */

static const struct loco_sandbox_params *sandbox_params(void)
{
    static struct loco_sandbox_params sp;
    static bool init;
    if (!init) {
        sp = loco_sandbox_default_params();
        sp.timeout_s = 10;
        sp.cpu_s = 5;
        init = true;
    }
    return &sp;
}

static int score_code(const struct item *it, enum kind kind, const char *answer, double *score,
                      char *detail, size_t cap)
{
    char *code = loco_codeeval_extract(answer, it->entry_point, LOCO_CODE_FIRST);
    char *program = NULL;
    if (code && kind == K_HUMANEVAL)
        program = loco_codeeval_humaneval_program(it->code_prompt, code, it->test,
                                                  it->entry_point);
    else if (code)
        program = loco_codeeval_mbpp_program(it->test, code, (const char *const *)it->tests,
                                             it->n_tests);
    free(code);
    if (!program)
        return LOCO_ERR_NOMEM;
    struct loco_code_outcome o;
    int rc = loco_codeeval_run(sandbox_params(), program, &o);
    free(program);
    if (rc)
        return rc; /* the sandbox could not run: an error, never a failed item */
    *score = o.passed ? 1.0 : 0.0;
    size_t k = (size_t)snprintf(detail, cap, "%s", loco_codeeval_verdict_name(o.verdict));
    if (o.detail[0] && k + 2 < cap)
        snprintf(detail + k, cap - k, ": %.*s", (int)(cap - k - 3), o.detail);
    return LOCO_OK;
}

static int score_item(const struct item *it, enum kind kind, const char *answer, double *score,
                      char *detail, size_t cap)
{
    detail[0] = '\0';
    switch (kind) {
    case K_GSM8K: {
        char *flex = NULL, *strict = NULL;
        loco_gsm8k_extract(answer, LOCO_GSM8K_FLEXIBLE, &flex);
        loco_gsm8k_extract(answer, LOCO_GSM8K_STRICT, &strict);
        int r = loco_gsm8k_score(answer, it->gold, LOCO_GSM8K_FLEXIBLE);
        int rs = loco_gsm8k_score(answer, it->gold, LOCO_GSM8K_STRICT);
        snprintf(detail, cap, "flexible=%s strict=%s strict_match=%d", flex ? flex : "",
                 strict ? strict : "", rs == 1);
        free(flex);
        free(strict);
        if (r < 0)
            return r;
        *score = r;
        return LOCO_OK;
    }
    case K_MBPP:
    case K_HUMANEVAL:
    case K_CODE_CUSTOM:
        return score_code(it, kind, answer, score, detail, cap);
    case K_ROUGE: {
        struct loco_rouge_score s;
        int rc = loco_rouge_l(it->gold ? it->gold : "", answer, true, &s);
        if (rc)
            return rc;
        *score = s.f1;
        snprintf(detail, cap, "p=%.4f r=%.4f", s.precision, s.recall);
        return LOCO_OK;
    }
    case K_ARC: {
        int k = loco_mc_extract(answer, it->arc.choices, it->arc.n_choices);
        *score = k >= 0 && !strcmp(it->arc.choices[k].label, it->gold);
        snprintf(detail, cap, "chose %s", k >= 0 ? it->arc.choices[k].label : "nothing");
        return LOCO_OK;
    }
    case K_EXACT: {
        int r = loco_score_exact_match(answer, it->gold ? it->gold : "", it->norm);
        if (r < 0)
            return r;
        *score = r;
        return LOCO_OK;
    }
    case K_NUMERIC: {
        int r = loco_score_numeric(answer, it->gold ? it->gold : "", detail, cap);
        if (r < 0)
            return r;
        *score = r;
        return LOCO_OK;
    }
    case K_REGEX: {
        int r = loco_score_regex_match(answer, it->pattern, it->gold ? it->gold : "", it->norm,
                                       detail, cap);
        if (r < 0)
            return r;
        *score = r;
        return LOCO_OK;
    }
    case K_JUDGE:
        return LOCO_OK; /* scored by the judge (judge_side) */
    }
    return loco_error_set(LOCO_ERR_INVALID, "unknown benchmark kind");
}

/* ---- one side: answers, scores, judgments ------------------------------------ */

/* What the steps of one benchmark share. */
struct run {
    const struct loco_model *m;
    const struct loco_eval_params *p;
    struct loco_evalcache *cache;
    char model_sha[65];
    enum kind kind;
    const struct item *items;
    size_t n;
    int32_t max_tokens;
    uint32_t samples;            /* answers per item and side */
    struct loco_chat_msg *shots; /* [2 * n_shots] turns before the question */
    size_t n_shots;
    bool judge_sees_reference;   /* custom llm_judge items: the reference goes in the prompt */
    int32_t digits[10];          /* the local judge's allowed tokens: "1".."max" that are */
    int32_t n_digits;            /* single tokens of the model's vocabulary */
    loco_eval_progress_fn progress;
    void *user;
    struct loco_eval_bench *out;
};

/* A seed of its own for draw `index` of stream `stream` (0: sampled answers,
 * 1: judgments), by splitmix64 (Steele, Lea and Flood 2014) of the user's seed. */
static uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * ((stream << 32) + index + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z == LOCO_SEED_RANDOM ? z - 1 : z;
}

static const char *template_name(const struct loco_eval_params *p)
{
    return p->chat_template ? p->chat_template : "model";
}

/* Decoding of answer sample s: greedy, or sampled with a seed of its own. */
static struct loco_generate_params answer_decoding(const struct run *r, uint32_t s)
{
    struct loco_generate_params gp = loco_generate_default_params();
    gp.max_tokens = r->max_tokens;
    gp.sampling.temperature = 0.0f;
    if (r->samples > 1) {
        gp.sampling.temperature = r->p->temperature;
        gp.sampling.top_k = 0;
        gp.sampling.top_p = r->p->top_p;
        gp.sampling.min_p = 0.0f;
        gp.sampling.repeat_penalty = 1.0f;
        gp.sampling.seed = derive_seed(r->p->seed, 0, s);
    }
    return gp;
}

/* The cache key's settings for answer sample s. The default (greedy,
 * zero-shot) text is the one every earlier cache entry was stored under. */
static char *answer_settings(const struct run *r, uint32_t s, uint64_t seed)
{
    const char *name = r->out->name, *tmpl = template_name(r->p);
    if (r->samples > 1)
        return str_printf("bench=%s;sample=%u;temperature=%.6g;top_p=%.6g;seed=%llu;"
                          "max_tokens=%d;template=%s;v1", name, s, (double)r->p->temperature,
                          (double)r->p->top_p, (unsigned long long)seed, r->max_tokens, tmpl);
    if (r->n_shots)
        return str_printf("bench=%s;greedy;shots=%zu;max_tokens=%d;template=%s;v1", name,
                          r->n_shots, r->max_tokens, tmpl);
    return str_printf("bench=%s;greedy;max_tokens=%d;template=%s;v1", name, r->max_tokens, tmpl);
}

/* Each item's conversation: its system message (custom items), the shots
 * (gsm8k), then its question. */
static int answer_requests(const struct run *r, struct gen_req *reqs)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct item *it = &r->items[i];
        size_t nm = 0;
        reqs[i].msgs = malloc((2 * r->n_shots + 2) * sizeof *reqs[i].msgs);
        if (!reqs[i].msgs)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        if (it->system)
            reqs[i].msgs[nm++] = (struct loco_chat_msg){.role = "system", .content = it->system};
        for (size_t k = 0; k < 2 * r->n_shots; k++)
            reqs[i].msgs[nm++] = r->shots[k];
        reqs[i].msgs[nm++] = (struct loco_chat_msg){.role = "user", .content = it->prompt};
        reqs[i].n_msgs = nm;
        reqs[i].key_text = it->key_text ? it->key_text : it->prompt;
    }
    return LOCO_OK;
}

/* Move answer sample s of request q into item i. */
static void keep_answer(struct run *r, int side, uint32_t s, size_t i, struct gen_req *q)
{
    struct loco_eval_item *it = &r->out->items[i];
    if (r->samples == 1) {
        it->output[side] = q->output;
        it->cached[side] = q->cached;
        if (q->status != LOCO_OK) /* not generated: scores 0 */
            snprintf(it->detail[side], sizeof it->detail[side], "not generated: %s",
                     loco_status_name(q->status));
    } else {
        it->sample_output[side][s] = q->output;
        it->cached[side] = (s == 0 || it->cached[side]) && q->cached;
        if (s == 0)
            it->output[side] = strdup(q->output);
    }
    q->output = NULL;
}

static int answer_side(struct run *r, const struct loco_adapter *a, float scale,
                       const char *adapter_desc, int side)
{
    struct loco_eval_bench *out = r->out;
    struct gen_req *reqs = calloc(r->n ? r->n : 1, sizeof *reqs);
    int rc = reqs ? answer_requests(r, reqs) : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    struct phase ph = {r->progress, r->user, out->name, "answers", side, 0, r->n * r->samples};
    struct gen_totals tot = {0};
    for (uint32_t s = 0; !rc && s < r->samples; s++) {
        struct gen_how how = {.model_sha = r->model_sha, .adapter_desc = adapter_desc,
                              .adapter = a, .scale = scale, .gp = answer_decoding(r, s)};
        char *settings = answer_settings(r, s, how.gp.sampling.seed);
        how.settings = settings;
        rc = settings ? eval_run_batch(r->m, r->p, r->cache, &how, reqs, r->n, &ph, &tot)
                      : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        for (size_t i = 0; !rc && i < r->n; i++)
            keep_answer(r, side, s, i, &reqs[i]);
        for (size_t i = 0; !rc && out->items && i < r->n; i++)
            if (!out->items[i].output[side])
                rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        eval_reqs_clear(reqs, r->n);
        free(settings);
    }
    out->gen_ms[side] = tot.ms;
    out->n_cached[side] = tot.cached;
    out->n_tokens[side] = tot.tokens;
    eval_reqs_free(reqs, r->n);
    return rc;
}

/* Run every sample of item i in the sandbox: score = passed / samples. */
static int score_samples(const struct run *r, int side, size_t i, struct phase *ph)
{
    struct loco_eval_item *it = &r->out->items[i];
    char first_fail[160] = "", detail[160];
    uint32_t c = 0;
    for (uint32_t s = 0; s < it->n_samples; s++) {
        double score = 0;
        int rc = score_code(&r->items[i], r->kind, it->sample_output[side][s], &score, detail,
                            sizeof detail);
        if (rc)
            return rc;
        it->sample_pass[side][s] = score > 0.5;
        c += score > 0.5;
        if (score <= 0.5 && !first_fail[0])
            snprintf(first_fail, sizeof first_fail, "%s", detail);
        eval_phase_step(ph, 1);
    }
    it->n_correct[side] = c;
    it->score[side] = (double)c / it->n_samples;
    snprintf(it->detail[side], sizeof it->detail[side], "%u/%u passed%s%.120s", c, it->n_samples,
             first_fail[0] ? "; first failure: " : "", first_fail);
    return LOCO_OK;
}

static bool is_code(enum kind k)
{
    return k == K_MBPP || k == K_HUMANEVAL || k == K_CODE_CUSTOM;
}

static int score_side(struct run *r, int side)
{
    struct loco_eval_bench *out = r->out;
    struct phase ph = {r->progress, r->user, out->name, "scoring", side, 0, r->n * r->samples};
    int rc = LOCO_OK;
    for (size_t i = 0; !rc && i < r->n; i++) {
        struct loco_eval_item *it = &out->items[i];
        if (r->kind == K_JUDGE)
            break; /* the judge scores */
        if (r->samples > 1) {
            rc = score_samples(r, side, i, &ph);
        } else if (!it->detail[side][0]) { /* not generated: scores 0 */
            rc = score_item(&r->items[i], r->kind, it->output[side], &it->score[side],
                            it->detail[side], sizeof it->detail[side]);
            if (is_code(r->kind))
                eval_phase_step(&ph, 1);
        }
        if (rc)
            loco_error_prefix("%s item %s", out->name, it->id);
    }
    return rc;
}

/* The tokens that spell the ratings 1..max on their own ("10" only where
 * the vocabulary has it as one token; byte-level vocabularies split it, so
 * the local judge then rates 1-9 on the 1-10 scale). */
static void rating_digits(struct run *r)
{
    const struct loco_tokenizer *tok = loco_model_tokenizer(r->m);
    int32_t max = loco_judge_rubric_max(r->p->judge.rubric);
    r->n_digits = 0;
    for (int32_t k = 1; k <= max && k <= 10; k++) {
        char text[16];
        snprintf(text, sizeof text, "%d", (int)k);
        int32_t *t = NULL;
        size_t n = 0;
        if (loco_tokenizer_encode(tok, text, strlen(text), false, false, &t, &n) == LOCO_OK &&
            n == 1)
            r->digits[r->n_digits++] = t[0];
        free(t);
    }
}

/* How judgment j is made: the base model (no adapter) pre-filled with the
 * rating's opening, or the endpoint. *settings is malloc'd. */
static struct gen_how judge_how(const struct run *r, uint32_t j, char *remote_sha, size_t cap,
                                char **settings)
{
    const struct loco_judge_params *jp = &r->p->judge;
    struct gen_how how = {.model_sha = r->model_sha, .adapter_desc = "",
                          .gp = loco_generate_default_params()};
    how.gp.sampling.temperature = jp->temperature;
    how.gp.sampling.top_k = 0;
    how.gp.sampling.top_p = 0.95f;
    how.gp.sampling.min_p = 0.0f;
    how.gp.sampling.repeat_penalty = 1.0f;
    how.gp.sampling.seed = derive_seed(r->p->seed, 1, j);
    const char *rubric = loco_judge_rubric_name(jp->rubric);
    unsigned long long seed = (unsigned long long)how.gp.sampling.seed;
    if (jp->url) {
        snprintf(remote_sha, cap, "remote:%s@%s", jp->model ? jp->model : "", jp->url);
        how.model_sha = remote_sha;
        how.remote = jp;
        how.gp.max_tokens = jp->max_tokens;
        *settings = str_printf("judge=remote;rubric=%s;judgment=%u;temperature=%.6g;seed=%llu;"
                               "max_tokens=%d;v1", rubric, j, (double)jp->temperature, seed,
                               jp->max_tokens);
    } else {
        /* pre-filled "Rating: [[", then one token drawn from the rating digits
         * only: every local judgment is a rating. A vocabulary without
         * single-token digits writes up to 8 free tokens instead. */
        how.prefill = LOCO_JUDGE_PREFILL;
        if (r->n_digits > 0) {
            how.gp.max_tokens = 1;
            how.gp.sampling.allowed = r->digits;
            how.gp.sampling.n_allowed = r->n_digits;
            *settings = str_printf("judge=local;rubric=%s;judgment=%u;temperature=%.6g;"
                                   "seed=%llu;prefill=%s;digits=%d;max_tokens=1;template=%s;v2",
                                   rubric, j, (double)jp->temperature, seed, LOCO_JUDGE_PREFILL,
                                   r->n_digits, template_name(r->p));
        } else {
            how.gp.max_tokens = 8; /* "7]]" and a little room */
            *settings = str_printf("judge=local;rubric=%s;judgment=%u;temperature=%.6g;"
                                   "top_p=0.95;seed=%llu;prefill=%s;max_tokens=8;template=%s;v1",
                                   rubric, j, (double)jp->temperature, seed, LOCO_JUDGE_PREFILL,
                                   template_name(r->p));
        }
    }
    return how;
}

/* The judge's conversation about item i's answer on `side`. */
static int judge_request(const struct run *r, size_t i, int side, struct gen_req *q,
                         char **prompt)
{
    const struct item *src = &r->items[i];
    *prompt = loco_judge_prompt(r->p->judge.rubric, src->prompt, r->out->items[i].output[side],
                                r->judge_sees_reference ? src->gold : NULL, src->rubric);
    q->msgs = malloc(2 * sizeof *q->msgs);
    if (!*prompt || !q->msgs)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    q->msgs[0] = (struct loco_chat_msg){.role = "system", .content = loco_judge_system_prompt()};
    q->msgs[1] = (struct loco_chat_msg){.role = "user", .content = *prompt};
    q->n_msgs = 2;
    q->key_text = *prompt;
    return LOCO_OK;
}

/* Keep judgment j of item it on `side`: the judge's whole reply (the local
 * judge's pre-filled opening, then what it wrote) and the rating read from
 * it (NaN when none can be read). */
static int keep_judgment(const struct run *r, struct loco_eval_item *it, int side, uint32_t j,
                         const struct gen_req *q)
{
    char *text = r->p->judge.url ? strdup(q->output)
                 : str_printf("%s%s%s", LOCO_JUDGE_PREFILL, q->output, r->n_digits ? "]]" : "");
    if (!text)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    double v = NAN;
    if (q->status != LOCO_OK ||
        loco_judge_parse_rating(text, loco_judge_rubric_max(r->p->judge.rubric), &v) != LOCO_OK)
        v = NAN;
    it->judge_reply[side][j] = text;
    it->rating[side][j] = v;
    return LOCO_OK;
}

/* Item i's score on `side` from its ratings: the mean valid rating on 0..1. */
static void score_ratings(struct loco_eval_item *it, int side, int32_t max)
{
    double sum = 0;
    uint32_t valid = 0;
    size_t at = (size_t)snprintf(it->detail[side], sizeof it->detail[side], "ratings");
    for (uint32_t j = 0; j < it->n_ratings; j++) {
        double v = it->rating[side][j];
        if (!isnan(v)) {
            sum += loco_judge_normalise(v, max);
            valid++;
        }
        if (at < sizeof it->detail[side])
            at += (size_t)snprintf(it->detail[side] + at, sizeof it->detail[side] - at,
                                   isnan(v) ? " ?" : " %g", v);
    }
    it->score[side] = valid ? sum / valid : NAN;
    if (!valid)
        it->unrated = true;
}

static int judge_side(struct run *r, int side)
{
    struct loco_eval_bench *out = r->out;
    const struct loco_judge_params *jp = &r->p->judge;
    uint32_t n_j = jp->n_judgments < 1 ? 1
                   : jp->n_judgments > LOCO_JUDGE_MAX_JUDGMENTS ? LOCO_JUDGE_MAX_JUDGMENTS
                                                                : jp->n_judgments;
    struct gen_req *reqs = calloc(r->n ? r->n : 1, sizeof *reqs);
    char **prompts = calloc(r->n ? r->n : 1, sizeof *prompts), remote_sha[2048];
    size_t *idx = calloc(r->n ? r->n : 1, sizeof *idx), k = 0;
    int rc = reqs && prompts && idx ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < r->n; i++) {
        out->items[i].n_ratings = n_j;
        for (uint32_t j = 0; j < n_j; j++)
            out->items[i].rating[side][j] = NAN;
        if (out->items[i].detail[side][0]) /* not generated: scores 0, unjudged */
            continue;
        idx[k] = i;
        rc = judge_request(r, i, side, &reqs[k], &prompts[k]);
        k++;
    }
    struct phase ph = {r->progress, r->user, out->name, "judging", side, 0, k * n_j};
    struct gen_totals tot = {0};
    for (uint32_t j = 0; !rc && j < n_j; j++) {
        char *settings = NULL;
        struct gen_how how = judge_how(r, j, remote_sha, sizeof remote_sha, &settings);
        how.settings = settings;
        rc = settings ? eval_run_batch(r->m, r->p, r->cache, &how, reqs, k, &ph, &tot)
                      : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        for (size_t q = 0; !rc && q < k; q++)
            rc = keep_judgment(r, &out->items[idx[q]], side, j, &reqs[q]);
        eval_reqs_clear(reqs, k);
        free(settings);
    }
    for (size_t q = 0; !rc && q < k; q++)
        score_ratings(&out->items[idx[q]], side, loco_judge_rubric_max(jp->rubric));
    if (rc)
        loco_error_prefix("%s: judging the %s answers", out->name, side ? "adapter" : "base");
    out->judge_ms[side] = tot.ms;
    out->n_judge_cached[side] = tot.cached;
    out->n_judgments[side] = k * n_j;
    for (size_t q = 0; prompts && q < k; q++)
        free(prompts[q]);
    free(prompts);
    free(idx);
    eval_reqs_free(reqs, k);
    return rc;
}

/* Without an adapter the adapter side is the base side. */
static int copy_side(struct loco_eval_bench *out)
{
    for (size_t i = 0; i < out->n; i++) {
        struct loco_eval_item *it = &out->items[i];
        it->output[1] = strdup(it->output[0]);
        it->cached[1] = it->cached[0];
        it->score[1] = it->score[0];
        memcpy(it->detail[1], it->detail[0], sizeof it->detail[1]);
        memcpy(it->rating[1], it->rating[0], sizeof it->rating[1]);
        for (uint32_t j = 0; j < it->n_ratings; j++)
            if (it->judge_reply[0][j] && !(it->judge_reply[1][j] = strdup(it->judge_reply[0][j])))
                return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        it->n_correct[1] = it->n_correct[0];
        for (uint32_t s = 0; s < it->n_samples; s++) {
            it->sample_output[1][s] = strdup(it->sample_output[0][s]);
            it->sample_pass[1][s] = it->sample_pass[0][s];
            if (!it->sample_output[1][s])
                return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        }
        if (!it->output[1])
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    out->n_cached[1] = out->n_cached[0];
    out->n_tokens[1] = out->n_tokens[0];
    out->n_judgments[1] = out->n_judgments[0];
    out->n_judge_cached[1] = out->n_judge_cached[0];
    return LOCO_OK;
}

/* ---- the whole benchmark -------------------------------------------------- */

static void pass_k_summary(struct loco_eval_bench *b)
{
    for (size_t k = 0; k < LOCO_EVAL_MAX_PASS_K && pass_ks[k] <= b->samples; k++) {
        b->pass_k[b->n_pass_k] = pass_ks[k];
        for (int side = 0; side < 2; side++) {
            double sum = 0;
            for (size_t i = 0; i < b->n; i++)
                sum += loco_eval_pass_at_k(b->samples, b->items[i].n_correct[side], pass_ks[k]);
            b->pass_at_k[side][b->n_pass_k] = b->n ? sum / (double)b->n : NAN;
        }
        b->n_pass_k++;
    }
}

/* Mean valid rating, mean per-item sd and range, unparseable judgments. */
static void judge_summary(struct loco_eval_bench *b, int side)
{
    double sum = 0, sd_sum = 0, range_sum = 0;
    size_t valid = 0, n_sd = 0, n_range = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct loco_eval_item *it = &b->items[i];
        double s1 = 0, s2 = 0, lo = INFINITY, hi = -INFINITY;
        size_t m = 0;
        for (uint32_t j = 0; j < it->n_ratings; j++) {
            double v = it->rating[side][j];
            if (isnan(v))
                continue;
            s1 += v;
            s2 += v * v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            m++;
        }
        sum += s1;
        valid += m;
        if (m >= 1) {
            range_sum += hi - lo;
            n_range++;
        }
        if (m >= 2) {
            double var = (s2 - s1 * s1 / (double)m) / (double)(m - 1);
            sd_sum += sqrt(var > 0 ? var : 0);
            n_sd++;
        }
    }
    b->mean_rating[side] = valid ? sum / (double)valid : NAN;
    b->rating_sd[side] = n_sd ? sd_sum / (double)n_sd : NAN;
    b->rating_range[side] = n_range ? range_sum / (double)n_range : NAN;
    b->n_unparsed[side] = b->n_judgments[side] - valid;
}

static int compare(struct loco_eval_bench *b, const struct loco_eval_params *p)
{
    size_t n = b->n, m = 0;
    if (n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "benchmark %s has no items", b->name);
    double *x0 = malloc(n * sizeof *x0), *x1 = malloc(n * sizeof *x1);
    uint8_t *y0 = malloc(n), *y1 = malloc(n);
    int rc = x0 && x1 && y0 && y1 ? LOCO_OK : LOCO_ERR_NOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        if (b->items[i].unrated) /* no valid rating on a side: no pair */
            continue;
        if (b->decontaminated && b->items[i].contaminated)
            continue;
        x0[m] = b->items[i].score[0];
        x1[m] = b->items[i].score[1];
        y0[m] = x0[m] > 0.5;
        y1[m] = x1[m] > 0.5;
        m++;
    }
    b->n_used = m;
    if (!rc && b->binary) {
        rc = loco_stats_binary_paired(y0, y1, m, &p->stats, &b->bin);
        b->base_score = b->bin.base_acc;
        b->adapter_score = b->bin.adapter_acc;
        b->diff = b->bin.diff;
        b->diff_ci = b->bin.diff_ci;
        b->p_value = b->bin.p_value;
    } else if (!rc && m < 2) {
        /* e.g. a judge that rated nothing: no statistics, and no gate */
        b->base_score = b->adapter_score = b->diff = b->p_value = NAN;
        b->diff_ci = (struct loco_ci){NAN, NAN};
        b->cont.base_ci = b->cont.adapter_ci = b->diff_ci;
        b->cont.bootstrap_p = b->cont.cohens_dz = b->cont.wilcoxon.rank_biserial = NAN;
        b->cont.power[0] = b->cont.power[1] = NAN;
        b->verdict = LOCO_VERDICT_FAIL;
        b->gate_why = "fewer than 2 items have a valid rating on both sides";
        goto done;
    } else if (!rc) {
        rc = loco_stats_continuous_paired(x0, x1, m, &p->stats, &b->cont);
        b->base_score = b->cont.base_mean;
        b->adapter_score = b->cont.adapter_mean;
        b->diff = b->cont.diff;
        b->diff_ci = b->cont.diff_ci;
        b->p_value = b->cont.p_value;
    }
    if (!rc && b->in_domain)
        b->verdict = loco_stats_gate_domain(m, b->p_value, b->diff, p->stats.alpha, &b->gate_why)
                         ? LOCO_VERDICT_PASS
                         : LOCO_VERDICT_FAIL;
    else if (!rc)
        b->verdict = loco_stats_gate_noninferior_verdict(m, b->base_score, b->diff_ci,
                                                         p->stats.ni_margin, &b->gate_why);
    if (!rc && b->n_contaminated && !b->decontaminated) {
        b->verdict = LOCO_VERDICT_FAIL;
        b->gate_why = "contaminated: items share 13-grams with the adapter's training data "
                      "(see contamination; --decontaminate scores the clean items)";
    }
done:
    b->gate_passed = b->verdict == LOCO_VERDICT_PASS;
    free(x0);
    free(x1);
    free(y0);
    free(y1);
    return rc;
}

/* The shots: the first k GSM8K train problems, each a user turn and the
 * worked answer (ending "#### N") as the assistant's turn. */
static int load_shots(struct run *r, const struct loco_eval_params *p,
                      struct loco_gsm8k_example **ex, size_t *n_ex)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/gsm8k/train.jsonl",
             p->shared_dir ? p->shared_dir : "../shared");
    int rc = loco_gsm8k_load(path, p->shots, ex, n_ex);
    if (!rc && *n_ex < p->shots)
        rc = loco_error_set(LOCO_ERR_RANGE, "%s has %zu problems, fewer than --shots %u", path,
                            *n_ex, p->shots);
    r->shots = rc ? NULL : calloc(2 * *n_ex, sizeof *r->shots);
    if (!rc && !r->shots)
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t k = 0; !rc && k < *n_ex; k++) {
        r->shots[2 * k] = (struct loco_chat_msg){.role = "user", .content = (*ex)[k].question};
        r->shots[2 * k + 1] =
            (struct loco_chat_msg){.role = "assistant", .content = (*ex)[k].answer_text};
    }
    r->n_shots = rc ? 0 : *n_ex;
    return rc;
}

static void name_bench(const char *bench, bool builtin, char *name, size_t cap);

void loco_eval_bench_name(const char *bench, char *name, size_t cap)
{
    bool builtin = false;
    for (size_t i = 0; bench && i < N_BUILTINS; i++)
        builtin = builtin || !strcmp(builtins[i].name, bench);
    name_bench(bench ? bench : "", builtin, name, cap);
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

/* The result's shape: metric, test, settings, per-item storage. */
static int setup_result(struct run *r, bool in_domain)
{
    struct loco_eval_bench *out = r->out;
    const struct loco_eval_params *p = r->p;
    out->binary = r->kind != K_ROUGE && r->kind != K_JUDGE && r->samples == 1;
    snprintf(out->metric, sizeof out->metric, "%s",
             r->kind == K_ROUGE     ? "rouge-l-f1"
             : is_code(r->kind)     ? "pass@1"
             : r->kind == K_EXACT   ? "exact_match"
             : r->kind == K_NUMERIC ? "numeric"
             : r->kind == K_REGEX   ? "regex_match"
             : r->kind == K_JUDGE   ? (p->judge.rubric == LOCO_JUDGE_PROMETHEUS ? "judge-prometheus"
                                                                              : "judge-mtbench")
                                    : "accuracy");
    out->in_domain = in_domain;
    out->gate_kind = in_domain ? LOCO_GATE_SUPERIORITY : LOCO_GATE_NONINFERIORITY;
    out->samples = r->samples;
    out->temperature = r->samples > 1 ? p->temperature : 0.0f;
    out->seed = p->seed;
    out->judged = r->kind == K_JUDGE;
    out->rubric = p->judge.rubric;
    out->rating_max = loco_judge_rubric_max(p->judge.rubric);
    if (out->judged && p->judge.url)
        snprintf(out->judge, sizeof out->judge, "%.60s at %.120s",
                 p->judge.model ? p->judge.model : "", p->judge.url);
    else if (out->judged)
        snprintf(out->judge, sizeof out->judge, "base model (in process)");
    out->n = r->n;
    out->items = calloc(r->n ? r->n : 1, sizeof *out->items);
    if (!out->items)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++) {
        struct loco_eval_item *it = &out->items[i];
        it->id = strdup(r->items[i].id);
        it->prompt = strdup(r->items[i].prompt);
        if (!it->id || !it->prompt)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        if (r->samples == 1)
            continue;
        it->n_samples = r->samples;
        for (int side = 0; side < 2; side++) {
            it->sample_output[side] = calloc(r->samples, sizeof *it->sample_output[side]);
            it->sample_pass[side] = calloc(r->samples, 1);
            if (!it->sample_output[side] || !it->sample_pass[side])
                return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        }
    }
    return LOCO_OK;
}

/* Answer, score and judge each side. */
static int run_sides(struct run *r, const struct loco_adapter *a, float scale)
{
    int rc = loco_model_sha256(r->m, r->model_sha);
    char adapter_desc[256] = "";
    if (!rc && a) {
        char asha[65];
        rc = loco_models_sha256_file(loco_adapter_info(a)->path, asha);
        snprintf(adapter_desc, sizeof adapter_desc, "%s:%.6g", asha, (double)scale);
    }
    for (int side = 0; side < 2 && !rc; side++) {
        if (side == 1 && !a) {
            rc = copy_side(r->out);
            break;
        }
        rc = answer_side(r, side ? a : NULL, scale, side ? adapter_desc : "", side);
        if (!rc)
            rc = score_side(r, side);
        if (!rc && r->kind == K_JUDGE)
            rc = judge_side(r, side);
    }
    return rc;
}

/* Each item's prompt against the adapter's training data. */
static int check_contamination(struct loco_eval_bench *b, const struct loco_eval_params *p)
{
    b->contam_checked = true;
    b->contam_threshold = p->contam_threshold;
    for (size_t i = 0; i < b->n; i++) {
        struct loco_eval_item *it = &b->items[i];
        struct loco_contam_hit hit;
        int rc = loco_contam_query(p->contam, it->prompt, &hit);
        if (rc)
            return rc;
        it->contam_exact = hit.exact;
        it->contam_fraction = hit.fraction;
        it->contaminated = loco_contam_is_contaminated(&hit, p->contam_threshold);
        b->n_contam_exact += hit.exact;
        b->n_contam_overlap += hit.found > 0;
        b->n_contaminated += it->contaminated;
    }
    b->decontaminated = p->decontaminate && b->n_contaminated > 0;
    return LOCO_OK;
}

int loco_eval_bench_run(const struct loco_model *m, const struct loco_adapter *a, float scale,
                        const char *bench, bool in_domain, const struct loco_eval_params *p,
                        loco_eval_progress_fn progress, void *user, struct loco_eval_bench *out)
{
    memset(out, 0, sizeof *out);
    if (!m || !bench || !p)
        return loco_error_set(LOCO_ERR_INVALID, "eval: model, benchmark and params are required");
    const struct bench_def *def = NULL;
    for (size_t i = 0; i < N_BUILTINS; i++)
        if (!strcmp(builtins[i].name, bench))
            def = &builtins[i];
    if (!def && !is_custom(bench))
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no benchmark '%s' (built in: gsm8k, mbpp, "
                              "humaneval, summarisation, arc-easy, arc-challenge, judge, "
                              "judge-roleplay; or a custom FILE.jsonl)", bench);
    if (p->samples > LOCO_EVAL_MAX_SAMPLES || p->shots > LOCO_EVAL_MAX_SHOTS)
        return loco_error_set(LOCO_ERR_RANGE, "eval: at most %d samples and %d shots",
                              LOCO_EVAL_MAX_SAMPLES, LOCO_EVAL_MAX_SHOTS);
    struct item *items = NULL;
    size_t n = 0;
    enum kind kind = def ? def->kind : K_EXACT;
    int rc = def ? load_builtin(def, p, &items, &n) : load_custom(bench, p, &kind, &items, &n);
    if (rc)
        return rc;
    name_bench(bench, def != NULL, out->name, sizeof out->name);
    struct run r = {.m = m, .p = p, .kind = kind, .items = items, .n = n,
                    .max_tokens = p->max_tokens > 0 ? p->max_tokens
                                  : def               ? def->max_tokens
                                  : kind == K_NUMERIC ? 320 /* worked answers, as gsm8k */
                                                      : 256,
                    .samples = is_code(kind) && p->samples > 1 ? p->samples : 1,
                    .judge_sees_reference = !def, .progress = progress, .user = user, .out = out};
    struct loco_gsm8k_example *shot_ex = NULL;
    size_t n_shot_ex = 0;
    if (kind == K_GSM8K && p->shots)
        rc = load_shots(&r, p, &shot_ex, &n_shot_ex);
    out->shots = (uint32_t)r.n_shots;
    if (!rc && !p->judge.url)
        rating_digits(&r);
    if (!rc)
        rc = setup_result(&r, in_domain);
    if (!rc && p->cache_path)
        rc = loco_evalcache_open(p->cache_path, &r.cache);
    if (!rc)
        rc = run_sides(&r, a, scale);
    loco_evalcache_close(r.cache);
    for (size_t i = 0; i < n; i++)
        item_free(&items[i]);
    free(items);
    free(r.shots);
    loco_gsm8k_examples_free(shot_ex, n_shot_ex);
    if (!rc && r.samples > 1)
        pass_k_summary(out);
    for (int side = 0; !rc && out->judged && side < 2; side++)
        judge_summary(out, side);
    if (!rc && p->contam)
        rc = check_contamination(out, p);
    if (!rc)
        rc = compare(out, p);
    if (rc)
        loco_eval_bench_free(out);
    return rc;
}

int loco_eval_bench_info(const char *bench, const struct loco_eval_params *p, bool *binary,
                         size_t *n_items, char **domain)
{
    if (!bench || !p || !binary || !n_items)
        return loco_error_set(LOCO_ERR_INVALID, "eval: bench_info needs a benchmark and outputs");
    if (domain)
        *domain = NULL;
    const struct bench_def *def = NULL;
    for (size_t i = 0; i < N_BUILTINS; i++)
        if (!strcmp(builtins[i].name, bench))
            def = &builtins[i];
    if (!def && !is_custom(bench))
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no benchmark '%s'", bench);
    struct loco_eval_params all = *p;
    all.limit = 0; /* every item: the plan compares n with what there is */
    struct item *items = NULL;
    size_t n = 0;
    enum kind kind = def ? def->kind : K_EXACT;
    int rc = def ? load_builtin(def, &all, &items, &n) : load_custom(bench, &all, &kind, &items, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        item_free(&items[i]);
    free(items);
    if (!def && domain) {
        struct loco_bench_items *set = NULL;
        rc = loco_bench_items_load(bench, &set);
        if (!rc && set->domain && !(*domain = strdup(set->domain)))
            rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        loco_bench_items_free(set);
        if (rc)
            return rc;
    }
    uint32_t samples = is_code(kind) && p->samples > 1 ? p->samples : 1;
    *binary = kind != K_ROUGE && kind != K_JUDGE && samples == 1;
    *n_items = n;
    return LOCO_OK;
}

void loco_eval_bench_free(struct loco_eval_bench *b)
{
    for (size_t i = 0; b->items && i < b->n; i++) {
        struct loco_eval_item *it = &b->items[i];
        free(it->id);
        free(it->prompt);
        for (int side = 0; side < 2; side++) {
            free(it->output[side]);
            for (uint32_t s = 0; it->sample_output[side] && s < it->n_samples; s++)
                free(it->sample_output[side][s]);
            free(it->sample_output[side]);
            free(it->sample_pass[side]);
            for (uint32_t j = 0; j < LOCO_JUDGE_MAX_JUDGMENTS; j++)
                free(it->judge_reply[side][j]);
        }
    }
    free(b->items);
    memset(b, 0, sizeof *b);
}

/* ---- scoring stored answers again (rescore.c) --------------------------------- */

/* The item of `items` with this id, or NULL. */
static const struct item *item_by_id(const struct item *items, size_t n, const char *id)
{
    for (size_t i = 0; id && i < n; i++)
        if (!strcmp(items[i].id, id))
            return &items[i];
    return NULL;
}

/* One side of one stored item scored again: its one answer, or every sample. */
static int rescore_side(const struct item *src, enum kind kind, struct loco_eval_item *it, int side)
{
    if (it->n_samples <= 1) {
        if (!strncmp(it->detail[side], "not generated", 13))
            return LOCO_OK; /* scores 0, as when the run made it */
        return score_item(src, kind, it->output[side] ? it->output[side] : "", &it->score[side],
                          it->detail[side], sizeof it->detail[side]);
    }
    char first_fail[160] = "", detail[160];
    uint32_t c = 0;
    for (uint32_t s = 0; s < it->n_samples; s++) {
        double score = 0;
        const char *answer = it->sample_output[side][s] ? it->sample_output[side][s] : "";
        int rc = score_code(src, kind, answer, &score, detail, sizeof detail);
        if (rc)
            return rc;
        it->sample_pass[side][s] = score > 0.5;
        c += score > 0.5;
        if (score <= 0.5 && !first_fail[0])
            snprintf(first_fail, sizeof first_fail, "%s", detail);
    }
    it->n_correct[side] = c;
    it->score[side] = (double)c / it->n_samples;
    snprintf(it->detail[side], sizeof it->detail[side], "%u/%u passed%s%.120s", c, it->n_samples,
             first_fail[0] ? "; first failure: " : "", first_fail);
    return LOCO_OK;
}

int eval_bench_rescore(const char *bench, const struct loco_eval_params *p,
                       struct loco_eval_bench *b)
{
    const struct bench_def *def = NULL;
    for (size_t i = 0; bench && i < N_BUILTINS; i++)
        if (!strcmp(builtins[i].name, bench))
            def = &builtins[i];
    if (!bench || (!def && !is_custom(bench)))
        return loco_error_set(LOCO_ERR_NOT_FOUND, "rescore: no benchmark '%s'",
                              bench ? bench : "(null)");
    struct loco_eval_params all = *p;
    all.limit = 0; /* items are matched by id */
    struct item *items = NULL;
    size_t n = 0;
    enum kind kind = b->judged ? K_JUDGE : def ? def->kind : K_EXACT;
    int rc = b->judged ? LOCO_OK /* nothing to score: no items needed */
             : def     ? load_builtin(def, &all, &items, &n)
                       : load_custom(bench, &all, &kind, &items, &n);
    if (rc)
        return rc;
    uint32_t samples = b->samples > 1 && is_code(kind) ? b->samples : 1;
    b->binary = kind != K_ROUGE && kind != K_JUDGE && samples == 1;
    for (size_t i = 0; !rc && kind != K_JUDGE && i < b->n; i++) {
        struct loco_eval_item *it = &b->items[i];
        const struct item *src = item_by_id(items, n, it->id);
        if (!src)
            rc = loco_error_set(LOCO_ERR_NOT_FOUND, "rescore: %s has no item %s", b->name,
                                it->id ? it->id : "(no id)");
        for (int side = 0; !rc && side < 2; side++)
            rc = rescore_side(src, kind, it, side);
        if (rc)
            loco_error_prefix("%s item %s", b->name, it->id ? it->id : "?");
    }
    for (size_t i = 0; i < n; i++)
        item_free(&items[i]);
    free(items);
    b->n_pass_k = 0;
    if (!rc && samples > 1)
        pass_k_summary(b);
    return rc ? rc : compare(b, p);
}
