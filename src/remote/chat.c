/*
 * chat.c - one streamed answer from another engine (loco/remote.h).
 *
 * POST /v1/chat/completions with "stream": true. A 2xx reply of type
 * text/event-stream is read as server-sent events (the WHATWG HTML
 * standard, "Server-sent events"): lines, "data:" lines joined into one
 * event, a blank line ending it. Each event is one chat.completion.chunk
 * (OpenAI's streaming shape):
 *
 *   data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}
 *   data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
 *   data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12}}
 *   data: [DONE]
 *
 * llama-server adds "timings" to its last chunk; an engine that fails
 * mid-answer sends an event with "error". A stream that ends before a
 * finish_reason or [DONE] was cut: the answer is incomplete, and that is
 * an error. Any other reply (an error status, or a 2xx JSON body from a
 * server that does not stream) is read whole, up to the byte limit.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json_get.h"
#include "remote_internal.h"

#define EVENT_MAX ((size_t)1 << 20) /* bytes of one event we hold at most */

/* The state of one streamed answer. */
struct stream {
    const struct loco_remote *r;
    CURL *curl;
    loco_token_fn on_token;
    void *user;
    struct remote_reply reply; /* status, headers; body: a reply that is not a stream */
    bool checked, sse;         /* the status and type were looked at; it is a stream */
    size_t received;           /* bytes so far, against r->max_bytes */
    struct loco_sbuf line;     /* the line being read */
    struct loco_sbuf event;    /* the data of the event being read */
    struct loco_sbuf text;     /* the answer */
    bool done, finished, stopped, too_big;
    int error; /* LOCO_OK, or what an event said (message set) */
    enum loco_stop_reason stop;
    int32_t n_deltas;
    double t0, t_first, t_last;
    double usage_prompt, usage_completion;                     /* NAN: not given */
    double eng_prompt_ms, eng_gen_ms, eng_prompt_n, eng_gen_n; /* llama-server's timings */
};

/* ---- one chunk ----------------------------------------------------------- */

static void take_usage(struct stream *s, const cJSON *j)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
    if (cJSON_IsObject(u)) {
        s->usage_prompt = loco_json_number(u, "prompt_tokens");
        s->usage_completion = loco_json_number(u, "completion_tokens");
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "timings");
    if (cJSON_IsObject(t)) {
        double cached = loco_json_number(t, "cache_n");
        s->eng_prompt_n = loco_json_number(t, "prompt_n") + (isnan(cached) ? 0 : cached);
        s->eng_prompt_ms = loco_json_number(t, "prompt_ms");
        s->eng_gen_n = loco_json_number(t, "predicted_n");
        s->eng_gen_ms = loco_json_number(t, "predicted_ms");
    }
}

/* A piece of the answer: kept, timed, and handed to the caller. */
static void take_text(struct stream *s, const char *piece)
{
    size_t len = strlen(piece);
    if (!len || s->stopped)
        return;
    loco_sbuf_add(&s->text, piece, len);
    s->t_last = loco_time_ms();
    if (!s->n_deltas++)
        s->t_first = s->t_last;
    if (s->on_token && !s->on_token(s->user, -1, piece, len, 0.0f))
        s->stopped = true;
}

static void take_finish(struct stream *s, const char *reason)
{
    s->finished = true;
    s->stop = !strcmp(reason, "length") ? LOCO_STOP_MAX_TOKENS : LOCO_STOP_EOG;
}

/* One chunk (or, from a server that does not stream, one whole
 * chat.completion: its "message" instead of "delta"). */
static void take_chunk(struct stream *s, const cJSON *j)
{
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const char *object = loco_json_string(j, "object");
    if ((err && !cJSON_IsNull(err)) || (object && !strcmp(object, "error"))) {
        char *text = cJSON_PrintUnformatted(j), why[512];
        remote_error_text(text, text ? strlen(text) : 0, why, sizeof why);
        free(text);
        s->error = loco_error_set(LOCO_ERR_NETWORK,
                                  "engine %s stopped the answer with an error: %s", s->r->url, why);
        return;
    }
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
    if (!delta)
        delta = cJSON_GetObjectItemCaseSensitive(choice, "message");
    const char *content = loco_json_string(delta, "content");
    if (content)
        take_text(s, content);
    const char *reason = loco_json_string(choice, "finish_reason");
    if (reason)
        take_finish(s, reason);
    take_usage(s, j);
}

/* ---- server-sent events --------------------------------------------------- */

