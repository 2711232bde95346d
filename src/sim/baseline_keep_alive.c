/* baseline_keep_alive.c - fixed keep-alive, as AWS Lambda does it, as a
 * simulator baseline.
 *
 * Algorithm: every concurrent request needs an instance, so the instances
 * in use are ceil((in flight + queued) / replica_concurrency); an instance
 * stays warm for a fixed 10 minutes after its last use and is then
 * reclaimed. The replicas wanted at time t are therefore the most that
 * were in use at any moment of (t - 10 min, t]: 0 after 10 idle minutes.
 *
 * Source: Shahrad et al., "Serverless in the Wild: Characterizing and
 * Optimizing the Serverless Workload at a Large Cloud Provider", USENIX
 * ATC 2020, which reports that AWS Lambda keeps an idle instance for 10
 * minutes (Azure Functions for 20) and evaluates such fixed keep-alive
 * policies as its baseline. AWS does not document the period; 10 minutes
 * is the value that paper reports. Defaults: keep-alive 600 s; decision
 * tick 1 s; an arrival raises the count at once (a request that finds no
 * free instance starts a cold one).
 *
 * What the simulation simplifies:
 * - The policy sees the load at arrivals and at 1 s ticks, not at each
 *   completion: a level of use counts as lasting until the first
 *   observation that finds it gone, so an instance is reclaimed at the
 *   first tick at least 10 minutes after it was actually freed.
 * - Instances are interchangeable replicas: which instance served which
 *   request is not tracked, only how many were in use.
 */
#include "sim/sim_policy.h"

#include <stdlib.h>

#define KEEP_ALIVE_SECONDS 600.0
#define KEEP_ALIVE_TICK    1.0

/* A level of use and the last time it was held. The queue holds levels
 * strictly decreasing from oldest to newest, so the oldest live one is
 * the maximum over the window; its length is bounded by the peak level. */
typedef struct use_level {
    double t;
    int replicas;
} use_level_t;

typedef struct keep_alive {
    unsigned concurrency;
    int previous; /* the level at the previous observation */
    use_level_t *levels;
    size_t first;
    size_t count;
    size_t capacity;
} keep_alive_t;

static void *keep_alive_create(const sim_model_t *model)
{
    keep_alive_t *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->concurrency = model->replica_concurrency ? model->replica_concurrency : 1;
    k->capacity = 16;
    k->levels = calloc(k->capacity, sizeof(*k->levels));
    if (!k->levels) {
        free(k);
        return NULL;
    }
    return k;
}

static void keep_alive_destroy(void *state)
{
    keep_alive_t *k = state;
    if (!k)
        return;
    free(k->levels);
    free(k);
}

static int keep_alive_push(keep_alive_t *k, double t, int replicas)
{
    /* Older levels no higher than this one can no longer be the maximum. */
    while (k->count > 0 && k->levels[k->first + k->count - 1].replicas <= replicas)
        k->count--;
    if (k->first + k->count == k->capacity) {
        if (k->first > 0) {
            for (size_t i = 0; i < k->count; i++)
                k->levels[i] = k->levels[k->first + i];
            k->first = 0;
        } else {
            size_t capacity = k->capacity > 0 ? k->capacity * 2 : 16;
            use_level_t *grown = realloc(k->levels, capacity * sizeof(*grown));
            if (!grown)
                return -1;
            k->levels = grown;
            k->capacity = capacity;
        }
    }
    k->levels[k->first + k->count] = (use_level_t){t, replicas};
    k->count++;
    return 0;
}

static int keep_alive_observe(void *state, const sim_observation_t *obs)
{
    keep_alive_t *k = state;
    unsigned load = obs->in_flight + obs->queued;
    int now_used = (int)((load + k->concurrency - 1) / k->concurrency);
    /* A level that dropped since the last look was held until now. */
    int held = now_used > k->previous ? now_used : k->previous;
    k->previous = now_used;
    if (keep_alive_push(k, obs->now, held) < 0)
        return held; /* out of memory: the current need is still right */
    while (k->count > 0 && k->levels[k->first].t <= obs->now - KEEP_ALIVE_SECONDS) {
        k->first++;
        k->count--;
    }
    return k->count > 0 ? k->levels[k->first].replicas : 0;
}

const sim_policy_ops_t sim_policy_keep_alive = {
    .name = "keep_alive",
    .tick_seconds = KEEP_ALIVE_TICK,
    .create = keep_alive_create,
    .destroy = keep_alive_destroy,
    .on_arrival = keep_alive_observe,
    .on_tick = keep_alive_observe,
};
