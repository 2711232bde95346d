/* autoscaler_history.c - GET /autoscaler/history.
 *
 * The query is checked on the loop (400 invalid_parameter naming the
 * parameter); the work - reading up to 720 hours of events and traffic and
 * running the rules of history/analysis.c - runs on the libuv threadpool
 * with its own read-only store connection (WAL lets it read while the loop
 * writes),
 * so a month of history never stalls the gateway. The answer is serialised
 * there too; the loop only sends it.
 */
#include "api/api.h"
#include "api/request.h"
#include "history/analysis.h"
#include "http/query.h"
#include "util/text.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOURS_DEFAULT 24
#define HOURS_MAX     720
#define LIMIT_DEFAULT 100
#define LIMIT_MAX     1000
#define MAX_TYPES     16
#define SHOWN_MAX     40 /* bytes of the caller's text quoted in a message */

static const char *const known_types[] = {
    "scale_up",          "scale_down",      "zero_scale",     "cold_start", "scaling_failed",
    "model_load_failed", "replica_crashed", "config_updated", NULL,
};

typedef struct history_query {
    long hours;
    bool include_details;
    long limit;
    size_t n_types; /* 0 = every type */
    char types[MAX_TYPES][32];
    bool seen_hours, seen_details, seen_types, seen_limit;
    char bad[QUERY_NAME_MAX]; /* the parameter at fault, as valid UTF-8 */
    char message[300];
} history_query_t;

typedef struct history_job {
    uv_work_t work;
    http_request_t *req;
    history_query_t q;
    char *data_dir;
    autoscaler_config_t config;
    history_model_limits_t *limits;
    char (*names)[CONFIG_NAME_MAX];
    size_t n_limits;
    double since, until;
    char *answer; /* serialised JSON, or NULL */
    int status;
} history_job_t;

/* ---- the query ---- */

