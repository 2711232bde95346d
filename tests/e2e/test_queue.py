"""The per-model queue is bounded in length (503 queue_full with
Retry-After) and in waiting time (504 timeout after
cold_start_timeout_seconds)."""

import time
import unittest

from harness import EXAMPLE, Background, ServerTestCase, model, wait_for


class QueueTest(ServerTestCase):
    MODELS = [
        EXAMPLE,
        model("narrow", "synthetic", {"cpu_ms_per_request": 1000}, min_replicas=1,
              max_replicas=1, max_queue_length=1),
        model("slowload", "synthetic", {"load_time_ms": 2500}, min_replicas=0,
              max_replicas=1, cold_start_timeout_seconds=0.5),
    ]

    def test_queue_full_answers_503_with_retry_after(self):
        srv = self.start_server()
        srv.wait_ready("narrow")
        running = Background(lambda: srv.predict("narrow", [1], timeout=60))
        srv.wait_in_flight("narrow")
        queued = Background(lambda: srv.predict("narrow", [2], timeout=60))
        wait_for(lambda: srv.model("narrow")["queue_length"] == 1,
                 message="the second request to be queued")

        r = srv.predict("narrow", [3])
        self.assertError(r, 503, "queue_full", ["narrow", "max_queue_length"])
        retry = r.header("retry-after")
        self.assertIsNotNone(retry, r.headers)
        self.assertTrue(retry.isdigit() and int(retry) >= 1, retry)
        # Other models are not affected by this model's full queue.
        self.assertServing(srv)

        # The running and the queued request both complete.
        for call in (running, queued):
            done = call.result(60)
            self.assertEqual(done.status, 200, done.body)
        self.assertEqual(srv.model("narrow")["queue_length"], 0)
        # Room again: a new request is accepted.
        self.assertEqual(srv.predict("narrow", [4], timeout=60).status, 200)

    def test_cold_start_timeout_answers_504(self):
        srv = self.start_server()
        started = time.monotonic()
        r = srv.predict("slowload", [1], timeout=60)
        elapsed = time.monotonic() - started
        self.assertError(r, 504, "timeout", ["slowload", "cold_start_timeout_seconds"])
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 2.2, "answered only after the 2.5 s load, not at the timeout")
        self.assertEqual(srv.model("slowload")["queue_length"], 0)
        self.assertServing(srv)
        # The replica goes on loading; once ready, the model serves.
        srv.wait_ready("slowload", timeout=30)
        r2 = srv.predict("slowload", [1])
        self.assertEqual(r2.status, 200, r2.body)
        self.assertIs(r2.json()["model_info"]["cold_start"], False)


if __name__ == "__main__":
    unittest.main()
