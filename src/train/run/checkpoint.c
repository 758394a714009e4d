/*
 * checkpoint.c - the state of a training run in one file, so that a run
 * killed at any moment resumes exactly where its last checkpoint was.
 *
 * Layout (host byte order, little-endian on every machine LocoLLM targets):
 *   "LOCOCKPT"  u32 version  u32 0
 *   char recipe_hash[64]   u64 n_params
 *   i64 step  i64 total_steps  i64 examples_seen  u64 rng_state
 *   i64 tokens_seen  f64 elapsed_s  i64 n_val
 *   f32 params[n_params]  f32 m[n_params]  f32 v[n_params]
 *   f32 train_loss[step]
 *   { i64 step; f32 loss; u32 0 } val[n_val]
 *   sha256 of everything above (32 bytes)
 * Written to a temporary file, fsynced and renamed, so the file on disk is
 * always a complete checkpoint; the digest catches a damaged one.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "train/run/run_internal.h"

static const char magic[8] = {'L', 'O', 'C', 'O', 'C', 'K', 'P', 'T'};

#define HEADER_BYTES (8 + 4 + 4 + 64 + 8 * 8)
#define MAX_PARAMS (1ull << 31)

struct writer {
    FILE *f;
    EVP_MD_CTX *md;
    bool ok;
};

static void put(struct writer *w, const void *p, size_t n)
{
    if (!w->ok || n == 0)
        return;
    w->ok = fwrite(p, 1, n, w->f) == n;
    EVP_DigestUpdate(w->md, p, n);
}

static void put_u32(struct writer *w, uint32_t v)
{
    put(w, &v, sizeof v);
}
static void put_u64(struct writer *w, uint64_t v)
{
    put(w, &v, sizeof v);
}
static void put_i64(struct writer *w, int64_t v)
{
    put(w, &v, sizeof v);
}

static void put_header(struct writer *w, const struct loco_checkpoint *c)
{
    put(w, magic, sizeof magic);
    put_u32(w, LOCO_CHECKPOINT_VERSION);
    put_u32(w, 0);
    put(w, c->recipe_hash, 64);
    put_u64(w, c->n_params);
    put_i64(w, c->step);
    put_i64(w, c->total_steps);
    put_i64(w, c->examples_seen);
    put_u64(w, c->rng_state);
    put_i64(w, c->tokens_seen);
    put(w, &c->elapsed_s, sizeof c->elapsed_s);
    put_i64(w, c->n_val);
}

int loco_checkpoint_write(const char *path, const struct loco_checkpoint *c)
{
    struct loco_atomic_file af;
    int rc = loco_atomic_open(&af, path);
    if (rc != LOCO_OK)
        return rc;
    struct writer w = {.f = af.f, .md = EVP_MD_CTX_new(), .ok = true};
    if (!w.md || EVP_DigestInit_ex(w.md, EVP_sha256(), NULL) != 1) {
        loco_atomic_abort(&af);
        EVP_MD_CTX_free(w.md);
        return loco_error_set(LOCO_ERR_IO, "cannot write checkpoint %s", path);
    }
    size_t n = (size_t)c->n_params;
    put_header(&w, c);
    put(&w, c->params, n * sizeof(float));
    put(&w, c->m, n * sizeof(float));
    put(&w, c->v, n * sizeof(float));
    put(&w, c->train_loss, (size_t)c->step * sizeof(float));
    for (int64_t i = 0; i < c->n_val; i++) {
        put_i64(&w, c->val[i].step);
        put(&w, &c->val[i].loss, sizeof(float));
        put_u32(&w, 0);
    }
    unsigned char digest[32];
    unsigned int dn = 0;
    EVP_DigestFinal_ex(w.md, digest, &dn);
    EVP_MD_CTX_free(w.md);
    if (w.ok)
        w.ok = fwrite(digest, 1, sizeof digest, w.f) == sizeof digest;
    if (!w.ok) {
        int err = errno;
        loco_atomic_abort(&af);
        return loco_error_set(LOCO_ERR_IO, "cannot write checkpoint %s: %s", path, strerror(err));
    }
    return loco_atomic_commit(&af);
}

/* ---- reading ------------------------------------------------------------ */

struct reader {
    const unsigned char *p, *end;
};

static void get(struct reader *r, void *out, size_t n)
{
    memcpy(out, r->p, n); /* sizes were checked against the file length first */
    r->p += n;
}

static uint64_t get_u64(struct reader *r)
{
    uint64_t v;
    get(r, &v, sizeof v);
    return v;
}

