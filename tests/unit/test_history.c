/* test_history.c - the traffic table and the history's patterns and
 * recommendations.
 *
 * Traffic is written through the store's API into a fresh data directory
 * and read back the way the endpoint reads it, so the patterns are found
 * in stored data, not in arrays handed to the rules. Each recommendation
 * rule is fired by data made for it and stays silent on the same data
 * without the feature that fires it; an empty store recommends nothing.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "history/analysis.h"
#include "http/query.h"
#include "store/store.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static char dir[256];
static store_t *store;

/* A fixed origin: Unix day 20000 starts at 00:00 UTC. */
#define DAY0_MINUTE ((int64_t)20000 * 1440)

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    char err[512] = "";
    snprintf(dir, sizeof(dir), "%s/inferd-history-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(store_open(dir, &store, err, sizeof(err)), 0, "store_open: %s", err);
}

static void teardown(void)
{
    static const char *const files[] = {"inferd.db", "inferd.db-wal", "inferd.db-shm"};
    char path[512];
    store_close(store);
    store = NULL;
    for (size_t i = 0; i < N_ROWS(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* One minute of one model: `requests` arrivals on `replicas` replicas with
 * `needed` of them needed. */
static void put_minute(const char *model, int64_t minute, uint64_t requests, double replicas,
                       double needed, uint64_t drops)
{
    store_traffic_row_t row = {
        .model = model,
        .minute = minute,
        .requests = requests,
        .errors = drops,
        .drops = drops,
        .p95_ms = requests ? 50.0 : NAN,
        .replica_seconds = replicas * 60,
        .busy_replica_seconds = needed * 60,
        .needed_replica_seconds = needed * 60,
    };
    cr_assert_eq(store_add_traffic(store, &row, 1), 0);
}

/* Days of traffic for one model: rate_of(hour of day) requests per minute. */
static void put_days(const char *model, int days, uint64_t (*rate_of)(int hour), double replicas,
                     double needed)
{
    for (int d = 0; d < days; d++)
        for (int m = 0; m < 1440; m++)
            put_minute(model, DAY0_MINUTE + d * 1440 + m, rate_of(m / 60), replicas, needed, 0);
}

/* The endpoint's reading of [since, until) into an input for the rules. */
typedef struct loaded {
    history_input_t in;
    store_traffic_hour_t *hours;
    store_traffic_model_t *models;
    json_t *events;
    autoscaler_config_t config;
} loaded_t;

static const history_model_limits_t limits[] = {
    {"tts", 0, 5, 100},
    {"pinned", 1, 5, 100},
};

static void load(loaded_t *l, int64_t since_minute, int64_t until_minute, json_t *events)
{
    size_t n_hours, n_models;
    memset(l, 0, sizeof(*l));
    config_autoscaler_defaults(&l->config);
    cr_assert_eq(store_traffic_hours(store, since_minute, until_minute, NULL, &l->hours, &n_hours),
                 0);
    cr_assert_eq(store_traffic_models(store, since_minute, until_minute, &l->models, &n_models), 0);
    l->events = events ? events : json_array();
    l->in = (history_input_t){
        .since_unix = (double)since_minute * 60,
        .until_unix = (double)until_minute * 60,
        .hours = l->hours,
        .n_hours = n_hours,
        .models = l->models,
        .n_models = n_models,
        .events = l->events,
        .config = &l->config,
        .limits = limits,
        .n_limits = N_ROWS(limits),
    };
}

static void unload(loaded_t *l)
{
    free(l->hours);
    free(l->models);
    json_decref(l->events);
}

static json_t *recommend(const loaded_t *l, json_t **details)
{
    json_t *messages;
    history_recommendations(&l->in, &messages, details);
    cr_assert_eq(json_array_size(messages), json_array_size(*details));
    return messages;
}

static bool has_rule(const json_t *details, const char *rule, double *figure)
{
    for (size_t i = 0; i < json_array_size(details); i++) {
        const json_t *d = json_array_get(details, i);
        if (strcmp(json_string_value(json_object_get(d, "rule")), rule) == 0) {
            if (figure)
                *figure = json_number_value(json_object_get(json_object_get(d, "figure"), "value"));
            return true;
        }
    }
    return false;
}

/* ---- the traffic table ---- */

TestSuite(traffic, .init = setup, .fini = teardown);

Test(traffic, two_partial_rows_of_one_minute_add_up)
{
    store_traffic_row_t a = {"tts", 100, 3, 1, 1, 40.0, 20, 5, 4};
    store_traffic_row_t b = {"tts", 100, 2, 0, 0, 90.0, 30, 6, 5};
    cr_assert_eq(store_add_traffic(store, &a, 1), 0);
    cr_assert_eq(store_add_traffic(store, &b, 1), 0);
    store_traffic_model_t *m;
    size_t n;
    cr_assert_eq(store_traffic_models(store, 0, 1000, &m, &n), 0);
    cr_assert_eq(n, 1);
    cr_expect_eq(m[0].minutes, 1);
    cr_expect_eq(m[0].requests, 5);
    cr_expect_eq(m[0].errors, 1);
    cr_expect_float_eq(m[0].replica_seconds, 50, 1e-9);
    cr_expect_float_eq(m[0].needed_replica_seconds, 9, 1e-9);
    free(m);
}

Test(traffic, hours_sum_models_and_count_minutes_once)
{
    put_minute("tts", 120, 10, 1, 0.5, 0);
    put_minute("pinned", 120, 5, 1, 0.1, 0);
    put_minute("tts", 121, 1, 1, 0.5, 0);
    put_minute("tts", 180, 7, 1, 0.5, 0); /* the next hour */
    store_traffic_hour_t *h;
    size_t n;
    cr_assert_eq(store_traffic_hours(store, 0, 1000, NULL, &h, &n), 0);
    cr_assert_eq(n, 2);
    cr_expect_eq(h[0].hour, 2);
    cr_expect_eq(h[0].minutes, 2, "two distinct minutes, whatever the models");
    cr_expect_eq(h[0].requests, 16);
    cr_expect_eq(h[1].hour, 3);
    cr_expect_eq(h[1].requests, 7);
    free(h);
    cr_assert_eq(store_traffic_hours(store, 0, 1000, "pinned", &h, &n), 0);
    cr_assert_eq(n, 1);
    cr_expect_eq(h[0].requests, 5);
    free(h);
}

Test(traffic, bad_rows_are_refused_whole)
{
    store_traffic_row_t rows[] = {
        {"tts", 1, 1, 0, 0, NAN, 60, 0, 0},
        {NULL, 2, 1, 0, 0, NAN, 60, 0, 0},
    };
    cr_expect_eq(store_add_traffic(store, rows, 2), -1);
    store_traffic_model_t *m;
    size_t n;
    cr_assert_eq(store_traffic_models(store, 0, 1000, &m, &n), 0);
    cr_expect_eq(n, 0, "nothing of a refused batch is written");
    free(m);
}

Test(traffic, prune_deletes_only_what_is_older)
{
    for (int m = 0; m < 1200; m++)
        put_minute("tts", m, 1, 1, 0.1, 0);
    store_event_t old = {.id = "old", .timestamp = 10, .type = "scale_up", .success = 1};
    store_event_t young = {.id = "young", .timestamp = 1000 * 60, .type = "scale_up", .success = 1};
    cr_assert_eq(store_add_event(store, &old), 0);
    cr_assert_eq(store_add_event(store, &young), 0);
    /* Small batches: the loop over batches must finish the job. */
    long deleted = store_prune(store, 1000 * 60, 7);
    cr_expect_eq(deleted, 1000 + 1);
    store_traffic_model_t *m;
    size_t n;
    cr_assert_eq(store_traffic_models(store, 0, 100000, &m, &n), 0);
    cr_expect_eq(m[0].minutes, 200);
    free(m);
    cr_expect_eq(store_count_events(store, NULL, 0), 1);
}

/* ---- patterns ---- */

TestSuite(patterns, .init = setup, .fini = teardown);

/* Busy 09:00-11:00 and 14:00-16:00, near silent 22:00-06:00. */
static uint64_t office_day(int hour)
{
    if ((hour >= 9 && hour < 11) || (hour >= 14 && hour < 16))
        return 60;
    if (hour >= 22 || hour < 6)
        return 1;
    return 20;
}

Test(patterns, peak_and_quiet_hours_are_found_where_they_were_put)
{
    loaded_t l;
    put_days("tts", 1, office_day, 1, 0.5);
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, NULL);
    json_t *p = history_patterns(&l.in);
    json_t *peak = json_object_get(p, "peak_hours"), *low = json_object_get(p, "low_traffic_hours");
    cr_assert_eq(json_array_size(peak), 2, "%s", json_dumps(p, 0));
    cr_expect_str_eq(json_string_value(json_array_get(peak, 0)), "09:00-11:00");
    cr_expect_str_eq(json_string_value(json_array_get(peak, 1)), "14:00-16:00");
    cr_assert_eq(json_array_size(low), 1, "%s", json_dumps(p, 0));
    cr_expect_str_eq(json_string_value(json_array_get(low, 0)), "22:00-06:00",
                     "a quiet night through midnight is one range");
    double total = 4 * 60 * 60.0 + 8 * 60 * 1.0 + 12 * 60 * 20.0;
    cr_expect_float_eq(json_number_value(json_object_get(p, "average_requests_per_hour")),
                       total / 24, 1e-6);
    cr_expect_float_eq(json_number_value(json_object_get(p, "observed_hours")), 24, 1e-9);
    json_decref(p);
    unload(&l);
}

static uint64_t flat(int hour)
{
    (void)hour;
    return 10;
}

Test(patterns, flat_traffic_has_no_peak_and_an_empty_store_no_figures)
{
    loaded_t l;
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, NULL);
    json_t *p = history_patterns(&l.in);
    cr_expect_eq(json_array_size(json_object_get(p, "peak_hours")), 0);
    cr_expect(json_is_null(json_object_get(p, "average_requests_per_hour")));
    cr_expect(json_is_null(json_object_get(p, "most_common_trigger")));
    cr_expect_str_eq(json_string_value(json_object_get(p, "scaling_frequency")), "none");
    json_decref(p);
    unload(&l);

    put_days("tts", 1, flat, 1, 0.5);
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, NULL);
    p = history_patterns(&l.in);
    cr_expect_eq(json_array_size(json_object_get(p, "peak_hours")), 0);
    cr_expect_eq(json_array_size(json_object_get(p, "low_traffic_hours")), 0);
    json_decref(p);
    unload(&l);
}

