"""Hand a trained student to another program: an MLflow pyfunc model and a ``torch.export`` program.

Both take the raw inputs a caller has, not our tensors: ``frames`` uint8 ``(B, N, H, W, 3)`` RGB (the
window's N frames, resized and centre-cropped to the training size) and ``imu`` float32 ``(B, 422, 6)``
(the window through the training IMU preprocessing: accl xyz, gyro xyz, per-channel mean removed,
0 where invalid); the normalisation f_I expects happens inside. They return class probabilities
(softmax over the student's classes), and the exported program also the clip feature z_phi.

* MLflow: the student's pyfunc model (:mod:`egodistill.student.pyfunc`, the same one every training
  run logs) loads the student from the model's artifacts; the model carries this package as
  ``code_paths`` (no install needed to serve it), pinned requirements, a tensor signature and an
  input example, so
  ``mlflow models predict -m URI -i sample.json -t json`` answers; ``register=NAME`` adds it to the
  model registry.
* ``torch.export``: :func:`export_program` traces the same computation with a dynamic batch size and
  saves a ``.pt2`` file that ``torch.export.load`` runs without this package;
  :func:`check_program` reloads it and compares with the eager model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from egodistill.inference.model_io import DEFAULT_FRAME_SIZE, load_student, workspace_of
from egodistill.student.pyfunc import example_inputs, program_module, pyfunc_kwargs

EXPORT_TOLERANCE = 1e-5


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


def _size(directory: str | Path, size: int | None) -> int:
    """The frame size of the input example: given, else the one the student trained on, else 224."""
    return int(size or load_student(directory)[2].get("frame_size") or DEFAULT_FRAME_SIZE)


def save_pyfunc(directory: str | Path, path: str | Path, size: int | None = None):
    """Save the pyfunc model to a local folder (for tests and `mlflow models predict -m PATH`)."""
    import mlflow.pyfunc

    from egodistill import tracking

    kwargs = pyfunc_kwargs(directory, _size(directory, size))
    example, output = kwargs.pop("input_example"), kwargs.pop("output")
    mlflow.pyfunc.save_model(
        str(path), **tracking.pyfunc_model_kwargs(input_example=example, output=output, **kwargs)
    )
    return example


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
    from egodistill import tracking

    d = Path(directory).expanduser().absolute()
    ws = Path(workspace).expanduser().absolute() if workspace else (workspace_of(d) or d)
    cfg = tracking.TrackingConfig(tracking_uri=tracking_uri, experiment=experiment)
    program_path = Path(export_path) if export_path else d / "student.pt2"
    export_program(d, program_path, size)
    diff = check_program(d, program_path, size)
    kwargs = pyfunc_kwargs(d, _size(d, size))
    with tracking.tracked_run(cfg, workspace=ws, job="package", run_name=f"package-{d.name}",
                              params={"student": str(d), "export_max_diff": diff}) as ref:  # fmt: skip
        info = tracking.log_pyfunc(ref, "model", **kwargs, register=register)
        tracking.log_artifact(ref, program_path, "torch_export")
    sample = write_sample(kwargs["input_example"], sample_path) if sample_path else None
    registered = None
    if register:
        version = getattr(info, "registered_model_version", None)
        registered = f"models:/{register}/{version}" if version else f"models:/{register}"
    return PackageResult(info.model_uri, ref.run_id, str(program_path), diff, str(sample) if sample else None,
                         registered)  # fmt: skip
