"""POST /autoscaler/scale and GET /autoscaler/scale/{scaling_id}: bad input
is refused with the spec's error shapes (invalid_request naming the field,
model_not_found, cooldown_active, scaling_failed, model_load_failed), a
refused operation changes nothing, and the server keeps serving."""

import time
import unittest

from harness import (ELASTIC, PINNED, QUIET, ServerTestCase, SharedServerTestCase,
                     autoscaler_section, model, pid_alive, wait_for)

SCALE_RESPONSE_KEYS = {"success", "timestamp", "action", "previous_scale", "target_scale",
                       "affected_models", "estimated_completion_time", "scaling_id", "status",
                       "steps", "resource_requirements"}


def scale(srv, **body):
    return srv.post("/autoscaler/scale", body)


def replica_count(srv, name):
    """Replicas starting or ready (draining ones are on their way out)."""
    return len([r for r in srv.model(name)["replicas"] if r["state"] != "draining"])


def system_sampled(srv):
    """True once the collector has read the machine's memory (memory
    admission needs one collection)."""
    return srv.get("/autoscaler/stats").json()["resource_usage"]["memory_usage_percent"] is not None


def mem_available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no MemAvailable in /proc/meminfo")


class ScaleRequestValidationTest(SharedServerTestCase):
    """Refusals that leave the server as it was; one server for all."""

    MODELS = [PINNED, ELASTIC]
    AUTOSCALER = QUIET

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server.wait_ready("el")
        cls.el_pid = cls.server.ready_replicas("el")[0]["pid"]

    def assertUnchanged(self):
        """Nothing moved: el still runs its one original replica, no other
        was ever spawned, and requests are served."""
        srv = self.server
        self.assertEqual([r["pid"] for r in srv.model("el")["replicas"]], [self.el_pid])
        self.assertEqual(len(srv.spawned_workers("el")), 1, srv.spawned_workers("el"))
        self.assertServing(srv)
        self.assertEqual(srv.predict("el", [1]).status, 200)

    def test_unknown_action_is_400_naming_action(self):
        for action in ["explode", "SCALE_UP", "scale-up", "", "scale_up "]:
            with self.subTest(action=action):
                doc = self.assertError(scale(self.server, action=action, models=["el"]), 400,
                                       "invalid_request", "action")
                # The message lists what is allowed.
                self.assertIn("scale_up", doc["message"])
        for action in [5, None, ["scale_up"], {"a": 1}, True]:
            with self.subTest(action=action):
                self.assertError(scale(self.server, action=action), 400, "invalid_request",
                                 "action")
        self.assertError(self.server.post("/autoscaler/scale", {"models": ["el"]}), 400,
                         "invalid_request", "action")
        self.assertUnchanged()

    def test_target_replicas_must_be_an_integer_from_0_to_10(self):
        for action in ["scale_up", "scale_down", "load_model", "zero_scale"]:
            for value in [-1, -100, 2.5, "2", 11, 1000, True, [2], {"n": 2}]:
                with self.subTest(action=action, target_replicas=value):
                    self.assertError(scale(self.server, action=action, models=["el"],
                                           target_replicas=value, override_cooldown=True,
                                           force=True),
                                     400, "invalid_request", "target_replicas")
        self.assertUnchanged()

    def test_scale_up_must_go_above_the_current_count(self):
        for target in [1, 0]:  # el has one replica
            with self.subTest(target_replicas=target):
                doc = self.assertError(scale(self.server, action="scale_up", models=["el"],
                                             target_replicas=target, override_cooldown=True),
                                       400, "invalid_request", "target_replicas")
                self.assertIn("1", doc["message"])  # says what the current count is
        self.assertUnchanged()

    def test_scale_down_must_go_below_the_current_count(self):
        for target in [1, 2, 3]:
            with self.subTest(target_replicas=target):
                self.assertError(scale(self.server, action="scale_down", models=["el"],
                                       target_replicas=target, override_cooldown=True),
                                 400, "invalid_request", "target_replicas")
        self.assertUnchanged()

    def test_scale_up_above_max_replicas_without_force_is_400(self):
        self.assertError(scale(self.server, action="scale_up", models=["el"], target_replicas=4,
                               override_cooldown=True),
                         400, "invalid_request", "target_replicas")
        self.assertUnchanged()

    def test_models_must_be_an_array_of_strings(self):
        for value in ["el", 5, True, {"el": 1}, [1], ["el", 2], [["el"]], [None], [{"n": "el"}]]:
            with self.subTest(models=value):
                self.assertError(scale(self.server, action="scale_up", models=value), 400,
                                 "invalid_request", "models")
        for action in ["load_model", "unload_model"]:
            with self.subTest(action=action, models="missing"):
                self.assertError(scale(self.server, action=action), 400, "invalid_request",
                                 "models")
            with self.subTest(action=action, models=[]):
                self.assertError(scale(self.server, action=action, models=[]), 400,
                                 "invalid_request", "models")
        self.assertUnchanged()

    def test_unknown_model_is_404_model_not_found(self):
        for action in ["scale_up", "scale_down", "zero_scale", "load_model", "unload_model"]:
            with self.subTest(action=action):
                self.assertError(scale(self.server, action=action, models=["nope"],
                                       override_cooldown=True),
                                 404, "model_not_found", "nope")
        # The request is checked whole: a known model listed next to an
        # unknown one does not move either.
        self.assertError(scale(self.server, action="scale_up", models=["el", "nope"],
                               target_replicas=2, override_cooldown=True),
                         404, "model_not_found", "nope")
        # A long name of multibyte characters is quoted whole characters
        # only (it once overflowed the message mid-character: a 500).
        for name in ["\u00e9" * 300, "a" + "\u20ac" * 200]:
            with self.subTest(model=name[:3]):
                doc = self.assertError(scale(self.server, action="scale_up", models=[name]),
                                       404, "model_not_found", name[:21])
                self.assertIn("...", doc["message"])
        self.assertError(scale(self.server, action="\u00e9" * 300, models=["el"]), 400,
                         "invalid_request", "action")
        self.assertUnchanged()

    def test_a_model_named_twice_is_400_naming_models(self):
        # Once accepted: two events for one model and its new replicas
        # admitted against memory twice.
        for action, target in [("scale_up", 2), ("load_model", 1), ("scale_down", 0),
                               ("unload_model", None)]:
            for models in [["el", "el"], ["el", "example", "el"]]:
                with self.subTest(action=action, models=models):
                    body = {"action": action, "models": models, "override_cooldown": True}
                    if target is not None:
                        body["target_replicas"] = target
                    doc = self.assertError(scale(self.server, **body), 400, "invalid_request",
                                           ["models", "'el' is named twice"])
                    self.assertNotIn("scaling_id", doc)
        doc = self.assertError(scale(self.server, action="scale_up", models=["nope", "nope"]),
                               400, "invalid_request", "'nope' is named twice")
        history = self.server.get("/autoscaler/history?event_types=scale_up,scale_down,"
                                  "zero_scale,scaling_failed").json()
        self.assertEqual(history["events"], [], history)
        self.assertUnchanged()

    def test_unknown_field_and_bad_bodies_are_400(self):
        self.assertError(scale(self.server, action="scale_up", models=["el"], replicas=2), 400,
                         "invalid_request", "replicas")
        for field in ["override_cooldown", "force"]:
            for value in ["yes", 1, None]:
                with self.subTest(field=field, value=value):
                    body = {"action": "scale_up", "models": ["el"], field: value}
                    self.assertError(self.server.post("/autoscaler/scale", body), 400,
                                     "invalid_request", field)
        self.assertError(scale(self.server, action="scale_up", models=["el"], reason=5), 400,
                         "invalid_request", "reason")
        r = self.server.post("/autoscaler/scale", b"{not json",
                             headers={"Content-Type": "application/json"})
        self.assertError(r, 400, "invalid_json")
        for raw in [b"[1, 2]", b"\"scale_up\"", b"null"]:
            with self.subTest(body=raw):
                r = self.server.post("/autoscaler/scale", raw,
                                     headers={"Content-Type": "application/json"})
                self.assertError(r, 400, "invalid_request")
        self.assertUnchanged()

    def test_unknown_scaling_id_is_404(self):
        self.assertError(self.server.get("/autoscaler/scale/scale_19700101_000000_000_0000"),
                         404, "scaling_operation_not_found", "scale_19700101_000000_000_0000")
        self.assertUnchanged()


