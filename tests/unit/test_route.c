/* test_route.c - least-outstanding routing, as a table of situations. */
#include <criterion/criterion.h>

#include "dispatch/route.h"

#define MAXC 4

typedef struct row {
    const char *situation;
    size_t count;
    route_candidate_t c[MAXC];
    int expected;
} row_t;

#define R(acc, out, cap, last)                                                                     \
    {                                                                                              \
        .accepting = (acc), .outstanding = (out), .capacity = (cap), .last_dispatch = (last)       \
    }

static const row_t rows[] = {
    {"no replicas", 0, {{0}}, -1},
    {"one idle replica", 1, {R(true, 0, 1, 0)}, 0},
    {"one busy replica at capacity", 1, {R(true, 1, 1, 5)}, -1},
    {"starting replica does not accept", 1, {R(false, 0, 1, 0)}, -1},
    {"idle beats busy", 2, {R(true, 1, 2, 1), R(true, 0, 2, 9)}, 1},
    {"fewest outstanding wins", 3, {R(true, 2, 4, 1), R(true, 1, 4, 2), R(true, 3, 4, 0)}, 1},
    {"tie goes to least recently used",
     3,
     {R(true, 0, 1, 7), R(true, 0, 1, 3), R(true, 0, 1, 5)},
     1},
    {"never-used replica first on a tie", 2, {R(true, 0, 1, 4), R(true, 0, 1, 0)}, 1},
    {"draining replica skipped even if idle", 2, {R(false, 0, 1, 0), R(true, 1, 2, 8)}, 1},
    {"all full", 3, {R(true, 1, 1, 1), R(true, 2, 2, 2), R(true, 1, 1, 3)}, -1},
};

Test(route, table)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        cr_expect_eq(route_pick(rows[i].c, rows[i].count), rows[i].expected, "%s",
                     rows[i].situation);
}

Test(route, spreads_equal_replicas_round_robin)
{
    route_candidate_t c[3] = {R(true, 0, 1, 0), R(true, 0, 1, 0), R(true, 0, 1, 0)};
    int seen[3] = {0};
    for (uint64_t seq = 1; seq <= 9; seq++) {
        int i = route_pick(c, 3);
        cr_assert_geq(i, 0);
        seen[i]++;
        c[i].last_dispatch = seq;
    }
    cr_expect(seen[0] == 3 && seen[1] == 3 && seen[2] == 3, "each replica gets a third");
}
