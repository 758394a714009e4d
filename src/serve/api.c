/*
 * api.c - request bodies for `loco serve`: OpenAI chat/completions and
 * Ollama chat/generate into one struct loco_api_request (loco/api.h).
 */
#include "loco/api.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/core.h"

struct loco_api_limits loco_api_default_limits(void)
{
    return (struct loco_api_limits){
        .max_tokens = 4096, .max_n = 4, .max_messages = 256, .max_body = 1 << 20};
}

int loco_api_fail(struct loco_api_error *err, int rc, int status, const char *param,
                  const char *fmt, ...)
{
    err->status = status;
    err->type = status == 401   ? "authentication_error"
                : status == 404 ? "not_found_error"
                : status == 429 ? "rate_limit_error"
                : status >= 500 ? "server_error"
                                : "invalid_request_error";
    snprintf(err->param, sizeof err->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return rc;
}

bool loco_api_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += n + 1;
    }
    return true;
}

char *loco_api_error_json(const struct loco_api_error *err)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddStringToObject(e, "message", err->message);
    cJSON_AddStringToObject(e, "type", err->type ? err->type : "invalid_request_error");
    if (err->param[0])
        cJSON_AddStringToObject(e, "param", err->param);
    else
        cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* ---- field checkers --------------------------------------------------------- */

/* A JSON escape \u0000 would end a C string early: the rest of the text
 * would vanish without a word. Refused instead. */
static bool has_nul_escape(const char *s, size_t len)
{
    for (size_t i = 0; i + 5 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4))
            return true;
        i++; /* skip the escaped character ("\\\\u0000" is text) */
    }
    return false;
}

static char *dup_str(const cJSON *v)
{
    return strdup(v->valuestring);
}

static int get_bool(const cJSON *obj, const char *key, bool *out, struct loco_api_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return LOCO_OK;
    if (!cJSON_IsBool(v))
        return loco_api_fail(err, LOCO_ERR_TYPE, 400, key, "%s must be true or false", key);
    *out = cJSON_IsTrue(v);
    return LOCO_OK;
}

/* A number in [lo, hi] (finite); *has set when present. */
static int get_num(const cJSON *obj, const char *key, double lo, double hi, double *out,
                   bool *has, struct loco_api_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return LOCO_OK;
    if (!cJSON_IsNumber(v))
        return loco_api_fail(err, LOCO_ERR_TYPE, 400, key, "%s must be a number", key);
    if (!isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return loco_api_fail(err, LOCO_ERR_RANGE, 400, key, "%s must be between %g and %g", key,
                             lo, hi);
    *out = v->valuedouble;
    if (has)
        *has = true;
    return LOCO_OK;
}

/* A whole number in [lo, hi]. */
static int get_int(const cJSON *obj, const char *key, double lo, double hi, double *out,
                   bool *has, struct loco_api_error *err)
{
    bool got = false;
    double d = 0;
    int rc = get_num(obj, key, lo, hi, &d, &got, err);
    if (rc || !got)
        return rc;
    if (d != floor(d))
        return loco_api_fail(err, LOCO_ERR_TYPE, 400, key, "%s must be a whole number", key);
    *out = d;
    if (has)
        *has = true;
    return LOCO_OK;
}

static int check_text(const char *s, const char *param, struct loco_api_error *err)
{
    if (!loco_api_utf8_valid(s, strlen(s)))
        return loco_api_fail(err, LOCO_ERR_FORMAT, 400, param, "%s is not valid UTF-8", param);
    return LOCO_OK;
}

/* "stop": a string or an array of at most LOCO_API_MAX_STOP strings. */
static int get_stop(const cJSON *v, struct loco_api_request *r, struct loco_api_error *err)
{
    if (!v || cJSON_IsNull(v))
        return LOCO_OK;
    const cJSON *one = v;
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) > LOCO_API_MAX_STOP)
            return loco_api_fail(err, LOCO_ERR_RANGE, 400, "stop", "stop holds at most %d strings",
                                 LOCO_API_MAX_STOP);
        one = v->child;
    } else if (!cJSON_IsString(v)) {
        return loco_api_fail(err, LOCO_ERR_TYPE, 400, "stop",
                             "stop must be a string or an array of strings");
    }
    for (; one; one = cJSON_IsArray(v) ? one->next : NULL) {
        if (!cJSON_IsString(one))
            return loco_api_fail(err, LOCO_ERR_TYPE, 400, "stop", "stop strings must be strings");
        size_t len = strlen(one->valuestring);
        if (len == 0)
            continue;
        if (len > LOCO_API_MAX_STOP_LEN)
            return loco_api_fail(err, LOCO_ERR_RANGE, 400, "stop",
                                 "a stop string holds at most %d bytes", LOCO_API_MAX_STOP_LEN);
        if (!(r->stop[r->n_stop] = dup_str(one)))
            return loco_api_fail(err, LOCO_ERR_NOMEM, 500, "", "out of memory");
        r->n_stop++;
    }
    return LOCO_OK;
}

