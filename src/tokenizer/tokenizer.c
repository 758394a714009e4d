/*
 * tokenizer.c - text to ids and back (see loco/tokenizer.h).
 *
 * Encoding runs in two stages, as llama.cpp does (docs/tokenizer.md):
 *   1. special tokens written in the text ("<|im_start|>", "</s>") are cut
 *      out first, longest text first, each becoming its id directly;
 *      CONTROL and UNKNOWN ones only when the caller asks (parse_special),
 *      USER_DEFINED ones always;
 *   2. every stretch of plain text between them goes to the vocabulary's
 *      encoder, spm.c or bpe.c. An SPM vocabulary with add_space_prefix
 *      gets a leading space at the start and again after each special
 *      token.
 * Decoding maps each id back to its bytes (piece) and concatenates them.
 */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

#define ENCODE_MAX_TEXT ((size_t)1 << 30)
#define IDS_MAX ((size_t)1 << 31)

/* ---- accessors ----------------------------------------------------------- */

enum loco_vocab_kind loco_tokenizer_kind(const struct loco_tokenizer *t)
{
    return t->kind;
}

int32_t loco_tokenizer_n_vocab(const struct loco_tokenizer *t)
{
    return t->n_vocab;
}

int32_t loco_tokenizer_bos(const struct loco_tokenizer *t)
{
    return t->bos;
}

int32_t loco_tokenizer_eos(const struct loco_tokenizer *t)
{
    return t->eos;
}

bool loco_tokenizer_add_bos(const struct loco_tokenizer *t)
{
    return t->add_bos && t->bos >= 0;
}

bool loco_tokenizer_is_eog(const struct loco_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && t->eog[id];
}

enum loco_token_attr loco_tokenizer_attr(const struct loco_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? (enum loco_token_attr)t->attr[id] : LOCO_TOKEN_UNDEFINED;
}

const char *loco_tokenizer_text(const struct loco_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? loco_tok_text(t, id) : "";
}

int32_t loco_tokenizer_find(const struct loco_tokenizer *t, const char *text)
{
    return text ? loco_tok_map_get(&t->token_map, text, strlen(text)) : -1;
}

/* ---- small buffers ------------------------------------------------------- */

int loco_tok_ids_push(struct loco_tok_ids *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 64;
        int32_t *v = cap <= IDS_MAX ? realloc(ids->v, cap * sizeof *v) : NULL;
        if (!v)
            return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory for token ids");
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return LOCO_OK;
}

int loco_tok_scratch_reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return LOCO_OK;
    char *p = realloc(*buf, need);
    if (!p)
        return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", need);
    *buf = p;
    *cap = need;
    return LOCO_OK;
}

void loco_tok_scratch_free(struct loco_tok_scratch *s)
{
    loco_tok_merge_free(&s->merge);
    free(s->buf);
    free(s->key);
    free(s->spans.v);
    memset(s, 0, sizeof *s);
}

/* ---- stage 1: special tokens --------------------------------------------- */

/* A fragment of the input: plain text [off, off+len), or a special token. */
struct frag {
    size_t off, len;
    int32_t id; /* -1 for plain text */
};

struct frags {
    struct frag *v;
    size_t n, cap;
};

static int frags_push(struct frags *f, size_t off, size_t len, int32_t id)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        struct frag *v = cap <= IDS_MAX ? realloc(f->v, cap * sizeof *v) : NULL;
        if (!v)
            return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory for fragments");
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (struct frag){off, len, id};
    return LOCO_OK;
}

/* Cut every occurrence of special token `id` out of the plain-text
 * fragments of `in`, writing the result to `out`. */
static int split_on(const struct loco_tokenizer *t, const char *text, int32_t id,
                    const struct frags *in, struct frags *out)
{
    const char *tok = loco_tok_text(t, id);
    size_t tlen = t->text_len[id];
    int rc = LOCO_OK;
    out->n = 0;
    for (size_t i = 0; i < in->n && rc == LOCO_OK; i++) {
        struct frag f = in->v[i];
        const char *hit;
        while (f.id < 0 && rc == LOCO_OK && (hit = memmem(text + f.off, f.len, tok, tlen))) {
            size_t before = (size_t)(hit - (text + f.off));
            if (before > 0)
                rc = frags_push(out, f.off, before, -1);
            if (rc == LOCO_OK)
                rc = frags_push(out, f.off + before, tlen, id);
            f.off += before + tlen;
            f.len -= before + tlen;
        }
        if (rc == LOCO_OK && (f.id >= 0 || f.len > 0))
            rc = frags_push(out, f.off, f.len, f.id);
    }
    return rc;
}

