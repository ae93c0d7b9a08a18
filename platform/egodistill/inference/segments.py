"""From per-window predictions to what a person reads: action segments, accuracy, a timeline plot.

A segment is a run of consecutive predicted windows (by window index) with the same top-1 label; a
quarantined window breaks the run, so a segment never spans time the model did not see.
Per-window accuracy compares each window's top-1 label with the annotated verb covering most of it
(``gt_label``); windows without one are left out and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from egodistill.inference.sources import GroundTruth
from egodistill.tables import conform


def window_ground_truth(
    start_sec: float, end_sec: float, ground_truth: Sequence[GroundTruth], min_fraction: float = 0.5
) -> str | None:
    """The verb of the annotated segment overlapping the window most, if it covers >= min_fraction of it."""
    best, best_overlap = None, 0.0
    for g in ground_truth:
        overlap = min(end_sec, g.end_sec) - max(start_sec, g.start_sec)
        if overlap > best_overlap:
            best, best_overlap = g.verb, overlap
    if best is None or best_overlap < min_fraction * (end_sec - start_sec):
        return None
    return best


def merge_segments(predictions: pa.Table) -> pa.Table:
    """The ``segments`` table of one or more videos' predictions tables (any row order)."""
    rows: list[dict] = []
    cols = predictions.select(
        [
            "dataset",
            "video_id",
            "window_index",
            "window_start_sec",
            "window_end_sec",
            "pred_label",
            "pred_class",
            "confidence",
            "model",
        ]  # fmt: skip
    ).to_pylist()
    cols.sort(key=lambda r: (r["video_id"], r["window_index"]))
    current: dict | None = None
    for r in cols:
        same = (
            current is not None
            and current["video_id"] == r["video_id"]
            and current["label"] == r["pred_label"]
            and current["_last_index"] + 1 == r["window_index"]
        )
        if same:
            assert current is not None
            current["end_sec"] = max(current["end_sec"], r["window_end_sec"])
            current["num_windows"] += 1
            current["_conf"].append(r["confidence"])
            current["_last_index"] = r["window_index"]
            continue
        if current is not None:
            rows.append(current)
        index = rows[-1]["segment_index"] + 1 if rows and rows[-1]["video_id"] == r["video_id"] else 0
        current = {
            "dataset": r["dataset"], "video_id": r["video_id"], "segment_index": index,
            "start_sec": r["window_start_sec"], "end_sec": r["window_end_sec"], "label": r["pred_label"],
            "class_index": r["pred_class"], "num_windows": 1, "model": r["model"],
            "_conf": [r["confidence"]], "_last_index": r["window_index"],
        }  # fmt: skip
    if current is not None:
        rows.append(current)
    for r in rows:
        r["mean_confidence"] = float(np.mean(r.pop("_conf")))
        r.pop("_last_index")
    names = ["dataset", "video_id", "segment_index", "start_sec", "end_sec", "label", "class_index",
             "num_windows", "mean_confidence", "model"]  # fmt: skip
    table = pa.table({n: [r[n] for r in rows] for n in names}) if rows else _empty_segments()
    return conform(table, "segments")


def _empty_segments() -> pa.Table:
    from egodistill.tables import load_contract

    return load_contract("segments").schema.empty_table()


@dataclass
class Accuracy:
    """Per-window top-1 against the annotations (windows whose verb the model knows)."""

    correct: int
    labelled: int
    unlabelled: int
    unknown_verb: int = 0
    """Annotated windows whose verb is not among the model's classes (rare classes dropped in training)."""

    @property
    def top1(self) -> float:
        return self.correct / self.labelled if self.labelled else float("nan")

    def line(self) -> str:
        if not self.labelled:
            return "per-window accuracy: no annotated windows with a verb the model knows"
        extra = f", {self.unknown_verb} with a verb outside the model's classes" if self.unknown_verb else ""
        return (
            f"per-window accuracy {self.top1:.3f} ({self.correct}/{self.labelled} annotated windows; "
            f"left out: {self.unlabelled} without an annotation{extra})"
        )


def window_accuracy(predictions: pa.Table, classes: Sequence[str] | None = None) -> Accuracy:
    gt = predictions.column("gt_label").to_pylist()
    pred = predictions.column("pred_label").to_pylist()
    known = set(classes) if classes is not None else None
    labelled = [
        (g, p) for g, p in zip(gt, pred, strict=True) if g is not None and (known is None or g in known)
    ]
    unknown = sum(1 for g in gt if g is not None and known is not None and g not in known)
    return Accuracy(sum(g == p for g, p in labelled), len(labelled), gt.count(None), unknown)


def plot_timeline(
    predictions: pa.Table,
    ground_truth: Sequence[GroundTruth],
    classes: Sequence[str],
    path: str | Path,
    title: str,
    duration_sec: float | None = None,
) -> Path:
    """A PNG: predicted windows as coloured bars (alpha = confidence), the annotations beside them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    cmap = plt.get_cmap("tab20")
    colour = {name: cmap(i % 20) for i, name in enumerate(classes)}
    rows = predictions.select(["window_start_sec", "window_end_sec", "pred_label", "confidence"]).to_pylist()
    end = duration_sec or max([r["window_end_sec"] for r in rows] + [g.end_sec for g in ground_truth] + [1.0])
    fig, ax = plt.subplots(figsize=(min(40.0, max(10.0, end / 15.0)), 2.8))
    for r in rows:
        ax.broken_barh(
            [(r["window_start_sec"], r["window_end_sec"] - r["window_start_sec"])], (1.1, 0.8),
            facecolors=colour.get(r["pred_label"], "grey"), alpha=0.35 + 0.65 * float(r["confidence"]),
        )  # fmt: skip
    for g in ground_truth:
        ax.broken_barh(
            [(g.start_sec, g.end_sec - g.start_sec)], (0.1, 0.8), facecolors=colour.get(g.verb, "grey")
        )
    ax.set_yticks([0.5, 1.5], ["annotated" if ground_truth else "(no annotations)", "predicted"])
    ax.set_xlim(0, end)
    ax.set_ylim(0, 2)
    ax.set_xlabel("time (s)")
    acc = window_accuracy(predictions, classes)
    ax.set_title(title + (f" - per-window top-1 {acc.top1:.2f}" if acc.labelled else ""))
    used = sorted({r["pred_label"] for r in rows} | {g.verb for g in ground_truth})
    ax.legend(
        handles=[Patch(color=colour.get(n, "grey"), label=n) for n in used],
        loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False,
    )  # fmt: skip
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path
