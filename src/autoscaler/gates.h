/* gates.h - the checks between a decision and a resize: cooldowns and
 * memory admission. Pure (times and figures come in as arguments), shared
 * by automatic decisions and manual operations so that both obey the same
 * rules, and tested by tables.
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

/* How many of `want` new replicas of per_replica_mb each fit in
 * available_mb. Unknown figures (NAN, or a per-replica size of 0 before
 * any measurement or declaration) admit everything: memory admission can
 * refuse only on a figure it has. */
int gate_memory_fit(double available_mb, double per_replica_mb, int want);

#endif
