/*
 * test-report.c - reports from evaluation records (loco/report.h): the
 * Markdown table's numbers, escaping of hostile item text in Markdown, HTML
 * and SVG, the charts' well-formedness, refusal of non-records and
 * truncated files, the semester rule, the archive (layout, idempotence),
 * the trend over two semesters (composite numbers), and the leaderboard
 * built from a registry file (order, rank, active, passed, JSON rows).
 *
 * Records are built here with cJSON; registries and results folders are
 * written into a fresh temporary folder per test. Nothing needs ../shared.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loco/core.h"
#include "loco/registry.h"
#include "loco/report.h"
#include "testutil.h"

#define HOSTILE "x | y </svg><script>alert(1)</script> & \"q\" 'a' *b* [l](javascript:z)"

/* ---- records ------------------------------------------------------------------ */

static void add_ci(cJSON *o, const char *key, double lo, double hi)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    cJSON_AddItemToArray(a, cJSON_CreateNumber(lo));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(hi));
}

static void add_item(cJSON *items, const char *id, const char *prompt, const char *out0, double s0,
                     const char *out1, double s1)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", id);
    cJSON_AddStringToObject(e, "prompt", prompt);
    const char *outs[2] = {out0, out1};
    double scores[2] = {s0, s1};
    for (int s = 0; s < 2; s++) {
        cJSON *side = cJSON_AddObjectToObject(e, s ? "adapter" : "base");
        cJSON_AddStringToObject(side, "output", outs[s]);
        cJSON_AddNumberToObject(side, "score", scores[s]);
        cJSON_AddStringToObject(side, "detail", "");
        cJSON_AddBoolToObject(side, "cached", false);
    }
    cJSON_AddItemToArray(items, e);
}

/* One benchmark object as loco_eval_bench_json writes it. */
static cJSON *bench(const char *name, int n, double base, double adapter, double lo, double hi,
                    double p, bool in_domain, bool passed)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "benchmark", name);
    cJSON_AddStringToObject(o, "metric", "accuracy");
    cJSON_AddNumberToObject(o, "n_items", n);
    cJSON_AddStringToObject(o, "test", "exact McNemar");
    cJSON_AddNumberToObject(o, "base_score", base);
    cJSON_AddNumberToObject(o, "adapter_score", adapter);
    cJSON_AddNumberToObject(o, "diff", adapter - base);
    add_ci(o, "diff_ci95", lo, hi);
    cJSON_AddNumberToObject(o, "p_value", p);
    add_ci(o, "base_ci95", base - 0.1, base + 0.12);
    add_ci(o, "adapter_ci95", adapter - 0.12, adapter + 0.12);
    cJSON *pairs = cJSON_AddObjectToObject(o, "pairs");
    cJSON_AddNumberToObject(pairs, "both_right", 15);
    cJSON_AddNumberToObject(pairs, "base_only", 3);
    cJSON_AddNumberToObject(pairs, "adapter_only", 12);
    cJSON_AddNumberToObject(pairs, "both_wrong", 30);
    cJSON_AddNumberToObject(o, "cohens_h", 0.3064);
    cJSON_AddNumberToObject(o, "power_10pt", 0.812);
    cJSON_AddNumberToObject(o, "power_5pt", 0.349);
    cJSON_AddStringToObject(o, "gate", in_domain ? "superiority" : "non-inferiority");
    cJSON_AddBoolToObject(o, "passed", passed);
    cJSON_AddStringToObject(o, "why", passed ? "gain significant" : "drop may exceed 5 points");
    cJSON *g = cJSON_AddObjectToObject(o, "generation");
    cJSON_AddNumberToObject(g, "base_ms", 12000);
    cJSON_AddNumberToObject(g, "adapter_ms", 15500);
    cJSON_AddNumberToObject(g, "base_cached", 60);
    cJSON_AddNumberToObject(g, "adapter_cached", 0);
    cJSON_AddNumberToObject(g, "base_tokens", 9000);
    cJSON_AddNumberToObject(g, "adapter_tokens", 9500);
    cJSON_AddArrayToObject(o, "items");
    return o;
}

static cJSON *record(const char *adapter, const char *domain, const char *date)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "record", "locollm-eval/1");
    cJSON_AddStringToObject(r, "loco_version", "0.1.0");
    cJSON_AddStringToObject(r, "date", date);
    cJSON *m = cJSON_AddObjectToObject(r, "model");
    cJSON_AddStringToObject(m, "path", "/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    cJSON_AddStringToObject(m, "sha256",
                            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    cJSON *a = cJSON_AddObjectToObject(r, "adapter");
    cJSON_AddStringToObject(a, "name", adapter);
    cJSON_AddStringToObject(a, "domain", domain);
    cJSON_AddStringToObject(a, "path", "adapters/math/math.gguf");
    cJSON_AddStringToObject(a, "sha256",
                            "a37d977d24f3218552278f7275f5531f3295ca27585dcbb1e7903466bfff69ae");
    cJSON_AddNumberToObject(a, "scale", 1);
    cJSON *s = cJSON_AddObjectToObject(r, "settings");
    cJSON_AddStringToObject(s, "decoding", "greedy");
    cJSON_AddNumberToObject(s, "limit", 60);
    cJSON_AddNumberToObject(s, "non_inferiority_margin", 0.05);
    cJSON_AddArrayToObject(r, "benchmarks");
    return r;
}

static char *print_free(cJSON *r)
{
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    assert_non_null(text);
    return text;
}

