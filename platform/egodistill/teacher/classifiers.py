"""What the teacher job trains: a teacher from the zoo, or the single-frame baseline.

Both are clip classifiers taking ``(B, 3, T, H, W)`` (T = 1 for the baseline) and returning logits
(teachers return ``TeacherOutput(features, logits)``; :func:`logits_of` reads either), so one training
loop, one data pipeline and one evaluation serve both. The spec is a plain dict so it travels in the
Ray Train loop config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from egodistill.models.config import IMAGENET_MEAN, IMAGENET_STD, InputSpec, TeacherConfig
from egodistill.models.teachers import TeacherOutput, build_teacher, teacher_input_spec


def frame_input_spec(crop_size: int) -> InputSpec:
    """One frame, ImageNet statistics, resize to 8/7 of the crop (torchvision's 256 -> 224 ratio)."""
    return InputSpec(
        num_frames=1,
        sample_rate=1,
        crop_size=crop_size,
        resize_size=(round(crop_size * 8 / 7),),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        layout="B,C,T=1,H,W",
        source="single-frame baseline (ResNet-18, random init)",
    )


class FrameClassifier(nn.Module):
    """torchvision ResNet-18 (random init) on the single frame of a ``(B, 3, 1, H, W)`` clip."""

    def __init__(self, num_classes: int, crop_size: int) -> None:
        super().__init__()
        import torchvision.models as tvm

        self.net = tvm.resnet18(weights=None, num_classes=num_classes)
        self.num_classes = num_classes
        self.input_spec = frame_input_spec(crop_size)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        if clip.dim() != 5 or clip.shape[2] != 1:
            raise ValueError(f"the frame classifier takes (B, 3, 1, H, W), got {tuple(clip.shape)}")
        return self.net(clip[:, :, 0])


def teacher_spec(cfg: TeacherConfig) -> dict[str, Any]:
    return {"kind": "teacher", "teacher": cfg.model_dump(mode="json")}


def single_frame_spec(model: str, teacher: TeacherConfig) -> dict[str, Any]:
    """The baseline matching ``teacher``: same crop and classes, one frame."""
    if model == "tiny3d":
        base = teacher if teacher.name == "tiny3d" else TeacherConfig(name="tiny3d", weights="none")
        cfg = base.model_copy(
            update={"num_frames": 1, "sample_rate": 1, "num_classes": teacher.num_classes, "weights": "none"}
        )
        if cfg.crop_size is None:
            cfg = cfg.model_copy(update={"crop_size": teacher_input_spec(teacher).crop_size})
        return {"kind": "teacher", "teacher": cfg.model_dump(mode="json"), "single_frame": True}
    crop = teacher_input_spec(teacher).crop_size
    return {"kind": "resnet18", "num_classes": teacher.num_classes, "crop_size": crop, "single_frame": True}


def input_spec(spec: Mapping[str, Any]) -> InputSpec:
    """The input spec of the model a spec builds (without building it)."""
    if spec["kind"] == "teacher":
        return teacher_input_spec(TeacherConfig.model_validate(spec["teacher"]))
    return frame_input_spec(int(spec["crop_size"]))


def build(spec: Mapping[str, Any]) -> nn.Module:
    """Build the model of a spec; it has ``input_spec`` and ``num_classes``."""
    if spec["kind"] == "teacher":
        return build_teacher(TeacherConfig.model_validate(spec["teacher"]))
    if spec["kind"] == "resnet18":
        return FrameClassifier(int(spec["num_classes"]), int(spec["crop_size"]))
    raise ValueError(f"unknown model kind {spec['kind']!r}")


def describe(spec: Mapping[str, Any]) -> str:
    """Short human name, e.g. ``tiny3d 8x8@48`` or ``resnet18 1 frame@48``."""
    s = input_spec(spec)
    name = spec["teacher"]["name"] if spec["kind"] == "teacher" else spec["kind"]
    frames = f"{s.num_frames}x{s.sample_rate}" if s.num_frames > 1 else "1 frame"
    return f"{name} {frames}@{s.crop_size}"


def logits_of(output: Any) -> torch.Tensor:
    """Logits from a teacher's ``TeacherOutput`` or a plain logits tensor."""
    if isinstance(output, TeacherOutput):
        return output.logits
    if isinstance(output, tuple) and len(output) == 2:  # TeacherOutput after DDP's output handling
        return output[1]
    return output


__all__ = [
    "FrameClassifier",
    "build",
    "describe",
    "input_spec",
    "logits_of",
    "single_frame_spec",
    "teacher_spec",
]
