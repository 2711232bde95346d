#!/usr/bin/env python3
"""Spike reaction: closed-loop clients on the flite voice cmu_us_slt step
from 1 to 16; seconds from the step until the ready replicas reach the count
the load needs, and p99 latency over the first 30 s after the step, next to
the same load on a pool fixed at that count from the start.

    bench/spike_reaction.py [--before 10] [--after 40] [--clients 16]
                            [--repeats 1] [--no-cpu-reference] [--no-loads-variant]

Model: flite cmu_us_slt, replica_concurrency 2, target_concurrency 2,
max_replicas 8. The load needs ceil(16 / 2) = 8 replicas, and max_replicas 8
makes that reachable (CONFIG_REPLICAS_LIMIT is 10, so with the default
target_concurrency 1 the need, 16, could never be met). replica_concurrency 2
gives the pool at 8 replicas exactly 16 request slots, so "the count the load
needs" is the count at which nobody waits in the gateway's queue
(docs/configuration.md: target_concurrency at or below replica_concurrency).

Runs (each a fresh inferd, every autoscaler setting at its default: decision
interval 2 s, stable window 60 s, panic window 6 s, panic threshold 2,
scale-up cooldown 60 s, max_concurrent_model_loads 2):
  autoscaled   min_replicas 1, initial 1, max 8, autoscaler on;
  fixed        min = max = initial = 8, autoscaler off (the reference);
  fixed-cpu    min = max = initial = nproc (2 here), autoscaler off: what
               the machine's CPUs allow at all (skip with --no-cpu-reference);
  autoscaled-loads8  as autoscaled, but max_concurrent_model_loads 8 (not
               the default): a diagnostic showing how much of the reaction
               is that cap, not the headline (skip with --no-loads-variant).
The machine has 2 CPUs and the synthesis is CPU-bound and single-threaded
per worker: more than 2 busy replicas cannot synthesize faster, so the
latency figures of the 8-replica pool and the 2-replica pool are expected to
be close; the reaction time is what this benchmark is about.
Load, the same in every run: 1 client for --before s, then --clients
closed-loop clients (each one keep-alive connection, Accept: audio/wav, the
fixed sentence, no pause between requests) for --after s. A poller reads
GET /models/NAME every 100 ms (ready, starting and desired replicas) and
GET /autoscaler/stats once a second (panicking, last trigger); the scale
events come from inferd's log.

Figures: reaction = first poll at which ready replicas >= need, minus the
step; p50/p99 latency and throughput of the requests sent in the first 30 s
after the step. Target (issue 3): reaction <= 2 decision intervals + one load
time, the load time being the replica start_time_ms measured by inferd
(spawn to READY; median over the replicas started in the run).

Writes bench/results/spike_reaction.json. Exit 0: target met (every
autoscaled repeat); 1: missed; 2: could not run.
"""

import argparse
import datetime
import http.client
import json
import math
import os
import re
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

NAME = "spike_reaction"
TITLE = "Spike reaction: 1 -> 16 closed-loop clients on cmu_us_slt"
MODEL = "spike-slt"
VOICE = "cmu_us_slt"
TEXT = "The quick brown fox jumps over the lazy dog, and then it runs away."
TARGET_CONCURRENCY = 2
REPLICA_CONCURRENCY = 2
MAX_REPLICAS = 8
WINDOW_S = 30.0  # latency window after the step
POLL_S = 0.1


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=float, default=10.0, help="seconds at 1 client")
    ap.add_argument("--after", type=float, default=40.0, help="seconds at --clients clients")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=1, help="autoscaled runs")
    ap.add_argument("--no-cpu-reference", action="store_true",
                    help="skip the run with the pool fixed at nproc replicas")
    ap.add_argument("--no-loads-variant", action="store_true",
                    help="skip the diagnostic autoscaled run with max_concurrent_model_loads "
                         "raised to the need")
    a = ap.parse_args()
    if not (3 <= a.before <= 120 and WINDOW_S <= a.after <= 300 and 2 <= a.clients <= 64
            and 1 <= a.repeats <= 5):
        ap.error(f"before 3-120 s, after {WINDOW_S:g}-300 s, clients 2-64, repeats 1-5")
    return a


def need_for(clients):
    return min(MAX_REPLICAS, math.ceil(clients / TARGET_CONCURRENCY))


# ------------------------------------------------------------------- load

