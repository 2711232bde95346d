/* test_histogram.c - the log-bucket latency histogram.
 *
 * Percentiles are checked against the nearest-rank percentile of the same
 * samples, sorted: the histogram must report the geometric middle of the
 * bucket holding that sample, so the two agree within half a bucket
 * (2^(1/16) - 1, about 4.4 %). Samples come from a seeded generator of our
 * own, so every run and every machine sees the same numbers.
 */
#include <criterion/criterion.h>

#include "metrics/histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Half a bucket, relative, plus room for rounding. */
#define HALF_BUCKET (exp2(1.0 / (2 * HISTOGRAM_PER_OCTAVE)) - 1 + 1e-12)

/* splitmix64: tiny, seedable, identical everywhere. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *state)
{
    return (double)(next_u64(state) >> 11) * 0x1p-53;
}

typedef enum { UNIFORM, EXPONENTIAL, BIMODAL, CONSTANT, LOGNORMAL } dist_t;

static double draw(dist_t d, uint64_t *state)
{
    double u = next_unit(state);
    switch (d) {
    case UNIFORM: /* 1 ms .. 1 s */
        return 1 + 999 * u;
    case EXPONENTIAL: /* mean 50 ms */
        return -50 * log1p(-u);
    case BIMODAL: /* 80 % fast around 10 ms, 20 % slow around 500 ms */
        return u < 0.8 ? 5 + 10 * next_unit(state) : 400 + 200 * next_unit(state);
    case CONSTANT:
        return 42;
    case LOGNORMAL: { /* median 20 ms, spanning several decades */
        double v = next_unit(state);
        double z = sqrt(-2 * log1p(-u)) * cos(2 * M_PI * v);
        return 20 * exp(1.5 * z);
    }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank q-quantile of sorted samples. */
static double brute_percentile(const double *sorted, size_t n, double q)
{
    double r = ceil(q * (double)n);
    size_t rank = r < 1 ? 1 : (size_t)r;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

Test(histogram, percentiles_match_brute_force_within_half_a_bucket)
{
    static const struct {
        const char *name;
        dist_t dist;
        size_t n;
        uint64_t seed;
    } rows[] = {
        {"uniform, one sample", UNIFORM, 1, 1},
        {"uniform, 7 samples", UNIFORM, 7, 2},
        {"uniform, 1000", UNIFORM, 1000, 3},
        {"uniform, 100000", UNIFORM, 100000, 4},
        {"exponential, 10", EXPONENTIAL, 10, 5},
        {"exponential, 1000", EXPONENTIAL, 1000, 6},
        {"exponential, 100000", EXPONENTIAL, 100000, 7},
        {"bimodal, 100", BIMODAL, 100, 8},
        {"bimodal, 100000", BIMODAL, 100000, 9},
        {"constant, 1", CONSTANT, 1, 10},
        {"constant, 5000", CONSTANT, 5000, 11},
        {"lognormal, 1000", LOGNORMAL, 1000, 12},
        {"lognormal, 100000", LOGNORMAL, 100000, 13},
    };
    static const double qs[] = {0, 0.5, 0.95, 0.99, 1};
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        uint64_t state = rows[r].seed;
        size_t n = rows[r].n;
        double *samples = malloc(n * sizeof(*samples));
        cr_assert_not_null(samples);
        histogram_t h;
        histogram_reset(&h);
        for (size_t i = 0; i < n; i++) {
            samples[i] = draw(rows[r].dist, &state);
            histogram_add(&h, samples[i]);
        }
        qsort(samples, n, sizeof(*samples), cmp_double);
        cr_expect_eq(h.total, n, "%s: total", rows[r].name);
        for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
            double want = brute_percentile(samples, n, qs[k]);
            double got = histogram_percentile(&h, qs[k]);
            /* Bucket 0 gathers everything down to 0, so below LOW only the
             * bucket can be right, not the value (exponential minima). */
            if (want <= HISTOGRAM_LOW_MS) {
                cr_expect(got <= HISTOGRAM_LOW_MS, "%s: q=%.2f got %g ms for %g ms", rows[r].name,
                          qs[k], got, want);
                continue;
            }
            cr_expect(fabs(got - want) <= HALF_BUCKET * want,
                      "%s: q=%.2f got %.6g ms, brute force %.6g ms (off by %.2f %%)", rows[r].name,
                      qs[k], got, want, 100 * fabs(got - want) / want);
        }
        free(samples);
    }
}

