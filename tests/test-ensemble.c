/*
 * test-ensemble.c - the ensemble strategy and the vote share as a
 * confidence: loco_generate_ensemble's answers (members with different
 * adapter sets, decoded as one batch) are exactly each member's answer
 * alone, greedy and sampled, cold and with a cached prompt; the vote with
 * members best-ranked first gives a tie to the best-ranked; per-answer
 * vote counts; the threshold rule (a share at the threshold passes) and
 * the below-threshold actions. Model: shared/fixtures/models/stories260K.gguf
 * with two random adapters written for the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/generate.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/strategy.h"
#include "testutil.h"

#define N_MEMBERS 4

struct fixture {
    struct loco_model *m;
    char dir[256];
    struct loco_adapter *a, *b;
    int32_t *prompt;
    size_t n_prompt;
};

/* A random adapter of rank 2 on q, v and up (values in [-amp, amp]),
 * written to dir/name.gguf and loaded. */
static struct loco_adapter *random_adapter(const struct fixture *f, const char *name,
                                           uint64_t seed, float amp)
{
    const struct loco_hparams *hp = loco_model_hparams(f->m);
    static const enum loco_lora_target targets[] = {LOCO_LORA_Q, LOCO_LORA_V, LOCO_LORA_UP};
    struct loco_lora_pair pairs[3 * 16];
    float *bufs[2 * 3 * 16];
    size_t n = 0;
    for (int il = 0; il < hp->n_layer && il < 16; il++)
        for (size_t t = 0; t < 3; t++) {
            int64_t n_in = hp->n_embd;
            int64_t n_out = targets[t] == LOCO_LORA_UP  ? hp->n_ff
                            : targets[t] == LOCO_LORA_V ? (int64_t)hp->n_head_kv * hp->head_dim
                                                        : (int64_t)hp->n_head * hp->head_dim;
            float *a = malloc((size_t)(2 * n_in) * sizeof *a);
            float *b = malloc((size_t)(2 * n_out) * sizeof *b);
            assert_non_null(a);
            assert_non_null(b);
            for (int64_t i = 0; i < 2 * n_in; i++, seed = seed * 6364136223846793005ULL + 1)
                a[i] = amp * ((float)((seed >> 40) & 0xffff) / 32768.0f - 1.0f);
            for (int64_t i = 0; i < 2 * n_out; i++, seed = seed * 6364136223846793005ULL + 1)
                b[i] = amp * ((float)((seed >> 40) & 0xffff) / 32768.0f - 1.0f);
            bufs[2 * n] = a;
            bufs[2 * n + 1] = b;
            pairs[n++] = (struct loco_lora_pair){il, targets[t], n_in, n_out, 2, a, b};
        }
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", f->dir, name);
    struct loco_adapter_meta meta = {.arch = hp->arch_name, .name = name, .alpha = 4};
    assert_int_equal(loco_adapter_write(path, &meta, pairs, n, LOCO_TYPE_F32), LOCO_OK);
    for (size_t i = 0; i < 2 * n; i++)
        free(bufs[i]);
    struct loco_adapter *ad = loco_adapter_load(path, f->m);
    assert_non_null(ad);
    unlink(path);
    return ad;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    *state = f;
    f->m = test_stories();
    if (!f->m)
        return 0;
    test_make_tmpdir(f->dir, sizeof f->dir, "test-ensemble");
    f->a = random_adapter(f, "one", 7, 0.4f);
    f->b = random_adapter(f, "two", 11, 0.4f);
    const char *text = "Once upon a time, there was a little boy named Tim";
    return loco_tokenizer_encode(loco_model_tokenizer(f->m), text, strlen(text), true, false,
                                 &f->prompt, &f->n_prompt);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->prompt);
    loco_adapter_free(f->a);
    loco_adapter_free(f->b);
    loco_model_free(f->m);
    if (f->dir[0])
        rmdir(f->dir);
    free(f);
    return 0;
}

static struct loco_context *ctx_for(const struct loco_model *m, int32_t n_seq)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 128;
    cp.n_seq = n_seq;
    cp.n_batch = 32;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    return c;
}

