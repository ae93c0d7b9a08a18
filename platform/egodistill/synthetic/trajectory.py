"""Smooth head pose over time: the single source of truth for frames and IMU.

Coordinate conventions (used by every module of ``egodistill.synthetic``):

* **World frame**: right-handed, metres, ``z`` up, gravity ``(0, 0, -9.81) m/s^2``. The room spans
  ``x`` (west -> east), ``y`` (south -> north) and ``z`` (floor 0 -> ceiling). The kitchen counter
  stands against the north wall, so a person working at it faces ``+y``.
* **Body frame = camera frame = IMU frame** (the IMU sits at the camera centre):
  ``x`` right, ``y`` down, ``z`` forward (optical axis), i.e. the OpenCV pinhole convention.
* **Orientation**: ``R_wb = Rz(yaw) @ Rx(pitch) @ Ry(roll) @ C0`` maps body vectors to world
  vectors. ``C0`` is the neutral pose (camera level, looking north: body x -> world +x, body y ->
  world -z, body z -> world +y). ``yaw > 0`` turns the head **left** (counter-clockwise seen from
  above), ``pitch > 0`` looks **up**, ``roll > 0`` tilts the head to the right.
* **Gyroscope** = body-frame angular velocity ``R_wb^T omega_world`` in rad/s. Turning the head left
  (yaw rate > 0) with the camera level reads ``gyro_y < 0`` (world up is body ``-y``), and the image
  content moves to the right.
* **Accelerometer** = body-frame specific force ``R_wb^T (a_world - g)`` in m/s^2: a motionless,
  level head reads ``(0, -9.81, 0)``.

Every channel (position x/y/z, yaw/pitch/roll) is a sum of analytic terms — minimum-jerk moves
between held values, sinusoids, and sinusoids under a minimum-jerk envelope — so positions,
velocities and accelerations are exact at any time (no numerical differentiation), and the IMU can
be sampled at arbitrary, jittered instants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GRAVITY = np.array([0.0, 0.0, -9.81])
C0 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
"""Neutral body->world rotation: columns are body x, y, z in world coordinates."""

CHANNELS = ("x", "y", "z", "yaw", "pitch", "roll")


def _min_jerk(tau: np.ndarray, order: int) -> np.ndarray:
    """Minimum-jerk profile s(tau) on [0, 1] (0 -> 1 with zero velocity/acceleration at both ends)."""
    if order == 0:
        return tau**3 * (10.0 + tau * (-15.0 + 6.0 * tau))
    if order == 1:
        return tau**2 * (30.0 + tau * (-60.0 + 30.0 * tau))
    return tau * (60.0 + tau * (-180.0 + 120.0 * tau))


@dataclass
class Steps:
    """A held value changed by non-overlapping minimum-jerk moves ``(t0, t1, delta)``."""

    start_value: float = 0.0
    t0: list[float] = field(default_factory=list)
    t1: list[float] = field(default_factory=list)
    delta: list[float] = field(default_factory=list)

    def add(self, t0: float, t1: float, delta: float) -> None:
        if t1 <= t0:
            raise ValueError(f"move must have positive duration, got [{t0}, {t1}]")
        if self.t1 and t0 < self.t1[-1] - 1e-9:
            raise ValueError(f"moves must be added in time order without overlap: {t0} < {self.t1[-1]}")
        self.t0.append(float(t0))
        self.t1.append(float(t1))
        self.delta.append(float(delta))

    def value_at(self, t: float) -> float:
        return float(self.evaluate(np.array([t]), 0)[0])

    def end_value(self) -> float:
        return self.start_value + float(np.sum(self.delta))

    def evaluate(self, t: np.ndarray, order: int) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        out = np.full(t.shape, self.start_value if order == 0 else 0.0)
        if not self.t0:
            return out
        t0 = np.asarray(self.t0)
        t1 = np.asarray(self.t1)
        d = np.asarray(self.delta)
        idx = np.searchsorted(t0, t, side="right") - 1  # last move starting at or before t
        valid = idx >= 0
        i = np.clip(idx, 0, None)
        dur = t1[i] - t0[i]
        tau = np.clip((t - t0[i]) / dur, 0.0, 1.0)
        if order == 0:
            before = np.concatenate([[0.0], np.cumsum(d)])[i]  # sum of completed moves before i
            out = out + np.where(valid, before + d[i] * _min_jerk(tau, 0), 0.0)
        else:
            inside = valid & (t > t0[i]) & (t < t1[i])
            out = out + np.where(inside, d[i] * _min_jerk(tau, order) / dur**order, 0.0)
        return out


@dataclass
class Sines:
    """Sum of sinusoids ``a sin(2 pi f t + phi)``: ambient sway and tremor."""

    amp: np.ndarray
    freq: np.ndarray
    phase: np.ndarray

    def evaluate(self, t: np.ndarray, order: int) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        w = 2.0 * np.pi * self.freq
        arg = np.multiply.outer(t, w) + self.phase
        if order == 0:
            return (np.sin(arg) * self.amp).sum(-1)
        if order == 1:
            return (np.cos(arg) * (self.amp * w)).sum(-1)
        return -(np.sin(arg) * (self.amp * w**2)).sum(-1)


@dataclass
class Modulated:
    """``envelope(t) * sin(2 pi f t + phi)``: walking bob that fades in and out smoothly."""

    envelope: Steps
    freq: float
    phase: float

    def evaluate(self, t: np.ndarray, order: int) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        w = 2.0 * np.pi * self.freq
        s = np.sin(w * t + self.phase)
        e = self.envelope.evaluate(t, 0)
        if order == 0:
            return e * s
        c = np.cos(w * t + self.phase)
        e1 = self.envelope.evaluate(t, 1)
        if order == 1:
            return e1 * s + e * w * c
        e2 = self.envelope.evaluate(t, 2)
        return e2 * s + 2.0 * e1 * w * c - e * w * w * s


@dataclass
class Signal:
    """One pose channel: a sum of analytic terms."""

    terms: list[Steps | Sines | Modulated] = field(default_factory=list)

    def evaluate(self, t: np.ndarray, order: int = 0) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros(t.shape)
        for term in self.terms:
            out = out + term.evaluate(t, order)
        return out


def _rz(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _rx(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched 3x3 matrix product without BLAS threads (workers must stay single-threaded)."""
    return np.einsum("...ij,...jk->...ik", a, b)


