/*
 * loco/strategy.h - inference-time strategies: ways of spending more local
 * compute on one question to get a better answer (docs/strategies.md).
 *
 * A strategy is chosen per request (loco ask --strategy S, /strategy S in
 * chat, a registry default per domain, loco eval --strategy S) and written
 * as text:
 *   plain      the question as asked, one answer
 *   re2        re-reading (Xu et al. 2023): the question, then "Read the
 *              question again: " and the question once more
 *   calc       calculator-annotated decoding: when the answer writes a GSM8K
 *              annotation "<<48/2=", the engine computes "24>>" itself
 *   re2+calc   both: they touch different ends (the prompt, the decoding),
 *              so they combine; any other combination is refused
 *   sc:K       self-consistency: K sampled answers, the domain's vote
 *   usc:K      universal self-consistency: K sampled answers, the model
 *              picks the most consistent
 *   ensemble   the domain's adapters each answer (ensemble:N: the N
 *              best-ranked), decoded in one batch, then the domain's vote;
 *              a tie goes to the best-ranked member
 *
 * sc, usc and ensemble give a vote share, the confidence of the answer:
 * below a threshold (per domain in the registry, or --min-share) the answer
 * abstains or falls back to the base model (loco_vote_confident).
 *
 * The calculator (src/strategy/calc.c) is a small safe evaluator of its own:
 * numbers, + - * /, parentheses and unary minus, bounded in length and depth;
 * anything else means no result, and the model simply goes on.
 */
#ifndef LOCO_STRATEGY_H
#define LOCO_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/generate.h"
#include "loco/lora.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- choosing a strategy ------------------------------------------------- */

enum loco_strategy_kind {
    LOCO_STRATEGY_PLAIN = 0,
    LOCO_STRATEGY_RE2 = 1,
    LOCO_STRATEGY_CALC = 2,
    LOCO_STRATEGY_RE2_CALC = 3, /* re2 prompt, calculator decoding */
    LOCO_STRATEGY_SC = 4,       /* self-consistency over k samples */
    LOCO_STRATEGY_USC = 5,      /* universal self-consistency over k samples */
    LOCO_STRATEGY_ENSEMBLE = 6, /* the domain's adapters each answer, one vote */
};

struct loco_strategy {
    enum loco_strategy_kind kind;
    /* SC/USC: samples, 2..LOCO_GENERATE_MAX_SLOTS; ENSEMBLE: at most this
     * many members, 2..LOCO_GENERATE_MAX_SLOTS, or 0 for all; else 1 */
    int32_t k;
};

/* Longest text loco_strategy_name writes, NUL included. */
#define LOCO_STRATEGY_NAME_MAX 16

/* Parse "plain", "re2", "calc", "re2+calc" (also "calc+re2"), "sc:K",
 * "usc:K" (K from 2 to LOCO_GENERATE_MAX_SLOTS), "ensemble" and
 * "ensemble:N" (N the same way). On failure returns
 * LOCO_ERR_INVALID with a message that lists the known strategies; *out is
 * then plain. */
int loco_strategy_parse(const char *s, struct loco_strategy *out);

/* The strategy's text, as loco_strategy_parse reads it ("re2", "sc:5"),
 * written into buf (cap >= LOCO_STRATEGY_NAME_MAX) and returned. */
const char *loco_strategy_name(const struct loco_strategy *st, char *buf, size_t cap);

/* Whether the strategy re-reads the question (re2, re2+calc). */
bool loco_strategy_rereads(const struct loco_strategy *st);
/* Whether the strategy decodes with the calculator (calc, re2+calc). */
bool loco_strategy_calculates(const struct loco_strategy *st);
/* Whether the strategy chooses among several answers and so has a vote
 * share (sc, usc, ensemble). */
bool loco_strategy_votes(const struct loco_strategy *st);

/* ---- re2: the re-reading prompt ------------------------------------------ */

/* The user message for `question` under re2, the paper's template (Xu et
 * al. 2023, "Re-Reading Improves Reasoning in Large Language Models",
 * arXiv:2309.06275, EMNLP 2024):
 *     Q: {question}
 *     Read the question again: {question}
 * The paper's thought-eliciting line that follows ("A: Let's think step by
 * step.") is left to the chat template's assistant turn. Returns a malloc'd
 * string the caller frees, or NULL (message set). */
