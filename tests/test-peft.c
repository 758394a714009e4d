/*
 * test-peft.c - the safetensors reader and writer, the PEFT LoRA import and
 * export.
 *
 * 1. safetensors: a good image (three dtypes, metadata) read back value by
 *    value, from memory and from a file; then one corrupt image per rule
 *    (header length, JSON, each field, tiling, duplicates), each refused
 *    with the right status and a message naming the problem.
 * 2. PEFT pieces: adapter_config.json parsing and refusals, tensor names,
 *    the q/k row permutation against a hand-computed example, shapes.
 * 2b. The export's pieces: the safetensors writer read back by the reader,
 *    the inverse q/k permutation, adapter_config.json written and parsed.
 * 3. The import end to end on the real tiny llama stories260K: the test
 *    writes a random PEFT adapter (r = 4, alpha = 8, q,k,v,o,gate,up,down)
 *    with its own safetensors writer, imports it, runs it through
 *    loco_context_set_adapters, and compares the logits with an
 *    independent reference: a merged GGUF whose weights are
 *    W + (alpha/r) * B_hf A with B's q/k rows permuted by the test's own
 *    code, run without adapters. It also checks that the adapter is refused
 *    on a different base.
 * 4. The export on stories260K: PEFT -> GGUF -> PEFT -> GGUF as F32, F16 and
 *    F16 exported as F32 (the exported tensors are the PEFT file's values,
 *    its bytes where the dtype matches; the second import equals the first
 *    byte for byte), the config, rsLoRA, an adapter LocoLLM wrote itself,
 *    the export without a base, and each refusal.
 *
 * Legend: C n_embd, H n_head, Hkv n_head_kv, D head_dim, F n_ff, R rank.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include "loco/gguf.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/peft.h"
#include "loco/quant.h"
#include "loco/safetensors.h"
#include "testutil.h"

/* dir + "/" + file into buf (the test fails when it does not fit) */
static void join(char *buf, size_t cap, const char *dir, const char *file)
{
    int n = snprintf(buf, cap, "%s/%s", dir, file);
    assert_true(n > 0 && (size_t)n < cap);
}

/* ---- a small safetensors writer ----------------------------------------- */

/* header JSON (padded to a multiple of 8 with spaces) + data -> image */
static uint8_t *st_image(const char *header, const void *data, size_t data_len, size_t *size)
{
    size_t n = strlen(header), padded = (n + 7) / 8 * 8;
    uint8_t *img = malloc(8 + padded + data_len + 1);
    assert_non_null(img);
    for (int i = 0; i < 8; i++)
        img[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(img + 8, header, n);
    memset(img + 8 + n, ' ', padded - n);
    if (data_len)
        memcpy(img + 8 + padded, data, data_len);
    *size = 8 + padded + data_len;
    return img;
}

/* Open a header + data image and close it again; returns the status. */
static int st_try(const char *header, const void *data, size_t data_len)
{
    size_t size;
    uint8_t *img = st_image(header, data, data_len, &size);
    struct loco_safetensors *st = NULL;
    int rc = loco_safetensors_open_memory(img, size, &st);
    assert_true((rc == LOCO_OK) == (st != NULL));
    loco_safetensors_close(st);
    free(img);
    return rc;
}

static void expect_refused(const char *header, size_t data_len, int status, const char *needle)
{
    uint8_t data[64] = {0};
    assert_true(data_len <= sizeof data);
    int rc = st_try(header, data, data_len);
    if (rc != status || !strstr(loco_error_message(), needle))
        fail_msg("header %s: got status %s, message \"%s\"; wanted %s and \"%s\"", header,
                 loco_status_name(rc), loco_error_message(), loco_status_name(status), needle);
}

/* ---- 1. safetensors ------------------------------------------------------- */

/* F32 [2][3] = 0..5, F16 [2] = {1.5, -2}, BF16 [1] = {3}, I8 [2]. */
static const char *good_header =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]},"
    "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[28,30]},"
    "\"i\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[30,32]}}";

static void good_data(uint8_t data[32])
{
    for (int i = 0; i < 6; i++) {
        float f = (float)i;
        memcpy(data + 4 * i, &f, 4);
    }
    uint16_t h[2] = {loco_fp32_to_fp16(1.5f), loco_fp32_to_fp16(-2.0f)};
    uint16_t b = loco_fp32_to_bf16(3.0f);
    memcpy(data + 24, h, 4);
    memcpy(data + 28, &b, 2);
    data[30] = 7;
    data[31] = 0xff;
}

static void check_good(struct loco_safetensors *st)
{
    assert_int_equal(loco_safetensors_n_tensors(st), 4);
    /* in data order */
    assert_string_equal(loco_safetensors_tensor(st, 0)->name, "w");
    assert_string_equal(loco_safetensors_tensor(st, 1)->name, "h");
    assert_null(loco_safetensors_tensor(st, 4));
    assert_null(loco_safetensors_tensor(st, -1));
    const struct loco_st_tensor *w = loco_safetensors_find(st, "w");
    assert_non_null(w);
    assert_int_equal(w->dtype, LOCO_ST_F32);
    assert_int_equal(w->n_dims, 2);
    assert_int_equal(w->shape[0], 2);
    assert_int_equal(w->shape[1], 3);
    assert_int_equal(w->n_elements, 6);
    assert_null(loco_safetensors_find(st, "nope"));
    float v[6];
    assert_int_equal(loco_safetensors_to_f32(st, w, v, 6), LOCO_OK);
    for (int i = 0; i < 6; i++)
        assert_true(v[i] == (float)i);
    assert_int_equal(loco_safetensors_to_f32(st, loco_safetensors_find(st, "h"), v, 6), LOCO_OK);
    assert_true(v[0] == 1.5f && v[1] == -2.0f);
    assert_int_equal(loco_safetensors_to_f32(st, loco_safetensors_find(st, "b"), v, 6), LOCO_OK);
    assert_true(v[0] == 3.0f);
    /* I8 is read but does not convert; a short destination is refused */
    assert_int_equal(loco_safetensors_to_f32(st, loco_safetensors_find(st, "i"), v, 6),
                     LOCO_ERR_UNSUPPORTED);
    assert_non_null(strstr(loco_error_message(), "I8"));
    assert_int_equal(loco_safetensors_to_f32(st, w, v, 5), LOCO_ERR_INVALID);
    assert_string_equal(loco_safetensors_metadata(st, "format"), "pt");
    assert_null(loco_safetensors_metadata(st, "other"));
}

static void test_st_good(void **state)
{
    uint8_t data[32];
    good_data(data);
    size_t size;
    uint8_t *img = st_image(good_header, data, sizeof data, &size);
    struct loco_safetensors *st = NULL;
    assert_int_equal(loco_safetensors_open_memory(img, size, &st), LOCO_OK);
    check_good(st);
    assert_string_equal(loco_safetensors_path(st), "");
    loco_safetensors_close(st);

    /* the same from a file */
    char path[] = "/tmp/loco-st-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, size), (ssize_t)size);
    close(fd);
    assert_int_equal(loco_safetensors_open(path, &st), LOCO_OK);
    check_good(st);
    assert_string_equal(loco_safetensors_path(st), path);
    loco_safetensors_close(st);

    /* a corrupt file's message starts with its path */
    img[8] = '[';
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, size), (ssize_t)size);
    close(fd);
    assert_int_equal(loco_safetensors_open(path, &st), LOCO_ERR_FORMAT);
    assert_null(st);
    assert_non_null(strstr(loco_error_message(), path));
    unlink(path);
    assert_int_equal(loco_safetensors_open(path, &st), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), path));
    free(img);
}

static void test_st_empty_and_scalar(void **state)
{
    /* no tensors at all; a scalar; a zero-sized tensor */
    assert_int_equal(st_try("{}", NULL, 0), LOCO_OK);
    float one = 1.0f;
    struct loco_safetensors *st = NULL;
    size_t size;
    uint8_t *img = st_image("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                            "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}",
                            &one, 4, &size);
    assert_int_equal(loco_safetensors_open_memory(img, size, &st), LOCO_OK);
    assert_int_equal(loco_safetensors_find(st, "s")->n_dims, 0);
    assert_int_equal(loco_safetensors_find(st, "s")->n_elements, 1);
    assert_int_equal(loco_safetensors_find(st, "z")->n_elements, 0);
    loco_safetensors_close(st);
    free(img);
}

static void test_st_header_length(void **state)
{
    struct loco_safetensors *st = NULL;
    uint8_t img[16] = {0};
    assert_int_equal(loco_safetensors_open_memory(img, 5, &st), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "too short"));
    uint64_t big = 100000001; /* one over the limit */
    for (int i = 0; i < 8; i++)
        img[i] = (uint8_t)(big >> (8 * i));
    assert_int_equal(loco_safetensors_open_memory(img, sizeof img, &st), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "exceeds the limit"));
    memset(img, 0, 8);
    img[0] = 9; /* 9 bytes of header in a 16-byte file */
    assert_int_equal(loco_safetensors_open_memory(img, sizeof img, &st), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "runs past the end"));
    assert_null(st);
}

static void test_st_corrupt(void **state)
{
    /* JSON */
    expect_refused("[1]", 0, LOCO_ERR_FORMAT, "does not start with '{'");
    expect_refused("{\"a\":", 0, LOCO_ERR_FORMAT, "not a valid JSON object");
    expect_refused("{} x", 0, LOCO_ERR_FORMAT, "not a valid JSON object");
    expect_refused("{\"a\":3}", 0, LOCO_ERR_FORMAT, "tensor 'a': entry is not a JSON object");
    /* dtype */
    expect_refused("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, LOCO_ERR_FORMAT,
                   "tensor 'a': \"dtype\" is missing");
    expect_refused("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                   LOCO_ERR_UNSUPPORTED, "tensor 'a': dtype \"Q4\" is unknown");
    /* shape */
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, LOCO_ERR_FORMAT,
                   "\"shape\" is missing");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                   LOCO_ERR_FORMAT, "tensor 'a': \"shape\"[0] is not a non-negative integer");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1.5],\"data_offsets\":[0,4]}}", 4,
                   LOCO_ERR_FORMAT, "\"shape\"[1]");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                   "\"data_offsets\":[0,4]}}",
                   4, LOCO_ERR_FORMAT, "9 dimensions");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                   "\"data_offsets\":[0,4]}}",
                   4, LOCO_ERR_FORMAT, "overflows");
    /* data_offsets */
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, LOCO_ERR_FORMAT,
                   "\"data_offsets\" is missing");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
                   LOCO_ERR_FORMAT, "\"data_offsets\" is malformed");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
                   LOCO_ERR_FORMAT, "begin after end");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
                   LOCO_ERR_FORMAT, "end 8 is past the end of the 4-byte data buffer");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                   LOCO_ERR_FORMAT, "hold 8 bytes but shape x F32 needs 3 x 4");
    /* tiling */
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                   LOCO_ERR_FORMAT, "there is a gap before it");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                   8, LOCO_ERR_FORMAT, "overlaps the previous tensor");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                   LOCO_ERR_FORMAT, "trailing bytes");
    /* duplicates (cJSON keeps both) */
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                   8, LOCO_ERR_FORMAT, "tensor 'a' appears twice");
    /* __metadata__ */
    expect_refused("{\"__metadata__\":{\"format\":1}}", 0, LOCO_ERR_FORMAT,
                   "\"__metadata__\" entry 'format' is not a string");
    expect_refused("{\"__metadata__\":[]}", 0, LOCO_ERR_FORMAT,
                   "\"__metadata__\" is not a JSON object");
    expect_refused("{\"__metadata__\":{},\"__metadata__\":{}}", 0, LOCO_ERR_FORMAT,
                   "\"__metadata__\" appears twice");
}

