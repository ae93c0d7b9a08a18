"""The `teacher` job (driver side): train or fine-tune a teacher with Ray Train, export it, measure it.

Steps: read the clip rows (manifest or clips dataset) -> build two lazy Ray Data datasets of dense
clips decoded from the videos (training clips with temporal jitter, evaluation clips densely
covering each segment) -> open an MLflow run (params) -> ``TorchTrainer`` runs
:func:`~egodistill.teacher.step.train_loop` (the shared epoch engine) on N workers (checkpoint every epoch, resume
after a failure) -> export the final model (:mod:`.export`) -> GMACs, parameters and CPU latency
per clip -> log the final metrics, the export, the last Ray checkpoint and the per-segment
evaluation table to MLflow.

Re-running the same job (same workspace, dataset and model name) continues the Ray Train run from
its last checkpoint (Ray Train restores a run by name + storage path); set
``trainer.run.name`` to start a separate run.

:func:`compare_single_frame` trains the teacher and the single-frame baseline with the same data,
epochs and augmentation and returns both per-segment top-1 figures (the gap EgoDistill tries to
recover), as nested MLflow runs under one parent run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from egodistill import tracking
from egodistill.config import ConfigError, dump_config
from egodistill.models.config import TeacherConfig
from egodistill.runtime import configure_data_context
from egodistill.teacher import classifiers, data, export
from egodistill.teacher.config import TeacherJobConfig
from egodistill.teacher.dense import ClipSpec
from egodistill.training import ray_wiring

log = logging.getLogger(__name__)


@dataclass
class TeacherOutcome:
    """What a training run produced."""

    name: str
    description: str
    frames: str
    dataset: str
    single_frame: bool
    metrics: dict[str, Any]
    efficiency: dict[str, float]
    export_dir: str | None
    checkpoint: str
    run_id: str | None
    classes: list[str]
    train_segments: int
    eval_segments: int
    eval_clips: int
    elapsed_sec: float
    per_segment: pa.Table | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def segment_top1(self) -> float:
        return float(self.metrics.get("val_segment_top1", float("nan")))

    def lines(self) -> list[str]:
        m = self.metrics
        out = [
            f"{self.description} on {self.dataset}: val per-segment top-1 {self.segment_top1:.3f} "
            f"({m.get('val_segments_correct', 0)}/{m.get('val_segments', 0)} segments, "
            f"{self.eval_clips} dense clips), val clip top-1 {m.get('val_clip_top1', float('nan')):.3f}, "
            f"train top-1 {m.get('train_top1', float('nan')):.3f}; {m.get('epochs_done', 0)} epochs in "
            f"{self.elapsed_sec:.0f} s",
        ]
        if self.efficiency:
            e = self.efficiency
            out.append(
                f"  cost per clip: {e['gmacs']:.4f} GMACs, {e['params'] / 1e6:.3f} M params, "
                f"CPU latency {1000 * e['cpu_latency_sec']:.1f} ms"
            )
        if self.export_dir:
            out.append(f"  exported to {self.export_dir}")
        out.extend(f"  note: {n}" for n in self.notes)
        return out


def _num_classes(cfg: TeacherJobConfig, classes: list[str]) -> TeacherConfig:
    """The teacher config with ``num_classes`` taken from the data (an explicit mismatch is an error)."""
    n = len(classes)
    if "num_classes" in cfg.teacher.model_fields_set and cfg.teacher.num_classes != n:
        raise ConfigError(
            f"teacher.num_classes={cfg.teacher.num_classes} but the data has {n} classes (labels 0..{n - 1})"
        )
    return cfg.teacher.model_copy(update={"num_classes": n})


def clip_spec_for(model_spec: dict[str, Any], decode_size: int | None) -> ClipSpec:
    s = classifiers.input_spec(model_spec)
    size = decode_size or int(s.resize_size[0])
    if size < s.crop_size:
        raise ConfigError(f"data.decode_size {size} is smaller than the model's crop {s.crop_size}")
    return ClipSpec(num_frames=s.num_frames, sample_rate=s.sample_rate, size=size)


def _efficiency(model, spec) -> dict[str, float]:
    import torch

    from egodistill.evaluation.efficiency import measure_efficiency

    return measure_efficiency(model, (torch.rand(1, 3, spec.num_frames, spec.crop_size, spec.crop_size),))


def weights_hash(cfg: TeacherJobConfig, model_spec: dict[str, Any]) -> str:
    """Short hash of what shapes the weights (model, data, augmentation, optimiser, seed): a changed
    one trains a fresh Ray Train run instead of resuming a checkpoint that does not fit."""
    import hashlib
    import json

    shaping = {
        "model": model_spec,
        **cfg.model_dump(mode="json", include={"data", "augment", "optim", "seed"}),
    }
    return hashlib.sha1(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _segment_table(rows: pa.Table, per_segment: dict[str, Any] | None, classes: list[str]) -> pa.Table | None:
    if not per_segment:
        return None
    labels = rows.column("label").to_pylist()
    by_row = {int(k): i for i, k in enumerate(per_segment["segment_id"])}
    at = [by_row.get(r) for r in range(rows.num_rows)]
    preds = [int(per_segment["pred"][i]) if i is not None else -1 for i in at]
    confidence = [float(per_segment["confidence"][i]) if i is not None else 0.0 for i in at]
    clips = [int(per_segment["num_clips"][i]) if i is not None else 0 for i in at]
    return pa.table(
        {
            "clip_id": rows.column("clip_id"),
            "video_id": rows.column("video_id"),
            "label": pa.array(labels, pa.int32()),
            "verb": pa.array([classes[i] for i in labels]),
            "pred": pa.array(preds, pa.int32()),
            "pred_verb": pa.array([classes[p] if p >= 0 else None for p in preds]),
            "correct": pa.array([p == y for p, y in zip(preds, labels, strict=True)]),
            "confidence": pa.array(confidence, pa.float32()),
            "num_dense_clips": pa.array(clips, pa.int32()),
        }
    )


def _final_eval(per_segment: pa.Table, metrics: dict[str, Any]) -> dict[str, float]:
    """``eval/...``: the final per-segment top-1 with its 95 % bootstrap interval over the segments."""
    import numpy as np

    from egodistill.evaluation.intervals import bootstrap_interval

    correct = np.asarray(per_segment.column("correct").to_pylist(), dtype=float)[None, :]
    ci = bootstrap_interval(correct)
    return {"eval/segment_top1": float(correct.mean()), "eval/segment_top1_ci_low": ci.low,
            "eval/segment_top1_ci_high": ci.high, "eval/segments": correct.shape[1],
            "eval/clip_top1": float(metrics.get("val_clip_top1", float("nan")))}  # fmt: skip


def run_teacher(
    cfg: TeacherJobConfig,
    *,
    single_frame: bool = False,
    parent_run: tracking.RunRef | None = None,
) -> TeacherOutcome:
    """Train (or fine-tune) the configured teacher, or its single-frame baseline; Ray must be initialised."""
    t_start = time.perf_counter()
    kind, path = cfg.require_data()
    rows = data.load_rows(kind, path, dataset=cfg.data.dataset)
    if rows.num_rows == 0:
        raise ValueError(f"{path}: no clip rows")
    dataset = str(rows.column("dataset")[0])
    classes = data.class_names(rows)
    teacher_cfg = _num_classes(cfg, classes)
    model_spec = (
        classifiers.single_frame_spec(cfg.single_frame.model, teacher_cfg)
        if single_frame
        else classifiers.teacher_spec(teacher_cfg)
    )
    description = classifiers.describe(model_spec) + (" (single-frame baseline)" if single_frame else "")
    name = cfg.name + ("-single-frame" if single_frame else "")
    clip_spec = clip_spec_for(model_spec, cfg.data.decode_size)

    train_rows = rows.filter(pc.equal(rows.column("split"), cfg.data.train_split))
    eval_rows = rows.filter(pc.equal(rows.column("split"), cfg.data.eval_split))
    if cfg.data.max_eval_segments is not None:
        eval_rows = eval_rows.slice(0, cfg.data.max_eval_segments)
    if train_rows.num_rows == 0:
        raise ValueError(f"{path}: no rows in split {cfg.data.train_split!r} to train on")
    notes = []
    if eval_rows.num_rows == 0:
        notes.append(f"no rows in split {cfg.data.eval_split!r}: no per-segment evaluation")

    jitter = cfg.augment.temporal_jitter if cfg.augment.enabled else 0.0
    common = {
        "max_pad_fraction": cfg.data.max_pad_fraction,
        "num_cpus": cfg.data.num_cpus_per_task,
        "concurrency": cfg.data.concurrency,
    }
    train_tasks = data.make_tasks(
        data.train_items(train_rows, cfg.data.train_repeats), cfg.data.clips_per_task
    )
    datasets = {"train": data.clip_dataset(train_tasks, clip_spec, jitter=jitter, **common)}
    eval_items: list[dict[str, Any]] = []
    if eval_rows.num_rows:
        eval_items, _ = data.eval_items(eval_rows, cfg.data.dense)
        eval_tasks = data.make_tasks(eval_items, cfg.data.clips_per_task)
        datasets["val"] = data.clip_dataset(eval_tasks, clip_spec, **common)
    configure_data_context()

    params = {
        **tracking.flatten(cfg),
        "derived.dataset": dataset,
        "derived.model": description,
        "derived.single_frame": single_frame,
        "derived.num_classes": len(classes),
        "derived.train_segments": train_rows.num_rows,
        "derived.eval_segments": eval_rows.num_rows,
        "derived.eval_clips": len(eval_items),
        "derived.clip": f"{clip_spec.num_frames}x{clip_spec.sample_rate} frames decoded at {clip_spec.size}px",
    }
    with tracking.tracked_run(
        cfg.tracking,
        workspace=cfg.workspace,
        job="teacher",
        params=params,
        parent=parent_run,
        run_name=f"{dataset}/{name}",
        tags={"egodistill.dataset": dataset, "egodistill.model": description},
    ) as run:
        tracking.log_text(run, dump_config(cfg), "config.yaml")
        trainer = ray_wiring.build_trainer(
            _train_loop(),
            {
                "job": cfg.model_dump(mode="json"),
                "model": model_spec,
                "num_segments": eval_rows.num_rows,
                "has_val": bool(eval_rows.num_rows),
                "run_ref": run,
            },
            cfg.trainer,
            workspace=cfg.workspace,
            name=f"teacher-{dataset}-{name}-{weights_hash(cfg, model_spec)}",
            datasets=datasets,
        )
        log.info(
            "training %s on %s: %d train segments (x%d clips per epoch), %d eval segments (%d dense clips), %d classes",
            description, dataset, train_rows.num_rows, cfg.data.train_repeats, eval_rows.num_rows,
            len(eval_items), len(classes),
        )  # fmt: skip
        fitted = ray_wiring.fit(trainer, "teacher training",
                                on_checkpoint=lambda d: tracking.log_artifact(run, d, "checkpoint"))  # fmt: skip
        state, metrics, checkpoint_path = fitted.state, fitted.metrics, fitted.checkpoint_path
        model = classifiers.build(model_spec)
        model.load_state_dict(state["model"])
        efficiency = _efficiency(model, model.input_spec) if cfg.efficiency else {}
        per_segment = _segment_table(eval_rows, (state.get("extra") or {}).get("per_segment"), classes)

        out_dir = None
        if not single_frame:
            info = {
                "model_name": name,
                "dataset": dataset,
                "classes": classes,
                "description": description,
                "clip": {"num_frames": clip_spec.num_frames, "sample_rate": clip_spec.sample_rate,
                         "decode_size": clip_spec.size, "crop_size": model.input_spec.crop_size},
                "metrics": metrics,
                "efficiency": efficiency,
                "mlflow_run_id": run.run_id if run else None,
                "ray_checkpoint": checkpoint_path,
                "source": {"kind": kind, "path": path},
            }  # fmt: skip
            out_dir = str(
                export.write_export(
                    export.export_dir(cfg.workspace, dataset, name), state["model"], teacher_cfg, info
                )
            )
            if per_segment is not None:  # per-segment correctness: paired comparisons (`reproduce`)
                import pyarrow.parquet as pq

                pq.write_table(per_segment, f"{out_dir}/{export.SEGMENTS_FILE}")
            tracking.log_artifact(run, out_dir, "model")
            if run is not None:  # the MLflow model: uint8 clips in, probabilities out (teacher/pyfunc.py)
                from egodistill.teacher.pyfunc import log_teacher_model

                log_teacher_model(run, out_dir, cfg.tracking.register_model)
        final: dict[str, Any] = {
            f"efficiency/{k}": v for k, v in efficiency.items()
        }  # the curves are logged per epoch
        if per_segment is not None and per_segment.num_rows:
            final.update(_final_eval(per_segment, metrics))
        tracking.log_metrics(run, final, step=int(metrics.get("epoch", 0)))
        if per_segment is not None:
            tracking.log_table(run, per_segment, "tables/eval_segments.parquet")
    return TeacherOutcome(
        name=name,
        description=description,
        frames=f"{clip_spec.num_frames}x{clip_spec.sample_rate}" if clip_spec.num_frames > 1 else "1",
        dataset=dataset,
        single_frame=single_frame,
        metrics=metrics,
        efficiency=efficiency,
        export_dir=out_dir,
        checkpoint=checkpoint_path,
        run_id=run.run_id if run else None,
        classes=classes,
        train_segments=train_rows.num_rows,
        eval_segments=eval_rows.num_rows,
        eval_clips=len(eval_items),
        elapsed_sec=time.perf_counter() - t_start,
        per_segment=per_segment,
        notes=notes,
    )


def _train_loop():
    from egodistill.teacher.step import train_loop

    return train_loop


@dataclass
class Comparison:
    teacher: TeacherOutcome
    baseline: TeacherOutcome
    run_id: str | None

    @property
    def gap(self) -> float:
        return self.teacher.segment_top1 - self.baseline.segment_top1

    def lines(self) -> list[str]:
        rows = [("model", "frames", "GMACs/clip", "params", "per-segment top-1", "clip top-1")]
        for o in (self.teacher, self.baseline):
            s = o.metrics
            e = o.efficiency
            rows.append(
                (
                    o.description,
                    o.frames,
                    f"{e['gmacs']:.4f}" if e else "-",
                    f"{e['params'] / 1e6:.2f} M" if e else "-",
                    f"{o.segment_top1:.3f} ({s.get('val_segments_correct', 0)}/{s.get('val_segments', 0)})",
                    f"{s.get('val_clip_top1', float('nan')):.3f}",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        text = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        text.append(
            f"gap (teacher - single frame): {100 * self.gap:+.1f} points of per-segment top-1 on "
            f"{self.teacher.eval_segments} {self.teacher.dataset} evaluation segments "
            "(what distillation with IMU tries to recover)"
        )
        return text


def compare_single_frame(cfg: TeacherJobConfig) -> Comparison:
    """Train the teacher and its single-frame baseline (same data, epochs, augmentation); nested MLflow runs."""
    kind, path = cfg.require_data()
    with tracking.tracked_run(
        cfg.tracking,
        workspace=cfg.workspace,
        job="teacher",
        params={"compare": "teacher vs single-frame", "data": path, "model_name": cfg.name},
        run_name=f"compare/{cfg.name}",
    ) as parent:
        teacher = run_teacher(cfg, parent_run=parent)
        baseline = run_teacher(cfg, single_frame=True, parent_run=parent)
        tracking.log_metrics(
            parent,
            {
                "teacher_val_segment_top1": teacher.segment_top1,
                "single_frame_val_segment_top1": baseline.segment_top1,
                "gap_val_segment_top1": teacher.segment_top1 - baseline.segment_top1,
            },
        )
        comparison = Comparison(teacher, baseline, parent.run_id if parent else None)
        tracking.log_text(parent, "\n".join(comparison.lines()) + "\n", "comparison.txt")
    return comparison


__all__ = ["Comparison", "TeacherOutcome", "clip_spec_for", "compare_single_frame", "run_teacher"]
