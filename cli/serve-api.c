/*
 * serve-api.c - the answers of `loco serve`: an OpenAI or Ollama request
 * becomes a routed prompt, one scheduler job per choice, and JSON back:
 * whole, or streamed as server-sent events (OpenAI) or JSON lines (Ollama).
 *
 * A request's state (struct serve_stream) is shared by the connection's
 * thread and the scheduler's: the scheduler appends tokens and reports the
 * end under the state's mutex; the connection's thread waits on its
 * condition, notices a client that left, and frees the state only after
 * the scheduler has reported every job.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli-strategy.h"
#include "loco/report.h"
#include "commands.h"
#include "serve.h"

#define MAX_CHOICES 8

/* A growing byte buffer; on a failed allocation it keeps what it had and
 * marks itself failed (the answer then ends early rather than corrupt). */
struct buf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    buf_add(b, s, (size_t)n);
    free(s);
}

struct choice {
    struct serve_stream *g;
    int index;
    uint64_t job;
    char *text;
    size_t len, cap;
    size_t sent;        /* bytes already streamed */
    bool done, head_sent, final_sent, stop_hit;
    int http_status;    /* a failed answer's status (0: 500) */
    char error[256];    /* and its message ("" when none) */
    int status;
    enum loco_stop_reason stop;
    int32_t n_prompt, n_cached, n_gen;
    double first_ms;    /* first token, from the request's arrival; < 0: none yet */
    double prompt_ms, gen_ms;
};

struct serve_stream {
    struct server *srv;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    double t0;
    enum loco_api_kind kind;
    bool streaming, include_usage;
    int n;
    struct choice ch[MAX_CHOICES];
    int n_done;
    bool cancelled;     /* the client left or the stream ended early */
    char *stop[LOCO_API_MAX_STOP];
    size_t n_stop;
    /* what the answer says about itself */
    char id[48];
    long long created;
    char model[160];
    char *loco_json;    /* the "loco" extension object, printed */
    char answered_by[256]; /* adapter label for metrics and the log ("base" for none) */
    int64_t exchange;
    /* streaming */
    bool tail_sent, end;
    double checked;     /* when the client was last checked for (loco_time_ms) */
    struct buf out;
    size_t out_off;
};

/* ---- small helpers ---------------------------------------------------------- */

void serve_reply_header(struct serve_reply *r, const char *name, const char *value)
{
    if (r->n_headers >= (int)(sizeof r->headers / sizeof *r->headers))
        return;
    snprintf(r->headers[r->n_headers][0], sizeof r->headers[0][0], "%s", name);
    /* header values stay printable ASCII: anything else becomes '?' */
    char *v = r->headers[r->n_headers][1];
    size_t k = 0;
    for (; value[k] && k + 1 < sizeof r->headers[0][1]; k++)
        v[k] = value[k] >= 0x20 && value[k] < 0x7f ? value[k] : '?';
    v[k] = '\0';
    r->n_headers++;
}

void serve_reply_error(struct serve_reply *r, const struct loco_api_error *err)
{
    free(r->body);
    r->status = err->status;
    r->content_type = "application/json";
    r->body = loco_api_error_json(err);
    r->len = r->body ? strlen(r->body) : 0;
    r->stream = NULL;
    if (err->status == 429 || err->status == 503)
        serve_reply_header(r, "Retry-After", "1");
}

static void reply_json(struct serve_reply *r, int status, cJSON *j)
{
    r->status = status;
    r->content_type = "application/json";
    r->body = cJSON_PrintUnformatted(j);
    r->len = r->body ? strlen(r->body) : 0;
    if (!r->body)
        r->status = 500;
    cJSON_Delete(j);
}

bool serve_client_gone(int fd)
{
    if (fd < 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return false;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL))
        return true;
    char c;
    ssize_t got = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* The longest prefix of s[0, len) that does not end inside a UTF-8
 * sequence (a token may carry half a character). */
static size_t utf8_whole(const char *s, size_t len)
{
    size_t back = 0;
    while (back < len && back < 4 && ((unsigned char)s[len - 1 - back] & 0xc0) == 0x80)
        back++;
    if (back == len)
        return len;
    unsigned char lead = (unsigned char)s[len - 1 - back];
    size_t need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
    return need > back ? len - 1 - back : len;
}

/* s[0, len) with every byte that is not part of well-formed UTF-8 replaced
 * by U+FFFD, malloc'd (JSON must carry valid text). */
static char *utf8_clean(const char *s, size_t len)
{
    struct buf b = {0};
    size_t i = 0;
    while (i < len) {
        size_t n = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (i + n <= len && loco_api_utf8_valid(s + i, n)) {
            buf_add(&b, s + i, n);
            i += n;
        } else {
            buf_adds(&b, "\xef\xbf\xbd");
            i++;
        }
    }
    buf_add(&b, "", 0);
    if (b.failed || !b.p) {
        free(b.p);
        return strdup("");
    }
    return b.p;
}

static const char *finish_reason(const struct choice *c)
{
    if (c->stop_hit || c->stop == LOCO_STOP_EOG || c->stop == LOCO_STOP_CALLBACK)
        return "stop";
    return "length";
}

/* The error of a failed choice: its own status and message (the engine's,
 * with --engine), else a 500 naming the status. */
static void choice_error(const struct choice *c, struct loco_api_error *err)
{
    if (c->error[0])
        loco_api_fail(err, c->status, c->http_status ? c->http_status : 500, "", "%s", c->error);
    else
        loco_api_fail(err, c->status, 500, "", "the answer failed: %s",
                      loco_status_name(c->status));
}

static void iso_time(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%09ldZ", ts.tv_nsec);
}

/* ---- scheduler callbacks (the scheduler's thread) -------------------------- */

static bool on_token(void *user, int32_t token, const char *piece, size_t len, float lp)
{
    (void)token, (void)lp;
    struct choice *c = user;
    struct serve_stream *g = c->g;
    pthread_mutex_lock(&g->mu);
    bool go_on = !g->cancelled && !atomic_load(&g->srv->abort);
    if (c->first_ms < 0)
        c->first_ms = loco_time_ms() - g->t0;
    if (c->len + len + 1 > c->cap) {
        size_t cap = (c->cap ? c->cap * 2 : 256) + len;
        char *t = realloc(c->text, cap);
        if (!t) {
            go_on = false;
            len = 0;
        } else {
            c->text = t;
            c->cap = cap;
        }
    }
    if (len) {
        memcpy(c->text + c->len, piece, len);
        c->len += len;
        c->text[c->len] = '\0';
    }
    /* a stop string ends the answer before it: the earliest of them, when
     * the new piece completes several */
    char *first = NULL;
    for (size_t s = 0; s < g->n_stop; s++) {
        size_t sl = strlen(g->stop[s]);
        size_t from = c->len > len + sl ? c->len - len - sl : 0;
        char *hit = c->len >= sl ? memmem(c->text + from, c->len - from, g->stop[s], sl) : NULL;
        if (hit && (!first || hit < first))
            first = hit;
    }
    if (first) {
        c->len = (size_t)(first - c->text);
        c->text[c->len] = '\0';
        c->stop_hit = true;
        go_on = false;
    }
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return go_on;
}

