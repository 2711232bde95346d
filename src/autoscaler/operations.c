/* operations.c - scaling operations from decision to done, and their
 * events in the store.
 *
 * An operation (automatic, manual or a cold start) changes one or more
 * models' replica counts. Each model's change is stored at once as a
 * pending event with the metrics that triggered it; it is completed when
 * the pool reaches the target (ready replicas for growth, no replicas left
 * draining for shrinking) with the measured duration, or failed when a
 * load fails on the way. One decision interval after completion the same
 * metrics are read again and stored as the event's outcome.
 */
#include "autoscaler/internal.h"
#include "util/json_number.h"
#include "util/log.h"
#include "util/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void format_id(char *out, size_t len, double now, unsigned seq)
{
    char stamp[TIME_STAMP_LEN];
    time_format_stamp(now, stamp);
    snprintf(out, len, "scale_%s_%04u", stamp, seq % 10000);
}

operation_t *op_begin(autoscaler_t *a, const char *action, const char *trigger, const char *reason,
                      bool manual)
{
    /* The oldest slot that is not still running: an operation in
     * progress keeps its slot until it completes. */
    operation_t *op = &a->ops[a->n_ops % OP_HISTORY];
    for (size_t k = 0; k < OP_HISTORY && op->status == OP_IN_PROGRESS && op->id[0]; k++) {
        a->n_ops++;
        op = &a->ops[a->n_ops % OP_HISTORY];
    }
    if (op->status == OP_IN_PROGRESS && op->id[0])
        op_abandon(a, op, "superseded", "too many operations in progress at once");
    a->n_ops++;
    memset(op, 0, sizeof(*op));
    op->started_unix = time_unix_now();
    format_id(op->id, sizeof(op->id), op->started_unix, ++a->op_seq);
    snprintf(op->action, sizeof(op->action), "%s", action);
    snprintf(op->trigger, sizeof(op->trigger), "%s", trigger ? trigger : "none");
    snprintf(op->reason, sizeof(op->reason), "%s", reason ? reason : "");
    op->manual = manual;
    op->started_ns = uv_hrtime();
    op->estimated_load_ms = NAN;
    op->status = OP_IN_PROGRESS;
    return op;
}

void op_add_entry(autoscaler_t *a, operation_t *op, pool_t *pool, const char *type, int previous,
                  int target, double added_memory_mb)
{
    if (op->n >= OP_MAX_MODELS)
        return;
    op_entry_t *e = &op->entries[op->n];
    e->pool = pool;
    e->type = type;
    e->previous = previous;
    e->target = target;
    e->added_memory_mb = added_memory_mb;
    char id[sizeof(op->id)];
    memcpy(id, op->id, sizeof(id));
    if (op->n == 0)
        snprintf(e->event_id, sizeof(e->event_id), "%s", id);
    else
        snprintf(e->event_id, sizeof(e->event_id), "%s_m%zu", id, op->n);
    op->n++;

    json_t *metrics = autoscaler_model_metrics(a, pool);
    json_t *details = json_pack("{s:s, s:b}", "reason", op->reason, "manual", op->manual);
    if (added_memory_mb > 0)
        json_object_set_new(details, "additional_memory_mb", json_real(added_memory_mb));
    /* For the history's resource impact: what one replica takes. */
    double replica_mb = pool_replica_memory_mb(pool);
    if (replica_mb > 0)
        json_object_set_new(details, "replica_memory_mb", json_real(replica_mb));
    store_event_t ev = {
        .id = e->event_id,
        .timestamp = op->started_unix,
        .type = type,
        .trigger = op->manual ? "manual" : op->trigger,
        .model = pool_name(pool),
        .previous_scale = previous,
        .target_scale = target,
        .actual_scale = previous,
        .duration_seconds = NAN,
        .success = -1,
        .trigger_metrics = metrics,
        .details = details,
    };
    store_add_event(a->store, &ev);
    json_decref(metrics);
    json_decref(details);
    log_info("autoscaler", "%s model=%s from=%d to=%d trigger=%s id=%s", type, pool_name(pool),
             previous, target, ev.trigger, e->event_id);
}

void op_add_unchanged(operation_t *op, pool_t *pool, int current)
{
    if (op->n >= OP_MAX_MODELS)
        return;
    op_entry_t *e = &op->entries[op->n++];
    memset(e, 0, sizeof(*e));
    e->pool = pool;
    e->type = "unchanged";
    e->previous = e->target = current;
    e->done = e->success = true;
}

static bool reached(const op_entry_t *e, const pool_counts_t *c)
{
    if (e->target > e->previous)
        return c->ready >= e->target;
    return c->starting + c->ready <= e->target && c->draining == 0;
}

/* The pool was sent the other way (a shrink after this growth, a growth
 * after this shrink, a load failure that reset it): this entry will not
 * get to its target. A growth that grows further still gets there. */
