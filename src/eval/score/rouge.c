/*
 * rouge.c - ROUGE-L as Google's rouge-score package computes it
 * (rouge_score/tokenize.py and rouge_scorer.py, RougeScorer(["rougeL"],
 * use_stemmer=True)).
 *
 * Tokens: lower-case, every character outside [a-z0-9] becomes a
 * separator, tokens longer than 3 characters are Porter-stemmed
 * (porter.c), empty tokens are dropped.
 *
 * Score (Lin 2004, "ROUGE: A Package for Automatic Evaluation of
 * Summaries", section 3.1): with L the length of the longest common
 * subsequence of the reference's r tokens and the candidate's c tokens,
 *   P = L / c,  R = L / r,  F1 = 2PR / (P + R)   (0 when P + R = 0).
 */
#include <stdlib.h>
#include <string.h>

#include "eval/score/score_internal.h"
#include "loco/score.h"

/* ---- tokenizer -------------------------------------------------------- */

/* Python's str.lower() maps exactly two non-ASCII code points to ASCII
 * letters: U+0130 (capital I with dot above) to "i" + U+0307 (a combining
 * dot, so a separator follows) and U+212A (Kelvin sign) to "k". Returns the
 * ASCII letter and the UTF-8 length consumed, or 0 when the bytes at p are
 * something else. */
static char ascii_from_lower(const unsigned char *p, size_t *used, bool *ends_token)
{
    *ends_token = false;
    if (p[0] == 0xC4 && p[1] == 0xB0) {
        *used = 2;
        *ends_token = true;
        return 'i';
    }
    if (p[0] == 0xE2 && p[1] == 0x84 && p[2] == 0xAA) {
        *used = 3;
        return 'k';
    }
    return 0;
}

/* Rewrite text into buf as lower-case tokens separated by single NULs;
 * returns the number of tokens. buf needs strlen(text) + 1 bytes: every
 * output byte comes from at least one input byte. */
static size_t split_tokens(const char *text, char *buf)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t n_out = 0, n_tok = 0;
    bool in_token = false;
    while (*p) {
        size_t used = 1;
        bool ends_token = false;
        char c = score_lower((char)*p);
        if (*p >= 0x80)
            c = ascii_from_lower(p, &used, &ends_token);
        bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (keep) {
            if (!in_token)
                n_tok++;
            buf[n_out++] = c;
            in_token = true;
        }
        if (in_token && (!keep || ends_token)) {
            buf[n_out++] = '\0';
            in_token = false;
        }
        p += used;
    }
    buf[n_out] = '\0';
    return n_tok;
}

void loco_rouge_tokens_free(struct loco_rouge_tokens *t)
{
    if (!t)
        return;
    free(t->buf);
    free(t->tok);
    memset(t, 0, sizeof *t);
}

int loco_rouge_tokenize(const char *text, bool stem, struct loco_rouge_tokens *out)
{
    if (!text || !out)
        return loco_error_set(LOCO_ERR_INVALID, "rouge tokenize: NULL text or output");
    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    out->buf = malloc(len + 1);
    if (!out->buf)
        return loco_error_set(LOCO_ERR_NOMEM, "rouge tokenize: out of memory for %zu bytes", len);
    size_t n = split_tokens(text, out->buf);
    out->tok = malloc((n ? n : 1) * sizeof *out->tok);
    if (!out->tok) {
        loco_rouge_tokens_free(out);
        return loco_error_set(LOCO_ERR_NOMEM, "rouge tokenize: out of memory for %zu tokens", n);
    }
    char *p = out->buf;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(p);
        out->tok[i] = p;
        if (stem && k > 3) /* rouge-score stems only tokens longer than 3 */
            p[score_porter_stem_inplace(p, k)] = '\0';
        p += k + 1;
    }
    out->n = n;
    return LOCO_OK;
}

/* ---- LCS -------------------------------------------------------------- */

/* Length of the longest common subsequence of a[0..na) and b[0..nb), by the
 * usual dynamic programme kept to two rows of nb + 1 (Cormen et al. 15.4). */
static int lcs_length(char *const *a, size_t na, char *const *b, size_t nb, size_t *len)
{
    size_t *prev = calloc(nb + 1, sizeof *prev);
    size_t *cur = calloc(nb + 1, sizeof *cur);
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return loco_error_set(LOCO_ERR_NOMEM, "rouge: out of memory for a %zu-token LCS row", nb);
    }
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            if (strcmp(a[i - 1], b[j - 1]) == 0)
                cur[j] = prev[j - 1] + 1;
            else
                cur[j] = prev[j] > cur[j - 1] ? prev[j] : cur[j - 1];
        }
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    *len = prev[nb];
    free(prev);
    free(cur);
    return LOCO_OK;
}

int loco_rouge_l(const char *reference, const char *candidate, bool stem,
                 struct loco_rouge_score *out)
{
    if (!reference || !candidate || !out)
        return loco_error_set(LOCO_ERR_INVALID, "rouge-L: NULL reference, candidate or output");
    memset(out, 0, sizeof *out);
    struct loco_rouge_tokens ref, cand;
    int rc = loco_rouge_tokenize(reference, stem, &ref);
    if (rc < 0)
        return rc;
    rc = loco_rouge_tokenize(candidate, stem, &cand);
    if (rc < 0) {
        loco_rouge_tokens_free(&ref);
        return rc;
    }
    size_t l = 0;
    if (ref.n > 0 && cand.n > 0)
        rc = lcs_length(ref.tok, ref.n, cand.tok, cand.n, &l);
    if (rc == LOCO_OK && l > 0) {
        out->precision = (double)l / (double)cand.n;
        out->recall = (double)l / (double)ref.n;
        out->f1 = 2.0 * out->precision * out->recall / (out->precision + out->recall);
    }
    loco_rouge_tokens_free(&ref);
    loco_rouge_tokens_free(&cand);
    return rc;
}
