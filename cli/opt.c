/*
 * opt.c - the option parser of every `loco` command (see opt.h).
 *
 * The first half converts values, finds rows and measures edit distances
 * without printing; the second half is the command-line driver: it walks
 * argv, reports errors as "loco <cmd>: ..." on stderr, and prints the help
 * generated from the table.
 */
#include "opt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- conversion and lookup (no printing) ---------------------------------- */

static bool takes_value(const struct cli_option *o)
{
    return o->kind != CLI_OPT_KIND_FLAG && o->kind != CLI_OPT_KIND_SET;
}

/* "--threads", or "-n" for a short-only option, into buf. */
static const char *display_name(const struct cli_option *o, char *buf, size_t cap)
{
    if (o->long_name)
        snprintf(buf, cap, "--%s", o->long_name);
    else
        snprintf(buf, cap, "-%c", o->short_name);
    return buf;
}

static bool in_bounds(const struct cli_option *o, double v, char *err, size_t cap, const char *name,
                      const char *text)
{
    if (v >= o->min && v <= o->max)
        return true;
    if (o->kind == CLI_OPT_KIND_INT)
        snprintf(err, cap, "%s: %s is out of range (%.0f to %.0f)", name, text, o->min, o->max);
    else
        snprintf(err, cap, "%s: %s is out of range (%g to %g)", name, text, o->min, o->max);
    return false;
}

static bool set_int(struct cli_option *o, const char *text, char *err, size_t cap, const char *name)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0') {
        snprintf(err, cap, "%s: '%s' is not an integer", name, text);
        return false;
    }
    if (errno == ERANGE) /* beyond long: beyond any bound too */
        v = text[0] == '-' ? LONG_MIN : LONG_MAX;
    if (!in_bounds(o, (double)v, err, cap, name, text))
        return false;
    *(int *)o->dest = (int)v;
    return true;
}

static bool set_real(struct cli_option *o, const char *text, char *err, size_t cap,
                     const char *name)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno == ERANGE || end == text || *end != '\0' || !isfinite(v)) {
        snprintf(err, cap, "%s: '%s' is not a number", name, text);
        return false;
    }
    if (!in_bounds(o, v, err, cap, name, text))
        return false;
    if (o->kind == CLI_OPT_KIND_FLOAT)
        *(float *)o->dest = (float)v;
    else
        *(double *)o->dest = v;
    return true;
}

static bool set_u64(struct cli_option *o, const char *text, char *err, size_t cap, const char *name)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    if (!end || errno == ERANGE || *end != '\0') {
        snprintf(err, cap, "%s: '%s' is not a non-negative integer", name, text);
        return false;
    }
    if (o->max > 0 && ((double)v < o->min || (double)v > o->max)) {
        snprintf(err, cap, "%s: %s is out of range (%.0f to %.0f)", name, text, o->min, o->max);
        return false;
    }
    *(uint64_t *)o->dest = (uint64_t)v;
    return true;
}

/* Whether `text` is one of the '|'-separated words of `choices`. */
static bool is_choice(const char *choices, const char *text)
{
    size_t n = strlen(text);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, text, n))
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

static bool set_choice(struct cli_option *o, const char *text, char *err, size_t cap,
                       const char *name)
{
    if (is_choice(o->arg, text)) {
        *(const char **)o->dest = text;
        return true;
    }
    /* "--format: 'x' is not one of md, html, json" */
    int k = snprintf(err, cap, "%s: '%s' is not one of ", name, text);
    for (const char *p = o->arg; k >= 0 && (size_t)k + 3 < cap && *p; p++)
        k += *p == '|' ? snprintf(err + k, cap - (size_t)k, ", ")
                       : snprintf(err + k, cap - (size_t)k, "%c", *p);
    return false;
}

static bool append(struct cli_option *o, const char *text, char *err, size_t cap, const char *name)
{
    struct cli_strs *s = o->dest;
    if (s->n == s->cap) {
        snprintf(err, cap, "%s: at most %zu values", name, s->cap);
        return false;
    }
    s->v[s->n++] = text;
    return true;
}

