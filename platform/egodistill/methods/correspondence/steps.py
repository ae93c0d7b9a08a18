"""The correspondence SSL as a task of the epoch engine (:mod:`egodistill.training.loop`).

Each step: augment the decoded clips (the teacher's crop/colour augmentation, no flips), embed video and IMU,
and score this worker's rows against the *global* batch (:mod:`.loss`: the embeddings of every worker are
gathered with gradients). Rows whose clip or IMU window is unusable (``ok`` False) neither count nor compete.
Statistics: loss, both directions, in-batch top-1 (video->IMU, chance = 1 / global batch), ``logit_scale``
and ``logits_cols`` (the width of the logits matrix a worker saw: the global batch). No per-epoch
evaluation: the paper's evaluations run after training (:mod:`.evaluate`).

``config`` keys: ``job`` (CorrespondenceJobConfig as a dict), ``run_ref``, ``trainer`` (added by ``build_trainer``).
"""

from __future__ import annotations

from typing import Any

import torch

from egodistill.methods.correspondence.config import CorrespondenceJobConfig
from egodistill.methods.correspondence.encoders import CorrespondenceModel, build_imu_encoder
from egodistill.methods.correspondence.loss import binary_loss, contrastive_loss
from egodistill.teacher import classifiers
from egodistill.teacher.augment import model_input
from egodistill.training.loop import StepContext, StepOutput, run_epochs


def build_model(job: CorrespondenceJobConfig) -> CorrespondenceModel:
    """The two towers of a job config (video weights: the config's ``model.video.weights``)."""
    from egodistill.models.teachers import build_teacher

    m = job.model
    video = build_teacher(m.video)
    head = "net." + video.head_weight_key().rsplit(".", 1)[0] + "."
    for name, p in video.named_parameters():  # the zoo classifier is unused here (DDP: no grad-less params)
        if name.startswith(head):
            p.requires_grad_(False)
    model = CorrespondenceModel(video, build_imu_encoder(m.imu_encoder, m.n_fft, m.hop),
                                embed_dim=m.embed_dim, temperature=job.loss.temperature,
                                learn_temperature=job.loss.learn_temperature, freeze_video=job.freeze_video)  # fmt: skip
    model.bias.requires_grad_(job.loss.kind == "binary")  # DDP: no parameter without a gradient
    return model


class _Forward(torch.nn.Module):
    """The model with the temperature inside ``forward``, so DDP sees every trained parameter used there."""

    def __init__(self, model: CorrespondenceModel, max_logit_scale: float) -> None:
        super().__init__()
        self.model, self.max_scale = model, max_logit_scale

    def forward(self, clip, imu, hard_imu=None):
        v, m, h = self.model(clip, imu, hard_imu)
        return v, m, h, self.model.scale(self.max_scale), self.model.bias

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.train(mode)
        return self


def model_state(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's model state as a :class:`CorrespondenceModel` state dict."""
    return {k.removeprefix("model."): v for k, v in state.items()}


class CorrespondenceTask:
    stage = "ssl"
    num_classes = 0

    def __init__(self, job: CorrespondenceJobConfig) -> None:
        self.job = job
        self.optim = job.optim
        self.seed = job.seed
        self.shuffle_buffer = job.data.shuffle_buffer
        self.fail_once = job.fail_once
        self.spec = classifiers.input_spec(classifiers.teacher_spec(job.model.video))
        self.hard = job.data.hard_negative_offset_sec is not None

    def build_model(self) -> torch.nn.Module:
        return _Forward(build_model(self.job), self.job.loss.max_logit_scale)

    def step(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> StepOutput:
        ok = batch["ok"].bool()
        clip = model_input(
            batch["clip"], self.spec, train=True, cfg=self.job.augment, generator=ctx.generator
        )
        v, m, h, scale, bias = model(
            clip, batch["imu"].float(), batch["hard_imu"].float() if self.hard else None
        )
        if self.job.loss.kind == "binary":
            t = binary_loss(v, m, scale, bias, ok=ok)
        else:
            t = contrastive_loss(
                v, m, scale, ok=ok, hard_m=h, hard_ok=batch["hard_ok"].bool() if self.hard else None
            )
        n = float(ok.sum())
        stats = {"loss": float(t.total.detach()) * n, "v2m": float(t.v2m.detach()) * n,
                 "m2v": float(t.m2v.detach()) * n, "top1_v2m": float(t.top1_v2m.sum()),
                 "logit_scale": float(scale.detach()) * n, "logits_cols": float(t.logits.shape[1]) * n}  # fmt: skip
        return StepOutput(t.total, stats, n, {"pairs_skipped": float((~ok).sum())})


def train_loop(config: dict[str, Any]) -> None:
    """The function ``TorchTrainer`` runs on every worker."""
    run_epochs(config, CorrespondenceTask(CorrespondenceJobConfig.model_validate(config["job"])))


__all__ = ["CorrespondenceTask", "build_model", "model_state", "train_loop"]
