/*
 * cli-history.c - a chat's conversation as `loco chat` keeps it, locally
 * and with --engine (cli/cli-history.h).
 */
#include "cli-history.h"

#include <stdlib.h>
#include <string.h>

bool cli_history_push(struct cli_history *h, const char *role, const char *content)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        struct loco_chat_msg *m = realloc(h->msgs, cap * sizeof *m);
        if (!m)
            return false;
        h->msgs = m;
        h->cap = cap;
    }
    char *copy = strdup(content);
    if (!copy)
        return false;
    h->msgs[h->n++] = (struct loco_chat_msg){.role = role, .content = copy};
    return true;
}

/* Drop the oldest user/assistant pair (keeping a leading system message). */
bool cli_history_drop_oldest(struct cli_history *h)
{
    size_t first = h->n && strcmp(h->msgs[0].role, "system") == 0 ? 1 : 0;
    if (h->n < first + 3) /* keep at least the current user message */
        return false;
    free((char *)h->msgs[first].content);
    free((char *)h->msgs[first + 1].content);
    memmove(h->msgs + first, h->msgs + first + 2, (h->n - first - 2) * sizeof *h->msgs);
    h->n -= 2;
    return true;
}

void cli_history_clear(struct cli_history *h, size_t keep)
{
    for (size_t i = keep; i < h->n; i++)
        free((char *)h->msgs[i].content);
    h->n = keep;
}
