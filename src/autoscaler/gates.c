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

int gate_resize_target(const autoscaler_config_t *cfg, const scale_times_t *t,
                       int *capped_growth_target, const resize_request_t *r, double now)
{
    if (r->decided < *capped_growth_target)
        *capped_growth_target = 0;
    bool kept_for_queue = r->heading_for == 0 && r->queued > 0 && r->current == 1;
    if ((r->heading_for != r->current && !kept_for_queue) || r->on_hold)
        return -1;
    cooldown_check_t check;
    if (r->decided > r->current) {
        if (!r->panicking && *capped_growth_target < r->decided) {
            gate_cooldown(cfg, t, r->current, r->decided, now, &check);
            if (check.seconds_left > 0)
                return -1;
        }
        int add = r->decided - r->current;
        if (add > r->load_room)
            add = r->load_room;
        return add > 0 ? r->current + add : -1;
    }
    if (r->decided < r->current) {
        gate_cooldown(cfg, t, r->current, r->decided, now, &check);
        return check.seconds_left > 0 ? -1 : r->decided;
    }
    return -1;
}

int gate_resume_target(const autoscaler_config_t *cfg, const scale_times_t *t,
                       int capped_growth_target, const resize_request_t *r, double now)
{
    if (capped_growth_target <= r->current)
        return -1;
    resize_request_t resume = *r;
    resume.decided = capped_growth_target;
    return gate_resize_target(cfg, t, &capped_growth_target, &resume, now);
}

void gate_note_resize(scale_times_t *t, int *capped_growth_target, int current, int target,
                      int goal, double now)
{
    t->last_change = now;
    if (target > current) {
        t->last_scale_up = now;
        *capped_growth_target = target < goal ? goal : 0;
    } else {
        *capped_growth_target = 0;
    }
}

bool gate_growth_open(const autoscaler_config_t *cfg, const scale_times_t *t, double now)
{
    cooldown_check_t check;
    gate_cooldown(cfg, t, 1, 2, now, &check);
    return !(check.seconds_left > 0);
}
