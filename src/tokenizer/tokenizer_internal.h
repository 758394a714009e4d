/*
 * tokenizer_internal.h - what the tokenizer's files share, and nobody else.
 *
 * The pieces, in the order a text goes through them:
 *   vocab.c      reads tokenizer.* from the GGUF into struct loco_tokenizer
 *   tokenizer.c  splits out special tokens, then hands each plain-text
 *                fragment to the SPM or BPE encoder; also piece/decode
 *   pretok.c     BPE only: the PCRE2 regex list named by tokenizer.ggml.pre
 *   spm.c, bpe.c the two encoders, both built on
 *   merge.c      the greedy "merge the best adjacent pair" loop
 *   strmap.c     an open-addressing hash map from a byte string to an int
 * chat.c (chat templates) needs none of this.
 *
 * Notation: V = vocabulary size (number of tokens).
 */
#ifndef LOCO_TOKENIZER_INTERNAL_H
#define LOCO_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/tokenizer.h"

/* ---- string -> int hash map (strmap.c) -------------------------------- */

/* Keys are borrowed: they must outlive the map. Capacity is fixed at init,
 * so a map holds at most the number of entries it was sized for. */
struct loco_tok_map_slot {
    const char *key; /* NULL: empty slot */
    uint32_t len;
    int32_t value;
};

struct loco_tok_map {
    struct loco_tok_map_slot *slots; /* [cap] */
    size_t cap;                      /* a power of two, >= 2 * max entries */
    size_t n, max;
};

int loco_tok_map_init(struct loco_tok_map *m, size_t max_entries);
void loco_tok_map_free(struct loco_tok_map *m);
/* Insert key -> value. An existing key keeps its old value unless `replace`.
 * Fails (LOCO_ERR_RANGE) only when the map already holds max entries. */
int loco_tok_map_put(struct loco_tok_map *m, const char *key, size_t len, int32_t value,
                     bool replace);
/* The value of key, or -1 when absent. */
int32_t loco_tok_map_get(const struct loco_tok_map *m, const char *key, size_t len);

/* ---- growable id list -------------------------------------------------- */

struct loco_tok_ids {
    int32_t *v;
    size_t n, cap;
};

int loco_tok_ids_push(struct loco_tok_ids *ids, int32_t id);

/* ---- the pair-merge loop (merge.c) ------------------------------------- */

/* A symbol is a run of bytes text[off, off+len) that may still merge with
 * its neighbours; a dead symbol (absorbed by its left neighbour) has len 0.
 * Each symbol points at the node of the merge tree that produced it, so SPM
 * can re-split symbols that are not tokens. */
struct loco_tok_sym {
    int32_t off, len;
    int32_t prev, next; /* neighbouring live symbols, -1 at the ends */
    int32_t node;
};

struct loco_tok_node {
    int32_t off, len;
    int32_t left, right; /* child nodes, -1 for a single character */
};

struct loco_tok_pair {
    double prio; /* higher merges first */
    int32_t left, right, size;
};

/* Says whether symbols l and r (adjacent in text) may merge, and with what
 * priority. SPM: the merged token's score. BPE: minus the merge rank. */
typedef bool (*loco_tok_pair_fn)(void *user, const char *text, const struct loco_tok_sym *l,
                                 const struct loco_tok_sym *r, double *prio);

struct loco_tok_merge {
    struct loco_tok_sym *sym;   /* [n_sym] one per UTF-8 character to start */
    struct loco_tok_node *node; /* [n_node] <= 2 n_sym */
    struct loco_tok_pair *heap; /* [n_heap] <= 3 n_sym, a binary max-heap */
    int32_t n_sym, n_node, n_heap;
    size_t cap; /* symbols the arrays are sized for */
};

/* Split text into UTF-8 characters and merge the best pair until no pair
 * may merge. Afterwards the live symbols are sym[0], sym[sym[0].next], ...
 * The arrays are reused across calls; free with loco_tok_merge_free. */
int loco_tok_merge_run(struct loco_tok_merge *m, const char *text, size_t len,
                       loco_tok_pair_fn pair, void *user);
void loco_tok_merge_free(struct loco_tok_merge *m);

/* Bytes in the UTF-8 character that starts with byte c (1 for a stray
 * continuation byte, as llama.cpp counts it). */
int loco_tok_utf8_len(unsigned char c);

