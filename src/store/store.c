/* store.c - the event store: one SQLite file, inferd.db, in the data directory.
 *
 * WAL with synchronous=NORMAL: a commit appends to the WAL with write(2) and
 * no fsync, so it survives kill -9 of the server (the kernel holds the pages)
 * and costs tens of microseconds, cheap enough for the event loop. fsync
 * happens only at checkpoints (every 1000 WAL pages, SQLite's default), so a
 * power cut may lose the last commits but never corrupts the file.
 *
 * The schema grows by migrations: migrations[i] takes a file from version i
 * to i + 1 (kept in PRAGMA user_version). Opening applies the missing ones in
 * order inside one transaction, and refuses a file written by a newer inferd
 * rather than misreading it. Append migrations; never edit a released one.
 *
 * Statements are prepared once, at open (the "type IN (?, ...)" lists on
 * first use, one per list length), and reset after every use. One
 * connection, used from the loop: not thread-safe.
 */
#include "store/internal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MOD "store"

#define DB_NAME         "inferd.db"
#define BUSY_TIMEOUT_MS 1000
/* "type IN" lists up to this length keep their statement; longer ones (no
 * caller has a reason to send them) are prepared and dropped per call. */
#define CACHED_TYPE_LISTS 16

static const char *const migrations[] = {
    /* 1: scaling events. "trigger" is an SQL keyword, hence the quotes. */
    "CREATE TABLE events ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  ts REAL NOT NULL,"
    "  type TEXT NOT NULL,"
    "  \"trigger\" TEXT,"
    "  model TEXT,"
    "  previous_scale INTEGER NOT NULL,"
    "  target_scale INTEGER NOT NULL,"
    "  actual_scale INTEGER NOT NULL,"
    "  duration_seconds REAL,"
    "  success INTEGER CHECK (success IN (0, 1)),"
    "  trigger_metrics TEXT,"
    "  outcome_metrics TEXT,"
    "  details TEXT);"
    "CREATE INDEX events_ts ON events(ts);"
    "CREATE INDEX events_type_ts ON events(type, ts);",
    /* 2: the live autoscaler configuration, one row per accepted change. */
    "CREATE TABLE config ("
    "  version INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  ts REAL NOT NULL,"
    "  doc TEXT NOT NULL);",
    /* 3: traffic per model per minute (store/traffic.c). Replica-seconds
     * rather than means, so that two partial rows of one minute (a restart
     * within it) add up. */
    "CREATE TABLE traffic ("
    "  model TEXT NOT NULL,"
    "  minute INTEGER NOT NULL,"
    "  requests INTEGER NOT NULL,"
    "  errors INTEGER NOT NULL,"
    "  drops INTEGER NOT NULL,"
    "  p95_ms REAL,"
    "  replica_seconds REAL NOT NULL,"
    "  busy_replica_seconds REAL NOT NULL,"
    "  needed_replica_seconds REAL NOT NULL,"
    "  PRIMARY KEY (model, minute)) WITHOUT ROWID;"
    "CREATE INDEX traffic_minute ON traffic(minute);",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define EVENT_COLUMNS                                                                              \
    "id, ts, type, \"trigger\", model, previous_scale, target_scale, actual_scale, "               \
    "duration_seconds, success, trigger_metrics, outcome_metrics, details"
enum {
    COL_ID,
    COL_TS,
    COL_TYPE,
    COL_TRIGGER,
    COL_MODEL,
    COL_PREVIOUS,
    COL_TARGET,
    COL_ACTUAL,
    COL_DURATION,
    COL_SUCCESS,
    COL_TRIGGER_METRICS,
    COL_OUTCOME_METRICS,
    COL_DETAILS,
};

/* Mean over completed, successful events; pending ones have no duration. */
#define MEAN_SQL                                                                                   \
    "SELECT avg(duration_seconds) FROM events WHERE ts >= ?1 AND success = 1 "                     \
    "AND duration_seconds IS NOT NULL"

/* The newest first; rowid breaks ties of equal time in insertion order. */
#define LIST_ORDER " ORDER BY ts DESC, rowid DESC LIMIT ?2"

struct store {
    sqlite3 *db;
    char *path;
    char *data_dir;
    sqlite3_stmt *insert;
    sqlite3_stmt *finish;
    sqlite3_stmt *set_outcome;
    sqlite3_stmt *count_any;
    sqlite3_stmt *count_type;
    sqlite3_stmt *mean_any;
    sqlite3_stmt *mean_type;
    sqlite3_stmt *get_one;
    /* list[n]: events of any of n types (bound from ?3); list[0]: any type. */
    sqlite3_stmt *list[CACHED_TYPE_LISTS + 1];
    size_t n_observers;
    struct {
        store_event_observer_fn fn;
        void *ctx;
    } observers[STORE_MAX_OBSERVERS];
};

static void notify_observers(store_t *s, const char *id, store_event_phase_t phase);

int store_schema_version(void)
{
    return N_MIGRATIONS;
}

sqlite3 *store_db(store_t *s)
{
    return s->db;
}

const char *store_data_dir(const store_t *s)
{
    return s->data_dir;
}

const char *store_file_path(const store_t *s)
{
    return s->path;
}

/* Clears a statement for its next use. The error of a failed step was
 * already reported by the step itself, so reset's return is not. */
static void release(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int prepare(store_t *s, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
        log_error(MOD, "cannot prepare statement: %s file=%s", sqlite3_errmsg(s->db), s->path);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* NAN (pending, unknown) is stored as NULL. */
static int bind_real_or_null(sqlite3_stmt *st, int i, double v)
{
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

/* Serialises an object for a TEXT column: NULL stays NULL. The caller frees
 * *out. Returns -1 (logged) for a value that is not an object. */
static int encode_object(const json_t *v, const char *what, const char *id, char **out)
{
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_object(v)) {
        log_error(MOD, "%s must be a JSON object or NULL id=%s", what, id);
        return -1;
    }
    *out = json_dumps(v, JSON_COMPACT);
    if (!*out) {
        log_error(MOD, "cannot serialise %s id=%s", what, id);
        return -1;
    }
    return 0;
}

/* Runs a write statement whose values are bound. Returns 0, or -1 logged
 * with the SQLite message. Leaves the statement reset either way. */
static int step_write(store_t *s, sqlite3_stmt *st, const char *what, const char *id)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        log_error(MOD, "cannot %s: %s id=%s file=%s", what, sqlite3_errmsg(s->db), id, s->path);
        release(st);
        return -1;
    }
    release(st);
    return 0;
}

int store_add_event(store_t *s, const store_event_t *e)
{
    char *trigger_metrics = NULL, *outcome_metrics = NULL, *details = NULL;
    sqlite3_stmt *st;
    int rc, ret = -1;

    if (!s || !e) {
        log_error(MOD, "cannot insert event: no store or no event");
        return -1;
    }
    st = s->insert;
    if (!e->id || !e->type || !isfinite(e->timestamp) || e->success < -1 || e->success > 1) {
        log_error(MOD, "refusing event without id, type, a finite time or a valid success id=%s",
                  e->id ? e->id : "(none)");
        return -1;
    }
    if (encode_object(e->trigger_metrics, "trigger_metrics", e->id, &trigger_metrics) < 0 ||
        encode_object(e->outcome_metrics, "outcome_metrics", e->id, &outcome_metrics) < 0 ||
        encode_object(e->details, "details", e->id, &details) < 0)
        goto fail;

    rc = sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(st, 2, e->timestamp);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, e->type, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 4, e->trigger);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 5, e->model);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 6, e->previous_scale);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 7, e->target_scale);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 8, e->actual_scale);
    if (rc == SQLITE_OK)
        rc = bind_real_or_null(st, 9, e->duration_seconds);
    if (rc == SQLITE_OK)
        rc = e->success < 0 ? sqlite3_bind_null(st, 10) : sqlite3_bind_int(st, 10, e->success);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 11, trigger_metrics);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 12, outcome_metrics);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 13, details);
    if (rc != SQLITE_OK) {
        log_error(MOD, "cannot bind event: %s id=%s", sqlite3_errstr(rc), e->id);
        release(st);
        goto fail;
    }
    /* step_write clears the bindings, so the strings may go after it. */
    if (step_write(s, st, "insert event", e->id) < 0)
        goto fail;
    ret = 0;
    notify_observers(s, e->id, STORE_EVENT_RECORDED);

