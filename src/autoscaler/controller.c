/* controller.c - the autoscaler's clock: it samples, decides and applies.
 *
 * Two timers. The collection timer hands the replica pids to the collector
 * (which reads /proc on the thread pool) and files the results with the
 * pools. The decision timer builds each model's policy input from its
 * metrics window and the latest sample, asks the policy, and applies the
 * answer within what the policy does not know about: cooldowns,
 * max_concurrent_model_loads and available memory. A request arriving at
 * zero replicas is the pool's business (a cold start) and never waits for
 * this clock or its cooldowns.
 */
#include "autoscaler/internal.h"
#include "autoscaler/forecast.h"
#include "util/json_number.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PIDS COLLECTOR_MAX_PIDS

model_state_t *autoscaler_model_state(autoscaler_t *a, const pool_t *pool)
{
    for (size_t i = 0; i < a->n_models; i++)
        if (a->models[i].pool == pool)
            return &a->models[i];
    return NULL;
}

static void ring_push(double *ring, size_t *n, size_t cap, double value)
{
    ring[*n % cap] = value;
    (*n)++;
}

static unsigned ring_count_since(const double *ring, size_t n, size_t cap, double since)
{
    unsigned count = 0;
    size_t kept = n < cap ? n : cap;
    for (size_t i = 0; i < kept; i++)
        count += ring[i] >= since;
    return count;
}

/* ---- metrics of one model ---- */

typedef struct model_metrics {
    double concurrency_stable;
    double concurrency_panic;
    double p95_ms;
    double queue_length;
    double cpu_percent;
    double requests_per_minute;
} model_metrics_t;

static double mean_concurrency(const model_window_t *w, double now, double seconds)
{
    window_totals_t t;
    window_totals(w, now, seconds, &t);
    return t.seconds > 0 ? t.concurrency_seconds / t.seconds : 0;
}

static void measure_model(autoscaler_t *a, pool_t *pool, double now, model_metrics_t *m)
{
    const model_window_t *w = pool_window(pool);
    pool_counts_t c;
    pool_get_counts(pool, &c);
    window_totals_t minute;
    window_totals(w, now, 60, &minute);
    m->concurrency_stable = mean_concurrency(w, now, a->cfg.reactive.stable_window_seconds);
    m->concurrency_panic = mean_concurrency(w, now, a->cfg.reactive.panic_window_seconds);
    m->p95_ms = window_latency_percentile(w, now, a->cfg.reactive.stable_window_seconds, 0.95);
    m->queue_length = (double)c.queued;
    m->cpu_percent = pool_replica_cpu_percent(pool);
    m->requests_per_minute = (double)minute.arrivals;
}

json_t *autoscaler_model_metrics(autoscaler_t *a, pool_t *pool)
{
    model_metrics_t m;
    measure_model(a, pool, time_mono_now(), &m);
    pool_counts_t c;
    pool_get_counts(pool, &c);
    double memory = a->have_system ? a->system.memory_percent : NAN;
    return json_pack("{s:o, s:o, s:I, s:o, s:f, s:f, s:i, s:i}", "cpu_usage_percent",
                     json_number_or_null(m.cpu_percent), "memory_usage_percent",
                     json_number_or_null(memory), "queue_length", (json_int_t)c.queued,
                     "response_time_ms", json_number_or_null(m.p95_ms), "concurrency",
                     m.concurrency_stable, "requests_per_minute", m.requests_per_minute,
                     "ready_replicas", c.ready, "starting_replicas", c.starting);
}

/* The model's replicas' resident memory as a share of the machine's. */
static double model_memory_percent(autoscaler_t *a, pool_t *pool)
{
    if (!a->have_system || !(a->system.memory_total_mb > 0))
        return NAN;
    pool_counts_t c;
    pool_get_counts(pool, &c);
    (void)c;
    return 100.0 * pool_replica_memory_mb(pool) / a->system.memory_total_mb;
}

/* ---- collection ---- */

