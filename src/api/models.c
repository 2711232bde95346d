/* models.c - GET /models, GET /models/{name}, POST /models/{name}/replicas.
 *
 * The model document is built from a pool snapshot; every figure in it is
 * measured (load time inside the worker, start time spawn -> READY at the
 * gateway, resident memory read from /proc now).
 */
#include "api/api.h"
#include "api/request.h"
#include "backends/backend.h"

static json_t *replica_json(const replica_info_t *r)
{
    return json_pack("{s:I, s:i, s:s, s:f, s:f, s:f, s:I, s:I}", "id", (json_int_t)r->id, "pid",
                     r->pid, "state", r->state, "load_time_ms", r->load_time_ms, "start_time_ms",
                     r->start_time_ms, "memory_mb", r->memory_mb, "requests_served",
                     (json_int_t)r->requests_served, "in_flight", (json_int_t)r->outstanding);
}

static json_t *tasks_json(const char *backend_name)
{
    json_t *tasks = json_array();
    const backend_t *b = backend_find(backend_name);
    if (b && (b->tasks & BACKEND_TASK_PREDICT))
        json_array_append_new(tasks, json_string("predict"));
    if (b && (b->tasks & BACKEND_TASK_SYNTHESIZE))
        json_array_append_new(tasks, json_string("synthesize"));
    return tasks;
}

static json_t *model_json(const pool_t *pool)
{
    pool_info_t info;
    pool_get_info(pool, &info);
    const model_config_t *m = pool_model(pool);
    json_t *replicas = json_array();
    for (size_t i = 0; i < info.n_replicas; i++)
        json_array_append_new(replicas, replica_json(&info.replicas[i]));
    return json_pack(
        "{s:s, s:s, s:o, s:O, s:s, s:i, s:i, s:i, s:b, s:I, s:I, s:I, s:I, s:s?, s:o}", "name",
        info.name, "backend", info.backend, "tasks", tasks_json(m->backend), "params", m->params,
        "state", info.state, "desired_replicas", info.desired_replicas, "min_replicas",
        m->min_replicas, "max_replicas", m->max_replicas, "always_loaded", m->always_loaded,
        "queue_length", (json_int_t)info.queue_length, "max_queue_length",
        (json_int_t)info.max_queue_length, "requests_accepted", (json_int_t)info.requests_accepted,
        "cold_starts", (json_int_t)info.cold_starts, "last_load_error", info.last_load_error,
        "replicas", replicas);
}

void api_models_list(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    (void)params;
    json_t *models = json_array();
    for (size_t i = 0; i < dispatch_pool_count(api->dispatch); i++)
        json_array_append_new(models, model_json(dispatch_pool_at(api->dispatch, i)));
    api_reply_json(req, 200, json_pack("{s:b, s:o}", "success", 1, "models", models));
}

pool_t *api_find_model(http_request_t *req, api_context_t *api, const char *name)
{
    pool_t *pool = dispatch_find_pool(api->dispatch, name);
    if (!pool)
        api_reply_error(req, 404, "model_not_found",
                        "model '%s' is not configured (GET /models lists the models)", name);
    return pool;
}

void api_models_get(http_request_t *req, const route_params_t *params, void *ctx)
{
    pool_t *pool = api_find_model(req, ctx, route_param(params, "name"));
    if (pool)
        api_reply_json(req, 200, json_pack("{s:b, s:o}", "success", 1, "model", model_json(pool)));
}

void api_models_set_replicas(http_request_t *req, const route_params_t *params, void *ctx)
{
    static const char *const known[] = {"replicas", NULL};
    api_context_t *api = ctx;
    pool_t *pool = api_find_model(req, api, route_param(params, "name"));
    if (!pool)
        return;
    json_t *body = api_read_object(req);
    if (!body)
        return;
    const model_config_t *m = pool_model(pool);
    long long replicas = 0;
    if (api_reject_unknown_fields(req, body, known) < 0 ||
        api_field_int(req, body, "replicas", true, config_floor_replicas(m), m->max_replicas,
                      &replicas) < 0)
        goto done;
    if (api->shutting_down || pool_resize(pool, (int)replicas) < 0) {
        api_reply_error(req, 503, "shutting_down", "the server is shutting down");
        goto done;
    }
    api_reply_json(req, 202, json_pack("{s:b, s:o}", "success", 1, "model", model_json(pool)));
done:
    json_decref(body);
}
