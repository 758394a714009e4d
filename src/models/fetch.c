/*
 * fetch.c - downloads with libcurl.
 *
 * Two shapes: a small answer into memory (PyPI's JSON) and a large file
 * into "<name>.part" on disk. The file download resumes: when the .part
 * already holds bytes it asks for the rest with an HTTP Range request and
 * appends; a server that ignores the Range (answers 200, not 206) gets the
 * file truncated and rewritten from byte 0. Redirects are followed (Hugging
 * Face answers with one), HTTP errors fail the transfer, and a stalled
 * connection (under 1 KiB/s for 60 s) is dropped rather than hanging.
 *
 * Only http and https are accepted; file:// only when the caller allows it
 * (tests, and LOCO_ALLOW_FILE_URL=1), and never as a redirect target.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/sbuf.h"
#include "core/util.h"
#include "models_internal.h"

#define USER_AGENT "locollm/0.1 (+loco models pull)"

static bool has_scheme(const char *url, const char *scheme)
{
    size_t n = strlen(scheme);
    return strncasecmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3) == 0;
}

int models_check_url(const char *url, bool allow_file)
{
    if (has_scheme(url, "https") || has_scheme(url, "http"))
        return LOCO_OK;
    if (has_scheme(url, "file")) {
        if (allow_file)
            return LOCO_OK;
        return loco_error_set(LOCO_ERR_INVALID,
                              "file:// URLs are refused (%s); copy the file into the cache or "
                              "set LOCO_ALLOW_FILE_URL=1",
                              url);
    }
    return loco_error_set(LOCO_ERR_INVALID, "not an http(s) URL: %s", url);
}

/* A configured easy handle, or NULL with a message. */
static CURL *new_handle(const char *url, bool allow_file, char *errbuf, int *status)
{
    if ((*status = loco_curl_init()) != LOCO_OK)
        return NULL;
    CURL *c = curl_easy_init();
    if (!c) {
        *status = loco_error_set(LOCO_ERR_NOMEM, "libcurl could not create a handle");
        return NULL;
    }
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, allow_file ? "http,https,file" : "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

/* The message for a failed transfer. */
static int transfer_error(CURL *c, CURLcode cc, const char *url, const char *errbuf)
{
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_HTTP_RETURNED_ERROR)
        return loco_error_set(LOCO_ERR_NETWORK, "HTTP %ld from %s", code, url);
    return loco_error_set(LOCO_ERR_NETWORK, "download of %s failed: %s%s%s", url,
                          curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
}

/* ---- into memory -------------------------------------------------------- */

/* curl's write callback: the answer into a core/sbuf.h buffer; 0 (curl
 * stops) when it passes the buffer's max or memory ran out. */
static size_t mem_write(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct loco_sbuf *s = user;
    size_t n = size * nmemb;
    loco_sbuf_add(s, ptr, n);
    return s->failed ? 0 : n;
}

int models_fetch_mem(const char *url, bool allow_file, size_t cap, char **out, size_t *n_out)
{
    int rc = models_check_url(url, allow_file);
    if (rc)
        return rc;
    char errbuf[CURL_ERROR_SIZE];
    CURL *c = new_handle(url, allow_file, errbuf, &rc);
    if (!c)
        return rc;
    struct loco_sbuf s = {.max = cap > 1 ? cap - 1 : 1}; /* cap counts the NUL */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        if (s.too_long)
            rc =
                loco_error_set(LOCO_ERR_NOMEM, "answer from %s is larger than %zu bytes", url, cap);
        else
            rc = transfer_error(c, cc, url, errbuf);
        loco_sbuf_free(&s);
    } else {
        *n_out = s.len;
        *out = loco_sbuf_finish(&s);
        if (!*out)
            rc = LOCO_ERR_NOMEM;
    }
    curl_easy_cleanup(c);
    return rc;
}

/* ---- into a .part file -------------------------------------------------- */

struct file_sink {
    CURL *curl;
    int fd;
    const char *path;
    uint64_t resume_from; /* bytes already in the file when the transfer began */
    uint64_t total_hint;
    bool checked_status;
    int write_errno;
    bool cancelled;
    const struct models_progress *pr;
    const char *url;
};

static size_t file_write(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct file_sink *s = user;
    size_t n = size * nmemb;
    if (!s->checked_status) {
        s->checked_status = true;
        long code = 0;
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
        if (s->resume_from > 0 && code == 200) { /* Range ignored: whole file again */
            if (ftruncate(s->fd, 0) != 0) {
                s->write_errno = errno;
                return 0;
            }
            s->resume_from = 0;
        }
    }
    if (!loco_write_all(s->fd, ptr, n)) {
        s->write_errno = errno ? errno : EIO;
        return 0;
    }
    return n;
}

static int file_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)ultotal;
    (void)ulnow;
    struct file_sink *s = user;
    uint64_t total = dltotal > 0 ? s->resume_from + (uint64_t)dltotal : s->total_hint;
    if (models_report(s->pr, LOCO_MODELS_STAGE_DOWNLOAD, s->url, s->resume_from + (uint64_t)dlnow,
                      total)) {
        s->cancelled = true;
        return 1;
    }
    return 0;
}

static int finish_file_transfer(struct file_sink *s, CURLcode cc, const char *errbuf)
{
    long code = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_OK)
        return LOCO_OK;
    if (s->cancelled)
        return loco_error_set(LOCO_ERR_IO,
                              "download of %s cancelled; %s is kept and the next "
                              "pull resumes it",
                              s->url, s->path);
    if (s->write_errno)
        return loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", s->path,
                              strerror(s->write_errno));
    if (s->resume_from > 0 &&
        (cc == CURLE_BAD_DOWNLOAD_RESUME || (cc == CURLE_HTTP_RETURNED_ERROR && code == 416)))
        return MODELS_FETCH_RESTART;
    return transfer_error(s->curl, cc, s->url, errbuf);
}

int models_fetch_file(const char *url, const char *part_path, bool allow_file, uint64_t total_hint,
                      const struct models_progress *pr)
{
    int rc = models_check_url(url, allow_file);
    if (rc)
        return rc;
    int fd = open(part_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return loco_error_set(LOCO_ERR_IO, "cannot open %s: %s", part_path, strerror(errno));
    struct stat st;
    uint64_t have = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    char errbuf[CURL_ERROR_SIZE];
    CURL *c = new_handle(url, allow_file, errbuf, &rc);
    if (!c) {
        close(fd);
        return rc;
    }
    struct file_sink s = {.curl = c,
                          .fd = fd,
                          .path = part_path,
                          .resume_from = have,
                          .total_hint = total_hint,
                          .pr = pr,
                          .url = url};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, file_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, file_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (have > 0)
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
    CURLcode cc = curl_easy_perform(c);
    rc = finish_file_transfer(&s, cc, errbuf);
    curl_easy_cleanup(c);
    if (close(fd) != 0 && rc == LOCO_OK)
        rc = loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", part_path, strerror(errno));
    if (rc < 0 && models_file_size(part_path) == 0)
        unlink(part_path); /* nothing worth resuming */
    return rc;
}