static void on_done(void *user, int status, struct loco_generate_result *res)
{
    struct choice *c = user;
    struct serve_stream *g = c->g;
    pthread_mutex_lock(&g->mu);
    c->status = status;
    if (status == LOCO_OK) {
        c->stop = res->stop;
        c->n_prompt = res->n_prompt;
        c->n_cached = res->n_cached;
        c->n_gen = res->n_generated;
        c->prompt_ms = res->prompt_ms;
        c->gen_ms = res->generate_ms;
    }
    c->done = true;
    g->n_done++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    loco_generate_result_free(res);
}

/* ---- the end of a request: metrics, log, free -------------------------------- */

static void record(struct serve_stream *g)
{
    struct server *srv = g->srv;
    const struct choice *c = &g->ch[0];
    double total_s = (loco_time_ms() - g->t0) / 1e3;
    loco_metrics_answer(srv->metrics, g->answered_by, c->n_prompt, c->n_gen,
                        c->first_ms >= 0 ? c->first_ms / 1e3 : -1, total_s);
    if (!srv->log || g->exchange <= 0)
        return;
    char *answer = utf8_clean(c->text ? c->text : "", c->len);
    struct loco_exchange x = {.command = "serve",
                              .adapter = strcmp(g->answered_by, "base") ? g->answered_by : "",
                              .answer = answer,
                              .model = srv->e.path,
                              .model_sha256 = "",
                              .n_prompt = c->n_prompt,
                              .n_generated = c->n_gen,
                              .first_token_ms = c->first_ms,
                              .total_ms = total_s * 1e3};
    pthread_mutex_lock(&srv->mu);
    if (loco_exchlog_finish(srv->log, g->exchange, &x) != LOCO_OK)
        cli_fail("cannot write the exchange log");
    pthread_mutex_unlock(&srv->mu);
    free(answer);
}

/* Cancel what still runs and wait until the scheduler has reported every
 * job (it may still call back until then). Called with g->mu held. */
static void settle(struct serve_stream *g, int n_submitted)
{
    if (g->n_done < n_submitted) {
        g->cancelled = true;
        for (int i = 0; i < n_submitted && g->srv->sched; i++)
            if (!g->ch[i].done)
                loco_sched_cancel(g->srv->sched, g->ch[i].job);
    }
    while (g->n_done < n_submitted)
        pthread_cond_wait(&g->cv, &g->mu);
}

/* Wait for news from the scheduler (g->mu held), at most until the next
 * check of the client: every 200 ms, however often tokens wake the wait,
 * the client's socket is looked at. When it has gone, its requests are
 * cancelled and settled and true is returned. */
static bool wait_or_gone(struct serve_stream *g)
{
    double now = loco_time_ms(), next = g->checked + 200;
    if (now < next) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = (long)((next - now) * 1e6);
        until.tv_sec += ns / 1000000000L;
        until.tv_nsec += ns % 1000000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &until);
        if (loco_time_ms() < next)
            return false;
    }
    g->checked = loco_time_ms();
    if (!serve_client_gone(g->fd))
        return false;
    settle(g, g->n);
    return true;
}

static void stream_free(struct serve_stream *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->ch[i].text);
    for (size_t s = 0; s < g->n_stop; s++)
        free(g->stop[s]);
    free(g->loco_json);
    free(g->out.p);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void serve_stream_free(struct serve_stream *g)
{
    pthread_mutex_lock(&g->mu);
    settle(g, g->n);
    pthread_mutex_unlock(&g->mu);
    record(g);
    stream_free(g);
}

/* ---- building answers ---------------------------------------------------------- */

static cJSON *usage_json(const struct serve_stream *g)
{
    int64_t gen = 0;
    for (int i = 0; i < g->n; i++)
        gen += g->ch[i].n_gen;
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", g->ch[0].n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)gen);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(g->ch[0].n_prompt + gen));
    if (g->ch[0].n_cached > 0) {
        cJSON *d = cJSON_AddObjectToObject(u, "prompt_tokens_details");
        cJSON_AddNumberToObject(d, "cached_tokens", g->ch[0].n_cached);
    }
    return u;
}

static void add_loco(cJSON *obj, const struct serve_stream *g)
{
    cJSON *l = g->loco_json ? cJSON_Parse(g->loco_json) : NULL;
    if (l)
        cJSON_AddItemToObject(obj, "loco", l);
}

static bool is_ollama(enum loco_api_kind k)
{
    return k == LOCO_API_OLLAMA_CHAT || k == LOCO_API_OLLAMA_GENERATE;
}

/* Ollama's closing fields: counts and durations in nanoseconds. */
static void ollama_tail(cJSON *j, const struct serve_stream *g)
{
    const struct choice *c = &g->ch[0];
    cJSON_AddStringToObject(j, "done_reason", finish_reason(c));
    cJSON_AddNumberToObject(j, "total_duration", (double)(long long)((loco_time_ms() - g->t0) * 1e6));
    cJSON_AddNumberToObject(j, "load_duration", 0);
    cJSON_AddNumberToObject(j, "prompt_eval_count", c->n_prompt);
    cJSON_AddNumberToObject(j, "prompt_eval_duration", (double)(long long)(c->prompt_ms * 1e6));
    cJSON_AddNumberToObject(j, "eval_count", c->n_gen);
    cJSON_AddNumberToObject(j, "eval_duration", (double)(long long)(c->gen_ms * 1e6));
}

/* The whole answer (not streamed). */
static cJSON *whole_answer(const struct serve_stream *g)
{
    cJSON *j = cJSON_CreateObject();
    if (is_ollama(g->kind)) {
        char when[64];
        iso_time(when, sizeof when);
        char *text = utf8_clean(g->ch[0].text ? g->ch[0].text : "", g->ch[0].len);
        cJSON_AddStringToObject(j, "model", g->model);
        cJSON_AddStringToObject(j, "created_at", when);
        if (g->kind == LOCO_API_OLLAMA_CHAT) {
            cJSON *m = cJSON_AddObjectToObject(j, "message");
            cJSON_AddStringToObject(m, "role", "assistant");
            cJSON_AddStringToObject(m, "content", text);
        } else {
            cJSON_AddStringToObject(j, "response", text);
        }
        free(text);
        cJSON_AddTrueToObject(j, "done");
        ollama_tail(j, g);
        add_loco(j, g);
        return j;
    }
    bool chat = g->kind == LOCO_API_CHAT;
    cJSON_AddStringToObject(j, "id", g->id);
    cJSON_AddStringToObject(j, "object", chat ? "chat.completion" : "text_completion");
    cJSON_AddNumberToObject(j, "created", (double)g->created);
    cJSON_AddStringToObject(j, "model", g->model);
    cJSON *choices = cJSON_AddArrayToObject(j, "choices");
    for (int i = 0; i < g->n; i++) {
        const struct choice *c = &g->ch[i];
        char *text = utf8_clean(c->text ? c->text : "", c->len);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", i);
        if (chat) {
            cJSON *m = cJSON_AddObjectToObject(o, "message");
            cJSON_AddStringToObject(m, "role", "assistant");
            cJSON_AddStringToObject(m, "content", text);
        } else {
            cJSON_AddStringToObject(o, "text", text);
        }
        cJSON_AddNullToObject(o, "logprobs");
        cJSON_AddStringToObject(o, "finish_reason", finish_reason(c));
        cJSON_AddItemToArray(choices, o);
        free(text);
    }
    cJSON_AddItemToObject(j, "usage", usage_json(g));
    add_loco(j, g);
    return j;
}

