/*
 * pretok.c - BPE pre-tokenization: cutting text into words by regex.
 *
 * Byte-level BPE never merges across the boundaries the pre-tokenizer
 * draws, so these regexes decide, for instance, whether " 123" is one word
 * or four. Which list applies is named by tokenizer.ggml.pre (docs/tokenizer.md);
 * each row of pretok_table below is one pre-type: the names that select it
 * and its regexes. Adding a pre-type is adding a row.
 *
 * Splitting semantics (as llama.cpp applies a list): each regex in turn
 * splits every piece produced so far; a match becomes a piece, and so does
 * each unmatched stretch between matches. The regexes run on one piece at
 * a time, so a look-ahead such as \s+(?!\S) never sees past the piece.
 *
 * Matching uses PCRE2 in UTF + UCP mode, so \p{L}, \p{N} and \s follow
 * Unicode's tables, JIT-compiled when the library supports it. PCRE2
 * rejects invalid UTF-8; such bytes are cut out beforehand as one-byte
 * pieces of their own (each becomes its own byte token).
 */
#include "tokenizer_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

/* GPT-2: contractions, letters, digits, other symbols, and whitespace that
 * leaves its last space to the next word. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"

/* Llama-3: case-insensitive contractions, digits in runs of at most 3. */
#define RE_LLAMA3                                                                                  \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"      \
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Qwen2: as Llama-3 but every digit is a word of its own. */
#define RE_QWEN2                                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"      \
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#define PRETOK_MAX_NAMES 8
#define PRETOK_MAX_REGEX 4

struct pretok_row {
    const char *names[PRETOK_MAX_NAMES]; /* tokenizer.ggml.pre values */
    const char *regex[PRETOK_MAX_REGEX]; /* applied in order */
    bool ignore_merges;                  /* whole-word vocabulary hits skip merging */
    bool add_bos;                        /* default for add_bos_token */
};

static const struct pretok_row pretok_table[] = {
    {{"gpt-2", "phi-2", "mpt", "olmo", "jais"}, {RE_GPT2}, false, false},
    {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
     {"\\p{N}", RE_GPT2},
     false,
     false},
    {{"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "lfm2"}, {RE_LLAMA3}, true, true},
    {{"qwen2", "deepseek-r1-qwen", "stablelm2", "hunyuan"}, {RE_QWEN2}, false, false},
    {{"default"},
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
     false,
     false},
};

#define PRETOK_ROWS (sizeof pretok_table / sizeof pretok_table[0])

struct loco_tok_pretok {
    pcre2_code *code[PRETOK_MAX_REGEX];
    int n_code;
};

/* ---- choosing and compiling the list ----------------------------------- */

static const struct pretok_row *find_row(const char *name)
{
    for (size_t r = 0; r < PRETOK_ROWS; r++)
        for (int i = 0; i < PRETOK_MAX_NAMES && pretok_table[r].names[i]; i++)
            if (strcmp(pretok_table[r].names[i], name) == 0)
                return &pretok_table[r];
    return NULL;
}

/* "gpt-2, phi-2, ..." into buf. */
static void known_names(char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t r = 0; r < PRETOK_ROWS; r++) {
        for (int i = 0; i < PRETOK_MAX_NAMES && pretok_table[r].names[i]; i++) {
            const char *name = pretok_table[r].names[i];
            size_t need = strlen(name) + (n ? 2 : 0);
            if (n + need + 1 > cap)
                return;
            memcpy(buf + n, n ? ", " : "", n ? 2 : 0);
            memcpy(buf + n + (n ? 2 : 0), name, strlen(name) + 1);
            n += need;
        }
    }
}

static int compile_regex(const char *re, pcre2_code **out)
{
    int err = 0;
    PCRE2_SIZE at = 0;
    *out = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &at,
                         NULL);
    if (!*out) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "tokenizer: regex /%s/ at %zu: %s", re,
                              (size_t)at, (const char *)msg);
    }
    pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if absent */
    return LOCO_OK;
}

