/* prometheus.c - the text exposition format, written into a buffer.
 *
 * Values are printed with the fewest digits that read back to the same
 * double, so a counter prints as an integer ("42", exact below 2^53) and a
 * bucket bound as people write it ("0.005", not "0.0050000000000000001").
 * Histogram buckets arrive as per-bucket counts and leave cumulative, so the
 * one place that sums them is here and the series is monotonic by
 * construction.
 */
#include "metrics/prometheus.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prometheus_format_value(double v, char out[PROMETHEUS_VALUE_LEN])
{
    if (isnan(v)) {
        snprintf(out, PROMETHEUS_VALUE_LEN, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, PROMETHEUS_VALUE_LEN, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(out, PROMETHEUS_VALUE_LEN, "%.*g", precision, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Escapes backslash and newline, and the double quote too when quoted. */
static void append_escaped(buf_t *out, const char *s, int quoted)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = NULL;
        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (*s == '"' && quoted)
            esc = "\\\"";
        if (!esc)
            continue;
        buf_append(out, run, (size_t)(s - run));
        buf_append_str(out, esc);
        run = s + 1;
    }
    buf_append(out, run, (size_t)(s - run));
}

void prometheus_escape_label_value(buf_t *out, const char *value)
{
    append_escaped(out, value, 1);
}

void prometheus_write_family(buf_t *out, const char *name, const char *type, const char *help)
{
    buf_appendf(out, "# HELP %s ", name);
    append_escaped(out, help, 0);
    buf_appendf(out, "\n# TYPE %s %s\n", name, type);
}

/* name+suffix{labels[,le="le"]} value */
static void write_line(buf_t *out, const char *name, const char *suffix,
                       const prometheus_label_t *labels, size_t n_labels, const char *le,
                       const char *value)
{
    buf_append_str(out, name);
    buf_append_str(out, suffix);
    if (n_labels > 0 || le) {
        buf_append_str(out, "{");
        for (size_t i = 0; i < n_labels; i++) {
            buf_appendf(out, "%s%s=\"", i ? "," : "", labels[i].name);
            prometheus_escape_label_value(out, labels[i].value);
            buf_append_str(out, "\"");
        }
        if (le)
            buf_appendf(out, "%sle=\"%s\"", n_labels ? "," : "", le);
        buf_append_str(out, "}");
    }
    buf_appendf(out, " %s\n", value);
}

void prometheus_write_sample(buf_t *out, const char *name, const prometheus_label_t *labels,
                             size_t n_labels, double value)
{
    char text[PROMETHEUS_VALUE_LEN];
    prometheus_format_value(value, text);
    write_line(out, name, "", labels, n_labels, NULL, text);
}

void prometheus_write_histogram(buf_t *out, const char *name, const prometheus_label_t *labels,
                                size_t n_labels, const double *bounds, size_t n_bounds,
                                const uint64_t *counts, double sum)
{
    char le[PROMETHEUS_VALUE_LEN], text[PROMETHEUS_VALUE_LEN];
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= n_bounds; i++) {
        cumulative += counts[i];
        if (i < n_bounds)
            prometheus_format_value(bounds[i], le);
        else
            prometheus_format_value(INFINITY, le);
        snprintf(text, sizeof(text), "%" PRIu64, cumulative);
        write_line(out, name, "_bucket", labels, n_labels, le, text);
    }
    prometheus_format_value(sum, text);
    write_line(out, name, "_sum", labels, n_labels, NULL, text);
    snprintf(text, sizeof(text), "%" PRIu64, cumulative);
    write_line(out, name, "_count", labels, n_labels, NULL, text);
}
