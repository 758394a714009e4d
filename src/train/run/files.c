/*
 * files.c - file helpers for the training driver: bounded whole-file reads
 * and atomic writes (temporary file, fsync, rename, fsync of the folder), so
 * a run killed at any instant leaves either the old file or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/run/run_internal.h"

int trainrun_read_file(const char *path, size_t cap, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return loco_error_set(errno == ENOENT ? LOCO_ERR_NOT_FOUND : LOCO_ERR_IO,
                              "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (size_t)st.st_size > cap) {
        fclose(f);
        return loco_error_set(LOCO_ERR_RANGE, "%s is larger than %zu bytes", path, cap);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) {
        free(buf);
        return loco_error_set(LOCO_ERR_IO, "short read on %s", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return LOCO_OK;
}

static void tmp_name(const char *path, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.tmp", path);
}

FILE *trainrun_open_tmp(const char *path)
{
    char tmp[4200];
    tmp_name(path, tmp, sizeof tmp);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        loco_error_set(LOCO_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    return f;
}

static void fsync_dir(const char *path)
{
    char dir[4200];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path)
        snprintf(dir, sizeof dir, "/");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int trainrun_commit(FILE *f, const char *path)
{
    char tmp[4200];
    tmp_name(path, tmp, sizeof tmp);
    bool ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        remove(tmp);
        return loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return loco_error_set(LOCO_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    fsync_dir(path);
    return LOCO_OK;
}

void trainrun_abort(FILE *f, const char *path)
{
    char tmp[4200];
    tmp_name(path, tmp, sizeof tmp);
    fclose(f);
    remove(tmp);
}

int trainrun_write_atomic(const char *path, const void *data, size_t len)
{
    FILE *f = trainrun_open_tmp(path);
    if (!f)
        return LOCO_ERR_IO;
    if (len && fwrite(data, 1, len, f) != len) {
        trainrun_abort(f, path);
        return loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    return trainrun_commit(f, path);
}

int trainrun_mkdirs(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return loco_error_set(LOCO_ERR_RANGE, "path too long: %s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return loco_error_set(LOCO_ERR_IO, "cannot create folder %s: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    return LOCO_OK;
}
