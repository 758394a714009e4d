/*
 * arc.c - multiple-choice questions (ARC) answered in free text: the
 * prompt, the label the answer picks, and the ARC record format.
 *
 * A model asked "Answer with the label of the correct choice" still answers
 * in many shapes: "B", "(B)", "B) breathing mask", "The answer is B.",
 * "Answer: **B**", or just "a breathing mask". loco_mc_extract tries the
 * most explicit shape first (see score.h for the order). Labels are matched
 * case-sensitively, so the article "a" is never read as label "A".
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/score/score_internal.h"
#include "loco/score.h"

/* ---- choices ---------------------------------------------------------- */

static int check_choices(const struct loco_mc_choice *choices, size_t n)
{
    if (!choices || n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "multiple choice: no choices given");
    if (n > 36)
        return loco_error_set(LOCO_ERR_RANGE, "multiple choice: %zu choices, at most 36", n);
    for (size_t i = 0; i < n; i++) {
        const char *l = choices[i].label;
        if (!l || !score_is_alnum((unsigned char)l[0]) || l[1] != '\0' || !choices[i].text)
            return loco_error_set(LOCO_ERR_INVALID,
                                  "multiple choice: choice %zu: label \"%s\" must be one ASCII "
                                  "letter or digit, with a text",
                                  i, l ? l : "(null)");
        for (size_t j = 0; j < i; j++)
            if (choices[j].label[0] == l[0])
                return loco_error_set(LOCO_ERR_INVALID,
                                      "multiple choice: label \"%s\" appears twice", l);
    }
    return LOCO_OK;
}

static int index_of_label(const struct loco_mc_choice *choices, size_t n, char label)
{
    for (size_t i = 0; i < n; i++)
        if (choices[i].label[0] == label)
            return (int)i;
    return -1;
}

/* ---- prompt ----------------------------------------------------------- */

char *loco_mc_prompt(const char *question, const struct loco_mc_choice *choices, size_t n)
{
    if (!question) {
        loco_error_set(LOCO_ERR_INVALID, "multiple choice prompt: NULL question");
        return NULL;
    }
    if (check_choices(choices, n) < 0)
        return NULL;
    struct loco_sbuf b = {0};
    loco_sbuf_adds(&b, "Question: ");
    loco_sbuf_adds(&b, question);
    loco_sbuf_adds(&b, "\n");
    for (size_t i = 0; i < n; i++) {
        loco_sbuf_adds(&b, choices[i].label);
        loco_sbuf_adds(&b, ". ");
        loco_sbuf_adds(&b, choices[i].text);
        loco_sbuf_adds(&b, "\n");
    }
    loco_sbuf_adds(&b, "Answer with the label of the correct choice (");
    for (size_t i = 0; i < n; i++) {
        loco_sbuf_adds(&b, choices[i].label);
        loco_sbuf_adds(&b, i + 2 < n ? ", " : i + 2 == n ? " or " : "");
    }
    loco_sbuf_adds(&b, ").\nAnswer:");
    return loco_sbuf_finish(&b);
}

/* ---- extraction by pattern -------------------------------------------- */

/* The patterns, with %s standing for the label class "[ABCD]". */
static const char EXPLICIT[] =
    "(?i:\\b(?:answer|choice|option)(?:\\s+(?:is|would\\s+be|will\\s+be|should\\s+be))?)"
    "\\s*[:\\-]?\\s*(?i:(?:option|choice)\\s+)?[*\"']*\\(?(%s)\\)?[*\"']*(?![A-Za-z0-9])";
static const char OPENING[] =
    "\\A[\\s*\"']*(?:\\((%s)\\)|(%s)(?=[.):]|[*\"']*[ \\t]*(?:\\r?\\n|\\z)))";
static const char ANYWHERE[] = "\\((%s)\\)|(?:^|(?<=[\\s*\"'\\[]))(%s)\\)";

/* The label class of the choices, e.g. "[ABCD]". */
static void label_class(const struct loco_mc_choice *choices, size_t n, char *cls)
{
    size_t k = 0;
    cls[k++] = '[';
    for (size_t i = 0; i < n; i++)
        cls[k++] = choices[i].label[0];
    cls[k++] = ']';
    cls[k] = '\0';
}

