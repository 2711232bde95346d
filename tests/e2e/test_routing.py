"""Concurrent requests to one model are spread over its replicas
(least-outstanding routing), not piled on one."""

import collections
import unittest

from harness import EXAMPLE, ServerTestCase, model, run_concurrently

CPU_MS = 300


class RoutingTest(ServerTestCase):
    MODELS = [
        EXAMPLE,
        model("busy", "synthetic", {"cpu_ms_per_request": CPU_MS},
              min_replicas=3, max_replicas=3),
    ]

    def test_concurrent_requests_spread_over_replicas(self):
        srv = self.start_server()
        ready = srv.wait_ready("busy", 3)
        ids = {r["id"] for r in ready}
        self.assertEqual(len(ids), 3)

        results = run_concurrently([lambda: srv.predict("busy", [1]) for _ in range(6)])
        used = collections.Counter()
        for r in results:
            self.assertEqual(r.status, 200, r.body)
            doc = r.json()
            # The worker really burnt its CPU time for each request.
            self.assertGreaterEqual(doc["result"]["cpu_ms"], CPU_MS * 0.95, doc)
            self.assertIn(doc["model_info"]["replica"], ids)
            used[doc["model_info"]["replica"]] += 1

        self.assertGreaterEqual(len(used), 2, f"all requests went to one replica: {used}")
        # Six requests released together on three idle replicas with one
        # slot each: the first three take one replica each.
        self.assertEqual(len(used), 3, f"replicas used: {dict(used)}")
        self.assertLessEqual(max(used.values()), 3, dict(used))

        served = {r["id"]: r["requests_served"] for r in srv.model("busy")["replicas"]}
        self.assertEqual(sum(served.values()), 6, served)
        self.assertEqual(served, dict(used))
        self.assertGreaterEqual(sum(1 for n in served.values() if n > 0), 2, served)

    def test_least_outstanding_routing_balances_replicas_with_many_slots(self):
        # With four slots per replica, "any free slot" would pile requests
        # on one replica; least-outstanding gives each of three replicas two.
        srv = self.start_server(models=[
            EXAMPLE,
            model("wide", "synthetic", {"cpu_ms_per_request": CPU_MS},
                  min_replicas=3, max_replicas=3, replica_concurrency=4),
        ])
        ids = {r["id"] for r in srv.wait_ready("wide", 3)}
        results = run_concurrently([lambda: srv.predict("wide", [1]) for _ in range(6)])
        used = collections.Counter()
        for r in results:
            self.assertEqual(r.status, 200, r.body)
            used[r.json()["model_info"]["replica"]] += 1
        self.assertEqual(set(used), ids, dict(used))
        self.assertEqual(sorted(used.values()), [2, 2, 2], dict(used))

    def test_replica_concurrency_limits_requests_per_replica(self):
        # With one replica of concurrency 1, requests queue and run one at
        # a time: each later one waits roughly one request's CPU time more.
        srv = self.start_server(models=[
            EXAMPLE,
            model("single", "synthetic", {"cpu_ms_per_request": 200},
                  min_replicas=1, max_replicas=1),
        ])
        srv.wait_ready("single")
        results = run_concurrently([lambda: srv.predict("single", [1]) for _ in range(3)])
        waits = sorted(r.json()["queue_time_ms"] for r in results)
        for r in results:
            self.assertEqual(r.status, 200, r.body)
        self.assertLess(waits[0], 150, waits)
        self.assertGreaterEqual(waits[1], 150, waits)
        self.assertGreaterEqual(waits[2], 350, waits)


if __name__ == "__main__":
    unittest.main()
