"""The multimodal job end to end on the tiny workspace (smoke preset): sidecars, teachers, students, report."""

from __future__ import annotations

import json

import pytest
import torch

from egodistill.methods.multimodal.config import MultimodalJobConfig, MultimodalStudentConfig, job_preset
from egodistill.methods.multimodal.steps import MultimodalStudentTask
from egodistill.models.config import StudentConfig


def test_student_loss_is_the_reference_total():
    job = MultimodalStudentConfig.model_validate({"teachers": ["a", "b"], "loss": {"weighting": "per_sample",
                                                                                    "gt_weight": 0.5}})  # fmt: skip
    task = MultimodalStudentTask(job, StudentConfig(variant="visonly_distill", num_classes=2))
    teachers = torch.tensor(
        [[[1.0986123, 0.0], [0.0, 0.0]]]
    )  # per-sample weights [0.6, 0.4] -> [0.659167, 0]
    terms = task.loss(torch.zeros(1, 2), torch.tensor([0]), teachers)
    # KD(softmax([0.659167, 0]) ‖ u) = 0.659167·p0 − log(1 + e^0.659167) + ln 2, p0 = 0.659076
    p0 = 1 / (1 + torch.exp(torch.tensor(-0.659167)))
    kd = float(p0 * 0.659167 - torch.log1p(torch.exp(torch.tensor(0.659167))) + torch.log(torch.tensor(2.0)))
    assert float(terms["kd"]) == pytest.approx(kd, abs=1e-5)
    assert float(terms["total"]) == pytest.approx(kd + 0.5 * 0.693147, abs=1e-5)
    label_only = MultimodalStudentTask(job, StudentConfig(variant="visonly", num_classes=2))
    assert float(label_only.loss(torch.zeros(1, 2), torch.tensor([0]), None)["total"]) == pytest.approx(
        0.693147, abs=1e-6
    )


def test_paper_defaults_resolved():
    cfg = MultimodalJobConfig.model_validate({})
    assert (
        cfg.optim.epochs == 20
        and cfg.optim.lr == 1e-4
        and cfg.loss.gt_weight == 0
        and cfg.loss.temperature == 1
    )
    assert cfg.student.variant == "visonly_distill"


@pytest.mark.ray
@pytest.mark.slow  # ~12 minutes on 2 shared cores: every modality teacher and student is a Ray Train run
def test_multimodal_job_smoke(student_ws):
    from egodistill.methods.multimodal.jobs import report_dir, run_multimodal

    values = job_preset("multimodal", "smoke")
    values.update({"workspace": str(student_ws), "tracking": {"enabled": False},
                   "student": {**values["student"], "imu_feature_dim": 32}})  # fmt: skip
    cfg = MultimodalJobConfig.model_validate(values)
    out = run_multimodal(cfg)
    text = "\n".join(out.lines())
    names = {r["model"] for r in out.rows}
    assert {"teacher_rgb", "teacher_flow", "teacher_layout", "teacher_imu", "student_labels"} <= names, text
    assert (
        "teacher_audio" not in names and "audio: 0 teacher-training clips" in text
    )  # the fixture has no audio
    assert {"ensemble_uniform", "ensemble_per_sample", "ensemble_per_dataset", "student_per_dataset"} <= names
    assert all(r["segments"] > 0 for r in out.rows)
    d = report_dir(cfg)
    results = json.loads((d / "results.json").read_text())
    assert abs(sum(results["dataset_weights"]) - 1) < 1e-6
    assert (d / "reliability" / "student_labels.png").is_file() and (d / "results.md").is_file()
    # a re-run reuses the sidecars and teachers
    again = run_multimodal(cfg)
    assert any("(reused)" in n for n in again.notes)
