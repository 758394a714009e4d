/*
 * bench-train.c - tokens per second of the LoRA training core's
 * forward + backward on the default model (SmolLM2-135M).
 *
 * For sequences of 128, 256 and 512 tokens with the second half as targets
 * (the shape of an instruction-tuning example), rank 16, on all seven
 * projections and on q,v only; threads as given (default 2). Each figure
 * is the best of a few calls after one warm-up; "tok/s" counts every token
 * of the sequence, "loss only" times loco_trainer_loss for comparison.
 *
 * Usage: bench-train [n_threads] [model]   (skips when the model is absent)
 */
#include "loco/models.h"
#include "loco/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* best seconds of `reps` forward+backward (or loss-only) calls */
static double time_calls(struct loco_trainer *t, const int32_t *tok, const uint8_t *tgt, int n,
                         bool grad, int reps)
{
    double best = 1e30, loss;
    int32_t nt;
    for (int r = 0; r <= reps; r++) { /* r = 0 warms up */
        double t0 = now();
        int rc = grad ? loco_trainer_forward_backward(t, tok, tgt, n, 1.0f, (uint64_t)r, &loss, &nt)
                      : loco_trainer_loss(t, tok, tgt, n, &loss, &nt);
        double dt = now() - t0;
        if (rc != LOCO_OK) {
            fprintf(stderr, "bench-train: %s\n", loco_error_message());
            exit(1);
        }
        if (r > 0 && dt < best)
            best = dt;
    }
    return best;
}

int main(int argc, char **argv)
{
    int n_threads = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 2;
    char path[4096];
    if (argc > 2) {
        snprintf(path, sizeof path, "%s", argv[2]);
    } else if (loco_models_resolve("default", path, sizeof path) != LOCO_OK) {
        printf("bench-train: skipped, the default model is not in the cache (%s)\n",
               loco_error_message());
        return 0;
    }
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *m = loco_model_load(path, mp);
    if (!m) {
        fprintf(stderr, "bench-train: %s\n", loco_error_message());
        return 1;
    }
    enum { MAX = 512 };
    int32_t tok[MAX];
    uint8_t tgt[MAX];
    uint32_t x = 1;
    for (int i = 0; i < MAX; i++) {
        x = x * 1103515245u + 12345u;
        tok[i] = (int32_t)((x >> 8) % 49152u) % loco_model_hparams(m)->n_vocab;
    }
    unsigned qv = LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_V);
    const struct {
        const char *name;
        unsigned mask;
    } sets[2] = {{"all 7", LOCO_LORA_ALL_TARGETS}, {"q,v", qv}};
    const int lens[3] = {128, 256, 512};
    printf("LoRA training, %s, rank 16, %d threads, targets = second half\n", path, n_threads);
    printf("%-8s %6s %12s %12s %12s\n", "targets", "tokens", "fwd+bwd s", "tok/s", "loss-only s");
    for (int s = 0; s < 2; s++) {
        struct loco_lora_config cfg = {
            .rank = 16, .alpha = 32.0f, .dropout = 0.05f, .targets = sets[s].mask};
        double t0 = now();
        struct loco_trainer *t = loco_trainer_create(m, &cfg, MAX, n_threads, 1);
        if (!t) {
            fprintf(stderr, "bench-train: %s\n", loco_error_message());
            return 1;
        }
        if (s == 0)
            printf("(trainer created in %.2f s)\n", now() - t0);
        for (int l = 0; l < 3; l++) {
            int n = lens[l];
            for (int i = 0; i < n; i++)
                tgt[i] = i >= n / 2;
            int reps = n >= 512 ? 2 : 3;
            double fb = time_calls(t, tok, tgt, n, true, reps);
            double fw = time_calls(t, tok, tgt, n, false, reps);
            printf("%-8s %6d %12.3f %12.1f %12.3f\n", sets[s].name, n, fb, n / fb, fw);
        }
        loco_trainer_free(t);
    }
    loco_model_free(m);
    return 0;
}
