"""GET /metrics: the Prometheus text exposition format.

Two parts. First, the text itself against a running server and traffic the
test sent: every line parses by the format's rules (a strict parser below),
names follow Prometheus conventions, counters rise by exactly the requests
sent, histogram buckets are cumulative and their count matches, and cold
starts and manual scaling events are counted. Second, the real Prometheus
server (Debian's prometheus package) scrapes inferd on loopback and the test
reads a value back through Prometheus's HTTP query API.
"""

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from harness import EXAMPLE, ServerTestCase, SharedServerTestCase, model, wait_for

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
# A label value: anything but an unescaped quote, backslash or newline, with
# the format's three escapes.
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
LABEL = rf"({LABEL_NAME})=({LABEL_VALUE})"
VALUE = r"[+-]?Inf|NaN|[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
SAMPLE_LINE = re.compile(
    rf"(?P<name>{METRIC_NAME})(?:\{{(?P<labels>{LABEL}(?:,{LABEL})*)?\}})? (?P<value>{VALUE})")
HELP_LINE = re.compile(rf"# HELP ({METRIC_NAME}) ((?:[^\\\n]|\\[\\n])*)")
TYPE_LINE = re.compile(rf"# TYPE ({METRIC_NAME}) (counter|gauge|histogram|summary|untyped)")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def unescape(quoted):
    out, i, s = [], 0, quoted[1:-1]
    while i < len(s):
        if s[i] == "\\":
            out.append({"\\": "\\", '"': '"', "n": "\n"}[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_value(text):
    """A value as Go's ParseFloat reads it (Python's float() spells
    infinity without the sign the format allows, hence the table)."""
    special = {"+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf}
    return special[text] if text in special else float(text)


def family_of(sample_name, families):
    """The family a sample belongs to: its own name, or a histogram's name
    without _bucket, _sum or _count."""
    if sample_name in families:
        return sample_name
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample_name[:-len(suffix)]
        if sample_name.endswith(suffix) and families.get(base, {}).get("type") == "histogram":
            return base
    raise AssertionError(f"sample {sample_name} has no # TYPE line before it")


def parse_exposition(text):
    """Parses the text format strictly; returns {family: {"type", "help",
    "samples": [(name, {label: value}, float)]}}. Raises AssertionError on
    anything the format (or inferd's use of it) does not allow: a malformed
    line, a family without HELP and TYPE before its samples, a family split
    in two, a HELP or TYPE given twice, a duplicate series, an empty line, a
    timestamp, a missing final newline."""
    if not text.endswith("\n"):
        raise AssertionError("the text must end with a newline")
    families, finished, current, seen = {}, set(), None, set()
    for number, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {number}: {line!r}"
        if not line:
            raise AssertionError(f"empty {where}")
        m = HELP_LINE.fullmatch(line) or TYPE_LINE.fullmatch(line)
        if line.startswith("#"):
            if not m:
                raise AssertionError(f"malformed comment, {where}")
            name = m.group(1)
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            key = "help" if line.startswith("# HELP") else "type"
            if fam[key] is not None or fam["samples"] or name in finished:
                raise AssertionError(f"{key} given twice or after samples, {where}")
            fam[key] = m.group(2)
            if current and current != name:
                finished.add(current)
            current = name
            continue
        m = SAMPLE_LINE.fullmatch(line)
        if not m:
            raise AssertionError(f"malformed sample, {where}")
        sample_name = m.group("name")
        labels = {}
        if m.group("labels"):
            for lname, lvalue in re.findall(LABEL, m.group("labels")):
                if lname in labels or lname.startswith("__"):
                    raise AssertionError(f"bad or repeated label {lname}, {where}")
                labels[lname] = unescape(lvalue)
        name = family_of(sample_name, families)
        fam = families[name]
        if name != current or fam["type"] is None or fam["help"] is None:
            raise AssertionError(f"sample outside its family's block or before HELP/TYPE, {where}")
        series = (sample_name, tuple(sorted(labels.items())))
        if series in seen:
            raise AssertionError(f"duplicate series, {where}")
        seen.add(series)
        fam["samples"].append((sample_name, labels, parse_value(m.group("value"))))
    return families


def sample(families, name, **labels):
    """The value of the one sample called name whose labels include these."""
    found = [v for fam in families.values() for n, lab, v in fam["samples"]
             if n == name and all(lab.get(k) == v2 for k, v2 in labels.items())]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} samples of {name} {labels}")
    return found[0]


def event_count(families, type_, trigger):
    """inferd_scaling_events_total for that pair; 0 before its first event."""
    return sum(v for _, lab, v in families["inferd_scaling_events_total"]["samples"]
               if lab == {"type": type_, "trigger": trigger})


def check_histogram(test, families, name, **labels):
    """The histogram's buckets for these labels are cumulative, in rising
    le order, end at +Inf, and +Inf equals _count. Returns (count, sum)."""
    buckets = [(parse_value(lab["le"]), v) for n, lab, v in families[name]["samples"]
               if n == name + "_bucket" and all(lab.get(k) == x for k, x in labels.items())]
    test.assertGreater(len(buckets), 1, name)
    les = [le for le, _ in buckets]
    test.assertEqual(les, sorted(les), f"{name} buckets in rising le order")
    test.assertEqual(len(set(les)), len(les), f"{name} has no repeated le")
    test.assertEqual(les[-1], math.inf, f"{name} ends with le=+Inf")
    counts = [v for _, v in buckets]
    test.assertEqual(counts, sorted(counts), f"{name} buckets are cumulative")
    count = sample(families, name + "_count", **labels)
    test.assertEqual(counts[-1], count, f"{name}: +Inf bucket equals _count")
    return count, sample(families, name + "_sum", **labels)


class ParserTest(unittest.TestCase):
    """The strict parser above refuses what the format does not allow, so a
    pass against inferd means something."""

    GOOD = ('# HELP a_total A "quoted" \\\\ help\\n.\n# TYPE a_total counter\n'
            'a_total{m="x\\"y\\\\z\\n"} 3\n'
            "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
            'h_seconds_bucket{le="1"} 1\nh_seconds_bucket{le="+Inf"} 2\n'
            "h_seconds_sum 1.5e0\nh_seconds_count 2\n"
            "# HELP g G.\n# TYPE g gauge\ng NaN\n")

    BAD = [
        ("no final newline", "# HELP g G.\n# TYPE g gauge\ng 1"),
        ("sample before TYPE", "g 1\n"),
        ("HELP missing", "# TYPE g gauge\ng 1\n"),
        ("unknown type", "# HELP g G.\n# TYPE g meter\ng 1\n"),
        ("unquoted label value", "# HELP g G.\n# TYPE g gauge\ng{a=b} 1\n"),
        ("bad escape", '# HELP g G.\n# TYPE g gauge\ng{a="\\t"} 1\n'),
        ("trailing comma", '# HELP g G.\n# TYPE g gauge\ng{a="b",} 1\n'),
        ("bad value", "# HELP g G.\n# TYPE g gauge\ng one\n"),
        ("timestamp", "# HELP g G.\n# TYPE g gauge\ng 1 1700000000000\n"),
        ("duplicate series", "# HELP g G.\n# TYPE g gauge\ng 1\ng 2\n"),
        ("empty line", "# HELP g G.\n# TYPE g gauge\n\ng 1\n"),
        ("family split", "# HELP g G.\n# TYPE g gauge\ng{a=\"1\"} 1\n"
                         "# HELP k K.\n# TYPE k gauge\nk 1\ng{a=\"2\"} 1\n"),
        ("TYPE twice", "# HELP g G.\n# TYPE g gauge\n# TYPE g gauge\ng 1\n"),
        ("bad metric name", "# HELP 1g G.\n# TYPE 1g gauge\n1g 1\n"),
        ("lone backslash in HELP", "# HELP g a \\ b\n# TYPE g gauge\ng 1\n"),
    ]

    def test_good_text_parses(self):
        families = parse_exposition(self.GOOD)
        self.assertEqual(families["a_total"]["help"], 'A "quoted" \\\\ help\\n.')
        self.assertEqual(sample(families, "a_total", m='x"y\\z\n'), 3)
        self.assertTrue(math.isnan(sample(families, "g")))
        self.assertEqual(check_histogram(self, families, "h_seconds"), (2, 1.5))

    def test_bad_text_is_refused(self):
        for situation, text in self.BAD:
            with self.subTest(situation):
                with self.assertRaises(AssertionError):
                    parse_exposition(text)


COLD = model("cold", "synthetic", {"memory_mb": 4}, min_replicas=0, max_replicas=1)
ELASTIC = model("el", "synthetic", {"memory_mb": 4}, min_replicas=0, max_replicas=3)


class MetricsFormatTest(SharedServerTestCase):
    MODELS = [EXAMPLE, COLD, ELASTIC]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server.wait_ready("example")

    def scrape(self):
        r = self.server.get("/metrics")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("content-type"), CONTENT_TYPE)
        return parse_exposition(r.body.decode("utf-8"))

    def test_every_line_parses_and_names_follow_conventions(self):
        self.assertServing(self.server)
        families = self.scrape()
        self.assertGreater(len(families), 10)
        for name, fam in families.items():
            with self.subTest(family=name):
                self.assertTrue(name.startswith("inferd_"), "inferd_ prefix")
                self.assertIn(fam["type"], TYPES)
                self.assertTrue(fam["help"], "a HELP text")
                if fam["type"] == "counter":
                    self.assertTrue(name.endswith("_total"), "counters end in _total")
                else:
                    self.assertFalse(name.endswith("_total"), "only counters end in _total")
                if re.search(r"duration|_time|timestamp|cost", name):
                    self.assertTrue(name.endswith("_seconds"), "times are in seconds")
                if fam["type"] == "histogram":
                    self.assertTrue(name.endswith("_seconds"), name)
                    for n, labels, _ in fam["samples"]:
                        self.assertIn(n, {name + "_bucket", name + "_sum", name + "_count"})
                        self.assertEqual("le" in labels, n.endswith("_bucket"))
        # The families the documentation promises, per model and server-wide.
        for name in ["inferd_requests_total", "inferd_responses_total",
                     "inferd_request_duration_seconds", "inferd_queue_length",
                     "inferd_requests_in_flight", "inferd_replicas", "inferd_replicas_desired",
                     "inferd_cold_starts_total", "inferd_cold_start_duration_seconds",
                     "inferd_scaling_events_total", "inferd_autoscaler_up",
                     "inferd_autoscaler_enabled", "inferd_autoscaler_collector_up",
                     "inferd_autoscaler_collections_total", "inferd_build_info",
                     "inferd_start_time_seconds"]:
            self.assertIn(name, families)
        for m in ("example", "cold", "el"):
            self.assertGreaterEqual(sample(families, "inferd_replicas_desired", model=m), 0)
            for state in ("starting", "ready", "draining"):
                sample(families, "inferd_replicas", model=m, state=state)
            for histogram in ("inferd_request_duration_seconds",
                              "inferd_cold_start_duration_seconds"):
                check_histogram(self, families, histogram, model=m)
        self.assertEqual(sample(families, "inferd_replicas", model="example", state="ready"), 1)
        self.assertEqual(sample(families, "inferd_build_info"), 1)
        version = families["inferd_build_info"]["samples"][0][1]
        self.assertEqual(version, {"version": self.server.get("/health").json()["version"]})
        self.assertLessEqual(sample(families, "inferd_start_time_seconds"), time.time())
        # The autoscaler is off in this server: not up, whatever its clocks.
        self.assertEqual(sample(families, "inferd_autoscaler_enabled"), 0)
        self.assertEqual(sample(families, "inferd_autoscaler_up"), 0)

    def test_counters_rise_by_exactly_the_requests_sent(self):
        before = self.scrape()
        ok, bad = 7, 2
        for i in range(ok):
            self.assertEqual(self.server.predict("example", [i, 1, 2]).status, 200)
        for _ in range(bad):  # reaches the worker, which refuses it: a client error
            self.assertEqual(self.server.predict("example", {"not": "a vector"}).status, 400)
        # A request refused before any model sees it is no model's request.
        self.assertEqual(self.server.predict("no-such-model", [1]).status, 404)
        after = self.scrape()

        def delta(name, **labels):
            return sample(after, name, **labels) - sample(before, name, **labels)

        self.assertEqual(delta("inferd_requests_total", model="example"), ok + bad)
        self.assertEqual(delta("inferd_responses_total", model="example", outcome="success"), ok)
        self.assertEqual(
            delta("inferd_responses_total", model="example", outcome="client_error"), bad)
        for outcome in ("server_error", "dropped", "timeout"):
            self.assertEqual(
                delta("inferd_responses_total", model="example", outcome=outcome), 0)
        count_before, sum_before = check_histogram(self, before,
                                                   "inferd_request_duration_seconds",
                                                   model="example")
        count_after, sum_after = check_histogram(self, after, "inferd_request_duration_seconds",
                                                 model="example")
        self.assertEqual(count_after - count_before, ok + bad)
        self.assertGreater(sum_after, sum_before)
        # Every answered request is in the histogram; nothing is in flight now.
        self.assertEqual(count_after, sum(sample(after, "inferd_responses_total", model="example",
                                                 outcome=o)
                                          for o in ("success", "client_error", "server_error",
                                                    "timeout")))
        self.assertEqual(sample(after, "inferd_requests_in_flight", model="example"), 0)
        self.assertEqual(sample(after, "inferd_queue_length", model="example"), 0)

    def test_cold_start_is_counted_with_its_duration(self):
        before = self.scrape()
        self.assertEqual(sample(before, "inferd_replicas", model="cold", state="ready"), 0)
        started = time.monotonic()
        r = self.server.predict("cold", [1])
        elapsed = time.monotonic() - started
        self.assertEqual(r.status, 200, r.body)
        after = self.scrape()
        self.assertEqual(sample(after, "inferd_cold_starts_total", model="cold")
                         - sample(before, "inferd_cold_starts_total", model="cold"), 1)
        count_before, _ = check_histogram(self, before, "inferd_cold_start_duration_seconds",
                                          model="cold")
        count_after, seconds = check_histogram(self, after, "inferd_cold_start_duration_seconds",
                                               model="cold")
        self.assertEqual(count_after - count_before, 1)
        # The replica was ready before the request was answered.
        self.assertGreater(seconds, 0)
        self.assertLessEqual(seconds, elapsed)
        self.assertEqual(event_count(after, "cold_start", "request")
                         - event_count(before, "cold_start", "request"), 1)

    def test_manual_scaling_event_is_counted_by_type_and_trigger(self):
        before = event_count(self.scrape(), "scale_up", "manual")
        r = self.server.post("/autoscaler/scale", {"action": "scale_up", "models": ["el"],
                                                   "target_replicas": 2,
                                                   "override_cooldown": True,
                                                   "reason": "metrics test"})
        self.assertEqual(r.status, 202, r.body)  # accepted: the replicas are starting
        after = self.scrape()
        self.assertEqual(event_count(after, "scale_up", "manual") - before, 1)
        self.assertEqual(sample(after, "inferd_replicas_desired", model="el"), 2)
        self.server.wait_ready("el", 2)
        families = self.scrape()
        self.assertEqual(sample(families, "inferd_replicas", model="el", state="ready"), 2)
        self.assertEqual(sample(families, "inferd_replicas", model="el", state="starting"), 0)

    def test_other_methods_are_refused(self):
        self.assertError(self.server.post("/metrics", {}), 405, "method_not_allowed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """The real Prometheus server on a free loopback port, scraping one
    target every second, with its data in a temporary directory."""

    def __init__(self, binary, target_port):
        self.dir = tempfile.mkdtemp(prefix="inferd-prometheus-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: inferd\n"
                    "    scrape_interval: 1s\n"
                    "    scrape_timeout: 1s\n"
                    "    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{target_port}']\n")
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def query(self, expr):
        """The instant vector for expr as [(labels, value)], or None while
        Prometheus is not answering yet."""
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited ({self.proc.returncode}):\n"
                                 + self.read_log()[-4000:])
        url = (f"http://127.0.0.1:{self.port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                doc = json.load(resp)
        except OSError:
            return None
        if doc.get("status") != "success":
            raise AssertionError(f"query {expr} failed: {doc}")
        return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrometheusScrapeTest(ServerTestCase):
    MODELS = [model("scraped", "example", min_replicas=1)]

    def test_prometheus_scrapes_inferd_and_answers_queries(self):
        binary = shutil.which("prometheus")
        if not binary:
            self.skipTest("the prometheus server is not installed (scripts/install-deps "
                          "installs Debian's prometheus package)")
        srv = self.start_server()
        srv.wait_ready("scraped")
        sent = 5
        for i in range(sent):
            self.assertEqual(srv.predict("scraped", [i]).status, 200)

        prom = Prometheus(binary, srv.port)
        self.addCleanup(prom.stop)
        try:
            def scraped_value():
                result = prom.query('inferd_requests_total{model="scraped"}')
                return result and result[0][1] == sent and result
            result = wait_for(scraped_value, timeout=60, interval=0.5,
                              message="Prometheus to report inferd_requests_total")
            self.assertEqual(len(result), 1)
            self.assertEqual(result[0][0].get("job"), "inferd")
            self.assertEqual(prom.query('up{job="inferd"}')[0][1], 1)
            count = prom.query('inferd_request_duration_seconds_count{model="scraped"}')
            self.assertEqual(count[0][1], sent)
            ok = prom.query('inferd_responses_total{model="scraped",outcome="success"}')
            self.assertEqual(ok[0][1], sent)
            build = prom.query("inferd_build_info")
            self.assertEqual(build[0][1], 1)
            self.assertTrue(build[0][0].get("version"))
        except BaseException:
            print("\n----- prometheus log -----\n" + prom.read_log()[-8000:])
            raise


if __name__ == "__main__":
    unittest.main()
