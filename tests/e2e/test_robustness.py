"""Failures in the middle of serving, each answered in bounded time with the
right code: a worker that hangs mid-request is killed and the request gets
504 request_timeout; a request retried after its replica died gets a fresh
queue deadline; resizing to zero does not strand queued requests; a client
that left before its request reached a replica does not cost a worker run;
a worker that dies while loading (a load error, a non-zero exit, a frame the
gateway cannot read) makes 503 model_load_failed at once, not a 504 after
the cold-start timeout."""

import ctypes
import os
import re
import signal
import socket
import struct
import time
import unittest

from harness import (Background, ServerTestCase, SharedServerTestCase, http_request,
                     is_inferd_worker, model, pid_alive, process_state, wait_for)


def release_worker(pid):
    """Cleanup for a test that stopped a worker: never leave it stopped
    (or running) if the gateway did not get rid of it."""
    if is_inferd_worker(pid):
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return


def catch_in_flight(srv, name, call, exclude_ids=(), timeout=10.0):
    """Polls quickly until a replica of name (not in exclude_ids) holds a
    request; returns that replica, or None if call finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rep in srv.model(name)["replicas"]:
            if rep["id"] not in exclude_ids and rep["in_flight"] > 0:
                return rep
        if call.done():
            return None
        time.sleep(0.01)
    raise AssertionError(f"no request of {name} was in flight within {timeout} s")


def worker_ended_line(log, pid):
    """The gateway's "worker ended" log line for pid, or None."""
    m = re.search(rf"worker ended model=\S+ replica=\d+ pid={pid} reason=\S+ detail=\"[^\"]*\"",
                  log)
    return m.group(0) if m else None


class HungWorkerTest(ServerTestCase):
    # A request takes 100 ms of CPU, well inside request_timeout_seconds even
    # on a machine so busy that the worker gets a sixth of a CPU; a worker
    # stopped in the middle of one never finishes it.
    CPU_MS = 100
    MODELS = [model("hang", "synthetic", {"cpu_ms_per_request": CPU_MS}, min_replicas=1,
                    max_replicas=1, request_timeout_seconds=1)]

    def test_worker_hung_mid_request_is_killed_and_request_gets_504_request_timeout(self):
        srv = self.start_server()
        first = srv.wait_ready("hang")[0]
        # A normal request finishes inside the timeout: no false alarm.
        ok = srv.predict("hang", [1], timeout=20)
        self.assertEqual(ok.status, 200, ok.body)
        self.assertEqual(ok.json()["model_info"]["replica"], first["id"])

        r = None
        for attempt in range(20):
            started = time.monotonic()
            call = Background(lambda: srv.predict("hang", [1], timeout=30))
            busy = catch_in_flight(srv, "hang", call)
            if busy is None:  # finished before the poll saw it: again
                self.assertEqual(call.result(10).status, 200)
                continue
            pid = busy["pid"]
            self.addCleanup(release_worker, pid)
            os.kill(pid, signal.SIGSTOP)
            wait_for(lambda: process_state(pid) in ("T", "t"), 2,
                     message=f"worker {pid} to stop")
            r = call.result(20)
            elapsed = time.monotonic() - started
            if r.status != 200:
                break
            # The request finished between being seen in flight and the
            # stop (a very slow poll): let the worker go on and try again.
            os.kill(pid, signal.SIGCONT)
        self.assertTrue(r is not None and r.status != 200,
                        "never caught a request in flight to stop its worker")

        doc = self.assertError(r, 504, "request_timeout", ["hang", "request_timeout_seconds"])
        self.assertIn(f"replica {busy['id']}", doc["message"])
        self.assertGreaterEqual(elapsed, 0.9, "answered before request_timeout_seconds")
        self.assertLess(elapsed, 5.0, "the hung request was not cut off near its 1 s timeout")

        # The gateway SIGKILLed the stopped worker (SIGKILL works on a
        # stopped process) and says why: it was unresponsive.
        wait_for(lambda: not pid_alive(pid), 5, message=f"hung worker {pid} to be killed")
        line = wait_for(lambda: worker_ended_line(srv.read_log(), pid), 5,
                        message="the gateway to log the end of the hung worker")
        self.assertIn("reason=unresponsive", line)
        self.assertIn("request_timeout_seconds", line)

        # A new replica, a new process, serves the next request.
        def replaced():
            ready = srv.ready_replicas("hang")
            return ready if ready and all(x["pid"] != pid for x in ready) else None
        fresh = wait_for(replaced, 10, message="a new replica of hang")[0]
        self.assertNotEqual(fresh["id"], busy["id"])
        nxt = srv.predict("hang", [2], timeout=20)
        self.assertEqual(nxt.status, 200, nxt.body)
        self.assertEqual(nxt.json()["model_info"]["replica"], fresh["id"])
        self.assertGreaterEqual(nxt.json()["result"]["cpu_ms"], self.CPU_MS * 0.95)
        self.assertEqual([x["id"] for x in srv.model("hang")["replicas"]], [fresh["id"]])


