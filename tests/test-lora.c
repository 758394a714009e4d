/*
 * test-lora.c - LoRA adapters at run time (loco/lora.h).
 *
 * The reference for every numeric check is a merged model: the test adds
 * f * B A to the base weights itself, writes that model with the GGUF
 * writer, and runs it without adapters. The adapter path (mapped A and B,
 * the per-sequence hook, batch grouping) must give the same logits.
 * Model: shared/fixtures/models/stories260K.gguf (a real f32 llama).
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

/* ---- the merged reference ------------------------------------------------- */

struct merge_term {
    const struct rand_adapter *ra;
    float factor; /* scale * alpha / r */
};

static const struct loco_lora_pair *find_pair(const struct rand_adapter *ra, const char *name)
{
    for (size_t i = 0; i < ra->n; i++) {
        char want[64];
        snprintf(want, sizeof want, "blk.%d.%s.weight", ra->pairs[i].layer,
                 loco_lora_target_tensor(ra->pairs[i].target));
        if (strcmp(want, name) == 0)
            return &ra->pairs[i];
    }
    return NULL;
}

static struct loco_model *merged_model(const struct lora_fixture *f, const struct merge_term *terms,
                                       int n_terms, const char *tag)
{
    struct loco_gguf *g = loco_gguf_open(f->base_path);
    assert_non_null(g);
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    for (int64_t i = 0; i < loco_gguf_n_kv(g); i++)
        assert_int_equal(loco_gguf_writer_copy_kv(w, g, i), LOCO_OK);
    int64_t nt = loco_gguf_n_tensors(g);
    float **owned = calloc((size_t)nt, sizeof *owned);
    for (int64_t i = 0; i < nt; i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        const void *data = t->data;
        for (int k = 0; k < n_terms; k++) {
            const struct loco_lora_pair *p = find_pair(terms[k].ra, t->name);
            if (!p)
                continue;
            assert_int_equal(t->type, LOCO_TYPE_F32);
            if (!owned[i]) {
                owned[i] = malloc(t->size);
                memcpy(owned[i], t->data, t->size);
            }
            for (int64_t o = 0; o < p->n_out; o++)
                for (int64_t in = 0; in < p->n_in; in++) {
                    double d = 0;
                    for (int32_t r = 0; r < p->rank; r++)
                        d += (double)p->b[o * p->rank + r] * p->a[r * p->n_in + in];
                    owned[i][o * p->n_in + in] += (float)(terms[k].factor * d);
                }
            data = owned[i];
        }
        assert_int_equal(loco_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, data),
                         LOCO_OK);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/merged-%s.gguf", f->dir, tag);
    assert_int_equal(loco_gguf_writer_write(w, path), LOCO_OK);
    for (int64_t i = 0; i < nt; i++)
        free(owned[i]);
    free(owned);
    loco_gguf_writer_free(w);
    loco_gguf_close(g);
    struct loco_model_params mp = loco_model_default_params();
    mp.matmul_mode = LOCO_MATMUL_F32_ACT;
    mp.load_tokenizer = false;
    struct loco_model *m = loco_model_load(path, mp);
    assert_non_null(m);
    return m;
}

/* ---- running ---------------------------------------------------------------- */

static const int32_t prompt[] = {1, 403, 407, 261, 378, 259, 280, 365, 263, 303};
#define N_PROMPT ((int32_t)(sizeof prompt / sizeof prompt[0]))

static struct loco_context *ctx_for(const struct loco_model *m, int n_seq)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 64;
    cp.n_seq = n_seq;
    cp.n_batch = 64;
    cp.n_threads = 2;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    return c;
}

/* all-position logits of `prompt` on sequence seq: out[N_PROMPT][V] */
static void run_prompt(struct loco_context *c, int32_t seq, float *out, int32_t V)
{
    int32_t pos[N_PROMPT], sq[N_PROMPT];
    bool want[N_PROMPT];
    for (int32_t i = 0; i < N_PROMPT; i++) {
        pos[i] = i;
        sq[i] = seq;
        want[i] = true;
    }
    struct loco_batch b = {N_PROMPT, prompt, pos, sq, want};
    loco_context_seq_clear(c, seq);
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    for (int32_t i = 0; i < N_PROMPT; i++)
        memcpy(out + (size_t)i * V, loco_context_logits(c, i), (size_t)V * sizeof(float));
}

/* ---- setup ------------------------------------------------------------------ */

static int setup(void **state)
{
    return lora_fixture_setup(state, "lora");
}

/* ---- tests ------------------------------------------------------------------ */

