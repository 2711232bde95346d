/* sim.c - a discrete-event simulation of one model's pool (see sim.h).
 *
 * Three sources of events, merged by time: the trace's arrivals (already
 * sorted, so an index), the policy's ticks (k x tick, computed, so that
 * float error does not accumulate), and a binary heap of completions and
 * replicas becoming ready. The heap holds at most one event per request in
 * flight and per replica starting, so it stays small. Nothing is allocated
 * per request: the arrays a run needs are sized from the trace once.
 *
 * The FIFO queue needs no storage of its own: requests are dispatched in
 * arrival order, and one is dispatched on arrival only when nothing waits,
 * so the waiting requests are always the trace indices
 * [queue_head, next_arrival).
 */
#include "sim/sim.h"

#include "dispatch/route.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECENT_SECONDS 60.0 /* the window of recent_latency_p95_seconds */
/* Latency buckets for the recent p95: bucket 0 holds up to LAT_LOW, bucket
 * b (LAT_LOW G^(b-1), LAT_LOW G^b]; 2 % wide, up to about 17 hours. */
#define LAT_BUCKETS 1024
#define LAT_LOW     1e-4
#define LAT_GROWTH  1.02

typedef enum { EV_COMPLETE = 0, EV_READY = 1 } event_kind_t;

typedef struct event {
    double t;
    uint32_t kind;
    uint32_t replica;
    uint64_t arg; /* request index, or the replica's generation */
    uint64_t seq; /* ties broken in the order events were made */
} event_t;

typedef enum {
    REPLICA_FREE = 0,
    REPLICA_STARTING,
    REPLICA_READY,
    REPLICA_DRAINING
} replica_state_t;

typedef struct replica {
    replica_state_t state;
    unsigned outstanding;
    uint64_t last_dispatch;
    uint64_t generation; /* a killed start's READY event is stale */
    uint64_t spawned;    /* order of spawning: the newest goes first */
} replica_t;

typedef struct engine {
    const sim_workload_t *w;
    const sim_model_t *model;
    const sim_policy_ops_t *ops;
    const sim_options_t *opts;
    void *policy;
    double now;

    event_t *heap;
    size_t heap_n, heap_cap;
    uint64_t event_seq;

    replica_t *replicas;
    size_t n_replicas, cap_replicas;
    route_candidate_t *candidates;
    size_t *candidate_at;
    int starting, ready, draining, busy_replicas;
    int desired;
    uint64_t spawn_seq, dispatch_seq;

    size_t next_arrival, queue_head;
    unsigned in_flight;
    uint64_t completions;
    double concurrency_integral, in_flight_integral, busy_integral, replica_seconds;
    double last_arrival, idle_since;

    /* Per request, and the recent-latency window (completions in order). */
    double *latency;
    unsigned char *cold;
    double *recent_t;
    uint16_t *recent_bucket;
    size_t recent_head, recent_tail;
    uint32_t fenwick[LAT_BUCKETS + 1];
    double recent_p95;
    int recent_dirty;

    sim_result_t *out;
} engine_t;

/* ---- the heap ---- */

static int event_before(const event_t *a, const event_t *b)
{
    if (a->t != b->t)
        return a->t < b->t;
    if (a->kind != b->kind)
        return a->kind < b->kind;
    return a->seq < b->seq;
}

static int heap_push(engine_t *e, double t, event_kind_t kind, size_t replica, uint64_t arg)
{
    if (e->heap_n == e->heap_cap) {
        size_t cap = e->heap_cap ? e->heap_cap * 2 : 64;
        event_t *grown = realloc(e->heap, cap * sizeof(*grown));
        if (!grown)
            return -1;
        e->heap = grown;
        e->heap_cap = cap;
    }
    event_t ev = {t, kind, (uint32_t)replica, arg, e->event_seq++};
    size_t i = e->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!event_before(&ev, &e->heap[parent]))
            break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = ev;
    return 0;
}

