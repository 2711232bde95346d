/* test_loadtest.c - the pure parts of `inferd loadtest`: arrival
 * schedules, traces read through the simulator's reader (and its errors,
 * which name the file and line), per-second figures, whether a run is a
 * measurement, the CSV and SVG writers.
 *
 * The SVG checks use a small well-formedness checker written for the
 * subset of XML the writer emits (elements, quoted attributes, text,
 * entities, one declaration): tags nest and close, attribute values are
 * quoted, and no bare '<' or '&' appears in text. The end-to-end test
 * parses a real run's figure with a full XML parser.
 */
#include <criterion/criterion.h>

#include "loadtest/results.h"
#include "loadtest/schedule.h"
#include "loadtest/svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- ramps ---- */

typedef struct ramp_case {
    double start, end, seconds, duration;
    size_t max_count;
    size_t expected;
} ramp_case_t;

Test(loadtest_schedule, ramp_counts_are_the_integral_of_the_rate)
{
    static const ramp_case_t cases[] = {
        /* start end secs duration max   expected */
        {0, 10, 10, 0, 1000, 50},    /* (0+10)/2 * 10 */
        {10, 10, 5, 0, 1000, 50},    /* flat */
        {1, 3, 2, 0, 1000, 4},       /* (1+3)/2 * 2 */
        {5, 0, 2, 0, 1000, 5},       /* ramp down */
        {0, 10, 10, 20, 1000, 150},  /* then 10 more seconds at 10/s */
        {0, 10, 10, 0, 7, 7},        /* max_count bounds it */
        {0, 10, 10, 5, 1000, 13},    /* 5 s of the ramp: 10/10 * 5^2 / 2 = 12.5 -> k = 0..12 */
        {20, 20, 0.5, 0, 1000, 10},  /* half a second at 20/s */
        {0, 100, 60, 0, 10000, 3000} /* the spec's one-minute ramp, to 100/s */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const ramp_case_t *c = &cases[i];
        schedule_limits_t lim = {.duration = c->duration, .max_count = c->max_count};
        char err[256] = "";
        schedule_t *s = schedule_ramp(c->start, c->end, c->seconds, &lim, err, sizeof(err));
        cr_assert_not_null(s, "case %zu: %s", i, err);
        cr_expect_eq(schedule_count(s), c->expected, "case %zu: %zu arrivals, expected %zu", i,
                     schedule_count(s), c->expected);
        double bound = c->duration > 0 ? c->duration : c->seconds;
        for (size_t k = 0; k < schedule_count(s); k++) {
            arrival_t a = schedule_arrival(s, k);
            cr_assert(a.at >= 0 && a.at < bound, "case %zu: arrival %zu at %g", i, k, a.at);
            cr_assert_eq(a.model, SCHEDULE_ANY_MODEL);
            if (k > 0)
                cr_assert(a.at >= schedule_arrival(s, k - 1).at, "case %zu: not sorted at %zu", i,
                          k);
        }
        schedule_free(s);
    }
}

Test(loadtest_schedule, ramp_rate_rises_linearly)
{
    schedule_limits_t lim = {.max_count = 100000};
    schedule_t *s = schedule_ramp(0, 100, 10, &lim, NULL, 0);
    cr_assert_not_null(s);
    size_t per_second[10] = {0};
    for (size_t k = 0; k < schedule_count(s); k++)
        per_second[(size_t)schedule_arrival(s, k).at]++;
    /* Second i holds the integral of 10t over [i, i+1]: 10i + 5, give or
     * take the one arrival straddling each boundary. */
    for (size_t i = 0; i < 10; i++)
        cr_expect(labs((long)per_second[i] - (long)(10 * i + 5)) <= 1, "second %zu: %zu", i,
                  per_second[i]);
    schedule_free(s);
}

Test(loadtest_schedule, ramp_rejects_what_sends_nothing)
{
    schedule_limits_t lim = {.max_count = 10};
    char err[256];
    cr_expect_null(schedule_ramp(0, 0, 10, &lim, err, sizeof(err)));
    cr_expect_null(schedule_ramp(-1, 5, 10, &lim, err, sizeof(err)));
    cr_expect_null(schedule_ramp(1, 5, 0, &lim, err, sizeof(err)));
    cr_expect_null(schedule_ramp(NAN, 5, 1, &lim, err, sizeof(err)));
}

/* ---- Poisson ---- */