static void test_target_names(void **state)
{
    (void)state;
    enum loco_lora_target t;
    assert_int_equal(loco_lora_target_parse("q_proj", &t), LOCO_OK);
    assert_int_equal(t, LOCO_LORA_Q);
    assert_int_equal(loco_lora_target_parse("ffn_down", &t), LOCO_OK);
    assert_int_equal(t, LOCO_LORA_DOWN);
    assert_int_equal(loco_lora_target_parse("o", &t), LOCO_OK);
    assert_int_equal(t, LOCO_LORA_O);
    assert_string_equal(loco_lora_target_tensor(LOCO_LORA_O), "attn_output");
    assert_string_equal(loco_lora_target_name(LOCO_LORA_GATE), "gate");
    assert_int_equal(loco_lora_target_parse("lm_head", &t), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "lm_head"));
    unsigned mask = 0;
    assert_int_equal(loco_lora_targets_parse("q, v,down", &mask), LOCO_OK);
    assert_int_equal(mask, LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_V) |
                               LOCO_LORA_TARGET_BIT(LOCO_LORA_DOWN));
    assert_int_equal(loco_lora_targets_parse("q,embed", &mask), LOCO_ERR_INVALID);
    assert_int_equal(loco_lora_targets_parse("", &mask), LOCO_ERR_INVALID);
}

static void test_spec_parse(void **state)
{
    (void)state;
    struct loco_adapter_spec s[3];
    assert_int_equal(loco_adapter_spec_parse("math", s, 3), 1);
    assert_string_equal(s[0].name, "math");
    assert_true(s[0].scale == 1.0f);
    assert_int_equal(loco_adapter_spec_parse("math:0.5, code:-1,x/y.gguf", s, 3), 3);
    assert_true(s[0].scale == 0.5f);
    assert_string_equal(s[1].name, "code");
    assert_true(s[1].scale == -1.0f);
    assert_string_equal(s[2].name, "x/y.gguf");
    assert_int_equal(loco_adapter_spec_parse("a,b,c,d", s, 3), LOCO_ERR_RANGE);
    assert_int_equal(loco_adapter_spec_parse("math:lots", s, 3), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "lots"));
    assert_int_equal(loco_adapter_spec_parse("math:", s, 3), LOCO_ERR_INVALID);
    assert_int_equal(loco_adapter_spec_parse(":2", s, 3), LOCO_ERR_INVALID);
    assert_int_equal(loco_adapter_spec_parse("", s, 3), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "no adapter named"));
    assert_int_equal(loco_adapter_spec_parse(" , ,", s, 3), LOCO_ERR_INVALID);
}

static void touch(const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
}