/* An event larger than EVENT_MAX (its line or its data). */
static void too_large(struct stream *s)
{
    s->error = loco_error_set(LOCO_ERR_FORMAT, "engine %s sent an event larger than %zu bytes",
                              s->r->url, EVENT_MAX);
}

static void take_event(struct stream *s)
{
    const char *data = s->event.p ? s->event.p : "";
    if (s->event.failed) {
        too_large(s);
    } else if (!strcmp(data, "[DONE]")) {
        s->done = true;
    } else if (s->event.len) {
        cJSON *j = cJSON_ParseWithLength(data, s->event.len);
        if (cJSON_IsObject(j)) {
            take_chunk(s, j);
        } else {
            char ex[128];
            snprintf(ex, sizeof ex, "%.100s", data);
            s->error = loco_error_set(LOCO_ERR_FORMAT,
                                      "engine %s sent an event that is not a JSON object: \"%s\"",
                                      s->r->url, ex);
        }
        cJSON_Delete(j);
    }
    loco_sbuf_free(&s->event);
}

/* One line of the stream (without its end): a field, or the blank line
 * that ends an event. Only "data" matters here; comments (":") and the
 * other fields (event, id, retry) are passed over. */
static void take_line(struct stream *s, const char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (!len) {
        take_event(s);
        return;
    }
    if (len < 5 || strncmp(line, "data:", 5))
        return;
    size_t skip = len > 5 && line[5] == ' ' ? 6 : 5;
    if (s->event.len)
        loco_sbuf_add(&s->event, "\n", 1);
    loco_sbuf_add(&s->event, line + skip, len - skip);
}

/* Feed n bytes of the stream: complete lines are taken, the rest waits. */
static void feed(struct stream *s, const char *data, size_t n)
{
    while (n && !s->error && !s->stopped && !s->done) {
        const char *nl = memchr(data, '\n', n);
        size_t k = nl ? (size_t)(nl - data) : n;
        if (!nl) {
            loco_sbuf_add(&s->line, data, k);
            break;
        }
        if (s->line.len) { /* the end of a line begun in an earlier piece */
            loco_sbuf_add(&s->line, data, k);
            if (s->line.failed)
                break;
            take_line(s, s->line.p, s->line.len);
            loco_sbuf_free(&s->line);
        } else {
            take_line(s, data, k);
        }
        data += k + 1;
        n -= k + 1;
    }
    if (!s->error && s->line.failed)
        too_large(s);
}

/* curl's write callback: the first bytes decide between a stream and a
 * whole reply; 0 (curl stops) past the byte limit, on an error, or when
 * the caller asked to stop. */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *user)
{
    struct stream *s = user;
    size_t n = size * nmemb;
    if (!s->checked) {
        char *type = NULL;
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->reply.status);
        curl_easy_getinfo(s->curl, CURLINFO_CONTENT_TYPE, &type);
        s->sse = s->reply.status >= 200 && s->reply.status < 300 && type &&
                 !strncasecmp(type, "text/event-stream", 17);
        s->checked = true;
    }
    s->received += n;
    if (s->received > s->r->max_bytes) {
        s->too_big = true;
        return 0;
    }
    if (!s->sse) {
        loco_sbuf_add(&s->reply.body, data, n);
        return n;
    }
    feed(s, data, n);
    return s->error || s->stopped ? 0 : n;
}

/* ---- the answer ----------------------------------------------------------- */

/* A 2xx reply that is not a stream: one chat.completion. */
static int take_whole(struct stream *s)
{
    cJSON *j = cJSON_ParseWithLength(s->reply.body.p ? s->reply.body.p : "", s->reply.body.len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        char why[300];
        remote_error_text(s->reply.body.p, s->reply.body.len, why, sizeof why);
        return loco_error_set(LOCO_ERR_FORMAT,
                              "engine %s answered neither a stream nor a chat completion: \"%s\"",
                              s->r->url, why);
    }
    take_chunk(s, j);
    cJSON_Delete(j);
    if (!s->error && !s->finished)
        s->error = loco_error_set(LOCO_ERR_FORMAT,
                                  "engine %s: the chat completion has no "
                                  "choices[0].finish_reason",
                                  s->r->url);
    return s->error;
}

/* What the finished transfer means: LOCO_OK when the answer is whole (or
 * the caller stopped it). */