/* A streamed piece of choice c (text may be NULL: the opening or closing
 * chunk) as one event into g->out. */
static void put_event(struct serve_stream *g, const struct choice *c, const char *text,
                      const char *finish, bool head)
{
    cJSON *j = cJSON_CreateObject();
    if (is_ollama(g->kind)) {
        char when[64];
        iso_time(when, sizeof when);
        cJSON_AddStringToObject(j, "model", g->model);
        cJSON_AddStringToObject(j, "created_at", when);
        if (g->kind == LOCO_API_OLLAMA_CHAT) {
            cJSON *m = cJSON_AddObjectToObject(j, "message");
            cJSON_AddStringToObject(m, "role", "assistant");
            cJSON_AddStringToObject(m, "content", text ? text : "");
        } else {
            cJSON_AddStringToObject(j, "response", text ? text : "");
        }
        if (finish) {
            cJSON_AddTrueToObject(j, "done");
            ollama_tail(j, g);
        } else {
            cJSON_AddFalseToObject(j, "done");
        }
        if (head)
            add_loco(j, g);
        char *s = cJSON_PrintUnformatted(j);
        if (s) {
            buf_adds(&g->out, s);
            buf_adds(&g->out, "\n");
        }
        free(s);
        cJSON_Delete(j);
        return;
    }
    bool chat = g->kind == LOCO_API_CHAT;
    cJSON_AddStringToObject(j, "id", g->id);
    cJSON_AddStringToObject(j, "object", chat ? "chat.completion.chunk" : "text_completion");
    cJSON_AddNumberToObject(j, "created", (double)g->created);
    cJSON_AddStringToObject(j, "model", g->model);
    cJSON *choices = cJSON_AddArrayToObject(j, "choices");
    if (c) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", c->index);
        if (chat) {
            cJSON *d = cJSON_AddObjectToObject(o, "delta");
            if (head)
                cJSON_AddStringToObject(d, "role", "assistant");
            if (text || head)
                cJSON_AddStringToObject(d, "content", text ? text : "");
        } else {
            cJSON_AddStringToObject(o, "text", text ? text : "");
        }
        cJSON_AddNullToObject(o, "logprobs");
        if (finish)
            cJSON_AddStringToObject(o, "finish_reason", finish);
        else
            cJSON_AddNullToObject(o, "finish_reason");
        cJSON_AddItemToArray(choices, o);
    } else {
        cJSON_AddItemToObject(j, "usage", usage_json(g));
    }
    if (head && (!c || c->index == 0))
        add_loco(j, g);
    char *s = cJSON_PrintUnformatted(j);
    if (s) {
        buf_adds(&g->out, "data: ");
        buf_adds(&g->out, s);
        buf_adds(&g->out, "\n\n");
    }
    free(s);
    cJSON_Delete(j);
}

/* How many bytes of c's text may be streamed now: all once it is done, else
 * not a possible beginning of a stop string nor half a character. */
static size_t streamable(const struct serve_stream *g, const struct choice *c)
{
    if (c->done)
        return c->len;
    size_t hold = 0;
    for (size_t s = 0; s < g->n_stop; s++) {
        size_t sl = strlen(g->stop[s]);
        for (size_t k = sl - 1; k > hold; k--)
            if (k <= c->len && !memcmp(c->text + c->len - k, g->stop[s], k)) {
                hold = k;
                break;
            }
    }
    return utf8_whole(c->text, c->len - hold);
}

/* Put every event that is ready into g->out (mu held). */
static void stream_events(struct serve_stream *g)
{
    bool all_final = true;
    for (int i = 0; i < g->n; i++) {
        struct choice *c = &g->ch[i];
        if (!c->head_sent && (i == 0 || !is_ollama(g->kind))) {
            /* the choice's first chunk: the role (and, choice 0, the loco object) */
            put_event(g, c, is_ollama(g->kind) ? "" : NULL, NULL, true);
            c->head_sent = true;
        }
        size_t upto = c->text ? streamable(g, c) : 0;
        if (upto > c->sent) {
            char *text = utf8_clean(c->text + c->sent, upto - c->sent);
            put_event(g, c, text, NULL, false);
            free(text);
            c->sent = upto;
        }
        if (c->done && !c->final_sent) {
            if (c->status != LOCO_OK) {
                struct loco_api_error err;
                choice_error(c, &err);
                char *e = loco_api_error_json(&err);
                if (e && !is_ollama(g->kind))
                    buf_printf(&g->out, "data: %s\n\n", e);
                else if (e)
                    buf_printf(&g->out, "%s\n", e);
                free(e);
            } else if (!is_ollama(g->kind) || g->n == 1) {
                put_event(g, c, is_ollama(g->kind) ? "" : NULL, finish_reason(c), false);
            }
            c->final_sent = true;
        }
        all_final &= c->final_sent;
    }
    if (all_final && !g->tail_sent) {
        if (!is_ollama(g->kind)) {
            if (g->include_usage)
                put_event(g, NULL, NULL, NULL, false);
            buf_adds(&g->out, "data: [DONE]\n\n");
        }
        g->tail_sent = true;
    }
}

long serve_stream_read(struct serve_stream *g, char *buf, size_t cap)
{
    pthread_mutex_lock(&g->mu);
    for (;;) {
        size_t have = g->out.len - g->out_off;
        if (have > 0) {
            size_t n = have < cap ? have : cap;
            memcpy(buf, g->out.p + g->out_off, n);
            g->out_off += n;
            if (g->out_off == g->out.len) {
                g->out.len = g->out_off = 0;
                g->out.p[0] = '\0';
            }
            pthread_mutex_unlock(&g->mu);
            return (long)n;
        }
        if (g->tail_sent) {
            pthread_mutex_unlock(&g->mu);
            return 0;
        }
        size_t before = g->out.len;
        stream_events(g);
        if (g->out.len > before || g->tail_sent)
            continue;
        if (wait_or_gone(g)) {
            pthread_mutex_unlock(&g->mu);
            return -1;
        }
    }
}

/* ---- which model answers ------------------------------------------------------- */

struct target {
    bool routed;
    struct loco_route_decision d; /* when routed */
    struct loco_adapter_ref refs[LOCO_MAX_SET_ADAPTERS];
    char names[LOCO_MAX_SET_ADAPTERS][160]; /* the registry's (or the client's) names */
    int n_refs;
};

/* Adapter names a client may give: letters, digits, '.', '_', '-', not
 * starting with '.' (no paths: a client must not make the server read a
 * file of its choosing). */
