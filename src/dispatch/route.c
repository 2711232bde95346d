/* route.c - least-outstanding choice with least-recently-used tie break. */
#include "dispatch/route.h"

static bool better(const route_candidate_t *a, const route_candidate_t *b)
{
    if (a->outstanding != b->outstanding)
        return a->outstanding < b->outstanding;
    return a->last_dispatch < b->last_dispatch;
}

int route_pick(const route_candidate_t *candidates, size_t count)
{
    int best = -1;
    for (size_t i = 0; i < count; i++) {
        const route_candidate_t *c = &candidates[i];
        if (!c->accepting || c->outstanding >= c->capacity)
            continue;
        if (best < 0 || better(c, &candidates[best]))
            best = (int)i;
    }
    return best;
}
