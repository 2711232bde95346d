/* test_window.c - one model's hour of measurements.
 *
 * Each table row is a situation: a window created at some time, a script of
 * calls (arrivals, finishes, gauge changes) with their times, and what a
 * query at a later time must answer. Gauge integrals are worked out by hand
 * in the rows; the randomised tests compare against a brute-force integral
 * of the same step function and a brute-force count of the same events.
 */
#include <criterion/criterion.h>

#include "metrics/window.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tiny script language for the tables ---- */

typedef enum { END = 0, ARRIVE, FINISH, LOAD, REPLICAS } op_t;

typedef struct step {
    op_t op;
    double t;
    double a, b, c; /* FINISH: outcome, latency, queue wait; LOAD: in flight, queued;
                       REPLICAS: ready, busy */
} step_t;

#define ARR(t)                                                                                     \
    {                                                                                              \
        ARRIVE, (t), 0, 0, 0                                                                       \
    }
#define FIN(t, o, lat, q)                                                                          \
    {                                                                                              \
        FINISH, (t), (o), (lat), (q)                                                               \
    }
#define LD(t, f, q)                                                                                \
    {                                                                                              \
        LOAD, (t), (f), (q), 0                                                                     \
    }
#define RP(t, r, b)                                                                                \
    {                                                                                              \
        REPLICAS, (t), (r), (b), 0                                                                 \
    }

static void run(model_window_t *w, const step_t *steps)
{
    for (; steps->op != END; steps++) {
        switch (steps->op) {
        case ARRIVE:
            window_record_arrival(w, steps->t);
            break;
        case FINISH:
            window_record_finish(w, steps->t, (request_outcome_t)steps->a, steps->b, steps->c);
            break;
        case LOAD:
            window_set_load(w, steps->t, (unsigned)steps->a, (unsigned)steps->b);
            break;
        case REPLICAS:
            window_set_replicas(w, steps->t, (unsigned)steps->a, (unsigned)steps->b);
            break;
        case END:
            break;
        }
    }
}

static bool near(double got, double want)
{
    return fabs(got - want) <= 1e-6 * (fabs(want) > 1 ? fabs(want) : 1);
}

