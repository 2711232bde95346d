"""GET /autoscaler/history: a bad query answers 400 invalid_parameter naming
the parameter and changes nothing; the events a test causes come back
filtered, limited, newest first, counted in the summary and, on request,
with their metrics and measured resource change; traffic stored by one
server run is read back by the next."""

import calendar
import json
import math
import time
import unittest
import urllib.parse

from harness import (ELASTIC, PINNED, QUIET, ServerTestCase, SharedServerTestCase, http_request,
                     wait_for)


ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
EVENT_KEYS = {"id", "timestamp", "timestamp_unix", "type", "trigger", "model", "models_affected",
              "previous_scale", "target_scale", "actual_scale", "duration_seconds", "success"}
DETAIL_KEYS = {"trigger_metrics", "outcome_metrics", "details", "resource_impact",
               "resource_savings"}
TRIGGER_METRIC_KEYS = {"cpu_usage_percent", "memory_usage_percent", "queue_length",
                       "response_time_ms", "concurrency", "requests_per_minute", "ready_replicas",
                       "starting_replicas"}
SCALING_TYPES = {"scale_up", "scale_down", "zero_scale", "cold_start"}


def iso_to_unix(text):
    return calendar.timegm(time.strptime(text, ISO_FORMAT))


def history(srv, query=""):
    """GET /autoscaler/history with a raw query string; the 200 document."""
    r = srv.get("/autoscaler/history" + ("?" + query if query else ""))
    assert r.status == 200, r
    doc = r.json()
    assert doc["success"] is True, doc
    return doc


def quoted(value):
    return urllib.parse.quote(value, safe="")


class HistoryQueryValidationTest(ServerTestCase):
    MODELS = [PINNED]

    def test_bad_query_answers_400_naming_the_parameter_and_changes_nothing(self):
        srv = self.start_server(autoscaler=QUIET)
        config_before = srv.get("/autoscaler/config").json()
        cases = [
            ("hours=0", "hours"),
            ("hours=721", "hours"),
            ("hours=abc", "hours"),
            ("hours=1.5", "hours"),
            ("hours=-5", "hours"),
            ("hours=", "hours"),
            ("limit=0", "limit"),
            ("limit=100000", "limit"),
            ("limit=x", "limit"),
            ("include_details=maybe", "include_details"),
            ("include_details", "include_details"),
            ("event_types=" + quoted('["scale_up'), "event_types"),  # malformed JSON
            ("event_types=" + quoted("[]"), "event_types"),
            ("event_types=" + quoted("[1]"), "event_types"),
            ("event_types=" + quoted('["scale_up", "bogus"]'), "event_types"),
            ("event_types=bogus", "event_types"),
            ("event_types=scale_up,bogus", "event_types"),
            ("event_types=SCALE_UP", "event_types"),
            ("event_types=,", "event_types"),
            ("colour=blue", "colour"),
            ("hours=1&colour=blue", "colour"),
            ("hours=1&hours=2", "hours"),
            ("limit=5&hours=2&limit=5", "limit"),
            ("hours=%zz", "hours"),
            ("hours=1%2", "hours"),
            ("limit=1&event_types=scale_up%", "event_types"),
            # An empty name is named as such, not as a percent-encoding error.
            ("=1", "", "empty name"),
            ("hours=1&=", "", "empty name"),
            # Over the length limits: too long, naming the parameter.
            ("a" * 64 + "=1", "a" * 63, ["a" * 40 + "...", "longer than 63 bytes"]),
            ("hours=" + "1" * 1024, "hours", ["'hours'", "longer than 1023 bytes"]),
            ("event_types=" + "a" * 1024, "event_types", "longer than 1023 bytes"),
            ("hours=%zz", "hours", "percent-encoded"),
            # Empty items of a comma list are refused wherever they are.
            ("event_types=scale_up,,zero_scale", "event_types", "empty item"),
            ("event_types=scale_up,", "event_types", "empty item"),
            ("event_types=,scale_up", "event_types", "empty item"),
            ("event_types=" + quoted("scale_up, ,zero_scale"), "event_types", "empty item"),
            ("event_types=", "event_types"),
        ]
        for query, parameter, *mentions in cases:
            with self.subTest(query=query[:80]):
                r = srv.get("/autoscaler/history?" + query)
                doc = self.assertError(r, 400, "invalid_parameter",
                                       mentions[0] if mentions else parameter)
                self.assertEqual(doc.get("parameter"), parameter, doc)

        # Nothing changed: the configuration is as it was, no event was
        # recorded, and valid queries (the range's ends included) answer.
        self.assertEqual(srv.get("/autoscaler/config").json(), config_before)
        for query in ["", "hours=1", "hours=720", "limit=1", "limit=1000", "include_details=1",
                      "include_details=False", "event_types=" + quoted('["scale_up"]'),
                      "event_types=scale_up,zero_scale",
                      "event_types=" + quoted(" scale_up , zero_scale "),
                      "hours=" + "0" * 1021 + "24"]:
            with self.subTest(valid=query):
                doc = history(srv, query)
                self.assertEqual(doc["summary"]["total_events"], 0, doc)
                self.assertEqual(doc["events"], [], doc)
        self.assertServing(srv)


