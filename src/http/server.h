/* server.h - HTTP/1.1 connection layer on libuv and http-parser.
 *
 * The server accepts connections, parses requests (keep-alive and
 * pipelining), enforces the size and time limits, and hands each complete
 * request to one handler. The handler answers at once or later (after a
 * worker replies) with http_respond(); answers on one connection are written
 * in request order whatever order they are produced in.
 *
 * Ownership: the server owns every http_request_t. A handler must call
 * http_respond() exactly once per request; that call frees the request.
 * If the client goes away first, the request stays valid until answered
 * (the answer is discarded) and http_request_abandoned() turns true.
 *
 * Errors the layer answers itself, with a JSON body
 * {"success": false, "error": CODE, "message": ...}, then closes:
 *   400 bad_request         unparsable request
 *   408 request_timeout     head or body not received within its timeout
 *   413 payload_too_large   body over max_body_bytes
 *   431 headers_too_large   request head over max_header_bytes
 */
#ifndef INFERD_HTTP_SERVER_H
#define INFERD_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_server http_server_t;
typedef struct http_request http_request_t;

typedef void (*http_handler_fn)(http_request_t *req, void *ctx);

typedef struct http_limits {
    size_t max_header_bytes;    /* request line + headers */
    size_t max_body_bytes;      /* 413 beyond */
    uint64_t header_timeout_ms; /* from first byte of a request to end of head */
    uint64_t body_timeout_ms;   /* from end of head to end of body */
    uint64_t idle_timeout_ms;   /* keep-alive connection with nothing pending */
    unsigned max_pipelined;     /* requests awaiting answers before reading pauses */
} http_limits_t;

/* Creates a server on loop; handler receives every complete request. */
http_server_t *http_server_new(uv_loop_t *loop, const http_limits_t *limits,
                               http_handler_fn handler, void *ctx);

/* Binds and listens on host:port (port 0 = any free port).
 * Returns 0, or -1 with a sentence in err. */
int http_server_listen(http_server_t *srv, const char *host, int port, char *err, size_t errlen);

/* The port actually bound (useful with port 0), or -1. */
int http_server_port(const http_server_t *srv);

/* Stops accepting new connections; open connections keep being served. */
void http_server_stop_accepting(http_server_t *srv);

/* Requests received and not yet answered, over all connections. */
size_t http_server_pending_requests(const http_server_t *srv);

/* Closes the listener and every connection (answers not yet written are
 * dropped), then calls done(arg) once all handles are closed. The server
 * frees itself after done returns; requests still unanswered stay valid
 * until answered. */
void http_server_close(http_server_t *srv, void (*done)(void *arg), void *arg);

/* --- Requests --- */

const char *http_request_method(const http_request_t *req); /* "GET", "POST", ... */
const char *http_request_path(const http_request_t *req);   /* raw path, without the query */
const char *http_request_query(const http_request_t *req);  /* after '?', "" when none */
/* Case-insensitive header lookup; NULL when absent. For repeated headers,
 * the values are joined with ", ". */
const char *http_request_header(const http_request_t *req, const char *name);
const char *http_request_body(const http_request_t *req, size_t *len); /* NUL-terminated */
/* Monotonic time (uv_hrtime, ns) at which the request was complete. */
uint64_t http_request_received_ns(const http_request_t *req);
/* True once the client connection has closed. */
bool http_request_abandoned(const http_request_t *req);

/* Per-request slot for the handler's own use (NULL at start). */
void http_request_set_data(http_request_t *req, void *data);
void *http_request_data(const http_request_t *req);

/* Answers req and frees it. body is copied. extra_headers, if not NULL, is
 * zero or more complete "Name: value\r\n" lines. Content-Length, Date and
 * Connection are added by the layer. */
void http_respond(http_request_t *req, int status, const char *content_type, const void *body,
                  size_t body_len, const char *extra_headers);

/* Answers with the JSON error shape every endpoint uses:
 * {"success": false, "error": code, "message": message}. */
void http_respond_error(http_request_t *req, int status, const char *code, const char *message,
                        const char *extra_headers);

/* Reason phrase for a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
