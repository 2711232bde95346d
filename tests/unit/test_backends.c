/* test_backends.c - the built-in backends, the registry and the WAV codec.
 *
 * Backends are driven through backend_find() and the backend_t interface,
 * exactly as the worker drives them. Criterion runs each test in its own
 * process, which keeps the engines' global state and the resident-memory
 * measurements of one test out of the next.
 */
#include <criterion/criterion.h>

#include "backends/backend.h"
#include "backends/wav.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(v, "bad JSON in test table: %s (%s)", text, jerr.text);
    return v;
}

static void *load_ok(const char *backend, const char *params)
{
    char err[512] = "";
    void *model = NULL;
    const backend_t *b = backend_find(backend);
    json_t *p = parse(params);
    cr_assert_not_null(b, "backend %s", backend);
    cr_assert_eq(b->load(p, &model, err, sizeof(err)), 0, "%s %s: %s", backend, params, err);
    json_decref(p);
    return model;
}

/* example's output for inputs 1..10, recorded from the first build. */
#define EXAMPLE_GOLDEN 0x1.07aa260a8b5a8p-1

/* ---- registry ---- */

Test(registry, finds_every_builtin)
{
    size_t n;
    const backend_t *const *all = backend_all(&n);
    cr_assert_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(backend_find(all[i]->name), all[i]);
        cr_assert(all[i]->description && all[i]->description[0]);
        cr_assert(all[i]->tasks != 0);
        cr_assert(!(all[i]->tasks & BACKEND_TASK_PREDICT) || all[i]->predict);
        cr_assert(!(all[i]->tasks & BACKEND_TASK_SYNTHESIZE) || all[i]->synthesize);
    }
    cr_assert_null(backend_find("tensorflow"));
    cr_assert_null(backend_find(NULL));
    cr_assert(strstr(backend_find("synthetic")->description, "tests and benchmarks"));
}

/* ---- check_params ---- */

static const struct {
    const char *backend;
    const char *params;
    const char *error; /* substring of the message, NULL = accepted */
} param_cases[] = {
    {"flite", "{\"voice\": \"cmu_us_slt\"}", NULL},
    {"flite", "{\"voice\": \"cmu_us_kal\"}", NULL},
    {"flite", "{}", "params.voice must be one of cmu_us_slt"},
    {"flite", "{\"voice\": \"cmu_us_xyz\"}", "params.voice must be one of"},
    {"flite", "{\"voice\": 3}", "params.voice must be one of"},
    {"flite", "{\"voice\": \"cmu_us_slt\", \"pitch\": 1}", "params.pitch is not a parameter"},
    {"espeak", "{\"voice\": \"en\"}", NULL},
    {"espeak", "{\"voice\": \"en-us+f3\"}", NULL},
    {"espeak", "{\"voice\": \"\"}", "params.voice must be an eSpeak NG voice name"},
    {"espeak", "{\"voice\": \"../../etc/passwd\"}", "params.voice must be"},
    {"espeak", "{\"voice\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "params.voice must"},
    {"espeak", "{\"voice\": [\"en\"]}", "params.voice must be"},
    {"espeak", "{\"voice\": \"en\", \"rate\": 100}", "params.rate is not a parameter"},
    {"example", "{}", NULL},
    {"example", "{\"layers\": 3}", "params.layers is not a parameter"},
    {"synthetic", "{}", NULL},
    {"synthetic",
     "{\"load_time_ms\": 10, \"memory_mb\": 1.5, \"cpu_ms_per_request\": 0, \"fail_load\": false}",
     NULL},
    {"synthetic", "{\"load_time_ms\": 3600000, \"memory_mb\": 65536}", NULL},
    {"synthetic", "{\"load_time_ms\": -1}", "params.load_time_ms must be a number between 0 and"},
    {"synthetic", "{\"load_time_ms\": 3600001}", "params.load_time_ms must be"},
    {"synthetic", "{\"memory_mb\": 65537}",
     "params.memory_mb must be a number between 0 and 65536"},
    {"synthetic", "{\"memory_mb\": \"64\"}", "params.memory_mb must be a number"},
    {"synthetic", "{\"cpu_ms_per_request\": 600001}", "params.cpu_ms_per_request must be"},
    {"synthetic", "{\"cpu_ms_per_request\": null}", "params.cpu_ms_per_request must be"},
    {"synthetic", "{\"fail_load\": 1}", "params.fail_load must be true or false"},
    {"synthetic", "{\"memroy_mb\": 5}", "params.memroy_mb is not a parameter"},
};

Test(check_params, table)
{
    for (size_t i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]); i++) {
        char err[512] = "";
        const backend_t *b = backend_find(param_cases[i].backend);
        json_t *p = parse(param_cases[i].params);
        int rc = b->check_params(p, err, sizeof(err));
        if (!param_cases[i].error) {
            cr_expect_eq(rc, 0, "%s %s rejected: %s", b->name, param_cases[i].params, err);
        } else {
            cr_expect_eq(rc, -1, "%s %s accepted", b->name, param_cases[i].params);
            cr_expect(strstr(err, param_cases[i].error), "%s %s: got \"%s\", want \"%s\"", b->name,
                      param_cases[i].params, err, param_cases[i].error);
        }
        json_decref(p);
    }
}