/* ---- events for the rules ---- */

static json_t *event(double t, const char *type, const char *trigger, const char *model,
                     double duration, int success)
{
    return json_pack("{s:s, s:f, s:s, s:s, s:s, s:o, s:o}", "id", "x", "timestamp_unix", t, "type",
                     type, "trigger", trigger, "model", model, "duration_seconds",
                     isfinite(duration) ? json_real(duration) : json_null(), "success",
                     success < 0 ? json_null() : json_boolean(success));
}

/* Newest first, as the store lists them. */
static json_t *newest_first(json_t *events)
{
    json_t *out = json_array();
    for (size_t i = json_array_size(events); i-- > 0;)
        json_array_append(out, json_array_get(events, i));
    json_decref(events);
    return out;
}

Test(patterns, frequency_and_most_common_trigger_count_scaling_events)
{
    loaded_t l;
    double t0 = (double)DAY0_MINUTE * 60;
    json_t *ev = json_array();
    for (int i = 0; i < 30; i++)
        json_array_append_new(
            ev, event(t0 + i * 60, "scale_up", i % 3 ? "concurrency" : "panic", "tts", 1, 1));
    json_array_append_new(ev, event(t0 + 3000, "config_updated", "manual", "", NAN, 1));
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 600, newest_first(ev)); /* 10 hours */
    json_t *p = history_patterns(&l.in);
    cr_expect_float_eq(json_number_value(json_object_get(p, "scaling_events_per_hour")), 3.0, 1e-9);
    cr_expect_str_eq(json_string_value(json_object_get(p, "scaling_frequency")), "moderate");
    cr_expect_str_eq(json_string_value(json_object_get(p, "most_common_trigger")), "concurrency");
    json_decref(p);
    json_t *s = history_summary(&l.in);
    cr_expect_eq(json_integer_value(json_object_get(s, "total_events")), 31);
    cr_expect_eq(json_integer_value(json_object_get(s, "scale_up_events")), 30);
    cr_expect_float_eq(json_number_value(json_object_get(s, "average_scale_duration_seconds")), 1.0,
                       1e-9);
    cr_expect(json_is_null(json_object_get(s, "efficiency_score")), "no traffic, no score");
    json_decref(s);
    unload(&l);
}

