/* base64.h - standard base64 (RFC 4648, with padding), for audio in JSON. */
#ifndef INFERD_BASE64_H
#define INFERD_BASE64_H

#include <stddef.h>

/* Returns a malloc'ed NUL-terminated string; *out_len gets its length. */
char *base64_encode(const void *data, size_t len, size_t *out_len);

#endif
