"""POST /predict on the example backend is deterministic: the same inputs
give the same number on every request and in every run of the server."""

import math
import unittest

from harness import EXAMPLE, ServerTestCase

INPUTS = [
    [0.5, -1.25, 3, 0, 2, 7, -4, 1, 0.125, 9],
    [1, 2, 3],
    "hello inferd",
    [True, "a", 2.5],
    42,
]


class PredictTest(ServerTestCase):
    MODELS = [EXAMPLE]

    def predict_all(self, srv):
        out = []
        for inputs in INPUTS:
            r = srv.predict("example", inputs)
            self.assertEqual(r.status, 200, r.body)
            doc = r.json()
            self.assertIs(doc["success"], True)
            self.assertIsInstance(doc["result"], float, doc)
            self.assertTrue(math.isfinite(doc["result"]), doc)
            self.assertGreaterEqual(doc["processing_time_ms"], 0)
            self.assertGreaterEqual(doc["queue_time_ms"], 0)
            self.assertEqual(doc["model_info"]["model"], "example")
            self.assertIsInstance(doc["model_info"]["replica"], int)
            self.assertIs(doc["model_info"]["cold_start"], False)
            out.append(doc["result"])
        return out

    def test_predict_returns_same_number_on_every_request(self):
        srv = self.start_server()
        srv.wait_ready("example")
        first = self.predict_all(srv)
        for _ in range(5):
            self.assertEqual(self.predict_all(srv), first)
        # Different inputs give different numbers: the model really computes.
        self.assertEqual(len(set(first)), len(first), first)

    def test_predict_returns_same_number_across_server_runs(self):
        srv = self.start_server()
        srv.wait_ready("example")
        first_run = self.predict_all(srv)
        self.assertEqual(srv.stop(), 0)

        srv2 = self.start_server()
        srv2.wait_ready("example")
        self.assertNotEqual(srv.proc.pid, srv2.proc.pid)
        self.assertEqual(self.predict_all(srv2), first_run)

    def test_inputs_are_padded_to_ten_numbers(self):
        # The MLP takes 10 inputs: a scalar is the first of ten, the rest 0.
        srv = self.start_server()
        srv.wait_ready("example")
        scalar = srv.predict("example", 3).json()["result"]
        padded = srv.predict("example", [3, 0, 0, 0, 0, 0, 0, 0, 0, 0]).json()["result"]
        cut = srv.predict("example", [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 99, 98]).json()["result"]
        self.assertEqual(scalar, padded)
        self.assertEqual(scalar, cut)


if __name__ == "__main__":
    unittest.main()
