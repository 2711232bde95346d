/* config.c - reads, validates and fills in defaults for the configuration.
 *
 * The schema lives in three tables (server_fields, model_fields,
 * autoscaler_fields): each row is a key, its kind, its range and where it
 * lands in the C struct, so the rules for a field are written once and every
 * field reports a bad value the same way. Defaults are plain struct
 * initialisers applied before the table overrides them; config_default()
 * runs a built-in JSON text through the same code, so the built-in models
 * obey exactly the rules a file does.
 *
 * One checker (convert_value) decides whether a value fits its row and says
 * why not. The server and model sections stop at the first problem and name
 * it as "ORIGIN: PATH: problem". The autoscaler section is different because
 * POST /autoscaler/config reuses it: config_autoscaler_merge() collects every
 * problem of a partial document (for the invalid_configuration answer), and
 * the file's "autoscaler" object goes through that same merge over the
 * defaults, so a file and the API can never disagree about what is valid.
 * Either way a configuration is wholly valid or not returned at all, so the
 * rest of the server never sees half-checked values.
 */
#include "config/config.h"
#include "backends/backend.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    KIND_STRING,   /* char[size], with an optional extra check */
    KIND_INT,      /* int */
    KIND_UINT,     /* unsigned */
    KIND_SIZE,     /* size_t */
    KIND_SECONDS,  /* double; JSON integer or real */
    KIND_NUMBER,   /* double; JSON integer or real */
    KIND_BOOL,     /* bool */
    KIND_OBJECT,   /* json_t *, deep-copied */
    KIND_STRATEGY, /* scaling_strategy_t, from its name */
    KIND_URL,      /* char[size]: JSON null (stored as "") or an http:// URL */
} field_kind_t;

typedef struct parse_ctx {
    const char *origin;
    char *err;
    size_t errlen;
} parse_ctx_t;

/* Extra rule for a string field; writes the problem into msg. */
typedef int (*string_check_fn)(const char *s, char *msg, size_t msglen);

typedef struct field {
    const char *section; /* autoscaler_fields: enclosing object, NULL at the top */
    const char *key;
    field_kind_t kind;
    size_t offset;
    size_t size;           /* KIND_STRING, KIND_URL: buffer size, NUL included */
    json_int_t imin, imax; /* integer kinds */
    double dmin, dmax;     /* KIND_SECONDS, KIND_NUMBER */
    bool zero_ok;          /* KIND_NUMBER: 0 is accepted too, meaning "inherit" */
    bool above_min;        /* KIND_NUMBER: dmin itself is refused, only values above it */
    bool null_ok;          /* KIND_STRING, KIND_NUMBER: JSON null is stored as "" or 0 */
    string_check_fn check; /* KIND_STRING, may be NULL */
    bool required;
} field_t;

/* How a problem's value is shown after its message in a one-line error. */
typedef enum {
    GOT_NONE,     /* the message already says it, or there is no value */
    GOT_DESCRIBE, /* " (got 150)", " (got a string)" */
    GOT_QUOTED,   /* strings quoted: " (got \"fast\")" */
} got_style_t;

/* Why one value does not fit its row, before it is given a path. */
typedef struct value_problem {
    char message[320];
    char valid_range[256];
    got_style_t got;
} value_problem_t;

static int check_nonempty(const char *s, char *msg, size_t msglen);
static int check_model_name(const char *s, char *msg, size_t msglen);
static int check_backend_name(const char *s, char *msg, size_t msglen);
static int check_metric_name(const char *s, char *msg, size_t msglen);

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
#define NUMBER_FIELD(st, f, lo, hi, zero)                                                          \
    {                                                                                              \
        .key = #f, .kind = KIND_NUMBER, .offset = offsetof(st, f), .dmin = (lo), .dmax = (hi),     \
        .zero_ok = (zero)                                                                          \
    }
/* Optional settings that are off unless given: null (the default) or a
 * value; a number must lie in (lo, hi]. */
#define OPTIONAL_STRING_FIELD(st, f, chk)                                                          \
    {                                                                                              \
        .key = #f, .kind = KIND_STRING, .offset = offsetof(st, f), .size = sizeof(((st *)0)->f),   \
        .check = (chk), .null_ok = true                                                            \
    }
#define OPTIONAL_POSITIVE_FIELD(st, f, lo, hi)                                                     \
    {                                                                                              \
        .key = #f, .kind = KIND_NUMBER, .offset = offsetof(st, f), .dmin = (lo), .dmax = (hi),     \
        .above_min = true, .null_ok = true                                                         \
    }
#define BOOL_FIELD(st, f)                                                                          \
    {                                                                                              \
        .key = #f, .kind = KIND_BOOL, .offset = offsetof(st, f)                                    \
    }
#define OBJECT_FIELD(st, f)                                                                        \
    {                                                                                              \
        .key = #f, .kind = KIND_OBJECT, .offset = offsetof(st, f)                                  \
    }

/* The autoscaler rows name their section; sec is both the struct member and
 * the JSON key. "sec.f" is a member designator, which cannot take the
 * parentheses clang-tidy asks macro arguments to have. */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define AS_TOP(f, kind_)                                                                           \
    {                                                                                              \
        .key = #f, .kind = (kind_), .offset = offsetof(autoscaler_config_t, f)                     \
    }
#define AS_TOP_NUM(f, kind_, lo, hi)                                                               \
    {                                                                                              \
        .key = #f, .kind = (kind_), .offset = offsetof(autoscaler_config_t, f), .dmin = (lo),      \
        .dmax = (hi)                                                                               \
    }
#define AS_BOOL(sec, f)                                                                            \
    {                                                                                              \
        .section = #sec, .key = #f, .kind = KIND_BOOL,                                             \
        .offset = offsetof(autoscaler_config_t, sec.f)                                             \
    }
#define AS_INT(sec, f, lo, hi)                                                                     \
    {                                                                                              \
        .section = #sec, .key = #f, .kind = KIND_INT,                                              \
        .offset = offsetof(autoscaler_config_t, sec.f), .imin = (lo), .imax = (hi)                 \
    }
#define AS_NUM(sec, f, kind_, lo, hi)                                                              \
    {                                                                                              \
        .section = #sec, .key = #f, .kind = (kind_),                                               \
        .offset = offsetof(autoscaler_config_t, sec.f), .dmin = (lo), .dmax = (hi)                 \
    }
#define AS_URL(sec, f)                                                                             \
    {                                                                                              \
        .section = #sec, .key = #f, .kind = KIND_URL,                                              \
        .offset = offsetof(autoscaler_config_t, sec.f),                                            \
        .size = sizeof(((autoscaler_config_t *)0)->sec.f)                                          \
    }
/* NOLINTEND(bugprone-macro-parentheses) */

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
    INT_FIELD(server_config_t, history_retention_days, KIND_UINT, 1, 3650),
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
    SECONDS_FIELD(model_config_t, request_timeout_seconds, 0.1, 86400),
    INT_FIELD(model_config_t, initial_replicas, KIND_INT, 0, CONFIG_REPLICAS_LIMIT),
    NUMBER_FIELD(model_config_t, target_concurrency, 0.1, 1000, true),
    NUMBER_FIELD(model_config_t, memory_mb, 0, 1048576, false),
    OPTIONAL_STRING_FIELD(model_config_t, custom_metric_name, check_metric_name),
    OPTIONAL_POSITIVE_FIELD(model_config_t, custom_metric_target, 0, CONFIG_METRIC_TARGET_LIMIT),
};

/* In the order of GET /autoscaler/config, then what the spec lacks (three
 * sections and the models' default cold-start timeout); to_json and diff
 * walk it, so this is also the document order. A section's rows are
 * contiguous. */
