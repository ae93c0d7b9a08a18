"""A trained teacher as an MLflow pyfunc model: uint8 clips in, class probabilities out.

Input ``clip``: uint8 ``(B, T, H, W, 3)`` RGB, T frames (the teacher's ``num_frames``) already resized
and centre-cropped to its ``crop_size``; the model's mean/std normalisation and the (B, 3, T, H, W)
layout happen inside, so a caller never needs this package's transforms. Output: softmax over the
teacher's classes, one column per class name. Artifacts: the teacher's three-file export
(:mod:`egodistill.teacher.export`); the package travels as ``code_paths``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _program(model, spec):
    import torch
    from torch import nn

    class TeacherProgram(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.teacher = model
            self.register_buffer("mean", torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1, 1))
            self.register_buffer("std", torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1, 1))

        def forward(self, clip: torch.Tensor) -> torch.Tensor:
            x = clip.permute(0, 4, 1, 2, 3).float() / 255.0  # (B, T, H, W, 3) -> (B, 3, T, H, W)
            return torch.softmax(self.teacher((x - self.mean) / self.std).logits, dim=1)

    return TeacherProgram().eval()


def pyfunc_class():
    import mlflow.pyfunc

    class TeacherPyfunc(mlflow.pyfunc.PythonModel):
        """``predict({"clip": uint8 (B,T,S,S,3)})`` -> class probabilities (B, C)."""

        def load_context(self, context) -> None:
            from egodistill.teacher.export import load_teacher, read_info

            self.setup(*load_teacher(context.artifacts["teacher"]), read_info(context.artifacts["teacher"]))

        def setup(self, model, cfg, info: dict[str, Any]) -> None:
            from egodistill.models.teachers import teacher_input_spec

            self.module = _program(model.eval(), teacher_input_spec(cfg))
            self.classes = [str(c) for c in info["classes"]]

        def predict(self, context, model_input, params=None):
            import pandas as pd
            import torch

            clip = np.ascontiguousarray(np.asarray(model_input["clip"]), dtype=np.uint8)
            with torch.inference_mode():
                probs = self.module(torch.from_numpy(clip))
            return pd.DataFrame(probs.numpy(), columns=self.classes)

    return TeacherPyfunc


def log_teacher_model(run, directory: str | Path, register: str | None = None):
    """Log the teacher export as the run's MLflow model ``teacher_model``, registered as ``register`` when
    given (``model`` is the run's artifact folder of the export: see :func:`egodistill.student.pyfunc.log_student_model`)."""
    from egodistill import tracking
    from egodistill.models.teachers import teacher_input_spec
    from egodistill.teacher.export import load_teacher, read_info

    d = Path(directory).expanduser().absolute()
    model, cfg = load_teacher(d)
    spec = teacher_input_spec(cfg)
    example = {"clip": np.random.default_rng(0).integers(0, 256, (1, spec.num_frames, spec.crop_size,
                                                                   spec.crop_size, 3), dtype=np.uint8)}  # fmt: skip
    instance = pyfunc_class()()
    instance.setup(model, cfg, read_info(d))
    return tracking.log_pyfunc(run, "teacher_model", python_model=pyfunc_class()(), artifacts={"teacher": str(d)},
                               input_example=example, output=instance.predict(None, example), register=register)  # fmt: skip


__all__ = ["log_teacher_model", "pyfunc_class"]
