/*
 * test-swarm.c - the swarm's statistics (src/eval/swarm.c): the common
 * scale (Glass's delta with a shrunk Bernoulli sd for pass/fail
 * benchmarks), the composite on hand-computed cases, the stratified paired
 * bootstrap (each benchmark keeps its n in every resample; with one
 * stratum it is exactly stats.c's paired bootstrap), and the record and
 * report of a hand-built result. The run itself is exercised end to end by
 * tests/cli/t0500-eval.sh and t0620-serving.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/stats.h"
#include "loco/swarm.h"
#include "testutil.h"

static void test_scale(void **state)
{
    (void)state;
    double one_of_four[] = {1, 0, 0, 0};
    double none[] = {0, 0, 0, 0};
    double rouge[] = {0.1, 0.2, 0.3};
    /* pass/fail: p~ = (k + 1/2) / (n + 1) */
    assert_float_equal(loco_swarm_scale(one_of_four, 4, true), sqrt(0.3 * 0.7), 1e-15);
    assert_float_equal(loco_swarm_scale(none, 4, true), sqrt(0.1 * 0.9), 1e-15);
    /* scored: the sample sd; none for fewer than 2 items or no spread */
    assert_float_equal(loco_swarm_scale(rouge, 3, false), 0.1, 1e-12);
    assert_float_equal(loco_swarm_scale(rouge, 1, false), 0.0, 0);
    assert_float_equal(loco_swarm_scale(none, 4, false), 0.0, 0);
}

static void test_composite(void **state)
{
    (void)state;
    /* benchmark 0 pass/fail (+0.25), benchmark 1 scored (+0.1), interleaved */
    double base[] = {1, 0.1, 0, 0.2, 0, 0.3, 0};
    double pol[] = {1, 0.2, 1, 0.3, 0, 0.4, 0};
    uint32_t stratum[] = {0, 1, 0, 1, 0, 1, 0};
    double scale[] = {sqrt(0.21), 0.1, 1.0};
    double c;
    assert_int_equal(loco_swarm_composite(base, pol, stratum, 7, 2, scale, &c), LOCO_OK);
    assert_float_equal(c, (0.25 / sqrt(0.21) + 1.0) / 2, 1e-12);
    /* a stratum without items does not count; one with scale 0 counts 0 */
    assert_int_equal(loco_swarm_composite(base, pol, stratum, 7, 3, scale, &c), LOCO_OK);
    assert_float_equal(c, (0.25 / sqrt(0.21) + 1.0) / 2, 1e-12);
    double flat[] = {sqrt(0.21), 0.0};
    assert_int_equal(loco_swarm_composite(base, pol, stratum, 7, 2, flat, &c), LOCO_OK);
    assert_float_equal(c, 0.25 / sqrt(0.21) / 2, 1e-12);
    /* the same policy as the base: 0 */
    assert_int_equal(loco_swarm_composite(base, base, stratum, 7, 2, scale, &c), LOCO_OK);
    assert_float_equal(c, 0.0, 0);
    /* refusals */
    uint32_t bad[] = {0, 1, 0, 1, 0, 5, 0};
    assert_int_equal(loco_swarm_composite(base, pol, bad, 7, 2, scale, &c), LOCO_ERR_INVALID);
    assert_int_equal(loco_swarm_composite(base, pol, stratum, 0, 2, scale, &c), LOCO_ERR_INVALID);
    double neg[] = {-1, 0.1};
    assert_int_equal(loco_swarm_composite(base, pol, stratum, 7, 2, neg, &c), LOCO_ERR_INVALID);
    double holes[] = {1, NAN, 0, 0.2, 0, 0.3, 0};
    assert_int_equal(loco_swarm_composite(holes, pol, stratum, 7, 2, scale, &c), LOCO_ERR_INVALID);
}

/* Stratum 0: 5 items that all gain 1; stratum 1: 20 items with no difference. */
static void two_strata(double *base, double *pol, uint32_t *stratum)
{
    for (int i = 0; i < 25; i++) {
        stratum[i] = i % 5 == 0 ? 0 : 1;
        base[i] = stratum[i] == 0 ? 0.0 : (double)(i % 3 == 0);
        pol[i] = stratum[i] == 0 ? 1.0 : base[i];
    }
}

static void test_bootstrap_keeps_strata(void **state)
{
    (void)state;
    double base[25], pol[25], scale[] = {0.5, 0.5};
    uint32_t stratum[25], pooled[25] = {0};
    two_strata(base, pol, stratum);
    /* within strata every resample has 5 gaining items and 20 flat ones:
     * the composite is (1 / 0.5 + 0) / 2 = 1 in every resample */
    struct loco_bootstrap b;
    assert_int_equal(loco_swarm_bootstrap(base, pol, stratum, 25, 2, scale, 2000, 7, 0.05, &b),
                     LOCO_OK);
    assert_float_equal(b.mean, 1.0, 1e-12);
    assert_float_equal(b.ci.lo, 1.0, 1e-12);
    assert_float_equal(b.ci.hi, 1.0, 1e-12);
    assert_float_equal(b.p_value, 0.0, 0);
    /* pooled into one stratum the share of gaining items varies: a real interval */
    assert_int_equal(loco_swarm_bootstrap(base, pol, pooled, 25, 1, scale, 2000, 7, 0.05, &b),
                     LOCO_OK);
    assert_float_equal(b.mean, 0.2 / 0.5, 1e-12);
    assert_true(b.ci.lo < b.mean && b.mean < b.ci.hi);
    assert_true(b.ci.hi - b.ci.lo > 0.2);
}

