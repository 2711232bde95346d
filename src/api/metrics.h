/* metrics.h - what GET /metrics needs beyond what the pools and the
 * autoscaler already keep: the server's start time and the scaling events
 * recorded since start, counted by type and trigger.
 *
 * The counts come from the store's event observer (store/store.h): each
 * event is counted once, when it is recorded. The table holds
 * API_METRICS_EVENT_PAIRS distinct (type, trigger) pairs, the last slot
 * kept for ("other", "other"); once the others are taken, an event of a new
 * pair is counted under (type, "other") when that pair is already in the
 * table, else under ("other", "other"). A type or trigger longer than
 * API_METRICS_NAME_MAX bytes counts as "other"; a missing trigger as "none".
 * Today's event types and triggers make a few dozen pairs at most.
 */
#ifndef INFERD_API_METRICS_H
#define INFERD_API_METRICS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define API_METRICS_EVENT_PAIRS 64
#define API_METRICS_NAME_MAX    47

typedef struct api_metrics api_metrics_t;

/* Notes the start time and, when store is not NULL, registers as its event
 * observer (a store that has no room left for one is logged and the counts
 * stay at zero). The caller frees with api_metrics_free, after the store is
 * closed or no longer writes. */
api_metrics_t *api_metrics_new(store_t *store);
void api_metrics_free(api_metrics_t *m);

/* The store observer: counts an event on STORE_EVENT_RECORDED. */
void api_metrics_observe_event(const json_t *event, store_event_phase_t phase, void *ctx);

/* Counts one event of that type and trigger (NULL trigger: "none"). */
void api_metrics_count_event(api_metrics_t *m, const char *type, const char *trigger);

/* The i-th pair counted so far (0 <= i < api_metrics_event_pairs); its
 * strings live as long as m. */
size_t api_metrics_event_pairs(const api_metrics_t *m);
void api_metrics_event_pair(const api_metrics_t *m, size_t i, const char **type,
                            const char **trigger, uint64_t *count);

/* Unix time (seconds) at which m was created, i.e. server start. */
double api_metrics_start_time(const api_metrics_t *m);

#endif