class HistoryQueryTextTest(ServerTestCase):
    MODELS = [PINNED]

    def test_bytes_that_are_not_utf8_answer_400_naming_the_parameter(self):
        # Percent-decoding can give bytes that are not UTF-8, and a quote cut
        # at a byte count can end inside a character: both once made the
        # answer unserialisable (500). The name comes back as valid UTF-8,
        # a bad byte as U+FFFD.
        srv = self.start_server(autoscaler=QUIET)
        name41 = "a" * 39 + "\u00e9"
        cases = [
            ("%ff=1", "\ufffd", "\ufffd"),
            ("foo%ff=1", "foo\ufffd", "foo\ufffd"),
            ("event_types=scale_up,%c3", "event_types", "\ufffd"),
            ("a" * 39 + "%C3%A9=1", name41, "a" * 39 + "..."),
            ("%e2%82=1", "\ufffd\ufffd", "\ufffd\ufffd"),
            ("%ed%a0%80=1", "\ufffd" * 3, "\ufffd" * 3),  # a surrogate
        ]
        for query, parameter, shown in cases:
            with self.subTest(query=query):
                r = srv.get("/autoscaler/history?" + query)
                doc = self.assertError(r, 400, "invalid_parameter", shown)
                self.assertEqual(doc.get("parameter"), parameter, doc)
        # A raw byte that is not UTF-8 in the request line, not percent-encoded.
        raw = srv.raw(b"GET /autoscaler/history?x\xff=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Connection: close\r\n\r\n")
        head, _, body = raw.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 400"), raw)
        self.assertIs(json.loads(body)["success"], False)
        self.assertNotIn("could not serialise", srv.read_log())
        self.assertServing(srv)


def scale_and_wait(srv, body, timeout=20.0):
    """POSTs a manual operation and waits until it has completed; returns
    the operation document."""
    r = srv.post("/autoscaler/scale", body)
    assert r.status in (200, 202), r
    scaling_id = r.json()["scaling_id"]

    def completed():
        op = srv.get(f"/autoscaler/scale/{scaling_id}").json()
        assert op["status"] in ("in_progress", "completed"), op
        return op if op["status"] == "completed" else None
    return wait_for(completed, timeout, 0.05, f"operation {scaling_id} to complete")


