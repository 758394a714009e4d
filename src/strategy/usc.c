/*
 * usc.c - universal self-consistency (Chen et al. 2023, "Universal
 * Self-Consistency for Large Language Model Generation", arXiv:2311.17311):
 * when K free-text answers cannot be voted on by an extracted value, the
 * model itself is shown all K and asked which is the most consistent with
 * the others; see loco_usc_pick in loco/strategy.h.
 *
 * The selection prompt is the paper's (its appendix's USC prompt), with the
 * responses numbered from 0 as there:
 *
 *     I have generated the following responses to the question: <question>
 *
 *     Response 0: <answer 0>
 *     Response 1: <answer 1>
 *     ...
 *
 *     Evaluate these responses.
 *     Select the most consistent response based on majority consensus.
 *     Start your answer with "The most consistent response is Response X" (without quotes).
 *
 * The reply is decoded greedily and its "Response X" read back.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "loco/strategy.h"

#define USC_MAX_TOKENS 32 /* "The most consistent response is Response 12" and some slack */

/* Trim surrounding whitespace: [*s, *s + *len). */
static void trimmed(const char *text, const char **s, size_t *len)
{
    const char *a = text, *b = text + strlen(text);
    while (a < b && isspace((unsigned char)*a))
        a++;
    while (b > a && isspace((unsigned char)b[-1]))
        b--;
    *s = a;
    *len = (size_t)(b - a);
}

char *loco_usc_prompt(const char *question, const char *const *answers, int32_t k)
{
    if (!question || !answers || k < 1) {
        loco_error_set(LOCO_ERR_INVALID, "usc: a question and k >= 1 answers are required");
        return NULL;
    }
    struct loco_sbuf b = {0};
    loco_sbuf_adds(&b, "I have generated the following responses to the question: ");
    loco_sbuf_adds(&b, question);
    loco_sbuf_adds(&b, "\n\n");
    for (int32_t i = 0; i < k; i++) {
        const char *s = "";
        size_t len = 0;
        if (answers[i])
            trimmed(answers[i], &s, &len);
        loco_sbuf_printf(&b, "Response %d: ", i);
        loco_sbuf_add(&b, s, len);
        loco_sbuf_adds(&b, "\n");
    }
    loco_sbuf_adds(&b, "\nEvaluate these responses.\n"
                       "Select the most consistent response based on majority consensus.\n"
                       "Start your answer with \"The most consistent response is Response X\" "
                       "(without quotes).");
    return loco_sbuf_finish(&b);
}

/* The number written after the word "response" that starts at p (spaces
 * and a '#' may come between), or -1. */
static long number_after_response(const char *p)
{
    p += strlen("response");
    while (*p == ' ' || *p == '#')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    char *end = NULL;
    long v = strtol(p, &end, 10);
    return end - p <= 4 ? v : -1;
}

/* The first "Response N" at or after `from` with N in [0, k), or -1. */
static long first_response(const char *from, int32_t k)
{
    for (const char *p = strcasestr(from, "response"); p; p = strcasestr(p + 1, "response")) {
        long v = number_after_response(p);
        if (v >= 0 && v < k)
            return v;
    }
    return -1;
}

int loco_usc_parse(const char *reply, int32_t k)
{
    if (!reply || k < 1)
        return loco_error_set(LOCO_ERR_INVALID, "usc: a reply and k >= 1 are required");
    const char *stated = strcasestr(reply, "consistent response is");
    long v = stated ? first_response(stated, k) : -1;
    if (v < 0)
        v = first_response(reply, k);
    if (v < 0)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "usc: the reply \"%.80s\" names no response "
                              "0..%d", reply, k - 1);
    return (int)v;
}

/* The selection prompt as tokens: through the model's chat template when it
 * has one, else as plain text (base models). */
static int usc_tokens(const struct loco_model *m, const struct loco_tokenizer *tok,
                      const char *text, int32_t **tokens, size_t *n)
{
    if (loco_gguf_find_key(loco_model_gguf(m), "tokenizer.chat_template") < 0)
        return loco_tokenizer_encode(tok, text, strlen(text), true, false, tokens, n);
    struct loco_chat_msg msg = {.role = "user", .content = text};
    return loco_chat_tokenize(m, NULL, &msg, 1, tokens, n);
}

int loco_usc_pick(struct loco_context *ctx, const struct loco_tokenizer *tok,
                  const struct loco_model *m, const char *question, const char *const *answers,
                  int32_t k, const struct loco_generate_params *p, int32_t *winner)
{
    if (!winner || !ctx || !tok || !m || !p)
        return loco_error_set(LOCO_ERR_INVALID, "usc: context, tokenizer, model, params and "
                              "winner are required");
    *winner = 0;
    char *text = loco_usc_prompt(question, answers, k);
    if (!text)
        return LOCO_ERR_NOMEM;
    int32_t *tokens = NULL;
    size_t n = 0;
    int rc = usc_tokens(m, tok, text, &tokens, &n);
    free(text);
    struct loco_generate_params gp = *p;
    gp.max_tokens = USC_MAX_TOKENS;
    gp.sampling.temperature = 0.0f; /* greedy, as a judge */
    struct loco_generate_result res = {0};
    if (rc == LOCO_OK)
        rc = loco_generate(ctx, 0, tok, tokens, n, &gp, NULL, NULL, &res);
    free(tokens);
    if (rc == LOCO_OK) {
        int v = loco_usc_parse(res.text, k);
        rc = v < 0 ? v : LOCO_OK;
        *winner = v < 0 ? 0 : v;
    }
    loco_generate_result_free(&res);
    return rc;
}
