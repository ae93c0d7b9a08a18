"""Plain readers for the synthetic test data (csv/json/PyAV only, as a third party would)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import av
import numpy as np

from synthdata import TINY, tiny_config  # noqa: F401  (re-exported for the synthetic tests)

# The real EPIC-KITCHENS-100 verb ids the synthetic vocabulary reuses (EPIC_100_verb_classes.csv).
EPIC_IDS = {
    "take": 0,
    "put": 1,
    "open": 3,
    "close": 4,
    "cut": 7,
    "pour": 9,
    "mix": 10,
    "look": 38,
    "walk": 67,
}


def load_gt(root: Path) -> dict:
    return json.loads((Path(root) / "synthetic_ground_truth.json").read_text())


def read_ego4d_imu(path: Path) -> dict[str, np.ndarray]:
    """Ego4D IMU CSV -> arrays; NULL timestamps / accl become NaN; rows kept in file order."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))

    def col(name: str) -> np.ndarray:
        return np.array([float(r[name]) if r[name] != "" else np.nan for r in rows])

    return {
        "t_ms": col("canonical_timestamp_ms"),
        "component_ms": col("component_timestamp_ms"),
        "gyro": np.stack([col(f"gyro_{a}") for a in "xyz"], 1),
        "accl": np.stack([col(f"accl_{a}") for a in "xyz"], 1),
    }


def clean_sorted(imu: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What a reader does: drop NULL timestamps, sort by canonical time."""
    ok = ~np.isnan(imu["t_ms"])
    order = np.argsort(imu["t_ms"][ok], kind="stable")
    return {k: v[ok][order] for k, v in imu.items()}


def read_epic_sensor(path: Path, names: tuple[str, str, str]) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    t = np.array([float(r["Milliseconds"]) for r in rows])
    v = np.array([[float(r[n]) for n in names] for r in rows])
    return t, v


def decode_gray(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """All frames as float grey images (N, H, W) and their presentation times in seconds."""
    frames, times = [], []
    with av.open(str(path)) as c:
        for fr in c.decode(video=0):
            frames.append(fr.to_ndarray(format="gray").astype(np.float64))
            times.append(float(fr.pts * fr.time_base))
    return np.stack(frames), np.array(times)


def decode_rgb(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([fr.to_ndarray(format="rgb24") for fr in c.decode(video=0)])


def image_shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Integer (dx, dy) such that ``b`` looks like ``a`` moved by (dx, dy) pixels (phase correlation)."""
    h, w = a.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    fa = np.fft.fft2((a - a.mean()) * win)
    fb = np.fft.fft2((b - b.mean()) * win)
    r = fb * np.conj(fa)
    r /= np.abs(r) + 1e-9
    corr = np.fft.ifft2(r).real
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    if dx > w // 2:
        dx -= w
    if dy > h // 2:
        dy -= h
    return int(dx), int(dy)


def so3_log(r: np.ndarray) -> np.ndarray:
    """Rotation vector of a rotation matrix."""
    cos = np.clip((np.trace(r) - 1) / 2, -1.0, 1.0)
    angle = np.arccos(cos)
    if angle < 1e-9:
        return np.zeros(3)
    v = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    return v * angle / (2 * np.sin(angle))


def so3_exp(w: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(w)
    if angle < 1e-12:
        return np.eye(3)
    k = w / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx
