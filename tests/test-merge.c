/*
 * test-merge.c - merging adapters (loco/lora.h, src/lora/merge.c).
 *
 * The dense steps are checked against hand-computed values (TIES) and
 * plain loops (DARE, the SVD). The whole merge is checked on small random
 * adapters of shared/fixtures/models/stories260K.gguf: the merged file's
 * B A products against a triple-loop sum of the inputs' weighted updates,
 * and the merged adapter's logits against the run-time set it replaces.
 * With the default model and the project's math and code adapters, the
 * linear merge math:0.5 + code:0.5 gives the logits of the set
 * "math:0.5,code:0.5".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loco/gguf.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "lora-fixture.h"
#include "testutil.h"

/* ---- small matrices -------------------------------------------------------- */

/* c [n][m] = a [n][k] b [k][m], plain loops in double */
static void matmul(const float *a, const float *b, int64_t n, int64_t k, int64_t m, float *c)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) {
            double s = 0;
            for (int64_t q = 0; q < k; q++)
                s += (double)a[i * k + q] * b[q * m + j];
            c[i * m + j] = (float)s;
        }
}

static double frob_diff(const float *x, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    return sqrt(s);
}

static double frob(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s);
}

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i]));
    return m;
}

/* ---- the random adapters' updates ----------------------------------------- */

static const struct loco_lora_pair *find_pair(const struct rand_adapter *ra, int il,
                                              enum loco_lora_target t)
{
    for (size_t i = 0; i < ra->n; i++)
        if (ra->pairs[i].layer == il && ra->pairs[i].target == t)
            return &ra->pairs[i];
    return NULL;
}

/* d [O][I] += s * B A of ra's pair (il, t), when it has one */
static void add_delta(const struct rand_adapter *ra, int il, enum loco_lora_target t, float s,
                      float *d)
{
    const struct loco_lora_pair *p = find_pair(ra, il, t);
    for (int64_t o = 0; p && o < p->n_out; o++)
        for (int64_t i = 0; i < p->n_in; i++) {
            double acc = 0;
            for (int32_t k = 0; k < p->rank; k++)
                acc += (double)p->b[o * p->rank + k] * p->a[k * p->n_in + i];
            d[o * p->n_in + i] += (float)(s * acc);
        }
}

/* The update the merged file at `path` makes to (il, t): alpha / r * B A
 * read from its tensors into d [O][I]; its rank (0 when it has no pair). */
static int32_t file_delta(const char *path, int il, enum loco_lora_target t, float *d,
                          int64_t n_out, int64_t n_in)
{
    struct loco_gguf *g = loco_gguf_open(path);
    assert_non_null(g);
    float alpha = 0;
    assert_int_equal(loco_gguf_get_f32(g, "adapter.lora.alpha", &alpha), LOCO_OK);
    char na[128], nb[128];
    snprintf(na, sizeof na, "blk.%d.%s.weight.lora_a", il, loco_lora_target_tensor(t));
    snprintf(nb, sizeof nb, "blk.%d.%s.weight.lora_b", il, loco_lora_target_tensor(t));
    const struct loco_gguf_tensor *ta = loco_gguf_find_tensor(g, na);
    const struct loco_gguf_tensor *tb = loco_gguf_find_tensor(g, nb);
    memset(d, 0, (size_t)(n_out * n_in) * sizeof *d);
    int32_t r = 0;
    if (ta) {
        assert_non_null(tb);
        assert_int_equal(ta->type, LOCO_TYPE_F32);
        r = (int32_t)ta->ne[1];
        assert_int_equal(ta->ne[0], n_in);
        assert_int_equal(tb->ne[1], n_out);
        matmul(tb->data, ta->data, n_out, r, n_in, d);
        for (int64_t i = 0; i < n_out * n_in; i++)
            d[i] *= alpha / (float)r;
    }
    loco_gguf_close(g);
    return r;
}

static int setup(void **state)
{
    return lora_fixture_setup(state, "merge");
}

/* ---- running -------------------------------------------------------------- */

static const int32_t prompt[] = {1, 403, 407, 261, 378, 259, 280, 365, 263, 303};
#define N_PROMPT ((int32_t)(sizeof prompt / sizeof prompt[0]))

