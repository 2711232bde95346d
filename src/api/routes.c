/* routes.c - every URL inferd serves and the function that answers it. */
#include "api/api.h"

typedef struct route {
    const char *method;
    const char *pattern;
    route_handler_fn handler;
} route_t;

static const route_t routes[] = {
    {"POST", "/predict", api_predict},
    {"POST", "/synthesize", api_synthesize},
    {"GET", "/models", api_models_list},
    {"GET", "/models/{name}", api_models_get},
    {"POST", "/models/{name}/replicas", api_models_set_replicas},
    {"GET", "/health", api_health},
    {"GET", "/metrics", api_metrics},
    {"GET", "/autoscaler/stats", api_autoscaler_stats},
    {"GET", "/autoscaler/health", api_autoscaler_health},
    {"POST", "/autoscaler/scale", api_autoscaler_scale},
    {"GET", "/autoscaler/scale/{scaling_id}", api_autoscaler_scale_get},
    {"GET", "/autoscaler/config", api_autoscaler_config_get},
    {"POST", "/autoscaler/config", api_autoscaler_config_post},
    {"GET", "/autoscaler/history", api_autoscaler_history},
    {"POST", "/autoscaler/metrics", api_autoscaler_metrics_post},
};

void api_register_routes(router_t *r, api_context_t *ctx)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        router_add(r, routes[i].method, routes[i].pattern, routes[i].handler, ctx);
}