static event_t heap_pop(engine_t *e)
{
    event_t top = e->heap[0];
    event_t last = e->heap[--e->heap_n];
    size_t i = 0, n = e->heap_n;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && event_before(&e->heap[child + 1], &e->heap[child]))
            child++;
        if (!event_before(&e->heap[child], &last))
            break;
        e->heap[i] = e->heap[child];
        i = child;
    }
    if (n > 0)
        e->heap[i] = last;
    return top;
}

/* ---- the recent-latency window: a Fenwick tree over log buckets ---- */

static uint16_t latency_bucket(double seconds)
{
    if (!(seconds > LAT_LOW))
        return 0;
    double b = ceil(log(seconds / LAT_LOW) / log(LAT_GROWTH));
    return b >= LAT_BUCKETS - 1 ? LAT_BUCKETS - 1 : (uint16_t)b;
}

static void fenwick_add(engine_t *e, uint16_t bucket, int32_t delta)
{
    for (size_t i = (size_t)bucket + 1; i <= LAT_BUCKETS; i += i & (~i + 1))
        e->fenwick[i] = (uint32_t)((int64_t)e->fenwick[i] + delta);
}

/* The bucket holding the rank-th smallest sample (1-based). */
static uint16_t fenwick_find(const engine_t *e, uint32_t rank)
{
    size_t at = 0;
    for (size_t step = LAT_BUCKETS; step > 0; step /= 2) {
        if (at + step <= LAT_BUCKETS && e->fenwick[at + step] < rank) {
            at += step;
            rank -= e->fenwick[at];
        }
    }
    return (uint16_t)at; /* 0-based bucket = 1-based index - 1 */
}

static void recent_expire(engine_t *e)
{
    while (e->recent_head < e->recent_tail &&
           e->recent_t[e->recent_head] <= e->now - RECENT_SECONDS) {
        fenwick_add(e, e->recent_bucket[e->recent_head], -1);
        e->recent_head++;
        e->recent_dirty = 1;
    }
}

static double recent_p95(engine_t *e)
{
    recent_expire(e);
    if (!e->recent_dirty)
        return e->recent_p95;
    e->recent_dirty = 0;
    size_t count = e->recent_tail - e->recent_head;
    if (count == 0)
        return e->recent_p95 = NAN;
    uint32_t rank = (uint32_t)ceil(0.95 * (double)count - 1e-9);
    uint16_t b = fenwick_find(e, rank > 0 ? rank : 1);
    /* The bucket's geometric middle; bucket 0's nominal one-step range. */
    return e->recent_p95 = LAT_LOW * pow(LAT_GROWTH, (double)b - 0.5);
}

/* ---- time and counts ---- */

static size_t queued(const engine_t *e)
{
    return e->next_arrival - e->queue_head;
}

static void advance(engine_t *e, double t)
{
    double dt = t - e->now;
    if (dt > 0) {
        double work = (double)e->in_flight + (double)queued(e);
        e->concurrency_integral += work * dt;
        e->in_flight_integral += (double)e->in_flight * dt;
        e->busy_integral += (double)e->busy_replicas * dt;
        e->replica_seconds += (double)(e->starting + e->ready + e->draining) * dt;
        e->now = t;
    }
}

static void replicas_changed(engine_t *e)
{
    int alive = e->starting + e->ready + e->draining;
    if (alive > e->out->peak_replicas)
        e->out->peak_replicas = alive;
    if (e->opts->on_replicas)
        e->opts->on_replicas(e->opts->hook_ctx, e->now, alive);
}

static void set_desired(engine_t *e, int n)
{
    if (n == e->desired)
        return;
    e->out->scale_events++;
    if (n > e->desired)
        e->out->scale_ups++;
    else
        e->out->scale_downs++;
    e->desired = n;
}

/* ---- replicas ---- */

