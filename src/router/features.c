/*
 * features.c - what the classifier router reads of a query: early-exit
 * hidden states of the base model (several layers, mean and last-token
 * pooling over the query's first and last tokens) and hashed lexical
 * features (words, word pairs, the instruction's words, a few shape cues).
 * include/loco/route-eval.h describes the layout.
 *
 * Shapes: L layers run, T tokens read (head + tail), C n_embd, P pooled
 * layers, V hash_dim. Features: [P][2][C] (mean, last) then [V].
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/model.h"
#include "loco/registry.h"
#include "loco/route-eval.h"
#include "loco/tokenizer.h"

#define LEAD_WORDS 60
#define MAX_WORD 48
#define TAIL_WORDS 30 /* the last line is an instruction up to this many words */

struct loco_route_features loco_route_features_default(void)
{
    return (struct loco_route_features){
        .n_pool = 0, /* early-layer hidden states lowered leave-one-source-out accuracy */
        .layers = {4},
        .head_tokens = 24,
        .tail_tokens = 8,
        .hash_dim = 16384, /* fewer collisions; chosen leave-one-source-out (docs/routers.md) */
        .lex_scale = 6.0,  /* with 31 hand-written sources, words generalise (docs/routers.md) */
        .n_keyword = 0,
        .kw_scale = 2.0,
    };
}

int32_t loco_route_features_dense(const struct loco_route_features *f, int32_t n_embd)
{
    return f->n_pool * 2 * n_embd;
}

int32_t loco_route_features_dim(const struct loco_route_features *f, int32_t n_embd)
{
    return loco_route_features_dense(f, n_embd) + f->hash_dim + f->n_keyword;
}

int loco_route_features_parse_layers(struct loco_route_features *f, const char *text,
                                     int32_t n_layer)
{
    int32_t n = 0, prev = 0;
    const char *p = text;
    if (!strcmp(text, "none")) {
        f->n_pool = 0;
        return LOCO_OK;
    }
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v <= prev || (n_layer > 0 && v > n_layer) ||
            n == LOCO_FEATURES_MAX_LAYERS || (*end && *end != ','))
            return loco_error_set(LOCO_ERR_INVALID,
                                  "layers '%s': give up to %d ascending layer counts in 1..%d, "
                                  "comma-separated (or none)",
                                  text, LOCO_FEATURES_MAX_LAYERS, n_layer > 0 ? n_layer : 999);
        f->layers[n++] = (int32_t)v;
        prev = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    if (n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "layers: none given");
    f->n_pool = n;
    return LOCO_OK;
}

/* ---- lexical features ----------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void set_feature(float *out, int32_t dim, const char *kind, const char *a, const char *b)
{
    uint64_t h = fnv1a(0xcbf29ce484222325ull, kind, strlen(kind));
    h = fnv1a(h, a, strlen(a));
    if (b) {
        h = fnv1a(h, " ", 1);
        h = fnv1a(h, b, strlen(b));
    }
    out[h % (uint64_t)dim] = 1;
}

static int bucket(size_t v, const size_t *edges, int n)
{
    int b = 0;
    while (b < n && v > edges[b])
        b++;
    return b;
}

/* Shape cues: length, lines, digits, code punctuation, a closing question mark. */
static void shape_features(const char *q, size_t n_words, float *out, int32_t dim)
{
    size_t lines = 1, digits = 0, code = 0, len = strlen(q);
    for (const char *p = q; *p; p++) {
        lines += *p == '\n';
        digits += isdigit((unsigned char)*p) != 0;
        code += strchr("{}()[];=_<>#", *p) != NULL && *p != '\0';
    }
    static const size_t word_edges[] = {5, 15, 40, 100}, small_edges[] = {0, 2, 8, 30};
    char v[32];
    snprintf(v, sizeof v, "%d", bucket(n_words, word_edges, 4));
    set_feature(out, dim, "shape:words", v, NULL);
    snprintf(v, sizeof v, "%d", bucket(lines, small_edges, 4));
    set_feature(out, dim, "shape:lines", v, NULL);
    snprintf(v, sizeof v, "%d", bucket(digits, small_edges, 4));
    set_feature(out, dim, "shape:digits", v, NULL);
    snprintf(v, sizeof v, "%d", bucket(code, small_edges, 4));
    set_feature(out, dim, "shape:code", v, NULL);
    while (len > 0 && isspace((unsigned char)q[len - 1]))
        len--;
    if (len > 0 && q[len - 1] == '?')
        set_feature(out, dim, "shape:asks", "?", NULL);
}

