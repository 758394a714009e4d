/*
 * extract.c - reading a bundle that came from outside (loco/bundle.h).
 *
 * A zip can say anything about itself: names such as "../../.bashrc" or
 * "/etc/cron.d/x", symbolic links, devices, entries that claim 1 KiB and
 * inflate to 1 TiB, thousands of entries, the same name twice. So the
 * archive is opened only when it is a regular file, every entry's name,
 * type and declared size is checked before a byte is written, the bytes are
 * counted again while they are written (a lying size stops at the limit),
 * and everything goes into a fresh private folder (mkdtemp, 0700) with
 * O_EXCL | O_NOFOLLOW: nothing can be written outside it. On any refusal
 * the folder is removed before returning.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "core/util.h"
#include "loco/bundle.h"
#include "loco/fileio.h"

#define COPY_CHUNK (1u << 14)

struct loco_bundle_limits loco_bundle_default_limits(void)
{
    return (struct loco_bundle_limits){
        .max_files = LOCO_BUNDLE_MAX_FILES,
        .max_file_bytes = 4ull << 30,
        .max_total_bytes = 8ull << 30,
    };
}

const struct loco_bundle_file *loco_bundle_contents_find(const struct loco_bundle_contents *c,
                                                         const char *path)
{
    for (size_t i = 0; i < c->n_files; i++)
        if (!strcmp(c->files[i].path, path))
            return &c->files[i];
    return NULL;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void loco_bundle_contents_remove(struct loco_bundle_contents *c)
{
    if (!c || !c->dir[0])
        return;
    /* depth first, never following a link: only what is inside goes */
    nftw(c->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    c->dir[0] = '\0';
    c->n_files = 0;
}

/* ---- one entry --------------------------------------------------------------- */

/* Whether the entry's recorded type (Unix mode in the external attributes)
 * is a plain file or a folder; other systems' attributes carry no type. */
static bool plain_type(zip_t *z, zip_uint64_t i)
{
    zip_uint8_t opsys;
    zip_uint32_t attr;
    if (zip_file_get_external_attributes(z, i, 0, &opsys, &attr) != 0)
        return false;
    if (opsys != ZIP_OPSYS_UNIX)
        return true;
    mode_t mode = (mode_t)(attr >> 16) & S_IFMT;
    return mode == 0 || mode == S_IFREG || mode == S_IFDIR;
}

