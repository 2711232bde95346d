/* api.h - the HTTP endpoints. Each family has its own file:
 *
 *   POST /predict, POST /synthesize           api/predict.c
 *   GET /models, GET /models/{name},
 *   POST /models/{name}/replicas              api/models.c
 *   GET /health                               api/health.c
 *   GET /metrics (Prometheus text format)     api/metrics.c
 *   GET /autoscaler/stats, GET /autoscaler/health,
 *   POST /autoscaler/scale,
 *   GET /autoscaler/scale/{scaling_id}        api/autoscaler.c
 *   GET /autoscaler/config,
 *   POST /autoscaler/config                   api/autoscaler_config.c
 *   GET /autoscaler/history                   api/autoscaler_history.c
 *   POST /autoscaler/metrics                  api/autoscaler_metrics.c
 *
 * api/routes.c is the one table of URL -> handler.
 */
#ifndef INFERD_API_H
#define INFERD_API_H

#include <stdbool.h>
#include <stdint.h>

#include "autoscaler/autoscaler.h"
#include "dispatch/dispatch.h"
#include "http/router.h"

typedef struct api_context {
    uv_loop_t *loop; /* for work sent to the threadpool */
    dispatch_t *dispatch;
    autoscaler_t *autoscaler;
    const char *worker_exe; /* for the model_loading_capability check */
    uint64_t started_ns;    /* uv_hrtime() at start */
    bool shutting_down;     /* set on SIGTERM/SIGINT; /health answers 503 */
    /* api/metrics.h: start time and scaling events counted, for GET /metrics */
    struct api_metrics *metrics;
    /* notify/webhook.h: its delivery counters, for GET /autoscaler/health */
    const struct webhook *webhook;
    /* The models' settings changed through POST /autoscaler/config (and
     * restored from the store at start), {"NAME": {"FIELD": value}}: what a
     * stored version keeps under "models" (config_record_overrides). Owned;
     * the handler replaces it, whoever set up the context frees it. */
    json_t *model_overrides;
} api_context_t;

/* The pool of the model called name, or NULL after answering 404
 * model_not_found. */
pool_t *api_find_model(http_request_t *req, api_context_t *api, const char *name);

/* Registers every endpoint on r; ctx must outlive the router. */
void api_register_routes(router_t *r, api_context_t *ctx);

/* Handlers, each (req, params, api_context_t *ctx). */
void api_predict(http_request_t *req, const route_params_t *params, void *ctx);
void api_synthesize(http_request_t *req, const route_params_t *params, void *ctx);
void api_models_list(http_request_t *req, const route_params_t *params, void *ctx);
void api_models_get(http_request_t *req, const route_params_t *params, void *ctx);
void api_models_set_replicas(http_request_t *req, const route_params_t *params, void *ctx);
void api_health(http_request_t *req, const route_params_t *params, void *ctx);
void api_metrics(http_request_t *req, const route_params_t *params, void *ctx);
void api_autoscaler_stats(http_request_t *req, const route_params_t *params, void *ctx);
void api_autoscaler_health(http_request_t *req, const route_params_t *params, void *ctx);
void api_autoscaler_scale(http_request_t *req, const route_params_t *params, void *ctx);
void api_autoscaler_scale_get(http_request_t *req, const route_params_t *params, void *ctx);
void api_autoscaler_config_get(http_request_t *req, const route_params_t *params, void *ctx);
void api_autoscaler_config_post(http_request_t *req, const route_params_t *params, void *ctx);
void api_autoscaler_history(http_request_t *req, const route_params_t *params, void *ctx);
void api_autoscaler_metrics_post(http_request_t *req, const route_params_t *params, void *ctx);

#endif
