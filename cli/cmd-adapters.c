/*
 * cmd-adapters.c - `loco adapters`: manage LoRA adapters.
 *
 *   loco adapters list [--domain D] [--json]
 *   loco adapters info NAME [--json]
 *   loco adapters remove NAME [--delete-file]
 *   loco adapters import DIR [--model BASE] [-o OUT.gguf] [--name NAME]
 *                            [--domain D] [--type f16|f32|bf16] [--force]
 *   loco adapters help
 *
 * Subcommands live in one table below: adding one is a function and a row.
 * The work happens in the library (loco/registry.h for list/info/remove,
 * loco/peft.h for import); this file parses flags and prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/models.h"
#include "loco/peft.h"
#include "loco/gguf.h"
#include "loco/registry.h"

struct adapters_sub {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
};

static int sub_list(int argc, char **argv);
static int sub_info(int argc, char **argv);
static int sub_remove(int argc, char **argv);
static int sub_import(int argc, char **argv);
static int sub_help(int argc, char **argv);

static const struct adapters_sub subs[] = {
    {"list", sub_list,
     "list                   the registry's adapters: name, domain, version, status and\n"
     "                         score on the domain's primary benchmark\n"
     "      --domain D         only domain D\n"
     "      --json             machine-readable output\n"},
    {"info", sub_info,
     "info NAME              everything the registry says about NAME, and the file's\n"
     "                         own metadata\n"
     "      --json             the registry entry as JSON\n"},
    {"remove", sub_remove,
     "remove NAME            take an installed adapter out of your user registry\n"
     "                         (project adapters cannot be removed)\n"
     "      --delete-file      also delete its .gguf file\n"},
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

/* ---- list / info / remove ------------------------------------------------- */

/* "-" or "0.412 [0.38, 0.44] pass" */
static void format_score(const struct loco_registry_score *s, char *buf, size_t cap)
{
    if (!s)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.3f [%.3f, %.3f] %s", s->score, s->ci_low, s->ci_high,
                 s->passed ? "pass" : "fail");
}

static int print_json(char *json)
{
    if (!json)
        return cli_fail("cannot write JSON");
    printf("%s\n", json);
    free(json);
    return 0;
}

