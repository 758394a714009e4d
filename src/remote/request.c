/*
 * request.c - saying an adapter set to each kind of engine
 * (loco/remote.h), and the chat request's JSON body.
 *
 *   vLLM, openai  "model": "math" (one adapter, scale 1) or the base's name
 *   llama-server  "lora": [{"id": 0, "scale": 1.0}, {"id": 1, "scale": 0.0}]
 *                 with every adapter it loaded, matched to ours by file name
 *   loco          "model": "loco:math:0.5+code:0.5", or "loco:base"
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/sbuf.h"
#include "remote_internal.h"

/* A float as the decimal it was typed as (0.2f is 0.200000003 as a
 * double): six significant decimals are all a float holds. */
static double tidy(float v)
{
    return round((double)v * 1e6) / 1e6;
}

/* The engine's models as "a, b, c" (for messages), into buf. */
static const char *list_models(const struct loco_remote *r, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_models && len + 1 < cap; i++) {
        int k = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", r->models[i].id);
        if (k < 0)
            break;
        len += (size_t)k < cap - len ? (size_t)k : cap - len - 1;
    }
    return r->n_models ? buf : "none";
}

/* The first base model the engine lists; NULL when none. */
static const char *base_name(const struct loco_remote *r)
{
    for (size_t i = 0; i < r->n_models; i++)
        if (r->models[i].kind == LOCO_REMOTE_MODEL_BASE)
            return r->models[i].id;
    return NULL;
}

static int put(char *buf, size_t cap, const char *s)
{
    if (snprintf(buf, cap, "%s", s) >= (int)cap)
        return loco_error_set(LOCO_ERR_RANGE, "the model name '%s' is longer than %zu bytes", s,
                              cap - 1);
    return LOCO_OK;
}

/* ---- vLLM and openai: one adapter as the model ----------------------------- */

static bool serves(const struct loco_remote *r, const char *id)
{
    for (size_t i = 0; i < r->n_models; i++)
        if (!strcmp(r->models[i].id, id))
            return true;
    return false;
}

static int model_by_name(struct loco_remote *r, const struct loco_remote_adapter *a, size_t n,
                         char *buf, size_t cap)
{
    const char *engine = loco_remote_kind_name(r->kind);
    if (n > 1)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "%s serves one adapter per request (as its model name): a set of "
                              "%zu adapters cannot be sent to %s; merge them first (loco "
                              "adapters merge) or use llama-server or loco serve",
                              engine, n, r->url);
    if (a[0].scale != 1.0f)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "%s applies an adapter at scale 1 only: '%s' at scale %g cannot be "
                              "sent to %s; use llama-server or loco serve for scales",
                              engine, a[0].name, (double)a[0].scale, r->url);
    if (!serves(r, a[0].name) && loco_remote_refresh(r) != LOCO_OK)
        return LOCO_ERR_NETWORK; /* the refresh's message stands */
    if (!serves(r, a[0].name)) {
        char list[1024];
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "%s does not serve the adapter '%s' (its models: %s); serve it as "
                              "that name, e.g. vllm serve BASE --enable-lora --lora-modules "
                              "%s=DIR (docs/scale-out.md)",
                              r->url, a[0].name, list_models(r, list, sizeof list), a[0].name);
    }
    return put(buf, cap, a[0].name);
}

/* ---- loco serve: the set in the model name ------------------------------- */

static int model_for_loco(const struct loco_remote_adapter *a, size_t n, char *buf, size_t cap)
{
    struct loco_sbuf b = {.max = cap - 1};
    loco_sbuf_adds(&b, n ? "loco:" : "loco:base");
    for (size_t i = 0; i < n; i++) {
        loco_sbuf_printf(&b, "%s%s", i ? "+" : "", a[i].name);
        if (a[i].scale != 1.0f)
            loco_sbuf_printf(&b, ":%g", (double)a[i].scale);
    }
    int rc = loco_sbuf_status(&b);
    if (rc == LOCO_OK)
        memcpy(buf, b.p, b.len + 1);
    else
        rc = loco_error_set(LOCO_ERR_RANGE, "the model name for %zu adapters passes %zu bytes", n,
                            cap - 1);
    loco_sbuf_free(&b);
    return rc;
}

/* ---- llama-server: adapters by file --------------------------------------- */

/* The last component of path (after '/'). */
static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Whether the engine's adapter m is ours, a, at matching level `how`:
 * 0 the same file name as our file, 1 the file's stem is our name, 2 the
 * file's folder is named as ours (an exported adapter's folder). */
