"""What the Ego4D and EPIC readers share: the clip candidate record, reason codes, safe paths.

A reader turns annotation rows into :class:`Candidate` clips (or quarantine entries); the manifest
builder then checks media, IMU coverage, classes and splits for both datasets the same way.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egodistill.quarantine import QuarantineEntry

STAGE = "index"

FILTER_REASONS = frozenset(
    {
        "action_not_valid",  # Ego4D action rejected / invalid / not a valid action (by design)
        "redacted_interval",  # Ego4D interval marked redacted
        "no_imu_video",  # Ego4D has_imu false; EPIC-55-era video (no GoPro IMU)
        "rare_class",  # class with fewer than min_class_instances usable clips
        "no_split",  # the split rule cannot place the clip (e.g. split_fho multi/null)
    }
)
"""Reasons that are rules, not defects: a clean dataset still produces them."""

DEFECT_REASONS = frozenset(
    {
        "malformed_row",
        "bad_timestamp",
        "bad_segment",
        "clip_outside_video",
        "unsafe_id",
        "duplicate_id",
        "missing_label",
        "missing_critical_frames",
        "unknown_class",
        "video_not_in_metadata",
        "video_missing",
        "video_empty",
        "imu_missing",
        "imu_empty",
        "imu_bad_header",
        "imu_unreadable",
        "imu_clock_skew",
        "imu_nan",  # a channel with no number in any row (e.g. all-NaN gyroscope)
        "imu_timestamp_units",  # timestamps in microseconds where milliseconds are promised
        "imu_low_coverage",
    }
)
"""Reasons that mean the input is broken or incomplete."""

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


class AnnotationError(ValueError):
    """A structural problem (missing file, wrong header, unreadable JSON): the run stops."""


class Rejected(Exception):
    """Raised by a reader's row check: the row goes to quarantine with this reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass
class Candidate:
    """One labelled segment read from an annotation row, before media and IMU checks."""

    dataset: str
    clip_id: str
    video_id: str
    participant_id: str | None
    start_sec: float
    end_sec: float
    verb: str
    verb_class: int
    video_path: str
    imu_paths: list[str]
    fps: float
    video_duration_sec: float | None
    source_file: str
    source_row: int
    record: Mapping[str, Any] = field(repr=False)
    split_hint: str | None = None
    """Ego4D split_fho of the video; EPIC annotation file name."""

    def quarantine(self, reason: str, detail: str) -> QuarantineEntry:
        return QuarantineEntry(
            stage=STAGE,
            dataset=self.dataset,
            source_file=self.source_file,
            reason=reason,
            detail=detail,
            source_row=self.source_row,
            item_id=self.clip_id,
            record=self.record,
        )


def is_safe_id(value: object) -> bool:
    """A plain file-name component: no separators, no leading dot, nothing that climbs out."""
    return isinstance(value, str) and _SAFE_ID.fullmatch(value) is not None and ".." not in value


def under_root(root: Path, *parts: str) -> Path:
    """root / parts, refusing any result that escapes root lexically (symlinks inside are fine)."""
    base = os.path.normpath(os.path.abspath(root))
    path = os.path.normpath(os.path.join(base, *parts))
    if os.path.commonpath([base, path]) != base:
        raise ValueError(f"{path} escapes the dataset root {base}")
    return Path(path)


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise AnnotationError(f"{path}: {what} not found")
    return path


def read_csv_rows(
    path: Path, required: Sequence[str]
) -> Iterator[tuple[int, dict[str, str] | None, list[str]]]:
    """Yield (data row index, row dict or None if malformed, raw fields) for a CSV with a header.

    The header must contain ``required`` (else :class:`AnnotationError`); rows whose field count
    differs from the header, or that the csv module cannot parse, come back with a None dict.
    """
    require_file(path, "annotation file")
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:  # bad bytes -> U+FFFD
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise AnnotationError(f"{path}: empty file; expected header with {','.join(required)}") from None
        missing = [c for c in required if c not in header]
        if missing:
            raise AnnotationError(
                f"{path}: header {','.join(header)!r} lacks {missing}; expected columns {','.join(required)}"
            )
        index = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                yield index, None, [f"<csv error: {e}>"]
                index += 1
                continue
            if not fields:
                continue
            if len(fields) != len(header):
                yield index, None, fields
            else:
                yield index, dict(zip(header, fields, strict=True)), fields
            index += 1
