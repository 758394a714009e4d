/*
 * cli-log.c - logging what ask and chat answer (see cli-log.h).
 */
#include "cli-log.h"

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "loco/generate.h" /* loco_time_ms */

static void give_up(struct cli_log *l, const char *what)
{
    cli_errorf("not logging this exchange: %s: %s", what, loco_error_message());
    loco_exchlog_close(l->log);
    l->log = NULL;
    l->id = 0;
}

void cli_log_open(struct cli_log *l, bool off)
{
    *l = (struct cli_log){0};
    cli_log_start(l);
    if (off || loco_exchlog_disabled())
        return;
    if (loco_exchlog_open(NULL, &l->log) != LOCO_OK)
        give_up(l, "cannot open the exchange log");
}

void cli_log_start(struct cli_log *l)
{
    l->t0 = loco_time_ms();
}

/* The base model's sha256 when an adapter was checked against it (it is
 * then known); "" otherwise: hashing gigabytes for a question costs seconds. */
static const char *known_sha256(const struct cli_engine *e, char hex[65])
{
    hex[0] = '\0';
    for (int i = 0; i < e->n_set; i++)
        if (loco_adapter_info(e->set[i].adapter)->base_sha256[0] &&
            loco_model_sha256(e->model, hex) != LOCO_OK)
            hex[0] = '\0';
    return hex;
}

static struct loco_exchange exchange_of(const struct cli_engine *e, char *spec, size_t cap,
                                        char sha[65])
{
    return (struct loco_exchange){.adapter = cli_adapter_spec(e->set, e->n_set, ",", spec, cap),
                                  .model = e->path,
                                  .model_sha256 = known_sha256(e, sha),
                                  .first_token_ms = -1,
                                  .total_ms = -1};
}

void cli_log_begin(struct cli_log *l, const char *command, const char *query,
                   const struct loco_route_decision *d, const struct cli_engine *e)
{
    if (!l->log)
        return;
    char spec[1024], sha[65];
    struct loco_exchange x = exchange_of(e, spec, sizeof spec, sha);
    x.command = command;
    x.query = query;
    x.route = d;
    if (loco_exchlog_add(l->log, &x, &l->id) != LOCO_OK)
        give_up(l, "cannot write the exchange log");
}

const char *cli_log_tag(const struct cli_log *l, char *buf, size_t cap)
{
    if (l->log && l->id > 0)
        snprintf(buf, cap, " #%lld", (long long)l->id);
    else if (cap)
        buf[0] = '\0';
    return buf;
}

void cli_log_end(struct cli_log *l, const struct cli_engine *e,
                 const struct loco_generate_result *r)
{
    if (!l->log || l->id <= 0)
        return;
    char spec[1024], sha[65];
    struct loco_exchange x = exchange_of(e, spec, sizeof spec, sha);
    x.total_ms = loco_time_ms() - l->t0;
    if (r) {
        x.answer = r->text ? r->text : "";
        x.n_prompt = r->n_prompt;
        x.n_generated = r->n_generated;
        /* decoding starts with the first sampled token (loco_generate_result) */
        x.first_token_ms = r->n_generated > 0 ? x.total_ms - r->generate_ms : -1;
    }
    if (loco_exchlog_finish(l->log, l->id, &x) != LOCO_OK)
        give_up(l, "cannot write the exchange log");
}

void cli_log_close(struct cli_log *l)
{
    loco_exchlog_close(l->log);
    *l = (struct cli_log){0};
}
