/* webhook.c - scaling-event notifications over plain HTTP (see webhook.h).
 *
 * A small state machine on the loop, one event at a time so that a
 * receiver sees events in the order they completed. One uv_timer serves
 * twice: while an attempt is under way it is that attempt's deadline, and
 * between attempts it starts the next one (at once, or after a backoff).
 * Each attempt owns a connection object (address lookup, TCP handle,
 * request bytes, the first bytes of the answer) that is detached from the
 * notifier the moment the attempt ends, whatever ended it, and frees
 * itself in its handle's close callback; late callbacks of a detached
 * attempt see no owner and do nothing. So a timeout, a shutdown and an
 * answer racing each other cannot touch freed memory.
 *
 * The answer is read only as far as its status line: the request says
 * "Connection: close" and the receiver's body is of no interest.
 *
 * A host-name lookup runs getaddrinfo on libuv's thread pool, which shares
 * its few threads with the file system and the history queries, and it
 * cannot be stopped once it runs: a hung resolver holds its thread past
 * the attempt's deadline. So at most one lookup of the notifier is ever in
 * flight (lookup_running, cleared by its callback whoever owns the conn by
 * then); an attempt that would start a second fails at once instead. IP
 * addresses are never looked up.
 */
#include "notify/webhook.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "webhook"

#define READ_MAX        1024  /* bytes of the answer kept: the status line is within */
#define DROP_LOG_GAP_MS 10000 /* at most one warning per drop reason in this time */
#define DROP_REASONS    4

typedef enum { DROP_FULL, DROP_RETRIES, DROP_DISABLED, DROP_SHUTDOWN } drop_reason_t;

static const char *const drop_names[DROP_REASONS] = {"buffer_full", "retries_exhausted",
                                                     "notifications_disabled", "shutdown"};

typedef struct conn conn_t;

typedef struct drop_log {
    uint64_t last_ms;
    bool logged;
    unsigned long unlogged; /* drops since the last warning of this reason */
} drop_log_t;

struct webhook {
    uv_loop_t *loop;
    const autoscaler_t *autoscaler;
    uv_timer_t timer; /* the attempt's deadline, or the start of the next one */
    bool timer_closed;
    bool closing;
    webhook_queue_t queue; /* waiting events (json objects, owned) */
    json_t *current;       /* the event being sent (owned), or NULL */
    int attempts;          /* made for current */
    conn_t *conn;          /* the attempt under way, or NULL */
    bool lookup_running;   /* a getaddrinfo of ours has not called back yet */
    webhook_stats_t stats;
    drop_log_t drop_log[DROP_REASONS];
};

/* One attempt's connection; owned by itself once detached (w == NULL). */
struct conn {
    webhook_t *w;        /* NULL once the attempt is over */
    webhook_t *notifier; /* never NULL: a lookup's callback runs before webhook_free */
    uv_getaddrinfo_t resolve;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    bool resolving; /* resolve is outstanding: its callback frees a detached conn */
    bool tcp_open;  /* tcp was initialised: its close callback frees the conn */
    char *request;
    size_t request_len;
    char answer[READ_MAX];
    size_t answer_len;
};

static void on_timer(uv_timer_t *timer);

/* ---- pure parts ---- */

int webhook_parse_url(const char *url, webhook_url_t *out)
{
    static const char scheme[] = "http://";
    memset(out, 0, sizeof(*out));
    if (!url || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return -1;
    const char *auth = url + sizeof(scheme) - 1;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth_len == 0 || auth_len >= sizeof(out->authority))
        return -1;
    memcpy(out->authority, auth, auth_len);

    const char *host = auth, *after;
    size_t host_len;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (!close || close == auth + 1)
            return -1;
        host = auth + 1;
        host_len = (size_t)(close - host);
        after = close + 1;
        out->ipv6 = true;
    } else {
        host_len = strcspn(auth, ":/?#");
        after = auth + host_len;
    }
    if (host_len == 0 || memchr(host, '@', host_len))
        return -1;
    memcpy(out->host, host, host_len);

    out->port = 80;
    const char *end = auth + auth_len;
    if (after < end) {
        if (*after != ':' || end - after < 2 || end - after > 6)
            return -1;
        long port = 0;
        for (const char *p = after + 1; p < end; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535)
            return -1;
        out->port = (int)port;
    }

    size_t path_len = strcspn(end, "#");
    bool slash = end[0] != '/';
    if (path_len + slash >= sizeof(out->path))
        return -1;
    snprintf(out->path, sizeof(out->path), "%s%.*s", slash ? "/" : "", (int)path_len, end);
    return 0;
}

