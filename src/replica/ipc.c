/* ipc.c - encoder and incremental decoder for the worker frame protocol.
 *
 * The decoder keeps one buffer and an offset into it. A returned frame's
 * payload points into the buffer, so the caller uses it without a copy;
 * frames already returned are dropped only when more bytes are fed, so a
 * read holding many small frames costs one move, not one per frame.
 */
#include "replica/ipc.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>

struct ipc_decoder {
    buf_t in;
    size_t consumed; /* bytes of `in` already returned as frames */
    uint32_t max_payload;
};

static const char *const type_names[] = {
    "UNKNOWN", "READY", "INFER", "RESULT", "ERROR", "PING", "PONG", "SHUTDOWN",
};

const char *ipc_type_name(uint8_t type)
{
    return type <= IPC_TYPE_MAX ? type_names[type] : type_names[0];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ipc_header_encode(const ipc_header_t *h, uint8_t out[IPC_HEADER_SIZE])
{
    out[0] = 'I';
    out[1] = 'F';
    out[2] = IPC_VERSION;
    out[3] = h->type;
    put_be32(out + 4, h->length);
    put_be32(out + 8, (uint32_t)(h->request_id >> 32));
    put_be32(out + 12, (uint32_t)h->request_id);
}

int ipc_header_decode(const uint8_t in[IPC_HEADER_SIZE], uint32_t max_payload, ipc_header_t *h,
                      char *err, size_t errlen)
{
    if (in[0] != 'I' || in[1] != 'F') {
        snprintf(err, errlen, "bad frame magic 0x%02x%02x", in[0], in[1]);
        return -1;
    }
    if (in[2] != IPC_VERSION) {
        snprintf(err, errlen, "unsupported protocol version %u (expected %u)", in[2], IPC_VERSION);
        return -1;
    }
    if (in[3] == 0 || in[3] > IPC_TYPE_MAX) {
        snprintf(err, errlen, "unknown frame type %u", in[3]);
        return -1;
    }
    h->type = in[3];
    h->length = get_be32(in + 4);
    h->request_id = (uint64_t)get_be32(in + 8) << 32 | get_be32(in + 12);
    if (h->length > max_payload) {
        snprintf(err, errlen, "%s frame of %u bytes exceeds the %u-byte limit",
                 ipc_type_name(h->type), h->length, max_payload);
        return -1;
    }
    return 0;
}

int ipc_frame_append(buf_t *out, uint8_t type, uint64_t request_id, const void *payload,
                     size_t length)
{
    if (length > IPC_MAX_PAYLOAD)
        return -1;
    uint8_t header[IPC_HEADER_SIZE];
    ipc_header_t h = {.type = type, .length = (uint32_t)length, .request_id = request_id};
    ipc_header_encode(&h, header);
    buf_append(out, header, sizeof(header));
    buf_append(out, payload, length);
    return 0;
}

ipc_decoder_t *ipc_decoder_new(uint32_t max_payload)
{
    ipc_decoder_t *d = xcalloc(1, sizeof(*d));
    d->max_payload = max_payload;
    return d;
}

void ipc_decoder_free(ipc_decoder_t *d)
{
    if (!d)
        return;
    buf_free(&d->in);
    free(d);
}

static void drop_consumed(ipc_decoder_t *d)
{
    if (d->consumed) {
        buf_consume(&d->in, d->consumed);
        d->consumed = 0;
    }
}

void ipc_decoder_feed(ipc_decoder_t *d, const void *data, size_t len)
{
    drop_consumed(d);
    buf_append(&d->in, data, len);
}

int ipc_decoder_next(ipc_decoder_t *d, ipc_frame_t *frame, char *err, size_t errlen)
{
    size_t available = d->in.len - d->consumed;
    if (available < IPC_HEADER_SIZE)
        return 0;
    const uint8_t *p = (const uint8_t *)d->in.data + d->consumed;
    ipc_header_t header;
    if (ipc_header_decode(p, d->max_payload, &header, err, errlen) < 0)
        return -1;
    size_t total = IPC_HEADER_SIZE + (size_t)header.length;
    if (available < total)
        return 0;
    frame->header = header;
    frame->payload = p + IPC_HEADER_SIZE;
    d->consumed += total;
    return 1;
}

size_t ipc_decoder_pending(const ipc_decoder_t *d)
{
    return d->in.len - d->consumed;
}