/* The members: adapter one, adapter two, the base model, and both at half
 * scale (a weighted set is one member too). */
struct members {
    struct loco_adapter_ref one, two, mix[2];
    struct loco_ensemble_member m[N_MEMBERS];
};

static void members_of(const struct fixture *f, struct members *ms)
{
    ms->one = (struct loco_adapter_ref){f->a, 1.0f};
    ms->two = (struct loco_adapter_ref){f->b, 1.0f};
    ms->mix[0] = (struct loco_adapter_ref){f->a, 0.5f};
    ms->mix[1] = (struct loco_adapter_ref){f->b, 0.5f};
    ms->m[0] = (struct loco_ensemble_member){&ms->one, 1};
    ms->m[1] = (struct loco_ensemble_member){&ms->two, 1};
    ms->m[2] = (struct loco_ensemble_member){NULL, 0};
    ms->m[3] = (struct loco_ensemble_member){ms->mix, 2};
}

/* Member m alone: loco_generate on a fresh one-sequence context (res[0]),
 * then again on the same context, the prompt cached (res[1]). */
static void alone(const struct fixture *f, const struct loco_ensemble_member *m,
                  const struct loco_generate_params *p, struct loco_generate_result res[2])
{
    struct loco_context *c = ctx_for(f->m, 1);
    assert_int_equal(loco_context_set_adapters(c, 0, m->set, m->n_set), LOCO_OK);
    for (int round = 0; round < 2; round++)
        assert_int_equal(loco_generate(c, 0, loco_model_tokenizer(f->m), f->prompt, f->n_prompt,
                                       p, NULL, NULL, &res[round]),
                         LOCO_OK);
    loco_context_free(c);
}

static void expect_same(const struct loco_generate_result *want,
                        const struct loco_generate_result *got)
{
    assert_int_equal(got->n_generated, want->n_generated);
    assert_int_equal(got->stop, want->stop);
    assert_string_equal(got->text, want->text);
    assert_memory_equal(got->tokens, want->tokens, (size_t)want->n_generated * sizeof(int32_t));
    assert_memory_equal(got->logprobs, want->logprobs, (size_t)want->n_generated * sizeof(float));
}

/* Each member's answer in the batched ensemble equals its answer alone,
 * on a cold context and again on the same context (the prompt then comes
 * from each sequence's cache, as it does alone the second time: the last
 * prompt token is decoded again, alone); the members do not all say the
 * same. */
static void check_members(const struct fixture *f, const struct loco_generate_params *p)
{
    struct members ms;
    members_of(f, &ms);
    struct loco_generate_result ref[N_MEMBERS][2], res[N_MEMBERS];
    for (int i = 0; i < N_MEMBERS; i++)
        alone(f, &ms.m[i], p, ref[i]);
    assert_string_not_equal(ref[0][0].text, ref[2][0].text); /* adapters change the answers */
    assert_string_not_equal(ref[1][0].text, ref[2][0].text);
    struct loco_context *c = ctx_for(f->m, N_MEMBERS);
    const struct loco_tokenizer *tok = loco_model_tokenizer(f->m);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(loco_generate_ensemble(c, tok, f->prompt, f->n_prompt, ms.m, N_MEMBERS,
                                                p, res),
                         LOCO_OK);
        for (int i = 0; i < N_MEMBERS; i++) {
            expect_same(&ref[i][round], &res[i]);
            assert_int_equal(res[i].n_prompt, (int32_t)f->n_prompt);
            /* round 2: each sequence kept its prompt under its own set */
            assert_int_equal(res[i].n_cached, ref[i][round].n_cached);
            assert_true(round == 0 ? res[i].n_cached == 0 : res[i].n_cached > 0);
            loco_generate_result_free(&res[i]);
        }
    }
    loco_context_free(c);
    for (int i = 0; i < N_MEMBERS; i++) {
        loco_generate_result_free(&ref[i][0]);
        loco_generate_result_free(&ref[i][1]);
    }
}

static void test_members_answer_as_alone_greedy(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    struct loco_generate_params p = loco_generate_default_params();
    p.max_tokens = 24;
    p.sampling.temperature = 0.0f;
    check_members(f, &p);
}

