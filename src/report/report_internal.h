/*
 * report_internal.h - what the files of src/report share: escaping for
 * HTML and Markdown into a core/sbuf.h text buffer, number formatting, and the
 * evaluation record read into a struct (tolerant of missing fields).
 */
#ifndef LOCO_REPORT_INTERNAL_H
#define LOCO_REPORT_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/sbuf.h"
#include "loco/core.h"

/* ---- escaping into a text buffer (buf.c) ---------------------------------- */

/* Output larger than this is refused (a runaway record). Reports are
 * written into a core/sbuf.h buffer started as {.max = REPORT_MAX_OUTPUT}. */
#define REPORT_MAX_OUTPUT (256u << 20)

/* s with & < > " ' as entities (s NULL: nothing); report_html_cut stops
 * after max_chars characters (0: no limit) with an ellipsis (UTF-8 safe). */
void report_html(struct loco_sbuf *b, const char *s);
void report_html_cut(struct loco_sbuf *b, const char *s, size_t max_chars);
/* s for a Markdown table cell or a line of text: newlines and tabs become
 * spaces, Markdown punctuation (\ ` * _ [ ] | # ~) is backslash-escaped and
 * & < > become entities, so no text from a record can make markup; cut to
 * max_chars characters (0: no limit) with an ellipsis (UTF-8 safe). */
void report_md(struct loco_sbuf *b, const char *s, size_t max_chars);
/* The text (malloc'd; the buffer is given up), or NULL with a message that
 * says a report failed. */
char *report_buf_finish(struct loco_sbuf *b);

/* A number with `prec` decimals ("-" for NAN), a signed one ("+0.110"), a
 * p-value ("0.013", "3.2e-05") into buf; return buf. */
const char *report_num(char *buf, size_t cap, double v, int prec);
const char *report_signed(char *buf, size_t cap, double v, int prec);
const char *report_p(char *buf, size_t cap, double p);

/* ---- one document, two formats (doc.c) ------------------------------------ */

/* The reports are written once against this small interface and come out
 * as Markdown or as HTML. All text passed in is escaped for the format. */
struct report_doc {
    struct loco_sbuf *b;
    bool html;
    size_t col;        /* cells written in the current table row */
    const char *align; /* the current table's column alignments */
};

void doc_heading(struct report_doc *d, int level, const char *text);
void doc_text(struct report_doc *d, const char *s);
void doc_text_cut(struct report_doc *d, const char *s, size_t max_chars);
void doc_fmt(struct report_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Written as is: only for text made here from numbers (digits, signs, dots,
 * brackets, commas), never for text from a record. */
void doc_raw(struct report_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void doc_code(struct report_doc *d, const char *s, size_t max_chars); /* `s` / <code> */
void doc_strong(struct report_doc *d, const char *s);
/* PASS / FAIL, coloured in HTML. */
void doc_badge(struct report_doc *d, bool ok, const char *s);
/* A verdict ("PASS", "FAIL", "uninformative") as a badge: green, red, grey. */
void doc_verdict(struct report_doc *d, const char *verdict);
void doc_para_begin(struct report_doc *d);
void doc_para_end(struct report_doc *d);
void doc_item_begin(struct report_doc *d); /* a bullet; lists end with doc_list_end */
void doc_item_end(struct report_doc *d);
void doc_list_begin(struct report_doc *d);
void doc_list_end(struct report_doc *d);
/* A table with the given header cells; align has one letter per column,
 * 'l' or 'r'. Then per row: doc_cell() before each cell, doc_row_end(). */
void doc_table_begin(struct report_doc *d, const char *const *heads, const char *align);
void doc_cell(struct report_doc *d);
void doc_row_end(struct report_doc *d);
void doc_table_end(struct report_doc *d);

/* ---- the record (record.c) ------------------------------------------------ */

struct report_item {
    const char *id, *prompt;
    const char *output[2]; /* base, adapter ("" when absent) */
    double score[2];       /* NAN when absent */
    const char *detail[2];
};

struct report_bench {
    const char *name, *metric, *test, *gate, *why;
    double n_items;
    double base, adapter, diff, p;
    double base_ci[2], adapter_ci[2], diff_ci[2];
    const char *effect_name; /* "h" (Cohen's h) or "d_z"; NULL when absent */
    double effect;
    double power10, power5;
    double pairs[4]; /* both right, base only, adapter only, both wrong (NAN: absent) */
    double bootstrap_p, rank_biserial;
    bool has_passed, passed, in_domain;
    /* "PASS", "FAIL" or "uninformative" (the record's "verdict", else from
     * "passed"); NULL when the record has neither */
    const char *verdict;
    double gen_ms[2], cached[2], tokens[2];
    const cJSON *items; /* array or NULL */
    const cJSON *json;  /* the whole object (for fields this version does not know) */
};

struct report_record {
    cJSON *root;
    const char *version, *date;
    const char *model_path, *model_sha;
    const char *adapter_name, *adapter_domain, *adapter_path, *adapter_sha;
    double scale;
    double ni_margin; /* settings.non_inferiority_margin, 0.05 when absent */
    const cJSON *settings;
    /* what the two sides are called: "base" and "adapter", or for a
     * strategy run (settings.strategy) "plain" and the strategy's name */
    const char *side[2];
    struct report_bench *b;
    size_t n;
};

/* Parse and check the record text; LOCO_ERR_FORMAT saying what is wrong
 * (not JSON and where, not an evaluation record, no benchmarks list). */
int report_record_parse(const char *json, struct report_record *out);
void report_record_free(struct report_record *r);
/* Read one item of b (i < the item count); false when it is not an object. */
bool report_record_item(const struct report_bench *b, size_t i, struct report_item *out);
size_t report_record_n_items(const struct report_bench *b);
/* True for a key this version renders itself (record or benchmark level). */
bool report_known_record_key(const char *key);
bool report_known_bench_key(const char *key);
/* A compact JSON text of v for "Other fields", cut to max chars (malloc'd). */
char *report_json_brief(const cJSON *v, size_t max);

/* ---- charts (svg.c) ------------------------------------------------------- */

/* A tick step of 1, 2, 2.5 or 5 times a power of ten giving at most
 * max_ticks steps over range. */
double svg_nice_step(double range, int max_ticks);
/* <svg ...> with xmlns, size, an escaped <title> and a white background. */
void svg_open(struct loco_sbuf *b, double w, double h, const char *title);
/* <text> with escaped content (cut to max_chars; 0: all); extra: more
 * attributes made here (never record text), or NULL. */
void svg_text(struct loco_sbuf *b, double x, double y, const char *anchor, const char *extra,
              const char *text, size_t max_chars);
void svg_line(struct loco_sbuf *b, double x1, double y1, double x2, double y2, const char *stroke,
              double width, const char *extra);

/* Bar chart: base vs adapter per benchmark with CI whiskers. */
void report_svg_bars(struct loco_sbuf *b, const struct report_record *r);
/* Forest plot of the paired differences with the zero line and -margin. */
void report_svg_forest(struct loco_sbuf *b, const struct report_record *r);

/* Shared CSS of the HTML pages. */
extern const char report_css[];

#endif
