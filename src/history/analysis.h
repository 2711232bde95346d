/* analysis.h - the summary, patterns and recommendations of
 * GET /autoscaler/history, computed from stored data by fixed rules.
 *
 * Pure: the caller reads the traffic table and the events of the period
 * from the store and passes them in with the live configuration; nothing
 * here reads a clock or does I/O, so the rules are tested on traffic made
 * for them. Every rule is documented in docs/api.md; a rule that lacks the
 * data it needs stays silent, so an idle server recommends nothing.
 */
#ifndef INFERD_ANALYSIS_H
#define INFERD_ANALYSIS_H

#include <jansson.h>
#include <stddef.h>

#include "config/config.h"
#include "store/store.h"

/* What a model's configuration allows, for rules that suggest changes. */
typedef struct history_model_limits {
    const char *name;
    int floor_replicas; /* min_replicas, at least 1 when pinned */
    int max_replicas;
    int max_queue_length;
} history_model_limits_t;

typedef struct history_input {
    double since_unix; /* the period: [since, until) */
    double until_unix;
    const store_traffic_hour_t *hours; /* every model summed, per clock hour, oldest first */
    size_t n_hours;
    const store_traffic_model_t *models; /* per model totals over the period */
    size_t n_models;
    const json_t *events; /* every event of the period, newest first (store_list_events) */
    const autoscaler_config_t *config;
    const history_model_limits_t *limits;
    size_t n_limits;
} history_input_t;

/* Rule constants, shared with the docs and the tests. */
#define HISTORY_PEAK_RATIO          1.5  /* peak hour: mean rate above 1.5 x the period's */
#define HISTORY_LOW_RATIO           0.25 /* low-traffic hour: below 0.25 x */
#define HISTORY_MIN_DECISIONS       3    /* reversals: at least this many automatic scale-ups */
#define HISTORY_REVERSAL_SHARE      30.0 /* ... and this share (%) reversed */
#define HISTORY_MIN_DAYS            2    /* repeating peak: seen on at least 2 days */
#define HISTORY_REPEAT_SHARE        50.0 /* ... and on at least half the days observed */
#define HISTORY_MIN_REQUESTS        100  /* per-model rules need this many requests */
#define HISTORY_COLD_START_SHARE    5.0  /* cold starts per 100 requests above this */
#define HISTORY_COLD_START_MIN      20   /* ... with at least this many requests */
#define HISTORY_SLOW_LOAD_SECONDS   10.0 /* mean completed growth slower than this */
#define HISTORY_SLOW_LOAD_MIN       3    /* ... over at least this many */
#define HISTORY_LOW_EFFICIENCY      25.0 /* needed / provisioned replica-seconds below (%) */
#define HISTORY_MIN_REPLICA_SECONDS 3600 /* ... over at least one replica-hour */
#define HISTORY_DROP_SHARE          1.0  /* drops per 100 requests above this */

/* {total_events, scale_up_events, scale_down_events, zero_scale_events,
 *  cold_start_events, failed_events, average_scale_duration_seconds,
 *  efficiency_score}. New reference. */
json_t *history_summary(const history_input_t *in);

/* {peak_hours, low_traffic_hours, average_requests_per_hour,
 *  observed_hours, scaling_events_per_hour, scaling_frequency,
 *  most_common_trigger}. Hours of day are UTC. New reference. */
json_t *history_patterns(const history_input_t *in);

/* Runs every rule. *messages is an array of sentences (the spec's
 * recommendations); *details an array of the same length of objects
 * {rule, model, message, figure: {name, value, threshold}}. New references. */
void history_recommendations(const history_input_t *in, json_t **messages, json_t **details);

#endif