fail:
    free(trigger_metrics);
    free(outcome_metrics);
    free(details);
    return ret;
}

/* An UPDATE by id: -1 (logged) when no row has that id. */
static int check_updated(store_t *s, const char *what, const char *id)
{
    if (sqlite3_changes(s->db) == 0) {
        log_warn(MOD, "cannot %s: no such event id=%s", what, id);
        return -1;
    }
    return 0;
}

int store_finish_event(store_t *s, const char *id, int actual_scale, double duration_seconds,
                       bool success, const json_t *details)
{
    sqlite3_stmt *st;
    char *text = NULL;
    int rc, ret = -1;

    if (!s || !id) {
        log_error(MOD, "cannot finish event: no store or no id");
        return -1;
    }
    st = s->finish;
    if (encode_object(details, "details", id, &text) < 0)
        goto fail;
    rc = sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, actual_scale);
    if (rc == SQLITE_OK)
        rc = bind_real_or_null(st, 3, duration_seconds);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 4, success ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 5, text);
    if (rc != SQLITE_OK) {
        log_error(MOD, "cannot bind event: %s id=%s", sqlite3_errstr(rc), id);
        release(st);
        goto fail;
    }
    if (step_write(s, st, "finish event", id) < 0 || check_updated(s, "finish event", id) < 0)
        goto fail;
    ret = 0;
    notify_observers(s, id, STORE_EVENT_FINISHED);

