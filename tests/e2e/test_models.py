"""GET /models and GET /models/{name} describe every configured model and
each of its replicas with measured figures and its current state
(starting, ready, busy, draining)."""

import unittest

from harness import EXAMPLE, Background, ServerTestCase, model, pid_alive, wait_for

REPLICA_FIELDS = {"id", "pid", "state", "load_time_ms", "memory_mb", "requests_served"}


class ModelsTest(ServerTestCase):
    MODELS = [
        EXAMPLE,
        model("tts", "flite", {"voice": "cmu_us_awb"}, min_replicas=0, max_replicas=2),
        model("loader", "synthetic", {"load_time_ms": 1500, "cpu_ms_per_request": 1000,
                                      "memory_mb": 16},
              min_replicas=0, max_replicas=1),
    ]

    def test_models_lists_every_configured_model(self):
        srv = self.start_server()
        srv.wait_ready("example")
        r = srv.get("/models")
        self.assertEqual(r.status, 200, r.body)
        doc = r.json()
        self.assertIs(doc["success"], True)
        by_name = {m["name"]: m for m in doc["models"]}
        self.assertEqual(set(by_name), {"example", "tts", "loader"})
        self.assertEqual(by_name["tts"]["backend"], "flite")
        self.assertEqual(by_name["tts"]["replicas"], [])
        self.assertEqual(by_name["tts"]["state"], "unloaded")
        self.assertEqual(by_name["example"]["state"], "ready")
        self.assertIn("predict", by_name["example"]["tasks"])
        self.assertIn("synthesize", by_name["tts"]["tasks"])
        (rep,) = by_name["example"]["replicas"]
        self.assertLessEqual(REPLICA_FIELDS, set(rep))
        self.assertEqual(rep["state"], "ready")
        self.assertTrue(pid_alive(rep["pid"]))
        self.assertGreater(rep["load_time_ms"], 0)
        self.assertGreater(rep["memory_mb"], 0)

        one = srv.get("/models/tts")
        self.assertEqual(one.status, 200)
        self.assertEqual(one.json()["model"]["name"], "tts")
        # A trailing slash names the same resource.
        self.assertEqual(srv.get("/models/tts/").status, 200)

    def test_replica_states_follow_its_life(self):
        srv = self.start_server()
        self.assertEqual(srv.set_replicas("loader", 1).status, 202)
        (starting,) = srv.model("loader")["replicas"]
        self.assertEqual(starting["state"], "starting")
        self.assertEqual(srv.model("loader")["state"], "loading")
        self.assertTrue(pid_alive(starting["pid"]))

        (ready,) = srv.wait_ready("loader")
        self.assertEqual(ready["pid"], starting["pid"])
        self.assertEqual(ready["state"], "ready")
        self.assertGreaterEqual(ready["load_time_ms"], 1500 * 0.9)
        self.assertGreaterEqual(ready["memory_mb"], 16 * 0.9)
        self.assertEqual(ready["requests_served"], 0)

        call = Background(lambda: srv.predict("loader", [1], timeout=60))
        busy = srv.wait_in_flight("loader")
        self.assertEqual(busy["state"], "busy")
        self.assertEqual(srv.set_replicas("loader", 0).status, 202)
        (draining,) = srv.model("loader")["replicas"]
        self.assertEqual(draining["state"], "draining")
        self.assertEqual(call.result(60).status, 200)
        wait_for(lambda: srv.model("loader")["replicas"] == [], 20,
                 message="the drained replica to go")
        self.assertEqual(srv.model("loader")["state"], "unloaded")

    def test_requests_served_counts_each_answer(self):
        srv = self.start_server()
        for i in range(3):
            self.assertEqual(srv.synthesize("tts", f"Number {i}.").status, 200)
        (rep,) = srv.model("tts")["replicas"]
        self.assertEqual(rep["requests_served"], 3)
        self.assertEqual(srv.model("tts")["cold_starts"], 1)


if __name__ == "__main__":
    unittest.main()
