"""Generate a synthetic dataset: one process per video, then the layout's annotation files.

Each worker rebuilds its video's world from (config, index), renders and encodes every frame,
writes the IMU file(s) and the per-frame object boxes, and returns the ground truth and the
layout's annotation pieces. The parent writes the annotation files and, last of all,
``synthetic_ground_truth.json`` — so a dataset with that file is complete. Every file is written
atomically (temporary name in the same folder, then rename).

Outside the layout proper the dataset root gets:

* ``synthetic_ground_truth.json`` (format ``egodistill-synthetic-ground-truth`` v1): config, verb
  table and, per video, paths, planted segments (planted and annotated times, validity), IMU
  defects and IMU clock/bias information.
* ``synthetic_boxes/<video_id>.parquet``: visible box of every object in every frame (columns
  ``frame_index`` int32, ``object_id`` int32, ``label`` string, ``x, y, w, h`` float32 pixels,
  x/y = top-left corner); an object absent from a frame has no row.

The output must be a local directory (MP4 muxing needs a seekable file). A folder whose ground truth
was written by the same content config and whose every file is present is reused as it is (the
output is a pure function of the config); ``force`` renders it again. Files of the same names from
an earlier run are replaced; other files in the folder are left alone. Workers are forked
(spawned where fork is unavailable), so scripts need no ``if __name__ == "__main__"`` guard.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from types import ModuleType
from typing import Any

import av
import numpy as np
import pyarrow as pa

from egodistill.progress import Progress
from egodistill.storage import atomic_write_table
from egodistill.synthetic.audio import SAMPLE_RATE, synthesize
from egodistill.synthetic.config import SynthConfig
from egodistill.synthetic.dog import verbs_for
from egodistill.synthetic.layouts import ego4d, epic
from egodistill.synthetic.layouts.common import VideoRecord, write_json
from egodistill.synthetic.video_io import VideoWriter
from egodistill.synthetic.world import build_world, num_frames, stream_rng

GROUND_TRUTH = "synthetic_ground_truth.json"
GROUND_TRUTH_FORMAT = "egodistill-synthetic-ground-truth"
BOXES_DIR = "synthetic_boxes"
LAYOUTS: dict[str, ModuleType] = {"ego4d": ego4d, "epic": epic}
BOX_SCHEMA = pa.schema(
    [
        ("frame_index", pa.int32()),
        ("object_id", pa.int32()),
        ("label", pa.string()),
        ("x", pa.float32()),
        ("y", pa.float32()),
        ("w", pa.float32()),
        ("h", pa.float32()),
    ]
)


@dataclass
class SynthSummary:
    """What ``generate`` did, for the CLI and the benchmark."""

    out: str
    layout: str
    videos: int
    total_seconds: float
    segments_per_verb: dict[str, int]
    bytes_written: int
    wall_sec: float
    render_sec: float = 0.0
    encode_sec: float = 0.0
    files: list[str] = field(default_factory=list)
    reused: bool = False

    @property
    def throughput(self) -> float:
        """Video-seconds produced per wall-clock second."""
        return self.total_seconds / self.wall_sec if self.wall_sec > 0 else float("inf")

    def __str__(self) -> str:
        verbs = ", ".join(f"{k} {v}" for k, v in self.segments_per_verb.items())
        if self.reused:
            return (
                f"synthetic {self.layout} dataset in {self.out}: reused (same config, every file present; "
                f"--force renders it again)\n  videos: {self.videos}, total {self.total_seconds:.1f} s of video\n"
                f"  segments per verb: {verbs}"
            )
        return (
            f"synthetic {self.layout} dataset in {self.out}\n"
            f"  videos: {self.videos}, total {self.total_seconds:.1f} s of video\n"
            f"  segments per verb: {verbs}\n"
            f"  output size: {self.bytes_written / 1e6:.1f} MB\n"
            f"  wall time: {self.wall_sec:.1f} s, throughput {self.throughput:.2f} video-s per wall-s "
            f"(summed over workers: render {self.render_sec:.1f} s, encode {self.encode_sec:.1f} s)"
        )


def _video_meta(path: Path, n_frames: int, fps: float, cfg: SynthConfig) -> dict[str, Any]:
    """Read back what was encoded (time base, duration in pts, codec names)."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        tb = vs.time_base
        meta = {
            "time_base": [tb.numerator, tb.denominator],
            "duration_pts": int(vs.duration) if vs.duration is not None else None,
            "video_codec": "libvpx-vp9" if cfg.codec == "vp9" else "h264",
            "audio_codec": "aac" if c.streams.audio else None,
        }
    meta["num_frames"] = n_frames
    meta["duration_sec"] = n_frames / fps
    return meta