fail:
    free(text);
    return ret;
}

int store_set_outcome(store_t *s, const char *id, const json_t *outcome_metrics)
{
    sqlite3_stmt *st;
    char *text = NULL;
    int rc, ret = -1;

    if (!s || !id) {
        log_error(MOD, "cannot set outcome: no store or no id");
        return -1;
    }
    st = s->set_outcome;
    if (encode_object(outcome_metrics, "outcome_metrics", id, &text) < 0)
        goto fail;
    rc = sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_text(st, 2, text);
    if (rc != SQLITE_OK) {
        log_error(MOD, "cannot bind outcome: %s id=%s", sqlite3_errstr(rc), id);
        release(st);
        goto fail;
    }
    if (step_write(s, st, "set outcome", id) < 0 || check_updated(s, "set outcome", id) < 0)
        goto fail;
    ret = 0;

fail:
    free(text);
    return ret;
}

/* The statement selecting events since ?1, at most ?2, of the n types bound
 * from ?3 on (any type when n is 0). Sets *owned when the caller must
 * finalize it (lists longer than the cache). NULL on error (logged). */
static sqlite3_stmt *list_statement(store_t *s, size_t n, bool *owned)
{
    buf_t sql = BUF_INIT;
    sqlite3_stmt *st = NULL;

    *owned = n > CACHED_TYPE_LISTS;
    if (!*owned && s->list[n])
        return s->list[n];

    /* Only placeholders are written into the text; the values are bound.
     * They are numbered: a bare "?" would take 2, which LIMIT holds. */
    buf_append_str(&sql, "SELECT " EVENT_COLUMNS " FROM events WHERE ts >= ?1");
    for (size_t i = 0; i < n; i++)
        buf_appendf(&sql, "%s?%zu", i == 0 ? " AND type IN (" : ", ", i + 3);
    buf_append_str(&sql, n ? ")" LIST_ORDER : LIST_ORDER);
    buf_append(&sql, "", 1);
    if (*owned) {
        if (sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
            log_error(MOD, "cannot prepare statement: %s file=%s", sqlite3_errmsg(s->db), s->path);
            st = NULL;
        }
    } else if (prepare(s, sql.data, &s->list[n]) == 0) {
        st = s->list[n];
    }
    buf_free(&sql);
    return st;
}