static void on_collected(const system_sample_t *sys, const process_sample_t *procs, size_t n,
                         void *ctx)
{
    autoscaler_t *a = ctx;
    a->system = *sys;
    a->have_system = true;
    a->last_collection_unix = time_unix_now();
    /* Replicas still starting have not yet taken the memory they will
     * take: it stays reserved until a sample sees them ready. */
    a->reserved_mb = 0;
    for (size_t m = 0; m < a->n_models; m++) {
        pool_counts_t c;
        pool_get_counts(a->models[m].pool, &c);
        a->reserved_mb += pool_replica_memory_mb(a->models[m].pool) * c.starting;
    }
    for (size_t i = 0; i < n; i++) {
        if (!procs[i].alive)
            continue;
        for (size_t m = 0; m < a->n_models; m++)
            pool_note_replica_sample(a->models[m].pool, procs[i].pid, procs[i].cpu_percent,
                                     procs[i].rss_mb);
    }
}

static void on_collect_tick(uv_timer_t *timer)
{
    autoscaler_t *a = timer->data;
    int pids[MAX_PIDS];
    size_t n = 0;
    for (size_t m = 0; m < a->n_models && n < MAX_PIDS; m++)
        n += pool_replica_pids(a->models[m].pool, pids + n, MAX_PIDS - n);
    /* -1 means the previous collection is still running: skip a beat. */
    collector_collect(a->collector, pids, n, on_collected, a);
}

/* ---- applying a decision ---- */

static int loads_in_progress(autoscaler_t *a)
{
    int loading = 0;
    for (size_t m = 0; m < a->n_models; m++) {
        pool_counts_t c;
        pool_get_counts(a->models[m].pool, &c);
        loading += c.starting;
    }
    return loading;
}

double autoscaler_admissible_mb(const autoscaler_t *a)
{
    if (!a->have_system || isnan(a->system.memory_available_mb))
        return NAN;
    return a->system.memory_available_mb - a->reserved_mb;
}

void autoscaler_reserve_mb(autoscaler_t *a, double mb)
{
    if (mb > 0)
        a->reserved_mb += mb;
}

/* How many of `want` new replicas of pool fit in available memory; records
 * a scaling_failed event when not all do. */
static int admit_by_memory(autoscaler_t *a, pool_t *pool, int current, int want,
                           const char *trigger)
{
    double per_replica = pool_replica_memory_mb(pool);
    double available = autoscaler_admissible_mb(a);
    int fit = gate_memory_fit(available, per_replica, want);
    if (fit >= want) {
        autoscaler_reserve_mb(a, per_replica * want);
        return want;
    }
    autoscaler_reserve_mb(a, per_replica * fit);
    /* One event per refusal episode, not one per decision interval. */
    model_state_t *ms = autoscaler_model_state(a, pool);
    double now = time_mono_now();
    if (ms && now - ms->last_admission_refusal < a->cfg.cooldowns.scale_up_cooldown_seconds)
        return fit;
    if (ms)
        ms->last_admission_refusal = now;
    json_t *details = json_pack("{s:s, s:f, s:f, s:f, s:i, s:i}", "failure_reason",
                                "resource_constraint", "required_memory_mb", per_replica * want,
                                "available_memory_mb", available, "per_replica_memory_mb",
                                per_replica, "replicas_wanted", want, "replicas_admitted", fit);
    op_record_incident(a, pool, "scaling_failed", trigger, current, current + want, details);
    log_warn("autoscaler", "memory admits fewer replicas model=%s wanted=%d admitted=%d",
             pool_name(pool), want, fit);
    return fit;
}

/* The decision as the resize rules (gates.h) see it. */
static resize_request_t resize_request_of(autoscaler_t *a, const model_state_t *ms,
                                          const pool_counts_t *c, int decided, double now)
{
    return (resize_request_t){
        .current = c->starting + c->ready,
        .heading_for = c->desired,
        .queued = c->queued,
        .decided = decided,
        .panicking = ms->last.panicking,
        .load_room = a->cfg.model_management.max_concurrent_model_loads - loads_in_progress(a),
        .on_hold = now < ms->manual_hold_until,
    };
}

/* Carries out a resize the rules allowed: growth through memory admission,
 * each recorded as an operation. goal is the count the growth heads for. */
