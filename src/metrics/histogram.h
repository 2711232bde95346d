/* histogram.h - a fixed log-bucket histogram of latencies.
 *
 * Bucket i holds values in (LOW * G^(i-1), LOW * G^i] milliseconds with
 * G = 2^(1/8) (about 9 % wide) and LOW = 0.001 ms; bucket 0 holds values up
 * to LOW, the last bucket everything above its lower edge. A percentile is
 * reported as the geometric middle of its bucket, so it is within about
 * 4.5 % of the true sample value. Pure: no I/O, no clock, no allocation.
 *
 * Values <= 0 and NaN go to bucket 0 and add 0 ms to sum_ms; +inf goes to
 * the last bucket and adds that bucket's nominal upper edge (about 986 s), so
 * a bad sample is counted but cannot make the mean NaN or infinite. A bucket
 * that reaches UINT32_MAX drops further samples (total counts only what the
 * buckets hold). A zeroed struct is an empty histogram.
 */
#ifndef INFERD_HISTOGRAM_H
#define INFERD_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_BUCKETS    240
#define HISTOGRAM_LOW_MS     0.001
#define HISTOGRAM_PER_OCTAVE 8

typedef struct histogram {
    uint32_t counts[HISTOGRAM_BUCKETS];
    uint64_t total;
    double sum_ms;
} histogram_t;

void histogram_reset(histogram_t *h);
void histogram_add(histogram_t *h, double value_ms);
void histogram_merge(histogram_t *into, const histogram_t *from);

/* The q-quantile (0 <= q <= 1) in ms, or NAN when the histogram is empty.
 * Nearest rank: the bucket holding the ceil(q * total)-th smallest sample
 * (the first for q = 0), reported as its geometric middle; bucket 0 and the
 * last bucket report the middle of their nominal one-step range. q outside
 * [0, 1] is clamped; a NaN q gives NAN. */
double histogram_percentile(const histogram_t *h, double q);

/* Mean in ms, or NAN when empty. */
double histogram_mean(const histogram_t *h);

/* Bucket index of a value, and a bucket's upper edge in ms (for exports):
 * histogram_bucket_upper_ms(histogram_bucket_of(v)) >= v always. The last
 * bucket's (and any index beyond it) upper edge is INFINITY. */
size_t histogram_bucket_of(double value_ms);
double histogram_bucket_upper_ms(size_t bucket);

#endif
