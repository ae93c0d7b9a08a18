"""Per-segment evaluation (seed 000 §4.1): average the softmax over each segment's dense clips.

The student reads Parquet only, so dense evaluation clips are *ingested* like any clip:
:func:`dense_manifest` expands the evaluation rows of a manifest with
:func:`egodistill.datasets.manifest.dense_clips` into one manifest row per dense window, with
``clip_id = f"{segment clip_id}#d{k}"`` (the naming rule that maps a dense clip back to its segment,
:func:`segment_of`) and the dense window as the model window. The
ingest and image-feature passes then run on that manifest into a separate clips root
(``<workspace>/clips_dense``). :func:`segment_results` groups clip predictions by segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from egodistill.datasets.manifest import DenseClipConfig, dense_clips

DENSE_SEPARATOR = "#d"


def segment_of(clip_id: str) -> str:
    """The labelled segment a (possibly dense, ``<segment>#d<k>``) clip id belongs to."""
    head, sep, tail = clip_id.rpartition(DENSE_SEPARATOR)
    return head if sep and tail.isdigit() else clip_id


def dense_manifest(
    manifest: pa.Table, cfg: DenseClipConfig | None = None, splits: tuple[str, ...] = ("val", "test")
) -> pa.Table:
    """Manifest rows of ``splits`` expanded to one row per dense window (same columns and schema)."""
    rows = manifest.filter(pc.is_in(manifest.column("split"), pa.array(list(splits), pa.string())))
    if rows.num_rows == 0:
        return rows
    windows = dense_clips(rows, cfg)
    by_id = {r["clip_id"]: r for r in rows.to_pylist()}
    out = []
    for w in windows.to_pylist():
        r = dict(by_id[w["clip_id"]])
        r["clip_id"] = f"{w['clip_id']}{DENSE_SEPARATOR}{w['dense_index']}"
        r["window_start_sec"] = w["window_start_sec"]
        r["window_end_sec"] = w["window_end_sec"]
        out.append(r)
    return pa.Table.from_pylist(out, schema=rows.schema)


@dataclass
class SegmentResults:
    """Per-segment predictions (softmax averaged over dense clips) and the per-clip view."""

    segment_id: list[str]
    label: np.ndarray  # (S,)
    pred: np.ndarray  # (S,)
    confidence: np.ndarray  # (S,) averaged probability of the prediction
    num_clips: np.ndarray  # (S,)
    clip_correct: int
    num_clip_rows: int
    num_classes: int

    @property
    def top1(self) -> float:
        return float((self.pred == self.label).mean()) if len(self.label) else float("nan")

    @property
    def clip_top1(self) -> float:
        return self.clip_correct / self.num_clip_rows if self.num_clip_rows else float("nan")

    def per_class(self) -> tuple[np.ndarray, np.ndarray]:
        """(accuracy per class (nan when the class has no segment), segments per class)."""
        return per_class_accuracy(self.label, self.pred, self.num_classes)

    def table(self, classes: list[str] | None = None) -> pa.Table:
        names = classes or [str(i) for i in range(self.num_classes)]
        return pa.table(
            {
                "segment_id": self.segment_id,
                "label": pa.array(self.label, pa.int32()),
                "verb": [names[i] for i in self.label],
                "pred": pa.array(self.pred, pa.int32()),
                "pred_verb": [names[i] for i in self.pred],
                "correct": pa.array(self.pred == self.label),
                "confidence": pa.array(self.confidence, pa.float32()),
                "num_dense_clips": pa.array(self.num_clips, pa.int32()),
            }
        )


def segment_results(
    clip_ids: list[str], probs: np.ndarray, labels: np.ndarray, num_classes: int | None = None
) -> SegmentResults:
    """Group clip probabilities ``(R, C)`` by segment (``segment_of(clip_id)``) and average them."""
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, np.int64)
    c = num_classes or probs.shape[1]
    segs = [segment_of(cid) for cid in clip_ids]
    order = sorted(set(segs))
    pos = {s: i for i, s in enumerate(order)}
    idx = np.array([pos[s] for s in segs], np.int64)
    sums = np.zeros((len(order), c))
    np.add.at(sums, idx, probs)
    counts = np.bincount(idx, minlength=len(order))
    seg_label = np.full(len(order), -1, np.int64)
    seg_label[idx] = labels
    for s_i, lab in zip(idx, labels, strict=True):
        if seg_label[s_i] != lab:
            raise ValueError(f"segment {order[s_i]} has dense clips with different labels")
    mean = sums / np.maximum(counts, 1)[:, None]
    pred = mean.argmax(1)
    return SegmentResults(
        segment_id=order,
        label=seg_label,
        pred=pred,
        confidence=mean.max(1),
        num_clips=counts,
        clip_correct=int((probs.argmax(1) == labels).sum()),
        num_clip_rows=len(labels),
        num_classes=c,
    )


def per_class_accuracy(
    labels: np.ndarray, preds: np.ndarray, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 per class (nan for a class without segments) and the segment count per class."""
    labels = np.asarray(labels, np.int64)
    preds = np.asarray(preds, np.int64)
    n = np.bincount(labels, minlength=num_classes).astype(np.float64)
    hit = np.bincount(labels[preds == labels], minlength=num_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n > 0, hit / np.maximum(n, 1), np.nan)
    return acc, n.astype(np.int64)


def per_class_gain(
    ours: SegmentResults, baseline: SegmentResults, classes: list[str] | None = None
) -> pa.Table:
    """Per-class accuracy of ``ours`` minus ``baseline`` (seed Figure 4), sorted from best to worst."""
    if ours.segment_id != baseline.segment_id:
        raise ValueError("per-class gain needs both models evaluated on the same segments")
    a, n = ours.per_class()
    b, _ = baseline.per_class()
    names = classes or [str(i) for i in range(ours.num_classes)]
    rows = [
        {"class": i, "verb": names[i], "segments": int(n[i]), "ours": float(a[i]),
         "baseline": float(b[i]), "gain": float(a[i] - b[i])}
        for i in range(ours.num_classes) if n[i] > 0
    ]  # fmt: skip
    rows.sort(key=lambda r: -r["gain"])
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema([("class", pa.int32()), ("verb", pa.string()), ("segments", pa.int32()),
                          ("ours", pa.float64()), ("baseline", pa.float64()), ("gain", pa.float64())]),
    )  # fmt: skip


__all__ = [
    "DENSE_SEPARATOR",
    "segment_of",
    "SegmentResults",
    "dense_manifest",
    "per_class_accuracy",
    "per_class_gain",
    "segment_results",
]
