/* test_sim.c - the trace simulator: its invariants for every policy on
 * small generated traces, a queue computed by hand, determinism, and the
 * trace reader's answers to good and bad files.
 *
 * Invariants are checked through the engine's hooks, independently of the
 * figures it reports: every answer is recorded per request, and the
 * replica count after every change is recorded as a timeline whose
 * integral must equal the reported replica-seconds.
 */
#include <criterion/criterion.h>

#include "sim/sim.h"
#include "sim/trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- what the hooks record ---- */

typedef struct record {
    size_t n;
    unsigned *answers;   /* per request */
    double *latency;     /* per request */
    unsigned char *cold; /* per request */
    double *timeline_t;  /* replica count after each change */
    int *timeline_count;
    size_t timeline_n, timeline_cap;
} record_t;

static void record_replicas(void *ctx, double t, int replicas)
{
    record_t *r = ctx;
    if (r->timeline_n == r->timeline_cap) {
        r->timeline_cap = r->timeline_cap ? r->timeline_cap * 2 : 256;
        r->timeline_t = realloc(r->timeline_t, r->timeline_cap * sizeof(double));
        r->timeline_count = realloc(r->timeline_count, r->timeline_cap * sizeof(int));
        cr_assert(r->timeline_t && r->timeline_count);
    }
    r->timeline_t[r->timeline_n] = t;
    r->timeline_count[r->timeline_n++] = replicas;
}

static void record_answer(void *ctx, size_t request, double latency, bool cold)
{
    record_t *r = ctx;
    cr_assert_lt(request, r->n);
    r->answers[request]++;
    r->latency[request] = latency;
    r->cold[request] = cold;
}

static void record_init(record_t *r, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->n = n;
    size_t cap = n ? n : 1;
    r->answers = calloc(cap, sizeof(*r->answers));
    r->latency = calloc(cap, sizeof(*r->latency));
    r->cold = calloc(cap, sizeof(*r->cold));
    cr_assert(r->answers && r->latency && r->cold);
}

static void record_free(record_t *r)
{
    free(r->answers);
    free(r->latency);
    free(r->cold);
    free(r->timeline_t);
    free(r->timeline_count);
}

/* The integral of the recorded replica count over [0, end]: 0 replicas
 * until the first change. */
static double timeline_integral(const record_t *r, double end, int *peak)
{
    double sum = 0;
    *peak = 0;
    for (size_t i = 0; i < r->timeline_n; i++) {
        double until = i + 1 < r->timeline_n ? r->timeline_t[i + 1] : end;
        sum += r->timeline_count[i] * (until - r->timeline_t[i]);
        if (r->timeline_count[i] > *peak)
            *peak = r->timeline_count[i];
    }
    return sum;
}

/* ---- a run on a generated trace ---- */

typedef struct scenario {
    const char *situation;
    const char *shape;
    double duration, rate;
    sim_service_t service;
    double load_seconds;
    unsigned concurrency;
    int min_replicas, max_replicas;
} scenario_t;

typedef struct run {
    sim_trace_t trace;
    double *service;
    sim_workload_t work;
    sim_model_t model;
    sim_options_t opts;
} run_t;

static void run_prepare(run_t *r, const scenario_t *s, uint64_t seed)
{
    char err[256];
    memset(r, 0, sizeof(*r));
    cr_assert_eq(
        sim_trace_generate(s->shape, seed, s->duration, s->rate, &r->trace, err, sizeof(err)), 0,
        "%s: %s", s->situation, err);
    r->service = calloc(r->trace.n ? r->trace.n : 1, sizeof(double));
    cr_assert_not_null(r->service);
    cr_assert_eq(sim_service_times(&r->trace, &s->service, seed, r->service, err, sizeof(err)), 0,
                 "%s", err);
    double mean = 0;
    for (size_t i = 0; i < r->trace.n; i++)
        mean += r->service[i] / (double)r->trace.n;
    r->work = (sim_workload_t){r->trace.n, r->trace.arrival, r->service, r->trace.unix_start,
                               r->trace.span};
    r->model = (sim_model_t){s->load_seconds, mean, s->concurrency, s->min_replicas,
                             s->max_replicas, NULL};
    r->opts = (sim_options_t){.tail_seconds = 900, .slo_seconds = 0.5};
}

