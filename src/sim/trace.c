/* trace.c - arrival traces: CSV reading, generated shapes, scaling and
 * service times (see trace.h for the formats).
 *
 * The reader is strict on purpose: a trace with a bad row would silently
 * simulate something else, so the first bad line stops it with the line
 * number and the column. Generated shapes are non-homogeneous Poisson
 * processes drawn by thinning (Lewis and Shedler): candidates at the
 * shape's peak rate, each kept with probability rate(t) / peak.
 */
#include "sim/trace.h"
#include "util/rng.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UNIX_TIME_FROM   1e9 /* a plain number from here on is unix time */
#define MAX_FIELDS       16
#define SECONDS_PER_DAY  86400.0
#define MAX_MINUTE_COUNT 10000000.0

/* Each use of the seed gets its own stream (rng_seed_stream), so that
 * changing how service times are drawn does not move the arrivals. */
enum { STREAM_ARRIVALS = 1, STREAM_MINUTES, STREAM_SCALE, STREAM_SERVICE };

/* ---- a growable trace ---- */

typedef struct builder {
    sim_trace_t *t;
    size_t cap;
    bool tokens;
} builder_t;

static int builder_push(builder_t *b, double at, double context, double generated)
{
    sim_trace_t *t = b->t;
    if (t->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        double *a = realloc(t->arrival, cap * sizeof(*a));
        if (!a)
            return -1;
        t->arrival = a;
        if (b->tokens) {
            double *c = realloc(t->context_tokens, cap * sizeof(*c));
            if (!c)
                return -1;
            t->context_tokens = c;
            double *g = realloc(t->generated_tokens, cap * sizeof(*g));
            if (!g)
                return -1;
            t->generated_tokens = g;
        }
        b->cap = cap;
    }
    t->arrival[t->n] = at;
    if (b->tokens) {
        t->context_tokens[t->n] = context;
        t->generated_tokens[t->n] = generated;
    }
    t->n++;
    return 0;
}

void sim_trace_free(sim_trace_t *t)
{
    if (!t)
        return;
    free(t->arrival);
    free(t->context_tokens);
    free(t->generated_tokens);
    memset(t, 0, sizeof(*t));
}

/* ---- parsing fields ---- */

