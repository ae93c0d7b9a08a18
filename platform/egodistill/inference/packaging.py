"""Hand a trained student to another program: an MLflow pyfunc model and a ``torch.export`` program.

Both take the raw inputs a caller has, not our tensors: ``frames`` uint8 ``(B, N, H, W, 3)`` RGB (the
window's N frames, resized and centre-cropped to the training size) and ``imu`` float32 ``(B, 422, 6)``
(the window through the training IMU preprocessing: accl xyz, gyro xyz, per-channel mean removed,
0 where invalid); the normalisation f_I expects happens inside. They return class probabilities
(softmax over the student's classes), and the exported program also the clip feature z_phi.

* MLflow: :class:`StudentPyfunc` loads the student through :func:`.model_io.load_student` from the
  model's artifacts; the model carries this package as ``code_paths`` (no install needed to serve
  it), pinned requirements, a tensor signature and an input example, so
  ``mlflow models predict -m URI -i sample.json -t json`` answers; ``register=NAME`` adds it to the
  model registry.
* ``torch.export``: :func:`export_program` traces the same computation with a dynamic batch size and
  saves a ``.pt2`` file that ``torch.export.load`` runs without this package;
  :func:`check_program` reloads it and compares with the eager model.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from egodistill.inference.model_io import DEFAULT_FRAME_SIZE, load_student

EXPORT_TOLERANCE = 1e-5


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
    """The eager module that both packagings run (eval mode)."""
    return _student_module()(student).eval()


def example_inputs(cfg, size: int, batch: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """A deterministic input example: frames uint8 (B, N, size, size, 3) and, for IMU students, imu (B, L, 6)."""
    from egodistill.models.config import VARIANTS

    rng = np.random.default_rng(seed)
    out = {"frames": rng.integers(0, 256, (batch, cfg.num_frames, size, size, 3), dtype=np.uint8)}
    if VARIANTS[cfg.variant].uses_imu:
        out["imu"] = rng.standard_normal((batch, cfg.imu_length, cfg.imu_channels)).astype(np.float32)
    return out


def export_program(directory: str | Path, path: str | Path, size: int | None = None):
    """Trace the student with ``torch.export`` (dynamic batch) and save it; returns the ExportedProgram."""
    import torch

    model, cfg, info = load_student(directory)
    size = int(size or info.get("frame_size") or DEFAULT_FRAME_SIZE)
    module = program_module(model)
    ex = example_inputs(cfg, size)
    args = tuple(torch.from_numpy(ex[k]) for k in ("frames", "imu") if k in ex)
    batch = torch.export.Dim("batch", min=1, max=4096)
    shapes = tuple({0: batch} for _ in args)
    with torch.no_grad():
        program = torch.export.export(module, args, dynamic_shapes=shapes)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.export.save(program, str(tmp))
    tmp.replace(path)
    return program


def check_program(directory: str | Path, path: str | Path, size: int | None = None, batch: int = 3) -> float:
    """Reload a saved program and return its largest absolute difference to the eager model.

    Raises ValueError when it exceeds :data:`EXPORT_TOLERANCE` on probabilities or features.
    """
    import torch

    model, cfg, info = load_student(directory)
    size = int(size or info.get("frame_size") or DEFAULT_FRAME_SIZE)
    ex = example_inputs(cfg, size, batch=batch, seed=1)
    args = tuple(torch.from_numpy(ex[k]) for k in ("frames", "imu") if k in ex)
    program = torch.export.load(str(path))
    with torch.no_grad():
        eager = program_module(model)(*args)
        exported = program.module()(*args)
    diff = max(float((a - b).abs().max()) for a, b in zip(eager, exported, strict=True))
    if diff > EXPORT_TOLERANCE:
        raise ValueError(f"{path}: exported program differs from the eager student by {diff:.2e} (> 1e-5)")
    return diff


# ----------------------------------------------------------------------------------------------
# MLflow


def _pyfunc_class():
    import mlflow.pyfunc

    class StudentPyfunc(mlflow.pyfunc.PythonModel):
        """``predict({"frames": uint8 (B,N,H,W,3), "imu": float32 (B,422,6)})`` -> class probabilities (B, C)."""

        def load_context(self, context) -> None:
            import torch

            torch.set_num_threads(max(1, torch.get_num_threads()))
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


def _requirements() -> list[str]:
    """Pinned versions of what the packaged code imports (this project itself travels as code_paths)."""
    names = ["torch", "torchvision", "numpy", "pandas", "pydantic", "pyyaml", "pyarrow", "av", "pillow"]
    out = []
    for n in names:
        try:
            out.append(f"{n}=={metadata.version(n)}")
        except metadata.PackageNotFoundError:
            out.append(n)
    return out


def save_pyfunc(directory: str | Path, path: str | Path, size: int | None = None):
    """Save the pyfunc model to a local folder (for tests and `mlflow models predict -m PATH`)."""
    import mlflow.pyfunc

    kwargs = _pyfunc_kwargs(directory, size)
    mlflow.pyfunc.save_model(str(path), **kwargs)
    return kwargs["input_example"]


def _pyfunc_kwargs(directory: str | Path, size: int | None) -> dict[str, Any]:
    from mlflow.models import infer_signature

    import egodistill

    model, cfg, info = load_student(directory)
    size = int(size or info.get("frame_size") or DEFAULT_FRAME_SIZE)
    example = example_inputs(cfg, size, batch=1)
    instance = _pyfunc_class()()
    instance.module = program_module(model)
    instance.cfg, instance.classes = cfg, [str(c) for c in info["classes"]]
    output = instance.predict(None, example)
    return {
        "python_model": _pyfunc_class()(),
        "artifacts": {"student": str(Path(directory).expanduser().absolute())},
        "code_paths": [str(Path(egodistill.__file__).parent)],
        "signature": infer_signature(example, output),
        "input_example": example,
        "pip_requirements": _requirements(),
    }


def write_sample(example: dict[str, np.ndarray], path: str | Path) -> Path:
    """The input example as a request body for ``mlflow models predict -t json`` ({"inputs": {...}})."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"inputs": {k: v.tolist() for k, v in example.items()}}))
    return path