/* Where the last line of q starts when it is an instruction of its own: q
 * has several lines and the last non-empty one holds at most TAIL_WORDS
 * words; NULL otherwise. */
static const char *instruction_tail(const char *q)
{
    const char *end = q + strlen(q);
    while (end > q && isspace((unsigned char)end[-1]))
        end--;
    const char *start = end;
    while (start > q && start[-1] != '\n')
        start--;
    if (start == q)
        return NULL; /* one line */
    size_t words = 0;
    bool in_word = false;
    for (const char *p = start; p < end; p++) {
        bool w = isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80;
        words += w && !in_word;
        in_word = w;
    }
    return words <= TAIL_WORDS ? start : NULL;
}

void loco_route_lexical(const char *query, const struct loco_route_features *f, float *out)
{
    int32_t hash_dim = f->hash_dim;
    if (hash_dim <= 0)
        return;
    memset(out, 0, (size_t)hash_dim * sizeof *out);
    char prev[MAX_WORD] = "", word[MAX_WORD];
    size_t n_words = 0;
    bool lead = true;
    const char *tail = f->lex_lead ? instruction_tail(query) : NULL;
    const unsigned char *p = (const unsigned char *)query;
    while (*p) {
        while (*p && !(isalnum(*p) || *p >= 0x80)) {
            if (*p == '\n' && n_words > 0)
                lead = false;
            p++;
        }
        if (!*p)
            break;
        bool in_tail = tail && (const char *)p >= tail;
        size_t len = 0;
        while (*p && (isalnum(*p) || *p >= 0x80)) {
            if (len + 1 < MAX_WORD)
                word[len++] = (char)tolower(*p);
            p++;
        }
        word[len] = '\0';
        n_words++;
        bool instruction = (lead && n_words <= LEAD_WORDS) || in_tail;
        if (f->lex_lead && !instruction) {
            prev[0] = '\0'; /* a pasted text's words: not read, nor paired across */
            continue;
        }
        set_feature(out, hash_dim, "w:", word, NULL);
        if (prev[0])
            set_feature(out, hash_dim, "b:", prev, word);
        if (lead && n_words <= LEAD_WORDS) {
            set_feature(out, hash_dim, "l:", word, NULL);
            if (prev[0])
                set_feature(out, hash_dim, "lb:", prev, word);
        }
        memcpy(prev, word, len + 1);
    }
    shape_features(query, n_words, out, hash_dim);
    double ss = 0;
    for (int32_t j = 0; j < hash_dim; j++)
        ss += out[j];
    if (ss > 0)
        for (int32_t j = 0; j < hash_dim; j++)
            out[j] = (float)(out[j] * f->lex_scale / sqrt(ss));
}

/* ---- hidden states ------------------------------------------------------------ */

struct loco_route_featurizer {
    const struct loco_model *m;
    struct loco_router *keyword; /* the keyword router, for the keyword block */
    struct loco_route_decision *decision;
    struct loco_route_features f;
    struct loco_context *ctx;
    int32_t n_run, T;
    float *capture; /* [n_run][T][C] attention inputs */
    float *last;    /* [C] */
    int32_t *pos, *seq, *toks;
};

void loco_route_featurizer_free(struct loco_route_featurizer *z)
{
    if (!z)
        return;
    loco_router_close(z->keyword);
    free(z->decision);
    loco_context_free(z->ctx);
    free(z->capture);
    free(z->last);
    free(z->pos);
    free(z->seq);
    free(z->toks);
    free(z);
}

