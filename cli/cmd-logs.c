/*
 * cmd-logs.c - `loco logs`: the exchanges ask and chat logged, newest first,
 * with their routing decisions; `loco logs ID`: one in full, with the
 * feedback given on it.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "loco/exchlog.h"

#define BRIEF_CHARS 100 /* query and answer in the list, at most */

static const char logs_usage[] =
    "usage: loco logs [-n N] [--domain D] [--adapter A] [-q TEXT] [--json]\n"
    "       loco logs ID [--json]\n\n"
    "Lists the exchanges that loco ask (and chat) logged, newest first: the id, time,\n"
    "router, chosen domain, adapter and confidence, the query and the answer (cut in\n"
    "the list, whole in --json). With an ID, that exchange in full with its feedback\n"
    "(loco feedback ID good|bad).\n\n"
    "options:\n";

static const char logs_epilog[] =
    "\nThe log is $LOCO_LOG_DB, else $XDG_DATA_HOME/locollm/logs.sqlite, else\n"
    "~/.local/share/locollm/logs.sqlite.\n";

/* Open the log if it exists: 0 and *log, 1 when there is none yet (a
 * message on stderr), -1 on failure (printed). */
static int open_existing(struct loco_exchlog **log, char *path, size_t cap)
{
    *log = NULL;
    if (loco_exchlog_path(path, cap) != LOCO_OK)
        return -cli_fail("cannot find the exchange log");
    if (access(path, F_OK) != 0) {
        cli_errorf("no exchanges logged yet (%s)", path);
        return 1;
    }
    return loco_exchlog_open(path, log) == LOCO_OK ? 0 : -cli_fail("cannot open the log");
}

/* s on one line (whitespace runs as one space), cut to `max` bytes at a
 * character boundary with "..." when cut. */
static const char *one_line(const char *s, size_t max, char *buf, size_t cap)
{
    size_t n = 0;
    bool space = false, cut = false;
    for (const unsigned char *p = (const unsigned char *)s; *p && !cut; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
            space = n > 0;
            continue;
        }
        if (space && n + 1 < cap)
            buf[n++] = ' ';
        space = false;
        cut = n >= max || n + 4 >= cap;
        if (!cut)
            buf[n++] = (char)*p;
    }
    while (cut && n > 0 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
        n--; /* a continuation byte: drop the partial character */
    if (cut && n > 0 && (unsigned char)buf[n - 1] >= 0xc0)
        n--;
    buf[n] = '\0';
    if (cut)
        snprintf(buf + n, cap - n, "...");
    return buf;
}

static void print_route(const struct loco_exchange_record *r)
{
    const char *adapter = r->adapter[0] ? r->adapter : "base model";
    if (r->router[0])
        printf("%s -> %s, %s, confidence %.2f", r->router, r->domain, adapter, r->confidence);
    else
        printf("not routed, %s", adapter);
}

static void print_brief(const struct loco_exchange_record *r)
{
    char buf[4 * BRIEF_CHARS];
    printf("#%lld  %s  %s  ", (long long)r->id, r->time, r->command);
    print_route(r);
    printf("\n  Q: %s\n", one_line(r->query, BRIEF_CHARS, buf, sizeof buf));
    printf("  A: %s\n",
           r->answered ? one_line(r->answer, BRIEF_CHARS, buf, sizeof buf) : "(no answer)");
}

static void print_ms(const char *what, double ms, bool first)
{
    if (!isnan(ms))
        printf("%s%s %.1f ms", first ? "" : ", ", what, ms);
}

/* {"math":0.93,...} as "math 0.930, ..." */
static void print_probabilities(const char *json)
{
    cJSON *p = cJSON_Parse(json);
    printf("probabilities:");
    for (const cJSON *it = p ? p->child : NULL; it; it = it->next)
        printf(" %s %.3f%s", it->string ? it->string : "?", it->valuedouble, it->next ? "," : "");
    printf("\n");
    cJSON_Delete(p);
}

static void print_full(const struct loco_exchange_record *r)
{
    printf("exchange #%lld\ntime:        %s\ncommand:     %s\nmodel:       %s%s%s%s\nroute:       ",
           (long long)r->id, r->time, r->command, r->model, r->model_sha256[0] ? " (sha256 " : "",
           r->model_sha256, r->model_sha256[0] ? ")" : "");
    print_route(r);
    printf("\n");
    if (r->router[0]) {
        printf("reason:      %s\n", r->reason);
        print_probabilities(r->probabilities);
    }
    printf("tokens:      %d prompt, %d generated\ntimings:     ", r->n_prompt, r->n_generated);
    print_ms("route", r->route_ms, true);
    print_ms("first token", r->first_token_ms, isnan(r->route_ms));
    print_ms("total", r->total_ms, isnan(r->route_ms) && isnan(r->first_token_ms));
    printf("\nfeedback:    %s\n", r->n_feedback ? "" : "(none; loco feedback ID good|bad)");
    for (size_t i = 0; i < r->n_feedback; i++)
        printf("  %s %s%s%s\n", r->feedback[i].time, r->feedback[i].good ? "good" : "bad",
               r->feedback[i].domain[0] ? ", right domain: " : "", r->feedback[i].domain);
    printf("\nquery:\n%s\n\nanswer:\n%s\n", r->query, r->answered ? r->answer : "(no answer)");
}

