/*
 * strmap.c - a small open-addressing hash map from byte strings to ints.
 *
 * The tokenizer asks "which token has this text?" and "what rank has this
 * merge?" for every candidate pair, so lookups must be cheap. The map is
 * sized once (twice the entries, rounded up to a power of two), hashes
 * with FNV-1a and resolves collisions by linear probing: with the table at
 * most half full a lookup touches one or two slots on average. Keys are
 * borrowed from the tokenizer's own string arenas.
 */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAP_MAX_ENTRIES ((size_t)1 << 28)

/* FNV-1a, 64-bit (Fowler, Noll, Vo). */
static uint64_t hash_bytes(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int loco_tok_map_init(struct loco_tok_map *m, size_t max_entries)
{
    memset(m, 0, sizeof *m);
    if (max_entries > MAP_MAX_ENTRIES)
        return loco_error_set(LOCO_ERR_RANGE, "tokenizer: %zu map entries is over the limit",
                              max_entries);
    size_t cap = 16;
    while (cap < 2 * max_entries)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots)
        return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory for a hash map");
    m->cap = cap;
    m->max = max_entries;
    return LOCO_OK;
}

void loco_tok_map_free(struct loco_tok_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* The slot holding key, or the empty slot where it would go. */
static struct loco_tok_map_slot *find_slot(const struct loco_tok_map *m, const char *key,
                                           size_t len)
{
    size_t i = (size_t)hash_bytes(key, len) & (m->cap - 1);
    for (;;) {
        struct loco_tok_map_slot *s = &m->slots[i];
        if (!s->key || (s->len == len && memcmp(s->key, key, len) == 0))
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

int loco_tok_map_put(struct loco_tok_map *m, const char *key, size_t len, int32_t value,
                     bool replace)
{
    struct loco_tok_map_slot *s = find_slot(m, key, len);
    if (s->key) {
        if (replace)
            s->value = value;
        return LOCO_OK;
    }
    if (m->n >= m->max)
        return loco_error_set(LOCO_ERR_RANGE, "tokenizer: hash map full (%zu entries)", m->n);
    s->key = key;
    s->len = (uint32_t)len;
    s->value = value;
    m->n++;
    return LOCO_OK;
}

int32_t loco_tok_map_get(const struct loco_tok_map *m, const char *key, size_t len)
{
    if (!m->slots)
        return -1;
    const struct loco_tok_map_slot *s = find_slot(m, key, len);
    return s->key ? s->value : -1;
}
