/* autoscaler.c - GET /autoscaler/stats, GET /autoscaler/health,
 * POST /autoscaler/scale, GET /autoscaler/scale/{scaling_id}.
 *
 * Every figure comes from a measurement: the pools' metrics windows, the
 * latest collection of machine and replica figures, the event store, or
 * the live configuration. A figure that cannot be measured is null (no
 * GPU, no request in the window, no event yet), never a stand-in number.
 * docs/api.md gives the window of each.
 */
#include "api/api.h"
#include "api/request.h"
#include "autoscaler/autoscaler.h"
#include "metrics/histogram.h"
#include "notify/webhook.h"
#include "util/json_number.h"
#include "util/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PERFORMANCE_WINDOW_S 300.0  /* latencies, error rate, queue wait */
#define RATE_WINDOW_S        60.0   /* requests per minute, throughput */
#define EFFICIENCY_WINDOW_S  3600.0 /* utilisation and cost efficiency */
#define DAY_S                86400.0

static json_t *unix_time(double t)
{
    if (!isfinite(t))
        return json_null();
    char out[TIME_ISO_LEN];
    return time_format_iso(t, out) == 0 ? json_string(out) : json_null();
}

/* A count from the store, or null when the store failed (-1). */
static json_t *count_or_null(long n)
{
    return n >= 0 ? json_integer(n) : json_null();
}

/* ---- sums over every model ---- */

typedef struct server_figures {
    window_totals_t rate;          /* last minute */
    window_totals_t performance;   /* last 5 min */
    window_totals_t hour;          /* last hour */
    window_totals_t day;           /* last 24 h, counters only */
    histogram_t latency;           /* last 5 min */
    double needed_replica_seconds; /* last hour, at each model's target concurrency */
    int ready, starting, desired, loaded_models;
    unsigned in_flight;
    size_t queued, max_queue;
} server_figures_t;

static void add_totals(window_totals_t *into, const window_totals_t *t)
{
    into->seconds = t->seconds > into->seconds ? t->seconds : into->seconds;
    into->arrivals += t->arrivals;
    into->finished += t->finished;
    into->successes += t->successes;
    into->client_errors += t->client_errors;
    into->server_errors += t->server_errors;
    into->drops += t->drops;
    into->timeouts += t->timeouts;
    into->latency_sum_ms += t->latency_sum_ms;
    into->latency_count += t->latency_count;
    into->queue_wait_sum_ms += t->queue_wait_sum_ms;
    into->queue_wait_count += t->queue_wait_count;
    into->concurrency_seconds += t->concurrency_seconds;
    into->queued_seconds += t->queued_seconds;
    into->ready_replica_seconds += t->ready_replica_seconds;
    into->busy_replica_seconds += t->busy_replica_seconds;
}

static double target_concurrency(const api_context_t *api, const model_config_t *m)
{
    return m->target_concurrency > 0
               ? m->target_concurrency
               : autoscaler_config(api->autoscaler)->reactive.target_concurrency;
}

static void gather(api_context_t *api, double now, server_figures_t *f)
{
    memset(f, 0, sizeof(*f));
    histogram_reset(&f->latency);
    for (size_t i = 0; i < dispatch_pool_count(api->dispatch); i++) {
        pool_t *pool = dispatch_pool_at(api->dispatch, i);
        const model_window_t *w = pool_window(pool);
        window_totals_t t;
        window_totals(w, now, RATE_WINDOW_S, &t);
        add_totals(&f->rate, &t);
        window_totals(w, now, PERFORMANCE_WINDOW_S, &t);
        add_totals(&f->performance, &t);
        window_totals(w, now, EFFICIENCY_WINDOW_S, &t);
        add_totals(&f->hour, &t);
        f->needed_replica_seconds +=
            t.concurrency_seconds / target_concurrency(api, pool_model(pool));
        window_day_totals(w, now, DAY_S, &t);
        add_totals(&f->day, &t);
        histogram_t h;
        window_latency_histogram(w, now, PERFORMANCE_WINDOW_S, &h);
        histogram_merge(&f->latency, &h);
        pool_counts_t c;
        pool_get_counts(pool, &c);
        f->ready += c.ready;
        f->starting += c.starting;
        f->desired += c.desired;
        f->loaded_models += c.ready > 0;
        f->in_flight += c.in_flight;
        f->queued += c.queued;
        f->max_queue += (size_t)pool_model(pool)->max_queue_length;
    }
}