class Client(threading.Thread):
    """One closed-loop client: sends the next request when the last answered."""

    def __init__(self, port, start_at, stop_at, t0, out, errors):
        super().__init__(daemon=True)
        self.port, self.start_at, self.stop_at, self.t0 = port, start_at, stop_at, t0
        self.out, self.errors = out, errors

    def run(self):
        delay = self.start_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        body = json.dumps({"model_name": MODEL, "text": TEXT})
        conn = None
        while time.monotonic() < self.stop_at:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(B.HOST, self.port, timeout=60)
                t_send = time.monotonic()
                conn.request("POST", "/synthesize", body,
                             {"Content-Type": "application/json", "Accept": "audio/wav"})
                r = conn.getresponse()
                data = r.read()
                t_done = time.monotonic()
                if r.status != 200 or data[:4] != b"RIFF":
                    self.errors.append((t_send - self.t0, r.status, data[:200].decode("latin1")))
                    if r.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                    continue
                self.out.append((t_send - self.t0, (t_done - t_send) * 1000.0))
            except Exception as e:  # noqa: BLE001 - every failure is counted, none is fatal
                self.errors.append((time.monotonic() - self.t0, None, f"{type(e).__name__}: {e}"))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()


class Poller(threading.Thread):
    """GET /models/NAME every POLL_S, GET /autoscaler/stats every second."""

    def __init__(self, srv, t0, stop_at, autoscaled):
        super().__init__(daemon=True)
        self.srv, self.t0, self.stop_at, self.autoscaled = srv, t0, stop_at, autoscaled
        self.samples = []  # (t, ready, starting, desired)
        self.stats = []  # (t, current, target, panicking, trigger)
        self.replicas = {}  # id -> start_time_ms
        self.failures = 0

    def run(self):
        next_stats = 0.0
        while time.monotonic() < self.stop_at:
            tick = time.monotonic()
            try:
                m = self.srv.model(MODEL)
                reps = m["replicas"]
                ready = sum(1 for r in reps if r["state"] in ("ready", "busy"))
                starting = sum(1 for r in reps if r["state"] == "starting")
                self.samples.append((round(tick - self.t0, 3), ready, starting,
                                     m["desired_replicas"]))
                for r in reps:
                    if r.get("start_time_ms") is not None:
                        self.replicas[r["id"]] = r["start_time_ms"]
                if self.autoscaled and tick >= next_stats:
                    next_stats = tick + 1.0
                    _, st = self.srv.get_json("/autoscaler/stats")
                    pm = next(p for p in st["per_model"] if p["model"] == MODEL)
                    self.stats.append((round(tick - self.t0, 3), pm["current_scale"],
                                       pm["target_scale"], pm["panicking"], pm["last_trigger"],
                                       pm["last_reason"]))
            except Exception:  # noqa: BLE001 - a missed poll is counted, not fatal
                self.failures += 1
            time.sleep(max(0.0, POLL_S - (time.monotonic() - tick)))


LOG_RE = re.compile(r"^\w+\s+(\S+Z) autoscaler: (scale_up|scale_down|zero_scale) model=(\S+) "
                    r"from=(\d+) to=(\d+) trigger=(\S+)")


def scale_events(log_path, t0_unix):
    """The autoscaler's scale events from inferd's log, in seconds since t0."""
    out = []
    with open(log_path, errors="replace") as f:
        for line in f:
            m = LOG_RE.match(line)
            if not m or m.group(3) != MODEL:
                continue
            when = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            out.append({"t": round(when - t0_unix, 3), "type": m.group(2),
                        "from": int(m.group(4)), "to": int(m.group(5)), "trigger": m.group(6)})
    return out


def config_for(kind, replicas=None, loads=None):
    model = {"name": MODEL, "backend": "flite", "params": {"voice": VOICE},
             "replica_concurrency": REPLICA_CONCURRENCY, "target_concurrency": TARGET_CONCURRENCY,
             "max_queue_length": 1000, "cold_start_timeout_seconds": 60,
             "load_timeout_seconds": 30}
    if kind == "autoscaled":
        model.update(min_replicas=1, initial_replicas=1, max_replicas=MAX_REPLICAS)
        autoscaler = {"enabled": True}
        if loads:
            autoscaler["model_management"] = {"max_concurrent_model_loads": loads}
    else:
        model.update(min_replicas=replicas, initial_replicas=replicas, max_replicas=replicas)
        autoscaler = {"enabled": False}
    return {"server": {"port": 0, "shutdown_timeout_ms": 5000}, "autoscaler": autoscaler,
            "models": [model]}


