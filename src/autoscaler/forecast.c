/* forecast.c - per-minute request forecast and idle-time histogram (see
 * forecast.h). Every rule and constant, and why:
 *
 * Memory. Counts are floats in a ring of FORECAST_MINUTES (14 days; the
 *   traffic store keeps 14 days by default), NAN for an unknown minute.
 *   Floats hold counts exactly to 2^24 per minute, far beyond one model,
 *   and keep the ring at 80 KB.
 *
 * Period. A period is looked for between 10 minutes and one day:
 *   - the series is cut into 5-minute bins (a bin counts with at least 3
 *     known minutes, as their mean), which keeps the search at about a
 *     million multiply-adds for 14 days (once an hour of data);
 *   - the autocorrelation r(L) of the bins is taken for each lag L with at
 *     least two cycles of data behind it;
 *   - a lag is a candidate when r(L) is a local maximum and r fell at least
 *     PERIOD_DIP below it at a shorter lag: the slow decay from lag 0 of
 *     any smooth series is not a period;
 *   - of the candidates, the shortest whose r is within 90 % of the best
 *     wins (two or three periods score about as well as one);
 *   - it is accepted when r >= PERIOD_MIN_STRENGTH (0.3: weaker structure
 *     predicts little), then refined at one-minute resolution within one
 *     bin either side (over the last 4 days, which bounds the cost), and
 *     snapped to a divisor of a day within 1 % (traffic driven by clocks
 *     repeats on the clock, and a period a minute off would drift the
 *     same-phase minutes of 14 cycles apart by 14 minutes).
 *
 * Seasonal estimate of minute m: the mean of the known counts at m - kP,
 *   k = 1..SEASON_CYCLES (14), P the period found, or a day when none was
 *   (the spec's "same minute of earlier days": a daily rhythm with only one
 *   or two days of history is too short to detect but still the best
 *   guess). The mean rather than the median: with two or three cycles the
 *   median is one of them, and the trend correction below absorbs a level
 *   that moved.
 *
 * Trend correction: over the last TREND_MINUTES (15) complete minutes that
 *   have both an actual count and a seasonal estimate, ratio = (actual sum
 *   + 1) / (seasonal sum + 1) (the 1 keeps empty minutes from dividing by
 *   zero and a single stray request from counting as a large rise), damped
 *   to its square root (half the move on a log scale, since 15 minutes are
 *   a short sample) and clamped to 0.25..4.
 *
 * Without an earlier cycle at m: Holt's linear method with a damped trend
 *   (alpha 0.3, beta 0.1, phi 0.9) over the known complete minutes of the
 *   last hour, h minutes ahead: level + trend x (phi + ... + phi^h), never
 *   below 0. With no known minute at all the forecast is 0 ("none").
 *
 * Idle histogram (Shahrad et al., ATC 2020, section 4.2): one-minute bins
 *   over 4 hours; longer idle times are out of bounds (OOB). It is
 *   representative with at least IDLE_MIN_SAMPLES (10) idle times in
 *   bounds, fewer than half OOB, and a coefficient of variation of the 240
 *   bin counts of at least 2 (the paper's test: idle times concentrated in
 *   few bins). Then the pre-warm window is the lower edge of the bin of the
 *   5th percentile less 10 %, the keep-alive window the upper edge of the
 *   bin of the 99th percentile plus 10 %. Departure from the paper: both are
 *   counted from the end of work (the paper counts keep-alive from the
 *   pre-warm load), so the model is released where the idle times end.
 */
#include "autoscaler/forecast.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NO_MINUTE INT64_MIN

#define BIN_MINUTES         5
#define BIN_MIN_KNOWN       3
#define PERIOD_DIP          0.3
#define PERIOD_NEAR_BEST    0.9
#define PERIOD_MIN_STRENGTH 0.3
#define REFINE_MINUTES      5760 /* 4 days */
#define SNAP_SHARE          0.01
#define REDETECT_MINUTES    60

#define SEASON_CYCLES 14
#define TREND_MINUTES 15
#define TREND_DAMP    0.5 /* exponent on the ratio */
#define TREND_MIN     0.25
#define TREND_MAX     4.0

