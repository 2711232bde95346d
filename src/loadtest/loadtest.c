/* loadtest.c - the `inferd loadtest` command (see loadtest.h).
 *
 * The whole schedule is built before the first request, then one timer
 * walks it: each time it fires it sends everything that is due and sleeps
 * until the next arrival. Answers only fill in rows; they never decide
 * when the next request goes, which is what makes the generator open loop.
 *
 * Stats come from a second client of one connection, so a sample is never
 * queued behind load requests; a sample still outstanding when the next
 * second comes is skipped rather than stacked.
 *
 * Every wait is bounded: each request by --timeout (connecting included),
 * the schedule by --duration and --max-requests, and the run as a whole by
 * --grace after the last arrival, whatever the per-request timeout, so a
 * target that accepts and never answers cannot hold a run far past its
 * duration. A target that refuses connections ends the run within about a
 * second (see note_connect_failure).
 *
 * The exit status says whether the reports are a measurement of the
 * server (results_run_is_valid): a script must not take a run whose
 * requests mostly got no HTTP answer for one that measured latency.
 */
#include "loadtest/loadtest.h"
#include "loadtest/client.h"
#include "loadtest/results.h"
#include "loadtest/schedule.h"
#include "util/buf.h"
#include "util/xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define DEFAULT_TARGET          "http://127.0.0.1:8000"
#define DEFAULT_TEXT            "Hello from the inferd load test."
#define DEFAULT_INPUTS          "[1, 2, 3]"
#define DEFAULT_OUT             "loadtest-out"
#define DEFAULT_RATE_DURATION_S 10.0
#define DEFAULT_MAX_REQUESTS    100000
#define HARD_MAX_REQUESTS       10000000
#define DEFAULT_MAX_CONNECTIONS 256
#define HARD_MAX_CONNECTIONS    10000
#define DEFAULT_TIMEOUT_S       30.0
#define MAX_REQUEST_MODELS      64
#define STATS_INTERVAL_MS       1000
#define STATS_TIMEOUT_MS        2000
#define DEFAULT_GRACE_S         10.0
#define DEFAULT_MAX_ERROR_SHARE 0.05
#define CONNECT_FAILURES_FATAL  2 /* with no connection ever made */

static const char loadtest_usage[] =
    "usage: inferd loadtest (--trace FILE [--time-scale X] [--rate-scale Y]\n"
    "                                    [--model-column NAME]\n"
    "                        | --ramp START:END:SECONDS | --rate R)\n"
    "                       [--target http://127.0.0.1:8000] [--path /synthesize|/predict]\n"
    "                       [--model NAME]... [--text TEXT] [--inputs JSON]\n"
    "                       [--duration S] [--max-requests N] [--max-connections N]\n"
    "                       [--timeout S] [--grace S] [--max-error-share F]\n"
    "                       [--seed N] [--out DIR]\n"
    "\n"
    "Arrivals (open loop: each request goes at its time, answered or not):\n"
    "  --trace FILE          a CSV trace read exactly as inferd simulate reads it: one\n"
    "                        request per row (first column a time), or minute,count rows\n"
    "                        whose requests are spread within each minute by --seed\n"
    "  --time-scale X        play the trace X times faster (60: an hour in a minute)\n"
    "  --rate-scale Y        below 1 keep each request with probability Y; above 1 send\n"
    "                        floor(Y) copies and one more with the fraction's probability,\n"
    "                        the extra ones before the next request (as inferd simulate)\n"
    "  --model-column NAME   the trace column naming each request's model\n"
    "  --ramp START:END:S    requests/s rising from START to END over S seconds\n"
    "  --rate R              Poisson arrivals at R requests/s (for --duration, default 10)\n"
    "  --duration S          send nothing at or after S seconds from the start\n"
    "  --max-requests N      send at most N requests (default 100000)\n"
    "  --seed N              seed for Poisson gaps, minute spreading, rate scaling (1)\n"
    "\n"
    "Requests:\n"
    "  --target URL          http://IPV4[:PORT] (default http://127.0.0.1:8000)\n"
    "  --path PATH           /synthesize (default, with --text) or /predict (--inputs)\n"
    "  --model NAME          repeat for round robin (default tts-flite-slt, or example)\n"
    "  --max-connections N   beyond N open connections a request is an overflow (256)\n"
    "  --text TEXT           the text of each /synthesize request\n"
    "  --inputs JSON         the inputs of each /predict request (default [1, 2, 3])\n"
    "  --timeout S           each request ends S s after it is sent, connecting included\n"
    "                        (default 30)\n"
    "  --out DIR             requests.csv, samples.csv, loadtest.svg (loadtest-out)\n"
    "\n"
    "Bound: the run ends at the latest --grace S seconds (default 10) after its last\n"
    "scheduled request, so at most --duration + --grace; sooner once every request has\n"
    "an answer or has timed out. Requests unanswered then are recorded as cancelled.\n"
    "\n"
    "Exit status:\n"
    "  0  a measurement: some request got an HTTP answer (any status: a 503 is a result)\n"
    "     and at most --max-error-share F (default 0.05) of the requests got none\n"
    "  1  not a measurement: no request got an HTTP answer, or more than F of them got\n"
    "     none (connection refused or reset, closed, timeout, overflow, cancelled); the\n"
    "     reports are written and one line on stderr says why. Also 1 when the target\n"
    "     refuses every connection (the run stops at once) or a report cannot be written\n"
    "  2  bad flags or a bad trace (the message names the file and the line)\n";

