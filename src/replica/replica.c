/* replica.c - spawns a worker process and speaks the frame protocol to it.
 *
 * One struct per worker embeds its three libuv handles: the process, the
 * socketpair end, and one timer whose meaning follows the phase (load
 * deadline while starting, liveness probe while ready, kill deadline while
 * stopping). Frames sent during one loop iteration are written together at
 * the start of the next (an idle handle, which also keeps the loop from
 * blocking while frames wait), so a burst of requests costs the worker one
 * wake-up, not one per request. Everything that can end a worker funnels
 * into the process exit callback, which decides why it ended, reports it once, and closes the
 * handles; the struct is freed when the last handle has closed.
 */
#include "replica/replica.h"
#include "replica/ipc.h"
#include "metrics/procfs.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLICA_HANDLES 4
#define EXIT_GRACE_MS   200

typedef enum { PHASE_STARTING, PHASE_READY, PHASE_STOPPING, PHASE_EXITED } phase_t;

struct replica {
    uv_loop_t *loop;
    uv_process_t process;
    uv_pipe_t pipe;
    uv_timer_t timer;
    uv_idle_t flusher; /* writes the frames queued since the last loop iteration */
    int open_handles;
    buf_t pending; /* frames not yet handed to the socket */

    replica_callbacks_t cb;
    void *ctx;
    ipc_decoder_t *decoder;
    phase_t phase;

    unsigned id;
    int pid;
    char model[64];
    uint64_t load_timeout_ms;
    uint64_t ping_interval_ms;
    uint64_t spawn_ns;
    double start_time_ms;
    double load_time_ms;
    double ready_memory_mb;

    unsigned outstanding;
    uint64_t ping_seq;
    int ping_pending;

    int exited;   /* the process has exited */
    int pipe_eof; /* the worker's end of the socket is closed */
    int64_t exit_status;
    int exit_signal;
    int killed_by_us;
    replica_exit_t kill_reason;
    char kill_detail[160];
    char load_error[512];
};

typedef struct write_req {
    uv_write_t req;
    size_t len;
    char data[];
} write_req_t;

static const char *const exit_names[] = {
    "clean", "crashed", "load_failed", "load_timeout", "unresponsive", "protocol_error",
};

const char *replica_exit_name(replica_exit_t why)
{
    return exit_names[why];
}

/* ---- teardown ---- */

static void on_handle_closed(uv_handle_t *handle)
{
    replica_t *r = handle->data;
    if (--r->open_handles == 0) {
        ipc_decoder_free(r->decoder);
        buf_free(&r->pending);
        free(r);
    }
}

static void close_handles(replica_t *r)
{
    uv_handle_t *handles[REPLICA_HANDLES] = {(uv_handle_t *)&r->process, (uv_handle_t *)&r->pipe,
                                             (uv_handle_t *)&r->timer, (uv_handle_t *)&r->flusher};
    for (int i = 0; i < REPLICA_HANDLES; i++) {
        if (!uv_is_closing(handles[i]))
            uv_close(handles[i], on_handle_closed);
    }
}

static void kill_with_reason(replica_t *r, replica_exit_t why, const char *detail)
{
    if (r->phase == PHASE_EXITED || r->killed_by_us || r->exited)
        return;
    r->killed_by_us = 1;
    r->kill_reason = why;
    snprintf(r->kill_detail, sizeof(r->kill_detail), "%s", detail);
    uv_process_kill(&r->process, SIGKILL);
}

void replica_kill(replica_t *r)
{
    kill_with_reason(r, REPLICA_EXIT_CLEAN, "stopped by the gateway");
}

void replica_kill_hung(replica_t *r, const char *detail)
{
    kill_with_reason(r, REPLICA_EXIT_UNRESPONSIVE, detail);
}

static void describe_status(char *out, size_t outlen, int64_t status, int term_signal)
{
    if (term_signal)
        snprintf(out, outlen, "killed by signal %d (%s)", term_signal, strsignal(term_signal));
    else
        snprintf(out, outlen, "exited with status %lld", (long long)status);
}