static void test_st_dtypes(void **state)
{
    enum loco_st_dtype t;
    assert_int_equal(loco_st_dtype_parse("BF16", &t), LOCO_OK);
    assert_int_equal(t, LOCO_ST_BF16);
    assert_string_equal(loco_st_dtype_name(LOCO_ST_F8_E4M3), "F8_E4M3");
    assert_int_equal(loco_st_dtype_size(LOCO_ST_F64), 8);
    assert_int_equal(loco_st_dtype_size(LOCO_ST_U16), 2);
    assert_string_equal(loco_st_dtype_name(LOCO_ST_DTYPE_COUNT), "?");
    assert_int_equal(loco_st_dtype_size(LOCO_ST_DTYPE_COUNT), 0);
    assert_int_equal(loco_st_dtype_parse("F4", &t), LOCO_ERR_UNSUPPORTED);
    assert_non_null(strstr(loco_error_message(), "\"F4\""));
    /* F64 converts too */
    double d[2] = {0.25, -8.0};
    struct loco_safetensors *st = NULL;
    size_t size;
    uint8_t *img = st_image("{\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", d,
                            sizeof d, &size);
    assert_int_equal(loco_safetensors_open_memory(img, size, &st), LOCO_OK);
    float f[2];
    assert_int_equal(loco_safetensors_to_f32(st, loco_safetensors_find(st, "d"), f, 2), LOCO_OK);
    assert_true(f[0] == 0.25f && f[1] == -8.0f);
    loco_safetensors_close(st);
    free(img);
}

/* ---- 2. PEFT pieces --------------------------------------------------------- */

static int config(const char *json, struct loco_peft_config *c)
{
    return loco_peft_config_parse(json, strlen(json), "cfg.json", c);
}

static void test_peft_config(void **state)
{
    struct loco_peft_config c;
    assert_int_equal(config("{\"peft_type\":\"LORA\",\"r\":16,\"lora_alpha\":32,"
                            "\"target_modules\":[\"q_proj\",\"model.layers.1.self_attn.v_proj\"],"
                            "\"rank_pattern\":{},"
                            "\"alpha_pattern\":{},\"bias\":\"none\",\"modules_to_save\":null,"
                            "\"use_dora\":false,\"fan_in_fan_out\":false,"
                            "\"base_model_name_or_path\":\"HuggingFaceTB/SmolLM2-135M\"}",
                            &c),
                     LOCO_OK);
    assert_int_equal(c.r, 16);
    assert_true(c.lora_alpha == 32.0f && c.alpha == 32.0f);
    assert_false(c.use_rslora);
    assert_int_equal(c.targets,
                     LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_V));
    assert_string_equal(c.target_modules, "q_proj,model.layers.1.self_attn.v_proj");
    assert_string_equal(c.base_model, "HuggingFaceTB/SmolLM2-135M");

    /* rsLoRA: the file's alpha/r must equal lora_alpha/sqrt(r) */
    assert_int_equal(config("{\"r\":16,\"lora_alpha\":8,\"use_rslora\":true,"
                            "\"target_modules\":\"all-linear\",\"fan_in_fan_out\":true}",
                            &c),
                     LOCO_OK);
    assert_true(fabsf(c.alpha / 16.0f - 8.0f / 4.0f) < 1e-6f);
    assert_int_equal(c.targets, 0);
    assert_string_equal(c.target_modules, "all-linear");
    assert_true(c.fan_in_fan_out);

    static const struct {
        const char *json;
        int status;
        const char *needle;
    } bad[] = {
        {"[]", LOCO_ERR_FORMAT, "cfg.json is not a JSON object"},
        {"{\"lora_alpha\":8}", LOCO_ERR_FORMAT, "\"r\" is missing"},
        {"{\"r\":2.5,\"lora_alpha\":8}", LOCO_ERR_FORMAT, "\"r\" is malformed"},
        {"{\"r\":4}", LOCO_ERR_FORMAT, "\"lora_alpha\" is missing"},
        {"{\"r\":4,\"lora_alpha\":-1}", LOCO_ERR_FORMAT, "\"lora_alpha\" is malformed"},
        {"{\"r\":4,\"lora_alpha\":8,\"rank_pattern\":{\"q_proj\":8}}", LOCO_ERR_UNSUPPORTED,
         "\"rank_pattern\" is set"},
        {"{\"r\":4,\"lora_alpha\":8,\"alpha_pattern\":{\"q_proj\":8}}", LOCO_ERR_UNSUPPORTED,
         "\"alpha_pattern\" is set"},
        {"{\"r\":4,\"lora_alpha\":8,\"use_dora\":true}", LOCO_ERR_UNSUPPORTED, "DoRA"},
        {"{\"r\":4,\"lora_alpha\":8,\"bias\":\"all\"}", LOCO_ERR_UNSUPPORTED, "\"bias\""},
        {"{\"r\":4,\"lora_alpha\":8,\"modules_to_save\":[\"lm_head\"]}", LOCO_ERR_UNSUPPORTED,
         "\"modules_to_save\" is set"},
        {"{\"r\":4,\"lora_alpha\":8,\"peft_type\":\"IA3\"}", LOCO_ERR_UNSUPPORTED,
         "\"peft_type\" is \"IA3\""},
        {"{\"r\":4,\"lora_alpha\":8,\"target_modules\":[\"q_proj\",\"lm_head\"]}",
         LOCO_ERR_UNSUPPORTED, "target module \"lm_head\""},
        {"{\"r\":4,\"lora_alpha\":8,\"use_rslora\":\"yes\"}", LOCO_ERR_FORMAT,
         "\"use_rslora\" is not true or false"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = config(bad[i].json, &c);
        if (rc != bad[i].status || !strstr(loco_error_message(), bad[i].needle))
            fail_msg("%s: got %s \"%s\", wanted %s \"%s\"", bad[i].json, loco_status_name(rc),
                     loco_error_message(), loco_status_name(bad[i].status), bad[i].needle);
    }
    assert_int_equal(loco_peft_config_read("/nonexistent/adapter_config.json", &c), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "/nonexistent/adapter_config.json"));
}

/* Reading adapter_config.json: a good file parses; one past the 1 MiB cap
 * is not an adapter config (FORMAT); a FIFO or a folder in its place is
 * refused at once (IO, naming what it is), never waited on. */
static void test_peft_config_read(void **state)
{
    (void)state;
    char dir[64], path[128], fifo[128];
    struct loco_peft_config c;
    test_make_tmpdir(dir, sizeof dir, "peft-read");
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    test_write_file(path, "{\"r\":4,\"lora_alpha\":8,\"target_modules\":[\"q_proj\"]}");
    assert_int_equal(loco_peft_config_read(path, &c), LOCO_OK);
    assert_int_equal(c.r, 4);

    size_t big = (1u << 20) + 1; /* one byte past the cap, all spaces around {} */
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, ' ', big);
    text[0] = '{';
    text[big - 1] = '}';
    text[big] = '\0';
    test_write_file(path, text);
    free(text);
    assert_int_equal(loco_peft_config_read(path, &c), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "larger than 1048576 bytes"));

    alarm(20); /* a hang fails the test instead of stalling the suite */
    snprintf(fifo, sizeof fifo, "%s/fifo.json", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(loco_peft_config_read(fifo, &c), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    assert_int_equal(loco_peft_config_read(dir, &c), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "folder"));
    alarm(0);
    test_rm_rf(dir);
}