static const field_t autoscaler_fields[] = {
    AS_TOP(enabled, KIND_BOOL),
    AS_TOP(zero_scaling_enabled, KIND_BOOL),
    AS_TOP(scaling_strategy, KIND_STRATEGY),
    AS_INT(replicas, min_replicas, 0, CONFIG_REPLICAS_LIMIT),
    AS_INT(replicas, max_replicas, 1, CONFIG_REPLICAS_LIMIT),
    AS_INT(replicas, default_replicas, 0, CONFIG_REPLICAS_LIMIT),
    AS_NUM(thresholds, cpu_threshold, KIND_NUMBER, 1, 100),
    AS_NUM(thresholds, memory_threshold, KIND_NUMBER, 1, 100),
    AS_NUM(thresholds, gpu_threshold, KIND_NUMBER, 1, 100),
    AS_INT(thresholds, queue_length_threshold, 1, 100000),
    AS_NUM(thresholds, response_time_threshold_ms, KIND_NUMBER, 1, 3600000),
    AS_NUM(cooldowns, scale_up_cooldown_seconds, KIND_SECONDS, 0, 86400),
    AS_NUM(cooldowns, scale_down_cooldown_seconds, KIND_SECONDS, 0, 86400),
    AS_NUM(cooldowns, zero_scale_cooldown_seconds, KIND_SECONDS, 0, 86400),
    AS_NUM(timing, metrics_collection_interval_seconds, KIND_SECONDS, 0.1, 3600),
    AS_NUM(timing, decision_interval_seconds, KIND_SECONDS, 0.1, 3600),
    AS_NUM(timing, health_check_interval_seconds, KIND_SECONDS, 1, 3600),
    AS_BOOL(model_management, auto_unload_unused_models),
    AS_NUM(model_management, model_idle_timeout_minutes, KIND_NUMBER, 0, 10080),
    AS_BOOL(model_management, preload_popular_models),
    AS_INT(model_management, max_concurrent_model_loads, 1, CONFIG_REPLICAS_LIMIT),
    AS_BOOL(advanced, predictive_scaling),
    AS_BOOL(advanced, custom_metrics_enabled),
    AS_URL(advanced, external_metrics_webhook),
    AS_BOOL(advanced, scaling_notifications_enabled),
    AS_NUM(scale_down_threshold, cpu_percent, KIND_NUMBER, 0, 100),
    AS_NUM(scale_down_threshold, memory_percent, KIND_NUMBER, 0, 100),
    AS_NUM(scale_down_threshold, idle_time_minutes, KIND_NUMBER, 0, 1440),
    AS_NUM(zero_scale_threshold, idle_time_minutes, KIND_NUMBER, 0, 10080),
    AS_NUM(zero_scale_threshold, no_requests_minutes, KIND_NUMBER, 0, 10080),
    AS_TOP_NUM(cold_start_timeout_seconds, KIND_SECONDS, 0.1, 3600),
    AS_NUM(reactive, target_concurrency, KIND_NUMBER, 0.1, 1000),
    AS_NUM(reactive, stable_window_seconds, KIND_SECONDS, 1, 3600),
    AS_NUM(reactive, panic_window_seconds, KIND_SECONDS, 1, 3600),
    AS_NUM(reactive, panic_threshold, KIND_NUMBER, 1.1, 10),
};

#define N_FIELDS(t)  (sizeof(t) / sizeof((t)[0]))
#define N_AUTOSCALER N_FIELDS(autoscaler_fields)

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
    .history_retention_days = 14,
};

/* min_replicas, max_replicas and cold_start_timeout_seconds are the
 * autoscaler's (replicas.min_replicas, replicas.max_replicas,
 * cold_start_timeout_seconds) unless the model sets them (inherit_defaults);
 * min_replicas becomes 1 when always_loaded is set and min_replicas is 0. */
static const model_config_t model_defaults = {
    .min_replicas = 0,
    .max_replicas = 5,
    .always_loaded = false,
    .max_queue_length = 100,
    .cold_start_timeout_seconds = 60,
    .load_timeout_seconds = 60,
    .max_text_length = 5000,
    .replica_concurrency = 1,
    .request_timeout_seconds = 300,
    .initial_replicas = -1,
    .target_concurrency = 0,
    .memory_mb = 0,
    .custom_metric_name = "",
    .custom_metric_target = 0,
};

/* The spec's defaults except the two intervals: a 2 s decision tick (as
 * Knative's) lets the panic window act within seconds of a burst, and 1 s
 * collection gives that window several samples. Both cost little; see
 * docs/configuration.md. */
static const autoscaler_config_t autoscaler_defaults = {
    .enabled = true,
    .zero_scaling_enabled = true,
    .scaling_strategy = STRATEGY_REACTIVE,
    .cold_start_timeout_seconds = 60,
    .replicas = {.min_replicas = 0, .max_replicas = 5, .default_replicas = 1},
    .thresholds =
        {
            .cpu_threshold = 70,
            .memory_threshold = 80,
            .gpu_threshold = 85,
            .queue_length_threshold = 10,
            .response_time_threshold_ms = 2000,
        },
    .scale_down_threshold = {.cpu_percent = 20, .memory_percent = 30, .idle_time_minutes = 5},
    .zero_scale_threshold = {.idle_time_minutes = 15, .no_requests_minutes = 10},
    .cooldowns =
        {
            .scale_up_cooldown_seconds = 60,
            .scale_down_cooldown_seconds = 300,
            .zero_scale_cooldown_seconds = 900,
        },
    .timing =
        {
            .metrics_collection_interval_seconds = 1,
            .decision_interval_seconds = 2,
            .health_check_interval_seconds = 60,
        },
    .model_management =
        {
            .auto_unload_unused_models = true,
            .model_idle_timeout_minutes = 15,
            .preload_popular_models = true,
            .max_concurrent_model_loads = 2,
        },
    .reactive =
        {
            .target_concurrency = 1,
            .stable_window_seconds = 60,
            .panic_window_seconds = 6,
            .panic_threshold = 2,
        },
    .advanced =
        {
            .predictive_scaling = false,
            .custom_metrics_enabled = false,
            .external_metrics_webhook = "",
            .scaling_notifications_enabled = true,
        },
};

static const char *const strategy_names[] = {
    [STRATEGY_REACTIVE] = "reactive",
    [STRATEGY_PREDICTIVE] = "predictive",
    [STRATEGY_HYBRID] = "hybrid",
};

/* The TTS models start at zero replicas so a server that never speaks never
 * pays for a voice; "example" is pinned as the always-warm overhead probe. */
static const char default_config_text[] =
    "{\"models\": ["
    " {\"name\": \"example\", \"backend\": \"example\","
    "  \"always_loaded\": true, \"min_replicas\": 1, \"max_replicas\": 2},"
    " {\"name\": \"tts-flite-slt\", \"backend\": \"flite\", \"params\": {\"voice\": "
    "\"cmu_us_slt\"},"
    "  \"min_replicas\": 0, \"max_replicas\": 3, \"initial_replicas\": 0},"
    " {\"name\": \"tts-flite-kal16\", \"backend\": \"flite\","
    "  \"params\": {\"voice\": \"cmu_us_kal16\"},"
    "  \"min_replicas\": 0, \"max_replicas\": 3, \"initial_replicas\": 0},"
    " {\"name\": \"tts-espeak-en\", \"backend\": \"espeak\", \"params\": {\"voice\": \"en\"},"
    "  \"min_replicas\": 0, \"max_replicas\": 3, \"initial_replicas\": 0}"
    "]}";

/* An unknown key as it appears in a field path: valid UTF-8 of at most
 * KEY_SHOWN_MAX bytes, "..." when cut (a key is the caller's text and ends
 * up in JSON answers). */
#define KEY_SHOWN_MAX 64

static const char *key_shown(const char *key, char *buf, size_t len)
{
    return text_echo(buf, len, key, KEY_SHOWN_MAX);
}

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

static json_t *must(json_t *v)
{
    if (!v) {
        fprintf(stderr, "error inferd: out of memory building configuration JSON\n");
        abort();
    }
    return v;
}

/* Numbers in messages and ranges: whole values without an exponent
 * ("3600000", not "3.6e+06"), fractions as written ("0.1"). */
