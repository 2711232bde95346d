/* test_baselines.c - the published autoscaling baselines of the simulator,
 * each against a scenario computed by hand from its documentation.
 *
 * The policies are driven through their ops with hand-made observations;
 * no simulator runs. Where a scenario needs load over time, it is a list
 * of steps of constant load, from which the observation's cumulative
 * integrals are computed exactly. Where replicas matter, they become ready
 * the instant the policy asks for them, so that each row can be checked
 * with pencil and paper.
 */
#include <criterion/criterion.h>

#include "sim/sim_policy.h"

#include <math.h>
#include <string.h>

/* ---- observations ---- */

typedef struct load_step {
    double from; /* the step lasts until the next one's from */
    unsigned in_flight;
    unsigned queued;
} load_step_t;

static sim_observation_t observe_at(double t, unsigned in_flight, unsigned queued)
{
    sim_observation_t obs;
    memset(&obs, 0, sizeof(obs));
    obs.now = t;
    obs.in_flight = in_flight;
    obs.queued = queued;
    obs.last_arrival = -1;
    obs.recent_latency_p95_seconds = NAN;
    return obs;
}

/* The observation at time t of a load given as steps starting at 0. */
static sim_observation_t observe_load(const load_step_t *steps, size_t n, double t)
{
    sim_observation_t obs = observe_at(t, 0, 0);
    for (size_t i = 0; i < n && steps[i].from < t; i++) {
        double end = i + 1 < n && steps[i + 1].from < t ? steps[i + 1].from : t;
        double span = end - steps[i].from;
        obs.concurrency_integral += span * (steps[i].in_flight + steps[i].queued);
        obs.in_flight_integral += span * steps[i].in_flight;
    }
    for (size_t i = 0; i < n && steps[i].from <= t; i++) {
        obs.in_flight = steps[i].in_flight;
        obs.queued = steps[i].queued;
    }
    return obs;
}

/* Expected answers at given times of a run. */
typedef struct checkpoint {
    double t;
    int desired;
    const char *why;
} checkpoint_t;

static const sim_model_t model_10 = {
    .load_seconds = 1, .service_seconds = 1, .replica_concurrency = 10, .max_replicas = 100};
static const sim_model_t model_1 = {
    .load_seconds = 1, .service_seconds = 1, .replica_concurrency = 1, .max_replicas = 100};

/* ---- Knative KPA ---- */

/* Replica concurrency 10 gives a per-pod target of 7. The load is 7 (on
 * target with 1 pod) until 100 s, 28 until 130 s, then nothing. Ticks
 * every 2 s; ready pods = the last answer.
 *
 * t=102: 6 s average (4x7 + 2x28)/6 = 14 = 2x target x 1 ready pod: panic
 *        begins; panic pods ceil(14/7) = 2, stable ceil(7.7/7) = 2 -> 2.
 * t=104: panic average 21 -> 3 pods (3/2 < 2: no longer over the
 *        threshold, but still panicking) -> 3; t=106: 28 -> 4.
 * t=132..162: the load is gone, but no scale-down in panic -> 4.
 * t=164: 62 s after the condition last held (102 + 60 < 164): panic ends;
 *        stable 26x28/60 = 12.1 -> 2 pods, within the scale-down rate
 *        floor(4/2) = 2 -> 2.
 * t=176: stable 14x28/60 = 6.5 -> 1.
 * t=190: the stable window holds no load: 0 wanted, but the last pod stays
 *        for the 30 s grace period -> 1 until t=218, 0 at t=220. */
static const load_step_t kpa_load[] = {{0, 7, 0}, {100, 10, 18}, {130, 0, 0}};