static void expect_totals(const char *name, const window_totals_t *got, const window_totals_t *want)
{
#define INT_FIELD(f)                                                                               \
    cr_expect_eq(got->f, want->f, "%s: " #f " = %llu, want %llu", name,                            \
                 (unsigned long long)got->f, (unsigned long long)want->f)
#define DBL_FIELD(f)                                                                               \
    cr_expect(near(got->f, want->f), "%s: " #f " = %.9g, want %.9g", name, got->f, want->f)
    DBL_FIELD(seconds);
    INT_FIELD(arrivals);
    INT_FIELD(finished);
    INT_FIELD(successes);
    INT_FIELD(client_errors);
    INT_FIELD(server_errors);
    INT_FIELD(drops);
    INT_FIELD(timeouts);
    DBL_FIELD(latency_sum_ms);
    INT_FIELD(latency_count);
    DBL_FIELD(queue_wait_sum_ms);
    INT_FIELD(queue_wait_count);
    DBL_FIELD(concurrency_seconds);
    DBL_FIELD(queued_seconds);
    DBL_FIELD(ready_replica_seconds);
    DBL_FIELD(busy_replica_seconds);
#undef INT_FIELD
#undef DBL_FIELD
}

/* ---- totals ---- */

typedef struct totals_case {
    const char *name;
    double created;
    step_t steps[8];
    double now, seconds;
    window_totals_t want;
} totals_case_t;

static const totals_case_t totals_cases[] = {
    /* start-up and the covered span */
    {"nothing recorded", 100, {{END}}, 160, 60, {.seconds = 60}},
    {"at creation nothing is covered yet", 100, {{END}}, 100, 60, {.seconds = 0}},
    {"near start-up the span is what has passed", 100.25, {{END}}, 130.75, 60, {.seconds = 30.5}},
    {"more than an hour asked is an hour", 0, {{END}}, 9000, 7200, {.seconds = 3600}},
    {"no span asked, nothing answered", 0, {ARR(5), {END}}, 9, 0, {.seconds = 0}},

    /* counters: the seconds whose start lies in (now - seconds, now] */
    {"counts the last 10 whole seconds, current one included",
     0,
     {ARR(100.5), ARR(101.2), ARR(150.9), ARR(159.99), {END}},
     160.5,
     10,
     {.seconds = 10, .arrivals = 1}},
    {"the second the span's start cuts is not counted",
     0,
     {ARR(100.5), ARR(101.2), ARR(150.9), ARR(159.99), {END}},
     160.5,
     60,
     {.seconds = 60, .arrivals = 3}},
    {"an hour counts everything since start",
     0,
     {ARR(100.5), ARR(101.2), ARR(150.9), ARR(159.99), {END}},
     160.5,
     3600,
     {.seconds = 160.5, .arrivals = 4}},
    {"an event at the query time counts",
     0,
     {ARR(42), {END}},
     42,
     1,
     {.seconds = 1, .arrivals = 1}},
    {"outcomes, latencies and waits",
     0,
     {FIN(10.1, OUTCOME_SUCCESS, 10, 2),
      FIN(10.2, OUTCOME_CLIENT_ERROR, 5, 0),
      FIN(10.3, OUTCOME_SERVER_ERROR, 100, -1),
      FIN(10.4, OUTCOME_DROPPED, 0.5, -1),
      FIN(10.5, OUTCOME_TIMEOUT, 30000, -1),
      {END}},
     11,
     60,
     {.seconds = 11,
      .finished = 5,
      .successes = 1,
      .client_errors = 1,
      .server_errors = 1,
      .drops = 1,
      .timeouts = 1,
      .latency_sum_ms = 30115,
      .latency_count = 4,
      .queue_wait_sum_ms = 2,
      .queue_wait_count = 2}},
    {"negative or NaN latency and wait are not measurements",
     0,
     {FIN(10, OUTCOME_SUCCESS, -1, NAN), FIN(10, OUTCOME_SUCCESS, NAN, -3), {END}},
     11,
     60,
     {.seconds = 11, .finished = 2, .successes = 2}},

    /* gauges: exact integrals of piecewise-constant values */
    {"concurrency 2 for 1.5 s then 4 for 0.5 s: average 2.5",
     100,
     {LD(100, 2, 0), LD(101.5, 4, 0), {END}},
     102,
     2,
     {.seconds = 2, .concurrency_seconds = 5}},
    {"the same shifted to fractional times",
     100,
     {LD(100.3, 2, 0), LD(101.8, 4, 0), {END}},
     102.3,
     2,
     {.seconds = 2, .concurrency_seconds = 5}},
    {"queued counts in concurrency too",
     0,
     {LD(10, 1, 3), {END}},
     12,
     2,
     {.seconds = 2, .concurrency_seconds = 8, .queued_seconds = 6}},
    {"span starting mid-second in a constant stretch",
     0,
     {LD(10, 3, 1), {END}},
     15.7,
     2.2,
     {.seconds = 2.2, .concurrency_seconds = 8.8, .queued_seconds = 2.2}},
    {"span cut before the only change of its second",
     0,
     {LD(100.2, 2, 0), LD(103.4, 6, 0), LD(105, 0, 0), {END}},
     105,
     1.8,
     {.seconds = 1.8, .concurrency_seconds = 0.4 + 9.6}},
    {"span cut after the only change of its second",
     0,
     {LD(100.2, 2, 0), LD(103.4, 6, 0), LD(105, 0, 0), {END}},
     105,
     1.5,
     {.seconds = 1.5, .concurrency_seconds = 9}},
    {"span cut exactly at a change",
     0,
     {LD(100.25, 2, 0), LD(103.75, 6, 0), LD(105, 0, 0), {END}},
     105.5,
     1.75,
     {.seconds = 1.75, .concurrency_seconds = 6 * 1.25}},
    {"span cut after the latest change, in its second",
     0,
     {LD(100.2, 2, 0), LD(103.4, 6, 0), {END}},
     104,
     0.4,
     {.seconds = 0.4, .concurrency_seconds = 2.4}},
    {"span ending mid-second after a change",
     0,
     {LD(10.25, 4, 0), LD(12.75, 1, 0), {END}},
     13.5,
     5,
     {.seconds = 5, .concurrency_seconds = 4 * 2.5 + 0.75}},
    {"a span shorter than a second, inside one",
     0,
     {LD(10, 2, 0), ARR(10.5), {END}},
     10.8,
     0.5,
     {.seconds = 0.5, .concurrency_seconds = 1}},
    {"several changes inside one second, span covering it",
     0,
     {LD(10.1, 1, 0), LD(10.2, 5, 1), LD(10.6, 0, 0), LD(10.9, 3, 3), {END}},
     12,
     3,
     {.seconds = 3, .concurrency_seconds = 0.1 + 6 * 0.4 + 6 * 1.1, .queued_seconds = 0.4 + 3.3}},
    {"replicas: ready includes busy",
     0,
     {RP(10, 3, 1), RP(20, 3, 2), {END}},
     30,
     30,
     {.seconds = 30, .ready_replica_seconds = 60, .busy_replica_seconds = 30}},
    {"a value held through a long quiet gap",
     0,
     {RP(100, 2, 1), {END}},
     100000,
     3600,
     {.seconds = 3600, .ready_replica_seconds = 7200, .busy_replica_seconds = 3600}},
    {"a change after a long quiet gap",
     0,
     {RP(100, 2, 1), RP(50000.5, 3, 0), {END}},
     50001,
     10,
     {.seconds = 10, .ready_replica_seconds = 2 * 9.5 + 3 * 0.5, .busy_replica_seconds = 9.5}},
    {"a change after a gap longer than the window",
     0,
     {LD(100, 5, 0), LD(8000.5, 1, 0), {END}},
     8001,
     3600,
     {.seconds = 3600, .concurrency_seconds = 5 * 3599.5 + 0.5}},
    {"a full hour starting mid-second keeps its first partial second",
     0,
     {LD(0.5, 1, 0), LD(1400.25, 2, 0), {END}},
     5000.25,
     3600,
     {.seconds = 3600, .concurrency_seconds = 7200}},
    {"the cut second of a full hour, with one change in it",
     0,
     {LD(1400.5, 4, 0), LD(1400.75, 2, 0), ARR(5000.1), {END}},
     5000.6,
     3600,
     {.seconds = 3600, .arrivals = 1, .concurrency_seconds = 4 * 0.15 + 2 * 3599.85}},

    /* wrap-around: old data is gone, recycled buckets show only new data */
    {"an hour later the old second is gone",
     0,
     {ARR(100.5), FIN(100.6, OUTCOME_SUCCESS, 5, 1), {END}},
     3701.2,
     3600,
     {.seconds = 3600}},
    {"a recycled bucket holds only its new second",
     0,
     {ARR(100.5), ARR(3701.5), {END}},
     3701.9,
     3600,
     {.seconds = 3600, .arrivals = 1}},
    {"the oldest whole second of the hour is still there",
     0,
     {ARR(102.5), ARR(3701.5), {END}},
     3701.9,
     3600,
     {.seconds = 3600, .arrivals = 2}},
    {"hours later nothing is left, gauges included",
     0,
     {LD(10, 5, 2), ARR(10), RP(10, 1, 1), LD(20, 0, 0), RP(20, 0, 0), {END}},
     10000,
     3600,
     {.seconds = 3600}},
    {"a time going backwards is read as the latest",
     0,
     {ARR(100), ARR(50), LD(101, 1, 0), LD(60, 0, 0), {END}},
     102,
     3,
     {.seconds = 3, .arrivals = 2, .concurrency_seconds = 0}},
};

Test(window, totals_table)
{
    for (size_t r = 0; r < sizeof(totals_cases) / sizeof(totals_cases[0]); r++) {
        const totals_case_t *c = &totals_cases[r];
        model_window_t *w = window_new(c->created);
        cr_assert_not_null(w);
        run(w, c->steps);
        window_totals_t got;
        window_totals(w, c->now, c->seconds, &got);
        expect_totals(c->name, &got, &c->want);
        window_free(w);
    }
}

Test(window, queries_do_not_change_the_window)
{
    model_window_t *w = window_new(0);
    static const step_t steps[] = {LD(1.5, 3, 1), RP(2.25, 2, 1), ARR(3), {END}};
    run(w, steps);
    window_totals_t a, b, c;
    window_totals(w, 10, 60, &a);
    window_totals(w, 10, 60, &b);
    expect_totals("repeating a query answers the same", &b, &a);
    window_totals(w, 20, 60, &c);
    cr_expect(near(c.concurrency_seconds, a.concurrency_seconds + 40), "later: %g",
              c.concurrency_seconds);
    window_free(w);
}

/* ---- last arrival, last busy ---- */

Test(window, last_arrival_and_last_busy)
{
    static const struct {
        const char *name;
        step_t steps[8];
        double now;
        double last_arrival; /* negative: none */
        double last_busy;    /* negative: never */
    } rows[] = {
        {"nothing yet", {{END}}, 50, -1, -1},
        {"latest arrival", {ARR(10.5), ARR(20.25), {END}}, 30, 20.25, -1},
        {"in flight now: busy until now", {LD(10, 1, 0), {END}}, 30, -1, 30},
        {"queued only is busy", {LD(10, 0, 2), {END}}, 30, -1, 30},
        {"load ended", {LD(10, 1, 0), LD(15.5, 0, 0), {END}}, 30, -1, 15.5},
        {"a busy replica", {RP(10, 2, 1), RP(12, 2, 0), {END}}, 30, -1, 12},
        {"ready idle replicas are not busy", {RP(10, 2, 0), {END}}, 30, -1, -1},
        {"a replica still busy after the load ended",
         {LD(10, 1, 0), RP(10, 1, 1), LD(11, 0, 0), {END}},
         30,
         -1,
         30},
        {"busy replica ends after the load",
         {LD(10, 1, 0), RP(10, 1, 1), LD(11, 0, 0), RP(12, 1, 0), {END}},
         30,
         -1,
         12},
        {"busy again, then idle again",
         {LD(10, 1, 0), LD(11, 0, 0), ARR(19.5), LD(20, 0, 1), LD(25, 0, 0), {END}},
         30,
         19.5,
         25},
        {"hours later still remembered",
         {ARR(10), LD(10, 1, 0), LD(11, 0, 0), {END}},
         90000,
         10,
         11},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        model_window_t *w = window_new(0);
        run(w, rows[r].steps);
        double arrival = window_last_arrival(w), busy = window_last_busy(w, rows[r].now);
        if (rows[r].last_arrival < 0)
            cr_expect(arrival < 0, "%s: last arrival %g, want none", rows[r].name, arrival);
        else
            cr_expect(near(arrival, rows[r].last_arrival), "%s: last arrival %g, want %g",
                      rows[r].name, arrival, rows[r].last_arrival);
        if (rows[r].last_busy < 0)
            cr_expect(busy < 0, "%s: last busy %g, want never", rows[r].name, busy);
        else
            cr_expect(near(busy, rows[r].last_busy), "%s: last busy %g, want %g", rows[r].name,
                      busy, rows[r].last_busy);
        window_free(w);
    }
}

/* ---- latency percentiles ---- */

#define HALF_BUCKET (exp2(1.0 / (2 * HISTOGRAM_PER_OCTAVE)) - 1 + 1e-12)

static bool about(double got, double want)
{
    if (isnan(want))
        return isnan(got);
    return fabs(got - want) <= HALF_BUCKET * want;
}

/* Queried at 1005, the ten-second slots are [10j, 10j + 10) with j = 100 the
 * current one; minute m is slots 95 - 6m .. 100 - 6m:
 * minute 0 = [950, 1010), minute 1 = [890, 950), minute 2 = [830, 890),
 * minute 3 = [770, 830). Sorted, the whole hour holds 99 x 10 ms, 50 x
 * 100 ms, 1 x 500 ms and 50 x 1000 ms. */
static model_window_t *latency_fixture(void)
{
    model_window_t *w = window_new(0);
    for (int i = 0; i < 50; i++)
        window_record_finish(w, 771 + i, OUTCOME_SUCCESS, 1000, 0); /* minute 3 */
    for (int i = 0; i < 50; i++)
        window_record_finish(w, 891 + i, OUTCOME_SUCCESS, 100, 0); /* minute 1, up to 940 */
    for (int i = 0; i < 99; i++)
        window_record_finish(w, 951 + 0.5 * i, OUTCOME_SUCCESS, 10, 0); /* minute 0, to 1000 */
    window_record_finish(w, 1001, OUTCOME_SERVER_ERROR, 500, -1);       /* minute 0 */
    window_record_finish(w, 1002, OUTCOME_DROPPED, 9000, -1);           /* never counted */
    return w;
}

Test(window, minute_percentiles)
{
    static const struct {
        const char *name;
        unsigned minute_ago;
        double q;
        double want; /* NAN: no data */
    } rows[] = {
        {"this minute, median", 0, 0.5, 10},
        {"this minute, p99 is the 99th of 100", 0, 0.99, 10},
        {"this minute, max (the drop is not counted)", 0, 1, 500},
        {"minute 1", 1, 0.95, 100},
        {"minute 2 had no traffic", 2, 0.5, NAN},
        {"minute 3", 3, 0.5, 1000},
        {"minute 59: inside the window, empty", 59, 0.5, NAN},
        {"minute 60 is beyond the window", 60, 0.5, NAN},
    };
    model_window_t *w = latency_fixture();
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        double got = window_minute_percentile(w, 1005, rows[r].minute_ago, rows[r].q);
        cr_expect(about(got, rows[r].want), "%s: got %g, want %g", rows[r].name, got, rows[r].want);
    }
    window_free(w);
}

