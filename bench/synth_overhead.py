#!/usr/bin/env python3
"""Real model overhead: median latency of POST /synthesize on the flite voice
cmu_us_slt at concurrency 1, divided by the median of the same synthesis
timed in-process by bench_synth_inproc (bench/synth_inproc.c), measured in
the same run.

    bench/synth_overhead.py [--runs 50] [--blocks 2] [--warmup 5] [--text "..."]

The served side is one client (Python http.client, one keep-alive connection,
Accept: audio/wav) sending the fixed sentence sequentially; each latency runs
from sending the request to having read the whole WAV. The in-process side is
bench_synth_inproc with the same backend, voice, text and speed (1.0).

Because the machine is shared, the two are interleaved: in-process, served,
in-process, served, ..., in-process (--blocks served blocks of runs/blocks
requests, blocks+1 in-process runs of runs/blocks syntheses each). The
reference is the median of the in-process medians; the served figure is the
median of all served requests. Target: ratio <= 1.05.

Also reported, to show where any overhead goes: the gateway's own
X-Inferd-Processing-Ms (hand-off to the worker until its answer: synthesis,
WAV encoding and the trip over the worker socket), so that
served - processing is the HTTP side and processing - in-process is the
worker side.

Writes bench/results/synth_overhead.json. Exit 0: target met; 1: missed;
2: could not run.
"""

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

NAME = "synth_overhead"
TITLE = "Real model overhead: POST /synthesize on cmu_us_slt vs in-process synthesis"
TARGET_RATIO = 1.05
VOICE = "cmu_us_slt"
MODEL = "tts-flite-slt"
DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog, and then it runs away."


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50, help="served requests measured")
    ap.add_argument("--blocks", type=int, default=2, help="served blocks (interleaving)")
    ap.add_argument("--warmup", type=int, default=5, help="unrecorded requests first")
    ap.add_argument("--text", default=DEFAULT_TEXT)
    a = ap.parse_args()
    if not (1 <= a.blocks <= a.runs <= 1000 and 0 <= a.warmup <= 100 and a.text.strip()):
        ap.error("need 1 <= blocks <= runs <= 1000, 0 <= warmup <= 100, non-blank text")
    return a


def synthesize(conn, text):
    """One request on a keep-alive connection: (latency_ms, processing_ms, wav_bytes)."""
    body = json.dumps({"model_name": MODEL, "text": text})
    t0 = time.perf_counter()
    conn.request("POST", "/synthesize", body,
                 {"Content-Type": "application/json", "Accept": "audio/wav"})
    r = conn.getresponse()
    data = r.read()
    elapsed = (time.perf_counter() - t0) * 1000
    if r.status != 200 or r.getheader("Content-Type") != "audio/wav" or data[:4] != b"RIFF":
        raise B.BenchError(f"POST /synthesize answered {r.status} {r.getheader('Content-Type')}: "
                           f"{data[:300]!r}")
    proc = r.getheader("X-Inferd-Processing-Ms")
    return elapsed, float(proc) if proc else None, len(data), r.getheader("X-Inferd-Cold-Start")


def run(a):
    B.require_binaries(B.INFERD, B.SYNTH_INPROC)
    load_before = B.loadavg()
    per_block = a.runs // a.blocks
    sizes = [per_block + (1 if i < a.runs % a.blocks else 0) for i in range(a.blocks)]
    config = {
        "server": {"port": 0, "shutdown_timeout_ms": 5000},
        "models": [{"name": MODEL, "backend": "flite", "params": {"voice": VOICE},
                    "min_replicas": 1, "max_replicas": 1}],
    }
    inproc, served, processing = [], [], []
    wav_bytes = None
    with B.Processes(NAME) as procs:
        srv = B.Inferd(procs, config)
        srv.wait_ready_replicas(MODEL, 1)
        conn = srv.connect(60)
        for _ in range(a.warmup):
            synthesize(conn, a.text)
        for i in range(a.blocks + 1):
            B.log(f"in-process block {i + 1}/{a.blocks + 1}: {max(sizes)} syntheses")
            inproc.append(B.synth_inproc("flite", {"voice": VOICE}, a.text, max(sizes)))
            if i == a.blocks:
                break
            B.log(f"served block {i + 1}/{a.blocks}: {sizes[i]} requests")
            for _ in range(sizes[i]):
                ms, proc_ms, wav_bytes, cold = synthesize(conn, a.text)
                if cold != "false":
                    raise B.BenchError(f"a warm request reported X-Inferd-Cold-Start: {cold}")
                served.append(ms)
                if proc_ms is not None:
                    processing.append(proc_ms)
            srv.check_alive()
        conn.close()
        m = srv.model(MODEL)
        replica = m["replicas"][0] if m["replicas"] else {}
    load_after = B.loadavg()

    ref = B.median([r["median_ms"] for r in inproc])
    srv_med = B.median(served)
    proc_med = B.median(processing)
    ratio = srv_med / ref
    passed = ratio <= TARGET_RATIO
    result = {
        "title": TITLE,
        "command": "bench/synth_overhead.py " + " ".join(sys.argv[1:]),
        "reference_command": f"build/bench_synth_inproc --backend flite --params "
                             f"'{{\"voice\":\"{VOICE}\"}}' --text \"{a.text}\" --runs {max(sizes)}",
        "settings": {"text": a.text, "speed": 1.0, "concurrency": 1, "keep_alive": True,
                     "accept": "audio/wav", "served_requests": len(served),
                     "warmup_requests": a.warmup, "blocks": a.blocks,
                     "inproc_runs_per_block": max(sizes), "model_replicas": 1,
                     "client": "Python http.client, one connection, sequential"},
        "figures": {
            "served_median_ms": B.rnd(srv_med),
            "served_p90_ms": B.rnd(B.percentile(served, 90)),
            "served_min_ms": B.rnd(min(served)),
            "served_max_ms": B.rnd(max(served)),
            "inproc_median_ms": B.rnd(ref),
            "inproc_block_medians_ms": [B.rnd(r["median_ms"]) for r in inproc],
            "inproc_block_p99_ms": [B.rnd(r["p99_ms"]) for r in inproc],
            "gateway_processing_median_ms": B.rnd(proc_med),
            "http_side_ms": B.rnd(srv_med - proc_med) if proc_med is not None else None,
            "worker_side_ms": B.rnd(proc_med - ref) if proc_med is not None else None,
            "overhead_ms": B.rnd(srv_med - ref),
            "wav_bytes": wav_bytes,
            "replica_requests_served": replica.get("requests_served"),
        },
        "reference": "bench_synth_inproc: the same flite synthesis in one process, no server "
                     "(median of the in-process block medians)",
        "ratio": B.rnd(ratio),
        "ratio_definition": "served median latency / in-process median synthesis time",
        "target": f"ratio <= {TARGET_RATIO}",
        "passed": passed,
        "valid": True,
        "served_latencies_ms": [B.rnd(x) for x in served],
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    B.write_result(NAME, result)
    B.log(f"served median {srv_med:.2f} ms, in-process {ref:.2f} ms, ratio {ratio:.3f} "
          f"(target <= {TARGET_RATIO}): {'PASS' if passed else 'MISS'}")
    return passed


if __name__ == "__main__":
    B.main_wrapper(NAME, TITLE, lambda: run(parse_args()))