static bool plain_name(const char *s, size_t len)
{
    if (len == 0 || len > 127 || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* The registry adapter NAME (project or user overlay: what `loco adapters
 * list` shows, installs included), loaded once (srv->mu held). Only
 * registry adapters: the files a client can make the server load, and so
 * the memory it can make it take, are the ones the registry lists. NULL
 * when there is none by that name or it does not load for this model; err
 * says which. */
static struct loco_adapter *load_named(struct server *srv, const char *name,
                                       struct loco_api_error *err)
{
    const struct loco_registry_adapter *ra = srv->cr.reg ? loco_registry_find(srv->cr.reg, name)
                                                          : NULL;
    if (!ra || !ra->path[0]) {
        loco_api_fail(err, LOCO_ERR_NOT_FOUND, 404, "model",
                      "the model 'loco:%s' does not exist: the registry has no adapter named %s "
                      "(GET /v1/models lists them; loco adapters install adds one)",
                      name, name);
        return NULL;
    }
    struct loco_adapter *a = cli_engine_load_adapter(&srv->e, ra->path);
    if (!a)
        loco_api_fail(err, LOCO_ERR_INVALID, 400, "model", "the adapter %s cannot be used: %s",
                      name, loco_error_message());
    return a;
}

/* "loco:a+b:0.5" -> refs. */
static int parse_set(struct server *srv, const char *spec, struct target *t,
                     struct loco_api_error *err)
{
    const char *at = spec;
    while (*at) {
        size_t len = strcspn(at, "+");
        if (t->n_refs == LOCO_MAX_SET_ADAPTERS)
            return loco_api_fail(err, LOCO_ERR_RANGE, 400, "model",
                                 "at most %d adapters in a set", LOCO_MAX_SET_ADAPTERS);
        char item[160], *colon;
        if (len >= sizeof item)
            return loco_api_fail(err, LOCO_ERR_RANGE, 400, "model", "an adapter name is too long");
        memcpy(item, at, len);
        item[len] = '\0';
        float scale = 1.0f;
        if ((colon = strchr(item, ':'))) {
            char *end;
            errno = 0;
            double v = strtod(colon + 1, &end);
            if (errno || end == colon + 1 || *end || !(v >= -8 && v <= 8))
                return loco_api_fail(err, LOCO_ERR_INVALID, 400, "model",
                                     "'%s': the scale after ':' must be a number in [-8, 8]",
                                     item);
            scale = (float)v;
            *colon = '\0';
        }
        if (!plain_name(item, strlen(item)))
            return loco_api_fail(err, LOCO_ERR_INVALID, 400, "model",
                                 "'%s' is not an adapter name (letters, digits, '.', '_', '-')",
                                 item);
        struct loco_adapter *a = load_named(srv, item, err);
        if (!a)
            return err->status == 404 ? LOCO_ERR_NOT_FOUND : LOCO_ERR_INVALID;
        snprintf(t->names[t->n_refs], sizeof t->names[0], "%s", item);
        t->refs[t->n_refs++] = (struct loco_adapter_ref){a, scale};
        at += len;
        if (*at == '+' && !*++at)
            return loco_api_fail(err, LOCO_ERR_INVALID, 400, "model", "a '+' with no adapter after it");
    }
    return LOCO_OK;
}

static bool use_routed(void *user, const char *path)
{
    void **ctx = user;
    struct server *srv = ctx[0];
    struct target *t = ctx[1];
    t->n_refs = 0;
    if (!strcmp(path, "none"))
        return true;
    struct loco_adapter *a = cli_engine_load_adapter(&srv->e, path);
    if (!a)
        return false;
    t->refs[0] = (struct loco_adapter_ref){a, 1.0f};
    t->n_refs = 1;
    return true;
}

/* The model the client named -> what answers (srv->mu taken here). */
static int resolve(struct server *srv, const char *model, const char *query, struct target *t,
                   struct loco_api_error *err)
{
    memset(t, 0, sizeof *t);
    int rc = LOCO_OK;
    pthread_mutex_lock(&srv->mu);
    if (!strcmp(model, "loco") || !strcmp(model, "loco:latest") || !strcmp(model, "loco:routed")) {
        if (srv->routing) {
            void *ctx[2] = {srv, t};
            t->routed = true;
            if (!cli_route_choose(&srv->cr, query, &t->d, use_routed, ctx))
                rc = loco_api_fail(err, LOCO_ERR_INVALID, 500, "", "routing failed: %s",
                                   loco_error_message());
            else if (t->n_refs)
                snprintf(t->names[0], sizeof t->names[0], "%s", t->d.adapter);
        }
    } else if (!strcmp(model, "loco:base")) {
        /* the base model: no adapter */
    } else if (!strncmp(model, "loco:", 5) && model[5]) {
        rc = parse_set(srv, model + 5, t, err);
    } else {
        rc = loco_api_fail(err, LOCO_ERR_NOT_FOUND, 404, "model",
                           "the model '%s' does not exist: this server answers as 'loco' "
                           "(routed), 'loco:base' or 'loco:<adapter>' (GET /v1/models)",
                           model);
    }
    pthread_mutex_unlock(&srv->mu);
    return rc;
}

/* "math", "math+code:0.5" or "base". */
static void set_label(const struct target *t, char *buf, size_t cap)
{
    cli_adapter_spec(t->refs, t->n_refs, "+", buf, cap);
    if (!t->n_refs)
        snprintf(buf, cap, "base");
}

/* The "loco" object and the X-Loco-* headers. */
static void describe(struct serve_stream *g, const struct target *t, const char *strategy,
                     struct serve_reply *r)
{
    char label[512], conf[32], id[32];
    cJSON *l = cJSON_CreateObject();
    cJSON_AddBoolToObject(l, "routed", t->routed);
    if (t->routed) {
        cJSON_AddStringToObject(l, "domain", t->d.domain);
        cJSON_AddStringToObject(l, "router", t->d.router);
        cJSON_AddNumberToObject(l, "confidence", t->d.confidence);
        cli_route_serving_json(l, &t->d);
        cJSON_AddStringToObject(l, "reason", t->d.reason);
        cli_route_label(&t->d, label, sizeof label);
    } else {
        snprintf(label, sizeof label, "[%s]", t->n_refs ? g->answered_by : "base model");
    }
    if (t->n_refs == 1)
        cJSON_AddStringToObject(l, "adapter", loco_adapter_info(t->refs[0].adapter)->name);
    else
        cJSON_AddNullToObject(l, "adapter");
    cJSON *set = cJSON_AddArrayToObject(l, "adapters");
    for (int i = 0; i < t->n_refs; i++) {
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "name", loco_adapter_info(t->refs[i].adapter)->name);
        cJSON_AddNumberToObject(one, "scale", t->refs[i].scale);
        cJSON_AddItemToArray(set, one);
    }
    cJSON_AddStringToObject(l, "strategy", strategy);
    cJSON_AddStringToObject(l, "label", label);
    if (g->exchange > 0)
        cJSON_AddNumberToObject(l, "exchange_id", (double)g->exchange);
    g->loco_json = cJSON_PrintUnformatted(l);
    cJSON_Delete(l);
    /* headers: ASCII only (the label's middle dot becomes '-') */
    serve_reply_header(r, "X-Loco-Adapter", g->answered_by);
    if (t->routed) {
        serve_reply_header(r, "X-Loco-Domain", t->d.domain);
        serve_reply_header(r, "X-Loco-Router", t->d.router);
        snprintf(conf, sizeof conf, "%.4f", t->d.confidence);
        serve_reply_header(r, "X-Loco-Confidence", conf);
        serve_reply_header(r, "X-Loco-Serving",
                           loco_serve_reason_name((enum loco_serve_reason)t->d.serving));
    }
    serve_reply_header(r, "X-Loco-Strategy", strategy);
    if (g->exchange > 0) {
        snprintf(id, sizeof id, "%lld", (long long)g->exchange);
        serve_reply_header(r, "X-Loco-Exchange", id);
    }
}

/* ---- the prompt --------------------------------------------------------------- */

/* The text the router reads: the last user message, or the prompt. */
static const char *query_of(const struct loco_api_request *q)
{
    for (size_t i = q->n_msgs; i-- > 0;)
        if (!strcmp(q->msgs[i].role, "user"))
            return q->msgs[i].content;
    return q->prompt ? q->prompt : "";
}

/* Tokens of the request under strategy st (re2 rewrites the last user
 * message or the prompt). */
static int tokenize(struct server *srv, struct loco_api_request *q,
                    const struct loco_strategy *st, int32_t **toks, size_t *n,
                    struct loco_api_error *err)
{
    const struct loco_model *m = srv->e.model;
    int rc;
    char *re2 = NULL;
    if (q->msgs) {
        size_t last = q->n_msgs;
        for (size_t i = q->n_msgs; i-- > 0;)
            if (!strcmp(q->msgs[i].role, "user")) {
                last = i;
                break;
            }
        const char *orig = q->msgs[last].content;
        if (loco_strategy_rereads(st) && (re2 = loco_strategy_re2_prompt(orig)))
            q->msgs[last].content = re2;
        rc = loco_chat_tokenize(m, srv->eo.chat_template, q->msgs, q->n_msgs, toks, n);
        q->msgs[last].content = orig;
    } else {
        const char *text = q->prompt;
        if (loco_strategy_rereads(st) && (re2 = loco_strategy_re2_prompt(text)))
            text = re2;
        if (q->kind == LOCO_API_COMPLETION || q->raw) {
            rc = loco_tokenizer_encode(loco_model_tokenizer(m), text, strlen(text), true, false,
                                       toks, n);
        } else {
            struct loco_chat_msg msgs[2];
            size_t k = 0;
            if (q->system)
                msgs[k++] = (struct loco_chat_msg){.role = "system", .content = q->system};
            msgs[k++] = (struct loco_chat_msg){.role = "user", .content = text};
            rc = loco_chat_tokenize(m, srv->eo.chat_template, msgs, k, toks, n);
        }
    }
    free(re2);
    if (rc)
        return loco_api_fail(err, rc, 500, "", "cannot tokenize the request: %s",
                             loco_error_message());
    if (*n >= (size_t)loco_context_params(srv->e.ctx).n_ctx)
        return loco_api_fail(err, LOCO_ERR_RANGE, 400, "messages",
                             "the prompt has %zu tokens but the context holds %d; shorten it",
                             *n, loco_context_params(srv->e.ctx).n_ctx);
    return LOCO_OK;
}

/* The strategy: the request's, else the routed domain's default in the
 * registry. An ensemble needs a routed request (its voters are the routed
 * domain's adapters): asked for otherwise it is refused, as a default it
 * never applies. Voted answers give one choice (n = 1). */
static int choose_strategy(struct server *srv, const struct loco_api_request *q,
                           const struct target *t, struct loco_strategy *st,
                           struct loco_api_error *err)
{
    *st = (struct loco_strategy){.kind = LOCO_STRATEGY_PLAIN, .k = 1};
    if (q->strategy) {
        if (loco_strategy_parse(q->strategy, st) != LOCO_OK)
            return loco_api_fail(err, LOCO_ERR_INVALID, 400, "loco.strategy", "%s",
                                 loco_error_message());
    } else if (t->routed) {
        pthread_mutex_lock(&srv->mu);
        const struct loco_registry_domain *dom =
            loco_registry_find_domain(srv->cr.reg, t->d.domain);
        if (!dom || !dom->strategy[0] || loco_strategy_parse(dom->strategy, st) != LOCO_OK)
            *st = (struct loco_strategy){.kind = LOCO_STRATEGY_PLAIN, .k = 1};
        pthread_mutex_unlock(&srv->mu);
    }
    if (srv->o.engine.url && (loco_strategy_votes(st) || loco_strategy_calculates(st))) {
        if (q->strategy)
            return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, "loco.strategy",
                                 "%s decodes here, but this server generates on %s: plain and "
                                 "re2 are forwarded",
                                 q->strategy, srv->o.engine.url);
        *st = (struct loco_strategy){.kind = loco_strategy_rereads(st) ? LOCO_STRATEGY_RE2
                                                                       : LOCO_STRATEGY_PLAIN,
                                     .k = 1};
    }
    if (st->kind == LOCO_STRATEGY_ENSEMBLE && !t->routed)
        return loco_api_fail(err, LOCO_ERR_INVALID, 400, "loco.strategy",
                             "an ensemble's voters are the routed domain's adapters: use model "
                             "'loco'");
    if (loco_strategy_votes(st) && q->n > 1)
        return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, "n",
                             "a voted strategy gives one answer: n must be 1");
    return LOCO_OK;
}

