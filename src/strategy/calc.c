/*
 * calc.c - the calculator of calculator-annotated decoding (strategy
 * "calc", see loco/strategy.h).
 *
 * GSM8K's reference solutions (Cobbe et al. 2021, "Training Verifiers to
 * Solve Math Word Problems") write each step's arithmetic as an annotation,
 * "<<48/2=24>>"; the authors let a calculator, not the model, write the
 * result after the "=". This file is that calculator: a recursive-descent
 * evaluator of the grammar
 *
 *     expr    := term (('+' | '-') term)*
 *     term    := unary (('*' | '/') unary)*
 *     unary   := '-' unary | primary
 *     primary := number | '(' expr ')'
 *     number  := digits ['.' digits] | '.' digits
 *                (digits may be grouped by thousands: "80,000", "1,250,000.5")
 *
 * with spaces allowed between tokens. No names, no exponents, no other
 * operators: whatever the model writes, the worst it gets is "no result".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loco/core.h"
#include "loco/strategy.h"

#define CALC_MAX_ABS 1e15  /* larger values are refused: doubles lose integers past 2^53 */
#define CALC_MAX_DIGITS 18 /* digits in one number */

struct parser {
    const char *s;
    size_t len, at;
    int depth; /* nested parentheses and unary minuses */
    int status;
};

static int fail(struct parser *p, int status)
{
    if (p->status == LOCO_OK)
        p->status = status;
    return status;
}

static void skip_spaces(struct parser *p)
{
    while (p->at < p->len && p->s[p->at] == ' ')
        p->at++;
}

