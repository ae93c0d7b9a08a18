"""One export format for every trained model: three files written atomically, loadable without Ray.

``<kind>.pt`` (the state dict, loadable with ``torch.load(..., weights_only=True)``), ``<kind>.yaml``
(the typed config that rebuilds the model) and ``<kind>.json`` (what it is and how good: data, classes,
metrics, efficiency, MLflow run, the Ray checkpoint it came from). The weights are written first, so a
config never points at nothing; the teacher (``teacher.*``) and the students (``student.*``) share it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import yaml

from egodistill.config import StrictConfig
from egodistill.storage import atomic_write_bytes


def files(kind: str) -> tuple[str, str, str]:
    """(weights, config, info) file names of a ``kind`` export."""
    return f"{kind}.pt", f"{kind}.yaml", f"{kind}.json"


def write_export(
    directory: str | Path, kind: str, model_state: dict[str, Any], cfg: StrictConfig, info: dict[str, Any],
    config_update: dict[str, Any] | None = None,
) -> Path:  # fmt: skip
    """Write the three files of a ``kind`` export atomically; returns the directory."""
    import torch

    weights, config, info_file = files(kind)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(model_state, buf)
    atomic_write_bytes(str(d / weights), buf.getvalue())
    dump = cfg.model_copy(update=config_update or {}).model_dump(mode="json")
    atomic_write_bytes(str(d / config), yaml.safe_dump(dump, sort_keys=False).encode())
    atomic_write_bytes(str(d / info_file), json.dumps(info, indent=1, default=str).encode())
    return d


def read_config_data(directory: str | Path, kind: str, hint: str) -> dict[str, Any]:
    """The raw config mapping of a ``kind`` export; a clear error when it is not one."""
    d = Path(directory).expanduser().absolute()
    path = d / files(kind)[1]
    if not path.is_file():
        raise FileNotFoundError(f"{d} is not a {kind} export: {path.name} missing ({hint})")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a {kind} config (expected a mapping)")
    return data


def read_info(directory: str | Path, kind: str) -> dict[str, Any]:
    path = Path(directory) / files(kind)[2]
    return json.loads(path.read_text()) if path.is_file() else {}


def read_weights(directory: str | Path, kind: str) -> dict[str, Any]:
    """The export's state dict (``weights_only=True``)."""
    import torch

    path = Path(directory) / files(kind)[0]
    if not path.is_file():
        raise FileNotFoundError(f"{Path(directory)} is not a {kind} export: {path.name} missing")
    return torch.load(path, map_location="cpu", weights_only=True)


__all__ = ["files", "read_config_data", "read_info", "read_weights", "write_export"]
