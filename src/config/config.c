/* config.c - reads, validates and fills in defaults for the configuration.
 *
 * The schema lives in two tables (server_fields, model_fields): each row is
 * a key, its kind, its range and where it lands in the C struct, so the
 * rules for a field are written once and every field reports a bad value
 * the same way. Defaults are plain struct initialisers applied before the
 * table overrides them; config_default() runs a built-in JSON text through
 * the same code, so the built-in models obey exactly the rules a file does.
 *
 * Validation stops at the first problem and names it as "ORIGIN: PATH:
 * problem". A configuration is either wholly valid or not returned at all,
 * so the rest of the server never sees half-checked values.
 */
#include "config/config.h"
#include "backends/backend.h"
#include "util/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    KIND_STRING,  /* char[size], with an optional extra check */
    KIND_INT,     /* int */
    KIND_UINT,    /* unsigned */
    KIND_SIZE,    /* size_t */
    KIND_SECONDS, /* double; JSON integer or real */
    KIND_BOOL,    /* bool */
    KIND_OBJECT,  /* json_t *, deep-copied */
} field_kind_t;

typedef struct parse_ctx {
    const char *origin;
    char *err;
    size_t errlen;
} parse_ctx_t;

/* Extra rule for a string field; writes the problem into msg. */
typedef int (*string_check_fn)(const char *s, char *msg, size_t msglen);

typedef struct field {
    const char *key;
    field_kind_t kind;
    size_t offset;
    size_t size;           /* KIND_STRING: buffer size, NUL included */
    json_int_t imin, imax; /* integer kinds */
    double dmin, dmax;     /* KIND_SECONDS */
    string_check_fn check; /* KIND_STRING, may be NULL */
    bool required;
} field_t;

static int check_nonempty(const char *s, char *msg, size_t msglen);
static int check_model_name(const char *s, char *msg, size_t msglen);
static int check_backend_name(const char *s, char *msg, size_t msglen);

#define STRING_FIELD(st, f, chk, req)                                                              \
    {                                                                                              \
        .key = #f, .kind = KIND_STRING, .offset = offsetof(st, f), .size = sizeof(((st *)0)->f),   \
        .check = (chk), .required = (req)                                                          \
    }
#define INT_FIELD(st, f, kind_, lo, hi)                                                            \
    {                                                                                              \
        .key = #f, .kind = (kind_), .offset = offsetof(st, f), .imin = (lo), .imax = (hi)          \
    }
#define SECONDS_FIELD(st, f, lo, hi)                                                               \
    {                                                                                              \
        .key = #f, .kind = KIND_SECONDS, .offset = offsetof(st, f), .dmin = (lo), .dmax = (hi)     \
    }
#define BOOL_FIELD(st, f)                                                                          \
    {                                                                                              \
        .key = #f, .kind = KIND_BOOL, .offset = offsetof(st, f)                                    \
    }
#define OBJECT_FIELD(st, f)                                                                        \
    {                                                                                              \
        .key = #f, .kind = KIND_OBJECT, .offset = offsetof(st, f)                                  \
    }

#define KIB ((size_t)1024)
#define MIB ((size_t)1024 * 1024)

static const field_t server_fields[] = {
    STRING_FIELD(server_config_t, host, check_nonempty, false),
    INT_FIELD(server_config_t, port, KIND_INT, 0, 65535),
    STRING_FIELD(server_config_t, data_dir, check_nonempty, false),
    INT_FIELD(server_config_t, max_body_bytes, KIND_SIZE, 1 * KIB, 64 * MIB),
    INT_FIELD(server_config_t, max_header_bytes, KIND_SIZE, 1 * KIB, 1 * MIB),
    INT_FIELD(server_config_t, header_timeout_ms, KIND_UINT, 100, 600000),
    INT_FIELD(server_config_t, body_timeout_ms, KIND_UINT, 100, 600000),
    INT_FIELD(server_config_t, idle_timeout_ms, KIND_UINT, 100, 3600000),
    INT_FIELD(server_config_t, shutdown_timeout_ms, KIND_UINT, 0, 600000),
    INT_FIELD(server_config_t, max_pipelined, KIND_UINT, 1, 1024),
    INT_FIELD(server_config_t, health_check_interval_ms, KIND_UINT, 100, 600000),
};