static void run_free(run_t *r)
{
    free(r->service);
    sim_trace_free(&r->trace);
}

#define FIXED(ms)                                                                                  \
    {                                                                                              \
        .kind = SIM_SERVICE_FIXED, .mean_ms = (ms)                                                 \
    }
#define EXP(ms)                                                                                    \
    {                                                                                              \
        .kind = SIM_SERVICE_EXP, .mean_ms = (ms)                                                   \
    }
#define LOGNORMAL(ms)                                                                              \
    {                                                                                              \
        .kind = SIM_SERVICE_LOGNORMAL, .mean_ms = (ms), .sigma = 0.8                               \
    }

static const scenario_t scenarios[] = {
    {"steady Poisson, one request per replica", "poisson", 600, 10, FIXED(60), 0.005, 1, 0, 10},
    {"spikes against a slow load", "spike", 1200, 3, EXP(100), 2.0, 1, 0, 10},
    {"on and off, four at a time per replica", "onoff", 3000, 20, LOGNORMAL(150), 0.5, 4, 0, 5},
    {"sparse requests, a long load", "sparse", 7200, 1.0 / 120, FIXED(60), 10.0, 1, 0, 3},
    {"a floor of two replicas", "poisson", 600, 30, EXP(60), 0.2, 1, 2, 6},
    {"overload capped at two replicas", "poisson", 300, 40, FIXED(60), 0.1, 1, 0, 2},
};

Test(sim, invariants_hold_for_every_policy)
{
    for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
        const scenario_t *sc = &scenarios[s];
        run_t run;
        run_prepare(&run, sc, 7 + s);
        for (size_t p = 0; p < sim_policy_count(); p++) {
            sim_policy_ops_t ops;
            cr_assert_eq(sim_policy_find(sim_policy_name(p), &ops), 0);
            record_t rec;
            record_init(&rec, run.trace.n);
            run.opts.on_replicas = record_replicas;
            run.opts.on_answer = record_answer;
            run.opts.hook_ctx = &rec;
            sim_result_t res;
            char err[256];
            cr_assert_eq(sim_run(&run.work, &run.model, &ops, &run.opts, &res, err, sizeof(err)), 0,
                         "%s", err);
            const char *who = sim_policy_name(p);

            cr_expect_eq(res.requests, run.trace.n, "%s / %s", sc->situation, who);
            cr_expect_eq(res.answered, run.trace.n, "%s / %s: not every request answered",
                         sc->situation, who);
            uint64_t cold = 0, misses = 0;
            double sum = 0;
            for (size_t i = 0; i < run.trace.n; i++) {
                cr_expect_eq(rec.answers[i], 1, "%s / %s: request %zu answered %u times",
                             sc->situation, who, i, rec.answers[i]);
                cr_expect_geq(rec.latency[i], run.service[i] - 1e-9,
                              "%s / %s: request %zu faster than its service time", sc->situation,
                              who, i);
                cold += rec.cold[i];
                misses += rec.latency[i] > run.opts.slo_seconds;
                sum += rec.latency[i];
            }
            cr_expect_eq(res.cold_starts, cold, "%s / %s", sc->situation, who);
            cr_expect_eq(res.slo_misses, misses, "%s / %s", sc->situation, who);
            cr_expect_float_eq(res.mean_seconds, sum / (double)run.trace.n, 1e-9, "%s / %s",
                               sc->situation, who);
            cr_expect_leq(res.p50_seconds, res.p95_seconds);
            cr_expect_leq(res.p95_seconds, res.p99_seconds);
            cr_expect_leq(res.p99_seconds, res.max_seconds);

            int peak;
            double integral = timeline_integral(&rec, res.end_seconds, &peak);
            cr_expect_float_eq(res.replica_seconds, integral, 1e-9 * (1 + integral),
                               "%s / %s: replica-seconds %.9f, timeline integral %.9f",
                               sc->situation, who, res.replica_seconds, integral);
            cr_expect_eq(res.peak_replicas, peak, "%s / %s", sc->situation, who);
            cr_expect_geq(res.end_seconds, run.trace.span + run.opts.tail_seconds - 1e-9);
            cr_expect_eq(res.scale_events, res.scale_ups + res.scale_downs);
            record_free(&rec);
        }
        run_free(&run);
    }
}

