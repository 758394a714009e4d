/*
 * bench_items.c - the JSONL item format for custom benchmarks (see
 * loco/bench_items.h and docs/benchmarks.md): parsing with messages that
 * name the line and field, and exact-match / ROUGE scoring of an item.
 *
 * Each line is parsed on its own with cJSON, checked field by field against
 * a table of known fields, and copied into the item; nothing is kept from
 * a file that has any bad line.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/score/score_internal.h"
#include "loco/bench_items.h"

/* ---- evaluation types -------------------------------------------------- */

static const char *const TYPE_NAMES[] = {
    [LOCO_EVAL_EXACT_MATCH] = "exact_match",
    [LOCO_EVAL_CODE_EXECUTION] = "code_execution",
    [LOCO_EVAL_ROUGE] = "rouge",
    [LOCO_EVAL_LLM_JUDGE] = "llm_judge",
    [LOCO_EVAL_NUMERIC] = "numeric",
    [LOCO_EVAL_REGEX] = "regex",
};
#define TYPE_LIST "exact_match, code_execution, rouge, llm_judge, numeric or regex"
#define N_TYPES (sizeof TYPE_NAMES / sizeof TYPE_NAMES[0])

const char *loco_eval_type_name(enum loco_eval_type t)
{
    return (unsigned)t < N_TYPES ? TYPE_NAMES[t] : "unknown";
}

int loco_eval_type_parse(const char *name, enum loco_eval_type *out)
{
    for (size_t i = 0; name && i < N_TYPES; i++) {
        if (strcmp(name, TYPE_NAMES[i]) == 0) {
            *out = (enum loco_eval_type)i;
            return LOCO_OK;
        }
    }
    return loco_error_set(LOCO_ERR_NOT_FOUND, "unknown evaluation_type \"%s\"; use " TYPE_LIST,
                          name ? name : "(null)");
}

/* ---- one line ---------------------------------------------------------- */

/* Where a message points: "source:line". */
struct where {
    const char *source;
    size_t line;
};

__attribute__((format(printf, 2, 3))) static int bad_line(struct where w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return loco_error_set(LOCO_ERR_FORMAT, "%s:%zu: %s", w.source, w.line, msg);
}

static const char *const KNOWN_FIELDS[] = {"id",       "evaluation_type", "prompt", "reference",
                                           "system",   "tests",           "rubric", "normalise",
                                           "metadata", "pattern"};

static int check_known_fields(const cJSON *obj, struct where w)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, obj)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof KNOWN_FIELDS / sizeof KNOWN_FIELDS[0]; i++)
            known = known || strcmp(f->string, KNOWN_FIELDS[i]) == 0;
        if (!known)
            return bad_line(w,
                            "unknown field \"%s\"; the fields are id, evaluation_type, prompt, "
                            "reference, system, tests, rubric, normalise, pattern, metadata",
                            f->string);
    }
    return LOCO_OK;
}

/* Copy an optional string field into *dst (NULL when absent). `required`
 * names why it is needed, or NULL when optional. */
static int take_string(const cJSON *obj, const char *field, const char *required, struct where w,
                       char **dst)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    *dst = NULL;
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return bad_line(w, "field \"%s\": missing; %s", field, required);
        return LOCO_OK;
    }
    if (!cJSON_IsString(v))
        return bad_line(w, "field \"%s\": must be a string", field);
    if (required && v->valuestring[0] == '\0')
        return bad_line(w, "field \"%s\": empty; %s", field, required);
    *dst = score_strdup(v->valuestring);
    return *dst ? LOCO_OK : LOCO_ERR_NOMEM;
}

