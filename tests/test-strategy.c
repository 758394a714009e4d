/*
 * test-strategy.c - strategies (loco/strategy.h): parsing and naming, the
 * re2 prompt in the paper's words, the calculator (its evaluator, its
 * number format, its decision to inject), and calculator-annotated decoding
 * in the real generation loops (loco_generate and loco_generate_many) on
 * shared/fixtures/models/stories260K.gguf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "loco/generate.h"
#include "loco/model.h"
#include "loco/strategy.h"
#include "testutil.h"

/* ---- parsing and naming --------------------------------------------------- */

static void parse_known(void **state)
{
    (void)state;
    static const struct {
        const char *text, *name;
        enum loco_strategy_kind kind;
        bool rereads, calculates;
    } cases[] = {
        {"plain", "plain", LOCO_STRATEGY_PLAIN, false, false},
        {"re2", "re2", LOCO_STRATEGY_RE2, true, false},
        {"calc", "calc", LOCO_STRATEGY_CALC, false, true},
        {"re2+calc", "re2+calc", LOCO_STRATEGY_RE2_CALC, true, true},
        {"calc+re2", "re2+calc", LOCO_STRATEGY_RE2_CALC, true, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct loco_strategy st;
        char buf[LOCO_STRATEGY_NAME_MAX];
        assert_int_equal(loco_strategy_parse(cases[i].text, &st), LOCO_OK);
        assert_int_equal(st.kind, cases[i].kind);
        assert_int_equal(st.k, 1);
        assert_string_equal(loco_strategy_name(&st, buf, sizeof buf), cases[i].name);
        assert_int_equal(loco_strategy_rereads(&st), cases[i].rereads);
        assert_int_equal(loco_strategy_calculates(&st), cases[i].calculates);
    }
}

static void parse_refuses(void **state)
{
    (void)state;
    const char *bad[] = {"",     "nosuch", "PLAIN", "re2+re2",        "re2+",  " calc",  "sc",
                         "sc:0", "sc:1",   "sc:x",  "sc:5x",          "sc:48", "sc:-2",  "sc:",
                         "usc",  "usc:1",  "scx",   "sc:99999999999", "sc5",   "usc:3:4",
                         "ensemble:", "ensemble:1", "ensemble:48", "ensembles", "ensemble:x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct loco_strategy st = {.kind = LOCO_STRATEGY_CALC, .k = 7};
        assert_int_equal(loco_strategy_parse(bad[i], &st), LOCO_ERR_INVALID);
        assert_int_equal(st.kind, LOCO_STRATEGY_PLAIN);
        /* the message names what was given and what is known */
        assert_non_null(strstr(loco_error_message(), "plain, re2, calc"));
        assert_non_null(strstr(loco_error_message(), bad[i]));
    }
    struct loco_strategy st;
    assert_int_equal(loco_strategy_parse(NULL, &st), LOCO_ERR_INVALID);
    assert_int_equal(loco_strategy_parse("sc:0", &st), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "from 2 to 47"));
}

static void parse_k(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum loco_strategy_kind kind;
        int32_t k;
    } cases[] = {{"sc:5", LOCO_STRATEGY_SC, 5},
                 {"sc:2", LOCO_STRATEGY_SC, 2},
                 {"sc:47", LOCO_STRATEGY_SC, LOCO_GENERATE_MAX_SLOTS},
                 {"usc:3", LOCO_STRATEGY_USC, 3},
                 {"sc:05", LOCO_STRATEGY_SC, 5},
                 {"ensemble:3", LOCO_STRATEGY_ENSEMBLE, 3},
                 {"ensemble", LOCO_STRATEGY_ENSEMBLE, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct loco_strategy st;
        char buf[LOCO_STRATEGY_NAME_MAX];
        assert_int_equal(loco_strategy_parse(cases[i].text, &st), LOCO_OK);
        assert_int_equal(st.kind, cases[i].kind);
        assert_int_equal(st.k, cases[i].k);
        assert_false(loco_strategy_rereads(&st));
        assert_false(loco_strategy_calculates(&st));
        loco_strategy_name(&st, buf, sizeof buf);
        struct loco_strategy again;
        assert_int_equal(loco_strategy_parse(buf, &again), LOCO_OK); /* the name reads back */
        assert_int_equal(again.k, st.k);
    }
}

