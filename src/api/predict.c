/* predict.c - POST /predict and POST /synthesize.
 *
 * Both validate the request here, on the loop, so that a bad request never
 * costs a worker; then hand an INFER payload to the model's pool and answer
 * when the pool calls back. The callback owns a small context that
 * remembers how the client wants its answer.
 */
#include "api/api.h"
#include "api/request.h"
#include "backends/backend.h"
#include "backends/wav.h"
#include "util/base64.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct infer_call {
    http_request_t *req;
    char model[CONFIG_NAME_MAX];
    unsigned task;
    bool wants_wav;
} infer_call_t;

/* ---- shared ---- */

/* The pool of a model that can do task, or NULL after answering 404/400. */
static pool_t *find_model_for(http_request_t *req, api_context_t *api, const char *name,
                              unsigned task)
{
    pool_t *pool = api_find_model(req, api, name);
    if (!pool)
        return NULL;
    const backend_t *backend = backend_find(pool_model(pool)->backend);
    if (!backend || !(backend->tasks & task)) {
        api_reply_error(req, 400, "unsupported_task",
                        "model '%s' (backend %s) does not %s; use POST %s", name,
                        pool_model(pool)->backend,
                        task == BACKEND_TASK_PREDICT ? "predict" : "synthesize speech",
                        task == BACKEND_TASK_PREDICT ? "/synthesize" : "/predict");
        return NULL;
    }
    return pool;
}

static void reply_pool_error(http_request_t *req, const pool_result_t *res)
{
    char retry[64] = "";
    if (res->retry_after_seconds > 0)
        snprintf(retry, sizeof(retry), "Retry-After: %d\r\n", res->retry_after_seconds);
    http_respond_error(req, res->http_status, res->error, res->message, retry[0] ? retry : NULL);
}

static json_t *model_info(const infer_call_t *call, const pool_result_t *res)
{
    return json_pack("{s:s, s:I, s:b}", "model", call->model, "replica",
                     (json_int_t)res->replica_id, "cold_start", res->cold_start);
}

static bool client_gone(void *arg)
{
    const infer_call_t *call = arg;
    return http_request_abandoned(call->req);
}

/* The INFER payload is the client's request object as it came, already
 * validated here: re-serialising it would cost more than the rest of a
 * small model's request. The task is named only for a backend that offers
 * more than one. */
static void submit(pool_t *pool, infer_call_t *call, pool_done_fn done)
{
    const backend_t *backend = backend_find(pool_model(pool)->backend);
    size_t len;
    const char *body = http_request_body(call->req, &len);
    if (backend->tasks == call->task) {
        pool_submit(pool, body, len, done, client_gone, call);
        return;
    }
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_object_set_new(doc, "task",
                        json_string(call->task == BACKEND_TASK_PREDICT ? "predict" : "synthesize"));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    pool_submit(pool, text, strlen(text), done, client_gone, call);
    free(text);
}

/* ---- POST /predict ---- */

static void on_predict_done(const pool_result_t *res, void *arg)
{
    infer_call_t *call = arg;
    if (res->error) {
        reply_pool_error(call->req, res);
        goto done;
    }
    json_t *doc = json_loadb((const char *)res->payload, res->payload_len, 0, NULL);
    json_t *result = doc ? json_object_get(doc, "result") : NULL;
    if (!result) {
        api_reply_error(call->req, 502, "bad_worker_reply",
                        "replica %u of model '%s' answered without a result", res->replica_id,
                        call->model);
    } else {
        json_t *body = json_pack("{s:b, s:O, s:f, s:f, s:o}", "success", 1, "result", result,
                                 "processing_time_ms", res->processing_ms, "queue_time_ms",
                                 res->queue_ms, "model_info", model_info(call, res));
        api_reply_json(call->req, 200, body);
    }
    json_decref(doc);
done:
    free(call);
}

void api_predict(http_request_t *req, const route_params_t *params, void *ctx)
{
    static const char *const known[] = {"model_name", "inputs", NULL};
    (void)params;
    json_t *body = api_read_object(req);
    if (!body)
        return;
    const char *name = NULL;
    if (api_reject_unknown_fields(req, body, known) < 0 ||
        api_field_string(req, body, "model_name", true, &name) < 0)
        goto done;
    json_t *inputs = json_object_get(body, "inputs");
    if (!inputs) {
        api_reply_error(req, 400, "invalid_request",
                        "field 'inputs' is required (a number, a string, or an array of them)");
        goto done;
    }
    pool_t *pool = find_model_for(req, ctx, name, BACKEND_TASK_PREDICT);
    if (!pool)
        goto done;
    infer_call_t *call = xcalloc(1, sizeof(*call));
    call->req = req;
    call->task = BACKEND_TASK_PREDICT;
    snprintf(call->model, sizeof(call->model), "%s", name);
    submit(pool, call, on_predict_done);
done:
    json_decref(body);
}

