/*
 * cmd-adapters.c - `loco adapters`: manage LoRA adapters.
 *
 *   loco adapters import DIR [--model BASE] [-o OUT.gguf] [--name NAME]
 *                            [--domain D] [--type f16|f32|bf16] [--force]
 *   loco adapters help
 *
 * Subcommands live in one table below: adding one is a function and a row.
 * The work happens in the library (loco/peft.h for import); this file parses
 * flags and prints.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/models.h"
#include "loco/peft.h"

struct adapters_sub {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
};

static int sub_import(int argc, char **argv);
static int sub_help(int argc, char **argv);

static const struct adapters_sub subs[] = {
    {"import", sub_import,
     "import DIR             convert a PEFT LoRA folder (adapter_config.json +\n"
     "                         adapter_model.safetensors) into a GGUF adapter\n"
     "      --model BASE       the base model it was trained on (default: default)\n"
     "      -o, --output FILE  where to write (default: <adapters dir>/NAME.gguf)\n"
     "      --name NAME        adapter name (default: the folder's name)\n"
     "      --domain D         the domain it serves (math, code, ...)\n"
     "      --type T           storage of the LoRA matrices: f16 (default), f32 or bf16\n"
     "      --force            replace an existing output file\n"},
    {"help", sub_help, "help                   this text\n"},
};

#define N_SUBS (sizeof subs / sizeof subs[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: loco adapters <subcommand> [options]\n\n");
    for (size_t i = 0; i < N_SUBS; i++)
        fprintf(out, "  %s", subs[i].usage);
    fprintf(out, "\nAdapters live in $LOCO_ADAPTERS_DIR, else $XDG_DATA_HOME/locollm/adapters, "
                 "else\n~/.local/share/locollm/adapters.\n");
}

static int sub_help(int argc, char **argv)
{
    usage(stdout);
    return 0;
}

/* ---- import --------------------------------------------------------------- */

struct import_opts {
    const char *dir, *model, *output;
    struct loco_peft_import_params p;
};

static bool parse_type(const char *s, enum loco_type *out)
{
    if (strcmp(s, "f16") == 0 || strcmp(s, "F16") == 0)
        *out = LOCO_TYPE_F16;
    else if (strcmp(s, "f32") == 0 || strcmp(s, "F32") == 0)
        *out = LOCO_TYPE_F32;
    else if (strcmp(s, "bf16") == 0 || strcmp(s, "BF16") == 0)
        *out = LOCO_TYPE_BF16;
    else {
        fprintf(stderr, "loco adapters import: --type expects f16, f32 or bf16, got '%s'\n", s);
        return false;
    }
    return true;
}

/* 0 = parsed, 2 = usage error (message printed). */
static int parse_import(int argc, char **argv, struct import_opts *o)
{
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--model", &v))
            o->model = v;
        else if (cli_opt(argc, argv, &i, "-o", &v) || cli_opt(argc, argv, &i, "--output", &v))
            o->output = v;
        else if (cli_opt(argc, argv, &i, "--name", &v))
            o->p.name = v;
        else if (cli_opt(argc, argv, &i, "--domain", &v))
            o->p.domain = v;
        else if (cli_opt(argc, argv, &i, "--type", &v)) {
            if (!parse_type(v, &o->p.type))
                return 2;
        } else if (strcmp(argv[i], "--force") == 0)
            o->p.overwrite = true;
        else if (argv[i][0] == '-' || o->dir) {
            fprintf(stderr, "loco adapters import: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else
            o->dir = argv[i];
    }
    if (!o->dir) {
        fprintf(stderr, "loco adapters import: which folder? give the PEFT adapter's folder "
                        "(with adapter_config.json)\n");
        return 2;
    }
    return 0;
}

static void print_result(const struct loco_peft_import_result *r)
{
    printf("imported: %s\n", r->path);
    printf("  name     %s\n", r->name);
    printf("  pairs    %d (", r->n_pairs);
    for (int t = 0, first = 1; t < LOCO_LORA_N_TARGETS; t++)
        if (r->targets & LOCO_LORA_TARGET_BIT(t)) {
            printf("%s%s", first ? "" : ",", loco_lora_target_name((enum loco_lora_target)t));
            first = 0;
        }
    printf(")\n  rank     %d, alpha %g\n", r->rank, (double)r->alpha);
    if (r->permuted_qk)
        printf("  q/k rows of lora_B permuted for llama's rope layout\n");
}

static int sub_import(int argc, char **argv)
{
    struct import_opts o = {.model = "default", .p = loco_peft_import_default_params()};
    if (argc >= 2 && cli_is_help(argv[1])) {
        fprintf(stdout, "usage: loco adapters %s", subs[0].usage);
        return 0;
    }
    int rc = parse_import(argc, argv, &o);
    if (rc)
        return rc;
    char base_path[LOCO_MODELS_PATH_MAX];
    if (loco_models_resolve(o.model, base_path, sizeof base_path) != LOCO_OK)
        return cli_fail("cannot find the base model");
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *base = loco_model_load(base_path, mp);
    if (!base)
        return cli_fail("cannot load the base model");
    struct loco_peft_import_result res;
    rc = loco_peft_import(o.dir, base, o.output, &o.p, &res);
    loco_model_free(base);
    if (rc != LOCO_OK)
        return cli_fail("import failed");
    print_result(&res);
    return 0;
}

int cmd_adapters(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cli_is_help(argv[1]))
        return sub_help(argc - 1, argv + 1);
    for (size_t i = 0; i < N_SUBS; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "loco adapters: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
