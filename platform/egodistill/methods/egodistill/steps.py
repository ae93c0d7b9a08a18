"""EgoDistill's two stages as tasks of the epoch engine (:mod:`egodistill.training.loop`).

* Stage 1 (§3.4, eq. 7): f_M, h and Π learn from ``L_pretrain = w_nce·L_NCE(h(z_I^0, z_I^T), f_M(M)) +
  w_l1·L_1(Π(z_I, z_M), z_V)`` with in-batch negatives (each worker's batch; τ' = 0.1), the span's
  first and last frame from the pool, the N selected frames for Π. The classifier gets no gradient
  (DDP runs with ``find_unused_parameters``); ``train_nce_top1`` is the in-batch retrieval accuracy
  of ẑ_M against z_M (chance = 1 / batch).
* Stage 2 (§3.3, eq. 3-6): ``L = α·L_KD(τ) + (1−α)·L_GT + β·L_1`` for the distilling variants (with the
  Table 1 ablation switches), ``L_GT`` alone for VisOnly and VisIMU, all through
  :func:`egodistill.losses.egodistill_loss`. Evaluation: softmax per dense clip, averaged per segment.

``config`` keys (built by :mod:`egodistill.student.driver`): ``job`` (the validated job config as a
dict), ``stage``, ``student`` (StudentConfig as a dict), ``init_state`` (stage-1 state dict path or None),
``from_frames``, ``boundary`` (pool indices of the first and last frame), ``has_val``, ``run_ref``, ``trainer``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from egodistill.losses import egodistill_loss, pretrain_loss
from egodistill.models.config import VARIANTS, StudentConfig
from egodistill.student.inputs import batch_frames
from egodistill.training import ray_wiring
from egodistill.training.loop import EvalOutput, StepContext, StepOutput, run_epochs


def image_input(batch: dict[str, torch.Tensor], strategy: str, num_frames: int, from_frames: bool, generator=None):
    """``{"frame_features": (B, N, 512)}`` or ``{"frames": (B, N, 3, H, W)}`` for the student."""
    picked = batch_frames(batch, strategy, num_frames, generator)
    if from_frames:
        from egodistill.features.image_cache import to_input

        return {"frames": to_input(picked)}
    return {"frame_features": picked.float()}


def boundary_input(batch: dict[str, torch.Tensor], boundary: list[int], from_frames: bool):
    """The first and last frame of the span: ``boundary_features`` (B, 2, 512) or ``boundary_frames``."""
    ends = batch["pool"][:, boundary]
    if from_frames:
        from egodistill.features.image_cache import to_input

        return {"boundary_frames": to_input(ends)}
    return {"boundary_features": ends.float()}


class PretrainView(torch.nn.Module):
    """The student with ``pretrain_forward`` as its ``forward``, so DDP sees (and all-reduces) the call.

    Its state dict is the student's with a ``student.`` prefix (:func:`student_state` strips it).
    """

    def __init__(self, student: torch.nn.Module) -> None:
        super().__init__()
        self.student = student

    def forward(self, **kwargs):
        return self.student.pretrain_forward(**kwargs)


def student_state(state: dict[str, Any]) -> dict[str, Any]:
    """A stage-1 checkpoint's model state as a plain student state dict."""
    prefix = "student."
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state.items()}


