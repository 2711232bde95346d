/* query.c - query-string splitting and percent-decoding (see query.h). */
#include "http/query.h"
#include "util/text.h"

#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes [s, end) into out (NUL-terminated). -1 when malformed or too long. */
static int decode(const char *s, const char *end, char *out, size_t outlen)
{
    size_t n = 0;
    while (s < end) {
        int c = (unsigned char)*s;
        if (c == '%') {
            if (end - s < 3 || hex_value(s[1]) < 0 || hex_value(s[2]) < 0)
                return -1;
            c = hex_value(s[1]) * 16 + hex_value(s[2]);
            if (c == 0)
                return -1;
            s += 3;
        } else {
            if (c == '+')
                c = ' ';
            s++;
        }
        if (n + 1 >= outlen)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

int query_each(const char *query, int (*fn)(const char *name, const char *value, void *ctx),
               void *ctx, char *bad_name, size_t bad_len)
{
    char name[QUERY_NAME_MAX], value[QUERY_VALUE_MAX];
    const char *p = query ? query : "";

    if (bad_name && bad_len)
        bad_name[0] = '\0';
    while (*p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *name_end = eq ? eq : end;
        if (end > p) {
            if (decode(p, name_end, name, sizeof(name)) < 0 ||
                decode(eq ? eq + 1 : end, end, value, sizeof(value)) < 0) {
                /* Raw bytes of the URL: quoted as UTF-8, so that a message
                 * naming them can be sent. */
                if (bad_name && bad_len)
                    text_quote_utf8(bad_name, bad_len, p, (size_t)(name_end - p), bad_len - 1);
                return -1;
            }
            int rc = fn(name, value, ctx);
            if (rc != 0)
                return rc;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}
