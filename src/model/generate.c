/*
 * generate.c - the shared prompt -> answer loop (see loco/generate.h).
 */
#include "generate_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loco/strategy.h"

struct loco_generate_params loco_generate_default_params(void)
{
    struct loco_generate_params p = {.max_tokens = 256,
                                     .sampling = loco_sampler_default_params()};
    return p;
}

double loco_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void loco_generate_result_free(struct loco_generate_result *res)
{
    if (!res)
        return;
    free(res->text);
    free(res->tokens);
    free(res->logprobs);
    memset(res, 0, sizeof *res);
}

int32_t loco_gen_reuse_prefix(struct loco_context *ctx, int32_t seq, const int32_t *prompt,
                              size_t n_prompt)
{
    const int32_t *cached = loco_context_seq_tokens(ctx, seq);
    int32_t n_cached = loco_context_seq_len(ctx, seq), keep = 0;
    while (keep < n_cached && (size_t)keep + 1 < n_prompt && cached[keep] == prompt[keep])
        keep++;
    loco_context_seq_truncate(ctx, seq, keep);
    return keep;
}

/* Decode tokens[0, n) of sequence seq at positions pos0.., in n_batch
 * chunks; the context holds logits for the last. */
static int decode_run(struct loco_context *ctx, int32_t seq, const int32_t *tokens, int32_t n,
                      int32_t pos0)
{
    int32_t n_batch = loco_context_params(ctx).n_batch;
    int32_t *pos = malloc((size_t)n_batch * sizeof *pos);
    int32_t *seqs = malloc((size_t)n_batch * sizeof *seqs);
    int rc = pos && seqs ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (int32_t at = 0; rc == LOCO_OK && at < n; at += n_batch) {
        int32_t len = n - at < n_batch ? n - at : n_batch;
        for (int32_t i = 0; i < len; i++) {
            pos[i] = pos0 + at + i;
            seqs[i] = seq;
        }
        struct loco_batch b = {.n = len, .tokens = tokens + at, .pos = pos, .seq = seqs};
        rc = loco_decode(ctx, &b);
    }
    free(pos);
    free(seqs);
    return rc;
}

int loco_gen_prefill(struct loco_context *ctx, int32_t seq, const int32_t *tokens, int32_t from,
                     int32_t n)
{
    return decode_run(ctx, seq, tokens + from, n - from, from);
}

int loco_gen_feed(struct loco_context *ctx, int32_t seq, const int32_t *tokens, int32_t n)
{
    return decode_run(ctx, seq, tokens, n, loco_context_seq_len(ctx, seq));
}

/* Whether ids[0, n) spell exactly text. */
static bool spells(const struct loco_tokenizer *tok, const int32_t *ids, size_t n,
                   const char *text)
{
    char piece[64];
    size_t at = 0, len = strlen(text);
    for (size_t i = 0; i < n; i++) {
        int got = loco_tokenizer_piece(tok, ids[i], false, piece, sizeof piece);
        if (got <= 0 || (size_t)got > sizeof piece || at + (size_t)got > len ||
            memcmp(text + at, piece, (size_t)got))
            return false;
        at += (size_t)got;
    }
    return at == len;
}

/* The tokens of a calculator result such as "24>>": the tokenizer's own
 * when they spell it exactly (an SPM vocabulary would add a leading space),
 * else the longest vocabulary pieces from left to right (byte tokens for
 * bytes without one). The result text is ASCII digits, '-', '.' and '>'. */
static int spell_result(const struct loco_tokenizer *tok, const char *text, int32_t **ids,
                        size_t *n)
{
    size_t len = strlen(text);
    if (loco_tokenizer_encode(tok, text, len, false, false, ids, n) == LOCO_OK &&
        spells(tok, *ids, *n, text))
        return LOCO_OK;
    free(*ids);
    *n = 0;
    *ids = malloc(len * sizeof **ids);
    if (!*ids)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t at = 0; at < len;) {
        int32_t id = -1;
        size_t take = len - at < 16 ? len - at : 16;
        char piece[20];
        for (; take > 0 && id < 0; take--) {
            snprintf(piece, sizeof piece, "%.*s", (int)take, text + at);
            id = loco_tokenizer_find(tok, piece);
        }
        if (id < 0) { /* take is 0: a byte token */
            snprintf(piece, sizeof piece, "<0x%02X>", (unsigned char)text[at]);
            id = loco_tokenizer_find(tok, piece);
            take = 0;
        }
        if (id < 0)
            return loco_error_set(LOCO_ERR_NOT_FOUND, "calc: no token spells '%c'", text[at]);
        (*ids)[(*n)++] = id;
        at += take + 1;
    }
    return LOCO_OK;
}

