/* trace.c - arrival traces: CSV reading, generated shapes, scaling and
 * service times (see trace.h for the formats).
 *
 * The reader is strict on purpose: a trace with a bad row would silently
 * simulate (or, in inferd loadtest, send) something else, so the first
 * bad line stops it with the line number and the column. It is the only
 * trace reader in inferd, so both commands mean the same by a file. Generated shapes are
 * non-homogeneous Poisson processes drawn by thinning (Lewis and Shedler): candidates at the
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
    bool tokens; /* fill context_tokens and generated_tokens */
    bool models; /* fill model */
} builder_t;

/* One request as the builder takes it. */
typedef struct request {
    double at, context, generated;
    int model;
} request_t;

static int builder_grow(builder_t *b)
{
    sim_trace_t *t = b->t;
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
    if (b->models) {
        int *m = realloc(t->model, cap * sizeof(*m));
        if (!m)
            return -1;
        t->model = m;
    }
    b->cap = cap;
    return 0;
}

static int builder_push(builder_t *b, const request_t *r)
{
    sim_trace_t *t = b->t;
    if (t->n == b->cap && builder_grow(b) < 0)
        return -1;
    t->arrival[t->n] = r->at;
    if (b->tokens) {
        t->context_tokens[t->n] = r->context;
        t->generated_tokens[t->n] = r->generated;
    }
    if (b->models)
        t->model[t->n] = r->model;
    t->n++;
    return 0;
}

/* Sorts arrival[first..n), which has no tokens nor models of its own (a
 * minute's points, or copies of one request). Insertion sort: such runs
 * are short, and this keeps the order independent of the C library's
 * qsort. */
static void sort_arrivals_from(sim_trace_t *t, size_t first)
{
    double *a = t->arrival;
    for (size_t j = first + 1; j < t->n; j++) {
        double v = a[j];
        size_t k = j;
        for (; k > first && a[k - 1] > v; k--)
            a[k] = a[k - 1];
        a[k] = v;
    }
}

void sim_trace_free(sim_trace_t *t)
{
    if (!t)
        return;
    free(t->arrival);
    free(t->context_tokens);
    free(t->generated_tokens);
    free(t->model);
    for (size_t i = 0; i < t->n_models; i++)
        free(t->model_names[i]);
    free(t->model_names);
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

static int days_in_month(long y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* "YYYY-MM-DD HH:MM:SS[.fraction][Z]" (or a 'T') in UTC. A day the month
 * does not have (2023-02-29) is refused, not rolled into the next. */
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
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
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

/* One pair of double quotes around a field is not part of its value
 * (spreadsheets quote headers and dates). A quoted field cannot hold a
 * comma: traces have none in their values. */
static char *unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        return trim(s + 1);
    }
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
            fields[n] = unquote(trim(p));
        n++;
        if (!comma || n > MAX_FIELDS)
            return n;
        p = comma + 1;
    }
}

/* ---- reading CSV ---- */

typedef enum { FORMAT_REQUESTS, FORMAT_MINUTES } csv_format_t;

typedef struct minute_row {
    double start;
    uint64_t count;
} minute_row_t;

typedef struct reader {
    const char *path;
    char *err;
    size_t errlen;
    const char *model_column;
    /* from the header */
    csv_format_t format;
    bool minute_index; /* per-minute rows keyed by an index, not a time */
    size_t n_columns;
    size_t header_line;
    char header[MAX_FIELDS][64];
    int context_col; /* -1: none */
    int generated_col;
    int model_col;
    /* across rows */
    double first, prev;
    size_t prev_line;
    minute_row_t *minutes;
    size_t n_minutes, cap_minutes;
    builder_t b;
} reader_t;

static bool name_is(const char *name, const char *a, const char *b)
{
    return strcasecmp(name, a) == 0 || strcasecmp(name, b) == 0;
}