static void test_resolve(void **state)
{
    (void)state;
    char dir[] = "/tmp/loco-test-resolve-XXXXXX", path[1024], out[1024];
    assert_non_null(mkdtemp(dir));
    setenv("LOCO_ADAPTERS_DIR", dir, 1);
    snprintf(path, sizeof path, "%s/flat.gguf", dir);
    touch(path);
    assert_int_equal(loco_adapters_resolve("flat", out, sizeof out), LOCO_OK);
    assert_string_equal(out, path);
    snprintf(path, sizeof path, "%s/nested", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/nested/nested.gguf", dir);
    touch(path);
    assert_int_equal(loco_adapters_resolve("nested", out, sizeof out), LOCO_OK);
    assert_string_equal(out, path);
    assert_int_equal(loco_adapters_resolve(path, out, sizeof out), LOCO_OK);
    assert_int_equal(loco_adapters_resolve("missing", out, sizeof out), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), dir));
    assert_int_equal(loco_adapters_resolve("../etc", out, sizeof out), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_adapters_resolve("bad name", out, sizeof out), LOCO_ERR_INVALID);
    assert_int_equal(loco_adapters_dir(out, sizeof out), LOCO_OK);
    assert_string_equal(out, dir);
    /* a FIFO or a folder given as the adapter is named as such, not "missing" */
    snprintf(path, sizeof path, "%s/pipe.gguf", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(loco_adapters_resolve(path, out, sizeof out), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    snprintf(path, sizeof path, "%s/nested", dir);
    assert_int_equal(loco_adapters_resolve(path, out, sizeof out), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "folder"));
    unsetenv("LOCO_ADAPTERS_DIR");
    /* without it: the XDG data folder (core/util.h's loco_user_path) */
    const char *xdg = getenv("XDG_DATA_HOME");
    char *saved = xdg ? strdup(xdg) : NULL;
    setenv("XDG_DATA_HOME", "/data/", 1);
    assert_int_equal(loco_adapters_dir(out, sizeof out), LOCO_OK);
    assert_string_equal(out, "/data/locollm/adapters");
    assert_int_equal(loco_adapters_dir(out, 8), LOCO_ERR_RANGE);
    assert_non_null(strstr(loco_error_message(), "adapters directory path is too long"));
    if (saved)
        setenv("XDG_DATA_HOME", saved, 1);
    else
        unsetenv("XDG_DATA_HOME");
    free(saved);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_write_load_info(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct rand_adapter ra;
    unsigned tg = LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_DOWN);
    make_adapter(&ra, f->base, tg, 3, 0.1f);
    char path[512];
    write_adapter(f, &ra, 6.0f, "info", f->sha, LOCO_TYPE_F16, path, sizeof path);
    struct loco_adapter *a = loco_adapter_load(path, f->base);
    assert_non_null(a);
    const struct loco_adapter_info *in = loco_adapter_info(a);
    assert_string_equal(in->name, "info");
    assert_string_equal(in->domain, "info");
    assert_string_equal(in->arch, "llama");
    assert_int_equal(in->rank, 3);
    assert_true(in->alpha == 6.0f);
    assert_int_equal(in->targets, tg);
    assert_int_equal(in->n_pairs, (int)ra.n);
    assert_int_equal(in->type, LOCO_TYPE_F16);
    char sha[65];
    assert_int_equal(loco_model_sha256(f->base, sha), LOCO_OK);
    assert_string_equal(in->base_sha256, sha);
    /* every load gets its own id */
    struct loco_adapter *b = loco_adapter_load(path, f->base);
    assert_non_null(b);
    assert_true(loco_adapter_id(a) != loco_adapter_id(b));
    /* the file is llama.cpp's format: keys and tensor shapes */
    struct loco_gguf *g = loco_gguf_open(path);
    char buf[64];
    assert_int_equal(loco_gguf_get_str_buf(g, "general.type", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "adapter");
    const struct loco_gguf_tensor *ta = loco_gguf_find_tensor(g, "blk.0.attn_q.weight.lora_a");
    const struct loco_gguf_tensor *tb = loco_gguf_find_tensor(g, "blk.0.attn_q.weight.lora_b");
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(ta->ne[0], loco_model_hparams(f->base)->n_embd);
    assert_int_equal(ta->ne[1], 3);
    assert_int_equal(tb->ne[0], 3);
    loco_gguf_close(g);
    loco_adapter_free(a);
    loco_adapter_free(b);
    free_adapter(&ra);
}

/* The adapter path equals the merged model, for scales 1, 0.5 and 0. */
static void test_logits_match_merged(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct rand_adapter ra;
    make_adapter(&ra, f->base, LOCO_LORA_ALL_TARGETS, 4, 0.2f);
    char path[512];
    write_adapter(f, &ra, 8.0f, "all", f->sha, LOCO_TYPE_F32, path, sizeof path);
    struct loco_adapter *a = loco_adapter_load(path, f->base);
    assert_non_null(a);
    int32_t V = loco_model_hparams(f->base)->n_vocab;
    size_t n = (size_t)N_PROMPT * (size_t)V;
    float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    float *plain = malloc(n * sizeof *plain);
    struct loco_context *c = ctx_for(f->base, 1);
    run_prompt(c, 0, plain, V);
    const float scales[] = {1.0f, 0.5f};
    for (int k = 0; k < 2; k++) {
        struct merge_term term = {&ra, scales[k] * 8.0f / 4.0f};
        struct loco_model *mm = merged_model(f, &term, 1, k ? "half" : "one");
        struct loco_context *cm = ctx_for(mm, 1);
        run_prompt(cm, 0, want, V);
        struct loco_adapter_ref ref = {a, scales[k]};
        assert_int_equal(loco_context_set_adapters(c, 0, &ref, 1), LOCO_OK);
        run_prompt(c, 0, got, V);
        double d = max_diff(got, want, n), moved = max_diff(plain, want, n);
        print_message("scale %.1f: max |dlogit| vs merged %.2e (the adapter moves logits by "
                      "%.2f)\n",
                      (double)scales[k], d, moved);
        assert_true(moved > 0.05);
        assert_true(d < 1e-4);
        loco_context_free(cm);
        loco_model_free(mm);
    }
    struct loco_adapter_ref zero = {a, 0.0f};
    assert_int_equal(loco_context_set_adapters(c, 0, &zero, 1), LOCO_OK);
    run_prompt(c, 0, got, V);
    assert_true(max_diff(got, plain, n) < 1e-6);
    loco_context_free(c);
    loco_adapter_free(a);
    free_adapter(&ra);
    free(got);
    free(want);
    free(plain);
}

/* Two adapters in one set add up; F16 storage stays close to f32. */
static void test_composition(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct rand_adapter r1, r2;
    make_adapter(&r1, f->base,
                 LOCO_LORA_TARGET_BIT(LOCO_LORA_V) | LOCO_LORA_TARGET_BIT(LOCO_LORA_UP), 2, 0.3f);
    make_adapter(&r2, f->base,
                 LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_O), 5, 0.3f);
    char p1[512], p2[512];
    write_adapter(f, &r1, 0.0f, "one", f->sha, LOCO_TYPE_F32, p1,
                  sizeof p1); /* alpha 0: scale as is */
    write_adapter(f, &r2, 10.0f, "two", f->sha, LOCO_TYPE_F16, p2, sizeof p2);
    struct loco_adapter *a1 = loco_adapter_load(p1, f->base), *a2 = loco_adapter_load(p2, f->base);
    assert_non_null(a1);
    assert_non_null(a2);
    struct merge_term terms[2] = {{&r1, 0.7f}, {&r2, -1.5f * 10.0f / 5.0f}};
    struct loco_model *mm = merged_model(f, terms, 2, "pair");
    int32_t V = loco_model_hparams(f->base)->n_vocab;
    size_t n = (size_t)N_PROMPT * (size_t)V;
    float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    struct loco_context *cm = ctx_for(mm, 1), *c = ctx_for(f->base, 1);
    run_prompt(cm, 0, want, V);
    struct loco_adapter_ref refs[2] = {{a1, 0.7f}, {a2, -1.5f}};
    assert_int_equal(loco_context_set_adapters(c, 0, refs, 2), LOCO_OK);
    run_prompt(c, 0, got, V);
    double d = max_diff(got, want, n);
    print_message("two adapters (one stored as F16): max |dlogit| vs merged %.2e\n", d);
    assert_true(d < 2e-2);
    /* the same adapter twice in a set is refused */
    struct loco_adapter_ref dup[2] = {{a1, 1.0f}, {a1, 1.0f}};
    assert_int_equal(loco_context_set_adapters(c, 0, dup, 2), LOCO_ERR_INVALID);
    loco_context_free(c);
    loco_context_free(cm);
    loco_model_free(mm);
    loco_adapter_free(a1);
    loco_adapter_free(a2);
    free_adapter(&r1);
    free_adapter(&r2);
    free(got);
    free(want);
}

