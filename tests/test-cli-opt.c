/*
 * test-cli-opt.c - the commands' option parser (cli/opt.c): every kind of
 * option and its bounds, the --opt=value / --opt value / -nV / -- forms,
 * positionals, the one error style with the nearest-option suggestion, and
 * the help generated from the table.
 *
 * cli/opt.c belongs to the program, not the library, so it is compiled
 * into this test directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/opt.c"
#include "testutil.h"

/* ---- a command with one option of each kind ------------------------------- */

struct values {
    bool json;
    int layer, threads;
    const char *model, *format;
    float temperature;
    double alpha;
    uint64_t seed;
    const char *bench_v[3];
    struct cli_strs bench;
};

static void defaults(struct values *v)
{
    *v = (struct values){
        .layer = 0, .threads = 4, .format = "md", .temperature = 0.2f, .alpha = 0.05};
    v->bench = (struct cli_strs){.v = v->bench_v, .cap = 3};
}

#define TABLE(v)                                                                                   \
    {                                                                                              \
        CLI_OPT_FLAG(0, "json", &(v)->json, "machine-readable output"),                            \
            CLI_OPT_SET(0, "project", &(v)->layer, 1, "write the project file"),                   \
            CLI_OPT_SET(0, "user", &(v)->layer, 2, NULL), CLI_OPT_GROUP("engine:"),                \
            CLI_OPT_STRING('m', "model", &(v)->model, "PATH", "the model"),                        \
            CLI_OPT_INT('n', "threads", &(v)->threads, "N", 1, 512,                                \
                        "CPU threads\nall by default"),                                            \
            CLI_OPT_FLOAT(0, "temperature", &(v)->temperature, "T", 0, 100, "0 = greedy"),         \
            CLI_OPT_DOUBLE(0, "alpha", &(v)->alpha, "A", 1e-6, 0.5, "significance level"),         \
            CLI_OPT_U64(0, "seed", &(v)->seed, "S", "make it repeatable"),                         \
            CLI_OPT_CHOICE(0, "format", &(v)->format, "md|html|json", "the output format"),        \
            CLI_OPT_LIST(0, "bench", &(v)->bench, "NAME|FILE.jsonl", "a benchmark (repeatable)"),  \
            CLI_OPT_END()                                                                          \
    }

/* Run the parser on a NULL-terminated argument list (argv[0] "try"); the
 * arguments are copied so the parser may reorder them. */
static int parse(struct values *v, unsigned flags, int max_args, char **out_args, const char *arg,
                 ...)
{
    static char *argv[32];
    int argc = 0;
    argv[argc++] = "try";
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    struct cli_option opts[] = TABLE(v);
    struct cli_command c = {"try", "usage: loco try\n\n", NULL, opts, max_args, flags};
    int n = cli_opt_parse(&c, argc, argv);
    for (int i = 0; out_args && i < n; i++)
        out_args[i] = argv[i];
    return n;
}

/* Output captured into an unnamed temporary file: stderr, and stdout too
 * when asked. capture_end restores them and reads what was written. */
struct capture {
    FILE *file;
    int saved_out, saved_err;
};

static void capture_begin(struct capture *c, bool out)
{
    c->file = tmpfile();
    assert_non_null(c->file);
    fflush(stdout);
    fflush(stderr);
    c->saved_out = out ? dup(STDOUT_FILENO) : -1;
    c->saved_err = dup(STDERR_FILENO);
    if (out)
        dup2(fileno(c->file), STDOUT_FILENO);
    dup2(fileno(c->file), STDERR_FILENO);
}

static void capture_end(struct capture *c, char *buf, size_t cap)
{
    fflush(stdout);
    fflush(stderr);
    if (c->saved_out >= 0) {
        dup2(c->saved_out, STDOUT_FILENO);
        close(c->saved_out);
    }
    dup2(c->saved_err, STDERR_FILENO);
    close(c->saved_err);
    ssize_t got = pread(fileno(c->file), buf, cap - 1, 0);
    buf[got > 0 ? got : 0] = '\0';
    fclose(c->file);
}

