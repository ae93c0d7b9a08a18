"""EgoDistill's experiment (seed 000 §4.2): the four variants, the Table 1 ablations, N and frame
strategies, as (method, stage) runs for :mod:`egodistill.methods.experiment`, then the report
(results table, efficiency table with the teacher, per-class gains of Figure 4, accuracy vs GMACs)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from egodistill import tracking
from egodistill.config import StrictConfig, dump_config
from egodistill.methods.egodistill.config import DistillLoss, PretrainLoss
from egodistill.methods.experiment import RunSpec, StageStep, run_chain
from egodistill.models.config import VARIANTS, StudentConfig
from egodistill.student.config import Strategy, StudentDataConfig, default_trainer
from egodistill.tracking import TrackingConfig
from egodistill.training import ray_wiring
from egodistill.training.optim import OptimSettings

log = logging.getLogger(__name__)

Ablation = Literal["no_l1", "no_kd", "no_gt", "no_pretrain", "no_pretrain_l1", "no_pretrain_nce"]
Variant = Literal["visonly", "visonly_distill", "visimu", "egodistill"]
VARIANT_ORDER = ("visonly", "visonly_distill", "visimu", "egodistill")
LABELS = {
    "visonly": "VisOnly",
    "visonly_distill": "VisOnly-Distill",
    "visimu": "VisIMU",
    "egodistill": "EgoDistill",
}


class ExperimentConfig(StrictConfig):
    """Train and evaluate the variants (seed §4.2) on one dataset with shared settings, then report."""

    workspace: str = "workspace"
    variants: list[Variant] = list(VARIANT_ORDER)
    ablations: list[Ablation] = Field(default_factory=list, description="extra EgoDistill runs (Table 1)")
    frames: list[int] = Field(
        default_factory=list, description="extra N values for EgoDistill and VisOnly-Distill"
    )
    strategies: list[Strategy] = Field(
        default_factory=list, description="extra frame strategies for EgoDistill (supplement D)"
    )
    student: StudentConfig = Field(default_factory=StudentConfig)
    data: StudentDataConfig = Field(default_factory=StudentDataConfig)
    pretrain_optim: OptimSettings = Field(default_factory=OptimSettings)
    distill_optim: OptimSettings = Field(default_factory=OptimSettings)
    pretrain_loss: PretrainLoss = Field(default_factory=PretrainLoss)
    distill_loss: DistillLoss = Field(default_factory=DistillLoss)
    trainer: ray_wiring.TrainerSettings = Field(default_factory=default_trainer)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    seed: int = 0
    efficiency_size: int = Field(224, ge=16)
    latency_batch: int = Field(32, ge=1)
    teacher_dir: str | None = Field(
        None,
        description="teacher export for the efficiency row; None: <workspace>/checkpoints/teachers/<dataset>/<teacher features name>",
    )


def _run(label: str, variant: str, n: int, strategy: str, pretrain: bool,
         distill_loss: dict[str, Any] | None = None, pretrain_loss: dict[str, Any] | None = None) -> RunSpec:  # fmt: skip
    steps = [StageStep("egodistill", "pretrain", {"loss": pretrain_loss or {}})] if pretrain else []
    steps.append(StageStep("egodistill", "distill", {"loss": distill_loss or {}}))
    return RunSpec(label, variant, n, strategy, steps)


def experiment_runs(cfg: ExperimentConfig) -> list[RunSpec]:
    """The runs of the configured grid, in report order."""
    n, st = cfg.data.num_frames, cfg.data.strategy
    runs = [_run(LABELS[v], v, n, st, v == "egodistill") for v in VARIANT_ORDER if v in cfg.variants]
    abl = {
        "no_l1": _run("EgoDistill w/o L1", "egodistill", n, st, True, {"use_l1": False}),
        "no_kd": _run("EgoDistill w/o KD", "egodistill", n, st, True, {"use_kd": False}),
        "no_gt": _run("EgoDistill w/o GT", "egodistill", n, st, True, {"use_gt": False}),
        "no_pretrain": _run("EgoDistill w/o pretraining", "egodistill", n, st, False),
        "no_pretrain_l1": _run(
            "EgoDistill w/o pretrain-L1", "egodistill", n, st, True, None, {"use_l1": False}
        ),
        "no_pretrain_nce": _run(
            "EgoDistill w/o pretrain-NCE", "egodistill", n, st, True, None, {"use_nce": False}
        ),
    }
    runs += [abl[a] for a in cfg.ablations]
    for k in cfg.frames:
        if k != n:
            runs += [_run(f"VisOnly-Distill N={k}", "visonly_distill", k, st, False),
                     _run(f"EgoDistill N={k}", "egodistill", k, st, True)]  # fmt: skip
    runs += [_run(f"EgoDistill {s}", "egodistill", n, s, True) for s in cfg.strategies if s != st]
    return runs


def stage_values(cfg: ExperimentConfig, spec: RunSpec, step: StageStep) -> dict[str, Any]:
    """The job values of one step of one run: the shared settings, the run's student and frames."""
    student = cfg.student.model_copy(update={"variant": spec.variant, "num_frames": spec.num_frames})
    data = cfg.data.model_copy(update={"num_frames": spec.num_frames, "strategy": spec.strategy})
    tracking_values = cfg.tracking.model_dump()
    if cfg.tracking.register_model:  # one registered model per run of the grid
        tracking_values["register_model"] = f"{cfg.tracking.register_model}-{spec.name}"
    values: dict[str, Any] = {"workspace": cfg.workspace, "trainer": cfg.trainer.model_dump(), "seed": cfg.seed,
                              "tracking": tracking_values, "name": spec.name,
                              "student": student.model_dump(), "data": data.model_dump()}  # fmt: skip
    if step.stage == "pretrain":
        values.update({"optim": cfg.pretrain_optim.model_dump(), "loss": cfg.pretrain_loss.model_dump()})
    else:
        values.update({"optim": cfg.distill_optim.model_dump(), "loss": cfg.distill_loss.model_dump(),
                       "efficiency": False})  # fmt: skip
    return values


