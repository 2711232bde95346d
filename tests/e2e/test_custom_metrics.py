"""Custom metrics: POST /autoscaler/metrics records a gauge per model, off
until advanced.custom_metrics_enabled is set; bad input is refused naming
the field and records nothing; a model configured with
custom_metric_name/custom_metric_target grows to ceil(value / target)
replicas with no request at all, and shrinks back when the value drops or
the gauge goes stale; the configuration refuses half a setting."""

import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import unittest

from harness import ServerTestCase, autoscaler_section, model, start_with_config_file, wait_for

ENABLED = {"enabled": False, "advanced": {"custom_metrics_enabled": True}}


def per_model(srv, name):
    r = srv.get("/autoscaler/stats")
    assert r.status == 200, r.body
    for entry in r.json()["per_model"]:
        if entry["model"] == name:
            return entry
    raise AssertionError(f"no per_model entry for {name}")


class CustomMetricsApiTest(ServerTestCase):
    MODELS = [model("m", "example", initial_replicas=0),
              model("scaled", "example", initial_replicas=0, custom_metric_name="queue_depth",
                    custom_metric_target=5)]

    def post_metric(self, srv, body):
        return srv.post("/autoscaler/metrics", body)

    def test_disabled_by_default_then_enabled_through_the_config_api(self):
        srv = self.start_server()
        r = self.post_metric(srv, {"model": "m", "name": "queue_depth", "value": 3})
        self.assertError(r, 409, "custom_metrics_disabled",
                         ["POST /autoscaler/config", "custom_metrics_enabled"])
        self.assertEqual(per_model(srv, "m")["custom_metrics"], {})

        r = srv.post("/autoscaler/config", {"advanced": {"custom_metrics_enabled": True}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["updated_fields"], ["advanced.custom_metrics_enabled"])

        r = self.post_metric(srv, {"model": "m", "name": "queue_depth", "value": 3})
        self.assertEqual(r.status, 200, r.body)
        doc = r.json()
        self.assertEqual({k: doc[k] for k in ("success", "model", "name", "value",
                                              "used_by_policy")},
                         {"success": True, "model": "m", "name": "queue_depth", "value": 3,
                          "used_by_policy": False})
        self.assertRegex(doc["recorded_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        r = self.post_metric(srv, {"model": "scaled", "name": "queue_depth", "value": 12.5})
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.json()["used_by_policy"], True)
        r = self.post_metric(srv, {"model": "scaled", "name": "other", "value": -1})
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.json()["used_by_policy"], False)

        m = per_model(srv, "m")
        self.assertIsNone(m["custom_metric_name"])
        self.assertIsNone(m["custom_metric_target"])
        self.assertEqual(list(m["custom_metrics"]), ["queue_depth"])
        g = m["custom_metrics"]["queue_depth"]
        self.assertEqual(g["value"], 3)
        self.assertGreaterEqual(g["age_seconds"], 0)
        self.assertIs(g["stale"], False)
        self.assertIs(g["used_by_policy"], False)

        s = per_model(srv, "scaled")
        self.assertEqual((s["custom_metric_name"], s["custom_metric_target"]), ("queue_depth", 5))
        self.assertEqual(s["custom_metrics"]["queue_depth"]["value"], 12.5)
        self.assertIs(s["custom_metrics"]["queue_depth"]["used_by_policy"], True)
        self.assertEqual(s["custom_metrics"]["other"]["value"], -1)

        # Turning it off again: refused, and the policy no longer uses the gauge.
        r = srv.post("/autoscaler/config", {"advanced": {"custom_metrics_enabled": False}})
        self.assertEqual(r.status, 200, r.body)
        r = self.post_metric(srv, {"model": "m", "name": "queue_depth", "value": 4})
        self.assertError(r, 409, "custom_metrics_disabled")
        self.assertEqual(per_model(srv, "m")["custom_metrics"]["queue_depth"]["value"], 3)
        self.assertIs(per_model(srv, "scaled")["custom_metrics"]["queue_depth"]["used_by_policy"],
                      False)

    def test_bad_input_answers_4xx_naming_the_field_and_records_nothing(self):
        srv = self.start_server(autoscaler=ENABLED)
        good = {"model": "m", "name": "queue_depth", "value": 1}
        cases = [
            ({}, 400, "invalid_request", "model"),
            ({"name": "q", "value": 1}, 400, "invalid_request", "model"),
            ({"model": "m", "value": 1}, 400, "invalid_request", "name"),
            ({"model": "m", "name": "q"}, 400, "invalid_request", "value"),
            (dict(good, unit="s"), 400, "invalid_request", "unit"),
            (dict(good, model=5), 400, "invalid_request", "model"),
            (dict(good, model=None), 400, "invalid_request", "model"),
            (dict(good, name=7), 400, "invalid_request", "name"),
            (dict(good, name=["q"]), 400, "invalid_request", "name"),
            (dict(good, name=""), 400, "invalid_request", "name"),
            (dict(good, name="1st"), 400, "invalid_request", "name"),
            (dict(good, name="queue depth"), 400, "invalid_request", "name"),
            (dict(good, name="q/d"), 400, "invalid_request", "name"),
            (dict(good, name="q\u00e9"), 400, "invalid_request", "name"),
            (dict(good, name="q" * 64), 400, "invalid_request", "name"),
            (dict(good, value="NaN"), 400, "invalid_request", "value"),
            (dict(good, value="Infinity"), 400, "invalid_request", "value"),
            (dict(good, value="3"), 400, "invalid_request", "value"),
            (dict(good, value=True), 400, "invalid_request", "value"),
            (dict(good, value=None), 400, "invalid_request", "value"),
            (dict(good, value=[1]), 400, "invalid_request", "value"),
            (dict(good, value={"v": 1}), 400, "invalid_request", "value"),
            (dict(good, model="nope"), 404, "model_not_found", "nope"),
        ]
        for body, status, code, mentions in cases:
            with self.subTest(body=body):
                self.assertError(srv.post("/autoscaler/metrics", body), status, code, mentions)
        raw = [
            ("[1, 2]", 400, "invalid_request"),
            ('"queue_depth"', 400, "invalid_request"),
            ("not json", 400, "invalid_json"),
            ('{"model": "m", "name": "q", "value": NaN}', 400, "invalid_json"),
            ('{"model": "m", "name": "q", "value": Infinity}', 400, "invalid_json"),
            ('{"model": "m", "name": "q", "value": 1e999}', 400, "invalid_json"),
            ('{"model": "m", "name": "q", "value": 1, "value": 2}', 400, "invalid_json"),
            ('{"model": "m", "name": "q\\u0000d", "value": 1}', 400, "invalid_json"),
        ]
        for text, status, code in raw:
            with self.subTest(body=text):
                r = srv.post("/autoscaler/metrics", text,
                             headers={"Content-Type": "application/json"})
                self.assertError(r, status, code)
        r = srv.post("/autoscaler/metrics", json.dumps(good),
                     headers={"Content-Type": "text/plain"})
        self.assertError(r, 415, "unsupported_media_type")
        for name in ("m", "scaled"):
            self.assertEqual(per_model(srv, name)["custom_metrics"], {},
                             "a refused request recorded a gauge")

        # The edges of the name's alphabet and length are accepted.
        for name in ("_", "a" * 63, "ray_serve:queue.depth-1", "Q"):
            with self.subTest(name=name):
                r = srv.post("/autoscaler/metrics", dict(good, name=name))
                self.assertEqual(r.status, 200, r.body)
        r = srv.post("/autoscaler/metrics", dict(good, value=-1.5e300))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["value"], -1.5e300)

    def test_a_ninth_fresh_name_is_refused_and_changes_nothing(self):
        srv = self.start_server(autoscaler=ENABLED)
        for i in range(8):
            r = srv.post("/autoscaler/metrics", {"model": "m", "name": f"g{i}", "value": i})
            self.assertEqual(r.status, 200, r.body)
        before = per_model(srv, "m")["custom_metrics"]
        r = srv.post("/autoscaler/metrics", {"model": "m", "name": "g8", "value": 8})
        self.assertError(r, 409, "too_many_custom_metrics", ["'m'", "8 custom metrics"])
        after = per_model(srv, "m")["custom_metrics"]
        self.assertEqual(sorted(after), sorted(before))
        self.assertEqual({k: v["value"] for k, v in after.items()},
                         {f"g{i}": i for i in range(8)})
        # Names already kept can still be set; other models have their own table.
        self.assertEqual(srv.post("/autoscaler/metrics",
                                  {"model": "m", "name": "g3", "value": 33}).status, 200)
        self.assertEqual(per_model(srv, "m")["custom_metrics"]["g3"]["value"], 33)
        self.assertEqual(srv.post("/autoscaler/metrics",
                                  {"model": "scaled", "name": "g8", "value": 8}).status, 200)

    def test_a_new_name_takes_the_place_of_the_stalest_gauge(self):
        # Gauges go stale after the stable window (2 s here).
        srv = self.start_server(autoscaler=autoscaler_section(
            {"enabled": False, "advanced": {"custom_metrics_enabled": True}}))
        for i in range(8):
            r = srv.post("/autoscaler/metrics", {"model": "m", "name": f"g{i}", "value": i})
            self.assertEqual(r.status, 200, r.body)
        wait_for(lambda: all(g["stale"] for g in per_model(srv, "m")["custom_metrics"].values()),
                 30, 0.2, "every gauge to go stale")
        r = srv.post("/autoscaler/metrics", {"model": "m", "name": "g8", "value": 8})
        self.assertEqual(r.status, 200, r.body)
        after = per_model(srv, "m")["custom_metrics"]
        self.assertEqual(len(after), 8)
        self.assertNotIn("g0", after, "the oldest stale gauge gives up its place")
        self.assertIs(after["g8"]["stale"], False)


