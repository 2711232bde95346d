/* sim_policy.h - the contract between the trace simulator and the scaling
 * policies it compares (inferd's own strategies and the published
 * baselines, each in its own file).
 *
 * The simulator runs one model in virtual time. A policy sees what a real
 * autoscaler could see - never the future of the trace - and answers with
 * the number of replicas it wants; the simulator starts replicas (each is
 * ready after the model's load time) and drains surplus ones (a replica
 * with requests in flight finishes them first). Time is virtual seconds
 * from the start of the trace; nothing here reads a clock.
 */
#ifndef INFERD_SIM_POLICY_H
#define INFERD_SIM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The simulated model. */
typedef struct sim_model {
    double load_seconds;          /* spawn -> ready */
    double service_seconds;       /* mean service time (for policies that need a hint) */
    unsigned replica_concurrency; /* requests one replica serves at once */
    int min_replicas;             /* bounds every policy respects (the simulator clamps) */
    int max_replicas;
    /* inferd's own strategies: the autoscaler configuration they decide
     * with (its scaling_strategy is overridden by the policy's name);
     * NULL for the built-in defaults. Baselines ignore it. */
    const struct autoscaler_config *autoscaler;
} sim_model_t;

/* What a policy may observe, at an arrival or a tick. Cumulative figures
 * start at 0 at time 0, so a policy computes exact averages over any window
 * it likes from two observations: (integral(t1) - integral(t0)) / (t1 - t0). */
typedef struct sim_observation {
    double now;
    double unix_now; /* wall-clock time of now: the trace's own timestamps (generated
                        traces start at a fixed, documented date) */
    int ready;       /* replicas able to take requests */
    int starting;    /* spawned, not ready yet */
    int desired;     /* the policy's last answer, after clamping */
    unsigned in_flight;
    unsigned queued;
    uint64_t arrivals_total;           /* requests arrived so far (this one included) */
    uint64_t completions_total;        /* requests finished so far */
    double concurrency_integral;       /* integral of (in_flight + queued) dt */
    double in_flight_integral;         /* integral of in_flight dt */
    double busy_replica_integral;      /* integral of replicas with work dt */
    double last_arrival;               /* time of the latest arrival; < 0 none */
    double last_busy;                  /* last time with work in flight or queued: now
                                          while there is some; < 0 never */
    double recent_latency_p95_seconds; /* over the last 60 s of completions; NAN none */
} sim_observation_t;

typedef struct sim_policy_ops {
    const char *name;    /* "kpa", "hpa", "ray_serve", "keep_alive", "hybrid_histogram", ... */
    double tick_seconds; /* how often on_tick runs (its published loop period) */
    /* Creates the policy's state for one model; NULL on allocation failure. */
    void *(*create)(const sim_model_t *model);
    void (*destroy)(void *state);
    /* A request arrived (counted in obs). Returns the desired replicas, or
     * -1 to leave the count as it is. May be NULL. */
    int (*on_arrival)(void *state, const sim_observation_t *obs);
    /* Periodic decision. Returns the desired replicas (-1: no change). */
    int (*on_tick)(void *state, const sim_observation_t *obs);
} sim_policy_ops_t;

/* The baselines, each in its own file (sim/baseline_*.c). */
extern const sim_policy_ops_t sim_policy_kpa;              /* Knative KPA */
extern const sim_policy_ops_t sim_policy_hpa;              /* Kubernetes HPA */
extern const sim_policy_ops_t sim_policy_ray_serve;        /* Ray Serve autoscaling */
extern const sim_policy_ops_t sim_policy_keep_alive;       /* fixed 10 min keep-alive */
extern const sim_policy_ops_t sim_policy_hybrid_histogram; /* Shahrad et al., ATC 2020 */

/* inferd's own strategies, "reactive", "predictive" and "hybrid", through
 * the server's policy_decide and its controller's rules
 * (sim/policy_inferd.c). Their tick is the configuration's decision
 * interval, so they are filled in at run time. Returns 0, or -1 for
 * another name. */
int sim_policy_inferd_ops(const char *strategy, sim_policy_ops_t *out);

/* Every policy the simulator knows, inferd's first (sim/registry.c). */
size_t sim_policy_count(void);
const char *sim_policy_name(size_t i);
/* Fills out with the named policy's ops. Returns 0, or -1 when unknown. */
int sim_policy_find(const char *name, sim_policy_ops_t *out);
/* "reactive, predictive, ..., hybrid_histogram", for error messages. */
void sim_policy_known_names(char *buf, size_t len);

#endif