class ScaleActionDirectionTest(ServerTestCase):
    """target_replicas never turns an action into its opposite."""

    MODELS = [PINNED, ELASTIC]

    def start(self):
        srv = self.start_server(autoscaler=QUIET)
        pid = srv.wait_ready("el")[0]["pid"]
        return srv, pid

    def test_zero_scale_and_unload_never_add_replicas(self):
        srv, pid = self.start()
        for action, target in [("zero_scale", 2), ("unload_model", 3)]:
            with self.subTest(action=action, target_replicas=target):
                r = scale(srv, action=action, models=["el"], target_replicas=target,
                          override_cooldown=True)
                if r.status == 400:
                    self.assertError(r, 400, "invalid_request", "target_replicas")
                else:
                    # Accepted: then it must take el to zero, as the action says.
                    self.assertIn(r.status, (200, 202), r.body)
                    self.assertEqual(r.json()["target_scale"], 0, r.json())
                self.assertLessEqual(replica_count(srv, "el"), 1)
                self.assertEqual(len(srv.spawned_workers("el")), 1,
                                 f"{action} with target_replicas {target} started a replica")
        self.assertServing(srv)

    def test_load_model_to_zero_is_400_naming_target_replicas(self):
        srv, pid = self.start()
        for force in [False, True]:
            with self.subTest(force=force):
                r = scale(srv, action="load_model", models=["el"], target_replicas=0,
                          override_cooldown=True, force=force)
                self.assertError(r, 400, "invalid_request", ["target_replicas", "at least 1"])
        self.assertEqual([x["pid"] for x in srv.model("el")["replicas"]], [pid],
                         "load_model with target_replicas 0 drained the loaded model")
        self.assertTrue(pid_alive(pid))
        self.assertEqual(srv.predict("el", [1]).status, 200)

    def test_load_model_goes_to_the_target_given_as_the_docs_say(self):
        # docs/api.md: the target is target_replicas, else max(current, 1);
        # one below the current count shrinks the model (a scale_down event).
        srv, _ = self.start()
        r = scale(srv, action="load_model", models=["el"], target_replicas=2,
                  override_cooldown=True)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual((r.json()["previous_scale"], r.json()["target_scale"]), (1, 2))
        srv.wait_ready("el", 2)
        r = scale(srv, action="load_model", models=["el"], target_replicas=1,
                  override_cooldown=True)
        self.assertEqual(r.status, 200, r.body)
        doc = r.json()
        self.assertEqual((doc["previous_scale"], doc["target_scale"]), (2, 1), doc)
        self.assertEqual(doc["affected_models"], ["el"], doc)
        wait_for(lambda: replica_count(srv, "el") == 1, timeout=20,
                 message="el back to one replica")
        self.assertEqual(srv.model("el")["desired_replicas"], 1)
        events = srv.get("/autoscaler/history?event_types=scale_down").json()["events"]
        self.assertEqual([e["id"] for e in events], [doc["scaling_id"]], events)
        # Without target_replicas: max(current, 1), so nothing moves.
        r = scale(srv, action="load_model", models=["el"], override_cooldown=True)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["status"], "completed", r.json())
        self.assertEqual(r.json()["target_scale"], 1, r.json())
        self.assertEqual(replica_count(srv, "el"), 1)

    def test_scale_up_above_max_replicas_with_force_is_accepted_within_10(self):
        srv, _ = self.start()
        self.assertError(scale(srv, action="scale_up", models=["el"], target_replicas=11,
                               force=True),
                         400, "invalid_request", "target_replicas")
        r = scale(srv, action="scale_up", models=["el"], target_replicas=4, force=True)
        self.assertEqual(r.status, 202, r.body)
        doc = r.json()
        self.assertTrue(SCALE_RESPONSE_KEYS <= set(doc), SCALE_RESPONSE_KEYS - set(doc))
        self.assertEqual((doc["previous_scale"], doc["target_scale"]), (1, 4))
        self.assertEqual(doc["affected_models"], ["el"])
        self.assertEqual(doc["status"], "in_progress")
        srv.wait_ready("el", 4)
        self.assertEqual(srv.model("el")["desired_replicas"], 4)