int32_t loco_route_features_keyword_dims(const struct loco_registry *reg)
{
    size_t n = loco_registry_n_domains(reg);
    return 2 * (int32_t)((n > LOCO_ROUTE_MAX_DOMAINS ? LOCO_ROUTE_MAX_DOMAINS : n) + 1);
}

/* The keyword router for the keyword block, when f asks for one. */
static int open_keyword(struct loco_route_featurizer *z, const struct loco_registry *reg)
{
    if (z->f.n_keyword == 0)
        return LOCO_OK;
    if (!reg || loco_route_features_keyword_dims(reg) != z->f.n_keyword)
        return loco_error_set(LOCO_ERR_INVALID,
                              "router features: the keyword block has %d "
                              "columns; this registry gives %d",
                              z->f.n_keyword, reg ? loco_route_features_keyword_dims(reg) : 0);
    struct loco_router_env env = {.reg = reg};
    z->keyword = loco_router_open(&env, "keyword");
    z->decision = malloc(sizeof *z->decision);
    if (!z->keyword || !z->decision)
        return z->keyword ? loco_error_set(LOCO_ERR_NOMEM, "out of memory") : LOCO_ERR_INVALID;
    return LOCO_OK;
}

/* The keyword block of `query` into out[n_keyword]: probabilities, then the
 * decision one-hot, times kw_scale. */
static int keyword_block(struct loco_route_featurizer *z, const char *query, float *out)
{
    int rc = loco_route(z->keyword, query, z->decision);
    if (rc != LOCO_OK)
        return rc;
    const struct loco_route_decision *d = z->decision;
    size_t half = (size_t)z->f.n_keyword / 2;
    for (size_t i = 0; i < half; i++) {
        out[i] = i < d->n ? (float)(z->f.kw_scale * d->prob[i]) : 0;
        out[half + i] = i < d->n && !strcmp(d->names[i], d->domain) ? (float)z->f.kw_scale : 0;
    }
    return LOCO_OK;
}

struct loco_route_featurizer *loco_route_featurizer_init(const struct loco_model *m,
                                                         const struct loco_registry *reg,
                                                         const struct loco_route_features *f,
                                                         int32_t n_threads)
{
    const struct loco_hparams *hp = loco_model_hparams(m);
    int32_t T = f->head_tokens + f->tail_tokens;
    if (f->n_pool < 0 || f->n_pool > LOCO_FEATURES_MAX_LAYERS || T < 1 || f->head_tokens < 1 ||
        f->tail_tokens < 0 || f->hash_dim < 0 ||
        (f->n_pool > 0 && f->layers[f->n_pool - 1] > hp->n_layer)) {
        loco_error_set(LOCO_ERR_INVALID,
                       "router features: %d layers (the deepest must be <= %d), "
                       "%d+%d tokens, %d buckets",
                       f->n_pool, hp->n_layer, f->head_tokens, f->tail_tokens, f->hash_dim);
        return NULL;
    }
    struct loco_route_featurizer *z = calloc(1, sizeof *z);
    if (!z) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory for router features");
        return NULL;
    }
    z->m = m;
    z->f = *f;
    z->T = T;
    z->n_run = f->n_pool ? f->layers[f->n_pool - 1] : 0;
    if (open_keyword(z, reg) != LOCO_OK) {
        loco_route_featurizer_free(z);
        return NULL;
    }
    if (z->n_run == 0)
        return z; /* lexical and keyword features only: no model pass */
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = T;
    cp.n_seq = 1;
    cp.n_batch = T;
    if (n_threads > 0)
        cp.n_threads = n_threads;
    size_t C = (size_t)hp->n_embd;
    z->ctx = loco_context_init(m, cp);
    z->capture = calloc((size_t)hp->n_layer * (size_t)T * C, sizeof *z->capture);
    z->last = malloc(C * sizeof *z->last);
    z->pos = malloc((size_t)T * sizeof *z->pos);
    z->seq = calloc((size_t)T, sizeof *z->seq);
    z->toks = malloc((size_t)T * sizeof *z->toks);
    if (!z->ctx || !z->capture || !z->last || !z->pos || !z->seq || !z->toks ||
        loco_context_set_layers(z->ctx, z->n_run) != LOCO_OK) {
        loco_route_featurizer_free(z);
        loco_error_set(LOCO_ERR_NOMEM, "out of memory for router features");
        return NULL;
    }
    for (int32_t i = 0; i < T; i++)
        z->pos[i] = i;
    return z;
}

