/*
 * test-judge.c - the judge (loco/judge.h) and the pass@k estimator
 * (loco/eval.h): the rubric prompts, reading a rating out of hostile
 * replies, the normalisation, and one chat completion from a tiny HTTP
 * server that this test runs on 127.0.0.1 and that answers with canned
 * replies (good, malformed, errors, silence).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loco/eval.h"
#include "loco/judge.h"
#include "testutil.h"

/* |got - want| <= tol, in double precision (cmocka's float assert rounds). */
/* ---- pass@k ---------------------------------------------------------------- */

static void test_pass_at_k_hand_values(void **state)
{
    (void)state;
    /* k = 1 is the fraction correct */
    assert_near(loco_eval_pass_at_k(10, 3, 1), 0.3, 1e-15);
    assert_near(loco_eval_pass_at_k(1, 1, 1), 1.0, 0);
    assert_near(loco_eval_pass_at_k(1, 0, 1), 0.0, 0);
    /* 1 - C(2,2)/C(4,2) = 1 - 1/6 */
    assert_near(loco_eval_pass_at_k(4, 2, 2), 5.0 / 6.0, 1e-15);
    /* 1 - C(7,5)/C(10,5) = 1 - 21/252 = 11/12 */
    assert_near(loco_eval_pass_at_k(10, 3, 5), 11.0 / 12.0, 1e-15);
    /* 1 - C(8,3)/C(10,3) = 1 - 56/120 */
    assert_near(loco_eval_pass_at_k(10, 2, 3), 1.0 - 56.0 / 120.0, 1e-15);
    /* n - c < k: every draw holds a correct sample */
    assert_near(loco_eval_pass_at_k(10, 6, 5), 1.0, 0);
    assert_near(loco_eval_pass_at_k(5, 5, 5), 1.0, 0);
    assert_near(loco_eval_pass_at_k(5, 0, 5), 0.0, 0);
    /* 1 - C(199,100)/C(200,100) = 1 - 100/200 */
    assert_near(loco_eval_pass_at_k(200, 1, 100), 0.5, 1e-12);
    /* large n: C(200, 100) overflows a double, the product does not */
    double v = loco_eval_pass_at_k(200, 37, 100);
    assert_true(v > 0.999999 && v <= 1.0);
    /* undefined */
    assert_true(isnan(loco_eval_pass_at_k(5, 1, 0)));
    assert_true(isnan(loco_eval_pass_at_k(5, 1, 6)));
    assert_true(isnan(loco_eval_pass_at_k(5, 6, 1)));
}

/* pass@k rises with k and with c. */
static void test_pass_at_k_monotone(void **state)
{
    (void)state;
    for (uint32_t c = 0; c <= 20; c++)
        for (uint32_t k = 1; k < 20; k++) {
            assert_true(loco_eval_pass_at_k(20, c, k + 1) >= loco_eval_pass_at_k(20, c, k));
            if (c < 20)
                assert_true(loco_eval_pass_at_k(20, c + 1, k) >= loco_eval_pass_at_k(20, c, k));
        }
}

/* ---- ratings ------------------------------------------------------------------- */

static void expect_rating(const char *reply, int32_t max, double want)
{
    double r = -1;
    int rc = loco_judge_parse_rating(reply, max, &r);
    if (rc != LOCO_OK)
        fail_msg("\"%s\" (max %d): status %d, want rating %g", reply, max, rc, want);
    assert_near(r, want, 1e-12);
}

static void expect_no_rating(const char *reply, int32_t max, int status)
{
    double r = -1;
    int rc = loco_judge_parse_rating(reply, max, &r);
    if (rc != status)
        fail_msg("\"%s\" (max %d): status %d, want %d", reply, max, rc, status);
    assert_near(r, -1, 0); /* untouched */
}

