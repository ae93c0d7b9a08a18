"""f_I: the student's image encoder, an ImageNet ResNet-18 without its classifier (512-d per frame).

The seed paper keeps f_I frozen (finetuning it "leads to mode collapse", footnote 2), so by default:
parameters have ``requires_grad=False``, the module stays in eval mode even when a parent calls
``.train()`` (BatchNorm running statistics never move) and the forward runs under ``no_grad``. That makes
its features a pure function of the frame, which is what lets the feature job cache them once (a Ray Data
pass) and the student accept precomputed ``(B, N, 512)`` features instead of images.

Input: frames as float RGB ``(B, 3, H, W)`` (or ``(B, N, 3, H, W)`` via :meth:`ImageEncoder.encode_frames`),
224 x 224 in the paper, normalised with :func:`image_input_spec` (ImageNet mean/std).
"""

from __future__ import annotations

import logging

import torch
import torchvision.models as tvm
from torch import nn

from egodistill.models.config import IMAGENET_MEAN, IMAGENET_STD, InputSpec
from egodistill.models.weights import (
    fetch_torchvision_state_dict,
    load_state_dict_strict,
    read_checkpoint,
    warn_random_init,
    weights_kind,
)

log = logging.getLogger(__name__)

IMAGE_FEATURE_DIM = 512
IMAGE_WEIGHTS = tvm.ResNet18_Weights.IMAGENET1K_V1


def image_input_spec(size: int = 224) -> InputSpec:
    """The frames f_I expects: ``size`` x ``size`` RGB (paper: 224), ImageNet-normalised."""
    t = IMAGE_WEIGHTS.transforms()
    return InputSpec(
        num_frames=1,
        sample_rate=1,
        crop_size=size,
        resize_size=tuple(int(s) for s in t.resize_size) if size == 224 else (round(size * 8 / 7),),
        mean=tuple(t.mean) if t.mean else IMAGENET_MEAN,
        std=tuple(t.std) if t.std else IMAGENET_STD,
        layout="B,N,C,H,W (student frames) or B,C,H,W",
        source=f"{IMAGE_WEIGHTS} transforms; 224 px per the seed paper",
    )


class ImageEncoder(nn.Module):
    """ResNet-18 trunk (``fc`` replaced by identity): ``(B, 3, H, W) -> (B, 512)``."""

    def __init__(
        self,
        weights: str = "torchvision",
        frozen: bool = True,
        *,
        allow_download: bool = True,
        download_timeout_s: float = 30.0,
    ) -> None:
        super().__init__()
        net = tvm.resnet18(weights=None)
        kind = weights_kind(weights)
        if kind == "torchvision":
            state = fetch_torchvision_state_dict(
                IMAGE_WEIGHTS, allow_download=allow_download, timeout_s=download_timeout_s
            )
            load_state_dict_strict(net, state, f"{IMAGE_WEIGHTS} ({IMAGE_WEIGHTS.url})")
        elif kind == "path":
            # A torchvision ResNet-18 state dict (with or without its ImageNet fc) or our own encoder's.
            load_state_dict_strict(net, read_checkpoint(weights), weights, ignore_missing=("fc.",))
        else:
            warn_random_init("the student's image encoder f_I (ResNet-18)")
        net.fc = nn.Identity()
        self.net = net
        self.frozen = frozen
        self.feature_dim = IMAGE_FEATURE_DIM
        if frozen:
            self.net.requires_grad_(False)
            self.train(False)

    def train(self, mode: bool = True) -> ImageEncoder:
        """A frozen encoder stays in eval mode whatever the parent asks (BN statistics must not move)."""
        return super().train(mode and not self.frozen)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"f_I expects images (B, 3, H, W), got {tuple(images.shape)}")
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.net(images)

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Per-frame features ``(B, N, 512)`` from frames ``(B, N, 3, H, W)``."""
        if frames.dim() != 5 or frames.shape[2] != 3:
            raise ValueError(f"frames must be (B, N, 3, H, W), got {tuple(frames.shape)}")
        b, n = frames.shape[:2]
        return self(frames.reshape(b * n, *frames.shape[2:])).reshape(b, n, self.feature_dim)