static int parse_number(const char *s, double *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect_char(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD HH:MM:SS[.fraction][Z]" (or a 'T') in UTC. */
static int parse_datetime(const char *s, double *out)
{
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (parse_digits(&p, 4, &y) || expect_char(&p, '-') || parse_digits(&p, 2, &mo) ||
        expect_char(&p, '-') || parse_digits(&p, 2, &d))
        return -1;
    if (*p != ' ' && *p != 'T')
        return -1;
    p++;
    if (parse_digits(&p, 2, &h) || expect_char(&p, ':') || parse_digits(&p, 2, &mi) ||
        expect_char(&p, ':') || parse_digits(&p, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    double fraction = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        for (; isdigit((unsigned char)*p); p++, scale /= 10)
            fraction += (*p - '0') * scale;
    }
    if (*p == 'Z')
        p++;
    if (*p)
        return -1;
    *out = (double)days_from_civil(y, mo, d) * SECONDS_PER_DAY + h * 3600.0 + mi * 60.0 + sec +
           fraction;
    return 0;
}

/* A time column: a date and time, or seconds (unix time from 10^9 on,
 * else from the epoch). */
static int parse_time(const char *s, double *out)
{
    if (parse_datetime(s, out) == 0)
        return 0;
    double v;
    if (parse_number(s, &v) < 0 || v < 0)
        return -1;
    *out = v >= UNIX_TIME_FROM ? v : SIM_TRACE_EPOCH + v;
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Splits line in place at commas; returns the number of fields (at most
 * MAX_FIELDS + 1, which means too many). */
static size_t split_fields(char *line, char **fields)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (n <= MAX_FIELDS)
            fields[n] = trim(p);
        n++;
        if (!comma || n > MAX_FIELDS)
            return n;
        p = comma + 1;
    }
}

/* ---- reading CSV ---- */

typedef enum { FORMAT_REQUESTS, FORMAT_MINUTES } csv_format_t;

typedef struct reader {
    const char *path;
    char *err;
    size_t errlen;
    csv_format_t format;
    bool minute_index; /* per-minute rows keyed by an index, not a time */
    size_t n_columns;
    char header[MAX_FIELDS][64];
    int context_col; /* -1: none */
    int generated_col;
} reader_t;

static bool name_is(const char *name, const char *a, const char *b)
{
    return strcasecmp(name, a) == 0 || strcasecmp(name, b) == 0;
}

static int read_header(reader_t *r, char *line)
{
    char *fields[MAX_FIELDS + 1];
    size_t n = split_fields(line, fields);
    if (n > MAX_FIELDS) {
        snprintf(r->err, r->errlen, "%s:1: the header has more than %d columns", r->path,
                 MAX_FIELDS);
        return -1;
    }
    r->n_columns = n;
    r->context_col = r->generated_col = -1;
    for (size_t i = 0; i < n; i++) {
        snprintf(r->header[i], sizeof(r->header[i]), "%s", fields[i]);
        if (name_is(fields[i], "ContextTokens", "context_tokens"))
            r->context_col = (int)i;
        if (name_is(fields[i], "GeneratedTokens", "generated_tokens"))
            r->generated_col = (int)i;
    }
    double probe;
    if (!fields[0][0] || parse_time(fields[0], &probe) == 0) {
        snprintf(r->err, r->errlen,
                 "%s:1: expected a header line such as TIMESTAMP,ContextTokens,GeneratedTokens "
                 "or minute,count, found '%.60s'",
                 r->path, fields[0]);
        return -1;
    }
    r->format = n == 2 && strcasecmp(fields[1], "count") == 0 ? FORMAT_MINUTES : FORMAT_REQUESTS;
    r->minute_index = r->format == FORMAT_MINUTES && strcasecmp(fields[0], "minute") == 0;
    return 0;
}

static int bad_field(reader_t *r, size_t line, size_t col, const char *value, const char *what)
{
    snprintf(r->err, r->errlen, "%s:%zu: column %zu (%s): '%.60s' is not %s", r->path, line,
             col + 1, r->header[col], value, what);
    return -1;
}

typedef struct minute_row {
    double start;
    uint64_t count;
} minute_row_t;

/* Spreads each minute's count uniformly within it. */
static int spread_minutes(builder_t *b, const minute_row_t *rows, size_t n, uint64_t seed)
{
    rng_t rng;
    rng_seed_stream(&rng, seed, STREAM_MINUTES);
    double origin = n > 0 ? rows[0].start : 0;
    for (size_t i = 0; i < n; i++) {
        size_t first = b->t->n;
        for (uint64_t k = 0; k < rows[i].count; k++)
            if (builder_push(b, rows[i].start - origin + 60.0 * rng_uniform(&rng), 0, 0) < 0)
                return -1;
        /* Insertion sort: the minute's points are few and this keeps the
         * order independent of the C library's qsort. */
        double *a = b->t->arrival;
        for (size_t j = first + 1; j < b->t->n; j++) {
            double v = a[j];
            size_t k = j;
            for (; k > first && a[k - 1] > v; k--)
                a[k] = a[k - 1];
            a[k] = v;
        }
    }
    return 0;
}

static int read_rows(reader_t *r, FILE *f, uint64_t seed, sim_trace_t *out)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0, prev_line = 0;
    ssize_t len;
    int rc = -1;
    bool have_header = false;
    double prev = -INFINITY, first = 0;
    minute_row_t *minutes = NULL;
    size_t n_minutes = 0, cap_minutes = 0;
    builder_t b = {.t = out};

    while ((len = getline(&line, &cap, f)) != -1) {
        lineno++;
        (void)len;
        char *text = trim(line);
        if (!*text)
            continue;
        if (!have_header) {
            if (read_header(r, text) < 0)
                goto fail;
            have_header = true;
            b.tokens = r->format == FORMAT_REQUESTS && r->context_col >= 0 && r->generated_col >= 0;
            continue;
        }
        char *fields[MAX_FIELDS + 1];
        size_t n = split_fields(text, fields);
        if (n != r->n_columns) {
            snprintf(r->err, r->errlen, "%s:%zu: %zu columns, but the header has %zu", r->path,
                     lineno, n, r->n_columns);
            goto fail;
        }
        double t, context = 0, generated = 0;
        if (r->minute_index) {
            double m;
            if (parse_number(fields[0], &m) < 0 || m < 0 || m != floor(m)) {
                bad_field(r, lineno, 0, fields[0], "a minute index (0, 1, 2, ...)");
                goto fail;
            }
            t = SIM_TRACE_EPOCH + 60.0 * m;
        } else if (parse_time(fields[0], &t) < 0) {
            bad_field(r, lineno, 0, fields[0],
                      "a time (YYYY-MM-DD HH:MM:SS[.fraction] in UTC, or seconds)");
            goto fail;
        }
        double min_gap = r->format == FORMAT_MINUTES ? 60.0 : 0.0;
        if (t < prev + min_gap) {
            snprintf(r->err, r->errlen,
                     "%s:%zu: column 1 (%s): '%.60s' is %s the previous row's (line %zu); the "
                     "trace must be sorted by time",
                     r->path, lineno, r->header[0], fields[0],
                     min_gap > 0 ? "less than a minute after" : "earlier than", prev_line);
            goto fail;
        }
        if (!isfinite(prev))
            first = t;
        prev = t;
        prev_line = lineno;
        if (r->format == FORMAT_MINUTES) {
            double count;
            if (parse_number(fields[1], &count) < 0 || count < 0 || count != floor(count) ||
                count > MAX_MINUTE_COUNT) {
                bad_field(r, lineno, 1, fields[1], "a whole number of requests");
                goto fail;
            }
            if (n_minutes == cap_minutes) {
                cap_minutes = cap_minutes ? cap_minutes * 2 : 256;
                minute_row_t *grown = realloc(minutes, cap_minutes * sizeof(*grown));
                if (!grown)
                    goto oom;
                minutes = grown;
            }
            minutes[n_minutes++] = (minute_row_t){t, (uint64_t)count};
            continue;
        }
        if (b.tokens) {
            int cols[2] = {r->context_col, r->generated_col};
            double *vals[2] = {&context, &generated};
            for (int i = 0; i < 2; i++)
                if (parse_number(fields[cols[i]], vals[i]) < 0 || *vals[i] < 0) {
                    bad_field(r, lineno, (size_t)cols[i], fields[cols[i]],
                              "a non-negative token count");
                    goto fail;
                }
        }
        if (builder_push(&b, t - first, context, generated) < 0)
            goto oom;
    }
    if (!have_header) {
        snprintf(r->err, r->errlen,
                 "%s:1: the file is empty (expected a header line such as "
                 "TIMESTAMP,ContextTokens,GeneratedTokens or minute,count)",
                 r->path);
        goto fail;
    }
    if (r->format == FORMAT_MINUTES && spread_minutes(&b, minutes, n_minutes, seed) < 0)
        goto oom;
    if (out->n == 0) {
        snprintf(r->err, r->errlen, "%s: no requests after the header (line 1)", r->path);
        goto fail;
    }
    out->unix_start = first;
    out->span = out->arrival[out->n - 1];
    if (r->format == FORMAT_MINUTES)
        out->span = minutes[n_minutes - 1].start - first + 60.0;
    rc = 0;
    goto done;
oom:
    snprintf(r->err, r->errlen, "%s: out of memory after line %zu", r->path, lineno);
fail:
    sim_trace_free(out);
done:
    free(minutes);
    free(line);
    return rc;
}

int sim_trace_read_csv(const char *path, uint64_t seed, sim_trace_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open trace '%s': %s", path, strerror(errno));
        return -1;
    }
    reader_t r = {.path = path, .err = err, .errlen = errlen};
    int rc = read_rows(&r, f, seed, out);
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        sim_trace_free(out);
        rc = -1;
    }
    fclose(f);
    return rc;
}

