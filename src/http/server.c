/* server.c - HTTP/1.1 connection layer: libuv streams fed to http-parser.
 *
 * Each connection keeps its requests in a queue in arrival order. A request
 * joins the queue at its first byte and leaves it once its answer is handed
 * to uv_write, so an answer produced early waits for the ones before it. The
 * layer's own errors (400, 408, 413, 431) are answers placed in the same
 * queue, which is how they come after earlier pipelined answers.
 *
 * Requests and connections are decoupled: a request points to its connection
 * through a pointer cleared when the connection closes, so a handler that
 * answers late finds an abandoned request, never a freed connection.
 *
 * A complete request reaches the handler only after http_parser_execute has
 * returned (the parser pauses in on_message_complete). A handler that answers
 * at once therefore never re-enters the parser, and parser callbacks do no
 * I/O. Bytes left over when too many answers are outstanding wait in a
 * backlog that the connection's timer replays on a later loop turn, so
 * http_respond never calls the handler from inside itself.
 *
 * The process must ignore SIGPIPE (main does): libuv writes with write(2),
 * and a client that leaves before its answer is written would otherwise
 * kill the process instead of failing one write.
 */
#include "http/server.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <http_parser.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HTTP_BACKLOG   511
#define HTTP_LINGER_MS 2000 /* how long to drain a client after our final answer */
#define HTTP_READ_SIZE 65536

typedef struct http_conn http_conn_t;

typedef enum { PHASE_IDLE, PHASE_HEAD, PHASE_BODY } conn_phase_t;

typedef enum {
    TIMER_NONE,
    TIMER_RESUME, /* replay the backlog on the next loop turn */
    TIMER_HEAD,
    TIMER_BODY,
    TIMER_IDLE,
    TIMER_LINGER,
} timer_kind_t;

typedef struct http_header {
    char *name;
    char *value;
} http_header_t;

/* One uv_write and the bytes it sends; freed in the write callback. */
typedef struct http_out {
    uv_write_t req;
    uv_buf_t buf;
} http_out_t;

struct http_request {
    http_conn_t *conn;    /* NULL once the connection has closed */
    http_server_t *srv;   /* NULL once the server has been freed */
    http_request_t *next; /* connection queue, or the server's orphan list */
    http_request_t *prev; /* orphan list only */
    const char *method;
    const char *path;
    const char *query;
    buf_t url;
    http_header_t *headers;
    size_t nheaders;
    buf_t body;
    uint64_t received_ns;
    void *data;
    http_out_t *out; /* answer waiting for the ones before it */
    bool dispatched;
    bool answered;
    bool keep_alive;
    bool expect_continue;
};

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    http_server_t *srv;
    http_conn_t *prev, *next; /* server's connection list */
    http_parser parser;
    http_request_t *head, *tail; /* requests in arrival order */
    http_request_t *cur;         /* request being parsed */
    http_request_t *ready;       /* complete, handed over once the parser returns */
    buf_t hname, hvalue;         /* header line being parsed */
    buf_t backlog;               /* bytes read but not parsed while paused */
    size_t head_bytes;
    size_t unanswered; /* handed to the handler, not answered yet */
    size_t writes;     /* uv_writes in flight */
    int error_status;  /* set by a parser callback that rejects the request */
    int handles;       /* embedded handles not yet closed */
    conn_phase_t phase;
    timer_kind_t timer_kind;
    bool in_value;
    bool reading;
    bool read_done; /* no further request will be parsed */
    bool rejected;  /* an error answer is queued; nothing more is read */
    bool lingering; /* final answer queued, write side shut down */
    bool shut;
    bool peer_eof;
    bool closing;
};

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_idle_t closer; /* never started: its close gives http_server_close a
                       * callback even when nothing else is open */
    http_limits_t limits;
    http_handler_fn handler;
    void *ctx;
    http_conn_t *conns;
    http_request_t *orphans; /* unanswered requests whose connection closed */
    size_t pending;
    unsigned handles;
    bool listening;
    bool listener_closed;
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
    time_t date_sec;
    char date[40];
    char readbuf[HTTP_READ_SIZE];
};

static void conn_flush(http_conn_t *c);
static void conn_close(http_conn_t *c);
static void conn_update_timer(http_conn_t *c);

/* --- Responses --- */

