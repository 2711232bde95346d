/* pool.c - a model's replica pool: queue, routing, cold start, restart,
 * drain.
 *
 * Two loops keep the pool honest. reconcile() compares the replicas that
 * are starting or ready with `desired` and spawns or drains the difference
 * (spawning waits out the crash backoff). pump() hands queued requests to
 * replicas with a free slot. Both are called after anything that can change
 * their answer: a submit, a READY, a result, an exit, a resize. Each
 * request carries its own callback and is answered exactly once; the paths
 * that answer are finish_job() and fail_job().
 */
#include "dispatch/pool.h"
#include "dispatch/queue.h"
#include "dispatch/route.h"
#include "replica/replica.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS   30000

typedef enum { SLOT_STARTING, SLOT_READY, SLOT_DRAINING } slot_state_t;

typedef struct job job_t;
typedef struct slot slot_t;

/* One accepted request. */
struct job {
    queue_node_t node;
    uint64_t id;
    char *payload;
    size_t len;
    pool_done_fn done;
    void *arg;
    uint64_t accepted_ns;
    uint64_t sent_ns;
    int attempts;
    bool cold_start;
    job_t *next_in_flight;
};

/* One replica as the pool sees it. */
struct slot {
    pool_t *pool;
    replica_t *replica;
    slot_state_t state;
    unsigned outstanding;
    uint64_t served;
    uint64_t last_dispatch;
    job_t *in_flight;
    slot_t *next;
};

struct pool {
    const pool_env_t *env;
    model_config_t model;
    char *params_json;
    request_queue_t queue;
    uv_timer_t queue_timer;   /* fires at the oldest queued request's deadline */
    uv_timer_t backoff_timer; /* fires when a restart may be tried again */
    int open_timers;
    slot_t *slots;
    int desired;
    uint64_t next_job_id;
    uint64_t dispatch_seq;
    uint64_t requests_accepted;
    uint64_t cold_starts;
    unsigned failures;      /* consecutive crashes or failed loads */
    uint64_t backoff_until; /* uv_now() ms */
    char last_load_error[512];
    bool stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
};

static void reconcile(pool_t *p);
static void pump(pool_t *p);

/* ---- answering ---- */

static void free_job(job_t *job)
{
    free(job->payload);
    free(job);
}

static void fail_job(job_t *job, int status, const char *code, const char *message, int retry_after)
{
    pool_result_t res = {
        .http_status = status,
        .error = code,
        .message = message,
        .retry_after_seconds = retry_after,
        .cold_start = job->cold_start,
    };
    job->done(&res, job->arg);
    free_job(job);
}

static void fail_queued(pool_t *p, int status, const char *code, const char *message)
{
    queue_node_t *node;
    while ((node = queue_pop(&p->queue)))
        fail_job(queue_entry(node, job_t, node), status, code, message, 0);
}

static double ms_between(uint64_t from_ns, uint64_t to_ns)
{
    return (double)(to_ns - from_ns) / 1e6;
}

/* ---- slots ---- */

static size_t count_slots(const pool_t *p, int want_starting, int want_ready)
{
    size_t n = 0;
    for (slot_t *s = p->slots; s; s = s->next)
        n += (s->state == SLOT_STARTING && want_starting) || (s->state == SLOT_READY && want_ready);
    return n;
}

static void unlink_slot(pool_t *p, slot_t *slot)
{
    for (slot_t **pp = &p->slots; *pp; pp = &(*pp)->next) {
        if (*pp == slot) {
            *pp = slot->next;
            return;
        }
    }
}

static job_t *take_in_flight(slot_t *slot, uint64_t id)
{
    for (job_t **pp = &slot->in_flight; *pp; pp = &(*pp)->next_in_flight) {
        if ((*pp)->id == id) {
            job_t *job = *pp;
            *pp = job->next_in_flight;
            slot->outstanding--;
            return job;
        }
    }
    return NULL;
}

