/*
 * serve-page.h - the web page `loco serve` answers at GET /.
 *
 * web/index.html (one self-contained file: HTML, CSS and JavaScript, no
 * external URL) is compiled into the program by cmake/embed.cmake, which
 * generates build/generated/loco_web_index.c from it at build time; an
 * edit of the page rebuilds it. docs/web.md describes the page.
 */
#ifndef LOCO_CLI_SERVE_PAGE_H
#define LOCO_CLI_SERVE_PAGE_H

#include <stddef.h>

/* The bytes of web/index.html (UTF-8), followed by one NUL that the length
 * does not count; static, never freed. */
extern const unsigned char loco_web_index[];
extern const size_t loco_web_index_len;

#endif
