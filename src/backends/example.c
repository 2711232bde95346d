/* example.c - the "example" backend: a tiny fixed multilayer perceptron.
 *
 * A 10 -> 64 -> 32 -> 1 network (ReLU hidden layers, linear output) whose
 * weights come from a fixed-seed splitmix64 stream, uniform in
 * +-1/sqrt(fan_in) like a freshly initialised layer. It answers in
 * microseconds, so it measures the server's own overhead, and every build
 * gives bit-identical answers: the weights depend only on the seed, and the
 * arithmetic is plain double-precision in a fixed order.
 */
#include "backends/backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N_IN 10
#define N_H1 64
#define N_H2 32
#define SEED 0x696e66657264ull /* "inferd" */

typedef struct example_model {
    double w1[N_H1][N_IN], b1[N_H1];
    double w2[N_H2][N_H1], b2[N_H2];
    double w3[N_H2], b3;
} example_model_t;

static uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Maps the top 53 bits of a 64-bit value to [-1, 1). */
static double unit_interval(uint64_t x)
{
    return (double)(x >> 11) * 0x1.0p-52 - 1.0;
}

static void fill_uniform(double *w, size_t n, size_t fan_in, uint64_t *state)
{
    double bound = 1.0 / sqrt((double)fan_in);
    for (size_t i = 0; i < n; i++)
        w[i] = unit_interval(splitmix64_next(state)) * bound;
}

static uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int example_check_params(const json_t *params, char *err, size_t errlen)
{
    static const char *const known[] = {NULL};
    return backend_check_keys(params, "example", known, err, errlen);
}

static int example_load(const json_t *params, void **model, char *err, size_t errlen)
{
    uint64_t state = SEED;

    if (example_check_params(params, err, errlen) < 0)
        return -1;
    example_model_t *m = malloc(sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory loading the example model");
        return -1;
    }
    fill_uniform(&m->w1[0][0], (size_t)N_H1 * N_IN, N_IN, &state);
    fill_uniform(m->b1, N_H1, N_IN, &state);
    fill_uniform(&m->w2[0][0], (size_t)N_H2 * N_H1, N_H1, &state);
    fill_uniform(m->b2, N_H2, N_H1, &state);
    fill_uniform(m->w3, N_H2, N_H2, &state);
    fill_uniform(&m->b3, 1, N_H2, &state);
    *model = m;
    return 0;
}

/* Converts one scalar input; returns -1 for anything that is not a
 * number, string or boolean. */
static int input_scalar(const json_t *v, double *out)
{
    if (json_is_number(v))
        *out = json_number_value(v);
    else if (json_is_string(v))
        *out = unit_interval(fnv1a64(json_string_value(v), json_string_length(v)));
    else if (json_is_boolean(v))
        *out = json_is_true(v) ? 1.0 : 0.0;
    else
        return -1;
    return 0;
}

static int input_vector(const json_t *inputs, double x[N_IN], char *err, size_t errlen)
{
    for (size_t i = 0; i < N_IN; i++)
        x[i] = 0.0;
    if (!json_is_array(inputs)) {
        if (input_scalar(inputs, &x[0]) == 0)
            return 0;
        snprintf(err, errlen, "inputs must be a number, string, boolean or an array of those");
        return -1;
    }
    /* Every element is checked, even past the tenth, so a malformed request
     * is refused whatever its length. */
    for (size_t i = 0; i < json_array_size(inputs); i++) {
        double v;
        if (input_scalar(json_array_get(inputs, i), &v) < 0) {
            snprintf(err, errlen, "inputs[%zu] must be a number, string or boolean", i);
            return -1;
        }
        if (i < N_IN)
            x[i] = v;
    }
    return 0;
}

static double forward(const example_model_t *m, const double x[N_IN])
{
    double h1[N_H1], h2[N_H2];

    for (size_t j = 0; j < N_H1; j++) {
        double s = m->b1[j];
        for (size_t i = 0; i < N_IN; i++)
            s += m->w1[j][i] * x[i];
        h1[j] = s > 0.0 ? s : 0.0;
    }
    for (size_t j = 0; j < N_H2; j++) {
        double s = m->b2[j];
        for (size_t i = 0; i < N_H1; i++)
            s += m->w2[j][i] * h1[i];
        h2[j] = s > 0.0 ? s : 0.0;
    }
    double y = m->b3;
    for (size_t i = 0; i < N_H2; i++)
        y += m->w3[i] * h2[i];
    return y;
}

static int example_predict(void *model, const json_t *inputs, json_t **result, char *err,
                           size_t errlen)
{
    double x[N_IN];

    if (input_vector(inputs, x, err, errlen) < 0)
        return BACKEND_ERR_INPUT;
    double y = forward(model, x);
    if (!isfinite(y)) {
        snprintf(err, errlen, "inputs are too large: the output is not a finite number");
        return BACKEND_ERR_INPUT;
    }
    *result = json_real(y);
    return 0;
}

static void example_unload(void *model)
{
    free(model);
}

const backend_t backend_example = {
    .name = "example",
    .description = "A deterministic 10-64-32-1 multilayer perceptron with fixed seeded weights "
                   "(no params); inputs are numbers, strings or booleans, padded or cut to 10.",
    .tasks = BACKEND_TASK_PREDICT,
    .check_params = example_check_params,
    .load = example_load,
    .predict = example_predict,
    .synthesize = NULL,
    .unload = example_unload,
};
