#!/usr/bin/env python3
"""Gateway overhead: wrk against inferd's POST /predict on the `example` model,
and in the same run wrk against nginx answering the same POST with a fixed
JSON body of the same size, both on 127.0.0.1 with the same wrk settings.

    bench/gateway_overhead.py [--rounds 3] [--duration 10] [--connections 32]
                              [--threads 2] [--replicas 2] [--replica-concurrency 1]

Reported: requests/s of both, the ratio inferd/nginx (target >= 0.5), p99
latency of both (wrk --latency), and the CPU time each process used per
request. The two servers are measured in alternating order over several
rounds (nginx first in odd rounds, inferd first in even ones) so that a
change in the machine's background load hits both; the headline figures are
medians over the rounds.

nginx runs with `worker_processes 1` (one event loop, like inferd's gateway),
`access_log off`, its own prefix in a temporary directory, on a free loopback
port. inferd runs the `example` model with --replicas worker processes
(min_replicas = max_replicas) and --replica-concurrency requests in flight
per worker (default 1, the configuration default).

Writes bench/results/gateway_overhead.json. Exit 0: target met; 1: missed;
2: could not run.
"""

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

BASE_NAME = "gateway_overhead"
TITLE = "Gateway overhead: POST /predict on `example` vs nginx returning fixed JSON"
TARGET_RATIO = 0.5
LUA = os.path.join(B.BENCH_DIR, "wrk", "post.lua")
PREDICT_BODY = {"model_name": "example", "inputs": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}

NGINX_CONF = """\
# Written by bench/gateway_overhead.py for one run; not the system service.
worker_processes 1;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    server_tokens off;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /predict {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}
}}
"""


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of unrecorded wrk first")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--replicas", type=int, default=2, help="replicas of `example`")
    ap.add_argument("--replica-concurrency", type=int, default=1,
                    help="replica_concurrency of `example` (requests in flight per worker)")
    a = ap.parse_args()
    if not (1 <= a.rounds <= 10 and 1 <= a.duration <= 60 and 0 <= a.warmup <= 30
            and 1 <= a.threads <= a.connections <= 1000 and 1 <= a.replicas <= 10 and 1 <= a.replica_concurrency <= 64):
        ap.error("out of range (rounds 1-10, duration 1-60 s, warmup 0-30 s, "
                 "threads <= connections <= 1000, replicas 1-10)")
    return a


def wrk_argv(wrk, a, url, seconds):
    return [wrk, f"-t{a.threads}", f"-c{a.connections}", f"-d{seconds}s", "--latency",
            "--timeout", "5s", "-s", LUA, url]


def run_wrk(wrk, a, url, body, seconds, cpu_probe, main_pid, method="POST"):
    """One bounded wrk run. Returns its figures plus the CPU time used."""
    argv = wrk_argv(wrk, a, url, seconds)
    env = dict(os.environ, BENCH_BODY=body, BENCH_METHOD=method)
    sys0 = B.proc_cpu_split(main_pid)
    cpu0, wrk0, t0 = cpu_probe(), B.children_cpu_seconds(), time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 60)
    wall = time.monotonic() - t0
    cpu1, wrk1 = cpu_probe(), B.children_cpu_seconds()
    sys1 = B.proc_cpu_split(main_pid)
    if r.returncode != 0:
        raise B.BenchError(f"wrk failed ({r.returncode}): {r.stderr.strip()} {r.stdout[-500:]}")
    m = re.search(r"^BENCH_JSON (\{.*\})$", r.stdout, re.M)
    if not m:
        raise B.BenchError(f"wrk printed no BENCH_JSON line:\n{r.stdout}\n{r.stderr}")
    w = json.loads(m.group(1))
    rps = w["requests"] / (w["duration_us"] / 1e6)
    errors = sum(w["errors"].values())
    server_cpu = {k: cpu1.get(k, 0) - v for k, v in cpu0.items() if v is not None
                  and cpu1.get(k) is not None}
    return {
        "requests_per_s": round(rps, 1),
        "requests": w["requests"],
        "errors": w["errors"],
        "errors_total": errors,
        "latency_ms": {k: round(v / 1000, 3) for k, v in w["latency_us"].items()},
        "wall_s": round(wall, 2),
        "cpu_s": {"server_total": round(sum(server_cpu.values()), 3),
                  "server_by_process": {str(k): round(v, 3) for k, v in server_cpu.items()},
                  "wrk": round(wrk1 - wrk0, 3),
                  "main_process_user_sys": [round(sys1[0] - sys0[0], 3),
                                            round(sys1[1] - sys0[1], 3)]},
        "server_cpu_us_per_request": round(sum(server_cpu.values()) / max(1, w["requests"]) * 1e6, 1),
        "wrk_stdout": r.stdout.strip(),
    }