/* ---- example ---- */

static int example_run(void *model, const char *inputs, double *out, char *err, size_t errlen)
{
    json_t *result = NULL;
    json_t *in = parse(inputs);
    int rc = backend_find("example")->predict(model, in, &result, err, errlen);
    json_decref(in);
    if (rc == 0) {
        cr_assert(json_is_real(result));
        *out = json_real_value(result);
        json_decref(result);
    }
    return rc;
}

static double example_value(void *model, const char *inputs)
{
    char err[256] = "";
    double y = 0;
    cr_assert_eq(example_run(model, inputs, &y, err, sizeof(err)), 0, "%s: %s", inputs, err);
    return y;
}

Test(example, deterministic_across_loads)
{
    void *a = load_ok("example", "{}");
    void *b = load_ok("example", "{}");
    const char *inputs = "[0.5, -1, \"cat\", true, 3e2]";
    double ya = example_value(a, inputs), yb = example_value(b, inputs);
    cr_assert(memcmp(&ya, &yb, sizeof(double)) == 0, "%a != %a", ya, yb);
    cr_assert(isfinite(ya));
    /* Pinned so that a change to the weights, the PRNG or the arithmetic
     * order shows up as a failure, not as silently different answers. */
    cr_assert(example_value(a, "[1,2,3,4,5,6,7,8,9,10]") == EXAMPLE_GOLDEN, "got %a",
              example_value(a, "[1,2,3,4,5,6,7,8,9,10]"));
    backend_find("example")->unload(a);
    backend_find("example")->unload(b);
}

/* Pairs of inputs that must give bit-identical outputs. */
static const struct {
    const char *a, *b;
} same_cases[] = {
    {"[1, 2, 3]", "[1, 2, 3, 0, 0, 0, 0, 0, 0, 0]"},                 /* padded */
    {"[1,2,3,4,5,6,7,8,9,10,11,12]", "[1,2,3,4,5,6,7,8,9,10]"},      /* cut */
    {"[1,2,3,4,5,6,7,8,9,10,\"x\",true]", "[1,2,3,4,5,6,7,8,9,10]"}, /* cut */
    {"7", "[7]"},
    {"true", "[1]"},
    {"[false, true]", "[0, 1]"},
    {"\"hello\"", "[\"hello\"]"},
    {"[]", "[0]"},
    {"[2]", "[2.0]"},
};

/* Pairs that must differ: strings really feed the network. */
static const struct {
    const char *a, *b;
} differ_cases[] = {
    {"[\"hello\"]", "[\"world\"]"},
    {"[\"hello\", 1]", "[\"hello\", 2]"},
    {"[1, 2]", "[2, 1]"},
};

Test(example, padding_cutting_and_scalars)
{
    void *m = load_ok("example", "{}");
    for (size_t i = 0; i < sizeof(same_cases) / sizeof(same_cases[0]); i++) {
        double a = example_value(m, same_cases[i].a), b = example_value(m, same_cases[i].b);
        cr_expect(memcmp(&a, &b, sizeof(double)) == 0, "%s -> %a but %s -> %a", same_cases[i].a, a,
                  same_cases[i].b, b);
    }
    for (size_t i = 0; i < sizeof(differ_cases) / sizeof(differ_cases[0]); i++) {
        double a = example_value(m, differ_cases[i].a), b = example_value(m, differ_cases[i].b);
        cr_expect(a != b, "%s and %s both give %a", differ_cases[i].a, differ_cases[i].b, a);
    }
    backend_find("example")->unload(m);
}

static const struct {
    const char *inputs;
    const char *error;
} bad_input_cases[] = {
    {"[1, 2, 3, null]", "inputs[3] must be a number, string or boolean"},
    {"[1, [2]]", "inputs[1] must be a number, string or boolean"},
    {"[{\"a\": 1}]", "inputs[0] must be a number, string or boolean"},
    {"[1,2,3,4,5,6,7,8,9,10,11,{}]", "inputs[11] must be"}, /* checked past the tenth */
    {"null", "inputs must be a number, string, boolean or an array of those"},
    {"{\"x\": 1}", "inputs must be a number, string, boolean or an array of those"},
};

