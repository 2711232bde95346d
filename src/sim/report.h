/* report.h - the simulator's results as a table for people and as JSON for
 * scripts, one row or object per policy, in the order they ran. */
#ifndef INFERD_SIM_REPORT_H
#define INFERD_SIM_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "sim/sim.h"

/* A JSON array with one object per result: policy, requests, answered,
 * cold_starts, cold_start_share, mean_ms, p50_ms, p95_ms, p99_ms, max_ms,
 * slo_ms, slo_misses, slo_miss_share, replica_seconds, peak_replicas,
 * scale_events, scale_ups, scale_downs, simulated_seconds. New reference,
 * or NULL on allocation failure. */
json_t *sim_report_json(const sim_result_t *results, size_t n, double slo_seconds);

/* The same figures as an aligned text table (shares in %). */
void sim_report_table(FILE *out, const sim_result_t *results, size_t n);

#endif