def _mv(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("...ij,...j->...i", a, v)


def rotation_from_euler(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Body->world rotation(s) ``Rz(yaw) Rx(pitch) Ry(roll) C0``; shape (..., 3, 3)."""
    return _mm(_mm(_mm(_rz(yaw), _rx(pitch)), _ry(roll)), np.broadcast_to(C0, np.shape(yaw) + (3, 3)))


@dataclass
class HeadTrajectory:
    """Head position and orientation over time, with exact derivatives."""

    channels: dict[str, Signal]

    def position(self, t: np.ndarray, order: int = 0) -> np.ndarray:
        """World position (order 0), velocity (1) or acceleration (2); shape (N, 3)."""
        return np.stack([self.channels[c].evaluate(t, order) for c in ("x", "y", "z")], -1)

    def euler(self, t: np.ndarray, order: int = 0) -> np.ndarray:
        """(yaw, pitch, roll) in radians or their time derivatives; shape (N, 3)."""
        return np.stack([self.channels[c].evaluate(t, order) for c in ("yaw", "pitch", "roll")], -1)

    def rotation(self, t: np.ndarray) -> np.ndarray:
        """Body->world rotation matrices, shape (N, 3, 3)."""
        e = self.euler(np.atleast_1d(t))
        return rotation_from_euler(e[:, 0], e[:, 1], e[:, 2])

    def pose(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(position (3,), rotation (3, 3)) at one instant, for the renderer."""
        tt = np.array([t], dtype=np.float64)
        return self.position(tt)[0], self.rotation(tt)[0]

    def angular_velocity_body(self, t: np.ndarray) -> np.ndarray:
        """Ideal gyroscope: body-frame angular velocity in rad/s, shape (N, 3)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        e = self.euler(t)
        de = self.euler(t, 1)
        rz = _rz(e[:, 0])
        rzx = _mm(rz, _rx(e[:, 1]))
        ez = np.array([0.0, 0.0, 1.0])
        omega_w = (
            de[:, :1] * ez
            + de[:, 1:2] * _mv(rz, np.array([1.0, 0.0, 0.0]))
            + de[:, 2:3] * _mv(rzx, np.array([0.0, 1.0, 0.0]))
        )
        r = rotation_from_euler(e[:, 0], e[:, 1], e[:, 2])
        return _mv(np.swapaxes(r, -1, -2), omega_w)

    def specific_force_body(self, t: np.ndarray) -> np.ndarray:
        """Ideal accelerometer: body-frame ``R^T (a - g)`` in m/s^2, shape (N, 3)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        acc = self.position(t, 2)
        r = self.rotation(t)
        return _mv(np.swapaxes(r, -1, -2), acc - GRAVITY)
