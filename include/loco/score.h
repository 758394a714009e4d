/*
 * loco/score.h - answer scorers for the evaluation harness.
 *
 * The harness runner generates an answer per benchmark item; these functions
 * turn (answer, gold) into a score. Each scorer reproduces the tool people
 * quote numbers from, so a LocoLLM figure can be set beside a published one:
 *
 *   GSM8K    lm-evaluation-harness's `gsm8k` task (lm_eval/tasks/gsm8k/
 *            gsm8k.yaml, version 3): the "strict-match" and "flexible-extract"
 *            regex filters, then its exact_match metric with
 *            regexes_to_ignore [",", "\$", "(?s).*#### ", "\.$"] and
 *            ignore_case. The gsm8k-cot variant's "The answer is N." filter
 *            is here too.
 *   ROUGE-L  Google's rouge-score package, RougeScorer(["rougeL"],
 *            use_stemmer=True): its tokenizer, NLTK's Porter stemmer in the
 *            default NLTK_EXTENSIONS mode (Porter 1980 plus NLTK's changes),
 *            and LCS precision, recall and F1 (Lin 2004, section 3.1).
 *   ARC      multiple choice answered in free text: the chosen label is
 *            pulled out of the answer ("The answer is B", "(B)", "B)", a lone
 *            "B", or the text of one choice) and compared to answerKey.
 *   exact    plain exact match with optional normalisation (case,
 *            whitespace, punctuation), for custom benchmark items.
 *   numeric  the answer's number ("#### N", else \boxed{N}, else the last
 *            number: GSM8K's own extraction) equals the reference's within
 *            a relative tolerance; "1,234", "$5", "50%", "3.50" read.
 *   regex    a custom pattern's capture group equals the reference.
 *
 * Strings are UTF-8. Every char * a function returns is malloc'd and the
 * caller frees it with free(); on failure such functions return NULL (or a
 * negative loco_status) with the message set (loco_error_message()). Inputs
 * are borrowed for the duration of the call only. Nothing here prints.
 */
#ifndef LOCO_SCORE_H
#define LOCO_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- exact match with normalisation ------------------------------------ */

/* Normalisation flags; both sides are always trimmed of leading and
 * trailing whitespace, whatever the flags. */
enum loco_norm_flags {
    LOCO_NORM_NONE = 0,
    LOCO_NORM_CASE = 1 << 0,        /* ASCII letters compared lower-case */
    LOCO_NORM_WHITESPACE = 1 << 1,  /* runs of whitespace become one space */
    LOCO_NORM_PUNCTUATION = 1 << 2, /* ASCII punctuation (Python's
                                       string.punctuation) is removed */
};

/* `s` normalised by `flags` (see enum loco_norm_flags). Punctuation is
 * removed before whitespace is collapsed, so "a , b" becomes "a b". Caller
 * frees. NULL on allocation failure or NULL input. */
char *loco_score_normalise(const char *s, uint32_t flags);

/* 1 when normalise(answer) == normalise(reference), 0 when not, a negative
 * loco_status on error. */
int loco_score_exact_match(const char *answer, const char *reference, uint32_t flags);

/* ---- regex extraction (lm-eval's RegexFilter) -------------------------- */

/* What lm-eval's "regex" filter followed by "take_first" does to one
 * response: find all non-overlapping matches of the PCRE2 `pattern` (as
 * Python's re.findall), take match number `group_select` (negative counts
 * from the end: -1 is the last), reduce it to the whole match when the
 * pattern has no groups, to group 1 when it has one, and to the first
 * non-empty group when it has several; then strip surrounding whitespace.
 * When nothing matches the result is a copy of `fallback`.
 * *out receives a malloc'd string the caller frees.
 * LOCO_ERR_INVALID for a pattern that does not compile (the message quotes
 * PCRE2's reason and the offset), LOCO_ERR_RANGE when there are matches but
 * fewer than |group_select|+1. */
int loco_score_regex_extract(const char *response, const char *pattern, int32_t group_select,
                             const char *fallback, char **out);

/* ---- GSM8K --------------------------------------------------------------- */

#define LOCO_GSM8K_INVALID "[invalid]" /* what a filter yields with no match */

enum loco_gsm8k_filter {
    LOCO_GSM8K_STRICT = 0,     /* "#### (\-?[0-9\.\,]+)", first match */
    LOCO_GSM8K_FLEXIBLE = 1,   /* "(-?[$0-9.,]{2,})|(-?[0-9]+)", last match */
    LOCO_GSM8K_STRICT_COT = 2, /* "The answer is (\-?[0-9\.\,]+).", first
                                  match (gsm8k-cot's strict-match) */
};

/* The filter's output for one response (before exact_match's own
 * normalisation), LOCO_GSM8K_INVALID when nothing matched. Caller frees. */
int loco_gsm8k_extract(const char *response, enum loco_gsm8k_filter filter, char **out);