static int spawn_one(engine_t *e)
{
    size_t i = 0;
    while (i < e->n_replicas && e->replicas[i].state != REPLICA_FREE)
        i++;
    if (i == e->n_replicas) {
        if (e->n_replicas == e->cap_replicas) {
            size_t cap = e->cap_replicas ? e->cap_replicas * 2 : 16;
            replica_t *r = realloc(e->replicas, cap * sizeof(*r));
            if (!r)
                return -1;
            e->replicas = r;
            route_candidate_t *c = realloc(e->candidates, cap * sizeof(*c));
            if (!c)
                return -1;
            e->candidates = c;
            size_t *at = realloc(e->candidate_at, cap * sizeof(*at));
            if (!at)
                return -1;
            e->candidate_at = at;
            e->cap_replicas = cap;
        }
        memset(&e->replicas[i], 0, sizeof(e->replicas[i]));
        e->n_replicas++;
    }
    replica_t *r = &e->replicas[i];
    r->state = REPLICA_STARTING;
    r->outstanding = 0;
    r->last_dispatch = 0;
    r->generation++;
    r->spawned = ++e->spawn_seq;
    e->starting++;
    if (heap_push(e, e->now + e->model->load_seconds, EV_READY, i, r->generation) < 0)
        return -1;
    replicas_changed(e);
    return 0;
}

/* As the pool: a starting replica first (it serves no one yet), else the
 * ready one with the least in flight; the newest on a tie. */
static void drain_one(engine_t *e)
{
    replica_t *victim = NULL;
    for (size_t i = 0; i < e->n_replicas; i++) {
        replica_t *r = &e->replicas[i];
        if (r->state == REPLICA_STARTING) {
            if (!victim || victim->state != REPLICA_STARTING || r->spawned > victim->spawned)
                victim = r;
        } else if (r->state == REPLICA_READY && (!victim || victim->state == REPLICA_READY)) {
            if (!victim || r->outstanding < victim->outstanding ||
                (r->outstanding == victim->outstanding && r->spawned > victim->spawned))
                victim = r;
        }
    }
    if (!victim)
        return;
    if (victim->state == REPLICA_STARTING) {
        victim->state = REPLICA_FREE;
        e->starting--;
    } else if (victim->outstanding == 0) {
        victim->state = REPLICA_FREE;
        e->ready--;
    } else {
        victim->state = REPLICA_DRAINING;
        e->ready--;
        e->draining++;
    }
    replicas_changed(e);
}

/* The pool's reconcile: the wanted count, except that requests waiting
 * with no replica make a cold start, and a pool resized to zero keeps the
 * replica they wait for until the queue is empty. */
static int reconcile(engine_t *e)
{
    int want = e->desired;
    if (e->desired == 0 && queued(e) > 0) {
        if (e->starting + e->ready == 0)
            set_desired(e, 1);
        want = 1;
    }
    for (int active = e->starting + e->ready; active > want; active--)
        drain_one(e);
    for (int active = e->starting + e->ready; active < want; active++)
        if (spawn_one(e) < 0)
            return -1;
    return 0;
}

static int dispatch_request(engine_t *e, size_t replica)
{
    size_t i = e->queue_head++;
    replica_t *r = &e->replicas[replica];
    if (r->outstanding++ == 0)
        e->busy_replicas++;
    r->last_dispatch = ++e->dispatch_seq;
    e->in_flight++;
    return heap_push(e, e->now + e->w->service[i], EV_COMPLETE, replica, i);
}

