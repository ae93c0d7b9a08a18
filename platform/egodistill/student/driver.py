"""The student floor's driver: run one method stage on Ray Train over streamed inputs, export, report.

A method describes a stage with :class:`StageRun` (its worker loop, whether it needs a teacher,
whether it evaluates, what to start from); :func:`run_stage` does the rest for every method:

1. open the joined inputs the ``student-inputs`` stage wrote (a one-line error naming that command
   when they are missing) and build lazy Ray Datasets for training and evaluation (:mod:`.stream`);
2. resolve the student config from the inputs (classes, teacher feature size, the f_I weights the
   cache used) and open an MLflow run (params, config, the missing-input report);
3. fit a ``TorchTrainer`` (checkpoint every epoch; the run name carries the config hash, so a re-run
   resumes and a changed config starts afresh), evaluation per segment on the workers;
4. load the final checkpoint, export the student (:mod:`.export`), log metrics and the segment table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egodistill import tracking
from egodistill.config import dump_config
from egodistill.models.config import StudentConfig
from egodistill.student.config import StudentJobBase
from egodistill.student.export import load_trained, save_student
from egodistill.student.stream import InputsView, MissingInputError, open_inputs, student_dataset, teacher_for
from egodistill.training import ray_wiring
from egodistill.training.loop import segment_results_of

log = logging.getLogger(__name__)


@dataclass
class StageRun:
    """What a method's stage hands the driver."""

    stage: str  # "pretrain", "distill", ...
    loop: Callable[[dict[str, Any]], None]  # the worker entry (runs the epoch engine)
    needs_teacher: bool
    evaluates: bool
    needs_boundary: bool = False
    init_state: str | None = None
    state_of: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # checkpoint state -> student state
    efficiency: Callable[[StudentConfig], dict[str, float]] | None = None  # measured on the trained config
    tags: dict[str, str] = field(default_factory=dict)
    logit_teachers: tuple[str, ...] = ()  # several teachers' logits in the training batches (an ensemble)


@dataclass
class StudentOutcome:
    stage: str
    name: str
    variant: str
    dataset: str
    metrics: dict[str, Any]
    efficiency: dict[str, float]
    student_dir: str
    checkpoint: str
    run_id: str | None
    classes: list[str]
    elapsed_sec: float
    segments: Any = None  # SegmentResults
    notes: list[str] = field(default_factory=list)

    @property
    def segment_top1(self) -> float:
        return self.segments.top1 if self.segments is not None else float("nan")

    def lines(self) -> list[str]:
        m = self.metrics
        out = [f"{self.stage} {self.name} ({self.variant}) on {self.dataset}: {m.get('epochs_done', 0)} epochs "
               f"in {self.elapsed_sec:.0f} s, train loss {m.get('train_loss', float('nan')):.4f}"]  # fmt: skip
        if self.segments is not None:
            s = self.segments
            out.append(f"  val per-segment top-1 {s.top1:.3f} ({int((s.pred == s.label).sum())}/{len(s.label)}), "
                       f"clip top-1 {s.clip_top1:.3f} over {s.num_clip_rows} dense clips")  # fmt: skip
        if self.efficiency:
            e = self.efficiency
            out.append(f"  {e['gmacs']:.3f} GMACs, {e['params'] / 1e6:.2f} M params, "
                       f"CPU {1000 * e['cpu_latency_sec']:.1f} ms/clip")  # fmt: skip
        out.append(f"  student: {self.student_dir}")
        out.extend(f"  note: {n}" for n in self.notes)
        return out


@dataclass
class Prepared:
    """The streamed datasets of a stage and what the driver knows about them (no rows)."""

    train: InputsView
    eval: InputsView | None
    datasets: dict[str, Any]
    student: StudentConfig
    teacher_model: str | None
    train_rows: int
    eval_rows: int
    notes: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return self.train.classes


def pool_name(cfg: StudentJobBase) -> str:
    """The inputs folder of the job's frame pool (the f_I cache it uses, or ``frames`` when f_I trains)."""
    from egodistill.student.products import StudentInputsConfig

    return StudentInputsConfig.for_job(cfg.workspace, cfg.data, cfg.student).pool_name()


def open_views(cfg: StudentJobBase, evaluates: bool) -> tuple[InputsView, InputsView | None]:
    """The training view and the evaluation view (dense clips when the stage built them)."""
    pool, ws = pool_name(cfg), str(cfg.ws())
    train = open_inputs(cfg.inputs_root(), cfg.data.dataset, pool, "clips", ws)
    if not evaluates:
        return train, None
    try:
        return train, open_inputs(cfg.inputs_root(), cfg.data.dataset, pool, "clips_dense", ws)
    except FileNotFoundError:
        return train, train


