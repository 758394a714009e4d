/*
 * opt.h - one option parser for every `loco` command.
 *
 * A command declares its options in a table (the idea of git's
 * parse-options): each row names the option (--long and/or -s), its kind
 * (flag, string, choice, int, float, double, u64, a repeatable list, or a
 * flag that sets a number), its bounds, its help line and where the value
 * goes. cli_opt_parse fills the destinations and leaves the positional
 * arguments; it rejects an unknown option (suggesting the nearest one) and a
 * bad value with one message style:
 *
 *     loco ask: --temperature: 'abc' is not a number
 *
 * and accepts `--opt value`, `--opt=value`, `-s value`, `-svalue` and `--`
 * (everything after it is positional). cli_opt_help prints a command's help
 * with the option part generated from the same table, so the help shows
 * exactly the options the command accepts.
 *
 * Two layers: the value conversion, the lookups and the edit distance do not
 * print (an HTTP server could map request fields through the same tables);
 * cli_opt_parse and cli_opt_help print, for the command line.
 *
 * A table is a local array ending with CLI_OPT_END(), built in the command
 * so the destinations can be its locals:
 *
 *     bool json = false;
 *     int threads = 4;
 *     struct cli_option opts[] = {
 *         CLI_OPT_FLAG(0, "json", &json, "machine-readable output"),
 *         CLI_OPT_INT(0, "threads", &threads, "N", 1, 512, "CPU threads (default: 4)"),
 *         CLI_OPT_END(),
 *     };
 *     struct cli_command c = {"route", "usage: loco route QUERY [options]\n", NULL, opts, 1, 0};
 *     int n = cli_opt_parse(&c, argc, argv);   // argv[0..n): the positionals
 *     if (n < 0)
 *         return cli_opt_exit(n);              // 0 after --help, 2 after an error
 */
#ifndef LOCO_CLI_OPT_H
#define LOCO_CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the table ------------------------------------------------------------ */

enum cli_opt_kind {
    CLI_OPT_KIND_END = 0, /* ends a table */
    CLI_OPT_KIND_GROUP,   /* a heading in the help ("sampling:"), no option */
    CLI_OPT_KIND_FLAG,    /* bool *: set to true */
    CLI_OPT_KIND_SET,     /* int *: set to .value (--project / --user) */
    CLI_OPT_KIND_STRING,  /* const char **: the value (points into argv) */
    CLI_OPT_KIND_CHOICE,  /* const char **: one of the '|'-separated words in .arg */
    CLI_OPT_KIND_INT,     /* int *: an integer in [min, max] */
    CLI_OPT_KIND_FLOAT,   /* float *: a finite number in [min, max] */
    CLI_OPT_KIND_DOUBLE,  /* double *: a finite number in [min, max] */
    CLI_OPT_KIND_U64,     /* uint64_t *: a non-negative integer (in [min, max] when max > 0) */
    CLI_OPT_KIND_LIST,    /* struct cli_strs *: repeatable, each value appended */
};

/* Values of a repeatable option: v[0..n), at most cap (the caller's array). */
struct cli_strs {
    const char **v;
    size_t n, cap;
};

struct cli_option {
    enum cli_opt_kind kind;
    char short_name;       /* 'n' for -n, or 0 */
    const char *long_name; /* "threads" for --threads, or NULL (short only) */
    void *dest;            /* typed by kind (above) */
    const char *arg;       /* the value's name in the help ("N"); CHOICE: "md|html|json" */
    const char *help;      /* lines split by '\n'; NULL: accepted but not listed (aliases) */
    double min, max;       /* INT, FLOAT, DOUBLE bounds; U64: when max > 0 */
    int value;             /* SET: the number stored */
    int seen;              /* set by the parser: how many times the option was given */
};

/* Table rows. `1 ? (d) : (T *)0` makes a destination of the wrong type a
 * compile error (pointer type mismatch). */
