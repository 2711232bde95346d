/* store.h - inferd's SQLite store in the data directory.
 *
 * One file, inferd.db, in WAL mode with synchronous=NORMAL: a committed
 * event survives kill -9 of the server. Writes are single short
 * transactions (tens of microseconds), done on the loop; the queries here
 * are bounded by indexes on time and type.
 *
 * A second store_t opened on the same directory (from another thread, for
 * a long query or the pruning) is a separate connection: WAL lets it read
 * while the loop writes. Readers open it with store_open_reader.
 *
 * Table events: one row per scaling event (scale_up, scale_down,
 * zero_scale, cold_start, scaling_failed, model_load_failed,
 * replica_crashed, ...). Times are Unix seconds (real time, fractional).
 */
#ifndef INFERD_STORE_H
#define INFERD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

/* Opens or creates DATA_DIR/inferd.db and its schema. Returns 0, or -1 with
 * a sentence naming the file in err. The directory must exist and be
 * writable (creating it is the caller's job). An older file is migrated;
 * a file from a newer inferd is refused. The caller frees with store_close. */
int store_open(const char *data_dir, store_t **out, char *err, size_t errlen);

/* A read-only connection to DATA_DIR/inferd.db for a reader on another
 * thread (GET /autoscaler/history): no migration and no write lock taken,
 * so it never waits for (or holds up) the loop's writes beyond the busy
 * timeout; WAL lets it read while the writer writes. The file must exist
 * with this build's schema (store_open made it so); otherwise -1 with a
 * sentence in err. Every write through it fails. Freed with store_close. */
int store_open_reader(const char *data_dir, store_t **out, char *err, size_t errlen);
void store_close(store_t *s);

/* The directory it was opened in, for a second connection. */
const char *store_data_dir(const store_t *s);

/* The schema version this build writes (PRAGMA user_version of the file). */
int store_schema_version(void);

typedef struct store_event {
    const char *id;      /* unique, e.g. "scale_20261203_180204_0007" */
    double timestamp;    /* Unix seconds */
    const char *type;    /* scale_up, scale_down, zero_scale, cold_start, ... */
    const char *trigger; /* what decided it: "concurrency", "manual", "high_cpu_usage", ... */
    const char *model;
    int previous_scale;
    int target_scale;
    int actual_scale;              /* replicas when it completed (or now, while pending) */
    double duration_seconds;       /* decision -> done; NAN while pending */
    int success;                   /* 1, 0, or -1 while pending */
    const json_t *trigger_metrics; /* object or NULL */
    const json_t *outcome_metrics; /* object or NULL (measured later) */
    const json_t *details;         /* object or NULL: reason, failure, resource impact */
} store_event_t;

/* Inserts an event: id (unique), type and a finite timestamp are required;
 * the JSON fields are copied. Returns 0 or -1 (logged). */
int store_add_event(store_t *s, const store_event_t *e);

/* Completes a pending event. details, when not NULL, is merged into the
 * stored details (its keys replace those of the same name; RFC 7396), so a
 * reason given at the start survives. Returns 0, or -1 if there is no such id. */
int store_finish_event(store_t *s, const char *id, int actual_scale, double duration_seconds,
                       bool success, const json_t *details);

/* Closes every event still pending (left by a run that stopped or died
 * before the change completed) as failed with details.failure_reason =
 * reason. Returns how many, or -1 on error. */
int store_close_pending(store_t *s, const char *reason);

/* The live autoscaler configuration: each accepted change is saved whole,
 * as a new version; loading returns the newest (a new reference), or NULL
 * when none was saved. Only the newest STORE_CONFIG_VERSIONS are kept: a
 * save deletes older ones in its own transaction. Resetting forgets every
 * saved version, so the configuration file applies again at the next
 * start. Saving returns the new version's number (versions are never
 * reused, not even after a deletion or a reset), or -1 on error. */
#define STORE_CONFIG_VERSIONS 100

int64_t store_save_config(store_t *s, double timestamp, const json_t *doc);
json_t *store_load_config(store_t *s);
int store_reset_config(store_t *s);

/* Sets outcome_metrics of an event (NULL clears it). Returns 0, or -1 if
 * there is no such id. */
int store_set_outcome(store_t *s, const char *id, const json_t *outcome_metrics);

/* Events since `since` (Unix s, inclusive), newest first, at most `limit`
 * (negative: no limit); types is a NULL-ended list to keep (empty: none), or
 * NULL for all. Returns a new JSON array of event objects with every column
 * (metrics as objects), or NULL on error. Each object: id, timestamp
 * ("2026-12-03T18:02:04Z", UTC), timestamp_unix, type, trigger, model,
 * models_affected ([model], or [] without one), previous_scale, target_scale, actual_scale,
 * duration_seconds (null while pending), success (true/false/null while
 * pending), trigger_metrics, outcome_metrics, details (null when unset). */
