"""The student jobs (driver side): stage-1 ``pretrain``, stage-2 ``distill`` and the four-variant ``experiment``.

``run_pretrain`` / ``run_distill``: make sure the frozen-f_I feature cache exists for the clips (and the
dense evaluation clips), join clips + image features + teacher features
(:mod:`.student_data`), open an MLflow run (params, config), run a ``TorchTrainer`` over
:mod:`.pretrain_loop` / :mod:`.distill_loop` (checkpoint every epoch, resume after a failure or on a
re-run), then on the driver load the final checkpoint, evaluate per segment (softmax averaged over dense
clips), write the student (``<workspace>/checkpoints/students/<dataset>/<name>/``: ``student.pt``,
``config.json``, and an MLflow pytorch/pyfunc model) and log metrics, tables and the model to MLflow.

The Ray Train run name carries a short hash of the job config, so re-running the same job resumes it
(``FailureConfig`` covers worker failures inside a run) while a changed config starts afresh.

Every number is a config field whose default is the paper's (supplement C): AdamW, batch 64, lr 1e-4,
stage 1 50 epochs with ×0.1 decay at 30 and 40, stage 2 150 epochs / 90, 120 on Ego4D and 50 / 30, 40
on EPIC, α 0.95, β 1.0, τ 10 (Ego4D) / 1 (EPIC), τ' 0.1. Presets (``demo``, ``smoke``) shorten them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from egodistill import tracking
from egodistill.config import ConfigError, StrictConfig, dump_config
from egodistill.datasets.manifest import DenseClipConfig
from egodistill.models.config import VARIANTS, StudentConfig
from egodistill.tracking import TrackingConfig
from egodistill.training import ray_wiring

log = logging.getLogger(__name__)

PAPER_STAGE2 = {"ego4d": (150, [90, 120]), "epic": (50, [30, 40])}
PAPER_TAU = {"ego4d": 10.0, "epic": 1.0}


# ----------------------------------------------------------------------------------------------
# configs


class StudentDataConfig(StrictConfig):
    """Which clips, features and frames a student job reads."""

    dataset: str = Field("ego4d", description="ego4d or epic")
    clips: str | None = Field(None, description="clips root; None: <workspace>/clips")
    eval_clips: str | None = Field(
        None,
        description="dense evaluation clips root; None: <workspace>/clips_dense if it exists, else the clips",
    )
    features: str | None = Field(None, description="features root; None: <workspace>/features")
    teacher_model: str | None = Field(
        None, description="teacher features folder (features/<dataset>/<name>); None: the only one there"
    )
    train_split: str = "train"
    eval_split: str = "val"
    num_frames: int = Field(1, ge=1, le=4, description="N frames per clip (paper 1..4)")
    strategy: Literal["uniform", "random", "first", "last", "center"] = "uniform"
    image_size: int | None = Field(
        None, ge=16, description="f_I input size (resize); None: the stored frame size"
    )
    shuffle_buffer: int = Field(256, ge=0)
    build_dense: bool = Field(
        True, description="build <workspace>/clips_dense from the manifest when missing"
    )
    dense: DenseClipConfig = Field(default_factory=DenseClipConfig)


class OptimSettings(StrictConfig):
    epochs: int | None = Field(None, ge=1, description="None: the paper's for the stage and dataset")
    batch_size: int = Field(64, ge=1, description="global batch (split over workers)")
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.01, ge=0, description="AdamW's default")
    milestones: list[int] | None = Field(None, description="lr ×gamma at these epochs; None: the paper's")
    gamma: float = Field(0.1, gt=0)
    eval_every: int = Field(1, ge=1)
    eval_batch_size: int = Field(64, ge=1)


class DistillLoss(StrictConfig):
    alpha: float = Field(0.95, ge=0, le=1)
    beta: float = Field(1.0, ge=0)
    temperature: float | None = Field(None, gt=0, description="None: 10 on Ego4D, 1 on EPIC")
    use_kd: bool = True
    use_gt: bool = True
    use_l1: bool = True


class PretrainLoss(StrictConfig):
    nce_temperature: float = Field(0.1, gt=0)
    nce_weight: float = Field(1.0, ge=0)
    l1_weight: float = Field(1.0, ge=0)
    use_nce: bool = True
    use_l1: bool = True


class _JobBase(StrictConfig):
    workspace: str = "workspace"
    name: str | None = Field(None, description="student name in the workspace (default: the variant)")
    student: StudentConfig = Field(default_factory=StudentConfig)
    data: StudentDataConfig = Field(default_factory=StudentDataConfig)
    optim: OptimSettings = Field(default_factory=OptimSettings)
    trainer: ray_wiring.TrainerSettings = Field(
        default_factory=lambda: ray_wiring.TrainerSettings(find_unused_parameters=True)
    )
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    seed: int = 0
    fail_after_epoch: int | None = Field(None, ge=0, description="test hook: fail once after this epoch")

    def job_name(self) -> str:
        return self.name or self.student.variant

    def ws(self) -> Path:
        return Path(self.workspace).expanduser().absolute()


class PretrainJobConfig(_JobBase):
    """Stage 1 (§3.4): f_M, h, Π with L_NCE + L_1; 50 epochs, decay at 30 and 40."""

    loss: PretrainLoss = Field(default_factory=PretrainLoss)


class DistillJobConfig(_JobBase):
    """Stage 2 (§3.3): L = α·L_KD + (1−α)·L_GT + β·L_1 (distilling variants) or L_GT."""

    loss: DistillLoss = Field(default_factory=DistillLoss)
    init_from: str | None = Field(None, description="stage-1 student.pt to start from (None: from scratch)")
    efficiency: bool = Field(True, description="measure GMACs, params and CPU latency of the student")
    efficiency_size: int = Field(224, ge=16, description="frame size for GMACs/latency (paper: 224)")
    latency_batch: int = Field(32, ge=1, description="batch for the per-clip CPU latency (paper: 32)")


def _config_hash(cfg: StrictConfig) -> str:
    data = cfg.model_dump(mode="json", exclude={"tracking", "fail_after_epoch"})
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]


# ----------------------------------------------------------------------------------------------
# inputs


@dataclass
class Prepared:
    train: Any  # StudentInputs
    eval: Any | None
    student: StudentConfig
    image_model: str | None
    teacher_model: str | None
    eval_root: str | None
    notes: list[str] = field(default_factory=list)


def _roots(cfg: _JobBase) -> tuple[str, str]:
    ws = cfg.ws()
    return cfg.data.clips or str(ws / "clips"), cfg.data.features or str(ws / "features")


def teacher_model_name(features_root: str, dataset: str, wanted: str | None) -> str:
    """The teacher-features folder: ``wanted`` or the only non-image folder of the dataset."""
    d = Path(features_root) / dataset
    if wanted:
        if not (d / wanted).is_dir():
            raise FileNotFoundError(f"no teacher features at {d / wanted} (run `egodistill features` first)")
        return wanted
    names = sorted(p.name for p in d.glob("*") if p.is_dir() and not p.name.startswith(("image_", "_", ".")))
    if len(names) != 1:
        raise ConfigError(
            f"{d}: {'no' if not names else 'several'} teacher feature folders {names}; set data.teacher_model"
        )
    return names[0]


def ensure_dense_clips(cfg: _JobBase) -> str | None:
    """The dense evaluation clips root, built (dense manifest + ingest) when missing and allowed."""
    from egodistill.ingest.store import clip_files

    ws = cfg.ws()
    if cfg.data.eval_clips:
        return cfg.data.eval_clips
    root = ws / "clips_dense"
    dataset = cfg.data.dataset
    try:
        if clip_files(str(root), dataset)[1]:
            return str(root)
    except (FileNotFoundError, OSError):
        pass
    manifest = ws / "manifests" / f"{dataset}.parquet"
    if not cfg.data.build_dense or not manifest.is_file():
        return None
    build_dense_clips(str(manifest), str(root), cfg.data.dense, *_roots(cfg)[:1])
    return str(root)


def build_dense_clips(manifest: str, out: str, dense: DenseClipConfig, clips_root: str) -> Any:
    """Expand the manifest's evaluation rows to dense windows and ingest them like the clips dataset."""
    from egodistill.datasets.manifest import read_manifest
    from egodistill.evaluation.segments import dense_manifest
    from egodistill.ingest.config import IngestConfig
    from egodistill.ingest.pipeline import run_ingest
    from egodistill.ingest.store import read_clips
    from egodistill.storage import atomic_write_table

    table = read_manifest(manifest)
    expanded = dense_manifest(table, dense).replace_schema_metadata(table.schema.metadata)
    dense_path = manifest[: -len(".parquet")] + ".dense.parquet"
    atomic_write_table(expanded, dense_path)
    probe = read_clips(clips_root, columns=["num_frames", "frame_height", "first_frame_time_sec"]).slice(0, 1)
    size = int(probe.column("frame_height")[0].as_py())
    frames = {
        "count": int(probe.column("num_frames")[0].as_py()),
        "short_side": size,
        "crop_size": size,
        "first_last": probe.column("first_frame_time_sec")[0].is_valid,
    }
    summary = run_ingest(
        IngestConfig(manifest=dense_path, out=out, frames=frames, resources={"progress_bars": False})
    )
    log.info("dense evaluation clips: %s", " / ".join(summary.lines()))
    return summary


