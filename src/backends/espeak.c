/* espeak.c - the "espeak" backend: eSpeak NG voices by language or name.
 *
 * eSpeak NG is one global engine per process. It is initialised on the
 * first load and never terminated: espeak_Terminate() in eSpeak NG 1.51
 * sometimes deadlocks in a condition wait on its internal thread (seen
 * here in about half of the runs that load and unload), and a worker exits
 * right after unload anyway, which gives the engine's memory back whole.
 *
 * The synth callback collects samples into a growable buffer reached
 * through the request's user_data, because synchronous mode delivers audio
 * in chunks before espeak_Synth() returns. The voice is set again only when
 * a synthesis asks for another one, which happens only if a process loads
 * two espeak models (tests do; workers never do).
 */
#include "backends/backend.h"

#include <espeak-ng/speak_lib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOICE_NAME_MAX 40

typedef struct espeak_model {
    char voice[VOICE_NAME_MAX + 1];
} espeak_model_t;

/* Samples collected by the synth callback for one espeak_Synth() call. */
typedef struct sample_sink {
    int16_t *samples;
    size_t n, cap;
    int out_of_memory;
} sample_sink_t;

static int engine_rate; /* 0 until initialised */
static char current_voice[VOICE_NAME_MAX + 1];

static int valid_voice_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > VOICE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '+' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static int espeak_check_params(const json_t *params, char *err, size_t errlen)
{
    static const char *const known[] = {"voice", NULL};
    if (backend_check_keys(params, "espeak", known, err, errlen) < 0)
        return -1;
    json_t *value = json_object_get(params, "voice");
    if (!value || !json_is_string(value) || !valid_voice_name(json_string_value(value))) {
        snprintf(err, errlen,
                 "params.voice must be an eSpeak NG voice name such as en, de or fr "
                 "(1 to %d letters, digits, _, + or -)",
                 VOICE_NAME_MAX);
        return -1;
    }
    return 0;
}

static int on_samples(short *wav, int n, espeak_EVENT *events)
{
    sample_sink_t *sink = events ? events->user_data : NULL;

    if (!sink || !wav || n <= 0)
        return 0;
    if (sink->n + (size_t)n > sink->cap) {
        size_t cap = sink->cap ? sink->cap : 16384;
        while (cap < sink->n + (size_t)n)
            cap *= 2;
        int16_t *p = realloc(sink->samples, cap * sizeof(int16_t));
        if (!p) {
            sink->out_of_memory = 1;
            return 1; /* abort the synthesis */
        }
        sink->samples = p;
        sink->cap = cap;
    }
    memcpy(sink->samples + sink->n, wav, (size_t)n * sizeof(int16_t));
    sink->n += (size_t)n;
    return 0;
}

static int engine_init(char *err, size_t errlen)
{
    if (engine_rate == 0) {
        /* DONT_EXIT: by default the library calls exit() on a fatal error,
         * which would hide the reason from the gateway. */
        int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
        if (rate <= 0) {
            snprintf(err, errlen, "eSpeak NG could not initialise (is espeak-ng-data installed?)");
            return -1;
        }
        engine_rate = rate;
        espeak_SetSynthCallback(on_samples);
    }
    return 0;
}

static int select_voice(const char *voice)
{
    if (strcmp(current_voice, voice) == 0)
        return 0;
    if (espeak_SetVoiceByName(voice) != EE_OK) {
        current_voice[0] = '\0'; /* not sure what the engine kept */
        return -1;
    }
    snprintf(current_voice, sizeof(current_voice), "%s", voice);
    return 0;
}

static int espeak_load(const json_t *params, void **model, char *err, size_t errlen)
{
    if (espeak_check_params(params, err, errlen) < 0)
        return -1;
    const char *voice = json_string_value(json_object_get(params, "voice"));
    if (engine_init(err, errlen) < 0)
        return -1;
    if (select_voice(voice) < 0) {
        snprintf(err, errlen, "params.voice: eSpeak NG has no voice named \"%s\"", voice);
        return -1;
    }
    espeak_model_t *m = malloc(sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory loading eSpeak NG voice %s", voice);
        return -1;
    }
    snprintf(m->voice, sizeof(m->voice), "%s", voice);
    *model = m;
    return 0;
}

static int espeak_synthesize(void *model, const char *text, double speed, backend_audio_t *out,
                             char *err, size_t errlen)
{
    espeak_model_t *m = model;
    sample_sink_t sink = {0};

    if (!(speed >= BACKEND_SPEED_MIN && speed <= BACKEND_SPEED_MAX)) {
        snprintf(err, errlen, "speed must be between %g and %g", BACKEND_SPEED_MIN,
                 BACKEND_SPEED_MAX);
        return -1;
    }
    if (select_voice(m->voice) < 0) {
        snprintf(err, errlen, "eSpeak NG could not select voice %s", m->voice);
        return -1;
    }
    int rate = (int)(espeakRATE_NORMAL * speed + 0.5);
    rate = rate < espeakRATE_MINIMUM ? espeakRATE_MINIMUM : rate;
    rate = rate > espeakRATE_MAXIMUM ? espeakRATE_MAXIMUM : rate;
    espeak_SetParameter(espeakRATE, rate, 0);

    espeak_ERROR rc =
        espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, &sink);
    if (sink.out_of_memory) {
        snprintf(err, errlen, "out of memory collecting %zu samples", sink.n);
        goto fail;
    }
    if (rc != EE_OK) {
        snprintf(err, errlen, "eSpeak NG synthesis failed (error %d)", (int)rc);
        goto fail;
    }
    out->samples = sink.samples ? sink.samples : malloc(1);
    if (!out->samples) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->n_samples = sink.n;
    out->sample_rate = engine_rate;
    return 0;

fail:
    free(sink.samples);
    return -1;
}

static void espeak_unload(void *model)
{
    free(model);
}

const backend_t backend_espeak = {
    .name = "espeak",
    .description = "eSpeak NG speech synthesis in many languages (params.voice: a language or "
                   "voice name such as en, de or fr); answers with 16-bit mono WAV.",
    .tasks = BACKEND_TASK_SYNTHESIZE,
    .check_params = espeak_check_params,
    .load = espeak_load,
    .predict = NULL,
    .synthesize = espeak_synthesize,
    .unload = espeak_unload,
};
