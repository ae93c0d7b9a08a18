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
    """Seed Table 3's columns: GMACs (multiply-adds, the paper's "GFLOPs"), CPU ms per clip, M params."""
    return [
        {
            "model": name,
            "GMACs": round(e["gmacs"], 3),
            "CPU latency (ms/clip)": round(1000 * e["cpu_latency_sec"], 2),
            "params (M)": round(e["params"] / 1e6, 2),
        }
        for name, e in entries
    ]


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
) -> dict[str, Path]:
    """Write results / efficiency / per-class tables (md + csv) and the plot; log them to ``run``."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for name, rows in (("results", results), ("efficiency", efficiency), ("per_class_gain", per_class or [])):
        if not rows:
            continue
        (directory / f"{name}.md").write_text(markdown_table(rows))
        (directory / f"{name}.csv").write_text(csv_text(rows))
        files[name] = directory / f"{name}.md"
    if points:
        files["plot"] = accuracy_vs_gmacs_plot(points, directory / "accuracy_vs_gmacs.png", title)
    tracking.log_artifact(run, directory, "report")
    return files


__all__ = ["accuracy_vs_gmacs_plot", "csv_text", "efficiency_rows", "markdown_table", "write_report"]