/* Coefficient of variation of the server-wide per-minute p95 over the last
 * hour, named as FIELDS.md says; insufficient_data below 5 minutes. */
static const char *performance_stability(api_context_t *api, double now)
{
    double p95[60];
    unsigned minutes = 0;
    for (unsigned m = 0; m < 60; m++) {
        histogram_t merged;
        histogram_reset(&merged);
        for (size_t i = 0; i < dispatch_pool_count(api->dispatch); i++) {
            histogram_t h;
            window_minute_histogram(pool_window(dispatch_pool_at(api->dispatch, i)), now, m, &h);
            histogram_merge(&merged, &h);
        }
        if (merged.total > 0)
            p95[minutes++] = histogram_percentile(&merged, 0.95);
    }
    if (minutes < 5)
        return "insufficient_data";
    double mean = 0, var = 0;
    for (unsigned i = 0; i < minutes; i++)
        mean += p95[i] / minutes;
    for (unsigned i = 0; i < minutes; i++)
        var += (p95[i] - mean) * (p95[i] - mean) / minutes;
    double cv = mean > 0 ? sqrt(var) / mean : 0;
    return cv < 0.1 ? "excellent" : cv < 0.25 ? "good" : cv < 0.5 ? "fair" : "poor";
}

static double last_scale_event(store_t *store, char *type, size_t type_len)
{
    static const char *const types[] = {"scale_up", "scale_down", "zero_scale", "cold_start", NULL};
    double ts;
    type[0] = '\0';
    return store_last_event(store, types, &ts, type, type_len) == 1 ? ts : NAN;
}

/* ---- GET /autoscaler/stats ---- */

static json_t *stats_autoscaler(api_context_t *api, const server_figures_t *f,
                                const autoscaler_status_t *st)
{
    const autoscaler_config_t *cfg = autoscaler_config(api->autoscaler);
    char type[32];
    const char *status = !cfg->enabled             ? "disabled"
                         : st->scaling_in_progress ? "scaling"
                                                   : "active";
    return json_pack(
        "{s:b, s:s, s:b, s:i, s:i, s:o, s:s}", "enabled", cfg->enabled, "status", status,
        "zero_scaling_enabled", cfg->zero_scaling_enabled, "current_scale", f->ready,
        "target_scale", f->desired, "last_scale_event",
        unix_time(last_scale_event(autoscaler_store(api->autoscaler), type, sizeof(type))),
        "scaling_strategy", config_strategy_name(cfg->scaling_strategy));
}

static json_t *stats_models(api_context_t *api, const server_figures_t *f)
{
    json_t *managed = json_array(), *pinned = json_array();
    size_t n = dispatch_pool_count(api->dispatch);
    for (size_t i = 0; i < n; i++) {
        const model_config_t *m = pool_model(dispatch_pool_at(api->dispatch, i));
        json_array_append_new(m->always_loaded ? pinned : managed, json_string(m->name));
    }
    return json_pack("{s:I, s:i, s:I, s:o, s:o}", "total_models", (json_int_t)n, "loaded_models",
                     f->loaded_models, "unloaded_models", (json_int_t)n - f->loaded_models,
                     "auto_managed_models", managed, "always_loaded_models", pinned);
}

static json_t *stats_performance(const server_figures_t *f)
{
    const window_totals_t *p = &f->performance;
    double errors = (double)(p->server_errors + p->drops + p->timeouts);
    return json_pack(
        "{s:I, s:o, s:o, s:o, s:o, s:f}", "requests_per_minute", (json_int_t)f->rate.arrivals,
        "average_response_time_ms",
        json_number_or_null(p->latency_count ? p->latency_sum_ms / (double)p->latency_count : NAN),
        "p95_response_time_ms", json_number_or_null(histogram_percentile(&f->latency, 0.95)),
        "p99_response_time_ms", json_number_or_null(histogram_percentile(&f->latency, 0.99)),
        "error_rate_percent",
        json_number_or_null(p->finished ? 100.0 * errors / (double)p->finished : NAN),
        "throughput_requests_per_second",
        f->rate.seconds > 0 ? (double)f->rate.successes / RATE_WINDOW_S : 0.0);
}

