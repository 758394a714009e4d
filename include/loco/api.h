/*
 * loco/api.h - the request bodies `loco serve` accepts, parsed and checked.
 *
 * OpenAI's chat completions and completions, and Ollama's chat and
 * generate, become one struct loco_api_request. Everything a client sends
 * is checked before the engine sees it: the body must be valid UTF-8 JSON
 * (no NUL escapes), each known field must have its type and range, and the
 * limits of the server (max_tokens, n, messages, stop strings) hold. A
 * refusal says which field and why, with the HTTP status to answer.
 * Unknown fields are ignored, as OpenAI's own server does; features this
 * server lacks (tools, logprobs, images, JSON mode) are refused by name
 * rather than silently dropped.
 */
#ifndef LOCO_API_H
#define LOCO_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

enum loco_api_kind {
    LOCO_API_CHAT = 0,            /* POST /v1/chat/completions */
    LOCO_API_COMPLETION = 1,      /* POST /v1/completions */
    LOCO_API_OLLAMA_CHAT = 2,     /* POST /api/chat */
    LOCO_API_OLLAMA_GENERATE = 3, /* POST /api/generate */
};

struct loco_api_limits {
    int32_t max_tokens;   /* the largest max_tokens a request may ask for */
    int32_t max_n;        /* the most choices (n) */
    size_t max_messages;  /* messages in a conversation */
    size_t max_body;      /* bytes of the body */
};

struct loco_api_limits loco_api_default_limits(void);

#define LOCO_API_MAX_STOP 4
#define LOCO_API_MAX_STOP_LEN 128

struct loco_api_request {
    enum loco_api_kind kind;
    char *model;                /* "loco" when the client gave none */
    struct loco_chat_msg *msgs; /* chat kinds: role and content strings owned here */
    size_t n_msgs;
    char *prompt;               /* completion kinds */
    char *system;               /* Ollama generate's system prompt, or NULL */
    bool raw;                   /* Ollama generate: the prompt as is, no template */
    int32_t max_tokens;         /* -1: not given */
    bool has_temperature, has_top_p, has_seed, has_top_k, has_min_p, has_repeat_penalty;
    double temperature, top_p, min_p, repeat_penalty;
    int32_t top_k;
    uint64_t seed;
    char *stop[LOCO_API_MAX_STOP];
    size_t n_stop;
    int32_t n;                  /* choices, >= 1 */
    bool stream;                /* OpenAI: false unless asked; Ollama: true unless refused */
    bool include_usage;         /* stream_options.include_usage */
    char *strategy;             /* the extension "loco": {"strategy": ...}, or NULL */
};

/* Why a request was refused: the HTTP status (400, 413, ...), OpenAI's
 * error type, the field at fault ("" when none) and a message. */
struct loco_api_error {
    int status;
    const char *type;
    char param[64];
    char message[256];
};

/* Parse body[0, len) as a request of `kind` under `lim` (NULL: the
 * defaults). On success *out is filled (free with loco_api_request_free)
 * and LOCO_OK returned; otherwise *err says why, *out holds nothing to
 * free, and the status is LOCO_ERR_FORMAT (malformed), LOCO_ERR_TYPE (a
 * field of the wrong type), LOCO_ERR_RANGE (a value or size out of range)
 * or LOCO_ERR_UNSUPPORTED. */
int loco_api_parse(enum loco_api_kind kind, const char *body, size_t len,
                   const struct loco_api_limits *lim, struct loco_api_request *out,
                   struct loco_api_error *err);
void loco_api_request_free(struct loco_api_request *r);

/* Whether s[0, len) is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF). */
bool loco_api_utf8_valid(const char *s, size_t len);

/* The OpenAI error object for err, as a malloc'd JSON string:
 * {"error":{"message":...,"type":...,"param":...,"code":null}}. */
char *loco_api_error_json(const struct loco_api_error *err);

/* Fill *err (status, type, param, printf-style message); returns the
 * library status `rc` so a checker can `return loco_api_fail(...)`. */
int loco_api_fail(struct loco_api_error *err, int rc, int status, const char *param,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#ifdef __cplusplus
}
#endif
#endif
