"""HEAVY: the two big teachers at the paper's input size on CPU (mvit ~9 s, r2plus1d ~3 s).

These are the only slow model tests; deselect them with ``-m "not heavy"``.
"""

from __future__ import annotations

import pytest
import torch

from egodistill.models.config import TeacherConfig
from egodistill.models.teachers import build_teacher


@pytest.mark.heavy
@pytest.mark.parametrize(
    ("name", "shape", "dim"),
    [("mvit_v2_s", (1, 3, 16, 224, 224), 768), ("r2plus1d_18", (1, 3, 16, 112, 112), 512)],
)
def test_heavy_teacher_forward_at_paper_size(name, shape, dim):
    teacher = build_teacher(TeacherConfig(name=name, weights="none", num_classes=94)).eval()
    spec = teacher.input_spec
    assert (spec.num_frames, spec.crop_size) == shape[2:4]
    with torch.no_grad():
        out = teacher(torch.randn(*shape))
    assert out.features.shape == (1, dim) and out.logits.shape == (1, 94)
    assert torch.isfinite(out.logits).all()
