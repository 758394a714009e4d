/*
 * bench-serve.c - a bounded load generator for `loco serve`: completion
 * tokens per second, time to first token and latency when C clients ask at
 * once, and the same requests asked one at a time.
 *
 * Requests: N chat completions (POST /v1/chat/completions); request i asks
 * model i mod M of --models (default four adapters, so concurrent requests
 * mix adapters) a short built-in question of that model's domain, or line i
 * of --prompts FILE. Temperature 0 and seed 42, so two runs ask the same.
 * C client threads take the next request from a shared counter; a run ends
 * after N requests or at --time-limit seconds: a request still running then
 * is cut, and one not started is left out; both are reported.
 *
 * Before the runs, one request per model warms the server (adapters load on
 * first use); it is not counted. Streaming (--stream) times the first token:
 * the first chunk whose delta has text. Token counts are the server's usage.
 *
 * Prints for each run: completion tokens/s, requests/s, p50/p99 time to
 * first token and latency, errors by HTTP status with the first message,
 * which adapter served (the X-Loco-Adapter header), and the server's
 * resident memory before and after (VmRSS of --pid from /proc; without
 * --pid, the process_resident_memory_bytes of the server's GET /metrics).
 *
 * Usage: bench-serve --url http://127.0.0.1:PORT [--clients C] [--requests N]
 *          [--time-limit S] [--models M1,M2,...] [--max-tokens T] [--stream]
 *          [--sequential | --compare] [--rounds R] [--pid PID] [--api-key K]
 *          [--prompts FILE] [--rss-every K] [--no-warmup] [--json]
 *   --sequential  one client (C = 1)
 *   --compare     the same requests one at a time, then with C clients, and
 *                 the ratio of the two
 *   --rounds R    R rounds of the runs, interleaved (sequential, C clients,
 *                 sequential, ...), so that a machine whose other load
 *                 changes treats both alike; the ratio is the median of the
 *                 rounds' ratios
 *   --rss-every K the server's memory after every K answered requests (soak)
 * Exit: 0 every request answered, 1 some failed, were cut or left out,
 * 2 bad usage or no server.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loco/generate.h"

#define MAX_MODELS 16
#define MAX_CLIENTS 256
#define MAX_PROMPTS 100000
#define MAX_STATUSES 16
#define MAX_ROUNDS 10
#define BODY_CAP ((size_t)4 << 20) /* a longer answer is an error */
#define SEED 42

struct opts {
    char url[512];
    const char *api_key, *prompts_file;
    char *models_arg; /* strdup'd --models; models[] point into it */
    const char *models[MAX_MODELS];
    int n_models;
    int clients, requests, max_tokens, rss_every, rounds;
    double time_limit_s;
    long pid; /* 0: no --pid */
    bool stream, sequential, compare, warmup, json;
};

/* ---- the questions ------------------------------------------------------ */

static const char *const math_prompts[] = {
    "What is 17 times 23?",
    "A train travels 120 km in 2 hours. What is its average speed in km per hour?",
    "A shirt costs 40 dollars and is 25 percent off. What is the sale price?",
    "What is the sum of the whole numbers from 1 to 10?",
    "Sam has 3 bags with 12 apples each and gives away 7 apples. How many are left?",
    "What is 144 divided by 12, plus 9?",
};
static const char *const code_prompts[] = {
    "Write a Python function that returns the largest number in a list.",
    "Write a Python function that checks whether a string reads the same backwards.",
    "Write a Python function that counts the vowels in a string.",
    "Write a Python function that returns the list of even numbers below n.",
    "Write a Python function that joins a list of words with commas.",
    "Write a Python function that returns the factorial of n.",
};
static const char *const summarisation_prompts[] = {
    "Summarise in one sentence: The town council met on Tuesday and agreed to repair the old "
    "bridge before winter, after parents said the road was unsafe for school buses.",
    "Summarise in one sentence: A small bakery on the high street has started giving its "
    "unsold bread to a shelter each evening instead of throwing it away.",
    "Summarise in one sentence: Heavy rain closed two roads near the coast overnight; crews "
    "cleared them by morning and no one was hurt.",
    "Summarise in one sentence: The library will open on Sundays from next month, after a "
    "survey showed that many students wanted somewhere quiet to work at weekends.",
    "Summarise in one sentence: A local runner finished her first marathon in under four "
    "hours and raised money for the hospital that treated her brother.",
    "Summarise in one sentence: The museum has returned a painting to the family that lost "
    "it during the war, ending a search that lasted forty years.",
};
static const char *const writing_prompts[] = {
    "Write a short poem about the sea at night.",
    "Write the opening line of a story about a lost key.",
    "Describe a rainy morning in a busy city in three sentences.",
    "Write a friendly note inviting a neighbour to dinner on Friday.",
    "Write a short scene in which two friends find an old map in an attic.",
    "Describe the smell of a forest after rain.",
};