/* cli_opt_set with the option's name in messages as the user wrote it. */
static bool set_named(struct cli_option *o, const char *text, char *err, size_t cap,
                      const char *name)
{
    switch (o->kind) {
    case CLI_OPT_KIND_FLAG:
        *(bool *)o->dest = true;
        return true;
    case CLI_OPT_KIND_SET:
        *(int *)o->dest = o->value;
        return true;
    case CLI_OPT_KIND_STRING:
        *(const char **)o->dest = text;
        return true;
    case CLI_OPT_KIND_CHOICE:
        return set_choice(o, text, err, cap, name);
    case CLI_OPT_KIND_INT:
        return set_int(o, text, err, cap, name);
    case CLI_OPT_KIND_FLOAT:
    case CLI_OPT_KIND_DOUBLE:
        return set_real(o, text, err, cap, name);
    case CLI_OPT_KIND_U64:
        return set_u64(o, text, err, cap, name);
    case CLI_OPT_KIND_LIST:
        return append(o, text, err, cap, name);
    default:
        snprintf(err, cap, "%s: not an option", name);
        return false;
    }
}

bool cli_opt_set(struct cli_option *o, const char *text, char *err, size_t cap)
{
    char name[80];
    return set_named(o, text, err, cap, display_name(o, name, sizeof name));
}

struct cli_option *cli_opt_find_long(struct cli_option *opts, const char *name, size_t len)
{
    for (struct cli_option *o = opts; o->kind != CLI_OPT_KIND_END; o++)
        if (o->kind != CLI_OPT_KIND_GROUP && o->long_name && strlen(o->long_name) == len &&
            !strncmp(o->long_name, name, len))
            return o;
    return NULL;
}

struct cli_option *cli_opt_find_short(struct cli_option *opts, char c)
{
    for (struct cli_option *o = opts; o->kind != CLI_OPT_KIND_END; o++)
        if (o->kind != CLI_OPT_KIND_GROUP && c && o->short_name == c)
            return o;
    return NULL;
}

int cli_opt_seen(const struct cli_option *opts, const char *long_name)
{
    for (const struct cli_option *o = opts; o->kind != CLI_OPT_KIND_END; o++)
        if (o->long_name && !strcmp(o->long_name, long_name))
            return o->seen;
    return 0;
}

/* Optimal string alignment distance (Damerau-Levenshtein without
 * re-editing a transposed pair): d[i][j] is the cost of turning the first i
 * bytes of a into the first j of b. Words longer than 63 bytes count as far. */
int cli_opt_edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 63, FAR = 100 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXLEN || lb > MAXLEN)
        return FAR;
    int d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb] < FAR ? d[la][lb] : FAR;
}