Test(loadtest_schedule, poisson_is_seeded_and_near_its_rate)
{
    schedule_limits_t lim = {.duration = 10, .max_count = 100000};
    schedule_t *a = schedule_poisson(100, 7, &lim, NULL, 0);
    schedule_t *b = schedule_poisson(100, 7, &lim, NULL, 0);
    schedule_t *c = schedule_poisson(100, 8, &lim, NULL, 0);
    cr_assert(a && b && c);
    /* 1000 expected, standard deviation about 32: within 5 of them. */
    cr_expect(schedule_count(a) > 840 && schedule_count(a) < 1160, "%zu", schedule_count(a));
    cr_assert_eq(schedule_count(a), schedule_count(b));
    for (size_t i = 0; i < schedule_count(a); i++)
        cr_assert_eq(schedule_arrival(a, i).at, schedule_arrival(b, i).at);
    cr_expect(schedule_count(c) != schedule_count(a) ||
              schedule_arrival(c, 0).at != schedule_arrival(a, 0).at);
    for (size_t i = 0; i < schedule_count(a); i++)
        cr_assert(schedule_arrival(a, i).at < 10);
    schedule_free(a);
    schedule_free(b);
    schedule_free(c);

    char err[256];
    lim.duration = 0;
    cr_expect_null(schedule_poisson(100, 1, &lim, err, sizeof(err)), "needs a duration");
    lim.duration = 1;
    cr_expect_null(schedule_poisson(0, 1, &lim, err, sizeof(err)));
}

/* ---- traces, through the simulator's reader ---- */

/* Trace files live in a directory of their own under the working
 * directory (the build tree under ctest), removed after each test. */
static char trace_dir[64];

static void make_trace_dir(void)
{
    snprintf(trace_dir, sizeof(trace_dir), "test_loadtest.XXXXXX");
    cr_assert_not_null(mkdtemp(trace_dir));
}

static void remove_trace_dir(void)
{
    rmdir(trace_dir);
}