/* The record the rendering tests use: math on gsm8k (PASS, hostile answer)
 * and mbpp (FAIL), plus fields this version does not know. */
static char *sample_record(void)
{
    cJSON *r = record("math", "math", "2026-11-27T10:15:00Z");
    cJSON *arr = cJSON_GetObjectItem(r, "benchmarks");
    cJSON *g = bench("gsm8k", 60, 0.30, 0.45, 0.03, 0.27, 0.0131, true, true);
    cJSON *items = cJSON_GetObjectItem(g, "items");
    add_item(items, "gsm8k-0", "What is 2+2?", "4", 1, "4", 1);
    add_item(items, "gsm8k-1", "Say something | nasty", "no", 0, HOSTILE, 1);
    add_item(items, "gsm8k-2", "How many?\nTwo lines", "7", 1, "8", 0);
    cJSON_AddNumberToObject(g, "future_metric", 0.5);
    cJSON *pk = cJSON_AddObjectToObject(g, "pass_at_k");
    cJSON_AddNumberToObject(pk, "n", 10);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(pk, "base"), "pass@1", 0.25);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(pk, "adapter"), "pass@1", 0.4);
    cJSON *gc = cJSON_AddObjectToObject(g, "contamination");
    cJSON_AddTrueToObject(gc, "checked");
    cJSON_AddNumberToObject(gc, "flagged", 1);
    cJSON_AddNumberToObject(gc, "exact", 0);
    cJSON_AddNumberToObject(gc, "overlap", 1);
    cJSON_AddFalseToObject(gc, "decontaminated");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(gc, "flagged_ids"),
                         cJSON_CreateString("gsm8k-2"));
    cJSON_AddItemToArray(arr, g);
    cJSON *m = bench("mbpp", 50, 0.20, 0.18, -0.09, 0.05, 0.69, false, false);
    add_item(cJSON_GetObjectItem(m, "items"), "mbpp-11", "def f():", "pass", 1, "pass", 1);
    cJSON *jd = cJSON_AddObjectToObject(m, "judge");
    cJSON_AddStringToObject(jd, "judge", "base model (in process)");
    cJSON_AddStringToObject(jd, "rubric", "prometheus");
    cJSON *sc = cJSON_AddArrayToObject(jd, "scale");
    cJSON_AddItemToArray(sc, cJSON_CreateNumber(1));
    cJSON_AddItemToArray(sc, cJSON_CreateNumber(5));
    cJSON_AddNumberToObject(jd, "judgments_per_answer", 3);
    cJSON_AddNumberToObject(jd, "unrated_items", 0);
    for (int side = 0; side < 2; side++) {
        cJSON *o = cJSON_AddObjectToObject(jd, side ? "adapter" : "base");
        cJSON_AddNumberToObject(o, "mean_rating", side ? 3.5 : 2.25);
        cJSON_AddNumberToObject(o, "mean_item_sd", 0.5);
        cJSON_AddNumberToObject(o, "mean_item_range", 1);
        cJSON_AddNumberToObject(o, "judgments", 150);
        cJSON_AddNumberToObject(o, "unparseable", 0);
    }
    cJSON_AddItemToArray(arr, m);
    cJSON *c = cJSON_AddObjectToObject(r, "future_block");
    cJSON_AddStringToObject(c, "verdict", "<clean>");
    cJSON *tc = cJSON_AddObjectToObject(r, "contamination");
    cJSON_AddFalseToObject(tc, "checked");
    cJSON_AddStringToObject(tc, "why", "no recipe <here>");
    return print_free(r);
}

/* ---- a small well-formedness check --------------------------------------------- */

/* True when s[0..n) nests its tags, opens a tag at every '<' and an entity
 * at every '&' (what an XML parser needs from the SVG we write). */
static bool well_formed(const char *s, size_t n)
{
    char stack[64][32];
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '&') {
            static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
            bool ok = false;
            for (int k = 0; k < 5; k++)
                ok = ok || !strncmp(s + i, ents[k], strlen(ents[k]));
            if (!ok)
                return false;
        }
        if (s[i] != '<')
            continue;
        const char *end = memchr(s + i, '>', n - i);
        if (!end)
            return false;
        size_t len = (size_t)(end - (s + i));
        if (s[i + 1] == '?') {
            i += len;
            continue;
        }
        bool closing = s[i + 1] == '/', self = end[-1] == '/';
        const char *name = s + i + 1 + closing;
        size_t nl = strcspn(name, " />\n");
        if (nl == 0 || nl >= 32 || memchr(name, '<', (size_t)(end - name)))
            return false;
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], name, nl) || stack[depth - 1][nl])
                return false;
            depth--;
        } else if (!self) {
            if (depth == 64)
                return false;
            memcpy(stack[depth], name, nl);
            stack[depth++][nl] = '\0';
        }
        i += len;
    }
    return depth == 0;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Every <svg>...</svg> in text is well formed; returns how many there are. */
static size_t check_svgs(const char *text)
{
    size_t n = 0;
    for (const char *p = strstr(text, "<svg"); p; p = strstr(p + 1, "<svg")) {
        const char *end = strstr(p, "</svg>");
        assert_non_null(end);
        assert_true(well_formed(p, (size_t)(end + 6 - p)));
        n++;
    }
    return n;
}

/* ---- rendering ----------------------------------------------------------------- */