/* ---- generated shapes ---- */

/* Rates as functions of time; each returns requests per second at t for
 * the base rate r. */
#define SPIKE_PERIOD 900.0  /* a spike every 15 minutes ... */
#define SPIKE_OFFSET 450.0  /* ... the first 7.5 minutes in ... */
#define SPIKE_LENGTH 60.0   /* ... lasting a minute ... */
#define SPIKE_FACTOR 10.0   /* ... at ten times the base rate */
#define ONOFF_ON     300.0  /* 5 minutes of traffic, then */
#define ONOFF_OFF    1200.0 /* 20 minutes of nothing: longer than the idle windows */

static double rate_poisson(double t, double r)
{
    (void)t;
    return r;
}

/* Mean r over a day, 0 at midnight and 2r at noon UTC. */
static double rate_diurnal(double t, double r)
{
    return r * (1.0 - cos(2.0 * M_PI * t / SECONDS_PER_DAY));
}

static double rate_spike(double t, double r)
{
    double in = fmod(t, SPIKE_PERIOD);
    return in >= SPIKE_OFFSET && in < SPIKE_OFFSET + SPIKE_LENGTH ? r * SPIKE_FACTOR : r;
}

static double rate_onoff(double t, double r)
{
    return fmod(t, ONOFF_ON + ONOFF_OFF) < ONOFF_ON ? r : 0;
}

