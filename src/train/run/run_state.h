/*
 * run_state.h - the state of one `loco train` run, shared by run.c (setup
 * and the loop) and finish.c (adapter, curve, samples, log). Private.
 *
 * Legend: P trainable parameters, S planned optimizer steps.
 */
#ifndef LOCO_TRAIN_RUN_STATE_H
#define LOCO_TRAIN_RUN_STATE_H

#include "train/run/run_internal.h"

struct run {
    const struct loco_train_params *p;
    struct loco_train_summary *s;
    struct loco_recipe *r;
    struct loco_model *m;
    struct loco_train_data *d;
    struct loco_trainer *t;
    int32_t threads;
    size_t n_params;            /* P */
    float *adam_m, *adam_v;     /* [P] AdamW moments */
    float *loss;                /* [S] mean train loss of each step */
    struct loco_val_point *val; /* [S + 2] validation points */
    int64_t n_val;
    int64_t step, total;   /* steps done, S */
    int64_t examples_seen; /* next global example position */
    uint64_t rng;          /* dropout seeds are drawn from it */
    int64_t tokens_seen;
    double elapsed_before; /* training seconds in earlier processes */
    size_t *perm;          /* [n_train] this epoch's order */
    int64_t perm_epoch;
    double t0;              /* ms when this process started training */
    int64_t step0, tokens0; /* step and tokens when it started */
    char hash[65];
    char ckpt_path[4200];
    char base_sha[65];
};

void run_emit(struct run *R, enum loco_train_phase phase, const char *message);

/* Adapter, loss.svg, samples and TRAINING_LOG.md (finish.c). */
int run_finish(struct run *R);

#endif