static int outcome(struct stream *s, CURLcode cc, const char *errbuf)
{
    if (s->stopped)
        return LOCO_OK;
    if (s->too_big)
        return loco_error_set(LOCO_ERR_NOMEM, "engine %s: the reply passed %zu bytes; stopped",
                              s->r->url, s->r->max_bytes);
    if (s->error)
        return s->error;
    if (cc != CURLE_OK)
        return loco_error_set(LOCO_ERR_NETWORK, "engine %s: POST /v1/chat/completions: %s%s%s%s",
                              s->r->url, curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf,
                              s->n_deltas ? " (the answer was cut)" : "");
    if (s->reply.status < 200 || s->reply.status >= 300)
        return remote_http_error(s->r, "POST /v1/chat/completions", s->reply.status,
                                 s->reply.body.p, s->reply.body.len);
    if (!s->sse)
        return take_whole(s);
    if (!s->done && !s->finished)
        return loco_error_set(LOCO_ERR_NETWORK,
                              "engine %s: the stream ended before the answer did (%d pieces, "
                              "no finish_reason, no [DONE]): the engine stopped or the "
                              "connection dropped",
                              s->r->url, (int)s->n_deltas);
    return LOCO_OK;
}

/* A count the engine gave, or `fallback` when it gave none (or nonsense). */
static int32_t count_of(double v, int32_t fallback)
{
    return v >= 0 && v <= INT32_MAX ? (int32_t)v : fallback;
}

static int fill_result(struct stream *s, struct loco_generate_result *res)
{
    char *text = loco_sbuf_finish(&s->text);
    if (!text)
        return loco_sbuf_status(&s->text);
    double now = loco_time_ms();
    /* usage first (every OpenAI-compatible engine), then llama-server's
     * timings, then what the client saw */
    int32_t n_gen = count_of(s->eng_gen_n, s->n_deltas);
    *res = (struct loco_generate_result){
        .n_prompt = count_of(s->usage_prompt, count_of(s->eng_prompt_n, 0)),
        .n_generated = count_of(s->usage_completion, n_gen),
        .prompt_ms = s->eng_prompt_ms >= 0 ? s->eng_prompt_ms
                     : s->n_deltas         ? s->t_first - s->t0
                                           : now - s->t0,
        .generate_ms = s->eng_gen_ms >= 0 ? s->eng_gen_ms
                       : s->n_deltas      ? s->t_last - s->t_first
                                          : 0,
        .stop = s->stopped ? LOCO_STOP_CALLBACK : s->stop,
        .text = text,
    };
    return LOCO_OK;
}

static void stream_free(struct stream *s)
{
    loco_sbuf_free(&s->reply.body);
    loco_sbuf_free(&s->line);
    loco_sbuf_free(&s->event);
    loco_sbuf_free(&s->text);
}

/* POST body and read the answer into s. */
static int post(struct stream *s, const char *body)
{
    struct curl_slist *h = NULL;
    s->curl = remote_curl(s->r, "/v1/chat/completions", &h);
    if (!s->curl)
        return loco_error_set(LOCO_ERR_NOMEM, "engine %s: cannot make a curl handle", s->r->url);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:"); /* a long conversation waits for no 100 Continue */
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, remote_header_cb);
    curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, &s->reply);
    s->t0 = loco_time_ms();
    CURLcode cc = curl_easy_perform(s->curl);
    if (!s->checked)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->reply.status);
    curl_easy_cleanup(s->curl);
    curl_slist_free_all(h);
    s->curl = NULL;
    return outcome(s, cc, errbuf);
}

int loco_remote_chat(struct loco_remote *r, const struct loco_remote_request *req,
                     loco_token_fn on_token, void *user, struct loco_generate_result *res)
{
    *res = (struct loco_generate_result){0};
    char *body = NULL;
    int rc = remote_request_body(r, req, &body);
    if (rc)
        return rc;
    struct stream s = {.r = r,
                       .on_token = on_token,
                       .user = user,
                       .reply = {.body = {.max = r->max_bytes}},
                       .line = {.max = EVENT_MAX},
                       .event = {.max = EVENT_MAX},
                       .text = {.max = r->max_bytes},
                       .usage_prompt = NAN,
                       .usage_completion = NAN,
                       .eng_prompt_ms = NAN,
                       .eng_gen_ms = NAN,
                       .eng_prompt_n = NAN,
                       .eng_gen_n = NAN};
    rc = post(&s, body);
    free(body);
    if (rc == LOCO_OK)
        rc = fill_result(&s, res);
    stream_free(&s);
    return rc;
}
