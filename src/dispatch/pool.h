/* pool.h - one model's replicas and its queue of waiting requests.
 *
 * A pool keeps `desired` replicas running: it spawns workers, restarts
 * crashed ones with exponential backoff, and drains surplus ones (no new
 * work, finish what they hold, then SHUTDOWN). Requests wait in a bounded
 * FIFO and go to the ready replica with the fewest requests in flight. A
 * request for a model with no replica starts one (cold start) and waits for
 * it up to cold_start_timeout_seconds.
 *
 * Every submitted request is answered exactly once through its callback:
 * with the worker's result, or with an error carrying the HTTP status to
 * use (503 queue_full, 504 timeout, 502 replica_crashed, 503
 * model_load_failed, 503 shutting_down, 504 request_timeout, 400/500 from
 * the backend, 499 client_gone for a request whose client left before a
 * replica took it).
 *
 * The pool measures itself into a model_window_t (metrics/window.h):
 * arrivals, outcomes, latencies, queue waits, in-flight and queued
 * requests, ready and busy replicas. The window forgets after an hour (a
 * day for counters), so the pool also keeps totals since it was created
 * (pool_get_totals): requests by outcome, a latency histogram with fixed
 * bounds, cold starts and a cold-start duration histogram, for exports
 * that must be cumulative (GET /metrics). An observer hears of cold starts,
 * replicas becoming ready and replicas ending, for the event history, and
 * of requests that wait behind busy replicas, for burst start.
 */
#ifndef INFERD_POOL_H
#define INFERD_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "metrics/window.h"
#include "replica/replica.h"

typedef struct pool pool_t;

typedef struct pool_result {
    int http_status;         /* 200 on success */
    const char *error;       /* error code; NULL on success */
    const char *message;     /* a sentence for the client; NULL on success */
    int retry_after_seconds; /* > 0: worth sending as Retry-After */
    const uint8_t *payload;  /* the worker's RESULT payload, valid during the callback */
    size_t payload_len;
    unsigned replica_id;  /* replica that answered (0 if none did) */
    bool cold_start;      /* no replica was ready when the request arrived */
    double queue_ms;      /* accepted -> handed to a replica */
    double processing_ms; /* handed to a replica -> answered */
} pool_result_t;

typedef void (*pool_done_fn)(const pool_result_t *result, void *arg);

/* True when the client behind arg has gone, so the request need not run. */
typedef bool (*pool_cancelled_fn)(void *arg);

typedef enum {
    POOL_EVENT_COLD_START,    /* a request found no replica and started one */
    POOL_EVENT_REPLICA_READY, /* load_time_ms, start_time_ms, memory_mb set */
    POOL_EVENT_REPLICA_ENDED, /* why and detail set */
    POOL_EVENT_QUEUED,        /* a request submitted to a pool with replicas waits: every
                                 replica is busy or starting (once per such request) */
    POOL_EVENT_ARRIVED,       /* a request submitted to a pool with replicas went straight to
                                 a free replica (once per such request) */
} pool_event_type_t;

typedef struct pool_event {
    pool_event_type_t type;
    unsigned replica_id;
    double load_time_ms;
    double start_time_ms;
    double memory_mb;
    replica_exit_t why;
    const char *detail;
} pool_event_t;

typedef void (*pool_observer_fn)(pool_t *p, const pool_event_t *event, void *ctx);

/* What every pool of a server shares. */
typedef struct pool_env {
    uv_loop_t *loop;
    const char *worker_exe;    /* path of the inferd binary */
    const char *log_level;     /* for workers */
    uint64_t ping_interval_ms; /* health check of idle replicas; 0 = off */
    uint64_t drain_grace_ms;   /* SHUTDOWN -> SIGKILL */
    unsigned *next_replica_id; /* server-wide counter, so ids are unique */
    pool_observer_fn observer; /* hears of cold starts and replicas; may be NULL */
    void *observer_ctx;
} pool_env_t;

/* Creates an empty pool (0 replicas); env must outlive it, model is copied. */
pool_t *pool_new(const pool_env_t *env, const model_config_t *model);

/* Frees a pool that has no replicas left (after pool_stop's callback). */
void pool_free(pool_t *p);

/* Sets the number of replicas the pool keeps (0..CONFIG_REPLICAS_LIMIT):
 * starts the missing ones, drains the surplus. Returns 0, or -1 when n is
 * out of range or the pool is stopping. */
int pool_resize(pool_t *p, int n);

/* Queues one request. payload is the INFER frame's JSON (copied). done is
 * always called once, possibly before pool_submit returns. cancelled may be
 * NULL. */
void pool_submit(pool_t *p, const char *payload, size_t len, pool_done_fn done,
                 pool_cancelled_fn cancelled, void *arg);

/* Shutdown has begun: no new replica starts (no restart, no cold start, no
 * retry); queued and in-flight requests still run on the replicas there are. */
void pool_quiesce(pool_t *p);

