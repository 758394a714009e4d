/*
 * test-remote.c - generation on another engine (loco/remote.h) against a
 * fake engine on loopback.
 *
 * The fake (libmicrohttpd, in this process) replays the fixtures under
 * tests/fixtures/remote/: one folder per engine with a routes.json that
 * maps "METHOD /path" to a status, a content type, headers and a reply
 * file in that engine's documented shape (vLLM's model list and streamed
 * chunks, llama-server's /lora-adapters and chunks with "timings", a loco
 * serve's /health, models and chunks). It records the last request, so
 * each test checks what the client sent (model, lora, Bearer) as well as
 * what it made of the reply. Error replies (errors/) replace the chat
 * route for one test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>

#include "loco/remote.h"
#include "testutil.h"

/* ---- the fake engine ------------------------------------------------------ */

struct fake {
    struct MHD_Daemon *d;
    char url[64];
    char dir[64]; /* the engine's folder under tests/fixtures/remote */
    cJSON *routes;
    const char *chat_file; /* overrides the chat route's file when set */
    int chat_status;       /* ... and its status */
    const char *chat_type; /* ... and its content type */
    int hang_ms;           /* > 0: the chat route says nothing for this long, then ends */
    pthread_mutex_t lock;  /* what the handler writes, the test reads */
    char last[256];        /* "POST /v1/chat/completions" */
    char auth[256];        /* its Authorization header, "" if none */
    char *body;            /* its body (malloc'd) */
    size_t body_len;
    char paths[16][256]; /* "GET /health", ... in order */
    int n_paths;
};

/* tests/fixtures/remote/<file>, whole (malloc'd); fails the test when absent. */
static char *fixture_text(const char *file, size_t *len)
{
    char rel[512], path[4096];
    snprintf(rel, sizeof rel, "tests/fixtures/remote/%s", file);
    test_source_path(rel, path, sizeof path);
    char *text = test_read_file(path, len);
    if (!text)
        fail_msg("cannot read the fixture %s", path);
    return text;
}

/* The route for "METHOD /path": the engine's, else its "*". */
static const cJSON *route_of(const struct fake *f, const char *key)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(f->routes, key);
    return r ? r : cJSON_GetObjectItemCaseSensitive(f->routes, "*");
}

/* A reply that keeps the client waiting: nothing for f->hang_ms, then the end. */
static ssize_t hang_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos, (void)buf, (void)max;
    const struct fake *f = cls;
    usleep((useconds_t)f->hang_ms * 1000);
    return MHD_CONTENT_READER_END_OF_STREAM;
}

static struct MHD_Response *reply_of(struct fake *f, const char *key, unsigned *status)
{
    if (f->hang_ms > 0 && !strcmp(key, "POST /v1/chat/completions")) {
        *status = 200;
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, hang_reader, f, NULL);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        return r;
    }
    const cJSON *r = route_of(f, key);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "file"));
    const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "body"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "type"));
    *status = cJSON_IsNumber(st) ? (unsigned)st->valueint : 200;
    char rel[600];
    bool chat = !strcmp(key, "POST /v1/chat/completions") && f->chat_file;
    if (chat) {
        snprintf(rel, sizeof rel, "%s", f->chat_file);
        *status = (unsigned)f->chat_status;
        type = f->chat_type;
    } else if (file) {
        snprintf(rel, sizeof rel, "%s/%s", f->dir, file);
    }
    size_t len = body ? strlen(body) : 0;
    char *text = chat || file ? fixture_text(rel, &len) : strdup(body ? body : "");
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", type ? type : "application/json");
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(r, "headers"))
        MHD_add_response_header(resp, h->string, h->valuestring);
    return resp;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    struct fake *f = cls;
    if (!*state) { /* the headers: start a new request */
        *state = f;
        pthread_mutex_lock(&f->lock);
        free(f->body);
        f->body = NULL;
        f->body_len = 0;
        pthread_mutex_unlock(&f->lock);
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        pthread_mutex_lock(&f->lock);
        f->body = realloc(f->body, f->body_len + *upload_size + 1);
        memcpy(f->body + f->body_len, upload, *upload_size);
        f->body_len += *upload_size;
        f->body[f->body_len] = '\0';
        pthread_mutex_unlock(&f->lock);
        *upload_size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&f->lock);
    snprintf(f->last, sizeof f->last, "%s %s", method, url);
    snprintf(f->auth, sizeof f->auth, "%s", auth ? auth : "");
    if (f->n_paths < 16)
        snprintf(f->paths[f->n_paths++], sizeof f->paths[0], "%s", f->last);
    pthread_mutex_unlock(&f->lock);
    unsigned status;
    struct MHD_Response *resp = reply_of(f, f->last, &status);
    enum MHD_Result ok = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void fake_start(struct fake *f, const char *engine)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s", engine);
    char rel[256];
    snprintf(rel, sizeof rel, "%s/routes.json", engine);
    char *routes = fixture_text(rel, NULL);
    f->routes = cJSON_Parse(routes);
    free(routes);
    assert_non_null(f->routes);
    pthread_mutex_init(&f->lock, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            handle, f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_END);
    assert_non_null(f->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u", (unsigned)info->port);
}