static bool matches_special(const struct loco_tokenizer *t, int32_t id, bool parse_special)
{
    return parse_special || t->attr[id] == LOCO_TOKEN_USER_DEFINED;
}

/* The whole text as fragments, special tokens cut out (docs/tokenizer.md). */
static int partition(const struct loco_tokenizer *t, const char *text, size_t len,
                     bool parse_special, struct frags *out)
{
    struct frags tmp = {0};
    out->n = 0;
    int rc = len > 0 ? frags_push(out, 0, len, -1) : LOCO_OK;
    for (int32_t i = 0; rc == LOCO_OK && len > 0 && i < t->n_specials; i++) {
        if (!matches_special(t, t->specials[i], parse_special))
            continue;
        rc = split_on(t, text, t->specials[i], out, &tmp);
        struct frags swap = *out;
        *out = tmp;
        tmp = swap;
    }
    free(tmp.v);
    return rc;
}

/* ---- stage 2: encoding --------------------------------------------------- */

static int encode_frags(const struct loco_tokenizer *t, const char *text, const struct frags *f,
                        struct loco_tok_ids *ids)
{
    struct loco_tok_scratch s = {0};
    bool prev_special = true; /* the start of input counts as a special token */
    int rc = LOCO_OK;
    for (size_t i = 0; i < f->n && rc == LOCO_OK; i++) {
        const struct frag *fr = &f->v[i];
        if (fr->id >= 0)
            rc = loco_tok_ids_push(ids, fr->id);
        else if (t->kind == LOCO_VOCAB_SPM)
            rc = loco_tok_spm_encode(t, text + fr->off, fr->len,
                                     t->add_space_prefix && prev_special, &s, ids);
        else
            rc = loco_tok_bpe_encode(t, text + fr->off, fr->len, &s, ids);
        prev_special = fr->id >= 0;
    }
    loco_tok_scratch_free(&s);
    return rc;
}

int loco_tokenizer_encode(const struct loco_tokenizer *t, const char *text, size_t len,
                          bool add_special, bool parse_special, int32_t **out, size_t *n_out)
{
    if (!t || !out || !n_out || (!text && len > 0))
        return loco_error_set(LOCO_ERR_INVALID, "tokenizer: encode given a NULL argument");
    if (len > ENCODE_MAX_TEXT)
        return loco_error_set(LOCO_ERR_RANGE, "tokenizer: %zu bytes of text is over the limit",
                              len);
    *out = NULL;
    *n_out = 0;
    struct loco_tok_ids ids = {0};
    struct frags f = {0};
    int rc = loco_tok_ids_push(&ids, 0); /* reserve: the array is never NULL */
    ids.n = 0;
    if (rc == LOCO_OK && add_special && t->add_bos && t->bos >= 0)
        rc = loco_tok_ids_push(&ids, t->bos);
    if (rc == LOCO_OK)
        rc = partition(t, text, len, parse_special, &f);
    if (rc == LOCO_OK)
        rc = encode_frags(t, text, &f, &ids);
    if (rc == LOCO_OK && add_special && t->add_eos && t->eos >= 0)
        rc = loco_tok_ids_push(&ids, t->eos);
    free(f.v);
    if (rc != LOCO_OK) {
        free(ids.v);
        return rc;
    }
    *out = ids.v;
    *n_out = ids.n;
    return LOCO_OK;
}

/* ---- decoding ------------------------------------------------------------ */

/* Appends bytes to buf while counting the full length, like snprintf. */
struct piece_out {
    char *buf;
    size_t cap, n;
};

static void put_byte(struct piece_out *o, char c)
{
    if (o->n < o->cap)
        o->buf[o->n] = c;
    o->n++;
}