typedef enum { SOURCE_NONE, SOURCE_TRACE, SOURCE_RAMP, SOURCE_RATE } source_t;

typedef struct options {
    source_t source;
    const char *trace;
    double time_scale, rate_scale;
    const char *model_column;
    double ramp_start, ramp_end, ramp_seconds;
    double rate;
    const char *target;
    struct sockaddr_in addr;
    char host_header[80];
    const char *path;
    const char *models[MAX_REQUEST_MODELS];
    size_t n_models;
    const char *text;
    const char *inputs;
    double duration; /* 0: not given */
    size_t max_requests;
    unsigned max_connections;
    double timeout_s;
    double grace_s;         /* the run's bound past its last scheduled request */
    double max_error_share; /* of requests without an HTTP answer, for exit 0 */
    uint64_t seed;
    const char *out;
} options_t;

typedef struct run run_t;

/* What a load request's callback needs: its run and its row. */
typedef struct pending {
    run_t *run;
    size_t index;
} pending_t;

struct run {
    uv_loop_t *loop;
    const options_t *o;
    schedule_t *schedule;
    size_t n;    /* requests in the run (the schedule, or fewer if stopped early) */
    size_t next; /* next arrival to send */
    size_t finished;
    results_row_t *rows;
    pending_t *pending;
    const char **models; /* names of rows' model indexes */
    size_t n_models;
    size_t round_robin;
    char **bodies;
    size_t *body_lens;
    client_t *load;
    client_t *stats;
    uv_timer_t arrival_timer, stats_timer, deadline_timer;
    uv_signal_t sigint, sigterm;
    uint64_t start_ns;
    results_sample_t *samples;
    size_t n_ticks, samples_cap;
    bool stats_busy;
    size_t stats_tick;
    char *replica_models[RESULTS_MAX_MODELS];
    size_t n_replica_models;
    bool stopping;
    bool interrupted;
    int connect_error; /* set when the target could never be reached */
    double ended_at;
};

/* ---- flags ---- */

static int flag_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int flag_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("inferd loadtest: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

static int parse_number(const char *flag, const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < min || v > max)
        return flag_error("%s must be a number between %g and %g, got '%s'", flag, min, max, text);
    *out = v;
    return 0;
}

static int parse_positive(const char *flag, const char *text, double max, double *out)
{
    if (parse_number(flag, text, 0, max, out) < 0)
        return -1;
    if (*out <= 0)
        return flag_error("%s must be above 0, got '%s'", flag, text);
    return 0;
}

static int parse_count(const char *flag, const char *text, unsigned long long max,
                       unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < 1 || v > max)
        return flag_error("%s must be an integer between 1 and %llu, got '%s'", flag, max, text);
    *out = v;
    return 0;
}

static int parse_ramp(const char *text, options_t *o)
{
    double v[3];
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(p, &end);
        if (errno || end == p || !isfinite(v[i]) || v[i] < 0 || *end != (i < 2 ? ':' : '\0'))
            return flag_error("--ramp must be START:END:SECONDS (requests per second from START "
                              "to END over SECONDS), got '%s'",
                              text);
        p = end + 1;
    }
    if (v[2] <= 0)
        return flag_error("--ramp SECONDS must be above 0, got '%s'", text);
    if (v[0] == 0 && v[1] == 0)
        return flag_error("--ramp from 0 to 0 requests per second sends nothing");
    o->ramp_start = v[0];
    o->ramp_end = v[1];
    o->ramp_seconds = v[2];
    return 0;
}

/* http://IPV4[:PORT][/]: the generator makes no DNS lookups, so that the
 * time measured is the server's, not the resolver's. */