/* ---- voted answers (sc, usc, ensemble) ------------------------------------------ */

/* Answer with a voted strategy through cli_answer_many, on a context of its
 * own beside the scheduler's, one request at a time (docs/api.md). The
 * answer fills choice 0 as if generated; the vote goes into the loco
 * object. */
static int answer_many(struct server *srv, struct serve_stream *g, const struct target *t,
                       const struct loco_strategy *st, const struct loco_api_request *q,
                       const int32_t *toks, size_t n_toks, const struct loco_generate_params *p,
                       struct loco_api_error *err)
{
    struct cli_many_req mq = {.st = *st,
                              .cr = t->routed ? &srv->cr : NULL,
                              .d = t->routed ? &t->d : NULL,
                              .question = query_of(q),
                              .toks = toks,
                              .n = n_toks,
                              .gen = *p,
                              .temperature_set = q->has_temperature};
    if (!cli_vote_rule_choose(-1, NULL, mq.cr, mq.d, &mq.rule))
        return loco_api_fail(err, LOCO_ERR_INVALID, 500, "", "the domain's vote threshold is "
                             "not valid in the registry");
    /* an engine of its own: the model and the request's adapters are
     * shared, the ensemble's members are loaded into it and freed after */
    struct cli_engine side;
    memset(&side, 0, sizeof side);
    side.model = srv->e.model;
    side.ctx = srv->e.ctx; /* read for its parameters only */
    memcpy(side.path, srv->e.path, sizeof side.path);
    memcpy(side.set, t->refs, sizeof t->refs);
    side.n_set = t->n_refs;
    struct loco_generate_result res;
    struct cli_many mn;
    memset(&res, 0, sizeof res);
    pthread_mutex_lock(&srv->many_mu);
    int rc = cli_answer_many(&side, &mq, &res, &mn);
    pthread_mutex_unlock(&srv->many_mu);
    for (int i = 0; i < side.n_loaded; i++)
        loco_adapter_free(side.loaded[i]);
    if (rc == LOCO_OK) {
        cJSON *l = cJSON_Parse(g->loco_json);
        if (l) {
            cli_many_json(l, &mn, &res);
            free(g->loco_json);
            g->loco_json = cJSON_PrintUnformatted(l);
            cJSON_Delete(l);
        }
        struct choice *c = &g->ch[0];
        pthread_mutex_lock(&g->mu);
        c->text = res.text;
        c->len = c->cap = res.text ? strlen(res.text) : 0;
        res.text = NULL;
        c->first_ms = loco_time_ms() - g->t0;
        c->status = LOCO_OK;
        c->stop = res.stop;
        c->n_prompt = (int32_t)n_toks;
        c->n_gen = 0;
        for (int32_t i = 0; i < mn.k; i++) /* every answer's tokens were generated */
            c->n_gen += mn.res[i].n_generated;
        if (!mn.res[mn.winner].text)
            c->n_gen += res.n_generated;
        c->prompt_ms = res.prompt_ms;
        c->gen_ms = res.generate_ms;
        c->done = true;
        g->n_done = 1;
        pthread_mutex_unlock(&g->mu);
    } else {
        loco_api_fail(err, rc, 500, "", "the %s answer failed: %s",
                      st->kind == LOCO_STRATEGY_ENSEMBLE ? "ensemble" : "voted",
                      loco_error_message());
    }
    loco_generate_result_free(&res);
    cli_many_free(&mn);
    return rc;
}

