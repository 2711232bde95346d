/* registry.c - the policies the simulator can run, by name.
 *
 * One table, so that `--policy all`, the error for an unknown name and the
 * tests that run every policy cannot disagree about what exists. inferd's
 * strategies come first: they are what the baselines are compared with.
 */
#include "sim/sim_policy.h"

#include <stdio.h>
#include <string.h>

static const char *const inferd_names[] = {"reactive", "predictive", "hybrid"};

static const sim_policy_ops_t *const baselines[] = {
    &sim_policy_kpa,
    &sim_policy_hpa,
    &sim_policy_ray_serve,
    &sim_policy_keep_alive,
    &sim_policy_hybrid_histogram,
};

#define N_INFERD    (sizeof(inferd_names) / sizeof(inferd_names[0]))
#define N_BASELINES (sizeof(baselines) / sizeof(baselines[0]))

size_t sim_policy_count(void)
{
    return N_INFERD + N_BASELINES;
}

const char *sim_policy_name(size_t i)
{
    if (i < N_INFERD)
        return inferd_names[i];
    return i < N_INFERD + N_BASELINES ? baselines[i - N_INFERD]->name : NULL;
}

int sim_policy_find(const char *name, sim_policy_ops_t *out)
{
    if (sim_policy_inferd_ops(name, out) == 0)
        return 0;
    for (size_t i = 0; i < N_BASELINES; i++) {
        if (strcmp(baselines[i]->name, name) == 0) {
            *out = *baselines[i];
            return 0;
        }
    }
    return -1;
}

void sim_policy_known_names(char *buf, size_t len)
{
    size_t used = 0;
    if (len > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < sim_policy_count() && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", sim_policy_name(i));
        if (n < 0)
            return;
        used += (size_t)n;
    }
}