static replica_exit_t classify_exit(replica_t *r, int64_t status, int term_signal, char *detail,
                                    size_t detail_len)
{
    bool requested = r->killed_by_us && r->kill_reason == REPLICA_EXIT_CLEAN;
    if (r->phase == PHASE_STARTING && r->killed_by_us && !requested &&
        r->kill_reason != REPLICA_EXIT_LOAD_TIMEOUT) {
        /* Any end while loading that the gateway did not ask for is a
         * failed load, whatever killed it. */
        snprintf(detail, detail_len, "%s while loading", r->kill_detail);
        return REPLICA_EXIT_LOAD_FAILED;
    }
    if (r->killed_by_us) {
        snprintf(detail, detail_len, "%s", r->kill_detail);
        return r->kill_reason;
    }
    char how[96];
    describe_status(how, sizeof(how), status, term_signal);
    if (r->phase == PHASE_STARTING) {
        if (r->load_error[0])
            snprintf(detail, detail_len, "%s", r->load_error);
        else
            snprintf(detail, detail_len, "worker %s while loading", how);
        return REPLICA_EXIT_LOAD_FAILED;
    }
    if (r->phase == PHASE_STOPPING && status == 0 && term_signal == 0) {
        snprintf(detail, detail_len, "shut down");
        return REPLICA_EXIT_CLEAN;
    }
    snprintf(detail, detail_len, "worker %s", how);
    return REPLICA_EXIT_CRASHED;
}

/* Reports the end once the process has exited and its last frames have
 * been read (end of stream), or a short grace after the exit: a worker
 * that wrote ERROR and then exited must not lose the ERROR to the race
 * between SIGCHLD and the socket. */
static void report_exit(replica_t *r);

static void on_exit_grace(uv_timer_t *timer)
{
    report_exit(timer->data);
}

static void on_process_exit(uv_process_t *process, int64_t status, int term_signal)
{
    replica_t *r = process->data;
    r->exit_status = status;
    r->exit_signal = term_signal;
    r->exited = 1;
    if (r->pipe_eof) {
        report_exit(r);
        return;
    }
    uv_timer_start(&r->timer, on_exit_grace, EXIT_GRACE_MS, 0);
}

static void report_exit(replica_t *r)
{
    if (r->phase == PHASE_EXITED)
        return;
    int64_t status = r->exit_status;
    int term_signal = r->exit_signal;
    char detail[600];
    replica_exit_t why = classify_exit(r, status, term_signal, detail, sizeof(detail));
    r->phase = PHASE_EXITED;
    uv_timer_stop(&r->timer);
    uv_read_stop((uv_stream_t *)&r->pipe);
    log_write(why == REPLICA_EXIT_CLEAN ? LOG_INFO : LOG_WARN, "replica",
              "worker ended model=%s replica=%u pid=%d reason=%s detail=\"%s\"", r->model, r->id,
              r->pid, replica_exit_name(why), detail);
    r->cb.exited(r, why, detail, r->ctx);
    close_handles(r);
}

/* ---- writing ---- */

static void on_write_done(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    replica_t *r = req->handle->data;
    if (status < 0 && r->phase != PHASE_EXITED)
        kill_with_reason(r, REPLICA_EXIT_CRASHED, "lost the connection to the worker");
    free(w);
}

/* Writes everything queued: as much as the socket takes at once without a
 * callback, the rest through uv_write (which keeps order behind it). */
static void on_flush(uv_idle_t *idle)
{
    replica_t *r = idle->data;
    uv_idle_stop(idle);
    if (r->pending.len == 0 || r->phase == PHASE_EXITED)
        return;
    uv_buf_t buf = uv_buf_init(r->pending.data, (unsigned)r->pending.len);
    int n = uv_try_write((uv_stream_t *)&r->pipe, &buf, 1);
    size_t done = n > 0 ? (size_t)n : 0;
    if (n < 0 && n != UV_EAGAIN) {
        kill_with_reason(r, REPLICA_EXIT_CRASHED, "could not write to the worker");
        buf_reset(&r->pending);
        return;
    }
    if (done < r->pending.len) {
        size_t rest = r->pending.len - done;
        write_req_t *w = xmalloc(sizeof(*w) + rest);
        memcpy(w->data, r->pending.data + done, rest);
        w->len = rest;
        uv_buf_t wbuf = uv_buf_init(w->data, (unsigned)rest);
        if (uv_write(&w->req, (uv_stream_t *)&r->pipe, &wbuf, 1, on_write_done) < 0) {
            free(w);
            kill_with_reason(r, REPLICA_EXIT_CRASHED, "could not write to the worker");
        }
    }
    buf_reset(&r->pending);
}

static int send_frame(replica_t *r, uint8_t type, uint64_t id, const void *payload, size_t len)
{
    if (r->phase == PHASE_EXITED || ipc_frame_append(&r->pending, type, id, payload, len) < 0)
        return -1;
    if (!uv_is_active((uv_handle_t *)&r->flusher))
        uv_idle_start(&r->flusher, on_flush);
    return 0;
}

int replica_send_infer(replica_t *r, uint64_t request_id, const void *payload, size_t len)
{
    if (r->phase != PHASE_READY)
        return -1;
    if (send_frame(r, IPC_INFER, request_id, payload, len) < 0)
        return -1;
    r->outstanding++;
    return 0;
}

