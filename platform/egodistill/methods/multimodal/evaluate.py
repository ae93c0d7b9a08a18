"""Per-segment logits of every model, computed in Ray tasks (only per-segment arrays reach the driver).

Views are a segment's dense evaluation clips. Following the reference's ``inference.py``, logits are
averaged over a segment's views before the softmax. For the "fewer views" curve a segment keeps
``v`` of its dense clips spread evenly over its span (all of them when it has fewer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from egodistill.evaluation.segments import DENSE_SEPARATOR, segment_of


@dataclass
class SegmentLogits:
    """Per segment: label and, per view, the logits of one model (views in dense order)."""

    segment_id: list[str]
    label: np.ndarray  # (S,)
    views: list[np.ndarray]  # S arrays of (V_s, C)

    def mean(self, max_views: int | None = None) -> np.ndarray:
        """(S, C) logits averaged over (at most ``max_views`` evenly spread) views."""
        out = []
        for v in self.views:
            if max_views is not None and len(v) > max_views:
                v = v[np.unique(np.linspace(0, len(v) - 1, max_views).round().astype(int))]
            out.append(v.mean(0))
        return np.stack(out)


def dense_index(clip_id: str) -> int:
    head, sep, tail = clip_id.rpartition(DENSE_SEPARATOR)
    return int(tail) if sep and tail.isdigit() else 0


def group(clip_ids: Sequence[str], labels: Sequence[int], logits: np.ndarray) -> SegmentLogits:
    """Group clip logits by segment (sorted ids), views ordered by their dense index."""
    by: dict[str, list[tuple[int, int]]] = {}
    lab: dict[str, int] = {}
    for i, c in enumerate(clip_ids):
        s = segment_of(c)
        by.setdefault(s, []).append((dense_index(c), i))
        lab[s] = int(labels[i])
    segs = sorted(by)
    return SegmentLogits(segs, np.array([lab[s] for s in segs], np.int64),
                         [logits[[i for _, i in sorted(by[s])]] for s in segs])  # fmt: skip


def teacher_logits_task(tables: dict[str, list[str]], labels_files: list[str], split: str) -> dict[str, Any]:
    """(Ray task) per teacher: the clip ids, labels and logits of ``split`` (dense clips: a few MB)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    lab = pa.concat_tables([pq.read_table(f, columns=["clip_id", "split", "label"]) for f in labels_files])
    lab = lab.filter(pc.equal(lab.column("split"), split))
    label_of = dict(zip(lab.column("clip_id").to_pylist(), lab.column("label").to_pylist(), strict=True))
    out: dict[str, Any] = {}
    for name, files in tables.items():
        t = pa.concat_tables([pq.read_table(f, columns=["clip_id", "teacher_logits"]) for f in files])
        ids = t.column("clip_id").to_pylist()
        keep = [i for i, c in enumerate(ids) if c in label_of]
        logits = np.asarray(t.column("teacher_logits").to_pylist(), np.float32)
        out[name] = {"clip_id": [ids[i] for i in keep], "label": [label_of[ids[i]] for i in keep],
                     "logits": logits[keep] if len(keep) else np.zeros((0, 0), np.float32)}  # fmt: skip
    return out


def student_logits_task(student_dir: str, directory: str, summary: dict[str, Any], split: str, num_frames: int,
                        strategy: str, seed: int) -> dict[str, Any]:  # fmt: skip
    """(Ray task) the exported student over the dense clips: clip ids, labels, logits."""
    from pathlib import Path

    import pyarrow.parquet as pq
    import torch

    from egodistill.methods.multimodal.steps import student_input
    from egodistill.student.export import load_student
    from egodistill.student.stream import SelectFrames

    model, _, _ = load_student(student_dir)
    fn = SelectFrames(split, num_frames, strategy, seed, None, False, None, None)
    ids: list[str] = []
    labels: list[int] = []
    chunks: list[np.ndarray] = []
    cols = ["clip_id", "split", "label", "imu", "imu_num_samples", "imu_num_channels", "sample_start_sec",
            "sample_end_sec", "video_fps", "num_pool", "frame_features", "frame_time_sec"]  # fmt: skip
    for f in sorted(Path(directory).glob("*.parquet")):
        pf = pq.ParquetFile(f)
        for rb in pf.iter_batches(batch_size=64, columns=cols):
            import pyarrow as pa
            import pyarrow.compute as pc

            batch = pa.Table.from_batches([rb])
            batch = batch.filter(pc.equal(batch.column("split"), split))
            if batch.num_rows == 0:
                continue
            arrays = fn(batch)
            tensors = {k: torch.as_tensor(v) for k, v in arrays.items()}
            with torch.no_grad():
                out = model(**student_input(tensors, strategy, num_frames), imu=None)
            chunks.append(out.logits.float().numpy())
            ids += batch.column("clip_id").to_pylist()
            labels += batch.column("label").to_pylist()
    return {"clip_id": ids, "label": labels, "logits": np.concatenate(chunks) if chunks else np.zeros((0, 0))}


__all__ = ["SegmentLogits", "dense_index", "group", "student_logits_task", "teacher_logits_task"]