/* min = max: the pool loads its replicas at 0 and keeps them; only
 * requests that arrive during that first load are cold, and replicas are
 * paid for the whole run. */
Test(sim, fixed_pool_has_no_cold_start_after_the_first_load)
{
    const scenario_t sc = {"fixed pool", "poisson", 600, 20, EXP(80), 1.5, 2, 3, 3};
    run_t run;
    run_prepare(&run, &sc, 3);
    for (size_t p = 0; p < sim_policy_count(); p++) {
        sim_policy_ops_t ops;
        cr_assert_eq(sim_policy_find(sim_policy_name(p), &ops), 0);
        record_t rec;
        record_init(&rec, run.trace.n);
        run.opts.on_answer = record_answer;
        run.opts.on_replicas = NULL;
        run.opts.hook_ctx = &rec;
        sim_result_t res;
        char err[256];
        cr_assert_eq(sim_run(&run.work, &run.model, &ops, &run.opts, &res, err, sizeof(err)), 0);
        for (size_t i = 0; i < run.trace.n; i++)
            if (rec.cold[i])
                cr_expect_lt(run.trace.arrival[i], sc.load_seconds,
                             "%s: request %zu at %.3f s cold after the first load",
                             sim_policy_name(p), i, run.trace.arrival[i]);
        cr_expect_eq(res.scale_events, 0, "%s", sim_policy_name(p));
        cr_expect_eq(res.peak_replicas, 3);
        cr_expect_float_eq(res.replica_seconds, 3 * res.end_seconds, 1e-6);
        record_free(&rec);
    }
    run_free(&run);
}

static bool results_equal(const sim_result_t *a, const sim_result_t *b)
{
    return strcmp(a->policy, b->policy) == 0 && a->requests == b->requests &&
           a->answered == b->answered && a->cold_starts == b->cold_starts &&
           a->slo_misses == b->slo_misses && a->mean_seconds == b->mean_seconds &&
           a->p50_seconds == b->p50_seconds && a->p95_seconds == b->p95_seconds &&
           a->p99_seconds == b->p99_seconds && a->max_seconds == b->max_seconds &&
           a->replica_seconds == b->replica_seconds && a->peak_replicas == b->peak_replicas &&
           a->scale_events == b->scale_events && a->scale_ups == b->scale_ups &&
           a->scale_downs == b->scale_downs && a->end_seconds == b->end_seconds;
}

Test(sim, same_seed_same_results)
{
    const scenario_t sc = {"spikes", "spike", 1800, 2, LOGNORMAL(90), 1.0, 2, 0, 8};
    for (size_t p = 0; p < sim_policy_count(); p++) {
        sim_result_t res[2];
        for (int k = 0; k < 2; k++) {
            run_t run;
            run_prepare(&run, &sc, 42);
            sim_policy_ops_t ops;
            cr_assert_eq(sim_policy_find(sim_policy_name(p), &ops), 0);
            char err[256];
            cr_assert_eq(sim_run(&run.work, &run.model, &ops, &run.opts, &res[k], err, sizeof(err)),
                         0);
            run_free(&run);
        }
        cr_expect(results_equal(&res[0], &res[1]), "%s differs between runs", sim_policy_name(p));
    }
    sim_trace_t a, b;
    char err[256];
    cr_assert_eq(sim_trace_generate("poisson", 1, 100, 5, &a, err, sizeof(err)), 0);
    cr_assert_eq(sim_trace_generate("poisson", 2, 100, 5, &b, err, sizeof(err)), 0);
    cr_expect(a.n != b.n || memcmp(a.arrival, b.arrival, a.n * sizeof(double)) != 0,
              "another seed, the same trace");
    sim_trace_free(&a);
    sim_trace_free(&b);
}