static void test_parse_rating_formats(void **state)
{
    (void)state;
    expect_rating("Rating: [[7]]", 10, 7);
    expect_rating("The story is vivid.\n\nRating: [[9]]", 10, 9);
    expect_rating("[[ 10 ]]", 10, 10);
    expect_rating("[[1]]", 10, 1);
    expect_rating("[[7.5]]", 10, 7.5);
    expect_rating("Rating: 7/10", 10, 7);
    expect_rating("rating = 6", 10, 6);
    expect_rating("**Rating:** 8", 10, 8);
    expect_rating("Rating: [[4", 5, 4); /* the local judge ran out of tokens */
    expect_rating("Feedback: fine. [RESULT] 4", 5, 4);
    /* the first [[N]] wins, wherever a "Rating" is */
    expect_rating("Rating: 3. Actually [[6]]", 10, 6);
    expect_rating("[[6]] and later [[2]]", 10, 6);
    /* the prefilled local judge: "Rating: [[" + what it generated */
    expect_rating("Rating: [[8]]\nThe answer", 10, 8);
}

static void test_parse_rating_hostile(void **state)
{
    (void)state;
    expect_no_rating("Rating: [[11]]", 10, LOCO_ERR_RANGE);
    expect_no_rating("[[0]]", 10, LOCO_ERR_RANGE);
    expect_no_rating("[[6]]", 5, LOCO_ERR_RANGE);
    expect_no_rating("Rating: 7/10", 5, LOCO_ERR_RANGE); /* another scale */
    expect_no_rating("Rating: 4/5", 10, LOCO_ERR_RANGE);
    expect_no_rating("[[99999999999999999999999999999999]]", 10, LOCO_ERR_RANGE);
    expect_no_rating("Rating: 1000000000000000000000000000000000000000", 10, LOCO_ERR_RANGE);
    expect_no_rating("Rating: 7/999999999999999999999999", 10, LOCO_ERR_RANGE);
    expect_no_rating("no digit here", 10, LOCO_ERR_NOT_FOUND);
    expect_no_rating("", 10, LOCO_ERR_NOT_FOUND);
    expect_no_rating("Rating: [[rating]]", 10, LOCO_ERR_NOT_FOUND);
    expect_no_rating("Rating: excellent", 10, LOCO_ERR_NOT_FOUND);
    expect_no_rating("underrating 5", 10, LOCO_ERR_NOT_FOUND); /* "rating" inside a word */
    expect_no_rating("[[-3]]", 10, LOCO_ERR_NOT_FOUND);
    expect_no_rating("[[7", 10, LOCO_ERR_NOT_FOUND);
    expect_no_rating("Once upon a time there was a dog.", 10, LOCO_ERR_NOT_FOUND);
    /* UTF-8 junk: invalid bytes, a zero-width space, full-width digits */
    expect_no_rating("\xff\xfe\xfd [[\xe2\x80\x8b"
                     "7]] \xc3",
                     10, LOCO_ERR_NOT_FOUND);
    expect_no_rating("[[\xef\xbc\x97]]", 10, LOCO_ERR_NOT_FOUND);
    expect_rating("\xff\xfe Rating: [[7]] \xe2\x80", 10, 7);
    double r;
    assert_int_equal(loco_judge_parse_rating(NULL, 10, &r), LOCO_ERR_INVALID);
    assert_int_equal(loco_judge_parse_rating("[[1]]", 1, &r), LOCO_ERR_INVALID);
}

static void test_normalise(void **state)
{
    (void)state;
    assert_near(loco_judge_normalise(1, 10), 0.0, 0);
    assert_near(loco_judge_normalise(10, 10), 1.0, 0);
    assert_near(loco_judge_normalise(7, 10), 6.0 / 9.0, 1e-15);
    assert_near(loco_judge_normalise(3, 5), 0.5, 0);
    assert_int_equal(loco_judge_rubric_max(LOCO_JUDGE_MTBENCH), 10);
    assert_int_equal(loco_judge_rubric_max(LOCO_JUDGE_PROMETHEUS), 5);
}

/* ---- prompts ------------------------------------------------------------------- */