class PinnedAndZeroScalingTest(ServerTestCase):
    MODELS = [PINNED, ELASTIC]

    def test_zero_scale_of_an_always_loaded_model_needs_force(self):
        srv = self.start_server(autoscaler=QUIET)
        pid = srv.wait_ready("example")[0]["pid"]
        srv.wait_ready("el")
        for action in ["zero_scale", "unload_model"]:
            with self.subTest(action=action):
                self.assertError(scale(srv, action=action, models=["example"]), 400,
                                 "invalid_request", ["example", "force"])
        self.assertEqual([r["pid"] for r in srv.model("example")["replicas"]], [pid])

        # The default set of zero_scale is the auto-managed models: the
        # pinned one is not in it.
        r = scale(srv, action="zero_scale")
        self.assertIn(r.status, (200, 202), r.body)
        self.assertEqual(r.json()["affected_models"], ["el"])
        wait_for(lambda: srv.model("el")["replicas"] == [], 10, message="el to go to zero")
        self.assertEqual([r["pid"] for r in srv.model("example")["replicas"]], [pid])

        r = scale(srv, action="zero_scale", models=["example"], force=True)
        self.assertIn(r.status, (200, 202), r.body)
        doc = r.json()
        self.assertIs(doc["success"], True)
        self.assertEqual((doc["previous_scale"], doc["target_scale"]), (1, 0), doc)
        self.assertEqual(doc["affected_models"], ["example"])
        wait_for(lambda: not pid_alive(pid), 10, message="the pinned replica to be drained")
        # A request still gets an answer (the model comes back).
        self.assertServing(srv)

    def test_zero_scale_with_zero_scaling_disabled_needs_force(self):
        srv = self.start_server(autoscaler=autoscaler_section({"zero_scaling_enabled": False},
                                                              QUIET))
        pid = srv.wait_ready("el")[0]["pid"]
        self.assertError(scale(srv, action="zero_scale", models=["el"]), 400, "invalid_request",
                         ["zero_scaling_enabled", "force"])
        self.assertEqual([r["pid"] for r in srv.model("el")["replicas"]], [pid])
        r = scale(srv, action="zero_scale", models=["el"], force=True)
        self.assertIn(r.status, (200, 202), r.body)
        self.assertEqual(r.json()["target_scale"], 0)
        wait_for(lambda: srv.model("el")["replicas"] == [], 10, message="el to go to zero")
        self.assertServing(srv)