/* Writes text to a new file in trace_dir; path receives its name. */
static void write_trace(char *path, size_t pathlen, const char *name, const char *text)
{
    snprintf(path, pathlen, "%s/%s", trace_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static schedule_t *load_text(const char *text, const trace_options_t *opts,
                             const schedule_limits_t *lim, char *err, size_t errlen)
{
    char path[128];
    write_trace(path, sizeof(path), "trace.csv", text);
    schedule_t *s = schedule_load_trace(path, opts, lim, err, errlen);
    unlink(path);
    return s;
}

Test(loadtest_trace, per_minute_counts_are_spread_within_each_minute, .init = make_trace_dir,
     .fini = remove_trace_dir)
{
    /* The file the audit found read as two requests at 0 s and 1 s. */
    trace_options_t opts = {.time_scale = 1, .rate_scale = 1, .seed = 3};
    schedule_limits_t lim = {.max_count = 1000};
    char err[512] = "";
    schedule_t *s = load_text("minute,count\n0,5\n1,4\n", &opts, &lim, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(schedule_count(s), 9, "%zu requests, expected 5 + 4", schedule_count(s));
    for (size_t k = 0; k < 9; k++) {
        double lo = k < 5 ? 0 : 60, at = schedule_arrival(s, k).at;
        cr_expect(at >= lo && at < lo + 60, "request %zu at %.3f s", k, at);
        cr_expect_eq(schedule_arrival(s, k).model, SCHEDULE_ANY_MODEL);
        if (k > 0)
            cr_expect_geq(at, schedule_arrival(s, k - 1).at);
    }
    schedule_free(s);
}

/* The same file, seed and scales give loadtest exactly the arrivals
 * inferd simulate replays: one reader, one scaling. */
Test(loadtest_trace, arrivals_are_the_simulators, .init = make_trace_dir, .fini = remove_trace_dir)
{
    static const struct {
        const char *text;
        double time_scale, rate_scale;
    } rows[] = {
        {"minute,count\n0,5\n1,4\n3,7\n", 60, 1},
        {"minute,count\n0,50\n2,40\n", 10, 0.5},
        {"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.5,1,2\n"
         "2023-11-16 18:15:50,3,4\n2023-11-16 18:16:10,5,6\n",
         2, 2.5},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[128], err[512] = "";
        write_trace(path, sizeof(path), "same.csv", rows[i].text);
        trace_options_t opts = {
            .time_scale = rows[i].time_scale, .rate_scale = rows[i].rate_scale, .seed = 11};
        schedule_limits_t lim = {.max_count = 100000};
        schedule_t *s = schedule_load_trace(path, &opts, &lim, err, sizeof(err));
        cr_assert_not_null(s, "row %zu: %s", i, err);
        sim_trace_t t;
        cr_assert_eq(sim_trace_read_csv(path, 11, &t, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(sim_trace_scale(&t, rows[i].time_scale, rows[i].rate_scale, 11), 0);
        cr_assert_eq(schedule_count(s), t.n, "row %zu: %zu vs %zu", i, schedule_count(s), t.n);
        for (size_t k = 0; k < t.n; k++)
            cr_assert_eq(schedule_arrival(s, k).at, t.arrival[k], "row %zu, request %zu", i, k);
        sim_trace_free(&t);
        schedule_free(s);
        unlink(path);
    }
}

typedef struct bad_trace_case {
    const char *situation;
    const char *text;
    const char *model_column;
    const char *expected; /* in the message, after the file's name */
} bad_trace_case_t;

Test(loadtest_trace, bad_files_name_the_file_and_line, .init = make_trace_dir,
     .fini = remove_trace_dir)
{
    static const bad_trace_case_t cases[] = {
        {"an empty file", "", NULL, ":1: the file is empty"},
        {"a header and no rows", "TIMESTAMP,ContextTokens\n", NULL, "no requests after the header"},
        {"no header", "2023-11-16 18:15:46,374,44\n2023-11-16 18:15:47,1,2\n", NULL,
         ":1: expected a header line"},
        {"a bad token count",
         "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,374,44\n"
         "2023-11-16 18:15:47,12,many\n",
         NULL, ":3: column 3 (GeneratedTokens): 'many' is not a non-negative token count"},
        {"a negative token count",
         "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,-1,44\n", NULL,
         ":2: column 2 (ContextTokens)"},
        {"a short row", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,1\n", NULL,
         ":2: 2 columns, but the header has 3"},
        {"an unsorted row",
         "T,a\n2023-11-16 18:15:46,1\n2023-11-16 18:15:47,1\n2023-11-16 18:15:45,1\n", NULL,
         ":4: column 1 (T): '2023-11-16 18:15:45' is earlier than the previous row's (line 3)"},
        {"not a time", "T,a\n2023-11-16 18:15:46,1\nnot-a-time,2\n", NULL,
         ":3: column 1 (T): 'not-a-time' is not a time"},
        {"a day the month lacks", "T,a\n2023-11-16 18:15:46,1\n2023-02-30 00:00:00,2\n", NULL,
         ":3: column 1 (T): '2023-02-30 00:00:00' is not a time"},
        {"a bad minute count", "minute,count\n0,5\n1,many\n", NULL,
         ":3: column 2 (count): 'many' is not a whole number"},
        {"minutes out of order", "minute,count\n1,5\n0,4\n", NULL,
         ":3: column 1 (minute): '0' is less than a minute after"},
        {"a model column the header lacks", "t,model\n0,a\n1,b\n", "voice",
         ":1: the header has no column 'voice'"},
        {"an empty model", "t,model\n0,a\n1,\n", "model",
         ":3: column 2 (model): '' is not a model name"},
        {"a row without its model", "t,model\n0,a\n1\n", "model",
         ":3: 1 columns, but the header has 2"},
        {"a model column in per-minute counts", "minute,count\n0,5\n", "count",
         ":1: a per-minute trace"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const bad_trace_case_t *c = &cases[i];
        trace_options_t opts = {
            .time_scale = 1, .rate_scale = 1, .seed = 1, .model_column = c->model_column};
        schedule_limits_t lim = {.max_count = 1000};
        char path[128], err[512] = "";
        write_trace(path, sizeof(path), "bad.csv", c->text);
        schedule_t *s = schedule_load_trace(path, &opts, &lim, err, sizeof(err));
        cr_expect_null(s, "%s: read, expected an error", c->situation);
        cr_expect(strstr(err, path) != NULL, "%s: '%s' names no file", c->situation, err);
        cr_expect(strstr(err, c->expected) != NULL, "%s: got '%s', want '%s'", c->situation, err,
                  c->expected);
        schedule_free(s);
        unlink(path);
    }
}

typedef struct trace_case {
    const char *text;
    double time_scale, duration;
    size_t max_count;
    size_t count;
    double at[6];
} trace_case_t;

Test(loadtest_trace, request_rows_are_scaled_and_bounded, .init = make_trace_dir,
     .fini = remove_trace_dir)
{
    static const trace_case_t cases[] = {
        {"T\n0\n0.5\n1.5\n", 1, 0, 1000, 3, {0, 0.5, 1.5}},
        {"T\r\n10\r\n\r\n10.5\r\n11.5\r\n", 2, 0, 1000, 3, {0, 0.25, 0.75}},
        {"TIMESTAMP,ContextTokens,GeneratedTokens\n"
         "2023-11-16 18:15:46.6805900,374,44\n"
         "2023-11-16 18:15:50.9951690,396,109\n"
         "2023-11-16 18:16:46.6805900,879,55\n",
         60,
         0,
         1000,
         3,
         {0, 0.071909633, 1}},
        {"t\n0\n1\n2\n3\n4\n5\n6\n", 1, 3.5, 1000, 4, {0, 1, 2, 3}}, /* --duration */
        {"t\n0\n1\n2\n3\n4\n5\n6\n", 1, 0, 2, 2, {0, 1}},            /* --max-requests */
        {"minute,count\n0,0\n2,0\n", 1, 0, 1000, 0, {0}},            /* no requests: error */
        {"t\n2023-11-16 18:15:46\n2023-11-16 18:15:46\n", 1, 0, 9, 2, {0, 0}}, /* equal times */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const trace_case_t *c = &cases[i];
        trace_options_t opts = {.time_scale = c->time_scale, .rate_scale = 1, .seed = 1};
        schedule_limits_t lim = {.duration = c->duration, .max_count = c->max_count};
        char err[512] = "";
        schedule_t *s = load_text(c->text, &opts, &lim, err, sizeof(err));
        if (c->count == 0) {
            cr_expect_null(s, "case %zu: a trace without requests was read", i);
            cr_expect(strstr(err, "no requests") != NULL, "case %zu: %s", i, err);
            schedule_free(s);
            continue;
        }
        cr_assert_not_null(s, "case %zu: %s", i, err);
        cr_expect_eq(schedule_count(s), c->count, "case %zu: %zu arrivals", i, schedule_count(s));
        for (size_t k = 0; k < schedule_count(s) && k < c->count; k++)
            cr_expect(fabs(schedule_arrival(s, k).at - c->at[k]) < 1e-6,
                      "case %zu: arrival %zu at %.9f, expected %.9f", i, k,
                      schedule_arrival(s, k).at, c->at[k]);
        schedule_free(s);
    }
}

Test(loadtest_trace, model_column_names_the_model, .init = make_trace_dir, .fini = remove_trace_dir)
{
    const char *text = "t,model,x\n0,tts-a,1\n1,\"tts-b\",2\n2, tts-a ,3\n";
    trace_options_t opts = {.time_scale = 1, .rate_scale = 1, .model_column = "model"};
    schedule_limits_t lim = {.max_count = 100};
    char err[512] = "";
    schedule_t *s = load_text(text, &opts, &lim, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(schedule_model_count(s), 2);
    cr_expect_str_eq(schedule_model_name(s, 0), "tts-a");
    cr_expect_str_eq(schedule_model_name(s, 1), "tts-b");
    cr_expect_eq(schedule_arrival(s, 0).model, 0);
    cr_expect_eq(schedule_arrival(s, 1).model, 1);
    cr_expect_eq(schedule_arrival(s, 2).model, 0);
    schedule_free(s);
}

static schedule_t *rows_scaled(size_t rows, double rate_scale, uint64_t seed)
{
    buf_t text = BUF_INIT;
    buf_append_str(&text, "t\n");
    for (size_t i = 0; i < rows; i++)
        buf_appendf(&text, "%zu\n", i);
    buf_append(&text, "", 1);
    trace_options_t opts = {.time_scale = 1, .rate_scale = rate_scale, .seed = seed};
    schedule_limits_t lim = {.max_count = 1000000};
    char err[512] = "";
    schedule_t *s = load_text(text.data, &opts, &lim, err, sizeof(err));
    buf_free(&text);
    cr_assert_not_null(s, "%s", err);
    return s;
}

Test(loadtest_trace, rate_scale_thins_or_copies_deterministically, .init = make_trace_dir,
     .fini = remove_trace_dir)
{
    /* Twice: each request and one copy before the next request, as
     * inferd simulate copies (not two at the same instant). */
    schedule_t *twice = rows_scaled(1000, 2, 1);
    cr_expect_eq(schedule_count(twice), 2000);
    for (size_t k = 0; k < 1998; k += 2) {
        double first = schedule_arrival(twice, k).at, copy = schedule_arrival(twice, k + 1).at;
        cr_assert(first == (double)(k / 2) && copy >= first && copy < first + 1,
                  "request %zu at %g, its copy at %g", k / 2, first, copy);
    }
    schedule_free(twice);

    schedule_t *half = rows_scaled(2000, 0.5, 1);
    schedule_t *again = rows_scaled(2000, 0.5, 1);
    schedule_t *other = rows_scaled(2000, 0.5, 2);
    /* Binomial(2000, 0.5): mean 1000, deviation about 22. */
    cr_expect(schedule_count(half) > 890 && schedule_count(half) < 1110, "%zu",
              schedule_count(half));
    cr_assert_eq(schedule_count(half), schedule_count(again));
    for (size_t i = 0; i < schedule_count(half); i++)
        cr_assert_eq(schedule_arrival(half, i).at, schedule_arrival(again, i).at);
    bool differs = schedule_count(other) != schedule_count(half);
    for (size_t i = 0; !differs && i < schedule_count(half); i++)
        differs = schedule_arrival(other, i).at != schedule_arrival(half, i).at;
    cr_expect(differs, "another seed keeps other rows");
    schedule_free(half);
    schedule_free(again);
    schedule_free(other);

    schedule_t *one_half = rows_scaled(2000, 1.5, 3);
    cr_expect(schedule_count(one_half) > 2890 && schedule_count(one_half) < 3110, "%zu",
              schedule_count(one_half));
    schedule_free(one_half);
}

Test(loadtest_trace, scales_out_of_range_and_missing_files_are_refused, .init = make_trace_dir,
     .fini = remove_trace_dir)
{
    schedule_limits_t lim = {.max_count = 10};
    char err[512] = "";
    trace_options_t opts = {.time_scale = 1, .rate_scale = 1};
    cr_expect_null(schedule_load_trace("no-such-trace.csv", &opts, &lim, err, sizeof(err)));
    cr_expect(strstr(err, "cannot open trace 'no-such-trace.csv'") != NULL, "%s", err);

    static const double bad[][2] = {{0, 1}, {-1, 1}, {NAN, 1}, {1, 0}, {1, 1001}, {1, NAN}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        trace_options_t o = {.time_scale = bad[i][0], .rate_scale = bad[i][1]};
        cr_expect_null(load_text("t\n0\n", &o, &lim, err, sizeof(err)), "scales %g, %g", bad[i][0],
                       bad[i][1]);
    }
    trace_options_t thin = {.time_scale = 1, .rate_scale = 1e-6, .seed = 1};
    cr_expect_null(load_text("t\n0\n1\n", &thin, &lim, err, sizeof(err)));
    cr_expect(strstr(err, "no requests left after a rate scale of 1e-06") != NULL, "%s", err);
}

/* ---- percentiles and per-second figures ---- */

typedef struct pct_case {
    double values[10];
    size_t n;
    double q;
    double expected;
} pct_case_t;

Test(loadtest_results, percentile_is_nearest_rank)
{
    static const pct_case_t cases[] = {
        {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, 0.5, 5},
        {{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 10, 0.95, 10},
        {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, 0.99, 10},
        {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, 0.1, 1},
        {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, 0.11, 2},
        {{42}, 1, 0.5, 42},
        {{42}, 1, 0.99, 42},
        {{3, 1}, 2, 0.5, 1},
        {{3, 1}, 2, 0.51, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double v[10];
        memcpy(v, cases[i].values, sizeof(v));
        double got = results_percentile(v, cases[i].n, cases[i].q);
        cr_expect_eq(got, cases[i].expected, "case %zu: %g, expected %g", i, got,
                     cases[i].expected);
    }
    cr_expect(isnan(results_percentile(NULL, 0, 0.5)));
}

#define ROW(sched, sent, fin, lat, status, error)                                                  \
    {                                                                                              \
        (sched), (sent), (fin), (lat), (status), (error), 0, 0                                     \
    }

Test(loadtest_results, per_second_counts_and_percentiles)
{
    const results_row_t rows[] = {
        ROW(0.1, 0.1, 0.2, 100, 200, NULL),     ROW(0.2, 0.2, 0.5, 300, 200, NULL),
        ROW(0.3, 0.3, 1.2, 900, 503, NULL),     /* an error with a latency */
        ROW(0.9, 0.9, 1.4, 500, 200, NULL),     /* sent in 0, finished in 1 */
        ROW(1.5, 1.5, 1.5, NAN, 0, "overflow"), /* never sent */
        ROW(1.6, 1.6, 3.6, NAN, 0, "timeout"),  /* finished in 3 */
        ROW(2.5, 2.5, NAN, NAN, 0, NULL),       /* still in flight: counted sent only */
        ROW(9.0, 9.0, 9.1, 10, 200, NULL),      /* outside the seconds asked for */
    };
    results_second_t s[4];
    results_per_second(rows, sizeof(rows) / sizeof(rows[0]), s, 4);
    cr_expect_eq(s[0].sent, 4);
    cr_expect_eq(s[0].completed, 2);
    cr_expect_eq(s[0].errors, 0);
    cr_expect_eq(s[0].p50_ms, 100);
    cr_expect_eq(s[0].p95_ms, 300);
    cr_expect_eq(s[1].sent, 2);
    cr_expect_eq(s[1].completed, 3);
    cr_expect_eq(s[1].errors, 2);
    cr_expect_eq(s[1].p50_ms, 500, "the 503's 900 ms is not a served latency");
    cr_expect_eq(s[1].p99_ms, 500);
    cr_expect_eq(s[2].sent, 1);
    cr_expect_eq(s[2].completed, 0);
    cr_expect(isnan(s[2].p50_ms) && isnan(s[2].p95_ms) && isnan(s[2].p99_ms));
    cr_expect_eq(s[3].completed, 1);
    cr_expect_eq(s[3].errors, 1);
    cr_expect(isnan(s[3].p50_ms), "a timeout has no latency");
}

Test(loadtest_results, requests_csv_has_a_line_per_row)
{
    const results_row_t rows[] = {
        ROW(0.5, 0.5, 0.75, 250, 200, NULL),
        ROW(1, 1, 1, NAN, 0, "connection_refused"),
    };
    const char *models[] = {"voice,one"};
    buf_t b = BUF_INIT;
    results_write_requests_csv(&b, rows, 2, models, 1);
    buf_append(&b, "", 1);
    cr_expect_str_eq(b.data,
                     "scheduled_at,sent_at,finished_at,latency_ms,status,error,model,bytes\n"
                     "0.500000,0.500000,0.750000,250.000,200,,\"voice,one\",0\n"
                     "1.000000,1.000000,1.000000,,0,connection_refused,\"voice,one\",0\n");
    buf_free(&b);
}

Test(loadtest_results, samples_csv_leaves_unknowns_empty)
{
    results_second_t secs[2] = {{3, 2, 1, 10, 20, 30}, {0, 0, 0, NAN, NAN, NAN}};
    results_sample_t samples[2];
    results_sample_clear(&samples[0]);
    results_sample_clear(&samples[1]);
    samples[0].have = true;
    samples[0].cpu_percent = 12.5;
    samples[0].ready[0] = 2;
    samples[0].starting[0] = 1;
    const char *models[] = {"m"};
    buf_t b = BUF_INIT;
    results_write_samples_csv(&b, secs, samples, 2, models, 1);
    buf_append(&b, "", 1);
    cr_expect_str_eq(b.data, "t,sent,completed,errors,p50_ms,p95_ms,p99_ms,ready_m,starting_m,"
                             "cpu_percent,memory_percent\n"
                             "0,3,2,1,10.000,20.000,30.000,2,1,12.50,\n"
                             "1,0,0,0,,,,,,,\n");
    buf_free(&b);
}

/* ---- is the run a measurement ---- */

typedef struct verdict_case {
    const char *situation;
    size_t answered, refused, reset, timeouts; /* rows of each kind, in that order */
    int status;                                /* of the answered rows */
    double max_share;
    bool valid;
    const char *why; /* in the reason when not valid */
} verdict_case_t;

Test(loadtest_results, a_run_without_enough_answers_is_not_a_measurement)
{
    static const verdict_case_t cases[] = {
        {"all answered", 40, 0, 0, 0, 200, 0.05, true, NULL},
        {"all answered 503: results, not failures", 40, 0, 0, 0, 503, 0.05, true, NULL},
        {"2 of 40 unanswered: at the limit", 38, 2, 0, 0, 200, 0.05, true, NULL},
        {"3 of 40 unanswered: over it", 37, 3, 0, 0, 200, 0.05, false,
         "3 of 40 requests (7.5 %) got no HTTP answer (connection_refused: 3), more than "
         "--max-error-share 0.05 allows"},
        {"a server dying mid-run", 10, 29, 0, 0, 200, 0.05, false,
         "29 of 39 requests (74.4 %) got no HTTP answer (connection_refused: 29)"},
        {"every connection reset", 0, 0, 40, 0, 200, 0.05, false,
         "none of the 40 requests got an HTTP answer (connection_reset: 40)"},
        {"no answer is never enough, even allowed", 0, 0, 0, 5, 200, 1.0, false,
         "none of the 5 requests got an HTTP answer (timeout: 5)"},
        {"kinds by frequency", 0, 1, 3, 2, 200, 0.05, false,
         "(connection_reset: 3, timeout: 2, connection_refused: 1)"},
        {"a share of 1 allows any answer", 1, 30, 0, 0, 200, 1.0, true, NULL},
        {"nothing sent", 0, 0, 0, 0, 200, 0.05, false, "no request was sent"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const verdict_case_t *c = &cases[i];
        results_row_t rows[64];
        size_t n = 0;
        const size_t counts[4] = {c->answered, c->refused, c->reset, c->timeouts};
        const char *errors[4] = {NULL, "connection_refused", "connection_reset", "timeout"};
        for (size_t kind = 0; kind < 4; kind++)
            for (size_t k = 0; k < counts[kind]; k++)
                rows[n++] = (results_row_t){.status = kind == 0 ? c->status : 0,
                                            .error = errors[kind],
                                            .latency_ms = kind == 0 ? 5 : NAN};
        char why[256] = "";
        bool valid = results_run_is_valid(rows, n, c->max_share, why, sizeof(why));
        cr_expect_eq(valid, c->valid, "%s: %s", c->situation, why);
        if (c->why)
            cr_expect(strstr(why, c->why) != NULL, "%s: got '%s', want '%s'", c->situation, why,
                      c->why);
    }
}

/* ---- SVG ---- */

/* True when text is well-formed for the XML subset svg.c writes. */
static bool well_formed(const char *text, char *why, size_t whylen)
{
    const char *stack[64];
    size_t lens[64], depth = 0;
    bool root_seen = false;
    const char *p = text;
    if (strncmp(p, "<?xml ", 6) == 0) {
        p = strstr(p, "?>");
        if (!p)
            return snprintf(why, whylen, "unterminated declaration"), false;
        p += 2;
    }
    while (*p) {
        if (*p == '&') {
            static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            bool ok = false;
            for (size_t i = 0; i < 5 && !ok; i++)
                ok = strncmp(p, ents[i], strlen(ents[i])) == 0;
            if (!ok)
                return snprintf(why, whylen, "bare & at %.20s", p), false;
            p++;
            continue;
        }
        if (*p == '>')
            return snprintf(why, whylen, "bare > at %.20s", p), false;
        if (*p != '<') {
            if (depth == 0 && *p != '\n' && *p != ' ')
                return snprintf(why, whylen, "text outside the root: %.20s", p), false;
            p++;
            continue;
        }
        p++;
        bool closing = *p == '/';
        p += closing;
        const char *name = p;
        while (*p && (*p == '-' || *p == ':' || (*p >= 'a' && *p <= 'z') ||
                      (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            p++;
        size_t nlen = (size_t)(p - name);
        if (nlen == 0)
            return snprintf(why, whylen, "bad tag at %.20s", name - 1), false;
        if (closing) {
            if (*p != '>' || depth == 0 || lens[depth - 1] != nlen ||
                strncmp(stack[depth - 1], name, nlen) != 0)
                return snprintf(why, whylen, "mismatched close at %.20s", name), false;
            depth--;
            p++;
            continue;
        }
        /* attributes: name="value" with no < or bare & inside */
        for (;;) {
            while (*p == ' ' || *p == '\n')
                p++;
            if (*p == '>' || (p[0] == '/' && p[1] == '>'))
                break;
            const char *an = p;
            while (*p && *p != '=' && *p != ' ' && *p != '>')
                p++;
            if (p == an || *p != '=' || p[1] != '"')
                return snprintf(why, whylen, "bad attribute at %.20s", an), false;
            p += 2;
            while (*p && *p != '"') {
                if (*p == '<')
                    return snprintf(why, whylen, "< in attribute at %.20s", an), false;
                p++;
            }
            if (!*p)
                return snprintf(why, whylen, "unterminated attribute"), false;
            p++;
        }
        if (depth == 0 && root_seen)
            return snprintf(why, whylen, "two root elements"), false;
        root_seen = true;
        if (*p == '/') {
            p += 2;
            continue;
        }
        if (depth == 64)
            return snprintf(why, whylen, "too deep"), false;
        stack[depth] = name;
        lens[depth++] = nlen;
        p++;
    }
    if (depth != 0)
        return snprintf(why, whylen, "%zu elements left open", depth), false;
    if (!root_seen)
        return snprintf(why, whylen, "no root element"), false;
    return true;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static char *figure(size_t n_seconds, const results_second_t *secs, const results_sample_t *samples,
                    const char *const *models, size_t n_models)
{
    buf_t b = BUF_INIT;
    results_write_svg(&b, "a <test> & \"run\"", secs, samples, n_seconds, models, n_models);
    buf_append(&b, "", 1);
    return b.data;
}

static void check_figure(const char *svg)
{
    char why[256] = "";
    cr_assert(well_formed(svg, why, sizeof(why)), "not well-formed: %s", why);
    cr_expect_eq(count_of(svg, "<g class=\"panel\""), 4);
    cr_expect(strcasestr(svg, "nan") == NULL, "a NaN was written");
    cr_expect(strcasestr(svg, "inf\"") == NULL && strcasestr(svg, "inf,") == NULL,
              "an infinity was written");
    cr_expect(strstr(svg, "a &lt;test&gt; &amp; &quot;run&quot;") != NULL, "title escaped");
}

Test(loadtest_svg, no_samples_is_four_empty_panels)
{
    char *svg = figure(0, NULL, NULL, NULL, 0);
    check_figure(svg);
    cr_expect_eq(count_of(svg, "no data"), 4);
    cr_expect_eq(count_of(svg, "<polyline"), 0);
    free(svg);
}

Test(loadtest_svg, one_sample_is_drawn_as_dots)
{
    results_second_t secs[1] = {{5, 5, 0, 10, 20, 30}};
    results_sample_t samples[1];
    results_sample_clear(&samples[0]);
    samples[0].have = true;
    samples[0].cpu_percent = 40;
    samples[0].memory_percent = 20;
    samples[0].ready[0] = 1;
    samples[0].starting[0] = 0;
    const char *models[] = {"tts<&>\"'"};
    char *svg = figure(1, secs, samples, models, 1);
    check_figure(svg);
    cr_expect_eq(count_of(svg, "<polyline"), 0);
    /* p50 p95 p99, error rate, ready and starting, CPU and memory */
    cr_expect_eq(count_of(svg, "<circle"), 8);
    cr_expect(strstr(svg, "tts&lt;&amp;&gt;&quot;&apos; ready") != NULL);
    free(svg);
}

Test(loadtest_svg, nan_values_are_gaps)
{
    results_second_t secs[5];
    results_sample_t samples[5];
    for (size_t i = 0; i < 5; i++) {
        secs[i] = (results_second_t){1, 1, 0, 10.0 + (double)i, 20, 30};
        results_sample_clear(&samples[i]);
    }
    secs[2].p50_ms = NAN; /* p50: a run of two, a gap, a run of two */
    secs[4].p95_ms = NAN; /* p95: a run of four */
    secs[0].p99_ms = NAN;
    secs[2].p99_ms = NAN;
    secs[4].p99_ms = NAN;  /* p99: two lone points */
    secs[3].completed = 0; /* error rate: run of three, lone point */
    char *svg = figure(5, secs, samples, NULL, 0);
    check_figure(svg);
    cr_expect_eq(count_of(svg, "<polyline"), 4, "p50 twice, p95 once, errors once");
    cr_expect_eq(count_of(svg, "<circle"), 3, "two p99 points and one error-rate point");
    cr_expect_eq(count_of(svg, "no data"), 2, "no samples for replicas nor CPU");
    free(svg);
}

Test(loadtest_svg, many_models_fold_the_legend)
{
    enum { N = 12 };
    const char *models[N];
    char names[N][16];
    results_second_t secs[3];
    results_sample_t samples[3];
    for (size_t m = 0; m < N; m++) {
        snprintf(names[m], sizeof(names[m]), "model-%zu", m);
        models[m] = names[m];
    }
    for (size_t i = 0; i < 3; i++) {
        secs[i] = (results_second_t){1, 1, 1, 5, 6, 7};
        results_sample_clear(&samples[i]);
        samples[i].have = true;
        for (size_t m = 0; m < N; m++)
            samples[i].ready[m] = samples[i].starting[m] = (int)m;
    }
    char *svg = figure(3, secs, samples, models, N);
    check_figure(svg);
    cr_expect(strstr(svg, "more</text>") != NULL);
    free(svg);
}

typedef struct step_case {
    double max;
    int ticks;
    double expected;
} step_case_t;

Test(loadtest_svg, nice_steps)
{
    static const step_case_t cases[] = {
        {100, 4, 25}, {1, 4, 0.25}, {7, 4, 2},   {12, 8, 2},       {3, 8, 0.5},
        {0, 4, 1},    {-5, 4, 1},   {NAN, 4, 1}, {1e6, 5, 200000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double got = svg_nice_step(cases[i].max, cases[i].ticks);
        cr_expect(fabs(got - cases[i].expected) < 1e-9 * cases[i].expected, "%g/%d: %g",
                  cases[i].max, cases[i].ticks, got);
    }
}

Test(loadtest_svg, escaping_covers_xml_specials_and_controls)
{
    buf_t b = BUF_INIT;
    svg_append_escaped(&b, "a&b<c>d\"e'f\x01g");
    buf_append(&b, "", 1);
    cr_expect_str_eq(b.data, "a&amp;b&lt;c&gt;d&quot;e&apos;f?g");
    buf_free(&b);
}
