/* config.h - inferd's configuration: schema, defaults and validation.
 *
 * The configuration is a JSON document (see docs/configuration.md):
 *
 *   { "server": { ... }, "models": [ { "name": ..., "backend": ..., ... }, ... ] }
 *
 * config_load_file() and config_from_json() validate the whole document and
 * either return a complete configuration (defaults filled in) or fail with a
 * message that names the file, the field (as a path such as
 * "models[2].max_replicas") and the problem. Without a file,
 * config_default() gives the built-in models.
 *
 * The structs are plain read-only data: whoever holds an inferd_config_t
 * reads fields directly and frees it with config_free().
 */
#ifndef INFERD_CONFIG_H
#define INFERD_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CONFIG_NAME_MAX       64 /* model names: [A-Za-z0-9_.-], 1..63 chars */
#define CONFIG_REPLICAS_LIMIT 10 /* hard upper bound on any model's replicas */
/* custom metric names: [A-Za-z_][A-Za-z0-9_:.-]{0,62} */
#define CONFIG_METRIC_NAME_MAX     64
#define CONFIG_METRIC_TARGET_LIMIT 1e9 /* highest custom_metric_target */

typedef enum {
    STRATEGY_REACTIVE = 0,
    STRATEGY_PREDICTIVE,
    STRATEGY_HYBRID,
} scaling_strategy_t;

/* The "autoscaler" section, in the shape of GET /autoscaler/config (see
 * docs/configuration.md for every field, range and default). Windows in
 * minutes accept fractions, so that tests can use seconds. */
typedef struct autoscaler_config {
    bool enabled;              /* default true */
    bool zero_scaling_enabled; /* default true */
    /* "reactive" | "predictive" | "hybrid"; default reactive */
    scaling_strategy_t scaling_strategy;
    /* 0.1..3600, default 60: the cold_start_timeout_seconds of every model that
     * does not set its own */
    double cold_start_timeout_seconds;
    struct {
        int min_replicas;     /* 0..10, default 0: min_replicas of models without their own */
        int max_replicas;     /* 1..10, default 5: max_replicas of models without their own;
                                 >= min */
        int default_replicas; /* 0..10, default 1: a model's initial replicas, clamped; read
                                 when the server starts */
    } replicas;
    struct {
        double cpu_threshold;       /* 1..100 %, default 70: replica CPU (of one core) */
        double memory_threshold;    /* 1..100 %, default 80: machine memory */
        double gpu_threshold;       /* 1..100 %, default 85 */
        int queue_length_threshold; /* 1..100000, default 10 */
        /* 1..3600000, default 2000: p95 over the stable window */
        double response_time_threshold_ms;
    } thresholds;
    struct {
        double cpu_percent;    /* 0..100, default 20 */
        double memory_percent; /* 0..100, default 30 */
        /* 0..1440, default 5: load below these this long before a scale-down */
        double idle_time_minutes;
    } scale_down_threshold;
    struct {
        double idle_time_minutes;   /* 0..10080, default 15: no busy replica this long */
        double no_requests_minutes; /* 0..10080, default 10: no request this long */
    } zero_scale_threshold;
    struct {
        double scale_up_cooldown_seconds;   /* 0..86400, default 60 */
        double scale_down_cooldown_seconds; /* 0..86400, default 300 */
        double zero_scale_cooldown_seconds; /* 0..86400, default 900 */
    } cooldowns;
    struct {
        double metrics_collection_interval_seconds; /* 0.1..3600, default 1 */
        double decision_interval_seconds;           /* 0.1..3600, default 2 */
        double health_check_interval_seconds;       /* 1..3600, default 60 */
    } timing;
    struct {
        bool auto_unload_unused_models; /* default true: idle models may go to zero */
        /* 0..10080: the same value as zero_scale_threshold.idle_time_minutes */
        double model_idle_timeout_minutes;
        bool preload_popular_models;    /* default true */
        int max_concurrent_model_loads; /* 1..10, default 2 */
    } model_management;
    struct {
        /* 0.1..1000, default 1: requests per replica the pool is sized for */
        double target_concurrency;
        double stable_window_seconds; /* 1..3600, default 60 */
        double panic_window_seconds;  /* 1..stable window, default 6 */
        double panic_threshold;       /* 1.1..10, default 2: panic at this x current capacity */
    } reactive;
    struct {
        bool predictive_scaling;            /* mirrors scaling_strategy != reactive */
        bool custom_metrics_enabled;        /* default false */
        char external_metrics_webhook[512]; /* "" = null; http:// only */
        bool scaling_notifications_enabled; /* default true */
    } advanced;
} autoscaler_config_t;

