"""Bad requests get a clear JSON error with the right status, naming the
field at fault, and the server keeps serving afterwards."""

import unittest

from harness import EXAMPLE, SharedServerTestCase, model

MAX_TEXT = 50


class BadRequestBodyTest(SharedServerTestCase):
    MODELS = [
        EXAMPLE,
        model("tts", "flite", {"voice": "cmu_us_slt"}, min_replicas=0, max_replicas=1,
              max_text_length=MAX_TEXT),
    ]

    def tearDown(self):
        # Whatever the last request was, both models still answer.
        self.assertServing(self.server)
        r = self.server.synthesize("tts", "Still here.", wav=True)
        self.assertEqual(r.status, 200, r.body[:300])

    def post_raw(self, path, body, content_type="application/json"):
        headers = {"Content-Type": content_type} if content_type else {}
        return self.server.request("POST", path, body=body, headers=headers)

    def test_malformed_json_is_400_invalid_json(self):
        for path in ["/predict", "/synthesize", "/models/example/replicas"]:
            for body in ['{"model_name": "example", "inputs": [1, 2', "{'a': 1}", "nope",
                         '{"model_name": "example",}']:
                with self.subTest(path=path, body=body):
                    self.assertError(self.post_raw(path, body), 400, "invalid_json")

    def test_body_that_is_not_an_object_is_400(self):
        for path in ["/predict", "/synthesize"]:
            for body in ["[1, 2, 3]", '"example"', "42", "null", "true"]:
                with self.subTest(path=path, body=body):
                    self.assertError(self.post_raw(path, body), 400, "invalid_request",
                                     "object")

    def test_empty_body_is_400(self):
        self.assertError(self.post_raw("/predict", ""), 400, "invalid_request")

    def test_missing_model_name_is_400_naming_it(self):
        self.assertError(self.server.post("/predict", {"inputs": [1]}), 400,
                         "invalid_request", "model_name")
        self.assertError(self.server.post("/synthesize", {"text": "Hello"}), 400,
                         "invalid_request", "model_name")

    def test_wrongly_typed_model_name_is_400_naming_it(self):
        for value in [5, None, ["example"], {"name": "example"}, True]:
            with self.subTest(model_name=value):
                self.assertError(self.server.post("/predict",
                                                  {"model_name": value, "inputs": [1]}),
                                 400, "invalid_request", "model_name")
                self.assertError(self.server.post("/synthesize",
                                                  {"model_name": value, "text": "Hi"}),
                                 400, "invalid_request", "model_name")

    def test_missing_inputs_is_400_naming_it(self):
        self.assertError(self.server.post("/predict", {"model_name": "example"}), 400,
                         "invalid_request", "inputs")

    def test_wrongly_typed_inputs_is_400_naming_it(self):
        # inputs must be a number, string, boolean or an array of those; the
        # backend judges that, and its refusal is the client's error.
        for value in [{"x": 1}, [1, {"x": 2}], [[1, 2]], None, [None]]:
            with self.subTest(inputs=value):
                self.assertError(self.server.predict("example", value), 400,
                                 "invalid_input", "inputs")

    def test_missing_text_is_400_naming_it(self):
        self.assertError(self.server.post("/synthesize", {"model_name": "tts"}), 400,
                         "invalid_request", "text")

    def test_wrongly_typed_text_is_400_naming_it(self):
        for value in [5, None, ["Hello"], {"t": "Hello"}, False]:
            with self.subTest(text=value):
                self.assertError(self.server.post("/synthesize",
                                                  {"model_name": "tts", "text": value}),
                                 400, "invalid_request", "text")

    def test_wrongly_typed_or_out_of_range_speed_is_400_naming_it(self):
        for value in ["fast", None, [1], 0, -1, 0.1, 100]:
            with self.subTest(speed=value):
                self.assertError(self.server.post("/synthesize",
                                                  {"model_name": "tts", "text": "Hi",
                                                   "speed": value}),
                                 400, "invalid_request", "speed")

    def test_unknown_field_is_400_naming_it(self):
        self.assertError(self.server.post("/predict", {"model_name": "example", "inputs": 1,
                                                       "input": 2}),
                         400, "invalid_request", "input")

    def test_unknown_model_is_404(self):
        self.assertError(self.server.predict("no-such-model", [1]), 404,
                         "model_not_found", "no-such-model")
        self.assertError(self.server.synthesize("no-such-voice", "Hi"), 404,
                         "model_not_found", "no-such-voice")
        self.assertError(self.server.get("/models/no-such-model"), 404, "model_not_found")

    def test_wrong_task_for_model_is_400_unsupported_task(self):
        self.assertError(self.server.predict("tts", [1]), 400, "unsupported_task", "tts")
        self.assertError(self.server.synthesize("example", "Hello"), 400, "unsupported_task",
                         "example")

    def test_empty_text_is_400(self):
        for text in ["", "   ", "\n\t "]:
            with self.subTest(text=text):
                self.assertError(self.server.synthesize("tts", text), 400,
                                 "invalid_request", "text")

    def test_text_over_max_text_length_is_400(self):
        doc = self.assertError(self.server.synthesize("tts", "a" * (MAX_TEXT + 1)), 400,
                               "invalid_request", ["text", str(MAX_TEXT)])
        self.assertIn(str(MAX_TEXT + 1), doc["message"])
        # The limit is in characters, not bytes: MAX_TEXT two-byte letters pass.
        r = self.server.synthesize("tts", "é" * MAX_TEXT, wav=True)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertError(self.server.synthesize("tts", "é" * (MAX_TEXT + 1)), 400,
                         "invalid_request", "text")

    def test_wrong_content_type_is_415(self):
        body = '{"model_name": "example", "inputs": [1]}'
        for ct in ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"]:
            with self.subTest(content_type=ct):
                self.assertError(self.post_raw("/predict", body, ct), 415,
                                 "unsupported_media_type")
        # Parameters on the JSON type are fine.
        r = self.post_raw("/predict", body, "application/json; charset=utf-8")
        self.assertEqual(r.status, 200, r.body)

    def test_unknown_path_is_404_not_found(self):
        self.assertError(self.server.get("/nope"), 404, "not_found")
        self.assertError(self.server.post("/predict/extra", {}), 404, "not_found")

    def test_unsupported_method_is_405_with_allow(self):
        cases = [("GET", "/predict", "POST"), ("PUT", "/synthesize", "POST"),
                 ("DELETE", "/models/example", "GET"), ("POST", "/health", "GET"),
                 ("GET", "/models/example/replicas", "POST")]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                r = self.server.request(method, path, body=b"" if method != "GET" else None)
                self.assertError(r, 405, "method_not_allowed")
                allow = r.header("allow")
                self.assertIsNotNone(allow, r.headers)
                self.assertIn(allowed, [m.strip() for m in allow.split(",")])


if __name__ == "__main__":
    unittest.main()
