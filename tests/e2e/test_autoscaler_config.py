"""GET/POST /autoscaler/config: round trip, exact updated_fields, all-or-nothing
validation with the spec's invalid_configuration shape, persistence, the
models' live settings (per-model overrides and what they inherit), and an
honest restart_required."""

import concurrent.futures
import time
import unittest

from harness import EXAMPLE, ServerTestCase, autoscaler_section, model, wait_for

# The settings GET shows for each model, in order.
MODEL_KEYS = ["min_replicas", "max_replicas", "target_concurrency", "custom_metric_name",
              "custom_metric_target", "cold_start_timeout_seconds", "load_timeout_seconds"]


class AutoscalerConfigTest(ServerTestCase):
    MODELS = [EXAMPLE]
    AUTOSCALER = {"enabled": True}

    def config(self, srv):
        r = srv.get("/autoscaler/config")
        self.assertEqual(r.status, 200, r.body)
        return r.json()["configuration"]

    def test_post_then_get_shows_the_change_and_only_changed_leaves_are_listed(self):
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        before = self.config(srv)
        self.assertEqual(before["thresholds"]["cpu_threshold"], 70)
        r = srv.post("/autoscaler/config", {
            "thresholds": {"cpu_threshold": 80, "memory_threshold": 80},  # memory unchanged
            "cooldowns": {"scale_up_cooldown_seconds": 45},
        })
        self.assertEqual(r.status, 200, r.body)
        doc = r.json()
        self.assertEqual(doc["updated_fields"],
                         ["thresholds.cpu_threshold", "cooldowns.scale_up_cooldown_seconds"])
        self.assertIs(doc["restart_required"], False)
        after = self.config(srv)
        self.assertEqual(after["thresholds"]["cpu_threshold"], 80)
        self.assertEqual(after["cooldowns"]["scale_up_cooldown_seconds"], 45)
        # The stats endpoint reports the live thresholds too.
        stats = srv.get("/autoscaler/stats").json()
        self.assertEqual(stats["thresholds"]["scale_up_threshold"]["cpu_percent"], 80)

    def test_bad_documents_answer_400_naming_the_fields_and_change_nothing(self):
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        before = self.config(srv)
        cases = [
            ({"thresholds": {"cpu_threshold": 150}}, ["thresholds.cpu_threshold"]),
            ({"thresholds": {"cpu_threshold": "high"}}, ["thresholds.cpu_threshold"]),
            ({"replicas": {"min_replicas": 3, "max_replicas": 2}},
             ["replicas.min_replicas", "replicas.max_replicas"]),
            ({"scaling_strategy": "psychic"}, ["scaling_strategy"]),
            ({"cooldowns": {"nap_seconds": 5}}, ["cooldowns.nap_seconds"]),
            ({"advanced": {"external_metrics_webhook": "https://example.com/x"}},
             ["advanced.external_metrics_webhook"]),
            # A good field beside a bad one is not applied either.
            ({"thresholds": {"cpu_threshold": 75}, "bogus": 1}, ["bogus"]),
            ({"cold_start_timeout_seconds": 0}, ["cold_start_timeout_seconds"]),
            ({"models": {"example": {"max_queue_length": 5}}},
             ["models.example.max_queue_length"]),
            ({"models": {"example": {"min_replicas": 4, "max_replicas": 3}}},
             ["models.example.min_replicas", "models.example.max_replicas"]),
            ({"models": {"example": {"max_replicas": 11}}}, ["models.example.max_replicas"]),
            ({"models": {"example": {"custom_metric_name": "queue_depth"}}},
             ["models.example.custom_metric_name"]),
            ({"models": {"example": {"target_concurrency": 0}}},
             ["models.example.target_concurrency"]),
            ({"models": ["example"]}, ["models"]),
        ]
        for body, fields in cases:
            with self.subTest(body=body):
                r = srv.post("/autoscaler/config", body)
                self.assertEqual(r.status, 400, r.body)
                doc = r.json()
                self.assertEqual(doc["error"], "invalid_configuration", doc)
                self.assertEqual(doc["invalid_fields"], fields, doc)
                for f in fields:
                    self.assertIn(f, doc["provided_values"])
                    self.assertIn(f, doc["valid_ranges"])
        r = srv.post("/autoscaler/config", "[1, 2]")
        self.assertError(r, 400, "invalid_request", mentions="JSON object")
        self.assertEqual(self.config(srv), before, "a refused document changed the configuration")

    def test_unknown_keys_are_named_whole_characters_never_a_500(self):
        # Keys past the 64 bytes a path quotes, whose cut would fall inside
        # a character: the path stops before it (with "..."), and the
        # answer is the 400 it should be, not a 500 jansson refused.
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        before = self.config(srv)
        cases = [
            ({"a" + "\u00e9" * 32: 1}, "a" + "\u00e9" * 31 + "..."),
            ({"a" * 63 + "\u00e9": 1}, "a" * 63 + "..."),
            ({"replicas": {"a" * 63 + "\u20ac": 1}}, "replicas." + "a" * 63 + "..."),
            ({"\u00e9t\u00e9": 1}, "\u00e9t\u00e9"),
        ]
        for body, field in cases:
            with self.subTest(field=field):
                r = srv.post("/autoscaler/config", body)
                self.assertEqual(r.status, 400, r.body)
                doc = r.json()
                self.assertEqual(doc["error"], "invalid_configuration", doc)
                self.assertEqual(doc["invalid_fields"], [field], doc)
                self.assertIn(field, doc["provided_values"])
                self.assertIn(field, doc["message"])
        self.assertEqual(self.config(srv), before)
        self.assertNotIn("could not serialise", srv.read_log())

    def test_an_accepted_change_survives_a_restart_and_is_an_event(self):
        first = self.start_server(autoscaler=self.AUTOSCALER)
        r = first.post("/autoscaler/config", {"thresholds": {"queue_length_threshold": 33}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(first.stop(), 0)
        second = self.start_server(autoscaler=self.AUTOSCALER, data_dir=first.data_dir)
        self.assertEqual(self.config(second)["thresholds"]["queue_length_threshold"], 33)
        self.assertIn("stored configuration applied over the file", second.read_log())

    def test_reset_config_brings_back_the_file(self):
        first = self.start_server(autoscaler=self.AUTOSCALER)
        first.post("/autoscaler/config", {"thresholds": {"queue_length_threshold": 33}})
        self.assertEqual(first.stop(), 0)
        second = self.start_server(autoscaler=self.AUTOSCALER, data_dir=first.data_dir,
                                   extra_args=["--reset-config"])
        self.assertEqual(self.config(second)["thresholds"]["queue_length_threshold"], 10)


class ModelSettingsTest(ServerTestCase):
    """The models' live settings under "models", the models' default
    cold-start timeout, and which fields need a restart."""

    MODELS = [EXAMPLE, model("el", "synthetic", {"memory_mb": 4}, initial_replicas=0,
                             max_replicas=3, load_timeout_seconds=20)]
    AUTOSCALER = autoscaler_section({"cold_start_timeout_seconds": 30})

    def config(self, srv):
        r = srv.get("/autoscaler/config")
        self.assertEqual(r.status, 200, r.body)
        return r.json()["configuration"]

    def post(self, srv, body):
        r = srv.post("/autoscaler/config", body)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def test_get_shows_the_cold_start_timeout_and_each_models_settings(self):
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        conf = self.config(srv)
        self.assertEqual(conf["cold_start_timeout_seconds"], 30)
        self.assertEqual(sorted(conf["models"]), ["el", "example"])
        for name, settings in conf["models"].items():
            self.assertEqual(list(settings), MODEL_KEYS, name)
        # The file's own values, and what the others inherit: the
        # autoscaler's bounds, cold-start timeout and target concurrency.
        self.assertEqual(conf["models"]["example"], {
            "min_replicas": 1, "max_replicas": 5, "target_concurrency": 1,
            "custom_metric_name": None, "custom_metric_target": None,
            "cold_start_timeout_seconds": 30, "load_timeout_seconds": 60})
        self.assertEqual(conf["models"]["el"]["max_replicas"], 3)
        self.assertEqual(conf["models"]["el"]["load_timeout_seconds"], 20)
        # The same values the models endpoint reports.
        self.assertEqual(srv.model("el")["max_replicas"], 3)
        # GET's answer posted back changes nothing.
        doc = self.post(srv, conf)
        self.assertEqual(doc["updated_fields"], [])
        self.assertEqual(self.config(srv), conf)

    def test_a_models_setting_takes_effect_at_once_and_survives_a_restart(self):
        first = self.start_server(autoscaler=self.AUTOSCALER)
        self.assertEqual(first.model("el")["desired_replicas"], 0)
        doc = self.post(first, {"models": {"el": {"min_replicas": 1, "max_replicas": 2,
                                                  "cold_start_timeout_seconds": 12}}})
        self.assertEqual(doc["updated_fields"],
                         ["models.el.min_replicas", "models.el.max_replicas",
                          "models.el.cold_start_timeout_seconds"])
        self.assertIs(doc["restart_required"], False)
        settings = self.config(first)["models"]["el"]
        self.assertEqual((settings["min_replicas"], settings["max_replicas"],
                          settings["cold_start_timeout_seconds"]), (1, 2, 12))
        # The next decision holds the model at its new floor: a replica
        # starts without any request.
        first.wait_ready("el", timeout=30)
        m = first.model("el")
        self.assertEqual((m["min_replicas"], m["max_replicas"]), (1, 2))
        events = first.get("/autoscaler/history?event_types=config_updated").json()["events"]
        self.assertTrue(any(e["type"] == "config_updated" for e in events), events)
        self.assertEqual(first.stop(), 0)

        second = self.start_server(autoscaler=self.AUTOSCALER, data_dir=first.data_dir)
        settings = self.config(second)["models"]["el"]
        self.assertEqual((settings["min_replicas"], settings["max_replicas"],
                          settings["cold_start_timeout_seconds"]), (1, 2, 12))
        self.assertEqual(self.config(second)["models"]["example"]["cold_start_timeout_seconds"],
                         30)
        second.wait_ready("el", timeout=30)

    def test_a_cold_start_timeout_change_applies_to_the_next_request(self):
        slow = model("slow", "synthetic", {"load_time_ms": 4000}, initial_replicas=0,
                     max_replicas=1)
        srv = self.start_server(models=[EXAMPLE, slow], autoscaler={"enabled": False})
        self.assertEqual(self.config(srv)["models"]["slow"]["cold_start_timeout_seconds"], 60)
        doc = self.post(srv, {"models": {"slow": {"cold_start_timeout_seconds": 0.5}}})
        self.assertEqual(doc["updated_fields"], ["models.slow.cold_start_timeout_seconds"])
        started = time.monotonic()
        r = srv.predict("slow", [1], timeout=60)
        elapsed = time.monotonic() - started
        self.assertError(r, 504, "timeout", ["slow", "cold_start_timeout_seconds (0.5 s)"])
        self.assertLess(elapsed, 3.5, "answered only after the 4 s load, not at the new timeout")

    def test_a_shorter_cold_start_timeout_reaches_requests_already_waiting(self):
        slow = model("slow", "synthetic", {"load_time_ms": 8000}, initial_replicas=0,
                     max_replicas=1)
        srv = self.start_server(models=[EXAMPLE, slow], autoscaler={"enabled": False})
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            waiting = pool.submit(srv.predict, "slow", [1], timeout=60)
            wait_for(lambda: srv.get("/models/slow").json()["model"]["requests_accepted"] >= 1,
                     10, 0.05, "the request waiting for the cold start")
            self.post(srv, {"models": {"slow": {"cold_start_timeout_seconds": 1}}})
            r = waiting.result()
            elapsed = time.monotonic() - started
        self.assertError(r, 504, "timeout", ["slow", "cold_start_timeout_seconds (1 s)"])
        self.assertLess(elapsed, 6, "it waited out the 8 s load, not the new 1 s timeout")

    def test_the_autoscalers_bounds_reach_the_models_that_inherit_them(self):
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        doc = self.post(srv, {"replicas": {"min_replicas": 1, "max_replicas": 4}})
        # example sets its own min_replicas, el its own max_replicas.
        self.assertEqual(doc["updated_fields"],
                         ["replicas.min_replicas", "replicas.max_replicas",
                          "models.example.max_replicas", "models.el.min_replicas"])
        self.assertIs(doc["restart_required"], False)
        conf = self.config(srv)
        self.assertEqual(conf["models"]["el"]["min_replicas"], 1)
        self.assertEqual(conf["models"]["el"]["max_replicas"], 3)
        self.assertEqual(conf["models"]["example"]["max_replicas"], 4)
        srv.wait_ready("el", timeout=30)

    def test_an_unknown_model_is_refused_by_name_and_nothing_changes(self):
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        before = self.config(srv)
        r = srv.post("/autoscaler/config", {"thresholds": {"cpu_threshold": 75},
                                            "models": {"el": {"max_replicas": 2},
                                                       "nosuch": {"max_replicas": 2}}})
        doc = self.assertError(r, 400, "invalid_configuration", mentions="models.nosuch")
        self.assertEqual(doc["invalid_fields"], ["models.nosuch"], doc)
        self.assertEqual(doc["provided_values"], {"models.nosuch": {"max_replicas": 2}})
        self.assertEqual(doc["valid_ranges"], {"models.nosuch": "example|el"})
        self.assertEqual(self.config(srv), before, "a refused document changed the configuration")
        self.assertEqual(srv.model("el")["max_replicas"], 3)

    def test_stored_settings_of_a_removed_model_are_dropped_and_the_rest_applies(self):
        first = self.start_server(autoscaler=self.AUTOSCALER)
        self.post(first, {"models": {"el": {"max_replicas": 2}},
                          "thresholds": {"queue_length_threshold": 33}})
        self.assertEqual(first.stop(), 0)
        second = self.start_server(models=[EXAMPLE], autoscaler=self.AUTOSCALER,
                                   data_dir=first.data_dir)
        conf = self.config(second)
        self.assertEqual(conf["thresholds"]["queue_length_threshold"], 33)
        self.assertEqual(list(conf["models"]), ["example"])
        self.assertIn("stored settings of a model no longer configured dropped model=el",
                      second.read_log())

    def test_restart_required_is_true_only_for_a_field_that_needs_a_restart(self):
        manual = {"enabled": False, "replicas": {"default_replicas": 0}}
        first = self.start_server(autoscaler=manual)
        doc = self.post(first, {"models": {"el": {"max_replicas": 2}}})
        self.assertEqual(doc["updated_fields"], ["models.el.max_replicas"])
        self.assertIs(doc["restart_required"], False)
        doc = self.post(first, {"replicas": {"default_replicas": 2}})
        self.assertEqual(doc["updated_fields"], ["replicas.default_replicas"])
        self.assertIs(doc["restart_required"], True)
        # Stored and shown at once, but a model takes its initial replicas
        # only when the server starts (example sets no initial_replicas;
        # its floor is 1).
        self.assertEqual(self.config(first)["replicas"]["default_replicas"], 2)
        self.assertEqual(first.model("example")["desired_replicas"], 1)
        self.assertEqual(first.stop(), 0)
        second = self.start_server(autoscaler=manual, data_dir=first.data_dir)
        self.assertEqual(second.model("example")["desired_replicas"], 2)
        second.wait_ready("example", count=2, timeout=30)
        self.assertEqual(second.model("el")["max_replicas"], 2)


if __name__ == "__main__":
    unittest.main()
