/*
 * test-tokenizer.c - the tokenizer against llama.cpp's own test vectors.
 *
 * shared/fixtures/tokenizer holds llama.cpp's vocab-only GGUFs with pairs of
 * files: <vocab>.gguf.inp (test strings, each followed by the separator
 * line "__ggml_vocab_test__") and <vocab>.gguf.out (the ids HF's tokenizer
 * gives, one line per string). Every pair whose vocabulary is present must
 * match exactly, with add_special = false and parse_special = false, except
 * tinyllama's, which runs against the llama-spm vocabulary with
 * parse_special = true (fixtures MANIFEST). Then: round trips, special ids,
 * special-token splitting, byte fallback, pieces, pre-tokenizer choice
 * (on small vocabularies written here with the GGUF writer), and the real
 * SmolLM2 model, the default model, from the model cache (skipped when it
 * has not been pulled).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <unistd.h>

#include "loco/gguf.h"
#include "loco/tokenizer.h"
#include "testutil.h"

#define FIXTURES "fixtures/tokenizer"
#define SEPARATOR "\n__ggml_vocab_test__\n"
#define MAX_CASES 256

/* ---- helpers ------------------------------------------------------------- */

static struct loco_tokenizer *load_path(const char *path)
{
    struct loco_gguf *g = loco_gguf_open(path);
    if (!g) {
        print_error("cannot open %s: %s\n", path, loco_error_message());
        return NULL;
    }
    struct loco_tokenizer *t = loco_tokenizer_init(g);
    if (!t)
        print_error("tokenizer for %s: %s\n", path, loco_error_message());
    loco_gguf_close(g); /* the tokenizer must not need it any more */
    return t;
}

/* Tokenizer for fixtures/tokenizer/ggml-vocab-<name>.gguf, or NULL (test
 * skipped) when the shared folder or the file is absent. */
static struct loco_tokenizer *load_vocab(const char *name)
{
    char rel[512], path[1024];
    snprintf(rel, sizeof rel, FIXTURES "/ggml-vocab-%s.gguf", name);
    if (!test_shared_path(rel, path, sizeof path))
        return NULL;
    struct loco_tokenizer *t = load_path(path);
    assert_non_null(t);
    return t;
}

static void encode(const struct loco_tokenizer *t, const char *s, bool parse_special, int32_t **ids,
                   size_t *n)
{
    assert_int_equal(loco_tokenizer_encode(t, s, strlen(s), false, parse_special, ids, n), 0);
}

/* Expect encode(s) == want[0..n_want). */
static void expect_ids(const struct loco_tokenizer *t, const char *s, bool parse_special,
                       const int32_t *want, size_t n_want)
{
    int32_t *ids;
    size_t n;
    encode(t, s, parse_special, &ids, &n);
    bool same = n == n_want && memcmp(ids, want, n * sizeof *ids) == 0;
    if (!same) {
        print_error("encode(\"%s\"): got", s);
        for (size_t i = 0; i < n; i++)
            print_error(" %d", ids[i]);
        print_error("\n");
    }
    free(ids);
    assert_true(same);
}

