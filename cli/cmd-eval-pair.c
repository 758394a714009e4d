/*
 * cmd-eval-pair.c - `loco eval --pair A.json:SIDE B.json:SIDE`: one side of
 * a stored record against one side of another, item by item, with the
 * harness's paired statistics. Nothing is generated.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-eval-pair.h"
#include "commands.h"
#include "loco/eval.h"
#include "loco/report.h"

struct side_arg {
    char path[4096];
    enum loco_eval_side side;
    char *text; /* the record (malloc'd) */
    char what[256];
};

/* "PATH:base" or "PATH:adapter"; false with a message on stderr. */
static bool parse_side(const char *arg, struct side_arg *s)
{
    const char *colon = strrchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : 0;
    if (!colon || len == 0 || len >= sizeof s->path ||
        (strcmp(colon + 1, "base") && strcmp(colon + 1, "adapter"))) {
        fprintf(stderr,
                "loco eval --pair: '%s': give RECORD.json:base or RECORD.json:adapter "
                "(a strategy record's plain answers are its base side, the "
                "strategy's its adapter side)\n",
                arg);
        return false;
    }
    memcpy(s->path, arg, len);
    s->path[len] = '\0';
    s->side = strcmp(colon + 1, "adapter") == 0 ? LOCO_EVAL_SIDE_ADAPTER : LOCO_EVAL_SIDE_BASE;
    return true;
}

/* What answered on this side, for the table: "base model", "math", "math
 * plain", "math with re2", and the record's date. */
static void describe(struct side_arg *s)
{
    cJSON *r = cJSON_Parse(s->text);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "adapter");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(a, "name");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r, "settings"), "strategy");
    const cJSON *date = cJSON_GetObjectItemCaseSensitive(r, "date");
    const char *n = cJSON_IsString(name) ? name->valuestring : "the adapter";
    const char *d = cJSON_IsString(date) ? date->valuestring : "undated";
    bool strategy = cJSON_IsString(st) && st->valuestring[0] && strcmp(st->valuestring, "plain");
    if (strategy)
        snprintf(s->what, sizeof s->what, "%s %s%s (%s)", n,
                 s->side == LOCO_EVAL_SIDE_ADAPTER ? "with " : "plain",
                 s->side == LOCO_EVAL_SIDE_ADAPTER ? st->valuestring : "", d);
    else
        snprintf(s->what, sizeof s->what, "%s (%s)",
                 s->side == LOCO_EVAL_SIDE_ADAPTER ? n : "base model", d);
    cJSON_Delete(r);
}

/* The counts, then the two scores with their intervals. */
static void print_scores(const struct loco_eval_pair *p, size_t n, double first,
                         struct loco_ci first_ci, double second, struct loco_ci second_ci)
{
    printf("items: %zu scored in the first, %zu in the second, %zu paired", p->n_first, p->n_second,
           n);
    if (p->n_dropped)
        printf(" (%zu more left out: unrated, or flagged for contamination in a decontaminated "
               "run)",
               p->n_dropped);
    printf("\nfirst  %.3f [%.3f, %.3f]\nsecond %.3f [%.3f, %.3f]\n", first, first_ci.lo,
           first_ci.hi, second, second_ci.lo, second_ci.hi);
}

static void print_text(const struct side_arg *a, const struct side_arg *b,
                       const struct loco_eval_pair *p)
{
    printf("%s: %s against %s\n", p->bench, b->what, a->what);
    printf("  first:  %s, %s side\n  second: %s, %s side\n", a->path,
           a->side == LOCO_EVAL_SIDE_ADAPTER ? "adapter" : "base", b->path,
           b->side == LOCO_EVAL_SIDE_ADAPTER ? "adapter" : "base");
    if (p->binary) {
        const struct loco_binary_paired *s = &p->bin;
        print_scores(p, s->n, s->base_acc, s->base_ci, s->adapter_acc, s->adapter_ci);
        printf("diff %+.3f [%+.3f, %+.3f], exact McNemar p = %.3g (both right %u, first only "
               "%u, second only %u, both wrong %u)\n",
               s->diff, s->diff_ci.lo, s->diff_ci.hi, s->p_value, s->n11, s->b, s->c, s->n00);
    } else {
        const struct loco_continuous_paired *s = &p->cont;
        print_scores(p, s->n, s->base_mean, s->base_ci, s->adapter_mean, s->adapter_ci);
        printf("diff %+.3f [%+.3f, %+.3f] (paired bootstrap), Wilcoxon p = %.3g\n", s->diff,
               s->diff_ci.lo, s->diff_ci.hi, s->p_value);
    }
}

