"""EgoDistill's jobs: stage 1 (``pretrain``) and stage 2 (``distill``) on the student floor's driver."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from egodistill import tracking
from egodistill.config import ConfigError
from egodistill.methods.egodistill.config import DistillJobConfig, PretrainJobConfig
from egodistill.models.config import VARIANTS, StudentConfig
from egodistill.student.driver import StageRun, StudentOutcome, run_stage
from egodistill.student.export import weights_path


def pretrain_stage() -> StageRun:
    from egodistill.methods.egodistill.steps import student_state, train_loop

    return StageRun("pretrain", train_loop, needs_teacher=True, evaluates=False, needs_boundary=True,
                    state_of=student_state)  # fmt: skip


def distill_stage(cfg: DistillJobConfig) -> StageRun:
    from egodistill.methods.egodistill.steps import train_loop

    init = weights_path(cfg.init_from) if cfg.init_from else None
    efficiency = (lambda s: student_efficiency(s, cfg.efficiency_size, cfg.latency_batch)) if cfg.efficiency else None
    return StageRun("distill", train_loop, needs_teacher=VARIANTS[cfg.student.variant].distill, evaluates=True,
                    init_state=init, efficiency=efficiency)  # fmt: skip


def run_pretrain(cfg: PretrainJobConfig, parent_run: tracking.RunRef | None = None) -> StudentOutcome:
    """Stage 1 on Ray Train; the outcome's ``student_dir`` is what stage 2 starts from."""
    if not VARIANTS[cfg.student.variant].uses_imu:
        raise ConfigError(f"variant {cfg.student.variant!r} has no IMU branch: nothing to pretrain")
    return run_stage(cfg, pretrain_stage(), parent_run)


def student_efficiency(scfg: StudentConfig, size: int, batch: int) -> dict[str, float]:
    """GMACs and params at N frames of ``size`` px + 422x6 IMU, CPU latency per clip at ``batch``."""
    import torch

    from egodistill.evaluation.efficiency import measure_efficiency
    from egodistill.models.student import build_student
    from egodistill.models.weights import random_init_expected

    with random_init_expected():  # only shapes and cost are measured
        model = build_student(scfg.model_copy(update={"image_weights": "none"}))
    inputs: dict[str, Any] = {"frames": torch.rand(1, scfg.num_frames, 3, size, size)}
    if VARIANTS[scfg.variant].uses_imu:
        inputs["imu"] = torch.randn(1, scfg.imu_length, scfg.imu_channels)
    return measure_efficiency(model, inputs, batch)


def run_distill(
    cfg: DistillJobConfig, parent_run: tracking.RunRef | None = None, train_callbacks: Sequence[Any] = ()
) -> StudentOutcome:
    """Stage 2 on Ray Train with per-segment evaluation, the student's export and MLflow logging.

    ``train_callbacks`` go to the Ray Train run (a sweep trial passes Tune's ``TuneReportCallback``).
    """
    if cfg.init_from and not Path(weights_path(cfg.init_from)).is_file():
        raise FileNotFoundError(f"stage-1 student {weights_path(cfg.init_from)} does not exist (run `egodistill pretrain`)")
    return run_stage(cfg, distill_stage(cfg), parent_run, train_callbacks)


__all__ = ["distill_stage", "pretrain_stage", "run_distill", "run_pretrain", "student_efficiency"]