char *loco_strategy_re2_prompt(const char *question);

/* ---- calc: the calculator ------------------------------------------------ */

/* Evaluate the arithmetic expression of len bytes: decimal numbers (no
 * exponent; commas only as strict thousands groups, "80,000"), + - * /,
 * parentheses, unary minus,
 * spaces. At most LOCO_CALC_MAX_LEN bytes and LOCO_CALC_MAX_DEPTH nested
 * parentheses. LOCO_ERR_FORMAT for anything else, LOCO_ERR_RANGE for a
 * division by zero or a result that is not finite or exceeds 1e15. */
#define LOCO_CALC_MAX_LEN 128
#define LOCO_CALC_MAX_DEPTH 16
int loco_calc_eval(const char *expr, size_t len, double *out);

/* Write v as GSM8K writes results: an integer without ".0" ("24", "-3"),
 * otherwise at most 6 decimals with trailing zeros trimmed ("0.5",
 * "3.333333"). Returns buf. */
const char *loco_calc_format(double v, char *buf, size_t cap);

/* The calculator's decision, given the answer text so far: when it ends with
 * an open annotation "<<EXPR=" (no ">>" after the last "<<", one "=" at the
 * end) and EXPR evaluates, writes the text to force ("24>>") into buf and
 * returns true; otherwise false (nothing to inject: the model goes on). */
bool loco_calc_injection(const char *text, size_t len, char *buf, size_t cap);

/* ---- sc / usc: many answers, one vote (src/strategy/sc.c) ---------------- */

/* K answers to one prompt: prefilled once, the KV shared by K sequences
 * (seeds p->sampling.seed + i), decoded in one batch. res[K] filled. */
int loco_generate_sc(struct loco_context *ctx, const struct loco_tokenizer *tok,
                     const int32_t *prompt, size_t n_prompt, int32_t k,
                     const struct loco_generate_params *p, struct loco_generate_result *res);
/* Vote on K answers for `domain` ("math": extracted numbers; else the most common normalised
 * answer); *winner the index of an answer holding the winning vote, *share its vote share.
 * Code answers are voted on by tests instead: loco_codeeval_vote (loco/codeeval.h). */
int loco_vote(const char *domain, const char *const *answers, int32_t k, int32_t *winner,
              double *share);
/* In detail (src/strategy/sc.c, vote.c). loco_generate_sc uses sequences
 * 0..k-1 of ctx (n_seq >= k; their caches and adapter sets are replaced by
 * sequence 0's): sequence 0 keeps the longest cached prefix of the prompt,
 * as loco_generate does, and is forked to the others (loco_context_seq_copy).
 * Answer i is exactly loco_generate's on a fresh sequence with seed
 * p->sampling.seed + i, p->calc included (for k <= LOCO_GENERATE_MAX_SLOTS). res[i].n_cached is
 * the reused prefix for i = 0 and the whole prompt for the others;
 * prompt_ms is the one shared prefill. On failure no res needs freeing;
 * else free each with loco_generate_result_free.
 * loco_vote reads each answer with the scorers' extractors: "math" and
 * "gsm8k" the number (loco_number_extract, LOCO_NUMBER_ALL; equal within
 * LOCO_NUMBER_REL_TOL vote together), "arc", "choice" and "mc" the label
 * A-E (loco_mc_extract), any other domain (NULL too) the answer trimmed,
 * case-folded, whitespace runs collapsed. Answers giving nothing (and NULL
 * entries) do not vote; *share = winning votes / k; a tie goes to the
 * earliest answer; no vote at all gives *winner 0 and *share 0. */

/* How many of the k answers give the same answer as answer i (itself
 * included), into votes[i]; 0 for an answer that gives none. The same
 * reading and equality as loco_vote: the winner's share is
 * votes[winner] / k. */
int loco_vote_counts(const char *domain, const char *const *answers, int32_t k, int32_t *votes);
/* What loco_vote compares for `domain`: "number", "choice" or "text". Code
 * is voted on by the tests the prompt shows (loco_codeeval_vote in
 * loco/codeeval.h), which the caller chooses where it knows the tests. */
const char *loco_vote_rule(const char *domain);