Test(histogram, empty_has_no_percentile_and_no_mean)
{
    static const double qs[] = {0, 0.5, 0.95, 0.99, 1};
    histogram_t h;
    histogram_reset(&h);
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
        cr_expect(isnan(histogram_percentile(&h, qs[k])), "q=%.2f", qs[k]);
    cr_expect(isnan(histogram_mean(&h)));
    histogram_t zeroed;
    memset(&zeroed, 0, sizeof(zeroed));
    cr_expect(isnan(histogram_percentile(&zeroed, 0.5)), "a zeroed struct is empty");
}

Test(histogram, bucket_of_known_values)
{
    /* Bucket i holds (LOW * 2^((i-1)/8), LOW * 2^(i/8)]. */
    static const struct {
        const char *name;
        double value;
        size_t bucket;
    } rows[] = {
        {"zero", 0, 0},
        {"negative", -5, 0},
        {"NaN", NAN, 0},
        {"-inf", -INFINITY, 0},
        {"below LOW", 0.0005, 0},
        {"LOW itself", 0.001, 0},
        {"just above LOW", 0.0010001, 1},
        {"2 x LOW: one octave", 0.002, 8},
        {"just above 2 x LOW", 0.0020001, 9},
        {"1 ms: ceil(8 log2 1000)", 1.0, 80},
        {"1 s", 1000.0, 160},
        {"an hour", 3.6e6, HISTOGRAM_BUCKETS - 1},
        {"+inf", INFINITY, HISTOGRAM_BUCKETS - 1},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
        cr_expect_eq(histogram_bucket_of(rows[r].value), rows[r].bucket, "%s: got %zu, want %zu",
                     rows[r].name, histogram_bucket_of(rows[r].value), rows[r].bucket);
}

Test(histogram, every_value_lies_within_its_buckets_edges)
{
    /* The exported edges and bucket_of must agree exactly, edges included:
     * an edge belongs to the bucket it closes, the next double to the next. */
    for (size_t i = 0; i + 1 < HISTOGRAM_BUCKETS; i++) {
        double upper = histogram_bucket_upper_ms(i);
        cr_assert(upper < histogram_bucket_upper_ms(i + 1), "edges increase at %zu", i);
        cr_expect_eq(histogram_bucket_of(upper), i, "edge %zu (%.17g)", i, upper);
        cr_expect_eq(histogram_bucket_of(nextafter(upper, INFINITY)), i + 1, "just above edge %zu",
                     i);
    }
    cr_expect(isinf(histogram_bucket_upper_ms(HISTOGRAM_BUCKETS - 1)), "the last is open");
    cr_expect(isinf(histogram_bucket_upper_ms(HISTOGRAM_BUCKETS + 5)), "beyond the last");
    cr_expect(fabs(histogram_bucket_upper_ms(0) - HISTOGRAM_LOW_MS) < 1e-18);

    uint64_t state = 99;
    for (int k = 0; k < 100000; k++) {
        double v = exp2(-12 + 45 * next_unit(&state)); /* 0.00024 ms .. 8.6e9 ms */
        size_t i = histogram_bucket_of(v);
        cr_assert(v <= histogram_bucket_upper_ms(i), "%.17g above bucket %zu", v, i);
        cr_assert(i == 0 || v > histogram_bucket_upper_ms(i - 1), "%.17g below bucket %zu", v, i);
    }
}

Test(histogram, merge_equals_adding_everything_to_one)
{
    static const struct {
        const char *name;
        dist_t dist;
        size_t n;
        unsigned parts;
    } rows[] = {
        {"exponential into 3", EXPONENTIAL, 30000, 3},
        {"bimodal into 10", BIMODAL, 5000, 10},
        {"uniform into 1", UNIFORM, 100, 1},
        {"two samples into 6 (some parts empty)", LOGNORMAL, 2, 6},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        uint64_t state = 1000 + r;
        histogram_t all, parts[10], merged;
        histogram_reset(&all);
        histogram_reset(&merged);
        for (unsigned p = 0; p < rows[r].parts; p++)
            histogram_reset(&parts[p]);
        for (size_t i = 0; i < rows[r].n; i++) {
            double v = draw(rows[r].dist, &state);
            histogram_add(&all, v);
            histogram_add(&parts[next_u64(&state) % rows[r].parts], v);
        }
        for (unsigned p = 0; p < rows[r].parts; p++)
            histogram_merge(&merged, &parts[p]);
        cr_expect_eq(memcmp(merged.counts, all.counts, sizeof(all.counts)), 0, "%s: counts",
                     rows[r].name);
        cr_expect_eq(merged.total, all.total, "%s: total", rows[r].name);
        cr_expect(fabs(merged.sum_ms - all.sum_ms) <= 1e-9 * all.sum_ms, "%s: sum %.17g vs %.17g",
                  rows[r].name, merged.sum_ms, all.sum_ms);
        cr_expect_eq(histogram_percentile(&merged, 0.99), histogram_percentile(&all, 0.99),
                     "%s: p99", rows[r].name);
    }
}

Test(histogram, mean_is_exact_and_ignores_bad_magnitudes)
{
    static const struct {
        const char *name;
        double values[5];
        size_t n;
        double mean;
    } rows[] = {
        {"one value", {12.5}, 1, 12.5},
        {"several", {1, 2, 3, 10}, 4, 4},
        {"zero counts as 0 ms", {0, 10}, 2, 5},
        {"negative counts as 0 ms", {-30, 10}, 2, 5},
        {"NaN counts as 0 ms", {NAN, 10, 20}, 3, 10},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        histogram_t h;
        histogram_reset(&h);
        for (size_t i = 0; i < rows[r].n; i++)
            histogram_add(&h, rows[r].values[i]);
        cr_expect(fabs(histogram_mean(&h) - rows[r].mean) < 1e-12, "%s: mean %g, want %g",
                  rows[r].name, histogram_mean(&h), rows[r].mean);
    }
    histogram_t h;
    histogram_reset(&h);
    histogram_add(&h, INFINITY);
    cr_expect(isfinite(histogram_mean(&h)), "+inf is counted but keeps the mean finite");
    cr_expect_eq(h.counts[HISTOGRAM_BUCKETS - 1], 1);
}

Test(histogram, quantile_argument_edges)
{
    /* Samples 1, 10, 100 ms; each row a q and the sample it must pick. */
    static const struct {
        double q;
        double sample; /* NAN: no answer */
    } rows[] = {
        {0, 1},   {0.33, 1}, {0.34, 10}, {0.5, 10},  {0.67, 100},
        {1, 100}, {-1, 1},   {7, 100},   {NAN, NAN},
    };
    histogram_t h;
    histogram_reset(&h);
    histogram_add(&h, 100);
    histogram_add(&h, 1);
    histogram_add(&h, 10);
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        double got = histogram_percentile(&h, rows[r].q);
        if (isnan(rows[r].sample))
            cr_expect(isnan(got), "q=%g", rows[r].q);
        else
            cr_expect(fabs(got - rows[r].sample) <= HALF_BUCKET * rows[r].sample,
                      "q=%g: got %g, want about %g", rows[r].q, got, rows[r].sample);
    }
}

Test(histogram, bucket_zero_and_last_report_their_nominal_middles)
{
    histogram_t h;
    histogram_reset(&h);
    histogram_add(&h, -1);
    double low = histogram_percentile(&h, 0.5);
    cr_expect(low > 0 && low <= HISTOGRAM_LOW_MS, "bucket 0 reports %g", low);
    histogram_reset(&h);
    histogram_add(&h, 1e12);
    double high = histogram_percentile(&h, 0.5);
    cr_expect(isfinite(high) && high > histogram_bucket_upper_ms(HISTOGRAM_BUCKETS - 2),
              "the last bucket reports %g", high);
}
