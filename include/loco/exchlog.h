/*
 * loco/exchlog.h - the exchange log: every question that ask, chat or the
 * server answers, with the router's decision, the adapter that answered,
 * the answer and its timings, and the judgements users give on them
 * (`loco feedback`). The learned router reads the judgements back.
 *
 * The log is an SQLite file: $LOCO_LOG_DB, else
 * $XDG_DATA_HOME/locollm/logs.sqlite, else ~/.local/share/locollm/logs.sqlite.
 * Several processes may log at once: writes wait for each other (WAL mode,
 * busy timeout), and each exchange is committed on its own. A file that is
 * not a LocoLLM exchange log (another SQLite database, or no database at
 * all) is refused with a message naming it; the log never writes into it.
 *
 * Two tables:
 *   exchanges  id, time (UTC, ISO 8601), command, query, router, domain,
 *              adapter ("" for the base model), confidence, probabilities
 *              (JSON object), reason, answer, model, model_sha256, token
 *              counts and timings (route, first token, total; ms)
 *   feedback   id, exchange, time, verdict ("good" or "bad"), domain (the
 *              correct domain, or NULL)
 */
#ifndef LOCO_EXCHLOG_H
#define LOCO_EXCHLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/router.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_EXCHLOG_FILE "logs.sqlite"

struct loco_exchlog; /* opaque */

/* ---- the file -------------------------------------------------------------- */

/* The log's path (see the top of this file) into buf. */
int loco_exchlog_path(char *buf, size_t cap);
/* True when $LOCO_NO_LOG is set to anything but "" or "0". */
bool loco_exchlog_disabled(void);

/* Open the log at `path` (NULL: loco_exchlog_path(), creating its folder),
 * creating the file and its tables when new. Close with loco_exchlog_close. */
int loco_exchlog_open(const char *path, struct loco_exchlog **out);
void loco_exchlog_close(struct loco_exchlog *log);
/* The file it writes; valid while the log is open. */
const char *loco_exchlog_file(const struct loco_exchlog *log);

/* ---- writing ---------------------------------------------------------------- */

/* One exchange to log. Every pointer is borrowed for the call only; NULL
 * strings are stored as "" (answer: NULL, "not answered yet"). */
struct loco_exchange {
    const char *command; /* "ask", "chat", "server" */
    const char *query;
    const struct loco_route_decision *route; /* NULL when not routed */
    const char *adapter;      /* what answered, "NAME[:scale],..."; "" for the base model */
    const char *answer;       /* NULL until the answer is known */
    const char *model;        /* the base model's path */
    const char *model_sha256; /* "" when not known */
    int32_t n_prompt, n_generated;
    double first_token_ms; /* from the question to the first token; < 0: not measured */
    double total_ms;       /* from the question to the last token */
};

/* Log one exchange; its id into *id_out (may be NULL). Committed before
 * returning. */
int loco_exchlog_add(struct loco_exchlog *log, const struct loco_exchange *e, int64_t *id_out);
/* Fill in what is known once the answer is done: e's adapter, answer, token
 * counts and timings replace those of exchange `id` (the query and the
 * route stay). LOCO_ERR_NOT_FOUND for an unknown id. */
int loco_exchlog_finish(struct loco_exchlog *log, int64_t id, const struct loco_exchange *e);

/* Record a judgement on exchange `id`: good (the routed domain was right)
 * or bad (it was wrong); `domain` (may be NULL) names the right one. The
 * caller checks that `domain` is a registry domain or "base". Refused with
 * a message: an unknown id (LOCO_ERR_NOT_FOUND), "good" with another domain
 * than the routed one, "bad" naming the routed domain (LOCO_ERR_INVALID).
 * An exchange may be judged again; the latest judgement counts. */
int loco_exchlog_feedback(struct loco_exchlog *log, int64_t id, bool good, const char *domain);

/* ---- reading ---------------------------------------------------------------- */

struct loco_feedback {
    int64_t id;
    char time[32];
    bool good;
    char domain[LOCO_ROUTE_NAME_MAX]; /* the correct domain, "" when not given */
};

/* One logged exchange as read back. The strings point into `mem`, one block
 * owned by the record: free it with loco_exchange_record_free(). */
