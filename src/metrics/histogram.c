/* histogram.c - fixed log-bucket latency histogram.
 *
 * Buckets grow by G = 2^(1/8) from HISTOGRAM_LOW_MS, so any sample is within
 * G^(1/2) of its bucket's geometric middle (about 4.4 %), across nine
 * decades, in a flat array that can be merged by adding counts. There is no
 * table of edges: an edge is one exp2(), and bucket_of() corrects the
 * rounding of log2() against those same edges, so a value always lands in
 * the bucket whose edges (as histogram_bucket_upper_ms reports them) hold it.
 */
#include "metrics/histogram.h"

#include <math.h>
#include <string.h>

#define LAST (HISTOGRAM_BUCKETS - 1)

/* Nominal upper edge of bucket i, finite even for the last bucket (which
 * holds everything above its lower edge). */
static double edge(long i)
{
    return HISTOGRAM_LOW_MS * exp2((double)i / HISTOGRAM_PER_OCTAVE);
}

void histogram_reset(histogram_t *h)
{
    memset(h, 0, sizeof(*h));
}

size_t histogram_bucket_of(double value_ms)
{
    /* !(v > LOW) also catches NaN: a value with no magnitude goes to bucket 0. */
    if (!(value_ms > HISTOGRAM_LOW_MS))
        return 0;
    if (!(value_ms <= edge(LAST - 1)))
        return LAST;
    long i = (long)ceil(log2(value_ms / HISTOGRAM_LOW_MS) * HISTOGRAM_PER_OCTAVE);
    if (i < 1)
        i = 1;
    if (i > LAST - 1)
        i = LAST - 1;
    /* log2() may round across an edge by one ulp; settle on the edges themselves. */
    while (i > 1 && value_ms <= edge(i - 1))
        i--;
    while (i < LAST && value_ms > edge(i))
        i++;
    return (size_t)i;
}

double histogram_bucket_upper_ms(size_t bucket)
{
    if (bucket >= LAST)
        return INFINITY;
    return edge((long)bucket);
}

void histogram_add(histogram_t *h, double value_ms)
{
    size_t i = histogram_bucket_of(value_ms);
    /* A saturated bucket drops further samples rather than wrap; total and
     * sum then stay consistent with the counts that percentiles walk. */
    if (h->counts[i] == UINT32_MAX)
        return;
    h->counts[i]++;
    h->total++;
    /* Non-positive and NaN count as 0 ms, +inf as the last bucket's nominal
     * upper edge, so one bad sample cannot make the mean NaN or infinite. */
    if (value_ms > 0 && isfinite(value_ms))
        h->sum_ms += value_ms;
    else if (value_ms > 0)
        h->sum_ms += edge(LAST);
}

void histogram_merge(histogram_t *into, const histogram_t *from)
{
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        uint32_t room = UINT32_MAX - into->counts[i];
        uint32_t n = from->counts[i] < room ? from->counts[i] : room;
        into->counts[i] += n;
        into->total += n;
    }
    into->sum_ms += from->sum_ms;
}

double histogram_percentile(const histogram_t *h, double q)
{
    if (h->total == 0 || isnan(q))
        return NAN;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    /* Nearest rank: the smallest sample with at least q of all samples at or
     * below it; q = 0 gives the minimum. */
    double r = ceil(q * (double)h->total);
    uint64_t rank = r < 1 ? 1 : (uint64_t)r;
    if (rank > h->total)
        rank = h->total;
    uint64_t seen = 0;
    size_t i = 0;
    for (; i < LAST; i++) {
        seen += h->counts[i];
        if (seen >= rank)
            break;
    }
    /* Geometric middle of (edge(i-1), edge(i)]. Bucket 0 and the last bucket
     * are open-ended; their nominal one-step ranges stand in. */
    return HISTOGRAM_LOW_MS * exp2(((double)i - 0.5) / HISTOGRAM_PER_OCTAVE);
}

double histogram_mean(const histogram_t *h)
{
    if (h->total == 0)
        return NAN;
    return h->sum_ms / (double)h->total;
}
