/*
 * data.c - a recipe's JSONL data -> masked token sequences.
 *
 * For each record (one JSON object per line):
 *   1. selection: the numeric range filter, the include/exclude regexes
 *      (PCRE2), then offset and limit over what the filters kept;
 *   2. a prompt (the user message) and a response, by format:
 *        instruction  instruction + "\n\n" + input  ->  output
 *        messages     every turn before the last assistant turn -> that turn
 *        fields       templates such as "{question}" -> "{answer_text}";
 *   3. tokens = chat_template(system?, user prompt, generation prompt)
 *               + tokenize(response) + end-of-turn,
 *      target = 1 exactly on the response tokens and the end of turn;
 *   4. when that is longer than max_tokens the user text is cut at its end
 *      (never the response); when even the response does not fit the
 *      example is dropped and counted.
 * The prompt goes through loco_chat_tokenize, the same call `loco ask`
 * makes, so training sees exactly the prompt the model will see at run time.
 *
 * Then a validation split drawn from the seed, and per-epoch shuffles that
 * are a pure function of (seed, epoch).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "loco/generate.h"
#include "train/run/run_internal.h"

#define MAX_LINE (16u << 20) /* longest JSONL line accepted */
#define MAX_EXAMPLES 10000000

/* ---- field text and templates ------------------------------------------- */

/* A JSON value as text (malloc'd): strings as is, numbers short, arrays one
 * element per line, objects as compact JSON. */
static char *value_text(const cJSON *v)
{
    char num[64];
    if (!v || cJSON_IsNull(v))
        return strdup("");
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsBool(v))
        return strdup(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15)
            snprintf(num, sizeof num, "%lld", (long long)d);
        else
            snprintf(num, sizeof num, "%.15g", d);
        return strdup(num);
    }
    if (cJSON_IsArray(v)) {
        char *out = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&out, &len);
        if (!mem)
            return NULL;
        int i = 0;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            char *s = value_text(e);
            fprintf(mem, "%s%s", i ? "\n" : "", s ? s : "");
            free(s);
        }
        fclose(mem);
        return out;
    }
    return cJSON_PrintUnformatted(v);
}

static void field_names(const cJSON *rec, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (const cJSON *e = rec ? rec->child : NULL; e; e = e->next) {
        int w = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", e->string);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

static int expand_field(FILE *mem, const char **pp, const cJSON *rec)
{
    const char *p = *pp + 1;
    const char *close = strchr(p, '}');
    if (!close || close == p || close - p > 120)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "template: '{' without a field name and '}' (write {{ for a "
                              "literal brace)");
    char name[128], names[512];
    snprintf(name, sizeof name, "%.*s", (int)(close - p), p);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    if (!v) {
        field_names(rec, names, sizeof names);
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "template field '{%s}' is not in the record "
                              "(its fields: %s)",
                              name, names);
    }
    char *s = value_text(v);
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    fputs(s, mem);
    free(s);
    *pp = close + 1;
    return LOCO_OK;
}

char *loco_train_template_expand(const char *tmpl, const void *record)
{
    const cJSON *rec = record;
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    if (!mem) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    int rc = LOCO_OK;
    const char *p = tmpl;
    while (*p && rc == LOCO_OK) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            fputc(p[0], mem);
            p += 2;
        } else if (p[0] == '{') {
            rc = expand_field(mem, &p, rec);
        } else {
            fputc(*p++, mem);
        }
    }
    fclose(mem);
    if (rc != LOCO_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- selection ---------------------------------------------------------- */

struct selector {
    const struct loco_recipe *r;
    pcre2_code *include, *exclude;
    pcre2_match_data *md;
    int64_t n_passed; /* records that passed the filters so far */
};

static pcre2_code *compile(const char *re)
{
    int err;
    PCRE2_SIZE off;
    if (!re)
        return NULL;
    return pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
}

static int regex_hit(struct selector *s, pcre2_code *re, const cJSON *rec, const char *field,
                     bool *hit)
{
    char *text = value_text(cJSON_GetObjectItemCaseSensitive(rec, field));
    if (!text)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    int m = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, s->md, NULL);
    free(text);
    *hit = m >= 0;
    return LOCO_OK;
}