static int parse_target(const char *url, options_t *o)
{
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return flag_error("--target must be http://ADDRESS[:PORT], got '%s'", url);
    const char *host = url + sizeof(scheme) - 1;
    const char *colon = strchr(host, ':');
    const char *slash = strchr(host, '/');
    const char *host_end = colon ? colon : slash ? slash : host + strlen(host);
    char name[64];
    if (host_end == host || (size_t)(host_end - host) >= sizeof(name))
        return flag_error("--target has no address: '%s'", url);
    memcpy(name, host, (size_t)(host_end - host));
    name[host_end - host] = '\0';
    long port = 80;
    if (colon) {
        char *end;
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return flag_error("--target port must be between 1 and 65535, got '%s'", url);
        slash = *end ? end : NULL;
    }
    if (slash && strcmp(slash, "/") != 0)
        return flag_error("--target must not have a path (use --path), got '%s'", url);
    const char *ip = strcmp(name, "localhost") == 0 ? "127.0.0.1" : name;
    if (uv_ip4_addr(ip, (int)port, &o->addr) != 0)
        return flag_error("--target address must be an IPv4 address such as 127.0.0.1 "
                          "(no DNS lookups), got '%s'",
                          name);
    snprintf(o->host_header, sizeof(o->host_header), "%s:%ld", name, port);
    o->target = url;
    return 0;
}

static int set_source(options_t *o, source_t s, const char *flag)
{
    if (o->source != SOURCE_NONE && o->source != s)
        return flag_error("%s cannot be combined with another of --trace, --ramp, --rate", flag);
    o->source = s;
    return 0;
}

enum {
    OPT_TRACE = 256,
    OPT_TIME_SCALE,
    OPT_RATE_SCALE,
    OPT_MODEL_COLUMN,
    OPT_RAMP,
    OPT_RATE,
    OPT_TARGET,
    OPT_PATH,
    OPT_MODEL,
    OPT_TEXT,
    OPT_INPUTS,
    OPT_DURATION,
    OPT_MAX_REQUESTS,
    OPT_MAX_CONNECTIONS,
    OPT_TIMEOUT,
    OPT_SEED,
    OPT_OUT,
    OPT_GRACE,
    OPT_MAX_ERROR_SHARE,
    OPT_HELP,
};

