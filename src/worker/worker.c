/* worker.c - the worker process: load one model, then answer frames.
 *
 * The worker is deliberately simple and blocking: one model, one request at
 * a time, with plain read(2)/write(2). It reads whatever the gateway has
 * sent (often several frames at once), answers every whole frame it holds,
 * and writes the answers together just before it would block again: one
 * read and one write per batch instead of per request, which is most of
 * the cost of a model that answers in microseconds. All
 * concurrency lives in the gateway, which owns many workers; a worker that
 * misbehaves or crashes costs one replica. It dies with the gateway
 * (PR_SET_PDEATHSIG) so that a killed gateway never leaves models resident,
 * and it treats anything it cannot parse from the gateway as fatal, since a
 * byte stream that lost framing cannot be trusted again.
 */
#include "worker/worker.h"
#include "metrics/procfs.h"
#include "backends/backend.h"
#include "backends/wav.h"
#include "replica/ipc.h"
#include "util/buf.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MODULE "worker"

typedef struct worker_opts {
    const char *model;
    const char *backend;
    const char *params;
    long replica_id;
    int fd;
    log_level_t log_level;
} worker_opts_t;

typedef struct worker {
    worker_opts_t o;
    const backend_t *backend;
    void *model;
    ipc_decoder_t *in; /* bytes read, not yet handled */
    buf_t out;         /* answers not yet written */
} worker_t;

#define WORKER_READ_BYTES 65536

/* ---- command line ---- */

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int set_option(worker_opts_t *o, const char *name, const char *value)
{
    long v;

    if (strcmp(name, "--model") == 0)
        o->model = value;
    else if (strcmp(name, "--backend") == 0)
        o->backend = value;
    else if (strcmp(name, "--params") == 0)
        o->params = value;
    else if (strcmp(name, "--replica-id") == 0) {
        if (parse_long(value, 0, 1000000, &v) < 0)
            goto bad_value;
        o->replica_id = v;
    } else if (strcmp(name, "--fd") == 0) {
        if (parse_long(value, 0, 1 << 20, &v) < 0)
            goto bad_value;
        o->fd = (int)v;
    } else if (strcmp(name, "--log-level") == 0) {
        if (log_parse_level(value, &o->log_level) < 0)
            goto bad_value;
    } else {
        log_error(MODULE, "unknown option %s", name);
        return -1;
    }
    return 0;

bad_value:
    log_error(MODULE, "invalid value for %s: %s", name, value);
    return -1;
}

/* Accepts "--name value" and "--name=value". argv[0] is already an option. */
static int parse_args(int argc, char **argv, worker_opts_t *o)
{
    *o = (worker_opts_t){.params = "{}", .fd = 3, .log_level = LOG_INFO};
    for (int i = 0; i < argc; i++) {
        char name[64];
        const char *value;
        const char *eq = strchr(argv[i], '=');
        if (strncmp(argv[i], "--", 2) == 0 && eq && (size_t)(eq - argv[i]) < sizeof(name)) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[i]), argv[i]);
            value = eq + 1;
        } else if (i + 1 < argc) {
            snprintf(name, sizeof(name), "%s", argv[i]);
            value = argv[++i];
        } else {
            log_error(MODULE, "option %s needs a value", argv[i]);
            return -1;
        }
        if (set_option(o, name, value) < 0)
            return -1;
    }
    if (!o->model || !o->backend) {
        log_error(MODULE, "usage: inferd worker --model NAME --backend NAME [--params JSON] "
                          "[--replica-id N] [--fd N] [--log-level LEVEL]");
        return -1;
    }
    return 0;
}

/* ---- stream I/O ---- */

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_frame(worker_t *w, uint8_t type, uint64_t id, const void *payload, size_t len)
{
    if (ipc_frame_append(&w->out, type, id, payload, len) < 0) {
        log_error(MODULE, "%s frame of %zu bytes is over the frame limit model=%s replica=%ld",
                  ipc_type_name(type), len, w->o.model, w->o.replica_id);
        return -1;
    }
    return 0;
}

static int flush(worker_t *w)
{
    if (w->out.len == 0)
        return 0;
    if (write_all(w->o.fd, w->out.data, w->out.len) < 0) {
        log_error(MODULE, "cannot write to the gateway: %s model=%s replica=%ld", strerror(errno),
                  w->o.model, w->o.replica_id);
        return -1;
    }
    buf_reset(&w->out);
    return 0;
}

/* Sends a JSON payload and releases the reference to it. */
static int send_json(worker_t *w, uint8_t type, uint64_t id, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        log_error(MODULE, "cannot serialise %s payload model=%s replica=%ld", ipc_type_name(type),
                  w->o.model, w->o.replica_id);
        return -1;
    }
    int rc = send_frame(w, type, id, text, strlen(text));
    free(text);
    return rc;
}

static int send_error(worker_t *w, uint64_t id, const char *code, const char *message)
{
    return send_json(w, IPC_ERROR, id, json_pack("{s:s,s:s}", "error", code, "message", message));
}

