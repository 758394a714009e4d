/*
 * judge.c - the judge's rubric prompts and reading its verdict (see
 * loco/judge.h). The HTTP side is in judge_http.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/sbuf.h"
#include "loco/judge.h"

struct loco_judge_params loco_judge_default_params(void)
{
    return (struct loco_judge_params){.rubric = LOCO_JUDGE_MTBENCH,
                                      .n_judgments = 3,
                                      .temperature = 0.7f,
                                      .max_tokens = 512,
                                      .timeout_s = 120,
                                      .retries = 2};
}

/* ---- rubric ---------------------------------------------------------------- */

const char *loco_judge_rubric_name(enum loco_judge_rubric r)
{
    return r == LOCO_JUDGE_PROMETHEUS ? "prometheus"
           : r == LOCO_JUDGE_MTBENCH  ? "mtbench"
                                      : "unknown";
}

int loco_judge_rubric_parse(const char *name, enum loco_judge_rubric *out)
{
    if (name && !strcmp(name, "mtbench"))
        *out = LOCO_JUDGE_MTBENCH;
    else if (name && !strcmp(name, "prometheus"))
        *out = LOCO_JUDGE_PROMETHEUS;
    else
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "no judge rubric '%s' (known: mtbench, "
                              "prometheus)",
                              name ? name : "");
    return LOCO_OK;
}

int32_t loco_judge_rubric_max(enum loco_judge_rubric r)
{
    return r == LOCO_JUDGE_PROMETHEUS ? 5 : 10;
}

const char *loco_judge_system_prompt(void)
{
    return "You are an impartial judge of written answers. You read a request and an "
           "assistant's answer to it, and you rate the answer by the rubric you are given.";
}

/* MT-Bench-style single-answer grading, 1-10. */
static const char MTBENCH_HEAD[] =
    "Judge the quality of the answer an AI assistant gave to the request below.\n\n"
    "Consider how well the answer does what was asked: helpfulness, relevance, accuracy, "
    "depth, creativity and level of detail. For writing, also consider whether the voice, form "
    "and tone fit the request and whether the text reads well. Do not let the length of the "
    "answer sway you: a short answer that does the job well can earn a high rating. Be as "
    "objective as you can.\n\n"
    "Rate the answer from 1 to 10:\n"
    "1-2: ignores the request, is incoherent, or is harmful.\n"
    "3-4: attempts the request but misses its main point or has serious errors.\n"
    "5-6: does part of what was asked; plain, with clear flaws.\n"
    "7-8: does what was asked well, with minor flaws.\n"
    "9-10: does what was asked excellently; hard to improve.\n";

static const char MTBENCH_TAIL[] =
    "First give a short explanation. Then end with your rating, a whole number from 1 to 10, "
    "written after \"Rating: \" inside double square brackets.";

/* Prometheus-style absolute grading, 1-5, each level described. */
static const char PROMETHEUS_HEAD[] =
    "###Task description:\n"
    "A request, an answer to evaluate and a score rubric are given (and sometimes a reference "
    "answer that would score 5).\n"
    "1. Write brief feedback that assesses the answer strictly by the score rubric, not in "
    "general.\n"
    "2. Then give a score, a whole number from 1 to 5, written after \"Rating: \" inside "
    "double square brackets.\n";

static const char PROMETHEUS_LEVELS[] =
    "Score 1: the answer ignores the request or is incoherent.\n"
    "Score 2: the answer attempts the request but misses its main point.\n"
    "Score 3: the answer does part of what was asked, with clear flaws.\n"
    "Score 4: the answer does what was asked well, with minor flaws.\n"
    "Score 5: the answer does what was asked excellently, in a fitting voice and form.\n";

static const char PROMETHEUS_CRITERIA[] =
    "Does the answer do what the request asks, in a voice and form that fit it, and does it "
    "read well?";

static bool given(const char *s)
{
    return s && s[0];
}

static char *mtbench_prompt(const char *q, const char *a, const char *ref, const char *crit)
{
    return loco_str_printf(
        "%s%s%s%s%s%s%s\n[Request]\n%s\n\n[The start of the assistant's answer]\n"
        "%s\n[The end of the assistant's answer]\n\n%s",
        MTBENCH_HEAD, given(crit) ? "\n[What to grade]\n" : "", given(crit) ? crit : "",
        given(crit) ? "\n" : "", given(ref) ? "\n[A reference answer]\n" : "",
        given(ref) ? ref : "", given(ref) ? "\n" : "", q, a, MTBENCH_TAIL);
}

