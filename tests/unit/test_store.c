/* test_store.c - the SQLite event store, read as tables.
 *
 * Each test gets a fresh temporary data directory. Queries are checked by
 * tables of (filter, expected ids in order) over one fixed set of events;
 * the rest covers NULL/NAN and JSON round trips, error paths that must
 * return -1 instead of crashing, durability across reopen and kill -9, and
 * the cost of one insert (printed, since it runs on the event loop).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_IDS   8

static char dir[256];
static store_t *store;

static void make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/inferd-store-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
}

static void remove_dir(void)
{
    static const char *const files[] = {"inferd.db", "inferd.db-wal", "inferd.db-shm", "not-a-dir"};
    char path[512];
    for (size_t i = 0; i < N_ROWS(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void open_store(void)
{
    char err[512] = "";
    int rc = store_open(dir, &store, err, sizeof(err));
    cr_assert_eq(rc, 0, "store_open: %s", err);
    cr_assert_not_null(store);
}

static void setup(void)
{
    make_dir();
    open_store();
}

static void teardown(void)
{
    store_close(store);
    store = NULL;
    remove_dir();
}

TestSuite(store, .init = setup, .fini = teardown);
TestSuite(store_open, .init = make_dir, .fini = teardown);

static store_event_t event(const char *id, double ts, const char *type)
{
    return (store_event_t){.id = id,
                           .timestamp = ts,
                           .type = type,
                           .trigger = "concurrency",
                           .model = "m",
                           .previous_scale = 1,
                           .target_scale = 2,
                           .actual_scale = 2,
                           .duration_seconds = 1.0,
                           .success = 1};
}

static void add(const store_event_t *e)
{
    cr_assert_eq(store_add_event(store, e), 0, "store_add_event %s", e->id);
}

/* The fixed history the query tables read: ids sort by time, except e and
 * f, which share a time and come back newest-inserted first. */
static void add_history(void)
{
    static const struct {
        const char *id;
        double ts;
        const char *type;
    } rows[] = {
        /* clang-format off */
        {"a", 100, "scale_up"},
        {"c", 300, "scale_down"},
        {"b", 200, "cold_start"},
        {"d", 400, "scale_up"},
        {"e", 500, "zero_scale"},
        {"f", 500, "scale_up"},
        {"g", 600, "replica_crashed"},
        /* clang-format on */
    };
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        store_event_t e = event(rows[i].id, rows[i].ts, rows[i].type);
        add(&e);
    }
}

/* Checks that a listed array holds exactly the ids, in order. */
static void expect_ids(json_t *list, const char *const *ids, const char *row)
{
    size_t n = 0;
    cr_assert_not_null(list, "%s: list failed", row);
    while (n < MAX_IDS && ids[n])
        n++;
    cr_expect_eq(json_array_size(list), n, "%s: %zu events, expected %zu", row,
                 json_array_size(list), n);
    for (size_t i = 0; i < n && i < json_array_size(list); i++) {
        const char *got = json_string_value(json_object_get(json_array_get(list, i), "id"));
        cr_expect_str_eq(got ? got : "(none)", ids[i], "%s: event %zu", row, i);
    }
    json_decref(list);
}

Test(store, list_is_newest_first_and_limited)
{
    static const struct {
        const char *name;
        int limit;
        const char *ids[MAX_IDS];
    } rows[] = {
        {"no limit", -1, {"g", "f", "e", "d", "c", "b", "a"}},
        {"limit above the count", 100, {"g", "f", "e", "d", "c", "b", "a"}},
        {"limit 3", 3, {"g", "f", "e"}},
        {"limit 1", 1, {"g"}},
        {"limit 0", 0, {NULL}},
    };
    add_history();
    for (size_t i = 0; i < N_ROWS(rows); i++)
        expect_ids(store_list_events(store, 0, NULL, rows[i].limit), rows[i].ids, rows[i].name);
}

