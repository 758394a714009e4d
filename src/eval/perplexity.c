/*
 * perplexity.c - loco_perplexity_*: llama-perplexity's chunking and scoring
 * (see loco/perplexity.h) on LocoLLM's engine.
 *
 * A chunk is decoded in pieces of at most n_batch tokens, every token
 * asking for logits only in the scored half; each piece's logits are scored
 * at once (the token each position predicts is known in advance), so no
 * more than one piece of logits is ever held.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "loco/core.h"
#include "loco/generate.h"
#include "loco/perplexity.h"

struct loco_perplexity_params loco_perplexity_default_params(void)
{
    return (struct loco_perplexity_params){.n_ctx = 512, .n_chunks = 0};
}

/* -log softmax(logits)[target], in double. */
static double nll_of(const float *logits, int32_t n_vocab, int32_t target)
{
    float mx = logits[0];
    for (int32_t v = 1; v < n_vocab; v++)
        if (logits[v] > mx)
            mx = logits[v];
    double sum = 0.0;
    for (int32_t v = 0; v < n_vocab; v++)
        sum += exp((double)logits[v] - (double)mx);
    return log(sum) - ((double)logits[target] - (double)mx);
}

/* Running sums of the scores. */
struct ppl_sums {
    double nll, nll2;
    int64_t count;
};

/* Decode chunk[n_ctx] on sequence 0 in pieces, scoring positions first ..
 * n_ctx - 2 against the next token. */
static int score_chunk(struct loco_context *ctx, const int32_t *chunk, int32_t n_ctx,
                       int32_t n_vocab, struct ppl_sums *s)
{
    const int32_t n_batch = loco_context_params(ctx).n_batch, first = n_ctx / 2;
    int32_t *pos = malloc((size_t)n_batch * sizeof *pos),
            *seq = calloc((size_t)n_batch, sizeof *seq);
    bool *want = malloc((size_t)n_batch * sizeof *want);
    int rc = pos && seq && want ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    loco_context_seq_clear(ctx, 0);
    for (int32_t b0 = 0; rc == LOCO_OK && b0 < n_ctx; b0 += n_batch) {
        int32_t n = n_ctx - b0 < n_batch ? n_ctx - b0 : n_batch;
        for (int32_t i = 0; i < n; i++) {
            pos[i] = b0 + i;
            want[i] = b0 + i >= first && b0 + i < n_ctx - 1;
        }
        struct loco_batch batch = {
            .n = n, .tokens = chunk + b0, .pos = pos, .seq = seq, .want_logits = want};
        rc = loco_decode(ctx, &batch);
        for (int32_t i = 0, k = 0; rc == LOCO_OK && i < n; i++) {
            if (!want[i])
                continue;
            const float *logits = loco_context_logits(ctx, k++);
            double nll = nll_of(logits, n_vocab, chunk[b0 + i + 1]);
            s->nll += nll;
            s->nll2 += nll * nll;
            s->count++;
        }
    }
    free(pos);
    free(seq);
    free(want);
    return rc;
}

static void finish(const struct ppl_sums *s, struct loco_perplexity_result *out)
{
    out->n_scored = s->count;
    out->nll = s->count ? s->nll / (double)s->count : 0.0;
    out->ppl = exp(out->nll);
    double var = s->count ? s->nll2 / (double)s->count - out->nll * out->nll : 0.0;
    out->ppl_error =
        s->count > 1 && var > 0.0 ? out->ppl * sqrt(var / (double)(s->count - 1)) : 0.0;
}