Test(window, latency_percentiles_over_spans)
{
    static const struct {
        const char *name;
        double now, seconds, q;
        double want; /* NAN: no data */
    } rows[] = {
        {"55 s: this minute's slots only", 1005, 55, 0.99, 10},
        {"55 s: max", 1005, 55, 1, 500},
        {"60 s reaches back to its first slot's start (940)", 1005, 60, 0.99, 100},
        {"1 s: the current slot, [1000, 1010)", 1005, 1, 0.5, 10},
        {"1 s: its max", 1005, 1, 1, 500},
        {"120 s median", 1005, 120, 0.5, 10},
        {"120 s p95", 1005, 120, 0.95, 100},
        {"an hour: median", 1005, 3600, 0.5, 100},
        {"an hour: p99", 1005, 3600, 0.99, 1000},
        {"a quiet stretch", 1005 + 600, 300, 0.5, NAN},
        {"an hour later everything is gone", 1005 + 3620, 3600, 0.5, NAN},
        {"no span", 1005, 0, 0.5, NAN},
    };
    model_window_t *w = latency_fixture();
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        double got = window_latency_percentile(w, rows[r].now, rows[r].seconds, rows[r].q);
        cr_expect(about(got, rows[r].want), "%s: got %g, want %g", rows[r].name, got, rows[r].want);
    }
    histogram_t h;
    window_latency_histogram(w, 1005, 3600, &h);
    cr_expect_eq(h.total, 200);
    cr_expect(near(histogram_mean(&h), (99 * 10 + 50 * 100 + 500 + 50 * 1000) / 200.0));
    window_free(w);
}

