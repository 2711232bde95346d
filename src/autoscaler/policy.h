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
 *
 * The `predictive` strategy sizes the pool for the forecast request rate
 * (autoscaler/forecast.h) over a horizon of one load time plus one
 * decision interval (at least a minute, the forecast's resolution):
 *   need:    with at least one request expected within the horizon,
 *            max(1, ceil(peak rate x service_seconds / target)) (Little's
 *            law), the peak being the higher of the forecast's highest
 *            minute and the rate measured now (an average over the stable
 *            window); service_seconds when NAN is estimated as the stable
 *            concurrency / the measured rate (Little's law backwards; it
 *            counts queueing too, so it errs on the safe side), the latest
 *            such estimate kept; with none, the need is 1. When a replica
 *            loads slower than a request is served (or its load time is
 *            unknown), the need carries headroom instead: the fewest
 *            replicas with which at most 1 % of requests would wait past
 *            thresholds.response_time_threshold_ms less the service time
 *            in an M/M/n queue offered the peak rate (Erlang C);
 *   rhythm:  with a representative idle-time histogram, a request is
 *            expected from the pre-warm window after the end of the last
 *            work until the keep-alive window; while that start lies
 *            within the horizon (plus one histogram bin for a model that
 *            is up, so it is not unloaded just before it is wanted) and the
 *            keep-alive window has not passed, the need is at least 1;
 *   grow:    to the need (trigger `predicted_load`, or `prewarm` when the
 *            rhythm asked for it at zero, `keep_alive` when it holds the
 *            last replica); from zero without waiting requests only with
 *            model_management.preload_popular_models; requests waiting at
 *            zero get one replica whatever the forecast;
 *   shrink:  to the need (at least 1) by the reactive shrink gate (load
 *            below the scale-down thresholds for the idle window);
 *   zero:    by the reactive zero gate, and only with a need of 0.
 * The `hybrid` strategy: the larger of the reactive decision and the
 * predictive need when that grows the pool; when the reactive decision
 * shrinks it, never below the need over one load time (at least a minute)
 * (trigger `predicted_load`, or `keep_alive` when the rhythm holds it).
 * Hybrid holds a surplus replica for 2 load times (or the scale-up
 * cooldown, when longer) of low load instead of the configured idle
 * window (getting it back costs one load time, or the cooldown; see
 * policy.c; a hold shorter than a decision interval is none), and its
 * panic lasts as long.
 * Burst start (policy_burst_target, hybrid and predictive): a request
 * that waits behind busy replicas starts one more replica at once when a
 * replica loads faster than that request would wait.
 * Release (policy_release_target, hybrid): for a model whose replica loads
 * within a decision interval, a request that finds a free replica lets the
 * replicas beyond those busy now go, down to the latest decision's
 * release_floor; such a model holds no surplus between decisions either.
 * Silence (predictive and hybrid): a forecast that expected at least 4.6
 * requests while the model sat idle (counted afresh whenever it expects
 * under one a minute) is contradicted and needs nothing until the next
 * request.
 * `reactive` ignores the forecast entirely (its decision is unchanged).
 *
 * Cooldowns, bounds on concurrent loads and memory admission are the
 * controller's job, not the policy's.
 */
#ifndef INFERD_POLICY_H
#define INFERD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct policy_input {
    double now;            /* seconds, monotonic */
    double started_at;     /* when the model began to be watched (idle time counts from here) */
    int current_replicas;  /* starting + ready (draining ones excluded) */
    int starting_replicas; /* of those, still loading (0: all ready, or not known) */
    int floor_replicas;    /* min_replicas, at least 1 when pinned */
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
    /* The forecasting memory (request history, idle-time histogram,
     * estimates): NULL until the first predictive or hybrid decision or
     * policy_state_seed_minute allocates it; owned by the state, released by
     * policy_state_free. While it exists every decision (reactive ones too)
     * feeds it, so a switch of strategy finds the history current. */
    struct policy_predict *predict;
} policy_state_t;

typedef struct policy_decision {
    int desired;
    int release_floor;   /* the fewest replicas a release may leave before the next decision:
                            desired, or while the shrink gate holds the count it would go to */
    const char *trigger; /* static: "concurrency", "panic", "custom_metric", ... */
    char reason[240];
    bool panicking;
} policy_decision_t;

/* A fresh state (no forecasting memory yet). */
void policy_state_init(policy_state_t *state);

/* Forgets the reactive memory (panic, scale-down window), as after a
 * manual operation; the forecasting memory stays. */
void policy_state_reset(policy_state_t *state);

/* Releases the forecasting memory (if any) and leaves the state as
 * policy_state_init does. Every state that made a predictive or hybrid
 * decision, or was seeded, must be freed so. */
void policy_state_free(policy_state_t *state);

/* Seeds the forecast with a stored minute: `requests` arrived in Unix
 * minute `unix_minute` (floor(unix seconds / 60)). For history the caller
 * has from before it began watching (the server reads its traffic store at
 * start); calls for one minute add up, so seed each minute once. Minutes
 * the policy watches later are learnt from arrivals_total and unix_now. */
void policy_state_seed_minute(policy_state_t *state, int64_t unix_minute, double requests);

void policy_decide(const policy_input_t *in, const autoscaler_config_t *cfg, policy_state_t *state,
                   policy_decision_t *out);

/* Burst start, between decisions: called when a request has to wait
 * because every replica is busy or starting. The count to grow to (one
 * more than current_replicas), or -1 to wait for the next decision:
 *   - only for the predictive and hybrid strategies, with at least one
 *     replica (from zero the pool's cold start does it) below max_replicas,
 *     requests waiting, and the load and service times known;
 *   - the waiting requests that no starting replica is coming for
 *     (queue_length - starting x target) wait about
 *         service_seconds x uncovered / (max(ready, 1) x target)
 *     (the last of them, as the ready replicas work through the queue);
 *   - a new replica helps when load_seconds is shorter than that wait.
 * Reads current, starting and max replicas, target_concurrency,
 * queue_length, load_seconds and service_seconds only. Fills reason
 * (reason_len bytes, may be 0) with a sentence when it returns a count.
 * Cooldowns, the load cap and memory are the caller's (gates.h). */
int policy_burst_target(const policy_input_t *in, const autoscaler_config_t *cfg, char *reason,
                        size_t reason_len);

/* Release, between decisions: called when a request was handed to a free
 * replica. The count to shrink to, or -1 to leave the pool as it is:
 *   - only for the hybrid strategy, with more than one replica, nobody
 *     waiting, and a load time known and shorter than a decision interval
 *     (the caller also checks that a replica let go could come back at
 *     once: gate_growth_open);
 *   - the replicas busy now, ceil(concurrency_now / target_concurrency),
 *     but never fewer than release_floor (the latest decision's, see
 *     policy_decision_t), the floor, or one.
 * Reads current and floor replicas, target_concurrency, concurrency_now,
 * queue_length and load_seconds only. Fills reason (reason_len bytes, may
 * be 0) when it returns a count. Cooldowns are the caller's (gates.h). */
int policy_release_target(const policy_input_t *in, const autoscaler_config_t *cfg,
                          int release_floor, char *reason, size_t reason_len);

#endif
