/* test_webhook.c - the pure parts of the notifier: the URL split, the
 * status line, which phase of an event is sent, the backoff schedule and
 * the bounded queue that drops its oldest item; then, on a real loop, its
 * host-name lookups: none for an IP address, never two at once.
 *
 * The lookups are observed through getaddrinfo itself: this executable
 * defines it, so libuv's thread pool calls this one (symbol interposition)
 * and the test can count calls and make one hang like a dead resolver.
 */
#include <criterion/criterion.h>

#include "autoscaler/autoscaler.h"
#include "config/config.h"
#include "dispatch/dispatch.h"
#include "notify/webhook.h"

#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct url_case {
    const char *url;
    int rc;
    const char *host, *authority, *path;
    int port;
    bool ipv6;
} url_case_t;

static const url_case_t url_cases[] = {
    {"http://127.0.0.1:9000/hook", 0, "127.0.0.1", "127.0.0.1:9000", "/hook", 9000, false},
    {"http://example.com", 0, "example.com", "example.com", "/", 80, false},
    {"http://example.com/", 0, "example.com", "example.com", "/", 80, false},
    {"http://example.com:8080", 0, "example.com", "example.com:8080", "/", 8080, false},
    {"http://h/a/b?x=1&y=2", 0, "h", "h", "/a/b?x=1&y=2", 80, false},
    {"http://h?x=1", 0, "h", "h", "/?x=1", 80, false},
    {"http://h/p#frag", 0, "h", "h", "/p", 80, false},
    {"http://h#frag", 0, "h", "h", "/", 80, false},
    {"http://[::1]:8081/e", 0, "::1", "[::1]:8081", "/e", 8081, true},
    {"http://[fe80::1]", 0, "fe80::1", "[fe80::1]", "/", 80, true},
    {"http://h:65535/", 0, "h", "h:65535", "/", 65535, false},
    {"http://h:1", 0, "h", "h:1", "/", 1, false},
    /* refused */
    {"https://h/x", -1, NULL, NULL, NULL, 0, false},
    {"ftp://h/x", -1, NULL, NULL, NULL, 0, false},
    {"garbage", -1, NULL, NULL, NULL, 0, false},
    {"", -1, NULL, NULL, NULL, 0, false},
    {"http://", -1, NULL, NULL, NULL, 0, false},
    {"http:///path", -1, NULL, NULL, NULL, 0, false},
    {"http://h:0/", -1, NULL, NULL, NULL, 0, false},
    {"http://h:65536/", -1, NULL, NULL, NULL, 0, false},
    {"http://h:/", -1, NULL, NULL, NULL, 0, false},
    {"http://h:80a/", -1, NULL, NULL, NULL, 0, false},
    {"http://h:1234567/", -1, NULL, NULL, NULL, 0, false},
    {"http://user@h/", -1, NULL, NULL, NULL, 0, false},
    {"http://[::1/", -1, NULL, NULL, NULL, 0, false},
    {"http://[]/", -1, NULL, NULL, NULL, 0, false},
    {"http://[::1]x/", -1, NULL, NULL, NULL, 0, false},
    {":8080", -1, NULL, NULL, NULL, 0, false},
};

Test(webhook, url_split)
{
    for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
        const url_case_t *c = &url_cases[i];
        webhook_url_t u;
        int rc = webhook_parse_url(c->url, &u);
        cr_expect_eq(rc, c->rc, "%s: rc %d, want %d", c->url, rc, c->rc);
        if (rc != 0 || c->rc != 0)
            continue;
        cr_expect_str_eq(u.host, c->host, "%s: host", c->url);
        cr_expect_str_eq(u.authority, c->authority, "%s: authority", c->url);
        cr_expect_str_eq(u.path, c->path, "%s: path", c->url);
        cr_expect_eq(u.port, c->port, "%s: port %d", c->url, u.port);
        cr_expect_eq(u.ipv6, c->ipv6, "%s: ipv6", c->url);
    }
    webhook_url_t u;
    cr_expect_eq(webhook_parse_url(NULL, &u), -1);
}

Test(webhook, url_too_long_is_refused)
{
    char url[1200] = "http://h/";
    memset(url + strlen(url), 'a', 600);
    webhook_url_t u;
    cr_expect_eq(webhook_parse_url(url, &u), -1, "a path longer than the buffer");
}

typedef struct status_case {
    const char *bytes;
    int status;
} status_case_t;