class Exporter:
    """Posts a model's gauge every `period` seconds from a thread, as an
    exporter would, until stopped; set() changes the value it reports."""

    def __init__(self, srv, model_name, metric, value, period=0.25):
        self.srv, self.model, self.metric, self.period = srv, model_name, metric, period
        self.value = value
        self.statuses = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            r = self.srv.post("/autoscaler/metrics",
                              {"model": self.model, "name": self.metric, "value": self.value})
            self.statuses.append(r.status)
            self._stop.wait(self.period)

    def set(self, value):
        self.value = value

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        if self._thread.is_alive():
            raise AssertionError("the exporter thread did not stop")


class CustomMetricScalingTest(ServerTestCase):
    TARGET = 5
    MODELS = [model("worker", "synthetic", {"load_time_ms": 20}, min_replicas=0, max_replicas=4,
                    initial_replicas=0, custom_metric_name="backlog",
                    custom_metric_target=TARGET)]
    STABLE_WINDOW = 3.0
    AUTOSCALER = autoscaler_section({
        "scale_down_threshold": {"idle_time_minutes": 0.05},
        "cooldowns": {"scale_up_cooldown_seconds": 0, "scale_down_cooldown_seconds": 0},
        "reactive": {"stable_window_seconds": STABLE_WINDOW, "panic_window_seconds": 1},
        "advanced": {"custom_metrics_enabled": True},
    })

    def replicas(self, srv):
        return srv.model("worker")["replicas"]

    def settled_at(self, srv, n):
        reps = self.replicas(srv)
        return reps if len(reps) == n and all(r["state"] == "ready" for r in reps) else None

    def watch_until_settled(self, srv, n, timeout=60):
        """Waits for exactly n ready replicas and nothing else; returns the
        most replicas seen on the way."""
        most = [0]

        def check():
            reps = self.replicas(srv)
            most[0] = max(most[0], len(reps))
            return self.settled_at(srv, n)
        wait_for(check, timeout, 0.1, f"{n} ready replicas of worker")
        return most[0]

    def test_the_pool_follows_the_custom_metric_with_no_traffic(self):
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        self.assertEqual(self.replicas(srv), [])

        # 3 x target, from zero replicas and with no request: 3 replicas.
        exporter = Exporter(srv, "worker", "backlog", 3 * self.TARGET)
        self.addCleanup(exporter.stop)
        most = self.watch_until_settled(srv, 3)
        self.assertEqual(most, 3, "never above ceil(value / target)")
        entry = per_model(srv, "worker")
        self.assertEqual(entry["target_scale"], 3, entry)
        self.assertEqual(entry["last_trigger"], "custom_metric", entry)
        self.assertIn("custom metric backlog 15.00 / 5.00 per replica", entry["last_reason"])
        self.assertEqual(entry["requests_per_minute"], 0, "the test sent no request")
        self.assertEqual(entry["custom_metrics"]["backlog"]["value"], 15)

        # Above max_replicas: capped at 4.
        exporter.set(10 * self.TARGET)
        self.watch_until_settled(srv, 4)
        self.assertIn("capped at max_replicas 4", per_model(srv, "worker")["last_reason"])

        # The value drops below one replica's worth: back down to one replica
        # after the idle window (the zero gate has 10 minutes to wait).
        exporter.set(0.5 * self.TARGET)
        self.watch_until_settled(srv, 1)

        # Up again, then the exporter stops: the gauge goes stale after a
        # stable window and the pool shrinks as if it had never been set.
        exporter.set(2 * self.TARGET)
        self.watch_until_settled(srv, 2)
        exporter.stop()
        stopped = time.monotonic()
        self.watch_until_settled(srv, 1)
        self.assertGreaterEqual(time.monotonic() - stopped, self.STABLE_WINDOW,
                                "shrank before the gauge went stale")
        gauge = per_model(srv, "worker")["custom_metrics"]["backlog"]
        self.assertIs(gauge["stale"], True, gauge)
        self.assertGreater(gauge["age_seconds"], self.STABLE_WINDOW)
        self.assertEqual(set(exporter.statuses), {200})

        # The events name the custom metric as the trigger of every growth.
        data_dir = srv.data_dir
        self.assertEqual(srv.stop(), 0)
        db = sqlite3.connect(f"file:{os.path.join(data_dir, 'inferd.db')}?mode=ro", uri=True)
        try:
            rows = db.execute('SELECT type, "trigger", previous_scale, target_scale FROM events '
                              "WHERE model = 'worker' AND type IN ('scale_up', 'scale_down') "
                              "ORDER BY ts").fetchall()
        finally:
            db.close()
        ups = [r for r in rows if r[0] == "scale_up"]
        downs = [r for r in rows if r[0] == "scale_down"]
        self.assertTrue(ups, rows)
        self.assertEqual({r[1] for r in ups}, {"custom_metric"}, rows)
        self.assertEqual(ups[0][2], 0, rows)
        self.assertEqual(max(r[3] for r in ups), 4, rows)
        self.assertEqual({r[1] for r in downs}, {"low_utilization"}, rows)
        self.assertEqual(downs[-1][3], 1, rows)


