/* cli.c - `inferd simulate`: the command line around the simulator.
 *
 * It reads or generates one trace, draws every request's service time once
 * (so that all policies see the same work), runs each chosen policy over it
 * with sim_run, and prints a table or JSON. Bad input of any kind - a flag,
 * a trace file, a policy name - is a message on stderr and exit code 2,
 * before anything runs.
 */
#include "sim/cli.h"
#include "config/config.h"

#include "sim/report.h"
#include "sim/sim.h"
#include "sim/trace.h"
#include "util/timefmt.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_BAD_INPUT 2
#define EXIT_FAILED    1
#define MAX_POLICIES   16
#define REPLICAS_LIMIT 1000

/* Defaults, documented in the usage text. The token formula is ours,
 * scaled to a TTS-like model: a fixed 20 ms per request, 0.01 ms per
 * context token (reading the text in) and 0.2 ms per generated token
 * (synthesis time grows with the output); on the Azure conversation trace
 * that is a mean of about 74 ms, near the fixed default of 60 ms. */
#define DEFAULT_SERVICE_MS   60.0
#define DEFAULT_SIGMA        0.5
#define DEFAULT_BASE_MS      20.0
#define DEFAULT_CONTEXT_MS   0.01
#define DEFAULT_GENERATED_MS 0.2
#define DEFAULT_LOAD_MS      5.0
#define DEFAULT_SLO_MS       500.0
#define DEFAULT_MAX_REPLICAS 10
#define DEFAULT_TAIL_SECONDS 1800.0

typedef struct sim_cli {
    const char *trace_path;
    const char *shape;
    double duration, rate;
    uint64_t seed;
    const char *policies;
    bool json;
    bool timing;
    sim_service_t service;
    double load_ms;
    int concurrency, min_replicas, max_replicas;
    double slo_ms, time_scale, rate_scale, tail_seconds;
    const char *autoscaler_doc; /* --autoscaler-config: JSON text or a file name */
    autoscaler_config_t autoscaler;
} sim_cli_t;

void sim_usage(FILE *out)
{
    fprintf(out,
            "usage: inferd simulate (TRACE.csv | --trace TRACE.csv | --generate SHAPE) [options]\n"
            "\n"
            "Replays an arrival trace in virtual time through the scaling policies: inferd's\n"
            "own (the server's policy and controller rules) and published baselines.\n"
            "\n"
            "Trace:\n"
            "  --trace FILE            CSV, one request per row (TIMESTAMP[,ContextTokens,\n"
            "                          GeneratedTokens]; times 'YYYY-MM-DD HH:MM:SS[.f]' UTC or\n"
            "                          seconds), or per-minute counts (minute,count with minute\n"
            "                          0, 1, ...; or TIME,count), spread within the minute\n"
            "  --generate SHAPE        a synthetic trace, starting 2026-01-05T00:00:00Z:\n");
    for (size_t i = 0; i < sim_trace_shape_count; i++)
        fprintf(out, "    %-8s (default --rate %g, --duration %g)\n      %s\n",
                sim_trace_shapes[i].name, sim_trace_shapes[i].default_rate,
                sim_trace_shapes[i].default_duration, sim_trace_shapes[i].description);
    fprintf(out,
            "  --duration SECONDS      length of a generated trace\n"
            "  --rate R                its rate in requests/s (see each shape)\n"
            "  --seed N                seed for generation, service times, spreading (default 1)\n"
            "  --time-scale F          play the trace F times faster (2: twice as fast; 60: an\n"
            "                          hour in a minute), as inferd loadtest --time-scale\n"
            "  --rate-scale F          multiply the request rate by F (thinning or copies)\n"
            "\n"
            "Model:\n"
            "  --service-ms MS         mean service time (default %g)\n"
            "  --service-dist D        fixed | exp | lognormal (default fixed)\n"
            "  --service-sigma S       lognormal sigma of the underlying normal (default %g)\n"
            "  --service-from-tokens   service_ms = A + B x ContextTokens + C x GeneratedTokens\n"
            "  --token-base-ms A       (default %g)\n"
            "  --token-context-ms B    (default %g)\n"
            "  --token-generated-ms C  (default %g; TTS-like: time grows with the output)\n"
            "  --load-ms MS            load time of a new replica (default %g)\n"
            "  --concurrency N         requests one replica serves at once (default 1)\n"
            "  --min-replicas N        (default 0)\n"
            "  --max-replicas N        (default %d)\n"
            "\n"
            "Run and output:\n"
            "  --policy NAME[,NAME]|all  (default all) names: ",
            DEFAULT_SERVICE_MS, DEFAULT_SIGMA, DEFAULT_BASE_MS, DEFAULT_CONTEXT_MS,
            DEFAULT_GENERATED_MS, DEFAULT_LOAD_MS, DEFAULT_MAX_REPLICAS);
    char names[256];
    sim_policy_known_names(names, sizeof(names));
    fprintf(out,
            "%s\n"
            "  --slo-ms MS             latency above this is an SLO miss (default %g)\n"
            "  --tail-seconds S        run on this long after the trace (default %g), and until\n"
            "                          every request is answered; replicas count until the end\n"
            "  --format table|json     (default table)\n"
            "  --timing                print each policy's wall-clock run time on stderr\n"
            "\n"
            "inferd's strategies:\n"
            "  --autoscaler-config JSON|FILE  a partial autoscaler configuration, as for\n"
            "                          POST /autoscaler/config (JSON text, or a file holding\n"
            "                          it), merged onto the built-in defaults and validated\n"
            "                          the same way; scaling_strategy is set per policy\n",
            names, DEFAULT_SLO_MS, DEFAULT_TAIL_SECONDS);
}

