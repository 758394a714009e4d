/*
 * test-eval-engine.c - an evaluation whose answers come from another engine
 * (struct loco_eval_engine in loco/eval.h, src/eval/remote_batch.c).
 *
 * A small engine in this process (a plain socket server on loopback that
 * speaks just enough of a loco serve: /health, /v1/models, streamed
 * /v1/chat/completions) answers every request with what it was asked:
 * "MODEL|SEED|QUESTION" (SEED "-" when none was sent). So each answer
 * shows which model the request named, which seed it carried and which
 * item it belonged to, and the test checks that the answers reach their
 * own items through several requests in flight, that sc:K sends K
 * requests with consecutive seeds and keeps the vote's winner, that the
 * cache keys name the engine (a rerun asks nothing), that an engine's
 * runs are a series of their own, and what is refused.
 * The model (stories260K) is only the record's identity here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loco/eval.h"
#include "loco/evalcache.h"
#include "testutil.h"

/* ---- the engine ------------------------------------------------------------ */

#define MAX_SEEN 256

struct engine {
    int fd;
    pthread_t th;
    char url[64];
    pthread_mutex_t lock;
    int n_seen;               /* chat requests answered */
    char seen[MAX_SEEN][160]; /* each one's answer, in order */
    const char *refuse;       /* a question answered with HTTP 500 (NULL: none) */
};

static const char health[] = "{\"status\":\"ok\",\"model\":\"stories260K.gguf\",\"routing\":true,"
                             "\"slots\":4,\"engine\":\"loco\",\"version\":\"0.1.0\"}";
static const char models[] =
    "{\"object\":\"list\",\"data\":[{\"id\":\"loco\",\"object\":\"model\",\"owned_by\":"
    "\"locollm\",\"loco\":{\"kind\":\"routed\"}},{\"id\":\"loco:base\",\"object\":\"model\","
    "\"owned_by\":\"locollm\",\"loco\":{\"kind\":\"base\"}}]}";

static void send_all(int c, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(c, s, n);
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

static void reply(int c, int status, const char *type, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Error", type, strlen(body));
    send_all(c, head, (size_t)n);
    send_all(c, body, strlen(body));
}

/* The request on connection c: its first line into line, its body (malloc'd). */
static char *read_request(int c, char *line, size_t cap)
{
    size_t len = 0, size = 8192, want = 0;
    char *buf = malloc(size + 1), *end = NULL;
    while (buf) {
        ssize_t k = read(c, buf + len, size - len);
        if (k <= 0)
            break;
        len += (size_t)k;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(buf, "Content-Length:");
            want = (size_t)(end - buf) + 4 + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
        }
        if (end && len >= want)
            break;
        if (len == size) {
            char *g = realloc(buf, 2 * size + 1);
            if (!g)
                break;
            buf = g;
            size *= 2;
            end = end ? strstr(buf, "\r\n\r\n") : NULL;
        }
    }
    if (!buf || !end) {
        free(buf);
        return NULL;
    }
    snprintf(line, cap, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    char *body = strdup(end + 4);
    free(buf);
    return body;
}

/* "MODEL|SEED|QUESTION", streamed as one delta, with usage. */
static void answer_chat(struct engine *e, int c, const char *body)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "content"));
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "model"));
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    char text[160], seed_text[32] = "-";
    if (cJSON_IsNumber(seed))
        snprintf(seed_text, sizeof seed_text, "%.0f", seed->valuedouble);
    snprintf(text, sizeof text, "%s|%s|%s", model ? model : "?", seed_text, q ? q : "?");
    if (e->refuse && q && !strcmp(q, e->refuse)) {
        reply(c, 500, "application/json", "{\"error\":{\"message\":\"the engine broke\"}}");
        cJSON_Delete(j);
        return;
    }
    pthread_mutex_lock(&e->lock);
    if (e->n_seen < MAX_SEEN)
        snprintf(e->seen[e->n_seen++], sizeof e->seen[0], "%s", text);
    pthread_mutex_unlock(&e->lock);
    cJSON *chunk = cJSON_CreateObject(), *choices = cJSON_AddArrayToObject(chunk, "choices");
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, ch);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(ch, "delta"), "content", text);
    char *delta = cJSON_PrintUnformatted(chunk);
    char sse[1024];
    snprintf(sse, sizeof sse,
             "data: %s\n\n"
             "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
             "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\n\n"
             "data: [DONE]\n\n",
             delta);
    reply(c, 200, "text/event-stream", sse);
    free(delta);
    cJSON_Delete(chunk);
    cJSON_Delete(j);
}