static void drain_if_idle(slot_t *slot)
{
    if (slot->state == SLOT_DRAINING && slot->outstanding == 0)
        replica_shutdown(slot->replica, slot->pool->env->drain_grace_ms);
}

/* ---- replica callbacks ---- */

static void on_replica_ready(replica_t *r, void *ctx)
{
    slot_t *slot = ctx;
    (void)r;
    slot->pool->last_load_error[0] = '\0';
    if (slot->state == SLOT_STARTING)
        slot->state = SLOT_READY;
    pump(slot->pool);
}

static void on_replica_result(replica_t *r, uint64_t id, const uint8_t *payload, size_t len,
                              void *ctx)
{
    slot_t *slot = ctx;
    job_t *job = take_in_flight(slot, id);
    if (!job)
        return;
    uint64_t now = uv_hrtime();
    pool_result_t res = {
        .http_status = 200,
        .payload = payload,
        .payload_len = len,
        .replica_id = replica_id(r),
        .cold_start = job->cold_start,
        .queue_ms = ms_between(job->accepted_ns, job->sent_ns),
        .processing_ms = ms_between(job->sent_ns, now),
    };
    slot->served++;
    slot->pool->failures = 0;
    job->done(&res, job->arg);
    free_job(job);
    drain_if_idle(slot);
    pump(slot->pool);
}

static int status_for_worker_error(const char *code)
{
    return strcmp(code, "bad_request") == 0 || strcmp(code, "invalid_input") == 0 ? 400 : 500;
}

static void on_replica_error(replica_t *r, uint64_t id, const char *code, const char *message,
                             void *ctx)
{
    slot_t *slot = ctx;
    (void)r;
    job_t *job = take_in_flight(slot, id);
    if (!job)
        return;
    slot->served++;
    fail_job(job, status_for_worker_error(code), code, message, 0);
    drain_if_idle(slot);
    pump(slot->pool);
}

static uint64_t backoff_delay_ms(unsigned failures)
{
    uint64_t delay = BACKOFF_FIRST_MS;
    for (unsigned i = 1; i < failures && delay < BACKOFF_MAX_MS; i++)
        delay *= 2;
    return delay < BACKOFF_MAX_MS ? delay : BACKOFF_MAX_MS;
}

static void note_failure(pool_t *p)
{
    p->failures++;
    p->backoff_until = uv_now(p->env->loop) + backoff_delay_ms(p->failures);
}

/* A request that was running on a replica that died: retried once on
 * another replica, otherwise answered 502. */
static void rescue_in_flight(slot_t *slot, const char *detail)
{
    pool_t *p = slot->pool;
    job_t *job = slot->in_flight;
    slot->in_flight = NULL;
    while (job) {
        job_t *next = job->next_in_flight;
        if (job->attempts < 2 && !p->stopping) {
            queue_push_front(&p->queue, &job->node);
        } else {
            char msg[700];
            snprintf(msg, sizeof(msg),
                     "replica %u of model '%s' failed while serving this request (%s)",
                     replica_id(slot->replica), p->model.name, detail);
            fail_job(job, 502, "replica_crashed", msg, 0);
        }
        job = next;
    }
}

static void handle_load_failure(pool_t *p, replica_exit_t why, const char *detail)
{
    snprintf(p->last_load_error, sizeof(p->last_load_error), "%s", detail);
    note_failure(p);
    if (count_slots(p, 1, 1) > 0)
        return; /* another replica may still serve the queue */
    char msg[700];
    snprintf(msg, sizeof(msg), "model '%s' could not be loaded: %s", p->model.name, detail);
    fail_queued(p, 503, "model_load_failed", msg);
    /* A model nobody pinned goes back to zero instead of crash-looping;
     * the next request tries again. */
    if (config_initial_replicas(&p->model) == 0 && p->desired > 0) {
        p->desired = 0;
        log_warn("pool", "load failed, model back at zero replicas model=%s reason=%s",
                 p->model.name, replica_exit_name(why));
    }
}