#define HOLT_MINUTES 60
#define HOLT_ALPHA   0.3
#define HOLT_BETA    0.1
#define HOLT_PHI     0.9

#define IDLE_MIN_SAMPLES 10
#define IDLE_OOB_SHARE   0.5
#define IDLE_CV_MIN      2.0
#define IDLE_HEAD        0.05
#define IDLE_TAIL        0.99
#define IDLE_MARGIN      0.10

#define PREDICT_MAX_MINUTES 1440 /* longest span forecast_predict walks */

struct forecast {
    float counts[FORECAST_MINUTES];
    int64_t newest; /* newest minute the ring holds; NO_MINUTE before any */

    bool observing;
    double last_unix;
    double last_total;

    int64_t detected_at; /* newest minute at the last period detection */
    forecast_period_t period;

    unsigned idle_bins[FORECAST_IDLE_BINS];
    unsigned idle_samples;
    unsigned idle_oob;
};

static size_t slot_of(int64_t minute)
{
    int64_t n = FORECAST_MINUTES;
    return (size_t)(((minute % n) + n) % n);
}

forecast_t *forecast_new(void)
{
    forecast_t *f = xcalloc(1, sizeof(*f));
    for (size_t i = 0; i < FORECAST_MINUTES; i++)
        f->counts[i] = NAN;
    f->newest = NO_MINUTE;
    f->detected_at = NO_MINUTE;
    return f;
}

void forecast_free(forecast_t *f)
{
    free(f);
}

static bool held(const forecast_t *f, int64_t minute)
{
    return f->newest != NO_MINUTE && minute <= f->newest && minute > f->newest - FORECAST_MINUTES;
}

static void advance_to(forecast_t *f, int64_t minute)
{
    if (f->newest != NO_MINUTE && minute <= f->newest)
        return;
    if (f->newest == NO_MINUTE || minute - f->newest >= FORECAST_MINUTES) {
        for (size_t i = 0; i < FORECAST_MINUTES; i++)
            f->counts[i] = NAN;
    } else {
        for (int64_t m = f->newest + 1; m <= minute; m++)
            f->counts[slot_of(m)] = NAN;
    }
    f->newest = minute;
}

void forecast_add_minute(forecast_t *f, int64_t minute, double requests)
{
    if (minute == NO_MINUTE || !isfinite(requests) || requests < 0)
        return;
    advance_to(f, minute);
    if (!held(f, minute))
        return;
    float *c = &f->counts[slot_of(minute)];
    *c = isnan(*c) ? (float)requests : *c + (float)requests;
}

double forecast_minute_count(const forecast_t *f, int64_t minute)
{
    return held(f, minute) ? (double)f->counts[slot_of(minute)] : NAN;
}

static int64_t minute_of(double unix_seconds)
{
    return (int64_t)floor(unix_seconds / 60.0);
}

void forecast_observe(forecast_t *f, double unix_now, double arrivals_total)
{
    if (!isfinite(unix_now) || !isfinite(arrivals_total))
        return;
    int64_t now_minute = minute_of(unix_now);
    double delta = arrivals_total - f->last_total;
    double span = unix_now - f->last_unix;
    if (!f->observing || delta < 0 || span < 0) {
        f->observing = true;
        f->last_unix = unix_now;
        f->last_total = arrivals_total;
        forecast_add_minute(f, now_minute, 0);
        return;
    }
    int64_t first = minute_of(f->last_unix);
    if (first < now_minute - FORECAST_MINUTES + 1)
        first = now_minute - FORECAST_MINUTES + 1;
    for (int64_t m = first; m <= now_minute; m++) {
        double share = 0;
        if (span > 0) {
            double lo = fmax(f->last_unix, (double)m * 60.0);
            double hi = fmin(unix_now, (double)(m + 1) * 60.0);
            share = hi > lo ? (hi - lo) / span : 0;
        } else if (m == now_minute) {
            share = 1;
        }
        forecast_add_minute(f, m, delta * share);
    }
    f->last_unix = unix_now;
    f->last_total = arrivals_total;
}

/* ---- period ---- */

