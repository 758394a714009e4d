/*
 * bench-generate-many.c - what batching and the generation cache save when
 * an evaluation answers many prompts.
 *
 * Prompts: the first N GSM8K test questions (../shared/datasets/gsm8k),
 * rendered with the model's chat template, answered greedily with at most
 * 128 tokens, by the default model
 *   - one after another (1 slot),
 *   - with loco_generate_many over 4 and 8 slots,
 *   - again through the evaluation cache (every answer already stored).
 * Prints items/min and tokens/s for each and the speed-ups; checks that the
 * batched answers equal the one-at-a-time answers.
 *
 * Usage: bench-generate-many [N] [--threads T]    (N default 16)
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/evalcache.h"
#include "loco/generate.h"
#include "loco/models.h"

static char *read_line(FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) < 0) {
        free(line);
        return NULL;
    }
    return line;
}

static double run(struct loco_model *m, int slots, int threads, struct loco_gen_job *jobs,
                  size_t n, int64_t *tokens, double *prefill_ms)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 512;
    cp.n_seq = slots;
    cp.n_batch = 256;
    cp.n_threads = threads;
    struct loco_context *c = loco_context_init(m, cp);
    struct loco_generate_params p = loco_generate_default_params();
    p.max_tokens = 128;
    p.sampling.temperature = 0;
    double t0 = loco_time_ms();
    if (!c || loco_generate_many(c, loco_model_tokenizer(m), jobs, n, &p, NULL, NULL)) {
        fprintf(stderr, "bench-generate-many: %s\n", loco_error_message());
        exit(1);
    }
    double ms = loco_time_ms() - t0;
    *tokens = 0;
    *prefill_ms = 0;
    for (size_t i = 0; i < n; i++) {
        *tokens += jobs[i].res.n_generated;
        *prefill_ms += jobs[i].res.prompt_ms; /* prompts are prefilled one at a time */
    }
    loco_context_free(c);
    return ms;
}

int main(int argc, char **argv)
{
    size_t n = 16;
    int threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else
            n = (size_t)strtoul(argv[i], NULL, 10);
    }
    char path[4096], data[4096];
    const char *shared = getenv("LOCO_SHARED_DIR");
    snprintf(data, sizeof data, "%s/datasets/gsm8k/test.jsonl", shared ? shared : "../shared");
    FILE *f = fopen(data, "r");
    if (loco_models_resolve("default", path, sizeof path) != LOCO_OK || !f) {
        printf("bench-generate-many: skipped: needs the default model (`loco models pull "
               "default`) and %s (set LOCO_SHARED_DIR)\n", data);
        return 0;
    }
    struct loco_model *m = loco_model_load(path, loco_model_default_params());
    if (!m) {
        fprintf(stderr, "bench-generate-many: %s\n", loco_error_message());
        return 1;
    }
    char **questions = calloc(n, sizeof *questions);
    int32_t **prompts = calloc(n, sizeof *prompts);
    size_t *lens = calloc(n, sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        char *line = read_line(f);
        cJSON *j = line ? cJSON_Parse(line) : NULL;
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "question");
        if (!cJSON_IsString(q)) {
            n = i;
            free(line);
            cJSON_Delete(j);
            break;
        }
        questions[i] = strdup(q->valuestring);
        struct loco_chat_msg msg = {.role = "user", .content = questions[i]};
        if (loco_chat_tokenize(m, NULL, &msg, 1, &prompts[i], &lens[i]))
            return 1;
        free(line);
        cJSON_Delete(j);
    }
    fclose(f);
    struct loco_gen_job *ref = calloc(n, sizeof *ref), *jobs = calloc(n, sizeof *jobs);
    for (size_t i = 0; i < n; i++)
        ref[i] = (struct loco_gen_job){.prompt = prompts[i], .n_prompt = lens[i]};
    printf("default model, %zu GSM8K test questions, greedy, <= 128 tokens, %d threads\n\n", n,
           threads);
    size_t prompt_tokens = 0;
    for (size_t i = 0; i < n; i++)
        prompt_tokens += lens[i];
    printf("| mode | wall s | of it prefill s | items/min | generated tok/s | speed-up |\n"
           "|---|---:|---:|---:|---:|---:|\n");
    int64_t tok1 = 0;
    double pre1 = 0;
    double ms1 = run(m, 1, threads, ref, n, &tok1, &pre1);
    printf("| one after another | %.1f | %.1f | %.1f | %.1f | 1.00x |\n", ms1 / 1e3, pre1 / 1e3,
           n * 6e4 / ms1, tok1 * 1e3 / ms1);
    const int slot_counts[2] = {4, 8};
    int mismatches = 0;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < n; i++)
            jobs[i] = (struct loco_gen_job){.prompt = prompts[i], .n_prompt = lens[i]};
        int64_t tok = 0;
        double pre = 0;
        double ms = run(m, slot_counts[k], threads, jobs, n, &tok, &pre);
        printf("| %d slots | %.1f | %.1f | %.1f | %.1f | %.2fx |\n", slot_counts[k], ms / 1e3,
               pre / 1e3, n * 6e4 / ms, tok * 1e3 / ms, ms1 / ms);
        for (size_t i = 0; i < n; i++) {
            mismatches += strcmp(jobs[i].res.text, ref[i].res.text) != 0;
            loco_generate_result_free(&jobs[i].res);
        }
    }
    /* the cache: store the answers, then read them all back */
    char dir[] = "/tmp/loco-bench-cache-XXXXXX", db[128];
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/cache.sqlite", dir);
    struct loco_evalcache *cache;
    if (loco_evalcache_open(db, &cache))
        return 1;
    char key[65];
    for (size_t i = 0; i < n; i++) {
        loco_evalcache_key("model", "", "greedy,128", questions[i], key);
        loco_evalcache_put(cache, key, "model", "", "greedy,128", questions[i], ref[i].res.text,
                           ref[i].res.n_generated, 0);
    }
    double t0 = loco_time_ms();
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        struct loco_evalcache_entry e;
        loco_evalcache_key("model", "", "greedy,128", questions[i], key);
        if (loco_evalcache_get(cache, key, &e) == LOCO_OK) {
            hits += strcmp(e.output, ref[i].res.text) == 0;
            free(e.output);
        }
    }
    double ms_cache = loco_time_ms() - t0;
    printf("| cached (%zu/%zu hits) | %.4f | - | %.0f | - | %.0fx |\n", hits, n, ms_cache / 1e3,
           n * 6e4 / ms_cache, ms1 / ms_cache);
    printf("\n%zu prompt tokens in all (%.0f per prompt)\n", prompt_tokens,
           n ? (double)prompt_tokens / (double)n : 0.0);
    printf("batched answers equal to one-at-a-time answers: %zu/%zu\n", n * 2 - mismatches,
           n * 2);
    loco_evalcache_close(cache);
    unlink(db);
    char side[160];
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
    rmdir(dir);
    for (size_t i = 0; i < n; i++) {
        loco_generate_result_free(&ref[i].res);
        free(prompts[i]);
        free(questions[i]);
    }
    free(ref);
    free(jobs);
    free(prompts);
    free(lens);
    free(questions);
    loco_model_free(m);
    return mismatches ? 1 : 0;
}