Test(window, recycled_histogram_slot_shows_only_new_data)
{
    /* Slots 10 and 371 share a ring entry (361 entries). */
    model_window_t *w = window_new(0);
    window_record_finish(w, 105, OUTCOME_SUCCESS, 7, 0);
    window_record_finish(w, 3715, OUTCOME_SUCCESS, 300, 0);
    histogram_t h;
    window_latency_histogram(w, 3715, 3600, &h);
    cr_expect_eq(h.total, 1);
    cr_expect(near(histogram_mean(&h), 300));
    cr_expect(isnan(window_minute_percentile(w, 3715, 59, 0.5)), "no ghost an hour back");
    window_free(w);

    /* A full hour from 105 overlaps slot 10 as well as the current slot 370. */
    w = window_new(0);
    window_record_finish(w, 100, OUTCOME_SUCCESS, 7, 0);
    window_record_finish(w, 3705, OUTCOME_SUCCESS, 300, 0);
    window_latency_histogram(w, 3705, 3600, &h);
    cr_expect_eq(h.total, 2, "the hour's first partial slot is still there");
    window_free(w);
}

/* ---- randomised: against brute force ---- */

static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *state)
{
    return (double)(next_u64(state) >> 11) * 0x1p-53;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The changes of one gauge pair, as a step function starting at 0. */
typedef struct history {
    size_t n, cap;
    double *t;
    unsigned (*v)[2];
} history_t;

static void history_push(history_t *h, double t, unsigned a, unsigned b)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 1024;
        h->t = realloc(h->t, h->cap * sizeof(*h->t));
        h->v = realloc(h->v, h->cap * sizeof(*h->v));
        cr_assert(h->t && h->v);
    }
    h->t[h->n] = t;
    h->v[h->n][0] = a;
    h->v[h->n][1] = b;
    h->n++;
}

/* Integral of component i over (from, to]. */
static double history_integral(const history_t *h, int i, double from, double to)
{
    double sum = 0;
    for (size_t k = 0; k < h->n; k++) {
        double start = h->t[k] > from ? h->t[k] : from;
        double end = k + 1 < h->n && h->t[k + 1] < to ? h->t[k + 1] : to;
        if (end > start)
            sum += h->v[k][i] * (end - start);
    }
    return sum;
}

static void history_free(history_t *h)
{
    free(h->t);
    free(h->v);
}

/* Runs a few simulated hours of random traffic and gauge changes, querying
 * random spans as it goes. With one change per second per pair at most,
 * integrals must be exact (up to float storage); with many, a span's cut
 * second may be pro-rated, so they may be off by one second of the value. */
static void random_run(uint64_t seed, bool many_changes_per_second)
{
    uint64_t st = seed;
    const double created = 1000 + next_unit(&st);
    model_window_t *w = window_new(created);
    history_t load = {0}, repl = {0};
    size_t n_arrivals = 0, cap_arrivals = 1 << 16;
    double *arrivals = malloc(cap_arrivals * sizeof(*arrivals));
    cr_assert_not_null(arrivals);
    double t = created;
    int queries = 0;
    while (t < created + 4 * 3600) {
        /* Mostly a second or so; sometimes a long quiet gap. */
        double u = next_unit(&st);
        double gap = u < 0.002 ? 500 + 5000 * next_unit(&st) : u < 0.05 ? 10 * next_unit(&st) : 0;
        double next = many_changes_per_second ? t + 0.3 * next_unit(&st) + gap
                                              : floor(t) + 1 + floor(gap) + next_unit(&st);
        t = next;
        int what = (int)(next_u64(&st) % 4);
        if (what == 0 || what == 3) {
            unsigned f = (unsigned)(next_u64(&st) % 9), q = (unsigned)(next_u64(&st) % 5);
            window_set_load(w, t, f, q);
            history_push(&load, t, f + q, q);
        }
        if (what == 1 || what == 3) {
            unsigned ready = (unsigned)(next_u64(&st) % 6);
            unsigned busy = ready ? (unsigned)(next_u64(&st) % (ready + 1)) : 0;
            window_set_replicas(w, t, ready, busy);
            history_push(&repl, t, ready, busy);
        }
        if (what == 2) {
            window_record_arrival(w, t);
            if (n_arrivals == cap_arrivals) {
                cap_arrivals *= 2;
                arrivals = realloc(arrivals, cap_arrivals * sizeof(*arrivals));
                cr_assert_not_null(arrivals);
            }
            arrivals[n_arrivals++] = t;
        }
        if (next_u64(&st) % 4 != 0)
            continue;
        /* A query at a later moment (const: the next change may come before). */
        double now = t + 3 * next_unit(&st);
        double spans[] = {1 + 3599 * next_unit(&st), 60, 3600, 0.1 + next_unit(&st),
                          floor(1 + 300 * next_unit(&st))};
        for (size_t k = 0; k < sizeof(spans) / sizeof(spans[0]); k++) {
            double s = spans[k];
            window_totals_t got;
            window_totals(w, now, s, &got);
            double from = now - s;
            double want[4] = {
                history_integral(&load, 0, from, now), history_integral(&load, 1, from, now),
                history_integral(&repl, 0, from, now), history_integral(&repl, 1, from, now)};
            double have[4] = {got.concurrency_seconds, got.queued_seconds,
                              got.ready_replica_seconds, got.busy_replica_seconds};
            static const double max_value[4] = {12, 4, 5, 5};
            for (int i = 0; i < 4; i++) {
                double tol = 1e-6 * fabs(want[i]) + 1e-3;
                if (many_changes_per_second)
                    tol += max_value[i];
                cr_assert(fabs(have[i] - want[i]) <= tol,
                          "seed %llu, gauge %d, now %.6f, span %.6f: got %.9g, want %.9g",
                          (unsigned long long)seed, i, now, s, have[i], want[i]);
            }
            uint64_t count = 0;
            for (size_t a = 0; a < n_arrivals; a++)
                if (floor(arrivals[a]) > from)
                    count++;
            cr_assert_eq(got.arrivals, count,
                         "seed %llu, now %.6f, span %.6f: %llu arrivals, want %llu",
                         (unsigned long long)seed, now, s, (unsigned long long)got.arrivals,
                         (unsigned long long)count);
            double covered = now - created < s ? now - created : s;
            cr_assert(near(got.seconds, covered));
            queries++;
        }
    }
    cr_expect(queries > 1000, "only %d queries", queries);
    window_free(w);
    history_free(&load);
    history_free(&repl);
    free(arrivals);
}

