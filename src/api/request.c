/* request.c - the field schema helper every endpoint uses, so that a bad
 * field is reported the same way everywhere:
 * {"success": false, "error": "invalid_request",
 *  "message": "field 'target_replicas' must be an integer between 0 and 10"}. */
#include "api/request.h"
#include "util/log.h"
#include "util/text.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void api_reply_json(http_request_t *req, int status, json_t *body)
{
    /* Nine significant digits keep a millisecond figure to the nanosecond
     * without printing binary noise. */
    bool built = body != NULL;
    char *text = built ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(body);
    if (!text) {
        /* A bug (a string that is not UTF-8, or out of memory) turned the
         * intended answer into a 500: the log has to say so. */
        char path[80];
        log_error("api",
                  "could not serialise the answer; sent 500 instead method=%s path=%s "
                  "intended_status=%d reason=%s",
                  http_request_method(req),
                  text_echo(path, sizeof(path), http_request_path(req), 64), status,
                  built ? "json_dumps failed" : "the answer was never built");
        http_respond_error(req, 500, "internal_error", "could not serialise the answer", NULL);
        return;
    }
    http_respond(req, status, "application/json", text, strlen(text), NULL);
    free(text);
}

void api_reply_error(http_request_t *req, int status, const char *code, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    http_respond_error(req, status, code, message, NULL);
}

void api_format_timestamp(char out[32])
{
    time_format_iso(time_unix_now(), out);
}

static bool is_json_content_type(const char *ct)
{
    if (!ct)
        return true; /* a client that names no type gets the benefit of the doubt */
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == strlen("application/json") && strncasecmp(ct, "application/json", n) == 0;
}

json_t *api_read_object(http_request_t *req)
{
    const char *ct = http_request_header(req, "Content-Type");
    if (!is_json_content_type(ct)) {
        char shown[68];
        api_reply_error(req, 415, "unsupported_media_type",
                        "the request body must be application/json (got '%s')",
                        text_echo(shown, sizeof(shown), ct, 64));
        return NULL;
    }
    size_t len;
    const char *body = http_request_body(req, &len);
    if (len == 0) {
        api_reply_error(req, 400, "invalid_request",
                        "the request body is empty; send a JSON object");
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        api_reply_error(req, 400, "invalid_json", "malformed JSON at line %d column %d: %s",
                        jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        api_reply_error(req, 400, "invalid_request", "the request body must be a JSON object");
        return NULL;
    }
    return doc;
}

int api_reject_unknown_fields(http_request_t *req, const json_t *obj, const char *const *known)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)obj, key, value) {
        bool found = false;
        for (size_t i = 0; known[i] && !found; i++)
            found = strcmp(key, known[i]) == 0;
        if (!found) {
            char shown[68];
            api_reply_error(req, 400, "invalid_request", "unknown field '%s'",
                            text_echo(shown, sizeof(shown), key, 64));
            return -1;
        }
    }
    return 0;
}

static int missing_field(http_request_t *req, const char *name, const char *what)
{
    api_reply_error(req, 400, "invalid_request", "field '%s' is required and must be %s", name,
                    what);
    return -1;
}

int api_field_string(http_request_t *req, const json_t *obj, const char *name, bool required,
                     const char **out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return required ? missing_field(req, name, "a string") : 0;
    if (!json_is_string(v)) {
        api_reply_error(req, 400, "invalid_request", "field '%s' must be a string", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int api_field_number(http_request_t *req, const json_t *obj, const char *name, bool required,
                     double min, double max, double *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return required ? missing_field(req, name, "a number") : 0;
    double x = json_number_value(v);
    if (!json_is_number(v) || x < min || x > max) {
        api_reply_error(req, 400, "invalid_request",
                        "field '%s' must be a number between %g and %g", name, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

int api_field_int(http_request_t *req, const json_t *obj, const char *name, bool required,
                  long long min, long long max, long long *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return required ? missing_field(req, name, "an integer") : 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        api_reply_error(req, 400, "invalid_request",
                        "field '%s' must be an integer between %lld and %lld", name, min, max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}