static const checkpoint_t kpa_expected[] = {
    {100, 1, "on target with one pod"},
    {102, 2, "the 6 s average reaches twice the target of the ready pod: panic"},
    {104, 3, "panicking: the panic window asks for 3"},
    {106, 4, "panicking: the panic window asks for 4"},
    {130, 4, "the surge continues"},
    {140, 4, "load gone, but no scale-down while panicking"},
    {162, 4, "still within a stable window of the condition last holding"},
    {164, 2, "panic over; scale-down limited to half the ready pods"},
    {174, 2, "the stable window still averages above one pod's target"},
    {176, 1, "the stable average falls below one pod's target"},
    {188, 1, "the stable window still holds some load"},
    {190, 1, "0 wanted: the grace period begins"},
    {218, 1, "28 s into the grace period"},
    {220, 0, "30 s of grace: the last pod goes"},
    {240, 0, "stays at zero"},
};

Test(baselines, kpa_enters_and_leaves_panic)
{
    void *kpa = sim_policy_kpa.create(&model_10);
    cr_assert_not_null(kpa);
    cr_assert_eq(sim_policy_kpa.tick_seconds, 2.0);
    int desired = 1;
    int answers[121] = {0};
    for (int k = 1; k <= 120; k++) {
        double t = 2.0 * k;
        sim_observation_t obs = observe_load(kpa_load, 3, t);
        obs.ready = desired;
        obs.desired = desired;
        int d = sim_policy_kpa.on_tick(kpa, &obs);
        if (d >= 0)
            desired = d;
        answers[k] = desired;
    }
    for (size_t i = 0; i < sizeof(kpa_expected) / sizeof(kpa_expected[0]); i++) {
        const checkpoint_t *c = &kpa_expected[i];
        cr_expect_eq(answers[(int)(c->t / 2)], c->desired, "t=%g: %s: got %d, want %d", c->t,
                     c->why, answers[(int)(c->t / 2)], c->desired);
    }
    for (int k = 51; k <= 81; k++)
        cr_expect_geq(answers[k], answers[k - 1], "t=%d: scaled down while panicking", 2 * k);
    sim_policy_kpa.destroy(kpa);
}

/* Eight ready pods and no load at all: the stable window asks for 0, but
 * each tick may remove at most half the ready pods (max-scale-down-rate
 * 2): 4, 2, 1; from 1 pod floor(1/2) = 0 allows 0, which waits out the
 * 30 s grace period. */
static const checkpoint_t kpa_idle_expected[] = {
    {2, 4, "halved"},       {4, 2, "halved"},        {6, 1, "halved"},
    {8, 1, "grace period"}, {36, 1, "grace period"}, {38, 0, "30 s after 0 was first wanted"},
};

Test(baselines, kpa_scale_down_rate_halves_at_most)
{
    void *kpa = sim_policy_kpa.create(&model_10);
    int desired = 8;
    size_t rows = sizeof(kpa_idle_expected) / sizeof(kpa_idle_expected[0]);
    for (size_t i = 0, k = 1; i < rows && k <= 100; k++) {
        sim_observation_t obs = observe_at(2.0 * k, 0, 0);
        obs.ready = desired;
        obs.desired = desired;
        int d = sim_policy_kpa.on_tick(kpa, &obs);
        if (d >= 0)
            desired = d;
        if (kpa_idle_expected[i].t == obs.now) {
            cr_expect_eq(desired, kpa_idle_expected[i].desired, "t=%g: %s: got %d, want %d",
                         obs.now, kpa_idle_expected[i].why, desired, kpa_idle_expected[i].desired);
            i++;
        }
    }
    sim_policy_kpa.destroy(kpa);
}

Test(baselines, kpa_activator_wakes_a_revision_at_zero)
{
    void *kpa = sim_policy_kpa.create(&model_10);
    sim_observation_t obs = observe_at(5, 0, 1);
    obs.arrivals_total = 1;
    cr_expect_eq(sim_policy_kpa.on_arrival(kpa, &obs), 1, "an arrival at zero asks for one pod");
    obs.desired = 1;
    obs.starting = 1;
    cr_expect_eq(sim_policy_kpa.on_arrival(kpa, &obs), -1, "a pod is already coming");
    sim_policy_kpa.destroy(kpa);
}

/* ---- Kubernetes HPA ---- */

