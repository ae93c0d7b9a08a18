"""IMU measurements derived from the head trajectory: sample clocks, bias, drift and noise.

Axes and units (see ``trajectory.py``): body = camera frame (x right, y down, z forward);
gyroscope in rad/s (body angular velocity), accelerometer in m/s^2 (body specific force, gravity
included: a still, level head reads ``(0, -9.81, 0)``). Both layouts use these axes and units.

Measurement model per sensor axis: ``y(t) = truth(t) + b + w(t) + n``, with a per-video constant
bias ``b ~ N(0, bias_std)``, a slow random-walk drift ``w`` (increments ``N(0, walk_std^2 dt)``)
and white noise ``n ~ N(0, white_std)``; all three scale with ``imu_noise_scale``.

Clocks: samples are taken at ``~imu_rate_hz`` (each video/sensor gets its own rate within
``imu_rate_spread_hz``) with Gaussian timing jitter; values are evaluated at the true (jittered)
instants. Ego4D writes those instants directly (``canonical_timestamp_ms``). EPIC writes
GoPro-style ``Milliseconds`` (:func:`gopro_milliseconds`): samples are grouped in 1 s payloads and
spread evenly inside each payload, so the written time differs from the true instant by less than
one sample period, and accelerometer and gyroscope have separate clocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NoiseModel:
    """Standard deviations of one sensor's errors (units of the sensor)."""

    bias_std: float
    walk_std: float  # per sqrt(second)
    white_std: float

    def scaled(self, k: float) -> NoiseModel:
        return NoiseModel(self.bias_std * k, self.walk_std * k, self.white_std * k)


GYRO_NOISE = NoiseModel(bias_std=0.005, walk_std=0.0005, white_std=0.01)  # rad/s
ACCL_NOISE = NoiseModel(bias_std=0.08, walk_std=0.004, white_std=0.05)  # m/s^2


def sample_times(
    rng: np.random.Generator, duration: float, rate_hz: float, jitter_ms: float, phase: float = 0.0
) -> np.ndarray:
    """Strictly increasing sample instants (s) in ``[0, duration)`` at ``rate_hz`` with jitter."""
    n = int(np.floor((duration - phase) * rate_hz)) + 1
    t = phase + np.arange(n) / rate_hz
    if jitter_ms > 0:
        period = 1.0 / rate_hz
        t = t + np.clip(rng.normal(0.0, jitter_ms / 1000.0, n), -0.4 * period, 0.4 * period)
    return t[(t >= 0.0) & (t < duration)]


@dataclass
class Measurement:
    """Measured values (N, 3) plus the error terms that were added, for tests and ground truth."""

    values: np.ndarray
    bias: np.ndarray  # (3,) constant part
    drift: np.ndarray  # (N, 3) random-walk part


def measure(truth: np.ndarray, t: np.ndarray, rng: np.random.Generator, noise: NoiseModel) -> Measurement:
    """Add bias, random-walk drift and white noise to ideal sensor values ``truth`` (N, 3)."""
    n = len(t)
    bias = rng.normal(0.0, noise.bias_std, 3)
    dt = np.diff(t, prepend=t[0] if n else 0.0)
    steps = rng.normal(0.0, 1.0, (n, 3)) * (noise.walk_std * np.sqrt(np.maximum(dt, 0.0)))[:, None]
    drift = np.cumsum(steps, axis=0)
    white = rng.normal(0.0, noise.white_std, (n, 3))
    return Measurement(values=truth + bias + drift + white, bias=bias, drift=drift)


def gopro_milliseconds(t: np.ndarray) -> np.ndarray:
    """GoPro/gpmd2csv-style timestamps: ``1000 j + 1000 i / n_j`` for sample i of n_j in second j."""
    j = np.floor(t).astype(np.int64)
    out = np.empty(len(t))
    if len(t) == 0:
        return out
    starts = np.flatnonzero(np.diff(j, prepend=j[0] - 1))
    counts = np.diff(np.append(starts, len(t)))
    payload = np.repeat(np.arange(len(starts)), counts)
    i = np.arange(len(t)) - starts[payload]
    out[:] = 1000.0 * j + 1000.0 * i / counts[payload]
    return out
