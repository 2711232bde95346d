/* synth_inproc.c - times a backend in-process, without the gateway or IPC.
 *
 *   bench_synth_inproc --backend flite --params '{"voice":"cmu_us_slt"}' \
 *                      --text "Hello world." --runs 50
 *
 * prints {"load_ms":..., "median_ms":..., "p99_ms":..., "runs":...}. The
 * load is the first in the process, as in a worker, so it includes what a
 * cold replica pays (library initialisation, voice registration). The
 * difference between these numbers and the served latency is the cost of
 * the server itself.
 */
#include "backends/backend.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_opts {
    const char *backend;
    const char *params;
    const char *text;
    double speed;
    int runs;
} bench_opts_t;

static void usage(void)
{
    fprintf(stderr, "usage: bench_synth_inproc --backend NAME [--params JSON] --text TEXT "
                    "[--runs N] [--speed X]\n");
}

static int parse_args(int argc, char **argv, bench_opts_t *o)
{
    *o = (bench_opts_t){.params = "{}", .speed = 1.0, .runs = 50};
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value)
            return -1;
        if (strcmp(argv[i], "--backend") == 0)
            o->backend = value;
        else if (strcmp(argv[i], "--params") == 0)
            o->params = value;
        else if (strcmp(argv[i], "--text") == 0)
            o->text = value;
        else if (strcmp(argv[i], "--runs") == 0)
            o->runs = (int)strtol(value, NULL, 10);
        else if (strcmp(argv[i], "--speed") == 0)
            o->speed = strtod(value, NULL);
        else
            return -1;
        i++;
    }
    if (!o->backend || !o->text || o->runs < 1)
        return -1;
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values, p in (0, 100]. */
static double percentile(const double *sorted, int n, double p)
{
    int rank = (int)ceil(p / 100.0 * n);
    if (rank < 1)
        rank = 1;
    return sorted[(rank > n ? n : rank) - 1];
}

static int time_syntheses(const backend_t *b, void *model, const bench_opts_t *o, double *lat)
{
    char err[512];
    for (int i = 0; i < o->runs; i++) {
        backend_audio_t audio = {0};
        double start = now_ms();
        if (b->synthesize(model, o->text, o->speed, &audio, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench_synth_inproc: synthesis failed: %s\n", err);
            return -1;
        }
        lat[i] = now_ms() - start;
        free(audio.samples);
    }
    return 0;
}

static void print_report(double load_ms, const double *sorted, int n)
{
    double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    json_t *report = json_pack("{s:f,s:f,s:f,s:i}", "load_ms", load_ms, "median_ms", median,
                               "p99_ms", percentile(sorted, n, 99.0), "runs", n);
    json_dumpf(report, stdout, JSON_REAL_PRECISION(6));
    putchar('\n');
    json_decref(report);
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    char err[512];
    json_error_t jerr;
    void *model = NULL;
    double *lat = NULL;
    int status = 1;

    if (parse_args(argc, argv, &o) < 0) {
        usage();
        return 2;
    }
    const backend_t *b = backend_find(o.backend);
    json_t *params = json_loads(o.params, 0, &jerr);
    if (!b || !(b->tasks & BACKEND_TASK_SYNTHESIZE)) {
        fprintf(stderr, "bench_synth_inproc: %s is not a backend that synthesizes\n", o.backend);
        goto fail;
    }
    if (!json_is_object(params)) {
        fprintf(stderr, "bench_synth_inproc: --params must be a JSON object\n");
        goto fail;
    }
    double start = now_ms();
    if (b->load(params, &model, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_synth_inproc: load failed: %s\n", err);
        goto fail;
    }
    double load_ms = now_ms() - start;

    lat = calloc((size_t)o.runs, sizeof(double));
    if (!lat || time_syntheses(b, model, &o, lat) < 0)
        goto fail;
    qsort(lat, (size_t)o.runs, sizeof(double), cmp_double);
    print_report(load_ms, lat, o.runs);
    status = 0;

fail:
    if (model)
        b->unload(model);
    free(lat);
    json_decref(params);
    return status;
}