static bool contains(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static int32_t find(const struct loco_tokenizer *t, const char *text)
{
    int32_t id = loco_tokenizer_find(t, text);
    assert_true(id >= 0);
    return id;
}

/* ---- the .inp/.out pairs ------------------------------------------------- */

struct cases {
    char *inp, *out;          /* file contents, cut in place */
    const char *s[MAX_CASES]; /* test strings (not NUL-terminated) */
    size_t len[MAX_CASES];
    char *want[MAX_CASES]; /* expected ids as text, one line each */
    size_t n;
};

/* Cut the .inp on the separator and the .out into lines (MANIFEST format). */
static bool read_cases(const char *inp_path, const char *out_path, struct cases *c)
{
    size_t n_inp = 0, n_out = 0;
    memset(c, 0, sizeof *c);
    c->inp = test_read_file(inp_path, &n_inp);
    c->out = test_read_file(out_path, &n_out);
    if (!c->inp || !c->out)
        return false;
    const size_t sep_len = strlen(SEPARATOR);
    char *p = c->inp, *end = c->inp + n_inp, *hit;
    while (c->n < MAX_CASES && (hit = memmem(p, (size_t)(end - p), SEPARATOR, sep_len))) {
        c->s[c->n] = p;
        c->len[c->n++] = (size_t)(hit - p);
        p = hit + sep_len;
    }
    char *line = c->out;
    for (size_t i = 0; i < c->n; i++) {
        char *nl = strchr(line, '\n');
        if (!nl)
            return false;
        *nl = '\0';
        c->want[i] = line;
        line = nl + 1;
    }
    return *line == '\0';
}

static void free_cases(struct cases *c)
{
    free(c->inp);
    free(c->out);
}

/* Ids as " 1 2 3" for comparing with an .out line. */
static void ids_to_text(const int32_t *ids, size_t n, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, " %d", ids[i]);
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

/* Run one pair; prints every failing case; returns the number of failures. */
static int run_pair(const struct loco_tokenizer *t, const char *label, struct cases *c,
                    bool parse_special)
{
    int failed = 0;
    char got[16384];
    for (size_t i = 0; i < c->n; i++) {
        int32_t *ids;
        size_t n;
        assert_int_equal(
            loco_tokenizer_encode(t, c->s[i], c->len[i], false, parse_special, &ids, &n), 0);
        ids_to_text(ids, n, got, sizeof got);
        free(ids);
        if (strcmp(skip_spaces(got), skip_spaces(c->want[i])) == 0)
            continue;
        failed++;
        print_error("%s case %zu: \"%.*s\"\n  expected: %s\n  got:      %s\n", label, i,
                    (int)c->len[i], c->s[i], skip_spaces(c->want[i]), skip_spaces(got));
    }
    print_message("%s: %zu/%zu cases pass\n", label, c->n - (size_t)failed, c->n);
    return failed;
}

/* The pair for `inp_name` (e.g. "gpt-2") against vocabulary `vocab_name`. */
static void check_pair(const char *inp_name, const char *vocab_name, bool parse_special)
{
    char rel[512], inp[1024], out[1024];
    snprintf(rel, sizeof rel, FIXTURES "/ggml-vocab-%s.gguf.inp", inp_name);
    if (!test_shared_path(rel, inp, sizeof inp))
        skip();
    snprintf(out, sizeof out, "%.*s.out", (int)(strlen(inp) - 4), inp);
    struct loco_tokenizer *t = load_vocab(vocab_name);
    if (!t)
        skip();
    struct cases c;
    assert_true(read_cases(inp, out, &c));
    assert_true(c.n > 0);
    int failed = run_pair(t, inp_name, &c, parse_special);
    free_cases(&c);
    loco_tokenizer_free(t);
    assert_int_equal(failed, 0);
}

static void test_pair_llama_spm(void **state)
{
    check_pair("llama-spm", "llama-spm", false);
}

static void test_pair_gpt2(void **state)
{
    check_pair("gpt-2", "gpt-2", false);
}

static void test_pair_phi3(void **state)
{
    check_pair("phi-3", "phi-3", false);
}

static void test_pair_starcoder(void **state)
{
    check_pair("starcoder", "starcoder", false);
}

/* Llama-2 vocabulary, special tokens in the text parsed (MANIFEST note). */
static void test_pair_tinyllama(void **state)
{
    check_pair("tinyllama", "llama-spm", true);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool covered_above(const char *name)
{
    static const char *const done[] = {"llama-spm", "gpt-2",     "phi-3",
                                       "starcoder", "tinyllama", NULL};
    for (int i = 0; done[i]; i++)
        if (strcmp(name, done[i]) == 0)
            return true;
    return false;
}

/* Any further pair whose vocabulary is present (qwen2, llama-bpe, ... are
 * shipped without their large GGUFs; each is named when skipped). */
static void test_pair_others(void **state)
{
    char dir_path[1024], rel[512], path[1024];
    if (!test_shared_path(FIXTURES, dir_path, sizeof dir_path))
        skip();
    DIR *dir = opendir(dir_path);
    assert_non_null(dir);
    struct dirent *e;
    while ((e = readdir(dir))) {
        const char *prefix = "ggml-vocab-";
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || !has_suffix(e->d_name, ".gguf.inp"))
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(e->d_name) - strlen(prefix) - 9),
                 e->d_name + strlen(prefix));
        snprintf(rel, sizeof rel, FIXTURES "/ggml-vocab-%s.gguf", name);
        if (covered_above(name))
            continue;
        if (test_shared_path(rel, path, sizeof path))
            check_pair(name, name, false);
    }
    closedir(dir);
}

