/* autoscaler_config.c - GET /autoscaler/config and POST /autoscaler/config.
 *
 * The live configuration is the autoscaler section plus, under "models",
 * each model's settings that are read afresh where they are used (bounds,
 * target concurrency, custom metric, cold-start and load timeouts). POST
 * merges a partial document over it with config_live_merge, whose
 * autoscaler part is the function that reads the configuration file, so
 * both accept and refuse the same things. The document is validated whole
 * and applied all-or-nothing; an accepted change is applied at once (the
 * next decision, request or replica start uses it), saved as a new version
 * in the store (it survives restarts and takes precedence over the file),
 * and recorded as a config_updated event. A model's values are read from
 * its pool, which holds the settings in force, and written back there.
 */
#include "api/api.h"
#include "api/request.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Copies of every pool's model, in the configuration's order; params
 * borrowed. The caller frees the array (only the array). */
static model_config_t *live_models(const api_context_t *api, size_t *n)
{
    *n = dispatch_pool_count(api->dispatch);
    model_config_t *models = xcalloc(*n ? *n : 1, sizeof(*models));
    for (size_t i = 0; i < *n; i++)
        models[i] = *pool_model(dispatch_pool_at(api->dispatch, i));
    return models;
}

void api_autoscaler_config_get(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    (void)params;
    size_t n;
    model_config_t *models = live_models(api, &n);
    json_t *doc = config_live_to_json(autoscaler_config(api->autoscaler), models, n);
    free(models);
    api_reply_json(req, 200, json_pack("{s:b, s:o}", "success", 1, "configuration", doc));
}

static void reply_problems(http_request_t *req, config_problems_t *problems)
{
    json_t *fields = json_array(), *values = json_object(), *ranges = json_object();
    char message[512] = "Invalid autoscaler configuration";
    for (size_t i = 0; i < problems->count; i++) {
        config_problem_t *p = &problems->items[i];
        json_array_append_new(fields, json_string(p->field));
        json_object_set(values, p->field, p->provided_value ? p->provided_value : json_null());
        json_object_set_new(ranges, p->field,
                            p->valid_range[0] ? json_string(p->valid_range) : json_null());
        if (i == 0)
            snprintf(message, sizeof(message), "Invalid autoscaler configuration: %.160s %.300s",
                     p->field, p->message);
    }
    json_t *body = json_pack("{s:b, s:s, s:s, s:o, s:o, s:o}", "success", 0, "error",
                             "invalid_configuration", "message", message, "invalid_fields", fields,
                             "provided_values", values, "valid_ranges", ranges);
    config_problems_clear(problems);
    api_reply_json(req, 400, body);
}

/* The event is named after the configuration version it records, which
 * the store never reuses: two changes accepted within one millisecond
 * still get two events. */
static void record_change(api_context_t *api, const json_t *updated, double now, int64_t version)
{
    char id[64];
    snprintf(id, sizeof(id), "config_v%" PRId64, version);
    json_t *details = json_pack("{s:O}", "updated_fields", updated);
    store_event_t ev = {
        .id = id,
        .timestamp = now,
        .type = "config_updated",
        .trigger = "manual",
        .duration_seconds = 0,
        .success = 1,
        .details = details,
    };
    store_add_event(autoscaler_store(api->autoscaler), &ev);
    json_decref(details);
}

/* Saves next and the models' overrides as a new version, then applies
 * them. Returns 0, or -1 when the store refused (nothing is applied). The
 * overrides reference is taken either way. */
static int save_and_apply(api_context_t *api, const autoscaler_config_t *next,
                          const model_config_t *next_models, size_t n, json_t *overrides,
                          const json_t *updated)
{
    double now = time_unix_now();
    json_t *whole = config_autoscaler_to_json(next);
    json_object_set(whole, "models", overrides);
    int64_t version = store_save_config(autoscaler_store(api->autoscaler), now, whole);
    json_decref(whole);
    if (version < 0) {
        json_decref(overrides);
        return -1;
    }
    autoscaler_apply_config(api->autoscaler, next);
    for (size_t i = 0; i < n; i++)
        pool_update_settings(dispatch_pool_at(api->dispatch, i), &next_models[i]);
    json_decref(api->model_overrides);
    api->model_overrides = overrides;
    record_change(api, updated, now, version);
    return 0;
}

void api_autoscaler_config_post(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    (void)params;
    json_t *body = api_read_object(req);
    if (!body)
        return;
    const autoscaler_config_t *live = autoscaler_config(api->autoscaler);
    autoscaler_config_t next;
    config_problems_t problems;
    size_t n;
    model_config_t *models = live_models(api, &n);
    model_config_t *next_models = xcalloc(n ? n : 1, sizeof(*next_models));
    json_t *updated = NULL;

    if (config_live_merge(live, models, n, body, CONFIG_MODELS_CHANGE, &next, next_models,
                          &problems) < 0) {
        reply_problems(req, &problems);
        goto done;
    }
    updated = config_live_diff(live, models, &next, next_models, n);
    if (json_array_size(updated) > 0) {
        json_t *overrides =
            api->model_overrides ? json_deep_copy(api->model_overrides) : json_object();
        config_record_overrides(overrides, models, next_models, n);
        if (save_and_apply(api, &next, next_models, n, overrides, updated) < 0) {
            api_reply_error(req, 500, "store_error",
                            "the configuration could not be saved; nothing was changed");
            goto done;
        }
    }
    char stamp[32];
    api_format_timestamp(stamp);
    api_reply_json(req, 200,
                   json_pack("{s:b, s:s, s:O, s:s, s:b}", "success", 1, "message",
                             json_array_size(updated)
                                 ? "Autoscaler configuration updated successfully"
                                 : "Nothing changed",
                             "updated_fields", updated, "effective_timestamp", stamp,
                             "restart_required", config_needs_restart(updated)));

done:
    json_decref(updated);
    json_decref(body);
    free(next_models);
    free(models);
}
