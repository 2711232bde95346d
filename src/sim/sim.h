/* sim.h - the simulator's engine: one model, one policy, one trace, in
 * virtual time.
 *
 * What is modelled, per the pool of the server (src/dispatch/pool.c):
 * - one FIFO queue; a request goes to the ready replica with the fewest in
 *   flight (the server's route_pick), at most replica_concurrency each, and
 *   holds its slot for its service time;
 * - a replica is ready load_seconds after it was asked for; surplus
 *   replicas go starting ones first (killed at once), then the ready one
 *   with the least in flight, which drains: it takes no new work and exits
 *   when its last request is answered;
 * - requests waiting with no replica make a cold start: the pool then
 *   wants one replica, and keeps one while requests wait even if the
 *   policy said 0 (so every request is answered);
 * - the pool starts at min_replicas replicas, all loading at time 0.
 * The policy answers at arrivals and at ticks (ops.tick_seconds, at
 * k x tick for k >= 1); its answer is clamped to the model's bounds. Events
 * at the same instant run completions first, then replicas becoming ready,
 * then the arrival, then the tick.
 *
 * Metrics, all counted, none estimated:
 * - latency: answer - arrival = queue wait (including any load wait) +
 *   service; percentiles are nearest-rank over every request;
 * - cold start: a request that arrived when no replica was ready, and so
 *   waited for a load, as the server's pool counts it;
 * - replica_seconds: the integral over [0, end] of the replicas that exist
 *   - starting (they hold memory while loading), ready and draining;
 *   peak_replicas is the highest value of that same count;
 * - scale events: changes of the pool's wanted replica count (scale-ups,
 *   scale-downs, and a cold start's wake-up from 0 to 1).
 * The run lasts until the trace's span plus tail_seconds, and on until
 * every request is answered; replicas count until the end.
 */
#ifndef INFERD_SIM_H
#define INFERD_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim_policy.h"

/* The requests of one run; borrowed for the length of sim_run. */
typedef struct sim_workload {
    size_t n;
    const double *arrival; /* virtual seconds, ascending */
    const double *service; /* seconds each request holds a slot */
    double unix_start;     /* wall-clock time of virtual 0 */
    double span;           /* the trace's length (>= its last arrival) */
} sim_workload_t;

typedef struct sim_options {
    double tail_seconds; /* run on this long after the span */
    double slo_seconds;  /* a latency above this is an SLO miss */
    /* Test hooks, may be NULL: the replica count (starting + ready +
     * draining) after every change, and every answer. */
    void (*on_replicas)(void *ctx, double t, int replicas);
    void (*on_answer)(void *ctx, size_t request, double latency, bool cold);
    void *hook_ctx;
} sim_options_t;

typedef struct sim_result {
    char policy[32];
    uint64_t requests;
    uint64_t answered;
    uint64_t cold_starts;
    uint64_t slo_misses;
    double mean_seconds;
    double p50_seconds;
    double p95_seconds;
    double p99_seconds;
    double max_seconds;
    double replica_seconds;
    int peak_replicas;
    uint64_t scale_events;
    uint64_t scale_ups;
    uint64_t scale_downs;
    double end_seconds; /* where the run stopped, virtual */
} sim_result_t;

/* Runs the policy over the workload. Returns 0, or -1 with err on
 * allocation failure or a policy that cannot be created. */
int sim_run(const sim_workload_t *w, const sim_model_t *model, const sim_policy_ops_t *policy,
            const sim_options_t *opts, sim_result_t *out, char *err, size_t errlen);

#endif