const char *http_status_text(int status)
{
    const char *s = http_status_str((enum http_status)status);
    return strcmp(s, "<unknown>") == 0 ? "Unknown" : s;
}

/* RFC 9110 IMF-fixdate, formatted by hand so the locale cannot change it,
 * and at most once a second because every answer carries it. */
static const char *server_date(http_server_t *srv)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now == srv->date_sec)
        return srv->date;
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(srv->date, sizeof srv->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    srv->date_sec = now;
    return srv->date;
}

static http_out_t *out_from_buf(buf_t *b)
{
    http_out_t *out = xmalloc(sizeof *out);
    size_t len;
    char *data = buf_steal(b, &len);
    out->buf = uv_buf_init(data, (unsigned)len);
    return out;
}

static void out_free(http_out_t *out)
{
    free(out->buf.base);
    free(out);
}

static void append_decimal(buf_t *b, size_t v)
{
    char digits[24];
    size_t i = sizeof(digits);
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_append(b, digits + i, sizeof(digits) - i);
}

/* 1xx, 204 and 304 never carry a body, so they get no Content-Length
 * either (RFC 9110, 8.6); HEAD gets the length of the body it is not sent. */
static http_out_t *response_build(http_server_t *srv, int status, const char *content_type,
                                  const void *body, size_t body_len, const char *extra_headers,
                                  bool keep_alive, bool head_only)
{
    buf_t b = BUF_INIT;
    bool bodiless = status < 200 || status == 204 || status == 304;
    buf_reserve(&b, 200 + (head_only || bodiless ? 0 : body_len));
    /* Built from pieces rather than printf: this runs once per answer, and
     * formatting was a measurable share of a small answer's cost. */
    buf_append_str(&b, "HTTP/1.1 ");
    append_decimal(&b, (size_t)status);
    buf_append(&b, " ", 1);
    buf_append_str(&b, http_status_text(status));
    if (content_type) {
        buf_append_str(&b, "\r\nContent-Type: ");
        buf_append_str(&b, content_type);
    }
    if (!bodiless) {
        buf_append_str(&b, "\r\nContent-Length: ");
        append_decimal(&b, body_len);
    }
    buf_append_str(&b, "\r\nDate: ");
    buf_append_str(&b, server_date(srv));
    buf_append_str(&b, keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n");
    if (extra_headers)
        buf_append_str(&b, extra_headers);
    buf_append(&b, "\r\n", 2);
    if (!head_only && !bodiless)
        buf_append(&b, body, body_len);
    return out_from_buf(&b);
}

/* jansson refuses strings that are not UTF-8, and messages may quote what a
 * client sent; such bytes become '?' rather than losing the whole answer. */
static char *ascii_copy(const char *s)
{
    char *copy = xstrdup(s);
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    return copy;
}

static char *error_body_new(const char *code, const char *message)
{
    json_t *j = json_pack("{s:b, s:s, s:s}", "success", 0, "error", code, "message",
                          message ? message : "");
    if (!j) {
        char *safe = ascii_copy(message ? message : "");
        j = json_pack("{s:b, s:s, s:s}", "success", 0, "error", code, "message", safe);
        free(safe);
    }
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text) {
        fprintf(stderr, "error inferd: cannot serialise an error answer (out of memory)\n");
        abort();
    }
    return text;
}

static http_out_t *response_build_error(http_server_t *srv, int status, const char *code,
                                        const char *message, const char *extra_headers,
                                        bool keep_alive, bool head_only)
{
    char *body = error_body_new(code, message);
    http_out_t *out = response_build(srv, status, "application/json", body, strlen(body),
                                     extra_headers, keep_alive, head_only);
    free(body);
    return out;
}

/* --- Requests --- */

static http_request_t *request_new(http_conn_t *c)
{
    http_request_t *r = xcalloc(1, sizeof *r);
    r->conn = c;
    r->srv = c->srv;
    r->method = "";
    r->path = "";
    r->query = "";
    return r;
}

/* Frees what the handler could read; the struct itself may stay queued. */
static void request_release(http_request_t *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    r->headers = NULL;
    r->nheaders = 0;
    buf_free(&r->url);
    buf_free(&r->body);
    r->path = "";
    r->query = "";
}

static void request_free(http_request_t *r)
{
    request_release(r);
    if (r->out)
        out_free(r->out);
    free(r);
}

