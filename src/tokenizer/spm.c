/*
 * spm.c - SentencePiece-style BPE over token scores ("llama" vocabularies).
 *
 * docs/tokenizer.md, SPM tokenization. For one fragment of plain text:
 *   - prepend a space when asked (start of input, or right after a special
 *     token, and add_space_prefix is set), then write every space as
 *     U+2581 "▁", SentencePiece's visible space;
 *   - merge adjacent symbols greedily, best score first (merge.c), where a
 *     pair may merge only if the joined text is itself a plain token;
 *   - emit each final symbol's token; a symbol that is not a token is
 *     re-split along its merge tree, and single characters that are not
 *     tokens fall back to one <0xHH> byte token per UTF-8 byte.
 *
 * "Plain" means NORMAL (or USER_DEFINED/UNDEFINED): llama.cpp also lets
 * merging build CONTROL and BYTE texts, so "</s>" or "<0x41>" typed as
 * text with parse_special off would come out as the end token or a raw
 * byte. SentencePiece (and HF, which the fixtures come from) never does;
 * neither do we.
 */
#include "tokenizer_internal.h"

#include <string.h>

static const char SPM_SPACE[] = "\xe2\x96\x81"; /* U+2581, 3 bytes */

/* text with an optional leading space, each ' ' replaced by U+2581, into
 * s->buf; returns the normalized length through *out_len. */
static int spm_normalize(const char *text, size_t len, bool add_prefix, struct loco_tok_scratch *s,
                         size_t *out_len)
{
    if (len > (SIZE_MAX - 3) / 3)
        return loco_error_set(LOCO_ERR_RANGE, "tokenizer: text too long");
    int rc = loco_tok_scratch_reserve(&s->buf, &s->buf_cap, 3 * len + 3);
    if (rc != LOCO_OK)
        return rc;
    size_t n = 0;
    if (add_prefix) {
        memcpy(s->buf, SPM_SPACE, 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s->buf + n, SPM_SPACE, 3);
            n += 3;
        } else {
            s->buf[n++] = text[i];
        }
    }
    *out_len = n;
    return LOCO_OK;
}

/* The plain token whose text is text[0, len), or -1. */
static int32_t plain_token(const struct loco_tokenizer *t, const char *text, size_t len)
{
    int32_t id = loco_tok_map_get(&t->token_map, text, len);
    if (id < 0)
        return -1;
    uint8_t a = t->attr[id];
    bool plain =
        a == LOCO_TOKEN_NORMAL || a == LOCO_TOKEN_USER_DEFINED || a == LOCO_TOKEN_UNDEFINED;
    return plain ? id : -1;
}

/* Two SPM symbols may merge when their joined text is a plain token; its
 * score is the priority. */
static bool spm_pair(void *user, const char *text, const struct loco_tok_sym *l,
                     const struct loco_tok_sym *r, double *prio)
{
    const struct loco_tokenizer *t = user;
    int32_t id = plain_token(t, text + l->off, (size_t)(l->len + r->len));
    if (id < 0)
        return false;
    *prio = t->scores[id];
    return true;
}

/* One byte token per byte of text[off, off+len) (docs/tokenizer.md, SPM step 5). A byte
 * with no token maps to <unk> when the vocabulary has one. */
static int spm_bytes(const struct loco_tokenizer *t, const char *text, int32_t off, int32_t len,
                     struct loco_tok_ids *ids)
{
    for (int32_t i = off; i < off + len; i++) {
        int32_t id = t->byte_token[(unsigned char)text[i]];
        if (id < 0)
            id = t->unk;
        if (id >= 0 && loco_tok_ids_push(ids, id) != LOCO_OK)
            return LOCO_ERR_NOMEM;
    }
    return LOCO_OK;
}

/* Emit the tokens for tree node `node`: its own token when its text is a
 * plain one, else its two halves, else (a single character) its bytes. */
static int spm_resegment(const struct loco_tokenizer *t, const struct loco_tok_merge *m,
                         const char *text, int32_t node, struct loco_tok_ids *ids)
{
    const struct loco_tok_node *nd = &m->node[node];
    int32_t id = plain_token(t, text + nd->off, (size_t)nd->len);
    if (id >= 0)
        return loco_tok_ids_push(ids, id);
    if (nd->left < 0)
        return spm_bytes(t, text, nd->off, nd->len, ids);
    int rc = spm_resegment(t, m, text, nd->left, ids);
    return rc != LOCO_OK ? rc : spm_resegment(t, m, text, nd->right, ids);
}

int loco_tok_spm_encode(const struct loco_tokenizer *t, const char *text, size_t len,
                        bool add_prefix, struct loco_tok_scratch *s, struct loco_tok_ids *ids)
{
    size_t n = 0;
    int rc = spm_normalize(text, len, add_prefix, s, &n);
    if (rc == LOCO_OK)
        rc = loco_tok_merge_run(&s->merge, s->buf, n, spm_pair, (void *)t);
    if (rc != LOCO_OK || n == 0)
        return rc;
    const struct loco_tok_merge *m = &s->merge;
    for (int32_t i = 0; i >= 0 && rc == LOCO_OK; i = m->sym[i].next)
        rc = spm_resegment(t, m, s->buf, m->sym[i].node, ids);
    return rc;
}