/* One sync at t=15 s after a start at 0; replica concurrency 10, target
 * utilisation 70 %: utilisation = average in flight / (ready x 10),
 * ratio = utilisation / 0.7. -1: no change. */
typedef struct hpa_row {
    const char *situation;
    int ready, starting, current;
    double in_flight; /* average over the sync period */
    int expected;
} hpa_row_t;

static const hpa_row_t hpa_rows[] = {
    {"ratio 1.05 is within the 0.1 tolerance", 4, 0, 4, 29.4, 4},
    {"ratio 0.95 is within the 0.1 tolerance", 4, 0, 4, 26.6, 4},
    {"ratio 1.4 scales to ceil(4 x 1.4) = 6", 4, 0, 4, 39.2, 6},
    {"ratio 0.5 with no earlier proposal halves at once", 4, 0, 4, 14, 2},
    {"ratio 5 (a metric above its request, as CPU can be) from 2: limited to 2 + 4", 2, 0, 2, 70,
     6},
    {"ratio 5 from 10: limited to 10 + 100 %", 10, 0, 10, 350, 20},
    {"ratio 1.4 with 2 starting pods counted idle reverses to 0.7: no change", 2, 2, 4, 19.6, 4},
    {"no ready pod: no metric, no change", 0, 1, 1, 0, -1},
    {"scaling is disabled at zero replicas", 0, 0, 0, 0, -1},
    {"no load never goes below one replica", 1, 0, 1, 0, 1},
};

Test(baselines, hpa_ratio_tolerance_and_limits)
{
    cr_assert_eq(sim_policy_hpa.tick_seconds, 15.0);
    for (size_t i = 0; i < sizeof(hpa_rows) / sizeof(hpa_rows[0]); i++) {
        const hpa_row_t *row = &hpa_rows[i];
        void *hpa = sim_policy_hpa.create(&model_10);
        sim_observation_t obs = observe_at(15, 0, 0);
        obs.ready = row->ready;
        obs.starting = row->starting;
        obs.desired = row->current;
        obs.in_flight_integral = 15 * row->in_flight;
        int got = sim_policy_hpa.on_tick(hpa, &obs);
        cr_expect_eq(got, row->expected, "%s: got %d, want %d", row->situation, got, row->expected);
        sim_policy_hpa.destroy(hpa);
    }
}

/* Four replicas at exactly the target (28 in flight = 70 % of 40) until
 * 150 s, then half of it. Every sync from 165 s proposes 2, but the
 * highest proposal of the last 300 s is still 4 until the 4 made at 150 s
 * leaves the window: Kubernetes keeps proposals made strictly after
 * now - 300 s, so the first sync without it is at 450 s. */
static const load_step_t hpa_load[] = {{0, 28, 0}, {150, 14, 0}};

static const checkpoint_t hpa_expected[] = {
    {150, 4, "on target"},
    {165, 4, "the dip proposes 2, the window remembers 4"},
    {300, 4, "the dip proposes 2, the window remembers 4"},
    {435, 4, "the 4 of 150 s is 285 s old"},
    {450, 2, "the 4 of 150 s left the 300 s window"},
};

Test(baselines, hpa_dip_does_not_scale_down_before_the_stabilisation_window)
{
    void *hpa = sim_policy_hpa.create(&model_10);
    int desired = 4;
    int answers[31] = {0};
    for (int k = 1; k <= 30; k++) {
        sim_observation_t obs = observe_load(hpa_load, 2, 15.0 * k);
        obs.ready = desired;
        obs.desired = desired;
        int d = sim_policy_hpa.on_tick(hpa, &obs);
        if (d >= 0)
            desired = d;
        answers[k] = desired;
    }
    for (size_t i = 0; i < sizeof(hpa_expected) / sizeof(hpa_expected[0]); i++) {
        const checkpoint_t *c = &hpa_expected[i];
        int got = answers[(int)(c->t / 15)];
        cr_expect_eq(got, c->desired, "t=%g: %s: got %d, want %d", c->t, c->why, got, c->desired);
    }
    sim_policy_hpa.destroy(hpa);
}