/* A queue by hand: one replica of concurrency 1 that loads for 0.5 s;
 * three requests at 0 s and one at 10 s, each served in 1 s. The first
 * three wait for the load and then for each other: 1.5, 2.5, 3.5 s; the
 * fourth finds the replica ready and idle: 1 s. */
Test(sim, queue_computed_by_hand)
{
    const double arrival[] = {0, 0, 0, 10};
    const double service[] = {1, 1, 1, 1};
    const double expected[] = {1.5, 2.5, 3.5, 1.0};
    const unsigned char cold[] = {1, 1, 1, 0};
    sim_workload_t work = {4, arrival, service, SIM_TRACE_EPOCH, 10};
    sim_model_t model = {0.5, 1, 1, 1, 1, NULL};
    record_t rec;
    record_init(&rec, 4);
    sim_options_t opts = {.tail_seconds = 5,
                          .slo_seconds = 2,
                          .on_replicas = record_replicas,
                          .on_answer = record_answer,
                          .hook_ctx = &rec};
    sim_policy_ops_t ops;
    cr_assert_eq(sim_policy_find("reactive", &ops), 0);
    sim_result_t res;
    char err[256];
    cr_assert_eq(sim_run(&work, &model, &ops, &opts, &res, err, sizeof(err)), 0);
    for (size_t i = 0; i < 4; i++) {
        cr_expect_float_eq(rec.latency[i], expected[i], 1e-9, "request %zu: %.6f", i,
                           rec.latency[i]);
        cr_expect_eq(rec.cold[i], cold[i], "request %zu", i);
    }
    cr_expect_eq(res.cold_starts, 3);
    cr_expect_eq(res.slo_misses, 2);
    cr_expect_float_eq(res.end_seconds, 15, 1e-9);
    cr_expect_float_eq(res.replica_seconds, 15, 1e-9);
    cr_expect_float_eq(res.p50_seconds, 1.5, 1e-9);
    cr_expect_float_eq(res.max_seconds, 3.5, 1e-9);
    record_free(&rec);
}

/* Burst start by hand: one replica that loads in 5 ms and serves one
 * request in 1 s; a request at 0 s (a cold start) and two at 21.1 s. The
 * second of those finds the replica busy. Hybrid starts another replica
 * at that arrival: 1.005 s. Reactive waits for its decision at 22 s,
 * whose panic starts one: 0.9 s of waiting, 0.005 s of load, 1 s of
 * service. */
Test(sim, burst_start_by_hand)
{
    const double arrival[] = {0, 21.1, 21.1};
    const double service[] = {1, 1, 1};
    const struct {
        const char *policy;
        double second_latency;
    } rows[] = {{"hybrid", 1.005}, {"predictive", 1.005}, {"reactive", 1.905}};
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        sim_workload_t work = {3, arrival, service, SIM_TRACE_EPOCH, 21.1};
        sim_model_t model = {0.005, 1, 1, 0, 10, NULL};
        record_t rec;
        record_init(&rec, 3);
        sim_options_t opts = {.tail_seconds = 5,
                              .slo_seconds = 2,
                              .on_replicas = record_replicas,
                              .on_answer = record_answer,
                              .hook_ctx = &rec};
        sim_policy_ops_t ops;
        cr_assert_eq(sim_policy_find(rows[r].policy, &ops), 0);
        sim_result_t res;
        char err[256];
        cr_assert_eq(sim_run(&work, &model, &ops, &opts, &res, err, sizeof(err)), 0);
        cr_expect_float_eq(rec.latency[1], 1.0, 1e-9, "%s: %.6f", rows[r].policy, rec.latency[1]);
        cr_expect_float_eq(rec.latency[2], rows[r].second_latency, 1e-9, "%s: %.6f", rows[r].policy,
                           rec.latency[2]);
        record_free(&rec);
    }
}

