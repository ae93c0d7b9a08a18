"""Ego4D reader: ``ego4d.json`` + ``fho_main.json`` (v2) -> clip candidates (data-formats.md §1).

A clip spans ``pre_frame`` -> ``post_frame`` of a valid FHO narrated action on the canonical video
timeline (frame / fps), labelled with its ``structured_verb`` (seed 000 supplement B). One "row" is
one narrated action, counted in file order.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egodistill.datasets.common import (
    STAGE,
    AnnotationError,
    Candidate,
    Rejected,
    is_safe_id,
    require_file,
    under_root,
)
from egodistill.datasets.config import Ego4DConfig
from egodistill.quarantine import QuarantineEntry

_CANONICAL_FPS = 30.0  # every canonical video is constant 30 fps (§1.2)
_RECORD_SKIP = ("frames", "clip_critical_frames")  # bulky box lists; not needed to trace a row
_FLAGS = ("is_valid_action", "is_rejected", "is_invalid_annotation", "is_partial")


def _load_json(path: Path, what: str) -> dict[str, Any]:
    require_file(path, what)
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{path}: {what} is not valid JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("videos"), list):
        raise AnnotationError(f"{path}: {what} must be an object with a 'videos' list")
    return data


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@dataclass
class _Video:
    """What every action of one fho_main video shares."""

    uid: Any
    fps: float
    duration: float | None
    split_fho: Any
    problem: tuple[str, str] | None


def _video(video: dict[str, Any], metadata: dict[str, dict[str, Any]], meta_name: str) -> _Video:
    uid = video.get("video_uid")
    fho_meta = video.get("video_metadata") if isinstance(video.get("video_metadata"), dict) else {}
    meta = metadata.get(uid) if isinstance(uid, str) else None
    vm = (meta or {}).get("video_metadata") or {}
    fps = _number(fho_meta.get("fps")) or _number(vm.get("fps")) or _CANONICAL_FPS
    # most precise first: video_metadata.video_duration_sec (415.533), then the rounded ones
    durations = (vm.get("video_duration_sec"), (meta or {}).get("duration_sec"), fho_meta.get("duration_sec"))
    duration = next((d for d in map(_number, durations) if d is not None and d > 0), None)
    problem = None
    if not is_safe_id(uid):
        problem = ("unsafe_id", f"video_uid {uid!r} is not a plain file name")
    elif meta is None:
        problem = ("video_not_in_metadata", f"video_uid {uid} is not in {meta_name}")
    elif not meta.get("has_imu"):
        problem = ("no_imu_video", f"video {uid} has has_imu={meta.get('has_imu')!r}")
    return _Video(uid, fps if fps > 0 else _CANONICAL_FPS, duration, (meta or {}).get("split_fho"), problem)


def _is_valid(action: dict[str, Any], cfg: Ego4DConfig) -> bool:
    ok = (
        bool(action.get("is_valid_action"))
        and not action.get("is_rejected")
        and not action.get("is_invalid_annotation")
    )
    return ok and not (cfg.exclude_partial and action.get("is_partial"))


def _check_action(
    action: Any, redacted: bool, video: _Video, cfg: Ego4DConfig, tolerance: float
) -> tuple[float, float, str]:
    """(start_sec, end_sec, verb) of a usable action; raises Rejected otherwise (§1.7)."""
    if not isinstance(action, dict) or not isinstance(action.get("uid"), str) or not action["uid"]:
        raise Rejected("malformed_row", "narrated action is not an object with a uid")
    if video.problem:
        raise Rejected(*video.problem)
    if redacted:
        raise Rejected("redacted_interval", "the annotated interval is redacted")
    if not _is_valid(action, cfg):
        flags = {k: action.get(k) for k in _FLAGS}
        raise Rejected("action_not_valid", f"flags {flags}, reject_reason={action.get('reject_reason')!r}")
    cf = action.get("critical_frames")
    if not isinstance(cf, dict) or "pre_frame" not in cf or "post_frame" not in cf:
        raise Rejected("missing_critical_frames", f"critical_frames={cf!r} lacks pre_frame/post_frame")
    pre, post = _number(cf["pre_frame"]), _number(cf["post_frame"])
    if pre is None or post is None:
        raise Rejected(
            "bad_timestamp", f"pre_frame={cf['pre_frame']!r}, post_frame={cf['post_frame']!r} are not numbers"
        )
    verb = action.get("structured_verb")
    if not isinstance(verb, str) or not verb:
        raise Rejected("missing_label", f"structured_verb={verb!r}")
    start, end = pre / video.fps, post / video.fps
    if end <= start:
        raise Rejected("bad_segment", f"post_frame {post:g} <= pre_frame {pre:g}")
    if start < 0 or (video.duration is not None and end > video.duration + tolerance):
        raise Rejected(
            "clip_outside_video",
            f"segment {start:.3f}-{end:.3f} s is outside the video (0-{video.duration} s)",
        )
    return start, end, verb


def _record(video_uid: Any, interval: int, action: Any) -> dict[str, Any]:
    if not isinstance(action, dict):
        return {"video_uid": video_uid, "interval": interval, "action": str(action)[:500]}
    return {
        **{k: v for k, v in action.items() if k not in _RECORD_SKIP},
        "video_uid": video_uid,
        "interval": interval,
    }


def read_ego4d(
    root: Path, cfg: Ego4DConfig, clip_tolerance_sec: float = 0.1
) -> tuple[list[Candidate], list[QuarantineEntry], int]:
    """Read the FHO annotations under ``root``; returns (candidates, quarantined, actions read).

    ``verb_class`` is the index of the verb in the sorted list of structured_verb strings of all
    valid actions in the file, so it depends on the annotation file alone.
    """
    root = Path(root)
    base = root / cfg.version
    ann_path, meta_path = base / cfg.annotation_file, base / cfg.metadata_file
    fho = _load_json(ann_path, f"FHO annotation file (expected <root>/{cfg.version}/{cfg.annotation_file})")
    meta_doc = _load_json(
        meta_path, f"Ego4D metadata file (expected <root>/{cfg.version}/{cfg.metadata_file})"
    )
    metadata = {
        v["video_uid"]: v
        for v in meta_doc["videos"]
        if isinstance(v, dict) and isinstance(v.get("video_uid"), str)
    }
    src = str(ann_path)
    cands: list[Candidate] = []
    bad: list[QuarantineEntry] = []
    vocabulary: set[str] = set()
    row = 0
    for v_index, fho_video in enumerate(fho["videos"]):
        intervals = fho_video.get("annotated_intervals") if isinstance(fho_video, dict) else None
        if not isinstance(intervals, list):
            detail = f"videos[{v_index}] has no annotated_intervals list"
            bad.append(
                QuarantineEntry(
                    STAGE, "ego4d", src, "malformed_row", detail, row, None, {"video": str(fho_video)[:500]}
                )
            )
            row += 1
            continue
        video = _video(fho_video, metadata, meta_path.name)
        for i_index, itv in enumerate(intervals):
            actions = itv.get("narrated_actions") if isinstance(itv, dict) else None
            if not isinstance(actions, list):
                detail = f"interval {i_index} of {video.uid} has no narrated_actions list"
                bad.append(
                    QuarantineEntry(
                        STAGE, "ego4d", src, "malformed_row", detail, row, None, {"interval": str(itv)[:500]}
                    )
                )
                row += 1
                continue
            for action in actions:
                index, row = row, row + 1
                rec = _record(video.uid, i_index, action)
                item = action.get("uid") if isinstance(action, dict) else None
                verb = action.get("structured_verb") if isinstance(action, dict) else None
                if isinstance(verb, str) and verb and _is_valid(action, cfg):
                    vocabulary.add(verb)
                try:
                    start, end, verb = _check_action(
                        action, bool(itv.get("redacted")), video, cfg, clip_tolerance_sec
                    )
                except Rejected as r:
                    bad.append(QuarantineEntry(STAGE, "ego4d", src, r.reason, str(r), index, item, rec))
                    continue
                cands.append(
                    Candidate(
                        dataset="ego4d",
                        clip_id=item,
                        video_id=video.uid,
                        participant_id=None,
                        start_sec=start,
                        end_sec=end,
                        verb=verb,
                        verb_class=-1,  # set below, once the whole vocabulary is known
                        video_path=str(under_root(root, cfg.version, cfg.video_dir, f"{video.uid}.mp4")),
                        imu_paths=[str(under_root(root, cfg.version, cfg.imu_dir, f"{video.uid}.csv"))],
                        fps=video.fps,
                        video_duration_sec=video.duration,
                        source_file=src,
                        source_row=index,
                        record=rec,
                        split_hint=video.split_fho,
                    )
                )
    classes = {verb: i for i, verb in enumerate(sorted(vocabulary))}
    for c in cands:
        c.verb_class = classes[c.verb]
    return cands, bad, row
