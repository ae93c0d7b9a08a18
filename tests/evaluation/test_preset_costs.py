"""The paper's premise in every benchmark preset: a heavy video teacher, a light student (>= 20x GMACs)."""

from __future__ import annotations

import pytest
import torch

from egodistill.config import load_config
from egodistill.demo import DemoConfig
from egodistill.evaluation.efficiency import count_macs
from egodistill.methods.egodistill.config import PRESETS as STUDENT_PRESETS
from egodistill.methods.egodistill.jobs import student_efficiency
from egodistill.models.config import StudentConfig
from egodistill.models.teachers import build_teacher, teacher_input_spec
from egodistill.teacher.config import PRESETS as TEACHER_PRESETS
from egodistill.teacher.config import TeacherJobConfig


@pytest.mark.parametrize("preset", ["demo", "bench"])
def test_teacher_is_at_least_20x_the_students_gmacs(preset):
    teacher = load_config(TeacherJobConfig, base=TEACHER_PRESETS[preset]).teacher.model_copy(
        update={"num_classes": 11}
    )
    spec = teacher_input_spec(teacher)
    t = count_macs(
        build_teacher(teacher), (torch.rand(1, 3, spec.num_frames, spec.crop_size, spec.crop_size),)
    )
    size = STUDENT_PRESETS[preset]["efficiency_size"]
    if preset == "demo":
        assert size == DemoConfig().frame_size  # the student's GMACs are measured at the frames it sees
    student = StudentConfig(variant="egodistill", num_classes=11, teacher_feature_dim=8 * teacher.tiny_width,
                            image_weights="none")  # fmt: skip
    s = student_efficiency(student, size, 1)["gmacs"]
    assert t >= 20 * s, (preset, t, s)
