"""Tiny test inputs for ingest: videos whose frames encode their index, IMU CSVs, manifests.

A frame's index is written as 8 horizontal bands (bit b = band b, white = 1) so it survives
compression, resizing and a centre crop of the width; :func:`frame_index` reads it back.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from egodistill.datasets.imu import EGO4D_IMU_HEADER
from egodistill.tables import conform, load_contract
from videofakes import frame_index, pattern, write_video  # noqa: F401  (re-exported for the ingest tests)

WINDOW_SEC = 422 / 198.0


def imu_signal(t_ms: np.ndarray) -> np.ndarray:
    t = np.asarray(t_ms, dtype=float) / 1000.0
    return np.stack(
        [np.sin(2 * np.pi * 0.7 * t), np.cos(t), 0.1 * t, 0.05 * np.sin(3 * t), 0.02 * t, np.cos(2 * t)],
        axis=1,
    )


def write_ego4d_imu(path: Path, seconds: float, rate_hz: float = 200.0) -> Path:
    """Ego4D-layout IMU CSV (gyro before accel) covering [0, seconds]."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate_hz) + 1) * (1000.0 / rate_hz)
    v = imu_signal(t)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EGO4D_IMU_HEADER)
        for tk, vk in zip(t, v, strict=True):
            w.writerow(
                [
                    "0",
                    repr(float(tk)),
                    repr(float(tk)),
                    *(repr(float(x)) for x in vk[3:]),
                    *(repr(float(x)) for x in vk[:3]),
                ]
            )
    return path


def clip_row(
    clip_id: str,
    video_id: str,
    video_path: Path | str,
    imu_path: Path | str,
    centre: float,
    *,
    split: str = "train",
    label: int = 0,
    duration: float | None = 4.0,
    source_row: int = 0,
) -> dict[str, Any]:
    """A manifest row (Ego4D flavour) whose model window is centred on ``centre``."""
    ws = centre - WINDOW_SEC / 2
    return {
        "dataset": "ego4d",
        "clip_id": clip_id,
        "video_id": video_id,
        "participant_id": None,
        "start_sec": centre - 0.4,
        "end_sec": centre + 0.4,
        "window_start_sec": ws,
        "window_end_sec": ws + WINDOW_SEC,
        "verb": f"verb{label}",
        "verb_class": label,
        "label": label,
        "split": split,
        "video_path": str(video_path),
        "imu_paths": [str(imu_path)],
        "fps": 30.0,
        "video_duration_sec": duration,
        "imu_rate_hz": 200.0,
        "imu_coverage": 1.0,
        "imu_max_gap_ms": 5.0,
        "imu_clipped": 0,
        "imu_units": ["unknown"] * 6,
        "source_file": "fho_main.json",
        "source_row": source_row,
    }


def manifest_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    return conform(pa.Table.from_pylist(list(rows), schema=load_contract("manifest").schema), "manifest")
