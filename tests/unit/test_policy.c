/* test_policy.c - the reactive scaling policy, as tables.
 *
 * Each row is a situation, on five lines: its name; a configuration tweak
 * (NULL: the defaults of config_autoscaler_defaults()); the policy's input;
 * the state the decision before left; and what must come out: {desired
 * replicas, trigger, panicking, the state left for the next decision, a
 * phrase the reason must contain (NULL: not checked)}.
 *
 * Reading a row: input fields it leaves out are zero (no load, an idle
 * machine, every time at 0 s), except target_concurrency and max_replicas,
 * which, as in a model's configuration, fall back to the autoscaler's (1 and
 * 5) when left at 0. With the defaults: panic at 2x capacity, for a stable
 * window of 60 s; scale-down after 300 s below 20 % CPU and 30 % memory;
 * zero-scale after 600 s without a request and 900 s without work;
 * thresholds CPU 70 %, memory 80 %, GPU 85 %, queue 10, p95 2000 ms.
 * A row leaves the custom metric off (its target 0) unless it sets one.
 *
 * The sequence test at the end drives the policy through simulated time
 * with its state carried, as the controller does.
 */
#include <criterion/criterion.h>

#include "autoscaler/policy.h"

#include <math.h>
#include <string.h>

/* ---- states ---- */

#define CALM                                                                                       \
    {                                                                                              \
        .panic_until = 0, .below_since = -1                                                        \
    }
#define PANIC_UNTIL(t)                                                                             \
    {                                                                                              \
        .panic_until = (t), .below_since = -1                                                      \
    }
#define BELOW_SINCE(t)                                                                             \
    {                                                                                              \
        .panic_until = 0, .below_since = (t)                                                       \
    }

/* ---- configuration tweaks ---- */

static void panic_threshold_3(autoscaler_config_t *c)
{
    c->reactive.panic_threshold = 3;
}

static void scale_down_after_half_a_minute(autoscaler_config_t *c)
{
    c->scale_down_threshold.idle_time_minutes = 0.5;
}

static void scale_down_at_once(autoscaler_config_t *c)
{
    c->scale_down_threshold.idle_time_minutes = 0;
}

static void zero_idle_5_minutes(autoscaler_config_t *c)
{
    c->zero_scale_threshold.idle_time_minutes = 5;
}

static void zero_scaling_off(autoscaler_config_t *c)
{
    c->zero_scaling_enabled = false;
}

static void auto_unload_off(autoscaler_config_t *c)
{
    c->model_management.auto_unload_unused_models = false;
}

/* ---- forecast histories ---- */

/* The decision's wall clock: ten seconds into a Unix minute that starts a
 * UTC day. Histories are placed relative to that minute. */
#define NOW_MINUTE ((int64_t)29000160)
#define NOW_UNIX   ((double)NOW_MINUTE * 60.0 + 10.0)
#define DAY        1440

/* requests per minute at minutes [from, to] relative to now, on each of
 * the three days before today (today's minutes stay unknown, as after a
 * restart). */
static void seed_days(policy_state_t *state, int from, int to, double per_minute)
{
    for (int day = 1; day <= 3; day++)
        for (int m = from; m <= to; m++)
            policy_state_seed_minute(state, NOW_MINUTE - (int64_t)day * DAY + m, per_minute);
}

static void seed_steep_rise(policy_state_t *state)
{
    seed_days(state, -30, 0, 1);
    seed_days(state, 1, 30, 6000);
}

/* ---- the row and its check ---- */

typedef struct expected {
    int desired;
    const char *trigger;
    bool panicking;
    policy_state_t after; /* the state left for the next decision */
    const char *reason;   /* a phrase the reason contains; NULL: not checked */
} expected_t;

typedef struct policy_case {
    const char *name;
    void (*tweak)(autoscaler_config_t *cfg); /* NULL: the defaults */
    policy_input_t in;
    policy_state_t before; /* the state the decision before left */
    expected_t want;
} policy_case_t;

static void check_cases(const policy_case_t *cases, size_t n)
{
    for (size_t r = 0; r < n; r++) {
        const policy_case_t *c = &cases[r];
        const expected_t *w = &c->want;
        autoscaler_config_t cfg;
        config_autoscaler_defaults(&cfg);
        if (c->tweak)
            c->tweak(&cfg);
        policy_input_t in = c->in;
        if (in.target_concurrency == 0)
            in.target_concurrency = cfg.reactive.target_concurrency;
        if (in.max_replicas == 0)
            in.max_replicas = cfg.replicas.max_replicas;
        policy_state_t state = c->before;
        policy_decision_t out;
        memset(&out, 0, sizeof(out));

        policy_decide(&in, &cfg, &state, &out);

        cr_expect_eq(out.desired, w->desired, "%s: desired %d, want %d (%s)", c->name, out.desired,
                     w->desired, out.reason);
        cr_expect(out.trigger && strcmp(out.trigger, w->trigger) == 0,
                  "%s: trigger \"%s\", want \"%s\" (%s)", c->name,
                  out.trigger ? out.trigger : "(null)", w->trigger, out.reason);
        cr_expect_eq(out.panicking, w->panicking, "%s: panicking %d, want %d", c->name,
                     out.panicking, w->panicking);
        cr_expect(state.panic_until == w->after.panic_until, "%s: panic_until %g, want %g", c->name,
                  state.panic_until, w->after.panic_until);
        cr_expect(state.below_since == w->after.below_since, "%s: below_since %g, want %g", c->name,
                  state.below_since, w->after.below_since);
        if (w->reason)
            cr_expect(strstr(out.reason, w->reason) != NULL,
                      "%s: reason \"%s\" does not contain \"%s\"", c->name, out.reason, w->reason);

        /* The reactive strategy ignores the forecast: the same row with a
         * history that predicts a steep rise decides exactly the same. */
        policy_state_t seeded = c->before;
        policy_decision_t again;
        memset(&again, 0, sizeof(again));
        seeded.predict = NULL;
        seed_steep_rise(&seeded);
        policy_decide(&in, &cfg, &seeded, &again);
        cr_expect(again.desired == out.desired && strcmp(again.trigger, out.trigger) == 0 &&
                      strcmp(again.reason, out.reason) == 0 && again.panicking == out.panicking &&
                      seeded.panic_until == state.panic_until &&
                      seeded.below_since == state.below_since,
                  "%s: with a forecast in the state the reactive decision changed: %d %s (%s)",
                  c->name, again.desired, again.trigger, again.reason);
        policy_state_free(&seeded);
        policy_state_free(&state);
    }
}

#define CHECK(cases) check_cases((cases), sizeof(cases) / sizeof((cases)[0]))

/* ---- sizing by the stable window ---- */

static const policy_case_t concurrency_cases[] = {
    {"no load at zero replicas stays at zero",
     NULL,
     {.current_replicas = 0},
     CALM,
     {0, "none", false, CALM, "no load"}},
    {"a queued request at zero replicas wants one",
     NULL,
     {.current_replicas = 0, .queue_length = 1},
     CALM,
     {1, "concurrency", false, CALM, "requests are waiting and no replica runs"}},
    {"queued requests at zero: the stable mean sizes the pool when it asks for more",
     NULL,
     {.current_replicas = 0, .queue_length = 3, .concurrency_stable = 2.5},
     CALM,
     {3, "concurrency", false, CALM, NULL}},
    {"a burst at zero is sized by the panic window (zero counts as one replica, as in Knative)",
     NULL,
     {.current_replicas = 0, .queue_length = 4, .concurrency_panic = 4, .concurrency_stable = 0.27},
     CALM,
     {4, "panic", true, PANIC_UNTIL(60), "capacity of 1.00"}},
    {"2.0 concurrent on a target of 1 is 2 replicas",
     NULL,
     {.current_replicas = 2, .concurrency_stable = 2.0, .concurrency_panic = 2.0},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"2.01 concurrent on a target of 1 rounds up to 3",
     NULL,
     {.current_replicas = 2, .concurrency_stable = 2.01, .concurrency_panic = 2.01},
     CALM,
     {3, "concurrency", false, CALM,
      "2.01 concurrent requests over the stable window / 1.00 per replica"}},
    {"2.0000000001 is float noise and counts as 2",
     NULL,
     {.current_replicas = 2, .concurrency_stable = 2.0000000001, .concurrency_panic = 2.0},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"target 0.5: 1.0 concurrent is 2 replicas",
     NULL,
     {.current_replicas = 2,
      .target_concurrency = 0.5,
      .concurrency_stable = 1.0,
      .concurrency_panic = 1.0},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"target 0.5: 1.01 concurrent rounds up to 3 replicas",
     NULL,
     {.current_replicas = 2,
      .target_concurrency = 0.5,
      .concurrency_stable = 1.01,
      .concurrency_panic = 1.01},
     CALM,
     {3, "concurrency", false, CALM, NULL}},
    {"target 4: 9 concurrent is 3 replicas",
     NULL,
     {.current_replicas = 2,
      .target_concurrency = 4,
      .concurrency_stable = 9,
      .concurrency_panic = 9},
     CALM,
     {3, "concurrency", false, CALM, NULL}},
    {"grows to the ceiling of the stable mean: 7.2 on 4 replicas is 8",
     NULL,
     {.current_replicas = 4,
      .max_replicas = 10,
      .concurrency_stable = 7.2,
      .concurrency_panic = 7.2},
     CALM,
     {8, "concurrency", false, CALM, NULL}},
    {"a little load on one replica keeps one",
     NULL,
     {.current_replicas = 1, .concurrency_stable = 0.3, .concurrency_panic = 0.3},
     CALM,
     {1, "concurrency", false, CALM, NULL}},
};

