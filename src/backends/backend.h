/* backend.h - the interface every model backend implements.
 *
 * A backend turns parameters from the configuration into a loaded model
 * and answers requests with it. Backends run inside a worker process
 * (src/worker/), one model per process, so they may keep global state and
 * may block; the gateway only calls backend_find() and check_params() to
 * validate configuration before any worker starts.
 *
 * Errors: every function that can fail returns 0 on success or -1, and
 * writes a sentence for a person into err (naming the parameter when a
 * parameter is at fault). predict and synthesize return BACKEND_ERR_INPUT
 * instead when the request's input is at fault, so the client gets a 400
 * rather than a 500.
 */
#ifndef INFERD_BACKEND_H
#define INFERD_BACKEND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BACKEND_ERR_INPUT (-2)

/* What a backend can do; a model is asked only for what its backend offers. */
enum {
    BACKEND_TASK_PREDICT = 1u << 0,    /* POST /predict: JSON inputs -> JSON result */
    BACKEND_TASK_SYNTHESIZE = 1u << 1, /* POST /synthesize: text -> audio */
};

/* Mono 16-bit PCM produced by a synthesize call; samples are malloc'ed and
 * owned by the caller, who frees them with free(). */
typedef struct backend_audio {
    int16_t *samples;
    size_t n_samples;
    int sample_rate;
} backend_audio_t;

typedef struct backend {
    const char *name;        /* "flite", "espeak", "example", "synthetic" */
    const char *description; /* one sentence for docs and GET /models */
    unsigned tasks;          /* BACKEND_TASK_* bits */

    /* Validates params (a JSON object, never NULL) without loading anything
     * heavy. Called by the gateway at configuration time. */
    int (*check_params)(const json_t *params, char *err, size_t errlen);

    /* Loads a model; *model is the backend's own handle. */
    int (*load)(const json_t *params, void **model, char *err, size_t errlen);

    /* BACKEND_TASK_PREDICT: inputs is any JSON value from the request;
     * *result receives a new reference the caller releases. */
    int (*predict)(void *model, const json_t *inputs, json_t **result, char *err, size_t errlen);

    /* BACKEND_TASK_SYNTHESIZE: text is UTF-8, speed a factor in
     * [BACKEND_SPEED_MIN, BACKEND_SPEED_MAX] (1.0 = the voice's normal rate). */
    int (*synthesize)(void *model, const char *text, double speed, backend_audio_t *out, char *err,
                      size_t errlen);

    void (*unload)(void *model);
} backend_t;

#define BACKEND_SPEED_MIN 0.25
#define BACKEND_SPEED_MAX 4.0

/* Checks that params is an object whose keys are all in known (a
 * NULL-ended list, possibly empty); otherwise writes "params.KEY is not a
 * parameter of the NAME backend (it takes: ...)" and returns -1. */
int backend_check_keys(const json_t *params, const char *backend, const char *const *known,
                       char *err, size_t errlen);

/* Returns the backend called name, or NULL. */
const backend_t *backend_find(const char *name);

/* All built-in backends; *count receives their number. */
const backend_t *const *backend_all(size_t *count);

#endif