static int in_range(const struct selector *s, const cJSON *rec, bool *keep)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, s->r->range_field);
    double d = NAN;
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v)) {
        char *end = NULL;
        d = strtod(v->valuestring, &end);
        if (end == v->valuestring || *end)
            d = NAN;
    }
    if (isnan(d))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "data.range: field '%s' is missing or not a "
                              "number",
                              s->r->range_field);
    *keep = d >= s->r->range_min && d <= s->r->range_max;
    return LOCO_OK;
}

/* *keep: the record passes filters, offset and limit. *done: no later record
 * can (the limit is reached). */
static int select_record(struct selector *s, const cJSON *rec, bool *keep, bool *done)
{
    const struct loco_recipe *r = s->r;
    bool ok = true, hit = false;
    int rc = LOCO_OK;
    *done = false;
    if (r->range_field)
        rc = in_range(s, rec, &ok);
    if (!rc && ok && s->include && !(rc = regex_hit(s, s->include, rec, r->include_field, &hit)))
        ok = hit;
    if (!rc && ok && s->exclude && !(rc = regex_hit(s, s->exclude, rec, r->exclude_field, &hit)))
        ok = !hit;
    if (rc || !ok) {
        *keep = false;
        return rc;
    }
    int64_t i = s->n_passed++;
    *keep = i >= r->offset && (r->limit == 0 || i < r->offset + r->limit);
    *done = r->limit > 0 && i + 1 >= r->offset + r->limit;
    return LOCO_OK;
}

/* ---- a record -> messages ----------------------------------------------- */

#define MAX_TURNS 64

/* The conversation before the response, the response, and which message
 * holds the user text that truncation may shorten. Strings malloc'd. */
struct turns {
    struct loco_chat_msg msgs[MAX_TURNS];
    char *owned[MAX_TURNS];
    size_t n;
    size_t user; /* index of the (last) user message */
    char *response;
};

static void turns_free(struct turns *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->owned[i]);
    free(t->response);
    memset(t, 0, sizeof *t);
}

static int turns_add(struct turns *t, const char *role, char *content)
{
    if (!content)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (t->n == MAX_TURNS) {
        free(content);
        return loco_error_set(LOCO_ERR_RANGE, "more than %d turns in one record", MAX_TURNS);
    }
    t->owned[t->n] = content;
    t->msgs[t->n] = (struct loco_chat_msg){.role = role, .content = content};
    if (strcmp(role, "user") == 0)
        t->user = t->n;
    t->n++;
    return LOCO_OK;
}

static const char *str_field(const cJSON *rec, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int from_instruction(const cJSON *rec, struct turns *t)
{
    const char *ins = str_field(rec, "instruction"), *in = str_field(rec, "input");
    const char *out = str_field(rec, "output");
    if (!ins || !out)
        return loco_error_set(LOCO_ERR_FORMAT, "format instruction needs string fields "
                                               "\"instruction\" and \"output\"");
    size_t n = strlen(ins) + (in ? strlen(in) : 0) + 3;
    char *user = malloc(n);
    if (user)
        snprintf(user, n, "%s%s%s", ins, in && in[0] ? "\n\n" : "", in && in[0] ? in : "");
    t->response = strdup(out);
    return turns_add(t, "user", user);
}

static const char *role_name(const char *role)
{
    static const char *roles[] = {"system", "user", "assistant"};
    for (int i = 0; i < 3; i++)
        if (strcmp(role, roles[i]) == 0)
            return roles[i];
    return NULL;
}

static int from_messages(const cJSON *rec, struct turns *t)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(rec, "messages");
    const cJSON *last = NULL;
    for (const cJSON *m = cJSON_IsArray(list) ? list->child : NULL; m; m = m->next) {
        const char *role = str_field(m, "role");
        if (role && strcmp(role, "assistant") == 0 && str_field(m, "content"))
            last = m;
    }
    if (!last)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "format messages needs a \"messages\" list with "
                              "an assistant turn ({\"role\",\"content\"} objects)");
    for (const cJSON *m = list->child; m != last; m = m->next) {
        const char *role = str_field(m, "role"), *content = str_field(m, "content");
        if (!role || !content || !role_name(role))
            return loco_error_set(LOCO_ERR_FORMAT, "messages: each turn needs \"role\" (system, "
                                                   "user or assistant) and \"content\" strings");
        int rc = turns_add(t, role_name(role), strdup(content));
        if (rc)
            return rc;
    }
    t->response = strdup(str_field(last, "content"));
    return LOCO_OK;
}

