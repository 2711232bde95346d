/* client.h - a small HTTP/1.1 client on libuv for the load generator.
 *
 * One client talks to one address. It keeps a pool of keep-alive
 * connections, each carrying one request at a time (no pipelining, so a
 * slow answer never holds up another request). A request goes to an idle
 * connection if there is one, else to a new connection while fewer than
 * max_connections are open; beyond that client_send refuses it with
 * CLIENT_EOVERFLOW, which an open-loop generator must count, not hide.
 *
 * Every request ends in exactly one call of its done callback: with the
 * HTTP status, or with status 0 and an error (a libuv error code such as
 * UV_ECONNREFUSED, UV_ETIMEDOUT when the per-request timeout passed, or
 * CLIENT_EBADRESPONSE). The timeout counts from client_send and covers
 * connecting, so a target that never answers cannot hold a run.
 *
 * Responses are parsed with http-parser in response mode; their body is
 * counted, and kept for the callback only when the request asks for it.
 *
 * Ownership: client_new / client_close. client_close fails whatever is
 * still in flight with UV_ECANCELED, closes every connection, calls its
 * done callback once all handles are closed, then frees the client.
 */
#ifndef INFERD_LOADTEST_CLIENT_H
#define INFERD_LOADTEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CLIENT_EOVERFLOW    (-100001) /* every connection busy, none may be added */
#define CLIENT_EBADRESPONSE (-100002) /* not a parsable HTTP response */

typedef struct client client_t;

typedef struct client_request {
    const char *method; /* "GET", "POST" */
    const char *path;
    const char *content_type; /* NULL: no body headers */
    const char *body;
    size_t body_len;
    bool keep_body; /* hand the response body to the callback */
} client_request_t;

typedef struct client_result {
    int status;        /* HTTP status, 0 when there is no answer */
    int error;         /* 0, or why there is no answer */
    bool connected;    /* a TCP connection was established for this request */
    size_t body_bytes; /* response body bytes received */
    const char *body;  /* keep_body only: NUL-terminated, valid during the callback */
    uint64_t sent_ns;  /* uv_hrtime at client_send */
    uint64_t finished_ns;
} client_result_t;

typedef void (*client_done_fn)(void *arg, const client_result_t *result);

/* addr is copied. host_header is the value of the Host header (copied).
 * timeout_ms > 0. */
client_t *client_new(uv_loop_t *loop, const struct sockaddr_in *addr, const char *host_header,
                     unsigned max_connections, uint64_t timeout_ms);

/* Sends a request (its strings are copied). Returns 0 and later calls
 * done(arg, result) exactly once; or returns CLIENT_EOVERFLOW, or a libuv
 * error when a connection could not even be begun, and never calls done. */
int client_send(client_t *c, const client_request_t *req, client_done_fn done, void *arg);

/* Connections open now, and requests awaiting an answer. */
unsigned client_connections(const client_t *c);
unsigned client_in_flight(const client_t *c);

/* Connection attempts that succeeded and that failed, since client_new. */
void client_connect_counts(const client_t *c, uint64_t *ok, uint64_t *failed);

/* A short lowercase name for an error code, for CSV cells:
 * "connection_refused", "timeout", "overflow", "bad_response",
 * "connection_reset", "closed", "cancelled", or libuv's name. */
const char *client_error_name(int error);

/* A sentence for people ("connection refused"). */
const char *client_strerror(int error);

void client_close(client_t *c, void (*done)(void *arg), void *arg);

#endif