/* Unknown names are refused, known ones all resolve. */
Test(sim, policy_registry)
{
    sim_policy_ops_t ops;
    cr_expect_eq(sim_policy_find("nope", &ops), -1);
    cr_expect_eq(sim_policy_count(), 8);
    for (size_t i = 0; i < sim_policy_count(); i++) {
        cr_assert_eq(sim_policy_find(sim_policy_name(i), &ops), 0);
        cr_expect_str_eq(ops.name, sim_policy_name(i));
        cr_expect_gt(ops.tick_seconds, 0);
    }
    char names[256];
    sim_policy_known_names(names, sizeof(names));
    cr_expect_str_eq(names, "reactive, predictive, hybrid, kpa, hpa, ray_serve, keep_alive, "
                            "hybrid_histogram");
}

/* ---- the trace reader ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sim.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    rmdir(tmpdir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

typedef struct bad_trace {
    const char *situation;
    const char *text; /* NULL: no file at all */
    const char *expected;
} bad_trace_t;

static const bad_trace_t bad_traces[] = {
    {"a missing file", NULL, "cannot open trace"},
    {"an empty file", "", ":1: the file is empty"},
    {"only blank lines", "\n\n", ":1: the file is empty"},
    {"a header and nothing else", "TIMESTAMP,ContextTokens,GeneratedTokens\n",
     "no requests after the header"},
    {"no header", "2023-11-16 18:15:46.6805900,374,44\n", ":1: expected a header line"},
    {"an unsorted row",
     "TIMESTAMP\n2023-11-16 18:15:47\n2023-11-16 18:15:48\n2023-11-16 18:15:46\n",
     ":4: column 1 (TIMESTAMP): '2023-11-16 18:15:46' is earlier than the previous row's (line 3)"},
    {"a bad token count",
     "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,374,44\n"
     "2023-11-16 18:15:47,12,many\n",
     ":3: column 3 (GeneratedTokens): 'many' is not a non-negative token count"},
    {"a bad time", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 25:15:46,1,2\n",
     ":2: column 1 (TIMESTAMP): '2023-11-16 25:15:46' is not a time"},
    {"a short row", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,1\n",
     ":2: 2 columns, but the header has 3"},
    {"a negative count per minute", "minute,count\n0,3\n1,-2\n",
     ":3: column 2 (count): '-2' is not a whole number"},
    {"minutes out of order", "minute,count\n0,3\n5,2\n5,1\n",
     ":4: column 1 (minute): '5' is less than a minute after the previous row's (line 3)"},
};

Test(sim, bad_traces_name_the_line, .init = make_tmpdir, .fini = remove_tmpdir)
{
    for (size_t i = 0; i < sizeof(bad_traces) / sizeof(bad_traces[0]); i++) {
        const bad_trace_t *b = &bad_traces[i];
        char path[128];
        snprintf(path, sizeof(path), "%s/bad%zu.csv", tmpdir, i);
        if (b->text)
            write_file(path, b->text);
        sim_trace_t t;
        char err[512] = "";
        cr_expect_eq(sim_trace_read_csv(path, 1, &t, err, sizeof(err)), -1, "%s", b->situation);
        cr_expect_not_null(strstr(err, b->expected), "%s: got \"%s\", want \"%s\"", b->situation,
                           err, b->expected);
        cr_expect_not_null(strstr(err, path), "%s: the message names no file", b->situation);
        unlink(path);
    }
}

Test(sim, reads_request_rows_and_minute_counts, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char path[128];
    char err[512];
    sim_trace_t t;
    snprintf(path, sizeof(path), "%s/azure.csv", tmpdir);
    write_file(path, "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                     "2023-11-16 18:15:46.5000000,374,44\r\n"
                     "2023-11-16 18:15:46.5000000,10,1\r\n"
                     "2023-11-16 18:16:00.25,0,7\r\n\r\n");
    cr_assert_eq(sim_trace_read_csv(path, 1, &t, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(t.n, 3);
    cr_expect_float_eq(t.arrival[0], 0, 1e-9);
    cr_expect_float_eq(t.arrival[1], 0, 1e-9);
    cr_expect_float_eq(t.arrival[2], 13.75, 1e-6);
    /* 2023-11-16T18:15:46Z is 1700158546 unix seconds. */
    cr_expect_float_eq(t.unix_start, 1700158546.5, 1e-6);
    cr_assert_not_null(t.context_tokens);
    cr_expect_float_eq(t.context_tokens[0], 374, 0);
    cr_expect_float_eq(t.generated_tokens[2], 7, 0);
    sim_service_t tokens = {
        .kind = SIM_SERVICE_TOKENS, .base_ms = 20, .context_ms = 0.01, .generated_ms = 0.2};
    double service[3];
    cr_assert_eq(sim_service_times(&t, &tokens, 1, service, err, sizeof(err)), 0);
    cr_expect_float_eq(service[0], (20 + 3.74 + 8.8) / 1000.0, 1e-12);
    sim_trace_free(&t);
    unlink(path);

    snprintf(path, sizeof(path), "%s/minutes.csv", tmpdir);
    write_file(path, "minute,count\n0,4\n2,3\n3,0\n");
    cr_assert_eq(sim_trace_read_csv(path, 9, &t, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(t.n, 7);
    cr_expect_float_eq(t.span, 240, 1e-9);
    cr_expect_float_eq(t.unix_start, SIM_TRACE_EPOCH, 0);
    for (size_t i = 0; i < t.n; i++) {
        double lo = i < 4 ? 0 : 120;
        cr_expect(t.arrival[i] >= lo && t.arrival[i] < lo + 60, "arrival %zu at %.3f", i,
                  t.arrival[i]);
        if (i > 0)
            cr_expect_geq(t.arrival[i], t.arrival[i - 1]);
    }
    sim_trace_free(&t);
    unlink(path);
}

/* Each shape delivers about rate x duration requests (Poisson: within
 * five standard deviations), in order and inside the duration. */
Test(sim, generated_shapes_have_their_rates)
{
    static const struct {
        const char *shape;
        double duration, rate, mean_factor;
    } rows[] = {
        {"poisson", 1000, 5, 1.0},
        {"diurnal", 86400, 0.2, 1.0},
        {"spike", 3600, 2, (3600 - 4 * 60 + 4 * 60 * 10) / 3600.0},
        {"onoff", 1500, 4, 300 / 1500.0},
        {"sparse", 86400, 0.01, 1.0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sim_trace_t t;
        char err[256];
        cr_assert_eq(sim_trace_generate(rows[i].shape, 5, rows[i].duration, rows[i].rate, &t, err,
                                        sizeof(err)),
                     0, "%s", err);
        double mean = rows[i].rate * rows[i].duration * rows[i].mean_factor;
        cr_expect_lt(fabs((double)t.n - mean), 5 * sqrt(mean) + 1, "%s: %zu requests, ~%.0f",
                     rows[i].shape, t.n, mean);
        for (size_t k = 1; k < t.n; k++)
            cr_assert_geq(t.arrival[k], t.arrival[k - 1]);
        cr_expect_lt(t.arrival[t.n - 1], rows[i].duration);
        cr_expect_float_eq(t.unix_start, SIM_TRACE_EPOCH, 0);
        sim_trace_free(&t);
    }
    sim_trace_t t;
    char err[256];
    cr_expect_eq(sim_trace_generate("weekly", 1, 0, 0, &t, err, sizeof(err)), -1);
    cr_expect_not_null(strstr(err, "diurnal, spike, onoff, sparse, poisson"));
}

/* 100,000 requests run through every policy in bounded time: a guard
 * against an accidental quadratic, far looser than the 1 s target. */
Test(sim, hundred_thousand_requests_are_cheap, .timeout = 60)
{
    const scenario_t sc = {"100k", "poisson", 3600, 100000 / 3600.0, EXP(60), 0.005, 1, 0, 10};
    run_t run;
    run_prepare(&run, &sc, 11);
    cr_assert_gt(run.trace.n, 98000);
    for (size_t p = 0; p < sim_policy_count(); p++) {
        sim_policy_ops_t ops;
        cr_assert_eq(sim_policy_find(sim_policy_name(p), &ops), 0);
        sim_result_t res;
        char err[256];
        cr_assert_eq(sim_run(&run.work, &run.model, &ops, &run.opts, &res, err, sizeof(err)), 0);
        cr_expect_eq(res.answered, run.trace.n);
    }
    run_free(&run);
}