def one_run(kind, a, replicas=None, loads=None, label=None):
    cfg = config_for(kind, replicas, loads)
    label = label or kind
    need = need_for(a.clients)
    with B.Processes(f"{NAME}-{label}") as procs:
        srv = B.Inferd(procs, cfg)
        initial = 1 if kind == "autoscaled" else replicas
        srv.wait_ready_replicas(MODEL, initial, 30)
        # One request so that the first timed one is not the replica's first.
        conn = srv.connect(30)
        conn.request("POST", "/synthesize", json.dumps({"model_name": MODEL, "text": TEXT}),
                     {"Content-Type": "application/json", "Accept": "audio/wav"})
        r = conn.getresponse()
        r.read()
        conn.close()
        if r.status != 200:
            raise B.BenchError(f"warm-up request answered {r.status}")
        load_before = B.loadavg()
        cpu_before = srv.cpu_seconds()
        t0 = time.monotonic()
        t0_unix = time.time() - (time.monotonic() - t0)
        step = t0 + a.before
        stop = step + a.after
        lat, errors = [], []
        clients = [Client(srv.port, t0 if i == 0 else step, stop, t0, lat, errors)
                   for i in range(a.clients)]
        poller = Poller(srv, t0, stop, kind == "autoscaled")
        B.log(f"{label}: 1 client for {a.before:g} s, then {a.clients} for {a.after:g} s")
        poller.start()
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=a.before + a.after + 90)
        poller.join(timeout=10)
        if any(c.is_alive() for c in clients):
            raise B.BenchError("a client did not finish within its bound")
        srv.check_alive()
        wall = time.monotonic() - t0
        cpu_after = srv.cpu_seconds()
        final = srv.model(MODEL)
        events = scale_events(srv.log_path, t0_unix)
        load_after = B.loadavg()

    step_rel = a.before
    in_window = [ms for (ts, ms) in lat if step_rel <= ts < step_rel + WINDOW_S]
    before = [ms for (ts, ms) in lat if ts < step_rel]
    reach = next((t for (t, ready, _s, _d) in poller.samples if t >= step_rel and ready >= need),
                 None)
    # Replicas started during the run (the autoscaled run's growth), else all.
    starts = [poller.replicas[k] for k in sorted(poller.replicas)]
    grown = starts[1:] if kind == "autoscaled" and len(starts) > 1 else starts
    gw_cpu = (cpu_after.get("gateway") or 0) - (cpu_before.get("gateway") or 0)
    workers_cpu = sum((v or 0) - (cpu_before.get(k) or 0) for k, v in cpu_after.items()
                      if k != "gateway")
    res = {
        "kind": label,
        "replicas_fixed": replicas,
        "max_concurrent_model_loads": loads or 2,
        "need": need,
        "reaction_s": B.rnd(reach - step_rel) if reach is not None and kind == "autoscaled"
        else None,
        # decision ticks fall at step + this + k x 2 s (from the events' times)
        "first_tick_after_step_s": next((B.rnd((e["t"] - step_rel) % 2.0) for e in events),
                                        None),
        "max_ready_after_step": max((r for (t, r, _s, _d) in poller.samples if t >= step_rel),
                                    default=None),
        "first_scale_up_s": next((B.rnd(e["t"] - step_rel) for e in events
                                  if e["type"] == "scale_up" and e["t"] >= step_rel), None),
        "scale_events": [dict(e, t=B.rnd(e["t"] - step_rel)) for e in events],
        "start_time_ms_median": B.rnd(B.median(grown)),
        "start_time_ms_max": B.rnd(max(grown)) if grown else None,
        "start_time_ms_all": [B.rnd(x) for x in starts],
        "window_requests": len(in_window),
        "window_p50_ms": B.rnd(B.percentile(in_window, 50)),
        "window_p99_ms": B.rnd(B.percentile(in_window, 99)),
        "window_max_ms": B.rnd(max(in_window)) if in_window else None,
        "window_throughput_rps": B.rnd(len(in_window) / WINDOW_S),
        "one_client_p50_ms": B.rnd(B.percentile(before, 50)),
        "errors": len(errors),
        "error_samples": [list(e) for e in errors[:5]],
        "poll_failures": poller.failures,
        "final_replicas": len(final["replicas"]),
        "requests": len(lat),
        "wall_s": B.rnd(wall),
        "cpu_s": {"gateway": B.rnd(gw_cpu), "workers_alive_at_end": B.rnd(workers_cpu)},
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        # (t since the step, ready, starting, desired) whenever one of them changed
        "timeline": [(B.rnd(t - step_rel), r, s, d) for i, (t, r, s, d) in
                     enumerate(poller.samples)
                     if i == 0 or poller.samples[i - 1][1:] != (r, s, d)],
        # (t since the step, current, target, panicking, last trigger, last reason)
        "stats_timeline": [(B.rnd(t - step_rel), c, tg, p, tr, rs) for i, (t, c, tg, p, tr, rs)
                           in enumerate(poller.stats)
                           if i == 0 or poller.stats[i - 1][1:] != (c, tg, p, tr, rs)],
        # per-second p99 after the step, to see the latency fall as replicas come
        "p99_by_5s": [B.rnd(B.percentile([ms for (ts, ms) in lat
                                          if step_rel + k <= ts < step_rel + k + 5], 99))
                      for k in range(0, int(a.after), 5)],
    }
    B.log(f"{label}: reaction {res['reaction_s']} s, window p99 {res['window_p99_ms']} ms, "
          f"{res['window_throughput_rps']} req/s, errors {res['errors']}, events "
          + ", ".join(f"{e['t']}s {e['from']}->{e['to']} {e['trigger']}"
                      for e in res["scale_events"]))
    return res


