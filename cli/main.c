/*
 * main.c - `loco`: the command table and dispatch.
 *
 * Every command is a thin file (cli/cmd-*.c) that parses its flags, calls
 * the library and prints. This file only finds the command (suggesting the
 * nearest one for a typo), runs `loco help CMD` as `loco CMD --help`, and
 * prints the top-level help.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "opt.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"ask", cmd_ask, "answer one question (streams the answer)"},
    {"route", cmd_route, "show which adapter the router picks for a query, or score a router"},
    {"router", cmd_router, "train and calibrate the classifier router"},
    {"logs", cmd_logs, "recent exchanges with their routing decisions (loco logs ID: one)"},
    {"feedback", cmd_feedback, "judge an exchange's routing: good, bad, --domain D"},
    {"chat", cmd_chat, "interactive multi-turn chat (also reads a pipe)"},
    {"models", cmd_models, "pull, list and inspect GGUF models"},
    {"adapters", cmd_adapters, "import and manage LoRA adapters"},
    {"serve", cmd_serve, "an OpenAI- and Ollama-compatible server with a chat page"},
    {"eval", cmd_eval, "score an adapter against the base model (paired tests, gates)"},
    {"bench", cmd_bench, "measure prompt (pp512) and generation (tg128) speed"},
    {"perplexity", cmd_perplexity, "the model's perplexity on a text, as llama-perplexity computes it"},
    {"registry", cmd_registry, "validate the adapter registry (adapters/registry.yaml)"},
    {"promote", cmd_promote, "make an adapter the active one of its domain"},
    {"leaderboard", cmd_leaderboard, "adapters ranked per domain by their registry scores"},
    {"report", cmd_report, "evaluation reports (Markdown, HTML), results archive, trend"},
    {"train", cmd_train, "train a LoRA adapter from a recipe (resumes when interrupted)"},
    {"doctor", cmd_doctor, "check this machine and checkout: CPU, models, registry, sandbox"},
    {"migrate", cmd_migrate, "what a new base model invalidates (--dry-run)"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "loco %s - routed, LoRA-specialised small language models on your CPU\n\n"
            "usage: loco <command> [options]\n\ncommands:\n",
            LOCO_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nFirst time? Run `loco models pull default`, then `loco ask \"Why is the sky "
                 "blue?\"`.\n`loco help <command>` (or `loco <command> --help`) shows a command's "
                 "options.\n");
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

/* "loco: unknown command 'aks'; did you mean 'ask'?" on stderr; returns 2. */
static int unknown_command(const char *name)
{
    const char *names[sizeof commands / sizeof commands[0]];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        names[i] = commands[i].name;
    const char *near = cli_opt_nearest(name, names, sizeof names / sizeof names[0]);
    if (near)
        fprintf(stderr, "loco: unknown command '%s'; did you mean '%s'? (see loco --help)\n", name,
                near);
    else
        fprintf(stderr, "loco: unknown command '%s' (see loco --help)\n", name);
    return 2;
}

/* `loco help CMD [SUB]`: `loco CMD [SUB] --help`. */
static int help(int argc, char **argv)
{
    if (argc < 3) {
        usage(stdout);
        return 0;
    }
    const struct command *c = find(argv[2]);
    if (!c)
        return unknown_command(argv[2]);
    cli_opt_set_command(c->name);
    char *args[4] = {argv[2], argc > 3 ? argv[3] : "--help", argc > 3 ? "--help" : NULL, NULL};
    return c->run(argc > 3 ? 3 : 2, args);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "help") == 0)
        return help(argc, argv);
    if (strcmp(argv[1], "--version") == 0) {
        printf("loco %s\n", LOCO_VERSION);
        return 0;
    }
    const struct command *c = find(argv[1]);
    if (!c)
        return unknown_command(argv[1]);
    cli_opt_set_command(c->name);
    return c->run(argc - 1, argv + 1);
}