Test(policy, concurrency_and_rounding)
{
    CHECK(concurrency_cases);
}

/* ---- the panic window ---- */

static const policy_case_t panic_cases[] = {
    {"exactly 2x capacity enters panic and sizes for the panic window",
     NULL,
     {.now = 100, .current_replicas = 2, .concurrency_panic = 4, .concurrency_stable = 1},
     CALM,
     {4, "panic", true, PANIC_UNTIL(160),
      "panic: 4.00 concurrent requests (panic window or now) against a capacity of 2.00"}},
    {"a step of load shows in the concurrency now before the panic mean catches up",
     NULL,
     {.now = 100,
      .current_replicas = 1,
      .concurrency_stable = 1,
      .concurrency_panic = 1.5,
      .concurrency_now = 16},
     CALM,
     {5, "panic", true, PANIC_UNTIL(160), "capped at max_replicas 5"}},
    {"just below 2x capacity: no panic, the stable window decides",
     NULL,
     {.now = 100, .current_replicas = 2, .concurrency_panic = 3.99, .concurrency_stable = 2},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"2 concurrent on one replica is 2x capacity",
     NULL,
     {.now = 100, .current_replicas = 1, .concurrency_panic = 2, .concurrency_stable = 0.1},
     CALM,
     {2, "panic", true, PANIC_UNTIL(160), NULL}},
    {"capacity counts the target: 2 replicas of 0.5 panic at 2 concurrent",
     NULL,
     {.now = 100,
      .current_replicas = 2,
      .target_concurrency = 0.5,
      .concurrency_panic = 2,
      .concurrency_stable = 0.5},
     CALM,
     {4, "panic", true, PANIC_UNTIL(160), NULL}},
    {"panic sizes above the stable window: 6 against a capacity of 2",
     NULL,
     {.now = 100,
      .current_replicas = 2,
      .max_replicas = 10,
      .concurrency_panic = 6,
      .concurrency_stable = 1},
     CALM,
     {6, "panic", true, PANIC_UNTIL(160), NULL}},
    {"panic threshold 3: 5.99 against a capacity of 2 is no panic",
     panic_threshold_3,
     {.now = 100, .current_replicas = 2, .concurrency_panic = 5.99, .concurrency_stable = 2},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"panic threshold 3: 6 against a capacity of 2 panics",
     panic_threshold_3,
     {.now = 100,
      .current_replicas = 2,
      .max_replicas = 10,
      .concurrency_panic = 6,
      .concurrency_stable = 2},
     CALM,
     {6, "panic", true, PANIC_UNTIL(160), NULL}},
    {"panic lasts until panic_until: the burst is gone, the count holds",
     NULL,
     {.now = 159.9, .current_replicas = 4, .concurrency_panic = 0.5, .concurrency_stable = 0.5},
     PANIC_UNTIL(160),
     {4, "panic", true, PANIC_UNTIL(160), NULL}},
    {"panic ends at panic_until: the idle window starts, the count holds",
     NULL,
     {.now = 160, .current_replicas = 4, .concurrency_panic = 0.5, .concurrency_stable = 0.5},
     PANIC_UNTIL(160),
     {4, "none", false, BELOW_SINCE(160), "for 0 of 300 s"}},
    {"a burst while panicking extends the panic by a stable window",
     NULL,
     {.now = 150,
      .current_replicas = 4,
      .max_replicas = 10,
      .concurrency_panic = 8,
      .concurrency_stable = 3},
     PANIC_UNTIL(160),
     {8, "panic", true, PANIC_UNTIL(210), NULL}},
    {"no scale-down while panicking, even with no load at all",
     NULL,
     {.now = 150, .current_replicas = 4},
     PANIC_UNTIL(160),
     {4, "panic", true, PANIC_UNTIL(160), NULL}},
    {"panic forgets an idle window that had already passed",
     NULL,
     {.now = 400, .current_replicas = 2, .concurrency_panic = 4, .concurrency_stable = 0.5},
     BELOW_SINCE(0),
     {4, "panic", true, PANIC_UNTIL(460), NULL}},
    {"while panicking, a larger stable mean sizes the pool",
     NULL,
     {.now = 120,
      .current_replicas = 4,
      .max_replicas = 10,
      .concurrency_panic = 2,
      .concurrency_stable = 6},
     PANIC_UNTIL(160),
     {6, "concurrency", true, PANIC_UNTIL(160), NULL}},
};

Test(policy, panic_window)
{
    CHECK(panic_cases);
}

/* ---- thresholds: each adds one replica while the model has work ---- */

#define WORKING_ON_2 .current_replicas = 2, .concurrency_stable = 2, .concurrency_panic = 2

static const policy_case_t threshold_cases[] = {
    {"queue of 11 over a threshold of 10 adds one",
     NULL,
     {WORKING_ON_2, .queue_length = 11},
     CALM,
     {3, "queue_length", false, CALM, "queue length 11.0 above the threshold 10.0"}},
    {"queue exactly at the threshold adds nothing",
     NULL,
     {WORKING_ON_2, .queue_length = 10},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"p95 of 2000.5 ms adds one",
     NULL,
     {WORKING_ON_2, .queue_length = 1, .p95_ms = 2000.5},
     CALM,
     {3, "response_time", false, CALM, "p95 response time (ms) 2000.5 above the threshold 2000.0"}},
    {"p95 over the threshold with nobody waiting adds nothing (a slow model is slow anyway)",
     NULL,
     {WORKING_ON_2, .p95_ms = 5000},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"replica CPU over the threshold with nobody waiting adds nothing",
     NULL,
     {WORKING_ON_2, .replica_cpu_percent = 99},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"p95 exactly 2000 ms adds nothing",
     NULL,
     {WORKING_ON_2, .p95_ms = 2000},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"replica CPU of 70.5 % adds one",
     NULL,
     {WORKING_ON_2, .queue_length = 1, .replica_cpu_percent = 70.5},
     CALM,
     {3, "high_cpu_usage", false, CALM, "replica CPU (%) 70.5 above the threshold 70.0"}},
    {"replica CPU exactly 70 % adds nothing",
     NULL,
     {WORKING_ON_2, .replica_cpu_percent = 70},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"machine memory at 80.5 % adds one",
     NULL,
     {WORKING_ON_2, .queue_length = 1, .memory_percent = 80.5},
     CALM,
     {3, "high_memory_usage", false, CALM, "memory in use (%) 80.5 above the threshold 80.0"}},
    {"machine memory exactly 80 % adds nothing",
     NULL,
     {WORKING_ON_2, .memory_percent = 80},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"GPU at 85.5 % adds one",
     NULL,
     {WORKING_ON_2, .queue_length = 1, .gpu_percent = 85.5},
     CALM,
     {3, "high_gpu_usage", false, CALM, "GPU utilisation (%) 85.5 above the threshold 85.0"}},
    {"GPU exactly 85 % adds nothing",
     NULL,
     {WORKING_ON_2, .gpu_percent = 85},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"all five at once add one replica, queue length named first",
     NULL,
     {WORKING_ON_2, .queue_length = 50, .p95_ms = 5000, .replica_cpu_percent = 99,
      .memory_percent = 99, .gpu_percent = 99},
     CALM,
     {3, "queue_length", false, CALM, NULL}},
    {"response time is named before CPU",
     NULL,
     {WORKING_ON_2, .queue_length = 1, .p95_ms = 5000, .replica_cpu_percent = 99},
     CALM,
     {3, "response_time", false, CALM, NULL}},
    {"a single queued request is work: high CPU then adds one",
     NULL,
     {.current_replicas = 2, .queue_length = 1, .replica_cpu_percent = 90},
     CALM,
     {3, "high_cpu_usage", false, CALM, NULL}},
    {"no work: high readings are someone else's load and add nothing (CPU not low: held)",
     NULL,
     {.current_replicas = 2,
      .p95_ms = 5000,
      .replica_cpu_percent = 99,
      .memory_percent = 99,
      .gpu_percent = 99},
     BELOW_SINCE(0),
     {2, "none", false, CALM, NULL}},
    {"a threshold never lowers what the concurrency asks",
     NULL,
     {.current_replicas = 2,
      .concurrency_stable = 4,
      .concurrency_panic = 3,
      .replica_cpu_percent = 90},
     CALM,
     {4, "concurrency", false, CALM, NULL}},
    {"at zero replicas thresholds do not fire: the queued request brings one",
     NULL,
     {.current_replicas = 0, .queue_length = 50, .replica_cpu_percent = 99, .memory_percent = 99},
     CALM,
     {1, "concurrency", false, CALM, NULL}},
};

