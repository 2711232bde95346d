/* test_api_metrics.c - the scaling-event counts behind
 * inferd_scaling_events_total: keyed by (type, trigger), bounded, with
 * overflow under "other". */
#include <criterion/criterion.h>

#include "api/metrics.h"

#include <stdio.h>
#include <string.h>

static uint64_t count_of(const api_metrics_t *m, const char *type, const char *trigger)
{
    for (size_t i = 0; i < api_metrics_event_pairs(m); i++) {
        const char *t, *g;
        uint64_t n;
        api_metrics_event_pair(m, i, &t, &g, &n);
        if (strcmp(t, type) == 0 && strcmp(g, trigger) == 0)
            return n;
    }
    return 0;
}

typedef struct event_row {
    const char *type;
    const char *trigger; /* NULL: the event has none */
} event_row_t;

typedef struct expect_row {
    const char *type;
    const char *trigger;
    uint64_t count;
} expect_row_t;

static const event_row_t events[] = {
    {"scale_up", "manual"},    {"scale_up", "concurrency"},    {"scale_up", "manual"},
    {"cold_start", "request"}, {"zero_scale", NULL},           {"other", "other"},
    {"scale_up", "manual"},    {"replica_crashed", "crashed"},
};

static const expect_row_t expected[] = {
    {"scale_up", "manual", 3},   {"scale_up", "concurrency", 1}, {"cold_start", "request", 1},
    {"zero_scale", "none", 1},   {"other", "other", 1},          {"replica_crashed", "crashed", 1},
    {"scale_down", "manual", 0},
};

Test(api_metrics, counts_by_type_and_trigger)
{
    api_metrics_t *m = api_metrics_new(NULL);
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
        api_metrics_count_event(m, events[i].type, events[i].trigger);
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        cr_expect_eq(count_of(m, expected[i].type, expected[i].trigger), expected[i].count, "%s/%s",
                     expected[i].type, expected[i].trigger);
    /* Five distinct pairs plus the reserved ("other", "other"), listed once. */
    cr_expect_eq(api_metrics_event_pairs(m), 6);
    api_metrics_free(m);
}

Test(api_metrics, only_recorded_events_count)
{
    api_metrics_t *m = api_metrics_new(NULL);
    json_t *ev = json_pack("{s:s, s:s}", "type", "scale_down", "trigger", "low_utilization");
    api_metrics_observe_event(ev, STORE_EVENT_RECORDED, m);
    api_metrics_observe_event(ev, STORE_EVENT_FINISHED, m);
    json_decref(ev);
    cr_expect_eq(count_of(m, "scale_down", "low_utilization"), 1);
    api_metrics_free(m);
}

Test(api_metrics, overflow_goes_to_other)
{
    api_metrics_t *m = api_metrics_new(NULL);
    char trigger[32];
    /* Fill every slot but the reserved one; "scale_up"/"other" is among them. */
    api_metrics_count_event(m, "scale_up", "other");
    for (int i = 1; i < API_METRICS_EVENT_PAIRS - 1; i++) {
        snprintf(trigger, sizeof(trigger), "t%d", i);
        api_metrics_count_event(m, "scale_up", trigger);
    }
    cr_assert_eq(api_metrics_event_pairs(m), API_METRICS_EVENT_PAIRS - 1);

    api_metrics_count_event(m, "scale_up", "brand_new");   /* type has an "other" pair */
    api_metrics_count_event(m, "scale_down", "brand_new"); /* it has not */
    api_metrics_count_event(m, "scale_up", "t5");          /* known pairs still count */
    cr_expect_eq(count_of(m, "scale_up", "other"), 2);
    cr_expect_eq(count_of(m, "other", "other"), 1);
    cr_expect_eq(count_of(m, "scale_up", "t5"), 2);
    cr_expect_eq(count_of(m, "scale_up", "brand_new"), 0);
    cr_expect_eq(api_metrics_event_pairs(m), API_METRICS_EVENT_PAIRS);
    api_metrics_free(m);
}

Test(api_metrics, overlong_names_count_as_other)
{
    api_metrics_t *m = api_metrics_new(NULL);
    char lng[API_METRICS_NAME_MAX + 2];
    memset(lng, 'x', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    api_metrics_count_event(m, "scale_up", lng);
    api_metrics_count_event(m, lng, "manual");
    cr_expect_eq(count_of(m, "scale_up", "other"), 1);
    cr_expect_eq(count_of(m, "other", "manual"), 1);
    api_metrics_free(m);
}

Test(api_metrics, start_time_is_now)
{
    api_metrics_t *m = api_metrics_new(NULL);
    cr_expect_gt(api_metrics_start_time(m), 1.6e9, "a Unix time");
    api_metrics_free(m);
}
