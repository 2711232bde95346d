"""Workers that die, fail to load or hang while loading: the request gets a
clear answer (retried, 502, or 503 naming the reason), the replica is
replaced or cleaned up, and the server and its other models keep serving."""

import os
import signal
import time
import unittest

from harness import (EXAMPLE, Background, ServerTestCase, SharedServerTestCase, model,
                     pid_alive, wait_for)

CPU_MS = 3000  # long enough to find the request in flight and kill its worker


class WorkerCrashTest(ServerTestCase):
    MODELS = [
        EXAMPLE,
        model("victim", "synthetic", {"cpu_ms_per_request": CPU_MS},
              min_replicas=2, max_replicas=3),
    ]

    def kill_replica_running_request(self, srv, exclude_ids=()):
        rep = srv.wait_in_flight("victim", exclude_ids=exclude_ids)
        os.kill(rep["pid"], signal.SIGKILL)
        return rep

    def wait_replaced(self, srv, killed_pids):
        """Two ready replicas again, none of them a killed pid."""
        def replaced():
            ready = srv.ready_replicas("victim")
            fresh = [r for r in ready if r["pid"] not in killed_pids]
            return ready if len(ready) >= 2 and len(fresh) == len(ready) else None
        return wait_for(replaced, 30, message="killed replicas to be replaced")

    def test_worker_killed_during_request_is_retried_on_another_replica(self):
        srv = self.start_server()
        before = {r["id"]: r["pid"] for r in srv.wait_ready("victim", 2)}
        call = Background(lambda: srv.predict("victim", [1], timeout=60))
        killed = self.kill_replica_running_request(srv)
        self.assertIn(killed["id"], before)

        r = call.result(60)
        self.assertEqual(r.status, 200, r.body)
        doc = r.json()
        self.assertIs(doc["success"], True)
        # Answered by another replica than the one that died.
        self.assertNotEqual(doc["model_info"]["replica"], killed["id"])
        self.assertGreaterEqual(doc["result"]["cpu_ms"], CPU_MS * 0.95)

        wait_for(lambda: not pid_alive(killed["pid"]), 10, message="killed pid to go")
        ready = self.wait_replaced(srv, {killed["pid"]})
        self.assertNotIn(killed["id"], [x["id"] for x in ready])
        # The new replica is a new process, spawned after the crash.
        new = [x for x in ready if x["id"] not in before]
        self.assertEqual(len(new), 1, ready)
        self.assertTrue(pid_alive(new[0]["pid"]))
        self.assertIn("crashed", srv.read_log())
        self.assertServing(srv)

    def test_worker_killed_twice_gives_502_replica_crashed(self):
        srv = self.start_server()
        srv.wait_ready("victim", 2)
        call = Background(lambda: srv.predict("victim", [1], timeout=60))
        first = self.kill_replica_running_request(srv)
        # The retry lands on the other replica; kill that one too.
        second = self.kill_replica_running_request(srv, exclude_ids={first["id"]})
        self.assertNotEqual(first["pid"], second["pid"])

        r = call.result(60)
        doc = self.assertError(r, 502, "replica_crashed", "victim")
        self.assertIn("signal 9", doc["message"])

        # Both replicas are replaced by new processes.
        self.wait_replaced(srv, {first["pid"], second["pid"]})
        for pid in (first["pid"], second["pid"]):
            self.assertFalse(pid_alive(pid))
        # And the model serves again (a short request would do, but this
        # model's requests are all long; the example model must be instant).
        self.assertServing(srv)

    def test_killed_idle_replica_is_restarted(self):
        srv = self.start_server()
        reps = srv.wait_ready("victim", 2)
        os.kill(reps[0]["pid"], signal.SIGKILL)
        self.wait_replaced(srv, {reps[0]["pid"]})
        self.assertServing(srv)


class LoadFailureTest(SharedServerTestCase):
    MODELS = [
        EXAMPLE,
        model("broken", "synthetic", {"fail_load": True, "load_time_ms": 50},
              min_replicas=0, max_replicas=1),
        model("hangs", "synthetic", {"load_time_ms": 60000}, min_replicas=0,
              max_replicas=1, load_timeout_seconds=1),
        model("bad-voice", "espeak", {"voice": "xx-nonexistent"}, min_replicas=0,
              max_replicas=1),
    ]

    def test_model_whose_load_fails_answers_503_model_load_failed(self):
        r = self.server.predict("broken", [1])
        self.assertError(r, 503, "model_load_failed", ["broken", "fail_load"])
        self.assertServing(self.server)
        m = self.server.model("broken")
        self.assertIn("fail_load", m["last_load_error"])
        # Back at zero replicas instead of crash-looping...
        wait_for(lambda: self.server.model("broken")["replicas"] == [], 10,
                 message="the failed replica to be gone")
        # ... and the next request tries again (and fails the same way).
        r2 = self.server.predict("broken", [1])
        self.assertError(r2, 503, "model_load_failed", "fail_load")
        self.assertEqual(len(self.server.spawned_workers("broken")), 2)

    def test_model_whose_load_hangs_answers_503_after_the_load_timeout(self):
        started = time.monotonic()
        r = self.server.predict("hangs", [1], timeout=60)
        elapsed = time.monotonic() - started
        self.assertError(r, 503, "model_load_failed", ["hangs", "load timeout"])
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 1 + 10, "the load timeout of 1 s was not enforced")
        workers = self.server.spawned_workers("hangs")
        self.assertEqual(len(workers), 1, workers)
        pid = workers[0][2]
        wait_for(lambda: not pid_alive(pid), 10, message=f"hung worker {pid} to be killed")
        self.assertEqual(self.server.model("hangs")["replicas"], [])
        self.assertServing(self.server)

    def test_unknown_espeak_voice_answers_503_model_load_failed(self):
        r = self.server.synthesize("bad-voice", "Hello")
        self.assertError(r, 503, "model_load_failed", "bad-voice")
        self.assertServing(self.server)


if __name__ == "__main__":
    unittest.main()
