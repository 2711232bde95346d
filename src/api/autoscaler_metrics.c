/* autoscaler_metrics.c - POST /autoscaler/metrics: a custom gauge per model.
 *
 * Something outside the server (a queue's depth upstream, a batch backlog)
 * reports a figure for a model; a model whose configuration names that
 * figure (custom_metric_name, custom_metric_target) is then sized on it as
 * well as on its own traffic, the way KEDA's external metrics and Ray
 * Serve's custom autoscaling work. Off unless
 * advanced.custom_metrics_enabled is set. The whole body is checked before
 * anything is recorded, so a refused request changes nothing.
 */
#include "api/api.h"
#include "api/request.h"
#include "util/json_number.h"
#include "util/timefmt.h"

#include <math.h>
#include <string.h>

static int read_name(http_request_t *req, const json_t *body, const char **out)
{
    char msg[256];
    if (api_field_string(req, body, "name", true, out) < 0)
        return -1;
    json_t *v = json_object_get(body, "name");
    if (config_check_metric_name(*out, json_string_length(v), msg, sizeof(msg)) < 0) {
        api_reply_error(req, 400, "invalid_request", "field 'name' %s", msg);
        return -1;
    }
    return 0;
}

/* JSON has no NaN or infinity, so any number is finite; a string such as
 * "NaN" or "1e3" is refused rather than converted. */
static int read_value(http_request_t *req, const json_t *body, double *out)
{
    json_t *v = json_object_get(body, "value");
    if (!v) {
        api_reply_error(req, 400, "invalid_request",
                        "field 'value' is required and must be a finite number");
        return -1;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        api_reply_error(req, 400, "invalid_request",
                        "field 'value' must be a finite number (got %s)",
                        json_is_string(v)    ? "a string"
                        : json_is_boolean(v) ? "a boolean"
                        : json_is_null(v)    ? "null"
                        : json_is_object(v)  ? "an object"
                        : json_is_array(v)   ? "an array"
                                             : "a non-finite number");
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

void api_autoscaler_metrics_post(http_request_t *req, const route_params_t *params, void *ctx)
{
    static const char *const known[] = {"model", "name", "value", NULL};
    api_context_t *api = ctx;
    (void)params;
    json_t *body = api_read_object(req);
    if (!body)
        return;
    const char *model = NULL, *name = NULL;
    double value = 0;
    if (api_reject_unknown_fields(req, body, known) < 0 ||
        api_field_string(req, body, "model", true, &model) < 0 || read_name(req, body, &name) < 0 ||
        read_value(req, body, &value) < 0)
        goto done;
    pool_t *pool = api_find_model(req, api, model);
    if (!pool)
        goto done;
    if (!autoscaler_config(api->autoscaler)->advanced.custom_metrics_enabled) {
        api_reply_error(req, 409, "custom_metrics_disabled",
                        "custom metrics are disabled; enable them with POST /autoscaler/config "
                        "{\"advanced\": {\"custom_metrics_enabled\": true}}");
        goto done;
    }
    char err[512];
    double recorded_at = NAN;
    int rc = autoscaler_record_custom_metric(api->autoscaler, pool, name, value, &recorded_at, err,
                                             sizeof(err));
    if (rc == AUTOSCALER_CUSTOM_FULL) {
        api_reply_error(req, 409, "too_many_custom_metrics", "%s", err);
        goto done;
    }
    if (rc < 0) {
        api_reply_error(req, 400, "invalid_request", "%s", err);
        goto done;
    }
    const model_config_t *mc = pool_model(pool);
    bool used = mc->custom_metric_target > 0 && strcmp(mc->custom_metric_name, name) == 0;
    char stamp[TIME_ISO_LEN];
    json_t *at = time_format_iso(recorded_at, stamp) == 0 ? json_string(stamp) : json_null();
    api_reply_json(req, 200,
                   json_pack("{s:b, s:s, s:s, s:o, s:o, s:b}", "success", 1, "model",
                             pool_name(pool), "name", name, "value", json_number_or_null(value),
                             "recorded_at", at, "used_by_policy", used));
done:
    json_decref(body);
}