/* all-position logits of tokens[0..n) with the set refs[0..n_refs): out[n][V] */
static void run_with(const struct loco_model *m, const int32_t *tokens, int32_t n,
                     const struct loco_adapter_ref *refs, int32_t n_refs, float *out)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 64;
    cp.n_batch = 64;
    cp.n_threads = 2;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    assert_int_equal(loco_context_set_adapters(c, 0, refs, n_refs), LOCO_OK);
    int32_t pos[64], seq[64];
    bool want[64];
    assert_true(n <= 64);
    for (int32_t i = 0; i < n; i++) {
        pos[i] = i;
        seq[i] = 0;
        want[i] = true;
    }
    struct loco_batch b = {n, tokens, pos, seq, want};
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    int32_t V = loco_model_hparams(m)->n_vocab;
    for (int32_t i = 0; i < n; i++)
        memcpy(out + (size_t)i * V, loco_context_logits(c, i), (size_t)V * sizeof(float));
    loco_context_free(c);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- the dense steps -------------------------------------------------------- */

static void test_method_names(void **state)
{
    (void)state;
    enum loco_merge_method m;
    assert_int_equal(loco_merge_method_parse("ties", &m), LOCO_OK);
    assert_int_equal(m, LOCO_MERGE_TIES);
    assert_int_equal(loco_merge_method_parse("dare", &m), LOCO_OK);
    assert_int_equal(m, LOCO_MERGE_DARE);
    assert_int_equal(loco_merge_method_parse("linear", &m), LOCO_OK);
    assert_int_equal(m, LOCO_MERGE_LINEAR);
    assert_string_equal(loco_merge_method_name(LOCO_MERGE_TIES), "ties");
    assert_int_equal(loco_merge_method_parse("slerp", &m), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "slerp"));
    struct loco_merge_params p = loco_merge_default_params();
    assert_int_equal(p.method, LOCO_MERGE_LINEAR);
    assert_int_equal(p.rank, 0);
    assert_true(p.density == 0.2f);
    assert_int_equal(p.seed, 1);
    assert_int_equal(p.type, LOCO_TYPE_F16);
}

/* Trim to the top half, elect signs, disjoint mean: worked by hand. */
static void test_ties_by_hand(void **state)
{
    (void)state;
    /* top 3 of 6 by magnitude:
     *   d1 { 3, -1,  2, -4, 0.5,  1  } -> { 3,  0,  2, -4, 0, 0 }
     *   d2 {-2,  5,  1, -1, 3,  -0.5 } -> {-2,  5,  0,  0, 3, 0 }
     *   d3 { 1, -6, -3, -2, 0,   0.1 } -> { 0, -6, -3, -2, 0, 0 }
     * sums  { 1, -1, -1, -6, 3, 0 }: signs +, -, -, -, +, none
     * agreeing means { 3, -6, -3, (-4 - 2) / 2, 3, 0 } */
    const float d1[] = {3, -1, 2, -4, 0.5f, 1}, d2[] = {-2, 5, 1, -1, 3, -0.5f},
                d3[] = {1, -6, -3, -2, 0, 0.1f};
    const float *ds[] = {d1, d2, d3};
    const float want[] = {3, -6, -3, -3, 3, 0};
    float out[6];
    assert_int_equal(loco_merge_ties(ds, 3, 6, 0.5f, out), LOCO_OK);
    for (int j = 0; j < 6; j++)
        assert_near(out[j], want[j], 0);
    /* equal magnitudes at the threshold: the first ones by index are kept */
    const float flat[] = {1, -1, 1, -1};
    const float *one[] = {flat};
    assert_int_equal(loco_merge_ties(one, 1, 4, 0.5f, out), LOCO_OK);
    assert_near(out[0], 1, 0);
    assert_near(out[1], -1, 0);
    assert_near(out[2], 0, 0);
    assert_near(out[3], 0, 0);
    /* density 1 keeps everything; one delta comes back as it is */
    assert_int_equal(loco_merge_ties((const float *[]){d2}, 1, 6, 1.0f, out), LOCO_OK);
    for (int j = 0; j < 6; j++)
        assert_near(out[j], d2[j], 0);
    /* opposite values cancel the election: 0 */
    const float p[] = {2, 1}, q[] = {-2, 3};
    assert_int_equal(loco_merge_ties((const float *[]){p, q}, 2, 2, 1.0f, out), LOCO_OK);
    assert_near(out[0], 0, 0);
    assert_near(out[1], 2, 0); /* both positive: their mean */
    /* at least one entry is kept */
    assert_int_equal(loco_merge_ties((const float *[]){d1}, 1, 6, 0.01f, out), LOCO_OK);
    assert_near(out[3], -4, 0);
    assert_near(max_abs(out, 3), 0, 0);
    /* refusals */
    assert_int_equal(loco_merge_ties(ds, 3, 6, 0.0f, out), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "density 0"));
    assert_int_equal(loco_merge_ties(ds, 3, 6, 1.5f, out), LOCO_ERR_INVALID);
    assert_int_equal(loco_merge_ties(ds, 3, 6, NAN, out), LOCO_ERR_INVALID);
    assert_int_equal(loco_merge_ties(ds, 0, 6, 0.5f, out), LOCO_ERR_INVALID);
}

