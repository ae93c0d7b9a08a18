"""A trained teacher as a directory the features pass (and anyone else) can load without Ray.

Layout of ``<workspace>/checkpoints/teachers/<dataset>/<model-name>/``::

    teacher.pt     TeacherModel.state_dict() (keys "net.*"), loadable with weights_only=True
    teacher.yaml   the TeacherConfig to rebuild it (weights: teacher.pt, relative to this folder)
    teacher.json   what it is and how good: dataset, classes, clip geometry, per-segment top-1,
                   GMACs / params / CPU latency, MLflow run id, the Ray checkpoint it came from

``load_teacher`` rebuilds the model through :func:`egodistill.models.build_teacher`, so the zoo's
weight-loading rules (and its clear errors) apply.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from egodistill.models.config import TeacherConfig
from egodistill.training import export as model_export

KIND = "teacher"
WEIGHTS_FILE, CONFIG_FILE, INFO_FILE = model_export.files(KIND)
SEGMENTS_FILE = "eval_segments.parquet"  # per-segment predictions on the evaluation split


def export_dir(workspace: str | Path, dataset: str, model_name: str) -> Path:
    return Path(workspace).expanduser().absolute() / "checkpoints" / "teachers" / dataset / model_name


def write_export(
    directory: str | Path, model_state: dict[str, Any], cfg: TeacherConfig, info: dict[str, Any]
) -> Path:
    """The shared three-file export (:mod:`egodistill.teacher.export`), weights relative to the folder."""
    return model_export.write_export(directory, KIND, model_state, cfg, info, {"weights": WEIGHTS_FILE})


def read_config(directory: str | Path) -> TeacherConfig:
    """The export's TeacherConfig with ``weights`` made absolute."""
    d = Path(directory).expanduser().absolute()
    data = model_export.read_config_data(d, KIND, "train one with `egodistill teacher`")
    try:
        cfg = TeacherConfig.model_validate(data)
    except Exception as e:
        raise ValueError(f"{d / CONFIG_FILE}: not a valid teacher config: {e}") from e
    weights = cfg.weights
    if weights not in ("none", "torchvision") and not Path(weights).is_absolute():
        weights = str(d / weights)
    return cfg.model_copy(update={"weights": weights})


def read_info(directory: str | Path) -> dict[str, Any]:
    return model_export.read_info(directory, KIND)


def weights_digest(cfg: TeacherConfig) -> str:
    """sha1 of the weights file (what the features fingerprint pins), or the weights keyword."""
    if cfg.weights in ("none", "torchvision"):
        return cfg.weights
    h = hashlib.sha1()
    with open(cfg.weights, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_teacher(directory: str | Path):
    """(TeacherModel in eval mode, its TeacherConfig) from an export directory."""
    from egodistill.models.teachers import build_teacher

    cfg = read_config(directory)
    model = build_teacher(cfg)
    model.eval()
    return model, cfg


__all__ = ["export_dir", "load_teacher", "read_config", "read_info", "weights_digest", "write_export"]