static void fake_stop(struct fake *f)
{
    MHD_stop_daemon(f->d);
    cJSON_Delete(f->routes);
    free(f->body);
    pthread_mutex_destroy(&f->lock);
}

/* The chat route answers with fixture `file` (under tests/fixtures/remote). */
static void fake_chat(struct fake *f, const char *file, int status, const char *type)
{
    f->chat_file = file;
    f->chat_status = status;
    f->chat_type = type;
}

/* The last request's body as JSON (the caller deletes it). */
static cJSON *sent_json(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    cJSON *j = f->body ? cJSON_Parse(f->body) : NULL;
    pthread_mutex_unlock(&f->lock);
    assert_non_null(j);
    return j;
}

/* ---- a request ------------------------------------------------------------ */

struct pieces {
    char text[1024];
    int n;
    int stop_after; /* 0: never stop */
};

static bool on_piece(void *user, int32_t token, const char *piece, size_t len, float lp)
{
    struct pieces *p = user;
    assert_int_equal(token, -1);
    assert_true(lp == 0.0f);
    size_t have = strlen(p->text);
    assert_true(have + len < sizeof p->text);
    memcpy(p->text + have, piece, len);
    p->text[have + len] = '\0';
    return ++p->n != p->stop_after;
}

static const struct loco_chat_msg question[2] = {
    {"system", "You are a helpful assistant."},
    {"user", "Write a Python function that adds two numbers."},
};

static struct loco_remote_request request(const struct loco_remote_adapter *a, size_t n)
{
    struct loco_remote_request q = {.msgs = question, .n_msgs = 2, .adapters = a, .n_adapters = n};
    q.gen = loco_generate_default_params();
    q.gen.max_tokens = 64;
    q.gen.sampling.temperature = 0.2f;
    q.gen.sampling.top_p = 0.9f;
    q.gen.sampling.seed = 7;
    return q;
}

static double number(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const char *string(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    assert_non_null(s);
    return s;
}

/* ---- kinds ---------------------------------------------------------------- */

static void test_kind_names(void **state)
{
    (void)state;
    enum loco_remote_kind k;
    for (int i = LOCO_REMOTE_AUTO; i <= LOCO_REMOTE_LOCO; i++) {
        assert_int_equal(
            loco_remote_kind_parse(loco_remote_kind_name((enum loco_remote_kind)i), &k), LOCO_OK);
        assert_int_equal(k, i);
    }
    assert_string_equal(loco_remote_kind_name(LOCO_REMOTE_LLAMA_SERVER), "llama-server");
    assert_int_equal(loco_remote_kind_parse("llama.cpp", &k), LOCO_OK);
    assert_int_equal(k, LOCO_REMOTE_LLAMA_SERVER);
    assert_int_equal(loco_remote_kind_parse("tgi", &k), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "vllm"));
}

static void test_open_refuses_bad_urls(void **state)
{
    (void)state;
    assert_null(loco_remote_open("ftp://127.0.0.1:21", LOCO_REMOTE_AUTO, NULL));
    assert_non_null(strstr(loco_error_message(), "not http(s)"));
    assert_null(loco_remote_open(NULL, LOCO_REMOTE_VLLM, NULL));
    /* nobody listening on the discard port: a network error naming the URL */
    assert_null(loco_remote_open("http://127.0.0.1:9", LOCO_REMOTE_AUTO, NULL));
    assert_non_null(strstr(loco_error_message(), "http://127.0.0.1:9"));
}