json_t *store_list_events(store_t *s, double since, const char *const *types, int limit);

/* ---- observers: hear of every event as it is recorded and completed ---- */

typedef enum {
    STORE_EVENT_RECORDED, /* inserted (pending, or an incident already final) */
    STORE_EVENT_FINISHED, /* completed by store_finish_event */
} store_event_phase_t;

/* Called on the loop right after the write, with the stored event in the
 * shape of store_list_events (borrowed: valid during the call). */
typedef void (*store_event_observer_fn)(const json_t *event, store_event_phase_t phase, void *ctx);

#define STORE_MAX_OBSERVERS 4

/* Adds an observer. Returns 0, or -1 when STORE_MAX_OBSERVERS are set. */
int store_add_event_observer(store_t *s, store_event_observer_fn fn, void *ctx);

/* Number of events of type (NULL = any) since `since`; -1 on error. */
long store_count_events(store_t *s, const char *type, double since);

/* Mean duration of completed, successful events of type (NULL = any) since
 * `since`; NAN when there are none, -1 on error (logged). */
double store_mean_duration(store_t *s, const char *type, double since);

/* The newest event of any of types (NULL-ended, NULL = any): fills
 * timestamp and type (type_len bytes). Returns 1 if found, 0 if none, -1 on error. */
int store_last_event(store_t *s, const char *const *types, double *timestamp, char *type,
                     size_t type_len);

/* ---- traffic: one row per model per minute (store/traffic.c) ---- */

typedef struct store_traffic_row {
    const char *model;
    int64_t minute;                /* Unix minute: floor(Unix seconds / 60) */
    uint64_t requests;             /* arrivals */
    uint64_t errors;               /* answered 5xx, refused (queue full) or timed out */
    uint64_t drops;                /* refused or timed out: never reached a replica */
    double p95_ms;                 /* of requests answered in the minute; NAN if none */
    double replica_seconds;        /* integral of ready replicas over the minute */
    double busy_replica_seconds;   /* integral of replicas with work in flight */
    double needed_replica_seconds; /* integral of demand / the model's target concurrency */
} store_traffic_row_t;

/* Adds rows in one transaction. A row for a (model, minute) already stored
 * is added to it (counts and integrals summed, p95 the larger), so two
 * partial minutes (a restart within one) make one. Returns 0 or -1 (logged;
 * nothing written). */
int store_add_traffic(store_t *s, const store_traffic_row_t *rows, size_t n);

/* Traffic summed over every model (or one, when model is not NULL) per
 * clock hour, for the hours in [since_minute, until_minute). */
typedef struct store_traffic_hour {
    int64_t hour;     /* Unix hour: floor(Unix seconds / 3600) */
    unsigned minutes; /* minutes of this hour with a row (the server was up) */
    uint64_t requests;
    uint64_t errors;
    uint64_t drops;
    double replica_seconds;
    double busy_replica_seconds;
    double needed_replica_seconds;
} store_traffic_hour_t;

/* Fills *out (malloc'd, oldest first; the caller frees) and *n. Returns 0
 * or -1 (logged). */
int store_traffic_hours(store_t *s, int64_t since_minute, int64_t until_minute, const char *model,
                        store_traffic_hour_t **out, size_t *n);

/* Per model totals over [since_minute, until_minute), by model name. */
typedef struct store_traffic_model {
    char model[64];
    unsigned minutes;
    uint64_t requests;
    uint64_t errors;
    uint64_t drops;
    double replica_seconds;
    double busy_replica_seconds;
    double needed_replica_seconds;
} store_traffic_model_t;

int store_traffic_models(store_t *s, int64_t since_minute, int64_t until_minute,
                         store_traffic_model_t **out, size_t *n);

/* One model's rows in [since_minute, until_minute), oldest first: calls fn
 * for each (row->model is valid during the call). Returns rows read or -1. */
long store_traffic_each(store_t *s, const char *model, int64_t since_minute, int64_t until_minute,
                        void (*fn)(const store_traffic_row_t *row, void *ctx), void *ctx);

/* Deletes traffic rows and events older than before_unix, in batches of
 * batch rows, each its own short transaction, so that a writer on another
 * connection waits for one batch at most. Returns rows deleted or -1. */
long store_prune(store_t *s, double before_unix, int batch);

#endif
