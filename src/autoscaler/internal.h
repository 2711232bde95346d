/* internal.h - state shared by the autoscaler's own files (controller.c
 * decides and samples, operations.c records and tracks scaling operations).
 * Private to src/autoscaler/. */
#ifndef INFERD_AUTOSCALER_INTERNAL_H
#define INFERD_AUTOSCALER_INTERNAL_H

#include "autoscaler/autoscaler.h"
#include "autoscaler/gates.h"
#include "autoscaler/policy.h"

#define OP_MAX_MODELS   16
#define OP_HISTORY      256  /* operations kept for GET /autoscaler/scale/{id} */
#define LOAD_RING       4096 /* replica loads remembered for the 24 h success rate */
#define DECISION_RING   4096 /* decision times remembered for decisions per minute */
#define OUTCOME_PENDING 64   /* events waiting for their outcome metrics */

typedef enum { OP_IN_PROGRESS, OP_COMPLETED, OP_FAILED } op_status_t;

/* One model's part of an operation. */
typedef struct op_entry {
    pool_t *pool;
    char event_id[80];
    const char *type; /* scale_up, scale_down, zero_scale, cold_start */
    int previous;
    int target;
    bool done;
    bool success;
    double added_memory_mb;
    char failure_reason[32]; /* timeout, crashed, backend_error */
    char failure_message[300];
} op_entry_t;

typedef struct operation {
    char id[64];
    char action[24];
    char trigger[40];
    char reason[256];
    bool manual;
    double started_unix;
    uint64_t started_ns;
    uint64_t finished_ns;
    double allocation_ms;
    double estimated_load_ms; /* NAN when unknown */
    op_status_t status;
    size_t n;
    op_entry_t entries[OP_MAX_MODELS];
} operation_t;

/* One custom gauge of a model (POST /autoscaler/metrics). */
typedef struct custom_gauge {
    char name[CONFIG_METRIC_NAME_MAX]; /* "" = free slot */
    double value;
    double at_mono; /* when it was set, monotonic seconds */
    double at_unix;
} custom_gauge_t;

/* Per model, what the controller remembers. */
typedef struct model_state {
    pool_t *pool;
    policy_state_t policy;
    policy_decision_t last;
    bool decided;
    scale_times_t times;           /* when it last grew, changed, cold-started */
    double last_admission_refusal; /* last scaling_failed event for memory */
    double manual_hold_until;      /* a manual operation holds decisions off until then */
    int capped_growth_target; /* desired count a capped scale-up is still heading for; 0 none */
    unsigned consecutive_failures;
    double load_seconds;    /* spawn -> READY of the latest replica that loaded; NAN before one */
    double service_seconds; /* as the latest decision measured it, for burst start; NAN none */
    custom_gauge_t custom[AUTOSCALER_CUSTOM_METRICS_MAX];
} model_state_t;

typedef struct outcome_due {
    char event_id[80];
    pool_t *pool;
    double due; /* monotonic seconds */
} outcome_due_t;

struct autoscaler {
    uv_loop_t *loop;
    autoscaler_config_t cfg;
    dispatch_t *dispatch;
    store_t *store;
    collector_t *collector;
    uv_timer_t collect_timer;
    uv_timer_t decide_timer;
    int open_handles;
    bool stopped;

    double started_unix;
    double started_mono;
    double last_decision_unix;
    double last_collection_unix;
    bool have_system;
    system_sample_t system;

    size_t n_models;
    model_state_t *models;

    operation_t ops[OP_HISTORY];
    size_t n_ops; /* total ever created; ops[(n_ops - 1) % OP_HISTORY] is the newest */
    unsigned op_seq;

    double load_ok[LOAD_RING];
    double load_failed[LOAD_RING];
    size_t n_load_ok, n_load_failed;
    double last_load_failure_unix;
    int last_start_succeeded;

    double reserved_mb; /* admitted to replicas not yet seen by a sample */

    double decisions[DECISION_RING];
    size_t n_decisions;

    outcome_due_t outcomes[OUTCOME_PENDING];
    size_t n_outcomes;
};

model_state_t *autoscaler_model_state(autoscaler_t *a, const pool_t *pool);

/* Memory that new replicas may take now: MemAvailable from the latest
 * sample less what was admitted since (NAN when unknown); and reserving. */
double autoscaler_admissible_mb(const autoscaler_t *a);
void autoscaler_reserve_mb(autoscaler_t *a, double mb);

/* Trigger metrics of a model as seen now (new reference). */
json_t *autoscaler_model_metrics(autoscaler_t *a, pool_t *pool);

/* ---- custom_metrics.c ---- */

/* Fills in's custom-metric fields from the gauge the model scales on, or
 * leaves them off (target 0) when it names none or custom metrics are
 * disabled. */
void custom_metric_fill_input(const autoscaler_t *a, const model_state_t *ms, double now,
                              policy_input_t *in);

/* ---- operations.c ---- */

/* Starts an operation; entries are added with op_add_entry. */
operation_t *op_begin(autoscaler_t *a, const char *action, const char *trigger, const char *reason,
                      bool manual);
/* Records the event of one model's change (pending until done). */
void op_add_entry(autoscaler_t *a, operation_t *op, pool_t *pool, const char *type, int previous,
                  int target, double added_memory_mb);
/* Lists a model the operation leaves as it is: in the answer, with no
 * event. */
void op_add_unchanged(operation_t *op, pool_t *pool, int current);
/* Checks every operation in progress against its pools. */
void op_check_all(autoscaler_t *a);
/* A load of pool failed: operations waiting on it fail with this reason. */
void op_note_load_failure(autoscaler_t *a, pool_t *pool, const char *reason, const char *message);
/* Records a one-off event (scaling_failed, model_load_failed, replica_crashed). */
operation_t *op_record_incident(autoscaler_t *a, pool_t *pool, const char *type,
                                const char *trigger, int previous, int target, json_t *details);
/* Finishes an operation's open entries as failed. */
void op_abandon(autoscaler_t *a, operation_t *op, const char *reason, const char *message);
/* Finishes every operation still in progress as failed (at shutdown). */
void op_abandon_all(autoscaler_t *a, const char *reason, const char *message);
/* Writes outcome metrics whose time has come. */
void op_write_due_outcomes(autoscaler_t *a);
json_t *op_to_json(autoscaler_t *a, const operation_t *op);
operation_t *op_find(autoscaler_t *a, const char *id);
bool op_any_in_progress(const autoscaler_t *a);

#endif
