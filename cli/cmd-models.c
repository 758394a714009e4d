/*
 * cmd-models.c - `loco models`: pull, list and inspect GGUF models.
 *
 *   loco models pull NAME|URL [--sha256 HEX] [--name NAME]
 *   loco models list [--verify] [--json]
 *   loco models info NAME|PATH [--sha256] [--json]
 *   loco models path NAME|PATH
 *
 * The work happens in the library (loco/models.h); this file parses flags,
 * draws the progress line (stderr, only when it is a terminal) and prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli-progress.h"
#include "commands.h"
#include "loco/models.h"

static const char models_usage[] = "usage: loco models <subcommand> [options]\n\n";

static const char models_epilog[] =
    "\nModels live in $LOCO_MODELS_DIR, else $XDG_CACHE_HOME/locollm/models, else\n"
    "~/.cache/locollm/models.\n";

/* ---- pull --------------------------------------------------------------- */

static int on_pull_event(void *user, enum loco_models_stage stage, const char *what, uint64_t done,
                         uint64_t total)
{
    struct cli_progress *pr = user;
    if (stage == LOCO_MODELS_STAGE_PRESENT)
        pr->stage = stage;
    return cli_progress_fn(user, stage, what, done, total);
}

static int cmd_pull(int argc, char **argv)
{
    struct loco_models_pull_params p = loco_models_pull_default_params();
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "sha256", &p.sha256, "HEX", "(URL) expected sha256 of the file"),
        CLI_OPT_STRING(0, "name", &p.name, "NAME", "(URL) file name in the cache"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"models pull",
                            "usage: loco models pull NAME|URL [options]\n\n"
                            "Downloads a known model (e.g. `default`) or any .gguf URL.\n\n"
                            "options:\n",
                            models_epilog,
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 0) {
        cli_opt_errorf("models pull", "which model? e.g. `loco models pull default`");
        return 2;
    }
    const char *target = argv[0];
    struct cli_progress pr;
    cli_progress_init(&pr, isatty(STDERR_FILENO) == 1);
    p.progress = on_pull_event;
    p.progress_user = &pr;
    char path[LOCO_MODELS_PATH_MAX];
    int rc = loco_models_pull(target, &p, path, sizeof path);
    cli_progress_end(&pr);
    if (rc != LOCO_OK)
        return cli_fail("pull failed");
    printf("%s %s\n", pr.stage == LOCO_MODELS_STAGE_PRESENT ? "already present:" : "pulled:", path);
    return 0;
}

/* ---- list --------------------------------------------------------------- */

static const struct loco_models_entry *find_entry(const struct loco_models_entry *v, size_t n,
                                                  const struct loco_models_known *k)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].known == k)
            return &v[i];
    return NULL;
}

static void list_text(const char *dir, const struct loco_models_entry *v, size_t n)
{
    char size[32];
    printf("models in %s: %zu file%s\n", dir, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        cli_human_size(v[i].size, size, sizeof size);
        printf("  %10s  %-44s %s%s\n", size, v[i].file, v[i].known ? v[i].known->name : "",
               v[i].verified ? " (sha256 ok)" : "");
    }
    printf("\nknown models (`loco models pull NAME`):\n");
    for (size_t i = 0; i < loco_models_known_count(); i++) {
        const struct loco_models_known *k = loco_models_known_at(i);
        cli_human_size(k->gguf_size, size, sizeof size);
        printf("  %-14s %-24s %10s  %-10s %s\n", k->name, k->alias ? k->alias : "", size,
               find_entry(v, n, k) ? "present" : "not pulled", k->description);
    }
    if (n == 0)
        printf("\nNothing pulled yet: run `loco models pull default`.\n");
}