static int from_fields(const struct loco_recipe *r, const cJSON *rec, struct turns *t)
{
    char *user = loco_train_template_expand(r->prompt, rec);
    if (!user) {
        loco_error_prefix("data.prompt");
        return LOCO_ERR_FORMAT;
    }
    t->response = loco_train_template_expand(r->response, rec);
    if (!t->response) {
        free(user);
        loco_error_prefix("data.response");
        return LOCO_ERR_FORMAT;
    }
    return turns_add(t, "user", user);
}

static int record_turns(const struct loco_recipe *r, const cJSON *rec, struct turns *t)
{
    if (r->system) {
        int rc = turns_add(t, "system", strdup(r->system));
        if (rc)
            return rc;
    }
    int rc = r->format == LOCO_DATA_INSTRUCTION ? from_instruction(rec, t)
             : r->format == LOCO_DATA_MESSAGES  ? from_messages(rec, t)
                                                : from_fields(r, rec, t);
    if (!rc && !t->response)
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (!rc && strcmp(t->msgs[t->user].role, "user") != 0)
        rc = loco_error_set(LOCO_ERR_FORMAT, "the record has no user turn before the response");
    return rc;
}

/* ---- tokenizing --------------------------------------------------------- */

struct tok_ctx {
    const struct loco_recipe *r;
    const struct loco_model *m;
    const struct loco_tokenizer *tok;
    int32_t eot;
};

/* Shorten the user message to its first `keep` tokens. */
static int cut_user(const struct tok_ctx *c, struct turns *t, int64_t keep)
{
    int32_t *ids = NULL;
    size_t n = 0;
    const char *text = t->msgs[t->user].content;
    int rc = loco_tokenizer_encode(c->tok, text, strlen(text), false, false, &ids, &n);
    if (rc)
        return rc;
    char *cut =
        loco_tokenizer_decode(c->tok, ids, keep < (int64_t)n ? (size_t)keep : n, false, true);
    free(ids);
    if (!cut)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    free(t->owned[t->user]);
    t->owned[t->user] = cut;
    t->msgs[t->user].content = cut;
    return LOCO_OK;
}

/* Prompt tokens that fit max_tokens - n_resp, cutting the user text when
 * needed. *fits false: even an empty user text does not leave room. */
static int fit_prompt(const struct tok_ctx *c, struct turns *t, size_t n_resp, int32_t **ids,
                      size_t *n, bool *truncated, bool *fits)
{
    const int64_t max = c->r->max_tokens;
    *truncated = false;
    *fits = true;
    for (int attempt = 0;; attempt++) {
        int rc = loco_chat_tokenize(c->m, c->r->chat_template, t->msgs, t->n, ids, n);
        if (rc)
            return rc;
        int64_t excess = (int64_t)*n + (int64_t)n_resp - max;
        if (excess <= 0)
            return LOCO_OK;
        free(*ids);
        *ids = NULL;
        int32_t *u = NULL;
        size_t nu = 0;
        const char *text = t->msgs[t->user].content;
        rc = loco_tokenizer_encode(c->tok, text, strlen(text), false, false, &u, &nu);
        free(u);
        if (rc)
            return rc;
        int64_t keep = (int64_t)nu - excess - attempt; /* re-tokenizing may merge differently */
        if (nu == 0 || keep < 1 || attempt == 8) {
            *fits = false;
            return LOCO_OK;
        }
        *truncated = true;
        if ((rc = cut_user(c, t, keep)))
            return rc;
    }
}