/* ---- generating ----------------------------------------------------------------- */

static struct loco_generate_params gen_params(const struct server *srv,
                                              const struct loco_api_request *q,
                                              const struct loco_strategy *st)
{
    struct loco_generate_params p = srv->eo.gen;
    if (q->max_tokens > 0)
        p.max_tokens = q->max_tokens;
    if (p.max_tokens > srv->limits.max_tokens)
        p.max_tokens = srv->limits.max_tokens;
    if (q->has_temperature)
        p.sampling.temperature = (float)q->temperature;
    if (q->has_top_p)
        p.sampling.top_p = (float)q->top_p;
    if (q->has_top_k)
        p.sampling.top_k = q->top_k;
    if (q->has_min_p)
        p.sampling.min_p = (float)q->min_p;
    if (q->has_repeat_penalty)
        p.sampling.repeat_penalty = (float)q->repeat_penalty;
    if (q->has_seed)
        p.sampling.seed = q->seed;
    p.calc = loco_strategy_calculates(st);
    return p;
}

static void log_begin(struct server *srv, struct serve_stream *g, const char *query,
                      const struct target *t)
{
    if (!srv->log)
        return;
    struct loco_exchange x = {.command = "serve",
                              .query = query,
                              .route = t->routed ? &t->d : NULL,
                              .adapter = t->n_refs ? g->answered_by : "",
                              .model = srv->e.path,
                              .model_sha256 = "",
                              .first_token_ms = -1,
                              .total_ms = -1};
    pthread_mutex_lock(&srv->mu);
    if (loco_exchlog_add(srv->log, &x, &g->exchange) != LOCO_OK) {
        cli_fail("cannot write the exchange log");
        g->exchange = 0;
    }
    pthread_mutex_unlock(&srv->mu);
}

static struct serve_stream *stream_new(struct server *srv, const struct serve_conn *c,
                                       const struct loco_api_request *q)
{
    struct serve_stream *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    if (pthread_mutex_init(&g->mu, NULL)) {
        free(g);
        return NULL;
    }
    if (pthread_cond_init(&g->cv, NULL)) {
        pthread_mutex_destroy(&g->mu);
        free(g);
        return NULL;
    }
    static atomic_uint_fast64_t counter;
    g->srv = srv;
    g->fd = c->fd;
    g->t0 = c->t0;
    g->kind = q->kind;
    g->streaming = q->stream;
    g->include_usage = q->include_usage;
    g->n = q->n;
    g->created = (long long)time(NULL);
    snprintf(g->id, sizeof g->id, "%s-%llx%06llx",
             q->kind == LOCO_API_CHAT ? "chatcmpl" : "cmpl", (unsigned long long)g->created,
             (unsigned long long)(atomic_fetch_add(&counter, 1) & 0xffffff));
    snprintf(g->model, sizeof g->model, "%s", q->model);
    for (int i = 0; i < g->n; i++) {
        g->ch[i].g = g;
        g->ch[i].index = i;
        g->ch[i].first_ms = -1;
    }
    return g;
}

/* Submit the n choices; on a refusal the ones already queued are
 * cancelled and settled. */
static int submit(struct server *srv, struct serve_stream *g, const int32_t *toks, size_t n_toks,
                  const struct target *t, const struct loco_generate_params *p,
                  struct loco_api_error *err)
{
    for (int i = 0; i < g->n; i++) {
        struct loco_sched_request rq = {.prompt = toks, .n_prompt = n_toks, .gen = *p,
                                        .on_token = on_token, .on_done = on_done,
                                        .user = &g->ch[i], .n_adapters = t->n_refs};
        memcpy(rq.adapters, t->refs, sizeof rq.adapters);
        if (p->sampling.seed != LOCO_SEED_RANDOM) /* a random seed stays random */
            rq.gen.sampling.seed = p->sampling.seed + (uint64_t)i;
        int rc = loco_sched_submit(srv->sched, &rq, &g->ch[i].job);
        if (rc == LOCO_OK)
            continue;
        pthread_mutex_lock(&g->mu);
        g->n = i; /* only those were queued */
        settle(g, i);
        pthread_mutex_unlock(&g->mu);
        if (rc == LOCO_ERR_BUSY)
            return loco_api_fail(err, rc, 429, "", "the server is busy (%s); retry shortly",
                                 loco_error_message());
        if (rc == LOCO_ERR_RANGE)
            return loco_api_fail(err, rc, 400, "messages", "%s", loco_error_message());
        return loco_api_fail(err, rc, 503, "", "%s", loco_error_message());
    }
    return LOCO_OK;
}

/* ---- generation on another engine (--engine) --------------------------------------- */

/* A handle of the engine for one request: an idle one, else a new one. */
static struct loco_remote *remote_take(struct server *srv)
{
    pthread_mutex_lock(&srv->remote_mu);
    struct loco_remote *r = srv->n_idle ? srv->idle[--srv->n_idle] : NULL;
    pthread_mutex_unlock(&srv->remote_mu);
    return r ? r : loco_remote_open(srv->o.engine.url, srv->engine_kind, srv->engine_key);
}

static void remote_give(struct server *srv, struct loco_remote *r)
{
    pthread_mutex_lock(&srv->remote_mu);
    if (srv->n_idle < (int)(sizeof srv->idle / sizeof *srv->idle)) {
        srv->idle[srv->n_idle++] = r;
        r = NULL;
    }
    pthread_mutex_unlock(&srv->remote_mu);
    loco_remote_close(r);
}

/* One choice generated on the engine, on a thread of its own. Everything
 * it reads is its own copy, or lives until its on_done (g). */
struct remote_job {
    struct server *srv;
    struct choice *c;
    struct loco_chat_msg *msgs;
    size_t n_msgs;
    struct loco_remote_adapter ad[LOCO_MAX_SET_ADAPTERS];
    char names[LOCO_MAX_SET_ADAPTERS][160];
    size_t n_ad;
    struct loco_generate_params gen;
};

static void remote_job_free(struct remote_job *j)
{
    for (size_t i = 0; j && i < j->n_msgs; i++) {
        free((char *)j->msgs[i].role);
        free((char *)j->msgs[i].content);
    }
    if (j)
        free(j->msgs);
    free(j);
}

