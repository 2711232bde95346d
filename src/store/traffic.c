/* traffic.c - the per-model, per-minute traffic table, and pruning.
 *
 * One row per model per minute: what the model received and how it was
 * provisioned, the raw material of GET /autoscaler/history's patterns and
 * recommendations (and of the forecaster). Writes are one transaction per
 * minute for all models, tens of microseconds; reads aggregate in SQL so
 * that a month of minutes comes back as at most 720 hourly rows.
 *
 * Statements here are prepared per call: the table is written once a minute
 * and read per history request, so caching them would save nothing that
 * matters.
 */
#include "store/internal.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MOD "store"

/* A second row for a (model, minute) is added to the first: counts and
 * integrals add up exactly; of two p95s only the larger is known to bound
 * the minute's. */
static const char insert_sql[] =
    "INSERT INTO traffic (model, minute, requests, errors, drops, p95_ms, replica_seconds, "
    "busy_replica_seconds, needed_replica_seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT (model, minute) DO UPDATE SET requests = requests + excluded.requests, "
    "errors = errors + excluded.errors, drops = drops + excluded.drops, "
    "p95_ms = max(coalesce(p95_ms, excluded.p95_ms), coalesce(excluded.p95_ms, p95_ms)), "
    "replica_seconds = replica_seconds + excluded.replica_seconds, "
    "busy_replica_seconds = busy_replica_seconds + excluded.busy_replica_seconds, "
    "needed_replica_seconds = needed_replica_seconds + excluded.needed_replica_seconds";

static sqlite3_stmt *prepare_once(store_t *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
        log_error(MOD, "cannot prepare a traffic statement: %s file=%s",
                  sqlite3_errmsg(store_db(s)), store_file_path(s));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static int bind_row(sqlite3_stmt *st, const store_traffic_row_t *r)
{
    int rc = sqlite3_bind_text(st, 1, r->model, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, r->minute);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)r->requests);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)r->errors);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, (sqlite3_int64)r->drops);
    if (rc == SQLITE_OK)
        rc = isfinite(r->p95_ms) ? sqlite3_bind_double(st, 6, r->p95_ms) : sqlite3_bind_null(st, 6);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(st, 7, r->replica_seconds);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(st, 8, r->busy_replica_seconds);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(st, 9, r->needed_replica_seconds);
    return rc;
}

static bool row_valid(const store_traffic_row_t *r)
{
    return r->model && r->model[0] && isfinite(r->replica_seconds) && r->replica_seconds >= 0 &&
           isfinite(r->busy_replica_seconds) && r->busy_replica_seconds >= 0 &&
           isfinite(r->needed_replica_seconds) && r->needed_replica_seconds >= 0;
}

int store_add_traffic(store_t *s, const store_traffic_row_t *rows, size_t n)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;

    if (!s || (n && !rows)) {
        log_error(MOD, "cannot add traffic: no store or no rows");
        return -1;
    }
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!row_valid(&rows[i])) {
            log_error(MOD, "refusing a traffic row without a model or with a negative integral");
            return -1;
        }
    db = store_db(s);
    st = prepare_once(s, insert_sql);
    if (!st)
        return -1;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (bind_row(st, &rows[i]) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
            goto fail;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_finalize(st);
    return 0;

fail:
    log_error(MOD, "cannot add traffic: %s file=%s", sqlite3_errmsg(db), store_file_path(s));
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(st);
    return -1;
}

/* The columns every aggregate below reads, in this order. */
#define SUMS                                                                                       \
    "count(*), sum(requests), sum(errors), sum(drops), sum(replica_seconds), "                     \
    "sum(busy_replica_seconds), sum(needed_replica_seconds)"

typedef struct sums {
    unsigned minutes;
    uint64_t requests, errors, drops;
    double replica_seconds, busy_replica_seconds, needed_replica_seconds;
} sums_t;

static void read_sums(sqlite3_stmt *st, int col, sums_t *out)
{
    out->minutes = (unsigned)sqlite3_column_int64(st, col);
    out->requests = (uint64_t)sqlite3_column_int64(st, col + 1);
    out->errors = (uint64_t)sqlite3_column_int64(st, col + 2);
    out->drops = (uint64_t)sqlite3_column_int64(st, col + 3);
    out->replica_seconds = sqlite3_column_double(st, col + 4);
    out->busy_replica_seconds = sqlite3_column_double(st, col + 5);
    out->needed_replica_seconds = sqlite3_column_double(st, col + 6);
}

int store_traffic_hours(store_t *s, int64_t since_minute, int64_t until_minute, const char *model,
                        store_traffic_hour_t **out, size_t *n)
{
    /* count(*) over one model counts its minutes; over all models the
     * distinct minutes are what say how long the server was up. */
    static const char sql[] =
        "SELECT minute / 60, count(DISTINCT minute), sum(requests), sum(errors), sum(drops), "
        "sum(replica_seconds), sum(busy_replica_seconds), sum(needed_replica_seconds) "
        "FROM traffic WHERE minute >= ?1 AND minute < ?2 AND (?3 IS NULL OR model = ?3) "
        "GROUP BY minute / 60 ORDER BY 1";
    size_t cap = 0, count = 0;
    store_traffic_hour_t *hours = NULL;
    sqlite3_stmt *st;
    int rc;

    *out = NULL;
    *n = 0;
    if (!s)
        return -1;
    st = prepare_once(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, since_minute);
    sqlite3_bind_int64(st, 2, until_minute);
    if (model)
        sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            hours = xrealloc(hours, cap * sizeof(*hours));
        }
        store_traffic_hour_t *h = &hours[count++];
        sums_t sum;
        read_sums(st, 1, &sum);
        h->hour = sqlite3_column_int64(st, 0);
        h->minutes = sum.minutes;
        h->requests = sum.requests;
        h->errors = sum.errors;
        h->drops = sum.drops;
        h->replica_seconds = sum.replica_seconds;
        h->busy_replica_seconds = sum.busy_replica_seconds;
        h->needed_replica_seconds = sum.needed_replica_seconds;
    }
    if (rc != SQLITE_DONE) {
        log_error(MOD, "cannot read traffic: %s file=%s", sqlite3_errmsg(store_db(s)),
                  store_file_path(s));
        sqlite3_finalize(st);
        free(hours);
        return -1;
    }
    sqlite3_finalize(st);
    *out = hours;
    *n = count;
    return 0;
}