/* "content": a string, or (OpenAI) an array of {"type":"text","text":...}
 * parts, joined. Into *out (malloc'd). */
static int get_content(const cJSON *v, const char *param, bool parts_ok, char **out,
                       struct loco_api_error *err)
{
    if (cJSON_IsString(v)) {
        *out = dup_str(v);
        return *out ? LOCO_OK : loco_api_fail(err, LOCO_ERR_NOMEM, 500, "", "out of memory");
    }
    if (!parts_ok || !cJSON_IsArray(v))
        return loco_api_fail(err, LOCO_ERR_TYPE, 400, param, "%s must be a string%s", param,
                             parts_ok ? " or an array of text parts" : "");
    size_t len = 0;
    for (const cJSON *p = v->child; p; p = p->next) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text"))
            return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, param,
                                 "only text content parts are supported");
        if (!cJSON_IsString(text))
            return loco_api_fail(err, LOCO_ERR_TYPE, 400, param, "a text part needs \"text\"");
        len += strlen(text->valuestring);
    }
    char *s = malloc(len + 1);
    if (!s)
        return loco_api_fail(err, LOCO_ERR_NOMEM, 500, "", "out of memory");
    size_t at = 0;
    for (const cJSON *p = v->child; p; p = p->next) {
        const char *t = cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring;
        size_t n = strlen(t);
        memcpy(s + at, t, n);
        at += n;
    }
    s[at] = '\0';
    *out = s;
    return LOCO_OK;
}

static int get_messages(const cJSON *root, const struct loco_api_limits *lim,
                        struct loco_api_request *r, struct loco_api_error *err)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!msgs)
        return loco_api_fail(err, LOCO_ERR_FORMAT, 400, "messages", "messages is required");
    if (!cJSON_IsArray(msgs))
        return loco_api_fail(err, LOCO_ERR_TYPE, 400, "messages", "messages must be an array");
    size_t n = (size_t)cJSON_GetArraySize(msgs);
    if (n == 0)
        return loco_api_fail(err, LOCO_ERR_RANGE, 400, "messages", "messages is empty");
    if (n > lim->max_messages)
        return loco_api_fail(err, LOCO_ERR_RANGE, 400, "messages",
                             "at most %zu messages in a conversation", lim->max_messages);
    r->msgs = calloc(n, sizeof *r->msgs);
    if (!r->msgs)
        return loco_api_fail(err, LOCO_ERR_NOMEM, 500, "", "out of memory");
    bool parts_ok = r->kind == LOCO_API_CHAT, user_seen = false;
    for (const cJSON *m = msgs->child; m; m = m->next) {
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", r->n_msgs);
        if (!cJSON_IsObject(m))
            return loco_api_fail(err, LOCO_ERR_TYPE, 400, param, "%s must be an object", param);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role))
            return loco_api_fail(err, LOCO_ERR_TYPE, 400, param, "%s needs a role", param);
        const char *name = role->valuestring;
        if (!strcmp(name, "developer")) /* OpenAI's newer name for system */
            name = "system";
        if (strcmp(name, "system") && strcmp(name, "user") && strcmp(name, "assistant"))
            return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, param,
                                 "role must be system, user or assistant (tools are not "
                                 "supported)");
        if (cJSON_GetObjectItemCaseSensitive(m, "images"))
            return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, param,
                                 "images are not supported");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!content)
            return loco_api_fail(err, LOCO_ERR_FORMAT, 400, param, "%s needs content", param);
        struct loco_chat_msg *out = &r->msgs[r->n_msgs];
        char *text = NULL;
        int rc = get_content(content, param, parts_ok, &text, err);
        if (rc)
            return rc;
        if (!(out->role = strdup(name))) {
            free(text);
            return loco_api_fail(err, LOCO_ERR_NOMEM, 500, "", "out of memory");
        }
        out->content = text;
        r->n_msgs++;
        if ((rc = check_text(text, param, err)))
            return rc;
        user_seen |= !strcmp(name, "user");
    }
    if (!user_seen)
        return loco_api_fail(err, LOCO_ERR_FORMAT, 400, "messages",
                             "the conversation has no user message");
    return LOCO_OK;
}

/* The sampling fields, OpenAI's names at the top level or Ollama's in
 * "options". */