def teacher_efficiency(
    cfg: ExperimentConfig, teacher_model: str | None
) -> tuple[str, dict[str, float]] | None:
    """The teacher's row of the efficiency table, or None: the figure its teacher job measured (so every
    table shows one latency per model), measured here the same way only when the job did not."""
    import torch

    from egodistill.evaluation.efficiency import measure_efficiency
    from egodistill.models.teachers import build_teacher, teacher_input_spec
    from egodistill.teacher import export

    d = Path(cfg.teacher_dir) if cfg.teacher_dir else (
        Path(cfg.workspace).absolute() / "checkpoints" / "teachers" / cfg.data.dataset / (teacher_model or "")
    )  # fmt: skip
    if not (d / export.CONFIG_FILE).is_file():
        return None
    tcfg = export.read_config(d)
    spec = teacher_input_spec(tcfg)
    info = export.read_info(d)
    eff = dict(info.get("efficiency") or {})
    if not eff:  # the teacher job measured nothing (efficiency: false): measure it the same way here
        x = torch.rand(1, 3, spec.num_frames, spec.crop_size, spec.crop_size)
        eff = measure_efficiency(build_teacher(tcfg), (x,), cfg.latency_batch)
    top1 = (info.get("metrics") or {}).get("val_segment_top1")
    eff["top1"] = float(top1) if top1 is not None else float("nan")
    return f"Teacher {tcfg.name} {spec.num_frames}x{spec.crop_size}px", eff