/* ---- round trips --------------------------------------------------------- */

/* decode(encode(s)) == s for every fixture string. SPM's decode drops the
 * space its encode put in front (remove_leading_space). */
static void check_round_trip(const char *vocab)
{
    char rel[512], inp[1024];
    snprintf(rel, sizeof rel, FIXTURES "/ggml-vocab-%s.gguf.inp", vocab);
    struct loco_tokenizer *t = test_shared_path(rel, inp, sizeof inp) ? load_vocab(vocab) : NULL;
    if (!t)
        skip();
    struct cases c;
    read_cases(inp, inp, &c); /* only the strings are used */
    int failed = 0;
    for (size_t i = 0; i < c.n; i++) {
        int32_t *ids;
        size_t n;
        assert_int_equal(loco_tokenizer_encode(t, c.s[i], c.len[i], false, false, &ids, &n), 0);
        char *back = loco_tokenizer_decode(t, ids, n, false, true);
        assert_non_null(back);
        if (strlen(back) != c.len[i] || memcmp(back, c.s[i], c.len[i]) != 0) {
            failed++;
            print_error("%s round trip: \"%.*s\" -> \"%s\"\n", vocab, (int)c.len[i], c.s[i], back);
        }
        free(back);
        free(ids);
    }
    free_cases(&c);
    loco_tokenizer_free(t);
    assert_int_equal(failed, 0);
}

static void test_round_trip(void **state)
{
    check_round_trip("llama-spm");
    check_round_trip("gpt-2");
    check_round_trip("phi-3");
    check_round_trip("starcoder");
}

/* ---- special ids --------------------------------------------------------- */