static void test_ties_large(void **state)
{
    (void)state;
    /* the selection on many values: exactly k kept, all at least as large
     * as every dropped one */
    enum { N = 10007 };
    float *x = malloc(N * sizeof *x), *out = malloc(N * sizeof *out);
    for (int j = 0; j < N; j++)
        x[j] = (float)((j * 7919) % 1000) - 500.0f; /* many equal magnitudes */
    const float *one[] = {x};
    assert_int_equal(loco_merge_ties(one, 1, N, 0.3f, out), LOCO_OK);
    int kept = 0;
    float min_kept = INFINITY, max_dropped = 0;
    for (int j = 0; j < N; j++) {
        if (out[j] != 0) {
            kept++;
            assert_near(out[j], x[j], 0);
            min_kept = fminf(min_kept, fabsf(x[j]));
        } else {
            max_dropped = fmaxf(max_dropped, fabsf(x[j]));
        }
    }
    assert_int_equal(kept, (int)lround(0.3 * N));
    assert_true(min_kept >= max_dropped);
    free(x);
    free(out);
}

static void test_dare(void **state)
{
    (void)state;
    enum { N = 100000 };
    float *ones = malloc(N * sizeof *ones), *x = malloc(N * sizeof *x);
    float *out = malloc(N * sizeof *out), *again = malloc(N * sizeof *again);
    for (int j = 0; j < N; j++) {
        ones[j] = 1.0f;
        x[j] = frand();
    }
    /* density 1 is the plain sum */
    const float *two[] = {ones, x};
    assert_int_equal(loco_merge_dare(two, 2, N, 1.0f, 7, out), LOCO_OK);
    for (int j = 0; j < N; j++)
        assert_near(out[j], 1.0f + x[j], 0);
    /* about density of the entries are kept, each rescaled by 1 / density */
    const float *one[] = {ones};
    assert_int_equal(loco_merge_dare(one, 1, N, 0.3f, 7, out), LOCO_OK);
    int kept = 0;
    for (int j = 0; j < N; j++) {
        if (out[j] != 0) {
            kept++;
            assert_near(out[j], 1.0f / 0.3f, 1e-6);
        }
    }
    double sd = sqrt(N * 0.3 * 0.7); /* binomial: 145 */
    print_message("dare kept %d of %d at density 0.3 (expected %.0f +- %.0f)\n", kept, N, 0.3 * N,
                  sd);
    assert_true(fabs(kept - 0.3 * N) < 5 * sd);
    /* the same seed drops the same entries, another seed others */
    assert_int_equal(loco_merge_dare(one, 1, N, 0.3f, 7, again), LOCO_OK);
    assert_memory_equal(out, again, N * sizeof *out);
    assert_int_equal(loco_merge_dare(one, 1, N, 0.3f, 8, again), LOCO_OK);
    assert_true(memcmp(out, again, N * sizeof *out) != 0);
    /* two deltas draw independent drops: both kept ~ density^2 of the time */
    assert_int_equal(loco_merge_dare((const float *[]){ones, ones}, 2, N, 0.5f, 3, out), LOCO_OK);
    int both = 0;
    for (int j = 0; j < N; j++)
        both += out[j] > 3.0f; /* 2 + 2 */
    assert_true(fabs(both - 0.25 * N) < 5 * sqrt(N * 0.25 * 0.75));
    assert_int_equal(loco_merge_dare(one, 1, N, 0.0f, 7, out), LOCO_ERR_INVALID);
    assert_int_equal(loco_merge_dare(one, 1, N, -0.5f, 7, out), LOCO_ERR_INVALID);
    free(ones);
    free(x);
    free(out);
    free(again);
}

/* A known rank-3 matrix is rebuilt exactly at rank 3; a full-rank one's
 * error falls with the rank and matches the dropped singular values. */
