/* health.c - GET /health: 200 while serving, 503 once shutdown began, so a
 * load balancer stops sending traffic before the listener closes. */
#include "api/api.h"
#include "api/request.h"

void api_health(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    (void)params;
    size_t ready = 0, n = dispatch_pool_count(api->dispatch);
    for (size_t i = 0; i < n; i++) {
        pool_counts_t counts;
        pool_get_counts(dispatch_pool_at(api->dispatch, i), &counts);
        ready += counts.ready > 0;
    }
    char now[32];
    api_format_timestamp(now);
    double uptime = (double)(uv_hrtime() - api->started_ns) / 1e9;
    json_t *body = json_pack("{s:b, s:s, s:s, s:s, s:f, s:I, s:I}", "success", !api->shutting_down,
                             "status", api->shutting_down ? "shutting_down" : "ok", "timestamp",
                             now, "version", INFERD_VERSION, "uptime_seconds", uptime, "models",
                             (json_int_t)n, "models_ready", (json_int_t)ready);
    api_reply_json(req, api->shutting_down ? 503 : 200, body);
}
