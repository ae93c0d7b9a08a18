"""The unit of work: one video and all of its pending clips -> clip rows + quarantine entries.

The video is opened and decoded once for all its clips (every needed time in one forward walk,
see :mod:`egodistill.ingest.decode`), and its IMU file(s) are parsed once, each clip's window cut
from the same stream with the datasets' own :func:`~egodistill.datasets.imu.extract_window`, so
the stored window equals what ``index`` measured. Problems with a clip never raise: the clip gets
a quarantine entry with a stable reason code. :func:`process_video_task` is the Ray Data map
function; it writes the video's files itself (atomically, named by content) and returns counts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from egodistill.datasets.imu import (
    IMU_CHANNELS,
    ImuFileError,
    ImuStream,
    ImuWindowConfig,
    extract_window,
    load_imu_stream,
)
from egodistill.ingest import store
from egodistill.ingest.config import FrameConfig, OutputConfig
from egodistill.ingest.decode import DecodeResult, VideoDecodeError, decode_at
from egodistill.ingest.frames import FrameTransform, encode_jpeg
from egodistill.quarantine import Quarantine, QuarantineEntry
from egodistill.tables import load_contract

STAGE = "ingest"


@dataclass(frozen=True)
class ClipPlan:
    """The times one clip needs: N uniform frames, then (optionally) its first and last."""

    span: tuple[float, float]
    uniform: tuple[float, ...]
    first: float | None
    last: float | None

    @property
    def times(self) -> tuple[float, ...]:
        extra = tuple(t for t in (self.first, self.last) if t is not None)
        return self.uniform + extra


def uniform_fractions(count: int, sampling: str = "every_n") -> tuple[float, ...]:
    """Stored frame positions as fractions of the span, ascending (``FrameConfig.sampling``); exact
    rationals, so a point the grids of several N share (1/2 of N = 1 and N = 3) is stored once."""
    from fractions import Fraction

    ns = range(1, count + 1) if sampling == "every_n" else (count,)
    return tuple(float(f) for f in sorted({Fraction(2 * k + 1, 2 * n) for n in ns for k in range(n)}))


def plan_clip(row: Mapping[str, Any], frames: FrameConfig) -> ClipPlan:
    """Sampling times for a manifest row; ValueError when its span is not a valid interval."""
    if frames.span == "window":
        s, e = float(row["window_start_sec"]), float(row["window_end_sec"])
    else:
        s, e = float(row["start_sec"]), float(row["end_sec"])
    if not (math.isfinite(s) and math.isfinite(e)) or e <= s:
        raise ValueError(f"{frames.span} span [{s}, {e}] is not a valid interval")
    uniform = tuple(s + f * (e - s) for f in uniform_fractions(frames.count, frames.sampling))
    return ClipPlan(
        span=(s, e),
        uniform=uniform,
        first=s if frames.first_last else None,
        last=e if frames.first_last else None,
    )


@dataclass
class VideoOutcome:
    """Rows and quarantine entries for one video, with work counters."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    quarantine: Quarantine = field(default_factory=Quarantine)
    frames_decoded: int = 0
    frames_stored: int = 0
    seeks: int = 0
    decode_sec: float = 0.0


def _entry(row: Mapping[str, Any], source: str, reason: str, detail: str) -> QuarantineEntry:
    return QuarantineEntry(
        stage=STAGE,
        dataset=str(row["dataset"]),
        source_file=source,
        reason=reason,
        detail=detail,
        item_id=str(row["clip_id"]),
        record=dict(row),
    )


def _load_imu(rows: Sequence[Mapping[str, Any]], imu: ImuWindowConfig) -> ImuStream:
    first = rows[0]
    return load_imu_stream(
        str(first["dataset"]), list(first["imu_paths"]), first.get("video_duration_sec"), imu
    )


