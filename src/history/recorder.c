/* recorder.c - the minute timer that fills the traffic table, and the
 * hourly pruning (see recorder.h). */
#include "history/recorder.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "history"

#define AFTER_MINUTE_MS 200 /* write this long after a minute ends */
#define PRUNE_EVERY_MS  ((uint64_t)3600 * 1000)
#define PRUNE_BATCH     500 /* rows per DELETE: ~1 ms of the writer's lock */

struct traffic_recorder {
    uv_loop_t *loop;
    dispatch_t *dispatch;
    autoscaler_t *autoscaler;
    store_t *store;
    char *data_dir;
    double retention_seconds;

    uv_timer_t minute_timer;
    uv_timer_t prune_timer;
    uv_work_t prune_work;
    bool pruning; /* prune_work is queued or running */
    long pruned;  /* rows the last pruning deleted, -1 on failure */
    double prune_before;

    double last_mono;    /* monotonic time up to which gauges are written */
    int64_t next_second; /* first monotonic second whose counters are not */
    bool started;
    bool stopped;
    int open_handles;
    void (*close_done)(void *arg);
    void *close_arg;
    bool closing;
};

static double target_concurrency(const traffic_recorder_t *r, const model_config_t *m)
{
    return m->target_concurrency > 0
               ? m->target_concurrency
               : autoscaler_config(r->autoscaler)->reactive.target_concurrency;
}

/* Stores one row per model: the gauge integrals over (last_mono, now], and
 * the counters of the whole seconds not yet written (through the current
 * one when final), so that every request is stored exactly once. */
static void record_span(traffic_recorder_t *r, bool final)
{
    double now = time_mono_now(), unix_now = time_unix_now();
    double span = now - r->last_mono;
    size_t n = dispatch_pool_count(r->dispatch);

    if (!(span > 0) || n == 0)
        return;
    if (span > WINDOW_SECONDS)
        span = WINDOW_SECONDS;
    int64_t minute = (int64_t)floor((unix_now - span / 2) / 60.0);
    store_traffic_row_t *rows = xcalloc(n, sizeof(*rows));
    int64_t next_second = r->next_second;
    for (size_t i = 0; i < n; i++) {
        pool_t *pool = dispatch_pool_at(r->dispatch, i);
        const model_window_t *w = pool_window(pool);
        window_totals_t t, c;
        window_totals(w, now, span, &t);
        int64_t cursor = r->next_second;
        window_count_since(w, now, final, &cursor, &c);
        if (cursor > next_second)
            next_second = cursor;
        rows[i] = (store_traffic_row_t){
            .model = pool_name(pool),
            .minute = minute,
            .requests = c.arrivals,
            .errors = c.server_errors + c.drops + c.timeouts,
            .drops = c.drops + c.timeouts,
            .p95_ms = window_latency_percentile(w, now, span, 0.95),
            .replica_seconds = t.ready_replica_seconds,
            .busy_replica_seconds = t.busy_replica_seconds,
            .needed_replica_seconds =
                t.concurrency_seconds / target_concurrency(r, pool_model(pool)),
        };
    }
    store_add_traffic(r->store, rows, n);
    free(rows);
    r->last_mono = now;
    r->next_second = next_second;
}

static uint64_t ms_to_next_minute(void)
{
    double into = fmod(time_unix_now(), 60.0);
    double ms = (60.0 - into) * 1000.0 + AFTER_MINUTE_MS;
    return ms < 1 ? 1 : (uint64_t)ms;
}

static void on_minute(uv_timer_t *t)
{
    traffic_recorder_t *r = t->data;
    record_span(r, false);
    uv_timer_start(&r->minute_timer, on_minute, ms_to_next_minute(), 0);
}

/* ---- pruning, on the threadpool ---- */

static void prune_run(uv_work_t *w)
{
    traffic_recorder_t *r = w->data;
    char err[512];
    store_t *s = NULL;

    r->pruned = -1;
    if (store_open(r->data_dir, &s, err, sizeof(err)) < 0)
        return; /* store_open logged why */
    r->pruned = store_prune(s, r->prune_before, PRUNE_BATCH);
    store_close(s);
}

static void maybe_free(traffic_recorder_t *r);

static void prune_done(uv_work_t *w, int status)
{
    traffic_recorder_t *r = w->data;
    r->pruning = false;
    if (status == 0 && r->pruned > 0)
        log_info(MOD, "pruned rows=%ld older_than_days=%.0f", r->pruned,
                 r->retention_seconds / 86400.0);
    else if (status == 0 && r->pruned < 0)
        log_warn(MOD, "pruning failed; it is tried again in an hour");
    if (r->closing)
        maybe_free(r);
}

static void on_prune(uv_timer_t *t)
{
    traffic_recorder_t *r = t->data;
    if (r->pruning || r->stopped)
        return;
    r->prune_before = time_unix_now() - r->retention_seconds;
    r->prune_work.data = r;
    if (uv_queue_work(r->loop, &r->prune_work, prune_run, prune_done) == 0)
        r->pruning = true;
}

/* ---- lifetime ---- */

traffic_recorder_t *recorder_new(uv_loop_t *loop, dispatch_t *dispatch, autoscaler_t *autoscaler,
                                 store_t *store, const char *data_dir, unsigned retention_days)
{
    traffic_recorder_t *r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->dispatch = dispatch;
    r->autoscaler = autoscaler;
    r->store = store;
    r->data_dir = xstrdup(data_dir);
    r->retention_seconds = (double)retention_days * 86400.0;
    uv_timer_init(loop, &r->minute_timer);
    uv_timer_init(loop, &r->prune_timer);
    r->minute_timer.data = r->prune_timer.data = r;
    r->open_handles = 2;
    return r;
}

void recorder_start(traffic_recorder_t *r)
{
    if (r->started)
        return;
    r->started = true;
    r->last_mono = time_mono_now();
    r->next_second = (int64_t)floor(r->last_mono);
    uv_timer_start(&r->minute_timer, on_minute, ms_to_next_minute(), 0);
    uv_timer_start(&r->prune_timer, on_prune, 0, PRUNE_EVERY_MS);
}

void recorder_stop(traffic_recorder_t *r)
{
    if (!r->started || r->stopped)
        return;
    r->stopped = true;
    uv_timer_stop(&r->minute_timer);
    uv_timer_stop(&r->prune_timer);
    record_span(r, true);
}

static void maybe_free(traffic_recorder_t *r)
{
    if (r->open_handles > 0 || r->pruning)
        return;
    void (*done)(void *) = r->close_done;
    void *arg = r->close_arg;
    free(r->data_dir);
    free(r);
    if (done)
        done(arg);
}

static void on_closed(uv_handle_t *h)
{
    traffic_recorder_t *r = h->data;
    r->open_handles--;
    maybe_free(r);
}

void recorder_close(traffic_recorder_t *r, void (*done)(void *arg), void *arg)
{
    recorder_stop(r);
    r->closing = true;
    r->close_done = done;
    r->close_arg = arg;
    uv_close((uv_handle_t *)&r->minute_timer, on_closed);
    uv_close((uv_handle_t *)&r->prune_timer, on_closed);
}
