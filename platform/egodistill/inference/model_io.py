"""The one place that reads a trained student (or a teacher) from disk for inference.

A distilled student is ``<workspace>/checkpoints/students/<dataset>/<name>/distill/``, the shared
three-file export (:mod:`egodistill.student.export`): ``student.pt`` (state dict), ``student.yaml``
(a StudentConfig) and ``student.json`` ("classes", "variant", "metrics"). If that layout changes, only
:func:`load_student` and :func:`student_files` change. The model is returned in eval mode on the CPU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from egodistill.student.export import CONFIG_FILE, INFO_FILE, WEIGHTS_FILE

DEFAULT_FRAME_SIZE = 224


class ModelLoadError(ValueError):
    """A model directory is missing a file or does not fit its config; the message names the file."""


@dataclass(frozen=True)
class StudentFiles:
    """A student directory's bytes, so actors on other nodes can load it without a shared filesystem."""

    name: str
    weights: bytes
    config: str
    info: str


def student_files(directory: str | Path) -> StudentFiles:
    """Read the three files of a student directory (clear error naming a missing one)."""
    d = Path(directory).expanduser()
    if not d.is_dir():
        raise ModelLoadError(f"{d}: student directory not found (train one with `egodistill distill`)")
    for name in (WEIGHTS_FILE, CONFIG_FILE, INFO_FILE):
        if not (d / name).is_file():
            raise ModelLoadError(f"{d / name}: missing; not a trained student directory")
    return StudentFiles(
        name=d.name,
        weights=(d / WEIGHTS_FILE).read_bytes(),
        config=(d / CONFIG_FILE).read_text(),
        info=(d / INFO_FILE).read_text(),
    )


def load_student_files(files: StudentFiles, where: str = "<student>"):
    """(model in eval mode, StudentConfig, info dict) from a :class:`StudentFiles`."""
    import io

    import torch
    import yaml

    from egodistill.models.config import StudentConfig
    from egodistill.models.student import build_student
    from egodistill.models.weights import random_init_expected

    try:
        cfg = StudentConfig.model_validate(yaml.safe_load(files.config))
    except Exception as e:  # noqa: BLE001 - pydantic or YAML: one message naming the file
        raise ModelLoadError(f"{where}/{CONFIG_FILE}: not a valid StudentConfig: {e}") from e
    try:
        info = json.loads(files.info)
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"{where}/{INFO_FILE}: not valid JSON: {e}") from e
    try:
        state = torch.load(io.BytesIO(files.weights), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"{where}/{WEIGHTS_FILE}: cannot be read as a state dict: {e}") from e
    has_encoder = any(k.startswith("image_encoder.") for k in state)
    if has_encoder:  # the trained f_I is in the checkpoint: build it empty, never download
        with random_init_expected():
            model = build_student(cfg.model_copy(update={"image_weights": "none"}))
    else:
        model = build_student(cfg)
    result = model.load_state_dict(state, strict=False)
    bad = [k for k in result.missing_keys if has_encoder or not k.startswith("image_encoder.")]
    bad += list(result.unexpected_keys)
    if bad:
        raise ModelLoadError(f"{where}/{WEIGHTS_FILE}: does not fit the config's student: {bad[:5]}")
    classes = info.get("classes")
    if not isinstance(classes, list) or len(classes) != cfg.num_classes:
        raise ModelLoadError(
            f"{where}/{INFO_FILE}: 'classes' must list {cfg.num_classes} names, got {classes!r:.80}"
        )
    model.eval()
    return model, cfg, info


def load_student(directory: str | Path):
    """(model in eval mode, StudentConfig, info dict) from a student directory.

    ``info["frame_size"]`` is set to the frame size the student was trained on when it can be
    found (info.json, else the workspace's clips table), so inference prepares frames the same way.
    """
    d = Path(directory).expanduser().absolute()
    model, cfg, info = load_student_files(student_files(d), str(d))
    if not info.get("frame_size"):
        size = training_frame_size(d)
        if size:
            info["frame_size"] = size
    return model, cfg, info


def workspace_of(directory: Path) -> Path | None:
    """The workspace of a model export: the folder above its ``checkpoints/`` ancestor (None: not in one)."""
    d = Path(directory).expanduser().absolute()
    for parent in d.parents:
        if parent.name == "checkpoints":
            return parent.parent
    return None


def training_frame_size(directory: Path) -> int | None:
    """Height of the stored frames the student trained on: ``<ws>/clips/<dataset>/`` of its workspace.

    The student lives at ``<ws>/checkpoints/students/<dataset>/<name>/<stage>``; None when no clips table is there.
    """
    import pyarrow.parquet as pq

    d = Path(directory).expanduser().absolute()
    ws = workspace_of(d)
    if ws is None:
        return None
    rel = d.relative_to(ws / "checkpoints").parts
    if len(rel) < 3 or rel[0] != "students":
        return None
    dataset = rel[1]
    for path in sorted((ws / "clips" / dataset).glob("split=*/*.parquet"))[:1]:
        col = pq.read_table(path, columns=["frame_height"]).column("frame_height")
        if len(col):
            return int(col[0].as_py())
    return None


def model_name(directory: str | Path) -> str:
    """How predictions name the model: ``<dataset>/<name>/<stage>`` in a workspace, else ``<parent>/<folder>``."""
    d = Path(directory).expanduser().absolute()
    ws = workspace_of(d)
    rel = d.relative_to(ws / "checkpoints").parts if ws is not None else ()
    if len(rel) >= 3 and rel[0] == "students":
        return "/".join(rel[1:])
    return f"{d.parent.name}/{d.name}"


def load_teacher_model(directory: str | Path):
    """(TeacherModel in eval mode, TeacherConfig, info dict) from a teacher export (training/export.py)."""
    from egodistill.teacher.export import load_teacher, read_info

    d = Path(directory).expanduser().absolute()
    try:
        model, cfg = load_teacher(d)
    except FileNotFoundError as e:
        raise ModelLoadError(str(e)) from e
    return model, cfg, read_info(d)
