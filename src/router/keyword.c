/*
 * keyword.c - the keyword router (v1): each domain's score is the weight of
 * its adapters' keywords found in the query; a softmax over the scores and
 * a fixed score for "base" gives the probabilities; the margin rule sends
 * an ambiguous query to the base model.
 *
 * Matching is on words: the query and every keyword are lower-cased (ASCII)
 * and split at anything that is not a letter or a digit ("tl;dr" is the
 * phrase "tl dr"). A one-word keyword also matches its plural (+s, +es). A
 * keyword counts once however often it occurs; a phrase of w words weighs
 * 1 + 0.5 (w - 1), since a phrase is stronger evidence than a word, and a
 * match in the query's instruction (its first line, at most
 * LOCO_KEYWORD_LEAD_WORDS words) counts LOCO_KEYWORD_LEAD_FACTOR times: in
 * "Summarise this news story: <article>" the request is the first line and
 * the article's words are weak evidence.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_internal.h"

#define MAX_WORDS 4096
#define MAX_WORD 48

/* Words of text, lower-cased, into a malloc'd array of fixed-size words;
 * n_lead (may be NULL) receives how many of them are the instruction (the
 * first line, at most LOCO_KEYWORD_LEAD_WORDS words). */
static size_t split_words_lead(const char *text, char (**out)[MAX_WORD], size_t *n_lead)
{
    bool in_lead = true;
    if (n_lead)
        *n_lead = 0;
    size_t cap = 16, n = 0;
    char(*w)[MAX_WORD] = malloc(cap * sizeof *w);
    if (!w) {
        *out = NULL;
        return 0;
    }
    const unsigned char *p = (const unsigned char *)text;
    while (*p && n < MAX_WORDS) {
        while (*p && !isalnum(*p)) {
            if (*p == '\n' && n > 0)
                in_lead = false;
            p++;
        }
        if (!*p)
            break;
        size_t len = 0;
        if (n == cap) {
            char(*grown)[MAX_WORD] = realloc(w, 2 * cap * sizeof *w);
            if (!grown)
                break;
            w = grown;
            cap *= 2;
        }
        while (*p && isalnum(*p)) {
            if (len + 1 < MAX_WORD)
                w[n][len++] = (char)tolower(*p);
            p++;
        }
        w[n++][len] = '\0';
        if (in_lead && n_lead && n <= LOCO_KEYWORD_LEAD_WORDS)
            *n_lead = n;
    }
    *out = w;
    return n;
}

static size_t split_words(const char *text, char (**out)[MAX_WORD])
{
    return split_words_lead(text, out, NULL);
}

static bool word_matches(const char *word, const char *kw, bool allow_plural)
{
    size_t kl = strlen(kw);
    if (strncmp(word, kw, kl) != 0)
        return false;
    const char *rest = word + kl;
    return !*rest || (allow_plural && (!strcmp(rest, "s") || !strcmp(rest, "es")));
}

/* Whether the phrase kw[0..nk) occurs in words[0..nw); first position in *at. */
static bool phrase_found(char (*words)[MAX_WORD], size_t nw, char (*kw)[MAX_WORD], size_t nk,
                         size_t *at)
{
    for (size_t i = 0; nk && i + nk <= nw; i++) {
        size_t j = 0;
        while (j < nk && word_matches(words[i + j], kw[j], nk == 1))
            j++;
        if (j == nk) {
            *at = i;
            return true;
        }
    }
    return false;
}

static double keyword_weight(size_t n_words)
{
    return 1.0 + 0.5 * (double)(n_words - 1);
}

/* The weight of a keyword of nk words found at word `at`. */
static double match_weight(size_t nk, size_t at, size_t n_lead)
{
    return keyword_weight(nk) * (at + nk <= n_lead ? LOCO_KEYWORD_LEAD_FACTOR : 1.0);
}

double loco_keyword_score(const char *query, const char *const *keywords, size_t n)
{
    char(*words)[MAX_WORD];
    size_t n_lead;
    size_t nw = split_words_lead(query ? query : "", &words, &n_lead);
    double score = 0;
    for (size_t k = 0; k < n; k++) {
        char(*kw)[MAX_WORD];
        size_t nk = split_words(keywords[k], &kw);
        size_t at;
        if (nk && phrase_found(words, nw, kw, nk, &at))
            score += match_weight(nk, at, n_lead);
        free(kw);
    }
    free(words);
    return score;
}

/* ---- the router ------------------------------------------------------------ */

struct kw {
    char (*words)[MAX_WORD];
    size_t n;
    const char *text;
};

struct kw_domain {
    struct kw *kws;
    size_t n;
};

struct kw_state {
    struct kw_domain d[LOCO_ROUTE_MAX_DOMAINS];
    size_t n_domains;
};

static void kw_free(void *state)
{
    struct kw_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_domains; i++) {
        for (size_t k = 0; k < s->d[i].n; k++)
            free(s->d[i].kws[k].words);
        free(s->d[i].kws);
    }
    free(s);
}