static int get_sampling(const cJSON *o, bool ollama, const struct loco_api_limits *lim,
                        struct loco_api_request *r, struct loco_api_error *err)
{
    double d = 0;
    bool has = false;
    int rc;
    const char *max_key = ollama ? "num_predict" : "max_tokens";
    if ((rc = get_int(o, max_key, ollama ? -2 : 1, 1e15, &d, &has, err)))
        return rc;
    if (!ollama && !has &&
        (rc = get_int(o, "max_completion_tokens", 1, 1e15, &d, &has, err)))
        return rc;
    if (has && d > 0) {
        if (d > lim->max_tokens)
            return loco_api_fail(err, LOCO_ERR_RANGE, 400, max_key,
                                 "%s is at most %d on this server", max_key, lim->max_tokens);
        r->max_tokens = (int32_t)d;
    }
    if ((rc = get_num(o, "temperature", 0, 2, &r->temperature, &r->has_temperature, err)))
        return rc;
    if ((rc = get_num(o, "top_p", 0, 1, &r->top_p, &r->has_top_p, err)))
        return rc;
    if ((rc = get_int(o, "top_k", 0, 1 << 24, &d, &r->has_top_k, err)))
        return rc;
    r->top_k = (int32_t)d;
    if ((rc = get_num(o, "min_p", 0, 1, &r->min_p, &r->has_min_p, err)))
        return rc;
    /* llama.cpp's and Ollama's name, and vLLM's */
    if ((rc = get_num(o, "repeat_penalty", 0.01, 10, &r->repeat_penalty, &r->has_repeat_penalty,
                      err)))
        return rc;
    if (!r->has_repeat_penalty &&
        (rc = get_num(o, "repetition_penalty", 0.01, 10, &r->repeat_penalty,
                      &r->has_repeat_penalty, err)))
        return rc;
    if ((rc = get_int(o, "seed", -9007199254740991.0, 9007199254740991.0, &d, &r->has_seed, err)))
        return rc;
    r->seed = d < 0 ? (uint64_t)(int64_t)d : (uint64_t)d;
    return get_stop(cJSON_GetObjectItemCaseSensitive(o, "stop"), r, err);
}

/* Features this server does not have: refused by name. */
static int refuse_unsupported(const cJSON *root, struct loco_api_error *err)
{
    static const char *const keys[] = {"tools", "functions", "tool_choice", "function_call"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0) &&
            !(cJSON_IsString(v) && !strcmp(v->valuestring, "none")))
            return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, keys[i],
                                 "%s: tool calling is not supported", keys[i]);
    }
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(root, "logprobs");
    if (cJSON_IsTrue(lp) || (cJSON_IsNumber(lp) && lp->valuedouble > 0))
        return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, "logprobs",
                             "logprobs are not supported");
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(root, "response_format");
    const cJSON *rft = rf ? cJSON_GetObjectItemCaseSensitive(rf, "type") : NULL;
    if (rf && !cJSON_IsNull(rf) && !(cJSON_IsString(rft) && !strcmp(rft->valuestring, "text")))
        return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, "response_format",
                             "only response_format {\"type\": \"text\"} is supported");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (fmt && !cJSON_IsNull(fmt) && !(cJSON_IsString(fmt) && !fmt->valuestring[0]))
        return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, "format",
                             "structured output (format) is not supported");
    if (cJSON_GetObjectItemCaseSensitive(root, "images"))
        return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, "images", "images are not supported");
    return LOCO_OK;
}