Test(policy, thresholds)
{
    CHECK(threshold_cases);
}

/* ---- unknown readings (NAN) ---- */

static const policy_case_t nan_cases[] = {
    {"unknown CPU, memory, GPU and p95 with work fire no threshold",
     NULL,
     {WORKING_ON_2, .replica_cpu_percent = NAN, .memory_percent = NAN, .gpu_percent = NAN,
      .p95_ms = NAN},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"an unknown queue length fires nothing",
     NULL,
     {WORKING_ON_2, .queue_length = NAN},
     CALM,
     {2, "concurrency", false, CALM, NULL}},
    {"unknown concurrency and queue at zero replicas are no load",
     NULL,
     {.current_replicas = 0,
      .concurrency_stable = NAN,
      .concurrency_panic = NAN,
      .queue_length = NAN},
     CALM,
     {0, "none", false, CALM, "no load"}},
    {"an unknown panic-window concurrency never enters panic",
     NULL,
     {.now = 100, .current_replicas = 1, .concurrency_stable = 1, .concurrency_panic = NAN},
     CALM,
     {1, "concurrency", false, CALM, NULL}},
    {"unknown CPU and memory count as low for a scale-down",
     NULL,
     {.now = 1000,
      .last_arrival = 1000,
      .last_busy = 1000,
      .current_replicas = 3,
      .concurrency_stable = 1,
      .concurrency_panic = 1,
      .replica_cpu_percent = NAN,
      .memory_percent = NAN},
     BELOW_SINCE(700),
     {1, "low_utilization", false, BELOW_SINCE(700), NULL}},
};

Test(policy, unknown_readings)
{
    CHECK(nan_cases);
}

/* ---- shrinking: only after the idle window (300 s by default) ---- */

/* A model with load in its stable window was busy a moment ago. */
#define LOW_ON_3                                                                                   \
    .now = 1000, .last_arrival = 1000, .last_busy = 1000, .current_replicas = 3,                   \
    .concurrency_stable = 1, .concurrency_panic = 1

static const policy_case_t shrink_cases[] = {
    {"load falls under the count: the idle window starts, the count holds",
     NULL,
     {LOW_ON_3},
     CALM,
     {3, "none", false, BELOW_SINCE(1000), "load below the scale-down thresholds for 0 of 300 s"}},
    {"2 s before the idle window ends: held",
     NULL,
     {LOW_ON_3},
     BELOW_SINCE(702),
     {3, "none", false, BELOW_SINCE(702), "for 298 of 300 s"}},
    {"exactly the idle window: shrinks to the stable size",
     NULL,
     {LOW_ON_3},
     BELOW_SINCE(700),
     {1, "low_utilization", false, BELOW_SINCE(700),
      "load below the scale-down thresholds for 300 s (1.00 concurrent requests)"}},
    {"long past the idle window: shrinks",
     NULL,
     {LOW_ON_3},
     BELOW_SINCE(100),
     {1, "low_utilization", false, BELOW_SINCE(100), NULL}},
    {"shrinks to the stable size, not below",
     NULL,
     {.now = 1000,
      .last_arrival = 1000,
      .last_busy = 1000,
      .current_replicas = 4,
      .concurrency_stable = 1.5,
      .concurrency_panic = 1.5},
     BELOW_SINCE(700),
     {2, "low_utilization", false, BELOW_SINCE(700), NULL}},
    {"load back at the count resets the idle window",
     NULL,
     {.now = 1000,
      .last_arrival = 1000,
      .last_busy = 1000,
      .current_replicas = 3,
      .concurrency_stable = 3,
      .concurrency_panic = 3},
     BELOW_SINCE(702),
     {3, "concurrency", false, CALM, NULL}},
    {"load above the count resets the idle window and grows",
     NULL,
     {.now = 1000,
      .last_arrival = 1000,
      .last_busy = 1000,
      .current_replicas = 3,
      .concurrency_stable = 3.5,
      .concurrency_panic = 3.5},
     BELOW_SINCE(702),
     {4, "concurrency", false, CALM, NULL}},
    {"replica CPU at the scale-down threshold (20 %) holds and resets the idle window",
     NULL,
     {LOW_ON_3, .replica_cpu_percent = 20},
     BELOW_SINCE(700),
     {3, "none", false, CALM, "load does not allow fewer than 3 replicas"}},
    {"replica CPU just under it (19.9 %) lets it shrink",
     NULL,
     {LOW_ON_3, .replica_cpu_percent = 19.9},
     BELOW_SINCE(700),
     {1, "low_utilization", false, BELOW_SINCE(700), NULL}},
    {"the model's memory share at the scale-down threshold (30 %) holds and resets the idle window",
     NULL,
     {LOW_ON_3, .model_memory_percent = 30},
     BELOW_SINCE(700),
     {3, "none", false, CALM, NULL}},
    {"the model's memory share just under it (29.9 %) lets it shrink",
     NULL,
     {LOW_ON_3, .model_memory_percent = 29.9},
     BELOW_SINCE(700),
     {1, "low_utilization", false, BELOW_SINCE(700), NULL}},
    {"one replica with no load stays one and keeps no idle window (zero is the zero gate's)",
     NULL,
     {.now = 1000, .current_replicas = 1, .last_arrival = 1000, .last_busy = 1000},
     BELOW_SINCE(0),
     {1, "none", false, CALM, NULL}},
    {"idle window of half a minute: 29 s is held",
     scale_down_after_half_a_minute,
     {LOW_ON_3},
     BELOW_SINCE(971),
     {3, "none", false, BELOW_SINCE(971), "for 29 of 30 s"}},
    {"idle window of half a minute: exactly 30 s shrinks",
     scale_down_after_half_a_minute,
     {LOW_ON_3},
     BELOW_SINCE(970),
     {1, "low_utilization", false, BELOW_SINCE(970), NULL}},
    {"idle window of 0: the first low reading shrinks",
     scale_down_at_once,
     {LOW_ON_3},
     CALM,
     {1, "low_utilization", false, BELOW_SINCE(1000), NULL}},
};

Test(policy, shrink_after_the_idle_window)
{
    CHECK(shrink_cases);
}

/* ---- zero-scaling: 600 s without a request, 900 s without work ---- */

/* Last request and last work at 100 s. */
#define IDLE_SINCE_100 .last_arrival = 100, .last_busy = 100

