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
 * path without its query string; a trailing '/' is not significant.
 * params live only during the handler call: copy what must outlive it. */
void router_dispatch(router_t *r, http_request_t *req);

/* The decision router_dispatch acts on, without a request or a call:
 * pure, so tests can check the routing table directly. */
typedef struct route_match {
    int status;               /* 200 matched, 404 no pattern, 405 only other methods */
    route_handler_fn handler; /* when 200 */
    void *ctx;
    const char *pattern;   /* the pattern matched, when 200 */
    route_params_t params; /* when 200; freed by route_match_free() */
    char allow[128];       /* when 405: "GET, POST" */
} route_match_t;

/* Matches method and path (without query) and returns out->status. A
 * capture that is empty, holds a malformed escape or %00 does not match. */
int router_match(const router_t *r, const char *method, const char *path, route_match_t *out);
void route_match_free(route_match_t *m);

/* Value of capture name, or NULL. */
const char *route_param(const route_params_t *params, const char *name);

#endif