def ensure_image_features(clips_root: str, cfg: _JobBase) -> tuple[str, str]:
    """Run (or finish) the f_I cache pass; returns (sidecar folder name, effective f_I weights)."""
    from egodistill.features.image_cache import ImageCacheConfig, effective_weights, run_image_cache

    icfg = ImageCacheConfig(
        clips=clips_root,
        workspace=str(cfg.ws()),
        out=_roots(cfg)[1],
        dataset=cfg.data.dataset,
        weights=cfg.student.image_weights,
        image_size=cfg.data.image_size,
        model_name=None if cfg.data.image_size is None else None,
        allow_download=cfg.student.allow_download,
    )
    if cfg.data.image_size is not None:
        icfg = icfg.model_copy(update={"model_name": f"{icfg.folder_name()}-{cfg.data.image_size}px"})
    for s in run_image_cache(icfg):
        if not s.ok:
            raise RuntimeError(f"image feature cache incomplete: {s.line()}")
    return icfg.folder_name(), effective_weights(icfg)


def _teacher_dim(cfg: _JobBase) -> int | None:
    """The teacher feature size when teacher features exist (for the L_GT-only variants), else None."""
    from egodistill.features.store import read_features

    _, feat_root = _roots(cfg)
    try:
        name = teacher_model_name(feat_root, cfg.data.dataset, cfg.data.teacher_model)
        t = read_features(feat_root, cfg.data.dataset, name, columns=["feature_dim"])
    except (ConfigError, FileNotFoundError):
        return None
    return int(t.column("feature_dim")[0].as_py()) if t.num_rows else None


