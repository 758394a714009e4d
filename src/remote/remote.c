/*
 * remote.c - a handle on another engine (loco/remote.h): its URL, its key,
 * its limits, which kind it is and what it serves.
 *
 * Finding the kind takes at most three GETs, each answered quickly by the
 * engines that have it:
 *   GET /health         loco serve answers {"status", "model", "slots",
 *                       "running", "queued", "engine": "loco"} (and its
 *                       replies carry X-Loco-* headers); llama-server
 *                       {"status": "ok"};
 *                       vLLM an empty 200
 *   GET /lora-adapters  llama-server: the list of its --lora adapters
 *   GET /v1/models      vLLM's entries are owned_by "vllm" (adapters with a
 *                       "parent"); loco's carry a "loco" object
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json_get.h"
#include "core/util.h"
#include "remote_internal.h"

#define DEFAULT_CONNECT_S 10
#define DEFAULT_TOTAL_S 600
#define DEFAULT_MAX_BYTES ((size_t)16 << 20)

/* ---- kinds --------------------------------------------------------------- */

static const char *const kind_names[] = {"auto", "openai", "vllm", "llama-server", "loco"};

const char *loco_remote_kind_name(enum loco_remote_kind kind)
{
    return (unsigned)kind < sizeof kind_names / sizeof *kind_names ? kind_names[kind] : "unknown";
}

int loco_remote_kind_parse(const char *name, enum loco_remote_kind *kind)
{
    for (size_t i = 0; name && i < sizeof kind_names / sizeof *kind_names; i++)
        if (!strcmp(name, kind_names[i])) {
            *kind = (enum loco_remote_kind)i;
            return LOCO_OK;
        }
    if (name && (!strcmp(name, "llama.cpp") || !strcmp(name, "llama-cpp"))) {
        *kind = LOCO_REMOTE_LLAMA_SERVER;
        return LOCO_OK;
    }
    return loco_error_set(LOCO_ERR_INVALID,
                          "unknown engine kind '%s': use auto, openai, vllm, llama-server or loco",
                          name ? name : "");
}

/* ---- HTTP ---------------------------------------------------------------- */

size_t remote_header_cb(char *data, size_t size, size_t n, void *reply)
{
    struct remote_reply *rep = reply;
    if (size * n > 7 && !strncasecmp(data, "X-Loco-", 7))
        rep->loco_headers = true;
    return size * n;
}

static size_t body_cb(char *data, size_t size, size_t n, void *reply)
{
    struct remote_reply *rep = reply;
    loco_sbuf_add(&rep->body, data, size * n);
    return rep->body.failed ? 0 : size * n;
}

CURL *remote_curl(const struct loco_remote *r, const char *path, struct curl_slist **headers)
{
    CURL *c = curl_easy_init();
    char *url = loco_str_printf("%s%s", r->root, path);
    if (!c || !url) {
        curl_easy_cleanup(c);
        free(url);
        return NULL;
    }
    *headers = curl_slist_append(NULL, "Accept: application/json, text/event-stream");
    if (r->auth)
        *headers = curl_slist_append(*headers, r->auth);
    curl_easy_setopt(c, CURLOPT_URL, url); /* curl copies it */
    free(url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, r->connect_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, r->total_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "locollm/" LOCO_VERSION " (+loco --engine)");
    return c;
}

int remote_get(const struct loco_remote *r, const char *path, struct remote_reply *reply)
{
    *reply = (struct remote_reply){.body = {.max = r->max_bytes}};
    struct curl_slist *h = NULL;
    CURL *c = remote_curl(r, path, &h);
    if (!c)
        return loco_error_set(LOCO_ERR_NOMEM, "engine %s: cannot make a curl handle", r->url);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, remote_header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, reply);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (cc == CURLE_OK)
        return LOCO_OK;
    if (reply->body.too_long)
        return loco_error_set(LOCO_ERR_NOMEM,
                              "engine %s: GET %s: the reply is larger than %zu bytes", r->url, path,
                              r->max_bytes);
    return loco_error_set(LOCO_ERR_NETWORK, "engine %s: GET %s: %s%s%s", r->url, path,
                          curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
}

/* The first bytes of a body, printable. */
static void excerpt(const char *body, size_t len, char *buf, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < cap && k < 160; i++)
        buf[k++] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : ' ';
    buf[k] = '\0';
}

