/* policy.c - the reactive scaling decision (see policy.h for the rules).
 *
 * The decision is built in steps, each a small function that may raise
 * the desired count and name its trigger: concurrency, panic, the custom
 * metric, thresholds; then the shrink gate (hold until the idle window
 * passed) and the zero gate; then the bounds. Triggers are fixed strings
 * so that events can be counted by them.
 */
#include "autoscaler/policy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct step {
    int desired;
    const char *trigger;
    char reason[240];
} step_t;

void policy_state_init(policy_state_t *state)
{
    state->panic_until = 0;
    state->below_since = -1;
}

static int replicas_for(double concurrency, double target)
{
    if (!(concurrency > 0) || !(target > 0))
        return 0;
    /* A hair below the integer counts as that integer: 2.0000000001 is 2. */
    return (int)ceil(concurrency / target - 1e-9);
}

static bool has_work(const policy_input_t *in)
{
    return in->concurrency_stable > 0 || in->concurrency_panic > 0 || in->queue_length > 0;
}

/* A gauge counts while it was set within the stable window: the same
 * memory the concurrency figure has, so a sender that stopped posting is
 * forgotten as fast as traffic that stopped. */
static bool custom_metric_fresh(const policy_input_t *in, const autoscaler_config_t *cfg)
{
    return in->custom_metric_target > 0 && isfinite(in->custom_metric_value) &&
           isfinite(in->custom_metric_age) &&
           in->custom_metric_age <= cfg->reactive.stable_window_seconds;
}

static double seconds_since(double now, double when, double started_at)
{
    return now - (when > started_at ? when : started_at);
}

/* ---- growth ---- */

static void raise_to(step_t *s, int desired, const char *trigger, const char *reason)
{
    if (desired <= s->desired)
        return;
    s->desired = desired;
    s->trigger = trigger;
    snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static double burst_concurrency(const policy_input_t *in);

static bool update_panic(const policy_input_t *in, const autoscaler_config_t *cfg,
                         policy_state_t *state)
{
    int replicas = in->current_replicas > 0 ? in->current_replicas : 1;
    double capacity = replicas * in->target_concurrency;
    double burst = burst_concurrency(in);
    /* From zero only waiting requests make a burst (as in step 1). */
    bool from_zero_idle = in->current_replicas == 0 && !(in->queue_length > 0);
    if (!from_zero_idle && burst > 0 && burst >= cfg->reactive.panic_threshold * capacity)
        state->panic_until = in->now + cfg->reactive.stable_window_seconds;
    else if (state->panic_until > 0 && in->now >= state->panic_until)
        state->panic_until = 0;
    return state->panic_until > 0;
}

typedef struct threshold_check {
    const char *trigger;
    double value;
    double limit;
    const char *what;
} threshold_check_t;

/* The spec's thresholds: any one exceeded adds a replica. The queue length
 * counts on its own; the others only while requests wait for a replica,
 * since another replica helps nobody when no one is waiting (a high reading
 * without work is somebody else's load, and a slow model is slow on any
 * number of replicas). */
static void apply_thresholds(const policy_input_t *in, const autoscaler_config_t *cfg, step_t *s)
{
    /* Waiting now: a queue in the stable window's past may be a cold
     * start's, which another replica would not have helped. */
    bool waiting = in->queue_length > 0;
    const threshold_check_t checks[] = {
        {"queue_length", in->queue_length, cfg->thresholds.queue_length_threshold, "queue length"},
        {"response_time", in->p95_ms, cfg->thresholds.response_time_threshold_ms,
         "p95 response time (ms)"},
        {"high_cpu_usage", in->replica_cpu_percent, cfg->thresholds.cpu_threshold,
         "replica CPU (%)"},
        {"high_memory_usage", in->memory_percent, cfg->thresholds.memory_threshold,
         "memory in use (%)"},
        {"high_gpu_usage", in->gpu_percent, cfg->thresholds.gpu_threshold, "GPU utilisation (%)"},
    };
    if (!has_work(in) || in->current_replicas == 0)
        return;
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        const threshold_check_t *c = &checks[i];
        if (!(c->value > c->limit)) /* NAN never fires */
            continue;
        if (i > 0 && !waiting)
            continue;
        char reason[240];
        snprintf(reason, sizeof(reason), "%s %.1f above the threshold %.1f", c->what, c->value,
                 c->limit);
        raise_to(s, in->current_replicas + 1, c->trigger, reason);
        return;
    }
}

