/*
 * cli-engine.c - shared engine flags and model loading for the commands.
 */
#include "cli-engine.h"

#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "loco/models.h"

int cli_default_threads(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void cli_engine_defaults(struct cli_engine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = "default";
    o->threads = cli_default_threads();
    o->n_ctx = 2048;
    o->gen = loco_generate_default_params();
    o->gen.max_tokens = 256;
    /* small models answer best near-greedy with a mild repetition penalty */
    o->gen.sampling.temperature = 0.2f;
    o->gen.sampling.top_p = 0.9f;
    o->gen.sampling.repeat_penalty = 1.1f;
}

void cli_engine_help(FILE *out)
{
    fprintf(out,
            "model and engine:\n"
            "  --model NAME|PATH      a GGUF file, or a name from `loco models list` "
            "(default: default)\n"
            "  --threads N            CPU threads (default: all available)\n"
            "  --ctx N                context length in tokens (default: 2048)\n"
            "  --chat-template NAME   chatml, gemma, llama3 or phi3 (default: from the model)\n"
            "  --system TEXT          system prompt (default: the model's own, if any)\n"
            "sampling:\n"
            "  --max-tokens N         stop after N tokens (default: 256)\n"
            "  --temperature T        0 = greedy (default: 0.2)\n"
            "  --top-k N              keep the N most likely tokens (default: 40, 0 = off)\n"
            "  --top-p P              nucleus sampling (default: 0.9, 1 = off)\n"
            "  --min-p P              drop tokens below P x the top probability (default: 0.05)\n"
            "  --repeat-penalty R     penalize recent tokens (default: 1.1, 1 = off)\n"
            "  --seed S               make sampling repeatable\n");
}

int cli_engine_flag(struct cli_engine_opts *o, int argc, char **argv, int *i)
{
    const char *v;
    long n;
    double d;
    struct loco_sampler_params *s = &o->gen.sampling;
    if (cli_opt(argc, argv, i, "--model", &v))
        o->model = v;
    else if (cli_opt(argc, argv, i, "--chat-template", &v))
        o->chat_template = v;
    else if (cli_opt(argc, argv, i, "--system", &v))
        o->system = v;
    else if (cli_opt(argc, argv, i, "--threads", &v))
        return cli_parse_int("--threads", v, 1, 512, &n) ? (o->threads = (int)n, 1) : -1;
    else if (cli_opt(argc, argv, i, "--ctx", &v))
        return cli_parse_int("--ctx", v, 16, 1 << 20, &n) ? (o->n_ctx = (int)n, 1) : -1;
    else if (cli_opt(argc, argv, i, "--max-tokens", &v))
        return cli_parse_int("--max-tokens", v, 1, 1 << 20, &n) ? (o->gen.max_tokens = (int)n, 1)
                                                                : -1;
    else if (cli_opt(argc, argv, i, "--temperature", &v))
        return cli_parse_float("--temperature", v, 0, 100, &d) ? (s->temperature = (float)d, 1)
                                                               : -1;
    else if (cli_opt(argc, argv, i, "--top-k", &v))
        return cli_parse_int("--top-k", v, 0, 1 << 24, &n) ? (s->top_k = (int)n, 1) : -1;
    else if (cli_opt(argc, argv, i, "--top-p", &v))
        return cli_parse_float("--top-p", v, 0, 1, &d) ? (s->top_p = (float)d, 1) : -1;
    else if (cli_opt(argc, argv, i, "--min-p", &v))
        return cli_parse_float("--min-p", v, 0, 1, &d) ? (s->min_p = (float)d, 1) : -1;
    else if (cli_opt(argc, argv, i, "--repeat-penalty", &v))
        return cli_parse_float("--repeat-penalty", v, 0.01, 100, &d)
                   ? (s->repeat_penalty = (float)d, 1)
                   : -1;
    else if (cli_opt(argc, argv, i, "--seed", &v))
        return cli_parse_u64("--seed", v, &s->seed) ? 1 : -1;
    else
        return 0;
    return 1;
}

bool cli_engine_open(struct cli_engine *e, const struct cli_engine_opts *o)
{
    memset(e, 0, sizeof *e);
    if (loco_models_resolve(o->model, e->path, sizeof e->path) != LOCO_OK) {
        cli_fail("cannot find the model");
        return false;
    }
    e->model = loco_model_load(e->path, loco_model_default_params());
    if (!e->model) {
        cli_fail("cannot load the model");
        return false;
    }
    if (!loco_model_tokenizer(e->model)) {
        fprintf(stderr, "loco: %s has no tokenizer vocabulary\n", e->path);
        cli_engine_close(e);
        return false;
    }
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = o->n_ctx;
    cp.n_threads = o->threads;
    cp.n_batch = o->n_ctx < 512 ? o->n_ctx : 512;
    e->ctx = loco_context_init(e->model, cp);
    if (!e->ctx) {
        cli_fail("cannot create a context");
        cli_engine_close(e);
        return false;
    }
    return true;
}

void cli_engine_close(struct cli_engine *e)
{
    loco_context_free(e->ctx);
    loco_model_free(e->model);
    e->ctx = NULL;
    e->model = NULL;
}
