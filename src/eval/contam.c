/*
 * contam.c - exact and word n-gram overlap between training texts and
 * evaluation items (see loco/contam.h for the rules).
 *
 * A text is normalised, split into words, each word hashed (FNV-1a, 64
 * bits), and each window of n word hashes folded into one 64-bit n-gram
 * hash. Hashes live in open-addressing sets (linear probing, 0 = empty
 * slot, grown to keep the load under 1/2), so adding and looking up are
 * O(1) on average and a whole check is linear in the text it reads.
 */
#include "loco/contam.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

#define SET_MAX_SLOTS ((size_t)1 << 32) /* 32 GiB of hashes: far past any dataset */

/* ---- a set of 64-bit hashes --------------------------------------------- */

struct hash_set {
    uint64_t *slots; /* [cap], 0 = empty */
    size_t cap;      /* a power of two, or 0 */
    size_t count;
};

/* The splitmix64 finaliser (core/rng.h): spreads every input bit over the
 * output, so the low bits index the table well. Never 0 (reserved for empty). */
static uint64_t slot_hash(uint64_t h)
{
    uint64_t z = loco_mix64(h);
    return z ? z : 1;
}

static bool set_contains(const struct hash_set *s, uint64_t h)
{
    if (s->cap == 0)
        return false;
    for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == h)
            return true;
        if (s->slots[i] == 0)
            return false;
    }
}

static void set_put(struct hash_set *s, uint64_t h)
{
    size_t i = h & (s->cap - 1);
    while (s->slots[i] != 0 && s->slots[i] != h)
        i = (i + 1) & (s->cap - 1);
    s->count += s->slots[i] == 0;
    s->slots[i] = h;
}

static int set_grow(struct hash_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    if (cap > SET_MAX_SLOTS)
        return loco_error_set(LOCO_ERR_NOMEM, "contam: n-gram set is over its cap of %zu slots",
                              SET_MAX_SLOTS);
    uint64_t *slots = calloc(cap, sizeof(uint64_t));
    if (!slots)
        return loco_error_set(LOCO_ERR_NOMEM, "contam: no memory for %zu hash slots", cap);
    struct hash_set bigger = {slots, cap, 0};
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            set_put(&bigger, s->slots[i]);
    free(s->slots);
    *s = bigger;
    return LOCO_OK;
}

static int set_add(struct hash_set *s, uint64_t h)
{
    if (2 * (s->count + 1) > s->cap && set_grow(s))
        return LOCO_ERR_NOMEM;
    set_put(s, h);
    return LOCO_OK;
}

/* ---- normalisation ------------------------------------------------------ */

/* Decode one UTF-8 character at s; returns its length (>= 1) and the code
 * point in *cp, or 0xFFFD for an invalid sequence (then length 1). */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    size_t len = s[0] < 0x80                   ? 1
                 : s[0] >= 0xF0 && s[0] < 0xF5 ? 4
                 : s[0] >= 0xE0                ? 3
                 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2
                                               : 0;
    if (len == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t c = len == 1 ? s[0] : s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *cp = c;
    return len;
}

/* Letters and digits; everything else separates words. */
static bool is_word_char(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c < 0xC0 || c == 0xD7 || c == 0xF7 || c == 0xFFFD)
        return false; /* Latin-1 punctuation and symbols, x and / signs */
    if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x2E00 && c <= 0x2E7F))
        return false; /* general punctuation, currency, arrows, maths, shapes */
    if ((c >= 0x3000 && c <= 0x303F) || (c >= 0xFE10 && c <= 0xFE6F) ||
        (c >= 0xFF00 && c <= 0xFF0F))
        return false; /* CJK and fullwidth punctuation */
    return true;
}

char *loco_contam_normalize(const char *text)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t n = strlen((const char *)s);
    char *out = malloc(n + 1);
    if (!out) {
        loco_error_set(LOCO_ERR_NOMEM, "contam: no memory to normalise %zu bytes", n);
        return NULL;
    }
    size_t o = 0;
    bool pending_space = false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_next(s + i, &cp);
        if (!is_word_char(cp)) {
            pending_space = o > 0;
        } else {
            if (pending_space)
                out[o++] = ' ';
            pending_space = false;
            if (cp < 0x80) {
                out[o++] = (char)(cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp);
            } else {
                memcpy(out + o, s + i, len);
                o += len;
            }
        }
        i += len;
    }
    out[o] = '\0';
    return out;
}

/* ---- hashing words and n-grams ------------------------------------------ */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

/* Hash every word of the normalised text `norm` into a malloc'd array
 * (*words, count in *n). */
static int hash_words(const char *norm, uint64_t **words, size_t *n)
{
    size_t cap = 1;
    for (const char *p = norm; *p; p++)
        cap += *p == ' ';
    *words = malloc(sizeof(uint64_t) * cap); /* [words in the text] */
    if (!*words)
        return loco_error_set(LOCO_ERR_NOMEM, "contam: no memory for %zu word hashes", cap);
    *n = 0;
    for (const char *p = norm; *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        (*words)[(*n)++] = fnv1a(p, len);
        p += len + (end != NULL);
    }
    return LOCO_OK;
}

/* Hash of words[0..k) in order: a polynomial fold, then mixed. */
static uint64_t ngram_hash(const uint64_t *words, uint32_t k)
{
    uint64_t h = 0x84222325cbf29ce4ULL;
    for (uint32_t j = 0; j < k; j++)
        h = h * 0x9e3779b97f4a7c15ULL + words[j];
    return slot_hash(h);
}

