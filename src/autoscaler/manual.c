/* manual.c - POST /autoscaler/scale: operator-driven scaling.
 *
 * A manual operation is checked whole before anything moves: every model
 * named exists, every target lies in the allowed range and goes in the
 * action's direction, no cooldown blocks it (unless overridden), and the
 * memory the new replicas need is available (never lifted, not even by
 * force). Then each model is resized and the operation tracked like an
 * automatic one. A manual operation starts the cooldowns, so that the
 * autoscaler does not undo it at the next tick.
 */
#include "autoscaler/internal.h"
#include "util/text.h"
#include "util/timefmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SHOWN_MAX 64 /* bytes of a caller's name quoted in a message */

typedef struct plan {
    pool_t *pool;
    model_state_t *state;
    int current;
    int target;
} plan_t;

typedef struct action_rule {
    const char *name;
    int direction; /* +1 grow, -1 shrink, 0 either (load_model) */
    bool models_required;
    const char *event_type;
} action_rule_t;

static const action_rule_t rules[] = {
    {"scale_up", +1, false, "scale_up"},      {"scale_down", -1, false, "scale_down"},
    {"zero_scale", -1, false, "zero_scale"},  {"load_model", +1, true, "scale_up"},
    {"unload_model", -1, true, "zero_scale"},
};

static const action_rule_t *find_rule(const char *name)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (strcmp(rules[i].name, name) == 0)
            return &rules[i];
    return NULL;
}