/* exact_match's normalisation in gsm8k.yaml, applied in this order: delete
 * every ',' and '$', delete everything up to and including the last
 * "#### ", delete one '.' at the very end (or just before a final '\n', as
 * Python's `\.$` does), lower-case. Works on a gold answer_text ("...#### 18")
 * as on an extracted "18." alike. Caller frees; NULL on failure. */
char *loco_gsm8k_normalise(const char *s);

/* 1 when the filtered response equals the gold answer after normalisation,
 * 0 when not, a negative loco_status on error. `gold` may be the dataset's
 * `answer` ("18") or its full `answer_text` ("... #### 18"). */
int loco_gsm8k_score(const char *response, const char *gold, enum loco_gsm8k_filter filter);

/* ---- numbers in answers (GSM8K and the `numeric` scorer) ---------------- */

/* The rules that find an answer's number, tried in this order. GSM8K's
 * filters are two of them: strict-match is LOCO_NUMBER_HASHES alone,
 * flexible-extract is LOCO_NUMBER_LAST alone (loco_gsm8k_extract calls
 * loco_number_extract with one rule); the numeric scorer uses all three. */
enum loco_number_rule {
    LOCO_NUMBER_HASHES = 1 << 0, /* the first "#### N" (GSM8K's strict-match pattern) */
    LOCO_NUMBER_BOXED = 1 << 1,  /* the last \boxed{...} holding a number */
    LOCO_NUMBER_LAST = 1 << 2,   /* the last number in the text (flexible-extract's pattern) */
    LOCO_NUMBER_ALL = 7,
};

/* The text of the answer's number under `rules` (a set of enum
 * loco_number_rule), as the rule's pattern matched it ("$1,234." is
 * possible: loco_number_parse reads it), or LOCO_GSM8K_INVALID when no rule
 * finds one. *rule (may be NULL) receives the rule that found it, 0 for
 * none. Caller frees *out. */
int loco_number_extract(const char *response, uint32_t rules, char **out, uint32_t *rule);

/* Read a number written the way answers write them: surrounding spaces, a
 * sign, a leading "$" (or "£", "€"), thousands separators ("1,234"), a
 * trailing "%" or ".", decimals ("3.50"), a simple fraction "3/4". LaTeX
 * "\frac{a}{b}" and "\$" are read too. LOCO_ERR_FORMAT when the text is
 * not one number. */
int loco_number_parse(const char *text, double *value);

/* Equal within a relative tolerance: |a - b| <= rel_tol * max(|a|, |b|)
 * (and exactly equal at 0); so 3.50 == 3.5 and 1e-7 relative rounding
 * passes with rel_tol 1e-6. */
bool loco_number_equal(double a, double b, double rel_tol);

#define LOCO_NUMBER_REL_TOL 1e-6 /* the numeric scorer's tolerance */

/* The numeric scorer: 1 when the answer's number (loco_number_extract with
 * LOCO_NUMBER_ALL) equals the reference's (loco_number_parse, else the
 * reference's own extracted number, so a worked "... #### 18" works) within
 * LOCO_NUMBER_REL_TOL; 0 when it differs or the answer has none. `detail`
 * (may be NULL) receives what was extracted and by which rule. A negative
 * loco_status when the reference holds no number. */
int loco_score_numeric(const char *response, const char *reference, char *detail, size_t cap);

/* Check a pattern for the regex scorer: it must compile (PCRE2) and have
 * exactly one capture group. LOCO_ERR_INVALID with PCRE2's reason and
 * offset, or naming the group count. */
int loco_score_regex_check(const char *pattern);

/* The regex scorer: the pattern's capture group in its LAST match in the
 * response, normalised by `flags` (enum loco_norm_flags), equals the
 * normalised reference: 1; 0 when it differs or nothing matches. `detail`
 * (may be NULL) receives the captured text. LOCO_ERR_INVALID for a bad
 * pattern (loco_score_regex_check). */
int loco_score_regex_match(const char *response, const char *pattern, const char *reference,
                           uint32_t flags, char *detail, size_t cap);

/* One GSM8K record as ../shared/datasets/gsm8k/{train,test}.jsonl stores it. */
struct loco_gsm8k_example {
    char *id;
    char *question;
    char *answer_text; /* worked solution ending "#### <number>" */
    char *answer;      /* the number after "####", commas removed */
};

/* Read up to `max` records (0: all) from a GSM8K JSONL file into a new
 * array *out of *n examples; free with loco_gsm8k_examples_free. Errors
 * name the file, line and field. */
int loco_gsm8k_load(const char *path, size_t max, struct loco_gsm8k_example **out, size_t *n);
void loco_gsm8k_examples_free(struct loco_gsm8k_example *examples, size_t n);