class CustomMetricConfigTest(unittest.TestCase):
    """The two model fields: both or neither, each in range; a refused file
    stops the start naming the field."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="inferd-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_with_models(self, models):
        _, status, stderr = start_with_config_file(self, self.dir, {"models": models})
        return status, stderr

    def test_half_a_setting_or_a_value_out_of_range_is_refused(self):
        ok = {"custom_metric_name": "backlog", "custom_metric_target": 5}
        cases = [
            ({"custom_metric_name": "backlog"}, "models[1].custom_metric_target", "is required"),
            ({"custom_metric_target": 5}, "models[1].custom_metric_name", "is required"),
            (dict(ok, custom_metric_target=None), "models[1].custom_metric_target",
             "is required"),
            (dict(ok, custom_metric_target=0), "models[1].custom_metric_target", "above 0"),
            (dict(ok, custom_metric_target=-1), "models[1].custom_metric_target", "above 0"),
            (dict(ok, custom_metric_target=1e10), "models[1].custom_metric_target",
             "at most 1000000000"),
            (dict(ok, custom_metric_target="5"), "models[1].custom_metric_target", "number"),
            (dict(ok, custom_metric_name="1st"), "models[1].custom_metric_name", "1st"),
            (dict(ok, custom_metric_name=""), "models[1].custom_metric_name", "characters"),
            (dict(ok, custom_metric_name=5), "models[1].custom_metric_name", "string"),
            (dict(ok, custom_metric_name="q" * 64), "models[1].custom_metric_name",
             "characters"),
        ]
        for fields, path, problem in cases:
            with self.subTest(fields=fields):
                code, stderr = self.run_with_models(
                    [model("a", "example"), dict(model("b", "example"), **fields)])
                self.assertNotEqual(code, 0, stderr)
                self.assertIn(f"{path}: ", stderr)
                self.assertIn(problem, stderr)
                self.assertNotIn("listening", stderr)


class CustomMetricConfigAcceptedTest(ServerTestCase):
    MODELS = [model("a", "example", initial_replicas=0, custom_metric_name=None,
                    custom_metric_target=None),
              model("b", "example", initial_replicas=0, custom_metric_name="a" * 63,
                    custom_metric_target=1e9),
              model("c", "example", initial_replicas=0, custom_metric_name="x",
                    custom_metric_target=0.001)]

    def test_null_means_off_and_the_range_edges_are_accepted(self):
        srv = self.start_server()
        got = {n: (per_model(srv, n)["custom_metric_name"], per_model(srv, n)["custom_metric_target"])
               for n in ("a", "b", "c")}
        self.assertEqual(got, {"a": (None, None), "b": ("a" * 63, 1e9), "c": ("x", 0.001)})


if __name__ == "__main__":
    unittest.main()