struct domain_prompts {
    const char *domain;
    const char *const *list;
    size_t n;
};
#define DOMAIN(d, l)                                                                               \
    {                                                                                              \
        d, l, sizeof l / sizeof l[0]                                                               \
    }
static const struct domain_prompts builtin[] = {
    DOMAIN("math", math_prompts),
    DOMAIN("code", code_prompts),
    DOMAIN("summarisation", summarisation_prompts),
    DOMAIN("writing", writing_prompts),
};
#define N_DOMAINS (sizeof builtin / sizeof builtin[0])

/* The question for request i of a model: the model name's domain
 * ("loco:math" -> math), or for any other model ("loco", "loco:base") the
 * domains in turn. */
static const char *builtin_prompt(const char *model, size_t i)
{
    const char *name = strncmp(model, "loco:", 5) == 0 ? model + 5 : model;
    for (size_t d = 0; d < N_DOMAINS; d++)
        if (strcmp(name, builtin[d].domain) == 0)
            return builtin[d].list[i % builtin[d].n];
    const struct domain_prompts *dp = &builtin[i % N_DOMAINS];
    return dp->list[(i / N_DOMAINS) % dp->n];
}

/* --prompts FILE: its non-empty lines, malloc'd (NULL-terminated array). */
static char **read_prompts(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char **lines = calloc(MAX_PROMPTS + 1, sizeof *lines);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    *n = 0;
    while (lines && *n < MAX_PROMPTS && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len > 0)
            lines[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return lines;
}

/* ---- one request -------------------------------------------------------- */

struct request {
    const char *model, *prompt; /* borrowed from opts / the prompt lists */
    int status;                 /* HTTP status; 0: no answer; -1: not started */
    bool cut;                   /* stopped by the time limit */
    double ttft_ms, latency_ms; /* ttft_ms < 0: no text arrived (or not streaming) */
    long completion_tokens;     /* usage.completion_tokens; -1 when absent */
    char adapter[64];           /* X-Loco-Adapter, "" when absent */
    char *text;                 /* the answer, malloc'd */
    char *error;                /* what went wrong, malloc'd; NULL when answered */
};

struct buf {
    char *data;
    size_t len, cap;
};

static bool buf_add(struct buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > BODY_CAP)
            return false;
        char *d = realloc(b->data, cap);
        if (!d)
            return false;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* What a transfer collects while curl runs it. */
struct transfer {
    struct request *req;
    bool stream, done; /* done: [DONE] seen */
    double t0;
    struct buf body; /* every byte of the answer */
    size_t parsed;   /* streaming: the body up to here is read */
    struct buf text; /* the content deltas joined */
};

static void set_error(struct request *r, const char *msg)
{
    if (!r->error)
        r->error = strdup(msg);
}

/* The message of an OpenAI error object, or NULL. */
static const char *error_message(const cJSON *j)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

static void take_usage(struct request *r, const cJSON *j)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
    if (cJSON_IsNumber(c))
        r->completion_tokens = (long)c->valuedouble;
}

/* One server-sent event's data: a chat.completion.chunk, an error, or [DONE]. */
static void stream_event(struct transfer *t, const char *data)
{
    if (strcmp(data, "[DONE]") == 0) {
        t->done = true;
        return;
    }
    cJSON *j = cJSON_Parse(data);
    if (!j) {
        set_error(t->req, "a stream event that is not JSON");
        return;
    }
    if (error_message(j))
        set_error(t->req, error_message(j));
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(delta, "content");
    if (cJSON_IsString(content) && content->valuestring[0]) {
        if (t->req->ttft_ms < 0)
            t->req->ttft_ms = loco_time_ms() - t->t0;
        if (!buf_add(&t->text, content->valuestring, strlen(content->valuestring)))
            set_error(t->req, "answer longer than 4 MiB");
    }
    take_usage(t->req, j);
    cJSON_Delete(j);
}

/* Read the complete lines of the stream not read yet; "data: X" lines are
 * events, others (blank separators, comments) are skipped. */
