#!/usr/bin/env python3
"""Live trace replay: `inferd loadtest` replays the Azure LLM trace,
time-compressed and thinned to fit the machine, against `inferd serve` with
one flite voice under the `reactive` strategy and under `hybrid`; and the
same trace, scaled the same way, through `inferd simulate` for comparison.

    bench/live_trace.py [--trace PATH] [--time-scale 15] [--rate-scale 0.4]
                        [--seed 1] [--duration S]

Trace: the Azure LLM inference trace 2023 (conversation, one hour, 19,366
rows; Azure Public Dataset, CC-BY; Patel et al., "Splitwise: Efficient
generative LLM inference using phase splitting", ISCA 2024), read in place
from ../shared/traces/ beside the repository (or --trace), never copied.

Scaling, and why. The machine has 2 CPUs; one flite replica synthesizing
the loadtest's default sentence "Hello from the inferd load test." is
single-threaded and takes about 29 ms per request here when the machine is
quiet (measured at the start of every run, below; a longer sentence takes
50 ms or more), so one replica serves about 35 requests/s and the 2 CPUs
about 70. `--time-scale 15` plays the hour in 3.9 minutes (15 trace seconds
per second) and `--rate-scale 0.4` keeps each row with probability 0.4
(seeded, so both strategies get the same arrivals): with seed 1, 7,906
requests, 34 requests/s on average, 47 in the busiest tenth of the seconds
and 63 at most in one second, i.e. a mean of about half of what the 2 CPUs
can serve, with the trace's busy minutes well above one replica's capacity.
(The full hour in a minute, --time-scale 60, is about 320 requests/s: most
of it is refused; --rate-scale 0.2 at --time-scale 15 would be 16/s, a
quarter of the machine, and rarely above one replica.) The run records the
offered rate and that utilisation, so a change of the service time on this
machine shows.

Server, a fresh `inferd serve` (its own data directory, so no stored
traffic history) per strategy: one model `tts-flite-slt`, backend flite,
voice cmu_us_slt, min_replicas 0, initial_replicas 0 (it starts at zero, as
the simulator's pool does, so the first request is a cold start),
max_replicas 4; autoscaler `scaling_strategy` reactive in one run and
hybrid in the other, every other setting at its default except, in both
runs alike, the scale-down gate shortened so that a scale-down can happen
within a 4-minute run: scale_down_threshold.idle_time_minutes 0.5 (default
5) and cooldowns.scale_down_cooldown_seconds 30 (default 300). The
zero-scale windows stay at their defaults: the compressed trace never
pauses for a minute, and the load test ends with its last answer.

Calibration, on its own fresh server before the runs: one cold request,
then 50 sequential warm requests of the same body the load test sends
(JSON answer); warm median latency (client clock) = the simulator's
--service-ms, spawn -> READY of the replica (GET /models start_time_ms) =
its --load-ms.

Load: `build/inferd loadtest --trace T --time-scale X --rate-scale Y
--path /synthesize --model tts-flite-slt --text TEXT --seed N`. Its
loadtest.svg is copied to bench/results/live_trace_<strategy>.svg;
requests.csv and samples.csv are summarised: requests, 2xx share, errors
by status, p50/p95/p99 of 2xx answers, SLO misses (slower than 4 x the
measured service time, or not 2xx), mean and peak ready replicas,
replica-seconds = the sum over the one-second samples of ready + starting
replicas; cold starts and scale events from GET /models and
GET /autoscaler/history after the run; and, from GET /autoscaler/stats
read once a second, the seconds in which the policy's latest decision had
each trigger (panic, concurrency, predicted_load, keep_alive, ...), the
latest reason given for each, and the replicas' mean CPU (what the
scale-down gate reads; the simulator has no such figure). CPU
during each replay (/proc): the machine's busy CPU-seconds, inferd's
(gateway and workers), the load test's, and the rest: other work on the
shared machine, which the comparison cannot control and so reports.

Simulation: `inferd simulate` on the same trace with --time-scale X (both
commands play the trace X times faster),
--rate-scale Y, --policy reactive,hybrid, the measured service and load
times, --max-replicas 4, --min-replicas 0, --tail-seconds 0 (the live run
ends with its last answer) and --autoscaler-config with the same partial
configuration as the server. The simulator thins with its own random
stream, so it replays a different 40 % of the rows (the same shape).

Reference (same run): reactive is the reference for hybrid. Target, an
honest modest one: hybrid's live p99 <= 1.10 x reactive's and its
replica-seconds <= 1.25 x reactive's. A run is valid when both replays
completed with at most 5 % of the requests answered with an error; a run
cut short with --duration (a trial) is never valid.

Writes bench/results/live_trace.json and the two SVGs. Exit 0: target met;
1: missed (or invalid run); 2: could not run.
"""

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

