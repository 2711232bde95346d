/* prometheus.h - writing the Prometheus text exposition format (0.0.4).
 *
 * A family is a "# HELP" and a "# TYPE" line followed by its samples, one
 * per line: `name{label="value",...} value`. The writer escapes what the
 * format requires (backslash and newline in help text; backslash, double
 * quote and newline in label values) and prints values so that they read
 * back exactly (shortest of %.15g..%.17g that round-trips, "+Inf", "-Inf",
 * "NaN"). A histogram is written from per-bucket counts as the cumulative
 * `_bucket{le=...}` series, ending with le="+Inf", then `_sum` and `_count`.
 *
 * Pure: it only appends to a caller-owned buf_t. Metric and label names are
 * the caller's constants and are written as given (they must match
 * [a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*); label values must be
 * UTF-8.
 */
#ifndef INFERD_PROMETHEUS_H
#define INFERD_PROMETHEUS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Room for any value prometheus_format_value writes, with its NUL. */
#define PROMETHEUS_VALUE_LEN 32

typedef struct prometheus_label {
    const char *name;
    const char *value;
} prometheus_label_t;

/* v as the format spells it: "+Inf", "-Inf", "NaN", or the shortest decimal
 * that parses back to v ("0.005", "3", "1e+300"). */
void prometheus_format_value(double v, char out[PROMETHEUS_VALUE_LEN]);

/* Appends value with \ " and newline escaped (label value rules). */
void prometheus_escape_label_value(buf_t *out, const char *value);

/* The family's "# HELP name help" and "# TYPE name type" lines; type is
 * "counter", "gauge", "histogram", "summary" or "untyped". */
void prometheus_write_family(buf_t *out, const char *name, const char *type, const char *help);

/* One sample line; labels may be NULL when n_labels is 0. */
void prometheus_write_sample(buf_t *out, const char *name, const prometheus_label_t *labels,
                             size_t n_labels, double value);

/* The samples of one histogram: counts[i] is the number of observations in
 * bucket i, that is in (bounds[i-1], bounds[i]] (bounds ascending, finite),
 * and counts[n_bounds] those above the last bound, so counts has n_bounds + 1
 * entries. sum is the sum of the observations. Writes name_bucket (le added
 * after the given labels), name_sum and name_count. */
void prometheus_write_histogram(buf_t *out, const char *name, const prometheus_label_t *labels,
                                size_t n_labels, const double *bounds, size_t n_bounds,
                                const uint64_t *counts, double sum);

#endif