/* Build one example from its turns; *dropped when it cannot fit. */
static int make_example(const struct tok_ctx *c, struct turns *t, struct loco_train_example *ex,
                        bool *truncated, bool *dropped)
{
    int32_t *resp = NULL, *prompt = NULL;
    size_t n_resp = 0, n_prompt = 0;
    bool fits = true;
    *dropped = false;
    char *user_text = strdup(t->msgs[t->user].content);
    int rc = user_text ? loco_tokenizer_encode(c->tok, t->response, strlen(t->response), false,
                                               false, &resp, &n_resp)
                       : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = fit_prompt(c, t, n_resp + 1, &prompt, &n_prompt, truncated, &fits);
    if (!rc && !fits)
        *dropped = true;
    if (!rc && fits) {
        size_t n = n_prompt + n_resp + 1;
        ex->tokens = malloc(n * sizeof *ex->tokens);
        ex->target = calloc(n, 1);
        if (!ex->tokens || !ex->target) {
            rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        } else {
            memcpy(ex->tokens, prompt, n_prompt * sizeof *prompt);
            memcpy(ex->tokens + n_prompt, resp, n_resp * sizeof *resp);
            ex->tokens[n - 1] = c->eot;
            memset(ex->target + n_prompt, 1, n_resp + 1);
            ex->n = (int32_t)n;
            ex->n_prompt = (int32_t)n_prompt;
            ex->prompt = user_text;
            ex->reference = t->response;
            user_text = NULL;
            t->response = NULL;
        }
    }
    free(user_text);
    free(resp);
    free(prompt);
    return rc;
}

/* The token that ends an assistant turn in the model's chat template. */
static int32_t end_of_turn(const struct loco_recipe *r, const struct loco_model *m,
                           const struct loco_tokenizer *tok)
{
    static const char *eot_text[] = {
        [LOCO_CHAT_CHATML] = "<|im_end|>",
        [LOCO_CHAT_GEMMA] = "<end_of_turn>",
        [LOCO_CHAT_LLAMA3] = "<|eot_id|>",
        [LOCO_CHAT_PHI3] = "<|end|>",
    };
    enum loco_chat_template fam = LOCO_CHAT_UNKNOWN;
    struct loco_str s = {0};
    if (r->chat_template)
        fam = loco_chat_from_name(r->chat_template);
    else if (loco_gguf_get_str(loco_model_gguf(m), "tokenizer.chat_template", &s) == LOCO_OK) {
        char *text = strndup(s.ptr, s.len);
        fam = text ? loco_chat_detect(text) : LOCO_CHAT_UNKNOWN;
        free(text);
    }
    int32_t id = fam != LOCO_CHAT_UNKNOWN ? loco_tokenizer_find(tok, eot_text[fam]) : -1;
    return id >= 0 ? id : loco_tokenizer_eos(tok);
}

/* ---- the file ----------------------------------------------------------- */

struct loader {
    const struct loco_recipe *r;
    struct tok_ctx tc;
    struct selector sel;
    struct loco_train_data *d;
    size_t cap;
};

static int push_example(struct loader *L, const struct loco_train_example *ex)
{
    struct loco_train_data *d = L->d;
    if (d->n_examples == L->cap) {
        if (L->cap >= MAX_EXAMPLES)
            return loco_error_set(LOCO_ERR_RANGE, "more than %d examples", MAX_EXAMPLES);
        size_t cap = L->cap ? 2 * L->cap : 256;
        void *p = realloc(d->examples, cap * sizeof *d->examples);
        if (!p)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        d->examples = p;
        L->cap = cap;
    }
    d->examples[d->n_examples++] = *ex;
    return LOCO_OK;
}