static void name_of_k(void **state)
{
    (void)state;
    char buf[LOCO_STRATEGY_NAME_MAX];
    struct loco_strategy sc = {LOCO_STRATEGY_SC, 5}, usc = {LOCO_STRATEGY_USC, 47};
    assert_string_equal(loco_strategy_name(&sc, buf, sizeof buf), "sc:5");
    assert_string_equal(loco_strategy_name(&usc, buf, sizeof buf), "usc:47");
    struct loco_strategy all = {LOCO_STRATEGY_ENSEMBLE, 0}, two = {LOCO_STRATEGY_ENSEMBLE, 2};
    assert_string_equal(loco_strategy_name(&all, buf, sizeof buf), "ensemble");
    assert_string_equal(loco_strategy_name(&two, buf, sizeof buf), "ensemble:2");
    /* the strategies that choose among answers, and so have a vote share */
    struct loco_strategy plain = {LOCO_STRATEGY_PLAIN, 1}, calc = {LOCO_STRATEGY_RE2_CALC, 1};
    assert_true(loco_strategy_votes(&sc) && loco_strategy_votes(&usc));
    assert_true(loco_strategy_votes(&all) && loco_strategy_votes(&two));
    assert_false(loco_strategy_votes(&plain) || loco_strategy_votes(&calc));
}

/* ---- re2 ------------------------------------------------------------------ */

static void re2_prompt_words(void **state)
{
    (void)state;
    char *p = loco_strategy_re2_prompt("What is 2+3?");
    assert_non_null(p);
    assert_string_equal(p, "Q: What is 2+3?\nRead the question again: What is 2+3?");
    free(p);
    p = loco_strategy_re2_prompt("");
    assert_string_equal(p, "Q: \nRead the question again: ");
    free(p);
    assert_null(loco_strategy_re2_prompt(NULL));
}

/* ---- the calculator ------------------------------------------------------- */

static void calc_values(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        double want;
    } cases[] = {
        {"48/2", 24},
        {"2+3*4", 14},
        {"(2+3)*4", 20},
        {"10-4-3", 3},
        {"100/10/5", 2},
        {"-5+2", -3},
        {"2*-3", -6},
        {"--4", 4},
        {"-(2+3)", -5},
        {" 7 * ( 8 - 2 ) ", 42},
        {"0.5*4", 2},
        {"1.25+.75", 2},
        {"3/4", 0.75},
        {"((((1))))", 1},
        {"12*0.1", 1.2},
        {"1000000*1000000", 1e12},
        {"007", 7},
        {"2-3", -1},
        {"5*60/100", 3},
        {"0*-1", 0},
        {"80,000+50,000", 130000},
        {"1,250,000.5*2", 2500001},
        {"999,999", 999999},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -99;
        int rc = loco_calc_eval(cases[i].expr, strlen(cases[i].expr), &v);
        if (rc != LOCO_OK)
            fail_msg("'%s': %s", cases[i].expr, loco_error_message());
        assert_near(v, cases[i].want, 1e-9);
    }
}

static void calc_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        int status;
    } cases[] = {
        {"1/0", LOCO_ERR_RANGE},
        {"5/(2-2)", LOCO_ERR_RANGE},
        {"1e3", LOCO_ERR_FORMAT},
        {"2^3", LOCO_ERR_FORMAT},
        {"2**3", LOCO_ERR_FORMAT},
        {"x+1", LOCO_ERR_FORMAT},
        {"sqrt(4)", LOCO_ERR_FORMAT},
        {"(1+2", LOCO_ERR_FORMAT},
        {"1+2)", LOCO_ERR_FORMAT},
        {"1+", LOCO_ERR_FORMAT},
        {"", LOCO_ERR_FORMAT},
        {"   ", LOCO_ERR_FORMAT},
        {"3.", LOCO_ERR_FORMAT},
        {"1,00", LOCO_ERR_FORMAT},
        {"1,0000", LOCO_ERR_FORMAT},
        {"1000,000", LOCO_ERR_FORMAT},
        {"1,000,00", LOCO_ERR_FORMAT},
        {",000", LOCO_ERR_FORMAT},
        {"1,", LOCO_ERR_FORMAT},
        {"2,3", LOCO_ERR_FORMAT},
        {"$5", LOCO_ERR_FORMAT},
        {"1..2", LOCO_ERR_FORMAT},
        {"+3", LOCO_ERR_FORMAT},
        {"2 3", LOCO_ERR_FORMAT},
        {"1234567890123456789", LOCO_ERR_RANGE},                   /* 19 digits */
        {"9999999*9999999*9999", LOCO_ERR_RANGE},                  /* past 1e15 */
        {"((((((((((((((((((1))))))))))))))))))", LOCO_ERR_RANGE}, /* 18 deep */
        {"-----------------1", LOCO_ERR_RANGE},                    /* 17 unary minuses */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -99;
        int rc = loco_calc_eval(cases[i].expr, strlen(cases[i].expr), &v);
        if (rc != cases[i].status)
            fail_msg("'%s': got %d, want %d", cases[i].expr, rc, cases[i].status);
        assert_true(strlen(loco_error_message()) > 0);
    }
    /* 16 deep is allowed */
    const char *deep = "((((((((((((((((2))))))))))))))))";
    double v;
    assert_int_equal(loco_calc_eval(deep, strlen(deep), &v), LOCO_OK);
    assert_near(v, 2, 0);
    /* too long */
    char longer[LOCO_CALC_MAX_LEN + 2];
    for (size_t i = 0; i < sizeof longer - 1; i += 2)
        memcpy(longer + i, i + 2 < sizeof longer - 1 ? "1+" : "1", 2);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(loco_calc_eval(longer, strlen(longer), &v), LOCO_ERR_FORMAT);
    /* a length bounds the text: "2+3" of "2+3)" */
    assert_int_equal(loco_calc_eval("2+3)", 3, &v), LOCO_OK);
    assert_near(v, 5, 0);
}

