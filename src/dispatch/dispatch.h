/* dispatch.h - the set of model pools a server runs, found by model name. */
#ifndef INFERD_DISPATCH_H
#define INFERD_DISPATCH_H

#include <stdbool.h>
#include <uv.h>

#include "config/config.h"
#include "dispatch/pool.h"

typedef struct dispatch dispatch_t;

/* One pool per configured model, all at 0 replicas until dispatch_start().
 * worker_exe is the inferd binary the workers run. */
dispatch_t *dispatch_new(uv_loop_t *loop, const inferd_config_t *cfg, const char *worker_exe,
                         const char *log_level);

/* Brings every pool to its initial replica count. */
void dispatch_start(dispatch_t *d);

pool_t *dispatch_find_pool(dispatch_t *d, const char *name);
size_t dispatch_pool_count(const dispatch_t *d);
pool_t *dispatch_pool_at(dispatch_t *d, size_t i);

/* Shutdown has begun: no pool starts a replica any more (pool_quiesce). */
void dispatch_quiesce(dispatch_t *d);

/* Stops every pool (pool_stop, with force) and calls done(arg) once all are
 * stopped. Calling it again with force while a stop runs kills what is left. */
void dispatch_stop(dispatch_t *d, bool force, void (*done)(void *arg), void *arg);

/* Sets who hears of pool events (cold starts, replicas ready and ended). */
void dispatch_set_observer(dispatch_t *d, pool_observer_fn observer, void *ctx);

/* Frees a stopped dispatch. */
void dispatch_free(dispatch_t *d);

#endif
