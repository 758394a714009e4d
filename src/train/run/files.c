/*
 * files.c - file helpers for the training driver: bounded whole-file reads
 * and folder creation. Atomic writes are loco/fileio.h's.
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
