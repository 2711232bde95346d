/* results.c - per-second figures and the load test's reports (see
 * results.h).
 *
 * Percentiles are exact rather than from a log-bucket histogram: a load
 * test keeps every latency anyway (requests.csv lists them), and a reader
 * comparing the figure with the CSV should find the same numbers.
 */
#include "loadtest/results.h"
#include "loadtest/svg.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void results_sample_clear(results_sample_t *s)
{
    s->have = false;
    s->cpu_percent = s->memory_percent = NAN;
    for (size_t i = 0; i < RESULTS_MAX_MODELS; i++)
        s->ready[i] = s->starting[i] = -1;
}

bool results_row_is_error(const results_row_t *r)
{
    return r->status < 200 || r->status > 299;
}

bool results_row_is_answered(const results_row_t *r)
{
    return r->status > 0;
}

/* ---- is it a measurement ---- */

#define VERDICT_KINDS 4  /* error kinds named in the verdict, most frequent first */
#define MAX_KINDS     16 /* more than the client's error names */

typedef struct error_kind {
    const char *name;
    size_t count;
} error_kind_t;

/* "closed: 30, timeout: 2": the most frequent reasons for no answer. */
static void describe_unanswered(const results_row_t *rows, size_t n, buf_t *out)
{
    error_kind_t kinds[MAX_KINDS];
    size_t n_kinds = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        if (results_row_is_answered(&rows[i]))
            continue;
        const char *name = rows[i].error && rows[i].error[0] ? rows[i].error : "no_answer";
        size_t k = 0;
        while (k < n_kinds && strcmp(kinds[k].name, name) != 0)
            k++;
        if (k == MAX_KINDS) {
            other++;
            continue;
        }
        if (k == n_kinds)
            kinds[n_kinds++] = (error_kind_t){name, 0};
        kinds[k].count++;
    }
    for (size_t j = 1; j < n_kinds; j++) /* by count, most first; few kinds */
        for (size_t k = j; k > 0 && kinds[k].count > kinds[k - 1].count; k--) {
            error_kind_t swap = kinds[k];
            kinds[k] = kinds[k - 1];
            kinds[k - 1] = swap;
        }
    for (size_t k = 0; k < n_kinds; k++) {
        if (k < VERDICT_KINDS)
            buf_appendf(out, "%s%s: %zu", k ? ", " : "", kinds[k].name, kinds[k].count);
        else
            other += kinds[k].count;
    }
    if (other)
        buf_appendf(out, ", other: %zu", other);
    buf_append(out, "", 1);
}

