/* schedule.c - arrival schedules for inferd loadtest (see schedule.h).
 *
 * Everything is decided before the run so that the run itself only has to
 * send at the times written here: the load generator is open loop, and a
 * schedule that depended on answers would not be. Random choices come from
 * the seeded generator of util/rng.h, so a seed reproduces a run's requests
 * exactly.
 *
 * A trace is read whole and checked whole (every row, even those past the
 * duration), so an error late in the file is reported before a long run,
 * not discovered by a later one.
 */
#include "loadtest/schedule.h"
#include "util/rng.h"
#include "util/xalloc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEDULE_MAX_MODELS 256
#define TRACE_MAX_BYTES     ((size_t)1 << 30) /* a trace bigger than this is a mistake */

struct schedule {
    arrival_t *items;
    size_t n, cap;
    char **models;
    size_t n_models;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the list ---- */

static schedule_t *schedule_new(void)
{
    return xcalloc(1, sizeof(schedule_t));
}

static void schedule_push(schedule_t *s, double at, int model)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->items = xrealloc(s->items, s->cap * sizeof(arrival_t));
    }
    s->items[s->n++] = (arrival_t){.at = at, .model = model};
}

static bool schedule_full(const schedule_t *s, const schedule_limits_t *limits, double at)
{
    return s->n >= limits->max_count || (limits->duration > 0 && at >= limits->duration);
}

void schedule_free(schedule_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_models; i++)
        free(s->models[i]);
    free(s->models);
    free(s->items);
    free(s);
}

size_t schedule_count(const schedule_t *s)
{
    return s->n;
}

arrival_t schedule_arrival(const schedule_t *s, size_t i)
{
    return s->items[i];
}

double schedule_span(const schedule_t *s)
{
    return s->n ? s->items[s->n - 1].at : 0.0;
}

size_t schedule_model_count(const schedule_t *s)
{
    return s->n_models;
}

const char *schedule_model_name(const schedule_t *s, size_t i)
{
    return i < s->n_models ? s->models[i] : NULL;
}

/* ---- ramp and Poisson ---- */

/* Time at which the integral of the ramp's rate reaches k. Within the ramp
 * it solves a*t + (b-a)*t^2/(2T) = k in the form that stays exact when a is
 * 0 or b equals a; after it, the rate holds at b. Returns INFINITY when the
 * rate never gets there. */
static double ramp_time_of(double a, double b, double T, double k)
{
    double in_ramp = (a + b) / 2.0 * T;
    if (k == 0)
        return 0.0;
    if (k <= in_ramp) {
        double disc = a * a + 2.0 * (b - a) * k / T;
        double denom = a + sqrt(disc > 0 ? disc : 0);
        return denom > 0 ? 2.0 * k / denom : INFINITY;
    }
    return b > 0 ? T + (k - in_ramp) / b : INFINITY;
}

schedule_t *schedule_ramp(double start_rps, double end_rps, double ramp_seconds,
                          const schedule_limits_t *limits, char *err, size_t errlen)
{
    if (!isfinite(start_rps) || !isfinite(end_rps) || start_rps < 0 || end_rps < 0) {
        set_err(err, errlen, "ramp rates must be non-negative numbers");
        return NULL;
    }
    if (!isfinite(ramp_seconds) || ramp_seconds <= 0) {
        set_err(err, errlen, "ramp seconds must be a positive number");
        return NULL;
    }
    if (start_rps == 0 && end_rps == 0) {
        set_err(err, errlen, "a ramp from 0 to 0 requests per second sends nothing");
        return NULL;
    }
    schedule_limits_t lim = *limits;
    if (lim.duration <= 0)
        lim.duration = ramp_seconds;
    schedule_t *s = schedule_new();
    for (size_t k = 0;; k++) {
        double t = ramp_time_of(start_rps, end_rps, ramp_seconds, (double)k);
        if (!isfinite(t) || schedule_full(s, &lim, t))
            break;
        schedule_push(s, t, SCHEDULE_ANY_MODEL);
    }
    return s;
}