@dataclass
class ExperimentOutcome:
    results: list[dict[str, Any]]
    efficiency: list[dict[str, Any]]
    per_class: list[dict[str, Any]]
    report_dir: str
    run_id: str | None
    outcomes: list[Any]
    elapsed_sec: float
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        from egodistill.evaluation.report import markdown_table

        out = ["results (per-segment top-1 averages softmax over dense clips):", markdown_table(self.results)]
        out += ["efficiency (seed Table 3 convention: GMACs = multiply-adds; latency = CPU, per clip):",
                markdown_table(self.efficiency)]  # fmt: skip
        if self.per_class:
            out += [
                "per-class gain of EgoDistill over VisOnly-Distill (Figure 4):",
                markdown_table(self.per_class),
            ]
        out.append(f"report: {self.report_dir} ({self.elapsed_sec:.0f} s)")
        out += [f"WARNING: {w}" for w in self.warnings]  # repeated here: the log scrolls them away
        return out


def _teacher_name(cfg: ExperimentConfig, outcomes: list[Any]) -> str | None:
    if cfg.data.teacher_model:
        return cfg.data.teacher_model
    from egodistill.student.products import teacher_folders

    names = teacher_folders(cfg.data.features or str(Path(cfg.workspace).expanduser().absolute() / "features"),
                            cfg.data.dataset)  # fmt: skip
    return names[0] if len(names) == 1 else None


def run_experiment(cfg: ExperimentConfig) -> ExperimentOutcome:
    """Every run of :func:`experiment_runs` (each a chain of stages), then the report."""
    from egodistill.evaluation.report import efficiency_rows, write_report
    from egodistill.evaluation.segments import per_class_gain
    from egodistill.methods.egodistill.jobs import student_efficiency
    from egodistill.student.products import StudentInputsConfig, run_student_inputs

    t0 = time.perf_counter()
    ws = Path(cfg.workspace).expanduser().absolute()
    # the data stage first (it reuses whatever is complete): every run below only reads
    for line in run_student_inputs(StudentInputsConfig.for_job(cfg.workspace, cfg.data, cfg.student)).lines():
        log.info(line)
    outcomes: list[Any] = []
    by_label: dict[str, Any] = {}
    eff_cache: dict[tuple[str, int], dict[str, float]] = {}
    results: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    with tracking.tracked_run(cfg.tracking, workspace=ws, job="experiment", params=cfg,
                              run_name=f"{cfg.data.dataset}/experiment") as parent:  # fmt: skip
        for spec in experiment_runs(cfg):
            result = run_chain(spec, lambda step, spec=spec: stage_values(cfg, spec, step), parent)
            out = result.final
            # one architecture per IMU branch and N (the variants differ in their losses only)
            key = ("EgoDistill / VisIMU" if VARIANTS[spec.variant].uses_imu else "VisOnly / VisOnly-Distill",
                   spec.num_frames)  # fmt: skip
            if key not in eff_cache:
                eff_cache[key] = student_efficiency(
                    cfg.student.model_copy(update={"variant": spec.variant, "num_frames": spec.num_frames,
                                                   "num_classes": len(out.classes)}),
                    cfg.efficiency_size, cfg.latency_batch,
                )  # fmt: skip
            out.efficiency = eff_cache[key]
            outcomes.append(out)
            by_label[spec.label] = out
            row = result_row(spec, out, result.elapsed_sec)
            results.append(row)
            points.append({"label": spec.label, "gmacs": out.efficiency["gmacs"], "top1": out.segment_top1})
            print(f"[experiment] {spec.label}: per-segment top-1 {out.segment_top1:.3f} "
                  f"({time.perf_counter() - t0:.0f} s so far)", flush=True)  # fmt: skip
        eff_entries = [(f"{v} (N={n})", e) for (v, n), e in eff_cache.items()]
        try:
            teacher = teacher_efficiency(cfg, _teacher_name(cfg, outcomes))
        except Exception as e:  # the teacher row is optional; say why it is missing
            log.warning("no teacher efficiency row: %s", e)
            teacher = None
        if teacher is not None:
            eff_entries.insert(0, teacher)
            if teacher[1]["top1"] == teacher[1]["top1"]:  # not nan
                points.append({"label": teacher[0], "gmacs": teacher[1]["gmacs"], "top1": teacher[1]["top1"],
                               "marker": "s"})  # fmt: skip
        per_class: list[dict[str, Any]] = []
        ours, base_run = by_label.get("EgoDistill"), by_label.get("VisOnly-Distill")
        if ours and base_run and ours.segments is not None and base_run.segments is not None:
            per_class = per_class_gain(ours.segments, base_run.segments, ours.classes).to_pylist()
            for r in per_class:
                for k in ("ours", "baseline", "gain"):
                    r[k] = round(r[k], 4)
        # the config as it ran: num_classes is the task's (the default is EPIC's verb count)
        classes = len(outcomes[0].classes) if outcomes else cfg.student.num_classes
        tracking.log_text(parent, dump_config(cfg.model_copy(update={"student": cfg.student.model_copy(
            update={"num_classes": classes})})), "config.yaml")  # fmt: skip
        warnings = report_warnings(cfg)
        report_dir = ws / "reports" / "students" / cfg.data.dataset
        write_report(report_dir, results=results, efficiency=efficiency_rows(eff_entries), per_class=per_class,
                     points=points, title=f"{cfg.data.dataset}: students", run=parent, warnings=warnings)  # fmt: skip
        if results:  # the comparison of the runs: one chart, one table, on the parent run
            tracking.log_artifact(parent, report_dir / "comparison.png", "comparison")
            tracking.log_table(parent, pa.Table.from_pylist(results), "comparison/results.parquet")
    return ExperimentOutcome(results, efficiency_rows(eff_entries), per_class, str(report_dir),
                             parent.run_id if parent else None, outcomes, time.perf_counter() - t0,
                             warnings)  # fmt: skip