static void on_shutdown_deadline(uv_timer_t *timer)
{
    replica_t *r = timer->data;
    kill_with_reason(r, REPLICA_EXIT_CLEAN, "did not exit after SHUTDOWN within its grace time");
}

void replica_shutdown(replica_t *r, uint64_t grace_ms)
{
    if (r->phase == PHASE_EXITED || r->phase == PHASE_STOPPING)
        return;
    if (r->phase == PHASE_STARTING) {
        replica_kill(r);
        return;
    }
    r->phase = PHASE_STOPPING;
    send_frame(r, IPC_SHUTDOWN, 0, NULL, 0);
    uv_timer_start(&r->timer, on_shutdown_deadline, grace_ms, 0);
}

/* ---- liveness ---- */

static void on_ping_tick(uv_timer_t *timer)
{
    replica_t *r = timer->data;
    if (r->phase != PHASE_READY)
        return;
    if (r->ping_pending) {
        kill_with_reason(r, REPLICA_EXIT_UNRESPONSIVE,
                         "left a PING unanswered for one health-check interval");
        return;
    }
    if (r->outstanding == 0) {
        r->ping_pending = 1;
        send_frame(r, IPC_PING, ++r->ping_seq, NULL, 0);
    }
}

static void on_load_deadline(uv_timer_t *timer)
{
    replica_t *r = timer->data;
    char detail[160];
    snprintf(detail, sizeof(detail), "did not become ready within the load timeout of %.1f s",
             (double)r->load_timeout_ms / 1000.0);
    kill_with_reason(r, REPLICA_EXIT_LOAD_TIMEOUT, detail);
}

/* ---- reading ---- */

static int handle_ready(replica_t *r, const ipc_frame_t *f)
{
    if (r->phase != PHASE_STARTING)
        return -1;
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)f->payload, f->header.length, 0, &jerr);
    if (!doc)
        return -1;
    r->load_time_ms = json_number_value(json_object_get(doc, "load_time_ms"));
    r->ready_memory_mb = json_number_value(json_object_get(doc, "memory_mb"));
    json_decref(doc);
    r->start_time_ms = (double)(uv_hrtime() - r->spawn_ns) / 1e6;
    r->phase = PHASE_READY;
    uv_timer_stop(&r->timer);
    if (r->ping_interval_ms)
        uv_timer_start(&r->timer, on_ping_tick, r->ping_interval_ms, r->ping_interval_ms);
    log_info("replica", "worker ready model=%s replica=%u pid=%d load_ms=%.1f start_ms=%.1f",
             r->model, r->id, r->pid, r->load_time_ms, r->start_time_ms);
    r->cb.ready(r, r->ctx);
    return 0;
}

static void read_error_fields(const ipc_frame_t *f, char *code, size_t code_len, char *msg,
                              size_t msg_len)
{
    snprintf(code, code_len, "backend_error");
    snprintf(msg, msg_len, "the worker reported an error without a message");
    json_t *doc = json_loadb((const char *)f->payload, f->header.length, 0, NULL);
    if (!doc)
        return;
    const char *c = json_string_value(json_object_get(doc, "error"));
    const char *m = json_string_value(json_object_get(doc, "message"));
    if (c)
        snprintf(code, code_len, "%s", c);
    if (m)
        snprintf(msg, msg_len, "%s", m);
    json_decref(doc);
}

static int handle_error(replica_t *r, const ipc_frame_t *f)
{
    char code[64], message[512];
    read_error_fields(f, code, sizeof(code), message, sizeof(message));
    if (f->header.request_id == 0) {
        /* A load failure; the worker exits right after and the exit
         * callback reports it with this message. */
        snprintf(r->load_error, sizeof(r->load_error), "%s", message);
        return r->phase == PHASE_STARTING ? 0 : -1;
    }
    if (r->outstanding == 0)
        return -1;
    r->outstanding--;
    r->cb.error(r, f->header.request_id, code, message, r->ctx);
    return 0;
}

static int handle_frame(replica_t *r, const ipc_frame_t *f)
{
    switch (f->header.type) {
    case IPC_READY:
        return handle_ready(r, f);
    case IPC_RESULT:
        if (r->outstanding == 0)
            return -1;
        r->outstanding--;
        r->cb.result(r, f->header.request_id, f->payload, f->header.length, r->ctx);
        return 0;
    case IPC_ERROR:
        return handle_error(r, f);
    case IPC_PONG:
        r->ping_pending = 0;
        return 0;
    default:
        return -1; /* INFER, PING, SHUTDOWN only go the other way */
    }
}