/* Create the folders of `path` (relative, already checked safe) under dir. */
static int make_parents(const char *dir, const char *path)
{
    char buf[4096 + LOCO_BUNDLE_PATH_MAX + 2];
    int n = snprintf(buf, sizeof buf, "%s/%s", dir, path);
    if (n < 0 || (size_t)n >= sizeof buf)
        return loco_error_set(LOCO_ERR_RANGE, "bundle: path too long");
    for (char *s = buf + strlen(dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        struct stat st;
        if (mkdir(buf, 0700) != 0 && (errno != EEXIST || lstat(buf, &st) || !S_ISDIR(st.st_mode)))
            return loco_error_set(LOCO_ERR_IO, "bundle: cannot create %s", buf);
        *s = '/';
    }
    return LOCO_OK;
}

/* Copy the open entry into fd, at most `cap` bytes, hashing it; *n receives
 * the bytes read. LOCO_ERR_RANGE when it holds more than cap. */
static int copy_entry(zip_file_t *zf, const char *name, int fd, uint64_t cap, EVP_MD_CTX *md,
                      uint64_t *n)
{
    char buf[COPY_CHUNK];
    *n = 0;
    for (;;) {
        zip_int64_t got = zip_fread(zf, buf, sizeof buf);
        if (got < 0)
            return loco_error_set(LOCO_ERR_FORMAT, "bundle: entry '%s' is damaged: %s", name,
                                  zip_error_strerror(zip_file_get_error(zf)));
        if (got == 0)
            return LOCO_OK;
        if ((uint64_t)got > cap - *n)
            return loco_error_set(LOCO_ERR_RANGE,
                                  "bundle: entry '%s' inflates beyond its stated size or the "
                                  "limit (%llu bytes)",
                                  name, (unsigned long long)cap);
        *n += (uint64_t)got;
        EVP_DigestUpdate(md, buf, (size_t)got);
        if (!loco_write_all(fd, buf, (size_t)got))
            return loco_error_set(LOCO_ERR_IO, "bundle: cannot write '%s': %s", name,
                                  strerror(errno));
    }
}

/* Write entry i (a file named `name`, stated size `size`) into dir and
 * record it in out. */
static int write_entry(zip_t *z, zip_uint64_t i, const char *name, uint64_t cap,
                       struct loco_bundle_contents *out)
{
    int rc = make_parents(out->dir, name);
    if (rc != LOCO_OK)
        return rc;
    char path[4096 + LOCO_BUNDLE_PATH_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", out->dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return loco_error_set(LOCO_ERR_IO, "bundle: cannot create %s: %s", path, strerror(errno));
    zip_file_t *zf = zip_fopen_index(z, i, 0);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    struct loco_bundle_file *f = &out->files[out->n_files];
    if (!zf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        rc = loco_error_set(LOCO_ERR_FORMAT, "bundle: cannot read entry '%s': %s", name,
                            zip_strerror(z));
    else
        rc = copy_entry(zf, name, fd, cap, md, &f->size);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    if (rc == LOCO_OK && EVP_DigestFinal_ex(md, digest, &dn) == 1) {
        for (unsigned int k = 0; k < dn && k < 32; k++)
            snprintf(f->sha256 + 2 * k, 3, "%02x", digest[k]);
        snprintf(f->path, sizeof f->path, "%s", name);
        out->n_files++;
    }
    EVP_MD_CTX_free(md);
    if (zf)
        zip_fclose(zf);
    close(fd);
    return rc;
}

/* ---- the archive ------------------------------------------------------------- */

/* Check entry i before anything of it is written; *skip when it is a
 * folder entry (folders are made as files need them). */
static int check_entry(zip_t *z, zip_uint64_t i, const zip_stat_t *st,
                       const struct loco_bundle_limits *lim, uint64_t total, bool *skip)
{
    const char *name = (st->valid & ZIP_STAT_NAME) ? st->name : "";
    size_t len = strlen(name);
    *skip = len > 1 && name[len - 1] == '/';
    char bare[LOCO_BUNDLE_PATH_MAX];
    snprintf(bare, sizeof bare, "%.*s", (int)(*skip ? len - 1 : len), name);
    if (len >= LOCO_BUNDLE_PATH_MAX || !loco_bundle_path_safe(bare))
        return loco_error_set(LOCO_ERR_INVALID,
                              "bundle: entry %llu '%.200s' is not a safe relative path (absolute, "
                              "'..', empty parts or odd characters): refused",
                              (unsigned long long)i, name);
    if (!plain_type(z, i))
        return loco_error_set(LOCO_ERR_INVALID,
                              "bundle: entry '%s' is a link, device or FIFO: refused", name);
    if ((st->valid & ZIP_STAT_ENCRYPTION_METHOD) && st->encryption_method != ZIP_EM_NONE)
        return loco_error_set(LOCO_ERR_INVALID, "bundle: entry '%s' is encrypted: refused", name);
    if (*skip)
        return LOCO_OK;
    if (!(st->valid & ZIP_STAT_SIZE) || st->size > lim->max_file_bytes ||
        st->size > lim->max_total_bytes - total)
        return loco_error_set(LOCO_ERR_RANGE,
                              "bundle: entry '%s' is too big (%llu bytes; at most %llu per file, "
                              "%llu in all)",
                              name, (unsigned long long)st->size,
                              (unsigned long long)lim->max_file_bytes,
                              (unsigned long long)lim->max_total_bytes);
    return LOCO_OK;
}

static int extract_all(zip_t *z, const struct loco_bundle_limits *lim,
                       struct loco_bundle_contents *out)
{
    zip_int64_t n = zip_get_num_entries(z, 0);
    size_t max = lim->max_files < LOCO_BUNDLE_MAX_FILES ? lim->max_files : LOCO_BUNDLE_MAX_FILES;
    if (n < 0 || (uint64_t)n > max)
        return loco_error_set(LOCO_ERR_RANGE, "bundle: %lld entries (at most %zu): refused",
                              (long long)n, max);
    uint64_t total = 0;
    for (zip_uint64_t i = 0; i < (zip_uint64_t)n; i++) {
        zip_stat_t st;
        bool skip = false;
        if (zip_stat_index(z, i, 0, &st) != 0)
            return loco_error_set(LOCO_ERR_FORMAT, "bundle: entry %llu: %s", (unsigned long long)i,
                                  zip_strerror(z));
        int rc = check_entry(z, i, &st, lim, total, &skip);
        if (rc == LOCO_OK && !skip && loco_bundle_contents_find(out, st.name))
            rc = loco_error_set(LOCO_ERR_INVALID, "bundle: entry '%s' appears twice: refused",
                                st.name);
        if (rc == LOCO_OK && !skip) {
            rc = write_entry(z, i, st.name, st.size, out); /* at most what it stated */
            total += rc == LOCO_OK ? out->files[out->n_files - 1].size : 0;
        }
        if (rc != LOCO_OK)
            return rc;
    }
    return LOCO_OK;
}

static zip_t *open_zip(const char *zip_path)
{
    int fd;
    if (loco_open_regular(zip_path, &fd) != LOCO_OK)
        return NULL;
    int err = 0;
    zip_t *z = zip_fdopen(fd, ZIP_CHECKCONS, &err);
    if (!z) {
        close(fd);
        zip_error_t e;
        zip_error_init_with_code(&e, err);
        loco_error_set(LOCO_ERR_FORMAT, "bundle: %s is not a readable zip: %s", zip_path,
                       zip_error_strerror(&e));
        zip_error_fini(&e);
    }
    return z;
}

int loco_bundle_extract(const char *zip_path, const char *tmp_dir,
                        const struct loco_bundle_limits *lim, struct loco_bundle_contents *out)
{
    if (!zip_path || !out)
        return loco_error_set(LOCO_ERR_INVALID, "bundle extract: NULL argument");
    memset(out, 0, sizeof *out);
    struct loco_bundle_limits dl = loco_bundle_default_limits();
    if (!lim)
        lim = &dl;
    zip_t *z = open_zip(zip_path);
    if (!z)
        return LOCO_ERR_FORMAT;
    const char *base = tmp_dir ? tmp_dir : getenv("TMPDIR");
    snprintf(out->dir, sizeof out->dir, "%s/loco-bundle-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(out->dir)) {
        int rc = loco_error_set(LOCO_ERR_IO, "bundle: cannot create a folder in %s: %s",
                                base && base[0] ? base : "/tmp", strerror(errno));
        out->dir[0] = '\0';
        zip_discard(z);
        return rc;
    }
    int rc = extract_all(z, lim, out);
    zip_discard(z);
    if (rc != LOCO_OK)
        loco_bundle_contents_remove(out);
    return rc;
}