/* The choice picked by `pattern` (its "%s" holes filled with the class):
 * the first match's or, with `last`, the last match's first set group, in
 * *found; -1 when nothing matches. Returns a loco_status. */
static int find_label(const char *answer, const char *pattern, const char *cls, bool last,
                      const struct loco_mc_choice *choices, size_t n, int *found)
{
    char re[512];
    int w = snprintf(re, sizeof re, pattern, cls, cls);
    if (w < 0 || (size_t)w >= sizeof re)
        return loco_error_set(LOCO_ERR_RANGE, "multiple choice: pattern too long");
    struct score_regex r;
    int rc = score_regex_open(&r, re, 0, answer);
    if (rc < 0)
        return rc;
    const size_t *ov;
    uint32_t pairs;
    while ((rc = score_regex_next(&r, &ov, &pairs)) == 1) {
        for (uint32_t g = 1; g < pairs; g++) {
            if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g]) {
                *found = index_of_label(choices, n, answer[ov[2 * g]]);
                break;
            }
        }
        if (*found >= 0 && !last)
            break;
    }
    score_regex_close(&r);
    return rc < 0 ? rc : LOCO_OK;
}

/* ---- extraction by choice text ---------------------------------------- */

/* The choice whose text the whole answer is, in *found: first compared as
 * written, then with case and whitespace runs ignored (so "100% rr" and
 * "100% Rr" stay apart when one is written exactly). */
static int find_whole_text(const char *answer, const struct loco_mc_choice *choices, size_t n,
                           int *found)
{
    static const uint32_t passes[] = {LOCO_NORM_NONE, LOCO_NORM_CASE | LOCO_NORM_WHITESPACE};
    for (size_t p = 0; p < 2 && *found < 0; p++) {
        char *a = loco_score_normalise(answer, passes[p]);
        if (!a)
            return LOCO_ERR_NOMEM;
        for (size_t i = 0; i < n && *found < 0; i++) {
            char *c = loco_score_normalise(choices[i].text, passes[p]);
            if (!c) {
                free(a);
                return LOCO_ERR_NOMEM;
            }
            if (c[0] && strcmp(a, c) == 0)
                *found = (int)i;
            free(c);
        }
        free(a);
    }
    return LOCO_OK;
}

/* Lower-case, punctuation and whitespace runs to one space, padded with a
 * space at each end so " word " finds whole words only. */
static char *text_key(const char *s)
{
    char *t = loco_score_normalise(s, LOCO_NORM_CASE | LOCO_NORM_WHITESPACE);
    if (!t)
        return NULL;
    for (char *p = t; *p; p++)
        if (score_is_punct((unsigned char)*p))
            *p = ' ';
    char *u = loco_score_normalise(t, LOCO_NORM_WHITESPACE);
    free(t);
    if (!u)
        return NULL;
    struct loco_sbuf b = {0};
    loco_sbuf_adds(&b, " ");
    loco_sbuf_adds(&b, u);
    loco_sbuf_adds(&b, " ");
    free(u);
    return loco_sbuf_finish(&b);
}

/* The longest choice text found in the answer, in *found (-1: none).
 * Returns a loco_status. */
static int find_text(const char *answer, const struct loco_mc_choice *choices, size_t n, int *found)
{
    char *key = text_key(answer);
    if (!key)
        return LOCO_ERR_NOMEM;
    size_t best_len = 0;
    for (size_t i = 0; i < n; i++) {
        char *c = text_key(choices[i].text);
        if (!c) {
            free(key);
            return LOCO_ERR_NOMEM;
        }
        size_t len = strlen(c);
        if (len > 2 && len > best_len && strstr(key, c)) { /* "  " is an empty text */
            *found = (int)i;
            best_len = len;
        }
        free(c);
    }
    free(key);
    return LOCO_OK;
}

/* ---- entry points ----------------------------------------------------- */

