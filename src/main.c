/* main.c - the inferd command line.
 *
 *   inferd serve [--host H] [--port P] [--config FILE] [--data-dir DIR] [--log-level L]
 *   inferd worker ...   (started by the gateway, one process per replica)
 *   inferd simulate ... (replays a trace through the scaling policies; see sim/cli.c)
 *   inferd loadtest ... (an open-loop load generator; see loadtest/loadtest.h)
 *   inferd version
 *
 * `serve` wires the modules together on one libuv loop and runs the
 * graceful shutdown: on SIGTERM/SIGINT stop accepting, let in-flight
 * requests finish within shutdown_timeout_ms, stop the workers, exit 0.
 */
#include "api/api.h"
#include "api/metrics.h"
#include "autoscaler/autoscaler.h"
#include "config/config.h"
#include "dispatch/dispatch.h"
#include "history/recorder.h"
#include "http/router.h"
#include "http/server.h"
#include "loadtest/loadtest.h"
#include "notify/webhook.h"
#include "sim/cli.h"
#include "store/store.h"
#include "util/log.h"
#include "worker/worker.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SHUTDOWN_POLL_MS 20

typedef struct server {
    uv_loop_t *loop;
    inferd_config_t *config;
    dispatch_t *dispatch;
    store_t *store;
    autoscaler_t *autoscaler;
    webhook_t *webhook;
    traffic_recorder_t *recorder;
    router_t *router;
    http_server_t *http;
    api_context_t api;
    json_t *model_overrides; /* the stored version's "models", for the API; owned */
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t shutdown_timer;
    uint64_t shutdown_deadline;
    int exit_code;
} server_t;

typedef struct serve_options {
    const char *host;
    int port; /* -1 = from the configuration */
    const char *config_path;
    const char *data_dir;
    const char *log_level;
    bool reset_config;
} serve_options_t;

static void usage(FILE *out)
{
    fprintf(out, "usage: inferd serve [--host HOST] [--port PORT] [--config FILE]\n"
                 "                    [--data-dir DIR] [--log-level debug|info|warn|error]\n"
                 "                    [--reset-config]\n"
                 "       inferd simulate (TRACE.csv | --generate SHAPE) [--policy NAME|all]\n"
                 "                    [--format table|json] ...   (inferd simulate --help)\n"
                 "       inferd loadtest ...   (inferd loadtest --help)\n"
                 "       inferd version\n");
}

/* ---- shutdown, in three steps ---- */

static void on_http_closed(void *arg)
{
    server_t *s = arg;
    s->http = NULL;
    uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    log_info("main", "stopped");
}

static void on_workers_stopped(void *arg)
{
    server_t *s = arg;
    log_info("main", "all workers stopped");
    recorder_close(s->recorder, NULL, NULL); /* writes the last partial minute */
    s->recorder = NULL;
    webhook_close(s->webhook); /* reads the autoscaler's configuration */
    autoscaler_free(s->autoscaler);
    s->autoscaler = NULL;
    http_server_close(s->http, on_http_closed, s);
}

/* Stops the workers: gently when every request has been answered, by
 * force when the deadline passed or a second signal came. */
static void stop_workers(server_t *s, bool force)
{
    uv_timer_stop(&s->shutdown_timer);
    dispatch_stop(s->dispatch, force, on_workers_stopped, s);
}

static void on_shutdown_poll(uv_timer_t *timer)
{
    server_t *s = timer->data;
    size_t pending = http_server_pending_requests(s->http);
    if (pending > 0 && uv_now(s->loop) < s->shutdown_deadline)
        return;
    if (pending > 0)
        log_warn("main", "shutdown deadline reached, stopping workers pending=%zu", pending);
    stop_workers(s, pending > 0);
}

static void begin_shutdown(server_t *s, int signum)
{
    if (s->api.shutting_down) {
        log_warn("main", "second signal, not waiting for in-flight requests signal=%d", signum);
        stop_workers(s, true);
        return;
    }
    log_info("main", "shutting down signal=%d in_flight=%zu", signum,
             http_server_pending_requests(s->http));
    s->api.shutting_down = true;
    autoscaler_stop(s->autoscaler);
    http_server_stop_accepting(s->http);
    dispatch_quiesce(s->dispatch);
    s->shutdown_deadline = uv_now(s->loop) + s->config->server.shutdown_timeout_ms;
    uv_timer_start(&s->shutdown_timer, on_shutdown_poll, 0, SHUTDOWN_POLL_MS);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    begin_shutdown(handle->data, signum);
}

