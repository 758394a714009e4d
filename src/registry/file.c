/*
 * file.c - how registry files are written: one writer at a time (an flock
 * on "<file>.lock" beside the file), and never half-written (a temporary
 * file beside it, fsync, rename over it, fsync the folder).
 *
 * The write itself is loco_file_write_atomic() (loco/fileio.h).
 *
 * The lock file is separate from the registry so that the rename, which
 * replaces the registry's inode, never swaps the lock out from under a
 * waiting writer. The kernel drops an flock when its holder dies, so a
 * killed writer blocks no one; its temporary file is removed by the next
 * writer (only the lock holder writes temporaries, so any it finds are
 * stale).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/util.h"
#include "loco/fileio.h"
#include "loco/models.h"
#include "registry/registry_internal.h"

static const char tmp_suffix[] = LOCO_ATOMIC_TMP_SUFFIX;

int registry_lock(const char *path)
{
    char lock[LOCO_REGISTRY_PATH_MAX + 8];
    char dir[LOCO_REGISTRY_PATH_MAX];
    int n = snprintf(lock, sizeof lock, "%s.lock", path);
    if (n < 0 || (size_t)n >= sizeof lock)
        return loco_error_set(LOCO_ERR_RANGE, "registry path too long: %s", path);
    loco_dir_of(path, dir, sizeof dir);
    int rc = loco_models_mkdirs(dir);
    if (rc != LOCO_OK)
        return rc;
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return loco_error_set(LOCO_ERR_IO, "cannot open the lock file %s: %s", lock,
                              strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int err = errno;
        close(fd);
        return loco_error_set(LOCO_ERR_IO, "cannot lock %s: %s", lock, strerror(err));
    }
    return fd;
}

void registry_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the last descriptor releases the flock */
}

void registry_remove_stale_temps(const char *path)
{
    char dir[LOCO_REGISTRY_PATH_MAX];
    char prefix[LOCO_REGISTRY_PATH_MAX];
    loco_dir_of(path, dir, sizeof dir);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(prefix, sizeof prefix, "%s%s", base, tmp_suffix);
    size_t plen = strlen(prefix);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, plen) != 0 || strlen(e->d_name) != plen + 6)
            continue;
        char full[2 * LOCO_REGISTRY_PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        unlink(full);
    }
    closedir(d);
}
