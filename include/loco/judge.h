/*
 * loco/judge.h - rubric scoring of open answers by a judge model.
 *
 * Some answers (a story, a letter, a speech in character) have no single
 * right text to compare with. The evaluation then asks a JUDGE model to
 * read the request and the answer and rate the answer on a fixed scale,
 * the single-answer grading of MT-Bench (Zheng et al. 2023, "Judging
 * LLM-as-a-Judge with MT-Bench and Chatbot Arena"):
 *   - LOCO_JUDGE_MTBENCH:    ratings 1-10 against a general rubric;
 *   - LOCO_JUDGE_PROMETHEUS: ratings 1-5, each level described, as in
 *     Prometheus (Kim et al. 2023, "Prometheus: Inducing Fine-grained
 *     Evaluation Capability in Language Models").
 * Both ask for the verdict in one format, "Rating: [[N]]", so one parser
 * reads both. The rubric texts are LocoLLM's own (docs/benchmarks.md
 * prints them).
 *
 * The judge is either the base model in the same process (the evaluation
 * harness drives it, see loco/eval.h), or any OpenAI-compatible
 * /v1/chat/completions endpoint, reached with libcurl only when the caller
 * names its URL.
 *
 * Strings are UTF-8; every char * returned is malloc'd and the caller frees
 * it. Nothing here prints or keeps global state other than libcurl's
 * one-time global initialisation.
 */
#ifndef LOCO_JUDGE_H
#define LOCO_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Judgments per answer are capped so that per-item storage stays fixed. */
#define LOCO_JUDGE_MAX_JUDGMENTS 8

enum loco_judge_rubric {
    LOCO_JUDGE_MTBENCH = 0,    /* 1-10 */
    LOCO_JUDGE_PROMETHEUS = 1, /* 1-5 */
};

struct loco_judge_params {
    enum loco_judge_rubric rubric; /* LOCO_JUDGE_MTBENCH */
    uint32_t n_judgments;          /* judgments per answer, each its own seed: 3 */
    float temperature;             /* judge sampling temperature: 0.7 */
    const char *url;               /* NULL: the base model in process; else an
                                      OpenAI-compatible endpoint (borrowed) */
    const char *model;             /* the endpoint's model name (borrowed) */
    const char *api_key;           /* Bearer token, or NULL (borrowed) */
    int32_t max_tokens;            /* endpoint answer length: 512 (the local judge
                                      is pre-filled and writes one digit) */
    long timeout_s;                /* whole request: 120 */
    uint32_t retries;              /* extra tries after a timeout, 429 or 5xx: 2 */
};

struct loco_judge_params loco_judge_default_params(void);

/* ---- rubric ------------------------------------------------------------- */

/* "mtbench" / "prometheus" <-> the enum; LOCO_ERR_NOT_FOUND for another name. */
const char *loco_judge_rubric_name(enum loco_judge_rubric r);
int loco_judge_rubric_parse(const char *name, enum loco_judge_rubric *out);

/* The top of the rubric's scale: 10 or 5 (the bottom is always 1). */
int32_t loco_judge_rubric_max(enum loco_judge_rubric r);

/* The judge's fixed system message. Static string. */
const char *loco_judge_system_prompt(void);

/* The user message that asks the judge to rate `answer` to `question`.
 * `criteria` (a custom item's rubric) and `reference` (an example of a
 * good answer) are optional (NULL or "") and are put into the prompt when
 * given. NULL on allocation failure or a NULL question/answer. */
char *loco_judge_prompt(enum loco_judge_rubric r, const char *question, const char *answer,
                        const char *reference, const char *criteria);

/* What the local judge's assistant turn is pre-filled with; its next token
 * is then drawn from the rating digits only (src/eval/run.c). */
#define LOCO_JUDGE_PREFILL "Rating: [["

/* ---- reading the verdict ------------------------------------------------ */

/* The rating in a judge's reply, tried in this order:
 *   1. the first "[[N]]" (spaces allowed inside the brackets);
 *   2. "Rating" (any case, not inside a word) followed by up to 6 of
 *      ' ', ':', '*', '=', '[', '(' and a number, optionally "/M";
 *   3. "[RESULT] N" (Prometheus's own format).
 * N is digits with an optional decimal part. LOCO_OK and *rating set when
 * 1 <= N <= max (and M, when written, equals max); LOCO_ERR_RANGE when the
 * first rating found is outside that (or has more than 6 digits);
 * LOCO_ERR_NOT_FOUND when there is none. *rating is untouched on failure. */
int loco_judge_parse_rating(const char *reply, int32_t max, double *rating);

/* A rating on the 1..max scale mapped to 0..1: (r - 1) / (max - 1). */
double loco_judge_normalise(double rating, int32_t max);

/* ---- an OpenAI-compatible endpoint ------------------------------------- */

/* The chat completions URL for `url`: kept when it ends in
 * "/chat/completions", else "/chat/completions" is appended to a URL that
 * ends in "/v1" and "/v1/chat/completions" to any other. Only http(s)
 * URLs are accepted (LOCO_ERR_INVALID, NULL otherwise). Caller frees. */
char *loco_judge_chat_url(const char *url);

/* The reply text (choices[0].message.content) of a chat completion body
 * body[len]. LOCO_ERR_FORMAT with a message quoting the start of the body
 * when it is not JSON, carries an "error" object, or lacks the field. */
int loco_judge_completion_content(const char *body, size_t len, char **content);

/* Ask p->url (model p->model) for one completion of msgs[n_msgs] at
 * p->temperature with `seed`, at most p->max_tokens tokens; *reply receives
 * the text. Timeouts, 429 and 5xx answers are retried p->retries times
 * (after 1, 2, 4 ... s). LOCO_ERR_NETWORK with a message naming the URL and
 * the HTTP status or transport error; LOCO_ERR_FORMAT for a malformed
 * reply. */
int loco_judge_http_chat(const struct loco_judge_params *p, const struct loco_chat_msg *msgs,
                         size_t n_msgs, uint64_t seed, char **reply);

#ifdef __cplusplus
}
#endif
#endif