def start_nginx(procs, nginx, body):
    prefix = os.path.join(procs.tmp, "nginx")
    os.makedirs(prefix)
    os.chmod(procs.tmp, 0o755)
    os.chmod(prefix, 0o777)
    port = B.free_port()
    if "'" in body or "\\" in body:
        raise B.BenchError("fixed body must not contain quotes or backslashes")
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(prefix=prefix, port=port, body=body))
    err = open(os.path.join(prefix, "stderr.log"), "wb")
    p = procs.start([nginx, "-p", prefix, "-c", conf, "-e", os.path.join(prefix, "error.log")],
                    "nginx", stderr=err, stop_signal=signal.SIGQUIT, grace=10.0)

    def answers():
        if p.poll() is not None:
            with open(os.path.join(prefix, "error.log"), errors="replace") as f:
                raise B.BenchError(f"nginx exited with {p.returncode}: {f.read()[-2000:]}")
        try:
            c = http.client.HTTPConnection(B.HOST, port, timeout=2)
            c.request("POST", "/predict", json.dumps(PREDICT_BODY),
                      {"Content-Type": "application/json"})
            resp = c.getresponse()
            got = resp.read().decode()
            c.close()
            return resp.status == 200 and got == body
        except OSError:
            return False
    B.wait_for(answers, 15, "nginx to answer")
    workers = B.child_pids(p.pid)
    if len(workers) != 1:
        raise B.BenchError(f"nginx has {len(workers)} worker processes, expected 1")
    B.log(f"nginx master pid {p.pid}, worker pid(s) {workers}, port {port}")

    def cpu_probe():
        out = {"master": B.proc_cpu_seconds(p.pid)}
        for k in B.child_pids(p.pid):
            out[k] = B.proc_cpu_seconds(k)
        return out
    return p, port, workers, cpu_probe


def result_name_for(a):
    return BASE_NAME if a.replica_concurrency == 1 else f"{BASE_NAME}_rc{a.replica_concurrency}"