static json_t *stats_resources(const autoscaler_status_t *st)
{
    const system_sample_t *s = &st->system;
    bool have = st->have_system;
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "cpu_usage_percent",
                     json_number_or_null(have ? s->cpu_percent : NAN), "memory_usage_percent",
                     json_number_or_null(have ? s->memory_percent : NAN), "gpu_usage_percent",
                     json_number_or_null(have && s->gpu_available ? s->gpu_percent : NAN),
                     "gpu_memory_usage_mb",
                     json_number_or_null(have && s->gpu_available ? s->gpu_memory_used_mb : NAN),
                     "disk_usage_percent", json_number_or_null(have ? s->disk_percent : NAN));
}

/* store_mean_duration answers -1 on a store error: no figure then. */
static json_t *mean_or_null(double v)
{
    return json_number_or_null(v < 0 ? NAN : v);
}

static json_t *stats_scaling(api_context_t *api)
{
    store_t *store = autoscaler_store(api->autoscaler);
    double since = (double)time(NULL) - DAY_S;
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o}", "scale_up_events_24h",
        count_or_null(store_count_events(store, "scale_up", since)), "scale_down_events_24h",
        count_or_null(store_count_events(store, "scale_down", since)), "zero_scale_events_24h",
        count_or_null(store_count_events(store, "zero_scale", since)),
        "average_scale_up_time_seconds",
        mean_or_null(store_mean_duration(store, "scale_up", since)),
        "average_scale_down_time_seconds",
        mean_or_null(store_mean_duration(store, "scale_down", since)), "cold_start_time_seconds",
        mean_or_null(store_mean_duration(store, "cold_start", since)));
}

static json_t *stats_queue(const server_figures_t *f)
{
    const window_totals_t *p = &f->performance;
    return json_pack(
        "{s:I, s:I, s:I, s:o, s:I}", "pending_requests",
        (json_int_t)f->in_flight + (json_int_t)f->queued, "queue_length", (json_int_t)f->queued,
        "max_queue_length", (json_int_t)f->max_queue, "average_wait_time_ms",
        json_number_or_null(p->queue_wait_count ? p->queue_wait_sum_ms / (double)p->queue_wait_count
                                                : NAN),
        "requests_dropped", (json_int_t)f->day.drops + (json_int_t)f->day.timeouts);
}

static json_t *stats_efficiency(api_context_t *api, const server_figures_t *f, double now)
{
    const window_totals_t *h = &f->hour, *d = &f->day;
    double provisioned = h->ready_replica_seconds;
    double cost = provisioned > 0 ? 100.0 * f->needed_replica_seconds / provisioned : NAN;
    double failed = (double)(d->server_errors + d->drops + d->timeouts);
    return json_pack(
        "{s:o, s:o, s:f, s:s}", "resource_utilization_score",
        json_number_or_null(provisioned > 0 ? 100.0 * h->busy_replica_seconds / provisioned : NAN),
        "cost_efficiency_score", json_number_or_null(cost > 100 ? 100 : cost), "availability_score",
        d->arrivals ? 100.0 * (1.0 - failed / (double)d->arrivals) : 100.0, "performance_stability",
        performance_stability(api, now));
}

static json_t *thresholds_json(const autoscaler_config_t *c)
{
    return json_pack("{s:{s:f, s:f, s:i, s:f}, s:{s:f, s:f, s:f}, s:{s:f, s:f}}",
                     "scale_up_threshold", "cpu_percent", c->thresholds.cpu_threshold,
                     "memory_percent", c->thresholds.memory_threshold, "queue_length",
                     c->thresholds.queue_length_threshold, "response_time_ms",
                     c->thresholds.response_time_threshold_ms, "scale_down_threshold",
                     "cpu_percent", c->scale_down_threshold.cpu_percent, "memory_percent",
                     c->scale_down_threshold.memory_percent, "idle_time_minutes",
                     c->scale_down_threshold.idle_time_minutes, "zero_scale_threshold",
                     "idle_time_minutes", c->zero_scale_threshold.idle_time_minutes,
                     "no_requests_minutes", c->zero_scale_threshold.no_requests_minutes);
}

/* The gauge the model scales on (null, null when none) and every gauge
 * posted for it. */
static void add_custom_metrics(api_context_t *api, pool_t *pool, json_t *entry)
{
    const model_config_t *m = pool_model(pool);
    bool on = m->custom_metric_target > 0;
    json_object_set_new(entry, "custom_metric_name",
                        on ? json_string(m->custom_metric_name) : json_null());
    json_object_set_new(entry, "custom_metric_target",
                        on ? json_real(m->custom_metric_target) : json_null());
    json_object_set_new(entry, "custom_metrics",
                        autoscaler_custom_metrics_json(api->autoscaler, pool));
}