static void *serve(void *arg)
{
    struct engine *e = arg;
    for (;;) {
        int c = accept(e->fd, NULL, NULL);
        if (c < 0)
            return NULL; /* the socket was shut down */
        char line[256];
        char *body = read_request(c, line, sizeof line);
        if (!body) {
            close(c);
            continue;
        }
        if (!strncmp(line, "GET /health ", 12))
            reply(c, 200, "application/json", health);
        else if (!strncmp(line, "GET /v1/models ", 15))
            reply(c, 200, "application/json", models);
        else if (!strncmp(line, "POST /v1/chat/completions ", 26))
            answer_chat(e, c, body);
        else
            reply(c, 404, "application/json", "{\"error\":{\"message\":\"no such endpoint\"}}");
        free(body);
        close(c);
    }
}

static void engine_start(struct engine *e)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    e->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(e->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    assert_int_equal(bind(e->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(e->fd, 64), 0);
    assert_int_equal(getsockname(e->fd, (struct sockaddr *)&a, &n), 0);
    snprintf(e->url, sizeof e->url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    assert_int_equal(pthread_create(&e->th, NULL, serve, e), 0);
}

static void engine_stop(struct engine *e)
{
    shutdown(e->fd, SHUT_RDWR);
    pthread_join(e->th, NULL);
    close(e->fd);
    pthread_mutex_destroy(&e->lock);
}

/* ---- the evaluation ---------------------------------------------------------- */

#define N_ITEMS 9

struct fixture {
    char dir[128], bench[192], cache[192];
    struct loco_model *m;
    struct engine e;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (!(f->m = test_stories()))
        return 0;
    test_make_tmpdir(f->dir, sizeof f->dir, "eval-engine");
    snprintf(f->bench, sizeof f->bench, "%s/asked.jsonl", f->dir);
    snprintf(f->cache, sizeof f->cache, "%s/cache.sqlite", f->dir);
    /* item k: "question k", right when answered "loco:base|-|question k" */
    char text[N_ITEMS * 160] = "";
    size_t len = 0;
    for (int k = 0; k < N_ITEMS; k++)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "{\"id\":\"q%d\",\"evaluation_type\":\"exact_match\",\"prompt\":"
                                "\"question %d\",\"reference\":\"loco:base|-|question %d\"}\n",
                                k, k, k);
    test_write_file(f->bench, text);
    engine_start(&f->e);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->m) {
        engine_stop(&f->e);
        test_rm_rf(f->dir);
    }
    loco_model_free(f->m);
    free(f);
    return 0;
}

static struct loco_eval_params on_engine(const struct fixture *f)
{
    struct loco_eval_params p = loco_eval_default_params();
    p.max_tokens = 8;
    p.cache_path = f->cache;
    p.engine = (struct loco_eval_engine){.url = f->e.url, .parallel = 4};
    return p;
}

/* Which of the engine's answers so far are for `question`: their count,
 * and their seeds (in order) into seeds[cap]; "-" counts as no seed. */
static int asked_for(struct engine *e, const char *question, uint64_t *seeds, int cap)
{
    int n = 0;
    pthread_mutex_lock(&e->lock);
    for (int i = 0; i < e->n_seen; i++) {
        const char *bar = strchr(e->seen[i], '|'), *bar2 = bar ? strchr(bar + 1, '|') : NULL;
        if (!bar2 || strcmp(bar2 + 1, question))
            continue;
        if (n < cap)
            seeds[n] = bar[1] == '-' ? UINT64_MAX : strtoull(bar + 1, NULL, 10);
        n++;
    }
    pthread_mutex_unlock(&e->lock);
    return n;
}

static void test_refused_on_an_engine(void **state)
{
    (void)state;
    struct loco_eval_params p = loco_eval_default_params();
    p.engine.url = "http://127.0.0.1:9";
    assert_int_equal(loco_eval_params_check(&p), LOCO_OK);
    const char *refused[] = {"calc", "re2+calc", "usc:3"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(loco_strategy_parse(refused[i], &p.strategy), LOCO_OK);
        assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_UNSUPPORTED);
        assert_non_null(strstr(loco_error_message(), "cannot run on an engine"));
    }
    const char *fine[] = {"plain", "re2", "sc:3"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(loco_strategy_parse(fine[i], &p.strategy), LOCO_OK);
        assert_int_equal(loco_eval_params_check(&p), LOCO_OK);
    }
    p.chat_template = "chatml"; /* the engine applies its own */
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_UNSUPPORTED);
    p.chat_template = NULL;
    p.engine.parallel = LOCO_EVAL_MAX_ENGINE_PARALLEL + 1;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    /* without an engine calc runs here */
    p = loco_eval_default_params();
    assert_int_equal(loco_strategy_parse("calc", &p.strategy), LOCO_OK);
    assert_int_equal(loco_eval_params_check(&p), LOCO_OK);
}