static void put_bytes(struct piece_out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        put_byte(o, s[i]);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "<0xHH>" -> the byte, or -1 when text is not of that form. */
static int parse_byte_token(const char *s, size_t len)
{
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* SPM: U+2581 stands for a space. */
static void put_spm_text(struct piece_out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (i + 3 <= len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
            put_byte(o, ' ');
            i += 2;
        } else {
            put_byte(o, s[i]);
        }
    }
}

/* BPE: each code point of the GPT-2 byte map stands for one byte; any other
 * character is copied as it is. */
static void put_bpe_text(const struct loco_tokenizer *t, struct piece_out *o, const char *s,
                         size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = (size_t)loco_tok_utf8_len((unsigned char)s[i]);
        if (n > len - i)
            n = len - i;
        unsigned cp = loco_tok_small_cp(s + i, n);
        if (cp < LOCO_TOK_BYTE_CP_MAX && t->cp_byte[cp] >= 0)
            put_byte(o, (char)t->cp_byte[cp]);
        else
            put_bytes(o, s + i, n);
        i += n;
    }
}

static void put_piece(const struct loco_tokenizer *t, int32_t id, bool special, struct piece_out *o)
{
    const char *s = loco_tok_text(t, id);
    size_t len = t->text_len[id];
    int byte = parse_byte_token(s, len);
    switch (t->attr[id]) {
    case LOCO_TOKEN_CONTROL:
    case LOCO_TOKEN_UNKNOWN:
        if (special)
            put_bytes(o, s, len);
        return;
    case LOCO_TOKEN_USER_DEFINED:
        put_bytes(o, s, len);
        return;
    case LOCO_TOKEN_BYTE:
        if (byte >= 0) {
            put_byte(o, (char)byte);
            return;
        }
        break;
    default:
        break;
    }
    if (t->kind == LOCO_VOCAB_SPM)
        put_spm_text(o, s, len);
    else
        put_bpe_text(t, o, s, len);
}

int loco_tokenizer_piece(const struct loco_tokenizer *t, int32_t id, bool special, char *buf,
                         size_t cap)
{
    if (!t || id < 0 || id >= t->n_vocab)
        return loco_error_set(LOCO_ERR_RANGE, "tokenizer: token id %d is out of range", (int)id);
    struct piece_out o = {buf, buf ? cap : 0, 0};
    put_piece(t, id, special, &o);
    return o.n > (size_t)INT32_MAX ? LOCO_ERR_RANGE : (int)o.n;
}

/* Every piece into o; returns where the piece of ids[first] starts. */
static size_t put_all(const struct loco_tokenizer *t, const int32_t *ids, size_t n, bool special,
                      size_t first, struct piece_out *o)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == first)
            start = o->n;
        put_piece(t, ids[i], special, o);
    }
    return start;
}

char *loco_tokenizer_decode(const struct loco_tokenizer *t, const int32_t *ids, size_t n,
                            bool special, bool remove_leading_space)
{
    if (!t || (!ids && n > 0)) {
        loco_error_set(LOCO_ERR_INVALID, "tokenizer: decode given a NULL argument");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab) {
            loco_error_set(LOCO_ERR_RANGE, "tokenizer: token id %d at %zu is out of range",
                           (int)ids[i], i);
            return NULL;
        }
    }
    struct piece_out o = {NULL, 0, 0};
    size_t first = n > 0 && ids[0] == t->bos ? 1 : 0; /* the space follows any BOS */
    put_all(t, ids, n, special, first, &o);
    o.buf = malloc(o.n + 1);
    if (!o.buf) {
        loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", o.n + 1);
        return NULL;
    }
    o.cap = o.n;
    o.n = 0;
    size_t start = put_all(t, ids, n, special, first, &o);
    bool drop = remove_leading_space && t->add_space_prefix && first < n;
    if (drop && start < o.n && o.buf[start] == ' ') { /* the space add_space_prefix put there */
        memmove(o.buf + start, o.buf + start + 1, o.n - start - 1);
        o.n--;
    }
    o.buf[o.n] = '\0';
    return o.buf;
}
