/*
 * porter.c - the Porter stemmer as NLTK's PorterStemmer runs it in its
 * default NLTK_EXTENSIONS mode, which rouge-score uses.
 *
 * Algorithm: M.F. Porter, "An algorithm for suffix stripping", Program
 * 14(3), 1980. Words are written [C](VC)^m[V]; m is the "measure". NLTK's
 * changes, each marked "NLTK:" below: a table of irregular forms, words of
 * one or two letters left alone, "ies"/"ied" on four-letter words keep
 * their "ie", step 1b's "ied" -> "i", step 1c's y -> i only after a
 * consonant that is not the first letter, step 2 tries "alli" first and
 * adds "fulli" and "logi", and *o also holds for a two-letter vc stem.
 *
 * Rule lists follow the paper: the FIRST rule whose suffix the word ends
 * with decides; if its condition fails the word is left as it is.
 *
 * The stem is built in place: every rule removes a suffix before it adds
 * at most as many letters, so a word's buffer is always big enough.
 */
#include <string.h>

#include "eval/score/score_internal.h"
#include "loco/score.h"

/* ---- letters, measure and the *v* *d *o conditions --------------------- */

static bool is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* A consonant is a letter other than a e i o u, and other than a y that
 * follows a consonant. Walk back over a run of y's: each flips the answer. */
static bool is_cons(const char *w, size_t i)
{
    bool flip = false;
    while (i > 0 && w[i] == 'y') {
        flip = !flip;
        i--;
    }
    return !is_vowel(w[i]) != flip;
}

/* Consonant flag of w[i] given the flag of w[i-1]: one left-to-right pass
 * classifies a whole word in O(n), even a run of y's. */
static bool next_cons(const char *w, size_t i, bool prev_cons)
{
    if (is_vowel(w[i]))
        return false;
    return w[i] == 'y' && i > 0 ? !prev_cons : true;
}

/* m of w[0..n): the number of vowel -> consonant transitions. */
static int measure(const char *w, size_t n)
{
    int m = 0;
    bool prev_cons = true;
    for (size_t i = 0; i < n; i++) {
        bool cons = next_cons(w, i, prev_cons);
        if (cons && !prev_cons)
            m++;
        prev_cons = cons;
    }
    return m;
}

static bool has_vowel(const char *w, size_t n) /* *v* */
{
    bool cons = true;
    for (size_t i = 0; i < n; i++) {
        cons = next_cons(w, i, cons);
        if (!cons)
            return true;
    }
    return false;
}

static bool ends_double_cons(const char *w, size_t n) /* *d */
{
    return n >= 2 && w[n - 1] == w[n - 2] && is_cons(w, n - 1);
}

static bool ends_cvc(const char *w, size_t n) /* *o */
{
    if (n >= 3 && is_cons(w, n - 3) && !is_cons(w, n - 2) && is_cons(w, n - 1) && w[n - 1] != 'w' &&
        w[n - 1] != 'x' && w[n - 1] != 'y')
        return true;
    return n == 2 && !is_cons(w, 0) && is_cons(w, 1); /* NLTK */
}

static bool ends_with(const char *w, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return k <= n && memcmp(w + n - k, suffix, k) == 0;
}

/* ---- rule lists ------------------------------------------------------- */

enum cond { C_NONE, C_M0, C_M1, C_ION, C_LOGI };

struct rule {
    const char *suffix, *repl;
    enum cond cond;
};

/* Does the condition hold for stem w[0..stem) of the word w[0..n)? */
static bool cond_holds(enum cond c, const char *w, size_t stem, size_t n)
{
    switch (c) {
    case C_NONE:
        return true;
    case C_M0:
        return measure(w, stem) > 0;
    case C_M1:
        return measure(w, stem) > 1;
    case C_ION: /* (m>1 and (*S or *T)) */
        return measure(w, stem) > 1 && stem > 0 && (w[stem - 1] == 's' || w[stem - 1] == 't');
    case C_LOGI: /* NLTK: the 'l' stays with the stem for the test */
        return measure(w, n - 3) > 0;
    }
    return false;
}