int webhook_backoff_ms(int retry)
{
    if (retry < 1 || retry > WEBHOOK_MAX_RETRIES)
        return -1;
    return WEBHOOK_BACKOFF_BASE_MS << (retry - 1);
}

bool webhook_should_send(const json_t *event, store_event_phase_t phase)
{
    if (!json_is_object(event))
        return false;
    if (phase == STORE_EVENT_FINISHED)
        return true;
    return json_is_boolean(json_object_get(event, "success"));
}

/* "HTTP/1.x NNN" then a space or CR; returns its length (13), 0 when more
 * bytes are needed, -1 when it cannot be one. */
static int status_line_start(const char *buf, size_t len, int *status)
{
    /* d: a digit; e: a space or CR; anything else: itself. */
    static const char shape[] = "HTTP/1.d ddde";
    const size_t need = sizeof(shape) - 1;
    for (size_t i = 0; i < len && i < need; i++) {
        char c = buf[i];
        bool ok;
        if (shape[i] == 'd')
            ok = c >= '0' && c <= '9';
        else if (shape[i] == 'e')
            ok = c == ' ' || c == '\r';
        else
            ok = c == shape[i];
        if (!ok)
            return -1;
    }
    if (len < need)
        return 0;
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    return *status >= 100 && *status <= 599 ? (int)need : -1;
}

int webhook_parse_status(const char *buf, size_t len)
{
    /* An interim 1xx answer (only possible if a receiver sends one
     * unasked) ends with an empty line; the final answer follows it. */
    for (;;) {
        int status = 0;
        int n = status_line_start(buf, len, &status);
        if (n <= 0)
            return n;
        if (status >= 200)
            return status;
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (!end)
            return 0;
        len -= (size_t)(end + 4 - buf);
        buf = end + 4;
    }
}

void webhook_queue_init(webhook_queue_t *q, size_t capacity)
{
    memset(q, 0, sizeof(*q));
    if (capacity < 1)
        capacity = 1;
    q->capacity = capacity > WEBHOOK_BUFFER_EVENTS ? WEBHOOK_BUFFER_EVENTS : capacity;
}

void *webhook_queue_push(webhook_queue_t *q, void *item)
{
    void *out = NULL;
    if (q->count == q->capacity)
        out = webhook_queue_pop(q);
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    return out;
}

void *webhook_queue_pop(webhook_queue_t *q)
{
    if (q->count == 0)
        return NULL;
    void *item = q->items[q->head];
    q->items[q->head] = NULL;
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    return item;
}

/* ---- settings, counters, drops ---- */

/* The URL to send to now, or NULL when notifications are off. */
static const char *live_url(const webhook_t *w)
{
    if (w->closing)
        return NULL;
    const autoscaler_config_t *cfg = autoscaler_config(w->autoscaler);
    if (!cfg->advanced.scaling_notifications_enabled || !cfg->advanced.external_metrics_webhook[0])
        return NULL;
    return cfg->advanced.external_metrics_webhook;
}

static const char *event_str(const json_t *event, const char *key)
{
    const char *s = json_string_value(json_object_get(event, key));
    return s ? s : "-";
}

/* Counts and, at most once per DROP_LOG_GAP_MS and reason, logs a dropped
 * event; then frees it. */