static const char *fmt_num(double d, char *buf, size_t len)
{
    snprintf(buf, len, "%.10g", d);
    return buf;
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
        int n = snprintf(buf, len, "%.10g", json_real_value(v));
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

/* " (got ...)" for a one-line message; strings of enumerations and URLs
 * are worth quoting (up to a point), other strings are named by type. */
static const char *got_suffix(const json_t *v, got_style_t style, char *buf, size_t len)
{
    char what[64];
    if (!v || style == GOT_NONE) {
        buf[0] = '\0';
    } else if (style == GOT_QUOTED && json_is_string(v)) {
        char shown[48 + 1];
        size_t n = json_string_length(v);
        size_t taken = text_quote_utf8(shown, sizeof(shown), json_string_value(v), n, 48);
        snprintf(buf, len, " (got \"%s%s\")", shown, taken < n ? "..." : "");
    } else {
        snprintf(buf, len, " (got %s)", describe_value(v, what, sizeof(what)));
    }
    return buf;
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
        char shown[CONFIG_NAME_MAX + 4];
        snprintf(msg, msglen,
                 "must be 1 to %d characters from A-Z, a-z, 0-9, '_', '.', '-', not starting "
                 "with '.' (got \"%s\")",
                 CONFIG_NAME_MAX - 1, text_echo(shown, sizeof(shown), s, CONFIG_NAME_MAX));
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
    char shown[CONFIG_NAME_MAX + 4];
    snprintf(msg, msglen, "unknown backend \"%s\" (known: %s)",
             text_echo(shown, sizeof(shown), s, CONFIG_NAME_MAX), known);
    return -1;
}

static bool is_alnum(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* Prometheus' metric-name alphabet plus '.' and '-' (KEDA and Ray Serve
 * users bring names from both worlds), short enough for a log line. */
int config_check_metric_name(const char *s, size_t len, char *msg, size_t msglen)
{
    bool ok = len >= 1 && len < CONFIG_METRIC_NAME_MAX && (is_alnum(s[0]) || s[0] == '_') &&
              !(s[0] >= '0' && s[0] <= '9');
    for (size_t i = 1; ok && i < len; i++)
        ok = is_alnum(s[i]) || s[i] == '_' || s[i] == ':' || s[i] == '.' || s[i] == '-';
    if (ok)
        return 0;
    if (msg && msglen) {
        /* Printed only up to a NUL or anything unprintable, so the message
         * stays one clean line. */
        size_t shown = 0;
        while (shown < len && shown < CONFIG_METRIC_NAME_MAX && s[shown] >= ' ' &&
               s[shown] < 0x7f && s[shown] != '"')
            shown++;
        snprintf(msg, msglen,
                 "must be 1 to %d characters from A-Z, a-z, 0-9, '_', ':', '.', '-', starting "
                 "with a letter or '_' (got \"%.*s%s\")",
                 CONFIG_METRIC_NAME_MAX - 1, (int)shown, s, shown < len ? "..." : "");
    }
    return -1;
}

static int check_metric_name(const char *s, char *msg, size_t msglen)
{
    return config_check_metric_name(s, strlen(s), msg, msglen);
}

/* An IPv6 address as inet_pton reads it (no zone: a receiver is not
 * reached through a link-local interface name). */
static int check_ipv6(const char *s, size_t n)
{
    char text[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    if (n == 0 || n >= sizeof(text))
        return -1;
    memcpy(text, s, n);
    text[n] = '\0';
    return inet_pton(AF_INET6, text, &addr) == 1 ? 0 : -1;
}

/* A DNS name as RFC 1123 allows it (labels of letters, digits and '-',
 * 1-63 characters, not starting or ending with '-'; at most 253 characters
 * in all, one trailing dot allowed), or an IPv4 address: a name of only
 * digits and dots is one, and must be valid (the resolver would read
 * 999.999.999.999 or 10.1 in its own ways). */
static int check_host_name(const char *host, size_t n, value_problem_t *vp)
{
    bool numeric = n > 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(host[i]) && host[i] != '.' && host[i] != '-') {
            snprintf(vp->message, sizeof(vp->message),
                     "must have a host name of letters, digits, '.' and '-' after http://");
            return -1;
        }
        numeric = numeric && (host[i] == '.' || (host[i] >= '0' && host[i] <= '9'));
    }
    if (n == 0) {
        snprintf(vp->message, sizeof(vp->message), "must name a host after http://");
        return -1;
    }
    if (numeric) {
        char text[INET_ADDRSTRLEN];
        struct in_addr addr;
        bool ok = n < sizeof(text);
        if (ok) {
            memcpy(text, host, n);
            text[n] = '\0';
            ok = inet_pton(AF_INET, text, &addr) == 1;
        }
        if (!ok) {
            snprintf(vp->message, sizeof(vp->message),
                     "must have a valid IPv4 address (four numbers 0-255 separated by '.') "
                     "after http://: a host of digits and dots is read as one");
            return -1;
        }
        return 0;
    }
    size_t name_len = host[n - 1] == '.' ? n - 1 : n; /* "example.com." is fully qualified */
    if (name_len > 253) {
        snprintf(vp->message, sizeof(vp->message),
                 "must have a host name of at most 253 characters (got %zu)", name_len);
        return -1;
    }
    for (size_t start = 0; start <= name_len;) {
        const char *dot = memchr(host + start, '.', name_len - start);
        size_t label = dot ? (size_t)(dot - host) - start : name_len - start;
        if (label < 1 || label > 63 || host[start] == '-' || host[start + label - 1] == '-') {
            snprintf(vp->message, sizeof(vp->message),
                     "must have a host name whose dot-separated labels are 1 to 63 letters, "
                     "digits and '-', not starting or ending with '-'");
            return -1;
        }
        start += label + 1;
    }
    return 0;
}

/* The webhook sender speaks plain HTTP/1.1 from the event loop, so only
 * "http://HOST[:PORT][/PATH]" is taken: no TLS, no user information, a host
 * name, IPv4 address or bracketed IPv6 address, and a port 1-65535. */
static int check_http_url(const char *s, size_t n, size_t size, value_problem_t *vp)
{
    static const char scheme[] = "http://";
    const size_t slen = sizeof(scheme) - 1;

    if (n >= size) {
        snprintf(vp->message, sizeof(vp->message), "must be at most %zu bytes long (got %zu)",
                 size - 1, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch >= 0x7f) {
            snprintf(vp->message, sizeof(vp->message),
                     "must not contain spaces, control or non-ASCII characters");
            return -1;
        }
    }
    if (n >= 8 && strncmp(s, "https://", 8) == 0) {
        snprintf(vp->message, sizeof(vp->message),
                 "only http:// URLs are supported (https:// is not): give an http:// receiver");
        return -1;
    }
    if (n < slen || strncmp(s, scheme, slen) != 0) {
        snprintf(vp->message, sizeof(vp->message),
                 "must be null or an http://HOST[:PORT][/PATH] URL; only http:// URLs are "
                 "supported");
        return -1;
    }

    const char *host = s + slen;
    size_t authority = strcspn(host, "/?#");
    size_t host_len;
    if (memchr(host, '@', authority)) {
        snprintf(vp->message, sizeof(vp->message), "must not contain user information (user@)");
        return -1;
    }
    if (host[0] == '[') {
        const char *close = memchr(host, ']', authority);
        if (!close || check_ipv6(host + 1, (size_t)(close - host) - 1) < 0) {
            snprintf(vp->message, sizeof(vp->message),
                     "must have a valid bracketed IPv6 address after http://");
            return -1;
        }
        host_len = (size_t)(close - host) + 1;
    } else {
        host_len = strcspn(host, ":/?#");
        if (host_len > authority)
            host_len = authority;
        if (check_host_name(host, host_len, vp) < 0)
            return -1;
    }
    if (host_len < authority) {
        /* What follows the host inside the authority can only be a port. */
        const char *p = host + host_len;
        size_t digits = authority - host_len - 1;
        long port = 0;
        bool ok = p[0] == ':' && digits >= 1 && digits <= 5;
        for (size_t i = 1; ok && i <= digits; i++) {
            ok = p[i] >= '0' && p[i] <= '9';
            port = port * 10 + (p[i] - '0');
        }
        if (!ok || port < 1 || port > 65535) {
            snprintf(vp->message, sizeof(vp->message), "must have a port between 1 and 65535");
            return -1;
        }
    }
    return 0;
}

/* Checks one present value against its row and stores it at base +
 * f->offset. On failure nothing is stored and vp says why. */
