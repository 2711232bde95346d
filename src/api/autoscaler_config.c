/* autoscaler_config.c - GET /autoscaler/config and POST /autoscaler/config.
 *
 * POST merges a partial document over the live configuration with the same
 * function that reads the configuration file (config_autoscaler_merge), so
 * both accept and refuse the same things. The document is validated whole
 * and applied all-or-nothing; an accepted change is applied at once (the
 * next decision uses it), saved as a new version in the store (it survives
 * restarts and takes precedence over the file), and recorded as a
 * config_updated event.
 */
#include "api/api.h"
#include "api/request.h"
#include "util/timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void api_autoscaler_config_get(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    (void)params;
    json_t *doc = config_autoscaler_to_json(autoscaler_config(api->autoscaler));
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
            snprintf(message, sizeof(message), "Invalid autoscaler configuration: %.96s %.300s",
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
    if (config_autoscaler_merge(live, body, &next, &problems) < 0) {
        reply_problems(req, &problems);
        json_decref(body);
        return;
    }
    json_decref(body);
    json_t *updated = config_autoscaler_diff(live, &next);
    double now = time_unix_now();
    if (json_array_size(updated) > 0) {
        json_t *whole = config_autoscaler_to_json(&next);
        int64_t version = store_save_config(autoscaler_store(api->autoscaler), now, whole);
        if (version < 0) {
            json_decref(whole);
            json_decref(updated);
            api_reply_error(req, 500, "store_error",
                            "the configuration could not be saved; nothing was changed");
            return;
        }
        json_decref(whole);
        autoscaler_apply_config(api->autoscaler, &next);
        record_change(api, updated, now, version);
    }
    char stamp[32];
    api_format_timestamp(stamp);
    /* Every field is read afresh at the next decision; none waits for a
     * restart. (replicas.* are the defaults that model entries of the
     * configuration file take when they name no bounds of their own: they
     * apply when the file is read, see docs/configuration.md.) */
    bool restart = false;
    api_reply_json(req, 200,
                   json_pack("{s:b, s:s, s:o, s:s, s:b}", "success", 1, "message",
                             json_array_size(updated)
                                 ? "Autoscaler configuration updated successfully"
                                 : "Nothing changed",
                             "updated_fields", updated, "effective_timestamp", stamp,
                             "restart_required", restart));
}
