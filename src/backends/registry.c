/* registry.c - the table of built-in backends.
 *
 * Backends are compiled in, not loaded as plugins: there are four, each
 * needs its own libraries at link time anyway, and a fixed table makes
 * configuration validation a plain lookup.
 */
#include "backends/backend.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

extern const backend_t backend_flite;
extern const backend_t backend_espeak;
extern const backend_t backend_example;
extern const backend_t backend_synthetic;

static const backend_t *const builtins[] = {
    &backend_flite,
    &backend_espeak,
    &backend_example,
    &backend_synthetic,
};

#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

const backend_t *backend_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_BUILTINS; i++) {
        if (strcmp(builtins[i]->name, name) == 0)
            return builtins[i];
    }
    return NULL;
}

const backend_t *const *backend_all(size_t *count)
{
    *count = N_BUILTINS;
    return builtins;
}

static bool key_known(const char *key, const char *const *known)
{
    for (size_t i = 0; known[i]; i++)
        if (strcmp(key, known[i]) == 0)
            return true;
    return false;
}

int backend_check_keys(const json_t *params, const char *backend, const char *const *known,
                       char *err, size_t errlen)
{
    const char *key;
    json_t *value;
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object");
        return -1;
    }
    json_object_foreach ((json_t *)params, key, value) {
        if (key_known(key, known))
            continue;
        char takes[128] = "none";
        size_t used = 0;
        for (size_t i = 0; known[i] && used < sizeof(takes); i++)
            used += (size_t)snprintf(takes + used, sizeof(takes) - used, "%s%s", i ? ", " : "",
                                     known[i]);
        snprintf(err, errlen, "params.%s is not a parameter of the %s backend (it takes %s%s)", key,
                 backend, known[0] ? ": " : "", takes);
        return -1;
    }
    return 0;
}