/* Answers every queued request with 503 shutting_down and shuts every
 * replica down, then calls done(arg). Without force, in-flight requests
 * finish first; with force (or on a second call with force), replicas are
 * killed at once and their requests answered 503 shutting_down. */
void pool_stop(pool_t *p, bool force, void (*done)(void *arg), void *arg);

const char *pool_name(const pool_t *p);
const model_config_t *pool_model(const pool_t *p);

/* Takes model's settings from now on, all but the name, backend, params
 * and max_queue_length, which a pool keeps for its life. Meant for the
 * settings read afresh where they are used (config_live_merge changes only
 * those): bounds, target concurrency and the custom metric at the next
 * decision, cold_start_timeout_seconds for requests that arrive from now
 * on, load_timeout_seconds for replicas started from now on. Nothing
 * running is resized or cut short here. */
void pool_update_settings(pool_t *p, const model_config_t *model);

/* ---- inspection, for GET /models ---- */

#define POOL_INFO_MAX_REPLICAS 32

typedef struct replica_info {
    unsigned id;
    int pid;
    const char *state;    /* "starting", "ready", "busy", "draining" */
    double load_time_ms;  /* measured in the worker around the backend load */
    double start_time_ms; /* spawn -> READY, measured by the gateway */
    double memory_mb;     /* resident memory now */
    uint64_t requests_served;
    unsigned outstanding;
} replica_info_t;

typedef struct pool_info {
    const char *name;
    const char *backend;
    const char *state; /* "unloaded", "loading", "ready", "draining" */
    int desired_replicas;
    size_t queue_length;
    size_t max_queue_length;
    uint64_t requests_accepted;
    uint64_t cold_starts;
    const char *last_load_error; /* NULL when the last load succeeded */
    size_t n_replicas;
    replica_info_t replicas[POOL_INFO_MAX_REPLICAS];
} pool_info_t;

/* Fills info; the strings stay valid until the pool next changes. Reads
 * /proc for each replica's memory. */
void pool_get_info(const pool_t *p, pool_info_t *info);

typedef struct pool_counts {
    int starting;
    int ready; /* ready or busy */
    int busy;  /* at least one request in flight */
    int draining;
    int desired;
    unsigned in_flight;
    size_t queued;
} pool_counts_t;

/* Replica and request counts, without touching /proc. */
void pool_get_counts(const pool_t *p, pool_counts_t *out);

/* The pool's measurements. */
const model_window_t *pool_window(const pool_t *p);

/* ---- totals since the pool was created (never reset) ---- */

#define POOL_LATENCY_BOUNDS    14 /* 0.005 s .. 60 s */
#define POOL_COLD_START_BOUNDS 12 /* 0.05 s .. 300 s */

typedef struct pool_totals {
    uint64_t arrivals; /* requests submitted, refused ones included */
    /* Every submitted request is answered once, with one of these outcomes
     * (as in metrics/window.h: 4xx including 499 client_gone is a client
     * error; 503 queue_full is dropped; 504 is a timeout; other 5xx are
     * server errors). */
    uint64_t successes;
    uint64_t client_errors;
    uint64_t server_errors;
    uint64_t dropped;
    uint64_t timeouts;
    /* Accepted -> answered, gateway clock, for every answer but a drop (a
     * drop is refused at once, as in the window). latency_counts[i] counts
     * answers in (bounds[i-1], bounds[i]] seconds, the last entry those
     * above the last bound. */
    const double *latency_bounds; /* POOL_LATENCY_BOUNDS ascending, seconds */
    uint64_t latency_counts[POOL_LATENCY_BOUNDS + 1];
    double latency_sum_seconds;
    uint64_t cold_starts; /* requests that found no replica and started one */
    /* From a cold start to the first replica of the pool that became ready
     * after it, gateway clock (spawn, backend load, any restart in between).
     * A cold start whose replicas all ended before one was ready is counted
     * in cold_starts but has no duration. Same bucket layout as above. */
    const double *cold_start_bounds; /* POOL_COLD_START_BOUNDS ascending, seconds */
    uint64_t cold_start_counts[POOL_COLD_START_BOUNDS + 1];
    double cold_start_sum_seconds;
} pool_totals_t;

/* Copies the totals (a few hundred bytes; no /proc, no allocation). */
void pool_get_totals(const pool_t *p, pool_totals_t *out);

/* Process ids of the replicas (any state) into pids; returns how many. */
size_t pool_replica_pids(const pool_t *p, int *pids, size_t max);

/* Largest resident memory measured for one replica of this model (READY
 * report or a later sample), or model.memory_mb before any; 0 if unknown. */
double pool_replica_memory_mb(const pool_t *p);

/* Records a replica's sampled CPU (% of one core) and memory (MiB). */
void pool_note_replica_sample(pool_t *p, int pid, double cpu_percent, double rss_mb);

/* Mean CPU of the model's ready replicas from the latest samples (% of one
 * core), or NAN when none was sampled. */
double pool_replica_cpu_percent(const pool_t *p);

#endif