/* stderr of `fn` into buf (it is redirected to a temporary file). */
static int captured_parse(struct values *v, char *buf, size_t cap, const char *a1, const char *a2)
{
    struct capture c;
    capture_begin(&c, false);
    int n = parse(v, 0, 0, NULL, a1, a2, NULL);
    capture_end(&c, buf, cap);
    return n;
}

static void test_each_kind(void **state)
{
    (void)state;
    struct values v;
    defaults(&v);
    assert_int_equal(parse(&v, 0, 0, NULL, "--json", "--project", "--model", "m.gguf", "--threads",
                           "8", "--temperature", "0.5", "--alpha", "0.01", "--seed",
                           "18446744073709551615", "--format", "json", "--bench", "gsm8k",
                           "--bench", "mbpp", NULL),
                     0);
    assert_true(v.json);
    assert_int_equal(v.layer, 1);
    assert_string_equal(v.model, "m.gguf");
    assert_int_equal(v.threads, 8);
    assert_float_equal(v.temperature, 0.5f, 0);
    assert_float_equal(v.alpha, 0.01, 0);
    assert_true(v.seed == UINT64_MAX);
    assert_string_equal(v.format, "json");
    assert_int_equal(v.bench.n, 2);
    assert_string_equal(v.bench.v[0], "gsm8k");
    assert_string_equal(v.bench.v[1], "mbpp");
}

static void test_untouched_without_options(void **state)
{
    (void)state;
    struct values v;
    defaults(&v);
    assert_int_equal(parse(&v, 0, 0, NULL, NULL), 0);
    assert_false(v.json);
    assert_int_equal(v.threads, 4);
    assert_string_equal(v.format, "md");
    assert_null(v.model);
}

static void test_value_forms(void **state)
{
    (void)state;
    struct values v;
    defaults(&v);
    assert_int_equal(parse(&v, 0, 0, NULL, "--threads=3", NULL), 0);
    assert_int_equal(v.threads, 3);
    assert_int_equal(parse(&v, 0, 0, NULL, "-n", "5", NULL), 0);
    assert_int_equal(v.threads, 5);
    assert_int_equal(parse(&v, 0, 0, NULL, "-n6", NULL), 0);
    assert_int_equal(v.threads, 6);
    assert_int_equal(parse(&v, 0, 0, NULL, "--model=a=b.gguf", NULL), 0);
    assert_string_equal(v.model, "a=b.gguf"); /* only the first '=' splits */
    assert_int_equal(parse(&v, 0, 0, NULL, "--model=", NULL), 0);
    assert_string_equal(v.model, ""); /* an empty value is a value */
    /* a value that looks like an option is still the value */
    assert_int_equal(parse(&v, 0, 0, NULL, "--model", "--json", NULL), 0);
    assert_string_equal(v.model, "--json");
    assert_false(v.json);
}

static void test_positionals(void **state)
{
    (void)state;
    struct values v;
    defaults(&v);
    char *args[8];
    /* options anywhere; positionals keep their order */
    assert_int_equal(parse(&v, 0, CLI_ARGS_ANY, args, "a", "--json", "b", "-", NULL), 3);
    assert_string_equal(args[0], "a");
    assert_string_equal(args[1], "b");
    assert_string_equal(args[2], "-"); /* a lone dash is an argument (stdin) */
    assert_true(v.json);
    /* after --, everything is an argument */
    defaults(&v);
    assert_int_equal(parse(&v, 0, CLI_ARGS_ANY, args, "--", "--json", "-n", NULL), 2);
    assert_string_equal(args[0], "--json");
    assert_string_equal(args[1], "-n");
    assert_false(v.json);
    /* STOP_AT_ARG: the first argument ends the options (a question's words) */
    assert_int_equal(
        parse(&v, CLI_OPT_STOP_AT_ARG, CLI_ARGS_ANY, args, "--json", "what", "is", "--seed", NULL),
        3);
    assert_string_equal(args[2], "--seed");
    assert_true(v.json);
    assert_true(v.seed == 0);
}

