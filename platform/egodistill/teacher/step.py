"""The teacher as a task of the epoch engine (:mod:`egodistill.training.loop`): model, step, evaluation.

Each step: augment the decoded dense clips on the device (fresh temporal jitter comes from Ray Data),
cross-entropy (optionally label-smoothed). Rows that failed to decode (``ok`` False) stay in the batch
with zero weight and are counted in ``train_clips_failed``. Evaluation: the centre crop of every dense
clip, softmax averaged per segment (``segment`` = the evaluation row's index).

``config`` keys: ``job`` (TeacherJobConfig as a dict), ``model`` (a :mod:`.classifiers` spec),
``num_segments``, ``has_val``, ``run_ref``, ``trainer`` (added by ``build_trainer``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from egodistill.teacher import classifiers
from egodistill.teacher.augment import model_input
from egodistill.teacher.config import TeacherJobConfig
from egodistill.training.loop import EvalOutput, StepContext, StepOutput, run_epochs


class TeacherTask:
    """Train a :mod:`.classifiers` model (teacher or single-frame baseline) on dense clips."""

    stage = "teacher"

    def __init__(self, job: TeacherJobConfig, model_spec: dict[str, Any]) -> None:
        self.job = job
        self.model_spec = model_spec
        self.optim = job.optim
        self.seed = job.seed
        self.shuffle_buffer = job.data.shuffle_buffer
        self.fail_once = job.fail_once
        self.spec = classifiers.input_spec(model_spec)
        self.num_classes = int(model_spec["num_classes"]) if "num_classes" in model_spec else 0

    def build_model(self) -> torch.nn.Module:
        model = classifiers.build(self.model_spec)
        self.num_classes = int(model.num_classes)
        return model

    def step(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> StepOutput:
        ok = batch["ok"].bool()
        x = model_input(batch["clip"], self.spec, train=True, cfg=self.job.augment, generator=ctx.generator)
        y = batch["label"].long()
        logits = classifiers.logits_of(model(x)).float()
        per_clip = F.cross_entropy(logits, y.clamp(min=0), reduction="none", label_smoothing=self.optim.label_smoothing)
        weight = ok.to(per_clip.dtype)
        loss = (per_clip * weight).sum() / weight.sum().clamp(min=1.0)
        stats = {"loss": float((per_clip.detach() * weight).sum()), "top1": float(((logits.argmax(1) == y) & ok).sum())}
        return StepOutput(loss, stats, float(ok.sum()), {"clips_failed": float((~ok).sum())})

    def evaluate_batch(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> EvalOutput:
        ok = batch["ok"].bool()
        failed = int((~ok).sum())
        if not bool(ok.any()):
            return EvalOutput([], torch.zeros(0, 0).numpy(), torch.zeros(0).numpy(), 0.0, failed)
        x = model_input(batch["clip"][ok], self.spec, train=False)
        y = batch["label"][ok].long()
        logits = classifiers.logits_of(model(x)).float()
        loss = float(F.cross_entropy(logits, y, reduction="sum"))
        seg = batch["segment"][ok].long().cpu().tolist()
        return EvalOutput(seg, logits.softmax(1).double().cpu().numpy(), y.cpu().numpy(), loss, failed)


def train_loop(config: dict[str, Any]) -> None:
    """The function ``TorchTrainer`` runs on every worker."""
    job = TeacherJobConfig.model_validate(config["job"])
    run_epochs(config, TeacherTask(job, config["model"]))


__all__ = ["TeacherTask", "train_loop"]
