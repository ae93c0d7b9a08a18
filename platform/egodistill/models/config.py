"""Model configs (teacher zoo, EgoDistill student), the student variants and input specs.

Configs are :class:`~egodistill.config.StrictConfig` models whose defaults are the seed paper's values
(EgoDistill, Tan et al.: section 4 "Implementation details" and supplement C). Keeping them apart from
the modules lets jobs validate a YAML file without importing torch.

``weights`` fields take one of three values, the same rule everywhere:

* ``"none"``        random initialisation (the student's image encoder then warns loudly);
* ``"torchvision"`` the torchvision weights enum (Kinetics-400 for teachers, ``IMAGENET1K_V1`` for the
  student's ResNet-18), read from torch's hub cache or downloaded; when that fails the build raises
  :class:`~egodistill.models.weights.WeightsUnavailableError` instead of continuing with random weights;
* anything else     a path to a local checkpoint (a state dict), loaded with ``weights_only=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from egodistill.config import StrictConfig

TeacherName = Literal["mvit_v2_s", "r2plus1d_18", "r3d_18", "s3d", "swin3d_t", "tiny3d"]
Variant = Literal["egodistill", "visimu", "visonly", "visonly_distill"]

#: Per-channel statistics of the Kinetics-400 training set, used by torchvision's video ResNets and S3D.
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
#: ImageNet statistics (torchvision's ResNet-18 ``IMAGENET1K_V1`` transforms).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_weights(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError('weights must be "none", "torchvision" or a checkpoint path, got an empty string')
    return value


class TeacherConfig(StrictConfig):
    """A teacher video model Ω from the zoo (see :mod:`egodistill.models.teachers`).

    ``num_frames``/``sample_rate``/``crop_size`` override the model's input spec; ``None`` keeps the
    default (seed paper: 16 frames at sample rate 4; crop size from torchvision's weights transforms).
    """

    name: TeacherName = "mvit_v2_s"
    num_classes: int = Field(94, gt=0, description="dataset classes C (Ego4D: 94, EPIC-Kitchens: 62)")
    weights: str = Field("torchvision", description='"none" | "torchvision" | path to a local checkpoint')
    num_frames: int | None = Field(None, gt=0)
    sample_rate: int | None = Field(None, gt=0)
    crop_size: int | None = Field(None, gt=0)
    tiny_width: int = Field(32, gt=0, description="tiny3d only: channels of the first conv (feature = 8x)")
    allow_download: bool = Field(True, description="may fetch torchvision weights missing from the cache")
    download_timeout_s: float = Field(30.0, gt=0, description="socket timeout for that download")

    @field_validator("weights")
    @classmethod
    def _weights_value(cls, v: str) -> str:
        return _check_weights(v)


class StudentConfig(StrictConfig):
    """The EgoDistill student Φ and its baseline variants (seed paper section 3.3 and supplement C)."""

    variant: Variant = "egodistill"
    num_classes: int = Field(94, gt=0)
    num_frames: int = Field(1, gt=0, description="N sparse frames per clip (paper: 1 to 4)")
    teacher_feature_dim: int = Field(768, gt=0, description="output of Π = teacher feature dim D")
    image_weights: str = Field("torchvision", description='ResNet-18: "none" | "torchvision" | path')
    freeze_image_encoder: bool = Field(True, description="paper: frozen, finetuning collapses")
    imu_channels: int = Field(6, gt=0, description="accelerometer xyz then gyroscope xyz")
    imu_length: int = Field(422, gt=0, description="IMU samples per clip (~2 s at 198 Hz)")
    imu_feature_dim: int = Field(128, gt=0, description="f_M output (1x1 conv width, then mean over time)")
    imu_dropout: float = Field(0.1, ge=0.0, lt=1.0)
    imu_center: bool = Field(True, description="subtract each clip's per-channel mean (supplement C)")
    fusion_hidden: int = Field(1024, gt=0)
    gru_hidden: int = Field(512, gt=0, description="frame aggregator for N > 1")
    predictor_hidden: int = Field(1024, gt=0, description="h: (z_I^0, z_I^T) -> z_M estimate")
    allow_download: bool = True
    download_timeout_s: float = Field(30.0, gt=0)

    @field_validator("image_weights")
    @classmethod
    def _weights_value(cls, v: str) -> str:
        return _check_weights(v)


@dataclass(frozen=True)
class VariantSpec:
    """What a student variant is made of and how it is trained (seed paper section 4.2)."""

    uses_imu: bool
    distill: bool
    description: str


VARIANTS: dict[str, VariantSpec] = {
    "visonly": VariantSpec(False, False, "image only, trained with L_GT (baseline)"),
    "visonly_distill": VariantSpec(False, True, "image only, trained with the distillation loss (eq. 6)"),
    "visimu": VariantSpec(True, False, "image + IMU, trained with L_GT only"),
    "egodistill": VariantSpec(True, True, "image + IMU, IMU pretraining (eq. 7) + distillation (eq. 6)"),
}


@dataclass(frozen=True)
class InputSpec:
    """What a model expects, so the data pipeline can prepare it.

    Values are float32 RGB in [0, 1] *before* normalisation; the model input is
    ``(x - mean) / std`` per channel (see :meth:`normalize`). ``resize_size`` is torchvision's
    inference resize (one number = shorter side; two = (H, W)) applied before the centre crop.
    """

    num_frames: int
    sample_rate: int
    crop_size: int
    resize_size: tuple[int, ...]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layout: str
    exact_size: bool = False
    source: str = ""

    def normalize(self, x, channel_dim: int):
        """Return ``(x - mean) / std`` with the 3 channels on ``channel_dim``; ``x`` is a float tensor."""
        import torch

        if x.shape[channel_dim] != 3:
            raise ValueError(
                f"expected 3 RGB channels on dim {channel_dim} ({self.layout}), got {tuple(x.shape)}"
            )
        shape = [1] * x.dim()
        shape[channel_dim] = 3
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(shape)
        return (x - mean) / std
