#!/usr/bin/env python3
"""Cold start: latency of the first request to a model at zero replicas,
minus its warm latency (median of warm requests in the same run), next to
the model's in-process load time measured by bench_synth_inproc.

    bench/cold_start.py [--repeats 15] [--warm 10] [--models flite,espeak]

For each model (flite cmu_us_slt; eSpeak NG `en`), with min_replicas 0 and
max_replicas 1, on one keep-alive connection (Accept: audio/wav, a fixed
sentence):
  1. warm requests: one to bring a replica up, then --warm timed requests;
  2. --repeats times: POST /models/NAME/replicas {"replicas": 0}, wait until
     GET /models/NAME lists no replica, pause 0.2 s, send ONE timed request
     (it must answer X-Inferd-Cold-Start: true), read the replica's
     start_time_ms (spawn to READY, timed by the gateway) and load_time_ms
     (timed inside the worker), then send 3 more warm requests (timed, added
     to the warm set, so warm and cold are measured in the same conditions).
  cold_extra = cold latency - median warm latency, per repeat.

In-process reference, in the same run: bench_synth_inproc --runs 1, run
--repeats times (each a fresh process: load_ms is the load a fresh process
pays; its single synthesis is the first one in that process), and once with
--runs 20 for the in-process warm synthesis time.

Target (per model): median cold_extra <= median in-process load_ms + 10 ms.
The max is reported next to it. Also reported, to explain the figures: the
cost of starting the inferd binary at all (`inferd --version`, timed over
--repeats runs) next to that of /bin/true.

Writes bench/results/cold_start.json. Exit 0: target met for every model;
1: missed for one or more; 2: could not run.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

NAME = "cold_start"
TITLE = "Cold start: first request at zero replicas minus warm latency"
SLACK_MS = 10.0
TEXT = "The quick brown fox jumps over the lazy dog."
MODELS = {
    "flite": {"name": "cs-flite-slt", "backend": "flite", "params": {"voice": "cmu_us_slt"},
              "label": "flite cmu_us_slt"},
    "espeak": {"name": "cs-espeak-en", "backend": "espeak", "params": {"voice": "en"},
               "label": "eSpeak NG en"},
}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--warm", type=int, default=10)
    ap.add_argument("--models", default="flite,espeak")
    a = ap.parse_args()
    a.models = [m.strip() for m in a.models.split(",") if m.strip()]
    if not (1 <= a.repeats <= 50 and 1 <= a.warm <= 200 and a.models
            and all(m in MODELS for m in a.models)):
        ap.error(f"repeats 1-50, warm 1-200, models a subset of {','.join(MODELS)}")
    return a


def synthesize(conn, model):
    body = json.dumps({"model_name": model, "text": TEXT})
    t0 = time.perf_counter()
    conn.request("POST", "/synthesize", body,
                 {"Content-Type": "application/json", "Accept": "audio/wav"})
    r = conn.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t0) * 1000
    if r.status != 200 or data[:4] != b"RIFF":
        raise B.BenchError(f"POST /synthesize {model}: {r.status} {data[:300]!r}")
    proc = r.getheader("X-Inferd-Processing-Ms")
    return ms, r.getheader("X-Inferd-Cold-Start"), float(proc) if proc else None


def time_exec(argv, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def shared_libraries(path):
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sum(1 for line in out.splitlines() if "=>" in line) or None


def measure_model(srv, spec, a):
    name = spec["name"]
    conn = srv.connect(60)
    synthesize(conn, name)  # brings the first replica up
    warm, warm_proc, cold_proc = [], [], []
    for _ in range(a.warm):
        ms, cold, proc = synthesize(conn, name)
        if cold != "false":
            raise B.BenchError(f"{name}: warm request reported cold start {cold}")
        warm.append(ms)
        warm_proc.append(proc)
    colds, starts, loads, after_cold = [], [], [], []
    for i in range(a.repeats):
        srv.set_replicas(name, 0)
        B.wait_for(lambda: not srv.model(name)["replicas"], 20, f"{name} to reach 0 replicas")
        time.sleep(0.2)
        ms, cold, proc = synthesize(conn, name)
        if cold != "true":
            raise B.BenchError(f"{name}: request at zero replicas answered with "
                               f"X-Inferd-Cold-Start {cold}")
        colds.append(ms)
        cold_proc.append(proc)
        reps = srv.model(name)["replicas"]
        if reps:
            starts.append(reps[0]["start_time_ms"])
            loads.append(reps[0]["load_time_ms"])
        for j in range(3):
            wms, wcold, wproc = synthesize(conn, name)
            if wcold != "false":
                raise B.BenchError(f"{name}: warm request reported cold start {wcold}")
            warm.append(wms)
            warm_proc.append(wproc)
            if j == 0:
                after_cold.append(wms)
        B.log(f"  {name} repeat {i + 1}/{a.repeats}: cold {ms:.2f} ms, "
              f"spawn-to-READY {starts[-1] if starts else None} ms")
        srv.check_alive()
    conn.close()
    return {"cold_ms": colds, "warm_ms": warm, "start_time_ms": starts, "load_time_ms": loads,
            "first_warm_after_cold_ms": after_cold,
            "cold_processing_ms": [x for x in cold_proc if x is not None],
            "warm_processing_ms": [x for x in warm_proc if x is not None]}


def run(a):
    B.require_binaries(B.INFERD, B.SYNTH_INPROC)
    load_before = B.loadavg()
    specs = [MODELS[m] for m in a.models]
    config = {
        "server": {"port": 0, "shutdown_timeout_ms": 5000},
        "models": [{"name": s["name"], "backend": s["backend"], "params": s["params"],
                    "min_replicas": 0, "max_replicas": 1, "cold_start_timeout_seconds": 30,
                    "load_timeout_seconds": 30} for s in specs],
    }
    # Process start of the binary the workers run, and of the smallest program.
    exec_inferd = time_exec([B.INFERD, "--version"], a.repeats)
    exec_true = time_exec(["/bin/true"], a.repeats)
    with B.Processes(NAME) as procs:
        srv = B.Inferd(procs, config)
        served = {}
        for s in specs:
            B.log(f"{s['label']}: warm requests, then {a.repeats} cold starts")
            served[s["backend"]] = measure_model(srv, s, a)
    inproc = {}
    for s in specs:
        B.log(f"{s['label']}: in-process reference")
        firsts = [B.synth_inproc(s["backend"], s["params"], TEXT, 1) for _ in range(a.repeats)]
        warm = B.synth_inproc(s["backend"], s["params"], TEXT, 20)
        inproc[s["backend"]] = {"load_ms": [f["load_ms"] for f in firsts],
                                "first_synthesis_ms": [f["median_ms"] for f in firsts],
                                "warm_median_ms": warm["median_ms"]}
    load_after = B.loadavg()

    models, all_passed = [], True
    for s in specs:
        sv, ip = served[s["backend"]], inproc[s["backend"]]
        warm_med = B.median(sv["warm_ms"])
        extra = [c - warm_med for c in sv["cold_ms"]]
        load_med = B.median(ip["load_ms"])
        budget = load_med + SLACK_MS
        passed = B.median(extra) <= budget
        all_passed &= passed
        models.append({
            "model": s["label"], "backend": s["backend"], "params": s["params"],
            "cold_ms_median": B.rnd(B.median(sv["cold_ms"])),
            "warm_ms_median": B.rnd(warm_med),
            "cold_extra_ms_median": B.rnd(B.median(extra)),
            "cold_extra_ms_max": B.rnd(max(extra)),
            "inproc_load_ms_median": B.rnd(load_med),
            "inproc_load_ms_max": B.rnd(max(ip["load_ms"])),
            "budget_ms": B.rnd(budget),
            "passed": passed,
            "max_within_budget": max(extra) <= budget,
            "gateway_start_time_ms_median": B.rnd(B.median(sv["start_time_ms"])),
            "worker_load_time_ms_median": B.rnd(B.median(sv["load_time_ms"])),
            "first_warm_after_cold_ms_median": B.rnd(B.median(sv["first_warm_after_cold_ms"])),
            # X-Inferd-Processing-Ms: hand-off to the (new) worker until its answer, so
            # cold minus warm processing is what the first request in a fresh worker
            # costs beyond a warm one, spawn excluded.
            "cold_processing_ms_median": B.rnd(B.median(sv["cold_processing_ms"])),
            "warm_processing_ms_median": B.rnd(B.median(sv["warm_processing_ms"])),
            "first_request_in_fresh_worker_extra_ms": B.rnd(
                B.median(sv["cold_processing_ms"]) - B.median(sv["warm_processing_ms"]))
            if sv["cold_processing_ms"] and sv["warm_processing_ms"] else None,
            "inproc_first_synthesis_ms_median": B.rnd(B.median(ip["first_synthesis_ms"])),
            "inproc_warm_synthesis_ms_median": B.rnd(ip["warm_median_ms"]),
            "inproc_first_synthesis_extra_ms": B.rnd(B.median(ip["first_synthesis_ms"])
                                                     - ip["warm_median_ms"]),
            "samples": {"cold_ms": [B.rnd(x) for x in sv["cold_ms"]],
                        "cold_extra_ms": [B.rnd(x) for x in extra],
                        "warm_ms": [B.rnd(x) for x in sv["warm_ms"]],
                        "start_time_ms": [B.rnd(x) for x in sv["start_time_ms"]],
                        "cold_processing_ms": [B.rnd(x) for x in sv["cold_processing_ms"]],
                        "inproc_load_ms": [B.rnd(x, 4) for x in ip["load_ms"]],
                        "inproc_first_synthesis_ms": [B.rnd(x) for x in ip["first_synthesis_ms"]]},
        })
        B.log(f"{s['label']}: cold extra median {B.median(extra):.2f} ms (max {max(extra):.2f}), "
              f"budget {budget:.2f} ms: {'PASS' if passed else 'MISS'}")

    result = {
        "title": TITLE,
        "command": "bench/cold_start.py " + " ".join(sys.argv[1:]),
        "reference_command": "build/bench_synth_inproc --backend BACKEND --params PARAMS "
                             f"--text \"{TEXT}\" --runs 1   (x{a.repeats}; and --runs 20)",
        "settings": {"text": TEXT, "repeats": a.repeats, "warm_requests":
                     a.warm + 3 * a.repeats, "accept": "audio/wav", "keep_alive": True,
                     "min_replicas": 0, "max_replicas": 1, "pause_at_zero_s": 0.2},
        "figures": {"models": models,
                    "exec_inferd_version_ms_median": B.rnd(B.median(exec_inferd)),
                    "exec_bin_true_ms_median": B.rnd(B.median(exec_true)),
                    "inferd_shared_libraries": shared_libraries(B.INFERD)},
        "reference": "in-process load time from bench_synth_inproc (fresh process, same run)",
        "ratio": None,
        "ratio_definition": "none: the target is a difference (cold - warm <= load + 10 ms)",
        "target": f"median(cold - warm) <= median in-process load_ms + {SLACK_MS:g} ms",
        "passed": all_passed,
        "valid": True,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    B.write_result(NAME, result)
    return all_passed


if __name__ == "__main__":
    B.main_wrapper(NAME, TITLE, lambda: run(parse_args()))