static void apply_resize(autoscaler_t *a, model_state_t *ms, int current, int target, int goal,
                         double now)
{
    const char *type = target > current ? "scale_up" : target == 0 ? "zero_scale" : "scale_down";
    double added_mb = 0;
    if (target > current) {
        int add = admit_by_memory(a, ms->pool, current, target - current, ms->last.trigger);
        if (add <= 0)
            return;
        target = current + add;
        added_mb = pool_replica_memory_mb(ms->pool) * add;
    }
    operation_t *op = op_begin(a, type, ms->last.trigger, ms->last.reason, false);
    op_add_entry(a, op, ms->pool, type, current, target, added_mb);
    pool_resize(ms->pool, target);
    gate_note_resize(&ms->times, &ms->capped_growth_target, current, target, goal, now);
}

/* Mean time a request held a replica slot over the last ten minutes: its
 * latency less its wait in the queue (so cold starts and queueing do not
 * count as service); NAN without a finished request. Ten minutes rather
 * than the stable window so that a sparse model still has a figure. */
#define SERVICE_WINDOW_SECONDS 600.0

static double service_seconds(const model_window_t *w, double now)
{
    window_totals_t t;
    window_totals(w, now, SERVICE_WINDOW_SECONDS, &t);
    if (t.latency_count == 0)
        return NAN;
    double latency = t.latency_sum_ms / (double)t.latency_count;
    double wait = t.queue_wait_count ? t.queue_wait_sum_ms / (double)t.queue_wait_count : 0;
    double service = (latency - wait) / 1000.0;
    return service > 0 ? service : NAN;
}

static void decide_model(autoscaler_t *a, model_state_t *ms, double now)
{
    pool_t *pool = ms->pool;
    const model_config_t *mc = pool_model(pool);
    pool_counts_t c;
    pool_get_counts(pool, &c);
    model_metrics_t m;
    measure_model(a, pool, now, &m);
    const model_window_t *w = pool_window(pool);
    policy_input_t in = {
        .now = now,
        .started_at = a->started_mono,
        .current_replicas = c.starting + c.ready,
        .floor_replicas = config_floor_replicas(mc),
        .max_replicas = mc->max_replicas,
        .target_concurrency = mc->target_concurrency > 0 ? mc->target_concurrency
                                                         : a->cfg.reactive.target_concurrency,
        .concurrency_stable = m.concurrency_stable,
        .concurrency_panic = m.concurrency_panic,
        .concurrency_now = (double)c.in_flight + (double)c.queued,
        .replica_cpu_percent = m.cpu_percent,
        .memory_percent = a->have_system ? a->system.memory_percent : NAN,
        .model_memory_percent = model_memory_percent(a, pool),
        .gpu_percent = a->have_system ? a->system.gpu_percent : NAN,
        .queue_length = m.queue_length,
        .p95_ms = m.p95_ms,
        .last_arrival = window_last_arrival(w),
        .last_busy = window_last_busy(w, now),
        .unix_now = time_unix_now(),
        .load_seconds = ms->load_seconds,
        .service_seconds = service_seconds(w, now),
    };
    pool_totals_t totals;
    pool_get_totals(pool, &totals);
    in.arrivals_total = (double)totals.arrivals;
    custom_metric_fill_input(a, ms, now, &in);
    ms->service_seconds = in.service_seconds;
    policy_decide(&in, &a->cfg, &ms->policy, &ms->last);
    ms->decided = true;
    ring_push(a->decisions, &a->n_decisions, DECISION_RING, now);
    resize_request_t r = resize_request_of(a, ms, &c, ms->last.desired, now);
    int target = gate_resize_target(&a->cfg, &ms->times, &ms->capped_growth_target, &r, now);
    if (target >= 0)
        apply_resize(a, ms, r.current, target, ms->last.desired, now);
}

static void on_decide_tick(uv_timer_t *timer)
{
    autoscaler_t *a = timer->data;
    double now = time_mono_now();
    a->last_decision_unix = time_unix_now();
    op_check_all(a);
    op_write_due_outcomes(a);
    if (!a->cfg.enabled)
        return;
    for (size_t i = 0; i < a->n_models; i++)
        decide_model(a, &a->models[i], now);
}

/* ---- between decisions ---- */

/* The policy input of burst start and release: per request, so no window
 * scan, only the pool's counts, the measured load time and the service
 * time the latest decision measured. */