static void fail(int *status, json_t **body, int code, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void fail(int *status, json_t **body, int code, const char *error, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    *status = code;
    *body = json_pack("{s:b, s:s, s:s}", "success", 0, "error", error, "message", message);
}

static int current_replicas(const pool_t *pool)
{
    pool_counts_t c;
    pool_get_counts(pool, &c);
    return c.starting + c.ready;
}

/* The models an action applies to: those named, or by default every
 * auto-managed model. */
static int collect_models(autoscaler_t *a, const scale_request_t *req, const action_rule_t *rule,
                          plan_t *plans, size_t *n, int *status, json_t **body)
{
    *n = 0;
    if (req->models) {
        if (req->n_models == 0) {
            fail(status, body, 400, "invalid_request",
                 "field 'models' must name at least one model (or be left out)");
            return -1;
        }
        /* Named twice, a model would get two events and have its new
         * replicas admitted against memory twice. */
        for (size_t i = 1; i < req->n_models; i++) {
            for (size_t j = 0; j < i; j++) {
                if (strcmp(req->models[j], req->models[i]) == 0) {
                    char shown[SHOWN_MAX + 4];
                    fail(status, body, 400, "invalid_request",
                         "field 'models': '%s' is named twice",
                         text_echo(shown, sizeof(shown), req->models[i], SHOWN_MAX));
                    return -1;
                }
            }
        }
        for (size_t i = 0; i < req->n_models && *n < OP_MAX_MODELS; i++) {
            pool_t *pool = dispatch_find_pool(a->dispatch, req->models[i]);
            if (!pool) {
                char shown[SHOWN_MAX + 4];
                fail(status, body, 404, "model_not_found",
                     "model '%s' is not configured (GET /models lists the models)",
                     text_echo(shown, sizeof(shown), req->models[i], SHOWN_MAX));
                return -1;
            }
            plans[(*n)++] = (plan_t){.pool = pool, .state = autoscaler_model_state(a, pool)};
        }
        return 0;
    }
    if (rule->models_required) {
        fail(status, body, 400, "invalid_request", "field 'models' is required for %s",
             req->action);
        return -1;
    }
    for (size_t i = 0; i < a->n_models && *n < OP_MAX_MODELS; i++) {
        pool_t *pool = a->models[i].pool;
        if (!pool_model(pool)->always_loaded)
            plans[(*n)++] = (plan_t){.pool = pool, .state = &a->models[i]};
    }
    if (*n == 0) {
        fail(status, body, 400, "invalid_request", "no auto-managed model to %s", req->action);
        return -1;
    }
    return 0;
}

static int default_target(const scale_request_t *req, int current)
{
    if (strcmp(req->action, "zero_scale") == 0 || strcmp(req->action, "unload_model") == 0)
        return 0;
    /* A given target is the count asked for, for load_model too (FIELDS.md:
     * "to at least 1 (or target_replicas)"): one below the current count
     * shrinks the model, and 0 is refused by check_target. Raising it to
     * the current count instead answered "completed" for a count nobody
     * asked for. */
    if (req->target_replicas >= 0)
        return req->target_replicas;
    if (strcmp(req->action, "scale_up") == 0)
        return current + 1;
    if (strcmp(req->action, "scale_down") == 0)
        return current - 1;
    if (strcmp(req->action, "load_model") == 0)
        return current > 1 ? current : 1;
    return 0;
}

static int check_target(autoscaler_t *a, const scale_request_t *req, const action_rule_t *rule,
                        plan_t *p, int *status, json_t **body)
{
    const model_config_t *m = pool_model(p->pool);
    const char *name = pool_name(p->pool);
    bool to_zero = p->target == 0;
    bool unloads = strcmp(rule->name, "zero_scale") == 0 || strcmp(rule->name, "unload_model") == 0;
    if (unloads && req->target_replicas > 0) {
        fail(status, body, 400, "invalid_request",
             "field 'target_replicas' must be 0 or absent for %s (got %d)", rule->name,
             req->target_replicas);
        return -1;
    }
    if (strcmp(rule->name, "load_model") == 0 && p->target < 1) {
        fail(status, body, 400, "invalid_request",
             "field 'target_replicas' must be at least 1 for load_model (got %d)", p->target);
        return -1;
    }
    if (to_zero && !req->force && m->always_loaded) {
        fail(status, body, 400, "invalid_request",
             "model '%s' is always_loaded and cannot go to zero replicas without 'force'", name);
        return -1;
    }
    if (to_zero && !req->force && strcmp(rule->name, "zero_scale") == 0 &&
        !a->cfg.zero_scaling_enabled) {
        fail(status, body, 400, "invalid_request",
             "zero-scaling is disabled (zero_scaling_enabled is false); use 'force' to override");
        return -1;
    }
    int lo = req->force ? 0 : config_floor_replicas(m);
    int hi = req->force ? CONFIG_REPLICAS_LIMIT : m->max_replicas;
    if (p->target < lo || p->target > hi) {
        fail(status, body, 400, "invalid_request",
             "field 'target_replicas' must be between %d and %d for model '%s'%s (got %d)", lo, hi,
             name, req->force ? "" : " (use 'force' to go outside min/max_replicas)", p->target);
        return -1;
    }
    if (rule->direction > 0 && p->target <= p->current && strcmp(rule->name, "load_model") != 0) {
        fail(status, body, 400, "invalid_request",
             "field 'target_replicas' must be above the current %d replicas of model '%s' for "
             "scale_up (got %d)",
             p->current, name, p->target);
        return -1;
    }
    if (rule->direction < 0 && p->target >= p->current && strcmp(rule->name, "scale_down") == 0) {
        fail(status, body, 400, "invalid_request",
             "field 'target_replicas' must be below the current %d replicas of model '%s' for "
             "scale_down (got %d)",
             p->current, name, p->target);
        return -1;
    }
    return 0;
}

static int check_cooldown(autoscaler_t *a, const scale_request_t *req, const plan_t *p, double now,
                          int *status, json_t **body)
{
    if (req->override_cooldown || !p->state || p->target == p->current)
        return 0;
    cooldown_check_t check;
    gate_cooldown(&a->cfg, &p->state->times, p->current, p->target, now, &check);
    double left = check.seconds_left;
    const char *which = check.setting;
    if (left <= 0)
        return 0;
    fail(status, body, 409, "cooldown_active",
         "model '%s' is in its cooldown (%s): %.0f seconds left; set 'override_cooldown' to "
         "proceed",
         pool_name(p->pool), which, ceil(left));
    json_object_set_new(*body, "cooldown_remaining_seconds", json_integer((json_int_t)ceil(left)));
    json_object_set_new(*body, "model_name", json_string(pool_name(p->pool)));
    return -1;
}

static int check_memory(autoscaler_t *a, const scale_request_t *req, plan_t *plans, size_t n,
                        int *status, json_t **body)
{
    double required = 0;
    for (size_t i = 0; i < n; i++)
        if (plans[i].target > plans[i].current)
            required +=
                pool_replica_memory_mb(plans[i].pool) * (plans[i].target - plans[i].current);
    /* All the new replicas together, as one block: the operation is
     * admitted whole or not at all. */
    double available = autoscaler_admissible_mb(a);
    if (gate_memory_fit(available, required, 1) == 1) {
        autoscaler_reserve_mb(a, required);
        return 0;
    }
    int previous = 0, target = 0;
    for (size_t i = 0; i < n; i++) {
        previous += plans[i].current;
        target += plans[i].target;
    }
    *status = 503;
    *body =
        json_pack("{s:b, s:s, s:s, s:n, s:s, s:i, s:i, s:s, s:{s:f, s:f}, s:[s, s]}", "success", 0,
                  "error", "scaling_failed", "message", "", "scaling_id", "requested_action",
                  req->action, "target_scale", target, "current_scale", previous, "failure_reason",
                  "resource_constraint", "details", "required_memory_mb", required,
                  "available_memory_mb", available, "recommendations",
                  "Scale down other models first", "Use a model with a smaller memory footprint");
    char message[256];
    snprintf(message, sizeof(message),
             "Failed to %s: the new replicas need %.0f MiB of memory and %.0f MiB are available",
             req->action, required, available);
    json_object_set_new(*body, "message", json_string(message));
    /* Refused before any change: recorded, so the history shows it; the
     * answer names the first record. */
    for (size_t i = 0; i < n; i++) {
        if (plans[i].target <= plans[i].current)
            continue;
        operation_t *op = op_record_incident(
            a, plans[i].pool, "scaling_failed", "manual", plans[i].current, plans[i].target,
            json_pack("{s:s, s:f, s:f}", "failure_reason", "resource_constraint",
                      "required_memory_mb", required, "available_memory_mb", available));
        if (json_is_null(json_object_get(*body, "scaling_id")))
            json_object_set_new(*body, "scaling_id", json_string(op->id));
    }
    return -1;
}

static double estimated_load_ms(const pool_t *pool)
{
    pool_info_t info;
    pool_get_info(pool, &info);
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < info.n_replicas; i++) {
        if (info.replicas[i].start_time_ms > 0) {
            sum += info.replicas[i].start_time_ms;
            n++;
        }
    }
    return n ? sum / n : NAN;
}

