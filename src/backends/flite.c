/* flite.c - the "flite" backend: CMU Flite voices compiled into the binary.
 *
 * Flite's voices are registered once per process and cached by the voice
 * library itself, so a model is just a pointer to the registered voice.
 * Speed is set through the voice's "duration_stretch" feature right before
 * each synthesis, since the feature lives on the shared voice. Flite keeps
 * global state and is not thread-safe, which a worker process per replica
 * makes harmless.
 */
#include "backends/backend.h"

#include <flite.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The voice libraries export these but ship no header for them. */
cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_kal16(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);
cst_voice *register_cmu_us_kal(const char *voxdir);
void unregister_cmu_us_slt(cst_voice *vox);
void unregister_cmu_us_kal16(cst_voice *vox);
void unregister_cmu_us_awb(cst_voice *vox);
void unregister_cmu_us_rms(cst_voice *vox);
void unregister_cmu_us_kal(cst_voice *vox);

typedef struct flite_voice_def {
    const char *name;
    cst_voice *(*register_voice)(const char *voxdir);
    void (*unregister_voice)(cst_voice *vox);
} flite_voice_def_t;

static const flite_voice_def_t voices[] = {
    {"cmu_us_slt", register_cmu_us_slt, unregister_cmu_us_slt},
    {"cmu_us_kal16", register_cmu_us_kal16, unregister_cmu_us_kal16},
    {"cmu_us_awb", register_cmu_us_awb, unregister_cmu_us_awb},
    {"cmu_us_rms", register_cmu_us_rms, unregister_cmu_us_rms},
    {"cmu_us_kal", register_cmu_us_kal, unregister_cmu_us_kal},
};

#define N_VOICES   (sizeof(voices) / sizeof(voices[0]))
#define VOICE_LIST "cmu_us_slt, cmu_us_kal16, cmu_us_awb, cmu_us_rms, cmu_us_kal"

/* Registrations per voice: the voice library hands every caller the same
 * cached voice, so only the last unload may unregister it. */
static int voice_refs[N_VOICES];

typedef struct flite_model {
    const flite_voice_def_t *def;
    cst_voice *voice;
} flite_model_t;

static const flite_voice_def_t *voice_def_find(const char *name)
{
    for (size_t i = 0; i < N_VOICES; i++) {
        if (strcmp(voices[i].name, name) == 0)
            return &voices[i];
    }
    return NULL;
}

static int flite_check_params(const json_t *params, char *err, size_t errlen)
{
    static const char *const known[] = {"voice", NULL};
    if (backend_check_keys(params, "flite", known, err, errlen) < 0)
        return -1;
    json_t *value = json_object_get(params, "voice");
    if (!value || !json_is_string(value) || !voice_def_find(json_string_value(value))) {
        snprintf(err, errlen, "params.voice must be one of " VOICE_LIST);
        return -1;
    }
    return 0;
}

static int flite_load(const json_t *params, void **model, char *err, size_t errlen)
{
    static int initialised;

    if (flite_check_params(params, err, errlen) < 0)
        return -1;
    if (!initialised) {
        flite_init();
        initialised = 1;
    }
    const flite_voice_def_t *def =
        voice_def_find(json_string_value(json_object_get(params, "voice")));
    flite_model_t *m = malloc(sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory loading flite voice %s", def->name);
        return -1;
    }
    m->def = def;
    m->voice = def->register_voice(NULL);
    if (!m->voice) {
        snprintf(err, errlen, "flite could not register voice %s", def->name);
        free(m);
        return -1;
    }
    voice_refs[def - voices]++;
    *model = m;
    return 0;
}

/* Copies flite's wave into caller-owned mono samples, averaging channels
 * if a voice ever produces more than one. */
static int wave_to_audio(const cst_wave *w, backend_audio_t *out, char *err, size_t errlen)
{
    size_t channels = w->num_channels > 0 ? (size_t)w->num_channels : 1;
    size_t n = w->num_samples > 0 ? (size_t)w->num_samples : 0;
    int16_t *samples = malloc(n ? n * sizeof(int16_t) : 1);

    if (!samples) {
        snprintf(err, errlen, "out of memory copying %zu samples", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        long sum = 0;
        for (size_t c = 0; c < channels; c++)
            sum += w->samples[i * channels + c];
        samples[i] = (int16_t)(sum / (long)channels);
    }
    out->samples = samples;
    out->n_samples = n;
    out->sample_rate = w->sample_rate;
    return 0;
}

static int flite_synthesize(void *model, const char *text, double speed, backend_audio_t *out,
                            char *err, size_t errlen)
{
    flite_model_t *m = model;

    if (!(speed >= BACKEND_SPEED_MIN && speed <= BACKEND_SPEED_MAX)) {
        snprintf(err, errlen, "speed must be between %g and %g", BACKEND_SPEED_MIN,
                 BACKEND_SPEED_MAX);
        return -1;
    }
    feat_set_float(m->voice->features, "duration_stretch", (float)(1.0 / speed));
    cst_wave *w = flite_text_to_wave(text, m->voice);
    if (!w) {
        snprintf(err, errlen, "flite voice %s produced no audio", m->def->name);
        return -1;
    }
    int rc = wave_to_audio(w, out, err, errlen);
    delete_wave(w);
    return rc;
}

static void flite_unload(void *model)
{
    flite_model_t *m = model;

    if (!m)
        return;
    if (--voice_refs[m->def - voices] == 0)
        m->def->unregister_voice(m->voice);
    free(m);
}

const backend_t backend_flite = {
    .name = "flite",
    .description =
        "CMU Flite speech synthesis with a built-in English voice (params.voice: " VOICE_LIST
        "); answers with 16-bit mono WAV.",
    .tasks = BACKEND_TASK_SYNTHESIZE,
    .check_params = flite_check_params,
    .load = flite_load,
    .predict = NULL,
    .synthesize = flite_synthesize,
    .unload = flite_unload,
};