/* ---- load ---- */

static double monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int load_model(worker_t *w, char *err, size_t errlen)
{
    json_error_t jerr;
    int rc = -1;
    json_t *params = json_loads(w->o.params, 0, &jerr);

    w->backend = backend_find(w->o.backend);
    if (!w->backend) {
        snprintf(err, errlen, "unknown backend \"%s\"", w->o.backend);
        goto done;
    }
    if (!json_is_object(params)) {
        snprintf(err, errlen, "--params must be a JSON object%s%s", params ? "" : ": ",
                 params ? "" : jerr.text);
        goto done;
    }
    if (w->backend->check_params(params, err, errlen) < 0)
        goto done;
    rc = w->backend->load(params, &w->model, err, errlen);

done:
    json_decref(params);
    return rc;
}

static int load_and_report(worker_t *w)
{
    char err[512] = "";
    double start = monotonic_ms();

    if (load_model(w, err, sizeof(err)) < 0) {
        log_error(MODULE, "load failed: %s model=%s replica=%ld backend=%s", err, w->o.model,
                  w->o.replica_id, w->o.backend);
        send_error(w, 0, "load_failed", err);
        flush(w);
        return -1;
    }
    double load_ms = monotonic_ms() - start;
    double rss = procfs_rss_mb(0);
    log_info(MODULE, "model loaded model=%s replica=%ld backend=%s load_ms=%.1f rss_mb=%.1f",
             w->o.model, w->o.replica_id, w->o.backend, load_ms, rss);
    json_t *ready = json_pack("{s:f,s:o,s:i}", "load_time_ms", load_ms, "memory_mb",
                              rss >= 0 ? json_real(rss) : json_null(), "pid", (int)getpid());
    return send_json(w, IPC_READY, 0, ready) < 0 ? -1 : flush(w);
}

/* ---- requests ---- */

/* Each handler returns 0 when an answer (RESULT or ERROR) was sent, -1 when
 * the stream broke. */

static int do_predict(worker_t *w, uint64_t id, const json_t *req)
{
    char err[512] = "";
    json_t *result = NULL;
    json_t *inputs = json_object_get(req, "inputs");

    if (!inputs)
        return send_error(w, id, "bad_request", "predict needs \"inputs\"");
    int rc = w->backend->predict(w->model, inputs, &result, err, sizeof(err));
    if (rc < 0)
        return send_error(w, id, rc == BACKEND_ERR_INPUT ? "invalid_input" : "backend_error", err);
    if (!result)
        return send_error(w, id, "backend_error", "the backend returned no result");
    return send_json(w, IPC_RESULT, id, json_pack("{s:o}", "result", result));
}

static int do_synthesize(worker_t *w, uint64_t id, const json_t *req)
{
    char err[512] = "";
    backend_audio_t audio = {0};
    const json_t *text = json_object_get(req, "text");
    const json_t *speed = json_object_get(req, "speed");
    double factor = speed ? json_number_value(speed) : 1.0;

    if (!json_is_string(text))
        return send_error(w, id, "bad_request", "synthesize needs \"text\" as a string");
    if (speed &&
        (!json_is_number(speed) || factor < BACKEND_SPEED_MIN || factor > BACKEND_SPEED_MAX)) {
        snprintf(err, sizeof(err), "speed must be a number between %g and %g", BACKEND_SPEED_MIN,
                 BACKEND_SPEED_MAX);
        return send_error(w, id, "bad_request", err);
    }
    int rc =
        w->backend->synthesize(w->model, json_string_value(text), factor, &audio, err, sizeof(err));
    if (rc < 0)
        return send_error(w, id, rc == BACKEND_ERR_INPUT ? "invalid_input" : "backend_error", err);

    buf_t wav = BUF_INIT;
    wav_encode(&audio, &wav);
    free(audio.samples);
    if (wav.len > IPC_MAX_PAYLOAD) {
        snprintf(err, sizeof(err), "the audio (%zu bytes) exceeds the %u-byte frame limit", wav.len,
                 IPC_MAX_PAYLOAD);
        rc = send_error(w, id, "backend_error", err);
    } else {
        rc = send_frame(w, IPC_RESULT, id, wav.data, wav.len);
    }
    buf_free(&wav);
    return rc;
}

static int handle_infer(worker_t *w, uint64_t id, const char *payload, size_t len)
{
    json_error_t jerr;
    char err[256];
    int rc;
    json_t *req = json_loadb(payload, len, 0, &jerr);
    const char *task = json_string_value(json_object_get(req, "task"));
    /* The gateway forwards the client's own request object; the task is
     * named only when the backend offers more than one. */
    if (!task && w->backend->tasks == BACKEND_TASK_PREDICT)
        task = "predict";
    else if (!task && w->backend->tasks == BACKEND_TASK_SYNTHESIZE)
        task = "synthesize";

    if (!json_is_object(req)) {
        snprintf(err, sizeof(err), "INFER payload is not a JSON object%s%s", req ? "" : ": ",
                 req ? "" : jerr.text);
        rc = send_error(w, id, "bad_request", err);
    } else if (task && strcmp(task, "predict") == 0 && (w->backend->tasks & BACKEND_TASK_PREDICT)) {
        rc = do_predict(w, id, req);
    } else if (task && strcmp(task, "synthesize") == 0 &&
               (w->backend->tasks & BACKEND_TASK_SYNTHESIZE)) {
        rc = do_synthesize(w, id, req);
    } else {
        snprintf(err, sizeof(err), "model %s (backend %s) does not offer task \"%s\"", w->o.model,
                 w->backend->name, task ? task : "(missing)");
        rc = send_error(w, id, "bad_request", err);
    }
    json_decref(req);
    return rc;
}

