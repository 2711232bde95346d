/* analysis.c - summary, patterns and recommendations for the history
 * endpoint (see analysis.h; the rules are spelled out in docs/api.md).
 *
 * Hours are clock hours in UTC. A clock hour's rate is its requests scaled
 * to a full hour by the minutes the server was up in it, so an hour the
 * server was down for half of does not look quiet.
 */
#include "history/analysis.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define HOURS_PER_DAY 24

static bool is_scaling_type(const char *type)
{
    return type && (strcmp(type, "scale_up") == 0 || strcmp(type, "scale_down") == 0 ||
                    strcmp(type, "zero_scale") == 0 || strcmp(type, "cold_start") == 0);
}

static const char *event_str(const json_t *e, const char *key)
{
    return json_string_value(json_object_get(e, key));
}

static double event_num(const json_t *e, const char *key)
{
    const json_t *v = json_object_get(e, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static int hour_of_day(int64_t unix_hour)
{
    return (int)(((unix_hour % HOURS_PER_DAY) + HOURS_PER_DAY) % HOURS_PER_DAY);
}

static double hour_rate(const store_traffic_hour_t *h)
{
    return h->minutes ? (double)h->requests * 60.0 / (double)h->minutes : 0.0;
}

static double period_hours(const history_input_t *in)
{
    double h = (in->until_unix - in->since_unix) / 3600.0;
    return h > 0 ? h : 0;
}

/* ---- summary ---- */

json_t *history_summary(const history_input_t *in)
{
    size_t n = json_array_size(in->events);
    long up = 0, down = 0, zero = 0, cold = 0, failed = 0, timed = 0;
    double duration_sum = 0, score_sum = 0;
    size_t scored = 0;

    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(in->events, i);
        const char *type = event_str(e, "type");
        up += str_eq(type, "scale_up");
        down += str_eq(type, "scale_down");
        zero += str_eq(type, "zero_scale");
        cold += str_eq(type, "cold_start");
        failed += json_is_false(json_object_get(e, "success"));
        double d = event_num(e, "duration_seconds");
        if (is_scaling_type(type) && json_is_true(json_object_get(e, "success")) && isfinite(d)) {
            duration_sum += d;
            timed++;
        }
    }
    /* One cost_efficiency_score per clock hour in which replicas ran: the
     * figure GET /autoscaler/stats gives for the hour, read back. */
    for (size_t i = 0; i < in->n_hours; i++) {
        const store_traffic_hour_t *h = &in->hours[i];
        if (h->replica_seconds <= 0)
            continue;
        double score = 100.0 * h->needed_replica_seconds / h->replica_seconds;
        score_sum += score > 100 ? 100 : score;
        scored++;
    }
    json_t *avg = timed ? json_real(duration_sum / (double)timed) : json_null();
    json_t *eff = scored ? json_real(score_sum / (double)scored) : json_null();
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "total_events", (json_int_t)n,
                     "scale_up_events", (json_int_t)up, "scale_down_events", (json_int_t)down,
                     "zero_scale_events", (json_int_t)zero, "cold_start_events", (json_int_t)cold,
                     "failed_events", (json_int_t)failed, "average_scale_duration_seconds", avg,
                     "efficiency_score", eff);
}

/* ---- patterns ---- */

typedef struct day_profile {
    double rate[HOURS_PER_DAY]; /* mean rate of each hour of day */
    bool observed[HOURS_PER_DAY];
    double mean;       /* mean rate over observed clock hours */
    double requests;   /* in all */
    double up_hours;   /* minutes observed / 60 */
    size_t n_observed; /* clock hours with at least one minute */
} day_profile_t;

static void build_profile(const history_input_t *in, day_profile_t *p)
{
    double sum[HOURS_PER_DAY] = {0};
    unsigned count[HOURS_PER_DAY] = {0};
    double total_rate = 0;

    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < in->n_hours; i++) {
        const store_traffic_hour_t *h = &in->hours[i];
        if (h->minutes == 0)
            continue;
        int d = hour_of_day(h->hour);
        sum[d] += hour_rate(h);
        count[d]++;
        total_rate += hour_rate(h);
        p->requests += (double)h->requests;
        p->up_hours += (double)h->minutes / 60.0;
        p->n_observed++;
    }
    for (int d = 0; d < HOURS_PER_DAY; d++) {
        p->observed[d] = count[d] > 0;
        p->rate[d] = count[d] ? sum[d] / count[d] : 0;
    }
    p->mean = p->n_observed ? total_rate / (double)p->n_observed : 0;
}