static void stream_lines(struct transfer *t)
{
    char *nl;
    while ((nl = memchr(t->body.data + t->parsed, '\n', t->body.len - t->parsed))) {
        char *line = t->body.data + t->parsed;
        t->parsed = (size_t)(nl - t->body.data) + 1;
        *nl = '\0';
        if (nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        if (strncmp(line, "data:", 5) == 0)
            stream_event(t, line[5] == ' ' ? line + 6 : line + 5);
        *nl = '\n';
    }
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    struct transfer *t = user;
    if (!buf_add(&t->body, p, size * n))
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    if (t->stream)
        stream_lines(t); /* an error answer has no data: lines; finish() reads it */
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
    struct request *r = user;
    size_t len = size * n, key = strlen("X-Loco-Adapter:");
    if (len > key && strncasecmp(p, "X-Loco-Adapter:", key) == 0) {
        size_t a = key, b = len;
        while (a < b && (p[a] == ' ' || p[a] == '\t'))
            a++;
        while (b > a && (p[b - 1] == '\r' || p[b - 1] == '\n' || p[b - 1] == ' '))
            b--;
        size_t m = b - a < sizeof r->adapter - 1 ? b - a : sizeof r->adapter - 1;
        memcpy(r->adapter, p + a, m);
        r->adapter[m] = '\0';
    }
    return len;
}

/* The request's JSON body, malloc'd. */
static char *request_json(const struct opts *o, const struct request *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", r->model);
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", "user");
    cJSON_AddStringToObject(msg, "content", r->prompt);
    cJSON *msgs = cJSON_AddArrayToObject(j, "messages");
    cJSON_AddItemToArray(msgs, msg);
    cJSON_AddNumberToObject(j, "max_tokens", o->max_tokens);
    cJSON_AddNumberToObject(j, "temperature", 0);
    cJSON_AddNumberToObject(j, "seed", SEED);
    if (o->stream) {
        cJSON_AddTrueToObject(j, "stream");
        cJSON_AddTrueToObject(cJSON_AddObjectToObject(j, "stream_options"), "include_usage");
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* After the transfer: the answer's text and usage, or the error. */
static void finish(struct transfer *t)
{
    struct request *r = t->req;
    bool whole = r->status != 200 || !t->stream; /* one JSON object, not events */
    cJSON *j = whole ? cJSON_Parse(t->body.data ? t->body.data : "") : NULL;
    if (r->status != 200) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s",
                 error_message(j) ? error_message(j)
                 : t->body.data   ? t->body.data
                                  : "(empty body)");
        set_error(r, msg);
    } else if (t->stream) {
        if (!t->done)
            set_error(r, "the stream ended without data: [DONE]");
    } else {
        const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
        if (cJSON_IsString(content))
            buf_add(&t->text, content->valuestring, strlen(content->valuestring));
        else
            set_error(r, "no choices[0].message.content in the answer");
        take_usage(r, j);
    }
    cJSON_Delete(j);
    r->text = t->text.data ? t->text.data : strdup("");
}

/* Ask one request on handle h, giving up at deadline_ms (loco_time_ms). */
static void perform(CURL *h, const struct opts *o, struct request *r, double deadline_ms)
{
    struct transfer t = {.req = r, .stream = o->stream, .t0 = loco_time_ms()};
    char url[600], auth[600], *body = request_json(o, r);
    snprintf(url, sizeof url, "%s/v1/chat/completions", o->url);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (o->api_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->api_key);
        hdr = curl_slist_append(hdr, auth);
    }
    double left = deadline_ms - t.t0;
    r->ttft_ms = -1;
    r->completion_tokens = -1;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
    CURLcode rc = curl_easy_perform(h);
    r->latency_ms = loco_time_ms() - t.t0;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    r->status = (int)status;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        r->cut = true;
        set_error(r, "cut by the time limit");
    } else if (rc != CURLE_OK) {
        r->status = 0;
        set_error(r, curl_easy_strerror(rc));
    }
    if (rc == CURLE_OK)
        finish(&t);
    else
        free(t.text.data);
    if (!r->text)
        r->text = strdup("");
    free(t.body.data);
    curl_slist_free_all(hdr);
    free(body);
}

/* ---- the server's memory ----------------------------------------------- */