Test(store, list_filters_by_types)
{
    static const char *const one[] = {"scale_up", NULL};
    static const char *const two[] = {"scale_down", "zero_scale", NULL};
    static const char *const unknown[] = {"config_updated", NULL};
    static const char *const none[] = {NULL};
    /* Longer than the statement cache, with repeats: the one-off path. */
    static const char *const many[] = {
        "a1",  "a2",  "a3",  "a4",  "a5",  "a6",  "a7",         "a8",         "a9", "a10",
        "a11", "a12", "a13", "a14", "a15", "a16", "cold_start", "cold_start", NULL};
    static const struct {
        const char *name;
        const char *const *types;
        const char *ids[MAX_IDS];
    } rows[] = {
        {"all types (NULL)", NULL, {"g", "f", "e", "d", "c", "b", "a"}},
        {"one type", one, {"f", "d", "a"}},
        {"two types", two, {"e", "c"}},
        {"a type never stored", unknown, {NULL}},
        {"an empty list keeps none", none, {NULL}},
        {"eighteen types", many, {"b"}},
    };
    add_history();
    /* Twice: the second pass reuses the prepared statements. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < N_ROWS(rows); i++)
            expect_ids(store_list_events(store, 0, rows[i].types, 100), rows[i].ids, rows[i].name);
}

Test(store, list_since_is_inclusive)
{
    static const char *const up[] = {"scale_up", NULL};
    static const struct {
        const char *name;
        double since;
        const char *const *types;
        const char *ids[MAX_IDS];
    } rows[] = {
        {"before everything", -1e9, NULL, {"g", "f", "e", "d", "c", "b", "a"}},
        {"at an event's time", 500, NULL, {"g", "f", "e"}},
        {"between events", 450.5, NULL, {"g", "f", "e"}},
        {"after everything", 601, NULL, {NULL}},
        {"since with a type", 200, up, {"f", "d"}},
    };
    add_history();
    for (size_t i = 0; i < N_ROWS(rows); i++)
        expect_ids(store_list_events(store, rows[i].since, rows[i].types, 100), rows[i].ids,
                   rows[i].name);
}

Test(store, count_by_type_and_time)
{
    static const struct {
        const char *type;
        double since;
        long count;
    } rows[] = {
        /* clang-format off */
        {NULL,         0,   7},
        {NULL,         500, 3},
        {NULL,         601, 0},
        {"scale_up",   0,   3},
        {"scale_up",   400, 2},
        {"scale_up",   501, 0},
        {"cold_start", 0,   1},
        {"nothing",    0,   0},
        /* clang-format on */
    };
    cr_expect_eq(store_count_events(store, NULL, 0), 0, "an empty store counts 0");
    add_history();
    for (size_t i = 0; i < N_ROWS(rows); i++)
        cr_expect_eq(store_count_events(store, rows[i].type, rows[i].since), rows[i].count,
                     "count type=%s since=%g", rows[i].type ? rows[i].type : "(any)",
                     rows[i].since);
}

Test(store, mean_duration_ignores_pending_and_failed)
{
    static const struct {
        const char *id;
        double ts;
        const char *type;
        double duration;
        int success;
    } events[] = {
        /* clang-format off */
        {"ok1",         100, "scale_up",   2.0,   1},
        {"ok2",         200, "scale_up",   4.0,   1},
        {"failed",      300, "scale_up",   100.0, 0},
        {"pending",     400, "scale_up",   NAN,   -1},
        {"no-duration", 500, "scale_up",   NAN,   1},
        {"late",        600, "scale_up",   9.0,   1},
        {"down",        700, "scale_down", 1.0,   1},
        /* clang-format on */
    };
    static const struct {
        const char *type;
        double since;
        double mean; /* NAN: none */
    } rows[] = {
        /* clang-format off */
        {"scale_up",   0,   5.0}, /* (2 + 4 + 9) / 3 */
        {"scale_up",   150, 6.5}, /* (4 + 9) / 2 */
        {"scale_up",   601, NAN}, /* nothing after */
        {"scale_down", 0,   1.0},
        {"cold_start", 0,   NAN},
        {NULL,         0,   4.0}, /* (2 + 4 + 9 + 1) / 4 */
        {NULL,         650, 1.0},
        /* clang-format on */
    };
    for (size_t i = 0; i < N_ROWS(events); i++) {
        store_event_t e = event(events[i].id, events[i].ts, events[i].type);
        e.duration_seconds = events[i].duration;
        e.success = events[i].success;
        add(&e);
    }
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        double got = store_mean_duration(store, rows[i].type, rows[i].since);
        if (isnan(rows[i].mean))
            cr_expect(isnan(got), "mean type=%s since=%g: %g, expected NAN",
                      rows[i].type ? rows[i].type : "(any)", rows[i].since, got);
        else
            cr_expect_float_eq(got, rows[i].mean, 1e-9, "mean type=%s since=%g: %g",
                               rows[i].type ? rows[i].type : "(any)", rows[i].since, got);
    }
}

