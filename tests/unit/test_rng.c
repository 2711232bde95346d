/* test_rng.c - the seeded generator: reproducible, streams apart, and the
 * distributions it draws have the moments they should (fixed seeds, so the
 * figures are the same on every run). */
#include <criterion/criterion.h>

#include "util/rng.h"

#include <math.h>

Test(rng, a_seed_reproduces_its_sequence_and_streams_differ)
{
    rng_t a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed_stream(&c, 42, 1);
    int same_as_stream = 0;
    for (int i = 0; i < 1000; i++) {
        double x = rng_uniform(&a), y = rng_uniform(&b), z = rng_uniform(&c);
        cr_assert_eq(x, y, "draw %d differs for one seed", i);
        same_as_stream += x == z;
    }
    cr_expect_lt(same_as_stream, 5, "a stream of the seed repeats the seed's draws");
}

Test(rng, draws_have_their_range_and_moments)
{
    rng_t r;
    rng_seed(&r, 7);
    const int n = 200000;
    double sum_u = 0, sum_e = 0, sum_n = 0, sum_n2 = 0;
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);
        cr_assert(u >= 0 && u < 1, "uniform %g out of [0, 1)", u);
        sum_u += u;
        double e = rng_exponential(&r, 2.5);
        cr_assert(isfinite(e) && e >= 0, "exponential %g", e);
        sum_e += e;
        double g = rng_normal(&r);
        cr_assert(isfinite(g), "normal %g", g);
        sum_n += g;
        sum_n2 += g * g;
    }
    cr_expect(fabs(sum_u / n - 0.5) < 0.005, "uniform mean %g", sum_u / n);
    cr_expect(fabs(sum_e / n - 2.5) < 0.03, "exponential mean %g", sum_e / n);
    cr_expect(fabs(sum_n / n) < 0.01, "normal mean %g", sum_n / n);
    cr_expect(fabs(sum_n2 / n - 1.0) < 0.02, "normal variance %g", sum_n2 / n);
}
