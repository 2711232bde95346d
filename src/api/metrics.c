/* metrics.c - GET /metrics: the server in the Prometheus text format.
 *
 * Everything is read at scrape time from what the modules already keep: the
 * pools' totals since start (counters and histograms, never reset) and
 * their live counts (gauges), the autoscaler's status, and the scaling
 * events counted here as the store records them. Counters are cumulative
 * since the server started, as Prometheus expects; rates and windows are
 * the query's business (rate(), histogram_quantile()).
 *
 * A figure that cannot be measured yet (no collection or decision so far)
 * is left out rather than written as a stand-in number; its family's HELP
 * and TYPE lines are still there.
 */
#include "api/metrics.h"
#include "api/api.h"
#include "api/request.h"
#include "metrics/prometheus.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OTHER "other"

typedef struct event_pair {
    char type[API_METRICS_NAME_MAX + 1];
    char trigger[API_METRICS_NAME_MAX + 1];
    uint64_t count;
} event_pair_t;

struct api_metrics {
    double start_unix;
    size_t n_pairs;
    /* The last slot is ("other", "other"), so overflow always has a home. */
    event_pair_t pairs[API_METRICS_EVENT_PAIRS];
};

/* ---- scaling events by type and trigger ---- */

api_metrics_t *api_metrics_new(store_t *store)
{
    api_metrics_t *m = xcalloc(1, sizeof(*m));
    m->start_unix = time_unix_now();
    event_pair_t *other = &m->pairs[API_METRICS_EVENT_PAIRS - 1];
    snprintf(other->type, sizeof(other->type), OTHER);
    snprintf(other->trigger, sizeof(other->trigger), OTHER);
    if (store && store_add_event_observer(store, api_metrics_observe_event, m) < 0)
        log_warn("metrics", "no room for another store observer; "
                            "inferd_scaling_events_total stays at zero");
    return m;
}

void api_metrics_free(api_metrics_t *m)
{
    free(m);
}

double api_metrics_start_time(const api_metrics_t *m)
{
    return m->start_unix;
}

static event_pair_t *find_pair(api_metrics_t *m, const char *type, const char *trigger)
{
    for (size_t i = 0; i < m->n_pairs; i++)
        if (strcmp(m->pairs[i].type, type) == 0 && strcmp(m->pairs[i].trigger, trigger) == 0)
            return &m->pairs[i];
    return NULL;
}

static const char *fitting(const char *s)
{
    return strlen(s) <= API_METRICS_NAME_MAX ? s : OTHER;
}

/* Where an event of (type, trigger) is counted, per the rules in metrics.h. */
static event_pair_t *slot_for(api_metrics_t *m, const char *type, const char *trigger)
{
    event_pair_t *other = &m->pairs[API_METRICS_EVENT_PAIRS - 1];
    if (strcmp(type, OTHER) == 0 && strcmp(trigger, OTHER) == 0)
        return other;
    event_pair_t *pair = find_pair(m, type, trigger);
    if (pair)
        return pair;
    if (m->n_pairs < API_METRICS_EVENT_PAIRS - 1) {
        pair = &m->pairs[m->n_pairs++];
        snprintf(pair->type, sizeof(pair->type), "%s", type);
        snprintf(pair->trigger, sizeof(pair->trigger), "%s", trigger);
        return pair;
    }
    pair = find_pair(m, type, OTHER);
    return pair ? pair : other;
}

void api_metrics_count_event(api_metrics_t *m, const char *type, const char *trigger)
{
    slot_for(m, fitting(type ? type : OTHER), fitting(trigger ? trigger : "none"))->count++;
}

void api_metrics_observe_event(const json_t *event, store_event_phase_t phase, void *ctx)
{
    if (phase != STORE_EVENT_RECORDED)
        return;
    api_metrics_count_event(ctx, json_string_value(json_object_get(event, "type")),
                            json_string_value(json_object_get(event, "trigger")));
}

size_t api_metrics_event_pairs(const api_metrics_t *m)
{
    return m->n_pairs + (m->pairs[API_METRICS_EVENT_PAIRS - 1].count > 0);
}

void api_metrics_event_pair(const api_metrics_t *m, size_t i, const char **type,
                            const char **trigger, uint64_t *count)
{
    const event_pair_t *p = i < m->n_pairs ? &m->pairs[i] : &m->pairs[API_METRICS_EVENT_PAIRS - 1];
    *type = p->type;
    *trigger = p->trigger;
    *count = p->count;
}

/* ---- per-model families ---- */

typedef struct model_snapshot {
    prometheus_label_t label; /* model="name" */
    pool_counts_t counts;
    pool_totals_t totals;
    double max_queue_length;
} model_snapshot_t;

typedef struct model_family {
    const char *name;
    const char *type;
    const char *help;
    double (*value)(const model_snapshot_t *s);
} model_family_t;

static double requests_total(const model_snapshot_t *s)
{
    return (double)s->totals.arrivals;
}

static double in_flight(const model_snapshot_t *s)
{
    return s->counts.in_flight;
}

static double queue_length(const model_snapshot_t *s)
{
    return (double)s->counts.queued;
}