/* ---- flags ---- */

static int bad_flag(const char *flag, const char *value, const char *what)
{
    fprintf(stderr, "inferd simulate: --%s '%s': must be %s\n", flag, value, what);
    return -1;
}

static int flag_double(const char *flag, const char *value, double lo, double hi, bool lo_open,
                       double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    bool ok = end != value && !*end && errno == 0 && isfinite(v) && v <= hi &&
              (lo_open ? v > lo : v >= lo);
    if (!ok) {
        char what[96];
        snprintf(what, sizeof(what), "a number %s %g and at most %g", lo_open ? "above" : "from",
                 lo, hi);
        return bad_flag(flag, value, what);
    }
    *out = v;
    return 0;
}

static int flag_int(const char *flag, const char *value, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end || errno || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof(what), "a whole number from %d to %d", lo, hi);
        return bad_flag(flag, value, what);
    }
    *out = (int)v;
    return 0;
}

static int flag_seed(const char *value, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (end == value || *end || errno || value[0] == '-')
        return bad_flag("seed", value, "a whole number from 0 to 2^64 - 1");
    *out = (uint64_t)v;
    return 0;
}

enum {
    OPT_TRACE = 256,
    OPT_GENERATE,
    OPT_DURATION,
    OPT_RATE,
    OPT_SEED,
    OPT_POLICY,
    OPT_FORMAT,
    OPT_SERVICE_MS,
    OPT_SERVICE_DIST,
    OPT_SERVICE_SIGMA,
    OPT_FROM_TOKENS,
    OPT_BASE_MS,
    OPT_CONTEXT_MS,
    OPT_GENERATED_MS,
    OPT_LOAD_MS,
    OPT_CONCURRENCY,
    OPT_MIN,
    OPT_MAX,
    OPT_SLO,
    OPT_TIME_SCALE,
    OPT_RATE_SCALE,
    OPT_TAIL,
    OPT_TIMING,
    OPT_AUTOSCALER,
    OPT_HELP,
};

static const struct option longopts[] = {
    {"trace", required_argument, NULL, OPT_TRACE},
    {"generate", required_argument, NULL, OPT_GENERATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"rate", required_argument, NULL, OPT_RATE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"service-ms", required_argument, NULL, OPT_SERVICE_MS},
    {"service-dist", required_argument, NULL, OPT_SERVICE_DIST},
    {"service-sigma", required_argument, NULL, OPT_SERVICE_SIGMA},
    {"service-from-tokens", no_argument, NULL, OPT_FROM_TOKENS},
    {"token-base-ms", required_argument, NULL, OPT_BASE_MS},
    {"token-context-ms", required_argument, NULL, OPT_CONTEXT_MS},
    {"token-generated-ms", required_argument, NULL, OPT_GENERATED_MS},
    {"load-ms", required_argument, NULL, OPT_LOAD_MS},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"min-replicas", required_argument, NULL, OPT_MIN},
    {"max-replicas", required_argument, NULL, OPT_MAX},
    {"slo-ms", required_argument, NULL, OPT_SLO},
    {"time-scale", required_argument, NULL, OPT_TIME_SCALE},
    {"rate-scale", required_argument, NULL, OPT_RATE_SCALE},
    {"tail-seconds", required_argument, NULL, OPT_TAIL},
    {"timing", no_argument, NULL, OPT_TIMING},
    {"autoscaler-config", required_argument, NULL, OPT_AUTOSCALER},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int parse_service_dist(const char *v, sim_service_t *s)
{
    if (strcmp(v, "fixed") == 0)
        s->kind = SIM_SERVICE_FIXED;
    else if (strcmp(v, "exp") == 0)
        s->kind = SIM_SERVICE_EXP;
    else if (strcmp(v, "lognormal") == 0)
        s->kind = SIM_SERVICE_LOGNORMAL;
    else
        return bad_flag("service-dist", v, "one of fixed, exp, lognormal");
    return 0;
}

