"""Where ``predict`` writes and how a re-run knows what is done.

``<out>/predictions/<video_id>.parquet`` (contract ``predictions``) is written last for a video and is
its "done" marker (even with zero rows); ``<out>/quarantine/<video_id>.parquet`` comes first when the
video has quarantined windows. Both are atomic (``storage.atomic_write_table``) and carry the run
fingerprint; a re-run with other settings into the same ``--out`` is refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from egodistill.storage import atomic_write_table

FINGERPRINT_KEY = b"egodistill.predict.fingerprint"


class PredictOutputError(ValueError):
    """The output folder holds results of other settings (or an unreadable file)."""


def fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def predictions_file(out: str | Path, video_id: str) -> Path:
    return Path(out) / "predictions" / f"{video_id}.parquet"


def quarantine_file(out: str | Path, video_id: str) -> Path:
    return Path(out) / "quarantine" / f"{video_id}.parquet"


def timeline_file(out: str | Path, video_id: str) -> Path:
    return Path(out) / "timelines" / f"{video_id}.png"


def segments_file(out: str | Path) -> Path:
    return Path(out) / "segments.parquet"


def _stamped(table: pa.Table, fp: str) -> pa.Table:
    return table.replace_schema_metadata({**(table.schema.metadata or {}), FINGERPRINT_KEY: fp.encode()})


def write(table: pa.Table, path: Path, fp: str) -> None:
    atomic_write_table(_stamped(table, fp), str(path))


def done_videos(out: str | Path, fp: str) -> set[str]:
    """Video ids with a complete predictions file of this fingerprint; PredictOutputError on another one."""
    done = set()
    for path in sorted((Path(out) / "predictions").glob("*.parquet")):
        try:
            meta = pq.read_schema(path).metadata or {}
        except (OSError, pa.ArrowInvalid) as e:
            raise PredictOutputError(f"{path}: unreadable predictions file: {e}") from e
        found = meta.get(FINGERPRINT_KEY, b"").decode()
        if found != fp:
            raise PredictOutputError(
                f"{path}: written with other settings (fingerprint {found or 'none'}, this run {fp}); "
                "use another --out"
            )
        done.add(path.stem)
    return done


def read_quarantine_counts(out: str | Path, video_ids: set[str]) -> tuple[int, dict[str, int]]:
    """Quarantined rows (and per reason) in the quarantine files of these videos."""
    total, reasons = 0, {}
    for vid in sorted(video_ids):
        path = quarantine_file(out, vid)
        if path.is_file():
            for r in pq.read_table(path, columns=["reason"]).column("reason").to_pylist():
                total += 1
                reasons[r] = reasons.get(r, 0) + 1
    return total, reasons
