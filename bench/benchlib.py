"""Shared helpers for the inferd benchmarks (Python 3 standard library only).

Every benchmark script:
  * starts what it needs itself (inferd with a config written to a temporary
    directory, nginx with its own prefix), on 127.0.0.1 only;
  * stops every process it started when it ends, also on an error or on
    SIGINT/SIGTERM/SIGHUP (`Processes` below: SIGTERM, then SIGKILL of the
    process group it created for that process);
  * measures a reference in the same run and reports a ratio, because the
    machine is shared and noisy;
  * writes bench/results/<name>.json, from which bench/report.py writes
    BENCHMARKS.md.

Environment:
  INFERD_BUILD   build directory holding inferd and bench_synth_inproc
                 (default: <repo>/build)
  BENCH_KEEP_TMP set to 1 to keep the temporary directory (configs, logs)
"""

import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
BUILD = os.environ.get("INFERD_BUILD", os.path.join(ROOT, "build"))
INFERD = os.path.join(BUILD, "inferd")
SYNTH_INPROC = os.path.join(BUILD, "bench_synth_inproc")
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A benchmark could not be carried out (not: a target was missed)."""


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def require_binaries(*paths):
    for p in paths:
        if not os.access(p, os.X_OK):
            raise BenchError(f"{p} is missing; build first: "
                             f"cmake -S {ROOT} -B {BUILD} && cmake --build {BUILD} -j2")


def require_tool(name):
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK)
                                  else None)
    if not path:
        raise BenchError(f"{name} is not installed (scripts/install-deps installs it)")
    return path


# ---------------------------------------------------------------- processes

class _Interrupted(BaseException):
    pass


def _on_signal(signum, _frame):
    # One signal is enough: ignore the next ones so that they cannot cut the
    # cleanup short (Processes.__exit__ stops everything, within bounded time).
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise _Interrupted(f"signal {signum}")


class Processes:
    """Owns the processes a benchmark starts; stops all of them on exit.

    Use as a context manager. Each process gets its own session (so its own
    process group, whose id is the process id); at the end each is sent
    SIGTERM (or its own stop signal), given a grace period, then its group
    is sent SIGKILL so that no child it spawned (inferd workers, nginx
    workers) survives it.
    """

    def __init__(self, name):
        self.name = name
        self.procs = []  # (Popen, stop_signal, grace_seconds, label)
        self.tmp = tempfile.mkdtemp(prefix=f"inferd-bench-{name}-")
        self.failed = False

    def __enter__(self):
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, _on_signal)
        return self

    def start(self, argv, label, stdout=None, stderr=None, stop_signal=signal.SIGTERM,
              grace=15.0, **kw):
        log(f"start {label}: {' '.join(argv)}")
        p = subprocess.Popen(argv, stdout=stdout or subprocess.DEVNULL,
                             stderr=stderr or subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        self.procs.append((p, stop_signal, grace, label))
        return p

    def stop(self, p):
        for entry in list(self.procs):
            if entry[0] is p:
                self._stop_one(*entry)
                self.procs.remove(entry)

    @staticmethod
    def _stop_one(p, stop_signal, grace, label):
        if p.poll() is None:
            try:
                p.send_signal(stop_signal)
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"{label} (pid {p.pid}) did not stop within {grace} s; SIGKILL")
            except ProcessLookupError:
                pass
        # Whatever it left behind in its own process group goes too.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log(f"{label} (pid {p.pid}) still not reaped after SIGKILL")

    def __exit__(self, exc_type, exc, tb):
        # Ignore further signals while cleaning up, so cleanup is not cut short.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        for entry in reversed(self.procs):
            self._stop_one(*entry)
        self.procs.clear()
        failed = exc_type is not None
        if failed:
            keep = os.path.join(RESULTS_DIR, "tmp", self.name)
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(self.tmp, keep, ignore=shutil.ignore_patterns("data"),
                            dirs_exist_ok=True)
            log(f"failed; configs and logs kept in {keep}")
        if os.environ.get("BENCH_KEEP_TMP") == "1":
            log(f"temporary directory kept: {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        if exc_type is _Interrupted:
            log(f"interrupted ({exc}); everything started was stopped")
            sys.exit(130)
        return False


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, message, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


# ------------------------------------------------------------------- inferd

class Inferd:
    """One `inferd serve` started with a config written to procs.tmp."""

    def __init__(self, procs, config, log_level="info"):
        self.procs = procs
        self.config_path = os.path.join(procs.tmp, "inferd.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        self.log_path = os.path.join(procs.tmp, "inferd.log")
        self.log_file = open(self.log_path, "wb")
        argv = [INFERD, "serve", "--config", self.config_path, "--host", HOST, "--port", "0",
                "--data-dir", os.path.join(procs.tmp, "data"), "--log-level", log_level]
        self.proc = procs.start(argv, "inferd", stderr=self.log_file, grace=20.0)
        self.port = wait_for(self._port_from_log, 15, "inferd to listen")
        log(f"inferd pid {self.proc.pid} listening on {HOST}:{self.port}")

    def _port_from_log(self):
        if self.proc.poll() is not None:
            raise BenchError(f"inferd exited with {self.proc.returncode}:\n{self.log_tail()}")
        with open(self.log_path, errors="replace") as f:
            m = re.search(r"main: listening .*\bport=(\d+)", f.read())
        return int(m.group(1)) if m else None

    def log_tail(self, n=30):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError(f"inferd exited with {self.proc.returncode}:\n{self.log_tail()}")

    def connect(self, timeout=60):
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def get_json(self, path):
        conn = self.connect(10)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()

    def post_json(self, path, body):
        conn = self.connect(60)
        try:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()

    def model(self, name):
        status, doc = self.get_json(f"/models/{name}")
        if status != 200:
            raise BenchError(f"GET /models/{name}: {status} {doc}")
        return doc["model"]

    def wait_ready_replicas(self, name, n, timeout=30):
        def ready():
            self.check_alive()
            m = self.model(name)
            live = [r for r in m["replicas"] if r["state"] in ("ready", "busy")]
            return m if len(live) >= n else None
        return wait_for(ready, timeout, f"{n} ready replica(s) of {name}")

    def set_replicas(self, name, n):
        status, doc = self.post_json(f"/models/{name}/replicas", {"replicas": n})
        if status != 202:
            raise BenchError(f"POST /models/{name}/replicas {n}: {status} {doc}")
        return doc

    def cpu_seconds(self):
        """CPU seconds used so far by the gateway and by each live worker."""
        out = {"gateway": proc_cpu_seconds(self.proc.pid)}
        for pid in child_pids(self.proc.pid):
            out[pid] = proc_cpu_seconds(pid)
        return out


# ---------------------------------------------------------------- /proc etc

def proc_cpu_split(pid):
    """(utime, stime) of a live process, in seconds (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def proc_cpu_seconds(pid):
    """utime + stime of a live process, in seconds (None when it is gone)."""
    split = proc_cpu_split(pid)
    return None if split is None else split[0] + split[1]


def child_pids(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def children_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine_facts():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    virt = None
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        m = re.search(r"Hypervisor vendor:\s*(\S+)", out)
        virt = m.group(1) if m else None
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "hypervisor": virt,
            "mem_total_gb": mem_gb, "kernel": platform.release(),
            "python": platform.python_version()}


def git_revision():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ("+uncommitted changes" if dirty else "") if rev else None
    except (OSError, subprocess.TimeoutExpired):
        return None


# -------------------------------------------------------------- statistics

def median(xs):
    return statistics.median(xs) if xs else None


def percentile(xs, p):
    """Nearest-rank percentile, p in (0, 100]."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(1, min(len(s), int(-(-p * len(s) // 100))))
    return s[k - 1]


def rnd(x, nd=3):
    return None if x is None else round(x, nd)


# ------------------------------------------------------ in-process reference

def synth_inproc(backend, params, text, runs, timeout=120):
    """Runs bench_synth_inproc once; returns its JSON report."""
    argv = [SYNTH_INPROC, "--backend", backend, "--params", json.dumps(params), "--text", text,
            "--runs", str(runs)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
        for key in ("load_ms", "median_ms", "runs"):
            out[key]
    except (ValueError, IndexError, KeyError):
        raise BenchError(f"bench_synth_inproc printed no report (is it still a placeholder?): "
                         f"{r.stdout!r} {r.stderr!r}")
    return out


# ----------------------------------------------------------------- results

def write_result(name, result):
    os.makedirs(RESULTS_DIR, exist_ok=True)
    result = dict(result)
    result.setdefault("name", name)
    result["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    result["machine"] = machine_facts()
    result["revision"] = git_revision()
    path = os.path.join(RESULTS_DIR, f"{name}.json")
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    log(f"wrote {os.path.relpath(path, ROOT)}")
    return path


def main_wrapper(name, title, fn):
    """Runs fn(); exits 0 when the target was met, 1 when it was missed.

    On BenchError (the benchmark could not be carried out) it records that in
    bench/results/<name>.json, so that BENCHMARKS.md says so instead of
    showing older figures, and exits 2.
    """
    try:
        ok = fn()
    except (BenchError, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
        if not isinstance(e, BenchError):
            import traceback
            traceback.print_exc()
            e = f"{type(e).__name__}: {e}"
        log(f"{name}: benchmark could not run: {e}")
        write_result(name, {"title": title, "error": str(e), "passed": False, "valid": False,
                            "command": "bench/" + os.path.basename(sys.argv[0]) + " "
                            + " ".join(sys.argv[1:])})
        sys.exit(2)
    sys.exit(0 if ok else 1)