Test(patterns, efficiency_score_is_the_mean_of_hourly_scores)
{
    loaded_t l;
    /* Hour 0: 1 replica, 0.5 needed (50 %); hour 1: 2 replicas, 3 needed
     * (capped at 100 %); hour 2: no replica (no score). */
    for (int m = 0; m < 60; m++) {
        put_minute("tts", DAY0_MINUTE + m, 5, 1, 0.5, 0);
        put_minute("tts", DAY0_MINUTE + 60 + m, 5, 2, 3, 0);
        put_minute("tts", DAY0_MINUTE + 120 + m, 0, 0, 0, 0);
    }
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 180, NULL);
    json_t *s = history_summary(&l.in);
    cr_expect_float_eq(json_number_value(json_object_get(s, "efficiency_score")), 75.0, 1e-9);
    json_decref(s);
    unload(&l);
}

/* ---- recommendation rules ---- */

TestSuite(rules, .init = setup, .fini = teardown);

Test(rules, an_empty_store_recommends_nothing)
{
    loaded_t l;
    json_t *details;
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 7 * 1440, NULL);
    json_t *m = recommend(&l, &details);
    cr_expect_eq(json_array_size(m), 0);
    json_decref(m);
    json_decref(details);
    unload(&l);
}

/* n automatic scale-ups of tts, the first `reversed` followed by a
 * scale-down two minutes later; others an hour apart. */
