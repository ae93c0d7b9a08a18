"""``egodistill reproduce``: the paper's comparisons on a benchmark world, over K seeds, with intervals.

One world (the demo's stages: synth → index → ingest → teacher → features → student-inputs, at a stated
size and with the world's knobs) and one teacher, then the EgoDistill experiment (Table 2 variants,
Table 1 ablations, N = 1..4, frame strategies) once per training seed. Every figure is the mean over
seeds and segments with a 95 % two-level bootstrap interval (seeds and segments resampled, see
:mod:`egodistill.evaluation.intervals`), and every comparison a paired bootstrap test against its
reference on the same seeds and segments. The teacher is trained once (seed = the world's seed) and
paired with every student seed. Tables (md + csv) and the accuracy-vs-GMACs plot go to
``<workspace>/reports/reproduce/<dataset>/`` and to one MLflow run; each seed's experiment keeps its
own MLflow run as well.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from egodistill.config import StrictConfig, load_config
from egodistill.demo import DemoConfig, image_weights_path
from egodistill.evaluation.intervals import bootstrap_interval, difference_of_gains, paired_test
from egodistill.storage import atomic_write_bytes
from egodistill.tracking import TrackingConfig

log = logging.getLogger(__name__)

ALL_ABLATIONS = ["no_l1", "no_kd", "no_gt", "no_pretrain", "no_pretrain_l1", "no_pretrain_nce"]
TEACHER = "Teacher"


class ReproduceConfig(StrictConfig):
    """The benchmark: a world (size, seed, knobs, presets), K training seeds and the comparisons."""

    world: DemoConfig = Field(default_factory=lambda: DemoConfig(out="bench_out", layouts=["ego4d"],
                                                                 runner="local"))  # fmt: skip
    seeds: int = Field(3, ge=1, description="training seeds of every student (K)")
    variants: list[Literal["visonly", "visonly_distill", "visimu", "egodistill"]] = Field(
        default_factory=lambda: ["visonly", "visonly_distill", "visimu", "egodistill"]
    )
    ablations: list[str] = Field(default_factory=lambda: list(ALL_ABLATIONS))
    frames: list[int] = Field(default_factory=lambda: [1, 2, 3, 4], description="N values (Table 3)")
    strategies: list[str] = Field(default_factory=lambda: ["uniform", "random", "first", "last", "center"])
    replicates: int = Field(2000, ge=100, description="bootstrap replicates")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)


#: ``bench``: ≤ 90 min on 2 CPU cores (8 videos x 240 s, 3 seeds, every comparison); ``smoke``: tests.
PRESETS: dict[str, dict[str, Any]] = {
    "bench": {"world": {"out": "bench_out", "layouts": ["ego4d"], "videos": 8, "seconds": 240.0, "seed": 1,
                        "preset": "bench", "runner": "local"},
              # what fits 90 min on 2 cores with 3 seeds: the Table 2 variants, the ablations that take KD,
              # L1 or the IMU pretraining out, and N = 1 vs 4; the rest with --set (e.g. ablations=[...])
              "ablations": ["no_l1", "no_kd", "no_pretrain"], "frames": [1, 4],
              "strategies": ["uniform"]},
    "smoke": {"world": {"out": "bench_out", "layouts": ["ego4d"], "videos": 2, "seconds": 40.0, "seed": 1,
                        "width": 64, "height": 48, "frame_size": 32, "preset": "smoke", "runner": "local"},
              "seeds": 2, "ablations": [], "frames": [1], "strategies": ["uniform"], "replicates": 500},
}  # fmt: skip


def _experiment_config(cfg: ReproduceConfig, layout: str, teacher: str, seed: int) -> Any:
    from egodistill.methods.egodistill.config import job_preset
    from egodistill.methods.egodistill.experiment import ExperimentConfig

    w = cfg.world
    return load_config(ExperimentConfig, base=job_preset("experiment", w.preset), dotted={
        "workspace": str(Path(w.out).expanduser().absolute()), "data.dataset": layout,
        "data.teacher_model": teacher, "data.num_frames": 1, "data.strategy": "uniform", "seed": seed,
        "variants": list(cfg.variants), "ablations": list(cfg.ablations), "frames": list(cfg.frames),
        "strategies": list(cfg.strategies), "efficiency_size": w.frame_size, "student.image_weights": image_weights_path(w),
    })  # fmt: skip


def _correct(segments: Any) -> dict[str, int]:
    return {
        str(sid): int(p == y) for sid, p, y in zip(segments.segment_id, segments.pred, segments.label, strict=True)
    }


def _verb_groups() -> dict[str, str]:
    from egodistill.synthetic.actions import VERBS

    out: dict[str, str] = {}
    for v in VERBS:
        for name in (v.name, v.ego4d_verb, v.epic_key, v.epic_verb):
            out[name] = v.group
    return out


def _teacher_correct(ws: Path, layout: str, teacher: str) -> dict[str, int]:
    import pyarrow.parquet as pq

    from egodistill.teacher.export import SEGMENTS_FILE, export_dir

    path = export_dir(ws, layout, teacher) / SEGMENTS_FILE
    if not path.is_file():
        log.warning("no teacher per-segment results at %s: the teacher row is left out", path)
        return {}
    t = pq.read_table(path, columns=["clip_id", "correct"]).to_pydict()
    return {c: int(bool(k)) for c, k in zip(t["clip_id"], t["correct"], strict=True)}


def comparisons(labels: list[str], with_teacher: bool = True) -> list[tuple[str, str, str, str]]:
    """(what, model, reference, the paper's claim) for every pair whose two rows were run."""
    out = [("Table 2", TEACHER, "EgoDistill", "teacher > EgoDistill"),
           ("Table 2", "EgoDistill", "VisOnly-Distill", "EgoDistill > VisOnly-Distill"),
           ("Table 2", "VisOnly-Distill", "VisOnly", "VisOnly-Distill > VisOnly"),
           ("Table 2", "EgoDistill", "VisIMU", "EgoDistill > VisIMU"),
           ("Table 2", "VisIMU", "VisOnly", "VisIMU > VisOnly")]  # fmt: skip
    for lab in labels:
        if lab.startswith("EgoDistill w/o"):
            out.append(("Table 1", lab, "EgoDistill", "each ablation costs accuracy"))
        elif lab.startswith(("EgoDistill N=", "VisOnly-Distill N=")):
            ref = lab.split(" N=")[0]
            out.append(("N frames", lab, ref, f"N={lab.split('N=')[1]} >= N=1"))
        elif lab.startswith("EgoDistill ") and lab.split(" ", 1)[1] in ("random", "first", "last", "center"):
            out.append(("frame selection", lab, "EgoDistill", "uniform is the paper's choice"))
    have = set(labels) | ({TEACHER} if with_teacher else set())
    return [c for c in out if c[1] in have and c[2] in have]


MOTION_GROUPS = ("motion-pair", "motion-defined")  # verbs told apart (or defined) by head motion
APPEARANCE_GROUP = "appearance-only"


def _motion_vs_appearance(gain: np.ndarray, group_of_segment: list[str], replicates: int) -> list[dict[str, Any]]:
    """Figure 4's claim as a test: the IMU's gain (EgoDistill - VisOnly-Distill) per verb group, and
    whether it is larger on the motion verbs than on the appearance-only ones."""
    groups = np.array(group_of_segment)
    motion, appearance = np.isin(groups, MOTION_GROUPS), groups == APPEARANCE_GROUP
    if not motion.any() or not appearance.any():
        return []
    rows = []
    for name, cols in (("motion verbs", motion), ("appearance-only verbs", appearance)):
        t = paired_test(gain[:, cols], np.zeros_like(gain[:, cols]), replicates)
        rows.append({"comparison": "Figure 4", "model": f"EgoDistill on {name}",
                     "reference": f"VisOnly-Distill on {name}", "claim": "IMU adds accuracy",
                     "diff (points) [95% CI]": t.diff.text(), "p (paired bootstrap)": round(t.p_value, 4),
                     "model vs reference": t.verdict})  # fmt: skip
    t = difference_of_gains(gain[:, motion], gain[:, appearance], replicates)
    rows.append({"comparison": "Figure 4", "model": "IMU gain on motion verbs",
                 "reference": "IMU gain on appearance-only verbs", "claim": "IMU helps most on motion verbs",
                 "diff (points) [95% CI]": t.diff.text(), "p (paired bootstrap)": round(t.p_value, 4),
                 "model vs reference": t.verdict})  # fmt: skip
    return rows


def analyse(per_seed: list[dict[str, dict[str, int]]], teacher: dict[str, int], gmacs: dict[str, float],
            classes: list[str], labels_of: dict[str, int], replicates: int) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Results, comparisons and per-class gains from per-seed {label: {segment: correct}} (see module doc)."""
    labels = list(per_seed[0])
    segments = sorted(set.intersection(*(set(s[lab]) for s in per_seed for lab in labels)))
    if not segments:
        raise ValueError("the runs share no evaluation segment")
    mats = {lab: np.array([[s[lab][g] for g in segments] for s in per_seed], float) for lab in labels}
    if teacher and all(g in teacher for g in segments):
        mats[TEACHER] = np.array([[teacher[g] for g in segments]], float)
    results = []
    for lab, m in mats.items():
        iv = bootstrap_interval(m, replicates)
        results.append({"model": lab, "top-1 % [95% CI]": iv.text(), "mean": round(iv.mean, 4),
                        "low": round(iv.low, 4), "high": round(iv.high, 4), "seeds": iv.seeds,
                        "segments": iv.segments, "GMACs": round(gmacs.get(lab, float("nan")), 3)})  # fmt: skip
    comps = []
    if TEACHER not in mats:
        log.warning("the teacher's per-segment results do not cover the students' segments: no teacher row")
    for what, model, ref, claim in comparisons(labels, TEACHER in mats):
        t = paired_test(mats[model], mats[ref], replicates)
        comps.append({"comparison": what, "model": model, "reference": ref, "claim": claim,
                      "diff (points) [95% CI]": t.diff.text(), "p (paired bootstrap)": round(t.p_value, 4),
                      "model vs reference": t.verdict})  # fmt: skip
    groups = _verb_groups()
    per_class = []
    if "EgoDistill" in mats and "VisOnly-Distill" in mats:
        y = np.array([labels_of[g] for g in segments])
        for c, name in enumerate(classes):
            cols = np.flatnonzero(y == c)
            if len(cols) == 0:
                continue
            t = paired_test(mats["EgoDistill"][:, cols], mats["VisOnly-Distill"][:, cols], replicates)
            per_class.append({"class": name, "group": groups.get(name, "?"), "segments": len(cols),
                              "gain (points) [95% CI]": t.diff.text(), "gain": round(t.diff.mean, 4),
                              "p": round(t.p_value, 4)})  # fmt: skip
        per_class.sort(key=lambda r: -r["gain"])
        gain = mats["EgoDistill"] - mats["VisOnly-Distill"]
        comps += _motion_vs_appearance(gain, [groups.get(classes[int(c)], "?") for c in y], replicates)
    mean = {r["model"]: r["mean"] for r in results}
    if {TEACHER, "EgoDistill", "VisOnly-Distill"} <= set(mean) and mean[TEACHER] != mean["VisOnly-Distill"]:
        share = (mean["EgoDistill"] - mean["VisOnly-Distill"]) / (mean[TEACHER] - mean["VisOnly-Distill"])
        comps.append({"comparison": "gap", "model": "EgoDistill", "reference": "VisOnly-Distill → Teacher",
                      "claim": "share of the teacher gap closed (paper 0.19-0.30)",
                      "diff (points) [95% CI]": f"share {share:.2f}", "p (paired bootstrap)": float("nan"),
                      "model vs reference": "point estimate"})  # fmt: skip
    return {"results": results, "comparisons": comps, "per_class": per_class}


def _seed_key(ecfg: Any, ws: Path, layout: str, teacher: str) -> str:
    """What a seed's results depend on: its experiment config and the teacher weights it was paired with.

    A retrained teacher (other weights, hence other features) or any changed key trains the seed
    again; the weights' bytes, not the files' times, decide, because a rerun of the teacher stage
    resumes its finished Ray Train run and writes the same weights again.
    """
    from egodistill.teacher.export import export_dir

    digest = hashlib.sha256(ecfg.model_dump_json().encode())
    for f in sorted(export_dir(ws, layout, teacher).glob("*.pt")):
        digest.update(f.name.encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _load_seed(path: Path, key: str) -> dict[str, Any] | None:
    """A finished seed's results, when ``path`` holds them for the same ``key``; otherwise None."""
    if not path.is_file():
        return None
    try:
        done = json.loads(path.read_text())
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON: the seed is trained again", path)
        return None
    return done if done.get("key") == key else None


def _run_seed(ecfg: Any) -> dict[str, Any]:
    """One seed's experiment: per-run {segment: correct}, GMACs, classes and segment labels (JSON-ready)."""
    from egodistill.methods.egodistill.experiment import experiment_runs, run_experiment

    outcome = run_experiment(ecfg)
    specs = experiment_runs(ecfg)
    gmacs = {r["model"]: r["GMACs"] for r in outcome.results}
    for row in outcome.efficiency:
        if str(row.get("model", "")).startswith("Teacher"):
            gmacs[TEACHER] = row["GMACs"]
    last = outcome.outcomes[-1]
    return {
        "correct": {s.label: _correct(o.segments) for s, o in zip(specs, outcome.outcomes, strict=True)},
        "gmacs": gmacs,
        "classes": list(last.classes),
        "labels_of": {str(g): int(y) for g, y in zip(last.segments.segment_id, last.segments.label, strict=True)},
    }


def run_reproduce(cfg: ReproduceConfig) -> dict[str, Any]:
    """The world's stages, then K seeds of the experiment, then the tables; returns them with paths."""
    from egodistill import tracking
    from egodistill.demo import run_local, stages, teacher_name, weights_line
    from egodistill.evaluation.report import accuracy_vs_gmacs_plot, csv_text, markdown_table

    t0 = time.perf_counter()
    w = cfg.world
    ws = Path(w.out).expanduser().absolute()
    run_local(w, [s for s in stages(w) if s.job not in ("experiment", "sweep")])
    out: dict[str, Any] = {}
    for layout in w.train_layouts:
        teacher = teacher_name(w, ws, layout)
        report = ws / "reports" / "reproduce" / layout
        per_seed, gmacs, classes, labels_of = [], {}, [], {}
        for k in range(cfg.seeds):
            ecfg = _experiment_config(cfg, layout, teacher, w.seed + k)
            cache = report / "seeds" / f"seed-{w.seed + k}.json"
            key = _seed_key(ecfg, ws, layout, teacher)
            done = _load_seed(cache, key)
            if done is None:
                done = _run_seed(ecfg)
                cache.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(cache, json.dumps({"key": key, **done}).encode())
                how = "ran"
            else:
                how = f"reused {cache} (delete it to train this seed again)"
            per_seed.append(done["correct"])
            gmacs.update(done["gmacs"])
            classes, labels_of = done["classes"], done["labels_of"]
            print(f"[reproduce] {layout} seed {w.seed + k}: {len(done['correct'])} runs, {how} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
        tables = analyse(
            per_seed, _teacher_correct(ws, layout, teacher), gmacs, classes, labels_of, cfg.replicates
        )
        report.mkdir(parents=True, exist_ok=True)
        for name, rows in tables.items():
            if rows:
                (report / f"{name}.md").write_text(markdown_table(rows))
                (report / f"{name}.csv").write_text(csv_text(rows))
        points = [{"label": r["model"], "gmacs": r["GMACs"], "top1": r["mean"],
                   **({"marker": "s"} if r["model"] == TEACHER else {})}
                  for r in tables["results"] if r["GMACs"] == r["GMACs"]]  # fmt: skip
        if points:
            accuracy_vs_gmacs_plot(points, report / "accuracy_vs_gmacs.png",
                                   f"{layout}: accuracy vs GMACs, mean of {cfg.seeds} seeds")  # fmt: skip
        with tracking.tracked_run(cfg.tracking, workspace=ws, job="reproduce", params=cfg,
                                  run_name=f"{layout}/reproduce") as run:  # fmt: skip
            tracking.log_metrics(run, {f"top1/{r['model']}": r["mean"] for r in tables["results"]})
            tracking.log_artifact(run, report, "report")
        out[layout] = {**tables, "report_dir": str(report)}
    out["elapsed_sec"] = time.perf_counter() - t0
    out["weights"] = weights_line(w)
    return out


def lines(outcome: dict[str, Any], seeds: int) -> list[str]:
    from egodistill.evaluation.report import markdown_table

    text = []
    for layout, t in outcome.items():
        if not isinstance(t, dict):
            continue
        text += [f"\n{layout}: per-segment top-1 over {seeds} seed(s), mean [95% CI] (two-level bootstrap over "
                 "seeds and segments):", markdown_table(t["results"]),
                 "comparisons (paired two-level bootstrap against the reference; diff in points):",
                 markdown_table(t["comparisons"])]  # fmt: skip
        if t["per_class"]:
            text += [
                "per-class gain of EgoDistill over VisOnly-Distill (Figure 4):",
                markdown_table(t["per_class"]),
            ]
        text.append(f"report: {t['report_dir']}")
    if outcome.get("weights"):
        text.append(str(outcome["weights"]))
    text.append(f"total: {outcome.get('elapsed_sec', 0):.0f} s")
    return text


__all__ = ["PRESETS", "ReproduceConfig", "analyse", "comparisons", "lines", "run_reproduce"]