static json_t *per_model(api_context_t *api, double now)
{
    json_t *list = json_array();
    for (size_t i = 0; i < dispatch_pool_count(api->dispatch); i++) {
        pool_t *pool = dispatch_pool_at(api->dispatch, i);
        pool_counts_t c;
        pool_get_counts(pool, &c);
        autoscaler_model_view_t v;
        autoscaler_model_view(api->autoscaler, pool, &v);
        window_totals_t t;
        window_totals(pool_window(pool), now, RATE_WINDOW_S, &t);
        json_t *entry =
            json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:o, s:o, s:s, s:s, s:b, s:b}",
                      "model", pool_name(pool), "current_scale", c.ready, "starting", c.starting,
                      "draining", c.draining, "target_scale", c.desired, "in_flight",
                      (json_int_t)c.in_flight, "queue_length", (json_int_t)c.queued,
                      "requests_per_minute", (json_int_t)t.arrivals, "p95_response_time_ms",
                      json_number_or_null(window_latency_percentile(pool_window(pool), now,
                                                                    PERFORMANCE_WINDOW_S, 0.95)),
                      "replica_cpu_percent", json_number_or_null(pool_replica_cpu_percent(pool)),
                      "last_trigger", v.trigger, "last_reason", v.reason, "panicking", v.panicking,
                      "auto_managed", v.auto_managed);
        add_custom_metrics(api, pool, entry);
        json_array_append_new(list, entry);
    }
    return list;
}

void api_autoscaler_stats(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    (void)params;
    double now = time_mono_now();
    server_figures_t f;
    gather(api, now, &f);
    autoscaler_status_t st;
    autoscaler_get_status(api->autoscaler, &st);
    char stamp[32];
    api_format_timestamp(stamp);
    json_t *body = json_pack(
        "{s:b, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "success", 1, "timestamp", stamp,
        "autoscaler", stats_autoscaler(api, &f, &st), "models", stats_models(api, &f),
        "performance_metrics", stats_performance(&f), "resource_usage", stats_resources(&st),
        "scaling_metrics", stats_scaling(api), "queue_metrics", stats_queue(&f),
        "efficiency_metrics", stats_efficiency(api, &f, now), "thresholds",
        thresholds_json(autoscaler_config(api->autoscaler)), "per_model", per_model(api, now));
    api_reply_json(req, 200, body);
}

/* ---- GET /autoscaler/health ---- */

#define DISK_LOW_PERCENT 5.0
#define DISK_LOW_MB      1024.0

typedef struct health_checks {
    bool controller_late;
    bool collector_late;
    bool memory_low;
    bool disk_low;
    bool can_load;
    bool none_can_load;
    bool network_ok;
    double largest_replica_mb;
} health_checks_t;

static void run_checks(api_context_t *api, const autoscaler_status_t *st, health_checks_t *h)
{
    const autoscaler_config_t *cfg = autoscaler_config(api->autoscaler);
    double now = (double)time(NULL);
    double up = now - st->started_at;
    double decision_gap = isnan(st->last_decision_at) ? up : now - st->last_decision_at;
    double collection_gap = isnan(st->last_collection_at) ? up : now - st->last_collection_at;
    h->controller_late = decision_gap > 3 * cfg->timing.decision_interval_seconds + 1;
    h->collector_late = collection_gap > 3 * cfg->timing.metrics_collection_interval_seconds + 1;
    h->largest_replica_mb = 0;
    for (size_t i = 0; i < dispatch_pool_count(api->dispatch); i++) {
        pool_t *pool = dispatch_pool_at(api->dispatch, i);
        pool_counts_t c;
        pool_get_counts(pool, &c);
        if (c.ready > 0 && pool_replica_memory_mb(pool) > h->largest_replica_mb)
            h->largest_replica_mb = pool_replica_memory_mb(pool);
    }
    const system_sample_t *s = &st->system;
    h->memory_low = st->have_system && s->memory_available_mb < h->largest_replica_mb;
    h->disk_low = st->have_system && isfinite(s->disk_free_mb) &&
                  (s->disk_free_mb < DISK_LOW_MB || 100.0 - s->disk_percent < DISK_LOW_PERCENT);
    /* FIELDS.md: the last replica start succeeded, or none was tried and a
     * worker can be spawned. */
    h->can_load = st->last_start_succeeded == 1 ||
                  (st->last_start_succeeded < 0 && access(api->worker_exe, X_OK) == 0);
    int ready_models = 0;
    for (size_t i = 0; i < dispatch_pool_count(api->dispatch); i++) {
        pool_counts_t c;
        pool_get_counts(dispatch_pool_at(api->dispatch, i), &c);
        ready_models += c.ready > 0;
    }
    /* Unhealthy only when no model can serve: the last start failed and not
     * one model has a ready replica. */
    h->none_can_load = !h->can_load && ready_models == 0;
    h->network_ok = !api->shutting_down;
}