class HungWorkerQueueTest(ServerTestCase):
    CPU_MS = 300
    MODELS = [model("stuck", "synthetic", {"cpu_ms_per_request": CPU_MS}, min_replicas=1,
                    max_replicas=1, request_timeout_seconds=3)]

    def test_request_queued_behind_hung_request_keeps_its_retry(self):
        """The request waiting behind a hung one must not be handed to the
        replica being killed for hanging: its one retry is for a replica
        that dies while running it."""
        srv = self.start_server()
        srv.wait_ready("stuck")
        hung_call = Background(lambda: srv.predict("stuck", [1], timeout=30))
        hung = catch_in_flight(srv, "stuck", hung_call)
        self.assertIsNotNone(hung, "the first request finished before it could be caught")
        self.addCleanup(release_worker, hung["pid"])
        os.kill(hung["pid"], signal.SIGSTOP)
        waiting = Background(lambda: srv.predict("stuck", [2], timeout=30))
        wait_for(lambda: srv.model("stuck")["queue_length"] == 1, 5,
                 message="the second request to queue behind the hung one")

        self.assertError(hung_call.result(20), 504, "request_timeout", "stuck")
        # The waiting request runs on the replacement; that replica dies
        # under it (its first real run), so it is retried on a third one.
        second = catch_in_flight(srv, "stuck", waiting, exclude_ids={hung["id"]})
        self.assertIsNotNone(second, "the waiting request finished before it could be caught")
        os.kill(second["pid"], signal.SIGKILL)
        r = waiting.result(20)
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn(r.json()["model_info"]["replica"], (hung["id"], second["id"]))
        self.assertGreaterEqual(r.json()["result"]["cpu_ms"], self.CPU_MS * 0.95)


class RetryDeadlineTest(ServerTestCase):
    CPU_MS = 2000
    MODELS = [model("retry", "synthetic", {"cpu_ms_per_request": CPU_MS}, min_replicas=1,
                    max_replicas=1, cold_start_timeout_seconds=1)]

    def test_request_retried_after_replica_killed_gets_fresh_queue_deadline(self):
        srv = self.start_server()
        rep = srv.wait_ready("retry")[0]
        started = time.monotonic()
        call = Background(lambda: srv.predict("retry", [1], timeout=30))
        busy = srv.wait_in_flight("retry", timeout=10)
        self.assertEqual(busy["id"], rep["id"])
        # Kill it once the request is older than cold_start_timeout_seconds:
        # its first queue deadline has passed while it ran.
        time.sleep(max(0.0, started + 1.3 - time.monotonic()))
        self.assertFalse(call.done(), "the 2 s request finished before the kill")
        os.kill(rep["pid"], signal.SIGKILL)

        r = call.result(20)
        elapsed = time.monotonic() - started
        self.assertEqual(r.status, 200, r.body)
        doc = r.json()
        self.assertIs(doc["success"], True)
        # Run again, whole, on the restarted replica.
        self.assertNotEqual(doc["model_info"]["replica"], rep["id"])
        self.assertGreaterEqual(doc["result"]["cpu_ms"], self.CPU_MS * 0.95)
        # It waited in the queue (accepted -> last handed to a replica) for
        # longer than cold_start_timeout_seconds in total, and was not cut
        # off for it.
        self.assertGreater(doc["queue_time_ms"], 1000.0)
        self.assertGreaterEqual(elapsed, 1.3 + self.CPU_MS / 1000 * 0.95)

        line = worker_ended_line(srv.read_log(), rep["pid"])
        self.assertIsNotNone(line)
        self.assertIn("reason=crashed", line)
        self.assertIn("signal 9", line)
        self.assertEqual(len(srv.spawned_workers("retry")), 2)


