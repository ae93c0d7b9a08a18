"""``egodistill multimodal``: sidecars -> modality teachers -> ensembles -> RGB-only students -> report.

1. student inputs without teachers (dense evaluation clips, f_I cache) via the ``student-inputs`` stage;
2. modality sidecars of the clips and the dense clips (:mod:`.sidecars`, Ray Data);
3. the held-out split (:mod:`.split`), then one teacher per modality on Ray Train (reused when its
   fingerprint matches), its logits written as teacher-features tables (clips and dense clips);
4. the join again, now with every teacher's logits (``<root>/student_inputs``);
5. per-dataset weights from the held-out clips; one label-trained student (``visonly``) and one
   distilled student (``visonly_distill``) per weighting, each a :class:`StageRun` on the driver;
6. per-segment logits of every teacher, ensemble and student on the dense clips, the report, MLflow.

Why this module is long: it is the job's whole chain in order (each step a short function).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from egodistill import tracking
from egodistill.methods.multimodal.config import MultimodalJobConfig, MultimodalStudentConfig

log = logging.getLogger(__name__)
STAGE = "multimodal"


def mm_root(cfg: MultimodalJobConfig) -> Path:
    return cfg.ws() / "multimodal" / cfg.data.dataset


def report_dir(cfg: MultimodalJobConfig) -> Path:
    return cfg.ws() / "reports" / "multimodal" / cfg.data.dataset


@dataclass
class MultimodalOutcome:
    dataset: str
    rows: list[dict[str, Any]]
    notes: list[str]
    report: str
    elapsed_sec: float
    views: list[dict[str, Any]] = field(default_factory=list)

    def lines(self) -> list[str]:
        from egodistill.methods.multimodal.report import table_lines

        out = [
            f"multimodal distillation on {self.dataset} ({self.elapsed_sec:.0f} s):",
            *table_lines(self.rows),
        ]
        if self.views:
            out.append("student top-1 as views per segment shrink:")
            out += [f"  {r['model']}: {r['views']} views -> {100 * r['top1']:.1f} "
                    f"[{100 * r['top1_lo']:.1f}, {100 * r['top1_hi']:.1f}] over {r['segments']} segments" for r in self.views]  # fmt: skip
        out += [f"note: {n}" for n in self.notes]
        out.append(f"report: {self.report}")
        return out


def inputs_config(cfg: MultimodalJobConfig, teachers: list[str]):
    from egodistill.student.products import StudentInputsConfig

    base = StudentInputsConfig.for_job(str(cfg.ws()), cfg.data, cfg.student)
    return base.model_copy(update={"out": str(mm_root(cfg) / "student_inputs"), "teachers": teachers,
                                   "teacher_features": str(mm_root(cfg) / "teacher_logits")})  # fmt: skip


def student_config(cfg: MultimodalJobConfig, variant: str, weighting: str, teachers: list[str],
                   weights: list[float] | None) -> MultimodalStudentConfig:  # fmt: skip
    keep = set(MultimodalStudentConfig.model_fields)
    values = {k: v for k, v in cfg.model_dump(mode="json").items() if k in keep}
    values["name"] = "mm-labels" if variant == "visonly" else f"mm-{weighting}"
    values["student"] = {**values["student"], "variant": variant}
    values["loss"] = {**values["loss"], "weighting": weighting}
    values["data"] = {**values["data"], "inputs": str(mm_root(cfg) / "student_inputs")}
    values["teachers"] = teachers if variant != "visonly" else []
    values["dataset_weights"] = weights if variant != "visonly" else None
    return MultimodalStudentConfig.model_validate(values)


def _fingerprint(content: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:12]


def train_teacher(cfg: MultimodalJobConfig, modality: str, files: list[str], keep: frozenset[str],
                  num_classes: int, input_shape: list[int], fp: str, parent) -> dict[str, Any]:  # fmt: skip
    """One modality teacher on Ray Train (reused when ``teacher.json`` has this fingerprint)."""
    import torch

    from egodistill.methods.multimodal.teachers import modality_dataset, teacher_loop
    from egodistill.training import ray_wiring

    out = mm_root(cfg) / "teachers" / modality
    info_path = out / "teacher.json"
    if info_path.is_file() and json.loads(info_path.read_text()).get("fingerprint") == fp:
        return {**json.loads(info_path.read_text()), "reused": True}
    loop_config = {"modality": modality, "num_classes": num_classes, "input_shape": input_shape,
                   "width": cfg.teacher.width, "optim": cfg.teacher.optim.model_dump(mode="json"), "seed": cfg.seed,
                   "has_val": False, "run_ref": None}  # fmt: skip
    trainer = ray_wiring.build_trainer(teacher_loop, loop_config, cfg.trainer, workspace=cfg.ws(),
                                       name=f"mm-teacher-{cfg.data.dataset}-{modality}-{fp}",
                                       datasets={"train": modality_dataset(modality, files, keep, input_shape)})  # fmt: skip
    fitted = ray_wiring.fit(trainer, f"{modality} teacher")
    out.mkdir(parents=True, exist_ok=True)
    from egodistill.storage import atomic_output

    with atomic_output(str(out / "teacher.pt")) as f:
        torch.save(fitted.state["model"], f)
    info = {"modality": modality, "fingerprint": fp, "num_classes": num_classes, "input_shape": input_shape,
            "width": cfg.teacher.width, "train_clips": len(keep),
            "train_loss": fitted.metrics.get("train_loss"), "train_top1": fitted.metrics.get("train_top1")}  # fmt: skip
    tracking.log_metrics(parent, {f"teacher_{modality}_{k}": float("nan") if info[k] is None else info[k]
                                  for k in ("train_loss", "train_top1")})  # fmt: skip
    info_path.write_text(json.dumps(info, indent=2))
    return {**info, "reused": False}


def first_shape(modality: str, files: list[str]) -> list[int]:
    import pyarrow.parquet as pq

    from egodistill.methods.multimodal.teachers import INPUT_COLUMNS, SIDECAR_COLUMNS, model_input

    for f in files:
        t = pq.read_table(f, columns=INPUT_COLUMNS.get(modality, SIDECAR_COLUMNS)).slice(0, 1)
        if t.num_rows:
            return list(model_input(modality, t).shape[1:])
    return []


def modality_teachers(cfg: MultimodalJobConfig, sources: dict[str, list[str]], sidecar_root: str,
                      roles, num_classes: int, notes: list[str], parent) -> list[str]:  # fmt: skip
    """Train (or reuse) every modality teacher and write its logits; returns the teachers that exist."""
    import pyarrow.parquet as pq
    import torch

    from egodistill.methods.multimodal.sidecars import sidecar_files
    from egodistill.methods.multimodal.teachers import write_logits

    teach_ids = frozenset(c for c, r in zip(roles.column("clip_id").to_pylist(), roles.column("role").to_pylist(),
                                            strict=True) if r == "teacher_train")  # fmt: skip
    done: list[str] = []
    for m in cfg.modalities:
        files = {
            s: (sources[s] if m in ("rgb", "imu") else sidecar_files(sidecar_root, s, m)) for s in sources
        }
        have = set()
        for f in files["clips"]:
            have |= set(pq.read_table(f, columns=["clip_id"]).column("clip_id").to_pylist())
        keep = teach_ids & have
        if len(keep) < 2:
            notes.append(f"{m}: {len(keep)} teacher-training clips with this modality: no {m} teacher")
            continue
        shape = first_shape(m, files["clips"])
        fp = _fingerprint({"m": m, "files": sorted(files["clips"]), "keep": sorted(keep), "shape": shape,
                           "width": cfg.teacher.width, "optim": cfg.teacher.optim.model_dump(), "seed": cfg.seed,
                           "classes": num_classes})  # fmt: skip
        info = train_teacher(cfg, m, files["clips"], keep, num_classes, shape, fp, parent)
        state = torch.load(
            mm_root(cfg) / "teachers" / m / "teacher.pt", map_location="cpu", weights_only=True
        )
        args = {"num_classes": num_classes, "input_shape": shape, "width": cfg.teacher.width}
        for source, sub in (("clips", "teacher_logits"), ("clips_dense", "teacher_logits_dense")):
            if source not in files:
                continue
            out = mm_root(cfg) / sub / cfg.data.dataset / m
            marker = out / "_done.json"
            if marker.is_file() and json.loads(marker.read_text()).get("fingerprint") == fp:
                continue
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            n = write_logits(m, files[source], state, args, str(out), cfg.data.dataset, fp)
            marker.write_text(json.dumps({"fingerprint": fp, "rows": n}))
        notes.append(f"{m} teacher: {info['train_clips']} training clips, train top-1 "
                     f"{float('nan') if info.get('train_top1') is None else info['train_top1']:.2f}{' (reused)' if info.get('reused') else ''}")  # fmt: skip
        done.append(m)
    return done


def logit_tables(cfg: MultimodalJobConfig, sub: str, teachers: list[str]) -> dict[str, list[str]]:
    return {t: sorted(str(p) for p in (mm_root(cfg) / sub / cfg.data.dataset / t).glob("part-*.parquet"))
            for t in teachers}  # fmt: skip


def heldout_weights(
    cfg: MultimodalJobConfig, teachers: list[str], roles, clip_files: list[str]
) -> tuple[list[float], list[float]]:
    """(mean held-out CE per teacher, per-dataset weights)."""
    import ray
    import torch
    import torch.nn.functional as F

    from egodistill.methods.multimodal.ensemble import dataset_weights
    from egodistill.methods.multimodal.evaluate import teacher_logits_task

    held = {c for c, r in zip(roles.column("clip_id").to_pylist(), roles.column("role").to_pylist(), strict=True)
            if r == "heldout"}  # fmt: skip
    got = ray.get(ray.remote(teacher_logits_task).remote(logit_tables(cfg, "teacher_logits", teachers), clip_files,
                                                          cfg.data.train_split))  # fmt: skip
    common = (
        set.intersection(*[{c for c in got[t]["clip_id"] if c in held} for t in teachers])
        if teachers
        else set()
    )
    ces = []
    for t in teachers:
        idx = [i for i, c in enumerate(got[t]["clip_id"]) if c in common]
        z = torch.as_tensor(got[t]["logits"][idx])
        y = torch.as_tensor(np.asarray(got[t]["label"])[idx], dtype=torch.long)
        ces.append(float(F.cross_entropy(z, y)) if len(idx) else float("nan"))
    if not common:
        raise ValueError(
            f"{mm_root(cfg)}: no held-out clip has every teacher's logits: cannot weight per dataset"
        )
    return ces, dataset_weights(ces, cfg.loss.weight_temperature)


def run_multimodal(cfg: MultimodalJobConfig, parent_run: tracking.RunRef | None = None) -> MultimodalOutcome:
    """The whole chain (module docstring); Ray must be initialised."""
    from egodistill.ingest.store import clip_files
    from egodistill.methods.multimodal.report import write_report
    from egodistill.methods.multimodal.sidecars import run_sidecars
    from egodistill.methods.multimodal.split import heldout_split
    from egodistill.student.products import run_student_inputs

    t0 = time.perf_counter()
    notes: list[str] = []
    root = mm_root(cfg)
    from egodistill.student.driver import open_views

    run_student_inputs(inputs_config(cfg, []))  # dense clips + f_I cache (reused when built)

    probe = student_config(cfg, "visonly", "uniform", [], None)
    train_view, eval_view = open_views(probe, True)
    classes = train_view.classes
    sources = {"clips": clip_files(cfg.clips_root(), cfg.data.dataset)[1]}
    dense = cfg.ws() / "clips_dense"
    if dense.is_dir():
        sources["clips_dense"] = clip_files(str(dense), cfg.data.dataset)[1]
    else:
        notes.append("no dense clips: teachers and students are evaluated on the val clips")
    with tracking.tracked_run(cfg.tracking, workspace=cfg.ws(), job=STAGE, params=tracking.flatten(cfg),
                              parent=parent_run, run_name=f"{cfg.data.dataset}/multimodal") as run:  # fmt: skip
        side = run_sidecars(str(root / "sidecars"), sources, cfg.flow_method, cfg.audio_time_bins)
        notes += side.lines()
        roles, note = heldout_split(sources["clips"], cfg.data.train_split, cfg.heldout_fraction, cfg.seed,
                                    root / "heldout.parquet")  # fmt: skip
        notes.append(note)
        teachers = modality_teachers(cfg, sources, str(root / "sidecars"), roles, len(classes), notes, run)
        if not teachers:
            raise ValueError(f"{root}: no modality teacher could be trained (see the notes)")
        run_student_inputs(inputs_config(cfg, teachers))
        ces, weights = heldout_weights(cfg, teachers, roles, sources["clips"])
        notes.append("per-dataset weights (held-out CE): " + ", ".join(
            f"{t} {w:.3f} ({c:.3f})" for t, w, c in zip(teachers, weights, ces, strict=True)))  # fmt: skip
        students = train_students(cfg, teachers, weights, run)
        eval_split = cfg.data.eval_split
        src = "clips_dense" if "clips_dense" in sources else "clips"
        models, student_logits = evaluate_all(
            cfg, teachers, weights, students, sources[src], src, eval_split, eval_view
        )
        extra = {"dataset": cfg.data.dataset, "notes": notes, "teachers": teachers, "dataset_weights": weights,
                 "heldout_ce": ces, "evaluation": f"{src} of {eval_split}; logits averaged over views; "
                 "top-1 interval: Wilson 95 % over segments", "classes": classes}  # fmt: skip
        results = write_report(
            report_dir(cfg), models, student_logits, classes, cfg.views, cfg.ece_bins, extra
        )
        for r in results["models"]:
            tracking.log_metrics(run, {f"{r['model']}_top1": r["top1"], f"{r['model']}_ece": r["ece"],
                                       f"{r['model']}_top5": r["top5"]})  # fmt: skip
        tracking.log_artifact(run, report_dir(cfg), "report")
    return MultimodalOutcome(cfg.data.dataset, results["models"], notes, str(report_dir(cfg)),
                             time.perf_counter() - t0, results["views"])  # fmt: skip


def train_students(
    cfg: MultimodalJobConfig, teachers: list[str], weights: list[float], parent
) -> dict[str, str]:
    """The label-trained student and one distilled student per weighting; name -> export directory."""
    from egodistill.methods.multimodal.steps import train_loop
    from egodistill.student.driver import StageRun, run_stage

    out: dict[str, str] = {}
    for variant, weighting in [("visonly", "uniform")] + [("visonly_distill", w) for w in cfg.weightings]:
        scfg = student_config(cfg, variant, weighting, teachers, weights)
        stage = StageRun(STAGE, train_loop, needs_teacher=False, evaluates=True,
                         logit_teachers=tuple(scfg.teachers), tags={"egodistill.weighting": weighting})  # fmt: skip
        outcome = run_stage(scfg, stage, parent)
        out["student_labels" if variant == "visonly" else f"student_{weighting}"] = outcome.student_dir
    return out


def evaluate_all(cfg: MultimodalJobConfig, teachers: list[str], weights: list[float], students: dict[str, str],
                 label_files: list[str], source: str, split: str, eval_view) -> tuple[dict, dict]:  # fmt: skip
    """Per-segment logits of every teacher, every ensemble weighting and every student (Ray tasks)."""
    import ray
    import torch

    from egodistill.methods.multimodal import evaluate as ev
    from egodistill.methods.multimodal.ensemble import ensemble_logits

    sub = "teacher_logits_dense" if source == "clips_dense" else "teacher_logits"
    got = ray.get(
        ray.remote(ev.teacher_logits_task).remote(logit_tables(cfg, sub, teachers), label_files, split)
    )
    models: dict[str, tuple[str, ev.SegmentLogits]] = {}
    for t in teachers:
        models[f"teacher_{t}"] = ("teacher", ev.group(got[t]["clip_id"], got[t]["label"], got[t]["logits"]))
    common = sorted(set.intersection(*[set(got[t]["clip_id"]) for t in teachers]))
    if common:
        pos = {t: {c: i for i, c in enumerate(got[t]["clip_id"])} for t in teachers}
        stack = torch.as_tensor(
            np.stack([got[t]["logits"][[pos[t][c] for c in common]] for t in teachers], 1)
        )
        label_of = dict(zip(got[teachers[0]]["clip_id"], got[teachers[0]]["label"], strict=True))
        y = torch.as_tensor([label_of[c] for c in common], dtype=torch.long)
        for w in cfg.weightings:
            z = ensemble_logits(stack, w, y, cfg.loss.weight_temperature, weights).numpy()
            kind = "ensemble (uses the label: oracle)" if w == "per_sample" else "ensemble"
            models[f"ensemble_{w}"] = (kind, ev.group(common, y.tolist(), z))
    view_dir = eval_view.directory if eval_view is not None else None
    student_logits: dict[str, ev.SegmentLogits] = {}
    task = ray.remote(ev.student_logits_task)
    for name, d in students.items():
        r = ray.get(
            task.remote(d, view_dir, eval_view.summary, split, cfg.data.num_frames, "uniform", cfg.seed)
        )
        seg = ev.group(r["clip_id"], r["label"], r["logits"])
        student_logits[name] = seg
        models[name] = ("student (RGB only)", seg)
    return models, student_logits


__all__ = ["MultimodalOutcome", "mm_root", "report_dir", "run_multimodal", "student_config", "train_students"]