static void drop_event(webhook_t *w, json_t *event, drop_reason_t why)
{
    switch (why) {
    case DROP_FULL:
        w->stats.dropped_buffer_full++;
        break;
    case DROP_RETRIES:
        w->stats.dropped_after_retries++;
        break;
    case DROP_DISABLED:
        w->stats.dropped_disabled++;
        break;
    case DROP_SHUTDOWN:
        break;
    }
    uint64_t now = uv_now(w->loop);
    if (why != DROP_SHUTDOWN) {
        drop_log_t *dl = &w->drop_log[why];
        if (!dl->logged || now - dl->last_ms >= DROP_LOG_GAP_MS) {
            log_warn(MOD,
                     "scaling event notification dropped reason=%s id=%s type=%s model=%s "
                     "last_error=\"%s\" not_logged_since_last_warning=%lu",
                     drop_names[why], event_str(event, "id"), event_str(event, "type"),
                     event_str(event, "model"), why == DROP_RETRIES ? w->stats.last_error : "",
                     dl->unlogged);
            dl->logged = true;
            dl->last_ms = now;
            dl->unlogged = 0;
        } else {
            dl->unlogged++;
        }
    }
    json_decref(event);
}

/* ---- one attempt ---- */

static void free_conn(conn_t *c)
{
    free(c->request);
    free(c);
}

static void on_conn_closed(uv_handle_t *handle)
{
    free_conn(handle->data);
}

/* Ends the attempt's hold on the connection; the connection frees itself
 * once libuv is done with it. */
static void detach(webhook_t *w)
{
    conn_t *c = w->conn;
    if (!c)
        return;
    w->conn = NULL;
    c->w = NULL;
    if (c->tcp_open)
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    else if (c->resolving)
        uv_cancel((uv_req_t *)&c->resolve); /* on_resolved frees it either way */
    else
        free_conn(c);
}

static void schedule(webhook_t *w, uint64_t delay_ms)
{
    uv_timer_start(&w->timer, on_timer, delay_ms, 0);
}

/* what, or "what: detail", says why in health's last_error. */
static void attempt_failed(webhook_t *w, const char *what, const char *detail)
{
    detach(w);
    w->stats.failed_attempts++;
    snprintf(w->stats.last_error, sizeof(w->stats.last_error), "%s%s%s", what, detail ? ": " : "",
             detail ? detail : "");
    log_debug(MOD, "attempt failed attempt=%d error=\"%s\"", w->attempts, w->stats.last_error);
    int pause = webhook_backoff_ms(w->attempts);
    if (pause >= 0) {
        schedule(w, (uint64_t)pause);
        return;
    }
    drop_event(w, w->current, DROP_RETRIES);
    w->current = NULL;
    schedule(w, 0);
}

static void attempt_answered(webhook_t *w, int status)
{
    w->stats.last_status = status;
    if (status < 200 || status > 299) {
        char code[16];
        snprintf(code, sizeof(code), "%d", status);
        attempt_failed(w, "HTTP status", code);
        return;
    }
    detach(w);
    w->stats.delivered++;
    log_debug(MOD, "delivered id=%s attempt=%d", event_str(w->current, "id"), w->attempts);
    json_decref(w->current);
    w->current = NULL;
    schedule(w, 0);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = handle->data;
    (void)suggested;
    *buf = uv_buf_init(c->answer + c->answer_len, (unsigned)(sizeof(c->answer) - c->answer_len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = stream->data;
    (void)buf;
    if (!c->w || nread == 0)
        return;
    if (nread < 0) {
        attempt_failed(c->w, nread == UV_EOF ? "connection closed before a status line" : "receive",
                       nread == UV_EOF ? NULL : uv_strerror((int)nread));
        return;
    }
    c->answer_len += (size_t)nread;
    int status = webhook_parse_status(c->answer, c->answer_len);
    if (status == 0 && c->answer_len == sizeof(c->answer))
        status = -1;
    if (status < 0)
        attempt_failed(c->w, "the answer is not an HTTP/1.x response", NULL);
    else if (status > 0)
        attempt_answered(c->w, status);
}

static void on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    if (c->w && status < 0)
        attempt_failed(c->w, "send", uv_strerror(status));
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    if (!c->w)
        return;
    if (status < 0) {
        attempt_failed(c->w, "connect", uv_strerror(status));
        return;
    }
    uv_buf_t buf = uv_buf_init(c->request, (unsigned)c->request_len);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc == 0)
        rc = uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc < 0)
        attempt_failed(c->w, "send", uv_strerror(rc));
}

