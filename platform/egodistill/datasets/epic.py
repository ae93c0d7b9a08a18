"""EPIC-KITCHENS-100 reader: annotation CSVs -> clip candidates (data-formats.md §2).

A clip spans ``start_timestamp`` -> ``stop_timestamp`` (seconds; frames index JPEG dumps and are
ambiguous, §2.5), labelled with ``verb_class`` (name = the class ``key``). Only extension videos
(``PXX_1YY``) carry GoPro IMU; rows of other videos are quarantined as ``no_imu_video``.
"""

from __future__ import annotations

import re
from pathlib import Path

from egodistill.datasets.common import (
    STAGE,
    AnnotationError,
    Candidate,
    Rejected,
    is_safe_id,
    read_csv_rows,
    under_root,
)
from egodistill.datasets.config import EpicConfig
from egodistill.quarantine import QuarantineEntry

ANNOTATION_COLUMNS = (
    "narration_id",
    "participant_id",
    "video_id",
    "narration_timestamp",
    "start_timestamp",
    "stop_timestamp",
    "start_frame",
    "stop_frame",
    "narration",
    "verb",
    "verb_class",
    "noun",
    "noun_class",
    "all_nouns",
    "all_noun_classes",
)
REQUIRED_COLUMNS = (
    "narration_id",
    "participant_id",
    "video_id",
    "start_timestamp",
    "stop_timestamp",
    "verb_class",
)
VERB_CLASS_COLUMNS = ("id", "key")
VIDEO_INFO_COLUMNS = ("video_id", "duration", "fps")

_HMS = re.compile(r"(\d+):([0-5]?\d):(\d+(?:\.\d*)?)")


def parse_hms(text: str) -> float | None:
    """``HH:MM:SS.ss`` -> seconds; None if the text is not such a timestamp."""
    m = _HMS.fullmatch(text.strip())
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def read_verb_classes(path: Path) -> dict[int, str]:
    """``EPIC_100_verb_classes.csv`` -> {id: key}; a bad row is a structural error."""
    classes: dict[int, str] = {}
    for index, row, fields in read_csv_rows(path, VERB_CLASS_COLUMNS):
        key = row["key"].strip() if row else ""
        if not key or not row or not row["id"].strip().isdigit():
            raise AnnotationError(f"{path}: data row {index} is not 'id,key,...': {fields}")
        classes[int(row["id"])] = key
    if not classes:
        raise AnnotationError(f"{path}: no verb classes")
    return classes


def read_video_info(path: Path) -> dict[str, tuple[float, float]]:
    """``EPIC_100_video_info.csv`` -> {video_id: (duration_sec, fps)}; a bad row is structural."""
    info: dict[str, tuple[float, float]] = {}
    for index, row, fields in read_csv_rows(path, VIDEO_INFO_COLUMNS):
        duration = _positive(row["duration"]) if row else None
        fps = _positive(row["fps"]) if row else None
        if row is None or duration is None or fps is None:
            raise AnnotationError(f"{path}: data row {index} is not 'video_id,duration,fps,...': {fields}")
        info[row["video_id"].strip()] = (duration, fps)
    return info


