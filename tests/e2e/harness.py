"""Start the real inferd binary and talk HTTP to it.

Each test gets a server on a free loopback port (port 0, read back from the
"listening" log line), a temporary data directory and config file, and its
stderr captured to a file that is printed when a test fails. Every process
a test starts is stopped in tearDown, workers included.

Two ways to get a server:
  * ServerTestCase.start_server() inside a test: one server for that test.
  * SharedServerTestCase: one server for a whole class (setUpClass), for
    tests that do not change the server's state in ways the others see.

Everything that waits uses wait_for() with a deadline; nothing assumes a
fast machine.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("INFERD_BIN", os.path.join(ROOT, "build", "inferd"))

# Short windows so that tests finish quickly; tests wait on conditions with
# deadlines, never on fixed sleeps that assume a fast machine.
FAST_SERVER = {
    "port": 0,
    "header_timeout_ms": 1500,
    "body_timeout_ms": 1500,
    "idle_timeout_ms": 5000,
    "shutdown_timeout_ms": 5000,
    "health_check_interval_ms": 1000,
}

# The serving-core tests size pools by hand: the autoscaler stays off and
# models start at zero replicas unless they say otherwise. Autoscaler tests
# pass their own section.
MANUAL_AUTOSCALER = {"enabled": False, "replicas": {"default_replicas": 0}}

# Autoscaler tests: the autoscaler on, with windows short enough for a
# test; a test overrides what it exercises with autoscaler_section().
FAST_AUTOSCALER = {
    "enabled": True,
    "timing": {"decision_interval_seconds": 0.5, "metrics_collection_interval_seconds": 0.5},
    "reactive": {"stable_window_seconds": 2, "panic_window_seconds": 1},
}


def autoscaler_section(overrides=None, base=None):
    """FAST_AUTOSCALER (or base) with overrides merged in, object by object."""
    def merge(a, b):
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out
    return merge(FAST_AUTOSCALER if base is None else base, overrides or {})


# Handy model entries.
EXAMPLE = {"name": "example", "backend": "example", "params": {}, "min_replicas": 1}


def model(name, backend, params=None, **fields):
    """A model entry for a config file."""
    entry = {"name": name, "backend": backend, "params": params or {}}
    entry.update(fields)
    return entry


# The example model pinned at its one replica (never scaled to zero).
PINNED = dict(EXAMPLE, always_loaded=True)
# An auto-managed model that loads in milliseconds: one replica at start,
# at most three.
ELASTIC = model("el", "synthetic", {"memory_mb": 4}, min_replicas=0, max_replicas=3,
                initial_replicas=1)
# The autoscaler runs but moves nothing by itself: no load, and its own
# shrink and zero-scale windows are an hour long. Every event is the test's.
QUIET = autoscaler_section({
    "scale_down_threshold": {"idle_time_minutes": 60},
    "zero_scale_threshold": {"idle_time_minutes": 60, "no_requests_minutes": 60},
    "cooldowns": {"scale_up_cooldown_seconds": 60, "scale_down_cooldown_seconds": 120,
                  "zero_scale_cooldown_seconds": 120},
})


def start_with_config_file(test, directory, text, name="config.json"):
    """Starts `inferd serve` on a config file holding text (a string, or an
    object written as JSON) in directory, expecting it to refuse and exit.
    Returns (path, exit status, stderr); fails the test if it runs on."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text if isinstance(text, str) else json.dumps(text))
    try:
        proc = subprocess.run(
            [BINARY, "serve", "--config", path, "--port", "0",
             "--data-dir", os.path.join(directory, "data")],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        test.fail("inferd started (or hung) with a bad configuration")
    return path, proc.returncode, proc.stderr.decode("utf-8", "replace")


def wait_for(condition, timeout=20.0, interval=0.05, message="condition"):
    """Polls condition() until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def is_inferd_worker(pid):
    """True when pid is (still) an `inferd worker` process, so that cleanup
    never signals an unrelated process that reused the pid."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return len(argv) > 1 and argv[1] == b"worker" and pid_alive(pid)


def process_state(pid):
    """The one-letter state of pid from /proc (R, S, T, Z, ...), or None
    when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return None


def run_concurrently(functions, timeout=60.0):
    """Runs each function in its own thread, all released at once by a
    barrier; returns their results in order (re-raises the first error)."""
    results = [None] * len(functions)
    errors = [None] * len(functions)
    barrier = threading.Barrier(len(functions))

    def run(i, fn):
        try:
            barrier.wait(timeout)
            results[i] = fn()
        except BaseException as e:  # reported to the caller below
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i, fn), daemon=True)
               for i, fn in enumerate(functions)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            raise AssertionError(f"a concurrent request did not finish within {timeout} s")
    for e in errors:
        if e is not None:
            raise e
    return results


class Background:
    """Runs fn() in a thread; result() waits for it with a deadline."""

    def __init__(self, fn):
        self._value = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn):
        try:
            self._value = fn()
        except BaseException as e:
            self._error = e

    def done(self):
        return not self._thread.is_alive()

    def result(self, timeout=60.0):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"background request did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value


class Response:
    def __init__(self, status, headers, body, reason=""):
        self.status = status
        self.headers = headers
        self.body = body
        self.reason = reason

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


class RawConnection:
    """A plain TCP connection for tests that need control over the bytes:
    pipelining, 100-continue, oversize heads, stalled clients."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk

    def read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self):
        """Reads one response with a Content-Length body (inferd always
        sends one). Returns a Response; 1xx interim answers are returned
        as such too."""
        head = self.read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise AssertionError(f"not an HTTP status line: {lines[0]!r}")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0")) if status >= 200 else 0
        body = self.read_exact(length)
        return Response(status, headers, body, parts[2] if len(parts) > 2 else "")

    def closed_by_server(self, timeout=5.0):
        """True when the server closes the connection (EOF or reset) within
        timeout, once any buffered bytes are read and dropped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def http_request(method, path, body=None, headers=None, content_type="application/json"):
    """Bytes of one HTTP/1.1 request (for RawConnection)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if body is not None:
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class Server:
    """One running `inferd serve`."""

    def __init__(self, models=None, server=None, extra_args=(), config=True, autoscaler=None,
                 env=None, new_session=False, data_dir=None):
        self.dir = tempfile.mkdtemp(prefix="inferd-test-")
        self.log_path = os.path.join(self.dir, "server.log")
        # data_dir: reuse a data directory (the event store) that outlives
        # this server, e.g. to start a second server on a first one's data;
        # the caller creates and removes it. By default it is private.
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        args = [BINARY, "serve", "--data-dir", self.data_dir,
                "--log-level", "debug"]
        self.config_path = None
        if config:
            doc = {"server": dict(FAST_SERVER, **(server or {})),
                   "autoscaler": MANUAL_AUTOSCALER if autoscaler is None else autoscaler,
                   "models": models or []}
            self.config_path = os.path.join(self.dir, "config.json")
            with open(self.config_path, "w") as f:
                json.dump(doc, f)
            args += ["--config", self.config_path]
        args += list(extra_args)
        self.log = open(self.log_path, "wb")
        # new_session: the server leads its own process group (and session),
        # so that a test can signal that group without reaching itself.
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env,
                                     start_new_session=new_session)
        self.port = None
        self.worker_pids = set()

    def wait_listening(self, timeout=20.0):
        def listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"inferd exited early ({self.proc.returncode}):\n"
                                     + self.read_log())
            for line in self.read_log().splitlines():
                if "main: listening" in line:
                    return int(line.split("port=")[1].split()[0])
            return None
        self.port = wait_for(listening, timeout, message="the server to listen")
        return self

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def spawned_workers(self, model_name=None):
        """(model, replica id, pid) of every worker the log says was spawned."""
        out = []
        for m in re.finditer(r"worker spawned model=(\S+) replica=(\d+) pid=(\d+)",
                             self.read_log()):
            if model_name is None or m.group(1) == model_name:
                out.append((m.group(1), int(m.group(2)), int(m.group(3))))
        return out

    def all_worker_pids(self):
        pids = {pid for _, _, pid in self.spawned_workers()}
        return pids | self.worker_pids

    # ---- HTTP ----

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if isinstance(body, (dict, list)) or body is None and method == "POST":
                body = json.dumps(body if body is not None else {}).encode()
                hdrs.setdefault("Content-Type", "application/json")
            elif isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data,
                            resp.reason)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def predict(self, model_name, inputs, **kw):
        return self.post("/predict", {"model_name": model_name, "inputs": inputs}, **kw)

    def synthesize(self, model_name, text, wav=True, **fields):
        body = {"model_name": model_name, "text": text}
        body.update(fields)
        headers = {"Accept": "audio/wav"} if wav else {"Accept": "application/json"}
        return self.post("/synthesize", body, headers=headers)

    def raw(self, data, timeout=10.0, read_until_close=True):
        """Sends raw bytes; returns everything read until the server closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
                if not read_until_close:
                    break
            return b"".join(chunks)

    def connect(self, timeout=10.0):
        return RawConnection(self.port, timeout)

    # ---- models ----

    def model(self, name):
        r = self.get(f"/models/{name}")
        assert r.status == 200, r.body
        m = r.json()["model"]
        for rep in m["replicas"]:
            self.worker_pids.add(rep["pid"])
        return m

    def ready_replicas(self, name):
        return [r for r in self.model(name)["replicas"] if r["state"] in ("ready", "busy")]

    def wait_ready(self, name, count=1, timeout=30.0):
        def enough():
            ready = self.ready_replicas(name)
            return ready if len(ready) >= count else None
        return wait_for(enough, timeout, message=f"{count} ready replica(s) of {name}")

    def wait_in_flight(self, name, exclude_ids=(), timeout=30.0):
        """Waits until a replica of name (not one of exclude_ids) has a
        request in flight; returns that replica's document."""
        def busy():
            for rep in self.model(name)["replicas"]:
                if rep["id"] not in exclude_ids and rep.get("in_flight", 0) > 0:
                    return rep
            return None
        return wait_for(busy, timeout, message=f"a request in flight on {name}")

    def set_replicas(self, name, n):
        return self.post(f"/models/{name}/replicas", {"replicas": n})

    # ---- stopping ----

    def stop(self, timeout=20.0):
        """SIGTERM, then wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("inferd did not stop within %s s after SIGTERM" % timeout)
        return self.proc.returncode

    def cleanup(self):
        pids = self.all_worker_pids() if os.path.exists(self.log_path) else self.worker_pids
        # Stop gracefully where possible, so that the gateway reaps its own
        # workers; a second SIGTERM ends the wait for in-flight requests,
        # and SIGKILL is the last resort.
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # Workers die with the gateway (PDEATHSIG); make sure of it, but
        # only signal processes that are still inferd workers.
        for pid in pids:
            if is_inferd_worker(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()
        report = sanitizer_report(self.read_log())
        shutil.rmtree(self.dir, ignore_errors=True)
        if report:
            raise AssertionError("a sanitizer reported an error in inferd:\n" + report)


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_report(log):
    """The part of a server log from the first sanitizer report on, or ""."""
    starts = [log.find(m) for m in SANITIZER_MARKERS if m in log]
    return log[min(starts):][:20000] if starts else ""


class _Assertions:
    """Assertions shared by both test case kinds."""

    def assertError(self, resp, status, code, mentions=None):
        """resp is the JSON error {"success": false, "error": code,
        "message": ...} with this status; the message names `mentions`."""
        self.assertEqual(resp.status, status, resp.body)
        self.assertTrue((resp.header("content-type") or "").startswith("application/json"),
                        f"error answers are JSON, got {resp.headers}")
        doc = resp.json()
        self.assertIs(doc.get("success"), False, doc)
        self.assertEqual(doc.get("error"), code, doc)
        self.assertIsInstance(doc.get("message"), str, doc)
        self.assertTrue(doc["message"], doc)
        if mentions is not None:
            for word in ([mentions] if isinstance(mentions, str) else mentions):
                self.assertIn(word, doc["message"], doc)
        return doc

    def assertServing(self, srv, model_name="example"):
        """The server still answers a normal request on model_name."""
        r = srv.predict(model_name, [1, 2, 3])
        self.assertEqual(r.status, 200, r.body)
        doc = r.json()
        self.assertIs(doc["success"], True)
        return doc


class ServerTestCase(_Assertions, unittest.TestCase):
    """Starts one server per test from MODELS / SERVER, stops it after."""

    MODELS = []
    SERVER = {}

    def start_server(self, models=None, server=None, **kw):
        srv = Server(self.MODELS if models is None else models,
                     self.SERVER if server is None else server, **kw)
        self.addCleanup(self._finish, srv)
        return srv.wait_listening()

    def _finish(self, srv):
        if self._has_failed() or os.environ.get("INFERD_TEST_VERBOSE"):
            print("\n----- server log -----\n" + srv.read_log()[-20000:])
        srv.cleanup()

    def _has_failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(test is self for test, _ in result.failures + result.errors)


class SharedServerTestCase(_Assertions, unittest.TestCase):
    """One server for the whole class, started in setUpClass from MODELS /
    SERVER and stopped in tearDownClass. For tests that leave the server as
    they found it. A failing test prints the tail of the shared log."""

    MODELS = []
    SERVER = {}
    AUTOSCALER = None  # None: MANUAL_AUTOSCALER, as for ServerTestCase
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.MODELS, cls.SERVER, autoscaler=cls.AUTOSCALER)
        try:
            cls.server.wait_listening()
        except BaseException:
            print("\n----- server log -----\n" + cls.server.read_log()[-20000:])
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.cleanup()
            cls.server = None

    def setUp(self):
        self.addCleanup(self._print_log_on_failure)

    def _print_log_on_failure(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        failed = result is not None and any(
            test is self for test, _ in result.failures + result.errors)
        if failed or os.environ.get("INFERD_TEST_VERBOSE"):
            print("\n----- server log (shared) -----\n" + self.server.read_log()[-8000:])
