/* policy_inferd.c - inferd's own strategies (reactive, predictive, hybrid)
 * as simulator policies: no copy of the policy, the very policy_decide the
 * server runs, fed and gated as the server's controller does.
 *
 * Every decision interval (the configuration's, so ticks are the decision
 * timer) this builds a policy_input_t from the simulator's observation the
 * way decide_model() in autoscaler/controller.c builds it from the metrics
 * window, calls policy_decide() with the built-in autoscaler defaults
 * (config_autoscaler_defaults) and the strategy set, then applies the
 * controller's rules through the same functions the controller calls
 * (gate_resize_target, gate_resume_target, gate_note_resize in
 * autoscaler/gates.h): settled pools only, cooldowns, the load cap, capped
 * growth carried on. A capped growth goes on at the next arrival or
 * decision after a replica is no longer starting (the server resumes it at
 * the READY event itself);
 * - a request that finds no replica is a cold start: it is the pool's
 *   business (the simulator's pool starts the replica), and like the
 *   controller's pool observer it stamps last_cold_start and last_change;
 * - a request that waits behind busy replicas is the pool's QUEUED event:
 *   for predictive and hybrid, policy_burst_target may start one more
 *   replica at that arrival (trigger "burst"), through the same rules;
 * - a request handed to a free replica is the pool's ARRIVED event: for
 *   hybrid, policy_release_target may let surplus replicas go at that
 *   arrival (trigger "release"), through the same rules.
 * Not modelled: memory admission (gate_memory_fit - the simulation has no
 * machine memory), manual operations and their hold, custom metrics,
 * replica CPU, machine memory and GPU (NAN: unknown, as policy_decide
 * expects when a figure is missing), load failures and restart backoff.
 *
 * Window figures: the server averages (in flight + queued) over one-second
 * buckets; here the averages are exact, from the concurrency integral
 * sampled at each decision. Windows are whole numbers of decision
 * intervals with the defaults, so both edges fall on samples; otherwise
 * the integral is interpolated between them. Before a full window has
 * passed the average covers the time since the start. The p95 fed to the
 * policy is the simulator's p95 over the last 60 s of completions, which
 * is the stable window with the defaults.
 */
#include "sim/sim_policy.h"
#include "sim/window_mean.h"

#include "autoscaler/gates.h"
#include "autoscaler/policy.h"
#include "config/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct inferd_policy {
    autoscaler_config_t cfg;
    sim_model_t model;
    policy_state_t state;
    policy_decision_t last;
    scale_times_t times;
    int capped_growth_target;
    /* (time, concurrency integral) at each decision. */
    sim_sample_t *storage;
    sim_samples_t samples;
} inferd_policy_t;

/* Mean of (in flight + queued) over [now - window, now]. */
static double window_mean(const inferd_policy_t *p, const sim_observation_t *obs, double window)
{
    return sim_samples_mean(&p->samples, obs->now, obs->concurrency_integral, window,
                            (double)obs->in_flight + (double)obs->queued);
}

static void *inferd_create(const sim_model_t *model, scaling_strategy_t strategy)
{
    inferd_policy_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (model->autoscaler)
        p->cfg = *model->autoscaler;
    else
        config_autoscaler_defaults(&p->cfg);
    p->cfg.scaling_strategy = strategy;
    p->cfg.advanced.predictive_scaling = strategy != STRATEGY_REACTIVE;
    p->model = *model;
    policy_state_init(&p->state);
    p->last.trigger = "none";
    p->last.release_floor = CONFIG_REPLICAS_LIMIT; /* no release before a decision */
    p->times = (scale_times_t){-INFINITY, -INFINITY, -INFINITY};
    /* Enough decisions to reach back over the longer window, and a spare. */
    double window =
        fmax(p->cfg.reactive.stable_window_seconds, p->cfg.reactive.panic_window_seconds);
    size_t cap = (size_t)ceil(window / p->cfg.timing.decision_interval_seconds) + 3;
    p->storage = calloc(cap, sizeof(*p->storage));
    if (!p->storage) {
        free(p);
        return NULL;
    }
    sim_samples_init(&p->samples, p->storage, cap);
    sim_samples_push(&p->samples, 0, 0); /* cumulative figures start at 0 at time 0 */
    return p;
}