static const field_t model_fields[] = {
    STRING_FIELD(model_config_t, name, check_model_name, true),
    STRING_FIELD(model_config_t, backend, check_backend_name, true),
    OBJECT_FIELD(model_config_t, params),
    INT_FIELD(model_config_t, min_replicas, KIND_INT, 0, CONFIG_REPLICAS_LIMIT),
    INT_FIELD(model_config_t, max_replicas, KIND_INT, 1, CONFIG_REPLICAS_LIMIT),
    BOOL_FIELD(model_config_t, always_loaded),
    INT_FIELD(model_config_t, max_queue_length, KIND_INT, 1, 100000),
    SECONDS_FIELD(model_config_t, cold_start_timeout_seconds, 0.1, 3600),
    SECONDS_FIELD(model_config_t, load_timeout_seconds, 0.1, 3600),
    INT_FIELD(model_config_t, max_text_length, KIND_INT, 1, 1000000),
    INT_FIELD(model_config_t, replica_concurrency, KIND_INT, 1, 64),
};

#define N_FIELDS(t) (sizeof(t) / sizeof((t)[0]))

static const server_config_t server_defaults = {
    .host = "127.0.0.1",
    .port = 8000,
    .data_dir = "./inferd-data",
    .max_body_bytes = 1 * MIB,
    .max_header_bytes = 16 * KIB,
    .header_timeout_ms = 10000,
    .body_timeout_ms = 30000,
    .idle_timeout_ms = 60000,
    .shutdown_timeout_ms = 15000,
    .max_pipelined = 32,
    .health_check_interval_ms = 5000,
};

/* min_replicas becomes 1 when always_loaded is set and min_replicas is not. */
static const model_config_t model_defaults = {
    .min_replicas = 0,
    .max_replicas = 3,
    .always_loaded = false,
    .max_queue_length = 100,
    .cold_start_timeout_seconds = 60,
    .load_timeout_seconds = 60,
    .max_text_length = 5000,
    .replica_concurrency = 1,
};

/* The TTS models start at zero replicas so a server that never speaks never
 * pays for a voice; "example" is pinned as the always-warm overhead probe. */
static const char default_config_text[] =
    "{\"models\": ["
    " {\"name\": \"example\", \"backend\": \"example\","
    "  \"always_loaded\": true, \"min_replicas\": 1, \"max_replicas\": 2},"
    " {\"name\": \"tts-flite-slt\", \"backend\": \"flite\","
    "  \"params\": {\"voice\": \"cmu_us_slt\"}, \"min_replicas\": 0, \"max_replicas\": 3},"
    " {\"name\": \"tts-flite-kal16\", \"backend\": \"flite\","
    "  \"params\": {\"voice\": \"cmu_us_kal16\"}, \"min_replicas\": 0, \"max_replicas\": 3},"
    " {\"name\": \"tts-espeak-en\", \"backend\": \"espeak\","
    "  \"params\": {\"voice\": \"en\"}, \"min_replicas\": 0, \"max_replicas\": 3}"
    "]}";

static int fail(parse_ctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(parse_ctx_t *c, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "%s: %s: %s", c->origin, path, msg);
    return -1;
}

/* Says what a wrong value was, briefly: numbers and booleans literally, the
 * rest by type, so a long string or object never floods the message. */
static const char *describe_value(const json_t *v, char *buf, size_t len)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL: {
        /* Keep the decimal point: "(got 2)" for a rejected 2.0 would read
         * as if an integer had been refused. */
        int n = snprintf(buf, len, "%g", json_real_value(v));
        if (n > 0 && (size_t)n + 2 < len && !strpbrk(buf, ".eEn"))
            memcpy(buf + n, ".0", 3);
        return buf;
    }
    case JSON_STRING:
        return "a string";
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "an unknown value";
}

static int check_nonempty(const char *s, char *msg, size_t msglen)
{
    if (*s == '\0') {
        snprintf(msg, msglen, "must not be empty");
        return -1;
    }
    return 0;
}