/* Runs of flagged hours of day as "HH:00-HH:00" (end exclusive), a run
 * through midnight joined into one ("22:00-06:00"). */
static json_t *hour_ranges(const bool flag[HOURS_PER_DAY])
{
    json_t *out = json_array();
    int start = 0, all = 1;
    for (int d = 0; d < HOURS_PER_DAY; d++)
        all &= flag[d];
    if (all) {
        json_array_append_new(out, json_string("00:00-24:00"));
        return out;
    }
    /* Start scanning just after an unflagged hour, so no run is split. */
    while (flag[start])
        start++;
    for (int k = 1; k <= HOURS_PER_DAY; k++) {
        int d = (start + k) % HOURS_PER_DAY;
        if (!flag[d])
            continue;
        int len = 0;
        while (flag[(d + len) % HOURS_PER_DAY])
            len++;
        char text[16];
        snprintf(text, sizeof(text), "%02d:00-%02d:00", d, (d + len) % HOURS_PER_DAY);
        json_array_append_new(out, json_string(text));
        k += len;
    }
    return out;
}

static void flag_hours(const day_profile_t *p, double ratio, bool above, bool out[HOURS_PER_DAY])
{
    for (int d = 0; d < HOURS_PER_DAY; d++) {
        out[d] = false;
        if (!p->observed[d] || p->requests <= 0)
            continue;
        out[d] = above ? p->rate[d] > ratio * p->mean : p->rate[d] < ratio * p->mean;
    }
}

static const char *frequency_name(double per_hour)
{
    if (per_hour <= 0)
        return "none";
    if (per_hour < 1)
        return "low";
    return per_hour < 6 ? "moderate" : "high";
}

#define MAX_TRIGGERS 16 /* distinct triggers counted; the policy has about ten */

typedef struct trigger_counts {
    size_t n;
    const char *name[MAX_TRIGGERS];
    size_t count[MAX_TRIGGERS];
} trigger_counts_t;

static void count_trigger(trigger_counts_t *c, const char *trigger)
{
    size_t k = 0;
    if (!trigger)
        return;
    while (k < c->n && !str_eq(c->name[k], trigger))
        k++;
    if (k == c->n) {
        if (c->n == MAX_TRIGGERS)
            return;
        c->name[c->n++] = trigger;
    }
    c->count[k]++;
}

/* The most counted; ties go to the name that sorts first, so the answer
 * does not depend on event order. NULL when none was counted. */
static const char *top_trigger(const trigger_counts_t *c)
{
    const char *best = NULL;
    size_t best_count = 0;
    for (size_t k = 0; k < c->n; k++)
        if (c->count[k] > best_count ||
            (c->count[k] == best_count && best && strcmp(c->name[k], best) < 0)) {
            best = c->name[k];
            best_count = c->count[k];
        }
    return best;
}

static const char *most_common_trigger(const json_t *events)
{
    trigger_counts_t counts = {0};
    for (size_t i = 0; i < json_array_size(events); i++) {
        const json_t *e = json_array_get(events, i);
        if (is_scaling_type(event_str(e, "type")))
            count_trigger(&counts, event_str(e, "trigger"));
    }
    return top_trigger(&counts);
}

static size_t count_scaling_events(const json_t *events)
{
    size_t count = 0;
    for (size_t i = 0; i < json_array_size(events); i++)
        count += is_scaling_type(event_str(json_array_get(events, i), "type"));
    return count;
}

json_t *history_patterns(const history_input_t *in)
{
    day_profile_t p;
    bool peak[HOURS_PER_DAY], low[HOURS_PER_DAY];
    build_profile(in, &p);
    flag_hours(&p, HISTORY_PEAK_RATIO, true, peak);
    flag_hours(&p, HISTORY_LOW_RATIO, false, low);

    double hours = period_hours(in);
    double per_hour = hours > 0 ? (double)count_scaling_events(in->events) / hours : 0;
    const char *trigger = most_common_trigger(in->events);
    return json_pack("{s:o, s:o, s:o, s:f, s:f, s:s, s:o}", "peak_hours", hour_ranges(peak),
                     "low_traffic_hours", hour_ranges(low), "average_requests_per_hour",
                     p.up_hours > 0 ? json_real(p.requests / p.up_hours) : json_null(),
                     "observed_hours", p.up_hours, "scaling_events_per_hour", per_hour,
                     "scaling_frequency", frequency_name(per_hour), "most_common_trigger",
                     trigger ? json_string(trigger) : json_null());
}

/* ---- recommendations ---- */