static json_t *only_event(void)
{
    json_t *list = store_list_events(store, 0, NULL, 10);
    cr_assert_not_null(list);
    cr_assert_eq(json_array_size(list), 1);
    json_t *ev = json_incref(json_array_get(list, 0));
    json_decref(list);
    return ev;
}

Test(store, pending_event_reads_as_nulls)
{
    store_event_t e = event("p", 1796320924.75, "cold_start");
    e.trigger = NULL;
    e.model = NULL;
    e.duration_seconds = NAN;
    e.success = -1;
    add(&e);

    json_t *ev = only_event();
    json_t *want =
        json_pack("{s:s, s:s, s:f, s:s, s:n, s:n, s:[], s:i, s:i, s:i, s:n, s:n, s:n, s:n, s:n}",
                  "id", "p", "timestamp", "2026-12-03T18:02:04Z", "timestamp_unix", 1796320924.75,
                  "type", "cold_start", "trigger", "model", "models_affected", "previous_scale", 1,
                  "target_scale", 2, "actual_scale", 2, "duration_seconds", "success",
                  "trigger_metrics", "outcome_metrics", "details");
    char *got_text = json_dumps(ev, JSON_SORT_KEYS);
    cr_expect(json_equal(ev, want), "got %s", got_text);
    free(got_text);
    json_decref(want);
    json_decref(ev);
}

Test(store, completed_event_reads_as_values)
{
    store_event_t e = event("done", 1796320924, "scale_up");
    e.success = 0;
    e.duration_seconds = 0.25;
    add(&e);

    json_t *ev = only_event();
    cr_expect_str_eq(json_string_value(json_object_get(ev, "trigger")), "concurrency");
    cr_expect_str_eq(json_string_value(json_object_get(ev, "model")), "m");
    json_t *affected = json_pack("[s]", "m");
    cr_expect(json_equal(json_object_get(ev, "models_affected"), affected));
    json_decref(affected);
    cr_expect(json_is_false(json_object_get(ev, "success")));
    cr_expect_float_eq(json_real_value(json_object_get(ev, "duration_seconds")), 0.25, 1e-12);
    json_decref(ev);
}

Test(store, json_columns_round_trip)
{
    json_t *trigger = json_pack("{s:f, s:i, s:{s:[i,i,i]}, s:s, s:b, s:n}", "concurrency", 3.5,
                                "queue", 12, "nested", "list", 1, 2, 3, "note",
                                "caf\xc3\xa9 \"quoted\" \\ \n", "panic", 1, "gpu");
    json_t *outcome = json_pack("{s:f}", "p95_ms", 41.5);
    json_t *details = json_object();
    store_event_t e = event("j", 100, "scale_up");
    e.trigger_metrics = trigger;
    e.outcome_metrics = outcome;
    e.details = details;
    add(&e);

    json_t *ev = only_event();
    cr_expect(json_equal(json_object_get(ev, "trigger_metrics"), trigger));
    cr_expect(json_equal(json_object_get(ev, "outcome_metrics"), outcome));
    cr_expect(json_equal(json_object_get(ev, "details"), details), "an empty object stays one");
    json_decref(ev);

    /* Stored as compact text. */
    sqlite3 *db;
    sqlite3_stmt *st;
    char path[512];
    snprintf(path, sizeof(path), "%s/inferd.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT outcome_metrics FROM events", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "{\"p95_ms\":41.5}");
    sqlite3_finalize(st);
    sqlite3_close(db);

    json_decref(trigger);
    json_decref(outcome);
    json_decref(details);
}

