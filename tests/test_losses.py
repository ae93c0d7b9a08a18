"""Each loss against numbers worked out by hand (seed paper eq. 3-7)."""

from __future__ import annotations

import math

import pytest
import torch

from egodistill.losses import (
    egodistill_loss,
    feature_l1_loss,
    gt_loss,
    info_nce_loss,
    kd_loss,
    pretrain_loss,
)

LN3 = math.log(3.0)


def test_kd_loss_by_hand():
    # student softmax([0, ln 3]) = [1/4, 3/4]; teacher softmax([0, 0]) = [1/2, 1/2]
    # KL(t || s) = 1/2 ln(2) + 1/2 ln(2/3) = 1/2 ln(4/3)
    s = torch.tensor([[0.0, LN3]])
    t = torch.tensor([[0.0, 0.0]])
    expected = 0.5 * math.log(4 / 3)
    assert kd_loss(s, t, temperature=1.0).item() == pytest.approx(expected, rel=1e-6)
    # τ = 2 with doubled logits gives the same softened distributions; Hinton's τ² scales it by 4
    assert kd_loss(2 * s, t, temperature=2.0).item() == pytest.approx(4 * expected, rel=1e-6)
    assert kd_loss(2 * s, t, temperature=2.0, scale_by_temperature_squared=False).item() == pytest.approx(
        expected, rel=1e-6
    )
    # batch mean: a second, identical-distribution row leaves it unchanged; equal logits give 0
    assert kd_loss(s.repeat(2, 1), t.repeat(2, 1), temperature=1.0).item() == pytest.approx(
        expected, rel=1e-6
    )
    assert kd_loss(t, t).item() == pytest.approx(0.0, abs=1e-7)


def test_kd_loss_does_not_backpropagate_into_the_teacher():
    s = torch.tensor([[0.0, 1.0]], requires_grad=True)
    t = torch.tensor([[1.0, 0.0]], requires_grad=True)
    kd_loss(s, t).backward()
    assert s.grad is not None and t.grad is None


def test_gt_loss_by_hand():
    logits = torch.tensor([[0.0, LN3], [0.0, LN3]])  # softmax [1/4, 3/4]
    # label 1: -ln(3/4); label 0: -ln(1/4); mean
    expected = (math.log(4 / 3) + math.log(4)) / 2
    assert gt_loss(logits, torch.tensor([1, 0])).item() == pytest.approx(expected, rel=1e-6)


def test_l1_loss_by_hand():
    student = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    teacher = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    # |diff| = [[1, 2], [2, 3]]: element mean 2.0; per-clip L1 norms 3 and 5 -> batch mean 4.0
    assert feature_l1_loss(student, teacher).item() == pytest.approx(2.0)
    assert feature_l1_loss(student, teacher, reduction="batchmean").item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="feature dim"):
        feature_l1_loss(student, teacher[:, :1])


def test_total_loss_by_hand():
    s = torch.tensor([[0.0, LN3]])
    t = torch.tensor([[0.0, 0.0]])
    labels = torch.tensor([1])
    zs, zt = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, 0.0]])
    kd, gt, l1 = 0.5 * math.log(4 / 3), math.log(4 / 3), 1.5
    terms = egodistill_loss(s, labels, t, zs, zt, temperature=1.0)  # α = 0.95, β = 1.0
    assert terms.total.item() == pytest.approx(0.95 * kd + 0.05 * gt + 1.0 * l1, rel=1e-6)
    assert (terms.kd.item(), terms.gt.item(), terms.l1.item()) == pytest.approx((kd, gt, l1), rel=1e-6)
    terms = egodistill_loss(s, labels, t, zs, zt, alpha=0.5, beta=2.0, temperature=1.0)
    assert terms.total.item() == pytest.approx(0.5 * kd + 0.5 * gt + 2.0 * l1, rel=1e-6)
    # VisOnly / VisIMU: L_GT only (other terms still reported when given)
    terms = egodistill_loss(s, labels, t, zs, zt, distill=False)
    assert terms.total.item() == pytest.approx(gt, rel=1e-6) and terms.l1 is not None
    assert egodistill_loss(s, labels, distill=False).kd is None
    with pytest.raises(ValueError, match="distill=False"):
        egodistill_loss(s, labels, t)


def test_info_nce_by_hand():
    eye = torch.eye(2)
    # aligned: cos = 1 on the diagonal, 0 off it -> -log(e^10 / (e^10 + e^0)) = log(1 + e^-10)
    assert info_nce_loss(eye, eye).item() == pytest.approx(math.log1p(math.exp(-10.0)), abs=1e-6)  # float32
    # swapped targets: the positive has cos 0, the negative cos 1 -> log(1 + e^10)
    swapped = eye.flip(0)
    assert info_nce_loss(eye, swapped).item() == pytest.approx(math.log1p(math.exp(10.0)), rel=1e-6)
    # cosine similarity: scaling either side changes nothing; τ' enters as 1/τ'
    assert info_nce_loss(5 * eye, 0.1 * eye).item() == pytest.approx(info_nce_loss(eye, eye).item(), rel=1e-5)
    assert info_nce_loss(eye, eye, temperature=1.0).item() == pytest.approx(
        math.log1p(math.exp(-1.0)), rel=1e-6
    )


def test_info_nce_uses_in_batch_negatives():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(6, 16, generator=g)
    k = q + 0.3 * torch.randn(6, 16, generator=g)  # each prediction is closest to its own target
    aligned = info_nce_loss(q, k)
    perm = torch.tensor([1, 2, 3, 4, 5, 0])
    shuffled = info_nce_loss(q, k[perm])
    assert aligned < shuffled
    # manual: cross-entropy of each row of the cosine-similarity matrix / τ' against the diagonal
    qn, kn = q / q.norm(dim=1, keepdim=True), k / k.norm(dim=1, keepdim=True)
    sim = torch.exp(qn @ kn.t() / 0.1)
    manual = -torch.log(sim.diag() / sim.sum(dim=1)).mean()
    torch.testing.assert_close(aligned, manual, rtol=1e-5, atol=1e-6)
    # permuting both sides together keeps the pairs, hence the loss; a batch of one has no negatives
    torch.testing.assert_close(info_nce_loss(q[perm], k[perm]), aligned)
    assert info_nce_loss(q[:1], k[:1]).item() == pytest.approx(0.0, abs=1e-6)


def test_pretrain_loss_is_nce_plus_l1():
    eye = torch.eye(2)
    zs, zt = torch.tensor([[1.0, -2.0], [0.0, 0.0]]), torch.zeros(2, 2)
    terms = pretrain_loss(eye, eye, zs, zt)
    assert terms.nce.item() == pytest.approx(math.log1p(math.exp(-10.0)), abs=1e-6)
    assert terms.l1.item() == pytest.approx(0.75)
    assert terms.total.item() == pytest.approx(terms.nce.item() + 0.75, rel=1e-6)