static const policy_case_t zero_cases[] = {
    {"no request and no work for exactly 900 s: zero",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .now = 1000},
     CALM,
     {0, "idle_timeout", false, CALM, "no request for 900 s and no work for 900 s"}},
    {"1 s short of the idle window: stays at one",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .now = 999},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"idle window 5 min: no request for exactly 600 s is zero",
     zero_idle_5_minutes,
     {IDLE_SINCE_100, .current_replicas = 1, .now = 700},
     CALM,
     {0, "idle_timeout", false, CALM, NULL}},
    {"idle window 5 min: 599 s without a request is not",
     zero_idle_5_minutes,
     {IDLE_SINCE_100, .current_replicas = 1, .now = 699},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"work after the last request: idle counts from the work, 899 s is not enough",
     NULL,
     {.current_replicas = 1, .last_arrival = 100, .last_busy = 400, .now = 1299},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"work after the last request: 900 s after the work is zero",
     NULL,
     {.current_replicas = 1, .last_arrival = 100, .last_busy = 400, .now = 1300},
     CALM,
     {0, "idle_timeout", false, CALM, NULL}},
    {"never requested: counted from when watching began, 900 s is zero",
     NULL,
     {.current_replicas = 1, .started_at = 100, .last_arrival = -1, .last_busy = -1, .now = 1000},
     CALM,
     {0, "idle_timeout", false, CALM, NULL}},
    {"never requested: 899 s since watching began is not",
     NULL,
     {.current_replicas = 1, .started_at = 100, .last_arrival = -1, .last_busy = -1, .now = 999},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"a request before watching began counts from when watching began",
     NULL,
     {.current_replicas = 1, .started_at = 500, .last_arrival = 10, .last_busy = 10, .now = 1399},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"several idle replicas go straight to zero",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 3, .now = 1000},
     CALM,
     {0, "idle_timeout", false, CALM, NULL}},
    {"zero-scaling disabled: stays at one",
     zero_scaling_off,
     {IDLE_SINCE_100, .current_replicas = 1, .now = 5000},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"auto-unload disabled: stays at one",
     auto_unload_off,
     {IDLE_SINCE_100, .current_replicas = 1, .now = 5000},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"pinned (floor 1): stays at one",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .floor_replicas = 1, .now = 5000},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"a request queued: no zero",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .queue_length = 1, .now = 5000},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"idle past both zero windows: zero, whatever the stable window still remembers",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .concurrency_stable = 0.01, .now = 5000},
     CALM,
     {0, "idle_timeout", false, CALM, NULL}},
    {"a request in flight right now: no zero",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .concurrency_now = 1, .now = 5000},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"pinned with 3 idle replicas: down to one after the idle window, never zero",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 3, .floor_replicas = 1, .now = 5000},
     BELOW_SINCE(4700),
     {1, "low_utilization", false, BELOW_SINCE(4700), NULL}},
    {"zero-scaling disabled with 3 idle replicas: down to one after the idle window",
     zero_scaling_off,
     {IDLE_SINCE_100, .current_replicas = 3, .now = 5000},
     BELOW_SINCE(4700),
     {1, "low_utilization", false, BELOW_SINCE(4700), NULL}},
};

Test(policy, zero_scaling)
{
    CHECK(zero_cases);
}

/* ---- bounds: max_replicas and the floor ---- */

static const policy_case_t bounds_cases[] = {
    {"capped at max_replicas, and the reason says so",
     NULL,
     {.current_replicas = 3, .concurrency_stable = 9, .concurrency_panic = 5},
     CALM,
     {5, "concurrency", false, CALM,
      "9.00 concurrent requests over the stable window / 1.00 per replica; capped at max_replicas "
      "5"}},
    {"a model's own max_replicas of 2",
     NULL,
     {.current_replicas = 2, .max_replicas = 2, .concurrency_stable = 3, .concurrency_panic = 3},
     CALM,
     {2, "concurrency", false, CALM, "; capped at max_replicas 2"}},
    {"panic capped at max_replicas keeps its trigger",
     NULL,
     {.now = 100, .current_replicas = 2, .concurrency_panic = 20, .concurrency_stable = 1},
     CALM,
     {5, "panic", true, PANIC_UNTIL(160), "; capped at max_replicas 5"}},
    {"max_replicas 1 under a burst stays at one",
     NULL,
     {.now = 100,
      .current_replicas = 1,
      .max_replicas = 1,
      .concurrency_panic = 10,
      .concurrency_stable = 3},
     CALM,
     {1, "panic", true, PANIC_UNTIL(160), "; capped at max_replicas 1"}},
    {"a threshold at max_replicas holds at the max",
     NULL,
     {.current_replicas = 5, .queue_length = 20, .concurrency_stable = 5, .concurrency_panic = 5},
     CALM,
     {5, "queue_length", false, CALM,
      "queue length 20.0 above the threshold 10.0; capped at max_replicas 5"}},
    {"below the floor (a replica died) and no load: raised to the floor",
     NULL,
     {.current_replicas = 1, .floor_replicas = 2},
     CALM,
     {2, "min_replicas", false, CALM, "raised to the floor of 2 replicas"}},
    {"pinned model at zero replicas (crashed): back to one",
     NULL,
     {.current_replicas = 0, .floor_replicas = 1},
     CALM,
     {1, "min_replicas", false, CALM, "raised to the floor of 1 replicas"}},
    {"a scale-down stops at the floor",
     NULL,
     {.now = 1000,
      .last_arrival = 1000,
      .last_busy = 1000,
      .current_replicas = 4,
      .floor_replicas = 2,
      .concurrency_stable = 0.5,
      .concurrency_panic = 0.5},
     BELOW_SINCE(700),
     {2, "low_utilization", false, BELOW_SINCE(700), "kept at the floor of 2 replicas"}},
    {"the floor does not hold back growth",
     NULL,
     {.current_replicas = 2, .floor_replicas = 2, .concurrency_stable = 3, .concurrency_panic = 3},
     CALM,
     {3, "concurrency", false, CALM, NULL}},
};

Test(policy, bounds)
{
    CHECK(bounds_cases);
}

/* ---- a custom metric: ceil(value / target), fresh for a stable window (60 s) ---- */

static void stable_window_10_seconds(autoscaler_config_t *c)
{
    c->reactive.stable_window_seconds = 10;
    c->reactive.panic_window_seconds = 1;
}

/* The model scales on "queue_depth", 10 per replica; the gauge was set
 * age seconds ago. */
#define QUEUE_DEPTH(v, age)                                                                        \
    .custom_metric_name = "queue_depth", .custom_metric_target = 10, .custom_metric_value = (v),   \
    .custom_metric_age = (age)

static const policy_case_t custom_metric_cases[] = {
    {"3x the target on one replica, no traffic: 3 replicas, named after the metric",
     NULL,
     {.current_replicas = 1, QUEUE_DEPTH(30, 1)},
     CALM,
     {3, "custom_metric", false, CALM, "custom metric queue_depth 30.00 / 10.00 per replica"}},
    {"rounds up: 30.5 on a target of 10 is 4",
     NULL,
     {.current_replicas = 1, QUEUE_DEPTH(30.5, 1)},
     CALM,
     {4, "custom_metric", false, CALM, NULL}},
    {"a huge value (1e12 on a target of 10) wants the most, not an overflowed int",
     NULL,
     {.current_replicas = 1, .max_replicas = 3, QUEUE_DEPTH(1e12, 1)},
     CALM,
     {3, "custom_metric", false, CALM, NULL}},
    {"from zero replicas with no request: a fresh value starts replicas",
     NULL,
     {.current_replicas = 0, QUEUE_DEPTH(20, 1)},
     CALM,
     {2, "custom_metric", false, CALM, NULL}},
    {"from zero, a value of 0 starts nothing",
     NULL,
     {.current_replicas = 0, QUEUE_DEPTH(0, 1)},
     CALM,
     {0, "none", false, CALM, "no load"}},
    {"the larger figure wins: concurrency asks 4, the metric 2",
     NULL,
     {.current_replicas = 3, .concurrency_stable = 4, .concurrency_panic = 4, QUEUE_DEPTH(20, 1)},
     CALM,
     {4, "concurrency", false, CALM, NULL}},
    {"the metric above the concurrency raises the count and names the trigger",
     NULL,
     {.current_replicas = 2, .concurrency_stable = 2, .concurrency_panic = 2, QUEUE_DEPTH(40, 1)},
     CALM,
     {4, "custom_metric", false, CALM, NULL}},
    {"a tie keeps the reactive trigger: the metric did not raise the count",
     NULL,
     {.current_replicas = 2, .concurrency_stable = 3, .concurrency_panic = 3, QUEUE_DEPTH(30, 1)},
     CALM,
     {3, "concurrency", false, CALM, NULL}},
    {"a panic larger than the metric keeps its trigger",
     NULL,
     {.now = 100,
      .current_replicas = 1,
      .concurrency_stable = 1,
      .concurrency_panic = 4,
      QUEUE_DEPTH(20, 1)},
     CALM,
     {4, "panic", true, PANIC_UNTIL(160), NULL}},
    {"the metric above a threshold's one more replica wins",
     NULL,
     {WORKING_ON_2, .queue_length = 11, QUEUE_DEPTH(50, 1)},
     CALM,
     {5, "custom_metric", false, CALM, NULL}},
    {"capped at max_replicas, and the reason says so",
     NULL,
     {.current_replicas = 1, QUEUE_DEPTH(100, 1)},
     CALM,
     {5, "custom_metric", false, CALM, "10.00 per replica; capped at max_replicas 5"}},
    {"set exactly one stable window ago: still counts",
     NULL,
     {.current_replicas = 1, QUEUE_DEPTH(30, 60)},
     CALM,
     {3, "custom_metric", false, CALM, NULL}},
    {"set longer than a stable window ago: stale, ignored",
     NULL,
     {.current_replicas = 1, QUEUE_DEPTH(30, 60.5)},
     CALM,
     {1, "none", false, CALM, "load does not allow fewer than 1 replicas"}},
    {"stable window of 10 s: a gauge 11 s old is stale",
     stable_window_10_seconds,
     {.current_replicas = 1, QUEUE_DEPTH(30, 11)},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"no target: the model scales on no metric, whatever a value says",
     NULL,
     {.current_replicas = 1, .custom_metric_value = 30, .custom_metric_age = 1},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"never set (NAN): ignored",
     NULL,
     {.current_replicas = 1, QUEUE_DEPTH(NAN, NAN)},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"a negative value is no load",
     NULL,
     {.current_replicas = 1, QUEUE_DEPTH(-5, 1)},
     CALM,
     {1, "none", false, CALM, NULL}},
    {"above (replicas - 1) x target on 3 replicas forbids a shrink and resets the idle window",
     NULL,
     {LOW_ON_3, QUEUE_DEPTH(25, 1)},
     BELOW_SINCE(700),
     {3, "custom_metric", false, CALM, NULL}},
    {"below the target: the shrink goes ahead after the idle window",
     NULL,
     {LOW_ON_3, QUEUE_DEPTH(5, 1)},
     BELOW_SINCE(700),
     {1, "low_utilization", false, BELOW_SINCE(700), NULL}},
    {"below the target, idle window not yet over: held",
     NULL,
     {LOW_ON_3, QUEUE_DEPTH(5, 1)},
     BELOW_SINCE(900),
     {3, "none", false, BELOW_SINCE(900), "for 100 of 300 s"}},
    {"2x the target on 3 replicas: shrinks to 2, not below",
     NULL,
     {LOW_ON_3, QUEUE_DEPTH(20, 1)},
     BELOW_SINCE(700),
     {2, "low_utilization", false, BELOW_SINCE(700), NULL}},
    {"stale on 3 replicas: the shrink goes ahead as without it",
     NULL,
     {LOW_ON_3, QUEUE_DEPTH(30, 61)},
     BELOW_SINCE(700),
     {1, "low_utilization", false, BELOW_SINCE(700), NULL}},
    {"a fresh value above 0 keeps an idle model from zero",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .now = 5000, QUEUE_DEPTH(0.5, 1)},
     CALM,
     {1, "custom_metric", false, CALM, NULL}},
    {"a fresh value of 0 does not hold an idle model",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .now = 5000, QUEUE_DEPTH(0, 1)},
     CALM,
     {0, "idle_timeout", false, CALM, NULL}},
    {"a stale value does not hold an idle model",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .now = 5000, QUEUE_DEPTH(30, 61)},
     CALM,
     {0, "idle_timeout", false, CALM, NULL}},
    {"pinned (floor 1) and idle: the metric's 0 leaves the floor's one",
     NULL,
     {IDLE_SINCE_100, .current_replicas = 1, .floor_replicas = 1, .now = 5000, QUEUE_DEPTH(0, 1)},
     CALM,
     {1, "none", false, CALM, NULL}},
};

