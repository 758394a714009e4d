/*
 * scoring.c - what scores an answer, by the benchmark's kind: the GSM8K
 * number, the number a GSM8K program prints, the code in the sandbox (every
 * sample when several were drawn),
 * ROUGE-L, the chosen letter, the custom exact, numeric and regex checks
 * (judged items are scored by the judge, judging.c); and the stored answers
 * of a record scored again with the same code (rescore.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_internal.h"
#include "loco/codeeval.h"
#include "loco/sandbox.h"
#include "loco/score.h"
#include "rescore_internal.h"

struct loco_sandbox_params eval_code_sandbox(void)
{
    struct loco_sandbox_params sp = loco_sandbox_default_params();
    sp.timeout_s = 10;
    sp.cpu_s = 5;
    return sp;
}

/* The program an answer of this kind runs as: the answer's code (fenced or
 * bare, loco_codeeval_extract) joined with the item's prompt and tests.
 * gsm8k-pot has no tests: one setup line makes `__name__` "__main__", so a
 * program that ends `if __name__ == "__main__": main()` runs too (the
 * runner's fresh namespace has no __name__). malloc'd; NULL: out of memory. */
static char *answer_program(const struct item *it, enum kind kind, const char *answer)
{
    char *code = loco_codeeval_extract(answer, it->entry_point, LOCO_CODE_FIRST);
    char *program = NULL;
    if (code && kind == K_HUMANEVAL)
        program = loco_codeeval_humaneval_program(it->code_prompt, code, it->test, it->entry_point);
    else if (code && kind == K_GSM8K_POT)
        program = loco_codeeval_mbpp_program("__name__ = '__main__'", code, NULL, 0);
    else if (code)
        program =
            loco_codeeval_mbpp_program(it->test, code, (const char *const *)it->tests, it->n_tests);
    free(code);
    return program;
}

/* The answer's program run in the sandbox into *o, its verdict into detail
 * ("verdict" or "verdict: why"). An error only when the sandbox cannot run,
 * never for a failed program. */
static int run_answer(const struct item *it, enum kind kind, const char *answer,
                      struct loco_code_outcome *o, char *detail, size_t cap)
{
    char *program = answer_program(it, kind, answer);
    if (!program)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory building the program to run");
    struct loco_sandbox_params sp = eval_code_sandbox();
    int rc = loco_codeeval_run(&sp, program, o);
    free(program);
    if (rc)
        return rc;
    size_t k = (size_t)snprintf(detail, cap, "%s", loco_codeeval_verdict_name(o->verdict));
    if (o->detail[0] && k + 2 < cap)
        snprintf(detail + k, cap - k, ": %.*s", (int)(cap - k - 3), o->detail);
    return LOCO_OK;
}

int eval_score_code(const struct item *it, enum kind kind, const char *answer, double *score,
                    char *detail, size_t cap)
{
    struct loco_code_outcome o;
    int rc = run_answer(it, kind, answer, &o, detail, cap);
    if (!rc)
        *score = o.passed ? 1.0 : 0.0;
    return rc;
}

/* gsm8k-pot: when the answer's program runs to its end, what it printed is
 * scored as a number against it->gold (loco_score_numeric: "#### N", else
 * \boxed{N}, else its last number; the numeric scorer's tolerance). A
 * program that fails (even after printing the number), times out or prints
 * no number scores 0; detail says why, or the number read. */
static int score_pot(const struct item *it, const char *answer, double *score, char *detail,
                     size_t cap)
{
    struct loco_code_outcome o;
    int rc = run_answer(it, K_GSM8K_POT, answer, &o, detail, cap);
    if (rc)
        return rc;
    *score = 0;
    if (!o.passed)
        return LOCO_OK;
    int r = loco_score_numeric(o.printed, it->gold ? it->gold : "", detail, cap);
    if (r < 0)
        return r;
    *score = r; /* detail: "number=N rule=last" of what it printed */
    return LOCO_OK;
}

