/* router.c - maps a method and a path to an endpoint handler.
 *
 * Routes are few and fixed at startup, so matching is a scan over patterns
 * split into segments once, at router_add. When several patterns match, a
 * literal segment beats a capture at the first place they differ, so
 * "/models/stats" wins over "/models/{name}" whatever the order they were
 * added in. Captures are percent-decoded; a malformed escape or %00 makes
 * the pattern not match, so such a path ends in 404 rather than reaching a
 * handler with a value it would have to re-check.
 */
#include "http/router.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define ROUTER_MAX_ALLOW 16

typedef struct route_segment {
    const char *text; /* literal text, inside the pattern */
    size_t len;
    char *name; /* capture name, NULL for a literal */
} route_segment_t;

typedef struct route {
    char *method;
    const char *pattern;
    route_segment_t *segs;
    size_t nsegs;
    route_handler_fn handler;
    void *ctx;
} route_t;

struct router {
    route_t *routes;
    size_t count;
};

router_t *router_new(void)
{
    return xcalloc(1, sizeof(router_t));
}

void router_free(router_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++) {
        route_t *rt = &r->routes[i];
        for (size_t j = 0; j < rt->nsegs; j++)
            free(rt->segs[j].name);
        free(rt->segs);
        free(rt->method);
    }
    free(r->routes);
    free(r);
}

/* Length of path without one trailing '/' ("/" itself stays). */
static size_t path_trimmed_len(const char *path)
{
    size_t n = strlen(path);
    return n > 1 && path[n - 1] == '/' ? n - 1 : n;
}

/* A bad pattern is a programming error in the endpoint table: stop at
 * startup with the pattern named, rather than serve a broken route. */
static void route_die(const char *pattern, const char *why)
{
    log_error("http", "invalid route pattern '%s': %s", pattern, why);
    abort();
}

static void route_parse_segment(route_t *rt, const char *s, size_t n, size_t *captures)
{
    route_segment_t *seg = &rt->segs[rt->nsegs++];
    seg->text = s;
    seg->len = n;
    seg->name = NULL;
    if (n == 0 || s[0] != '{')
        return;
    if (n < 3 || s[n - 1] != '}')
        route_die(rt->pattern, "a capture must be a whole segment like {name}");
    if (++*captures > ROUTE_MAX_PARAMS)
        route_die(rt->pattern, "too many captures");
    seg->name = xstrndup(s + 1, n - 2);
}

static void route_parse_pattern(route_t *rt)
{
    const char *p = rt->pattern;
    size_t len = path_trimmed_len(p), captures = 0;
    if (p[0] != '/')
        route_die(p, "it must start with '/'");
    size_t max = 1;
    for (size_t i = 0; i < len; i++)
        max += p[i] == '/';
    rt->segs = xcalloc(max, sizeof *rt->segs);
    if (len == 1)
        return; /* "/" has no segments */
    const char *s = p + 1, *end = p + len;
    for (;;) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *stop = slash ? slash : end;
        route_parse_segment(rt, s, (size_t)(stop - s), &captures);
        if (!slash)
            break;
        s = slash + 1;
    }
}