static void test_peft_names(void **state)
{
    int32_t layer = -1;
    enum loco_lora_target t;
    bool is_b = true;
    assert_int_equal(loco_peft_parse_name("base_model.model.model.layers.3.self_attn.q_proj.lora_A"
                                          ".weight",
                                          &layer, &t, &is_b),
                     LOCO_OK);
    assert_true(layer == 3 && t == LOCO_LORA_Q && !is_b);
    assert_int_equal(loco_peft_parse_name("base_model.model.model.layers.12.mlp.down_proj.lora_B"
                                          ".weight",
                                          &layer, &t, &is_b),
                     LOCO_OK);
    assert_true(layer == 12 && t == LOCO_LORA_DOWN && is_b);
    assert_int_equal(loco_peft_parse_name("base_model.model.model.layers.0.self_attn.o_proj.lora_B"
                                          ".default.weight",
                                          &layer, &t, &is_b),
                     LOCO_OK);
    assert_true(layer == 0 && t == LOCO_LORA_O && is_b);

    static const struct {
        const char *name, *needle;
    } bad[] = {
        {"base_model.model.model.embed_tokens.weight", "full tensor"},
        {"base_model.model.lm_head.weight", "full tensor"},
        {"base_model.model.model.layers.0.self_attn.q_proj.bias", "biases"},
        {"base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", "DoRA"},
        {"base_model.model.model.embed_tokens.lora_embedding_A", "embedding"},
        {"base_model.model.model.layers.0.mlp.q_proj.lora_A.weight", "not the lora_A/lora_B"},
        {"base_model.model.model.layers.0.self_attn.rotary.lora_A.weight", "not the lora_A"},
        {"base_model.model.model.layers.x.self_attn.q_proj.lora_A.weight", "not the lora_A"},
        {"base_model.model.model.layers.0.self_attn.q_proj.lora_C.weight", "not the lora_A"},
        {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight.extra", "not the"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = loco_peft_parse_name(bad[i].name, &layer, &t, &is_b);
        if (rc != LOCO_ERR_UNSUPPORTED || !strstr(loco_error_message(), bad[i].needle) ||
            !strstr(loco_error_message(), bad[i].name))
            fail_msg("%s: got %s \"%s\"", bad[i].name, loco_status_name(rc), loco_error_message());
    }
}

static void test_peft_permute(void **state)
{
    /* 2 heads of D = 4 rows, 2 columns; row r holds {10r, 10r+1}. Within a
     * head rows (0,1,2,3) become (0,2,1,3): new 2j = old j, new 2j+1 = old
     * j + D/2. */
    float m[8][2];
    for (int r = 0; r < 8; r++) {
        m[r][0] = (float)(10 * r);
        m[r][1] = (float)(10 * r + 1);
    }
    assert_int_equal(loco_peft_permute_rows(&m[0][0], 8, 2, 2), LOCO_OK);
    static const int expect[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int r = 0; r < 8; r++) {
        assert_true(m[r][0] == (float)(10 * expect[r]));
        assert_true(m[r][1] == (float)(10 * expect[r] + 1));
    }
    /* one head of D = 6: (0,1,2,3,4,5) -> (0,3,1,4,2,5) */
    float v[6] = {0, 1, 2, 3, 4, 5};
    assert_int_equal(loco_peft_permute_rows(v, 6, 1, 1), LOCO_OK);
    static const float e6[6] = {0, 3, 1, 4, 2, 5};
    for (int r = 0; r < 6; r++)
        assert_true(v[r] == e6[r]);
    assert_int_equal(loco_peft_permute_rows(v, 6, 1, 2), LOCO_ERR_INVALID); /* D = 3 is odd */
    assert_non_null(strstr(loco_error_message(), "6 rows for 2 heads"));
    assert_int_equal(loco_peft_permute_rows(v, 6, 1, 0), LOCO_ERR_INVALID);
}

static void test_peft_shapes(void **state)
{
    struct loco_hparams hp = {
        .n_embd = 64, .n_head = 8, .n_head_kv = 4, .head_dim = 16, .n_ff = 172};
    static const struct {
        enum loco_lora_target t;
        int64_t n_in, n_out;
    } want[] = {{LOCO_LORA_Q, 64, 128},   {LOCO_LORA_K, 64, 64},     {LOCO_LORA_V, 64, 64},
                {LOCO_LORA_O, 128, 64},   {LOCO_LORA_GATE, 64, 172}, {LOCO_LORA_UP, 64, 172},
                {LOCO_LORA_DOWN, 172, 64}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int64_t n_in = 0, n_out = 0;
        loco_peft_target_shape(&hp, want[i].t, &n_in, &n_out);
        assert_int_equal(n_in, want[i].n_in);
        assert_int_equal(n_out, want[i].n_out);
    }
    struct loco_peft_import_params p = loco_peft_import_default_params();
    assert_int_equal(p.type, LOCO_TYPE_F16);
    assert_null(p.name);
    assert_false(p.overwrite);
}

/* ---- 3. the import on stories260K ------------------------------------------- */

#define RANK 4
#define ALPHA 8.0f

struct peft_fixture {
    char dir[256];  /* temp folder */
    char peft[320]; /* dir/my-adapter: the PEFT folder */
    char base_path[1024];
    struct loco_model *base;
    const struct loco_hparams *hp;
    /* per (layer, target): A [R][n_in], B_hf [n_out][R] exactly as written */
    float *a[64][LOCO_LORA_N_TARGETS], *b[64][LOCO_LORA_N_TARGETS];
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float frand(float scale) /* uniform in [-scale, scale), rounded to an f16 value */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    float u = (float)((rng_state >> 11) * (1.0 / 9007199254740992.0));
    return loco_fp16_to_fp32(loco_fp32_to_fp16((2 * u - 1) * scale));
}

/* ---- 2b. the safetensors writer and the export's pieces --------------------- */

/* F64 scalar, F32 [2][3], F16 [2], BF16 [1], I8 [2] and metadata written,
 * then read back with the reader: the layout is the reference library's
 * (larger elements first, then by name; header padded to 8) and every byte
 * comes back. */
static void test_st_writer(void **state)
{
    (void)state;
    char dir[64], path[128];
    test_make_tmpdir(dir, sizeof dir, "st-write");
    join(path, sizeof path, dir, "t.safetensors");
    uint8_t data[32];
    good_data(data);
    double d = -0.125;
    int64_t s23[2] = {2, 3}, s2[1] = {2}, s1[1] = {1};
    struct loco_safetensors_writer *w = loco_safetensors_writer_init();
    assert_non_null(w);
    assert_int_equal(loco_safetensors_writer_set_metadata(w, "format", "pt"), LOCO_OK);
    assert_int_equal(loco_safetensors_writer_set_metadata(w, "note", "a \"quoted\"\nline"),
                     LOCO_OK);
    assert_int_equal(loco_safetensors_writer_add(w, "w", LOCO_ST_F32, 2, s23, data), LOCO_OK);
    assert_int_equal(loco_safetensors_writer_add(w, "i", LOCO_ST_I8, 1, s2, data + 30), LOCO_OK);
    assert_int_equal(loco_safetensors_writer_add(w, "h", LOCO_ST_F16, 1, s2, data + 24), LOCO_OK);
    assert_int_equal(loco_safetensors_writer_add(w, "b", LOCO_ST_BF16, 1, s1, data + 28), LOCO_OK);
    assert_int_equal(loco_safetensors_writer_add(w, "d", LOCO_ST_F64, 0, NULL, &d), LOCO_OK);
    /* refusals leave the writer as it was */
    assert_int_equal(loco_safetensors_writer_add(w, "w", LOCO_ST_F32, 2, s23, data),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "'w' used twice"));
    assert_int_equal(loco_safetensors_writer_add(w, "__metadata__", LOCO_ST_F32, 1, s1, data),
                     LOCO_ERR_INVALID);
    int64_t neg[1] = {-1};
    assert_int_equal(loco_safetensors_writer_add(w, "n", LOCO_ST_F32, 1, neg, data),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "negative"));
    assert_int_equal(loco_safetensors_writer_add(w, "x", LOCO_ST_F32, 9, s23, data),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_safetensors_writer_add(w, "x", LOCO_ST_F32, 1, s2, NULL),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_safetensors_writer_set_metadata(w, "format", "np"), LOCO_ERR_INVALID);
    assert_int_equal(loco_safetensors_writer_write(w, path), LOCO_OK);
    loco_safetensors_writer_free(w);

    size_t size;
    uint8_t *img = (uint8_t *)test_read_file(path, &size);
    assert_non_null(img);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)img[i] << (8 * i);
    assert_int_equal(n % 8, 0);
    assert_int_equal(size, 8 + n + 8 + 24 + 4 + 2 + 2);
    free(img);
    struct loco_safetensors *st = NULL;
    assert_int_equal(loco_safetensors_open(path, &st), LOCO_OK);
    static const char *order[] = {"d", "w", "b", "h", "i"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(loco_safetensors_tensor(st, i)->name, order[i]);
    assert_string_equal(loco_safetensors_metadata(st, "format"), "pt");
    assert_string_equal(loco_safetensors_metadata(st, "note"), "a \"quoted\"\nline");
    const struct loco_st_tensor *t = loco_safetensors_find(st, "w");
    assert_int_equal(t->dtype, LOCO_ST_F32);
    assert_true(t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    assert_memory_equal(t->data, data, 24);
    assert_memory_equal(loco_safetensors_find(st, "h")->data, data + 24, 4);
    assert_memory_equal(loco_safetensors_find(st, "b")->data, data + 28, 2);
    assert_memory_equal(loco_safetensors_find(st, "i")->data, data + 30, 2);
    t = loco_safetensors_find(st, "d");
    assert_int_equal(t->n_dims, 0);
    assert_memory_equal(t->data, &d, 8);
    loco_safetensors_close(st);

    /* no tensors at all: "{}" and nothing else */
    w = loco_safetensors_writer_init();
    assert_int_equal(loco_safetensors_writer_write(w, path), LOCO_OK);
    assert_int_equal(loco_safetensors_open(path, &st), LOCO_OK);
    assert_int_equal(loco_safetensors_n_tensors(st), 0);
    loco_safetensors_close(st);
    /* a folder that does not exist: IO, nothing written */
    join(path, sizeof path, dir, "none/t.safetensors");
    assert_int_equal(loco_safetensors_writer_write(w, path), LOCO_ERR_IO);
    assert_int_equal(access(path, F_OK), -1);
    loco_safetensors_writer_free(w);
    test_rm_rf(dir);
}

static void test_peft_unpermute(void **state)
{
    (void)state;
    /* the permute test's example undone: (0,2,1,3) -> (0,1,2,3) per head */
    float m[8][2];
    static const int permuted[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int r = 0; r < 8; r++) {
        m[r][0] = (float)(10 * permuted[r]);
        m[r][1] = (float)(10 * permuted[r] + 1);
    }
    assert_int_equal(loco_peft_unpermute_rows(&m[0][0], 8, 2, 2), LOCO_OK);
    for (int r = 0; r < 8; r++)
        assert_true(m[r][0] == (float)(10 * r) && m[r][1] == (float)(10 * r + 1));
    /* both orders compose to the identity, bit for bit: 3 heads of D = 8, 5 columns */
    float v[24 * 5], w[24 * 5];
    for (int i = 0; i < 24 * 5; i++)
        v[i] = w[i] = sinf((float)i); /* distinct values */
    assert_int_equal(loco_peft_permute_rows(w, 24, 5, 3), LOCO_OK);
    assert_true(memcmp(v, w, sizeof v) != 0);
    assert_int_equal(loco_peft_unpermute_rows(w, 24, 5, 3), LOCO_OK);
    assert_memory_equal(v, w, sizeof v);
    assert_int_equal(loco_peft_unpermute_rows(w, 24, 5, 3), LOCO_OK);
    assert_int_equal(loco_peft_permute_rows(w, 24, 5, 3), LOCO_OK);
    assert_memory_equal(v, w, sizeof v);
    assert_int_equal(loco_peft_unpermute_rows(v, 6, 1, 2), LOCO_ERR_INVALID); /* D = 3 */
    assert_non_null(strstr(loco_error_message(), "6 rows for 2 heads"));
    assert_int_equal(loco_peft_unpermute_rows(v, 6, 0, 1), LOCO_ERR_INVALID);
}

/* A parsed config's text field as a string ("" when absent or not one). */
static const char *json_str(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_peft_config_format(void **state)
{
    (void)state;
    struct loco_peft_config c = {.r = 16, .lora_alpha = 0.1f, .use_rslora = true};
    c.targets = LOCO_LORA_TARGET_BIT(LOCO_LORA_V) | LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) |
                LOCO_LORA_TARGET_BIT(LOCO_LORA_DOWN);
    snprintf(c.base_model, sizeof c.base_model, "HuggingFaceTB/SmolLM2-135M");
    char *text = NULL;
    assert_int_equal(loco_peft_config_format(&c, &text), LOCO_OK);
    /* what the import reads back */
    struct loco_peft_config back;
    assert_int_equal(loco_peft_config_parse(text, strlen(text), "fmt", &back), LOCO_OK);
    assert_int_equal(back.r, 16);
    assert_true(back.lora_alpha == 0.1f && back.use_rslora);
    assert_int_equal(back.targets, c.targets);
    assert_string_equal(back.target_modules, "q_proj,v_proj,down_proj");
    assert_string_equal(back.base_model, c.base_model);
    assert_false(back.fan_in_fan_out);
    /* and what PEFT's LoraConfig needs, keys in sorted order */
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_string_equal(json_str(j, "peft_type"), "LORA");
    assert_string_equal(json_str(j, "task_type"), "CAUSAL_LM");
    assert_string_equal(json_str(j, "bias"), "none");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "fan_in_fan_out")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "use_dora")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "modules_to_save")));
    assert_true(cJSON_GetObjectItemCaseSensitive(j, "lora_dropout")->valuedouble == 0);
    const cJSON *prev = NULL, *e;
    cJSON_ArrayForEach(e, j)
    {
        if (prev)
            assert_true(strcmp(prev->string, e->string) < 0);
        prev = e;
    }
    cJSON_Delete(j);
    free(text);

    struct loco_peft_config bad = c;
    bad.r = 0;
    assert_int_equal(loco_peft_config_format(&bad, &text), LOCO_ERR_INVALID);
    assert_null(text);
    bad = c;
    bad.lora_alpha = 0;
    assert_int_equal(loco_peft_config_format(&bad, &text), LOCO_ERR_INVALID);
    bad = c;
    bad.targets = 0;
    assert_int_equal(loco_peft_config_format(&bad, &text), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "seven projections"));
    struct loco_peft_export_params p = loco_peft_export_default_params();
    assert_int_equal(p.type, LOCO_PEFT_EXPORT_AS_STORED);
    assert_null(p.base_model);
    assert_false(p.overwrite);
}

