"""The stage-2 step trains with the tested loss (losses.egodistill_loss), checked against a hand-computed value.

Hand computation (batch of one, 2 classes, τ = 1, α = 0.95, β = 1): teacher logits [ln 3, 0] ->
p_t = [0.75, 0.25]; student logits [0, 0] -> p_s = [0.5, 0.5];
L_KD = 0.75 ln 1.5 + 0.25 ln 0.5 = 0.130812; L_GT = CE([0, 0], 0) = ln 2 = 0.693147;
L_1 = mean |[1, 2] - [0, 0]| = 1.5; L = 0.95 · 0.130812 + 0.05 · 0.693147 + 1.5 = 1.658929.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from egodistill.methods.egodistill.config import DistillJobConfig
from egodistill.methods.egodistill.steps import EgoDistillTask
from egodistill.models.config import StudentConfig
from egodistill.training.loop import StepContext


class FixedStudent(torch.nn.Module):
    """Returns the hand-picked logits and fused feature whatever the input (what the step sees)."""

    uses_imu = True

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(()))

    def forward(self, frame_features, imu):
        assert frame_features.shape == (1, 1, 512) and imu.shape == (1, 422, 6)
        logits = torch.tensor([[0.0, 0.0]]) + self.bias
        return SimpleNamespace(logits=logits, fused=torch.tensor([[1.0, 2.0]]) + self.bias)


def _batch() -> dict[str, torch.Tensor]:
    return {
        "label": torch.tensor([0]),
        "imu": torch.zeros(1, 422, 6),
        "pool": torch.zeros(1, 6, 512),
        "select": torch.tensor([[2]]),
        "teacher_logits": torch.tensor([[math.log(3.0), 0.0]]),
        "teacher_feature": torch.tensor([[0.0, 0.0]]),
    }


def _task(tmp_path, variant="egodistill", **loss) -> EgoDistillTask:
    job = DistillJobConfig(workspace=str(tmp_path), loss={"alpha": 0.95, "beta": 1.0, "temperature": 1.0, **loss})
    student = StudentConfig(variant=variant, num_classes=2, teacher_feature_dim=2, image_weights="none")
    return EgoDistillTask("distill", job, student)


def _step(task: EgoDistillTask):
    ctx = StepContext(torch.device("cpu"), False, torch.Generator().manual_seed(0))
    return task.step(FixedStudent(), _batch(), ctx)


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        ({}, 0.95 * 0.130812 + 0.05 * math.log(2) + 1.5),  # eq. 6 = 1.658929
        ({"use_kd": False}, 0.05 * math.log(2) + 1.5),
        ({"use_gt": False}, 0.95 * 0.130812 + 1.5),
        ({"use_l1": False}, 0.95 * 0.130812 + 0.05 * math.log(2)),
    ],
)
def test_distill_step_is_eq6_through_the_loss_functions(tmp_path, loss, expected):
    out = _step(_task(tmp_path, **loss))
    assert float(out.loss) == pytest.approx(expected, abs=1e-5)
    assert out.count == 1
    assert out.stats["kd"] == pytest.approx(0.130812, abs=1e-5) and out.stats["l1"] == pytest.approx(1.5)
    assert out.stats["gt"] == pytest.approx(math.log(2), abs=1e-6)
    out.loss.backward()  # the loss is differentiable through the student


def test_label_only_variants_train_on_gt_alone(tmp_path):
    out = _step(_task(tmp_path, variant="visimu"))
    assert float(out.loss) == pytest.approx(math.log(2), abs=1e-6) and "kd" not in out.stats


def test_paper_defaults_are_resolved_in_the_config(tmp_path):
    ego4d = DistillJobConfig(workspace=str(tmp_path))
    epic = DistillJobConfig(workspace=str(tmp_path), data={"dataset": "epic"})
    assert (ego4d.optim.epochs, ego4d.optim.milestones, ego4d.loss.temperature) == (150, [90, 120], 10.0)
    assert (epic.optim.epochs, epic.optim.milestones, epic.loss.temperature) == (50, [30, 40], 1.0)
    assert DistillJobConfig(workspace=str(tmp_path), optim={"epochs": 3}).optim.milestones == [90, 120]