static void test_bootstrap_one_stratum_is_stats_bootstrap(void **state)
{
    (void)state;
    /* with one stratum and scale 1 the statistic is the mean difference, and
     * the draws are stats.c's: the same interval and p to the last bit */
    double base[40], pol[40], d[40], one = 1.0;
    uint32_t stratum[40] = {0};
    for (int i = 0; i < 40; i++) {
        base[i] = 0.1 * (i % 7);
        pol[i] = base[i] + 0.05 * ((i * 5) % 11) - 0.2;
        d[i] = pol[i] - base[i];
    }
    struct loco_bootstrap a, b;
    assert_int_equal(loco_swarm_bootstrap(base, pol, stratum, 40, 1, &one, 1000, 99, 0.05, &a),
                     LOCO_OK);
    assert_int_equal(loco_stats_bootstrap_mean(d, 40, 1000, 99, 0.05, &b), LOCO_OK);
    assert_float_equal(a.mean, b.mean, 1e-15);
    assert_true(a.ci.lo == b.ci.lo && a.ci.hi == b.ci.hi);
    assert_true(a.p_value == b.p_value);
}

static void test_bootstrap_repeats(void **state)
{
    (void)state;
    double base[25], pol[25], scale[] = {0.4, 0.3};
    uint32_t stratum[25];
    two_strata(base, pol, stratum);
    for (int i = 0; i < 25; i += 4)
        pol[i] = 1 - pol[i]; /* some losses too */
    struct loco_bootstrap a, b, c;
    assert_int_equal(loco_swarm_bootstrap(base, pol, stratum, 25, 2, scale, 500, 3, 0.05, &a), 0);
    assert_int_equal(loco_swarm_bootstrap(base, pol, stratum, 25, 2, scale, 500, 3, 0.05, &b), 0);
    assert_true(a.ci.lo == b.ci.lo && a.ci.hi == b.ci.hi && a.p_value == b.p_value);
    assert_true(a.ci.lo <= a.mean && a.mean <= a.ci.hi);
    /* and the seed drives the draws: of ten other seeds, some give another
     * interval or p (a bootstrap that ignored its seed would give one) */
    int other = 0;
    for (uint64_t seed = 4; seed < 14; seed++) {
        assert_int_equal(
            loco_swarm_bootstrap(base, pol, stratum, 25, 2, scale, 500, seed, 0.05, &c), 0);
        assert_true(c.mean == a.mean); /* the estimate itself has no randomness */
        other += c.ci.lo != a.ci.lo || c.ci.hi != a.ci.hi || c.p_value != a.p_value;
    }
    assert_true(other > 0);
    /* the same answers as the base: no gain, a zero-width interval, p 1 */
    assert_int_equal(loco_swarm_bootstrap(base, base, stratum, 25, 2, scale, 500, 3, 0.05, &c), 0);
    assert_true(c.mean == 0 && c.ci.lo == 0 && c.ci.hi == 0 && c.p_value == 1);
    assert_int_equal(loco_swarm_bootstrap(base, pol, stratum, 25, 2, scale, 50, 3, 0.05, &c),
                     LOCO_ERR_INVALID);
}

static void test_default_params(void **state)
{
    (void)state;
    struct loco_swarm_params p = loco_swarm_default_params();
    assert_int_equal(p.n_routers, 2);
    assert_string_equal(p.routers[0], "keyword");
    assert_string_equal(p.routers[1], "classifier");
    assert_true(p.contam);
    assert_true(p.eval.decontaminate);
    assert_int_equal(p.serve, LOCO_SERVE_REGISTRY);
    assert_int_equal(loco_swarm_run(NULL, NULL, NULL, &p, NULL), LOCO_ERR_INVALID);
}

/* A result as loco_swarm_run leaves it: one domain served by the base model,
 * one by an adapter, one benchmark, oracle and base, two items (one flagged). */
