/* results.h - what a load test measured, per request and per second, and
 * its three reports: requests.csv, samples.csv and the four-panel SVG.
 *
 * A run fills one results_row_t per scheduled request and one
 * results_sample_t per second (from GET /autoscaler/stats). This module
 * turns those into per-second figures and writes the reports into
 * buffers; the caller writes the files. Pure: no clock, no I/O.
 *
 * Per-second figures count a request in the second it was sent (`sent`)
 * and in the second it finished (`completed`, `errors`, latencies).
 * An error is any answer outside 200-299 and any request without an
 * answer (connection error, timeout, client-side overflow). Latency
 * percentiles are over requests answered 2xx (an error's latency is in
 * requests.csv, not in the percentiles), exact (nearest rank over the
 * sorted values), NaN for a second without any.
 */
#ifndef INFERD_LOADTEST_RESULTS_H
#define INFERD_LOADTEST_RESULTS_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define RESULTS_MAX_MODELS 16 /* models followed in the replica columns */

typedef struct results_row {
    double scheduled_at; /* seconds from the start of the run */
    double sent_at;      /* when it was handed to a connection (or refused as overflow) */
    double finished_at;  /* answer, error or timeout; NaN while in flight */
    double latency_ms;   /* sent to answer; NaN without an HTTP answer */
    int status;          /* HTTP status, 0 for none */
    const char *error;   /* NULL, or a static short name ("timeout", "overflow", ...) */
    int model;           /* index into the run's model names */
    size_t bytes;        /* response body bytes */
} results_row_t;

typedef struct results_second {
    unsigned sent, completed, errors;
    double p50_ms, p95_ms, p99_ms;
} results_second_t;

/* One GET /autoscaler/stats. A value the server did not report (or a
 * second without a sample) is NaN for percentages and -1 for counts. */
typedef struct results_sample {
    bool have;
    double cpu_percent, memory_percent;
    int ready[RESULTS_MAX_MODELS];
    int starting[RESULTS_MAX_MODELS];
} results_sample_t;

/* A sample with nothing in it (have = false, every figure unknown). */
void results_sample_clear(results_sample_t *s);

bool results_row_is_error(const results_row_t *r);

/* The request got an HTTP answer, whatever its status. */
bool results_row_is_answered(const results_row_t *r);

/* Whether the run measured the server: at least one request got an HTTP
 * answer, and at most max_share of the n requests got none (connection
 * refused or reset, closed, timeout, overflow, cancelled). HTTP error
 * statuses are answers: a 503 is what an overloaded server is measured
 * to do. Returns true, or false with one line in why: "none of the 40
 * requests got an HTTP answer (closed: 40)", or "12 of 40 requests
 * (30.0 %) got no HTTP answer (connection_refused: 12), more than
 * --max-error-share 0.05 allows". */
bool results_run_is_valid(const results_row_t *rows, size_t n, double max_share, char *why,
                          size_t whylen);

/* The q-quantile (0 < q <= 1) of values by nearest rank: the
 * ceil(q*n)-th smallest. Sorts values in place. NaN when n is 0. */
double results_percentile(double *values, size_t n, double q);

/* Fills out[0 .. n_seconds) from rows (rows outside are ignored). */
void results_per_second(const results_row_t *rows, size_t n, results_second_t *out,
                        size_t n_seconds);

/* Latency percentiles of the run's 2xx answers (NaN without any). */
void results_overall(const results_row_t *rows, size_t n, double *p50, double *p95, double *p99);

/* requests.csv: a header, then one line per row. `models` names the
 * rows' model indexes. */
void results_write_requests_csv(buf_t *out, const results_row_t *rows, size_t n,
                                const char *const *models, size_t n_models);

/* samples.csv: a header (t, sent, completed, errors, p50_ms, p95_ms,
 * p99_ms, then ready_MODEL and starting_MODEL for each of the replica
 * models, then cpu_percent and memory_percent), then one line per second.
 * Unknown values are empty cells. */
void results_write_samples_csv(buf_t *out, const results_second_t *seconds,
                               const results_sample_t *samples, size_t n_seconds,
                               const char *const *replica_models, size_t n_replica_models);

/* The figure: latency percentiles, error rate, replicas per model (ready
 * solid, starting dashed), CPU and memory percent, over the same seconds. */
void results_write_svg(buf_t *out, const char *title, const results_second_t *seconds,
                       const results_sample_t *samples, size_t n_seconds,
                       const char *const *replica_models, size_t n_replica_models);

#endif
