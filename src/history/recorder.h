/* recorder.h - writes each model's traffic to the store once a minute, and
 * prunes what is older than the retention.
 *
 * Just after each wall-clock minute ends, the recorder reads every model's
 * measurement window (metrics/window.h) over the time since its previous
 * write and stores one row per model (store_add_traffic): requests, errors,
 * drops, p95, and the replica, busy-replica and needed-replica integrals.
 * A row is stamped with the minute holding the middle of the span it
 * covers, so a partial first minute (after a start) and a partial last
 * one (at a stop) land where they happened and add to any row a previous
 * run left for that minute.
 *
 * Pruning runs at start and every hour on the libuv threadpool with its own
 * store connection, deleting in small batches (store_prune), so the loop
 * never waits on it for more than one batch.
 */
#ifndef INFERD_RECORDER_H
#define INFERD_RECORDER_H

#include <uv.h>

#include "autoscaler/autoscaler.h"
#include "dispatch/dispatch.h"
#include "store/store.h"

typedef struct traffic_recorder traffic_recorder_t;

/* dispatch, autoscaler (for each model's target concurrency) and store must
 * outlive the recorder; data_dir is copied (the pruner opens its own
 * connection there). */
traffic_recorder_t *recorder_new(uv_loop_t *loop, dispatch_t *dispatch, autoscaler_t *autoscaler,
                                 store_t *store, const char *data_dir, unsigned retention_days);

/* Starts the minute timer and a first pruning. */
void recorder_start(traffic_recorder_t *r);

/* Writes the partial minute since the last write and stops the timer. */
void recorder_stop(traffic_recorder_t *r);

/* Closes the timer and frees the recorder once a pruning under way (if
 * any) has finished; done(arg) is called then (may be NULL). */
void recorder_close(traffic_recorder_t *r, void (*done)(void *arg), void *arg);

#endif
