"""The HTTP/1.1 layer: keep-alive, pipelining, Expect: 100-continue, and
the limits on head size, body size and slow clients. After every test the
server still serves normal requests."""

import json
import socket
import time
import unittest

from harness import EXAMPLE, SharedServerTestCase, http_request, model

HEADER_TIMEOUT_MS = 1500
BODY_TIMEOUT_MS = 1500
MAX_HEADER = 4096
MAX_BODY = 8192
SLACK_S = 3.0


def predict_request(inputs, model_name="example", headers=None):
    return http_request("POST", "/predict", {"model_name": model_name, "inputs": inputs},
                        headers)


class HttpLayerTest(SharedServerTestCase):
    MODELS = [
        EXAMPLE,
        model("slow", "synthetic", {"cpu_ms_per_request": 400}, min_replicas=1,
              max_replicas=1),
    ]
    SERVER = {
        "header_timeout_ms": HEADER_TIMEOUT_MS,
        "body_timeout_ms": BODY_TIMEOUT_MS,
        "max_header_bytes": MAX_HEADER,
        "max_body_bytes": MAX_BODY,
        "idle_timeout_ms": 10000,
    }

    def tearDown(self):
        self.assertServing(self.server)

    def expected(self, inputs):
        return self.server.predict("example", inputs).json()["result"]

    # ---- persistent connections ----

    def test_keep_alive_serves_two_requests_on_one_connection(self):
        want1, want2 = self.expected([1]), self.expected([2])
        with self.server.connect() as c:
            c.send(predict_request([1]))
            r1 = c.read_response()
            self.assertEqual(r1.status, 200, r1.body)
            self.assertEqual(r1.header("connection"), "keep-alive")
            self.assertEqual(r1.json()["result"], want1)
            # Same socket, second request.
            c.send(predict_request([2]))
            r2 = c.read_response()
            self.assertEqual(r2.status, 200, r2.body)
            self.assertEqual(r2.json()["result"], want2)
            c.send(http_request("GET", "/health"))
            r3 = c.read_response()
            self.assertEqual(r3.status, 200)
            self.assertEqual(r3.json()["status"], "ok")
            self.assertFalse(c.closed_by_server(timeout=0.2))

    def test_pipelined_requests_are_answered_in_order(self):
        want = self.expected([3])
        # The first request is slow (a 400 ms CPU burn on another model);
        # the two after it are answered at once, yet must come back after it.
        data = (predict_request([1], "slow") + http_request("GET", "/models/example")
                + predict_request([3]))
        with self.server.connect(timeout=30) as c:
            c.send(data)
            r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        self.assertEqual(r1.status, 200, r1.body)
        self.assertEqual(r1.json()["model_info"]["model"], "slow")
        self.assertEqual(r2.status, 200, r2.body)
        self.assertEqual(r2.json()["model"]["name"], "example")
        self.assertEqual(r3.status, 200, r3.body)
        self.assertEqual(r3.json()["result"], want)

    def test_many_pipelined_requests_in_one_send(self):
        n = 50
        inputs = [[i] for i in range(n)]
        want = [self.expected(x) for x in inputs]
        with self.server.connect(timeout=30) as c:
            c.send(b"".join(predict_request(x) for x in inputs))
            got = [c.read_response().json()["result"] for _ in range(n)]
        self.assertEqual(got, want)

    def test_connection_close_is_honoured(self):
        with self.server.connect() as c:
            c.send(predict_request([1], headers={"Connection": "close"}))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(c.closed_by_server())

    def test_http_1_0_closes_after_answer(self):
        body = json.dumps({"model_name": "example", "inputs": [1]})
        with self.server.connect() as c:
            c.send("POST /predict HTTP/1.0\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n{body}")
            r = c.read_response()
            self.assertEqual(r.status, 200, r.body)
            self.assertTrue(c.closed_by_server())

    # ---- Expect: 100-continue ----

    def test_expect_100_continue(self):
        body = json.dumps({"model_name": "example", "inputs": [7]}).encode()
        with self.server.connect() as c:
            c.send(f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n")
            interim = c.read_response()
            self.assertEqual(interim.status, 100)
            c.send(body)
            r = c.read_response()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["result"], self.expected([7]))

    def test_expect_100_continue_with_oversize_body_gets_413_not_continue(self):
        with self.server.connect() as c:
            c.send(f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {MAX_BODY * 4}\r\nExpect: 100-continue\r\n\r\n")
            r = c.read_response()
            self.assertError(r, 413, "payload_too_large")
            self.assertTrue(c.closed_by_server())

    # ---- limits ----

    def test_body_over_max_body_bytes_is_413(self):
        big = json.dumps({"model_name": "example", "inputs": [1] * MAX_BODY})
        self.assertGreater(len(big), MAX_BODY)
        r = self.server.request("POST", "/predict", body=big,
                                headers={"Content-Type": "application/json"})
        self.assertError(r, 413, "payload_too_large", str(MAX_BODY))

    def test_chunked_body_over_max_body_bytes_is_413(self):
        chunk = b"x" * 1024
        data = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        data += b"".join(b"400\r\n" + chunk + b"\r\n" for _ in range(MAX_BODY // 1024 + 2))
        data += b"0\r\n\r\n"
        with self.server.connect() as c:
            c.send(data)
            self.assertError(c.read_response(), 413, "payload_too_large")
            self.assertTrue(c.closed_by_server())

    def test_body_at_max_body_bytes_is_accepted(self):
        doc = {"model_name": "example", "inputs": [1]}
        text = json.dumps(doc)
        text = text[:-1] + " " * (MAX_BODY - len(text)) + "}"
        self.assertEqual(len(text), MAX_BODY)
        r = self.server.request("POST", "/predict", body=text,
                                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r.body)

    def test_header_block_over_max_header_bytes_is_431(self):
        with self.server.connect() as c:
            c.send("GET /health HTTP/1.1\r\nHost: x\r\n"
                   f"X-Padding: {'p' * (MAX_HEADER * 2)}\r\n\r\n")
            r = c.read_response()
            self.assertError(r, 431, "headers_too_large")
            self.assertTrue(c.closed_by_server())

    def test_many_small_headers_over_the_limit_are_431(self):
        headers = "".join(f"X-H{i}: {'v' * 40}\r\n" for i in range(MAX_HEADER // 40))
        with self.server.connect() as c:
            c.send(f"GET /health HTTP/1.1\r\nHost: x\r\n{headers}\r\n")
            self.assertError(c.read_response(), 431, "headers_too_large")

    def test_headers_under_the_limit_are_fine(self):
        r = self.server.get("/health", headers={"X-Padding": "p" * (MAX_HEADER // 2)})
        self.assertEqual(r.status, 200)

    def test_garbage_request_line_is_400(self):
        with self.server.connect() as c:
            c.send(b"\x16\x03\x01 this is not http\r\n\r\n")
            r = c.read_response()
            self.assertError(r, 400, "bad_request")
            self.assertTrue(c.closed_by_server())

    # ---- slow clients ----

    def assert_408_in_time(self, c, started, limit_ms):
        r = c.read_response()
        elapsed = time.monotonic() - started
        self.assertError(r, 408, "request_timeout")
        self.assertGreaterEqual(elapsed, limit_ms / 1000 * 0.9, "timed out too early")
        self.assertLessEqual(elapsed, limit_ms / 1000 + SLACK_S, "timed out too late")
        self.assertTrue(c.closed_by_server(), "connection left open after 408")

    def test_half_request_that_stalls_gets_408_then_close(self):
        with self.server.connect(timeout=limit_s(HEADER_TIMEOUT_MS)) as c:
            started = time.monotonic()
            c.send("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Ty")
            self.assert_408_in_time(c, started, HEADER_TIMEOUT_MS)

    def test_stalled_body_gets_408_then_close(self):
        with self.server.connect(timeout=limit_s(BODY_TIMEOUT_MS)) as c:
            c.send("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 100\r\n\r\n{\"model_name\"")
            started = time.monotonic()
            self.assert_408_in_time(c, started, BODY_TIMEOUT_MS)

    def test_trickled_headers_are_cut_off_at_the_header_timeout(self):
        # A slow-loris client sends a byte every 100 ms: progress must not
        # push the deadline back.
        with self.server.connect(timeout=limit_s(HEADER_TIMEOUT_MS)) as c:
            started = time.monotonic()
            c.send("GET /health HTTP/1.1\r\nX-Slow: ")
            deadline = started + HEADER_TIMEOUT_MS / 1000 + SLACK_S
            got_answer = False
            while time.monotonic() < deadline:  # bounded by the deadline
                try:
                    c.send(b"a")
                except (BrokenPipeError, ConnectionResetError):
                    break
                c.sock.settimeout(0.1)
                try:
                    chunk = c.sock.recv(65536)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                c.buf += chunk
                if b"\r\n\r\n" in c.buf:
                    got_answer = True
                    break
            elapsed = time.monotonic() - started
            self.assertTrue(got_answer, f"no 408 within {elapsed:.1f} s: {c.buf[:200]!r}")
            c.sock.settimeout(5)
            r = c.read_response()
            self.assertError(r, 408, "request_timeout")
            self.assertGreaterEqual(elapsed, HEADER_TIMEOUT_MS / 1000 * 0.9)
            self.assertLessEqual(elapsed, HEADER_TIMEOUT_MS / 1000 + SLACK_S)

    def test_idle_keep_alive_connection_is_not_cut_by_header_timeout(self):
        # Between requests only the (longer) idle timeout applies.
        with self.server.connect(timeout=10) as c:
            c.send(predict_request([1]))
            self.assertEqual(c.read_response().status, 200)
            self.assertFalse(c.closed_by_server(timeout=HEADER_TIMEOUT_MS / 1000 + 0.5))
            c.send(predict_request([2]))
            self.assertEqual(c.read_response().status, 200)

    def test_health(self):
        r = self.server.get("/health")
        self.assertEqual(r.status, 200)
        doc = r.json()
        self.assertEqual(doc["status"], "ok")


def limit_s(ms):
    """Socket timeout comfortably past a server-side limit."""
    return ms / 1000 + SLACK_S + 5


if __name__ == "__main__":
    unittest.main()