static void test_members_answer_as_alone_sampled(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    struct loco_generate_params p = loco_generate_default_params();
    p.max_tokens = 24;
    p.sampling.temperature = 0.9f; /* every member seeded as alone: seed, not seed + i */
    p.sampling.seed = 4242;
    check_members(f, &p);
}

/* A member moved to another sequence answers the same: the set travels
 * with the member, not the slot (order reversed). */
static void test_member_order(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    struct members ms;
    members_of(f, &ms);
    struct loco_ensemble_member rev[N_MEMBERS];
    for (int i = 0; i < N_MEMBERS; i++)
        rev[i] = ms.m[N_MEMBERS - 1 - i];
    struct loco_generate_params p = loco_generate_default_params();
    p.max_tokens = 16;
    p.sampling.temperature = 0.0f;
    struct loco_generate_result fwd[N_MEMBERS], back[N_MEMBERS];
    struct loco_context *c = ctx_for(f->m, N_MEMBERS);
    const struct loco_tokenizer *tok = loco_model_tokenizer(f->m);
    assert_int_equal(loco_generate_ensemble(c, tok, f->prompt, f->n_prompt, ms.m, N_MEMBERS, &p,
                                            fwd),
                     LOCO_OK);
    assert_int_equal(loco_generate_ensemble(c, tok, f->prompt, f->n_prompt, rev, N_MEMBERS, &p,
                                            back),
                     LOCO_OK);
    for (int i = 0; i < N_MEMBERS; i++) {
        assert_string_equal(fwd[i].text, back[N_MEMBERS - 1 - i].text);
        /* the sets moved between sequences: nothing of the cache is reused
         * except where the same set sat before (none here: all differ) */
        assert_int_equal(back[i].n_cached, 0);
    }
    for (int i = 0; i < N_MEMBERS; i++) {
        loco_generate_result_free(&fwd[i]);
        loco_generate_result_free(&back[i]);
    }
    loco_context_free(c);
}

static void test_refuses(void **state)
{
    struct fixture *f = *state;
    if (!f->m)
        skip();
    struct members ms;
    members_of(f, &ms);
    struct loco_generate_params p = loco_generate_default_params();
    struct loco_generate_result res[N_MEMBERS];
    struct loco_context *c = ctx_for(f->m, 2);
    const struct loco_tokenizer *tok = loco_model_tokenizer(f->m);
    /* more members than sequences */
    assert_int_equal(loco_generate_ensemble(c, tok, f->prompt, f->n_prompt, ms.m, 3, &p, res),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "3 members"));
    assert_int_equal(loco_generate_ensemble(c, tok, f->prompt, f->n_prompt, ms.m, 0, &p, res),
                     LOCO_ERR_INVALID);
    struct loco_ensemble_member bad = {NULL, 1};
    assert_int_equal(loco_generate_ensemble(c, tok, f->prompt, f->n_prompt, &bad, 1, &p, res),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_generate_ensemble(c, tok, f->prompt, 0, ms.m, 2, &p, res),
                     LOCO_ERR_INVALID);
    loco_context_free(c);
}

/* ---- the vote: members best-ranked first --------------------------------- */

static void test_vote_tie_goes_to_best_ranked(void **state)
{
    (void)state;
    int32_t winner = -1;
    double share = -1;
    /* ranks 1..4: 5 (rank 1) and 7 (ranks 2, 3) and 5 (rank 4): 2 against 2 */
    const char *tie[] = {"so #### 5", "#### 7", "it is 7", "5 apples, #### 5"};
    assert_int_equal(loco_vote("math", tie, 4, &winner, &share), LOCO_OK);
    assert_int_equal(winner, 0);
    assert_true(share == 0.5);
    /* the same answers ranked the other way round: 7 wins the tie */
    const char *other[] = {"#### 7", "so #### 5", "5 apples, #### 5", "it is 7"};
    assert_int_equal(loco_vote("math", other, 4, &winner, &share), LOCO_OK);
    assert_int_equal(winner, 0);
    assert_string_equal(other[winner], "#### 7");
    /* a majority beats rank: the best-ranked member alone loses */
    const char *maj[] = {"#### 1", "#### 2", "#### 2.0", "#### 3"};
    assert_int_equal(loco_vote("math", maj, 4, &winner, &share), LOCO_OK);
    assert_int_equal(winner, 1);
    assert_true(share == 0.5);
    /* a member that gives no number does not vote; the next-ranked wins */
    const char *none[] = {"I cannot tell", "#### 4"};
    assert_int_equal(loco_vote("math", none, 2, &winner, &share), LOCO_OK);
    assert_int_equal(winner, 1);
    assert_true(share == 0.5);
}