def render_video(cfg: SynthConfig, index: int) -> VideoRecord:
    """Build, render, encode and write everything of video ``index``; returns its record."""
    layout = LAYOUTS[cfg.layout]
    root = Path(cfg.out)
    world = build_world(cfg, index)
    vid, participant = layout.video_id(cfg, index)
    fps = cfg.frame_rate
    n = num_frames(cfg)
    duration = n / fps
    audio = synthesize(stream_rng(cfg.seed, index, "audio"), duration, world.segments) if cfg.audio else None
    rel_video = layout.video_relpath(vid, participant)

    labels = [o.label for o in world.scene.objects]
    box_rows: list[tuple[int, int, float, float, float, float]] = []
    t_render = t_encode = 0.0
    with VideoWriter(
        root / rel_video, fps, cfg.width, cfg.height, cfg.codec, cfg.crf, audio, SAMPLE_RATE
    ) as vw:
        frames = world.frames(np.arange(n) / fps)
        for k in range(n):
            a = time.perf_counter()
            frame = next(frames)
            b = time.perf_counter()
            vw.write(frame.image)
            t_encode += time.perf_counter() - b
            t_render += b - a
            box_rows.extend((k, *bx) for bx in frame.boxes)
    meta = _video_meta(root / rel_video, n, fps, cfg)

    arr = np.array(box_rows, dtype=np.float64).reshape(-1, 6)
    table = pa.table(
        {
            "frame_index": pa.array(arr[:, 0].astype(np.int32)),
            "object_id": pa.array(arr[:, 1].astype(np.int32)),
            "label": pa.array([labels[int(i)] for i in arr[:, 1]], type=pa.string()),
            "x": pa.array(arr[:, 2].astype(np.float32)),
            "y": pa.array(arr[:, 3].astype(np.float32)),
            "w": pa.array(arr[:, 4].astype(np.float32)),
            "h": pa.array(arr[:, 5].astype(np.float32)),
        },
        schema=BOX_SCHEMA,
    )
    rel_boxes = f"{BOXES_DIR}/{vid}.parquet"
    atomic_write_table(table, root / rel_boxes)
    lookup = {
        (int(r[0]), labels[int(r[1])]): (float(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in box_rows
    }

    imu_paths, defects, imu_info = layout.write_imu(root, world, cfg, index, vid, participant)
    segments, annotations = layout.annotate(
        world, cfg, index, vid, participant, lambda f, label: lookup.get((f, label)), meta
    )
    split = (
        ego4d.split_of(index)
        if cfg.layout == "ego4d"
        else ("val" if participant == epic.validation_participant(cfg) else "train")
    )
    gt = {
        "video_id": vid,
        "index": index,
        "participant_id": participant,
        "split": split,
        "video_path": rel_video,
        "imu_paths": imu_paths,
        "boxes_path": rel_boxes,
        "fps": fps,
        "num_frames": n,
        "duration_sec": duration,
        "width": cfg.width,
        "height": cfg.height,
        "audio": cfg.audio,
        "imu": imu_info,
        "imu_defects": defects,
        "segments": segments,
    }
    written = [root / rel_video, root / rel_boxes, *(root / p for p in imu_paths)]
    return VideoRecord(
        index=index,
        ground_truth=gt,
        annotations=annotations,
        seconds_rendered=duration,
        bytes_written=sum(p.stat().st_size for p in written),
        render_sec=t_render,
        encode_sec=t_encode,
    )


def _render_video_json(cfg_json: str, index: int) -> VideoRecord:
    return render_video(SynthConfig.model_validate_json(cfg_json), index)


def _mp_context():
    """Fork where available: workers start fast and scripts need no ``__main__`` guard. Workers only
    use numpy and PyAV, never threads the parent may hold (Ray, torch); elsewhere, spawn."""
    import multiprocessing

    return get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


def verb_table(profile: str = "human") -> list[dict[str, Any]]:
    return [
        {
            "name": v.name,
            "class_id": v.class_id,
            "appearance": v.appearance,
            "scene_motion": v.scene_motion,
            "head_motion": v.head_motion,
            "group": v.group,
            "epic_key": v.epic_key,
            "epic_verb": v.epic_verb,
            "ego4d_structured_verb": v.ego4d_verb,
            "noun": v.noun,
            "noun_class": v.noun_class,
        }
        for v in verbs_for(profile)
    ]


def _content_config(config: SynthConfig) -> dict[str, Any]:
    """The keys that decide what is written (not where, nor how many processes write it)."""
    return json.loads(config.model_dump_json(exclude={"out", "workers"}))


def _segments_per_verb(videos: list[dict[str, Any]], profile: str) -> dict[str, int]:
    """Planted segments per verb over the videos' ground truth, every verb of the profile listed."""
    counts = Counter(s["verb"] for v in videos for s in v["segments"])
    return {v.name: counts.get(v.name, 0) for v in verbs_for(profile)}


def reusable(config: SynthConfig, start: float | None = None) -> SynthSummary | None:
    """The summary of a complete dataset already in ``config.out`` for the same content config, else None.

    Complete = the ground truth (written last) names this config, and every file it lists is there.
    """
    root = Path(config.out)
    try:
        gt = json.loads((root / GROUND_TRUTH).read_text())
    except (OSError, ValueError):
        return None
    if gt.get("format") != GROUND_TRUTH_FORMAT or gt.get("config") != _content_config(config) or "files" not in gt:
        return None
    videos = gt.get("videos", [])
    paths = [*gt["files"], *(p for v in videos for p in (v["video_path"], v["boxes_path"], *v["imu_paths"]))]
    if len(videos) != config.videos or not all((root / p).is_file() for p in paths):
        return None
    return SynthSummary(
        out=str(root.resolve()), layout=config.layout, videos=len(videos),
        total_seconds=float(sum(v["duration_sec"] for v in videos)),
        segments_per_verb=_segments_per_verb(videos, config.profile),
        bytes_written=0, wall_sec=time.perf_counter() - start if start is not None else 0.0,
        files=list(gt["files"]), reused=True,
    )  # fmt: skip


def generate(config: SynthConfig, force: bool = False) -> SynthSummary:
    """Write a whole synthetic dataset under ``config.out`` and return a summary.

    A complete dataset of the same content config is reused unless ``force`` (see :func:`reusable`).
    """
    start = time.perf_counter()
    if "://" in config.out:
        raise ValueError(
            f"synth writes to a local directory, got {config.out!r}; generate locally, then copy"
        )
    if not force and (done := reusable(config, start)) is not None:
        return done
    root = Path(config.out)
    root.mkdir(parents=True, exist_ok=True)
    cfg = config.model_copy(update={"out": str(root.resolve())})
    workers = min(cfg.workers or os.cpu_count() or 1, cfg.videos)
    # a line per rendered video (count, rate, ETA): rendering is minutes of silence otherwise
    with Progress(f"synth {cfg.layout}", cfg.videos, "videos", every_s=5.0) as progress:
        if workers <= 1:
            records = []
            for i in range(cfg.videos):
                records.append(render_video(cfg, i))
                progress.update()
        else:
            cfg_json = cfg.model_dump_json()
            with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
                records = []
                for record in pool.map(_render_video_json, [cfg_json] * cfg.videos, range(cfg.videos)):
                    records.append(record)
                    progress.update()
    records.sort(key=lambda r: r.index)

    layout = LAYOUTS[cfg.layout]
    files = layout.write_annotations(root, cfg, [r.annotations for r in records])
    gt = {
        "format": GROUND_TRUTH_FORMAT,
        "version": 1,
        "layout": cfg.layout,
        "seed": cfg.seed,
        "config": _content_config(config),  # content-defining only
        "conventions": {
            "world": "metres, z up, gravity (0, 0, -9.81) m/s^2, counter along the north (+y) wall",
            "body": "camera = body = IMU frame: x right, y down, z forward",
            "gyro": "body angular velocity, rad/s",
            "accl": "body specific force R^T (a - g), m/s^2 (still, level head: (0, -9.81, 0))",
            "boxes": "x, y = top-left corner, w, h in pixels of the encoded frame",
        },
        "verbs": verb_table(cfg.profile),
        "videos": [r.ground_truth for r in records],
        "files": list(files),  # the layout's annotation files (what reuse checks besides each video's)
    }
    write_json(root / GROUND_TRUTH, gt)
    files = [*files, GROUND_TRUTH]
    size = sum(r.bytes_written for r in records) + sum((root / f).stat().st_size for f in files)
    return SynthSummary(
        out=str(root),
        layout=cfg.layout,
        videos=cfg.videos,
        total_seconds=sum(r.seconds_rendered for r in records),
        segments_per_verb=_segments_per_verb([r.ground_truth for r in records], cfg.profile),
        bytes_written=size,
        wall_sec=time.perf_counter() - start,
        render_sec=sum(r.render_sec for r in records),
        encode_sec=sum(r.encode_sec for r in records),
        files=files,
    )
