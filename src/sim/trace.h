/* trace.h - arrival traces for the simulator: read from CSV, generated
 * from a named shape, scaled, and given service times.
 *
 * A trace is plain data: arrival times in virtual seconds from its start
 * (ascending), optional token columns, and the wall-clock time of virtual 0.
 * Everything random comes from a seeded generator of our own, so a trace
 * and its service times are the same on every machine for the same seed.
 *
 * CSV formats (a header line is required; fields are separated by commas;
 * blank lines are skipped; CRLF line ends are accepted):
 *
 *   One request per row. The first column is its time: a date and time in
 *   UTC, "YYYY-MM-DD HH:MM:SS[.fraction]" (a 'T' instead of the space and a
 *   trailing 'Z' are accepted), or a number of seconds - values from 10^9 on
 *   are unix time, smaller ones count from SIM_TRACE_EPOCH. Rows must be in
 *   time order (equal times are fine). Optional columns named ContextTokens
 *   and GeneratedTokens (or context_tokens, generated_tokens; any case) give
 *   the token counts --service-from-tokens reads. This is the format of
 *   the Azure LLM inference trace (TIMESTAMP,ContextTokens,GeneratedTokens).
 *
 *   Requests per minute: exactly two columns, the second named "count". The
 *   first is "minute", an integer minute index from 0 (minutes from
 *   SIM_TRACE_EPOCH), or any other name holding the minute's start time in
 *   one of the forms above. Minutes must be at least 60 s apart and in
 *   order; missing minutes have no requests. A minute's `count` arrivals are
 *   spread uniformly at random within it (seeded), then sorted.
 *
 * The simulator and inferd loadtest both read traces here, so a file means
 * the same requests to both (and the same times, for the same seed).
 */
#ifndef INFERD_SIM_TRACE_H
#define INFERD_SIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* 2026-01-05T00:00:00Z: the wall-clock start of generated traces and of
 * traces whose times are relative; a Monday, at midnight UTC. */
#define SIM_TRACE_EPOCH 1767571200.0

typedef struct sim_trace {
    size_t n;
    double *arrival;          /* n virtual seconds from the start, ascending */
    double *context_tokens;   /* n values, or NULL when the trace has none */
    double *generated_tokens; /* n values, or NULL */
    double unix_start;        /* wall-clock time of virtual 0 */
    double span;              /* length of the trace: its last arrival, or the
                                 generated duration */
    int *model;               /* n indexes into model_names, or NULL when the
                                 trace was not read with a model column */
    char **model_names;       /* n_models distinct names, in order of first use */
    size_t n_models;
} sim_trace_t;

/* At most this many distinct names in a model column. */
#define SIM_TRACE_MAX_MODELS 256

/* Reads path into out (which the caller frees with sim_trace_free). seed
 * spreads per-minute counts. Returns 0, or -1 with a sentence in err that
 * names the file and, for a bad row, the line and the column. */
int sim_trace_read_csv(const char *path, uint64_t seed, sim_trace_t *out, char *err, size_t errlen);

typedef struct sim_trace_read_options {
    uint64_t seed;            /* spreads per-minute counts */
    const char *model_column; /* NULL, or the header name of a column naming each
                                 request's model (one-request-per-row traces only;
                                 a value may be in double quotes, and must not be
                                 empty) */
} sim_trace_read_options_t;

/* sim_trace_read_csv with options: with a model column, out->model and
 * out->model_names are filled, and a header without that column, an empty
 * name, or a per-minute trace is an error naming the file and line. */
int sim_trace_read_csv_with(const char *path, const sim_trace_read_options_t *opts,
                            sim_trace_t *out, char *err, size_t errlen);

/* The generated shapes; rate is in requests per second (see each shape's
 * documentation in trace.c and the defaults below; <= 0 takes the default,
 * as does duration <= 0). */
typedef struct sim_shape_info {
    const char *name;
    double default_rate;
    double default_duration;
    const char *description;
} sim_shape_info_t;

extern const sim_shape_info_t sim_trace_shapes[];
extern const size_t sim_trace_shape_count;

int sim_trace_generate(const char *shape, uint64_t seed, double duration, double rate,
                       sim_trace_t *out, char *err, size_t errlen);

/* Plays the trace time_scale times faster (inter-arrival times divided by
 * it: 60 plays an hour in a minute, as inferd loadtest --time-scale does)
 * and multiplies the request rate by rate_scale: below 1 each request is kept with
 * that probability; above 1 each request stands for floor(rate_scale)
 * requests plus one more with probability of the fraction, the extra ones
 * at uniform random times between it and the next request (so the shape is
 * kept without piling copies onto one instant; copies keep the request's
 * tokens and model). Returns 0, or -1 on allocation failure (the trace is
 * then unchanged). */
int sim_trace_scale(sim_trace_t *t, double time_scale, double rate_scale, uint64_t seed);

void sim_trace_free(sim_trace_t *t);

/* How long each request holds a replica slot, in seconds. */
typedef enum {
    SIM_SERVICE_FIXED = 0,
    SIM_SERVICE_EXP,
    SIM_SERVICE_LOGNORMAL,
    SIM_SERVICE_TOKENS,
} sim_service_kind_t;

typedef struct sim_service {
    sim_service_kind_t kind;
    double mean_ms;    /* fixed, exp, lognormal */
    double sigma;      /* lognormal: of the underlying normal */
    double base_ms;    /* tokens: ms = base + context x ContextTokens */
    double context_ms; /*         + generated x GeneratedTokens */
    double generated_ms;
} sim_service_t;

/* Fills out[0..t->n) with service seconds (the same for every policy run
 * on the trace). Returns 0, or -1 with err (tokens asked of a trace
 * without the columns). */
int sim_service_times(const sim_trace_t *t, const sim_service_t *s, uint64_t seed, double *out,
                      char *err, size_t errlen);

#endif