static bool already_has(const struct kw_domain *d, const char *text)
{
    for (size_t k = 0; k < d->n; k++)
        if (!strcmp(d->kws[k].text, text))
            return true;
    return false;
}

static int kw_init(const struct loco_router_env *env, void **state)
{
    struct kw_state *s = calloc(1, sizeof *s);
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the keyword router");
    const struct loco_registry *reg = env->reg;
    s->n_domains = loco_registry_n_domains(reg);
    for (size_t i = 0; i < s->n_domains; i++) {
        const char *dom = loco_registry_domain_at(reg, i)->name;
        struct kw_domain *d = &s->d[i];
        size_t cap = 0;
        for (size_t a = 0; a < loco_registry_n_adapters(reg); a++) {
            const struct loco_registry_adapter *ad = loco_registry_adapter_at(reg, a);
            if (strcmp(ad->domain, dom) || ad->status == LOCO_REGISTRY_RETIRED)
                continue;
            for (size_t k = 0; k < ad->keywords.n; k++) {
                const char *text = ad->keywords.v[k];
                if (already_has(d, text))
                    continue;
                if (d->n == cap) {
                    size_t nc = cap ? 2 * cap : 16;
                    struct kw *grown = realloc(d->kws, nc * sizeof *grown);
                    if (!grown) {
                        kw_free(s);
                        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for keywords");
                    }
                    d->kws = grown;
                    cap = nc;
                }
                struct kw *k2 = &d->kws[d->n];
                k2->text = text;
                k2->n = split_words(text, &k2->words);
                if (!k2->words) {
                    kw_free(s);
                    return loco_error_set(LOCO_ERR_NOMEM, "out of memory for keywords");
                }
                if (k2->n == 0) { /* punctuation only: nothing to match */
                    free(k2->words);
                    continue;
                }
                d->n++;
            }
        }
    }
    *state = s;
    return LOCO_OK;
}

static int kw_score(void *state, const char *query, struct loco_route_decision *d)
{
    struct kw_state *s = state;
    char(*words)[MAX_WORD];
    size_t n_lead;
    size_t nw = split_words_lead(query, &words, &n_lead);
    if (!words)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory routing a query");
    double score[LOCO_ROUTE_MAX_DOMAINS] = {0};
    char found[LOCO_ROUTE_MAX_DOMAINS][160];
    size_t best = 0, second = 0;
    for (size_t i = 0; i < s->n_domains; i++) {
        found[i][0] = '\0';
        size_t used = 0;
        for (size_t k = 0; k < s->d[i].n; k++) {
            const struct kw *kw = &s->d[i].kws[k];
            size_t at;
            if (!phrase_found(words, nw, kw->words, kw->n, &at))
                continue;
            score[i] += match_weight(kw->n, at, n_lead);
            int n = snprintf(found[i] + used, sizeof found[i] - used, "%s'%s'", used ? ", " : "",
                             kw->text);
            if (n > 0 && (size_t)n < sizeof found[i] - used)
                used += (size_t)n;
        }
        if (score[i] > score[best])
            best = i;
    }
    free(words);
    second = best == 0 && s->n_domains > 1 ? 1 : 0;
    for (size_t i = 0; i < s->n_domains; i++)
        if (i != best && score[i] > score[second])
            second = i;
    size_t nd = s->n_domains;
    for (size_t i = 0; i < nd; i++)
        d->prob[i] = exp(LOCO_KEYWORD_SHARPNESS * score[i]);
    d->prob[nd] = exp(LOCO_KEYWORD_SHARPNESS * LOCO_KEYWORD_BASE_SCORE);
    if (nd == 0 || score[best] <= LOCO_KEYWORD_BASE_SCORE) {
        snprintf(d->domain, sizeof d->domain, "%s", LOCO_ROUTE_BASE);
        snprintf(d->reason, sizeof d->reason, "no domain keyword found");
    } else if (nd > 1 && second != best && score[best] - score[second] < LOCO_KEYWORD_MARGIN) {
        snprintf(d->domain, sizeof d->domain, "%s", LOCO_ROUTE_BASE);
        snprintf(d->reason, sizeof d->reason,
                 "ambiguous: %.40s %.1f (%.60s) vs %.40s %.1f (%.60s)",
                 d->names[best], score[best], found[best], d->names[second], score[second],
                 found[second]);
    } else {
        snprintf(d->domain, sizeof d->domain, "%s", d->names[best]);
        if (nd > 1 && second != best)
            snprintf(d->reason, sizeof d->reason, "keywords %.150s (score %.1f; next %.40s %.1f)",
                     found[best], score[best], d->names[second], score[second]);
        else
            snprintf(d->reason, sizeof d->reason, "keywords %.150s (score %.1f)", found[best],
                     score[best]);
    }
    return LOCO_OK;
}

const struct loco_router_ops router_keyword_ops = {
    .name = "keyword",
    .summary = "registry keywords and phrases, weighted, softmax, margin rule (v1)",
    .init = kw_init,
    .score = kw_score,
    .free = kw_free,
};