/* Autocorrelation at lag of a series with NAN gaps, around mean, as the
 * mean lagged product over the mean square (pairs with a gap are left
 * out); NAN with no pair. */
static double autocorrelation(const double *x, size_t n, size_t lag, double mean, double var)
{
    /* Fewer pairs than the lag is less than two cycles of data: a peak
     * there is chance. */
    double sum = 0;
    size_t pairs = 0;
    for (size_t i = 0; i + lag < n; i++) {
        if (isnan(x[i]) || isnan(x[i + lag]))
            continue;
        sum += (x[i] - mean) * (x[i + lag] - mean);
        pairs++;
    }
    return pairs >= lag && pairs > 0 ? sum / (double)pairs / var : NAN;
}

static void mean_and_var(const double *x, size_t n, double *mean, double *var, unsigned *known)
{
    double sum = 0, sq = 0;
    unsigned k = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            continue;
        sum += x[i];
        k++;
    }
    *mean = k ? sum / k : 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            sq += (x[i] - *mean) * (x[i] - *mean);
    *var = k ? sq / k : 0;
    *known = k;
}

static int snap_to_day_divisor(int minutes)
{
    for (int d = FORECAST_PERIOD_MIN; d <= 1440; d++) {
        if (1440 % d == 0 && fabs((double)(minutes - d)) <= SNAP_SHARE * d)
            return d;
    }
    return minutes;
}

/* The best lag (in bins) by the candidate rules above; 0 for none. */
static size_t pick_lag(const double *r, size_t max_lag)
{
    size_t best = 0;
    double lowest = r[1];
    for (size_t lag = 2; lag <= max_lag; lag++) {
        if (isnan(r[lag]))
            continue;
        bool peak = (lag == max_lag || isnan(r[lag + 1]) || r[lag] >= r[lag + 1]) &&
                    (isnan(r[lag - 1]) || r[lag] >= r[lag - 1]);
        if (peak && r[lag] - lowest >= PERIOD_DIP && (best == 0 || r[lag] > r[best]))
            best = lag;
        if (!isnan(r[lag]) && (isnan(lowest) || r[lag] < lowest))
            lowest = r[lag];
    }
    if (best == 0)
        return 0;
    lowest = r[1];
    for (size_t lag = 2; lag < best; lag++) {
        if (isnan(r[lag]))
            continue;
        bool peak = (isnan(r[lag + 1]) || r[lag] >= r[lag + 1]) &&
                    (isnan(r[lag - 1]) || r[lag] >= r[lag - 1]);
        if (peak && r[lag] - lowest >= PERIOD_DIP && r[lag] >= PERIOD_NEAR_BEST * r[best])
            return lag;
        if (isnan(lowest) || r[lag] < lowest)
            lowest = r[lag];
    }
    return best;
}

