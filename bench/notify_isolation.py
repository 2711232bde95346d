#!/usr/bin/env python3
"""Notification isolation: /predict latency while scaling events are being
POSTed to a webhook receiver that answers, fails or never answers, against
the same with no receiver set, on one inferd in one run.

    bench/notify_isolation.py [--seconds 8] [--event-pause 0.02]

Model: `example` (pinned at one replica; microseconds of model time, so the
gateway's own work dominates what is measured). Events: a thread changes
thresholds.cpu_threshold through POST /autoscaler/config every
--event-pause seconds; each accepted change is a config_updated event, which
the notifier sends when a receiver is set. The same stream runs in every
phase; only the receiver differs:

  none     advanced.external_metrics_webhook null (the reference)
  ok       a receiver on 127.0.0.1 that answers 204 at once
  failing  a receiver that answers 500 at once (every event is retried 3
           times after 0.5, 1 and 2 s, then dropped)
  stuck    a receiver that accepts the connection and never answers (each
           attempt waits for the 2 s timeout; the buffer of 256 fills and
           the oldest events are dropped)

In each phase one client sends sequential POST /predict on one keep-alive
connection for --seconds (at most 200,000 requests) and times each answer
(client clock); the phase lasts long enough for retries, 2 s timeouts and
drops to happen while it is measured. Ratio = the
phase's median (and p99) over the reference's. Target: every phase's median
ratio <= 1.25 (a notifier that waited on the receiver on the loop would add
up to 2 s to requests stuck behind it: a ratio in the thousands).

Writes bench/results/notify_isolation.json. Exit 0: target met; 1: missed;
2: could not run.
"""

import argparse
import http.client
import http.server
import json
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

NAME = "notify_isolation"
TITLE = "Notification isolation: /predict latency with a failing or stuck webhook receiver"
TARGET_RATIO = 1.25


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="per phase")
    ap.add_argument("--event-pause", type=float, default=0.02)
    a = ap.parse_args()
    if not (1 <= a.seconds <= 120 and 0.001 <= a.event_pause <= 1):
        ap.error("seconds 1-120, event-pause 0.001-1")
    return a


class Receiver:
    """An HTTP receiver on 127.0.0.1 answering `status` to every POST."""

    def __init__(self, status):
        code = status

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()
                Handler.count += 1

            def log_message(self, *args):
                pass

        Handler.count = 0
        self.handler = Handler
        self.server = http.server.ThreadingHTTPServer((B.HOST, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return f"http://{B.HOST}:{self.server.server_address[1]}/events"

    def posts(self):
        return self.handler.count

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class StuckReceiver:
    """Accepts connections and never reads or answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((B.HOST, 0))
        self.sock.listen(512)
        self.held = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                continue

    def url(self):
        return f"http://{B.HOST}:{self.sock.getsockname()[1]}/events"

    def posts(self):
        return len(self.held)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.sock.close()


class Events:
    """A steady stream of config_updated events from a thread."""

    def __init__(self, srv, pause):
        self.srv, self.pause = srv, pause
        self.changes, self.errors = 0, []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            try:
                status, doc = self.srv.post_json("/autoscaler/config",
                                                 {"thresholds": {"cpu_threshold": 50 + i % 40}})
            except OSError as e:
                self.errors.append(str(e))
                return
            if status != 200:
                self.errors.append(f"{status} {doc}")
                return
            self.changes += 1
            self.stop_flag.wait(self.pause)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(30)


def timed_predicts(srv, seconds, limit=200000):
    conn = srv.connect(30)
    body = json.dumps({"model_name": "example", "inputs": [1, 2, 3]})
    headers = {"Content-Type": "application/json"}
    times = []
    try:
        end = time.perf_counter() + seconds
        while len(times) < limit and time.perf_counter() < end:
            t0 = time.perf_counter()
            conn.request("POST", "/predict", body, headers)
            r = conn.getresponse()
            r.read()
            times.append(time.perf_counter() - t0)
            if r.status != 200:
                raise B.BenchError(f"/predict answered {r.status}")
    finally:
        conn.close()
    return times


def set_receiver(srv, url):
    status, doc = srv.post_json("/autoscaler/config", {"advanced": {
        "scaling_notifications_enabled": True, "external_metrics_webhook": url}})
    if status != 200:
        raise B.BenchError(f"setting the webhook: {status} {doc}")


def notifications(srv):
    _, doc = srv.get_json("/autoscaler/health")
    return doc["notifications"]


def run(args):
    B.require_binaries(B.INFERD)
    config = {"models": [{"name": "example", "backend": "example", "always_loaded": True}]}
    phases = []
    with B.Processes(NAME) as procs:
        srv = B.Inferd(procs, config)
        srv.wait_ready_replicas("example", 1)
        timed_predicts(srv, 0.5)  # warm the path
        events = Events(srv, args.event_pause)
        try:
            for name, make in [("none", None), ("ok", lambda: Receiver(204)),
                               ("failing", lambda: Receiver(500)), ("stuck", StuckReceiver)]:
                receiver = make() if make else None
                try:
                    set_receiver(srv, receiver.url() if receiver else None)
                    time.sleep(0.5)  # let deliveries (or their failures) get going
                    before = notifications(srv)
                    changes0 = events.changes
                    times = timed_predicts(srv, args.seconds)
                    after = notifications(srv)
                    phases.append({
                        "phase": name,
                        "requests": len(times),
                        "p50_ms": B.rnd(B.median(times) * 1e3, 4),
                        "p99_ms": B.rnd(B.percentile(times, 99) * 1e3, 4),
                        "max_ms": B.rnd(max(times) * 1e3, 3),
                        "events_during": events.changes - changes0,
                        "receiver_posts": receiver.posts() if receiver else 0,
                        "delivered": after["delivered"] - before["delivered"],
                        "failed_attempts": after["failed_attempts"] - before["failed_attempts"],
                        "dropped": (after["dropped_buffer_full"] + after["dropped_after_retries"]
                                    - before["dropped_buffer_full"]
                                    - before["dropped_after_retries"]),
                    })
                    B.log(f"{name}: {phases[-1]}")
                finally:
                    if receiver:
                        set_receiver(srv, None)
                        # Waiting events are dropped at the notifier's next
                        # attempt; each phase starts from an empty buffer.
                        B.wait_for(lambda: notifications(srv)["queued"] == 0, 15,
                                   "the notifier to let go of the events waiting")
                        receiver.close()
        finally:
            events.stop()
        if events.errors:
            raise B.BenchError(f"event stream failed: {events.errors[:3]}")
        srv.check_alive()
    ref = phases[0]
    for p in phases:
        p["p50_ratio"] = B.rnd(p["p50_ms"] / ref["p50_ms"], 3)
        p["p99_ratio"] = B.rnd(p["p99_ms"] / ref["p99_ms"], 3)
    passed = all(p["p50_ratio"] <= TARGET_RATIO for p in phases[1:])
    B.write_result(NAME, {
        "title": TITLE,
        "command": "bench/notify_isolation.py " + " ".join(sys.argv[1:]),
        "target": f"every phase's median /predict latency <= {TARGET_RATIO} x the reference's",
        "phases": phases, "passed": passed, "valid": True})
    return passed


if __name__ == "__main__":
    B.main_wrapper(NAME, TITLE, lambda: run(parse_args()))
