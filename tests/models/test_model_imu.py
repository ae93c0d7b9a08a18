"""f_M follows GyroNet layer for layer, is causal before pooling and ignores per-clip offsets."""

from __future__ import annotations

import torch
from torch import nn

from egodistill.models.imu import IMUEncoder


def test_layers_match_gyronet():
    enc = IMUEncoder()
    convs = [m for m in enc.cnn if isinstance(m, nn.Conv1d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (6, 16),
        (16, 32),
        (32, 64),
        (64, 128),
        (128, 128),
    ]
    assert [c.kernel_size[0] for c in convs] == [7, 7, 7, 7, 1]
    assert [c.dilation[0] for c in convs] == [1, 4, 16, 64, 1]
    assert isinstance(enc.cnn[0], nn.ReplicationPad1d) and enc.cnn[0].padding == (510, 0)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in enc.cnn) == 4
    assert sum(isinstance(m, nn.GELU) for m in enc.cnn) == 4
    assert all(m.p == 0.1 for m in enc.cnn if isinstance(m, nn.Dropout))
    assert enc.receptive_field == 511


def test_output_shape_and_causality():
    enc = IMUEncoder(feature_dim=32, center=False).eval()
    x = torch.randn(2, 422, 6, generator=torch.Generator().manual_seed(0))
    assert enc(x).shape == (2, 32)
    with torch.no_grad():
        per_step = enc.cnn(x.transpose(1, 2))
        assert per_step.shape == (2, 32, 422)  # length preserved by the causal padding
        y = x.clone()
        y[:, 300:] += 1.0
        changed = enc.cnn(y.transpose(1, 2))
    torch.testing.assert_close(per_step[..., :300], changed[..., :300])
    assert not torch.allclose(per_step[..., 300:], changed[..., 300:])


def test_centering_removes_per_clip_offsets():
    enc = IMUEncoder().eval()
    x = torch.randn(3, 422, 6, generator=torch.Generator().manual_seed(1))
    offset = torch.tensor([0.1, -9.81, 3.0, 0.5, -0.2, 0.01])  # gravity on one axis, gyro bias on others
    with torch.no_grad():
        torch.testing.assert_close(enc(x), enc(x + offset), atol=1e-5, rtol=1e-5)