static policy_input_t input_between_decisions(const autoscaler_t *a, const model_state_t *ms,
                                              const pool_counts_t *c)
{
    const model_config_t *mc = pool_model(ms->pool);
    return (policy_input_t){
        .current_replicas = c->starting + c->ready,
        .starting_replicas = c->starting,
        .floor_replicas = config_floor_replicas(mc),
        .max_replicas = mc->max_replicas,
        .target_concurrency = mc->target_concurrency > 0 ? mc->target_concurrency
                                                         : a->cfg.reactive.target_concurrency,
        .concurrency_now = (double)c->in_flight + (double)c->queued,
        .queue_length = (double)c->queued,
        .load_seconds = ms->load_seconds,
        .service_seconds = ms->service_seconds,
    };
}

/* A resize between decisions to `want`, through the same resize rules as
 * a decision's (never as a panic: a growth waits out the scale-up
 * cooldown) and, for growth, memory admission; the trigger and reason
 * become the model's latest decision. Returns whether it resized. */
static bool resize_between_decisions(autoscaler_t *a, model_state_t *ms, const pool_counts_t *c,
                                     int want, const char *trigger, const char *reason)
{
    double now = time_mono_now();
    resize_request_t r = resize_request_of(a, ms, c, want, now);
    r.panicking = false;
    int target = gate_resize_target(&a->cfg, &ms->times, &ms->capped_growth_target, &r, now);
    if (target < 0)
        return false;
    ms->last.desired = want;
    ms->last.trigger = trigger;
    snprintf(ms->last.reason, sizeof(ms->last.reason), "%s", reason);
    ms->decided = true;
    apply_resize(a, ms, r.current, target, want, now);
    return true;
}

/* ---- burst start ---- */

/* A request waits behind busy replicas (the pool's QUEUED event): the
 * policy may want one more replica now rather than at the next decision
 * (policy_burst_target), through the same resize rules as a decision's
 * growth (settled pool, scale-up cooldown, load cap) and memory
 * admission. It runs per waiting request, so its input is what that rule
 * reads and costs no window scan: the pool's counts, the measured load
 * time and the service time the latest decision measured. Returns whether
 * it resized. */
static bool burst_start(autoscaler_t *a, model_state_t *ms)
{
    if (!a->cfg.enabled || a->stopped || a->cfg.scaling_strategy == STRATEGY_REACTIVE)
        return false;
    pool_counts_t c;
    pool_get_counts(ms->pool, &c);
    if (c.queued == 0 || ms->capped_growth_target > c.starting + c.ready)
        return false;
    policy_input_t in = input_between_decisions(a, ms, &c);
    char reason[sizeof(ms->last.reason)];
    int want = policy_burst_target(&in, &a->cfg, reason, sizeof(reason));
    return want >= 0 && resize_between_decisions(a, ms, &c, want, "burst", reason);
}

/* ---- release ---- */

/* A request went straight to a free replica (the pool's ARRIVED event):
 * for a model that loads within a decision interval the policy may let the
 * replicas beyond the busy ones go now (policy_release_target), down to
 * the latest decision's release floor, through the same resize rules as a
 * decision's shrink (settled pool, scale-down cooldown), and only while
 * burst start could bring a replica back at once (gate_growth_open). Per
 * request, so it reads only the pool's counts and the measured load time.
 * Returns whether it resized. */
static bool release(autoscaler_t *a, model_state_t *ms)
{
    if (!a->cfg.enabled || a->stopped || a->cfg.scaling_strategy != STRATEGY_HYBRID || !ms->decided)
        return false;
    pool_counts_t c;
    pool_get_counts(ms->pool, &c);
    int current = c.starting + c.ready;
    /* The cheap refusals first: this runs for every such request. */
    if (current <= 1 || c.queued > 0 || c.desired != current)
        return false;
    double now = time_mono_now();
    cooldown_check_t down;
    gate_cooldown(&a->cfg, &ms->times, current, current - 1, now, &down);
    if (down.seconds_left > 0 || !gate_growth_open(&a->cfg, &ms->times, now))
        return false;
    policy_input_t in = input_between_decisions(a, ms, &c);
    char reason[sizeof(ms->last.reason)]; /* filled only when it releases */
    int want = policy_release_target(&in, &a->cfg, ms->last.release_floor, reason, sizeof(reason));
    return want >= 0 && resize_between_decisions(a, ms, &c, want, "release", reason);
}

/* ---- pool events ---- */

static const char *failure_reason_of(replica_exit_t why)
{
    return why == REPLICA_EXIT_LOAD_TIMEOUT ? "timeout" : "backend_error";
}

