/* synthetic.c - the "synthetic" backend: a load model for tests and
 * benchmarks, not a real model.
 *
 * Its parameters stand in for the costs of a real model, and every cost is
 * real so that what the autoscaler measures is true: load_time_ms sleeps,
 * memory_mb is allocated and every page touched so it is resident until
 * unload, and cpu_ms_per_request burns process CPU time (measured with
 * CLOCK_PROCESS_CPUTIME_ID, so time spent descheduled does not count).
 * fail_load fails after the load time has passed, as a real model that
 * breaks late in its load would.
 */
#include "backends/backend.h"

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef struct synthetic_params {
    double load_time_ms;
    double memory_mb;
    double cpu_ms_per_request;
    bool fail_load;
} synthetic_params_t;

typedef struct synthetic_model {
    synthetic_params_t p;
    void *memory;
    size_t memory_bytes;
} synthetic_model_t;

typedef struct number_param {
    const char *name;
    double max;
    size_t offset;
} number_param_t;

static const number_param_t number_params[] = {
    {"load_time_ms", 3600000, offsetof(synthetic_params_t, load_time_ms)},
    {"memory_mb", 65536, offsetof(synthetic_params_t, memory_mb)},
    {"cpu_ms_per_request", 600000, offsetof(synthetic_params_t, cpu_ms_per_request)},
};

#define N_NUMBER_PARAMS (sizeof(number_params) / sizeof(number_params[0]))

static const number_param_t *find_number_param(const char *name)
{
    for (size_t i = 0; i < N_NUMBER_PARAMS; i++) {
        if (strcmp(number_params[i].name, name) == 0)
            return &number_params[i];
    }
    return NULL;
}

static int parse_one(const char *key, const json_t *value, synthetic_params_t *p, char *err,
                     size_t errlen)
{
    if (strcmp(key, "fail_load") == 0) {
        if (!json_is_boolean(value)) {
            snprintf(err, errlen, "params.fail_load must be true or false");
            return -1;
        }
        p->fail_load = json_is_true(value);
        return 0;
    }
    const number_param_t *np = find_number_param(key);
    if (!np) {
        snprintf(err, errlen,
                 "params.%s is not a parameter of the synthetic backend (it takes: "
                 "load_time_ms, memory_mb, cpu_ms_per_request, fail_load)",
                 key);
        return -1;
    }
    double v = json_is_number(value) ? json_number_value(value) : -1.0;
    if (!(v >= 0.0 && v <= np->max)) {
        snprintf(err, errlen, "params.%s must be a number between 0 and %.0f", key, np->max);
        return -1;
    }
    *(double *)((char *)p + np->offset) = v;
    return 0;
}

static int parse_params(const json_t *params, synthetic_params_t *p, char *err, size_t errlen)
{
    const char *key;
    json_t *value;

    memset(p, 0, sizeof(*p));
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object");
        return -1;
    }
    json_object_foreach ((json_t *)params, key, value) {
        if (parse_one(key, value, p, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int synthetic_check_params(const json_t *params, char *err, size_t errlen)
{
    synthetic_params_t p;
    return parse_params(params, &p, err, errlen);
}

/* Sleeps the whole duration even if signals interrupt it. */
static void sleep_ms(double ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long long ns = (long long)(ms * 1e6);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec += (long)(ns % 1000000000LL);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
}

/* Maps and touches memory so it counts in the resident set, not just the
 * virtual size: an untouched anonymous mapping costs nothing. */
static int hold_memory(synthetic_model_t *m, char *err, size_t errlen)
{
    size_t bytes = (size_t)(m->p.memory_mb * 1024.0 * 1024.0);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    if (bytes == 0)
        return 0;
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        snprintf(err, errlen, "params.memory_mb: cannot allocate %.1f MB: %s", m->p.memory_mb,
                 strerror(errno));
        return -1;
    }
    for (size_t off = 0; off < bytes; off += page)
        ((volatile char *)mem)[off] = 1;
    m->memory = mem;
    m->memory_bytes = bytes;
    return 0;
}

static int synthetic_load(const json_t *params, void **model, char *err, size_t errlen)
{
    synthetic_model_t *m = calloc(1, sizeof(*m));

    if (!m) {
        snprintf(err, errlen, "out of memory loading the synthetic model");
        return -1;
    }
    if (parse_params(params, &m->p, err, errlen) < 0)
        goto fail;
    if (m->p.load_time_ms > 0)
        sleep_ms(m->p.load_time_ms);
    if (m->p.fail_load) {
        snprintf(err, errlen, "synthetic load failure requested by fail_load");
        goto fail;
    }
    if (hold_memory(m, err, errlen) < 0)
        goto fail;
    *model = m;
    return 0;

fail:
    free(m);
    return -1;
}

static double cpu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int synthetic_predict(void *model, const json_t *inputs, json_t **result, char *err,
                             size_t errlen)
{
    synthetic_model_t *m = model;
    volatile uint64_t sink = 0;
    (void)inputs;

    double start = cpu_now_ms();
    double end = start + m->p.cpu_ms_per_request;
    /* Reading the clock costs far less than a microsecond, so checking it
     * every 4096 iterations keeps the overshoot negligible. */
    while (m->p.cpu_ms_per_request > 0 && cpu_now_ms() < end) {
        for (int i = 0; i < 4096; i++)
            sink = sink * 6364136223846793005ull + 1442695040888963407ull;
    }
    *result = json_pack("{s:f}", "cpu_ms", cpu_now_ms() - start);
    if (!*result) {
        snprintf(err, errlen, "out of memory building the result");
        return -1;
    }
    return 0;
}

static void synthetic_unload(void *model)
{
    synthetic_model_t *m = model;

    if (!m)
        return;
    if (m->memory)
        munmap(m->memory, m->memory_bytes);
    free(m);
}

const backend_t backend_synthetic = {
    .name = "synthetic",
    .description = "A load model for tests and benchmarks, not a real model: params set a real "
                   "load time (load_time_ms), resident memory (memory_mb), CPU time per request "
                   "(cpu_ms_per_request) and a forced load failure (fail_load).",
    .tasks = BACKEND_TASK_PREDICT,
    .check_params = synthetic_check_params,
    .load = synthetic_load,
    .predict = synthetic_predict,
    .synthesize = NULL,
    .unload = synthetic_unload,
};
