/* schedule.c - arrival schedules for inferd loadtest (see schedule.h).
 *
 * Everything is decided before the run so that the run itself only has to
 * send at the times written here: the load generator is open loop, and a
 * schedule that depended on answers would not be. Random choices come from
 * the seeded generator of util/rng.h, so a seed reproduces a run's requests
 * exactly.
 *
 * A trace is read whole and checked whole (every row, even those past the
 * duration), so an error late in the file is reported before a long run,
 * not discovered by a later one. Reading and scaling are the simulator's
 * (sim/trace.h), so that a trace cannot mean one thing to `inferd
 * simulate` and another to the load test.
 */
#include "loadtest/schedule.h"
#include "util/rng.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct schedule {
    arrival_t *items;
    size_t n, cap;
    char **models;
    size_t n_models;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the list ---- */

static schedule_t *schedule_new(void)
{
    return xcalloc(1, sizeof(schedule_t));
}

static void schedule_push(schedule_t *s, double at, int model)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->items = xrealloc(s->items, s->cap * sizeof(arrival_t));
    }
    s->items[s->n++] = (arrival_t){.at = at, .model = model};
}

static bool schedule_full(const schedule_t *s, const schedule_limits_t *limits, double at)
{
    return s->n >= limits->max_count || (limits->duration > 0 && at >= limits->duration);
}

void schedule_free(schedule_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_models; i++)
        free(s->models[i]);
    free(s->models);
    free(s->items);
    free(s);
}

size_t schedule_count(const schedule_t *s)
{
    return s->n;
}

arrival_t schedule_arrival(const schedule_t *s, size_t i)
{
    return s->items[i];
}

double schedule_span(const schedule_t *s)
{
    return s->n ? s->items[s->n - 1].at : 0.0;
}

size_t schedule_model_count(const schedule_t *s)
{
    return s->n_models;
}

const char *schedule_model_name(const schedule_t *s, size_t i)
{
    return i < s->n_models ? s->models[i] : NULL;
}

/* ---- ramp and Poisson ---- */

/* Time at which the integral of the ramp's rate reaches k. Within the ramp
 * it solves a*t + (b-a)*t^2/(2T) = k in the form that stays exact when a is
 * 0 or b equals a; after it, the rate holds at b. Returns INFINITY when the
 * rate never gets there. */
static double ramp_time_of(double a, double b, double T, double k)
{
    double in_ramp = (a + b) / 2.0 * T;
    if (k == 0)
        return 0.0;
    if (k <= in_ramp) {
        double disc = a * a + 2.0 * (b - a) * k / T;
        double denom = a + sqrt(disc > 0 ? disc : 0);
        return denom > 0 ? 2.0 * k / denom : INFINITY;
    }
    return b > 0 ? T + (k - in_ramp) / b : INFINITY;
}

schedule_t *schedule_ramp(double start_rps, double end_rps, double ramp_seconds,
                          const schedule_limits_t *limits, char *err, size_t errlen)
{
    if (!isfinite(start_rps) || !isfinite(end_rps) || start_rps < 0 || end_rps < 0) {
        set_err(err, errlen, "ramp rates must be non-negative numbers");
        return NULL;
    }
    if (!isfinite(ramp_seconds) || ramp_seconds <= 0) {
        set_err(err, errlen, "ramp seconds must be a positive number");
        return NULL;
    }
    if (start_rps == 0 && end_rps == 0) {
        set_err(err, errlen, "a ramp from 0 to 0 requests per second sends nothing");
        return NULL;
    }
    schedule_limits_t lim = *limits;
    if (lim.duration <= 0)
        lim.duration = ramp_seconds;
    schedule_t *s = schedule_new();
    for (size_t k = 0;; k++) {
        double t = ramp_time_of(start_rps, end_rps, ramp_seconds, (double)k);
        if (!isfinite(t) || schedule_full(s, &lim, t))
            break;
        schedule_push(s, t, SCHEDULE_ANY_MODEL);
    }
    return s;
}

schedule_t *schedule_poisson(double rate_rps, uint64_t seed, const schedule_limits_t *limits,
                             char *err, size_t errlen)
{
    if (!isfinite(rate_rps) || rate_rps <= 0) {
        set_err(err, errlen, "rate must be a positive number of requests per second");
        return NULL;
    }
    if (!(limits->duration > 0)) {
        set_err(err, errlen, "a constant rate needs a positive duration");
        return NULL;
    }
    schedule_t *s = schedule_new();
    rng_t rng;
    rng_seed(&rng, seed);
    double t = rng_exponential(&rng, 1.0 / rate_rps);
    while (!schedule_full(s, limits, t)) {
        schedule_push(s, t, SCHEDULE_ANY_MODEL);
        t += rng_exponential(&rng, 1.0 / rate_rps);
    }
    return s;
}

/* ---- traces ---- */

schedule_t *schedule_from_trace(const sim_trace_t *t, const schedule_limits_t *limits)
{
    schedule_t *s = schedule_new();
    if (t->model) {
        s->models = xcalloc(t->n_models ? t->n_models : 1, sizeof(char *));
        for (size_t i = 0; i < t->n_models; i++)
            s->models[i] = xstrdup(t->model_names[i]);
        s->n_models = t->n_models;
    }
    for (size_t i = 0; i < t->n && !schedule_full(s, limits, t->arrival[i]); i++)
        schedule_push(s, t->arrival[i], t->model ? t->model[i] : SCHEDULE_ANY_MODEL);
    return s;
}

schedule_t *schedule_load_trace(const char *path, const trace_options_t *opts,
                                const schedule_limits_t *limits, char *err, size_t errlen)
{
    if (!(opts->time_scale > 0) || !isfinite(opts->time_scale)) {
        set_err(err, errlen, "time scale must be a positive number");
        return NULL;
    }
    if (!(opts->rate_scale > 0) || opts->rate_scale > 1000) {
        set_err(err, errlen, "rate scale must be a number above 0 and at most 1000");
        return NULL;
    }
    sim_trace_read_options_t read = {.seed = opts->seed, .model_column = opts->model_column};
    sim_trace_t t;
    schedule_t *s = NULL;
    if (sim_trace_read_csv_with(path, &read, &t, err, errlen) < 0)
        return NULL;
    if (sim_trace_scale(&t, opts->time_scale, opts->rate_scale, opts->seed) < 0)
        set_err(err, errlen, "%s: out of memory scaling the trace", path);
    else if (t.n == 0)
        set_err(err, errlen, "%s: no requests left after a rate scale of %g", path,
                opts->rate_scale);
    else
        s = schedule_from_trace(&t, limits);
    sim_trace_free(&t);
    return s;
}
