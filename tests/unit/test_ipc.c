/* test_ipc.c - the worker frame codec.
 *
 * The codec sits between the gateway and every replica, and a replica is
 * an untrusted peer: these tables check that every well-formed header
 * survives a round trip, that each kind of malformed header is refused with
 * a reason, and that the decoder returns exactly the frames that were sent,
 * in order, whatever sizes the byte stream happens to arrive in.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica/ipc.h"

#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

Test(ipc, type_names)
{
    static const struct {
        unsigned type;
        const char *name;
    } rows[] = {
        {0, "UNKNOWN"},         {IPC_READY, "READY"},       {IPC_INFER, "INFER"},
        {IPC_RESULT, "RESULT"}, {IPC_ERROR, "ERROR"},       {IPC_PING, "PING"},
        {IPC_PONG, "PONG"},     {IPC_SHUTDOWN, "SHUTDOWN"}, {IPC_TYPE_MAX + 1, "UNKNOWN"},
        {255, "UNKNOWN"},
    };
    for (size_t i = 0; i < N_ROWS(rows); i++)
        cr_expect_str_eq(ipc_type_name((uint8_t)rows[i].type), rows[i].name, "type %u",
                         rows[i].type);
}

/* Every type with lengths and ids at their edges: the bytes follow the
 * documented layout and decode to the same header. */
Test(ipc, header_round_trip)
{
    static const uint32_t lengths[] = {0, 1, 255, 256, 65536, IPC_MAX_PAYLOAD};
    static const uint64_t ids[] = {0, 1, 0x0102030405060708ull, UINT32_MAX + 1ull, UINT64_MAX};

    for (unsigned t = 1; t <= IPC_TYPE_MAX; t++) {
        for (size_t li = 0; li < N_ROWS(lengths); li++) {
            for (size_t ii = 0; ii < N_ROWS(ids); ii++) {
                ipc_header_t in = {
                    .type = (uint8_t)t, .length = lengths[li], .request_id = ids[ii]};
                uint8_t raw[IPC_HEADER_SIZE];
                ipc_header_encode(&in, raw);

                cr_expect_eq(raw[0], 'I');
                cr_expect_eq(raw[1], 'F');
                cr_expect_eq(raw[2], IPC_VERSION);
                cr_expect_eq(raw[3], t);
                for (int b = 0; b < 4; b++)
                    cr_expect_eq(raw[4 + b], (uint8_t)(lengths[li] >> (24 - 8 * b)),
                                 "length byte %d", b);
                for (int b = 0; b < 8; b++)
                    cr_expect_eq(raw[8 + b], (uint8_t)(ids[ii] >> (56 - 8 * b)), "id byte %d", b);

                ipc_header_t out;
                char err[128] = "";
                memset(&out, 0xAA, sizeof(out));
                cr_assert_eq(ipc_header_decode(raw, IPC_MAX_PAYLOAD, &out, err, sizeof(err)), 0,
                             "type %u length %u id %llu: %s", t, lengths[li],
                             (unsigned long long)ids[ii], err);
                cr_expect_eq(out.type, in.type);
                cr_expect_eq(out.length, in.length);
                cr_expect_eq(out.request_id, in.request_id);
            }
        }
    }
}

