/*
 * serve-http.c - the HTTP side of `loco serve` on libmicrohttpd: one
 * thread per connection (a connection may wait for its answer), limits on
 * connections, idle time, header and body size, Bearer authentication, and
 * dispatch to the handlers of serve-api.c. A streamed answer is pulled by
 * libmicrohttpd through a content reader that waits for the scheduler.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "serve-page.h"
#include "serve.h"

/* Per request: its body as it arrives. */
struct upload {
    char *body;
    size_t len, cap;
    bool too_big;
    double t0;
};

/* ---- slow clients ------------------------------------------------------------ */

/* libmicrohttpd closes a connection that stays silent for --idle-timeout,
 * but a client that sends one byte now and then is never silent. So every
 * connection also gets a deadline for its request to arrive in full
 * (headers and body, --request-timeout after it opened or after its last
 * answer); a watchdog shuts down the socket of a connection past it. While
 * an answer is being made there is no deadline: a client that leaves then
 * is noticed by the handlers (serve_client_gone). */
struct watched {
    int fd;
    double deadline; /* loco_time_ms; 0: none */
    struct sockaddr_storage peer; /* who is on the other end of fd */
    socklen_t peer_len;
    struct watched *prev, *next;
};

/* Whether fd is still the connection x watched: libmicrohttpd may have
 * closed it a moment ago and the number gone to a new connection, which
 * must not be shut down for x's slowness. */
static bool same_peer(const struct watched *x)
{
    struct sockaddr_storage now;
    socklen_t len = sizeof now;
    return getpeername(x->fd, (struct sockaddr *)&now, &len) == 0 && len == x->peer_len &&
           memcmp(&now, &x->peer, len) == 0;
}

struct watchdog {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop;
    double window_ms;
    struct watched *head;
    atomic_ulong closed; /* connections shut down for being slow */
};

static void *watch_loop(void *arg)
{
    struct watchdog *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        double now = loco_time_ms();
        for (struct watched *c = w->head; c; c = c->next)
            if (c->deadline > 0 && now > c->deadline) {
                if (same_peer(c)) {
                    shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd then closes it */
                    atomic_fetch_add(&w->closed, 1);
                }
                c->deadline = 0;
            }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* armed: the connection's next request must be in within the window
 * (after an answer, the idle time libmicrohttpd allows comes on top, so a
 * quiet keep-alive connection is its to close); not armed: no deadline. */
static void watch_set(struct server *srv, struct MHD_Connection *c, bool armed)
{
    struct watchdog *w = srv->watch;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct watched *x = ci ? ci->socket_context : NULL;
    if (!w || !x)
        return;
    pthread_mutex_lock(&w->mu);
    x->deadline = armed ? loco_time_ms() + w->window_ms + 1e3 * srv->o.idle_timeout_s : 0;
    pthread_mutex_unlock(&w->mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct server *srv = cls;
    struct watchdog *w = srv->watch;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct watched *x = calloc(1, sizeof *x);
        if (!x || !ci) {
            free(x);
            return;
        }
        x->fd = ci->connect_fd;
        x->peer_len = sizeof x->peer;
        if (getpeername(x->fd, (struct sockaddr *)&x->peer, &x->peer_len) != 0)
            x->peer_len = 0; /* then never shut down: same_peer cannot match */
        pthread_mutex_lock(&w->mu);
        x->deadline = loco_time_ms() + w->window_ms;
        x->next = w->head;
        if (w->head)
            w->head->prev = x;
        w->head = x;
        pthread_mutex_unlock(&w->mu);
        *socket_context = x;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        struct watched *x = *socket_context;
        pthread_mutex_lock(&w->mu);
        if (x->prev)
            x->prev->next = x->next;
        else
            w->head = x->next;
        if (x->next)
            x->next->prev = x->prev;
        pthread_mutex_unlock(&w->mu);
        free(x);
        *socket_context = NULL;
    }
}

static bool watch_start(struct server *srv)
{
    struct watchdog *w = calloc(1, sizeof *w);
    if (!w)
        return false;
    w->window_ms = 1e3 * srv->o.request_timeout_s;
    if (pthread_mutex_init(&w->mu, NULL)) {
        free(w);
        return false;
    }
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, watch_loop, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return false;
    }
    srv->watch = w;
    return true;
}

