/*
 * remote_internal.h - what remote.c (the handle, the engine's kind and
 * models, the request body) and chat.c (the streamed answer) share: the
 * handle itself and one HTTP request with libcurl.
 */
#ifndef LOCO_REMOTE_INTERNAL_H
#define LOCO_REMOTE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "core/sbuf.h"
#include "loco/remote.h"

struct loco_remote {
    enum loco_remote_kind kind;
    char *url;  /* as given, without trailing '/' */
    char *root; /* url without a trailing "/v1": endpoints are root + "/v1/..." */
    char *auth; /* "Authorization: Bearer KEY", or NULL */
    long connect_s, total_s;
    size_t max_bytes;
    struct loco_remote_model *models; /* [n_models], strings owned */
    size_t n_models;
};

/* ---- one HTTP request -------------------------------------------------- */

/* A request's reply: status, body (capped at the handle's max_bytes),
 * and what the headers said. */
struct remote_reply {
    long status; /* 0: no answer */
    struct loco_sbuf body;
    bool loco_headers; /* an X-Loco-* header came back */
};

/* A curl handle for root + path with the handle's limits, its key and
 * JSON headers (*headers: free with curl_slist_free_all). NULL when curl
 * cannot make one. */
CURL *remote_curl(const struct loco_remote *r, const char *path, struct curl_slist **headers);
/* curl's header callback: sets reply->loco_headers on an X-Loco-* header. */
size_t remote_header_cb(char *data, size_t size, size_t n, void *reply);
/* GET root + path into *reply (free reply->body). LOCO_ERR_NETWORK when no
 * reply came (curl's reason); any HTTP status is a reply. */
int remote_get(const struct loco_remote *r, const char *path, struct remote_reply *reply);
/* "engine URL: HTTP 400: <the engine's message>" as this thread's error,
 * returning LOCO_ERR_NETWORK; 401 and 403 add the hint about the key. */
int remote_http_error(const struct loco_remote *r, const char *path, long status, const char *body,
                      size_t len);
/* The engine's message in an error body: OpenAI's {"error": {"message"}},
 * {"error": "..."}, vLLM's older {"object": "error", "message"}, FastAPI's
 * {"detail"}; else the body's first bytes, printable. Into buf. */
void remote_error_text(const char *body, size_t len, char *buf, size_t cap);

/* ---- the request -------------------------------------------------------- */

/* loco_remote_request_json with its status: *body malloc'd on LOCO_OK. */
int remote_request_body(struct loco_remote *r, const struct loco_remote_request *req, char **body);

#endif