Test(baselines, hpa_first_arrival_creates_one_replica)
{
    void *hpa = sim_policy_hpa.create(&model_10);
    sim_observation_t obs = observe_at(3, 0, 1);
    cr_expect_eq(sim_policy_hpa.on_arrival(hpa, &obs), 1);
    obs.desired = 1;
    obs.starting = 1;
    cr_expect_eq(sim_policy_hpa.on_arrival(hpa, &obs), -1);
    sim_policy_hpa.destroy(hpa);
}

/* ---- Ray Serve ---- */

/* Target 2 ongoing requests per replica, 30 s look-back, decisions every
 * 0.1 s. Load 2 (1 replica) until 100 s, 6 until 200 s, then 1.
 *
 * Up: from 100.1 s the 30 s average exceeds 2, so every decision proposes
 * more than 1 replica; Ray applies it once more than 30 / 0.1 decisions
 * in a row proposed it, 30 s later, when the average is 6 -> 3 replicas.
 * Down: from 212 s the average is at most 4 (2 replicas); Ray applies the
 * proposal after more than 600 / 0.1 decisions, 600 s later, when the
 * average is 1 -> 1 replica. Nothing else changes. */
static const load_step_t ray_load[] = {{0, 2, 0}, {100, 6, 0}, {200, 1, 0}};

typedef struct change {
    double t;
    int to;
} change_t;

Test(baselines, ray_serve_waits_upscale_and_downscale_delays)
{
    cr_assert_eq(sim_policy_ray_serve.tick_seconds, 0.1);
    void *ray = sim_policy_ray_serve.create(&model_10);
    int desired = 1;
    change_t changes[8];
    int n = 0;
    for (int k = 1; k <= 9000; k++) {
        double t = k / 10.0;
        sim_observation_t obs = observe_load(ray_load, 3, t);
        obs.ready = desired;
        obs.desired = desired;
        int d = sim_policy_ray_serve.on_tick(ray, &obs);
        if (d >= 0 && d != desired) {
            if (n < 8)
                changes[n] = (change_t){t, d};
            n++;
            desired = d;
        }
    }
    cr_assert_eq(n, 2, "two changes expected, got %d", n);
    cr_expect(changes[0].t > 130.0 - 0.05 && changes[0].t < 130.2 + 0.05,
              "upscale 30 s after the excess began, at %g", changes[0].t);
    cr_expect_eq(changes[0].to, 3);
    cr_expect(changes[1].t > 812.0 - 0.05 && changes[1].t < 812.2 + 0.05,
              "downscale 600 s after the shortfall began, at %g", changes[1].t);
    cr_expect_eq(changes[1].to, 1);
    sim_policy_ray_serve.destroy(ray);
}

Test(baselines, ray_serve_fast_path_from_zero)
{
    void *ray = sim_policy_ray_serve.create(&model_10);
    sim_observation_t obs = observe_at(50, 0, 1);
    cr_expect_eq(sim_policy_ray_serve.on_arrival(ray, &obs), 1, "0 -> 1 at once");
    obs.desired = 1;
    obs.starting = 1;
    cr_expect_eq(sim_policy_ray_serve.on_arrival(ray, &obs), -1, "a replica is already coming");
    obs.now = 50.1;
    obs.concurrency_integral = 0.1;
    int d = sim_policy_ray_serve.on_tick(ray, &obs);
    cr_expect(d == -1 || d == 1, "while it starts, the loop keeps 1 (got %d)", d);
    sim_policy_ray_serve.destroy(ray);
}

/* ---- fixed keep-alive ---- */

/* Replica concurrency 1. Two requests overlap at 100.5-101.5 s; one more
 * runs 400.5-401.5 s. The policy sees the drops at the ticks of 102 s and
 * 402 s, so two instances stay until 702 s and one until 1002 s. */
typedef struct request {
    double start, end;
} request_t;

static const request_t keep_alive_requests[] = {{100.5, 101.5}, {100.6, 101.5}, {400.5, 401.5}};
#define KEEP_ALIVE_REQUESTS (sizeof(keep_alive_requests) / sizeof(keep_alive_requests[0]))