static bool overtaken(const op_entry_t *e, const pool_counts_t *c)
{
    return e->target > e->previous ? c->desired < e->target : c->desired > e->target;
}

static void finish_entry(autoscaler_t *a, operation_t *op, op_entry_t *e, bool success)
{
    pool_counts_t c;
    pool_get_counts(e->pool, &c);
    e->done = true;
    e->success = success;
    double duration = (double)(uv_hrtime() - op->started_ns) / 1e9;
    json_t *details = NULL;
    if (!success)
        details = json_pack("{s:s, s:s}", "failure_reason",
                            e->failure_reason[0] ? e->failure_reason : "superseded", "message",
                            e->failure_message);
    store_finish_event(a->store, e->event_id, c.ready, duration, success, details);
    json_decref(details);
    if (success && a->n_outcomes < OUTCOME_PENDING) {
        outcome_due_t *due = &a->outcomes[a->n_outcomes++];
        snprintf(due->event_id, sizeof(due->event_id), "%s", e->event_id);
        due->pool = e->pool;
        due->due = time_mono_now() + a->cfg.timing.decision_interval_seconds;
    }
}

static void check_op(autoscaler_t *a, operation_t *op)
{
    bool all_done = true, all_ok = true;
    for (size_t i = 0; i < op->n; i++) {
        op_entry_t *e = &op->entries[i];
        if (!e->done) {
            pool_counts_t c;
            pool_get_counts(e->pool, &c);
            if (reached(e, &c))
                finish_entry(a, op, e, true);
            else if (overtaken(e, &c))
                finish_entry(a, op, e, false);
        }
        all_done &= e->done;
        all_ok &= e->success;
    }
    if (all_done) {
        op->status = all_ok ? OP_COMPLETED : OP_FAILED;
        op->finished_ns = uv_hrtime();
    }
}

void op_abandon(autoscaler_t *a, operation_t *op, const char *reason, const char *message)
{
    for (size_t i = 0; i < op->n; i++) {
        op_entry_t *e = &op->entries[i];
        if (e->done)
            continue;
        snprintf(e->failure_reason, sizeof(e->failure_reason), "%s", reason);
        snprintf(e->failure_message, sizeof(e->failure_message), "%s", message);
        finish_entry(a, op, e, false);
    }
    op->status = OP_FAILED;
    op->finished_ns = uv_hrtime();
}

void op_abandon_all(autoscaler_t *a, const char *reason, const char *message)
{
    size_t kept = a->n_ops < OP_HISTORY ? a->n_ops : OP_HISTORY;
    for (size_t i = 0; i < kept; i++)
        if (a->ops[i].status == OP_IN_PROGRESS)
            op_abandon(a, &a->ops[i], reason, message);
}

void op_check_all(autoscaler_t *a)
{
    size_t kept = a->n_ops < OP_HISTORY ? a->n_ops : OP_HISTORY;
    for (size_t i = 0; i < kept; i++)
        if (a->ops[i].status == OP_IN_PROGRESS)
            check_op(a, &a->ops[i]);
}

bool op_any_in_progress(const autoscaler_t *a)
{
    size_t kept = a->n_ops < OP_HISTORY ? a->n_ops : OP_HISTORY;
    for (size_t i = 0; i < kept; i++)
        if (a->ops[i].status == OP_IN_PROGRESS)
            return true;
    return false;
}

void op_note_load_failure(autoscaler_t *a, pool_t *pool, const char *reason, const char *message)
{
    size_t kept = a->n_ops < OP_HISTORY ? a->n_ops : OP_HISTORY;
    for (size_t i = 0; i < kept; i++) {
        operation_t *op = &a->ops[i];
        if (op->status != OP_IN_PROGRESS)
            continue;
        for (size_t j = 0; j < op->n; j++) {
            op_entry_t *e = &op->entries[j];
            if (e->done || e->pool != pool || e->target <= e->previous)
                continue;
            snprintf(e->failure_reason, sizeof(e->failure_reason), "%s", reason);
            snprintf(e->failure_message, sizeof(e->failure_message), "%s", message ? message : "");
            finish_entry(a, op, e, false);
        }
        check_op(a, op);
    }
}

operation_t *op_record_incident(autoscaler_t *a, pool_t *pool, const char *type,
                                const char *trigger, int previous, int target, json_t *details)
{
    operation_t *op = op_begin(a, type, trigger, NULL, false);
    json_t *metrics = autoscaler_model_metrics(a, pool);
    store_event_t ev = {
        .id = op->id,
        .timestamp = op->started_unix,
        .type = type,
        .trigger = trigger,
        .model = pool_name(pool),
        .previous_scale = previous,
        .target_scale = target,
        .actual_scale = target,
        .duration_seconds = 0,
        .success = 0,
        .trigger_metrics = metrics,
        .details = details,
    };
    store_add_event(a->store, &ev);
    json_decref(metrics);
    json_decref(details);
    op->status = OP_FAILED;
    op->finished_ns = op->started_ns;
    return op;
}