static const char *peft_module(enum loco_lora_target t)
{
    static const char *m[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                              "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                              "mlp.down_proj"};
    return m[t];
}

/* A growing header + data pair for the writer. */
struct st_builder {
    char *json;
    size_t json_len, json_cap;
    uint8_t *data;
    size_t data_len, data_cap;
};

static void sb_json(struct st_builder *sb, const char *s)
{
    size_t n = strlen(s);
    if (sb->json_len + n + 1 > sb->json_cap) {
        sb->json_cap = (sb->json_len + n + 1) * 2;
        sb->json = realloc(sb->json, sb->json_cap);
        assert_non_null(sb->json);
    }
    memcpy(sb->json + sb->json_len, s, n + 1);
    sb->json_len += n;
}

/* Append one tensor of rows x cols floats as F32 or F16. */
static void sb_tensor(struct st_builder *sb, const char *name, const float *v, int64_t rows,
                      int64_t cols, bool f16)
{
    size_t n = (size_t)(rows * cols), bytes = n * (f16 ? 2 : 4);
    char entry[512];
    snprintf(entry, sizeof entry,
             "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],\"data_offsets\":[%zu,%zu]}",
             sb->json_len > 1 ? "," : "", name, f16 ? "F16" : "F32", (long long)rows,
             (long long)cols, sb->data_len, sb->data_len + bytes);
    sb_json(sb, entry);
    if (sb->data_len + bytes > sb->data_cap) {
        sb->data_cap = (sb->data_len + bytes) * 2;
        sb->data = realloc(sb->data, sb->data_cap);
        assert_non_null(sb->data);
    }
    for (size_t i = 0; i < n; i++) {
        if (f16) {
            uint16_t h = loco_fp32_to_fp16(v[i]);
            memcpy(sb->data + sb->data_len + 2 * i, &h, 2);
        } else
            memcpy(sb->data + sb->data_len + 4 * i, &v[i], 4);
    }
    sb->data_len += bytes;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void sb_save(struct st_builder *sb, const char *path)
{
    sb_json(sb, "}");
    size_t size;
    uint8_t *img = st_image(sb->json, sb->data, sb->data_len, &size);
    write_file(path, img, size);
    free(img);
    free(sb->json);
    free(sb->data);
    memset(sb, 0, sizeof *sb);
}

static void write_config(const char *dir, const char *json)
{
    char path[2048];
    join(path, sizeof path, dir, "adapter_config.json");
    write_file(path, json, strlen(json));
}

static const char *good_config =
    "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"lora_dropout\":0.05,"
    "\"target_modules\":[\"q_proj\",\"k_proj\",\"v_proj\",\"o_proj\",\"gate_proj\",\"up_proj\","
    "\"down_proj\"],\"bias\":\"none\",\"task_type\":\"CAUSAL_LM\",\"use_rslora\":false,"
    "\"rank_pattern\":{},\"alpha_pattern\":{},\"base_model_name_or_path\":\"karpathy/"
    "stories260K\"}";

/* Random A (stored F16) and B (stored F32) for every layer and target;
 * values are f16-exact so that the default F16 import loses nothing. */
static void write_peft(struct peft_fixture *f)
{
    struct st_builder sb = {0};
    sb_json(&sb, "{");
    for (int il = 0; il < f->hp->n_layer; il++)
        for (int t = 0; t < LOCO_LORA_N_TARGETS; t++) {
            int64_t n_in, n_out;
            loco_peft_target_shape(f->hp, (enum loco_lora_target)t, &n_in, &n_out);
            float *a = malloc((size_t)(RANK * n_in) * sizeof *a);
            float *b = malloc((size_t)(n_out * RANK) * sizeof *b);
            assert_true(a && b);
            for (int64_t i = 0; i < RANK * n_in; i++)
                a[i] = frand(0.25f);
            for (int64_t i = 0; i < n_out * RANK; i++)
                b[i] = frand(0.25f);
            char name[256];
            snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.lora_A.weight", il,
                     peft_module((enum loco_lora_target)t));
            sb_tensor(&sb, name, a, RANK, n_in, true);
            snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.lora_B.weight", il,
                     peft_module((enum loco_lora_target)t));
            sb_tensor(&sb, name, b, n_out, RANK, false);
            f->a[il][t] = a;
            f->b[il][t] = b;
        }
    char path[2048];
    join(path, sizeof path, f->peft, "adapter_model.safetensors");
    sb_save(&sb, path);
    write_config(f->peft, good_config);
}

static struct loco_model *load_f32act(const char *path)
{
    struct loco_model_params mp = loco_model_default_params();
    mp.matmul_mode = LOCO_MATMUL_F32_ACT;
    mp.load_tokenizer = false;
    struct loco_model *m = loco_model_load(path, mp);
    if (!m)
        fail_msg("loading %s: %s", path, loco_error_message());
    return m;
}

static int setup_fixture(void **state)
{
    struct peft_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *state = f;
    if (!test_shared_path("fixtures/models/stories260K.gguf", f->base_path, sizeof f->base_path))
        return 0; /* the tests skip */
    snprintf(f->dir, sizeof f->dir, "/tmp/loco-peft-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->peft, sizeof f->peft, "%s/my-adapter", f->dir);
    assert_int_equal(mkdir(f->peft, 0755), 0);
    f->base = load_f32act(f->base_path);
    f->hp = loco_model_hparams(f->base);
    assert_true(f->hp->n_layer <= 64);
    write_peft(f);
    return 0;
}

static int teardown_fixture(void **state)
{
    struct peft_fixture *f = *state;
    for (int il = 0; il < 64; il++)
        for (int t = 0; t < LOCO_LORA_N_TARGETS; t++) {
            free(f->a[il][t]);
            free(f->b[il][t]);
        }
    loco_model_free(f->base);
    if (f->dir[0])
        test_rm_rf(f->dir);
    free(f);
    return 0;
}

/* The test's own permutation, written from the converter's numpy:
 * w.reshape(n_head, 2, D/2, R).swapaxes(1, 2).reshape(n_out, R). */
static void ref_permute(const float *src, float *dst, int64_t n_out, int64_t R, int n_head)
{
    int64_t D = n_out / n_head;
    for (int h = 0; h < n_head; h++)
        for (int64_t j = 0; j < D / 2; j++)
            for (int a = 0; a < 2; a++)
                memcpy(dst + (h * D + j * 2 + a) * R, src + (h * D + a * (D / 2) + j) * R,
                       (size_t)R * sizeof *dst);
}

/* W [n_out][n_in] += (alpha/r) * B A, with B permuted for llama q/k when asked. */
static void merge_into(const struct peft_fixture *f, int il, enum loco_lora_target t, float *w,
                       bool permute)
{
    int64_t n_in, n_out;
    loco_peft_target_shape(f->hp, t, &n_in, &n_out);
    float *b = malloc((size_t)(n_out * RANK) * sizeof *b);
    assert_non_null(b);
    memcpy(b, f->b[il][t], (size_t)(n_out * RANK) * sizeof *b);
    if (permute && (t == LOCO_LORA_Q || t == LOCO_LORA_K))
        ref_permute(f->b[il][t], b, n_out, RANK,
                    t == LOCO_LORA_Q ? f->hp->n_head : f->hp->n_head_kv);
    const float *a = f->a[il][t];
    for (int64_t o = 0; o < n_out; o++)
        for (int64_t i = 0; i < n_in; i++) {
            double s = 0;
            for (int k = 0; k < RANK; k++)
                s += (double)b[o * RANK + k] * a[k * n_in + i];
            w[o * n_in + i] += (float)((double)ALPHA / RANK * s);
        }
    free(b);
}

/* Copy the base GGUF into `out` with every adapted projection merged
 * (permute: apply the llama q/k permutation to B). `rename` != NULL changes
 * general.name (so the file, and its sha256, differ). */
static void write_merged(const struct peft_fixture *f, const char *out, bool merge, bool permute,
                         const char *rename)
{
    struct loco_gguf *g = loco_gguf_open(f->base_path);
    assert_non_null(g);
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    for (int64_t i = 0; i < loco_gguf_n_kv(g); i++)
        assert_int_equal(loco_gguf_writer_copy_kv(w, g, i), LOCO_OK);
    if (rename)
        assert_int_equal(loco_gguf_writer_set_str(w, "general.name", rename), LOCO_OK);
    float *bufs[512] = {0};
    int n_bufs = 0;
    for (int64_t i = 0; i < loco_gguf_n_tensors(g); i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        int il = -1, used = 0;
        char stem[64];
        enum loco_lora_target tg;
        bool adapted = merge &&
                       sscanf(t->name, "blk.%d.%63[a-z_].weight%n", &il, stem, &used) == 2 &&
                       t->name[used] == '\0' && loco_lora_target_parse(stem, &tg) == LOCO_OK;
        if (!adapted) {
            assert_int_equal(
                loco_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data),
                LOCO_OK);
            continue;
        }
        float *m = malloc((size_t)(t->ne[0] * t->ne[1]) * sizeof *m);
        assert_non_null(m);
        for (int64_t r = 0; r < t->ne[1]; r++)
            assert_int_equal(loco_get_row(t->data, t->type, t->ne[0], r, m + r * t->ne[0]),
                             LOCO_OK);
        merge_into(f, il, tg, m, permute);
        assert_int_equal(loco_gguf_writer_add_tensor(w, t->name, LOCO_TYPE_F32, 2, t->ne, m),
                         LOCO_OK);
        assert_true(n_bufs < 512);
        bufs[n_bufs++] = m;
    }
    assert_int_equal(loco_gguf_writer_write(w, out), LOCO_OK);
    for (int i = 0; i < n_bufs; i++)
        free(bufs[i]);
    loco_gguf_writer_free(w);
    loco_gguf_close(g);
}

