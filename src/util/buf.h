/* buf.h - a growable byte buffer.
 *
 * The owner embeds a buf_t and calls buf_free() when done. Out of memory
 * aborts with a message (see util/xalloc.h): the gateway cannot serve
 * without memory, and a half-built response is worse than a clear crash.
 */
#ifndef INFERD_BUF_H
#define INFERD_BUF_H

#include <stddef.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *data, size_t len);
void buf_append_str(buf_t *b, const char *s);
void buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes, keeping the rest. */
void buf_consume(buf_t *b, size_t n);
void buf_reset(buf_t *b);
void buf_free(buf_t *b);
/* Hands the bytes over to the caller (who frees them) and empties b. */
char *buf_steal(buf_t *b, size_t *len);

#endif
