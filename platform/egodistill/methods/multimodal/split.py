"""The held-out part of the training set that no teacher trains on (the per-dataset weights' data).

The reference code reads it from an index file it never writes; here it is explicit: a stable hash of
each training clip's ``video_id`` puts whole videos aside (clips of one video are correlated), written
as ``<root>/heldout.parquet`` (``clip_id, video_id, role``: ``teacher_train`` or ``heldout``) beside the
manifest's own splits. With fewer than 3 training videos it falls back to hashing clip ids, and says so.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def _unit(text: str, seed: int) -> float:
    return int.from_bytes(hashlib.sha1(f"{seed}:{text}".encode()).digest()[:8], "big") / 2**64


def heldout_split(
    clip_files: list[str], train_split: str, fraction: float, seed: int, out: Path
) -> tuple[pa.Table, str]:
    """The role of every training clip (written to ``out``) and a one-line note on how it was drawn."""
    ids = pa.concat_tables([pq.read_table(f, columns=["clip_id", "video_id", "split"]) for f in clip_files])
    ids = ids.filter(pc.equal(ids.column("split"), train_split))
    videos = sorted(set(ids.column("video_id").to_pylist()))
    by_video = len(videos) >= 3
    keys = ids.column("video_id" if by_video else "clip_id").to_pylist()
    held = [_unit(k, seed) < fraction for k in keys]
    if by_video and (all(held) or not any(held)):  # keep both roles non-empty
        held = [k == videos[0] for k in keys]
    roles = ["heldout" if h else "teacher_train" for h in held]
    table = pa.table({"clip_id": ids.column("clip_id"), "video_id": ids.column("video_id"), "role": roles})
    out.parent.mkdir(parents=True, exist_ok=True)
    from egodistill.storage import atomic_write_table

    atomic_write_table(table, str(out))
    n = sum(held)
    note = (f"held-out for the per-dataset weights: {n} of {len(held)} training clips "
            f"({'whole videos' if by_video else 'by clip id: fewer than 3 training videos'}, fraction {fraction})")  # fmt: skip
    return table, note


__all__ = ["heldout_split"]
