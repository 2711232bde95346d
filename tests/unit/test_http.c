/* test_http.c - the connection layer over real loopback sockets.
 *
 * The server runs its loop on a second thread; the test thread is a plain
 * blocking client with a receive timeout, so a missing answer fails the test
 * instead of hanging it. Answers to "/delay/N" come from a timer N ms later,
 * which is how out-of-order completion is produced.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/server.h"

typedef struct delayed {
    uv_timer_t timer;
    http_request_t *req;
    char body[128];
} delayed_t;

static uv_loop_t loop;
static uv_async_t stopper;
static uv_thread_t thread;
static http_server_t *srv;
static int port;
static atomic_int abandoned_answers;

static void delayed_on_close(uv_handle_t *h)
{
    free(h->data);
}

static void delayed_on_fire(uv_timer_t *t)
{
    delayed_t *d = t->data;
    if (http_request_abandoned(d->req))
        atomic_fetch_add(&abandoned_answers, 1);
    http_respond(d->req, 200, "text/plain", d->body, strlen(d->body), NULL);
    uv_close((uv_handle_t *)t, delayed_on_close);
}

/* "/delay/N?x" answers "x" after N ms; "/pending" answers the count of
 * unanswered requests; anything else answers "METHOD path?query body". */
static void handler(http_request_t *req, void *ctx)
{
    (void)ctx;
    char out[256];
    size_t blen;
    const char *path = http_request_path(req), *body = http_request_body(req, &blen);
    if (strncmp(path, "/delay/", 7) == 0) {
        delayed_t *d = calloc(1, sizeof *d);
        d->req = req;
        snprintf(d->body, sizeof d->body, "%s", http_request_query(req));
        uv_timer_init(&loop, &d->timer);
        d->timer.data = d;
        uv_timer_start(&d->timer, delayed_on_fire, strtoull(path + 7, NULL, 10), 0);
        return;
    }
    if (strcmp(path, "/pending") == 0)
        snprintf(out, sizeof out, "%zu", http_server_pending_requests(srv));
    else
        snprintf(out, sizeof out, "%s %s?%s %.*s", http_request_method(req), path,
                 http_request_query(req), (int)blen, body);
    http_respond(req, 200, "text/plain", out, strlen(out), NULL);
}

static void on_closed(void *arg)
{
    (void)arg;
}