static size_t count_types(const char *const *types)
{
    size_t n = 0;
    while (types[n])
        n++;
    return n;
}

/* Binds since, limit and the types into a list statement. */
static int bind_list(sqlite3_stmt *st, double since, int limit, const char *const *types, size_t n)
{
    int rc = sqlite3_bind_double(st, 1, since);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, limit);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
        rc = sqlite3_bind_text(st, 3 + (int)i, types[i], -1, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        log_error(MOD, "cannot bind event query: %s", sqlite3_errstr(rc));
    return rc == SQLITE_OK ? 0 : -1;
}

static void end_list(sqlite3_stmt *st, bool owned)
{
    if (owned)
        sqlite3_finalize(st);
    else
        release(st);
}

static const char *column_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

/* A JSON column as a new reference: null for NULL, and for text that does
 * not parse (logged; the rest of the event is still worth showing). */
static json_t *column_json(sqlite3_stmt *st, int col, const char *id)
{
    const char *text = column_text(st, col);
    json_error_t jerr;
    json_t *v;

    if (!text)
        return json_null();
    v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v) {
        log_warn(MOD, "stored %s is not JSON: %s id=%s", sqlite3_column_name(st, col), jerr.text,
                 id);
        return json_null();
    }
    return v;
}

/* "2026-12-03T18:02:04Z" (whole seconds, UTC), or NULL when ts is out of
 * gmtime's range. */
static const char *format_utc(double ts, char *out, size_t len)
{
    char iso[TIME_ISO_LEN];
    if (time_format_iso(ts, iso) < 0)
        return NULL;
    snprintf(out, len, "%s", iso);
    return out;
}

/* The current row as an event object, or NULL (logged) when it cannot be
 * represented, for instance a string that is not UTF-8. */
static json_t *row_to_event(sqlite3_stmt *st)
{
    const char *id = column_text(st, COL_ID), *model = column_text(st, COL_MODEL);
    double ts = sqlite3_column_double(st, COL_TS);
    json_t *trigger_metrics, *outcome_metrics, *details, *duration, *success, *affected;
    json_t *ev;
    json_error_t jerr;
    char iso[32];

    trigger_metrics = column_json(st, COL_TRIGGER_METRICS, id);
    outcome_metrics = column_json(st, COL_OUTCOME_METRICS, id);
    details = column_json(st, COL_DETAILS, id);
    duration = sqlite3_column_type(st, COL_DURATION) == SQLITE_NULL
                   ? json_null()
                   : json_real(sqlite3_column_double(st, COL_DURATION));
    success = sqlite3_column_type(st, COL_SUCCESS) == SQLITE_NULL
                  ? json_null()
                  : json_boolean(sqlite3_column_int(st, COL_SUCCESS) != 0);
    affected = model ? json_pack("[s]", model) : json_array();

    /* "O" takes a reference of its own, so the locals have one owner: us. */
    ev = json_pack_ex(
        &jerr, 0,
        "{s:s?, s:s?, s:f, s:s?, s:s?, s:s?, s:O?, s:i, s:i, s:i,"
        " s:O?, s:O?, s:O?, s:O?, s:O?}",
        "id", id, "timestamp", format_utc(ts, iso, sizeof(iso)), "timestamp_unix", ts, "type",
        column_text(st, COL_TYPE), "trigger", column_text(st, COL_TRIGGER), "model", model,
        "models_affected", affected, "previous_scale", sqlite3_column_int(st, COL_PREVIOUS),
        "target_scale", sqlite3_column_int(st, COL_TARGET), "actual_scale",
        sqlite3_column_int(st, COL_ACTUAL), "duration_seconds", duration, "success", success,
        "trigger_metrics", trigger_metrics, "outcome_metrics", outcome_metrics, "details", details);
    /* A model that is not UTF-8 fails "[s]" and the pack alike. */
    if (!ev)
        log_warn(MOD, "skipping event that cannot be shown as JSON: %s id=%s", jerr.text,
                 id ? id : "(null)");
    json_decref(trigger_metrics);
    json_decref(outcome_metrics);
    json_decref(details);
    json_decref(duration);
    json_decref(success);
    json_decref(affected);
    return ev;
}