static const checkpoint_t keep_alive_expected[] = {
    {100, 0, "nothing has run yet"},
    {100.5, 1, "an arrival raises the count at once"},
    {100.6, 2, "a concurrent request needs a second instance"},
    {101, 2, "both running"},
    {102, 2, "both done, both warm"},
    {400.5, 2, "a request reuses a warm instance"},
    {701, 2, "the second instance was last used until 102 s"},
    {702, 1, "10 min after, the second instance goes"},
    {1001, 1, "the first was used again until 402 s"},
    {1002, 0, "10 min idle: nothing warm"},
    {1100, 0, "stays at zero"},
};

static unsigned in_flight_at(double t)
{
    unsigned n = 0;
    for (size_t i = 0; i < KEEP_ALIVE_REQUESTS; i++)
        if (keep_alive_requests[i].start <= t && t < keep_alive_requests[i].end)
            n++;
    return n;
}

static void expect_keep_alive_answer(double t, int got)
{
    for (size_t i = 0; i < sizeof(keep_alive_expected) / sizeof(keep_alive_expected[0]); i++) {
        const checkpoint_t *c = &keep_alive_expected[i];
        if (c->t == t)
            cr_expect_eq(got, c->desired, "t=%g: %s: got %d, want %d", t, c->why, got, c->desired);
    }
}

Test(baselines, keep_alive_stays_ten_minutes_after_last_use)
{
    cr_assert_eq(sim_policy_keep_alive.tick_seconds, 1.0);
    void *ka = sim_policy_keep_alive.create(&model_1);
    size_t next = 0;
    for (int second = 1; second <= 1100; second++) {
        for (; next < KEEP_ALIVE_REQUESTS && keep_alive_requests[next].start < second; next++) {
            double t = keep_alive_requests[next].start;
            sim_observation_t obs = observe_at(t, in_flight_at(t), 0);
            expect_keep_alive_answer(t, sim_policy_keep_alive.on_arrival(ka, &obs));
        }
        sim_observation_t obs = observe_at(second, in_flight_at(second), 0);
        expect_keep_alive_answer(second, sim_policy_keep_alive.on_tick(ka, &obs));
    }
    sim_policy_keep_alive.destroy(ka);
}

/* ---- hybrid histogram ---- */

/* One execution arriving at t: one request in flight at the arrival and
 * the tick after, gone at the tick 2 s after the arrival, which is when
 * the policy sees the execution end. Returns that end. */
static double run_execution(void *hh, double t)
{
    sim_observation_t obs = observe_at(t, 1, 0);
    cr_expect_geq(sim_policy_hybrid_histogram.on_arrival(hh, &obs), 1, "t=%g: arrival", t);
    obs = observe_at(t + 1, 1, 0);
    cr_expect_eq(sim_policy_hybrid_histogram.on_tick(hh, &obs), 1, "t=%g: executing", t + 1);
    obs = observe_at(t + 2, 0, 0);
    (void)sim_policy_hybrid_histogram.on_tick(hh, &obs);
    return t + 2;
}

static int idle_answer(void *hh, double t)
{
    sim_observation_t obs = observe_at(t, 0, 0);
    return sim_policy_hybrid_histogram.on_tick(hh, &obs);
}

/* After `executions` executions separated by the given idle times, the
 * end of the last one. */
static double run_pattern(void *hh, int executions, double (*idle_time)(int))
{
    double end = run_execution(hh, 1000);
    for (int i = 1; i < executions; i++)
        end = run_execution(hh, end + idle_time(i));
    return end;
}

static double idle_10_5_minutes(int i)
{
    (void)i;
    return 630; /* the middle of the bin [10 min, 11 min) */
}

static double idle_spread(int i)
{
    return ((i - 1) * 4 + 0.5) * 60; /* bins 0, 4, 8, ..., 236 */
}