class ResizeToZeroTest(ServerTestCase):
    MODELS = [model("lazy", "synthetic", {"load_time_ms": 1500}, min_replicas=0, max_replicas=1,
                    cold_start_timeout_seconds=10)]

    def resize_to_zero_during_cold_start(self):
        """A request cold-starts lazy; while its replica loads, the model is
        resized to 0. Returns the server, the replica that was loading, and
        the request's answer."""
        srv = self.start_server()
        self.assertEqual(srv.model("lazy")["replicas"], [])
        started = time.monotonic()
        call = Background(lambda: srv.predict("lazy", [1], timeout=30))
        starting = wait_for(lambda: srv.model("lazy")["replicas"], 5,
                            message="the cold start to spawn a replica")
        self.assertEqual([x["state"] for x in starting], ["starting"])
        self.assertFalse(call.done())

        resize = srv.set_replicas("lazy", 0)
        self.assertEqual(resize.status, 202, resize.body)
        r = call.result(20)
        self.answered_after = time.monotonic() - started
        return srv, starting[0], r

    def test_resize_to_zero_during_cold_start_still_answers_queued_request(self):
        srv, starting, r = self.resize_to_zero_during_cold_start()
        self.assertEqual(r.status, 200, r.body)
        doc = r.json()
        self.assertIs(doc["model_info"]["cold_start"], True)
        self.assertEqual(doc["model_info"]["replica"], starting["id"])
        self.assertGreaterEqual(doc["queue_time_ms"], 1500 * 0.9)
        self.assertLess(self.answered_after, 10.0,
                        "answered by the cold-start timeout, not a replica")
        # One worker was ever started: the loading one was not killed and
        # replaced.
        self.assertEqual(len(srv.spawned_workers("lazy")), 1)

    def test_resize_to_zero_during_cold_start_counts_one_cold_start(self):
        srv, _, r = self.resize_to_zero_during_cold_start()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(srv.read_log().count("pool: cold start model=lazy"), 1)
        self.assertEqual(srv.model("lazy")["cold_starts"], 1)

    def test_resize_to_zero_during_cold_start_is_honoured_once_queue_is_empty(self):
        srv, starting, r = self.resize_to_zero_during_cold_start()
        self.assertEqual(r.status, 200, r.body)
        # The replica served the request it was kept for; then the model
        # goes where it was told, as it would have with no request queued.
        m = wait_for(lambda: (lambda m: m if m["replicas"] == [] else None)(srv.model("lazy")),
                     5, message="lazy to drain to the 0 replicas it was resized to")
        self.assertEqual(m["desired_replicas"], 0)
        wait_for(lambda: not pid_alive(starting["pid"]), 5, message="the replica to exit")