#define CLI_OPT_END()                                                                              \
    {                                                                                              \
        .kind = CLI_OPT_KIND_END                                                                   \
    }
#define CLI_OPT_GROUP(h)                                                                           \
    {                                                                                              \
        .kind = CLI_OPT_KIND_GROUP, .help = (h)                                                    \
    }
#define CLI_OPT_FLAG(s, l, d, h)                                                                   \
    {                                                                                              \
        .kind = CLI_OPT_KIND_FLAG, .short_name = (s), .long_name = (l),                            \
        .dest = (1 ? (d) : (bool *)0), .help = (h)                                                 \
    }
#define CLI_OPT_SET(s, l, d, v, h)                                                                 \
    {                                                                                              \
        .kind = CLI_OPT_KIND_SET, .short_name = (s), .long_name = (l),                             \
        .dest = (1 ? (d) : (int *)0), .value = (v), .help = (h)                                    \
    }
#define CLI_OPT_STRING(s, l, d, a, h)                                                              \
    {                                                                                              \
        .kind = CLI_OPT_KIND_STRING, .short_name = (s), .long_name = (l),                          \
        .dest = (1 ? (d) : (const char **)0), .arg = (a), .help = (h)                              \
    }
#define CLI_OPT_CHOICE(s, l, d, choices, h)                                                        \
    {                                                                                              \
        .kind = CLI_OPT_KIND_CHOICE, .short_name = (s), .long_name = (l),                          \
        .dest = (1 ? (d) : (const char **)0), .arg = (choices), .help = (h)                        \
    }
#define CLI_OPT_INT(s, l, d, a, lo, hi, h)                                                         \
    {                                                                                              \
        .kind = CLI_OPT_KIND_INT, .short_name = (s), .long_name = (l),                             \
        .dest = (1 ? (d) : (int *)0), .arg = (a), .min = (lo), .max = (hi), .help = (h)            \
    }
#define CLI_OPT_FLOAT(s, l, d, a, lo, hi, h)                                                       \
    {                                                                                              \
        .kind = CLI_OPT_KIND_FLOAT, .short_name = (s), .long_name = (l),                           \
        .dest = (1 ? (d) : (float *)0), .arg = (a), .min = (lo), .max = (hi), .help = (h)          \
    }
#define CLI_OPT_DOUBLE(s, l, d, a, lo, hi, h)                                                      \
    {                                                                                              \
        .kind = CLI_OPT_KIND_DOUBLE, .short_name = (s), .long_name = (l),                          \
        .dest = (1 ? (d) : (double *)0), .arg = (a), .min = (lo), .max = (hi), .help = (h)         \
    }
#define CLI_OPT_U64(s, l, d, a, h)                                                                 \
    {                                                                                              \
        .kind = CLI_OPT_KIND_U64, .short_name = (s), .long_name = (l),                             \
        .dest = (1 ? (d) : (uint64_t *)0), .arg = (a), .help = (h)                                 \
    }
#define CLI_OPT_U64_RANGE(s, l, d, a, lo, hi, h)                                                   \
    {                                                                                              \
        .kind = CLI_OPT_KIND_U64, .short_name = (s), .long_name = (l),                             \
        .dest = (1 ? (d) : (uint64_t *)0), .arg = (a), .min = (lo), .max = (hi), .help = (h)       \
    }
#define CLI_OPT_LIST(s, l, d, a, h)                                                                \
    {                                                                                              \
        .kind = CLI_OPT_KIND_LIST, .short_name = (s), .long_name = (l),                            \
        .dest = (1 ? (d) : (struct cli_strs *)0), .arg = (a), .help = (h)                          \
    }

/* A command (or subcommand) as the parser and the help see it. */
struct cli_command {
    const char *name;   /* "ask", "models pull": messages read "loco <name>: ..." */
    const char *usage;  /* usage lines and description, printed before the options */
    const char *epilog; /* printed after the options, or NULL */
    struct cli_option *opts;
    int max_args;   /* positionals allowed; CLI_ARGS_ANY for no limit */
    unsigned flags; /* CLI_OPT_STOP_AT_ARG */
};