static void on_replica_ended(autoscaler_t *a, pool_t *pool, model_state_t *ms,
                             const pool_event_t *ev)
{
    if (ev->why == REPLICA_EXIT_CLEAN)
        return;
    pool_counts_t c;
    pool_get_counts(pool, &c);
    int now_count = c.starting + c.ready;
    bool load = ev->why == REPLICA_EXIT_LOAD_FAILED || ev->why == REPLICA_EXIT_LOAD_TIMEOUT;
    json_t *details = json_pack("{s:s, s:s, s:I, s:s}", "failure_reason",
                                load ? failure_reason_of(ev->why) : "crashed", "message",
                                ev->detail ? ev->detail : "", "replica", (json_int_t)ev->replica_id,
                                "exit", replica_exit_name(ev->why));
    if (ms)
        ms->consecutive_failures++;
    if (load) {
        ring_push(a->load_failed, &a->n_load_failed, LOAD_RING, time_unix_now());
        a->last_load_failure_unix = time_unix_now();
        a->last_start_succeeded = 0;
        op_note_load_failure(a, pool, failure_reason_of(ev->why), ev->detail);
        op_record_incident(a, pool, "model_load_failed", replica_exit_name(ev->why), now_count + 1,
                           now_count, details);
    } else {
        op_record_incident(a, pool, "replica_crashed", replica_exit_name(ev->why), now_count + 1,
                           now_count, details);
    }
}

/* A load finished, so a load slot is free: a growth that was capped by
 * max_concurrent_model_loads goes on now rather than at the next tick. */
static void resume_capped_growth(autoscaler_t *a)
{
    if (!a->cfg.enabled || a->stopped)
        return;
    double now = time_mono_now();
    for (size_t i = 0; i < a->n_models; i++) {
        model_state_t *ms = &a->models[i];
        pool_counts_t c;
        pool_get_counts(ms->pool, &c);
        resize_request_t r = resize_request_of(a, ms, &c, ms->last.desired, now);
        /* max_replicas may have been lowered live since the goal was set. */
        int max = pool_model(ms->pool)->max_replicas;
        if (ms->capped_growth_target > max)
            ms->capped_growth_target = max;
        int goal = ms->capped_growth_target;
        int target = gate_resume_target(&a->cfg, &ms->times, goal, &r, now);
        if (target >= 0)
            apply_resize(a, ms, r.current, target, goal, now);
    }
}

static void on_pool_event(pool_t *pool, const pool_event_t *ev, void *ctx)
{
    autoscaler_t *a = ctx;
    model_state_t *ms = autoscaler_model_state(a, pool);
    switch (ev->type) {
    case POOL_EVENT_COLD_START: {
        operation_t *op = op_begin(a, "cold_start", "request", "a request found no replica", false);
        op_add_entry(a, op, pool, "cold_start", 0, 1, pool_replica_memory_mb(pool));
        /* A cold start holds back zero-scaling and shrinking, never growth:
         * a burst that arrives at zero must be able to grow at once. */
        if (ms)
            ms->times.last_cold_start = ms->times.last_change = time_mono_now();
        break;
    }
    case POOL_EVENT_REPLICA_READY:
        ring_push(a->load_ok, &a->n_load_ok, LOAD_RING, time_unix_now());
        a->last_start_succeeded = 1;
        if (ms)
            ms->consecutive_failures = 0;
        if (ms && ev->start_time_ms > 0)
            ms->load_seconds = ev->start_time_ms / 1000.0;
        resume_capped_growth(a);
        break;
    case POOL_EVENT_REPLICA_ENDED:
        on_replica_ended(a, pool, ms, ev);
        break;
    case POOL_EVENT_QUEUED:
        /* Per waiting request: nothing more unless it resized. */
        if (!ms || !burst_start(a, ms))
            return;
        break;
    case POOL_EVENT_ARRIVED:
        /* Per request served at once: likewise. */
        if (!ms || !release(a, ms))
            return;
        break;
    }
    op_check_all(a);
}

/* ---- lifecycle ---- */

static void seed_row(const store_traffic_row_t *row, void *ctx)
{
    policy_state_seed_minute(ctx, row->minute, (double)row->requests);
}

/* The forecast's history from the traffic store: each model's rows of the
 * last FORECAST_MINUTES (14 days). One synchronous read at start, before
 * the loop serves anything (about 20 000 indexed rows per model at most);
 * later minutes the policy learns as they pass. */