class AbandonedRequestTest(ServerTestCase):
    CPU_MS = 1500
    MODELS = [model("busy", "synthetic", {"cpu_ms_per_request": CPU_MS}, min_replicas=1,
                    max_replicas=1, replica_concurrency=1)]

    def infer_frames(self, srv):
        """How many INFER frames the workers of busy logged receiving."""
        return len(re.findall(r"frame INFER id=\d+ bytes=\d+ model=busy ", srv.read_log()))

    def test_client_gone_before_dispatch_does_not_cost_a_worker_run(self):
        srv = self.start_server()
        rep = srv.wait_ready("busy")[0]
        self.assertEqual(rep["requests_served"], 0)
        first = Background(lambda: srv.predict("busy", [1], timeout=30))
        srv.wait_in_flight("busy", timeout=10)

        body = {"model_name": "busy", "inputs": [2]}
        gone = [srv.connect() for _ in range(3)]
        for c in gone:
            self.addCleanup(c.close)
            c.send(http_request("POST", "/predict", body))
        wait_for(lambda: srv.model("busy")["queue_length"] == 3, 5,
                 message="three requests queued behind the busy replica")
        for c in gone:
            c.close()
        self.assertFalse(first.done(), "the long request finished before the clients left")

        r = first.result(20)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["model_info"]["replica"], rep["id"])
        # The queue empties without the abandoned requests reaching the
        # replica: it served one request and holds none.
        m = wait_for(lambda: (lambda m: m if m["queue_length"] == 0 else None)(
            srv.model("busy")), 10, message="the queue to empty")
        [after] = m["replicas"]
        self.assertEqual(after["id"], rep["id"])
        self.assertEqual(after["in_flight"], 0, m)
        self.assertEqual(after["requests_served"], 1, m)
        self.assertEqual(self.infer_frames(srv), 1)
        self.assertEqual(m["requests_accepted"], 4)

        # A live client is served next, straight away.
        r2 = srv.predict("busy", [3], timeout=20)
        self.assertEqual(r2.status, 200, r2.body)
        self.assertEqual(r2.json()["model_info"]["replica"], rep["id"])
        # Not behind any abandoned request: no wait for a 1.5 s run.
        self.assertLess(r2.json()["queue_time_ms"], 1000.0)
        [final] = srv.model("busy")["replicas"]
        self.assertEqual(final["requests_served"], 2)
        self.assertEqual(self.infer_frames(srv), 2)


# ---- load failures ----

SYS_PIDFD_OPEN = 434   # the same number on every Linux architecture
SYS_PIDFD_GETFD = 438


def steal_worker_socket(pid, fd=3):
    """A duplicate of the worker's end of its socket to the gateway
    (pidfd_getfd, Linux 5.6+): bytes written to it reach the gateway as if
    the worker had sent them. None where the kernel does not allow it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    pidfd = libc.syscall(SYS_PIDFD_OPEN, ctypes.c_int(pid), ctypes.c_uint(0))
    if pidfd < 0:
        return None
    try:
        dup = libc.syscall(SYS_PIDFD_GETFD, ctypes.c_int(pidfd), ctypes.c_int(fd),
                           ctypes.c_uint(0))
    finally:
        os.close(pidfd)
    if dup < 0:
        return None
    return socket.socket(fileno=dup)


def ipc_frame(type_, request_id, payload=b"", magic=b"IF", version=1):
    return magic + struct.pack(">BBIQ", version, type_, len(payload), request_id) + payload


IPC_RESULT = 3


class LoadFailureTimingTest(SharedServerTestCase):
    """Each model has a cold-start timeout of 20 s; a load that fails must
    be answered long before it."""

    COLD = 20
    MODELS = [
        model("fails", "synthetic", {"fail_load": True, "load_time_ms": 200}, min_replicas=0,
              max_replicas=1, cold_start_timeout_seconds=COLD, load_timeout_seconds=30),
        model("no-voice", "espeak", {"voice": "zz-nonexistent"}, min_replicas=0,
              max_replicas=1, cold_start_timeout_seconds=COLD, load_timeout_seconds=30),
        # Loads for 5 s, long enough to speak for the worker meanwhile.
        model("garbled", "synthetic", {"load_time_ms": 5000}, min_replicas=0, max_replicas=1,
              cold_start_timeout_seconds=COLD, load_timeout_seconds=30),
        model("early-result", "synthetic", {"load_time_ms": 5000}, min_replicas=0,
              max_replicas=1, cold_start_timeout_seconds=COLD, load_timeout_seconds=30),
    ]

    def timed(self, fn):
        started = time.monotonic()
        r = fn()
        return r, time.monotonic() - started

    def assertWorkersGone(self, name):
        workers = self.server.spawned_workers(name)
        self.assertEqual(len(workers), 1, workers)
        pid = workers[0][2]
        wait_for(lambda: not pid_alive(pid), 5, message=f"worker {pid} of {name} to be gone")
        wait_for(lambda: self.server.model(name)["replicas"] == [], 5,
                 message=f"{name} to be back at zero replicas")
        return pid

    def test_worker_exiting_nonzero_during_load_gives_503_model_load_failed_at_once(self):
        r, elapsed = self.timed(lambda: self.server.predict("fails", [1], timeout=60))
        self.assertError(r, 503, "model_load_failed", ["fails", "fail_load"])
        self.assertLess(elapsed, 10, "a failed load waited for the cold-start timeout")
        pid = self.assertWorkersGone("fails")
        line = worker_ended_line(self.server.read_log(), pid)
        self.assertIn("reason=load_failed", line)

    def test_backend_params_error_inside_worker_gives_503_model_load_failed_at_once(self):
        r, elapsed = self.timed(lambda: self.server.synthesize("no-voice", "Hello"))
        self.assertError(r, 503, "model_load_failed", ["no-voice", "zz-nonexistent"])
        self.assertLess(elapsed, 10, "a failed load waited for the cold-start timeout")
        pid = self.assertWorkersGone("no-voice")
        self.assertIn("reason=load_failed", worker_ended_line(self.server.read_log(), pid))

    def inject_while_loading(self, name, data):
        """Sends a request that cold-starts name; while its worker loads,
        writes data to the gateway as if the worker had. Returns the answer,
        its time from the injection, and the worker pid."""
        call = Background(lambda: self.server.predict(name, [1], timeout=60))
        workers = wait_for(lambda: self.server.spawned_workers(name), 5,
                           message=f"a worker of {name} to be spawned")
        pid = workers[0][2]
        self.addCleanup(release_worker, pid)
        sock = steal_worker_socket(pid)
        if sock is None:
            call.result(60)
            self.skipTest("pidfd_getfd is not available here")
        with sock:
            self.assertEqual(self.server.model(name)["replicas"][0]["state"], "starting")
            injected = time.monotonic()
            sock.sendall(data)
            r = call.result(60)
        return r, time.monotonic() - injected, pid

    def test_malformed_frame_during_load_gives_503_model_load_failed_at_once(self):
        r, elapsed, pid = self.inject_while_loading(
            "garbled", ipc_frame(IPC_RESULT, 1, b"{}", magic=b"XX"))
        doc = self.assertError(r, 503, "model_load_failed", ["garbled", "bad frame magic"])
        self.assertIn("while loading", doc["message"])
        # Well before both the cold-start timeout and the 5 s load.
        self.assertLess(elapsed, 3, "the malformed frame did not end the load at once")
        self.assertWorkersGone("garbled")
        line = worker_ended_line(self.server.read_log(), pid)
        self.assertIn("reason=load_failed", line)
        self.assertEqual(self.server.model("garbled")["desired_replicas"], 0)

    def test_unexpected_frame_during_load_gives_503_model_load_failed_at_once(self):
        r, elapsed, pid = self.inject_while_loading(
            "early-result", ipc_frame(IPC_RESULT, 1, b'{"result": 1}'))
        doc = self.assertError(r, 503, "model_load_failed",
                               ["early-result", "unexpected RESULT frame"])
        self.assertIn("while loading", doc["message"])
        self.assertLess(elapsed, 3, "the unexpected frame did not end the load at once")
        self.assertWorkersGone("early-result")
        self.assertIn("reason=load_failed", worker_ended_line(self.server.read_log(), pid))


if __name__ == "__main__":
    unittest.main()
