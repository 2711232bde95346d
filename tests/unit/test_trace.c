/* test_trace.c - what the trace reader does for inferd loadtest beyond
 * what the simulator needs (test_sim.c covers the formats and their
 * errors): a model column, models and tokens kept through rate scaling,
 * and dates the calendar does not have.
 */
#include <criterion/criterion.h>

#include "sim/trace.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Files live in a directory of their own under the working directory (the
 * build tree under ctest), removed after each test. */
static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "test_trace.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    rmdir(dir);
}

/* Reads text as a trace file; returns the reader's status. */
static int read_text(const char *text, const char *model_column, sim_trace_t *t, char *err,
                     size_t errlen)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/trace.csv", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    sim_trace_read_options_t opts = {.seed = 1, .model_column = model_column};
    int rc = sim_trace_read_csv_with(path, &opts, t, err, errlen);
    unlink(path);
    return rc;
}

Test(trace, model_column_gives_each_request_a_model, .init = make_dir, .fini = remove_dir)
{
    sim_trace_t t;
    char err[512] = "";
    const char *text = "TIMESTAMP,ContextTokens,GeneratedTokens,Model\n"
                       "0,10,1,tts-a\n1,20,2,\"tts-b\"\n2,30,3, tts-a \n";
    cr_assert_eq(read_text(text, "model", &t, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(t.n, 3);
    cr_assert_eq(t.n_models, 2);
    cr_expect_str_eq(t.model_names[0], "tts-a");
    cr_expect_str_eq(t.model_names[1], "tts-b");
    static const int expected[] = {0, 1, 0};
    for (size_t i = 0; i < 3; i++)
        cr_expect_eq(t.model[i], expected[i], "request %zu", i);
    cr_expect_float_eq(t.context_tokens[2], 30, 0);
    sim_trace_free(&t);

    /* Without a model column the trace has no models, as before. */
    cr_assert_eq(read_text(text, NULL, &t, err, sizeof(err)), 0, "%s", err);
    cr_expect_null(t.model);
    cr_expect_eq(t.n_models, 0);
    sim_trace_free(&t);
}

Test(trace, scaling_keeps_each_copy_with_its_model_and_tokens, .init = make_dir, .fini = remove_dir)
{
    sim_trace_t t;
    char err[512] = "";
    const char *text = "t,ContextTokens,GeneratedTokens,model\n0,1,10,a\n10,2,20,b\n20,3,30,a\n";
    cr_assert_eq(read_text(text, "model", &t, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sim_trace_scale(&t, 2, 3, 7), 0);
    cr_assert_eq(t.n, 9, "three copies of each of three requests");
    cr_assert_eq(t.n_models, 2);
    cr_expect_str_eq(t.model_names[1], "b");
    for (size_t i = 0; i < t.n; i++) {
        size_t source = i / 3; /* the copies sit between a request and the next */
        cr_expect_eq(t.model[i], source == 1 ? 1 : 0, "copy %zu", i);
        cr_expect_float_eq(t.context_tokens[i], (double)(source + 1), 0, "copy %zu", i);
        cr_expect_float_eq(t.generated_tokens[i], 10.0 * (double)(source + 1), 0, "copy %zu", i);
        cr_expect(t.arrival[i] >= 5.0 * (double)source, "copy %zu at %g", i, t.arrival[i]);
    }
    sim_trace_free(&t);
}

typedef struct date_case {
    const char *date;
    bool valid;
} date_case_t;

Test(trace, dates_the_calendar_lacks_are_bad_times, .init = make_dir, .fini = remove_dir)
{
    static const date_case_t cases[] = {
        {"2024-02-29 00:00:00", true},  {"2000-02-29 12:00:00", true},
        {"2023-02-29 00:00:00", false}, {"1900-02-29 00:00:00", false},
        {"2023-04-31 00:00:00", false}, {"2023-12-31 23:59:59", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128], err[512] = "";
        snprintf(text, sizeof(text), "TIMESTAMP\n%s\n", cases[i].date);
        sim_trace_t t;
        int rc = read_text(text, NULL, &t, err, sizeof(err));
        cr_expect_eq(rc == 0, cases[i].valid, "%s: %s", cases[i].date, err);
        if (rc == 0)
            sim_trace_free(&t);
        else
            cr_expect_not_null(strstr(err, ":2: column 1 (TIMESTAMP)"), "%s", err);
    }
}

/* Spreadsheets quote headers, dates and names: one pair of double quotes
 * around a field is not part of its value. */
Test(trace, quoted_fields_read_as_their_values, .init = make_dir, .fini = remove_dir)
{
    char err[512] = "";
    sim_trace_t t;
    int rc = read_text("\"TIMESTAMP\",\"model\"\n"
                       "\"2024-01-01 00:00:00\",\"a\"\n"
                       "\"2024-01-01 00:00:02\", \"b\" \n",
                       "model", &t, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_eq(t.n, 2);
    cr_expect_eq(t.n_models, 2);
    cr_expect_str_eq(t.model_names[1], "b");
    cr_expect_float_eq(t.arrival[1] - t.arrival[0], 2.0, 1e-9);
    sim_trace_free(&t);
}
