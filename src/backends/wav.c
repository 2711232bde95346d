/* wav.c - the canonical 44-byte RIFF/WAVE layout for what we write, and a
 * chunk walker for what we read.
 *
 * Writing never needs more than "RIFF, fmt, data". Reading walks the chunks
 * instead of assuming offset 44, because a WAV that came from elsewhere may
 * carry LIST or fact chunks before its data. Byte order is spelled out
 * byte by byte so the code does not depend on the host's endianness.
 */
#include "backends/wav.h"

#include <stdint.h>
#include <string.h>

#define WAV_FORMAT_PCM        1
#define WAV_FORMAT_EXTENSIBLE 0xFFFE

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, (uint16_t)v);
    put_le16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)get_le16(p) | (uint32_t)get_le16(p + 2) << 16;
}

/* Writes a four-character chunk tag (not a C string: no terminator). */
static void put_tag(uint8_t *p, const char tag[4])
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)tag[i];
}

void wav_encode(const backend_audio_t *a, buf_t *out)
{
    /* RIFF sizes are 32-bit; the IPC payload limit keeps real audio far
     * below this, so the clamp only guards against nonsense input. */
    size_t max_samples = (UINT32_MAX - WAV_HEADER_SIZE) / 2;
    size_t n = a->n_samples < max_samples ? a->n_samples : max_samples;
    uint32_t data_bytes = (uint32_t)(n * 2);
    uint32_t rate = (uint32_t)a->sample_rate;
    uint8_t h[WAV_HEADER_SIZE];

    put_tag(h, "RIFF");
    put_le32(h + 4, 36 + data_bytes);
    put_tag(h + 8, "WAVE");
    put_tag(h + 12, "fmt ");
    put_le32(h + 16, 16);             /* fmt chunk size */
    put_le16(h + 20, WAV_FORMAT_PCM); /* audio format */
    put_le16(h + 22, 1);              /* channels */
    put_le32(h + 24, rate);           /* sample rate */
    put_le32(h + 28, rate * 2);       /* byte rate */
    put_le16(h + 32, 2);              /* block align */
    put_le16(h + 34, 16);             /* bits per sample */
    put_tag(h + 36, "data");
    put_le32(h + 40, data_bytes);

    buf_reserve(out, sizeof(h) + data_bytes);
    buf_append(out, h, sizeof(h));
    for (size_t i = 0; i < n; i++) {
        uint8_t s[2];
        put_le16(s, (uint16_t)a->samples[i]);
        buf_append(out, s, 2);
    }
}

typedef struct wav_fmt {
    uint16_t format;
    uint16_t channels;
    uint32_t rate;
    uint16_t bits;
} wav_fmt_t;

static int parse_fmt(const uint8_t *p, uint32_t size, wav_fmt_t *fmt)
{
    if (size < 16)
        return -1;
    fmt->format = get_le16(p);
    fmt->channels = get_le16(p + 2);
    fmt->rate = get_le32(p + 4);
    fmt->bits = get_le16(p + 14);
    if (fmt->format != WAV_FORMAT_PCM && fmt->format != WAV_FORMAT_EXTENSIBLE)
        return -1;
    if (fmt->channels == 0 || fmt->rate == 0 || fmt->rate > INT32_MAX || fmt->bits == 0 ||
        fmt->bits % 8 != 0)
        return -1;
    return 0;
}

int wav_parse_header(const void *data, size_t len, int *sample_rate, double *duration_seconds)
{
    const uint8_t *p = data;
    wav_fmt_t fmt = {0};
    int have_fmt = 0;

    if (len < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0)
        return -1;
    size_t off = 12;
    while (off + 8 <= len) {
        const uint8_t *chunk = p + off;
        uint32_t size = get_le32(chunk + 4);
        size_t avail = len - off - 8;
        if (memcmp(chunk, "fmt ", 4) == 0) {
            if (size > avail || parse_fmt(chunk + 8, size, &fmt) < 0)
                return -1;
            have_fmt = 1;
        } else if (memcmp(chunk, "data", 4) == 0) {
            if (!have_fmt)
                return -1;
            /* A streamed WAV may declare more (or 0xFFFFFFFF) bytes than it
             * holds: the duration is what is actually there. */
            size_t bytes = size < avail ? size : avail;
            size_t frame = (size_t)fmt.channels * (fmt.bits / 8);
            *sample_rate = (int)fmt.rate;
            size_t frames = bytes / frame; /* whole frames only */
            *duration_seconds = (double)frames / fmt.rate;
            return 0;
        }
        if (size > avail)
            return -1;
        off += 8 + (size_t)size + (size & 1); /* chunks are padded to even sizes */
    }
    return -1;
}
