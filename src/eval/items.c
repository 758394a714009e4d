/*
 * items.c - a benchmark's items: the built-in datasets' records (each in
 * its split, its prompt in the benchmark's format, prompts.c) and custom
 * FILE.jsonl items (loco/bench_items.h), with what scores each.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_internal.h"
#include "core/sbuf.h"
#include "loco/bench_items.h"
#include "loco/fileio.h"
#include "loco/score.h"
#include "loco/trainrun.h"

void eval_item_free(struct item *it)
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

void eval_items_free(struct item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        eval_item_free(&items[i]);
    free(items);
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

/* The user message of prompt format `name` (prompts.c) for `record`:
 * malloc'd, NULL with the error set. */
static char *format_prompt(const char *name, const cJSON *record)
{
    const struct loco_prompt_format *f = loco_prompt_format_find(name);
    return f ? loco_train_template_expand(f->prompt, record) : NULL;
}

/* The same for a record of one field. */
static char *format_one(const char *name, const char *field, const char *value)
{
    cJSON *r = cJSON_CreateObject();
    char *s = r && cJSON_AddStringToObject(r, field, value) ? format_prompt(name, r) : NULL;
    cJSON_Delete(r);
    return s;
}

/* One JSONL record of a built-in benchmark -> item. 0 = use it, 1 = skip
 * (outside the benchmark's split), negative = error. */
static int builtin_item(enum kind kind, const cJSON *j, size_t line, struct item *it)
{
    switch (kind) {
    case K_GSM8K:
        it->id = json_str(j, "id");
        it->prompt = format_prompt("gsm8k", j); /* the maths recipe's */
        it->gold = json_str(j, "answer");
        break;
    case K_GSM8K_POT:
        it->id = json_str(j, "id");
        it->prompt = format_prompt("gsm8k-pot", j);
        it->gold = json_str(j, "answer");
        break;
    case K_MBPP: {
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(j, "task_id");
        if (!cJSON_IsNumber(tid) || tid->valuedouble < 11 || tid->valuedouble > 510)
            return 1; /* the standard test split */
        it->id = loco_str_printf("mbpp-%d", (int)tid->valuedouble);
        const cJSON *tl = cJSON_GetObjectItemCaseSensitive(j, "test_list");
        it->n_tests = (size_t)cJSON_GetArraySize(tl);
        it->tests = calloc(it->n_tests + 1, sizeof *it->tests);
        for (size_t i = 0; it->tests && i < it->n_tests; i++) {
            const cJSON *t = cJSON_GetArrayItem(tl, (int)i);
            it->tests[i] = strdup(cJSON_IsString(t) ? t->valuestring : "");
        }
        it->prompt = format_prompt("mbpp", j); /* the code recipe's */
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
        it->prompt = format_prompt("humaneval", j);
        break;
    }
    case K_ROUGE: {
        it->id = json_str(j, "id");
        char *doc = json_str(j, "document");
        char *cut = doc ? first_words(doc, 400) : NULL;
        if (cut) /* the summarisation recipe's format, on the first 400 words */
            it->prompt = format_one("summarisation", "document", cut);
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
            it->prompt = format_one("arc", "question_and_choices", body);
        free(body);
        it->gold = strdup(it->arc.answer_key);
        break;
    }
    case K_JUDGE: {
        /* the writing recipe's format (recipes/writing.yaml, format: instruction) */
        it->id = json_str(j, "id");
        char *ins = json_str(j, "instruction"), *in = json_str(j, "input");
        if (ins)
            it->prompt = in && in[0] ? loco_str_printf("%s\n\n%s", ins, in) : strdup(ins);
        free(ins);
        free(in);
        it->gold = json_str(j, "output");
        break;
    }
    default:
        return loco_error_set(LOCO_ERR_INVALID, "not a built-in benchmark kind");
    }
    if (!it->id || !it->prompt)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "line %zu: the record lacks the fields this "
                              "benchmark reads",
                              line + 1);
    return LOCO_OK;
}

int eval_load_builtin(const struct bench_def *d, const struct loco_eval_params *p,
                      struct item **out, size_t *n_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/%s", p->shared_dir ? p->shared_dir : "../shared",
             d->file);
    FILE *f;
    int orc = loco_fopen_regular(path, &f); /* a FIFO there is refused, not waited on */
    if (orc == LOCO_ERR_INVALID) {
        loco_error_prefix("benchmark %s", d->name);
        return orc;
    }
    if (orc != LOCO_OK)
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "benchmark %s: cannot read %s; point "
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
            eval_item_free(&items[n]);
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
            eval_item_free(&items[i]);
        free(items);
        return rc;
    }
    *out = items;
    *n_out = n;
    return LOCO_OK;
}

int eval_load_custom(const char *path, const struct loco_eval_params *p, enum kind *kind,
                     struct item **out, size_t *n_out, char **domain)
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
            rc = loco_error_set(LOCO_ERR_UNSUPPORTED,
                                "%s: item %s is %s but the first item is "
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
            items[i].key_text = loco_str_printf("[system]\n%s\n[user]\n%s", b->system, b->prompt);
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
    if (!rc && domain && set->domain && !(*domain = strdup(set->domain)))
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    loco_bench_items_free(set);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            eval_item_free(&items[i]);
        free(items);
        return rc;
    }
    *out = items;
    *n_out = n;
    return LOCO_OK;
}

/* The item of `items` with this id, or NULL. */
const struct item *eval_item_by_id(const struct item *items, size_t n, const char *id)
{
    for (size_t i = 0; id && i < n; i++)
        if (!strcmp(items[i].id, id))
            return &items[i];
    return NULL;
}