/* Sequences with different sets in one batch = each run alone. */
static void test_mixed_batch(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct rand_adapter r1, r2;
    make_adapter(&r1, f->base, LOCO_LORA_ALL_TARGETS, 2, 0.3f);
    make_adapter(&r2, f->base, LOCO_LORA_TARGET_BIT(LOCO_LORA_K), 3, 0.5f);
    char p1[512], p2[512];
    write_adapter(f, &r1, 4.0f, "mix1", f->sha, LOCO_TYPE_F32, p1, sizeof p1);
    write_adapter(f, &r2, 3.0f, "mix2", f->sha, LOCO_TYPE_F32, p2, sizeof p2);
    struct loco_adapter *a1 = loco_adapter_load(p1, f->base), *a2 = loco_adapter_load(p2, f->base);
    int32_t V = loco_model_hparams(f->base)->n_vocab;
    /* sequence s gets set s: {a1}, {a2}, {}, {a1 x0.5, a2} */
    struct loco_adapter_ref sets[4][2] = {{{a1, 1}}, {{a2, 1}}, {{0}}, {{a1, 0.5f}, {a2, 1}}};
    const int32_t set_n[4] = {1, 1, 0, 2};
    float *alone = malloc((size_t)4 * N_PROMPT * V * sizeof *alone);
    struct loco_context *c1 = ctx_for(f->base, 1);
    for (int s = 0; s < 4; s++) {
        assert_int_equal(loco_context_set_adapters(c1, 0, sets[s], set_n[s]), LOCO_OK);
        run_prompt(c1, 0, alone + (size_t)s * N_PROMPT * V, V);
    }
    /* one batch: the four prompts interleaved token by token */
    struct loco_context *c4 = ctx_for(f->base, 4);
    for (int s = 0; s < 4; s++)
        assert_int_equal(loco_context_set_adapters(c4, s, sets[s], set_n[s]), LOCO_OK);
    int32_t tok[4 * N_PROMPT], pos[4 * N_PROMPT], sq[4 * N_PROMPT];
    bool want[4 * N_PROMPT];
    for (int32_t i = 0; i < N_PROMPT; i++)
        for (int s = 0; s < 4; s++) {
            int32_t k = 4 * i + s;
            tok[k] = prompt[i];
            pos[k] = i;
            sq[k] = s;
            want[k] = true;
        }
    struct loco_batch b = {4 * N_PROMPT, tok, pos, sq, want};
    assert_int_equal(loco_decode(c4, &b), LOCO_OK);
    double worst = 0;
    for (int32_t i = 0; i < N_PROMPT; i++)
        for (int s = 0; s < 4; s++)
            worst =
                fmax(worst, max_diff(loco_context_logits(c4, 4 * i + s),
                                     alone + ((size_t)s * N_PROMPT + (size_t)i) * V, (size_t)V));
    print_message("mixed batch of 4 sets vs one at a time: max |dlogit| %.2e\n", worst);
    assert_true(worst < 1e-4);
    /* and the sets really differ */
    assert_true(max_diff(alone, alone + (size_t)2 * N_PROMPT * V, (size_t)N_PROMPT * V) > 0.01);
    loco_context_free(c1);
    loco_context_free(c4);
    loco_adapter_free(a1);
    loco_adapter_free(a2);
    free_adapter(&r1);
    free_adapter(&r2);
    free(alone);
}

