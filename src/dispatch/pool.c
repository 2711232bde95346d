/* pool.c - a model's replica pool: queue, routing, cold start, restart,
 * drain, and the measurements of all of it.
 *
 * Two loops keep the pool honest. reconcile() compares the replicas that
 * are starting or ready with the count wanted and spawns or drains the
 * difference (spawning waits out the crash backoff; a non-empty queue
 * always wants at least one replica, which is what a cold start is).
 * pump() hands queued requests to replicas with a free slot. Both run after
 * anything that can change their answer: a submit, a READY, a result, an
 * exit, a resize. Each request is answered exactly once, by finish_job().
 *
 * Deadlines: a queued request waits at most cold_start_timeout_seconds
 * (reset when it is put back after its replica died), and a request on a
 * replica runs at most request_timeout_seconds, after which the replica is
 * presumed hung and killed. One timer per pool serves both.
 *
 * Beside the window, which forgets, the pool keeps totals since creation
 * for cumulative exports. Their update in finish_job is a few increments
 * and a scan of 14 bucket bounds: no allocation, no clock beyond the one
 * the window already reads.
 */
#include "dispatch/pool.h"
#include "dispatch/queue.h"
#include "dispatch/route.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_FIRST_MS        250
#define BACKOFF_MAX_MS          30000
#define DEFAULT_REQUEST_TIMEOUT 300.0
#define SHUTTING_DOWN_MESSAGE   "the server is shutting down"

/* Prometheus-style bucket bounds in seconds: request latencies from a fast
 * in-process model to a long synthesis, cold starts from a tiny backend to
 * a large model's load. */
static const double latency_bounds[POOL_LATENCY_BOUNDS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60,
};
static const double cold_start_bounds[POOL_COLD_START_BOUNDS] = {
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
};

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
    pool_cancelled_fn cancelled;
    void *arg;
    uint64_t accepted_ns;
    uint64_t deadline_ns; /* while queued: when it times out */
    uint64_t sent_ns;
    int attempts;
    bool retried;
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
    double cpu_percent; /* latest sample, NAN before one */
    job_t *in_flight;
    slot_t *next;
};

struct pool {
    const pool_env_t *env;
    model_config_t model;
    char *params_json;
    request_queue_t queue;
    uv_timer_t deadline_timer; /* queue waits and in-flight runs */
    uv_timer_t backoff_timer;  /* when a restart may be tried again */
    int open_timers;
    model_window_t *window;
    slot_t *slots;
    int desired;
    uint64_t next_job_id;
    uint64_t dispatch_seq;
    uint64_t requests_accepted;
    uint64_t cold_starts;
    pool_totals_t totals; /* since creation (its cold_starts is the field above) */
    /* uv_hrtime() of the cold start still waiting for a ready replica; 0 if none. */
    uint64_t cold_start_began_ns;
    unsigned failures;      /* consecutive crashes or failed loads */
    uint64_t backoff_until; /* uv_now() ms */
    double measured_memory_mb;
    char last_load_error[512];
    bool quiesced;
    bool stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
};

static void reconcile(pool_t *p);
static void pump(pool_t *p);

static double ms_between(uint64_t from_ns, uint64_t to_ns)
{
    return (double)(to_ns - from_ns) / 1e6;
}

static uint64_t seconds_to_ns(double s)
{
    return (uint64_t)(s * 1e9);
}

/* ---- gauges ---- */

static void refresh_gauges(pool_t *p)
{
    pool_counts_t c;
    pool_get_counts(p, &c);
    double now = time_mono_now();
    window_set_load(p->window, now, c.in_flight, (unsigned)c.queued);
    window_set_replicas(p->window, now, (unsigned)c.ready, (unsigned)c.busy);
}

/* ---- answering ---- */