/* ---- the index ---------------------------------------------------------- */

struct loco_contam_index {
    uint32_t ngram;
    size_t texts;
    struct hash_set exact; /* hashes of whole normalised texts */
    struct hash_set grams; /* hashes of word n-grams */
};

struct loco_contam_index *loco_contam_index_init(uint32_t ngram)
{
    if (ngram == 0)
        ngram = LOCO_CONTAM_NGRAM;
    if (ngram > 64) {
        loco_error_set(LOCO_ERR_INVALID, "contam: n-gram length %u is over 64; use 13", ngram);
        return NULL;
    }
    struct loco_contam_index *ix = calloc(1, sizeof *ix);
    if (!ix) {
        loco_error_set(LOCO_ERR_NOMEM, "contam: no memory for an index");
        return NULL;
    }
    ix->ngram = ngram;
    return ix;
}

void loco_contam_index_free(struct loco_contam_index *ix)
{
    if (!ix)
        return;
    free(ix->exact.slots);
    free(ix->grams.slots);
    free(ix);
}

int loco_contam_index_add(struct loco_contam_index *ix, const char *text)
{
    if (!ix || !text)
        return loco_error_set(LOCO_ERR_INVALID, "contam: index_add got a NULL argument");
    char *norm = loco_contam_normalize(text);
    if (!norm)
        return LOCO_ERR_NOMEM;
    uint64_t *words = NULL;
    size_t n = 0;
    int rc = hash_words(norm, &words, &n);
    if (!rc && norm[0])
        rc = set_add(&ix->exact, slot_hash(fnv1a(norm, strlen(norm))));
    for (size_t i = 0; !rc && i + ix->ngram <= n; i++)
        rc = set_add(&ix->grams, ngram_hash(words + i, ix->ngram));
    free(words);
    free(norm);
    ix->texts += rc == LOCO_OK;
    return rc;
}

size_t loco_contam_index_texts(const struct loco_contam_index *ix)
{
    return ix ? ix->texts : 0;
}

size_t loco_contam_index_ngrams(const struct loco_contam_index *ix)
{
    return ix ? ix->grams.count : 0;
}

/* ---- queries ------------------------------------------------------------ */

int loco_contam_query(const struct loco_contam_index *ix, const char *text,
                      struct loco_contam_hit *out)
{
    if (!ix || !text || !out)
        return loco_error_set(LOCO_ERR_INVALID, "contam: query got a NULL argument");
    memset(out, 0, sizeof *out);
    char *norm = loco_contam_normalize(text);
    if (!norm)
        return LOCO_ERR_NOMEM;
    uint64_t *words = NULL;
    size_t n = 0;
    int rc = hash_words(norm, &words, &n);
    if (!rc) {
        out->exact = norm[0] && set_contains(&ix->exact, slot_hash(fnv1a(norm, strlen(norm))));
        for (size_t i = 0; i + ix->ngram <= n; i++) {
            out->ngrams++;
            out->found += set_contains(&ix->grams, ngram_hash(words + i, ix->ngram));
        }
        out->fraction = out->ngrams ? (double)out->found / out->ngrams : 0.0;
    }
    free(words);
    free(norm);
    return rc;
}

bool loco_contam_is_contaminated(const struct loco_contam_hit *hit, double threshold)
{
    return hit->exact || (hit->found > 0 && hit->fraction >= threshold);
}

int loco_contam_check(const struct loco_contam_index *ix, const char *const *texts,
                      const char *const *ids, size_t n, double threshold,
                      struct loco_contam_report *out)
{
    if (!ix || !texts || !out)
        return loco_error_set(LOCO_ERR_INVALID, "contam: check got a NULL argument");
    if (!(threshold >= 0.0 && threshold <= 1.0))
        return loco_error_set(LOCO_ERR_INVALID,
                              "contam: threshold %g is not in [0, 1]; use 0 "
                              "(any shared n-gram)",
                              threshold);
    memset(out, 0, sizeof *out);
    out->n_items = n;
    out->threshold = threshold;
    out->hits = calloc(n ? n : 1, sizeof *out->hits);
    out->flagged = calloc(n ? n : 1, sizeof *out->flagged);
    out->flagged_ids = ids ? calloc(n ? n : 1, sizeof *out->flagged_ids) : NULL;
    if (!out->hits || !out->flagged || (ids && !out->flagged_ids)) {
        loco_contam_report_free(out);
        return loco_error_set(LOCO_ERR_NOMEM, "contam: no memory for a report of %zu items", n);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = loco_contam_query(ix, texts[i] ? texts[i] : "", &out->hits[i]);
        if (rc) {
            loco_error_prefix("contam: item %zu", i);
            loco_contam_report_free(out);
            return rc;
        }
        out->n_exact += out->hits[i].exact;
        out->n_overlap += out->hits[i].found > 0;
        if (loco_contam_is_contaminated(&out->hits[i], threshold)) {
            if (ids)
                out->flagged_ids[out->n_flagged] = ids[i];
            out->flagged[out->n_flagged++] = i;
        }
    }
    return LOCO_OK;
}

void loco_contam_report_free(struct loco_contam_report *r)
{
    if (!r)
        return;
    free(r->hits);
    free(r->flagged);
    free((void *)r->flagged_ids);
    memset(r, 0, sizeof *r);
}

bool loco_contam_gate(const struct loco_contam_report *r)
{
    return r && r->n_flagged == 0;
}