__attribute__((format(printf, 3, 4))) static int query_fail(history_query_t *q, const char *name,
                                                            const char *fmt, ...)
{
    va_list ap;
    /* The name goes into the JSON answer: a decoded %ff is no UTF-8. */
    text_quote_utf8(q->bad, sizeof(q->bad), name, strlen(name), sizeof(q->bad) - 1);
    va_start(ap, fmt);
    vsnprintf(q->message, sizeof(q->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_long(const char *v, long min, long max, long *out)
{
    char *end;
    if (!v[0] || v[0] == '+' || v[0] == '-' || v[0] == ' ')
        return -1;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

static bool known_type(const char *t)
{
    for (size_t i = 0; known_types[i]; i++)
        if (strcmp(known_types[i], t) == 0)
            return true;
    return false;
}

static int add_type(history_query_t *q, const char *t)
{
    char shown[SHOWN_MAX + 4];
    if (!known_type(t))
        return query_fail(q, "event_types",
                          "'event_types' holds an unknown event type '%s'; known: scale_up, "
                          "scale_down, zero_scale, cold_start, scaling_failed, "
                          "model_load_failed, replica_crashed, config_updated",
                          text_echo(shown, sizeof(shown), t, SHOWN_MAX));
    for (size_t i = 0; i < q->n_types; i++)
        if (strcmp(q->types[i], t) == 0)
            return 0;
    if (q->n_types == MAX_TYPES)
        return query_fail(q, "event_types", "'event_types' lists too many types");
    snprintf(q->types[q->n_types++], sizeof(q->types[0]), "%s", t);
    return 0;
}

/* A JSON array of strings (["scale_up","zero_scale"]) or a comma list
 * (scale_up,zero_scale). */
static int parse_types(history_query_t *q, const char *v)
{
    static const char shape[] = "'event_types' must be a JSON array of event type names or a "
                                "comma-separated list of them";
    if (v[0] == '[') {
        json_error_t error;
        json_t *arr = json_loads(v, JSON_REJECT_DUPLICATES, &error);
        int rc = 0;
        if (!json_is_array(arr) || json_array_size(arr) == 0) {
            json_decref(arr);
            return query_fail(q, "event_types", "%s", shape);
        }
        for (size_t i = 0; i < json_array_size(arr) && rc == 0; i++) {
            const char *t = json_string_value(json_array_get(arr, i));
            rc = t ? add_type(q, t) : query_fail(q, "event_types", "%s", shape);
        }
        json_decref(arr);
        return rc;
    }
    /* Every item counts, the empty ones too: "scale_up,,zero_scale" and
     * "scale_up," are refused like a lone ",". */
    char copy[QUERY_VALUE_MAX];
    snprintf(copy, sizeof(copy), "%s", v);
    for (char *t = copy;;) {
        char *comma = strchr(t, ',');
        if (comma)
            *comma = '\0';
        while (*t == ' ')
            t++;
        size_t len = strlen(t);
        while (len && t[len - 1] == ' ')
            t[--len] = '\0';
        if (!len)
            return query_fail(q, "event_types",
                              "'event_types' has an empty item; %s (no empty items)", shape);
        if (add_type(q, t) < 0)
            return -1;
        if (!comma)
            return 0;
        t = comma + 1;
    }
}

static int take_param(const char *name, const char *value, void *ctx)
{
    history_query_t *q = ctx;
    char shown[SHOWN_MAX + 4];
    bool *seen = strcmp(name, "hours") == 0             ? &q->seen_hours
                 : strcmp(name, "include_details") == 0 ? &q->seen_details
                 : strcmp(name, "event_types") == 0     ? &q->seen_types
                 : strcmp(name, "limit") == 0           ? &q->seen_limit
                                                        : NULL;
    if (!seen)
        return query_fail(q, name,
                          "unknown query parameter '%s'; known: hours, include_details, "
                          "event_types, limit",
                          text_echo(shown, sizeof(shown), name, SHOWN_MAX));
    if (*seen)
        return query_fail(q, name, "query parameter '%s' is given more than once", name);
    *seen = true;
    if (seen == &q->seen_hours && parse_long(value, 1, HOURS_MAX, &q->hours) < 0)
        return query_fail(q, name, "'hours' must be an integer between 1 and %d", HOURS_MAX);
    if (seen == &q->seen_limit && parse_long(value, 1, LIMIT_MAX, &q->limit) < 0)
        return query_fail(q, name, "'limit' must be an integer between 1 and %d", LIMIT_MAX);
    if (seen == &q->seen_details) {
        /* Any case: Python's requests sends True and False. */
        if (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0)
            q->include_details = true;
        else if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0)
            q->include_details = false;
        else
            return query_fail(q, name, "'include_details' must be true or false");
    }
    if (seen == &q->seen_types)
        return parse_types(q, value);
    return 0;
}

static int parse_query(http_request_t *req, history_query_t *q)
{
    query_problem_t problem;
    char shown[SHOWN_MAX + 4];
    memset(q, 0, sizeof(*q));
    q->hours = HOURS_DEFAULT;
    q->limit = LIMIT_DEFAULT;
    int rc = query_each(http_request_query(req), take_param, q, &problem);
    const char *name = text_echo(shown, sizeof(shown), problem.name, SHOWN_MAX);
    switch (problem.kind) {
    case QUERY_OK:
        break; /* take_param said what was wrong, if anything */
    case QUERY_BAD_ENCODING:
        query_fail(q, problem.name, "query parameter '%s' is not validly percent-encoded", name);
        break;
    case QUERY_EMPTY_NAME:
        query_fail(q, "", "a query parameter has an empty name ('=' with no name before it)");
        break;
    case QUERY_NAME_TOO_LONG:
        query_fail(q, problem.name, "query parameter name '%s' is longer than %d bytes", name,
                   QUERY_NAME_MAX - 1);
        break;
    case QUERY_VALUE_TOO_LONG:
        query_fail(q, problem.name, "the value of query parameter '%s' is longer than %d bytes",
                   name, QUERY_VALUE_MAX - 1);
        break;
    }
    return rc == 0 ? 0 : -1;
}

/* ---- the work, off the loop ---- */

static bool type_wanted(const history_query_t *q, const char *type)
{
    if (q->n_types == 0)
        return true;
    for (size_t i = 0; i < q->n_types; i++)
        if (type && strcmp(q->types[i], type) == 0)
            return true;
    return false;
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* resource_impact (growth) or resource_savings (shrink), from the measured
 * memory of one replica when the decision was taken, for a completed
 * change; null while pending or after a failure. GPU memory is not
 * measured per replica (no GPU backends), hence null. */
static void add_resources(json_t *e)
{
    const char *type = json_string_value(json_object_get(e, "type"));
    bool grow = type && (strcmp(type, "scale_up") == 0 || strcmp(type, "cold_start") == 0);
    bool shrink = type && (strcmp(type, "scale_down") == 0 || strcmp(type, "zero_scale") == 0);
    if (!grow && !shrink)
        return;
    double previous = json_number_value(json_object_get(e, "previous_scale"));
    double actual = json_number_value(json_object_get(e, "actual_scale"));
    double mb =
        json_number_value(json_object_get(json_object_get(e, "details"), "replica_memory_mb"));
    bool done = json_is_true(json_object_get(e, "success"));
    double delta = grow ? actual - previous : previous - actual;
    double memory = done && mb > 0 ? delta * mb : NAN;
    double percent = done && previous > 0 ? 100.0 * delta / previous : NAN;
    if (grow)
        json_object_set_new(e, "resource_impact",
                            json_pack("{s:o, s:n, s:o}", "additional_memory_mb",
                                      number_or_null(memory), "additional_gpu_memory_mb",
                                      "cost_increase_percent", number_or_null(percent)));
    else
        json_object_set_new(e, "resource_savings",
                            json_pack("{s:o, s:n, s:o}", "memory_freed_mb", number_or_null(memory),
                                      "gpu_memory_freed_mb", "cost_reduction_percent",
                                      number_or_null(percent)));
}

static json_t *select_events(const history_query_t *q, const json_t *all, size_t *matched)
{
    json_t *out = json_array();
    *matched = 0;
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *e = json_array_get(all, i);
        if (!type_wanted(q, json_string_value(json_object_get(e, "type"))))
            continue;
        if ((long)(*matched)++ >= q->limit)
            continue;
        json_t *copy = json_deep_copy(e);
        if (q->include_details) {
            add_resources(copy);
        } else {
            json_object_del(copy, "trigger_metrics");
            json_object_del(copy, "outcome_metrics");
            json_object_del(copy, "details");
        }
        json_array_append_new(out, copy);
    }
    return out;
}

static json_t *period_json(const history_job_t *job)
{
    char start[TIME_ISO_LEN], end[TIME_ISO_LEN];
    time_format_iso(job->since, start);
    time_format_iso(job->until, end);
    return json_pack("{s:s, s:s, s:i}", "start", start, "end", end, "hours", (int)job->q.hours);
}

static void history_run(uv_work_t *w)
{
    history_job_t *job = w->data;
    char err[512];
    store_t *s = NULL;
    store_traffic_hour_t *hours = NULL;
    store_traffic_model_t *models = NULL;
    size_t n_hours = 0, n_models = 0, matched = 0;
    json_t *all = NULL, *answer = NULL;
    int64_t since_min = (int64_t)floor(job->since / 60.0);
    int64_t until_min = (int64_t)floor(job->until / 60.0) + 1;

    job->status = 500;
    /* Read-only: a writer's open would migrate, taking the write lock
     * from the thread pool at every request. */
    if (store_open_reader(job->data_dir, &s, err, sizeof(err)) < 0)
        goto done;
    all = store_list_events(s, job->since, NULL, -1);
    if (!all || store_traffic_hours(s, since_min, until_min, NULL, &hours, &n_hours) < 0 ||
        store_traffic_models(s, since_min, until_min, &models, &n_models) < 0)
        goto done;

    history_input_t in = {
        .since_unix = job->since,
        .until_unix = job->until,
        .hours = hours,
        .n_hours = n_hours,
        .models = models,
        .n_models = n_models,
        .events = all,
        .config = &job->config,
        .limits = job->limits,
        .n_limits = job->n_limits,
    };
    json_t *messages, *details;
    history_recommendations(&in, &messages, &details);
    json_t *events = select_events(&job->q, all, &matched);
    answer = json_pack("{s:b, s:o, s:o, s:o, s:I, s:o, s:o, s:o}", "success", 1, "period",
                       period_json(job), "summary", history_summary(&in), "events", events,
                       "events_matched", (json_int_t)matched, "patterns", history_patterns(&in),
                       "recommendations", messages, "recommendation_details", details);
    job->answer = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    if (job->answer)
        job->status = 200;

done:
    json_decref(answer);
    json_decref(all);
    free(hours);
    free(models);
    store_close(s);
}

static void job_free(history_job_t *job)
{
    free(job->answer);
    free(job->data_dir);
    free(job->limits);
    free(job->names);
    free(job);
}

static void history_done(uv_work_t *w, int status)
{
    history_job_t *job = w->data;
    if (status == 0 && job->status == 200)
        http_respond(job->req, 200, "application/json", job->answer, strlen(job->answer), NULL);
    else
        api_reply_error(job->req, 500, "history_unavailable",
                        "the history could not be read from the store; the server log says why");
    job_free(job);
}

/* The live configuration and each model's limits, copied for the thread. */
static void snapshot(history_job_t *job, api_context_t *api)
{
    size_t n = dispatch_pool_count(api->dispatch);
    job->config = *autoscaler_config(api->autoscaler);
    job->limits = xcalloc(n ? n : 1, sizeof(*job->limits));
    job->names = xcalloc(n ? n : 1, sizeof(*job->names));
    job->n_limits = n;
    for (size_t i = 0; i < n; i++) {
        const model_config_t *m = pool_model(dispatch_pool_at(api->dispatch, i));
        snprintf(job->names[i], sizeof(job->names[i]), "%s", m->name);
        job->limits[i] = (history_model_limits_t){
            .name = job->names[i],
            .floor_replicas = config_floor_replicas(m),
            .max_replicas = m->max_replicas,
            .max_queue_length = m->max_queue_length,
        };
    }
}

void api_autoscaler_history(http_request_t *req, const route_params_t *params, void *ctx)
{
    api_context_t *api = ctx;
    history_query_t q;
    (void)params;

    if (parse_query(req, &q) < 0) {
        api_reply_json(req, 400,
                       json_pack("{s:b, s:s, s:s, s:s}", "success", 0, "error", "invalid_parameter",
                                 "message", q.message, "parameter", q.bad));
        return;
    }
    history_job_t *job = xcalloc(1, sizeof(*job));
    job->req = req;
    job->q = q;
    job->until = time_unix_now();
    job->since = job->until - (double)q.hours * 3600.0;
    job->data_dir = xstrdup(store_data_dir(autoscaler_store(api->autoscaler)));
    snapshot(job, api);
    job->work.data = job;
    if (uv_queue_work(api->loop, &job->work, history_run, history_done) != 0) {
        api_reply_error(req, 503, "history_unavailable", "the history could not be queued");
        job_free(job);
    }
}
