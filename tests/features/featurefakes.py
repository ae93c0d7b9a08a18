"""Test inputs for the features tests: an untrained tiny teacher export."""

from __future__ import annotations

from pathlib import Path

from egodistill.models.config import TeacherConfig

TEACHER = TeacherConfig(name="tiny3d", weights="none", crop_size=32, tiny_width=8, num_classes=5)


def make_export(directory: Path, seed: int = 0, teacher: TeacherConfig = TEACHER) -> Path:
    """A teacher export with random weights (the features pass does not care how good it is)."""
    import torch

    from egodistill.models.teachers import build_teacher
    from egodistill.teacher.export import write_export

    torch.manual_seed(seed)
    model = build_teacher(teacher)
    info = {"model_name": "tiny", "clip": {"decode_size": 36}}
    return write_export(directory, model.state_dict(), teacher, info)
