/*
 * cli-log.h - logging what ask (and chat) answer to the exchange log
 * (loco/exchlog.h), so that `loco logs` can show it and `loco feedback`
 * can judge it.
 *
 * Logging never stops an answer: a log that cannot be opened or written is
 * reported once on stderr and the command goes on without it. `--no-log`
 * or LOCO_NO_LOG=1 turns it off.
 */
#ifndef LOCO_CLI_LOG_H
#define LOCO_CLI_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli-engine.h"
#include "loco/exchlog.h"

struct cli_log {
    struct loco_exchlog *log; /* NULL: not logging */
    int64_t id;               /* the exchange being answered; 0 when none */
    double t0;                /* when the question arrived (loco_time_ms) */
};

/* Open the log unless `off` or $LOCO_NO_LOG says not to, and start the
 * clock (cli_log_start). */
void cli_log_open(struct cli_log *l, bool off);
/* Start the clock for the next question (a chat turn). */
void cli_log_start(struct cli_log *l);
/* Log the question and its route (d NULL: not routed) before answering;
 * the adapters on e's sequence 0 are what answers. */
void cli_log_begin(struct cli_log *l, const char *command, const char *query,
                   const struct loco_route_decision *d, const struct cli_engine *e);
/* " #42" (the exchange's id, for the label line), or "" when not logging. */
const char *cli_log_tag(const struct cli_log *l, char *buf, size_t cap);
/* Log the answer and its timings (r NULL: the answer failed). */
void cli_log_end(struct cli_log *l, const struct cli_engine *e,
                 const struct loco_generate_result *r);
void cli_log_close(struct cli_log *l);

#endif
