/* registry.c - the table of built-in backends.
 *
 * Backends are compiled in, not loaded as plugins: there are four, each
 * needs its own libraries at link time anyway, and a fixed table makes
 * configuration validation a plain lookup.
 */
#include "backends/backend.h"

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