static void on_stop(uv_async_t *a)
{
    http_server_close(srv, on_closed, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void run_loop(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
}

static void server_start(void)
{
    http_limits_t limits = {
        .max_header_bytes = 1024,
        .max_body_bytes = 4096,
        .header_timeout_ms = 300,
        .body_timeout_ms = 300,
        .idle_timeout_ms = 2000,
        .max_pipelined = 4,
    };
    char err[128];
    signal(SIGPIPE, SIG_IGN); /* as main does; see server.c */
    uv_loop_init(&loop);
    srv = http_server_new(&loop, &limits, handler, NULL);
    cr_assert_eq(http_server_listen(srv, "127.0.0.1", 0, err, sizeof err), 0, "%s", err);
    port = http_server_port(srv);
    uv_async_init(&loop, &stopper, on_stop);
    atomic_store(&abandoned_answers, 0);
    uv_thread_create(&thread, run_loop, NULL);
}

static void server_stop(void)
{
    uv_async_send(&stopper);
    uv_thread_join(&thread);
    cr_expect_eq(uv_loop_close(&loop), 0, "every handle closed");
}

TestSuite(http, .init = server_start, .fini = server_stop);

static int client_connect(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 3};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

static void client_send(int fd, const char *data)
{
    size_t len = strlen(data);
    cr_assert_eq(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads until the server closes (or the timeout); returns what came. */
static char *client_read_all(int fd)
{
    static char buf[65536];
    size_t used = 0;
    ssize_t n;
    while (used < sizeof buf - 1 && (n = recv(fd, buf + used, sizeof buf - 1 - used, 0)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    return buf;
}

/* Reads exactly `count` responses; each body goes into bodies[i]. */
static void client_read_responses(int fd, int count, char bodies[][64])
{
    char buf[8192];
    size_t used = 0;
    for (int i = 0; i < count;) {
        char *end = memmem(buf, used, "\r\n\r\n", 4);
        if (end) {
            char *cl = strstr(buf, "Content-Length: ");
            size_t head = (size_t)(end + 4 - buf), blen = strtoul(cl + 16, NULL, 10);
            if (used >= head + blen) {
                snprintf(bodies[i++], 64, "%.*s", (int)blen, buf + head);
                memmove(buf, buf + head + blen, used - head - blen);
                used -= head + blen;
                continue;
            }
        }
        ssize_t n = recv(fd, buf + used, sizeof buf - 1 - used, 0);
        cr_assert_gt(n, 0, "response %d of %d did not arrive", i + 1, count);
        used += (size_t)n;
        buf[used] = '\0';
    }
}

Test(http, pipelined_answers_keep_request_order)
{
    char bodies[3][64];
    int fd = client_connect();
    client_send(fd, "GET /delay/200?first HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /delay/50?second HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /third HTTP/1.1\r\nHost: t\r\n\r\n");
    client_read_responses(fd, 3, bodies);
    cr_expect_str_eq(bodies[0], "first");
    cr_expect_str_eq(bodies[1], "second");
    cr_expect_str_eq(bodies[2], "GET /third? ");
    close(fd);
}

Test(http, more_pipelined_than_the_limit_are_all_answered)
{
    char bodies[12][64], want[64];
    int fd = client_connect();
    for (int i = 0; i < 12; i++) {
        char req[96];
        snprintf(req, sizeof req, "GET /delay/%d?%d HTTP/1.1\r\nHost: t\r\n\r\n", (12 - i) * 5, i);
        client_send(fd, req);
    }
    client_read_responses(fd, 12, bodies);
    for (int i = 0; i < 12; i++) {
        snprintf(want, sizeof want, "%d", i);
        cr_expect_str_eq(bodies[i], want);
    }
    close(fd);
}

Test(http, keep_alive_until_connection_close)
{
    char bodies[1][64];
    int fd = client_connect();
    client_send(fd, "POST /echo?a=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    client_read_responses(fd, 1, bodies);
    cr_expect_str_eq(bodies[0], "POST /echo?a=1 hello");
    client_send(fd, "GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    const char *rest = client_read_all(fd);
    cr_expect(strstr(rest, "Connection: close\r\n") != NULL, "%s", rest);
    cr_expect(strstr(rest, "GET /last?") != NULL, "%s", rest);
    close(fd);
}

Test(http, http10_closes_unless_keep_alive_asked)
{
    int fd = client_connect();
    client_send(fd, "GET /old HTTP/1.0\r\n\r\n");
    const char *all = client_read_all(fd);
    cr_expect(strstr(all, "Connection: close\r\n") != NULL, "%s", all);
    close(fd);
}

Test(http, oversized_body_is_413_after_earlier_answers)
{
    int fd = client_connect();
    client_send(fd, "GET /delay/100?before HTTP/1.1\r\nHost: t\r\n\r\n"
                    "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    const char *all = client_read_all(fd);
    const char *before = strstr(all, "before"), *too_large = strstr(all, "413 Payload Too Large");
    cr_expect(before && too_large && before < too_large, "%s", all);
    cr_expect(strstr(all, "\"error\":\"payload_too_large\"") != NULL, "%s", all);
    close(fd);
}

Test(http, oversized_head_is_431)
{
    char req[2048];
    int fd = client_connect();
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %01500d\r\n\r\n", 0);
    client_send(fd, req);
    const char *all = client_read_all(fd);
    cr_expect(strncmp(all, "HTTP/1.1 431 ", 13) == 0, "%s", all);
    cr_expect(strstr(all, "\"error\":\"headers_too_large\"") != NULL, "%s", all);
    close(fd);
}

Test(http, stalled_body_is_408)
{
    int fd = client_connect();
    client_send(fd, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    const char *all = client_read_all(fd);
    cr_expect(strncmp(all, "HTTP/1.1 408 ", 13) == 0, "%s", all);
    cr_expect(strstr(all, "\"error\":\"request_timeout\"") != NULL, "%s", all);
    close(fd);
}

Test(http, garbage_is_400)
{
    int fd = client_connect();
    client_send(fd, "NOT HTTP AT ALL\r\n\r\n");
    const char *all = client_read_all(fd);
    cr_expect(strncmp(all, "HTTP/1.1 400 ", 13) == 0, "%s", all);
    close(fd);
}

Test(http, expect_continue_is_answered_before_the_body)
{
    char bodies[1][64], interim[64] = {0};
    const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
    int fd = client_connect();
    client_send(fd, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                    "Expect: 100-continue\r\n\r\n");
    cr_assert_eq(recv(fd, interim, strlen(cont), MSG_WAITALL), (ssize_t)strlen(cont));
    cr_expect_str_eq(interim, cont);
    client_send(fd, "data");
    client_read_responses(fd, 1, bodies);
    cr_expect_str_eq(bodies[0], "POST /up? data");
    close(fd);
}

Test(http, client_gone_abandons_its_request)
{
    char bodies[1][64];
    int fd = client_connect();
    client_send(fd, "GET /delay/150 HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(50 * 1000);
    close(fd);
    for (int waited = 0; atomic_load(&abandoned_answers) == 0 && waited < 3000; waited += 10)
        usleep(10 * 1000);
    cr_expect_eq(atomic_load(&abandoned_answers), 1);
    fd = client_connect();
    client_send(fd, "GET /pending HTTP/1.1\r\nHost: t\r\n\r\n");
    client_read_responses(fd, 1, bodies);
    cr_expect_str_eq(bodies[0], "1", "only the /pending request itself is unanswered");
    close(fd);
}