class HistoryEventsTest(SharedServerTestCase):
    """One server; setUpClass causes a known set of events, the tests only
    read the history."""

    MODELS = [PINNED, ELASTIC]
    AUTOSCALER = QUIET

    # (action body, event type, previous, target), oldest first.
    OPERATIONS = [
        ({"action": "scale_up", "models": ["el"], "target_replicas": 2}, "scale_up", 1, 2),
        ({"action": "scale_up", "models": ["el"], "target_replicas": 3,
          "override_cooldown": True}, "scale_up", 2, 3),
        ({"action": "scale_down", "models": ["el"], "override_cooldown": True},
         "scale_down", 3, 2),
        ({"action": "zero_scale", "models": ["el"], "override_cooldown": True},
         "zero_scale", 2, 0),
        ({"action": "load_model", "models": ["el"], "override_cooldown": True},
         "scale_up", 0, 1),
    ]
    # One: two changes in the same millisecond lose an event (see
    # ConfigEventTest).
    CONFIG_CHANGES = [{"thresholds": {"cpu_threshold": 75}}]
    TOTAL = len(OPERATIONS) + len(CONFIG_CHANGES)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.server
        try:
            srv.wait_ready("el")
            empty = history(srv)
            assert empty["summary"]["total_events"] == 0, empty
            cls.caused = []  # (event id, type, previous, target), oldest first
            for body, kind, previous, target in cls.OPERATIONS:
                op = scale_and_wait(srv, body)
                assert (op["previous_scale"], op["target_scale"]) == (previous, target), op
                cls.caused.append((op["scaling_id"], kind, previous, target))
            for change in cls.CONFIG_CHANGES:
                r = srv.post("/autoscaler/config", change)
                assert r.status == 200, r
                assert r.json()["updated_fields"] == ["thresholds.cpu_threshold"], r
        except BaseException:
            print("\n----- server log -----\n" + srv.read_log()[-20000:])
            cls.server.cleanup()
            cls.server = None
            raise

    def scaling_events(self, doc):
        return [e for e in doc["events"] if e["type"] in SCALING_TYPES]

    def test_events_the_test_caused_come_back_newest_first(self):
        doc = history(self.server)
        events = doc["events"]
        self.assertEqual(doc["events_matched"], self.TOTAL, doc)
        self.assertEqual([e["type"] for e in events[:len(self.CONFIG_CHANGES)]],
                         ["config_updated"] * len(self.CONFIG_CHANGES), events)
        stamps = [e["timestamp_unix"] for e in events]
        self.assertEqual(stamps, sorted(stamps, reverse=True), "events are not newest first")
        scaling = self.scaling_events(doc)
        self.assertEqual([(e["id"], e["type"], e["previous_scale"], e["target_scale"])
                          for e in scaling], list(reversed(self.caused)))
        for e in scaling:
            with self.subTest(event=e["id"]):
                self.assertEqual(e["actual_scale"], e["target_scale"], e)
                self.assertIs(e["success"], True, e)
                self.assertEqual(e["trigger"], "manual", e)
                self.assertEqual((e["model"], e["models_affected"]), ("el", ["el"]), e)
                self.assertIsInstance(e["duration_seconds"], (int, float), e)
                self.assertGreaterEqual(e["duration_seconds"], 0, e)
        for e in events:
            with self.subTest(event=e["id"]):
                self.assertEqual(iso_to_unix(e["timestamp"]), math.floor(e["timestamp_unix"]), e)

    def test_event_types_filter_keeps_only_those_types_in_either_form(self):
        full = history(self.server)["events"]
        for types in [["scale_up", "zero_scale"], ["scale_down", "config_updated"],
                      ["zero_scale"], ["cold_start"]]:
            expected = [e["id"] for e in full if e["type"] in types]
            for form in ["event_types=" + quoted(json.dumps(types)),
                         "event_types=" + ",".join(types)]:
                with self.subTest(query=form):
                    doc = history(self.server, form)
                    self.assertEqual([e["id"] for e in doc["events"]], expected, doc)
                    self.assertEqual(doc["events_matched"], len(expected), doc)
                    # The summary counts every event of the period, kept or not.
                    self.assertEqual(doc["summary"]["total_events"], self.TOTAL, doc)
        # The spec's own example: the array sent without percent-encoding.
        doc = history(self.server, 'event_types=["scale_up","zero_scale"]')
        self.assertEqual({e["type"] for e in doc["events"]}, {"scale_up", "zero_scale"}, doc)
        self.assertEqual(doc["events_matched"], 4, doc)

    def test_limit_returns_the_newest_events_and_events_matched_counts_all(self):
        full = history(self.server)["events"]
        for limit in [1, 2, self.TOTAL - 1, self.TOTAL, 1000]:
            with self.subTest(limit=limit):
                doc = history(self.server, f"limit={limit}")
                self.assertEqual([e["id"] for e in doc["events"]],
                                 [e["id"] for e in full[:limit]], doc)
                self.assertEqual(doc["events_matched"], self.TOTAL, doc)
        doc = history(self.server, "limit=1&event_types=scale_up")
        newest_up = self.caused[-1][0]
        self.assertEqual([e["id"] for e in doc["events"]], [newest_up], doc)
        self.assertEqual(doc["events_matched"], 3, doc)

    def test_summary_counts_what_the_test_caused(self):
        for hours in [1, 24]:
            with self.subTest(hours=hours):
                doc = history(self.server, f"hours={hours}")
                s = doc["summary"]
                self.assertEqual((s["total_events"], s["scale_up_events"], s["scale_down_events"],
                                  s["zero_scale_events"], s["cold_start_events"],
                                  s["failed_events"]), (self.TOTAL, 3, 1, 1, 0, 0), s)
                durations = [e["duration_seconds"] for e in self.scaling_events(doc)]
                self.assertAlmostEqual(s["average_scale_duration_seconds"],
                                       sum(durations) / len(durations), delta=1e-6)
                score = s["efficiency_score"]
                if score is not None:  # null until a traffic row is written
                    self.assertTrue(0 <= score <= 100, s)
                p = doc["patterns"]
                self.assertAlmostEqual(p["scaling_events_per_hour"], 5 / hours, delta=1e-9)
                self.assertEqual(p["scaling_frequency"], "moderate" if hours == 1 else "low")
                self.assertEqual(p["most_common_trigger"], "manual")

    def test_without_include_details_the_metric_blocks_are_left_out(self):
        for query in ["", "include_details=false", "include_details=0"]:
            with self.subTest(query=query):
                for e in history(self.server, query)["events"]:
                    self.assertEqual(EVENT_KEYS - set(e), set(), e)
                    self.assertEqual(DETAIL_KEYS & set(e), set(), e)

    def test_include_details_gives_trigger_metrics_and_measured_resource_change(self):
        for query in ["include_details=true", "include_details=1", "include_details=TRUE"]:
            with self.subTest(query=query):
                doc = history(self.server, query)
                for e in self.scaling_events(doc):
                    self.check_scaling_details(e)
                configs = [e for e in doc["events"] if e["type"] == "config_updated"]
                self.assertEqual(len(configs), len(self.CONFIG_CHANGES), doc)
                for e in configs:
                    self.assertEqual(e["details"]["updated_fields"],
                                     ["thresholds.cpu_threshold"], e)

    def check_scaling_details(self, e):
        metrics = e["trigger_metrics"]
        self.assertIsInstance(metrics, dict, e)
        self.assertEqual(TRIGGER_METRIC_KEYS - set(metrics), set(), e)
        # Each operation started once the previous one had completed.
        self.assertEqual(metrics["ready_replicas"], e["previous_scale"], e)
        self.assertIn("outcome_metrics", e)
        replica_mb = e["details"]["replica_memory_mb"]
        self.assertGreater(replica_mb, 0, e)
        previous, actual = e["previous_scale"], e["actual_scale"]
        if e["type"] == "scale_up":
            self.assertNotIn("resource_savings", e)
            impact = e["resource_impact"]
            self.assertGreater(impact["additional_memory_mb"], 0, e)
            self.assertAlmostEqual(impact["additional_memory_mb"],
                                   (actual - previous) * replica_mb, delta=1e-6)
            self.assertIsNone(impact["additional_gpu_memory_mb"], e)
            if previous == 0:
                self.assertIsNone(impact["cost_increase_percent"], e)
            else:
                self.assertAlmostEqual(impact["cost_increase_percent"],
                                       100.0 * (actual - previous) / previous, delta=1e-6)
        else:
            self.assertNotIn("resource_impact", e)
            savings = e["resource_savings"]
            self.assertGreater(savings["memory_freed_mb"], 0, e)
            self.assertAlmostEqual(savings["memory_freed_mb"], (previous - actual) * replica_mb,
                                   delta=1e-6)
            self.assertIsNone(savings["gpu_memory_freed_mb"], e)
            self.assertAlmostEqual(savings["cost_reduction_percent"],
                                   100.0 * (previous - actual) / previous, delta=1e-6)

    def test_period_covers_the_hours_asked_ending_now(self):
        for query, hours in [("", 24), ("hours=1", 1), ("hours=24", 24), ("hours=720", 720)]:
            with self.subTest(query=query):
                before = time.time()
                doc = history(self.server, query)
                after = time.time()
                period = doc["period"]
                self.assertEqual(period["hours"], hours, period)
                start, end = iso_to_unix(period["start"]), iso_to_unix(period["end"])
                # ISO strings carry whole seconds: each end may lose one.
                self.assertLessEqual(abs((end - start) - hours * 3600), 1, period)
                self.assertGreaterEqual(end, math.floor(before) - 1, period)
                self.assertLessEqual(end, after + 1, period)


