/* window.h - one model's measurements over the last hour.
 *
 * A ring of one-second buckets (WINDOW_SECONDS of them) holds counters and
 * time integrals; a ring of ten-second latency histograms holds the
 * distributions. Gauges (requests in flight and queued, replicas ready and
 * busy) are piecewise constant between the calls that set them and are
 * integrated exactly over time, so "average concurrency over 60 s" is the
 * true time average, not a sample.
 *
 * Pure: every call takes the time (seconds on a monotonic clock) as an
 * argument; times must not go backwards. Queries for a span of N seconds
 * cover (now - N, now], the partial current second included.
 *
 * Rules the figures follow:
 * - A time earlier than the latest one passed to any call (or NaN) is read
 *   as that latest time, so a late caller cannot corrupt the rings.
 * - Counters are per whole second: a span counts the seconds whose start
 *   lies in (now - N, now], which for a whole N is the current partial
 *   second and the N - 1 before it. An event in the second that the span's
 *   start cuts is not counted.
 * - Integrals cover (now - N, now] exactly up to `now`, with no sampling.
 *   In the one second that the span's start cuts, the part after the cut is
 *   exact if the gauge was set at most once during that second, or not
 *   before the cut; otherwise it is pro-rated over that second (an error of
 *   at most one second of the gauge's value).
 * - Latencies are counted (in latency_sum_ms and the histograms) for every
 *   outcome but OUTCOME_DROPPED, which is refused at once; a timeout's wait
 *   is what its client saw. A negative or NaN latency_ms is not counted.
 * - Histograms are per ten-second slot: a span merges every slot that
 *   overlaps it, so it may reach up to 10 s further back.
 * - Data older than WINDOW_SECONDS is gone, never misattributed. Seconds are
 *   stamped relative to window_new as uint32: good for 136 years.
 *
 * Beyond the hour, a third ring of one-minute buckets keeps the request
 * counters only (arrivals and outcomes, no latencies or gauges) for
 * WINDOW_DAY_SECONDS, for the 24-hour figures (drops, availability):
 * - Day counters are per whole minute, minutes counted from 0 on the same
 *   clock as `now` (minute m is [60m, 60m + 60)): a span counts the minutes
 *   whose start lies in (now - N, now], which for N a multiple of 60 is
 *   the current partial minute and the N / 60 - 1 whole ones before it
 *   (1440 in all for a day). An event in the minute that the span's start
 *   cuts is not counted, so a day span that starts mid-minute leaves out
 *   less than a minute at its old end.
 * - Data older than WINDOW_DAY_SECONDS is gone, never misattributed.
 *
 * Memory: one window is about 750 KB (3601 buckets of 96 bytes and 361
 * histograms of 976 bytes, one extra of each so a full-hour span that starts
 * mid-second or mid-slot still finds its first partial one; and 1441 minute
 * buckets of 32 bytes), allocated once. Record and set calls are O(1); a gauge
 * change after a gap of G seconds with a non-zero value writes
 * min(G, WINDOW_SECONDS + 1) buckets. window_totals reads the span's buckets
 * once (about 12 us for an hour); window_day_totals reads at most 1440
 * minute buckets.
 */
#ifndef INFERD_WINDOW_H
#define INFERD_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics/histogram.h"

#define WINDOW_SECONDS      3600
#define WINDOW_SLOT_SECONDS 10    /* latency histogram granularity */
#define WINDOW_DAY_SECONDS  86400 /* reach of the per-minute counters */

typedef enum {
    OUTCOME_SUCCESS,      /* 2xx */
    OUTCOME_CLIENT_ERROR, /* 4xx: not counted as an error */
    OUTCOME_SERVER_ERROR, /* 5xx other than the two below */
    OUTCOME_DROPPED,      /* refused: queue full */
    OUTCOME_TIMEOUT,      /* waited past the cold-start timeout */
} request_outcome_t;

typedef struct window_totals {
    double seconds;    /* span actually covered (less than asked near start-up) */
    uint64_t arrivals; /* requests received */
    uint64_t finished; /* requests answered, any outcome */
    uint64_t successes;
    uint64_t client_errors;
    uint64_t server_errors;
    uint64_t drops;
    uint64_t timeouts;
    double latency_sum_ms; /* over finished requests that were served (not dropped) */
    uint64_t latency_count;
    double queue_wait_sum_ms; /* over requests that reached a replica */
    uint64_t queue_wait_count;
    double concurrency_seconds;   /* integral of (in flight + queued) dt */
    double queued_seconds;        /* integral of queued dt */
    double ready_replica_seconds; /* integral of ready (incl. busy) replicas dt */
    double busy_replica_seconds;  /* integral of busy replicas dt */
} window_totals_t;