static void alloc_read_buffer(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    buf->base = xmalloc(suggested);
    buf->len = suggested;
}

static void drain_frames(replica_t *r)
{
    ipc_frame_t frame;
    char err[160];
    int rc;
    while (r->phase != PHASE_EXITED && !r->killed_by_us &&
           (rc = ipc_decoder_next(r->decoder, &frame, err, sizeof(err))) != 0) {
        if (rc < 0) {
            kill_with_reason(r, REPLICA_EXIT_PROTOCOL, err);
            return;
        }
        if (handle_frame(r, &frame) < 0) {
            snprintf(err, sizeof(err), "unexpected %s frame from the worker",
                     ipc_type_name(frame.header.type));
            kill_with_reason(r, REPLICA_EXIT_PROTOCOL, err);
            return;
        }
    }
}

static void on_pipe_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    replica_t *r = stream->data;
    if (nread > 0) {
        ipc_decoder_feed(r->decoder, buf->base, (size_t)nread);
        drain_frames(r);
    } else if (nread < 0) {
        /* The worker closed its end: it is exiting or broken. Make sure
         * the process is gone so the exit settles the story. */
        uv_read_stop(stream);
        r->pipe_eof = 1;
        if (r->exited)
            report_exit(r);
        else if (r->phase != PHASE_STOPPING && r->phase != PHASE_EXITED)
            uv_process_kill(&r->process, SIGKILL);
    }
    free(buf->base);
}

/* ---- spawning ---- */

static void init_handles(replica_t *r)
{
    uv_pipe_init(r->loop, &r->pipe, 0);
    uv_timer_init(r->loop, &r->timer);
    uv_idle_init(r->loop, &r->flusher);
    r->pipe.data = r->timer.data = r->process.data = r->flusher.data = r;
    r->open_handles = REPLICA_HANDLES;
}

replica_t *replica_spawn(uv_loop_t *loop, const replica_spec_t *spec, const replica_callbacks_t *cb,
                         void *ctx, char *err, size_t errlen)
{
    replica_t *r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->cb = *cb;
    r->ctx = ctx;
    r->id = spec->id;
    r->load_timeout_ms = spec->load_timeout_ms;
    r->ping_interval_ms = spec->ping_interval_ms;
    r->decoder = ipc_decoder_new(IPC_MAX_PAYLOAD);
    snprintf(r->model, sizeof(r->model), "%s", spec->model);
    init_handles(r);

    char id_text[24];
    snprintf(id_text, sizeof(id_text), "%u", spec->id);
    char *args[] = {(char *)spec->exe,
                    "worker",
                    "--model",
                    (char *)spec->model,
                    "--backend",
                    (char *)spec->backend,
                    "--params",
                    (char *)spec->params_json,
                    "--replica-id",
                    id_text,
                    "--fd",
                    "3",
                    "--log-level",
                    (char *)spec->log_level,
                    NULL};
    uv_stdio_container_t stdio[4] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE,
         .data.stream = (uv_stream_t *)&r->pipe},
    };
    uv_process_options_t opts = {
        .file = spec->exe,
        .args = args,
        .exit_cb = on_process_exit,
        .stdio_count = 4,
        .stdio = stdio,
        /* Its own session: a Ctrl-C meant for the gateway must not reach
         * the workers, whose shutdown the gateway runs itself. */
        .flags = UV_PROCESS_DETACHED,
    };
    r->spawn_ns = uv_hrtime();
    int rc = uv_spawn(loop, &r->process, &opts);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start a worker for model '%s': %s", spec->model,
                 uv_strerror(rc));
        r->phase = PHASE_EXITED;
        close_handles(r);
        return NULL;
    }
    r->pid = r->process.pid;
    uv_read_start((uv_stream_t *)&r->pipe, alloc_read_buffer, on_pipe_read);
    uv_timer_start(&r->timer, on_load_deadline, spec->load_timeout_ms, 0);
    log_info("replica", "worker spawned model=%s replica=%u pid=%d backend=%s", r->model, r->id,
             r->pid, spec->backend);
    return r;
}

/* ---- queries ---- */

unsigned replica_id(const replica_t *r)
{
    return r->id;
}

int replica_pid(const replica_t *r)
{
    return r->pid;
}

double replica_load_time_ms(const replica_t *r)
{
    return r->load_time_ms;
}

double replica_start_time_ms(const replica_t *r)
{
    return r->start_time_ms;
}

double replica_memory_mb(const replica_t *r)
{
    double mb = r->phase == PHASE_EXITED ? -1 : procfs_rss_mb(r->pid);
    return mb >= 0 ? mb : r->ready_memory_mb;
}
