/* client.c - keep-alive HTTP/1.1 client connections on libuv (see
 * client.h).
 *
 * A connection is a small state machine: connecting, busy (one request
 * written, its answer being parsed), idle (kept alive, still reading so
 * that a server closing it is noticed at once rather than on the next
 * request), closing. Whatever ends a request - the answer, an error, the
 * timeout, client_close - goes through conn_finish, which is what makes
 * "exactly one callback per request" hold.
 *
 * The parser pauses at the end of each message: the server never sends an
 * answer we did not ask for, so bytes after it mean the connection is not
 * one to reuse.
 */
#include "loadtest/client.h"
#include "util/buf.h"
#include "util/xalloc.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_READ_SIZE     65536
#define CLIENT_MAX_KEPT_BODY (8u << 20) /* a kept body beyond this is cut, not grown */

typedef enum { CONN_CONNECTING, CONN_BUSY, CONN_IDLE, CONN_CLOSING } conn_state_t;

typedef struct conn conn_t;

struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_timer_t timer;
    http_parser parser;
    client_t *client;
    conn_t *prev, *next;
    conn_state_t state;
    int open_handles;
    bool connected;
    /* the request in flight */
    bool has_request;
    client_done_fn done;
    void *arg;
    buf_t out;
    buf_t body;
    bool keep_body;
    size_t body_bytes;
    bool complete;
    bool keep_alive;
    int status;
    uint64_t sent_ns;
};

struct client {
    uv_loop_t *loop;
    struct sockaddr_in addr;
    char *host_header;
    unsigned max_connections;
    uint64_t timeout_ms;
    conn_t *conns; /* every connection until its handles are closed */
    unsigned open; /* connections not closing */
    unsigned in_flight;
    uint64_t connects_ok, connects_failed;
    bool closing;
    uv_timer_t closer; /* closed last; its close callback frees the client */
    void (*closed_cb)(void *arg);
    void *closed_arg;
    char read_buf[CLIENT_READ_SIZE]; /* each read is consumed before the next */
};

static void conn_close(conn_t *conn);
static void on_closer_closed(uv_handle_t *h);

/* ---- ending a request ---- */

static void conn_finish(conn_t *conn, int status, int error)
{
    if (!conn->has_request)
        return;
    client_t *c = conn->client;
    conn->has_request = false;
    c->in_flight--;
    uv_timer_stop(&conn->timer);
    buf_append(&conn->body, "", 1); /* NUL for the callback */
    client_result_t r = {
        .status = status,
        .error = error,
        .connected = conn->connected,
        .body_bytes = conn->body_bytes,
        .body = conn->keep_body ? conn->body.data : NULL,
        .sent_ns = conn->sent_ns,
        .finished_ns = uv_hrtime(),
    };
    conn->done(conn->arg, &r);
    buf_reset(&conn->body);
}

static void conn_fail(conn_t *conn, int error)
{
    conn_finish(conn, 0, error);
    conn_close(conn);
}

/* ---- parser callbacks ---- */