void forecast_detect_period(const forecast_t *f, int64_t until, forecast_period_t *out)
{
    memset(out, 0, sizeof(*out));
    if (f->newest == NO_MINUTE)
        return;
    int64_t hi = until - 1 < f->newest ? until - 1 : f->newest; /* inclusive */
    int64_t lo = f->newest - FORECAST_MINUTES + 1;
    while (lo <= hi && isnan(f->counts[slot_of(lo)]))
        lo++; /* from the oldest known minute */
    if (hi < lo)
        return;
    size_t n = (size_t)(hi - lo + 1);
    double *x = xcalloc(n, sizeof(*x));
    for (size_t i = 0; i < n; i++)
        x[i] = (double)f->counts[slot_of(lo + (int64_t)i)];
    double mean, var;
    unsigned known;
    mean_and_var(x, n, &mean, &var, &known);
    out->level = mean;
    out->known_minutes = known;

    /* Bins aligned to the newest minute, so the latest data is whole. */
    size_t nb = n / BIN_MINUTES, skip = n - nb * BIN_MINUTES;
    size_t max_lag = FORECAST_PERIOD_MAX / BIN_MINUTES;
    double *bins = NULL, *r = NULL;
    if (!(var > 0) || nb < (size_t)2 * (FORECAST_PERIOD_MIN / BIN_MINUTES))
        goto done;
    bins = xcalloc(nb, sizeof(*bins));
    for (size_t b = 0; b < nb; b++) {
        double sum = 0;
        unsigned k = 0;
        for (size_t i = 0; i < BIN_MINUTES; i++) {
            double v = x[skip + b * BIN_MINUTES + i];
            if (!isnan(v)) {
                sum += v;
                k++;
            }
        }
        bins[b] = k >= BIN_MIN_KNOWN ? sum / k : NAN;
    }
    double bmean, bvar;
    unsigned bknown;
    mean_and_var(bins, nb, &bmean, &bvar, &bknown);
    if (max_lag > nb / 2)
        max_lag = nb / 2;
    if (!(bvar > 0) || max_lag < FORECAST_PERIOD_MIN / BIN_MINUTES)
        goto done;
    r = xcalloc(max_lag + 2, sizeof(*r));
    r[0] = 1;
    for (size_t lag = 1; lag <= max_lag + 1 && lag < nb; lag++)
        r[lag] = autocorrelation(bins, nb, lag, bmean, bvar);
    if (max_lag + 1 >= nb)
        r[max_lag + 1] = NAN;
    size_t lag = pick_lag(r, max_lag);
    if (lag == 0 || !(r[lag] >= PERIOD_MIN_STRENGTH))
        goto done;

    /* Refine at one minute, over the latest REFINE_MINUTES (plus a lag). */
    int centre = (int)(lag * BIN_MINUTES), best = centre;
    double best_r = -INFINITY;
    for (int p = centre - BIN_MINUTES + 1; p <= centre + BIN_MINUTES - 1; p++) {
        if (p < FORECAST_PERIOD_MIN || p > FORECAST_PERIOD_MAX || (size_t)p >= n)
            continue;
        size_t span = REFINE_MINUTES + (size_t)p;
        size_t from = n > span ? n - span : 0;
        double rp = autocorrelation(x + from, n - from, (size_t)p, mean, var);
        if (rp > best_r) {
            best_r = rp;
            best = p;
        }
    }
    out->minutes = snap_to_day_divisor(best);
    out->strength = r[lag];
done:
    free(r);
    free(bins);
    free(x);
}

/* ---- forecast ---- */

static double seasonal(const forecast_t *f, int64_t m, int period)
{
    double sum = 0;
    int k = 0;
    for (int c = 1; c <= SEASON_CYCLES; c++) {
        double v = forecast_minute_count(f, m - (int64_t)c * period);
        if (!isnan(v)) {
            sum += v;
            k++;
        }
    }
    return k ? sum / k : NAN;
}

static double trend_correction(const forecast_t *f, int64_t current, int period)
{
    double actual = 0, expected = 0;
    int pairs = 0;
    for (int64_t m = current - TREND_MINUTES; m < current; m++) {
        double a = forecast_minute_count(f, m), s = seasonal(f, m, period);
        if (isnan(a) || isnan(s))
            continue;
        actual += a;
        expected += s;
        pairs++;
    }
    if (pairs == 0)
        return 1;
    double ratio = pow((actual + 1) / (expected + 1), TREND_DAMP);
    return fmin(TREND_MAX, fmax(TREND_MIN, ratio));
}

typedef struct holt {
    bool any;
    int64_t last; /* minute of the last update */
    double level;
    double trend;
} holt_t;

static void holt_fit(const forecast_t *f, int64_t current, holt_t *h)
{
    memset(h, 0, sizeof(*h));
    for (int64_t m = current - HOLT_MINUTES; m < current; m++) {
        double v = forecast_minute_count(f, m);
        if (isnan(v))
            continue;
        if (!h->any) {
            h->any = true;
            h->level = v;
        } else {
            double previous = h->level;
            h->level = HOLT_ALPHA * v + (1 - HOLT_ALPHA) * (h->level + h->trend);
            h->trend = HOLT_BETA * (h->level - previous) + (1 - HOLT_BETA) * h->trend;
        }
        h->last = m;
    }
}

static double holt_at(const holt_t *h, int64_t m)
{
    double damp = 0, phi = 1;
    for (int64_t i = h->last + 1; i <= m && i - h->last <= HOLT_MINUTES; i++) {
        phi *= HOLT_PHI;
        damp += phi;
    }
    double v = h->level + h->trend * damp;
    return v > 0 ? v : 0;
}