NAME = "live_trace"
TITLE = "Live trace replay: the Azure trace against inferd, reactive and hybrid, and in simulation"
MODEL = "tts-flite-slt"
VOICE = "cmu_us_slt"
TEXT = "Hello from the inferd load test."
STRATEGIES = ("reactive", "hybrid")
MAX_REPLICAS = 4
ATTRIBUTION = ("Azure LLM inference trace 2023 (Azure Public Dataset, CC-BY); Patel et al., "
               "'Splitwise: Efficient generative LLM inference using phase splitting', ISCA 2024")
# The same partial autoscaler configuration for both runs and the simulator
# (scaling_strategy is added per run; the simulator sets it per policy).
AUTOSCALER = {"scale_down_threshold": {"idle_time_minutes": 0.5},
              "cooldowns": {"scale_down_cooldown_seconds": 30}}
TARGET_P99 = 1.10
TARGET_RS = 1.25
MAX_ERROR_SHARE = 0.05
CALIBRATION_REQUESTS = 50
SLO_FACTOR = 4


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trace", default=os.path.join(B.ROOT, "..", "shared", "traces",
                                                    "azure-llm-conv-2023.csv"))
    ap.add_argument("--time-scale", type=float, default=15.0,
                    help="loadtest --time-scale: trace seconds per second")
    ap.add_argument("--rate-scale", type=float, default=0.4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=None,
                    help="cut each replay after S seconds (a trial: the run is not valid)")
    a = ap.parse_args()
    if not (1 <= a.time_scale <= 120 and 0.01 <= a.rate_scale <= 2):
        ap.error("time-scale 1-120, rate-scale 0.01-2")
    if a.duration is not None and not 5 <= a.duration <= 3600:
        ap.error("duration 5-3600")
    return a


def rel(path):
    """A file's path relative to the repository (other arguments as they are)."""
    return os.path.relpath(path, B.ROOT) if os.path.isabs(path) and os.path.exists(path) \
        else path


def server_config(strategy):
    auto = json.loads(json.dumps(AUTOSCALER))
    auto["scaling_strategy"] = strategy
    return {"autoscaler": auto,
            "models": [{"name": MODEL, "backend": "flite", "params": {"voice": VOICE},
                        "min_replicas": 0, "initial_replicas": 0,
                        "max_replicas": MAX_REPLICAS}]}


# ------------------------------------------------------------- calibration

def calibrate():
    """Warm service time and load time of the text, on a fresh server."""
    body = json.dumps({"model_name": MODEL, "text": TEXT})
    headers = {"Content-Type": "application/json"}
    with B.Processes(f"{NAME}-calibrate") as procs:
        srv = B.Inferd(procs, server_config("reactive"))
        conn = srv.connect(60)
        times, processing = [], []
        cold_ms = None
        try:
            for i in range(CALIBRATION_REQUESTS + 6):
                t0 = time.perf_counter()
                conn.request("POST", "/synthesize", body, headers)
                r = conn.getresponse()
                doc = json.loads(r.read())
                ms = (time.perf_counter() - t0) * 1e3
                if r.status != 200:
                    raise B.BenchError(f"calibration: /synthesize answered {r.status} {doc}")
                if i == 0:
                    if not doc["model_info"]["cold_start"]:
                        raise B.BenchError("calibration: the first request was not a cold start")
                    cold_ms = ms
                elif i > 5:
                    times.append(ms)
                    processing.append(doc["processing_time_ms"])
        finally:
            conn.close()
        reps = srv.model(MODEL)["replicas"]
        srv.check_alive()
    if len(reps) != 1:
        raise B.BenchError(f"calibration: expected one replica, found {len(reps)}")
    warm = B.median(times)
    return {"requests": len(times), "warm_median_ms": B.rnd(warm, 3),
            "warm_p90_ms": B.rnd(B.percentile(times, 90), 3),
            "processing_median_ms": B.rnd(B.median(processing), 3),
            "cold_first_request_ms": B.rnd(cold_ms, 3),
            "cold_extra_ms": B.rnd(cold_ms - warm, 3),
            "spawn_to_ready_ms": B.rnd(reps[0]["start_time_ms"], 3),
            "backend_load_ms": B.rnd(reps[0]["load_time_ms"], 4)}