static struct loco_swarm *hand_built(void)
{
    struct loco_swarm *s = calloc(1, sizeof *s);
    assert_non_null(s);
    snprintf(s->date, sizeof s->date, "2026-12-07T00:00:00Z");
    snprintf(s->model_path, sizeof s->model_path, "m.gguf");
    s->contam = true;
    s->stats = loco_stats_default_params();
    s->n_domains = 2;
    snprintf(s->domains[0].name, LOCO_ROUTE_NAME_MAX, "math");
    s->domains[0].reason = LOCO_SERVE_BASE_NOT_PASSED;
    snprintf(s->domains[1].name, LOCO_ROUTE_NAME_MAX, "code");
    snprintf(s->domains[1].adapter, sizeof s->domains[1].adapter, "code");
    s->domains[1].reason = LOCO_SERVE_ACTIVE;
    s->domains[1].contam_checked = true;
    s->n_bench = 1;
    snprintf(s->bench[0].name, sizeof s->bench[0].name, "mbpp");
    snprintf(s->bench[0].metric, sizeof s->bench[0].metric, "pass@1");
    s->bench[0] = (struct loco_swarm_bench){.binary = true,
                                            .domain = 1,
                                            .n_items = 2,
                                            .n_flagged = 1,
                                            .n_used = 1,
                                            .scale = 0.5,
                                            .scale_from = "base-bernoulli"};
    snprintf(s->bench[0].name, sizeof s->bench[0].name, "mbpp");
    snprintf(s->bench[0].metric, sizeof s->bench[0].metric, "pass@1");
    s->n_policies = 2;
    s->base_policy = 1;
    snprintf(s->policies[0], LOCO_ROUTE_NAME_MAX, "oracle");
    snprintf(s->policies[1], LOCO_ROUTE_NAME_MAX, "base");
    s->cell[0][0] =
        (struct loco_swarm_cell){.n = 1, .mean = 1, .diff = 1, .p_value = 1, .routing_acc = NAN};
    s->cell[1][0] = (struct loco_swarm_cell){.n = 1, .mean = 0, .routing_acc = NAN};
    s->composite[0] = (struct loco_bootstrap){2.0, {2.0, 2.0}, 0.0};
    s->n_items = 2;
    s->items = calloc(2, sizeof *s->items);
    assert_non_null(s->items);
    for (int i = 0; i < 2; i++) {
        s->items[i].id = strdup(i ? "mbpp-12" : "mbpp-11");
        s->items[i].pick[0] = 1, s->items[i].source[0] = 1, s->items[i].score[0] = 1;
        s->items[i].pick[1] = 2, s->items[i].source[1] = -1, s->items[i].score[1] = 0;
    }
    s->items[0].used = true;
    s->items[1].contaminated = true;
    snprintf(s->items[1].flagged_by, sizeof s->items[1].flagged_by, "code");
    return s;
}

static void test_record_and_report(void **state)
{
    (void)state;
    struct loco_swarm *s = hand_built();
    char *json = loco_swarm_json(s);
    assert_non_null(json);
    cJSON *r = cJSON_Parse(json);
    assert_non_null(r);
    assert_string_equal(cJSON_GetObjectItem(r, "record")->valuestring, LOCO_SWARM_RECORD);
    cJSON *dom =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "serving"), "domains"), 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(dom, "adapter")));
    assert_string_equal(cJSON_GetObjectItem(dom, "reason")->valuestring, "no-adapter-passed");
    cJSON *comp = cJSON_GetObjectItem(r, "composite");
    assert_string_equal(cJSON_GetObjectItem(comp, "scale")->valuestring, LOCO_SWARM_SCALE);
    cJSON *flagged = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "contamination"), "flagged");
    assert_int_equal(cJSON_GetArraySize(flagged), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(flagged, 0), "id")->valuestring,
                        "mbpp-12");
    cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "benchmarks"), 0);
    assert_int_equal(cJSON_GetObjectItem(b, "n")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(b, "n_contaminated")->valueint, 1);
    cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "items"), 1);
    cJSON *base = cJSON_GetObjectItem(cJSON_GetObjectItem(it, "policies"), "base");
    assert_string_equal(cJSON_GetObjectItem(base, "pick")->valuestring, "base");
    assert_string_equal(cJSON_GetObjectItem(base, "served_by")->valuestring, "base model");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(it, "used")));
    cJSON_Delete(r);
    free(json);
    char *md = loco_swarm_markdown(s);
    assert_non_null(md);
    assert_non_null(strstr(md, "| math | base model | no adapter has passed its gate |"));
    assert_non_null(strstr(md, "| mbpp (code, pass@1, n=1) |"));
    assert_non_null(strstr(md, "| oracle | 1.000 (+1.000"));
    /* a bootstrap p of 0 means no resample at or below 0: shown as p < 1/B */
    assert_non_null(strstr(md, "**+2.000** [+2.000, +2.000], p<0.0001 |"));
    assert_non_null(strstr(md, "Flagged: mbpp mbpp-12 (code)"));
    assert_non_null(strstr(md, "Glass's delta"));
    free(md);
    loco_swarm_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_composite),
        cmocka_unit_test(test_bootstrap_keeps_strata),
        cmocka_unit_test(test_bootstrap_one_stratum_is_stats_bootstrap),
        cmocka_unit_test(test_bootstrap_repeats),
        cmocka_unit_test(test_default_params),
        cmocka_unit_test(test_record_and_report),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
