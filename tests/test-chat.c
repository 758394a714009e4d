/*
 * test-chat.c - chat templates: rendering, detection, default system prompt.
 *
 * The expected prompts are written out in full, byte for byte, for one
 * conversation (system, user, assistant, user) in each family, following
 * llama.cpp's built-in renderer (docs/tokenizer.md). Detection runs on template
 * snippets of the real families and on the phi-3 fixture vocabulary's own
 * tokenizer.chat_template; default-system extraction on SmolLM2's real
 * template and on a Qwen2.5-style one (whose literals use Jinja's "\n"
 * escape instead of a real newline).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <unistd.h>

#include "loco/gguf.h"
#include "loco/tokenizer.h"
#include "testutil.h"


/* Content with stray whitespace: gemma and llama3 trim it, chatml and phi3
 * keep it. */
static const struct loco_chat_msg conversation[] = {
    {"system", "You are terse."},
    {"user", "Hi"},
    {"assistant", "Hello!"},
    {"user", "  What is 2+2? \n"},
};

#define N_CONV (sizeof conversation / sizeof conversation[0])

static void expect_render(enum loco_chat_template t, const struct loco_chat_msg *msgs, size_t n,
                          bool gen, const char *want)
{
    char *got = loco_chat_render(t, msgs, n, gen);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* ---- rendering ----------------------------------------------------------- */

static void test_render_chatml(void **state)
{
    expect_render(LOCO_CHAT_CHATML, conversation, N_CONV, true,
                  "<|im_start|>system\nYou are terse.<|im_end|>\n"
                  "<|im_start|>user\nHi<|im_end|>\n"
                  "<|im_start|>assistant\nHello!<|im_end|>\n"
                  "<|im_start|>user\n  What is 2+2? \n<|im_end|>\n"
                  "<|im_start|>assistant\n");
    expect_render(LOCO_CHAT_CHATML, conversation + 1, 1, false, "<|im_start|>user\nHi<|im_end|>\n");
    expect_render(LOCO_CHAT_CHATML, NULL, 0, false, "");
}

static void test_render_gemma(void **state)
{
    /* no system turn: the trimmed system text opens the first user turn */
    expect_render(LOCO_CHAT_GEMMA, conversation, N_CONV, true,
                  "<start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n"
                  "<start_of_turn>model\nHello!<end_of_turn>\n"
                  "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
                  "<start_of_turn>model\n");
    /* system text is trimmed too, and waits past a model turn */
    const struct loco_chat_msg msgs[] = {
        {"system", "  Be brief.\n"},
        {"assistant", "Ready."},
        {"user", "Go"},
    };
    expect_render(LOCO_CHAT_GEMMA, msgs, 3, false,
                  "<start_of_turn>model\nReady.<end_of_turn>\n"
                  "<start_of_turn>user\nBe brief.\n\nGo<end_of_turn>\n");
}

static void test_render_llama3(void **state)
{
    expect_render(LOCO_CHAT_LLAMA3, conversation, N_CONV, true,
                  "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void test_render_phi3(void **state)
{
    expect_render(LOCO_CHAT_PHI3, conversation, N_CONV, true,
                  "<|system|>\nYou are terse.<|end|>\n"
                  "<|user|>\nHi<|end|>\n"
                  "<|assistant|>\nHello!<|end|>\n"
                  "<|user|>\n  What is 2+2? \n<|end|>\n"
                  "<|assistant|>\n");
}

static void test_render_unknown(void **state)
{
    assert_null(loco_chat_render(LOCO_CHAT_UNKNOWN, conversation, N_CONV, true));
    assert_non_null(strstr(loco_error_message(), "chatml"));
}

/* ---- names and detection ------------------------------------------------- */

static void test_names(void **state)
{
    static const char *const names[] = {"chatml", "gemma", "llama3", "phi3"};
    for (int i = 0; i < 4; i++) {
        enum loco_chat_template t = loco_chat_from_name(names[i]);
        assert_int_not_equal(t, LOCO_CHAT_UNKNOWN);
        assert_string_equal(loco_chat_name(t), names[i]);
        assert_int_equal(loco_chat_detect(names[i]), t); /* a name is a template too */
    }
    assert_int_equal(loco_chat_from_name("vicuna"), LOCO_CHAT_UNKNOWN);
    assert_int_equal(loco_chat_from_name(NULL), LOCO_CHAT_UNKNOWN);
}

/* SmolLM2-135M-Instruct's tokenizer.chat_template, verbatim. */
static const char smollm2_template[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}";

/* The system part of Qwen2.5-Instruct's template, as the GGUF stores it:
 * real newlines between statements, "\n" escapes inside the literals. */
static const char qwen_template[] =
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions.<|im_end|>\\n\" }}\n"
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n";

static const char gemma_template[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
    "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

static const char llama3_template[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}";

static const char phi3_template[] =
    "{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + message['content']"
    " + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}"
    "{% endif %}";

static void test_detect(void **state)
{
    assert_int_equal(loco_chat_detect(smollm2_template), LOCO_CHAT_CHATML);
    assert_int_equal(loco_chat_detect(qwen_template), LOCO_CHAT_CHATML);
    assert_int_equal(loco_chat_detect(gemma_template), LOCO_CHAT_GEMMA);
    assert_int_equal(loco_chat_detect(llama3_template), LOCO_CHAT_LLAMA3);
    assert_int_equal(loco_chat_detect(phi3_template), LOCO_CHAT_PHI3);
    /* families LocoLLM cannot render are not mistaken for one it can */
    assert_int_equal(loco_chat_detect("<|im_start|>{{ role }}<|im_sep|>"), LOCO_CHAT_UNKNOWN);
    assert_int_equal(loco_chat_detect("[INST] {{ content }} [/INST]<start_of_turn>"),
                     LOCO_CHAT_UNKNOWN);
    assert_int_equal(loco_chat_detect("<|user|>{{ c }}<|assistant|>"), LOCO_CHAT_UNKNOWN);
    assert_int_equal(loco_chat_detect("<|start_header_id|> only"), LOCO_CHAT_UNKNOWN);
    assert_int_equal(loco_chat_detect(""), LOCO_CHAT_UNKNOWN);
    assert_int_equal(loco_chat_detect(NULL), LOCO_CHAT_UNKNOWN);
}

/* The phi-3 fixture vocabulary carries a real phi3 chat template. */
static void test_detect_phi3_fixture(void **state)
{
    char path[1024];
    if (!test_shared_path("fixtures/tokenizer/ggml-vocab-phi-3.gguf", path, sizeof path))
        skip();
    struct loco_gguf *g = loco_gguf_open(path);
    assert_non_null(g);
    struct loco_str s;
    assert_int_equal(loco_gguf_get_str(g, "tokenizer.chat_template", &s), 0);
    char *tmpl = strndup(s.ptr, s.len);
    loco_gguf_close(g);
    assert_int_equal(loco_chat_detect(tmpl), LOCO_CHAT_PHI3);
    char buf[64];
    assert_int_equal(loco_chat_default_system(tmpl, buf, sizeof buf), 0);
    free(tmpl);
}

/* ---- default system prompt ----------------------------------------------- */

static void test_default_system(void **state)
{
    char buf[256];
    const char *smollm = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
    assert_int_equal(loco_chat_default_system(smollm2_template, buf, sizeof buf), strlen(smollm));
    assert_string_equal(buf, smollm);

    const char *qwen = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
    assert_int_equal(loco_chat_default_system(qwen_template, buf, sizeof buf), strlen(qwen));
    assert_string_equal(buf, qwen);

    /* a short buffer gets a NUL-terminated prefix */
    assert_int_equal(loco_chat_default_system(qwen_template, buf, 8), 7);
    assert_string_equal(buf, "You are");

    /* templates that add no system prompt */
    const char *plain_chatml = "{% for message in messages %}{{'<|im_start|>' + message['role']"
                               " + '\n' + message['content'] + '<|im_end|>\n'}}{% endfor %}";
    assert_int_equal(loco_chat_default_system(plain_chatml, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    const char *dynamic = "{% if messages[0]['role'] == 'system' %}{{ '<|im_start|>system\n' + "
                          "messages[0]['content'] + '<|im_end|>\n' }}{% endif %}";
    assert_int_equal(loco_chat_default_system(dynamic, buf, sizeof buf), 0);
    assert_int_equal(loco_chat_default_system(gemma_template, buf, sizeof buf), 0);
    assert_int_equal(loco_chat_default_system(llama3_template, buf, sizeof buf), 0);
    assert_int_equal(loco_chat_default_system(NULL, buf, sizeof buf), 0);
    assert_int_equal(loco_chat_default_system(smollm2_template, buf, 0), 0);
}

/* The real SmolLM2 model's template: the default model, from the model cache. */
static void test_smollm2_template(void **state)
{
    char path[4096];
    if (!test_default_model(path, sizeof path))
        skip();
    struct loco_gguf *g = loco_gguf_open(path);
    assert_non_null(g);
    struct loco_str s;
    assert_int_equal(loco_gguf_get_str(g, "tokenizer.chat_template", &s), 0);
    char *tmpl = strndup(s.ptr, s.len);
    loco_gguf_close(g);
    assert_string_equal(tmpl, smollm2_template);
    assert_int_equal(loco_chat_detect(tmpl), LOCO_CHAT_CHATML);
    free(tmpl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_chatml),  cmocka_unit_test(test_render_gemma),
        cmocka_unit_test(test_render_llama3),  cmocka_unit_test(test_render_phi3),
        cmocka_unit_test(test_render_unknown), cmocka_unit_test(test_names),
        cmocka_unit_test(test_detect),         cmocka_unit_test(test_detect_phi3_fixture),
        cmocka_unit_test(test_default_system), cmocka_unit_test(test_smollm2_template),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