/* One valid header, one byte changed, one reason expected. */
Test(ipc, header_rejections)
{
    static const struct {
        const char *name;
        int offset; /* byte to overwrite, -1 for none */
        uint8_t value;
        uint32_t length;      /* header's length field */
        uint32_t max_payload; /* limit given to the decoder */
        const char *error;    /* NULL: accepted */
    } rows[] = {
        {"valid", -1, 0, 10, 100, NULL},
        {"bad first magic byte", 0, 'i', 10, 100, "bad frame magic"},
        {"bad second magic byte", 1, 'G', 10, 100, "bad frame magic"},
        {"zero magic", 0, 0, 10, 100, "bad frame magic"},
        {"version 0", 2, 0, 10, 100, "unsupported protocol version 0"},
        {"next version", 2, IPC_VERSION + 1, 10, 100, "unsupported protocol version"},
        {"type 0", 3, 0, 10, 100, "unknown frame type 0"},
        {"type beyond max", 3, IPC_TYPE_MAX + 1, 10, 100, "unknown frame type"},
        {"type 255", 3, 255, 10, 100, "unknown frame type 255"},
        {"length at the limit", -1, 0, 100, 100, NULL},
        {"length one over the limit", -1, 0, 101, 100, "exceeds the 100-byte limit"},
        {"length at the real limit", -1, 0, IPC_MAX_PAYLOAD, IPC_MAX_PAYLOAD, NULL},
        {"length over the real limit", -1, 0, IPC_MAX_PAYLOAD + 1, IPC_MAX_PAYLOAD, "exceeds"},
        {"length 4 GiB - 1", -1, 0, UINT32_MAX, IPC_MAX_PAYLOAD, "exceeds"},
        {"empty payload with limit 0", -1, 0, 0, 0, NULL},
    };
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        ipc_header_t h = {.type = IPC_RESULT, .length = rows[i].length, .request_id = 42};
        uint8_t raw[IPC_HEADER_SIZE];
        ipc_header_encode(&h, raw);
        if (rows[i].offset >= 0)
            raw[rows[i].offset] = rows[i].value;

        ipc_header_t out;
        char err[128] = "";
        int rc = ipc_header_decode(raw, rows[i].max_payload, &out, err, sizeof(err));
        if (!rows[i].error) {
            cr_expect_eq(rc, 0, "[%s] refused: %s", rows[i].name, err);
        } else {
            cr_expect_eq(rc, -1, "[%s] accepted", rows[i].name);
            cr_expect(strstr(err, rows[i].error) != NULL, "[%s] message \"%s\" lacks \"%s\"",
                      rows[i].name, err, rows[i].error);
        }
    }
}

/* The stream used by the decoder tests: varied types, ids and payload
 * sizes, including empty payloads back to back and one larger than a
 * typical read. */
typedef struct sent_frame {
    uint8_t type;
    uint64_t id;
    size_t length;
} sent_frame_t;

static const sent_frame_t stream_frames[] = {
    {IPC_READY, 0, 48}, {IPC_PING, 1, 0},      {IPC_PONG, 1, 0},
    {IPC_INFER, 7, 1},  {IPC_RESULT, 7, 5000}, {IPC_INFER, UINT64_MAX, 15},
    {IPC_ERROR, 8, 16}, {IPC_RESULT, 9, 17},   {IPC_SHUTDOWN, 0, 0},
};

/* Payload bytes depend on frame and position, so a frame given another
 * frame's payload, or a payload shifted by one byte, is caught. */
static uint8_t payload_byte(size_t frame, size_t i)
{
    return (uint8_t)(frame * 31 + i * 7 + (i >> 8));
}

static void build_stream(buf_t *out)
{
    for (size_t f = 0; f < N_ROWS(stream_frames); f++) {
        size_t len = stream_frames[f].length;
        uint8_t *payload = len ? malloc(len) : NULL;
        for (size_t i = 0; i < len; i++)
            payload[i] = payload_byte(f, i);
        ipc_frame_append(out, stream_frames[f].type, stream_frames[f].id, payload, len);
        free(payload);
    }
}

/* Drains every whole frame, checking each against the next expected one. */
static void drain(ipc_decoder_t *d, size_t *next, const char *label)
{
    ipc_frame_t frame;
    char err[128] = "";
    int rc;
    while ((rc = ipc_decoder_next(d, &frame, err, sizeof(err))) == 1) {
        size_t f = *next;
        cr_assert_lt(f, N_ROWS(stream_frames), "%s: frame %zu beyond the stream", label, f);
        const sent_frame_t *want = &stream_frames[f];
        cr_expect_eq(frame.header.type, want->type, "%s: frame %zu type", label, f);
        cr_expect_eq(frame.header.request_id, want->id, "%s: frame %zu id", label, f);
        cr_assert_eq(frame.header.length, want->length, "%s: frame %zu length", label, f);
        cr_assert(want->length == 0 || frame.payload != NULL);
        for (size_t i = 0; i < want->length; i++) {
            if (frame.payload[i] != payload_byte(f, i)) {
                cr_assert_fail("%s: frame %zu payload byte %zu differs", label, f, i);
            }
        }
        (*next)++;
    }
    cr_assert_eq(rc, 0, "%s: decoder error: %s", label, err);
}