/* The KV cache is tagged by the set: a change forgets it, the same set keeps it. */
static void test_kv_tag(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct rand_adapter ra;
    make_adapter(&ra, f->base, LOCO_LORA_TARGET_BIT(LOCO_LORA_V), 2, 0.3f);
    char path[512];
    write_adapter(f, &ra, 2.0f, "tag", f->sha, LOCO_TYPE_F32, path, sizeof path);
    struct loco_adapter *a = loco_adapter_load(path, f->base);
    struct loco_context *c = ctx_for(f->base, 2);
    int32_t V = loco_model_hparams(f->base)->n_vocab;
    float *buf = malloc((size_t)N_PROMPT * V * sizeof *buf);
    assert_int_equal(loco_context_seq_adapter_tag(c, 0), 0);
    run_prompt(c, 0, buf, V);
    run_prompt(c, 1, buf, V);
    assert_int_equal(loco_context_seq_len(c, 0), N_PROMPT);
    struct loco_adapter_ref ref = {a, 1.0f};
    assert_int_equal(loco_context_set_adapters(c, 0, &ref, 1), LOCO_OK);
    uint64_t tag = loco_context_seq_adapter_tag(c, 0);
    assert_true(tag != 0);
    assert_int_equal(loco_context_seq_len(c, 0), 0);        /* forgotten */
    assert_int_equal(loco_context_seq_len(c, 1), N_PROMPT); /* other sequence untouched */
    run_prompt(c, 0, buf, V);
    assert_int_equal(loco_context_set_adapters(c, 0, &ref, 1), LOCO_OK);
    assert_int_equal(loco_context_seq_len(c, 0), N_PROMPT); /* same set: kept */
    assert_true(loco_context_seq_adapter_tag(c, 0) == tag);
    ref.scale = 0.9f;
    assert_int_equal(loco_context_set_adapters(c, 0, &ref, 1), LOCO_OK);
    assert_true(loco_context_seq_adapter_tag(c, 0) != tag);
    assert_int_equal(loco_context_seq_len(c, 0), 0); /* another scale is another set */
    assert_int_equal(loco_context_set_adapters(c, 0, NULL, 0), LOCO_OK);
    assert_int_equal(loco_context_seq_adapter_tag(c, 0), 0);
    assert_int_equal(loco_context_set_adapters(c, 5, &ref, 1), LOCO_ERR_INVALID);
    loco_context_free(c);
    loco_adapter_free(a);
    free_adapter(&ra);
    free(buf);
}

/* Decode steps (one token per call: the few-rows path of the default,
 * quantized-activation mode) agree with a whole-prompt run (the sgemm path)
 * and with the merged model, for F32 and F16 storage. */
static void test_decode_path(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false; /* LOCO_MATMUL_QUANT_ACT */
    struct loco_model *qm = loco_model_load(f->base_path, mp);
    assert_non_null(qm);
    struct rand_adapter ra;
    make_adapter(&ra, qm, LOCO_LORA_ALL_TARGETS, 3, 0.2f);
    int32_t V = loco_model_hparams(qm)->n_vocab;
    size_t n = (size_t)N_PROMPT * (size_t)V;
    float *whole = malloc(n * sizeof *whole), *steps = malloc(n * sizeof *steps);
    float *want = malloc(n * sizeof *want), *plain = malloc(n * sizeof *plain);
    struct merge_term term = {&ra, 1.5f * 6.0f / 3.0f};
    struct loco_model *mm = merged_model(f, &term, 1, "steps");
    struct loco_context *cm = ctx_for(mm, 1), *cb = ctx_for(qm, 1);
    run_prompt(cm, 0, want, V);
    run_prompt(cb, 0, plain, V);
    loco_context_free(cb);
    const enum loco_type types[2] = {LOCO_TYPE_F32, LOCO_TYPE_F16};
    for (int k = 0; k < 2; k++) {
        char path[512];
        write_adapter(f, &ra, 6.0f, k ? "steps16" : "steps32", f->sha, types[k], path, sizeof path);
        struct loco_adapter *a = loco_adapter_load(path, qm);
        assert_non_null(a);
        struct loco_context *c = ctx_for(qm, 1);
        struct loco_adapter_ref ref = {a, 1.5f};
        assert_int_equal(loco_context_set_adapters(c, 0, &ref, 1), LOCO_OK);
        run_prompt(c, 0, whole, V);
        loco_context_seq_clear(c, 0);
        for (int32_t i = 0; i < N_PROMPT; i++) {
            int32_t seq = 0;
            struct loco_batch b = {1, &prompt[i], &i, &seq, NULL};
            assert_int_equal(loco_decode(c, &b), LOCO_OK);
            memcpy(steps + (size_t)i * V, loco_context_logits(c, 0), (size_t)V * sizeof(float));
        }
        double d_paths = max_diff(steps, whole, n), d_merged = max_diff(whole, want, n);
        double moved = max_diff(whole, plain, n);
        print_message("%s adapter, quantized-activation mode: decode steps vs whole prompt "
                      "%.2e, whole prompt vs merged %.2e (the adapter moves logits by %.2f)\n",
                      k ? "F16" : "F32", d_paths, d_merged, moved);
        /* this mode runs A requantized to Q8_0 (as the base runs on Q8
         * activations): both paths stay within a small fraction of the
         * adapter's own effect; the exact check is test_logits_match_merged */
        assert_true(d_paths < 0.01 * moved);
        assert_true(d_merged < 0.02 * moved);
        loco_context_free(c);
        loco_adapter_free(a);
    }
    loco_context_free(cm);
    loco_model_free(mm);
    loco_model_free(qm);
    free_adapter(&ra);
    free(whole);
    free(steps);
    free(want);
    free(plain);
}

/* Decode steps with an adapter give the same bits on one thread, on two
 * and on three, and with three sequences stepped together on two threads
 * (the B products run inside the base product's work items, whose row
 * ranges follow the thread count and the batch: 86 of the FFN's 172 rows
 * each here, so a range starts inside a vector of 8 columns). */
