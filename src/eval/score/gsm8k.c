/*
 * gsm8k.c - GSM8K as lm-evaluation-harness scores it (lm_eval/tasks/gsm8k/
 * gsm8k.yaml, version 3, and gsm8k-cot.yaml for the "The answer is" filter):
 *
 *   response --regex filter--> "18." --exact_match normalisation--> "18"
 *   gold     --------------------------exact_match normalisation--> "18"
 *
 * and the prompts: lm-eval's "Question: ...\nAnswer:" few-shot text with the
 * first k training examples, and a zero-shot chat instruction.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "eval/score/score_internal.h"
#include "loco/score.h"

/* ---- extraction and scoring ------------------------------------------ */

int loco_gsm8k_extract(const char *response, enum loco_gsm8k_filter filter, char **out)
{
    /* strict-match and flexible-extract are the numeric scorer's "####" and
     * "last number" rules (numeric.c), each alone */
    switch (filter) {
    case LOCO_GSM8K_STRICT:
        return loco_number_extract(response, LOCO_NUMBER_HASHES, out, NULL);
    case LOCO_GSM8K_FLEXIBLE:
        return loco_number_extract(response, LOCO_NUMBER_LAST, out, NULL);
    case LOCO_GSM8K_STRICT_COT:
        return loco_score_regex_extract(response, "The answer is (\\-?[0-9\\.\\,]+).", 0,
                                        LOCO_GSM8K_INVALID, out);
    }
    return loco_error_set(LOCO_ERR_INVALID, "gsm8k: unknown filter %d", (int)filter);
}

/* regexes_to_ignore [",", "\$", "(?s).*#### ", "\.$"], then ignore_case. */
char *loco_gsm8k_normalise(const char *s)
{
    if (!s) {
        loco_error_set(LOCO_ERR_INVALID, "gsm8k normalise: NULL string");
        return NULL;
    }
    char *out = malloc(strlen(s) + 1);
    if (!out) {
        loco_error_set(LOCO_ERR_NOMEM, "gsm8k normalise: out of memory");
        return NULL;
    }
    size_t n = 0;
    for (const char *p = s; *p; p++)
        if (*p != ',' && *p != '$')
            out[n++] = *p;
    out[n] = '\0';
    /* "(?s).*#### " is greedy: it eats through the LAST "#### " */
    const char *cut = NULL;
    for (const char *p = strstr(out, "#### "); p; p = strstr(p + 1, "#### "))
        cut = p + 5;
    if (cut) {
        n -= (size_t)(cut - out);
        memmove(out, cut, n + 1);
    }
    /* "\.$": '$' also matches just before a final newline */
    if (n >= 1 && out[n - 1] == '.') {
        out[--n] = '\0';
    } else if (n >= 2 && out[n - 1] == '\n' && out[n - 2] == '.') {
        out[n - 2] = '\n';
        out[--n] = '\0';
    }
    for (size_t i = 0; i < n; i++)
        out[i] = score_lower(out[i]);
    return out;
}

int loco_gsm8k_score(const char *response, const char *gold, enum loco_gsm8k_filter filter)
{
    if (!response || !gold)
        return loco_error_set(LOCO_ERR_INVALID, "gsm8k score: NULL response or gold");
    char *got = NULL;
    int rc = loco_gsm8k_extract(response, filter, &got);
    if (rc < 0)
        return rc;
    char *a = loco_gsm8k_normalise(got);
    char *b = loco_gsm8k_normalise(gold);
    rc = (a && b) ? strcmp(a, b) == 0 : LOCO_ERR_NOMEM;
    free(got);
    free(a);
    free(b);
    return rc;
}

/* ---- the data set ----------------------------------------------------- */

void loco_gsm8k_examples_free(struct loco_gsm8k_example *examples, size_t n)
{
    if (!examples)
        return;
    for (size_t i = 0; i < n; i++) {
        free(examples[i].id);
        free(examples[i].question);
        free(examples[i].answer_text);
        free(examples[i].answer);
    }
    free(examples);
}

