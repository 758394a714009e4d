/*
 * install_fs.c - small file helpers of the installer: which names and
 * relative paths are acceptable, removing a staging folder without
 * following links, and copying a local file into it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "lora/install_internal.h"

bool install_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63 || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool install_relpath_safe(const char *path)
{
    if (!path[0] || path[0] == '/' || strlen(path) > 1024)
        return false;
    for (const char *p = path; *p; p++)
        if (*p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    const char *c = path;
    while (*c) { /* each component: not empty (except a final '/'), not '..' */
        size_t len = strcspn(c, "/");
        if (len == 0 || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += len;
        if (*c == '/')
            c++;
    }
    return true;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void install_rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int install_copy_file(const char *src, const char *dst, uint64_t max_bytes)
{
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (in < 0)
        return loco_error_set(errno == ENOENT ? LOCO_ERR_NOT_FOUND : LOCO_ERR_IO,
                              "cannot open %s: %s", src, strerror(errno));
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return loco_error_set(LOCO_ERR_INVALID, "%s is not a regular file", src);
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return loco_error_set(LOCO_ERR_IO, "cannot create %s: %s", dst, strerror(errno));
    }
    char buf[1 << 15];
    uint64_t total = 0;
    int rc = LOCO_OK;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                rc = loco_error_set(LOCO_ERR_IO, "cannot read %s: %s", src, strerror(errno));
            break;
        }
        total += (uint64_t)n;
        if (total > max_bytes) {
            rc = loco_error_set(LOCO_ERR_INVALID, "%s is larger than %llu bytes", src,
                                (unsigned long long)max_bytes);
            break;
        }
        if (!loco_write_all(out, buf, (size_t)n)) {
            rc = loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", dst, strerror(errno));
            break;
        }
    }
    close(in);
    if (close(out) != 0 && rc == LOCO_OK)
        rc = loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", dst, strerror(errno));
    return rc;
}
