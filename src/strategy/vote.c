/*
 * vote.c - the vote of self-consistency (Wang et al. 2023): K sampled
 * answers are reduced to the answer each one gives, and the most common
 * wins; see loco_vote in loco/strategy.h.
 *
 * What an answer "gives" depends on the domain, and uses the evaluation
 * harness's own extractors, so the vote counts what the scorer would read:
 *   numbers   (math, gsm8k) the answer's number as the numeric scorer finds
 *             it: "#### N", else \boxed{N}, else the last number
 *             (loco_number_extract); values equal within
 *             LOCO_NUMBER_REL_TOL vote together ("1,000" with "1000.00");
 *   choices   (arc, choice, mc) the choice label A-E that loco_mc_extract
 *             reads ("The answer is B", "(B)", a lone "B" ...);
 *   text      anything else: the whole answer trimmed, case-folded and with
 *             whitespace runs collapsed (loco_score_normalise).
 * An answer that gives nothing (no number, no label, empty text, NULL) does
 * not vote, but the share still counts over all K answers.
 * Programs are voted on by running them on the tests their prompt shows
 * (loco_codeeval_vote, src/eval/codevote.c); the evaluation chooses that
 * vote for its code benchmarks.
 */
#include <stdlib.h>
#include <string.h>

#include "loco/score.h"
#include "loco/strategy.h"

enum vote_kind { VOTE_TEXT = 0, VOTE_NUMBER, VOTE_CHOICE };

static const struct {
    const char *domain;
    enum vote_kind kind;
} vote_domains[] = {
    {"math", VOTE_NUMBER},   {"gsm8k", VOTE_NUMBER}, {"arc", VOTE_CHOICE},
    {"choice", VOTE_CHOICE}, {"mc", VOTE_CHOICE},
};

/* The answer one response gives: a number, a choice index or a normalised
 * text; `valid` false when it gives none. */
struct ballot {
    bool valid;
    double number;
    int choice;
    char *text; /* malloc'd, VOTE_TEXT only */
};

static enum vote_kind kind_of(const char *domain)
{
    for (size_t i = 0; domain && i < sizeof vote_domains / sizeof vote_domains[0]; i++)
        if (strcmp(domain, vote_domains[i].domain) == 0)
            return vote_domains[i].kind;
    return VOTE_TEXT;
}

static int read_number(const char *answer, struct ballot *b)
{
    char *num = NULL;
    uint32_t rule = 0;
    int rc = loco_number_extract(answer, LOCO_NUMBER_ALL, &num, &rule);
    if (rc == LOCO_OK && rule != 0)
        b->valid = loco_number_parse(num, &b->number) == LOCO_OK;
    free(num);
    return rc;
}

static int read_choice(const char *answer, struct ballot *b)
{
    static const struct loco_mc_choice labels[] = {
        {"A", ""}, {"B", ""}, {"C", ""}, {"D", ""}, {"E", ""},
    };
    int i = loco_mc_extract(answer, labels, sizeof labels / sizeof labels[0]);
    if (i == LOCO_ERR_NOT_FOUND)
        return LOCO_OK; /* no label: no vote */
    if (i < 0)
        return i;
    b->valid = true;
    b->choice = i;
    return LOCO_OK;
}

static int read_text(const char *answer, struct ballot *b)
{
    b->text = loco_score_normalise(answer, LOCO_NORM_CASE | LOCO_NORM_WHITESPACE);
    if (!b->text)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    b->valid = b->text[0] != '\0';
    return LOCO_OK;
}

static int read_ballot(enum vote_kind kind, const char *answer, struct ballot *b)
{
    if (!answer)
        return LOCO_OK;
    return kind == VOTE_NUMBER   ? read_number(answer, b)
           : kind == VOTE_CHOICE ? read_choice(answer, b)
                                 : read_text(answer, b);
}

static bool same(enum vote_kind kind, const struct ballot *a, const struct ballot *b)
{
    if (!a->valid || !b->valid)
        return false;
    return kind == VOTE_NUMBER   ? loco_number_equal(a->number, b->number, LOCO_NUMBER_REL_TOL)
           : kind == VOTE_CHOICE ? a->choice == b->choice
                                 : strcmp(a->text, b->text) == 0;
}

/* The earliest ballot with the most votes (a tie goes to the group whose
 * first answer comes first); *votes 0 when none is valid. */
static int32_t count_votes(enum vote_kind kind, const struct ballot *b, int32_t k, int32_t *votes)
{
    int32_t best = 0;
    *votes = 0;
    for (int32_t i = 0; i < k; i++) {
        int32_t n = 0;
        for (int32_t j = 0; j < k; j++)
            n += same(kind, &b[i], &b[j]);
        if (n > *votes) {
            *votes = n;
            best = i;
        }
    }
    return best;
}

/* Read the k answers' ballots into a malloc'd array (*out; free with
 * free_ballots). */
static int read_ballots(enum vote_kind kind, const char *const *answers, int32_t k,
                        struct ballot **out)
{
    struct ballot *b = *out = calloc((size_t)k, sizeof *b);
    if (!b)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    int rc = LOCO_OK;
    for (int32_t i = 0; i < k && rc == LOCO_OK; i++)
        rc = read_ballot(kind, answers[i], &b[i]);
    return rc;
}

static void free_ballots(struct ballot *b, int32_t k)
{
    for (int32_t i = 0; b && i < k; i++)
        free(b[i].text);
    free(b);
}

int loco_vote(const char *domain, const char *const *answers, int32_t k, int32_t *winner,
              double *share)
{
    if (!answers || k < 1 || !winner || !share)
        return loco_error_set(LOCO_ERR_INVALID, "vote: answers (k >= 1), winner and share are "
                              "required");
    *winner = 0;
    *share = 0.0;
    enum vote_kind kind = kind_of(domain);
    struct ballot *b = NULL;
    int rc = read_ballots(kind, answers, k, &b);
    if (rc == LOCO_OK) {
        int32_t votes = 0;
        *winner = count_votes(kind, b, k, &votes);
        *share = (double)votes / (double)k;
    }
    free_ballots(b, k);
    return rc;
}

const char *loco_vote_rule(const char *domain)
{
    enum vote_kind kind = kind_of(domain);
    return kind == VOTE_NUMBER ? "number" : kind == VOTE_CHOICE ? "choice" : "text";
}

int loco_vote_counts(const char *domain, const char *const *answers, int32_t k, int32_t *votes)
{
    if (!answers || k < 1 || !votes)
        return loco_error_set(LOCO_ERR_INVALID, "vote: answers (k >= 1) and votes are required");
    enum vote_kind kind = kind_of(domain);
    struct ballot *b = NULL;
    int rc = read_ballots(kind, answers, k, &b);
    for (int32_t i = 0; i < k; i++) {
        votes[i] = 0;
        for (int32_t j = 0; rc == LOCO_OK && j < k; j++)
            votes[i] += same(kind, &b[i], &b[j]);
    }
    free_ballots(b, k);
    return rc;
}
