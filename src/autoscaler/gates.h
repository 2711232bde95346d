/* gates.h - the checks between a decision and a resize: cooldowns, the
 * controller's resize rules and memory admission. Pure (times and figures
 * come in as arguments), shared by automatic decisions and manual
 * operations so that both obey the same rules, and by the server's
 * controller and the simulator so that a simulated policy is gated exactly
 * as a live one; tested by tables.
 */
#ifndef INFERD_GATES_H
#define INFERD_GATES_H

#include <stdbool.h>

#include "config/config.h"

/* When a model last changed, in monotonic seconds (-INFINITY = never). */
typedef struct scale_times {
    double last_scale_up;
    double last_change; /* any change */
    double last_cold_start;
} scale_times_t;

typedef struct cooldown_check {
    double seconds_left; /* > 0: blocked for this long */
    const char *setting; /* the cooldown that applies, e.g. "scale_up_cooldown_seconds" */
} cooldown_check_t;

/* The cooldown a move from current to target must respect:
 *   growth       scale_up_cooldown_seconds since the last scale-up;
 *   to zero      zero_scale_cooldown_seconds since the last scale-up or cold start;
 *   other shrink scale_down_cooldown_seconds since any change.
 * A move from zero is a cold start and never waits. */
void gate_cooldown(const autoscaler_config_t *cfg, const scale_times_t *t, int current, int target,
                   double now, cooldown_check_t *out);

/* One automatic decision for one model, as the controller sees it. */
typedef struct resize_request {
    int current;     /* starting + ready replicas (draining ones excluded) */
    int heading_for; /* the count the pool is on its way to (its desired count) */
    unsigned queued; /* requests waiting for a replica */
    int decided;     /* the policy's desired count */
    bool panicking;  /* the policy is in panic mode */
    int load_room;   /* loads that may start now: max_concurrent_model_loads less those running */
    bool on_hold;    /* a manual operation holds the autoscaler off */
} resize_request_t;

/* The controller's rules between a decision and a resize. The count to
 * resize to, or -1 to leave the pool as it is:
 *   - a decision below a capped growth's goal forgets it (the load that
 *     wanted it is gone: *capped_growth_target becomes 0);
 *   - a pool on hold, or still on its way to an earlier count, is left
 *     alone (deciding again would count the same load twice), except a
 *     pool resized to zero that keeps one replica for the requests waiting
 *     on it;
 *   - growth waits for the scale-up cooldown unless the policy panics or
 *     the growth finishes one capped earlier (one decision carried out in
 *     steps), and starts at most load_room replicas;
 *   - a shrink waits for the scale-down or zero-scale cooldown.
 * Memory admission is the caller's next step for growth (gate_memory_fit);
 * then it records what it did with gate_note_resize. */
int gate_resize_target(const autoscaler_config_t *cfg, const scale_times_t *t,
                       int *capped_growth_target, const resize_request_t *r, double now);

/* A growth capped by the load limit goes on as loads finish: the count to
 * resize to for the capped goal (same rules), or -1 when there is none or
 * it cannot go on now. */
int gate_resume_target(const autoscaler_config_t *cfg, const scale_times_t *t,
                       int capped_growth_target, const resize_request_t *r, double now);

/* Records a resize from current to target made at now while heading for
 * goal: growth stamps the scale-up and remembers the goal when target
 * falls short of it; a shrink stamps the change and forgets any goal. */
void gate_note_resize(scale_times_t *t, int *capped_growth_target, int current, int target,
                      int goal, double now);

/* How many of `want` new replicas of per_replica_mb each fit in
 * available_mb. Unknown figures (NAN, or a per-replica size of 0 before
 * any measurement or declaration) admit everything: memory admission can
 * refuse only on a figure it has. */
int gate_memory_fit(double available_mb, double per_replica_mb, int want);

/* Whether a growth by one replica would pass the scale-up cooldown now.
 * Release asks it first: letting a replica go costs one load only while
 * the replica can come back at once; inside the cooldown it would cost the
 * cooldown's remainder, so the surplus stays until the next decision. */
bool gate_growth_open(const autoscaler_config_t *cfg, const scale_times_t *t, double now);

#endif
