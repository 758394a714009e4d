/*
 * cmd-adapters.c - `loco adapters`: manage LoRA adapters.
 *
 *   loco adapters list [--domain D] [--registry FILE] [--json]
 *   loco adapters info NAME [--registry FILE] [--json]
 *   loco adapters remove NAME [--delete-file]
 *   loco adapters import DIR [--model BASE] [-o OUT.gguf] [--name NAME]
 *                            [--domain D] [--type f16|f32|bf16] [--force]
 *   loco adapters merge A[:w] B[:w] ... [--method linear|ties|dare] [--rank R]
 *                       [--density D] [--seed S] [--name NAME] [--domain D]
 *                       [--model BASE] [--type f16|f32|bf16] [--force] [--json] -o NEW.gguf
 *   loco adapters export NAME|PATH [--format peft] -o DIR [--model BASE]
 *                        [--type f16|f32|bf16] [--base-model ID] [--force]
 *   loco adapters pack NAME [-o PATH]
 *   loco adapters verify BUNDLE [--json]
 *   loco adapters help [SUBCOMMAND]
 *
 * Subcommands live in one table below: adding one is a function and a row.
 * The work happens in the library (loco/registry.h for list/info/remove,
 * loco/peft.h for import and export, loco/lora.h for merge); this file parses flags and
 * prints.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd-adapters-install.h"
#include "cmd-adapters-pack.h"
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
    "       loco adapters install NAME|URL|hf:OWNER/REPO[/FILE]|PATH [--name NAME] [--sha256 HEX]\n"
    "       loco adapters import DIR [--model BASE] [-o OUT.gguf] [--name NAME]\n"
    "                                [--domain D] [--type f16|f32|bf16] [--force]\n"
    "       loco adapters merge A[:w] B[:w] ... [--method linear|ties|dare] [--rank R]\n"
    "                                [--density D] [--seed S] -o NEW.gguf\n"
    "       loco adapters export NAME|PATH [--format peft] -o DIR [--model BASE]\n"
    "                                [--type f16|f32|bf16] [--force]\n"
    "       loco adapters pack NAME [-o PATH]\n"
    "       loco adapters verify BUNDLE [--json]\n\n";

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

/* The base model `model` (a name or path) without its tokenizer: adapters
 * need only its weights. NULL after a message; the caller frees it. */
static struct loco_model *load_base(const char *model)
{
    char path[LOCO_MODELS_PATH_MAX];
    if (loco_models_resolve(model, path, sizeof path) != LOCO_OK) {
        cli_fail("cannot find the base model");
        return NULL;
    }
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *base = loco_model_load(path, mp);
    if (!base)
        cli_fail("cannot load the base model");
    return base;
}

