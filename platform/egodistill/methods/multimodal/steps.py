"""The RGB-only student as a task of the epoch engine: KD from the multimodal ensemble, or labels alone.

``loss = w_kd · T²·KL(softmax(ens/T) ‖ softmax(s/T)) + w_gt · CE(s, y)`` (the reference's
``DistillationCriterion``; :func:`egodistill.losses.kd_loss` computes the KD term), where ``ens`` is
the weighted sum of the joined teachers' logits (:func:`.ensemble.ensemble_logits`). Variant
``visonly`` trains on CE alone (the label-trained baseline, same network). Evaluation: softmax per
dense clip averaged per segment (the engine's evaluator); the report re-evaluates with logits
averaged over views (:mod:`.evaluate`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from egodistill.losses import kd_loss
from egodistill.methods.multimodal.ensemble import ensemble_logits
from egodistill.models.config import StudentConfig
from egodistill.student.inputs import batch_frames
from egodistill.student.join import TEACHER_LOGITS
from egodistill.training.loop import EvalOutput, StepContext, StepOutput, run_epochs


def student_input(batch: dict[str, Any], strategy: str, num_frames: int, generator=None) -> dict[str, Any]:
    """``{"frame_features": (B, N, 512)}`` from the cached f_I pool (the student's only input)."""
    return {"frame_features": batch_frames(batch, strategy, num_frames, generator).float()}


class MultimodalStudentTask:
    """One student run (``visonly``: labels; ``visonly_distill``: the ensemble)."""

    def __init__(self, job: Any, student: StudentConfig) -> None:
        self.stage, self.job, self.student = "multimodal", job, student
        self.optim, self.seed = job.optim, job.seed
        self.shuffle_buffer = job.data.shuffle_buffer
        self.fail_once = job.failure("multimodal")
        self.num_classes = student.num_classes
        self.distill = student.variant != "visonly"

    @classmethod
    def from_loop_config(cls, config: dict[str, Any]) -> MultimodalStudentTask:
        from egodistill.methods.multimodal.config import MultimodalStudentConfig

        return cls(
            MultimodalStudentConfig.model_validate(config["job"]),
            StudentConfig.model_validate(config["student"]),
        )

    def build_model(self) -> torch.nn.Module:
        from egodistill.models.student import build_student

        model = build_student(self.student)
        model.image_encoder = None  # cached f_I features: the frozen encoder never runs on the worker
        return model

    def teacher_logits(self, batch: dict[str, Any]) -> torch.Tensor:
        """(B, K, C) logits of the job's teachers, in the config's order."""
        return torch.stack([batch[TEACHER_LOGITS + t].float() for t in self.job.teachers], dim=1)

    def loss(
        self, logits: torch.Tensor, y: torch.Tensor, teachers: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """The terms and the total (pure: the tests call it with hand-picked logits)."""
        ce = F.cross_entropy(logits, y)
        if not self.distill or teachers is None:
            return {"total": ce, "gt": ce}
        lw = self.job.loss
        target = ensemble_logits(teachers, lw.weighting, y, lw.weight_temperature, self.job.dataset_weights)
        kd = kd_loss(logits, target, temperature=lw.temperature)
        return {"total": lw.kd_weight * kd + lw.gt_weight * ce, "gt": ce, "kd": kd,
                "ensemble_top1": (target.argmax(1) == y).float().mean()}  # fmt: skip

    def step(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> StepOutput:
        out = model(
            **student_input(batch, self.job.data.strategy, self.student.num_frames, ctx.generator), imu=None
        )
        logits = out.logits.float()
        y = batch["label"].long()
        terms = self.loss(logits, y, self.teacher_logits(batch) if self.distill else None)
        b = float(len(y))
        stats = {k: float(v.detach()) * b for k, v in terms.items() if k != "total"}
        stats.update(
            {"loss": float(terms["total"].detach()) * b, "top1": float((logits.argmax(1) == y).float().sum())}
        )
        return StepOutput(terms["total"], stats, b)

    def evaluate_batch(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> EvalOutput:
        out = model(
            **student_input(batch, self.job.data.strategy, self.student.num_frames, ctx.generator), imu=None
        )
        probs = out.logits.float().softmax(1).double().cpu().numpy()
        return EvalOutput(batch["segment"].cpu().tolist(), probs, batch["label"].cpu().numpy())


def train_loop(config: dict[str, Any]) -> None:
    """What ``TorchTrainer`` runs on every worker."""
    run_epochs(config, MultimodalStudentTask.from_loop_config(config))


__all__ = ["MultimodalStudentTask", "student_input", "train_loop"]
