"""Result tables, the efficiency table (seed Table 3) and the accuracy-vs-GMACs plot (seed Figure 3).

Everything is written as files (Markdown + CSV tables, a PNG plot) under one report folder and, when a
run is given, logged to MLflow as artifacts of that run.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from egodistill import tracking


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-style Markdown table of ``rows`` (dicts sharing keys)."""
    if not rows:
        return "(no rows)\n"
    cols = list(columns or rows[0].keys())
    cells = [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
    out = [line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out) + "\n"


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return ""
    cols = list(columns or rows[0].keys())
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in cols})
    return buf.getvalue()


def efficiency_rows(entries: Sequence[tuple[str, dict[str, float]]]) -> list[dict[str, Any]]:
    """Seed Table 3's columns: GMACs (multiply-adds, the paper's "GFLOPs"), CPU ms per clip, M params,
    and the settings of the one latency figure (:func:`~egodistill.evaluation.efficiency.measure_efficiency`:
    CPU, one thread, median of 3 at ``latency_batch`` clips per forward)."""
    return [
        {
            "model": name,
            "GMACs": round(e["gmacs"], 3),
            "cpu_latency_ms_per_clip": round(1000 * e["cpu_latency_sec"], 2),
            "latency_batch": int(e.get("latency_batch", 1)),
            "latency_threads": 1,
            "params (M)": round(e["params"] / 1e6, 2),
        }
        for name, e in entries
    ]


def comparison_plot(rows: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """One chart for every run: per-segment top-1 (%) as bars on one axis with 95 % interval whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(r["model"]) for r in rows]
    top1 = [100 * float(r["segment_top1"]) for r in rows]
    low = [t - 100 * float(r["segment_top1_ci_low"]) for t, r in zip(top1, rows, strict=True)]
    high = [100 * float(r["segment_top1_ci_high"]) - t for t, r in zip(top1, rows, strict=True)]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(rows) + 2), 4.2), dpi=120)
    ax.bar(range(len(rows)), top1, yerr=[low, high], capsize=4, color="#4c72b0")
    ax.set_xticks(range(len(rows)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("per-segment top-1 (%), 95 % interval")
    segments = sorted({int(r["eval_segments"]) for r in rows})
    ax.set_title(f"{title} ({'/'.join(map(str, segments))} evaluation segments)", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def accuracy_vs_gmacs_plot(points: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Scatter of per-segment top-1 vs GMACs per clip, one labelled marker per model (Figure 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    for p in points:
        ax.scatter(p["gmacs"], 100 * p["top1"], s=50, marker=p.get("marker", "o"))
        ax.annotate(
            p["label"], (p["gmacs"], 100 * p["top1"]), textcoords="offset points", xytext=(5, 4), fontsize=8
        )
    ax.set_xscale("log")
    ax.set_xlabel("GMACs per clip (log scale)")
    ax.set_ylabel("per-segment top-1 (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(
    directory: Path,
    *,
    results: Sequence[dict[str, Any]],
    efficiency: Sequence[dict[str, Any]],
    per_class: Sequence[dict[str, Any]] | None,
    points: Sequence[dict[str, Any]],
    title: str,
    run: tracking.RunRef | None = None,
    warnings: Sequence[str] = (),
) -> dict[str, Path]:
    """Write results / efficiency / per-class tables (md + csv), the plots and ``WARNINGS.txt`` (what
    makes the figures not what they seem, e.g. random weights); log them to ``run``."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    warn_file = directory / "WARNINGS.txt"
    if warnings:
        warn_file.write_text("".join(f"WARNING: {w}\n" for w in warnings))
        files["warnings"] = warn_file
    elif warn_file.exists():
        warn_file.unlink()
    for name, rows in (("results", results), ("efficiency", efficiency), ("per_class_gain", per_class or [])):
        if not rows:
            continue
        (directory / f"{name}.md").write_text(markdown_table(rows))
        (directory / f"{name}.csv").write_text(csv_text(rows))
        files[name] = directory / f"{name}.md"
    if points:
        files["plot"] = accuracy_vs_gmacs_plot(points, directory / "accuracy_vs_gmacs.png", title)
    if results and all("segment_top1_ci_low" in r for r in results):
        files["comparison"] = comparison_plot(results, directory / "comparison.png", title)
    tracking.log_artifact(run, directory, "report")
    return files


__all__ = [
    "accuracy_vs_gmacs_plot",
    "comparison_plot",
    "csv_text",
    "efficiency_rows",
    "markdown_table",
    "write_report",
]