/* The same stream cut into pieces of each size returns the same frames. */
Test(ipc, decoder_any_chunking)
{
    static const size_t chunks[] = {1, 2, 3, 7, 15, 16, 17, 31, 100, 4096, SIZE_MAX};
    buf_t stream = BUF_INIT;
    build_stream(&stream);

    for (size_t c = 0; c < N_ROWS(chunks) + 1; c++) {
        /* The last pass uses irregular sizes from a fixed-seed generator. */
        bool irregular = c == N_ROWS(chunks);
        uint32_t seed = 12345;
        char label[64];
        if (irregular)
            snprintf(label, sizeof(label), "irregular chunks");
        else
            snprintf(label, sizeof(label), "chunks of %zu", chunks[c]);

        ipc_decoder_t *d = ipc_decoder_new(IPC_MAX_PAYLOAD);
        size_t next = 0;
        for (size_t off = 0; off < stream.len;) {
            size_t n;
            if (irregular) {
                seed = seed * 1103515245u + 12345u;
                n = 1 + (seed >> 16) % 40;
            } else {
                n = chunks[c];
            }
            if (n > stream.len - off)
                n = stream.len - off;
            ipc_decoder_feed(d, stream.data + off, n);
            off += n;
            drain(d, &next, label);
        }
        cr_expect_eq(next, N_ROWS(stream_frames), "%s: %zu frames returned", label, next);
        cr_expect_eq(ipc_decoder_pending(d), 0, "%s: bytes left over", label);
        ipc_decoder_free(d);
    }
    buf_free(&stream);
}

/* Every proper prefix of a frame asks for more and never yields a frame;
 * the rest of the bytes then complete it. */
Test(ipc, decoder_truncated_frame)
{
    static const size_t payload_sizes[] = {0, 1, 40};
    for (size_t s = 0; s < N_ROWS(payload_sizes); s++) {
        buf_t one = BUF_INIT;
        uint8_t payload[40];
        for (size_t i = 0; i < sizeof(payload); i++)
            payload[i] = (uint8_t)i;
        ipc_frame_append(&one, IPC_RESULT, 99, payload, payload_sizes[s]);

        for (size_t cut = 0; cut < one.len; cut++) {
            ipc_decoder_t *d = ipc_decoder_new(IPC_MAX_PAYLOAD);
            ipc_frame_t frame;
            char err[128] = "";
            ipc_decoder_feed(d, one.data, cut);
            cr_expect_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), 0,
                         "payload %zu cut at %zu: %s", payload_sizes[s], cut, err);
            cr_expect_eq(ipc_decoder_pending(d), cut);
            /* Asking again changes nothing. */
            cr_expect_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), 0);

            ipc_decoder_feed(d, one.data + cut, one.len - cut);
            cr_assert_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), 1,
                         "payload %zu cut at %zu: %s", payload_sizes[s], cut, err);
            cr_expect_eq(frame.header.type, IPC_RESULT);
            cr_expect_eq(frame.header.request_id, 99);
            cr_expect_eq(frame.header.length, payload_sizes[s]);
            cr_expect_eq(memcmp(frame.payload, payload, payload_sizes[s]), 0);
            cr_expect_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), 0);
            cr_expect_eq(ipc_decoder_pending(d), 0);
            ipc_decoder_free(d);
        }
        buf_free(&one);
    }
}