/* Universal self-consistency (Chen et al. 2023, "Universal Self-Consistency
 * for Large Language Model Generation", arXiv:2311.17311): the paper's
 * selection prompt for k answers to `question`:
 *     I have generated the following responses to the question: {question}
 *
 *     Response 0: {answer 0}
 *     ...
 *
 *     Evaluate these responses.
 *     Select the most consistent response based on majority consensus.
 *     Start your answer with "The most consistent response is Response X"
 *     (without quotes).
 * (answers trimmed; the last line is one line). Caller frees; NULL
 * (message set) on bad input. */
char *loco_usc_prompt(const char *question, const char *const *answers, int32_t k);
/* The response index a selection reply names: the first "Response N" (any
 * case, N in [0, k)) after "consistent response is", else anywhere.
 * LOCO_ERR_NOT_FOUND (message quoting the reply) when none. */
int loco_usc_parse(const char *reply, int32_t k);
/* Ask the model (greedy, at most 32 tokens, on sequence 0 of ctx; p's other
 * sampling settings kept) which of the k answers is the most consistent;
 * the prompt goes through the model's chat template when it has one. On
 * LOCO_OK *winner is its choice. When the reply names none, *winner is 0
 * (the first answer) and LOCO_ERR_NOT_FOUND is returned with the reply in
 * the message, for the caller to report; other errors leave *winner 0. */
int loco_usc_pick(struct loco_context *ctx, const struct loco_tokenizer *tok,
                  const struct loco_model *m, const char *question, const char *const *answers,
                  int32_t k, const struct loco_generate_params *p, int32_t *winner);

/* ---- ensemble: the domain's adapters each answer (src/strategy/ensemble.c) */

/* One member of an ensemble: an adapter set (borrowed; n_set 0, set NULL:
 * the base model). */
struct loco_ensemble_member {
    const struct loco_adapter_ref *set;
    int32_t n_set;
};

/* n answers to one prompt, member i's on sequence i of ctx (n_seq >= n;
 * n <= LOCO_GENERATE_MAX_SLOTS): sequence i gets member i's adapter set
 * (loco_context_set_adapters, which forgets its cache when the set
 * differs), keeps the longest cached prefix of the prompt and prefills the
 * rest in decode calls of its own (keys and values depend on the adapters,
 * so the members cannot share one prefill); then all n decode together,
 * one token each per loco_decode call. Every member samples with p as
 * given (seed p->sampling.seed, as it would alone), p->calc included, so
 * answer i is exactly loco_generate's with member i's adapters on a fresh
 * sequence (with a cached prefix, on a sequence holding the same prefix).
 * res[n] filled: prompt_ms is member i's own prefill. On failure
 * no res needs freeing; else free each with loco_generate_result_free.
 * The library does not read the registry: the caller chooses the members
 * and their order. Pass them best-ranked first and loco_vote's tie rule
 * (the earliest answer) gives a tie to the best-ranked member. */
int loco_generate_ensemble(struct loco_context *ctx, const struct loco_tokenizer *tok,
                           const int32_t *prompt, size_t n_prompt,
                           const struct loco_ensemble_member *members, int32_t n,
                           const struct loco_generate_params *p, struct loco_generate_result *res);

/* ---- confidence: the vote share, and below a threshold ------------------- */

/* What a voted answer does when its share is below the threshold: say it
 * is not sure (the best answer kept as a hint), or answer again with the
 * base model, plain. */
enum loco_vote_below {
    LOCO_VOTE_ABSTAIN = 0,
    LOCO_VOTE_FALLBACK = 1,
};
/* What an abstaining answer says. */
#define LOCO_VOTE_ABSTAIN_TEXT "I am not sure."

/* Whether a vote share passes the threshold min_share (0..1): share >=
 * min_share, so a share exactly at the threshold passes (3 of 5 votes
 * pass 0.6; compared with a tolerance of 1e-9 for shares like 2/3);
 * min_share 0 passes everything. */
bool loco_vote_confident(double share, double min_share);
/* "abstain" or "fallback" into *out; LOCO_ERR_INVALID (message naming
 * both, *out unchanged) else. */
int loco_vote_below_parse(const char *s, enum loco_vote_below *out);
const char *loco_vote_below_name(enum loco_vote_below b);

#ifdef __cplusplus
}
#endif
#endif