def ingest_video(
    rows: Sequence[Mapping[str, Any]],
    frames: FrameConfig,
    imu: ImuWindowConfig,
    min_coverage: float,
) -> VideoOutcome:
    """Decode one video's clips (manifest rows of the same video) into clip rows or quarantine entries."""
    out = VideoOutcome()
    if not rows:
        return out
    video_path = str(rows[0]["video_path"])

    # IMU first: it is cheap, and clips without usable IMU need no decoding.
    windows: dict[str, Any] = {}
    try:
        stream = _load_imu(rows, imu)
    except ImuFileError as e:
        out.quarantine.extend(_entry(r, e.path, e.reason, str(e)) for r in rows)
        return out
    except (ValueError, OSError) as e:
        src = ",".join(rows[0]["imu_paths"])
        out.quarantine.extend(_entry(r, src, "imu_unreadable", f"{type(e).__name__}: {e}") for r in rows)
        return out

    plans: dict[str, ClipPlan] = {}
    for r in rows:
        cid = str(r["clip_id"])
        try:
            plans[cid] = plan_clip(r, frames)
        except ValueError as e:
            out.quarantine.add(_entry(r, video_path, "bad_clip_window", str(e)))
            continue
        win = extract_window(stream, float(r["window_start_sec"]), imu)
        if win.coverage < min_coverage:
            out.quarantine.add(
                _entry(
                    r,
                    ",".join(r["imu_paths"]),
                    "imu_low_coverage",
                    f"IMU covers {win.coverage:.3f} of the window starting at {float(r['window_start_sec']):.3f}s "
                    f"(< {min_coverage})",
                )
            )
            del plans[cid]
            continue
        windows[cid] = win
    if not plans:
        return out

    geometry = FrameTransform(frames.short_side, frames.crop_size, frames.interpolation)

    def transform(frame: Any) -> bytes:
        # encode at once: a long video's picked frames are held compressed, not as arrays
        return encode_jpeg(geometry(frame), frames.jpeg_quality)

    t0 = time.perf_counter()
    try:
        result = decode_at(
            video_path,
            [t for p in plans.values() for t in p.times],
            transform,
            max_offset_sec=frames.max_offset_sec,
            seek_gap_sec=frames.seek_gap_sec,
            threads=frames.decode_threads,
        )
    except VideoDecodeError as e:
        out.quarantine.extend(
            _entry(r, video_path, e.reason, e.detail) for r in rows if str(r["clip_id"]) in plans
        )
        return out
    except Exception as e:  # noqa: BLE001 - a strange file must end in quarantine, not kill a long job
        detail = f"unexpected {type(e).__name__} while decoding: {e}"
        out.quarantine.extend(
            _entry(r, video_path, "decode_error", detail) for r in rows if str(r["clip_id"]) in plans
        )
        return out
    out.decode_sec = time.perf_counter() - t0
    out.frames_decoded = result.frames_decoded
    out.seeks = result.seeks
    mismatch = timing_problem(result, rows[0].get("fps"), rows[0].get("video_duration_sec"), frames)
    if mismatch is not None:
        out.quarantine.extend(
            _entry(r, video_path, "video_timing_mismatch", mismatch)
            for r in rows
            if str(r["clip_id"]) in plans
        )
        return out

    for r in rows:
        cid = str(r["clip_id"])
        if cid not in plans:
            continue
        plan = plans[cid]
        missing = [t for t in plan.times if t not in result.frames]
        if missing:
            reason, detail = result.missing_reason(missing[0], frames.max_offset_sec)
            out.quarantine.add(_entry(r, video_path, reason, detail))
            continue
        out.rows.append(_clip_row(r, plan, result, windows[cid], geometry, stream.units))
        out.frames_stored += len(plan.times)
    return out


def timing_problem(
    result: DecodeResult, fps: float | None, duration_sec: float | None, frames: FrameConfig
) -> str | None:
    """Why the video's timing disagrees with its manifest row (fps, duration), or None.

    A file whose timestamps run fast or slow (or whose metadata names another rate) would give
    frames of the wrong instants for every clip, not only for those past its end.
    """
    tol = frames.timing_tolerance
    info = result.info
    problems = []
    if fps and fps > 0:
        for what, seen in (("container", info.average_fps), ("decoded timestamps", result.decoded_fps)):
            if seen and abs(seen - fps) > tol * fps:
                problems.append(f"{what} fps {seen:.3f} vs manifest fps {fps:.3f}")
    if duration_sec and info.duration_sec is not None:
        allowed = max(frames.timing_tolerance_sec, tol * duration_sec)
        if abs(info.duration_sec - duration_sec) > allowed:
            problems.append(f"container duration {info.duration_sec:.3f}s vs manifest {duration_sec:.3f}s")
    if not problems:
        return None
    return "; ".join(problems) + f" (tolerance {tol:.0%}): timestamps cannot be trusted"


def _clip_row(
    r: Mapping[str, Any],
    plan: ClipPlan,
    result: DecodeResult,
    win: Any,
    geometry: FrameTransform,
    units: Sequence[str],
) -> dict[str, Any]:
    def jpeg(t: float) -> bytes:
        return result.frames[t].image

    width, height = geometry.output_size(result.info.width, result.info.height)
    info = result.info
    return {
        "dataset": r["dataset"],
        "clip_id": r["clip_id"],
        "video_id": r["video_id"],
        "participant_id": r.get("participant_id"),
        "split": r["split"],
        "label": r["label"],
        "verb": r["verb"],
        "verb_class": r["verb_class"],
        "start_sec": r["start_sec"],
        "end_sec": r["end_sec"],
        "window_start_sec": r["window_start_sec"],
        "window_end_sec": r["window_end_sec"],
        "sample_start_sec": plan.span[0],
        "sample_end_sec": plan.span[1],
        "num_frames": len(plan.uniform),
        "frames": [jpeg(t) for t in plan.uniform],
        "frame_target_sec": list(plan.uniform),
        "frame_time_sec": [result.frames[t].time_sec for t in plan.uniform],
        "first_frame": jpeg(plan.first) if plan.first is not None else None,
        "first_frame_time_sec": result.frames[plan.first].time_sec if plan.first is not None else None,
        "last_frame": jpeg(plan.last) if plan.last is not None else None,
        "last_frame_time_sec": result.frames[plan.last].time_sec if plan.last is not None else None,
        "frame_height": height,
        "frame_width": width,
        "frame_channels": 3,
        "source_height": info.height,
        "source_width": info.width,
        "video_fps": r["fps"],
        "imu": win.samples.astype(np.float32, copy=False).reshape(-1),
        "imu_mask": win.mask,
        "imu_num_samples": int(win.samples.shape[0]),
        "imu_num_channels": len(IMU_CHANNELS),
        "imu_rate_hz": win.rate_hz,
        "imu_window_rate_hz": None,  # filled by rows_to_table from the IMU config
        "imu_coverage": win.coverage,
        "imu_max_gap_ms": win.max_gap_ms,
        "imu_units": list(units),
        "imu_clipped": win.clipped,
        "video_path": r["video_path"],
    }


