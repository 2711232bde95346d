/* dispatch.c - owns the pools and the state they share (loop, worker
 * binary, replica id counter). A linear search by name is right here:
 * a server runs tens of models, not thousands. */
#include "dispatch/dispatch.h"
#include "util/xalloc.h"

#include <stdlib.h>

/* How long a drained replica has to exit after SHUTDOWN before SIGKILL. */
#define DRAIN_GRACE_MS 10000
#include <string.h>

struct dispatch {
    pool_env_t env;
    unsigned next_replica_id;
    char *worker_exe;
    char *log_level;
    pool_t **pools;
    int *initial_replicas;
    size_t n_pools;
    size_t stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
};

dispatch_t *dispatch_new(uv_loop_t *loop, const inferd_config_t *cfg, const char *worker_exe,
                         const char *log_level)
{
    dispatch_t *d = xcalloc(1, sizeof(*d));
    d->worker_exe = xstrdup(worker_exe);
    d->log_level = xstrdup(log_level);
    d->env = (pool_env_t){
        .loop = loop,
        .worker_exe = d->worker_exe,
        .log_level = d->log_level,
        .ping_interval_ms = cfg->server.health_check_interval_ms,
        .drain_grace_ms = DRAIN_GRACE_MS,
        .next_replica_id = &d->next_replica_id,
    };
    d->n_pools = cfg->n_models;
    d->pools = xcalloc(cfg->n_models, sizeof(pool_t *));
    d->initial_replicas = xcalloc(cfg->n_models, sizeof(int));
    for (size_t i = 0; i < cfg->n_models; i++) {
        d->pools[i] = pool_new(&d->env, &cfg->models[i]);
        d->initial_replicas[i] = config_initial_replicas(cfg, &cfg->models[i]);
    }
    return d;
}

void dispatch_start(dispatch_t *d)
{
    for (size_t i = 0; i < d->n_pools; i++)
        pool_resize(d->pools[i], d->initial_replicas[i]);
}

pool_t *dispatch_find_pool(dispatch_t *d, const char *name)
{
    for (size_t i = 0; i < d->n_pools; i++) {
        if (strcmp(pool_name(d->pools[i]), name) == 0)
            return d->pools[i];
    }
    return NULL;
}

size_t dispatch_pool_count(const dispatch_t *d)
{
    return d->n_pools;
}

pool_t *dispatch_pool_at(dispatch_t *d, size_t i)
{
    return i < d->n_pools ? d->pools[i] : NULL;
}

static void on_pool_stopped(void *arg)
{
    dispatch_t *d = arg;
    if (--d->stopping == 0 && d->stop_done)
        d->stop_done(d->stop_arg);
}

void dispatch_quiesce(dispatch_t *d)
{
    for (size_t i = 0; i < d->n_pools; i++)
        pool_quiesce(d->pools[i]);
}

void dispatch_set_observer(dispatch_t *d, pool_observer_fn observer, void *ctx)
{
    d->env.observer = observer;
    d->env.observer_ctx = ctx;
}

void dispatch_stop(dispatch_t *d, bool force, void (*done)(void *arg), void *arg)
{
    if (d->stopping > 0) {
        /* A stop is running: only a forced one changes anything. */
        if (force)
            for (size_t i = 0; i < d->n_pools; i++)
                pool_stop(d->pools[i], true, on_pool_stopped, d);
        return;
    }
    d->stop_done = done;
    d->stop_arg = arg;
    /* Counted up front so that a pool stopping at once cannot finish the
     * whole dispatch before the others have been asked. */
    d->stopping = d->n_pools + 1;
    for (size_t i = 0; i < d->n_pools; i++)
        pool_stop(d->pools[i], force, on_pool_stopped, d);
    on_pool_stopped(d);
}

void dispatch_free(dispatch_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_pools; i++)
        pool_free(d->pools[i]);
    free(d->pools);
    free(d->initial_replicas);
    free(d->worker_exe);
    free(d->log_level);
    free(d);
}