/* ---- start-up ---- */

static void on_request(http_request_t *req, void *ctx)
{
    router_dispatch(ctx, req);
}

static int parse_serve_options(int argc, char **argv, serve_options_t *o)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'h'},      {"port", required_argument, NULL, 'p'},
        {"config", required_argument, NULL, 'c'},    {"data-dir", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'H'},
        {"reset-config", no_argument, NULL, 'R'},    {NULL, 0, NULL, 0}};
    *o = (serve_options_t){.port = -1, .log_level = "info"};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'h':
            o->host = optarg;
            break;
        case 'c':
            o->config_path = optarg;
            break;
        case 'd':
            o->data_dir = optarg;
            break;
        case 'l':
            o->log_level = optarg;
            break;
        case 'R':
            o->reset_config = true;
            break;
        case 'p':
            errno = 0;
            o->port = (int)strtol(optarg, &end, 10);
            if (errno || *end || o->port < 0 || o->port > 65535) {
                fprintf(stderr, "inferd: --port must be an integer between 0 and 65535\n");
                return -1;
            }
            break;
        case 'H':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "inferd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int load_config(const serve_options_t *o, inferd_config_t **out)
{
    char err[1024];
    if (!o->config_path) {
        *out = config_default();
    } else if (config_load_file(o->config_path, out, err, sizeof(err)) < 0) {
        fprintf(stderr, "inferd: invalid configuration: %s\n", err);
        return -1;
    }
    server_config_t *sc = &(*out)->server;
    if (o->host)
        snprintf(sc->host, sizeof(sc->host), "%s", o->host);
    if (o->port >= 0)
        sc->port = o->port;
    if (o->data_dir)
        snprintf(sc->data_dir, sizeof(sc->data_dir), "%s", o->data_dir);
    return 0;
}

/* A stored version may name a model the file no longer has: its settings
 * are forgotten (with a warning) rather than the whole version refused for
 * it, so removing a model keeps every other change. */
static void forget_removed_models(const inferd_config_t *cfg, json_t *doc)
{
    json_t *models = json_object_get(doc, "models");
    const char *name;
    json_t *v;
    void *tmp;
    if (!json_is_object(models))
        return;
    json_object_foreach_safe (models, tmp, name, v) {
        if (config_find_model(cfg, name))
            continue;
        log_warn("main", "stored settings of a model no longer configured dropped model=%s", name);
        json_object_del(models, name);
    }
}

/* Changes accepted by POST /autoscaler/config are stored and take
 * precedence over the file (its autoscaler section, and the model settings
 * changed through the API); --reset-config forgets them so that the file
 * applies again. Runs before the pools exist, so models take the merged
 * values (and inherited bounds) from the start. */
static int apply_stored_config(server_t *s, bool reset)
{
    if (reset) {
        log_info("main", "stored configuration reset; the file applies");
        return store_reset_config(s->store) < 0 ? -1 : 0;
    }
    json_t *doc = store_load_config(s->store);
    if (!doc)
        return 0;
    forget_removed_models(s->config, doc);
    config_problems_t problems;
    inferd_config_t *c = s->config;
    if (config_live_merge(&c->autoscaler, c->models, c->n_models, doc, CONFIG_MODELS_STORED,
                          &c->autoscaler, c->models, &problems) < 0) {
        log_warn("main",
                 "stored configuration no longer valid, using the file field=%s problem=\"%s\"",
                 problems.items[0].field, problems.items[0].message);
        config_problems_clear(&problems);
        json_decref(doc);
        return 0;
    }
    json_t *overrides = json_object_get(doc, "models");
    if (overrides)
        s->model_overrides = json_incref(overrides);
    json_decref(doc);
    log_info("main", "stored configuration applied over the file");
    return 0;
}

static int prepare_data_dir(const char *dir)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "inferd: cannot create data directory '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void init_handles(server_t *s)
{
    uv_signal_init(s->loop, &s->sigterm);
    uv_signal_init(s->loop, &s->sigint);
    uv_timer_init(s->loop, &s->shutdown_timer);
    s->sigterm.data = s->sigint.data = s->shutdown_timer.data = s;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
}