#define CLI_ARGS_ANY (-1)
/* The first positional ends the options: the rest is text (ask's question). */
#define CLI_OPT_STOP_AT_ARG 1u

/* ---- parsing (prints) ------------------------------------------------------ */

#define CLI_OPT_HELP (-1)  /* -h/--help: the help was printed to stdout */
#define CLI_OPT_ERROR (-2) /* a bad command line: the message was printed to stderr */

/* Parse argv[1..argc) (argv[0] is the command's name) against c->opts:
 * fill the destinations, count each option's `seen`, and move the
 * positionals to argv[0..n), returning n. CLI_OPT_HELP after printing the
 * help for -h/--help, CLI_OPT_ERROR after printing "loco <name>: ..." for an
 * unknown option (with the nearest one), a missing or bad value, or more
 * positionals than c->max_args. */
int cli_opt_parse(const struct cli_command *c, int argc, char **argv);
/* The exit status for a negative cli_opt_parse result: 0 (help), 2 (error). */
static inline int cli_opt_exit(int parsed)
{
    return parsed == CLI_OPT_HELP ? 0 : 2;
}
/* The command's help: usage, the option table, the epilog. */
void cli_opt_help(FILE *out, const struct cli_command *c);
/* Print "loco <name>: <message>" to stderr (the one prefix style). */
void cli_opt_errorf(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The command running now ("ask", "models pull"), for the prefix of
 * messages that are not about options: main.c sets it, cli_opt_dispatch
 * adds the subcommand. NULL before. The name is copied. */
void cli_opt_set_command(const char *name);
const char *cli_opt_command(void);

/* Commands with subcommands (loco models pull, loco report eval): a table
 * of them, ending with a row whose name is NULL. */
struct cli_subcommand {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
    const char *summary;               /* NULL: an alias, accepted but not listed */
};
/* Run the subcommand argv[1] of command `name` (argv[0]). No subcommand:
 * the help on stderr, 2; -h, --help or help: the help on stdout, 0; `help
 * SUB`: SUB --help; an unknown one: "loco <name>: unknown subcommand 'x';
 * did you mean 'y'?", 2. The help is `usage`, the subcommands with their
 * summaries, then `epilog` (may be NULL). */
int cli_opt_dispatch(const char *name, const char *usage, const char *epilog,
                     const struct cli_subcommand *subs, int argc, char **argv);

/* A positional argument as an id: an integer in [min, max], else false
 * after "loco <name>: <what>: 'x' is not ..." on stderr. */
bool cli_opt_arg_id(const char *name, const char *what, const char *text, int64_t min, int64_t max,
                    int64_t *out);

/* ---- the parts that do not print ------------------------------------------ */

/* Convert `text` for option o and store it in o->dest. LIST appends. On a
 * bad value returns false and writes e.g. "--threads: '2x' is not an
 * integer" into err. FLAG and SET ignore text. */
bool cli_opt_set(struct cli_option *o, const char *text, char *err, size_t cap);
/* The row for --`name` (len bytes of it) or -`c`; NULL when none. */
struct cli_option *cli_opt_find_long(struct cli_option *opts, const char *name, size_t len);
struct cli_option *cli_opt_find_short(struct cli_option *opts, char c);
/* How many times the option --`long_name` was given (0 when unknown). */
int cli_opt_seen(const struct cli_option *opts, const char *long_name);
/* Edit distance (insertions, deletions, substitutions and adjacent
 * transpositions each cost 1) between a and b, capped at 100. */
int cli_opt_edit_distance(const char *a, const char *b);
/* The candidate nearest to `word`: a unique one it is a prefix of, else one
 * within edit distance 2 (and less than half its length); NULL when none is
 * near. cands[0..n). */
const char *cli_opt_nearest(const char *word, const char *const *cands, size_t n);

#endif