static void on_replica_exited(replica_t *r, replica_exit_t why, const char *detail, void *ctx)
{
    slot_t *slot = ctx;
    pool_t *p = slot->pool;
    unlink_slot(p, slot);
    switch (why) {
    case REPLICA_EXIT_CLEAN:
        break;
    case REPLICA_EXIT_LOAD_FAILED:
    case REPLICA_EXIT_LOAD_TIMEOUT:
        handle_load_failure(p, why, detail);
        break;
    default:
        note_failure(p);
        break;
    }
    (void)r;
    rescue_in_flight(slot, detail);
    free(slot);
    reconcile(p);
    pump(p);
}

static const replica_callbacks_t slot_callbacks = {
    .ready = on_replica_ready,
    .result = on_replica_result,
    .error = on_replica_error,
    .exited = on_replica_exited,
};

/* ---- reconcile: replicas towards `desired` ---- */

static void on_backoff_over(uv_timer_t *timer)
{
    reconcile(timer->data);
}

static int spawn_one(pool_t *p)
{
    slot_t *slot = xcalloc(1, sizeof(*slot));
    slot->pool = p;
    slot->state = SLOT_STARTING;
    replica_spec_t spec = {
        .exe = p->env->worker_exe,
        .model = p->model.name,
        .backend = p->model.backend,
        .params_json = p->params_json,
        .log_level = p->env->log_level,
        .id = ++*p->env->next_replica_id,
        .load_timeout_ms = (uint64_t)(p->model.load_timeout_seconds * 1000.0),
        .ping_interval_ms = p->env->ping_interval_ms,
    };
    char err[256];
    slot->replica = replica_spawn(p->env->loop, &spec, &slot_callbacks, slot, err, sizeof(err));
    if (!slot->replica) {
        log_error("pool", "spawn failed model=%s error=\"%s\"", p->model.name, err);
        snprintf(p->last_load_error, sizeof(p->last_load_error), "%s", err);
        free(slot);
        note_failure(p);
        return -1;
    }
    slot->next = p->slots;
    p->slots = slot;
    return 0;
}

/* The surplus replica to give up first: one still starting (it serves no
 * one yet), else the ready one with the least work in flight. */
static slot_t *pick_victim(pool_t *p)
{
    slot_t *best = NULL;
    for (slot_t *s = p->slots; s; s = s->next) {
        if (s->state == SLOT_STARTING)
            return s;
        if (s->state == SLOT_READY && (!best || s->outstanding < best->outstanding))
            best = s;
    }
    return best;
}

static void drain_one(pool_t *p)
{
    slot_t *victim = pick_victim(p);
    if (!victim)
        return;
    log_info("pool", "draining replica model=%s replica=%u in_flight=%u", p->model.name,
             replica_id(victim->replica), victim->outstanding);
    if (victim->state == SLOT_STARTING) {
        victim->state = SLOT_DRAINING;
        replica_kill(victim->replica);
        return;
    }
    victim->state = SLOT_DRAINING;
    drain_if_idle(victim);
}

static void reconcile(pool_t *p)
{
    int active = (int)count_slots(p, 1, 1);
    while (active > p->desired) {
        drain_one(p);
        active--;
    }
    uint64_t now = uv_now(p->env->loop);
    if (active < p->desired && now < p->backoff_until) {
        uv_timer_start(&p->backoff_timer, on_backoff_over, p->backoff_until - now, 0);
        return;
    }
    for (; active < p->desired; active++) {
        if (spawn_one(p) < 0) {
            uv_timer_start(&p->backoff_timer, on_backoff_over, p->backoff_until - now, 0);
            break;
        }
    }
    if (p->stopping && p->slots == NULL && p->stop_done) {
        void (*done)(void *) = p->stop_done;
        p->stop_done = NULL;
        done(p->stop_arg);
    }
}

/* ---- pump: queued requests to replicas ---- */

