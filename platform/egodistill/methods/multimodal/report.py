"""The multimodal report: one row per model (teachers, ensembles, students), tables, plots, MLflow.

``<workspace>/reports/multimodal/<dataset>/``: ``results.json``, ``results.md`` / ``results.csv``
(top-1 with its Wilson 95 % interval and the number of segments, top-5, ECE×100), ``per_class.csv``,
``views.csv`` + ``accuracy_vs_views.png`` (the students as views shrink), ``reliability/<model>.png``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from egodistill.methods.multimodal.calibration import (
    per_class_accuracy,
    plot_reliability,
    reliability,
    softmax,
    summarise,
)
from egodistill.methods.multimodal.evaluate import SegmentLogits


def model_rows(
    models: dict[str, tuple[str, SegmentLogits]], classes: list[str], bins: int
) -> list[dict[str, Any]]:
    """One summary row per model: kind, name, segments, top-1 (+ interval), top-5, ECE."""
    rows = []
    for name, (kind, seg) in models.items():
        probs = softmax(seg.mean())
        rows.append({"model": name, "kind": kind, **summarise(probs, seg.label, bins),
                     "views_per_segment": float(np.mean([len(v) for v in seg.views])) if seg.views else 0.0})  # fmt: skip
    return rows


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| model | kind | segments | top-1 (95% Wilson) | top-5 | ECE×100 (95% bootstrap) | mean conf |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(f"| {r['model']} | {r['kind']} | {r['segments']} | {100 * r['top1']:.1f} "
                   f"[{100 * r['top1_lo']:.1f}, {100 * r['top1_hi']:.1f}] | {100 * r['top5']:.1f} | {r['ece']:.1f} [{r['ece_lo']:.1f}, {r['ece_hi']:.1f}] | "
                   f"{r['mean_confidence']:.2f} |")  # fmt: skip
    return out


def views_rows(students: dict[str, SegmentLogits], views: list[int]) -> list[dict[str, Any]]:
    rows = []
    for name, seg in students.items():
        stored = max((len(v) for v in seg.views), default=0)
        for v in views:
            if v > stored:
                continue
            probs = softmax(seg.mean(v))
            rows.append({"model": name, "views": v, **summarise(probs, seg.label)})
    return rows


def write_report(out: Path, models: dict[str, tuple[str, SegmentLogits]], students: dict[str, SegmentLogits],
                 classes: list[str], views: list[int], bins: int, extra: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Write every table and plot; returns the results dict (also ``results.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "reliability").mkdir(exist_ok=True)
    rows = model_rows(models, classes, bins)
    vrows = views_rows(students, views)
    per_class: list[dict[str, Any]] = []
    for name, (_, seg) in models.items():
        probs = softmax(seg.mean())
        acc, n = per_class_accuracy(probs, seg.label, len(classes))
        per_class += [{"model": name, "class": c, "segments": int(n[i]), "accuracy": float(acc[i])}
                      for i, c in enumerate(classes)]  # fmt: skip
        plot_reliability(reliability(probs, seg.label, bins), name, str(out / "reliability" / f"{name}.png"))
    for fname, data in (("results.csv", rows), ("per_class.csv", per_class), ("views.csv", vrows)):
        with open(out / fname, "w", newline="") as f:
            if data:
                w = csv.DictWriter(f, fieldnames=list(data[0]))
                w.writeheader()
                w.writerows(data)
    lines = table_lines(rows)
    (out / "results.md").write_text("\n".join([f"# Multimodal distillation ({extra.get('dataset')})", "",
                                               *lines, "", *[f"- {n}" for n in extra.get("notes", [])], ""]))  # fmt: skip
    if vrows:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=110)
        for name in students:
            pts = [(r["views"], r["top1"]) for r in vrows if r["model"] == name]
            ax.plot(*zip(*pts, strict=True), marker="o", label=name)
        ax.set_xscale("log", base=2), ax.set_xlabel("views per segment"), ax.set_ylabel("top-1")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "accuracy_vs_views.png")
        plt.close(fig)
    results = {"models": rows, "views": vrows, "per_class": per_class, **extra}
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))
    return results


__all__ = ["model_rows", "table_lines", "views_rows", "write_report"]
