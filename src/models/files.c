/*
 * files.c - small file helpers for the model cache: joined paths, sha256,
 * the GGUF magic check, locking, and the atomic finish (fsync + rename +
 * fsync of the directory) that keeps half files away from final names.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loco/fileio.h"
#include "models_internal.h"

#define HASH_CHUNK (1u << 20)

int models_report(const struct models_progress *pr, enum loco_models_stage stage, const char *what,
                  uint64_t done, uint64_t total)
{
    if (!pr || !pr->fn)
        return 0;
    return pr->fn(pr->user, stage, what, done, total);
}

int models_copy(char *buf, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n + 1 > cap)
        return loco_error_set(LOCO_ERR_RANGE, "path too long (%zu bytes): %s", n, src);
    memcpy(buf, src, n + 1);
    return LOCO_OK;
}

int models_join(char *buf, size_t cap, const char *dir, const char *file)
{
    int n = snprintf(buf, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "path too long: %s/%s", dir, file);
    return LOCO_OK;
}

int64_t models_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    return (int64_t)st.st_size;
}

void models_hex(const unsigned char *md, size_t n, char *hex_out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex_out[2 * i] = digits[md[i] >> 4];
        hex_out[2 * i + 1] = digits[md[i] & 15];
    }
    hex_out[2 * n] = '\0';
}

bool models_sha256_equal(const char *a, const char *b)
{
    return a && b && strlen(a) == LOCO_SHA256_HEX_LEN && strlen(b) == LOCO_SHA256_HEX_LEN &&
           strncasecmp(a, b, LOCO_SHA256_HEX_LEN) == 0;
}

bool loco_models_sha256_valid(const char *s)
{
    if (!s || strlen(s) != LOCO_SHA256_HEX_LEN)
        return false;
    for (size_t i = 0; i < LOCO_SHA256_HEX_LEN; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex)
            return false;
    }
    return true;
}

/* Hash everything readable from fd; total is the file size for progress. */
static int hash_fd(int fd, const char *path, uint64_t total, char *hex_out,
                   const struct models_progress *pr)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = malloc(HASH_CHUNK);
    int rc = LOCO_OK;
    uint64_t done = 0;
    if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = loco_error_set(LOCO_ERR_NOMEM, "cannot start sha256 of %s", path);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, HASH_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = loco_error_set(LOCO_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
        done += (uint64_t)n;
        if (models_report(pr, LOCO_MODELS_STAGE_VERIFY, path, done, total)) {
            rc = loco_error_set(LOCO_ERR_IO, "cancelled while hashing %s", path);
            goto out;
        }
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, digest, &len);
    models_hex(digest, len, hex_out);
out:
    free(buf);
    EVP_MD_CTX_free(md);
    return rc;
}

int models_sha256_file(const char *path, char hex_out[LOCO_SHA256_HEX_LEN + 1],
                       const struct models_progress *pr)
{
    int fd;
    int rc = loco_open_regular(path, &fd); /* a FIFO is refused, not waited on */
    if (rc != LOCO_OK)
        return rc;
    struct stat st;
    uint64_t total = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    rc = hash_fd(fd, path, total, hex_out, pr);
    close(fd);
    return rc;
}

int loco_models_sha256_file(const char *path, char hex_out[LOCO_SHA256_HEX_LEN + 1])
{
    return models_sha256_file(path, hex_out, NULL);
}

int models_check_gguf_magic(const char *path, const char *what)
{
    unsigned char head[8];
    int fd;
    if (loco_open_regular(path, &fd) != LOCO_OK) /* the message names the path */
        return LOCO_ERR_IO;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n != (ssize_t)sizeof head || memcmp(head, "GGUF", 4) != 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s is not a GGUF file (it does not start with \"GGUF\"); "
                              "check that the URL points at the .gguf file itself",
                              what);
    uint32_t version = (uint32_t)head[4] | (uint32_t)head[5] << 8 | (uint32_t)head[6] << 16 |
                       (uint32_t)head[7] << 24;
    if (version < 2 || version > 3)
        return loco_error_set(LOCO_ERR_FORMAT, "%s is GGUF version %u; only 2 and 3 are read", what,
                              version);
    return LOCO_OK;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int models_commit(const char *path, const char *final_path)
{
    if (fsync_path(path, O_RDONLY) != 0)
        return loco_error_set(LOCO_ERR_IO, "cannot fsync %s: %s", path, strerror(errno));
    if (rename(path, final_path) != 0)
        return loco_error_set(LOCO_ERR_IO, "cannot rename %s to %s: %s", path, final_path,
                              strerror(errno));
    char dir[LOCO_MODELS_PATH_MAX];
    if (models_copy(dir, sizeof dir, final_path) == LOCO_OK)
        fsync_path(dirname(dir), O_RDONLY | O_DIRECTORY); /* best effort */
    return LOCO_OK;
}

int models_lock(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return loco_error_set(LOCO_ERR_IO, "cannot open %s: %s", dir, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return loco_error_set(LOCO_ERR_IO,
                              "another `loco models pull` is writing to %s; wait for it to "
                              "finish",
                              dir);
    }
    return fd;
}

void models_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing releases the flock */
}
