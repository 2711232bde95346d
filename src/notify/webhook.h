/* webhook.h - scaling events POSTed as JSON to an HTTP receiver.
 *
 * With advanced.scaling_notifications_enabled true and
 * advanced.external_metrics_webhook set, every scaling event of the store
 * is sent, once complete, as
 *
 *   {"type": "scaling_event", "event": {...}, "sent_at": "...Z", "attempt": n}
 *
 * in an HTTP/1.1 POST (Content-Type: application/json, User-Agent:
 * inferd/VERSION, Connection: close). A 2xx status is a delivery; any other
 * status, a connection error or no status within WEBHOOK_TIMEOUT_MS is a
 * failed attempt, retried WEBHOOK_MAX_RETRIES times after growing pauses,
 * then the event is dropped and counted. Events go one at a time, in order,
 * from a bounded buffer: when it is full the oldest waiting event is
 * dropped and counted. Everything runs on the loop without waiting, so a
 * dead or stuck receiver never slows the server.
 *
 * An IP address in the URL is connected to as it is; a host name is looked
 * up (getaddrinfo on libuv's thread pool) at each attempt, and at most one
 * such lookup is ever in flight: a hung resolver keeps its pool thread past
 * the attempt's deadline, so while the previous lookup has not returned,
 * an attempt fails at once ("a host-name lookup is still running") and
 * counts as a failed attempt, retried after the usual pause.
 *
 * Both settings are read from the live configuration when an event arrives
 * and again before each attempt, so a change applies to the next delivery.
 */
#ifndef INFERD_WEBHOOK_H
#define INFERD_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "autoscaler/autoscaler.h"
#include "store/store.h"

#define WEBHOOK_BUFFER_EVENTS   256  /* events waiting, the one being sent not included */
#define WEBHOOK_TIMEOUT_MS      2000 /* per attempt: resolve, connect, send, status line */
#define WEBHOOK_MAX_RETRIES     3    /* after the first attempt */
#define WEBHOOK_BACKOFF_BASE_MS 500  /* pause before retry k: base * 2^(k-1) */

typedef struct webhook webhook_t;

/* A notifier that reads its settings from autoscaler's live configuration;
 * the autoscaler must outlive webhook_close. Register it on the store with
 * store_add_event_observer(store, webhook_observe_event, w). */
webhook_t *webhook_new(uv_loop_t *loop, const autoscaler_t *autoscaler);

/* The store observer (ctx is the webhook_t). Copies what it keeps. */
void webhook_observe_event(const json_t *event, store_event_phase_t phase, void *ctx);

/* Stops at shutdown: the attempt under way is abandoned, every event not
 * yet delivered is dropped (logged with its count) and the handles are
 * closed; events observed afterwards are ignored. Never waits, but a
 * host-name lookup already running on the thread pool cannot be stopped:
 * the loop ends once it returns (bounded by the resolver's own timeout). */
void webhook_close(webhook_t *w);

/* Frees a closed notifier once the loop has run its close callbacks (after
 * uv_run returned), and after the store it observes is closed. */
void webhook_free(webhook_t *w);

/* ---- what GET /autoscaler/health reports ---- */

typedef struct webhook_stats {
    bool active;                    /* notifications on and a URL set, now */
    size_t queued;                  /* waiting now, the one being sent included */
    uint64_t delivered;             /* answered 2xx */
    uint64_t failed_attempts;       /* every attempt that failed, retried or not */
    uint64_t dropped_buffer_full;   /* oldest waiting event pushed out */
    uint64_t dropped_after_retries; /* every attempt failed */
    uint64_t dropped_disabled;      /* waiting when notifications were turned off */
    int last_status;                /* HTTP status of the latest answer; 0 before one */
    char last_error[160];           /* why the latest attempt failed; "" before one */
} webhook_stats_t;

void webhook_get_stats(const webhook_t *w, webhook_stats_t *out);

/* The counters as the health document's "notifications" object (a new
 * reference); JSON null when w is NULL. */
json_t *webhook_stats_json(const webhook_t *w);

/* ---- pure parts (no I/O, no clock), exposed for the tests ---- */

typedef struct webhook_url {
    char host[512];      /* name or address; an IPv6 address without brackets */
    char authority[512]; /* HOST[:PORT] as written, for the Host header */
    char path[512];      /* "/" when none; the query kept, the fragment dropped */
    int port;            /* 80 when none */
    bool ipv6;           /* the host was a bracketed address */
} webhook_url_t;

/* Splits an http://HOST[:PORT][/PATH] URL. Returns 0, or -1 for anything
 * else (another scheme, no host, a bad port, too long). */
int webhook_parse_url(const char *url, webhook_url_t *out);

/* The pause in ms before retry number `retry` (1 = the second attempt), or
 * -1 when no retry is left. */
int webhook_backoff_ms(int retry);

/* Whether an observed event is sent at this phase: events recorded pending
 * are sent when they finish (then they carry success, actual_scale and
 * duration); events recorded already final (success true or false) are
 * sent when recorded. */
bool webhook_should_send(const json_t *event, store_event_phase_t phase);

/* The status of the first final (non-1xx) response at the start of buf:
 * 100-599, 0 when more bytes are needed, -1 when it is not an HTTP/1.x
 * response. */
int webhook_parse_status(const char *buf, size_t len);

/* A FIFO of at most `capacity` (1..WEBHOOK_BUFFER_EVENTS) pointers: when
 * full, a push pushes out the oldest item and returns it to the caller. */
typedef struct webhook_queue {
    void *items[WEBHOOK_BUFFER_EVENTS];
    size_t head;
    size_t count;
    size_t capacity;
} webhook_queue_t;

void webhook_queue_init(webhook_queue_t *q, size_t capacity);

/* Appends item; returns the item pushed out, or NULL when there was room. */
void *webhook_queue_push(webhook_queue_t *q, void *item);

/* Removes and returns the oldest item, or NULL when empty. */
void *webhook_queue_pop(webhook_queue_t *q);

#endif