int store_traffic_models(store_t *s, int64_t since_minute, int64_t until_minute,
                         store_traffic_model_t **out, size_t *n)
{
    static const char sql[] = "SELECT model, " SUMS " FROM traffic "
                              "WHERE minute >= ?1 AND minute < ?2 GROUP BY model ORDER BY model";
    size_t cap = 0, count = 0;
    store_traffic_model_t *models = NULL;
    sqlite3_stmt *st;
    int rc;

    *out = NULL;
    *n = 0;
    if (!s)
        return -1;
    st = prepare_once(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, since_minute);
    sqlite3_bind_int64(st, 2, until_minute);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            models = xrealloc(models, cap * sizeof(*models));
        }
        store_traffic_model_t *m = &models[count++];
        const unsigned char *name = sqlite3_column_text(st, 0);
        sums_t sum;
        snprintf(m->model, sizeof(m->model), "%s", name ? (const char *)name : "");
        read_sums(st, 1, &sum);
        m->minutes = sum.minutes;
        m->requests = sum.requests;
        m->errors = sum.errors;
        m->drops = sum.drops;
        m->replica_seconds = sum.replica_seconds;
        m->busy_replica_seconds = sum.busy_replica_seconds;
        m->needed_replica_seconds = sum.needed_replica_seconds;
    }
    if (rc != SQLITE_DONE) {
        log_error(MOD, "cannot read traffic: %s file=%s", sqlite3_errmsg(store_db(s)),
                  store_file_path(s));
        sqlite3_finalize(st);
        free(models);
        return -1;
    }
    sqlite3_finalize(st);
    *out = models;
    *n = count;
    return 0;
}

long store_traffic_each(store_t *s, const char *model, int64_t since_minute, int64_t until_minute,
                        void (*fn)(const store_traffic_row_t *row, void *ctx), void *ctx)
{
    static const char sql[] =
        "SELECT model, minute, requests, errors, drops, p95_ms, replica_seconds, "
        "busy_replica_seconds, needed_replica_seconds FROM traffic "
        "WHERE model = ?1 AND minute >= ?2 AND minute < ?3 ORDER BY minute";
    sqlite3_stmt *st;
    long count = 0;
    int rc;

    if (!s || !model || !fn)
        return -1;
    st = prepare_once(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since_minute);
    sqlite3_bind_int64(st, 3, until_minute);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_traffic_row_t row = {
            .model = (const char *)sqlite3_column_text(st, 0),
            .minute = sqlite3_column_int64(st, 1),
            .requests = (uint64_t)sqlite3_column_int64(st, 2),
            .errors = (uint64_t)sqlite3_column_int64(st, 3),
            .drops = (uint64_t)sqlite3_column_int64(st, 4),
            .p95_ms =
                sqlite3_column_type(st, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 5),
            .replica_seconds = sqlite3_column_double(st, 6),
            .busy_replica_seconds = sqlite3_column_double(st, 7),
            .needed_replica_seconds = sqlite3_column_double(st, 8),
        };
        fn(&row, ctx);
        count++;
    }
    if (rc != SQLITE_DONE) {
        log_error(MOD, "cannot read traffic: %s file=%s", sqlite3_errmsg(store_db(s)),
                  store_file_path(s));
        count = -1;
    }
    sqlite3_finalize(st);
    return count;
}

/* Deletes up to batch rows per statement until none are left. Each DELETE
 * is its own transaction: between two, a writer on the loop's connection
 * gets the lock. */
static long prune_table(store_t *s, const char *sql, double before, int batch)
{
    sqlite3_stmt *st = prepare_once(s, sql);
    long total = 0;
    int changed;

    if (!st)
        return -1;
    do {
        sqlite3_bind_double(st, 1, before);
        sqlite3_bind_int(st, 2, batch);
        if (sqlite3_step(st) != SQLITE_DONE) {
            log_error(MOD, "cannot prune: %s file=%s", sqlite3_errmsg(store_db(s)),
                      store_file_path(s));
            sqlite3_finalize(st);
            return -1;
        }
        changed = sqlite3_changes(store_db(s));
        total += changed;
        sqlite3_reset(st);
    } while (changed >= batch);
    sqlite3_finalize(st);
    return total;
}

long store_prune(store_t *s, double before_unix, int batch)
{
    long traffic, events;

    if (!s || !isfinite(before_unix) || batch < 1)
        return -1;
    traffic = prune_table(s,
                          "DELETE FROM traffic WHERE (model, minute) IN (SELECT model, minute "
                          "FROM traffic WHERE minute < ?1 / 60 LIMIT ?2)",
                          before_unix, batch);
    if (traffic < 0)
        return -1;
    events = prune_table(
        s, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ?1 LIMIT ?2)",
        before_unix, batch);
    if (events < 0)
        return -1;
    return traffic + events;
}