/* ---- pre-tokenizer (pretok.c) ------------------------------------------ */

struct loco_tok_pretok; /* compiled regex list */

struct loco_tok_span {
    size_t off, len;
    bool raw; /* an invalid UTF-8 byte, kept apart from the regexes */
};

struct loco_tok_spans {
    struct loco_tok_span *v;
    size_t n, cap;
};

/* Compile the list for a tokenizer.ggml.pre value (NULL: "default"). An
 * unknown name fails with LOCO_ERR_UNSUPPORTED and a message listing the
 * known ones. *ignore_merges and *add_bos get the pre-type's settings. */
int loco_tok_pretok_init(const char *name, struct loco_tok_pretok **out, bool *ignore_merges,
                         bool *add_bos);
void loco_tok_pretok_free(struct loco_tok_pretok *p);
/* Split text[0, len) into pieces (offsets into text), replacing out's
 * contents. */
int loco_tok_pretok_split(const struct loco_tok_pretok *p, const char *text, size_t len,
                          struct loco_tok_spans *out);

/* ---- the tokenizer ----------------------------------------------------- */

/* The GPT-2 byte map (docs/tokenizer.md, BPE step 2): each byte stands for one code point. */
#define LOCO_TOK_BYTE_CP_MAX 324 /* code points used are < 256 + 68 */

struct loco_tokenizer {
    enum loco_vocab_kind kind;
    int32_t n_vocab;               /* V */
    char *arena;                   /* every token text, NUL-terminated */
    uint32_t *text_off, *text_len; /* [V] where token i's text is in arena */
    float *scores;                 /* [V] SPM merge scores (0 for BPE) */
    uint8_t *attr;                 /* [V] enum loco_token_attr */
    uint8_t *eog;                  /* [V] 1 for end-of-generation tokens */
    struct loco_tok_map token_map; /* text -> id */

    /* special tokens (CONTROL, USER_DEFINED, UNKNOWN), longest text first */
    int32_t *specials;
    int32_t n_specials;

    int32_t bos, eos, eot, eom, unk; /* -1 when absent */
    bool add_bos, add_eos, add_space_prefix;
    int32_t byte_token[256]; /* id standing for raw byte b, or -1 */

    /* BPE only */
    char *merge_arena;             /* copies of the "left right" strings */
    struct loco_tok_map merge_map; /* "left right" -> rank */
    struct loco_tok_pretok *pretok;
    bool ignore_merges;
    uint16_t byte_cp[256];                 /* byte -> code point */
    int16_t cp_byte[LOCO_TOK_BYTE_CP_MAX]; /* code point -> byte, or -1 */
};

/* Code point of a 1- or 2-byte UTF-8 character s[0, n), the only ones the
 * byte map uses; LOCO_TOK_BYTE_CP_MAX for anything longer. */
static inline unsigned loco_tok_small_cp(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 1)
        return u[0];
    if (n == 2)
        return (u[0] & 0x1fu) << 6 | (u[1] & 0x3fu);
    return LOCO_TOK_BYTE_CP_MAX;
}

/* Per-call scratch shared by the encoders (freed by loco_tok_scratch_free). */
struct loco_tok_scratch {
    struct loco_tok_merge merge;
    char *buf; /* normalized or byte-encoded text */
    size_t buf_cap;
    char *key; /* BPE merge key "left right" */
    size_t key_cap;
    struct loco_tok_spans spans;
};

int loco_tok_scratch_reserve(char **buf, size_t *cap, size_t need);
void loco_tok_scratch_free(struct loco_tok_scratch *s);

/* Text of token id (not NUL-checked; id must be in range). */
static inline const char *loco_tok_text(const struct loco_tokenizer *t, int32_t id)
{
    return t->arena + t->text_off[id];
}

/* Encode one plain-text fragment (no special tokens in it), appending ids. */
int loco_tok_spm_encode(const struct loco_tokenizer *t, const char *text, size_t len,
                        bool add_prefix, struct loco_tok_scratch *s, struct loco_tok_ids *ids);
int loco_tok_bpe_encode(const struct loco_tokenizer *t, const char *text, size_t len,
                        struct loco_tok_scratch *s, struct loco_tok_ids *ids);
/* Fill byte_cp / cp_byte with the GPT-2 byte map. */
void loco_tok_bpe_byte_map(struct loco_tokenizer *t);

#endif
