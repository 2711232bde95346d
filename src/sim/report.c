/* report.c - the simulator's results as JSON (through jansson, never by
 * hand) and as a text table (see report.h). Shares are fractions in JSON
 * and percentages in the table, as people read them. */
#include "sim/report.h"

#include <math.h>

static double share(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

/* Milliseconds to the microsecond: a latency of arrival + service -
 * arrival carries float noise far below anything measured. */
static double ms(double seconds)
{
    return round(seconds * 1e6) / 1e3;
}

json_t *sim_report_json(const sim_result_t *results, size_t n, double slo_seconds)
{
    json_t *array = json_array();
    if (!array)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const sim_result_t *r = &results[i];
        json_t *o = json_pack(
            "{s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:f, s:f, s:i, s:I, "
            "s:I, s:I, s:f}",
            "policy", r->policy, "requests", (json_int_t)r->requests, "answered",
            (json_int_t)r->answered, "cold_starts", (json_int_t)r->cold_starts, "cold_start_share",
            share(r->cold_starts, r->requests), "mean_ms", ms(r->mean_seconds), "p50_ms",
            ms(r->p50_seconds), "p95_ms", ms(r->p95_seconds), "p99_ms", ms(r->p99_seconds),
            "max_ms", ms(r->max_seconds), "slo_ms", slo_seconds * 1000.0, "slo_misses",
            (json_int_t)r->slo_misses, "slo_miss_share", share(r->slo_misses, r->requests),
            "replica_seconds", r->replica_seconds, "peak_replicas", r->peak_replicas,
            "scale_events", (json_int_t)r->scale_events, "scale_ups", (json_int_t)r->scale_ups,
            "scale_downs", (json_int_t)r->scale_downs, "simulated_seconds", r->end_seconds);
        if (!o || json_array_append_new(array, o) < 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

void sim_report_table(FILE *out, const sim_result_t *results, size_t n)
{
    fprintf(out, "%-17s %9s %7s %9s %9s %9s %9s %9s %11s %5s %7s\n", "policy", "requests", "cold%",
            "mean_ms", "p50_ms", "p95_ms", "p99_ms", "slo_miss%", "replica_s", "peak", "events");
    for (size_t i = 0; i < n; i++) {
        const sim_result_t *r = &results[i];
        fprintf(out, "%-17s %9llu %7.2f %9.1f %9.1f %9.1f %9.1f %9.2f %11.0f %5d %7llu\n",
                r->policy, (unsigned long long)r->requests,
                100.0 * share(r->cold_starts, r->requests), ms(r->mean_seconds), ms(r->p50_seconds),
                ms(r->p95_seconds), ms(r->p99_seconds), 100.0 * share(r->slo_misses, r->requests),
                r->replica_seconds, r->peak_replicas, (unsigned long long)r->scale_events);
    }
}