json_t *store_list_events(store_t *s, double since, const char *const *types, int limit)
{
    size_t n = types ? count_types(types) : 0;
    sqlite3_stmt *st = NULL;
    json_t *out = json_array();
    bool owned = false;
    int rc;

    if (!s) {
        log_error(MOD, "cannot list events: no store");
        goto fail;
    }
    /* An empty list keeps no type. */
    if (types && n == 0)
        return out;
    st = list_statement(s, n, &owned);
    if (!st || bind_list(st, since, limit, types, n) < 0)
        goto fail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *ev = row_to_event(st);
        if (ev)
            json_array_append_new(out, ev);
    }
    if (rc != SQLITE_DONE) {
        log_error(MOD, "cannot list events: %s file=%s", sqlite3_errmsg(s->db), s->path);
        goto fail;
    }
    end_list(st, owned);
    return out;

fail:
    if (st)
        end_list(st, owned);
    json_decref(out);
    return NULL;
}

int store_add_event_observer(store_t *s, store_event_observer_fn fn, void *ctx)
{
    if (!s || !fn || s->n_observers >= STORE_MAX_OBSERVERS)
        return -1;
    s->observers[s->n_observers].fn = fn;
    s->observers[s->n_observers].ctx = ctx;
    s->n_observers++;
    return 0;
}

/* Reads the event back, so observers see exactly what was stored (the
 * merged details, the JSON columns as objects). */
static void notify_observers(store_t *s, const char *id, store_event_phase_t phase)
{
    if (s->n_observers == 0)
        return;
    sqlite3_stmt *st = s->get_one;
    json_t *event = NULL;
    if (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        event = row_to_event(st);
    release(st);
    if (!event) {
        log_warn(MOD, "cannot read back event for its observers id=%s", id);
        return;
    }
    for (size_t i = 0; i < s->n_observers; i++)
        s->observers[i].fn(event, phase, s->observers[i].ctx);
    json_decref(event);
}

int store_last_event(store_t *s, const char *const *types, double *timestamp, char *type,
                     size_t type_len)
{
    size_t n = types ? count_types(types) : 0;
    sqlite3_stmt *st = NULL;
    bool owned = false;
    int rc, found = 0;

    if (!s) {
        log_error(MOD, "cannot read last event: no store");
        return -1;
    }
    if (types && n == 0)
        return 0;
    st = list_statement(s, n, &owned);
    if (!st || bind_list(st, -DBL_MAX, 1, types, n) < 0)
        goto fail;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *t = column_text(st, COL_TYPE);
        if (timestamp)
            *timestamp = sqlite3_column_double(st, COL_TS);
        if (type && type_len > 0)
            snprintf(type, type_len, "%s", t ? t : "");
        found = 1;
    } else if (rc != SQLITE_DONE) {
        log_error(MOD, "cannot read last event: %s file=%s", sqlite3_errmsg(s->db), s->path);
        goto fail;
    }
    end_list(st, owned);
    return found;

fail:
    if (st)
        end_list(st, owned);
    return -1;
}

/* Runs a one-row aggregate over events since `since` of `type` (any when
 * NULL); returns the SQLite step result with the row ready to read. */
static int step_aggregate(sqlite3_stmt *any, sqlite3_stmt *typed, const char *type, double since,
                          sqlite3_stmt **out)
{
    sqlite3_stmt *st = type ? typed : any;
    int rc = sqlite3_bind_double(st, 1, since);
    if (rc == SQLITE_OK && type)
        rc = sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    *out = st;
    return rc;
}

long store_count_events(store_t *s, const char *type, double since)
{
    sqlite3_stmt *st;
    long n;

    if (!s) {
        log_error(MOD, "cannot count events: no store");
        return -1;
    }
    if (step_aggregate(s->count_any, s->count_type, type, since, &st) != SQLITE_ROW) {
        log_error(MOD, "cannot count events: %s type=%s", sqlite3_errmsg(s->db),
                  type ? type : "(any)");
        release(st);
        return -1;
    }
    n = (long)sqlite3_column_int64(st, 0);
    release(st);
    return n;
}