Test(example, rejects_bad_elements)
{
    void *m = load_ok("example", "{}");
    for (size_t i = 0; i < sizeof(bad_input_cases) / sizeof(bad_input_cases[0]); i++) {
        char err[256] = "";
        double y;
        cr_expect_eq(example_run(m, bad_input_cases[i].inputs, &y, err, sizeof(err)),
                     BACKEND_ERR_INPUT, "%s", bad_input_cases[i].inputs);
        cr_expect(strstr(err, bad_input_cases[i].error), "%s: got \"%s\"",
                  bad_input_cases[i].inputs, err);
    }
    backend_find("example")->unload(m);
}

/* ---- wav ---- */

static const struct {
    int rate;
    size_t n;
} wav_cases[] = {{16000, 16000}, {8000, 4000}, {22050, 1}, {44100, 0}};

Test(wav, round_trip)
{
    for (size_t i = 0; i < sizeof(wav_cases) / sizeof(wav_cases[0]); i++) {
        size_t n = wav_cases[i].n;
        int16_t *s = calloc(n + 1, sizeof(int16_t));
        for (size_t k = 0; k < n; k++)
            s[k] = (int16_t)(k * 37 - 20000);
        backend_audio_t a = {.samples = s, .n_samples = n, .sample_rate = wav_cases[i].rate};
        buf_t out = BUF_INIT;
        wav_encode(&a, &out);
        cr_assert_eq(out.len, WAV_HEADER_SIZE + 2 * n);
        cr_assert(memcmp(out.data, "RIFF", 4) == 0 && memcmp(out.data + 8, "WAVE", 4) == 0);
        const uint8_t *d = (const uint8_t *)out.data + WAV_HEADER_SIZE;
        for (size_t k = 0; k < n; k++)
            cr_assert_eq((int16_t)(d[2 * k] | d[2 * k + 1] << 8), s[k]); /* little-endian */

        int rate = 0;
        double seconds = -1;
        cr_assert_eq(wav_parse_header(out.data, out.len, &rate, &seconds), 0);
        cr_expect_eq(rate, wav_cases[i].rate);
        cr_expect(fabs(seconds - (double)n / wav_cases[i].rate) < 1e-9, "%f", seconds);
        /* A truncated file reports what it holds, never more. */
        if (n >= 2) {
            cr_assert_eq(wav_parse_header(out.data, out.len - n, &rate, &seconds), 0);
            cr_expect(seconds < (double)n / wav_cases[i].rate);
        }
        buf_free(&out);
        free(s);
    }
}

Test(wav, parse_skips_chunks_and_rejects_garbage)
{
    int16_t s[100] = {0};
    backend_audio_t a = {.samples = s, .n_samples = 100, .sample_rate = 8000};
    buf_t wav = BUF_INIT, with_list = BUF_INIT;
    wav_encode(&a, &wav);
    /* The same file with a LIST chunk (odd size, so padded) between fmt and data. */
    buf_append(&with_list, wav.data, 36);
    buf_append(&with_list,
               "LIST\x03\x00\x00\x00"
               "abc\x00",
               12);
    buf_append(&with_list, wav.data + 36, wav.len - 36);

    int rate;
    double seconds;
    cr_assert_eq(wav_parse_header(with_list.data, with_list.len, &rate, &seconds), 0);
    cr_expect_eq(rate, 8000);
    cr_expect(fabs(seconds - 100.0 / 8000) < 1e-9);

    cr_expect_eq(wav_parse_header("", 0, &rate, &seconds), -1);
    cr_expect_eq(wav_parse_header(wav.data, 20, &rate, &seconds), -1);
    cr_expect_eq(wav_parse_header("RIFX\0\0\0\0WAVEfmt ", 16, &rate, &seconds), -1);
    buf_t bad = BUF_INIT;
    buf_append(&bad, wav.data, wav.len);
    bad.data[20] = 3; /* IEEE float, not PCM */
    cr_expect_eq(wav_parse_header(bad.data, bad.len, &rate, &seconds), -1);
    buf_free(&bad);
    buf_free(&wav);
    buf_free(&with_list);
}

/* ---- speech backends ---- */

static int16_t peak(const backend_audio_t *a)
{
    int peak = 0;
    for (size_t i = 0; i < a->n_samples; i++)
        peak = abs(a->samples[i]) > peak ? abs(a->samples[i]) : peak;
    return (int16_t)peak;
}