class CooldownTest(ServerTestCase):
    MODELS = [PINNED, ELASTIC]

    def test_manual_operation_inside_a_cooldown_is_409_with_seconds_left(self):
        srv = self.start_server(autoscaler=QUIET)
        srv.wait_ready("el")
        r = scale(srv, action="scale_up", models=["el"], target_replicas=2, reason="test")
        self.assertEqual(r.status, 202, r.body)
        srv.wait_ready("el", 2)

        # The scale-up started the 60 s scale-up cooldown.
        started = time.monotonic()
        doc = self.assertError(scale(srv, action="scale_up", models=["el"], target_replicas=3),
                               409, "cooldown_active", ["el", "override_cooldown"])
        left = doc["cooldown_remaining_seconds"]
        self.assertIsInstance(left, (int, float), doc)
        self.assertGreater(left, 0, doc)
        self.assertLessEqual(left, 60, doc)
        self.assertGreaterEqual(left, 60 - (time.monotonic() - started) - 30, doc)
        self.assertIn(str(int(left)), doc["message"])
        self.assertEqual(replica_count(srv, "el"), 2)
        self.assertEqual(len(srv.spawned_workers("el")), 2)

        r = scale(srv, action="scale_up", models=["el"], target_replicas=3, override_cooldown=True)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual((r.json()["previous_scale"], r.json()["target_scale"]), (2, 3))
        srv.wait_ready("el", 3)

        # ... and it started the 120 s scale-down cooldown too.
        doc = self.assertError(scale(srv, action="scale_down", models=["el"]), 409,
                               "cooldown_active", "el")
        self.assertGreater(doc["cooldown_remaining_seconds"], 60, doc)
        self.assertLessEqual(doc["cooldown_remaining_seconds"], 120, doc)
        self.assertEqual(replica_count(srv, "el"), 3)

        r = scale(srv, action="scale_down", models=["el"], override_cooldown=True)
        self.assertIn(r.status, (200, 202), r.body)
        self.assertEqual((r.json()["previous_scale"], r.json()["target_scale"]), (3, 2))
        wait_for(lambda: len(srv.model("el")["replicas"]) == 2, 10,
                 message="el to drain to two replicas")
        self.assertServing(srv)