bool results_run_is_valid(const results_row_t *rows, size_t n, double max_share, char *why,
                          size_t whylen)
{
    size_t unanswered = 0;
    for (size_t i = 0; i < n; i++)
        unanswered += !results_row_is_answered(&rows[i]);
    double share = n ? (double)unanswered / (double)n : 1.0;
    if (n > 0 && unanswered < n && share <= max_share)
        return true;
    buf_t kinds = BUF_INIT;
    describe_unanswered(rows, n, &kinds);
    if (n == 0)
        snprintf(why, whylen, "no request was sent");
    else if (unanswered == n)
        snprintf(why, whylen, "none of the %zu requests got an HTTP answer (%s)", n, kinds.data);
    else
        snprintf(why, whylen,
                 "%zu of %zu requests (%.1f %%) got no HTTP answer (%s), more than "
                 "--max-error-share %g allows",
                 unanswered, n, 100.0 * share, kinds.data, max_share);
    buf_free(&kinds);
    return false;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double results_percentile(double *values, size_t n, double q)
{
    if (n == 0 || !(q > 0))
        return q == 0 && n ? values[0] : NAN;
    qsort(values, n, sizeof(double), cmp_double);
    double rank = ceil(q * (double)n);
    size_t i = rank < 1 ? 0 : rank > (double)n ? n - 1 : (size_t)rank - 1;
    return values[i];
}

/* The whole second a time falls in, or SIZE_MAX outside [0, n). */
static size_t second_of(double t, size_t n)
{
    if (!isfinite(t) || t < 0)
        return SIZE_MAX;
    double s = floor(t);
    return s < (double)n ? (size_t)s : SIZE_MAX;
}

/* Percentiles are over served requests: a 503 from a full queue answers
 * in a millisecond, and counting it would make an overloaded server look
 * fast. The error rate shows those answers. */
static bool has_latency(const results_row_t *r)
{
    return !results_row_is_error(r) && isfinite(r->latency_ms) && isfinite(r->finished_at);
}

void results_per_second(const results_row_t *rows, size_t n, results_second_t *out,
                        size_t n_seconds)
{
    if (n_seconds == 0)
        return;
    /* Latencies grouped by second with a counting pass, then each group
     * sorted once: linear memory, n log n time. */
    size_t *start = xcalloc(n_seconds + 1, sizeof(size_t));
    for (size_t s = 0; s < n_seconds; s++)
        out[s] = (results_second_t){.p50_ms = NAN, .p95_ms = NAN, .p99_ms = NAN};
    for (size_t i = 0; i < n; i++) {
        const results_row_t *r = &rows[i];
        size_t sent = second_of(r->sent_at, n_seconds);
        size_t done = second_of(r->finished_at, n_seconds);
        if (sent != SIZE_MAX)
            out[sent].sent++;
        if (done == SIZE_MAX)
            continue;
        out[done].completed++;
        out[done].errors += results_row_is_error(r);
        if (has_latency(r))
            start[done + 1]++;
    }
    for (size_t s = 0; s < n_seconds; s++)
        start[s + 1] += start[s];
    double *lat = xmalloc((start[n_seconds] ? start[n_seconds] : 1) * sizeof(double));
    size_t *fill = xmalloc(n_seconds * sizeof(size_t));
    memcpy(fill, start, n_seconds * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        size_t done = second_of(rows[i].finished_at, n_seconds);
        if (done != SIZE_MAX && has_latency(&rows[i]))
            lat[fill[done]++] = rows[i].latency_ms;
    }
    for (size_t s = 0; s < n_seconds; s++) {
        size_t k = start[s + 1] - start[s];
        out[s].p50_ms = results_percentile(lat + start[s], k, 0.50);
        out[s].p95_ms = results_percentile(lat + start[s], k, 0.95);
        out[s].p99_ms = results_percentile(lat + start[s], k, 0.99);
    }
    free(fill);
    free(lat);
    free(start);
}

void results_overall(const results_row_t *rows, size_t n, double *p50, double *p95, double *p99)
{
    double *lat = xmalloc((n ? n : 1) * sizeof(double));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (has_latency(&rows[i]))
            lat[k++] = rows[i].latency_ms;
    *p50 = results_percentile(lat, k, 0.50);
    *p95 = results_percentile(lat, k, 0.95);
    *p99 = results_percentile(lat, k, 0.99);
    free(lat);
}

/* ---- CSV ---- */

static void csv_text(buf_t *out, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        buf_append_str(out, s);
        return;
    }
    buf_append_str(out, "\"");
    for (; *s; s++)
        buf_append(out, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
    buf_append_str(out, "\"");
}

static void csv_number(buf_t *out, double v, int decimals)
{
    if (isfinite(v))
        buf_appendf(out, "%.*f", decimals, v);
}

static void csv_count(buf_t *out, int v)
{
    if (v >= 0)
        buf_appendf(out, "%d", v);
}

void results_write_requests_csv(buf_t *out, const results_row_t *rows, size_t n,
                                const char *const *models, size_t n_models)
{
    buf_append_str(out, "scheduled_at,sent_at,finished_at,latency_ms,status,error,model,bytes\n");
    for (size_t i = 0; i < n; i++) {
        const results_row_t *r = &rows[i];
        csv_number(out, r->scheduled_at, 6);
        buf_append_str(out, ",");
        csv_number(out, r->sent_at, 6);
        buf_append_str(out, ",");
        csv_number(out, r->finished_at, 6);
        buf_append_str(out, ",");
        csv_number(out, r->latency_ms, 3);
        buf_appendf(out, ",%d,", r->status);
        csv_text(out, r->error);
        buf_append_str(out, ",");
        if (r->model >= 0 && (size_t)r->model < n_models)
            csv_text(out, models[r->model]);
        buf_appendf(out, ",%zu\n", r->bytes);
    }
}

void results_write_samples_csv(buf_t *out, const results_second_t *seconds,
                               const results_sample_t *samples, size_t n_seconds,
                               const char *const *replica_models, size_t n_replica_models)
{
    if (n_replica_models > RESULTS_MAX_MODELS)
        n_replica_models = RESULTS_MAX_MODELS;
    buf_append_str(out, "t,sent,completed,errors,p50_ms,p95_ms,p99_ms");
    for (size_t m = 0; m < n_replica_models; m++) {
        buf_append_str(out, ",");
        buf_t name = BUF_INIT;
        buf_appendf(&name, "ready_%s", replica_models[m]);
        csv_text(out, name.data);
        buf_reset(&name);
        buf_appendf(&name, "starting_%s", replica_models[m]);
        buf_append_str(out, ",");
        csv_text(out, name.data);
        buf_free(&name);
    }
    buf_append_str(out, ",cpu_percent,memory_percent\n");
    for (size_t s = 0; s < n_seconds; s++) {
        const results_second_t *r = &seconds[s];
        const results_sample_t *p = &samples[s];
        buf_appendf(out, "%zu,%u,%u,%u,", s, r->sent, r->completed, r->errors);
        csv_number(out, r->p50_ms, 3);
        buf_append_str(out, ",");
        csv_number(out, r->p95_ms, 3);
        buf_append_str(out, ",");
        csv_number(out, r->p99_ms, 3);
        for (size_t m = 0; m < n_replica_models; m++) {
            buf_append_str(out, ",");
            csv_count(out, p->have ? p->ready[m] : -1);
            buf_append_str(out, ",");
            csv_count(out, p->have ? p->starting[m] : -1);
        }
        buf_append_str(out, ",");
        csv_number(out, p->have ? p->cpu_percent : NAN, 2);
        buf_append_str(out, ",");
        csv_number(out, p->have ? p->memory_percent : NAN, 2);
        buf_append_str(out, "\n");
    }
}

/* ---- the figure ---- */

void results_write_svg(buf_t *out, const char *title, const results_second_t *seconds,
                       const results_sample_t *samples, size_t n_seconds,
                       const char *const *replica_models, size_t n_replica_models)
{
    if (n_replica_models > RESULTS_MAX_MODELS)
        n_replica_models = RESULTS_MAX_MODELS;
    size_t n = n_seconds ? n_seconds : 1; /* every array has at least one slot */
    double *x = xmalloc(n * sizeof(double));
    double *lat = xmalloc(3 * n * sizeof(double));
    double *err = xmalloc(n * sizeof(double));
    double *res = xmalloc(2 * n * sizeof(double));
    double *rep = xmalloc((size_t)2 * RESULTS_MAX_MODELS * n * sizeof(double));
    svg_series_t rep_series[2 * RESULTS_MAX_MODELS];
    buf_t labels = BUF_INIT;
    size_t label_at[2 * RESULTS_MAX_MODELS];

    for (size_t s = 0; s < n_seconds; s++) {
        const results_second_t *r = &seconds[s];
        const results_sample_t *p = &samples[s];
        x[s] = (double)s;
        lat[s] = r->p50_ms;
        lat[n + s] = r->p95_ms;
        lat[2 * n + s] = r->p99_ms;
        err[s] = r->completed ? 100.0 * r->errors / r->completed : NAN;
        res[s] = p->have ? p->cpu_percent : NAN;
        res[n + s] = p->have ? p->memory_percent : NAN;
        for (size_t m = 0; m < n_replica_models; m++) {
            rep[(2 * m) * n + s] = p->have && p->ready[m] >= 0 ? p->ready[m] : NAN;
            rep[(2 * m + 1) * n + s] = p->have && p->starting[m] >= 0 ? p->starting[m] : NAN;
        }
    }
    /* Labels live in one buffer that may move while it grows, so series
     * point into it only once it is complete. */
    for (size_t m = 0; m < n_replica_models; m++) {
        label_at[2 * m] = labels.len;
        buf_appendf(&labels, "%s ready", replica_models[m]);
        buf_append(&labels, "", 1);
        label_at[2 * m + 1] = labels.len;
        buf_appendf(&labels, "%s starting", replica_models[m]);
        buf_append(&labels, "", 1);
    }
    for (size_t k = 0; k < 2 * n_replica_models; k++)
        rep_series[k] = (svg_series_t){.label = labels.data + label_at[k],
                                       .y = rep + k * n,
                                       .dashed = k % 2 == 1,
                                       .color = (int)(k / 2)};

    const svg_series_t lat_series[] = {
        {"p50", lat, false, 0}, {"p95", lat + n, false, 3}, {"p99", lat + 2 * n, false, 1}};
    const svg_series_t err_series[] = {{"errors", err, false, 1}};
    const svg_series_t res_series[] = {{"CPU", res, false, 0}, {"memory", res + n, false, 2}};
    const svg_panel_t panels[] = {
        {"Latency per second (2xx answers finished in that second)", "ms", lat_series, 3, NAN},
        {"Error rate per second", "% of finished", err_series, 1, NAN},
        {"Replicas per model (dashed: starting)", "replicas", rep_series, 2 * n_replica_models,
         NAN},
        {"System CPU and memory", "%", res_series, 2, 100.0},
    };
    svg_write_figure(out, title, "seconds since start", x, n_seconds, panels, 4);

    buf_free(&labels);
    free(rep);
    free(res);
    free(err);
    free(lat);
    free(x);
}
