/* policy.h - how many replicas a model should have, as a pure function.
 *
 * In: one model's metric snapshot and state, the autoscaler configuration,
 * and the time. Out: the desired replica count, the trigger that decided
 * it and a sentence saying why. No I/O, no clock, no globals: the same
 * function runs in the server's controller and in the simulator, and is
 * tested by tables.
 *
 * The `reactive` strategy (Knative's KPA idea plus the spec's thresholds):
 *   desired = ceil(mean concurrency over the stable window / target per replica)
 *   panic:   when concurrency over the panic window, or right now if
 *            higher, reaches panic_threshold x the current capacity, size for
 *            it and never shrink until the load has stayed below that for one
 *            stable window;
 *            (a model at zero counts as one replica's capacity, as in Knative,
 *            so a burst that wakes a model is sized at once);
 *   thresholds: queue length, and p95 response time, replica CPU, machine
 *            memory and GPU while requests are waiting for a replica, each
 *            add one replica above the current count (a busy replica that
 *            nobody waits for is not helped by another);
 *   shrink:  only after the load stayed under the scale-down thresholds
 *            (replica CPU, and the model's share of machine memory) for
 *            scale_down_threshold.idle_time_minutes;
 *   zero:    only with zero-scaling on, auto-unload on, the model not
 *            pinned (floor 0), no request for no_requests_minutes and no
 *            work for idle_time_minutes (checked first: the stable window's
 *            memory of older requests does not hold a model that is idle),
 *            and no fresh custom metric above 0;
 *   custom:  a model that scales on a custom gauge wants at least
 *            ceil(value / target) (KEDA's AverageValue: the value is the
 *            model's whole load in the gauge's unit, the target what one
 *            replica carries), also from zero; holding that many is load,
 *            so it forbids shrinking below it. A gauge not set for a stable
 *            window is stale and ignored.
 * Cooldowns, bounds on concurrent loads and memory admission are the
 * controller's job, not the policy's.
 */
#ifndef INFERD_POLICY_H
#define INFERD_POLICY_H

#include <stdbool.h>

#include "config/config.h"

typedef struct policy_input {
    double now;           /* seconds, monotonic */
    double started_at;    /* when the model began to be watched (idle time counts from here) */
    int current_replicas; /* starting + ready (draining ones excluded) */
    int floor_replicas;   /* min_replicas, at least 1 when pinned */
    int max_replicas;
    double target_concurrency;   /* requests per replica the pool is sized for */
    double concurrency_stable;   /* mean of (in flight + queued) over the stable window */
    double concurrency_panic;    /* the same over the panic window */
    double concurrency_now;      /* in flight + queued at this moment */
    double replica_cpu_percent;  /* mean CPU of the model's replicas, % of one core; NAN unknown */
    double memory_percent;       /* machine memory in use; NAN unknown */
    double model_memory_percent; /* the model's replicas' resident memory / machine memory; NAN
                                    unknown */
    double gpu_percent;          /* NAN without a GPU */
    double queue_length;         /* requests waiting now */
    double p95_ms;               /* over the stable window; NAN without requests */
    double last_arrival;         /* time of the latest request; < 0 none */
    double last_busy;            /* last time the model had work; < 0 never */
    /* The custom gauge the model scales on: off when the target is 0. */
    double custom_metric_target;    /* value one replica carries; 0 = none */
    double custom_metric_value;     /* its latest value; NAN = never set */
    double custom_metric_age;       /* seconds since it was set */
    const char *custom_metric_name; /* for the reason; may be NULL */
    /* Read by the predictive and hybrid strategies (issue 5); reactive
     * ignores them. The server and the simulator fill them alike. */
    double unix_now;        /* wall-clock seconds (the trace's own clock in the simulator):
                               places the minute in its day for the seasonal forecast */
    double arrivals_total;  /* requests arrived since the model began to be watched */
    double load_seconds;    /* how long a new replica takes to become ready; NAN unknown */
    double service_seconds; /* mean time a request holds a replica slot; NAN unknown */
} policy_input_t;

/* What the policy remembers between decisions, per model; the caller keeps
 * it and passes it back. */
typedef struct policy_state {
    double panic_until; /* panic mode lasts until this time; 0 = not panicking */
    double below_since; /* load under the scale-down thresholds since; < 0 = it is not */
} policy_state_t;

typedef struct policy_decision {
    int desired;
    const char *trigger; /* static: "concurrency", "panic", "custom_metric", ... */
    char reason[240];
    bool panicking;
} policy_decision_t;

void policy_state_init(policy_state_t *state);

void policy_decide(const policy_input_t *in, const autoscaler_config_t *cfg, policy_state_t *state,
                   policy_decision_t *out);

#endif