typedef struct model_config {
    char name[CONFIG_NAME_MAX];
    char backend[32];
    json_t *params;                    /* backend parameters, an object; owned */
    int min_replicas;                  /* 0..10, default autoscaler.replicas.min_replicas (0);
                                          raised to 1 when always_loaded */
    int max_replicas;                  /* 1..10, >= min_replicas, default
                                          autoscaler.replicas.max_replicas (5) */
    bool always_loaded;                /* pinned: never below 1 replica; default false */
    int max_queue_length;              /* 1..100000, default 100 */
    double cold_start_timeout_seconds; /* 0.1..3600, default autoscaler.cold_start_timeout_seconds
                                          (60): longest a request waits queued */
    double load_timeout_seconds;       /* 0.1..3600, default 60: spawn -> READY deadline */
    int max_text_length;               /* 1..1000000 characters, default 5000 */
    int replica_concurrency;           /* 1..64 requests in flight per replica, default 1 */
    int initial_replicas;              /* 0..10; -1 (absent): autoscaler default_replicas */
    double target_concurrency;      /* 0 = autoscaler.reactive.target_concurrency; else 0.1..1000 */
    double memory_mb;               /* 0..1048576, default 0 = unknown: declared per-replica memory,
                                       used for admission until a replica has been measured */
    double request_timeout_seconds; /* 0.1..86400, default 300: longest a request may run on
                                       a replica; then the replica is killed and 504 answered */
    /* The gauge (POST /autoscaler/metrics) the policy also scales on, and the
     * value one replica carries; "" and 0 (JSON null, the default) = none.
     * Both or neither. */
    char custom_metric_name[CONFIG_METRIC_NAME_MAX];
    double custom_metric_target; /* 0 < t <= CONFIG_METRIC_TARGET_LIMIT when named */
    /* Which of the three settings above that default to the autoscaler's the
     * model sets itself (in its file entry, or through POST
     * /autoscaler/config); the others follow the autoscaler's value, also
     * when it changes (config_live_merge). */
    struct {
        bool min_replicas;
        bool max_replicas;
        bool cold_start_timeout_seconds;
    } own;
} model_config_t;

typedef struct server_config {
    char host[256];               /* default "127.0.0.1" */
    int port;                     /* 1..65535 (0 = any free port), default 8000 */
    char data_dir[1024];          /* default "./inferd-data" */
    size_t max_body_bytes;        /* 1 KiB..64 MiB, default 1 MiB */
    size_t max_header_bytes;      /* 1 KiB..1 MiB, default 16 KiB */
    unsigned header_timeout_ms;   /* 100..600000, default 10000: whole request head */
    unsigned body_timeout_ms;     /* 100..600000, default 30000: whole body */
    unsigned idle_timeout_ms;     /* 100..3600000, default 60000: keep-alive idle */
    unsigned shutdown_timeout_ms; /* 0..600000, default 15000: finish in-flight on SIGTERM */
    unsigned max_pipelined;       /* 1..1024 requests per connection awaiting answers, default 32 */
    unsigned health_check_interval_ms; /* 100..600000, default 5000: PING idle replicas */
    unsigned history_retention_days;   /* 1..3650, default 14: traffic rows and events kept */
} server_config_t;

typedef struct inferd_config {
    server_config_t server;
    autoscaler_config_t autoscaler;
    model_config_t *models; /* n_models entries, names unique */
    size_t n_models;
} inferd_config_t;

/* The built-in configuration: "example" (pinned), three flite voices and
 * one eSpeak NG voice. Never fails. */
inferd_config_t *config_default(void);

/* Reads and validates a file. On failure returns -1 and writes
 * "FILE: FIELD: problem" (or "FILE:LINE:COL: JSON error") into err. */
int config_load_file(const char *path, inferd_config_t **out, char *err, size_t errlen);

/* Validates a parsed document; origin names it in messages. */
int config_from_json(const json_t *root, const char *origin, inferd_config_t **out, char *err,
                     size_t errlen);

void config_free(inferd_config_t *cfg);

/* Returns the model called name, or NULL. */
const model_config_t *config_find_model(const inferd_config_t *cfg, const char *name);

/* Number of replicas a model starts with: its initial_replicas (or the
 * autoscaler's default_replicas) clamped to [min_replicas, max_replicas],
 * and at least 1 when always_loaded. */
int config_initial_replicas(const inferd_config_t *cfg, const model_config_t *m);

/* The lowest replica count a model may have: min_replicas, at least 1 when
 * always_loaded. */
int config_floor_replicas(const model_config_t *m);

/* Checks a custom metric name of len bytes (a JSON string may hold a NUL,
 * hence the length) against [A-Za-z_][A-Za-z0-9_:.-]{0,62}. Returns 0, or
 * -1 with the problem written into msg ("must be 1 to 63 characters ..."). */
int config_check_metric_name(const char *s, size_t len, char *msg, size_t msglen);

/* ---- the autoscaler section ---- */

/* One rejected field of a configuration document, for the
 * invalid_configuration answer. */
/* Room for "models.NAME.FIELD" with the longest name and a quoted unknown key. */
#define CONFIG_PATH_MAX 160