static void test_factorise(void **state)
{
    (void)state;
    enum { O = 20, I = 12, R0 = 3 };
    float u[O * R0], v[R0 * I], d[O * I], b[O * I], a[I * I], ba[O * I];
    for (int i = 0; i < O * R0; i++)
        u[i] = frand();
    for (int i = 0; i < R0 * I; i++)
        v[i] = frand();
    matmul(u, v, O, R0, I, d);
    double kept = 0, total = 0;
    assert_int_equal(loco_merge_factorise(d, O, I, R0, b, a, &kept, &total), LOCO_OK);
    matmul(b, a, O, R0, I, ba);
    print_message("rank-3 matrix at rank 3: |D - BA| / |D| = %.2e\n",
                  frob_diff(ba, d, O * I) / frob(d, O * I));
    assert_true(frob_diff(ba, d, O * I) < 1e-5 * frob(d, O * I));
    assert_near(kept / total, 1.0, 1e-9);
    assert_near(total, frob(d, O * I) * frob(d, O * I), 1e-4 * total);
    /* a and b share the singular values: |b col j| = |a row j| */
    for (int j = 0; j < R0; j++) {
        double nb = 0, na = 0;
        for (int o = 0; o < O; o++)
            nb += (double)b[o * R0 + j] * b[o * R0 + j];
        for (int i = 0; i < I; i++)
            na += (double)a[j * I + i] * a[j * I + i];
        assert_near(nb, na, 1e-4 * na);
    }
    /* full rank: the error falls with R and is the dropped energy */
    for (int i = 0; i < O * I; i++)
        d[i] = frand();
    double last = INFINITY;
    for (int R = 1; R <= I; R++) {
        assert_int_equal(loco_merge_factorise(d, O, I, R, b, a, &kept, &total), LOCO_OK);
        matmul(b, a, O, R, I, ba);
        double err = frob_diff(ba, d, O * I);
        assert_true(err < last);
        assert_near(err * err, total - kept, 1e-4 * total);
        last = err;
    }
    assert_true(last < 1e-5 * frob(d, O * I));
    /* a wide matrix works the same way round */
    assert_int_equal(loco_merge_factorise(d, I, O, 2, b, a, &kept, &total), LOCO_OK);
    matmul(b, a, I, 2, O, ba);
    assert_near(frob_diff(ba, d, O * I) * frob_diff(ba, d, O * I), total - kept, 1e-4 * total);
    /* refusals */
    assert_int_equal(loco_merge_factorise(d, O, I, 0, b, a, NULL, NULL), LOCO_ERR_INVALID);
    assert_int_equal(loco_merge_factorise(d, O, I, I + 1, b, a, NULL, NULL), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "give 1 to 12"));
}

/* ---- whole adapters on stories260K ---------------------------------------- */

static const float WX = 0.7f, WY = -0.4f;

struct two_inputs {
    struct rand_adapter x, y;
    char px[512], py[512];
    struct loco_adapter *ax, *ay;
    struct loco_merge_input in[2]; /* ax at WX, ay at WY */
    struct loco_merge_params p;    /* the defaults, written as f32 */
};

/* x: rank 3 on q, v, down, alpha 6 (factor 2); y: rank 2 on q, o, alpha 0
 * (factor 1). */
static void make_two(const struct lora_fixture *f, struct two_inputs *t)
{
    make_adapter(&t->x, f->base,
                 LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_V) |
                     LOCO_LORA_TARGET_BIT(LOCO_LORA_DOWN),
                 3, 0.3f);
    make_adapter(&t->y, f->base,
                 LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_O), 2, 0.3f);
    write_adapter(f, &t->x, 6.0f, "xin", f->sha, LOCO_TYPE_F32, t->px, sizeof t->px);
    write_adapter(f, &t->y, 0.0f, "yin", f->sha, LOCO_TYPE_F32, t->py, sizeof t->py);
    t->ax = loco_adapter_load(t->px, f->base);
    t->ay = loco_adapter_load(t->py, f->base);
    assert_non_null(t->ax);
    assert_non_null(t->ay);
    t->in[0] = (struct loco_merge_input){t->ax, WX};
    t->in[1] = (struct loco_merge_input){t->ay, WY};
    t->p = loco_merge_default_params();
    t->p.type = LOCO_TYPE_F32;
}

static void free_two(struct two_inputs *t)
{
    loco_adapter_free(t->ax);
    loco_adapter_free(t->ay);
    free_adapter(&t->x);
    free_adapter(&t->y);
}

/* The reference: sum of w_i * f_i * B_i A_i for (il, t) into d [O][I]. */
static void reference_sum(const struct two_inputs *t, int il, enum loco_lora_target tg, float *d,
                          size_t len)
{
    memset(d, 0, len * sizeof *d);
    add_delta(&t->x, il, tg, WX * 6.0f / 3.0f, d);
    add_delta(&t->y, il, tg, WY * 1.0f, d);
}