Test(store, finish_event_completes_a_pending_one)
{
    json_t *start = json_pack("{s:s, s:s}", "reason", "burst", "keep", "me");
    json_t *end = json_pack("{s:s, s:s}", "failure", "timeout", "keep", "replaced");
    json_t *merged =
        json_pack("{s:s, s:s, s:s}", "reason", "burst", "failure", "timeout", "keep", "replaced");
    store_event_t e = event("s1", 100, "scale_up");
    e.duration_seconds = NAN;
    e.success = -1;
    e.actual_scale = 1;
    e.details = start;
    add(&e);

    cr_expect_eq(store_finish_event(store, "s1", 2, 3.5, false, end), 0);
    json_t *ev = only_event();
    cr_expect_eq(json_integer_value(json_object_get(ev, "actual_scale")), 2);
    cr_expect_float_eq(json_real_value(json_object_get(ev, "duration_seconds")), 3.5, 1e-12);
    cr_expect(json_is_false(json_object_get(ev, "success")));
    cr_expect(json_equal(json_object_get(ev, "details"), merged), "details are merged");
    json_decref(ev);

    /* NULL details keep the stored ones; NAN duration reads as null. */
    cr_expect_eq(store_finish_event(store, "s1", 3, NAN, true, NULL), 0);
    ev = only_event();
    cr_expect(json_is_true(json_object_get(ev, "success")));
    cr_expect(json_is_null(json_object_get(ev, "duration_seconds")));
    cr_expect(json_equal(json_object_get(ev, "details"), merged));
    json_decref(ev);

    /* Details on an event that had none. */
    store_event_t bare = event("s2", 50, "scale_down");
    add(&bare);
    cr_expect_eq(store_finish_event(store, "s2", 1, 1.0, true, end), 0);
    json_t *list = store_list_events(store, 0, NULL, 10);
    cr_expect(json_equal(json_object_get(json_array_get(list, 1), "details"), end));
    json_decref(list);

    cr_expect_eq(store_finish_event(store, "nope", 1, 1.0, true, NULL), -1, "unknown id");
    cr_expect_eq(store_count_events(store, NULL, 0), 2, "nothing was inserted");
    json_decref(start);
    json_decref(end);
    json_decref(merged);
}

Test(store, set_outcome_sets_and_clears)
{
    json_t *outcome = json_pack("{s:f, s:i}", "p95_ms", 80.0, "replicas", 3);
    store_event_t e = event("o", 100, "scale_up");
    add(&e);

    cr_expect_eq(store_set_outcome(store, "o", outcome), 0);
    json_t *ev = only_event();
    cr_expect(json_equal(json_object_get(ev, "outcome_metrics"), outcome));
    json_decref(ev);

    cr_expect_eq(store_set_outcome(store, "o", NULL), 0);
    ev = only_event();
    cr_expect(json_is_null(json_object_get(ev, "outcome_metrics")));
    json_decref(ev);

    cr_expect_eq(store_set_outcome(store, "missing", outcome), -1, "unknown id");
    json_decref(outcome);
}

Test(store, last_event_by_types)
{
    static const char *const up[] = {"scale_up", NULL};
    static const char *const down_or_cold[] = {"scale_down", "cold_start", NULL};
    static const char *const unknown[] = {"config_updated", NULL};
    static const char *const none[] = {NULL};
    static const struct {
        const char *name;
        const char *const *types;
        int found;
        double ts;
        const char *type;
    } rows[] = {
        {"any", NULL, 1, 600, "replica_crashed"},
        {"one type", up, 1, 500, "scale_up"},
        {"two types", down_or_cold, 1, 300, "scale_down"},
        {"never stored", unknown, 0, 0, ""},
        {"empty list", none, 0, 0, ""},
    };
    double ts = -1;
    char type[32] = "untouched";

    cr_expect_eq(store_last_event(store, NULL, &ts, type, sizeof(type)), 0, "empty store");
    cr_expect_str_eq(type, "untouched");
    add_history();
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        ts = -1;
        type[0] = '\0';
        cr_expect_eq(store_last_event(store, rows[i].types, &ts, type, sizeof(type)), rows[i].found,
                     "%s", rows[i].name);
        if (rows[i].found) {
            cr_expect_float_eq(ts, rows[i].ts, 1e-9, "%s", rows[i].name);
            cr_expect_str_eq(type, rows[i].type, "%s", rows[i].name);
        }
    }
    /* A short buffer gets a truncated, terminated type. */
    char small[6];
    cr_expect_eq(store_last_event(store, NULL, NULL, small, sizeof(small)), 1);
    cr_expect_str_eq(small, "repli");
}