static void request_add_header(http_request_t *r, const char *name, const char *value)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        http_header_t *h = &r->headers[i];
        if (strcasecmp(h->name, name) != 0)
            continue;
        size_t old = strlen(h->value), add = strlen(value);
        h->value = xrealloc(h->value, old + 2 + add + 1);
        memcpy(h->value + old, ", ", 2);
        memcpy(h->value + old + 2, value, add + 1);
        return;
    }
    r->headers = xrealloc(r->headers, (r->nheaders + 1) * sizeof *r->headers);
    r->headers[r->nheaders].name = xstrdup(name);
    r->headers[r->nheaders].value = xstrdup(value);
    r->nheaders++;
}

static void request_split_url(http_request_t *r)
{
    if (!r->url.data)
        return;
    char *q = strchr(r->url.data, '?');
    if (q) {
        *q = '\0';
        r->query = q + 1;
    }
    r->path = r->url.data;
}

static void server_add_orphan(http_server_t *srv, http_request_t *r)
{
    r->prev = NULL;
    r->next = srv->orphans;
    if (srv->orphans)
        srv->orphans->prev = r;
    srv->orphans = r;
}

static void server_remove_orphan(http_server_t *srv, http_request_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        srv->orphans = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

const char *http_request_method(const http_request_t *req)
{
    return req->method;
}

const char *http_request_path(const http_request_t *req)
{
    return req->path;
}

const char *http_request_query(const http_request_t *req)
{
    return req->query;
}

const char *http_request_header(const http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    }
    return NULL;
}

const char *http_request_body(const http_request_t *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

uint64_t http_request_received_ns(const http_request_t *req)
{
    return req->received_ns;
}

bool http_request_abandoned(const http_request_t *req)
{
    return req->conn == NULL;
}

void http_request_set_data(http_request_t *req, void *data)
{
    req->data = data;
}

void *http_request_data(const http_request_t *req)
{
    return req->data;
}

void http_respond(http_request_t *req, int status, const char *content_type, const void *body,
                  size_t body_len, const char *extra_headers)
{
    http_conn_t *c = req->conn;
    if (req->srv)
        req->srv->pending--;
    if (!c) {
        if (req->srv)
            server_remove_orphan(req->srv, req);
        request_free(req);
        return;
    }
    c->unanswered--;
    bool head_only = strcmp(req->method, "HEAD") == 0;
    /* Once the server stops accepting, every answer closes its connection,
     * so that clients reconnect to a server that is staying up. */
    if (c->srv->listener_closed)
        req->keep_alive = false;
    req->out = response_build(c->srv, status, content_type, body, body_len, extra_headers,
                              req->keep_alive, head_only);
    req->answered = true;
    request_release(req);
    conn_flush(c);
}

void http_respond_error(http_request_t *req, int status, const char *code, const char *message,
                        const char *extra_headers)
{
    char *body = error_body_new(code, message);
    http_respond(req, status, "application/json", body, strlen(body), extra_headers);
    free(body);
}

/* --- Parser callbacks: they collect and check, and never do I/O --- */

static int conn_count_head(http_conn_t *c, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes <= c->srv->limits.max_header_bytes)
        return 0;
    c->error_status = 431;
    return -1;
}

static void conn_commit_header(http_conn_t *c)
{
    buf_append(&c->hname, "", 0); /* NUL-terminates even when empty */
    buf_append(&c->hvalue, "", 0);
    request_add_header(c->cur, c->hname.data, c->hvalue.data);
    buf_reset(&c->hname);
    buf_reset(&c->hvalue);
    c->in_value = false;
}

/* Opens the next request of c and makes it the one being parsed. */
static http_request_t *conn_start_request(http_conn_t *c)
{
    http_request_t *r = request_new(c);
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->cur = r;
    c->phase = PHASE_HEAD;
    c->head_bytes = 0;
    c->in_value = false;
    buf_reset(&c->hname);
    buf_reset(&c->hvalue);
    conn_update_timer(c);
    return r;
}

static int conn_on_message_begin(http_parser *p)
{
    conn_start_request(p->data);
    return 0;
}

static int conn_on_url(http_parser *p, const char *at, size_t n)
{
    http_conn_t *c = p->data;
    if (conn_count_head(c, n) < 0)
        return -1;
    buf_append(&c->cur->url, at, n);
    return 0;
}