int eval_score_item(const struct item *it, enum kind kind, const char *answer, double *score,
                    char *detail, size_t cap)
{
    detail[0] = '\0';
    switch (kind) {
    case K_GSM8K: {
        char *flex = NULL, *strict = NULL;
        loco_gsm8k_extract(answer, LOCO_GSM8K_FLEXIBLE, &flex);
        loco_gsm8k_extract(answer, LOCO_GSM8K_STRICT, &strict);
        int r = loco_gsm8k_score(answer, it->gold, LOCO_GSM8K_FLEXIBLE);
        int rs = loco_gsm8k_score(answer, it->gold, LOCO_GSM8K_STRICT);
        snprintf(detail, cap, "flexible=%s strict=%s strict_match=%d", flex ? flex : "",
                 strict ? strict : "", rs == 1);
        free(flex);
        free(strict);
        if (r < 0)
            return r;
        *score = r;
        return LOCO_OK;
    }
    case K_GSM8K_POT:
        return score_pot(it, answer, score, detail, cap);
    case K_MBPP:
    case K_HUMANEVAL:
    case K_CODE_CUSTOM:
        return eval_score_code(it, kind, answer, score, detail, cap);
    case K_ROUGE: {
        struct loco_rouge_score s;
        int rc = loco_rouge_l(it->gold ? it->gold : "", answer, true, &s);
        if (rc)
            return rc;
        *score = s.f1;
        snprintf(detail, cap, "p=%.4f r=%.4f", s.precision, s.recall);
        return LOCO_OK;
    }
    case K_ARC: {
        int k = loco_mc_extract(answer, it->arc.choices, it->arc.n_choices);
        *score = k >= 0 && !strcmp(it->arc.choices[k].label, it->gold);
        snprintf(detail, cap, "chose %s", k >= 0 ? it->arc.choices[k].label : "nothing");
        return LOCO_OK;
    }
    case K_EXACT: {
        int r = loco_score_exact_match(answer, it->gold ? it->gold : "", it->norm);
        if (r < 0)
            return r;
        *score = r;
        return LOCO_OK;
    }
    case K_NUMERIC: {
        int r = loco_score_numeric(answer, it->gold ? it->gold : "", detail, cap);
        if (r < 0)
            return r;
        *score = r;
        return LOCO_OK;
    }
    case K_REGEX: {
        int r = loco_score_regex_match(answer, it->pattern, it->gold ? it->gold : "", it->norm,
                                       detail, cap);
        if (r < 0)
            return r;
        *score = r;
        return LOCO_OK;
    }
    case K_JUDGE:
        return LOCO_OK; /* scored by the judge (judge_side) */
    }
    return loco_error_set(LOCO_ERR_INVALID, "unknown benchmark kind");
}

bool eval_is_code(enum kind k)
{
    return k == K_MBPP || k == K_HUMANEVAL || k == K_CODE_CUSTOM;
}

int eval_score_samples(const struct item *src, enum kind kind, struct loco_eval_item *it, int side,
                       struct phase *ph)
{
    char first_fail[160] = "", detail[160];
    uint32_t c = 0;
    for (uint32_t s = 0; s < it->n_samples; s++) {
        double score = 0;
        const char *answer = it->sample_output[side][s] ? it->sample_output[side][s] : "";
        int rc = eval_score_code(src, kind, answer, &score, detail, sizeof detail);
        if (rc)
            return rc;
        it->sample_pass[side][s] = score > 0.5;
        c += score > 0.5;
        if (score <= 0.5 && !first_fail[0])
            snprintf(first_fail, sizeof first_fail, "%s", detail);
        if (ph)
            eval_phase_step(ph, 1);
    }
    it->n_correct[side] = c;
    it->score[side] = (double)c / it->n_samples;
    snprintf(it->detail[side], sizeof it->detail[side], "%u/%u passed%s%.120s", c, it->n_samples,
             first_fail[0] ? "; first failure: " : "", first_fail);
    return LOCO_OK;
}
/* One side of one stored item scored again: its one answer, or every sample. */
static int rescore_side(const struct item *src, enum kind kind, struct loco_eval_item *it, int side)
{
    if (it->n_samples <= 1) {
        if (!strncmp(it->detail[side], "not generated", 13))
            return LOCO_OK; /* scores 0, as when the run made it */
        return eval_score_item(src, kind, it->output[side] ? it->output[side] : "",
                               &it->score[side], it->detail[side], sizeof it->detail[side]);
    }
    return eval_score_samples(src, kind, it, side, NULL);
}

int eval_bench_rescore(const char *bench, const struct loco_eval_params *p,
                       struct loco_eval_bench *b)
{
    const struct bench_def *def = eval_find_builtin(bench);
    if (!bench || (!def && !eval_is_custom(bench)))
        return loco_error_set(LOCO_ERR_NOT_FOUND, "rescore: no benchmark '%s'",
                              bench ? bench : "(null)");
    struct loco_eval_params all = *p;
    all.limit = 0; /* items are matched by id */
    struct item *items = NULL;
    size_t n = 0;
    enum kind kind = b->judged ? K_JUDGE : def ? def->kind : K_EXACT;
    int rc = b->judged ? LOCO_OK /* nothing to score: no items needed */
             : def     ? eval_load_builtin(def, &all, &items, &n)
                       : eval_load_custom(bench, &all, &kind, &items, &n, NULL);
    if (rc)
        return rc;
    uint32_t samples = b->samples > 1 && eval_is_code(kind) ? b->samples : 1;
    b->binary = kind != K_ROUGE && kind != K_JUDGE && samples == 1;
    for (size_t i = 0; !rc && kind != K_JUDGE && i < b->n; i++) {
        struct loco_eval_item *it = &b->items[i];
        const struct item *src = eval_item_by_id(items, n, it->id);
        if (!src)
            rc = loco_error_set(LOCO_ERR_NOT_FOUND, "rescore: %s has no item %s", b->name,
                                it->id ? it->id : "(no id)");
        for (int side = 0; !rc && side < 2; side++)
            rc = rescore_side(src, kind, it, side);
        if (rc)
            loco_error_prefix("%s item %s", b->name, it->id ? it->id : "?");
    }
    eval_items_free(items, n);
    b->n_pass_k = 0;
    if (!rc && samples > 1)
        eval_pass_k_summary(b);
    return rc ? rc : eval_compare(b, p);
}
