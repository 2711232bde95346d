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

typedef struct model_config {
    char name[CONFIG_NAME_MAX];
    char backend[32];
    json_t *params;                    /* backend parameters, an object; owned */
    int min_replicas;                  /* 0..10, default 0 (1 when always_loaded) */
    int max_replicas;                  /* 1..10, >= min_replicas, default 3 */
    bool always_loaded;                /* pinned: never below 1 replica; default false */
    int max_queue_length;              /* 1..100000, default 100 */
    double cold_start_timeout_seconds; /* 0.1..3600, default 60: longest a request waits queued */
    double load_timeout_seconds;       /* 0.1..3600, default 60: spawn -> READY deadline */
    int max_text_length;               /* 1..1000000 characters, default 5000 */
    int replica_concurrency;           /* 1..64 requests in flight per replica, default 1 */
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
} server_config_t;

typedef struct inferd_config {
    server_config_t server;
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

/* Number of replicas a model starts with: max(min_replicas, always_loaded). */
int config_initial_replicas(const model_config_t *m);

#endif