Test(policy, custom_metric)
{
    CHECK(custom_metric_cases);
}

/* ---- a step of load over simulated time ---- */

/* 8 concurrent requests from 20 s to 200 s, nothing before or after. */
#define STEP_START 20
#define STEP_END   200
#define STEP_LOAD  8

static double load_at(int second)
{
    return second >= STEP_START && second < STEP_END ? STEP_LOAD : 0;
}

/* Mean of the per-second load over the window ending at now, seconds
 * before 0 counting as no load. */
static double mean_load(int now, int window)
{
    double sum = 0;
    for (int s = now - window + 1; s <= now; s++)
        sum += s >= 0 ? load_at(s) : 0;
    return sum / window;
}

Test(policy, step_of_load_grows_within_the_panic_window_and_shrinks_after_the_idle_window)
{
    autoscaler_config_t cfg;
    config_autoscaler_defaults(&cfg);
    const int interval = (int)cfg.timing.decision_interval_seconds;               /* 2 */
    const int stable = (int)cfg.reactive.stable_window_seconds;                   /* 60 */
    const int panic = (int)cfg.reactive.panic_window_seconds;                     /* 6 */
    const int idle = (int)(cfg.scale_down_threshold.idle_time_minutes * 60);      /* 300 */
    const int zero_idle = (int)(cfg.zero_scale_threshold.idle_time_minutes * 60); /* 900 */
    const int last_loaded = STEP_END - 1;

    policy_state_t state;
    policy_state_init(&state);
    int replicas = 1, peak = 1;
    int t_full = -1, t_down = -1, t_zero = -1;
    bool panicked = false;
    const char *down_trigger = "", *zero_trigger = "";

    for (int t = 0; t <= 1200; t += interval) {
        double load = load_at(t);
        int last = t >= STEP_START ? (t < STEP_END ? t : last_loaded) : -1;
        policy_input_t in = {
            .now = t,
            .started_at = 0,
            .current_replicas = replicas,
            .floor_replicas = 0,
            .max_replicas = 10,
            .target_concurrency = 1,
            .concurrency_stable = mean_load(t, stable),
            .concurrency_panic = mean_load(t, panic),
            .replica_cpu_percent = NAN,
            .memory_percent = NAN,
            .gpu_percent = NAN,
            .queue_length = load > replicas ? load - replicas : 0,
            .p95_ms = NAN,
            .last_arrival = last,
            .last_busy = last,
        };
        policy_decision_t d;
        policy_decide(&in, &cfg, &state, &d);

        if (d.panicking)
            panicked = true;
        if (t < STEP_START)
            cr_expect_eq(d.desired, 1, "t=%d: before the step, desired %d (%s)", t, d.desired,
                         d.reason);
        if (d.desired < replicas && t_down < 0 && d.desired > 0) {
            t_down = t;
            down_trigger = d.trigger;
        }
        if (d.desired == 0 && t_zero < 0) {
            t_zero = t;
            zero_trigger = d.trigger;
        }
        if (t_down < 0)
            cr_expect_geq(d.desired, replicas, "t=%d: shrank from %d to %d before the idle window",
                          t, replicas, d.desired);
        replicas = d.desired; /* the controller applies it at once in this simulation */
        if (replicas > peak)
            peak = replicas;
        if (replicas >= STEP_LOAD && t_full < 0)
            t_full = t;
    }

    cr_expect_eq(peak, STEP_LOAD, "peak %d replicas, the load needs %d", peak, STEP_LOAD);
    cr_expect(panicked, "the step never put the policy in panic");
    cr_expect(t_full >= STEP_START && t_full <= STEP_START + panic + interval,
              "%d replicas reached at t=%d, want within the panic window (by %d)", STEP_LOAD,
              t_full, STEP_START + panic + interval);
    cr_expect(t_down >= STEP_END + idle && t_down <= STEP_END + stable + idle + interval,
              "first scale-down at t=%d, want between %d and %d", t_down, STEP_END + idle,
              STEP_END + stable + idle + interval);
    cr_expect_str_eq(down_trigger, "low_utilization");
    cr_expect(t_zero >= last_loaded + zero_idle && t_zero <= last_loaded + zero_idle + interval,
              "zero at t=%d, want within one decision after %d", t_zero, last_loaded + zero_idle);
    cr_expect_str_eq(zero_trigger, "idle_timeout");
    cr_expect_eq(replicas, 0, "%d replicas at the end, want 0", replicas);
}

/* ---- predictive and hybrid ----
 *
 * Each row: its name; the strategy; a configuration tweak (NULL: the
 * defaults); a history put into the state before the decision (NULL: none);
 * the input; the state the decision before left (its reactive part); and
 * {desired, trigger, a phrase of the reason}. Inputs carry the wall clock
 * NOW_UNIX, a load time of 30 s and a service time of 1 s unless they say
 * otherwise, so the horizon is a minute (30 s + a 2 s decision interval,
 * raised to the forecast's minute) and a forecast of 60 requests/min needs
 * one replica at a target of 1.
 */

static void rise_in_a_minute(policy_state_t *s)
{
    seed_days(s, -30, 0, 6);
    seed_days(s, 1, 30, 120); /* 2 requests/s: 2 replicas */
}

static void rise_in_two_minutes(policy_state_t *s)
{
    seed_days(s, -30, 1, 6);
    seed_days(s, 2, 30, 120);
}

static void steady_180_per_minute(policy_state_t *s)
{
    seed_days(s, -30, 30, 180); /* 3 replicas */
}

static void steady_120_per_minute(policy_state_t *s)
{
    seed_days(s, -30, 30, 120); /* 2 replicas */
}

static void quiet_now_busy_in_five_minutes(policy_state_t *s)
{
    seed_days(s, -30, 4, 0);
    seed_days(s, 5, 30, 180);
}

/* A rhythm: one request every `gap` seconds, each keeping the model busy
 * for 3 s, observed by a decision while busy and one after; 15 requests,
 * the first at RHYTHM_T0. The model's last work ends at RHYTHM_END(gap). */