static void test_probe(void **state)
{
    struct fixture *f = *state;
    if (!f->m) {
        skip();
        return;
    }
    struct loco_eval_params p = on_engine(f);
    struct loco_eval_record_info info = {0};
    enum loco_remote_kind kind = LOCO_REMOTE_AUTO;
    assert_int_equal(loco_eval_engine_probe(&p, NULL, 1.0f, &info, &kind), LOCO_OK);
    assert_int_equal(kind, LOCO_REMOTE_LOCO); /* its /health names its slots */
    assert_string_equal(info.engine_kind, "loco");
    assert_string_equal(info.engine_url, f->e.url);
    assert_string_equal(info.engine_base_model, "loco:base");
    assert_string_equal(info.engine_adapter_model, "loco:base"); /* no adapter */
    assert_int_equal(f->e.n_seen, 0);                            /* nothing generated */
    /* the record says where the answers came from; a local one says nothing */
    char *rec = loco_eval_record_json(&info, &p, NULL, 0);
    cJSON *r = cJSON_Parse(rec);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "engine");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e, "kind")), "loco");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e, "url")), f->e.url);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e, "base_model")), "loco:base");
    cJSON_Delete(r);
    free(rec);
    info.engine_kind[0] = '\0';
    rec = loco_eval_record_json(&info, &p, NULL, 0);
    r = cJSON_Parse(rec);
    assert_null(cJSON_GetObjectItemCaseSensitive(r, "engine"));
    cJSON_Delete(r);
    free(rec);
    /* no engine there, no URL */
    p.engine.url = "http://127.0.0.1:9";
    assert_int_equal(loco_eval_engine_probe(&p, NULL, 1.0f, &info, &kind), LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "127.0.0.1:9"));
    p.engine.url = NULL;
    assert_int_equal(loco_eval_engine_probe(&p, NULL, 1.0f, &info, &kind), LOCO_ERR_INVALID);
}

/* Plain (side 0) against sc:3 (side 1), both the base model on the engine. */
static void test_answers_from_the_engine(void **state)
{
    struct fixture *f = *state;
    if (!f->m) {
        skip();
        return;
    }
    struct loco_eval_params p = on_engine(f);
    assert_int_equal(loco_strategy_parse("sc:3", &p.strategy), LOCO_OK);
    struct loco_eval_bench b;
    int seen0 = f->e.n_seen;
    assert_int_equal(loco_eval_bench_run(f->m, NULL, 1.0f, f->bench, true, &p, NULL, NULL, &b),
                     LOCO_OK);
    assert_int_equal(b.n, N_ITEMS);
    assert_int_equal(f->e.n_seen - seen0, N_ITEMS * (1 + 3)); /* plain: 1, sc:3: 3 each */
    for (size_t i = 0; i < b.n; i++) {
        const struct loco_eval_item *it = &b.items[i];
        char q[32], want[96];
        snprintf(q, sizeof q, "question %zu", i);
        /* greedy: no seed sent; each answer is its own item's */
        snprintf(want, sizeof want, "loco:base|-|%s", q);
        assert_string_equal(it->output[0], want);
        assert_true(it->score[0] == 1.0);
        assert_false(it->cached[0]);
        /* sc:3: three requests seeded s, s + 1, s + 2; every answer differs,
         * so the vote's tie goes to the first */
        uint64_t seeds[4];
        assert_int_equal(asked_for(&f->e, q, seeds, 4), 4);
        uint64_t s[3] = {seeds[1], seeds[2], seeds[3]}, lo = s[0];
        for (int k = 1; k < 3; k++)
            lo = s[k] < lo ? s[k] : lo;
        for (int k = 0; k < 3; k++)
            assert_true(s[k] >= lo && s[k] - lo < 3 && s[k] != UINT64_MAX);
        assert_true(s[0] != s[1] && s[1] != s[2] && s[0] != s[2]);
        snprintf(want, sizeof want, "loco:base|%llu|%s", (unsigned long long)lo, q);
        assert_string_equal(it->output[1], want);
        assert_true(it->score[1] == 0.0);
    }
    assert_int_equal(b.n_tokens[0], 3 * N_ITEMS);
    assert_int_equal(b.n_tokens[1], 3 * 3 * N_ITEMS);
    loco_eval_bench_free(&b);

    /* again: every answer from the cache, nothing asked */
    seen0 = f->e.n_seen;
    assert_int_equal(loco_eval_bench_run(f->m, NULL, 1.0f, f->bench, true, &p, NULL, NULL, &b),
                     LOCO_OK);
    assert_int_equal(f->e.n_seen, seen0);
    assert_int_equal(b.n_cached[0], N_ITEMS);
    assert_int_equal(b.n_cached[1], N_ITEMS);
    loco_eval_bench_free(&b);

    /* the cache key names the engine: not under the local key, under the engine's */
    char sha[65], key[65], local[256], remote[512];
    assert_int_equal(loco_model_sha256(f->m, sha), LOCO_OK);
    snprintf(local, sizeof local, "bench=asked;greedy;max_tokens=8;template=model;v1");
    snprintf(remote, sizeof remote, "%s;engine=loco %s loco:base", local, f->e.url);
    struct loco_evalcache *c = NULL;
    struct loco_evalcache_entry e;
    assert_int_equal(loco_evalcache_open(f->cache, &c), LOCO_OK);
    assert_int_equal(loco_evalcache_key(sha, "", local, "question 0", key), LOCO_OK);
    assert_int_not_equal(loco_evalcache_get(c, key, &e), LOCO_OK);
    assert_int_equal(loco_evalcache_key(sha, "", remote, "question 0", key), LOCO_OK);
    assert_int_equal(loco_evalcache_get(c, key, &e), LOCO_OK);
    assert_string_equal(e.output, "loco:base|-|question 0");
    free(e.output);
    loco_evalcache_close(c);
}