static slot_t *pick_slot(pool_t *p)
{
    route_candidate_t candidates[POOL_INFO_MAX_REPLICAS];
    slot_t *slots[POOL_INFO_MAX_REPLICAS];
    size_t n = 0;
    for (slot_t *s = p->slots; s && n < POOL_INFO_MAX_REPLICAS; s = s->next) {
        candidates[n] = (route_candidate_t){
            .accepting = s->state == SLOT_READY,
            .outstanding = s->outstanding,
            .capacity = (unsigned)p->model.replica_concurrency,
            .last_dispatch = s->last_dispatch,
        };
        slots[n++] = s;
    }
    int i = route_pick(candidates, n);
    return i < 0 ? NULL : slots[i];
}

static void send_job(pool_t *p, slot_t *slot, job_t *job)
{
    job->attempts++;
    job->sent_ns = uv_hrtime();
    slot->last_dispatch = ++p->dispatch_seq;
    if (replica_send_infer(slot->replica, job->id, job->payload, job->len) < 0) {
        /* The replica is dying; its exit will come. Keep the request. */
        job->attempts--;
        slot->state = SLOT_DRAINING;
        queue_push_front(&p->queue, &job->node);
        return;
    }
    job->next_in_flight = slot->in_flight;
    slot->in_flight = job;
    slot->outstanding++;
}

static void arm_queue_timer(pool_t *p);

static void pump(pool_t *p)
{
    slot_t *slot;
    while (queue_length(&p->queue) > 0 && (slot = pick_slot(p))) {
        job_t *job = queue_entry(queue_pop(&p->queue), job_t, node);
        send_job(p, slot, job);
    }
    arm_queue_timer(p);
}

/* ---- queue deadline ---- */

static uint64_t queue_timeout_ns(const pool_t *p)
{
    return (uint64_t)(p->model.cold_start_timeout_seconds * 1e9);
}

static void expire_queued(pool_t *p)
{
    uint64_t now = uv_hrtime();
    queue_node_t *node;
    while ((node = queue_peek(&p->queue))) {
        job_t *job = queue_entry(node, job_t, node);
        if (now - job->accepted_ns < queue_timeout_ns(p))
            break;
        queue_remove(&p->queue, node);
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "no replica of model '%s' could take the request within "
                 "cold_start_timeout_seconds (%g s)",
                 p->model.name, p->model.cold_start_timeout_seconds);
        fail_job(job, 504, "timeout", msg, 0);
    }
}

static void on_queue_deadline(uv_timer_t *timer)
{
    pool_t *p = timer->data;
    expire_queued(p);
    arm_queue_timer(p);
}

static void arm_queue_timer(pool_t *p)
{
    queue_node_t *node = queue_peek(&p->queue);
    if (!node) {
        uv_timer_stop(&p->queue_timer);
        return;
    }
    job_t *job = queue_entry(node, job_t, node);
    uint64_t age = uv_hrtime() - job->accepted_ns;
    uint64_t left_ns = age >= queue_timeout_ns(p) ? 0 : queue_timeout_ns(p) - age;
    uv_timer_start(&p->queue_timer, on_queue_deadline, left_ns / 1000000 + 1, 0);
}

/* ---- public ---- */

pool_t *pool_new(const pool_env_t *env, const model_config_t *model)
{
    pool_t *p = xcalloc(1, sizeof(*p));
    p->env = env;
    p->model = *model;
    p->model.params = json_deep_copy(model->params);
    p->params_json = json_dumps(p->model.params, JSON_COMPACT);
    if (!p->params_json)
        p->params_json = xstrdup("{}");
    queue_init(&p->queue, (size_t)model->max_queue_length);
    uv_timer_init(env->loop, &p->queue_timer);
    uv_timer_init(env->loop, &p->backoff_timer);
    p->queue_timer.data = p->backoff_timer.data = p;
    p->open_timers = 2;
    return p;
}

static void on_timer_closed(uv_handle_t *handle)
{
    pool_t *p = handle->data;
    /* libuv runs close callbacks in no promised order: the last one frees. */
    if (--p->open_timers > 0)
        return;
    json_decref(p->model.params);
    free(p->params_json);
    free(p);
}