/* VmRSS of a process in KiB, or -1. */
static long vmrss_kib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* process_resident_memory_bytes from GET /metrics, or -1. */
static double metrics_rss_bytes(const struct opts *o)
{
    struct transfer t = {0};
    struct request r = {0};
    t.req = &r;
    char url[600], auth[600];
    snprintf(url, sizeof url, "%s/metrics", o->url);
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    if (o->api_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->api_key);
        hdr = curl_slist_append(hdr, auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    double bytes = -1;
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK &&
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200 &&
        t.body.data) {
        const char *key = "\nprocess_resident_memory_bytes ";
        char *p = strstr(t.body.data, key);
        if (p)
            bytes = strtod(p + strlen(key), NULL);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(t.body.data);
    return bytes;
}

/* The server's resident memory in MiB: VmRSS of --pid, else /metrics; -1. */
static double server_rss_mib(const struct opts *o)
{
    if (o->pid > 0) {
        long kib = vmrss_kib(o->pid);
        return kib < 0 ? -1 : kib / 1024.0;
    }
    double bytes = metrics_rss_bytes(o);
    return bytes < 0 ? -1 : bytes / (1024.0 * 1024.0);
}

/* ---- a run: C clients over the requests ---------------------------------- */

struct rss_sample {
    int done;
    double mib;
};

struct run {
    const struct opts *o;
    char name[48]; /* "sequential", "8 clients", "... #2" in round 2 */
    int round;     /* 1, 2, ... */
    int clients;
    struct request *reqs;
    int n;
    atomic_int next, done;
    double t_start, t_end, deadline_ms;
    pthread_mutex_t lock; /* guards t_end and samples */
    struct rss_sample *samples;
    int n_samples;
};

static void *client_main(void *arg)
{
    struct run *run = arg;
    CURL *h = curl_easy_init();
    for (;;) {
        int i = atomic_fetch_add(&run->next, 1);
        if (i >= run->n || loco_time_ms() >= run->deadline_ms)
            break;
        perform(h, run->o, &run->reqs[i], run->deadline_ms);
        int done = atomic_fetch_add(&run->done, 1) + 1;
        double now = loco_time_ms(), mib = -2;
        if (run->o->rss_every > 0 && done % run->o->rss_every == 0)
            mib = server_rss_mib(run->o);
        pthread_mutex_lock(&run->lock);
        if (now > run->t_end)
            run->t_end = now;
        if (mib > -2) {
            run->samples[run->n_samples++] = (struct rss_sample){done, mib};
            if (!run->o->json) {
                printf("  %s: server memory after %d requests: %.1f MiB\n", run->name, done, mib);
                fflush(stdout);
            }
        }
        pthread_mutex_unlock(&run->lock);
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* The plan: request i asks model i mod M the question of line i, or the
 * (i / M)-th built-in question of the model's domain. */
static struct request *plan(const struct opts *o, char **lines, size_t n_lines)
{
    struct request *reqs = calloc((size_t)o->requests, sizeof *reqs);
    for (int i = 0; reqs && i < o->requests; i++) {
        reqs[i].model = o->models[i % o->n_models];
        reqs[i].prompt = n_lines ? lines[(size_t)i % n_lines]
                                 : builtin_prompt(reqs[i].model, (size_t)(i / o->n_models));
        reqs[i].status = -1;
    }
    return reqs;
}

static int run_clients(struct run *run)
{
    pthread_t tid[MAX_CLIENTS];
    pthread_mutex_init(&run->lock, NULL);
    run->samples = calloc((size_t)run->n / (run->o->rss_every > 0 ? run->o->rss_every : run->n) + 1,
                          sizeof *run->samples);
    run->t_start = run->t_end = loco_time_ms();
    run->deadline_ms = run->t_start + run->o->time_limit_s * 1e3;
    int started = 0;
    for (; started < run->clients; started++)
        if (pthread_create(&tid[started], NULL, client_main, run))
            break;
    for (int c = 0; c < started; c++)
        pthread_join(tid[c], NULL);
    pthread_mutex_destroy(&run->lock);
    return started == run->clients ? 0 : -1;
}

/* ---- the figures ---------------------------------------------------------- */

struct status_count {
    int status; /* 0: no answer from the server; -2: cut by the time limit */
    int count;
    const char *first; /* the first message, borrowed from a request */
};

struct summary {
    int ok, failed, cut, not_run;
    long tokens;
    double wall_s, tok_per_s, req_per_s;
    double ttft_p50, ttft_p99, lat_p50, lat_p99; /* -1: none */
    struct status_count errors[MAX_STATUSES];
    int n_errors;
    char adapters[256]; /* "math 8, code 8" */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile q (0..1) of n sorted values, -1 when n is 0. */
static double percentile(const double *v, int n, double q)
{
    if (n == 0)
        return -1;
    int k = (int)(q * n + 0.999999) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

static void count_error(struct summary *s, const struct request *r)
{
    int key = r->cut ? -2 : r->status;
    for (int e = 0; e < s->n_errors; e++)
        if (s->errors[e].status == key) {
            s->errors[e].count++;
            return;
        }
    if (s->n_errors < MAX_STATUSES)
        s->errors[s->n_errors++] = (struct status_count){key, 1, r->error};
}

static void count_adapters(struct summary *s, const struct run *run)
{
    const char *names[MAX_MODELS * 2];
    int counts[MAX_MODELS * 2], n = 0;
    for (int i = 0; i < run->n; i++) {
        const char *a = run->reqs[i].adapter;
        if (run->reqs[i].error || !a[0])
            continue;
        int k = 0;
        while (k < n && strcmp(names[k], a) != 0)
            k++;
        if (k == n && n == MAX_MODELS * 2)
            continue;
        if (k == n) {
            names[n] = a;
            counts[n++] = 0;
        }
        counts[k]++;
    }
    size_t len = 0;
    s->adapters[0] = '\0';
    for (int k = 0; k < n && len < sizeof s->adapters; k++)
        len += (size_t)snprintf(s->adapters + len, sizeof s->adapters - len, "%s%s %d",
                                k ? ", " : "", names[k], counts[k]);
}

static void summarise(const struct run *run, struct summary *s)
{
    double *ttft = calloc((size_t)run->n + 1, sizeof *ttft);
    double *lat = calloc((size_t)run->n + 1, sizeof *lat);
    int n_ttft = 0, n_lat = 0;
    memset(s, 0, sizeof *s);
    for (int i = 0; i < run->n; i++) {
        const struct request *r = &run->reqs[i];
        if (r->status == -1) {
            s->not_run++;
        } else if (r->error) {
            s->failed++;
            s->cut += r->cut;
            count_error(s, r);
        } else {
            s->ok++;
            s->tokens += r->completion_tokens > 0 ? r->completion_tokens : 0;
            lat[n_lat++] = r->latency_ms;
            if (r->ttft_ms >= 0)
                ttft[n_ttft++] = r->ttft_ms;
        }
    }
    qsort(ttft, (size_t)n_ttft, sizeof *ttft, cmp_double);
    qsort(lat, (size_t)n_lat, sizeof *lat, cmp_double);
    s->ttft_p50 = percentile(ttft, n_ttft, 0.50);
    s->ttft_p99 = percentile(ttft, n_ttft, 0.99);
    s->lat_p50 = percentile(lat, n_lat, 0.50);
    s->lat_p99 = percentile(lat, n_lat, 0.99);
    s->wall_s = (run->t_end - run->t_start) / 1e3;
    s->tok_per_s = s->wall_s > 0 ? s->tokens / s->wall_s : 0;
    s->req_per_s = s->wall_s > 0 ? s->ok / s->wall_s : 0;
    count_adapters(s, run);
    free(ttft);
    free(lat);
}

/* "123" or "-" for a missing figure, in a static buffer per slot. */
static const char *fig(double v, int slot)
{
    static char b[4][32];
    if (v < 0)
        return "-";
    snprintf(b[slot], sizeof b[slot], "%.0f", v);
    return b[slot];
}

static void print_row(const struct run *run, const struct summary *s)
{
    printf("| %s | %d | %d | %d | %d | %.1f | %ld | %.1f | %.2f | %s | %s | ", run->name,
           run->clients, s->ok, s->failed, s->not_run, s->wall_s, s->tokens, s->tok_per_s,
           s->req_per_s, fig(s->ttft_p50, 0), fig(s->ttft_p99, 1));
    printf("%s | %s |\n", fig(s->lat_p50, 2), fig(s->lat_p99, 3));
}

static void print_errors(const struct run *run, const struct summary *s)
{
    printf("%s: errors: %s", run->name, s->n_errors ? "" : "none");
    for (int e = 0; e < s->n_errors; e++) {
        const struct status_count *c = &s->errors[e];
        if (c->status == -2)
            printf("%stime limit x%d", e ? "; " : "", c->count);
        else if (c->status == 0)
            printf("%sno answer x%d (%s)", e ? "; " : "", c->count, c->first);
        else
            printf("%sHTTP %d x%d (%s)", e ? "; " : "", c->status, c->count, c->first);
    }
    printf("%s\n", s->not_run ? " (and requests left out at the time limit)" : "");
    printf("%s: served by (X-Loco-Adapter): %s\n", run->name,
           s->adapters[0] ? s->adapters : "(no header)");
}

static cJSON *figure(double v)
{
    return v < 0 ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static cJSON *run_json(const struct run *run, const struct summary *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", run->name);
    cJSON_AddNumberToObject(j, "round", run->round);
    cJSON_AddNumberToObject(j, "clients", run->clients);
    cJSON_AddNumberToObject(j, "ok", s->ok);
    cJSON_AddNumberToObject(j, "failed", s->failed);
    cJSON_AddNumberToObject(j, "cut", s->cut);
    cJSON_AddNumberToObject(j, "not_run", s->not_run);
    cJSON_AddNumberToObject(j, "wall_s", s->wall_s);
    cJSON_AddNumberToObject(j, "completion_tokens", (double)s->tokens);
    cJSON_AddNumberToObject(j, "completion_tokens_per_s", s->tok_per_s);
    cJSON_AddNumberToObject(j, "requests_per_s", s->req_per_s);
    cJSON_AddItemToObject(j, "ttft_p50_ms", figure(s->ttft_p50));
    cJSON_AddItemToObject(j, "ttft_p99_ms", figure(s->ttft_p99));
    cJSON_AddItemToObject(j, "latency_p50_ms", figure(s->lat_p50));
    cJSON_AddItemToObject(j, "latency_p99_ms", figure(s->lat_p99));
    cJSON *errs = cJSON_AddObjectToObject(j, "errors");
    for (int e = 0; e < s->n_errors; e++) {
        char key[32];
        int st = s->errors[e].status;
        snprintf(key, sizeof key, "%d", st);
        cJSON *one = cJSON_AddObjectToObject(errs, st == -2  ? "time_limit"
                                                   : st == 0 ? "no_answer"
                                                             : key);
        cJSON_AddNumberToObject(one, "count", s->errors[e].count);
        cJSON_AddStringToObject(one, "first_message", s->errors[e].first);
    }
    cJSON_AddStringToObject(j, "served_by", s->adapters);
    cJSON *samples = cJSON_AddArrayToObject(j, "server_rss_mib_samples");
    for (int k = 0; k < run->n_samples; k++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "requests", run->samples[k].done);
        cJSON_AddItemToObject(p, "mib", figure(run->samples[k].mib));
        cJSON_AddItemToArray(samples, p);
    }
    return j;
}

/* ---- the command line --------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: bench-serve --url http://127.0.0.1:PORT [--clients C] [--requests N]\n"
                    "         [--time-limit S] [--models M1,M2,...] [--max-tokens T] [--stream]\n"
                    "         [--sequential | --compare] [--rounds R] [--pid PID] [--api-key K]\n"
                    "         [--prompts FILE]"
                    " [--rss-every K] [--no-warmup] [--json]\n");
    return 2;
}

static bool arg_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool split_models(struct opts *o, const char *arg)
{
    free(o->models_arg);
    o->models_arg = strdup(arg);
    o->n_models = 0;
    for (char *p = o->models_arg; p && *p && o->n_models < MAX_MODELS;) {
        o->models[o->n_models++] = p;
        p = strchr(p, ',');
        if (p)
            *p++ = '\0';
    }
    for (int m = 0; m < o->n_models; m++)
        if (!o->models[m][0])
            return false;
    return o->n_models > 0;
}

/* One option with a number: --NAME VALUE within [lo, hi]. */
static bool num_opt(int argc, char **argv, int *i, const char *name, long lo, long hi, long *out)
{
    if (strcmp(argv[*i], name) != 0)
        return false;
    if (*i + 1 >= argc || !arg_long(argv[*i + 1], lo, hi, out)) {
        fprintf(stderr, "bench-serve: %s wants a whole number in [%ld, %ld]\n", name, lo, hi);
        exit(usage());
    }
    (*i)++;
    return true;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    long v;
    split_models(o, "loco:math,loco:code,loco:summarisation,loco:writing");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (num_opt(argc, argv, &i, "--clients", 1, MAX_CLIENTS, &v))
            o->clients = (int)v;
        else if (num_opt(argc, argv, &i, "--requests", 1, 10000000, &v))
            o->requests = (int)v;
        else if (num_opt(argc, argv, &i, "--time-limit", 1, 86400, &v))
            o->time_limit_s = (double)v;
        else if (num_opt(argc, argv, &i, "--max-tokens", 1, 100000, &v))
            o->max_tokens = (int)v;
        else if (num_opt(argc, argv, &i, "--pid", 1, 1L << 30, &v))
            o->pid = v;
        else if (num_opt(argc, argv, &i, "--rss-every", 1, 10000000, &v))
            o->rss_every = (int)v;
        else if (num_opt(argc, argv, &i, "--rounds", 1, MAX_ROUNDS, &v))
            o->rounds = (int)v;
        else if (strcmp(a, "--url") == 0 && val && strlen(val) < sizeof o->url - 1)
            snprintf(o->url, sizeof o->url, "%s", argv[++i]);
        else if (strcmp(a, "--models") == 0 && val) {
            if (!split_models(o, argv[++i]))
                return usage();
        } else if (strcmp(a, "--api-key") == 0 && val)
            o->api_key = argv[++i];
        else if (strcmp(a, "--prompts") == 0 && val)
            o->prompts_file = argv[++i];
        else if (strcmp(a, "--stream") == 0)
            o->stream = true;
        else if (strcmp(a, "--sequential") == 0)
            o->sequential = true;
        else if (strcmp(a, "--compare") == 0)
            o->compare = true;
        else if (strcmp(a, "--no-warmup") == 0)
            o->warmup = false;
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else
            return usage();
    }
    size_t len = strlen(o->url);
    while (len > 0 && o->url[len - 1] == '/')
        o->url[--len] = '\0';
    if (!o->url[0] || (o->sequential && o->compare))
        return usage();
    if (o->sequential)
        o->clients = 1;
    return 0;
}

/* ---- main ------------------------------------------------------------------ */

/* One request per model, not counted; false when the server cannot be reached. */
static bool warm_up(const struct opts *o)
{
    CURL *h = curl_easy_init();
    bool reached = true;
    for (int m = 0; m < o->n_models && reached; m++) {
        struct request r = {.model = o->models[m], .prompt = builtin_prompt(o->models[m], 0)};
        perform(h, o, &r, loco_time_ms() + o->time_limit_s * 1e3);
        if (r.status == 0) {
            fprintf(stderr, "bench-serve: %s: %s\n", o->url, r.error);
            reached = false;
        } else if (r.error && !o->json) {
            printf("warm-up %s: HTTP %d (%s)\n", r.model, r.status, r.error);
        }
        free(r.text);
        free(r.error);
    }
    curl_easy_cleanup(h);
    return reached;
}

static void free_requests(struct request *reqs, int n)
{
    for (int i = 0; reqs && i < n; i++) {
        free(reqs[i].text);
        free(reqs[i].error);
    }
    free(reqs);
}

static void print_header(const struct opts *o)
{
    printf("bench-serve: %s, %d requests per run", o->url, o->requests);
    if (o->rounds > 1)
        printf(", %d rounds", o->rounds);
    printf(", models %s", o->models[0]);
    for (int m = 1; m < o->n_models; m++)
        printf(",%s", o->models[m]);
    printf(", max_tokens %d, %s, temperature 0, seed %d, time limit %.0f s\n", o->max_tokens,
           o->stream ? "streaming" : "not streaming", SEED, o->time_limit_s);
    printf("prompts: %s\n\n",
           o->prompts_file ? o->prompts_file : "built-in, by the model's domain");
}

static void print_memory(const struct opts *o, double before, double after)
{
    const char *src = o->pid > 0 ? "VmRSS of pid" : "/metrics process_resident_memory_bytes";
    if (before < 0 || after < 0) {
        printf("server memory: not known (give --pid, or a server with /metrics)\n");
        return;
    }
    printf("server memory (%s", src);
    if (o->pid > 0)
        printf(" %ld", o->pid);
    printf("): %.1f MiB before, %.1f MiB after (%+.1f MiB)\n", before, after, after - before);
}

/* Everything one invocation measured. */
struct bench {
    struct run runs[2 * MAX_ROUNDS]; /* per round: [sequential,] C clients */
    struct summary sums[2 * MAX_ROUNDS];
    int n_runs, per_round;
    double rss_before, rss_after; /* MiB, -1 when not known */
    /* --compare: C clients / sequential, per round, their median and the
     * pooled ratio (all tokens over all wall time); -1 when not known */
    double ratio_tok[MAX_ROUNDS], ratio_req[MAX_ROUNDS];
    double median_tok, median_req, pooled_tok;
    int identical; /* answers equal in the two runs of their round */
};

static double median(const double *v, int n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : -1;
}

/* The comparison of the two runs of each round of --compare. */
static void compare_runs(const struct opts *o, struct bench *b)
{
    b->identical = 0;
    b->median_tok = b->median_req = b->pooled_tok = -1;
    if (b->per_round != 2)
        return;
    double tok[2] = {0, 0}, wall[2] = {0, 0};
    for (int r = 0; r < o->rounds; r++) {
        const struct run *seq = &b->runs[2 * r], *con = &b->runs[2 * r + 1];
        const struct summary *s0 = &b->sums[2 * r], *s1 = &b->sums[2 * r + 1];
        for (int i = 0; i < o->requests; i++) {
            const struct request *x = &seq->reqs[i], *y = &con->reqs[i];
            b->identical += !x->error && !y->error && strcmp(x->text, y->text) == 0;
        }
        b->ratio_tok[r] = ratio(s1->tok_per_s, s0->tok_per_s);
        b->ratio_req[r] = ratio(s1->req_per_s, s0->req_per_s);
        for (int k = 0; k < 2; k++) {
            tok[k] += (double)b->sums[2 * r + k].tokens;
            wall[k] += b->sums[2 * r + k].wall_s;
        }
    }
    b->median_tok = median(b->ratio_tok, o->rounds);
    b->median_req = median(b->ratio_req, o->rounds);
    b->pooled_tok = ratio(ratio(tok[1], wall[1]), ratio(tok[0], wall[0]));
}

static void report_json(const struct opts *o, const struct bench *b)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "url", o->url);
    cJSON_AddNumberToObject(j, "requests", o->requests);
    cJSON_AddNumberToObject(j, "rounds", o->rounds);
    cJSON *models = cJSON_AddArrayToObject(j, "models");
    for (int m = 0; m < o->n_models; m++)
        cJSON_AddItemToArray(models, cJSON_CreateString(o->models[m]));
    cJSON_AddNumberToObject(j, "max_tokens", o->max_tokens);
    cJSON_AddBoolToObject(j, "stream", o->stream);
    cJSON_AddNumberToObject(j, "temperature", 0);
    cJSON_AddNumberToObject(j, "seed", SEED);
    cJSON_AddStringToObject(j, "prompts", o->prompts_file ? o->prompts_file : "built-in");
    cJSON *arr = cJSON_AddArrayToObject(j, "runs");
    for (int k = 0; k < b->n_runs; k++)
        cJSON_AddItemToArray(arr, run_json(&b->runs[k], &b->sums[k]));
    if (b->per_round == 2) {
        cJSON_AddItemToObject(j, "ratio_completion_tokens_per_s", figure(b->median_tok));
        cJSON_AddItemToObject(j, "ratio_requests_per_s", figure(b->median_req));
        cJSON_AddItemToObject(j, "pooled_ratio_completion_tokens_per_s", figure(b->pooled_tok));
        cJSON *rounds = cJSON_AddArrayToObject(j, "round_ratios_completion_tokens_per_s");
        for (int r = 0; r < o->rounds; r++)
            cJSON_AddItemToArray(rounds, figure(b->ratio_tok[r]));
        cJSON_AddNumberToObject(j, "identical_answers", b->identical);
        cJSON_AddNumberToObject(j, "compared_answers", o->requests * o->rounds);
    }
    cJSON_AddItemToObject(j, "server_rss_mib_before", figure(b->rss_before));
    cJSON_AddItemToObject(j, "server_rss_mib_after", figure(b->rss_after));
    char *s = cJSON_Print(j);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
}

static void print_ratio(const struct opts *o, const struct bench *b)
{
    printf("%d client%s vs sequential: %.2fx completion tokens/s, %.2fx requests/s", o->clients,
           o->clients > 1 ? "s" : "", b->median_tok, b->median_req);
    if (o->rounds > 1) {
        printf(" (median of %d rounds:", o->rounds);
        for (int r = 0; r < o->rounds; r++)
            printf(" %.2fx", b->ratio_tok[r]);
        printf("; pooled %.2fx)", b->pooled_tok);
    }
    printf("; answers identical to the sequential run: %d/%d\n", b->identical,
           o->requests * o->rounds);
}

static void report_table(const struct opts *o, const struct bench *b)
{
    printf("| run | clients | ok | failed | left out | wall s | completion tokens | tok/s | "
           "req/s | TTFT p50 ms | TTFT p99 ms | latency p50 ms | latency p99 ms |\n"
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < b->n_runs; k++)
        print_row(&b->runs[k], &b->sums[k]);
    printf("\n");
    for (int k = 0; k < b->n_runs; k++)
        print_errors(&b->runs[k], &b->sums[k]);
    if (b->per_round == 2)
        print_ratio(o, b);
    print_memory(o, b->rss_before, b->rss_after);
}

/* Run k's place: its round, its clients and its name. */
static void name_run(const struct opts *o, struct run *run, int round, bool sequential)
{
    *run = (struct run){.o = o, .round = round, .clients = sequential ? 1 : o->clients};
    int len = run->clients == 1 && (sequential || !o->compare)
                  ? snprintf(run->name, sizeof run->name, "sequential")
                  : snprintf(run->name, sizeof run->name, "%d client%s", o->clients,
                             o->clients > 1 ? "s" : "");
    if (o->rounds > 1 && len > 0 && (size_t)len < sizeof run->name)
        snprintf(run->name + len, sizeof run->name - (size_t)len, " #%d", round);
}

/* The runs, round after round: with --compare one client first, then C
 * clients. 0, or -1 when memory or threads ran out. */
static int run_all(const struct opts *o, char **lines, size_t n_lines, struct bench *b)
{
    b->per_round = o->compare ? 2 : 1;
    b->n_runs = 0;
    for (int r = 1; r <= o->rounds; r++) {
        if (o->compare)
            name_run(o, &b->runs[b->n_runs++], r, true);
        name_run(o, &b->runs[b->n_runs++], r, false);
    }
    b->rss_before = server_rss_mib(o);
    for (int k = 0; k < b->n_runs; k++) {
        b->runs[k].reqs = plan(o, lines, n_lines);
        b->runs[k].n = o->requests;
        if (!b->runs[k].reqs || run_clients(&b->runs[k]))
            return -1;
        summarise(&b->runs[k], &b->sums[k]);
    }
    b->rss_after = server_rss_mib(o);
    compare_runs(o, b);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.clients = 8,
                     .requests = 32,
                     .max_tokens = 64,
                     .time_limit_s = 600,
                     .rounds = 1,
                     .warmup = true};
    if (parse_args(argc, argv, &o))
        return 2;
    char **lines = NULL;
    size_t n_lines = 0;
    if (o.prompts_file && (!(lines = read_prompts(o.prompts_file, &n_lines)) || !n_lines)) {
        fprintf(stderr, "bench-serve: %s: no prompts (one per line)\n", o.prompts_file);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (o.warmup && !warm_up(&o))
        return 2;
    if (!o.json)
        print_header(&o);
    static struct bench b; /* large: not on the stack */
    if (run_all(&o, lines, n_lines, &b)) {
        fprintf(stderr, "bench-serve: out of memory or threads\n");
        return 2;
    }
    if (o.json)
        report_json(&o, &b);
    else
        report_table(&o, &b);
    int bad = 0;
    for (int k = 0; k < b.n_runs; k++) {
        bad += b.sums[k].failed + b.sums[k].not_run;
        free_requests(b.runs[k].reqs, b.runs[k].n);
        free(b.runs[k].samples);
    }
    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
    free(lines);
    free(o.models_arg);
    curl_global_cleanup();
    return bad ? 1 : 0;
}
