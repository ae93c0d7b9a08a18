"""Video/IMU pairs as lazy Ray Data datasets: a dense clip and a 396 x 6 IMU window around the same centre.

Items (one pair to build) come from the manifest in two ways:

* :func:`tiled_items`: unlabelled windows tiled over whole videos every ``tile_stride_sec`` (the SSL training
  set, and the held-out pairs of the evaluation videos): SSL needs no labels;
* :func:`labelled_items`: one pair centred on each labelled segment's model window (evaluation only).

Items become per-video tasks (:func:`egodistill.teacher.data.make_tasks`) and :func:`pair_dataset` maps
them with ``map_batches``: the teacher's on-the-fly clip decoding (:func:`egodistill.teacher.data.decode_task`)
plus the IMU window cut from the video's cleaned IMU stream (parsed once per task). Columns are the
teacher's clip columns plus ``imu`` (396, 6) float32, ``imu_coverage``, ``hard_imu``/``hard_ok`` (a window of
the same video ``hard_negative_offset_sec`` away, or zeros) and ``video_index``. ``ok`` is False when the
clip did not decode or the IMU window is unusable; ``reason`` then says why (the rows stay, with zero
weight, so every worker runs the same number of steps, and the evaluations report them as quarantined).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from egodistill.datasets.imu import ImuFileError, ImuWindowConfig, extract_window, load_imu_stream
from egodistill.teacher.data import decode_task, make_tasks
from egodistill.teacher.dense import ClipSpec


def videos(rows: pa.Table, keep: set[str]) -> list[dict[str, Any]]:
    """One record per video of the manifest whose id is in ``keep``, sorted by id."""
    seen: dict[str, dict[str, Any]] = {}
    columns = ["dataset", "video_id", "video_path", "imu_paths", "fps", "video_duration_sec"]
    for r in rows.select(columns).to_pylist():
        if r["video_id"] in keep and r["video_id"] not in seen:
            seen[r["video_id"]] = r
    return [seen[k] for k in sorted(seen)]


def split_videos(
    rows: pa.Table, eval_split: str, fraction: float, seed: int = 0
) -> tuple[set[str], set[str]]:
    """(SSL training videos, held-out videos), split by video id as the paper does.

    Videos whose labelled rows are all in ``eval_split`` are held out; when the manifest splits clips, not
    videos (so none is), a deterministic ``fraction`` of the videos (at least one, never all) is held out.
    """
    import hashlib

    by_video: dict[str, set[str]] = {}
    for v, sp in zip(rows.column("video_id").to_pylist(), rows.column("split").to_pylist(), strict=True):
        by_video.setdefault(v, set()).add(sp)
    held = {v for v, sp in by_video.items() if sp == {eval_split}}
    if not held and len(by_video) > 1:
        ranked = sorted(by_video, key=lambda v: hashlib.sha1(f"{seed}:{v}".encode()).hexdigest())
        held = set(ranked[: min(len(ranked) - 1, max(1, round(fraction * len(ranked))))])
    return set(by_video) - held, held


def _item(
    v: Mapping[str, Any], index: int, centre: float, label: int, segment: int, video_index: int
) -> dict[str, Any]:
    return {"item": index, "video_path": v["video_path"], "fps": float(v["fps"]), "centre": float(centre),
            "start": float(centre), "end": float(centre), "label": int(label), "segment": int(segment),
            "dataset": v["dataset"], "imu_paths": list(v["imu_paths"]), "video_index": int(video_index),
            "duration": None if v.get("video_duration_sec") is None else float(v["video_duration_sec"])}  # fmt: skip


def tiled_items(
    vids: Sequence[Mapping[str, Any]], span_sec: float, stride_sec: float, limit: int | None = None
) -> list[dict[str, Any]]:
    """Unlabelled pair centres every ``stride_sec`` over each whole video (``span_sec`` kept inside it)."""
    items: list[dict[str, Any]] = []
    for vi, v in enumerate(vids):
        duration = v.get("video_duration_sec")
        if duration is None or not math.isfinite(duration):
            continue
        half = span_sec / 2
        for c in np.arange(half, duration - half, stride_sec):
            items.append(_item(v, len(items), float(c), -1, -1, vi))
    if limit is not None and len(items) > limit:  # spread over the videos, not the first ones only
        keep = np.linspace(0, len(items) - 1, limit).round().astype(int)
        items = [{**items[k], "item": i} for i, k in enumerate(keep)]
    return items


def labelled_items(rows: pa.Table) -> list[dict[str, Any]]:
    """One pair per labelled row, centred on its model window (``segment`` = row index)."""
    vids = {v: i for i, v in enumerate(sorted(set(rows.column("video_id").to_pylist())))}
    out = []
    for i, r in enumerate(rows.to_pylist()):
        centre = 0.5 * (r["window_start_sec"] + r["window_end_sec"])
        out.append(_item(r, i, centre, int(r["label"]), i, vids[r["video_id"]]))
    return out


def pair_task(batch: Mapping[str, np.ndarray], *, spec: Mapping[str, int], imu: Mapping[str, Any],
              min_coverage: float, hard_offset: float | None, max_pad_fraction: float = 0.25) -> dict[str, np.ndarray]:  # fmt: skip
    """``map_batches`` function (batch size 1): decode one task's clips and cut their IMU windows."""
    out = decode_task(batch, spec=spec, with_reason=True, max_pad_fraction=max_pad_fraction)
    cfg = ImuWindowConfig.model_validate(dict(imu))
    items = [it for js in batch["items_json"] for it in json.loads(js)]
    n, length = len(items), cfg.num_samples
    imu_arr = np.zeros((n, length, 6), np.float32)
    hard = np.zeros((n, length, 6), np.float32)
    hard_ok = np.zeros(n, bool)
    coverage = np.zeros(n, np.float32)
    ok, reason = out["ok"].copy(), out["reason"].copy()
    stream, problem = None, ""
    try:
        first = items[0]
        stream = load_imu_stream(first["dataset"], first["imu_paths"], first["duration"], cfg)
    except (ImuFileError, ValueError, OSError) as e:
        problem = getattr(e, "reason", "imu_unreadable")
    half = cfg.window_sec / 2
    for k, it in enumerate(items):
        if stream is None:
            ok[k], reason[k] = False, reason[k] or problem
            continue
        w = extract_window(stream, it["centre"] - half, cfg)
        imu_arr[k], coverage[k] = w.samples, w.coverage
        if w.coverage < min_coverage and ok[k]:
            ok[k], reason[k] = False, "imu_low_coverage"
        if hard_offset:
            duration = it["duration"] or float("inf")
            c = (
                it["centre"] + hard_offset
                if it["centre"] + hard_offset + half < duration
                else it["centre"] - hard_offset
            )
            if c - half >= 0:
                h = extract_window(stream, c - half, cfg)
                hard[k], hard_ok[k] = h.samples, h.coverage >= min_coverage
    out.update({"imu": imu_arr, "imu_coverage": coverage, "hard_imu": hard, "hard_ok": hard_ok & ok, "ok": ok,
                "reason": reason.astype(str), "video_index": np.asarray([it["video_index"] for it in items], np.int64)})  # fmt: skip
    out.pop("detail", None)
    return out


def pair_dataset(items: Sequence[Mapping[str, Any]], spec: ClipSpec, imu: ImuWindowConfig, *, min_coverage: float,
                 hard_offset: float | None = None, clips_per_task: int = 32, num_cpus: float = 1.0):  # fmt: skip
    """A lazy Ray Data dataset of pairs (module docstring); decoding happens when it is iterated."""
    import ray.data

    if not items:
        raise ValueError("no pairs to build (no videos / windows in the manifest for this split)")
    tasks = make_tasks(items, clips_per_task)
    ds = ray.data.from_items(tasks, override_num_blocks=len(tasks))
    return ds.map_batches(
        pair_task, batch_size=1, batch_format="numpy", num_cpus=num_cpus,
        fn_kwargs={"spec": {"num_frames": spec.num_frames, "sample_rate": spec.sample_rate, "size": spec.size},
                   "imu": imu.model_dump(mode="json"), "min_coverage": min_coverage, "hard_offset": hard_offset},
    )  # fmt: skip


__all__ = ["labelled_items", "pair_dataset", "pair_task", "split_videos", "tiled_items", "videos"]
