/*
 * loco/remote.h - generation on another engine: scale-out without a new
 * inference server (docs/scale-out.md).
 *
 * loco keeps what makes it LocoLLM (the registry, the router, the
 * strategies' prompts, the labels and the exchange log) and sends the
 * generation itself to an OpenAI-compatible engine over HTTP:
 *
 *   vLLM          adapters are served as model names (--lora-modules
 *                 name=DIR): a request names one adapter, or the base
 *                 model. A set of several adapters, or a scale other than
 *                 1, cannot be said to vLLM and is refused.
 *   llama-server  adapters are loaded at start (--lora FILE) and numbered;
 *                 GET /lora-adapters lists them, and each request carries
 *                 "lora": [{"id": 0, "scale": 1.0}, ...] with every
 *                 adapter's scale (0 for those not in the set). Sets and
 *                 scales work.
 *   loco          another `loco serve`: model "loco:math", "loco:base" or
 *                 "loco:math:0.5+code:0.5" (docs/api.md).
 *   openai        any other OpenAI-compatible server: like vLLM, adapters
 *                 are model names.
 *
 * Answers are streamed (server-sent events, POST /v1/chat/completions with
 * "stream": true) and each text delta goes to the caller's loco_token_fn
 * as it arrives. Everything read from the engine is capped: a connect and
 * a total timeout, and a byte limit on each reply. An engine's refusal
 * comes back as LOCO_ERR_NETWORK with the HTTP status and the engine's own
 * message; an answer the client cannot send as asked (an adapter the
 * engine does not serve, a set vLLM cannot take) as LOCO_ERR_UNSUPPORTED
 * or LOCO_ERR_NOT_FOUND with the fix. The library never prints.
 *
 * A handle is used by one thread at a time (a request may refresh its model
 * list); open one per thread to ask an engine from several.
 */
#ifndef LOCO_REMOTE_H
#define LOCO_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/generate.h"
#include "loco/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- engines ------------------------------------------------------------- */

enum loco_remote_kind {
    LOCO_REMOTE_AUTO = 0,         /* find out (loco_remote_open) */
    LOCO_REMOTE_OPENAI = 1,       /* adapters are model names */
    LOCO_REMOTE_VLLM = 2,         /* adapters are model names; one, at scale 1 */
    LOCO_REMOTE_LLAMA_SERVER = 3, /* adapters by id, per-request scales */
    LOCO_REMOTE_LOCO = 4,         /* another loco serve: "loco:<set>" */
};

/* "auto", "openai", "vllm", "llama-server", "loco". */
const char *loco_remote_kind_name(enum loco_remote_kind kind);
/* The kind named `name` (as above; "llama.cpp" is taken for llama-server).
 * LOCO_ERR_INVALID listing the names when unknown. */
int loco_remote_kind_parse(const char *name, enum loco_remote_kind *kind);

/* What the engine serves: its base model(s), and its adapters. */
enum loco_remote_model_kind {
    LOCO_REMOTE_MODEL_BASE = 0,    /* a base model */
    LOCO_REMOTE_MODEL_ADAPTER = 1, /* a LoRA adapter on a base model */
    LOCO_REMOTE_MODEL_ROUTED = 2,  /* loco: the engine routes by itself ("loco") */
};

struct loco_remote_model {
    const char *id;     /* the name a request uses: "math", "loco:math", the
                         * base model's name; llama-server's adapters: the
                         * file's name without ".gguf" */
    const char *path;   /* the file or folder the engine names; "" if none */
    const char *parent; /* an adapter's base model when the engine says; "" */
    enum loco_remote_model_kind kind;
    int32_t lora_id; /* llama-server: the adapter's id; -1 otherwise */
};

struct loco_remote;

/* Connect to the engine at `url` (http or https; "http://host:8000" or
 * ".../v1": the /v1 is added where needed), learn what it serves, and, for
 * LOCO_REMOTE_AUTO, which kind it is: a loco serve (its /health names its
 * slots, or its replies carry X-Loco-* headers), llama-server (GET
 * /lora-adapters answers with a list), else vLLM (/v1/models owned by
 * "vllm") or openai. `api_key` (may be NULL: none) goes in every request
 * as "Authorization: Bearer KEY"; it is copied. Returns NULL with the
 * message set when the engine cannot be reached or does not answer as its
 * kind should (the HTTP status and the engine's message). Free with
 * loco_remote_close. */
struct loco_remote *loco_remote_open(const char *url, enum loco_remote_kind kind,
                                     const char *api_key);
void loco_remote_close(struct loco_remote *r);