static void test_linear_exact(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct two_inputs t;
    make_two(f, &t);
    char path[512];
    snprintf(path, sizeof path, "%s/linear.gguf", f->dir);
    struct loco_merge_result res;
    assert_int_equal(loco_adapter_merge(t.in, 2, &t.p, path, &res), LOCO_OK);
    int n_layer = loco_model_hparams(f->base)->n_layer;
    assert_true(res.exact);
    assert_int_equal(res.rank, 5);              /* q: 3 + 2 */
    assert_int_equal(res.n_pairs, 4 * n_layer); /* q, v, o, down */
    assert_true(res.file_bytes > 0);
    float *d = malloc(172 * 172 * sizeof *d), *want = malloc(172 * 172 * sizeof *want);
    for (int il = 0; il < n_layer; il++) {
        for (int tg = 0; tg < LOCO_LORA_N_TARGETS; tg++) {
            int64_t n_in, n_out;
            get_dims(f->base, (enum loco_lora_target)tg, &n_in, &n_out);
            size_t len = (size_t)(n_in * n_out);
            reference_sum(&t, il, (enum loco_lora_target)tg, want, len);
            int32_t r = file_delta(path, il, (enum loco_lora_target)tg, d, n_out, n_in);
            int32_t want_r = (find_pair(&t.x, il, tg) ? 3 : 0) + (find_pair(&t.y, il, tg) ? 2 : 0);
            assert_int_equal(r, want_r);
            assert_true(max_diff(d, want, len) <= 1e-6 * (max_abs(want, len) + 1e-30));
        }
    }
    /* metadata: a plain adapter with the merge recorded */
    struct loco_adapter *m = loco_adapter_load(path, f->base);
    assert_non_null(m);
    assert_string_equal(loco_adapter_info(m)->name, "linear");
    assert_string_equal(loco_adapter_info(m)->domain, "xin");
    assert_true(loco_adapter_info(m)->alpha == 5.0f);
    struct loco_gguf *g = loco_gguf_open(path);
    char buf[512];
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.merge.method", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "linear");
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.merge.sources", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "xin,yin");
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.merge.weights", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "0.7,-0.4");
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.merge.source_files", buf, sizeof buf),
                     LOCO_OK);
    assert_string_equal(buf, "xin.gguf,yin.gguf");
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.merge.source_sha256", buf, sizeof buf),
                     LOCO_OK);
    assert_int_equal(strlen(buf), 2 * 64 + 1);
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.merge.rank", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "exact");
    assert_int_equal(loco_gguf_get_str_buf(g, "general.type", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "adapter");
    loco_gguf_close(g);
    /* the logits equal the run-time set it replaces */
    int32_t V = loco_model_hparams(f->base)->n_vocab;
    size_t n = (size_t)N_PROMPT * (size_t)V;
    float *got = malloc(n * sizeof *got), *set = malloc(n * sizeof *set);
    struct loco_adapter_ref one = {m, 1.0f}, two[2] = {{t.ax, WX}, {t.ay, WY}};
    run_with(f->base, prompt, N_PROMPT, &one, 1, got);
    run_with(f->base, prompt, N_PROMPT, two, 2, set);
    double diff = max_diff(got, set, n), scale = max_abs(set, n);
    print_message("merged vs set: max |dlogit| %.2e (max |logit| %.2f)\n", diff, scale);
    assert_true(diff <= 1e-4 * scale);
    run_with(f->base, prompt, N_PROMPT, NULL, 0, got);
    assert_true(max_diff(got, set, n) > 1e-2 * scale); /* the set matters */
    loco_adapter_free(m);
    free(got);
    free(set);
    free(d);
    free(want);
    free_two(&t);
}

/* With --rank: the best rank-R approximation; retained energy rises with R
 * and at R >= the sum of ranks the product is exact again. */
static void test_linear_rank(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct two_inputs t;
    make_two(f, &t);
    char path[512];
    int64_t n_in, n_out;
    get_dims(f->base, LOCO_LORA_Q, &n_in, &n_out);
    size_t len = (size_t)(n_in * n_out);
    float *d = malloc(len * sizeof *d), *want = malloc(len * sizeof *want);
    float *b = malloc(len * sizeof *b), *a = malloc(len * sizeof *a);
    double last = -1;
    for (int32_t R = 1; R <= 5; R++) {
        t.p.rank = R;
        snprintf(path, sizeof path, "%s/linear-r%d.gguf", f->dir, (int)R);
        struct loco_merge_result res;
        assert_int_equal(loco_adapter_merge(t.in, 2, &t.p, path, &res), LOCO_OK);
        assert_false(res.exact);
        assert_int_equal(res.rank, R);
        double kept = res.energy_kept / res.energy_total;
        print_message("rank %d keeps %.4f of the energy\n", (int)R, kept);
        assert_true(kept > last);
        last = kept;
        /* layer 1's q equals the dense route: the sum, truncated by SVD */
        reference_sum(&t, 1, LOCO_LORA_Q, want, len);
        assert_int_equal(file_delta(path, 1, LOCO_LORA_Q, d, n_out, n_in), R);
        double dk = 0, dt = 0;
        assert_int_equal(loco_merge_factorise(want, n_out, n_in, R, b, a, &dk, &dt), LOCO_OK);
        float *ba = want; /* reuse: the dense route's product */
        matmul(b, a, n_out, R, n_in, ba);
        assert_true(frob_diff(d, ba, len) <= 1e-4 * frob(ba, len));
    }
    assert_near(last, 1.0, 1e-6); /* rank 5 = 3 + 2: nothing dropped */
    reference_sum(&t, 2, LOCO_LORA_Q, want, len);
    file_delta(path, 2, LOCO_LORA_Q, d, n_out, n_in);
    assert_true(frob_diff(d, want, len) <= 1e-5 * frob(want, len));
    free(d);
    free(want);
    free(a);
    free(b);
    free_two(&t);
}