def _positive(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 and value != float("inf") else None


def _video_index(video_id: str, participant: str) -> int | None:
    prefix = participant + "_"
    if not video_id.startswith(prefix) or not video_id[len(prefix) :].isdigit():
        return None
    return int(video_id[len(prefix) :])


def _check_row(
    row: dict[str, str],
    classes: dict[int, str],
    info: dict[str, tuple[float, float]],
    cfg: EpicConfig,
    tolerance: float,
) -> tuple[float, float, int]:
    """(start_sec, stop_sec, verb_class) of a usable row; raises Rejected(reason, detail) otherwise."""
    vid, part = row["video_id"].strip(), row["participant_id"].strip()
    if not row["narration_id"].strip():
        raise Rejected("malformed_row", "empty narration_id")
    for name, value in (("video_id", vid), ("participant_id", part)):
        if not is_safe_id(value):
            raise Rejected("unsafe_id", f"{name} {value!r} is not a plain file name")
    number = _video_index(vid, part)
    if number is None:
        raise Rejected(
            "malformed_row", f"video_id {vid!r} is not <participant_id>_<number> for participant {part!r}"
        )
    if number < cfg.extension_min_index:
        raise Rejected(
            "no_imu_video",
            f"{vid} is an EPIC-55-era video (index {number} < {cfg.extension_min_index}): no IMU",
        )
    try:
        verb_class = int(row["verb_class"])
    except ValueError:
        raise Rejected("malformed_row", f"verb_class {row['verb_class']!r} is not an integer") from None
    if verb_class not in classes:
        raise Rejected("unknown_class", f"verb_class {verb_class} is not in {cfg.verb_classes_file}")
    start, stop = parse_hms(row["start_timestamp"]), parse_hms(row["stop_timestamp"])
    if start is None or stop is None:
        raise Rejected(
            "bad_timestamp",
            f"start/stop {row['start_timestamp']!r}/{row['stop_timestamp']!r} are not HH:MM:SS.ss",
        )
    if stop <= start:
        raise Rejected("bad_segment", f"stop {stop:.2f} s <= start {start:.2f} s")
    if vid not in info:
        raise Rejected("video_not_in_metadata", f"{vid} is not in {cfg.video_info_file}")
    duration = info[vid][0]
    if stop > duration + tolerance:
        raise Rejected(
            "clip_outside_video", f"segment {start:.2f}-{stop:.2f} s ends after the video ({duration:.3f} s)"
        )
    return start, stop, verb_class


def read_epic(
    root: Path, cfg: EpicConfig, clip_tolerance_sec: float = 0.1
) -> tuple[list[Candidate], list[QuarantineEntry], int]:
    """Read EPIC annotation CSVs; returns (candidates, quarantined, data rows read).

    Media lives under ``root`` as ``PXX/videos/<video_id>.MP4`` and ``PXX/meta_data/<video_id>-accl.csv``
    / ``-gyro.csv``; the CSVs live in ``cfg.annotations_dir`` (default: ``root``).
    """
    root = Path(root)
    ann_dir = Path(cfg.annotations_dir) if cfg.annotations_dir else root
    classes = read_verb_classes(ann_dir / cfg.verb_classes_file)
    info = read_video_info(ann_dir / cfg.video_info_file)
    paths = [ann_dir / name for name in cfg.annotation_files]
    for p in paths:  # fail before reading anything if one listed file is absent
        if not p.is_file():
            raise AnnotationError(f"{p}: annotation file not found (listed in epic.annotation_files)")
    out: list[Candidate] = []
    bad: list[QuarantineEntry] = []
    rows_in = 0
    for path in paths:
        src = str(path)
        for index, row, fields in read_csv_rows(path, REQUIRED_COLUMNS):
            rows_in += 1
            if row is None:
                rec = {"fields": fields}
                bad.append(
                    QuarantineEntry(
                        STAGE,
                        "epic",
                        src,
                        "malformed_row",
                        f"{len(fields)} fields, header has a different count",
                        index,
                        None,
                        rec,
                    )
                )
                continue
            item = row["narration_id"].strip() or None
            try:
                start, stop, verb_class = _check_row(row, classes, info, cfg, clip_tolerance_sec)
            except Rejected as r:
                bad.append(QuarantineEntry(STAGE, "epic", src, r.reason, str(r), index, item, row))
                continue
            vid, part = row["video_id"].strip(), row["participant_id"].strip()
            duration, fps = info[vid]
            out.append(
                Candidate(
                    dataset="epic",
                    clip_id=str(item),
                    video_id=vid,
                    participant_id=part,
                    start_sec=float(start),
                    end_sec=float(stop),
                    verb=classes[int(verb_class)],
                    verb_class=int(verb_class),
                    video_path=str(_video_path(root, part, vid, cfg.video_ext)),
                    imu_paths=[
                        str(under_root(root, part, "meta_data", f"{vid}-accl.csv")),
                        str(under_root(root, part, "meta_data", f"{vid}-gyro.csv")),
                    ],
                    fps=fps,
                    video_duration_sec=duration,
                    source_file=src,
                    source_row=index,
                    record=row,
                    split_hint=path.name,
                )
            )
    return out, bad, rows_in


def _video_path(root: Path, participant: str, video_id: str, ext: str) -> Path:
    """``PXX/videos/<id>.MP4``; the lower-case extension is accepted when only it exists."""
    path = under_root(root, participant, "videos", f"{video_id}{ext}")
    if not path.exists() and path.with_suffix(ext.lower()).exists():
        return path.with_suffix(ext.lower())
    return path