/* lm-eval's gsm8k prompt: the first k of `shots` (the train split, in file
 * order, no seed) each as "Question: <q>\nAnswer: <answer_text>", joined and
 * followed by "\n\n", then "Question: <question>\nAnswer:". k = 0 gives the
 * bare zero-shot text. LOCO_ERR_RANGE (NULL) when k > n_shots. Caller frees. */
char *loco_gsm8k_fewshot_prompt(const struct loco_gsm8k_example *shots, size_t n_shots, size_t k,
                                const char *question);

/* The user message for a zero-shot chat model: an instruction to reason step
 * by step and finish with a line "#### <number>" (so that strict-match can
 * read it), then "Question: <question>". Caller frees. */
char *loco_gsm8k_chat_prompt(const char *question);

/* ---- Porter stemmer and ROUGE-L ---------------------------------------- */

/* NLTK's PorterStemmer().stem(word) in its default NLTK_EXTENSIONS mode:
 * ASCII lower-casing, NLTK's irregular forms (skies -> sky, dying -> die,
 * ...), words of 1-2 letters unchanged, then steps 1a-5b of Porter (1980)
 * with NLTK's changes (ies/ied on 4-letter words, y -> i after a consonant,
 * alli/fulli/logi in step 2, a 2-letter vc stem counts as *o). Writes the
 * NUL-terminated stem to out[cap]; returns its length, or LOCO_ERR_RANGE
 * when cap <= strlen(word) (a stem is never longer than its word). */
int loco_porter_stem(const char *word, char *out, size_t cap);

/* rouge-score's tokens of one text: lower-case (Python's str.lower(), of
 * which only U+0130 and U+212A map to ASCII), every character other than
 * a-z 0-9 becomes a separator, and with `stem` each token longer than 3
 * characters is Porter-stemmed. tok[i] points into `buf`; both belong to
 * the struct; free with loco_rouge_tokens_free. */
struct loco_rouge_tokens {
    char *buf;
    char **tok;
    size_t n;
};
int loco_rouge_tokenize(const char *text, bool stem, struct loco_rouge_tokens *out);
void loco_rouge_tokens_free(struct loco_rouge_tokens *t);

struct loco_rouge_score {
    double precision; /* LCS / candidate tokens */
    double recall;    /* LCS / reference tokens */
    double f1;        /* 2PR / (P + R); 0 when P + R = 0 */
};

/* ROUGE-L of `candidate` against `reference` (rouge-score's
 * score(target=reference, prediction=candidate)["rougeL"]); all zero when
 * either side has no tokens. Memory: two rows of (candidate tokens + 1). */
int loco_rouge_l(const char *reference, const char *candidate, bool stem,
                 struct loco_rouge_score *out);

/* ---- ARC-style multiple choice ----------------------------------------- */

struct loco_mc_choice {
    const char *label; /* "A".."E" or "1".."5": one ASCII letter or digit */
    const char *text;
};

/* The question and labelled choices as a prompt:
 *   "Question: <question>\n<label>. <text>\n...Answer with the label of the
 *   correct choice (A, B, C or D).\nAnswer:"
 * LOCO_ERR_INVALID (NULL) for an empty choice list or a label that is not
 * one letter or digit. Caller frees. */
char *loco_mc_prompt(const char *question, const struct loco_mc_choice *choices, size_t n);

/* Index of the choice a free-text answer picks, tried in this order:
 *   1. the last explicit statement: "answer is B", "Answer: (B)",
 *      "answer is option B", "correct choice is B)" (any case for the words,
 *      the label as written in `choices`);
 *   2. a label opening the answer: "B", "B.", "B)", "(B)", "B:" ...;
 *   3. the whole answer being one choice's text (as written first, then
 *      ignoring case and whitespace runs);
 *   4. the first label in parentheses "(B)", or followed by ")" after a
 *      space or at the start, anywhere;
 *   5. the text of a choice appearing in the answer (case and punctuation
 *      ignored; when several do, the longest);
 * LOCO_ERR_NOT_FOUND (with a message) when none applies, LOCO_ERR_INVALID
 * for bad choices. */
int loco_mc_extract(const char *answer, const struct loco_mc_choice *choices, size_t n);

/* 1 when loco_mc_extract picks the choice labelled `answer_key`, 0 when it
 * picks another or none, a negative loco_status on invalid input. */
int loco_mc_score(const char *answer, const struct loco_mc_choice *choices, size_t n,
                  const char *answer_key);

/* One ARC record ({"id","question","choices":[{"label","text"}],"answerKey"})
 * parsed from a JSONL line; free with loco_arc_item_free. */
struct loco_arc_item {
    char *id;
    char *question;
    char *answer_key;
    struct loco_mc_choice *choices; /* strings owned by the item */
    size_t n_choices;
};
int loco_arc_item_parse(const char *json_line, struct loco_arc_item *out);
void loco_arc_item_free(struct loco_arc_item *item);

#ifdef __cplusplus
}
#endif
#endif