/* Names appear in URLs, logs and metric labels, hence the narrow alphabet. */
static int check_model_name(const char *s, char *msg, size_t msglen)
{
    size_t n = strlen(s);
    /* No leading dot: "." and ".." would read as path steps in a URL. */
    bool ok = n >= 1 && n < CONFIG_NAME_MAX && s[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char ch = s[i];
        ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
             ch == '_' || ch == '.' || ch == '-';
    }
    if (!ok) {
        snprintf(msg, msglen,
                 "must be 1 to %d characters from A-Z, a-z, 0-9, '_', '.', '-', not starting "
                 "with '.' (got \"%.*s%s\")",
                 CONFIG_NAME_MAX - 1, CONFIG_NAME_MAX, s, n > CONFIG_NAME_MAX ? "..." : "");
        return -1;
    }
    return 0;
}

static int check_backend_name(const char *s, char *msg, size_t msglen)
{
    if (backend_find(s))
        return 0;
    size_t count = 0;
    const backend_t *const *all = backend_all(&count);
    char known[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < count && used < sizeof(known); i++) {
        int w = snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "", all[i]->name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    snprintf(msg, msglen, "unknown backend \"%.*s\" (known: %s)", CONFIG_NAME_MAX, s, known);
    return -1;
}

/* Parses one present field into base + f->offset. */
static int parse_field(parse_ctx_t *c, const char *path, const field_t *f, const json_t *v,
                       void *base)
{
    char got[64];
    char *dst = (char *)base + f->offset;

    switch (f->kind) {
    case KIND_STRING: {
        if (!json_is_string(v))
            return fail(c, path, "must be a string (got %s)", describe_value(v, got, sizeof(got)));
        const char *s = json_string_value(v);
        char msg[384];
        /* The check runs first so an unknown backend is reported as such,
         * not as a string too long for its buffer. */
        if (f->check && f->check(s, msg, sizeof(msg)) < 0)
            return fail(c, path, "%s", msg);
        if (json_string_length(v) >= f->size)
            return fail(c, path, "must be at most %zu bytes long (got %zu)", f->size - 1,
                        json_string_length(v));
        memcpy(dst, s, json_string_length(v) + 1);
        return 0;
    }
    case KIND_INT:
    case KIND_UINT:
    case KIND_SIZE: {
        /* A real such as 2.0 is refused too: a fractional replica count or
         * byte limit is always a mistake worth pointing out. */
        json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
        if (!json_is_integer(v) || n < f->imin || n > f->imax)
            return fail(c, path,
                        "must be an integer between %" JSON_INTEGER_FORMAT
                        " and %" JSON_INTEGER_FORMAT " (got %s)",
                        f->imin, f->imax, describe_value(v, got, sizeof(got)));
        if (f->kind == KIND_INT)
            *(int *)dst = (int)n;
        else if (f->kind == KIND_UINT)
            *(unsigned *)dst = (unsigned)n;
        else
            *(size_t *)dst = (size_t)n;
        return 0;
    }
    case KIND_SECONDS: {
        double d = json_is_number(v) ? json_number_value(v) : 0;
        if (!json_is_number(v) || d < f->dmin || d > f->dmax)
            return fail(c, path, "must be a number of seconds between %g and %g (got %s)", f->dmin,
                        f->dmax, describe_value(v, got, sizeof(got)));
        *(double *)dst = d;
        return 0;
    }
    case KIND_BOOL:
        if (!json_is_boolean(v))
            return fail(c, path, "must be true or false (got %s)",
                        describe_value(v, got, sizeof(got)));
        *(bool *)dst = json_is_true(v);
        return 0;
    case KIND_OBJECT: {
        if (!json_is_object(v))
            return fail(c, path, "must be an object (got %s)", describe_value(v, got, sizeof(got)));
        json_t *copy = json_deep_copy(v);
        if (!copy) {
            fprintf(stderr, "error inferd: out of memory copying %s\n", path);
            abort();
        }
        json_t **slot = (json_t **)(void *)dst;
        json_decref(*slot);
        *slot = copy;
        return 0;
    }
    }
    return fail(c, path, "internal error: unhandled field kind");
}

/* Checks obj against a field table: unknown keys first (in document order,
 * so the first typo is the one reported), then every known field. prefix is
 * the path of obj itself, e.g. "server" or "models[2]". */
static int parse_object(parse_ctx_t *c, const char *prefix, const json_t *obj,
                        const field_t *fields, size_t n_fields, void *base)
{
    char path[128];
    const char *key;
    json_t *v;

    json_object_foreach ((json_t *)obj, key, v) {
        size_t i = 0;
        while (i < n_fields && strcmp(fields[i].key, key) != 0)
            i++;
        if (i < n_fields)
            continue;
        char expected[512] = "";
        size_t used = 0;
        for (i = 0; i < n_fields && used < sizeof(expected); i++) {
            int w = snprintf(expected + used, sizeof(expected) - used, "%s%s", i ? ", " : "",
                             fields[i].key);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        snprintf(path, sizeof(path), "%s.%.64s", prefix, key);
        return fail(c, path, "unknown field (expected one of: %s)", expected);
    }

    for (size_t i = 0; i < n_fields; i++) {
        const field_t *f = &fields[i];
        snprintf(path, sizeof(path), "%s.%s", prefix, f->key);
        v = json_object_get(obj, f->key);
        if (!v) {
            if (f->required)
                return fail(c, path, "is required");
            continue;
        }
        if (parse_field(c, path, f, v, base) < 0)
            return -1;
    }
    return 0;
}

static int parse_model(parse_ctx_t *c, size_t index, const json_t *obj, model_config_t *m)
{
    char prefix[32], path[64], got[64];
    snprintf(prefix, sizeof(prefix), "models[%zu]", index);

    if (!json_is_object(obj))
        return fail(c, prefix, "must be an object (got %s)", describe_value(obj, got, sizeof(got)));
    if (parse_object(c, prefix, obj, model_fields, N_FIELDS(model_fields), m) < 0)
        return -1;

    if (!m->params)
        m->params = json_object();
    /* Pinned means at least one replica, whatever min_replicas says, so
     * everything that reads min_replicas sees the real floor. */
    if (m->always_loaded && m->min_replicas < 1)
        m->min_replicas = 1;

    if (m->min_replicas > m->max_replicas) {
        snprintf(path, sizeof(path), "%s.min_replicas", prefix);
        return fail(c, path, "must not exceed max_replicas (%d > %d)", m->min_replicas,
                    m->max_replicas);
    }

    const backend_t *be = backend_find(m->backend);
    if (be && be->check_params) {
        char msg[384];
        msg[0] = '\0';
        if (be->check_params(m->params, msg, sizeof(msg)) < 0) {
            /* Backends start with the parameter ("params.voice must be
             * ..."); move it into the path so "params" appears once. */
            const char *text = msg;
            if (strncmp(text, "params.", 7) == 0) {
                size_t name_len = strcspn(text, " :");
                snprintf(path, sizeof(path), "%s.%.*s", prefix, (int)name_len, text);
                text += name_len;
                text += strspn(text, " :");
            } else {
                snprintf(path, sizeof(path), "%s.params", prefix);
            }
            return fail(c, path, "%s", text[0] ? text : "rejected by the backend");
        }
    }
    return 0;
}

int config_from_json(const json_t *root, const char *origin, inferd_config_t **out, char *err,
                     size_t errlen)
{
    parse_ctx_t c = {.origin = origin ? origin : "configuration", .err = err, .errlen = errlen};
    inferd_config_t *cfg = xcalloc(1, sizeof(*cfg));
    const json_t *server, *models;
    char got[64], path[96];
    const char *key;
    json_t *v;

    *out = NULL;
    cfg->server = server_defaults;

    if (!json_is_object(root)) {
        fail(&c, "(root)", "must be an object with \"server\" and \"models\" (got %s)",
             root ? describe_value(root, got, sizeof(got)) : "nothing");
        goto fail;
    }
    json_object_foreach ((json_t *)root, key, v) {
        if (strcmp(key, "server") != 0 && strcmp(key, "models") != 0) {
            snprintf(path, sizeof(path), "%.64s", key);
            fail(&c, path, "unknown field (expected one of: server, models)");
            goto fail;
        }
    }

    server = json_object_get(root, "server");
    if (server) {
        if (!json_is_object(server)) {
            fail(&c, "server", "must be an object (got %s)",
                 describe_value(server, got, sizeof(got)));
            goto fail;
        }
        if (parse_object(&c, "server", server, server_fields, N_FIELDS(server_fields),
                         &cfg->server) < 0)
            goto fail;
    }

    models = json_object_get(root, "models");
    if (models && !json_is_array(models)) {
        fail(&c, "models", "must be an array of model objects (got %s)",
             describe_value(models, got, sizeof(got)));
        goto fail;
    }
    if (!models || json_array_size(models) == 0) {
        fail(&c, "models", "at least one model is required");
        goto fail;
    }

    cfg->models = xcalloc(json_array_size(models), sizeof(*cfg->models));
    for (size_t i = 0; i < json_array_size(models); i++) {
        model_config_t *m = &cfg->models[i];
        *m = model_defaults;
        /* Counted before parsing so a failure halfway frees this model's
         * params too. */
        cfg->n_models = i + 1;
        if (parse_model(&c, i, json_array_get(models, i), m) < 0)
            goto fail;
        /* Quadratic, but a configuration holds tens of models, not
         * thousands, and this keeps the first definition's index handy. */
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->models[j].name, m->name) == 0) {
                snprintf(path, sizeof(path), "models[%zu].name", i);
                fail(&c, path, "duplicate model name \"%s\" (first defined at models[%zu])",
                     m->name, j);
                goto fail;
            }
        }
    }

    *out = cfg;
    return 0;

