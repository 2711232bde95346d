"""POST /synthesize on every flite voice and on eSpeak NG returns a real
RIFF/WAVE file: right sample rate, mono 16-bit PCM, non-silent samples.
JSON mode carries the same audio in base64."""

import base64
import io
import math
import struct
import unittest
import wave

from harness import EXAMPLE, SharedServerTestCase, model

FLITE_VOICES = ["cmu_us_slt", "cmu_us_kal16", "cmu_us_awb", "cmu_us_rms"]
TEXT = "Hello from inferd. The quick brown fox jumps over the lazy dog."


def read_wav(data):
    """Parses WAV bytes; returns (rate, channels, sample width, samples)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AssertionError(f"not a RIFF/WAVE file: {data[:16]!r}")
    riff_size = struct.unpack("<I", data[4:8])[0]
    if riff_size != len(data) - 8:
        raise AssertionError(f"RIFF size {riff_size} does not match {len(data) - 8} bytes")
    with wave.open(io.BytesIO(data), "rb") as w:
        frames = w.readframes(w.getnframes())
        n = w.getnframes()
        if len(frames) != n * w.getnchannels() * w.getsampwidth():
            raise AssertionError("data chunk shorter than its header says")
        samples = struct.unpack(f"<{n * w.getnchannels()}h", frames) if w.getsampwidth() == 2 \
            else ()
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), samples


def rms(samples):
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


class SynthesizeTest(SharedServerTestCase):
    MODELS = [EXAMPLE] + [
        model(f"flite-{v}", "flite", {"voice": v}, min_replicas=0, max_replicas=1)
        for v in FLITE_VOICES
    ] + [model("espeak-en", "espeak", {"voice": "en"}, min_replicas=0, max_replicas=1)]

    def check_audio(self, data, expected_rate=None):
        rate, channels, width, samples = read_wav(data)
        if expected_rate is not None:
            self.assertEqual(rate, expected_rate)
        self.assertEqual(channels, 1)
        self.assertEqual(width, 2)
        duration = len(samples) / rate
        # A dozen words of speech last well over a second, under a minute.
        self.assertGreater(duration, 1.0)
        self.assertLess(duration, 60.0)
        # Speech, not silence: RMS well above zero, and a real peak.
        self.assertGreater(rms(samples), 200.0, "audio is (nearly) silent")
        self.assertGreater(max(abs(s) for s in samples), 2000)
        return rate, samples

    def synthesize_wav(self, name, **fields):
        r = self.server.synthesize(name, TEXT, wav=True, **fields)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.header("content-type"), "audio/wav")
        self.assertTrue(r.header("x-inferd-replica").isdigit(), r.headers)
        self.assertIn(r.header("x-inferd-cold-start"), ("true", "false"))
        return r

    def test_each_flite_voice_returns_16khz_wav_with_speech(self):
        for voice in FLITE_VOICES:
            with self.subTest(voice=voice):
                r = self.synthesize_wav(f"flite-{voice}")
                self.check_audio(r.body, expected_rate=16000)

    def test_flite_voices_sound_different(self):
        audio = {v: self.synthesize_wav(f"flite-{v}").body for v in FLITE_VOICES}
        self.assertEqual(len(set(audio.values())), len(FLITE_VOICES),
                         "two voices produced identical audio")

    def test_espeak_returns_wav_whose_rate_matches_json(self):
        r = self.synthesize_wav("espeak-en")
        rate, _ = self.check_audio(r.body)
        self.assertIn(rate, (16000, 22050, 24000, 44100, 48000))

        j = self.server.synthesize("espeak-en", TEXT, wav=False)
        self.assertEqual(j.status, 200, j.body[:300])
        doc = j.json()
        self.assertEqual(doc["sample_rate"], rate)
        jrate, samples = self.check_audio(base64.b64decode(doc["audio_base64"]))
        self.assertEqual(jrate, rate)

    def test_json_mode_carries_a_valid_base64_wav(self):
        for name in ["flite-cmu_us_slt", "espeak-en"]:
            with self.subTest(model=name):
                r = self.server.synthesize(name, TEXT, wav=False)
                self.assertEqual(r.status, 200, r.body[:300])
                self.assertTrue(r.header("content-type").startswith("application/json"))
                doc = r.json()
                self.assertIs(doc["success"], True)
                self.assertEqual(doc["format"], "wav")
                data = base64.b64decode(doc["audio_base64"], validate=True)
                rate, samples = self.check_audio(data)
                self.assertEqual(doc["sample_rate"], rate)
                if name.startswith("flite"):
                    self.assertEqual(rate, 16000)
                self.assertAlmostEqual(doc["duration_seconds"], len(samples) / rate, places=2)
                self.assertEqual(doc["model_info"]["model"], name)
                self.assertIsInstance(doc["model_info"]["cold_start"], bool)
                self.assertGreater(doc["processing_time_ms"], 0)

    def test_no_accept_header_gets_json(self):
        r = self.server.post("/synthesize", {"model_name": "flite-cmu_us_slt", "text": "Hi."})
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertTrue(r.header("content-type").startswith("application/json"))
        read_wav(base64.b64decode(r.json()["audio_base64"]))

    def test_speed_changes_duration(self):
        slow = read_wav(self.synthesize_wav("flite-cmu_us_slt", speed=0.5).body)[3]
        fast = read_wav(self.synthesize_wav("flite-cmu_us_slt", speed=2.0).body)[3]
        self.assertGreater(len(slow), 1.5 * len(fast),
                           f"speed 0.5 gave {len(slow)} samples, speed 2.0 gave {len(fast)}")

    def test_same_text_gives_same_audio(self):
        a = self.synthesize_wav("flite-cmu_us_kal16").body
        b = self.synthesize_wav("flite-cmu_us_kal16").body
        self.assertEqual(a, b)


if __name__ == "__main__":
    unittest.main()