static int load_record(struct loader *L, const cJSON *rec, int64_t line)
{
    struct turns t = {0};
    struct loco_train_example ex = {.line = line};
    bool truncated = false, dropped = false;
    int rc = record_turns(L->r, rec, &t);
    if (!rc)
        rc = make_example(&L->tc, &t, &ex, &truncated, &dropped);
    turns_free(&t);
    if (rc)
        return rc;
    if (dropped) {
        L->d->stats.n_dropped++;
        return LOCO_OK;
    }
    L->d->stats.n_truncated += truncated;
    rc = push_example(L, &ex);
    if (rc) {
        free(ex.tokens);
        free(ex.target);
        free(ex.prompt);
        free(ex.reference);
    }
    return rc;
}

static bool blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

/* One line: parse, select, load. *done when the limit is reached. */
static int load_line(struct loader *L, const char *text, int64_t line, bool *done)
{
    const char *file = L->r->data_file;
    cJSON *rec = cJSON_Parse(text);
    if (!cJSON_IsObject(rec)) {
        cJSON_Delete(rec);
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%lld: not a JSON object", file, (long long)line);
    }
    L->d->stats.n_records++;
    bool keep = false;
    int rc = select_record(&L->sel, rec, &keep, done);
    if (!rc && keep) {
        L->d->stats.n_selected++;
        rc = load_record(L, rec, line);
    }
    cJSON_Delete(rec);
    if (rc)
        loco_error_prefix("%s:%lld", file, (long long)line);
    return rc;
}

static int read_lines(struct loader *L)
{
    const char *file = L->r->data_file;
    FILE *f;
    /* a FIFO is refused, not waited on; the message says what the file is */
    int rc = loco_fopen_regular(file, &f);
    if (rc == LOCO_ERR_INVALID) {
        loco_error_prefix("data.path");
        return rc;
    }
    if (rc != LOCO_OK) {
        char why[1200];
        snprintf(why, sizeof why, "%s", loco_error_message()); /* "cannot open FILE: ..." */
        return loco_error_set(rc,
                              "data.path: %s (paths are relative to the recipe's folder; "
                              "${LOCO_SHARED_DIR} expands from the environment)",
                              why);
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int64_t line = 0;
    bool done = false;
    while (!rc && !done && (got = getline(&buf, &cap, f)) >= 0) {
        line++;
        if ((size_t)got > MAX_LINE)
            rc = loco_error_set(LOCO_ERR_RANGE, "%s:%lld: line longer than %u bytes", file,
                                (long long)line, MAX_LINE);
        else if (!blank(buf))
            rc = load_line(L, buf, line, &done);
    }
    free(buf);
    fclose(f);
    return rc;
}

/* ---- split and statistics ----------------------------------------------- */

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void shuffle(size_t *v, size_t n, uint64_t seed)
{
    uint64_t state = seed;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(loco_rng_next(&state) % i);
        size_t tmp = v[i - 1];
        v[i - 1] = v[j];
        v[j] = tmp;
    }
}