# ----------------------------------------------------------------- the runs

def loadtest_argv(args, port, out):
    argv = [B.INFERD, "loadtest", "--trace", args.trace, "--time-scale", f"{args.time_scale:g}",
            "--rate-scale", f"{args.rate_scale:g}", "--target", f"http://{B.HOST}:{port}",
            "--path", "/synthesize", "--model", MODEL, "--text", TEXT,
            "--seed", str(args.seed), "--out", out]
    if args.duration:
        argv += ["--duration", f"{args.duration:g}"]
    return argv


def shown_command(argv):
    """The command as recorded: paths relative to the repository, no port or tmp dir."""
    out, skip = [], None
    for i, a in enumerate(argv):
        if skip == i:
            continue
        if a == "--target":
            out += [a, f"http://{B.HOST}:PORT"]
            skip = i + 1
        elif a == "--out":
            out += [a, "OUT"]
            skip = i + 1
        elif a == "--text":
            out += [a, json.dumps(argv[i + 1])]
            skip = i + 1
        else:
            out.append(rel(a))
    return " ".join(out)


def copy_svg(src, dst, caption):
    """Copies loadtest's figure, with two more lines at the bottom (caption:
    a list of them) naming the strategy and the trace's source, since the
    figure is also viewed on its own."""
    with open(src) as f:
        text = f.read()
    m = re.search(r'<svg [^>]*height="(\d+)" viewBox="0 0 (\d+) (\d+)"', text)
    rect = re.search(r'<rect width="(\d+)" height="(\d+)" fill="#ffffff"/>', text)
    if m and rect and text.rstrip().endswith("</svg>"):
        h = int(m.group(1))
        h2 = h + 36
        head = m.group(0).replace(f'height="{h}"', f'height="{h2}"').replace(
            f'viewBox="0 0 {m.group(2)} {m.group(3)}"', f'viewBox="0 0 {m.group(2)} {h2}"')
        text = text.replace(m.group(0), head, 1)
        text = text.replace(rect.group(0), f'<rect width="{rect.group(1)}" height="{h2}" '
                            'fill="#ffffff"/>', 1)
        lines = ""
        for k, part in enumerate(caption):
            esc = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            lines += f'<text x="10" y="{h + 14 + 16 * k}" font-size="11">{esc}</text>\n'
        text = text.rstrip()[:-len("</svg>")] + lines + "</svg>\n"
    else:
        B.log(f"{rel(src)}: unexpected SVG header; copied without a caption")
    with open(dst + ".part", "w") as f:
        f.write(text)
    os.replace(dst + ".part", dst)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(x):
    return float(x) if x not in (None, "") else None


