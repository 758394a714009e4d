/*
 * cmd-eval-swarm.c - `loco eval --swarm`: the routed system against the
 * base model alone, oracle routing and random routing (loco/swarm.h,
 * docs/swarm.md). This file reads the registry, calls loco_swarm_run and
 * prints; cmd-eval.c parses the flags.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-eval-swarm.h"
#include "commands.h"
#include "loco/fileio.h"
#include "loco/registry.h"
#include "loco/swarm.h"

static void swarm_progress(void *user, const char *bench, const char *phase, int side, size_t done,
                           size_t total)
{
    (void)user;
    if (done == total)
        fprintf(stderr, "  %s %s %s: %zu items\n", bench, side ? "adapter" : "base", phase, total);
}

/* FILE.json -> FILE.md beside it. */
static int write_record(const char *out_path, const char *json, const char *md)
{
    char md_path[4200];
    const char *dot = strrchr(out_path, '.'), *slash = strrchr(out_path, '/');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - out_path) : strlen(out_path);
    snprintf(md_path, sizeof md_path, "%.*s.md", (int)stem, out_path);
    if (loco_file_write_atomic(out_path, json, strlen(json)) != LOCO_OK ||
        loco_file_write_atomic(md_path, md, strlen(md)) != LOCO_OK)
        return cli_fail("cannot write the swarm record");
    printf("\nrecord: %s\nreport: %s\n", out_path, md_path);
    return 0;
}

int eval_swarm(struct cli_engine *e, const struct loco_eval_params *p,
               const struct eval_swarm_opts *o)
{
    /* recipes name their data as ${LOCO_SHARED_DIR:-...}: point that at the
     * shared folder this evaluation reads, as `loco eval` does */
    char shared[4096];
    const char *env = getenv("LOCO_SHARED_DIR");
    if ((!env || !env[0]) && p->shared_dir && realpath(p->shared_dir, shared))
        setenv("LOCO_SHARED_DIR", shared, 1);
    struct loco_registry *reg = cli_registry_load(o->registry);
    if (!reg)
        return 1;
    struct loco_swarm_params sp = loco_swarm_default_params();
    sp.eval = *p;
    sp.eval.decontaminate = true;
    sp.benches = o->benches;
    sp.n_bench = o->n_bench;
    if (o->n_routers) {
        sp.routers = o->routers;
        sp.n_routers = o->n_routers;
    }
    sp.seed = o->seed;
    sp.serve = o->serve;
    sp.contam = o->contam;
    sp.progress = swarm_progress;
    struct loco_swarm *s = NULL;
    int status = 0;
    if (loco_swarm_run(e->model, e->path, reg, &sp, &s) != LOCO_OK)
        status = cli_fail("the swarm evaluation failed");
    for (size_t d = 0; s && d < s->n_domains; d++)
        if (!s->domains[d].adapter[0] && s->domains[d].reason == LOCO_SERVE_BASE_NOT_PASSED)
            fprintf(stderr, "[%s -> base model: %s]\n", s->domains[d].name,
                    loco_serve_reason_text(s->domains[d].reason));
    char *md = s ? loco_swarm_markdown(s) : NULL;
    char *json = s && o->out_path ? loco_swarm_json(s) : NULL;
    if (s && (!md || (o->out_path && !json)))
        status = cli_fail("out of memory for the swarm report");
    if (!status) {
        fputs(md, stdout);
        if (o->out_path)
            status = write_record(o->out_path, json, md);
    }
    free(md);
    free(json);
    loco_swarm_free(s);
    loco_registry_free(reg);
    return status;
}
