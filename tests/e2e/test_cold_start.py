"""A model at zero replicas starts one on its first request (cold start)
and says so; later requests find it warm."""

import unittest

from harness import EXAMPLE, ServerTestCase, model, pid_alive, run_concurrently

LOAD_MS = 400
MEMORY_MB = 48


class ColdStartTest(ServerTestCase):
    MODELS = [
        EXAMPLE,
        model("lazy", "synthetic",
              {"load_time_ms": LOAD_MS, "memory_mb": MEMORY_MB, "cpu_ms_per_request": 5},
              min_replicas=0, max_replicas=2),
        model("tts", "flite", {"voice": "cmu_us_slt"}, min_replicas=0, max_replicas=1),
    ]

    def test_cold_start_from_zero(self):
        srv = self.start_server()
        before = srv.model("lazy")
        self.assertEqual(before["replicas"], [])
        self.assertEqual(before["state"], "unloaded")
        self.assertEqual(srv.spawned_workers("lazy"), [])

        first = srv.predict("lazy", [1])
        self.assertEqual(first.status, 200, first.body)
        doc = first.json()
        self.assertIs(doc["model_info"]["cold_start"], True)
        # The cold request waited for the whole load before a replica took it.
        self.assertGreaterEqual(doc["queue_time_ms"], LOAD_MS * 0.9, doc)

        second = srv.predict("lazy", [1])
        self.assertEqual(second.status, 200, second.body)
        doc2 = second.json()
        self.assertIs(doc2["model_info"]["cold_start"], False)
        self.assertEqual(doc2["model_info"]["replica"], doc["model_info"]["replica"])
        self.assertLess(doc2["queue_time_ms"], LOAD_MS / 2, doc2)

        m = srv.model("lazy")
        self.assertEqual(m["state"], "ready")
        self.assertEqual(len(m["replicas"]), 1, m)
        rep = m["replicas"][0]
        self.assertIn(rep["state"], ("ready", "busy"))
        self.assertEqual(rep["id"], doc["model_info"]["replica"])
        self.assertTrue(pid_alive(rep["pid"]))
        # Measured, not made up: the load slept LOAD_MS and touched MEMORY_MB.
        self.assertGreaterEqual(rep["load_time_ms"], LOAD_MS * 0.9, rep)
        self.assertLess(rep["load_time_ms"], LOAD_MS + 10000, rep)
        self.assertGreaterEqual(rep["memory_mb"], MEMORY_MB * 0.9, rep)
        self.assertEqual(rep["requests_served"], 2)
        self.assertEqual(len(srv.spawned_workers("lazy")), 1)

    def test_cold_start_of_a_tts_model(self):
        srv = self.start_server()
        self.assertEqual(srv.model("tts")["replicas"], [])
        first = srv.synthesize("tts", "Cold start.", wav=True)
        self.assertEqual(first.status, 200, first.body[:300])
        self.assertEqual(first.header("x-inferd-cold-start"), "true")
        second = srv.synthesize("tts", "Warm now.", wav=False)
        self.assertEqual(second.status, 200, second.body[:300])
        self.assertIs(second.json()["model_info"]["cold_start"], False)
        rep = srv.wait_ready("tts")[0]
        self.assertGreater(rep["load_time_ms"], 0)
        self.assertGreater(rep["memory_mb"], 0)

    def test_requests_waiting_for_a_cold_start_all_get_answers(self):
        srv = self.start_server()
        results = run_concurrently([lambda: srv.predict("lazy", [i]) for i in range(4)])
        for r in results:
            self.assertEqual(r.status, 200, r.body)
        # One cold start serves the whole burst, and every request of it
        # (all sent within the 400 ms load) says it waited for one.
        self.assertEqual(srv.model("lazy")["cold_starts"], 1)
        self.assertEqual(len(srv.spawned_workers("lazy")), 1)
        self.assertEqual([r.json()["model_info"]["cold_start"] for r in results], [True] * 4)

    def test_always_loaded_model_is_warm_at_start(self):
        srv = self.start_server()
        srv.wait_ready("example")
        r = srv.predict("example", 1)
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.json()["model_info"]["cold_start"], False)


if __name__ == "__main__":
    unittest.main()
