"""One optimizer/schedule config for every training job: AdamW, stepped per epoch.

Two schedules cover the recipes here: ``multistep`` (×``gamma`` at ``milestones``: the EgoDistill
student's, seed 000 supplement C) and ``cosine`` (linear warm-up, then cosine to ``min_lr_ratio``:
the teacher's fine-tuning). ``epochs``/``milestones`` may be ``None`` in a method's config until the
method resolves its paper defaults (once, in its typed config); the engine only accepts resolved ones.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from egodistill.config import StrictConfig


class OptimSettings(StrictConfig):
    """AdamW + a per-epoch schedule; ``batch_size`` is global (split over workers)."""

    epochs: int | None = Field(None, ge=1, description="None: the method's paper default")
    batch_size: int = Field(64, ge=1, description="global batch (split over workers)")
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.01, ge=0, description="AdamW's default")
    schedule: Literal["multistep", "cosine"] = "multistep"
    milestones: list[int] | None = Field(
        None, description="multistep: lr ×gamma at these epochs; None: the method's paper default"
    )
    gamma: float = Field(0.1, gt=0)
    warmup_epochs: int = Field(0, ge=0, description="cosine: linear warm-up epochs")
    min_lr_ratio: float = Field(0.01, ge=0, le=1, description="cosine: final lr = lr * min_lr_ratio")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="cross-entropy label smoothing")
    eval_every: int = Field(1, ge=1, description="evaluate every N epochs (and always after the last)")
    eval_batch_size: int = Field(64, ge=1)

    def resolved(self) -> OptimSettings:
        """Self, checked to have every field the engine needs (paper defaults already applied)."""
        if self.epochs is None or (self.schedule == "multistep" and self.milestones is None):
            raise ValueError("optim.epochs / optim.milestones must be resolved before training")
        return self


def cosine_factor(epoch: int, epochs: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up over ``warmup`` epochs, then cosine from 1 to ``min_ratio``."""
    if warmup and epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    span = max(1, epochs - warmup)
    progress = min(1.0, (epoch - warmup) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(params: Any, optim: OptimSettings) -> tuple[Any, Any]:
    """(AdamW, its per-epoch scheduler) from the settings."""
    import torch

    o = optim.resolved()
    optimizer = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.schedule == "cosine":
        epochs = int(o.epochs or 1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda e: cosine_factor(e, epochs, o.warmup_epochs, o.min_lr_ratio)
        )
    else:
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=o.milestones, gamma=o.gamma)
    return optimizer, scheduler


__all__ = ["OptimSettings", "build_optimizer", "cosine_factor"]