static void synth_ok(const char *backend, void *m, double speed, backend_audio_t *a)
{
    char err[512] = "";
    cr_assert_eq(backend_find(backend)->synthesize(m, "Hello world, this is a test.", speed, a, err,
                                                   sizeof(err)),
                 0, "%s", err);
}

static const struct {
    const char *voice;
    int rate;
} flite_cases[] = {{"cmu_us_slt", 16000}, {"cmu_us_kal", 8000}};

Test(flite, synthesizes_audible_speech_at_the_voice_rate)
{
    for (size_t i = 0; i < sizeof(flite_cases) / sizeof(flite_cases[0]); i++) {
        char params[64];
        snprintf(params, sizeof(params), "{\"voice\": \"%s\"}", flite_cases[i].voice);
        void *m = load_ok("flite", params);
        backend_audio_t normal = {0}, fast = {0};
        synth_ok("flite", m, 1.0, &normal);
        synth_ok("flite", m, 2.0, &fast);
        cr_expect_eq(normal.sample_rate, flite_cases[i].rate, "%s", flite_cases[i].voice);
        cr_expect_gt(normal.n_samples, (size_t)flite_cases[i].rate, "over a second of speech");
        cr_expect_gt(peak(&normal), 1000, "%s is silent", flite_cases[i].voice);
        cr_expect_lt(fast.n_samples, normal.n_samples * 3 / 4, "speed 2 is not faster");
        free(normal.samples);
        free(fast.samples);
        backend_find("flite")->unload(m);
    }
}

Test(flite, reloads_after_unload)
{
    backend_audio_t a = {0};
    backend_find("flite")->unload(load_ok("flite", "{\"voice\": \"cmu_us_slt\"}"));
    void *m = load_ok("flite", "{\"voice\": \"cmu_us_slt\"}");
    synth_ok("flite", m, 1.0, &a);
    cr_expect_gt(peak(&a), 1000);
    free(a.samples);
    backend_find("flite")->unload(m);
}

Test(espeak, synthesizes_and_rejects_unknown_voice)
{
    char err[512] = "";
    void *m = load_ok("espeak", "{\"voice\": \"en\"}");
    backend_audio_t a = {0};
    synth_ok("espeak", m, 1.0, &a);
    cr_expect_gt(a.sample_rate, 0);
    cr_expect_gt(a.n_samples, (size_t)a.sample_rate / 2);
    cr_expect_gt(peak(&a), 1000);
    free(a.samples);
    backend_find("espeak")->unload(m);

    json_t *p = parse("{\"voice\": \"xx-nosuchvoice\"}");
    m = NULL;
    cr_expect_eq(backend_find("espeak")->load(p, &m, err, sizeof(err)), -1);
    cr_expect(strstr(err, "no voice named \"xx-nosuchvoice\""), "%s", err);
    json_decref(p);
}

/* ---- synthetic ---- */

static double rss_mb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb / 1024.0;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

Test(synthetic, memory_mb_is_resident_until_unload)
{
    double before = rss_mb();
    void *m = load_ok("synthetic", "{\"memory_mb\": 96}");
    double loaded = rss_mb();
    cr_expect_geq(loaded - before, 90.0, "RSS grew by only %.1f MB", loaded - before);
    backend_find("synthetic")->unload(m);
    cr_expect_lt(rss_mb() - before, 10.0, "memory not returned at unload");
}

Test(synthetic, fail_load_and_load_time)
{
    char err[512] = "";
    void *m = NULL;
    json_t *p = parse("{\"fail_load\": true, \"load_time_ms\": 30}");
    double start = mono_ms();
    cr_assert_eq(backend_find("synthetic")->load(p, &m, err, sizeof(err)), -1);
    cr_expect_geq(mono_ms() - start, 30.0);
    cr_expect_str_eq(err, "synthetic load failure requested by fail_load");
    cr_expect_null(m);
    json_decref(p);
}

Test(synthetic, cpu_ms_per_request_burns_cpu)
{
    char err[256] = "";
    json_t *result = NULL;
    void *m = load_ok("synthetic", "{\"cpu_ms_per_request\": 25}");
    cr_assert_eq(backend_find("synthetic")->predict(m, json_null(), &result, err, sizeof(err)), 0,
                 "%s", err);
    double cpu = json_number_value(json_object_get(result, "cpu_ms"));
    cr_expect(cpu >= 25.0 && cpu < 250.0, "cpu_ms %f", cpu);
    json_decref(result);
    backend_find("synthetic")->unload(m);
}