static void seed_forecasts(autoscaler_t *a)
{
    if (!a->store)
        return;
    int64_t now_minute = (int64_t)floor(time_unix_now() / 60.0);
    for (size_t i = 0; i < a->n_models; i++) {
        model_state_t *ms = &a->models[i];
        long rows =
            store_traffic_each(a->store, pool_name(ms->pool), now_minute - FORECAST_MINUTES + 1,
                               now_minute + 1, seed_row, &ms->policy);
        if (rows > 0)
            log_info("autoscaler", "forecast seeded model=%s minutes=%ld", pool_name(ms->pool),
                     rows);
    }
}

autoscaler_t *autoscaler_new(uv_loop_t *loop, const inferd_config_t *cfg, dispatch_t *dispatch,
                             store_t *store)
{
    autoscaler_t *a = xcalloc(1, sizeof(*a));
    a->loop = loop;
    a->cfg = cfg->autoscaler;
    a->dispatch = dispatch;
    a->store = store;
    a->collector = collector_new(loop, cfg->server.data_dir);
    a->started_unix = time_unix_now();
    a->started_mono = time_mono_now();
    a->last_decision_unix = NAN;
    a->last_collection_unix = NAN;
    a->last_load_failure_unix = NAN;
    a->last_start_succeeded = -1;
    a->n_models = dispatch_pool_count(dispatch);
    a->models = xcalloc(a->n_models ? a->n_models : 1, sizeof(model_state_t));
    for (size_t i = 0; i < a->n_models; i++) {
        model_state_t *ms = &a->models[i];
        ms->pool = dispatch_pool_at(dispatch, i);
        policy_state_init(&ms->policy);
        ms->last.trigger = "none";
        ms->last.release_floor = CONFIG_REPLICAS_LIMIT; /* no release before a decision */
        ms->times = (scale_times_t){-INFINITY, -INFINITY, -INFINITY};
        ms->last_admission_refusal = -INFINITY;
        ms->manual_hold_until = -INFINITY;
        ms->load_seconds = NAN;
        ms->service_seconds = NAN;
    }
    seed_forecasts(a);
    uv_timer_init(loop, &a->collect_timer);
    uv_timer_init(loop, &a->decide_timer);
    a->collect_timer.data = a->decide_timer.data = a;
    a->open_handles = 2;
    dispatch_set_observer(dispatch, on_pool_event, a);
    return a;
}

static uint64_t ms_of(double seconds)
{
    return (uint64_t)(seconds * 1000.0);
}

void autoscaler_start(autoscaler_t *a)
{
    uv_timer_start(&a->collect_timer, on_collect_tick, 0,
                   ms_of(a->cfg.timing.metrics_collection_interval_seconds));
    uv_timer_start(&a->decide_timer, on_decide_tick, ms_of(a->cfg.timing.decision_interval_seconds),
                   ms_of(a->cfg.timing.decision_interval_seconds));
    log_info("autoscaler", "started enabled=%s strategy=%s decision_interval_s=%g collection_s=%g",
             a->cfg.enabled ? "true" : "false", config_strategy_name(a->cfg.scaling_strategy),
             a->cfg.timing.decision_interval_seconds,
             a->cfg.timing.metrics_collection_interval_seconds);
}

void autoscaler_stop(autoscaler_t *a)
{
    a->stopped = true;
    op_abandon_all(a, "shutdown", "the server stopped before the operation completed");
    uv_timer_stop(&a->collect_timer);
    uv_timer_stop(&a->decide_timer);
    dispatch_set_observer(a->dispatch, NULL, NULL);
}

static void on_closed(uv_handle_t *handle)
{
    autoscaler_t *a = handle->data;
    if (--a->open_handles > 0)
        return;
    for (size_t i = 0; i < a->n_models; i++)
        policy_state_free(&a->models[i].policy);
    free(a->models);
    free(a);
}

void autoscaler_free(autoscaler_t *a)
{
    if (!a)
        return;
    collector_free(a->collector);
    uv_close((uv_handle_t *)&a->collect_timer, on_closed);
    uv_close((uv_handle_t *)&a->decide_timer, on_closed);
}

