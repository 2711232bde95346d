/* baseline_kpa.c - the Knative Pod Autoscaler (KPA) as a simulator baseline.
 *
 * Algorithm: every tick the KPA averages the observed request concurrency
 * (requests in flight plus queued) over a stable window and a panic window,
 * turns each average into a pod count by dividing by the per-pod target
 * and rounding up, and bounds both by the scale-up and scale-down rates
 * measured against the ready pods (at least 1). It panics when the panic
 * pod count is at least panic-threshold times the ready pods, stays in
 * panic until the condition has not held for a whole stable window, and
 * while panicking never lowers its answer. A request for a revision at
 * zero goes through the activator, which wakes one pod at once.
 *
 * Source: Knative Serving, pkg/autoscaler/scaling/autoscaler.go (function
 * Scale) and pkg/reconciler/autoscaling/kpa/scaler.go, and the
 * documentation "Configuring the autoscaler", "Configuring scale to zero"
 * and "Configuring targets" (knative.dev/docs/serving/autoscaling/,
 * Knative Serving 1.x, read 2024). Defaults, all from the
 * config-autoscaler ConfigMap defaults:
 *   stable-window                     60 s
 *   panic-window-percentage           10 %  (a 6 s panic window)
 *   panic-threshold-percentage        200 %
 *   container-concurrency-target-percentage 70 %: the per-pod target is
 *                                     70 % of the model's replica_concurrency
 *                                     (the revision's containerConcurrency)
 *   max-scale-up-rate                 1000
 *   max-scale-down-rate               2
 *   scale-to-zero-grace-period        30 s
 *   tick-interval                     2 s
 *   scale-down-delay                  0 s (so no delay window)
 *
 * What the simulation simplifies:
 * - Knative aggregates per-second concurrency buckets scraped from the
 *   queue-proxies; here the averages are exact time averages computed from
 *   the simulator's cumulative concurrency integral sampled at each tick
 *   (decisions are only taken at ticks, so samples at arrivals would add
 *   nothing). With ticks on multiples of 2 s both window edges fall on
 *   earlier samples; between samples the integral is interpolated. Before
 *   a full window has passed the average covers the time since the start,
 *   as Knative averages the buckets it has.
 * - Scale to zero follows pkg/reconciler/autoscaling/kpa/scaler.go
 *   (handleScaleToZero): a decision of 0 first puts the activator in the
 *   request path, and the last pod is removed once that has lasted the
 *   grace period. Here the activator is in the path the moment the
 *   decision is 0, so the last pod goes when the decision has been 0 for
 *   30 s; probing and the pod retention period (default 0) are not modelled.
 * - The activator's wake-up is immediate: an arrival at zero asks for one
 *   pod in the same instant, without waiting for the next tick.
 */
#include "sim/sim_policy.h"
#include "sim/window_mean.h"

#include <math.h>
#include <stdlib.h>

#define KPA_TICK_SECONDS        2.0
#define KPA_STABLE_WINDOW       60.0
#define KPA_PANIC_WINDOW        6.0 /* 10 % of the stable window */
#define KPA_PANIC_THRESHOLD     2.0
#define KPA_TARGET_UTILISATION  0.7
#define KPA_MAX_SCALE_UP_RATE   1000.0
#define KPA_MAX_SCALE_DOWN_RATE 2.0
#define KPA_SCALE_TO_ZERO_GRACE 30.0
#define KPA_SAMPLES             128 /* ticks kept: twice the stable window at 2 s */

typedef struct kpa {
    double target; /* concurrency per pod */
    /* (time, concurrency integral) at each tick. */
    sim_sample_t storage[KPA_SAMPLES];
    sim_samples_t samples;
    double panic_time; /* < 0: not panicking */
    int max_panic_pods;
    double zero_since; /* < 0: the decision was not 0 */
} kpa_t;

static int kpa_ceil(double x)
{
    /* A hair above an integer from float noise counts as that integer. */
    return (int)ceil(x - 1e-9);
}

static void *kpa_create(const sim_model_t *model)
{
    kpa_t *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    unsigned concurrency = model->replica_concurrency ? model->replica_concurrency : 1;
    k->target = concurrency * KPA_TARGET_UTILISATION;
    k->panic_time = -1;
    k->zero_since = -1;
    sim_samples_init(&k->samples, k->storage, KPA_SAMPLES);
    sim_samples_push(&k->samples, 0, 0); /* cumulative figures start at 0 at time 0 */
    return k;
}

static void kpa_destroy(void *state)
{
    free(state);
}

static int kpa_on_arrival(void *state, const sim_observation_t *obs)
{
    kpa_t *k = state;
    if (obs->desired > 0 || obs->ready + obs->starting > 0)
        return -1;
    /* The activator holds the request and pokes the autoscaler awake. */
    k->zero_since = -1;
    return 1;
}

static int kpa_clamp(int pods, double low, double high)
{
    double p = pods;
    if (p < low)
        p = low;
    if (p > high)
        p = high;
    return (int)p;
}

static int kpa_on_tick(void *state, const sim_observation_t *obs)
{
    kpa_t *k = state;
    double instant = (double)obs->in_flight + (double)obs->queued;
    double stable = sim_samples_mean(&k->samples, obs->now, obs->concurrency_integral,
                                     KPA_STABLE_WINDOW, instant);
    double panic = sim_samples_mean(&k->samples, obs->now, obs->concurrency_integral,
                                    KPA_PANIC_WINDOW, instant);
    sim_samples_push(&k->samples, obs->now, obs->concurrency_integral);

    /* Rates are measured against the ready pods, taken as 1 at zero so
     * that a revision can grow out of zero. */
    double ready = obs->ready > 1 ? obs->ready : 1;
    double max_up = ceil(KPA_MAX_SCALE_UP_RATE * ready);
    double max_down = floor(ready / KPA_MAX_SCALE_DOWN_RATE);
    int stable_pods = kpa_ceil(stable / k->target);
    int panic_pods = kpa_ceil(panic / k->target);
    int desired_stable = kpa_clamp(stable_pods, max_down, max_up);
    int desired_panic = kpa_clamp(panic_pods, max_down, max_up);

    bool over_threshold = panic_pods / ready >= KPA_PANIC_THRESHOLD;
    if (over_threshold) {
        k->panic_time = obs->now; /* enter, or extend, panic */
    } else if (k->panic_time >= 0 && k->panic_time + KPA_STABLE_WINDOW < obs->now) {
        /* The surge has made its way into the stable window. */
        k->panic_time = -1;
        k->max_panic_pods = 0;
    }

    int desired = desired_stable;
    if (k->panic_time >= 0) {
        if (desired < desired_panic)
            desired = desired_panic;
        if (desired > k->max_panic_pods)
            k->max_panic_pods = desired;
        desired = k->max_panic_pods; /* no scale-down while panicking */
    }

    if (desired > 0 || obs->desired == 0) {
        k->zero_since = -1;
        return desired;
    }
    if (k->zero_since < 0)
        k->zero_since = obs->now;
    if (obs->now - k->zero_since < KPA_SCALE_TO_ZERO_GRACE)
        return 1; /* the last pod stays through the grace period */
    return 0;
}

const sim_policy_ops_t sim_policy_kpa = {
    .name = "kpa",
    .tick_seconds = KPA_TICK_SECONDS,
    .create = kpa_create,
    .destroy = kpa_destroy,
    .on_arrival = kpa_on_arrival,
    .on_tick = kpa_on_tick,
};
