/*
 * test-api.c - request bodies of `loco serve` (loco/api.h): each API's
 * fields are read, defaults apply, and every hostile body is refused with
 * the field at fault and the right HTTP status; the UTF-8 check; the
 * OpenAI error object. Also the Prometheus text (loco/metrics.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "loco/api.h"
#include "loco/core.h"
#include "loco/metrics.h"
#include "testutil.h"

static int parse(enum loco_api_kind k, const char *body, struct loco_api_request *r,
                 struct loco_api_error *e)
{
    return loco_api_parse(k, body, strlen(body), NULL, r, e);
}

static void test_chat(void **state)
{
    (void)state;
    struct loco_api_request r;
    struct loco_api_error e;
    const char *body =
        "{\"model\":\"loco:math\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is \"},"
        "{\"type\":\"text\",\"text\":\"2+2?\"}]},{\"role\":\"assistant\",\"content\":\"4\"},"
        "{\"role\":\"developer\",\"content\":\"Sys\"},{\"role\":\"user\",\"content\":\"And 3+3?\"}],"
        "\"max_completion_tokens\":64,\"temperature\":0.5,\"top_p\":0.75,\"seed\":7,"
        "\"stop\":[\"\\n\\n\",\"END\"],\"n\":2,\"stream\":true,"
        "\"stream_options\":{\"include_usage\":true},\"loco\":{\"strategy\":\"re2\"},"
        "\"min_p\":0.05,\"repetition_penalty\":1.2,"
        "\"frequency_penalty\":0,\"user\":\"someone\"}";
    assert_int_equal(parse(LOCO_API_CHAT, body, &r, &e), LOCO_OK);
    assert_string_equal(r.model, "loco:math");
    assert_int_equal(r.n_msgs, 5);
    assert_string_equal(r.msgs[1].content, "What is 2+2?");
    assert_string_equal(r.msgs[3].role, "system"); /* developer is system */
    assert_string_equal(r.msgs[4].content, "And 3+3?");
    assert_int_equal(r.max_tokens, 64);
    assert_true(r.has_temperature && r.temperature == 0.5);
    assert_true(r.has_top_p && r.top_p == 0.75);
    assert_true(r.has_seed && r.seed == 7);
    assert_int_equal(r.n_stop, 2);
    assert_string_equal(r.stop[1], "END");
    assert_int_equal(r.n, 2);
    assert_true(r.stream && r.include_usage);
    assert_string_equal(r.strategy, "re2");
    assert_true(r.has_min_p && r.min_p == 0.05);
    assert_true(r.has_repeat_penalty && r.repeat_penalty == 1.2);
    loco_api_request_free(&r);

    /* defaults */
    assert_int_equal(parse(LOCO_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                           &r, &e),
                     LOCO_OK);
    assert_string_equal(r.model, "loco");
    assert_int_equal(r.max_tokens, -1);
    assert_false(r.has_temperature || r.has_seed || r.stream);
    assert_int_equal(r.n, 1);
    assert_null(r.strategy);
    loco_api_request_free(&r);
    /* stop as one string */
    assert_int_equal(parse(LOCO_API_CHAT,
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop\":\"x\"}",
                           &r, &e),
                     LOCO_OK);
    assert_int_equal(r.n_stop, 1);
    loco_api_request_free(&r);
}

static void test_completion_and_ollama(void **state)
{
    (void)state;
    struct loco_api_request r;
    struct loco_api_error e;
    assert_int_equal(parse(LOCO_API_COMPLETION,
                           "{\"model\":\"loco:base\",\"prompt\":[\"Once upon\"],\"max_tokens\":5}",
                           &r, &e),
                     LOCO_OK);
    assert_string_equal(r.prompt, "Once upon");
    assert_null(r.msgs);
    assert_int_equal(r.max_tokens, 5);
    loco_api_request_free(&r);

    assert_int_equal(parse(LOCO_API_OLLAMA_CHAT,
                           "{\"model\":\"loco\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                           "\"options\":{\"num_predict\":9,\"temperature\":0,\"seed\":3,"
                           "\"top_k\":5,\"stop\":[\"a\"],\"repeat_penalty\":1,\"min_p\":0}}",
                           &r, &e),
                     LOCO_OK);
    assert_true(r.stream); /* Ollama streams unless told not to */
    assert_int_equal(r.max_tokens, 9);
    assert_true(r.has_temperature && r.temperature == 0);
    assert_true(r.has_top_k && r.top_k == 5);
    assert_true(r.has_repeat_penalty && r.repeat_penalty == 1);
    assert_true(r.has_min_p && r.min_p == 0);
    assert_int_equal(r.n_stop, 1);
    loco_api_request_free(&r);
    /* num_predict -1 (no limit) leaves the server's default */
    assert_int_equal(parse(LOCO_API_OLLAMA_GENERATE,
                           "{\"prompt\":\"p\",\"system\":\"s\",\"raw\":true,\"stream\":false,"
                           "\"options\":{\"num_predict\":-1}}",
                           &r, &e),
                     LOCO_OK);
    assert_false(r.stream);
    assert_true(r.raw);
    assert_string_equal(r.system, "s");
    assert_int_equal(r.max_tokens, -1);
    loco_api_request_free(&r);
}