static char *prometheus_prompt(const char *q, const char *a, const char *ref, const char *crit)
{
    return loco_str_printf("%s\n###Request:\n%s\n\n###Answer to evaluate:\n%s\n\n%s%s%s"
                           "###Score rubric:\n[%s]\n%s\n###Feedback:",
                           PROMETHEUS_HEAD, q, a,
                           given(ref) ? "###Reference answer (score 5):\n" : "",
                           given(ref) ? ref : "", given(ref) ? "\n\n" : "",
                           given(crit) ? crit : PROMETHEUS_CRITERIA, PROMETHEUS_LEVELS);
}

char *loco_judge_prompt(enum loco_judge_rubric r, const char *question, const char *answer,
                        const char *reference, const char *criteria)
{
    if (!question || !answer)
        return NULL;
    return r == LOCO_JUDGE_PROMETHEUS ? prometheus_prompt(question, answer, reference, criteria)
                                      : mtbench_prompt(question, answer, reference, criteria);
}

/* ---- reading the verdict ----------------------------------------------------- */

#define MAX_DIGITS 6

/* A number at s: digits with an optional ".digits". Returns the bytes read
 * (0: none); *too_long when the integer part has more than MAX_DIGITS. */
static size_t read_number(const char *s, double *v, bool *too_long)
{
    size_t i = 0;
    while (isdigit((unsigned char)s[i]))
        i++;
    if (i == 0)
        return 0;
    size_t int_len = i;
    if (s[i] == '.' && isdigit((unsigned char)s[i + 1]))
        for (i++; isdigit((unsigned char)s[i]);)
            i++;
    *too_long = int_len > MAX_DIGITS;
    if (!*too_long) {
        char buf[32];
        size_t n = i < sizeof buf - 1 ? i : sizeof buf - 1; /* long decimals: precision enough */
        memcpy(buf, s, n);
        buf[n] = '\0';
        *v = strtod(buf, NULL);
    }
    return i;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* 1: "[[N]]" at s, the number in *v. */
static bool bracketed(const char *s, double *v, bool *too_long)
{
    if (s[0] != '[' || s[1] != '[')
        return false;
    const char *p = skip_spaces(s + 2);
    size_t n = read_number(p, v, too_long);
    if (!n)
        return false;
    p = skip_spaces(p + n);
    return p[0] == ']' && p[1] == ']';
}

/* 2: "Rating" + separators + N [/M] at s. *denominator is 0 when absent. */
static bool labelled(const char *text, const char *s, double *v, bool *too_long, long *denominator)
{
    if (strncasecmp(s, "rating", 6) || (s > text && isalpha((unsigned char)s[-1])))
        return false;
    const char *p = s + 6;
    for (int k = 0; k < 6 && *p && strchr(" :*=[(\t", *p); k++)
        p++;
    size_t n = read_number(p, v, too_long);
    if (!n)
        return false;
    p = skip_spaces(p + n);
    *denominator = 0;
    if (*p == '/') {
        p = skip_spaces(p + 1);
        double d;
        bool long_d = false;
        if (read_number(p, &d, &long_d))
            *denominator = long_d ? -1 : (long)d;
    }
    return true;
}

/* 3: "[RESULT] N" at s. */
static bool result_tag(const char *s, double *v, bool *too_long)
{
    if (strncmp(s, "[RESULT]", 8))
        return false;
    return read_number(skip_spaces(s + 8), v, too_long) > 0;
}

static int accept(double v, bool too_long, long denominator, int32_t max, double *rating)
{
    if (too_long || v < 1 || v > max || (denominator && denominator != max))
        return LOCO_ERR_RANGE;
    *rating = v;
    return LOCO_OK;
}

int loco_judge_parse_rating(const char *reply, int32_t max, double *rating)
{
    if (!reply || max < 2)
        return LOCO_ERR_INVALID;
    double v = 0;
    bool too_long = false;
    long denominator = 0;
    for (const char *s = reply; *s; s++)
        if (bracketed(s, &v, &too_long))
            return accept(v, too_long, 0, max, rating);
    for (const char *s = reply; *s; s++)
        if (labelled(reply, s, &v, &too_long, &denominator))
            return accept(v, too_long, denominator, max, rating);
    for (const char *s = reply; *s; s++)
        if (result_tag(s, &v, &too_long))
            return accept(v, too_long, 0, max, rating);
    return LOCO_ERR_NOT_FOUND;
}

double loco_judge_normalise(double rating, int32_t max)
{
    return max > 1 ? (rating - 1.0) / (double)(max - 1) : 0.0;
}
