"""The autoscaler at work: a step of load on a flite voice grows the pool
and it shrinks back when the load ends; an idle model goes to zero
replicas, its memory is released (measured in /proc), and the next
request cold-starts it; a model whose load fails is not restarted again
and again when nobody is waiting for it."""

import os
import threading
import time
import unittest

from harness import ServerTestCase, autoscaler_section, model, pid_alive, wait_for


def vm_rss_mb(pid):
    """Resident memory of pid in MB from /proc, 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def child_pids(pid):
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def tree_rss_mb(pid):
    """Resident memory of pid and all its descendants, in MB."""
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += vm_rss_mb(p)
        todo += child_pids(p)
    return total


TEXT = "The quick brown fox jumps over the lazy dog. " * 2  # ~150 ms of synthesis here


class LoadStepTest(ServerTestCase):
    MODELS = [model("tts", "flite", {"voice": "cmu_us_slt"}, min_replicas=1, max_replicas=4,
                    initial_replicas=1)]
    AUTOSCALER = autoscaler_section({
        "zero_scaling_enabled": False,
        "scale_down_threshold": {"idle_time_minutes": 0.05},
        "cooldowns": {"scale_up_cooldown_seconds": 1, "scale_down_cooldown_seconds": 1,
                      "zero_scale_cooldown_seconds": 0},
        "reactive": {"target_concurrency": 1, "stable_window_seconds": 4,
                     "panic_window_seconds": 1},
    })
    CLIENTS = 7
    LOAD_SECONDS = 8.0

    def test_a_step_of_load_grows_the_pool_and_it_shrinks_back_after(self):
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        first = srv.wait_ready("tts", 1)
        self.assertEqual(len(first), 1)
        original_pid = first[0]["pid"]

        stop_at = time.monotonic() + self.LOAD_SECONDS
        statuses, lock = [], threading.Lock()

        def client():
            while time.monotonic() < stop_at:
                r = srv.synthesize("tts", TEXT, wav=True)
                with lock:
                    statuses.append(r.status)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(self.CLIENTS)]
        load_started = time.monotonic()
        for t in threads:
            t.start()
        # During the load: more than one ready replica, within the load.
        grown = wait_for(lambda: (lambda n: n if n > 1 else None)(len(srv.ready_replicas("tts"))),
                         self.LOAD_SECONDS, 0.1, "the pool to grow under load")
        reaction = time.monotonic() - load_started
        peak = grown
        while any(t.is_alive() for t in threads) and time.monotonic() < stop_at + 60:
            peak = max(peak, len(srv.ready_replicas("tts")))
            time.sleep(0.2)
        for t in threads:
            t.join(60)
            self.assertFalse(t.is_alive(), "a client did not finish")
        load_ended = time.monotonic()

        self.assertGreater(len(statuses), self.CLIENTS, "too few requests to be a load")
        self.assertEqual(set(statuses), {200}, "every request of the load is answered")
        self.assertGreater(peak, 1)
        self.assertLessEqual(peak, 4, "never above max_replicas")
        # Reacts within a few decision intervals (0.5 s) plus flite's load.
        self.assertLess(reaction, 5.0, f"took {reaction:.1f} s to add a replica")

        # After the load: back to one replica (stable window 4 s + idle 3 s).
        def shrunk():
            reps = srv.model("tts")["replicas"]
            return reps if len(reps) == 1 and reps[0]["state"] in ("ready", "busy") else None
        left = wait_for(shrunk, 30, 0.2, "the pool to shrink back to one replica")
        shrink_time = time.monotonic() - load_ended
        pids = {pid for _, _, pid in srv.spawned_workers("tts")}
        self.assertGreater(len(pids), 1)
        for pid in pids - {left[0]["pid"]}:
            wait_for(lambda: not pid_alive(pid), 10, message=f"drained worker {pid} to exit")
        # Not before the load was gone from the idle window (3 s).
        self.assertGreater(shrink_time, 2.0, "shrank before the idle window passed")

        stats = srv.get("/autoscaler/stats").json()
        sm = stats["scaling_metrics"]
        self.assertGreaterEqual(sm["scale_up_events_24h"], 1, sm)
        self.assertGreaterEqual(sm["scale_down_events_24h"], 1, sm)
        self.assertIsInstance(sm["average_scale_up_time_seconds"], (int, float), sm)
        self.assertIsInstance(sm["average_scale_down_time_seconds"], (int, float), sm)
        self.assertEqual(stats["autoscaler"]["current_scale"], 1, stats["autoscaler"])
        self.assertEqual(stats["performance_metrics"]["requests_per_minute"], len(statuses))
        self.assertEqual(srv.model("tts")["desired_replicas"], 1)
        self.assertIn(original_pid, pids)
        # Still serving after all that.
        r = srv.synthesize("tts", "Still here.", wav=False)
        self.assertEqual(r.status, 200, r.body[:300])


class ZeroScaleTest(ServerTestCase):
    MEMORY_MB = 200
    MODELS = [model("big", "synthetic", {"memory_mb": MEMORY_MB}, min_replicas=0, max_replicas=2,
                    initial_replicas=1)]
    AUTOSCALER = autoscaler_section({
        "zero_scaling_enabled": True,
        "zero_scale_threshold": {"idle_time_minutes": 0.05, "no_requests_minutes": 0.05},
        "cooldowns": {"zero_scale_cooldown_seconds": 0},
    })

    def test_an_idle_model_goes_to_zero_releases_its_memory_and_comes_back(self):
        launched = time.monotonic()
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        gateway = srv.proc.pid
        rep = srv.wait_ready("big", 1)[0]
        pid = rep["pid"]
        worker_rss = vm_rss_mb(pid)
        tree_before = tree_rss_mb(gateway)
        self.assertGreaterEqual(worker_rss, self.MEMORY_MB * 0.95,
                                f"the worker holds its {self.MEMORY_MB} MB ({worker_rss:.0f})")
        self.assertIn(pid, child_pids(gateway))
        self.assertGreaterEqual(tree_before, worker_rss)
        if srv.model("big")["replicas"] == []:
            self.fail("zero-scaled before we could measure (window is 3 s)")

        wait_for(lambda: srv.model("big")["replicas"] == [], 20, 0.1,
                 "the idle model to go to zero replicas")
        zero_at = time.monotonic()
        self.assertGreaterEqual(zero_at - launched, 3.0, "went to zero before its 3 s window")
        wait_for(lambda: not pid_alive(pid), 10, message=f"worker {pid} to exit")
        self.assertEqual(srv.model("big")["state"], "unloaded")

        tree_after = tree_rss_mb(gateway)
        released = tree_before - tree_after
        self.assertGreaterEqual(released, self.MEMORY_MB * 0.95,
                                f"gateway + workers: {tree_before:.0f} MB before, "
                                f"{tree_after:.0f} MB after zero-scale")

        stats = srv.get("/autoscaler/stats").json()
        self.assertEqual(stats["scaling_metrics"]["zero_scale_events_24h"], 1, stats)
        self.assertEqual(stats["autoscaler"]["current_scale"], 0)
        self.assertEqual(stats["models"]["loaded_models"], 0)
        self.assertEqual(stats["models"]["unloaded_models"], 1)
        self.assertIsNone(stats["scaling_metrics"]["cold_start_time_seconds"])

        # The next request brings it back.
        started = time.monotonic()
        r = srv.predict("big", [1])
        took = time.monotonic() - started
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.json()["model_info"]["cold_start"], True)
        back = srv.wait_ready("big", 1)[0]
        self.assertNotEqual(back["pid"], pid)
        self.assertGreaterEqual(vm_rss_mb(back["pid"]), self.MEMORY_MB * 0.95)
        cold = srv.get("/autoscaler/stats").json()["scaling_metrics"]["cold_start_time_seconds"]
        self.assertIsInstance(cold, (int, float))
        self.assertGreater(cold, 0)
        self.assertLessEqual(cold, took + 0.5, "a cold start longer than the request that saw it")
        self.assertEqual(srv.model("big")["cold_starts"], 1)


class FailedLoadTest(ServerTestCase):
    MODELS = [
        dict(model("example", "example"), always_loaded=True),
        model("broken", "synthetic", {"fail_load": True, "load_time_ms": 20}, min_replicas=0,
              max_replicas=1, initial_replicas=0),
    ]
    STABLE_WINDOW = 3.0
    AUTOSCALER = autoscaler_section({
        "reactive": {"stable_window_seconds": STABLE_WINDOW, "panic_window_seconds": 1},
        "cooldowns": {"scale_up_cooldown_seconds": 0},
    })

    def test_a_model_whose_load_failed_is_not_restarted_while_nobody_waits(self):
        srv = self.start_server(autoscaler=self.AUTOSCALER)
        srv.wait_ready("example")
        r = srv.predict("broken", [1])
        self.assertError(r, 503, "model_load_failed", "broken")
        answered = time.monotonic()
        # The request is answered; nothing waits for the model now. Watch
        # it for the stable window and a few decision intervals: the one
        # load that request caused is the only one.
        while time.monotonic() < answered + self.STABLE_WINDOW + 2.0:
            time.sleep(0.1)
        spawned = srv.spawned_workers("broken")
        self.assertEqual(len(spawned), 1,
                         f"{len(spawned)} loads of a failing model within "
                         f"{self.STABLE_WINDOW + 2.0:.0f} s for one request that was already "
                         "answered")
        m = srv.model("broken")
        self.assertEqual(m["replicas"], [])
        self.assertEqual(m["desired_replicas"], 0, m)
        self.assertServing(srv)


if __name__ == "__main__":
    unittest.main()