static void expect_in(const char *text, const char *frag)
{
    if (!text)
        fail_msg("no prompt (looking for \"%s\")", frag ? frag : "");
    else if (!frag || !strstr(text, frag))
        fail_msg("the prompt lacks \"%s\":\n%s", frag ? frag : "", text);
}

static void test_prompt_mtbench(void **state)
{
    (void)state;
    char *p = loco_judge_prompt(LOCO_JUDGE_MTBENCH, "Write a haiku about rain.",
                                "Rain on the tin roof", NULL, NULL);
    assert_non_null(p);
    expect_in(p, "[Request]\nWrite a haiku about rain.\n");
    expect_in(p, "[The start of the assistant's answer]\nRain on the tin roof\n"
                 "[The end of the assistant's answer]");
    expect_in(p, "after \"Rating: \" inside double square brackets");
    expect_in(p, "from 1 to 10");
    /* no placeholder a small judge could copy instead of a number */
    assert_null(strstr(p, "[[N]]"));
    assert_null(strstr(p, "[A reference answer]"));
    assert_null(strstr(p, "[What to grade]"));
    /* the format instruction comes last, after the answer */
    assert_true(strstr(p, "double square brackets") > strstr(p, "[The end of"));
    free(p);
    p = loco_judge_prompt(LOCO_JUDGE_MTBENCH, "Q?", "A.", "A model answer.", "Be brief.");
    expect_in(p, "[What to grade]\nBe brief.\n");
    expect_in(p, "[A reference answer]\nA model answer.\n");
    free(p);
    /* empty strings are absent */
    p = loco_judge_prompt(LOCO_JUDGE_MTBENCH, "Q?", "", "", "");
    assert_null(strstr(p, "[A reference answer]"));
    free(p);
    assert_null(loco_judge_prompt(LOCO_JUDGE_MTBENCH, NULL, "A", NULL, NULL));
    assert_null(loco_judge_prompt(LOCO_JUDGE_MTBENCH, "Q", NULL, NULL, NULL));
}

static void test_prompt_prometheus(void **state)
{
    (void)state;
    char *p = loco_judge_prompt(LOCO_JUDGE_PROMETHEUS, "Write a letter.", "Dear Sam,", NULL, NULL);
    expect_in(p, "###Request:\nWrite a letter.\n");
    expect_in(p, "###Answer to evaluate:\nDear Sam,\n");
    expect_in(p, "Score 1: ");
    expect_in(p, "Score 5: ");
    expect_in(p, "from 1 to 5");
    expect_in(p, "[Does the answer do what the request asks");
    assert_null(strstr(p, "###Reference answer"));
    free(p);
    p = loco_judge_prompt(LOCO_JUDGE_PROMETHEUS, "Q", "A", "R", "Is it about autumn?");
    expect_in(p, "###Reference answer (score 5):\nR\n");
    expect_in(p, "###Score rubric:\n[Is it about autumn?]\n");
    free(p);
}

/* docs/benchmarks.md prints the rubric prompts; they must be the ones sent. */
static void test_docs_show_the_prompts(void **state)
{
    (void)state;
    char *docs = test_source_text("docs/benchmarks.md");
    char *mt =
        loco_judge_prompt(LOCO_JUDGE_MTBENCH, "<request>", "<answer>", "<reference>", "<rubric>");
    char *pr = loco_judge_prompt(LOCO_JUDGE_PROMETHEUS, "<request>", "<answer>", NULL, NULL);
    expect_in(docs, mt);
    expect_in(docs, pr);
    expect_in(docs, loco_judge_system_prompt());
    free(mt);
    free(pr);
    free(docs);
}