/* The custom metric sizes the pool alongside the concurrency, the larger
 * winning, and from zero too: the gauge usually measures work that has not
 * reached this server yet (a queue upstream), which is the point of it. */
static void apply_custom_metric(const policy_input_t *in, const autoscaler_config_t *cfg, step_t *s)
{
    if (!custom_metric_fresh(in, cfg))
        return;
    char reason[240];
    const char *name = in->custom_metric_name ? in->custom_metric_name : "";
    snprintf(reason, sizeof(reason), "custom metric %.63s%s%.2f / %.2f per replica", name,
             name[0] ? " " : "", in->custom_metric_value, in->custom_metric_target);
    raise_to(s, replicas_for(in->custom_metric_value, in->custom_metric_target), "custom_metric",
             reason);
}

/* ---- shrinking ---- */

static bool below_scale_down(const policy_input_t *in, const autoscaler_config_t *cfg, int want)
{
    bool cpu_low = isnan(in->replica_cpu_percent) ||
                   in->replica_cpu_percent < cfg->scale_down_threshold.cpu_percent;
    bool memory_low = isnan(in->model_memory_percent) ||
                      in->model_memory_percent < cfg->scale_down_threshold.memory_percent;
    return want < in->current_replicas && cpu_low && memory_low;
}

static bool idle_enough_for_zero(const policy_input_t *in, const autoscaler_config_t *cfg)
{
    if (!cfg->zero_scaling_enabled || !cfg->model_management.auto_unload_unused_models ||
        in->floor_replicas > 0 || in->queue_length > 0 || in->concurrency_now > 0)
        return false;
    /* Load reported from outside is load, even with no request here. */
    if (custom_metric_fresh(in, cfg) && in->custom_metric_value > 0)
        return false;
    double quiet = seconds_since(in->now, in->last_arrival, in->started_at);
    double idle = seconds_since(in->now, in->last_busy, in->started_at);
    return quiet >= cfg->zero_scale_threshold.no_requests_minutes * 60.0 &&
           idle >= cfg->zero_scale_threshold.idle_time_minutes * 60.0;
}

/* Shrinking waits until the load stayed low for the idle window; before
 * that the count holds. Down to one replica at most: zero is the zero
 * gate's decision. */
static void gate_shrink(const policy_input_t *in, const autoscaler_config_t *cfg,
                        policy_state_t *state, step_t *s)
{
    if (s->desired >= in->current_replicas) {
        state->below_since = -1;
        return;
    }
    int keep = s->desired > 1 ? s->desired : 1;
    if (keep >= in->current_replicas || !below_scale_down(in, cfg, keep)) {
        state->below_since = -1;
        s->desired = in->current_replicas;
        s->trigger = "none";
        snprintf(s->reason, sizeof(s->reason), "load does not allow fewer than %d replicas",
                 in->current_replicas);
        return;
    }
    if (state->below_since < 0)
        state->below_since = in->now;
    double window = cfg->scale_down_threshold.idle_time_minutes * 60.0;
    double below_for = in->now - state->below_since;
    if (below_for < window) {
        s->desired = in->current_replicas;
        s->trigger = "none";
        snprintf(s->reason, sizeof(s->reason),
                 "load below the scale-down thresholds for %.0f of %.0f s", below_for, window);
        return;
    }
    s->desired = keep;
    s->trigger = "low_utilization";
    snprintf(s->reason, sizeof(s->reason),
             "load below the scale-down thresholds for %.0f s (%.2f concurrent requests)",
             below_for, in->concurrency_stable);
}

static void append_reason(step_t *s, const char *fmt, int value)
{
    size_t n = strnlen(s->reason, sizeof(s->reason));
    snprintf(s->reason + n, sizeof(s->reason) - n, fmt, value);
}

/* The bounds. A shrink that stops at the floor is still a shrink (its
 * trigger stays); a hold at the floor is no decision; only growth up to the
 * floor is the floor's own doing. */