static void test_special_ids_spm(void **state)
{
    struct loco_tokenizer *t = load_vocab("llama-spm");
    if (!t)
        skip();
    assert_int_equal(loco_tokenizer_kind(t), LOCO_VOCAB_SPM);
    assert_int_equal(loco_tokenizer_n_vocab(t), 32000);
    assert_int_equal(loco_tokenizer_bos(t), 1);
    assert_int_equal(loco_tokenizer_eos(t), 2);
    assert_true(loco_tokenizer_add_bos(t));
    assert_true(loco_tokenizer_is_eog(t, 2));
    assert_false(loco_tokenizer_is_eog(t, 1));
    assert_false(loco_tokenizer_is_eog(t, 100));
    assert_false(loco_tokenizer_is_eog(t, -1));
    assert_false(loco_tokenizer_is_eog(t, 32000));
    assert_int_equal(loco_tokenizer_attr(t, 0), LOCO_TOKEN_UNKNOWN);
    assert_int_equal(loco_tokenizer_attr(t, 1), LOCO_TOKEN_CONTROL);
    assert_int_equal(loco_tokenizer_attr(t, 3), LOCO_TOKEN_BYTE);
    assert_string_equal(loco_tokenizer_text(t, 2), "</s>");
    assert_string_equal(loco_tokenizer_text(t, 99999), "");
    assert_int_equal(loco_tokenizer_find(t, "<0x0A>"), 13);
    assert_int_equal(loco_tokenizer_find(t, "no such token"), -1);

    /* add_special puts BOS in front (and no EOS: add_eos_token is false) */
    int32_t *ids;
    size_t n;
    assert_int_equal(loco_tokenizer_encode(t, "Hello", 5, true, false, &ids, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 1);
    free(ids);
    loco_tokenizer_free(t);
}

static void test_special_ids_bpe(void **state)
{
    struct loco_tokenizer *t = load_vocab("gpt-2");
    if (!t)
        skip();
    assert_int_equal(loco_tokenizer_kind(t), LOCO_VOCAB_BPE);
    assert_int_equal(loco_tokenizer_bos(t), 50256);
    assert_int_equal(loco_tokenizer_eos(t), 50256);
    assert_false(loco_tokenizer_add_bos(t)); /* gpt-2 pre-type: no BOS */
    assert_true(loco_tokenizer_is_eog(t, 50256));
    assert_false(loco_tokenizer_is_eog(t, 0));
    loco_tokenizer_free(t);

    t = load_vocab("phi-3");
    assert_non_null(t);
    assert_int_equal(loco_tokenizer_eos(t), 32000);
    assert_true(loco_tokenizer_is_eog(t, 32000));              /* <|endoftext|> */
    assert_true(loco_tokenizer_is_eog(t, find(t, "<|end|>"))); /* phi-3's turn end */
    assert_true(loco_tokenizer_is_eog(t, find(t, "</s>")));    /* by its text */
    assert_false(loco_tokenizer_is_eog(t, find(t, "<|assistant|>")));
    assert_int_equal(loco_tokenizer_attr(t, 2), LOCO_TOKEN_USER_DEFINED); /* "</s>" */
    loco_tokenizer_free(t);

    t = load_vocab("starcoder");
    assert_non_null(t);
    assert_true(loco_tokenizer_is_eog(t, 0)); /* <|endoftext|> */
    loco_tokenizer_free(t);
}

/* ---- special-token splitting --------------------------------------------- */

static void test_special_split(void **state)
{
    struct loco_tokenizer *t = load_vocab("llama-spm");
    if (!t)
        skip();
    /* CONTROL tokens only with parse_special; SPM prefixes text after them */
    expect_ids(t, "a</s>b", true, (const int32_t[]){263, 2, 289}, 3);
    int32_t *ids;
    size_t n;
    encode(t, "a</s>b", false, &ids, &n);
    assert_false(contains(ids, n, 2));
    free(ids);
    /* nor can merging build a CONTROL or BYTE token out of plain text */
    encode(t, "x </s> <0x41>", false, &ids, &n);
    assert_false(contains(ids, n, 2));
    assert_false(contains(ids, n, find(t, "<0x41>")));
    char *back = loco_tokenizer_decode(t, ids, n, false, true);
    assert_string_equal(back, "x </s> <0x41>");
    free(back);
    free(ids);
    /* the special token alone, and at both ends */
    expect_ids(t, "</s>", true, (const int32_t[]){2}, 1);
    expect_ids(t, "<s></s>", true, (const int32_t[]){1, 2}, 2);
    loco_tokenizer_free(t);

    t = load_vocab("phi-3");
    assert_non_null(t);
    /* "</s>" is USER_DEFINED in phi-3: split out even without parse_special */
    encode(t, "a</s>b", false, &ids, &n);
    assert_true(contains(ids, n, 2));
    free(ids);
    encode(t, "<|user|>", false, &ids, &n);
    assert_false(contains(ids, n, find(t, "<|user|>")));
    free(ids);
    expect_ids(t, "<|user|>", true, (const int32_t[]){32010}, 1);
    loco_tokenizer_free(t);

    t = load_vocab("gpt-2");
    assert_non_null(t);
    expect_ids(t, "<|endoftext|>", true, (const int32_t[]){50256}, 1);
    encode(t, "<|endoftext|>", false, &ids, &n);
    assert_true(n > 1);
    assert_false(contains(ids, n, 50256));
    free(ids);
    loco_tokenizer_free(t);

    /* longest first: <pr_status> is not <pr> followed by "_status>" */
    t = load_vocab("starcoder");
    assert_non_null(t);
    expect_ids(t, "<pr_status><pr>", true,
               (const int32_t[]){find(t, "<pr_status>"), find(t, "<pr>")}, 2);
    loco_tokenizer_free(t);
}

/* ---- byte fallback and pieces -------------------------------------------- */

static void test_byte_fallback(void **state)
{
    struct loco_tokenizer *t = load_vocab("llama-spm");
    if (!t)
        skip();
    /* U+1F999 has no token: "▁" then its four UTF-8 bytes */
    int32_t want[5] = {29871, find(t, "<0xF0>"), find(t, "<0x9F>"), find(t, "<0xA6>"),
                       find(t, "<0x99>")};
    expect_ids(t, "\xf0\x9f\xa6\x99", false, want, 5);
    /* a control character, and a lone invalid byte */
    expect_ids(t, "\x01", false, (const int32_t[]){29871, find(t, "<0x01>")}, 2);
    expect_ids(t, "\xff", false, (const int32_t[]){29871, find(t, "<0xFF>")}, 2);
    loco_tokenizer_free(t);

    /* byte-level BPE: invalid UTF-8 still round-trips byte for byte */
    t = load_vocab("gpt-2");
    assert_non_null(t);
    const char *bad = "ok \xff\xfe\xc3 end\x80";
    int32_t *ids;
    size_t n;
    encode(t, bad, false, &ids, &n);
    char *back = loco_tokenizer_decode(t, ids, n, false, false);
    assert_string_equal(back, bad);
    free(back);
    free(ids);
    loco_tokenizer_free(t);
}

static void test_piece(void **state)
{
    struct loco_tokenizer *t = load_vocab("llama-spm");
    if (!t)
        skip();
    char buf[16];
    assert_int_equal(loco_tokenizer_piece(t, find(t, "<0x41>"), false, buf, sizeof buf), 1);
    assert_int_equal(buf[0], 'A');
    assert_int_equal(loco_tokenizer_piece(t, find(t, "<0xE2>"), false, buf, sizeof buf), 1);
    assert_int_equal((unsigned char)buf[0], 0xe2);
    /* U+2581 reads as a space */
    assert_int_equal(loco_tokenizer_piece(t, find(t, "\xe2\x96\x81Hello"), false, buf, 16), 6);
    assert_memory_equal(buf, " Hello", 6);
    /* snprintf-like: the full length even when cap is short */
    assert_int_equal(loco_tokenizer_piece(t, find(t, "\xe2\x96\x81Hello"), false, buf, 2), 6);
    assert_memory_equal(buf, " H", 2);
    /* CONTROL tokens print only when asked */
    assert_int_equal(loco_tokenizer_piece(t, 1, false, buf, sizeof buf), 0);
    assert_int_equal(loco_tokenizer_piece(t, 1, true, buf, sizeof buf), 3);
    assert_memory_equal(buf, "<s>", 3);
    assert_true(loco_tokenizer_piece(t, 32000, false, buf, sizeof buf) < 0);
    assert_true(loco_tokenizer_piece(t, -1, false, buf, sizeof buf) < 0);
    /* decode drops the one space SPM added, after a leading BOS too */
    const int32_t hello[] = {1, find(t, "\xe2\x96\x81Hello"), find(t, "\xe2\x96\x81world")};
    char *s = loco_tokenizer_decode(t, hello, 3, false, true);
    assert_string_equal(s, "Hello world");
    free(s);
    s = loco_tokenizer_decode(t, hello, 3, true, false);
    assert_string_equal(s, "<s> Hello world");
    free(s);
    loco_tokenizer_free(t);

    t = load_vocab("gpt-2");
    assert_non_null(t);
    /* the GPT-2 byte map undone: "Ġ" is a space, "Ċ" a newline */
    assert_int_equal(loco_tokenizer_piece(t, find(t, "\xc4\xa0world"), false, buf, 16), 6);
    assert_memory_equal(buf, " world", 6);
    assert_int_equal(loco_tokenizer_piece(t, find(t, "\xc4\x8a"), false, buf, 16), 1);
    assert_int_equal(buf[0], '\n');
    loco_tokenizer_free(t);
}

/* ---- small vocabularies written here ------------------------------------- */

/* GPT-2 byte map (docs/tokenizer.md, BPE step 2), to spell byte-level tokens. */
static size_t byte_char(int b, char *out)
{
    int cp = b, k = 0;
    bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    for (int i = 0; !printable && i < b; i++)
        k += !((i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || i >= 0xae);
    if (!printable)
        cp = 256 + k;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
}

#define SYN_EXTRA 8

/* A byte-level BPE vocabulary: the 256 byte characters, then `extra`
 * tokens; `merges` as given. pre/model NULL leave the key out. Written
 * with the GGUF writer to a temporary file and loaded from it. */
static struct loco_tokenizer *synthetic_bpe(const char *model, const char *pre,
                                            const char *const *extra, const char *const *merges)
{
    static char names[256][3];
    const char *tokens[256 + SYN_EXTRA];
    uint64_t n_tok = 0, n_merges = 0;
    for (int b = 0; b < 256; b++) {
        names[b][byte_char(b, names[b])] = '\0';
        tokens[n_tok++] = names[b];
        char lib[3];
        size_t n = loco_tokenizer_byte_text((uint8_t)b, lib); /* the library's map agrees */
        assert_int_equal(n, strlen(names[b]));
        assert_string_equal(lib, names[b]);
    }
    for (int i = 0; extra[i] && i < SYN_EXTRA; i++)
        tokens[n_tok++] = extra[i];
    while (merges[n_merges])
        n_merges++;
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    assert_non_null(w);
    if (model)
        assert_int_equal(loco_gguf_writer_set_str(w, "tokenizer.ggml.model", model), 0);
    if (pre)
        assert_int_equal(loco_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre), 0);
    assert_int_equal(loco_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, n_tok), 0);
    assert_int_equal(loco_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges",
                                                  (const char *const *)merges, n_merges),
                     0);
    assert_int_equal(loco_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0), 0);
    char path[] = "/tmp/loco-test-tokenizer-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(loco_gguf_writer_write(w, path), 0);
    loco_gguf_writer_free(w);
    struct loco_gguf *g = loco_gguf_open(path);
    assert_non_null(g);
    struct loco_tokenizer *t = loco_tokenizer_init(g);
    loco_gguf_close(g);
    unlink(path);
    return t;
}