static void test_markdown_table(void **state)
{
    (void)state;
    char *json = sample_record();
    char *md = loco_report_markdown(json);
    assert_non_null(md);
    assert_non_null(strstr(md, "| gsm8k | 60 | accuracy | 0.300 [0.200, 0.420] | "
                               "0.450 [0.330, 0.570] | +0.150 [+0.030, +0.270] | exact McNemar | "
                               "0.013 | h = +0.31 | 0.81 / 0.35 | **PASS** (superiority) |"));
    assert_non_null(strstr(md, "| mbpp | 50 | accuracy | 0.200 [0.100, 0.320] | "
                               "0.180 [0.060, 0.300] | -0.020 [-0.090, +0.050] | exact McNemar | "
                               "0.690 |"));
    assert_non_null(strstr(md, "**FAIL** (non-inferiority)"));
    assert_non_null(strstr(md, "sha256 `a37d977d24f3`"));
    assert_non_null(strstr(md, "2026-11-27T10:15:00Z"));
    assert_non_null(strstr(md, "| gsm8k | 12.0 | 60 | 15.5 | 0 | 9000 | 9500 |"));
    assert_non_null(strstr(md, "both right 15, base only 3, adapter only 12, both wrong 30"));
    /* unknown fields are shown, escaped */
    assert_non_null(strstr(md, "## Other fields"));
    assert_non_null(strstr(md, "`future_metric`: 0.5"));
    /* contamination and pass@k are rendered in the checks */
    assert_non_null(strstr(md, "## Checks"));
    assert_non_null(strstr(md, "**contamination**: not checked: no recipe &lt;here&gt;"));
    assert_non_null(strstr(md, "**gsm8k**: 1 of 60 items flagged (0 exact, 1 sharing a 13-gram "
                               "with the training data); the gate fails: `gsm8k-2`"));
    assert_non_null(strstr(md, "**gsm8k**: 10 samples per item and side (unbiased estimator); "
                               "pass@1 base 0.250, adapter 0.400"));
    assert_non_null(strstr(md, "**mbpp**: judged by base model (in process), rubric prometheus "
                               "(1-5), 3 judgments per answer; base: mean rating 2.25"));
    assert_non_null(strstr(md, "adapter: mean rating 3.50 (per-item sd 0.50, range 1.00), 0 of "
                               "150 judgments unparseable"));
    assert_non_null(strstr(md, "&lt;clean&gt;"));
    /* examples: the two disagreeing items, not the agreeing one */
    assert_non_null(strstr(md, "scored 2 of the 3 items differently; the first 2:"));
    assert_null(strstr(md, "| gsm8k-0 |"));
    assert_non_null(strstr(md, "| gsm8k-2 | How many? Two lines |"));
    free(md);
    free(json);
}

static void test_markdown_escapes_item_text(void **state)
{
    (void)state;
    char *json = sample_record();
    char *md = loco_report_markdown(json);
    assert_non_null(md);
    assert_null(strstr(md, "<script"));
    assert_null(strstr(md, "</svg"));
    const char *row = strstr(md, "| gsm8k-1 |");
    assert_non_null(row);
    size_t len = strcspn(row, "\n"), pipes = 0;
    for (size_t i = 0; i < len; i++)
        pipes += row[i] == '|' && (i == 0 || row[i - 1] != '\\');
    assert_int_equal(pipes, 5); /* four cells: the | inside the texts are escaped */
    assert_non_null(strstr(row, "x \\| y &lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt; "
                                "&amp; \"q\" 'a' \\*b\\* \\[l\\](javascript:z)"));
    free(md);
    free(json);
}

static void test_html_is_escaped_and_self_contained(void **state)
{
    (void)state;
    char *json = sample_record();
    char *html = loco_report_html(json);
    assert_non_null(html);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "href="));
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "url("));
    assert_int_equal(count(html, "http"), count(html, "http://www.w3.org/2000/svg"));
    assert_non_null(strstr(html, "x | y &lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt; "
                                 "&amp; &quot;q&quot; &#39;a&#39;"));
    assert_int_equal(count(html, "<svg"), 2);
    assert_int_equal(count(html, "</svg>"), 2);
    assert_int_equal(check_svgs(html), 2);
    assert_non_null(strstr(html, "<span class=\"pass\">PASS</span>"));
    assert_non_null(strstr(html, "stroke-dasharray")); /* the margin line */
    assert_non_null(strstr(html, "margin -0.05"));
    assert_non_null(strstr(html, "<td class=\"r\">60</td>"));
    free(html);
    free(json);
}

static void test_hostile_benchmark_name_in_svg(void **state)
{
    (void)state;
    cJSON *r = record("m<a>", "math", "2026-01-02");
    cJSON_AddItemToArray(cJSON_GetObjectItem(r, "benchmarks"),
                         bench("</text></svg><script>", 60, 0.2, 0.3, 0.0, 0.2, 0.04, true, true));
    char *json = print_free(r);
    char *html = loco_report_html(json);
    assert_non_null(html);
    assert_null(strstr(html, "<script"));
    assert_int_equal(check_svgs(html), 2);
    assert_true(well_formed(strstr(html, "<body>"), strlen(strstr(html, "<body>")) - 8));
    free(html);
    free(json);
}

