/* wav.h - RIFF/WAVE encoding of synthesized audio, and header inspection.
 *
 * Workers answer synthesize requests with a whole WAV file (16-bit PCM,
 * mono); the gateway reads its header back to report sample rate and
 * duration without decoding the samples.
 */
#ifndef INFERD_WAV_H
#define INFERD_WAV_H

#include <stddef.h>

#include "backends/backend.h"
#include "util/buf.h"

#define WAV_HEADER_SIZE 44

/* Appends a 44-byte header and the samples (little-endian 16-bit mono
 * PCM) to out. */
void wav_encode(const backend_audio_t *a, buf_t *out);

/* Reads the header of a PCM WAV file held in data. Fills *sample_rate and
 * *duration_seconds (from the data chunk, clamped to the bytes present) and
 * returns 0, or returns -1 when data is not a PCM RIFF/WAVE file. */
int wav_parse_header(const void *data, size_t len, int *sample_rate, double *duration_seconds);

#endif