/* 0: parsed; 1: help was printed; -1: bad input (reported). */
static int parse_args(int argc, char **argv, sim_cli_t *c)
{
    bool from_tokens = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case OPT_TRACE:
            c->trace_path = optarg;
            break;
        case OPT_GENERATE:
            c->shape = optarg;
            break;
        case OPT_DURATION:
            rc = flag_double("duration", optarg, 0, 365 * 86400.0, true, &c->duration);
            break;
        case OPT_RATE:
            rc = flag_double("rate", optarg, 0, 1e5, true, &c->rate);
            break;
        case OPT_SEED:
            rc = flag_seed(optarg, &c->seed);
            break;
        case OPT_POLICY:
            c->policies = optarg;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "json") == 0)
                c->json = true;
            else if (strcmp(optarg, "table") == 0)
                c->json = false;
            else
                rc = bad_flag("format", optarg, "table or json");
            break;
        case OPT_SERVICE_MS:
            rc = flag_double("service-ms", optarg, 0, 3.6e6, true, &c->service.mean_ms);
            break;
        case OPT_SERVICE_DIST:
            rc = parse_service_dist(optarg, &c->service);
            break;
        case OPT_SERVICE_SIGMA:
            rc = flag_double("service-sigma", optarg, 0, 5, true, &c->service.sigma);
            break;
        case OPT_FROM_TOKENS:
            from_tokens = true;
            break;
        case OPT_BASE_MS:
            rc = flag_double("token-base-ms", optarg, 0, 3.6e6, false, &c->service.base_ms);
            break;
        case OPT_CONTEXT_MS:
            rc = flag_double("token-context-ms", optarg, 0, 3.6e6, false, &c->service.context_ms);
            break;
        case OPT_GENERATED_MS:
            rc = flag_double("token-generated-ms", optarg, 0, 3.6e6, false,
                             &c->service.generated_ms);
            break;
        case OPT_LOAD_MS:
            rc = flag_double("load-ms", optarg, 0, 3.6e6, false, &c->load_ms);
            break;
        case OPT_CONCURRENCY:
            rc = flag_int("concurrency", optarg, 1, 1000, &c->concurrency);
            break;
        case OPT_MIN:
            rc = flag_int("min-replicas", optarg, 0, REPLICAS_LIMIT, &c->min_replicas);
            break;
        case OPT_MAX:
            rc = flag_int("max-replicas", optarg, 1, REPLICAS_LIMIT, &c->max_replicas);
            break;
        case OPT_SLO:
            rc = flag_double("slo-ms", optarg, 0, 3.6e6, true, &c->slo_ms);
            break;
        case OPT_TIME_SCALE:
            rc = flag_double("time-scale", optarg, 0, 1000, true, &c->time_scale);
            break;
        case OPT_RATE_SCALE:
            rc = flag_double("rate-scale", optarg, 0, 1000, true, &c->rate_scale);
            break;
        case OPT_TAIL:
            rc = flag_double("tail-seconds", optarg, 0, 30 * 86400.0, false, &c->tail_seconds);
            break;
        case OPT_TIMING:
            c->timing = true;
            break;
        case OPT_AUTOSCALER:
            c->autoscaler_doc = optarg;
            break;
        case OPT_HELP:
            sim_usage(stdout);
            return 1;
        default:
            fprintf(stderr, "inferd simulate: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            sim_usage(stderr);
            return -1;
        }
        if (rc < 0)
            return -1;
    }
    if (optind < argc && !c->trace_path)
        c->trace_path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "inferd simulate: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!c->trace_path == !c->shape) {
        fprintf(stderr, "inferd simulate: give a trace file or --generate SHAPE (one of them)\n");
        sim_usage(stderr);
        return -1;
    }
    if (c->min_replicas > c->max_replicas) {
        fprintf(stderr, "inferd simulate: --min-replicas %d is above --max-replicas %d\n",
                c->min_replicas, c->max_replicas);
        return -1;
    }
    if (from_tokens)
        c->service.kind = SIM_SERVICE_TOKENS;
    return 0;
}

