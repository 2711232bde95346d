/* query.h - the query string of a request URL, split and percent-decoded.
 *
 * "a=1&b=x%20y" gives the pairs (a, 1) and (b, x y); '+' is a space, as in
 * HTML forms. A pair without '=' has the empty value; an empty pair
 * ("a=1&&b=2") is skipped. Pure.
 */
#ifndef INFERD_QUERY_H
#define INFERD_QUERY_H

#include <stddef.h>

#define QUERY_NAME_MAX  64   /* a name of up to 63 bytes, decoded */
#define QUERY_VALUE_MAX 1024 /* a value of up to 1023 bytes, decoded */

/* Why a query string is malformed. */
typedef enum query_problem_kind {
    QUERY_OK = 0,
    QUERY_BAD_ENCODING,   /* a bad %-escape, or one that decodes to NUL */
    QUERY_EMPTY_NAME,     /* "=1": a pair with a value but no name */
    QUERY_NAME_TOO_LONG,  /* over QUERY_NAME_MAX - 1 bytes decoded */
    QUERY_VALUE_TOO_LONG, /* over QUERY_VALUE_MAX - 1 bytes decoded */
} query_problem_kind_t;

typedef struct query_problem {
    query_problem_kind_t kind;
    /* The pair at fault, valid UTF-8 (see util/text.h): its decoded name
     * when the name decoded, else the name as written, cut to fit. */
    char name[QUERY_NAME_MAX];
} query_problem_t;

/* Calls fn(name, value, ctx) for each pair in order, decoded. Stops at the
 * first fn that returns non-zero and returns that value (problem->kind
 * stays QUERY_OK). Returns -1 for a malformed query, after filling
 * problem, which may be NULL. */
int query_each(const char *query, int (*fn)(const char *name, const char *value, void *ctx),
               void *ctx, query_problem_t *problem);

#endif