/* ---- vLLM ----------------------------------------------------------------- */

static void test_vllm_detect_and_models(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f, "vllm");
    char url[80];
    snprintf(url, sizeof url, "%s/v1/", f.url); /* ".../v1/" is taken too */
    struct loco_remote *r = loco_remote_open(url, LOCO_REMOTE_AUTO, "sk-local");
    assert_non_null(r);
    assert_int_equal(loco_remote_kind(r), LOCO_REMOTE_VLLM);
    char given[80];
    snprintf(given, sizeof given, "%s/v1", f.url); /* as given, without the '/' */
    assert_string_equal(loco_remote_url(r), given);
    /* /health (empty), /lora-adapters (404), /v1/models, then the list again */
    assert_string_equal(f.paths[0], "GET /health");
    assert_string_equal(f.paths[1], "GET /lora-adapters");
    assert_string_equal(f.auth, "Bearer sk-local");
    assert_int_equal(loco_remote_n_models(r), 3);
    const struct loco_remote_model *m = loco_remote_model(r, 0);
    assert_string_equal(m->id, "HuggingFaceTB/SmolLM2-135M-Instruct");
    assert_int_equal(m->kind, LOCO_REMOTE_MODEL_BASE);
    m = loco_remote_model(r, 2);
    assert_string_equal(m->id, "code");
    assert_int_equal(m->kind, LOCO_REMOTE_MODEL_ADAPTER);
    assert_string_equal(m->parent, "HuggingFaceTB/SmolLM2-135M-Instruct");
    assert_string_equal(m->path, "/srv/loco/peft/code");
    assert_int_equal(m->lora_id, -1);
    assert_null(loco_remote_model(r, 3));
    /* asking again: the same list, fetched anew */
    int asked = f.n_paths;
    assert_int_equal(loco_remote_refresh(r), LOCO_OK);
    assert_int_equal(f.n_paths, asked + 1);
    assert_string_equal(f.last, "GET /v1/models");
    assert_int_equal(loco_remote_n_models(r), 3);
    assert_string_equal(loco_remote_model(r, 1)->id, "math");
    loco_remote_close(r);
    fake_stop(&f);
}

static void test_vllm_chat_streams(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f, "vllm");
    struct loco_remote *r = loco_remote_open(f.url, LOCO_REMOTE_VLLM, "sk-local");
    assert_non_null(r);
    struct loco_remote_adapter code = {"code", NULL, 1.0f};
    struct loco_remote_request q = request(&code, 1);
    q.stop[0] = "```";
    struct pieces p = {0};
    struct loco_generate_result res;
    assert_int_equal(loco_remote_chat(r, &q, on_piece, &p, &res), LOCO_OK);
    /* what came back: the pieces as they came, the text, usage */
    assert_string_equal(p.text, "def add(a, b):\n    return a + b");
    assert_int_equal(p.n, 2); /* empty deltas are not pieces */
    assert_string_equal(res.text, p.text);
    assert_int_equal(res.n_prompt, 31);
    assert_int_equal(res.n_generated, 13);
    assert_int_equal(res.stop, LOCO_STOP_EOG);
    assert_null(res.tokens);
    assert_true(res.prompt_ms >= 0 && res.generate_ms >= 0);
    loco_generate_result_free(&res);
    /* what was sent: the adapter as the model, the stream with usage */
    assert_string_equal(f.last, "POST /v1/chat/completions");
    assert_string_equal(f.auth, "Bearer sk-local");
    cJSON *j = sent_json(&f);
    assert_string_equal(string(j, "model"), "code");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "stream_options"), "include_usage")));
    assert_int_equal(number(j, "max_tokens"), 64);
    assert_near(number(j, "temperature"), 0.2, 1e-6);
    assert_near(number(j, "top_p"), 0.9, 1e-6);
    assert_int_equal(number(j, "seed"), 7);
    assert_int_equal(number(j, "top_k"), 40); /* vLLM takes loco's other samplers */
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "lora"));
    assert_string_equal(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "stop"), 0)->valuestring, "```");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    assert_string_equal(string(cJSON_GetArrayItem(msgs, 1), "content"), question[1].content);
    assert_string_equal(string(cJSON_GetArrayItem(msgs, 0), "role"), "system");
    cJSON_Delete(j);
    /* the base model by its name */
    q = request(NULL, 0);
    assert_int_equal(loco_remote_chat(r, &q, NULL, NULL, &res), LOCO_OK);
    loco_generate_result_free(&res);
    j = sent_json(&f);
    assert_string_equal(string(j, "model"), "HuggingFaceTB/SmolLM2-135M-Instruct");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "stop"));
    cJSON_Delete(j);
    loco_remote_close(r);
    fake_stop(&f);
}