/* Ten idle times of 10.5 min: all in bin 10, CV of the bin counts
 * sqrt(239) = 15.5 > 2, so the histogram is trusted. Head and tail are
 * bin 10: pre-warm 10 min less 10 % = 540 s; keep-alive 11 min plus 10 %
 * = 726 s. The replica is unloaded at the end, loaded at 540 s, still
 * there at 630 s when the next request is expected, gone at 1266 s. */
static const checkpoint_t hh_regular[] = {
    {1, 0, "unloaded after the execution"},
    {539, 0, "before the pre-warm window ends"},
    {540, 1, "pre-warmed 90 s before the expected arrival"},
    {630, 1, "loaded when the next arrival is expected"},
    {1265, 1, "within the keep-alive window"},
    {1266, 0, "keep-alive window over"},
};

Test(baselines, hybrid_histogram_brackets_a_regular_idle_time)
{
    cr_assert_eq(sim_policy_hybrid_histogram.tick_seconds, 1.0);
    void *hh = sim_policy_hybrid_histogram.create(&model_1);
    double end = run_pattern(hh, 11, idle_10_5_minutes);
    for (size_t i = 0; i < sizeof(hh_regular) / sizeof(hh_regular[0]); i++) {
        const checkpoint_t *c = &hh_regular[i];
        int got = idle_answer(hh, end + c->t);
        cr_expect_eq(got, c->desired, "end+%g s: %s: got %d, want %d", c->t, c->why, got,
                     c->desired);
    }
    sim_policy_hybrid_histogram.destroy(hh);
}

/* Not representative -> the standard keep-alive of the 4 h range. */
static const checkpoint_t hh_fallback[] = {
    {1, 1, "kept loaded, not unloaded"},
    {14399, 1, "within 4 h"},
    {14400, 0, "4 h idle"},
};

static void expect_fallback(void *hh, double end, const char *pattern)
{
    for (size_t i = 0; i < sizeof(hh_fallback) / sizeof(hh_fallback[0]); i++) {
        const checkpoint_t *c = &hh_fallback[i];
        int got = idle_answer(hh, end + c->t);
        cr_expect_eq(got, c->desired, "%s, end+%g s: %s: got %d, want %d", pattern, c->t, c->why,
                     got, c->desired);
    }
}

Test(baselines, hybrid_histogram_falls_back_to_the_fixed_window)
{
    void *hh = sim_policy_hybrid_histogram.create(&model_1);
    /* Two idle times: too few to trust, however regular. */
    expect_fallback(hh, run_pattern(hh, 3, idle_10_5_minutes), "few samples");
    sim_policy_hybrid_histogram.destroy(hh);

    /* Sixty idle times, one in every fourth bin: a quarter of the bins
     * hold one each, CV = sqrt(3) = 1.73 < 2. */
    hh = sim_policy_hybrid_histogram.create(&model_1);
    expect_fallback(hh, run_pattern(hh, 61, idle_spread), "spread samples");
    sim_policy_hybrid_histogram.destroy(hh);

    /* Before any execution nothing is loaded. */
    hh = sim_policy_hybrid_histogram.create(&model_1);
    cr_expect_eq(idle_answer(hh, 10), 0);
    sim_policy_hybrid_histogram.destroy(hh);
}

Test(baselines, hybrid_histogram_serves_concurrency_beyond_one_replica)
{
    void *hh = sim_policy_hybrid_histogram.create(&model_1);
    sim_observation_t obs = observe_at(10, 3, 2);
    cr_expect_eq(sim_policy_hybrid_histogram.on_arrival(hh, &obs), 5);
    sim_policy_hybrid_histogram.destroy(hh);
}

Test(baselines, names)
{
    cr_expect_str_eq(sim_policy_kpa.name, "kpa");
    cr_expect_str_eq(sim_policy_hpa.name, "hpa");
    cr_expect_str_eq(sim_policy_ray_serve.name, "ray_serve");
    cr_expect_str_eq(sim_policy_keep_alive.name, "keep_alive");
    cr_expect_str_eq(sim_policy_hybrid_histogram.name, "hybrid_histogram");
}