static void *remote_worker(void *arg)
{
    struct remote_job *j = arg;
    struct serve_stream *g = j->c->g;
    struct loco_remote_request req = {.msgs = j->msgs, .n_msgs = j->n_msgs, .adapters = j->ad,
                                      .n_adapters = j->n_ad, .gen = j->gen};
    for (size_t s = 0; s < g->n_stop && s < LOCO_REMOTE_MAX_STOP; s++)
        req.stop[s] = g->stop[s];
    struct loco_generate_result res;
    memset(&res, 0, sizeof res);
    struct loco_remote *r = remote_take(j->srv);
    int rc = r ? loco_remote_chat(r, &req, on_token, j->c, &res) : LOCO_ERR_NETWORK;
    if (rc != LOCO_OK) { /* the engine's own words reach the client */
        cli_errorf("the engine: %s", loco_error_message());
        pthread_mutex_lock(&g->mu);
        snprintf(j->c->error, sizeof j->c->error, "the engine %s: %s", j->srv->o.engine.url,
                 loco_error_message());
        j->c->http_status = rc == LOCO_ERR_NETWORK ? 502 : 500;
        pthread_mutex_unlock(&g->mu);
    }
    if (r && rc == LOCO_OK)
        remote_give(j->srv, r);
    else
        loco_remote_close(r); /* after an error, a fresh connection next time */
    struct server *srv = j->srv;
    struct choice *c = j->c;
    remote_job_free(j);
    atomic_fetch_sub(&srv->remote_running, 1);
    on_done(c, rc, &res); /* last: g may be freed once every choice is done */
    return NULL;
}

/* The conversation the engine gets: the request's messages (Ollama
 * generate: its system and prompt), the last user message rewritten by re2,
 * copied for the worker. */
static int remote_messages(const struct loco_api_request *q, const struct loco_strategy *st,
                           struct remote_job *j)
{
    size_t n = q->msgs ? q->n_msgs : (q->system ? 2 : 1);
    j->msgs = calloc(n, sizeof *j->msgs);
    if (!j->msgs)
        return LOCO_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *role, *content;
        if (q->msgs) {
            role = q->msgs[i].role;
            content = q->msgs[i].content;
        } else {
            role = q->system && i == 0 ? "system" : "user";
            content = q->system && i == 0 ? q->system : q->prompt;
        }
        j->msgs[i].role = strdup(role);
        j->msgs[i].content = strdup(content);
        j->n_msgs = i + 1;
        if (!j->msgs[i].role || !j->msgs[i].content)
            return LOCO_ERR_NOMEM;
    }
    if (!loco_strategy_rereads(st))
        return LOCO_OK;
    for (size_t i = n; i-- > 0;)
        if (!strcmp(j->msgs[i].role, "user")) {
            char *re2 = loco_strategy_re2_prompt(j->msgs[i].content);
            if (!re2)
                return LOCO_ERR_NOMEM;
            free((char *)j->msgs[i].content);
            j->msgs[i].content = re2;
            break;
        }
    return LOCO_OK;
}

/* Send the n choices to the engine, each on a thread of its own. What the
 * engine cannot take (an adapter it does not serve, a set vLLM cannot
 * express) is refused here, before anything starts. */
static int remote_submit(struct server *srv, struct serve_stream *g,
                         const struct loco_api_request *q, const struct target *t,
                         const struct loco_strategy *st, const struct loco_generate_params *p,
                         struct loco_api_error *err)
{
    if (q->kind == LOCO_API_COMPLETION || q->raw)
        return loco_api_fail(err, LOCO_ERR_UNSUPPORTED, 400, "prompt",
                             "this server generates on %s, which takes conversations: use "
                             "/v1/chat/completions (a raw prompt cannot be forwarded)",
                             srv->o.engine.url);
    struct remote_job proto;
    memset(&proto, 0, sizeof proto);
    for (int i = 0; i < t->n_refs; i++) {
        snprintf(proto.names[i], sizeof proto.names[i], "%s", t->names[i]);
        proto.ad[i] = (struct loco_remote_adapter){
            NULL, loco_adapter_info(t->refs[i].adapter)->path, t->refs[i].scale};
    }
    proto.n_ad = (size_t)t->n_refs;
    for (size_t i = 0; i < proto.n_ad; i++)
        proto.ad[i].name = proto.names[i];
    struct loco_remote *r = remote_take(srv);
    char model[256];
    int rc = r ? loco_remote_model_for(r, proto.ad, proto.n_ad, model, sizeof model)
               : LOCO_ERR_NETWORK;
    if (r)
        remote_give(srv, r);
    if (rc == LOCO_ERR_NOT_FOUND)
        return loco_api_fail(err, rc, 404, "model", "%s", loco_error_message());
    if (rc != LOCO_OK)
        return loco_api_fail(err, rc, rc == LOCO_ERR_NETWORK ? 502 : 400, "model", "%s",
                             loco_error_message());
    for (int i = 0; i < g->n; i++) {
        struct remote_job *j = malloc(sizeof *j);
        if (j) {
            *j = proto;
            for (size_t k = 0; k < j->n_ad; k++)
                j->ad[k].name = j->names[k];
            j->msgs = NULL;
            j->n_msgs = 0;
            j->srv = srv;
            j->c = &g->ch[i];
            j->gen = *p;
            if (p->sampling.seed != LOCO_SEED_RANDOM) /* a random seed stays random */
                j->gen.sampling.seed = p->sampling.seed + (uint64_t)i;
        }
        pthread_t th;
        pthread_attr_t at;
        rc = j ? remote_messages(q, st, j) : LOCO_ERR_NOMEM;
        if (rc == LOCO_OK && pthread_attr_init(&at) == 0) {
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            atomic_fetch_add(&srv->remote_running, 1);
            if (pthread_create(&th, &at, remote_worker, j)) {
                atomic_fetch_sub(&srv->remote_running, 1);
                rc = LOCO_ERR_IO;
            }
            pthread_attr_destroy(&at);
        } else if (rc == LOCO_OK) {
            rc = LOCO_ERR_IO;
        }
        if (rc == LOCO_OK)
            continue;
        remote_job_free(j);
        pthread_mutex_lock(&g->mu);
        g->n = i; /* only those started */
        settle(g, i);
        pthread_mutex_unlock(&g->mu);
        return loco_api_fail(err, rc, 500, "", "cannot start the request");
    }
    return LOCO_OK;
}