static void test_vllm_refuses_sets_and_scales(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f, "vllm");
    struct loco_remote *r = loco_remote_open(f.url, LOCO_REMOTE_VLLM, NULL);
    assert_non_null(r);
    struct loco_remote_adapter two[2] = {{"math", NULL, 0.5f}, {"code", NULL, 0.5f}};
    struct loco_remote_request q = request(two, 2);
    struct loco_generate_result res;
    int before = f.n_paths;
    assert_int_equal(loco_remote_chat(r, &q, NULL, NULL, &res), LOCO_ERR_UNSUPPORTED);
    assert_non_null(strstr(loco_error_message(), "one adapter per request"));
    assert_null(res.text);
    q = request(two, 1);
    assert_int_equal(loco_remote_chat(r, &q, NULL, NULL, &res), LOCO_ERR_UNSUPPORTED);
    assert_non_null(strstr(loco_error_message(), "scale 0.5"));
    assert_int_equal(f.n_paths, before); /* refused before anything was sent */
    /* an adapter vLLM does not serve: the list is asked again, then the fix */
    struct loco_remote_adapter writing = {"writing", NULL, 1.0f};
    q = request(&writing, 1);
    assert_int_equal(loco_remote_chat(r, &q, NULL, NULL, &res), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "'writing'"));
    assert_non_null(strstr(loco_error_message(), "--lora-modules writing=DIR"));
    assert_non_null(strstr(loco_error_message(), "math, code"));
    assert_string_equal(f.last, "GET /v1/models");
    /* calc cannot run remotely */
    q = request(NULL, 0);
    q.gen.calc = true;
    assert_int_equal(loco_remote_chat(r, &q, NULL, NULL, &res), LOCO_ERR_UNSUPPORTED);
    assert_non_null(strstr(loco_error_message(), "calc"));
    loco_remote_close(r);
    fake_stop(&f);
}

/* ---- llama-server ----------------------------------------------------------- */

