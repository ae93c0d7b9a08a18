"""Correspondence loss, spectrogram and scores against hand-computed values (docs/reference-methods.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from egodistill.methods.correspondence.encoders import CorrespondenceModel, build_imu_encoder, imu_spectrogram
from egodistill.methods.correspondence.loss import binary_loss, contrastive_loss
from egodistill.methods.correspondence.metrics import auc_estimate, correspondence_auc, retrieval, wilson


def test_symmetric_infonce_identity_tau_1():
    e = torch.eye(2)
    t = contrastive_loss(e, e, 1.0)
    assert t.v2m.item() == pytest.approx(0.313262, abs=1e-6)
    assert t.m2v.item() == pytest.approx(0.313262, abs=1e-6)
    assert t.total.item() == pytest.approx(0.313262, abs=1e-6)  # mean of the two (imu2clip's sum: 0.626523)
    assert contrastive_loss(e, e, 10.0).v2m.item() == pytest.approx(4.54e-5, rel=1e-2)
    assert t.logits.shape == (2, 2) and bool(t.top1_v2m.all())


def test_masked_rows_and_hard_negatives():
    e = torch.eye(3)
    ok = torch.tensor([True, True, False])
    t = contrastive_loss(e, e, 1.0, ok=ok)
    # row 2 is dropped and column 2 never competes: each valid row sees [1, 0] -> ln(1 + e^-1)
    assert t.v2m.item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)
    # hard negatives identical to the positives: each valid row sees [1, 0] + hard [1, 0] -> ln(2 + 2 e^-1)
    h = contrastive_loss(e, e, 1.0, ok=ok, hard_m=torch.eye(3))
    assert h.v2m.item() == pytest.approx(math.log(2 + 2 * math.exp(-1)), abs=1e-6)
    assert h.m2v.item() == pytest.approx(t.m2v.item())


def test_binary_loss_balanced():
    e = torch.eye(2)
    t = binary_loss(e, e, 1.0, 0.0)
    # positives: softplus(-1), negatives: softplus(0), weighted 1:1
    expected = 0.5 * (math.log(1 + math.exp(-1)) + math.log(2))
    assert t.total.item() == pytest.approx(expected, abs=1e-6)


def test_spectrogram_shape_and_peak():
    t = torch.arange(396) / 198.0
    x = torch.sin(2 * math.pi * 24.75 * t)[None, :, None].repeat(2, 1, 6)
    s = imu_spectrogram(x, n_fft=64, hop=8)
    assert s.shape == (2, 6, 33, 50)
    assert int(s[0, 3].mean(dim=1).argmax()) == 8


@pytest.mark.parametrize("name,dim", [("small", 128), ("egodistill1d", 128)])
def test_model_embeddings(name, dim):
    from egodistill.models.config import TeacherConfig
    from egodistill.models.teachers import build_teacher

    video = build_teacher(
        TeacherConfig(name="tiny3d", weights="none", crop_size=32, tiny_width=4, num_classes=3)
    )
    model = CorrespondenceModel(video, build_imu_encoder(name), embed_dim=16, freeze_video=True)
    v, m, _ = model(torch.rand(2, 3, 8, 32, 32), torch.randn(2, 396, 6))
    assert v.shape == m.shape == (2, 16)
    assert torch.allclose(v.norm(dim=1), torch.ones(2))
    model.train()
    assert not model.video.training and all(not p.requires_grad for p in model.video.parameters())
    assert model.scale(100.0).item() == pytest.approx(1 / 0.07, rel=1e-5)


def test_auc_and_retrieval_constructed():
    assert correspondence_auc(np.array([[0.5, 0.6], [0.4, 0.7]])) == pytest.approx(0.75)
    s = np.array([[0.9, 0.1, 0.3], [0.8, 0.2, 0.1], [0.1, 0.2, 0.7]])
    assert correspondence_auc(s) == pytest.approx(0.805556, abs=1e-6)
    r = retrieval(s, (1, 2))
    assert r["mrr"] == pytest.approx(0.833333, abs=1e-6)
    assert r["r@1"] == pytest.approx(2 / 3) and r["r@2"] == 1.0
    est = auc_estimate(s, resamples=200)
    assert est.n == 9 and est.low <= est.value <= est.high


def test_wilson():
    w = wilson(8, 10)
    assert (
        w.value == 0.8
        and w.low == pytest.approx(0.4902, abs=1e-3)
        and w.high == pytest.approx(0.9433, abs=1e-3)
    )