static void test_refuses_non_records(void **state)
{
    (void)state;
    assert_null(loco_report_markdown("{\"foo\": 1}"));
    assert_non_null(strstr(loco_error_message(), "not an evaluation record"));
    assert_null(loco_report_html("[1, 2]"));
    assert_non_null(strstr(loco_error_message(), "not an evaluation record"));
    assert_null(loco_report_markdown("{\"record\": \"locollm-eval/9\", \"benchmarks\": []}"));
    assert_non_null(strstr(loco_error_message(), "unsupported record kind"));
    assert_null(loco_report_markdown("{\"record\": \"locollm-eval/1\"}"));
    assert_non_null(strstr(loco_error_message(), "benchmarks"));
    assert_null(loco_report_markdown("not json at all"));
    assert_non_null(strstr(loco_error_message(), "not JSON"));
    assert_null(loco_report_markdown(""));
}

static void test_refuses_truncated_record(void **state)
{
    (void)state;
    char *json = sample_record();
    size_t cuts[] = {strlen(json) / 2, strlen(json) - 2, 10};
    for (int i = 0; i < 3; i++) {
        char saved = json[cuts[i]];
        json[cuts[i]] = '\0';
        assert_null(loco_report_html(json));
        assert_non_null(strstr(loco_error_message(), "truncated"));
        json[cuts[i]] = saved;
    }
    free(json);
}

static void test_minimal_record(void **state)
{
    (void)state;
    const char *json = "{\"record\": \"locollm-eval/1\", \"benchmarks\": [{\"benchmark\": \"x\"}]}";
    char *md = loco_report_markdown(json);
    assert_non_null(md);
    assert_non_null(strstr(md, "| x | - | - | - | - | - | - | - | - | - / - | - |"));
    char *html = loco_report_html(json);
    assert_non_null(html);
    assert_int_equal(check_svgs(html), 2);
    free(md);
    free(html);
}

/* A strategy run (settings.strategy) compares the adapter with itself:
 * the report names the sides "plain" and the strategy, never "base". A
 * record without a strategy (or with "plain") keeps base and adapter. */
static void test_strategy_sides(void **state)
{
    (void)state;
    char *text = sample_record();
    cJSON *r = cJSON_Parse(text);
    free(text);
    assert_non_null(r);
    cJSON_AddStringToObject(cJSON_GetObjectItem(r, "settings"), "strategy", "re2");
    char *json = print_free(r);
    char *md = loco_report_markdown(json), *html = loco_report_html(json);
    assert_non_null(md);
    assert_non_null(html);
    assert_non_null(strstr(md, "# Evaluation of math (math): plain answers against re2"));
    assert_non_null(strstr(md, "| plain \\[95% CI\\] | re2 \\[95% CI\\] |"));
    assert_non_null(strstr(md, "plain only"));
    assert_non_null(strstr(md, "| plain time (s) | plain cached | re2 time (s) |"));
    assert_null(strstr(md, "base [95% CI]"));
    assert_null(strstr(md, "against the base model"));
    assert_non_null(strstr(html, "Plain and re2 scores per benchmark"));
    assert_non_null(strstr(html, "Paired difference (re2 - plain)"));
    free(md);
    free(html);
    free(json);
    char *plain = sample_record();
    md = loco_report_markdown(plain);
    assert_non_null(md);
    assert_non_null(strstr(md, "against the base model"));
    assert_non_null(strstr(md, "| base \\[95% CI\\] | adapter \\[95% CI\\] |"));
    free(md);
    free(plain);
}

/* A re-gated, rerun record: the verdict badge, the rerun line and the runs
 * table with each run's own verdict. */
static void test_verdicts_and_runs(void **state)
{
    (void)state;
    const char *json =
        "{\"record\": \"locollm-eval/1\", \"run\": 2, "
        "\"plan\": {\"alpha\": 0.05, \"power\": 0.8, \"benchmarks\": [{\"benchmark\": \"gsm8k\", "
        "\"planned_n\": 311}]}, "
        "\"runs\": [{\"run\": 1, \"date\": \"2026-11-27T10:00:00Z\", \"benchmarks\": "
        "[{\"benchmark\": \"gsm8k\", \"n_used\": 100, \"base_score\": 0.02, \"adapter_score\": "
        "0.03, \"diff\": 0.01, \"diff_ci95\": [-0.04, 0.06], \"p_value\": 1, \"verdict\": "
        "\"uninformative\"}]}, {\"run\": 2, \"date\": \"2026-11-28T10:00:00Z\", \"benchmarks\": "
        "[{\"benchmark\": \"gsm8k\", \"n_used\": 200, \"base_score\": 0.02, \"adapter_score\": "
        "0.02, \"diff\": 0, \"diff_ci95\": [-0.03, 0.03], \"p_value\": 1, \"verdict\": "
        "\"uninformative\"}]}], "
        "\"benchmarks\": [{\"benchmark\": \"gsm8k\", \"n_items\": 200, \"gate\": "
        "\"non-inferiority\", \"verdict\": \"uninformative\", \"passed\": false, \"why\": "
        "\"decided by run 1 on n=100\", \"rerun\": 2, \"decided_by_run\": 1, \"planned_n\": 311, "
        "\"run_verdict\": \"uninformative\"}]}";
    char *md = loco_report_markdown(json);
    assert_non_null(md);
    assert_non_null(strstr(md, "**uninformative** (non-inferiority)"));
    assert_non_null(strstr(md, "Rerun 2 of 2, planned n=311: the gate was decided by run 1"));
    assert_non_null(strstr(md, "## Runs"));
    assert_non_null(strstr(md, "gsm8k n=311"));
    assert_non_null(strstr(md, "| 2 | 2026-11-28T10:00:00Z | gsm8k | 200 |"));
    assert_null(strstr(md, "Other fields"));
    char *html = loco_report_html(json);
    assert_non_null(html);
    assert_non_null(strstr(html, "<span class=\"neutral\">uninformative</span>"));
    assert_non_null(strstr(html, "uninformative</text>"));
    free(md);
    free(html);
}

