/* window.c - one model's counters, gauge integrals and latency histograms
 * over the last hour.
 *
 * Everything is addressed by absolute time: the bucket of second k lives at
 * ring index (k - base) mod RING and carries a stamp naming k, so a bucket
 * left over from an earlier lap is recognised as stale and cleared when it is
 * next touched. Nothing ever sweeps the ring, and a query skips what it does
 * not recognise, so data older than the ring can never reappear.
 *
 * Gauges change at arbitrary times and are piecewise constant. A set call
 * integrates the previous value from the previous change up to now, split
 * across the seconds crossed (at most one ring's worth: older seconds would
 * be overwritten anyway). The stretch since the last change is never stored;
 * queries add it on the fly, which keeps them const and exact up to `now`.
 * To cut a span inside a second exactly, each bucket also remembers, per
 * gauge pair, the value in force when its second began and the offset of the
 * first change within it: a cut before that change is exact, and so is any
 * cut in a second with at most one change.
 *
 * Both rings hold one more entry than the hour, so a full-hour span that
 * starts inside a second (or a ten-second slot) still finds that partial
 * second rather than the current one, which shares its index.
 *
 * The 24-hour figures need counters only, so a third ring, of one-minute
 * buckets addressed and stamped the same way, holds just those: 32 bytes a
 * minute (46 KB a day) where a day of second buckets would take 8 MB. It
 * has a day and one entries like the others, though its rule (whole minutes
 * whose start lies in the span) reads at most 1440 of them.
 */
#include "metrics/window.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RING           (WINDOW_SECONDS + 1)
#define SLOTS          (WINDOW_SECONDS / WINDOW_SLOT_SECONDS + 1)
#define SLOTS_PER_MIN  (60 / WINDOW_SLOT_SECONDS)
#define WINDOW_MINUTES (WINDOW_SECONDS / 60) /* minutes the slot ring reaches back */
#define DAY_RING       (WINDOW_DAY_SECONDS / 60 + 1)
#define NO_CHANGE      1.0f /* first_change when the pair did not change in the second */

/* Gauges come in pairs set together: set_load gives (in flight + queued,
 * queued), set_replicas gives (ready, busy). */
enum { PAIR_LOAD, PAIR_REPLICAS, PAIRS };

/* The request counters, kept per second and per minute. uint32: a minute
 * never sees 4e9 requests (70 million a second). */
struct counts {
    uint32_t arrivals, finished, successes, client_errors, server_errors, drops, timeouts;
};

/* 96 bytes. Counters are uint32: a second never sees 4e9 requests. The
 * gauge integrals of one second are at most value x 1 s and take one add
 * per change, so float's 24-bit mantissa keeps them to ~1e-7 (worst case
 * ~1e-4 after thousands of changes in one second), far below what a policy
 * acts on; queries sum them in double. The millisecond sums stay double: a
 * busy second adds thousands of values into a sum near 1e6 ms, where float
 * steps are 0.06 ms, and they are reported as averages that clients compare
 * with their own measurements. */
struct bucket {
    uint32_t stamp; /* second - base + 1; 0 = never used */
    struct counts c;
    uint32_t latency_count, queue_wait_count;
    double latency_sum_ms, queue_wait_sum_ms;
    float integral[PAIRS][2];
    float first_change[PAIRS];      /* offset in the second, or NO_CHANGE */
    uint32_t start_value[PAIRS][2]; /* value in force when the second began */
};

/* There are 3601 of these per model: a new field should earn its bytes. */
_Static_assert(sizeof(struct bucket) <= 96, "struct bucket grew past 96 bytes");

/* 32 bytes; 1441 per model. */
struct minute_bucket {
    uint32_t stamp; /* minute - base_minute + 1; 0 = never used */
    struct counts c;
};

_Static_assert(sizeof(struct minute_bucket) <= 32, "struct minute_bucket grew past 32 bytes");

struct slot {
    uint32_t stamp; /* slot index - base_slot + 1; 0 = never used */
    histogram_t h;
};

struct gauge {
    double since; /* time of the last change; integrated up to here */
    uint32_t value[2];
};

