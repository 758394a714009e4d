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

/* Where the instruction of a query lies, in words: its first line (at most
 * LOCO_KEYWORD_LEAD_WORDS words), and its last line when the query has
 * several and the last is short (at most LOCO_KEYWORD_TAIL_WORDS words):
 * "<pasted text>\n\nSummarise the above." */
struct instruction {
    size_t n_lead;    /* words [0, n_lead) */
    size_t tail_from; /* words [tail_from, n); n when there is no such line */
    bool pasted;      /* the instruction is a line of its own beside a long text */
};

/* Words of text, lower-cased, into a malloc'd array of fixed-size words;
 * ins (may be NULL) receives where the instruction lies. */
static size_t split_words_lead(const char *text, char (**out)[MAX_WORD], struct instruction *ins)
{
    bool in_lead = true;
    size_t line_from = 0, n_lead = 0; /* the first word of the current line */
    size_t cap = 16, n = 0;
    char(*w)[MAX_WORD] = malloc(cap * sizeof *w);
    if (!w) {
        *out = NULL;
        return 0;
    }
    const unsigned char *p = (const unsigned char *)text;
    while (*p && n < MAX_WORDS) {
        while (*p && !isalnum(*p)) {
            if (*p == '\n' && n > 0) {
                in_lead = false;
                line_from = n;
            }
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
        if (in_lead && n <= LOCO_KEYWORD_LEAD_WORDS)
            n_lead = n;
    }
    if (ins) {
        ins->n_lead = n_lead;
        bool tail = line_from > 0 && line_from < n && n - line_from <= LOCO_KEYWORD_TAIL_WORDS;
        ins->tail_from = tail ? line_from : n;
        size_t body = ins->tail_from - n_lead; /* the words between the instruction's lines */
        ins->pasted = !in_lead && body >= LOCO_KEYWORD_BODY_WORDS;
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

/* The weight of a keyword of nk words found at word `at`: more in the
 * instruction, less in a pasted text (the instruction decides). */
static double match_weight(size_t nk, size_t at, const struct instruction *ins)
{
    bool instruction = at + nk <= ins->n_lead || at >= ins->tail_from;
    double where = instruction ? LOCO_KEYWORD_LEAD_FACTOR
                               : ins->pasted ? LOCO_KEYWORD_BODY_FACTOR : 1.0;
    return keyword_weight(nk) * where;
}

double loco_keyword_score(const char *query, const char *const *keywords, size_t n)
{
    char(*words)[MAX_WORD];
    struct instruction ins;
    size_t nw = split_words_lead(query ? query : "", &words, &ins);
    double score = 0;
    for (size_t k = 0; k < n; k++) {
        char(*kw)[MAX_WORD];
        size_t nk = split_words(keywords[k], &kw);
        size_t at;
        if (nk && phrase_found(words, nw, kw, nk, &at))
            score += match_weight(nk, at, &ins);
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
    bool needs_number; /* "+how many": counts only when the query has a number */
};

struct kw_domain {
    struct kw *kws;
    size_t n;
};

struct kw_state {
    struct kw_domain d[LOCO_ROUTE_MAX_DOMAINS + 1]; /* the domains, then the base cues */
    size_t n_domains;
};

/* Cues of a request for the general base model: questions of fact,
 * definitions, advice, translation and extraction from a given text. They
 * add to the base score as a domain's keywords add to the domain's, so a
 * question that uses one domain word in its ordinary sense ("What's the
 * function of the liver?") stays with the base model. The base model has no
 * registry entry, so they live here. */
static const char *const base_cues[] = {
    "translate", "translation", "into english", "into spanish", "into french", "into german",
    "extract", "pull out", "list the names", "list all the", "what is the capital",
    "capital of", "who was", "who is", "who invented", "who discovered", "who wrote",
    "who painted", "when did", "when was", "where is", "where was", "where do", "why do",
    "why does", "why is", "why are", "what causes", "what does the word", "meaning of",
    "define", "definition of", "difference between", "history of", "recommend",
    "recommendation", "advice", "tips for", "ideas for", "should i", "is it safe", "symptoms",
    "sentiment", "classify", "categorize", "categorise", "what year", "population of",
    "pros and cons", "explain why", "how does", "how do vaccines", "fact", "trivia",
    "itinerary", "plan a trip", "best way to", "healthy", "recipe for",
};

/* Whether the query holds a number: a digit or a number word. */
static bool has_number(char (*words)[MAX_WORD], size_t nw)
{
    static const char *const numbers[] = {"two",    "three",  "four",    "five",   "six",
                                          "seven",  "eight",  "nine",    "ten",    "eleven",
                                          "twelve", "twenty", "hundred", "thousand", "million",
                                          "half",   "twice",  "dozen",   "third",   "quarter"};
    for (size_t i = 0; i < nw; i++) {
        for (const char *c = words[i]; *c; c++)
            if (*c >= '0' && *c <= '9')
                return true;
        for (size_t k = 0; k < sizeof numbers / sizeof numbers[0]; k++)
            if (!strcmp(words[i], numbers[k]))
                return true;
    }
    return false;
}

static void kw_free(void *state)
{
    struct kw_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i <= s->n_domains; i++) {
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

/* Add keyword `text` to d (a leading '+' marks one that needs a number). */
static int add_keyword(struct kw_domain *d, size_t *cap, const char *text)
{
    bool needs_number = text[0] == '+';
    if (needs_number)
        text++;
    if (already_has(d, text))
        return LOCO_OK;
    if (d->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        struct kw *grown = realloc(d->kws, nc * sizeof *grown);
        if (!grown)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory for keywords");
        d->kws = grown;
        *cap = nc;
    }
    struct kw *k2 = &d->kws[d->n];
    k2->text = text;
    k2->needs_number = needs_number;
    k2->n = split_words(text, &k2->words);
    if (!k2->words)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for keywords");
    if (k2->n == 0) { /* punctuation only: nothing to match */
        free(k2->words);
        return LOCO_OK;
    }
    d->n++;
    return LOCO_OK;
}

static int kw_init(const struct loco_router_env *env, void **state)
{
    struct kw_state *s = calloc(1, sizeof *s);
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the keyword router");
    const struct loco_registry *reg = env->reg;
    s->n_domains = loco_registry_n_domains(reg);
    if (s->n_domains > LOCO_ROUTE_MAX_DOMAINS)
        s->n_domains = LOCO_ROUTE_MAX_DOMAINS;
    int rc = LOCO_OK;
    for (size_t i = 0; i < s->n_domains && rc == LOCO_OK; i++) {
        const char *dom = loco_registry_domain_at(reg, i)->name;
        size_t cap = 0;
        for (size_t a = 0; a < loco_registry_n_adapters(reg) && rc == LOCO_OK; a++) {
            const struct loco_registry_adapter *ad = loco_registry_adapter_at(reg, a);
            if (strcmp(ad->domain, dom) || ad->status == LOCO_REGISTRY_RETIRED)
                continue;
            for (size_t k = 0; k < ad->keywords.n && rc == LOCO_OK; k++)
                rc = add_keyword(&s->d[i], &cap, ad->keywords.v[k]);
        }
    }
    size_t cap = 0;
    for (size_t k = 0; k < sizeof base_cues / sizeof base_cues[0] && rc == LOCO_OK; k++)
        rc = add_keyword(&s->d[s->n_domains], &cap, base_cues[k]);
    if (rc != LOCO_OK) {
        kw_free(s);
        return rc;
    }
    *state = s;
    return LOCO_OK;
}

static int kw_score(void *state, const char *query, struct loco_route_decision *d)
{
    struct kw_state *s = state;
    char(*words)[MAX_WORD];
    struct instruction ins;
    size_t nw = split_words_lead(query, &words, &ins);
    if (!words)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory routing a query");
    double score[LOCO_ROUTE_MAX_DOMAINS + 1] = {0};
    char found[LOCO_ROUTE_MAX_DOMAINS + 1][160];
    size_t best = 0, second = 0;
    bool number = has_number(words, nw);
    for (size_t i = 0; i <= s->n_domains; i++) {
        found[i][0] = '\0';
        size_t used = 0;
        for (size_t k = 0; k < s->d[i].n; k++) {
            const struct kw *kw = &s->d[i].kws[k];
            size_t at;
            if ((kw->needs_number && !number) || !phrase_found(words, nw, kw->words, kw->n, &at))
                continue;
            double cue = i == s->n_domains ? LOCO_KEYWORD_CUE_WEIGHT : 1; /* a base cue */
            score[i] += match_weight(kw->n, at, &ins) * cue;
            int n = snprintf(found[i] + used, sizeof found[i] - used, "%s'%s'", used ? ", " : "",
                             kw->text);
            if (n > 0 && (size_t)n < sizeof found[i] - used)
                used += (size_t)n;
        }
        if (i < s->n_domains && score[i] > score[best])
            best = i;
    }
    free(words);
    double base = LOCO_KEYWORD_BASE_SCORE + score[s->n_domains]; /* the base cues add to it */
    second = best == 0 && s->n_domains > 1 ? 1 : 0;
    for (size_t i = 0; i < s->n_domains; i++)
        if (i != best && score[i] > score[second])
            second = i;
    size_t nd = s->n_domains;
    for (size_t i = 0; i < nd; i++)
        d->prob[i] = exp(LOCO_KEYWORD_SHARPNESS * score[i]);
    d->prob[nd] = exp(LOCO_KEYWORD_SHARPNESS * base);
    if (nd == 0 || score[best] <= base) {
        snprintf(d->domain, sizeof d->domain, "%s", LOCO_ROUTE_BASE);
        if (score[nd] > 0)
            snprintf(d->reason, sizeof d->reason, "a general question: %.150s (base %.1f)",
                     found[nd], base);
        else
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