/* ---- files and the archive ----------------------------------------------------- */

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}


static void test_semester(void **state)
{
    (void)state;
    char s[16];
    assert_int_equal(loco_results_semester("2026-11-27T10:15:00Z", s, sizeof s), LOCO_OK);
    assert_string_equal(s, "2026-S2");
    assert_int_equal(loco_results_semester("2026-06-30", s, sizeof s), LOCO_OK);
    assert_string_equal(s, "2026-S1");
    assert_int_equal(loco_results_semester("2026-07-01", s, sizeof s), LOCO_OK);
    assert_string_equal(s, "2026-S2");
    assert_int_equal(loco_results_semester("2027-01-01T00:00:00Z", s, sizeof s), LOCO_OK);
    assert_string_equal(s, "2027-S1");
    assert_int_equal(loco_results_semester("2026-13-01", s, sizeof s), LOCO_ERR_FORMAT);
    assert_int_equal(loco_results_semester("2026/11/27", s, sizeof s), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "2026/11/27"));
    assert_int_equal(loco_results_semester("", s, sizeof s), LOCO_ERR_FORMAT);
    assert_int_equal(loco_results_semester(NULL, s, sizeof s), LOCO_ERR_FORMAT);
    assert_int_equal(loco_results_semester("2026-11", s, 4), LOCO_ERR_RANGE);
}

static void test_report_write(void **state)
{
    (void)state;
    char dir[64], path[128], md[128], html[128];
    test_make_tmpdir(dir, sizeof dir, "report");
    snprintf(path, sizeof path, "%s/rec.json", dir);
    snprintf(md, sizeof md, "%s/rec.md", dir);
    snprintf(html, sizeof html, "%s/rec.html", dir);
    char *json = sample_record();
    test_write_file(path, json);
    assert_int_equal(loco_report_write(path), LOCO_OK);
    char *text = test_read_file(md, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "| gsm8k | 60 |"));
    free(text);
    text = test_read_file(html, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "</html>"));
    free(text);
    test_write_file(path, "{\"record\": \"locollm-eval/1\"");
    assert_int_equal(loco_report_write(path), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), path));
    free(json);
    test_rm_rf(dir);
}

static void test_archive(void **state)
{
    (void)state;
    char dir[64], results[128], src[128], out[512], out2[512], want[512];
    test_make_tmpdir(dir, sizeof dir, "report");
    snprintf(results, sizeof results, "%s/results", dir);
    snprintf(src, sizeof src, "%s/rec.json", dir);
    char *json = sample_record();
    test_write_file(src, json);
    assert_int_equal(loco_results_archive(src, results, out, sizeof out), LOCO_OK);
    snprintf(want, sizeof want, "%s/2026-S2/math-gsm8k+mbpp-2026-11-27T101500Z.json", results);
    assert_string_equal(out, want);
    char *copy = test_read_file(out, NULL);
    assert_string_equal(copy, json); /* byte for byte */
    free(copy);
    snprintf(want, sizeof want, "%s/2026-S2/math-gsm8k+mbpp-2026-11-27T101500Z.md", results);
    assert_true(exists(want));
    snprintf(want, sizeof want, "%s/2026-S2/math-gsm8k+mbpp-2026-11-27T101500Z.html", results);
    assert_true(exists(want));
    /* again, from the text: the same file */
    assert_int_equal(loco_results_archive(json, results, out2, sizeof out2), LOCO_OK);
    assert_string_equal(out2, out);
    /* a different record that would take the same name gets -2 */
    char *other = strdup(json);
    char *p = strstr(other, "0.45");
    p[3] = '6';
    assert_int_equal(loco_results_archive(other, results, out2, sizeof out2), LOCO_OK);
    snprintf(want, sizeof want, "%s/2026-S2/math-gsm8k+mbpp-2026-11-27T101500Z-2.json", results);
    assert_string_equal(out2, want);
    /* a FIFO in the archive or named as the record is refused at once, never
     * waited on: the archive passes over the name, the record is an error */
    alarm(20); /* a hang fails the test instead of stalling the suite */
    assert_int_equal(unlink(want), 0);
    assert_int_equal(mkfifo(want, 0600), 0);
    assert_int_equal(loco_results_archive(other, results, out2, sizeof out2), LOCO_OK);
    snprintf(want, sizeof want, "%s/2026-S2/math-gsm8k+mbpp-2026-11-27T101500Z-3.json", results);
    assert_string_equal(out2, want);
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/pipe.json", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(loco_results_archive(fifo, results, out2, sizeof out2), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    alarm(0);
    /* a record without a date has no semester */
    assert_int_equal(loco_results_archive("{\"record\": \"locollm-eval/1\", \"benchmarks\": []}",
                                          results, out2, sizeof out2),
                     LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "date"));
    free(other);
    free(json);
    test_rm_rf(dir);
}

/* ---- the trend ------------------------------------------------------------------- */

static void archive_one(const char *results, const char *adapter, const char *domain,
                        const char *date, const char *bench_name, double score)
{
    cJSON *r = record(adapter, domain, date);
    cJSON *arr = cJSON_GetObjectItem(r, "benchmarks");
    cJSON_AddItemToArray(arr, bench(bench_name, 60, 0.2, score, 0.0, 0.2, 0.01, true, true));
    cJSON_AddItemToArray(arr, bench("other", 60, 0.9, 0.95, 0.0, 0.1, 0.01, false, true));
    char *json = print_free(r);
    assert_int_equal(loco_results_archive(json, results, NULL, 0), LOCO_OK);
    free(json);
}