static const char *const syn_extra[] = {"12", "121", "abc", NULL};
static const char *const syn_merges[] = {"1 2", NULL};

/* The pre-type decides where words end: "1212" is one word for gpt-2,
 * "121" + "2" for llama3 (digits in threes), single digits for qwen2. */
static void test_pretok_choice(void **state)
{
    struct loco_tokenizer *t = synthetic_bpe("gpt2", "gpt-2", syn_extra, syn_merges);
    assert_non_null(t);
    expect_ids(t, "1212", false, (const int32_t[]){256, 256}, 2);
    expect_ids(t, "abc", false, (const int32_t[]){'a', 'b', 'c'}, 3); /* no merges for it */
    loco_tokenizer_free(t);

    t = synthetic_bpe("gpt2", "llama-bpe", syn_extra, syn_merges);
    assert_non_null(t);
    assert_true(loco_tokenizer_add_bos(t)); /* the llama3 pre-types ask for BOS */
    /* ignore_merges: a word that is a token is taken whole */
    expect_ids(t, "1212", false, (const int32_t[]){257, '2'}, 2);
    expect_ids(t, "abc", false, (const int32_t[]){258}, 1);
    loco_tokenizer_free(t);

    t = synthetic_bpe("gpt2", "qwen2", syn_extra, syn_merges);
    assert_non_null(t);
    expect_ids(t, "1212", false, (const int32_t[]){'1', '2', '1', '2'}, 4);
    loco_tokenizer_free(t);

    /* smollm/starcoder: digits first split one by one */
    t = synthetic_bpe("gpt2", "smollm", syn_extra, syn_merges);
    assert_non_null(t);
    expect_ids(t, "1212", false, (const int32_t[]){'1', '2', '1', '2'}, 4);
    loco_tokenizer_free(t);

    /* no pre key: "default", whose last regex cuts digits in threes */
    t = synthetic_bpe("gpt2", NULL, syn_extra, syn_merges);
    assert_non_null(t);
    expect_ids(t, "1212", false, (const int32_t[]){256, '1', '2'}, 3);
    loco_tokenizer_free(t);
}

