/*
 * run.c - one benchmark on the base model and on an adapter (see
 * loco/eval.h): load items, generate both sides (batched, cached), score,
 * compare.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/bench_items.h"
#include "loco/codeeval.h"
#include "loco/eval.h"
#include "loco/evalcache.h"
#include "loco/generate.h"
#include "loco/models.h"
#include "loco/sandbox.h"
#include "loco/score.h"

enum kind { K_GSM8K, K_MBPP, K_HUMANEVAL, K_ROUGE, K_ARC, K_EXACT, K_CODE_CUSTOM };

/* One item and what scores it. */
struct item {
    char *id;
    char *prompt;
    char *gold;         /* gsm8k answer, reference summary, arc key, exact reference */
    char *code_prompt;  /* humaneval: the function signature and docstring */
    char *test;         /* humaneval test code; mbpp setup code */
    char *entry_point;  /* humaneval */
    char **tests;       /* mbpp / custom code asserts */
    size_t n_tests;
    struct loco_arc_item arc;
    uint32_t norm;      /* custom exact_match normalisation */
};

struct bench_def {
    const char *name;
    enum kind kind;
    const char *file;  /* under datasets/ */
    int32_t max_tokens;
};

static const struct bench_def builtins[] = {
    {"gsm8k", K_GSM8K, "gsm8k/test.jsonl", 320},
    {"mbpp", K_MBPP, "mbpp/mbpp.jsonl", 384},
    {"humaneval", K_HUMANEVAL, "humaneval/humaneval.jsonl", 384},
    {"summarisation", K_ROUGE, "summarisation/summarisation.jsonl", 64},
    {"arc-easy", K_ARC, "arc/ARC-Easy-test.jsonl", 24},
    {"arc-challenge", K_ARC, "arc/ARC-Challenge-test.jsonl", 24},
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

static const char *const bench_names[] = {"gsm8k", "mbpp", "humaneval", "summarisation",
                                          "arc-easy", "arc-challenge", NULL};

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
    return NULL;
}

struct loco_eval_params loco_eval_default_params(void)
{
    return (struct loco_eval_params){.shared_dir = "../shared", .slots = 4, .n_ctx = 1280,
                                     .threads = 2, .stats = loco_stats_default_params()};
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
        if (line < 600)
            return 1; /* records 1-600 train the summarisation adapter */
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
    while (rc == LOCO_OK && getline(&line, &lcap, f) >= 0 && (!p->limit || n < p->limit)) {
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
        else if (b->type == LOCO_EVAL_LLM_JUDGE)
            rc = loco_error_set(LOCO_ERR_UNSUPPORTED, "%s: llm_judge items need the judge, "
                                "which this loco does not have yet", path);
        items[i].id = strdup(b->id);
        items[i].prompt = strdup(b->prompt);
        items[i].gold = b->reference ? strdup(b->reference) : NULL;
        items[i].norm = b->normalise;
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
    }
    return loco_error_set(LOCO_ERR_INVALID, "unknown benchmark kind");
}

/* ---- generation ----------------------------------------------------------- */

/* A copy of s with every byte that does not start a well-formed UTF-8
 * sequence replaced by U+FFFD, so that answers cut inside a character (or
 * byte-fallback tokens) still make valid JSON. */