static void test_trend_two_semesters(void **state)
{
    (void)state;
    char dir[64], results[128], path[256];
    test_make_tmpdir(dir, sizeof dir, "report");
    snprintf(results, sizeof results, "%s/results", dir);
    archive_one(results, "m1", "math", "2026-03-01T00:00:00Z", "gsm8k", 0.40);
    archive_one(results, "m2", "math", "2026-05-01T00:00:00Z", "gsm8k", 0.45);
    archive_one(results, "c1", "code", "2026-04-01T00:00:00Z", "mbpp", 0.30);
    archive_one(results, "m3", "math", "2026-09-01T00:00:00Z", "gsm8k", 0.50);
    archive_one(results, "s1", "summarisation", "2026-10-01T00:00:00Z", "summarisation", 0.20);
    snprintf(path, sizeof path, "%s/2026-S2/junk.json", results);
    test_write_file(path, "{\"not\": \"a record\"}");
    snprintf(path, sizeof path, "%s/misc", results); /* not a semester: ignored */
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/misc/x.json", results);
    test_write_file(path, "garbage");

    struct loco_trend *t = NULL;
    assert_int_equal(loco_trend_load(results, &t), LOCO_OK);
    assert_int_equal(loco_trend_n_semesters(t), 2);
    assert_string_equal(loco_trend_semester(t, 0), "2026-S1");
    assert_string_equal(loco_trend_semester(t, 1), "2026-S2");
    assert_int_equal(loco_trend_n_domains(t), 3);
    assert_string_equal(loco_trend_domain(t, 0), "code");
    assert_string_equal(loco_trend_domain(t, 1), "math");
    assert_string_equal(loco_trend_domain(t, 2), "summarisation");
    assert_int_equal(loco_trend_n_records(t), 5);
    assert_int_equal(loco_trend_n_skipped(t), 1);
    assert_non_null(strstr(loco_trend_skipped(t, 0), "junk.json"));
    assert_float_equal(loco_trend_best(t, 1, 0), 0.45, 1e-12);
    assert_string_equal(loco_trend_best_adapter(t, 1, 0), "m2");
    assert_true(isnan(loco_trend_best(t, 0, 1)));
    assert_null(loco_trend_best_adapter(t, 0, 1));
    size_t n = 0;
    assert_float_equal(loco_trend_composite(t, 0, &n), (0.45 + 0.30) / 2, 1e-12);
    assert_int_equal(n, 2);
    assert_float_equal(loco_trend_composite(t, 1, &n), (0.50 + 0.20) / 2, 1e-12);
    assert_int_equal(n, 2);

    char *svg = loco_trend_svg(t);
    assert_non_null(svg);
    assert_true(well_formed(svg, strlen(svg)));
    assert_int_equal(count(svg, "<svg"), 1);
    assert_non_null(strstr(svg, ">composite</text>"));
    assert_non_null(strstr(svg, ">2026-S2</text>"));
    assert_non_null(strstr(svg, "stroke-width=\"4.0\"")); /* the composite is thicker */
    char *md = loco_trend_markdown(t);
    assert_non_null(strstr(md, "| 2026-S1 | 0.300 (c1) | 0.450 (m2) | - | 0.375 | 2 of 3 |"));
    assert_non_null(strstr(md, "| 2026-S2 | - | 0.500 (m3) | 0.200 (s1) | 0.350 | 2 of 3 |"));
    char *html = loco_trend_html(t);
    assert_int_equal(check_svgs(html), 1);
    assert_non_null(strstr(html, "<table>"));
    free(svg);
    free(md);
    free(html);
    loco_trend_free(t);
    test_rm_rf(dir);
}

static void test_trend_one_semester_and_empty(void **state)
{
    (void)state;
    char dir[64], results[128];
    test_make_tmpdir(dir, sizeof dir, "report");
    snprintf(results, sizeof results, "%s/results", dir);
    struct loco_trend *t = NULL;
    assert_int_equal(loco_trend_load(results, &t), LOCO_ERR_NOT_FOUND);
    assert_int_equal(mkdir(results, 0755), 0);
    assert_int_equal(loco_trend_load(results, &t), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "no evaluation record"));
    archive_one(results, "m1", "math", "2026-03-01T00:00:00Z", "gsm8k", 0.40);
    assert_int_equal(loco_trend_load(results, &t), LOCO_OK);
    char *svg = loco_trend_svg(t);
    assert_true(well_formed(svg, strlen(svg)));
    assert_null(strstr(svg, " L")); /* one semester: points, no line segments */
    assert_non_null(strstr(svg, "<circle"));
    free(svg);
    loco_trend_free(t);
    test_rm_rf(dir);
}

/* ---- the leaderboard ------------------------------------------------------------- */

#define BASE_SHA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FILE_SHA "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void adapter_yaml(FILE *f, const char *name, const char *domain, const char *status,
                         const char *scores)
{
    fprintf(f,
            "  - name: %s\n    domain: %s\n    version: 1.0.0\n    file: %s.gguf\n"
            "    sha256: " FILE_SHA "\n    base_sha256: " BASE_SHA "\n"
            "    lora: {rank: 2, alpha: 4, targets: [q]}\n"
            "    provenance: {recipe: r.yaml, data: d, seed: 1, semester: 2026-S2, authors: [A]}\n"
            "    router: {keywords: [k], examples: [\"e\"]}\n    status: %s\n%s",
            name, domain, name, status, scores);
}