def result_row(spec: RunSpec, out: Any, elapsed_sec: float) -> dict[str, Any]:
    """One results-table row; column names say what they hold (``imu_pretrained``: EgoDistill's
    stage-1 IMU pretraining, not ImageNet weights), every accuracy with its segment count and 95 %
    bootstrap interval over the evaluation segments."""
    import numpy as np

    from egodistill.evaluation.intervals import bootstrap_interval

    s, m = out.segments, out.metrics
    ci = (bootstrap_interval((np.asarray(s.pred) == np.asarray(s.label))[None, :].astype(float))
          if s is not None and len(s.label) else None)  # fmt: skip
    nan = float("nan")
    return {"model": spec.label, "variant": spec.variant, "num_frames": spec.num_frames,
            "frame_strategy": spec.strategy, "imu_pretrained": spec.pretrain,
            "eval_segments": len(s.label) if s is not None else 0,
            "segment_top1": round(out.segment_top1, 4),
            "segment_top1_ci_low": round(ci.low, 4) if ci else nan,
            "segment_top1_ci_high": round(ci.high, 4) if ci else nan,
            "clip_top1": round(s.clip_top1, 4) if s is not None else nan,
            "GMACs": round(out.efficiency["gmacs"], 3), "epochs": m.get("epochs_done", 0),
            "train_loss": round(float(m.get("train_loss", nan)), 4), "time_s": round(elapsed_sec, 1)}  # fmt: skip


def report_warnings(cfg: ExperimentConfig) -> list[str]:
    """What makes the report's figures not what they seem; repeated in the final summary and report."""
    out = []
    if cfg.student.image_weights == "none":
        out.append("the students' image encoder f_I used RANDOM weights (student.image_weights: none): "
                   "accuracies are not those of an ImageNet-initialised student")  # fmt: skip
    return out


__all__ = ["LABELS", "VARIANT_ORDER", "ExperimentConfig", "ExperimentOutcome", "experiment_runs",
           "report_warnings", "result_row", "run_experiment", "stage_values", "teacher_efficiency"]  # fmt: skip