struct model_window {
    double created;
    double latest; /* latest time passed in; earlier times are raised to it */
    int64_t base;  /* floor(created): bucket stamps count seconds from here */
    int64_t base_slot;
    int64_t base_minute;
    double last_arrival;
    double idle_since; /* when it last stopped being busy; negative if never */
    bool busy;
    struct gauge gauge[PAIRS];
    struct bucket buckets[RING];
    struct slot slots[SLOTS];
    struct minute_bucket minutes[DAY_RING];
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t second_of(double t)
{
    return (int64_t)floor(t);
}

/* Times never go backwards; a stale or NaN time is read as the latest one. */
static double effective_time(const model_window_t *w, double now)
{
    return now >= w->latest ? now : w->latest;
}

static double note_time(model_window_t *w, double now)
{
    now = effective_time(w, now);
    w->latest = now;
    return now;
}

static struct bucket *bucket_touch(model_window_t *w, int64_t second)
{
    int64_t rel = second - w->base;
    struct bucket *b = &w->buckets[rel % RING];
    if (b->stamp != (uint32_t)(rel + 1)) {
        memset(b, 0, sizeof(*b));
        b->stamp = (uint32_t)(rel + 1);
        b->first_change[PAIR_LOAD] = b->first_change[PAIR_REPLICAS] = NO_CHANGE;
    }
    return b;
}

static const struct bucket *bucket_get(const model_window_t *w, int64_t second)
{
    int64_t rel = second - w->base;
    if (rel < 0)
        return NULL;
    const struct bucket *b = &w->buckets[rel % RING];
    return b->stamp == (uint32_t)(rel + 1) ? b : NULL;
}

static struct counts *minute_touch(model_window_t *w, int64_t second)
{
    int64_t rel = floor_div(second, 60) - w->base_minute;
    struct minute_bucket *m = &w->minutes[rel % DAY_RING];
    if (m->stamp != (uint32_t)(rel + 1)) {
        memset(m, 0, sizeof(*m));
        m->stamp = (uint32_t)(rel + 1);
    }
    return &m->c;
}

static void count_finish(struct counts *c, request_outcome_t outcome)
{
    c->finished++;
    switch (outcome) {
    case OUTCOME_SUCCESS:
        c->successes++;
        break;
    case OUTCOME_CLIENT_ERROR:
        c->client_errors++;
        break;
    case OUTCOME_SERVER_ERROR:
        c->server_errors++;
        break;
    case OUTCOME_DROPPED:
        c->drops++;
        break;
    case OUTCOME_TIMEOUT:
        c->timeouts++;
        break;
    }
}

static void add_counts(window_totals_t *out, const struct counts *c)
{
    out->arrivals += c->arrivals;
    out->finished += c->finished;
    out->successes += c->successes;
    out->client_errors += c->client_errors;
    out->server_errors += c->server_errors;
    out->drops += c->drops;
    out->timeouts += c->timeouts;
}

static histogram_t *slot_touch(model_window_t *w, int64_t second)
{
    int64_t rel = floor_div(second, WINDOW_SLOT_SECONDS) - w->base_slot;
    struct slot *s = &w->slots[rel % SLOTS];
    if (s->stamp != (uint32_t)(rel + 1)) {
        histogram_reset(&s->h);
        s->stamp = (uint32_t)(rel + 1);
    }
    return &s->h;
}

static void integrate(struct bucket *b, int pair, const uint32_t value[2], double dt)
{
    for (int i = 0; i < 2; i++)
        b->integral[pair][i] = (float)((double)b->integral[pair][i] + value[i] * dt);
}

/* Integrates the pair's current value from its last change up to t and
 * records a change at t. Touches at most RING buckets, however long the gap. */
static void gauge_advance(model_window_t *w, int pair, double t)
{
    struct gauge *g = &w->gauge[pair];
    int64_t k0 = second_of(g->since), k1 = second_of(t);
    struct bucket *b;
    if (k0 == k1) {
        b = bucket_touch(w, k1);
        integrate(b, pair, g->value, t - g->since);
        /* Only the first call after window_new finds no change recorded here;
         * the value was 0 since creation, which start_value already says. */
        if (b->first_change[pair] == NO_CHANGE)
            b->first_change[pair] = (float)(t - (double)k1);
        return;
    }
    int64_t oldest = k1 - WINDOW_SECONDS; /* the oldest second the ring holds at t */
    if (k0 >= oldest) {
        b = bucket_touch(w, k0);
        integrate(b, pair, g->value, (double)(k0 + 1) - g->since);
    }
    /* Whole seconds in between saw no change of this pair. A zero value
     * needs no write: a bucket the pair never touched reads as zero. */
    if (g->value[0] || g->value[1]) {
        for (int64_t k = k0 + 1 > oldest ? k0 + 1 : oldest; k < k1; k++) {
            b = bucket_touch(w, k);
            memcpy(b->start_value[pair], g->value, sizeof(g->value));
            integrate(b, pair, g->value, 1.0);
        }
    }
    b = bucket_touch(w, k1);
    memcpy(b->start_value[pair], g->value, sizeof(g->value));
    integrate(b, pair, g->value, t - (double)k1);
    b->first_change[pair] = (float)(t - (double)k1);
}

static void update_busy(model_window_t *w, double now)
{
    bool busy = w->gauge[PAIR_LOAD].value[0] > 0 || w->gauge[PAIR_REPLICAS].value[1] > 0;
    if (w->busy && !busy)
        w->idle_since = now;
    w->busy = busy;
}

model_window_t *window_new(double now)
{
    if (!isfinite(now))
        now = 0;
    /* calloc: a zeroed bucket or slot is an unused one, and the ~750 KB
     * arrive as untouched zero pages. */
    model_window_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->created = w->latest = now;
    w->base = second_of(now);
    w->base_slot = floor_div(w->base, WINDOW_SLOT_SECONDS);
    w->base_minute = floor_div(w->base, 60);
    w->last_arrival = -1;
    w->idle_since = -1;
    for (int p = 0; p < PAIRS; p++)
        w->gauge[p].since = now;
    return w;
}

void window_free(model_window_t *w)
{
    free(w);
}

void window_record_arrival(model_window_t *w, double now)
{
    now = note_time(w, now);
    int64_t second = second_of(now);
    bucket_touch(w, second)->c.arrivals++;
    minute_touch(w, second)->arrivals++;
    w->last_arrival = now;
}

void window_record_finish(model_window_t *w, double now, request_outcome_t outcome,
                          double latency_ms, double queue_ms)
{
    now = note_time(w, now);
    int64_t second = second_of(now);
    struct bucket *b = bucket_touch(w, second);
    count_finish(&b->c, outcome);
    count_finish(minute_touch(w, second), outcome);
    /* A drop is refused at once; its near-zero latency would flatter the
     * figures. A timeout did wait, and that wait is what users saw. */
    if (outcome != OUTCOME_DROPPED && latency_ms >= 0) {
        b->latency_sum_ms += latency_ms;
        b->latency_count++;
        histogram_add(slot_touch(w, second), latency_ms);
    }
    if (queue_ms >= 0) {
        b->queue_wait_sum_ms += queue_ms;
        b->queue_wait_count++;
    }
}

void window_set_load(model_window_t *w, double now, unsigned in_flight, unsigned queued)
{
    now = note_time(w, now);
    gauge_advance(w, PAIR_LOAD, now);
    uint64_t total = (uint64_t)in_flight + queued;
    struct gauge *g = &w->gauge[PAIR_LOAD];
    g->value[0] = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
    g->value[1] = queued;
    g->since = now;
    update_busy(w, now);
}

void window_set_replicas(model_window_t *w, double now, unsigned ready, unsigned busy)
{
    now = note_time(w, now);
    gauge_advance(w, PAIR_REPLICAS, now);
    struct gauge *g = &w->gauge[PAIR_REPLICAS];
    g->value[0] = ready;
    g->value[1] = busy;
    g->since = now;
    update_busy(w, now);
}

/* The stored integral of one gauge in bucket b (second k) after the cut at
 * offset cut_off. Stored data ends at end_off (the pair's last change, or 1).
 * The prefix before the cut is exact when no change precedes the cut, and
 * otherwise assumes one change at first_change, the rest of the second
 * taking a single value: exact for at most one change in the second. */
static double stored_after_cut(const struct bucket *b, int pair, int i, double cut_off,
                               double end_off)
{
    double total = b->integral[pair][i];
    if (cut_off >= end_off)
        return 0;
    double f = b->first_change[pair];
    double v = b->start_value[pair][i];
    double before;
    if (cut_off <= f) {
        before = v * cut_off;
    } else {
        before = v * f + (total - v * f) * (cut_off - f) / (end_off - f);
    }
    return total - before > 0 ? total - before : 0;
}

/* Adds the counters (and, when integral is not NULL, the stored gauge
 * integrals) of seconds first..end-1 that the ring still holds. */
static void sum_seconds(const model_window_t *w, int64_t first, int64_t end, window_totals_t *out,
                        double integral[PAIRS][2])
{
    if (first < w->base)
        first = w->base;
    if (end - first > RING)
        first = end - RING;
    int64_t rel = first - w->base;
    size_t idx = (size_t)(rel % RING);
    uint32_t stamp = (uint32_t)(rel + 1);
    for (int64_t k = first; k < end; k++, stamp++) {
        const struct bucket *b = &w->buckets[idx];
        if (++idx == RING)
            idx = 0;
        if (b->stamp != stamp)
            continue;
        add_counts(out, &b->c);
        out->latency_sum_ms += b->latency_sum_ms;
        out->latency_count += b->latency_count;
        out->queue_wait_sum_ms += b->queue_wait_sum_ms;
        out->queue_wait_count += b->queue_wait_count;
        if (integral)
            for (int p = 0; p < PAIRS; p++)
                for (int i = 0; i < 2; i++)
                    integral[p][i] += b->integral[p][i];
    }
}

void window_totals(const model_window_t *w, double now, double seconds, window_totals_t *out)
{
    memset(out, 0, sizeof(*out));
    now = effective_time(w, now);
    if (!(seconds > 0))
        return;
    if (seconds > WINDOW_SECONDS)
        seconds = WINDOW_SECONDS;
    double cut = now - seconds;
    int64_t k_cut = second_of(cut), k_now = second_of(now);
    out->seconds = now - w->created < seconds ? now - w->created : seconds;

    /* Counters: the seconds whose start lies in (cut, now], i.e. the current
     * partial second and the whole ones before it, `seconds` of them. */
    double integral[PAIRS][2] = {{0}};
    sum_seconds(w, k_cut + 1, k_now + 1, out, integral);

    /* Integrals: add the part of the cut second after the cut, then the
     * stretch since each pair's last change, which is not stored. */
    const struct bucket *first = bucket_get(w, k_cut);
    double cut_off = cut - (double)k_cut;
    for (int p = 0; p < PAIRS; p++) {
        const struct gauge *g = &w->gauge[p];
        if (first) {
            double end_off = g->since - (double)k_cut;
            if (end_off > 1)
                end_off = 1;
            for (int i = 0; i < 2; i++)
                integral[p][i] += stored_after_cut(first, p, i, cut_off, end_off);
        }
        double from = g->since > cut ? g->since : cut;
        if (now > from)
            for (int i = 0; i < 2; i++)
                integral[p][i] += g->value[i] * (now - from);
    }
    out->concurrency_seconds = integral[PAIR_LOAD][0];
    out->queued_seconds = integral[PAIR_LOAD][1];
    out->ready_replica_seconds = integral[PAIR_REPLICAS][0];
    out->busy_replica_seconds = integral[PAIR_REPLICAS][1];
}

/* Merges the slots numbered j_first..j_last (absolute slot indices). */
static void merge_slots(const model_window_t *w, int64_t j_first, int64_t j_last, histogram_t *out)
{
    if (j_first < w->base_slot)
        j_first = w->base_slot;
    if (j_last - j_first >= SLOTS)
        j_first = j_last - SLOTS + 1;
    for (int64_t j = j_first; j <= j_last; j++) {
        int64_t rel = j - w->base_slot;
        const struct slot *s = &w->slots[rel % SLOTS];
        if (s->stamp == (uint32_t)(rel + 1))
            histogram_merge(out, &s->h);
    }
}

void window_latency_histogram(const model_window_t *w, double now, double seconds, histogram_t *out)
{
    histogram_reset(out);
    now = effective_time(w, now);
    if (!(seconds > 0))
        return;
    if (seconds > WINDOW_SECONDS)
        seconds = WINDOW_SECONDS;
    /* Slot j covers [10j, 10j + 10): those with an end after the cut. */
    int64_t j_first = floor_div(second_of(now - seconds), WINDOW_SLOT_SECONDS);
    int64_t j_last = floor_div(second_of(now), WINDOW_SLOT_SECONDS);
    merge_slots(w, j_first, j_last, out);
}

double window_latency_percentile(const model_window_t *w, double now, double seconds, double q)
{
    histogram_t h;
    window_latency_histogram(w, now, seconds, &h);
    return histogram_percentile(&h, q);
}

/* The last slot of minute m: minutes are whole slots counted back from the
 * current one, so every window queried at the same time agrees on them. */
static int64_t minute_last_slot(double now, unsigned minute_ago)
{
    return floor_div(second_of(now), WINDOW_SLOT_SECONDS) - (int64_t)minute_ago * SLOTS_PER_MIN;
}

void window_minute_histogram(const model_window_t *w, double now, unsigned minute_ago,
                             histogram_t *out)
{
    histogram_reset(out);
    if (minute_ago >= WINDOW_MINUTES)
        return;
    int64_t j_last = minute_last_slot(effective_time(w, now), minute_ago);
    merge_slots(w, j_last - SLOTS_PER_MIN + 1, j_last, out);
}

double window_minute_percentile(const model_window_t *w, double now, unsigned minute_ago, double q)
{
    histogram_t h;
    window_minute_histogram(w, now, minute_ago, &h);
    return histogram_percentile(&h, q);
}

/* Reads the second buckets rather than the slots: the slots hold only the
 * finishes that carried a latency, and a minute of drops was still traffic.
 * The oldest second read, the start of minute 59, is at most 3599 s back,
 * inside the second ring. */
unsigned window_active_minutes(const model_window_t *w, double now, unsigned minutes)
{
    if (minutes > WINDOW_MINUTES)
        minutes = WINDOW_MINUTES;
    now = effective_time(w, now);
    int64_t k_now = second_of(now);
    unsigned active = 0;
    for (unsigned m = 0; m < minutes; m++) {
        int64_t j_last = minute_last_slot(now, m);
        int64_t k_first = (j_last - SLOTS_PER_MIN + 1) * WINDOW_SLOT_SECONDS;
        int64_t k_last = (j_last + 1) * WINDOW_SLOT_SECONDS - 1;
        if (k_last > k_now)
            k_last = k_now;
        for (int64_t k = k_first; k <= k_last; k++) {
            const struct bucket *b = bucket_get(w, k);
            if (b && b->c.finished) {
                active++;
                break;
            }
        }
    }
    return active;
}

void window_day_totals(const model_window_t *w, double now, double seconds, window_totals_t *out)
{
    memset(out, 0, sizeof(*out));
    now = effective_time(w, now);
    if (!(seconds > 0))
        return;
    if (seconds > WINDOW_DAY_SECONDS)
        seconds = WINDOW_DAY_SECONDS;
    double cut = now - seconds;
    out->seconds = now - w->created < seconds ? now - w->created : seconds;

    /* The minutes whose start lies in (cut, now]: 60m > cut, i.e. m above
     * floor(cut / 60), which is floor_div(floor(cut), 60). */
    int64_t m = floor_div(second_of(cut), 60) + 1, m_now = floor_div(second_of(now), 60);
    if (m < w->base_minute)
        m = w->base_minute;
    int64_t rel = m - w->base_minute;
    size_t idx = (size_t)(rel % DAY_RING);
    uint32_t stamp = (uint32_t)(rel + 1);
    for (; m <= m_now; m++, stamp++) {
        const struct minute_bucket *b = &w->minutes[idx];
        if (++idx == DAY_RING)
            idx = 0;
        if (b->stamp == stamp)
            add_counts(out, &b->c);
    }
}

double window_last_arrival(const model_window_t *w)
{
    return w->last_arrival;
}

double window_last_busy(const model_window_t *w, double now)
{
    return w->busy ? effective_time(w, now) : w->idle_since;
}

void window_count_since(const model_window_t *w, double now, bool through_now, int64_t *next_second,
                        window_totals_t *out)
{
    memset(out, 0, sizeof(*out));
    int64_t end = second_of(effective_time(w, now)) + (through_now ? 1 : 0);
    if (*next_second < w->base)
        *next_second = w->base;
    if (end <= *next_second)
        return;
    sum_seconds(w, *next_second, end, out, NULL);
    out->seconds = (double)(end - *next_second);
    *next_second = end;
}