/* "tests": one string, or a non-empty array of strings. */
static int take_tests(const cJSON *obj, struct where w, bool required, struct loco_bench_item *it)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "tests");
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return bad_line(w, "field \"tests\": missing; code_execution items need test code "
                               "(a string, or an array of strings such as assert lines)");
        return LOCO_OK;
    }
    size_t n = cJSON_IsString(v) ? 1 : cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 0;
    if (n == 0)
        return bad_line(w, "field \"tests\": must be a string or a non-empty array of strings");
    it->tests = calloc(n, sizeof *it->tests);
    if (!it->tests)
        return loco_error_set(LOCO_ERR_NOMEM, "%s:%zu: out of memory", w.source, w.line);
    if (cJSON_IsString(v)) {
        it->tests[it->n_tests++] = score_strdup(v->valuestring);
        return it->tests[0] ? LOCO_OK : LOCO_ERR_NOMEM;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, v)
    {
        if (!cJSON_IsString(t))
            return bad_line(w, "field \"tests\": element %zu is not a string", it->n_tests);
        char *s = score_strdup(t->valuestring);
        if (!s)
            return LOCO_ERR_NOMEM;
        it->tests[it->n_tests++] = s;
    }
    return LOCO_OK;
}

/* "normalise": an array of "case", "whitespace", "punctuation". */
static int take_normalise(const cJSON *obj, struct where w, struct loco_bench_item *it)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "normalise");
    if (!v && it->type == LOCO_EVAL_REGEX)
        it->normalise = LOCO_NORM_CASE | LOCO_NORM_WHITESPACE;
    if (!v)
        return LOCO_OK;
    if (it->type != LOCO_EVAL_EXACT_MATCH && it->type != LOCO_EVAL_REGEX)
        return bad_line(w,
                        "field \"normalise\": only exact_match and regex items take it, "
                        "this one is %s",
                        loco_eval_type_name(it->type));
    if (!cJSON_IsArray(v))
        return bad_line(w,
                        "field \"normalise\": must be an array such as [\"case\", \"whitespace\"]");
    const cJSON *o;
    cJSON_ArrayForEach(o, v)
    {
        const char *s = cJSON_IsString(o) ? o->valuestring : "";
        if (strcmp(s, "case") == 0)
            it->normalise |= LOCO_NORM_CASE;
        else if (strcmp(s, "whitespace") == 0)
            it->normalise |= LOCO_NORM_WHITESPACE;
        else if (strcmp(s, "punctuation") == 0)
            it->normalise |= LOCO_NORM_PUNCTUATION;
        else
            return bad_line(w,
                            "field \"normalise\": unknown option \"%s\"; use \"case\", "
                            "\"whitespace\" or \"punctuation\"",
                            s);
    }
    return LOCO_OK;
}

static int take_type(const cJSON *obj, struct where w, struct loco_bench_item *it)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "evaluation_type");
    if (!cJSON_IsString(v))
        return bad_line(w, "field \"evaluation_type\": %s; use " TYPE_LIST,
                        v ? "must be a string" : "missing");
    if (loco_eval_type_parse(v->valuestring, &it->type) < 0)
        return bad_line(w, "field \"evaluation_type\": unknown value \"%s\"; use " TYPE_LIST,
                        v->valuestring);
    return LOCO_OK;
}

static int take_metadata(const cJSON *obj, struct loco_bench_item *it)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!v)
        return LOCO_OK;
    it->metadata = cJSON_PrintUnformatted(v);
    return it->metadata ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