static int on_body(http_parser *p, const char *at, size_t n)
{
    conn_t *conn = p->data;
    conn->body_bytes += n;
    if (conn->keep_body && conn->body.len + n <= CLIENT_MAX_KEPT_BODY)
        buf_append(&conn->body, at, n);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn_t *conn = p->data;
    conn->complete = true;
    conn->status = (int)p->status_code;
    conn->keep_alive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings response_settings = {
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- libuv callbacks ---- */

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *conn = h->data;
    if (--conn->open_handles > 0)
        return;
    client_t *c = conn->client;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        c->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    buf_free(&conn->out);
    buf_free(&conn->body);
    free(conn);
    if (c->closing && !c->conns && !uv_is_closing((uv_handle_t *)&c->closer))
        uv_close((uv_handle_t *)&c->closer, on_closer_closed);
}

static void conn_close(conn_t *conn)
{
    if (conn->state == CONN_CLOSING)
        return;
    conn->state = CONN_CLOSING;
    conn->client->open--;
    conn_finish(conn, 0, UV_ECANCELED);
    uv_read_stop((uv_stream_t *)&conn->tcp);
    uv_close((uv_handle_t *)&conn->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&conn->timer, on_handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *conn = h->data;
    (void)suggested;
    *buf = uv_buf_init(conn->client->read_buf, CLIENT_READ_SIZE);
}

/* The answer is whole: hand it over, then keep the connection for the
 * next request if both sides allow it. */
static void conn_answered(conn_t *conn, bool trailing_bytes)
{
    bool reuse = conn->keep_alive && !trailing_bytes;
    conn_finish(conn, conn->status, 0);
    if (conn->state == CONN_CLOSING) /* the callback closed the client */
        return;
    if (reuse && !conn->client->closing)
        conn->state = CONN_IDLE;
    else
        conn_close(conn);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *conn = s->data;
    if (conn->state == CONN_CLOSING || nread == 0)
        return;
    if (nread < 0) {
        if (conn->has_request && nread == UV_EOF) {
            /* An answer without a length ends at EOF. */
            http_parser_execute(&conn->parser, &response_settings, NULL, 0);
            if (conn->complete) {
                conn->keep_alive = false;
                conn_answered(conn, false);
                return;
            }
        }
        conn_fail(conn, (int)nread);
        return;
    }
    if (!conn->has_request || conn->complete) {
        conn_close(conn); /* bytes nobody asked for */
        return;
    }
    size_t used = http_parser_execute(&conn->parser, &response_settings, buf->base, (size_t)nread);
    if (conn->complete) {
        conn_answered(conn, used < (size_t)nread);
        return;
    }
    if (HTTP_PARSER_ERRNO(&conn->parser) != HPE_OK)
        conn_fail(conn, CLIENT_EBADRESPONSE);
}

static void on_write(uv_write_t *req, int status)
{
    conn_t *conn = req->data;
    if (status < 0 && conn->state != CONN_CLOSING)
        conn_fail(conn, status);
}

static void conn_write(conn_t *conn)
{
    http_parser_init(&conn->parser, HTTP_RESPONSE);
    conn->parser.data = conn;
    conn->state = CONN_BUSY;
    uv_buf_t b = uv_buf_init(conn->out.data, (unsigned)conn->out.len);
    int rc = uv_write(&conn->write_req, (uv_stream_t *)&conn->tcp, &b, 1, on_write);
    if (rc < 0)
        conn_fail(conn, rc);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *conn = req->data;
    client_t *c = conn->client;
    if (conn->state == CONN_CLOSING)
        return;
    if (status < 0) {
        c->connects_failed++;
        conn_fail(conn, status);
        return;
    }
    c->connects_ok++;
    conn->connected = true;
    uv_tcp_nodelay(&conn->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read);
    if (rc < 0) {
        conn_fail(conn, rc);
        return;
    }
    if (conn->has_request)
        conn_write(conn);
    else
        conn->state = CONN_IDLE;
}

static void on_timeout(uv_timer_t *t)
{
    conn_fail(t->data, UV_ETIMEDOUT);
}

/* ---- the pool ---- */

static conn_t *conn_open(client_t *c, int *err)
{
    conn_t *conn = xcalloc(1, sizeof(*conn));
    conn->client = c;
    conn->state = CONN_CONNECTING;
    uv_tcp_init(c->loop, &conn->tcp);
    uv_timer_init(c->loop, &conn->timer);
    conn->tcp.data = conn->timer.data = conn->connect_req.data = conn->write_req.data = conn;
    conn->open_handles = 2;
    conn->next = c->conns;
    if (c->conns)
        c->conns->prev = conn;
    c->conns = conn;
    c->open++;
    *err = uv_tcp_connect(&conn->connect_req, &conn->tcp, (const struct sockaddr *)&c->addr,
                          on_connect);
    if (*err < 0) {
        c->connects_failed++;
        conn_close(conn);
        return NULL;
    }
    return conn;
}

static void format_request(client_t *c, conn_t *conn, const client_request_t *req)
{
    buf_reset(&conn->out);
    buf_appendf(&conn->out, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: inferd-loadtest/%s\r\n",
                req->method, req->path, c->host_header, INFERD_VERSION);
    if (req->content_type)
        buf_appendf(&conn->out, "Content-Type: %s\r\nContent-Length: %zu\r\n", req->content_type,
                    req->body_len);
    buf_append_str(&conn->out, "\r\n");
    if (req->body_len)
        buf_append(&conn->out, req->body, req->body_len);
}

int client_send(client_t *c, const client_request_t *req, client_done_fn done, void *arg)
{
    if (c->closing)
        return UV_ECANCELED;
    conn_t *conn = NULL;
    for (conn_t *it = c->conns; it && !conn; it = it->next)
        if (it->state == CONN_IDLE)
            conn = it;
    if (!conn) {
        if (c->open >= c->max_connections)
            return CLIENT_EOVERFLOW;
        int err;
        conn = conn_open(c, &err);
        if (!conn)
            return err;
    }
    format_request(c, conn, req);
    conn->has_request = true;
    conn->done = done;
    conn->arg = arg;
    conn->keep_body = req->keep_body;
    conn->body_bytes = 0;
    conn->complete = false;
    conn->keep_alive = false;
    conn->status = 0;
    conn->sent_ns = uv_hrtime();
    c->in_flight++;
    uv_timer_start(&conn->timer, on_timeout, c->timeout_ms, 0);
    if (conn->state == CONN_IDLE)
        conn_write(conn);
    return 0;
}

client_t *client_new(uv_loop_t *loop, const struct sockaddr_in *addr, const char *host_header,
                     unsigned max_connections, uint64_t timeout_ms)
{
    client_t *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->addr = *addr;
    c->host_header = xstrdup(host_header);
    c->max_connections = max_connections ? max_connections : 1;
    c->timeout_ms = timeout_ms ? timeout_ms : 1;
    uv_timer_init(loop, &c->closer);
    c->closer.data = c;
    return c;
}

unsigned client_connections(const client_t *c)
{
    return c->open;
}

unsigned client_in_flight(const client_t *c)
{
    return c->in_flight;
}

void client_connect_counts(const client_t *c, uint64_t *ok, uint64_t *failed)
{
    *ok = c->connects_ok;
    *failed = c->connects_failed;
}

static void on_closer_closed(uv_handle_t *h)
{
    client_t *c = h->data;
    if (c->closed_cb)
        c->closed_cb(c->closed_arg);
    free(c->host_header);
    free(c);
}

void client_close(client_t *c, void (*done)(void *arg), void *arg)
{
    if (c->closing)
        return;
    c->closing = true;
    c->closed_cb = done;
    c->closed_arg = arg;
    /* Closing is asynchronous: the list only shrinks in close callbacks,
     * so walking it here is safe whatever the request callbacks do. */
    for (conn_t *conn = c->conns; conn; conn = conn->next)
        conn_close(conn);
    /* The last connection's close callback closes the closer; with none
     * open it goes now. */
    if (!c->conns)
        uv_close((uv_handle_t *)&c->closer, on_closer_closed);
}

const char *client_error_name(int error)
{
    switch (error) {
    case 0:
        return "";
    case UV_ECONNREFUSED:
        return "connection_refused";
    case UV_ETIMEDOUT:
        return "timeout";
    case CLIENT_EOVERFLOW:
        return "overflow";
    case CLIENT_EBADRESPONSE:
        return "bad_response";
    case UV_ECONNRESET:
        return "connection_reset";
    case UV_EOF:
        return "closed";
    case UV_ECANCELED:
        return "cancelled";
    case UV_EPIPE:
        return "broken_pipe";
    case UV_EHOSTUNREACH:
    case UV_ENETUNREACH:
        return "unreachable";
    case UV_EADDRNOTAVAIL:
        return "address_not_available";
    case UV_EMFILE:
    case UV_ENFILE:
        return "too_many_open_files";
    default:
        return "error";
    }
}

const char *client_strerror(int error)
{
    switch (error) {
    case CLIENT_EOVERFLOW:
        return "every connection is busy (raise --max-connections)";
    case CLIENT_EBADRESPONSE:
        return "the answer is not valid HTTP";
    case UV_ETIMEDOUT:
        return "timed out";
    case UV_EOF:
        return "the server closed the connection";
    default:
        return error < 0 && error > -4096 ? uv_strerror(error) : "unknown error";
    }
}