static request_outcome_t outcome_of(int status, const char *error)
{
    if (status < 400)
        return OUTCOME_SUCCESS;
    if (status < 500)
        return OUTCOME_CLIENT_ERROR;
    if (error && strcmp(error, "queue_full") == 0)
        return OUTCOME_DROPPED;
    if (status == 504)
        return OUTCOME_TIMEOUT;
    return OUTCOME_SERVER_ERROR;
}

/* Adds one observation to a histogram of n bounds and n + 1 counts. */
static void observe(const double *bounds, size_t n, uint64_t *counts, double *sum, double seconds)
{
    size_t i = 0;
    while (i < n && seconds > bounds[i])
        i++;
    counts[i]++;
    *sum += seconds;
}

static void count_outcome(pool_t *p, request_outcome_t outcome, double latency_ms)
{
    pool_totals_t *t = &p->totals;
    switch (outcome) {
    case OUTCOME_SUCCESS:
        t->successes++;
        break;
    case OUTCOME_CLIENT_ERROR:
        t->client_errors++;
        break;
    case OUTCOME_SERVER_ERROR:
        t->server_errors++;
        break;
    case OUTCOME_DROPPED:
        t->dropped++;
        return; /* refused at once: no latency, as in the window */
    case OUTCOME_TIMEOUT:
        t->timeouts++;
        break;
    }
    observe(latency_bounds, POOL_LATENCY_BOUNDS, t->latency_counts, &t->latency_sum_seconds,
            latency_ms / 1e3);
}

/* The one place a request is answered: measures it, calls back, frees it. */
static void finish_job(pool_t *p, job_t *job, pool_result_t *res)
{
    uint64_t now = uv_hrtime();
    res->cold_start = job->cold_start;
    double queue_ms = job->sent_ns ? ms_between(job->accepted_ns, job->sent_ns) : -1.0;
    request_outcome_t outcome = outcome_of(res->http_status, res->error);
    double latency_ms = ms_between(job->accepted_ns, now);
    window_record_finish(p->window, (double)now / 1e9, outcome, latency_ms, queue_ms);
    count_outcome(p, outcome, latency_ms);
    job->done(res, job->arg);
    free(job->payload);
    free(job);
}

static void fail_job(pool_t *p, job_t *job, int status, const char *code, const char *message,
                     int retry_after)
{
    pool_result_t res = {
        .http_status = status,
        .error = code,
        .message = message,
        .retry_after_seconds = retry_after,
    };
    finish_job(p, job, &res);
}

