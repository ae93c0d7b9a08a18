"""One per-segment evaluator for every model (seed 000 §4.1): softmax averaged over dense clips.

Workers feed it batches of (segment key, class probabilities, label); it keeps one probability sum
per segment (memory: segments × classes, never the clips), so evaluation streams over any number of
dense clips and only the per-segment results leave the worker.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np


class SegmentAccumulator:
    """Per-segment probability sums, clip counts and labels, plus the per-clip top-1."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = int(num_classes)
        self._index: dict[Hashable, int] = {}
        self._sums: list[np.ndarray] = []
        self._counts: list[int] = []
        self._labels: list[int] = []
        self.clip_correct = 0
        self.clip_rows = 0
        self.loss_sum = 0.0

    def add(self, segments: Sequence[Hashable], probs: np.ndarray, labels: Sequence[int], loss_sum: float = 0.0):
        """Add a batch: ``probs`` (B, C), one segment key and label per row."""
        probs = np.asarray(probs, np.float64)
        labels = np.asarray(labels, np.int64)
        for key, p, y in zip(segments, probs, labels, strict=True):
            i = self._index.get(key)
            if i is None:
                i = self._index[key] = len(self._sums)
                self._sums.append(np.zeros(self.num_classes))
                self._counts.append(0)
                self._labels.append(int(y))
            elif self._labels[i] != int(y):
                raise ValueError(f"segment {key} has dense clips with different labels")
            self._sums[i] += p
            self._counts[i] += 1
        self.clip_correct += int((probs.argmax(1) == labels).sum()) if len(labels) else 0
        self.clip_rows += len(labels)
        self.loss_sum += float(loss_sum)

    def results(self):
        """:class:`~egodistill.evaluation.segments.SegmentResults`, segments in sorted key order."""
        from egodistill.evaluation.segments import SegmentResults

        order = sorted(self._index, key=lambda k: (str(type(k)), k))
        idx = [self._index[k] for k in order]
        counts = np.array([self._counts[i] for i in idx], np.int64)
        sums = np.array([self._sums[i] for i in idx]).reshape(len(idx), self.num_classes)
        mean = sums / np.maximum(counts, 1)[:, None]
        return SegmentResults(
            segment_id=[str(k) for k in order],
            label=np.array([self._labels[i] for i in idx], np.int64),
            pred=mean.argmax(1) if len(idx) else np.zeros(0, np.int64),
            confidence=mean.max(1) if len(idx) else np.zeros(0),
            num_clips=counts,
            clip_correct=self.clip_correct,
            num_clip_rows=self.clip_rows,
            num_classes=self.num_classes,
        )

    def metrics(self, prefix: str = "val_") -> dict[str, Any]:
        """The epoch metrics: per-segment and per-clip top-1, counts, mean loss."""
        r = self.results()
        n = self.clip_rows
        return {
            f"{prefix}segment_top1": r.top1,
            f"{prefix}segments": len(r.segment_id),
            f"{prefix}segments_correct": int((r.pred == r.label).sum()),
            f"{prefix}clip_top1": r.clip_top1,
            f"{prefix}clips": n,
            f"{prefix}loss": self.loss_sum / n if n else float("nan"),
        }


__all__ = ["SegmentAccumulator"]
