/* test_prometheus.c - the text exposition writer: values, escaping, families,
 * samples and histograms, each as a table of inputs and the exact text. */
#include <criterion/criterion.h>

#include "metrics/prometheus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct value_row {
    const char *situation;
    double value;
    const char *expected;
} value_row_t;

static const value_row_t value_rows[] = {
    {"zero", 0.0, "0"},
    {"a counter", 42.0, "42"},
    {"a large exact integer", 9007199254740992.0, "9007199254740992"},
    {"a bucket bound", 0.005, "0.005"},
    {"a fraction needing 17 digits", 0.1 + 0.2, "0.30000000000000004"},
    {"negative", -2.5, "-2.5"},
    {"huge", 1e300, "1e+300"},
    {"tiny", 1e-300, "1e-300"},
    {"a Unix time", 1764788524.125, "1764788524.125"},
    {"positive infinity", INFINITY, "+Inf"},
    {"negative infinity", -INFINITY, "-Inf"},
    {"not a number", NAN, "NaN"},
};

Test(prometheus, values_are_spelled_as_the_format_wants)
{
    for (size_t i = 0; i < sizeof(value_rows) / sizeof(value_rows[0]); i++) {
        char out[PROMETHEUS_VALUE_LEN];
        prometheus_format_value(value_rows[i].value, out);
        cr_expect_str_eq(out, value_rows[i].expected, "%s", value_rows[i].situation);
    }
}

Test(prometheus, finite_values_read_back_exactly)
{
    const double values[] = {1.0 / 3, 2.0 / 3, 123456.789, 5e-324,     1.7976931348623157e308,
                             0.025,   60.0,    1e-9,       299792458.0};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char out[PROMETHEUS_VALUE_LEN];
        prometheus_format_value(values[i], out);
        cr_expect_eq(strtod(out, NULL), values[i], "%s reads back as %.17g", out, values[i]);
    }
}

typedef struct escape_row {
    const char *situation;
    const char *value;
    const char *expected;
} escape_row_t;

static const escape_row_t escape_rows[] = {
    {"plain", "tts-flite-slt", "tts-flite-slt"},
    {"empty", "", ""},
    {"backslash", "a\\b", "a\\\\b"},
    {"double quote", "say \"hi\"", "say \\\"hi\\\""},
    {"newline", "two\nlines", "two\\nlines"},
    {"all three at the ends", "\"\\\n", "\\\"\\\\\\n"},
    {"UTF-8 passes through", "mod\xc3\xa8le", "mod\xc3\xa8le"},
};

Test(prometheus, label_values_are_escaped)
{
    for (size_t i = 0; i < sizeof(escape_rows) / sizeof(escape_rows[0]); i++) {
        buf_t b = BUF_INIT;
        prometheus_escape_label_value(&b, escape_rows[i].value);
        cr_expect_str_eq(b.data ? b.data : "", escape_rows[i].expected, "%s",
                         escape_rows[i].situation);
        buf_free(&b);
    }
}

Test(prometheus, family_help_escapes_backslash_and_newline_not_quotes)
{
    buf_t b = BUF_INIT;
    prometheus_write_family(&b, "inferd_x_total", "counter", "a \"quoted\" \\ path\nnext");
    cr_expect_str_eq(b.data, "# HELP inferd_x_total a \"quoted\" \\\\ path\\nnext\n"
                             "# TYPE inferd_x_total counter\n");
    buf_free(&b);
}

typedef struct sample_row {
    const char *situation;
    size_t n_labels;
    prometheus_label_t labels[3];
    double value;
    const char *expected;
} sample_row_t;

static const sample_row_t sample_rows[] = {
    {"no labels", 0, {{0}}, 1, "inferd_m 1\n"},
    {"one label", 1, {{"model", "example"}}, 3, "inferd_m{model=\"example\"} 3\n"},
    {"labels in the order given",
     2,
     {{"type", "scale_up"}, {"trigger", "manual"}},
     2,
     "inferd_m{type=\"scale_up\",trigger=\"manual\"} 2\n"},
    {"escaped value", 1, {{"model", "a\"b"}}, 0.5, "inferd_m{model=\"a\\\"b\"} 0.5\n"},
    {"NaN value", 0, {{0}}, NAN, "inferd_m NaN\n"},
};

Test(prometheus, sample_lines)
{
    for (size_t i = 0; i < sizeof(sample_rows) / sizeof(sample_rows[0]); i++) {
        const sample_row_t *r = &sample_rows[i];
        buf_t b = BUF_INIT;
        prometheus_write_sample(&b, "inferd_m", r->n_labels ? r->labels : NULL, r->n_labels,
                                r->value);
        cr_expect_str_eq(b.data, r->expected, "%s", r->situation);
        buf_free(&b);
    }
}

Test(prometheus, histogram_buckets_are_cumulative_and_end_with_inf)
{
    const double bounds[] = {0.005, 0.1, 1};
    const uint64_t counts[] = {2, 0, 3, 1}; /* the last: above 1 s */
    prometheus_label_t model = {"model", "example"};
    buf_t b = BUF_INIT;
    prometheus_write_histogram(&b, "inferd_d_seconds", &model, 1, bounds, 3, counts, 7.25);
    cr_expect_str_eq(b.data, "inferd_d_seconds_bucket{model=\"example\",le=\"0.005\"} 2\n"
                             "inferd_d_seconds_bucket{model=\"example\",le=\"0.1\"} 2\n"
                             "inferd_d_seconds_bucket{model=\"example\",le=\"1\"} 5\n"
                             "inferd_d_seconds_bucket{model=\"example\",le=\"+Inf\"} 6\n"
                             "inferd_d_seconds_sum{model=\"example\"} 7.25\n"
                             "inferd_d_seconds_count{model=\"example\"} 6\n");
    buf_free(&b);
}

Test(prometheus, histogram_without_labels_or_observations)
{
    const double bounds[] = {1};
    const uint64_t counts[] = {0, 0};
    buf_t b = BUF_INIT;
    prometheus_write_histogram(&b, "inferd_h", NULL, 0, bounds, 1, counts, 0);
    cr_expect_str_eq(b.data, "inferd_h_bucket{le=\"1\"} 0\n"
                             "inferd_h_bucket{le=\"+Inf\"} 0\n"
                             "inferd_h_sum 0\n"
                             "inferd_h_count 0\n");
    buf_free(&b);
}