static int out_of_memory(reader_t *r, size_t line)
{
    snprintf(r->err, r->errlen, "%s: out of memory at line %zu", r->path, line);
    return -1;
}

/* Finds the model column the caller named; per-minute counts have none,
 * since their requests are made up here, not listed. */
static int find_model_column(reader_t *r, char **fields, size_t n)
{
    r->model_col = -1;
    if (!r->model_column)
        return 0;
    if (r->format == FORMAT_MINUTES) {
        snprintf(r->err, r->errlen,
                 "%s:%zu: a per-minute trace (%s,count) has no model per request, so it has no "
                 "model column '%s'",
                 r->path, r->header_line, fields[0], r->model_column);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(fields[i], r->model_column) == 0)
            r->model_col = (int)i;
    if (r->model_col < 0) {
        snprintf(r->err, r->errlen, "%s:%zu: the header has no column '%s'", r->path,
                 r->header_line, r->model_column);
        return -1;
    }
    return 0;
}

static int read_header(reader_t *r, char *line, size_t lineno)
{
    char *fields[MAX_FIELDS + 1];
    size_t n = split_fields(line, fields);
    r->header_line = lineno;
    if (n > MAX_FIELDS) {
        snprintf(r->err, r->errlen, "%s:%zu: the header has more than %d columns", r->path, lineno,
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
                 "%s:%zu: expected a header line such as TIMESTAMP,ContextTokens,GeneratedTokens "
                 "or minute,count, found '%.60s'",
                 r->path, lineno, fields[0]);
        return -1;
    }
    r->format = n == 2 && strcasecmp(fields[1], "count") == 0 ? FORMAT_MINUTES : FORMAT_REQUESTS;
    r->minute_index = r->format == FORMAT_MINUTES && strcasecmp(fields[0], "minute") == 0;
    if (find_model_column(r, fields, n) < 0)
        return -1;
    r->b.tokens = r->format == FORMAT_REQUESTS && r->context_col >= 0 && r->generated_col >= 0;
    r->b.models = r->model_col >= 0;
    return 0;
}

static int bad_field(reader_t *r, size_t line, size_t col, const char *value, const char *what)
{
    snprintf(r->err, r->errlen, "%s:%zu: column %zu (%s): '%.60s' is not %s", r->path, line,
             col + 1, r->header[col], value, what);
    return -1;
}

/* Spreads each minute's count uniformly within it. */
static int spread_minutes(builder_t *b, const minute_row_t *rows, size_t n, uint64_t seed)
{
    rng_t rng;
    rng_seed_stream(&rng, seed, STREAM_MINUTES);
    double origin = n > 0 ? rows[0].start : 0;
    for (size_t i = 0; i < n; i++) {
        size_t first = b->t->n;
        for (uint64_t k = 0; k < rows[i].count; k++) {
            request_t req = {.at = rows[i].start - origin + 60.0 * rng_uniform(&rng)};
            if (builder_push(b, &req) < 0)
                return -1;
        }
        sort_arrivals_from(b->t, first);
    }
    return 0;
}

/* The row's time from its first column, which must not go back (nor,
 * for minutes, come within a minute of the previous row). */
static int row_time(reader_t *r, char **fields, size_t lineno, double *out)
{
    double t;
    if (r->minute_index) {
        double m;
        if (parse_number(fields[0], &m) < 0 || m < 0 || m != floor(m))
            return bad_field(r, lineno, 0, fields[0], "a minute index (0, 1, 2, ...)");
        t = SIM_TRACE_EPOCH + 60.0 * m;
    } else if (parse_time(fields[0], &t) < 0) {
        return bad_field(r, lineno, 0, fields[0],
                         "a time (YYYY-MM-DD HH:MM:SS[.fraction] in UTC, or seconds)");
    }
    double min_gap = r->format == FORMAT_MINUTES ? 60.0 : 0.0;
    if (t < r->prev + min_gap) {
        snprintf(r->err, r->errlen,
                 "%s:%zu: column 1 (%s): '%.60s' is %s the previous row's (line %zu); the "
                 "trace must be sorted by time",
                 r->path, lineno, r->header[0], fields[0],
                 min_gap > 0 ? "less than a minute after" : "earlier than", r->prev_line);
        return -1;
    }
    if (!isfinite(r->prev))
        r->first = t;
    r->prev = t;
    r->prev_line = lineno;
    *out = t;
    return 0;
}

