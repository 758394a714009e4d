/*
 * cli-history.h - a chat's conversation: its messages, each content owned
 * (the roles are string constants), for `loco chat` here and with --engine.
 */
#ifndef LOCO_CLI_HISTORY_H
#define LOCO_CLI_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "loco/tokenizer.h"

struct cli_history {
    struct loco_chat_msg *msgs;
    size_t n, cap;
};

/* Append a copy of content under role (a constant); false when out of memory. */
bool cli_history_push(struct cli_history *h, const char *role, const char *content);
/* Drop the oldest user/assistant pair (keeping a leading system message);
 * false when only the current user message is left to drop. */
bool cli_history_drop_oldest(struct cli_history *h);
/* Forget the messages after the first `keep`. */
void cli_history_clear(struct cli_history *h, size_t keep);

#endif