/* calc: when the answer in o ends in an open annotation "<<EXPR=" the
 * calculator can compute, the tokens that spell its result ("24>>"):
 * *forced malloc'd (caller frees), *n their count; *n is 0 when nothing is
 * due or more than `room` tokens would be needed. */
static int calc_due(const struct loco_tokenizer *tok, const struct output *o, int32_t room,
                    int32_t **forced, int32_t *n)
{
    *forced = NULL;
    *n = 0;
    char text[64];
    if (room <= 0 || !loco_calc_injection(o->text.p, o->text.len, text, sizeof text))
        return LOCO_OK;
    size_t n_ids = 0;
    int rc = spell_result(tok, text, forced, &n_ids);
    if (rc != LOCO_OK || n_ids == 0 || n_ids > (size_t)room) {
        free(*forced); /* unspellable or no room: nothing forced, the model goes on */
        *forced = NULL;
        loco_error_clear();
        return LOCO_OK;
    }
    *n = (int32_t)n_ids;
    return LOCO_OK;
}

int loco_gen_output_push(struct output *o, int32_t tok, float lp, const char *piece, size_t len)
{
    if (o->n == o->token_cap) {
        int32_t cap = o->token_cap ? 2 * o->token_cap : 64;
        int32_t *t = realloc(o->tokens, (size_t)cap * sizeof *t);
        if (t)
            o->tokens = t;
        float *l = realloc(o->logprobs, (size_t)cap * sizeof *l);
        if (l)
            o->logprobs = l;
        if (!t || !l)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        o->token_cap = cap;
    }
    loco_sbuf_add(&o->text, piece, len);
    if (o->text.failed)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    o->tokens[o->n] = tok;
    o->logprobs[o->n++] = lp;
    return LOCO_OK;
}

int loco_gen_output_take(struct output *o, struct loco_generate_result *res)
{
    char *text = loco_sbuf_finish(&o->text);
    if (!text) {
        loco_gen_output_free(o);
        return LOCO_ERR_NOMEM;
    }
    res->text = text;
    res->tokens = o->tokens;
    res->logprobs = o->logprobs;
    res->n_generated = o->n;
    *o = (struct output){0};
    return LOCO_OK;
}

void loco_gen_output_free(struct output *o)
{
    loco_sbuf_free(&o->text);
    free(o->tokens);
    free(o->logprobs);
    *o = (struct output){0};
}

int loco_gen_piece_of(const struct loco_tokenizer *tok, int32_t id, char *buf, size_t cap,
                      size_t *len)
{
    int n = loco_tokenizer_piece(tok, id, false, buf, cap);
    if (n < 0)
        return n;
    *len = (size_t)n < cap ? (size_t)n : cap;
    return LOCO_OK;
}

int loco_gen_calc_force(const struct loco_context *ctx, int32_t seq,
                        const struct loco_tokenizer *tok, struct loco_sampler *smp,
                        struct output *o, int32_t room, int32_t id, loco_token_fn on_token,
                        void *user, bool *stopped, int32_t **run, int32_t *n_run, int32_t *last)
{
    int32_t ctx_room = loco_context_params(ctx).n_ctx - loco_context_seq_len(ctx, seq) - 1;
    int32_t *forced = NULL, n = 0;
    *run = NULL;
    *n_run = 0;
    int rc = calc_due(tok, o, room < ctx_room ? room : ctx_room, &forced, &n);
    char piece[256];
    for (int32_t f = 0; rc == LOCO_OK && f < n && !*stopped; f++) {
        size_t len = 0;
        loco_sampler_accept(smp, forced[f]);
        rc = loco_gen_piece_of(tok, forced[f], piece, sizeof piece, &len);
        if (rc == LOCO_OK)
            rc = loco_gen_output_push(o, forced[f], 0.0f, piece, len);
        if (rc == LOCO_OK && on_token && !on_token(user, forced[f], piece, len, 0.0f))
            *stopped = true;
    }
    if (rc != LOCO_OK || n == 0 || *stopped) {
        free(forced);
        return rc;
    }
    *last = forced[n - 1]; /* the run: id, forced[0 .. n-2] */
    memmove(forced + 1, forced, (size_t)(n - 1) * sizeof *forced);
    forced[0] = id;
    *run = forced;
    *n_run = n;
    return LOCO_OK;
}