static int sub_import(int argc, char **argv)
{
    struct import_opts o = {.model = "default", .p = loco_peft_import_default_params()};
    int rc = parse_import(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct loco_model *base = load_base(o.model);
    if (!base)
        return 1;
    struct loco_peft_import_result res;
    rc = loco_peft_import(o.dir, base, o.output, &o.p, &res);
    loco_model_free(base);
    if (rc != LOCO_OK)
        return cli_fail("import failed");
    print_result(&res);
    return 0;
}

/* ---- merge --------------------------------------------------------------- */

struct merge_opts {
    const char *model, *output, *method, *type;
    bool json;
    struct loco_merge_params p;
    struct loco_adapter_spec specs[LOCO_MERGE_MAX_INPUTS];
    int32_t n_specs;
};

static const char merge_help[] =
    "usage: loco adapters merge A[:w] B[:w] ... -o NEW.gguf [options]\n\n"
    "Merges adapters of one base into one adapter file (docs/composition.md). A, B\n"
    "are adapter names or .gguf paths, w their weights (default 1). Each adapter's\n"
    "update w * (alpha / r) * B A is combined by the method:\n"
    "  linear  the sum; exact without --rank (the same outputs as the run-time\n"
    "          set A:w,B:w), the best rank-R approximation with --rank R\n"
    "  ties    TIES-Merging: keep each update's top --density fraction, elect\n"
    "          each entry's sign, average the values that agree with it\n"
    "  dare    DARE: drop entries with probability 1 - density, rescale by\n"
    "          1 / density, sum\n"
    "ties and dare end in a truncated SVD to --rank (default: the largest input\n"
    "rank).\n\noptions:\n";

static const char merge_epilog[] =
    "\nThe file is not registered: use it by path (loco ask --adapter NEW.gguf), copy it\n"
    "into your adapters folder to use it by name, or add an entry for it to your\n"
    "registry overlay to route to it (docs/registry.md, The user overlay).\n";

/* The positionals "A[:w]" (or "A:w,B:w") into o->specs. */
static int parse_merge_specs(int n_args, char **argv, struct merge_opts *o)
{
    for (int i = 0; i < n_args; i++) {
        int32_t room = LOCO_MERGE_MAX_INPUTS - o->n_specs;
        int n = room > 0 ? loco_adapter_spec_parse(argv[i], o->specs + o->n_specs, room)
                         : loco_error_set(LOCO_ERR_RANGE, "too many adapters (at most %d)",
                                          LOCO_MERGE_MAX_INPUTS);
        if (n < 0) {
            cli_errorf("%s", loco_error_message());
            return 2;
        }
        o->n_specs += n;
    }
    if (o->n_specs == 0) {
        cli_errorf("which adapters? give one or more NAME[:weight]");
        return 2;
    }
    return 0;
}

/* 0 parsed, -1 after --help, 2 a usage error (message printed). */
static int parse_merge(int argc, char **argv, struct merge_opts *o)
{
    struct cli_option opts[] = {
        CLI_OPT_CHOICE(0, "method", &o->method, "linear|ties|dare",
                       "how to combine (default: linear)"),
        CLI_OPT_INT(0, "rank", &o->p.rank, "R", 1, 65536,
                    "rank of the result (default: linear exact, else the largest input rank)"),
        CLI_OPT_FLOAT(0, "density", &o->p.density, "D", 0.0, 1.0,
                      "ties, dare: fraction of entries kept, in (0, 1] (default: 0.2)"),
        CLI_OPT_U64(0, "seed", &o->p.seed, "S", "dare: seed of the random drops (default: 1)"),
        CLI_OPT_STRING('o', "output", &o->output, "FILE", "where to write (required)"),
        CLI_OPT_STRING(0, "name", &o->p.name, "NAME", "adapter name (default: the file's stem)"),
        CLI_OPT_STRING(0, "domain", &o->p.domain, "D", "its domain (default: the first input's)"),
        CLI_OPT_STRING(0, "model", &o->model, "BASE",
                       "the adapters' base model (default: default)"),
        CLI_OPT_STRING(0, "type", &o->type, "T", "storage of A and B: f16 (default), f32 or bf16"),
        CLI_OPT_FLAG(0, "force", &o->p.overwrite, "replace an existing output file"),
        CLI_OPT_FLAG(0, "json", &o->json, "machine-readable output"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"adapters merge", merge_help, merge_epilog, opts, CLI_ARGS_ANY, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return n_args == CLI_OPT_HELP ? -1 : 2;
    if (o->method && loco_merge_method_parse(o->method, &o->p.method) != LOCO_OK)
        return 2; /* the CHOICE row has refused it already */
    bool uses_density = o->p.method != LOCO_MERGE_LINEAR;
    if (!uses_density && (cli_opt_seen(opts, "density") || cli_opt_seen(opts, "seed"))) {
        cli_errorf("--density and --seed are for --method ties or dare");
        return 2;
    }
    if (o->p.method == LOCO_MERGE_TIES && cli_opt_seen(opts, "seed")) {
        cli_errorf("--seed is for --method dare (ties draws nothing at random)");
        return 2;
    }
    if (cli_opt_seen(opts, "density") && o->p.density <= 0.0f) {
        cli_errorf("--density: 0 keeps nothing; give a fraction in (0, 1]");
        return 2;
    }
    if (o->type && !parse_type(o->type, &o->p.type))
        return 2;
    if (!o->output) {
        cli_errorf("where to? give -o NEW.gguf");
        return 2;
    }
    return parse_merge_specs(n_args, argv, o);
}

static double percent(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 100.0;
}

static double rel_error(const struct loco_merge_result *r)
{
    return r->energy_total > 0 ? sqrt(fmax(0.0, 1.0 - r->energy_kept / r->energy_total)) : 0.0;
}

static int print_merge_json(const struct merge_opts *o, const struct loco_merge_result *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "path", o->output);
    cJSON_AddStringToObject(j, "method", loco_merge_method_name(o->p.method));
    cJSON *ins = cJSON_AddArrayToObject(j, "inputs");
    for (int32_t i = 0; i < o->n_specs; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "adapter", o->specs[i].name);
        cJSON_AddNumberToObject(e, "weight", o->specs[i].scale);
        cJSON_AddItemToArray(ins, e);
    }
    cJSON_AddNumberToObject(j, "rank", r->rank);
    cJSON_AddBoolToObject(j, "exact", r->exact);
    cJSON_AddNumberToObject(j, "pairs", r->n_pairs);
    cJSON_AddNumberToObject(j, "bytes", (double)r->file_bytes);
    if (o->p.method != LOCO_MERGE_LINEAR)
        cJSON_AddNumberToObject(j, "density", o->p.density);
    if (o->p.method == LOCO_MERGE_DARE)
        cJSON_AddNumberToObject(j, "seed", (double)o->p.seed);
    if (!r->exact) {
        cJSON_AddNumberToObject(j, "energy_kept", percent(r->energy_kept, r->energy_total) / 100);
        cJSON_AddNumberToObject(j, "relative_error", rel_error(r));
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return print_json(text);
}

static void print_merge(const struct merge_opts *o, const struct loco_merge_result *r)
{
    printf("merged: %s\n  method   %s", o->output, loco_merge_method_name(o->p.method));
    if (o->p.method != LOCO_MERGE_LINEAR)
        printf(" (density %g", (double)o->p.density);
    if (o->p.method == LOCO_MERGE_DARE)
        printf(", seed %llu", (unsigned long long)o->p.seed);
    printf("%s\n  inputs   ", o->p.method != LOCO_MERGE_LINEAR ? ")" : "");
    for (int32_t i = 0; i < o->n_specs; i++)
        printf("%s%s x %g", i ? ", " : "", o->specs[i].name, (double)o->specs[i].scale);
    printf("\n  rank     %d%s, %d pairs\n", r->rank,
           r->exact ? " (exact: the inputs' factors stacked)" : "", r->n_pairs);
    printf("  size     %.1f MB (%zu bytes)\n", (double)r->file_bytes / 1e6, r->file_bytes);
    if (!r->exact)
        printf("  kept     %.2f%% of the update's energy (relative Frobenius error %.4f)\n",
               percent(r->energy_kept, r->energy_total), rel_error(r));
    printf("not registered: use it by path (loco ask --adapter %s)\n", o->output);
}

/* Load the inputs against base into ads[0..n); 0, or 1 after a message. */
static int load_inputs(const struct merge_opts *o, const struct loco_model *base,
                       struct loco_adapter **ads, struct loco_merge_input *in)
{
    for (int32_t i = 0; i < o->n_specs; i++) {
        char path[1024];
        if (loco_adapters_resolve(o->specs[i].name, path, sizeof path) != LOCO_OK)
            return cli_fail("cannot find an adapter");
        ads[i] = loco_adapter_load(path, base);
        if (!ads[i])
            return cli_fail("cannot load an adapter");
        in[i] = (struct loco_merge_input){.adapter = ads[i], .weight = o->specs[i].scale};
    }
    return 0;
}

static int sub_merge(int argc, char **argv)
{
    struct merge_opts o = {.model = "default", .p = loco_merge_default_params()};
    int rc = parse_merge(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct loco_model *base = load_base(o.model);
    if (!base)
        return 1;
    struct loco_adapter *ads[LOCO_MERGE_MAX_INPUTS] = {0};
    struct loco_merge_input in[LOCO_MERGE_MAX_INPUTS];
    struct loco_merge_result res;
    rc = load_inputs(&o, base, ads, in);
    if (!rc && loco_adapter_merge(in, o.n_specs, &o.p, o.output, &res) != LOCO_OK)
        rc = cli_fail("merge failed");
    if (!rc && o.json)
        rc = print_merge_json(&o, &res);
    else if (!rc)
        print_merge(&o, &res);
    for (int32_t i = 0; i < o.n_specs; i++)
        loco_adapter_free(ads[i]);
    loco_model_free(base);
    return rc;
}

/* ---- export --------------------------------------------------------------- */

struct export_opts {
    const char *adapter, *model, *output, *format;
    struct loco_peft_export_params p;
};

/* 0 parsed, -1 after --help, 2 a usage error (message printed). */
static int parse_export(int argc, char **argv, struct export_opts *o)
{
    const char *type = NULL;
    struct cli_option opts[] = {
        CLI_OPT_CHOICE(0, "format", &o->format, "peft", "what to write (default: peft)"),
        CLI_OPT_STRING('o', "output", &o->output, "DIR", "the folder to write (required)"),
        CLI_OPT_STRING(0, "model", &o->model, "BASE",
                       "the adapter's base model (default: default)"),
        CLI_OPT_STRING(0, "type", &type, "T",
                       "dtype of the tensors: f32, f16 or bf16 (default: as the adapter stores "
                       "them)"),
        CLI_OPT_STRING(0, "base-model", &o->p.base_model, "ID",
                       "base_model_name_or_path (default: from the adapter)"),
        CLI_OPT_FLAG(0, "force", &o->p.overwrite,
                     "write into a folder that is not empty, replacing the two files"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"adapters export",
                            "usage: loco adapters export NAME|PATH -o DIR [options]\n\n"
                            "Writes a GGUF adapter as a Hugging Face PEFT LoRA folder\n"
                            "(adapter_model.safetensors + adapter_config.json), the inverse of\n"
                            "`loco adapters import`.\n\noptions:\n",
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
        cli_errorf("which adapter? give its name or a .gguf path");
        return 2;
    }
    if (!o->output) {
        cli_errorf("where to? give -o DIR");
        return 2;
    }
    o->adapter = argv[0];
    return 0;
}

static void print_export(const struct loco_peft_export_result *r)
{
    printf("exported: %s\n", r->dir);
    printf("  pairs      %d (", r->n_pairs);
    for (int t = 0, first = 1; t < LOCO_LORA_N_TARGETS; t++)
        if (r->targets & LOCO_LORA_TARGET_BIT(t)) {
            printf("%s%s", first ? "" : ",", loco_lora_target_name((enum loco_lora_target)t));
            first = 0;
        }
    printf(")\n  r          %d, lora_alpha %g%s\n", r->rank, (double)r->lora_alpha,
           r->use_rslora ? " (use_rslora)" : "");
    printf("  dtype      %s, %zu bytes\n", r->dtypes, r->bytes);
    printf("  base model %s%s\n", r->base_model[0] ? r->base_model : "(unknown)",
           strchr(r->base_model, '/') ? ""
                                      : " (not a Hugging Face id: give --base-model ORG/NAME)");
    if (r->unpermuted_qk)
        printf("  q/k rows of lora_B put back in Hugging Face order\n");
}

static int sub_export(int argc, char **argv)
{
    struct export_opts o = {.model = "default", .p = loco_peft_export_default_params()};
    int rc = parse_export(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    char path[1024];
    if (loco_adapters_resolve(o.adapter, path, sizeof path) != LOCO_OK)
        return cli_fail("cannot find the adapter");
    struct loco_model *base = load_base(o.model);
    if (!base)
        return 1;
    struct loco_peft_export_result res;
    rc = loco_peft_export(path, base, o.output, &o.p, &res);
    loco_model_free(base);
    if (rc != LOCO_OK)
        return cli_fail("export failed");
    print_export(&res);
    return 0;
}

int cmd_adapters(int argc, char **argv)
{
    static const struct cli_subcommand subs[] = {
        {"list", sub_list, "the registry's adapters with their primary scores"},
        {"info", sub_info, "everything the registry says about one, and its file's metadata"},
        {"remove", sub_remove, "take an installed adapter out of your user registry"},
        {"install", adapters_sub_install, "install a shared adapter (index name, URL, hf:, path)"},
        {"import", sub_import, "convert a PEFT LoRA folder into a GGUF adapter"},
        {"merge", sub_merge, "merge adapters into one (linear, TIES or DARE)"},
        {"export", sub_export, "write a GGUF adapter as a PEFT LoRA folder"},
        {"pack", cli_adapters_pack, "write a submission bundle (.zip) of an adapter and its evidence"},
        {"verify", cli_adapters_verify, "check a submission bundle: hashes, base, entry, gates"},
        {NULL, NULL, NULL},
    };
    return cli_opt_dispatch("adapters", adapters_usage, adapters_epilog, subs, argc, argv);
}