static void test_decode_threads_bitwise(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false; /* LOCO_MATMUL_QUANT_ACT */
    struct loco_model *qm = loco_model_load(f->base_path, mp);
    assert_non_null(qm);
    struct rand_adapter ra;
    make_adapter(&ra, qm, LOCO_LORA_ALL_TARGETS, 4, 0.2f);
    char path[512];
    write_adapter(f, &ra, 8.0f, "threads", f->sha, LOCO_TYPE_F16, path, sizeof path);
    struct loco_adapter *a = loco_adapter_load(path, qm);
    assert_non_null(a);
    int32_t V = loco_model_hparams(qm)->n_vocab;
    const size_t n_out = (size_t)N_PROMPT * (size_t)V;
    float *out[5]; /* 1, 2, 3 threads; then sequences 0 and 2 of a batch of 3 */
    for (int k = 0; k < 4; k++) {
        const int32_t n_seq = k < 3 ? 1 : 3;
        struct loco_context_params cp = loco_context_default_params();
        cp.n_ctx = 64;
        cp.n_seq = n_seq;
        cp.n_batch = 64;
        cp.n_threads = k < 3 ? k + 1 : 2;
        struct loco_context *c = loco_context_init(qm, cp);
        assert_non_null(c);
        struct loco_adapter_ref ref = {a, 1.0f};
        for (int32_t s = 0; s < n_seq; s++)
            assert_int_equal(loco_context_set_adapters(c, s, &ref, 1), LOCO_OK);
        out[k] = malloc(n_out * sizeof(float));
        assert_non_null(out[k]);
        if (k == 3) {
            out[4] = malloc(n_out * sizeof(float));
            assert_non_null(out[4]);
        }
        for (int32_t i = 0; i < N_PROMPT; i++) {
            int32_t tok[3] = {prompt[i], prompt[i], prompt[i]}, pos[3] = {i, i, i};
            int32_t seq[3] = {0, 1, 2};
            bool want[3] = {true, true, true};
            struct loco_batch b = {n_seq, tok, pos, seq, n_seq > 1 ? want : NULL};
            assert_int_equal(loco_decode(c, &b), LOCO_OK);
            memcpy(out[k] + (size_t)i * V, loco_context_logits(c, 0), (size_t)V * sizeof(float));
            if (k == 3)
                memcpy(out[4] + (size_t)i * V, loco_context_logits(c, 2),
                       (size_t)V * sizeof(float));
        }
        loco_context_free(c);
    }
    for (int k = 1; k < 5; k++)
        assert_memory_equal(out[0], out[k], n_out * sizeof(float));
    for (int k = 0; k < 5; k++)
        free(out[k]);
    loco_adapter_free(a);
    free_adapter(&ra);
    loco_model_free(qm);
}

/* A prompt longer than the per-row threshold (64 rows) takes the sgemm
 * branch in the default mode; it must agree with token-by-token steps. */
static void test_long_prompt_paths(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *qm = loco_model_load(f->base_path, mp);
    struct rand_adapter ra;
    make_adapter(&ra, qm, LOCO_LORA_ALL_TARGETS, 4, 0.2f);
    char path[512];
    write_adapter(f, &ra, 8.0f, "long", f->sha, LOCO_TYPE_F16, path, sizeof path);
    struct loco_adapter *a = loco_adapter_load(path, qm);
    assert_non_null(a);
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = cp.n_batch = 128;
    struct loco_context *c = loco_context_init(qm, cp);
    struct loco_adapter_ref ref = {a, 1.0f};
    assert_int_equal(loco_context_set_adapters(c, 0, &ref, 1), LOCO_OK);
    enum { N = 90 };
    int32_t tok[N], pos[N], seq[N];
    for (int32_t i = 0; i < N; i++) {
        tok[i] = 260 + (i * 37) % 200;
        pos[i] = i;
        seq[i] = 0;
    }
    int32_t V = loco_model_hparams(qm)->n_vocab;
    struct loco_batch b = {N, tok, pos, seq, NULL};
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    float *whole = malloc((size_t)V * sizeof *whole);
    memcpy(whole, loco_context_logits(c, 0), (size_t)V * sizeof(float));
    loco_context_seq_clear(c, 0);
    for (int32_t i = 0; i < N; i++) {
        struct loco_batch one = {1, &tok[i], &pos[i], &seq[i], NULL};
        assert_int_equal(loco_decode(c, &one), LOCO_OK);
    }
    double d = max_diff(whole, loco_context_logits(c, 0), (size_t)V);
    print_message("90-token prompt with an adapter, sgemm branch vs decode steps: %.2e\n", d);
    assert_true(d < 2e-2);
    free(whole);
    loco_context_free(c);
    loco_adapter_free(a);
    loco_model_free(qm);
    free_adapter(&ra);
}