static void apply_bounds(const policy_input_t *in, step_t *s)
{
    if (s->desired > in->max_replicas) {
        append_reason(s, "; capped at max_replicas %d", in->max_replicas);
        s->desired = in->max_replicas;
    }
    if (s->desired >= in->floor_replicas)
        return;
    s->desired = in->floor_replicas;
    if (in->floor_replicas < in->current_replicas) {
        append_reason(s, "; kept at the floor of %d replicas", in->floor_replicas);
    } else if (in->floor_replicas == in->current_replicas) {
        s->trigger = "none";
        snprintf(s->reason, sizeof(s->reason), "kept at the floor of %d replicas",
                 in->floor_replicas);
    } else {
        s->trigger = "min_replicas";
        snprintf(s->reason, sizeof(s->reason), "raised to the floor of %d replicas",
                 in->floor_replicas);
    }
}

/* The burst figure: the panic window's mean, or what is in flight and
 * waiting right now when that is higher. A step of load shows in the
 * instantaneous figure at the first decision, long before a 6 s mean
 * catches up; since panic never shrinks, sizing on a peak costs at most
 * replicas held for one stable window. */
static double burst_concurrency(const policy_input_t *in)
{
    return in->concurrency_now > in->concurrency_panic ? in->concurrency_now
                                                       : in->concurrency_panic;
}

void policy_decide(const policy_input_t *in, const autoscaler_config_t *cfg, policy_state_t *state,
                   policy_decision_t *out)
{
    step_t s = {.desired = 0, .trigger = "none", .reason = "no load"};
    int want_stable = replicas_for(in->concurrency_stable, in->target_concurrency);
    int want_panic = replicas_for(burst_concurrency(in), in->target_concurrency);
    char reason[240];

    /* Idle long enough: zero, whatever the stable window still remembers. */
    if (in->current_replicas > 0 && idle_enough_for_zero(in, cfg)) {
        state->panic_until = 0;
        state->below_since = -1;
        s.desired = 0;
        s.trigger = "idle_timeout";
        snprintf(s.reason, sizeof(s.reason), "no request for %.0f s and no work for %.0f s",
                 seconds_since(in->now, in->last_arrival, in->started_at),
                 seconds_since(in->now, in->last_busy, in->started_at));
        apply_bounds(in, &s);
        goto done;
    }

    snprintf(reason, sizeof(reason),
             "%.2f concurrent requests over the stable window / %.2f per replica",
             in->concurrency_stable, in->target_concurrency);
    /* From zero only requests actually waiting count: bringing a model
     * back is the cold start's job, and the stable window's memory of a
     * request already answered (or failed) must not reload it. */
    if (in->current_replicas > 0 || in->queue_length > 0)
        raise_to(&s, want_stable, "concurrency", reason);
    if (in->current_replicas == 0 && in->queue_length > 0)
        raise_to(&s, 1, "concurrency", "requests are waiting and no replica runs");
    if (in->current_replicas == 0 && in->queue_length > 0 && want_panic > s.desired)
        raise_to(&s, want_panic, "panic", "a burst is waiting for a model at zero replicas");

    bool panicking = update_panic(in, cfg, state);
    if (panicking) {
        int hold = want_panic > in->current_replicas ? want_panic : in->current_replicas;
        snprintf(reason, sizeof(reason),
                 "panic: %.2f concurrent requests (panic window or now) against a capacity of %.2f",
                 burst_concurrency(in),
                 (in->current_replicas > 0 ? in->current_replicas : 1) * in->target_concurrency);
        if (hold > s.desired || want_panic > want_stable) {
            s.desired = hold > s.desired ? hold : s.desired;
            s.trigger = "panic";
            snprintf(s.reason, sizeof(s.reason), "%s", reason);
        }
    }
    apply_custom_metric(in, cfg, &s);
    apply_thresholds(in, cfg, &s);
    if (!panicking && in->current_replicas > 0)
        gate_shrink(in, cfg, state, &s);
    else
        state->below_since = -1;
    apply_bounds(in, &s);
done:
    out->desired = s.desired;
    out->trigger = s.trigger;
    out->panicking = state->panic_until > 0;
    snprintf(out->reason, sizeof(out->reason), "%s", s.reason);
}