static int conn_on_header_field(http_parser *p, const char *at, size_t n)
{
    http_conn_t *c = p->data;
    if (c->in_value)
        conn_commit_header(c);
    /* ": " and CRLF count once per line, when its name starts */
    if (conn_count_head(c, n + (c->hname.len == 0 ? 4 : 0)) < 0)
        return -1;
    buf_append(&c->hname, at, n);
    return 0;
}

static int conn_on_header_value(http_parser *p, const char *at, size_t n)
{
    http_conn_t *c = p->data;
    if (conn_count_head(c, n) < 0)
        return -1;
    c->in_value = true;
    buf_append(&c->hvalue, at, n);
    return 0;
}

static bool request_expects_continue(const http_request_t *r, const http_parser *p)
{
    const char *expect = http_request_header(r, "Expect");
    if (!expect || strcasecmp(expect, "100-continue") != 0)
        return false;
    if (p->http_major < 1 || (p->http_major == 1 && p->http_minor < 1))
        return false;
    return (p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
}

static int conn_on_headers_complete(http_parser *p)
{
    http_conn_t *c = p->data;
    http_request_t *r = c->cur;
    if (c->in_value || c->hname.len)
        conn_commit_header(c);
    r->method = http_method_str((enum http_method)p->method);
    request_split_url(r);
    /* Upgrades (and CONNECT) are not spoken here: answer, then close. */
    r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->srv->limits.max_body_bytes) {
        c->error_status = 413;
        return -1;
    }
    r->expect_continue = request_expects_continue(r, p);
    c->phase = PHASE_BODY;
    conn_update_timer(c);
    return 0;
}

static int conn_on_body(http_parser *p, const char *at, size_t n)
{
    http_conn_t *c = p->data;
    http_request_t *r = c->cur;
    if (r->body.len + n > c->srv->limits.max_body_bytes) {
        c->error_status = 413;
        return -1;
    }
    buf_append(&r->body, at, n);
    return 0;
}

static int conn_on_message_complete(http_parser *p)
{
    http_conn_t *c = p->data;
    http_request_t *r = c->cur;
    r->received_ns = uv_hrtime();
    c->ready = r;
    c->cur = NULL;
    c->phase = PHASE_IDLE;
    if (!r->keep_alive)
        c->read_done = true;
    /* Stop here so the request is handed over outside the parser. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = conn_on_message_begin,
    .on_url = conn_on_url,
    .on_header_field = conn_on_header_field,
    .on_header_value = conn_on_header_value,
    .on_headers_complete = conn_on_headers_complete,
    .on_body = conn_on_body,
    .on_message_complete = conn_on_message_complete,
};

/* --- Connections --- */

static bool conn_is_paused(const http_conn_t *c)
{
    return c->unanswered >= c->srv->limits.max_pipelined;
}

static bool conn_wants_read(const http_conn_t *c)
{
    if (c->closing || c->peer_eof)
        return false;
    if (c->lingering)
        return true; /* drain the client so close() does not reset our answer */
    if (c->rejected)
        return false;
    return c->backlog.len == 0 && !conn_is_paused(c);
}

static timer_kind_t conn_timer_kind(const http_conn_t *c)
{
    if (c->closing)
        return TIMER_NONE;
    if (c->shut)
        return TIMER_LINGER;
    if (c->backlog.len && !c->read_done && !conn_is_paused(c))
        return TIMER_RESUME;
    if (c->phase == PHASE_HEAD)
        return TIMER_HEAD;
    if (c->phase == PHASE_BODY)
        return TIMER_BODY;
    /* Requests being processed are never an idle connection. */
    return c->unanswered ? TIMER_NONE : TIMER_IDLE;
}

/* Delay in ms for kind; false when that timeout is disabled (0). */
static bool conn_timer_delay(const http_conn_t *c, timer_kind_t kind, uint64_t *ms)
{
    const http_limits_t *l = &c->srv->limits;
    switch (kind) {
    case TIMER_RESUME:
        *ms = 0;
        return true;
    case TIMER_HEAD:
        *ms = l->header_timeout_ms;
        break;
    case TIMER_BODY:
        *ms = l->body_timeout_ms;
        break;
    case TIMER_IDLE:
        *ms = l->idle_timeout_ms;
        break;
    case TIMER_LINGER:
        *ms = HTTP_LINGER_MS;
        break;
    case TIMER_NONE:
        return false;
    }
    return *ms > 0;
}

static void conn_on_timeout(uv_timer_t *t);

/* Restarts the timer only when what it measures changes, so a client that
 * trickles bytes does not push its own deadline back. */
static void conn_update_timer(http_conn_t *c)
{
    timer_kind_t kind = conn_timer_kind(c);
    if (kind == c->timer_kind)
        return;
    c->timer_kind = kind;
    uint64_t ms;
    if (conn_timer_delay(c, kind, &ms))
        uv_timer_start(&c->timer, conn_on_timeout, ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    http_conn_t *c = h->data;
    (void)suggested;
    /* One buffer per server: each read is parsed before the next arrives,
     * and leftovers are copied to the connection's backlog. */
    *buf = uv_buf_init(c->srv->readbuf, sizeof c->srv->readbuf);
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_sync_reading(http_conn_t *c)
{
    bool want = conn_wants_read(c);
    if (want == c->reading)
        return;
    if (want && uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) < 0) {
        conn_close(c);
        return;
    }
    if (!want)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = want;
}

static void conn_on_write(uv_write_t *w, int status)
{
    http_conn_t *c = w->data;
    out_free((http_out_t *)w);
    c->writes--;
    if (c->closing)
        return;
    if (status < 0 || (c->peer_eof && c->writes == 0)) {
        conn_close(c);
        return;
    }
    /* Progress restarts the idle clock, which also bounds a stalled reader. */
    if (c->timer_kind == TIMER_IDLE)
        c->timer_kind = TIMER_NONE;
    conn_update_timer(c);
}

static void conn_write(http_conn_t *c, http_out_t *out)
{
    out->req.data = c;
    if (uv_write(&out->req, (uv_stream_t *)&c->tcp, &out->buf, 1, conn_on_write) < 0) {
        out_free(out);
        conn_close(c);
        return;
    }
    c->writes++;
}

static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
    http_conn_t *c = req->data;
    if (c->closing)
        return;
    if (status < 0 || c->peer_eof) {
        conn_close(c);
        return;
    }
    c->shut = true;
    conn_update_timer(c);
}

/* After the final answer: send FIN once it is written and keep reading for a
 * while, since closing with unread input would reset the connection and
 * could destroy the answer before the client reads it. */
static void conn_begin_linger(http_conn_t *c)
{
    c->lingering = true;
    c->read_done = true;
    buf_free(&c->backlog);
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, conn_on_shutdown) < 0)
        conn_close(c);
}

