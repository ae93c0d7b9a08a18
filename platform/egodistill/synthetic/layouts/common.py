"""Helpers shared by the layout writers: atomic text files, time formats, per-video records."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egodistill.storage import atomic_write_bytes


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically (temporary name in the same folder, then rename)."""
    atomic_write_bytes(str(path), text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """CSV text as the plain ``csv`` module writes it (minimal quoting, ``\\n`` line ends)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def hms_centis(sec: float) -> tuple[str, int]:
    """``HH:MM:SS.ss`` (EPIC start/stop) and the integer centiseconds it encodes."""
    c = int(round(sec * 100))
    h, rem = divmod(c, 360_000)
    m, rem = divmod(rem, 6_000)
    s, cs = divmod(rem, 100)
    return f"{h:02d}:{m:02d}:{s:02d}.{cs:02d}", c


def hms_millis(sec: float) -> str:
    """``HH:MM:SS.mmm`` (EPIC narration timestamp)."""
    ms = int(round(sec * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, mmm = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{mmm:03d}"


def fmt(x: float, digits: int = 7) -> str:
    """Compact, platform-independent float text (shortest of ``%.{digits}g``)."""
    return f"{x:.{digits}g}"


@dataclass
class VideoRecord:
    """What a worker hands back for one video: ground truth plus the layout's annotation pieces."""

    index: int
    ground_truth: dict[str, Any]
    annotations: dict[str, Any] = field(default_factory=dict)
    seconds_rendered: float = 0.0
    bytes_written: int = 0
    render_sec: float = 0.0
    encode_sec: float = 0.0
