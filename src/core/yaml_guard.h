/*
 * core/yaml_guard.h - limits on a YAML text, checked before it is loaded.
 *
 * libyaml's document loader trusts its input: nested aliases ("billion
 * laughs") expand exponentially in whoever walks the tree, and very deep
 * nesting takes quadratic time before any depth check of ours can run. This
 * check streams the parser's events once, stops at the first event that
 * breaks a limit, and names the file and line. It allocates a little for
 * the anchor table only, so a hostile file costs milliseconds and kilobytes.
 */
#ifndef LOCO_CORE_YAML_GUARD_H
#define LOCO_CORE_YAML_GUARD_H

#include <stddef.h>
#include <stdint.h>

struct yaml_guard_limits {
    size_t max_bytes;     /* the whole text */
    uint32_t max_depth;   /* nested mappings and sequences */
    uint32_t max_aliases; /* *alias uses */
    uint32_t max_anchors; /* &anchor definitions */
    uint64_t max_nodes;   /* nodes after every alias is expanded */
};

/* Check text (len bytes) named `file` in messages against `lim`: one
 * document only (a second "---" document is an error, not ignored), no
 * alias to an unknown anchor or to an anchor still open (a cycle), and the
 * limits above. Returns LOCO_OK, or LOCO_ERR_FORMAT / LOCO_ERR_RANGE with a
 * message "file:line: ..." set; YAML syntax errors are left to the loader
 * (LOCO_OK up to the bad spot). */
int loco_yaml_guard_check(const char *text, size_t len, const char *file,
                          const struct yaml_guard_limits *lim);

#endif