static int split(struct loco_train_data *d, const struct loco_recipe *r)
{
    size_t n = d->n_examples;
    size_t n_val =
        r->validation < 1 ? (size_t)llround(r->validation * (double)n) : (size_t)r->validation;
    if (r->validation > 0 && n_val == 0 && n >= 2)
        n_val = 1;
    if (n_val >= n)
        n_val = n ? n - 1 : 0;
    size_t *all = malloc((n ? n : 1) * sizeof *all);
    d->val = malloc((n_val ? n_val : 1) * sizeof *d->val);
    d->train = malloc((n ? n : 1) * sizeof *d->train);
    if (!all || !d->val || !d->train) {
        free(all);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        all[i] = i;
    shuffle(all, n, loco_rng_mix(r->seed, 0x76616c /* "val" */, 0));
    memcpy(d->val, all, n_val * sizeof *all);
    memcpy(d->train, all + n_val, (n - n_val) * sizeof *all);
    d->n_val = n_val;
    d->n_train = n - n_val;
    qsort(d->val, d->n_val, sizeof *d->val, cmp_size);
    qsort(d->train, d->n_train, sizeof *d->train, cmp_size);
    free(all);
    return LOCO_OK;
}

static void count_tokens(struct loco_train_data *d)
{
    struct loco_train_data_stats *s = &d->stats;
    s->min_len = d->n_examples ? INT32_MAX : 0;
    for (size_t i = 0; i < d->n_examples; i++) {
        const struct loco_train_example *e = &d->examples[i];
        s->n_tokens += e->n;
        s->n_target += e->n - e->n_prompt;
        s->min_len = e->n < s->min_len ? e->n : s->min_len;
        s->max_len = e->n > s->max_len ? e->n : s->max_len;
    }
    for (size_t i = 0; i < d->n_train; i++)
        s->train_tokens += d->examples[d->train[i]].n;
    s->mean_len = d->n_examples ? (double)s->n_tokens / (double)d->n_examples : 0;
}

/* ---- entry points ------------------------------------------------------- */

struct loco_train_data *loco_train_data_load(const struct loco_recipe *r,
                                             const struct loco_model *m)
{
    struct loader L = {.r = r, .sel = {.r = r}};
    L.tc = (struct tok_ctx){.r = r, .m = m, .tok = loco_model_tokenizer(m)};
    L.d = calloc(1, sizeof *L.d);
    int rc = L.d ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (!rc && !L.tc.tok)
        rc = loco_error_set(LOCO_ERR_FORMAT, "the base model has no tokenizer");
    if (!rc) {
        L.tc.eot = end_of_turn(r, m, L.tc.tok);
        L.d->eot = L.tc.eot;
        if (L.tc.eot < 0)
            rc = loco_error_set(LOCO_ERR_FORMAT, "the model has no end-of-turn or eos token");
    }
    L.sel.include = compile(r->include_regex);
    L.sel.exclude = compile(r->exclude_regex);
    L.sel.md = pcre2_match_data_create(8, NULL);
    if (!rc &&
        (!L.sel.md || (r->include_regex && !L.sel.include) || (r->exclude_regex && !L.sel.exclude)))
        rc = loco_error_set(LOCO_ERR_FORMAT, "cannot compile data.include/exclude regex");
    if (!rc)
        rc = read_lines(&L);
    if (!rc && L.d->n_examples == 0)
        rc = loco_error_set(LOCO_ERR_NOT_FOUND,
                            "%s: no examples left (%lld records, %lld selected, %lld too long "
                            "for max_tokens %d)",
                            r->data_file, (long long)L.d->stats.n_records,
                            (long long)L.d->stats.n_selected, (long long)L.d->stats.n_dropped,
                            r->max_tokens);
    if (!rc)
        rc = split(L.d, r);
    if (!rc)
        count_tokens(L.d);
    pcre2_code_free(L.sel.include);
    pcre2_code_free(L.sel.exclude);
    pcre2_match_data_free(L.sel.md);
    if (rc) {
        loco_train_data_free(L.d);
        return NULL;
    }
    return L.d;
}

void loco_train_data_free(struct loco_train_data *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_examples; i++) {
        free(d->examples[i].tokens);
        free(d->examples[i].target);
        free(d->examples[i].prompt);
        free(d->examples[i].reference);
    }
    free(d->examples);
    free(d->train);
    free(d->val);
    free(d);
}

size_t loco_train_data_order(const struct loco_train_data *d, uint64_t seed, int64_t g,
                             size_t *perm, int64_t *perm_epoch)
{
    int64_t n = (int64_t)d->n_train;
    int64_t epoch = g / n, i = g % n;
    if (*perm_epoch != epoch) {
        for (int64_t k = 0; k < n; k++)
            perm[k] = (size_t)k;
        shuffle(perm, (size_t)n, loco_rng_mix(seed, 0x6f72646572 /* "order" */, (uint64_t)epoch));
        *perm_epoch = epoch;
    }
    return d->train[perm[i]];
}