static http_limits_t limits_from_config(const server_config_t *sc)
{
    return (http_limits_t){
        .max_header_bytes = sc->max_header_bytes,
        .max_body_bytes = sc->max_body_bytes,
        .header_timeout_ms = sc->header_timeout_ms,
        .body_timeout_ms = sc->body_timeout_ms,
        .idle_timeout_ms = sc->idle_timeout_ms,
        .max_pipelined = sc->max_pipelined,
    };
}

static int serve_main(int argc, char **argv)
{
    serve_options_t opts;
    log_level_t level;
    if (parse_serve_options(argc, argv, &opts) < 0)
        return 2;
    if (log_parse_level(opts.log_level, &level) < 0) {
        fprintf(stderr, "inferd: --log-level must be debug, info, warn or error\n");
        return 2;
    }
    log_set_level(level);

    server_t s = {.loop = uv_default_loop()};
    if (load_config(&opts, &s.config) < 0 || prepare_data_dir(s.config->server.data_dir) < 0)
        return 2;

    char exe[4096];
    size_t exe_len = sizeof(exe);
    if (uv_exepath(exe, &exe_len) < 0) {
        fprintf(stderr, "inferd: cannot find the path of this executable\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    char err[1024];
    if (store_open(s.config->server.data_dir, &s.store, err, sizeof(err)) < 0) {
        fprintf(stderr, "inferd: %s\n", err);
        return 1;
    }
    if (apply_stored_config(&s, opts.reset_config) < 0)
        return 2;
    int closed = store_close_pending(s.store, "server_restarted");
    if (closed > 0)
        log_warn("main", "closed scaling events left pending by the previous run count=%d", closed);
    s.dispatch = dispatch_new(s.loop, s.config, exe, opts.log_level);
    s.autoscaler = autoscaler_new(s.loop, s.config, s.dispatch, s.store);
    s.webhook = webhook_new(s.loop, s.autoscaler);
    store_add_event_observer(s.store, webhook_observe_event, s.webhook);
    s.recorder = recorder_new(s.loop, s.dispatch, s.autoscaler, s.store, s.config->server.data_dir,
                              s.config->server.history_retention_days);
    s.api =
        (api_context_t){.loop = s.loop,
                        .dispatch = s.dispatch,
                        .autoscaler = s.autoscaler,
                        .worker_exe = exe,
                        .started_ns = uv_hrtime(),
                        .metrics = api_metrics_new(s.store),
                        .webhook = s.webhook,
                        .model_overrides = s.model_overrides ? s.model_overrides : json_object()};
    s.model_overrides = NULL; /* the API's now */
    s.router = router_new();
    api_register_routes(s.router, &s.api);
    http_limits_t limits = limits_from_config(&s.config->server);
    s.http = http_server_new(s.loop, &limits, on_request, s.router);

    if (http_server_listen(s.http, s.config->server.host, s.config->server.port, err, sizeof(err)) <
        0) {
        fprintf(stderr, "inferd: %s\n", err);
        return 1;
    }
    init_handles(&s);
    log_info("main", "listening host=%s port=%d models=%zu version=%s", s.config->server.host,
             http_server_port(s.http), s.config->n_models, INFERD_VERSION);
    dispatch_start(s.dispatch);
    autoscaler_start(s.autoscaler);
    recorder_start(s.recorder);

    uv_run(s.loop, UV_RUN_DEFAULT);

    dispatch_free(s.dispatch);
    store_close(s.store);
    api_metrics_free(s.api.metrics);
    webhook_free(s.webhook);
    json_decref(s.api.model_overrides);
    uv_run(s.loop, UV_RUN_DEFAULT); /* let the pools' timers close */
    router_free(s.router);
    config_free(s.config);
    uv_loop_close(s.loop);
    return s.exit_code;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "serve") == 0)
        return serve_main(argc - 1, argv + 1);
    if (strcmp(command, "worker") == 0)
        return worker_main(argc - 2, argv + 2);
    if (strcmp(command, "simulate") == 0)
        return sim_main(argc - 1, argv + 1);
    if (strcmp(command, "loadtest") == 0)
        return loadtest_main(argc - 1, argv + 1);
    if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
        printf("inferd %s\n", INFERD_VERSION);
        return 0;
    }
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "inferd: unknown command '%s'\n", command);
    usage(stderr);
    return 2;
}