static const int32_t prompt[] = {1, 403, 407, 261, 378, 30, 290, 475};
#define N_PROMPT ((int)(sizeof prompt / sizeof prompt[0]))

/* Logits [N_PROMPT][V] after each prompt token, with `a` (or none). */
static float *run_logits(const struct loco_model *m, const struct loco_adapter *a)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 64;
    cp.n_seq = 1;
    cp.n_batch = 16;
    cp.n_threads = 1;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    if (a) {
        struct loco_adapter_ref ref = {.adapter = a, .scale = 1.0f};
        assert_int_equal(loco_context_set_adapters(c, 0, &ref, 1), LOCO_OK);
    }
    int32_t pos[N_PROMPT], seq[N_PROMPT];
    bool want[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) {
        pos[i] = i;
        seq[i] = 0;
        want[i] = true;
    }
    struct loco_batch b = {
        .n = N_PROMPT, .tokens = prompt, .pos = pos, .seq = seq, .want_logits = want};
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    int32_t V = loco_model_hparams(m)->n_vocab;
    float *out = malloc((size_t)N_PROMPT * (size_t)V * sizeof *out);
    assert_non_null(out);
    for (int i = 0; i < N_PROMPT; i++)
        memcpy(out + (size_t)i * (size_t)V, loco_context_logits(c, i), (size_t)V * sizeof *out);
    loco_context_free(c);
    return out;
}

static double max_abs_diff(const float *x, const float *y, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i] - (double)y[i]));
    return m;
}

static double logits_vs_merged(const struct peft_fixture *f, const struct loco_adapter *a,
                               bool permute, const float *with_adapter)
{
    char merged[2048];
    snprintf(merged, sizeof merged, "%s/merged-%d.gguf", f->dir, permute);
    write_merged(f, merged, true, permute, NULL);
    struct loco_model *m = load_f32act(merged);
    float *ref = run_logits(m, NULL);
    double d = max_abs_diff(with_adapter, ref, (size_t)N_PROMPT * (size_t)f->hp->n_vocab);
    free(ref);
    loco_model_free(m);
    return d;
}

static void check_written_keys(const char *path)
{
    struct loco_gguf *g = loco_gguf_open(path);
    assert_non_null(g);
    char buf[128];
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.source", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "peft");
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.peft.base_model", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "karpathy/stories260K");
    assert_int_equal(loco_gguf_get_str_buf(g, "general.architecture", buf, sizeof buf), LOCO_OK);
    assert_string_equal(buf, "llama");
    assert_int_equal(loco_gguf_get_str_buf(g, "locollm.base.sha256", buf, sizeof buf), LOCO_OK);
    assert_int_equal(strlen(buf), 64);
    const struct loco_gguf_tensor *t = loco_gguf_find_tensor(g, "blk.0.attn_q.weight.lora_b");
    assert_non_null(t);
    assert_int_equal(t->type, LOCO_TYPE_F16); /* the default storage */
    assert_int_equal(t->ne[0], RANK);
    loco_gguf_close(g);
}

static void test_import_matches_merged(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char out[2048];
    join(out, sizeof out, f->dir, "imported.gguf");
    struct loco_peft_import_params p = loco_peft_import_default_params();
    p.domain = "stories";
    struct loco_peft_import_result res;
    if (loco_peft_import(f->peft, f->base, out, &p, &res) != LOCO_OK)
        fail_msg("import: %s", loco_error_message());
    assert_string_equal(res.path, out);
    assert_string_equal(res.name, "my-adapter"); /* the folder's name */
    assert_int_equal(res.n_pairs, f->hp->n_layer * LOCO_LORA_N_TARGETS);
    assert_int_equal(res.rank, RANK);
    assert_true(res.alpha == ALPHA);
    assert_int_equal(res.targets, LOCO_LORA_ALL_TARGETS);
    assert_true(res.permuted_qk);
    check_written_keys(out);

    struct loco_adapter *a = loco_adapter_load(out, f->base);
    if (!a)
        fail_msg("load: %s", loco_error_message());
    const struct loco_adapter_info *info = loco_adapter_info(a);
    assert_string_equal(info->name, "my-adapter");
    assert_string_equal(info->domain, "stories");
    assert_int_equal(info->rank, RANK);
    assert_true(info->alpha == ALPHA);

    float *base = run_logits(f->base, NULL);
    float *with = run_logits(f->base, a);
    size_t n = (size_t)N_PROMPT * (size_t)f->hp->n_vocab;
    double effect = max_abs_diff(base, with, n);
    double d = logits_vs_merged(f, a, true, with);
    double d_unpermuted = logits_vs_merged(f, a, false, with);
    fprintf(stderr,
            "stories260K + imported PEFT adapter (r=%d, alpha=%g, %d tokens): max "
            "|dlogit| vs merged reference %.3g; adapter effect on logits %.3g; vs a merge "
            "without the q/k permutation %.3g\n",
            RANK, (double)ALPHA, N_PROMPT, d, effect, d_unpermuted);
    assert_true(effect > 0.5);                  /* the adapter matters ... */
    assert_true(d < 1e-4);                      /* ... and equals the merged model */
    assert_true(d_unpermuted > 100 * d + 1e-3); /* the permutation matters too */
    free(base);
    free(with);
    loco_adapter_free(a);
}

static void test_import_refuses_other_base(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char out[2048], other[2048];
    join(out, sizeof out, f->dir, "for-other.gguf");
    struct loco_peft_import_params p = loco_peft_import_default_params();
    assert_int_equal(loco_peft_import(f->peft, f->base, out, &p, NULL), LOCO_OK);

    /* same shapes, another file: the recorded sha256 refuses it */
    join(other, sizeof other, f->dir, "other-base.gguf");
    write_merged(f, other, false, false, "another base");
    struct loco_model *m = load_f32act(other);
    assert_null(loco_adapter_load(out, m));
    assert_non_null(strstr(loco_error_message(), "sha256"));
    loco_model_free(m);

    /* a base of other shapes: the import itself refuses */
    char golden[1024];
    if (!test_shared_path("fixtures/golden/tiny-llama-F32.gguf", golden, sizeof golden))
        return;
    m = load_f32act(golden);
    join(out, sizeof out, f->dir, "misfit.gguf");
    int rc = loco_peft_import(f->peft, m, out, &p, NULL);
    assert_int_equal(rc, LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "another base model"));
    assert_non_null(strstr(loco_error_message(), "adapter_model.safetensors"));
    assert_int_equal(access(out, F_OK), -1); /* nothing written */
    loco_model_free(m);
}

/* A PEFT folder with one changed piece, imported: status and message. */
static void expect_import_fails(struct peft_fixture *f, const char *sub, const char *config,
                                const char *header_extra, int status, const char *needle)
{
    char dir[2048], path[2048];
    snprintf(dir, sizeof dir, "%s/%s", f->dir, sub);
    assert_int_equal(mkdir(dir, 0755), 0);
    write_config(dir, config ? config : good_config);
    /* one q pair for layer 0, plus whatever the case adds */
    int64_t n_in, n_out;
    loco_peft_target_shape(f->hp, LOCO_LORA_Q, &n_in, &n_out);
    struct st_builder sb = {0};
    sb_json(&sb, "{");
    sb_tensor(&sb, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
              f->a[0][LOCO_LORA_Q], RANK, n_in, false);
    if (!header_extra || strcmp(header_extra, "no-B") != 0)
        sb_tensor(&sb, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                  f->b[0][LOCO_LORA_Q], n_out, RANK, false);
    if (header_extra && strcmp(header_extra, "lm_head") == 0)
        sb_tensor(&sb, "base_model.model.lm_head.weight", f->a[0][LOCO_LORA_Q], 1, 4, false);
    if (header_extra && strcmp(header_extra, "layer99") == 0)
        sb_tensor(&sb, "base_model.model.model.layers.99.self_attn.q_proj.lora_A.weight",
                  f->a[0][LOCO_LORA_Q], RANK, n_in, false);
    if (header_extra && strcmp(header_extra, "rank") == 0)
        sb_tensor(&sb, "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
                  f->a[0][LOCO_LORA_Q], 2, n_in, false);
    if (header_extra && strcmp(header_extra, "rank") == 0)
        sb_tensor(&sb, "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
                  f->b[0][LOCO_LORA_Q], n_out, 2, false);
    join(path, sizeof path, dir, "adapter_model.safetensors");
    if (!header_extra || strcmp(header_extra, "bin-only") != 0)
        sb_save(&sb, path);
    else {
        free(sb.json);
        free(sb.data);
        join(path, sizeof path, dir, "adapter_model.bin");
        write_file(path, "x", 1);
    }
    join(path, sizeof path, dir, "out.gguf");
    struct loco_peft_import_params p = loco_peft_import_default_params();
    int rc = loco_peft_import(dir, f->base, path, &p, NULL);
    if (rc != status || !strstr(loco_error_message(), needle))
        fail_msg("%s: got %s \"%s\"; wanted %s \"%s\"", sub, loco_status_name(rc),
                 loco_error_message(), loco_status_name(status), needle);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_import_refusals(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    expect_import_fails(f, "no-b", NULL, "no-B", LOCO_ERR_FORMAT, "layer 0 q has lora_A");
    expect_import_fails(f, "lm-head", NULL, "lm_head", LOCO_ERR_UNSUPPORTED,
                        "'base_model.model.lm_head.weight' cannot be imported: it is a full "
                        "tensor");
    expect_import_fails(f, "layer99", NULL, "layer99", LOCO_ERR_FORMAT,
                        "names layer 99 but the base model has 5 layers");
    expect_import_fails(f, "rank", NULL, "rank", LOCO_ERR_FORMAT, "has shape [2, 64]");
    expect_import_fails(f, "bin-only", NULL, "bin-only", LOCO_ERR_NOT_FOUND,
                        "safe_serialization=True");
    expect_import_fails(f, "rank-pattern",
                        "{\"r\":4,\"lora_alpha\":8,\"rank_pattern\":{\"q_proj\":8}}", NULL,
                        LOCO_ERR_UNSUPPORTED, "rank_pattern");
    expect_import_fails(f, "targets", "{\"r\":4,\"lora_alpha\":8,\"target_modules\":[\"v_proj\"]}",
                        NULL, LOCO_ERR_FORMAT, "which target_modules (v_proj) does not list");

    /* not a folder; a bad name; a bad type */
    struct loco_peft_import_params p = loco_peft_import_default_params();
    char out[2048];
    join(out, sizeof out, f->dir, "x.gguf");
    assert_int_equal(loco_peft_import("/nonexistent/peft", f->base, out, &p, NULL),
                     LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "/nonexistent/peft is not a folder"));
    p.name = "../evil";
    assert_int_equal(loco_peft_import(f->peft, f->base, out, &p, NULL), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "\"../evil\" is not usable"));
    p.name = NULL;
    p.type = LOCO_TYPE_Q8_0;
    assert_int_equal(loco_peft_import(f->peft, f->base, out, &p, NULL), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "Q8_0"));
}

