"""`inferd loadtest` against the real server: a short bounded run writes
exactly the requested rows, a row of samples per second and a four-panel
SVG. Against small targets of the test's own (loopback, port 0): a target
that refuses connections, never answers, closes every connection, or dies
mid-run ends the run within its bound and with exit status 1 and one line
saying why, while HTTP error answers are results (exit 0); a per-minute
trace sends every request it counts. Bad flags and bad traces are refused
with the flag, or the file and the line.
"""

import csv
import math
import os
import shutil
import socket
import subprocess
import tempfile
import threading
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


class TinyTarget:
    """A loopback HTTP target served by a thread of the test, one connection
    at a time. For the n-th load request (a POST, counted from 0) it sends
    what answer(n) returns, or closes the connection without a word when
    that is None; the load test's GET /autoscaler/stats gets a 404. Every
    answer closes its connection, after the whole request was read so that
    the close is a clean end of stream rather than a reset."""

    def __init__(self, test, answer):
        self.answer = answer
        self.posts = 0
        self.stop = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        test.addCleanup(self.close)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.stop.set()
        self.thread.join(timeout=10)
        self.listener.close()

    @staticmethod
    def _read_request(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            body += chunk
        return head.split(b"\r\n")[0].decode()

    def _reply(self, request_line):
        if not request_line.startswith("POST "):
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        n, self.posts = self.posts, self.posts + 1
        return self.answer(n)

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    request_line = self._read_request(conn)
                    reply = self._reply(request_line) if request_line else None
                    if reply:
                        conn.sendall(reply)
                except OSError:
                    pass


def http_answer(status, body=b"ok"):
    return (f"HTTP/1.1 {status} Status\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


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

    def check_not_a_measurement(self, run, *phrases):
        """Exit 1 with one line on stderr saying why; the reports are kept."""
        self.assertEqual(run.rc, 1, run)
        lines = [l for l in run.stderr.splitlines() if "not a valid measurement" in l]
        self.assertEqual(len(lines), 1, run)
        self.assertTrue(lines[0].startswith("inferd loadtest: not a valid measurement: "), run)
        for phrase in phrases:
            self.assertIn(phrase, lines[0], run)
        return read_csv(run.path("requests.csv"))

    def test_silent_target_times_out_every_request_and_stops(self):
        # A listener that accepts (the kernel completes the handshake) and
        # never answers: each request ends at --timeout, the run ends, and
        # a run without a single answer is not a measurement.
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            port = listener.getsockname()[1]
            run = LoadtestRun(self, "--target", f"http://127.0.0.1:{port}", "--rate", "5",
                              "--duration", "1", "--timeout", "1", "--max-connections", "8",
                              timeout=30)
        rows = self.check_not_a_measurement(run, "none of the", "got an HTTP answer", "timeout")
        self.assertGreater(len(rows), 0, run)
        for r in rows:
            self.assertEqual(r["status"], "0", r)
            self.assertIn(r["error"], ("timeout", "overflow"), r)
        self.assertLess(run.seconds, 10, run)

    def test_silent_target_cannot_hold_the_run_past_its_grace(self):
        # With the default 30 s per-request timeout the run still ends
        # --grace seconds after its last request: at most --duration + --grace.
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            port = listener.getsockname()[1]
            run = LoadtestRun(self, "--target", f"http://127.0.0.1:{port}", "--rate", "5",
                              "--duration", "1", "--grace", "2", timeout=30)
        self.assertLess(run.seconds, 1 + 2 + 3, run)
        self.assertIn("--grace", run.stderr)
        rows = self.check_not_a_measurement(run, "none of the", "cancelled")
        for r in rows:
            self.assertIn(r["error"], ("cancelled", "timeout"), r)

    def test_target_that_closes_every_connection_fails_the_run(self):
        target = TinyTarget(self, lambda n: None)
        run = LoadtestRun(self, "--target", target.url, "--rate", "20", "--duration", "2",
                          "--timeout", "30", timeout=30)
        rows = self.check_not_a_measurement(run, "got an HTTP answer")
        self.assertGreater(len(rows), 10, run)
        self.assertIn(f"none of the {len(rows)} requests got an HTTP answer", run.stderr)
        for r in rows:
            self.assertEqual(r["status"], "0", r)
            self.assertIn(r["error"], ("closed", "connection_reset", "broken_pipe"), r)
        # Every request ends at once: the run lasts its two seconds, not
        # the 30 s timeout nor the 10 s grace.
        self.assertLess(run.seconds, 2 + 5, run)

    def test_target_dying_mid_run_fails_the_run_above_the_error_share(self):
        # Ten answers, then nothing but closed connections: about 3 in 4
        # requests get no answer, far above the default 5 %.
        target = TinyTarget(self, lambda n: http_answer(200) if n < 10 else None)
        run = LoadtestRun(self, "--target", target.url, "--rate", "20", "--duration", "2",
                          timeout=30)
        rows = self.check_not_a_measurement(run, "got no HTTP answer", "closed",
                                            "more than --max-error-share 0.05 allows")
        self.assertEqual(sum(r["status"] == "200" for r in rows), 10, run)
        # The operator may accept that share explicitly.
        target = TinyTarget(self, lambda n: http_answer(200) if n < 10 else None)
        run = LoadtestRun(self, "--target", target.url, "--rate", "20", "--duration", "2",
                          "--max-error-share", "0.9", timeout=30)
        self.assertEqual(run.rc, 0, run)
        self.assertNotIn("not a valid measurement", run.stderr)

    def test_http_error_answers_are_results_not_failures(self):
        target = TinyTarget(self, lambda n: http_answer(503, b"busy"))
        run = LoadtestRun(self, "--target", target.url, "--rate", "20", "--duration", "1",
                          timeout=30)
        self.assertEqual(run.rc, 0, run)
        rows = read_csv(run.path("requests.csv"))
        self.assertGreater(len(rows), 0, run)
        self.assertTrue(all(r["status"] == "503" for r in rows), rows)
        self.assertIn("status 503:", run.stdout)

    def test_per_minute_trace_sends_every_request_it_counts(self):
        # minute,count rows are counts, spread within each minute (as
        # inferd simulate reads them), not two requests at 0 s and 1 s.
        target = TinyTarget(self, lambda n: http_answer(200))
        d = tempfile.mkdtemp(prefix="inferd-trace-")
        self.addCleanup(shutil.rmtree, d, True)
        trace = os.path.join(d, "minutes.csv")
        with open(trace, "w") as f:
            f.write("minute,count\n0,5\n1,4\n")
        run = LoadtestRun(self, "--target", target.url, "--trace", trace, "--time-scale", "60",
                          "--seed", "4", timeout=30)
        self.assertEqual(run.rc, 0, run)
        rows = read_csv(run.path("requests.csv"))
        self.assertEqual(len(rows), 9, run)
        scheduled = [float(r["scheduled_at"]) for r in rows]
        self.assertEqual(sum(t < 1 for t in scheduled), 5, scheduled)
        self.assertTrue(all(0 <= t < 2 for t in scheduled), scheduled)

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
        azure = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,374,44\n"
        cases = {
            "empty.csv": ("", "empty.csv:1: the file is empty"),
            "header-only.csv": ("TIMESTAMP,ContextTokens\n", "no requests after the header"),
            "no-header.csv": ("2023-11-16 18:15:46,374,44\n", "no-header.csv:1: expected a header"),
            "unsorted.csv": ("TIMESTAMP,A\n2023-11-16 18:15:46,1\n2023-11-16 18:15:47,1\n"
                             "2023-11-16 18:15:45,1\n", "unsorted.csv:4: column 1"),
            "bad-row.csv": ("TIMESTAMP,A\n2023-11-16 18:15:46,1\nyesterday,1\n",
                            "bad-row.csv:3: column 1 (TIMESTAMP): 'yesterday' is not a time"),
            "bad-tokens.csv": (azure + "2023-11-16 18:15:47,12,many\n",
                               "bad-tokens.csv:3: column 3 (GeneratedTokens): 'many'"),
            "short-row.csv": (azure + "2023-11-16 18:15:47,12\n",
                              "short-row.csv:3: 2 columns, but the header has 3"),
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
