"""A trained student as a directory anyone can load without Ray (the shared three-file export).

``<ws>/checkpoints/students/<dataset>/<name>/<stage>/``: ``student.pt`` (the full state dict, f_I
included), ``student.yaml`` (the :class:`~egodistill.models.config.StudentConfig` that rebuilds it),
``student.json`` (stage, variant, classes, metrics, MLflow run, Ray checkpoint), written atomically by
:mod:`egodistill.training.export`; plus, when tracked, an MLflow pyfunc model (:mod:`.pyfunc`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from egodistill import tracking
from egodistill.models.config import StudentConfig
from egodistill.training import export as model_export

KIND = "student"
WEIGHTS_FILE, CONFIG_FILE, INFO_FILE = model_export.files(KIND)


def load_trained(scfg: StudentConfig, state: dict[str, Any]):
    """A full student from a worker checkpoint (which leaves out the frozen f_I when features were cached)."""
    from egodistill.models.student import build_student

    model = build_student(scfg)
    result = model.load_state_dict(state, strict=False)
    bad = [k for k in result.missing_keys if not k.startswith("image_encoder.")] + list(
        result.unexpected_keys
    )
    if bad:
        raise RuntimeError(f"checkpoint does not fit the student: {bad[:5]}")
    return model


def save_student(directory: Path, model, scfg: StudentConfig, info: dict[str, Any], run,
                 register: str | None = None) -> None:  # fmt: skip
    """The three files, then (when tracked) the export as artifacts and the MLflow model
    (:mod:`.pyfunc`: raw frames/IMU in, probabilities out, signature, input example, this package as code)."""
    model_export.write_export(directory, KIND, model.state_dict(), scfg, info)
    tracking.log_artifact(run, directory, "student")
    if run is not None:
        from egodistill.student.pyfunc import log_student_model

        log_student_model(run, directory, info.get("frame_size"), register)


def load_student(directory: str | Path):
    """(student in eval mode, its StudentConfig, its info) from an export directory."""
    from egodistill.models.student import build_student

    d = Path(directory).expanduser().absolute()
    cfg = StudentConfig.model_validate(
        model_export.read_config_data(d, KIND, "train one with `egodistill distill`")
    )
    from egodistill.models.weights import random_init_expected

    with random_init_expected():  # the export holds every weight, f_I included: loaded next
        model = build_student(cfg.model_copy(update={"image_weights": "none"}))
    model.load_state_dict(model_export.read_weights(d, KIND))
    return model.eval(), cfg, model_export.read_info(d, KIND)


def weights_path(directory: str | Path) -> str:
    """The state-dict file of a student export (or the path itself when it is a file)."""
    p = Path(directory)
    return str(p / WEIGHTS_FILE if p.is_dir() else p)


__all__ = [
    "CONFIG_FILE",
    "INFO_FILE",
    "WEIGHTS_FILE",
    "load_student",
    "load_trained",
    "save_student",
    "weights_path",
]