Test(window, random_gauges_one_change_per_second_are_exact)
{
    static const uint64_t seeds[] = {1, 2, 3};
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        random_run(seeds[i], false);
}

Test(window, random_gauges_many_changes_per_second_are_off_by_at_most_a_second)
{
    static const uint64_t seeds[] = {4, 5};
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        random_run(seeds[i], true);
}

Test(window, random_latencies_match_brute_force)
{
    uint64_t st = 77;
    model_window_t *w = window_new(0);
    size_t n = 0;
    static double when[40000], value[40000], sorted[40000];
    double t = 0;
    while (n < 40000) {
        t += 0.3 * next_unit(&st) + (next_unit(&st) < 0.001 ? 2000 : 0);
        double u = next_unit(&st);
        value[n] = u < 0.9 ? 5 + 20 * next_unit(&st) : 200 + 2000 * next_unit(&st);
        when[n] = t;
        window_record_finish(w, t, OUTCOME_SUCCESS, value[n], 1);
        n++;
        if (n % 997 != 0)
            continue;
        static const double qs[] = {0.5, 0.95, 0.99};
        double spans[] = {60, 300, 3600, 1 + 3599 * next_unit(&st)};
        for (size_t k = 0; k < sizeof(spans) / sizeof(spans[0]); k++) {
            /* The samples in slots overlapping the span. */
            long first_slot = (long)floor(floor(t - spans[k]) / 10);
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if ((long)floor(floor(when[i]) / 10) >= first_slot)
                    sorted[m++] = value[i];
            qsort(sorted, m, sizeof(double), cmp_double);
            for (size_t j = 0; j < sizeof(qs) / sizeof(qs[0]); j++) {
                double got = window_latency_percentile(w, t, spans[k], qs[j]);
                if (m == 0) {
                    cr_assert(isnan(got));
                    continue;
                }
                double r = ceil(qs[j] * (double)m);
                double want = sorted[(r < 1 ? 1 : (size_t)r) - 1];
                cr_assert(about(got, want), "t %.3f span %g q %g: got %g, want %g (of %zu)", t,
                          spans[k], qs[j], got, want, m);
            }
        }
    }
    window_free(w);
}

/* ---- the day: per-minute counters ---- */

/* Minute m is [60m, 60m + 60); a span counts the minutes whose start lies in
 * (now - seconds, now]. The day ring has 1441 entries, so minutes m and
 * m + 1441 share one (for a window created at 0). */
static const totals_case_t day_cases[] = {
    /* start-up and the covered span */
    {"nothing recorded", 0, {{END}}, 100000, 86400, {.seconds = 86400}},
    {"near start-up the span is what has passed",
     100.25,
     {{END}},
     5000.75,
     86400,
     {.seconds = 4900.5}},
    {"more than a day asked is a day", 0, {{END}}, 200000, 1e6, {.seconds = 86400}},
    {"no span asked, nothing answered", 0, {ARR(5), {END}}, 9, 0, {.seconds = 0}},
    {"a NaN span, nothing answered", 0, {ARR(5), {END}}, 9, NAN, {.seconds = 0}},
    {"the minute of creation counts from creation",
     90.5,
     {ARR(95), {END}},
     200,
     86400,
     {.seconds = 109.5, .arrivals = 1}},

    /* beyond the hour */
    {"counts across the hour boundary",
     0,
     {ARR(100.5), ARR(2000), FIN(5000, OUTCOME_DROPPED, 0.5, -1), ARR(9000), {END}},
     10000,
     86400,
     {.seconds = 10000, .arrivals = 3, .finished = 1, .drops = 1}},
    {"twenty hours back",
     0,
     {ARR(1000), FIN(1000.5, OUTCOME_TIMEOUT, 30000, -1), ARR(73000), {END}},
     73001,
     86400,
     {.seconds = 73001, .arrivals = 2, .finished = 1, .timeouts = 1}},
    {"counters only: latencies, waits and integrals stay zero",
     0,
     {LD(9, 3, 1),
      RP(9, 2, 1),
      FIN(10.1, OUTCOME_SUCCESS, 10, 2),
      FIN(10.2, OUTCOME_CLIENT_ERROR, 5, 0),
      FIN(10.3, OUTCOME_SERVER_ERROR, 100, -1),
      FIN(10.4, OUTCOME_DROPPED, 0.5, -1),
      FIN(10.5, OUTCOME_TIMEOUT, 30000, -1),
      {END}},
     7200,
     86400,
     {.seconds = 7200,
      .finished = 5,
      .successes = 1,
      .client_errors = 1,
      .server_errors = 1,
      .drops = 1,
      .timeouts = 1}},

    /* the per-minute rule */
    {"the minute the span's start cuts is not counted",
     0,
     {ARR(410), ARR(420), ARR(999.9), {END}},
     1000.5,
     600,
     {.seconds = 600, .arrivals = 2}},
    {"an event at the query time counts",
     0,
     {ARR(600), {END}},
     600,
     60,
     {.seconds = 60, .arrivals = 1}},
    {"a span that does not reach the current minute's start counts nothing",
     0,
     {ARR(960), ARR(1019), {END}},
     1019.5,
     59,
     {.seconds = 59}},
    {"a span that reaches it counts the whole current minute",
     0,
     {ARR(960), ARR(1019), {END}},
     1019.5,
     60,
     {.seconds = 60, .arrivals = 2}},

    /* after a day: old minutes are gone, recycled entries show only new data */
    {"the oldest whole minute of the day is still there",
     0,
     {ARR(100.5), {END}},
     86459,
     86400,
     {.seconds = 86400, .arrivals = 1}},
    {"a minute later it is gone", 0, {ARR(100.5), {END}}, 86460, 86400, {.seconds = 86400}},
    {"a stale entry inside the span is not a ghost",
     0,
     {ARR(30), FIN(31, OUTCOME_SERVER_ERROR, 5, 1), {END}},
     1441 * 60 + 30,
     86400,
     {.seconds = 86400}},
    {"a recycled entry holds only its new minute",
     0,
     {ARR(30), ARR(31), ARR(1441 * 60 + 5), {END}},
     1441 * 60 + 10,
     86400,
     {.seconds = 86400, .arrivals = 1}},
    {"days later nothing is left",
     0,
     {ARR(10), FIN(10, OUTCOME_SUCCESS, 3, 0), ARR(50000), {END}},
     300000,
     86400,
     {.seconds = 86400}},
    {"a gap longer than a day, then new traffic",
     0,
     {ARR(100), FIN(101, OUTCOME_DROPPED, 0, -1), ARR(200000.5), {END}},
     200001,
     86400,
     {.seconds = 86400, .arrivals = 1}},
    {"a time going backwards is read as the latest",
     0,
     {ARR(1000), ARR(50), {END}},
     500,
     60,
     {.seconds = 60, .arrivals = 2}},
};