static void conn_send_continue(http_conn_t *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    http_request_t *r = c->head;
    if (!r || r != c->cur || c->phase != PHASE_BODY || !r->expect_continue || r->body.len)
        return;
    r->expect_continue = false;
    buf_t b = BUF_INIT;
    buf_append(&b, msg, sizeof msg - 1);
    conn_write(c, out_from_buf(&b));
}

/* Writes every answer that is next in line, then settles reading and the
 * timer for the new state. */
static void conn_flush(http_conn_t *c)
{
    http_request_t *r;
    while (!c->closing && (r = c->head) && r->answered) {
        c->head = r->next;
        if (!c->head)
            c->tail = NULL;
        bool last = !r->keep_alive;
        http_out_t *out = r->out;
        r->out = NULL;
        request_free(r);
        conn_write(c, out);
        if (last && !c->closing) {
            conn_begin_linger(c);
            break;
        }
    }
    if (c->closing)
        return;
    conn_send_continue(c);
    conn_sync_reading(c);
    conn_update_timer(c);
}

static void conn_reject(http_conn_t *c, int status, const char *code, const char *message)
{
    http_request_t *r = c->cur ? c->cur : conn_start_request(c);
    log_debug("http", "rejecting request status=%d error=%s", status, code);
    request_release(r);
    r->keep_alive = false;
    r->out = response_build_error(c->srv, status, code, message, NULL, false, false);
    r->answered = true;
    c->cur = NULL;
    c->phase = PHASE_IDLE;
    c->rejected = true;
    c->read_done = true;
    buf_free(&c->backlog);
}