/* The comparison's figures, whichever test made them. */
static void add_figures(cJSON *o, const char *test, double n, double first, double second,
                        double diff, struct loco_ci ci, double p)
{
    cJSON_AddStringToObject(o, "test", test);
    cJSON_AddNumberToObject(o, "n_paired", n);
    cJSON_AddNumberToObject(o, "first_score", first);
    cJSON_AddNumberToObject(o, "second_score", second);
    cJSON_AddNumberToObject(o, "diff", diff);
    cJSON *a = cJSON_AddArrayToObject(o, "diff_ci95");
    cJSON_AddItemToArray(a, cJSON_CreateNumber(ci.lo));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(ci.hi));
    cJSON_AddNumberToObject(o, "p_value", p);
}

static void print_json(const struct side_arg *a, const struct side_arg *b,
                       const struct loco_eval_pair *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "benchmark", p->bench);
    const struct side_arg *sides[2] = {a, b};
    const char *keys[2] = {"first", "second"};
    for (int i = 0; i < 2; i++) {
        cJSON *s = cJSON_AddObjectToObject(o, keys[i]);
        cJSON_AddStringToObject(s, "record", sides[i]->path);
        cJSON_AddStringToObject(s, "side",
                                sides[i]->side == LOCO_EVAL_SIDE_ADAPTER ? "adapter" : "base");
        cJSON_AddStringToObject(s, "answered_by", sides[i]->what);
        cJSON_AddNumberToObject(s, "n_scored", (double)(i ? p->n_second : p->n_first));
    }
    cJSON_AddNumberToObject(o, "n_left_out", (double)p->n_dropped);
    if (p->binary) {
        const struct loco_binary_paired *s = &p->bin;
        add_figures(o, "exact McNemar", s->n, s->base_acc, s->adapter_acc, s->diff, s->diff_ci,
                    s->p_value);
        cJSON *pairs = cJSON_AddObjectToObject(o, "pairs");
        cJSON_AddNumberToObject(pairs, "both_right", s->n11);
        cJSON_AddNumberToObject(pairs, "first_only", s->b);
        cJSON_AddNumberToObject(pairs, "second_only", s->c);
        cJSON_AddNumberToObject(pairs, "both_wrong", s->n00);
    } else {
        const struct loco_continuous_paired *s = &p->cont;
        add_figures(o, "Wilcoxon signed-rank", (double)s->n, s->base_mean, s->adapter_mean, s->diff,
                    s->diff_ci, s->p_value);
    }
    char *text = cJSON_Print(o);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}

int eval_pair(const char *first, const char *second, const char *bench,
              const struct loco_stats_params *stats, bool json)
{
    struct side_arg a = {0}, b = {0};
    if (!parse_side(first, &a) || !parse_side(second, &b))
        return 2;
    int rc = 0;
    if (loco_report_read_file(a.path, &a.text, NULL) != LOCO_OK ||
        loco_report_read_file(b.path, &b.text, NULL) != LOCO_OK)
        rc = cli_fail("cannot read the record");
    struct loco_eval_pair p;
    if (!rc && loco_eval_pair(a.text, a.side, b.text, b.side, bench, stats, &p) != LOCO_OK)
        rc = cli_fail("cannot pair the records");
    if (!rc) {
        describe(&a);
        describe(&b);
        if (json)
            print_json(&a, &b, &p);
        else
            print_text(&a, &b, &p);
    }
    free(a.text);
    free(b.text);
    return rc;
}
