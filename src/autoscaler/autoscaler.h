/* autoscaler.h - resizes every model's replica pool from what it measures.
 *
 * Every metrics_collection_interval_seconds the autoscaler samples the
 * machine and the replica processes (metrics/collector.h, off the loop).
 * Every decision_interval_seconds it asks the policy (autoscaler/policy.h)
 * for each model's desired count and applies it through the pool, within
 * the cooldowns, the model's bounds, max_concurrent_model_loads and memory
 * admission. Manual operations (POST /autoscaler/scale) go through the same
 * checks. Every change, cold start, failed load and crash is an event in the
 * store, completed with its measured duration when the pool gets there.
 */
#ifndef INFERD_AUTOSCALER_H
#define INFERD_AUTOSCALER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "dispatch/dispatch.h"
#include "metrics/collector.h"
#include "store/store.h"

typedef struct autoscaler autoscaler_t;

/* cfg's autoscaler section is copied; dispatch and store must outlive it.
 * Registers itself as the dispatch's pool observer. */
autoscaler_t *autoscaler_new(uv_loop_t *loop, const inferd_config_t *cfg, dispatch_t *dispatch,
                             store_t *store);

/* Starts the collection and decision timers. */
void autoscaler_start(autoscaler_t *a);

/* Stops deciding (at shutdown); collection stops too. */
void autoscaler_stop(autoscaler_t *a);

/* Frees a stopped autoscaler once its handles have closed. */
void autoscaler_free(autoscaler_t *a);

const autoscaler_config_t *autoscaler_config(const autoscaler_t *a);

/* Makes cfg the live configuration from the next decision on (timers are
 * re-armed when an interval changed). */
void autoscaler_apply_config(autoscaler_t *a, const autoscaler_config_t *cfg);
store_t *autoscaler_store(const autoscaler_t *a);

/* ---- what the endpoints report ---- */

typedef struct autoscaler_status {
    double started_at;              /* Unix seconds */
    double last_decision_at;        /* Unix seconds; NAN before the first */
    double last_collection_at;      /* Unix seconds; NAN before the first */
    uint64_t data_points;           /* collections completed since start */
    unsigned decisions_last_minute; /* policy evaluations in the last 60 s */
    bool scaling_in_progress;       /* an operation is under way */
    bool have_system;               /* a collection has completed */
    system_sample_t system;         /* the latest collection */
    double collection_cost_us;      /* CPU time of the latest collection */
    unsigned loads_succeeded_24h;
    unsigned loads_failed_24h;
    double last_load_failure_at; /* Unix seconds; NAN if none */
    int last_start_succeeded;    /* 1, 0, or -1 when no replica start was tried */
    bool crash_looping;          /* a model failed 3 or more times in a row */
} autoscaler_status_t;

void autoscaler_get_status(const autoscaler_t *a, autoscaler_status_t *out);

typedef struct autoscaler_model_view {
    int target;          /* replicas the autoscaler wants now */
    const char *trigger; /* of its latest decision ("none" before one) */
    const char *reason;
    bool panicking;
    bool auto_managed; /* the autoscaler may resize it (not always_loaded) */
} autoscaler_model_view_t;

void autoscaler_model_view(const autoscaler_t *a, const pool_t *pool, autoscaler_model_view_t *out);

/* Share of automatic decisions in the last 24 h not reversed within the
 * scale-down cooldown, in percent; NAN before the first decision. */
double autoscaler_accuracy_percent(const autoscaler_t *a);

/* ---- custom metrics (POST /autoscaler/metrics) ---- */

/* Distinct gauge names kept per model. */
#define AUTOSCALER_CUSTOM_METRICS_MAX 8

/* Why a gauge was not recorded. */
#define AUTOSCALER_CUSTOM_FULL (-1) /* AUTOSCALER_CUSTOM_METRICS_MAX fresh gauges already */
#define AUTOSCALER_CUSTOM_BAD  (-2) /* a name outside the alphabet, or a non-finite value */

/* Sets pool's gauge called name to value, measured now. A new name takes a
 * free slot, else the slot of the oldest gauge gone stale (not set for a
 * stable window); with neither it is refused. The caller checks that custom
 * metrics are enabled. Returns 0 with *recorded_at (Unix seconds, may be
 * NULL) filled, or a code above with a sentence in err. */
int autoscaler_record_custom_metric(autoscaler_t *a, pool_t *pool, const char *name, double value,
                                    double *recorded_at, char *err, size_t errlen);

/* pool's gauges as {"NAME": {"value", "age_seconds", "recorded_at",
 * "stale", "used_by_policy"}}, {} when none. New reference. */
json_t *autoscaler_custom_metrics_json(const autoscaler_t *a, const pool_t *pool);

/* ---- manual operations (POST /autoscaler/scale) ---- */

typedef struct scale_request {
    const char *action;        /* scale_up, scale_down, zero_scale, load_model, unload_model */
    int target_replicas;       /* -1 = the action's default */
    const char *const *models; /* NULL = the action's default set */
    size_t n_models;
    bool override_cooldown;
    bool force;
    const char *reason;
} scale_request_t;

/* Runs a manual operation. Fills the HTTP status and the answer (a new
 * reference): the spec's operation document, or one of its error shapes
 * (invalid_request, model_not_found, cooldown_active, scaling_failed). */
void autoscaler_scale(autoscaler_t *a, const scale_request_t *req, int *status, json_t **body);

/* The current state of an operation, or NULL when the id is unknown. */
json_t *autoscaler_operation_json(autoscaler_t *a, const char *scaling_id);

#endif
