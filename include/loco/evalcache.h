/*
 * loco/evalcache.h - the evaluation's generation cache (SQLite).
 *
 * Every generation an evaluation makes is stored under a key that names
 * everything that decides it: the base model file's sha256, the adapter set
 * (each adapter's file sha256 and scale), the decoding settings and the exact
 * prompt. A repeated evaluation reads its answers back instead of generating
 * them; a killed one finds every answer it finished (each is committed on
 * its own) and generates only the rest. Several processes may share a cache
 * file: writes wait for each other (WAL mode, busy timeout).
 */
#ifndef LOCO_EVALCACHE_H
#define LOCO_EVALCACHE_H

#include <stdint.h>

#include "loco/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct loco_evalcache; /* opaque */

/* Open (creating it and its table if needed) the cache at `path`. A file
 * that is not a LocoLLM cache is refused with a message naming it. */
int loco_evalcache_open(const char *path, struct loco_evalcache **out);
void loco_evalcache_close(struct loco_evalcache *c);

/* sha256 (hex) of the four parts, each length-prefixed so that no two
 * different tuples share a key. */
int loco_evalcache_key(const char *model_sha256, const char *adapters, const char *settings,
                       const char *prompt, char key_out[65]);

struct loco_evalcache_entry {
    char *output;     /* malloc'd answer text */
    int32_t n_tokens; /* generated tokens */
    double ms;        /* time it took when it was generated */
};

/* LOCO_OK and *e filled (free e->output), or LOCO_ERR_NOT_FOUND. */
int loco_evalcache_get(struct loco_evalcache *c, const char *key,
                       struct loco_evalcache_entry *e);
/* Store (or replace) one answer; committed before returning. The parts of
 * the key are stored beside it so that a cache can be audited. */
int loco_evalcache_put(struct loco_evalcache *c, const char *key, const char *model_sha256,
                       const char *adapters, const char *settings, const char *prompt,
                       const char *output, int32_t n_tokens, double ms);
/* Number of stored answers (negative status on failure). */
int64_t loco_evalcache_count(struct loco_evalcache *c);

#ifdef __cplusplus
}
#endif
#endif