/* Apply the first rule whose suffix matches; true when one matched (even if
 * its condition failed and the word was kept). */
static bool apply_rules(char *w, size_t *n, const struct rule *rules, size_t n_rules)
{
    for (size_t i = 0; i < n_rules; i++) {
        if (!ends_with(w, *n, rules[i].suffix))
            continue;
        size_t stem = *n - strlen(rules[i].suffix);
        if (cond_holds(rules[i].cond, w, stem, *n)) {
            size_t r = strlen(rules[i].repl);
            memcpy(w + stem, rules[i].repl, r);
            *n = stem + r;
        }
        return true;
    }
    return false;
}

static void replace_tail(char *w, size_t *n, size_t drop, const char *repl)
{
    size_t r = strlen(repl);
    memcpy(w + *n - drop, repl, r);
    *n = *n - drop + r;
}

#define N_RULES(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the steps -------------------------------------------------------- */

static void step1a(char *w, size_t *n)
{
    static const struct rule rules[] = {
        {"sses", "ss", C_NONE}, {"ies", "i", C_NONE}, {"ss", "ss", C_NONE}, {"s", "", C_NONE}};
    if (*n == 4 && ends_with(w, *n, "ies")) { /* NLTK: ties -> tie */
        replace_tail(w, n, 3, "ie");
        return;
    }
    apply_rules(w, n, rules, N_RULES(rules));
}

/* After "ed"/"ing" came off: at -> ate, bl -> ble, iz -> ize, undouble a
 * final double consonant other than l s z, or add e to a short cvc stem. */
static void step1b_tidy(char *w, size_t *n)
{
    if (ends_with(w, *n, "at") || ends_with(w, *n, "bl") || ends_with(w, *n, "iz")) {
        w[(*n)++] = 'e';
    } else if (ends_double_cons(w, *n)) {
        char c = w[*n - 1];
        if (c != 'l' && c != 's' && c != 'z')
            (*n)--;
    } else if (measure(w, *n) == 1 && ends_cvc(w, *n)) {
        w[(*n)++] = 'e';
    }
}

static void step1b(char *w, size_t *n)
{
    if (ends_with(w, *n, "ied")) { /* NLTK: died -> die, spied -> spi */
        replace_tail(w, n, 3, *n == 4 ? "ie" : "i");
        return;
    }
    if (ends_with(w, *n, "eed")) { /* (m>0) EED -> EE */
        if (measure(w, *n - 3) > 0)
            (*n)--;
        return;
    }
    size_t cut = 0;
    if (ends_with(w, *n, "ed") && has_vowel(w, *n - 2))
        cut = 2;
    else if (ends_with(w, *n, "ing") && has_vowel(w, *n - 3))
        cut = 3;
    if (cut == 0)
        return;
    *n -= cut;
    step1b_tidy(w, n);
}

static void step1c(char *w, size_t *n) /* NLTK: (*c and not c) Y -> I */
{
    if (ends_with(w, *n, "y") && *n - 1 > 1 && is_cons(w, *n - 2))
        w[*n - 1] = 'i';
}

static void step2(char *w, size_t *n)
{
    static const struct rule rules[] = {
        {"ational", "ate", C_M0}, {"tional", "tion", C_M0}, {"enci", "ence", C_M0},
        {"anci", "ance", C_M0},   {"izer", "ize", C_M0},    {"bli", "ble", C_M0},
        {"alli", "al", C_M0},     {"entli", "ent", C_M0},   {"eli", "e", C_M0},
        {"ousli", "ous", C_M0},   {"ization", "ize", C_M0}, {"ation", "ate", C_M0},
        {"ator", "ate", C_M0},    {"alism", "al", C_M0},    {"iveness", "ive", C_M0},
        {"fulness", "ful", C_M0}, {"ousness", "ous", C_M0}, {"aliti", "al", C_M0},
        {"iviti", "ive", C_M0},   {"biliti", "ble", C_M0},  {"fulli", "ful", C_M0}, /* NLTK */
        {"logi", "log", C_LOGI},                                                    /* NLTK */
    };
    /* NLTK: "alli" -> "al" first, then step 2 again on the result */
    if (ends_with(w, *n, "alli") && measure(w, *n - 4) > 0) {
        replace_tail(w, n, 4, "al");
        step2(w, n);
        return;
    }
    apply_rules(w, n, rules, N_RULES(rules));
}

