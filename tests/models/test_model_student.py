"""The EgoDistill student: frozen f_I, images vs cached features, variant shapes, stage-1 outputs."""

from __future__ import annotations

import pytest
import torch

from egodistill.losses import egodistill_loss
from egodistill.models.config import VARIANTS
from egodistill.models.weights import CheckpointMismatchError

B, SIZE, C = 3, 64, 7  # 64 px frames keep ResNet-18 fast; the architecture is size-agnostic


def _inputs(n: int, rng: torch.Generator):
    frames = torch.rand(B, n, 3, SIZE, SIZE, generator=rng)
    imu = torch.randn(B, 422, 6, generator=rng)
    return frames, imu


def test_frozen_image_encoder_gets_no_gradient_and_keeps_bn_statistics(student_factory, rng):
    student = student_factory(num_frames=2)
    student.train()
    enc = student.image_encoder
    assert student.training and not enc.training and not enc.net.bn1.training
    assert all(not p.requires_grad for p in enc.parameters())
    stats_before = {k: v.clone() for k, v in enc.state_dict().items() if "running" in k or "num_batches" in k}

    frames, imu = _inputs(2, rng)
    out = student(frames=frames, imu=imu)
    labels = torch.tensor([0, 1, 2])
    teacher_feature = torch.randn(B, 768, generator=rng)
    teacher_logits = torch.randn(B, C, generator=rng)
    egodistill_loss(out.logits, labels, teacher_logits, out.fused, teacher_feature).total.backward()

    assert all(p.grad is None for p in enc.parameters())
    for k, v in enc.state_dict().items():
        if k in stats_before:
            assert torch.equal(v, stats_before[k]), f"{k} moved in a train-mode forward"
    # the trainable parts did get gradients
    assert student.fusion.mlp[0].weight.grad is not None
    assert student.imu_encoder.cnn[1].weight.grad is not None
    assert student.aggregator.gru.weight_ih_l0.grad is not None


@pytest.mark.parametrize("n", [1, 2, 4])
def test_images_and_cached_features_give_the_same_output(student_factory, rng, n):
    student = student_factory(num_frames=n).eval()
    frames, imu = _inputs(n, rng)
    with torch.no_grad():
        cached = student.image_encoder.encode_frames(frames)
        a = student(frames=frames, imu=imu)
        b = student(frame_features=cached, imu=imu)
    assert cached.shape == (B, n, 512)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert (student.aggregator is None) == (n == 1)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("n", [1, 4])
def test_variant_shapes(student_factory, rng, variant, n):
    student = student_factory(variant=variant, num_frames=n, teacher_feature_dim=96, imu_feature_dim=32)
    feats = torch.randn(B, n, 512, generator=rng)
    imu = torch.randn(B, 422, 6, generator=rng)
    out = student(frame_features=feats, imu=imu)
    assert out.logits.shape == (B, C)
    assert out.fused.shape == (B, 96)
    assert out.image_feature.shape == (B, 512)
    if VARIANTS[variant].uses_imu:
        assert out.imu_feature.shape == (B, 32)
        assert student.fusion.in_dim == 512 + 32
    else:
        assert out.imu_feature is None
        assert student.imu_encoder is None and student.predictor is None
        assert student.fusion.in_dim == 512
        # VisOnly ignores IMU, so the same batch can feed every variant
        torch.testing.assert_close(
            student.eval()(frame_features=feats).fused, student(frame_features=feats).fused
        )


def test_pretrain_forward_shapes(student_factory, rng):
    student = student_factory(num_frames=2, imu_feature_dim=64)
    ends = torch.rand(B, 2, 3, SIZE, SIZE, generator=rng)
    frames, imu = _inputs(2, rng)
    out = student.pretrain_forward(imu, boundary_frames=ends, frames=frames)
    assert out.predicted_imu.shape == (B, 64)
    assert out.imu_feature.shape == (B, 64)
    assert out.fused.shape == (B, 768)
    with torch.no_grad():
        cached = student.image_encoder.encode_frames(ends)
    student.eval()
    a = student.pretrain_forward(imu, boundary_frames=ends, frames=frames)
    b = student.pretrain_forward(imu, boundary_features=cached, frames=frames)
    torch.testing.assert_close(a.predicted_imu, b.predicted_imu)


def test_input_errors_are_clear(student_factory, rng):
    student = student_factory(num_frames=2)
    frames, imu = _inputs(2, rng)
    with pytest.raises(ValueError, match=r"frames must be \(B, 2, 3, H, W\)"):
        student(frames=frames[:, :1], imu=imu)
    with pytest.raises(ValueError, match="exactly one of"):
        student(frames=frames, frame_features=torch.zeros(B, 2, 512), imu=imu)
    with pytest.raises(ValueError, match="needs imu"):
        student(frames=frames)
    with pytest.raises(ValueError, match=r"\(time, channels\)"):
        student(frames=frames, imu=imu.transpose(1, 2))
    with pytest.raises(ValueError, match="no IMU branch"):
        student_factory(variant="visonly").pretrain_forward(imu, boundary_features=torch.zeros(B, 2, 512))


def test_student_checkpoint_round_trip_and_mismatch(student_factory, rng, tmp_path):
    a = student_factory(num_frames=2).eval()
    path = tmp_path / "stage1.pt"
    torch.save(a.state_dict(), path)
    b = student_factory(num_frames=2).eval()
    b.load_checkpoint(path)
    feats = torch.randn(B, 2, 512, generator=rng)
    imu = torch.randn(B, 422, 6, generator=rng)
    torch.testing.assert_close(
        a(frame_features=feats, imu=imu).logits, b(frame_features=feats, imu=imu).logits
    )
    # a checkpoint saved from a DDP-wrapped model (keys prefixed "module.") loads too
    torch.save({f"module.{k}": v for k, v in a.state_dict().items()}, path)
    b.load_checkpoint(path)
    # an N = 1 checkpoint has no GRU: loading it into an N = 2 student names the file and the keys
    torch.save(student_factory(num_frames=1).state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match=r"(?s)stage1\.pt.*missing keys: aggregator\.gru"):
        b.load_checkpoint(path)