static const status_case_t status_cases[] = {
    {"HTTP/1.1 200 OK\r\n", 200},
    {"HTTP/1.0 204 No Content\r\n\r\n", 204},
    {"HTTP/1.1 500 Internal Server Error\r\n", 500},
    {"HTTP/1.1 404\r\n", 404},
    {"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", 302},
    /* not enough yet */
    {"", 0},
    {"HTTP/1.1 20", 0},
    {"HTTP/1.1 200", 0},
    {"HT", 0},
    /* an interim answer, then the final one */
    {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n", 201},
    {"HTTP/1.1 100 Continue\r\n\r\n", 0},
    {"HTTP/1.1 100 Continue\r\n", 0},
    /* not HTTP/1.x */
    {"SSH-2.0-OpenSSH_9.6\r\n", -1},
    {"HTTP/2 200\r\n", -1},
    {"HTTP/1.1 2000 OK\r\n", -1},
    {"HTTP/1.1 099 Odd\r\n", -1},
    {"HTTP/1.1 600 Odd\r\n", -1},
    {"http/1.1 200 OK\r\n", -1},
    {"HTTP/1.1  200 OK\r\n", -1},
};

Test(webhook, status_line)
{
    for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
        const status_case_t *c = &status_cases[i];
        int got = webhook_parse_status(c->bytes, strlen(c->bytes));
        cr_expect_eq(got, c->status, "%zu \"%s\": %d, want %d", i, c->bytes, got, c->status);
    }
}

Test(webhook, backoff_schedule)
{
    static const int want[] = {-1, 500, 1000, 2000, -1, -1};
    for (int retry = 0; retry < (int)(sizeof(want) / sizeof(want[0])); retry++)
        cr_expect_eq(webhook_backoff_ms(retry), want[retry], "retry %d: %d ms, want %d", retry,
                     webhook_backoff_ms(retry), want[retry]);
    cr_expect_eq(webhook_backoff_ms(WEBHOOK_MAX_RETRIES + 1), -1, "no retry after the last");
}

typedef struct phase_case {
    const char *event;
    store_event_phase_t phase;
    bool send;
} phase_case_t;

static const phase_case_t phase_cases[] = {
    /* recorded pending: wait for the finish */
    {"{\"type\": \"scale_up\", \"success\": null}", STORE_EVENT_RECORDED, false},
    {"{\"type\": \"scale_up\", \"success\": true}", STORE_EVENT_FINISHED, true},
    {"{\"type\": \"scale_down\", \"success\": false}", STORE_EVENT_FINISHED, true},
    /* recorded already final */
    {"{\"type\": \"config_updated\", \"success\": true}", STORE_EVENT_RECORDED, true},
    {"{\"type\": \"replica_crashed\", \"success\": false}", STORE_EVENT_RECORDED, true},
    {"{\"type\": \"scale_up\"}", STORE_EVENT_RECORDED, false},
    {"[]", STORE_EVENT_FINISHED, false},
};

Test(webhook, which_phase_is_sent)
{
    for (size_t i = 0; i < sizeof(phase_cases) / sizeof(phase_cases[0]); i++) {
        const phase_case_t *c = &phase_cases[i];
        json_t *event = json_loads(c->event, 0, NULL);
        cr_assert(event, "%s parses", c->event);
        cr_expect_eq(webhook_should_send(event, c->phase), c->send, "%s phase %d", c->event,
                     (int)c->phase);
        json_decref(event);
    }
    cr_expect_eq(webhook_should_send(NULL, STORE_EVENT_FINISHED), false);
}

/* Items are small integers cast to pointers; 0 stands for "NULL". */
#define ITEM(n) ((void *)(uintptr_t)(n))

typedef struct queue_step {
    char op;         /* 'u' push, 'o' pop, 0 end */
    int item;        /* pushed */
    int want;        /* pushed out (push) or popped (pop); 0 = NULL */
    size_t want_len; /* count after the step */
} queue_step_t;

typedef struct queue_case {
    const char *name;
    size_t capacity;
    queue_step_t steps[16];
} queue_case_t;

static const queue_case_t queue_cases[] = {
    {"fifo order",
     4,
     {{'u', 1, 0, 1},
      {'u', 2, 0, 2},
      {'o', 0, 1, 1},
      {'u', 3, 0, 2},
      {'o', 0, 2, 1},
      {'o', 0, 3, 0},
      {'o', 0, 0, 0}}},
    {"full: the oldest goes",
     3,
     {{'u', 1, 0, 1},
      {'u', 2, 0, 2},
      {'u', 3, 0, 3},
      {'u', 4, 1, 3},
      {'u', 5, 2, 3},
      {'o', 0, 3, 2},
      {'o', 0, 4, 1},
      {'o', 0, 5, 0}}},
    {"wraps around the ring",
     2,
     {{'u', 1, 0, 1},
      {'o', 0, 1, 0},
      {'u', 2, 0, 1},
      {'u', 3, 0, 2},
      {'u', 4, 2, 2},
      {'o', 0, 3, 1},
      {'u', 5, 0, 2},
      {'o', 0, 4, 1},
      {'o', 0, 5, 0}}},
    {"capacity one keeps the newest",
     1,
     {{'u', 1, 0, 1}, {'u', 2, 1, 1}, {'u', 3, 2, 1}, {'o', 0, 3, 0}}},
    {"capacity 0 means 1", 0, {{'u', 1, 0, 1}, {'u', 2, 1, 1}, {'o', 0, 2, 0}}},
};

