"""Clip preprocessing: shapes, centre crop at evaluation, and no mirroring in training augmentation."""

from __future__ import annotations

import torch

from egodistill.models.config import TeacherConfig
from egodistill.models.teachers import teacher_input_spec
from egodistill.teacher.augment import centre_crop, model_input, to_unit_float
from egodistill.teacher.config import AugmentConfig

SPEC = teacher_input_spec(TeacherConfig(name="tiny3d", weights="none", crop_size=32))


def _clips(b: int = 3, t: int = 8, s: int = 37) -> torch.Tensor:
    return torch.randint(0, 256, (b, t, s, s, 3), dtype=torch.uint8)


def test_eval_input_is_the_normalised_centre_crop():
    clips = _clips()
    x = model_input(clips, SPEC, train=False)
    assert x.shape == (3, 3, 8, 32, 32) and x.dtype == torch.float32
    expected = SPEC.normalize(centre_crop(to_unit_float(clips), 32), channel_dim=1)
    assert torch.allclose(x, expected)


def test_train_input_has_the_model_shape_and_is_random():
    g = torch.Generator().manual_seed(0)
    clips = _clips()
    a = model_input(clips, SPEC, train=True, cfg=AugmentConfig(), generator=g)
    b = model_input(clips, SPEC, train=True, cfg=AugmentConfig(), generator=g)
    assert a.shape == b.shape == (3, 3, 8, 32, 32)
    assert not torch.allclose(a, b)
    assert torch.isfinite(a).all()


def test_augmentation_never_mirrors_left_and_right():
    """A clip bright on the right stays bright on the right: flips would swap turn-left / turn-right."""
    s = 40
    ramp = torch.linspace(0, 255, s).round().to(torch.uint8)
    clips = ramp.view(1, 1, 1, s, 1).expand(16, 4, s, s, 3).contiguous()  # brightness grows left -> right
    cfg = AugmentConfig(brightness=0.0, contrast=0.0, saturation=0.0, scale=(0.3, 1.0))
    g = torch.Generator().manual_seed(1)
    for _ in range(10):
        x = model_input(clips, SPEC, train=True, cfg=cfg, generator=g)
        left, right = x[..., :16].mean(dim=(1, 2, 3, 4)), x[..., -16:].mean(dim=(1, 2, 3, 4))
        assert bool((right > left).all())


def test_colour_jitter_is_shared_by_all_frames_of_a_clip():
    clips = torch.full((2, 6, 36, 36, 3), 128, dtype=torch.uint8)
    cfg = AugmentConfig(scale=(1.0, 1.0), ratio=(1.0, 1.0), brightness=0.5)
    x = model_input(clips, SPEC, train=True, cfg=cfg, generator=torch.Generator().manual_seed(3))
    per_frame = x.mean(dim=(1, 3, 4))  # (B, T)
    assert torch.allclose(per_frame, per_frame[:, :1].expand_as(per_frame), atol=1e-5)