class ConfigEventTest(ServerTestCase):
    MODELS = [PINNED]

    def test_each_accepted_config_change_is_an_event(self):
        srv = self.start_server(autoscaler=QUIET)
        values = [71, 72, 73, 74]
        # Pipelined on one connection, the changes are applied back to back.
        with srv.connect() as conn:
            conn.send(b"".join(http_request("POST", "/autoscaler/config",
                                            {"thresholds": {"cpu_threshold": v}})
                               for v in values))
            for _ in values:
                r = conn.read_response()
                self.assertEqual(r.status, 200, r)
        config = srv.get("/autoscaler/config").json()["configuration"]
        self.assertEqual(config["thresholds"]["cpu_threshold"], values[-1])
        doc = history(srv, "event_types=config_updated&include_details=true")
        self.assertEqual(doc["events_matched"], len(values), doc)
        self.assertEqual(len({e["id"] for e in doc["events"]}), len(values), doc)


class HistoryTrafficRestartTest(ServerTestCase):
    MODELS = [PINNED]
    REQUESTS = 30

    def serve_then_restart(self):
        """Sends REQUESTS predictions to one server, stops it with SIGTERM,
        starts another on the same data directory; returns (the second
        server's one-hour history, wall time the first started)."""
        started = time.time()
        first = self.start_server(autoscaler=QUIET)
        first.wait_ready("example")
        for _ in range(self.REQUESTS):
            self.assertServing(first)
        self.assertEqual(first.stop(), 0)
        second = self.start_server(autoscaler=QUIET, data_dir=first.data_dir)
        doc = history(second, "hours=1")
        self.assertEqual(doc["period"]["hours"], 1, doc)
        return doc, started

    def test_traffic_of_a_previous_run_is_read_back_after_a_restart(self):
        doc, started = self.serve_then_restart()
        p, s = doc["patterns"], doc["summary"]
        # Up time is counted in minutes with rows: at least the first run's
        # last (partial) minute, at most every minute since it started.
        minutes = p["observed_hours"] * 60
        self.assertGreater(minutes, 0, p)
        self.assertAlmostEqual(minutes, round(minutes), delta=1e-6)
        self.assertLessEqual(round(minutes), time.time() // 60 - started // 60 + 1, p)
        rate = p["average_requests_per_hour"]
        self.assertIsInstance(rate, (int, float), p)
        # Never more requests than were sent: nothing is stored twice.
        self.assertLessEqual(round(rate * p["observed_hours"]), self.REQUESTS, p)
        # The example model is pinned, so replicas ran in that hour.
        self.assertIsInstance(s["efficiency_score"], (int, float), s)
        self.assertTrue(0 <= s["efficiency_score"] <= 100, s)
        # A little traffic on an otherwise idle server: no rule has its data.
        self.assertEqual(doc["recommendations"], [], doc)
        self.assertEqual(doc["recommendation_details"], [], doc)

    def test_every_request_of_a_previous_run_is_stored_once(self):
        doc, _ = self.serve_then_restart()
        p = doc["patterns"]
        self.assertGreater(p["observed_hours"], 0, p)
        self.assertGreater(p["average_requests_per_hour"], 0, p)
        self.assertEqual(round(p["average_requests_per_hour"] * p["observed_hours"]),
                         self.REQUESTS, p)


if __name__ == "__main__":
    unittest.main()