static void calc_format(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {24, "24"},
        {-3, "-3"},
        {0, "0"},
        {-0.0, "0"},
        {0.5, "0.5"},
        {1.25, "1.25"},
        {10.0 / 3, "3.333333"},
        {2.0 / 3, "0.666667"},
        {1e12, "1000000000000"},
        {1.2000000000001, "1.2"},
        {-0.75, "-0.75"},
    };
    char buf[48];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(loco_calc_format(cases[i].v, buf, sizeof buf), cases[i].want);
}

static void calc_decides(void **state)
{
    (void)state;
    static const struct {
        const char *text, *inject; /* inject NULL: nothing */
    } cases[] = {
        {"She sold 48/2 = <<48/2=", "24>>"},
        {"<<3*4+1=", "13>>"},
        {"First <<2+2=4>> then <<4*10=", "40>>"},
        {"<<10/4=", "2.5>>"},
        {"<<1/3=", "0.333333>>"},
        {"So $<<80,000+50,000=", "130000>>"},
        {"<<48/2=24>>", NULL}, /* closed */
        {"<<48/2=24", NULL},   /* the result is being written */
        {"<<48/2", NULL},      /* no '=' yet */
        {"48/2=", NULL},       /* no annotation open */
        {"<<x+1=", NULL},      /* not arithmetic */
        {"<<5/0=", NULL},      /* division by zero */
        {"<<=", NULL},         /* empty */
        {"<<2+2\n3=", NULL},   /* crosses a line */
        {"<<2>>3+4=", NULL},   /* the last annotation is closed */
        {"=", NULL},
        {"", NULL},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = loco_calc_injection(cases[i].text, strlen(cases[i].text), buf, sizeof buf);
        if (got != (cases[i].inject != NULL))
            fail_msg("'%s': injection %d", cases[i].text, got);
        if (got)
            assert_string_equal(buf, cases[i].inject);
    }
    /* too small a buffer: no injection rather than a cut result */
    assert_false(loco_calc_injection("<<1+1=", 6, buf, 8));
}

/* ---- calc in the generation loops ----------------------------------------- */

#define N_SEEDS 24

struct forced_log {
    int n_zero; /* tokens streamed with log-probability exactly 0: forced */
};

static bool count_forced(void *user, int32_t token, const char *piece, size_t len, float lp)
{
    (void)token, (void)piece, (void)len;
    struct forced_log *l = user;
    l->n_zero += lp == 0.0f;
    return true;
}

/* Every "<<EXPR=" in text where EXPR evaluates is followed by its result
 * and ">>". Returns how many such annotations the text holds. */
static int check_annotations(const char *text)
{
    int n = 0;
    for (const char *eq = strchr(text, '='); eq; eq = strchr(eq + 1, '=')) {
        char want[64];
        size_t upto = (size_t)(eq - text) + 1;
        if (!loco_calc_injection(text, upto, want, sizeof want))
            continue;
        if (strncmp(eq + 1, want, strlen(want)) != 0 && strlen(eq + 1) >= strlen(want))
            fail_msg("'%s': after '%.*s' expected '%s'", text, (int)upto, text, want);
        n++;
    }
    return n;
}