void forecast_predict(forecast_t *f, double unix_from, double seconds, forecast_rate_t *out)
{
    memset(out, 0, sizeof(*out));
    out->correction = 1;
    out->method = "none";
    if (f->newest == NO_MINUTE || !isfinite(unix_from) || !(seconds > 0))
        return;
    if (seconds > PREDICT_MAX_MINUTES * 60.0)
        seconds = PREDICT_MAX_MINUTES * 60.0;
    int64_t current = minute_of(unix_from);
    if (f->detected_at == NO_MINUTE || f->newest - f->detected_at >= REDETECT_MINUTES ||
        f->newest < f->detected_at) {
        forecast_detect_period(f, current, &f->period);
        f->detected_at = f->newest;
    }
    int period = f->period.minutes > 0 ? f->period.minutes : 1440;
    double correction = trend_correction(f, current, period);
    holt_t holt;
    holt_fit(f, current, &holt);
    bool any_seasonal = false, any_trend = false;
    double until = unix_from + seconds;
    for (int64_t m = current; (double)m * 60.0 < until; m++) {
        double s = seasonal(f, m, period), v;
        if (!isnan(s)) {
            v = s * correction;
            any_seasonal = true;
        } else if (holt.any) {
            v = holt_at(&holt, m);
            any_trend = true;
        } else {
            continue;
        }
        double lo = fmax(unix_from, (double)m * 60.0), hi = fmin(until, (double)(m + 1) * 60.0);
        out->expected += v * (hi - lo) / 60.0;
        if (v > out->peak_per_minute)
            out->peak_per_minute = v;
    }
    if (any_seasonal) {
        out->method = "seasonal";
        out->period_minutes = period;
        out->correction = correction;
    } else if (any_trend) {
        out->method = "trend";
    }
}

/* ---- idle times ---- */

void forecast_add_idle_time(forecast_t *f, double seconds)
{
    if (!(seconds >= 0))
        return;
    f->idle_samples++;
    double bin = floor(seconds / FORECAST_IDLE_BIN_SECONDS);
    if (bin >= FORECAST_IDLE_BINS)
        f->idle_oob++;
    else
        f->idle_bins[(size_t)bin]++;
}

/* The bin holding the q-quantile of the in-bounds idle times. */
static size_t idle_bin_at(const forecast_t *f, unsigned in_bounds, double q)
{
    double need = ceil(q * in_bounds);
    unsigned seen = 0;
    for (size_t b = 0; b < FORECAST_IDLE_BINS; b++) {
        seen += f->idle_bins[b];
        if (seen >= need && seen > 0)
            return b;
    }
    return FORECAST_IDLE_BINS - 1;
}

void forecast_idle_windows(const forecast_t *f, forecast_idle_t *out)
{
    memset(out, 0, sizeof(*out));
    out->samples = f->idle_samples;
    out->out_of_bounds = f->idle_oob;
    unsigned in_bounds = f->idle_samples - f->idle_oob;
    if (in_bounds == 0)
        return;
    double mean = (double)in_bounds / FORECAST_IDLE_BINS, sq = 0;
    for (size_t b = 0; b < FORECAST_IDLE_BINS; b++)
        sq += ((double)f->idle_bins[b] - mean) * ((double)f->idle_bins[b] - mean);
    out->cv = sqrt(sq / FORECAST_IDLE_BINS) / mean;
    out->representative = in_bounds >= IDLE_MIN_SAMPLES &&
                          (double)f->idle_oob < IDLE_OOB_SHARE * f->idle_samples &&
                          out->cv >= IDLE_CV_MIN;
    if (!out->representative)
        return;
    size_t head = idle_bin_at(f, in_bounds, IDLE_HEAD);
    size_t tail = idle_bin_at(f, in_bounds, IDLE_TAIL);
    out->prewarm_seconds = (double)head * FORECAST_IDLE_BIN_SECONDS * (1 - IDLE_MARGIN);
    out->keep_alive_seconds = (double)(tail + 1) * FORECAST_IDLE_BIN_SECONDS * (1 + IDLE_MARGIN);
}