void remote_error_text(const char *body, size_t len, char *buf, size_t cap)
{
    cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const char *m = cJSON_IsString(err) ? err->valuestring : loco_json_string(err, "message");
    if (!m)
        m = loco_json_string(j, "message"); /* vLLM before 0.10: the fields at the top */
    if (!m)
        m = loco_json_string(j, "detail"); /* FastAPI's own errors */
    if (m)
        snprintf(buf, cap, "%s", m);
    else if (len)
        excerpt(body, len, buf, cap);
    else
        snprintf(buf, cap, "(no message)");
    cJSON_Delete(j);
}

int remote_http_error(const struct loco_remote *r, const char *path, long status, const char *body,
                      size_t len)
{
    char why[512];
    remote_error_text(body, len, why, sizeof why);
    return loco_error_set(
        LOCO_ERR_NETWORK, "engine %s: %s: HTTP %ld: %s%s", r->url, path, status, why,
        status == 401 || status == 403 ? (r->auth ? " (the engine refused the API key given)"
                                                  : " (the engine wants an API key)")
                                       : "");
}

/* ---- models -------------------------------------------------------------- */

static void models_free(struct loco_remote *r)
{
    for (size_t i = 0; i < r->n_models; i++) {
        free((char *)r->models[i].id);
        free((char *)r->models[i].path);
        free((char *)r->models[i].parent);
    }
    free(r->models);
    r->models = NULL;
    r->n_models = 0;
}

/* Append one model; copies the strings (NULL reads as ""). */
static int model_add(struct loco_remote *r, const char *id, const char *path, const char *parent,
                     enum loco_remote_model_kind kind, int32_t lora_id)
{
    struct loco_remote_model *m = realloc(r->models, (r->n_models + 1) * sizeof *m);
    if (!m)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    r->models = m;
    m = &r->models[r->n_models];
    *m = (struct loco_remote_model){.id = strdup(id ? id : ""),
                                    .path = strdup(path ? path : ""),
                                    .parent = strdup(parent ? parent : ""),
                                    .kind = kind,
                                    .lora_id = lora_id};
    r->n_models++;
    if (!m->id || !m->path || !m->parent)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    return LOCO_OK;
}

/* What a /v1/models entry is, by the engine's kind: vLLM marks adapters
 * with their "parent", loco with its "loco" object. */
static enum loco_remote_model_kind entry_kind(const struct loco_remote *r, const cJSON *e)
{
    const char *parent = loco_json_string(e, "parent");
    if (r->kind == LOCO_REMOTE_LOCO) {
        const char *k = loco_json_string(cJSON_GetObjectItemCaseSensitive(e, "loco"), "kind");
        return k && !strcmp(k, "adapter")  ? LOCO_REMOTE_MODEL_ADAPTER
               : k && !strcmp(k, "routed") ? LOCO_REMOTE_MODEL_ROUTED
                                           : LOCO_REMOTE_MODEL_BASE;
    }
    return parent && parent[0] ? LOCO_REMOTE_MODEL_ADAPTER : LOCO_REMOTE_MODEL_BASE;
}

/* GET /v1/models as JSON (*j: the caller's). */
static int get_models_json(struct loco_remote *r, cJSON **j)
{
    struct remote_reply rep;
    int rc = remote_get(r, "/v1/models", &rep);
    if (rc == LOCO_OK && (rep.status < 200 || rep.status >= 300))
        rc = remote_http_error(r, "GET /v1/models", rep.status, rep.body.p, rep.body.len);
    *j = rc == LOCO_OK ? cJSON_ParseWithLength(rep.body.p ? rep.body.p : "", rep.body.len) : NULL;
    if (rc == LOCO_OK && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*j, "data"))) {
        char ex[200];
        excerpt(rep.body.p ? rep.body.p : "", rep.body.len, ex, sizeof ex);
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "engine %s: GET /v1/models is not an OpenAI model list "
                            "({\"data\": [...]}): \"%s\"",
                            r->url, ex);
        cJSON_Delete(*j);
        *j = NULL;
    }
    loco_sbuf_free(&rep.body);
    return rc;
}

static int add_openai_models(struct loco_remote *r, const cJSON *j)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "data"))
    {
        const char *id = loco_json_string(e, "id");
        if (!id)
            continue;
        int rc = model_add(r, id, loco_json_string(e, "root"), loco_json_string(e, "parent"),
                           entry_kind(r, e), -1);
        if (rc)
            return rc;
    }
    return LOCO_OK;
}