Test(store, refuses_bad_events)
{
    json_t *array = json_array();
    store_event_t ok = event("x", 100, "scale_up"), rows[6];
    const char *names[N_ROWS(rows)] = {"no id",     "no type",       "NAN time",
                                       "success 2", "array metrics", "duplicate id"};
    /* Each row differs from a valid, new event by its defect alone. */
    const char *ids[N_ROWS(rows)] = {NULL, "r1", "r2", "r3", "r4", "x"};
    for (size_t i = 0; i < N_ROWS(rows); i++)
        rows[i] = event(ids[i], 100, "scale_up");
    rows[1].type = NULL;
    rows[2].timestamp = NAN;
    rows[3].success = 2;
    rows[4].trigger_metrics = array;
    add(&ok);
    for (size_t i = 0; i < N_ROWS(rows); i++)
        cr_expect_eq(store_add_event(store, &rows[i]), -1, "%s", names[i]);
    cr_expect_eq(store_count_events(store, NULL, 0), 1);
    cr_expect_eq(store_finish_event(store, "x", 1, 1.0, true, array), -1, "array details");
    cr_expect_eq(store_set_outcome(store, "x", array), -1, "array outcome");
    json_decref(array);
}

/* Another connection drops the table under the open store: every call must
 * report -1 (or NULL, or NAN's error value) and carry on. */
Test(store, sqlite_errors_return_minus_one)
{
    static const char *const up[] = {"scale_up", NULL};
    sqlite3 *db;
    char path[512];
    double ts;
    char type[16];

    add_history();
    snprintf(path, sizeof(path), "%s/inferd.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "DROP TABLE events", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    store_event_t e = event("after", 700, "scale_up");
    cr_expect_eq(store_add_event(store, &e), -1);
    cr_expect_eq(store_finish_event(store, "a", 1, 1.0, true, NULL), -1);
    cr_expect_eq(store_set_outcome(store, "a", NULL), -1);
    cr_expect_null(store_list_events(store, 0, NULL, 10));
    cr_expect_null(store_list_events(store, 0, up, 10));
    cr_expect_eq(store_count_events(store, NULL, 0), -1);
    cr_expect_eq(store_count_events(store, "scale_up", 0), -1);
    cr_expect_eq(store_mean_duration(store, NULL, 0), -1.0);
    cr_expect_eq(store_mean_duration(store, "scale_up", 0), -1.0);
    cr_expect_eq(store_last_event(store, NULL, &ts, type, sizeof(type)), -1);
}

Test(store_open, a_null_store_is_refused_not_crashed)
{
    store_event_t e = event("n", 100, "scale_up");
    double ts;
    char type[16];
    cr_expect_eq(store_add_event(NULL, &e), -1);
    cr_expect_eq(store_finish_event(NULL, "n", 1, 1.0, true, NULL), -1);
    cr_expect_eq(store_set_outcome(NULL, "n", NULL), -1);
    cr_expect_null(store_list_events(NULL, 0, NULL, 10));
    cr_expect_eq(store_count_events(NULL, NULL, 0), -1);
    cr_expect_eq(store_mean_duration(NULL, NULL, 0), -1.0);
    cr_expect_eq(store_last_event(NULL, NULL, &ts, type, sizeof(type)), -1);
    store_close(NULL);
}

static int user_version(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int v = -1;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

Test(store_open, reopen_keeps_data_and_schema_version)
{
    char path[512];
    json_t *details = json_pack("{s:s}", "reason", "restart");
    snprintf(path, sizeof(path), "%s/inferd.db", dir);

    open_store();
    store_event_t e = event("kept", 100, "scale_up");
    e.details = details;
    add(&e);
    store_close(store);
    store = NULL;
    cr_expect_eq(user_version(path), store_schema_version());
    cr_expect_geq(store_schema_version(), 1);

    for (int round = 0; round < 2; round++) {
        open_store();
        json_t *ev = only_event();
        cr_expect_str_eq(json_string_value(json_object_get(ev, "id")), "kept");
        cr_expect(json_equal(json_object_get(ev, "details"), details));
        json_decref(ev);
        store_close(store);
        store = NULL;
        cr_expect_eq(user_version(path), store_schema_version(), "reopening leaves the version");
    }
    json_decref(details);
}

Test(store_open, data_dir_with_trailing_slash)
{
    char err[512], slashed[300];
    snprintf(slashed, sizeof(slashed), "%s/", dir);
    cr_assert_eq(store_open(slashed, &store, err, sizeof(err)), 0, "%s", err);
}

Test(store_open, survives_kill_9_after_add)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char err[512];
        store_t *s;
        store_event_t e = event("durable", 1796320924, "scale_up");
        e.success = -1;
        e.duration_seconds = NAN;
        if (store_open(dir, &s, err, sizeof(err)) < 0 || store_add_event(s, &e) < 0)
            _exit(2);
        raise(SIGKILL);
        _exit(3);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "the child did not die by SIGKILL (status %d)", status);

    open_store();
    json_t *ev = only_event();
    cr_expect_str_eq(json_string_value(json_object_get(ev, "id")), "durable");
    cr_expect(json_is_null(json_object_get(ev, "success")));
    json_decref(ev);
    cr_expect_eq(store_finish_event(store, "durable", 2, 1.5, true, NULL), 0,
                 "the recovered event can still be finished");
}