static int convert_value(const field_t *f, const json_t *v, void *base, value_problem_t *vp)
{
    char *dst = (char *)base + f->offset;
    char lo[32], hi[32];

    vp->message[0] = '\0';
    vp->valid_range[0] = '\0';
    vp->got = GOT_DESCRIBE;

    switch (f->kind) {
    case KIND_STRING: {
        if (f->null_ok && json_is_null(v)) {
            dst[0] = '\0';
            return 0;
        }
        if (!json_is_string(v)) {
            snprintf(vp->message, sizeof(vp->message), "must be %sa string",
                     f->null_ok ? "null or " : "");
            return -1;
        }
        const char *s = json_string_value(v);
        vp->got = GOT_NONE;
        /* The checks below read up to the first NUL; what follows it would
         * be stored unchecked. */
        if (strlen(s) != json_string_length(v)) {
            snprintf(vp->message, sizeof(vp->message), "must not contain a NUL character");
            return -1;
        }
        /* The check runs first so an unknown backend is reported as such,
         * not as a string too long for its buffer. */
        if (f->check && f->check(s, vp->message, sizeof(vp->message)) < 0)
            return -1;
        if (json_string_length(v) >= f->size) {
            snprintf(vp->message, sizeof(vp->message), "must be at most %zu bytes long (got %zu)",
                     f->size - 1, json_string_length(v));
            return -1;
        }
        memcpy(dst, s, json_string_length(v) + 1);
        return 0;
    }
    case KIND_INT:
    case KIND_UINT:
    case KIND_SIZE: {
        /* A real such as 2.0 is refused too: a fractional replica count or
         * byte limit is always a mistake worth pointing out. */
        json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
        snprintf(vp->valid_range, sizeof(vp->valid_range),
                 "%" JSON_INTEGER_FORMAT "-%" JSON_INTEGER_FORMAT, f->imin, f->imax);
        if (!json_is_integer(v) || n < f->imin || n > f->imax) {
            snprintf(vp->message, sizeof(vp->message),
                     "must be an integer between %" JSON_INTEGER_FORMAT
                     " and %" JSON_INTEGER_FORMAT,
                     f->imin, f->imax);
            return -1;
        }
        if (f->kind == KIND_INT)
            *(int *)dst = (int)n;
        else if (f->kind == KIND_UINT)
            *(unsigned *)dst = (unsigned)n;
        else
            *(size_t *)dst = (size_t)n;
        return 0;
    }
    case KIND_SECONDS:
    case KIND_NUMBER: {
        double d = json_is_number(v) ? json_number_value(v) : 0;
        const char *what = f->kind == KIND_SECONDS ? "a number of seconds" : "a number";
        fmt_num(f->dmin, lo, sizeof(lo));
        fmt_num(f->dmax, hi, sizeof(hi));
        if (f->above_min) {
            snprintf(vp->valid_range, sizeof(vp->valid_range), "%sabove %s up to %s",
                     f->null_ok ? "null, or " : "", lo, hi);
            if (f->null_ok && json_is_null(v)) {
                *(double *)dst = 0;
                return 0;
            }
            if (!json_is_number(v) || !(d > f->dmin && d <= f->dmax)) {
                snprintf(vp->message, sizeof(vp->message), "must be %s%s above %s and at most %s",
                         f->null_ok ? "null or " : "", what, lo, hi);
                return -1;
            }
            *(double *)dst = d;
            return 0;
        }
        snprintf(vp->valid_range, sizeof(vp->valid_range), "%s%s-%s", f->zero_ok ? "0 or " : "", lo,
                 hi);
        if (!json_is_number(v) || !((d >= f->dmin && d <= f->dmax) || (f->zero_ok && d == 0))) {
            snprintf(vp->message, sizeof(vp->message), "must be %s%s between %s and %s",
                     f->zero_ok ? "0 (inherit the autoscaler's value) or " : "", what, lo, hi);
            return -1;
        }
        *(double *)dst = d;
        return 0;
    }
    case KIND_BOOL:
        snprintf(vp->valid_range, sizeof(vp->valid_range), "true|false");
        if (!json_is_boolean(v)) {
            snprintf(vp->message, sizeof(vp->message), "must be true or false");
            return -1;
        }
        *(bool *)dst = json_is_true(v);
        return 0;
    case KIND_OBJECT: {
        if (!json_is_object(v)) {
            snprintf(vp->message, sizeof(vp->message), "must be an object");
            return -1;
        }
        json_t *copy = must(json_deep_copy(v));
        json_t **slot = (json_t **)(void *)dst;
        json_decref(*slot);
        *slot = copy;
        return 0;
    }
    case KIND_STRATEGY: {
        snprintf(vp->valid_range, sizeof(vp->valid_range), "reactive|predictive|hybrid");
        vp->got = GOT_QUOTED;
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        for (size_t i = 0; i < N_FIELDS(strategy_names); i++) {
            if (json_is_string(v) && strcmp(s, strategy_names[i]) == 0 &&
                strlen(s) == json_string_length(v)) {
                *(scaling_strategy_t *)dst = (scaling_strategy_t)i;
                return 0;
            }
        }
        snprintf(vp->message, sizeof(vp->message),
                 "must be one of \"reactive\", \"predictive\", \"hybrid\"");
        return -1;
    }
    case KIND_URL:
        snprintf(vp->valid_range, sizeof(vp->valid_range), "null or http://HOST[:PORT][/PATH]");
        vp->got = GOT_QUOTED;
        if (json_is_null(v)) {
            dst[0] = '\0';
            return 0;
        }
        if (!json_is_string(v)) {
            snprintf(vp->message, sizeof(vp->message), "must be null or an http:// URL string");
            return -1;
        }
        if (check_http_url(json_string_value(v), json_string_length(v), f->size, vp) < 0)
            return -1;
        memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        return 0;
    }
    snprintf(vp->message, sizeof(vp->message), "internal error: unhandled field kind");
    vp->got = GOT_NONE;
    return -1;
}

/* Parses one present field into base + f->offset, stopping at a problem. */
static int parse_field(parse_ctx_t *c, const char *path, const field_t *f, const json_t *v,
                       void *base)
{
    value_problem_t vp;
    char got[128];
    if (convert_value(f, v, base, &vp) == 0)
        return 0;
    return fail(c, path, "%s%s", vp.message, got_suffix(v, vp.got, got, sizeof(got)));
}

/* "a, b, c" (sep ", ") or "a|b|c": the keys a section accepts. section is
 * NULL for the top of the autoscaler document, where sections count as
 * keys too. */