static void list_json(const char *dir, const struct loco_models_entry *v, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dir", dir);
    cJSON *files = cJSON_AddArrayToObject(o, "models");
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "file", v[i].file);
        cJSON_AddStringToObject(e, "path", v[i].path);
        cJSON_AddNumberToObject(e, "size", (double)v[i].size);
        if (v[i].known)
            cJSON_AddStringToObject(e, "known_as", v[i].known->name);
        else
            cJSON_AddNullToObject(e, "known_as");
        cJSON_AddBoolToObject(e, "sha256_verified", v[i].verified);
        cJSON_AddItemToArray(files, e);
    }
    cJSON *known = cJSON_AddArrayToObject(o, "known");
    for (size_t i = 0; i < loco_models_known_count(); i++) {
        const struct loco_models_known *k = loco_models_known_at(i);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", k->name);
        cJSON_AddStringToObject(e, "alias", k->alias ? k->alias : "");
        cJSON_AddStringToObject(e, "file", k->gguf_file);
        cJSON_AddStringToObject(e, "sha256", k->gguf_sha256);
        cJSON_AddNumberToObject(e, "size", (double)k->gguf_size);
        cJSON_AddStringToObject(e, "license", k->license);
        cJSON_AddBoolToObject(e, "present", find_entry(v, n, k) != NULL);
        cJSON_AddItemToArray(known, e);
    }
    char *text = cJSON_Print(o);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}

static int cmd_list(int argc, char **argv)
{
    bool json = false, verify = false;
    struct cli_option opts[] = {
        CLI_OPT_FLAG(0, "verify", &verify, "hash every file against the known sha256s"),
        CLI_OPT_FLAG(0, "json", &json, "machine-readable output"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"models list",
                            "usage: loco models list [options]\n\n"
                            "The models in the cache, and the known models.\n\noptions:\n",
                            models_epilog,
                            opts,
                            0,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    char dir[LOCO_MODELS_PATH_MAX];
    struct loco_models_entry *v = NULL;
    size_t n = 0;
    if (loco_models_dir(dir, sizeof dir) != LOCO_OK ||
        loco_models_list(dir, verify, &v, &n) != LOCO_OK)
        return cli_fail("cannot list the models");
    if (json)
        list_json(dir, v, n);
    else
        list_text(dir, v, n);
    free(v);
    return 0;
}

/* ---- info --------------------------------------------------------------- */

static void print_types(const struct loco_models_info *in)
{
    char size[32];
    for (size_t i = 0; i < in->n_types; i++) {
        const struct loco_models_type_use *u = &in->types[i];
        cli_human_size(u->n_bytes, size, sizeof size);
        printf("%-15s%-6s %4lld tensor%s  %s\n", i ? "" : "quant types", loco_type_name(u->type),
               (long long)u->n_tensors, u->n_tensors == 1 ? " " : "s", size);
    }
}

/* A string from the file's metadata, with control characters (C0, DEL and
 * UTF-8 encoded C1) shown as \xNN: a hostile GGUF must not drive the
 * terminal with escape sequences. */
static void put_escaped(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            printf("\\x%02x", *++p);
        else
            putchar(*p);
    }
}

static void put_field(const char *label, const char *value, const char *none)
{
    printf("%-15s", label);
    put_escaped(value[0] ? value : none);
    putchar('\n');
}

static void info_text(const struct loco_models_info *in, const char *sha256)
{
    char size[32];
    cli_human_size(in->file_size, size, sizeof size);
    put_field("file", in->path, "-");
    printf("%-15s%s (%llu bytes), GGUF v%u\n", "size", size, (unsigned long long)in->file_size,
           in->gguf_version);
    if (sha256)
        printf("%-15s%s\n", "sha256", sha256);
    put_field("architecture", in->architecture, "?");
    put_field("name", in->name, "-");
    put_field("license", in->license, "-");
    printf("%-15s%s\n", "known as", in->known ? in->known->name : "-");
    printf("%-15s%.1f M (%llu)\n", "parameters", (double)in->n_params / 1e6,
           (unsigned long long)in->n_params);
    printf("%-15s%lld\n", "tensors", (long long)in->n_tensors);
    print_types(in);
    printf("%-15s%llu\n", "context", (unsigned long long)in->context_length);
    printf("%-15s%llu\n", "embedding", (unsigned long long)in->embedding_length);
    printf("%-15s%llu\n", "layers", (unsigned long long)in->block_count);
    printf("%-15s%llu (kv %llu), %llu wide\n", "heads", (unsigned long long)in->head_count,
           (unsigned long long)in->head_count_kv, (unsigned long long)in->head_dim);
    printf("%-15s%llu\n", "feed forward", (unsigned long long)in->feed_forward_length);
    printf("%-15s%llu\n", "vocab", (unsigned long long)in->vocab_size);
    printf("%-15s", "tokenizer");
    put_escaped(in->tokenizer_model[0] ? in->tokenizer_model : "-");
    fputs(" (pre ", stdout);
    put_escaped(in->tokenizer_pre[0] ? in->tokenizer_pre : "-");
    puts(")");
    printf("%-15s%s\n", "chat template", in->chat_template);
}

static int info_json(const struct loco_models_info *in, const char *sha256)
{
    char *text = loco_models_info_json(in);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!o)
        return cli_fail("out of memory");
    if (sha256)
        cJSON_AddStringToObject(o, "sha256", sha256);
    text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return cli_fail("out of memory");
    printf("%s\n", text);
    free(text);
    return 0;
}