typedef struct recs {
    json_t *messages;
    json_t *details;
} recs_t;

__attribute__((format(printf, 7, 8))) static void add_rec(recs_t *r, const char *rule,
                                                          const char *model, const char *figure,
                                                          double value, double threshold,
                                                          const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    json_array_append_new(r->messages, json_string(message));
    json_array_append_new(r->details, json_pack("{s:s, s:o, s:s, s:{s:s, s:f, s:f}}", "rule", rule,
                                                "model", model ? json_string(model) : json_null(),
                                                "message", message, "figure", "name", figure,
                                                "value", value, "threshold", threshold));
}

static const history_model_limits_t *find_limits(const history_input_t *in, const char *model)
{
    for (size_t i = 0; i < in->n_limits; i++)
        if (str_eq(in->limits[i].name, model))
            return &in->limits[i];
    return NULL;
}

/* What to change when scale-ups triggered by `trigger` keep being undone:
 * the threshold that fired them, a little higher, or a longer window. */
static void suggest_for_trigger(const autoscaler_config_t *c, const char *trigger, char *out,
                                size_t len)
{
    const struct {
        const char *trigger;
        const char *field;
        double value, raised, cap;
    } thresholds[] = {
        {"high_cpu_usage", "thresholds.cpu_threshold", c->thresholds.cpu_threshold,
         c->thresholds.cpu_threshold + 10, 100},
        {"high_memory_usage", "thresholds.memory_threshold", c->thresholds.memory_threshold,
         c->thresholds.memory_threshold + 10, 100},
        {"high_gpu_usage", "thresholds.gpu_threshold", c->thresholds.gpu_threshold,
         c->thresholds.gpu_threshold + 10, 100},
        {"queue_length", "thresholds.queue_length_threshold", c->thresholds.queue_length_threshold,
         ceil(c->thresholds.queue_length_threshold * 1.5), 100000},
        {"response_time", "thresholds.response_time_threshold_ms",
         c->thresholds.response_time_threshold_ms, c->thresholds.response_time_threshold_ms * 1.25,
         3600000},
        {"panic", "reactive.panic_threshold", c->reactive.panic_threshold,
         c->reactive.panic_threshold + 0.5, 10},
    };
    for (size_t i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++) {
        if (!str_eq(trigger, thresholds[i].trigger))
            continue;
        double to =
            thresholds[i].raised > thresholds[i].cap ? thresholds[i].cap : thresholds[i].raised;
        snprintf(out, len, "consider raising %s from %g to %g", thresholds[i].field,
                 thresholds[i].value, to);
        return;
    }
    double window = c->reactive.stable_window_seconds;
    snprintf(out, len, "consider lengthening reactive.stable_window_seconds from %g to %g", window,
             window * 2 > 3600 ? 3600 : window * 2);
}

static double reversal_window(const autoscaler_config_t *c)
{
    double w = 2 * c->cooldowns.scale_down_cooldown_seconds;
    return w > 600 ? w : 600;
}

/* Whether the same model scaled down or to zero within `window` seconds
 * after events[i] (the list is newest first: later events come before). */
static bool undone_later(const json_t *events, size_t i, double window)
{
    const json_t *e = json_array_get(events, i);
    double t = event_num(e, "timestamp_unix");
    for (size_t j = i; j-- > 0;) {
        const json_t *later = json_array_get(events, j);
        if (event_num(later, "timestamp_unix") - t > window)
            return false;
        const char *type = event_str(later, "type");
        if (str_eq(event_str(later, "model"), event_str(e, "model")) &&
            (str_eq(type, "scale_down") || str_eq(type, "zero_scale")))
            return true;
    }
    return false;
}

/* Rule "reversals": automatic scale-ups that the same model's scale-down
 * or zero-scale undid within the reversal window. */
static void rule_reversals(const history_input_t *in, recs_t *r)
{
    size_t n = json_array_size(in->events), ups = 0, reversed = 0;
    trigger_counts_t counts = {0};
    double window = reversal_window(in->config);

    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(in->events, i);
        const char *trigger = event_str(e, "trigger");
        if (!str_eq(event_str(e, "type"), "scale_up") || str_eq(trigger, "manual"))
            continue;
        ups++;
        if (undone_later(in->events, i, window)) {
            reversed++;
            count_trigger(&counts, trigger);
        }
    }
    double share = ups ? 100.0 * (double)reversed / (double)ups : 0;
    if (ups < HISTORY_MIN_DECISIONS || share < HISTORY_REVERSAL_SHARE)
        return;
    const char *trigger = top_trigger(&counts);
    char suggestion[200];
    suggest_for_trigger(in->config, trigger, suggestion, sizeof(suggestion));
    add_rec(r, "reversals", NULL, "reversed_scale_up_percent", share, HISTORY_REVERSAL_SHARE,
            "%zu of %zu automatic scale-ups (%.0f%%) were undone within %.0f s, most triggered by "
            "%s: %s",
            reversed, ups, share, window, trigger ? trigger : "an unknown trigger", suggestion);
}