/* The "lora" field sent: scale per id into out[3]. */
static void sent_lora(struct fake *f, float out[3])
{
    cJSON *j = sent_json(f);
    const cJSON *lora = cJSON_GetObjectItemCaseSensitive(j, "lora"), *e;
    assert_true(cJSON_IsArray(lora));
    assert_int_equal(cJSON_GetArraySize(lora), 3); /* every adapter, scale 0 if not used */
    cJSON_ArrayForEach(e, lora)
    {
        int id = (int)number(e, "id");
        assert_true(id >= 0 && id < 3);
        out[id] = (float)number(e, "scale");
    }
    assert_string_equal(string(j, "model"), "SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_near(number(j, "repeat_penalty"), 1.1, 1e-6);
    cJSON_Delete(j);
}

static void test_llama_server(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f, "llama-server");
    struct loco_remote *r = loco_remote_open(f.url, LOCO_REMOTE_AUTO, NULL);
    assert_non_null(r);
    assert_int_equal(loco_remote_kind(r), LOCO_REMOTE_LLAMA_SERVER);
    assert_string_equal(f.auth, ""); /* no key, no header */
    assert_int_equal(loco_remote_n_models(r), 4);
    const struct loco_remote_model *m = loco_remote_model(r, 2);
    assert_string_equal(m->id, "code");
    assert_int_equal(m->lora_id, 1);
    assert_string_equal(m->path, "/srv/loco/adapters/code/code.gguf");

    /* a set with scales: ids by file name, every other adapter at 0 */
    struct loco_remote_adapter set[2] = {{"math", NULL, 0.75f},
                                         {"code", "/home/me/adapters/code/code.gguf", 0.25f}};
    struct loco_remote_request q = request(set, 2);
    q.gen.sampling.repeat_penalty = 1.1f;
    struct pieces p = {0};
    struct loco_generate_result res;
    assert_int_equal(loco_remote_chat(r, &q, on_piece, &p, &res), LOCO_OK);
    float s[3] = {-1, -1, -1};
    sent_lora(&f, s);
    assert_near(s[0], 0.75, 1e-6);
    assert_near(s[1], 0.25, 1e-6);
    assert_near(s[2], 0.0, 0);
    /* the answer, with llama-server's timings for counts and times */
    assert_string_equal(res.text, "12 + 30 = 42 \xc2\xb7 done");
    assert_string_equal(p.text, res.text);
    assert_int_equal(res.stop, LOCO_STOP_MAX_TOKENS);
    assert_int_equal(res.n_prompt, 28); /* prompt_n + cache_n */
    assert_int_equal(res.n_generated, 8);
    assert_near(res.prompt_ms, 12.5, 1e-9);
    assert_near(res.generate_ms, 40.25, 1e-9);
    loco_generate_result_free(&res);

    /* the base model: every adapter at 0; "math-b" is not "math" */
    q = request(NULL, 0);
    q.gen.sampling.repeat_penalty = 1.1f;
    assert_int_equal(loco_remote_chat(r, &q, NULL, NULL, &res), LOCO_OK);
    loco_generate_result_free(&res);
    sent_lora(&f, s);
    assert_true(s[0] == 0 && s[1] == 0 && s[2] == 0);
    struct loco_remote_adapter mb = {"math-b", NULL, 1.0f};
    q = request(&mb, 1);
    q.gen.sampling.repeat_penalty = 1.1f;
    assert_int_equal(loco_remote_chat(r, &q, NULL, NULL, &res), LOCO_OK);
    loco_generate_result_free(&res);
    sent_lora(&f, s);
    assert_true(s[0] == 0 && s[1] == 0 && s[2] == 1);

    /* an adapter it did not load: what it has, and the fix */
    struct loco_remote_adapter w = {"writing", NULL, 1.0f};
    q = request(&w, 1);
    assert_int_equal(loco_remote_chat(r, &q, NULL, NULL, &res), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "--lora writing.gguf"));
    assert_non_null(strstr(loco_error_message(), "1: /srv/loco/adapters/code/code.gguf"));
    loco_remote_close(r);
    fake_stop(&f);
}

/* ---- loco serve ------------------------------------------------------------- */

static void test_loco_serve(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f, "loco");
    struct loco_remote *r = loco_remote_open(f.url, LOCO_REMOTE_AUTO, "k3y");
    assert_non_null(r);
    assert_int_equal(loco_remote_kind(r), LOCO_REMOTE_LOCO);
    assert_int_equal(loco_remote_n_models(r), 4);
    assert_int_equal(loco_remote_model(r, 0)->kind, LOCO_REMOTE_MODEL_ROUTED);
    assert_int_equal(loco_remote_model(r, 1)->kind, LOCO_REMOTE_MODEL_BASE);
    assert_int_equal(loco_remote_model(r, 2)->kind, LOCO_REMOTE_MODEL_ADAPTER);
    char name[64];
    struct loco_remote_adapter set[2] = {{"math", NULL, 0.5f}, {"code", NULL, 0.5f}};
    assert_int_equal(loco_remote_model_for(r, set, 2, name, sizeof name), LOCO_OK);
    assert_string_equal(name, "loco:math:0.5+code:0.5");
    set[0].scale = 1.0f;
    assert_int_equal(loco_remote_model_for(r, set, 1, name, sizeof name), LOCO_OK);
    assert_string_equal(name, "loco:math");
    assert_int_equal(loco_remote_model_for(r, NULL, 0, name, sizeof name), LOCO_OK);
    assert_string_equal(name, "loco:base");
    assert_int_equal(loco_remote_model_for(r, set, 2, name, 8), LOCO_ERR_RANGE);

    set[0].scale = 0.5f;
    struct loco_remote_request q = request(set, 2);
    struct pieces p = {0};
    struct loco_generate_result res;
    assert_int_equal(loco_remote_chat(r, &q, on_piece, &p, &res), LOCO_OK);
    assert_string_equal(res.text, "Half and half.");
    assert_int_equal(res.n_prompt, 20);
    assert_int_equal(res.n_generated, 4);
    loco_generate_result_free(&res);
    cJSON *j = sent_json(&f);
    assert_string_equal(string(j, "model"), "loco:math:0.5+code:0.5");
    /* loco serve takes all three, and gets them always: its own defaults
     * (repeat penalty 1.1, top-k 40) must not stand in for the request's */
    struct loco_sampler_params dp = loco_generate_default_params().sampling;
    assert_near(number(j, "top_k"), dp.top_k, 0);
    assert_near(number(j, "min_p"), dp.min_p, 1e-6);
    assert_near(number(j, "repeat_penalty"), dp.repeat_penalty > 0 ? dp.repeat_penalty : 1, 1e-6);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "lora"));
    cJSON_Delete(j);
    assert_string_equal(f.auth, "Bearer k3y");

    /* the request body on its own */
    char *body = loco_remote_request_json(r, &q);
    assert_non_null(body);
    assert_non_null(strstr(body, "\"model\":\"loco:math:0.5+code:0.5\""));
    free(body);
    q.n_msgs = 0;
    assert_null(loco_remote_request_json(r, &q));
    assert_non_null(strstr(loco_error_message(), "at least one message"));
    loco_remote_close(r);
    fake_stop(&f);
}

