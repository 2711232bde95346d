/* baseline_ray_serve.c - Ray Serve's default autoscaling policy as a
 * simulator baseline.
 *
 * Algorithm: every control-loop iteration the Serve controller averages
 * the deployment's ongoing requests (running on replicas plus queued at
 * the handles) over the look-back period and proposes
 * ceil(total / target_ongoing_requests) replicas, bounded by min and max.
 * A proposal above the current target must be made in more than
 * upscale_delay_s / loop-period consecutive iterations before it is
 * applied, a proposal below it in more than downscale_delay_s /
 * loop-period; any iteration with the opposite or no change resets the
 * count. Scaling down stops at 1 except from exactly 1 to 0. With no
 * running replica and requests waiting, the controller asks for 1 at once
 * (the cold-start fast path, which bypasses the delays).
 *
 * Source: Ray Serve documentation "Ray Serve Autoscaling" and "Advanced
 * Ray Serve Autoscaling" (docs.ray.io/en/latest/serve/autoscaling-guide,
 * Ray 2.32+, read 2024), and python/ray/serve/autoscaling_policy.py
 * (replica_queue_length_autoscaling_policy, the delay logic and the
 * cold-start fast path) with python/ray/serve/_private/constants.py.
 * Defaults:
 *   target_ongoing_requests   2   (the default since Ray 2.32; it was 1 as
 *                                  target_num_ongoing_requests_per_replica)
 *   look_back_period_s        30
 *   upscale_delay_s           30
 *   downscale_delay_s         600
 *   downscale_to_zero_delay_s unset, so 1 -> 0 also waits 600 s
 *   upscaling_factor, downscaling_factor (smoothing)  1
 *   CONTROL_LOOP_INTERVAL_S   0.1 s (RAY_SERVE_CONTROL_LOOP_INTERVAL_S),
 *                             the decision period of this baseline
 *   min_replicas, max_replicas  the simulated model's bounds (Ray's own
 *                             defaults, 1 and 1, would not autoscale)
 *
 * What the simulation simplifies:
 * - Replicas and handles push their metrics every metrics_interval_s
 *   (10 s) and the controller averages the pushed points; here the
 *   average is the exact time average of in-flight plus queued requests
 *   over the last 30 s, from the simulator's concurrency integral.
 * - Running replicas are the simulator's ready replicas; the current
 *   target is its last clamped answer.
 * - The fast path runs on the arrival itself rather than at the next
 *   0.1 s iteration.
 */
#include "sim/sim_policy.h"
#include "sim/window_mean.h"

#include <math.h>
#include <stdlib.h>

#define RAY_LOOP_SECONDS      0.1
#define RAY_TARGET_ONGOING    2.0
#define RAY_LOOK_BACK         30.0
#define RAY_UPSCALE_DELAY     30.0
#define RAY_DOWNSCALE_DELAY   600.0
#define RAY_DOWNSCALE_TO_ZERO RAY_DOWNSCALE_DELAY
#define RAY_SAMPLES           1024 /* > 30 s / 0.1 s, with room for extra ticks */

typedef struct ray_serve {
    int min_replicas;
    int max_replicas;
    int decision_counter;              /* > 0: consecutive upscale proposals; < 0: downscale */
    sim_sample_t storage[RAY_SAMPLES]; /* (time, concurrency integral) at each loop */
    sim_samples_t samples;
} ray_serve_t;

static int ray_ceil(double x)
{
    /* A hair above an integer from float noise counts as that integer. */
    return (int)ceil(x - 1e-9);
}

/* The average of in-flight plus queued requests over the look-back
 * period ending now (over the time since the start, if shorter). */
static double ray_look_back_average(const ray_serve_t *r, const sim_observation_t *obs)
{
    return sim_samples_mean(&r->samples, obs->now, obs->concurrency_integral, RAY_LOOK_BACK,
                            (double)obs->in_flight + (double)obs->queued);
}

static void *ray_create(const sim_model_t *model)
{
    ray_serve_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->min_replicas = model->min_replicas > 0 ? model->min_replicas : 0;
    r->max_replicas = model->max_replicas > 0 ? model->max_replicas : 1;
    sim_samples_init(&r->samples, r->storage, RAY_SAMPLES);
    sim_samples_push(&r->samples, 0, 0); /* cumulative figures start at 0 at time 0 */
    return r;
}

static void ray_destroy(void *state)
{
    free(state);
}

static int ray_on_arrival(void *state, const sim_observation_t *obs)
{
    (void)state;
    if (obs->ready > 0 || obs->desired > 0)
        return -1;
    return 1; /* cold-start fast path */
}

/* Ray applies a proposal only after it held for more than delay / loop
 * period consecutive iterations, the count truncated as Python's int(). */
static int ray_periods(double delay)
{
    return (int)(delay / RAY_LOOP_SECONDS);
}

static int ray_on_tick(void *state, const sim_observation_t *obs)
{
    ray_serve_t *r = state;
    double total = ray_look_back_average(r, obs);
    sim_samples_push(&r->samples, obs->now, obs->concurrency_integral);
    int target = obs->desired;

    if (obs->ready <= 0) {
        /* The fast path leaves the delay counter as it was. */
        if (total > 0 || obs->in_flight + obs->queued > 0)
            return target > 1 ? target : 1;
        return -1;
    }

    int proposal = ray_ceil(total / RAY_TARGET_ONGOING);
    if (proposal < r->min_replicas)
        proposal = r->min_replicas;
    if (proposal > r->max_replicas)
        proposal = r->max_replicas;

    if (proposal > target) {
        if (r->decision_counter < 0)
            r->decision_counter = 0;
        r->decision_counter++;
        if (r->decision_counter > ray_periods(RAY_UPSCALE_DELAY)) {
            r->decision_counter = 0;
            return proposal;
        }
    } else if (proposal < target) {
        if (r->decision_counter > 0)
            r->decision_counter = 0;
        r->decision_counter--;
        double delay = RAY_DOWNSCALE_DELAY;
        if (target == 1)
            delay = RAY_DOWNSCALE_TO_ZERO;
        else if (proposal < 1)
            proposal = 1; /* only 1 -> 0 may reach zero */
        if (r->decision_counter < -ray_periods(delay)) {
            r->decision_counter = 0;
            return proposal;
        }
    } else {
        r->decision_counter = 0;
    }
    return -1;
}

const sim_policy_ops_t sim_policy_ray_serve = {
    .name = "ray_serve",
    .tick_seconds = RAY_LOOP_SECONDS,
    .create = ray_create,
    .destroy = ray_destroy,
    .on_arrival = ray_on_arrival,
    .on_tick = ray_on_tick,
};