static void watch_stop(struct server *srv)
{
    struct watchdog *w = srv->watch;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    while (w->head) { /* connections libmicrohttpd did not report closed */
        struct watched *x = w->head;
        w->head = x->next;
        free(x);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    srv->watch = NULL;
}

unsigned long serve_http_slow_closed(const struct server *srv)
{
    const struct watchdog *w = srv->watch;
    return w ? atomic_load(&((struct watchdog *)srv->watch)->closed) : 0;
}

/* ---- authentication ---------------------------------------------------------- */

/* Compare in time independent of where the strings differ. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

static bool authorized(const struct server *srv, struct MHD_Connection *c)
{
    if (!srv->o.api_key)
        return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7))
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    return same_secret(h, srv->o.api_key);
}

/* ---- replies ---------------------------------------------------------------- */

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    long n = serve_stream_read(cls, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)n;
}

static void free_stream(void *cls)
{
    serve_stream_free(cls);
}

static enum MHD_Result send_reply(struct server *srv, struct MHD_Connection *c, const char *path,
                                  struct serve_reply *r)
{
    if (r->status == 0) { /* the client left: close without an answer */
        free(r->body);
        return MHD_NO;
    }
    struct MHD_Response *resp;
    if (r->stream) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, r->stream,
                                                 free_stream);
        if (!resp) {
            serve_stream_free(r->stream);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    } else {
        resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"",
                                               r->body ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        if (!resp) {
            free(r->body);
            return MHD_NO;
        }
    }
    if (r->content_type)
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    for (int i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i][0], r->headers[i][1]);
    if (r->status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    loco_metrics_request(srv->metrics, path, r->status);
    return ok;
}

static enum MHD_Result send_error(struct server *srv, struct MHD_Connection *c, const char *path,
                                  int status, const char *fmt, const char *arg)
{
    struct loco_api_error err;
    loco_api_fail(&err, LOCO_ERR_INVALID, status, "", fmt, arg);
    struct serve_reply r = {0};
    serve_reply_error(&r, &err);
    if (status == 405)
        serve_reply_header(&r, "Allow", arg);
    return send_reply(srv, c, path, &r);
}

/* ---- dispatch ---------------------------------------------------------------- */

struct route {
    const char *path;
    const char *method;
    int kind; /* -1: not a generation endpoint */
};

static const struct route routes[] = {
    {"/v1/chat/completions", "POST", LOCO_API_CHAT},
    {"/v1/completions", "POST", LOCO_API_COMPLETION},
    {"/api/chat", "POST", LOCO_API_OLLAMA_CHAT},
    {"/api/generate", "POST", LOCO_API_OLLAMA_GENERATE},
    {"/v1/models", "GET", -1},
    {"/api/tags", "GET", -1},
    {"/loco/leaderboard", "GET", -1},
    {"/health", "GET", -1},
    {"/metrics", "GET", -1},
    {"/", "GET", -1},
    {"/index.html", "GET", -1},
};