static void fail_queued(pool_t *p, int status, const char *code, const char *message)
{
    queue_node_t *node;
    while ((node = queue_pop(&p->queue)))
        fail_job(p, queue_entry(node, job_t, node), status, code, message, 0);
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

static void notify(pool_t *p, const pool_event_t *event)
{
    if (p->env->observer)
        p->env->observer(p, event, p->env->observer_ctx);
}

/* ---- replica callbacks ---- */

static void on_replica_ready(replica_t *r, void *ctx)
{
    slot_t *slot = ctx;
    pool_t *p = slot->pool;
    p->last_load_error[0] = '\0';
    if (slot->state == SLOT_STARTING)
        slot->state = SLOT_READY;
    double memory = replica_memory_mb(r);
    if (memory > p->measured_memory_mb)
        p->measured_memory_mb = memory;
    if (p->cold_start_began_ns) {
        observe(cold_start_bounds, POOL_COLD_START_BOUNDS, p->totals.cold_start_counts,
                &p->totals.cold_start_sum_seconds,
                ms_between(p->cold_start_began_ns, uv_hrtime()) / 1e3);
        p->cold_start_began_ns = 0;
    }
    pool_event_t ev = {
        .type = POOL_EVENT_REPLICA_READY,
        .replica_id = replica_id(r),
        .load_time_ms = replica_load_time_ms(r),
        .start_time_ms = replica_start_time_ms(r),
        .memory_mb = memory,
    };
    notify(p, &ev);
    pump(p);
}

/* What follows any answer from a worker: the slot may finish draining, and
 * its free slot may take the next request. */
static void after_answer(slot_t *slot)
{
    slot->served++;
    drain_if_idle(slot);
    reconcile(slot->pool);
    pump(slot->pool);
}

static void on_replica_result(replica_t *r, uint64_t id, const uint8_t *payload, size_t len,
                              void *ctx)
{
    slot_t *slot = ctx;
    job_t *job = take_in_flight(slot, id);
    if (!job)
        return;
    pool_result_t res = {
        .http_status = 200,
        .payload = payload,
        .payload_len = len,
        .replica_id = replica_id(r),
        .queue_ms = ms_between(job->accepted_ns, job->sent_ns),
        .processing_ms = ms_between(job->sent_ns, uv_hrtime()),
    };
    slot->pool->failures = 0;
    finish_job(slot->pool, job, &res);
    after_answer(slot);
}

static int status_for_worker_error(const char *code)
{
    return strcmp(code, "bad_request") == 0 || strcmp(code, "invalid_input") == 0 ? 400 : 500;
}

static void on_replica_error(replica_t *r, uint64_t id, const char *code, const char *message,
                             void *ctx)
{
    slot_t *slot = ctx;
    job_t *job = take_in_flight(slot, id);
    if (!job)
        return;
    pool_result_t res = {
        .http_status = status_for_worker_error(code),
        .error = code,
        .message = message,
        .replica_id = replica_id(r),
    };
    finish_job(slot->pool, job, &res);
    after_answer(slot);
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

static void requeue(pool_t *p, job_t *job)
{
    job->retried = true;
    job->sent_ns = 0;
    job->deadline_ns = uv_hrtime() + seconds_to_ns(p->model.cold_start_timeout_seconds);
    queue_push_front(&p->queue, &job->node);
}

/* Requests that were running on a replica that died: each is retried once
 * on another replica, otherwise answered 502. */
static void rescue_in_flight(slot_t *slot, const char *detail)
{
    pool_t *p = slot->pool;
    job_t *job = slot->in_flight;
    slot->in_flight = NULL;
    while (job) {
        job_t *next = job->next_in_flight;
        if (job->attempts < 2 && !p->quiesced) {
            requeue(p, job);
        } else {
            char msg[700];
            snprintf(msg, sizeof(msg),
                     "replica %u of model '%s' failed while serving this request (%s)",
                     replica_id(slot->replica), p->model.name, detail);
            if (p->quiesced)
                fail_job(p, job, 503, "shutting_down", SHUTTING_DOWN_MESSAGE, 1);
            else
                fail_job(p, job, 502, "replica_crashed", msg, 0);
        }
        job = next;
    }
}

static void handle_load_failure(pool_t *p, const char *detail)
{
    snprintf(p->last_load_error, sizeof(p->last_load_error), "%s", detail);
    note_failure(p);
    if (count_slots(p, 1, 1) > 0)
        return; /* another replica may still serve the queue */
    /* A pending cold start will have no replica ready (spawn_one may have
     * failed with no slot to exit). */
    p->cold_start_began_ns = 0;
    char msg[700];
    snprintf(msg, sizeof(msg), "model '%s' could not be loaded: %s", p->model.name, detail);
    fail_queued(p, 503, "model_load_failed", msg);
    /* A model nobody pinned goes back to zero instead of crash-looping;
     * the next request tries again. */
    if (config_floor_replicas(&p->model) == 0 && p->desired > 0) {
        p->desired = 0;
        log_warn("pool", "load failed, model back at zero replicas model=%s", p->model.name);
    }
}

static void on_replica_exited(replica_t *r, replica_exit_t why, const char *detail, void *ctx)
{
    slot_t *slot = ctx;
    pool_t *p = slot->pool;
    unlink_slot(p, slot);
    /* No replica left to become ready: the pending cold start ended without
     * one, so it gets no duration (a later one starts its own clock). */
    if (count_slots(p, 1, 1) == 0)
        p->cold_start_began_ns = 0;
    if (why == REPLICA_EXIT_LOAD_FAILED || why == REPLICA_EXIT_LOAD_TIMEOUT)
        handle_load_failure(p, detail);
    else if (why != REPLICA_EXIT_CLEAN)
        note_failure(p);
    pool_event_t ev = {.type = POOL_EVENT_REPLICA_ENDED,
                       .replica_id = replica_id(r),
                       .why = why,
                       .detail = detail};
    notify(p, &ev);
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

/* ---- reconcile: replicas towards the count wanted ---- */

static void on_backoff_over(uv_timer_t *timer)
{
    reconcile(timer->data);
    pump(timer->data);
}

static int spawn_one(pool_t *p)
{
    slot_t *slot = xcalloc(1, sizeof(*slot));
    slot->pool = p;
    slot->state = SLOT_STARTING;
    slot->cpu_percent = NAN;
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
        free(slot);
        handle_load_failure(p, err);
        pool_event_t ev = {
            .type = POOL_EVENT_REPLICA_ENDED, .why = REPLICA_EXIT_LOAD_FAILED, .detail = err};
        notify(p, &ev);
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
    bool starting = victim->state == SLOT_STARTING;
    victim->state = SLOT_DRAINING;
    if (starting)
        replica_kill(victim->replica);
    else
        drain_if_idle(victim);
}

/* Requests waiting with no replica to serve them make a cold start: the
 * pool wants at least one replica while its queue is not empty. */
static int wanted_replicas(pool_t *p)
{
    if (p->stopping)
        return 0;
    bool waiting = queue_length(&p->queue) > 0 && p->model.max_replicas > 0 && !p->quiesced;
    /* Resized to zero while requests wait: keep the replica they wait for
     * until the queue is empty (after_answer reconciles again), without
     * calling it a new cold start. */
    if (p->desired == 0 && waiting && count_slots(p, 1, 1) > 0)
        return 1;
    if (p->desired == 0 && waiting) {
        p->desired = 1;
        p->cold_starts++;
        p->cold_start_began_ns = uv_hrtime();
        log_info("pool", "cold start model=%s", p->model.name);
        pool_event_t ev = {.type = POOL_EVENT_COLD_START};
        notify(p, &ev);
    }
    return p->desired;
}

static void maybe_finish_stop(pool_t *p)
{
    if (p->stopping && p->slots == NULL && p->stop_done) {
        void (*done)(void *) = p->stop_done;
        p->stop_done = NULL;
        uv_timer_stop(&p->deadline_timer);
        uv_timer_stop(&p->backoff_timer);
        done(p->stop_arg);
    }
}

static void reconcile(pool_t *p)
{
    int want = wanted_replicas(p);
    int active = (int)count_slots(p, 1, 1);
    for (; active > want; active--)
        drain_one(p);
    while (active < want && !p->quiesced && uv_now(p->env->loop) >= p->backoff_until &&
           spawn_one(p) == 0)
        active++;
    /* Still short (in backoff, or a spawn just failed): try again later. */
    want = p->desired;
    uint64_t now = uv_now(p->env->loop);
    if (active < want && !p->quiesced)
        uv_timer_start(&p->backoff_timer, on_backoff_over,
                       p->backoff_until > now ? p->backoff_until - now : 0, 0);
    maybe_finish_stop(p);
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
        job->sent_ns = 0;
        slot->state = SLOT_DRAINING;
        queue_push_front(&p->queue, &job->node);
        return;
    }
    job->next_in_flight = slot->in_flight;
    slot->in_flight = job;
    slot->outstanding++;
}

static void arm_deadline_timer(pool_t *p);

static void pump(pool_t *p)
{
    slot_t *slot;
    while (queue_length(&p->queue) > 0 && (slot = pick_slot(p))) {
        job_t *job = queue_entry(queue_pop(&p->queue), job_t, node);
        if (job->cancelled && job->cancelled(job->arg)) {
            fail_job(p, job, 499, "client_gone", "the client closed the connection", 0);
            continue;
        }
        send_job(p, slot, job);
    }
    arm_deadline_timer(p);
    refresh_gauges(p);
}

/* ---- deadlines ---- */

static uint64_t request_timeout_ns(const pool_t *p)
{
    double s = p->model.request_timeout_seconds > 0 ? p->model.request_timeout_seconds
                                                    : DEFAULT_REQUEST_TIMEOUT;
    return seconds_to_ns(s);
}

/* Queued requests past their deadline get 504. The queue is in deadline
 * order except for retried requests at its front, so the scan stops at the
 * first request that was never retried and is not yet due. */
static void expire_queued(pool_t *p, uint64_t now)
{
    queue_node_t *node = queue_peek(&p->queue);
    while (node && node != &p->queue.head) {
        queue_node_t *next = node->next;
        job_t *job = queue_entry(node, job_t, node);
        if (now >= job->deadline_ns) {
            queue_remove(&p->queue, node);
            char msg[300];
            snprintf(msg, sizeof(msg),
                     "no replica of model '%s' could take the request within "
                     "cold_start_timeout_seconds (%g s)",
                     p->model.name, p->model.cold_start_timeout_seconds);
            fail_job(p, job, 504, "timeout", msg, 0);
        } else if (!job->retried) {
            break;
        }
        node = next;
    }
}

/* A request running past request_timeout_seconds means a hung worker: it
 * is killed (its exit answers the other requests it held) and this request
 * gets 504, not a retry, since the request itself may be what hangs. */
static void expire_in_flight(pool_t *p, uint64_t now)
{
    for (slot_t *s = p->slots; s; s = s->next) {
        for (job_t *job = s->in_flight; job; job = job->next_in_flight) {
            if (now - job->sent_ns < request_timeout_ns(p))
                continue;
            take_in_flight(s, job->id);
            char msg[300];
            snprintf(msg, sizeof(msg),
                     "replica %u of model '%s' did not answer within request_timeout_seconds "
                     "(%g s); it was stopped",
                     replica_id(s->replica), p->model.name, (double)request_timeout_ns(p) / 1e9);
            fail_job(p, job, 504, "request_timeout", msg, 0);
            /* No new work for it while it dies; its other requests are
             * retried elsewhere when its exit comes. */
            s->state = SLOT_DRAINING;
            replica_kill_hung(s->replica,
                              "did not answer a request within request_timeout_seconds");
            break;
        }
    }
}

static uint64_t next_deadline(const pool_t *p)
{
    uint64_t next = UINT64_MAX;
    for (queue_node_t *n = queue_peek(&p->queue); n && n != &p->queue.head; n = n->next) {
        job_t *job = queue_entry(n, job_t, node);
        if (job->deadline_ns < next)
            next = job->deadline_ns;
        if (!job->retried)
            break;
    }
    for (const slot_t *s = p->slots; s; s = s->next)
        for (const job_t *job = s->in_flight; job; job = job->next_in_flight)
            if (job->sent_ns + request_timeout_ns(p) < next)
                next = job->sent_ns + request_timeout_ns(p);
    return next;
}

static void on_deadline(uv_timer_t *timer)
{
    pool_t *p = timer->data;
    uint64_t now = uv_hrtime();
    expire_queued(p, now);
    expire_in_flight(p, now);
    pump(p);
}

static void arm_deadline_timer(pool_t *p)
{
    uint64_t next = next_deadline(p);
    if (next == UINT64_MAX) {
        uv_timer_stop(&p->deadline_timer);
        return;
    }
    uint64_t now = uv_hrtime();
    uint64_t left_ms = next > now ? (next - now) / 1000000 + 1 : 0;
    uv_timer_start(&p->deadline_timer, on_deadline, left_ms, 0);
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
    p->window = window_new(time_mono_now());
    if (!p->window) {
        fprintf(stderr, "error inferd: out of memory for the metrics of model '%s'\n", model->name);
        abort();
    }
    p->measured_memory_mb = 0;
    p->totals.latency_bounds = latency_bounds;
    p->totals.cold_start_bounds = cold_start_bounds;
    queue_init(&p->queue, (size_t)model->max_queue_length);
    uv_timer_init(env->loop, &p->deadline_timer);
    uv_timer_init(env->loop, &p->backoff_timer);
    p->deadline_timer.data = p->backoff_timer.data = p;
    p->open_timers = 2;
    return p;
}

static void on_timer_closed(uv_handle_t *handle)
{
    pool_t *p = handle->data;
    /* libuv runs close callbacks in no promised order: the last one frees. */
    if (--p->open_timers > 0)
        return;
    window_free(p->window);
    json_decref(p->model.params);
    free(p->params_json);
    free(p);
}

void pool_free(pool_t *p)
{
    if (!p)
        return;
    uv_close((uv_handle_t *)&p->deadline_timer, on_timer_closed);
    uv_close((uv_handle_t *)&p->backoff_timer, on_timer_closed);
}

int pool_resize(pool_t *p, int n)
{
    if (n < 0 || n > CONFIG_REPLICAS_LIMIT || p->stopping || p->quiesced)
        return -1;
    if (n != p->desired)
        log_info("pool", "resize model=%s from=%d to=%d", p->model.name, p->desired, n);
    p->desired = n;
    reconcile(p);
    pump(p);
    return 0;
}

void pool_submit(pool_t *p, const char *payload, size_t len, pool_done_fn done,
                 pool_cancelled_fn cancelled, void *arg)
{
    job_t *job = xcalloc(1, sizeof(*job));
    job->id = ++p->next_job_id;
    job->payload = xstrndup(payload, len);
    job->len = len;
    job->done = done;
    job->cancelled = cancelled;
    job->arg = arg;
    job->accepted_ns = uv_hrtime();
    job->deadline_ns = job->accepted_ns + seconds_to_ns(p->model.cold_start_timeout_seconds);
    job->cold_start = count_slots(p, 0, 1) == 0;
    bool had_replicas = count_slots(p, 1, 1) > 0;
    window_record_arrival(p->window, (double)job->accepted_ns / 1e9);
    p->totals.arrivals++;

    if (p->quiesced || p->stopping) {
        fail_job(p, job, 503, "shutting_down", SHUTTING_DOWN_MESSAGE, 1);
        return;
    }
    if (queue_push(&p->queue, &job->node) < 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "the queue of model '%s' is full (max_queue_length %d)",
                 p->model.name, p->model.max_queue_length);
        fail_job(p, job, 503, "queue_full", msg, 1);
        return;
    }
    p->requests_accepted++;
    if (p->desired == 0)
        reconcile(p);
    pump(p);
    /* Last, so that whatever the observer resizes finds the pool settled.
     * A request that started a cold start is the COLD_START event's. */
    if (had_replicas) {
        pool_event_t ev = {.type = queue_length(&p->queue) > 0 ? POOL_EVENT_QUEUED
                                                               : POOL_EVENT_ARRIVED};
        notify(p, &ev);
    }
}

void pool_quiesce(pool_t *p)
{
    p->quiesced = true;
    uv_timer_stop(&p->backoff_timer);
}

void pool_stop(pool_t *p, bool force, void (*done)(void *arg), void *arg)
{
    if (!p->stopping) {
        p->quiesced = true;
        p->stopping = true;
        p->stop_done = done;
        p->stop_arg = arg;
        p->desired = 0;
        uv_timer_stop(&p->backoff_timer);
        fail_queued(p, 503, "shutting_down", SHUTTING_DOWN_MESSAGE);
    }
    if (force) {
        for (slot_t *s = p->slots; s; s = s->next) {
            s->state = SLOT_DRAINING;
            replica_kill(s->replica);
        }
    }
    reconcile(p);
    refresh_gauges(p);
}

const char *pool_name(const pool_t *p)
{
    return p->model.name;
}

const model_config_t *pool_model(const pool_t *p)
{
    return &p->model;
}

/* A shorter cold_start_timeout_seconds applies to the requests already
 * waiting too: each deadline (set as some moment plus the old timeout, its
 * acceptance or its retry) moves earlier by the difference. The queue stays
 * in deadline order, and none waits out the old, longer timeout behind the
 * others. A longer timeout leaves the waiting requests' deadlines be. */
static void shorten_queued_deadlines(pool_t *p, double old_timeout_seconds)
{
    double cut = old_timeout_seconds - p->model.cold_start_timeout_seconds;
    if (!(cut > 0))
        return;
    uint64_t by = seconds_to_ns(cut);
    for (queue_node_t *n = queue_peek(&p->queue); n && n != &p->queue.head; n = n->next) {
        job_t *job = queue_entry(n, job_t, node);
        job->deadline_ns = job->deadline_ns > by ? job->deadline_ns - by : 0;
    }
    arm_deadline_timer(p);
}

void pool_update_settings(pool_t *p, const model_config_t *model)
{
    model_config_t kept = p->model;
    p->model = *model;
    memcpy(p->model.name, kept.name, sizeof(kept.name));
    memcpy(p->model.backend, kept.backend, sizeof(kept.backend));
    p->model.params = kept.params;
    p->model.max_queue_length = kept.max_queue_length; /* the queue's bound since pool_new */
    shorten_queued_deadlines(p, kept.cold_start_timeout_seconds);
    log_info("pool",
             "settings updated model=%s min_replicas=%d max_replicas=%d cold_start_timeout=%g "
             "load_timeout=%g",
             p->model.name, p->model.min_replicas, p->model.max_replicas,
             p->model.cold_start_timeout_seconds, p->model.load_timeout_seconds);
}

const model_window_t *pool_window(const pool_t *p)
{
    return p->window;
}

void pool_get_totals(const pool_t *p, pool_totals_t *out)
{
    *out = p->totals;
    out->cold_starts = p->cold_starts;
}

void pool_get_counts(const pool_t *p, pool_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    out->desired = p->desired;
    out->queued = queue_length(&p->queue);
    for (const slot_t *s = p->slots; s; s = s->next) {
        out->in_flight += s->outstanding;
        out->starting += s->state == SLOT_STARTING;
        out->ready += s->state == SLOT_READY;
        out->busy += s->state == SLOT_READY && s->outstanding > 0;
        out->draining += s->state == SLOT_DRAINING;
    }
}

size_t pool_replica_pids(const pool_t *p, int *pids, size_t max)
{
    size_t n = 0;
    for (const slot_t *s = p->slots; s && n < max; s = s->next)
        pids[n++] = replica_pid(s->replica);
    return n;
}

double pool_replica_memory_mb(const pool_t *p)
{
    return p->measured_memory_mb > 0 ? p->measured_memory_mb : p->model.memory_mb;
}

void pool_note_replica_sample(pool_t *p, int pid, double cpu_percent, double rss_mb)
{
    for (slot_t *s = p->slots; s; s = s->next) {
        if (replica_pid(s->replica) != pid)
            continue;
        s->cpu_percent = cpu_percent;
        if (s->state == SLOT_READY && rss_mb > p->measured_memory_mb)
            p->measured_memory_mb = rss_mb;
    }
}

double pool_replica_cpu_percent(const pool_t *p)
{
    double sum = 0;
    int n = 0;
    for (const slot_t *s = p->slots; s; s = s->next) {
        if (s->state == SLOT_READY && !isnan(s->cpu_percent)) {
            sum += s->cpu_percent;
            n++;
        }
    }
    return n ? sum / n : NAN;
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