static char *utf8_clean(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n && !(len == 2 && c < 0xc2);
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
        if (ok && len == 3) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
        }
        if (ok && len == 4) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = c <= 0xf4 && !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
        }
        if (ok) {
            memcpy(o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    return out;
}

struct side_run {
    struct loco_eval_bench *out;
    int side;
    struct loco_evalcache *cache;
    char **keys;             /* [n] */
    const char *model_sha, *adapter_desc, *settings;
    size_t *job_item;        /* job -> item */
    size_t done;
    loco_eval_progress_fn progress;
    void *user;
};

static bool job_done(void *user, size_t j, struct loco_gen_job *job)
{
    struct side_run *r = user;
    size_t i = r->job_item[j];
    struct loco_eval_item *it = &r->out->items[i];
    if (job->status == LOCO_OK) {
        it->output[r->side] = utf8_clean(job->res.text);
        r->out->n_tokens[r->side] += job->res.n_generated;
        if (r->cache)
            loco_evalcache_put(r->cache, r->keys[i], r->model_sha, r->adapter_desc, r->settings,
                               it->prompt, job->res.text, job->res.n_generated,
                               job->res.prompt_ms + job->res.generate_ms);
    }
    r->done++;
    if (r->progress)
        r->progress(r->user, r->out->name, r->side, r->done, r->out->n);
    return true;
}

static int generate_side(const struct loco_model *m, const struct loco_adapter *a, float scale,
                         int side, int32_t max_tokens, const struct loco_eval_params *p,
                         struct loco_evalcache *cache, loco_eval_progress_fn progress,
                         void *user, struct loco_eval_bench *out)
{
    char model_sha[65], adapter_desc[256] = "", settings[256];
    int rc = loco_model_sha256(m, model_sha);
    if (!rc && a) {
        char asha[65];
        rc = loco_models_sha256_file(loco_adapter_info(a)->path, asha);
        snprintf(adapter_desc, sizeof adapter_desc, "%s:%.6g", asha, (double)scale);
    }
    snprintf(settings, sizeof settings, "bench=%s;greedy;max_tokens=%d;template=%s;v1", out->name,
             max_tokens, p->chat_template ? p->chat_template : "model");
    size_t n = out->n;
    char **keys = calloc(n, sizeof *keys);
    struct loco_gen_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    size_t *job_item = calloc(n ? n : 1, sizeof *job_item);
    int32_t **toks = calloc(n ? n : 1, sizeof *toks);
    if (!rc && (!keys || !jobs || !job_item || !toks))
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    size_t n_jobs = 0;
    struct side_run run = {out, side, cache, keys, model_sha, adapter_desc, settings, job_item,
                           0, progress, user};
    for (size_t i = 0; !rc && i < n; i++) {
        struct loco_eval_item *it = &out->items[i];
        keys[i] = malloc(65);
        if (!keys[i] || loco_evalcache_key(model_sha, adapter_desc, settings, it->prompt,
                                           keys[i])) {
            rc = LOCO_ERR_NOMEM;
            break;
        }
        struct loco_evalcache_entry e;
        if (cache && loco_evalcache_get(cache, keys[i], &e) == LOCO_OK) {
            it->output[side] = utf8_clean(e.output);
            free(e.output);
            it->cached[side] = true;
            out->n_cached[side]++;
            out->n_tokens[side] += e.n_tokens;
            run.done++;
            continue;
        }
        struct loco_chat_msg msg = {.role = "user", .content = it->prompt};
        size_t nt = 0;
        rc = loco_chat_tokenize(m, p->chat_template, &msg, 1, &toks[n_jobs], &nt);
        jobs[n_jobs] = (struct loco_gen_job){.prompt = toks[n_jobs], .n_prompt = nt};
        job_item[n_jobs++] = i;
    }
    if (progress && !rc)
        progress(user, out->name, side, run.done, n);
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = p->n_ctx;
    cp.n_seq = p->slots > 0 ? p->slots : 1;
    cp.n_batch = p->n_ctx < 512 ? p->n_ctx : 512;
    cp.n_threads = p->threads > 0 ? p->threads : 1;
    struct loco_context *ctx = !rc && n_jobs ? loco_context_init(m, cp) : NULL;
    if (!rc && n_jobs && !ctx)
        rc = LOCO_ERR_NOMEM;
    for (int32_t s = 0; !rc && ctx && a && s < cp.n_seq; s++) {
        struct loco_adapter_ref ref = {a, scale};
        rc = loco_context_set_adapters(ctx, s, &ref, 1);
    }
    struct loco_generate_params gp = loco_generate_default_params();
    gp.max_tokens = max_tokens;
    gp.sampling.temperature = 0.0f;
    double t0 = loco_time_ms();
    if (!rc && ctx)
        rc = loco_generate_many(ctx, loco_model_tokenizer(m), jobs, n_jobs, &gp, job_done, &run);
    out->gen_ms[side] = loco_time_ms() - t0;
    for (size_t j = 0; j < n_jobs; j++) {
        if (!rc && jobs[j].status != LOCO_OK) {
            /* a prompt that does not fit is answered with nothing: it scores 0 */
            struct loco_eval_item *it = &out->items[job_item[j]];
            it->output[side] = strdup("");
            snprintf(it->detail[side], sizeof it->detail[side], "not generated: %s",
                     loco_status_name(jobs[j].status));
        }
        loco_generate_result_free(&jobs[j].res);
        free(toks[j]);
    }
    loco_context_free(ctx);
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(jobs);
    free(job_item);
    free(toks);
    return rc;
}

/* ---- the whole benchmark -------------------------------------------------- */

static int compare(struct loco_eval_bench *b, const struct loco_eval_params *p)
{
    size_t n = b->n;
    if (n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "benchmark %s has no items", b->name);
    double *x0 = malloc(n * sizeof *x0), *x1 = malloc(n * sizeof *x1);
    uint8_t *y0 = malloc(n), *y1 = malloc(n);
    int rc = x0 && x1 && y0 && y1 ? LOCO_OK : LOCO_ERR_NOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        x0[i] = b->items[i].score[0];
        x1[i] = b->items[i].score[1];
        y0[i] = x0[i] > 0.5;
        y1[i] = x1[i] > 0.5;
    }
    if (!rc && b->binary) {
        rc = loco_stats_binary_paired(y0, y1, n, &p->stats, &b->bin);
        b->base_score = b->bin.base_acc;
        b->adapter_score = b->bin.adapter_acc;
        b->diff = b->bin.diff;
        b->diff_ci = b->bin.diff_ci;
        b->p_value = b->bin.p_value;
    } else if (!rc) {
        rc = loco_stats_continuous_paired(x0, x1, n, &p->stats, &b->cont);
        b->base_score = b->cont.base_mean;
        b->adapter_score = b->cont.adapter_mean;
        b->diff = b->cont.diff;
        b->diff_ci = b->cont.diff_ci;
        b->p_value = b->cont.p_value;
    }
    if (!rc)
        b->gate_passed = b->in_domain
                             ? loco_stats_gate_domain(n, b->p_value, b->diff, p->stats.alpha,
                                                      &b->gate_why)
                             : loco_stats_gate_noninferior(n, b->diff_ci, p->stats.ni_margin,
                                                           &b->gate_why);
    free(x0);
    free(x1);
    free(y0);
    free(y1);
    return rc;
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
    size_t len = strlen(bench);
    bool custom = !def && len > 6 && !strcmp(bench + len - 6, ".jsonl");
    if (!def && !custom)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no benchmark '%s' (built in: gsm8k, mbpp, "
                              "humaneval, summarisation, arc-easy, arc-challenge; or a custom "
                              "FILE.jsonl)", bench);
    struct item *items = NULL;
    size_t n = 0;
    enum kind kind = def ? def->kind : K_EXACT;
    int rc = def ? load_builtin(def, p, &items, &n) : load_custom(bench, p, &kind, &items, &n);
    if (rc)
        return rc;
    if (def) {
        snprintf(out->name, sizeof out->name, "%s", bench);
    } else {
        /* a custom file is named by its stem, lowercased to a registry-safe name */
        const char *base = strrchr(bench, '/');
        base = base ? base + 1 : bench;
        size_t k = 0;
        for (; base[k] && k + 1 < sizeof out->name && strcmp(base + k, ".jsonl"); k++) {
            char ch = (char)tolower((unsigned char)base[k]);
            out->name[k] = isalnum((unsigned char)ch) || ch == '.' || ch == '_' ? ch : '-';
        }
        out->name[k] = '\0';
    }
    out->binary = kind != K_ROUGE;
    snprintf(out->metric, sizeof out->metric, "%s",
             kind == K_ROUGE                                   ? "rouge-l-f1"
             : kind == K_MBPP || kind == K_HUMANEVAL ||
                     kind == K_CODE_CUSTOM                     ? "pass@1"
             : kind == K_EXACT                                 ? "exact_match"
                                                               : "accuracy");
    out->in_domain = in_domain;
    out->n = n;
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items)
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        out->items[i].id = strdup(items[i].id);
        out->items[i].prompt = strdup(items[i].prompt);
    }
    int32_t max_tokens = p->max_tokens > 0 ? p->max_tokens : def ? def->max_tokens : 256;
    struct loco_evalcache *cache = NULL;
    if (!rc && p->cache_path)
        rc = loco_evalcache_open(p->cache_path, &cache);
    for (int side = 0; side < 2 && !rc; side++) {
        if (side == 1 && !a) {
            for (size_t i = 0; i < n; i++)
                out->items[i].output[1] = strdup(out->items[i].output[0]);
            out->n_cached[1] = out->n_cached[0];
            out->n_tokens[1] = out->n_tokens[0];
            break;
        }
        rc = generate_side(m, side ? a : NULL, scale, side, max_tokens, p, cache, progress, user,
                           out);
    }
    loco_evalcache_close(cache);
    for (size_t i = 0; !rc && i < n; i++)
        for (int side = 0; side < 2 && !rc; side++) {
            struct loco_eval_item *it = &out->items[i];
            if (it->detail[side][0]) /* not generated: scores 0 */
                continue;
            rc = score_item(&items[i], kind, it->output[side], &it->score[side], it->detail[side],
                            sizeof it->detail[side]);
            if (rc)
                loco_error_prefix("%s item %s", bench, it->id);
        }
    for (size_t i = 0; i < n; i++)
        item_free(&items[i]);
    free(items);
    if (!rc)
        rc = compare(out, p);
    if (rc)
        loco_eval_bench_free(out);
    return rc;
}