/* The file name of path without folders and without ".gguf". */
static void file_stem(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    snprintf(buf, cap, "%s", slash ? slash + 1 : path);
    size_t n = strlen(buf);
    if (n > 5 && !strcasecmp(buf + n - 5, ".gguf"))
        buf[n - 5] = '\0';
}

/* llama-server's adapters from GET /lora-adapters (already fetched). */
static int add_llama_adapters(struct loco_remote *r, const cJSON *list)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        double id = loco_json_number(e, "id");
        const char *path = loco_json_string(e, "path");
        if (!path || !(id >= 0 && id < INT32_MAX))
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "engine %s: GET /lora-adapters: an entry without a "
                                  "numeric \"id\" and a \"path\"",
                                  r->url);
        char stem[512];
        file_stem(path, stem, sizeof stem);
        int rc = model_add(r, stem, path, "", LOCO_REMOTE_MODEL_ADAPTER, (int32_t)id);
        if (rc)
            return rc;
    }
    return LOCO_OK;
}

/* GET /lora-adapters: *list the JSON array when the engine has the
 * endpoint (the caller's), NULL when it answered otherwise. */
static int get_lora_adapters(struct loco_remote *r, cJSON **list, long *status)
{
    struct remote_reply rep;
    *list = NULL;
    int rc = remote_get(r, "/lora-adapters", &rep);
    *status = rep.status;
    if (rc == LOCO_OK && rep.status >= 200 && rep.status < 300) {
        *list = cJSON_ParseWithLength(rep.body.p ? rep.body.p : "", rep.body.len);
        if (!cJSON_IsArray(*list)) {
            cJSON_Delete(*list);
            *list = NULL;
        }
    } else if (rc == LOCO_OK && (rep.status == 401 || rep.status == 403)) {
        rc = remote_http_error(r, "GET /lora-adapters", rep.status, rep.body.p, rep.body.len);
    }
    loco_sbuf_free(&rep.body);
    return rc;
}

/* llama-server: its model from /v1/models (when it lists one), then its
 * adapters. */
static int load_llama_models(struct loco_remote *r)
{
    cJSON *list = NULL, *j = NULL;
    long status = 0;
    int rc = get_lora_adapters(r, &list, &status);
    if (rc == LOCO_OK && !list)
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "engine %s does not list its adapters as llama-server does "
                            "(GET /lora-adapters: HTTP %ld, not a JSON list); is it another kind?",
                            r->url, status);
    bool named = rc == LOCO_OK && get_models_json(r, &j) == LOCO_OK; /* optional: the base's name */
    if (rc == LOCO_OK && !named)
        loco_error_clear();
    if (named)
        rc = add_openai_models(r, j);
    if (rc == LOCO_OK)
        rc = add_llama_adapters(r, list);
    cJSON_Delete(list);
    cJSON_Delete(j);
    return rc;
}

static int load_models(struct loco_remote *r)
{
    models_free(r);
    if (r->kind == LOCO_REMOTE_LLAMA_SERVER)
        return load_llama_models(r);
    cJSON *j = NULL;
    int rc = get_models_json(r, &j);
    if (rc == LOCO_OK)
        rc = add_openai_models(r, j);
    cJSON_Delete(j);
    return rc;
}

/* ---- finding the kind ---------------------------------------------------- */

/* loco serve's /health: {"status", "model", "slots", "running", "queued",
 * "engine": "loco"}. */
static bool is_loco_health(const struct remote_reply *rep)
{
    if (rep->loco_headers)
        return true;
    cJSON *j = rep->body.p ? cJSON_ParseWithLength(rep->body.p, rep->body.len) : NULL;
    const char *engine = loco_json_string(j, "engine");
    bool loco = (engine && !strcmp(engine, "loco")) ||
                (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "slots")) &&
                 cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "queued")));
    cJSON_Delete(j);
    return loco;
}

/* The kind of an OpenAI-compatible engine by its model list. */
static enum loco_remote_kind kind_of_models(const cJSON *j)
{
    const cJSON *e;
    enum loco_remote_kind k = LOCO_REMOTE_OPENAI;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "data"))
    {
        const char *owner = loco_json_string(e, "owned_by");
        if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(e, "loco")) ||
            (owner && !strcmp(owner, "locollm")))
            return LOCO_REMOTE_LOCO;
        if (owner && !strcmp(owner, "vllm"))
            k = LOCO_REMOTE_VLLM;
    } /* a llama-server ("llamacpp") without /lora-adapters serves no adapters: openai */
    return k;
}

