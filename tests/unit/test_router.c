/* test_router.c - path matching as a table: routes, request, decision. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "http/router.h"

typedef struct route_def {
    const char *method;
    const char *pattern;
    const char *id; /* passed as ctx, so a match names its route */
} route_def_t;

typedef struct row {
    const char *situation;
    const route_def_t *routes;
    const char *method;
    const char *path;
    int status;
    const char *id;     /* route expected when 200 */
    const char *params; /* "name=value;..." in capture order */
    const char *allow;  /* Allow header expected when 405 */
} row_t;

static const route_def_t api[] = {
    {"GET", "/", "root"},
    {"GET", "/models", "list"},
    {"POST", "/models", "create"},
    {"GET", "/models/{name}", "get"},
    {"GET", "/models/stats", "stats"},
    {"POST", "/models/{name}/replicas", "scale"},
    {"GET", "/a/{x}/b/{y}", "two"},
    {NULL, NULL, NULL},
};

/* The literal route comes first here; specificity must not depend on order. */
static const route_def_t literal_first[] = {
    {"GET", "/models/stats", "stats"},
    {"GET", "/models/{name}", "get"},
    {NULL, NULL, NULL},
};

static const route_def_t with_head[] = {
    {"GET", "/x", "getx"},
    {"HEAD", "/x", "headx"},
    {NULL, NULL, NULL},
};

static const row_t rows[] = {
    {"literal path", api, "GET", "/models", 200, "list", "", NULL},
    {"trailing slash is not significant", api, "GET", "/models/", 200, "list", "", NULL},
    {"root", api, "GET", "/", 200, "root", "", NULL},
    {"capture", api, "GET", "/models/cmu_us_slt", 200, "get", "name=cmu_us_slt", NULL},
    {"capture is percent-decoded", api, "GET", "/models/a%20b", 200, "get", "name=a b", NULL},
    {"encoded slash stays inside the capture", api, "GET", "/models/a%2Fb", 200, "get", "name=a/b",
     NULL},
    {"UTF-8 escapes decode to bytes", api, "GET", "/models/caf%C3%A9", 200, "get",
     "name=caf\xC3\xA9", NULL},
    {"capture then literal", api, "POST", "/models/kal16/replicas", 200, "scale", "name=kal16",
     NULL},
    {"trailing slash after a capture route", api, "POST", "/models/kal16/replicas/", 200, "scale",
     "name=kal16", NULL},
    {"two captures", api, "GET", "/a/1/b/2", 200, "two", "x=1;y=2", NULL},
    {"literal beats capture", api, "GET", "/models/stats", 200, "stats", "", NULL},
    {"literal beats capture whatever the order", literal_first, "GET", "/models/stats", 200,
     "stats", "", NULL},
    {"capture still matches other names", literal_first, "GET", "/models/x", 200, "get", "name=x",
     NULL},
    {"same method on another path is selected by path", api, "POST", "/models", 200, "create", "",
     NULL},
    {"HEAD is served by GET", api, "HEAD", "/models", 200, "list", "", NULL},
    {"an explicit HEAD route wins over GET", with_head, "HEAD", "/x", 200, "headx", "", NULL},
    {"unknown path", api, "GET", "/nope", 404, NULL, NULL, NULL},
    {"extra segment", api, "GET", "/models/a/b", 404, NULL, NULL, NULL},
    {"missing segment", api, "POST", "/models/x/", 405, NULL, NULL, "GET"},
    {"only one trailing slash is ignored", api, "GET", "/models//", 404, NULL, NULL, NULL},
    {"empty segment is never a capture", api, "POST", "/models//replicas", 404, NULL, NULL, NULL},
    {"%00 in a capture does not match", api, "GET", "/models/a%00b", 404, NULL, NULL, NULL},
    {"malformed escape does not match", api, "GET", "/models/%zz", 404, NULL, NULL, NULL},
    {"truncated escape does not match", api, "GET", "/models/ab%4", 404, NULL, NULL, NULL},
    {"literal segments are compared as sent", api, "GET", "/mod%65ls", 404, NULL, NULL, NULL},
    {"path must start with '/'", api, "OPTIONS", "*", 404, NULL, NULL, NULL},
    {"no routes at all", literal_first + 2, "GET", "/", 404, NULL, NULL, NULL},
    {"other methods on the path", api, "DELETE", "/models", 405, NULL, NULL, "GET, POST"},
    {"other methods, trailing slash", api, "PUT", "/models/", 405, NULL, NULL, "GET, POST"},
    {"other method on a capture route", api, "GET", "/models/x/replicas", 405, NULL, NULL, "POST"},
    {"methods are case-sensitive", api, "get", "/models", 405, NULL, NULL, "GET, POST"},
    {"HEAD falls back to GET only", api, "HEAD", "/models/x/replicas", 405, NULL, NULL, "POST"},
    {"Allow lists each method once", with_head, "POST", "/x", 405, NULL, NULL, "GET, HEAD"},
};

static void handler(http_request_t *req, const route_params_t *params, void *ctx)
{
    (void)req;
    (void)params;
    (void)ctx;
}

static router_t *router_from(const route_def_t *defs)
{
    router_t *r = router_new();
    for (; defs->method; defs++)
        router_add(r, defs->method, defs->pattern, handler, (void *)defs->id);
    return r;
}

static void params_format(const route_params_t *p, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->count && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s=%s", i ? ";" : "", p->names[i],
                                 p->values[i]);
}

Test(router, table)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row_t *row = &rows[i];
        router_t *r = router_from(row->routes);
        route_match_t m;
        int status = router_match(r, row->method, row->path, &m);
        cr_expect_eq(status, row->status, "%s: status %d, expected %d", row->situation, status,
                     row->status);
        if (status == 200 && row->status == 200) {
            char params[256];
            params_format(&m.params, params, sizeof params);
            cr_expect_str_eq((const char *)m.ctx, row->id, "%s: route", row->situation);
            cr_expect_str_eq(params, row->params, "%s: params", row->situation);
            cr_expect(m.handler == handler, "%s: handler", row->situation);
        }
        if (row->allow)
            cr_expect_str_eq(m.allow, row->allow, "%s: Allow", row->situation);
        route_match_free(&m);
        router_free(r);
    }
}

Test(router, route_param_finds_by_name)
{
    router_t *r = router_from(api);
    route_match_t m;
    cr_assert_eq(router_match(r, "GET", "/a/one/b/two", &m), 200);
    cr_expect_str_eq(route_param(&m.params, "y"), "two");
    cr_expect_str_eq(route_param(&m.params, "x"), "one");
    cr_expect_null(route_param(&m.params, "z"));
    route_match_free(&m);
    router_free(r);
}

Test(router, capture_must_be_a_whole_segment, .signal = SIGABRT)
{
    router_t *r = router_new();
    router_add(r, "GET", "/models/{name", handler, NULL);
}

Test(router, too_many_captures_abort, .signal = SIGABRT)
{
    router_t *r = router_new();
    router_add(r, "GET", "/{a}/{b}/{c}/{d}/{e}", handler, NULL);
}