static const char *overall_status(const autoscaler_config_t *cfg, const autoscaler_status_t *st,
                                  const health_checks_t *h)
{
    if (!cfg->enabled)
        return "disabled";
    if (h->controller_late || h->collector_late || h->none_can_load)
        return "unhealthy";
    double now = (double)time(NULL);
    bool recent_failure =
        isfinite(st->last_load_failure_at) && now - st->last_load_failure_at < 600;
    if (st->crash_looping || h->memory_low || h->disk_low || recent_failure || !h->can_load)
        return "degraded";
    return "healthy";
}

static json_t *recent_activity(api_context_t *api)
{
    store_t *store = autoscaler_store(api->autoscaler);
    double hour_ago = (double)time(NULL) - 3600.0;
    char type[32];
    double last = last_scale_event(store, type, sizeof(type));
    const char *direction = NULL;
    if (type[0])
        direction =
            strcmp(type, "scale_down") == 0 || strcmp(type, "zero_scale") == 0 ? "down" : "up";
    long ups = store_count_events(store, "scale_up", hour_ago);
    long downs = store_count_events(store, "scale_down", hour_ago);
    long zeros = store_count_events(store, "zero_scale", hour_ago);
    bool ok = ups >= 0 && downs >= 0 && zeros >= 0;
    return json_pack("{s:o, s:s?, s:o, s:o}", "last_scale_event", unix_time(last),
                     "last_scale_direction", direction, "scale_events_1h",
                     count_or_null(ok ? ups + downs + zeros : -1), "zero_scale_events_1h",
                     count_or_null(zeros));
}

static const char *component(bool ok)
{
    return ok ? "healthy" : "unhealthy";
}

void api_autoscaler_health(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    (void)params;
    const autoscaler_config_t *cfg = autoscaler_config(api->autoscaler);
    autoscaler_status_t st;
    autoscaler_get_status(api->autoscaler, &st);
    health_checks_t h;
    run_checks(api, &st, &h);
    const char *status = overall_status(cfg, &st, &h);
    unsigned loads = st.loads_succeeded_24h + st.loads_failed_24h;
    char stamp[32];
    api_format_timestamp(stamp);
    json_t *components = json_pack(
        "{s:{s:s, s:o, s:o}, s:{s:s, s:I, s:o}, s:{s:s, s:I, s:o}, s:{s:s, s:f, s:I}}",
        "metrics_collector", "status", component(!h.collector_late), "last_update",
        unix_time(st.last_collection_at), "collection_cost_us",
        json_number_or_null(st.collection_cost_us), "decision_engine", "status",
        component(!h.controller_late), "decisions_per_minute", (json_int_t)st.decisions_last_minute,
        "accuracy_percent", json_number_or_null(autoscaler_accuracy_percent(api->autoscaler)),
        "model_manager", "status", component(h.can_load), "managed_models",
        (json_int_t)dispatch_pool_count(api->dispatch), "load_success_rate",
        json_number_or_null(loads ? 100.0 * st.loads_succeeded_24h / loads : NAN),
        "resource_monitor", "status", component(!h.collector_late), "monitoring_interval_seconds",
        cfg->timing.metrics_collection_interval_seconds, "data_points_collected",
        (json_int_t)st.data_points);
    json_t *configuration = json_pack(
        "{s:b, s:i, s:i, s:f, s:f, s:f}", "zero_scaling_enabled", cfg->zero_scaling_enabled,
        "min_replicas", cfg->replicas.min_replicas, "max_replicas", cfg->replicas.max_replicas,
        "target_cpu_utilization", cfg->thresholds.cpu_threshold, "scale_up_cooldown_seconds",
        cfg->cooldowns.scale_up_cooldown_seconds, "scale_down_cooldown_seconds",
        cfg->cooldowns.scale_down_cooldown_seconds);
    json_t *checks =
        json_pack("{s:b, s:b, s:s, s:b, s:s}", "gpu_availability",
                  st.have_system && st.system.gpu_available, "model_loading_capability", h.can_load,
                  "memory_allocation", h.memory_low ? "low" : "sufficient", "network_connectivity",
                  h.network_ok, "disk_space", h.disk_low ? "low" : "sufficient");
    double uptime = time_unix_now() - st.started_at;
    json_t *body =
        json_pack("{s:s, s:s, s:{s:s, s:b, s:o, s:f, s:s}, s:o, s:o, s:o, s:o}", "status", status,
                  "timestamp", stamp, "autoscaler", "status",
                  strcmp(status, "unhealthy") == 0 ? "failing" : "operational", "enabled",
                  cfg->enabled, "last_heartbeat", unix_time(st.last_decision_at), "uptime_seconds",
                  uptime, "version", INFERD_VERSION, "components", components, "configuration",
                  configuration, "recent_activity", recent_activity(api), "system_checks", checks);
    json_object_set_new(body, "notifications", webhook_stats_json(api->webhook));
    api_reply_json(req, strcmp(status, "unhealthy") == 0 ? 503 : 200, body);
}

