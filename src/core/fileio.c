/*
 * fileio.c - atomic file writes: temporary file beside the target, fsync,
 * rename, fsync of the folder (see loco/fileio.h).
 */
#include "loco/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loco/core.h"

void (*loco_atomic_test_hook_before_rename)(const char *tmp_path) = NULL;

void loco_fsync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    char *dir = malloc(len + 2);
    if (!dir)
        return;
    if (!slash)
        memcpy(dir, ".", 2);
    else if (len == 0)
        memcpy(dir, "/", 2);
    else {
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
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
