/*
 * cmd-eval-rescore.c - `loco eval --rescore RECORD [--dry-run] [--verbose]`:
 * a stored record's answers scored again by the current scorers, its
 * statistics and verdicts recomputed, and what changed printed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd-eval-rescore.h"
#include "commands.h"
#include "loco/fileio.h"
#include "loco/report.h"

static void print_bench(const struct loco_eval_rescore_bench *b)
{
    printf("%s (%zu items): %s\n", b->name, b->n_items, b->how);
    printf("  item scores changed: base %zu, adapter %zu (details: base %zu, adapter %zu)\n",
           b->n_changed[0], b->n_changed[1], b->n_detail_changed[0], b->n_detail_changed[1]);
    printf("  base %.4f -> %.4f, adapter %.4f -> %.4f, diff %+.4f -> %+.4f, p %.4g -> %.4g\n",
           b->old_base, b->new_base, b->old_adapter, b->new_adapter, b->old_diff, b->new_diff,
           b->old_p, b->new_p);
    printf("  verdict %s -> %s%s\n", b->old_verdict, b->new_verdict,
           strcmp(b->old_verdict, b->new_verdict) ? "  (CHANGED)" : "");
}

static void print_changes(const struct loco_eval_rescore *r, size_t bench)
{
    for (size_t i = 0; i < r->n_changes; i++) {
        const struct loco_eval_rescore_change *c = &r->changes[i];
        if (c->bench != bench)
            continue;
        printf("    %s %-7s %g -> %g  [%s] -> [%s]\n", c->id, c->side ? "adapter" : "base",
               c->old_score, c->new_score, c->old_detail, c->new_detail);
    }
}

int eval_rescore(const char *path, const struct loco_eval_params *p, const char *const *files,
                 size_t n_files, bool dry_run, bool verbose)
{
    char *text = NULL, *out = NULL, date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    if (loco_report_read_file(path, &text, NULL) != LOCO_OK)
        return cli_fail("cannot read the record");
    struct loco_eval_rescore res;
    int rc = loco_eval_record_rescore(text, p, files, n_files, date, &out, &res);
    free(text);
    if (rc != LOCO_OK)
        return cli_fail("cannot re-score the record");
    printf("%s%s\n", path, dry_run ? " (dry run: nothing written)" : "");
    for (size_t b = 0; b < res.n_bench; b++) {
        print_bench(&res.bench[b]);
        if (verbose)
            print_changes(&res, b);
    }
    int status = 0;
    if (!dry_run && loco_file_write_atomic(path, out, strlen(out)) != LOCO_OK)
        status = cli_fail("cannot write the record");
    else if (!dry_run && loco_report_write(path) != LOCO_OK)
        status = cli_fail("cannot write the reports");
    else if (!dry_run)
        printf("record and reports rewritten\n");
    loco_eval_rescore_free(&res);
    free(out);
    return status;
}
