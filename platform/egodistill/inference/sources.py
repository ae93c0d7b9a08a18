"""Which videos to predict, with their IMU files and (when annotated) ground-truth segments.

From a dataset root the Ego4D / EPIC readers of ``egodistill index`` are used unchanged, so the video
and IMU paths are the ones training saw and the valid annotated actions become the ground truth drawn
on the timelines. Plain ``--video X.mp4 --imu X.csv`` pairs have no ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class GroundTruth:
    """One labelled segment of a video."""

    start_sec: float
    end_sec: float
    verb: str


@dataclass
class VideoSource:
    """One video to predict."""

    dataset: str
    video_id: str
    video_path: str
    imu_paths: list[str]
    ground_truth: list[GroundTruth] = field(default_factory=list)

    @property
    def annotated(self) -> bool:
        return bool(self.ground_truth)


def from_dataset_root(dataset: str, root: str, annotations: str | None = None) -> list[VideoSource]:
    """Every video with at least one valid annotated action under a dataset root, in id order."""
    from egodistill.datasets.config import IndexConfig

    cfg = IndexConfig(dataset=dataset, root=root)
    if dataset == "ego4d":
        from egodistill.datasets.ego4d import read_ego4d

        cands, _, _ = read_ego4d(Path(root), cfg.ego4d, cfg.clip_tolerance_sec)
    elif dataset == "epic":
        from egodistill.datasets.epic import read_epic

        epic = cfg.epic.model_copy(update={"annotations_dir": annotations}) if annotations else cfg.epic
        cands, _, _ = read_epic(Path(root), epic, cfg.clip_tolerance_sec)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; expected 'ego4d' or 'epic'")
    by_video: dict[str, VideoSource] = {}
    for c in cands:
        src = by_video.get(c.video_id)
        if src is None:
            src = by_video[c.video_id] = VideoSource(dataset, c.video_id, c.video_path, list(c.imu_paths))
        src.ground_truth.append(GroundTruth(float(c.start_sec), float(c.end_sec), str(c.verb)))
    for s in by_video.values():
        s.ground_truth.sort(key=lambda g: (g.start_sec, g.end_sec))
    return [by_video[k] for k in sorted(by_video)]


def from_pairs(videos: Sequence[str], imus: Sequence[str]) -> list[VideoSource]:
    """``--video`` files with their ``--imu`` files (same order; ``a,b`` for an EPIC accl,gyro pair).

    With no ``--imu`` at all the videos have no IMU (fine for a VisOnly student only).
    """
    if imus and len(imus) != len(videos):
        raise ValueError(f"give one --imu per --video ({len(videos)} videos, {len(imus)} IMU entries)")
    out = []
    seen: set[str] = set()
    for i, v in enumerate(videos):
        vid = Path(v).stem
        if vid in seen:
            raise ValueError(f"{v}: another --video has the same name {vid!r}; outputs are named by it")
        seen.add(vid)
        paths = [p for p in imus[i].split(",") if p] if imus else []
        out.append(VideoSource("video", vid, str(Path(v).expanduser().absolute()), paths))
    return out