def prepare(
    cfg: StudentJobBase, *, needs_teacher: bool, evaluates: bool, logit_teachers: tuple[str, ...] = ()
) -> Prepared:
    """Open the inputs, resolve the student config, build the lazy datasets (nothing is read here)."""
    train, ev = open_views(cfg, evaluates)
    joined = sorted(train.summary["teachers"])
    teacher = teacher_for(train, cfg.data.teacher_model) if needs_teacher else None
    d = cfg.data
    common = {
        "num_frames": d.num_frames,
        "strategy": d.strategy,
        "seed": cfg.seed,
        "frame_size": d.image_size,
    }
    missing = [t for t in logit_teachers if t not in train.summary["teachers"]]
    if missing:
        raise MissingInputError(f"{train.directory}: no logits of teachers {missing} joined (have {joined})")
    datasets = {
        "train": student_dataset(
            train, d.train_split, teacher=teacher, logit_teachers=logit_teachers, **common
        )
    }
    train_rows = train.rows(d.train_split, teacher) - max(
        [train.missing_in_split(t, d.train_split) for t in logit_teachers] or [0]
    )
    if train_rows <= 0:
        raise ValueError(f"{train.directory}: no {d.train_split} rows with every input the job needs")
    notes = train.notes(d.train_split, teacher)
    eval_rows = 0
    if ev is not None:
        eval_rows = ev.rows(d.eval_split)
        if eval_rows:
            datasets["val"] = student_dataset(ev, d.eval_split, evaluation=True, **common)
            notes += [n for n in ev.notes(d.eval_split, None) if n not in notes]
        else:
            notes.append(f"no {d.eval_split} rows in {ev.directory}: no evaluation")
    update: dict[str, Any] = {"num_classes": len(train.classes), "num_frames": d.num_frames}
    if not train.summary.get("frames") and train.summary.get("image_weights"):
        # weights "none": the cache's seeded random f_I, so the exported student matches the cached features
        update["image_weights"] = train.summary["image_weights"]
    dims = train.summary["teachers"].get(teacher or (joined[0] if len(joined) == 1 else ""), None)
    if dims is not None:  # Π outputs the teacher's feature size in every variant (same model, same cost)
        update["teacher_feature_dim"] = int(dims["feature_dim"])
        if teacher is not None and int(dims["num_logits"]) != len(train.classes):
            raise ValueError(
                f"teacher {teacher} has {dims['num_logits']} logits, the clips {len(train.classes)} classes"
            )
    student = cfg.student.model_copy(update=update)
    return Prepared(
        train, ev, datasets, student, teacher, train_rows, eval_rows if "val" in datasets else 0, notes
    )


def student_dir(cfg: StudentJobBase, stage: str) -> Path:
    """``<ws>/checkpoints/students/<dataset>/<name>/<stage>``: the folder is the run's name (the variant
    by default), the stage one level down, so a name never reads as another name plus a stage."""
    return cfg.ws() / "checkpoints" / "students" / cfg.data.dataset / cfg.job_name() / stage