def prepare_inputs(cfg: _JobBase, *, need_teacher: bool, with_eval: bool) -> Prepared:
    from egodistill.training.student_data import load_inputs

    clips_root, feat_root = _roots(cfg)
    dataset = cfg.data.dataset
    from_frames = not cfg.student.freeze_image_encoder
    image_model, weights = (
        (None, cfg.student.image_weights) if from_frames else ensure_image_features(clips_root, cfg)
    )
    teacher_model = teacher_model_name(feat_root, dataset, cfg.data.teacher_model) if need_teacher else None
    common = {
        "dataset": dataset,
        "image_root": feat_root,
        "image_model": image_model,
        "num_frames": cfg.data.num_frames,
        "strategy": cfg.data.strategy,
        "from_frames": from_frames,
        "frame_size": cfg.data.image_size,
        "seed": cfg.seed,
    }
    train = load_inputs(clips_root, splits=[cfg.data.train_split], teacher_root=feat_root if need_teacher else None,
                        teacher_model=teacher_model, **common)  # fmt: skip
    notes = [f"{len(v)} {cfg.data.train_split} clips without {k}: left out" for k, v in train.missing.items()]
    ev = None
    eval_root = None
    if with_eval:
        eval_root = ensure_dense_clips(cfg) or clips_root
        if eval_root != clips_root and not from_frames:
            ensure_image_features(eval_root, cfg)
        try:
            ev = load_inputs(eval_root, splits=[cfg.data.eval_split], classes=train.classes, **common)
        except ValueError as e:
            notes.append(f"no evaluation: {e}")
        if ev is not None:
            notes += [f"{len(v)} eval clips without {k}: left out" for k, v in ev.missing.items()]
    # weights "none": the cache's seeded random f_I, so the exported student matches the cached features
    update: dict[str, Any] = {"num_classes": len(train.classes), "num_frames": cfg.data.num_frames,
                              "image_weights": weights}  # fmt: skip
    dim = int(train.teacher_feature.shape[1]) if train.teacher_feature is not None else _teacher_dim(cfg)
    if dim is not None:  # Π outputs the teacher's feature size in every variant (same model, same cost)
        update["teacher_feature_dim"] = dim
    if train.teacher_feature is not None and train.teacher_logits.shape[1] != len(train.classes):
        raise ValueError(
            f"teacher logits have {train.teacher_logits.shape[1]} classes, the clips {len(train.classes)}"
        )
    student = cfg.student.model_copy(update=update)
    return Prepared(train, ev, student, image_model, teacher_model, eval_root, notes)


# ----------------------------------------------------------------------------------------------
# outcome


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