/* ---- errors ----------------------------------------------------------------- */

static int chat_with(struct fake *f, struct loco_remote *r, const char *file, int status,
                     const char *type, struct pieces *p)
{
    fake_chat(f, file, status, type);
    struct loco_remote_adapter math = {"math", NULL, 1.0f};
    struct loco_remote_request q = request(&math, 1);
    struct loco_generate_result res;
    *p = (struct pieces){0};
    int rc = loco_remote_chat(r, &q, on_piece, p, &res);
    if (rc == LOCO_OK)
        loco_generate_result_free(&res);
    else
        assert_null(res.text);
    return rc;
}

static void test_errors(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f, "vllm");
    struct loco_remote *r = loco_remote_open(f.url, LOCO_REMOTE_VLLM, "sk-wrong");
    assert_non_null(r);
    struct pieces p;
    const char *json = "application/json", *sse = "text/event-stream";

    /* 401 in OpenAI's shape: the status, the engine's words, the key */
    assert_int_equal(chat_with(&f, r, "errors/openai-401.json", 401, json, &p), LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "HTTP 401: Incorrect API key provided"));
    assert_non_null(strstr(loco_error_message(), "refused the API key"));
    assert_non_null(strstr(loco_error_message(), f.url));

    /* 400 in llama-server's shape */
    assert_int_equal(chat_with(&f, r, "errors/llama-server-400.json", 400, json, &p),
                     LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "HTTP 400: the request exceeds the available "
                                                 "context size"));

    /* 500 in vLLM's older shape (the fields at the top) */
    assert_int_equal(chat_with(&f, r, "errors/vllm-500.json", 500, json, &p), LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "HTTP 500: The engine is dead"));

    /* a stream cut in the middle of an event: what came is streamed, then
     * the error */
    assert_int_equal(chat_with(&f, r, "errors/truncated.sse", 200, sse, &p), LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "the stream ended before the answer did"));
    assert_string_equal(p.text, "Natalia sold");

    /* an error event in the stream */
    assert_int_equal(chat_with(&f, r, "errors/error-event.sse", 200, sse, &p), LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "Engine loop has died"));

    /* a reply that is not a stream but a whole (OpenAI) chat completion */
    assert_int_equal(chat_with(&f, r, "vllm/models.json", 200, json, &p), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "neither a stream nor a chat completion") ||
                    strstr(loco_error_message(), "finish_reason"));

    /* the caller stops after the first piece: LOCO_OK, stopped by callback */
    fake_chat(&f, "vllm/chat.sse", 200, sse);
    struct loco_remote_adapter math = {"math", NULL, 1.0f};
    struct loco_remote_request q = request(&math, 1);
    struct loco_generate_result res;
    p = (struct pieces){.stop_after = 1};
    assert_int_equal(loco_remote_chat(r, &q, on_piece, &p, &res), LOCO_OK);
    assert_int_equal(res.stop, LOCO_STOP_CALLBACK);
    assert_string_equal(res.text, "def add(a, b):");
    loco_generate_result_free(&res);

    /* the byte limit */
    loco_remote_set_limits(r, 0, -1, 300);
    assert_int_equal(chat_with(&f, r, "vllm/chat.sse", 200, sse, &p), LOCO_ERR_NOMEM);
    assert_non_null(strstr(loco_error_message(), "passed 300 bytes"));

    /* one event past the 1 MiB an event may hold: as one line, and as
     * many data lines */
    loco_remote_set_limits(r, 0, -1, (size_t)8 << 20);
    f.chat_file = NULL;
    size_t cap = (size_t)3 << 20;
    char *big = malloc(cap);
    assert_non_null(big);
    for (int shape = 0; shape < 2; shape++) {
        size_t used = 0, width = shape ? 1000 : ((size_t)1 << 20) + 10;
        while (used < ((size_t)1 << 20) + 65536) {
            used += (size_t)snprintf(big + used, cap - used, "data: ");
            memset(big + used, 'a', width);
            used += width;
            big[used++] = '\n';
        }
        snprintf(big + used, cap - used, "\n");
        cJSON *route = cJSON_CreateObject();
        cJSON_AddStringToObject(route, "body", big);
        cJSON_AddStringToObject(route, "type", sse);
        cJSON_ReplaceItemInObject(f.routes, "POST /v1/chat/completions", route);
        struct loco_remote_request bq = request(NULL, 0);
        assert_int_equal(loco_remote_chat(r, &bq, NULL, NULL, &res), LOCO_ERR_FORMAT);
        if (!strstr(loco_error_message(), "an event larger than 1048576 bytes"))
            fail_msg("shape %d: %s", shape, loco_error_message());
    }
    free(big);

    /* the total timeout: an engine that says nothing */
    loco_remote_set_limits(r, 0, 1, (size_t)1 << 20);
    f.hang_ms = 2500;
    assert_int_equal(chat_with(&f, r, "vllm/chat.sse", 200, sse, &p), LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "POST /v1/chat/completions: Timeout"));
    f.hang_ms = 0;
    loco_remote_close(r);

    /* a key the engine refuses already when listing */
    f.chat_file = NULL;
    cJSON_ReplaceItemInObject(
        f.routes, "GET /v1/models",
        cJSON_Parse("{\"status\":401,\"file\":\"../errors/openai-401.json\"}"));
    assert_null(loco_remote_open(f.url, LOCO_REMOTE_AUTO, NULL));
    assert_non_null(strstr(loco_error_message(), "HTTP 401"));
    assert_non_null(strstr(loco_error_message(), "wants an API key"));
    fake_stop(&f);
}

