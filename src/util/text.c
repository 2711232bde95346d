/* text.c - see text.h. The UTF-8 rules are RFC 3629's (the table of
 * well-formed sequences in its section 4), which are also jansson's. */
#include "util/text.h"

#include <stdbool.h>
#include <string.h>

/* Length of the well-formed sequence at s (at most n bytes available), or
 * 0 when the byte there does not begin one. */
static size_t sequence_length(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */

    if (b < 0x80)
        return b >= 0x20 && b != 0x7F ? 1 : 0;
    if (b >= 0xC2 && b <= 0xDF)
        need = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        need = 3;
    else if (b >= 0xF0 && b <= 0xF4)
        need = 4;
    else
        return 0;
    if (b == 0xE0)
        lo = 0xA0; /* overlong below */
    else if (b == 0xED)
        hi = 0x9F; /* surrogates above */
    else if (b == 0xF0)
        lo = 0x90; /* overlong below */
    else if (b == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

size_t text_quote_utf8(char *out, size_t outlen, const char *s, size_t len, size_t max_bytes)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t used = 0, taken = 0;

    if (outlen == 0)
        return 0;
    if (max_bytes > outlen - 1)
        max_bytes = outlen - 1;
    while (taken < len) {
        size_t n = sequence_length(u + taken, len - taken);
        const char *piece = n ? s + taken : TEXT_REPLACEMENT;
        size_t piece_len = n ? n : sizeof(TEXT_REPLACEMENT) - 1;
        if (used + piece_len > max_bytes)
            break;
        memcpy(out + used, piece, piece_len);
        used += piece_len;
        taken += n ? n : 1;
    }
    out[used] = '\0';
    return taken;
}

const char *text_echo(char *out, size_t outlen, const char *s, size_t max_bytes)
{
    static const char dots[] = "...";
    size_t len = strlen(s);

    if (outlen == 0)
        return "";
    if (outlen <= sizeof(dots)) {
        text_quote_utf8(out, outlen, s, len, max_bytes);
        return out;
    }
    if (max_bytes > outlen - sizeof(dots))
        max_bytes = outlen - sizeof(dots);
    size_t taken = text_quote_utf8(out, outlen, s, len, max_bytes);
    if (taken < len)
        memcpy(out + strlen(out), dots, sizeof(dots)); /* room kept above */
    return out;
}