static void *reactive_create(const sim_model_t *model)
{
    return inferd_create(model, STRATEGY_REACTIVE);
}

static void *predictive_create(const sim_model_t *model)
{
    return inferd_create(model, STRATEGY_PREDICTIVE);
}

static void *hybrid_create(const sim_model_t *model)
{
    return inferd_create(model, STRATEGY_HYBRID);
}

static void inferd_destroy(void *state)
{
    inferd_policy_t *p = state;
    if (!p)
        return;
    policy_state_free(&p->state);
    free(p->storage);
    free(p);
}

/* The decision as the controller's resize rules (gates.h) see it. One
 * model: the loads in progress are its starting replicas. */
static resize_request_t resize_request_of(const inferd_policy_t *p, const sim_observation_t *obs)
{
    return (resize_request_t){
        .current = obs->ready + obs->starting,
        .heading_for = obs->desired,
        .queued = obs->queued,
        .decided = p->last.desired,
        .panicking = p->last.panicking,
        .load_room = p->cfg.model_management.max_concurrent_model_loads - obs->starting,
        .on_hold = false,
    };
}

/* What the controller's apply_resize does, less memory admission (not
 * modelled: it admits all) and the event record. */
static int apply_resize(inferd_policy_t *p, int current, int target, int goal, double now)
{
    if (target < 0)
        return -1;
    gate_note_resize(&p->times, &p->capped_growth_target, current, target, goal, now);
    return target;
}

/* resume_capped_growth, run when the simulator next looks. */
static int resume_capped_growth(inferd_policy_t *p, const sim_observation_t *obs)
{
    resize_request_t r = resize_request_of(p, obs);
    int goal = p->capped_growth_target;
    int target = gate_resume_target(&p->cfg, &p->times, goal, &r, obs->now);
    return apply_resize(p, r.current, target, goal, obs->now);
}

/* The policy's input from an observation, as decide_model() in
 * autoscaler/controller.c builds it from the metrics window; the same at
 * a decision and at a burst. */
static policy_input_t input_of(const inferd_policy_t *p, const sim_observation_t *obs)
{
    const autoscaler_config_t *cfg = &p->cfg;
    double p95 = obs->recent_latency_p95_seconds;
    return (policy_input_t){
        .now = obs->now,
        .started_at = 0, /* the model is watched from the start of the trace */
        .current_replicas = obs->ready + obs->starting,
        .starting_replicas = obs->starting,
        .floor_replicas = p->model.min_replicas,
        .max_replicas = p->model.max_replicas,
        /* A model that sets no target_concurrency of its own. */
        .target_concurrency = cfg->reactive.target_concurrency,
        .concurrency_stable = window_mean(p, obs, cfg->reactive.stable_window_seconds),
        .concurrency_panic = window_mean(p, obs, cfg->reactive.panic_window_seconds),
        .concurrency_now = (double)obs->in_flight + (double)obs->queued,
        .replica_cpu_percent = NAN,
        .memory_percent = NAN,
        .model_memory_percent = NAN,
        .gpu_percent = NAN,
        .queue_length = (double)obs->queued,
        .p95_ms = isnan(p95) ? NAN : p95 * 1000.0,
        .last_arrival = obs->last_arrival,
        .last_busy = obs->last_busy,
        .custom_metric_target = 0,
        .custom_metric_value = NAN,
        .custom_metric_age = NAN,
        .custom_metric_name = NULL,
        .unix_now = obs->unix_now,
        .arrivals_total = (double)obs->arrivals_total,
        .load_seconds = p->model.load_seconds,
        .service_seconds = p->model.service_seconds,
    };
}

/* A resize between decisions (burst start or release) to `want`, through
 * the same resize rules as a decision's (never as a panic, so a growth
 * waits out the scale-up cooldown); the trigger and reason become the
 * latest decision's. Returns the count, or -1 when the rules say no. */