/* ties and dare through the files: at full rank (v is 32 x 64, rank 32)
 * the file holds the dense step's result; dare at density 1 is linear. */
static void test_ties_dare_files(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct two_inputs t;
    make_two(f, &t);
    int64_t n_in, n_out;
    get_dims(f->base, LOCO_LORA_V, &n_in, &n_out);
    int32_t R = (int32_t)(n_out < n_in ? n_out : n_in);
    size_t len = (size_t)(n_in * n_out);
    t.p.rank = R;
    t.p.method = LOCO_MERGE_TIES;
    t.p.density = 0.3f;
    char path[512];
    snprintf(path, sizeof path, "%s/ties.gguf", f->dir);
    struct loco_merge_result res;
    assert_int_equal(loco_adapter_merge(t.in, 2, &t.p, path, &res), LOCO_OK);
    float *d = malloc(len * sizeof *d), *want = malloc(len * sizeof *want);
    float *dx = calloc(len, sizeof *dx), *dy = calloc(len, sizeof *dy);
    add_delta(&t.x, 0, LOCO_LORA_V, WX * 2.0f, dx); /* only x adapts v */
    const float *ds[] = {dx, dy};
    assert_int_equal(loco_merge_ties(ds, 1, len, 0.3f, want), LOCO_OK);
    assert_int_equal(file_delta(path, 0, LOCO_LORA_V, d, n_out, n_in), R);
    assert_true(frob_diff(d, want, len) <= 1e-4 * frob(want, len));
    /* q has both: trimmed, elected and averaged, then the best rank-32 fit */
    int64_t qi, qo;
    get_dims(f->base, LOCO_LORA_Q, &qi, &qo);
    size_t qlen = (size_t)(qi * qo);
    float *qx = calloc(qlen, sizeof *qx), *qy = calloc(qlen, sizeof *qy);
    float *qd = malloc(qlen * sizeof *qd), *qw = malloc(qlen * sizeof *qw);
    float *b = malloc(qlen * sizeof *b), *a = malloc(qlen * sizeof *a);
    add_delta(&t.x, 0, LOCO_LORA_Q, WX * 2.0f, qx);
    add_delta(&t.y, 0, LOCO_LORA_Q, WY, qy);
    assert_int_equal(loco_merge_ties((const float *[]){qx, qy}, 2, qlen, 0.3f, qw), LOCO_OK);
    assert_int_equal(loco_merge_factorise(qw, qo, qi, R, b, a, NULL, NULL), LOCO_OK);
    matmul(b, a, qo, R, qi, qw);
    assert_int_equal(file_delta(path, 0, LOCO_LORA_Q, qd, qo, qi), R);
    assert_true(frob_diff(qd, qw, qlen) <= 1e-4 * frob(qw, qlen));
    /* dare at density 1 = linear */
    t.p.method = LOCO_MERGE_DARE;
    t.p.density = 1.0f;
    snprintf(path, sizeof path, "%s/dare1.gguf", f->dir);
    assert_int_equal(loco_adapter_merge(t.in, 2, &t.p, path, &res), LOCO_OK);
    reference_sum(&t, 3, LOCO_LORA_V, want, len);
    file_delta(path, 3, LOCO_LORA_V, d, n_out, n_in);
    assert_true(frob_diff(d, want, len) <= 1e-4 * frob(want, len));
    /* dare: the same seed writes the same file, another seed another */
    t.p.density = 0.5f;
    t.p.rank = 0;      /* the largest input rank: 3 */
    t.p.name = "dare"; /* not the file's stem, which differs */
    char p1[512], p2[512], p3[512];
    snprintf(p1, sizeof p1, "%s/dare-a.gguf", f->dir);
    snprintf(p2, sizeof p2, "%s/dare-b.gguf", f->dir);
    snprintf(p3, sizeof p3, "%s/dare-c.gguf", f->dir);
    assert_int_equal(loco_adapter_merge(t.in, 2, &t.p, p1, &res), LOCO_OK);
    assert_int_equal(res.rank, 3);
    assert_true(res.energy_kept < res.energy_total);
    assert_int_equal(loco_adapter_merge(t.in, 2, &t.p, p2, &res), LOCO_OK);
    t.p.seed = 2;
    assert_int_equal(loco_adapter_merge(t.in, 2, &t.p, p3, &res), LOCO_OK);
    size_t n1 = 0, n2 = 0, n3 = 0;
    char *f1 = test_read_file(p1, &n1), *f2 = test_read_file(p2, &n2),
         *f3 = test_read_file(p3, &n3);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    assert_true(n1 != n3 || memcmp(f1, f3, n1) != 0);
    struct loco_gguf *g = loco_gguf_open(p3);
    char buf[64];
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.merge.seed", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "2");
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.merge.density", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "0.5");
    loco_gguf_close(g);
    free(f1);
    free(f2);
    free(f3);
    free(d);
    free(want);
    free(dx);
    free(dy);
    free(qx);
    free(qy);
    free(qd);
    free(qw);
    free(a);
    free(b);
    free_two(&t);
}