int loco_mc_extract(const char *answer, const struct loco_mc_choice *choices, size_t n)
{
    if (!answer)
        return loco_error_set(LOCO_ERR_INVALID, "multiple choice: NULL answer");
    int rc = check_choices(choices, n);
    if (rc < 0)
        return rc;
    char cls[40];
    label_class(choices, n, cls);
    int found = -1;
    rc = find_label(answer, EXPLICIT, cls, true, choices, n, &found);
    if (rc == LOCO_OK && found < 0)
        rc = find_label(answer, OPENING, cls, false, choices, n, &found);
    if (rc == LOCO_OK && found < 0)
        rc = find_whole_text(answer, choices, n, &found);
    if (rc == LOCO_OK && found < 0)
        rc = find_label(answer, ANYWHERE, cls, false, choices, n, &found);
    if (rc == LOCO_OK && found < 0)
        rc = find_text(answer, choices, n, &found);
    if (rc < 0)
        return rc;
    if (found < 0)
        return loco_error_set(
            LOCO_ERR_NOT_FOUND,
            "multiple choice: no label (%s) or choice text in the answer \"%.60s\"", cls, answer);
    return found;
}

int loco_mc_score(const char *answer, const struct loco_mc_choice *choices, size_t n,
                  const char *answer_key)
{
    if (!answer_key)
        return loco_error_set(LOCO_ERR_INVALID, "multiple choice: NULL answer key");
    int i = loco_mc_extract(answer, choices, n);
    if (i == LOCO_ERR_NOT_FOUND)
        return 0;
    if (i < 0)
        return i;
    return strcmp(choices[i].label, answer_key) == 0;
}

/* ---- ARC records ------------------------------------------------------ */

void loco_arc_item_free(struct loco_arc_item *item)
{
    if (!item)
        return;
    free(item->id);
    free(item->question);
    free(item->answer_key);
    for (size_t i = 0; i < item->n_choices; i++) {
        free((char *)item->choices[i].label);
        free((char *)item->choices[i].text);
    }
    free(item->choices);
    memset(item, 0, sizeof *item);
}

static char *string_field(const cJSON *obj, const char *field, const char *where)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!cJSON_IsString(v)) {
        loco_error_set(LOCO_ERR_FORMAT, "ARC record%s: field \"%s\" is missing or not a string",
                       where, field);
        return NULL;
    }
    return score_strdup(v->valuestring);
}

static int parse_choices(const cJSON *arr, struct loco_arc_item *item)
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "ARC record %s: field \"choices\" must be a non-empty array",
                              item->id);
    size_t n = (size_t)cJSON_GetArraySize(arr);
    item->choices = calloc(n, sizeof *item->choices);
    if (!item->choices)
        return loco_error_set(LOCO_ERR_NOMEM, "ARC record %s: out of memory", item->id);
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        struct loco_mc_choice *ch = &item->choices[item->n_choices++];
        ch->label = string_field(c, "label", " choice");
        ch->text = ch->label ? string_field(c, "text", " choice") : NULL;
        if (!ch->text)
            return LOCO_ERR_FORMAT;
    }
    return check_choices(item->choices, item->n_choices);
}

int loco_arc_item_parse(const char *json_line, struct loco_arc_item *out)
{
    if (!json_line || !out)
        return loco_error_set(LOCO_ERR_INVALID, "ARC record: NULL line or output");
    memset(out, 0, sizeof *out);
    cJSON *j = cJSON_Parse(json_line);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return loco_error_set(LOCO_ERR_FORMAT, "ARC record: not a JSON object");
    }
    int rc = LOCO_ERR_FORMAT;
    out->id = string_field(j, "id", "");
    out->question = out->id ? string_field(j, "question", "") : NULL;
    out->answer_key = out->question ? string_field(j, "answerKey", "") : NULL;
    if (out->answer_key)
        rc = parse_choices(cJSON_GetObjectItemCaseSensitive(j, "choices"), out);
    if (rc == LOCO_OK && (strlen(out->answer_key) != 1 ||
                          index_of_label(out->choices, out->n_choices, out->answer_key[0]) < 0))
        rc =
            loco_error_set(LOCO_ERR_FORMAT, "ARC record %s: answerKey \"%s\" is not a choice label",
                           out->id, out->answer_key);
    cJSON_Delete(j);
    if (rc != LOCO_OK) {
        loco_error_prefix("%s", "parsing an ARC JSONL line");
        loco_arc_item_free(out);
    }
    return rc;
}
