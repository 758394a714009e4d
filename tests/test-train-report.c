/*
 * test-train-report.c - what a training run leaves for people: the compiled
 * TRAINING_LOG template is the same text as docs/templates/, the template
 * filler, and loss.svg is well-formed SVG with axes, labels and both series.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loco/trainrun.h"
#include "testutil.h"

/* src/train/run/log_template.c must hold the docs file's exact text. */
static void test_template_matches_docs(void **state)
{
    char *docs = test_source_text("docs/templates/TRAINING_LOG_TEMPLATE.md");
    if (strcmp(docs, loco_train_log_template) != 0)
        fail_msg("docs/templates/TRAINING_LOG_TEMPLATE.md and src/train/run/log_template.c "
                 "differ: regenerate the C string from the .md (see the comment at the top of "
                 "log_template.c)");
    free(docs);
}

static void test_fill(void **state)
{
    const char *keys[] = {"a", "name"}, *values[] = {"1", "math"};
    char *s = loco_template_fill("x {{name}} y {{a}}{{a}} {z}", keys, values, 2);
    assert_non_null(s);
    assert_string_equal(s, "x math y 11 {z}");
    free(s);
    assert_null(loco_template_fill("{{nope}}", keys, values, 2));
    assert_non_null(strstr(loco_error_message(), "{{nope}}"));
}

/* Every {{key}} in the real template has a value in a finished run's log:
 * checked by listing them here against what finish.c fills. */
static void test_template_keys_known(void **state)
{
    static const char *filled[] = {
        "name",         "adapter_file", "domain",     "base_model",    "base_sha256",
        "recipe_hash",  "date",         "version",    "val_table",     "samples",
        "data_path",    "format",       "selection",  "n_records",     "n_selected",
        "n_truncated",  "n_dropped",    "n_examples", "n_train",       "n_val",
        "n_tokens",     "n_target",     "len_min",    "len_mean",      "len_max",
        "max_tokens",   "rank",         "alpha",      "dropout",       "targets",
        "n_params",     "lr",           "beta1",      "beta2",         "eps",
        "weight_decay", "warmup_steps", "min_lr",     "steps",         "epochs_done",
        "batch",        "clip",         "seed",       "sample_tokens", "cpu",
        "cores",        "threads",      "duration",   "tokens_seen",   "tokens_per_s",
        "val_before",   "val_after"};
    const size_t n = sizeof filled / sizeof filled[0];
    char *s = loco_template_fill(loco_train_log_template, filled, filled, n);
    if (!s)
        fail_msg("%s", loco_error_message());
    assert_null(strstr(s, "{{"));
    free(s);
}

/* A small well-formedness check: every <tag> is closed in order, and the
 * document is one <svg> element after the XML declaration. */
static void expect_well_formed(const char *svg)
{
    char stack[64][32];
    int depth = 0, elements = 0;
    assert_true(strncmp(svg, "<?xml", 5) == 0);
    for (const char *p = strchr(svg + 1, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        bool closing = p[1] == '/', self = end[-1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " />");
        assert_true(len > 0 && len < 32);
        if (closing) {
            assert_true(depth > 0);
            depth--;
            assert_int_equal(strlen(stack[depth]), len);
            assert_memory_equal(stack[depth], name, len);
        } else if (!self) {
            assert_true(depth < 64);
            memcpy(stack[depth], name, len);
            stack[depth++][len] = '\0';
        }
        if (depth == 1 && !closing && strncmp(name, "svg", 3) == 0)
            elements++;
    }
    assert_int_equal(depth, 0);
    assert_int_equal(elements, 1);
}

static void test_svg(void **state)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/loco-test-loss-%d.svg", (int)getpid());
    float loss[50];
    for (int i = 0; i < 50; i++)
        loss[i] = 3.0f * expf(-0.05f * (float)i) + 0.5f;
    loss[10] = NAN; /* skipped, not drawn as garbage */
    struct loco_val_point val[3] = {{0, 3.6f}, {25, 1.4f}, {50, 0.9f}};
    assert_int_equal(loco_train_write_svg(path, loss, 50, val, 3), LOCO_OK);
    char *svg = test_read_file(path, NULL);
    assert_non_null(svg);
    expect_well_formed(svg);
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(svg, "<polyline"));
    assert_non_null(strstr(svg, "optimizer step"));
    assert_non_null(strstr(svg, "loss (mean NLL per target token)"));
    assert_non_null(strstr(svg, "validation"));
    assert_null(strstr(svg, "nan"));
    int circles = 0;
    for (const char *p = svg; (p = strstr(p, "<circle")); p++)
        circles++;
    assert_int_equal(circles, 4); /* three points and the legend's */
    free(svg);
    /* no steps at all (a run stopped before its first step) still draws */
    assert_int_equal(loco_train_write_svg(path, NULL, 0, val, 1), LOCO_OK);
    svg = test_read_file(path, NULL);
    expect_well_formed(svg);
    free(svg);
    unlink(path);
}

static void test_cpu_model(void **state)
{
    char cpu[256];
    loco_cpu_model(cpu, sizeof cpu);
    assert_true(cpu[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_matches_docs),
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_template_keys_known),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_cpu_model),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