/* ---- POST /synthesize ---- */

/* WAV only for a client that names an audio type; a client that accepts any type (curl)
 * and browsers get JSON, which can also carry the duration and timings. */
static bool accepts_wav(const char *accept)
{
    return accept && (strcasestr(accept, "audio/wav") || strcasestr(accept, "audio/x-wav") ||
                      strcasestr(accept, "audio/*"));
}

static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool is_blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

static void reply_wav(const infer_call_t *call, const pool_result_t *res)
{
    char headers[256];
    snprintf(headers, sizeof(headers),
             "X-Inferd-Model: %s\r\nX-Inferd-Replica: %u\r\nX-Inferd-Cold-Start: %s\r\n"
             "X-Inferd-Processing-Ms: %.3f\r\n",
             call->model, res->replica_id, res->cold_start ? "true" : "false", res->processing_ms);
    http_respond(call->req, 200, "audio/wav", res->payload, res->payload_len, headers);
}

static void reply_wav_json(const infer_call_t *call, const pool_result_t *res, int rate,
                           double duration)
{
    size_t b64_len;
    char *b64 = base64_encode(res->payload, res->payload_len, &b64_len);
    json_t *body =
        json_pack("{s:b, s:s, s:s#, s:i, s:f, s:I, s:f, s:f, s:o}", "success", 1, "format", "wav",
                  "audio_base64", b64, b64_len, "sample_rate", rate, "duration_seconds", duration,
                  "bytes", (json_int_t)res->payload_len, "processing_time_ms", res->processing_ms,
                  "queue_time_ms", res->queue_ms, "model_info", model_info(call, res));
    free(b64);
    api_reply_json(call->req, 200, body);
}

static void on_synthesize_done(const pool_result_t *res, void *arg)
{
    infer_call_t *call = arg;
    int rate;
    double duration;
    if (res->error)
        reply_pool_error(call->req, res);
    else if (wav_parse_header(res->payload, res->payload_len, &rate, &duration) < 0)
        api_reply_error(call->req, 502, "bad_worker_reply",
                        "replica %u of model '%s' answered with audio that is not a WAV file",
                        res->replica_id, call->model);
    else if (call->wants_wav)
        reply_wav(call, res);
    else
        reply_wav_json(call, res, rate, duration);
    free(call);
}

void api_synthesize(http_request_t *req, const route_params_t *params, void *ctx)
{
    static const char *const known[] = {"model_name", "text", "speed", NULL};
    (void)params;
    json_t *body = api_read_object(req);
    if (!body)
        return;
    const char *name = NULL, *text = NULL;
    double speed = 1.0;
    if (api_reject_unknown_fields(req, body, known) < 0 ||
        api_field_string(req, body, "model_name", true, &name) < 0 ||
        api_field_string(req, body, "text", true, &text) < 0 ||
        api_field_number(req, body, "speed", false, BACKEND_SPEED_MIN, BACKEND_SPEED_MAX, &speed) <
            0)
        goto done;
    if (is_blank(text)) {
        api_reply_error(req, 400, "invalid_request", "field 'text' must not be empty");
        goto done;
    }
    pool_t *pool = find_model_for(req, ctx, name, BACKEND_TASK_SYNTHESIZE);
    if (!pool)
        goto done;
    size_t chars = utf8_length(text);
    if (chars > (size_t)pool_model(pool)->max_text_length) {
        api_reply_error(req, 400, "invalid_request",
                        "field 'text' has %zu characters; model '%s' accepts at most %d", chars,
                        name, pool_model(pool)->max_text_length);
        goto done;
    }
    infer_call_t *call = xcalloc(1, sizeof(*call));
    call->req = req;
    call->task = BACKEND_TASK_SYNTHESIZE;
    call->wants_wav = accepts_wav(http_request_header(req, "Accept"));
    snprintf(call->model, sizeof(call->model), "%s", name);
    submit(pool, call, on_synthesize_done);
done:
    json_decref(body);
}
