"""IMU windows for prediction, through exactly the preprocessing the student was trained with.

The stream is loaded and cleaned by :func:`egodistill.datasets.imu.load_imu_stream` and each window
is cut by :func:`~egodistill.datasets.imu.extract_window` (422 samples at 198 Hz, per-channel mean
removed over valid samples, a validity mask, coverage / max gap / clipping figures), like index and
ingest. A student that needs IMU never sees an invented signal: an unusable file stops the job
(:class:`ImuRequiredError`, one line naming the file) and a window with too little valid IMU is
quarantined by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from egodistill.datasets.imu import ImuFileError, ImuStream, ImuWindowConfig, extract_window, load_imu_stream


class ImuRequiredError(ValueError):
    """The student needs IMU and this video's IMU cannot be used; the message names the file."""


def imu_kind(paths: Sequence[str]) -> str:
    """The reader format of a video's IMU files: one Ego4D CSV, or EPIC's [accl, gyro] pair."""
    if len(paths) == 1:
        return "ego4d"
    if len(paths) == 2:
        return "epic"
    raise ValueError(f"IMU is one Ego4D-format CSV or an EPIC [accl, gyro] pair, got {list(paths)}")


def load_stream(
    video_id: str, paths: Sequence[str], duration_sec: float | None, cfg: ImuWindowConfig
) -> ImuStream:
    """The cleaned stream; :class:`ImuRequiredError` naming the file when there is none to use."""
    if not paths:
        raise ImuRequiredError(f"video {video_id}: no IMU file given, and the student needs IMU")
    try:
        return load_imu_stream(imu_kind(paths), list(paths), duration_sec, cfg)
    except ImuFileError as e:
        raise ImuRequiredError(f"video {video_id}: IMU {e} ({e.reason}); the student needs IMU") from e
    except (OSError, ValueError) as e:
        raise ImuRequiredError(
            f"video {video_id}: IMU {','.join(paths)}: {type(e).__name__}: {e}; the student needs IMU"
        ) from e


@dataclass
class ImuWindows:
    """IMU inputs and quality for a batch of windows (row i = window i)."""

    samples: np.ndarray  # (n, num_samples, 6) float32
    mask: np.ndarray  # (n, num_samples) bool
    coverage: np.ndarray  # (n,) float32
    max_gap_ms: np.ndarray  # (n,) float32
    clipped: np.ndarray  # (n,) int32


def windows(stream: ImuStream, starts: Sequence[float], cfg: ImuWindowConfig) -> ImuWindows:
    """Cut one model window per start time (seconds on the video timeline)."""
    n = len(starts)
    out = ImuWindows(
        samples=np.zeros((n, cfg.num_samples, 6), np.float32),
        mask=np.zeros((n, cfg.num_samples), bool),
        coverage=np.zeros(n, np.float32),
        max_gap_ms=np.zeros(n, np.float32),
        clipped=np.zeros(n, np.int32),
    )
    for i, s in enumerate(starts):
        w = extract_window(stream, float(s), cfg)
        out.samples[i], out.mask[i] = w.samples, w.mask
        out.coverage[i], out.max_gap_ms[i], out.clipped[i] = w.coverage, w.max_gap_ms, w.clipped
    return out