def summarise(out_dir, slo_ms, nproc, service_ms):
    reqs = read_csv(os.path.join(out_dir, "requests.csv"))
    samples = read_csv(os.path.join(out_dir, "samples.csv"))
    if not reqs:
        raise B.BenchError(f"loadtest wrote no requests ({out_dir}/requests.csv)")
    n = len(reqs)
    is_ok = [r["status"].isdigit() and 200 <= int(r["status"]) <= 299 for r in reqs]
    ok = [r for r, good in zip(reqs, is_ok) if good]
    lat = [float(r["latency_ms"]) for r in ok]
    errors = {}
    for r, good in zip(reqs, is_ok):
        if good:
            continue
        key = f"status {r['status']}" if r["status"] not in ("", "0") else (r["error"] or "unknown")
        errors[key] = errors.get(key, 0) + 1
    slo_miss = sum(1 for x in lat if x > slo_ms) + (n - len(ok))
    sched = [float(r["scheduled_at"]) for r in reqs]
    span = max(sched) - min(sched) if sched else 0
    per_second = {}
    for t in sched:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    rates = sorted(per_second.get(s, 0) for s in range(int(span) + 1))
    mean_rate = n / span if span else None
    ready_col = f"ready_{MODEL}"
    start_col = f"starting_{MODEL}"
    ready, total, cpu = [], [], []
    missing = 0
    for s in samples:
        rd, st = num(s.get(ready_col)), num(s.get(start_col))
        if rd is None or st is None:
            missing += 1
            continue
        ready.append(rd)
        total.append(rd + st)
        if num(s.get("cpu_percent")) is not None:
            cpu.append(num(s["cpu_percent"]))
    if not total:
        raise B.BenchError(f"loadtest took no replica samples ({out_dir}/samples.csv)")
    return {
        "requests": n,
        "ok": len(ok),
        "ok_share": B.rnd(len(ok) / n, 5),
        "error_share": B.rnd((n - len(ok)) / n, 5),
        "errors_by_status": errors,
        "p50_ms": B.rnd(B.percentile(lat, 50), 3),
        "p95_ms": B.rnd(B.percentile(lat, 95), 3),
        "p99_ms": B.rnd(B.percentile(lat, 99), 3),
        "max_ms": B.rnd(max(lat), 3) if lat else None,
        "slo_ms": B.rnd(slo_ms, 3),
        "slo_misses": slo_miss,
        "slo_miss_share": B.rnd(slo_miss / n, 5),
        "offered": {"span_s": B.rnd(span, 2), "mean_rps": B.rnd(mean_rate, 2),
                    "p90_1s_rps": B.percentile(rates, 90), "peak_1s_rps": rates[-1],
                    "mean_cpu_need_of_all_cpus": B.rnd(mean_rate * service_ms / 1000 / nproc, 3)
                    if mean_rate else None,
                    "one_replica_rps": B.rnd(1000 / service_ms, 1)},
        "samples": len(samples),
        "samples_missing": missing,
        "mean_ready_replicas": B.rnd(sum(ready) / len(ready), 3),
        "peak_ready_replicas": int(max(ready)),
        "peak_replicas": int(max(total)),
        "replica_seconds": B.rnd(sum(total), 1),
        "mean_system_cpu_percent": B.rnd(sum(cpu) / len(cpu), 1) if cpu else None,
        "peak_system_cpu_percent": B.rnd(max(cpu), 1) if cpu else None,
    }


def machine_busy_seconds():
    """CPU seconds the whole machine has spent busy (all CPUs, /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (sum(fields[:8]) - fields[3] - fields[4]) / B.CLK_TCK


def server_cpu_seconds(pid):
    """CPU seconds of inferd and its workers: the gateway's own, those of the
    workers it has reaped (cutime, cstime) and those of the live ones."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in fields[11:15]) / B.CLK_TCK
    except (OSError, IndexError, ValueError):
        return None
    for kid in B.child_pids(pid):
        total += B.proc_cpu_seconds(kid) or 0
    return total


class TriggerPoller:
    """Reads GET /autoscaler/stats once a second during a replay and counts
    the seconds in which the model's latest decision had each trigger (the
    decision is shown even when a cooldown or an unsettled pool held it back,
    so this shows what the policy wanted, not only what was applied)."""

    def __init__(self, srv):
        self.srv, self.counts, self.panicking, self.errors = srv, {}, 0, 0
        self.reasons, self.cpu = {}, []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_flag.wait(1.0):
            try:
                status, doc = self.srv.get_json("/autoscaler/stats")
            except (OSError, ValueError):
                self.errors += 1
                continue
            for m in doc.get("per_model", []) if status == 200 else []:
                if m.get("model") == MODEL:
                    t = m.get("last_trigger") or "none"
                    self.counts[t] = self.counts.get(t, 0) + 1
                    self.panicking += bool(m.get("panicking"))
                    self.reasons[t] = m.get("last_reason") or ""
                    if isinstance(m.get("replica_cpu_percent"), (int, float)):
                        self.cpu.append(m["replica_cpu_percent"])

    def stop(self):
        self.stop_flag.set()
        self.thread.join(15)
        return {"seconds_by_trigger": dict(sorted(self.counts.items())),
                "seconds_panicking": self.panicking, "poll_errors": self.errors,
                "last_reason_by_trigger": dict(sorted(self.reasons.items())),
                "replica_cpu_percent_mean": B.rnd(sum(self.cpu) / len(self.cpu), 1)
                if self.cpu else None,
                "replica_cpu_percent_median": B.rnd(B.median(self.cpu), 1)}


def live_run(args, strategy, cal, slo_ms):
    with B.Processes(f"{NAME}-{strategy}") as procs:
        srv = B.Inferd(procs, server_config(strategy))
        status, cfg = srv.get_json("/autoscaler/config")
        got = cfg.get("configuration", {}).get("scaling_strategy")
        if status != 200 or got != strategy:
            raise B.BenchError(f"GET /autoscaler/config: {status}, strategy {got!r}, "
                               f"not {strategy!r}")
        out = os.path.join(procs.tmp, "loadtest")
        argv = loadtest_argv(args, srv.port, out)
        load_before = B.loadavg()
        busy0, server0 = machine_busy_seconds(), server_cpu_seconds(srv.proc.pid)
        kids0, wall0 = B.children_cpu_seconds(), time.monotonic()
        log_path = os.path.join(procs.tmp, "loadtest.log")
        with open(log_path, "wb") as log_file:
            p = procs.start(argv, f"loadtest ({strategy})", stdout=log_file, stderr=log_file,
                            stop_signal=signal.SIGINT, grace=40.0)
            poller = TriggerPoller(srv)
            limit = (args.duration or 3600 / args.time_scale) + 120
            try:
                rc = p.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                raise B.BenchError(f"loadtest ({strategy}) still running after {limit:.0f} s")
            finally:
                decisions = poller.stop()
        load_after = B.loadavg()
        wall = time.monotonic() - wall0
        busy = machine_busy_seconds() - busy0
        server = server_cpu_seconds(srv.proc.pid) - server0
        loadgen = B.children_cpu_seconds() - kids0  # the load test, reaped just now
        cpu = {"wall_s": B.rnd(wall, 2), "machine_busy_cpu_s": B.rnd(busy, 1),
               "server_cpu_s": B.rnd(server, 1), "loadtest_cpu_s": B.rnd(loadgen, 1),
               "other_cpu_s": B.rnd(busy - server - loadgen, 1),
               "other_share_of_machine": B.rnd((busy - server - loadgen)
                                               / (wall * (os.cpu_count() or 1)), 3)}
        with open(log_path, errors="replace") as f:
            printed = f.read()
        if rc != 0:
            raise B.BenchError(f"loadtest ({strategy}) exited {rc}: {printed.strip()[-2000:]}")
        srv.check_alive()
        model = srv.model(MODEL)
        _, hist = srv.get_json("/autoscaler/history?hours=1&limit=1000")
        fig = summarise(out, slo_ms, os.cpu_count() or 1, cal["warm_median_ms"])
        summary = hist.get("summary", {})
        fig.update({
            "strategy": strategy,
            "cold_starts": model["cold_starts"],
            "requests_accepted": model["requests_accepted"],
            "scale_events": {k: summary.get(k) for k in
                             ("scale_up_events", "scale_down_events", "zero_scale_events",
                              "cold_start_events", "failed_events")},
            "triggers": sorted({e.get("trigger") for e in hist.get("events", [])
                                if e.get("trigger")}),
            "decisions": decisions,
            "scale_down_threshold": cfg["configuration"].get("scale_down_threshold"),
            "cpu": cpu,
            "loadavg_before": load_before, "loadavg_after": load_after,
            "loadtest_printed": printed.strip().splitlines()[:2],
        })
        svg = os.path.join(B.RESULTS_DIR, f"{NAME}_{strategy}.svg")
        os.makedirs(B.RESULTS_DIR, exist_ok=True)
        copy_svg(os.path.join(out, "loadtest.svg"), svg,
                 [f"inferd serve, scaling_strategy {strategy}; flite {VOICE}, "
                  f"max_replicas {MAX_REPLICAS}, on {os.cpu_count()} CPUs.",
                  f"Trace: {ATTRIBUTION}."])
        fig["svg"] = rel(svg)
        B.log(f"{strategy}: {fig['requests']} requests, {fig['ok_share'] * 100:.2f} % 2xx, "
              f"p99 {fig['p99_ms']} ms, replica-seconds {fig['replica_seconds']}, "
              f"peak {fig['peak_replicas']}")
        return fig, shown_command(argv)