/* The limits of every later request: seconds to connect (default 10),
 * seconds for a whole request (default 600; 0: no limit), and bytes of one
 * reply (default 16 MiB: an answer streamed past it fails). Values <= 0
 * keep the current setting, except total_s = 0 which lifts the limit. */
void loco_remote_set_limits(struct loco_remote *r, int32_t connect_s, int32_t total_s,
                            size_t max_bytes);

/* The kind (never AUTO once open) and the URL as given, without a
 * trailing "/". Borrowed: valid until loco_remote_close. */
enum loco_remote_kind loco_remote_kind(const struct loco_remote *r);
const char *loco_remote_url(const struct loco_remote *r);

/* The models the engine listed, in its order (for llama-server: its base
 * model, then its adapters by id). Borrowed: valid until the next
 * loco_remote_refresh or loco_remote_close. */
size_t loco_remote_n_models(const struct loco_remote *r);
const struct loco_remote_model *loco_remote_model(const struct loco_remote *r, size_t i);
/* Ask the engine again (adapters loaded since, e.g. vLLM's
 * /v1/load_lora_adapter); the kind stays. */
int loco_remote_refresh(struct loco_remote *r);

/* ---- generating ---------------------------------------------------------- */

/* One adapter of a request's set. `name` is the registry's name ("math");
 * `path` (may be NULL) its local file, which llama-server's adapters are
 * also matched by (file name). */
struct loco_remote_adapter {
    const char *name;
    const char *path;
    float scale;
};

#define LOCO_REMOTE_MAX_STOP 4

struct loco_remote_request {
    const struct loco_chat_msg *msgs; /* the conversation [n_msgs] */
    size_t n_msgs;
    const struct loco_remote_adapter *adapters; /* the set [n_adapters]; 0: the base model */
    size_t n_adapters;
    /* max_tokens, sampling.temperature, top_p and seed (LOCO_SEED_RANDOM:
     * not sent) go to every engine; top_k (> 0), min_p (> 0) and
     * repeat_penalty (!= 1) to vLLM and llama-server, which take them;
     * calc cannot be done remotely and is refused. */
    struct loco_generate_params gen;
    const char *stop[LOCO_REMOTE_MAX_STOP]; /* stop strings; NULL ends the list */
};

/* The model name a request for `adapters` uses on this engine ("math",
 * "loco:math:0.5+code:0.5", the base model's name), into buf; for
 * llama-server the base model's name (the set travels in "lora").
 * LOCO_ERR_UNSUPPORTED when the engine cannot take the set (vLLM, openai:
 * several adapters, or a scale other than 1), LOCO_ERR_NOT_FOUND when it
 * does not serve an adapter (the message lists what it serves and how to
 * serve it), LOCO_ERR_RANGE when buf is too small. */
int loco_remote_model_for(struct loco_remote *r, const struct loco_remote_adapter *adapters,
                          size_t n_adapters, char *buf, size_t cap);

/* The request's JSON body as this client sends it (model, messages,
 * stream with usage, sampling, stop; llama-server: "lora" with every
 * adapter's scale), malloc'd; NULL with the message set as for
 * loco_remote_model_for. */
char *loco_remote_request_json(struct loco_remote *r, const struct loco_remote_request *req);

/* Generate the assistant's answer to req->msgs on the engine, streaming:
 * each text delta goes to on_token (may be NULL) with token -1 and
 * log-probability 0; returning false stops the answer (stop reason
 * LOCO_STOP_CALLBACK, LOCO_OK). On success *res holds the whole text,
 * n_prompt and n_generated from the engine's usage (or its llama-server
 * timings; without either, n_prompt 0 and n_generated the number of text
 * deltas), prompt_ms (request sent to first delta, or the engine's own
 * figure), generate_ms (first delta to last, or the engine's), and the
 * stop reason from finish_reason ("length": LOCO_STOP_MAX_TOKENS, else
 * LOCO_STOP_EOG); tokens and logprobs stay NULL (the engine's token ids are
 * not ours). Free with loco_generate_result_free. Errors: LOCO_ERR_NETWORK
 * (no connection, a timeout, an HTTP error status with the engine's
 * message, an error event in the stream, a stream cut before its end),
 * LOCO_ERR_FORMAT (a reply that is not what the API says), LOCO_ERR_NOMEM
 * (a reply past the byte limit), and those of loco_remote_model_for. */
int loco_remote_chat(struct loco_remote *r, const struct loco_remote_request *req,
                     loco_token_fn on_token, void *user, struct loco_generate_result *res);

#ifdef __cplusplus
}
#endif
#endif