static int parse_option(options_t *o, int c, const char *arg, bool *help)
{
    unsigned long long n = 0;
    switch (c) {
    case OPT_TRACE:
        o->trace = arg;
        return set_source(o, SOURCE_TRACE, "--trace");
    case OPT_TIME_SCALE:
        return parse_positive("--time-scale", arg, 1e9, &o->time_scale);
    case OPT_RATE_SCALE:
        return parse_positive("--rate-scale", arg, 1000, &o->rate_scale);
    case OPT_MODEL_COLUMN:
        o->model_column = arg;
        return 0;
    case OPT_RAMP:
        return set_source(o, SOURCE_RAMP, "--ramp") < 0 ? -1 : parse_ramp(arg, o);
    case OPT_RATE:
        if (set_source(o, SOURCE_RATE, "--rate") < 0)
            return -1;
        return parse_positive("--rate", arg, 1e6, &o->rate);
    case OPT_TARGET:
        return parse_target(arg, o);
    case OPT_PATH:
        if (strcmp(arg, "/synthesize") != 0 && strcmp(arg, "/predict") != 0)
            return flag_error("--path must be /synthesize or /predict, got '%s'", arg);
        o->path = arg;
        return 0;
    case OPT_MODEL:
        if (!arg[0])
            return flag_error("--model must not be empty");
        if (o->n_models >= MAX_REQUEST_MODELS)
            return flag_error("--model given more than %d times", MAX_REQUEST_MODELS);
        o->models[o->n_models++] = arg;
        return 0;
    case OPT_TEXT:
        if (!arg[0])
            return flag_error("--text must not be empty");
        o->text = arg;
        return 0;
    case OPT_INPUTS:
        o->inputs = arg;
        return 0;
    case OPT_DURATION:
        return parse_positive("--duration", arg, 7 * 86400.0, &o->duration);
    case OPT_MAX_REQUESTS:
        if (parse_count("--max-requests", arg, HARD_MAX_REQUESTS, &n) < 0)
            return -1;
        o->max_requests = (size_t)n;
        return 0;
    case OPT_MAX_CONNECTIONS:
        if (parse_count("--max-connections", arg, HARD_MAX_CONNECTIONS, &n) < 0)
            return -1;
        o->max_connections = (unsigned)n;
        return 0;
    case OPT_TIMEOUT:
        return parse_positive("--timeout", arg, 3600, &o->timeout_s);
    case OPT_GRACE:
        return parse_positive("--grace", arg, 3600, &o->grace_s);
    case OPT_MAX_ERROR_SHARE:
        return parse_number("--max-error-share", arg, 0, 1, &o->max_error_share);
    case OPT_SEED: {
        char *end;
        errno = 0;
        o->seed = strtoull(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-')
            return flag_error("--seed must be a non-negative integer, got '%s'", arg);
        return 0;
    }
    case OPT_OUT:
        if (!arg[0])
            return flag_error("--out must not be empty");
        o->out = arg;
        return 0;
    case OPT_HELP:
        *help = true;
        return 0;
    default:
        return -1; /* getopt has said what was wrong */
    }
}

static int parse_options(int argc, char **argv, options_t *o, bool *help)
{
    static const struct option longopts[] = {
        {"trace", required_argument, NULL, OPT_TRACE},
        {"time-scale", required_argument, NULL, OPT_TIME_SCALE},
        {"rate-scale", required_argument, NULL, OPT_RATE_SCALE},
        {"model-column", required_argument, NULL, OPT_MODEL_COLUMN},
        {"ramp", required_argument, NULL, OPT_RAMP},
        {"rate", required_argument, NULL, OPT_RATE},
        {"target", required_argument, NULL, OPT_TARGET},
        {"path", required_argument, NULL, OPT_PATH},
        {"model", required_argument, NULL, OPT_MODEL},
        {"text", required_argument, NULL, OPT_TEXT},
        {"inputs", required_argument, NULL, OPT_INPUTS},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"max-requests", required_argument, NULL, OPT_MAX_REQUESTS},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"seed", required_argument, NULL, OPT_SEED},
        {"out", required_argument, NULL, OPT_OUT},
        {"grace", required_argument, NULL, OPT_GRACE},
        {"max-error-share", required_argument, NULL, OPT_MAX_ERROR_SHARE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    *o = (options_t){.time_scale = 1,
                     .rate_scale = 1,
                     .path = "/synthesize",
                     .text = DEFAULT_TEXT,
                     .inputs = DEFAULT_INPUTS,
                     .max_requests = DEFAULT_MAX_REQUESTS,
                     .max_connections = DEFAULT_MAX_CONNECTIONS,
                     .timeout_s = DEFAULT_TIMEOUT_S,
                     .grace_s = DEFAULT_GRACE_S,
                     .max_error_share = DEFAULT_MAX_ERROR_SHARE,
                     .seed = 1,
                     .out = DEFAULT_OUT};
    *help = false;
    if (parse_target(DEFAULT_TARGET, o) < 0)
        return -1;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (parse_option(o, c, optarg, help) < 0)
            return -1;
    if (*help)
        return 0;
    if (optind < argc)
        return flag_error("unexpected argument '%s'", argv[optind]);
    if (o->source == SOURCE_NONE)
        return flag_error("one of --trace, --ramp or --rate is required");
    if (o->source != SOURCE_TRACE && (o->model_column || o->time_scale != 1 || o->rate_scale != 1))
        return flag_error("--time-scale, --rate-scale and --model-column apply to --trace only");
    if (o->model_column && o->n_models)
        return flag_error("--model cannot be combined with --model-column (the trace names them)");
    if (o->n_models == 0)
        o->models[o->n_models++] = strcmp(o->path, "/predict") == 0 ? "example" : "tts-flite-slt";
    return 0;
}

/* ---- bodies ---- */

static int build_bodies(run_t *run)
{
    const options_t *o = run->o;
    json_t *inputs = NULL;
    if (strcmp(o->path, "/predict") == 0) {
        json_error_t jerr;
        inputs = json_loads(o->inputs, JSON_DECODE_ANY, &jerr);
        if (!inputs)
            return flag_error("--inputs is not JSON: %s", jerr.text);
    }
    run->bodies = xcalloc(run->n_models, sizeof(char *));
    run->body_lens = xcalloc(run->n_models, sizeof(size_t));
    for (size_t m = 0; m < run->n_models; m++) {
        json_t *doc = inputs
                          ? json_pack("{s:s, s:O}", "model_name", run->models[m], "inputs", inputs)
                          : json_pack("{s:s, s:s}", "model_name", run->models[m], "text", o->text);
        if (!doc) {
            json_decref(inputs);
            return flag_error("model name or text is not valid UTF-8");
        }
        run->bodies[m] = json_dumps(doc, JSON_COMPACT);
        run->body_lens[m] = strlen(run->bodies[m]);
        json_decref(doc);
    }
    json_decref(inputs);
    return 0;
}

/* ---- the run ---- */

static double elapsed_s(const run_t *run, uint64_t ns)
{
    return (double)(ns - run->start_ns) / 1e9;
}

static void on_closed_nothing(uv_handle_t *h)
{
    (void)h;
}

static void begin_stop(run_t *run)
{
    if (run->stopping)
        return;
    run->stopping = true;
    run->ended_at = elapsed_s(run, uv_hrtime());
    uv_close((uv_handle_t *)&run->arrival_timer, on_closed_nothing);
    uv_close((uv_handle_t *)&run->stats_timer, on_closed_nothing);
    uv_close((uv_handle_t *)&run->deadline_timer, on_closed_nothing);
    uv_close((uv_handle_t *)&run->sigint, on_closed_nothing);
    uv_close((uv_handle_t *)&run->sigterm, on_closed_nothing);
    /* Requests still out are answered "cancelled" by the clients. */
    client_close(run->load, NULL, NULL);
    client_close(run->stats, NULL, NULL);
}

static void check_done(run_t *run)
{
    if (!run->stopping && run->next == run->n && run->finished == run->n)
        begin_stop(run);
}

static bool is_connect_error(int error)
{
    return error == UV_ECONNREFUSED || error == UV_EHOSTUNREACH || error == UV_ENETUNREACH ||
           error == UV_ETIMEDOUT || error == UV_EADDRNOTAVAIL;
}

/* A target that was never reached and has now refused (or failed) more
 * than one connection - typically the first stats sample and the first
 * request - is not coming: waiting out the schedule would only produce a
 * file of errors, so the run ends here with a message. */
static void note_connect_failure(run_t *run, int error)
{
    if (run->stopping || !is_connect_error(error))
        return;
    uint64_t ok_load, failed_load, ok_stats, failed_stats;
    client_connect_counts(run->load, &ok_load, &failed_load);
    client_connect_counts(run->stats, &ok_stats, &failed_stats);
    if (ok_load + ok_stats == 0 && failed_load + failed_stats >= CONNECT_FAILURES_FATAL) {
        run->connect_error = error;
        begin_stop(run);
    }
}

static void on_load_done(void *arg, const client_result_t *r)
{
    pending_t *p = arg;
    run_t *run = p->run;
    results_row_t *row = &run->rows[p->index];
    /* Both ends from the client's stamps, so finished - sent is the
     * latency to the microsecond. */
    row->sent_at = elapsed_s(run, r->sent_ns);
    row->finished_at = elapsed_s(run, r->finished_ns);
    row->latency_ms = r->status > 0 ? (double)(r->finished_ns - r->sent_ns) / 1e6 : NAN;
    row->status = r->status;
    row->error = r->error ? client_error_name(r->error) : NULL;
    row->bytes = r->body_bytes;
    run->finished++;
    if (r->status == 0 && !r->connected)
        note_connect_failure(run, r->error);
    check_done(run);
}

/* The model of arrival a: the trace's, or the next in the round robin. */
static size_t pick_model(run_t *run, arrival_t a)
{
    return a.model >= 0 ? (size_t)a.model : run->round_robin++ % run->n_models;
}

static void send_one(run_t *run, size_t i, uint64_t now_ns)
{
    arrival_t a = schedule_arrival(run->schedule, i);
    results_row_t *row = &run->rows[i];
    size_t model = pick_model(run, a);
    *row = (results_row_t){.scheduled_at = a.at,
                           .sent_at = elapsed_s(run, now_ns),
                           .finished_at = NAN,
                           .latency_ms = NAN,
                           .model = (int)model};
    run->pending[i] = (pending_t){run, i};
    client_request_t req = {.method = "POST",
                            .path = run->o->path,
                            .content_type = "application/json",
                            .body = run->bodies[model],
                            .body_len = run->body_lens[model]};
    int rc = client_send(run->load, &req, on_load_done, &run->pending[i]);
    if (rc == 0)
        return;
    /* Not sent at all: counted as an error at the moment it was due. */
    row->finished_at = row->sent_at;
    row->error = client_error_name(rc);
    run->finished++;
    note_connect_failure(run, rc);
}

static void on_arrival_timer(uv_timer_t *t)
{
    run_t *run = t->data;
    uint64_t now = uv_hrtime();
    double now_s = elapsed_s(run, now);
    /* Everything due within half a millisecond goes now: the timer's
     * resolution is a millisecond, and waking up early would only spin. */
    while (!run->stopping && run->next < run->n &&
           schedule_arrival(run->schedule, run->next).at <= now_s + 0.0005)
        send_one(run, run->next++, now);
    if (run->stopping)
        return;
    if (run->next < run->n) {
        double wait = schedule_arrival(run->schedule, run->next).at - now_s;
        uv_timer_start(&run->arrival_timer, on_arrival_timer,
                       wait > 0 ? (uint64_t)ceil(wait * 1000.0) : 0, 0);
    }
    check_done(run);
}

static results_sample_t *sample_at(run_t *run, size_t k)
{
    if (k >= run->samples_cap) {
        size_t cap = run->samples_cap ? run->samples_cap * 2 : 64;
        while (cap <= k)
            cap *= 2;
        run->samples = xrealloc(run->samples, cap * sizeof(results_sample_t));
        for (size_t i = run->samples_cap; i < cap; i++)
            results_sample_clear(&run->samples[i]);
        run->samples_cap = cap;
    }
    return &run->samples[k];
}

static int replica_model_index(run_t *run, const char *name)
{
    for (size_t i = 0; i < run->n_replica_models; i++)
        if (strcmp(run->replica_models[i], name) == 0)
            return (int)i;
    if (run->n_replica_models >= RESULTS_MAX_MODELS)
        return -1;
    run->replica_models[run->n_replica_models] = xstrdup(name);
    return (int)run->n_replica_models++;
}

static double json_percent(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Reads the figures the stats endpoint really returns: per_model[].model,
 * .current_scale (ready replicas) and .starting; resource_usage
 * .cpu_usage_percent and .memory_usage_percent (null when unmeasured). */
static void read_stats(run_t *run, results_sample_t *s, const char *body)
{
    json_t *doc = json_loads(body, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return;
    }
    json_t *res = json_object_get(doc, "resource_usage");
    s->cpu_percent = json_percent(json_object_get(res, "cpu_usage_percent"));
    s->memory_percent = json_percent(json_object_get(res, "memory_usage_percent"));
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(doc, "per_model"), i, m) {
        const char *name = json_string_value(json_object_get(m, "model"));
        json_t *ready = json_object_get(m, "current_scale");
        json_t *starting = json_object_get(m, "starting");
        int k = name ? replica_model_index(run, name) : -1;
        if (k < 0)
            continue;
        s->ready[k] = json_is_integer(ready) ? (int)json_integer_value(ready) : -1;
        s->starting[k] = json_is_integer(starting) ? (int)json_integer_value(starting) : -1;
    }
    s->have = true;
    json_decref(doc);
}

static void on_stats_done(void *arg, const client_result_t *r)
{
    run_t *run = arg;
    run->stats_busy = false;
    if (r->status == 200 && r->body)
        read_stats(run, sample_at(run, run->stats_tick), r->body);
    if (r->status == 0 && !r->connected)
        note_connect_failure(run, r->error);
}

static void on_stats_timer(uv_timer_t *t)
{
    run_t *run = t->data;
    size_t k = run->n_ticks++;
    sample_at(run, k);
    if (run->stats_busy)
        return; /* the last one is still out: this second has no sample */
    client_request_t req = {.method = "GET", .path = "/autoscaler/stats", .keep_body = true};
    run->stats_tick = k;
    int rc = client_send(run->stats, &req, on_stats_done, run);
    if (rc == 0)
        run->stats_busy = true;
    else
        note_connect_failure(run, rc);
}

/* Arrivals the deadline came before (the generator fell more than --grace
 * behind its schedule) stay in the run as requests without an answer:
 * dropping them would make a run that could not keep up look clean. */
static void cancel_unsent(run_t *run)
{
    for (; run->next < run->n; run->next++) {
        arrival_t a = schedule_arrival(run->schedule, run->next);
        run->rows[run->next] = (results_row_t){.scheduled_at = a.at,
                                               .sent_at = NAN,
                                               .finished_at = NAN,
                                               .latency_ms = NAN,
                                               .error = client_error_name(UV_ECANCELED),
                                               .model = (int)pick_model(run, a)};
        run->finished++;
    }
}

static void on_deadline(uv_timer_t *t)
{
    run_t *run = t->data;
    fprintf(stderr,
            "inferd loadtest: %g s (--grace) past the last scheduled request, %zu requests "
            "unanswered; stopping (they are recorded as cancelled)\n",
            run->o->grace_s, run->n - run->finished);
    cancel_unsent(run);
    begin_stop(run);
}

static void on_signal(uv_signal_t *h, int signum)
{
    run_t *run = h->data;
    fprintf(stderr, "inferd loadtest: signal %d, stopping after %zu of %zu requests\n", signum,
            run->next, run->n);
    run->interrupted = true;
    run->n = run->next; /* the rows never sent are not part of this run */
    begin_stop(run);
}

static void run_start(run_t *run)
{
    run->start_ns = uv_hrtime();
    uv_timer_init(run->loop, &run->arrival_timer);
    uv_timer_init(run->loop, &run->stats_timer);
    uv_timer_init(run->loop, &run->deadline_timer);
    uv_signal_init(run->loop, &run->sigint);
    uv_signal_init(run->loop, &run->sigterm);
    run->arrival_timer.data = run->stats_timer.data = run->deadline_timer.data = run;
    run->sigint.data = run->sigterm.data = run;
    uv_signal_start(&run->sigint, on_signal, SIGINT);
    uv_signal_start(&run->sigterm, on_signal, SIGTERM);
    /* The run's bound: with --duration D, at most D + grace, whatever the
     * target does (accepts and never answers, answers slowly, ...). */
    double deadline = schedule_span(run->schedule) + run->o->grace_s;
    uv_timer_start(&run->deadline_timer, on_deadline, (uint64_t)ceil(deadline * 1000.0), 0);
    uv_timer_start(&run->stats_timer, on_stats_timer, 0, STATS_INTERVAL_MS);
    uv_timer_start(&run->arrival_timer, on_arrival_timer, 0, 0);
}

/* ---- reports ---- */

static int write_file(const char *dir, const char *name, const buf_t *b)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "inferd loadtest: cannot write '%s': %s\n", path, strerror(errno));
        return -1;
    }
    size_t wrote = b->len ? fwrite(b->data, 1, b->len, f) : 0;
    if (fclose(f) != 0 || wrote != b->len) {
        fprintf(stderr, "inferd loadtest: cannot write '%s': %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void describe_source(const options_t *o, buf_t *b)
{
    switch (o->source) {
    case SOURCE_TRACE: {
        const char *base = strrchr(o->trace, '/');
        buf_appendf(b, "trace %s (time x%g, rate x%g)", base ? base + 1 : o->trace, o->time_scale,
                    o->rate_scale);
        break;
    }
    case SOURCE_RAMP:
        buf_appendf(b, "ramp %g to %g requests/s over %g s", o->ramp_start, o->ramp_end,
                    o->ramp_seconds);
        break;
    case SOURCE_RATE:
        buf_appendf(b, "Poisson %g requests/s", o->rate);
        break;
    case SOURCE_NONE:
        break;
    }
}

static void print_summary(const run_t *run, const char *out_dir)
{
    size_t ok = 0, errors = 0;
    for (size_t i = 0; i < run->n; i++) {
        ok += !results_row_is_error(&run->rows[i]);
        errors += results_row_is_error(&run->rows[i]);
    }
    double p50, p95, p99;
    results_overall(run->rows, run->n, &p50, &p95, &p99);
    double secs = run->ended_at > 0 ? run->ended_at : 1e-9;
    printf("inferd loadtest: %zu requests in %.2f s, %zu answered 2xx, %zu errors (%.1f %%), "
           "%.1f requests/s\n",
           run->n, run->ended_at, ok, errors, run->n ? 100.0 * errors / run->n : 0.0,
           (double)run->n / secs);
    printf("latency ms of 2xx answers: p50 %.2f  p95 %.2f  p99 %.2f\n", p50, p95, p99);
    if (errors) {
        /* A few kinds at most: a status or a client error name. */
        printf("errors:");
        for (size_t i = 0; i < run->n; i++) {
            const results_row_t *r = &run->rows[i];
            if (!results_row_is_error(r))
                continue;
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++)
                seen = results_row_is_error(&run->rows[j]) && run->rows[j].status == r->status &&
                       (r->status || run->rows[j].error == r->error);
            if (seen)
                continue;
            size_t count = 0;
            for (size_t j = i; j < run->n; j++)
                count += results_row_is_error(&run->rows[j]) && run->rows[j].status == r->status &&
                         (r->status || run->rows[j].error == r->error);
            if (r->status)
                printf(" status %d: %zu", r->status, count);
            else
                printf(" %s: %zu", r->error ? r->error : "unknown", count);
        }
        printf("\n");
    }
    printf("wrote %s/requests.csv, %s/samples.csv, %s/loadtest.svg\n", out_dir, out_dir, out_dir);
}

static int write_reports(run_t *run)
{
    const options_t *o = run->o;
    if (mkdir(o->out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "inferd loadtest: cannot create '%s': %s\n", o->out, strerror(errno));
        return -1;
    }
    /* One row per second the run lasted, and one per second a sample was
     * taken in: they are the same seconds unless a sample was skipped. */
    size_t n_seconds = (size_t)floor(run->ended_at) + 1;
    if (run->n_ticks > n_seconds)
        n_seconds = run->n_ticks;
    sample_at(run, n_seconds);
    results_second_t *secs = xcalloc(n_seconds, sizeof(*secs));
    results_per_second(run->rows, run->n, secs, n_seconds);

    buf_t requests = BUF_INIT, samples = BUF_INIT, svg = BUF_INIT, title = BUF_INIT;
    const char *const *replica = (const char *const *)run->replica_models;
    results_write_requests_csv(&requests, run->rows, run->n, run->models, run->n_models);
    results_write_samples_csv(&samples, secs, run->samples, n_seconds, replica,
                              run->n_replica_models);
    buf_appendf(&title, "inferd loadtest: POST %s, ", o->path);
    describe_source(o, &title);
    results_write_svg(&svg, title.data, secs, run->samples, n_seconds, replica,
                      run->n_replica_models);
    int rc = 0;
    if (write_file(o->out, "requests.csv", &requests) < 0 ||
        write_file(o->out, "samples.csv", &samples) < 0 ||
        write_file(o->out, "loadtest.svg", &svg) < 0)
        rc = -1;
    buf_free(&requests);
    buf_free(&samples);
    buf_free(&svg);
    buf_free(&title);
    free(secs);
    return rc;
}

/* ---- main ---- */

static schedule_t *build_schedule(const options_t *o, char *err, size_t errlen)
{
    schedule_limits_t limits = {.duration = o->duration, .max_count = o->max_requests};
    switch (o->source) {
    case SOURCE_TRACE: {
        trace_options_t t = {.time_scale = o->time_scale,
                             .rate_scale = o->rate_scale,
                             .seed = o->seed,
                             .model_column = o->model_column};
        return schedule_load_trace(o->trace, &t, &limits, err, errlen);
    }
    case SOURCE_RAMP:
        return schedule_ramp(o->ramp_start, o->ramp_end, o->ramp_seconds, &limits, err, errlen);
    case SOURCE_RATE:
        if (limits.duration <= 0)
            limits.duration = DEFAULT_RATE_DURATION_S;
        return schedule_poisson(o->rate, o->seed, &limits, err, errlen);
    case SOURCE_NONE:
        break;
    }
    snprintf(err, errlen, "no arrival source");
    return NULL;
}

static void run_free(run_t *run)
{
    for (size_t m = 0; run->bodies && m < run->n_models; m++)
        free(run->bodies[m]);
    free(run->bodies);
    free(run->body_lens);
    for (size_t i = 0; i < run->n_replica_models; i++)
        free(run->replica_models[i]);
    free(run->samples);
    free(run->pending);
    free(run->rows);
    schedule_free(run->schedule);
}

int loadtest_main(int argc, char **argv)
{
    options_t o;
    bool help;
    if (parse_options(argc, argv, &o, &help) < 0) {
        fputs("inferd loadtest: see 'inferd loadtest --help'\n", stderr);
        return 2;
    }
    if (help) {
        fputs(loadtest_usage, stdout);
        return 0;
    }
    char err[512];
    run_t run = {.loop = uv_default_loop(), .o = &o};
    int rc = 2;
    run.schedule = build_schedule(&o, err, sizeof(err));
    if (!run.schedule) {
        fprintf(stderr, "inferd loadtest: %s\n", err);
        goto done;
    }
    run.n = schedule_count(run.schedule);
    if (run.n == 0) {
        fprintf(stderr, "inferd loadtest: the schedule has no requests within --duration\n");
        goto done;
    }
    if (o.model_column) {
        run.n_models = schedule_model_count(run.schedule);
        run.models = xcalloc(run.n_models, sizeof(char *));
        for (size_t m = 0; m < run.n_models; m++)
            run.models[m] = schedule_model_name(run.schedule, m);
    } else {
        run.n_models = o.n_models;
        run.models = xcalloc(run.n_models, sizeof(char *));
        memcpy(run.models, o.models, run.n_models * sizeof(char *));
    }
    if (build_bodies(&run) < 0)
        goto done;
    run.rows = xcalloc(run.n, sizeof(results_row_t));
    run.pending = xcalloc(run.n, sizeof(pending_t));
    signal(SIGPIPE, SIG_IGN);
    run.load = client_new(run.loop, &o.addr, o.host_header, o.max_connections,
                          (uint64_t)ceil(o.timeout_s * 1000.0));
    run.stats = client_new(run.loop, &o.addr, o.host_header, 1, STATS_TIMEOUT_MS);
    run_start(&run);
    uv_run(run.loop, UV_RUN_DEFAULT);

    if (run.connect_error) {
        fprintf(stderr, "inferd loadtest: cannot connect to %s: %s\n", o.target,
                client_strerror(run.connect_error));
        rc = 1;
        goto done;
    }
    rc = write_reports(&run) < 0 ? 1 : 0;
    if (rc == 0)
        print_summary(&run, o.out);
    if (rc == 0 && !results_run_is_valid(run.rows, run.n, o.max_error_share, err, sizeof(err))) {
        /* The reports are kept (they show what went wrong); the status
         * tells a script not to take them as a measurement. */
        fprintf(stderr, "inferd loadtest: not a valid measurement: %s\n", err);
        rc = 1;
    }
done:
    free(run.models);
    run_free(&run);
    uv_loop_close(uv_default_loop());
    return rc;
}
