"""The predictive and hybrid strategies in the live server: with either one
the server serves, decides and reports its strategy; and with
preload_popular_models a model at zero replicas whose stored traffic says
requests are due now is loaded before any request arrives (and is not with
preloading off), while a model without such history stays at zero."""

import concurrent.futures
import os
import sqlite3
import time
import unittest

from harness import PINNED, ServerTestCase, autoscaler_section, model, wait_for



def elastic(name):
    """An auto-managed model that loads in milliseconds, at zero replicas."""
    return model(name, "synthetic", {"memory_mb": 4}, min_replicas=0, max_replicas=3,
                 initial_replicas=0)


# Nothing moves by the reactive windows within a test: an hour to shrink or
# unload. What loads does so because of the forecast.
QUIET = {
    "scale_down_threshold": {"idle_time_minutes": 60},
    "zero_scale_threshold": {"idle_time_minutes": 60, "no_requests_minutes": 60},
    "cooldowns": {"scale_up_cooldown_seconds": 1, "scale_down_cooldown_seconds": 120,
                  "zero_scale_cooldown_seconds": 120},
}


def strategy_section(strategy, preload=True):
    return autoscaler_section(dict(QUIET, scaling_strategy=strategy,
                                   model_management={"preload_popular_models": preload}))


def per_model(srv, name):
    stats = srv.get("/autoscaler/stats").json()
    for entry in stats["per_model"]:
        if entry["model"] == name:
            return entry
    raise AssertionError(f"{name} not in per_model: {stats['per_model']}")


class StrategyLiveTest(ServerTestCase):
    MODELS = [PINNED, elastic("el")]

    def check_strategy(self, strategy):
        srv = self.start_server(autoscaler=strategy_section(strategy))
        srv.wait_ready("example")
        for _ in range(5):
            self.assertServing(srv)

        config = srv.get("/autoscaler/config").json()["configuration"]
        self.assertEqual(config["scaling_strategy"], strategy, config)
        self.assertTrue(config["advanced"]["predictive_scaling"], config)
        stats = srv.get("/autoscaler/stats").json()
        self.assertEqual(stats["autoscaler"]["scaling_strategy"], strategy, stats["autoscaler"])

        # It decides: every model gets a decision with a reason, and the
        # health report counts them.
        def decided():
            entries = srv.get("/autoscaler/stats").json()["per_model"]
            return all(e["last_reason"] for e in entries) and entries
        entries = wait_for(decided, 20, 0.1, "a decision for every model")
        self.assertEqual({e["model"] for e in entries}, {"example", "el"})
        health = srv.get("/autoscaler/health").json()
        self.assertGreater(health["components"]["decision_engine"]["decisions_per_minute"], 0,
                           health)
        # With no history and no request, the elastic model is left at zero.
        el = per_model(srv, "el")
        self.assertEqual((el["current_scale"], el["target_scale"]), (0, 0), el)
        # A request still cold-starts it, and it serves.
        r = srv.predict("el", [1, 2, 3])
        self.assertEqual(r.status, 200, r)

    def test_hybrid_serves_decides_and_reports_its_strategy(self):
        self.check_strategy("hybrid")

    def test_predictive_serves_decides_and_reports_its_strategy(self):
        self.check_strategy("predictive")