/* The query's first head and last tail tokens into z->toks; their count. */
static int read_tokens(struct loco_route_featurizer *z, const char *query, int32_t *n_out)
{
    int32_t *toks = NULL;
    size_t n = 0;
    int rc = loco_tokenizer_encode(loco_model_tokenizer(z->m), query, strlen(query), true, false,
                                   &toks, &n);
    if (rc != LOCO_OK)
        return rc;
    if (n == 0) {
        free(toks);
        return loco_error_set(LOCO_ERR_INVALID, "router features: the query has no tokens");
    }
    size_t head = (size_t)z->f.head_tokens, tail = (size_t)z->f.tail_tokens;
    if (n <= head + tail) {
        memcpy(z->toks, toks, n * sizeof *toks);
        *n_out = (int32_t)n;
    } else {
        memcpy(z->toks, toks, head * sizeof *toks);
        memcpy(z->toks + head, toks + n - tail, tail * sizeof *toks);
        *n_out = (int32_t)(head + tail);
    }
    free(toks);
    return LOCO_OK;
}

/* Mean and last-token pooling of pooled layer k into out[2][C]. */
static int pool_layer(struct loco_route_featurizer *z, int32_t k, int32_t n, float *out)
{
    size_t C = (size_t)loco_model_hparams(z->m)->n_embd;
    int32_t l = z->f.layers[k];
    float *mean = out, *last = out + C;
    memset(mean, 0, C * sizeof *mean);
    for (int32_t t = 0; t < n; t++) {
        const float *row;
        if (l == z->n_run) { /* the last layer run: its output after the output norm */
            int rc = loco_context_hidden(z->ctx, t, z->last);
            if (rc != LOCO_OK)
                return rc;
            row = z->last;
        } else { /* the input of layer l: the residual after l layers, normalised */
            row = z->capture + ((size_t)l * (size_t)z->T + (size_t)t) * C;
        }
        for (size_t j = 0; j < C; j++)
            mean[j] += row[j] / (float)n;
        if (t == n - 1)
            memcpy(last, row, C * sizeof *last);
    }
    return LOCO_OK;
}

int loco_route_featurize(struct loco_route_featurizer *z, const char *query, float *out)
{
    int32_t C = loco_model_hparams(z->m)->n_embd;
    int32_t dense = loco_route_features_dense(&z->f, C);
    loco_route_lexical(query, &z->f, out + dense);
    int rc = z->keyword ? keyword_block(z, query, out + dense + z->f.hash_dim) : LOCO_OK;
    if (z->n_run == 0 || rc != LOCO_OK)
        return rc;
    int32_t n = 0;
    rc = read_tokens(z, query, &n);
    if (rc != LOCO_OK)
        return rc;
    loco_context_seq_clear(z->ctx, 0);
    loco_context_capture(z->ctx, z->capture, z->T);
    struct loco_batch b = {n, z->toks, z->pos, z->seq, NULL};
    rc = loco_decode(z->ctx, &b);
    loco_context_capture(z->ctx, NULL, 0);
    for (int32_t k = 0; k < z->f.n_pool && rc == LOCO_OK; k++)
        rc = pool_layer(z, k, n, out + (size_t)k * 2 * (size_t)C);
    loco_context_seq_clear(z->ctx, 0);
    return rc;
}