static int cmd_info(int argc, char **argv)
{
    bool json = false, hash = false;
    struct cli_option opts[] = {
        CLI_OPT_FLAG(0, "sha256", &hash, "also hash the file"),
        CLI_OPT_FLAG(0, "json", &json, "machine-readable output"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"models info",
                            "usage: loco models info NAME|PATH [options]\n\n"
                            "Architecture, size, quant types, shape, tokenizer, template.\n\n"
                            "options:\n",
                            models_epilog,
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 0) {
        cli_opt_errorf("models info", "which model? give a name or a .gguf path");
        return 2;
    }
    const char *target = argv[0];
    char path[LOCO_MODELS_PATH_MAX], hex[LOCO_SHA256_HEX_LEN + 1];
    struct loco_models_info *in = malloc(sizeof *in);
    if (!in)
        return cli_fail("out of memory");
    int rc = loco_models_resolve(target, path, sizeof path);
    if (rc == LOCO_OK)
        rc = loco_models_info(path, in);
    if (rc == LOCO_OK && hash)
        rc = loco_models_sha256_file(path, hex);
    int status;
    if (rc != LOCO_OK)
        status = cli_fail(target);
    else if (json)
        status = info_json(in, hash ? hex : NULL);
    else {
        info_text(in, hash ? hex : NULL);
        status = 0;
    }
    free(in);
    return status;
}

/* ---- path --------------------------------------------------------------- */

static int cmd_path(int argc, char **argv)
{
    struct cli_option opts[] = {CLI_OPT_END()};
    struct cli_command c = {"models path",
                            "usage: loco models path NAME|PATH\n\n"
                            "Prints the file a model name resolves to.\n",
                            models_epilog,
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 0) {
        cli_opt_errorf("models path", "which model? give a name or a .gguf path");
        return 2;
    }
    char path[LOCO_MODELS_PATH_MAX];
    if (loco_models_resolve(argv[0], path, sizeof path) != LOCO_OK)
        return cli_fail(argv[0]);
    printf("%s\n", path);
    return 0;
}

int cmd_models(int argc, char **argv)
{
    static const struct cli_subcommand subs[] = {
        {"pull", cmd_pull, "download a known model (e.g. `default`) or any .gguf URL"},
        {"list", cmd_list, "the models in the cache, and the known models"},
        {"ls", cmd_list, NULL},
        {"info", cmd_info, "architecture, size, quant types, shape, tokenizer, template"},
        {"path", cmd_path, "print the file a model name resolves to"},
        {NULL, NULL, NULL},
    };
    return cli_opt_dispatch("models", models_usage, models_epilog, subs, argc, argv);
}
