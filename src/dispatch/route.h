/* route.h - picks the replica a request goes to.
 *
 * Least-outstanding routing: among replicas that accept work and have a
 * free slot, the one with the fewest requests in flight; ties go to the
 * one dispatched to least recently, so equal replicas share the load.
 * Pure function over a table, so it is tested by tables.
 */
#ifndef INFERD_ROUTE_H
#define INFERD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct route_candidate {
    bool accepting;         /* ready, not draining */
    unsigned outstanding;   /* requests in flight on it */
    unsigned capacity;      /* most requests it may hold at once */
    uint64_t last_dispatch; /* sequence number of its latest dispatch; 0 = never */
} route_candidate_t;

/* Index of the chosen candidate, or -1 when none has a free slot. */
int route_pick(const route_candidate_t *candidates, size_t count);

#endif