static int parse_root(const cJSON *root, const struct loco_api_limits *lim,
                      struct loco_api_request *r, struct loco_api_error *err)
{
    bool ollama = r->kind == LOCO_API_OLLAMA_CHAT || r->kind == LOCO_API_OLLAMA_GENERATE;
    bool chat = r->kind == LOCO_API_CHAT || r->kind == LOCO_API_OLLAMA_CHAT;
    if (!cJSON_IsObject(root))
        return loco_api_fail(err, LOCO_ERR_TYPE, 400, "", "the body must be a JSON object");
    int rc = refuse_unsupported(root, err);
    if (rc)
        return rc;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (model && !cJSON_IsNull(model) && !cJSON_IsString(model))
        return loco_api_fail(err, LOCO_ERR_TYPE, 400, "model", "model must be a string");
    r->model = strdup(cJSON_IsString(model) && model->valuestring[0] ? model->valuestring : "loco");
    if (!r->model)
        return loco_api_fail(err, LOCO_ERR_NOMEM, 500, "", "out of memory");
    if ((rc = check_text(r->model, "model", err)))
        return rc;
    if (chat) {
        if ((rc = get_messages(root, lim, r, err)))
            return rc;
    } else {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
        if (!p)
            return loco_api_fail(err, LOCO_ERR_FORMAT, 400, "prompt", "prompt is required");
        if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(p->child))
            p = p->child; /* OpenAI allows a list of prompts; one is served */
        if (!cJSON_IsString(p))
            return loco_api_fail(err, LOCO_ERR_TYPE, 400, "prompt",
                                 "prompt must be a string (one prompt per request)");
        if (!p->valuestring[0])
            return loco_api_fail(err, LOCO_ERR_RANGE, 400, "prompt", "prompt is empty");
        if (!(r->prompt = dup_str(p)))
            return loco_api_fail(err, LOCO_ERR_NOMEM, 500, "", "out of memory");
        if ((rc = check_text(r->prompt, "prompt", err)))
            return rc;
        const cJSON *sys = cJSON_GetObjectItemCaseSensitive(root, "system");
        if (ollama && sys && !cJSON_IsNull(sys)) {
            if (!cJSON_IsString(sys))
                return loco_api_fail(err, LOCO_ERR_TYPE, 400, "system", "system must be a string");
            if (!(r->system = dup_str(sys)))
                return loco_api_fail(err, LOCO_ERR_NOMEM, 500, "", "out of memory");
        }
        if (ollama && (rc = get_bool(root, "raw", &r->raw, err)))
            return rc;
    }
    r->stream = ollama;
    if ((rc = get_bool(root, "stream", &r->stream, err)))
        return rc;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (so && !cJSON_IsNull(so)) {
        if (!cJSON_IsObject(so))
            return loco_api_fail(err, LOCO_ERR_TYPE, 400, "stream_options",
                                 "stream_options must be an object");
        if ((rc = get_bool(so, "include_usage", &r->include_usage, err)))
            return rc;
    }
    if (ollama) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "options");
        if (o && !cJSON_IsNull(o) && !cJSON_IsObject(o))
            return loco_api_fail(err, LOCO_ERR_TYPE, 400, "options", "options must be an object");
        if (o && cJSON_IsObject(o) && (rc = get_sampling(o, true, lim, r, err)))
            return rc;
    } else if ((rc = get_sampling(root, false, lim, r, err))) {
        return rc;
    }
    double n = 1;
    if (!ollama && (rc = get_int(root, "n", 1, 1e15, &n, NULL, err)))
        return rc;
    if (n > lim->max_n)
        return loco_api_fail(err, LOCO_ERR_RANGE, 400, "n", "n is at most %d on this server",
                             lim->max_n);
    r->n = (int32_t)n;
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(root, "loco");
    if (ext && !cJSON_IsNull(ext)) {
        if (!cJSON_IsObject(ext))
            return loco_api_fail(err, LOCO_ERR_TYPE, 400, "loco", "loco must be an object");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(ext, "strategy");
        if (st && !cJSON_IsNull(st)) {
            if (!cJSON_IsString(st))
                return loco_api_fail(err, LOCO_ERR_TYPE, 400, "loco.strategy",
                                     "loco.strategy must be a string");
            if (!(r->strategy = dup_str(st)))
                return loco_api_fail(err, LOCO_ERR_NOMEM, 500, "", "out of memory");
        }
    }
    return LOCO_OK;
}

int loco_api_parse(enum loco_api_kind kind, const char *body, size_t len,
                   const struct loco_api_limits *lim, struct loco_api_request *out,
                   struct loco_api_error *err)
{
    struct loco_api_limits def = loco_api_default_limits();
    if (!lim)
        lim = &def;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    out->kind = kind;
    out->max_tokens = -1;
    out->n = 1;
    if (!body || len == 0)
        return loco_api_fail(err, LOCO_ERR_FORMAT, 400, "", "the request has no body");
    if (len > lim->max_body)
        return loco_api_fail(err, LOCO_ERR_RANGE, 413, "", "the body is larger than %zu bytes",
                             lim->max_body);
    if (!loco_api_utf8_valid(body, len))
        return loco_api_fail(err, LOCO_ERR_FORMAT, 400, "", "the body is not valid UTF-8");
    if (memchr(body, '\0', len) || has_nul_escape(body, len))
        return loco_api_fail(err, LOCO_ERR_FORMAT, 400, "", "the body holds a NUL character");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!root)
        return loco_api_fail(err, LOCO_ERR_FORMAT, 400, "",
                             "the body is not valid JSON (near byte %zu)",
                             end && end >= body ? (size_t)(end - body) : 0);
    for (; end && end < body + len; end++)
        if (!strchr(" \t\r\n", *end)) {
            cJSON_Delete(root);
            return loco_api_fail(err, LOCO_ERR_FORMAT, 400, "",
                                 "the body holds more than one JSON value");
        }
    int rc = parse_root(root, lim, out, err);
    cJSON_Delete(root);
    if (rc)
        loco_api_request_free(out);
    return rc;
}

void loco_api_request_free(struct loco_api_request *r)
{
    if (!r)
        return;
    free(r->model);
    for (size_t i = 0; i < r->n_msgs; i++) {
        free((char *)r->msgs[i].role);
        free((char *)r->msgs[i].content);
    }
    free(r->msgs);
    free(r->prompt);
    free(r->system);
    for (size_t i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    free(r->strategy);
    memset(r, 0, sizeof *r);
}
