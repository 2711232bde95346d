/* replica.h - one worker process, seen from the gateway.
 *
 * replica_spawn() starts `inferd worker` over a socketpair and speaks the
 * framed protocol of ipc.h with it: it waits for READY within the load
 * timeout, forwards INFER frames, reports RESULT and ERROR frames, PINGs the
 * worker while it is idle, and notices at once when the process exits.
 *
 * Lifetime: the replica belongs to this module. The owner learns of its
 * end through the `exited` callback, which is always the last callback and
 * comes exactly once (after a crash, a failed or timed-out load, an
 * unanswered PING, a malformed frame, or a clean SHUTDOWN). After `exited`
 * returns, the owner must not use the pointer again; the module frees it
 * once its libuv handles are closed.
 */
#ifndef INFERD_REPLICA_H
#define INFERD_REPLICA_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct replica replica_t;

typedef enum {
    REPLICA_EXIT_CLEAN,        /* exited 0 after SHUTDOWN */
    REPLICA_EXIT_CRASHED,      /* died while serving (signal or non-zero exit) */
    REPLICA_EXIT_LOAD_FAILED,  /* the backend reported a load error, or died while loading */
    REPLICA_EXIT_LOAD_TIMEOUT, /* no READY within the load timeout; killed */
    REPLICA_EXIT_UNRESPONSIVE, /* an idle worker left a PING unanswered; killed */
    REPLICA_EXIT_PROTOCOL,     /* sent a malformed frame; killed */
} replica_exit_t;

typedef struct replica_spec {
    const char *exe;         /* path of the inferd binary */
    const char *model;       /* model name, for logs */
    const char *backend;     /* backend name */
    const char *params_json; /* backend parameters as JSON text */
    const char *log_level;   /* passed to the worker */
    unsigned id;             /* replica id, unique within the server */
    uint64_t load_timeout_ms;
    uint64_t ping_interval_ms; /* 0 = no liveness probe */
} replica_spec_t;

typedef struct replica_callbacks {
    void (*ready)(replica_t *r, void *ctx);
    void (*result)(replica_t *r, uint64_t request_id, const uint8_t *payload, size_t len,
                   void *ctx);
    /* code and message come from the worker's ERROR frame. */
    void (*error)(replica_t *r, uint64_t request_id, const char *code, const char *message,
                  void *ctx);
    /* detail is a sentence for logs and clients ("killed by signal 9"). */
    void (*exited)(replica_t *r, replica_exit_t why, const char *detail, void *ctx);
} replica_callbacks_t;

/* Starts a worker. Returns NULL with a sentence in err when the process
 * cannot be spawned (no callback is then made). */
replica_t *replica_spawn(uv_loop_t *loop, const replica_spec_t *spec, const replica_callbacks_t *cb,
                         void *ctx, char *err, size_t errlen);

/* Sends an INFER frame. Returns 0, or -1 when the worker cannot be written
 * to (it is then killed and `exited` follows). */
int replica_send_infer(replica_t *r, uint64_t request_id, const void *payload, size_t len);

/* Asks the worker to exit; kills it if it has not exited after grace_ms. */
void replica_shutdown(replica_t *r, uint64_t grace_ms);

/* Kills the worker at once (SIGKILL); `exited` follows (as a clean end:
 * the gateway asked for it). */
void replica_kill(replica_t *r);

/* Kills a worker found hung; `exited` follows with REPLICA_EXIT_UNRESPONSIVE
 * and detail. */
void replica_kill_hung(replica_t *r, const char *detail);

unsigned replica_id(const replica_t *r);
int replica_pid(const replica_t *r);
/* Load time the worker measured around the backend's load, in ms (0 before READY). */
double replica_load_time_ms(const replica_t *r);
/* Spawn to READY as seen by the gateway, in ms (0 before READY). */
double replica_start_time_ms(const replica_t *r);
/* Resident memory now, from /proc/PID/status, in MiB; the READY figure if
 * /proc cannot be read. */
double replica_memory_mb(const replica_t *r);

const char *replica_exit_name(replica_exit_t why);

#endif