/* Rule "repeating_peak": the same hour of day is a peak (above the peak
 * ratio times that day's mean rate) on several days, and the strategy
 * does not yet look ahead. */
static void rule_repeating_peak(const history_input_t *in, recs_t *r)
{
    if (in->config->scaling_strategy != STRATEGY_REACTIVE || in->n_hours == 0)
        return;
    int64_t first_day = in->hours[0].hour / HOURS_PER_DAY;
    int64_t last_day = in->hours[in->n_hours - 1].hour / HOURS_PER_DAY;
    unsigned peak_days[HOURS_PER_DAY] = {0};
    double peak_ratio[HOURS_PER_DAY] = {0};
    unsigned days = 0;

    for (int64_t day = first_day; day <= last_day; day++) {
        double sum = 0;
        unsigned observed = 0;
        for (size_t i = 0; i < in->n_hours; i++)
            if (in->hours[i].hour / HOURS_PER_DAY == day && in->hours[i].minutes) {
                sum += hour_rate(&in->hours[i]);
                observed++;
            }
        /* A day needs a quarter of its hours seen for its mean to mean much. */
        if (observed < HOURS_PER_DAY / 4 || sum <= 0)
            continue;
        days++;
        double mean = sum / observed;
        for (size_t i = 0; i < in->n_hours; i++) {
            const store_traffic_hour_t *h = &in->hours[i];
            if (h->hour / HOURS_PER_DAY != day || !h->minutes)
                continue;
            if (hour_rate(h) > HISTORY_PEAK_RATIO * mean) {
                peak_days[hour_of_day(h->hour)]++;
                peak_ratio[hour_of_day(h->hour)] += hour_rate(h) / mean;
            }
        }
    }
    int best = -1;
    for (int d = 0; d < HOURS_PER_DAY; d++)
        if (peak_days[d] && (best < 0 || peak_days[d] > peak_days[best]))
            best = d;
    if (best < 0 || peak_days[best] < HISTORY_MIN_DAYS ||
        100.0 * peak_days[best] / days < HISTORY_REPEAT_SHARE)
        return;
    bool in_range[HOURS_PER_DAY] = {false};
    int start = best, end = best;
    while (peak_days[(start + HOURS_PER_DAY - 1) % HOURS_PER_DAY] >= HISTORY_MIN_DAYS &&
           (start + HOURS_PER_DAY - 1) % HOURS_PER_DAY != best)
        start = (start + HOURS_PER_DAY - 1) % HOURS_PER_DAY;
    while (peak_days[(end + 1) % HOURS_PER_DAY] >= HISTORY_MIN_DAYS &&
           (end + 1) % HOURS_PER_DAY != start)
        end = (end + 1) % HOURS_PER_DAY;
    for (int d = start;; d = (d + 1) % HOURS_PER_DAY) {
        in_range[d] = true;
        if (d == end)
            break;
    }
    json_t *range = hour_ranges(in_range);
    add_rec(r, "repeating_peak", NULL, "days_with_peak", peak_days[best], HISTORY_MIN_DAYS,
            "Peak traffic at %s UTC repeated on %u of %u days (%.1fx the day's mean rate): "
            "predictable, so consider scaling_strategy \"hybrid\" to have replicas ready before it",
            json_string_value(json_array_get(range, 0)), peak_days[best], days,
            peak_ratio[best] / peak_days[best]);
    json_decref(range);
}

static size_t count_model_events(const json_t *events, const char *model, const char *type)
{
    size_t count = 0;
    for (size_t i = 0; i < json_array_size(events); i++) {
        const json_t *e = json_array_get(events, i);
        count += str_eq(event_str(e, "model"), model) && str_eq(event_str(e, "type"), type);
    }
    return count;
}

/* Rule "cold_starts": a model met a cold start for too many of its
 * requests. */
