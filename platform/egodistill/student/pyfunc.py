"""A trained student as an MLflow pyfunc model: raw inputs in, class probabilities out.

Inputs are what a caller has, not our tensors: ``frames`` uint8 ``(B, N, H, W, 3)`` RGB (the window's
N frames at the training size) and, for IMU students, ``imu`` float32 ``(B, 422, 6)`` (the training
IMU preprocessing); the normalisation f_I expects happens inside (:func:`program_module`, the same
module ``torch.export`` traces). The model's artifacts are the student's three-file export; this
package travels as ``code_paths`` (see :func:`egodistill.tracking.log_pyfunc`), so it loads outside
the repository checkout. Lives with the student (not in ``inference``) because the training driver
logs it and ``inference`` already depends on ``student``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Frame size of the input example when the export does not say which size it trained on.
DEFAULT_FRAME_SIZE = 224


def _student_module():
    import torch
    from torch import nn

    from egodistill.models.image import image_input_spec

    class StudentProgram(nn.Module):
        """uint8 frames (+ IMU) -> (probabilities, z_phi): the student with its input normalisation inside."""

        def __init__(self, student: nn.Module) -> None:
            super().__init__()
            self.student = student
            spec = image_input_spec()
            self.register_buffer("mean", torch.tensor(spec.mean, dtype=torch.float32).view(3, 1, 1))
            self.register_buffer("std", torch.tensor(spec.std, dtype=torch.float32).view(3, 1, 1))

        def forward(self, frames: torch.Tensor, imu: torch.Tensor | None = None):
            x = frames.movedim(-1, -3).float() / 255.0  # = features.image_cache.to_input
            x = (x - self.mean) / self.std
            out = self.student(frames=x, imu=imu)
            return torch.softmax(out.logits, dim=1), out.fused

    return StudentProgram


def program_module(student):
    """The eager module that both packagings (pyfunc, torch.export) run (eval mode)."""
    return _student_module()(student).eval()


def example_inputs(cfg, size: int, batch: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """A deterministic input example: frames uint8 (B, N, size, size, 3) and, for IMU students, imu (B, L, 6)."""
    from egodistill.models.config import VARIANTS

    rng = np.random.default_rng(seed)
    out = {"frames": rng.integers(0, 256, (batch, cfg.num_frames, size, size, 3), dtype=np.uint8)}
    if VARIANTS[cfg.variant].uses_imu:
        out["imu"] = rng.standard_normal((batch, cfg.imu_length, cfg.imu_channels)).astype(np.float32)
    return out


def pyfunc_class():
    """The ``mlflow.pyfunc.PythonModel`` subclass (built lazily: importing mlflow is slow)."""
    import mlflow.pyfunc

    class StudentPyfunc(mlflow.pyfunc.PythonModel):
        """``predict({"frames": uint8 (B,N,H,W,3), "imu": float32 (B,422,6)})`` -> class probabilities (B, C)."""

        def load_context(self, context) -> None:
            from egodistill.student.export import load_student

            model, self.cfg, info = load_student(context.artifacts["student"])
            self.module = program_module(model)
            self.classes = [str(c) for c in info["classes"]]

        def predict(self, context, model_input, params=None):
            import pandas as pd
            import torch

            frames = model_input["frames"]
            imu = model_input.get("imu") if hasattr(model_input, "get") else None
            if self.module.student.uses_imu and imu is None:
                raise ValueError(
                    f"this student ({self.cfg.variant}) needs 'imu' (B, {self.cfg.imu_length}, 6)"
                )
            f = torch.from_numpy(np.ascontiguousarray(np.asarray(frames), dtype=np.uint8))
            args = (
                (f,)
                if not self.module.student.uses_imu
                else (f, torch.from_numpy(np.asarray(imu, np.float32)))
            )
            with torch.inference_mode():
                probs, _ = self.module(*args)
            return pd.DataFrame(probs.numpy(), columns=self.classes)

    return StudentPyfunc


def pyfunc_kwargs(directory: str | Path, size: int | None = None) -> dict[str, Any]:
    """``python_model``, ``artifacts``, ``input_example`` and ``output`` (for the signature) of a student export."""
    from egodistill.student.export import load_student

    model, cfg, info = load_student(directory)
    size = int(size or info.get("frame_size") or DEFAULT_FRAME_SIZE)
    example = example_inputs(cfg, size, batch=1)
    instance = pyfunc_class()()
    instance.module = program_module(model)
    instance.cfg, instance.classes = cfg, [str(c) for c in info["classes"]]
    return {
        "python_model": pyfunc_class()(),
        "artifacts": {"student": str(Path(directory).expanduser().absolute())},
        "input_example": example,
        "output": instance.predict(None, example),
    }


def log_student_model(run, directory: str | Path, size: int | None = None, register: str | None = None):
    """Log the student export as the run's MLflow model ``student_model``, registered as ``register`` when
    given. Not ``student``: that is the run's artifact folder of the export, and MLflow 3 resolves a run
    artifact path that equals a logged model's name to the logged model."""
    from egodistill import tracking

    return tracking.log_pyfunc(run, "student_model", **pyfunc_kwargs(directory, size), register=register)


__all__ = ["DEFAULT_FRAME_SIZE", "example_inputs", "log_student_model", "program_module", "pyfunc_class",
           "pyfunc_kwargs"]  # fmt: skip