void op_write_due_outcomes(autoscaler_t *a)
{
    double now = time_mono_now();
    size_t kept = 0;
    for (size_t i = 0; i < a->n_outcomes; i++) {
        outcome_due_t *due = &a->outcomes[i];
        if (now < due->due) {
            a->outcomes[kept++] = *due;
            continue;
        }
        json_t *metrics = autoscaler_model_metrics(a, due->pool);
        store_set_outcome(a->store, due->event_id, metrics);
        json_decref(metrics);
    }
    a->n_outcomes = kept;
}

operation_t *op_find(autoscaler_t *a, const char *id)
{
    size_t kept = a->n_ops < OP_HISTORY ? a->n_ops : OP_HISTORY;
    for (size_t i = 0; i < kept; i++)
        if (strcmp(a->ops[i].id, id) == 0)
            return &a->ops[i];
    return NULL;
}

/* ---- the operation document ---- */

static const char *status_name(op_status_t s)
{
    return s == OP_IN_PROGRESS ? "in_progress" : s == OP_COMPLETED ? "completed" : "failed";
}

static json_t *steps_json(const operation_t *op, bool grows)
{
    const char *loading = !grows ? "skipped" : status_name(op->status);
    json_t *loading_step = json_pack("{s:s, s:s}", "step", grows ? "model_loading" : "draining",
                                     "status", grows ? loading : status_name(op->status));
    if (op->status == OP_IN_PROGRESS)
        json_object_set_new(loading_step, "estimated_duration_ms",
                            json_number_or_null(op->estimated_load_ms));
    else
        json_object_set_new(loading_step, "duration_ms",
                            json_real((double)(op->finished_ns - op->started_ns) / 1e6));
    return json_pack("[{s:s, s:s, s:f}, o]", "step", "resource_allocation", "status", "completed",
                     "duration_ms", op->allocation_ms, loading_step);
}

json_t *op_to_json(autoscaler_t *a, const operation_t *op)
{
    (void)a;
    json_t *models = json_array(), *detail = json_array();
    int previous = 0, target = 0;
    bool grows = false;
    double memory = 0;
    json_t *failure = NULL;
    for (size_t i = 0; i < op->n; i++) {
        const op_entry_t *e = &op->entries[i];
        pool_counts_t c;
        pool_get_counts(e->pool, &c);
        previous += e->previous;
        target += e->target;
        grows |= e->target > e->previous;
        memory += e->added_memory_mb;
        json_array_append_new(models, json_string(pool_name(e->pool)));
        json_array_append_new(
            detail, json_pack("{s:s, s:s?, s:i, s:i, s:i, s:i, s:s}", "model", pool_name(e->pool),
                              "event_id", e->event_id[0] ? e->event_id : NULL, "previous_scale",
                              e->previous, "target_scale", e->target, "ready_replicas", c.ready,
                              "starting_replicas", c.starting, "status",
                              e->done ? (e->success ? "completed" : "failed") : "in_progress"));
        bool load_failure = strcmp(e->failure_reason, "timeout") == 0 ||
                            strcmp(e->failure_reason, "backend_error") == 0;
        if (e->done && !e->success && load_failure && !failure)
            failure = json_pack("{s:s, s:s, s:s, s:s, s:f}", "error", "model_load_failed",
                                "message", e->failure_message, "model_name", pool_name(e->pool),
                                "failure_reason", e->failure_reason, "timeout_seconds",
                                pool_model(e->pool)->load_timeout_seconds);
    }
    char when[TIME_ISO_LEN];
    time_format_iso(op->started_unix, when);
    json_t *estimate = json_null();
    if (op->status == OP_IN_PROGRESS && !isnan(op->estimated_load_ms)) {
        char text[64];
        snprintf(text, sizeof(text), "%.1f seconds", op->estimated_load_ms / 1000.0);
        estimate = json_string(text);
    }
    json_t *doc = json_pack(
        "{s:b, s:s, s:s, s:s, s:i, s:i, s:o, s:o, s:s, s:s, s:s, s:o, s:o, s:{s:f, s:n, s:n}}",
        "success", op->status != OP_FAILED, "timestamp", when, "scaling_id", op->id, "action",
        op->action, "previous_scale", previous, "target_scale", target, "affected_models", models,
        "estimated_completion_time", estimate, "status", status_name(op->status), "trigger",
        op->manual ? "manual" : op->trigger, "reason", op->reason, "models", detail, "steps",
        steps_json(op, grows), "resource_requirements", "additional_memory_mb", memory,
        "additional_gpu_memory_mb", "cpu_cores_required");
    if (failure)
        json_object_set_new(doc, "failure", failure);
    return doc;
}
