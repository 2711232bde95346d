#!/usr/bin/env python3
"""Writes BENCHMARKS.md from bench/results/*.json (run by bench/run-all).

    bench/report.py [--output BENCHMARKS.md]

Only the figures in the result files are used; a benchmark whose result file
is missing or records an error is reported as such, never with older figures.
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

ORDER = ["gateway_overhead", "gateway_overhead_rc8", "synth_overhead", "cold_start",
         "spike_reaction", "zero_scale_saving", "notify_isolation", "simulate_policies",
         "live_trace"]


def load(name):
    path = os.path.join(B.RESULTS_DIR, f"{name}.json")
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def fmt(x, nd=2):
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def verdict(r):
    if r is None:
        return "not run"
    if r.get("error"):
        return "**could not run**"
    if not r.get("valid", True):
        return "**invalid run** (errors during the load)"
    return "**pass**" if r.get("passed") else "**MISSED**"


def rounds_stat(r, who, fn):
    vals = [fn(rd[who]) for rd in r.get("rounds", [])]
    vals = [v for v in vals if v is not None]
    return B.median(vals) if vals else None


def gw_cpu(rd, key):
    by = rd["cpu_s"]["server_by_process"]
    if key == "gateway":
        return by.get("gateway", 0) / max(1, rd["requests"]) * 1e6
    if key == "workers":
        return sum(v for k, v in by.items() if k not in ("gateway", "master")) \
            / max(1, rd["requests"]) * 1e6
    if key == "sys_share":
        u, k = rd["cpu_s"].get("main_process_user_sys", [0, 0])
        return k / (u + k) if u + k else None
    if key == "busy":
        main = by.get("gateway", by.get(next((k for k in by if k != "master"), ""), 0))
        return main / rd["wall_s"] if rd["wall_s"] else None
    return None


def section_error(out, r):
    out.append(f"The last run could not be carried out: `{r['error']}`  ")
    out.append(f"Command: `{r.get('command', '?')}`, {r.get('date', '?')}.\n")


def probe_figures(r):
    """Gateway-only probe (404 for an unknown model): req/s, gateway µs/request, p99."""
    p = r.get("gateway_only_probe")
    if not p or not p.get("valid"):
        return None
    by = p["cpu_s"]["server_by_process"]
    return {"rps": p["requests_per_s"], "p99": p["latency_ms"]["p99"],
            "gw_us": by.get("gateway", 0) / max(1, p["requests"]) * 1e6,
            "busy": by.get("gateway", 0) / p["wall_s"] if p["wall_s"] else None}


def gateway_section(out, r, rc8):
    out.append("## 1. Gateway overhead\n")
    if r is None:
        out.append("Not run yet (`bench/gateway_overhead.py`).\n")
        return
    if r.get("error"):
        section_error(out, r)
        return
    f, s = r["figures"], r["settings"]
    out.append(
        "`wrk` sends `POST /predict` (`{\"model_name\":\"example\",\"inputs\":[1,…,10]}`) to "
        "inferd, and in the same run the same requests to nginx answering every POST with a "
        f"fixed JSON body of the same size ({s['response_body_bytes']} bytes, an answer inferd "
        "gave a moment before). Both on 127.0.0.1, keep-alive, "
        f"{s['wrk_connections']} connections, {s['wrk_threads']} wrk threads, "
        f"{s['duration_s']} s per run, {s['rounds']} rounds in alternating order "
        "(nginx first in odd rounds), after a "
        f"{s['warmup_s']} s unrecorded warm-up of each. Headline figures are medians over the "
        "rounds.\n")
    out.append(
        f"- inferd: one gateway (one libuv loop) and **{s['example_replicas']} replicas** of "
        f"`example` (min_replicas = max_replicas = {s['example_replicas']}, "
        f"replica_concurrency {s['replica_concurrency']} — the configuration default).")
    out.append("- nginx 1.22: **`worker_processes 1`** (one event loop, like the gateway), "
               "`access_log off`, `return 200 '<body>'`, its own prefix and config in a "
               "temporary directory, not the system service.")
    out.append(f"- The machine has {r['machine']['nproc']} CPUs, shared by wrk's two threads, "
               f"the gateway and its {s['example_replicas']} workers (or nginx's one worker) — "
               "and by whatever else runs on the machine "
               f"(load average {r['loadavg_before'][0]} before, {r['loadavg_after'][0]} after).")
    out.append("- Once, after the rounds, the same wrk load is sent to inferd with a model name "
               "that is not configured: the gateway reads the request, parses the JSON, looks "
               "the model up and answers 404 itself — the gateway's own HTTP and JSON work "
               "without the trip to a worker (column \"gateway only\").\n")
    out.append(f"Command: `{r['command'].strip()}` — each wrk run is:\n")
    out.append(f"```\n{r['load_command'].replace(B.BENCH_DIR + '/', 'bench/')}\n```\n")
    g_cpu = rounds_stat(r, "inferd", lambda rd: gw_cpu(rd, "gateway"))
    w_cpu = rounds_stat(r, "inferd", lambda rd: gw_cpu(rd, "workers"))
    g_busy = rounds_stat(r, "inferd", lambda rd: gw_cpu(rd, "busy"))
    n_busy = rounds_stat(r, "nginx", lambda rd: gw_cpu(rd, "busy"))
    g_sys = rounds_stat(r, "inferd", lambda rd: gw_cpu(rd, "sys_share"))
    pr = probe_figures(r)

    def pct(x):
        return f"{fmt(x * 100, 0)} %" if x is not None else "n/a"
    out.append("| | inferd `/predict` | nginx | inferd / nginx | inferd gateway only (404) |")
    out.append("| --- | ---: | ---: | ---: | ---: |")
    out.append(f"| requests/s (median of rounds) | {fmt(f['inferd_requests_per_s'], 0)} | "
               f"{fmt(f['nginx_requests_per_s'], 0)} | **{fmt(r['ratio'], 3)}** | "
               f"{fmt(pr['rps'], 0) if pr else 'n/a'} |")
    out.append(f"| p50 latency | {fmt(f['inferd_p50_ms'])} ms | {fmt(f['nginx_p50_ms'])} ms | | |")
    out.append(f"| p99 latency | {fmt(f['inferd_p99_ms'])} ms | {fmt(f['nginx_p99_ms'])} ms | | "
               f"{fmt(pr['p99']) + ' ms' if pr else 'n/a'} |")
    out.append(f"| server CPU per request | {fmt(f['inferd_server_cpu_us_per_request'], 1)} µs "
               f"(gateway {fmt(g_cpu, 1)}, workers {fmt(w_cpu, 1)}) | "
               f"{fmt(f['nginx_server_cpu_us_per_request'], 1)} µs | | "
               f"{fmt(pr['gw_us'], 1) + ' µs' if pr else 'n/a'} |")
    out.append(f"| event-loop process busy (CPU s / wall s) | {pct(g_busy)} | {pct(n_busy)} | | "
               f"{pct(pr['busy']) if pr else 'n/a'} |")
    out.append(f"| errors (all rounds) | {f['errors']['inferd']} | {f['errors']['nginx']} | | "
               "(all 404, as intended) |")
    out.append("")
    out.append(f"Target: ratio ≥ 0.5 → {verdict(r)}. Requests served per replica: "
               + ", ".join(f"replica {k}: {v:,}" for k, v in
                           sorted(f["requests_served_per_replica"].items())) + ".\n")
    out.append("Per round:\n")
    out.append("| round | order | inferd req/s | nginx req/s | ratio | inferd p99 | nginx p99 |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for i, rd in enumerate(r["rounds"], 1):
        out.append(f"| {i} | {' → '.join(rd['order'])} | {fmt(rd['inferd']['requests_per_s'], 0)}"
                   f" | {fmt(rd['nginx']['requests_per_s'], 0)} | {fmt(rd['ratio'], 3)} | "
                   f"{fmt(rd['inferd']['latency_ms']['p99'])} ms | "
                   f"{fmt(rd['nginx']['latency_ms']['p99'])} ms |")
    out.append("")
    if rc8 and not rc8.get("error"):
        f8 = rc8["figures"]
        g8 = rounds_stat(rc8, "inferd", lambda rd: gw_cpu(rd, "gateway"))
        b8 = rounds_stat(rc8, "inferd", lambda rd: gw_cpu(rd, "busy"))
        out.append(
            f"**Same benchmark with `replica_concurrency: "
            f"{rc8['settings']['replica_concurrency']}`** (`{rc8['command'].strip()}`, same "
            f"`run-all`, its own nginx reference): inferd {fmt(f8['inferd_requests_per_s'], 0)}"
            f" req/s, nginx {fmt(f8['nginx_requests_per_s'], 0)} req/s, ratio "
            f"**{fmt(rc8['ratio'], 3)}** ({verdict(rc8)} against 0.5); p99 "
            f"{fmt(f8['inferd_p99_ms'])} ms vs {fmt(f8['nginx_p99_ms'])} ms; gateway CPU "
            f"{fmt(g8, 1)} µs per request, gateway busy {pct(b8)}. Not the headline figure "
            "(not the default configuration); it shows how much of the gap is the "
            "one-request-at-a-time hand-off to each worker.\n")
    out.append("**Reading.** " + gateway_reading(r, rc8, g_cpu, g_busy, g_sys, pr))
    out.append("")


def gateway_reading(r, rc8, g_cpu, g_busy, g_sys, pr):
    f = r["figures"]
    n_cpu = f["nginx_server_cpu_us_per_request"]
    n_rps = f["nginx_requests_per_s"]
    parts = []
    if r.get("passed"):
        parts.append(f"inferd reaches {fmt(r['ratio'], 2)} of nginx's request rate, above the "
                     "0.5 target.")
    else:
        parts.append(f"**The target is missed**: inferd serves {fmt(r['ratio'], 2)} of nginx's "
                     "request rate, not 0.5. To reach 0.5 here the gateway would have to "
                     f"answer {fmt(n_rps / 2, 0)} requests/s, i.e. spend at most "
                     f"{fmt(2e6 / n_rps, 1)} µs of a whole CPU per request; it spends "
                     f"{fmt(g_cpu, 1)} µs (nginx: {fmt(n_cpu, 1)} µs).")
    if pr:
        parts.append(
            "Where it goes: without the worker trip (the 404 probe) the gateway answers "
            f"{fmt(pr['rps'], 0)} requests/s, {fmt(pr['rps'] / n_rps, 2)} of nginx, at "
            f"{fmt(pr['gw_us'], 1)} µs of gateway CPU per request — so HTTP parsing, JSON and "
            "the answer cost about "
            f"{fmt(pr['gw_us'] / n_cpu if n_cpu else None, 1)}× what nginx spends, and the "
            f"trip to the worker and back adds about {fmt(g_cpu - pr['gw_us'], 1)} µs of "
            "gateway CPU per request on top: an INFER frame written to the worker's "
            "socketpair (waking that process), the RESULT frame read back, and the loop "
            f"turns between them. {fmt(g_sys * 100 if g_sys is not None else None, 0)} % of "
            "the gateway's CPU time under `/predict` is in the kernel.")
    if g_busy is not None and g_busy < 0.9:
        parts.append(
            f"With replica_concurrency 1 the gateway is not even saturated (busy "
            f"{fmt(g_busy * 100, 0)} % of one CPU): at most "
            f"{r['settings']['example_replicas']} requests are inside workers at any time "
            "and the other connections wait in the model's queue for a worker round trip to "
            "end, so throughput is bounded by that round trip rather than by CPU.")
    if rc8 and not rc8.get("error"):
        b8 = rounds_stat(rc8, "inferd", lambda rd: gw_cpu(rd, "busy"))
        text = (f"Letting each worker hold {rc8['settings']['replica_concurrency']} requests "
                f"changes the ratio to {fmt(rc8['ratio'], 2)}")
        if b8 is not None and b8 >= 0.85:
            text += f", with the gateway busy {fmt(b8 * 100, 0)} % of a CPU: then the gateway is "
            text += "the bottleneck"
        text += "."
        parts.append(text)
    if pr and n_cpu:
        parts.append(
            "What is left is the per-request worker trip — the price of running replicas as "
            "separate processes, which nginx's fixed `return` does not pay — and a gateway "
            f"HTTP/JSON path that costs {fmt(pr['gw_us'] / n_cpu, 1)}× nginx's CPU per "
            "request.")
    return " ".join(parts)


def synth_section(out, r):
    out.append("## 2. Real model overhead\n")
    if r is None:
        out.append("Not run yet (`bench/synth_overhead.py`).\n")
        return
    if r.get("error"):
        section_error(out, r)
        return
    f, s = r["figures"], r["settings"]
    out.append(
        f"One client (Python `http.client`, one keep-alive connection) sends "
        f"`POST /synthesize` for the flite voice `cmu_us_slt` ({s['served_requests']} "
        f"sequential requests after {s['warmup_requests']} unrecorded ones, "
        "`Accept: audio/wav`, concurrency 1, the whole WAV read each time) with the fixed "
        f"sentence \"{s['text']}\". The reference is the same synthesis in one process, "
        "without the server, timed by `bench_synth_inproc` (`bench/synth_inproc.c`), in the "
        f"same run: {s['blocks'] + 1} in-process blocks of {s['inproc_runs_per_block']} "
        f"syntheses interleaved with {s['blocks']} served blocks, so that a change in the "
        "machine's load hits both.\n")
    out.append(f"Command: `{r['command'].strip()}`; reference: `{r['reference_command']}`\n")
    out.append("| | median | other |")
    out.append("| --- | ---: | --- |")
    out.append(f"| served latency (client) | {fmt(f['served_median_ms'])} ms | p90 "
               f"{fmt(f['served_p90_ms'])} ms, min {fmt(f['served_min_ms'])}, max "
               f"{fmt(f['served_max_ms'])} |")
    out.append(f"| in-process synthesis | {fmt(f['inproc_median_ms'])} ms | block medians "
               + ", ".join(fmt(x) for x in f["inproc_block_medians_ms"]) + " ms |")
    out.append(f"| **ratio** | **{fmt(r['ratio'], 3)}** | target ≤ 1.05 → {verdict(r)} |")
    out.append(f"| overhead | {fmt(f['overhead_ms'])} ms | of which HTTP side (client → gateway "
               f"→ client) {fmt(f['http_side_ms'])} ms, worker side (IPC, WAV encoding, "
               f"worker loop) {fmt(f['worker_side_ms'])} ms |")
    out.append("")
    out.append(
        "The split uses the gateway's `X-Inferd-Processing-Ms` (hand-off to the worker until "
        f"its answer; median {fmt(f['gateway_processing_median_ms'])} ms): served − processing "
        "is the HTTP side, processing − in-process is the worker side. The WAV is "
        f"{fmt(f['wav_bytes'])} bytes. Load average {r['loadavg_before'][0]} before, "
        f"{r['loadavg_after'][0]} after.\n")
    meds = f["inproc_block_medians_ms"]
    spread = max(meds) - min(meds) if meds else None
    if spread is not None and (abs(f["overhead_ms"]) < spread or f["worker_side_ms"] < 0):
        out.append(
            f"The overhead ({fmt(f['overhead_ms'])} ms) is of the order of the run-to-run "
            f"spread of the in-process medians themselves ({fmt(spread)} ms between blocks), "
            "so it, and its split into an HTTP and a worker side, is within the noise of this "
            "machine; what the run shows is that serving adds no more than about "
            f"{fmt(max(abs(f['overhead_ms']), spread), 1)} ms to a synthesis of this length.\n")
    if r.get("passed"):
        out.append(f"**Reading.** The target is met: {fmt(r['ratio'], 3)} ≤ 1.05.\n")
    else:
        out.append(f"**The target is missed** ({fmt(r['ratio'], 3)} > 1.05).\n")


def cold_section(out, r):
    out.append("## 3. Cold start\n")
    if r is None:
        out.append("Not run yet (`bench/cold_start.py`).\n")
        return
    if r.get("error"):
        section_error(out, r)
        return
    f, s = r["figures"], r["settings"]
    out.append(
        "Each model has min_replicas 0 and max_replicas 1. On one keep-alive connection "
        f"(`Accept: audio/wav`, \"{s['text']}\"): warm requests first; then {s['repeats']} "
        "times: `POST /models/NAME/replicas {\"replicas\": 0}`, wait until `GET /models/NAME` "
        f"lists no replica, pause {s['pause_at_zero_s']} s, time ONE request (it must answer "
        "`X-Inferd-Cold-Start: true`), then 3 more warm requests. cold − warm = each cold "
        f"latency minus the median of all {s['warm_requests']} warm requests of the same "
        "model. The reference is the load time `bench_synth_inproc` measures in a fresh "
        f"process ({s['repeats']} runs with `--runs 1`, same run).\n")
    out.append(f"Command: `{r['command'].strip()}`; reference: `{r['reference_command']}`\n")
    out.append("| model | cold (median) | warm (median) | cold − warm median | cold − warm max "
               "| in-process load | budget (load + 10 ms) | cold starts within budget | result |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for m in f["models"]:
        res = "**pass**" if m["passed"] else "**MISSED**"
        if m["passed"] and not m["max_within_budget"]:
            res += " (median; the max is over)"
        extras = m["samples"]["cold_extra_ms"]
        within = sum(1 for x in extras if x <= m["budget_ms"])
        out.append(f"| {m['model']} | {fmt(m['cold_ms_median'])} ms | {fmt(m['warm_ms_median'])}"
                   f" ms | **{fmt(m['cold_extra_ms_median'])} ms** | "
                   f"{fmt(m['cold_extra_ms_max'])} ms | {fmt(m['inproc_load_ms_median'], 3)} ms | "
                   f"{fmt(m['budget_ms'])} ms | {within} of {len(extras)} | {res} |")
    out.append("")
    out.append("Every cold − warm sample, in order: " + "; ".join(
        f"{m['model']}: " + ", ".join(fmt(x, 1) for x in m["samples"]["cold_extra_ms"]) + " ms"
        for m in f["models"]) + ".")
    out.append("")
    out.append("Where the extra time goes:\n")
    out.append("| model | spawn → READY (gateway) | load in worker | first request in the new "
               "worker − warm (gateway processing time) | in-process first − warm synthesis | "
               "first warm request after a cold one |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for m in f["models"]:
        out.append(f"| {m['model']} | {fmt(m['gateway_start_time_ms_median'])} ms | "
                   f"{fmt(m['worker_load_time_ms_median'], 3)} ms | "
                   f"{fmt(m.get('first_request_in_fresh_worker_extra_ms'))} ms | "
                   f"{fmt(m['inproc_first_synthesis_extra_ms'])} ms | "
                   f"{fmt(m['first_warm_after_cold_ms_median'])} ms (warm median "
                   f"{fmt(m['warm_ms_median'])}) |")
    out.append("")
    libs = f.get("inferd_shared_libraries")
    out.append(
        f"Starting the inferd binary at all (`inferd --version`) takes "
        f"{fmt(f['exec_inferd_version_ms_median'])} ms (median) against "
        f"{fmt(f['exec_bin_true_ms_median'])} ms for `/bin/true`"
        + (f"; the binary loads {libs} shared libraries" if libs else "") + ".\n")
    out.append("**Reading.** " + cold_reading(r))
    out.append("")


def cold_reading(r):
    f = r["figures"]
    parts = []
    for m in f["models"]:
        head = (f"{m['model']}: cold − warm is {fmt(m['cold_extra_ms_median'])} ms (median), "
                f"{fmt(m['cold_extra_ms_max'])} ms (max), against a budget of "
                f"{fmt(m['budget_ms'])} ms: ")
        if m["passed"] and m["max_within_budget"]:
            head += "within the budget."
        elif m["passed"]:
            head += "the median is within the budget, the slowest cold start is not."
        else:
            head += "the target is missed."
        parts.append(head)
    parts.append(
        "The in-process load of these voices is small (flite's voices are compiled into "
        "shared libraries; eSpeak NG reads its data files), so most of a cold start is "
        "starting the worker process:")
    parts.append("; ".join(
        f"{m['model']}: spawn → READY {fmt(m['gateway_start_time_ms_median'])} ms of the "
        f"{fmt(m['cold_extra_ms_median'])} ms, the remaining "
        f"{fmt(m['cold_extra_ms_median'] - m['gateway_start_time_ms_median'])} ms being "
        "mostly the first request in a fresh worker (its gateway processing time is "
        f"{fmt(m.get('first_request_in_fresh_worker_extra_ms'))} ms over a warm one's)"
        for m in f["models"]) + ".")
    noisy = [m for m in f["models"]
             if m["cold_extra_ms_max"] > 2 * m["cold_extra_ms_median"]
             or m["cold_extra_ms_median"] > 1.5 * m["gateway_start_time_ms_median"] + 2]
    if noisy:
        parts.append(
            "The spread of the samples (" + ", ".join(m["model"] for m in noisy) + ") is the "
            "shared machine: a cold request is one sample, not a median, and a cold worker "
            "competes for the CPUs with everything else that runs at that moment (load "
            f"average {r['loadavg_before'][0]} before this benchmark, "
            f"{r['loadavg_after'][0]} after, on {r['machine']['nproc']} CPUs). In quiet "
            "moments cold − warm comes close to spawn → READY alone (for flite about 7 ms, "
            "within its 10.05 ms budget, in the runs made while these benchmarks were "
            "written); in busy ones it does not. A verdict on this target from one run on "
            "this machine is therefore fragile: look at the samples.")
    parts.append(
        "Most of spawn → READY is loading the binary: starting `inferd --version` costs "
        f"{fmt(f['exec_inferd_version_ms_median'])} ms against "
        f"{fmt(f['exec_bin_true_ms_median'])} ms for `/bin/true`, because every worker is the "
        "whole `inferd` binary, linked against every backend's libraries — a flite worker "
        "also loads eSpeak NG and, through it, PulseAudio, ALSA, X11, libsndfile and systemd "
        "libraries (see the profiling notes below). Process start is not part of "
        "`bench_synth_inproc`'s load time, so the 10 ms allowance is mostly spent on it.")
    return " ".join(parts)


def spike_run_row(label, x):
    ev = ", ".join(f"{fmt(e['t'], 1)} s {e['from']}→{e['to']}" for e in x.get("scale_events", [])
                   if e["type"] == "scale_up" and e["t"] >= 0) or "—"
    reaction = f"**{fmt(x['reaction_s'])} s**" if x.get("reaction_s") is not None else "—"
    return (f"| {label} | {reaction} | {ev} | {fmt(x['start_time_ms_median'], 1)} ms | "
            f"{fmt(x['window_p50_ms'], 0)} ms | **{fmt(x['window_p99_ms'], 0)} ms** | "
            f"{fmt(x['window_max_ms'], 0)} ms | {fmt(x['window_throughput_rps'], 1)} | "
            f"{x['errors']} |")


def spike_section(out, r):
    out.append("## 4. Spike reaction\n")
    if r is None:
        out.append("Not run yet (`bench/spike_reaction.py`).\n")
        return
    if r.get("error"):
        section_error(out, r)
        return
    f, s = r["figures"], r["settings"]
    autos, fixed, cpu, more = f["autoscaled"], f["fixed"], f.get("fixed_cpu"), \
        f.get("autoscaled_more_loads")
    head = autos[f.get("headline_repeat", 0)]
    need, tc = s["need"], s["target_concurrency"]
    out.append(
        f"Closed-loop clients (Python threads, one keep-alive connection each, no pause between "
        f"requests, `Accept: audio/wav`) send `POST /synthesize` for the flite voice "
        f"`{s['voice']}` with the sentence \"{s['text']}\" (about 50 ms of synthesis, see "
        f"section 2): **1 client for {fmt(s['before_s'], 0)} s, then {s['clients_after']} "
        f"clients for {fmt(s['after_s'], 0)} s**. A poller reads `GET /models/NAME` every "
        f"{int(s['poll_interval_s'] * 1000)} ms (ready, starting and desired replicas) and "
        "`GET /autoscaler/stats` once a second; the scale events come from inferd's log. "
        "Every run is a fresh inferd.\n")
    out.append(
        f"- Model: `replica_concurrency` {s['replica_concurrency']}, `target_concurrency` {tc}, "
        f"**`max_replicas` {s['max_replicas']}**, `min_replicas` 1, `initial_replicas` 1. The "
        f"load needs ⌈{s['clients_after']} / {tc}⌉ = **{need} replicas**; `max_replicas` "
        f"{s['max_replicas']} is chosen so that this need is reachable (with the default "
        f"`target_concurrency` 1 it would be {s['clients_after']}, above the hard limit of 10 "
        f"replicas per model), and `replica_concurrency` {s['replica_concurrency']} gives the "
        f"pool at {need} replicas exactly {need * s['replica_concurrency']} request slots, so "
        "\"the count the load needs\" is the count at which nobody waits in the gateway's "
        "queue. (A worker synthesizes one request at a time; the second waits in its socket.)")
    out.append(
        f"- Autoscaler: every setting at its default — decision interval "
        f"{fmt(s['decision_interval_s'], 0)} s, stable window {s['stable_window_s']} s, panic "
        f"window {s['panic_window_s']} s, panic threshold {s['panic_threshold']}, scale-up "
        f"cooldown {s['scale_up_cooldown_s']} s, `max_concurrent_model_loads` "
        f"{s['max_concurrent_model_loads']}.")
    out.append(
        f"- Reference (same script, same load): the pool **fixed at {need} replicas** from the "
        "start (`min_replicas` = `max_replicas` = `initial_replicas` = "
        f"{need}, autoscaler off)."
        + (f" Also, for context: the pool fixed at **{cpu['replicas_fixed']} replicas** (the "
           "machine's CPU count)" if cpu else "")
        + (f", and one diagnostic autoscaled run with `max_concurrent_model_loads` "
           f"{more['max_concurrent_model_loads']} instead of 2 (not the headline)." if more
           else "."))
    out.append(
        f"- The machine has {s['nproc']} CPUs, shared by the {s['clients_after']} client "
        "threads, the gateway and the workers. **Synthesis is CPU-bound and single-threaded, so "
        f"{s['clients_after']} clients cannot be served faster than {s['nproc']} replicas' "
        f"worth of CPU**: past {s['nproc']} busy replicas, more replicas only share the same "
        "CPUs. The latency and throughput figures below are therefore about the same whatever "
        "the pool size; the reaction time is what this benchmark is about.\n")
    out.append(f"Command: `{r['command'].strip()}`\n")
    out.append("| run | reaction (step → ready ≥ " + str(need) + ") | scale-ups after the step "
               "(time: from→to) | replica load (start_time_ms, median) | p50 | p99 | max | "
               "req/s | errors |")
    out.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for i, x in enumerate(autos):
        out.append(spike_run_row("autoscaled" + (f" #{i + 1}" if len(autos) > 1 else ""), x))
    if more:
        out.append(spike_run_row(f"autoscaled, max_concurrent_model_loads "
                                 f"{more['max_concurrent_model_loads']} (diagnostic)", more))
    out.append(spike_run_row(f"**fixed at {need}** (reference)", fixed))
    if cpu:
        out.append(spike_run_row(f"fixed at {cpu['replicas_fixed']} (= CPUs)", cpu))
    out.append("")
    out.append(f"Latency and throughput: the requests sent in the first "
               f"{fmt(s['latency_window_s'], 0)} s after the step. One client alone before the "
               f"step: median {fmt(head['one_client_p50_ms'], 1)} ms. Every scale-up's trigger "
               "(from the log): " + "; ".join(
                   f"{e['from']}→{e['to']} {e['trigger']}" for e in head["scale_events"]) + ".\n")
    budget = head.get("budget_s")
    out.append(
        f"Target: reaction ≤ 2 decision intervals + one load time = 2 × "
        f"{fmt(s['decision_interval_s'], 0)} s + {fmt(head['start_time_ms_median'], 1)} ms = "
        f"**{fmt(budget)} s** → reaction {fmt(head['reaction_s'])} s → {verdict(r)}. p99 over "
        f"the first {fmt(s['latency_window_s'], 0)} s: autoscaled "
        f"{fmt(head['window_p99_ms'], 0)} ms against {fmt(fixed['window_p99_ms'], 0)} ms for "
        f"the pool fixed at {need} (ratio {fmt(r.get('ratio'), 2)}).\n")
    out.append("**Reading.** " + spike_reading(r, head, fixed, cpu, more))
    out.append("")


def spike_reading(r, head, fixed, cpu, more):
    s = r["settings"]
    need, tc, pw = s["need"], s["target_concurrency"], s["panic_window_s"]
    parts = []
    if r.get("passed"):
        parts.append(f"The pool reached {need} ready replicas {fmt(head['reaction_s'])} s after "
                     f"the step, within the {fmt(head['budget_s'])} s target.")
    else:
        parts.append(f"**The target is missed**: {need} ready replicas "
                     f"{fmt(head['reaction_s'])} s after the step, against "
                     f"{fmt(head['budget_s'])} s.")
    ups = [e for e in head["scale_events"] if e["type"] == "scale_up" and e["t"] >= 0]
    if head.get("first_tick_after_step_s") is not None:
        parts.append(f"Decisions fell {fmt(head['first_tick_after_step_s'])} s after the step "
                     f"and every {fmt(s['decision_interval_s'], 0)} s after that; the first "
                     "scale-up came at the first decision after the step.")
    # The panic window's mean: how long after the step it takes to ask for `need`.
    c0, c1 = 1, s["clients_after"]
    level = (need - 1) * tc
    ramp = pw * (level - c0) / (c1 - c0) if c1 > c0 else None
    steps = [e["to"] - e["from"] for e in ups]
    loads = s["max_concurrent_model_loads"]
    if steps and max(steps) <= loads and len(steps) > 1:
        parts.append(
            f"Two things set the pace. (1) **The growth went in {len(steps)} steps of at most "
            f"{loads} replicas, one step per decision**, although each new replica was ready "
            f"about {fmt(head['start_time_ms_median'], 0)} ms after it was started: the "
            f"controller starts at most `max_concurrent_model_loads` ({loads}) replicas per "
            "decision and leaves the rest of a growth it capped to the next decision, "
            f"{fmt(s['decision_interval_s'], 0)} s later, instead of starting the next replica "
            "when a load slot frees (`apply_growth()` in `src/autoscaler/controller.c`; "
            "nothing resumes a capped growth on `POOL_EVENT_REPLICA_READY`). The "
            "documentation says further starts \"wait their turn\"; here the turn is the next "
            "decision, not the end of a load: with 20 ms loads that costs up to 2 s per step.")
    if ramp is not None:
        txt = (f"(2) **The panic window is a {pw}-second mean**: to ask for {need} replicas "
               f"the mean concurrency over it must exceed {fmt(level, 0)} (= ({need} − 1) × "
               f"{tc}); after a step from {c0} to {c1} concurrent requests it gets there only "
               f"{fmt(ramp, 1)} s after the step, so no policy that sizes from that mean can "
               f"ask for the full {need} before then, whatever the load time — the 2-decision "
               f"target ({fmt(2 * s['decision_interval_s'], 0)} s) is shorter than that ramp.")
        if more and more.get("reaction_s") is not None:
            mups = [e for e in more["scale_events"] if e["type"] == "scale_up" and e["t"] >= 0]
            txt += (f" The diagnostic run with `max_concurrent_model_loads` "
                    f"{more['max_concurrent_model_loads']} shows this part alone: it grew "
                    + ", ".join(f"{e['from']}→{e['to']} at {fmt(e['t'], 1)} s" for e in mups)
                    + f" and reached {need} after {fmt(more['reaction_s'])} s "
                    f"({'within' if more.get('passed') else 'still over'} the target).")
        parts.append(txt)
    hp, fp = head["window_p99_ms"], fixed["window_p99_ms"]
    if hp is not None and fp is not None:
        if hp <= fp * 1.15:
            parts.append(
                f"Latency: over the first {fmt(s['latency_window_s'], 0)} s the autoscaled "
                f"pool's p99 ({fmt(hp, 0)} ms) is close to, or below, the fixed {need}-replica "
                f"pool's ({fmt(fp, 0)} ms): the seconds spent below {need} replicas cost "
                f"little, because from {s['nproc']} busy replicas on the CPUs are the limit.")
        else:
            parts.append(
                f"Latency: over the first {fmt(s['latency_window_s'], 0)} s the autoscaled "
                f"pool's p99 ({fmt(hp, 0)} ms) is {fmt(hp - fp, 0)} ms above the fixed "
                f"{need}-replica pool's ({fmt(fp, 0)} ms): the first seconds after the step, "
                f"at fewer replicas than CPUs, queue the requests.")
    hb, fb = head.get("p99_by_5s") or [], fixed.get("p99_by_5s") or []
    if len(hb) > 1 and len(fb) > 1:
        later = [x for x in hb[1:] if x is not None]
        parts.append(
            f"By 5-second slices of the requests sent after the step, the autoscaled p99 was "
            f"{fmt(hb[0], 0)} ms in the first 5 s and {fmt(min(later), 0)}–"
            f"{fmt(max(later), 0)} ms afterwards; the fixed pool's "
            f"{fmt(min(x for x in fb if x is not None), 0)}–"
            f"{fmt(max(x for x in fb if x is not None), 0)} ms throughout.")
    if cpu and cpu["window_p99_ms"] is not None and fp is not None:
        as_good = (cpu["window_p99_ms"] <= fp * 1.1
                   and cpu["window_throughput_rps"] >= 0.95 * fixed["window_throughput_rps"])
        parts.append(
            f"The pool fixed at {cpu['replicas_fixed']} (the CPU count): p99 "
            f"{fmt(cpu['window_p99_ms'], 0)} ms, {fmt(cpu['window_throughput_rps'], 1)} req/s, "
            f"against {fmt(fp, 0)} ms and {fmt(fixed['window_throughput_rps'], 1)} req/s for "
            f"{need} replicas"
            + (" — at least as good: more replicas than CPUs only time-share them (and "
               "lengthen each request's own service time). The concurrency rule sizes the "
               "pool from requests in flight and does not know the machine's CPU count, so "
               f"on this machine it scales a CPU-bound model to {need} replicas where "
               f"{s['nproc']} serve as well." if as_good else ".")
            + " Single runs on a shared machine: differences of some tens of ms in p99 are "
            "noise.")
    return " ".join(parts)


def zero_section(out, r):
    out.append("## 5. Zero-scale saving\n")
    if r is None:
        out.append("Not run yet (`bench/zero_scale_saving.py`).\n")
        return
    if r.get("error"):
        section_error(out, r)
        return
    f, s = r["figures"], r["settings"]
    au, ma = f["auto"], f["manual"]
    out.append(
        f"One `synthetic` model with `params.memory_mb` {s['memory_mb']} (1 GiB allocated and "
        "every page touched at load, so it stays resident until the replica exits) and a "
        f"declared `memory_mb` of {s['memory_mb']}; `min_replicas` 0, `initial_replicas` 1, "
        "`max_replicas` 1. Memory is the sum over the gateway and all its descendants (the "
        "replica workers) of `VmRSS` (`/proc/PID/status`), and of `Pss` "
        "(`/proc/PID/smaps_rollup`, which counts a page shared by N processes as 1/N in each); "
        f"each state is the median of {s['samples_per_state']} samples 0.5 s apart. The "
        "machine's `MemAvailable` change is given as a check that the memory went back to the "
        "system (noisy: the machine is shared).\n")
    out.append(
        f"- **autoscaler**: `zero_scale_threshold` `no_requests_minutes` and "
        f"`idle_time_minutes` {s['zero_scale_window_minutes']} (3 s), "
        f"`zero_scale_cooldown_seconds` {s['zero_scale_cooldown_seconds']}, every other setting "
        "at its default. \"Loaded\" is sampled while one `POST /predict` every 0.5 s keeps the "
        "model in use; then the requests stop and the autoscaler is left to do it.")
    out.append(
        "- **manual**: `POST /autoscaler/scale {\"action\": \"zero_scale\", \"models\": "
        "[NAME]}`, every autoscaler setting at its default, on the model loaded at start; the "
        "script then watches 3 decision intervals that nothing comes back, and repeats the "
        "POST after one request (a cold start) to check that the autoscaler does not reload "
        "the model by itself.\n")
    out.append(f"Command: `{r['command'].strip()}`\n")
    out.append("| path | loaded: RSS (gateway + replica) | after zero-scale: RSS | **saved (RSS)** "
               "| loaded: PSS | after: PSS | saved (PSS) | MemAvailable change | time to zero "
               "| result |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    target = 95.0

    def res(x):
        return "**pass**" if (x["saving_rss_percent"] or 0) >= target else "**MISSED**"
    for label, x, t in (("autoscaler", au, f"{fmt(au['seconds_from_last_request_to_zero'], 1)} s "
                         "after the last request"),
                        ("manual `zero_scale`", ma, f"{fmt(ma['seconds_from_post_to_zero'], 2)} s "
                         "after the POST")):
        lo, af = x["loaded"], x["after"]
        gw_lo = next((p["rss_mb"] for p in lo["processes"] if p["role"] == "gateway"), None)
        out.append(f"| {label} | {fmt(lo['rss_mb'], 1)} MB ({fmt(gw_lo, 1)} + "
                   f"{fmt(lo['rss_mb'] - gw_lo if gw_lo is not None else None, 1)}) | "
                   f"{fmt(af['rss_mb'], 1)} MB | **{fmt(x['saving_rss_percent'])} %** | "
                   f"{fmt(lo['pss_mb'], 1)} MB | {fmt(af['pss_mb'], 1)} MB | "
                   f"{fmt(x['saving_pss_percent'])} % | +{fmt(x['released_to_system_mb'], 0)} MB "
                   f"| {t} | {res(x)} |")
    out.append("")
    out.append(
        f"Target: ≥ {fmt(target, 0)} % saved (the spec claims \"up to 90 %\") → {verdict(r)}. "
        f"What is left after zero-scaling is the gateway alone ({fmt(au['after']['rss_mb'], 1)} "
        "MB RSS), which holds no per-model memory of any size.\n")
    ab = ma.get("after_a_request") or {}
    came = next((x for x in (ma.get("replica_back_without_request_s"),
                             ab.get("replica_back_without_request_s")) if x is not None), None)
    out.append(
        f"The model comes back on the next request: after the automatic zero-scale one "
        f"`POST /predict` took {fmt(au['comeback_request_ms'], 0)} ms (a cold start; the "
        f"replica's spawn → READY {fmt(au['comeback_replica_start_time_ms'], 0)} ms, most of it "
        "allocating and touching 1 GiB). The manual POST answered HTTP "
        f"{ma['scale_http_status']} with status `{ma['scale_response'].get('status')}`, and "
        f"`GET /autoscaler/scale/{{id}}` said `{(ma.get('operation_after') or {}).get('status')}` "
        "once the replica had gone; "
        + ("no replica came back by itself within 6 s, neither on the model never used nor "
           "after a request (cold start, then `zero_scale` with `override_cooldown`)."
           if came is None else
           f"**a replica came back without any request {fmt(came, 1)} s after the manual "
           "zero-scale** (the autoscaler reloaded the model).") + "\n")
    out.append("**Reading.** " + zero_reading(r, au, ma))
    out.append("")


def zero_reading(r, au, ma):
    s = r["settings"]
    parts = []
    if r.get("passed"):
        parts.append(
            f"The target is met on both paths: {fmt(au['saving_rss_percent'])} % "
            f"(autoscaler) and {fmt(ma['saving_rss_percent'])} % (manual) of the resident "
            "memory is released, and the system gets it back (`MemAvailable` "
            f"+{fmt(au['released_to_system_mb'], 0)} MB): the replica is a separate process "
            "and exits.")
    else:
        parts.append("**The target is missed** on at least one path.")
    window_s = s["zero_scale_window_minutes"] * 60
    t = au["seconds_from_last_request_to_zero"]
    if t is not None and t > window_s + 2 * 2 + 5:
        parts.append(
            f"**The automatic zero-scale came {fmt(t, 1)} s after the last request, although "
            f"the zero-scale windows were {fmt(window_s, 0)} s** (plus at most one 2 s decision "
            "interval). The cause is in the policy (`src/autoscaler/policy.c`): "
            "`idle_enough_for_zero()` refuses while `has_work()` is true, and `has_work()` "
            "counts `concurrency_stable > 0` — the mean concurrency over the whole stable "
            "window (`reactive.stable_window_seconds`, 60 s by default), which stays above zero "
            "until the last request has left that window; before that, `replicas_for()` also "
            "rounds any positive mean up to 1 replica, so the shrink gate is not even reached. "
            "So the effective zero-scale delay is max(zero-scale windows, stable window) + up "
            "to one decision interval: invisible with the default windows (10 and 15 min), but "
            "a short `no_requests_minutes` / `idle_time_minutes` does not do what "
            "docs/configuration.md says (checked by hand with `stable_window_seconds` 10: zero "
            "after 11 s instead of 3–5 s).")
    return " ".join(parts)


def notify_section(out, r):
    out.append("## 6. Notification isolation\n")
    if r is None:
        out.append("Not run yet (`bench/notify_isolation.py`).\n")
        return
    if r.get("error"):
        section_error(out, r)
        return
    out.append(
        "One inferd serving `example` (pinned at one replica). A thread changes "
        "`thresholds.cpu_threshold` through `POST /autoscaler/config` about 50 times a second; "
        "each change is a `config_updated` event, which the notifier POSTs to "
        "`advanced.external_metrics_webhook` when one is set. One client sends sequential "
        "`POST /predict` on one keep-alive connection for a fixed time per phase and times each "
        "answer. Phases: **none** (no receiver: the reference), **ok** (answers 204), "
        "**failing** (answers 500: 3 retries after 0.5, 1 and 2 s, then dropped), **stuck** "
        "(accepts and never answers: each attempt ends at the 2 s timeout, and with 256 events "
        "waiting the oldest are dropped). The notifier lets go of waiting events between "
        "phases.\n")
    out.append(f"Command: `{r['command'].strip()}` — {r['date']}.\n")
    out.append("| phase | requests | p50 ms | p99 ms | max ms | p50 ratio | p99 ratio | events "
               "| delivered | failed attempts | dropped |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for p in r["phases"]:
        out.append(f"| {p['phase']} | {fmt(p['requests'])} | {fmt(p['p50_ms'], 3)} | "
                   f"{fmt(p['p99_ms'], 3)} | {fmt(p['max_ms'], 2)} | {fmt(p['p50_ratio'], 3)} | "
                   f"{fmt(p['p99_ratio'], 3)} | {fmt(p['events_during'])} | {fmt(p['delivered'])} "
                   f"| {fmt(p['failed_attempts'])} | {fmt(p['dropped'])} |")
    out.append("")
    out.append(f"Target: {r['target']}. Result: {verdict(r)}. A notifier that waited on the "
               "receiver on the event loop would hold every request behind it for up to the 2 s "
               "timeout, a ratio in the thousands.\n")


FORECAST_TRIGGERS = {"predicted_load", "prewarm", "keep_alive"}
METRIC_NAMES = {"cold_start_share": "cold-start share", "p99_ms": "p99",
                "replica_seconds": "replica-seconds"}


def pct(x, nd=2):
    return "n/a" if x is None else f"{x * 100:,.{nd}f}"


def live_verdict(r):
    if r and not r.get("error") and not r.get("valid") and r.get("settings", {}).get("duration"):
        return "**trial run** (cut short with `--duration`: not valid)"
    if r and not r.get("error") and not r.get("valid"):
        return "**invalid run** (more errors than the valid share allows)"
    return verdict(r)


def sim_baselines(r):
    """The baselines of a simulate_policies result, as its verdicts name them."""
    names = []
    for c in r.get("results", []):
        for b in c.get("hybrid_beats_by_20pct_on", {}):
            if b not in names:
                names.append(b)
    return names


def azure_text(traces):
    azure = [t for t in traces if t.startswith("azure")]
    text = ""
    if azure:
        text = (f"`{azure[0]}` is the Azure LLM inference trace 2023 (Azure Public Dataset, "
                "CC-BY; Patel et al., \"Splitwise: Efficient generative LLM inference using "
                "phase splitting\", ISCA 2024), read in place from `../shared/traces/`; ")
    return text + "the others are generated with the seed shown."


def sim_policies_section(out, r):
    out.append("## 7. Scaling policies in simulation\n")
    if r is None:
        out.append("Not run yet (`bench/simulate_policies.py`).\n")
        return
    if r.get("error"):
        section_error(out, r)
        return
    s, summ = r["settings"], r["summary"]
    models = "; ".join(
        f"**{name}**: load {fmt(m['load_ms'])} ms, service {fmt(m['service_ms'])} ms (fixed)"
        for name, m in s["models"].items())
    ac = s.get("autoscaler_config")
    if isinstance(ac, str):
        try:
            ac = json.loads(ac)
        except ValueError:
            pass
    if not ac:
        ac_text = ("inferd's strategies (`reactive`, `predictive`, `hybrid`) run with the "
                   "built-in autoscaler defaults (the run recorded no `--autoscaler-config`)")
    else:
        shown = ac if isinstance(ac, str) else json.dumps(ac, separators=(",", ":"))
        ac_text = ("inferd's strategies (`reactive`, `predictive`, `hybrid`) run with "
                   f"`--autoscaler-config '{shown}'` merged onto the built-in autoscaler "
                   "defaults (as recorded in the result file)")
    traces = [c["trace"] for c in r["results"]]
    traces = list(dict.fromkeys(traces))
    out.append(
        "`inferd simulate` replays each trace in virtual time through every policy it knows: "
        "inferd's own strategies through the server's policy and controller rules, and the "
        f"published baselines ({', '.join(f'`{b}`' for b in sim_baselines(r))}: Knative's "
        "KPA, Kubernetes' HPA, Ray Serve, a fixed keep-alive and the hybrid histogram of "
        "Shahrad et al.; see [docs/simulator.md](docs/simulator.md)) on the same arrivals "
        f"with the same service times. Traces: {', '.join(f'`{t}`' for t in traces)}; "
        f"{azure_text(traces)} "
        f"Models: {models}; concurrency 1 per replica; replicas "
        f"{s['min_replicas']}–{s['max_replicas']}; SLO {s['slo']}. {ac_text}.\n")
    out.append(f"Command: `{r['command'].strip()}` — {r['date']}. Each case's exact "
               "`inferd simulate` command is in `bench/results/simulate_policies.json`.\n")
    n = summ["cases"]
    not_dom = sum(1 for c in r["results"] if not c["hybrid_dominated_by"])
    out.append(
        f"**Goal (issue 5)**: on every case `hybrid` is not dominated by a baseline (no "
        "baseline at least as good on cold-start share, p99 and replica-seconds at once and "
        "better on one), and on most cases it beats every baseline by 20 % or more on at "
        f"least one of the three. Hybrid is not dominated in **{not_dom} of {n}** cases and "
        "beats every baseline by ≥ 20 % on at least one metric in "
        f"**{summ['cases_hybrid_beats_every_baseline']} of {n}**; simulator speed target "
        f"{'met' if summ['speed_target_met'] else 'missed'}. Result: {verdict(r)}.\n")
    out.append("| trace | model | hybrid dominated by | baselines hybrid does not beat by ≥ 20 % "
               "on any metric |")
    out.append("| --- | --- | --- | --- |")
    for c in r["results"]:
        nobeat = [b for b, ms in c["hybrid_beats_by_20pct_on"].items() if not ms]
        out.append(f"| {c['trace']} | {c['model']} | "
                   f"{', '.join(c['hybrid_dominated_by']) or 'none'} | "
                   f"{', '.join(nobeat) or 'none'} |")
    out.append("")
    for c in r["results"]:
        out.append(f"### {c['trace']} / {c['model']}\n")
        out.append("| policy | requests | cold starts % | p50 ms | p99 ms | SLO miss % | "
                   "replica-s | peak replicas | scale events |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for p in c["policies"]:
            name = f"**{p['policy']}**" if p["policy"] == "hybrid" else p["policy"]
            out.append(f"| {name} | {fmt(p['requests'])} | {pct(p['cold_start_share'], 3)} | "
                       f"{fmt(p['p50_ms'], 1)} | {fmt(p['p99_ms'], 1)} | "
                       f"{pct(p['slo_miss_share'])} | {fmt(p['replica_seconds'], 0)} | "
                       f"{fmt(p['peak_replicas'])} | {fmt(p['scale_events'])} |")
        out.append("")
        dom = c["hybrid_dominated_by"]
        beats = []
        for b, ms in c["hybrid_beats_by_20pct_on"].items():
            beats.append(f"{b} on {', '.join(METRIC_NAMES.get(m, m) for m in ms)}" if ms
                         else f"{b} on nothing")
        out.append(f"Hybrid: dominated by {', '.join(dom) if dom else 'no baseline'}; beats by "
                   f"≥ 20 %: {'; '.join(beats)}. Every baseline beaten on some metric: "
                   f"{'yes' if c['hybrid_beats_every_baseline'] else 'no'}. "
                   f"({fmt(c['wall_seconds'], 3)} s for all policies.)\n")
    shipped = r.get("shipped_defaults")
    if shipped:
        out.append("**inferd's strategies with the defaults as shipped** (60 / 300 / 900 s "
                   "cooldowns, 2 loads at once; the baselines as above), the same cases: "
                   "cold starts % / p99 ms / replica-seconds.\n")
        names = [p["policy"] for p in shipped[0]["policies"]]
        out.append("| trace | model | " + " | ".join(names) + " |")
        out.append("| --- | --- | " + " | ".join("---" for _ in names) + " |")
        for c in shipped:
            cells = [f"{pct(p['cold_start_share'], 3)} / {fmt(p['p99_ms'], 0)} / "
                     f"{fmt(p['replica_seconds'], 0)}" for p in c["policies"]]
            out.append(f"| {c['trace']} | {c['model']} | " + " | ".join(cells) + " |")
        out.append("")
    out.append("**Speed**: one run of each policy on a generated Poisson trace, timed by the "
               "wall clock around the whole `inferd simulate` process (trace generation and "
               "start-up included); target (as `bench/simulate_policies.py` defines it): "
               "under 1 s per policy for at least 100,000 requests → "
               f"{'met' if summ['speed_target_met'] else '**missed**'}.\n")
    out.append("| policy | requests | wall s |")
    out.append("| --- | ---: | ---: |")
    for p in r["speed"]:
        out.append(f"| {p['policy']} | {fmt(p['requests'])} | {fmt(p['wall_seconds'], 3)} |")
    out.append("")


def live_trace_section(out, r):
    out.append("## 8. Live trace replay\n")
    if r is None:
        out.append("Not run yet (`bench/live_trace.py`).\n")
        return
    if r.get("error"):
        section_error(out, r)
        return
    s, cal, live, sim = r["settings"], r["calibration"], r["live"], r["simulated"]
    strategies = [k for k in ("reactive", "hybrid") if k in live]
    ref, hyb = live["reactive"], live["hybrid"]
    off = ref["offered"]
    ac = json.dumps(s["autoscaler_config"], separators=(",", ":"))
    out.append(
        f"`inferd loadtest` replays a production trace (`{r['trace']['file']}`, read in place; "
        f"{r['trace']['attribution']}) against `inferd serve`, {fmt(s['time_scale'], 0)} "
        "times faster "
        f"(`--time-scale {s['time_scale']:g}`) and thinned to "
        f"{fmt(s['rate_scale'] * 100, 0)} % of its rows (`--rate-scale {s['rate_scale']:g}`, "
        f"seed {s['seed']}, the same arrivals for both strategies): {fmt(ref['requests'])} "
        f"requests over {fmt(off['span_s'], 0)} s, {fmt(off['mean_rps'], 1)} requests/s on "
        f"average, {fmt(off['p90_1s_rps'])} in the busiest tenth of the seconds and up to "
        f"{fmt(off['peak_1s_rps'])} in one second. With the text \"{s['text']}\" one replica "
        f"serves about {fmt(off['one_replica_rps'], 0)} requests/s (the warm median measured "
        f"below), so the mean offered load needs {pct(off['mean_cpu_need_of_all_cpus'], 0)} % "
        f"of the {s['nproc']} CPUs and the busy seconds more than one replica can serve.\n")
    out.append(
        f"- Server: a fresh `inferd serve` per strategy (its own data directory, no stored "
        f"traffic history), one model `{s['model']}` (flite `{s['voice']}`), min_replicas "
        f"{s['min_replicas']}, initial_replicas {s['initial_replicas']} (so the first request "
        f"is a cold start), max_replicas {s['max_replicas']}, `scaling_strategy` reactive or "
        f"hybrid, every other setting at its default except, in both runs and in the "
        f"simulator alike, `{ac}` (so that a scale-down can happen within the run).")
    out.append(
        f"- Calibration, on its own fresh server before the runs: warm median "
        f"{fmt(cal['warm_median_ms'])} ms (p90 {fmt(cal['warm_p90_ms'])} ms, synthesis "
        f"{fmt(cal['processing_median_ms'])} ms, {cal['requests']} sequential requests), first "
        f"(cold) request {fmt(cal['cold_first_request_ms'])} ms, replica spawn → READY "
        f"{fmt(cal['spawn_to_ready_ms'])} ms. SLO: {s['slo']} = {fmt(s['slo_ms'], 1)} ms; a "
        "non-2xx answer is a miss too.")
    out.append(f"- Replica-seconds: the sum over the load test's one-second samples of ready + "
               "starting replicas (`GET /autoscaler/stats`); latency percentiles are over 2xx "
               "answers, client clock.\n")
    out.append(f"Command: `{r['command'].strip()}` — {r['date']}. Load, per strategy:\n")
    out.append(f"```\n{r['loadtest_commands']['reactive']}\n```\n")
    for st in strategies:
        out.append(f"![inferd loadtest, {st}]({live[st]['svg']})\n")
    out.append(f"*Figures: `{s['model']}` under {' and '.join(strategies)}, drawn by "
               f"`inferd loadtest`; trace: {r['trace']['attribution']}.*\n")

    def errs(x):
        e = x["errors_by_status"]
        return ", ".join(f"{k}: {fmt(v)}" for k, v in sorted(e.items())) or "none"

    def events(x, k):
        return fmt(x["scale_events"].get(k))

    def row(label, fn, ratio_fn=None):
        vals = [fn(live[st]) for st in strategies]
        rt = ratio_fn() if ratio_fn else ""
        out.append(f"| {label} | " + " | ".join(vals) + f" | {rt} |")
    ratios = r["ratios_hybrid_over_reactive"]
    out.append("| | " + " | ".join(strategies) + " | hybrid / reactive |")
    out.append("| --- | " + " | ".join("---:" for _ in strategies) + " | ---: |")
    row("requests", lambda x: fmt(x["requests"]))
    row("2xx", lambda x: f"{pct(x['ok_share'])} %")
    row("errors", errs)
    row("p50 latency", lambda x: f"{fmt(x['p50_ms'], 1)} ms")
    row("p95 latency", lambda x: f"{fmt(x['p95_ms'], 1)} ms")
    row("p99 latency", lambda x: f"{fmt(x['p99_ms'], 1)} ms",
        lambda: f"**{fmt(ratios['live']['p99'], 3)}**")
    row("SLO misses", lambda x: f"{pct(x['slo_miss_share'])} %")
    row("mean / peak ready replicas",
        lambda x: f"{fmt(x['mean_ready_replicas'], 2)} / {fmt(x['peak_ready_replicas'])}")
    row("peak ready + starting", lambda x: fmt(x["peak_replicas"]))
    row("replica-seconds", lambda x: fmt(x["replica_seconds"], 0),
        lambda: f"**{fmt(ratios['live']['replica_seconds'], 3)}**")
    row("cold starts", lambda x: fmt(x["cold_starts"]))
    row("scale-ups / scale-downs", lambda x: f"{events(x, 'scale_up_events')} / "
        f"{events(x, 'scale_down_events')}")
    row("scale-event triggers", lambda x: ", ".join(x["triggers"]) or "none")
    row("decisions by trigger (seconds)",
        lambda x: ", ".join(f"{k} {v}" for k, v in x["decisions"]["seconds_by_trigger"].items())
        if x.get("decisions") else "n/a")
    row("replica CPU, mean (% of one core)",
        lambda x: fmt((x.get("decisions") or {}).get("replica_cpu_percent_mean"), 0))
    row("system CPU, mean / peak",
        lambda x: f"{fmt(x['mean_system_cpu_percent'], 0)} / "
                  f"{fmt(x['peak_system_cpu_percent'], 0)} %")
    row("CPU-s during the replay: inferd / load test / other work",
        lambda x: f"{fmt(x['cpu']['server_cpu_s'], 0)} / {fmt(x['cpu']['loadtest_cpu_s'], 1)} / "
                  f"{fmt(max(0.0, x['cpu']['other_cpu_s']), 0)}" if x.get("cpu") else "n/a")
    row("other work's share of the machine",
        lambda x: f"{pct(max(0.0, x['cpu']['other_share_of_machine']), 0)} %"
        if x.get("cpu") else "n/a")
    row("load average before → after",
        lambda x: f"{x['loadavg_before'][0]} → {x['loadavg_after'][0]}")
    out.append("")
    out.append(f"Target: {r['target']} → {live_verdict(r)}.\n")

    out.append(f"**The same trace in simulation**, scaled the same way (both commands' "
               f"`--time-scale {s['time_scale']:g}` play the trace {s['time_scale']:g} times "
               "faster), with the calibrated service and load times:\n")
    out.append(f"```\n{sim['command']}\n```\n")
    out.append("| | " + " | ".join(f"{st} live | {st} simulated" for st in strategies) + " |")
    out.append("| --- | " + " | ".join("---: | ---:" for _ in strategies) + " |")

    def srow(label, lf, sf):
        cells = []
        for st in strategies:
            cells += [lf(live[st]), sf(sim[st])]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    srow("requests", lambda x: fmt(x["requests"]), lambda x: fmt(x["requests"]))
    srow("p50 latency ms", lambda x: fmt(x["p50_ms"], 1), lambda x: fmt(x["p50_ms"], 1))
    srow("p95 latency ms", lambda x: fmt(x["p95_ms"], 1), lambda x: fmt(x["p95_ms"], 1))
    srow("p99 latency ms", lambda x: fmt(x["p99_ms"], 1), lambda x: fmt(x["p99_ms"], 1))
    srow("SLO misses %", lambda x: pct(x["slo_miss_share"]), lambda x: pct(x["slo_miss_share"]))
    srow("cold starts", lambda x: fmt(x["cold_starts"]), lambda x: fmt(x["cold_starts"]))
    srow("replica-seconds", lambda x: fmt(x["replica_seconds"], 0),
         lambda x: fmt(x["replica_seconds"], 0))
    srow("mean replicas", lambda x: fmt(x["replica_seconds"] / x["samples"], 2)
         if x["samples"] else "n/a", lambda x: fmt(x["mean_replicas"], 2))
    srow("peak replicas", lambda x: fmt(x["peak_replicas"]), lambda x: fmt(x["peak_replicas"]))
    srow("scale-ups / scale-downs",
         lambda x: f"{events(x, 'scale_up_events')} / {events(x, 'scale_down_events')}",
         lambda x: f"{fmt(x['scale_ups'])} / {fmt(x['scale_downs'])}")
    out.append("")
    sr = r["ratios_hybrid_over_reactive"]["simulated"]
    out.append(f"Hybrid / reactive in simulation: p99 {fmt(sr['p99'], 3)}, replica-seconds "
               f"{fmt(sr['replica_seconds'], 3)}.\n")
    out.append("**Where simulation and reality differ.** " + live_vs_sim_reading(r))
    out.append("")


def span(xs, nd=2):
    lo, hi = fmt(min(xs), nd), fmt(max(xs), nd)
    return lo if lo == hi else f"{lo}–{hi}"


def other_work(live):
    shares = [(st, (x.get("cpu") or {}).get("other_share_of_machine")) for st, x in live.items()]
    if any(v is None for _, v in shares):
        return ""
    parts = [f"{pct(v, 0)} % during {st}'s" for st, v in shares]
    parts[0] = parts[0].replace(" % during", " % of the machine during", 1) + " replay"
    return "; other work took " + " and ".join(parts)


def live_vs_sim_reading(r):
    s, cal, live, sim = r["settings"], r["calibration"], r["live"], r["simulated"]
    ref = live["reactive"]
    parts = []
    lows = [r["simulated_over_live"][st]["p99_ms"] for st in r["simulated_over_live"]]
    lows = [x for x in lows if x is not None]
    if lows and max(lows) < 1:
        parts.append(
            f"The simulator's latencies are lower: its p99 is {span(lows)} × the live one "
            "and its p50 is the calibrated service time "
            f"itself ({fmt(sim['reactive']['p50_ms'], 1)} ms against "
            f"{fmt(ref['p50_ms'], 1)} ms live under reactive). It models every request's "
            f"service as fixed at the warm median of one request at a time "
            f"({fmt(cal['warm_median_ms'], 1)} ms) and every replica as having a CPU of its "
            f"own, while here up to {ref['peak_replicas']} replicas, the gateway and the load "
            f"generator share {s['nproc']} CPUs (system CPU "
            f"{fmt(ref['mean_system_cpu_percent'], 0)} % on average under reactive"
            + (f", of which other work on the shared machine took "
               # Machine-wide less inferd's and the load test's CPU time:
               # a share below zero is accounting noise between the two.
               f"{pct(max(0.0, ref['cpu']['other_share_of_machine']), 0)} % of all CPU time"
               if ref.get("cpu") else "")
            + "), so a synthesis takes longer whenever more requests run than there are "
            "CPUs, and the queue behind it grows; the simulator has no such contention and "
            "no other tenants.")
    elif lows:
        parts.append(
            f"The simulator's p99 is {span(lows)} × the live one. "
            f"It models service as fixed at {fmt(cal['warm_median_ms'], 1)} ms and every "
            f"replica with a CPU of its own; live, {s['nproc']} CPUs are shared.")
    rs = [r["simulated_over_live"][st]["replica_seconds"] for st in r["simulated_over_live"]]
    rs = [x for x in rs if x is not None]
    if rs:
        text = f"It counts {span(rs)} × the live replica-seconds"
        sim_sd = sim["reactive"]["scale_downs"]
        live_sd = ref["scale_events"].get("scale_down_events")
        dec = ref.get("decisions") or {}
        cpu = dec.get("replica_cpu_percent_mean")
        med = dec.get("replica_cpu_percent_median")
        gate = (ref.get("scale_down_threshold") or {}).get("cpu_percent")
        held = dec.get("last_reason_by_trigger", {}).get("none")
        text += (f"; under reactive the simulated pool scales down {fmt(sim_sd)} times, the "
                 f"live one {fmt(live_sd)} times")
        if med is not None and gate is not None and med >= gate:
            text += (f". The simulator has no replica CPU figure, and the scale-down gate "
                     "counts an unknown figure as below its threshold, so its pool shrinks as "
                     "soon as the stable-window concurrency allows; live, the replicas' CPU "
                     f"(median {fmt(med, 0)} %, mean {fmt(cpu, 0)} % of one core, read once a "
                     "second from `GET /autoscaler/stats`) is above `scale_down_threshold."
                     f"cpu_percent` ({fmt(gate)} %) more than half the time, so the pool stays "
                     f"near its peak of {ref['peak_replicas']}")
            if held:
                text += (f" (outside panic the decision's trigger was `none` for "
                         f"{fmt(dec['seconds_by_trigger'].get('none'))} s, the latest saying "
                         f"\"{held}\")")
        text += (". The simulator also counts draining replicas, which the live samples (ready "
                 "+ starting, once a second) do not.")
        parts.append(text)
    h = r["ratios_hybrid_over_reactive"]
    seen = set(live["hybrid"]["triggers"]) | set(
        (live["hybrid"].get("decisions") or {}).get("seconds_by_trigger", {}))
    forecast = sorted(seen & FORECAST_TRIGGERS)
    if h["simulated"]["p99"] == 1 and h["simulated"]["replica_seconds"] == 1:
        text = ("In simulation hybrid and reactive decide alike on this trace (ratio 1 on "
                "both): with only minutes of per-minute history the forecast does not ask for "
                "more than the reactive figure")
        if not forecast:
            text += (", and live no hybrid decision (sampled once a second) nor scale event "
                     "had a forecast trigger either, so the live difference between the two "
                     f"(p99 ratio {fmt(h['live']['p99'], 2)}, replica-seconds ratio "
                     f"{fmt(h['live']['replica_seconds'], 2)}) is most likely the run-to-run "
                     "variation of the same rules on a shared machine (the two replays run "
                     "one after the other" + other_work(live) + "), not a difference of "
                     "policy")
        else:
            text += (f"; live, hybrid decisions had the forecast trigger(s) "
                     f"{', '.join(forecast)}, so the live server's forecast did act")
        parts.append(text + ".")
    return " ".join(parts)

def issue5_cost(res):
    lt = res.get("live_trace")
    spans = [x["offered"]["span_s"] for x in (lt or {}).get("live", {}).values()] \
        if lt and not lt.get("error") else []
    sp = res.get("simulate_policies")
    walls = [c["wall_seconds"] for c in sp.get("results", [])] + \
        [c["wall_seconds"] for c in sp.get("speed", [])] if sp and not sp.get("error") else []
    text = "The policy simulations "
    text += (f"spent {fmt(sum(walls), 1)} s (wall clock) in `inferd simulate` in the last run"
             if walls else "take seconds")
    text += "; the live trace replay plays the compressed trace once per strategy"
    if spans:
        text += f" ({' + '.join(fmt(x, 0) for x in spans)} s in the last run)"
    return (text + ". Both read the Azure trace in place from `../shared/traces/` beside the "
            "repository (`--trace` to point elsewhere); it is never copied into it.")


def summary_rows(res):
    rows = []
    g = res.get("gateway_overhead")
    if g and not g.get("error"):
        f = g["figures"]
        rows.append(("Gateway overhead (`example`, 32 conns)",
                     f"{fmt(f['inferd_requests_per_s'], 0)} req/s, p99 {fmt(f['inferd_p99_ms'])} ms",
                     f"nginx {fmt(f['nginx_requests_per_s'], 0)} req/s, p99 "
                     f"{fmt(f['nginx_p99_ms'])} ms", f"ratio {fmt(g['ratio'], 3)}", "≥ 0.5",
                     verdict(g)))
    else:
        rows.append(("Gateway overhead", "", "", "", "≥ 0.5", verdict(g)))
    s = res.get("synth_overhead")
    if s and not s.get("error"):
        f = s["figures"]
        rows.append(("Real model overhead (cmu_us_slt, c=1)",
                     f"median {fmt(f['served_median_ms'])} ms",
                     f"in-process {fmt(f['inproc_median_ms'])} ms", f"ratio {fmt(s['ratio'], 3)}",
                     "≤ 1.05", verdict(s)))
    else:
        rows.append(("Real model overhead", "", "", "", "≤ 1.05", verdict(s)))
    c = res.get("cold_start")
    if c and not c.get("error"):
        for m in c["figures"]["models"]:
            v = "**pass**" if m["passed"] else "**MISSED**"
            if m["passed"] and not m["max_within_budget"]:
                v += " (max over)"
            rows.append((f"Cold start ({m['model']}, {c['settings']['repeats']}×)",
                         f"cold − warm {fmt(m['cold_extra_ms_median'])} ms median, "
                         f"{fmt(m['cold_extra_ms_max'])} ms max",
                         f"in-process load {fmt(m['inproc_load_ms_median'], 3)} ms",
                         f"budget (load + 10 ms) {fmt(m['budget_ms'])} ms",
                         "median ≤ budget", v))
    else:
        rows.append(("Cold start", "", "", "", "median ≤ load + 10 ms", verdict(c)))
    sp = res.get("spike_reaction")
    if sp and not sp.get("error"):
        fs = sp["figures"]
        h = fs["autoscaled"][fs.get("headline_repeat", 0)]
        n = sp["settings"]["need"]
        rows.append((f"Spike reaction (cmu_us_slt, 1 → {sp['settings']['clients_after']} "
                     "clients)",
                     f"{n} ready after {fmt(h['reaction_s'])} s; p99 (first 30 s) "
                     f"{fmt(h['window_p99_ms'], 0)} ms",
                     f"pool fixed at {n}: p99 {fmt(fs['fixed']['window_p99_ms'], 0)} ms",
                     f"p99 ratio {fmt(sp.get('ratio'), 2)}",
                     f"reaction ≤ 2 × 2 s + load = {fmt(h.get('budget_s'))} s", verdict(sp)))
    else:
        rows.append(("Spike reaction", "", "", "", "≤ 2 decisions + load time", verdict(sp)))
    z = res.get("zero_scale_saving")
    if z and not z.get("error"):
        au, ma = z["figures"]["auto"], z["figures"]["manual"]
        rows.append(("Zero-scale saving (synthetic 1 GiB)",
                     f"{fmt(au['loaded']['rss_mb'], 1)} → {fmt(au['after']['rss_mb'], 1)} MB RSS "
                     "(autoscaler)",
                     "loaded, same run",
                     f"{fmt(au['saving_rss_percent'])} % saved (manual "
                     f"{fmt(ma['saving_rss_percent'])} %)", "≥ 95 %", verdict(z)))
    else:
        rows.append(("Zero-scale saving", "", "", "", "≥ 95 %", verdict(z)))
    n = res.get("notify_isolation")
    if n and not n.get("error"):
        ph = {p["phase"]: p for p in n["phases"]}
        worst = max((p for p in n["phases"] if p["phase"] != "none"),
                    key=lambda p: p["p50_ratio"])
        rows.append(("Notification isolation (`example`, stuck / failing webhook)",
                     f"p50 {fmt(ph['stuck']['p50_ms'], 3)} ms stuck, "
                     f"{fmt(ph['failing']['p50_ms'], 3)} ms failing",
                     f"no receiver: p50 {fmt(ph['none']['p50_ms'], 3)} ms",
                     f"worst p50 ratio {fmt(worst['p50_ratio'], 3)} ({worst['phase']})",
                     "≤ 1.25", verdict(n)))
    else:
        rows.append(("Notification isolation", "", "", "", "≤ 1.25", verdict(n)))
    sp = res.get("simulate_policies")
    if sp and not sp.get("error"):
        su = sp["summary"]
        nd = sum(1 for c in sp["results"] if not c["hybrid_dominated_by"])
        slow = max(sp["speed"], key=lambda p: p["wall_seconds"]) if sp["speed"] else None
        rows.append((f"Scaling policies in simulation ({su['cases']} trace × model cases)",
                     f"hybrid not dominated in {nd}/{su['cases']}; beats every baseline by "
                     f"≥ 20 % on a metric in {su['cases_hybrid_beats_every_baseline']}/"
                     f"{su['cases']}",
                     f"{len(sim_baselines(sp))} published baselines, same arrivals",
                     f"slowest policy {fmt(slow['wall_seconds'], 3)} s for "
                     f"{fmt(slow['requests'])} requests" if slow else "",
                     "never dominated; beats all in most cases; < 1 s per 100k", verdict(sp)))
    else:
        rows.append(("Scaling policies in simulation", "", "", "",
                     "never dominated; beats all in most cases", verdict(sp)))
    lt = res.get("live_trace")
    if lt and not lt.get("error"):
        h, rf = lt["live"]["hybrid"], lt["live"]["reactive"]
        ra = lt["ratios_hybrid_over_reactive"]["live"]
        rows.append((f"Live trace replay (Azure ×{lt['settings']['time_scale']:g} time, "
                     f"×{lt['settings']['rate_scale']:g} rate; flite)",
                     f"hybrid p99 {fmt(h['p99_ms'], 0)} ms, {fmt(h['replica_seconds'], 0)} "
                     "replica-s",
                     f"reactive p99 {fmt(rf['p99_ms'], 0)} ms, "
                     f"{fmt(rf['replica_seconds'], 0)} replica-s",
                     f"p99 ratio {fmt(ra['p99'], 3)}, replica-s ratio "
                     f"{fmt(ra['replica_seconds'], 3)}",
                     "≤ 1.10, ≤ 1.25", live_verdict(lt)))
    else:
        rows.append(("Live trace replay", "", "", "", "≤ 1.10, ≤ 1.25", verdict(lt)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", default=os.path.join(B.ROOT, "BENCHMARKS.md"))
    a = ap.parse_args()
    res = {n: load(n) for n in ORDER}
    present = [r for r in res.values() if r]
    machine = next((r["machine"] for r in present if r.get("machine")), B.machine_facts())
    dates = sorted(r["date"] for r in present if r.get("date"))
    revs = sorted({r.get("revision") for r in present if r.get("revision")})

    out = ["# Benchmarks", ""]
    out.append("<!-- Generated by bench/report.py (run by bench/run-all) from bench/results/*.json."
               " Do not edit by hand: rerun `make bench`. -->\n")
    out.append(
        "Three measurements of what the server itself costs (sections 1–3, targets from "
        "issue 2), two of the autoscaler (sections 4–5, targets from issue 3), one of the "
        "scaling-event notifier (section 6), and two of the scaling strategies (sections "
        "7–8, issue 5: every policy in simulation on the Azure trace and on generated ones, "
        "and a live replay of the Azure trace through `inferd loadtest` next to the same "
        "replay in simulation), each "
        "against a reference measured **in the same run** (the machine is shared and noisy, "
        "so only a same-run comparison means anything). These are benchmarks, not timed "
        "tests: `make test` does not run them.\n")
    out.append("## Rerun\n")
    out.append("```sh\nmake bench            # builds, then bench/run-all: every benchmark, "
               "then this file\nbench/run-all         # the same, without the build step\n"
               "bench/gateway_overhead.py   # one benchmark alone -> bench/results/"
               "gateway_overhead.json\nbench/synth_overhead.py\nbench/cold_start.py\n"
               "bench/spike_reaction.py\nbench/zero_scale_saving.py\nbench/notify_isolation.py\n"
               "bench/simulate_policies.py\nbench/live_trace.py\n"
               "bench/report.py       # rewrite this file from bench/results/*.json\n```\n")
    out.append(
        "Each script starts everything it needs (inferd with a config in a temporary "
        "directory; nginx with its own prefix and config, never the system service) on "
        "127.0.0.1 only, bounds every load in time and count, and stops every process it "
        "started when it ends, also on failure or Ctrl-C. It needs `build/inferd`, "
        "`build/bench_synth_inproc`, `wrk` and `nginx` (`scripts/install-deps`). Exit status: "
        "0 target met, 1 target missed, 2 could not run. About 8 minutes in all (spike reaction "
        "about 3.5, zero-scale saving about 1.5) before the two of issue 5; zero-scale saving "
        "needs about 2.5 GB of free memory. " + issue5_cost(res) + "\n")
    out.append("## Machine and run\n")
    out.append("| | |")
    out.append("| --- | --- |")
    out.append(f"| results written | {dates[0] if dates else 'n/a'}"
               + (f" – {dates[-1]}" if len(dates) > 1 and dates[-1] != dates[0] else "") + " |")
    out.append(f"| CPUs (`nproc`) | {machine.get('nproc')} |")
    out.append(f"| CPU model | {machine.get('cpu_model')}"
               + (f" (virtual machine, {machine['hypervisor']})" if machine.get("hypervisor")
                  else "") + " |")
    out.append(f"| memory | {machine.get('mem_total_gb')} GB |")
    out.append(f"| kernel | {machine.get('kernel')} |")
    out.append(f"| inferd revision | {', '.join(revs) if revs else 'n/a'} |")
    out.append(f"| build | `build/` (CMake RelWithDebInfo when made by `make`) |")
    out.append("")
    out.append(
        f"All {machine.get('nproc')} CPUs are shared: by the load generator, the server and "
        "its worker processes, and by other work on the machine (each section gives the load "
        "average before and after). Figures from another machine, or from this one at another "
        "time, will differ; the ratios are what to compare.\n")
    out.append("## Summary\n")
    out.append("| benchmark | inferd | reference (same run) | ratio / difference | target | "
               "result |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for row in summary_rows(res):
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    gateway_section(out, res["gateway_overhead"], res["gateway_overhead_rc8"])
    synth_section(out, res["synth_overhead"])
    cold_section(out, res["cold_start"])
    spike_section(out, res["spike_reaction"])
    zero_section(out, res["zero_scale_saving"])
    notify_section(out, res["notify_isolation"])
    sim_policies_section(out, res["simulate_policies"])
    live_trace_section(out, res["live_trace"])
    out.append("## Notes from profiling (taken once while writing the benchmarks; not rerun by "
               "run-all)\n")
    out.append(
        "- Cold start: `perf record` over 200 runs of `inferd --version` puts about a third of "
        "the process's samples in the dynamic loader's symbol lookup and relocation "
        "(`do_lookup_x`, `_dl_relocate_object`, `_dl_lookup_symbol_x`, `strcmp`) and most of "
        "the rest in page faults and mapping; `perf stat` counts 4.6 ms of CPU and 912 page "
        "faults per start against 0.7 ms and 49 for `/bin/true`. Every worker is the whole "
        "`inferd` binary, linked against all backends (`libespeak-ng` brings `libpcaudio` and "
        "with it PulseAudio, ALSA, X11/xcb, libsndfile, FLAC/Vorbis/Opus/mp3, dbus, systemd, "
        "gcrypt), whatever model it serves.")
    out.append(
        "- Gateway: `perf record` of the gateway under this load shows about 56 % of its "
        "samples in the kernel, the top kernel symbols being `_raw_spin_unlock_irqrestore` and "
        "`finish_task_switch` (wake-ups of other processes); user-space time is spread thin "
        "(printf-family formatting of the JSON answer and headers, malloc/free, "
        "http_parser). `strace -c` counts, per request, about 2 `write`s (INFER frame to the "
        "worker, answer to the client), 1.1 `read`s and 1.1 `epoll_ctl` calls: each "
        "`uv_write` that completes at once is followed, on the next loop turn, by an "
        "`epoll_ctl(EPOLL_CTL_MOD)` that sets the same `EPOLLIN` interest again on that "
        "descriptor (libuv 1.44's write-completion path re-queues the watcher); trying "
        "`uv_try_write` first would probably save that system call. A small cost next to the "
        "wake-ups.")
    out.append(
        "- `GET /health` is not cheap either: it calls `pool_get_info()` for every model only "
        "to read its state, and that reads `/proc/PID/status` of every replica "
        "(`pool_get_info()` → `replica_memory_mb()` → `procfs_rss_mb()` in "
        "`src/metrics/procfs.c`), i.e. "
        "open/fstat/read/close per replica per request, synchronously on the event loop. "
        "With 2 replicas `strace -c` counted 2 `openat`, 2 `newfstatat`, 2 `close` and 3 "
        "`read`s (one of them the socket) per `/health`, and wrk measured about 26 µs of gateway CPU per `/health` "
        "against about 10 µs for a 404 answer. `GET /models` does the same, where the memory "
        "figure is actually wanted.\n")
    out.append(
        "- Run-to-run variation of the cold start (bench/cold_start.py, 15 repeats unless "
        "noted, run 10 times on this machine while other jobs were running on it): the flite "
        "median cold − warm was 9.85 (7 repeats), 7.88 (3 repeats), 8.43, 19.74, 8.52, 13.11, "
        "18.87, 13.93, 7.43 and 8.83 ms — over its 10.04 ms budget in 4 of the 10 runs; "
        "eSpeak NG's (5 runs) was 12.69, 11.61, 10.90, 10.98 and 11.71 ms against budgets of "
        "12.6–13.0 ms, always within. In every run spawn → READY alone was 6.6–10 ms for "
        "flite and about 10–11 ms for eSpeak NG, so the flite verdict turns on whether the "
        "machine is busy during the 15 cold requests.\n")
    out.append("## Raw results\n")
    out.append("Every figure above, with per-round and per-request samples, is in "
               "`bench/results/*.json` (one file per benchmark, written by its script).\n")
    text = "\n".join(out)
    with open(a.output + ".part", "w") as fh:
        fh.write(text)
    os.replace(a.output + ".part", a.output)
    B.log(f"wrote {os.path.relpath(a.output, B.ROOT)}")


if __name__ == "__main__":
    main()
