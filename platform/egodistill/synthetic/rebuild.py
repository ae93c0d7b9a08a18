"""Rebuild a generated video's world from its ground truth, to compare frames and IMU exactly."""

from __future__ import annotations

import json
from pathlib import Path

from egodistill.synthetic.config import SynthConfig
from egodistill.synthetic.generator import GROUND_TRUTH, GROUND_TRUTH_FORMAT
from egodistill.synthetic.world import VideoWorld, build_world


def load_ground_truth(path_or_dir: str | Path) -> dict:
    """Read ``synthetic_ground_truth.json`` (given the file or the dataset root)."""
    p = Path(path_or_dir)
    if p.is_dir():
        p = p / GROUND_TRUTH
    if not p.is_file():
        raise FileNotFoundError(f"no synthetic ground truth at {p}")
    gt = json.loads(p.read_text())
    if gt.get("format") != GROUND_TRUTH_FORMAT or gt.get("version") != 1:
        raise ValueError(f"{p} is not a {GROUND_TRUTH_FORMAT} v1 file")
    return gt


def rebuild_video(ground_truth_path_or_dir: str | Path, video_id: str) -> VideoWorld:
    """The world of ``video_id``: ``.render(t_sec)`` gives the exact frame the writer encoded
    (before compression), ``.trajectory`` the head pose, ``.imu_truth(t)`` the noise-free IMU,
    ``.segments`` the planted actions and ``.scene`` the objects."""
    gt = load_ground_truth(ground_truth_path_or_dir)
    for v in gt["videos"]:
        if v["video_id"] == video_id:
            cfg = SynthConfig.model_validate(gt["config"])
            return build_world(cfg, int(v["index"]))
    raise KeyError(f"video {video_id!r} not in {ground_truth_path_or_dir}")