int loco_gen_feed_pending(struct loco_context *ctx, int32_t seq, bool feed, int32_t **run,
                          int32_t *n_run)
{
    int rc = feed && *n_run > 0 ? loco_gen_feed(ctx, seq, *run, *n_run) : LOCO_OK;
    free(*run);
    *run = NULL;
    *n_run = 0;
    return rc;
}

/* calc in loco_generate: the forced run is decoded now, the last forced
 * token becomes *id for the usual one-token step, *i counts them. */
static int force_calc(struct loco_context *ctx, int32_t seq, const struct loco_tokenizer *tok,
                      struct loco_sampler *smp, int32_t room, loco_token_fn on_token, void *user,
                      struct output *out, int32_t *id, int32_t *i, bool *stopped)
{
    int32_t *run = NULL, n = 0, last = 0;
    int rc = loco_gen_calc_force(ctx, seq, tok, smp, out, room, *id, on_token, user, stopped, &run,
                                 &n, &last);
    if (rc == LOCO_OK && n > 0) {
        *id = last;
        *i += n;
    }
    int fed = loco_gen_feed_pending(ctx, seq, rc == LOCO_OK, &run, &n);
    return rc != LOCO_OK ? rc : fed;
}

static int decode_loop(struct loco_context *ctx, int32_t seq, const struct loco_tokenizer *tok,
                       struct loco_sampler *smp, const struct loco_generate_params *p,
                       loco_token_fn on_token, void *user, struct output *out,
                       enum loco_stop_reason *stop)
{
    int32_t n_ctx = loco_context_params(ctx).n_ctx;
    char piece[256];
    *stop = LOCO_STOP_MAX_TOKENS;
    for (int32_t i = 0; i < p->max_tokens; i++) {
        float lp = 0.0f;
        int32_t id = loco_sampler_sample(smp, loco_context_logits(ctx, 0), &lp);
        if (id < 0)
            return id; /* no usable logit (all NaN) */
        if (loco_tokenizer_is_eog(tok, id)) {
            *stop = LOCO_STOP_EOG;
            return LOCO_OK;
        }
        loco_sampler_accept(smp, id);
        size_t len = 0;
        int rc = loco_gen_piece_of(tok, id, piece, sizeof piece, &len);
        if (rc || (rc = loco_gen_output_push(out, id, lp, piece, len)))
            return rc;
        if (on_token && !on_token(user, id, piece, len, lp)) {
            *stop = LOCO_STOP_CALLBACK;
            return LOCO_OK;
        }
        if (p->calc) {
            bool stopped = false;
            rc = force_calc(ctx, seq, tok, smp, p->max_tokens - i - 1, on_token, user, out, &id,
                            &i, &stopped);
            if (rc || stopped) {
                *stop = LOCO_STOP_CALLBACK;
                return rc;
            }
        }
        if (i + 1 == p->max_tokens)
            return LOCO_OK;
        int32_t pos = loco_context_seq_len(ctx, seq);
        if (pos >= n_ctx) {
            *stop = LOCO_STOP_CONTEXT;
            return LOCO_OK;
        }
        struct loco_batch b = {.n = 1, .tokens = &id, .pos = &pos, .seq = &seq};
        if ((rc = loco_decode(ctx, &b)))
            return rc;
    }
    return LOCO_OK;
}