class MemoryAdmissionTest(ServerTestCase):
    MODELS = [
        PINNED, ELASTIC,
        # Declared 900000 MB a replica: more than this machine has.
        model("huge", "synthetic", {}, memory_mb=900000, min_replicas=0, max_replicas=2,
              initial_replicas=0),
    ]

    def test_scale_up_beyond_available_memory_is_503_scaling_failed(self):
        srv = self.start_server(autoscaler=QUIET)
        srv.wait_ready("el")
        wait_for(lambda: system_sampled(srv), 10, message="the first collection")
        events_before = srv.get("/autoscaler/stats").json()["scaling_metrics"]
        for body in [{"action": "scale_up", "models": ["huge"]},
                     {"action": "scale_up", "models": ["huge"], "force": True},
                     {"action": "load_model", "models": ["huge"], "force": True,
                      "override_cooldown": True}]:
            with self.subTest(**body):
                doc = self.assertError(srv.post("/autoscaler/scale", body), 503,
                                       "scaling_failed", "memory")
                available = mem_available_mb()
                self.assertEqual(doc["failure_reason"], "resource_constraint", doc)
                self.assertEqual(doc["requested_action"], body["action"], doc)
                self.assertEqual((doc["current_scale"], doc["target_scale"]), (0, 1), doc)
                self.assertIn("scaling_id", doc)
                details = doc["details"]
                self.assertEqual(details["required_memory_mb"], 900000, doc)
                # The machine's available memory as measured (it moves a
                # little between the server's sample and ours).
                self.assertLess(abs(details["available_memory_mb"] - available),
                                0.2 * available + 256, (details, available))
                self.assertIsInstance(doc.get("recommendations"), list, doc)
        self.assertEqual(srv.spawned_workers("huge"), [])
        self.assertEqual(srv.model("huge")["replicas"], [])

        # Checked whole: a scale-up of el and huge together moves neither.
        doc = self.assertError(scale(srv, action="scale_up", models=["el", "huge"],
                                     target_replicas=2),
                               503, "scaling_failed")
        # Two replicas of huge and one more of el (its measured size).
        el_mb = srv.model("el")["replicas"][0]["memory_mb"]
        self.assertAlmostEqual(doc["details"]["required_memory_mb"], 2 * 900000 + el_mb,
                               delta=el_mb + 16, msg=doc)
        self.assertEqual(len(srv.spawned_workers("el")), 1)
        self.assertEqual(srv.spawned_workers("huge"), [])

        # Refused operations are not scale-ups.
        events_after = srv.get("/autoscaler/stats").json()["scaling_metrics"]
        self.assertEqual(events_after["scale_up_events_24h"], events_before["scale_up_events_24h"])
        self.assertServing(srv)


class LoadTimeoutTest(ServerTestCase):
    MODELS = [
        PINNED,
        # Its load would take a minute; it may take one second.
        model("slow", "synthetic", {"load_time_ms": 60000}, load_timeout_seconds=1,
              min_replicas=0, max_replicas=1, initial_replicas=0),
    ]

    def test_a_load_that_times_out_fails_the_operation_with_model_load_failed(self):
        srv = self.start_server(autoscaler=QUIET)
        started = time.monotonic()
        r = scale(srv, action="load_model", models=["slow"], reason="preload")
        self.assertEqual(r.status, 202, r.body)
        doc = r.json()
        self.assertTrue(SCALE_RESPONSE_KEYS <= set(doc), SCALE_RESPONSE_KEYS - set(doc))
        self.assertIs(doc["success"], True)
        self.assertEqual(doc["status"], "in_progress")
        self.assertEqual((doc["previous_scale"], doc["target_scale"]), (0, 1))
        scaling_id = doc["scaling_id"]
        self.assertIsInstance(scaling_id, str)
        self.assertTrue(scaling_id)

        def failed():
            r = srv.get(f"/autoscaler/scale/{scaling_id}")
            self.assertEqual(r.status, 200, r.body)
            d = r.json()
            self.assertEqual(d["scaling_id"], scaling_id)
            self.assertIn(d["status"], ("in_progress", "failed"), d)
            return d if d["status"] == "failed" else None
        op = wait_for(failed, 15, 0.1, "the operation to fail")
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.9, "failed before the 1 s load timeout")
        self.assertIs(op["success"], False, op)
        failure = op["failure"]
        self.assertEqual(failure["error"], "model_load_failed", op)
        self.assertEqual(failure["failure_reason"], "timeout", op)
        self.assertEqual(failure["model_name"], "slow", op)
        self.assertEqual(failure["timeout_seconds"], 1, op)
        self.assertTrue(failure["message"], op)
        self.assertEqual([m["status"] for m in op["models"]], ["failed"], op)

        # The worker that hung in its load was killed.
        pids = [pid for _, _, pid in srv.spawned_workers("slow")]
        self.assertGreaterEqual(len(pids), 1)
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), 10, message=f"timed-out worker {pid} to exit")
        # The operation stays failed, and the server serves.
        again = srv.get(f"/autoscaler/scale/{scaling_id}").json()
        self.assertEqual(again["status"], "failed")
        self.assertServing(srv)


if __name__ == "__main__":
    unittest.main()