Test(webhook, queue_drops_the_oldest_when_full)
{
    for (size_t i = 0; i < sizeof(queue_cases) / sizeof(queue_cases[0]); i++) {
        const queue_case_t *c = &queue_cases[i];
        webhook_queue_t q;
        webhook_queue_init(&q, c->capacity);
        for (size_t k = 0; c->steps[k].op; k++) {
            const queue_step_t *s = &c->steps[k];
            void *got =
                s->op == 'u' ? webhook_queue_push(&q, ITEM(s->item)) : webhook_queue_pop(&q);
            cr_expect_eq(got, ITEM(s->want), "%s, step %zu: got %zu, want %d", c->name, k,
                         (size_t)(uintptr_t)got, s->want);
            cr_expect_eq(q.count, s->want_len, "%s, step %zu: count %zu, want %zu", c->name, k,
                         q.count, s->want_len);
        }
    }
}

Test(webhook, queue_at_full_capacity)
{
    webhook_queue_t q;
    webhook_queue_init(&q, WEBHOOK_BUFFER_EVENTS + 10);
    cr_expect_eq(q.capacity, WEBHOOK_BUFFER_EVENTS, "capacity is capped");
    for (int n = 1; n <= WEBHOOK_BUFFER_EVENTS; n++)
        cr_expect_null(webhook_queue_push(&q, ITEM(n)));
    for (int n = 1; n <= 10; n++)
        cr_expect_eq(webhook_queue_push(&q, ITEM(WEBHOOK_BUFFER_EVENTS + n)), ITEM(n),
                     "push %d pushes out item %d", WEBHOOK_BUFFER_EVENTS + n, n);
    for (int n = 11; n <= WEBHOOK_BUFFER_EVENTS + 10; n++)
        cr_expect_eq(webhook_queue_pop(&q), ITEM(n));
    cr_expect_null(webhook_queue_pop(&q));
}

/* ---- host-name lookups, on a real loop ---- */

#define HANG_HOST "hang.test" /* its lookup blocks until released */