static void add_ms(cJSON *j, const char *name, double ms)
{
    if (isnan(ms))
        cJSON_AddNullToObject(j, name);
    else
        cJSON_AddNumberToObject(j, name, ms);
}

static void add_feedback(cJSON *j, const struct loco_exchange_record *r)
{
    cJSON *a = cJSON_AddArrayToObject(j, "feedback");
    for (size_t i = 0; i < r->n_feedback; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "time", r->feedback[i].time);
        cJSON_AddStringToObject(f, "verdict", r->feedback[i].good ? "good" : "bad");
        if (r->feedback[i].domain[0])
            cJSON_AddStringToObject(f, "domain", r->feedback[i].domain);
        else
            cJSON_AddNullToObject(f, "domain");
        cJSON_AddItemToArray(a, f);
    }
}

static cJSON *record_json(const struct loco_exchange_record *r, bool feedback)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)r->id);
    cJSON_AddStringToObject(j, "time", r->time);
    cJSON_AddStringToObject(j, "command", r->command);
    cJSON_AddStringToObject(j, "query", r->query);
    cJSON *route =
        r->router[0] ? cJSON_AddObjectToObject(j, "route") : cJSON_AddNullToObject(j, "route");
    if (r->router[0]) {
        cJSON_AddStringToObject(route, "router", r->router);
        cJSON_AddStringToObject(route, "domain", r->domain);
        cJSON_AddNumberToObject(route, "confidence", r->confidence);
        cJSON *p = cJSON_Parse(r->probabilities);
        cJSON_AddItemToObject(route, "probabilities", p ? p : cJSON_CreateNull());
        cJSON_AddStringToObject(route, "reason", r->reason);
        add_ms(route, "ms", r->route_ms);
    }
    if (r->adapter[0])
        cJSON_AddStringToObject(j, "adapter", r->adapter);
    else
        cJSON_AddNullToObject(j, "adapter");
    if (r->answered)
        cJSON_AddStringToObject(j, "answer", r->answer);
    else
        cJSON_AddNullToObject(j, "answer");
    cJSON_AddStringToObject(j, "model", r->model);
    cJSON_AddStringToObject(j, "model_sha256", r->model_sha256);
    cJSON *t = cJSON_AddObjectToObject(j, "tokens");
    cJSON_AddNumberToObject(t, "prompt", r->n_prompt);
    cJSON_AddNumberToObject(t, "generated", r->n_generated);
    cJSON *tm = cJSON_AddObjectToObject(j, "timings");
    add_ms(tm, "first_token_ms", r->first_token_ms);
    add_ms(tm, "total_ms", r->total_ms);
    if (feedback)
        add_feedback(j, r);
    return j;
}

static void print_json(cJSON *j)
{
    char *text = cJSON_Print(j);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(j);
}

static int show_one(int64_t id, bool json)
{
    char path[4096];
    struct loco_exchlog *log;
    int rc = open_existing(&log, path, sizeof path);
    if (rc)
        return rc < 0 ? 1 : (cli_errorf("no exchange #%lld", (long long)id), 1);
    struct loco_exchange_record r;
    int status = 0;
    if (loco_exchlog_get(log, id, &r) != LOCO_OK)
        status = cli_fail("cannot show the exchange");
    else if (json)
        print_json(record_json(&r, true));
    else
        print_full(&r);
    loco_exchange_record_free(&r);
    loco_exchlog_close(log);
    return status;
}

static int list(const struct loco_exchlog_filter *f, bool json)
{
    char path[4096];
    struct loco_exchlog *log;
    int rc = open_existing(&log, path, sizeof path);
    if (rc) {
        if (rc > 0 && json)
            puts("[]");
        return rc < 0 ? 1 : 0;
    }
    struct loco_exchange_record *r = NULL;
    size_t n = 0;
    int status = 0;
    if (loco_exchlog_list(log, f, &r, &n) != LOCO_OK) {
        status = cli_fail("cannot list the exchanges");
    } else if (json) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(a, record_json(&r[i], false));
        print_json(a);
    } else {
        for (size_t i = 0; i < n; i++)
            print_brief(&r[i]);
        if (n == 0)
            cli_errorf("no exchanges match (%s)", path);
    }
    loco_exchange_records_free(r, n);
    loco_exchlog_close(log);
    return status;
}

int cmd_logs(int argc, char **argv)
{
    struct loco_exchlog_filter f = {0};
    bool json = false;
    int limit = 20;
    struct cli_option opts[] = {
        CLI_OPT_INT('n', "limit", &limit, "N", 1, 1000000, "at most N exchanges (default 20)"),
        CLI_OPT_STRING(0, "domain", &f.domain, "D",
                       "routed to domain D (\"base\" for the base model)"),
        CLI_OPT_STRING(0, "adapter", &f.adapter, "A",
                       "answered by adapter A (\"base\" for the base model)"),
        CLI_OPT_STRING('q', "query", &f.query, "TEXT",
                       "the query contains TEXT (case-insensitive)"),
        CLI_OPT_FLAG(0, "json", &json, "machine-readable output"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"logs", logs_usage, logs_epilog, opts, 1, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (cli_opt_seen(opts, "limit"))
        f.limit = (size_t)limit;
    if (n_args == 0)
        return list(&f, json);
    int64_t id;
    if (!cli_opt_arg_id("logs", "the exchange id", argv[0], 1, INT64_MAX, &id))
        return 2;
    return show_one(id, json);
}