static enum MHD_Result dispatch(struct server *srv, struct MHD_Connection *c, const char *url,
                                const char *method, struct upload *up)
{
    const struct route *rt = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (!strcmp(routes[i].path, url))
            rt = &routes[i];
    if (!rt)
        return send_error(srv, c, "other", 404, "no such endpoint: %s", url);
    bool head = !strcmp(method, "HEAD") && !strcmp(rt->method, "GET");
    if (strcmp(method, rt->method) && !head)
        return send_error(srv, c, rt->path, 405, "this endpoint takes %s", rt->method);
    bool open = !strcmp(rt->path, "/health") || !strcmp(rt->path, "/") ||
                !strcmp(rt->path, "/index.html");
    if (!open && !authorized(srv, c))
        return send_error(srv, c, rt->path, 401, "%s",
                          "a valid API key is required (Authorization: Bearer KEY)");
    if (up->too_big) {
        char limit[32];
        snprintf(limit, sizeof limit, "%zu", srv->o.max_body);
        return send_error(srv, c, rt->path, 413, "the body is larger than %s bytes", limit);
    }
    struct serve_reply r = {0};
    if (rt->kind >= 0) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct serve_conn sc = {.fd = ci ? ci->connect_fd : -1, .t0 = up->t0};
        serve_generate(srv, &sc, (enum loco_api_kind)rt->kind, up->body, up->len, &r);
    } else if (!strcmp(rt->path, "/v1/models")) {
        serve_models(srv, false, &r);
    } else if (!strcmp(rt->path, "/api/tags")) {
        serve_models(srv, true, &r);
    } else if (!strcmp(rt->path, "/loco/leaderboard")) {
        serve_leaderboard(srv, &r);
    } else if (!strcmp(rt->path, "/health")) {
        serve_health(srv, &r);
    } else if (!strcmp(rt->path, "/metrics")) {
        serve_metrics(srv, &r);
    } else {
        r.status = 200;
        r.content_type = "text/html; charset=utf-8";
        r.body = malloc(loco_web_index_len);
        if (r.body)
            memcpy(r.body, loco_web_index, loco_web_index_len);
        r.len = r.body ? loco_web_index_len : 0;
        r.status = r.body ? 200 : 500;
        serve_reply_header(&r, "Content-Security-Policy",
                           "default-src 'self'; script-src 'unsafe-inline'; "
                           "style-src 'unsafe-inline'; img-src 'self' data:");
    }
    return send_reply(srv, c, rt->path, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct server *srv = cls;
    struct upload *up = *con_cls;
    if (!up) { /* headers only so far */
        up = calloc(1, sizeof *up);
        if (!up)
            return MHD_NO;
        up->t0 = loco_time_ms();
        *con_cls = up;
        atomic_fetch_add(&srv->in_flight, 1); /* until on_completed */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > srv->o.max_body)
            up->too_big = true;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (up->too_big || up->len + n > srv->o.max_body) {
            up->too_big = true; /* keep reading, answer 413 at the end */
            free(up->body);
            up->body = NULL;
            up->len = up->cap = 0;
            return MHD_YES;
        }
        if (up->len + n + 1 > up->cap) {
            size_t cap = (up->cap ? up->cap * 2 : 4096);
            while (cap < up->len + n + 1)
                cap *= 2;
            char *b = realloc(up->body, cap);
            if (!b)
                return MHD_NO;
            up->body = b;
            up->cap = cap;
        }
        memcpy(up->body + up->len, upload_data, n);
        up->len += n;
        up->body[up->len] = '\0';
        return MHD_YES;
    }
    watch_set(srv, c, false); /* the request is in: no deadline while it is answered */
    return dispatch(srv, c, url, method, up);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct server *srv = cls;
    watch_set(srv, c, true); /* the next request on this connection */
    struct upload *up = *con_cls;
    if (up) {
        atomic_fetch_sub(&srv->in_flight, 1);
        free(up->body);
        free(up);
        *con_cls = NULL;
    }
}

/* ---- the daemon ------------------------------------------------------------- */

static bool loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

bool serve_http_start(struct server *srv)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", srv->o.port);
    int gai = getaddrinfo(srv->o.host, port, &hints, &ai);
    if (gai || !ai) {
        cli_errorf("cannot use --host %s: %s", srv->o.host, gai_strerror(gai));
        return false;
    }
    if (!loopback(ai->ai_addr) && !srv->o.api_key) {
        cli_errorf("--host %s is reachable from other machines: set an API key first "
                   "(--api-key KEY or LOCO_API_KEY), or serve on 127.0.0.1",
                   srv->o.host);
        freeaddrinfo(ai);
        return false;
    }
    if (!watch_start(srv)) {
        cli_errorf("cannot start the watchdog");
        freeaddrinfo(ai);
        return false;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | MHD_USE_SUPPRESS_DATE_NO_CLOCK;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)srv->o.port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
        ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->o.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)srv->o.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->o.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        watch_stop(srv);
        cli_errorf("cannot listen on %s port %d (in use, or not allowed)", srv->o.host,
                   srv->o.port);
        return false;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di && di->port ? di->port : srv->o.port;
    srv->http = d;
    srv->listen_fd = -1;
    return true;
}

void serve_http_quiesce(struct server *srv)
{
    if (srv->http && srv->listen_fd < 0) {
        MHD_socket s = MHD_quiesce_daemon(srv->http);
        srv->listen_fd = s == MHD_INVALID_SOCKET ? -1 : s;
    }
}

void serve_http_stop(struct server *srv)
{
    if (srv->http)
        MHD_stop_daemon(srv->http);
    srv->http = NULL;
    watch_stop(srv);
    /* a quiesced listening socket is closed only once the threads are gone */
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    srv->listen_fd = -1;
}