static void start_connect(conn_t *c, const struct sockaddr *addr)
{
    int rc = uv_tcp_init(c->w->loop, &c->tcp);
    if (rc < 0) {
        attempt_failed(c->w, "socket", uv_strerror(rc));
        return;
    }
    c->tcp_open = true;
    c->tcp.data = c;
    c->connect.data = c;
    c->write.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    rc = uv_tcp_connect(&c->connect, &c->tcp, addr, on_connect);
    if (rc < 0)
        attempt_failed(c->w, "connect", uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    conn_t *c = req->data;
    c->resolving = false;
    c->notifier->lookup_running = false;
    if (!c->w) {
        uv_freeaddrinfo(res);
        free_conn(c);
        return;
    }
    if (status < 0 || !res)
        attempt_failed(c->w, "resolve", status < 0 ? uv_strerror(status) : "no address");
    else
        start_connect(c, res->ai_addr);
    uv_freeaddrinfo(res);
}

/* The request bytes for the current event's next attempt (xmalloc'd). */
static char *build_request(webhook_t *w, const webhook_url_t *u, size_t *len)
{
    char sent_at[TIME_ISO_LEN];
    time_format_iso(time_unix_now(), sent_at);
    json_t *doc = json_pack("{s:s, s:O, s:s, s:i}", "type", "scaling_event", "event", w->current,
                            "sent_at", sent_at, "attempt", w->attempts);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!body) {
        fprintf(stderr, "inferd: out of memory\n");
        abort();
    }
    size_t body_len = strlen(body);
    const char *fmt = "POST %s HTTP/1.1\r\n"
                      "Host: %s\r\n"
                      "User-Agent: inferd/" INFERD_VERSION "\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n"
                      "Connection: close\r\n"
                      "\r\n";
    int head = snprintf(NULL, 0, fmt, u->path, u->authority, body_len);
    char *out = xmalloc((size_t)head + body_len + 1);
    snprintf(out, (size_t)head + 1, fmt, u->path, u->authority, body_len);
    memcpy(out + head, body, body_len + 1);
    free(body);
    *len = (size_t)head + body_len;
    return out;
}

