"""Models: the teacher zoo (Ω), the EgoDistill student (Φ = f_I, f_M, Π, h, GRU) and weight loading.

Names are imported lazily so that ``egodistill.models.config`` (pydantic only) can be used to validate
a job's config without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TeacherConfig": "config",
    "StudentConfig": "config",
    "InputSpec": "config",
    "VARIANTS": "config",
    "VariantSpec": "config",
    "TeacherModel": "teachers",
    "TeacherOutput": "teachers",
    "TEACHER_NAMES": "teachers",
    "build_teacher": "teachers",
    "teacher_input_spec": "teachers",
    "ImageEncoder": "image",
    "image_input_spec": "image",
    "IMUEncoder": "imu",
    "FusionMLP": "fusion",
    "FrameAggregator": "fusion",
    "IMUPredictor": "fusion",
    "EgoDistillStudent": "student",
    "StudentOutput": "student",
    "PretrainOutput": "student",
    "build_student": "student",
    "WeightsUnavailableError": "weights",
    "CheckpointMismatchError": "weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