static void test_import_default_path(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char adir[2048], want[2048];
    join(adir, sizeof adir, f->dir, "store/adapters"); /* created by the import */
    setenv("LOCO_ADAPTERS_DIR", adir, 1);
    struct loco_peft_import_params p = loco_peft_import_default_params();
    p.name = "tales";
    p.type = LOCO_TYPE_F32;
    struct loco_peft_import_result res;
    if (loco_peft_import(f->peft, f->base, NULL, &p, &res) != LOCO_OK)
        fail_msg("import: %s", loco_error_message());
    join(want, sizeof want, adir, "tales.gguf");
    assert_string_equal(res.path, want);
    assert_int_equal(access(want, F_OK), 0);
    /* a second import does not replace it unless asked */
    assert_int_equal(loco_peft_import(f->peft, f->base, NULL, &p, &res), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "already exists"));
    p.overwrite = true;
    assert_int_equal(loco_peft_import(f->peft, f->base, NULL, &p, &res), LOCO_OK);
    unsetenv("LOCO_ADAPTERS_DIR");
}

/* ---- 4. the export on stories260K ------------------------------------------- */

/* Every tensor of two GGUF files: the same names, types, shapes and bytes. */
static void expect_same_tensors(const char *x, const char *y)
{
    struct loco_gguf *gx = loco_gguf_open(x), *gy = loco_gguf_open(y);
    assert_non_null(gx);
    assert_non_null(gy);
    assert_int_equal(loco_gguf_n_tensors(gx), loco_gguf_n_tensors(gy));
    for (int64_t i = 0; i < loco_gguf_n_tensors(gx); i++) {
        const struct loco_gguf_tensor *tx = loco_gguf_tensor(gx, i);
        const struct loco_gguf_tensor *ty = loco_gguf_find_tensor(gy, tx->name);
        if (!ty || ty->type != tx->type || ty->n_dims != tx->n_dims || ty->ne[0] != tx->ne[0] ||
            ty->ne[1] != tx->ne[1] || ty->size != tx->size ||
            memcmp(tx->data, ty->data, tx->size) != 0)
            fail_msg("%s differs between %s and %s", tx->name, x, y);
    }
    loco_gguf_close(gx);
    loco_gguf_close(gy);
}

/* Import PEFT folder `dir` as f->dir/<file>, stored as `type`; path into out. */
static void import_as(const struct peft_fixture *f, const char *dir, const char *file,
                      enum loco_type type, char *out, size_t cap)
{
    join(out, cap, f->dir, file);
    struct loco_peft_import_params p = loco_peft_import_default_params();
    p.type = type;
    p.name = "round-trip";
    p.overwrite = true;
    if (loco_peft_import(dir, f->base, out, &p, NULL) != LOCO_OK)
        fail_msg("import %s: %s", dir, loco_error_message());
}

/* Export `gguf` into f->dir/<sub> as `type`; the folder into out. */
static void export_as(const struct peft_fixture *f, const char *gguf, const char *sub,
                      enum loco_type type, char *out, size_t cap,
                      struct loco_peft_export_result *res)
{
    join(out, cap, f->dir, sub);
    struct loco_peft_export_params p = loco_peft_export_default_params();
    p.type = type;
    if (loco_peft_export(gguf, f->base, out, &p, res) != LOCO_OK)
        fail_msg("export %s: %s", gguf, loco_error_message());
}

/* The exported folder holds exactly the fixture's A and B_hf (the values the
 * PEFT file was written with, bit for bit), all stored as `dt`. */
static void expect_fixture_values(const struct peft_fixture *f, const char *dir,
                                  enum loco_st_dtype dt)
{
    char path[2048], name[256];
    join(path, sizeof path, dir, "adapter_model.safetensors");
    struct loco_safetensors *st = NULL;
    assert_int_equal(loco_safetensors_open(path, &st), LOCO_OK);
    assert_int_equal(loco_safetensors_n_tensors(st), 2 * f->hp->n_layer * LOCO_LORA_N_TARGETS);
    assert_string_equal(loco_safetensors_metadata(st, "format"), "pt");
    for (int il = 0; il < f->hp->n_layer; il++)
        for (int t = 0; t < LOCO_LORA_N_TARGETS; t++)
            for (int h = 0; h < 2; h++) {
                int64_t n_in, n_out;
                loco_peft_target_shape(f->hp, (enum loco_lora_target)t, &n_in, &n_out);
                snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.lora_%c.weight",
                         il, peft_module((enum loco_lora_target)t), h ? 'B' : 'A');
                const struct loco_st_tensor *x = loco_safetensors_find(st, name);
                assert_non_null(x);
                assert_int_equal(x->dtype, dt);
                assert_int_equal(x->n_dims, 2);
                assert_int_equal(x->shape[0], h ? n_out : RANK);
                assert_int_equal(x->shape[1], h ? RANK : n_in);
                float *v = malloc((size_t)x->n_elements * sizeof *v);
                assert_non_null(v);
                assert_int_equal(loco_safetensors_to_f32(st, x, v, (size_t)x->n_elements), LOCO_OK);
                assert_memory_equal(v, h ? f->b[il][t] : f->a[il][t],
                                    (size_t)x->n_elements * sizeof *v);
                free(v);
            }
    loco_safetensors_close(st);
}

/* Tensors of the export stored in the original PEFT file's dtype have its
 * bytes; returns how many there were. */
static int same_bytes_as_original(const struct peft_fixture *f, const char *dir)
{
    char path[2048];
    struct loco_safetensors *orig = NULL, *st = NULL;
    join(path, sizeof path, f->peft, "adapter_model.safetensors");
    assert_int_equal(loco_safetensors_open(path, &orig), LOCO_OK);
    join(path, sizeof path, dir, "adapter_model.safetensors");
    assert_int_equal(loco_safetensors_open(path, &st), LOCO_OK);
    int same = 0;
    for (int64_t i = 0; i < loco_safetensors_n_tensors(st); i++) {
        const struct loco_st_tensor *x = loco_safetensors_tensor(st, i);
        const struct loco_st_tensor *o = loco_safetensors_find(orig, x->name);
        assert_non_null(o);
        if (o->dtype != x->dtype)
            continue;
        assert_int_equal(o->end - o->begin, x->end - x->begin);
        assert_memory_equal(o->data, x->data, (size_t)(x->end - x->begin));
        same++;
    }
    loco_safetensors_close(orig);
    loco_safetensors_close(st);
    return same;
}

/* PEFT -> GGUF -> PEFT -> GGUF, as F32, as F16 and F16 exported as F32: the
 * exported tensors are the PEFT file's values (the q/k permutation undone)
 * and the second import equals the first byte for byte. */
static void test_export_round_trip(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char imp[2048], again[2048], out[2048];
    int n_pairs = f->hp->n_layer * LOCO_LORA_N_TARGETS;
    struct loco_peft_export_result res;
    import_as(f, f->peft, "rt-32.gguf", LOCO_TYPE_F32, imp, sizeof imp);
    export_as(f, imp, "rt-32", LOCO_PEFT_EXPORT_AS_STORED, out, sizeof out, &res);
    assert_string_equal(res.dir, out);
    assert_int_equal(res.n_pairs, n_pairs);
    assert_int_equal(res.rank, RANK);
    assert_true(res.lora_alpha == ALPHA && !res.use_rslora);
    assert_int_equal(res.targets, LOCO_LORA_ALL_TARGETS);
    assert_true(res.unpermuted_qk);
    assert_string_equal(res.dtypes, "F32");
    assert_string_equal(res.base_model, "karpathy/stories260K");
    expect_fixture_values(f, out, LOCO_ST_F32);
    assert_int_equal(same_bytes_as_original(f, out), n_pairs); /* every B (F32 there) */
    import_as(f, out, "rt-32-again.gguf", LOCO_TYPE_F32, again, sizeof again);
    expect_same_tensors(imp, again);

    import_as(f, f->peft, "rt-16.gguf", LOCO_TYPE_F16, imp, sizeof imp);
    export_as(f, imp, "rt-16", LOCO_PEFT_EXPORT_AS_STORED, out, sizeof out, &res);
    assert_string_equal(res.dtypes, "F16");
    expect_fixture_values(f, out, LOCO_ST_F16);
    assert_int_equal(same_bytes_as_original(f, out), n_pairs); /* every A (F16 there) */
    import_as(f, out, "rt-16-again.gguf", LOCO_TYPE_F16, again, sizeof again);
    expect_same_tensors(imp, again);

    export_as(f, imp, "rt-16-as-32", LOCO_TYPE_F32, out, sizeof out, &res);
    assert_string_equal(res.dtypes, "F32");
    expect_fixture_values(f, out, LOCO_ST_F32);
    import_as(f, out, "rt-16-as-32.gguf", LOCO_TYPE_F16, again, sizeof again);
    expect_same_tensors(imp, again);
}