void pool_free(pool_t *p)
{
    if (!p)
        return;
    uv_close((uv_handle_t *)&p->queue_timer, on_timer_closed);
    uv_close((uv_handle_t *)&p->backoff_timer, on_timer_closed);
}

int pool_resize(pool_t *p, int n)
{
    if (n < 0 || n > CONFIG_REPLICAS_LIMIT || p->stopping)
        return -1;
    if (n != p->desired)
        log_info("pool", "resize model=%s from=%d to=%d", p->model.name, p->desired, n);
    p->desired = n;
    reconcile(p);
    pump(p);
    return 0;
}

void pool_submit(pool_t *p, const char *payload, size_t len, pool_done_fn done, void *arg)
{
    job_t *job = xcalloc(1, sizeof(*job));
    job->id = ++p->next_job_id;
    job->payload = xstrndup(payload, len);
    job->len = len;
    job->done = done;
    job->arg = arg;
    job->accepted_ns = uv_hrtime();
    job->cold_start = count_slots(p, 0, 1) == 0;

    if (p->stopping) {
        fail_job(job, 503, "shutting_down", "the server is shutting down", 1);
        return;
    }
    if (queue_push(&p->queue, &job->node) < 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "the queue of model '%s' is full (max_queue_length %d)",
                 p->model.name, p->model.max_queue_length);
        fail_job(job, 503, "queue_full", msg, 1);
        return;
    }
    p->requests_accepted++;
    if (p->desired == 0 && p->model.max_replicas > 0) {
        p->cold_starts++;
        log_info("pool", "cold start model=%s", p->model.name);
        p->desired = 1;
        reconcile(p);
    }
    pump(p);
}

void pool_stop(pool_t *p, void (*done)(void *arg), void *arg)
{
    p->stopping = true;
    p->stop_done = done;
    p->stop_arg = arg;
    fail_queued(p, 503, "shutting_down", "the server is shutting down");
    uv_timer_stop(&p->backoff_timer);
    p->desired = 0;
    reconcile(p);
}

const char *pool_name(const pool_t *p)
{
    return p->model.name;
}

const model_config_t *pool_model(const pool_t *p)
{
    return &p->model;
}

static const char *slot_state_name(const slot_t *s, int concurrency)
{
    switch (s->state) {
    case SLOT_STARTING:
        return "starting";
    case SLOT_DRAINING:
        return "draining";
    default:
        return s->outstanding >= (unsigned)concurrency ? "busy" : "ready";
    }
}

static const char *pool_state_name(const pool_t *p)
{
    if (count_slots(p, 0, 1) > 0)
        return "ready";
    if (count_slots(p, 1, 0) > 0)
        return "loading";
    return p->slots ? "draining" : "unloaded";
}

void pool_get_info(const pool_t *p, pool_info_t *info)
{
    memset(info, 0, sizeof(*info));
    info->name = p->model.name;
    info->backend = p->model.backend;
    info->state = pool_state_name(p);
    info->desired_replicas = p->desired;
    info->queue_length = queue_length(&p->queue);
    info->max_queue_length = (size_t)p->model.max_queue_length;
    info->requests_accepted = p->requests_accepted;
    info->cold_starts = p->cold_starts;
    info->last_load_error = p->last_load_error[0] ? p->last_load_error : NULL;
    for (const slot_t *s = p->slots; s && info->n_replicas < POOL_INFO_MAX_REPLICAS; s = s->next) {
        replica_info_t *ri = &info->replicas[info->n_replicas++];
        ri->id = replica_id(s->replica);
        ri->pid = replica_pid(s->replica);
        ri->state = slot_state_name(s, p->model.replica_concurrency);
        ri->load_time_ms = replica_load_time_ms(s->replica);
        ri->start_time_ms = replica_start_time_ms(s->replica);
        ri->memory_mb = replica_memory_mb(s->replica);
        ri->requests_served = s->served;
        ri->outstanding = s->outstanding;
    }
}
