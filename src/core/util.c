/*
 * util.c - file and path helpers (see core/util.h).
 */
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/sbuf.h"
#include "loco/core.h"
#include "loco/fileio.h"

/* ---- files ---------------------------------------------------------------- */

/* The rest of f (closed here) as in loco_read_file. */
static int read_stream(FILE *f, const char *path, size_t max_bytes, char **text, size_t *len)
{
    /* one byte past the limit tells "exactly max_bytes" from "more" */
    struct loco_sbuf b = {.max = max_bytes < SIZE_MAX / 2 ? max_bytes + 1 : 0};
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        loco_sbuf_reserve(&b, (size_t)st.st_size <= max_bytes ? (size_t)st.st_size : 0);
    char chunk[65536];
    size_t got;
    errno = 0;
    while (!b.failed && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        loco_sbuf_add(&b, chunk, got);
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (err || b.failed || b.len > max_bytes) {
        int rc;
        if (err)
            rc = loco_error_set(LOCO_ERR_IO, "cannot read %s: %s", path, strerror(err));
        else if (b.too_long || b.len > max_bytes)
            rc = loco_error_set(LOCO_ERR_RANGE, "%s is larger than %zu bytes", path, max_bytes);
        else
            rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", path);
        loco_sbuf_free(&b);
        return rc;
    }
    size_t n = b.len;
    *text = loco_sbuf_finish(&b);
    if (!*text)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", path);
    if (len)
        *len = n;
    return LOCO_OK;
}

/* Whether path names a descriptor this process already holds (/dev/stdin,
 * /dev/fd/N, /proc/self/fd/N): opening it never waits, so a pipe there is
 * read like a file (`loco report /dev/stdin`, a shell's `<(...)`). */
static bool names_own_descriptor(const char *path)
{
    return strcmp(path, "/dev/stdin") == 0 || strncmp(path, "/dev/fd/", 8) == 0 ||
           strncmp(path, "/proc/self/fd/", 14) == 0;
}

int loco_read_file(const char *path, size_t max_bytes, char **text, size_t *len)
{
    *text = NULL;
    if (path && names_own_descriptor(path)) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            int err = errno;
            return loco_error_set(err == ENOENT ? LOCO_ERR_NOT_FOUND : LOCO_ERR_IO,
                                  "cannot open %s: %s", path, strerror(err));
        }
        return read_stream(f, path, max_bytes, text, len);
    }
    /* anything else that is not a regular file (a named FIFO, a device, a
     * folder) is refused at once: a file that cannot be read */
    int rc = loco_read_regular_file(path, max_bytes, text, len);
    return rc == LOCO_ERR_INVALID ? LOCO_ERR_IO : rc;
}

int loco_read_regular_file(const char *path, size_t max_bytes, char **text, size_t *len)
{
    *text = NULL;
    FILE *f = NULL;
    int rc = loco_fopen_regular(path, &f);
    return rc ? rc : read_stream(f, path, max_bytes, text, len);
}

bool loco_write_all(int fd, const void *p, size_t n)
{
    const char *at = p;
    while (n > 0) {
        ssize_t w = write(fd, at, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        at += w;
        n -= (size_t)w;
    }
    return true;
}

/* ---- paths ---------------------------------------------------------------- */

void loco_dir_of(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, cap, ".");
    else if (slash == path)
        snprintf(buf, cap, "/");
    else
        snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

const char *loco_home_dir(void)
{
    const char *home = getenv("HOME");
    if (home && home[0])
        return home;
    const struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : NULL;
}

int loco_user_path(enum loco_user_base base, const char *sub, char *buf, size_t cap)
{
    const char *xdg = getenv(base == LOCO_USER_CACHE ? "XDG_CACHE_HOME" : "XDG_DATA_HOME");
    const char *fallback = base == LOCO_USER_CACHE ? "/.cache" : "/.local/share";
    const char *sep = sub && sub[0] ? "/" : "";
    sub = sub ? sub : "";
    const char *dir = xdg && xdg[0] == '/' ? xdg : loco_home_dir();
    if (!dir)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no home directory");
    size_t len = strlen(dir);
    while (len > 0 && dir[len - 1] == '/') /* "/data/" and "/" join without "//" */
        len--;
    int n = len < cap ? snprintf(buf, cap, "%.*s%s/locollm%s%s", (int)len, dir,
                                 dir == xdg ? "" : fallback, sep, sub)
                      : -1;
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "the path of locollm/%s is too long", sub);
    return LOCO_OK;
}

/* ---- network -------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_status = CURLE_OK;

static void curl_init_once(void)
{
    curl_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int loco_curl_init(void)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_status != CURLE_OK)
        return loco_error_set(LOCO_ERR_NETWORK, "curl_global_init failed: %s",
                              curl_easy_strerror(curl_status));
    return LOCO_OK;
}