static void list_autoscaler_keys(const char *section, const char *sep, char *buf, size_t len)
{
    size_t used = 0;
    const char *prev_section = NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < N_AUTOSCALER && used < len; i++) {
        const field_t *f = &autoscaler_fields[i];
        const char *name;
        if (section) {
            if (!f->section || strcmp(f->section, section) != 0)
                continue;
            name = f->key;
        } else if (!f->section) {
            name = f->key;
        } else if (prev_section && strcmp(prev_section, f->section) == 0) {
            continue;
        } else {
            name = prev_section = f->section;
        }
        int w = snprintf(buf + used, len - used, "%s%s", used ? sep : "", name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Checks obj against a field table: unknown keys first (in document order,
 * so the first typo is the one reported), then every known field. prefix is
 * the path of obj itself, e.g. "server" or "models[2]". */
static int parse_object(parse_ctx_t *c, const char *prefix, const json_t *obj,
                        const field_t *fields, size_t n_fields, void *base)
{
    char path[128], shown[KEY_SHOWN_MAX + 4];
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
        snprintf(path, sizeof(path), "%s.%s", prefix, key_shown(key, shown, sizeof(shown)));
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

/* The settings a model leaves out follow the autoscaler's, now and when
 * they change; pinned means at least one replica, whatever min_replicas
 * says, so everything that reads min_replicas sees the real floor. */
static void inherit_defaults(model_config_t *m, const autoscaler_config_t *a)
{
    if (!m->own.min_replicas)
        m->min_replicas = a->replicas.min_replicas;
    if (!m->own.max_replicas)
        m->max_replicas = a->replicas.max_replicas;
    if (!m->own.cold_start_timeout_seconds)
        m->cold_start_timeout_seconds = a->cold_start_timeout_seconds;
    if (m->always_loaded && m->min_replicas < 1)
        m->min_replicas = 1;
}

static int parse_model(parse_ctx_t *c, size_t index, const json_t *obj,
                       const autoscaler_config_t *a, model_config_t *m)
{
    char prefix[32], path[64], got[64];
    snprintf(prefix, sizeof(prefix), "models[%zu]", index);

    if (!json_is_object(obj))
        return fail(c, prefix, "must be an object (got %s)", describe_value(obj, got, sizeof(got)));
    if (parse_object(c, prefix, obj, model_fields, N_FIELDS(model_fields), m) < 0)
        return -1;
    m->own.min_replicas = json_object_get(obj, "min_replicas") != NULL;
    m->own.max_replicas = json_object_get(obj, "max_replicas") != NULL;
    m->own.cold_start_timeout_seconds = json_object_get(obj, "cold_start_timeout_seconds") != NULL;
    inherit_defaults(m, a);

    if (!m->params)
        m->params = json_object();
    /* A gauge without a target (or a target without a gauge) cannot be
     * scaled on; refusing it beats silently ignoring half a setting. */
    if ((m->custom_metric_name[0] != '\0') != (m->custom_metric_target > 0)) {
        bool named = m->custom_metric_name[0] != '\0';
        snprintf(path, sizeof(path), "%s.%s", prefix,
                 named ? "custom_metric_target" : "custom_metric_name");
        return fail(c, path,
                    named ? "is required when custom_metric_name is set (the value of the metric "
                            "one replica carries, above 0)"
                          : "is required when custom_metric_target is set (the name of the "
                            "metric posted to POST /autoscaler/metrics)");
    }
    if (m->min_replicas > m->max_replicas) {
        /* Name the bound the model set: a max_replicas of 1 under an
         * autoscaler min_replicas of 2 is the max's fault, not the min's. */
        bool has_min = m->own.min_replicas;
        bool has_max = m->own.max_replicas;
        if (has_max && !has_min) {
            snprintf(path, sizeof(path), "%s.max_replicas", prefix);
            return fail(c, path,
                        "must not be below min_replicas (%d < %d), which comes from "
                        "autoscaler.replicas.min_replicas",
                        m->max_replicas, m->min_replicas);
        }
        snprintf(path, sizeof(path), "%s.min_replicas", prefix);
        return fail(c, path, "must not exceed max_replicas (%d > %d)%s", m->min_replicas,
                    m->max_replicas,
                    has_max ? "" : ", which comes from autoscaler.replicas.max_replicas");
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

/* ---- the autoscaler section ---- */

/* One merge in progress. The document's value for each row is kept so that
 * a cross-field problem can be pinned on the fields the document set, and
 * the first problem is kept as one sentence for the file's message. */
typedef struct merge_ctx {
    config_problems_t *problems; /* may be NULL: only the first problem is wanted */
    size_t count;                /* problems found, also beyond the capacity */
    char first_field[CONFIG_PATH_MAX];
    char first_message[512]; /* with " (got ...)" where that reads well */
    const json_t *given[N_AUTOSCALER];
    bool bad[N_AUTOSCALER]; /* given, and refused by its own row */
    bool models_allowed;    /* a top-level "models" is config_live_merge's to read */
} merge_ctx_t;

/* Copies what fits; a message cut short is better than none. */
/* A message or path cut to its buffer; never in the middle of a character
 * of the caller's text that it quotes. */
static void copy_text(char *dst, size_t size, const char *src)
{
    text_quote_utf8(dst, size, src, strlen(src), size - 1);
}

static void add_problem(merge_ctx_t *mc, const char *field, const json_t *value,
                        const char *valid_range, got_style_t got, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void add_problem(merge_ctx_t *mc, const char *field, const json_t *value,
                        const char *valid_range, got_style_t got, const char *fmt, ...)
{
    char msg[512], suffix[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (mc->count++ == 0) {
        copy_text(mc->first_field, sizeof(mc->first_field), field);
        snprintf(mc->first_message, sizeof(mc->first_message), "%s%s", msg,
                 got_suffix(value, got, suffix, sizeof(suffix)));
    }
    config_problems_t *p = mc->problems;
    if (!p || p->count >= CONFIG_MAX_PROBLEMS)
        return;
    config_problem_t *it = &p->items[p->count++];
    copy_text(it->field, sizeof(it->field), field);
    copy_text(it->message, sizeof(it->message), msg);
    copy_text(it->valid_range, sizeof(it->valid_range), valid_range ? valid_range : "");
    it->provided_value = value ? json_incref((json_t *)value) : NULL;
}

static size_t find_row(const char *section, const char *key)
{
    for (size_t i = 0; i < N_AUTOSCALER; i++) {
        const field_t *f = &autoscaler_fields[i];
        bool same_section = section ? f->section && strcmp(f->section, section) == 0 : !f->section;
        if (same_section && strcmp(f->key, key) == 0)
            return i;
    }
    return N_AUTOSCALER;
}

/* The row a rule names; missing means this file contradicts itself. */
static size_t row(const char *section, const char *key)
{
    size_t i = find_row(section, key);
    if (i == N_AUTOSCALER) {
        fprintf(stderr, "error inferd: config.c: no autoscaler row %s.%s\n", section ? section : "",
                key);
        abort();
    }
    return i;
}

static bool is_section(const char *key)
{
    for (size_t i = 0; i < N_AUTOSCALER; i++) {
        if (autoscaler_fields[i].section && strcmp(autoscaler_fields[i].section, key) == 0)
            return true;
    }
    return false;
}

static const char *row_path(size_t i, char *buf, size_t len)
{
    const field_t *f = &autoscaler_fields[i];
    if (f->section)
        snprintf(buf, len, "%s.%s", f->section, f->key);
    else
        snprintf(buf, len, "%s", f->key);
    return buf;
}

static void check_leaf(merge_ctx_t *mc, size_t i, const json_t *v, autoscaler_config_t *tmp)
{
    value_problem_t vp;
    char path[96];
    mc->given[i] = v;
    if (convert_value(&autoscaler_fields[i], v, tmp, &vp) == 0)
        return;
    mc->bad[i] = true;
    add_problem(mc, row_path(i, path, sizeof(path)), v, vp.valid_range, vp.got, "%s", vp.message);
}

static void report_row(merge_ctx_t *mc, size_t i, const char *valid_range, const char *message)
{
    char path[96];
    add_problem(mc, row_path(i, path, sizeof(path)), mc->given[i], valid_range, GOT_NONE, "%s",
                message);
}

/* A rule between two fields broke: it is reported against each of them
 * the document set, so an answer never blames a field the caller did not
 * send; when the document set neither, the base broke it and both are
 * named. */
static void report_pair(merge_ctx_t *mc, size_t a, const char *range_a, const char *msg_a, size_t b,
                        const char *range_b, const char *msg_b)
{
    bool ga = mc->given[a] != NULL, gb = mc->given[b] != NULL;
    if (ga || !gb)
        report_row(mc, a, range_a, msg_a);
    if (gb || !ga)
        report_row(mc, b, range_b, msg_b);
}

static bool set_and_valid(const merge_ctx_t *mc, size_t i)
{
    return mc->given[i] && !mc->bad[i];
}

/* Two pairs are one setting under two names. Setting one name sets the
 * other; setting both is checked by the rules that follow. */
static void apply_mirrors(const autoscaler_config_t *base, autoscaler_config_t *t,
                          const merge_ctx_t *mc)
{
    size_t s = row(NULL, "scaling_strategy");
    size_t p = row("advanced", "predictive_scaling");
    if (set_and_valid(mc, s) && !mc->given[p]) {
        t->advanced.predictive_scaling = t->scaling_strategy != STRATEGY_REACTIVE;
    } else if (set_and_valid(mc, p) && !mc->given[s]) {
        /* Turning prediction on keeps a strategy that already predicts and
         * otherwise adds it to the reactive one (hybrid), so the reactive
         * safety net stays; turning it off leaves reactive. */
        if (!t->advanced.predictive_scaling)
            t->scaling_strategy = STRATEGY_REACTIVE;
        else if (base->scaling_strategy == STRATEGY_REACTIVE)
            t->scaling_strategy = STRATEGY_HYBRID;
    }

    size_t a = row("model_management", "model_idle_timeout_minutes");
    size_t b = row("zero_scale_threshold", "idle_time_minutes");
    if (set_and_valid(mc, a) && !mc->given[b])
        t->zero_scale_threshold.idle_time_minutes = t->model_management.model_idle_timeout_minutes;
    else if (set_and_valid(mc, b) && !mc->given[a])
        t->model_management.model_idle_timeout_minutes = t->zero_scale_threshold.idle_time_minutes;
}

/* lo <= hi between two rows: "must not exceed" on lo, "must not be below"
 * on hi. */
static void rule_not_above(merge_ctx_t *mc, size_t lo, double lo_v, size_t hi, double hi_v)
{
    const field_t *fl = &autoscaler_fields[lo], *fh = &autoscaler_fields[hi];
    char pl[96], ph[96], a[32], b[32], c[32], ra[96], rb[96], ma[320], mb[320];
    if (mc->bad[lo] || mc->bad[hi] || lo_v <= hi_v)
        return;
    row_path(lo, pl, sizeof(pl));
    row_path(hi, ph, sizeof(ph));
    fmt_num(lo_v, a, sizeof(a));
    fmt_num(hi_v, b, sizeof(b));
    bool ints = fl->kind == KIND_INT;
    fmt_num(ints ? (double)fl->imin : fl->dmin, c, sizeof(c));
    snprintf(ra, sizeof(ra), "%s-%s", c, b);
    snprintf(ma, sizeof(ma), "must not exceed %s (%s > %s)", ph, a, b);
    fmt_num(ints ? (double)fh->imax : fh->dmax, c, sizeof(c));
    snprintf(rb, sizeof(rb), "%s-%s", a, c);
    snprintf(mb, sizeof(mb), "must not be below %s (%s < %s)", pl, b, a);
    report_pair(mc, lo, ra, ma, hi, rb, mb);
}

/* A scale-down threshold must lie strictly under its scale-up threshold:
 * between the two the pool holds still, and with no gap it would flap. */
static void rule_below(merge_ctx_t *mc, size_t lo, double lo_v, size_t hi, double hi_v)
{
    const field_t *fl = &autoscaler_fields[lo], *fh = &autoscaler_fields[hi];
    char pl[96], ph[96], a[32], b[32], c[32], ra[96], rb[96], ma[320], mb[320];
    if (mc->bad[lo] || mc->bad[hi] || lo_v < hi_v)
        return;
    row_path(lo, pl, sizeof(pl));
    row_path(hi, ph, sizeof(ph));
    fmt_num(lo_v, a, sizeof(a));
    fmt_num(hi_v, b, sizeof(b));
    fmt_num(fl->dmin, c, sizeof(c));
    snprintf(ra, sizeof(ra), "%s to below %s", c, b);
    snprintf(ma, sizeof(ma), "must be below %s (%s >= %s), or scaling would flap", ph, a, b);
    fmt_num(fh->dmax, c, sizeof(c));
    snprintf(rb, sizeof(rb), "above %s to %s", a, c);
    snprintf(mb, sizeof(mb), "must be above %s (%s <= %s), or scaling would flap", pl, b, a);
    report_pair(mc, lo, ra, ma, hi, rb, mb);
}

static void check_rules(const autoscaler_config_t *t, merge_ctx_t *mc)
{
    char ra[96], rb[96], ma[320], mb[320], x[32], y[32];

    size_t mn = row("replicas", "min_replicas"), mx = row("replicas", "max_replicas");
    size_t df = row("replicas", "default_replicas");
    int min = t->replicas.min_replicas, max = t->replicas.max_replicas;
    int def = t->replicas.default_replicas;
    if (!mc->bad[mn] && !mc->bad[mx] && min > max) {
        rule_not_above(mc, mn, min, mx, max);
    } else if (!mc->bad[mn] && !mc->bad[mx] && !mc->bad[df] && (def < min || def > max)) {
        snprintf(ra, sizeof(ra), "%d-%d", min, max);
        snprintf(ma, sizeof(ma),
                 "must be between replicas.min_replicas and replicas.max_replicas (%d-%d)", min,
                 max);
        if (def < min) {
            snprintf(rb, sizeof(rb), "%d-%d", 0, def);
            snprintf(mb, sizeof(mb), "must not exceed replicas.default_replicas (%d > %d)", min,
                     def);
        } else {
            snprintf(rb, sizeof(rb), "%d-%d", def < 1 ? 1 : def, CONFIG_REPLICAS_LIMIT);
            snprintf(mb, sizeof(mb), "must not be below replicas.default_replicas (%d < %d)", max,
                     def);
        }
        report_pair(mc, df, ra, ma, def < min ? mn : mx, rb, mb);
    }

    rule_not_above(mc, row("reactive", "panic_window_seconds"), t->reactive.panic_window_seconds,
                   row("reactive", "stable_window_seconds"), t->reactive.stable_window_seconds);
    rule_below(mc, row("scale_down_threshold", "cpu_percent"), t->scale_down_threshold.cpu_percent,
               row("thresholds", "cpu_threshold"), t->thresholds.cpu_threshold);
    rule_below(mc, row("scale_down_threshold", "memory_percent"),
               t->scale_down_threshold.memory_percent, row("thresholds", "memory_threshold"),
               t->thresholds.memory_threshold);

    size_t s = row(NULL, "scaling_strategy"), p = row("advanced", "predictive_scaling");
    bool predicts = t->scaling_strategy != STRATEGY_REACTIVE;
    if (!mc->bad[s] && !mc->bad[p] && predicts != t->advanced.predictive_scaling) {
        snprintf(ra, sizeof(ra), "%s",
                 t->advanced.predictive_scaling ? "predictive|hybrid" : "reactive");
        snprintf(ma, sizeof(ma),
                 "contradicts advanced.predictive_scaling (%s), which is true exactly for "
                 "\"predictive\" and \"hybrid\"",
                 t->advanced.predictive_scaling ? "true" : "false");
        snprintf(rb, sizeof(rb), "%s", predicts ? "true" : "false");
        snprintf(mb, sizeof(mb),
                 "contradicts scaling_strategy (\"%s\"): predictive_scaling is true exactly for "
                 "\"predictive\" and \"hybrid\"",
                 config_strategy_name(t->scaling_strategy));
        report_pair(mc, s, ra, ma, p, rb, mb);
    }

    size_t a = row("model_management", "model_idle_timeout_minutes");
    size_t b = row("zero_scale_threshold", "idle_time_minutes");
    double va = t->model_management.model_idle_timeout_minutes;
    double vb = t->zero_scale_threshold.idle_time_minutes;
    if (!mc->bad[a] && !mc->bad[b] && va != vb) {
        fmt_num(va, x, sizeof(x));
        fmt_num(vb, y, sizeof(y));
        snprintf(ra, sizeof(ra), "%s", y);
        snprintf(ma, sizeof(ma),
                 "must equal zero_scale_threshold.idle_time_minutes (%s != %s): the two names "
                 "hold one value",
                 x, y);
        snprintf(rb, sizeof(rb), "%s", x);
        snprintf(mb, sizeof(mb),
                 "must equal model_management.model_idle_timeout_minutes (%s != %s): the two "
                 "names hold one value",
                 y, x);
        report_pair(mc, a, ra, ma, b, rb, mb);
    }
}

/* The keys of the top of the document, "models" too where it is taken. */
static void list_top_keys(const merge_ctx_t *mc, const char *sep, char *buf, size_t len)
{
    list_autoscaler_keys(NULL, sep, buf, len);
    if (mc->models_allowed) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%smodels", sep);
    }
}

/* Merges doc onto *tmp (a copy of the base), reporting every problem;
 * *tmp holds only values that passed their own rows. */
static void merge_section(const autoscaler_config_t *base, const json_t *doc,
                          autoscaler_config_t *tmp, merge_ctx_t *mc)
{
    char path[96], keys[320], msg[320], shown[KEY_SHOWN_MAX + 4];
    const char *key, *key2;
    json_t *v, *v2;

    *tmp = *base;
    if (!json_is_object(doc)) {
        list_top_keys(mc, ", ", keys, sizeof(keys));
        add_problem(mc, "(root)", doc, "object", GOT_DESCRIBE, "must be an object with any of: %s",
                    keys);
        return;
    }
    json_object_foreach ((json_t *)doc, key, v) {
        size_t i = find_row(NULL, key);
        if (i < N_AUTOSCALER) {
            check_leaf(mc, i, v, tmp);
            continue;
        }
        if (mc->models_allowed && strcmp(key, "models") == 0)
            continue;
        snprintf(path, sizeof(path), "%s", key_shown(key, shown, sizeof(shown)));
        if (!is_section(key)) {
            list_top_keys(mc, "|", keys, sizeof(keys));
            list_top_keys(mc, ", ", msg, sizeof(msg));
            add_problem(mc, path, v, keys, GOT_NONE, "unknown field (expected one of: %s)", msg);
            continue;
        }
        if (!json_is_object(v)) {
            add_problem(mc, path, v, "object", GOT_DESCRIBE, "must be an object");
            continue;
        }
        json_object_foreach (v, key2, v2) {
            i = find_row(key, key2);
            if (i < N_AUTOSCALER) {
                check_leaf(mc, i, v2, tmp);
                continue;
            }
            snprintf(path, sizeof(path), "%s.%s", key, key_shown(key2, shown, sizeof(shown)));
            list_autoscaler_keys(key, "|", keys, sizeof(keys));
            list_autoscaler_keys(key, ", ", msg, sizeof(msg));
            add_problem(mc, path, v2, keys, GOT_NONE, "unknown field (expected one of: %s)", msg);
        }
    }

    apply_mirrors(base, tmp, mc);
    check_rules(tmp, mc);
}

/* Works on a copy so that base and out may be the same struct, and a
 * refused document leaves out as it was. */
static int autoscaler_merge(const autoscaler_config_t *base, const json_t *doc,
                            autoscaler_config_t *out, merge_ctx_t *mc)
{
    autoscaler_config_t tmp;
    merge_section(base, doc, &tmp, mc);
    if (mc->count > 0)
        return -1;
    *out = tmp;
    return 0;
}

void config_problems_clear(config_problems_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count && i < CONFIG_MAX_PROBLEMS; i++) {
        json_decref(p->items[i].provided_value);
        p->items[i].provided_value = NULL;
    }
    p->count = 0;
}

void config_autoscaler_defaults(autoscaler_config_t *out)
{
    *out = autoscaler_defaults;
}

int config_autoscaler_merge(const autoscaler_config_t *base, const json_t *doc,
                            autoscaler_config_t *out, config_problems_t *problems)
{
    merge_ctx_t mc;
    memset(&mc, 0, sizeof(mc));
    mc.problems = problems;
    if (problems)
        problems->count = 0;
    return autoscaler_merge(base, doc, out, &mc);
}

/* Whole values are written as integers, as the spec shows them (70, not
 * 70.0); the merge takes either back, so the round trip is exact. */
static json_t *number_json(double d)
{
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

/* A row's value in base, an autoscaler_config_t or a model_config_t. */
static json_t *row_to_json(const field_t *f, const void *base)
{
    const char *src = (const char *)base + f->offset;
    switch (f->kind) {
    case KIND_STRING:
        return f->null_ok && !src[0] ? json_null() : json_string(src);
    case KIND_INT:
        return json_integer(*(const int *)(const void *)src);
    case KIND_SECONDS:
    case KIND_NUMBER: {
        double d = *(const double *)(const void *)src;
        return f->null_ok && d == 0 ? json_null() : number_json(d);
    }
    case KIND_BOOL:
        return json_boolean(*(const bool *)(const void *)src);
    case KIND_STRATEGY:
        return json_string(config_strategy_name(*(const scaling_strategy_t *)(const void *)src));
    case KIND_URL:
        return src[0] ? json_string(src) : json_null();
    default:
        return json_null();
    }
}

static bool row_equal(const field_t *f, const void *a, const void *b)
{
    const char *x = (const char *)a + f->offset, *y = (const char *)b + f->offset;
    switch (f->kind) {
    case KIND_STRING:
        return strncmp(x, y, f->size) == 0;
    case KIND_INT:
        return *(const int *)(const void *)x == *(const int *)(const void *)y;
    case KIND_SECONDS:
    case KIND_NUMBER:
        return *(const double *)(const void *)x == *(const double *)(const void *)y;
    case KIND_BOOL:
        return *(const bool *)(const void *)x == *(const bool *)(const void *)y;
    case KIND_STRATEGY:
        return *(const scaling_strategy_t *)(const void *)x ==
               *(const scaling_strategy_t *)(const void *)y;
    case KIND_URL:
        return strncmp(x, y, f->size) == 0;
    default:
        return true;
    }
}

json_t *config_autoscaler_to_json(const autoscaler_config_t *a)
{
    json_t *root = must(json_object());
    json_t *section = NULL;
    const char *section_name = NULL;
    for (size_t i = 0; i < N_AUTOSCALER; i++) {
        const field_t *f = &autoscaler_fields[i];
        json_t *into = root;
        if (f->section) {
            if (!section_name || strcmp(section_name, f->section) != 0) {
                section = must(json_object());
                section_name = f->section;
                json_object_set_new(root, f->section, section);
            }
            into = section;
        }
        json_object_set_new(into, f->key, must(row_to_json(f, a)));
    }
    return root;
}

json_t *config_autoscaler_diff(const autoscaler_config_t *a, const autoscaler_config_t *b)
{
    json_t *out = must(json_array());
    char path[96];
    for (size_t i = 0; i < N_AUTOSCALER; i++) {
        if (!row_equal(&autoscaler_fields[i], a, b))
            json_array_append_new(out, must(json_string(row_path(i, path, sizeof(path)))));
    }
    return out;
}

const char *config_strategy_name(scaling_strategy_t s)
{
    if ((size_t)s < N_FIELDS(strategy_names))
        return strategy_names[s];
    return "unknown";
}

/* ---- the live configuration ---- */

/* A model's settings that POST /autoscaler/config changes, in the order GET
 * shows them. Each is checked by its row of model_fields, so the file and
 * the API take the same values. */
typedef enum {
    LIVE_MIN_REPLICAS,
    LIVE_MAX_REPLICAS,
    LIVE_TARGET_CONCURRENCY,
    LIVE_METRIC_NAME,
    LIVE_METRIC_TARGET,
    LIVE_COLD_START_TIMEOUT,
    LIVE_LOAD_TIMEOUT,
    N_LIVE,
} live_setting_t;

static const char *const live_keys[N_LIVE] = {
    [LIVE_MIN_REPLICAS] = "min_replicas",
    [LIVE_MAX_REPLICAS] = "max_replicas",
    [LIVE_TARGET_CONCURRENCY] = "target_concurrency",
    [LIVE_METRIC_NAME] = "custom_metric_name",
    [LIVE_METRIC_TARGET] = "custom_metric_target",
    [LIVE_COLD_START_TIMEOUT] = "cold_start_timeout_seconds",
    [LIVE_LOAD_TIMEOUT] = "load_timeout_seconds",
};

/* Fields that take effect only when the server next starts. */
static const char *const restart_paths[] = {"replicas.default_replicas"};

/* What a document gave one model, for the rules that follow. */
typedef struct model_merge {
    const json_t *given[N_LIVE];
    bool bad[N_LIVE]; /* given, and refused */
} model_merge_t;

static const field_t *live_row(size_t k)
{
    for (size_t i = 0; i < N_FIELDS(model_fields); i++) {
        if (strcmp(model_fields[i].key, live_keys[k]) == 0)
            return &model_fields[i];
    }
    fprintf(stderr, "error inferd: config.c: no model row %s\n", live_keys[k]);
    abort();
}

static size_t find_live(const char *key)
{
    size_t k = 0;
    while (k < N_LIVE && strcmp(live_keys[k], key) != 0)
        k++;
    return k;
}

static size_t find_model_index(const model_config_t *models, size_t n, const char *name)
{
    size_t i = 0;
    while (i < n && strcmp(models[i].name, name) != 0)
        i++;
    return i;
}

/* Whether m holds setting k as its own rather than the autoscaler's. */
static bool owns(const model_config_t *m, size_t k)
{
    switch (k) {
    case LIVE_MIN_REPLICAS:
        return m->own.min_replicas;
    case LIVE_MAX_REPLICAS:
        return m->own.max_replicas;
    case LIVE_COLD_START_TIMEOUT:
        return m->own.cold_start_timeout_seconds;
    case LIVE_TARGET_CONCURRENCY:
        return m->target_concurrency > 0;
    default:
        return true;
    }
}

static void set_own(model_config_t *m, size_t k)
{
    if (k == LIVE_MIN_REPLICAS)
        m->own.min_replicas = true;
    else if (k == LIVE_MAX_REPLICAS)
        m->own.max_replicas = true;
    else if (k == LIVE_COLD_START_TIMEOUT)
        m->own.cold_start_timeout_seconds = true;
}

/* A model's settings as they act: a target_concurrency of 0 is the
 * autoscaler's (the other inherited values are already in place). */
static model_config_t acting(const model_config_t *m, const autoscaler_config_t *a)
{
    model_config_t v = *m;
    if (v.target_concurrency == 0)
        v.target_concurrency = a->reactive.target_concurrency;
    return v;
}

static void list_strings(const char *const *items, size_t n, const char *sep, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? sep : "", items[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static void list_model_names(const model_config_t *models, size_t n, const char *sep, char *buf,
                             size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? sep : "", models[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Takes the value v that the document gives model m for setting k. In a
 * request, a value equal to the one the model inherits leaves it
 * inheriting: sending GET's answer back changes nothing. */
static void take_model_value(merge_ctx_t *mc, const char *path, size_t k, const json_t *v,
                             const autoscaler_config_t *a, config_models_mode_t mode,
                             model_config_t *m, model_merge_t *mm)
{
    const field_t *f = live_row(k);
    model_config_t cand = *m;
    value_problem_t vp;
    char range[32];

    mm->given[k] = v;
    mm->bad[k] = true;
    if (convert_value(f, v, &cand, &vp) < 0) {
        add_problem(mc, path, v, vp.valid_range, vp.got, "%s", vp.message);
        return;
    }
    /* 0 means "the autoscaler's" in a file; through the API a model's own
     * value stays its own (until --reset-config), like its other settings. */
    if (mode == CONFIG_MODELS_CHANGE && k == LIVE_TARGET_CONCURRENCY &&
        cand.target_concurrency == 0) {
        add_problem(mc, path, v, "0.1-1000", GOT_DESCRIBE, "must be a number between 0.1 and 1000");
        return;
    }
    if (k == LIVE_MIN_REPLICAS && m->always_loaded && cand.min_replicas < 1) {
        snprintf(range, sizeof(range), "1-%d", CONFIG_REPLICAS_LIMIT);
        add_problem(mc, path, v, range, GOT_NONE,
                    "must be at least 1: the model is always_loaded (pinned at one replica or "
                    "more)");
        return;
    }
    mm->bad[k] = false;
    model_config_t now = acting(m, a);
    if (mode == CONFIG_MODELS_CHANGE && !owns(m, k) && row_equal(f, &cand, &now))
        return;
    *m = cand;
    set_own(m, k);
}

static void merge_models(merge_ctx_t *mc, const json_t *doc_models, const autoscaler_config_t *a,
                         config_models_mode_t mode, model_config_t *models, model_merge_t *mm,
                         size_t n)
{
    char path[CONFIG_PATH_MAX], shown[KEY_SHOWN_MAX + 4], pipe[512], comma[512];
    const char *name, *key;
    json_t *entry, *v;

    if (!json_is_object(doc_models)) {
        add_problem(mc, "models", doc_models, "object", GOT_DESCRIBE,
                    "must be an object of model settings keyed by model name");
        return;
    }
    json_object_foreach ((json_t *)doc_models, name, entry) {
        size_t i = find_model_index(models, n, name);
        snprintf(path, sizeof(path), "models.%s", key_shown(name, shown, sizeof(shown)));
        if (i == n) {
            list_model_names(models, n, "|", pipe, sizeof(pipe));
            list_model_names(models, n, ", ", comma, sizeof(comma));
            add_problem(mc, path, entry, pipe, GOT_NONE, "unknown model (configured: %s)", comma);
            continue;
        }
        if (!json_is_object(entry)) {
            list_strings(live_keys, N_LIVE, ", ", comma, sizeof(comma));
            add_problem(mc, path, entry, "object", GOT_DESCRIBE,
                        "must be an object with any of: %s", comma);
            continue;
        }
        json_object_foreach (entry, key, v) {
            size_t k = find_live(key);
            snprintf(path, sizeof(path), "models.%s.%s", models[i].name,
                     key_shown(key, shown, sizeof(shown)));
            if (k < N_LIVE) {
                take_model_value(mc, path, k, v, a, mode, &models[i], &mm[i]);
                continue;
            }
            list_strings(live_keys, N_LIVE, "|", pipe, sizeof(pipe));
            list_strings(live_keys, N_LIVE, ", ", comma, sizeof(comma));
            add_problem(mc, path, v, pipe, GOT_NONE, "unknown field (expected one of: %s)", comma);
        }
    }
}

/* min_replicas above max_replicas. Blamed on the model's bounds the
 * document set; else on the autoscaler bound the document changed and the
 * model inherits (once, however many models it breaks). */
static void rule_model_bounds(merge_ctx_t *mc, const model_config_t *m, const model_merge_t *mm,
                              bool blamed[2])
{
    char path[CONFIG_PATH_MAX], range[32];
    int lo = m->min_replicas, hi = m->max_replicas;
    if (lo <= hi || mm->bad[LIVE_MIN_REPLICAS] || mm->bad[LIVE_MAX_REPLICAS])
        return;
    const json_t *gmin = mm->given[LIVE_MIN_REPLICAS], *gmax = mm->given[LIVE_MAX_REPLICAS];
    if (gmin || gmax) {
        if (gmin) {
            snprintf(path, sizeof(path), "models.%s.min_replicas", m->name);
            snprintf(range, sizeof(range), "%d-%d", m->always_loaded ? 1 : 0, hi);
            add_problem(mc, path, gmin, range, GOT_NONE, "must not exceed max_replicas (%d > %d)",
                        lo, hi);
        }
        if (gmax) {
            snprintf(path, sizeof(path), "models.%s.max_replicas", m->name);
            snprintf(range, sizeof(range), "%d-%d", lo, CONFIG_REPLICAS_LIMIT);
            add_problem(mc, path, gmax, range, GOT_NONE, "must not be below min_replicas (%d < %d)",
                        hi, lo);
        }
        return;
    }
    size_t rmin = row("replicas", "min_replicas"), rmax = row("replicas", "max_replicas");
    if (!m->own.min_replicas && mc->given[rmin] && !blamed[0]) {
        blamed[0] = true;
        snprintf(range, sizeof(range), "0-%d", hi);
        add_problem(mc, "replicas.min_replicas", mc->given[rmin], range, GOT_NONE,
                    "would raise the min_replicas of model %s above its own max_replicas (%d > %d)",
                    m->name, lo, hi);
    } else if (!m->own.max_replicas && mc->given[rmax] && !blamed[1]) {
        blamed[1] = true;
        snprintf(range, sizeof(range), "%d-%d", lo, CONFIG_REPLICAS_LIMIT);
        add_problem(mc, "replicas.max_replicas", mc->given[rmax], range, GOT_NONE,
                    "would lower the max_replicas of model %s below its own min_replicas (%d < %d)",
                    m->name, hi, lo);
    } else if (!blamed[0] && !blamed[1]) {
        snprintf(path, sizeof(path), "models.%s.min_replicas", m->name);
        snprintf(range, sizeof(range), "0-%d", hi);
        add_problem(mc, path, NULL, range, GOT_NONE, "must not exceed max_replicas (%d > %d)", lo,
                    hi);
    }
}

/* A gauge without a target (or a target without a gauge) cannot be scaled
 * on, so the two are set together; blamed on the ones the document set. */
static void rule_model_metric(merge_ctx_t *mc, const model_config_t *m, const model_merge_t *mm)
{
    char path[CONFIG_PATH_MAX];
    bool named = m->custom_metric_name[0] != '\0', targeted = m->custom_metric_target > 0;
    if (named == targeted || mm->bad[LIVE_METRIC_NAME] || mm->bad[LIVE_METRIC_TARGET])
        return;
    const json_t *gname = mm->given[LIVE_METRIC_NAME], *gtarget = mm->given[LIVE_METRIC_TARGET];
    if (gname || !gtarget) {
        snprintf(path, sizeof(path), "models.%s.custom_metric_name", m->name);
        add_problem(mc, path, gname, "null or a metric name, with custom_metric_target", GOT_NONE,
                    "must be set together with custom_metric_target (give both, or null for "
                    "both)");
    }
    if (gtarget) {
        snprintf(path, sizeof(path), "models.%s.custom_metric_target", m->name);
        add_problem(mc, path, gtarget, "null or above 0 up to 1000000000, with custom_metric_name",
                    GOT_NONE,
                    "must be set together with custom_metric_name (give both, or null for both)");
    }
}

int config_live_merge(const autoscaler_config_t *base, const model_config_t *models, size_t n,
                      const json_t *doc, config_models_mode_t mode, autoscaler_config_t *out,
                      model_config_t *out_models, config_problems_t *problems)
{
    merge_ctx_t mc;
    autoscaler_config_t a;
    bool blamed[2] = {false, false};
    model_config_t *tmp = xcalloc(n ? n : 1, sizeof(*tmp));
    model_merge_t *mm = xcalloc(n ? n : 1, sizeof(*mm));

    memset(&mc, 0, sizeof(mc));
    mc.problems = problems;
    mc.models_allowed = true;
    if (problems)
        problems->count = 0;
    merge_section(base, doc, &a, &mc);
    for (size_t i = 0; i < n; i++) {
        tmp[i] = models[i];
        inherit_defaults(&tmp[i], &a);
    }
    const json_t *doc_models = json_is_object(doc) ? json_object_get(doc, "models") : NULL;
    if (doc_models)
        merge_models(&mc, doc_models, &a, mode, tmp, mm, n);
    for (size_t i = 0; i < n; i++) {
        rule_model_bounds(&mc, &tmp[i], &mm[i], blamed);
        rule_model_metric(&mc, &tmp[i], &mm[i]);
    }

    int rc = -1;
    if (mc.count == 0) {
        *out = a;
        if (n > 0)
            memcpy(out_models, tmp, n * sizeof(*tmp));
        rc = 0;
    }
    free(mm);
    free(tmp);
    return rc;
}

json_t *config_live_to_json(const autoscaler_config_t *a, const model_config_t *models, size_t n)
{
    json_t *root = config_autoscaler_to_json(a);
    json_t *all = must(json_object());
    for (size_t i = 0; i < n; i++) {
        model_config_t v = acting(&models[i], a);
        json_t *entry = must(json_object());
        for (size_t k = 0; k < N_LIVE; k++)
            json_object_set_new(entry, live_keys[k], must(row_to_json(live_row(k), &v)));
        json_object_set_new(all, models[i].name, entry);
    }
    json_object_set_new(root, "models", all);
    return root;
}

json_t *config_live_diff(const autoscaler_config_t *a, const model_config_t *a_models,
                         const autoscaler_config_t *b, const model_config_t *b_models, size_t n)
{
    json_t *out = config_autoscaler_diff(a, b);
    char path[CONFIG_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        model_config_t va = acting(&a_models[i], a), vb = acting(&b_models[i], b);
        for (size_t k = 0; k < N_LIVE; k++) {
            if (row_equal(live_row(k), &va, &vb))
                continue;
            snprintf(path, sizeof(path), "models.%s.%s", a_models[i].name, live_keys[k]);
            json_array_append_new(out, must(json_string(path)));
        }
    }
    return out;
}

void config_record_overrides(json_t *overrides, const model_config_t *before,
                             const model_config_t *after, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < N_LIVE; k++) {
            const field_t *f = live_row(k);
            bool own = owns(&after[i], k);
            if (own == owns(&before[i], k) && (!own || row_equal(f, &before[i], &after[i])))
                continue;
            json_t *entry = json_object_get(overrides, after[i].name);
            if (!json_is_object(entry)) {
                entry = must(json_object());
                json_object_set_new(overrides, after[i].name, entry);
            }
            json_object_set_new(entry, live_keys[k], must(row_to_json(f, &after[i])));
        }
    }
}

bool config_needs_restart(const json_t *updated_fields)
{
    size_t i;
    json_t *v;
    json_array_foreach (updated_fields, i, v) {
        for (size_t r = 0; r < N_FIELDS(restart_paths); r++) {
            if (json_is_string(v) && strcmp(json_string_value(v), restart_paths[r]) == 0)
                return true;
        }
    }
    return false;
}

/* ---- the whole document ---- */

int config_from_json(const json_t *root, const char *origin, inferd_config_t **out, char *err,
                     size_t errlen)
{
    parse_ctx_t c = {.origin = origin ? origin : "configuration", .err = err, .errlen = errlen};
    inferd_config_t *cfg = xcalloc(1, sizeof(*cfg));
    const json_t *server, *autoscaler, *models;
    char got[64], path[CONFIG_PATH_MAX + 16], shown[KEY_SHOWN_MAX + 4];
    const char *key;
    json_t *v;

    *out = NULL;
    cfg->server = server_defaults;
    cfg->autoscaler = autoscaler_defaults;

    if (!json_is_object(root)) {
        fail(&c, "(root)",
             "must be an object with \"server\", \"autoscaler\" and \"models\" (got %s)",
             root ? describe_value(root, got, sizeof(got)) : "nothing");
        goto fail;
    }
    json_object_foreach ((json_t *)root, key, v) {
        if (strcmp(key, "server") != 0 && strcmp(key, "autoscaler") != 0 &&
            strcmp(key, "models") != 0) {
            snprintf(path, sizeof(path), "%s", key_shown(key, shown, sizeof(shown)));
            fail(&c, path, "unknown field (expected one of: server, autoscaler, models)");
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

    /* Before the models: their replica bounds and cold-start timeout
     * default to it. The same merge as POST /autoscaler/config, over the
     * defaults, so the two validate alike; a file reports the first
     * problem, as for every other field. */
    autoscaler = json_object_get(root, "autoscaler");
    if (autoscaler) {
        merge_ctx_t mc;
        memset(&mc, 0, sizeof(mc));
        if (autoscaler_merge(&autoscaler_defaults, autoscaler, &cfg->autoscaler, &mc) < 0) {
            if (strcmp(mc.first_field, "(root)") == 0)
                snprintf(path, sizeof(path), "autoscaler");
            else
                snprintf(path, sizeof(path), "autoscaler.%s", mc.first_field);
            fail(&c, path, "%s", mc.first_message);
            goto fail;
        }
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
        if (parse_model(&c, i, json_array_get(models, i), &cfg->autoscaler, m) < 0)
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

int config_floor_replicas(const model_config_t *m)
{
    int pinned = m->always_loaded ? 1 : 0;
    return m->min_replicas > pinned ? m->min_replicas : pinned;
}

int config_initial_replicas(const inferd_config_t *cfg, const model_config_t *m)
{
    int want =
        m->initial_replicas >= 0 ? m->initial_replicas : cfg->autoscaler.replicas.default_replicas;
    int floor_ = config_floor_replicas(m);
    if (want > m->max_replicas)
        want = m->max_replicas;
    /* After the cap: a pinned model gets its one replica even from a
     * (refused, so hand-built) configuration whose max is 0. */
    if (want < floor_)
        want = floor_;
    return want;
}