Test(ipc, empty_payload_frame)
{
    buf_t out = BUF_INIT;
    ipc_frame_append(&out, IPC_PING, 5, NULL, 0);
    cr_assert_eq(out.len, IPC_HEADER_SIZE);

    ipc_decoder_t *d = ipc_decoder_new(0); /* a zero limit still admits empty frames */
    ipc_frame_t frame;
    char err[128] = "";
    ipc_decoder_feed(d, out.data, out.len);
    cr_assert_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), 1, "%s", err);
    cr_expect_eq(frame.header.type, IPC_PING);
    cr_expect_eq(frame.header.length, 0);
    cr_expect_eq(frame.header.request_id, 5);
    cr_expect_eq(ipc_decoder_pending(d), 0);
    cr_expect_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), 0);
    ipc_decoder_free(d);
    buf_free(&out);
}

/* A malformed header fails the stream as soon as its 16 bytes are in, even
 * after good frames and before any of an oversized payload arrives, and
 * keeps failing: the stream cannot be resynchronised. */
Test(ipc, decoder_rejects_malformed_stream)
{
    static const struct {
        const char *name;
        int offset; /* byte of the second header to overwrite, -1 for none */
        uint8_t value;
        uint32_t length;
        const char *error;
    } rows[] = {
        {"bad magic", 0, 'X', 4, "bad frame magic"},
        {"bad version", 2, IPC_VERSION + 1, 4, "unsupported protocol version"},
        {"type 0", 3, 0, 4, "unknown frame type 0"},
        {"type beyond max", 3, IPC_TYPE_MAX + 1, 4, "unknown frame type"},
        {"oversized frame", -1, 0, 1025, "exceeds the 1024-byte limit"},
    };
    for (size_t i = 0; i < N_ROWS(rows); i++) {
        buf_t stream = BUF_INIT;
        ipc_frame_append(&stream, IPC_PONG, 1, "ok", 2);
        ipc_header_t h = {.type = IPC_RESULT, .length = rows[i].length, .request_id = 2};
        uint8_t raw[IPC_HEADER_SIZE];
        ipc_header_encode(&h, raw);
        if (rows[i].offset >= 0)
            raw[rows[i].offset] = rows[i].value;
        buf_append(&stream, raw, sizeof(raw));

        ipc_decoder_t *d = ipc_decoder_new(1024);
        ipc_frame_t frame;
        char err[128] = "";
        ipc_decoder_feed(d, stream.data, stream.len);
        cr_expect_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), 1, "[%s] first frame: %s",
                     rows[i].name, err);
        cr_expect_eq(frame.header.type, IPC_PONG);
        cr_expect_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), -1, "[%s] accepted",
                     rows[i].name);
        cr_expect(strstr(err, rows[i].error) != NULL, "[%s] message \"%s\" lacks \"%s\"",
                  rows[i].name, err, rows[i].error);
        err[0] = '\0';
        cr_expect_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), -1, "[%s] recovered",
                     rows[i].name);
        cr_expect_neq(err[0], '\0', "[%s] second refusal has no reason", rows[i].name);
        ipc_decoder_free(d);
        buf_free(&stream);
    }
}

/* A payload stays valid until the next call, as the header promises:
 * frames taken one at a time out of one buffer keep their own bytes. */
Test(ipc, payload_valid_until_next_call)
{
    buf_t stream = BUF_INIT;
    ipc_frame_append(&stream, IPC_RESULT, 1, "first", 5);
    ipc_frame_append(&stream, IPC_RESULT, 2, "second", 6);
    ipc_decoder_t *d = ipc_decoder_new(IPC_MAX_PAYLOAD);
    ipc_decoder_feed(d, stream.data, stream.len);

    ipc_frame_t frame;
    char err[128] = "";
    cr_assert_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), 1);
    cr_expect_eq(memcmp(frame.payload, "first", 5), 0);
    cr_expect_eq(ipc_decoder_pending(d), IPC_HEADER_SIZE + 6);
    cr_assert_eq(ipc_decoder_next(d, &frame, err, sizeof(err)), 1);
    cr_expect_eq(frame.header.request_id, 2);
    cr_expect_eq(memcmp(frame.payload, "second", 6), 0);
    cr_expect_eq(ipc_decoder_pending(d), 0);
    ipc_decoder_free(d);
    buf_free(&stream);
}