static int row_minute(reader_t *r, const char *count_text, size_t lineno, double start)
{
    double count;
    if (parse_number(count_text, &count) < 0 || count < 0 || count != floor(count) ||
        count > MAX_MINUTE_COUNT)
        return bad_field(r, lineno, 1, count_text, "a whole number of requests");
    if (r->n_minutes == r->cap_minutes) {
        size_t cap = r->cap_minutes ? r->cap_minutes * 2 : 256;
        minute_row_t *grown = realloc(r->minutes, cap * sizeof(*grown));
        if (!grown)
            return out_of_memory(r, lineno);
        r->minutes = grown;
        r->cap_minutes = cap;
    }
    r->minutes[r->n_minutes++] = (minute_row_t){start, (uint64_t)count};
    return 0;
}

/* The index of the row's model name (its quotes already gone: see
 * unquote), added to the trace's names when it is new. */
static int row_model(reader_t *r, const char *value, size_t lineno, int *out)
{
    size_t col = (size_t)r->model_col, len = strlen(value);
    const char *name = value;
    if (len == 0)
        return bad_field(r, lineno, col, value, "a model name");
    sim_trace_t *t = r->b.t;
    for (size_t i = 0; i < t->n_models; i++)
        if (strlen(t->model_names[i]) == len && memcmp(t->model_names[i], name, len) == 0) {
            *out = (int)i;
            return 0;
        }
    if (t->n_models == SIM_TRACE_MAX_MODELS) {
        snprintf(r->err, r->errlen, "%s:%zu: column %zu (%s): more than %d different models",
                 r->path, lineno, col + 1, r->header[col], SIM_TRACE_MAX_MODELS);
        return -1;
    }
    char **grown = realloc(t->model_names, (t->n_models + 1) * sizeof(*grown));
    if (!grown)
        return out_of_memory(r, lineno);
    t->model_names = grown;
    if (!(grown[t->n_models] = strndup(name, len)))
        return out_of_memory(r, lineno);
    *out = (int)t->n_models++;
    return 0;
}

static int row_request(reader_t *r, char **fields, size_t lineno, double t)
{
    request_t req = {.at = t - r->first, .model = -1};
    if (r->b.tokens) {
        int cols[2] = {r->context_col, r->generated_col};
        double *vals[2] = {&req.context, &req.generated};
        for (int i = 0; i < 2; i++)
            if (parse_number(fields[cols[i]], vals[i]) < 0 || *vals[i] < 0)
                return bad_field(r, lineno, (size_t)cols[i], fields[cols[i]],
                                 "a non-negative token count");
    }
    if (r->b.models && row_model(r, fields[r->model_col], lineno, &req.model) < 0)
        return -1;
    if (builder_push(&r->b, &req) < 0)
        return out_of_memory(r, lineno);
    return 0;
}

static int read_row(reader_t *r, char *text, size_t lineno)
{
    char *fields[MAX_FIELDS + 1];
    size_t n = split_fields(text, fields);
    if (n != r->n_columns) {
        snprintf(r->err, r->errlen, "%s:%zu: %zu columns, but the header has %zu", r->path, lineno,
                 n, r->n_columns);
        return -1;
    }
    double t;
    if (row_time(r, fields, lineno, &t) < 0)
        return -1;
    if (r->format == FORMAT_MINUTES)
        return row_minute(r, fields[1], lineno, t);
    return row_request(r, fields, lineno, t);
}