/* The fields every type needs, then what this type needs. */
static int take_fields(const cJSON *obj, struct where w, struct loco_bench_item *it)
{
    int rc = check_known_fields(obj, w);
    if (rc == LOCO_OK)
        rc = take_string(obj, "id", "every item needs a unique id string", w, &it->id);
    if (rc == LOCO_OK)
        rc = take_type(obj, w, it);
    if (rc == LOCO_OK)
        rc = take_string(obj, "prompt", "every item needs the prompt the model answers", w,
                         &it->prompt);
    const char *need_ref = it->type == LOCO_EVAL_EXACT_MATCH ? "exact_match items need the "
                                                               "expected answer"
                           : it->type == LOCO_EVAL_ROUGE     ? "rouge items need the reference "
                                                               "text the answer is compared with"
                           : it->type == LOCO_EVAL_NUMERIC   ? "numeric items need the expected "
                                                               "number"
                           : it->type == LOCO_EVAL_REGEX     ? "regex items need the expected "
                                                               "captured answer"
                                                             : NULL;
    if (rc == LOCO_OK)
        rc = take_string(obj, "reference", need_ref, w, &it->reference);
    if (rc == LOCO_OK)
        rc = take_string(obj, "system", NULL, w, &it->system);
    if (rc == LOCO_OK)
        rc = take_tests(obj, w, it->type == LOCO_EVAL_CODE_EXECUTION, it);
    if (rc == LOCO_OK)
        rc = take_string(obj, "rubric",
                         it->type == LOCO_EVAL_LLM_JUDGE
                             ? "llm_judge items need a rubric telling the judge what to grade"
                             : NULL,
                         w, &it->rubric);
    if (rc == LOCO_OK)
        rc = take_normalise(obj, w, it);
    if (rc == LOCO_OK)
        rc = take_string(obj, "pattern", NULL, w, &it->pattern);
    if (rc == LOCO_OK && it->pattern && it->type != LOCO_EVAL_REGEX)
        rc = bad_line(w, "field \"pattern\": only regex items take it, this one is %s",
                      loco_eval_type_name(it->type));
    if (rc == LOCO_OK && it->type == LOCO_EVAL_NUMERIC) {
        double v;
        char *num = NULL;
        rc = loco_number_parse(it->reference, &v) == LOCO_OK
                 ? LOCO_OK
                 : loco_number_extract(it->reference, LOCO_NUMBER_ALL, &num, NULL);
        if (rc == LOCO_OK && num && loco_number_parse(num, &v) != LOCO_OK)
            rc = bad_line(w,
                          "field \"reference\": \"%.60s\" holds no number; numeric items "
                          "need one (\"1,234.5\", \"$5\", \"3/4\" or a worked answer ending "
                          "\"#### N\")",
                          it->reference);
        free(num);
    }
    if (rc == LOCO_OK)
        rc = take_metadata(obj, it);
    return rc;
}

static void item_free(struct loco_bench_item *it)
{
    free(it->id);
    free(it->prompt);
    free(it->reference);
    free(it->system);
    for (size_t i = 0; i < it->n_tests; i++)
        free(it->tests[i]);
    free(it->tests);
    free(it->rubric);
    free(it->pattern);
    cJSON_free(it->metadata);
    memset(it, 0, sizeof *it);
}

static int parse_line(const char *line, size_t len, struct where w, struct loco_bench_item *it)
{
    memset(it, 0, sizeof *it);
    it->line = w.line;
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(line, len, &end, false);
    if (!obj) {
        size_t col = end && end >= line ? (size_t)(end - line) + 1 : 1;
        return bad_line(w, "not valid JSON (near column %zu); each line must be one JSON object",
                        col);
    }
    int rc = cJSON_IsObject(obj)
                 ? take_fields(obj, w, it)
                 : bad_line(w, "a JSON object {...} is expected, found another value");
    cJSON_Delete(obj);
    if (rc != LOCO_OK)
        item_free(it);
    return rc;
}

/* ---- the header --------------------------------------------------------- */

/* Whether line[0..len) is a header: an object whose only key is
 * "benchmark". */
static bool is_header(const char *line, size_t len)
{
    cJSON *obj = cJSON_ParseWithLength(line, len);
    bool yes = cJSON_IsObject(obj) && cJSON_GetArraySize(obj) == 1 &&
               cJSON_GetObjectItemCaseSensitive(obj, "benchmark") != NULL;
    cJSON_Delete(obj);
    return yes;
}

static int parse_header(const char *line, size_t len, struct where w, struct loco_bench_items *set)
{
    cJSON *obj = cJSON_ParseWithLength(line, len);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(obj, "benchmark");
    int rc = cJSON_IsObject(h) ? LOCO_OK
                               : bad_line(w, "header: \"benchmark\" must be an object such as "
                                             "{\"domain\": \"math\"}");
    const cJSON *f, *fields = rc ? NULL : h;
    cJSON_ArrayForEach(f, fields)
    {
        if (strcmp(f->string, "domain") && strcmp(f->string, "pattern") &&
            strcmp(f->string, "description")) {
            rc = bad_line(w,
                          "header: unknown field \"%s\"; the header's fields are domain, "
                          "pattern, description",
                          f->string);
            break;
        }
    }
    if (rc == LOCO_OK)
        rc = take_string(h, "domain", NULL, w, &set->domain);
    if (rc == LOCO_OK)
        rc = take_string(h, "pattern", NULL, w, &set->pattern);
    if (rc == LOCO_OK)
        rc = take_string(h, "description", NULL, w, &set->description);
    if (rc == LOCO_OK && set->domain && !set->domain[0])
        rc = bad_line(w, "header: field \"domain\": empty; name the domain (e.g. \"math\")");
    if (rc == LOCO_OK && set->pattern && loco_score_regex_check(set->pattern) != LOCO_OK)
        rc = bad_line(w, "header: field \"pattern\": %s", loco_error_message());
    cJSON_Delete(obj);
    return rc;
}

