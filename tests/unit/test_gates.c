/* test_gates.c - cooldowns and memory admission, as tables. */
#include <criterion/criterion.h>
#include <math.h>

#include "autoscaler/gates.h"

#define NEVER (-INFINITY)

typedef struct cooldown_row {
    const char *situation;
    scale_times_t times;
    int current, target;
    double now;
    double left;
    const char *setting;
} cooldown_row_t;

/* Defaults: scale-up 60 s, scale-down 300 s, zero-scale 900 s. */
static const cooldown_row_t cooldown_rows[] = {
    {"first scale-up ever", {NEVER, NEVER, NEVER}, 1, 2, 100, 0, "scale_up_cooldown_seconds"},
    {"scale-up 10 s after a scale-up waits 50 s",
     {90, 90, NEVER},
     2,
     3,
     100,
     50,
     "scale_up_cooldown_seconds"},
    {"scale-up exactly 60 s after is free",
     {40, 40, NEVER},
     2,
     3,
     100,
     0,
     "scale_up_cooldown_seconds"},
    {"a scale-down does not hold back growth",
     {NEVER, 99, NEVER},
     2,
     3,
     100,
     0,
     "scale_up_cooldown_seconds"},
    {"a cold start does not hold back growth",
     {NEVER, 99, 99},
     1,
     3,
     100,
     0,
     "scale_up_cooldown_seconds"},
    {"from zero nothing waits (a cold start)",
     {99, 99, 99},
     0,
     1,
     100,
     0,
     "scale_up_cooldown_seconds"},
    {"scale-down 100 s after any change waits 200 s",
     {0, 0, NEVER},
     3,
     2,
     100,
     200,
     "scale_down_cooldown_seconds"},
    {"scale-down after a cold start waits too",
     {NEVER, 50, 50},
     3,
     2,
     100,
     250,
     "scale_down_cooldown_seconds"},
    {"scale-down exactly 300 s after is free",
     {0, 0, NEVER},
     3,
     2,
     300,
     0,
     "scale_down_cooldown_seconds"},
    {"zero-scale counts from the last scale-up",
     {100, 800, NEVER},
     1,
     0,
     900,
     100,
     "zero_scale_cooldown_seconds"},
    {"zero-scale counts from a later cold start",
     {100, 800, 800},
     1,
     0,
     1000,
     700,
     "zero_scale_cooldown_seconds"},
    {"zero-scale ignores scale-downs",
     {NEVER, 990, NEVER},
     2,
     0,
     1000,
     0,
     "zero_scale_cooldown_seconds"},
    {"no move, no wait", {99, 99, 99}, 2, 2, 100, 0, "scale_down_cooldown_seconds"},
};

Test(gates, cooldown_table)
{
    autoscaler_config_t cfg;
    config_autoscaler_defaults(&cfg);
    for (size_t i = 0; i < sizeof(cooldown_rows) / sizeof(cooldown_rows[0]); i++) {
        const cooldown_row_t *r = &cooldown_rows[i];
        cooldown_check_t c;
        gate_cooldown(&cfg, &r->times, r->current, r->target, r->now, &c);
        cr_expect_float_eq(c.seconds_left, r->left, 1e-9, "%s: left %g, want %g", r->situation,
                           c.seconds_left, r->left);
        cr_expect_str_eq(c.setting, r->setting, "%s", r->situation);
    }
}

typedef struct memory_row {
    const char *situation;
    double available, per_replica;
    int want, fit;
} memory_row_t;

static const memory_row_t memory_rows[] = {
    {"plenty of memory", 8000, 100, 3, 3},
    {"room for exactly two", 250, 100, 3, 2},
    {"room for exactly three", 300, 100, 3, 3},
    {"room for none", 99, 100, 2, 0},
    {"nothing available", 0, 100, 1, 0},
    {"unknown available memory admits", NAN, 100, 4, 4},
    {"unmeasured, undeclared replica size admits", 10, 0, 4, 4},
    {"unknown replica size admits", 10, NAN, 2, 2},
    {"wanting nothing", 8000, 100, 0, 0},
    {"a 1 GiB replica on 3.5 GiB", 3584, 1024, 5, 3},
};

Test(gates, memory_table)
{
    for (size_t i = 0; i < sizeof(memory_rows) / sizeof(memory_rows[0]); i++) {
        const memory_row_t *r = &memory_rows[i];
        cr_expect_eq(gate_memory_fit(r->available, r->per_replica, r->want), r->fit, "%s",
                     r->situation);
    }
}

/* Release asks whether a replica let go could come back at once: only once
 * the scale-up cooldown (60 s by default) has passed since the last
 * scale-up. */
Test(gates, growth_open)
{
    autoscaler_config_t cfg;
    config_autoscaler_defaults(&cfg);
    scale_times_t never = {-INFINITY, -INFINITY, -INFINITY};
    cr_expect(gate_growth_open(&cfg, &never, 10), "no scale-up yet");
    scale_times_t grew = {100, 100, -INFINITY};
    cr_expect(!gate_growth_open(&cfg, &grew, 130), "30 s into the 60 s cooldown");
    cr_expect(gate_growth_open(&cfg, &grew, 160), "the cooldown has passed");
    cfg.cooldowns.scale_up_cooldown_seconds = 0;
    cr_expect(gate_growth_open(&cfg, &grew, 100), "no cooldown");
}