def run(a):
    result_name = result_name_for(a)
    B.require_binaries(B.INFERD)
    wrk = B.require_tool("wrk")
    nginx = B.require_tool("nginx")
    load_before = B.loadavg()
    config = {
        "server": {"port": 0, "shutdown_timeout_ms": 5000},
        "models": [{"name": "example", "backend": "example", "always_loaded": True,
                    "min_replicas": a.replicas, "max_replicas": a.replicas,
                    "replica_concurrency": a.replica_concurrency,
                    "max_queue_length": 1000}],
    }
    with B.Processes(result_name) as procs:
        srv = B.Inferd(procs, config)
        srv.wait_ready_replicas("example", a.replicas)
        status, sample = srv.post_json("/predict", PREDICT_BODY)
        if status != 200 or not sample.get("success"):
            raise B.BenchError(f"POST /predict answered {status}: {sample}")
        # nginx returns a real inferd answer, byte for byte the same size.
        conn = srv.connect(10)
        conn.request("POST", "/predict", json.dumps(PREDICT_BODY),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        fixed_body = resp.read().decode()
        inferd_headers = resp.getheaders()
        conn.close()
        ngx, ngx_port, ngx_workers, ngx_cpu = start_nginx(procs, nginx, fixed_body)

        targets = {
            # (url, CPU probe, the process whose user/system split is kept)
            "inferd": (f"http://{B.HOST}:{srv.port}/predict", srv.cpu_seconds, srv.proc.pid),
            "nginx": (f"http://{B.HOST}:{ngx_port}/predict", ngx_cpu, ngx_workers[0]),
        }
        body = json.dumps(PREDICT_BODY, separators=(",", ":"))
        if a.warmup:
            for name in ("nginx", "inferd"):
                B.log(f"warm-up {name} {a.warmup} s")
                run_wrk(wrk, a, targets[name][0], body, a.warmup, *targets[name][1:])

        rounds = []
        for i in range(a.rounds):
            order = ("nginx", "inferd") if i % 2 == 0 else ("inferd", "nginx")
            rnd = {"order": list(order)}
            for name in order:
                srv.check_alive()
                B.log(f"round {i + 1}/{a.rounds}: wrk {a.duration} s against {name}")
                rnd[name] = run_wrk(wrk, a, targets[name][0], body, a.duration,
                                    *targets[name][1:])
                B.log(f"  {name}: {rnd[name]['requests_per_s']} req/s, "
                      f"p99 {rnd[name]['latency_ms']['p99']} ms, errors {rnd[name]['errors_total']}")
            rnd["ratio"] = round(rnd["inferd"]["requests_per_s"] / rnd["nginx"]["requests_per_s"], 3)
            rounds.append(rnd)

        # Supplementary: the gateway alone, without a worker hop: the same POST
        # for a model that is not configured is answered 404 by the gateway
        # itself, after reading the body, parsing the JSON and looking the
        # model up (wrk counts the 404s as "status" errors; that is expected).
        B.log(f"probe: wrk {a.duration} s against inferd POST /predict, unknown model (404, "
              "no worker)")
        probe_body = body.replace('"example"', '"not-configured"')
        probe = run_wrk(wrk, a, targets["inferd"][0], probe_body, a.duration,
                        srv.cpu_seconds, srv.proc.pid)
        e = probe["errors"]
        probe["valid"] = (e["status"] == probe["requests"] and e["connect"] == 0
                          and e["read"] == 0 and e["write"] == 0 and e["timeout"] == 0)
        B.log(f"  inferd 404 probe: {probe['requests_per_s']} req/s, "
              f"p99 {probe['latency_ms']['p99']} ms, valid {probe['valid']}")

        after = srv.model("example")
        served = {str(r["id"]): r["requests_served"] for r in after["replicas"]}
        srv.check_alive()
    load_after = B.loadavg()

    def med(name, *path):
        vals = []
        for r in rounds:
            v = r[name]
            for p in path:
                v = v[p]
            vals.append(v)
        return B.rnd(B.median(vals), 3)

    ratio = B.rnd(B.median([r["ratio"] for r in rounds]), 3)
    errors = {n: sum(r[n]["errors_total"] for r in rounds) for n in ("inferd", "nginx")}
    valid = errors["inferd"] == 0 and errors["nginx"] == 0
    passed = valid and ratio >= TARGET_RATIO
    # Shown relative to the repository, so the record names no local path.
    cmd_wrk = " ".join(wrk_argv("wrk", a, "http://127.0.0.1:PORT/predict", a.duration)).replace(
        LUA, os.path.relpath(LUA, os.path.dirname(B.BENCH_DIR)))
    result = {
        "title": TITLE,
        "command": "bench/gateway_overhead.py " + " ".join(sys.argv[1:]),
        "load_command": f"BENCH_BODY='{body}' {cmd_wrk}",
        "settings": {
            "wrk_threads": a.threads, "wrk_connections": a.connections,
            "duration_s": a.duration, "warmup_s": a.warmup, "rounds": a.rounds,
            "keep_alive": True, "request_body_bytes": len(body),
            "response_body_bytes": len(fixed_body),
            "inferd_response_headers": dict(inferd_headers),
            "example_replicas": a.replicas, "replica_concurrency": a.replica_concurrency,
            "nginx": "worker_processes 1, access_log off, `return 200 '<fixed body>'`, "
                     "keepalive_requests unlimited",
            "cpus_shared_by": "wrk (2 threads), the inferd gateway and its "
                              f"{a.replicas} worker processes, or nginx's one worker",
        },
        "figures": {
            "inferd_requests_per_s": med("inferd", "requests_per_s"),
            "nginx_requests_per_s": med("nginx", "requests_per_s"),
            "inferd_p99_ms": med("inferd", "latency_ms", "p99"),
            "nginx_p99_ms": med("nginx", "latency_ms", "p99"),
            "inferd_p50_ms": med("inferd", "latency_ms", "p50"),
            "nginx_p50_ms": med("nginx", "latency_ms", "p50"),
            "inferd_server_cpu_us_per_request": med("inferd", "server_cpu_us_per_request"),
            "nginx_server_cpu_us_per_request": med("nginx", "server_cpu_us_per_request"),
            "errors": errors,
            "requests_served_per_replica": served,
        },
        "reference": "nginx (worker_processes 1) returning the same JSON body, same wrk settings, "
                     "same run",
        "ratio": ratio,
        "ratio_definition": "median over rounds of (inferd requests/s / nginx requests/s)",
        "target": f"ratio >= {TARGET_RATIO}",
        "passed": passed,
        "valid": valid,
        "rounds": rounds,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "nginx_workers": len(ngx_workers),
        "gateway_only_probe": dict(probe, request_body=probe_body,
                                   note="POST /predict for a model that is not configured: "
                                        "answered 404 by the gateway without a worker hop; "
                                        "same wrk settings, once, after the rounds"),
    }
    B.write_result(result_name, result)
    B.log(f"ratio {ratio} (target >= {TARGET_RATIO}): {'PASS' if passed else 'MISS'}"
          + ("" if valid else f"; errors {errors}: result not valid"))
    return passed


if __name__ == "__main__":
    args = parse_args()
    B.main_wrapper(result_name_for(args), TITLE, lambda: run(args))
