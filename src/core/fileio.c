/*
 * fileio.c - atomic file writes: temporary file beside the target, fsync,
 * rename, fsync of the folder; and opening a named file for reading only
 * when it is a regular file (see loco/fileio.h).
 */
#include "loco/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "loco/core.h"

void (*loco_atomic_test_hook_before_rename)(const char *tmp_path) = NULL;

void loco_fsync_parent_dir(const char *path)
{
    size_t cap = strlen(path) + 2; /* the folder part, or "." or "/" */
    char *dir = malloc(cap);
    if (!dir)
        return;
    loco_dir_of(path, dir, cap);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* the rename is done; this makes it survive a power cut */
        close(fd);
    }
    free(dir);
}

static void release(struct loco_atomic_file *af)
{
    free(af->tmp);
    free(af->path);
    af->tmp = af->path = NULL;
    af->f = NULL;
}

int loco_atomic_open(struct loco_atomic_file *af, const char *path)
{
    static const char suffix[] = LOCO_ATOMIC_TMP_SUFFIX "XXXXXX";
    *af = (struct loco_atomic_file){0};
    size_t len = path ? strlen(path) : 0;
    if (len == 0)
        return loco_error_set(LOCO_ERR_INVALID, "no path to write to");
    af->path = strdup(path);
    af->tmp = malloc(len + sizeof suffix);
    if (!af->path || !af->tmp) {
        release(af);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory writing %s", path);
    }
    memcpy(af->tmp, path, len);
    memcpy(af->tmp + len, suffix, sizeof suffix);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int err = errno;
        release(af);
        return loco_error_set(LOCO_ERR_IO, "cannot create a temporary file beside %s: %s", path,
                              strerror(err));
    }
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
    af->f = fdopen(fd, "wb");
    if (!af->f || fchmod(fd, mode) != 0) {
        int err = errno;
        if (af->f)
            fclose(af->f);
        else
            close(fd);
        unlink(af->tmp);
        release(af);
        return loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", path, strerror(err));
    }
    return LOCO_OK;
}

void loco_atomic_abort(struct loco_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp)
        unlink(af->tmp);
    release(af);
}

int loco_atomic_commit(struct loco_atomic_file *af)
{
    if (!af->f)
        return loco_error_set(LOCO_ERR_INVALID, "no file open to commit");
    int err = 0;
    errno = 0;
    if (fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) != 0)
        err = errno ? errno : EIO;
    if (fclose(af->f) != 0 && !err)
        err = errno ? errno : EIO;
    af->f = NULL;
    if (!err && loco_atomic_test_hook_before_rename)
        loco_atomic_test_hook_before_rename(af->tmp);
    if (!err && rename(af->tmp, af->path) != 0)
        err = errno;
    if (err) {
        unlink(af->tmp);
        int rc = loco_error_set(LOCO_ERR_IO, "cannot write %s: %s (the old file is unchanged)",
                                af->path, strerror(err));
        release(af);
        return rc;
    }
    loco_fsync_parent_dir(af->path);
    release(af);
    return LOCO_OK;
}

int loco_file_write_atomic(const char *path, const void *data, size_t len)
{
    struct loco_atomic_file af;
    int rc = loco_atomic_open(&af, path);
    if (rc != LOCO_OK)
        return rc;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int err = errno;
        loco_atomic_abort(&af);
        return loco_error_set(LOCO_ERR_IO, "cannot write %s: %s (the old file is unchanged)", path,
                              strerror(err ? err : EIO));
    }
    return loco_atomic_commit(&af);
}

/* ---- reading a file someone named ---------------------------------------- */

int loco_open_regular(const char *path, int *fd_out)
{
    *fd_out = -1;
    if (!path || !path[0])
        return loco_error_set(LOCO_ERR_INVALID, "no file given");
    /* O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return loco_error_set(err == ENOENT ? LOCO_ERR_NOT_FOUND : LOCO_ERR_IO,
                              "cannot open %s: %s", path, strerror(err));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return loco_error_set(LOCO_ERR_IO, "cannot stat %s: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s is a %s, not a regular file; name the file itself", path,
                              S_ISDIR(st.st_mode)    ? "folder"
                              : S_ISFIFO(st.st_mode) ? "FIFO (named pipe)"
                              : S_ISSOCK(st.st_mode) ? "socket"
                                                     : "device");
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int err = errno;
        close(fd);
        return loco_error_set(LOCO_ERR_IO, "cannot read %s: %s", path, strerror(err));
    }
    *fd_out = fd;
    return LOCO_OK;
}

int loco_fopen_regular(const char *path, FILE **out)
{
    int fd;
    *out = NULL;
    int rc = loco_open_regular(path, &fd);
    if (rc != LOCO_OK)
        return rc;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int err = errno;
        close(fd);
        return loco_error_set(LOCO_ERR_IO, "cannot read %s: %s", path, strerror(err));
    }
    *out = f;
    return LOCO_OK;
}
