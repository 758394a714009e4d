/*
 * cmd-feedback.c - `loco feedback ID good|bad [--domain D]`: judge a logged
 * exchange's routing. The learned router (--router learned) learns from
 * these judgements the next time it starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "loco/exchlog.h"
#include "loco/registry.h"

static const char feedback_usage[] =
    "usage: loco feedback ID good|bad [--domain D]\n"
    "       loco feedback ID --domain D\n\n"
    "Judges where exchange ID (see loco logs) was routed: good confirms the domain the\n"
    "router chose; bad says it was wrong; --domain D names the right one (a domain of\n"
    "the registry, or \"base\" for none; alone it means bad, or good when D is the\n"
    "routed domain). An exchange may be judged again: the latest judgement counts.\n"
    "The learned router (loco ask --router learned) learns from these.\n\n"
    "options:\n";

/* D must be a domain of the registry or "base"; prints why not. */
static bool known_domain(const char *registry, const char *domain)
{
    if (!strcmp(domain, LOCO_ROUTE_BASE))
        return true;
    struct loco_registry *reg = cli_registry_load(registry);
    if (!reg)
        return false;
    bool ok = loco_registry_find_domain(reg, domain) != NULL;
    if (!ok) {
        fprintf(stderr, "loco feedback: '%s' is not a domain of the registry; use one of:", domain);
        for (size_t i = 0; i < loco_registry_n_domains(reg); i++)
            fprintf(stderr, " %s", loco_registry_domain_at(reg, i)->name);
        fprintf(stderr, " base\n");
    }
    loco_registry_free(reg);
    return ok;
}

/* Record the judgement; verdict NULL: from --domain against the route. */
static int judge(int64_t id, const char *verdict, const char *domain)
{
    char path[4096];
    if (loco_exchlog_path(path, sizeof path) != LOCO_OK)
        return cli_fail("cannot find the exchange log");
    if (access(path, F_OK) != 0) {
        cli_errorf("no exchange #%lld: nothing logged yet (%s)", (long long)id, path);
        return 1;
    }
    struct loco_exchlog *log;
    if (loco_exchlog_open(path, &log) != LOCO_OK)
        return cli_fail("cannot open the exchange log");
    struct loco_exchange_record r;
    int status = 0;
    if (loco_exchlog_get(log, id, &r) != LOCO_OK) {
        status = cli_fail("feedback");
    } else {
        bool good = verdict ? !strcmp(verdict, "good") : !strcmp(domain, r.domain);
        if (loco_exchlog_feedback(log, id, good, domain) != LOCO_OK)
            status = cli_fail("feedback");
        else
            printf("#%lld (routed to %s): %s%s%s\n", (long long)id,
                   r.domain[0] ? r.domain : "nothing, not routed", good ? "good" : "bad",
                   domain ? ", right domain " : "", domain ? domain : "");
    }
    loco_exchange_record_free(&r);
    loco_exchlog_close(log);
    return status;
}

int cmd_feedback(int argc, char **argv)
{
    const char *id = NULL, *verdict = NULL, *domain = NULL, *registry = NULL;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "domain", &domain, "D", "the right domain"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_END(),
    };
    struct cli_command c = {"feedback", feedback_usage, NULL, opts, 2, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    id = n_args > 0 ? argv[0] : NULL;
    verdict = n_args > 1 ? argv[1] : NULL;
    if (!id || (!verdict && !domain)) {
        fprintf(stderr, "loco feedback: give an exchange id and good, bad or --domain D "
                        "(see loco feedback --help)");
        return 2;
    }
    if (verdict && strcmp(verdict, "good") && strcmp(verdict, "bad")) {
        cli_errorf("the verdict is good or bad, not '%s'", verdict);
        return 2;
    }
    int64_t n;
    if (!cli_opt_arg_id("feedback", "the exchange id", id, 1, INT64_MAX, &n))
        return 2;
    if (domain && !known_domain(registry, domain))
        return 2;
    return judge(n, verdict, domain);
}