static void test_rubric_names(void **state)
{
    (void)state;
    enum loco_judge_rubric r;
    assert_int_equal(loco_judge_rubric_parse("prometheus", &r), LOCO_OK);
    assert_int_equal(r, LOCO_JUDGE_PROMETHEUS);
    assert_int_equal(loco_judge_rubric_parse("mtbench", &r), LOCO_OK);
    assert_int_equal(r, LOCO_JUDGE_MTBENCH);
    assert_string_equal(loco_judge_rubric_name(r), "mtbench");
    assert_int_equal(loco_judge_rubric_parse("gpt4", &r), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "prometheus"));
    struct loco_judge_params p = loco_judge_default_params();
    assert_int_equal(p.n_judgments, 3);
    assert_null(p.url); /* never a network judge unless asked */
}

/* ---- the endpoint ------------------------------------------------------------- */

static void test_chat_url(void **state)
{
    (void)state;
    char *u = loco_judge_chat_url("http://localhost:8080/v1");
    assert_string_equal(u, "http://localhost:8080/v1/chat/completions");
    free(u);
    u = loco_judge_chat_url("https://api.example.com/v1/chat/completions");
    assert_string_equal(u, "https://api.example.com/v1/chat/completions");
    free(u);
    u = loco_judge_chat_url("http://127.0.0.1:9/");
    assert_string_equal(u, "http://127.0.0.1:9/v1/chat/completions");
    free(u);
    assert_null(loco_judge_chat_url("file:///etc/passwd"));
    assert_non_null(strstr(loco_error_message(), "not http(s)"));
    assert_null(loco_judge_chat_url(NULL));
}

static void test_completion_content(void **state)
{
    (void)state;
    const char *ok = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                     "\"content\":\"Fine. Rating: [[8]]\"}}]}";
    char *c = NULL;
    assert_int_equal(loco_judge_completion_content(ok, strlen(ok), &c), LOCO_OK);
    assert_string_equal(c, "Fine. Rating: [[8]]");
    free(c);
    const char *bad[] = {"<html>502 Bad Gateway</html>",
                         "{\"choices\": []}",
                         "{\"choices\": [{\"message\": {\"content\": 7}}]}",
                         "[1, 2",
                         "{\"error\": {\"message\": \"model not found\"}}",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = NULL;
        assert_int_equal(loco_judge_completion_content(bad[i], strlen(bad[i]), &c),
                         LOCO_ERR_FORMAT);
        assert_null(c);
    }
    loco_judge_completion_content(bad[4], strlen(bad[4]), &c);
    assert_non_null(strstr(loco_error_message(), "model not found"));
    loco_judge_completion_content(bad[0], strlen(bad[0]), &c);
    assert_non_null(strstr(loco_error_message(), "not JSON"));
}

/* A one-thread HTTP server on 127.0.0.1 answering each connection with the
 * next canned reply (a whole HTTP response; NULL: read the request, then say
 * nothing for 3 s). It keeps the last request it read. */
struct fake_server {
    int fd;
    int port;
    const char *replies[8];
    int n_replies;
    char request[16384];
    pthread_t thread;
};

static void read_request(int c, char *buf, size_t cap)
{
    size_t len = 0;
    long want = -1;
    while (len + 1 < cap) {
        ssize_t k = recv(c, buf + len, cap - 1 - len, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strcasestr(buf, "Content-Length:");
        if (end && cl && want < 0)
            want = (end + 4 - buf) + strtol(cl + 15, NULL, 10);
        if (end && want >= 0 && (long)len >= want)
            break;
    }
    buf[len] = '\0';
}

static void *fake_serve(void *arg)
{
    struct fake_server *s = arg;
    for (int i = 0; i < s->n_replies; i++) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            break;
        read_request(c, s->request, sizeof s->request);
        if (s->replies[i])
            (void)!write(c, s->replies[i], strlen(s->replies[i]));
        else
            sleep(3);
        close(c);
    }
    return NULL;
}

static void fake_start(struct fake_server *s)
{
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, fake_serve, s), 0);
}