static double queue_capacity(const model_snapshot_t *s)
{
    return s->max_queue_length;
}

static double replicas_busy(const model_snapshot_t *s)
{
    return s->counts.busy;
}

static double replicas_desired(const model_snapshot_t *s)
{
    return s->counts.desired;
}

static double cold_starts(const model_snapshot_t *s)
{
    return (double)s->totals.cold_starts;
}

static const model_family_t request_families[] = {
    {"inferd_requests_total", "counter",
     "Requests received for the model (POST /predict and /synthesize that named it), since start.",
     requests_total},
    {"inferd_requests_in_flight", "gauge", "Requests running on the model's replicas now.",
     in_flight},
    {"inferd_queue_length", "gauge", "Requests waiting in the model's queue now.", queue_length},
    {"inferd_queue_capacity", "gauge", "The model's max_queue_length.", queue_capacity},
};

static const model_family_t replica_families[] = {
    {"inferd_replicas_busy", "gauge", "Ready replicas with at least one request in flight now.",
     replicas_busy},
    {"inferd_replicas_desired", "gauge", "Replicas the model's pool is keeping (its target) now.",
     replicas_desired},
    {"inferd_cold_starts_total", "counter",
     "Requests that found the model with no replica and started one, since start.", cold_starts},
};

static void write_model_families(buf_t *out, const model_family_t *families, size_t n_families,
                                 const model_snapshot_t *snaps, size_t n)
{
    for (size_t f = 0; f < n_families; f++) {
        prometheus_write_family(out, families[f].name, families[f].type, families[f].help);
        for (size_t i = 0; i < n; i++)
            prometheus_write_sample(out, families[f].name, &snaps[i].label, 1,
                                    families[f].value(&snaps[i]));
    }
}

static void write_outcomes(buf_t *out, const model_snapshot_t *snaps, size_t n)
{
    const char *name = "inferd_responses_total";
    prometheus_write_family(out, name, "counter",
                            "Requests answered, by outcome: success (2xx), client_error (4xx, "
                            "499 client_gone included), server_error (other 5xx), dropped "
                            "(503 queue_full), timeout (504), since start.");
    for (size_t i = 0; i < n; i++) {
        const pool_totals_t *t = &snaps[i].totals;
        const struct {
            const char *outcome;
            uint64_t count;
        } rows[] = {{"success", t->successes},
                    {"client_error", t->client_errors},
                    {"server_error", t->server_errors},
                    {"dropped", t->dropped},
                    {"timeout", t->timeouts}};
        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
            prometheus_label_t labels[2] = {snaps[i].label, {"outcome", rows[r].outcome}};
            prometheus_write_sample(out, name, labels, 2, (double)rows[r].count);
        }
    }
}

static void write_replicas(buf_t *out, const model_snapshot_t *snaps, size_t n)
{
    const char *name = "inferd_replicas";
    prometheus_write_family(out, name, "gauge",
                            "Replica processes of the model now, by state: starting (loading), "
                            "ready (serving, busy ones included), draining (finishing, then "
                            "stopping).");
    for (size_t i = 0; i < n; i++) {
        const pool_counts_t *c = &snaps[i].counts;
        const struct {
            const char *state;
            int count;
        } rows[] = {{"starting", c->starting}, {"ready", c->ready}, {"draining", c->draining}};
        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
            prometheus_label_t labels[2] = {snaps[i].label, {"state", rows[r].state}};
            prometheus_write_sample(out, name, labels, 2, rows[r].count);
        }
    }
}

static void write_histograms(buf_t *out, const model_snapshot_t *snaps, size_t n)
{
    prometheus_write_family(out, "inferd_request_duration_seconds", "histogram",
                            "Time from a request's acceptance to its answer, gateway clock, "
                            "every outcome but dropped, since start.");
    for (size_t i = 0; i < n; i++) {
        const pool_totals_t *t = &snaps[i].totals;
        prometheus_write_histogram(out, "inferd_request_duration_seconds", &snaps[i].label, 1,
                                   t->latency_bounds, POOL_LATENCY_BOUNDS, t->latency_counts,
                                   t->latency_sum_seconds);
    }
    prometheus_write_family(out, "inferd_cold_start_duration_seconds", "histogram",
                            "Time from a cold start to the model's first replica ready after "
                            "it, gateway clock, since start.");
    for (size_t i = 0; i < n; i++) {
        const pool_totals_t *t = &snaps[i].totals;
        prometheus_write_histogram(out, "inferd_cold_start_duration_seconds", &snaps[i].label, 1,
                                   t->cold_start_bounds, POOL_COLD_START_BOUNDS,
                                   t->cold_start_counts, t->cold_start_sum_seconds);
    }
}