def simulate(args, cal, slo_ms):
    argv = [B.INFERD, "simulate", "--trace", args.trace,
            "--time-scale", f"{args.time_scale:g}", "--rate-scale", f"{args.rate_scale:g}",
            "--policy", ",".join(STRATEGIES), "--format", "json",
            "--service-ms", f"{cal['warm_median_ms']:g}",
            "--load-ms", f"{cal['spawn_to_ready_ms']:g}", "--concurrency", "1",
            "--min-replicas", "0", "--max-replicas", str(MAX_REPLICAS),
            "--slo-ms", f"{slo_ms:.3f}", "--tail-seconds", "0", "--seed", str(args.seed),
            "--autoscaler-config", json.dumps(AUTOSCALER, separators=(",", ":"))]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise B.BenchError(f"inferd simulate exited {p.returncode}: {p.stderr.strip()}")
    rows = {r["policy"]: r for r in json.loads(p.stdout)}
    cmd = []
    for a in argv:
        cmd.append(f"'{a}'" if a.startswith("{") else rel(a))
    return rows, " ".join(cmd)


def ratio(a, b):
    return B.rnd(a / b, 3) if a is not None and b else None


def run(args):
    B.require_binaries(B.INFERD)
    if not os.path.exists(args.trace):
        raise B.BenchError(f"the Azure trace is not at {args.trace} (give --trace)")
    B.log("calibrating the service and load times of the text")
    cal = calibrate()
    B.log(f"calibration: {cal}")
    slo_ms = SLO_FACTOR * cal["warm_median_ms"]
    live, commands = {}, {}
    for strategy in STRATEGIES:
        live[strategy], commands[strategy] = live_run(args, strategy, cal, slo_ms)
    sim, sim_cmd = simulate(args, cal, slo_ms)
    for s in STRATEGIES:
        r = sim[s]
        r["mean_replicas"] = B.rnd(r["replica_seconds"] / r["simulated_seconds"], 3) \
            if r["simulated_seconds"] else None
    ref, hyb = live["reactive"], live["hybrid"]
    ratios = {
        "live": {"p99": ratio(hyb["p99_ms"], ref["p99_ms"]),
                 "replica_seconds": ratio(hyb["replica_seconds"], ref["replica_seconds"])},
        "simulated": {"p99": ratio(sim["hybrid"]["p99_ms"], sim["reactive"]["p99_ms"]),
                      "replica_seconds": ratio(sim["hybrid"]["replica_seconds"],
                                               sim["reactive"]["replica_seconds"])},
    }
    sim_vs_live = {s: {k: ratio(sim[s][k], live[s][k]) for k in
                       ("p50_ms", "p95_ms", "p99_ms", "replica_seconds", "peak_replicas")}
                   for s in STRATEGIES}
    valid = (args.duration is None
             and all(live[s]["error_share"] <= MAX_ERROR_SHARE for s in STRATEGIES))
    met = (ratios["live"]["p99"] is not None and ratios["live"]["p99"] <= TARGET_P99
           and ratios["live"]["replica_seconds"] is not None
           and ratios["live"]["replica_seconds"] <= TARGET_RS)
    passed = valid and met
    B.write_result(NAME, {
        "title": TITLE,
        "command": "bench/live_trace.py " + " ".join(rel(a) for a in sys.argv[1:]),
        "target": f"hybrid's live p99 <= {TARGET_P99} x reactive's and its replica-seconds "
                  f"<= {TARGET_RS} x reactive's (valid run: both replays complete, at most "
                  f"{MAX_ERROR_SHARE * 100:g} % errors each)",
        "trace": {"file": rel(os.path.abspath(args.trace)), "attribution": ATTRIBUTION},
        "settings": {"time_scale": args.time_scale, "rate_scale": args.rate_scale,
                     "seed": args.seed, "duration": args.duration, "text": TEXT,
                     "model": MODEL, "voice": VOICE, "min_replicas": 0, "initial_replicas": 0,
                     "max_replicas": MAX_REPLICAS, "autoscaler_config": AUTOSCALER,
                     "slo_ms": B.rnd(slo_ms, 3), "slo": f"{SLO_FACTOR} x warm median",
                     "nproc": os.cpu_count()},
        "calibration": cal,
        "live": live, "loadtest_commands": commands,
        "simulated": {"command": sim_cmd, **{s: sim[s] for s in STRATEGIES}},
        "ratios_hybrid_over_reactive": ratios,
        "simulated_over_live": sim_vs_live,
        "target_met": met, "passed": passed, "valid": valid})
    return passed


if __name__ == "__main__":
    B.main_wrapper(NAME, TITLE, lambda: run(parse_args()))