class PreloadTest(ServerTestCase):
    MODELS = [PINNED, elastic("due"), elastic("cold")]
    PER_MINUTE = 120  # requests per minute the earlier days had around now

    def store_with_history(self):
        """A data directory whose store says: on each of the last three
        days, model `due` had PER_MINUTE requests a minute from 5 minutes
        before this time of day to 10 minutes after it. The schema is the
        server's own (a first run creates it); the rows are the test's."""
        first = self.start_server(autoscaler=autoscaler_section(QUIET))
        first.wait_ready("example")
        self.assertEqual(first.stop(), 0)
        now_minute = int(time.time() // 60)
        rows = [("due", now_minute - day * 1440 + k, self.PER_MINUTE)
                for day in (1, 2, 3) for k in range(-5, 11)]
        db = sqlite3.connect(os.path.join(first.data_dir, "inferd.db"))
        try:
            db.executemany("INSERT INTO traffic (model, minute, requests, errors, drops, p95_ms,"
                           " replica_seconds, busy_replica_seconds, needed_replica_seconds)"
                           " VALUES (?, ?, ?, 0, 0, NULL, 0, 0, 0)", rows)
            db.commit()
        finally:
            db.close()
        return first.data_dir

    def requests_accepted(self, srv, name):
        return srv.get(f"/models/{name}").json()["model"]["requests_accepted"]

    def test_a_model_at_zero_is_loaded_ahead_of_its_expected_traffic(self):
        data_dir = self.store_with_history()
        srv = self.start_server(autoscaler=strategy_section("hybrid"), data_dir=data_dir)
        self.assertIn("forecast seeded model=due", srv.read_log())

        ready = srv.wait_ready("due", 1, timeout=30)
        self.assertEqual(len(ready), 1)
        # Ahead of its traffic: nobody has sent it a request.
        self.assertEqual(self.requests_accepted(srv, "due"), 0)

        events = srv.get("/autoscaler/history?hours=1&event_types=scale_up").json()["events"]
        ups = [e for e in events if e["model"] == "due"]
        self.assertTrue(ups, events)
        self.assertEqual(ups[-1]["trigger"], "predicted_load", ups)
        self.assertEqual(ups[-1]["previous_scale"], 0, ups)
        self.assertIn("forecast", per_model(srv, "due")["last_reason"])

        # The model without history was decided on as often and stays at 0.
        cold = per_model(srv, "cold")
        self.assertEqual((cold["current_scale"], cold["target_scale"]), (0, 0), cold)
        self.assertEqual(self.requests_accepted(srv, "cold"), 0)

        # The preloaded replica serves.
        r = srv.predict("due", [1, 2, 3])
        self.assertEqual(r.status, 200, r)

    def test_without_preload_popular_models_the_model_waits_for_its_requests(self):
        data_dir = self.store_with_history()
        srv = self.start_server(autoscaler=strategy_section("hybrid", preload=False),
                                data_dir=data_dir)
        # The policy sees the forecast and says why it does not act on it.
        entry = wait_for(
            lambda: (lambda e: e if "preload_popular_models is off" in e["last_reason"]
                     else None)(per_model(srv, "due")),
            20, 0.1, "the decision to leave the model at zero")
        self.assertEqual((entry["current_scale"], entry["target_scale"]), (0, 0), entry)
        self.assertEqual(srv.spawned_workers("due"), [])


if __name__ == "__main__":
    unittest.main()


class ReleaseTest(ServerTestCase):
    """Hybrid with a model that loads within a decision interval: a burst
    grows the pool (burst start), and the next request served at once lets
    the surplus go before any decision (release), recorded as a scale_down
    with trigger `release`."""
    MODELS = [PINNED, model("burn", "synthetic", {"memory_mb": 4, "cpu_ms_per_request": 300},
                            min_replicas=0, max_replicas=3, initial_replicas=1)]
    ATTEMPTS = 4

    def releases(self, srv):
        events = srv.get("/autoscaler/history?hours=1&event_types=scale_down").json()["events"]
        return [e for e in events if e["model"] == "burn" and e["trigger"] == "release"]

    def test_the_next_request_served_at_once_releases_a_burst_s_replicas(self):
        section = autoscaler_section(dict(
            QUIET, scaling_strategy="hybrid",
            timing={"decision_interval_seconds": 5},
            cooldowns={"scale_up_cooldown_seconds": 0, "scale_down_cooldown_seconds": 0,
                       "zero_scale_cooldown_seconds": 120}))
        srv = self.start_server(autoscaler=section)
        srv.wait_ready("burn")
        # A finished request and a decision give the policy a service time.
        self.assertEqual(srv.predict("burn", [1]).status, 200)
        wait_for(lambda: per_model(srv, "burn")["last_reason"], 20, 0.1,
                 "a decision on burn")
        # A decision between the burst and the next request may shrink the
        # pool first (trigger low_utilization); another attempt then.
        for _ in range(self.ATTEMPTS):
            with concurrent.futures.ThreadPoolExecutor(3) as pool:
                answers = list(pool.map(lambda _: srv.predict("burn", [1]), range(3)))
            self.assertEqual([a.status for a in answers], [200] * 3, answers)
            self.assertEqual(srv.predict("burn", [1]).status, 200)
            if self.releases(srv):
                break
        released = self.releases(srv)
        self.assertTrue(released, srv.get("/autoscaler/history?hours=1").json()["events"])
        self.assertLess(released[-1]["actual_scale"], released[-1]["previous_scale"], released)
        ups = srv.get("/autoscaler/history?hours=1&event_types=scale_up").json()["events"]
        self.assertIn("burst", [e["trigger"] for e in ups if e["model"] == "burn"], ups)