typedef struct shape {
    double (*rate)(double t, double r);
    double peak_factor; /* peak rate / r */
} shape_t;

const sim_shape_info_t sim_trace_shapes[] = {
    {"diurnal", 0.5, 2 * SECONDS_PER_DAY,
     "r x (1 - cos(2 pi t / 1 day)): mean r, 0 at midnight, 2r at noon UTC;\n      two days, "
     "so that a seasonal forecast has a day of history"},
    {"spike", 2.0, 3600,
     "base rate r, and a 60 s spike at 10r every 15 minutes (the first at 7.5 min)"},
    {"onoff", 5.0, 6000, "r for 5 minutes, then nothing for 20 minutes, repeated"},
    {"sparse", 1.0 / 600, SECONDS_PER_DAY,
     "isolated requests, Poisson at a low rate: the cold-start regime"},
    {"poisson", 10.0, 3600, "Poisson arrivals at a constant rate r"},
};
const size_t sim_trace_shape_count = sizeof(sim_trace_shapes) / sizeof(sim_trace_shapes[0]);

static const shape_t shapes[] = {
    {rate_diurnal, 2.0}, {rate_spike, SPIKE_FACTOR}, {rate_onoff, 1.0},
    {rate_poisson, 1.0}, {rate_poisson, 1.0},
};

int sim_trace_generate(const char *name, uint64_t seed, double duration, double rate,
                       sim_trace_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < sim_trace_shape_count && strcmp(sim_trace_shapes[i].name, name) != 0)
        i++;
    if (i == sim_trace_shape_count) {
        snprintf(err, errlen,
                 "unknown trace shape '%s' (known: diurnal, spike, onoff, sparse, poisson)", name);
        return -1;
    }
    const sim_shape_info_t *info = &sim_trace_shapes[i];
    if (!(duration > 0))
        duration = info->default_duration;
    if (!(rate > 0))
        rate = info->default_rate;
    double peak = rate * shapes[i].peak_factor;
    rng_t rng;
    rng_seed_stream(&rng, seed, STREAM_ARRIVALS);
    builder_t b = {.t = out};
    double t = 0;
    for (;;) {
        t += rng_exponential(&rng, 1.0 / peak);
        if (t >= duration)
            break;
        if (rng_uniform(&rng) * peak >= shapes[i].rate(t, rate))
            continue;
        if (builder_push(&b, t, 0, 0) < 0) {
            snprintf(err, errlen, "out of memory generating a '%s' trace", name);
            sim_trace_free(out);
            return -1;
        }
    }
    if (out->n == 0) {
        snprintf(err, errlen, "the '%s' trace of %g s at %g requests/s has no requests", name,
                 duration, rate);
        return -1;
    }
    out->unix_start = SIM_TRACE_EPOCH;
    out->span = duration;
    return 0;
}