int loco_generate(struct loco_context *ctx, int32_t seq, const struct loco_tokenizer *tok,
                  const int32_t *prompt, size_t n_prompt, const struct loco_generate_params *p,
                  loco_token_fn on_token, void *user, struct loco_generate_result *res)
{
    memset(res, 0, sizeof *res);
    int32_t n_ctx = loco_context_params(ctx).n_ctx;
    if (n_prompt == 0 || !tok)
        return loco_error_set(LOCO_ERR_INVALID, "generate: empty prompt or no tokenizer");
    if (n_prompt >= (size_t)n_ctx)
        return loco_error_set(LOCO_ERR_RANGE, "the prompt has %zu tokens but the context holds "
                              "%d; shorten it or raise --ctx", n_prompt, n_ctx);
    struct loco_sampler *smp = loco_sampler_init(p->sampling, loco_tokenizer_n_vocab(tok));
    if (!smp)
        return LOCO_ERR_NOMEM;
    for (size_t i = 0; i < n_prompt; i++)
        loco_sampler_accept(smp, prompt[i]);
    res->n_prompt = (int32_t)n_prompt;
    double t0 = loco_time_ms();
    res->n_cached = loco_gen_reuse_prefix(ctx, seq, prompt, n_prompt);
    int rc = loco_gen_prefill(ctx, seq, prompt, res->n_cached, (int32_t)n_prompt);
    double t1 = loco_time_ms();
    struct output out = {0};
    if (rc == LOCO_OK)
        rc = decode_loop(ctx, seq, tok, smp, p, on_token, user, &out, &res->stop);
    res->prompt_ms = t1 - t0;
    res->generate_ms = loco_time_ms() - t1;
    loco_sampler_free(smp);
    if (rc == LOCO_OK)
        rc = loco_gen_output_take(&out, res);
    loco_gen_output_free(&out);
    if (rc)
        loco_generate_result_free(res);
    return rc;
}

int loco_chat_tokenize(const struct loco_model *m, const char *template_override,
                       const struct loco_chat_msg *msgs, size_t n_msgs, int32_t **tokens,
                       size_t *n_tokens)
{
    const struct loco_tokenizer *tok = loco_model_tokenizer(m);
    if (!tok)
        return loco_error_set(LOCO_ERR_FORMAT, "the model has no tokenizer");
    struct loco_str tmpl = {0};
    char *tmpl_text = NULL;
    if (loco_gguf_get_str(loco_model_gguf(m), "tokenizer.chat_template", &tmpl) == LOCO_OK)
        tmpl_text = strndup(tmpl.ptr, tmpl.len);
    enum loco_chat_template family = template_override ? loco_chat_from_name(template_override)
                                     : tmpl_text       ? loco_chat_detect(tmpl_text)
                                                       : LOCO_CHAT_UNKNOWN;
    if (family == LOCO_CHAT_UNKNOWN) {
        free(tmpl_text);
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              template_override ? "unknown chat template '%s' (known: chatml, "
                                                  "gemma, llama3, phi3)"
                                                : "the model's chat template is not one LocoLLM "
                                                  "knows%s; pass --chat-template chatml|gemma|"
                                                  "llama3|phi3 (a training recipe: "
                                                  "chat_template:)",
                              template_override ? template_override : "");
    }
    /* the template's own default system prompt, when the chat has none */
    char sys[512];
    size_t n_sys = tmpl_text && (n_msgs == 0 || strcmp(msgs[0].role, "system") != 0)
                       ? loco_chat_default_system(tmpl_text, sys, sizeof sys)
                       : 0;
    free(tmpl_text);
    struct loco_chat_msg *all = malloc((n_msgs + 1) * sizeof *all);
    if (!all)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    size_t n_all = 0;
    if (n_sys)
        all[n_all++] = (struct loco_chat_msg){.role = "system", .content = sys};
    memcpy(all + n_all, msgs, n_msgs * sizeof *msgs);
    n_all += n_msgs;
    char *text = loco_chat_render(family, all, n_all, true);
    free(all);
    if (!text)
        return LOCO_ERR_NOMEM;
    int rc = loco_tokenizer_encode(tok, text, strlen(text), true, true, tokens, n_tokens);
    free(text);
    return rc;
}