void loco_eval_bench_free(struct loco_eval_bench *b)
{
    for (size_t i = 0; b->items && i < b->n; i++) {
        free(b->items[i].id);
        free(b->items[i].prompt);
        free(b->items[i].output[0]);
        free(b->items[i].output[1]);
    }
    free(b->items);
    memset(b, 0, sizeof *b);
}

static void add_ci(cJSON *o, const char *key, struct loco_ci ci)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    cJSON_AddItemToArray(a, cJSON_CreateNumber(ci.lo));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(ci.hi));
}

static void add_num(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

char *loco_eval_bench_json(const struct loco_eval_bench *b, bool with_items)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "benchmark", b->name);
    cJSON_AddStringToObject(o, "metric", b->metric);
    cJSON_AddNumberToObject(o, "n_items", (double)b->n);
    cJSON_AddStringToObject(o, "test", b->binary ? "exact McNemar" : "Wilcoxon signed-rank");
    add_num(o, "base_score", b->base_score);
    add_num(o, "adapter_score", b->adapter_score);
    add_num(o, "diff", b->diff);
    add_ci(o, "diff_ci95", b->diff_ci);
    add_num(o, "p_value", b->p_value);
    if (b->binary) {
        add_ci(o, "base_ci95", b->bin.base_ci);
        add_ci(o, "adapter_ci95", b->bin.adapter_ci);
        cJSON *c = cJSON_AddObjectToObject(o, "pairs");
        cJSON_AddNumberToObject(c, "both_right", b->bin.n11);
        cJSON_AddNumberToObject(c, "base_only", b->bin.b);
        cJSON_AddNumberToObject(c, "adapter_only", b->bin.c);
        cJSON_AddNumberToObject(c, "both_wrong", b->bin.n00);
        add_num(o, "cohens_h", b->bin.cohens_h);
        add_num(o, "power_10pt", b->bin.power[0]);
        add_num(o, "power_5pt", b->bin.power[1]);
    } else {
        add_ci(o, "base_ci95", b->cont.base_ci);
        add_ci(o, "adapter_ci95", b->cont.adapter_ci);
        add_num(o, "bootstrap_p", b->cont.bootstrap_p);
        add_num(o, "cohens_dz", b->cont.cohens_dz);
        add_num(o, "rank_biserial", b->cont.wilcoxon.rank_biserial);
        add_num(o, "power_10pt", b->cont.power[0]);
        add_num(o, "power_5pt", b->cont.power[1]);
    }
    cJSON_AddStringToObject(o, "gate", b->in_domain ? "superiority" : "non-inferiority");
    cJSON_AddBoolToObject(o, "passed", b->gate_passed);
    cJSON_AddStringToObject(o, "why", b->gate_why ? b->gate_why : "");
    cJSON *t = cJSON_AddObjectToObject(o, "generation");
    add_num(t, "base_ms", b->gen_ms[0]);
    add_num(t, "adapter_ms", b->gen_ms[1]);
    cJSON_AddNumberToObject(t, "base_cached", (double)b->n_cached[0]);
    cJSON_AddNumberToObject(t, "adapter_cached", (double)b->n_cached[1]);
    cJSON_AddNumberToObject(t, "base_tokens", (double)b->n_tokens[0]);
    cJSON_AddNumberToObject(t, "adapter_tokens", (double)b->n_tokens[1]);
    if (with_items) {
        cJSON *arr = cJSON_AddArrayToObject(o, "items");
        for (size_t i = 0; i < b->n; i++) {
            const struct loco_eval_item *it = &b->items[i];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "id", it->id);
            cJSON_AddStringToObject(e, "prompt", it->prompt);
            for (int s = 0; s < 2; s++) {
                cJSON *side = cJSON_AddObjectToObject(e, s ? "adapter" : "base");
                cJSON_AddStringToObject(side, "output", it->output[s] ? it->output[s] : "");
                add_num(side, "score", it->score[s]);
                cJSON_AddStringToObject(side, "detail", it->detail[s]);
                cJSON_AddBoolToObject(side, "cached", it->cached[s]);
            }
            cJSON_AddItemToArray(arr, e);
        }
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}