Test(window, day_totals_table)
{
    for (size_t r = 0; r < sizeof(day_cases) / sizeof(day_cases[0]); r++) {
        const totals_case_t *c = &day_cases[r];
        model_window_t *w = window_new(c->created);
        cr_assert_not_null(w);
        run(w, c->steps);
        window_totals_t got;
        window_day_totals(w, c->now, c->seconds, &got);
        expect_totals(c->name, &got, &c->want);
        window_free(w);
    }
}

/* Three and a half simulated days of traffic with quiet gaps up to a day
 * and a half, queried as it goes: the day counters must match a brute-force
 * count by the per-minute rule, and at second 59 of a minute (where the two
 * rules select the same seconds) match window_totals on whole-minute spans. */
Test(window, random_day_totals_match_brute_force)
{
    uint64_t st = 2024;
    const double created = 5000 + 100 * next_unit(&st);
    model_window_t *w = window_new(created);
    size_t n = 0, cap = 1 << 16;
    struct event {
        double t;
        int kind; /* -1 arrival, else a request_outcome_t */
    } *ev = malloc(cap * sizeof(*ev));
    cr_assert_not_null(ev);
    double t = created;
    int queries = 0, agreements = 0;
    while (t < created + 3.5 * 86400) {
        /* Quiet for a day and a half, later for eight hours; else seconds. */
        t += n == 15000 ? 130000 : n == 30000 ? 30000 : 6 * next_unit(&st);
        int kind = (int)(next_u64(&st) % 7) - 1;
        if (kind > OUTCOME_TIMEOUT)
            kind = -1;
        if (kind < 0)
            window_record_arrival(w, t);
        else
            window_record_finish(w, t, (request_outcome_t)kind, 10, 1);
        if (n == cap) {
            cap *= 2;
            ev = realloc(ev, cap * sizeof(*ev));
            cr_assert_not_null(ev);
        }
        ev[n].t = t;
        ev[n].kind = kind;
        n++;
        if (n % 97 != 0)
            continue;
        double now = next_u64(&st) % 2 ? t + 100 * next_unit(&st) : 60 * floor(t / 60) + 59.5;
        if (now < t)
            now += 60;
        double spans[] = {86400, 1 + 86399 * next_unit(&st), 3600,
                          60 * (double)(1 + next_u64(&st) % 60),
                          60 * (double)(1 + next_u64(&st) % 1440)};
        for (size_t k = 0; k < sizeof(spans) / sizeof(spans[0]); k++) {
            double s = spans[k];
            window_totals_t got, want = {.seconds = now - created < s ? now - created : s};
            window_day_totals(w, now, s, &got);
            for (size_t i = n; i-- > 0;) {
                if (60 * floor(ev[i].t / 60) <= now - s)
                    break;
                switch (ev[i].kind) {
                case -1:
                    want.arrivals++;
                    continue;
                case OUTCOME_SUCCESS:
                    want.successes++;
                    break;
                case OUTCOME_CLIENT_ERROR:
                    want.client_errors++;
                    break;
                case OUTCOME_SERVER_ERROR:
                    want.server_errors++;
                    break;
                case OUTCOME_DROPPED:
                    want.drops++;
                    break;
                case OUTCOME_TIMEOUT:
                    want.timeouts++;
                    break;
                }
                want.finished++;
            }
            char name[96];
            snprintf(name, sizeof(name), "now %.3f span %.3f", now, s);
            expect_totals(name, &got, &want);
            queries++;
            if (fmod(now, 60) == 59.5 && s <= 3600 && fmod(s, 60) == 0) {
                window_totals_t hour;
                window_totals(w, now, s, &hour);
                memset(&hour.latency_sum_ms, 0,
                       sizeof(hour) - offsetof(window_totals_t, latency_sum_ms));
                snprintf(name, sizeof(name), "hour rule, now %.3f span %.0f", now, s);
                expect_totals(name, &got, &hour);
                agreements++;
            }
        }
    }
    cr_expect(queries > 1000, "only %d queries", queries);
    cr_expect(agreements > 200, "only %d comparisons with window_totals", agreements);
    window_free(w);
    free(ev);
}

/* ---- minute histograms and active minutes ---- */

static void expect_same_histogram(const char *name, const histogram_t *got, const histogram_t *want)
{
    cr_expect_eq(got->total, want->total, "%s: total %llu, want %llu", name,
                 (unsigned long long)got->total, (unsigned long long)want->total);
    cr_expect(memcmp(got->counts, want->counts, sizeof(got->counts)) == 0,
              "%s: bucket counts differ", name);
    cr_expect(near(got->sum_ms, want->sum_ms), "%s: sum %.9g, want %.9g", name, got->sum_ms,
              want->sum_ms);
}