schedule_t *schedule_poisson(double rate_rps, uint64_t seed, const schedule_limits_t *limits,
                             char *err, size_t errlen)
{
    if (!isfinite(rate_rps) || rate_rps <= 0) {
        set_err(err, errlen, "rate must be a positive number of requests per second");
        return NULL;
    }
    if (!(limits->duration > 0)) {
        set_err(err, errlen, "a constant rate needs a positive duration");
        return NULL;
    }
    schedule_t *s = schedule_new();
    rng_t rng;
    rng_seed(&rng, seed);
    double t = rng_exponential(&rng, 1.0 / rate_rps);
    while (!schedule_full(s, limits, t)) {
        schedule_push(s, t, SCHEDULE_ANY_MODEL);
        t += rng_exponential(&rng, 1.0 / rate_rps);
    }
    return s;
}

/* ---- times ---- */

static bool read_digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9')
            return false;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return true;
}

static bool expect_char(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar,
 * counting in 400-year eras that start on March 1st so that the leap day
 * is the last day of a year. */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int parse_datetime(const char *p, const char *end, double *out)
{
    int y, mo, d, h, mi, s;
    if (!read_digits(&p, end, 4, &y) || !expect_char(&p, end, '-') ||
        !read_digits(&p, end, 2, &mo) || !expect_char(&p, end, '-') || !read_digits(&p, end, 2, &d))
        return -1;
    if (p >= end || (*p != ' ' && *p != 'T'))
        return -1;
    p++;
    if (!read_digits(&p, end, 2, &h) || !expect_char(&p, end, ':') ||
        !read_digits(&p, end, 2, &mi) || !expect_char(&p, end, ':') || !read_digits(&p, end, 2, &s))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60)
        return -1;
    double frac = 0, scale = 0.1;
    if (p < end && *p == '.') {
        p++;
        if (p >= end)
            return -1;
        for (; p < end && *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    if (p < end && *p == 'Z')
        p++;
    if (p != end)
        return -1;
    *out = (double)days_from_civil(y, mo, d) * 86400.0 + h * 3600.0 + mi * 60.0 + s + frac;
    return 0;
}

int schedule_parse_time(const char *text, size_t len, double *out)
{
    const char *end = text + len;
    if (len >= 10 && text[4] == '-')
        return parse_datetime(text, end, out);
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *stop;
    errno = 0;
    double v = strtod(buf, &stop);
    if (errno || *stop || stop == buf || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* ---- traces ---- */

typedef struct field {
    const char *p;
    size_t len;
} field_t;

/* The col-th comma-separated field of a line, spaces and one pair of
 * double quotes stripped. Fields holding commas inside quotes are not
 * supported: no trace we replay has them. */
static bool line_field(const char *line, size_t len, size_t col, field_t *out)
{
    const char *p = line, *end = line + len;
    for (size_t c = 0; c < col; c++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        if (!comma)
            return false;
        p = comma + 1;
    }
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *fend = comma ? comma : end;
    while (p < fend && (*p == ' ' || *p == '\t'))
        p++;
    while (fend > p && (fend[-1] == ' ' || fend[-1] == '\t'))
        fend--;
    if (fend - p >= 2 && *p == '"' && fend[-1] == '"') {
        p++;
        fend--;
    }
    *out = (field_t){p, (size_t)(fend - p)};
    return true;
}

static int model_index(schedule_t *s, const field_t *f)
{
    for (size_t i = 0; i < s->n_models; i++)
        if (strlen(s->models[i]) == f->len && memcmp(s->models[i], f->p, f->len) == 0)
            return (int)i;
    if (s->n_models >= SCHEDULE_MAX_MODELS)
        return -1;
    s->models = xrealloc(s->models, (s->n_models + 1) * sizeof(char *));
    s->models[s->n_models] = xstrndup(f->p, f->len);
    return (int)s->n_models++;
}

/* Finds a header column by name; -1 when absent. */
static long header_column(const char *line, size_t len, const char *name)
{
    field_t f;
    for (size_t col = 0; line_field(line, len, col, &f); col++)
        if (f.len == strlen(name) && memcmp(f.p, name, f.len) == 0)
            return (long)col;
    return -1;
}

/* How many copies of one row rate_scale sends: the whole part always, one
 * more with the probability of the fractional part. */
static unsigned row_copies(double rate_scale, rng_t *rng)
{
    double whole = floor(rate_scale);
    double frac = rate_scale - whole;
    unsigned n = (unsigned)whole;
    if (frac > 0 && rng_uniform(rng) < frac)
        n++;
    return n;
}

schedule_t *schedule_parse_trace(const char *name, const char *text, size_t len,
                                 const trace_options_t *opts, const schedule_limits_t *limits,
                                 char *err, size_t errlen)
{
    if (!(opts->time_scale > 0) || !isfinite(opts->time_scale)) {
        set_err(err, errlen, "time scale must be a positive number");
        return NULL;
    }
    if (!(opts->rate_scale > 0) || !isfinite(opts->rate_scale) || opts->rate_scale > 1000) {
        set_err(err, errlen, "rate scale must be a number above 0 and at most 1000");
        return NULL;
    }
    schedule_t *s = schedule_new();
    rng_t rng;
    rng_seed(&rng, opts->seed);
    const char *p = text, *end = text + len;
    size_t lineno = 0, rows = 0;
    long model_col = -1;
    double first = 0, prev = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line = p, *lend = nl ? nl : end;
        p = nl ? nl + 1 : end;
        lineno++;
        if (lend > line && lend[-1] == '\r')
            lend--;
        size_t llen = (size_t)(lend - line);
        bool blank = true;
        for (size_t i = 0; i < llen && blank; i++)
            blank = line[i] == ' ' || line[i] == '\t';
        if (lineno == 1) {
            if (blank) {
                set_err(err, errlen, "%s line 1: expected a header line, found a blank line", name);
                goto fail;
            }
            if (opts->model_column) {
                model_col = header_column(line, llen, opts->model_column);
                if (model_col < 0) {
                    set_err(err, errlen, "%s line 1: the header has no column '%s'", name,
                            opts->model_column);
                    goto fail;
                }
            }
            continue;
        }
        if (blank)
            continue;
        field_t f;
        double t;
        line_field(line, llen, 0, &f);
        if (schedule_parse_time(f.p, f.len, &t) < 0) {
            set_err(err, errlen,
                    "%s line %zu: first column '%.*s' is not a time (YYYY-MM-DD HH:MM:SS[.frac] "
                    "or seconds)",
                    name, lineno, (int)(f.len > 40 ? 40 : f.len), f.p);
            goto fail;
        }
        if (rows == 0)
            first = prev = t;
        if (t < prev) {
            set_err(err, errlen, "%s line %zu: time goes backwards (the trace must be sorted)",
                    name, lineno);
            goto fail;
        }
        prev = t;
        rows++;
        int model = SCHEDULE_ANY_MODEL;
        if (model_col >= 0) {
            if (!line_field(line, llen, (size_t)model_col, &f) || f.len == 0) {
                set_err(err, errlen, "%s line %zu: no value in column '%s'", name, lineno,
                        opts->model_column);
                goto fail;
            }
            model = model_index(s, &f);
            if (model < 0) {
                set_err(err, errlen, "%s line %zu: more than %d different models", name, lineno,
                        SCHEDULE_MAX_MODELS);
                goto fail;
            }
        }
        double at = (t - first) / opts->time_scale;
        unsigned copies = row_copies(opts->rate_scale, &rng);
        for (unsigned c = 0; c < copies && !schedule_full(s, limits, at); c++)
            schedule_push(s, at, model);
    }
    if (lineno == 0) {
        set_err(err, errlen, "%s line 1: the file is empty (expected a header line)", name);
        goto fail;
    }
    if (rows == 0) {
        set_err(err, errlen, "%s line %zu: a header and no rows (one row per request expected)",
                name, lineno + 1);
        goto fail;
    }
    return s;
fail:
    schedule_free(s);
    return NULL;
}

schedule_t *schedule_load_trace(const char *path, const trace_options_t *opts,
                                const schedule_limits_t *limits, char *err, size_t errlen)
{
    schedule_t *s = NULL;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "cannot open trace '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= TRACE_MAX_BYTES) {
                set_err(err, errlen, "trace '%s' is larger than %zu bytes", path, TRACE_MAX_BYTES);
                goto done;
            }
            cap = cap ? cap * 2 : 65536;
            text = xrealloc(text, cap);
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        set_err(err, errlen, "cannot read trace '%s': %s", path, strerror(errno));
        goto done;
    }
    s = schedule_parse_trace(path, text, len, opts, limits, err, errlen);
done:
    fclose(f);
    free(text);
    return s;
}
