"""Optional soundtrack: room tone plus sounds tied to the planted actions (16 kHz mono).

Knife clicks at every cut stroke, water noise while pouring, scraping while stirring, a creak
and a thump for the cabinet door, a thud when the box leaves or meets the counter, footsteps
while walking; looking and turning are silent. Later multimodal work can use it as the paper's
"image + audio" baseline; it never encodes head motion.
"""

from __future__ import annotations

import numpy as np

from egodistill.synthetic.actions import Segment

SAMPLE_RATE = 16_000


def _band_noise(rng: np.random.Generator, n: int, lo_hz: float, hi_hz: float) -> np.ndarray:
    spec = np.fft.rfft(rng.normal(0.0, 1.0, n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spec[(f < lo_hz) | (f > hi_hz)] = 0.0
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) + 1e-12)


def _add(track: np.ndarray, start_sec: float, sound: np.ndarray) -> None:
    i = int(round(start_sec * SAMPLE_RATE))
    if i >= len(track) or i + len(sound) <= 0:
        return
    a, b = max(i, 0), min(i + len(sound), len(track))
    track[a:b] += sound[a - i : b - i]


def _click(rng: np.random.Generator, amp: float, ms: float = 15.0) -> np.ndarray:
    n = int(SAMPLE_RATE * ms / 1000)
    return amp * rng.normal(0, 1, n) * np.exp(-np.arange(n) / (n / 5))


def _thud(amp: float, hz: float = 90.0, ms: float = 120.0) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * ms / 1000)) / SAMPLE_RATE
    return amp * np.sin(2 * np.pi * hz * t) * np.exp(-t / (ms / 4000))


def synthesize(rng: np.random.Generator, duration: float, segments: list[Segment]) -> np.ndarray:
    """Mono float32 track in [-1, 1] covering ``duration`` seconds."""
    n = int(np.ceil(duration * SAMPLE_RATE))
    track = 0.004 * _band_noise(rng, n, 40.0, 2500.0)
    for seg in segments:
        name, p = seg.verb.name, seg.params
        d = seg.end - seg.start
        if name == "cut":
            period = (p["stroke_end"] - p["stroke_start"]) / p["strokes"]
            for k in range(1, p["strokes"] + 1):
                _add(track, p["stroke_start"] + k * period, _click(rng, 0.25))
        elif name == "pour":
            m = int((p["pour_end"] - p["pour_start"]) * SAMPLE_RATE)
            env = np.sin(np.linspace(0, np.pi, m)) ** 0.5
            _add(track, p["pour_start"], 0.06 * env * _band_noise(rng, m, 400.0, 4000.0))
        elif name == "mix":
            m = int(d * SAMPLE_RATE)
            tt = np.arange(m) / SAMPLE_RATE
            env = np.abs(np.sin(np.pi * p["circles"] * tt / d))
            _add(track, seg.start, 0.05 * env * _band_noise(rng, m, 1500.0, 6000.0))
        elif name in ("open", "close"):
            m = int(0.6 * d * SAMPLE_RATE)
            tt = np.arange(m) / SAMPLE_RATE
            f0, f1 = (300.0, 650.0) if name == "open" else (650.0, 300.0)
            phase = 2 * np.pi * (f0 * tt + (f1 - f0) * tt**2 / (2 * tt[-1]))
            creak = 0.04 * np.sign(np.sin(phase)) * np.sin(np.linspace(0, np.pi, m))
            _add(track, seg.start + 0.2 * d, creak)
            if name == "close":
                _add(track, seg.end - 0.05, _thud(0.3, 80.0))
            else:
                _add(track, seg.start + 0.05 * d, _click(rng, 0.1))
        elif name == "take":
            _add(track, seg.start + 0.1 * d, _thud(0.12, 140.0, 60.0))
        elif name == "put":
            _add(track, seg.end - 0.1 * d, _thud(0.25, 120.0, 90.0))
        elif name == "walk":
            step = 1.0 / p["step_hz"]
            t = seg.start + 0.2 * d
            while t < seg.end - 0.2 * d:
                _add(track, t, _thud(0.15, 70.0, 80.0) + np.pad(_click(rng, 0.05, 8.0), (0, 1152)))
                t += step
    return np.clip(track, -1.0, 1.0).astype(np.float32)
