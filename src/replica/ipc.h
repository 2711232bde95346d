/* ipc.h - the framed protocol between the gateway and a worker process.
 *
 * Every message is a 16-byte header followed by `length` payload bytes:
 *
 *   offset 0  2 bytes  magic "IF"
 *   offset 2  1 byte   protocol version (IPC_VERSION)
 *   offset 3  1 byte   type (ipc_type_t)
 *   offset 4  4 bytes  payload length, big-endian
 *   offset 8  8 bytes  request id, big-endian (0 when not about a request)
 *
 * Payloads: READY, INFER, ERROR and the predict RESULT carry JSON; a
 * synthesize RESULT carries the WAV file bytes. The codec assumes only a
 * byte stream, so the same frames work over a socketpair today and TCP later.
 * The codec is pure: no I/O, no clock.
 */
#ifndef INFERD_IPC_H
#define INFERD_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define IPC_HEADER_SIZE 16
#define IPC_VERSION     1
/* Large enough for several minutes of 16-bit audio; anything larger is a
 * broken or hostile peer. */
#define IPC_MAX_PAYLOAD (64u << 20)

typedef enum {
    IPC_READY = 1, /* worker -> gateway: model loaded; JSON {load_time_ms, memory_mb, pid} */
    IPC_INFER,     /* gateway -> worker: the client's JSON request (inputs | text, speed),
                      with "task" when the backend offers several */
    IPC_RESULT,    /* worker -> gateway: JSON {result} or WAV bytes */
    IPC_ERROR,     /* worker -> gateway: JSON {error, message}; id 0 = load failed */
    IPC_PING,      /* gateway -> worker: liveness probe */
    IPC_PONG,      /* worker -> gateway: answer with the PING's id */
    IPC_SHUTDOWN,  /* gateway -> worker: finish and exit 0 */
    IPC_TYPE_MAX = IPC_SHUTDOWN
} ipc_type_t;

typedef struct ipc_header {
    uint8_t type;
    uint32_t length;
    uint64_t request_id;
} ipc_header_t;

/* A decoded frame. `payload` points into the decoder's buffer and stays
 * valid until the next call to ipc_decoder_feed() or ipc_decoder_free(). */
typedef struct ipc_frame {
    ipc_header_t header;
    const uint8_t *payload;
} ipc_frame_t;

/* Returns the name of a frame type ("READY", ...) or "UNKNOWN". */
const char *ipc_type_name(uint8_t type);

void ipc_header_encode(const ipc_header_t *h, uint8_t out[IPC_HEADER_SIZE]);

/* Checks magic, version, type and length against max_payload.
 * Returns 0, or -1 with a sentence in err. */
int ipc_header_decode(const uint8_t in[IPC_HEADER_SIZE], uint32_t max_payload, ipc_header_t *h,
                      char *err, size_t errlen);

/* Appends one whole frame (header and payload) to out. Returns 0, or -1
 * (appending nothing) when length is over IPC_MAX_PAYLOAD. */
int ipc_frame_append(buf_t *out, uint8_t type, uint64_t request_id, const void *payload,
                     size_t length);

/* Incremental decoder for a byte stream. */
typedef struct ipc_decoder ipc_decoder_t;

ipc_decoder_t *ipc_decoder_new(uint32_t max_payload);
void ipc_decoder_free(ipc_decoder_t *d);

/* Adds bytes read from the stream. */
void ipc_decoder_feed(ipc_decoder_t *d, const void *data, size_t len);

/* Returns 1 and fills frame when a whole frame is buffered, 0 when more
 * bytes are needed, -1 when the stream is malformed (err says why; the
 * stream cannot be resynchronised and the peer should be dropped). */
int ipc_decoder_next(ipc_decoder_t *d, ipc_frame_t *frame, char *err, size_t errlen);

/* Bytes buffered but not yet returned as frames. */
size_t ipc_decoder_pending(const ipc_decoder_t *d);

#endif
