/* policy.c - the scaling decision (see policy.h for the rules).
 *
 * The decision is built in steps, each a small function that may raise
 * the desired count and name its trigger: concurrency, panic, the custom
 * metric, thresholds; then the shrink gate (hold until the idle window
 * passed) and the zero gate; then the bounds. Triggers are fixed strings
 * so that events can be counted by them.
 *
 * The predictive and hybrid strategies add a forecasting memory behind a
 * pointer in the state (a 14-day per-minute ring and an idle histogram,
 * autoscaler/forecast.h), allocated on first use so that the reactive
 * strategy's state stays two numbers, and reuse the reactive steps for
 * what they share: the shrink gate, the zero gate and the bounds.
 *
 * Hybrid's own figures, each from the model's load time, never from a
 * trace:
 *   hold  = max(HOLD_LOADS x load, scale-up cooldown): a surplus replica
 *           goes after the load stayed low that long, and a panic lasts
 *           that long. Ski rental: keeping an idle replica costs its time,
 *           letting it go costs getting it back - one load (and a wait of
 *           up to one load for the request that wanted it), or the rest of
 *           the scale-up cooldown when one is set; a deterministic renter
 *           buys after the rent paid equals the price, so a hold of about
 *           that long is 2-competitive. HOLD_LOADS 2 covers a load time as
 *           measured (spawn and start included) and one more decision to
 *           see the load gone. A hold shorter than a decision interval is
 *           no hold: the replica goes at the decision that finds it
 *           surplus.
 *   release = the other half of burst start, between decisions, for a
 *           model that loads within a decision interval: at a request that
 *           finds a free replica, replicas beyond the ones busy now go, down
 *           to the latest decision's count less its hold
 *           (policy_release_target). A replica the next request might want
 *           is back within one load time, which for such a model is less
 *           than a decision would take to notice either way.
 *   silence = the forecast's own check: while the model is idle, the
 *           requests the forecast expected are summed (from scratch
 *           whenever the forecast expects too little to need a replica);
 *           once they reach PREDICT_SILENCE_EXPECTED (4.6: no request at
 *           all has a probability under 1 % for a Poisson count with that
 *           mean), the forecast is contradicted and its rate need is set
 *           aside until a request comes. A seasonal estimate of a cycle that has
 *           stopped, or a trend that outlives its load, otherwise holds a
 *           model up for as long as its memory lasts.
 *   burst = one more replica between decisions, when a request waits
 *           behind busy replicas longer than a replica takes to load
 *           (policy_burst_target; the wait is service x uncovered / ready,
 *           the requests no starting replica is coming for). Knative's
 *           activator only helps from zero; this helps from any count.
 *   headroom = when a replica loads slower than a request is served, burst
 *           start cannot cover queueing, so the forecast's need is the
 *           fewest replicas with which 1 % of requests at most wait past
 *           the response-time threshold in an M/M/n queue (Erlang C); with
 *           a faster load the need is Little's law, and bursts are burst
 *           start's (predict_need).
 */
#include "autoscaler/policy.h"
#include "autoscaler/forecast.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct step {
    int desired;
    int held_keep; /* > 0: the shrink gate holds; the count it would go to */
    const char *trigger;
    char reason[240];
} step_t;

void policy_state_init(policy_state_t *state)
{
    state->panic_until = 0;
    state->below_since = -1;
    state->predict = NULL;
}