static bool lora_matches(const struct loco_remote_model *m, const struct loco_remote_adapter *a,
                         int how)
{
    if (how == 0)
        return a->path && a->path[0] && !strcmp(base_of(m->path), base_of(a->path));
    if (how == 1)
        return !strcmp(m->id, a->name);
    const char *slash = strrchr(m->path, '/');
    if (!slash)
        return false;
    const char *dir = slash;
    while (dir > m->path && dir[-1] != '/')
        dir--;
    return (size_t)(slash - dir) == strlen(a->name) && !strncmp(dir, a->name, strlen(a->name));
}

/* The engine's adapter for a: the only one matching at the strictest level
 * any matches. */
static int find_lora(const struct loco_remote *r, const struct loco_remote_adapter *a,
                     size_t *found)
{
    for (int how = 0; how < 3; how++) {
        size_t hits = 0;
        for (size_t i = 0; i < r->n_models; i++)
            if (r->models[i].kind == LOCO_REMOTE_MODEL_ADAPTER &&
                lora_matches(&r->models[i], a, how)) {
                *found = i;
                hits++;
            }
        if (hits == 1)
            return LOCO_OK;
        if (hits > 1)
            return loco_error_set(LOCO_ERR_INVALID,
                                  "llama-server %s has %zu adapters that could be '%s' (by file "
                                  "name); load each file once, with distinct names",
                                  r->url, hits, a->name);
    }
    char list[1024];
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; i < r->n_models && len + 1 < sizeof list; i++)
        if (r->models[i].kind == LOCO_REMOTE_MODEL_ADAPTER) {
            int k = snprintf(list + len, sizeof list - len, "%s%d: %s", len ? ", " : "",
                             r->models[i].lora_id, r->models[i].path);
            len = k < 0 ? len : len + (size_t)k < sizeof list ? len + (size_t)k : sizeof list - 1;
        }
    return loco_error_set(LOCO_ERR_NOT_FOUND,
                          "llama-server %s has no adapter '%s' (its adapters: %s); start it with "
                          "--lora %s.gguf (docs/scale-out.md)",
                          r->url, a->name, list[0] ? list : "none", a->name);
}

/* Every adapter of the engine with its scale for this set, as *out:
 * [{"id": 0, "scale": 1.0}, ...] (the caller's). */
static int lora_field(const struct loco_remote *r, const struct loco_remote_adapter *a, size_t n,
                      cJSON **out)
{
    float *scale = calloc(r->n_models ? r->n_models : 1, sizeof *scale);
    if (!scale)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        size_t i = 0;
        int rc = find_lora(r, &a[k], &i);
        if (rc) {
            free(scale);
            return rc;
        }
        scale[i] += a[k].scale;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < r->n_models; i++) {
        if (r->models[i].kind != LOCO_REMOTE_MODEL_ADAPTER)
            continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", r->models[i].lora_id);
        cJSON_AddNumberToObject(e, "scale", tidy(scale[i]));
        cJSON_AddItemToArray(arr, e);
    }
    free(scale);
    *out = arr;
    return arr ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

/* ---- the model name and the body ------------------------------------------ */

int loco_remote_model_for(struct loco_remote *r, const struct loco_remote_adapter *adapters,
                          size_t n_adapters, char *buf, size_t cap)
{
    if (!cap)
        return loco_error_set(LOCO_ERR_RANGE, "no room for the model name");
    buf[0] = '\0';
    if (r->kind == LOCO_REMOTE_LOCO)
        return model_for_loco(adapters, n_adapters, buf, cap);
    if (r->kind == LOCO_REMOTE_LLAMA_SERVER) { /* the set goes in "lora" */
        const char *base = base_name(r);
        return put(buf, cap, base ? base : "");
    }
    if (n_adapters)
        return model_by_name(r, adapters, n_adapters, buf, cap);
    const char *base = base_name(r);
    if (!base) {
        char list[1024];
        return loco_error_set(LOCO_ERR_NOT_FOUND, "%s lists no base model (its models: %s)", r->url,
                              list_models(r, list, sizeof list));
    }
    return put(buf, cap, base);
}

static void add_messages(cJSON *o, const struct loco_remote_request *req)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "messages");
    for (size_t i = 0; i < req->n_msgs; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", req->msgs[i].role);
        cJSON_AddStringToObject(m, "content", req->msgs[i].content);
        cJSON_AddItemToArray(arr, m);
    }
}

