/* gates.c - cooldown and memory-admission rules (see gates.h). */
#include "autoscaler/gates.h"

#include <math.h>

void gate_cooldown(const autoscaler_config_t *cfg, const scale_times_t *t, int current, int target,
                   double now, cooldown_check_t *out)
{
    double since, length;
    if (target > current) {
        since = t->last_scale_up;
        length = cfg->cooldowns.scale_up_cooldown_seconds;
        out->setting = "scale_up_cooldown_seconds";
    } else if (target == 0) {
        since = fmax(t->last_scale_up, t->last_cold_start);
        length = cfg->cooldowns.zero_scale_cooldown_seconds;
        out->setting = "zero_scale_cooldown_seconds";
    } else {
        since = t->last_change;
        length = cfg->cooldowns.scale_down_cooldown_seconds;
        out->setting = "scale_down_cooldown_seconds";
    }
    out->seconds_left = 0;
    if (target == current || current == 0)
        return;
    double left = length - (now - since);
    out->seconds_left = left > 0 ? left : 0;
}

int gate_memory_fit(double available_mb, double per_replica_mb, int want)
{
    if (want <= 0)
        return 0;
    if (!(per_replica_mb > 0) || isnan(available_mb))
        return want;
    double fit = floor(available_mb / per_replica_mb);
    if (fit <= 0)
        return 0;
    return fit < want ? (int)fit : want;
}