/* stories260K again, under another file (one more key): another base */
static struct loco_model *other_base(const struct lora_fixture *f)
{
    struct loco_gguf *g = loco_gguf_open(f->base_path);
    assert_non_null(g);
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    for (int64_t i = 0; i < loco_gguf_n_kv(g); i++)
        assert_int_equal(loco_gguf_writer_copy_kv(w, g, i), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "locollm.test.copy", "yes"), LOCO_OK);
    for (int64_t i = 0; i < loco_gguf_n_tensors(g); i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        assert_int_equal(
            loco_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data), LOCO_OK);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/other-base.gguf", f->dir);
    assert_int_equal(loco_gguf_writer_write(w, path), LOCO_OK);
    loco_gguf_writer_free(w);
    loco_gguf_close(g);
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *m = loco_model_load(path, mp);
    assert_non_null(m);
    return m;
}

static void refused(const struct loco_merge_input *in, int32_t n, const struct loco_merge_params *p,
                    const char *path, const char *words)
{
    assert_int_equal(loco_adapter_merge(in, n, p, path, NULL), LOCO_ERR_INVALID);
    if (!strstr(loco_error_message(), words))
        fail_msg("message '%s' lacks '%s'", loco_error_message(), words);
    assert_false(exists(path));
}

static void test_refusals(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct two_inputs t;
    make_two(f, &t);
    char path[512];
    snprintf(path, sizeof path, "%s/refused.gguf", f->dir);
    struct loco_merge_params p = loco_merge_default_params();
    struct loco_merge_input in[LOCO_MERGE_MAX_INPUTS + 1];
    for (int i = 0; i <= LOCO_MERGE_MAX_INPUTS; i++)
        in[i] = (struct loco_merge_input){i % 2 ? t.ay : t.ax, 1.0f};
    refused(in, 0, &p, path, "0 adapters");
    refused(in, LOCO_MERGE_MAX_INPUTS + 1, &p, path, "merge 1 to 16");
    in[1].weight = NAN;
    refused(in, 2, &p, path, "finite");
    in[1].weight = INFINITY;
    refused(in, 2, &p, path, "finite");
    in[1].weight = 1.0f;
    in[1].adapter = NULL;
    refused(in, 2, &p, path, "NULL");
    in[1].adapter = t.ay;
    p.method = LOCO_MERGE_TIES;
    p.density = 0.0f;
    refused(in, 2, &p, path, "density 0");
    p.density = 1.01f;
    refused(in, 2, &p, path, "(0, 1]");
    p.method = LOCO_MERGE_DARE;
    p.density = NAN;
    refused(in, 2, &p, path, "density");
    p = loco_merge_default_params();
    p.rank = -1;
    refused(in, 2, &p, path, "rank -1");
    p.rank = 33; /* v is 32 x 64: found after some pairs are done */
    refused(in, 2, &p, path, "give at most 32");
    p.method = LOCO_MERGE_TIES;
    refused(in, 2, &p, path, "give at most 32");
    /* an existing file is kept unless overwrite is asked for */
    p = loco_merge_default_params();
    test_write_file(path, "keep me");
    assert_int_equal(loco_adapter_merge(in, 2, &p, path, NULL), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "already exists"));
    char *kept = test_read_file(path, NULL);
    assert_string_equal(kept, "keep me");
    free(kept);
    p.overwrite = true;
    assert_int_equal(loco_adapter_merge(in, 2, &p, path, NULL), LOCO_OK);
    struct loco_adapter *written = loco_adapter_load(path, f->base);
    assert_non_null(written);
    loco_adapter_free(written);
    unlink(path);
    /* another base: the same adapter file (it records no base) loaded
     * against a second model file */
    char bare[512];
    write_adapter(f, &t.y, 0.0f, "bare", NULL, LOCO_TYPE_F32, bare, sizeof bare);
    struct loco_model *b2 = other_base(f);
    struct loco_adapter *other = loco_adapter_load(bare, b2);
    assert_non_null(other);
    struct loco_merge_input mixed[2] = {{t.ax, 1.0f}, {other, 1.0f}};
    refused(mixed, 2, &p, path, "different base models");
    /* the same base loaded twice is one base */
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *again = loco_model_load(f->base_path, mp);
    struct loco_adapter *same = loco_adapter_load(bare, again);
    assert_non_null(same);
    struct loco_merge_input twice[2] = {{t.ax, 1.0f}, {same, 1.0f}};
    assert_int_equal(loco_adapter_merge(twice, 2, &p, path, NULL), LOCO_OK);
    loco_adapter_free(same);
    loco_model_free(again);
    loco_adapter_free(other);
    loco_model_free(b2);
    free_two(&t);
}