/* Queued requests to free slots, through the server's routing rule. */
static int pump(engine_t *e)
{
    if (queued(e) == 0 || e->ready == 0)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < e->n_replicas; i++) {
        const replica_t *r = &e->replicas[i];
        if (r->state != REPLICA_READY)
            continue;
        e->candidates[n] = (route_candidate_t){
            .accepting = true,
            .outstanding = r->outstanding,
            .capacity = e->model->replica_concurrency ? e->model->replica_concurrency : 1,
            .last_dispatch = r->last_dispatch,
        };
        e->candidate_at[n++] = i;
    }
    while (queued(e) > 0) {
        int pick = route_pick(e->candidates, n);
        if (pick < 0)
            break;
        size_t at = e->candidate_at[pick];
        if (dispatch_request(e, at) < 0)
            return -1;
        e->candidates[pick].outstanding = e->replicas[at].outstanding;
        e->candidates[pick].last_dispatch = e->replicas[at].last_dispatch;
    }
    return 0;
}

/* ---- the policy ---- */

static void observe(engine_t *e, sim_observation_t *obs)
{
    unsigned waiting = (unsigned)queued(e);
    *obs = (sim_observation_t){
        .now = e->now,
        .unix_now = e->w->unix_start + e->now,
        .ready = e->ready,
        .starting = e->starting,
        .desired = e->desired,
        .in_flight = e->in_flight,
        .queued = waiting,
        .arrivals_total = e->next_arrival,
        .completions_total = e->completions,
        .concurrency_integral = e->concurrency_integral,
        .in_flight_integral = e->in_flight_integral,
        .busy_replica_integral = e->busy_integral,
        .last_arrival = e->last_arrival,
        .last_busy = e->in_flight + waiting > 0 ? e->now : e->idle_since,
        .recent_latency_p95_seconds = recent_p95(e),
    };
}

static void apply_answer(engine_t *e, int desired)
{
    if (desired < 0)
        return;
    if (desired < e->model->min_replicas)
        desired = e->model->min_replicas;
    if (desired > e->model->max_replicas)
        desired = e->model->max_replicas;
    set_desired(e, desired);
}

/* ---- events ---- */

static int on_complete(engine_t *e, const event_t *ev)
{
    replica_t *r = &e->replicas[ev->replica];
    size_t i = (size_t)ev->arg;
    if (--r->outstanding == 0)
        e->busy_replicas--;
    e->in_flight--;
    e->completions++;
    double latency = e->now - e->w->arrival[i];
    e->latency[i] = latency;
    e->out->answered++;
    if (latency > e->opts->slo_seconds)
        e->out->slo_misses++;
    uint16_t b = latency_bucket(latency);
    e->recent_t[e->recent_tail] = e->now;
    e->recent_bucket[e->recent_tail++] = b;
    fenwick_add(e, b, 1);
    e->recent_dirty = 1;
    if (e->opts->on_answer)
        e->opts->on_answer(e->opts->hook_ctx, i, latency, e->cold[i] != 0);
    if (r->state == REPLICA_DRAINING && r->outstanding == 0) {
        r->state = REPLICA_FREE;
        e->draining--;
        replicas_changed(e);
    }
    if (e->in_flight == 0 && queued(e) == 0)
        e->idle_since = e->now;
    if (reconcile(e) < 0)
        return -1;
    return pump(e);
}

static int on_ready(engine_t *e, const event_t *ev)
{
    replica_t *r = &e->replicas[ev->replica];
    if (r->state != REPLICA_STARTING || r->generation != ev->arg)
        return 0; /* killed while it was loading */
    r->state = REPLICA_READY;
    e->starting--;
    e->ready++;
    return pump(e);
}

static int on_arrival(engine_t *e)
{
    size_t i = e->next_arrival++;
    e->last_arrival = e->now;
    e->cold[i] = e->ready == 0;
    if (pump(e) < 0)
        return -1;
    if (e->ops->on_arrival) {
        sim_observation_t obs;
        observe(e, &obs);
        apply_answer(e, e->ops->on_arrival(e->policy, &obs));
    }
    if (reconcile(e) < 0)
        return -1;
    return pump(e);
}

static int on_tick(engine_t *e)
{
    sim_observation_t obs;
    observe(e, &obs);
    apply_answer(e, e->ops->on_tick(e->policy, &obs));
    if (reconcile(e) < 0)
        return -1;
    return pump(e);
}