static int resize_between_decisions(inferd_policy_t *p, const sim_observation_t *obs, int want,
                                    const char *trigger, const char *reason)
{
    resize_request_t r = resize_request_of(p, obs);
    r.decided = want;
    r.panicking = false;
    int target = gate_resize_target(&p->cfg, &p->times, &p->capped_growth_target, &r, obs->now);
    if (target < 0)
        return -1;
    p->last.desired = want;
    p->last.trigger = trigger;
    snprintf(p->last.reason, sizeof(p->last.reason), "%s", reason);
    return apply_resize(p, r.current, target, want, obs->now);
}

/* Burst start, as the controller does it on the pool's QUEUED event: the
 * arrival waits behind busy replicas (the simulator has already handed
 * out every free slot), so policy_burst_target may want one more now
 * (a growth, so the scale-up cooldown and the load cap apply; a capped
 * growth in progress is left to go on). */
static int burst_start(inferd_policy_t *p, const sim_observation_t *obs)
{
    if (obs->queued == 0 || p->capped_growth_target > obs->ready + obs->starting)
        return -1;
    policy_input_t in = input_of(p, obs);
    char reason[sizeof(p->last.reason)];
    int want = policy_burst_target(&in, &p->cfg, reason, sizeof(reason));
    return want < 0 ? -1 : resize_between_decisions(p, obs, want, "burst", reason);
}

/* Release, as the controller does it on the pool's ARRIVED event: the
 * arrival found a free replica, so policy_release_target may let the
 * replicas beyond the busy ones go (a shrink: the scale-down cooldown
 * applies), while a replica let go could come back at once. */
static int release(inferd_policy_t *p, const sim_observation_t *obs)
{
    if (obs->queued > 0 || !gate_growth_open(&p->cfg, &p->times, obs->now))
        return -1;
    policy_input_t in = input_of(p, obs);
    char reason[sizeof(p->last.reason)];
    int want = policy_release_target(&in, &p->cfg, p->last.release_floor, reason, sizeof(reason));
    return want < 0 ? -1 : resize_between_decisions(p, obs, want, "release", reason);
}

static int inferd_on_arrival(void *state, const sim_observation_t *obs)
{
    inferd_policy_t *p = state;
    if (obs->ready + obs->starting == 0 && obs->desired == 0 && obs->queued > 0) {
        /* The pool's cold start, as the controller hears of it. */
        p->times.last_cold_start = p->times.last_change = obs->now;
        return -1;
    }
    int target = resume_capped_growth(p, obs);
    if (target < 0)
        target = burst_start(p, obs);
    return target >= 0 ? target : release(p, obs);
}

static int inferd_on_tick(void *state, const sim_observation_t *obs)
{
    inferd_policy_t *p = state;
    int current = obs->ready + obs->starting;
    policy_input_t in = input_of(p, obs);
    sim_samples_push(&p->samples, obs->now, obs->concurrency_integral);
    policy_decide(&in, &p->cfg, &p->state, &p->last);
    resize_request_t r = resize_request_of(p, obs);
    int target = gate_resize_target(&p->cfg, &p->times, &p->capped_growth_target, &r, obs->now);
    return apply_resize(p, current, target, p->last.desired, obs->now);
}

int sim_policy_inferd_ops(const char *strategy, sim_policy_ops_t *out)
{
    static const struct {
        const char *name;
        void *(*create)(const sim_model_t *model);
    } strategies[] = {
        {"reactive", reactive_create},
        {"predictive", predictive_create},
        {"hybrid", hybrid_create},
    };
    for (size_t i = 0; i < sizeof(strategies) / sizeof(strategies[0]); i++) {
        if (strcmp(strategies[i].name, strategy) != 0)
            continue;
        autoscaler_config_t cfg;
        config_autoscaler_defaults(&cfg);
        *out = (sim_policy_ops_t){
            .name = strategies[i].name,
            .tick_seconds = cfg.timing.decision_interval_seconds,
            .create = strategies[i].create,
            .destroy = inferd_destroy,
            .on_arrival = inferd_on_arrival,
            .on_tick = inferd_on_tick,
        };
        return 0;
    }
    return -1;
}
