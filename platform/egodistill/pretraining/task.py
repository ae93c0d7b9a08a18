"""The stand-in f_I pretraining as a task of the epoch engine (:mod:`egodistill.training.loop`).

The network is exactly the students' f_I trunk (torchvision ResNet-18, ``fc`` removed, ImageNet
normalisation) with two linear heads that are dropped on export: visible objects (multi-label BCE)
and the object at the fixation point (cross-entropy). The engine's per-epoch evaluation reports the
fixation head's top-1 on the held-out worlds (``segment`` = the row).

``config`` keys: ``job`` (PretrainImageConfig as a dict), ``run_ref``, ``has_val``, ``trainer``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

from egodistill.models.image import IMAGE_FEATURE_DIM, image_input_spec
from egodistill.pretraining.config import AugmentSettings, PretrainImageConfig
from egodistill.pretraining.pool import CENTER_CLASSES, OBJECT_LABELS
from egodistill.training.loop import EvalOutput, StepContext, StepOutput, run_epochs


class StandInNet(nn.Module):
    """ResNet-18 trunk (``net``, what f_I loads) + the two pretraining heads (dropped on export)."""

    def __init__(self) -> None:
        super().__init__()
        net = tvm.resnet18(weights=None)
        net.fc = nn.Identity()
        self.net = net
        self.visible_head = nn.Linear(IMAGE_FEATURE_DIM, len(OBJECT_LABELS))
        self.center_head = nn.Linear(IMAGE_FEATURE_DIM, len(CENTER_CLASSES))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.net(x)
        return self.visible_head(z), self.center_head(z)

    def trunk_state(self) -> dict[str, torch.Tensor]:
        """The trunk's state dict as a bare torchvision ResNet-18 without ``fc.`` (what f_I loads)."""
        return {
            k: v.detach().cpu().clone() for k, v in self.net.state_dict().items() if not k.startswith("fc.")
        }


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) with f_I's ImageNet mean/std (as the feature cache)."""
    x = images.permute(0, 3, 1, 2).float().div_(255.0)
    return image_input_spec().normalize(x, channel_dim=1)


def augment(x: torch.Tensor, cfg: AugmentSettings, generator: torch.Generator) -> torch.Tensor:
    """Per-sample random resized crop + flip (one affine grid) and brightness/contrast jitter."""
    b = x.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, generator=generator).to(x.device)

    scale = uniform(cfg.min_scale, 1.0)
    tx, ty = uniform(-1, 1) * (1 - scale), uniform(-1, 1) * (1 - scale)
    sx = scale * (torch.where(uniform(0, 1) < 0.5, -1.0, 1.0) if cfg.flip else 1.0)
    theta = torch.zeros(b, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, tx, scale, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    bright = uniform(-cfg.brightness, cfg.brightness).view(b, 1, 1, 1)
    contrast = uniform(1 - cfg.contrast, 1 + cfg.contrast).view(b, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * contrast + mean + bright / 0.226  # brightness in [0, 1] units, normalised


class ImagePretrainTask:
    """Train :class:`StandInNet` on the pool's visible-object and fixation labels."""

    stage = "pretrain-image"

    def __init__(self, job: PretrainImageConfig) -> None:
        self.job = job
        self.optim = job.optim
        self.seed = job.seed
        self.shuffle_buffer = 256
        self.fail_once = job.fail_once
        self.num_classes = len(CENTER_CLASSES)

    def build_model(self) -> nn.Module:
        return StandInNet()

    def step(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> StepOutput:
        x = normalise(batch["image"])
        if self.job.augment.enabled:
            x = augment(x, self.job.augment, ctx.generator)
        vis_logits, centre_logits = model(x)
        visible, centre = batch["visible"].float(), batch["center"].long()
        bce = F.binary_cross_entropy_with_logits(vis_logits.float(), visible)
        ce = F.cross_entropy(centre_logits.float(), centre)
        loss = self.job.visible_weight * bce + self.job.center_weight * ce
        n = float(len(centre))
        with torch.no_grad():
            vis_acc = ((vis_logits > 0).float() == visible).float().mean(1).sum()
            top1 = (centre_logits.argmax(1) == centre).float().sum()
        stats = {"loss": float(loss) * n, "visible_bce": float(bce) * n, "center_ce": float(ce) * n,
                 "visible_acc": float(vis_acc), "center_top1": float(top1)}  # fmt: skip
        return StepOutput(loss, stats, n)

    def evaluate_batch(self, model: nn.Module, batch: dict[str, Any], ctx: StepContext) -> EvalOutput:
        _, logits = model(normalise(batch["image"]))
        y = batch["center"].long()
        loss = float(F.cross_entropy(logits.float(), y, reduction="sum"))
        seg = batch["row"].long().cpu().tolist()
        return EvalOutput(seg, logits.float().softmax(1).double().cpu().numpy(), y.cpu().numpy(), loss)


def train_loop(config: dict[str, Any]) -> None:
    """The function ``TorchTrainer`` runs on every worker."""
    job = PretrainImageConfig.model_validate(config["job"])
    run_epochs(config, ImagePretrainTask(job))


__all__ = ["ImagePretrainTask", "StandInNet", "augment", "normalise", "train_loop"]