/* After the last line: minutes become requests, and a trace with none
 * is an error rather than an empty run. */
static int finish_rows(reader_t *r, uint64_t seed, size_t lineno)
{
    sim_trace_t *out = r->b.t;
    if (r->format == FORMAT_MINUTES && spread_minutes(&r->b, r->minutes, r->n_minutes, seed) < 0)
        return out_of_memory(r, lineno);
    if (out->n == 0) {
        snprintf(r->err, r->errlen, "%s: no requests after the header (line %zu)", r->path,
                 r->header_line);
        return -1;
    }
    out->unix_start = r->first;
    out->span = out->arrival[out->n - 1];
    if (r->format == FORMAT_MINUTES)
        out->span = r->minutes[r->n_minutes - 1].start - r->first + 60.0;
    return 0;
}

static int read_rows(reader_t *r, FILE *f, uint64_t seed)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int rc = -1;
    bool have_header = false;
    r->prev = -INFINITY;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        char *text = trim(line);
        if (!*text)
            continue;
        if (!have_header) {
            if (read_header(r, text, lineno) < 0)
                goto done;
            have_header = true;
        } else if (read_row(r, text, lineno) < 0) {
            goto done;
        }
    }
    if (!have_header) {
        snprintf(r->err, r->errlen,
                 "%s:1: the file is empty (expected a header line such as "
                 "TIMESTAMP,ContextTokens,GeneratedTokens or minute,count)",
                 r->path);
        goto done;
    }
    rc = finish_rows(r, seed, lineno);
done:
    free(r->minutes);
    free(line);
    return rc;
}

int sim_trace_read_csv_with(const char *path, const sim_trace_read_options_t *opts,
                            sim_trace_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open trace '%s': %s", path, strerror(errno));
        return -1;
    }
    reader_t r = {.path = path,
                  .err = err,
                  .errlen = errlen,
                  .model_column = opts->model_column,
                  .b = {.t = out}};
    int rc = read_rows(&r, f, opts->seed);
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        sim_trace_free(out);
    fclose(f);
    return rc;
}

int sim_trace_read_csv(const char *path, uint64_t seed, sim_trace_t *out, char *err, size_t errlen)
{
    sim_trace_read_options_t opts = {.seed = seed};
    return sim_trace_read_csv_with(path, &opts, out, err, errlen);
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
        if (builder_push(&b, &(request_t){.at = t, .model = -1}) < 0) {
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

/* Moves what a scaled copy shares with its source (the model names) from
 * `from` to `to`, once the copy is complete. */
static void trace_move_names(sim_trace_t *from, sim_trace_t *to)
{
    to->model_names = from->model_names;
    to->n_models = from->n_models;
    from->model_names = NULL;
    from->n_models = 0;
}

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
    builder_t b = {.t = &scaled, .tokens = context && generated, .models = t->model != NULL};
    double whole = floor(rate_scale), fraction = rate_scale - whole;
    for (size_t i = 0; i < t->n; i++) {
        unsigned copies = (unsigned)whole + (rng_uniform(&rng) < fraction);
        double next = i + 1 < t->n ? t->arrival[i + 1] : t->arrival[i];
        double gap = next - t->arrival[i];
        request_t req = {.context = b.tokens ? context[i] : 0,
                         .generated = b.tokens ? generated[i] : 0,
                         .model = b.models ? t->model[i] : -1};
        size_t first = scaled.n;
        for (unsigned k = 0; k < copies; k++) {
            req.at = t->arrival[i] + (k == 0 ? 0 : gap * rng_uniform(&rng));
            if (builder_push(&b, &req) < 0) {
                sim_trace_free(&scaled);
                return -1;
            }
        }
        /* The copies share their tokens and model: only times move. */
        sort_arrivals_from(&scaled, first);
    }
    trace_move_names(t, &scaled);
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
