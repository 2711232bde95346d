/* query.c - query-string splitting and percent-decoding (see query.h). */
#include "http/query.h"
#include "util/text.h"

#include <stdbool.h>
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

/* Decodes [s, end) into out (NUL-terminated). QUERY_OK, QUERY_BAD_ENCODING
 * or too_long (for a result over outlen - 1 bytes). */
static query_problem_kind_t decode(const char *s, const char *end, char *out, size_t outlen,
                                   query_problem_kind_t too_long)
{
    size_t n = 0;
    while (s < end) {
        int c = (unsigned char)*s;
        if (c == '%') {
            if (end - s < 3 || hex_value(s[1]) < 0 || hex_value(s[2]) < 0)
                return QUERY_BAD_ENCODING;
            c = hex_value(s[1]) * 16 + hex_value(s[2]);
            if (c == 0)
                return QUERY_BAD_ENCODING;
            s += 3;
        } else {
            if (c == '+')
                c = ' ';
            s++;
        }
        if (n + 1 >= outlen)
            return too_long;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return QUERY_OK;
}

int query_each(const char *query, int (*fn)(const char *name, const char *value, void *ctx),
               void *ctx, query_problem_t *problem)
{
    char name[QUERY_NAME_MAX], value[QUERY_VALUE_MAX];
    const char *p = query ? query : "";

    if (problem) {
        problem->kind = QUERY_OK;
        problem->name[0] = '\0';
    }
    while (*p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *name_end = eq ? eq : end;
        if (end > p) {
            query_problem_kind_t kind =
                name_end == p ? QUERY_EMPTY_NAME
                              : decode(p, name_end, name, sizeof(name), QUERY_NAME_TOO_LONG);
            bool name_ok = kind == QUERY_OK;
            if (name_ok)
                kind = decode(eq ? eq + 1 : end, end, value, sizeof(value), QUERY_VALUE_TOO_LONG);
            if (kind != QUERY_OK) {
                /* Decoded bytes or the URL's own: quoted as UTF-8 either
                 * way, so that a message naming them can be sent. */
                if (problem) {
                    problem->kind = kind;
                    if (name_ok)
                        text_quote_utf8(problem->name, sizeof(problem->name), name, strlen(name),
                                        sizeof(problem->name) - 1);
                    else
                        text_quote_utf8(problem->name, sizeof(problem->name), p,
                                        (size_t)(name_end - p), sizeof(problem->name) - 1);
                }
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