struct loco_exchange_record {
    int64_t id;
    char time[32]; /* UTC, "2026-03-01T12:00:00Z" */
    const char *command, *query;
    const char *router, *domain; /* "" when not routed */
    const char *adapter;         /* "" for the base model */
    const char *probabilities;   /* JSON object; "" when not routed */
    const char *reason, *answer; /* answer "" until known */
    const char *model, *model_sha256;
    bool answered;
    double confidence; /* NaN when not routed */
    int32_t n_prompt, n_generated;
    double route_ms, first_token_ms, total_ms; /* NaN when not measured */
    size_t n_feedback; /* filled by loco_exchlog_get only, oldest first */
    struct loco_feedback *feedback;
    char *mem;
};
void loco_exchange_record_free(struct loco_exchange_record *r);

/* Which exchanges loco_exchlog_list returns: NULL or "" for any. */
struct loco_exchlog_filter {
    const char *domain;  /* routed to this domain ("base" included) */
    const char *adapter; /* answered by this adapter; "base" for the base model */
    const char *query;   /* the query contains this text (ASCII case-insensitive) */
    size_t limit;        /* at most this many; 0: 20 */
};

/* The most recent exchanges that pass the filter, newest first, into a
 * malloc'd array *out[*n]; free with loco_exchange_records_free(). */
int loco_exchlog_list(struct loco_exchlog *log, const struct loco_exchlog_filter *f,
                      struct loco_exchange_record **out, size_t *n);
void loco_exchange_records_free(struct loco_exchange_record *r, size_t n);
/* Exchange `id` with its feedback; LOCO_ERR_NOT_FOUND (with a message) for
 * an unknown id. Free with loco_exchange_record_free(). */
int loco_exchlog_get(struct loco_exchlog *log, int64_t id, struct loco_exchange_record *out);
/* Number of exchanges, or of feedback records (negative status on failure). */
int64_t loco_exchlog_count(struct loco_exchlog *log, bool feedback);

/* ---- what the learned router reads -------------------------------------- */

/* A judged exchange: its query, where it was routed and the latest
 * judgement on it. */
struct loco_judged {
    char *query; /* malloc'd */
    char routed[LOCO_ROUTE_NAME_MAX];    /* the routed domain; "" when not routed */
    bool good;
    char corrected[LOCO_ROUTE_NAME_MAX]; /* the domain the user gave; "" none */
};

/* The last `max` judged exchanges (one per exchange, its latest judgement),
 * oldest first, into a malloc'd *out[*n]; free with loco_judged_free(). */
int loco_exchlog_judged(struct loco_exchlog *log, size_t max, struct loco_judged **out,
                        size_t *n);
void loco_judged_free(struct loco_judged *j, size_t n);

/* ---- the learned router -------------------------------------------------- */

/* The learned router ("learned", src/router/learned.c) starts from the
 * keyword router's scores and adds, for every label (the domains and
 * "base"), learned weights of the query's words: a multinomial logistic
 * regression over bag-of-words features whose offset is the keyword
 * router's logits, fitted at init on the judged exchanges of the log. A
 * judgement gives a label: "good" the routed domain, --domain D the domain
 * D, "bad" alone a negative example for the routed domain. With no
 * judgements it decides as the keyword router does. */
#define LOCO_LEARNED_MAX_EXAMPLES 5000 /* the latest judgements it reads */
#define LOCO_LEARNED_BUCKETS 32768      /* hashed word features */
#define LOCO_LEARNED_MAX_WORDS 256      /* words of a query it reads */
#define LOCO_LEARNED_EPOCHS 20
#define LOCO_LEARNED_LR 0.5
#define LOCO_LEARNED_L2 1e-4

/* Replay labelled queries as users' feedback: route each item with `r`,
 * log the exchange (command "replay", no answer) and judge it against its
 * label: "good" when the router was right, else "bad" with the label as
 * the right domain. *n_good (may be NULL) counts the good ones. */
int loco_learned_replay(struct loco_exchlog *log, struct loco_router *r,
                        const struct loco_route_item *items, size_t n, size_t *n_good);

#ifdef __cplusplus
}
#endif
#endif