typedef struct config_problem {
    char field[CONFIG_PATH_MAX]; /* dotted path, e.g. "thresholds.cpu_threshold" */
    char message[256];           /* "must be a number between 1 and 100" */
    char valid_range[256];       /* "1-100", "reactive|predictive|hybrid", the known keys of an
                                    unknown field's object ("a|b|c"), "" if none */
    json_t *provided_value;      /* new reference, or NULL when the field was absent */
} config_problem_t;

#define CONFIG_MAX_PROBLEMS 32

typedef struct config_problems {
    size_t count;
    config_problem_t items[CONFIG_MAX_PROBLEMS];
} config_problems_t;

void config_problems_clear(config_problems_t *p);

/* The built-in autoscaler defaults. */
void config_autoscaler_defaults(autoscaler_config_t *out);

/* Merges a partial autoscaler document onto base into out: fields absent
 * from doc keep base's value. Validates the whole result (types, ranges,
 * unknown fields at any depth, cross-field rules such as min <= max) and
 * reports every problem, not just the first (up to CONFIG_MAX_PROBLEMS).
 * Returns 0, or -1 with problems filled and out untouched. out may be base.
 * problems may be NULL; otherwise it is overwritten, not read, and the
 * caller releases its references with config_problems_clear(). */
int config_autoscaler_merge(const autoscaler_config_t *base, const json_t *doc,
                            autoscaler_config_t *out, config_problems_t *problems);

/* The configuration as JSON in the shape of GET /autoscaler/config, plus
 * scale_down_threshold, zero_scale_threshold and reactive. New reference. */
json_t *config_autoscaler_to_json(const autoscaler_config_t *a);

/* Dotted paths of the leaves whose values differ between a and b, as a new
 * JSON array of strings (for updated_fields). */
json_t *config_autoscaler_diff(const autoscaler_config_t *a, const autoscaler_config_t *b);

const char *config_strategy_name(scaling_strategy_t s);

/* ---- the live configuration: the autoscaler section and the models' live settings ---- */

/* What POST /autoscaler/config changes is the autoscaler section plus, under
 * "models", the settings of each configured model that are read afresh
 * where they are used (a decision, a request's arrival, a replica's start):
 *
 *   "models": {"NAME": {"min_replicas", "max_replicas", "target_concurrency",
 *              "custom_metric_name", "custom_metric_target",
 *              "cold_start_timeout_seconds", "load_timeout_seconds"}}
 *
 * Model arrays below hold n copies of the configured models, in the
 * configuration's order; their params are borrowed, never freed here. */

/* How the values under "models" are taken. */
typedef enum {
    /* A request: a value equal to the one the model inherits from the
     * autoscaler section leaves it inheriting (so posting GET's answer back
     * changes nothing), and target_concurrency must be above 0. */
    CONFIG_MODELS_CHANGE,
    /* A stored version's overrides: every value given is the model's own. */
    CONFIG_MODELS_STORED,
} config_models_mode_t;

/* Merges doc, an autoscaler document that may also hold "models", onto base
 * and models: the autoscaler part as config_autoscaler_merge; then every
 * model takes the merged section's values for the settings it does not set
 * itself (see model_config_t.own); then the values doc gives it. Checks the
 * whole (unknown models and fields, types, ranges, min <= max, a pinned
 * model's floor, a custom metric's name and target together) and reports
 * every problem. Returns 0 with out and out_models (n entries) written, or
 * -1 with problems filled and neither touched. out may be base and
 * out_models may be models. */
int config_live_merge(const autoscaler_config_t *base, const model_config_t *models, size_t n,
                      const json_t *doc, config_models_mode_t mode, autoscaler_config_t *out,
                      model_config_t *out_models, config_problems_t *problems);

/* GET /autoscaler/config: config_autoscaler_to_json plus "models", each
 * model's live settings as they act (an inherited value shown as such, a
 * target_concurrency of 0 as the autoscaler's). New reference. */
json_t *config_live_to_json(const autoscaler_config_t *a, const model_config_t *models, size_t n);

/* updated_fields: config_autoscaler_diff, then "models.NAME.FIELD" for each
 * model setting whose value (as config_live_to_json shows it) differs. The
 * two model arrays hold the same models in the same order. New reference. */
json_t *config_live_diff(const autoscaler_config_t *a, const model_config_t *a_models,
                         const autoscaler_config_t *b, const model_config_t *b_models, size_t n);

/* Records in overrides ({"NAME": {"FIELD": value}}, updated in place) every
 * model setting that changed as a setting between before and after: its
 * value where the model sets it itself, not a change it only inherited.
 * That object is what a stored version keeps under "models". */
void config_record_overrides(json_t *overrides, const model_config_t *before,
                             const model_config_t *after, size_t n);

/* True when a field of updated_fields takes effect only at the next start
 * (replicas.default_replicas: models take their initial replicas then). */
bool config_needs_restart(const json_t *updated_fields);

#endif
