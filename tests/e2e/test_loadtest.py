"""`inferd loadtest` against the real server: a short bounded run writes
exactly the requested rows, a row of samples per second and a four-panel
SVG; a target that refuses connections, or never answers, ends the run on
its own; bad flags and bad traces are refused with the flag or the line.
"""

import csv
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

from harness import BINARY, EXAMPLE, ServerTestCase, model, sanitizer_report

SVG = "{http://www.w3.org/2000/svg}"
SLT = model("tts-flite-slt", "flite", {"voice": "cmu_us_slt"}, min_replicas=1, max_replicas=2)


def free_port():
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class LoadtestRun:
    """One `inferd loadtest` process with its output directory."""

    def __init__(self, test, *args, timeout=90.0):
        self.out = tempfile.mkdtemp(prefix="inferd-loadtest-")
        test.addCleanup(shutil.rmtree, self.out, True)
        started = time.monotonic()
        proc = subprocess.run([BINARY, "loadtest", *args, "--out", self.out],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
        self.seconds = time.monotonic() - started
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        report = sanitizer_report(proc.stderr)
        if report:
            raise AssertionError("a sanitizer reported an error in inferd loadtest:\n" + report)

    def path(self, name):
        return os.path.join(self.out, name)

    def __repr__(self):
        return f"<loadtest rc={self.rc} stdout={self.stdout!r} stderr={self.stderr[-2000:]!r}>"


class LoadtestLiveTest(ServerTestCase):
    MODELS = [EXAMPLE, SLT]

    def check_requests(self, run, count, model_name):
        self.assertEqual(run.rc, 0, run)
        rows = read_csv(run.path("requests.csv"))
        self.assertEqual(len(rows), count, run)
        scheduled = [float(r["scheduled_at"]) for r in rows]
        self.assertEqual(scheduled, sorted(scheduled), "rows are in schedule order")
        for r in rows:
            self.assertEqual(r["status"], "200", r)
            self.assertEqual(r["error"], "", r)
            self.assertEqual(r["model"], model_name, r)
            self.assertGreater(int(r["bytes"]), 0, r)
            latency = float(r["latency_ms"])
            self.assertGreater(latency, 0, r)
            # finished - sent is the latency (both in seconds, to the microsecond)
            span = (float(r["finished_at"]) - float(r["sent_at"])) * 1000.0
            self.assertAlmostEqual(span, latency, delta=0.01, msg=r)
        self.assertIn(f"{count} requests in", run.stdout)
        self.assertIn(f"{count} answered 2xx, 0 errors", run.stdout)
        return rows

    def check_samples(self, run, rows, model_name):
        samples = read_csv(run.path("samples.csv"))
        self.assertEqual([int(s["t"]) for s in samples], list(range(len(samples))),
                         "one row per second, from 0")
        last = max(float(r["finished_at"]) for r in rows)
        self.assertGreaterEqual(len(samples), math.floor(last) + 1, "every second of the run")
        self.assertLessEqual(len(samples), math.floor(last) + 2, "and no more")
        self.assertEqual(sum(int(s["sent"]) for s in samples), len(rows))
        self.assertEqual(sum(int(s["completed"]) for s in samples), len(rows))
        self.assertEqual(sum(int(s["errors"]) for s in samples), 0)
        ready = [s[f"ready_{model_name}"] for s in samples]
        self.assertTrue(any(v and int(v) >= 1 for v in ready), samples)
        for s in samples:
            for col in ("cpu_percent", "memory_percent"):
                if s[col]:
                    self.assertTrue(0 <= float(s[col]) <= 100, s)
        self.assertTrue(any(s["memory_percent"] for s in samples), samples)
        return samples

    def check_svg(self, run):
        root = ET.parse(run.path("loadtest.svg")).getroot()
        self.assertEqual(root.tag, SVG + "svg")
        panels = [g for g in root.iter(SVG + "g") if g.get("class") == "panel"]
        self.assertEqual(len(panels), 4)
        titles = [" ".join(t.text or "" for t in p.iter(SVG + "text")) for p in panels]
        for word, title in zip(("Latency", "Error rate", "Replicas", "CPU"), titles):
            self.assertIn(word, title)
        self.assertTrue(any(p.iter(SVG + "polyline") for p in panels[:1]), "latency is drawn")

    def test_short_synthesize_run_writes_requested_rows_and_figure(self):
        srv = self.start_server()
        srv.wait_ready("tts-flite-slt")
        run = LoadtestRun(self, "--target", f"http://127.0.0.1:{srv.port}", "--path",
                          "/synthesize", "--model", "tts-flite-slt", "--rate", "20",
                          "--duration", "3", "--max-requests", "40", "--timeout", "30")
        rows = self.check_requests(run, 40, "tts-flite-slt")
        self.check_samples(run, rows, "tts-flite-slt")
        self.check_svg(run)

    def test_ramp_on_predict_sends_the_integral_of_the_rate(self):
        # 5 -> 30 requests per second over 2 s: (5 + 30) / 2 * 2 = 35.
        srv = self.start_server()
        srv.wait_ready("example")
        run = LoadtestRun(self, "--target", f"http://127.0.0.1:{srv.port}", "--path", "/predict",
                          "--model", "example", "--ramp", "5:30:2")
        rows = self.check_requests(run, 35, "example")
        self.check_samples(run, rows, "example")
        self.check_svg(run)

    def test_trace_replay_is_time_compressed(self):
        # 30 rows a second apart, played ten times faster: about 3 s.
        srv = self.start_server()
        srv.wait_ready("example")
        trace = os.path.join(tempfile.mkdtemp(prefix="inferd-trace-"), "trace.csv")
        self.addCleanup(shutil.rmtree, os.path.dirname(trace), True)
        with open(trace, "w") as f:
            f.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
            for i in range(30):
                f.write(f"2023-11-16 18:{15 + i // 60:02d}:{i % 60:02d}.5000000,100,10\n")
        run = LoadtestRun(self, "--target", f"http://127.0.0.1:{srv.port}", "--path", "/predict",
                          "--trace", trace, "--time-scale", "10")
        rows = self.check_requests(run, 30, "example")
        scheduled = [float(r["scheduled_at"]) for r in rows]
        self.assertAlmostEqual(scheduled[-1], 2.9, delta=1e-6)
        self.assertLess(run.seconds, 20)


class LoadtestFailureTest(unittest.TestCase):
    def test_refused_connection_exits_quickly_with_a_message(self):
        port = free_port()
        run = LoadtestRun(self, "--target", f"http://127.0.0.1:{port}", "--rate", "20",
                          "--duration", "60", timeout=30)
        self.assertEqual(run.rc, 1, run)
        self.assertIn(f"inferd loadtest: cannot connect to http://127.0.0.1:{port}: "
                      "connection refused", run.stderr)
        self.assertLess(run.seconds, 5, "refusal ends the run at once, not after --duration")

    def test_silent_target_times_out_every_request_and_stops(self):
        # A listener that accepts (the kernel completes the handshake) and
        # never answers: each request ends at --timeout, the run ends.
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            port = listener.getsockname()[1]
            run = LoadtestRun(self, "--target", f"http://127.0.0.1:{port}", "--rate", "5",
                              "--duration", "1", "--timeout", "1", "--max-connections", "8",
                              timeout=30)
        self.assertEqual(run.rc, 0, run)
        rows = read_csv(run.path("requests.csv"))
        self.assertGreater(len(rows), 0, run)
        for r in rows:
            self.assertEqual(r["status"], "0", r)
            self.assertIn(r["error"], ("timeout", "overflow"), r)
        self.assertLess(run.seconds, 10, run)

    def test_bad_flags_name_the_flag(self):
        cases = [
            (["--rate", "fast"], "--rate"),
            (["--ramp", "1:2"], "--ramp"),
            (["--rate", "5", "--ramp", "1:2:3"], "--ramp"),
            (["--rate", "5", "--target", "http://example.invalid"], "--target"),
            (["--rate", "5", "--path", "/models"], "--path"),
            (["--rate", "5", "--max-requests", "0"], "--max-requests"),
            (["--rate", "5", "--time-scale", "2"], "--time-scale"),
            ([], "--trace"),
        ]
        for args, flag in cases:
            with self.subTest(args=args):
                run = LoadtestRun(self, *args, timeout=10)
                self.assertEqual(run.rc, 2, run)
                self.assertIn(flag, run.stderr)

    def test_bad_traces_name_the_line(self):
        d = tempfile.mkdtemp(prefix="inferd-trace-")
        self.addCleanup(shutil.rmtree, d, True)
        cases = {
            "empty.csv": ("", "line 1"),
            "header-only.csv": ("TIMESTAMP,ContextTokens\n", "line 2"),
            "unsorted.csv": ("TIMESTAMP,A\n2023-11-16 18:15:46,1\n2023-11-16 18:15:47,1\n"
                             "2023-11-16 18:15:45,1\n", "line 4"),
            "bad-row.csv": ("TIMESTAMP,A\n2023-11-16 18:15:46,1\nyesterday,1\n", "line 3"),
        }
        for name, (text, where) in cases.items():
            with self.subTest(trace=name):
                path = os.path.join(d, name)
                with open(path, "w") as f:
                    f.write(text)
                run = LoadtestRun(self, "--trace", path, "--target",
                                  f"http://127.0.0.1:{free_port()}", timeout=10)
                self.assertEqual(run.rc, 2, run)
                self.assertIn(name, run.stderr)
                self.assertIn(where, run.stderr)
        run = LoadtestRun(self, "--trace", os.path.join(d, "missing.csv"), timeout=10)
        self.assertEqual(run.rc, 2, run)
        self.assertIn("missing.csv", run.stderr)


if __name__ == "__main__":
    unittest.main()
