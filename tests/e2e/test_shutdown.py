"""Graceful shutdown that cannot be held up: in-flight requests get until
shutdown_timeout_ms, a second signal ends the wait at once, requests that
arrive on open connections meanwhile are told 503 shutting_down and the
connection closes, and a Ctrl-C sent to the gateway's process group leaves
the workers to the gateway, which shuts them down cleanly."""

import http.client
import os
import re
import signal
import subprocess
import time
import unittest

from harness import (EXAMPLE, Background, ServerTestCase, http_request, model, pid_alive,
                     wait_for)

SLOW_MS = 5000

MODELS = [
    EXAMPLE,
    model("slow", "synthetic", {"cpu_ms_per_request": SLOW_MS}, min_replicas=1, max_replicas=1),
]


def outcome(fn):
    """Runs a request; returns its Response, or the connection error that
    ended it (the server closed the connection without an answer)."""
    try:
        return fn()
    except (ConnectionError, http.client.HTTPException) as e:
        return e


class ShutdownTest(ServerTestCase):
    MODELS = MODELS

    def start_with_workers(self, **kw):
        srv = self.start_server(**kw)
        srv.wait_ready("slow")
        srv.wait_ready("example")
        pids = srv.all_worker_pids()
        self.assertEqual(len(pids), 2, pids)
        return srv, pids

    def slow_request_in_flight(self, srv):
        call = Background(lambda: outcome(lambda: srv.predict("slow", [1], timeout=30)))
        srv.wait_in_flight("slow", timeout=10)
        return call

    def wait_exit(self, srv, since, timeout):
        try:
            code = srv.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"inferd did not exit within {timeout} s")
        return code, time.monotonic() - since

    def assertAllGone(self, pids):
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), 5, message=f"worker {pid} to be gone")

    def test_sigterm_with_long_request_exits_after_shutdown_timeout(self):
        srv, pids = self.start_with_workers(server={"shutdown_timeout_ms": 1000})
        call = self.slow_request_in_flight(srv)
        signalled = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        code, elapsed = self.wait_exit(srv, signalled, 10)
        self.assertEqual(code, 0)
        self.assertGreaterEqual(elapsed, 0.9, "did not wait shutdown_timeout_ms for the request")
        self.assertLess(elapsed, 3.0, "the shutdown deadline did not stop the in-flight request")
        self.assertAllGone(pids)

        # The client is told why: 503 shutting_down (the gateway answers
        # the request when it stops its replica, before it closes the
        # connections), never a 200 from a worker that was stopped.
        r = call.result(10)
        self.assertNotIsInstance(r, Exception, f"the connection closed without an answer: {r!r}")
        doc = self.assertError(r, 503, "shutting_down")
        self.assertEqual(r.header("retry-after"), "1")
        self.assertIn("shutting down", doc["message"])
        self.assertEqual(r.header("connection"), "close")
        log = srv.read_log()
        self.assertIn("shutdown deadline reached, stopping workers pending=1", log)
        self.assertIn("all workers stopped", log)

    def test_second_sigterm_exits_at_once_despite_in_flight_request(self):
        srv, pids = self.start_with_workers(server={"shutdown_timeout_ms": 20000})
        call = self.slow_request_in_flight(srv)
        signalled = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "main: shutting down" in srv.read_log(), 2,
                 message="the first signal to start the shutdown")
        self.assertIsNone(srv.proc.poll(), "exited on the first signal with a request in flight")
        srv.proc.send_signal(signal.SIGTERM)
        code, elapsed = self.wait_exit(srv, signalled, 10)
        self.assertEqual(code, 0)
        self.assertLess(elapsed, 2.0, "the second signal did not end the shutdown at once")
        self.assertAllGone(pids)
        self.assertIn("second signal, not waiting for in-flight requests", srv.read_log())
        r = call.result(10)
        self.assertFalse(getattr(r, "status", None) == 200, r)

    def test_request_on_open_keepalive_connection_after_sigterm_gets_503_and_close(self):
        srv, pids = self.start_with_workers(server={"shutdown_timeout_ms": 20000})
        conn = srv.connect(timeout=10)
        self.addCleanup(conn.close)
        conn.send(http_request("GET", "/health"))
        first = conn.read_response()
        self.assertEqual(first.status, 200, first.body)
        self.assertEqual(first.header("connection"), "keep-alive")

        # A request in flight keeps the server up while it drains.
        self.slow_request_in_flight(srv)
        srv.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "main: shutting down" in srv.read_log(), 2,
                 message="the shutdown to start")

        conn.send(http_request("POST", "/predict", {"model_name": "example", "inputs": [1]}))
        r = conn.read_response()
        doc = self.assertError(r, 503, "shutting_down")
        self.assertIn("shutting down", doc["message"])
        self.assertEqual(r.header("connection"), "close")
        self.assertEqual(r.header("retry-after"), "1")
        self.assertTrue(conn.closed_by_server(5), "the connection stayed open after the 503")
        self.assertIsNone(srv.proc.poll(), "the server did not wait for the in-flight request")

        # End it without waiting for the 5 s request.
        signalled = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        code, _ = self.wait_exit(srv, signalled, 10)
        self.assertEqual(code, 0)
        self.assertAllGone(pids)

    def test_sigint_to_process_group_lets_gateway_shut_workers_down_cleanly(self):
        # The server leads its own process group, so the group signal is a
        # terminal's Ctrl-C for the server alone, never for this test runner.
        srv, pids = self.start_with_workers(new_session=True)
        pgid = os.getpgid(srv.proc.pid)
        self.assertEqual(pgid, srv.proc.pid)
        self.assertNotEqual(pgid, os.getpgrp())
        worker_groups = {pid: os.getpgid(pid) for pid in pids}

        signalled = time.monotonic()
        os.killpg(pgid, signal.SIGINT)
        code, elapsed = self.wait_exit(srv, signalled, 10)
        self.assertEqual(code, 0)
        self.assertLess(elapsed, 5.0)
        self.assertAllGone(pids)

        log = srv.read_log()
        self.assertIn(f"main: shutting down signal={int(signal.SIGINT)}", log)
        self.assertEqual([line for line in log.splitlines() if "signal 2" in line], [],
                         "the group's SIGINT reached the workers")
        for pid in pids:
            m = re.search(rf"worker ended model=(\S+) replica=(\d+) pid={pid} reason=(\S+) "
                          rf"detail=\"([^\"]*)\"", log)
            self.assertIsNotNone(m, f"no end logged for worker {pid}")
            self.assertEqual((m.group(3), m.group(4)), ("clean", "shut down"), m.group(0))
            # The worker itself received SHUTDOWN from the gateway.
            self.assertIn(f"worker: shutting down model={m.group(1)} replica={m.group(2)}", log)
        # Because the workers have process groups of their own.
        for pid, group in worker_groups.items():
            self.assertNotEqual(group, pgid, f"worker {pid} was in the gateway's process group")


if __name__ == "__main__":
    unittest.main()
