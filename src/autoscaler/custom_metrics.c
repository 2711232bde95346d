/* custom_metrics.c - per-model gauges set from outside (POST
 * /autoscaler/metrics) and the one the policy scales on.
 *
 * Each model keeps a small fixed table of named gauges, each with its last
 * value and when it was set, so a sender cannot grow the gateway's memory
 * by inventing names. Only the latest value counts: a gauge is a reading
 * of something outside (a queue upstream, a batch backlog), not a series
 * to aggregate. A gauge not set for a stable window is stale: the policy
 * ignores it, and a new name may take its slot.
 */
#include "autoscaler/internal.h"
#include "util/json_number.h"
#include "util/log.h"
#include "util/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool gauge_stale(const autoscaler_t *a, const custom_gauge_t *g, double now)
{
    return now - g->at_mono > a->cfg.reactive.stable_window_seconds;
}

static const custom_gauge_t *find_gauge(const model_state_t *ms, const char *name)
{
    if (!name || !name[0])
        return NULL;
    for (size_t i = 0; i < AUTOSCALER_CUSTOM_METRICS_MAX; i++)
        if (ms->custom[i].name[0] && strcmp(ms->custom[i].name, name) == 0)
            return &ms->custom[i];
    return NULL;
}

/* The gauge's own slot, else a free one, else the stalest stale one. */
static custom_gauge_t *slot_for(const autoscaler_t *a, model_state_t *ms, const char *name,
                                double now)
{
    custom_gauge_t *own = (custom_gauge_t *)find_gauge(ms, name);
    if (own)
        return own;
    custom_gauge_t *best = NULL;
    for (size_t i = 0; i < AUTOSCALER_CUSTOM_METRICS_MAX; i++) {
        custom_gauge_t *g = &ms->custom[i];
        if (!g->name[0])
            return g;
        if (gauge_stale(a, g, now) && (!best || g->at_mono < best->at_mono))
            best = g;
    }
    return best;
}

static bool scales_on(const autoscaler_t *a, const pool_t *pool, const char *name)
{
    const model_config_t *mc = pool_model(pool);
    return a->cfg.advanced.custom_metrics_enabled && mc->custom_metric_target > 0 &&
           strcmp(mc->custom_metric_name, name) == 0;
}

int autoscaler_record_custom_metric(autoscaler_t *a, pool_t *pool, const char *name, double value,
                                    double *recorded_at, char *err, size_t errlen)
{
    model_state_t *ms = autoscaler_model_state(a, pool);
    char msg[256];
    if (!ms || !name || config_check_metric_name(name, strlen(name), msg, sizeof(msg)) < 0 ||
        !isfinite(value)) {
        snprintf(err, errlen, "a custom metric needs a valid name and a finite value");
        return AUTOSCALER_CUSTOM_BAD;
    }
    double now = time_mono_now();
    custom_gauge_t *g = slot_for(a, ms, name, now);
    if (!g) {
        snprintf(err, errlen,
                 "model '%s' already has %d custom metrics, each set within the last %g s "
                 "(reactive.stable_window_seconds); a new name takes the place of one not set "
                 "for that long",
                 pool_name(pool), AUTOSCALER_CUSTOM_METRICS_MAX,
                 a->cfg.reactive.stable_window_seconds);
        return AUTOSCALER_CUSTOM_FULL;
    }
    if (strcmp(g->name, name) != 0) {
        if (g->name[0])
            log_info("autoscaler", "custom metric replaced model=%s stale=%s name=%s",
                     pool_name(pool), g->name, name);
        snprintf(g->name, sizeof(g->name), "%s", name);
    }
    g->value = value;
    g->at_mono = now;
    g->at_unix = time_unix_now();
    if (recorded_at)
        *recorded_at = g->at_unix;
    log_debug("autoscaler", "custom metric model=%s name=%s value=%g", pool_name(pool), name,
              value);
    return 0;
}

json_t *autoscaler_custom_metrics_json(const autoscaler_t *a, const pool_t *pool)
{
    json_t *out = json_object();
    const model_state_t *ms = autoscaler_model_state((autoscaler_t *)a, pool);
    if (!ms)
        return out;
    double now = time_mono_now();
    for (size_t i = 0; i < AUTOSCALER_CUSTOM_METRICS_MAX; i++) {
        const custom_gauge_t *g = &ms->custom[i];
        if (!g->name[0])
            continue;
        char stamp[TIME_ISO_LEN];
        json_t *at = time_format_iso(g->at_unix, stamp) == 0 ? json_string(stamp) : json_null();
        json_object_set_new(
            out, g->name,
            json_pack("{s:o, s:f, s:o, s:b, s:b}", "value", json_number_or_null(g->value),
                      "age_seconds", now - g->at_mono, "recorded_at", at, "stale",
                      gauge_stale(a, g, now), "used_by_policy", scales_on(a, pool, g->name)));
    }
    return out;
}

void custom_metric_fill_input(const autoscaler_t *a, const model_state_t *ms, double now,
                              policy_input_t *in)
{
    const model_config_t *mc = pool_model(ms->pool);
    in->custom_metric_target = 0;
    in->custom_metric_value = NAN;
    in->custom_metric_age = NAN;
    in->custom_metric_name = NULL;
    if (!scales_on(a, ms->pool, mc->custom_metric_name))
        return;
    in->custom_metric_target = mc->custom_metric_target;
    in->custom_metric_name = mc->custom_metric_name;
    const custom_gauge_t *g = find_gauge(ms, mc->custom_metric_name);
    if (!g)
        return;
    in->custom_metric_value = g->value;
    in->custom_metric_age = now - g->at_mono;
}