static char *json_string(const cJSON *obj, const char *field, const char *path, size_t line)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!cJSON_IsString(v)) {
        loco_error_set(LOCO_ERR_FORMAT, "%s:%zu: field \"%s\" is missing or not a string", path,
                       line, field);
        return NULL;
    }
    return score_strdup(v->valuestring);
}

static int parse_example(const char *text, const char *path, size_t line,
                         struct loco_gsm8k_example *ex)
{
    cJSON *j = cJSON_Parse(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return loco_error_set(LOCO_ERR_FORMAT, "%s:%zu: not a JSON object", path, line);
    }
    ex->id = json_string(j, "id", path, line);
    ex->question = ex->id ? json_string(j, "question", path, line) : NULL;
    ex->answer_text = ex->question ? json_string(j, "answer_text", path, line) : NULL;
    ex->answer = ex->answer_text ? json_string(j, "answer", path, line) : NULL;
    cJSON_Delete(j);
    return ex->answer ? LOCO_OK : LOCO_ERR_FORMAT;
}

int loco_gsm8k_load(const char *path, size_t max, struct loco_gsm8k_example **out, size_t *n)
{
    if (!path || !out || !n)
        return loco_error_set(LOCO_ERR_INVALID, "gsm8k load: NULL argument");
    *out = NULL;
    *n = 0;
    char *text;
    int rc = loco_read_file(path, SCORE_MAX_FILE, &text, NULL);
    if (rc == LOCO_ERR_NOT_FOUND)
        rc = LOCO_ERR_IO; /* documented: any file that cannot be read */
    if (rc < 0)
        return rc;
    size_t cap = 0, line_no = 0;
    char *cursor = text, *line;
    while (rc == LOCO_OK && (max == 0 || *n < max) && (line = score_next_line(&cursor))) {
        line_no++;
        if (line[strspn(line, " \t\r")] == '\0')
            continue; /* blank line */
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            struct loco_gsm8k_example *e = realloc(*out, cap * sizeof *e);
            if (!e) {
                rc = loco_error_set(LOCO_ERR_NOMEM, "%s: out of memory at line %zu", path, line_no);
                break;
            }
            *out = e;
        }
        memset(&(*out)[*n], 0, sizeof **out);
        rc = parse_example(line, path, line_no, &(*out)[*n]);
        (*n)++;
    }
    free(text);
    if (rc != LOCO_OK) {
        loco_gsm8k_examples_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- prompts --------------------------------------------------------- */

char *loco_gsm8k_fewshot_prompt(const struct loco_gsm8k_example *shots, size_t n_shots, size_t k,
                                const char *question)
{
    if (!question || (k > 0 && !shots)) {
        loco_error_set(LOCO_ERR_INVALID, "gsm8k prompt: NULL question or shots");
        return NULL;
    }
    if (k > n_shots) {
        loco_error_set(LOCO_ERR_RANGE, "gsm8k prompt: %zu shots asked for, %zu available", k,
                       n_shots);
        return NULL;
    }
    /* lm-eval: target_delimiter " ", fewshot_delimiter "\n\n" */
    struct loco_sbuf b = {0};
    for (size_t i = 0; i < k; i++) {
        loco_sbuf_adds(&b, "Question: ");
        loco_sbuf_adds(&b, shots[i].question);
        loco_sbuf_adds(&b, "\nAnswer: ");
        loco_sbuf_adds(&b, shots[i].answer_text);
        loco_sbuf_adds(&b, "\n\n");
    }
    loco_sbuf_adds(&b, "Question: ");
    loco_sbuf_adds(&b, question);
    loco_sbuf_adds(&b, "\nAnswer:");
    return loco_sbuf_finish(&b);
}

char *loco_gsm8k_chat_prompt(const char *question)
{
    if (!question) {
        loco_error_set(LOCO_ERR_INVALID, "gsm8k chat prompt: NULL question");
        return NULL;
    }
    struct loco_sbuf b = {0};
    loco_sbuf_adds(&b, "Solve the following math problem step by step. At the end, write the final "
                       "answer as a number on its own line in the form \"#### <number>\".\n\n"
                       "Question: ");
    loco_sbuf_adds(&b, question);
    return loco_sbuf_finish(&b);
}