static void apply_plans(autoscaler_t *a, const scale_request_t *req, const action_rule_t *rule,
                        plan_t *plans, size_t n, double now, int *status, json_t **body)
{
    uint64_t t0 = uv_hrtime();
    operation_t *op = op_begin(a, req->action, "manual", req->reason ? req->reason : "", true);
    bool any_start = false;
    for (size_t i = 0; i < n; i++) {
        plan_t *p = &plans[i];
        if (p->target == p->current) {
            op_add_unchanged(op, p->pool, p->current); /* reported, not recorded */
            continue;
        }
        const char *type = p->target > p->current ? "scale_up"
                           : p->target == 0       ? "zero_scale"
                                                  : rule->event_type;
        if (p->target < p->current && p->target > 0)
            type = "scale_down";
        double memory =
            p->target > p->current ? pool_replica_memory_mb(p->pool) * (p->target - p->current) : 0;
        op_add_entry(a, op, p->pool, type, p->current, p->target, memory);
        if (p->target > p->current) {
            any_start = true;
            double est = estimated_load_ms(p->pool);
            if (!isnan(est) && (isnan(op->estimated_load_ms) || est > op->estimated_load_ms))
                op->estimated_load_ms = est;
        }
        pool_resize(p->pool, p->target);
        if (p->state) {
            if (p->target > p->current)
                p->state->times.last_scale_up = now;
            p->state->times.last_change = now;
            /* The autoscaler leaves the operator's count alone for the
             * cooldown that guards the other direction, panic included. */
            p->state->manual_hold_until =
                now + (p->target > p->current ? a->cfg.cooldowns.scale_down_cooldown_seconds
                                              : a->cfg.cooldowns.scale_up_cooldown_seconds);
            policy_state_reset(&p->state->policy);
            p->state->capped_growth_target = 0;
        }
    }
    op->allocation_ms = (double)(uv_hrtime() - t0) / 1e6;
    op_check_all(a);
    *status = any_start && op->status == OP_IN_PROGRESS ? 202 : 200;
    *body = op_to_json(a, op);
}

void autoscaler_scale(autoscaler_t *a, const scale_request_t *req, int *status, json_t **body)
{
    const action_rule_t *rule = find_rule(req->action);
    if (!rule) {
        char shown[SHOWN_MAX + 4];
        fail(status, body, 400, "invalid_request",
             "field 'action' must be one of scale_up, scale_down, zero_scale, load_model, "
             "unload_model (got '%s')",
             text_echo(shown, sizeof(shown), req->action, SHOWN_MAX));
        return;
    }
    plan_t plans[OP_MAX_MODELS];
    size_t n;
    if (collect_models(a, req, rule, plans, &n, status, body) < 0)
        return;
    double now = time_mono_now();
    for (size_t i = 0; i < n; i++) {
        plans[i].current = current_replicas(plans[i].pool);
        plans[i].target = default_target(req, plans[i].current);
        if (check_target(a, req, rule, &plans[i], status, body) < 0 ||
            check_cooldown(a, req, &plans[i], now, status, body) < 0)
            return;
    }
    if (check_memory(a, req, plans, n, status, body) < 0)
        return;
    apply_plans(a, req, rule, plans, n, now, status, body);
}

json_t *autoscaler_operation_json(autoscaler_t *a, const char *scaling_id)
{
    op_check_all(a);
    operation_t *op = op_find(a, scaling_id);
    return op ? op_to_json(a, op) : NULL;
}