static void conn_reject_parse(http_conn_t *c, enum http_errno err)
{
    char msg[160];
    const http_limits_t *l = &c->srv->limits;
    int status = c->error_status ? c->error_status : err == HPE_HEADER_OVERFLOW ? 431 : 400;
    if (status == 413) {
        snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", l->max_body_bytes);
        conn_reject(c, 413, "payload_too_large", msg);
    } else if (status == 431) {
        snprintf(msg, sizeof msg, "request line and headers exceed the limit of %zu bytes",
                 l->max_header_bytes);
        conn_reject(c, 431, "headers_too_large", msg);
    } else {
        snprintf(msg, sizeof msg, "malformed HTTP request: %s", http_errno_description(err));
        conn_reject(c, 400, "bad_request", msg);
    }
}

static void conn_dispatch_ready(http_conn_t *c)
{
    http_request_t *r = c->ready;
    c->ready = NULL;
    r->dispatched = true;
    c->unanswered++;
    c->srv->pending++;
    c->srv->handler(r, c->srv->ctx);
}

/* Feeds bytes to the parser and hands each complete request over as soon as
 * the parser stops after it. Returns the bytes consumed: fewer than len when
 * too many answers are outstanding or no further request will be read. */
static size_t conn_parse(http_conn_t *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len && !c->closing && !c->read_done && !conn_is_paused(c)) {
        off += http_parser_execute(&c->parser, &parser_settings, data + off, len - off);
        enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
        if (err == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            conn_dispatch_ready(c);
        } else if (err != HPE_OK) {
            conn_reject_parse(c, err);
        } else if (off < len) {
            c->read_done = true; /* parser stopped at an upgrade */
        }
    }
    return off;
}

static void conn_on_read_end(http_conn_t *c, ssize_t status)
{
    c->peer_eof = true;
    conn_sync_reading(c);
    /* A client gone while requests are pending abandons them (as Go's
     * server does), so queued work for it can be dropped. One that only
     * stopped sending, with everything answered, gets its answers first:
     * the write or shutdown callback closes once they are out. */
    if (status != UV_EOF || c->unanswered) {
        conn_close(c);
        return;
    }
    if (c->lingering ? c->shut : c->writes == 0)
        conn_close(c);
}

static void conn_feed(http_conn_t *c, const char *data, size_t len)
{
    size_t used = conn_parse(c, data, len);
    if (c->closing)
        return;
    if (!c->read_done && used < len)
        buf_append(&c->backlog, data + used, len - used);
    conn_flush(c);
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    http_conn_t *c = s->data;
    if (nread < 0) {
        conn_on_read_end(c, nread);
        return;
    }
    if (nread == 0 || c->closing || c->read_done)
        return;         /* after the last request, input is drained and dropped */
    if (c->backlog.len) /* keep order should a read slip in while paused */
        buf_append(&c->backlog, buf->base, (size_t)nread);
    else
        conn_feed(c, buf->base, (size_t)nread);
}

/* The backlog is detached first: a handler answering during the parse may
 * end the connection's reading, and the bytes must not change under it. */
static void conn_resume(http_conn_t *c)
{
    buf_t in = c->backlog;
    c->backlog = (buf_t)BUF_INIT;
    conn_feed(c, in.data, in.len);
    buf_free(&in);
}

static void conn_on_timeout(uv_timer_t *t)
{
    http_conn_t *c = t->data;
    timer_kind_t kind = c->timer_kind;
    c->timer_kind = TIMER_NONE;
    switch (kind) {
    case TIMER_RESUME:
        conn_resume(c);
        return;
    case TIMER_HEAD:
        conn_reject(c, 408, "request_timeout", "request headers were not received in time");
        break;
    case TIMER_BODY:
        conn_reject(c, 408, "request_timeout", "request body was not received in time");
        break;
    case TIMER_IDLE:
    case TIMER_LINGER:
    case TIMER_NONE:
        conn_close(c);
        return;
    }
    conn_flush(c);
}

static void server_release_handle(http_server_t *srv);

static void conn_on_close(uv_handle_t *h)
{
    http_conn_t *c = h->data;
    if (--c->handles > 0)
        return;
    http_server_t *srv = c->srv;
    buf_free(&c->hname);
    buf_free(&c->hvalue);
    buf_free(&c->backlog);
    free(c);
    server_release_handle(srv);
}

/* Unanswered requests outlive the connection as orphans; anything else it
 * queued is dropped. */
static void conn_abandon_requests(http_conn_t *c)
{
    http_request_t *r = c->head;
    while (r) {
        http_request_t *next = r->next;
        if (r->dispatched && !r->answered) {
            r->conn = NULL;
            server_add_orphan(c->srv, r);
        } else {
            request_free(r);
        }
        r = next;
    }
    c->head = c->tail = c->cur = c->ready = NULL;
}