static void write_models(buf_t *out, api_context_t *api)
{
    size_t n = dispatch_pool_count(api->dispatch);
    model_snapshot_t *snaps = xcalloc(n ? n : 1, sizeof(*snaps));
    for (size_t i = 0; i < n; i++) {
        const pool_t *pool = dispatch_pool_at(api->dispatch, i);
        snaps[i].label = (prometheus_label_t){"model", pool_name(pool)};
        pool_get_counts(pool, &snaps[i].counts);
        pool_get_totals(pool, &snaps[i].totals);
        snaps[i].max_queue_length = pool_model(pool)->max_queue_length;
    }
    write_model_families(out, request_families,
                         sizeof(request_families) / sizeof(request_families[0]), snaps, n);
    write_outcomes(out, snaps, n);
    write_histograms(out, snaps, n);
    write_replicas(out, snaps, n);
    write_model_families(out, replica_families,
                         sizeof(replica_families) / sizeof(replica_families[0]), snaps, n);
    free(snaps);
}

/* ---- server-wide families ---- */

static void write_scaling_events(buf_t *out, const api_metrics_t *m)
{
    const char *name = "inferd_scaling_events_total";
    prometheus_write_family(out, name, "counter",
                            "Scaling events recorded in the event store since start, by type "
                            "(scale_up, scale_down, zero_scale, cold_start, ...) and trigger.");
    for (size_t i = 0; m && i < api_metrics_event_pairs(m); i++) {
        const char *type, *trigger;
        uint64_t count;
        api_metrics_event_pair(m, i, &type, &trigger, &count);
        prometheus_label_t labels[2] = {{"type", type}, {"trigger", trigger}};
        prometheus_write_sample(out, name, labels, 2, (double)count);
    }
}

static void write_gauge(buf_t *out, const char *name, const char *help, double value)
{
    prometheus_write_family(out, name, "gauge", help);
    if (isfinite(value))
        prometheus_write_sample(out, name, NULL, 0, value);
}

/* A clock is late as GET /autoscaler/health says: nothing for more than
 * three intervals and a second, counted from start before the first. */
static bool on_time(double last, double started, double interval, double now)
{
    double gap = isnan(last) ? now - started : now - last;
    return gap <= 3 * interval + 1;
}

static void write_autoscaler(buf_t *out, api_context_t *api)
{
    autoscaler_status_t st;
    autoscaler_get_status(api->autoscaler, &st);
    const autoscaler_config_t *cfg = autoscaler_config(api->autoscaler);
    double now = time_unix_now();
    bool deciding =
        on_time(st.last_decision_at, st.started_at, cfg->timing.decision_interval_seconds, now);
    bool collecting = on_time(st.last_collection_at, st.started_at,
                              cfg->timing.metrics_collection_interval_seconds, now);

    write_gauge(out, "inferd_autoscaler_enabled",
                "1 when the autoscaler may resize models (live configuration), else 0.",
                cfg->enabled);
    write_gauge(out, "inferd_autoscaler_up",
                "1 when the autoscaler is enabled and its decision clock is on time (a tick "
                "within 3 decision intervals + 1 s), else 0.",
                cfg->enabled && deciding);
    write_gauge(out, "inferd_autoscaler_last_decision_timestamp_seconds",
                "Unix time of the latest decision tick; absent before the first.",
                st.last_decision_at);
    write_gauge(out, "inferd_autoscaler_decisions_last_minute",
                "Policy evaluations in the last 60 s.", st.decisions_last_minute);
    write_gauge(out, "inferd_autoscaler_scaling_in_progress",
                "1 while a scaling operation is under way, else 0.", st.scaling_in_progress);
    write_gauge(out, "inferd_autoscaler_crash_looping",
                "1 while some model has failed 3 or more replica starts or runs in a row.",
                st.crash_looping);
    write_gauge(out, "inferd_autoscaler_collector_up",
                "1 when the metrics collector is on time (a collection within 3 collection "
                "intervals + 1 s), else 0.",
                collecting);
    write_gauge(out, "inferd_autoscaler_last_collection_timestamp_seconds",
                "Unix time of the latest completed collection; absent before the first.",
                st.last_collection_at);
    write_gauge(out, "inferd_autoscaler_collection_cost_seconds",
                "CPU time the latest collection took; absent before the first.",
                st.data_points > 0 ? st.collection_cost_us / 1e6 : NAN);
    prometheus_write_family(out, "inferd_autoscaler_collections_total", "counter",
                            "Collections of machine and replica figures completed since start.");
    prometheus_write_sample(out, "inferd_autoscaler_collections_total", NULL, 0,
                            (double)st.data_points);
}

static void write_process(buf_t *out, const api_metrics_t *m)
{
    prometheus_label_t version = {"version", INFERD_VERSION};
    prometheus_write_family(out, "inferd_build_info", "gauge",
                            "Always 1; the version label names the running inferd.");
    prometheus_write_sample(out, "inferd_build_info", &version, 1, 1);
    write_gauge(out, "inferd_start_time_seconds", "Unix time at which the server started.",
                m ? api_metrics_start_time(m) : NAN);
}

void api_metrics(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    (void)params;
    buf_t out = BUF_INIT;
    buf_reserve(&out, 16384);
    write_process(&out, api->metrics);
    write_models(&out, api);
    write_scaling_events(&out, api->metrics);
    write_autoscaler(&out, api);
    http_respond(req, 200, PROMETHEUS_CONTENT_TYPE, out.data, out.len, NULL);
    buf_free(&out);
}