/* Files that are not adapters for this base are refused with a reason. */
static void test_refusals(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    /* the base model itself */
    assert_null(loco_adapter_load(f->base_path, f->base));
    assert_non_null(strstr(loco_error_message(), "not an adapter"));
    struct rand_adapter ra;
    make_adapter(&ra, f->base, LOCO_LORA_TARGET_BIT(LOCO_LORA_Q), 2, 0.1f);
    char path[512];
    /* another architecture */
    snprintf(path, sizeof path, "%s/arch.gguf", f->dir);
    struct loco_adapter_meta meta = {.arch = "qwen2", .alpha = 4};
    assert_int_equal(loco_adapter_write(path, &meta, ra.pairs, ra.n, LOCO_TYPE_F32), LOCO_OK);
    assert_null(loco_adapter_load(path, f->base));
    assert_non_null(strstr(loco_error_message(), "qwen2"));
    /* another base file */
    snprintf(path, sizeof path, "%s/sha.gguf", f->dir);
    meta = (struct loco_adapter_meta){.arch = "llama",
                                      .alpha = 4,
                                      .base_sha256 = "00000000000000000000000000000000"
                                                     "00000000000000000000000000000000"};
    assert_int_equal(loco_adapter_write(path, &meta, ra.pairs, ra.n, LOCO_TYPE_F32), LOCO_OK);
    assert_null(loco_adapter_load(path, f->base));
    assert_non_null(strstr(loco_error_message(), "sha256 0000"));
    /* a shape that does not fit the base */
    struct loco_lora_pair bad = ra.pairs[0];
    bad.n_out = 7;
    snprintf(path, sizeof path, "%s/shape.gguf", f->dir);
    meta.base_sha256 = NULL;
    assert_int_equal(loco_adapter_write(path, &meta, &bad, 1, LOCO_TYPE_F32), LOCO_OK);
    assert_null(loco_adapter_load(path, f->base));
    assert_non_null(strstr(loco_error_message(), "base projection maps"));
    /* a half missing, and the output head */
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    loco_gguf_writer_set_str(w, "general.architecture", "llama");
    loco_gguf_writer_set_str(w, "general.type", "adapter");
    loco_gguf_writer_set_str(w, "adapter.type", "lora");
    int64_t ne[2] = {ra.pairs[0].n_in, 2};
    loco_gguf_writer_add_tensor(w, "blk.0.attn_q.weight.lora_a", LOCO_TYPE_F32, 2, ne,
                                ra.pairs[0].a);
    snprintf(path, sizeof path, "%s/half.gguf", f->dir);
    assert_int_equal(loco_gguf_writer_write(w, path), LOCO_OK);
    assert_null(loco_adapter_load(path, f->base));
    assert_non_null(strstr(loco_error_message(), "not lora_b"));
    loco_gguf_writer_add_tensor(w, "output.weight.lora_a", LOCO_TYPE_F32, 2, ne, ra.pairs[0].a);
    snprintf(path, sizeof path, "%s/head.gguf", f->dir);
    assert_int_equal(loco_gguf_writer_write(w, path), LOCO_OK);
    assert_null(loco_adapter_load(path, f->base));
    assert_non_null(strstr(loco_error_message(), "does not adapt"));
    loco_gguf_writer_free(w);
    /* writing refuses nonsense */
    meta.alpha = NAN;
    assert_int_equal(loco_adapter_write(path, &meta, ra.pairs, ra.n, LOCO_TYPE_F32),
                     LOCO_ERR_INVALID);
    meta.alpha = 1;
    assert_int_equal(loco_adapter_write(path, &meta, ra.pairs, ra.n, LOCO_TYPE_Q8_0),
                     LOCO_ERR_INVALID);
    /* an adapter loaded for one model cannot be set on another model's context */
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *other = loco_model_load(f->base_path, mp);
    snprintf(path, sizeof path, "%s/ok.gguf", f->dir);
    assert_int_equal(loco_adapter_write(path, &meta, ra.pairs, ra.n, LOCO_TYPE_F32), LOCO_OK);
    struct loco_adapter *a = loco_adapter_load(path, other);
    assert_non_null(a);
    struct loco_context *c = ctx_for(f->base, 1);
    struct loco_adapter_ref ref = {a, 1.0f};
    assert_int_equal(loco_context_set_adapters(c, 0, &ref, 1), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "another model"));
    loco_context_free(c);
    loco_adapter_free(a);
    loco_model_free(other);
    free_adapter(&ra);
}

/* How write_raw_adapter stores adapter.lora.alpha. */
struct raw_alpha {
    float f32;
    double f64;      /* stored as FLOAT64 when not 0 */
    const char *str; /* stored as a STRING when not NULL */
};

/* An adapter written field by field with the GGUF writer, bypassing the
 * checks of loco_adapter_write: alpha as given, pair p's halves as given. */
