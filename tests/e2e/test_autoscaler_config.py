"""GET/POST /autoscaler/config: round trip, exact updated_fields, all-or-nothing
validation with the spec's invalid_configuration shape, and persistence."""

import unittest

from harness import EXAMPLE, ServerTestCase


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
        self.assertEqual(r.status, 400, r.body)
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


if __name__ == "__main__":
    unittest.main()
