/*
 * cli-strategy.h - the strategies that choose among several answers
 * (sc:K, usc:K, ensemble), for ask and chat: the answers made on a context
 * of their own, the choice, the lines on stderr and the --json fields, and
 * what a voted answer does when its vote share is below the threshold
 * (docs/strategies.md).
 *
 * The ensemble's members come from the registry here (the library takes
 * them as adapter sets): the adapters that may serve the routed domain
 * under the serving rule (active ones and those that passed their gate;
 * with --serve-candidates the other candidates too), best-ranked first by
 * the leaderboard's rank on the domain's primary benchmark (adapters
 * without a score after them, in serving order). A domain with a single
 * such adapter gets the base model as a second voter, and the output says
 * so; a domain with none is answered by the base model alone.
 */
#ifndef LOCO_CLI_STRATEGY_H
#define LOCO_CLI_STRATEGY_H

#include <stdbool.h>

#include "cli-engine.h"
#include "cli-route.h"
#include "loco/strategy.h"

/* ---- the vote share's threshold ------------------------------------------ */

struct cli_vote_rule {
    double min_share; /* 0: every share passes */
    enum loco_vote_below below;
};

/* The --min-share and --below option rows for ask and chat (min_share a
 * double left at -1 when not given, below a string left NULL). */
#define CLI_VOTE_OPTIONS(min_share, below)                                                         \
    CLI_OPT_DOUBLE(0, "min-share", min_share, "X", 0, 1,                                           \
                   "sc, usc, ensemble: below this vote share (0-1) the answer\n"                   \
                   "abstains or falls back (default: the domain's min_vote_share)"),               \
        CLI_OPT_STRING(0, "below", below, "abstain|fallback",                                      \
                       "below the share: say \"I am not sure.\" (the best answer\n"                \
                       "on stderr) or answer with the base model, plain\n"                         \
                       "(default: the domain's below_threshold, else abstain)")

/* The rule of a request: min_share (>= 0) and below (not NULL) when given,
 * else the routed domain's registry settings (cr open, d not NULL), else
 * no threshold. A bad `below` is reported and gives false. */
bool cli_vote_rule_choose(double min_share, const char *below, const struct cli_router *cr,
                          const struct loco_route_decision *d, struct cli_vote_rule *rule);

/* ---- the ensemble's members ------------------------------------------------ */

/* The adapters of `reg` that may serve `domain` under `serve` (the serving
 * rule, loco_serving_order), best-ranked first: by the leaderboard's rank
 * on the domain's primary benchmark into ranks[] (0: unscored, after the
 * ranked ones, in serving order). Into out[cap] (borrowed from reg);
 * returns how many (at most cap). ask and chat take their members from it,
 * and loco eval --strategy ensemble (with the candidates). */
size_t cli_ensemble_order(const struct loco_registry *reg, enum loco_serve_mode serve,
                          const char *domain, const struct loco_registry_adapter **out,
                          int32_t *ranks, size_t cap);

/* ---- many answers, one chosen -------------------------------------------- */

/* Whether the strategy can answer this request: an ensemble needs a routed
 * domain (its adapters are the voters). When it cannot, says so on stderr
 * and makes *st plain. */
void cli_strategy_fit(struct loco_strategy *st, const struct loco_route_decision *d);

/* One request for cli_answer_many. */
struct cli_many_req {
    struct loco_strategy st;             /* sc:K, usc:K or ensemble */
    const struct cli_router *cr;         /* ensemble: the registry (NULL: not routed) */
    const struct loco_route_decision *d; /* the route, NULL when not routed */
    const char *question;                /* usc: the question the answers answer */
    const int32_t *toks;                 /* the prompt [n] */
    size_t n;
    struct loco_generate_params gen; /* the user's decoding (calc per strategy) */
    bool temperature_set;            /* --temperature given: kept as it is */
    struct cli_vote_rule rule;
};

/* The answers and the choice. */
struct cli_many {
    struct loco_strategy st;
    struct loco_generate_result *res; /* [k]; the chosen answer's text moved out when it answers */
    int32_t k, winner;
    int32_t *votes; /* [k] answers that agree with each (loco_vote_counts) */
    double share;   /* the chosen answer's votes / k */
    char **names;   /* ensemble: member i's name ("base model"), malloc'd [k] */
    int32_t *ranks; /* ensemble: its leaderboard rank (0: none) [k] */
    int32_t n_adapters; /* ensemble: members 0..n_adapters-1 are adapters, any other the base */
    bool with_base;     /* ensemble: the base model joined a one-adapter domain */
    struct cli_vote_rule rule;
    bool below;       /* the share is below rule.min_share */
    bool usc_unnamed; /* usc: the model named no answer; the first one was taken */
};

/* Answer q with its strategy on a context of its own (e's model; sc/usc on
 * e's adapters, shared by all samples; the ensemble on its members), choose,
 * and apply the threshold: the final answer goes to *r (the chosen one; "I
 * am not sure." when abstaining; the base model's plain answer when falling
 * back). sc, usc and ensemble sample at temperature 0.7, 0.7 and 0
 * (greedy) unless q->temperature_set. On failure prints nothing: the
 * caller reports. Free mn with cli_many_free. */
int cli_answer_many(struct cli_engine *e, const struct cli_many_req *q,
                    struct loco_generate_result *r, struct cli_many *mn);
/* The lines on stderr: the members (ensemble), the choice with its vote
 * share, and the threshold's verdict with the hint when abstaining. */
void cli_many_report(const struct cli_many *mn, const struct loco_generate_result *r);
/* The "vote" object of --json: winner, share, votes, answers, members
 * (ensemble: name, rank, share, answer), min_share, below_threshold,
 * confident, and abstained + hint or fallback when below. */
struct cJSON;
void cli_many_json(struct cJSON *obj, const struct cli_many *mn,
                   const struct loco_generate_result *r);
void cli_many_free(struct cli_many *mn);

#endif
