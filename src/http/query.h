/* query.h - the query string of a request URL, split and percent-decoded.
 *
 * "a=1&b=x%20y" gives the pairs (a, 1) and (b, x y); '+' is a space, as in
 * HTML forms. A pair without '=' has the empty value. Pure.
 */
#ifndef INFERD_QUERY_H
#define INFERD_QUERY_H

#include <stddef.h>

#define QUERY_NAME_MAX  64
#define QUERY_VALUE_MAX 1024

/* Calls fn(name, value, ctx) for each pair in order, decoded. Stops at the
 * first fn that returns non-zero and returns that value. Returns -1 for a
 * malformed query (a bad %-escape, a decoded NUL, a name or value over its
 * limit), after writing the offending pair's name (as far as decoded) into
 * bad_name, which may be NULL. */
int query_each(const char *query, int (*fn)(const char *name, const char *value, void *ctx),
               void *ctx, char *bad_name, size_t bad_len);

#endif
