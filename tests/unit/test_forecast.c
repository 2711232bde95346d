/* test_forecast.c - the per-minute forecaster and the idle-time histogram.
 *
 * Generated series (a seeded generator, so every run sees the same
 * numbers) of known period and level go in; the detected period and level,
 * and the forecast of the next minutes, must come out. Each table row is
 * one series: its shape, its length and what must be recovered.
 */
#include <criterion/criterion.h>

#include "autoscaler/forecast.h"

#include <math.h>
#include <stdint.h>

#define DAY   1440
#define START ((int64_t)29000160) /* a Unix minute in 2025, a multiple of a day */

static uint32_t rng_state;

static double noise(double amplitude)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return amplitude * (((double)(rng_state >> 8) / (double)(1u << 24)) * 2 - 1);
}

typedef enum { SHAPE_SINE, SHAPE_BURST, SHAPE_FLAT } shape_t;

typedef struct series {
    const char *name;
    shape_t shape;
    int period;       /* minutes */
    double level;     /* mean requests per minute */
    double amplitude; /* sine: half the swing; burst: the burst's rate */
    double noise;     /* uniform noise of this half-width */
    int minutes;      /* length of the generated history */
    int want_period;  /* 0: no period may be reported */
    double level_tolerance;
} series_t;

static double value_at(const series_t *s, int64_t m)
{
    double v = s->level;
    if (s->shape == SHAPE_SINE)
        v += s->amplitude * sin(2 * M_PI * (double)(m % s->period) / s->period);
    else if (s->shape == SHAPE_BURST)
        v = (m % s->period) < 10 ? s->amplitude : 0;
    v += noise(s->noise);
    return v > 0 ? v : 0;
}

static forecast_t *generate(const series_t *s)
{
    forecast_t *f = forecast_new();
    rng_state = 12345;
    for (int i = 0; i < s->minutes; i++)
        forecast_add_minute(f, START + i, value_at(s, START + i));
    return f;
}

static const series_t series_cases[] = {
    {"a daily sine over a week", SHAPE_SINE, DAY, 100, 60, 10, 7 * DAY, DAY, 0.02},
    {"a daily sine over two days (the least a period needs)", SHAPE_SINE, DAY, 50, 30, 5, 2 * DAY,
     DAY, 0.02},
    {"an hourly sine over one day", SHAPE_SINE, 60, 20, 15, 3, DAY, 60, 0.02},
    {"a 37-minute sine (not a divisor of a day) over 12 hours", SHAPE_SINE, 37, 30, 10, 2, 720, 37,
     0.02},
    {"a 10-minute burst once a day, three days", SHAPE_BURST, DAY, 0, 50, 0, 3 * DAY, DAY, 0},
    {"flat noise has no period", SHAPE_FLAT, DAY, 10, 0, 5, 3 * DAY, 0, 0.02},
};

Test(forecast, recovers_the_period_and_level_of_a_generated_seasonal_series)
{
    for (size_t i = 0; i < sizeof(series_cases) / sizeof(series_cases[0]); i++) {
        const series_t *s = &series_cases[i];
        forecast_t *f = generate(s);
        forecast_period_t p;
        forecast_detect_period(f, START + s->minutes, &p);
        cr_expect_eq(p.minutes, s->want_period, "%s: period %d, want %d (strength %.2f)", s->name,
                     p.minutes, s->want_period, p.strength);
        double level = s->shape == SHAPE_BURST ? s->amplitude * 10.0 / s->period : s->level;
        cr_expect(fabs(p.level - level) <= s->level_tolerance * level + 1e-9,
                  "%s: level %.3f, want %.3f", s->name, p.level, level);
        cr_expect_eq(p.known_minutes, (unsigned)s->minutes, "%s", s->name);
        if (s->want_period)
            cr_expect(p.strength >= 0.3, "%s: strength %.2f", s->name, p.strength);
        forecast_free(f);
    }
}

/* Forecasts after a history: the rate one horizon ahead. */
typedef struct predict_case {
    const char *name;
    series_t history;
    double today_scale; /* the last 15 minutes' actual counts x this (1: as the pattern) */
    int ahead;          /* minutes after the history's end the span starts */
    double seconds;     /* span */
    const char *method; /* want */
    double peak_low, peak_high;
} predict_case_t;

static const predict_case_t predict_cases[] = {
    {"three days of a daily sine: the same minute of earlier days",
     {"", SHAPE_SINE, DAY, 100, 60, 0, 3 * DAY, DAY, 0},
     1,
     0,
     60,
     "seasonal",
     99.0,
     101.0},
    {"a burst due in two minutes is seen from before it starts",
     {"", SHAPE_BURST, DAY, 0, 50, 0, 3 * DAY - 2, DAY, 0},
     1,
     0,
     180,
     "seasonal",
     49.9,
     50.1},
    {"traffic running at twice the pattern lifts the forecast by the damped ratio (sqrt 2)",
     {"", SHAPE_SINE, DAY, 100, 0, 0, 3 * DAY, DAY, 0},
     2,
     0,
     60,
     "seasonal",
     138.0,
     143.0},
    {"half an hour of history and no earlier day: the trend of a ramp goes on",
     {"", SHAPE_FLAT, DAY, 0, 0, 0, 30, 0, 0},
     -1,
     0,
     120,
     "trend",
     30.0,
     60.0},
};