static void test_vote_counts(void **state)
{
    (void)state;
    const char *answers[] = {"#### 12", "no idea", "12.00", "#### 1,200", "The answer is 12."};
    int32_t votes[5];
    assert_int_equal(loco_vote_counts("math", answers, 5, votes), LOCO_OK);
    int32_t want[5] = {3, 0, 3, 1, 3};
    assert_memory_equal(votes, want, sizeof want);
    const char *letters[] = {"The answer is B", "(C)", "B"};
    assert_int_equal(loco_vote_counts("arc", letters, 3, votes), LOCO_OK);
    assert_int_equal(votes[0], 2);
    assert_int_equal(votes[1], 1);
    assert_int_equal(votes[2], 2);
    const char *text[] = {"Hello  World", "hello world", "bye"};
    assert_int_equal(loco_vote_counts(NULL, text, 3, votes), LOCO_OK);
    assert_int_equal(votes[0], 2);
    assert_int_equal(votes[2], 1);
    assert_int_equal(loco_vote_counts("math", NULL, 3, votes), LOCO_ERR_INVALID);
    assert_int_equal(loco_vote_counts("math", answers, 0, votes), LOCO_ERR_INVALID);
}

/* ---- confidence ----------------------------------------------------------- */

static void test_threshold(void **state)
{
    (void)state;
    /* a share exactly at the threshold passes */
    assert_true(loco_vote_confident(3.0 / 5.0, 0.6));
    assert_true(loco_vote_confident(2.0 / 3.0, 2.0 / 3.0));
    assert_true(loco_vote_confident(0.5, 0.5));
    assert_false(loco_vote_confident(2.0 / 5.0, 0.6));
    assert_false(loco_vote_confident(2.0 / 3.0, 0.67));
    /* 0 lets everything through, even no vote at all; 1 needs unanimity */
    assert_true(loco_vote_confident(0.0, 0.0));
    assert_true(loco_vote_confident(1.0, 1.0));
    assert_false(loco_vote_confident(4.0 / 5.0, 1.0));
}

static void test_below_actions(void **state)
{
    (void)state;
    enum loco_vote_below b = LOCO_VOTE_FALLBACK;
    assert_int_equal(loco_vote_below_parse("abstain", &b), LOCO_OK);
    assert_int_equal(b, LOCO_VOTE_ABSTAIN);
    assert_int_equal(loco_vote_below_parse("fallback", &b), LOCO_OK);
    assert_int_equal(b, LOCO_VOTE_FALLBACK);
    assert_string_equal(loco_vote_below_name(LOCO_VOTE_FALLBACK), "fallback");
    assert_string_equal(loco_vote_below_name(LOCO_VOTE_ABSTAIN), "abstain");
    const char *bad[] = {"", "Abstain", "base", "fall back"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = LOCO_VOTE_FALLBACK;
        assert_int_equal(loco_vote_below_parse(bad[i], &b), LOCO_ERR_INVALID);
        assert_non_null(strstr(loco_error_message(), "abstain or fallback"));
        assert_int_equal(b, LOCO_VOTE_FALLBACK); /* a refusal keeps the caller's setting */
    }
    assert_int_equal(loco_vote_below_parse(NULL, &b), LOCO_ERR_INVALID);
    assert_string_equal(LOCO_VOTE_ABSTAIN_TEXT, "I am not sure.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_answer_as_alone_greedy),
        cmocka_unit_test(test_members_answer_as_alone_sampled),
        cmocka_unit_test(test_member_order),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_vote_tie_goes_to_best_ranked),
        cmocka_unit_test(test_vote_counts),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_below_actions),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