/* Only tokens for '<', '2', '+' and '=' may be sampled, at a high
 * temperature: over a few seeds the model writes annotations, and the
 * calculator must complete each one (its tokens are outside that set). */
static void calc_in_generate(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m) {
        skip();
        return;
    }
    const struct loco_tokenizer *tok = loco_model_tokenizer(m);
    int32_t allowed[8];
    int32_t n_allowed = 0;
    const char *chars[] = {"<", "2", "+", "="};
    for (size_t i = 0; i < sizeof chars / sizeof chars[0]; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        assert_int_equal(loco_tokenizer_encode(tok, chars[i], 1, false, false, &ids, &n), LOCO_OK);
        allowed[n_allowed++] = ids[n - 1]; /* an SPM vocab may put a space token first */
        free(ids);
    }
    int32_t *prompt = NULL;
    size_t n_prompt = 0;
    assert_int_equal(
        loco_tokenizer_encode(tok, "Once upon a time", 16, true, false, &prompt, &n_prompt),
        LOCO_OK);
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 128;
    cp.n_seq = 4;
    cp.n_batch = 32;
    struct loco_context *ctx = loco_context_init(m, cp);
    assert_non_null(ctx);
    int annotations = 0, forced = 0;
    struct loco_generate_result one[N_SEEDS];
    for (int s = 0; s < N_SEEDS; s++) {
        struct loco_generate_params p = loco_generate_default_params();
        p.max_tokens = 60;
        p.calc = true;
        p.sampling.temperature = 50.0f; /* close to uniform */
        p.sampling.top_k = 0;
        p.sampling.top_p = 1.0f;
        p.sampling.min_p = 0.0f;
        p.sampling.seed = 100 + (uint64_t)s;
        p.sampling.allowed = allowed;
        p.sampling.n_allowed = n_allowed;
        struct forced_log log = {0};
        loco_context_seq_clear(ctx, 0);
        assert_int_equal(
            loco_generate(ctx, 0, tok, prompt, n_prompt, &p, count_forced, &log, &one[s]), LOCO_OK);
        assert_true(one[s].n_generated <= p.max_tokens);
        annotations += check_annotations(one[s].text);
        if (getenv("TEST_STRATEGY_SHOW"))
            print_message("seed %d: %s\n", s, one[s].text);
        forced += log.n_zero;
        /* the same seed through loco_generate_many (slots shared): the same answer */
        struct loco_gen_job jobs[3];
        for (int j = 0; j < 3; j++)
            jobs[j] = (struct loco_gen_job){.prompt = prompt, .n_prompt = n_prompt};
        for (int q = 0; q < 4; q++)
            loco_context_seq_clear(ctx, q);
        assert_int_equal(loco_generate_many(ctx, tok, jobs, 3, &p, NULL, NULL), LOCO_OK);
        for (int j = 0; j < 3; j++) {
            assert_int_equal(jobs[j].status, LOCO_OK);
            assert_string_equal(jobs[j].res.text, one[s].text);
            loco_generate_result_free(&jobs[j].res);
        }
        /* without calc no result is ever written: only the allowed characters */
        p.calc = false;
        struct loco_generate_result plain;
        loco_context_seq_clear(ctx, 0);
        assert_int_equal(loco_generate(ctx, 0, tok, prompt, n_prompt, &p, NULL, NULL, &plain),
                         LOCO_OK);
        assert_null(strchr(plain.text, '>'));
        loco_generate_result_free(&plain);
        loco_generate_result_free(&one[s]);
    }
    print_message("%d annotations completed by the calculator, %d forced tokens\n", annotations,
                  forced);
    assert_true(annotations > 0);
    assert_true(forced >= 2 * annotations); /* at least a digit and ">>" each */
    loco_context_free(ctx);
    free(prompt);
    loco_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_known),      cmocka_unit_test(parse_refuses),
        cmocka_unit_test(parse_k),          cmocka_unit_test(name_of_k),
        cmocka_unit_test(re2_prompt_words), cmocka_unit_test(calc_values),
        cmocka_unit_test(calc_refuses),     cmocka_unit_test(calc_format),
        cmocka_unit_test(calc_decides),     cmocka_unit_test(calc_in_generate),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