Test(forecast, predicts_the_rate_one_horizon_ahead)
{
    for (size_t i = 0; i < sizeof(predict_cases) / sizeof(predict_cases[0]); i++) {
        const predict_case_t *c = &predict_cases[i];
        forecast_t *f = forecast_new();
        rng_state = 1;
        int n = c->history.minutes;
        for (int m = 0; m < n; m++) {
            double v;
            if (c->today_scale < 0)
                v = (double)m; /* a ramp: one more request each minute */
            else
                v = value_at(&c->history, START + m) * (m >= n - 15 ? c->today_scale : 1);
            forecast_add_minute(f, START + m, v);
        }
        forecast_rate_t r;
        double from = (double)(START + n + c->ahead) * 60.0;
        forecast_predict(f, from, c->seconds, &r);
        cr_expect_str_eq(r.method, c->method, "%s: method %s", c->name, r.method);
        cr_expect(r.peak_per_minute >= c->peak_low && r.peak_per_minute <= c->peak_high,
                  "%s: peak %.2f, want %.2f..%.2f", c->name, r.peak_per_minute, c->peak_low,
                  c->peak_high);
        forecast_free(f);
    }
}

Test(forecast, observations_spread_arrivals_over_the_minutes_they_span)
{
    forecast_t *f = forecast_new();
    double t0 = (double)START * 60.0 + 30.0; /* half a minute in */
    forecast_observe(f, t0, 1000);           /* the baseline: nothing counted */
    forecast_observe(f, t0 + 60.0, 1060);    /* 60 requests over [30 s, 90 s) */
    cr_expect_float_eq(forecast_minute_count(f, START), 30.0, 1e-3);
    cr_expect_float_eq(forecast_minute_count(f, START + 1), 30.0, 1e-3);
    forecast_observe(f, t0 + 200.0, 1060); /* quiet minutes are known zeros */
    cr_expect_float_eq(forecast_minute_count(f, START + 2), 0.0, 1e-9);
    cr_expect(isnan(forecast_minute_count(f, START - 1)), "before watching: unknown");
    forecast_observe(f, t0 + 260.0, 5); /* a total that went down: a new baseline */
    cr_expect_float_eq(forecast_minute_count(f, START + 4), 0.0, 1e-9);
    forecast_free(f);
}

Test(forecast, the_ring_forgets_what_is_older_than_fourteen_days)
{
    forecast_t *f = forecast_new();
    forecast_add_minute(f, START, 7);
    forecast_add_minute(f, START, 3);
    cr_expect_float_eq(forecast_minute_count(f, START), 10.0, 1e-9);
    forecast_add_minute(f, START + FORECAST_MINUTES, 1);
    cr_expect(isnan(forecast_minute_count(f, START)), "out of the ring");
    cr_expect(isnan(forecast_minute_count(f, START + 5)), "skipped minutes are unknown");
    forecast_add_minute(f, START, 9); /* too old: ignored */
    cr_expect(isnan(forecast_minute_count(f, START)));
    forecast_free(f);
}

typedef struct idle_case {
    const char *name;
    double gaps[40]; /* idle times in seconds; 0 ends the list (an exact 0 is never used) */
    int repeat;      /* the list is recorded this many times */
    bool representative;
    double prewarm, keep_alive; /* seconds; checked when representative */
    double every;               /* > 0: also one gap every this many seconds up to four hours */
} idle_case_t;

static const idle_case_t idle_cases[] = {
    {"twenty gaps of ten minutes: pre-warm at 10 min - 10 %, keep-alive to 11 min + 10 %",
     {600.5},
     20,
     true,
     540,
     726,
     0},
    {"gaps of 5 to 6 minutes", {300.5, 330, 359, 380}, 5, true, 270, 462, 0},
    {"too few gaps", {600.5}, 9, false, 0, 0, 0},
    {"gaps spread over four hours (CV below 2): one in every bin", {0}, 1, false, 0, 0, 60},
    {"mostly beyond four hours", {20000, 600.5}, 10, false, 0, 0, 0},
};

Test(forecast, idle_windows_from_the_histogram)
{
    for (size_t i = 0; i < sizeof(idle_cases) / sizeof(idle_cases[0]); i++) {
        const idle_case_t *c = &idle_cases[i];
        forecast_t *f = forecast_new();
        for (int r = 0; r < c->repeat; r++)
            for (size_t g = 0; g < 40 && c->gaps[g] > 0; g++)
                forecast_add_idle_time(f, c->gaps[g]);
        for (double t = c->every / 2; c->every > 0 && t < 4 * 3600; t += c->every)
            forecast_add_idle_time(f, t);
        forecast_idle_t w;
        forecast_idle_windows(f, &w);
        cr_expect_eq(w.representative, c->representative, "%s: representative %d (cv %.2f)",
                     c->name, w.representative, w.cv);
        if (c->representative) {
            cr_expect_float_eq(w.prewarm_seconds, c->prewarm, 1e-6, "%s: pre-warm %.1f", c->name,
                               w.prewarm_seconds);
            cr_expect_float_eq(w.keep_alive_seconds, c->keep_alive, 1e-6, "%s: keep-alive %.1f",
                               c->name, w.keep_alive_seconds);
        }
        forecast_free(f);
    }
}