static void expect_open_error(const char *data_dir, const char *part1, const char *part2)
{
    char err[512] = "";
    store_t *s = (store_t *)1;
    cr_expect_eq(store_open(data_dir, &s, err, sizeof(err)), -1, "open %s", data_dir);
    cr_expect_null(s, "no store on failure");
    cr_expect(strstr(err, part1) != NULL, "\"%s\" lacks \"%s\"", err, part1);
    cr_expect(strstr(err, part2) != NULL, "\"%s\" lacks \"%s\"", err, part2);
}

Test(store_open, bad_directories_are_named)
{
    char missing[300], file[300], missing_db[320], file_db[320];
    snprintf(missing, sizeof(missing), "%s/absent", dir);
    snprintf(missing_db, sizeof(missing_db), "%s/inferd.db", missing);
    snprintf(file, sizeof(file), "%s/not-a-dir", dir);
    snprintf(file_db, sizeof(file_db), "%s/inferd.db", file);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);

    expect_open_error(missing, missing_db, "does not exist");
    expect_open_error(file, file_db, "is not a directory");
    expect_open_error("", "inferd.db", "no data directory");
    expect_open_error(NULL, "inferd.db", "no data directory");

    /* Root writes anywhere, so only an unprivileged run can see this one. */
    if (geteuid() != 0) {
        cr_assert_eq(chmod(dir, 0500), 0);
        char db[320];
        snprintf(db, sizeof(db), "%s/inferd.db", dir);
        expect_open_error(dir, db, "not writable");
        chmod(dir, 0700);
    }
}

Test(store_open, refuses_a_file_that_is_not_a_database)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/inferd.db", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 64; i++)
        fputs("this is not an SQLite database\n", f);
    fclose(f);
    expect_open_error(dir, path, "not a database");
}

Test(store_open, refuses_a_read_only_file)
{
    char path[512];
    if (geteuid() == 0) {
        remove_dir(); /* a skipped test gets no .fini */
        cr_skip_test("root writes read-only files");
    }
    open_store();
    store_close(store);
    store = NULL;
    snprintf(path, sizeof(path), "%s/inferd.db", dir);
    cr_assert_eq(chmod(path, 0400), 0);
    expect_open_error(dir, path, "read-only");
}

Test(store_open, refuses_a_newer_schema)
{
    char path[512], sql[64];
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/inferd.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_version() + 1);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_open_error(dir, path, "newer than this inferd");
    cr_expect_eq(user_version(path), store_schema_version() + 1, "the file is left alone");
}

/* ---- saved configuration versions ---- */