static void rule_cold_starts(const history_input_t *in, const store_traffic_model_t *m, recs_t *r)
{
    size_t cold = count_model_events(in->events, m->model, "cold_start");
    if (m->requests < HISTORY_COLD_START_MIN || cold == 0)
        return;
    double share = 100.0 * (double)cold / (double)m->requests;
    if (share <= HISTORY_COLD_START_SHARE)
        return;
    add_rec(r, "cold_starts", m->model, "cold_starts_per_100_requests", share,
            HISTORY_COLD_START_SHARE,
            "Model %s had %zu cold starts for %llu requests (%.1f per 100): consider min_replicas "
            "1 for it, or a longer zero_scale_threshold.no_requests_minutes (now %g)",
            m->model, cold, (unsigned long long)m->requests, share,
            in->config->zero_scale_threshold.no_requests_minutes);
}

/* Rule "slow_loads": growing a model (scale-up or cold start) takes long. */
static void rule_slow_loads(const history_input_t *in, const store_traffic_model_t *m, recs_t *r)
{
    double sum = 0;
    size_t count = 0;
    for (size_t i = 0; i < json_array_size(in->events); i++) {
        const json_t *e = json_array_get(in->events, i);
        const char *type = event_str(e, "type");
        double d = event_num(e, "duration_seconds");
        if (!str_eq(event_str(e, "model"), m->model) ||
            !(str_eq(type, "scale_up") || str_eq(type, "cold_start")) ||
            !json_is_true(json_object_get(e, "success")) || !isfinite(d))
            continue;
        sum += d;
        count++;
    }
    if (count < HISTORY_SLOW_LOAD_MIN || sum / (double)count < HISTORY_SLOW_LOAD_SECONDS)
        return;
    add_rec(r, "slow_loads", m->model, "mean_load_seconds", sum / (double)count,
            HISTORY_SLOW_LOAD_SECONDS,
            "Model %s took %.1f s on average to add a replica (%zu loads): model loading could be "
            "optimised, or a replica kept warm through its busy hours",
            m->model, sum / (double)count, count);
}

/* Rule "over_provisioned": most replica-seconds of a model were not needed
 * and it ran above its floor. */
static void rule_over_provisioned(const history_input_t *in, const store_traffic_model_t *m,
                                  recs_t *r)
{
    const history_model_limits_t *lim = find_limits(in, m->model);
    if (!lim || m->requests < HISTORY_MIN_REQUESTS ||
        m->replica_seconds < HISTORY_MIN_REPLICA_SECONDS || m->minutes == 0)
        return;
    double efficiency = 100.0 * m->needed_replica_seconds / m->replica_seconds;
    double mean_replicas = m->replica_seconds / (60.0 * m->minutes);
    if (efficiency >= HISTORY_LOW_EFFICIENCY || mean_replicas <= lim->floor_replicas + 0.05)
        return;
    add_rec(r, "over_provisioned", m->model, "needed_replica_percent", efficiency,
            HISTORY_LOW_EFFICIENCY,
            "Model %s needed %.1f%% of its %.0f replica-seconds (%.2f replicas on average): "
            "consider a shorter scale_down_threshold.idle_time_minutes (now %g) or a higher "
            "target_concurrency",
            m->model, efficiency, m->replica_seconds, mean_replicas,
            in->config->scale_down_threshold.idle_time_minutes);
}

/* Rule "drops": a model refused or timed out too many requests. */
static void rule_drops(const history_input_t *in, const store_traffic_model_t *m, recs_t *r)
{
    const history_model_limits_t *lim = find_limits(in, m->model);
    if (m->requests < HISTORY_MIN_REQUESTS || m->drops == 0)
        return;
    double share = 100.0 * (double)m->drops / (double)m->requests;
    if (share <= HISTORY_DROP_SHARE)
        return;
    add_rec(r, "drops", m->model, "dropped_percent", share, HISTORY_DROP_SHARE,
            "Model %s refused or timed out %llu of %llu requests (%.1f%%): consider a higher "
            "max_replicas (now %d) or max_queue_length (now %d)",
            m->model, (unsigned long long)m->drops, (unsigned long long)m->requests, share,
            lim ? lim->max_replicas : -1, lim ? lim->max_queue_length : -1);
}

void history_recommendations(const history_input_t *in, json_t **messages, json_t **details)
{
    recs_t r = {json_array(), json_array()};
    rule_reversals(in, &r);
    rule_repeating_peak(in, &r);
    for (size_t i = 0; i < in->n_models; i++) {
        rule_cold_starts(in, &in->models[i], &r);
        rule_slow_loads(in, &in->models[i], &r);
        rule_over_provisioned(in, &in->models[i], &r);
        rule_drops(in, &in->models[i], &r);
    }
    *messages = r.messages;
    *details = r.details;
}