typedef struct model_window model_window_t;

/* NULL when out of memory. The caller owns the window; window_free(NULL) is
 * a no-op. Gauges start at 0 at `now`. */
model_window_t *window_new(double now);
void window_free(model_window_t *w);

/* A request arrived. */
void window_record_arrival(model_window_t *w, double now);

/* A request was answered. latency_ms is arrival to answer; queue_ms the
 * part spent waiting for a replica (negative: never reached one). */
void window_record_finish(model_window_t *w, double now, request_outcome_t outcome,
                          double latency_ms, double queue_ms);

/* Gauges: the values from now on. */
void window_set_load(model_window_t *w, double now, unsigned in_flight, unsigned queued);
void window_set_replicas(model_window_t *w, double now, unsigned ready, unsigned busy);

/* Sums over the last `seconds` (1..WINDOW_SECONDS; more is clamped to
 * WINDOW_SECONDS; fractions work; <= 0 or NaN gives all zeros).
 * out->seconds is min(seconds, now - creation time) and may be 0. */
void window_totals(const model_window_t *w, double now, double seconds, window_totals_t *out);

/* Counters only (arrivals to latency and queue-wait sums; the gauge
 * integrals are left 0) of the whole seconds from *next_second up to the
 * one before now's, or through now's when through_now; then moves
 * *next_second past them. A reader that calls this again and again with
 * one cursor counts every second exactly once (through_now is for its
 * last read: what arrives later in that second is not counted). A cursor
 * below the window's first second starts there; seconds the ring no
 * longer holds are skipped. out->seconds is the whole seconds read. */
void window_count_since(const model_window_t *w, double now, bool through_now, int64_t *next_second,
                        window_totals_t *out);

/* Latency quantile over the last `seconds`, from whole ten-second slots
 * (the current partial slot included); NAN without data. */
double window_latency_percentile(const model_window_t *w, double now, double seconds, double q);

/* The merged latency histogram behind window_latency_percentile, for
 * several quantiles and the mean from one merge (or for exports). */
void window_latency_histogram(const model_window_t *w, double now, double seconds,
                              histogram_t *out);

/* Latency quantile of one past minute: minute_ago 0 = the minute ending
 * now, 1 = the one before, ...; NAN without data. Minute m is the six slots
 * ending with the slot of now minus 6m slots (minute 0 includes the current
 * partial slot). minute_ago >= 60 (beyond the window) gives NAN. */
double window_minute_percentile(const model_window_t *w, double now, unsigned minute_ago, double q);

/* The merged latency histogram behind window_minute_percentile: the same
 * six slots, so histogram_percentile(out, q) equals that call's answer.
 * Empty for a minute without data or minute_ago >= 60. Minutes of several
 * windows queried at the same `now` cover the same time, so they can be
 * merged (histogram_merge) into a server-wide histogram of that minute. */
void window_minute_histogram(const model_window_t *w, double now, unsigned minute_ago,
                             histogram_t *out);

/* How many of the last `minutes` minutes (more than 60 is read as 60), in
 * the sense of window_minute_histogram (minute 0 the six slots ending with
 * the current one, and so on), saw at least one finished request of any
 * outcome. A minute whose only finishes were drops (or carried no valid
 * latency) counts here but has an empty histogram. */
unsigned window_active_minutes(const model_window_t *w, double now, unsigned minutes);

/* Counters over the last `seconds` (1..WINDOW_DAY_SECONDS; more is clamped
 * to WINDOW_DAY_SECONDS; <= 0 or NaN gives all zeros), by the per-minute
 * rule above, from the day ring: arrivals, finished, successes,
 * client_errors, server_errors, drops and timeouts. The latency, queue-wait
 * and integral fields are zero. out->seconds is min(seconds, now - creation
 * time) and may be 0. For spans of an hour or less window_totals is finer. */
void window_day_totals(const model_window_t *w, double now, double seconds, window_totals_t *out);

/* Time of the latest arrival, or a negative value if none yet. */
double window_last_arrival(const model_window_t *w);

/* Time at which the model last had a busy replica or work queued or in
 * flight (per the gauges), or a negative value if never. "Now" while it is
 * busy. */
double window_last_busy(const model_window_t *w, double now);

#endif