static int replicas_for(double concurrency, double target)
{
    if (!(concurrency > 0) || !(target > 0))
        return 0;
    /* A hair below the integer counts as that integer: 2.0000000001 is 2. */
    double n = ceil(concurrency / target - 1e-9);
    /* No model may have more (config.h), and a huge figure (a custom
     * gauge of 1e12, say) must not overflow the int: it wants the most. */
    return n > CONFIG_REPLICAS_LIMIT ? CONFIG_REPLICAS_LIMIT : (int)n;
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

typedef struct shrink_rules shrink_rules_t;
static double panic_hold_of(const shrink_rules_t *rules);
static double burst_concurrency(const policy_input_t *in, const shrink_rules_t *rules);

static bool update_panic(const policy_input_t *in, const autoscaler_config_t *cfg,
                         const shrink_rules_t *rules, policy_state_t *state)
{
    int replicas = in->current_replicas > 0 ? in->current_replicas : 1;
    double capacity = replicas * in->target_concurrency;
    double burst = burst_concurrency(in, rules);
    /* From zero only waiting requests make a burst (as in step 1). */
    bool from_zero_idle = in->current_replicas == 0 && !(in->queue_length > 0);
    if (!from_zero_idle && burst > 0 && burst >= cfg->reactive.panic_threshold * capacity)
        state->panic_until = in->now + panic_hold_of(rules);
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

/* Whether the model may go to zero at all now, whatever its idle time. */
static bool may_go_to_zero(const policy_input_t *in, const autoscaler_config_t *cfg)
{
    if (!cfg->zero_scaling_enabled || !cfg->model_management.auto_unload_unused_models ||
        in->floor_replicas > 0 || in->queue_length > 0 || in->concurrency_now > 0)
        return false;
    /* Load reported from outside is load, even with no request here. */
    return !(custom_metric_fresh(in, cfg) && in->custom_metric_value > 0);
}

static bool idle_enough_for_zero(const policy_input_t *in, const autoscaler_config_t *cfg)
{
    if (!may_go_to_zero(in, cfg))
        return false;
    double quiet = seconds_since(in->now, in->last_arrival, in->started_at);
    double idle = seconds_since(in->now, in->last_busy, in->started_at);
    return quiet >= cfg->zero_scale_threshold.no_requests_minutes * 60.0 &&
           idle >= cfg->zero_scale_threshold.idle_time_minutes * 60.0;
}

/* How the reactive decision shrinks: how long the load must stay low
 * before a replica goes, and whether the model may go to zero now. Reactive
 * uses the configured windows; hybrid its own (decide_hybrid). */
struct shrink_rules {
    double window_seconds;
    bool zero_now;
    double panic_hold_seconds; /* how long a panic holds the count after the burst */
    bool panic_on_now;         /* the burst figure counts the instantaneous concurrency */
};

static shrink_rules_t reactive_rules(const policy_input_t *in, const autoscaler_config_t *cfg)
{
    return (shrink_rules_t){
        .window_seconds = cfg->scale_down_threshold.idle_time_minutes * 60.0,
        .zero_now = in->current_replicas > 0 && idle_enough_for_zero(in, cfg),
        .panic_hold_seconds = cfg->reactive.stable_window_seconds,
        .panic_on_now = true,
    };
}

/* Shrinking waits until the load stayed low for the rules' window; before
 * that the count holds. Down to one replica at most: zero is the zero
 * gate's decision. */
static void gate_shrink(const policy_input_t *in, const autoscaler_config_t *cfg,
                        policy_state_t *state, step_t *s, double window)
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
    double below_for = in->now - state->below_since;
    if (below_for < window) {
        s->held_keep = keep;
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

static double panic_hold_of(const shrink_rules_t *rules)
{
    return rules->panic_hold_seconds;
}

/* The burst figure: the panic window's mean, or what is in flight and
 * waiting right now when that is higher. A step of load shows in the
 * instantaneous figure at the first decision, long before a 6 s mean
 * catches up; since panic never shrinks, sizing on a peak costs at most
 * replicas held for one panic hold. Rules without panic_on_now (hybrid
 * for a model that loads within a decision interval) leave the
 * instantaneous figure to burst start, which answers each waiting request
 * sooner than a decision could; at zero it still counts (the requests
 * waiting there are all the load there is). */
static double burst_concurrency(const policy_input_t *in, const shrink_rules_t *rules)
{
    if (!rules->panic_on_now && in->current_replicas > 0)
        return in->concurrency_panic;
    return in->concurrency_now > in->concurrency_panic ? in->concurrency_now
                                                       : in->concurrency_panic;
}

static void decide_reactive(const policy_input_t *in, const autoscaler_config_t *cfg,
                            policy_state_t *state, const shrink_rules_t *rules, step_t *out)
{
    step_t s = {.desired = 0, .trigger = "none", .reason = "no load"};
    int want_stable = replicas_for(in->concurrency_stable, in->target_concurrency);
    int want_panic = replicas_for(burst_concurrency(in, rules), in->target_concurrency);
    char reason[240];

    /* Idle long enough: zero, whatever the stable window still remembers. */
    if (in->current_replicas > 0 && rules->zero_now) {
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

    bool panicking = update_panic(in, cfg, rules, state);
    if (panicking) {
        int hold = want_panic > in->current_replicas ? want_panic : in->current_replicas;
        snprintf(reason, sizeof(reason),
                 "panic: %.2f concurrent requests (panic window or now) against a capacity of %.2f",
                 burst_concurrency(in, rules),
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
        gate_shrink(in, cfg, state, &s, rules->window_seconds);
    else
        state->below_since = -1;
    apply_bounds(in, &s);
done:
    *out = s;
}

/* ---- the forecasting memory (predictive and hybrid) ---- */

/* At least this many requests expected within the horizon make a need:
 * one request, so a model nobody is expected to call is not held for a
 * fraction of one. */
#define PREDICT_MIN_EXPECTED 1.0
/* The forecast has one-minute resolution: a shorter horizon says nothing
 * a minute does not. */
#define PREDICT_MIN_HORIZON 60.0
/* When a replica loads slower than a request is served, burst start cannot
 * cover the queueing of a pool sized at its mean load, so the forecast's
 * need carries headroom: the fewest replicas with which at most this share
 * of requests would wait longer than the operator's response-time
 * threshold less the service time, in an M/M/n queue (Erlang C) offered
 * the forecast rate. The p99 notion: 1 %. */
#define PREDICT_LATE_SHARE 0.01
/* Silence: a forecast that expected this many requests while none came is
 * set aside (see the top of the file). */
#define PREDICT_SILENCE_EXPECTED 4.6
/* Hybrid's hold (see the top of the file). */
#define HOLD_LOADS 2.0

struct policy_predict {
    forecast_t *forecast;
    bool observed;          /* last_now and last_total hold a baseline */
    double last_now;        /* monotonic time of the previous observation */
    double last_total;      /* arrivals_total then */
    double rate;            /* arrivals per second, averaged over the stable window */
    double service_est;     /* seconds a request holds a slot, from Little's law; NAN none */
    double seen_arrival;    /* the latest arrival already accounted for */
    double work_end;        /* end of the work before the current idle gap; < 0 none */
    double silent_expected; /* requests the forecast expected while none came */
};

static struct policy_predict *predict_of(policy_state_t *state)
{
    if (!state->predict) {
        state->predict = xcalloc(1, sizeof(*state->predict));
        state->predict->forecast = forecast_new();
        state->predict->service_est = NAN;
        state->predict->seen_arrival = -1;
        state->predict->work_end = -1;
    }
    return state->predict;
}

void policy_state_reset(policy_state_t *state)
{
    state->panic_until = 0;
    state->below_since = -1;
}

void policy_state_free(policy_state_t *state)
{
    if (state->predict) {
        forecast_free(state->predict->forecast);
        free(state->predict);
    }
    policy_state_init(state);
}

void policy_state_seed_minute(policy_state_t *state, int64_t unix_minute, double requests)
{
    forecast_add_minute(predict_of(state)->forecast, unix_minute, requests);
}

static bool busy_now(const policy_input_t *in)
{
    return in->concurrency_now > 0 || in->queue_length > 0 ||
           (in->last_busy >= 0 && in->last_busy >= in->now);
}

/* Silence (see the top of the file): what the forecast expected over the
 * last dt seconds joins the sum while nothing arrives and nothing runs; any
 * request or work resets it, and so does an interval in which the forecast
 * itself expected too little to need a replica (under PREDICT_MIN_EXPECTED
 * per PREDICT_MIN_HORIZON): a forecast that asks for nothing has nothing to
 * be contradicted in, and when it asks again (the next cycle of a seasonal
 * pattern) it starts with a clean record. */
static void note_silence(struct policy_predict *p, const policy_input_t *in, double dt,
                         double arrived)
{
    if (busy_now(in) || !p->observed || !(dt > 0) || arrived != 0) {
        p->silent_expected = 0;
        return;
    }
    forecast_rate_t past;
    forecast_predict(p->forecast, in->unix_now - dt, dt, &past);
    if (past.expected / dt * PREDICT_MIN_HORIZON < PREDICT_MIN_EXPECTED)
        p->silent_expected = 0;
    else
        p->silent_expected += past.expected;
}

/* Feeds one observation: the minute counts, the measured rate (an
 * exponential average with the stable window as its time constant, the
 * same memory the stable concurrency has), the service time estimate, and
 * the idle gaps. An idle gap runs from the end of work seen while idle to
 * the next arrival; the latest arrival stands for the first one after the
 * gap, which is at most one decision interval off. */
static void predict_observe(struct policy_predict *p, const policy_input_t *in,
                            const autoscaler_config_t *cfg)
{
    forecast_observe(p->forecast, in->unix_now, in->arrivals_total);
    double dt = in->now - p->last_now, delta = in->arrivals_total - p->last_total;
    note_silence(p, in, dt, delta);
    if (p->observed && dt > 0 && delta >= 0 && isfinite(delta)) {
        double tau = cfg->reactive.stable_window_seconds;
        double a = 1 - exp(-dt / (tau > 0 ? tau : 1));
        p->rate += a * (delta / dt - p->rate);
    }
    if (!p->observed || dt > 0 || delta < 0) {
        p->last_now = in->now;
        p->last_total = in->arrivals_total;
        p->observed = true;
    }
    if (in->concurrency_stable > 0 && p->rate > 0)
        p->service_est = in->concurrency_stable / p->rate;

    if (in->last_arrival >= 0 && in->last_arrival > p->seen_arrival) {
        if (p->work_end >= 0 && in->last_arrival >= p->work_end)
            forecast_add_idle_time(p->forecast, in->last_arrival - p->work_end);
        p->work_end = -1;
        p->seen_arrival = in->last_arrival;
    }
    if (!busy_now(in) && in->last_busy >= 0)
        p->work_end = fmax(in->last_busy, p->seen_arrival);
}

/* Erlang C: the probability that a request waits in an M/M/n queue offered
 * a (requests in service on average, a < n), from the Erlang B recursion,
 * which stays finite for any n. */
static double erlang_c(int n, double a)
{
    double b = 1.0;
    for (int k = 1; k <= n; k++)
        b = a * b / (k + a * b);
    return n * b / (n - a * (1.0 - b));
}

/* The fewest replicas (each serving `per` requests) with which at most
 * PREDICT_LATE_SHARE of requests wait longer than `budget` service times,
 * for an offered load of a requests in service: in an M/M/n queue (n =
 * replicas x per servers) P(wait > t) = C(n, a) exp(-(n - a) t / S). At
 * most CONFIG_REPLICAS_LIMIT. */
static int replicas_with_headroom(double a, double per, double budget)
{
    if (!(a > 0) || !(per > 0))
        return 0;
    if (!(budget > 0))
        budget = 0;
    for (int r = 1; r <= CONFIG_REPLICAS_LIMIT; r++) {
        int n = (int)floor(r * per);
        if (n < 1 || n <= a)
            continue;
        if (erlang_c(n, a) * exp(-(n - a) * budget) <= PREDICT_LATE_SHARE)
            return r;
    }
    return CONFIG_REPLICAS_LIMIT;
}

/* The wait a request may have, in service times, before its latency
 * passes the response-time threshold. */
static double wait_budget(const autoscaler_config_t *cfg, double service)
{
    return (cfg->thresholds.response_time_threshold_ms / 1000.0 - service) / service;
}

static double known_or_zero(double v)
{
    return isfinite(v) && v > 0 ? v : 0;
}

typedef struct need {
    int replicas;
    const char *trigger;
    char reason[240];
} need_t;

/* What the forecast needs over [now, now + horizon]: see policy.h. holding
 * says the model is up, which widens the rhythm's window by one histogram
 * bin (unloading a model to load it again within a bin is churn below the
 * histogram's resolution). */
static void predict_need(const policy_input_t *in, const autoscaler_config_t *cfg,
                         struct policy_predict *p, double horizon, bool holding, need_t *n)
{
    forecast_rate_t fr;
    forecast_predict(p->forecast, in->unix_now, horizon, &fr);
    double peak = fmax(fr.peak_per_minute, p->rate * 60.0);
    double expected = fmax(fr.expected, p->rate * horizon);
    double service = isfinite(in->service_seconds) && in->service_seconds > 0 ? in->service_seconds
                                                                              : p->service_est;
    n->replicas = 0;
    n->trigger = "none";
    snprintf(n->reason, sizeof(n->reason),
             "%.2f requests expected within %.0f s (forecast: %s), fewer than %.0f", expected,
             horizon, fr.method, PREDICT_MIN_EXPECTED);
    if (p->silent_expected >= PREDICT_SILENCE_EXPECTED) {
        snprintf(n->reason, sizeof(n->reason),
                 "the forecast expected %.1f requests while the model was idle and none came",
                 p->silent_expected);
        expected = 0;
    }
    if (expected >= PREDICT_MIN_EXPECTED) {
        bool sized = isfinite(service) && service > 0;
        double offered = peak / 60.0 * service;
        bool slow_load = !(isfinite(in->load_seconds) && in->load_seconds < service);
        int k = !sized      ? 1
                : slow_load ? replicas_with_headroom(offered, in->target_concurrency,
                                                     wait_budget(cfg, service))
                            : replicas_for(offered, in->target_concurrency);
        n->replicas = k > 1 ? k : 1;
        n->trigger = "predicted_load";
        if (sized)
            snprintf(n->reason, sizeof(n->reason),
                     "forecast %.1f requests/min at peak within %.0f s (%s, period %d min, trend "
                     "x%.2f) x %.2f s service / %.2f per replica",
                     peak, horizon, fr.method, fr.period_minutes, fr.correction, service,
                     in->target_concurrency);
        else
            snprintf(n->reason, sizeof(n->reason),
                     "forecast %.1f requests within %.0f s (%s); no service time measured yet",
                     expected, horizon, fr.method);
    }
    forecast_idle_t idle;
    forecast_idle_windows(p->forecast, &idle);
    if (n->replicas > 0 || !idle.representative)
        return;
    double since = busy_now(in) ? 0 : seconds_since(in->now, in->last_busy, in->started_at);
    double slack = holding ? FORECAST_IDLE_BIN_SECONDS : 0;
    if (since < idle.keep_alive_seconds && idle.prewarm_seconds - since <= horizon + slack) {
        n->replicas = 1;
        n->trigger = holding ? "keep_alive" : "prewarm";
        snprintf(n->reason, sizeof(n->reason),
                 "idle for %.0f s; the idle-time histogram (%u gaps) expects a request between "
                 "%.0f and %.0f s of idle time",
                 since, idle.samples, idle.prewarm_seconds, idle.keep_alive_seconds);
    }
}

static double horizon_of(const policy_input_t *in, const autoscaler_config_t *cfg)
{
    double h = known_or_zero(in->load_seconds) + cfg->timing.decision_interval_seconds;
    return h > PREDICT_MIN_HORIZON ? h : PREDICT_MIN_HORIZON;
}

static double hold_horizon_of(const policy_input_t *in)
{
    double h = known_or_zero(in->load_seconds);
    return h > PREDICT_MIN_HORIZON ? h : PREDICT_MIN_HORIZON;
}

static void zero_step(const policy_input_t *in, policy_state_t *state, step_t *s)
{
    state->panic_until = 0;
    state->below_since = -1;
    s->desired = 0;
    s->trigger = "idle_timeout";
    snprintf(s->reason, sizeof(s->reason),
             "no request for %.0f s and no work for %.0f s, and none expected",
             seconds_since(in->now, in->last_arrival, in->started_at),
             seconds_since(in->now, in->last_busy, in->started_at));
}

static void decide_predictive(const policy_input_t *in, const autoscaler_config_t *cfg,
                              policy_state_t *state, step_t *s)
{
    need_t n;
    predict_need(in, cfg, state->predict, horizon_of(in, cfg), in->current_replicas > 0, &n);
    state->panic_until = 0;
    if (in->current_replicas > 0 && n.replicas == 0 && idle_enough_for_zero(in, cfg)) {
        zero_step(in, state, s);
    } else if (in->current_replicas == 0) {
        state->below_since = -1;
        if (in->queue_length > 0)
            raise_to(s, n.replicas > 1 ? n.replicas : 1, "concurrency",
                     "requests are waiting and no replica runs");
        else if (n.replicas > 0 && cfg->model_management.preload_popular_models)
            raise_to(s, n.replicas, n.trigger, n.reason);
        else if (n.replicas > 0)
            snprintf(s->reason, sizeof(s->reason),
                     "preload_popular_models is off: not loading ahead of the forecast (%.160s)",
                     n.reason);
        else
            snprintf(s->reason, sizeof(s->reason), "%s", n.reason);
    } else {
        raise_to(s, n.replicas, n.trigger, n.reason);
        if (s->desired == 0)
            snprintf(s->reason, sizeof(s->reason), "%s", n.reason);
        gate_shrink(in, cfg, state, s, reactive_rules(in, cfg).window_seconds);
    }
    apply_bounds(in, s);
}

/* Whether a replica of this model loads within a decision interval: then
 * burst start and release size it between decisions. */
static bool loads_within_a_decision(const policy_input_t *in, const autoscaler_config_t *cfg)
{
    return isfinite(in->load_seconds) && in->load_seconds >= 0 &&
           in->load_seconds < cfg->timing.decision_interval_seconds;
}

/* How long hybrid holds a surplus replica (and a panic's count) once the
 * load is low: HOLD_LOADS load times, or the scale-up cooldown when that is
 * longer; shorter than a decision interval, no hold at all (see the top of
 * the file). */
static double hybrid_hold_seconds(const policy_input_t *in, const autoscaler_config_t *cfg)
{
    double hold = fmax(HOLD_LOADS * known_or_zero(in->load_seconds),
                       cfg->cooldowns.scale_up_cooldown_seconds);
    return hold < cfg->timing.decision_interval_seconds ? 0 : hold;
}

/* Hybrid shrinks on the forecast's word rather than on fixed windows. The
 * reason to hold surplus replicas is that the load may come back; the
 * forecast says whether it will within the time a replica takes to come
 * back (the hold need), and the decision never goes below that. Beyond
 * the need a replica goes once the load stayed low for the hold
 * (hybrid_hold_seconds): as in ski rental, holding an idle replica for a
 * couple of load times costs no more than the load it would save, so a
 * 5 ms model sheds at the next decision and a 30 s one after a minute.
 * Its panic holds for the same time, not for the stable window: a panic
 * sizes for a burst because a replica takes a load time to come, and the
 * count it set is worth keeping only as long as getting it back costs.
 * Zero follows the model's own rhythm: with a representative idle-time
 * histogram, as soon as the forecast expects nothing within one load time
 * (the histogram's keep-alive and pre-warm windows are part of that
 * need); without one, the configured zero-scale windows. */
static shrink_rules_t hybrid_rules(const policy_input_t *in, const autoscaler_config_t *cfg,
                                   const struct policy_predict *p, const need_t *hold)
{
    double hold_seconds = hybrid_hold_seconds(in, cfg);
    shrink_rules_t r = {
        .window_seconds = hold_seconds,
        .zero_now = false,
        .panic_hold_seconds = hold_seconds,
        /* Burst start answers a waiting request within one load time;
         * when that beats the next decision, chasing the instantaneous
         * concurrency at a decision only holds replicas for requests
         * already served. */
        .panic_on_now = !(known_or_zero(in->load_seconds) < cfg->timing.decision_interval_seconds),
    };
    if (in->current_replicas == 0 || hold->replicas > 0 || !may_go_to_zero(in, cfg))
        return r;
    forecast_idle_t idle;
    forecast_idle_windows(p->forecast, &idle);
    r.zero_now = idle.representative ? true : idle_enough_for_zero(in, cfg);
    return r;
}

static void decide_hybrid(const policy_input_t *in, const autoscaler_config_t *cfg,
                          policy_state_t *state, step_t *s)
{
    int current = in->current_replicas;
    need_t hold;
    predict_need(in, cfg, state->predict, hold_horizon_of(in), true, &hold);
    shrink_rules_t rules = hybrid_rules(in, cfg, state->predict, &hold);
    decide_reactive(in, cfg, state, &rules, s);
    need_t n;
    predict_need(in, cfg, state->predict, horizon_of(in, cfg), current > 0, &n);
    if (current == 0 && !(in->queue_length > 0) && !cfg->model_management.preload_popular_models &&
        n.replicas > 0) {
        if (s->desired == 0)
            snprintf(s->reason, sizeof(s->reason),
                     "preload_popular_models is off: not loading ahead of the forecast (%.160s)",
                     n.reason);
        n.replicas = 0;
    }
    /* What a release may go down to while the shrink gate holds: the
     * gate's count, never below the forecast's need within one load time. */
    if (s->held_keep > 0 && hold.replicas > s->held_keep)
        s->held_keep = hold.replicas < current ? hold.replicas : current;
    if (n.replicas > current && n.replicas > s->desired) {
        s->held_keep = 0; /* a growth: its count is the floor */
        s->desired = n.replicas;
        s->trigger = n.trigger;
        snprintf(s->reason, sizeof(s->reason), "%s", n.reason);
        apply_bounds(in, s);
        return;
    }
    if (s->desired == current && current > 0 && hold.replicas >= current &&
        reactive_rules(in, cfg).zero_now) {
        /* Reactive's zero gate has passed; what keeps the model is the
         * forecast, and the reason says so. */
        s->trigger = hold.trigger;
        snprintf(s->reason, sizeof(s->reason), "the forecast needs %d within one load time: %.180s",
                 hold.replicas, hold.reason);
        return;
    }
    if (s->desired >= current)
        return;
    int floor = hold.replicas < current ? hold.replicas : current;
    if (floor <= s->desired)
        return;
    s->desired = floor;
    s->trigger = hold.trigger;
    snprintf(s->reason, sizeof(s->reason), "the forecast needs %d within one load time: %.180s",
             floor, hold.reason);
    apply_bounds(in, s);
}

void policy_decide(const policy_input_t *in, const autoscaler_config_t *cfg, policy_state_t *state,
                   policy_decision_t *out)
{
    step_t s = {.desired = 0, .trigger = "none", .reason = "no load"};
    if (cfg->scaling_strategy != STRATEGY_REACTIVE)
        predict_of(state);
    if (state->predict)
        predict_observe(state->predict, in, cfg);
    switch (cfg->scaling_strategy) {
    case STRATEGY_PREDICTIVE:
        decide_predictive(in, cfg, state, &s);
        break;
    case STRATEGY_HYBRID:
        decide_hybrid(in, cfg, state, &s);
        break;
    default: {
        shrink_rules_t rules = reactive_rules(in, cfg);
        decide_reactive(in, cfg, state, &rules, &s);
        break;
    }
    }
    out->desired = s.desired;
    out->release_floor = s.held_keep > 0 && s.held_keep < s.desired ? s.held_keep : s.desired;
    out->trigger = s.trigger;
    out->panicking = state->panic_until > 0;
    snprintf(out->reason, sizeof(out->reason), "%s", s.reason);
}

int policy_burst_target(const policy_input_t *in, const autoscaler_config_t *cfg, char *reason,
                        size_t reason_len)
{
    int current = in->current_replicas;
    double load = in->load_seconds, service = in->service_seconds, per = in->target_concurrency;
    if (cfg->scaling_strategy == STRATEGY_REACTIVE || current <= 0 || current >= in->max_replicas ||
        !(in->queue_length > 0))
        return -1;
    if (!isfinite(load) || load < 0 || !isfinite(service) || !(service > 0) || !(per > 0))
        return -1;
    int starting = in->starting_replicas < 0         ? 0
                   : in->starting_replicas > current ? current
                                                     : in->starting_replicas;
    int ready = current - starting;
    double uncovered = in->queue_length - starting * per;
    if (!(uncovered > 0))
        return -1;
    double wait = service * uncovered / ((ready > 0 ? ready : 1) * per);
    if (!(load < wait))
        return -1;
    if (reason && reason_len > 0)
        snprintf(reason, reason_len,
                 "burst: %.0f requests wait behind %d busy replicas (about %.3f s) and a replica "
                 "loads in %.3f s",
                 uncovered, ready, wait, load);
    return current + 1;
}

int policy_release_target(const policy_input_t *in, const autoscaler_config_t *cfg,
                          int release_floor, char *reason, size_t reason_len)
{
    int current = in->current_replicas;
    double per = in->target_concurrency;
    if (cfg->scaling_strategy != STRATEGY_HYBRID || current <= 1 || in->queue_length > 0 ||
        !(per > 0) || !loads_within_a_decision(in, cfg))
        return -1;
    int keep = replicas_for(in->concurrency_now, per);
    if (keep < release_floor)
        keep = release_floor;
    if (keep < in->floor_replicas)
        keep = in->floor_replicas;
    if (keep < 1)
        keep = 1;
    if (keep >= current)
        return -1;
    if (reason && reason_len > 0)
        snprintf(reason, reason_len,
                 "release: %.0f requests in flight need %d of %d replicas, and a replica loads in "
                 "%.3f s, within a decision interval",
                 in->concurrency_now, keep, current, in->load_seconds);
    return keep;
}