static const char *score_yaml(char *buf, size_t cap, const char *bench_name, double score,
                              double base, double p, bool passed, int n)
{
    snprintf(buf, cap,
             "      - {benchmark: %s, score: %g, ci_low: %g, ci_high: %g, base_score: %g, "
             "p_value: %g, passed: %s, n_items: %d, record: r.json}\n",
             bench_name, score, score - 0.05, score + 0.05, base, p, passed ? "true" : "false", n);
    return buf;
}

static struct loco_registry *board_registry(char *dir, size_t cap)
{
    test_make_tmpdir(dir, cap, "report");
    char path[128], s1[256], s2[256], scores[600];
    snprintf(path, sizeof path, "%s/registry.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "schema_version: 2\nbase_model: {name: Tiny, file: t.gguf, sha256: " BASE_SHA
               ", architecture: llama, academic_year: \"2026\"}\n"
               "domains:\n  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}\n"
               "  code: {primary_benchmark: mbpp, benchmarks: [mbpp, humaneval]}\n"
               "adapters:\n");
    snprintf(scores, sizeof scores, "    scores:\n%s",
             score_yaml(s1, sizeof s1, "gsm8k", 0.40, 0.30, 0.01, true, 100));
    adapter_yaml(f, "ma", "math", "candidate", scores);
    snprintf(scores, sizeof scores, "    scores:\n%s",
             score_yaml(s1, sizeof s1, "gsm8k", 0.50, 0.30, 0.001, true, 100));
    adapter_yaml(f, "mb", "math", "active", scores);
    adapter_yaml(f, "mc", "math", "candidate", "");
    snprintf(scores, sizeof scores, "    scores:\n%s%s",
             score_yaml(s1, sizeof s1, "mbpp", 0.25, 0.20, 0.2, false, 60),
             score_yaml(s2, sizeof s2, "humaneval", 0.10, 0.12, 0.7, true, 164));
    adapter_yaml(f, "ca", "code", "candidate", scores);
    fclose(f);
    struct loco_registry_params p = loco_registry_default_params();
    p.project_path = path;
    p.user_path = "";
    struct loco_registry *r = loco_registry_load(&p);
    if (!r)
        fprintf(stderr, "%s\n", loco_error_message());
    assert_non_null(r);
    return r;
}

static void test_leaderboard_rows(void **state)
{
    (void)state;
    char dir[64];
    struct loco_registry *r = board_registry(dir, sizeof dir);
    struct loco_leaderboard lb;
    assert_int_equal(loco_leaderboard_build(r, NULL, &lb), LOCO_OK);
    assert_int_equal(lb.n, 4);
    const char *names[] = {"mb", "ma", "mc", "ca"};
    const int ranks[] = {1, 2, 0, 1};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(lb.rows[i].name, names[i]);
        assert_int_equal(lb.rows[i].rank, ranks[i]);
    }
    assert_true(lb.rows[0].active);
    assert_false(lb.rows[1].active);
    assert_true(lb.rows[0].passed);
    assert_false(lb.rows[2].has_score);
    assert_false(lb.rows[2].passed);
    assert_string_equal(lb.rows[2].benchmark, "gsm8k");
    assert_float_equal(lb.rows[0].gain, 0.20, 1e-12);
    assert_false(lb.rows[3].passed);
    assert_string_equal(lb.rows[3].benchmark, "mbpp");

    char *json = loco_leaderboard_json(&lb);
    cJSON *arr = cJSON_Parse(json);
    assert_true(cJSON_IsArray(arr));
    assert_int_equal(cJSON_GetArraySize(arr), 4);
    cJSON *first = cJSON_GetArrayItem(arr, 0), *none = cJSON_GetArrayItem(arr, 2);
    const char *keys[] = {"rank",   "name",    "domain",     "benchmark", "score",
                          "ci_low", "ci_high", "base_score", "gain",      "p_value",
                          "passed", "active",  "status",     "n_items",   "gate",
                          "verdict"};
    for (int i = 0; i < 16; i++)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(first, keys[i]));
    assert_float_equal(cJSON_GetObjectItem(first, "score")->valuedouble, 0.5, 1e-12);
    assert_float_equal(cJSON_GetObjectItem(first, "base_score")->valuedouble, 0.3, 1e-12);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(first, "active")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(none, "score")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(none, "rank")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(none, "passed")));
    cJSON_Delete(arr);
    free(json);

    char *md = loco_leaderboard_markdown(&lb);
    assert_non_null(strstr(md, "| 1 | mb | math | gsm8k | 0.500 [0.450, 0.550] | 0.300 | "
                               "+0.200 | 0.001 | superiority | **PASS** | active | 100 |"));
    assert_non_null(strstr(md, "| - | mc | math | gsm8k | - | - | - | - | - | - | candidate | - |"));
    assert_string_equal(lb.rows[0].gate, "superiority");
    assert_string_equal(lb.rows[0].verdict, "PASS");
    assert_null(lb.rows[2].gate);
    char *html = loco_leaderboard_html(&lb);
    assert_non_null(strstr(html, "<td>mb</td>"));
    assert_null(strstr(html, "<script"));
    free(md);
    free(html);
    loco_leaderboard_free(&lb);
    loco_registry_free(r);
    test_rm_rf(dir);
}