void router_add(router_t *r, const char *method, const char *pattern, route_handler_fn handler,
                void *ctx)
{
    r->routes = xrealloc(r->routes, (r->count + 1) * sizeof *r->routes);
    route_t *rt = &r->routes[r->count++];
    memset(rt, 0, sizeof *rt);
    rt->method = xstrdup(method);
    rt->pattern = pattern;
    rt->handler = handler;
    rt->ctx = ctx;
    route_parse_pattern(rt);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decoded copy of s[0..n), or NULL if empty, malformed or holding %00. */
static char *percent_decode(const char *s, size_t n)
{
    if (n == 0)
        return NULL;
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        if (i + 2 >= n)
            goto fail;
        int h = hex_value(s[i + 1]), l = hex_value(s[i + 2]);
        if (h < 0 || l < 0 || (h == 0 && l == 0))
            goto fail;
        *o++ = (char)(h << 4 | l);
        i += 2;
    }
    *o = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

static void params_clear(route_params_t *params)
{
    for (size_t i = 0; i < params->count; i++)
        free(params->values[i]);
    memset(params, 0, sizeof *params);
}

static bool segment_match(const route_segment_t *seg, const char *s, size_t n,
                          route_params_t *params)
{
    if (!seg->name)
        return seg->len == n && memcmp(seg->text, s, n) == 0;
    char *value = percent_decode(s, n);
    if (!value)
        return false;
    params->names[params->count] = seg->name;
    params->values[params->count++] = value;
    return true;
}

/* True when path (already trimmed to len) matches rt; fills params. */
static bool route_match_path(const route_t *rt, const char *path, size_t len,
                             route_params_t *params)
{
    size_t i = 0;
    if (len > 1) {
        const char *s = path + 1, *end = path + len;
        for (;;) {
            const char *slash = memchr(s, '/', (size_t)(end - s));
            const char *stop = slash ? slash : end;
            if (i == rt->nsegs || !segment_match(&rt->segs[i], s, (size_t)(stop - s), params))
                goto fail;
            i++;
            if (!slash)
                break;
            s = slash + 1;
        }
    }
    if (i != rt->nsegs)
        goto fail;
    return true;
fail:
    params_clear(params);
    return false;
}

/* HEAD is served by the GET handler when no HEAD route exists; the
 * connection layer leaves the body out. */
static int method_rank(const char *route_method, const char *method)
{
    if (strcmp(route_method, method) == 0)
        return 2;
    if (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0)
        return 1;
    return 0;
}

/* Negative when a is more specific than b, positive when less, 0 if equal. */
static int route_compare(const route_t *a, const route_t *b)
{
    for (size_t i = 0; i < a->nsegs && i < b->nsegs; i++) {
        bool a_lit = !a->segs[i].name, b_lit = !b->segs[i].name;
        if (a_lit != b_lit)
            return a_lit ? -1 : 1;
    }
    return 0;
}

static void allow_add(const char **allow, size_t *n, const char *method)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(allow[i], method) == 0)
            return;
    }
    if (*n < ROUTER_MAX_ALLOW)
        allow[(*n)++] = method;
}

static void allow_join(char *out, size_t size, const char **allow, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(allow[i]);
        if (used + len + 3 > size)
            break;
        if (i) {
            memcpy(out + used, ", ", 2);
            used += 2;
        }
        memcpy(out + used, allow[i], len + 1);
        used += len;
    }
}

int router_match(const router_t *r, const char *method, const char *path, route_match_t *out)
{
    const char *allow[ROUTER_MAX_ALLOW];
    size_t nallow = 0, len = path_trimmed_len(path);
    const route_t *best = NULL;
    int best_rank = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; path[0] == '/' && i < r->count; i++) {
        const route_t *rt = &r->routes[i];
        route_params_t params = {0};
        if (!route_match_path(rt, path, len, &params))
            continue;
        allow_add(allow, &nallow, rt->method);
        int rank = method_rank(rt->method, method);
        int cmp = best ? route_compare(rt, best) : -1;
        if (rank && (cmp < 0 || (cmp == 0 && rank > best_rank))) {
            params_clear(&out->params);
            out->params = params;
            best = rt;
            best_rank = rank;
        } else {
            params_clear(&params);
        }
    }
    if (best) {
        out->status = 200;
        out->handler = best->handler;
        out->ctx = best->ctx;
        out->pattern = best->pattern;
    } else {
        out->status = nallow ? 405 : 404;
        allow_join(out->allow, sizeof out->allow, allow, nallow);
    }
    return out->status;
}

void route_match_free(route_match_t *m)
{
    params_clear(&m->params);
}

const char *route_param(const route_params_t *params, const char *name)
{
    for (size_t i = 0; i < params->count; i++) {
        if (strcmp(params->names[i], name) == 0)
            return params->values[i];
    }
    return NULL;
}

static void router_answer_miss(const route_match_t *m, http_request_t *req)
{
    buf_t msg = BUF_INIT, hdr = BUF_INIT;
    const char *path = http_request_path(req);
    if (m->status == 404) {
        buf_appendf(&msg, "no endpoint at path '%s'", path);
        http_respond_error(req, 404, "not_found", msg.data, NULL);
    } else {
        buf_appendf(&msg, "method %s is not allowed on path '%s'; allowed: %s",
                    http_request_method(req), path, m->allow);
        buf_appendf(&hdr, "Allow: %s\r\n", m->allow);
        http_respond_error(req, 405, "method_not_allowed", msg.data, hdr.data);
    }
    buf_free(&msg);
    buf_free(&hdr);
}

void router_dispatch(router_t *r, http_request_t *req)
{
    route_match_t m;
    if (router_match(r, http_request_method(req), http_request_path(req), &m) == 200)
        m.handler(req, &m.params, m.ctx); /* req may be freed from here on */
    else
        router_answer_miss(&m, req);
    route_match_free(&m);
}