/* ---- policies ---- */

/* Splits the --policy list into ops. Returns the count, or -1 (reported). */
static int choose_policies(const char *spec, sim_policy_ops_t *ops)
{
    if (strcmp(spec, "all") == 0) {
        size_t n = sim_policy_count();
        if (n > MAX_POLICIES)
            n = MAX_POLICIES;
        for (size_t i = 0; i < n; i++)
            sim_policy_find(sim_policy_name(i), &ops[i]);
        return (int)n;
    }
    int n = 0;
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1), p);
        if (n == MAX_POLICIES || sim_policy_find(name, &ops[n]) < 0) {
            char known[256];
            sim_policy_known_names(known, sizeof(known));
            if (n == MAX_POLICIES)
                fprintf(stderr, "inferd simulate: at most %d policies at once\n", MAX_POLICIES);
            else
                fprintf(stderr, "inferd simulate: unknown policy '%s'; known policies: %s, all\n",
                        name, known);
            return -1;
        }
        n++;
        if (!comma)
            return n;
        p = comma + 1;
    }
}

/* ---- output ---- */

static double mean_of(const double *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return n ? sum / (double)n : 0;
}

static void print_header(const sim_cli_t *c, const sim_trace_t *t, const sim_model_t *m)
{
    static const char *const dists[] = {"fixed", "exp", "lognormal", "from tokens"};
    char start[TIME_ISO_LEN];
    if (time_format_iso(t->unix_start, start) < 0)
        snprintf(start, sizeof(start), "?");
    printf("trace: %s, %zu requests over %.0f s from %s\n",
           c->trace_path ? c->trace_path : c->shape, t->n, t->span, start);
    printf("model: service %s (mean %.1f ms), load %g ms, concurrency %u, replicas %d..%d; "
           "SLO %g ms; tail %g s\n",
           dists[c->service.kind], m->service_seconds * 1000.0, c->load_ms, m->replica_concurrency,
           m->min_replicas, m->max_replicas, c->slo_ms, c->tail_seconds);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The autoscaler configuration inferd's strategies decide with: the
 * built-in defaults, with --autoscaler-config merged on through the same
 * validator as POST /autoscaler/config. Every problem is reported. */
static int load_autoscaler(sim_cli_t *c)
{
    config_autoscaler_defaults(&c->autoscaler);
    if (!c->autoscaler_doc)
        return 0;
    json_error_t jerr;
    const char *doc = c->autoscaler_doc;
    bool inline_json = doc[strspn(doc, " \t\n")] == '{';
    json_t *j = inline_json ? json_loads(doc, JSON_REJECT_DUPLICATES, &jerr)
                            : json_load_file(doc, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        fprintf(stderr, "inferd simulate: --autoscaler-config: %s%s%s (line %d, column %d)\n",
                inline_json ? "" : doc, inline_json ? "" : ": ", jerr.text, jerr.line, jerr.column);
        return -1;
    }
    config_problems_t problems;
    int rc = config_autoscaler_merge(&c->autoscaler, j, &c->autoscaler, &problems);
    json_decref(j);
    if (rc == 0)
        return 0;
    for (size_t i = 0; i < problems.count; i++)
        fprintf(stderr, "inferd simulate: --autoscaler-config: %s: %s\n", problems.items[i].field,
                problems.items[i].message);
    config_problems_clear(&problems);
    return -1;
}

static int load_trace(const sim_cli_t *c, sim_trace_t *t)
{
    char err[512];
    int rc = c->trace_path
                 ? sim_trace_read_csv(c->trace_path, c->seed, t, err, sizeof(err))
                 : sim_trace_generate(c->shape, c->seed, c->duration, c->rate, t, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "inferd simulate: %s\n", err);
        return -1;
    }
    if (sim_trace_scale(t, c->time_scale, c->rate_scale, c->seed) < 0) {
        fprintf(stderr, "inferd simulate: out of memory scaling the trace\n");
        return -1;
    }
    if (t->n == 0) {
        fprintf(stderr, "inferd simulate: no requests left after --rate-scale %g\n", c->rate_scale);
        return -1;
    }
    return 0;
}