#define RHYTHM_T0       1000.0
#define RHYTHM_N        15
#define RHYTHM_END(gap) (RHYTHM_T0 + (RHYTHM_N - 1) * (gap) + 3)
#define UNIX_OF(mono)   (NOW_UNIX - 20000.0 + (mono))

static void play_rhythm(policy_state_t *s, double gap)
{
    autoscaler_config_t cfg;
    config_autoscaler_defaults(&cfg);
    cfg.scaling_strategy = STRATEGY_PREDICTIVE;
    policy_decision_t d;
    for (int k = 0; k < RHYTHM_N; k++) {
        double t = RHYTHM_T0 + k * gap;
        policy_input_t busy = {.now = t + 1,
                               .current_replicas = 1,
                               .max_replicas = 5,
                               .target_concurrency = 1,
                               .concurrency_now = 1,
                               .last_arrival = t,
                               .last_busy = t + 1,
                               .unix_now = UNIX_OF(t + 1),
                               .arrivals_total = k + 1,
                               .load_seconds = 30,
                               .service_seconds = 3};
        policy_decide(&busy, &cfg, s, &d);
        policy_input_t idle = busy;
        idle.now = t + 5;
        idle.unix_now = UNIX_OF(t + 5);
        idle.concurrency_now = 0;
        idle.last_busy = t + 3;
        policy_decide(&idle, &cfg, s, &d);
    }
}

static void every_10_minutes(policy_state_t *s)
{
    play_rhythm(s, 600); /* idle gaps of 597 s: pre-warm at 486 s, keep-alive to 660 s */
}

static void every_20_minutes(policy_state_t *s)
{
    play_rhythm(s, 1200); /* gaps of 1197 s: pre-warm at 1026 s, keep-alive to 1320 s */
}

static void every_30_minutes(policy_state_t *s)
{
    play_rhythm(s, 1800); /* gaps of 1797 s: pre-warm at 1566 s, keep-alive to 1980 s */
}

static void preload_off(autoscaler_config_t *c)
{
    c->model_management.preload_popular_models = false;
}

typedef struct predictive_case {
    const char *name;
    scaling_strategy_t strategy;
    void (*tweak)(autoscaler_config_t *cfg);
    void (*history)(policy_state_t *state);
    policy_input_t in;
    policy_state_t before;
    int desired;
    const char *trigger;
    const char *reason; /* NULL: not checked */
} predictive_case_t;

/* A model at `replicas` with a little load just answered, at NOW_UNIX. */
#define LIGHT(replicas) LOADED(replicas, 0.1)
#define LOADED(replicas, concurrency)                                                              \
    .now = 5000, .current_replicas = (replicas), .concurrency_stable = (concurrency),              \
    .concurrency_panic = (concurrency), .last_arrival = 4990, .last_busy = 4995,                   \
    .unix_now = NOW_UNIX, .arrivals_total = 100, .service_seconds = 1

/* A model at zero whose last work ended `idle` seconds ago, after a rhythm. */
#define IDLE_AFTER(gap, idle, replicas)                                                            \
    .now = RHYTHM_END(gap) + (idle), .current_replicas = (replicas),                               \
    .last_arrival = RHYTHM_END(gap) - 3, .last_busy = RHYTHM_END(gap),                             \
    .unix_now = UNIX_OF(RHYTHM_END(gap) + (idle)), .arrivals_total = RHYTHM_N, .load_seconds = 30, \
    .service_seconds = 3

static const predictive_case_t predictive_cases[] = {
    /* growing ahead of a forecast rise */
    {"predictive grows ahead of a rise the earlier days had in the next minute: 120/min x 1 s "
     "is 2 in service, and a 30 s load cannot catch up with queueing, so it carries headroom: "
     "5 keep 99 % of requests within the 2 s response-time threshold (Erlang C)",
     STRATEGY_PREDICTIVE,
     NULL,
     rise_in_a_minute,
     {LIGHT(1), .load_seconds = 30},
     CALM,
     5,
     "predicted_load",
     "forecast 120.0 requests/min"},
    {"hybrid grows ahead of the same rise, with the same headroom (larger than reactive's 1)",
     STRATEGY_HYBRID,
     NULL,
     rise_in_a_minute,
     {LIGHT(1), .load_seconds = 30},
     CALM,
     5,
     "predicted_load",
     "seasonal"},
    {"reactive unchanged by the same history: the stable window wants 1",
     STRATEGY_REACTIVE,
     NULL,
     rise_in_a_minute,
     {LIGHT(1), .load_seconds = 30},
     CALM,
     1,
     "concurrency",
     NULL},
    {"a rise two minutes away is beyond the horizon of a 30 s load: today's 6/min only, for "
     "which one replica would leave 4 % of requests waiting past the threshold: 2",
     STRATEGY_PREDICTIVE,
     NULL,
     rise_in_two_minutes,
     {LIGHT(1), .load_seconds = 30},
     CALM,
     2,
     "predicted_load",
     "forecast 6.0 requests/min"},
    {"the same rise is within the horizon of a 150 s load (5, with headroom)",
     STRATEGY_PREDICTIVE,
     NULL,
     rise_in_two_minutes,
     {LIGHT(1), .load_seconds = 150},
     CALM,
     5,
     "predicted_load",
     "within 152 s"},
    {"preloading: a model at zero is loaded ahead of its expected traffic (5, with headroom)",
     STRATEGY_PREDICTIVE,
     NULL,
     rise_in_a_minute,
     {LIGHT(0), .load_seconds = 30},
     CALM,
     5,
     "predicted_load",
     NULL},
    {"hybrid preloads too",
     STRATEGY_HYBRID,
     NULL,
     rise_in_a_minute,
     {LIGHT(0), .load_seconds = 30},
     CALM,
     5,
     "predicted_load",
     NULL},
    {"without preload_popular_models a model at zero waits for its requests",
     STRATEGY_PREDICTIVE,
     preload_off,
     rise_in_a_minute,
     {LIGHT(0), .load_seconds = 30},
     CALM,
     0,
     "none",
     "preload_popular_models is off"},
    {"hybrid without preload_popular_models neither",
     STRATEGY_HYBRID,
     preload_off,
     rise_in_a_minute,
     {LIGHT(0), .load_seconds = 30},
     CALM,
     0,
     "none",
     NULL},
    {"no history: predictive sizes by the measured rate only (none yet) and holds",
     STRATEGY_PREDICTIVE,
     NULL,
     NULL,
     {LIGHT(2), .load_seconds = 30},
     CALM,
     2,
     "none",
     NULL},

    /* hybrid never below the forecast's need within one load time */
    {"hybrid: reactive shrinks 3 -> 1, the forecast needs 3 within a load time: held at 3 (a 0.5 s "
     "load, faster than the service: sized without headroom)",
     STRATEGY_HYBRID,
     NULL,
     steady_180_per_minute,
     {LOADED(3, 0.5), .load_seconds = 0.5},
     BELOW_SINCE(0),
     3,
     "predicted_load",
     "within one load time"},
    {"hybrid: the forecast needs 2 of 3: the shrink stops at 2 (a 0.5 s load)",
     STRATEGY_HYBRID,
     NULL,
     steady_120_per_minute,
     {LOADED(3, 0.5), .load_seconds = 0.5},
     BELOW_SINCE(0),
     2,
     "predicted_load",
     "needs 2"},
    {"hybrid: with a 30 s load the same 120/min needs 5 with headroom: reactive's shrink 3 -> 1 "
     "is overruled and the pool grows",
     STRATEGY_HYBRID,
     NULL,
     steady_120_per_minute,
     {LOADED(3, 0.5), .load_seconds = 30},
     BELOW_SINCE(0),
     5,
     "predicted_load",
     "x 1.00 s service"},
    {"hybrid: a rise due after one load time does not hold the pool",
     STRATEGY_HYBRID,
     NULL,
     quiet_now_busy_in_five_minutes,
     {LOADED(3, 0.5), .load_seconds = 30},
     BELOW_SINCE(0),
     1,
     "low_utilization",
     NULL},
    {"reactive with the same history shrinks to 1",
     STRATEGY_REACTIVE,
     NULL,
     steady_180_per_minute,
     {LOADED(3, 0.5), .load_seconds = 30},
     BELOW_SINCE(0),
     1,
     "low_utilization",
     NULL},
    {"predictive shrinks to the forecast's need after the idle window (a 0.5 s load)",
     STRATEGY_PREDICTIVE,
     NULL,
     steady_120_per_minute,
     {LIGHT(4), .load_seconds = 0.5},
     BELOW_SINCE(0),
     2,
     "low_utilization",
     NULL},

    /* pre-warm before an expected request after a regular idle gap */
    {"a request every 10 min: at zero, 450 s into the gap, pre-warm one replica",
     STRATEGY_PREDICTIVE,
     NULL,
     every_10_minutes,
     {IDLE_AFTER(600, 450, 0)},
     CALM,
     1,
     "prewarm",
     "idle-time histogram (14 gaps)"},
    {"hybrid pre-warms too",
     STRATEGY_HYBRID,
     NULL,
     every_10_minutes,
     {IDLE_AFTER(600, 450, 0)},
     CALM,
     1,
     "prewarm",
     NULL},
    {"200 s into the gap is too early to pre-warm",
     STRATEGY_PREDICTIVE,
     NULL,
     every_10_minutes,
     {IDLE_AFTER(600, 200, 0)},
     CALM,
     0,
     "none",
     NULL},
    {"past the keep-alive window nothing is expected: no pre-warm",
     STRATEGY_PREDICTIVE,
     NULL,
     every_10_minutes,
     {IDLE_AFTER(600, 700, 0)},
     CALM,
     0,
     "none",
     NULL},
    {"no pre-warm without preload_popular_models",
     STRATEGY_PREDICTIVE,
     preload_off,
     every_10_minutes,
     {IDLE_AFTER(600, 450, 0)},
     CALM,
     0,
     "none",
     NULL},
    {"reactive does not pre-warm",
     STRATEGY_REACTIVE,
     NULL,
     every_10_minutes,
     {IDLE_AFTER(600, 450, 0)},
     CALM,
     0,
     "none",
     NULL},

    /* keep-alive from the idle histogram */
    {"a request every 20 min: at 1000 s idle reactive's zero gate has passed, but the next "
     "request is due: kept",
     STRATEGY_PREDICTIVE,
     NULL,
     every_20_minutes,
     {IDLE_AFTER(1200, 1000, 1)},
     CALM,
     1,
     "keep_alive",
     "between 1026 and 1320 s"},
    {"hybrid keeps it too",
     STRATEGY_HYBRID,
     NULL,
     every_20_minutes,
     {IDLE_AFTER(1200, 1000, 1)},
     CALM,
     1,
     "keep_alive",
     "within one load time"},
    {"reactive unloads it",
     STRATEGY_REACTIVE,
     NULL,
     every_20_minutes,
     {IDLE_AFTER(1200, 1000, 1)},
     CALM,
     0,
     "idle_timeout",
     NULL},
    {"past the keep-alive window the model goes to zero",
     STRATEGY_PREDICTIVE,
     NULL,
     every_20_minutes,
     {IDLE_AFTER(1200, 1400, 1)},
     CALM,
     0,
     "idle_timeout",
     NULL},
    {"a request every 30 min: at 950 s idle the next is far off: zero now, pre-warm later",
     STRATEGY_PREDICTIVE,
     NULL,
     every_30_minutes,
     {IDLE_AFTER(1800, 950, 1)},
     CALM,
     0,
     "idle_timeout",
     NULL},
    {"... and pre-warmed at 1520 s",
     STRATEGY_PREDICTIVE,
     NULL,
     every_30_minutes,
     {IDLE_AFTER(1800, 1520, 0)},
     CALM,
     1,
     "prewarm",
     NULL},
};