/* (count, smallest version) of the config table, read directly. */
static void config_rows(int64_t *count, int64_t *oldest)
{
    char path[512];
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    snprintf(path, sizeof(path), "%s/inferd.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*), min(version) FROM config", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    *count = sqlite3_column_int64(st, 0);
    *oldest = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(store, config_keeps_the_newest_versions_only)
{
    enum { SAVES = STORE_CONFIG_VERSIONS + 5 };
    int64_t versions[SAVES], count, oldest;

    /* Rows: saves made so far, rows expected, the oldest kept (index). */
    const struct {
        int saves, rows, oldest_index;
    } rows[] = {
        {1, 1, 0},
        {STORE_CONFIG_VERSIONS, STORE_CONFIG_VERSIONS, 0},
        {STORE_CONFIG_VERSIONS + 1, STORE_CONFIG_VERSIONS, 1},
        {SAVES, STORE_CONFIG_VERSIONS, SAVES - STORE_CONFIG_VERSIONS},
    };
    int done = 0;
    for (size_t r = 0; r < N_ROWS(rows); r++) {
        for (; done < rows[r].saves; done++) {
            json_t *doc = json_pack("{s:i}", "n", done);
            versions[done] = store_save_config(store, 1000 + done, doc);
            json_decref(doc);
            cr_assert_geq(versions[done], 1, "save %d", done);
            if (done > 0)
                cr_assert_gt(versions[done], versions[done - 1], "versions only grow");
        }
        config_rows(&count, &oldest);
        cr_expect_eq(count, rows[r].rows, "after %d saves: %lld rows", done, (long long)count);
        cr_expect_eq(oldest, versions[rows[r].oldest_index], "after %d saves", done);
        json_t *newest = store_load_config(store);
        cr_expect_eq(json_integer_value(json_object_get(newest, "n")), done - 1);
        json_decref(newest);
    }

    /* Never reused, not even after the reset. */
    cr_assert_eq(store_reset_config(store), 0);
    config_rows(&count, &oldest);
    cr_expect_eq(count, 0);
    json_t *doc = json_pack("{s:i}", "n", -1);
    cr_expect_gt(store_save_config(store, 5000, doc), versions[SAVES - 1]);
    json_decref(doc);
}

/* ---- the read-only connection of readers (GET /autoscaler/history) ---- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A raw connection holding the write lock, as the loop does mid-write. */
static sqlite3 *hold_write_lock(void)
{
    char path[512];
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/inferd.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void release_write_lock(sqlite3 *db)
{
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
}

Test(store, reader_opens_and_reads_while_the_write_lock_is_held)
{
    store_event_t e = event("r1", 100, "scale_up");
    add(&e);
    sqlite3 *locker = hold_write_lock();

    char err[512] = "";
    store_t *reader = NULL;
    double t0 = now_ms();
    int rc = store_open_reader(dir, &reader, err, sizeof(err));
    double took = now_ms() - t0;
    cr_assert_eq(rc, 0, "store_open_reader: %s", err);
    /* The writer's open migrates under BEGIN IMMEDIATE and would wait out
     * the busy timeout (1 s) here, then fail. */
    cr_expect_lt(took, 500.0, "the reader waited %.0f ms for the write lock", took);
    json_t *list = store_list_events(reader, 0, NULL, 10);
    cr_assert_not_null(list);
    cr_expect_eq(json_array_size(list), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")), "r1");
    json_decref(list);
    cr_expect_eq(store_count_events(reader, "scale_up", 0), 1);
    release_write_lock(locker);

    /* Read-only: writes fail, and the writer sees nothing new. */
    store_event_t w = event("through-reader", 200, "scale_up");
    cr_expect_eq(store_add_event(reader, &w), -1);
    json_t *doc = json_object();
    cr_expect_eq(store_save_config(reader, 1, doc), -1);
    json_decref(doc);
    store_close(reader);
    cr_expect_eq(store_count_events(store, NULL, 0), 1);
}

Test(store, the_writer_open_is_what_waits_for_the_lock)
{
    /* The contrast that makes readers use store_open_reader. */
    sqlite3 *locker = hold_write_lock();
    char err[512] = "";
    store_t *other = NULL;
    cr_expect_eq(store_open(dir, &other, err, sizeof(err)), -1);
    cr_expect(strstr(err, "lock") != NULL, "%s", err);
    release_write_lock(locker);
}

Test(store, reader_sees_what_the_writer_commits_after_it_opened)
{
    char err[512] = "";
    store_t *reader = NULL;
    cr_assert_eq(store_open_reader(dir, &reader, err, sizeof(err)), 0, "%s", err);
    store_event_t e = event("later", 100, "zero_scale");
    add(&e);
    cr_expect_eq(store_count_events(reader, "zero_scale", 0), 1);
    store_close(reader);
}

Test(store_open, reader_refuses_a_file_it_cannot_read_and_creates_none)
{
    char path[512], sql[64], err[512];
    sqlite3 *db;
    store_t *s;
    snprintf(path, sizeof(path), "%s/inferd.db", dir);

    /* No file: nothing is created (the writer's open does that). */
    err[0] = '\0';
    s = (store_t *)1;
    cr_expect_eq(store_open_reader(dir, &s, err, sizeof(err)), -1);
    cr_expect_null(s);
    cr_expect(strstr(err, path) != NULL, "%s", err);
    cr_expect_neq(access(path, F_OK), 0, "the reader created %s", path);

    /* Rows: the schema version the file has, what the message says. */
    const struct {
        int version;
        const char *says;
    } rows[] = {
        {0, "schema version is 0"},
        {store_schema_version() - 1, "the server's own connection migrates it"},
        {store_schema_version() + 1, "newer than this inferd understands"},
    };
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", rows[i].version);
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        err[0] = '\0';
        s = (store_t *)1;
        cr_expect_eq(store_open_reader(dir, &s, err, sizeof(err)), -1, "version %d",
                     rows[i].version);
        cr_expect_null(s);
        cr_expect(strstr(err, rows[i].says) != NULL, "version %d: %s", rows[i].version, err);
        cr_expect_eq(user_version(path), rows[i].version, "the reader left the file alone");
    }
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One insert runs on the event loop. The median is what the loop pays per
 * event; the maximum includes the WAL checkpoints (every ~1000 pages), the
 * only place where SQLite calls fsync in this mode. */
Test(store, add_event_cost)
{
    enum { N = 2000 };
    static double us[N];
    char id[32];
    double total = 0;
    json_t *metrics = json_pack("{s:f, s:f, s:i, s:f}", "concurrency", 3.2, "cpu_percent", 71.5,
                                "queue_length", 4, "p95_ms", 120.0);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "scale_%06d", i);
        store_event_t e = event(id, 1796320924.0 + i, i % 2 ? "scale_up" : "scale_down");
        e.trigger_metrics = metrics;
        double t0 = now_us();
        cr_assert_eq(store_add_event(store, &e), 0);
        us[i] = now_us() - t0;
        total += us[i];
    }
    json_decref(metrics);
    qsort(us, N, sizeof(us[0]), cmp_double);
    int slow = 0;
    while (slow < N && us[N - 1 - slow] > 1000.0)
        slow++;
    cr_log_info("store_add_event over %d inserts: mean %.1f us, median %.1f us, p99 %.1f us, "
                "max %.1f us, %d over 1 ms",
                N, total / N, us[N / 2], us[N * 99 / 100], us[N - 1], slow);
    fprintf(stderr,
            "store_add_event: mean %.1f us, median %.1f us, p99 %.1f us, max %.1f us, "
            "%d of %d over 1 ms\n",
            total / N, us[N / 2], us[N * 99 / 100], us[N - 1], slow, N);
    /* A bound with a wide margin, not a benchmark: a slow or sanitized run
     * still passes it. */
    cr_expect_lt(us[N / 2], 1000.0, "median insert %.1f us", us[N / 2]);
}

Test(store, close_pending_fails_what_a_previous_run_left_open)
{
    store_event_t open1 = event("p1", 10, "scale_up");
    open1.success = -1;
    open1.duration_seconds = NAN;
    store_event_t open2 = event("p2", 20, "cold_start");
    open2.success = -1;
    open2.duration_seconds = NAN;
    store_event_t done = event("p3", 30, "scale_down");
    add(&open1);
    add(&open2);
    add(&done);

    cr_expect_eq(store_close_pending(store, "server_restarted"), 2);
    json_t *list = store_list_events(store, 0, NULL, 10);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *ev = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(ev, "id"));
        if (strcmp(id, "p3") == 0) {
            cr_expect(json_is_true(json_object_get(ev, "success")), "a completed event is kept");
            continue;
        }
        cr_expect(json_is_false(json_object_get(ev, "success")), "%s is closed as failed", id);
        cr_expect_str_eq(
            json_string_value(json_object_get(json_object_get(ev, "details"), "failure_reason")),
            "server_restarted");
        cr_expect(json_is_null(json_object_get(ev, "duration_seconds")), "no made-up duration");
    }
    json_decref(list);
    cr_expect_eq(store_close_pending(store, "again"), 0, "nothing is left open");
}
