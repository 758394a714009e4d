/*
 * bench-answers.h - what bench-sc and bench-ensemble share: timing totals,
 * the fatal-error exit, a context of n_seq sequences, and the first N
 * GSM8K test questions as chat prompts. Each bench defines BENCH_NAME (its
 * name in messages) before including this header.
 */
#ifndef LOCO_BENCH_ANSWERS_H
#define LOCO_BENCH_ANSWERS_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "loco/generate.h"
#include "loco/model.h"

struct totals {
    double ms;
    int64_t tokens;
};

static void die(const char *what)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, loco_error_message());
    exit(1);
}

/* n_seq sequences of 1024 tokens, prefill batches of 256. */
static struct loco_context *context(const struct loco_model *m, int32_t n_seq, int threads)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 1024;
    cp.n_seq = n_seq;
    cp.n_batch = 256;
    cp.n_threads = threads;
    struct loco_context *c = loco_context_init(m, cp);
    if (!c)
        die("context");
    return c;
}

/* The first n questions of the GSM8K test split (file f) as chat prompts;
 * returns how many were read. */
static size_t load_prompts(const struct loco_model *m, FILE *f, size_t n, int32_t **prompts,
                           size_t *lens)
{
    char *line = NULL;
    size_t cap = 0, got = 0;
    while (got < n && getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "question");
        struct loco_chat_msg msg = {.role = "user",
                                    .content = cJSON_IsString(q) ? q->valuestring : ""};
        if (cJSON_IsString(q) && loco_chat_tokenize(m, NULL, &msg, 1, &prompts[got], &lens[got]))
            die("chat template");
        got += cJSON_IsString(q);
        cJSON_Delete(j);
    }
    free(line);
    return got;
}

#endif
