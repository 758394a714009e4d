/*
 * merge.c - the greedy pair-merge loop that both tokenizers run.
 *
 * SentencePiece-BPE (SPM) and byte-level BPE differ in *which* pair merges
 * first, not in how merging works (docs/tokenizer.md, SPM step 4, BPE step 4):
 *
 *   1. cut the text into UTF-8 characters, one symbol each;
 *   2. queue every adjacent pair that may merge, with its priority;
 *   3. pop the best pair (highest priority; ties go to the smaller left
 *      index), skip it if either side has changed since it was queued,
 *      else merge it and queue the new pairs with its two neighbours;
 *   4. stop when the queue is empty.
 *
 * The caller's pair function supplies the priority: the merged token's
 * score for SPM, minus the merge rank for BPE. Symbols live in an array
 * linked as a doubly linked list; a merged-away symbol keeps its slot with
 * len 0, which is how stale queue entries are recognised. Every merge also
 * adds a node to a binary tree so SPM can undo merges whose result is not
 * a token (docs/tokenizer.md, SPM step 5).
 */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

#define MERGE_MAX_SYMBOLS ((size_t)1 << 28)

int loco_tok_utf8_len(unsigned char c)
{
    static const int len_by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len_by_high_nibble[c >> 4];
}

void loco_tok_merge_free(struct loco_tok_merge *m)
{
    free(m->sym);
    free(m->node);
    free(m->heap);
    memset(m, 0, sizeof *m);
}

/* Make room for n symbols: 2n tree nodes and 3n queued pairs (n-1 initial
 * pairs plus at most two per merge). */
static int merge_reserve(struct loco_tok_merge *m, size_t n)
{
    if (n <= m->cap)
        return LOCO_OK;
    if (n > MERGE_MAX_SYMBOLS)
        return loco_error_set(LOCO_ERR_RANGE, "tokenizer: fragment of %zu bytes is too long", n);
    loco_tok_merge_free(m);
    m->sym = malloc(n * sizeof *m->sym);
    m->node = malloc(2 * n * sizeof *m->node);
    m->heap = malloc(3 * n * sizeof *m->heap);
    if (!m->sym || !m->node || !m->heap) {
        loco_tok_merge_free(m);
        return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory for %zu symbols", n);
    }
    m->cap = n;
    return LOCO_OK;
}

/* ---- the priority queue ------------------------------------------------ */

static bool pair_before(const struct loco_tok_pair *a, const struct loco_tok_pair *b)
{
    return a->prio > b->prio || (a->prio == b->prio && a->left < b->left);
}

static void heap_swap(struct loco_tok_pair *h, int32_t i, int32_t j)
{
    struct loco_tok_pair tmp = h[i];
    h[i] = h[j];
    h[j] = tmp;
}

static void heap_push(struct loco_tok_merge *m, struct loco_tok_pair p)
{
    struct loco_tok_pair *h = m->heap;
    int32_t i = m->n_heap++;
    h[i] = p;
    while (i > 0 && pair_before(&h[i], &h[(i - 1) / 2])) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct loco_tok_pair heap_pop(struct loco_tok_merge *m)
{
    struct loco_tok_pair *h = m->heap;
    struct loco_tok_pair top = h[0];
    h[0] = h[--m->n_heap];
    int32_t i = 0;
    for (;;) {
        int32_t best = i, l = 2 * i + 1, r = 2 * i + 2;
        if (l < m->n_heap && pair_before(&h[l], &h[best]))
            best = l;
        if (r < m->n_heap && pair_before(&h[r], &h[best]))
            best = r;
        if (best == i)
            return top;
        heap_swap(h, i, best);
        i = best;
    }
}

/* ---- merging ----------------------------------------------------------- */

static void try_pair(struct loco_tok_merge *m, const char *text, int32_t left, int32_t right,
                     loco_tok_pair_fn pair, void *user)
{
    struct loco_tok_pair p = {.left = left, .right = right};
    if (!pair(user, text, &m->sym[left], &m->sym[right], &p.prio))
        return;
    p.size = m->sym[left].len + m->sym[right].len;
    heap_push(m, p);
}

/* Bytes in the character at text[off]: its UTF-8 length when the
 * continuation bytes are there, else 1, so that a stray byte never swallows
 * the start of the next character. */
static size_t char_len(const char *text, size_t off, size_t len)
{
    size_t n = (size_t)loco_tok_utf8_len((unsigned char)text[off]);
    if (n > len - off)
        return 1;
    for (size_t i = 1; i < n; i++)
        if (((unsigned char)text[off + i] & 0xc0) != 0x80)
            return 1;
    return n;
}

/* One symbol per UTF-8 character, each its own leaf node. */
static void split_chars(struct loco_tok_merge *m, const char *text, size_t len)
{
    m->n_sym = 0;
    for (size_t off = 0; off < len;) {
        size_t n = char_len(text, off, len);
        int32_t i = m->n_sym++;
        m->sym[i] = (struct loco_tok_sym){(int32_t)off, (int32_t)n, i - 1, i + 1, i};
        m->node[i] = (struct loco_tok_node){(int32_t)off, (int32_t)n, -1, -1};
        off += n;
    }
    if (m->n_sym > 0)
        m->sym[m->n_sym - 1].next = -1;
    m->n_node = m->n_sym;
}

/* Merge symbol p.right into p.left; record the new tree node. */
static void merge_pair(struct loco_tok_merge *m, const struct loco_tok_pair *p)
{
    struct loco_tok_sym *l = &m->sym[p->left], *r = &m->sym[p->right];
    m->node[m->n_node] = (struct loco_tok_node){l->off, p->size, l->node, r->node};
    l->node = m->n_node++;
    l->len = p->size;
    r->len = 0;
    l->next = r->next;
    if (r->next >= 0)
        m->sym[r->next].prev = p->left;
}

int loco_tok_merge_run(struct loco_tok_merge *m, const char *text, size_t len,
                       loco_tok_pair_fn pair, void *user)
{
    int rc = merge_reserve(m, len);
    if (rc != LOCO_OK)
        return rc;
    split_chars(m, text, len);
    m->n_heap = 0;
    for (int32_t i = 1; i < m->n_sym; i++)
        try_pair(m, text, i - 1, i, pair, user);
    while (m->n_heap > 0) {
        struct loco_tok_pair p = heap_pop(m);
        const struct loco_tok_sym *l = &m->sym[p.left], *r = &m->sym[p.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != p.size)
            continue; /* stale: one side merged with something else since */
        merge_pair(m, &p);
        if (l->prev >= 0)
            try_pair(m, text, l->prev, p.left, pair, user);
        if (l->next >= 0)
            try_pair(m, text, p.left, l->next, pair, user);
    }
    return LOCO_OK;
}