static void test_seen(void **state)
{
    (void)state;
    struct values v;
    defaults(&v);
    struct cli_option opts[] = TABLE(&v);
    char *argv[] = {"try", "--alpha", "0.1", "--json", "--alpha=0.2"};
    struct cli_command c = {"try", NULL, NULL, opts, 0, 0};
    assert_int_equal(cli_opt_parse(&c, 5, argv), 0);
    assert_int_equal(cli_opt_seen(opts, "alpha"), 2);
    assert_int_equal(cli_opt_seen(opts, "json"), 1);
    assert_int_equal(cli_opt_seen(opts, "seed"), 0);
    assert_int_equal(cli_opt_seen(opts, "nosuch"), 0);
    assert_float_equal(v.alpha, 0.2, 0); /* the last one counts */
}

static void test_errors(void **state)
{
    (void)state;
    struct values v;
    char err[512];
    defaults(&v);
    static const struct {
        const char *a1, *a2, *message;
    } cases[] = {
        {"--temperature", "abc", "loco try: --temperature: 'abc' is not a number\n"},
        {"--temperature", "nan", "loco try: --temperature: 'nan' is not a number\n"},
        {"--temperature", "-1", "loco try: --temperature: -1 is out of range (0 to 100)\n"},
        {"--threads", "2x", "loco try: --threads: '2x' is not an integer\n"},
        {"--threads", "0", "loco try: --threads: 0 is out of range (1 to 512)\n"},
        {"-n", "99999999999999999999",
         "loco try: -n: 99999999999999999999 is out of range "
         "(1 to 512)\n"},
        {"--seed", "-1", "loco try: --seed: '-1' is not a non-negative integer\n"},
        {"--seed", " 1", "loco try: --seed: ' 1' is not a non-negative integer\n"},
        {"--format", "pdf", "loco try: --format: 'pdf' is not one of md, html, json\n"},
        {"--json=yes", NULL, "loco try: --json takes no value\n"},
        {"--model", NULL, "loco try: --model needs a value (PATH)\n"},
        {"--jsn", NULL,
         "loco try: unknown option '--jsn'; did you mean '--json'? "
         "(see loco try --help)\n"},
        {"--temp=1", NULL,
         "loco try: unknown option '--temp=1'; did you mean "
         "'--temperature'? (see loco try --help)\n"},
        {"--zebra", NULL, "loco try: unknown option '--zebra' (see loco try --help)\n"},
        {"-q", NULL, "loco try: unknown option '-q' (see loco try --help)\n"},
        {"extra", NULL, "loco try: unexpected argument 'extra' (see loco try --help)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = captured_parse(&v, err, sizeof err, cases[i].a1, cases[i].a2);
        if (strcmp(err, cases[i].message))
            fail_msg("%s %s: got '%s'", cases[i].a1, cases[i].a2 ? cases[i].a2 : "", err);
        assert_int_equal(n, CLI_OPT_ERROR);
        assert_int_equal(cli_opt_exit(n), 2);
    }
    /* a bad value leaves the destination as it was */
    assert_int_equal(v.threads, 4);
    assert_float_equal(v.temperature, 0.2f, 0);
}

static void test_list_full(void **state)
{
    (void)state;
    struct values v;
    defaults(&v);
    struct cli_option opts[] = TABLE(&v);
    struct cli_option *bench = cli_opt_find_long(opts, "bench", 5);
    char err[128];
    for (int i = 0; i < 3; i++)
        assert_true(cli_opt_set(bench, "x", err, sizeof err));
    assert_false(cli_opt_set(bench, "x", err, sizeof err));
    assert_string_equal(err, "--bench: at most 3 values");
}

static void test_lookups(void **state)
{
    (void)state;
    struct values v;
    defaults(&v);
    struct cli_option opts[] = TABLE(&v);
    assert_ptr_equal(cli_opt_find_short(opts, 'm'), cli_opt_find_long(opts, "model", 5));
    assert_null(cli_opt_find_short(opts, 'x'));
    assert_null(cli_opt_find_short(opts, 0)); /* rows without a short name */
    assert_null(cli_opt_find_long(opts, "mod", 3));
    assert_null(cli_opt_find_long(opts, "engine:", 7)); /* a heading is no option */
}

static void test_help_generated(void **state)
{
    (void)state;
    struct values v;
    defaults(&v);
    struct cli_option opts[] = TABLE(&v);
    struct cli_command c = {"try", "usage: loco try\n\n", "see also: loco other\n", opts, 0, 0};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_opt_help(f, &c);
    fclose(f);
    assert_string_equal(text, "usage: loco try\n\n"
                              "  --json                 machine-readable output\n"
                              "  --project              write the project file\n"
                              "engine:\n"
                              "  -m, --model PATH       the model\n"
                              "  -n, --threads N        CPU threads\n"
                              "                         all by default\n"
                              "  --temperature T        0 = greedy\n"
                              "  --alpha A              significance level\n"
                              "  --seed S               make it repeatable\n"
                              "  --format md|html|json  the output format\n"
                              "  --bench NAME|FILE.jsonl\n"
                              "                         a benchmark (repeatable)\n"
                              "see also: loco other\n");
    free(text);
}

static void test_help_option(void **state)
{
    (void)state;
    struct values v;
    defaults(&v);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    int n = parse(&v, 0, 0, NULL, "--json", "--help", "--threads", "bad", NULL);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(null);
    assert_int_equal(n, CLI_OPT_HELP);
    assert_int_equal(cli_opt_exit(n), 0);
}

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(cli_opt_edit_distance("ask", "ask"), 0);
    assert_int_equal(cli_opt_edit_distance("aks", "ask"), 1); /* a transposition */
    assert_int_equal(cli_opt_edit_distance("", "abc"), 3);
    assert_int_equal(cli_opt_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(cli_opt_edit_distance("json", "jsn"), 1);
    char big[100];
    memset(big, 'a', 99);
    big[99] = '\0';
    assert_int_equal(cli_opt_edit_distance(big, "a"), 100);
}

static void test_nearest(void **state)
{
    (void)state;
    const char *cmds[] = {"ask", "route", "router", "logs", "models", "report", "registry"};
    size_t n = sizeof cmds / sizeof cmds[0];
    assert_string_equal(cli_opt_nearest("aks", cmds, n), "ask");
    assert_string_equal(cli_opt_nearest("modles", cmds, n), "models");
    assert_string_equal(cli_opt_nearest("regi", cmds, n), "registry"); /* a unique prefix */
    assert_string_equal(cli_opt_nearest("rotue", cmds, n), "route");
    assert_null(cli_opt_nearest("frobnicate", cmds, n));
    assert_null(cli_opt_nearest("x", cmds, n)); /* too short to guess */
}

static void test_arg_id(void **state)
{
    (void)state;
    int64_t id = 0;
    assert_true(cli_opt_arg_id("logs", "the exchange id", "42", 1, INT64_MAX, &id));
    assert_int_equal(id, 42);
    struct capture c;
    capture_begin(&c, false);
    assert_false(cli_opt_arg_id("logs", "the exchange id", "0", 1, 10, &id));
    assert_false(cli_opt_arg_id("logs", "the exchange id", "-3", 1, 10, &id));
    assert_false(cli_opt_arg_id("logs", "the exchange id", "4x", 1, 10, &id));
    char buf[512];
    capture_end(&c, buf, sizeof buf);
    assert_string_equal(buf, "loco logs: the exchange id: 0 is out of range (1 to 10)\n"
                             "loco logs: the exchange id: '-3' is not a number\n"
                             "loco logs: the exchange id: '4x' is not a number\n");
    assert_int_equal(id, 42); /* untouched by the failures */
}

/* ---- subcommands ----------------------------------------------------------- */

static int ran_argc;
static const char *ran_arg0, *ran_arg1;
static char ran_command[64];

static int sub_run(int argc, char **argv)
{
    snprintf(ran_command, sizeof ran_command, "%s", cli_opt_command());
    ran_argc = argc;
    ran_arg0 = argv[0];
    ran_arg1 = argc > 1 ? argv[1] : NULL;
    return 7;
}

/* cli_opt_dispatch on argv {"models", a1, a2}, with stdout and stderr in out. */
static int dispatch(const char *a1, const char *a2, char *out, size_t cap)
{
    static const struct cli_subcommand subs[] = {{"list", sub_run, "the models"},
                                                 {"ls", sub_run, NULL},
                                                 {"pull", sub_run, "download"},
                                                 {NULL, NULL, NULL}};
    char *argv[] = {"models", (char *)a1, (char *)a2, NULL};
    int argc = a2 ? 3 : a1 ? 2 : 1;
    struct capture c;
    capture_begin(&c, true);
    ran_argc = 0;
    int rc =
        cli_opt_dispatch("models", "usage: loco models <subcommand>\n\n", NULL, subs, argc, argv);
    capture_end(&c, out, cap);
    return rc;
}

static void test_dispatch(void **state)
{
    (void)state;
    char out[2048];
    cli_opt_set_command("models");
    assert_int_equal(dispatch("list", "--json", out, sizeof out), 7);
    assert_int_equal(ran_argc, 2);
    assert_string_equal(ran_arg0, "list");
    assert_string_equal(ran_arg1, "--json");
    assert_string_equal(ran_command, "models list");            /* the prefix of its messages */
    assert_int_equal(dispatch("ls", NULL, out, sizeof out), 7); /* an alias */
    assert_string_equal(ran_arg0, "ls");
    /* help SUB runs SUB --help */
    assert_int_equal(dispatch("help", "pull", out, sizeof out), 7);
    assert_string_equal(ran_arg0, "pull");
    assert_string_equal(ran_arg1, "--help");
    /* the help lists the subcommands, not the aliases */
    assert_int_equal(dispatch("--help", NULL, out, sizeof out), 0);
    assert_string_equal(out, "usage: loco models <subcommand>\n\n"
                             "subcommands:\n"
                             "  list         the models\n"
                             "  pull         download\n\n"
                             "`loco models SUBCOMMAND --help` (or `loco help models SUBCOMMAND`) "
                             "shows its options.\n");
    assert_int_equal(dispatch(NULL, NULL, out, sizeof out), 2); /* none: help, status 2 */
    assert_int_equal(ran_argc, 0);
    assert_int_equal(dispatch("lsit", NULL, out, sizeof out), 2);
    assert_string_equal(out, "loco models: unknown subcommand 'lsit'; did you mean 'list'? "
                             "(see loco models --help)\n");
    assert_int_equal(dispatch("frobnicate", NULL, out, sizeof out), 2);
    assert_string_equal(out, "loco models: unknown subcommand 'frobnicate' (see loco models "
                             "--help)\n");
    assert_int_equal(ran_argc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_kind),      cmocka_unit_test(test_untouched_without_options),
        cmocka_unit_test(test_value_forms),    cmocka_unit_test(test_positionals),
        cmocka_unit_test(test_seen),           cmocka_unit_test(test_errors),
        cmocka_unit_test(test_list_full),      cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_help_generated), cmocka_unit_test(test_help_option),
        cmocka_unit_test(test_edit_distance),  cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_arg_id),         cmocka_unit_test(test_dispatch),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
