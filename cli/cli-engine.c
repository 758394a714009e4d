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
        cli_errorf("%s has no tokenizer vocabulary", e->path);
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
    if (o->adapters && !cli_engine_use_adapters(e, o->adapters)) {
        cli_engine_close(e);
        return false;
    }
    return true;
}

struct loco_adapter *cli_engine_load_adapter(struct cli_engine *e, const char *name)
{
    char path[4096];
    if (loco_adapters_resolve(name, path, sizeof path) != LOCO_OK) {
        cli_fail("cannot find the adapter");
        return NULL;
    }
    for (int i = 0; i < e->n_loaded; i++)
        if (strcmp(loco_adapter_info(e->loaded[i])->path, path) == 0)
            return e->loaded[i];
    if (e->n_loaded == CLI_MAX_LOADED) {
        cli_errorf("at most %d adapters can be loaded in one session", CLI_MAX_LOADED);
        return NULL;
    }
    struct loco_adapter *a = loco_adapter_load(path, e->model);
    if (!a) {
        cli_fail("cannot load the adapter");
        return NULL;
    }
    e->loaded[e->n_loaded++] = a;
    return a;
}

bool cli_engine_use_adapters(struct cli_engine *e, const char *spec)
{
    struct loco_adapter_spec specs[LOCO_MAX_SET_ADAPTERS];
    int n = 0;
    if (strcmp(spec, "none") != 0 && strcmp(spec, "base") != 0) {
        n = loco_adapter_spec_parse(spec, specs, LOCO_MAX_SET_ADAPTERS);
        if (n < 0) {
            cli_fail("bad --adapter value");
            return false;
        }
    }
    struct loco_adapter_ref set[LOCO_MAX_SET_ADAPTERS];
    for (int i = 0; i < n; i++) {
        set[i].adapter = cli_engine_load_adapter(e, specs[i].name);
        set[i].scale = specs[i].scale;
        if (!set[i].adapter)
            return false;
    }
    if (loco_context_set_adapters(e->ctx, 0, set, n) != LOCO_OK) {
        cli_fail("cannot use these adapters");
        return false;
    }
    memcpy(e->set, set, (size_t)n * sizeof *set);
    e->n_set = n;
    return true;
}

const char *cli_engine_set_label(const struct cli_engine *e, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < e->n_set && len < cap; i++) {
        const struct loco_adapter_ref *r = &e->set[i];
        int k = r->scale == 1.0f ? snprintf(buf + len, cap - len, "%s%s", i ? ", " : "",
                                            loco_adapter_info(r->adapter)->name)
                                 : snprintf(buf + len, cap - len, "%s%s x%.2f", i ? ", " : "",
                                            loco_adapter_info(r->adapter)->name, (double)r->scale);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    if (!e->n_set)
        snprintf(buf, cap, "base model");
    return buf;
}

void cli_engine_close(struct cli_engine *e)
{
    loco_context_free(e->ctx);
    for (int i = 0; i < e->n_loaded; i++)
        loco_adapter_free(e->loaded[i]);
    e->n_loaded = 0;
    e->n_set = 0;
    loco_model_free(e->model);
    e->ctx = NULL;
    e->model = NULL;
}

const char *cli_adapter_spec(const struct loco_adapter_ref *set, int n, const char *sep, char *buf,
                             size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *name = loco_adapter_info(set[i].adapter)->name;
        int k = set[i].scale == 1.0f
                    ? snprintf(buf + used, cap - used, "%s%s", i ? sep : "", name)
                    : snprintf(buf + used, cap - used, "%s%s:%g", i ? sep : "", name,
                               (double)set[i].scale);
        if (k > 0 && (size_t)k < cap - used)
            used += (size_t)k;
    }
    return buf;
}