static json_t *ups(int n, int reversed, const char *trigger)
{
    double t0 = (double)DAY0_MINUTE * 60;
    json_t *ev = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(ev, event(t0 + i * 3600, "scale_up", trigger, "tts", 1, 1));
        if (i < reversed)
            json_array_append_new(
                ev, event(t0 + i * 3600 + 120, "scale_down", "low_utilization", "tts", 1, 1));
    }
    return newest_first(ev);
}

Test(rules, reversals_fire_above_the_share_and_name_the_threshold)
{
    loaded_t l;
    json_t *details;
    double figure = 0;
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, ups(10, 5, "high_cpu_usage"));
    json_t *m = recommend(&l, &details);
    cr_assert(has_rule(details, "reversals", &figure), "%s", json_dumps(m, 0));
    cr_expect_float_eq(figure, 50.0, 1e-9);
    cr_expect(strstr(json_string_value(json_array_get(m, 0)), "thresholds.cpu_threshold from 70 "
                                                              "to 80") != NULL,
              "%s", json_string_value(json_array_get(m, 0)));
    json_decref(m);
    json_decref(details);
    unload(&l);

    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, ups(10, 2, "high_cpu_usage"));
    m = recommend(&l, &details);
    cr_expect_not(has_rule(details, "reversals", NULL), "20%% reversed stays silent");
    json_decref(m);
    json_decref(details);
    unload(&l);

    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, ups(2, 2, "queue_length"));
    m = recommend(&l, &details);
    cr_expect_not(has_rule(details, "reversals", NULL), "two decisions are too few to judge");
    json_decref(m);
    json_decref(details);
    unload(&l);
}

/* Busy 12:00-13:00 only. */
static uint64_t lunch_peak(int hour)
{
    return hour == 12 ? 100 : 10;
}

Test(rules, a_peak_repeating_daily_recommends_looking_ahead)
{
    loaded_t l;
    json_t *details;
    double figure = 0;
    put_days("tts", 3, lunch_peak, 1, 0.2);
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 3 * 1440, NULL);
    json_t *m = recommend(&l, &details);
    cr_assert(has_rule(details, "repeating_peak", &figure), "%s", json_dumps(m, 0));
    cr_expect_float_eq(figure, 3, 1e-9);
    cr_expect(strstr(json_string_value(json_array_get(m, 0)), "12:00-13:00") != NULL, "%s",
              json_string_value(json_array_get(m, 0)));
    json_decref(m);
    json_decref(details);

    /* The same data with a strategy that already looks ahead: silent. */
    l.config.scaling_strategy = STRATEGY_HYBRID;
    m = recommend(&l, &details);
    cr_expect_not(has_rule(details, "repeating_peak", NULL));
    json_decref(m);
    json_decref(details);
    unload(&l);
}

Test(rules, one_day_of_peak_is_not_a_pattern)
{
    loaded_t l;
    json_t *details;
    put_days("tts", 1, lunch_peak, 1, 0.2);
    put_days("pinned", 0, flat, 1, 0.2);
    for (int d = 1; d < 3; d++)
        for (int min = 0; min < 1440; min++)
            put_minute("tts", DAY0_MINUTE + d * 1440 + min, 10, 1, 0.2, 0);
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 3 * 1440, NULL);
    json_t *m = recommend(&l, &details);
    cr_expect_not(has_rule(details, "repeating_peak", NULL), "%s", json_dumps(m, 0));
    json_decref(m);
    json_decref(details);
    unload(&l);
}

static json_t *cold_starts(int n, double duration)
{
    double t0 = (double)DAY0_MINUTE * 60;
    json_t *ev = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(ev, event(t0 + i * 600, "cold_start", "request", "tts", duration, 1));
    return newest_first(ev);
}

Test(rules, cold_starts_above_the_share_fire_per_model)
{
    loaded_t l;
    json_t *details;
    double figure = 0;
    for (int m = 0; m < 100; m++)
        put_minute("tts", DAY0_MINUTE + m, 1, 0.5, 0.1, 0); /* 100 requests */
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, cold_starts(10, 0.1));
    json_t *m = recommend(&l, &details);
    cr_assert(has_rule(details, "cold_starts", &figure), "%s", json_dumps(m, 0));
    cr_expect_float_eq(figure, 10.0, 1e-9);
    json_decref(m);
    json_decref(details);
    unload(&l);

    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, cold_starts(4, 0.1)); /* 4 per 100 */
    m = recommend(&l, &details);
    cr_expect_not(has_rule(details, "cold_starts", NULL));
    json_decref(m);
    json_decref(details);
    unload(&l);
}

Test(rules, slow_loads_fire_on_the_mean_of_completed_growth)
{
    loaded_t l;
    json_t *details;
    double figure = 0;
    put_minute("tts", DAY0_MINUTE, 1, 1, 0.1, 0);
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, cold_starts(3, 30));
    json_t *m = recommend(&l, &details);
    cr_assert(has_rule(details, "slow_loads", &figure), "%s", json_dumps(m, 0));
    cr_expect_float_eq(figure, 30.0, 1e-9);
    json_decref(m);
    json_decref(details);
    unload(&l);

    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, cold_starts(3, 2));
    m = recommend(&l, &details);
    cr_expect_not(has_rule(details, "slow_loads", NULL), "2 s loads are not slow");
    json_decref(m);
    json_decref(details);
    unload(&l);
}

Test(rules, over_provisioning_fires_above_the_floor_only)
{
    loaded_t l;
    json_t *details;
    double figure = 0;
    /* Two replicas for a tenth of one's work, for two hours. */
    for (int m = 0; m < 120; m++) {
        put_minute("tts", DAY0_MINUTE + m, 2, 2, 0.2, 0);
        put_minute("pinned", DAY0_MINUTE + m, 2, 1, 0.05, 0);
    }
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, NULL);
    json_t *m = recommend(&l, &details);
    cr_assert(has_rule(details, "over_provisioned", &figure), "%s", json_dumps(m, 0));
    cr_expect_float_eq(figure, 10.0, 1e-9);
    cr_expect_eq(json_array_size(details), 1, "the pinned model at its floor is not blamed: %s",
                 json_dumps(m, 0));
    json_decref(m);
    json_decref(details);
    unload(&l);
}

Test(rules, drops_fire_above_the_share)
{
    loaded_t l;
    json_t *details;
    double figure = 0;
    for (int m = 0; m < 100; m++)
        put_minute("tts", DAY0_MINUTE + m, 10, 1, 0.5, m < 30 ? 1 : 0); /* 30 of 1000 */
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, NULL);
    json_t *m = recommend(&l, &details);
    cr_assert(has_rule(details, "drops", &figure), "%s", json_dumps(m, 0));
    cr_expect_float_eq(figure, 3.0, 1e-9);
    json_decref(m);
    json_decref(details);
    unload(&l);
}