/* Wait for every choice (not streamed). False when the client left. */
static bool wait_all(struct serve_stream *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->n_done < g->n) {
        if (wait_or_gone(g)) {
            pthread_mutex_unlock(&g->mu);
            return false;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return true;
}

void serve_generate(struct server *srv, const struct serve_conn *c, enum loco_api_kind kind,
                    const char *body, size_t len, struct serve_reply *r)
{
    struct loco_api_request q;
    struct loco_api_error err;
    if (atomic_load(&srv->stopping)) {
        loco_api_fail(&err, LOCO_ERR_IO, 503, "", "the server is shutting down");
        serve_reply_error(r, &err);
        return;
    }
    if (loco_api_parse(kind, body, len, &srv->limits, &q, &err) != LOCO_OK) {
        serve_reply_error(r, &err);
        return;
    }
    if (is_ollama(kind))
        q.n = 1;
    struct target *t = calloc(1, sizeof *t);
    struct serve_stream *g = t ? stream_new(srv, c, &q) : NULL;
    int32_t *toks = NULL;
    size_t n_toks = 0;
    struct loco_strategy st;
    char name[LOCO_STRATEGY_NAME_MAX];
    int rc = g ? LOCO_OK : loco_api_fail(&err, LOCO_ERR_NOMEM, 500, "", "out of memory");
    const char *query = query_of(&q);
    if (rc == LOCO_OK)
        rc = resolve(srv, q.model, query, t, &err);
    if (rc == LOCO_OK)
        rc = choose_strategy(srv, &q, t, &st, &err);
    if (rc == LOCO_OK && !srv->o.engine.url) /* an engine tokenizes for itself */
        rc = tokenize(srv, &q, &st, &toks, &n_toks, &err);
    if (rc == LOCO_OK) {
        for (size_t s = 0; s < q.n_stop; s++) { /* the stop strings move to g */
            g->stop[s] = q.stop[s];
            q.stop[s] = NULL;
        }
        g->n_stop = q.n_stop;
        set_label(t, g->answered_by, sizeof g->answered_by);
        log_begin(srv, g, query, t);
        describe(g, t, loco_strategy_name(&st, name, sizeof name), r);
        struct loco_generate_params p = gen_params(srv, &q, &st);
        if (srv->o.engine.url)
            rc = remote_submit(srv, g, &q, t, &st, &p, &err);
        else if (loco_strategy_votes(&st))
            rc = answer_many(srv, g, t, &st, &q, toks, n_toks, &p, &err);
        else
            rc = submit(srv, g, toks, n_toks, t, &p, &err);
    }
    free(toks);
    free(t);
    loco_api_request_free(&q);
    if (rc != LOCO_OK) {
        serve_reply_error(r, &err);
        if (g)
            stream_free(g);
        return;
    }
    if (g->streaming) {
        r->status = 200;
        r->content_type = is_ollama(kind) ? "application/x-ndjson" : "text/event-stream";
        r->stream = g;
        return;
    }
    if (!wait_all(g)) { /* the client left: nothing to send */
        r->status = 0;
        record(g);
        stream_free(g);
        return;
    }
    for (int i = 0; i < g->n; i++)
        if (g->ch[i].status != LOCO_OK) {
            choice_error(&g->ch[i], &err);
            serve_reply_error(r, &err);
            record(g);
            stream_free(g);
            return;
        }
    reply_json(r, 200, whole_answer(g));
    record(g);
    stream_free(g);
}

/* ---- the other endpoints ------------------------------------------------------- */

static void add_model(cJSON *list, bool ollama, const char *id, const char *kind,
                      const struct loco_registry_adapter *a, long long mtime, double size)
{
    cJSON *m = cJSON_CreateObject();
    if (ollama) {
        cJSON_AddStringToObject(m, "name", id);
        cJSON_AddStringToObject(m, "model", id);
        char when[64];
        time_t tt = (time_t)mtime;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        cJSON_AddStringToObject(m, "modified_at", when);
        cJSON_AddNumberToObject(m, "size", size);
        cJSON_AddStringToObject(m, "digest", "");
        cJSON *d = cJSON_AddObjectToObject(m, "details");
        cJSON_AddStringToObject(d, "format", "gguf");
    } else {
        cJSON_AddStringToObject(m, "id", id);
        cJSON_AddStringToObject(m, "object", "model");
        cJSON_AddNumberToObject(m, "created", (double)mtime);
        cJSON_AddStringToObject(m, "owned_by", "locollm");
    }
    cJSON *l = cJSON_AddObjectToObject(m, "loco");
    cJSON_AddStringToObject(l, "kind", kind);
    if (a) {
        cJSON_AddStringToObject(l, "domain", a->domain);
        cJSON_AddStringToObject(l, "status", loco_registry_status_name(a->status));
    }
    cJSON_AddItemToArray(list, m);
}

void serve_models(struct server *srv, bool ollama, struct serve_reply *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *list;
    if (ollama) {
        list = cJSON_AddArrayToObject(j, "models");
    } else {
        cJSON_AddStringToObject(j, "object", "list");
        list = cJSON_AddArrayToObject(j, "data");
    }
    long long now = (long long)time(NULL);
    double size = (double)loco_model_weight_bytes(srv->e.model);
    add_model(list, ollama, "loco", srv->routing ? "routed" : "base", NULL, now, size);
    add_model(list, ollama, "loco:base", "base", NULL, now, size);
    pthread_mutex_lock(&srv->mu);
    for (size_t i = 0; srv->cr.reg && i < loco_registry_n_adapters(srv->cr.reg); i++) {
        const struct loco_registry_adapter *a = loco_registry_adapter_at(srv->cr.reg, i);
        char id[160];
        snprintf(id, sizeof id, "loco:%s", a->name);
        if (plain_name(a->name, strlen(a->name)))
            add_model(list, ollama, id, "adapter", a, now, size);
    }
    pthread_mutex_unlock(&srv->mu);
    reply_json(r, 200, j);
}

void serve_leaderboard(struct server *srv, struct serve_reply *r)
{
    struct loco_leaderboard lb;
    struct loco_leaderboard_params p = loco_leaderboard_default_params();
    char *text = NULL;
    pthread_mutex_lock(&srv->mu);
    if (srv->cr.reg && loco_leaderboard_build(srv->cr.reg, &p, &lb) == LOCO_OK) {
        text = loco_leaderboard_json(&lb);
        loco_leaderboard_free(&lb);
    }
    pthread_mutex_unlock(&srv->mu);
    if (!text) {
        struct loco_api_error err;
        loco_api_fail(&err, LOCO_ERR_NOT_FOUND, srv->cr.reg ? 500 : 404, "",
                      srv->cr.reg ? "cannot build the leaderboard"
                                  : "no registry is loaded: there is no leaderboard");
        serve_reply_error(r, &err);
        return;
    }
    r->status = 200;
    r->content_type = "application/json";
    r->body = text;
    r->len = strlen(text);
}

/* The scheduler's figures; with --engine, the requests being forwarded. */
static void sched_stats(struct server *srv, struct loco_sched_stats *st)
{
    if (srv->sched) {
        loco_sched_stats(srv->sched, st);
        return;
    }
    memset(st, 0, sizeof *st);
    st->running = atomic_load(&srv->remote_running);
}

void serve_health(struct server *srv, struct serve_reply *r)
{
    struct loco_sched_stats st;
    sched_stats(srv, &st);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", atomic_load(&srv->stopping) ? "stopping" : "ok");
    cJSON_AddStringToObject(j, "model", srv->model_name);
    cJSON_AddBoolToObject(j, "routing", srv->routing);
    cJSON_AddNumberToObject(j, "slots", st.slots);
    cJSON_AddNumberToObject(j, "running", st.running);
    cJSON_AddNumberToObject(j, "queued", st.queued);
    cJSON_AddStringToObject(j, "engine", "loco");
    if (srv->o.engine.url) { /* generation is forwarded */
        cJSON *fw = cJSON_AddObjectToObject(j, "generates_on");
        cJSON_AddStringToObject(fw, "url", srv->o.engine.url);
        cJSON_AddStringToObject(fw, "kind", loco_remote_kind_name(srv->engine_kind));
    }
    cJSON_AddStringToObject(j, "version", LOCO_VERSION);
    reply_json(r, atomic_load(&srv->stopping) ? 503 : 200, j);
}

void serve_metrics(struct server *srv, struct serve_reply *r)
{
    struct loco_sched_stats st;
    sched_stats(srv, &st);
    char *text = loco_metrics_text(srv->metrics, &st, loco_metrics_rss());
    if (text) {
        struct buf b = {0};
        buf_adds(&b, text);
        buf_printf(&b, "# HELP loco_slow_clients_closed_total Connections closed for sending "
                       "their request too slowly.\n# TYPE loco_slow_clients_closed_total "
                       "counter\nloco_slow_clients_closed_total %lu\n",
                   serve_http_slow_closed(srv));
        free(text);
        r->body = b.failed ? NULL : b.p;
        if (b.failed)
            free(b.p);
    }
    r->status = r->body ? 200 : 500;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    r->len = r->body ? strlen(r->body) : 0;
}
