/*
 * cmd-perplexity.c - `loco perplexity FILE`: the model's perplexity on a
 * text, chunked and scored as llama.cpp's llama-perplexity does it
 * (loco/perplexity.h, docs/perplexity.md), so the two can be compared on
 * the same GGUF and text.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-engine.h"
#include "commands.h"
#include "loco/perplexity.h"

static const char perplexity_usage[] =
    "usage: loco perplexity [options] FILE\n\n"
    "The perplexity of the model (with --adapter, the model and its adapters) on the\n"
    "text in FILE (- for standard input), computed as llama.cpp's llama-perplexity\n"
    "computes it: the tokens cut into chunks of --ctx tokens, each evaluated from an\n"
    "empty cache (its first token BOS when the vocabulary adds one), only the second\n"
    "half of each chunk scored. Prints the running estimate after each chunk and\n"
    "Final estimate: PPL = X +/- E. The text needs at least 2 x --ctx tokens.\n\n"
    "options:\n";

struct progress {
    bool quiet;
};

static int on_chunk(void *user, int32_t chunk, int32_t n_chunks, double ppl)
{
    const struct progress *pr = user;
    if (!pr->quiet) {
        printf("[%d]%.4f%s", chunk, ppl, chunk == n_chunks ? "\n" : ",");
        fflush(stdout);
    }
    return 0;
}

static void print_json(const struct cli_engine *e, const char *file, const char *adapters,
                       const struct loco_perplexity_params *p,
                       const struct loco_perplexity_result *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", e->path);
    cJSON_AddStringToObject(j, "adapters", adapters ? adapters : "");
    cJSON_AddStringToObject(j, "file", file);
    cJSON_AddNumberToObject(j, "ctx", p->n_ctx);
    cJSON_AddNumberToObject(j, "tokens", r->n_tokens);
    cJSON_AddNumberToObject(j, "chunks", r->n_chunks);
    cJSON_AddNumberToObject(j, "scored", (double)r->n_scored);
    cJSON_AddNumberToObject(j, "nll", r->nll);
    cJSON_AddNumberToObject(j, "ppl", r->ppl);
    cJSON_AddNumberToObject(j, "ppl_error", r->ppl_error);
    cJSON_AddNumberToObject(j, "ms", r->ms);
    char *s = cJSON_Print(j);
    if (s)
        puts(s);
    free(s);
    cJSON_Delete(j);
}

int cmd_perplexity(int argc, char **argv)
{
    struct cli_engine_opts o;
    cli_engine_defaults(&o);
    o.n_ctx = 512;
    int chunks = 0;
    bool json = false;
    struct cli_option opts[] = {
        CLI_ENGINE_MODEL_OPTIONS(&o),
        CLI_OPT_STRING(0, "adapter", &o.adapters, "NAME[:S],...",
                       "LoRA adapters to apply, each with a scale S (default 1)"),
        CLI_OPT_GROUP("perplexity:"),
        CLI_OPT_INT(0, "chunks", &chunks, "N", 0, 1 << 30,
                    "evaluate at most N chunks (default: 0, every whole chunk)"),
        CLI_OPT_FLAG(0, "json", &json, "machine-readable result only"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"perplexity", perplexity_usage, NULL, opts, 1, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args != 1) {
        cli_errorf("give the text file (or - for standard input); see loco perplexity --help");
        return 2;
    }
    if (o.n_ctx % 2 != 0) {
        cli_errorf("--ctx must be even (each chunk's second half is scored), not %d", o.n_ctx);
        return 2;
    }
    struct cli_engine e;
    if (!cli_engine_open(&e, &o))
        return 1;
    struct loco_perplexity_params p = loco_perplexity_default_params();
    p.n_ctx = o.n_ctx;
    p.n_chunks = chunks;
    struct loco_perplexity_result r;
    struct progress pr = {json};
    if (!json)
        printf("perplexity of %s%s%s on %s, chunks of %d tokens (second halves scored)\n", e.path,
               o.adapters ? " + " : "", o.adapters ? o.adapters : "", argv[0], p.n_ctx);
    const char *path = strcmp(argv[0], "-") == 0 ? "/dev/stdin" : argv[0];
    int rc = loco_perplexity_file(e.ctx, e.model, path, p, on_chunk, &pr, &r);
    int status = 0;
    if (rc != LOCO_OK) {
        status = cli_fail("perplexity");
    } else if (json) {
        print_json(&e, argv[0], o.adapters, &p, &r);
    } else {
        printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
        printf("(%d tokens, %d chunks, %lld scored, %.1f s, %.0f tokens/s evaluated)\n", r.n_tokens,
               r.n_chunks, (long long)r.n_scored, r.ms / 1000.0,
               r.ms > 0 ? (double)r.n_chunks * p.n_ctx / (r.ms / 1000.0) : 0.0);
    }
    cli_engine_close(&e);
    return status;
}
