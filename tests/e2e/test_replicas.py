"""POST /models/{name}/replicas sets a model's replica count by hand:
up starts workers, down drains them without losing in-flight work, and
bad values are refused naming 'replicas'."""

import unittest

from harness import (EXAMPLE, Background, ServerTestCase, SharedServerTestCase, model,
                     pid_alive, wait_for)


class ResizeTest(ServerTestCase):
    MODELS = [
        EXAMPLE,
        model("elastic", "synthetic", {"cpu_ms_per_request": 1500, "memory_mb": 8},
              min_replicas=0, max_replicas=3),
    ]

    def test_scale_up_and_down(self):
        srv = self.start_server()
        self.assertEqual(srv.model("elastic")["replicas"], [])

        r = srv.set_replicas("elastic", 3)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json()["model"]["desired_replicas"], 3)
        ready = srv.wait_ready("elastic", 3)
        pids = {x["pid"] for x in ready}
        self.assertEqual(len(pids), 3)
        self.assertTrue(all(pid_alive(p) for p in pids))

        r = srv.set_replicas("elastic", 1)
        self.assertEqual(r.status, 202, r.body)
        wait_for(lambda: len(srv.model("elastic")["replicas"]) == 1, 20,
                 message="two replicas to drain away")
        left = srv.model("elastic")["replicas"][0]
        self.assertIn(left["pid"], pids)
        for pid in pids - {left["pid"]}:
            wait_for(lambda: not pid_alive(pid), 10, message=f"drained worker {pid} to exit")

        r = srv.set_replicas("elastic", 0)
        self.assertEqual(r.status, 202, r.body)
        wait_for(lambda: srv.model("elastic")["replicas"] == [], 20,
                 message="the last replica to drain")
        self.assertEqual(srv.model("elastic")["state"], "unloaded")
        wait_for(lambda: not pid_alive(left["pid"]), 10, message="last worker to exit")
        self.assertServing(srv)

    def test_drained_replica_finishes_its_in_flight_request(self):
        srv = self.start_server()
        self.assertEqual(srv.set_replicas("elastic", 1).status, 202)
        rep = srv.wait_ready("elastic", 1)[0]
        call = Background(lambda: srv.predict("elastic", [1], timeout=60))
        srv.wait_in_flight("elastic")

        r = srv.set_replicas("elastic", 0)
        self.assertEqual(r.status, 202, r.body)
        states = [x["state"] for x in srv.model("elastic")["replicas"]]
        self.assertEqual(states, ["draining"])

        done = call.result(60)
        self.assertEqual(done.status, 200, done.body)
        self.assertEqual(done.json()["model_info"]["replica"], rep["id"])
        self.assertGreaterEqual(done.json()["result"]["cpu_ms"], 1500 * 0.95)
        wait_for(lambda: srv.model("elastic")["replicas"] == [], 20,
                 message="the drained replica to exit")
        wait_for(lambda: not pid_alive(rep["pid"]), 10, message="the drained worker to exit")
        # It shut down cleanly, not by being killed.
        self.assertNotIn("reason=crashed", srv.read_log())

    def test_scale_down_drains_the_idle_replica_first(self):
        srv = self.start_server()
        self.assertEqual(srv.set_replicas("elastic", 2).status, 202)
        srv.wait_ready("elastic", 2)
        call = Background(lambda: srv.predict("elastic", [1], timeout=60))
        busy = srv.wait_in_flight("elastic")
        self.assertEqual(srv.set_replicas("elastic", 1).status, 202)
        wait_for(lambda: [x["id"] for x in srv.model("elastic")["replicas"]] == [busy["id"]],
                 20, message="the idle replica to drain")
        self.assertEqual(call.result(60).status, 200)


class ResizeValidationTest(SharedServerTestCase):
    MODELS = [
        EXAMPLE,
        model("bounded", "synthetic", {}, min_replicas=1, max_replicas=3),
        model("pinned", "example", {}, always_loaded=True, max_replicas=2),
    ]

    def tearDown(self):
        self.assertServing(self.server)

    def test_bad_replica_counts_are_400_naming_replicas(self):
        for body in [{"replicas": -1}, {"replicas": 11}, {"replicas": "2"}, {},
                     {"replicas": 2.0}, {"replicas": 1.5}, {"replicas": None},
                     {"replicas": True}, {"replicas": 4}, {"replicas": 0}]:
            with self.subTest(body=body):
                r = self.server.post("/models/bounded/replicas", body)
                self.assertError(r, 400, "invalid_request", "replicas")
        self.assertEqual(self.server.model("bounded")["desired_replicas"], 1)

    def test_pinned_model_cannot_go_to_zero(self):
        r = self.server.post("/models/pinned/replicas", {"replicas": 0})
        self.assertError(r, 400, "invalid_request", "replicas")
        self.assertEqual(len(self.server.wait_ready("pinned")), 1)

    def test_unknown_field_is_400(self):
        r = self.server.post("/models/bounded/replicas", {"replicas": 2, "count": 2})
        self.assertError(r, 400, "invalid_request", "count")

    def test_unknown_model_is_404(self):
        r = self.server.post("/models/ghost/replicas", {"replicas": 1})
        self.assertError(r, 404, "model_not_found", "ghost")

    def test_within_bounds_is_202(self):
        r = self.server.post("/models/bounded/replicas", {"replicas": 2})
        self.assertEqual(r.status, 202, r.body)
        self.server.wait_ready("bounded", 2)
        r = self.server.post("/models/bounded/replicas", {"replicas": 1})
        self.assertEqual(r.status, 202, r.body)
        wait_for(lambda: len(self.server.model("bounded")["replicas"]) == 1, 20,
                 message="back to one replica")


if __name__ == "__main__":
    unittest.main()