struct refusal {
    enum loco_api_kind kind;
    const char *body;
    int status;
    const char *param;
};

static void test_refusals(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        {LOCO_API_CHAT, "", 400, ""},
        {LOCO_API_CHAT, "{", 400, ""},
        {LOCO_API_CHAT, "[]", 400, ""},
        {LOCO_API_CHAT, "{} {}", 400, ""},
        {LOCO_API_CHAT, "{\"messages\":[]}", 400, "messages"},
        {LOCO_API_CHAT, "{}", 400, "messages"},
        {LOCO_API_CHAT, "{\"messages\":\"hi\"}", 400, "messages"},
        {LOCO_API_CHAT, "{\"messages\":[1]}", 400, "messages[0]"},
        {LOCO_API_CHAT, "{\"messages\":[{\"content\":\"x\"}]}", 400, "messages[0]"},
        {LOCO_API_CHAT, "{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", 400,
         "messages[0]"},
        {LOCO_API_CHAT, "{\"messages\":[{\"role\":\"user\"}]}", 400, "messages[0]"},
        {LOCO_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":7}]}", 400, "messages[0]"},
        {LOCO_API_CHAT,
         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", 400,
         "messages[0]"},
        {LOCO_API_CHAT, "{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", 400,
         "messages"},
        {LOCO_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}", 400, ""},
        {LOCO_API_CHAT, "{\"model\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "model"},
        {LOCO_API_CHAT,
         "{\"max_tokens\":1e999,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "max_tokens"},
        {LOCO_API_CHAT, "{\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         400, "max_tokens"},
        {LOCO_API_CHAT,
         "{\"max_tokens\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "max_tokens"},
        {LOCO_API_CHAT,
         "{\"max_tokens\":\"9\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "max_tokens"},
        {LOCO_API_CHAT,
         "{\"max_tokens\":5000,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "max_tokens"},
        {LOCO_API_CHAT,
         "{\"temperature\":-1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "temperature"},
        {LOCO_API_CHAT, "{\"top_p\":2,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "top_p"},
        {LOCO_API_CHAT,
         "{\"repeat_penalty\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "repeat_penalty"},
        {LOCO_API_CHAT, "{\"min_p\":-1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         400, "min_p"},
        {LOCO_API_CHAT, "{\"n\":99,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "n"},
        {LOCO_API_CHAT, "{\"stream\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "stream"},
        {LOCO_API_CHAT,
         "{\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"],\"messages\":[{\"role\":\"user\",\"content\":"
         "\"x\"}]}",
         400, "stop"},
        {LOCO_API_CHAT, "{\"stop\":[1],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "stop"},
        {LOCO_API_CHAT,
         "{\"tools\":[{\"type\":\"function\"}],\"messages\":[{\"role\":\"user\",\"content\":"
         "\"x\"}]}",
         400, "tools"},
        {LOCO_API_CHAT,
         "{\"logprobs\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "logprobs"},
        {LOCO_API_CHAT,
         "{\"response_format\":{\"type\":\"json_object\"},\"messages\":[{\"role\":\"user\","
         "\"content\":\"x\"}]}",
         400, "response_format"},
        {LOCO_API_CHAT, "{\"loco\":3,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "loco"},
        {LOCO_API_COMPLETION, "{\"prompt\":[\"a\",\"b\"]}", 400, "prompt"},
        {LOCO_API_COMPLETION, "{\"prompt\":\"\"}", 400, "prompt"},
        {LOCO_API_COMPLETION, "{}", 400, "prompt"},
        {LOCO_API_OLLAMA_CHAT,
         "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"images\":[\"AAAA\"]}]}", 400,
         "messages[0]"},
        {LOCO_API_OLLAMA_CHAT,
         "{\"options\":[],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "options"},
        {LOCO_API_OLLAMA_GENERATE, "{\"prompt\":\"x\",\"format\":\"json\"}", 400, "format"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct loco_api_request r;
        struct loco_api_error e;
        int rc = parse(cases[i].kind, cases[i].body, &r, &e);
        if (rc == LOCO_OK || e.status != cases[i].status || strcmp(e.param, cases[i].param))
            fail_msg("case %zu (%s): rc %d status %d param '%s' (%s)", i, cases[i].body, rc,
                     e.status, e.param, e.message);
        assert_true(strlen(e.message) > 0);
        assert_null(r.model);
    }
    /* size, UTF-8 and NUL bytes are checked before parsing */
    struct loco_api_limits lim = loco_api_default_limits();
    lim.max_body = 16;
    struct loco_api_request r;
    struct loco_api_error e;
    const char *big = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    assert_int_equal(loco_api_parse(LOCO_API_CHAT, big, strlen(big), &lim, &r, &e),
                     LOCO_ERR_RANGE);
    assert_int_equal(e.status, 413);
    const char bad[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}";
    assert_int_equal(loco_api_parse(LOCO_API_CHAT, bad, sizeof bad - 1, NULL, &r, &e),
                     LOCO_ERR_FORMAT);
    const char nul[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\0b\"}]}";
    assert_int_equal(loco_api_parse(LOCO_API_CHAT, nul, sizeof nul - 1, NULL, &r, &e),
                     LOCO_ERR_FORMAT);
    /* an escaped backslash before u0000 is text, not a NUL */
    const char *text = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\\\\u0000b\"}]}";
    assert_int_equal(parse(LOCO_API_CHAT, text, &r, &e), LOCO_OK);
    assert_string_equal(r.msgs[0].content, "a\\u0000b");
    loco_api_request_free(&r);
    /* too many messages */
    lim = loco_api_default_limits();
    lim.max_messages = 1;
    const char *two = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"user\","
                      "\"content\":\"y\"}]}";
    assert_int_equal(loco_api_parse(LOCO_API_CHAT, two, strlen(two), &lim, &r, &e),
                     LOCO_ERR_RANGE);
    assert_string_equal(e.param, "messages");
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"plain", true},           {"caf\xc3\xa9", true},   {"\xe2\x82\xac", true},
        {"\xf0\x9f\x98\x80", true}, {"\xc3", false},         {"\xc0\xaf", false},
        {"\xe0\x80\xaf", false},    {"\xed\xa0\x80", false}, {"\xf4\x90\x80\x80", false},
        {"\xff", false},            {"\x80", false},         {"a\xe2\x82", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (loco_api_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
            fail_msg("case %zu", i);
}

static void test_error_json(void **state)
{
    (void)state;
    struct loco_api_error e;
    assert_int_equal(loco_api_fail(&e, LOCO_ERR_RANGE, 429, "", "busy %d", 3), LOCO_ERR_RANGE);
    char *s = loco_api_error_json(&e);
    cJSON *j = cJSON_Parse(s);
    cJSON *err = cJSON_GetObjectItem(j, "error");
    assert_string_equal(cJSON_GetObjectItem(err, "message")->valuestring, "busy 3");
    assert_string_equal(cJSON_GetObjectItem(err, "type")->valuestring, "rate_limit_error");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(err, "param")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(err, "code")));
    cJSON_Delete(j);
    free(s);
    loco_api_fail(&e, LOCO_ERR_TYPE, 400, "max_tokens", "x");
    s = loco_api_error_json(&e);
    j = cJSON_Parse(s);
    err = cJSON_GetObjectItem(j, "error");
    assert_string_equal(cJSON_GetObjectItem(err, "param")->valuestring, "max_tokens");
    assert_string_equal(cJSON_GetObjectItem(err, "type")->valuestring, "invalid_request_error");
    cJSON_Delete(j);
    free(s);
    loco_api_fail(&e, LOCO_ERR_NOT_FOUND, 404, "model", "x");
    assert_string_equal(e.type, "not_found_error");
    loco_api_fail(&e, LOCO_ERR_INVALID, 401, "", "x");
    assert_string_equal(e.type, "authentication_error");
    loco_api_fail(&e, LOCO_ERR_IO, 503, "", "x");
    assert_string_equal(e.type, "server_error");
}

static void test_metrics(void **state)
{
    (void)state;
    struct loco_metrics *m = loco_metrics_new();
    assert_non_null(m);
    loco_metrics_request(m, "/v1/chat/completions", 200);
    loco_metrics_request(m, "/v1/chat/completions", 200);
    loco_metrics_request(m, "/v1/chat/completions", 429);
    loco_metrics_request(m, "/weird", 404);
    loco_metrics_answer(m, "math", 30, 10, 0.07, 0.3);
    loco_metrics_answer(m, "math", 20, 5, 0.2, 3.0);
    loco_metrics_answer(m, "we\"ird\\", 1, 1, -1, 200);
    loco_metrics_answer(m, NULL, 5, 5, 0.01, 0.02);
    struct loco_sched_stats st = {.slots = 8, .running = 2, .queued = 3, .steps = 4,
                                  .step_rows = 10, .batch_hist = {1, 0, 3}};
    char *t = loco_metrics_text(m, &st, 123456);
    assert_non_null(t);
    static const char *const want[] = {
        "loco_http_requests_total{endpoint=\"/v1/chat/completions\",code=\"200\"} 2\n",
        "loco_http_requests_total{endpoint=\"/v1/chat/completions\",code=\"429\"} 1\n",
        "loco_http_requests_total{endpoint=\"other\",code=\"404\"} 1\n",
        "loco_answers_total{adapter=\"math\"} 2\n",
        "loco_prompt_tokens_total{adapter=\"math\"} 50\n",
        "loco_generated_tokens_total{adapter=\"math\"} 15\n",
        "loco_answers_total{adapter=\"base\"} 1\n",
        "loco_answers_total{adapter=\"we\\\"ird\\\\\"} 1\n",
        /* 0.07 falls in le=0.1, 0.2 in le=0.25: cumulative */
        "loco_time_to_first_token_seconds_bucket{adapter=\"math\",le=\"0.05\"} 0\n",
        "loco_time_to_first_token_seconds_bucket{adapter=\"math\",le=\"0.1\"} 1\n",
        "loco_time_to_first_token_seconds_bucket{adapter=\"math\",le=\"0.25\"} 2\n",
        "loco_time_to_first_token_seconds_bucket{adapter=\"math\",le=\"+Inf\"} 2\n",
        "loco_time_to_first_token_seconds_count{adapter=\"math\"} 2\n",
        /* no first token: only the latency is observed; 200 s is above every bound */
        "loco_time_to_first_token_seconds_count{adapter=\"we\\\"ird\\\\\"} 0\n",
        "loco_request_duration_seconds_bucket{adapter=\"we\\\"ird\\\\\",le=\"120\"} 0\n",
        "loco_request_duration_seconds_bucket{adapter=\"we\\\"ird\\\\\",le=\"+Inf\"} 1\n",
        "loco_queue_depth 3\n",
        "loco_running 2\n",
        "loco_slots 8\n",
        "loco_batch_size_bucket{le=\"1\"} 1\n",
        "loco_batch_size_bucket{le=\"4\"} 4\n",
        "loco_batch_size_bucket{le=\"+Inf\"} 4\n",
        "loco_batch_size_sum 10\n",
        "loco_batch_size_count 4\n",
        "process_resident_memory_bytes 123456\n",
        "# TYPE loco_request_duration_seconds histogram\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(t, want[i]))
            fail_msg("missing: %s\nin:\n%s", want[i], t);
    free(t);
    /* adapters past the limit count as "other" */
    for (int i = 0; i < LOCO_METRICS_MAX_ADAPTERS + 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "a%d", i);
        loco_metrics_answer(m, name, 1, 1, 0.1, 0.1);
    }
    t = loco_metrics_text(m, NULL, 0);
    assert_non_null(strstr(t, "loco_answers_total{adapter=\"other\"}"));
    assert_null(strstr(t, "loco_queue_depth"));
    assert_null(strstr(t, "process_resident_memory_bytes"));
    free(t);
    loco_metrics_free(m);
    assert_true(loco_metrics_rss() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat),
        cmocka_unit_test(test_completion_and_ollama),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_metrics),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
