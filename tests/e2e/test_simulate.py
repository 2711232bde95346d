"""`inferd simulate` as a user runs it: the real binary on generated traces
and on small CSV files written to a temporary directory, JSON output for
every policy, and clear refusals of bad input (exit code 2, the line or
the known policy names on stderr)."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BINARY, ROOT

POLICIES = ["reactive", "predictive", "hybrid", "kpa", "hpa", "ray_serve", "keep_alive",
            "hybrid_histogram"]
FIELDS = ["policy", "requests", "answered", "cold_starts", "cold_start_share", "mean_ms",
          "p50_ms", "p95_ms", "p99_ms", "max_ms", "slo_ms", "slo_misses", "slo_miss_share",
          "replica_seconds", "peak_replicas", "scale_events", "scale_ups", "scale_downs",
          "simulated_seconds"]
AZURE = os.path.join(os.path.dirname(ROOT), "shared", "traces", "azure-llm-conv-2023.csv")
TIMEOUT = 60


def simulate(*args):
    return subprocess.run([BINARY, "simulate", *args], capture_output=True, text=True,
                          timeout=TIMEOUT)


class SimulateTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="inferd-sim-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_json(self, *args):
        r = simulate(*args, "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def assertSane(self, row, max_replicas, slo_ms):
        for field in FIELDS:
            self.assertIn(field, row)
        n = row["requests"]
        self.assertGreater(n, 0)
        self.assertEqual(row["answered"], n)
        self.assertTrue(0 <= row["cold_starts"] <= n)
        self.assertAlmostEqual(row["cold_start_share"], row["cold_starts"] / n, places=9)
        self.assertAlmostEqual(row["slo_miss_share"], row["slo_misses"] / n, places=9)
        self.assertEqual(row["slo_ms"], slo_ms)
        self.assertTrue(0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"])
        self.assertGreater(row["mean_ms"], 0)
        self.assertTrue(1 <= row["peak_replicas"])
        # Draining replicas may briefly overlap new ones, never more than double.
        self.assertLessEqual(row["peak_replicas"], 2 * max_replicas)
        self.assertGreater(row["replica_seconds"], 0)
        self.assertLessEqual(row["replica_seconds"],
                             row["peak_replicas"] * row["simulated_seconds"] + 1e-6)
        self.assertEqual(row["scale_events"], row["scale_ups"] + row["scale_downs"])


class SimulateOutputTest(SimulateTestCase):
    def test_every_policy_on_a_generated_trace(self):
        rows = self.run_json("--generate", "spike", "--seed", "3", "--duration", "1800",
                             "--policy", "all", "--max-replicas", "6", "--slo-ms", "300")
        self.assertEqual([r["policy"] for r in rows], POLICIES)
        requests = {r["requests"] for r in rows}
        self.assertEqual(len(requests), 1, "every policy sees the same trace")
        for row in rows:
            with self.subTest(policy=row["policy"]):
                self.assertSane(row, 6, 300)
                # 1800 s of trace and the default 1800 s tail.
                self.assertGreaterEqual(row["simulated_seconds"], 3600)

    def test_every_shape_generates(self):
        for shape in ["diurnal", "spike", "onoff", "sparse", "poisson"]:
            with self.subTest(shape=shape):
                rows = self.run_json("--generate", shape, "--policy", "reactive,kpa",
                                     "--duration", "7200")
                self.assertEqual(len(rows), 2)
                for row in rows:
                    self.assertSane(row, 10, 500)

    def test_same_seed_same_output(self):
        args = ["--generate", "onoff", "--seed", "9", "--service-dist", "lognormal",
                "--policy", "all", "--format", "json"]
        a, b = simulate(*args), simulate(*args)
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(a.stdout, b.stdout)
        c = simulate(*args[:3], "10", *args[4:])
        self.assertNotEqual(a.stdout, c.stdout)

    def test_csv_with_tokens_and_per_minute_counts(self):
        rows = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
        for i in range(600):
            rows.append("2023-11-16 18:%02d:%02d.%03d,%d,%d" % (i // 60, i % 60, i, 100 + i,
                                                                 20 + i % 50))
        trace = self.write("requests.csv", "\n".join(rows) + "\n")
        out = self.run_json(trace, "--service-from-tokens", "--policy", "all")
        self.assertEqual(len(out), len(POLICIES))
        for row in out:
            self.assertEqual(row["requests"], 600)
            self.assertSane(row, 10, 500)
            # service_ms = 20 + 0.01 x context + 0.2 x generated >= 22 ms
            self.assertGreaterEqual(row["p50_ms"], 22)

        minutes = self.write("minutes.csv", "minute,count\n0,30\n1,0\n2,120\n10,5\n")
        out = self.run_json(minutes, "--policy", "keep_alive", "--time-scale", "2")
        self.assertEqual(out[0]["requests"], 155)
        out = self.run_json(minutes, "--policy", "keep_alive", "--rate-scale", "2")
        self.assertEqual(out[0]["requests"], 310)

    def test_table_output(self):
        r = simulate("--generate", "poisson", "--duration", "300", "--policy", "hpa,kpa")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("policy"))
        for name in ["requests", "cold%", "p99_ms", "replica_s", "peak", "events"]:
            self.assertIn(name, lines[header])
        self.assertEqual([line.split()[0] for line in lines[header + 1:]], ["hpa", "kpa"])

    @unittest.skipUnless(os.path.exists(AZURE), "the shared Azure trace is not beside the repo")
    def test_azure_trace_all_policies(self):
        rows = self.run_json(AZURE, "--service-from-tokens", "--policy", "all")
        for row in rows:
            self.assertEqual(row["requests"], rows[0]["requests"])
            self.assertGreater(row["requests"], 19000)
            self.assertSane(row, 10, 500)


class SimulateBadInputTest(SimulateTestCase):
    def assertRefused(self, result, *expected):
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        for text in expected:
            self.assertIn(text, result.stderr)
        self.assertEqual(result.stdout, "")

    def test_missing_file(self):
        path = os.path.join(self.dir, "nope.csv")
        self.assertRefused(simulate(path), "cannot open trace", path)

    def test_empty_file(self):
        path = self.write("empty.csv", "")
        self.assertRefused(simulate(path), path + ":1:", "empty")

    def test_unsorted_names_the_line(self):
        path = self.write("unsorted.csv", "TIMESTAMP\n2023-11-16 18:00:01\n2023-11-16 18:00:05\n"
                                          "2023-11-16 18:00:03\n")
        self.assertRefused(simulate(path), path + ":4:", "line 3", "sorted")

    def test_bad_row_names_the_line_and_column(self):
        path = self.write("bad.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                     "2023-11-16 18:00:01,10,20\n2023-11-16 18:00:02,ten,20\n")
        self.assertRefused(simulate(path), path + ":3:", "column 2 (ContextTokens)", "'ten'")

    def test_unknown_policy_lists_the_known_ones(self):
        self.assertRefused(simulate("--generate", "poisson", "--policy", "fastest"),
                           "unknown policy 'fastest'", *POLICIES)

    def test_bad_flag_values(self):
        cases = [
            (["--generate", "poisson", "--concurrency", "0"], "--concurrency"),
            (["--generate", "poisson", "--service-ms", "-5"], "--service-ms"),
            (["--generate", "poisson", "--format", "xml"], "--format"),
            (["--generate", "poisson", "--service-dist", "gamma"], "--service-dist"),
            (["--generate", "poisson", "--min-replicas", "5", "--max-replicas", "2"],
             "--min-replicas"),
            (["--generate", "weekly"], "unknown trace shape 'weekly'"),
            (["--generate", "poisson", "--service-from-tokens"], "ContextTokens"),
            ([], "give a trace file or --generate"),
            (["--generate", "poisson", "--bogus"], "--bogus"),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                self.assertRefused(simulate(*args), expected)


if __name__ == "__main__":
    unittest.main()
