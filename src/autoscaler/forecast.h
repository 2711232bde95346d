/* forecast.h - one model's request rate ahead of time, and the rhythm of
 * its idle gaps. Pure: minutes, times and counts come in as arguments; no
 * I/O, no clock. Used by the predictive and hybrid strategies (policy.c),
 * live in the server and in the simulator alike.
 *
 * Two memories, both per model:
 *
 * - Requests per Unix minute (floor(unix seconds / 60)) over the last
 *   FORECAST_DAYS days, in a ring. A minute is either known (the model was
 *   watched then, or a stored traffic row says so; 0 is a known value) or
 *   unknown (the server was down). Only known minutes enter an estimate.
 *
 * - A histogram of idle times (from the end of one piece of work to the
 *   next request), one-minute bins over four hours, after Shahrad et al.,
 *   "Serverless in the Wild", USENIX ATC 2020, section 4.2.
 *
 * The forecast of minute m (all rules and constants are documented at the
 * top of forecast.c):
 *   seasonal(m) = mean of the known counts at m - kP, k = 1..14, where P is
 *                 the detected period, or one day when no period stands out;
 *   corrected   = seasonal(m) x the damped ratio of the last 15 complete
 *                 minutes' actual counts to their seasonal estimates;
 *   without any earlier cycle at m: Holt's linear trend (damped) over the
 *                 last hour of known minutes.
 */
#ifndef INFERD_FORECAST_H
#define INFERD_FORECAST_H

#include <stdbool.h>
#include <stdint.h>

#define FORECAST_DAYS    14
#define FORECAST_MINUTES 20160 /* ring length: FORECAST_DAYS x 1440 */

typedef struct forecast forecast_t;

/* A forecaster with no history (every minute unknown). Aborts when out of
 * memory, as the gateway does (about 80 KB). The caller frees it with
 * forecast_free (NULL is a no-op). */
forecast_t *forecast_new(void);
void forecast_free(forecast_t *f);

/* Adds requests to a Unix minute and marks it known (seeding from stored
 * traffic rows; two calls for one minute add up). A minute newer than any
 * seen moves the ring on (the minutes it skips are unknown); one older than
 * FORECAST_MINUTES before the newest is ignored. */
void forecast_add_minute(forecast_t *f, int64_t minute, double requests);

/* Live observation: arrivals_total is cumulative (requests since watching
 * began) at wall-clock unix_now. The first call only sets the baseline and
 * marks its minute known. Later calls spread the arrivals since the
 * previous one evenly over the time between (every minute it touches
 * becomes known, with 0 when nothing came). A total that went down or a
 * clock that went back starts a new baseline. */
void forecast_observe(forecast_t *f, double unix_now, double arrivals_total);

/* The count of a minute; NAN when unknown or outside the ring. */
double forecast_minute_count(const forecast_t *f, int64_t minute);

typedef struct forecast_period {
    int minutes;            /* the period found; 0 = none stands out */
    double strength;        /* autocorrelation at that lag (-1..1); 0 with none */
    double level;           /* mean requests per minute over the known minutes; 0 with none */
    unsigned known_minutes; /* how many minutes the estimate rests on */
} forecast_period_t;

/* Looks for a period (FORECAST_PERIOD_MIN..FORECAST_PERIOD_MAX minutes)
 * in the known minutes before `until` (a Unix minute, exclusive): the
 * autocorrelation of 5-minute means finds the lag, the per-minute series
 * refines it. See forecast.c for the acceptance rules. */
#define FORECAST_PERIOD_MIN 10
#define FORECAST_PERIOD_MAX 1440
void forecast_detect_period(const forecast_t *f, int64_t until, forecast_period_t *out);

typedef struct forecast_rate {
    double peak_per_minute; /* highest per-minute forecast over the span */
    double expected;        /* requests expected within the span */
    int period_minutes;     /* seasonal period used; 0: trend only */
    double correction;      /* recent-trend factor applied to the seasonal estimate (1: none) */
    const char *method;     /* static: "seasonal", "trend" or "none" (no history at all) */
} forecast_rate_t;

/* The forecast over [unix_from, unix_from + seconds] (seconds > 0), minute
 * by minute, the partial first and last minutes weighted by their share
 * of the span. Redetects the period once an hour of new minutes has come
 * (so f is not const); otherwise O(span minutes x 14 + 1000). */
void forecast_predict(forecast_t *f, double unix_from, double seconds, forecast_rate_t *out);

/* ---- idle times ---- */

#define FORECAST_IDLE_BINS        240  /* one-minute bins: four hours */
#define FORECAST_IDLE_BIN_SECONDS 60.0 /* */

/* Records one idle time (seconds from the end of work to the next
 * request); beyond four hours it is counted out of bounds. */
void forecast_add_idle_time(forecast_t *f, double seconds);

typedef struct forecast_idle {
    bool representative;       /* the windows below may be trusted (rules in forecast.c) */
    unsigned samples;          /* idle times recorded */
    unsigned out_of_bounds;    /* of which beyond four hours */
    double cv;                 /* coefficient of variation of the bin counts */
    double prewarm_seconds;    /* idle time before which a request is unlikely */
    double keep_alive_seconds; /* idle time after which a request is unlikely */
} forecast_idle_t;

/* The pre-warm and keep-alive windows from the histogram, both counted
 * from the end of the last work; 0 and 0 when not representative. */
void forecast_idle_windows(const forecast_t *f, forecast_idle_t *out);

#endif