static void step3(char *w, size_t *n)
{
    static const struct rule rules[] = {
        {"icate", "ic", C_M0}, {"ative", "", C_M0}, {"alize", "al", C_M0}, {"iciti", "ic", C_M0},
        {"ical", "ic", C_M0},  {"ful", "", C_M0},   {"ness", "", C_M0},
    };
    apply_rules(w, n, rules, N_RULES(rules));
}

static void step4(char *w, size_t *n)
{
    static const struct rule rules[] = {
        {"al", "", C_M1},    {"ance", "", C_M1}, {"ence", "", C_M1}, {"er", "", C_M1},
        {"ic", "", C_M1},    {"able", "", C_M1}, {"ible", "", C_M1}, {"ant", "", C_M1},
        {"ement", "", C_M1}, {"ment", "", C_M1}, {"ent", "", C_M1},  {"ion", "", C_ION},
        {"ou", "", C_M1},    {"ism", "", C_M1},  {"ate", "", C_M1},  {"iti", "", C_M1},
        {"ous", "", C_M1},   {"ive", "", C_M1},  {"ize", "", C_M1},
    };
    apply_rules(w, n, rules, N_RULES(rules));
}

static void step5a(char *w, size_t *n) /* (m>1) E -> ; (m=1 and not *o) E -> */
{
    if (!ends_with(w, *n, "e"))
        return;
    int m = measure(w, *n - 1);
    if (m > 1 || (m == 1 && !ends_cvc(w, *n - 1)))
        (*n)--;
}

static void step5b(char *w, size_t *n) /* (m>1 and *d and *L) -> single letter */
{
    if (ends_with(w, *n, "ll") && measure(w, *n - 1) > 1)
        (*n)--;
}

/* ---- irregular forms (NLTK) -------------------------------------------- */

static const char *irregular(const char *w, size_t n)
{
    static const char *const table[][2] = {
        {"sky", "sky"},         {"skies", "sky"},        {"dying", "die"},
        {"lying", "lie"},       {"tying", "tie"},        {"news", "news"},
        {"innings", "inning"},  {"inning", "inning"},    {"outings", "outing"},
        {"outing", "outing"},   {"cannings", "canning"}, {"canning", "canning"},
        {"howe", "howe"},       {"proceed", "proceed"},  {"exceed", "exceed"},
        {"succeed", "succeed"},
    };
    for (size_t i = 0; i < N_RULES(table); i++)
        if (strlen(table[i][0]) == n && memcmp(table[i][0], w, n) == 0)
            return table[i][1];
    return NULL;
}

/* ---- entry points ----------------------------------------------------- */

/* Stem w[0..n) in place (lower-case already); returns the new length. */
size_t score_porter_stem_inplace(char *w, size_t n)
{
    const char *irr = irregular(w, n);
    if (irr) {
        size_t k = strlen(irr);
        memcpy(w, irr, k);
        return k;
    }
    if (n <= 2)
        return n;
    step1a(w, &n);
    step1b(w, &n);
    step1c(w, &n);
    step2(w, &n);
    step3(w, &n);
    step4(w, &n);
    step5a(w, &n);
    step5b(w, &n);
    return n;
}

int loco_porter_stem(const char *word, char *out, size_t cap)
{
    if (!word || !out)
        return loco_error_set(LOCO_ERR_INVALID, "porter stem: NULL word or output");
    size_t n = strlen(word);
    if (cap <= n || n > INT32_MAX)
        return loco_error_set(LOCO_ERR_RANGE,
                              "porter stem: output of %zu bytes too small for \"%.40s\" (%zu)", cap,
                              word, n + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = score_lower(word[i]);
    n = score_porter_stem_inplace(out, n);
    out[n] = '\0';
    return (int)n;
}
