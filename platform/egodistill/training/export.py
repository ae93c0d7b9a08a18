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
import json
from pathlib import Path
from typing import Any

import yaml

from egodistill.models.config import TeacherConfig
from egodistill.storage import atomic_write_bytes

WEIGHTS_FILE = "teacher.pt"
CONFIG_FILE = "teacher.yaml"
INFO_FILE = "teacher.json"


def export_dir(workspace: str | Path, dataset: str, model_name: str) -> Path:
    return Path(workspace).expanduser().absolute() / "checkpoints" / "teachers" / dataset / model_name


def write_export(
    directory: str | Path, model_state: dict[str, Any], cfg: TeacherConfig, info: dict[str, Any]
) -> Path:
    """Write the three files atomically (weights first, so a config never points at nothing)."""
    import io

    import torch

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(model_state, buf)
    atomic_write_bytes(str(d / WEIGHTS_FILE), buf.getvalue())
    cfg_dump = cfg.model_copy(update={"weights": WEIGHTS_FILE}).model_dump(mode="json")
    atomic_write_bytes(str(d / CONFIG_FILE), yaml.safe_dump(cfg_dump, sort_keys=False).encode())
    atomic_write_bytes(str(d / INFO_FILE), json.dumps(info, indent=1, default=str).encode())
    return d


def read_config(directory: str | Path) -> TeacherConfig:
    """The export's TeacherConfig with ``weights`` made absolute."""
    d = Path(directory).expanduser().absolute()
    path = d / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{d} is not a teacher export: {CONFIG_FILE} missing (train one with `egodistill teacher`)"
        )
    try:
        cfg = TeacherConfig.model_validate(yaml.safe_load(path.read_text()))
    except Exception as e:
        raise ValueError(f"{path}: not a valid teacher config: {e}") from e
    weights = cfg.weights
    if weights not in ("none", "torchvision") and not Path(weights).is_absolute():
        weights = str(d / weights)
    return cfg.model_copy(update={"weights": weights})


def read_info(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / INFO_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


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