static void conn_close(http_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    conn_abandon_requests(c);
    http_server_t *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, conn_on_close);
    uv_close((uv_handle_t *)&c->timer, conn_on_close);
}

/* --- Server --- */

static void server_on_connection(uv_stream_t *listener, int status)
{
    http_server_t *srv = listener->data;
    if (status < 0) {
        log_warn("http", "accept failed error=%s", uv_strerror(status));
        return;
    }
    http_conn_t *c = xcalloc(1, sizeof *c);
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c->shutdown.data = c;
    c->handles = 2;
    srv->handles++;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_sync_reading(c);
    conn_update_timer(c);
}

http_server_t *http_server_new(uv_loop_t *loop, const http_limits_t *limits,
                               http_handler_fn handler, void *ctx)
{
    http_server_t *srv = xcalloc(1, sizeof *srv);
    srv->loop = loop;
    srv->limits = *limits;
    if (srv->limits.max_pipelined == 0)
        srv->limits.max_pipelined = 1;
    srv->handler = handler;
    srv->ctx = ctx;
    /* http-parser has its own, process-wide cap on head size; keep it from
     * rejecting heads our limit allows (the 431 check is ours). */
    if (limits->max_header_bytes >= HTTP_MAX_HEADER_SIZE)
        http_parser_set_max_header_size((uint32_t)(limits->max_header_bytes + 4096));
    uv_tcp_init(loop, &srv->listener);
    uv_idle_init(loop, &srv->closer);
    srv->listener.data = srv->closer.data = srv;
    srv->handles = 2;
    return srv;
}

static int server_parse_addr(const char *host, int port, struct sockaddr_storage *addr)
{
    char v6[64];
    size_t n = strlen(host);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)addr) == 0)
        return 0;
    if (n > 2 && n < sizeof v6 + 2 && host[0] == '[' && host[n - 1] == ']') {
        memcpy(v6, host + 1, n - 2);
        v6[n - 2] = '\0';
        host = v6;
    }
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr);
}

int http_server_listen(http_server_t *srv, const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    int rc;
    if (srv->listening || srv->listener_closed) {
        snprintf(err, errlen, "the server is already listening or has stopped accepting");
        return -1;
    }
    if (port < 0 || port > 65535) {
        snprintf(err, errlen, "port %d is out of range (0-65535)", port);
        return -1;
    }
    if (server_parse_addr(host, port, &addr) < 0) {
        snprintf(err, errlen, "host '%s' is not an IPv4 or IPv6 address", host);
        return -1;
    }
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, HTTP_BACKLOG, server_on_connection);
    if (rc < 0)
        goto fail;
    srv->listening = true;
    return 0;
fail:
    snprintf(err, errlen, "cannot listen on %s port %d: %s", host, port, uv_strerror(rc));
    return -1;
}

int http_server_port(const http_server_t *srv)
{
    struct sockaddr_storage addr;
    int len = sizeof addr;
    if (!srv->listening || srv->listener_closed)
        return -1;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&addr, &len) < 0)
        return -1;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

static void server_on_handle_close(uv_handle_t *h)
{
    server_release_handle(h->data);
}

static void server_release_handle(http_server_t *srv)
{
    srv->handles--;
    if (srv->handles > 0 || !srv->closing)
        return;
    if (srv->done)
        srv->done(srv->done_arg);
    /* Requests still unanswered stay valid; they just lose their server. */
    for (http_request_t *r = srv->orphans; r; r = r->next)
        r->srv = NULL;
    free(srv);
}

void http_server_stop_accepting(http_server_t *srv)
{
    if (srv->listener_closed)
        return;
    srv->listener_closed = true;
    uv_close((uv_handle_t *)&srv->listener, server_on_handle_close);
}

size_t http_server_pending_requests(const http_server_t *srv)
{
    return srv->pending;
}

void http_server_close(http_server_t *srv, void (*done)(void *arg), void *arg)
{
    if (srv->closing)
        return;
    srv->closing = true;
    srv->done = done;
    srv->done_arg = arg;
    http_server_stop_accepting(srv);
    while (srv->conns)
        conn_close(srv->conns);
    uv_close((uv_handle_t *)&srv->closer, server_on_handle_close);
}