def run(a):
    B.require_binaries(B.INFERD)
    load_before = B.loadavg()
    decision_s, need = 2.0, need_for(a.clients)
    autos = [one_run("autoscaled", a) for _ in range(a.repeats)]
    loads_variant = None
    if not a.no_loads_variant:
        loads_variant = one_run("autoscaled", a, loads=need, label=f"autoscaled-loads{need}")
    fixed = one_run("fixed", a, need)
    cpu_ref = None
    ncpu = os.cpu_count() or 1
    if not a.no_cpu_reference and ncpu < need:
        cpu_ref = one_run("fixed", a, ncpu, label="fixed-cpu")
    load_after = B.loadavg()

    verdicts = []
    for r in autos:
        budget = 2 * decision_s + (r["start_time_ms_median"] or 0) / 1000.0
        r["budget_s"] = B.rnd(budget)
        r["passed"] = r["reaction_s"] is not None and r["reaction_s"] <= budget
        verdicts.append(r["passed"])
    if loads_variant:
        lv = loads_variant
        lv["budget_s"] = B.rnd(2 * decision_s + (lv["start_time_ms_median"] or 0) / 1000.0)
        lv["passed"] = lv["reaction_s"] is not None and lv["reaction_s"] <= lv["budget_s"]
    valid = all(r["errors"] == 0 for r in autos + [fixed] + [x for x in (cpu_ref, loads_variant)
                                                             if x])
    passed = all(verdicts)
    reactions = [r["reaction_s"] for r in autos if r["reaction_s"] is not None]
    head = autos[0] if len(autos) == 1 else sorted(
        autos, key=lambda r: (r["reaction_s"] is None, r["reaction_s"] or 0))[len(autos) // 2]
    result = {
        "title": TITLE,
        "command": "bench/spike_reaction.py " + " ".join(sys.argv[1:]),
        "settings": {"text": TEXT, "voice": VOICE, "clients_before": 1,
                     "clients_after": a.clients, "before_s": a.before, "after_s": a.after,
                     "latency_window_s": WINDOW_S, "poll_interval_s": POLL_S,
                     "target_concurrency": TARGET_CONCURRENCY,
                     "replica_concurrency": REPLICA_CONCURRENCY,
                     "max_replicas": MAX_REPLICAS, "need": need, "repeats": a.repeats,
                     "decision_interval_s": decision_s, "stable_window_s": 60,
                     "panic_window_s": 6, "panic_threshold": 2, "scale_up_cooldown_s": 60,
                     "max_concurrent_model_loads": 2, "nproc": ncpu,
                     "config_autoscaled": config_for("autoscaled"),
                     "config_fixed": config_for("fixed", need)},
        "figures": {"autoscaled": autos, "fixed": fixed, "fixed_cpu": cpu_ref,
                    "autoscaled_more_loads": loads_variant,
                    "headline_repeat": autos.index(head),
                    "reaction_s_all": reactions},
        "reference": f"the same load on a pool fixed at {need} replicas from the start "
                     "(autoscaler off), same script",
        "ratio": B.rnd(head["window_p99_ms"] / fixed["window_p99_ms"])
        if head["window_p99_ms"] and fixed["window_p99_ms"] else None,
        "ratio_definition": "p99 (first 30 s after the step) autoscaled / fixed",
        "target": "reaction <= 2 x decision interval (2 s) + one load time "
                  "(median replica start_time_ms measured by inferd)",
        "passed": passed,
        "valid": valid,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    B.write_result(NAME, result)
    return passed and valid


if __name__ == "__main__":
    B.main_wrapper(NAME, TITLE, lambda: run(parse_args()))