fail:
    config_free(cfg);
    return -1;
}

/* jansson says "unable to open PATH: REASON"; the path is already at the
 * front of our message, so keep only the reason when the text is whole
 * (jansson truncates it for long paths). */
static const char *open_failure_reason(const json_error_t *jerr, const char *path)
{
    static const char lead[] = "unable to open ";
    size_t n = strlen(path);
    const char *t = jerr->text;
    if (strncmp(t, lead, sizeof(lead) - 1) == 0 && strncmp(t + sizeof(lead) - 1, path, n) == 0 &&
        strncmp(t + sizeof(lead) - 1 + n, ": ", 2) == 0)
        return t + sizeof(lead) - 1 + n + 2;
    return t;
}

int config_load_file(const char *path, inferd_config_t **out, char *err, size_t errlen)
{
    json_error_t jerr;
    *out = NULL;
    /* Duplicate keys are rejected rather than last-one-wins: in a
     * hand-edited file the second "max_replicas" is almost always a
     * forgotten first one. */
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (err && errlen) {
            if (json_error_code(&jerr) == json_error_cannot_open_file)
                snprintf(err, errlen, "%s: cannot open: %s", path,
                         open_failure_reason(&jerr, path));
            else if (jerr.line <= 0)
                snprintf(err, errlen, "%s: %s", path, jerr.text);
            else
                snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        }
        return -1;
    }
    int rc = config_from_json(root, path, out, err, errlen);
    json_decref(root);
    return rc;
}

inferd_config_t *config_default(void)
{
    json_error_t jerr;
    char err[512];
    inferd_config_t *cfg = NULL;

    json_t *root = json_loads(default_config_text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fprintf(stderr, "error inferd: built-in configuration: %d:%d: %s\n", jerr.line, jerr.column,
                jerr.text);
        abort();
    }
    /* Failing here means the built-in text and the schema disagree: a bug in
     * this file that every test run catches, never an operator's problem. */
    if (config_from_json(root, "built-in configuration", &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "error inferd: %s\n", err);
        abort();
    }
    json_decref(root);
    return cfg;
}

void config_free(inferd_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_models; i++)
        json_decref(cfg->models[i].params);
    free(cfg->models);
    free(cfg);
}

const model_config_t *config_find_model(const inferd_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_models; i++) {
        if (strcmp(cfg->models[i].name, name) == 0)
            return &cfg->models[i];
    }
    return NULL;
}

int config_initial_replicas(const model_config_t *m)
{
    int pinned = m->always_loaded ? 1 : 0;
    return m->min_replicas > pinned ? m->min_replicas : pinned;
}
