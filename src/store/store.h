/* store.h - inferd's SQLite store in the data directory.
 *
 * One file, inferd.db, in WAL mode with synchronous=NORMAL: a committed
 * event survives kill -9 of the server. Writes are single short
 * transactions (tens of microseconds), done on the loop; the queries here
 * are bounded by indexes on time and type.
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

typedef struct store store_t;

/* Opens or creates DATA_DIR/inferd.db and its schema. Returns 0, or -1 with
 * a sentence naming the file in err. The directory must exist and be
 * writable (creating it is the caller's job). An older file is migrated;
 * a file from a newer inferd is refused. The caller frees with store_close. */
int store_open(const char *data_dir, store_t **out, char *err, size_t errlen);
void store_close(store_t *s);

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
 * when none was saved. Resetting forgets every saved version, so the
 * configuration file applies again at the next start. */
int store_save_config(store_t *s, double timestamp, const json_t *doc);
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

/* Number of events of type (NULL = any) since `since`; -1 on error. */
long store_count_events(store_t *s, const char *type, double since);

/* Mean duration of completed, successful events of type (NULL = any) since
 * `since`; NAN when there are none, -1 on error (logged). */
double store_mean_duration(store_t *s, const char *type, double since);

/* The newest event of any of types (NULL-ended, NULL = any): fills
 * timestamp and type (type_len bytes). Returns 1 if found, 0 if none, -1 on error. */
int store_last_event(store_t *s, const char *const *types, double *timestamp, char *type,
                     size_t type_len);

#endif
