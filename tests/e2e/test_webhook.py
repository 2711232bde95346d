"""Scaling event notifications: each completed event is POSTed as JSON to
advanced.external_metrics_webhook, with a timeout, bounded retries and a
bounded buffer; a failing (500) or stuck receiver never slows /predict
(measured against the same run without one); bad URLs are refused with
invalid_configuration and change nothing.

Every receiver is a small server inside the test, on 127.0.0.1."""

import http.server
import json
import socket
import statistics
import threading
import time
import unittest

from harness import ELASTIC, EXAMPLE, ServerTestCase, wait_for

WEBHOOK = "advanced.external_metrics_webhook"
# How much slower /predict may be while notifications fail than without
# them, measured in the same run: a median several times the reference plus
# a margin. A machine that is slow throughout is slow for both medians; a
# loop blocked by the sender would be slower by whole timeouts (2 s).
SLOWDOWN_FACTOR = 3
SLOWDOWN_MARGIN_SECONDS = 0.020
# An auto-managed model that starts in milliseconds, for a real scale-up.


class Receiver:
    """An HTTP receiver that records every POST and answers `status`."""

    def __init__(self, status=200):
        self.status = status
        self.requests = []  # (path, headers, parsed body)
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode("latin-1")}
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers), body))
                payload = b'{"ok": true}'
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self):
        with self.lock:
            return [body for _, _, body in self.requests]

    def find(self, predicate):
        """The first request (path, headers, body) whose body matches."""
        with self.lock:
            for req in self.requests:
                if predicate(req[2]):
                    return req
        return None

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class StuckReceiver:
    """Accepts connections and never answers (nor reads)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                if self.closed:
                    conn.close()
                    return
                self.conns.append(conn)

    def url(self):
        return f"http://127.0.0.1:{self.port}/stuck"

    def accepted(self):
        with self.lock:
            return len(self.conns)

    def close(self):
        with self.lock:
            self.closed = True
            conns, self.conns = self.conns, []
        for c in conns:
            c.close()
        # shutdown() wakes the thread blocked in accept(); close() alone
        # does not on Linux.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


class EventGenerator:
    """Changes the configuration in a loop from a thread: each accepted
    change is a config_updated event, so events keep coming."""

    def __init__(self, srv, pause=0.02):
        self.srv = srv
        self.pause = pause
        self.stop_flag = threading.Event()
        self.changes = 0
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            r = self.srv.post("/autoscaler/config",
                              {"thresholds": {"cpu_threshold": 50 + i % 40}})
            if r.status != 200:
                self.errors.append(r)
                return
            self.changes += 1
            self.stop_flag.wait(self.pause)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(30)


class WebhookTest(ServerTestCase):
    MODELS = [EXAMPLE, ELASTIC]

    def receiver(self, **kw):
        r = Receiver(**kw)
        self.addCleanup(r.close)
        return r

    def stuck_receiver(self):
        r = StuckReceiver()
        self.addCleanup(r.close)
        return r

    def configure(self, srv, advanced):
        r = srv.post("/autoscaler/config", {"advanced": advanced})
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def enable(self, srv, url):
        return self.configure(srv, {"scaling_notifications_enabled": True,
                                    "external_metrics_webhook": url})

    def notifications(self, srv):
        r = srv.get("/autoscaler/health")
        self.assertIn(r.status, (200, 503), r.body)
        doc = r.json()["notifications"]
        self.assertIsInstance(doc, dict)
        return doc

    def config(self, srv):
        r = srv.get("/autoscaler/config")
        self.assertEqual(r.status, 200, r.body)
        return r.json()["configuration"]

    def median_predict_seconds(self, srv, n=40, until=None, timeout=30):
        """Median time of at least n /predict calls, going on until
        until() holds (so that the calls overlap what it waits for)."""
        times = []
        deadline = time.monotonic() + timeout
        while len(times) < n or (until is not None and not until()):
            self.assertLess(time.monotonic(), deadline, "the measurement did not end")
            t0 = time.perf_counter()
            r = srv.predict("example", [len(times), 1, 2])
            times.append(time.perf_counter() - t0)
            self.assertEqual(r.status, 200, r.body)
        return statistics.median(times)

    def assertNotSlowed(self, median, reference, what):
        self.assertLess(median, SLOWDOWN_FACTOR * reference + SLOWDOWN_MARGIN_SECONDS,
                        f"median /predict {median * 1000:.2f} ms with {what}, "
                        f"{reference * 1000:.2f} ms without")

    def test_scale_up_is_posted_once_complete_with_its_outcome(self):
        srv = self.start_server()
        rx = self.receiver()
        before = self.notifications(srv)
        self.assertIs(before["active"], False)
        self.assertEqual(before["queued"], 0)
        self.assertEqual(before["buffer_capacity"], 256)
        self.enable(srv, rx.url())
        self.assertIs(self.notifications(srv)["active"], True)

        # The change that turned notifications on is itself the first event.
        path, headers, body = wait_for(
            lambda: rx.find(lambda b: b.get("event", {}).get("type") == "config_updated"),
            timeout=15, message="the config_updated notification")
        self.assertEqual(path, "/hook")
        self.assertTrue(headers.get("Content-Type", "").startswith("application/json"), headers)
        version = srv.get("/autoscaler/health").json()["autoscaler"]["version"]
        self.assertEqual(headers.get("User-Agent"), f"inferd/{version}")
        self.assertEqual(body["type"], "scaling_event")
        self.assertEqual(body["attempt"], 1)
        self.assertRegex(body["sent_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn(WEBHOOK, body["event"]["details"]["updated_fields"])

        r = srv.post("/autoscaler/scale", {"action": "scale_up", "models": ["el"],
                                           "target_replicas": 2, "reason": "webhook test"})
        self.assertIn(r.status, (200, 202), r.body)
        scaling_id = r.json()["scaling_id"]
        _, _, body = wait_for(
            lambda: rx.find(lambda b: b.get("event", {}).get("type") == "scale_up"),
            timeout=30, message="the scale_up notification")
        event = body["event"]
        self.assertEqual(event["id"], scaling_id)
        self.assertEqual(event["model"], "el")
        self.assertEqual(event["trigger"], "manual")
        self.assertIs(event["success"], True)
        self.assertEqual(event["previous_scale"], 1)
        self.assertEqual(event["target_scale"], 2)
        self.assertEqual(event["actual_scale"], 2)
        self.assertGreaterEqual(event["duration_seconds"], 0)
        self.assertEqual(event["details"]["reason"], "webhook test")
        # Sent once, when complete: never while pending.
        scale_posts = [b for b in rx.bodies() if b["event"]["id"] == scaling_id]
        self.assertEqual(len(scale_posts), 1, scale_posts)
        stats = wait_for(lambda: (lambda s: s if s["queued"] == 0 else None)(
            self.notifications(srv)), timeout=10, message="an empty buffer")
        self.assertEqual(stats["delivered"], len(rx.bodies()))
        self.assertEqual(stats["failed_attempts"], 0)
        self.assertEqual(stats["last_status"], 200)
        self.assertIsNone(stats["last_error"])

        # A new URL applies from the next delivery: the change moving it is
        # delivered to the new receiver.
        rx2 = self.receiver()
        self.enable(srv, rx2.url("/second"))
        path, _, body = wait_for(
            lambda: rx2.find(lambda b: WEBHOOK in (b["event"].get("details") or {}).get(
                "updated_fields", [])),
            timeout=15, message="the notification at the new URL")
        self.assertEqual(path, "/second")

    def test_a_failing_receiver_gets_bounded_retries_then_the_event_is_dropped(self):
        srv = self.start_server()
        rx = self.receiver(status=500)
        self.enable(srv, rx.url())
        stats = wait_for(lambda: (lambda s: s if s["dropped_after_retries"] >= 1 else None)(
            self.notifications(srv)), timeout=30, message="the event dropped after retries")
        bodies = rx.bodies()
        self.assertTrue(bodies)
        event_id = bodies[0]["event"]["id"]
        attempts = [b["attempt"] for b in bodies if b["event"]["id"] == event_id]
        # One attempt and three retries, then nothing more for that event.
        self.assertEqual(attempts, [1, 2, 3, 4], bodies)
        self.assertEqual(stats["dropped_after_retries"], 1)
        self.assertEqual(stats["failed_attempts"], 4)
        self.assertEqual(stats["delivered"], 0)
        self.assertEqual(stats["last_status"], 500)
        self.assertIn("500", stats["last_error"])
        self.assertEqual(stats["queued"], 0)
        self.assertIn("reason=retries_exhausted", srv.read_log())
        self.assertServing(srv)

    def events_and_baseline(self, srv):
        """Warms up, starts a steady stream of scaling events (the same in
        both runs; only the receiver differs) and measures /predict's
        median with no receiver: the reference."""
        srv.wait_ready("example")
        for _ in range(5):  # warm up the connection path and the replica
            self.assertServing(srv)
        gen = EventGenerator(srv)
        self.addCleanup(gen.stop)
        wait_for(lambda: gen.changes >= 3, timeout=10, message="events being generated")
        return gen, self.median_predict_seconds(srv)

    def test_a_failing_receiver_does_not_slow_predict(self):
        srv = self.start_server()
        rx = self.receiver(status=500)
        gen, base = self.events_and_baseline(srv)
        self.enable(srv, rx.url())
        wait_for(lambda: self.notifications(srv)["failed_attempts"] >= 2, timeout=10,
                 message="attempts answered 500")
        # Measured across attempts and their retries (0.5, 1 and 2 s
        # apart), not in a quiet gap between two.
        attempts_before = len(rx.bodies())
        failing_median = self.median_predict_seconds(
            srv, until=lambda: len(rx.bodies()) >= attempts_before + 3)
        gen.stop()
        self.assertEqual(gen.errors, [])
        stats = self.notifications(srv)
        self.assertEqual(stats["delivered"], 0)
        self.assertEqual(stats["last_status"], 500)
        self.assertNotSlowed(failing_median, base, "a receiver answering 500")

    def test_a_stuck_receiver_does_not_slow_predict(self):
        srv = self.start_server()
        stuck = self.stuck_receiver()
        gen, base = self.events_and_baseline(srv)
        self.enable(srv, stuck.url())
        wait_for(stuck.accepted, timeout=10, message="an attempt to reach the stuck receiver")
        wait_for(lambda: self.notifications(srv)["queued"] >= 2, timeout=10,
                 message="events waiting behind the stuck one")
        stuck_median = self.median_predict_seconds(srv)
        gen.stop()
        self.assertEqual(gen.errors, [])
        stats = self.notifications(srv)
        self.assertEqual(stats["delivered"], 0)
        self.assertGreaterEqual(stats["queued"], 2)
        self.assertNotSlowed(stuck_median, base, "a stuck receiver")

    def test_bad_webhook_urls_are_refused_and_change_nothing(self):
        srv = self.start_server()
        rx = self.receiver()
        self.enable(srv, rx.url())
        before = self.config(srv)
        for bad in ["https://127.0.0.1:9/hook", "garbage", 123, "", "ftp://h/x",
                    "http://user@127.0.0.1/x", "http://127.0.0.1:0/x", ["http://h/"],
                    "http://[zz]/x", "http://[1.2.3.4]/", "http://[:::::::::]/",
                    "http://999.999.999.999/", "http://" + "a" * 64 + ".example/"]:
            with self.subTest(url=bad):
                r = srv.post("/autoscaler/config", {"advanced": {
                    "scaling_notifications_enabled": True, "external_metrics_webhook": bad}})
                doc = self.assertError(r, 400, "invalid_configuration", mentions=WEBHOOK)
                self.assertEqual(doc["invalid_fields"], [WEBHOOK], doc)
                self.assertEqual(self.config(srv), before)
        r = srv.post("/autoscaler/config", {"advanced": {"external_metrics_webhook": "https://x"}})
        self.assertIn("only http://", r.json()["message"])
        self.assertEqual(self.config(srv)["advanced"]["external_metrics_webhook"], rx.url())
        self.assertIs(self.notifications(srv)["active"], True)

    def test_a_full_buffer_drops_the_oldest_and_counts_it(self):
        srv = self.start_server()
        stuck = self.stuck_receiver()
        self.enable(srv, stuck.url())
        wait_for(stuck.accepted, timeout=10, message="an attempt to reach the stuck receiver")
        capacity = self.notifications(srv)["buffer_capacity"]
        posted = 0
        deadline = time.monotonic() + 40
        stats = self.notifications(srv)
        # One event is in flight, `capacity` wait; each change adds one.
        while stats["dropped_buffer_full"] < 20:
            self.assertLess(time.monotonic(), deadline, f"no drop counted: {stats}")
            for _ in range(25):
                posted += 1
                r = srv.post("/autoscaler/config",
                             {"thresholds": {"cpu_threshold": 50 + posted % 40}})
                self.assertEqual(r.status, 200, r.body)
            stats = self.notifications(srv)
        self.assertEqual(stats["queued"], capacity + 1, stats)
        self.assertEqual(stats["delivered"], 0)
        # One warning, not one per dropped event.
        warnings = srv.read_log().count("reason=buffer_full")
        self.assertGreaterEqual(warnings, 1)
        self.assertLess(warnings, stats["dropped_buffer_full"])
        self.assertServing(srv)
        # Turning notifications off drops what waits at once, without
        # waiting for the stuck attempt's timeout.
        before = self.notifications(srv)
        r = srv.post("/autoscaler/config", {"advanced": {"scaling_notifications_enabled": False}})
        self.assertEqual(r.status, 200, r.body)
        after = self.notifications(srv)
        self.assertEqual(after["queued"], 1, after)  # only the attempt under way
        self.assertEqual(after["dropped_disabled"] - before["dropped_disabled"], capacity, after)
        # Shutdown does not wait for the receiver: what is left is dropped.
        self.assertEqual(srv.stop(), 0)
        self.assertRegex(srv.read_log(), r"dropped at shutdown count=\d+")


if __name__ == "__main__":
    unittest.main()