const char *cli_opt_nearest(const char *word, const char *const *cands, size_t n)
{
    size_t len = strlen(word);
    const char *prefixed = NULL;
    size_t n_prefixed = 0;
    for (size_t i = 0; len >= 2 && i < n; i++)
        if (!strncmp(cands[i], word, len)) {
            prefixed = cands[i];
            n_prefixed++;
        }
    if (n_prefixed == 1)
        return prefixed;
    const char *best = NULL;
    int best_d = 3;
    for (size_t i = 0; i < n; i++) {
        int d = cli_opt_edit_distance(word, cands[i]);
        if (d < best_d && (size_t)(2 * d) < len) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

/* ---- the command line (prints) -------------------------------------------- */

static char current_command[64]; /* cli_opt_set_command */

void cli_opt_set_command(const char *name)
{
    snprintf(current_command, sizeof current_command, "%s", name ? name : "");
}

const char *cli_opt_command(void)
{
    return current_command[0] ? current_command : NULL;
}

void cli_opt_errorf(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loco %s: ", name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_opt_arg_id(const char *name, const char *what, const char *text, int64_t min, int64_t max,
                    int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = text[0] >= '0' && text[0] <= '9' ? strtoll(text, &end, 10) : 0;
    if (!end || errno == ERANGE || *end != '\0') {
        cli_opt_errorf(name, "%s: '%s' is not a number", what, text);
        return false;
    }
    if (v < min || v > max) {
        cli_opt_errorf(name, "%s: %s is out of range (%lld to %lld)", what, text, (long long)min,
                       (long long)max);
        return false;
    }
    *out = (int64_t)v;
    return true;
}

/* "loco ask: unknown option '--jsn'; did you mean '--json'? (see ...)". */
static void unknown_option(const struct cli_command *c, const char *arg)
{
    const char *cands[128];
    size_t n = 0;
    for (const struct cli_option *o = c->opts; o->kind != CLI_OPT_KIND_END && n < 127; o++)
        if (o->kind != CLI_OPT_KIND_GROUP && o->long_name)
            cands[n++] = o->long_name;
    cands[n++] = "help";
    char word[64];
    const char *near = NULL;
    if (arg[1] == '-') {
        size_t len = strcspn(arg + 2, "=");
        snprintf(word, sizeof word, "%.*s", (int)(len < 63 ? len : 63), arg + 2);
        near = cli_opt_nearest(word, cands, n);
    }
    if (near)
        cli_opt_errorf(c->name, "unknown option '%s'; did you mean '--%s'? (see loco %s --help)",
                       arg, near, c->name);
    else
        cli_opt_errorf(c->name, "unknown option '%s' (see loco %s --help)", arg, c->name);
}

/* The row for argv[i] (an option), its inline value (--x=v, -nV) or NULL. */
static struct cli_option *match(const struct cli_command *c, const char *arg,
                                const char **inline_value)
{
    *inline_value = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (eq)
            *inline_value = eq + 1;
        return cli_opt_find_long(c->opts, name, len);
    }
    struct cli_option *o = cli_opt_find_short(c->opts, arg[1]);
    if (o && arg[2])
        *inline_value = arg[2] == '=' ? arg + 3 : arg + 2;
    return o;
}

/* One option at argv[*i]; false after printing why it is wrong. */
static bool parse_one(const struct cli_command *c, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *value;
    char name[80], err[512];
    struct cli_option *o = match(c, arg, &value);
    if (!o) {
        unknown_option(c, arg);
        return false;
    }
    if (arg[1] == '-' || !o->long_name)
        display_name(o, name, sizeof name);
    else
        snprintf(name, sizeof name, "-%c", o->short_name); /* as written */
    if (!takes_value(o) && value) {
        cli_opt_errorf(c->name, "%s takes no value", name);
        return false;
    }
    if (takes_value(o) && !value) {
        if (*i + 1 >= argc) {
            cli_opt_errorf(c->name, "%s needs a value (%s)", name, o->arg ? o->arg : "");
            return false;
        }
        value = argv[++*i];
    }
    if (!set_named(o, value, err, sizeof err, name)) {
        cli_opt_errorf(c->name, "%s", err);
        return false;
    }
    o->seen++;
    return true;
}

int cli_opt_parse(const struct cli_command *c, int argc, char **argv)
{
    int n = 0;
    bool only_args = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_args || arg[0] != '-' || arg[1] == '\0') {
            argv[n++] = argv[i]; /* n < i: nothing unread is overwritten */
            only_args = only_args || (c->flags & CLI_OPT_STOP_AT_ARG);
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_args = true;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            cli_opt_help(stdout, c);
            return CLI_OPT_HELP;
        }
        if (!parse_one(c, argc, argv, &i))
            return CLI_OPT_ERROR;
    }
    if (c->max_args != CLI_ARGS_ANY && n > c->max_args) {
        cli_opt_errorf(c->name, "unexpected argument '%s' (see loco %s --help)", argv[c->max_args],
                       c->name);
        return CLI_OPT_ERROR;
    }
    return n;
}

