/* schedule.h - when each request of a load test is sent.
 *
 * A schedule is a list of arrivals sorted by time, in seconds from the
 * start of the run, each optionally naming the model it is for. It is
 * built once, before the run, from one of three sources:
 *
 *   ramp      requests per second rising linearly from START to END over
 *             SECONDS, then holding at END (the spec's load-test example);
 *             arrivals are evenly spread at the instantaneous rate, so two
 *             runs send exactly the same requests at the same offsets.
 *   poisson   a constant rate with exponential gaps from a seeded generator.
 *   trace     a CSV file read by the simulator's reader (sim/trace.h: one
 *             request per row, or per-minute counts spread within each
 *             minute by the seed) and scaled as `inferd simulate` scales
 *             it (sim_trace_scale: time_scale times faster, rate_scale
 *             thinning or copying requests), so a file and a seed give
 *             loadtest the same requests at the same times as the
 *             simulator.
 *
 * Every builder stops at max_count arrivals and at `duration` seconds, so a
 * schedule is bounded in memory and in time whatever its input. Pure: no
 * clock, no I/O except schedule_load_trace, which reads the file.
 *
 * Ownership: the caller frees a schedule with schedule_free(); model names
 * returned by schedule_model_name belong to the schedule.
 */
#ifndef INFERD_LOADTEST_SCHEDULE_H
#define INFERD_LOADTEST_SCHEDULE_H

#include "sim/trace.h"

#include <stddef.h>
#include <stdint.h>

#define SCHEDULE_ANY_MODEL (-1) /* the caller picks the model (round robin) */

typedef struct schedule schedule_t;

typedef struct arrival {
    double at; /* seconds from the start of the run, >= 0 */
    int model; /* index for schedule_model_name, or SCHEDULE_ANY_MODEL */
} arrival_t;

/* Bounds every builder honours: nothing at or after `duration` seconds
 * (<= 0: no bound from time), at most max_count arrivals. */
typedef struct schedule_limits {
    double duration;
    size_t max_count;
} schedule_limits_t;

typedef struct trace_options {
    double time_scale;        /* > 0; 60 plays an hour in a minute */
    double rate_scale;        /* > 0 and <= 1000; 0.5 keeps about half the requests, 2
                                 sends each twice (the copy before the next one) */
    uint64_t seed;            /* for per-minute spreading and rate_scale's choices */
    const char *model_column; /* header name of a column naming the model, or NULL */
} trace_options_t;

/* Rate rising linearly from start_rps to end_rps over ramp_seconds, then
 * end_rps until limits->duration. The k-th arrival (from 0) is where the
 * integral of the rate reaches k: a ramp 0:10:10 sends 50 requests in its
 * ten seconds. Returns NULL (err filled) when a rate is negative or not
 * finite, ramp_seconds is not positive, or nothing would ever be sent. */
schedule_t *schedule_ramp(double start_rps, double end_rps, double ramp_seconds,
                          const schedule_limits_t *limits, char *err, size_t errlen);

/* Poisson arrivals at rate_rps until limits->duration (which must be > 0). */
schedule_t *schedule_poisson(double rate_rps, uint64_t seed, const schedule_limits_t *limits,
                             char *err, size_t errlen);

/* The arrivals of a trace that is already read and scaled (sim/trace.h),
 * within limits. Each arrival's model is the trace's model index when it
 * has a model column (the names are copied into the schedule), else
 * SCHEDULE_ANY_MODEL. Never NULL. */
schedule_t *schedule_from_trace(const sim_trace_t *t, const schedule_limits_t *limits);

/* Reads the trace at path with sim_trace_read_csv_with (opts->seed spreads
 * per-minute counts; opts->model_column names the model column), scales it
 * with sim_trace_scale (opts->seed again), then takes its arrivals within
 * limits. Returns NULL with err filled: the reader's message for a bad
 * file (naming the file and the line), or a scale out of range, or no
 * request left after rate_scale. */
schedule_t *schedule_load_trace(const char *path, const trace_options_t *opts,
                                const schedule_limits_t *limits, char *err, size_t errlen);

void schedule_free(schedule_t *s);

size_t schedule_count(const schedule_t *s);
arrival_t schedule_arrival(const schedule_t *s, size_t i);
/* Time of the last arrival (0 when empty). */
double schedule_span(const schedule_t *s);

/* Model names the trace named, indexed by arrival_t.model. */
size_t schedule_model_count(const schedule_t *s);
const char *schedule_model_name(const schedule_t *s, size_t i);

#endif