static void test_leaderboard_all_and_domain(void **state)
{
    (void)state;
    char dir[64];
    struct loco_registry *r = board_registry(dir, sizeof dir);
    struct loco_leaderboard lb;
    struct loco_leaderboard_params p = loco_leaderboard_default_params();
    p.domain = "code";
    p.all = true;
    assert_int_equal(loco_leaderboard_build(r, &p, &lb), LOCO_OK);
    assert_int_equal(lb.n, 2);
    assert_string_equal(lb.rows[0].benchmark, "mbpp");
    assert_true(lb.rows[0].primary);
    assert_string_equal(lb.rows[1].benchmark, "humaneval");
    assert_false(lb.rows[1].primary);
    assert_int_equal(lb.rows[1].rank, 1);
    assert_int_equal(lb.rows[1].n_items, 164);
    loco_leaderboard_free(&lb);
    p.domain = "poetry";
    assert_int_equal(loco_leaderboard_build(r, &p, &lb), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "no domain 'poetry'"));
    assert_non_null(strstr(loco_error_message(), "math, code"));
    loco_registry_free(r);
    test_rm_rf(dir);
}

/* Each verdict names its gate: superiority on the domain's benchmark,
 * non-inferiority elsewhere, uninformative at the floor (base 0.02 on a
 * 5-point margin, though the registry says passed); a readable record's
 * verdict wins over the derived one. */
static void test_leaderboard_gates(void **state)
{
    (void)state;
    char dir[64], path[128], s1[256], s2[256], s3[256], scores[900];
    test_make_tmpdir(dir, sizeof dir, "report");
    snprintf(path, sizeof path, "%s/registry.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "schema_version: 2\nbase_model: {name: Tiny, file: t.gguf, sha256: " BASE_SHA
               ", architecture: llama, academic_year: \"2026\"}\n"
               "domains:\n  code: {primary_benchmark: mbpp, benchmarks: [mbpp]}\n"
               "adapters:\n");
    snprintf(scores, sizeof scores, "    scores:\n%s%s%s",
             score_yaml(s1, sizeof s1, "mbpp", 0.10, 0.05, 0.03, true, 171),
             score_yaml(s2, sizeof s2, "gsm8k", 0.03, 0.02, 1, true, 100),
             score_yaml(s3, sizeof s3, "summarisation", 0.138, 0.150, 0.1, true, 100));
    adapter_yaml(f, "code", "code", "active", scores);
    fclose(f);
    struct loco_registry_params p = loco_registry_default_params();
    p.project_path = path;
    p.user_path = "";
    struct loco_registry *r = loco_registry_load(&p);
    assert_non_null(r);
    struct loco_leaderboard_params lp = loco_leaderboard_default_params();
    lp.all = true;
    struct loco_leaderboard lb;
    assert_int_equal(loco_leaderboard_build(r, &lp, &lb), LOCO_OK);
    assert_int_equal(lb.n, 3);
    for (size_t i = 0; i < lb.n; i++) {
        const char *want_gate = !strcmp(lb.rows[i].benchmark, "mbpp") ? "superiority"
                                                                       : "non-inferiority";
        const char *want = !strcmp(lb.rows[i].benchmark, "gsm8k") ? "uninformative" : "PASS";
        assert_string_equal(lb.rows[i].gate, want_gate);
        assert_string_equal(lb.rows[i].verdict, want);
    }
    char *md = loco_leaderboard_markdown(&lb);
    assert_non_null(strstr(md, "| non-inferiority | **uninformative** | active | 100 |"));
    char *html = loco_leaderboard_html(&lb);
    assert_non_null(strstr(html, "<span class=\"neutral\">uninformative</span>"));
    free(md);
    free(html);
    loco_leaderboard_free(&lb);
    /* the record (r.json beside the registry) says FAIL for summarisation */
    snprintf(path, sizeof path, "%s/r.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"record\": \"locollm-eval/1\", \"benchmarks\": [{\"benchmark\": "
               "\"summarisation\", \"gate\": \"non-inferiority\", \"verdict\": \"FAIL\"}]}\n");
    fclose(f);
    assert_int_equal(loco_leaderboard_build(r, &lp, &lb), LOCO_OK);
    for (size_t i = 0; i < lb.n; i++)
        if (!strcmp(lb.rows[i].benchmark, "summarisation"))
            assert_string_equal(lb.rows[i].verdict, "FAIL");
    loco_leaderboard_free(&lb);
    loco_registry_free(r);
    test_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown_table),
        cmocka_unit_test(test_markdown_escapes_item_text),
        cmocka_unit_test(test_html_is_escaped_and_self_contained),
        cmocka_unit_test(test_hostile_benchmark_name_in_svg),
        cmocka_unit_test(test_refuses_non_records),
        cmocka_unit_test(test_refuses_truncated_record),
        cmocka_unit_test(test_minimal_record),
        cmocka_unit_test(test_strategy_sides),
        cmocka_unit_test(test_verdicts_and_runs),
        cmocka_unit_test(test_semester),
        cmocka_unit_test(test_report_write),
        cmocka_unit_test(test_archive),
        cmocka_unit_test(test_trend_two_semesters),
        cmocka_unit_test(test_trend_one_semester_and_empty),
        cmocka_unit_test(test_leaderboard_rows),
        cmocka_unit_test(test_leaderboard_all_and_domain),
        cmocka_unit_test(test_leaderboard_gates),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
