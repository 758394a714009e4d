/*
 * judge_http.c - one chat completion from an OpenAI-compatible endpoint
 * (POST /v1/chat/completions, as vLLM, llama-server, Ollama and OpenAI
 * serve it), for the judge (see loco/judge.h).
 *
 * Nothing here runs unless the user named a URL. The request is small
 * JSON; the reply is read into memory up to a cap; a timeout, 429 or 5xx
 * is tried again after a growing pause, anything else fails at once with
 * the HTTP status and the server's own error message.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/sbuf.h"
#include "core/util.h"
#include "loco/judge.h"

#define REPLY_CAP ((size_t)4 << 20) /* bytes of a reply we read at most */

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

char *loco_judge_chat_url(const char *url)
{
    if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))) {
        loco_error_set(LOCO_ERR_INVALID,
                       "judge URL '%s' is not http(s); give the endpoint, "
                       "e.g. http://localhost:8080/v1",
                       url ? url : "");
        return NULL;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    char *base = strndup(url, n), *out = NULL;
    if (!base)
        return NULL;
    const char *tail = ends_with(base, "/chat/completions") ? ""
                       : ends_with(base, "/v1")             ? "/chat/completions"
                                                            : "/v1/chat/completions";
    if (asprintf(&out, "%s%s", base, tail) < 0)
        out = NULL;
    free(base);
    return out;
}

/* The first bytes of a body, printable, for messages. */
static void excerpt(const char *body, size_t len, char *buf, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < cap && k < 120; i++)
        buf[k++] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : ' ';
    buf[k] = '\0';
}

int loco_judge_completion_content(const char *body, size_t len, char **content)
{
    char ex[128];
    excerpt(body ? body : "", body ? len : 0, ex, sizeof ex);
    cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
    if (!j)
        return loco_error_set(LOCO_ERR_FORMAT, "the judge's reply is not JSON: \"%s\"", ex);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(msg, "content");
    int rc = LOCO_OK;
    if (err && !cJSON_IsNull(err)) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
        rc = loco_error_set(LOCO_ERR_FORMAT, "the judge answered with an error: %s",
                            cJSON_IsString(m) ? m->valuestring : ex);
    } else if (!cJSON_IsString(text)) {
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "the judge's reply has no "
                            "choices[0].message.content string: \"%s\"",
                            ex);
    } else if (!(*content = strdup(text->valuestring))) {
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(j);
    return rc;
}

static char *request_body(const struct loco_judge_params *p, const struct loco_chat_msg *msgs,
                          size_t n_msgs, uint64_t seed)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", p->model ? p->model : "");
    cJSON *arr = cJSON_AddArrayToObject(o, "messages");
    for (size_t i = 0; i < n_msgs; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", msgs[i].role);
        cJSON_AddStringToObject(m, "content", msgs[i].content);
        cJSON_AddItemToArray(arr, m);
    }
    cJSON_AddNumberToObject(o, "temperature", p->temperature);
    cJSON_AddNumberToObject(o, "max_tokens", p->max_tokens);
    /* JSON numbers are doubles: keep the seed within 2^53 */
    cJSON_AddNumberToObject(o, "seed", (double)(seed & ((1ULL << 53) - 1)));
    cJSON_AddBoolToObject(o, "stream", false);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* curl's write callback: the reply into a core/sbuf.h buffer of at most
 * REPLY_CAP bytes; 0 (curl stops) when it is full or memory ran out. */
static size_t sink_write(char *data, size_t size, size_t nmemb, void *user)
{
    struct loco_sbuf *s = user;
    size_t n = size * nmemb;
    loco_sbuf_add(s, data, n);
    return s->failed ? 0 : n;
}

/* What an error body says: an OpenAI-style {"error": {"message": ...}} (or
 * {"error": "..."}) says it best, else the body's first bytes. */
static void server_error(const char *body, size_t len, char *buf, size_t cap)
{
    cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *m = cJSON_IsString(err) ? err : cJSON_GetObjectItemCaseSensitive(err, "message");
    if (cJSON_IsString(m))
        snprintf(buf, cap, "%s", m->valuestring);
    else
        excerpt(body ? body : "", body ? len : 0, buf, cap);
    cJSON_Delete(j);
}

/* One POST. *http receives the status (0 when there was no answer). */
static int post_once(const struct loco_judge_params *p, const char *url, const char *body,
                     struct loco_sbuf *s, long *http, bool *retryable)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    if (!c)
        return loco_error_set(LOCO_ERR_NOMEM, "judge %s: cannot make a curl handle", url);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[1024];
    if (p->api_key && p->api_key[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", p->api_key);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, p->timeout_s > 0 ? p->timeout_s : 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "locollm/0.1 (+loco eval judge)");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    CURLcode cc = curl_easy_perform(c);
    *http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    memset(auth, 0, sizeof auth);
    int rc = LOCO_OK;
    if (cc != CURLE_OK) {
        *retryable = cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_COULDNT_CONNECT ||
                     cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING;
        rc = loco_error_set(LOCO_ERR_NETWORK, "judge %s: %s%s%s", url,
                            s->too_long ? "the reply is larger than 4 MiB" : curl_easy_strerror(cc),
                            errbuf[0] ? ": " : "", errbuf);
    } else if (*http < 200 || *http >= 300) {
        *retryable = *http == 429 || *http >= 500;
        char why[300];
        server_error(s->p, s->len, why, sizeof why);
        rc = loco_error_set(LOCO_ERR_NETWORK, "judge %s: HTTP %ld: %s%s", url, *http, why,
                            *http == 401 || *http == 403 ? " (set LOCO_JUDGE_API_KEY)" : "");
    }
    return rc;
}

int loco_judge_http_chat(const struct loco_judge_params *p, const struct loco_chat_msg *msgs,
                         size_t n_msgs, uint64_t seed, char **reply)
{
    int rc = loco_curl_init();
    if (rc)
        return rc;
    char *url = loco_judge_chat_url(p->url);
    if (!url)
        return LOCO_ERR_INVALID;
    char *body = request_body(p, msgs, n_msgs, seed);
    rc = body ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (uint32_t attempt = 0; !rc; attempt++) {
        struct loco_sbuf s = {.max = REPLY_CAP};
        long http = 0;
        bool retryable = false;
        rc = post_once(p, url, body, &s, &http, &retryable);
        if (!rc) {
            rc = loco_judge_completion_content(s.p, s.len, reply);
            if (rc)
                loco_error_prefix("judge %s", url);
            loco_sbuf_free(&s);
            break;
        }
        loco_sbuf_free(&s);
        if (!retryable || attempt >= p->retries)
            break;
        sleep(1u << (attempt < 5 ? attempt : 5));
        rc = LOCO_OK;
    }
    free(body);
    free(url);
    return rc;
}
