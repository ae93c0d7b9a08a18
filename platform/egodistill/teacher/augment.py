"""From decoded uint8 clips to normalised model input, with training augmentation (torch, any device).

Ray Data delivers clips as ``(B, T, S, S, 3)`` uint8 (square frames, see :mod:`.dense`); the model
wants ``(B, 3, T, crop, crop)`` float, normalised with its :class:`~egodistill.models.config.InputSpec`.

* evaluation: centre ``crop`` x ``crop`` (torchvision's resize-then-centre-crop inference transform);
* training: per clip, a random resized crop (area fraction ``scale``, aspect ``ratio``) resized to
  ``crop`` x ``crop``, then colour jitter (brightness, contrast, saturation); the same crop and
  colour change apply to every frame of a clip, so motion between frames is untouched.

There is deliberately no horizontal flip (see :class:`~egodistill.teacher.config.AugmentConfig`):
it would turn ``turn-left`` into ``turn-right``. Temporal jitter happens earlier, when the clip centre
is drawn (:func:`~egodistill.teacher.dense.sample_centre`).

Running on the training device keeps the CPUs for decoding when a GPU is present.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from egodistill.models.config import InputSpec
from egodistill.teacher.config import AugmentConfig

_GREY = (0.299, 0.587, 0.114)


def to_unit_float(clips: torch.Tensor) -> torch.Tensor:
    """``(B, T, H, W, 3)`` uint8 -> ``(B, 3, T, H, W)`` float32 in [0, 1]."""
    if clips.dim() != 5 or clips.shape[-1] != 3:
        raise ValueError(f"expected clips (B, T, H, W, 3), got {tuple(clips.shape)}")
    return clips.permute(0, 4, 1, 2, 3).float().div_(255.0)


def centre_crop(x: torch.Tensor, crop: int) -> torch.Tensor:
    """Centre ``crop`` x ``crop`` of ``(..., H, W)``."""
    h, w = x.shape[-2:]
    if crop > min(h, w):
        raise ValueError(f"crop {crop} does not fit frames of {h}x{w}")
    y0, x0 = (h - crop) // 2, (w - crop) // 2
    return x[..., y0 : y0 + crop, x0 : x0 + crop]


def _crop_box(h: int, w: int, cfg: AugmentConfig, g: torch.Generator) -> tuple[int, int, int, int]:
    """(y0, x0, ch, cw) of a random resized crop, like torchvision's RandomResizedCrop.get_params."""
    area = h * w
    log_lo, log_hi = math.log(cfg.ratio[0]), math.log(cfg.ratio[1])
    for _ in range(10):
        target = area * float(torch.empty(1).uniform_(cfg.scale[0], cfg.scale[1], generator=g))
        aspect = math.exp(float(torch.empty(1).uniform_(log_lo, log_hi, generator=g)))
        cw = round(math.sqrt(target * aspect))
        ch = round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            y0 = int(torch.randint(0, h - ch + 1, (1,), generator=g))
            x0 = int(torch.randint(0, w - cw + 1, (1,), generator=g))
            return y0, x0, ch, cw
    side = min(h, w)  # fallback: the central square
    return (h - side) // 2, (w - side) // 2, side, side


def _colour(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Colour jitter of one clip ``(3, T, H, W)`` in [0, 1], same factors for all frames."""

    def factor(strength: float) -> float:
        return float(torch.empty(1).uniform_(1 - strength, 1 + strength, generator=g)) if strength else 1.0

    x = x * factor(cfg.brightness)
    weights = torch.tensor(_GREY, device=x.device, dtype=x.dtype).view(3, 1, 1, 1)
    grey = (x * weights).sum(0, keepdim=True)
    c = factor(cfg.contrast)
    x = (x - grey.mean()) * c + grey.mean()
    s = factor(cfg.saturation)
    grey = (x * weights).sum(0, keepdim=True)
    x = (x - grey) * s + grey
    return x.clamp_(0.0, 1.0)


def augment(x: torch.Tensor, crop: int, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Random resized crop + colour jitter per clip: ``(B, 3, T, H, W)`` -> ``(B, 3, T, crop, crop)``."""
    b, _, t, h, w = x.shape
    out = torch.empty((b, 3, t, crop, crop), device=x.device, dtype=x.dtype)
    for i in range(b):
        y0, x0, ch, cw = _crop_box(h, w, cfg, g)
        patch = x[i, :, :, y0 : y0 + ch, x0 : x0 + cw].transpose(0, 1)  # (T, 3, ch, cw)
        patch = F.interpolate(patch, size=(crop, crop), mode="bilinear", align_corners=False, antialias=True)
        out[i] = _colour(patch.transpose(0, 1), cfg, g)
    return out


def model_input(
    clips: torch.Tensor,
    spec: InputSpec,
    *,
    train: bool = False,
    cfg: AugmentConfig | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """uint8 clips ``(B, T, S, S, 3)`` -> normalised ``(B, 3, T, crop, crop)`` (augmented when ``train``)."""
    x = to_unit_float(clips)
    cfg = cfg or AugmentConfig()
    if train and cfg.enabled:
        g = generator or torch.Generator().manual_seed(0)
        x = augment(x, spec.crop_size, cfg, g)
    else:
        x = centre_crop(x, spec.crop_size)
    return spec.normalize(x, channel_dim=1)


__all__ = ["augment", "centre_crop", "model_input", "to_unit_float"]