/* Every regex item gets its pattern (its own or the header's), checked
 * once per distinct pattern text. */
static int resolve_patterns(struct loco_bench_items *set, const char *source)
{
    const char *checked = NULL;
    for (size_t i = 0; i < set->n; i++) {
        struct loco_bench_item *it = &set->items[i];
        if (it->type != LOCO_EVAL_REGEX)
            continue;
        struct where w = {source, it->line};
        if (!it->pattern && !set->pattern)
            return bad_line(w, "field \"pattern\": missing; regex items need a PCRE2 pattern "
                               "with one capture group (here or in the header)");
        if (!it->pattern && !(it->pattern = score_strdup(set->pattern)))
            return LOCO_ERR_NOMEM;
        if (checked && !strcmp(checked, it->pattern))
            continue;
        if (loco_score_regex_check(it->pattern) != LOCO_OK)
            return bad_line(w, "field \"pattern\": %s", loco_error_message());
        checked = it->pattern;
    }
    return LOCO_OK;
}

/* ---- a whole file ------------------------------------------------------ */

void loco_bench_items_free(struct loco_bench_items *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        item_free(&set->items[i]);
    free(set->items);
    free(set->domain);
    free(set->pattern);
    free(set->description);
    free(set);
}

static int by_id(const void *a, const void *b)
{
    const struct loco_bench_item *x = *(const struct loco_bench_item *const *)a;
    const struct loco_bench_item *y = *(const struct loco_bench_item *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sort pointers by id and compare neighbours: O(n log n). */
static int check_unique_ids(const struct loco_bench_items *set, const char *source)
{
    if (set->n < 2)
        return LOCO_OK;
    const struct loco_bench_item **p = malloc(set->n * sizeof *p);
    if (!p)
        return loco_error_set(LOCO_ERR_NOMEM, "%s: out of memory checking ids", source);
    for (size_t i = 0; i < set->n; i++)
        p[i] = &set->items[i];
    qsort(p, set->n, sizeof *p, by_id);
    int rc = LOCO_OK;
    for (size_t i = 1; i < set->n && rc == LOCO_OK; i++)
        if (strcmp(p[i - 1]->id, p[i]->id) == 0)
            rc = loco_error_set(LOCO_ERR_FORMAT,
                                "%s:%zu: field \"id\": \"%s\" is already used on line %zu; ids "
                                "must be unique",
                                source, p[i]->line, p[i]->id, p[i - 1]->line);
    free(p);
    return rc;
}

static int grow(struct loco_bench_items *set, size_t *cap, const char *source)
{
    if (set->n < *cap)
        return LOCO_OK;
    if (set->n >= LOCO_BENCH_ITEMS_MAX_ITEMS)
        return loco_error_set(LOCO_ERR_RANGE, "%s: more than %zu items", source,
                              LOCO_BENCH_ITEMS_MAX_ITEMS);
    size_t c = *cap ? *cap * 2 : 64;
    struct loco_bench_item *it = realloc(set->items, c * sizeof *it);
    if (!it)
        return loco_error_set(LOCO_ERR_NOMEM, "%s: out of memory at item %zu", source, set->n);
    set->items = it;
    *cap = c;
    return LOCO_OK;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!score_is_space((unsigned char)s[i]))
            return false;
    return true;
}

int loco_bench_items_parse(const char *text, size_t len, const char *source,
                           struct loco_bench_items **out)
{
    if (!text || !out)
        return loco_error_set(LOCO_ERR_INVALID, "bench items: NULL text or output");
    *out = NULL;
    source = source ? source : "<memory>";
    struct loco_bench_items *set = calloc(1, sizeof *set);
    if (!set)
        return loco_error_set(LOCO_ERR_NOMEM, "%s: out of memory", source);
    size_t cap = 0, pos = 0;
    bool seen_line = false; /* a header may only be the first non-blank line */
    struct where w = {source, 0};
    int rc = LOCO_OK;
    while (rc == LOCO_OK && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        w.line++;
        if (n > LOCO_BENCH_ITEMS_MAX_LINE)
            rc = loco_error_set(LOCO_ERR_RANGE, "%s:%zu: line longer than %zu bytes", source,
                                w.line, LOCO_BENCH_ITEMS_MAX_LINE);
        else if (blank(text + pos, n))
            ;
        else if (!seen_line && is_header(text + pos, n))
            rc = parse_header(text + pos, n, w, set);
        else if ((rc = grow(set, &cap, source)) == LOCO_OK &&
                 (rc = parse_line(text + pos, n, w, &set->items[set->n])) == LOCO_OK)
            set->n++;
        seen_line = seen_line || !blank(text + pos, n);
        pos += n + 1;
    }
    if (rc == LOCO_OK)
        rc = check_unique_ids(set, source);
    if (rc == LOCO_OK)
        rc = resolve_patterns(set, source);
    if (rc != LOCO_OK) {
        loco_bench_items_free(set);
        return rc;
    }
    *out = set;
    return LOCO_OK;
}

int loco_bench_items_load(const char *path, struct loco_bench_items **out)
{
    if (!path || !out)
        return loco_error_set(LOCO_ERR_INVALID, "bench items: NULL path or output");
    *out = NULL;
    char *text;
    int rc = loco_read_file(path, SCORE_MAX_FILE, &text, NULL);
    if (rc == LOCO_ERR_NOT_FOUND)
        rc = LOCO_ERR_IO; /* documented: any file that cannot be read */
    if (rc < 0)
        return rc;
    rc = loco_bench_items_parse(text, strlen(text), path, out);
    free(text);
    return rc;
}

/* ---- scoring ------------------------------------------------------------- */

int loco_bench_item_score_exact(const struct loco_bench_item *item, const char *answer)
{
    if (!item || !answer)
        return loco_error_set(LOCO_ERR_INVALID, "bench item score: NULL item or answer");
    if (item->type != LOCO_EVAL_EXACT_MATCH || !item->reference)
        return loco_error_set(LOCO_ERR_INVALID, "item \"%s\" is %s, not exact_match", item->id,
                              loco_eval_type_name(item->type));
    return loco_score_exact_match(answer, item->reference, item->normalise);
}

int loco_bench_item_score_rouge(const struct loco_bench_item *item, const char *answer,
                                struct loco_rouge_score *out)
{
    if (!item || !answer || !out)
        return loco_error_set(LOCO_ERR_INVALID, "bench item score: NULL item, answer or output");
    if (item->type != LOCO_EVAL_ROUGE || !item->reference)
        return loco_error_set(LOCO_ERR_INVALID, "item \"%s\" is %s, not rouge", item->id,
                              loco_eval_type_name(item->type));
    return loco_rouge_l(item->reference, answer, true, out);
}

int loco_bench_item_score_numeric(const struct loco_bench_item *item, const char *answer,
                                  char *detail, size_t cap)
{
    if (!item || !answer)
        return loco_error_set(LOCO_ERR_INVALID, "bench item score: NULL item or answer");
    if (item->type != LOCO_EVAL_NUMERIC || !item->reference)
        return loco_error_set(LOCO_ERR_INVALID, "item \"%s\" is %s, not numeric", item->id,
                              loco_eval_type_name(item->type));
    return loco_score_numeric(answer, item->reference, detail, cap);
}

int loco_bench_item_score_regex(const struct loco_bench_item *item, const char *answer,
                                char *detail, size_t cap)
{
    if (!item || !answer)
        return loco_error_set(LOCO_ERR_INVALID, "bench item score: NULL item or answer");
    if (item->type != LOCO_EVAL_REGEX || !item->reference || !item->pattern)
        return loco_error_set(LOCO_ERR_INVALID, "item \"%s\" is %s, not regex", item->id,
                              loco_eval_type_name(item->type));
    return loco_score_regex_match(answer, item->pattern, item->reference, item->normalise, detail,
                                  cap);
}
