"""Start-up and shutdown: SIGTERM lets in-flight work finish and stops
every worker; a bad configuration file stops start-up with a message naming
the file and the field; without --config the built-in models serve."""

import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import (BINARY, EXAMPLE, Background, ServerTestCase, model, pid_alive,
                     start_with_config_file, wait_for)


class GracefulShutdownTest(ServerTestCase):
    MODELS = [
        EXAMPLE,
        model("slow", "synthetic", {"cpu_ms_per_request": 1500}, min_replicas=2,
              max_replicas=2),
        model("tts", "flite", {"voice": "cmu_us_slt"}, min_replicas=1, max_replicas=1),
    ]
    SERVER = {"shutdown_timeout_ms": 20000}

    def test_sigterm_lets_in_flight_request_finish_then_exits_0(self):
        srv = self.start_server()
        srv.wait_ready("slow", 2)
        srv.wait_ready("tts")
        srv.wait_ready("example")
        pids = srv.all_worker_pids()
        self.assertGreaterEqual(len(pids), 4)

        # A keep-alive connection opened before the signal, to watch /health.
        watcher = srv.connect(timeout=30)
        self.addCleanup(watcher.close)
        watcher.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(watcher.read_response().status, 200)

        call = Background(lambda: srv.predict("slow", [1], timeout=60))
        srv.wait_in_flight("slow")
        srv.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down" in srv.read_log(), 10,
                 message="the server to log the shutdown")

        # While draining, /health says so on the open connection.
        watcher.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        health = watcher.read_response()
        self.assertEqual(health.status, 503, health.body)
        self.assertEqual(health.json()["status"], "shutting_down")

        r = call.result(60)
        self.assertEqual(r.status, 200, r.body)
        self.assertGreaterEqual(r.json()["result"]["cpu_ms"], 1500 * 0.95)

        try:
            code = srv.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.fail("inferd did not exit within 30 s of SIGTERM")
        self.assertEqual(code, 0)
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), 10, message=f"worker {pid} to be gone")
        self.assertIn("all workers stopped", srv.read_log())

    def test_sigterm_when_idle_exits_0_quickly(self):
        srv = self.start_server()
        srv.wait_ready("slow", 2)
        pids = srv.all_worker_pids()
        self.assertEqual(srv.stop(timeout=15), 0)
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), 10, message=f"worker {pid} to be gone")

    def test_new_connections_are_refused_after_sigterm(self):
        srv = self.start_server()
        srv.wait_ready("slow", 2)
        call = Background(lambda: srv.predict("slow", [1], timeout=60))
        srv.wait_in_flight("slow")
        srv.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down" in srv.read_log(), 10, message="shutdown to begin")

        def refused():
            try:
                r = srv.get("/health", timeout=2)
            except OSError:
                return True
            return r.status == 503
        wait_for(refused, 5, message="new connections to be refused or told 503")
        self.assertEqual(call.result(60).status, 200)
        self.assertEqual(srv.proc.wait(30), 0)


class BadConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="inferd-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_with_config(self, text):
        return start_with_config_file(self, self.dir, text, "bad-config.json")

    def test_bad_config_file_stops_startup_naming_file_and_field(self):
        cases = [
            ({"models": [dict(EXAMPLE, max_replicas=11)]}, "models[0].max_replicas"),
            ({"models": [EXAMPLE, {"name": "x", "backend": "piper"}]}, "models[1].backend"),
            ({"server": {"prot": 1}, "models": [EXAMPLE]}, "server.prot"),
            ({"server": {"max_body_bytes": 10}, "models": [EXAMPLE]}, "server.max_body_bytes"),
            ({"models": [EXAMPLE, EXAMPLE]}, "models[1].name"),
            ({"models": [dict(EXAMPLE, min_replicas=3, max_replicas=2)]},
             "models[0].min_replicas"),
            ({"models": [model("t", "flite", {"voice": "nobody"})]}, "models[0].params"),
            ({"models": [model("s", "synthetic", {"load_time_ms": -5})]}, "models[0].params"),
            ({"models": []}, "models"),
            ({"models": [{"backend": "example"}]}, "models[0].name"),
        ]
        for doc, field in cases:
            with self.subTest(field=field):
                path, code, stderr = self.run_with_config(doc)
                self.assertNotEqual(code, 0, stderr)
                self.assertIn(path, stderr)
                self.assertIn(field, stderr)
                self.assertNotIn("listening", stderr)

    def test_json_syntax_error_names_file_line_and_column(self):
        path, code, stderr = self.run_with_config('{"models": [\n  {"name": "a",}\n]}')
        self.assertNotEqual(code, 0)
        self.assertIn(f"{path}:2:", stderr)

    def test_missing_config_file_is_reported(self):
        path = os.path.join(self.dir, "does-not-exist.json")
        proc = subprocess.run([BINARY, "serve", "--config", path, "--port", "0",
                               "--data-dir", os.path.join(self.dir, "data")],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(path, proc.stderr.decode())


class DefaultConfigTest(ServerTestCase):
    def test_default_config_serves_example_and_tts(self):
        srv = self.start_server(config=False, extra_args=["--port", "0"])
        r = srv.get("/models")
        self.assertEqual(r.status, 200, r.body)
        models = {m["name"]: m for m in r.json()["models"]}
        self.assertIn("example", models)
        tts = [m for m in models.values() if m["backend"] in ("flite", "espeak")]
        self.assertTrue(any(m["backend"] == "flite" for m in tts), models.keys())
        self.assertTrue(any(m["backend"] == "espeak" for m in tts), models.keys())

        srv.wait_ready("example")
        self.assertServing(srv)
        for m in tts:
            with self.subTest(model=m["name"]):
                self.assertIn("synthesize", m["tasks"])
                s = srv.synthesize(m["name"], "Default configuration.", wav=True)
                self.assertEqual(s.status, 200, s.body[:300])
                self.assertEqual(s.body[:4], b"RIFF")
                self.assertEqual(s.body[8:12], b"WAVE")
        self.assertEqual(srv.stop(), 0)

    def test_health_reports_ok(self):
        srv = self.start_server(config=False, extra_args=["--port", "0"])
        r = srv.get("/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["status"], "ok")


if __name__ == "__main__":
    unittest.main()