static void test_whole_reply(void **state)
{
    (void)state;
    /* a server that ignores "stream": one chat.completion */
    struct fake f;
    fake_start(&f, "vllm");
    struct loco_remote *r = loco_remote_open(f.url, LOCO_REMOTE_OPENAI, NULL);
    assert_non_null(r);
    assert_int_equal(loco_remote_kind(r), LOCO_REMOTE_OPENAI);
    cJSON_ReplaceItemInObject(
        f.routes, "POST /v1/chat/completions",
        cJSON_Parse(
            "{\"body\":\"{\\\"object\\\":\\\"chat.completion\\\",\\\"choices\\\":[{"
            "\\\"index\\\":0,\\\"message\\\":{\\\"role\\\":\\\"assistant\\\",\\\"content\\\":"
            "\\\"Paris.\\\"},\\\"finish_reason\\\":\\\"stop\\\"}],\\\"usage\\\":{"
            "\\\"prompt_tokens\\\":9,\\\"completion_tokens\\\":2}}\"}"));
    struct loco_remote_request q = request(NULL, 0);
    struct pieces p = {0};
    struct loco_generate_result res;
    assert_int_equal(loco_remote_chat(r, &q, on_piece, &p, &res), LOCO_OK);
    assert_string_equal(res.text, "Paris.");
    assert_string_equal(p.text, "Paris.");
    assert_int_equal(res.n_generated, 2);
    loco_generate_result_free(&res);
    cJSON *j = sent_json(&f);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "top_k")); /* openai: the standard fields */
    cJSON_Delete(j);
    loco_remote_close(r);
    fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_open_refuses_bad_urls),
        cmocka_unit_test(test_vllm_detect_and_models),
        cmocka_unit_test(test_vllm_chat_streams),
        cmocka_unit_test(test_vllm_refuses_sets_and_scales),
        cmocka_unit_test(test_llama_server),
        cmocka_unit_test(test_loco_serve),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_whole_reply),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