/* ---- main loop ---- */

/* Waits for more bytes from the gateway. Returns 1 when some arrived, 0 at
 * a clean end of stream (between frames), -1 on error or a stream that
 * ended inside a frame. */
static int read_more(worker_t *w)
{
    char chunk[WORKER_READ_BYTES];
    for (;;) {
        ssize_t n = read(w->o.fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            ipc_decoder_feed(w->in, chunk, (size_t)n);
            return 1;
        }
        if (n == 0 && ipc_decoder_pending(w->in) == 0)
            return 0;
        log_error(MODULE, "malformed frame from the gateway: %s model=%s replica=%ld",
                  n < 0 ? strerror(errno) : "stream ended inside a frame", w->o.model,
                  w->o.replica_id);
        return -1;
    }
}

/* Answers one frame. Returns 1 to go on, 0 after SHUTDOWN, -1 on error. */
static int handle_frame(worker_t *w, const ipc_frame_t *f)
{
    const ipc_header_t *h = &f->header;
    log_debug(MODULE, "frame %s id=%llu bytes=%u model=%s replica=%ld", ipc_type_name(h->type),
              (unsigned long long)h->request_id, h->length, w->o.model, w->o.replica_id);
    switch (h->type) {
    case IPC_PING:
        return send_frame(w, IPC_PONG, h->request_id, NULL, 0) < 0 ? -1 : 1;
    case IPC_INFER:
        return handle_infer(w, h->request_id, (const char *)f->payload, h->length) < 0 ? -1 : 1;
    case IPC_SHUTDOWN:
        log_info(MODULE, "shutting down model=%s replica=%ld", w->o.model, w->o.replica_id);
        return 0;
    default:
        log_error(MODULE,
                  "malformed frame from the gateway: unexpected %s frame model=%s replica=%ld",
                  ipc_type_name(h->type), w->o.model, w->o.replica_id);
        return -1;
    }
}

static int serve(worker_t *w)
{
    ipc_frame_t frame;
    char err[256];
    for (;;) {
        int rc = ipc_decoder_next(w->in, &frame, err, sizeof(err));
        if (rc < 0) {
            log_error(MODULE, "malformed frame from the gateway: %s model=%s replica=%ld", err,
                      w->o.model, w->o.replica_id);
            return WORKER_EXIT_PROTOCOL;
        }
        if (rc == 1) {
            rc = handle_frame(w, &frame);
            if (rc <= 0)
                return flush(w) < 0 || rc < 0 ? WORKER_EXIT_PROTOCOL : WORKER_EXIT_OK;
            continue;
        }
        /* Nothing whole is left: answer before blocking for more. */
        if (flush(w) < 0)
            return WORKER_EXIT_PROTOCOL;
        rc = read_more(w);
        if (rc == 0) {
            log_info(MODULE, "gateway closed the stream model=%s replica=%ld", w->o.model,
                     w->o.replica_id);
            return WORKER_EXIT_OK;
        }
        if (rc < 0)
            return WORKER_EXIT_PROTOCOL;
    }
}

int worker_main(int argc, char **argv)
{
    worker_t w = {.in = ipc_decoder_new(IPC_MAX_PAYLOAD), .out = BUF_INIT};
    int status;

    if (parse_args(argc, argv, &w.o) < 0)
        return WORKER_EXIT_PROTOCOL;
    log_set_level(w.o.log_level);
    /* A worker must not outlive the gateway that owns its memory budget.
     * (If the gateway died before this call, end of stream ends us after
     * the load instead.) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* A gateway that closed its end must surface as EPIPE, not kill us
     * before we can log it. */
    signal(SIGPIPE, SIG_IGN);
    if (fcntl(w.o.fd, F_GETFD) < 0) {
        log_error(MODULE, "--fd %d is not open model=%s replica=%ld", w.o.fd, w.o.model,
                  w.o.replica_id);
        return WORKER_EXIT_PROTOCOL;
    }

    if (load_and_report(&w) < 0) {
        status = w.model ? WORKER_EXIT_PROTOCOL : WORKER_EXIT_LOAD_FAILED;
        goto done;
    }
    status = serve(&w);

done:
    if (w.model)
        w.backend->unload(w.model);
    ipc_decoder_free(w.in);
    buf_free(&w.out);
    return status;
}
