/* router.h - maps a method and a path to an endpoint handler.
 *
 * Patterns are literal segments and {name} captures, e.g.
 * "/models/{name}/replicas". A path that matches no pattern answers 404
 * not_found; a path that matches only under other methods answers 405
 * method_not_allowed with an Allow header. Both in the JSON error shape.
 */
#ifndef INFERD_HTTP_ROUTER_H
#define INFERD_HTTP_ROUTER_H

#include "http/server.h"

#define ROUTE_MAX_PARAMS 4

typedef struct route_params {
    size_t count;
    const char *names[ROUTE_MAX_PARAMS];
    char *values[ROUTE_MAX_PARAMS]; /* percent-decoded */
} route_params_t;

typedef void (*route_handler_fn)(http_request_t *req, const route_params_t *params, void *ctx);

typedef struct router router_t;

router_t *router_new(void);
void router_free(router_t *r);

/* Registers handler for method + pattern; the pattern string must outlive the router. */
void router_add(router_t *r, const char *method, const char *pattern, route_handler_fn handler,
                void *ctx);

/* Finds and calls the handler for req, or answers 404/405. Matches the
 * path without its query string; a trailing '/' is not significant. */
void router_dispatch(router_t *r, http_request_t *req);

/* Value of capture name, or NULL. */
const char *route_param(const route_params_t *params, const char *name);

#endif
