"""``<workspace>/reports/correspondence/<dataset>/``: results.json, markdown + CSV tables, plots (and MLflow)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from egodistill import tracking


def _ci(e: dict[str, Any] | None) -> str:
    if not e:
        return "-"
    return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def tables(results: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """Every table as rows (header first)."""
    out: dict[str, list[list[Any]]] = {}
    c = results.get("correspondence")
    if c:
        rows = [["video CNN", "ROC-AUC [95% CI]", "pairs scored", "interval", "v->m R@1", "R@5", "R@10", "MRR",
                 "m->v R@1", "R@5", "R@10", "MRR", "clips"]]  # fmt: skip
        for name in ("frozen", "updated"):
            if name in c:
                r = c[name]
                vm, mv = r["video_to_imu"], r["imu_to_video"]
                rows.append([name, _ci(r["roc_auc"]), r["roc_auc"]["n"], r["roc_auc"]["interval"],
                             *(f"{vm[k]:.3f}" for k in ("r@1", "r@5", "r@10", "mrr")),
                             *(f"{mv[k]:.3f}" for k in ("r@1", "r@5", "r@10", "mrr")), vm["n"]])  # fmt: skip
        out["correspondence"] = rows
    for key in ("probe", "transfer"):
        p = results.get(key)
        if p:
            rows = [["representation", "top-1 [95% CI]", "test clips", "train clips", "interval"]]
            for name in ("random", "ssl", "supervised"):
                r = p.get(name, {})
                t = r.get("top1")
                rows.append([r.get("representation", name), _ci(t), t["n"] if t else 0, r.get("train_clips", 0),
                             t["interval"] if t else r.get("missing", "-")])  # fmt: skip
            out[key] = rows
    m = results.get("modalities")
    if m:
        rows = [["class", "clips", "video", "IMU", "ensemble", "video only", "IMU only", "both", "neither"]]
        for r in m["per_class"]:
            rows.append([r["class"], r["clips"], _ci(r["video"]), _ci(r["imu"]), _ci(r["ensemble"]),
                         r["video_only"], r["imu_only"], r["both"], r["neither"]])  # fmt: skip
        o = m["overall"]
        rows.append(["all", m["test_clips"], _ci(o["video"]), _ci(o["imu"]), _ci(o["ensemble"]),
                     sum(r["video_only"] for r in m["per_class"]), sum(r["imu_only"] for r in m["per_class"]),
                     sum(r["both"] for r in m["per_class"]), sum(r["neither"] for r in m["per_class"])])  # fmt: skip
        out["modalities"] = rows
    return out


def markdown(results: dict[str, Any]) -> str:
    titles = {"correspondence": "Correspondence on held-out pairs (Table 3; ROC-AUC bootstrap over clips)",
              "probe": "Linear probe on frozen video features (Table 4; Wilson intervals)",
              "modalities": "Video-only, IMU-only, ensemble (Tables 1-2; Wilson intervals)",
              "transfer": "Transfer: linear probe on the second domain (Table 5; Wilson intervals)"}  # fmt: skip
    lines = [f"# Correspondence SSL on {results.get('dataset', '?')}", ""]
    for line in results.get("notes", []):
        lines.append(f"- {line}")
    for key, rows in tables(results).items():
        lines += ["", f"## {titles[key]}", "", "| " + " | ".join(map(str, rows[0])) + " |",
                  "|" + "---|" * len(rows[0])]  # fmt: skip
        lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows[1:]]
    return "\n".join(lines) + "\n"


def plots(results: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for key in ("probe", "transfer"):
        p = results.get(key)
        if not p:
            continue
        names = [n for n in ("random", "ssl", "supervised") if p.get(n, {}).get("top1")]
        vals = [p[n]["top1"] for n in names]
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.bar(
            names,
            [v["value"] for v in vals],
            yerr=[[v["value"] - v["low"] for v in vals], [v["high"] - v["value"] for v in vals]],
            capsize=4,
        )
        ax.set_ylabel("top-1 (95% Wilson)")
        ax.set_title(f"{key}: linear probe, n={vals[0]['n'] if vals else 0}")
        fig.tight_layout()
        path = out / f"{key}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    c = results.get("correspondence")
    if c:
        names = [n for n in ("frozen", "updated") if n in c]
        fig, ax = plt.subplots(figsize=(4, 3))
        a = [c[n]["roc_auc"] for n in names]
        ax.bar(
            names,
            [v["value"] for v in a],
            yerr=[[v["value"] - v["low"] for v in a], [v["high"] - v["value"] for v in a]],
            capsize=4,
        )
        ax.axhline(0.5, color="grey", ls="--")
        ax.set_ylim(0.4, 1.0)
        ax.set_ylabel("ROC-AUC (bootstrap 95%)")
        fig.tight_layout()
        path = out / "correspondence_auc.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """The headline figures as MLflow metrics."""
    m: dict[str, float] = {}
    for name, r in (results.get("correspondence") or {}).items():
        if isinstance(r, dict) and "roc_auc" in r:
            for k in ("value", "low", "high"):
                m[f"auc_{name}_{k}"] = r["roc_auc"][k]
            for d in ("video_to_imu", "imu_to_video"):
                for k in ("r@1", "r@5", "r@10", "mrr"):
                    m[f"{d}_{name}_{k.replace('@', '')}"] = r[d][k]
    for key in ("probe", "transfer"):
        for name in ("random", "ssl", "supervised"):
            t = (results.get(key) or {}).get(name, {}).get("top1")
            if t:
                m[f"{key}_{name}_top1"] = t["value"]
                m[f"{key}_{name}_n"] = t["n"]
    o = (results.get("modalities") or {}).get("overall", {})
    for k, v in o.items():
        m[f"modalities_{k}_top1"] = v["value"]
    return m


def write_report(results: dict[str, Any], directory: Path, run: tracking.RunRef | None = None) -> Path:
    """Write results.json, <table>.md/.csv, report.md and the plots; log them all to ``run``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results, indent=1, default=str))
    for key, rows in tables(results).items():
        with open(directory / f"{key}.csv", "w", newline="") as f:
            csv.writer(f).writerows(rows)
    (directory / "report.md").write_text(markdown(results))
    plots(results, directory)
    tracking.log_metrics(run, flat_metrics(results))
    tracking.log_artifact(run, str(directory), "report")
    return directory


__all__ = ["flat_metrics", "markdown", "tables", "write_report"]