static void test_export_config(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char imp[2048], out[2048], path[2048];
    import_as(f, f->peft, "cfg.gguf", LOCO_TYPE_F16, imp, sizeof imp);
    export_as(f, imp, "cfg", LOCO_PEFT_EXPORT_AS_STORED, out, sizeof out, NULL);
    join(path, sizeof path, out, "adapter_config.json");
    struct loco_peft_config c;
    assert_int_equal(loco_peft_config_read(path, &c), LOCO_OK);
    assert_int_equal(c.r, RANK);
    assert_true(c.lora_alpha == ALPHA && c.alpha == ALPHA && !c.use_rslora);
    assert_int_equal(c.targets, LOCO_LORA_ALL_TARGETS);
    assert_string_equal(c.target_modules, "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,"
                                          "down_proj");
    assert_string_equal(c.base_model, "karpathy/stories260K");
    char *text = test_read_file(path, NULL);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_string_equal(json_str(j, "peft_type"), "LORA");
    assert_string_equal(json_str(j, "task_type"), "CAUSAL_LM");
    assert_string_equal(json_str(j, "bias"), "none");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "fan_in_fan_out")));
    cJSON_Delete(j);
    free(text);

    /* the caller's base_model_name_or_path wins */
    struct loco_peft_export_params p = loco_peft_export_default_params();
    p.base_model = "my-org/my-stories";
    p.overwrite = true;
    assert_int_equal(loco_peft_export(imp, f->base, out, &p, NULL), LOCO_OK);
    assert_int_equal(loco_peft_config_read(path, &c), LOCO_OK);
    assert_string_equal(c.base_model, "my-org/my-stories");
}

/* An rsLoRA import (alpha * sqrt(r) stored) exports as use_rslora with the
 * original lora_alpha, and imports again to the same adapter.lora.alpha. */
static void test_export_rslora(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char dir[2048], path[2048], imp[2048], again[2048], out[2048];
    join(dir, sizeof dir, f->dir, "rs-peft");
    assert_int_equal(mkdir(dir, 0755), 0);
    join(path, sizeof path, f->peft, "adapter_model.safetensors");
    size_t len = 0;
    char *st = test_read_file(path, &len);
    assert_non_null(st);
    join(path, sizeof path, dir, "adapter_model.safetensors");
    write_file(path, st, len);
    free(st);
    write_config(dir, "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":3.3,\"use_rslora\":true,"
                      "\"base_model_name_or_path\":\"karpathy/stories260K\"}");
    import_as(f, dir, "rs.gguf", LOCO_TYPE_F16, imp, sizeof imp);
    struct loco_peft_export_result res;
    export_as(f, imp, "rs", LOCO_PEFT_EXPORT_AS_STORED, out, sizeof out, &res);
    assert_true(res.use_rslora && res.lora_alpha == 3.3f);
    join(path, sizeof path, out, "adapter_config.json");
    struct loco_peft_config c;
    assert_int_equal(loco_peft_config_read(path, &c), LOCO_OK);
    assert_true(c.use_rslora && c.lora_alpha == 3.3f);
    import_as(f, out, "rs-again.gguf", LOCO_TYPE_F16, again, sizeof again);
    expect_same_tensors(imp, again);
    float a1, a2;
    struct loco_gguf *g1 = loco_gguf_open(imp), *g2 = loco_gguf_open(again);
    assert_int_equal(loco_gguf_get_f32(g1, "adapter.lora.alpha", &a1), LOCO_OK);
    assert_int_equal(loco_gguf_get_f32(g2, "adapter.lora.alpha", &a2), LOCO_OK);
    assert_memory_equal(&a1, &a2, sizeof a1);
    assert_true(a1 == 6.6f); /* 3.3 * sqrt(4) */
    loco_gguf_close(g1);
    loco_gguf_close(g2);
}

/* A random adapter of `targets` on every layer, written as LocoLLM writes
 * its own (loco_adapter_write), not imported: rank r, or r on layer 0 and
 * 2r elsewhere when `mixed`; it records the base's sha256 unless !with_sha. */
static void write_native_sha(const struct peft_fixture *f, const char *path, unsigned targets,
                             int32_t r, bool mixed, enum loco_type type, bool with_sha)
{
    struct loco_lora_pair pairs[64 * LOCO_LORA_N_TARGETS];
    size_t n = 0;
    char sha[65] = "";
    if (with_sha)
        assert_int_equal(loco_model_sha256(f->base, sha), LOCO_OK);
    for (int il = 0; il < f->hp->n_layer; il++)
        for (int t = 0; t < LOCO_LORA_N_TARGETS; t++) {
            if (!(targets & LOCO_LORA_TARGET_BIT(t)))
                continue;
            struct loco_lora_pair *p = &pairs[n++];
            p->layer = il;
            p->target = (enum loco_lora_target)t;
            p->rank = mixed && il > 0 ? 2 * r : r;
            loco_peft_target_shape(f->hp, p->target, &p->n_in, &p->n_out);
            float *a = malloc((size_t)(p->rank * p->n_in) * sizeof *a);
            float *b = malloc((size_t)(p->n_out * p->rank) * sizeof *b);
            assert_true(a && b);
            for (int64_t i = 0; i < p->rank * p->n_in; i++)
                a[i] = frand(0.5f);
            for (int64_t i = 0; i < p->n_out * p->rank; i++)
                b[i] = frand(0.5f);
            p->a = a;
            p->b = b;
        }
    struct loco_adapter_meta meta = {.arch = "llama",
                                     .base_sha256 = sha,
                                     .base_name = "stories-base",
                                     .name = "native",
                                     .alpha = 16.0f};
    assert_int_equal(loco_adapter_write(path, &meta, pairs, n, type), LOCO_OK);
    for (size_t i = 0; i < n; i++) {
        free((float *)pairs[i].a);
        free((float *)pairs[i].b);
    }
}

static void write_native(const struct peft_fixture *f, const char *path, unsigned targets,
                         int32_t r, bool mixed, enum loco_type type)
{
    write_native_sha(f, path, targets, r, mixed, type, true);
}

/* A copy of the base with string keys set (keys[i] = values[i]). */
static void write_base_with(const struct peft_fixture *f, const char *out, const char *const *keys,
                            const char *const *values, int n)
{
    struct loco_gguf *g = loco_gguf_open(f->base_path);
    assert_non_null(g);
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    for (int64_t i = 0; i < loco_gguf_n_kv(g); i++)
        assert_int_equal(loco_gguf_writer_copy_kv(w, g, i), LOCO_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(loco_gguf_writer_set_str(w, keys[i], values[i]), LOCO_OK);
    for (int64_t i = 0; i < loco_gguf_n_tensors(g); i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        assert_int_equal(
            loco_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data), LOCO_OK);
    }
    assert_int_equal(loco_gguf_writer_write(w, out), LOCO_OK);
    loco_gguf_writer_free(w);
    loco_gguf_close(g);
}

/* base_model_name_or_path when the caller gives none: the Hugging Face
 * repository the base GGUF records, a huggingface.co source URL, else the
 * adapter's locollm.base.name. */
static void test_export_base_model_name(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char adapter[2048], base[2048], out[2048];
    join(adapter, sizeof adapter, f->dir, "no-sha.gguf"); /* loads on any base of these shapes */
    write_native_sha(f, adapter, LOCO_LORA_TARGET_BIT(LOCO_LORA_V), 2, false, LOCO_TYPE_F32, false);
    static const struct {
        const char *keys[2], *values[2];
        int n;
        const char *want;
    } cases[] = {
        {{"general.source.huggingface.repository", "general.source.url"},
         {"karpathy/tinyllamas", "https://huggingface.co/other/one"},
         2,
         "karpathy/tinyllamas"},
        {{"general.source.url"},
         {"https://huggingface.co/karpathy/tinyllamas"},
         1,
         "karpathy/tinyllamas"},
        {{"general.source.url"}, {"https://example.com/stories.gguf"}, 1, "stories-base"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        join(base, sizeof base, f->dir, "sourced-base.gguf");
        write_base_with(f, base, cases[i].keys, cases[i].values, cases[i].n);
        struct loco_model *m = load_f32act(base);
        join(out, sizeof out, f->dir, "sourced");
        struct loco_peft_export_params p = loco_peft_export_default_params();
        p.overwrite = true;
        struct loco_peft_export_result res;
        if (loco_peft_export(adapter, m, out, &p, &res) != LOCO_OK)
            fail_msg("export: %s", loco_error_message());
        assert_string_equal(res.base_model, cases[i].want);
        loco_model_free(m);
    }
}

/* lora_b of blk.0.<target> in a GGUF and in a PEFT folder, as f32 [n_out][R]. */
static float *gguf_b(const char *path, enum loco_lora_target t, int64_t *n)
{
    char name[128];
    snprintf(name, sizeof name, "blk.0.%s.weight.lora_b", loco_lora_target_tensor(t));
    struct loco_gguf *g = loco_gguf_open(path);
    const struct loco_gguf_tensor *x = loco_gguf_find_tensor(g, name);
    assert_non_null(x);
    *n = x->ne[0] * x->ne[1];
    float *v = malloc((size_t)*n * sizeof *v);
    assert_non_null(v);
    for (int64_t r = 0; r < x->ne[1]; r++)
        assert_int_equal(loco_get_row(x->data, x->type, x->ne[0], r, v + r * x->ne[0]), LOCO_OK);
    loco_gguf_close(g);
    return v;
}

static float *peft_b(const char *dir, enum loco_lora_target t, int64_t n)
{
    char path[2048], name[128];
    join(path, sizeof path, dir, "adapter_model.safetensors");
    snprintf(name, sizeof name, "base_model.model.model.layers.0.%s.lora_B.weight", peft_module(t));
    struct loco_safetensors *st = NULL;
    assert_int_equal(loco_safetensors_open(path, &st), LOCO_OK);
    const struct loco_st_tensor *x = loco_safetensors_find(st, name);
    assert_non_null(x);
    assert_int_equal(x->n_elements, n);
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    assert_int_equal(loco_safetensors_to_f32(st, x, v, (size_t)n), LOCO_OK);
    loco_safetensors_close(st);
    return v;
}

/* GGUF -> PEFT -> GGUF for an adapter LocoLLM wrote itself: q's B rows go
 * back to Hugging Face order (un-permuted), v's stay, and the import gives
 * the file back tensor for tensor. */
static void test_export_native(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char native[2048], again[2048], out[2048];
    unsigned targets = LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_V) |
                       LOCO_LORA_TARGET_BIT(LOCO_LORA_DOWN);
    join(native, sizeof native, f->dir, "native.gguf");
    write_native(f, native, targets, 2, false, LOCO_TYPE_F16);
    struct loco_peft_export_result res;
    export_as(f, native, "native", LOCO_PEFT_EXPORT_AS_STORED, out, sizeof out, &res);
    assert_int_equal(res.n_pairs, 3 * f->hp->n_layer);
    assert_int_equal(res.rank, 2);
    assert_true(res.lora_alpha == 16.0f && res.unpermuted_qk);
    assert_int_equal(res.targets, targets);
    assert_string_equal(res.base_model, "stories-base"); /* locollm.base.name */

    int64_t n;
    float *g = gguf_b(native, LOCO_LORA_Q, &n), *h = peft_b(out, LOCO_LORA_Q, n);
    assert_true(memcmp(g, h, (size_t)n * sizeof *g) != 0);
    assert_int_equal(loco_peft_unpermute_rows(g, n / 2, 2, f->hp->n_head), LOCO_OK);
    assert_memory_equal(g, h, (size_t)n * sizeof *g);
    free(g);
    free(h);
    g = gguf_b(native, LOCO_LORA_V, &n);
    h = peft_b(out, LOCO_LORA_V, n);
    assert_memory_equal(g, h, (size_t)n * sizeof *g);
    free(g);
    free(h);

    import_as(f, out, "native-again.gguf", LOCO_TYPE_F16, again, sizeof again);
    expect_same_tensors(native, again);
}

