/* request.h - reading JSON requests and writing JSON answers, the same way
 * for every endpoint.
 *
 * The readers answer the request themselves when the input is bad (400
 * invalid_request naming the field, or 415) and return NULL / -1, so a
 * handler only has to stop:
 *
 *     json_t *body = api_read_object(req);
 *     if (!body) return;
 *     if (api_field_string(req, body, "model_name", true, &name) < 0) goto done;
 */
#ifndef INFERD_API_REQUEST_H
#define INFERD_API_REQUEST_H

#include <jansson.h>
#include <stdbool.h>

#include "http/server.h"

/* Answers with body serialised once; takes the reference. */
void api_reply_json(http_request_t *req, int status, json_t *body);

/* Answers {"success": false, "error": code, "message": ...}. */
void api_reply_error(http_request_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Current time as "2026-12-03T18:02:04Z" (UTC). */
void api_format_timestamp(char out[32]);

/* Parses the body as a JSON object (415 unless the content type is JSON or
 * absent; 400 for bad JSON or a non-object). New reference or NULL. */
json_t *api_read_object(http_request_t *req);

/* Answers 400 naming the first field of obj not in known (NULL-ended). */
int api_reject_unknown_fields(http_request_t *req, const json_t *obj, const char *const *known);

/* Field readers: 0 when present and valid (or absent and not required,
 * leaving *out untouched), -1 after answering 400. */
int api_field_string(http_request_t *req, const json_t *obj, const char *name, bool required,
                     const char **out);
int api_field_number(http_request_t *req, const json_t *obj, const char *name, bool required,
                     double min, double max, double *out);
int api_field_int(http_request_t *req, const json_t *obj, const char *name, bool required,
                  long long min, long long max, long long *out);

#endif