static int peek(struct parser *p)
{
    skip_spaces(p);
    return p->at < p->len ? (unsigned char)p->s[p->at] : -1;
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* A value in range, or a failure. */
static double checked(struct parser *p, double v)
{
    if (!isfinite(v) || fabs(v) > CALC_MAX_ABS)
        fail(p, LOCO_ERR_RANGE);
    return v;
}

/* Whether a thousands group ",ddd" (exactly three digits) starts at `at`. */
static bool thousands_group(const struct parser *p, size_t at)
{
    if (at + 4 > p->len || p->s[at] != ',')
        return false;
    for (size_t i = 1; i <= 3; i++)
        if (!is_digit(p->s[at + i]))
            return false;
    return at + 4 == p->len || !is_digit(p->s[at + 4]);
}

static double number(struct parser *p)
{
    double v = 0.0, scale = 1.0;
    int digits = 0;
    while (p->at < p->len && is_digit(p->s[p->at]) && ++digits <= CALC_MAX_DIGITS)
        v = 10.0 * v + (p->s[p->at++] - '0');
    /* "80,000": groups of three after a lead of one to three digits */
    if (digits >= 1 && digits <= 3 && thousands_group(p, p->at)) {
        while (thousands_group(p, p->at) && digits + 3 <= CALC_MAX_DIGITS) {
            for (size_t i = 1; i <= 3; i++)
                v = 10.0 * v + (p->s[p->at + i] - '0');
            p->at += 4;
            digits += 3;
        }
        if (p->at < p->len && p->s[p->at] == ',')
            fail(p, LOCO_ERR_FORMAT); /* "1,000,00" */
    }
    if (p->at < p->len && p->s[p->at] == '.') {
        p->at++;
        int frac = 0;
        while (p->at < p->len && is_digit(p->s[p->at]) && ++digits <= CALC_MAX_DIGITS) {
            scale /= 10.0;
            v += scale * (p->s[p->at++] - '0');
            frac++;
        }
        if (frac == 0)
            fail(p, LOCO_ERR_FORMAT); /* "3." */
    }
    if (digits == 0 || digits > CALC_MAX_DIGITS)
        fail(p, digits ? LOCO_ERR_RANGE : LOCO_ERR_FORMAT);
    return checked(p, v);
}

static double expr(struct parser *p);

static double unary(struct parser *p)
{
    int c = peek(p);
    if (c == '-' || c == '(') {
        if (++p->depth > LOCO_CALC_MAX_DEPTH)
            return fail(p, LOCO_ERR_RANGE), 0.0;
        p->at++;
        double v = c == '-' ? -unary(p) : expr(p);
        if (c == '(' && peek(p) != ')')
            fail(p, LOCO_ERR_FORMAT);
        else if (c == '(')
            p->at++;
        p->depth--;
        return v;
    }
    if (is_digit(c) || c == '.')
        return number(p);
    return fail(p, LOCO_ERR_FORMAT), 0.0;
}

static double term(struct parser *p)
{
    double v = unary(p);
    for (int c = peek(p); p->status == LOCO_OK && (c == '*' || c == '/'); c = peek(p)) {
        p->at++;
        double r = unary(p);
        if (c == '/' && r == 0.0)
            return fail(p, LOCO_ERR_RANGE), 0.0;
        v = checked(p, c == '*' ? v * r : v / r);
    }
    return v;
}

static double expr(struct parser *p)
{
    double v = term(p);
    for (int c = peek(p); p->status == LOCO_OK && (c == '+' || c == '-'); c = peek(p)) {
        p->at++;
        double r = term(p);
        v = checked(p, c == '+' ? v + r : v - r);
    }
    return v;
}

int loco_calc_eval(const char *s, size_t len, double *out)
{
    *out = 0.0;
    if (!s || len == 0 || len > LOCO_CALC_MAX_LEN)
        return loco_error_set(LOCO_ERR_FORMAT, "calc: an expression of 1 to %d bytes is needed",
                              LOCO_CALC_MAX_LEN);
    struct parser p = {.s = s, .len = len};
    double v = expr(&p);
    if (p.status == LOCO_OK && peek(&p) != -1)
        fail(&p, LOCO_ERR_FORMAT); /* something after a whole expression */
    if (p.status != LOCO_OK)
        return loco_error_set(p.status, "calc: '%.*s' is %s at byte %zu", (int)len, s,
                              p.status == LOCO_ERR_RANGE ? "out of range (division by zero, "
                                                           "too large or too deep)"
                                                         : "not arithmetic",
                              p.at);
    *out = v == 0.0 ? 0.0 : v; /* no "-0" */
    return LOCO_OK;
}

const char *loco_calc_format(double v, char *buf, size_t cap)
{
    double r = round(v);
    if (fabs(v - r) < 1e-9 * fmax(1.0, fabs(v))) {
        snprintf(buf, cap, "%.0f", r == 0.0 ? 0.0 : r);
        return buf;
    }
    snprintf(buf, cap, "%.6f", v);
    char *dot = strchr(buf, '.');
    if (dot) { /* trim trailing zeros (and a bare point) */
        char *end = buf + strlen(buf);
        while (end > dot + 1 && end[-1] == '0')
            *--end = '\0';
        if (end == dot + 1)
            *dot = '\0';
    }
    return buf;
}

/* The start of the last "<<" in text[0, len), or NULL; only the last
 * LOCO_CALC_MAX_LEN + 2 bytes are searched: an annotation opened further
 * back is too long anyway, and the answer is not rescanned per token. */
static const char *last_open(const char *text, size_t len)
{
    size_t stop = len > LOCO_CALC_MAX_LEN + 2 ? len - (LOCO_CALC_MAX_LEN + 2) : 0;
    for (size_t i = len; i >= 2 && i >= stop + 2; i--)
        if (text[i - 2] == '<' && text[i - 1] == '<')
            return text + i;
    return NULL;
}

bool loco_calc_injection(const char *text, size_t len, char *buf, size_t cap)
{
    if (!text || len < 3 || text[len - 1] != '=' || cap < 32)
        return false;
    const char *e = last_open(text, len - 1);
    if (!e)
        return false;
    size_t n = (size_t)(text + len - 1 - e);
    if (n == 0 || n > LOCO_CALC_MAX_LEN || memchr(e, '=', n) || memchr(e, '>', n) ||
        memchr(e, '\n', n))
        return false; /* closed, already has a result, or not one annotation */
    double v;
    if (loco_calc_eval(e, n, &v) != LOCO_OK) {
        loco_error_clear();
        return false;
    }
    char num[32];
    snprintf(buf, cap, "%s>>", loco_calc_format(v, num, sizeof num));
    return true;
}