@dataclass
class PackageResult:
    model_uri: str
    run_id: str
    program: str
    max_diff: float
    sample: str | None
    registered: str | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"MLflow model: {self.model_uri} (run {self.run_id})",
            f"torch.export program: {self.program} (reloaded; max |diff| to eager {self.max_diff:.1e} <= 1e-5)",
        ]
        if self.registered:
            out.append(f"registered: {self.registered}")
        if self.sample:
            out.append(
                f"try: mlflow models predict -m {self.model_uri} -i {self.sample} -t json --env-manager local"
            )
        return out + self.notes


def package_student(
    directory: str | Path,
    *,
    workspace: str | None = None,
    tracking_uri: str | None = None,
    experiment: str = "egodistill-models",
    register: str | None = None,
    export_path: str | None = None,
    size: int | None = None,
    sample_path: str | None = None,
) -> PackageResult:
    """Log the pyfunc model (and the checked torch.export program) to MLflow; optionally register it."""
    import mlflow

    from egodistill import tracking

    d = Path(directory).expanduser().absolute()
    if tracking_uri is None:
        ws = Path(workspace) if workspace else (d.parents[3] if len(d.parents) > 3 else d)
        tracking_uri = tracking.resolve_tracking_uri(tracking.TrackingConfig(), ws)
        artifacts = (Path(ws).expanduser().absolute() / "mlartifacts").as_uri()
    else:
        artifacts = None
    program_path = Path(export_path) if export_path else d / "student.pt2"
    export_program(d, program_path, size)
    diff = check_program(d, program_path, size)
    client = mlflow.MlflowClient(tracking_uri)
    exp_id = tracking.experiment_id(client, experiment, artifacts)
    mlflow.set_tracking_uri(tracking_uri)
    if register:
        mlflow.set_registry_uri(tracking_uri)
    kwargs = _pyfunc_kwargs(d, size)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"package-{d.name}") as run:
        mlflow.log_params({"student": str(d), "export_max_diff": diff})
        info = mlflow.pyfunc.log_model(name="model", registered_model_name=register, **kwargs)
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(program_path, Path(tmp) / program_path.name)
            mlflow.log_artifact(str(Path(tmp) / program_path.name), "torch_export")
    sample = write_sample(kwargs["input_example"], sample_path) if sample_path else None
    registered = None
    if register:
        version = getattr(info, "registered_model_version", None)
        registered = f"models:/{register}/{version}" if version else f"models:/{register}"
    return PackageResult(info.model_uri, run.info.run_id, str(program_path), diff, str(sample) if sample else None,
                         registered)  # fmt: skip