static void fake_stop(struct fake_server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* A whole HTTP response with `body`. */
static char *http_reply(int code, const char *body)
{
    char *r = NULL;
    if (asprintf(&r,
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s",
                 code, strlen(body), body) < 0)
        return NULL;
    return r;
}

static int ask(struct fake_server *s, uint32_t retries, const char *key, char **reply)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", s->port);
    struct loco_judge_params p = loco_judge_default_params();
    p.url = url;
    p.model = "fake-judge";
    p.api_key = key;
    p.retries = retries;
    p.timeout_s = 1;
    struct loco_chat_msg msgs[2] = {{"system", loco_judge_system_prompt()},
                                    {"user", "Rate \"this\"\nplease"}};
    *reply = NULL;
    return loco_judge_http_chat(&p, msgs, 2, 12345, reply);
}

static void test_http_judge(void **state)
{
    (void)state;
    char *good = http_reply(200, "{\"choices\":[{\"message\":{\"role\":\"assistant\","
                                 "\"content\":\"Good. Rating: [[7]]\"}}]}");
    char *busy = http_reply(503, "{\"error\":{\"message\":\"overloaded\"}}");
    char *denied = http_reply(401, "{\"error\":{\"message\":\"bad key\"}}");
    char *junk = http_reply(200, "<html>not json</html>");
    char *empty = http_reply(200, "{\"choices\":[]}");
    struct fake_server s = {.replies = {good, busy, good, denied, junk, empty, NULL},
                            .n_replies = 7};
    fake_start(&s);
    char *reply = NULL;

    /* a good reply, and what was sent */
    assert_int_equal(ask(&s, 0, "sk-test", &reply), LOCO_OK);
    assert_string_equal(reply, "Good. Rating: [[7]]");
    free(reply);
    assert_non_null(strstr(s.request, "POST /v1/chat/completions "));
    assert_non_null(strcasestr(s.request, "Authorization: Bearer sk-test"));
    char *body = strstr(s.request, "\r\n\r\n") + 4;
    assert_non_null(strstr(body, "\"model\":\"fake-judge\""));
    assert_non_null(strstr(body, "\"seed\":12345"));
    assert_non_null(strstr(body, "\"content\":\"Rate \\\"this\\\"\\nplease\""));
    assert_non_null(strstr(body, "\"role\":\"system\""));

    /* 503 is tried again (after 1 s) and then succeeds */
    assert_int_equal(ask(&s, 1, NULL, &reply), LOCO_OK);
    assert_string_equal(reply, "Good. Rating: [[7]]");
    free(reply);
    assert_null(strcasestr(s.request, "Authorization:"));

    /* 401: no retry, the server's message and the fix */
    assert_int_equal(ask(&s, 2, "wrong", &reply), LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "HTTP 401: bad key"));
    assert_non_null(strstr(loco_error_message(), "LOCO_JUDGE_API_KEY"));
    assert_non_null(strstr(loco_error_message(), "/v1/chat/completions"));

    /* malformed replies */
    assert_int_equal(ask(&s, 2, NULL, &reply), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "not JSON"));
    assert_int_equal(ask(&s, 2, NULL, &reply), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "choices[0].message.content"));
    assert_null(reply);

    /* silence: the 1 s timeout, no retry asked */
    assert_int_equal(ask(&s, 0, NULL, &reply), LOCO_ERR_NETWORK);
    assert_non_null(strstr(loco_error_message(), "127.0.0.1"));
    fake_stop(&s);

    /* nobody listening */
    s.port = 9; /* discard: closed on a test machine */
    assert_int_equal(ask(&s, 0, NULL, &reply), LOCO_ERR_NETWORK);
    free(good);
    free(busy);
    free(denied);
    free(junk);
    free(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_at_k_hand_values),
        cmocka_unit_test(test_pass_at_k_monotone),
        cmocka_unit_test(test_parse_rating_formats),
        cmocka_unit_test(test_parse_rating_hostile),
        cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_prompt_mtbench),
        cmocka_unit_test(test_prompt_prometheus),
        cmocka_unit_test(test_docs_show_the_prompts),
        cmocka_unit_test(test_rubric_names),
        cmocka_unit_test(test_chat_url),
        cmocka_unit_test(test_completion_content),
        cmocka_unit_test(test_http_judge),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