static int sub_list(int argc, char **argv)
{
    const char *domain = NULL, *v;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--domain", &v))
            domain = v;
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else {
            fprintf(stderr, "loco adapters list: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    struct loco_registry *r = loco_registry_load(NULL);
    if (!r)
        return cli_fail("cannot read the registry");
    if (domain && !loco_registry_find_domain(r, domain)) {
        fprintf(stderr, "loco adapters list: no domain '%s' in the registry\n", domain);
        loco_registry_free(r);
        return 1;
    }
    if (json) {
        int rc = print_json(loco_registry_json(r, domain));
        loco_registry_free(r);
        return rc;
    }
    printf("%-20s %-14s %-9s %-10s %-10s %s\n", "NAME", "DOMAIN", "VERSION", "STATUS",
           "BENCHMARK", "SCORE");
    for (size_t i = 0; i < loco_registry_n_adapters(r); i++) {
        const struct loco_registry_adapter *a = loco_registry_adapter_at(r, i);
        if (domain && strcmp(a->domain, domain) != 0)
            continue;
        const struct loco_registry_domain *d = loco_registry_find_domain(r, a->domain);
        char score[96];
        format_score(loco_registry_primary_score(r, a), score, sizeof score);
        printf("%-20s %-14s %-9s %-10s %-10s %s%s\n", a->name, a->domain, a->version,
               loco_registry_status_name(a->status), d ? d->primary_benchmark : "-", score,
               a->user ? "  (user)" : "");
    }
    loco_registry_free(r);
    return 0;
}

static void print_strs(const char *label, struct loco_registry_strs s)
{
    printf("  %-13s", label);
    for (size_t i = 0; i < s.n; i++)
        printf("%s%s", i ? ", " : "", s.v[i]);
    printf("\n");
}

static void print_entry(const struct loco_registry *r, const struct loco_registry_adapter *a)
{
    const struct loco_registry_provenance *p = &a->provenance;
    printf("%s  (%s:%d%s)\n", a->name, a->source, a->line, a->user ? ", user overlay" : "");
    printf("  domain       %s\n  version      %s\n  status       %s\n", a->domain, a->version,
           loco_registry_status_name(a->status));
    printf("  file         %s\n  sha256       %s\n  base sha256  %s\n", a->path, a->sha256,
           a->base_sha256);
    printf("  lora         rank %d, alpha %g\n", a->rank, a->alpha);
    print_strs("targets", a->targets);
    printf("  recipe       %s\n  data         %s\n", p->recipe, p->data);
    if (p->seed >= 0)
        printf("  seed         %lld\n", (long long)p->seed);
    printf("  semester     %s\n", p->semester);
    print_strs("authors", p->authors);
    if (p->training_log[0])
        printf("  training log %s\n", p->training_log);
    print_strs("keywords", a->keywords);
    printf("  examples\n");
    for (size_t i = 0; i < a->examples.n; i++)
        printf("    - %s\n", a->examples.v[i]);
    const struct loco_registry_domain *d = loco_registry_find_domain(r, a->domain);
    printf("  scores       (primary benchmark: %s)\n", d ? d->primary_benchmark : "-");
    if (a->n_scores == 0)
        printf("    none yet: run `loco eval %s`\n", a->name);
    for (size_t i = 0; i < a->n_scores; i++) {
        const struct loco_registry_score *s = &a->scores[i];
        printf("    %-10s %.4f [%.4f, %.4f]  base %.4f  p %.3g  n %lld  gate %s\n",
               s->benchmark, s->score, s->ci_low, s->ci_high, s->base_score, s->p_value,
               (long long)s->n_items, s->passed ? "passed" : "failed");
        printf("               record %s\n", s->record);
    }
}

/* The GGUF's own metadata: every key except the long recipe text. */
static void print_file_meta(const char *path)
{
    struct loco_gguf *g = loco_gguf_open(path);
    if (!g) {
        printf("  file metadata: cannot read %s: %s\n", path, loco_error_message());
        return;
    }
    printf("  file metadata (%s)\n", path);
    for (int64_t i = 0; i < loco_gguf_n_kv(g); i++) {
        const char *key = loco_gguf_kv_key(g, i);
        enum loco_gguf_type t = loco_gguf_kv_type(g, i);
        struct loco_str s;
        float f;
        if (t == LOCO_GGUF_STRING && loco_gguf_get_str(g, key, &s) == LOCO_OK) {
            size_t line = strcspn(s.ptr, "\n");
            if (line > s.len)
                line = s.len;
            if (line < s.len || s.len > 80)
                printf("    %-32s (%zu bytes) %.*s ...\n", key, s.len, (int)(line > 60 ? 60 : line),
                       s.ptr);
            else
                printf("    %-32s %.*s\n", key, (int)s.len, s.ptr);
        } else if (t == LOCO_GGUF_FLOAT32 && loco_gguf_get_f32(g, key, &f) == LOCO_OK) {
            printf("    %-32s %g\n", key, (double)f);
        } else {
            printf("    %-32s (%s)\n", key, loco_gguf_type_name(t));
        }
    }
    printf("    %-32s %lld\n", "tensors", (long long)loco_gguf_n_tensors(g));
    loco_gguf_close(g);
}

static int sub_info(int argc, char **argv)
{
    const char *name = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-' || name) {
            fprintf(stderr, "loco adapters info: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else
            name = argv[i];
    }
    if (!name) {
        fprintf(stderr, "loco adapters info: which adapter? (see `loco adapters list`)\n");
        return 2;
    }
    struct loco_registry *r = loco_registry_load(NULL);
    if (!r)
        return cli_fail("cannot read the registry");
    const struct loco_registry_adapter *a = loco_registry_find(r, name);
    int rc = 0;
    if (!a)
        rc = cli_fail("adapters info");
    else if (json)
        rc = print_json(loco_registry_adapter_json(r, a));
    else {
        print_entry(r, a);
        print_file_meta(a->path);
    }
    loco_registry_free(r);
    return rc;
}

static int sub_remove(int argc, char **argv)
{
    const char *name = NULL;
    bool delete_file = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--delete-file") == 0)
            delete_file = true;
        else if (argv[i][0] == '-' || name) {
            fprintf(stderr, "loco adapters remove: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else
            name = argv[i];
    }
    if (!name) {
        fprintf(stderr, "loco adapters remove: which adapter? (see `loco adapters list`)\n");
        return 2;
    }
    char path[LOCO_REGISTRY_PATH_MAX];
    if (loco_registry_remove_adapter(NULL, name, delete_file, path, sizeof path) != LOCO_OK)
        return cli_fail("adapters remove");
    printf("removed: %s from your registry\n", name);
    if (delete_file)
        printf("deleted: %s\n", path);
    else
        printf("kept: %s (add --delete-file to delete it)\n", path);
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
        fprintf(stdout, "usage: loco adapters %s", subs[3].usage);
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