Test(window, minute_histograms)
{
    static const struct {
        const char *name;
        unsigned minute_ago;
        uint64_t total;
        double mean; /* NAN: empty */
    } rows[] = {
        {"this minute: 99 x 10 ms and the 500 ms error, not the drop", 0, 100, 14.9},
        {"minute 1", 1, 50, 100},
        {"minute 2 had no traffic", 2, 0, NAN},
        {"minute 3", 3, 50, 1000},
        {"minute 59: inside the window, empty", 59, 0, NAN},
        {"minute 60 is beyond the window", 60, 0, NAN},
        {"far beyond", 100000, 0, NAN},
    };
    static const double qs[] = {0, 0.5, 0.95, 0.99, 1};
    model_window_t *w = latency_fixture();
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        histogram_t h;
        memset(&h, 0xff, sizeof(h)); /* the call must reset it */
        window_minute_histogram(w, 1005, rows[r].minute_ago, &h);
        cr_expect_eq(h.total, rows[r].total, "%s: total %llu, want %llu", rows[r].name,
                     (unsigned long long)h.total, (unsigned long long)rows[r].total);
        double mean = histogram_mean(&h);
        cr_expect(isnan(rows[r].mean) ? isnan(mean) : near(mean, rows[r].mean),
                  "%s: mean %g, want %g", rows[r].name, mean, rows[r].mean);
        for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
            double a = histogram_percentile(&h, qs[i]);
            double b = window_minute_percentile(w, 1005, rows[r].minute_ago, qs[i]);
            cr_expect((isnan(a) && isnan(b)) || a == b, "%s: q %g from the histogram %g, direct %g",
                      rows[r].name, qs[i], a, b);
        }
    }

    /* Minutes 0..k are the slots 95 - 6k .. 100, which a span of 54.5 + 60k s
     * from 1005 overlaps exactly: merging them gives that span's histogram. */
    histogram_t merged, span;
    histogram_reset(&merged);
    for (unsigned k = 0; k < 60; k++) {
        histogram_t h;
        window_minute_histogram(w, 1005, k, &h);
        histogram_merge(&merged, &h);
        window_latency_histogram(w, 1005, 54.5 + 60 * k, &span);
        char name[64];
        snprintf(name, sizeof(name), "minutes 0..%u", k);
        expect_same_histogram(name, &merged, &span);
    }
    window_free(w);
}

/* The slot index of a time, as the window numbers them. */
static long slot_of(double t)
{
    return (long)floor(floor(t) / 10);
}

/* Two models with random traffic (one with drops and unmeasured finishes)
 * over a few hours with quiet gaps: each minute's histogram, and the two
 * merged into a server-wide minute, must equal the histogram of the samples
 * in that minute's slots, and the active minutes the minutes with finishes. */
Test(window, random_minute_histograms_and_active_minutes_match_brute_force)
{
    enum { N = 30000 };
    static struct sample {
        double t, latency;
        int model, outcome;
    } s[N];
    uint64_t st = 99;
    model_window_t *w[2] = {window_new(0), window_new(3.7)};
    cr_assert(w[0] && w[1]);
    double t = 10;
    int checks = 0;
    for (size_t n = 0; n < N;) {
        t += 1.5 * next_unit(&st) + (next_unit(&st) < 0.003 ? 30 + 4000 * next_unit(&st) : 0);
        struct sample *x = &s[n++];
        x->t = t;
        x->model = (int)(next_u64(&st) % 2);
        x->latency = next_unit(&st) < 0.8 ? 5 + 30 * next_unit(&st) : 100 + 3000 * next_unit(&st);
        x->outcome = OUTCOME_SUCCESS;
        if (x->model == 1) {
            double u = next_unit(&st);
            if (u < 0.3)
                x->outcome = OUTCOME_DROPPED;
            else if (u < 0.4)
                x->latency = next_unit(&st) < 0.5 ? -1 : NAN;
        }
        window_record_finish(w[x->model], t, (request_outcome_t)x->outcome, x->latency, -1);
        if (n % 1499 != 0)
            continue;

        double now = t + 20 * next_unit(&st);
        long j_now = slot_of(now);
        histogram_t want[2][61], want_all[61];
        bool active[2][61] = {{false}};
        for (int m = 0; m <= 60; m++) {
            histogram_reset(&want[0][m]);
            histogram_reset(&want[1][m]);
            histogram_reset(&want_all[m]);
        }
        for (size_t i = 0; i < n; i++) {
            long back = j_now - slot_of(s[i].t);
            if (back < 0 || back >= 360) /* 60 minutes of six slots */
                continue;
            int m = (int)(back / 6);
            active[s[i].model][m] = true;
            if (s[i].outcome != OUTCOME_DROPPED && s[i].latency >= 0) {
                histogram_add(&want[s[i].model][m], s[i].latency);
                histogram_add(&want_all[m], s[i].latency);
            }
        }
        unsigned want_active[2] = {0, 0};
        for (unsigned m = 0; m <= 60; m++) {
            histogram_t got[2], all;
            histogram_reset(&all);
            for (int k = 0; k < 2; k++) {
                window_minute_histogram(w[k], now, m, &got[k]);
                histogram_merge(&all, &got[k]);
                char name[80];
                snprintf(name, sizeof(name), "model %d, now %.3f, minute %u", k, now, m);
                expect_same_histogram(name, &got[k], &want[k][m]);
                /* Minutes 1..m precede the current one: compare the prefix. */
                cr_expect_eq(window_active_minutes(w[k], now, m), want_active[k],
                             "%s: %u active of the last %u, want %u", name,
                             window_active_minutes(w[k], now, m), m, want_active[k]);
                if (m < 60 && active[k][m])
                    want_active[k]++;
            }
            char name[64];
            snprintf(name, sizeof(name), "both models, now %.3f, minute %u", now, m);
            expect_same_histogram(name, &all, &want_all[m]);
            double p95 = histogram_percentile(&all, 0.95),
                   want_p95 = histogram_percentile(&want_all[m], 0.95);
            cr_expect((isnan(p95) && isnan(want_p95)) || p95 == want_p95, "%s: p95 %g, want %g",
                      name, p95, want_p95);
        }
        /* Model 0 always has a latency: active minutes are the non-empty histograms. */
        unsigned nonempty = 0;
        for (unsigned m = 0; m < 60; m++)
            nonempty += want[0][m].total > 0;
        cr_expect_eq(window_active_minutes(w[0], now, 60), nonempty);
        checks++;
    }
    cr_expect(checks >= 20, "only %d checks", checks);
    window_free(w[0]);
    window_free(w[1]);
}