static float *get_floats(struct reader *r, size_t n)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (v)
        get(r, v, n * sizeof *v);
    return v;
}

static int parse_header(struct reader *r, struct loco_checkpoint *c, const char *path)
{
    char m[8];
    uint32_t version, pad;
    get(r, m, sizeof m);
    get(r, &version, sizeof version);
    get(r, &pad, sizeof pad);
    if (memcmp(m, magic, sizeof m) != 0)
        return loco_error_set(LOCO_ERR_FORMAT, "%s is not a LocoLLM checkpoint", path);
    if (version != LOCO_CHECKPOINT_VERSION)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "%s: checkpoint version %u, this build "
                              "reads %d (rerun with --restart)",
                              path, version, LOCO_CHECKPOINT_VERSION);
    get(r, c->recipe_hash, 64);
    c->recipe_hash[64] = '\0';
    c->n_params = get_u64(r);
    c->step = (int64_t)get_u64(r);
    c->total_steps = (int64_t)get_u64(r);
    c->examples_seen = (int64_t)get_u64(r);
    c->rng_state = get_u64(r);
    c->tokens_seen = (int64_t)get_u64(r);
    get(r, &c->elapsed_s, sizeof c->elapsed_s);
    c->n_val = (int64_t)get_u64(r);
    return LOCO_OK;
}

static int check_size(const struct loco_checkpoint *c, size_t len, const char *path)
{
    if (c->n_params > MAX_PARAMS || c->step < 0 || c->step > (1ll << 32) || c->n_val < 0 ||
        c->n_val > (1ll << 32))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: implausible sizes in the header", path);
    uint64_t want =
        HEADER_BYTES + 12 * c->n_params + 4 * (uint64_t)c->step + 16 * (uint64_t)c->n_val + 32;
    if (want != len)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: %zu bytes, the header implies %llu "
                              "(truncated or damaged; rerun with --restart)",
                              path, len, (unsigned long long)want);
    return LOCO_OK;
}

static int check_digest(const char *buf, size_t len, const char *path)
{
    unsigned char digest[32];
    unsigned int dn = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(md, buf, len - 32) == 1 && EVP_DigestFinal_ex(md, digest, &dn);
    EVP_MD_CTX_free(md);
    if (!ok || memcmp(digest, buf + len - 32, 32) != 0)
        return loco_error_set(LOCO_ERR_CHECKSUM,
                              "%s is damaged (its sha256 does not match; "
                              "rerun with --restart)",
                              path);
    return LOCO_OK;
}

static int parse_body(struct reader *r, struct loco_checkpoint *c)
{
    size_t n = (size_t)c->n_params;
    c->params = get_floats(r, n);
    c->m = c->params ? get_floats(r, n) : NULL;
    c->v = c->m ? get_floats(r, n) : NULL;
    c->train_loss = c->v ? get_floats(r, (size_t)c->step) : NULL;
    c->val = malloc((c->n_val ? (size_t)c->n_val : 1) * sizeof *c->val);
    if (!c->train_loss || !c->val)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading a checkpoint");
    for (int64_t i = 0; i < c->n_val; i++) {
        uint32_t pad;
        c->val[i].step = (int64_t)get_u64(r);
        get(r, &c->val[i].loss, sizeof(float));
        get(r, &pad, sizeof pad);
    }
    return LOCO_OK;
}

int loco_checkpoint_read(const char *path, struct loco_checkpoint *c)
{
    memset(c, 0, sizeof *c);
    char *buf = NULL;
    size_t len = 0;
    int rc = loco_read_file(path, (size_t)1 << 36, &buf, &len);
    if (rc)
        return rc;
    struct reader r = {(const unsigned char *)buf, (const unsigned char *)buf + len};
    if (len < HEADER_BYTES + 32)
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "%s: too short for a checkpoint (rerun with "
                            "--restart)",
                            path);
    if (!rc)
        rc = parse_header(&r, c, path);
    if (!rc)
        rc = check_size(c, len, path);
    if (!rc)
        rc = check_digest(buf, len, path);
    if (!rc)
        rc = parse_body(&r, c);
    free(buf);
    if (rc)
        loco_checkpoint_free(c);
    return rc;
}

void loco_checkpoint_free(struct loco_checkpoint *c)
{
    free(c->params);
    free(c->m);
    free(c->v);
    free(c->train_loss);
    free(c->val);
    c->params = c->m = c->v = c->train_loss = NULL;
    c->val = NULL;
}
