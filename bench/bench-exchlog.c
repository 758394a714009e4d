/*
 * bench-exchlog.c - the exchange log under a long run: N exchanges logged
 * and finished as `loco serve` logs them (one insert when a request
 * arrives, one update when its answer is done, each committed), printing
 * the process's resident memory and the exchanges per second every N/10,
 * so a reader can see whether memory levels off (SQLite's page cache
 * filling to its bound) or keeps growing (a leak). No model, no dataset.
 *
 * Usage: bench-exchlog [N] [FILE]   (default 50000 exchanges into a new
 * file in $TMPDIR or /tmp, removed at the end; FILE keeps the log)
 */
#include "loco/core.h"
#include "loco/exchlog.h"
#include "loco/generate.h"
#include "loco/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double rss_mib(void)
{
    return (double)loco_metrics_rss() / (1024.0 * 1024.0);
}

/* One served exchange: logged when it arrives, finished when answered. The
 * texts vary with i so that no two rows are the same. */
static int log_one(struct loco_exchlog *log, long i)
{
    char query[160], answer[200];
    snprintf(query, sizeof query,
             "Question %ld: what is the capital of country number %ld? One word, please.", i,
             i % 197);
    snprintf(answer, sizeof answer,
             "The capital of country %ld is a city; this answer is %ld tokens long and ends "
             "here.",
             i % 197, 8 + i % 7);
    struct loco_exchange e = {.command = "server",
                              .query = query,
                              .adapter = i % 3 ? "code" : "",
                              .model = "/models/default.gguf",
                              .model_sha256 = "b179c9523d0e",
                              .n_prompt = 24,
                              .first_token_ms = -1,
                              .total_ms = 0};
    int64_t id;
    int rc = loco_exchlog_add(log, &e, &id);
    if (rc != LOCO_OK)
        return rc;
    e.answer = answer;
    e.n_generated = (int32_t)(8 + i % 7);
    e.first_token_ms = 40.0;
    e.total_ms = 120.0;
    return loco_exchlog_finish(log, id, &e);
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long n = argc > 1 ? strtol(argv[1], &end, 10) : 50000;
    if ((argc > 1 && (*end || n < 10 || n > 100000000)) || argc > 3) {
        fprintf(stderr, "usage: bench-exchlog [N >= 10] [FILE]\n");
        return 2;
    }
    char path[512];
    bool temporary = argc < 3;
    if (temporary) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/bench-exchlog-XXXXXX.sqlite", dir && *dir ? dir : "/tmp");
        int fd = mkstemps(path, 7); /* a new file of our own: no stale log, no link */
        if (fd < 0) {
            perror("bench-exchlog: a temporary file");
            return 1;
        }
        close(fd);
    } else {
        snprintf(path, sizeof path, "%s", argv[2]);
    }
    struct loco_exchlog *log = NULL;
    if (loco_exchlog_open(path, &log) != LOCO_OK) {
        fprintf(stderr, "bench-exchlog: %s\n", loco_error_message());
        return 1;
    }
    printf("exchange log %s: %ld exchanges (insert + update, each committed)\n", path, n);
    printf("%12s %12s %14s\n", "exchanges", "RSS MiB", "exchanges/s");
    double start = rss_mib(), t_last = loco_time_ms() / 1000.0;
    printf("%12d %12.1f %14s\n", 0, start, "-");
    long step = n / 10, last = 0;
    int rc = LOCO_OK;
    for (long i = 1; i <= n && rc == LOCO_OK; i++) {
        rc = log_one(log, i);
        if (i % step == 0 || i == n) {
            double t = loco_time_ms() / 1000.0;
            printf("%12ld %12.1f %14.0f\n", i, rss_mib(), (double)(i - last) / (t - t_last));
            fflush(stdout);
            t_last = t;
            last = i;
        }
    }
    if (rc != LOCO_OK)
        fprintf(stderr, "bench-exchlog: %s\n", loco_error_message());
    const double finish = rss_mib();
    printf("resident memory: %.1f MiB at the start, %.1f MiB at the end (+%.1f)\n", start, finish,
           finish - start);
    loco_exchlog_close(log);
    if (temporary) {
        static const char *const suffix[] = {"", "-wal", "-shm"};
        for (size_t k = 0; k < 3; k++) {
            char f[600];
            snprintf(f, sizeof f, "%s%s", path, suffix[k]);
            unlink(f);
        }
    }
    return rc == LOCO_OK ? 0 : 1;
}