/* ---- POST /autoscaler/scale ---- */

#define SCALE_MAX_MODELS 16

static int read_models(http_request_t *req, const json_t *body, const char **names, size_t *n,
                       bool *given)
{
    json_t *models = json_object_get(body, "models");
    *given = models != NULL && !json_is_null(models);
    *n = 0;
    if (!*given)
        return 0;
    if (!json_is_array(models) || json_array_size(models) > SCALE_MAX_MODELS) {
        api_reply_error(req, 400, "invalid_request",
                        "field 'models' must be an array of at most %d model names",
                        SCALE_MAX_MODELS);
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach (models, i, v) {
        if (!json_is_string(v)) {
            api_reply_error(req, 400, "invalid_request",
                            "field 'models' must be an array of strings (models[%zu] is not)", i);
            return -1;
        }
        names[(*n)++] = json_string_value(v);
    }
    return 0;
}

static int read_bool(http_request_t *req, const json_t *body, const char *name, bool *out)
{
    json_t *v = json_object_get(body, name);
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        api_reply_error(req, 400, "invalid_request", "field '%s' must be true or false", name);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

void api_autoscaler_scale(http_request_t *req, const route_params_t *params, void *ctx)
{
    static const char *const known[] = {"action", "target_replicas", "models", "override_cooldown",
                                        "reason", "force",           NULL};
    api_context_t *api = ctx;
    (void)params;
    json_t *body = api_read_object(req);
    if (!body)
        return;
    const char *names[SCALE_MAX_MODELS];
    bool models_given = false;
    long long target = -1;
    scale_request_t sr = {.target_replicas = -1, .reason = ""};
    if (api_reject_unknown_fields(req, body, known) < 0 ||
        api_field_string(req, body, "action", true, &sr.action) < 0 ||
        api_field_int(req, body, "target_replicas", false, 0, CONFIG_REPLICAS_LIMIT, &target) < 0 ||
        api_field_string(req, body, "reason", false, &sr.reason) < 0 ||
        read_models(req, body, names, &sr.n_models, &models_given) < 0 ||
        read_bool(req, body, "override_cooldown", &sr.override_cooldown) < 0 ||
        read_bool(req, body, "force", &sr.force) < 0)
        goto done;
    if (api->shutting_down) {
        api_reply_error(req, 503, "shutting_down", "the server is shutting down");
        goto done;
    }
    sr.target_replicas = (int)target;
    sr.models = models_given ? names : NULL;
    int status;
    json_t *answer;
    autoscaler_scale(api->autoscaler, &sr, &status, &answer);
    api_reply_json(req, status, answer);
done:
    json_decref(body);
}

void api_autoscaler_scale_get(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    const char *id = route_param(params, "scaling_id");
    json_t *op = autoscaler_operation_json(api->autoscaler, id);
    if (!op) {
        api_reply_error(req, 404, "scaling_operation_not_found",
                        "no scaling operation '%s' (the latest %d are kept)", id, 256);
        return;
    }
    api_reply_json(req, 200, op);
}