/* ---- scaling ---- */

int sim_trace_scale(sim_trace_t *t, double time_scale, double rate_scale, uint64_t seed)
{
    for (size_t i = 0; i < t->n; i++)
        t->arrival[i] /= time_scale;
    t->span /= time_scale;
    if (rate_scale == 1.0)
        return 0;
    rng_t rng;
    rng_seed_stream(&rng, seed, STREAM_SCALE);
    sim_trace_t scaled = {.unix_start = t->unix_start, .span = t->span};
    const double *context = t->context_tokens, *generated = t->generated_tokens;
    builder_t b = {.t = &scaled, .tokens = context && generated};
    double whole = floor(rate_scale), fraction = rate_scale - whole;
    for (size_t i = 0; i < t->n; i++) {
        unsigned copies = (unsigned)whole + (rng_uniform(&rng) < fraction);
        double next = i + 1 < t->n ? t->arrival[i + 1] : t->arrival[i];
        double gap = next - t->arrival[i];
        double c = context && generated ? context[i] : 0;
        double g = context && generated ? generated[i] : 0;
        size_t first = scaled.n;
        for (unsigned k = 0; k < copies; k++) {
            double at = t->arrival[i] + (k == 0 ? 0 : gap * rng_uniform(&rng));
            if (builder_push(&b, at, c, g) < 0) {
                sim_trace_free(&scaled);
                return -1;
            }
        }
        for (size_t j = first + 1; j < scaled.n; j++) {
            double v = scaled.arrival[j];
            size_t k = j;
            for (; k > first && scaled.arrival[k - 1] > v; k--)
                scaled.arrival[k] = scaled.arrival[k - 1];
            scaled.arrival[k] = v;
        }
    }
    sim_trace_free(t);
    *t = scaled;
    return 0;
}

/* ---- service times ---- */

int sim_service_times(const sim_trace_t *t, const sim_service_t *s, uint64_t seed, double *out,
                      char *err, size_t errlen)
{
    rng_t rng;
    rng_seed_stream(&rng, seed, STREAM_SERVICE);
    double mean = s->mean_ms / 1000.0;
    /* mu such that the lognormal's mean is mean: E = exp(mu + sigma^2 / 2). */
    double mu = log(mean > 0 ? mean : 1e-9) - s->sigma * s->sigma / 2.0;
    if (s->kind == SIM_SERVICE_TOKENS && !(t->context_tokens && t->generated_tokens)) {
        snprintf(err, errlen,
                 "--service-from-tokens needs a trace with ContextTokens and GeneratedTokens "
                 "columns");
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        switch (s->kind) {
        case SIM_SERVICE_FIXED:
            out[i] = mean;
            break;
        case SIM_SERVICE_EXP:
            out[i] = rng_exponential(&rng, mean);
            break;
        case SIM_SERVICE_LOGNORMAL:
            out[i] = exp(mu + s->sigma * rng_normal(&rng));
            break;
        case SIM_SERVICE_TOKENS:
            out[i] = (s->base_ms + s->context_ms * t->context_tokens[i] +
                      s->generated_ms * t->generated_tokens[i]) /
                     1000.0;
            break;
        }
    }
    return 0;
}