int loco_tok_pretok_init(const char *name, struct loco_tok_pretok **out, bool *ignore_merges,
                         bool *add_bos)
{
    *out = NULL;
    const struct pretok_row *row = find_row(name ? name : "default");
    if (!row) {
        char known[512];
        known_names(known, sizeof known);
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "tokenizer: unknown tokenizer.ggml.pre \"%s\" (known: %s)", name,
                              known);
    }
    struct loco_tok_pretok *p = calloc(1, sizeof *p);
    if (!p)
        return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory");
    for (int i = 0; i < PRETOK_MAX_REGEX && row->regex[i]; i++) {
        int rc = compile_regex(row->regex[i], &p->code[i]);
        if (rc != LOCO_OK) {
            loco_tok_pretok_free(p);
            return rc;
        }
        p->n_code = i + 1;
    }
    *out = p;
    *ignore_merges = row->ignore_merges;
    *add_bos = row->add_bos;
    return LOCO_OK;
}

void loco_tok_pretok_free(struct loco_tok_pretok *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_code; i++)
        pcre2_code_free(p->code[i]);
    free(p);
}

/* ---- splitting ----------------------------------------------------------- */

#define SPANS_MAX ((size_t)1 << 28)

static int spans_push(struct loco_tok_spans *s, size_t off, size_t len, bool raw)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct loco_tok_span *v = cap <= SPANS_MAX ? realloc(s->v, cap * sizeof *v) : NULL;
        if (!v)
            return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory for pieces");
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct loco_tok_span){off, len, raw};
    return LOCO_OK;
}

/* Length of the valid UTF-8 character (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF) at s[0, n), or 0 if invalid. */
static size_t utf8_valid_char(const unsigned char *s, size_t n)
{
    size_t len = (size_t)loco_tok_utf8_len(s[0]);
    if (s[0] < 0x80)
        return 1;
    if (s[0] < 0xc2 || s[0] > 0xf4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* Cut text into maximal valid UTF-8 runs and single invalid bytes (marked
 * raw: no regex sees them). */
static int split_invalid(const char *text, size_t len, struct loco_tok_spans *out)
{
    size_t start = 0;
    out->n = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_valid_char((const unsigned char *)text + i, len - i);
        if (n > 0) {
            i += n;
            continue;
        }
        if ((i > start && spans_push(out, start, i - start, false) != LOCO_OK) ||
            spans_push(out, i, 1, true) != LOCO_OK)
            return LOCO_ERR_NOMEM;
        start = ++i;
    }
    return len > start ? spans_push(out, start, len - start, false) : LOCO_OK;
}

/* Split one valid-UTF-8 piece text[off, off+len) with one regex. */
static int split_piece(const pcre2_code *re, pcre2_match_data *md, const char *text, size_t off,
                       size_t len, struct loco_tok_spans *out)
{
    const PCRE2_SPTR subject = (PCRE2_SPTR)(text + off);
    size_t start = 0, pos = 0;
    while (pos < len) {
        int rc = pcre2_match(re, subject, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return loco_error_set(LOCO_ERR_RANGE, "tokenizer: regex match failed (%d)", rc);
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) { /* empty match: step over one character */
            pos = ov[0] + (size_t)loco_tok_utf8_len(subject[ov[0]]);
            continue;
        }
        if ((ov[0] > start && spans_push(out, off + start, ov[0] - start, false) != LOCO_OK) ||
            spans_push(out, off + ov[0], ov[1] - ov[0], false) != LOCO_OK)
            return LOCO_ERR_NOMEM;
        start = pos = ov[1];
    }
    return len > start ? spans_push(out, off + start, len - start, false) : LOCO_OK;
}

/* Apply one regex to every piece in `in`, appending the results to `out`. */
static int split_all(const pcre2_code *re, pcre2_match_data *md, const char *text,
                     const struct loco_tok_spans *in, struct loco_tok_spans *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        const struct loco_tok_span *s = &in->v[i];
        int rc = s->raw ? spans_push(out, s->off, s->len, true)
                        : split_piece(re, md, text, s->off, s->len, out);
        if (rc != LOCO_OK)
            return rc;
    }
    return LOCO_OK;
}

int loco_tok_pretok_split(const struct loco_tok_pretok *p, const char *text, size_t len,
                          struct loco_tok_spans *out)
{
    struct loco_tok_spans tmp = {0};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = md ? split_invalid(text, len, out)
                : loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory");
    for (int i = 0; rc == LOCO_OK && i < p->n_code; i++) {
        rc = split_all(p->code[i], md, text, out, &tmp);
        struct loco_tok_spans swap = *out;
        *out = tmp;
        tmp = swap;
    }
    pcre2_match_data_free(md);
    free(tmp.v);
    return rc;
}