static void write_raw_adapter_alpha(const char *path, struct raw_alpha al,
                                    const struct loco_lora_pair *p)
{
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    char name[128];
    assert_int_equal(loco_gguf_writer_set_str(w, "general.architecture", "llama"), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "general.type", "adapter"), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "adapter.type", "lora"), LOCO_OK);
    if (al.str)
        assert_int_equal(loco_gguf_writer_set_str(w, "adapter.lora.alpha", al.str), LOCO_OK);
    else if (al.f64 != 0)
        assert_int_equal(loco_gguf_writer_set_f64(w, "adapter.lora.alpha", al.f64), LOCO_OK);
    else
        assert_int_equal(loco_gguf_writer_set_f32(w, "adapter.lora.alpha", al.f32), LOCO_OK);
    int64_t ne_a[2] = {p->n_in, p->rank}, ne_b[2] = {p->rank, p->n_out};
    snprintf(name, sizeof name, "blk.%d.%s.weight.lora_a", p->layer,
             loco_lora_target_tensor(p->target));
    assert_int_equal(loco_gguf_writer_add_tensor(w, name, LOCO_TYPE_F32, 2, ne_a, p->a), LOCO_OK);
    snprintf(name, sizeof name, "blk.%d.%s.weight.lora_b", p->layer,
             loco_lora_target_tensor(p->target));
    assert_int_equal(loco_gguf_writer_add_tensor(w, name, LOCO_TYPE_F32, 2, ne_b, p->b), LOCO_OK);
    assert_int_equal(loco_gguf_writer_write(w, path), LOCO_OK);
    loco_gguf_writer_free(w);
}

static void write_raw_adapter(const char *path, float alpha, const struct loco_lora_pair *p)
{
    write_raw_adapter_alpha(path, (struct raw_alpha){.f32 = alpha}, p);
}

/* Scalars and weights that would make the logits NaN are refused on load,
 * with the file, the field and the value in the message. Before, alpha 1e30
 * loaded, the logits came out NaN and the sampler read out of bounds. */
static void test_hostile_adapters(void **state)
{
    struct lora_fixture *f = *state;
    NEED_BASE(f);
    struct rand_adapter ra;
    make_adapter(&ra, f->base, LOCO_LORA_TARGET_BIT(LOCO_LORA_V), 2, 0.1f);
    char path[512];
    const float bad_alpha[] = {1e30f, INFINITY, NAN, -1.0f, 65537.0f};
    for (size_t i = 0; i < sizeof bad_alpha / sizeof bad_alpha[0]; i++) {
        snprintf(path, sizeof path, "%s/alpha%zu.gguf", f->dir, i);
        write_raw_adapter(path, bad_alpha[i], &ra.pairs[0]);
        loco_error_clear();
        assert_null(loco_adapter_load(path, f->base));
        assert_non_null(strstr(loco_error_message(), "adapter.lora.alpha = "));
        assert_non_null(strstr(loco_error_message(), path));
        struct loco_adapter_meta meta = {.arch = "llama", .alpha = bad_alpha[i]};
        assert_int_equal(loco_adapter_write(path, &meta, ra.pairs, 1, LOCO_TYPE_F32),
                         LOCO_ERR_INVALID);
    }
    assert_non_null(strstr(loco_error_message(), "65537"));
    /* the message shows alpha as stored: an f64 1e300 is not shown as the inf
     * it would become as a float; a string is named as one */
    snprintf(path, sizeof path, "%s/alpha-f64.gguf", f->dir);
    write_raw_adapter_alpha(path, (struct raw_alpha){.f64 = 1e300}, &ra.pairs[0]);
    assert_null(loco_adapter_load(path, f->base));
    assert_non_null(strstr(loco_error_message(), "adapter.lora.alpha = 1e+300 "));
    snprintf(path, sizeof path, "%s/alpha-str.gguf", f->dir);
    write_raw_adapter_alpha(path, (struct raw_alpha){.str = "thirty-two"}, &ra.pairs[0]);
    assert_null(loco_adapter_load(path, f->base));
    assert_non_null(strstr(loco_error_message(), "has type STRING"));
    /* the largest alpha accepted still loads */
    snprintf(path, sizeof path, "%s/alpha-max.gguf", f->dir);
    write_raw_adapter(path, 65536.0f, &ra.pairs[0]);
    struct loco_adapter *a = loco_adapter_load(path, f->base);
    assert_non_null(a);
    loco_adapter_free(a);
    /* one NaN or inf in A or B */
    float *halves[2] = {(float *)ra.pairs[0].a, (float *)ra.pairs[0].b};
    const char *names[2] = {"lora_a", "lora_b"};
    for (int h = 0; h < 2; h++) {
        float keep = halves[h][3];
        halves[h][3] = h ? INFINITY : NAN;
        snprintf(path, sizeof path, "%s/weight%d.gguf", f->dir, h);
        write_raw_adapter(path, 4.0f, &ra.pairs[0]);
        halves[h][3] = keep;
        assert_null(loco_adapter_load(path, f->base));
        assert_non_null(strstr(loco_error_message(), names[h]));
        assert_non_null(strstr(loco_error_message(), h ? "inf" : "nan"));
    }
    free_adapter(&ra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_names),
        cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_write_load_info),
        cmocka_unit_test(test_logits_match_merged),
        cmocka_unit_test(test_composition),
        cmocka_unit_test(test_mixed_batch),
        cmocka_unit_test(test_kv_tag),
        cmocka_unit_test(test_decode_path),
        cmocka_unit_test(test_decode_threads_bitwise),
        cmocka_unit_test(test_long_prompt_paths),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_hostile_adapters),
    };
    rng_seed(0x1234567);
    return LOCO_RUN_TESTS(tests, setup, lora_fixture_teardown);
}