def student_dir(cfg: _JobBase, stage: str) -> Path:
    return cfg.ws() / "checkpoints" / "students" / cfg.data.dataset / f"{cfg.job_name()}-{stage}"


def _fit(loop, loop_config: dict[str, Any], cfg: _JobBase, datasets: dict[str, Any], run_name: str,
         callbacks: Sequence[Any] = ()):  # fmt: skip
    trainer = ray_wiring.build_trainer(loop, loop_config, cfg.trainer, workspace=cfg.ws(), name=run_name,
                                       datasets=datasets, callbacks=callbacks)  # fmt: skip
    out = ray_wiring.fit(trainer, run_name)
    return out.state, out.metrics, out.checkpoint_path


def load_trained(scfg: StudentConfig, state: dict[str, Any]):
    """A full student from a worker checkpoint (which leaves out the frozen f_I when features were cached)."""
    from egodistill.models.student import build_student

    model = build_student(scfg)
    result = model.load_state_dict(state, strict=False)
    bad = [k for k in list(result.missing_keys) if not k.startswith("image_encoder.")] + list(
        result.unexpected_keys
    )
    if bad:
        raise RuntimeError(f"checkpoint does not fit the student: {bad[:5]}")
    return model


def save_student(directory: Path, model, scfg: StudentConfig, info: dict[str, Any], run) -> None:
    """``student.pt`` (state dict), ``config.json``, ``info.json`` and an MLflow pytorch/pyfunc model."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / ".student.pt.tmp"
    torch.save(model.state_dict(), tmp)
    tmp.replace(directory / "student.pt")
    (directory / "config.json").write_text(json.dumps(scfg.model_dump(mode="json"), indent=1))
    (directory / "info.json").write_text(json.dumps(info, indent=1, default=str))
    tracking.log_artifact(run, directory, "student")
    if run is not None:
        import shutil
        import tempfile

        import mlflow.pytorch

        with tempfile.TemporaryDirectory() as tmpdir:
            path = Path(tmpdir) / "mlflow_model"
            mlflow.pytorch.save_model(
                model.cpu().eval(),
                str(path),
                serialization_format="pickle",
                pip_requirements=["torch", "torchvision"],
            )
            tracking.log_artifact(run, path, "mlflow_model")
            shutil.rmtree(path, ignore_errors=True)


def _paper_schedule(cfg: _JobBase, stage: str) -> tuple[int, list[int]]:
    if stage == "pretrain":
        epochs, milestones = 50, [30, 40]
    else:
        epochs, milestones = PAPER_STAGE2.get(cfg.data.dataset, PAPER_STAGE2["epic"])
    return (
        cfg.optim.epochs or epochs,
        cfg.optim.milestones if cfg.optim.milestones is not None else milestones,
    )


def _loop_job(cfg: _JobBase, stage: str) -> dict[str, Any]:
    job = cfg.model_dump(mode="json")
    epochs, milestones = _paper_schedule(cfg, stage)
    job["optim"].update({"epochs": epochs, "milestones": milestones})
    if stage == "distill" and job["loss"]["temperature"] is None:
        job["loss"]["temperature"] = PAPER_TAU.get(cfg.data.dataset, 1.0)
    job["fail_marker"] = str(cfg.ws() / "ray_results" / f".fail-{stage}-{cfg.job_name()}-{_config_hash(cfg)}")
    return job


def evaluate_inputs(model, inputs, cfg: _JobBase, batch_size: int = 64):
    """Driver-side per-segment evaluation of a model over :class:`StudentInputs`."""
    import torch

    from egodistill.evaluation.segments import segment_results
    from egodistill.training.distill_loop import predict

    def batches():
        for i in range(0, inputs.num_rows, batch_size):
            sl = slice(i, i + batch_size)
            yield {
                "row": torch.arange(i, min(i + batch_size, inputs.num_rows)),
                "imu": torch.from_numpy(np.ascontiguousarray(inputs.imu[sl])),
                "pool": torch.from_numpy(np.ascontiguousarray(inputs.pool[sl])),
                "select": torch.from_numpy(np.ascontiguousarray(inputs.select[sl])),
            }

    rows, probs = predict(model, batches(), strategy=cfg.data.strategy, num_frames=cfg.data.num_frames,
                          from_frames=inputs.from_frames, uses_imu=model.uses_imu)  # fmt: skip
    return segment_results(
        [inputs.clip_id[r] for r in rows], probs, inputs.label[rows], model.cfg.num_classes
    )


# ----------------------------------------------------------------------------------------------
# jobs


def run_pretrain(cfg: PretrainJobConfig, parent_run: tracking.RunRef | None = None) -> StudentOutcome:
    """Stage 1 on Ray Train; returns the outcome (``student_dir`` holds ``student.pt`` for stage 2)."""
    from egodistill.training.pretrain_loop import student_state, train_loop
    from egodistill.training.student_data import to_ray_dataset

    t0 = time.perf_counter()
    if not VARIANTS[cfg.student.variant].uses_imu:
        raise ConfigError(f"variant {cfg.student.variant!r} has no IMU branch: nothing to pretrain")
    prep = prepare_inputs(cfg, need_teacher=True, with_eval=False)
    if len(prep.train.boundary) != 2:
        raise ValueError(
            "stage-1 pretraining needs the first and last frames (ingest with frames.first_last)"
        )
    name = f"pretrain-{cfg.data.dataset}-{cfg.job_name()}-{_config_hash(cfg)}"
    params = {**tracking.flatten(cfg), "derived.train_clips": prep.train.num_rows,
              "derived.image_features": prep.image_model, "derived.teacher_features": prep.teacher_model}  # fmt: skip
    with tracking.tracked_run(cfg.tracking, workspace=cfg.ws(), job="pretrain", params=params, parent=parent_run,
                              run_name=f"{cfg.data.dataset}/{cfg.job_name()}/pretrain") as run:  # fmt: skip
        tracking.log_text(run, dump_config(cfg), "config.yaml")
        loop_config = {"job": _loop_job(cfg, "pretrain"), "student": prep.student.model_dump(mode="json"),
                       "boundary": prep.train.boundary.tolist(), "from_frames": prep.train.from_frames,
                       "run_ref": run}  # fmt: skip
        state, metrics, ckpt = _fit(train_loop, loop_config, cfg, {"train": to_ray_dataset(prep.train)}, name)
        model = load_trained(prep.student, student_state(state["model"]))
        out_dir = student_dir(cfg, "pretrain")
        save_student(
            out_dir, model, prep.student, {"stage": "pretrain", "metrics": metrics, "checkpoint": ckpt}, run
        )
        tracking.log_metrics(
            run, {f"final_{k}": v for k, v in metrics.items()}, step=int(metrics.get("epoch", 0))
        )
    return StudentOutcome("pretrain", cfg.job_name(), cfg.student.variant, cfg.data.dataset, metrics, {},
                          str(out_dir), ckpt, run.run_id if run else None, prep.train.classes,
                          time.perf_counter() - t0, notes=prep.notes)  # fmt: skip


def student_efficiency(scfg: StudentConfig, size: int, batch: int) -> dict[str, float]:
    """GMACs and params at N frames of ``size`` px + 422x6 IMU, CPU latency per clip at ``batch``."""
    import torch

    from egodistill.evaluation.efficiency import count_macs, count_params, cpu_latency
    from egodistill.models.student import build_student

    model = build_student(scfg.model_copy(update={"image_weights": "none"})).eval()
    inputs = {"frames": torch.rand(1, scfg.num_frames, 3, size, size)}
    if VARIANTS[scfg.variant].uses_imu:
        inputs["imu"] = torch.randn(1, scfg.imu_length, scfg.imu_channels)
    return {
        "gmacs": count_macs(model, inputs),
        "params": float(count_params(model)),
        "cpu_latency_sec": cpu_latency(model, inputs, batch=batch, warmup=1, repeats=2),
    }


def run_distill(
    cfg: DistillJobConfig, parent_run: tracking.RunRef | None = None, train_callbacks: Sequence[Any] = ()
) -> StudentOutcome:
    """Stage 2 on Ray Train + driver-side per-segment evaluation, student export and MLflow logging.

    ``train_callbacks`` go to the Ray Train run (a sweep trial passes Tune's ``TuneReportCallback``).
    """
    from egodistill.training.distill_loop import train_loop
    from egodistill.training.student_data import to_ray_dataset

    t0 = time.perf_counter()
    distill = VARIANTS[cfg.student.variant].distill
    prep = prepare_inputs(cfg, need_teacher=distill, with_eval=True)
    init_state = None
    if cfg.init_from:
        init = Path(cfg.init_from)
        init_state = str(init / "student.pt" if init.is_dir() else init)
        if not Path(init_state).is_file():
            raise FileNotFoundError(
                f"stage-1 student {init_state} does not exist (run `egodistill pretrain`)"
            )
    name = f"distill-{cfg.data.dataset}-{cfg.job_name()}-{_config_hash(cfg)}"
    ev = prep.eval
    params = {**tracking.flatten(cfg), "derived.train_clips": prep.train.num_rows,
              "derived.eval_clips": ev.num_rows if ev else 0, "derived.eval_root": prep.eval_root,
              "derived.image_features": prep.image_model, "derived.teacher_features": prep.teacher_model,
              "derived.num_classes": len(prep.train.classes)}  # fmt: skip
    with tracking.tracked_run(cfg.tracking, workspace=cfg.ws(), job="distill", params=params, parent=parent_run,
                              run_name=f"{cfg.data.dataset}/{cfg.job_name()}/distill",
                              tags={"egodistill.variant": cfg.student.variant}) as run:  # fmt: skip
        tracking.log_text(run, dump_config(cfg), "config.yaml")
        datasets = {"train": to_ray_dataset(prep.train, include_teacher=distill)}
        loop_config: dict[str, Any] = {"job": _loop_job(cfg, "distill"), "student": prep.student.model_dump(mode="json"),
                                       "init_state": init_state, "from_frames": prep.train.from_frames, "run_ref": run}  # fmt: skip
        if ev is not None:
            datasets["val"] = to_ray_dataset(ev, include_teacher=False)
            loop_config.update({"eval_clip_ids": ev.clip_id, "eval_labels": ev.label.tolist()})
        state, metrics, ckpt = _fit(train_loop, loop_config, cfg, datasets, name, train_callbacks)
        model = load_trained(prep.student, state["model"])
        segments = evaluate_inputs(model, ev, cfg) if ev is not None else None
        efficiency = (
            student_efficiency(prep.student, cfg.efficiency_size, cfg.latency_batch) if cfg.efficiency else {}
        )
        out_dir = student_dir(cfg, "distill")
        final: dict[str, Any] = {f"final_{k}": v for k, v in metrics.items()}
        if segments is not None:
            final.update({"eval_segment_top1": segments.top1, "eval_clip_top1": segments.clip_top1})
            tracking.log_table(run, segments.table(prep.train.classes), "tables/eval_segments.parquet")
        final.update({f"efficiency_{k}": v for k, v in efficiency.items()})
        tracking.log_metrics(run, final, step=int(metrics.get("epoch", 0)))
        info = {"stage": "distill", "variant": cfg.student.variant, "classes": prep.train.classes, "metrics": final,
                "checkpoint": ckpt, "init_from": init_state, "mlflow_run_id": run.run_id if run else None}  # fmt: skip
        save_student(out_dir, model, prep.student, info, run)
    return StudentOutcome("distill", cfg.job_name(), cfg.student.variant, cfg.data.dataset, metrics, efficiency,
                          str(out_dir), ckpt, run.run_id if run else None, prep.train.classes,
                          time.perf_counter() - t0, segments, prep.notes)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# experiment: the four variants (+ ablations, N, frame strategies) and the report

Ablation = Literal["no_l1", "no_kd", "no_gt", "no_pretrain", "no_pretrain_l1", "no_pretrain_nce"]
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
    variants: list[Literal["visonly", "visonly_distill", "visimu", "egodistill"]] = list(VARIANT_ORDER)
    ablations: list[Ablation] = Field(default_factory=list, description="extra EgoDistill runs (Table 1)")
    frames: list[int] = Field(
        default_factory=list, description="extra N values for EgoDistill and VisOnly-Distill"
    )
    strategies: list[Literal["uniform", "random", "first", "last", "center"]] = Field(
        default_factory=list, description="extra frame strategies for EgoDistill (supplement D)"
    )
    student: StudentConfig = Field(default_factory=StudentConfig)
    data: StudentDataConfig = Field(default_factory=StudentDataConfig)
    pretrain_optim: OptimSettings = Field(default_factory=OptimSettings)
    distill_optim: OptimSettings = Field(default_factory=OptimSettings)
    pretrain_loss: PretrainLoss = Field(default_factory=PretrainLoss)
    distill_loss: DistillLoss = Field(default_factory=DistillLoss)
    trainer: ray_wiring.TrainerSettings = Field(
        default_factory=lambda: ray_wiring.TrainerSettings(find_unused_parameters=True)
    )
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    seed: int = 0
    efficiency_size: int = Field(224, ge=16)
    latency_batch: int = Field(32, ge=1)
    teacher_dir: str | None = Field(
        None,
        description="teacher export for the efficiency row; None: <workspace>/checkpoints/teachers/<dataset>/<teacher features name>",
    )


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # the demo world: ~35 training clips per layout, 2 cores; f_I without ImageNet weights (offline)
    "demo": {
        "student": {"image_weights": "none"},
        "pretrain_optim": {"epochs": 10, "batch_size": 16, "lr": 1e-3, "milestones": [6, 8]},
        "distill_optim": {
            "epochs": 20,
            "batch_size": 16,
            "lr": 1e-3,
            "milestones": [12, 16],
            "eval_every": 20,
        },
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1}, "find_unused_parameters": True},
        "latency_batch": 8,
    },
    "smoke": {
        "student": {"image_weights": "none"},
        "pretrain_optim": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "milestones": []},
        "distill_optim": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "milestones": []},
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1}, "find_unused_parameters": True},
        "latency_batch": 2,
        "efficiency_size": 64,
    },
}


@dataclass
class RunSpec:
    label: str
    variant: str
    num_frames: int
    strategy: str
    pretrain: bool
    distill_loss: dict[str, Any] = field(default_factory=dict)
    pretrain_loss: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.label.lower().replace(" ", "_").replace("/", "").replace("=", "").replace(",", "")


def experiment_runs(cfg: ExperimentConfig) -> list[RunSpec]:
    n, st = cfg.data.num_frames, cfg.data.strategy
    runs = [RunSpec(LABELS[v], v, n, st, v == "egodistill") for v in VARIANT_ORDER if v in cfg.variants]
    abl = {
        "no_l1": RunSpec("EgoDistill w/o L1", "egodistill", n, st, True, {"use_l1": False}),
        "no_kd": RunSpec("EgoDistill w/o KD", "egodistill", n, st, True, {"use_kd": False}),
        "no_gt": RunSpec("EgoDistill w/o GT", "egodistill", n, st, True, {"use_gt": False}),
        "no_pretrain": RunSpec("EgoDistill w/o pretraining", "egodistill", n, st, False),
        "no_pretrain_l1": RunSpec(
            "EgoDistill w/o pretrain-L1", "egodistill", n, st, True, {}, {"use_l1": False}
        ),
        "no_pretrain_nce": RunSpec(
            "EgoDistill w/o pretrain-NCE", "egodistill", n, st, True, {}, {"use_nce": False}
        ),
    }
    runs += [abl[a] for a in cfg.ablations]
    for k in cfg.frames:
        if k != n:
            runs += [RunSpec(f"VisOnly-Distill N={k}", "visonly_distill", k, st, False),
                     RunSpec(f"EgoDistill N={k}", "egodistill", k, st, True)]  # fmt: skip
    runs += [RunSpec(f"EgoDistill {s}", "egodistill", n, s, True) for s in cfg.strategies if s != st]
    return runs


def teacher_efficiency(
    cfg: ExperimentConfig, teacher_model: str | None
) -> tuple[str, dict[str, float]] | None:
    import torch

    from egodistill.evaluation.efficiency import count_macs, count_params, cpu_latency
    from egodistill.models.teachers import build_teacher, teacher_input_spec
    from egodistill.training import export

    d = Path(cfg.teacher_dir) if cfg.teacher_dir else (
        Path(cfg.workspace).absolute() / "checkpoints" / "teachers" / cfg.data.dataset / (teacher_model or "")
    )  # fmt: skip
    if not (d / export.CONFIG_FILE).is_file():
        return None
    tcfg = export.read_config(d)
    model = build_teacher(tcfg).eval()
    spec = teacher_input_spec(tcfg)
    x = torch.rand(1, 3, spec.num_frames, spec.crop_size, spec.crop_size)
    eff = {"gmacs": count_macs(model, (x,)), "params": float(count_params(model)),
           "cpu_latency_sec": cpu_latency(model, (x,), batch=cfg.latency_batch, warmup=1, repeats=2)}  # fmt: skip
    # the teacher's own per-segment top-1 (from its export), for the accuracy-vs-GMACs plot
    top1 = (export.read_info(d).get("metrics") or {}).get("val_segment_top1")
    eff["top1"] = float(top1) if top1 is not None else float("nan")
    return f"Teacher {tcfg.name} {spec.num_frames}x{spec.crop_size}px", eff


@dataclass
class ExperimentOutcome:
    results: list[dict[str, Any]]
    efficiency: list[dict[str, Any]]
    per_class: list[dict[str, Any]]
    report_dir: str
    run_id: str | None
    outcomes: list[StudentOutcome]
    elapsed_sec: float

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
        return out


def run_experiment(cfg: ExperimentConfig) -> ExperimentOutcome:
    """Every run of :func:`experiment_runs` (pretrain where needed, then distill), then the report."""
    from egodistill.evaluation.report import efficiency_rows, write_report
    from egodistill.evaluation.segments import per_class_gain

    t0 = time.perf_counter()
    ws = Path(cfg.workspace).expanduser().absolute()
    runs = experiment_runs(cfg)
    common = {"workspace": cfg.workspace, "data": cfg.data, "trainer": cfg.trainer, "tracking": cfg.tracking,
              "seed": cfg.seed}  # fmt: skip
    outcomes: list[StudentOutcome] = []
    by_label: dict[str, StudentOutcome] = {}
    eff_cache: dict[tuple[str, int], dict[str, float]] = {}
    results: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    teacher_model = None
    with tracking.tracked_run(cfg.tracking, workspace=ws, job="experiment", params=cfg,
                              run_name=f"{cfg.data.dataset}/experiment") as parent:  # fmt: skip
        tracking.log_text(parent, dump_config(cfg), "config.yaml")
        for spec in runs:
            student = cfg.student.model_copy(update={"variant": spec.variant, "num_frames": spec.num_frames})
            data = cfg.data.model_copy(update={"num_frames": spec.num_frames, "strategy": spec.strategy})
            base = {**common, "data": data, "student": student, "name": spec.name}
            init = None
            pre = None
            if spec.pretrain:
                pcfg = PretrainJobConfig(**base, optim=cfg.pretrain_optim,
                                         loss=cfg.pretrain_loss.model_copy(update=spec.pretrain_loss))  # fmt: skip
                pre = run_pretrain(pcfg, parent_run=parent)
                init = pre.student_dir
            dcfg = DistillJobConfig(**base, optim=cfg.distill_optim, init_from=init, efficiency=False,
                                    loss=cfg.distill_loss.model_copy(update=spec.distill_loss))  # fmt: skip
            out = run_distill(dcfg, parent_run=parent)
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
            m = out.metrics
            row = {"model": spec.label, "variant": spec.variant, "N": spec.num_frames, "frames": spec.strategy,
                   "pretrained": spec.pretrain, "segment top-1": round(out.segment_top1, 4),
                   "clip top-1": round(out.segments.clip_top1, 4) if out.segments else float("nan"),
                   "segments": len(out.segments.label) if out.segments else 0,
                   "GMACs": round(out.efficiency["gmacs"], 3), "epochs": m.get("epochs_done", 0),
                   "train loss": round(float(m.get("train_loss", float("nan"))), 4),
                   "time (s)": round(out.elapsed_sec + (pre.elapsed_sec if pre else 0.0), 1)}  # fmt: skip
            results.append(row)
            points.append({"label": spec.label, "gmacs": out.efficiency["gmacs"], "top1": out.segment_top1})
            tracking.log_metrics(parent, {f"top1/{spec.name}": out.segment_top1})
            print(f"[experiment] {spec.label}: per-segment top-1 {out.segment_top1:.3f} "
                  f"({time.perf_counter() - t0:.0f} s so far)", flush=True)  # fmt: skip
            teacher_model = teacher_model or _teacher_name(cfg)
        eff_entries = [(f"{v} (N={n})", e) for (v, n), e in eff_cache.items()]
        try:
            teacher = teacher_efficiency(cfg, teacher_model)
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
        report_dir = ws / "reports" / "students" / cfg.data.dataset
        write_report(report_dir, results=results, efficiency=efficiency_rows(eff_entries), per_class=per_class,
                     points=points, title=f"{cfg.data.dataset}: accuracy vs GMACs (students)", run=parent)  # fmt: skip
    return ExperimentOutcome(results, efficiency_rows(eff_entries), per_class, str(report_dir),
                             parent.run_id if parent else None, outcomes, time.perf_counter() - t0)  # fmt: skip


def _teacher_name(cfg: ExperimentConfig) -> str | None:
    try:
        root = cfg.data.features or str(Path(cfg.workspace).expanduser().absolute() / "features")
        return teacher_model_name(root, cfg.data.dataset, cfg.data.teacher_model)
    except (ConfigError, FileNotFoundError):
        return None


__all__ = [
    "PRESETS",
    "ExperimentConfig",
    "ExperimentOutcome",
    "RunSpec",
    "experiment_runs",
    "run_experiment",
    "teacher_efficiency",
    "DistillJobConfig",
    "DistillLoss",
    "OptimSettings",
    "PretrainJobConfig",
    "PretrainLoss",
    "StudentDataConfig",
    "StudentOutcome",
    "build_dense_clips",
    "ensure_dense_clips",
    "ensure_image_features",
    "evaluate_inputs",
    "prepare_inputs",
    "run_distill",
    "run_pretrain",
    "student_efficiency",
]
