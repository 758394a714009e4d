/*
 * cli-progress.h - the progress line that `loco models pull` and `loco
 * adapters install` draw on stderr while they download and verify.
 */
#ifndef LOCO_CLI_PROGRESS_H
#define LOCO_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/models.h"

struct cli_progress {
    bool tty; /* draw at all (stderr is a terminal and the output is not JSON) */
    enum loco_models_stage stage;
    char what[256];
    double t0, last_draw;
    uint64_t first_done; /* bytes already there when the stage began (resume) */
    bool drawn;
};

/* Start with nothing drawn; `on`: draw (e.g. isatty(STDERR_FILENO)). */
void cli_progress_init(struct cli_progress *pr, bool on);
/* The progress callback of loco/models.h (user: a struct cli_progress). */
int cli_progress_fn(void *user, enum loco_models_stage stage, const char *what, uint64_t done,
                    uint64_t total);
/* End the line when one was drawn. */
void cli_progress_end(struct cli_progress *pr);
/* "1.5 MiB", "512 B" into buf. */
void cli_human_size(uint64_t bytes, char *buf, size_t cap);

#endif