Test(window, active_minutes)
{
    /* At 1005 minute m is [950 - 60m, 1010 - 60m); at 5005 minute 59 is
     * [1410, 1470). Seconds 100 and 3701 share an entry of the second ring. */
    static const struct {
        const char *name;
        step_t steps[8];
        double now;
        unsigned minutes;
        unsigned want;
    } rows[] = {
        {"nothing yet", {{END}}, 1005, 60, 0},
        {"minutes 0, 1 and 3",
         {FIN(771, OUTCOME_SUCCESS, 5, 0),
          FIN(891, OUTCOME_SUCCESS, 5, 0),
          FIN(951, OUTCOME_SUCCESS, 5, 0),
          FIN(1001, OUTCOME_SUCCESS, 5, 0),
          {END}},
         1005,
         60,
         3},
        {"the last two of them",
         {FIN(771, OUTCOME_SUCCESS, 5, 0),
          FIN(891, OUTCOME_SUCCESS, 5, 0),
          FIN(951, OUTCOME_SUCCESS, 5, 0),
          FIN(1001, OUTCOME_SUCCESS, 5, 0),
          {END}},
         1005,
         2,
         2},
        {"none of them asked",
         {FIN(771, OUTCOME_SUCCESS, 5, 0), FIN(1001, OUTCOME_SUCCESS, 5, 0), {END}},
         1005,
         0,
         0},
        {"arrivals alone are not finished requests", {ARR(1000), ARR(1004), {END}}, 1005, 60, 0},
        {"a minute of drops counts", {FIN(1000, OUTCOME_DROPPED, 0.5, -1), {END}}, 1005, 60, 1},
        {"a finish without a latency counts",
         {FIN(1000, OUTCOME_SUCCESS, -1, -1), {END}},
         1005,
         60,
         1},
        {"minute 0 begins with its first slot",
         {FIN(950, OUTCOME_SUCCESS, 5, 0), {END}},
         1005,
         1,
         1},
        {"just before it is minute 1", {FIN(949.9, OUTCOME_SUCCESS, 5, 0), {END}}, 1005, 1, 0},
        {"which two minutes include", {FIN(949.9, OUTCOME_SUCCESS, 5, 0), {END}}, 1005, 2, 1},
        {"minute 59 is in the hour", {FIN(1410, OUTCOME_SUCCESS, 5, 0), {END}}, 5005, 60, 1},
        {"but not in the last 59 minutes", {FIN(1410, OUTCOME_SUCCESS, 5, 0), {END}}, 5005, 59, 0},
        {"minute 60 is not", {FIN(1409.9, OUTCOME_SUCCESS, 5, 0), {END}}, 5005, 60, 0},
        {"more than 60 asked is 60",
         {FIN(1409.9, OUTCOME_SUCCESS, 5, 0), FIN(1410, OUTCOME_SUCCESS, 5, 0), {END}},
         5005,
         1000,
         1},
        {"an hour later a stale second bucket is not a ghost",
         {FIN(100.5, OUTCOME_SUCCESS, 5, 0), {END}},
         3701.5,
         60,
         0},
        {"a recycled second bucket holding only an arrival",
         {FIN(100.5, OUTCOME_SUCCESS, 5, 0), ARR(3701.2), {END}},
         3701.5,
         60,
         0},
        {"a recycled second bucket finished anew",
         {FIN(100.5, OUTCOME_SUCCESS, 5, 0), FIN(3701.2, OUTCOME_SUCCESS, 5, 0), {END}},
         3701.5,
         60,
         1},
        {"a time going backwards is read as the latest",
         {FIN(1000, OUTCOME_SUCCESS, 5, 0), FIN(900, OUTCOME_SUCCESS, 5, 0), {END}},
         1005,
         60,
         1},
        {"an earlier query time is read as the latest",
         {FIN(1000, OUTCOME_SUCCESS, 5, 0), {END}},
         100,
         1,
         1},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        model_window_t *w = window_new(0);
        run(w, rows[r].steps);
        unsigned got = window_active_minutes(w, rows[r].now, rows[r].minutes);
        cr_expect_eq(got, rows[r].want, "%s: %u, want %u", rows[r].name, got, rows[r].want);
        window_free(w);
    }

    /* A finish every 30 s for two hours: every minute of the hour is active. */
    model_window_t *w = window_new(0);
    for (int i = 0; i < 240; i++)
        window_record_finish(w, 30.0 * i, OUTCOME_SUCCESS, 5, 0);
    cr_expect_eq(window_active_minutes(w, 7200.5, 60), 60);
    cr_expect_eq(window_active_minutes(w, 7200.5, 5), 5);
    window_free(w);
}

/* A reader that reads at arbitrary moments with one cursor counts every
 * arrival exactly once, the ones in the rest of a second it read in too. */
Test(window, count_since_counts_every_second_once)
{
    model_window_t *w = window_new(100.0);
    int64_t cursor = 100;
    uint64_t counted = 0, sent = 0;
    window_totals_t c;
    /* Arrivals every 0.13 s over 30 s; reads at 0.7 s spacing fall in the
     * middle of seconds that go on receiving requests after the read. */
    double next_read = 100.7;
    for (double t = 100.05; t < 130.0; t += 0.13) {
        while (next_read <= t) {
            window_count_since(w, next_read, false, &cursor, &c);
            counted += c.arrivals;
            next_read += 0.7;
        }
        window_record_arrival(w, t);
        sent++;
    }
    window_count_since(w, 130.0, true, &cursor, &c);
    counted += c.arrivals;
    cr_expect_eq(counted, sent, "counted %llu of %llu arrivals", (unsigned long long)counted,
                 (unsigned long long)sent);
    cr_expect_eq(cursor, 131, "the final read moves the cursor past now's second");

    /* Reading again at the same moment finds nothing new. */
    window_count_since(w, 130.0, true, &cursor, &c);
    cr_expect_eq(c.arrivals, 0);
    cr_expect_eq(c.seconds, 0);
    window_free(w);
}
