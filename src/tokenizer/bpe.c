/*
 * bpe.c - byte-level BPE ("gpt2" vocabularies: GPT-2, SmolLM, Qwen, Llama-3).
 *
 * docs/tokenizer.md, BPE tokenization. For one fragment of plain text:
 *   - the pre-tokenizer regexes (pretok.c) cut it into pieces ("words");
 *   - each piece is byte-encoded: every byte becomes one printable code
 *     point by the GPT-2 byte map, so a space is written "Ġ" (U+0120);
 *   - with ignore_merges (llama3 family) a piece that is already a whole
 *     token is emitted as is;
 *   - otherwise adjacent symbols merge greedily, lowest merge rank first
 *     (merge.c), the rank being the line number of "left right" in
 *     tokenizer.ggml.merges;
 *   - a final symbol that is not a token falls back to its characters'
 *     tokens, then to <0xHH> byte tokens.
 */
#include "tokenizer_internal.h"

#include <string.h>

/* GPT-2's byte map: the printable bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF
 * stand for themselves; the other 68 bytes take code points 256, 257, ...
 * in ascending byte order. */
static bool byte_printable(int b)
{
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
}

/* The code point that stands for byte b. */
static uint16_t byte_cp(int b)
{
    uint16_t cp = 256; /* the non-printable bytes, in order, from 256 */
    for (int i = 0; !byte_printable(b) && i < b; i++)
        cp += !byte_printable(i);
    return byte_printable(b) ? (uint16_t)b : cp;
}

void loco_tok_bpe_byte_map(struct loco_tokenizer *t)
{
    for (int i = 0; i < LOCO_TOK_BYTE_CP_MAX; i++)
        t->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        t->byte_cp[b] = byte_cp(b);
        t->cp_byte[t->byte_cp[b]] = (int16_t)b;
    }
}

/* UTF-8 for a code point below 0x800 (all the byte map uses). */
static size_t put_cp(char *out, uint16_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
}

size_t loco_tokenizer_byte_text(uint8_t b, char out[3])
{
    size_t n = put_cp(out, byte_cp(b));
    out[n] = '\0';
    return n;
}

/* Byte-encode text[0, len) into s->buf (at most 2 bytes per byte). */
static int byte_encode(const struct loco_tokenizer *t, const char *text, size_t len,
                       struct loco_tok_scratch *s, size_t *out_len)
{
    if (len > SIZE_MAX / 2 - 1)
        return loco_error_set(LOCO_ERR_RANGE, "tokenizer: text too long");
    int rc = loco_tok_scratch_reserve(&s->buf, &s->buf_cap, 2 * len + 1);
    if (rc != LOCO_OK)
        return rc;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += put_cp(s->buf + n, t->byte_cp[(unsigned char)text[i]]);
    *out_len = n;
    return LOCO_OK;
}

struct bpe_ctx {
    const struct loco_tokenizer *t;
    char *key; /* room for "left right" of the longest piece */
};

/* Two BPE symbols may merge when "left right" is a merge; the lower its
 * rank, the higher its priority. */
static bool bpe_pair(void *user, const char *text, const struct loco_tok_sym *l,
                     const struct loco_tok_sym *r, double *prio)
{
    struct bpe_ctx *c = user;
    memcpy(c->key, text + l->off, (size_t)l->len);
    c->key[l->len] = ' ';
    memcpy(c->key + l->len + 1, text + r->off, (size_t)r->len);
    int32_t rank = loco_tok_map_get(&c->t->merge_map, c->key, (size_t)(l->len + 1 + r->len));
    if (rank < 0)
        return false;
    *prio = -(double)rank;
    return true;
}

/* Tokens for one byte-encoded character that is not itself a token: the
 * <0xHH> token of the byte it stands for, else nothing (as llama.cpp: an
 * <unk> here could be an end-of-text token, worse than a lost byte). */
static int bpe_char_fallback(const struct loco_tokenizer *t, const char *ch, size_t n,
                             struct loco_tok_ids *ids)
{
    int32_t id = loco_tok_map_get(&t->token_map, ch, n);
    if (id < 0) {
        unsigned cp = loco_tok_small_cp(ch, n);
        if (cp < LOCO_TOK_BYTE_CP_MAX && t->cp_byte[cp] >= 0)
            id = t->byte_token[t->cp_byte[cp]];
    }
    return id >= 0 ? loco_tok_ids_push(ids, id) : LOCO_OK;
}

/* Emit a final symbol: its token, or per character fallback. */
static int bpe_emit(const struct loco_tokenizer *t, const char *text, int32_t len,
                    struct loco_tok_ids *ids)
{
    int32_t id = loco_tok_map_get(&t->token_map, text, (size_t)len);
    if (id >= 0)
        return loco_tok_ids_push(ids, id);
    int rc = LOCO_OK;
    for (int32_t i = 0; i < len && rc == LOCO_OK;) {
        int32_t n = loco_tok_utf8_len((unsigned char)text[i]);
        if (n > len - i)
            n = len - i;
        rc = bpe_char_fallback(t, text + i, (size_t)n, ids);
        i += n;
    }
    return rc;
}

/* One pre-tokenized piece. */
static int bpe_word(const struct loco_tokenizer *t, const char *text, size_t len,
                    struct loco_tok_scratch *s, struct loco_tok_ids *ids)
{
    size_t n = 0;
    int rc = byte_encode(t, text, len, s, &n);
    if (rc != LOCO_OK)
        return rc;
    if (t->ignore_merges) {
        int32_t id = loco_tok_map_get(&t->token_map, s->buf, n);
        if (id >= 0)
            return loco_tok_ids_push(ids, id);
    }
    rc = loco_tok_scratch_reserve(&s->key, &s->key_cap, n + 1);
    struct bpe_ctx c = {t, s->key};
    if (rc == LOCO_OK)
        rc = loco_tok_merge_run(&s->merge, s->buf, n, bpe_pair, &c);
    const struct loco_tok_merge *m = &s->merge;
    for (int32_t i = 0; rc == LOCO_OK && n > 0 && i >= 0; i = m->sym[i].next)
        rc = bpe_emit(t, s->buf + m->sym[i].off, m->sym[i].len, ids);
    return rc;
}

int loco_tok_bpe_encode(const struct loco_tokenizer *t, const char *text, size_t len,
                        struct loco_tok_scratch *s, struct loco_tok_ids *ids)
{
    int rc = loco_tok_pretok_split(t->pretok, text, len, &s->spans);
    for (size_t i = 0; rc == LOCO_OK && i < s->spans.n; i++)
        rc = bpe_word(t, text + s->spans.v[i].off, s->spans.v[i].len, s, ids);
    return rc;
}
