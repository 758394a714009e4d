/*
 * chat.c - chat templates: detecting a model's family, rendering messages.
 *
 * A model's GGUF carries its chat format as a Jinja template
 * (tokenizer.chat_template). LocoLLM does not run Jinja: like llama.cpp's
 * C API (docs/tokenizer.md) it recognises the family by telltale substrings
 * and renders it with a small hand-written function per family:
 *
 *   chatml  <|im_start|>{role}\n{content}<|im_end|>\n
 *   gemma   <start_of_turn>{role}\n{trim(content)}<end_of_turn>\n, with
 *           "assistant" called "model" and system text folded into the
 *           next user turn
 *   llama3  <|start_header_id|>{role}<|end_header_id|>\n\n{trim(content)}<|eot_id|>
 *   phi3    <|{role}|>\n{content}<|end|>\n
 *
 * The renderers never add BOS; that comes from tokenizing with add_special.
 * What Jinja would add and these cannot is the default system prompt some
 * templates insert (SmolLM2, Qwen2.5); loco_chat_default_system digs that
 * literal out of the template text so the caller can add it as a message.
 */
#include "loco/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"

#define CHAT_MAX_TEXT ((size_t)1 << 30)

/* ---- text into a core/sbuf.h buffer (at most CHAT_MAX_TEXT) ------------ */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* s without leading and trailing whitespace, appended. */
static void sb_trimmed(struct loco_sbuf *b, const char *s)
{
    if (!s)
        return;
    size_t len = strlen(s), i = 0;
    while (i < len && is_space(s[i]))
        i++;
    while (len > i && is_space(s[len - 1]))
        len--;
    loco_sbuf_add(b, s + i, len - i);
}

static bool role_is(const struct loco_chat_msg *m, const char *role)
{
    return m->role && strcmp(m->role, role) == 0;
}

/* ---- one renderer per family --------------------------------------------- */

static void render_chatml(struct loco_sbuf *b, const struct loco_chat_msg *msgs, size_t n, bool gen)
{
    for (size_t i = 0; i < n; i++) {
        loco_sbuf_adds(b, "<|im_start|>");
        loco_sbuf_adds(b, msgs[i].role);
        loco_sbuf_adds(b, "\n");
        loco_sbuf_adds(b, msgs[i].content);
        loco_sbuf_adds(b, "<|im_end|>\n");
    }
    if (gen)
        loco_sbuf_adds(b, "<|im_start|>assistant\n");
}

/* Gemma has no system role: system texts are trimmed, collected, and put
 * (followed by a blank line) at the start of the next non-model turn. */
static void render_gemma(struct loco_sbuf *b, const struct loco_chat_msg *msgs, size_t n, bool gen)
{
    struct loco_sbuf sys = {.max = CHAT_MAX_TEXT};
    for (size_t i = 0; i < n; i++) {
        if (role_is(&msgs[i], "system")) {
            sb_trimmed(&sys, msgs[i].content);
            continue;
        }
        const char *role = role_is(&msgs[i], "assistant") ? "model" : msgs[i].role;
        loco_sbuf_adds(b, "<start_of_turn>");
        loco_sbuf_adds(b, role);
        loco_sbuf_adds(b, "\n");
        if (sys.len > 0 && strcmp(role ? role : "", "model") != 0) {
            loco_sbuf_add(b, sys.p, sys.len);
            loco_sbuf_adds(b, "\n\n");
            sys.len = 0;
        }
        sb_trimmed(b, msgs[i].content);
        loco_sbuf_adds(b, "<end_of_turn>\n");
    }
    b->failed |= sys.failed;
    loco_sbuf_free(&sys);
    if (gen)
        loco_sbuf_adds(b, "<start_of_turn>model\n");
}