class EgoDistillTask:
    """Stage 1 (``pretrain``) or stage 2 (``distill``) of one student variant."""

    def __init__(self, stage: str, job: Any, student: StudentConfig, *, from_frames: bool = False,
                 boundary: list[int] | None = None, init_state: str | None = None) -> None:  # fmt: skip
        self.stage, self.job, self.student = stage, job, student
        self.optim = job.optim
        self.seed = job.seed
        self.shuffle_buffer = job.data.shuffle_buffer
        self.fail_once = job.failure(stage)
        self.num_classes = student.num_classes
        self.from_frames = from_frames
        self.boundary = list(boundary or [])
        self.init_state = init_state
        self.distill = VARIANTS[student.variant].distill

    @classmethod
    def from_loop_config(cls, config: dict[str, Any]) -> EgoDistillTask:
        """The task a worker builds from the driver's (picklable) loop config."""
        from egodistill.methods.egodistill.config import DistillJobConfig, PretrainJobConfig

        stage = config["stage"]
        job = (PretrainJobConfig if stage == "pretrain" else DistillJobConfig).model_validate(config["job"])
        return cls(stage, job, StudentConfig.model_validate(config["student"]),
                   from_frames=bool(config.get("from_frames")), boundary=config.get("boundary"),
                   init_state=config.get("init_state"))  # fmt: skip

    def build_model(self) -> torch.nn.Module:
        from egodistill.models.student import build_student

        model = build_student(self.student)
        if self.init_state:
            model.load_state_dict(torch.load(self.init_state, map_location="cpu", weights_only=True))
        if not self.from_frames:
            # cached f_I features: the frozen encoder is never called, so keep its 11 M parameters out of
            # the worker, the optimizer and every epoch's checkpoint (the driver re-attaches it)
            model.image_encoder = None
        return PretrainView(model) if self.stage == "pretrain" else model

    def _inputs(self, batch: dict[str, Any], generator) -> dict[str, Any]:
        return image_input(batch, self.job.data.strategy, self.student.num_frames, self.from_frames, generator)

    def step(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> StepOutput:
        return (self.pretrain_step if self.stage == "pretrain" else self.distill_step)(model, batch, ctx)

    def distill_step(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> StepOutput:
        uses_imu = ray_wiring.unwrap(model).uses_imu
        out = model(**self._inputs(batch, ctx.generator), imu=batch["imu"].float() if uses_imu else None)
        logits = out.logits.float()
        y = batch["label"].long()
        loss = self.job.loss
        teacher = {"teacher_logits": batch["teacher_logits"].float(), "student_feature": out.fused.float(),
                   "teacher_feature": batch["teacher_feature"].float()} if self.distill else {}  # fmt: skip
        terms = egodistill_loss(logits, y, **teacher, alpha=loss.alpha, beta=loss.beta,
                                temperature=float(loss.temperature or 1.0), distill=self.distill,
                                use_kd=loss.use_kd, use_gt=loss.use_gt, use_l1=loss.use_l1)  # fmt: skip
        b = float(len(y))
        stats = {"loss": float(terms.total.detach()) * b, "gt": float(terms.gt.detach()) * b,
                 "top1": float((logits.argmax(1) == y).float().sum())}  # fmt: skip
        if self.distill:
            stats.update({"kd": float(terms.kd.detach()) * b, "l1": float(terms.l1.detach()) * b})
        return StepOutput(terms.total, stats, b)

    def pretrain_step(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> StepOutput:
        ends = boundary_input(batch, self.boundary, self.from_frames)
        o = model(imu=batch["imu"].float(), **ends, **self._inputs(batch, ctx.generator))  # through DDP
        loss = self.job.loss
        terms = pretrain_loss(
            o.predicted_imu, o.imu_feature, o.fused, batch["teacher_feature"].float(),
            temperature=loss.nce_temperature, nce_weight=loss.nce_weight if loss.use_nce else 0.0,
            l1_weight=loss.l1_weight if loss.use_l1 else 0.0,
        )  # fmt: skip
        with torch.no_grad():
            sim = F.normalize(o.predicted_imu, dim=1) @ F.normalize(o.imu_feature, dim=1).t()
            top1 = (sim.argmax(1) == torch.arange(len(sim), device=sim.device)).float().mean()
        b = float(len(batch["label"]))
        stats = {"loss": float(terms.total.detach()) * b, "nce": float(terms.nce.detach()) * b,
                 "l1": float(terms.l1.detach()) * b, "nce_top1": float(top1) * b}  # fmt: skip
        return StepOutput(terms.total, stats, b)

    def evaluate_batch(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> EvalOutput:
        out = model(**self._inputs(batch, ctx.generator), imu=batch["imu"].float() if model.uses_imu else None)
        probs = out.logits.float().softmax(1).double().cpu().numpy()
        return EvalOutput(batch["segment"].cpu().tolist(), probs, batch["label"].cpu().numpy())


def train_loop(config: dict[str, Any]) -> None:
    """The function ``TorchTrainer`` runs on every worker (either stage)."""
    run_epochs(config, EgoDistillTask.from_loop_config(config))


__all__ = ["EgoDistillTask", "PretrainView", "boundary_input", "image_input", "student_state", "train_loop"]
