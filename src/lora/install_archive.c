/*
 * install_archive.c - unpacking a shared bundle (.zip) without trusting it.
 *
 * A bundle comes from a stranger, so a zip entry could try any of the
 * classic archive attacks: an absolute name (/etc/cron.d/x), a name that
 * climbs out ("../../.bashrc"), a symbolic link that a later entry writes
 * through, a device or FIFO, thousands of entries, or a zip bomb whose
 * header claims a few bytes and inflates to gigabytes. So every entry is
 * checked before anything is written (names, kinds, counts, declared
 * sizes), then files are written with O_EXCL | O_NOFOLLOW inside the
 * staging folder while the bytes actually inflated are counted against the
 * limit. The caller removes the folder on any refusal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "core/util.h"
#include "lora/install_internal.h"

#define CHUNK (1u << 16)

struct loco_install_limits loco_install_default_limits(void)
{
    return (struct loco_install_limits){.max_files = 64, .max_bytes = 4ull << 30, .max_depth = 4};
}

static uint32_t depth_of(const char *name)
{
    uint32_t d = 0;
    for (const char *p = name; *p; p++)
        if (*p == '/' && p[1])
            d++;
    return d;
}

/* The entry's Unix mode when the zip records one (0 when it does not). */
static mode_t entry_mode(zip_t *z, zip_uint64_t i)
{
    zip_uint8_t opsys;
    zip_uint32_t attr;
    if (zip_file_get_external_attributes(z, i, 0, &opsys, &attr) != 0 || opsys != ZIP_OPSYS_UNIX)
        return 0;
    return (mode_t)(attr >> 16);
}

/* Refuse entry i before anything is written. */
static int check_entry(zip_t *z, zip_uint64_t i, const char *archive,
                       const struct loco_install_limits *lim, uint64_t *declared)
{
    zip_stat_t st;
    if (zip_stat_index(z, i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: cannot read entry %llu", archive,
                              (unsigned long long)i);
    const char *name = st.name;
    if (!install_relpath_safe(name))
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s: refused: entry '%s' is an absolute path or leaves the folder "
                              "('..'); a bundle holds plain relative names",
                              archive, name);
    if (depth_of(name) > lim->max_depth)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s: refused: entry '%s' is more than %u folders "
                              "deep",
                              archive, name, lim->max_depth);
    mode_t m = entry_mode(z, i) & S_IFMT; /* 0: no file type recorded (a plain file) */
    bool dir = name[strlen(name) - 1] == '/';
    if (m && !S_ISREG(m) && !(dir && S_ISDIR(m)))
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s: refused: entry '%s' is a %s, not a plain file; a bundle holds "
                              "only files and folders",
                              archive, name,
                              S_ISLNK(m)   ? "symbolic link"
                              : S_ISDIR(m) ? "folder with a "
                                             "file's name"
                                           : "device or FIFO");
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
        return loco_error_set(LOCO_ERR_INVALID, "%s: refused: entry '%s' is encrypted", archive,
                              name);
    if (st.valid & ZIP_STAT_SIZE)
        *declared += st.size;
    if (*declared > lim->max_bytes)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s: refused: it unpacks to more than %llu bytes (the limit)",
                              archive, (unsigned long long)lim->max_bytes);
    return LOCO_OK;
}

/* mkdir -p of the folders in `rel` under dir: every component followed by
 * a '/' (so all of "a/b/" for a folder entry, "a" of "a/f" for a file).
 * Each one must then be a real folder, not a link. */
static int make_parents(const char *dir, const char *rel)
{
    char path[LOCO_INSTALL_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= sizeof path)
        return loco_error_set(LOCO_ERR_RANGE, "path too long: %s/%s", dir, rel);
    for (size_t k = strlen(dir) + 1; path[k]; k++) {
        if (path[k] != '/')
            continue;
        path[k] = '\0';
        struct stat st;
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return loco_error_set(LOCO_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            return loco_error_set(LOCO_ERR_INVALID, "refused: %s is not a folder", path);
        path[k] = '/';
    }
    return LOCO_OK;
}

/* Inflate entry i to dir/name, counting bytes into *written. */
static int write_entry(zip_t *z, zip_uint64_t i, const char *name, const char *dir,
                       const char *archive, uint64_t max_bytes, uint64_t *written)
{
    char path[LOCO_INSTALL_PATH_MAX];
    int rc = make_parents(dir, name);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s: refused: entry '%s' cannot be written (%s; "
                              "a name twice?)",
                              archive, name, strerror(errno));
    zip_file_t *zf = zip_fopen_index(z, i, 0);
    char *buf = malloc(CHUNK);
    if (!zf || !buf)
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s: cannot open entry '%s': %s", archive, name,
                            zip_strerror(z));
    while (rc == LOCO_OK) {
        zip_int64_t n = zip_fread(zf, buf, CHUNK);
        if (n < 0)
            rc = loco_error_set(LOCO_ERR_FORMAT, "%s: entry '%s' is damaged: %s", archive, name,
                                zip_error_strerror(zip_file_get_error(zf)));
        if (n <= 0)
            break;
        *written += (uint64_t)n;
        if (*written > max_bytes)
            rc = loco_error_set(LOCO_ERR_INVALID,
                                "%s: refused: it unpacks to more than %llu bytes (the limit)",
                                archive, (unsigned long long)max_bytes);
        else if (!loco_write_all(fd, buf, (size_t)n))
            rc = loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    free(buf);
    if (zf)
        zip_fclose(zf);
    if (close(fd) != 0 && rc == LOCO_OK)
        rc = loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

static int unpack_open(zip_t *z, const char *archive, const char *dir,
                       const struct loco_install_limits *lim)
{
    zip_int64_t n = zip_get_num_entries(z, 0);
    if (n < 0 || (uint64_t)n > lim->max_files)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s: refused: %lld entries, more than the limit of %u", archive,
                              (long long)n, lim->max_files);
    uint64_t declared = 0, written = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        int rc = check_entry(z, (zip_uint64_t)i, archive, lim, &declared);
        if (rc)
            return rc;
    }
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
        int rc = name[strlen(name) - 1] == '/' ? make_parents(dir, name)
                                               : write_entry(z, (zip_uint64_t)i, name, dir, archive,
                                                             lim->max_bytes, &written);
        if (rc)
            return rc;
    }
    return LOCO_OK;
}

int install_unpack_zip_named(const char *archive, const char *what, const char *dir,
                             const struct loco_install_limits *lim)
{
    struct loco_install_limits d = loco_install_default_limits();
    if (!lim)
        lim = &d;
    int zerr = 0;
    zip_t *z = zip_open(archive, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!z) {
        zip_error_t e;
        zip_error_init_with_code(&e, zerr);
        int rc = loco_error_set(LOCO_ERR_FORMAT, "%s is not a readable zip: %s", what,
                                zip_error_strerror(&e));
        zip_error_fini(&e);
        return rc;
    }
    int rc = unpack_open(z, what, dir, lim);
    zip_discard(z);
    return rc;
}

int loco_install_unpack_zip(const char *archive, const char *dir,
                            const struct loco_install_limits *lim)
{
    return install_unpack_zip_named(archive, archive, dir, lim);
}