void autoscaler_apply_config(autoscaler_t *a, const autoscaler_config_t *cfg)
{
    bool timing =
        cfg->timing.decision_interval_seconds != a->cfg.timing.decision_interval_seconds ||
        cfg->timing.metrics_collection_interval_seconds !=
            a->cfg.timing.metrics_collection_interval_seconds;
    a->cfg = *cfg;
    if (timing && !a->stopped)
        autoscaler_start(a);
    log_info("autoscaler", "configuration applied enabled=%s strategy=%s",
             cfg->enabled ? "true" : "false", config_strategy_name(cfg->scaling_strategy));
}

const autoscaler_config_t *autoscaler_config(const autoscaler_t *a)
{
    return &a->cfg;
}

store_t *autoscaler_store(const autoscaler_t *a)
{
    return a->store;
}

/* ---- views ---- */

void autoscaler_get_status(const autoscaler_t *a, autoscaler_status_t *out)
{
    double day_ago = time_unix_now() - 86400.0;
    memset(out, 0, sizeof(*out));
    out->started_at = a->started_unix;
    out->last_decision_at = a->last_decision_unix;
    out->last_collection_at = a->last_collection_unix;
    out->data_points = collector_samples(a->collector);
    out->decisions_last_minute =
        ring_count_since(a->decisions, a->n_decisions, DECISION_RING, time_mono_now() - 60.0);
    out->scaling_in_progress = op_any_in_progress(a);
    out->have_system = a->have_system;
    out->system = a->system;
    out->collection_cost_us = collector_last_cost_us(a->collector);
    out->loads_succeeded_24h = ring_count_since(a->load_ok, a->n_load_ok, LOAD_RING, day_ago);
    out->loads_failed_24h = ring_count_since(a->load_failed, a->n_load_failed, LOAD_RING, day_ago);
    out->last_load_failure_at = a->last_load_failure_unix;
    out->last_start_succeeded = a->last_start_succeeded;
    for (size_t i = 0; i < a->n_models; i++)
        out->crash_looping |= a->models[i].consecutive_failures >= 3;
}

void autoscaler_model_view(const autoscaler_t *a, const pool_t *pool, autoscaler_model_view_t *out)
{
    const model_state_t *ms = autoscaler_model_state((autoscaler_t *)a, pool);
    pool_counts_t c;
    pool_get_counts(pool, &c);
    out->target = c.desired;
    out->trigger = ms && ms->decided ? ms->last.trigger : "none";
    out->reason = ms && ms->decided ? ms->last.reason : "";
    out->panicking = ms && ms->last.panicking;
    out->auto_managed = !pool_model(pool)->always_loaded;
}

static int direction_of(const char *type)
{
    if (strcmp(type, "scale_up") == 0)
        return 1;
    return strcmp(type, "scale_down") == 0 || strcmp(type, "zero_scale") == 0 ? -1 : 0;
}

double autoscaler_accuracy_percent(const autoscaler_t *a)
{
    static const char *const types[] = {"scale_up", "scale_down", "zero_scale", NULL};
    json_t *events = store_list_events(a->store, time_unix_now() - 86400.0, types, 1000);
    if (!events)
        return NAN;
    size_t n = json_array_size(events), decisions = 0, reversed = 0;
    /* Newest first: an automatic event is reversed when a later event of the
     * same model goes the other way within the scale-down cooldown. */
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(events, i);
        if (strcmp(json_string_value(json_object_get(e, "trigger")), "manual") == 0)
            continue;
        decisions++;
        double t = json_number_value(json_object_get(e, "timestamp_unix"));
        int dir = direction_of(json_string_value(json_object_get(e, "type")));
        const char *model = json_string_value(json_object_get(e, "model"));
        for (size_t j = i; j-- > 0;) {
            json_t *later = json_array_get(events, j);
            double lt = json_number_value(json_object_get(later, "timestamp_unix"));
            if (lt - t > a->cfg.cooldowns.scale_down_cooldown_seconds)
                break;
            const char *lm = json_string_value(json_object_get(later, "model"));
            if (lm && model && strcmp(lm, model) == 0 &&
                direction_of(json_string_value(json_object_get(later, "type"))) == -dir) {
                reversed++;
                break;
            }
        }
    }
    json_decref(events);
    return decisions ? 100.0 * (double)(decisions - reversed) / (double)decisions : NAN;
}