static atomic_int lookups;
static pthread_mutex_t hang_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_cond = PTHREAD_COND_INITIALIZER;
static bool hang_released;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    (void)service;
    (void)hints;
    *res = NULL;
    atomic_fetch_add(&lookups, 1);
    if (node && strcmp(node, HANG_HOST) == 0) {
        /* Bounded, so a failing test cannot hang the suite. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 20;
        pthread_mutex_lock(&hang_lock);
        while (!hang_released)
            if (pthread_cond_timedwait(&hang_cond, &hang_lock, &until) != 0)
                break;
        pthread_mutex_unlock(&hang_lock);
    }
    return EAI_NONAME;
}

static void release_hung_lookup(void)
{
    pthread_mutex_lock(&hang_lock);
    hang_released = true;
    pthread_cond_broadcast(&hang_cond);
    pthread_mutex_unlock(&hang_lock);
}

/* A server's worth of parts, without workers: the notifier reads its
 * settings from the autoscaler's live configuration. */
typedef struct rig {
    uv_loop_t loop;
    inferd_config_t *cfg;
    dispatch_t *dispatch;
    autoscaler_t *autoscaler;
    webhook_t *webhook;
} rig_t;

static void rig_open(rig_t *r, const char *url)
{
    char text[512], err[512] = "";
    snprintf(text, sizeof(text),
             "{\"models\": [{\"name\": \"m\", \"backend\": \"synthetic\"}], "
             "\"autoscaler\": {\"advanced\": {\"scaling_notifications_enabled\": true, "
             "\"external_metrics_webhook\": \"%s\"}}}",
             url);
    json_t *doc = json_loads(text, 0, NULL);
    cr_assert_not_null(doc);
    cr_assert_eq(config_from_json(doc, "test", &r->cfg, err, sizeof(err)), 0, "%s", err);
    json_decref(doc);
    cr_assert_eq(uv_loop_init(&r->loop), 0);
    r->dispatch = dispatch_new(&r->loop, r->cfg, "/nonexistent/inferd", "error");
    r->autoscaler = autoscaler_new(&r->loop, r->cfg, r->dispatch, NULL);
    r->webhook = webhook_new(&r->loop, r->autoscaler);
}

static void on_stopped(void *arg)
{
    (void)arg;
}

static void rig_close(rig_t *r)
{
    webhook_close(r->webhook);
    autoscaler_stop(r->autoscaler);
    autoscaler_free(r->autoscaler);
    dispatch_stop(r->dispatch, true, on_stopped, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    dispatch_free(r->dispatch);
    webhook_free(r->webhook);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    config_free(r->cfg);
    cr_expect_eq(uv_loop_close(&r->loop), 0, "a handle was left open");
}

static void rig_send_event(rig_t *r, const char *id)
{
    json_t *ev = json_pack("{s:s, s:s, s:b}", "id", id, "type", "config_updated", "success", 1);
    webhook_observe_event(ev, STORE_EVENT_RECORDED, r->webhook);
    json_decref(ev);
}

/* Runs the loop until the notifier counts `failed` failed attempts (or
 * ms pass); returns its stats then. */
static webhook_stats_t run_until_failed(rig_t *r, uint64_t failed, uint64_t ms)
{
    webhook_stats_t st;
    uint64_t deadline = uv_now(&r->loop) + ms;
    for (;;) {
        webhook_get_stats(r->webhook, &st);
        if (st.failed_attempts >= failed || uv_now(&r->loop) >= deadline)
            return st;
        uv_run(&r->loop, UV_RUN_ONCE);
        uv_update_time(&r->loop);
    }
}

typedef struct literal_case {
    const char *url;
    const char *error; /* start of last_error after the first attempt */
} literal_case_t;

Test(webhook_lookups, ip_addresses_are_connected_to_without_a_lookup)
{
    /* Port 1 on loopback: nothing listens, so each attempt fails at the
     * connect, which shows it got that far without a lookup. */
    static const literal_case_t cases[] = {
        {"http://127.0.0.1:1/hook", "connect"},
        {"http://[::1]:1/hook", "connect"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rig_t r;
        atomic_store(&lookups, 0);
        rig_open(&r, cases[i].url);
        rig_send_event(&r, "e1");
        webhook_stats_t st = run_until_failed(&r, 1, 5000);
        cr_expect_geq(st.failed_attempts, 1, "%s: no attempt failed", cases[i].url);
        cr_expect(strncmp(st.last_error, cases[i].error, strlen(cases[i].error)) == 0,
                  "%s: last_error \"%s\"", cases[i].url, st.last_error);
        cr_expect_eq(atomic_load(&lookups), 0, "%s was looked up", cases[i].url);
        rig_close(&r);
    }

    /* The counter does count: a name is looked up. */
    rig_t r;
    atomic_store(&lookups, 0);
    rig_open(&r, "http://name.test:1/hook");
    rig_send_event(&r, "e1");
    webhook_stats_t st = run_until_failed(&r, 1, 5000);
    cr_expect(strncmp(st.last_error, "resolve", 7) == 0, "last_error \"%s\"", st.last_error);
    cr_expect_eq(atomic_load(&lookups), 1);
    rig_close(&r);
}

Test(webhook_lookups, a_hung_lookup_is_never_joined_by_a_second, .timeout = 30)
{
    rig_t r;
    atomic_store(&lookups, 0);
    rig_open(&r, "http://" HANG_HOST ":1/hook");
    rig_send_event(&r, "e1");

    /* Attempt 1 hangs in its lookup until its 2 s deadline. */
    webhook_stats_t st = run_until_failed(&r, 1, 5000);
    cr_assert_eq(st.failed_attempts, 1);
    cr_expect(strstr(st.last_error, "no status line within") != NULL, "%s", st.last_error);
    cr_expect_eq(atomic_load(&lookups), 1);

    /* Attempt 2, after the 0.5 s pause: the lookup still runs, so it fails
     * at once instead of taking a second pool thread. */
    st = run_until_failed(&r, 2, 3000);
    cr_assert_eq(st.failed_attempts, 2);
    cr_expect_str_eq(st.last_error, "a host-name lookup is still running");
    cr_expect_eq(atomic_load(&lookups), 1, "a second lookup started beside the hung one");
    cr_expect_eq(st.queued, 1, "the event is kept for its retries");

    /* Once it returns, the next attempt (after 1 s) looks up again. */
    release_hung_lookup();
    st = run_until_failed(&r, 3, 5000);
    cr_assert_eq(st.failed_attempts, 3);
    cr_expect(strncmp(st.last_error, "resolve", 7) == 0, "%s", st.last_error);
    cr_expect_eq(atomic_load(&lookups), 2);
    rig_close(&r);
}