static int detect(struct loco_remote *r)
{
    struct remote_reply rep;
    int rc = remote_get(r, "/health", &rep); /* a network failure ends it here */
    bool loco = rc == LOCO_OK && rep.status == 200 && is_loco_health(&rep);
    loco_sbuf_free(&rep.body);
    if (rc)
        return rc;
    if (loco) {
        r->kind = LOCO_REMOTE_LOCO;
        return LOCO_OK;
    }
    cJSON *list = NULL, *j = NULL;
    long status = 0;
    rc = get_lora_adapters(r, &list, &status);
    bool llama = list != NULL;
    cJSON_Delete(list);
    if (rc == LOCO_OK && llama) {
        r->kind = LOCO_REMOTE_LLAMA_SERVER;
        return LOCO_OK;
    }
    if (rc == LOCO_OK)
        rc = get_models_json(r, &j);
    if (rc == LOCO_OK)
        r->kind = kind_of_models(j);
    cJSON_Delete(j);
    return rc;
}

/* ---- the handle ---------------------------------------------------------- */

/* url without trailing '/'s into r->url, and without "/v1" into r->root. */
static int set_url(struct loco_remote *r, const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    r->url = strndup(url, n);
    if (n >= 3 && !strncmp(url + n - 3, "/v1", 3))
        n -= 3;
    r->root = strndup(url, n);
    return r->url && r->root ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

struct loco_remote *loco_remote_open(const char *url, enum loco_remote_kind kind,
                                     const char *api_key)
{
    if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))) {
        loco_error_set(LOCO_ERR_INVALID,
                       "engine URL '%s' is not http(s); give the server's address, "
                       "e.g. http://127.0.0.1:8000",
                       url ? url : "");
        return NULL;
    }
    if ((unsigned)kind > LOCO_REMOTE_LOCO) {
        loco_error_set(LOCO_ERR_INVALID, "unknown engine kind %d", (int)kind);
        return NULL;
    }
    if (loco_curl_init() != LOCO_OK)
        return NULL;
    struct loco_remote *r = calloc(1, sizeof *r);
    if (!r) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    *r = (struct loco_remote){.kind = kind,
                              .connect_s = DEFAULT_CONNECT_S,
                              .total_s = DEFAULT_TOTAL_S,
                              .max_bytes = DEFAULT_MAX_BYTES};
    int rc = set_url(r, url);
    if (rc == LOCO_OK && api_key && api_key[0] &&
        !(r->auth = loco_str_printf("Authorization: Bearer %s", api_key)))
        rc = LOCO_ERR_NOMEM;
    if (rc == LOCO_OK && kind == LOCO_REMOTE_AUTO)
        rc = detect(r);
    if (rc == LOCO_OK)
        rc = load_models(r);
    if (rc != LOCO_OK) {
        loco_remote_close(r);
        return NULL;
    }
    return r;
}

void loco_remote_close(struct loco_remote *r)
{
    if (!r)
        return;
    models_free(r);
    if (r->auth) /* the key does not linger in freed memory */
        memset(r->auth, 0, strlen(r->auth));
    free(r->auth);
    free(r->url);
    free(r->root);
    free(r);
}

void loco_remote_set_limits(struct loco_remote *r, int32_t connect_s, int32_t total_s,
                            size_t max_bytes)
{
    if (connect_s > 0)
        r->connect_s = connect_s;
    if (total_s >= 0)
        r->total_s = total_s;
    if (max_bytes > 0)
        r->max_bytes = max_bytes;
}

enum loco_remote_kind loco_remote_kind(const struct loco_remote *r)
{
    return r->kind;
}

const char *loco_remote_url(const struct loco_remote *r)
{
    return r->url;
}

size_t loco_remote_n_models(const struct loco_remote *r)
{
    return r->n_models;
}

const struct loco_remote_model *loco_remote_model(const struct loco_remote *r, size_t i)
{
    return i < r->n_models ? &r->models[i] : NULL;
}

int loco_remote_refresh(struct loco_remote *r)
{
    return load_models(r);
}