/* ---- the run ---- */

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double nearest_rank(const double *sorted, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n - 1e-9);
    return sorted[rank > 0 ? rank - 1 : 0];
}

static void summarise(engine_t *e)
{
    sim_result_t *out = e->out;
    size_t n = e->w->n;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += e->latency[i];
        out->cold_starts += e->cold[i];
    }
    qsort(e->latency, n, sizeof(*e->latency), compare_double);
    out->mean_seconds = n ? sum / (double)n : NAN;
    out->p50_seconds = n ? nearest_rank(e->latency, n, 0.50) : NAN;
    out->p95_seconds = n ? nearest_rank(e->latency, n, 0.95) : NAN;
    out->p99_seconds = n ? nearest_rank(e->latency, n, 0.99) : NAN;
    out->max_seconds = n ? e->latency[n - 1] : NAN;
    out->replica_seconds = e->replica_seconds;
    out->end_seconds = e->now;
}

static int run_events(engine_t *e)
{
    const sim_workload_t *w = e->w;
    double end = w->span + e->opts->tail_seconds;
    double tick = e->ops->tick_seconds;
    uint64_t tick_k = 1;
    for (;;) {
        double ta = e->next_arrival < w->n ? w->arrival[e->next_arrival] : INFINITY;
        double th = e->heap_n > 0 ? e->heap[0].t : INFINITY;
        double tt = tick > 0 ? (double)tick_k * tick : INFINITY;
        double t = fmin(ta, fmin(th, tt));
        if (!isfinite(t) || (e->out->answered == w->n && t > end))
            break;
        advance(e, t);
        int rc;
        if (th <= ta && th <= tt) {
            event_t ev = heap_pop(e);
            rc = ev.kind == EV_COMPLETE ? on_complete(e, &ev) : on_ready(e, &ev);
        } else if (ta <= tt) {
            rc = on_arrival(e);
        } else {
            tick_k++;
            rc = on_tick(e);
        }
        if (rc < 0)
            return -1;
    }
    advance(e, fmax(end, e->now));
    return 0;
}

int sim_run(const sim_workload_t *w, const sim_model_t *model, const sim_policy_ops_t *policy,
            const sim_options_t *opts, sim_result_t *out, char *err, size_t errlen)
{
    int rc = -1;
    engine_t *e = calloc(1, sizeof(*e));
    memset(out, 0, sizeof(*out));
    snprintf(out->policy, sizeof(out->policy), "%s", policy->name);
    out->requests = w->n;
    if (!e)
        goto oom;
    e->w = w;
    e->model = model;
    e->ops = policy;
    e->opts = opts;
    e->out = out;
    e->last_arrival = -1;
    e->idle_since = -1;
    e->recent_p95 = NAN;
    size_t n = w->n ? w->n : 1;
    e->latency = calloc(n, sizeof(*e->latency));
    e->cold = calloc(n, sizeof(*e->cold));
    e->recent_t = calloc(n, sizeof(*e->recent_t));
    e->recent_bucket = calloc(n, sizeof(*e->recent_bucket));
    if (!e->latency || !e->cold || !e->recent_t || !e->recent_bucket)
        goto oom;
    e->policy = policy->create(model);
    if (!e->policy) {
        snprintf(err, errlen, "policy %s: cannot create its state", policy->name);
        goto done;
    }
    e->desired = model->min_replicas;
    if (reconcile(e) < 0 || run_events(e) < 0)
        goto oom;
    summarise(e);
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "policy %s: out of memory", policy->name);
done:
    if (e) {
        if (e->policy)
            policy->destroy(e->policy);
        free(e->heap);
        free(e->replicas);
        free(e->candidates);
        free(e->candidate_at);
        free(e->latency);
        free(e->cold);
        free(e->recent_t);
        free(e->recent_bucket);
        free(e);
    }
    return rc;
}