static void render_llama3(struct loco_sbuf *b, const struct loco_chat_msg *msgs, size_t n, bool gen)
{
    for (size_t i = 0; i < n; i++) {
        loco_sbuf_adds(b, "<|start_header_id|>");
        loco_sbuf_adds(b, msgs[i].role);
        loco_sbuf_adds(b, "<|end_header_id|>\n\n");
        sb_trimmed(b, msgs[i].content);
        loco_sbuf_adds(b, "<|eot_id|>");
    }
    if (gen)
        loco_sbuf_adds(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void render_phi3(struct loco_sbuf *b, const struct loco_chat_msg *msgs, size_t n, bool gen)
{
    for (size_t i = 0; i < n; i++) {
        loco_sbuf_adds(b, "<|");
        loco_sbuf_adds(b, msgs[i].role);
        loco_sbuf_adds(b, "|>\n");
        loco_sbuf_adds(b, msgs[i].content);
        loco_sbuf_adds(b, "<|end|>\n");
    }
    if (gen)
        loco_sbuf_adds(b, "<|assistant|>\n");
}

typedef void (*render_fn)(struct loco_sbuf *b, const struct loco_chat_msg *msgs, size_t n,
                          bool gen);

static const struct chat_family {
    enum loco_chat_template id;
    const char *name;
    render_fn render;
} families[] = {
    {LOCO_CHAT_CHATML, "chatml", render_chatml},
    {LOCO_CHAT_GEMMA, "gemma", render_gemma},
    {LOCO_CHAT_LLAMA3, "llama3", render_llama3},
    {LOCO_CHAT_PHI3, "phi3", render_phi3},
};

#define N_FAMILIES (sizeof families / sizeof families[0])

/* ---- detection ----------------------------------------------------------- */

/* llama.cpp's substring tests in its order (docs/tokenizer.md): the first rule whose
 * strings all occur wins. Families LocoLLM cannot render are listed too,
 * as UNKNOWN, so that their templates are not mistaken for a later rule's. */
static const struct detect_rule {
    const char *a, *b; /* b may be NULL */
    enum loco_chat_template family;
} detect_rules[] = {
    {"<|im_start|>", "<|im_sep|>", LOCO_CHAT_UNKNOWN},         /* phi4 */
    {"<|im_start|>", "<end_of_utterance>", LOCO_CHAT_UNKNOWN}, /* smolvlm */
    {"<|im_start|>", NULL, LOCO_CHAT_CHATML},
    {"[INST]", NULL, LOCO_CHAT_UNKNOWN}, /* mistral, llama2 */
    {"<|assistant|>", "<|end|>", LOCO_CHAT_PHI3},
    {"[gMASK]<sop>", NULL, LOCO_CHAT_UNKNOWN},        /* chatglm4 */
    {"<|assistant|>", "<|user|>", LOCO_CHAT_UNKNOWN}, /* falcon3, glmedge */
    {"<start_of_turn>", NULL, LOCO_CHAT_GEMMA},
    {"<|start_header_id|>", "<|end_header_id|>", LOCO_CHAT_LLAMA3},
};

#define N_RULES (sizeof detect_rules / sizeof detect_rules[0])

enum loco_chat_template loco_chat_from_name(const char *name)
{
    for (size_t i = 0; name && i < N_FAMILIES; i++)
        if (strcmp(name, families[i].name) == 0)
            return families[i].id;
    return LOCO_CHAT_UNKNOWN;
}

const char *loco_chat_name(enum loco_chat_template t)
{
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (families[i].id == t)
            return families[i].name;
    return "unknown";
}

enum loco_chat_template loco_chat_detect(const char *template_text)
{
    if (!template_text)
        return LOCO_CHAT_UNKNOWN;
    enum loco_chat_template by_name = loco_chat_from_name(template_text);
    if (by_name != LOCO_CHAT_UNKNOWN)
        return by_name;
    if (strncmp(template_text, "mistral", 7) == 0)
        return LOCO_CHAT_UNKNOWN;
    for (size_t i = 0; i < N_RULES; i++) {
        const struct detect_rule *r = &detect_rules[i];
        if (strstr(template_text, r->a) && (!r->b || strstr(template_text, r->b)))
            return r->family;
    }
    return LOCO_CHAT_UNKNOWN;
}

/* ---- rendering ----------------------------------------------------------- */

char *loco_chat_render(enum loco_chat_template t, const struct loco_chat_msg *msgs, size_t n,
                       bool add_generation_prompt)
{
    if (!msgs && n > 0) {
        loco_error_set(LOCO_ERR_INVALID, "chat: no messages given");
        return NULL;
    }
    for (size_t i = 0; i < N_FAMILIES; i++) {
        if (families[i].id != t)
            continue;
        struct loco_sbuf b = {.max = CHAT_MAX_TEXT};
        loco_sbuf_add(&b, "", 0); /* an empty chat still renders as "" */
        families[i].render(&b, msgs, n, add_generation_prompt);
        if (!b.failed)
            return b.p;
        free(b.p);
        loco_error_set(LOCO_ERR_NOMEM, "chat: out of memory rendering %zu messages", n);
        return NULL;
    }
    loco_error_set(LOCO_ERR_UNSUPPORTED,
                   "chat: no renderer for template %d (known: chatml, gemma, llama3, phi3)",
                   (int)t);
    return NULL;
}

/* ---- the template's default system prompt -------------------------------- */

/* Where a template writes a system turn as one string literal: the turn's
 * opening, and the text that ends the turn. Adding a family = a row. */
static const struct system_shape {
    const char *open;
    const char *close;
} system_shapes[] = {
    {"<|im_start|>system", "<|im_end|>"},
};

#define N_SHAPES (sizeof system_shapes / sizeof system_shapes[0])

/* Spellings of the test that guards a default system prompt. */
static const char *const first_role_tests[] = {
    "messages[0]['role']",
    "messages[0][\"role\"]",
    "messages[0].role",
    NULL,
};

/* Skip the newline after the turn's opening: a real one, or Jinja's "\n"
 * escape inside the literal. NULL when neither is there. */
static const char *skip_newline(const char *p)
{
    if (p[0] == '\n')
        return p + 1;
    if (p[0] == '\\' && p[1] == 'n')
        return p + 2;
    return NULL;
}

static char unescape(char c)
{
    return c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
}

/* Copy the rest of a string literal quoted by q, from p up to `close` or
 * the closing quote, unescaping Jinja escapes. Returns the length stored
 * (at most cap - 1, NUL-terminated). */
static size_t copy_literal(const char *p, char q, const char *close, char *buf, size_t cap)
{
    size_t n = 0, close_len = strlen(close);
    while (*p && *p != q && strncmp(p, close, close_len) != 0) {
        char c = *p++;
        if (c == '\\' && *p)
            c = unescape(*p++);
        if (n + 1 < cap)
            buf[n++] = c;
    }
    buf[n] = '\0';
    return n;
}

/* Try every occurrence of one shape; the first literal with text wins. */
static size_t find_shape(const char *tmpl, const struct system_shape *s, char *buf, size_t cap)
{
    size_t open_len = strlen(s->open);
    for (const char *hit = strstr(tmpl, s->open); hit; hit = strstr(hit + 1, s->open)) {
        char q = hit > tmpl ? hit[-1] : '\0';
        const char *body = skip_newline(hit + open_len);
        if ((q != '\'' && q != '"') || !body)
            continue; /* not the start of a string literal */
        size_t n = copy_literal(body, q, s->close, buf, cap);
        if (n > 0)
            return n;
    }
    return 0;
}

size_t loco_chat_default_system(const char *template_text, char *buf, size_t cap)
{
    if (!template_text || !buf || cap == 0)
        return 0;
    buf[0] = '\0';
    bool guarded = false;
    for (int i = 0; first_role_tests[i]; i++)
        guarded |= strstr(template_text, first_role_tests[i]) != NULL;
    if (!guarded)
        return 0;
    for (size_t i = 0; i < N_SHAPES; i++) {
        size_t n = find_shape(template_text, &system_shapes[i], buf, cap);
        if (n > 0)
            return n;
    }
    return 0;
}