/* Without a base: an adapter that leaves q and k alone exports the same
 * folder as with one; a llama q adapter is refused (the head count). */
static void test_export_without_base(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char native[2048], with[2048], without[2048];
    join(native, sizeof native, f->dir, "vo.gguf");
    write_native(f, native,
                 LOCO_LORA_TARGET_BIT(LOCO_LORA_V) | LOCO_LORA_TARGET_BIT(LOCO_LORA_O) |
                     LOCO_LORA_TARGET_BIT(LOCO_LORA_UP),
                 3, false, LOCO_TYPE_F32);
    export_as(f, native, "vo-base", LOCO_PEFT_EXPORT_AS_STORED, with, sizeof with, NULL);
    join(without, sizeof without, f->dir, "vo-nobase");
    struct loco_peft_export_params p = loco_peft_export_default_params();
    struct loco_peft_export_result res;
    if (loco_peft_export(native, NULL, without, &p, &res) != LOCO_OK)
        fail_msg("export without base: %s", loco_error_message());
    assert_false(res.unpermuted_qk);
    static const char *files[] = {"adapter_model.safetensors", "adapter_config.json"};
    for (int i = 0; i < 2; i++) {
        char x[2048], y[2048];
        size_t nx = 0, ny = 0;
        join(x, sizeof x, with, files[i]);
        join(y, sizeof y, without, files[i]);
        char *tx = test_read_file(x, &nx), *ty = test_read_file(y, &ny);
        assert_true(tx && ty && nx == ny);
        assert_memory_equal(tx, ty, nx);
        free(tx);
        free(ty);
    }

    join(native, sizeof native, f->dir, "q-only.gguf");
    write_native(f, native, LOCO_LORA_TARGET_BIT(LOCO_LORA_Q), 2, false, LOCO_TYPE_F32);
    join(without, sizeof without, f->dir, "q-nobase");
    assert_int_equal(loco_peft_export(native, NULL, without, &p, NULL), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "head counts"));
    assert_int_equal(access(without, F_OK), -1);
}

/* A hand-made adapter file: layer 0 v with lora_a ([C, 4] in ne) stored as
 * a_type holding `first` then small values, and lora_b unless !with_b. */
static void write_raw(const struct peft_fixture *f, const char *path, enum loco_type a_type,
                      float first, bool with_b)
{
    int64_t n_in, n_out;
    loco_peft_target_shape(f->hp, LOCO_LORA_V, &n_in, &n_out);
    float a[4 * 256], b[256 * 4];
    assert_true(n_in <= 256 && n_out <= 256);
    for (int64_t i = 0; i < 4 * n_in; i++)
        a[i] = 0.01f * (float)(i % 17);
    for (int64_t i = 0; i < 4 * n_out; i++)
        b[i] = 0.02f * (float)(i % 13);
    a[0] = first;
    uint8_t qa[4 * 256 * 4];
    const struct loco_type_traits *tr = loco_type_traits(a_type);
    size_t row = loco_type_row_size(a_type, n_in);
    for (int r = 0; r < 4; r++)
        tr->from_float(a + r * n_in, qa + (size_t)r * row, n_in);
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    assert_int_equal(loco_gguf_writer_set_str(w, "general.architecture", "llama"), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "general.type", "adapter"), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_str(w, "adapter.type", "lora"), LOCO_OK);
    assert_int_equal(loco_gguf_writer_set_f32(w, "adapter.lora.alpha", 8.0f), LOCO_OK);
    int64_t ne_a[2] = {n_in, 4}, ne_b[2] = {4, n_out};
    assert_int_equal(
        loco_gguf_writer_add_tensor(w, "blk.0.attn_v.weight.lora_a", a_type, 2, ne_a, qa), LOCO_OK);
    if (with_b)
        assert_int_equal(
            loco_gguf_writer_add_tensor(w, "blk.0.attn_v.weight.lora_b", LOCO_TYPE_F32, 2, ne_b, b),
            LOCO_OK);
    assert_int_equal(loco_gguf_writer_write(w, path), LOCO_OK);
    loco_gguf_writer_free(w);
}

/* Export `gguf` (with `base`) into f->dir/<sub>: the status, a message
 * containing `needle`, and no folder made. */
static void expect_export_fails(const struct peft_fixture *f, const char *gguf,
                                const struct loco_model *base, const char *sub,
                                const struct loco_peft_export_params *p, int status,
                                const char *needle)
{
    char dir[2048];
    join(dir, sizeof dir, f->dir, sub);
    int rc = loco_peft_export(gguf, base, dir, p, NULL);
    if (rc != status || !strstr(loco_error_message(), needle))
        fail_msg("%s: got %s \"%s\"; wanted %s \"%s\"", sub, loco_status_name(rc),
                 loco_error_message(), loco_status_name(status), needle);
    assert_int_equal(access(dir, F_OK), -1);
}

static void test_export_refusals(void **state)
{
    struct peft_fixture *f = *state;
    if (!f->base)
        skip();
    char imp[2048], out[2048], path[2048];
    struct loco_peft_export_params p = loco_peft_export_default_params();
    import_as(f, f->peft, "ref.gguf", LOCO_TYPE_F16, imp, sizeof imp);

    /* a folder that is not empty needs overwrite, which keeps other files */
    export_as(f, imp, "busy", LOCO_PEFT_EXPORT_AS_STORED, out, sizeof out, NULL);
    join(path, sizeof path, out, "README.md");
    test_write_file(path, "mine");
    assert_int_equal(loco_peft_export(imp, f->base, out, &p, NULL), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "is not empty"));
    assert_non_null(strstr(loco_error_message(), "--force"));
    p.overwrite = true;
    assert_int_equal(loco_peft_export(imp, f->base, out, &p, NULL), LOCO_OK);
    assert_int_equal(access(path, F_OK), 0);
    p.overwrite = false;
    /* an empty folder is fine; a file is not a folder */
    join(out, sizeof out, f->dir, "empty");
    assert_int_equal(mkdir(out, 0755), 0);
    assert_int_equal(loco_peft_export(imp, f->base, out, &p, NULL), LOCO_OK);
    assert_int_equal(loco_peft_export(imp, f->base, imp, &p, NULL), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "is not a folder"));

    p.type = LOCO_TYPE_Q8_0;
    expect_export_fails(f, imp, f->base, "q8-out", &p, LOCO_ERR_INVALID, "not Q8_0");
    p.type = LOCO_PEFT_EXPORT_AS_STORED;
    /* not an adapter: the base model itself */
    expect_export_fails(f, f->base_path, NULL, "model", &p, LOCO_ERR_FORMAT,
                        "is not a LoRA adapter");
    expect_export_fails(f, f->base_path, f->base, "model2", &p, LOCO_ERR_FORMAT,
                        "is not an adapter");
    /* a quantized A: the loader does not dequantize, so neither does the export */
    join(path, sizeof path, f->dir, "q8.gguf");
    write_raw(f, path, LOCO_TYPE_Q8_0, 0.5f, true);
    expect_export_fails(f, path, NULL, "q8", &p, LOCO_ERR_UNSUPPORTED,
                        "stored as Q8_0; LocoLLM reads adapters stored as F32, F16 or BF16 only "
                        "and does not dequantize them");
    expect_export_fails(f, path, f->base, "q8b", &p, LOCO_ERR_FORMAT, "Q8_0");
    /* a value that is not finite; a missing half */
    join(path, sizeof path, f->dir, "inf.gguf");
    write_raw(f, path, LOCO_TYPE_F32, INFINITY, true);
    expect_export_fails(f, path, NULL, "inf", &p, LOCO_ERR_FORMAT, "must be finite");
    join(path, sizeof path, f->dir, "half.gguf");
    write_raw(f, path, LOCO_TYPE_F32, 0.5f, false);
    expect_export_fails(f, path, NULL, "half", &p, LOCO_ERR_FORMAT, "has lora_a but not lora_b");
    /* ranks that differ: one r in a PEFT config */
    join(path, sizeof path, f->dir, "mixed.gguf");
    write_native(f, path, LOCO_LORA_TARGET_BIT(LOCO_LORA_V), 2, true, LOCO_TYPE_F32);
    expect_export_fails(f, path, f->base, "mixed", &p, LOCO_ERR_UNSUPPORTED, "ranks 2 and 4");
    /* another base: the loader's sha256 check */
    join(path, sizeof path, f->dir, "other-base.gguf");
    write_merged(f, path, false, false, "another base");
    struct loco_model *m = load_f32act(path);
    expect_export_fails(f, imp, m, "other", &p, LOCO_ERR_FORMAT, "sha256");
    loco_model_free(m);
    expect_export_fails(f, "/nonexistent/a.gguf", NULL, "none", &p, LOCO_ERR_FORMAT,
                        "/nonexistent/a.gguf");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_good),
        cmocka_unit_test(test_st_empty_and_scalar),
        cmocka_unit_test(test_st_header_length),
        cmocka_unit_test(test_st_corrupt),
        cmocka_unit_test(test_st_dtypes),
        cmocka_unit_test(test_peft_config),
        cmocka_unit_test(test_peft_config_read),
        cmocka_unit_test(test_peft_names),
        cmocka_unit_test(test_peft_permute),
        cmocka_unit_test(test_peft_shapes),
        cmocka_unit_test(test_st_writer),
        cmocka_unit_test(test_peft_unpermute),
        cmocka_unit_test(test_peft_config_format),
    };
    const struct CMUnitTest import_tests[] = {
        cmocka_unit_test(test_import_matches_merged),
        cmocka_unit_test(test_import_refuses_other_base),
        cmocka_unit_test(test_import_refusals),
        cmocka_unit_test(test_import_default_path),
        cmocka_unit_test(test_export_round_trip),
        cmocka_unit_test(test_export_config),
        cmocka_unit_test(test_export_rslora),
        cmocka_unit_test(test_export_native),
        cmocka_unit_test(test_export_without_base),
        cmocka_unit_test(test_export_base_model_name),
        cmocka_unit_test(test_export_refusals),
    };
    int failed = cmocka_run_group_tests_name("safetensors and peft", tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("peft import and export on stories260K", import_tests,
                                          setup_fixture, teardown_fixture);
    return test_exit_status(failed);
}