/* "  -o, --output DIR" for the help's left column, into buf. */
static int left_column(const struct cli_option *o, char *buf, size_t cap)
{
    const char *arg = takes_value(o) && o->arg ? o->arg : NULL;
    if (o->short_name && o->long_name)
        return snprintf(buf, cap, "  -%c, --%s%s%s", o->short_name, o->long_name, arg ? " " : "",
                        arg ? arg : "");
    if (o->long_name)
        return snprintf(buf, cap, "  --%s%s%s", o->long_name, arg ? " " : "", arg ? arg : "");
    return snprintf(buf, cap, "  -%c%s%s", o->short_name, arg ? " " : "", arg ? arg : "");
}

/* The help column starts here; a longer left column puts the help below. */
enum { HELP_COLUMN = 25 };

static void print_option(FILE *out, const struct cli_option *o)
{
    char left[160];
    int len = left_column(o, left, sizeof left);
    fputs(left, out);
    if (len < HELP_COLUMN)
        fprintf(out, "%*s", HELP_COLUMN - len, "");
    else
        fprintf(out, "\n%*s", HELP_COLUMN, "");
    for (const char *p = o->help; *p;) {
        size_t line = strcspn(p, "\n");
        fprintf(out, "%.*s\n", (int)line, p);
        p += line;
        if (*p == '\n' && *++p)
            fprintf(out, "%*s", HELP_COLUMN, "");
    }
}

void cli_opt_help(FILE *out, const struct cli_command *c)
{
    if (c->usage)
        fputs(c->usage, out);
    for (const struct cli_option *o = c->opts; o && o->kind != CLI_OPT_KIND_END; o++) {
        if (o->kind == CLI_OPT_KIND_GROUP)
            fprintf(out, "%s\n", o->help);
        else if (o->help)
            print_option(out, o);
    }
    if (c->epilog)
        fputs(c->epilog, out);
}

static void subcommands_help(FILE *out, const char *name, const char *usage, const char *epilog,
                             const struct cli_subcommand *subs)
{
    fputs(usage, out);
    fprintf(out, "subcommands:\n");
    for (const struct cli_subcommand *s = subs; s->name; s++)
        if (s->summary) /* NULL: an alias, not listed */
            fprintf(out, "  %-12s %s\n", s->name, s->summary);
    fprintf(out,
            "\n`loco %s SUBCOMMAND --help` (or `loco help %s SUBCOMMAND`) shows its "
            "options.\n",
            name, name);
    if (epilog)
        fputs(epilog, out);
}

int cli_opt_dispatch(const char *name, const char *usage, const char *epilog,
                     const struct cli_subcommand *subs, int argc, char **argv)
{
    const char *names[64];
    size_t n = 0;
    for (const struct cli_subcommand *s = subs; s->name && n < 64; s++)
        names[n++] = s->name;
    if (argc < 2) {
        subcommands_help(stderr, name, usage, epilog, subs);
        return 2;
    }
    const char *sub = argv[1];
    bool help = !strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help");
    if (help && argc > 2) { /* help SUB: SUB --help */
        sub = argv[2];
        for (const struct cli_subcommand *s = subs; s->name; s++)
            if (!strcmp(sub, s->name)) {
                char *args[] = {(char *)s->name, "--help", NULL};
                return s->run(2, args);
            }
    } else if (help) {
        subcommands_help(stdout, name, usage, epilog, subs);
        return 0;
    }
    for (const struct cli_subcommand *s = subs; !help && s->name; s++)
        if (!strcmp(sub, s->name)) {
            char full[64];
            snprintf(full, sizeof full, "%s %s", name, s->name);
            cli_opt_set_command(full);
            return s->run(argc - 1, argv + 1);
        }
    const char *near = cli_opt_nearest(sub, names, n);
    if (near)
        cli_opt_errorf(name, "unknown subcommand '%s'; did you mean '%s'? (see loco %s --help)",
                       sub, near, name);
    else
        cli_opt_errorf(name, "unknown subcommand '%s' (see loco %s --help)", sub, name);
    return 2;
}