Test(policy, predictive_and_hybrid)
{
    for (size_t r = 0; r < sizeof(predictive_cases) / sizeof(predictive_cases[0]); r++) {
        const predictive_case_t *c = &predictive_cases[r];
        autoscaler_config_t cfg;
        config_autoscaler_defaults(&cfg);
        if (c->tweak)
            c->tweak(&cfg);
        cfg.scaling_strategy = c->strategy;
        policy_input_t in = c->in;
        if (in.target_concurrency == 0)
            in.target_concurrency = cfg.reactive.target_concurrency;
        if (in.max_replicas == 0)
            in.max_replicas = cfg.replicas.max_replicas;
        in.replica_cpu_percent = in.memory_percent = in.model_memory_percent = in.gpu_percent =
            in.p95_ms = NAN;
        policy_state_t state = c->before;
        state.predict = NULL;
        if (c->history)
            c->history(&state);
        policy_decision_t out;
        memset(&out, 0, sizeof(out));

        policy_decide(&in, &cfg, &state, &out);

        cr_expect_eq(out.desired, c->desired, "%s: desired %d, want %d (%s)", c->name, out.desired,
                     c->desired, out.reason);
        cr_expect(strcmp(out.trigger, c->trigger) == 0, "%s: trigger \"%s\", want \"%s\" (%s)",
                  c->name, out.trigger, c->trigger, out.reason);
        if (c->reason)
            cr_expect(strstr(out.reason, c->reason) != NULL,
                      "%s: reason \"%s\" does not contain \"%s\"", c->name, out.reason, c->reason);
        policy_state_free(&state);
    }
}

/* ---- burst start ---- */

/* Each row: a request waits behind busy replicas, and policy_burst_target
 * says whether to start one more now. Replicas serve one request at a
 * time unless the row says otherwise. */
typedef struct burst_case {
    const char *name;
    scaling_strategy_t strategy;
    policy_input_t in;
    int want; /* the count to grow to, or -1 */
} burst_case_t;

#define WAITING(replicas, starting, queued, load, service)                                         \
    .current_replicas = (replicas), .starting_replicas = (starting), .max_replicas = 10,           \
    .target_concurrency = 1, .queue_length = (queued), .load_seconds = (load),                     \
    .service_seconds = (service)

static const burst_case_t burst_cases[] = {
    {"a 5 ms load is shorter than the 60 ms wait behind one busy replica: one more",
     STRATEGY_HYBRID,
     {WAITING(1, 0, 1, 0.005, 0.06)},
     2},
    {"the same for predictive", STRATEGY_PREDICTIVE, {WAITING(1, 0, 1, 0.005, 0.06)}, 2},
    {"reactive never bursts", STRATEGY_REACTIVE, {WAITING(1, 0, 1, 0.005, 0.06)}, -1},
    {"a 30 s load is longer than the 0.5 s wait: none",
     STRATEGY_HYBRID,
     {WAITING(1, 0, 1, 30, 0.5)},
     -1},
    {"... but 100 requests behind 1 replica wait 50 s: one more",
     STRATEGY_HYBRID,
     {WAITING(1, 0, 100, 30, 0.5)},
     2},
    {"the wait is shared by the ready replicas: 4 waiting behind 4 at 1 s is 1 s, a 2 s load "
     "waits",
     STRATEGY_HYBRID,
     {WAITING(4, 0, 4, 2, 1)},
     -1},
    {"a starting replica is already coming for the one waiting request: none",
     STRATEGY_HYBRID,
     {WAITING(2, 1, 1, 0.005, 0.06)},
     -1},
    {"a second waiting request has none coming: one more",
     STRATEGY_HYBRID,
     {WAITING(2, 1, 2, 0.005, 0.06)},
     3},
    {"at max_replicas: none", STRATEGY_HYBRID, {WAITING(10, 0, 5, 0.005, 0.06)}, -1},
    {"at zero the cold start does it: none", STRATEGY_HYBRID, {WAITING(0, 0, 1, 0.005, 0.06)}, -1},
    {"nobody waits: none", STRATEGY_HYBRID, {WAITING(1, 0, 0, 0.005, 0.06)}, -1},
    {"the load time not measured yet: none", STRATEGY_HYBRID, {WAITING(1, 0, 1, NAN, 0.06)}, -1},
    {"the service time not measured yet: none",
     STRATEGY_HYBRID,
     {WAITING(1, 0, 1, 0.005, NAN)},
     -1},
    {"two requests per replica: 2 waiting behind 1 at 60 ms wait 60 ms, one more",
     STRATEGY_HYBRID,
     {.current_replicas = 1,
      .max_replicas = 10,
      .target_concurrency = 2,
      .queue_length = 2,
      .load_seconds = 0.005,
      .service_seconds = 0.06},
     2},
};

Test(policy, burst_start)
{
    for (size_t r = 0; r < sizeof(burst_cases) / sizeof(burst_cases[0]); r++) {
        const burst_case_t *c = &burst_cases[r];
        autoscaler_config_t cfg;
        config_autoscaler_defaults(&cfg);
        cfg.scaling_strategy = c->strategy;
        char reason[240] = "";
        int got = policy_burst_target(&c->in, &cfg, reason, sizeof(reason));
        cr_expect_eq(got, c->want, "%s: %d, want %d", c->name, got, c->want);
        if (got >= 0)
            cr_expect(strstr(reason, "burst:") != NULL, "%s: reason \"%s\"", c->name, reason);
    }
}

/* ---- hybrid's hold ---- */