/* Takes the next event (unless a retry is due) and starts an attempt. */
static void start_attempt(webhook_t *w)
{
    webhook_url_t u;
    for (;;) {
        if (!w->current) {
            w->current = webhook_queue_pop(&w->queue);
            w->attempts = 0;
            if (!w->current)
                return;
        }
        const char *url = live_url(w);
        if (url && webhook_parse_url(url, &u) == 0)
            break;
        /* Turned off (or the URL went) while the event waited: what the
         * live configuration says now is what counts. */
        drop_event(w, w->current, DROP_DISABLED);
        w->current = NULL;
    }

    w->attempts++;
    conn_t *c = xcalloc(1, sizeof(*c));
    c->w = w;
    c->notifier = w;
    c->request = build_request(w, &u, &c->request_len);
    w->conn = c;
    schedule(w, WEBHOOK_TIMEOUT_MS);

    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    if (!u.ipv6 && uv_ip4_addr(u.host, u.port, &addr.in4) == 0) {
        start_connect(c, &addr.sa);
        return;
    }
    if (u.ipv6) {
        if (uv_ip6_addr(u.host, u.port, &addr.in6) == 0)
            start_connect(c, &addr.sa);
        else
            attempt_failed(w, "not a valid IPv6 address", NULL);
        return;
    }
    /* A host name: looked up on libuv's thread pool, not on the loop, and
     * never two at once (see the top of the file). */
    if (w->lookup_running) {
        attempt_failed(w, "a host-name lookup is still running", NULL);
        return;
    }
    char service[8];
    snprintf(service, sizeof(service), "%d", u.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
    c->resolve.data = c;
    int rc = uv_getaddrinfo(w->loop, &c->resolve, on_resolved, u.host, service, &hints);
    if (rc < 0) {
        attempt_failed(w, "resolve", uv_strerror(rc));
    } else {
        c->resolving = true;
        w->lookup_running = true;
    }
}

static void on_timer(uv_timer_t *timer)
{
    webhook_t *w = timer->data;
    if (w->conn) {
        char limit[32];
        snprintf(limit, sizeof(limit), "%d ms", WEBHOOK_TIMEOUT_MS);
        attempt_failed(w, "no status line within", limit);
        return;
    }
    start_attempt(w);
}

/* ---- the public face ---- */

webhook_t *webhook_new(uv_loop_t *loop, const autoscaler_t *autoscaler)
{
    webhook_t *w = xcalloc(1, sizeof(*w));
    w->loop = loop;
    w->autoscaler = autoscaler;
    webhook_queue_init(&w->queue, WEBHOOK_BUFFER_EVENTS);
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    return w;
}

/* Drops every event waiting in the buffer (not the one being sent);
 * returns how many. */
static size_t drop_waiting(webhook_t *w, drop_reason_t why)
{
    size_t dropped = 0;
    json_t *event;
    while ((event = webhook_queue_pop(&w->queue))) {
        drop_event(w, event, why);
        dropped++;
    }
    return dropped;
}

void webhook_observe_event(const json_t *event, store_event_phase_t phase, void *ctx)
{
    webhook_t *w = ctx;
    if (w->closing)
        return;
    if (!live_url(w)) {
        /* Notifications were turned off (every accepted change is itself an
         * event, so this runs at once): what waits is dropped now, not at
         * the next attempt, which a new URL set meanwhile would receive. */
        drop_waiting(w, DROP_DISABLED);
        return;
    }
    if (!webhook_should_send(event, phase))
        return;
    json_t *copy = json_deep_copy(event);
    if (!copy) {
        fprintf(stderr, "inferd: out of memory\n");
        abort();
    }
    json_t *pushed_out = webhook_queue_push(&w->queue, copy);
    if (pushed_out)
        drop_event(w, pushed_out, DROP_FULL);
    /* Idle: start from the loop's next turn, not inside the store's write. */
    if (!w->current && !uv_is_active((uv_handle_t *)&w->timer))
        schedule(w, 0);
}

static void on_timer_closed(uv_handle_t *handle)
{
    webhook_t *w = handle->data;
    w->timer_closed = true;
}

void webhook_close(webhook_t *w)
{
    if (!w || w->closing)
        return;
    w->closing = true;
    detach(w);
    size_t dropped = 0;
    if (w->current) {
        drop_event(w, w->current, DROP_SHUTDOWN);
        w->current = NULL;
        dropped++;
    }
    dropped += drop_waiting(w, DROP_SHUTDOWN);
    if (dropped > 0)
        log_warn(MOD, "undelivered scaling event notifications dropped at shutdown count=%zu",
                 dropped);
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

void webhook_free(webhook_t *w)
{
    if (!w)
        return;
    if (!w->timer_closed) {
        /* Freeing now would leave the loop a dangling timer. */
        log_error(MOD, "webhook_free before the loop closed the timer; leaking it");
        return;
    }
    free(w);
}

void webhook_get_stats(const webhook_t *w, webhook_stats_t *out)
{
    *out = w->stats;
    out->active = live_url(w) != NULL;
    out->queued = w->queue.count + (w->current ? 1 : 0);
}

json_t *webhook_stats_json(const webhook_t *w)
{
    if (!w)
        return json_null();
    webhook_stats_t st;
    webhook_get_stats(w, &st);
    return json_pack(
        "{s:b, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "active", st.active, "queued",
        (json_int_t)st.queued, "buffer_capacity", WEBHOOK_BUFFER_EVENTS, "delivered",
        (json_int_t)st.delivered, "failed_attempts", (json_int_t)st.failed_attempts,
        "dropped_buffer_full", (json_int_t)st.dropped_buffer_full, "dropped_after_retries",
        (json_int_t)st.dropped_after_retries, "dropped_disabled", (json_int_t)st.dropped_disabled,
        "last_status", st.last_status ? json_integer(st.last_status) : json_null(), "last_error",
        st.last_error[0] ? json_string(st.last_error) : json_null());
}