Test(rules, drops_below_the_share_stay_silent)
{
    loaded_t l;
    json_t *details;
    for (int m = 0; m < 100; m++)
        put_minute("tts", DAY0_MINUTE + m, 10, 1, 0.5, m < 5 ? 1 : 0); /* 0.5 % */
    load(&l, DAY0_MINUTE, DAY0_MINUTE + 1440, NULL);
    json_t *m = recommend(&l, &details);
    cr_expect_eq(json_array_size(m), 0, "%s", json_dumps(m, 0));
    json_decref(m);
    json_decref(details);
    unload(&l);
}

/* ---- the query string ---- */

typedef struct pairs {
    char text[256];
} pairs_t;

static int collect(const char *name, const char *value, void *ctx)
{
    pairs_t *p = ctx;
    size_t len = strlen(p->text);
    snprintf(p->text + len, sizeof(p->text) - len, "[%s=%s]", name, value);
    return 0;
}

Test(query, pairs_are_split_and_decoded)
{
#define X10 "xxxxxxxxxx"
#define X63 X10 X10 X10 X10 X10 X10 "xxx"
    static const struct {
        const char *query;
        int rc;
        const char *pairs;         /* when rc is 0 */
        query_problem_kind_t kind; /* when rc is -1 */
        const char *name;          /* the pair at fault */
    } cases[] = {
        {"", 0, "", QUERY_OK, ""},
        {"a=1", 0, "[a=1]", QUERY_OK, ""},
        {"a=1&b=x%20y+z", 0, "[a=1][b=x y z]", QUERY_OK, ""},
        {"flag&&c=", 0, "[flag=][c=]", QUERY_OK, ""},
        {"t=%5B%22scale_up%22%5D", 0, "[t=[\"scale_up\"]]", QUERY_OK, ""},
        {X63 "=1", 0, "[" X63 "=1]", QUERY_OK, ""},
        {"a=%2", -1, "", QUERY_BAD_ENCODING, "a"},
        {"a=%zz", -1, "", QUERY_BAD_ENCODING, "a"},
        {"a=%00", -1, "", QUERY_BAD_ENCODING, "a"},
        {"a%zz=1", -1, "", QUERY_BAD_ENCODING, "a%zz"},
        {"%61%zz=1", -1, "", QUERY_BAD_ENCODING, "%61%zz"},
        {"%61=%zz", -1, "", QUERY_BAD_ENCODING, "a"}, /* the name decoded */
        {"=1", -1, "", QUERY_EMPTY_NAME, ""},
        {"a=1&=", -1, "", QUERY_EMPTY_NAME, ""},
        {X63 "x=1", -1, "", QUERY_NAME_TOO_LONG, X63},
        {"%ff=1", 0, "[\xff=1]", QUERY_OK, ""}, /* bytes: not the query's business */
    };
    for (size_t i = 0; i < N_ROWS(cases); i++) {
        pairs_t p = {""};
        query_problem_t problem;
        int rc = query_each(cases[i].query, collect, &p, &problem);
        cr_expect_eq(rc, cases[i].rc, "query '%s'", cases[i].query);
        cr_expect_eq(problem.kind, cases[i].kind, "query '%s'", cases[i].query);
        if (rc == 0)
            cr_expect_str_eq(p.text, cases[i].pairs, "query '%s'", cases[i].query);
        else
            cr_expect_str_eq(problem.name, cases[i].name, "query '%s'", cases[i].query);
    }
    cr_expect_eq(query_each("=1", collect, &(pairs_t){""}, NULL), -1, "problem may be NULL");
}

Test(query, a_value_over_its_limit_is_too_long_not_badly_encoded)
{
    static char query[QUERY_VALUE_MAX + 16];
    query_problem_t problem;
    pairs_t p = {""};
    snprintf(query, sizeof(query), "hours=");
    memset(query + 6, '1', QUERY_VALUE_MAX); /* 1024 digits, one over */
    query[6 + QUERY_VALUE_MAX] = '\0';
    cr_expect_eq(query_each(query, collect, &p, &problem), -1);
    cr_expect_eq(problem.kind, QUERY_VALUE_TOO_LONG);
    cr_expect_str_eq(problem.name, "hours");
    query[6 + QUERY_VALUE_MAX - 1] = '\0'; /* 1023: fits */
    cr_expect_eq(query_each(query, collect, &p, &problem), 0);
    cr_expect_eq(problem.kind, QUERY_OK);
}
