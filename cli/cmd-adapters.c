/*
 * cmd-adapters.c - `loco adapters`: manage LoRA adapters.
 *
 *   loco adapters list [--domain D] [--registry FILE] [--json]
 *   loco adapters info NAME [--registry FILE] [--json]
 *   loco adapters remove NAME [--delete-file]
 *   loco adapters import DIR [--model BASE] [-o OUT.gguf] [--name NAME]
 *                            [--domain D] [--type f16|f32|bf16] [--force]
 *   loco adapters help [SUBCOMMAND]
 *
 * Subcommands live in one table below: adding one is a function and a row.
 * The work happens in the library (loco/registry.h for list/info/remove,
 * loco/peft.h for import); this file parses flags and prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "loco/gguf.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/models.h"
#include "loco/peft.h"
#include "loco/registry.h"

static const char adapters_usage[] =
    "usage: loco adapters list [--domain D] [--json]\n"
    "       loco adapters info NAME [--json]\n"
    "       loco adapters remove NAME [--delete-file]\n"
    "       loco adapters import DIR [--model BASE] [-o OUT.gguf] [--name NAME]\n"
    "                                [--domain D] [--type f16|f32|bf16] [--force]\n\n";

static const char adapters_epilog[] =
    "\nAdapters live in $LOCO_ADAPTERS_DIR, else $XDG_DATA_HOME/locollm/adapters, else\n"
    "~/.local/share/locollm/adapters.\n";

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
    const char *domain = NULL, *registry = NULL;
    bool json = false;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "domain", &domain, "D", "only domain D"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_FLAG(0, "json", &json, "machine-readable output"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"adapters list",
                            "usage: loco adapters list [options]\n\n"
                            "The registry's adapters: name, domain, version, status and score on\n"
                            "the domain's primary benchmark.\n\noptions:\n",
                            adapters_epilog,
                            opts,
                            0,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    struct loco_registry *r = cli_registry_load(registry);
    if (!r)
        return 1;
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
    printf("%-20s %-14s %-9s %-10s %-10s %s\n", "NAME", "DOMAIN", "VERSION", "STATUS", "BENCHMARK",
           "SCORE");
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
        printf("    %-10s %.4f [%.4f, %.4f]  base %.4f  p %.3g  n %lld  gate %s\n", s->benchmark,
               s->score, s->ci_low, s->ci_high, s->base_score, s->p_value, (long long)s->n_items,
               s->passed ? "passed" : "failed");
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
    const char *registry = NULL;
    bool json = false;
    struct cli_option opts[] = {
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_FLAG(0, "json", &json, "the registry entry as JSON"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"adapters info",
                            "usage: loco adapters info NAME [options]\n\n"
                            "Everything the registry says about NAME, and the file's own\n"
                            "metadata.\n\noptions:\n",
                            adapters_epilog,
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 0) {
        cli_errorf("which adapter? (see `loco adapters list`)");
        return 2;
    }
    const char *name = argv[0];
    struct loco_registry *r = cli_registry_load(registry);
    if (!r)
        return 1;
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
    bool delete_file = false;
    struct cli_option opts[] = {
        CLI_OPT_FLAG(0, "delete-file", &delete_file, "also delete its .gguf file"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"adapters remove",
                            "usage: loco adapters remove NAME [options]\n\n"
                            "Takes an installed adapter out of your user registry (project\n"
                            "adapters cannot be removed).\n\noptions:\n",
                            adapters_epilog,
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 0) {
        cli_errorf("which adapter? (see `loco adapters list`)");
        return 2;
    }
    const char *name = argv[0];
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
        cli_errorf("--type: '%s' is not one of f16, f32, bf16", s);
        return false;
    }
    return true;
}

/* 0 parsed, -1 after --help, 2 a usage error (message printed). */
static int parse_import(int argc, char **argv, struct import_opts *o)
{
    const char *type = NULL;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "model", &o->model, "BASE",
                       "the base model it was trained on (default: default)"),
        CLI_OPT_STRING('o', "output", &o->output, "FILE",
                       "where to write (default: <adapters dir>/NAME.gguf)"),
        CLI_OPT_STRING(0, "name", &o->p.name, "NAME", "adapter name (default: the folder's name)"),
        CLI_OPT_STRING(0, "domain", &o->p.domain, "D", "the domain it serves (math, code, ...)"),
        CLI_OPT_STRING(0, "type", &type, "T",
                       "storage of the LoRA matrices: f16 (default), f32 or bf16"),
        CLI_OPT_FLAG(0, "force", &o->p.overwrite, "replace an existing output file"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"adapters import",
                            "usage: loco adapters import DIR [options]\n\n"
                            "Converts a PEFT LoRA folder (adapter_config.json +\n"
                            "adapter_model.safetensors) into a GGUF adapter.\n\noptions:\n",
                            adapters_epilog,
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return n_args == CLI_OPT_HELP ? -1 : 2;
    if (type && !parse_type(type, &o->p.type))
        return 2;
    if (n_args == 0) {
        cli_errorf("which folder? give the PEFT adapter's folder (with adapter_config.json)");
        return 2;
    }
    o->dir = argv[0];
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
    int rc = parse_import(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
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
    static const struct cli_subcommand subs[] = {
        {"list", sub_list, "the registry's adapters with their primary scores"},
        {"info", sub_info, "everything the registry says about one, and its file's metadata"},
        {"remove", sub_remove, "take an installed adapter out of your user registry"},
        {"import", sub_import, "convert a PEFT LoRA folder into a GGUF adapter"},
        {NULL, NULL, NULL},
    };
    return cli_opt_dispatch("adapters", adapters_usage, adapters_epilog, subs, argc, argv);
}