/* The sampling every engine takes, and what vLLM, llama-server and loco
 * serve take besides (the repetition penalty under each one's name). To
 * llama-server and loco serve all three go always, so that their own
 * defaults (a repetition penalty of 1.1, top-k 40) never stand in for what
 * the request means; vLLM gets them only when they do something. */
static void add_sampling(cJSON *o, const struct loco_remote *r, const struct loco_remote_request *q)
{
    const struct loco_sampler_params *s = &q->gen.sampling;
    cJSON_AddNumberToObject(o, "max_tokens", q->gen.max_tokens);
    cJSON_AddNumberToObject(o, "temperature", s->temperature > 0 ? tidy(s->temperature) : 0);
    cJSON_AddNumberToObject(o, "top_p", s->top_p < 1 ? tidy(s->top_p) : 1);
    if (s->seed != LOCO_SEED_RANDOM) /* JSON numbers are doubles: within 2^53 */
        cJSON_AddNumberToObject(o, "seed", (double)(s->seed & ((1ULL << 53) - 1)));
    bool all = r->kind == LOCO_REMOTE_LLAMA_SERVER || r->kind == LOCO_REMOTE_LOCO;
    if (!all && r->kind != LOCO_REMOTE_VLLM)
        return;
    if (all || s->top_k > 0)
        cJSON_AddNumberToObject(o, "top_k", s->top_k > 0 ? s->top_k : 0);
    if (all || s->min_p > 0)
        cJSON_AddNumberToObject(o, "min_p", s->min_p > 0 ? tidy(s->min_p) : 0);
    float rp = s->repeat_penalty > 0 ? s->repeat_penalty : 1.0f;
    if (all || rp != 1.0f)
        cJSON_AddNumberToObject(
            o, r->kind == LOCO_REMOTE_VLLM ? "repetition_penalty" : "repeat_penalty", tidy(rp));
}

static int check_request(const struct loco_remote *r, const struct loco_remote_request *q)
{
    if (!q->msgs || !q->n_msgs)
        return loco_error_set(LOCO_ERR_INVALID, "a request to %s needs at least one message",
                              r->url);
    if (q->n_adapters && !q->adapters)
        return loco_error_set(LOCO_ERR_INVALID, "%zu adapters but no list", q->n_adapters);
    for (size_t i = 0; i < q->n_msgs; i++)
        if (!q->msgs[i].role || !q->msgs[i].content)
            return loco_error_set(LOCO_ERR_INVALID, "message %zu has no role or content", i);
    if (q->gen.calc)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "the calculator (strategy calc) writes into the answer as it is "
                              "decoded, which a remote engine cannot do; answer locally, or "
                              "use plain or re2");
    if (q->gen.max_tokens <= 0)
        return loco_error_set(LOCO_ERR_INVALID, "max_tokens must be positive, not %d",
                              q->gen.max_tokens);
    return LOCO_OK;
}

int remote_request_body(struct loco_remote *r, const struct loco_remote_request *req, char **body)
{
    char model[1024];
    *body = NULL;
    int rc = check_request(r, req);
    if (rc == LOCO_OK)
        rc = loco_remote_model_for(r, req->adapters, req->n_adapters, model, sizeof model);
    cJSON *lora = NULL;
    if (rc == LOCO_OK && r->kind == LOCO_REMOTE_LLAMA_SERVER)
        rc = lora_field(r, req->adapters, req->n_adapters, &lora);
    if (rc)
        return rc;
    cJSON *o = cJSON_CreateObject();
    if (model[0])
        cJSON_AddStringToObject(o, "model", model);
    add_messages(o, req);
    cJSON_AddBoolToObject(o, "stream", true);
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(o, "stream_options"), "include_usage", true);
    add_sampling(o, r, req);
    if (req->stop[0]) {
        cJSON *stop = cJSON_AddArrayToObject(o, "stop");
        for (size_t i = 0; i < LOCO_REMOTE_MAX_STOP && req->stop[i]; i++)
            cJSON_AddItemToArray(stop, cJSON_CreateString(req->stop[i]));
    }
    if (lora)
        cJSON_AddItemToObject(o, "lora", lora);
    *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return *body ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

char *loco_remote_request_json(struct loco_remote *r, const struct loco_remote_request *req)
{
    char *body = NULL;
    remote_request_body(r, req, &body);
    return body;
}
