/*
 * loco/tokenizer.h - text <-> token ids, and chat templates.
 *
 * Two vocabulary kinds, read from a model's GGUF metadata (docs/tokenizer.md):
 *   - "gpt2": byte-level BPE, pre-split by the PCRE2 regex list that
 *     tokenizer.ggml.pre names (gpt-2, smollm/starcoder, llama3/llama-bpe,
 *     qwen2, default, ...); an unknown pre name is an error.
 *   - "llama": SentencePiece-style BPE over scores, with byte fallback
 *     (<0xXX> tokens) and the add_space_prefix rule.
 * Special tokens (CONTROL, USER_DEFINED, UNKNOWN) are split out before
 * normal tokenization as llama.cpp does.
 *
 * Chat templates (docs/tokenizer.md): the family is detected from the model's
 * tokenizer.chat_template text (chatml, gemma, llama3, phi3); rendering
 * follows llama.cpp's built-in renderer.
 */
#ifndef LOCO_TOKENIZER_H
#define LOCO_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

enum loco_vocab_kind { LOCO_VOCAB_SPM = 1, LOCO_VOCAB_BPE = 2 };

enum loco_token_attr {
    LOCO_TOKEN_UNDEFINED = 0,
    LOCO_TOKEN_NORMAL = 1,
    LOCO_TOKEN_UNKNOWN = 2,
    LOCO_TOKEN_CONTROL = 3,
    LOCO_TOKEN_USER_DEFINED = 4,
    LOCO_TOKEN_UNUSED = 5,
    LOCO_TOKEN_BYTE = 6,
};

struct loco_tokenizer; /* opaque */

/* Build a tokenizer from a GGUF's tokenizer.* metadata. The handle copies
 * what it needs; `g` may be closed afterwards. NULL on failure with a
 * message (e.g. unknown tokenizer.ggml.pre "x"). Free with
 * loco_tokenizer_free(). */
struct loco_tokenizer *loco_tokenizer_init(const struct loco_gguf *g);
void loco_tokenizer_free(struct loco_tokenizer *t);

enum loco_vocab_kind loco_tokenizer_kind(const struct loco_tokenizer *t);
int32_t loco_tokenizer_n_vocab(const struct loco_tokenizer *t);
int32_t loco_tokenizer_bos(const struct loco_tokenizer *t); /* -1 if none */
int32_t loco_tokenizer_eos(const struct loco_tokenizer *t); /* -1 if none */
bool loco_tokenizer_add_bos(const struct loco_tokenizer *t); /* model wants BOS */
/* True for end-of-generation tokens (eos, eot, <|im_end|>, <end_of_turn>...). */
bool loco_tokenizer_is_eog(const struct loco_tokenizer *t, int32_t id);
enum loco_token_attr loco_tokenizer_attr(const struct loco_tokenizer *t, int32_t id);
/* The token's vocabulary text (as stored), NUL-terminated; "" if out of range. */
const char *loco_tokenizer_text(const struct loco_tokenizer *t, int32_t id);
/* Id of an exact vocabulary text, or -1. */
int32_t loco_tokenizer_find(const struct loco_tokenizer *t, const char *text);
/* The character GPT-2's byte map writes for byte b (docs/tokenizer.md), as
 * byte-level BPE vocabularies spell it: UTF-8 into out, NUL-terminated;
 * returns its length (1 or 2). */
size_t loco_tokenizer_byte_text(uint8_t b, char out[3]);

/* Tokenize len bytes of text. add_special: add BOS (and EOS) as the vocab
 * asks. parse_special: match CONTROL tokens written in the text (USER_DEFINED
 * ones always match). On success *out is a malloc'd array the caller frees
 * and *n_out its length. */
int loco_tokenizer_encode(const struct loco_tokenizer *t, const char *text, size_t len,
                          bool add_special, bool parse_special, int32_t **out, size_t *n_out);

/* The bytes a token stands for (GPT-2 byte map undone, U+2581 -> space,
 * <0xXX> -> the byte). CONTROL/UNKNOWN tokens give "" unless `special`.
 * Writes at most cap bytes to buf and returns the full length (like
 * snprintf, but no NUL is written), or a negative status for a bad id. */
int loco_tokenizer_piece(const struct loco_tokenizer *t, int32_t id, bool special, char *buf,
                         size_t cap);

/* Detokenize ids into a malloc'd NUL-terminated string (drops the leading
 * space an SPM vocab added when `remove_leading_space`). NULL on failure. */
char *loco_tokenizer_decode(const struct loco_tokenizer *t, const int32_t *ids, size_t n,
                            bool special, bool remove_leading_space);

/* ---- chat templates --------------------------------------------------- */

enum loco_chat_template {
    LOCO_CHAT_UNKNOWN = 0,
    LOCO_CHAT_CHATML,
    LOCO_CHAT_GEMMA,
    LOCO_CHAT_LLAMA3,
    LOCO_CHAT_PHI3,
};

struct loco_chat_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
};

/* Detect the family from a Jinja template text; LOCO_CHAT_UNKNOWN if none. */
enum loco_chat_template loco_chat_detect(const char *template_text);
/* Family from a name ("chatml", "gemma", "llama3", "phi3"); UNKNOWN if none. */
enum loco_chat_template loco_chat_from_name(const char *name);
const char *loco_chat_name(enum loco_chat_template t);

/* Render messages as the prompt text; add_generation_prompt appends the
 * assistant header. Returns a malloc'd string (caller frees) or NULL. */
char *loco_chat_render(enum loco_chat_template t, const struct loco_chat_msg *msgs, size_t n,
                       bool add_generation_prompt);

/* The default system prompt the model's own template injects when the
 * conversation has none (e.g. SmolLM2's), copied NUL-terminated into buf;
 * returns its length, or 0 when the template adds none. */
size_t loco_chat_default_system(const char *template_text, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