double store_mean_duration(store_t *s, const char *type, double since)
{
    sqlite3_stmt *st;
    double mean;

    if (!s) {
        log_error(MOD, "cannot average durations: no store");
        return -1.0;
    }
    if (step_aggregate(s->mean_any, s->mean_type, type, since, &st) != SQLITE_ROW) {
        log_error(MOD, "cannot average durations: %s type=%s", sqlite3_errmsg(s->db),
                  type ? type : "(any)");
        release(st);
        return -1.0;
    }
    /* AVG over no rows is NULL. */
    mean = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
    release(st);
    return mean;
}

/* PRAGMA user_version of the open file, or -1. */
static int read_user_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int version = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return version;
}

/* Runs statements that return no rows of interest; on failure writes
 * "cannot WHAT PATH: reason" into err. */
static int exec_or_explain(store_t *s, const char *sql, const char *what, char *err, size_t errlen)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot %s %s: %s", what, s->path, sqlite3_errmsg(s->db));
        return -1;
    }
    return 0;
}

/* Brings the schema to N_MIGRATIONS. IMMEDIATE takes the write lock before
 * the version is read, so two processes opening one new file cannot both
 * run a migration. */
static int migrate(store_t *s, char *err, size_t errlen)
{
    char sql[64];
    int version;

    if (exec_or_explain(s, "BEGIN IMMEDIATE", "lock", err, errlen) < 0)
        return -1;
    version = read_user_version(s->db);
    if (version < 0) {
        snprintf(err, errlen, "cannot read the schema version of %s: %s", s->path,
                 sqlite3_errmsg(s->db));
        goto fail;
    }
    if (version > N_MIGRATIONS) {
        snprintf(err, errlen,
                 "%s has schema version %d, newer than this inferd understands (%d); use a newer "
                 "inferd or another data directory",
                 s->path, version, N_MIGRATIONS);
        goto fail;
    }
    for (int v = version; v < N_MIGRATIONS; v++) {
        if (exec_or_explain(s, migrations[v], "migrate the schema of", err, errlen) < 0)
            goto fail;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
        if (exec_or_explain(s, sql, "set the schema version of", err, errlen) < 0)
            goto fail;
    }
    if (exec_or_explain(s, "COMMIT", "commit the schema of", err, errlen) < 0)
        goto fail;
    if (version < N_MIGRATIONS)
        log_info(MOD, "schema migrated file=%s from=%d to=%d", s->path, version, N_MIGRATIONS);
    return 0;

fail:
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* The directory must exist and take new files (the WAL and its index live
 * next to the database). */
static int check_directory(const char *dir, const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (stat(dir, &st) < 0) {
        snprintf(err, errlen, "cannot open %s: data directory %s %s", path, dir,
                 errno == ENOENT ? "does not exist (create it first)" : strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot open %s: %s is not a directory", path, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        snprintf(err, errlen, "cannot open %s: data directory %s is not writable (%s)", path, dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int prepare_all(store_t *s, char *err, size_t errlen)
{
    const struct {
        const char *sql;
        sqlite3_stmt **st;
    } all[] = {
        {"INSERT INTO events (" EVENT_COLUMNS ") "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
         &s->insert},
        /* details given at completion are merged into those given at the
         * start (RFC 7396 merge patch), so the reason survives a failure. */
        {"UPDATE events SET actual_scale = ?2, duration_seconds = ?3, success = ?4, "
         "details = CASE WHEN ?5 IS NULL THEN details WHEN details IS NULL THEN ?5 "
         "ELSE json_patch(details, ?5) END WHERE id = ?1",
         &s->finish},
        {"UPDATE events SET outcome_metrics = ?2 WHERE id = ?1", &s->set_outcome},
        {"SELECT " EVENT_COLUMNS " FROM events WHERE id = ?1", &s->get_one},
        {"SELECT count(*) FROM events WHERE ts >= ?1", &s->count_any},
        {"SELECT count(*) FROM events WHERE type = ?2 AND ts >= ?1", &s->count_type},
        {MEAN_SQL, &s->mean_any},
        {MEAN_SQL " AND type = ?2", &s->mean_type},
    };
    bool owned;

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (prepare(s, all[i].sql, all[i].st) < 0)
            goto fail;
    if (list_statement(s, 0, &owned))
        return 0;
fail:
    snprintf(err, errlen, "cannot prepare statements for %s: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}

/* The connection of store_open or store_open_reader: the path, the file
 * opened with flags, extended codes and the busy timeout. */
static int open_connection(const char *data_dir, int flags, store_t **out, char *err, size_t errlen)
{
    store_t *s = NULL;
    buf_t path = BUF_INIT;
    int rc;

    *out = NULL;
    if (!data_dir || !data_dir[0]) {
        snprintf(err, errlen, "cannot open %s: no data directory given", DB_NAME);
        goto fail;
    }
    buf_appendf(&path, "%s%s" DB_NAME, data_dir, data_dir[strlen(data_dir) - 1] == '/' ? "" : "/");
    if (check_directory(data_dir, path.data, err, errlen) < 0)
        goto fail;

    s = xcalloc(1, sizeof(*s));
    s->path = buf_steal(&path, NULL);
    s->data_dir = xstrdup(data_dir);
    rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", s->path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    *out = s;
    return 0;

fail:
    buf_free(&path);
    store_close(s);
    return -1;
}

int store_open(const char *data_dir, store_t **out, char *err, size_t errlen)
{
    store_t *s = NULL;
    sqlite3_stmt *st = NULL;
    const char *mode;

    *out = NULL;
    if (open_connection(data_dir, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &s, err, errlen) < 0)
        goto fail;
    /* A file the OS will not let us write opens read-only without a word;
     * better to say so now than at the first event. */
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        snprintf(err, errlen, "cannot open %s: the file is read-only", s->path);
        goto fail;
    }

    /* journal_mode answers with the mode in force: a file system without
     * shared memory (some network mounts) keeps the old one. */
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, errlen, "cannot open %s: %s", s->path, sqlite3_errmsg(s->db));
        goto fail;
    }
    mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        snprintf(err, errlen, "cannot use write-ahead logging for %s (journal mode stays %s)",
                 s->path, mode ? mode : "unknown");
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (exec_or_explain(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "configure",
                        err, errlen) < 0 ||
        migrate(s, err, errlen) < 0)
        goto fail;
    if (prepare_all(s, err, errlen) < 0)
        goto fail;
    *out = s;
    return 0;

fail:
    log_error(MOD, "%s", err);
    sqlite3_finalize(st);
    store_close(s);
    return -1;
}

int store_open_reader(const char *data_dir, store_t **out, char *err, size_t errlen)
{
    store_t *s = NULL;
    int version;

    *out = NULL;
    if (open_connection(data_dir, SQLITE_OPEN_READONLY, &s, err, errlen) < 0)
        goto fail;
    /* No migration (it takes the write lock): the schema must be the one
     * the writer of this build left. The file is WAL already, which the
     * writer set for good; a reader has no say in it. */
    version = read_user_version(s->db);
    if (version != N_MIGRATIONS) {
        if (version < 0)
            snprintf(err, errlen, "cannot read the schema version of %s: %s", s->path,
                     sqlite3_errmsg(s->db));
        else if (version > N_MIGRATIONS)
            snprintf(err, errlen,
                     "%s has schema version %d, newer than this inferd understands (%d)", s->path,
                     version, N_MIGRATIONS);
        else
            snprintf(err, errlen,
                     "cannot read %s: its schema version is %d, this inferd reads %d (the "
                     "server's own connection migrates it when it opens)",
                     s->path, version, N_MIGRATIONS);
        goto fail;
    }
    if (prepare_all(s, err, errlen) < 0)
        goto fail;
    *out = s;
    return 0;

fail:
    log_error(MOD, "%s", err);
    store_close(s);
    return -1;
}

void store_close(store_t *s)
{
    if (!s)
        return;
    sqlite3_finalize(s->insert);
    sqlite3_finalize(s->finish);
    sqlite3_finalize(s->set_outcome);
    sqlite3_finalize(s->get_one);
    sqlite3_finalize(s->count_any);
    sqlite3_finalize(s->count_type);
    sqlite3_finalize(s->mean_any);
    sqlite3_finalize(s->mean_type);
    for (size_t i = 0; i <= CACHED_TYPE_LISTS; i++)
        sqlite3_finalize(s->list[i]);
    /* Closing the last connection checkpoints and removes the WAL. */
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        log_error(MOD, "cannot close %s: %s", s->path, sqlite3_errmsg(s->db));
    free(s->path);
    free(s->data_dir);
    free(s);
}

int store_close_pending(store_t *s, const char *reason)
{
    /* Events a previous run left open (it stopped or was killed before the
     * change completed) are closed as failed, so that no event stays
     * pending forever and durations stay honest (unknown, not made up). */
    static const char sql[] =
        "UPDATE events SET success = 0, details = json_patch(coalesce(details, '{}'), "
        "json_object('failure_reason', ?1)) WHERE success IS NULL";
    sqlite3_stmt *st = NULL;
    if (!s)
        return -1;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, reason, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int changed = rc == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
    if (rc != SQLITE_DONE)
        log_error(MOD, "cannot close pending events: %s", sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    return changed;
}

/* Saving a version and forgetting the oldest are one transaction: a
 * crash between them can neither lose the new version nor keep more than
 * STORE_CONFIG_VERSIONS. Versions are AUTOINCREMENT, so the newest are the
 * largest even after deletions. */
int64_t store_save_config(store_t *s, double timestamp, const json_t *doc)
{
    static const char insert_sql[] = "INSERT INTO config (ts, doc) VALUES (?1, ?2)";
    static const char prune_sql[] = "DELETE FROM config WHERE version NOT IN "
                                    "(SELECT version FROM config ORDER BY version DESC LIMIT ?1)";
    sqlite3_stmt *insert = NULL, *prune = NULL;
    int64_t version = -1;
    char *text = NULL;
    int rc;

    if (!s || !json_is_object(doc))
        return -1;
    text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        log_error(MOD, "cannot save the configuration: out of memory");
        return -1;
    }
    rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, insert_sql, -1, &insert, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(insert, 1, timestamp);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(insert, 2, text, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(insert) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    if (rc != SQLITE_OK)
        goto fail;
    version = (int64_t)sqlite3_last_insert_rowid(s->db);
    rc = sqlite3_prepare_v2(s->db, prune_sql, -1, &prune, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(prune, 1, STORE_CONFIG_VERSIONS);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(prune) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_finalize(insert);
    sqlite3_finalize(prune);
    free(text);
    return version;

fail:
    log_error(MOD, "cannot save the configuration: %s file=%s", sqlite3_errmsg(s->db), s->path);
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(insert);
    sqlite3_finalize(prune);
    free(text);
    return -1;
}

json_t *store_load_config(store_t *s)
{
    static const char sql[] = "SELECT doc FROM config ORDER BY version DESC LIMIT 1";
    sqlite3_stmt *st = NULL;
    json_t *doc = NULL;
    if (!s || sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error(MOD, "cannot read the configuration: %s", s ? sqlite3_errmsg(s->db) : "no store");
        return NULL;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        doc = text ? json_loads(text, 0, NULL) : NULL;
        if (!doc)
            log_warn(MOD, "stored configuration does not parse; ignoring it");
    }
    sqlite3_finalize(st);
    return doc;
}

int store_reset_config(store_t *s)
{
    if (!s)
        return -1;
    char *errmsg = NULL;
    if (sqlite3_exec(s->db, "DELETE FROM config", NULL, NULL, &errmsg) != SQLITE_OK) {
        log_error(MOD, "cannot reset the configuration: %s", errmsg ? errmsg : "?");
        sqlite3_free(errmsg);
        return -1;
    }
    return 0;
}