/* A model at 2 replicas whose load fell to one replica's worth at 1000 s:
 * hybrid lets the surplus go after 2 load times or the scale-up cooldown
 * of low load, whichever is longer (with no cooldown: none for a 5 ms
 * load, shorter than the 2 s decision interval; 60 s for a 30 s load; with
 * the default 60 s cooldown, 60 s for either), where reactive waits its
 * configured 300 s. The forecast has no
 * history, so it needs one replica. The release floor is what a release
 * between decisions may go down to: the count the hold would go to. */
typedef struct hold_case {
    const char *name;
    scaling_strategy_t strategy;
    double load_seconds;
    double scale_up_cooldown;
    double now; /* the load has been low since 1000 s */
    int desired;
    int release_floor;
} hold_case_t;

static const hold_case_t hold_cases[] = {
    {"hybrid, 5 ms load: no hold, let go at once", STRATEGY_HYBRID, 0.005, 0, 1000, 1, 1},
    {"hybrid, 5 ms load: let go 2 s later too", STRATEGY_HYBRID, 0.005, 0, 1002, 1, 1},
    {"hybrid, 30 s load: held at 58 s of the 60 s hold", STRATEGY_HYBRID, 30, 0, 1058, 2, 1},
    {"hybrid, 30 s load: let go after 60 s", STRATEGY_HYBRID, 30, 0, 1060, 1, 1},
    {"hybrid, 5 ms load, 60 s cooldown: held at 58 s", STRATEGY_HYBRID, 0.005, 60, 1058, 2, 1},
    {"hybrid, 5 ms load, 60 s cooldown: let go after 60 s", STRATEGY_HYBRID, 0.005, 60, 1060, 1, 1},
    {"reactive, 5 ms load: held at 60 s (its window is 300 s)", STRATEGY_REACTIVE, 0.005, 0, 1060,
     2, 1},
    {"reactive: let go after 300 s", STRATEGY_REACTIVE, 0.005, 0, 1300, 1, 1},
};

Test(policy, hybrid_hold)
{
    for (size_t r = 0; r < sizeof(hold_cases) / sizeof(hold_cases[0]); r++) {
        const hold_case_t *c = &hold_cases[r];
        autoscaler_config_t cfg;
        config_autoscaler_defaults(&cfg);
        cfg.scaling_strategy = c->strategy;
        cfg.cooldowns.scale_up_cooldown_seconds = c->scale_up_cooldown;
        policy_input_t in = {
            .now = c->now,
            .current_replicas = 2,
            .max_replicas = 10,
            .target_concurrency = 1,
            .concurrency_stable = 0.5,
            .concurrency_panic = 0.5,
            .concurrency_now = 1,
            .replica_cpu_percent = NAN,
            .memory_percent = NAN,
            .model_memory_percent = NAN,
            .gpu_percent = NAN,
            .p95_ms = NAN,
            .last_arrival = c->now,
            .last_busy = c->now,
            .unix_now = NOW_UNIX,
            .load_seconds = c->load_seconds,
            .service_seconds = 0.06,
        };
        policy_state_t state = BELOW_SINCE(1000);
        state.predict = NULL;
        policy_decision_t out;
        memset(&out, 0, sizeof(out));
        policy_decide(&in, &cfg, &state, &out);
        cr_expect_eq(out.desired, c->desired, "%s: desired %d, want %d (%s)", c->name, out.desired,
                     c->desired, out.reason);
        cr_expect_eq(out.release_floor, c->release_floor, "%s: release floor %d, want %d", c->name,
                     out.release_floor, c->release_floor);
        policy_state_free(&state);
    }
}

/* ---- release ---- */

typedef struct release_case {
    const char *name;
    scaling_strategy_t strategy;
    int current, floor, release_floor;
    double in_flight, queued, load_seconds;
    int want; /* -1: leave the pool */
} release_case_t;

static const release_case_t release_cases[] = {
    {"4 replicas, 1 busy: down to 1", STRATEGY_HYBRID, 4, 0, 1, 1, 0, 0.005, 1},
    {"4 replicas, 3 busy: down to 3", STRATEGY_HYBRID, 4, 0, 1, 3, 0, 0.005, 3},
    {"never below the decision's floor", STRATEGY_HYBRID, 4, 0, 2, 1, 0, 0.005, 2},
    {"never below min_replicas", STRATEGY_HYBRID, 4, 3, 1, 1, 0, 0.005, 3},
    {"one replica at least with nothing in flight", STRATEGY_HYBRID, 3, 0, 0, 0, 0, 0.005, 1},
    {"all busy: nothing to release", STRATEGY_HYBRID, 3, 0, 1, 3, 0, 0.005, -1},
    {"somebody waits: not a release", STRATEGY_HYBRID, 4, 0, 1, 1, 1, 0.005, -1},
    {"one replica: nothing to release", STRATEGY_HYBRID, 1, 0, 1, 0, 0, 0.005, -1},
    {"a load longer than a decision interval: decisions only", STRATEGY_HYBRID, 4, 0, 1, 1, 0, 3,
     -1},
    {"load time unknown: decisions only", STRATEGY_HYBRID, 4, 0, 1, 1, 0, NAN, -1},
    {"reactive never releases", STRATEGY_REACTIVE, 4, 0, 1, 1, 0, 0.005, -1},
    {"predictive never releases", STRATEGY_PREDICTIVE, 4, 0, 1, 1, 0, 0.005, -1},
};

Test(policy, release)
{
    for (size_t r = 0; r < sizeof(release_cases) / sizeof(release_cases[0]); r++) {
        const release_case_t *c = &release_cases[r];
        autoscaler_config_t cfg;
        config_autoscaler_defaults(&cfg);
        cfg.scaling_strategy = c->strategy;
        policy_input_t in = {
            .current_replicas = c->current,
            .floor_replicas = c->floor,
            .max_replicas = 10,
            .target_concurrency = 1,
            .concurrency_now = c->in_flight + c->queued,
            .queue_length = c->queued,
            .load_seconds = c->load_seconds,
        };
        char reason[240] = "";
        int got = policy_release_target(&in, &cfg, c->release_floor, reason, sizeof(reason));
        cr_expect_eq(got, c->want, "%s: %d, want %d", c->name, got, c->want);
        if (got >= 0)
            cr_expect(strstr(reason, "release:") != NULL, "%s: reason \"%s\"", c->name, reason);
    }
}

/* ---- silence ---- */

/* Ten minutes of 60 requests a minute, then nothing, with the model
 * unloaded when the requests stop: the damped trend still expects requests
 * for many minutes, and predictive preloads a model for them. After a few
 * silent decisions (4.6 requests expected, none came) the forecast is
 * contradicted and needs nothing, so the model stays at zero. Returns the
 * last decision's count. */
static int silence_desired_after(double silent_seconds, double per_minute)
{
    autoscaler_config_t cfg;
    config_autoscaler_defaults(&cfg);
    cfg.scaling_strategy = STRATEGY_PREDICTIVE;
    policy_state_t state;
    policy_state_init(&state);
    policy_decision_t out;
    double t = 0, arrivals = 0, stop = 600, end = stop + silent_seconds;
    for (; t <= end; t += 2) {
        bool active = t < stop;
        if (active)
            arrivals += per_minute / 30; /* per decision of 2 s */
        policy_input_t in = {
            .now = t,
            .current_replicas = active ? 1 : 0,
            .max_replicas = 10,
            .target_concurrency = 1,
            .concurrency_stable = active ? 0.06 : 0,
            .concurrency_panic = active ? 0.06 : 0,
            .replica_cpu_percent = NAN,
            .memory_percent = NAN,
            .model_memory_percent = NAN,
            .gpu_percent = NAN,
            .p95_ms = NAN,
            .last_arrival = active ? t : stop - 1,
            .last_busy = active ? t : stop - 1,
            .unix_now = NOW_UNIX + t,
            .arrivals_total = arrivals,
            .load_seconds = 0.005,
            .service_seconds = 0.06,
        };
        policy_decide(&in, &cfg, &state, &out);
    }
    policy_state_free(&state);
    return out.desired;
}

Test(policy, silence_sets_a_contradicted_forecast_aside)
{
    cr_expect_eq(silence_desired_after(2, 60), 1,
                 "one quiet decision is no contradiction: preloaded");
    cr_expect_eq(silence_desired_after(30, 60), 0, "30 s without any of 60 requests a minute");
    /* A low rate: the expectation adds up over the whole gap, not over a
     * window that would never hold 4.6 requests of it. */
    cr_expect_eq(silence_desired_after(30, 4), 1, "30 s without a request at 4 a minute");
    cr_expect_eq(silence_desired_after(600, 4), 0, "10 minutes without any of 4 a minute");
}