def run_stage(cfg: StudentJobBase, run: StageRun, parent_run: tracking.RunRef | None = None,
              callbacks: Sequence[Any] = (), extra_info: dict[str, Any] | None = None) -> StudentOutcome:  # fmt: skip
    """Train one stage of one method (module docstring); Ray must be initialised."""
    t0 = time.perf_counter()
    if run.init_state and not Path(run.init_state).is_file():
        raise FileNotFoundError(
            f"stage-1 student {run.init_state} does not exist (run `egodistill pretrain`)"
        )
    prep = prepare(
        cfg, needs_teacher=run.needs_teacher, evaluates=run.evaluates, logit_teachers=run.logit_teachers
    )
    boundary = prep.train.boundary
    if run.needs_boundary and len(boundary) != 2:
        raise ValueError(f"{run.stage} needs the first and last frames (ingest with frames.first_last)")
    name = f"{run.stage}-{cfg.data.dataset}-{cfg.job_name()}-{cfg.config_hash()}"
    params = {**tracking.flatten(cfg), "derived.train_clips": prep.train_rows, "derived.eval_clips": prep.eval_rows,
              "derived.inputs": prep.train.directory, "derived.teacher_features": prep.teacher_model,
              "derived.num_classes": len(prep.classes)}  # fmt: skip
    with tracking.tracked_run(cfg.tracking, workspace=cfg.ws(), job=run.stage, params=params, parent=parent_run,
                              run_name=f"{cfg.data.dataset}/{cfg.job_name()}/{run.stage}",
                              tags={"egodistill.variant": cfg.student.variant, **run.tags}) as mlrun:  # fmt: skip
        # the config as it trains: num_classes, frames and f_I weights resolved from the inputs
        tracking.log_text(mlrun, dump_config(cfg.model_copy(update={"student": prep.student})), "config.yaml")
        if prep.notes:
            tracking.log_text(mlrun, "\n".join(prep.notes) + "\n", "missing_inputs.txt")
        loop_config = {"job": cfg.model_dump(mode="json"), "stage": run.stage,
                       "student": prep.student.model_dump(mode="json"), "init_state": run.init_state,
                       "from_frames": bool(prep.train.summary.get("frames")), "boundary": boundary,
                       "has_val": "val" in prep.datasets, "run_ref": mlrun}  # fmt: skip
        trainer = ray_wiring.build_trainer(run.loop, loop_config, cfg.trainer, workspace=cfg.ws(), name=name,
                                           datasets=prep.datasets, callbacks=callbacks)  # fmt: skip
        fitted = ray_wiring.fit(trainer, name)
        state, metrics = fitted.state, fitted.metrics
        model_state = run.state_of(state["model"]) if run.state_of else state["model"]
        model = load_trained(prep.student, model_state)
        segments = named_segments(
            segment_results_of((state.get("extra") or {}).get("per_segment")), prep.eval
        )
        out_dir = student_dir(cfg, run.stage)
        efficiency = run.efficiency(prep.student) if run.efficiency else {}
        # the per-epoch curves are logged by the workers; the driver adds the final evaluation (with its
        # interval) and the cost, each once, in their own sections (no final_* copies of the curves)
        final: dict[str, Any] = {f"efficiency/{k}": v for k, v in efficiency.items()}
        if segments is not None:
            final.update(final_eval_metrics(segments))
            tracking.log_table(mlrun, segments.table(prep.classes), "tables/eval_segments.parquet")
        tracking.log_metrics(mlrun, final, step=int(metrics.get("epoch", 0)))
        info = {"stage": run.stage, "variant": cfg.student.variant, "dataset": cfg.data.dataset,
                "classes": prep.classes, "metrics": {**metrics, **final}, "checkpoint": fitted.checkpoint_path,
                "init_from": run.init_state, "mlflow_run_id": mlrun.run_id if mlrun else None,
                "inputs": prep.train.directory, "frame_size": cfg.data.image_size,
                "efficiency": efficiency, **(extra_info or {})}  # fmt: skip
        # a stage-1 student is an intermediate (stage 2 starts from it): only a final stage is registered
        register = cfg.tracking.register_model if run.evaluates else None
        save_student(out_dir, model, prep.student, info, mlrun, register)
    return StudentOutcome(run.stage, cfg.job_name(), cfg.student.variant, cfg.data.dataset, metrics, efficiency,
                          str(out_dir), fitted.checkpoint_path, mlrun.run_id if mlrun else None, prep.classes,
                          time.perf_counter() - t0, segments, prep.notes)  # fmt: skip


def named_segments(segments: Any, view: InputsView | None) -> Any:
    """The workers key segments by their index in the evaluation view; name them by segment (clip) id, so
    students, the teacher's ``eval_segments.parquet`` and other runs pair on the same keys."""
    if segments is None or view is None:
        return segments
    import dataclasses

    names = list(view.summary["segments"])
    return dataclasses.replace(segments, segment_id=[names[int(k)] for k in segments.segment_id])


def final_eval_metrics(segments: Any) -> dict[str, float]:
    """``eval/...`` metrics of a final per-segment evaluation: top-1 with its 95 % bootstrap interval."""
    import numpy as np

    from egodistill.evaluation.intervals import bootstrap_interval

    ci = bootstrap_interval((np.asarray(segments.pred) == np.asarray(segments.label))[None, :].astype(float))
    return {"eval/segment_top1": segments.top1, "eval/segment_top1_ci_low": ci.low,
            "eval/segment_top1_ci_high": ci.high, "eval/clip_top1": segments.clip_top1,
            "eval/segments": len(segments.label)}  # fmt: skip


def require_inputs(cfg: StudentJobBase, *, needs_teacher: bool, evaluates: bool) -> None:
    """Fail in a second (no Ray) when the inputs the job reads do not exist."""
    train, _ = open_views(cfg, evaluates)
    if needs_teacher:
        teacher_for(train, cfg.data.teacher_model)


__all__ = ["Prepared", "StageRun", "StudentOutcome", "final_eval_metrics", "open_views", "pool_name", "prepare",
           "require_inputs", "run_stage", "student_dir"]  # fmt: skip
