/*
 * strategy.c - naming and parsing strategies, and the re2 prompt
 * (see loco/strategy.h and docs/strategies.md).
 */
#include "loco/strategy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "loco/core.h"

static const struct {
    const char *name;
    enum loco_strategy_kind kind;
} known[] = {
    {"plain", LOCO_STRATEGY_PLAIN},       {"re2", LOCO_STRATEGY_RE2},
    {"calc", LOCO_STRATEGY_CALC},         {"re2+calc", LOCO_STRATEGY_RE2_CALC},
    {"calc+re2", LOCO_STRATEGY_RE2_CALC},
};

#define KNOWN_LIST "plain, re2, calc, re2+calc, sc:K, usc:K, ensemble, ensemble:N"

/* "sc:K" / "usc:K" / "ensemble:N" after the name's prefix of n bytes: K
 * in 2..LOCO_GENERATE_MAX_SLOTS, digits only; `what` says what K counts. */
static int parse_k(const char *s, size_t n, const char *what, struct loco_strategy *out)
{
    const char *k = s + n;
    int32_t v = 0;
    bool ok = k[0] == ':' && k[1] >= '0' && k[1] <= '9';
    for (k++; ok && *k; k++) {
        ok = *k >= '0' && *k <= '9' && v <= LOCO_GENERATE_MAX_SLOTS;
        v = 10 * v + (*k - '0');
    }
    if (!ok || v < 2 || v > LOCO_GENERATE_MAX_SLOTS)
        return loco_error_set(LOCO_ERR_INVALID,
                              "strategy '%s': write %.*s:%s from 2 to %d, e.g. %.*s:3 "
                              "(known: " KNOWN_LIST ")",
                              s, (int)n, s, what,
                              LOCO_GENERATE_MAX_SLOTS, (int)n, s);
    out->k = v;
    return LOCO_OK;
}

int loco_strategy_parse(const char *s, struct loco_strategy *out)
{
    *out = (struct loco_strategy){.kind = LOCO_STRATEGY_PLAIN, .k = 1};
    if (!s || !*s)
        return loco_error_set(LOCO_ERR_INVALID, "no strategy given (known: " KNOWN_LIST ")");
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(s, known[i].name)) {
            out->kind = known[i].kind;
            return LOCO_OK;
        }
    if (!strncmp(s, "ensemble", 8) && (s[8] == '\0' || s[8] == ':')) {
        /* ensemble:N: the N best-ranked members at most */
        int rc = s[8] ? parse_k(s, 8, "N with N members", out) : LOCO_OK;
        if (rc == LOCO_OK) {
            out->kind = LOCO_STRATEGY_ENSEMBLE;
            out->k = s[8] ? out->k : 0; /* 0: every member */
        }
        return rc;
    }
    bool usc = !strncmp(s, "usc", 3);
    if (!strncmp(s, "sc", 2) || usc) {
        size_t n = usc ? 3 : 2;
        if (s[n] != ':' && s[n] != '\0')
            return loco_error_set(LOCO_ERR_INVALID, "unknown strategy '%s' (known: " KNOWN_LIST ")",
                                  s);
        int rc = parse_k(s, n, "K with K answers", out);
        if (rc == LOCO_OK)
            out->kind = usc ? LOCO_STRATEGY_USC : LOCO_STRATEGY_SC;
        return rc;
    }
    return loco_error_set(LOCO_ERR_INVALID, "unknown strategy '%s' (known: " KNOWN_LIST ")", s);
}

const char *loco_strategy_name(const struct loco_strategy *st, char *buf, size_t cap)
{
    static const char *names[] = {"plain", "re2", "calc", "re2+calc", "sc", "usc", "ensemble"};
    unsigned kind = (unsigned)st->kind;
    const char *name = kind < sizeof names / sizeof names[0] ? names[kind] : "?";
    if (st->kind == LOCO_STRATEGY_SC || st->kind == LOCO_STRATEGY_USC ||
        (st->kind == LOCO_STRATEGY_ENSEMBLE && st->k > 0))
        snprintf(buf, cap, "%s:%d", name, st->k);
    else
        snprintf(buf, cap, "%s", name);
    return buf;
}

bool loco_strategy_rereads(const struct loco_strategy *st)
{
    return st->kind == LOCO_STRATEGY_RE2 || st->kind == LOCO_STRATEGY_RE2_CALC;
}

bool loco_strategy_calculates(const struct loco_strategy *st)
{
    return st->kind == LOCO_STRATEGY_CALC || st->kind == LOCO_STRATEGY_RE2_CALC;
}

bool loco_strategy_votes(const struct loco_strategy *st)
{
    return st->kind == LOCO_STRATEGY_SC || st->kind == LOCO_STRATEGY_USC ||
           st->kind == LOCO_STRATEGY_ENSEMBLE;
}

bool loco_vote_confident(double share, double min_share)
{
    return share + 1e-9 >= min_share;
}

int loco_vote_below_parse(const char *s, enum loco_vote_below *out)
{
    if (s && !strcmp(s, "abstain")) {
        *out = LOCO_VOTE_ABSTAIN;
        return LOCO_OK;
    }
    if (s && !strcmp(s, "fallback")) {
        *out = LOCO_VOTE_FALLBACK;
        return LOCO_OK;
    }
    return loco_error_set(LOCO_ERR_INVALID, "'%s': below the threshold an answer can abstain "
                          "or fallback (write one of those)", s ? s : "");
}

const char *loco_vote_below_name(enum loco_vote_below b)
{
    return b == LOCO_VOTE_FALLBACK ? "fallback" : "abstain";
}

/* Xu et al. (2023), "Re-Reading Improves Reasoning in Large Language
 * Models" (arXiv:2309.06275), the RE2 input: "Q: {Input Query}\nRead the
 * question again: {Input Query}". */
char *loco_strategy_re2_prompt(const char *question)
{
    if (!question)
        return loco_error_set(LOCO_ERR_INVALID, "re2: no question"), NULL;
    return loco_str_printf("Q: %s\nRead the question again: %s", question, question);
}
