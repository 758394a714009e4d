/*
 * lora-fixture.h - what the LoRA tests share (test-lora.c, test-merge.c):
 * the tiny real llama of the fixtures (stories260K, f32) loaded once per
 * program with a temporary folder beside it, and random adapters built on
 * it, written in the adapter format and freed.
 *
 * The random numbers come from one seeded generator per program: each
 * main() calls rng_seed() first, so a test file's values do not depend on
 * the other file's.
 *
 * Usage: include after testutil.h; give cmocka lora_fixture_setup (through
 * a one-line setup that names the folder) and lora_fixture_teardown; start
 * a test that needs the model with NEED_BASE(f).
 */
#ifndef LOCO_LORA_FIXTURE_H
#define LOCO_LORA_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/lora.h"
#include "loco/model.h"
#include "testutil.h"

#define STORIES "fixtures/models/stories260K.gguf"

/* ---- the model and its folder --------------------------------------------- */

struct lora_fixture {
    char base_path[1024];    /* stories260K under ../shared */
    char dir[256];           /* a temporary folder for written files */
    char sha[65];            /* the base's SHA-256, as adapters record it */
    struct loco_model *base; /* f32 activations; NULL when ../shared lacks it */
};

/* cmocka group setup: loads the base (f32 activations, no tokenizer) and
 * makes $TMPDIR/loco-test-<name>-XXXXXX. Without ../shared the fixture
 * stays empty and NEED_BASE skips. */
static inline int lora_fixture_setup(void **state, const char *name)
{
    struct lora_fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (!f)
        return -1;
    if (!test_shared_path(STORIES, f->base_path, sizeof f->base_path))
        return 0;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/loco-test-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", name);
    if (!mkdtemp(f->dir))
        return -1;
    struct loco_model_params mp = loco_model_default_params();
    mp.matmul_mode = LOCO_MATMUL_F32_ACT;
    mp.load_tokenizer = false;
    f->base = loco_model_load(f->base_path, mp);
    if (!f->base)
        return -1;
    return loco_model_sha256(f->base, f->sha) == LOCO_OK ? 0 : -1;
}

static inline int lora_fixture_teardown(void **state)
{
    struct lora_fixture *f = *state;
    loco_model_free(f->base);
    if (f->dir[0])
        test_rm_rf(f->dir);
    free(f);
    return 0;
}

#define NEED_BASE(f)                                                                               \
    do {                                                                                           \
        if (!(f)->base)                                                                            \
            skip();                                                                                \
    } while (0)

/* ---- random numbers ------------------------------------------------------- */

static uint64_t rng_state;

static inline void rng_seed(uint64_t seed)
{
    rng_state = seed;
}

/* uniform in [-0.5, 0.5): the high bits of a 64-bit LCG (Knuth's MMIX) */
static inline float frand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / (float)0x1000000 - 0.5f;
}

/* max |a[i] - b[i]| over n values */
static inline double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* ---- random adapters ------------------------------------------------------ */

struct rand_adapter {
    struct loco_lora_pair pairs[64]; /* A [r][I], B [O][r] in bufs */
    float *bufs[128];
    size_t n;
};

/* The shape of target t's weight in m: n_in = I, n_out = O. */
static inline void get_dims(const struct loco_model *m, enum loco_lora_target t, int64_t *n_in,
                            int64_t *n_out)
{
    const struct loco_hparams *hp = loco_model_hparams(m);
    int64_t C = hp->n_embd, q = (int64_t)hp->n_head * hp->head_dim;
    int64_t kv = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff;
    const int64_t ins[] = {C, C, C, q, C, C, F}, outs[] = {q, kv, kv, C, F, F, C};
    *n_in = ins[t];
    *n_out = outs[t];
}

/* rank r on `targets` of every layer, values of size `amp`; free_adapter
 * frees it. */
static inline void make_adapter(struct rand_adapter *ra, const struct loco_model *m,
                                unsigned targets, int32_t r, float amp)
{
    memset(ra, 0, sizeof *ra);
    for (int il = 0; il < loco_model_hparams(m)->n_layer; il++) {
        for (int t = 0; t < LOCO_LORA_N_TARGETS; t++) {
            if (!(targets & LOCO_LORA_TARGET_BIT(t)))
                continue;
            struct loco_lora_pair *p = &ra->pairs[ra->n];
            p->layer = il;
            p->target = (enum loco_lora_target)t;
            p->rank = r;
            get_dims(m, p->target, &p->n_in, &p->n_out);
            float *a = malloc((size_t)(r * p->n_in) * sizeof *a);
            float *b = malloc((size_t)(r * p->n_out) * sizeof *b);
            assert_non_null(a);
            assert_non_null(b);
            for (int64_t i = 0; i < r * p->n_in; i++)
                a[i] = amp * frand();
            for (int64_t i = 0; i < r * p->n_out; i++)
                b[i] = amp * frand();
            p->a = a;
            p->b = b;
            ra->bufs[2 * ra->n] = a;
            ra->bufs[2 * ra->n + 1] = b;
            ra->n++;
        }
    }
}

static inline void free_adapter(struct rand_adapter *ra)
{
    for (size_t i = 0; i < 2 * ra->n; i++)
        free(ra->bufs[i]);
}

/* Write ra as f->dir/name.gguf (path into path[cap]) with domain `name`,
 * stored as `type`; sha: the base it records (f->sha), NULL for none. */
static inline void write_adapter(const struct lora_fixture *f, const struct rand_adapter *ra,
                                 float alpha, const char *name, const char *sha,
                                 enum loco_type type, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s.gguf", f->dir, name);
    struct loco_adapter_meta meta = {
        .arch = "llama", .base_sha256 = sha, .name = name, .domain = name, .alpha = alpha};
    assert_int_equal(loco_adapter_write(path, &meta, ra->pairs, ra->n, type), LOCO_OK);
}

#endif