def rows_to_table(rows: Sequence[dict[str, Any]], imu: ImuWindowConfig) -> pa.Table:
    """Clip rows -> an Arrow table in the ``clips`` contract (IMU columns built without Python floats)."""
    schema = load_contract(store.CONTRACT).schema
    plain = [{k: v for k, v in r.items() if k not in ("imu", "imu_mask")} for r in rows]
    for p in plain:
        p["imu_window_rate_hz"] = imu.rate_hz
    columns = {f.name: [p[f.name] for p in plain] for f in schema if f.name not in ("imu", "imu_mask")}
    arrays: dict[str, pa.Array] = {
        name: pa.array(vals, type=schema.field(name).type) for name, vals in columns.items()
    }
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(r["imu"]) for r in rows])
    mask_offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    mask_offsets[1:] = np.cumsum([len(r["imu_mask"]) for r in rows])
    imu_values = np.concatenate([r["imu"] for r in rows]) if rows else np.zeros(0, np.float32)
    mask_values = np.concatenate([r["imu_mask"] for r in rows]) if rows else np.zeros(0, bool)
    arrays["imu"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(imu_values, type=pa.float32()))
    arrays["imu_mask"] = pa.ListArray.from_arrays(
        pa.array(mask_offsets), pa.array(mask_values, type=pa.bool_())
    )
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


# ----------------------------------------------------------------------------------------------
# the Ray Data map function


@lru_cache(maxsize=8)
def _settings(text: str) -> tuple[FrameConfig, ImuWindowConfig, float, OutputConfig, str, str]:
    s = json.loads(text)
    return (
        FrameConfig.model_validate(s["frames"]),
        ImuWindowConfig.model_validate(s["imu"]),
        float(s["min_coverage"]),
        OutputConfig.model_validate(s["output"]),
        s["fingerprint"],
        s["out"],
    )


def settings_json(
    frames: FrameConfig,
    imu: ImuWindowConfig,
    min_coverage: float,
    output: OutputConfig,
    fingerprint: str,
    out: str,
) -> str:
    """What every task needs, as one JSON string (cheap to ship, parsed once per worker)."""
    return json.dumps(
        {
            "frames": frames.model_dump(mode="json"),
            "imu": imu.model_dump(mode="json"),
            "min_coverage": min_coverage,
            "output": output.model_dump(mode="json"),
            "fingerprint": fingerprint,
            "out": out,
        },
        sort_keys=True,
    )


def process_video_task(task: dict[str, Any], settings: str) -> dict[str, Any]:
    """Ray Data ``map`` function: ingest one video's pending clips and write its files.

    ``task`` holds dataset, video_id, part and rows_json (the manifest rows, JSON). Data files (one
    per split) are written before the quarantine file; each is atomic, and "done" is decided per
    clip from complete files, so a crash between them only leaves clips to redo.
    """
    frames, imu, min_coverage, output, fingerprint, out = _settings(settings)
    rows = json.loads(task["rows_json"])
    t0 = time.perf_counter()
    outcome = ingest_video(rows, frames, imu, min_coverage)
    files: list[str] = []
    by_split: dict[str, list[dict[str, Any]]] = {}
    for row in outcome.rows:
        by_split.setdefault(str(row["split"]), []).append(row)
    for split, split_rows in sorted(by_split.items()):
        split_rows.sort(key=lambda r: (r["window_start_sec"], r["clip_id"]))
        path = store.data_file(out, task["dataset"], split, task["video_id"], task["part"])
        store.write_clips(
            rows_to_table(split_rows, imu), path, fingerprint, output.row_group_rows, output.compression
        )
        files.append(path)
    if len(outcome.quarantine):
        path = store.quarantine_file(out, task["dataset"], task["video_id"], task["part"])
        store.write_quarantine(outcome.quarantine.to_table(), path, fingerprint)
        files.append(path)
    return {
        "dataset": task["dataset"],
        "video_id": task["video_id"],
        "clips": len(rows),
        "written": len(outcome.rows),
        "quarantined": len(outcome.quarantine),
        "reasons": json.dumps(dict(outcome.quarantine.counts())),
        "frames_decoded": outcome.frames_decoded,
        "frames_stored": outcome.frames_stored,
        "seeks": outcome.seeks,
        "decode_sec": outcome.decode_sec,
        "task_sec": time.perf_counter() - t0,
        "files": files,
    }
