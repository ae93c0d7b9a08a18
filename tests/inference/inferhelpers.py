"""Tiny inputs for the inference tests (imported as ``from inferhelpers import ...``): a small student
saved in the trained layout, pattern videos (frames carry their index, tests/videofakes.py) and
Ego4D-format IMU CSVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from egodistill.datasets.imu import EGO4D_IMU_HEADER

CLASSES = ["take", "put", "open"]


def tiny_student_config(variant: str = "egodistill", num_frames: int = 1):
    from egodistill.models.config import StudentConfig

    return StudentConfig(
        variant=variant, num_classes=len(CLASSES), num_frames=num_frames, teacher_feature_dim=24,
        image_weights="none", fusion_hidden=32, predictor_hidden=32, imu_feature_dim=16, gru_hidden=32,
    )  # fmt: skip


def save_student(directory: Path, variant: str = "egodistill", num_frames: int = 1, seed: int = 0) -> Path:
    """A randomly initialised tiny student in the layout `egodistill distill` writes."""
    import torch

    from egodistill.models.student import build_student
    from egodistill.training.export import write_export

    cfg = tiny_student_config(variant, num_frames)
    torch.manual_seed(seed)
    model = build_student(cfg).eval()
    info = {"classes": CLASSES, "variant": variant, "metrics": {}, "frame_size": 32}
    write_export(directory, "student", model.state_dict(), cfg, info)  # the layout training writes
    return directory


def write_imu_csv(path: Path, seconds: float, rate_hz: float = 200.0, seed: int = 0) -> Path:
    """An Ego4D-format IMU file: smooth motion plus noise, timestamps on the video timeline (ms)."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, seconds * 1000.0, 1000.0 / rate_hz)
    lines = [",".join(EGO4D_IMU_HEADER)]
    for i, ms in enumerate(t):
        g = np.sin(ms / 300.0 + np.arange(3)) + 0.01 * rng.standard_normal(3)
        a = np.array([0.0, 0.0, 9.81]) + 0.1 * np.cos(ms / 500.0 + np.arange(3))
        lines.append(f"0,{ms:.3f},{ms:.3f},{g[0]:.5f},{g[1]:.5f},{g[2]:.5f},{a[0]:.5f},{a[1]:.5f},{a[2]:.5f}")
        del i
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def faststart(path: Path) -> Path:
    """Remux an MP4 with its index (moov) first, as cameras that stream to disk do."""
    import av

    tmp = path.with_name(f"fs-{path.name}")
    with av.open(str(path)) as src, av.open(str(tmp), "w", options={"movflags": "+faststart"}) as dst:
        s_in = src.streams.video[0]
        s_out = dst.add_stream_from_template(s_in)
        for packet in src.demux(s_in):
            if packet.dts is None:
                continue
            packet.stream = s_out
            dst.mux(packet)
    tmp.replace(path)
    return path


def truncate(path: Path, fraction: float) -> Path:
    """Cut an MP4 to ``fraction`` of its bytes after moving its index first: a recording whose data
    stops part-way while the container still says the full length."""
    faststart(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path