int sim_main(int argc, char **argv)
{
    sim_cli_t c = {
        .seed = 1,
        .policies = "all",
        .service = {.kind = SIM_SERVICE_FIXED,
                    .mean_ms = DEFAULT_SERVICE_MS,
                    .sigma = DEFAULT_SIGMA,
                    .base_ms = DEFAULT_BASE_MS,
                    .context_ms = DEFAULT_CONTEXT_MS,
                    .generated_ms = DEFAULT_GENERATED_MS},
        .load_ms = DEFAULT_LOAD_MS,
        .concurrency = 1,
        .max_replicas = DEFAULT_MAX_REPLICAS,
        .slo_ms = DEFAULT_SLO_MS,
        .time_scale = 1,
        .rate_scale = 1,
        .tail_seconds = DEFAULT_TAIL_SECONDS,
    };
    sim_trace_t trace = {0};
    double *service = NULL;
    sim_result_t *results = NULL;
    sim_policy_ops_t ops[MAX_POLICIES];
    int code = EXIT_BAD_INPUT, n_ops;
    char err[512];

    int parsed = parse_args(argc, argv, &c);
    if (parsed != 0)
        return parsed > 0 ? 0 : EXIT_BAD_INPUT;
    if ((n_ops = choose_policies(c.policies, ops)) < 0 || load_autoscaler(&c) < 0 ||
        load_trace(&c, &trace) < 0)
        goto done;
    service = malloc(trace.n * sizeof(*service));
    results = calloc(n_ops > 0 ? (size_t)n_ops : 1, sizeof(*results));
    if (!service || !results) {
        fprintf(stderr, "inferd simulate: out of memory for %zu requests\n", trace.n);
        code = EXIT_FAILED;
        goto done;
    }
    if (sim_service_times(&trace, &c.service, c.seed, service, err, sizeof(err)) < 0) {
        fprintf(stderr, "inferd simulate: %s\n", err);
        goto done;
    }
    sim_model_t model = {
        .load_seconds = c.load_ms / 1000.0,
        .service_seconds = mean_of(service, trace.n),
        .replica_concurrency = (unsigned)c.concurrency,
        .min_replicas = c.min_replicas,
        .max_replicas = c.max_replicas,
        .autoscaler = &c.autoscaler,
    };
    sim_workload_t work = {
        .n = trace.n,
        .arrival = trace.arrival,
        .service = service,
        .unix_start = trace.unix_start,
        .span = trace.span,
    };
    /* inferd's strategies decide at the configured interval, as the
     * server's decision timer does. */
    for (int i = 0; i < n_ops; i++) {
        sim_policy_ops_t own;
        if (sim_policy_inferd_ops(ops[i].name, &own) == 0)
            ops[i].tick_seconds = c.autoscaler.timing.decision_interval_seconds;
    }
    sim_options_t opts = {.tail_seconds = c.tail_seconds, .slo_seconds = c.slo_ms / 1000.0};
    code = EXIT_FAILED;
    for (int i = 0; i < n_ops; i++) {
        double began = seconds_now();
        if (sim_run(&work, &model, &ops[i], &opts, &results[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "inferd simulate: %s\n", err);
            goto done;
        }
        if (c.timing)
            fprintf(stderr, "timing policy=%s requests=%zu wall_ms=%.1f\n", ops[i].name, trace.n,
                    (seconds_now() - began) * 1000.0);
    }
    if (c.json) {
        json_t *doc = sim_report_json(results, (size_t)n_ops, opts.slo_seconds);
        if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) < 0) {
            fprintf(stderr, "inferd simulate: cannot write the JSON report\n");
            json_decref(doc);
            goto done;
        }
        json_decref(doc);
        printf("\n");
    } else {
        print_header(&c, &trace, &model);
        sim_report_table(stdout, results, (size_t)n_ops);
    }
    code = 0;
done:
    free(results);
    free(service);
    sim_trace_free(&trace);
    return code;
}