/* ---- the default model and the project's adapters ------------------------- */

static void test_default_model_linear(void **state)
{
    (void)state;
    char model[4096], pm[4096], pc[4096];
    if (!test_default_model(model, sizeof model))
        skip();
    test_source_path("adapters/math/math.gguf", pm, sizeof pm);
    test_source_path("adapters/code/code.gguf", pc, sizeof pc);
    if (!exists(pm) || !exists(pc)) {
        fprintf(stderr, "skipping: %s or %s not found\n", pm, pc);
        skip();
    }
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *m = loco_model_load(model, mp);
    assert_non_null(m);
    struct loco_adapter *math = loco_adapter_load(pm, m), *code = loco_adapter_load(pc, m);
    assert_non_null(math);
    assert_non_null(code);
    char dir[256], path[512];
    test_make_tmpdir(dir, sizeof dir, "merge-default");
    snprintf(path, sizeof path, "%s/math-code.gguf", dir);
    struct loco_merge_input in[2] = {{math, 0.5f}, {code, 0.5f}};
    struct loco_merge_params p = loco_merge_default_params(); /* f16, as the CLI writes */
    struct loco_merge_result res;
    assert_int_equal(loco_adapter_merge(in, 2, &p, path, &res), LOCO_OK);
    assert_int_equal(res.rank, loco_adapter_info(math)->rank + loco_adapter_info(code)->rank);
    struct loco_adapter *merged = loco_adapter_load(path, m);
    assert_non_null(merged);
    const int32_t toks[] = {1, 504, 3458, 282, 253, 1230, 30, 2, 7, 1012};
    int32_t n = (int32_t)(sizeof toks / sizeof toks[0]), V = loco_model_hparams(m)->n_vocab;
    float *got = malloc((size_t)n * V * sizeof *got), *set = malloc((size_t)n * V * sizeof *set);
    struct loco_adapter_ref one = {merged, 1.0f}, two[2] = {{math, 0.5f}, {code, 0.5f}};
    run_with(m, toks, n, &one, 1, got);
    run_with(m, toks, n, two, 2, set);
    size_t len = (size_t)n * (size_t)V;
    double diff = max_diff(got, set, len), scale = max_abs(set, len);
    print_message("default model: merged vs set max |dlogit| %.2e (max |logit| %.2f)\n", diff,
                  scale);
    assert_true(diff <= 1e-3 * scale);
    /* and the adapters do change the logits */
    run_with(m, toks, n, NULL, 0, got);
    print_message("default model: set vs base max |dlogit| %.2e\n", max_diff(got, set, len));
    assert_true(max_diff(got, set, len) > 1e-2 * scale);
    loco_adapter_free(merged);
    loco_adapter_free(math);
    loco_adapter_free(code);
    loco_model_free(m);
    test_rm_rf(dir);
    free(got);
    free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_method_names), cmocka_unit_test(test_ties_by_hand),
        cmocka_unit_test(test_ties_large),   cmocka_unit_test(test_dare),
        cmocka_unit_test(test_factorise),    cmocka_unit_test(test_linear_exact),
        cmocka_unit_test(test_linear_rank),  cmocka_unit_test(test_ties_dare_files),
        cmocka_unit_test(test_refusals),     cmocka_unit_test(test_default_model_linear),
    };
    rng_seed(0x5eed);
    return LOCO_RUN_TESTS(tests, setup, lora_fixture_teardown);
}