int loco_perplexity_tokens(struct loco_context *ctx, const struct loco_model *m,
                           const int32_t *tokens, size_t n, struct loco_perplexity_params p,
                           loco_perplexity_progress progress, void *user,
                           struct loco_perplexity_result *out)
{
    const struct loco_tokenizer *tok = m ? loco_model_tokenizer(m) : NULL;
    if (!ctx || !tok || !tokens || !out)
        return loco_error_set(LOCO_ERR_INVALID, "perplexity: context, a model with a "
                                                "tokenizer, tokens and result are required");
    memset(out, 0, sizeof *out);
    if (p.n_ctx < 4 || p.n_ctx % 2 != 0 || p.n_chunks < 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "perplexity: the chunk length must be even and "
                              "at least 4 (got %d), the chunk limit 0 or more (got %d)",
                              p.n_ctx, p.n_chunks);
    if (p.n_ctx > loco_context_params(ctx).n_ctx)
        return loco_error_set(LOCO_ERR_RANGE,
                              "perplexity: chunks of %d tokens do not fit a "
                              "context of %d",
                              p.n_ctx, loco_context_params(ctx).n_ctx);
    if (n > INT32_MAX || n < 2 * (size_t)p.n_ctx)
        return loco_error_set(LOCO_ERR_RANGE,
                              "perplexity: the text has %zu tokens; chunks of %d "
                              "need at least %d (two chunks, as llama-perplexity asks)",
                              n, p.n_ctx, 2 * p.n_ctx);
    /* logits rows are the model's vocabulary wide; every id must index one */
    const int32_t n_vocab = loco_model_hparams(m)->n_vocab;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return loco_error_set(LOCO_ERR_INVALID,
                                  "perplexity: token %zu is id %d, outside the "
                                  "model's vocabulary of %d",
                                  i, tokens[i], n_vocab);
    int32_t n_chunks = (int32_t)(n / (size_t)p.n_ctx);
    if (p.n_chunks > 0 && p.n_chunks < n_chunks)
        n_chunks = p.n_chunks;
    int32_t *chunk = malloc((size_t)p.n_ctx * sizeof *chunk);
    if (!chunk)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    const int32_t bos = loco_tokenizer_add_bos(tok) ? loco_tokenizer_bos(tok) : -1;
    struct ppl_sums s = {0};
    double t0 = loco_time_ms();
    int rc = LOCO_OK;
    out->n_tokens = (int32_t)n;
    for (int32_t c = 0; rc == LOCO_OK && c < n_chunks; c++) {
        memcpy(chunk, tokens + (size_t)c * (size_t)p.n_ctx, (size_t)p.n_ctx * sizeof *chunk);
        if (bos >= 0)
            chunk[0] = bos;
        rc = score_chunk(ctx, chunk, p.n_ctx, n_vocab, &s);
        if (rc == LOCO_OK) {
            out->n_chunks = c + 1;
            finish(&s, out);
            if (progress && progress(user, c + 1, n_chunks, out->ppl))
                break;
        }
    }
    out->ms = loco_time_ms() - t0;
    free(chunk);
    return rc;
}

int loco_perplexity_text(struct loco_context *ctx, const struct loco_model *m, const char *text,
                         size_t len, struct loco_perplexity_params p,
                         loco_perplexity_progress progress, void *user,
                         struct loco_perplexity_result *out)
{
    const struct loco_tokenizer *tok = m ? loco_model_tokenizer(m) : NULL;
    if (!tok || !text)
        return loco_error_set(LOCO_ERR_INVALID, "perplexity: a model with a tokenizer and a text "
                                                "are required");
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = loco_tokenizer_encode(tok, text, len, true, false, &ids, &n);
    if (rc == LOCO_OK)
        rc = loco_perplexity_tokens(ctx, m, ids, n, p, progress, user, out);
    free(ids);
    return rc;
}

int loco_perplexity_file(struct loco_context *ctx, const struct loco_model *m, const char *path,
                         struct loco_perplexity_params p, loco_perplexity_progress progress,
                         void *user, struct loco_perplexity_result *out)
{
    char *text = NULL;
    size_t len = 0;
    int rc = path ? loco_read_file(path, (size_t)1 << 30, &text, &len)
                  : loco_error_set(LOCO_ERR_INVALID, "perplexity: a file path is required");
    if (rc == LOCO_OK)
        rc = loco_perplexity_text(ctx, m, text, len, p, progress, user, out);
    free(text);
    return rc;
}