/* An engine's error stops the run with its message; the answers made
 * before it stay cached. */
static void test_engine_error(void **state)
{
    struct fixture *f = *state;
    if (!f->m) {
        skip();
        return;
    }
    struct loco_eval_params p = on_engine(f);
    char cache[256];
    snprintf(cache, sizeof cache, "%s/errors.sqlite", f->dir);
    p.cache_path = cache;
    p.engine.parallel = 2;
    f->e.refuse = "question 5";
    struct loco_eval_bench b;
    int seen0 = f->e.n_seen;
    assert_int_equal(loco_eval_bench_run(f->m, NULL, 1.0f, f->bench, true, &p, NULL, NULL, &b),
                     LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "the engine broke"));
    int answered = f->e.n_seen - seen0;
    assert_true(answered >= 1 && answered < N_ITEMS);
    f->e.refuse = NULL;
    seen0 = f->e.n_seen;
    assert_int_equal(loco_eval_bench_run(f->m, NULL, 1.0f, f->bench, true, &p, NULL, NULL, &b),
                     LOCO_OK);
    assert_int_equal(b.n_cached[0], (size_t)answered); /* resumed where it stopped */
    assert_int_equal(f->e.n_seen - seen0, N_ITEMS - answered);
    loco_eval_bench_free(&b);
}

/* Runs answered by an engine are another series than loco's own, and than
 * another engine's: a record file never chains them. */
static void test_series_by_engine(void **state)
{
    (void)state;
    struct loco_eval_params p = loco_eval_default_params();
    struct loco_eval_record_info info = {.scale = 1.0f};
    memset(info.model_sha256, 'a', 64);
    memset(info.adapter_sha256, 'b', 64);
    char *local = loco_eval_record_json(&info, &p, NULL, 0);
    snprintf(info.engine_kind, sizeof info.engine_kind, "vllm");
    snprintf(info.engine_url, sizeof info.engine_url, "http://gpu:8000");
    snprintf(info.engine_base_model, sizeof info.engine_base_model, "SmolLM2");
    snprintf(info.engine_adapter_model, sizeof info.engine_adapter_model, "math");
    char *vllm = loco_eval_record_json(&info, &p, NULL, 0);
    char *vllm2 = loco_eval_record_json(&info, &p, NULL, 0);
    snprintf(info.engine_url, sizeof info.engine_url, "http://other:8000");
    char *other = loco_eval_record_json(&info, &p, NULL, 0);
    assert_true(loco_eval_record_same_series(local, local));
    assert_true(loco_eval_record_same_series(vllm, vllm2));
    assert_false(loco_eval_record_same_series(local, vllm));
    assert_false(loco_eval_record_same_series(vllm, local));
    assert_false(loco_eval_record_same_series(vllm, other));
    free(local);
    free(vllm);
    free(vllm2);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_on_an_engine),    cmocka_unit_test(test_probe),
        cmocka_unit_test(test_answers_from_the_engine), cmocka_unit_test(test_engine_error),
        cmocka_unit_test(test_series_by_engine),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