static void test_unknown_pre(void **state)
{
    struct loco_tokenizer *t = synthetic_bpe("gpt2", "nonesuch", syn_extra, syn_merges);
    assert_null(t);
    const char *msg = loco_error_message();
    print_message("message: %s\n", msg);
    assert_non_null(strstr(msg, "\"nonesuch\""));
    assert_non_null(strstr(msg, "gpt-2"));
    assert_non_null(strstr(msg, "llama-bpe"));
    assert_non_null(strstr(msg, "qwen2"));

    t = synthetic_bpe("bert", "gpt-2", syn_extra, syn_merges);
    assert_null(t);
    assert_non_null(strstr(loco_error_message(), "\"bert\""));
    t = synthetic_bpe(NULL, "gpt-2", syn_extra, syn_merges);
    assert_null(t);
    assert_non_null(strstr(loco_error_message(), "tokenizer.ggml.model"));
}

/* ---- the real SmolLM2 model (the default), from the model cache ---------- */

static void test_smollm2(void **state)
{
    char path[4096];
    if (!test_default_model(path, sizeof path))
        skip();
    struct loco_tokenizer *t = load_path(path);
    assert_non_null(t);
    assert_int_equal(loco_tokenizer_kind(t), LOCO_VOCAB_BPE);
    assert_int_equal(loco_tokenizer_bos(t), 1);
    assert_int_equal(loco_tokenizer_eos(t), 2);
    assert_false(loco_tokenizer_add_bos(t));
    assert_true(loco_tokenizer_is_eog(t, 2)); /* <|im_end|> */
    assert_true(loco_tokenizer_is_eog(t, 0)); /* <|endoftext|> */
    expect_ids(t, "<|im_start|>", true, (const int32_t[]){1}, 1);
    int32_t *ids;
    size_t n;
    encode(t, "<|im_start|>", false, &ids, &n);
    assert_true(n > 1);
    free(ids);
    encode(t, "2024", false, &ids, &n); /* smollm: one token per digit */
    assert_int_equal(n, 4);
    free(ids);
    const char *texts[] = {
        "Hello world",
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
        "  indented\n\tcode();  // comment\n",
        "caf\xc3\xa9 \xe2\x82\xac 3.14 \xf0\x9f\xa6\x99",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        encode(t, texts[i], true, &ids, &n);
        char *back = loco_tokenizer_decode(t, ids, n, true, true);
        assert_string_equal(back, texts[i]);
        free(back);
        free(ids);
    }
    loco_tokenizer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_llama_spm),  cmocka_unit_test(test_pair_gpt2),
        cmocka_unit_test(test_pair_phi3),       cmocka_unit_test(test_pair_starcoder),
        cmocka_unit_test(test_pair_tinyllama),  cmocka_unit_test(test_pair_others),
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_special_ids_spm),
        cmocka_unit_test(test_special_ids_bpe), cmocka_unit_test(test_special_split),
        cmocka_unit_test(test_byte_fallback),   cmocka_unit_test(test_piece),
        cmocka_unit_test(test_pretok_choice),   cmocka_unit_test(test_unknown_pre),
        cmocka_unit_test(test_smollm2),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
