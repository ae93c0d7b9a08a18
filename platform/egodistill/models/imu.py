"""f_M: the IMU encoder, a 5-layer 1-D dilated CNN after Brossard et al.'s GyroNet.

The seed paper (supplement C) uses "a 5-layer 1D Dilated CNN ... the same network setting (kernel
dimension, dilation gap and channel dimension) as in prior work [6]" (Brossard, Bonnabel, Barrau,
"Denoising IMU gyroscopes with deep learning", github mbrossar/denoise-imu-gyro). Their ``BaseNet`` /
``GyroNet`` (``src/networks.py``, EuRoC settings in ``main_EUROC.py``: ``c0=16``, ``ks=[7,7,7,7]``,
``ds=[4,4,4]``, ``dropout=0.1``, ``momentum=0.1``) is reproduced layer for layer; only the last 1x1 conv
outputs ``feature_dim`` channels instead of GyroNet's 3 gyro corrections, and a mean over time turns the
per-sample output into one clip feature.

Layers for the paper's input, IMU ``(B, L=422, 6)`` (time, then accel xyz, gyro xyz), transposed to
``(B, 6, 422)``:

=====  ==========================================  ===========  ======  ========  ===========
 #     layer                                       channels     kernel  dilation  time length
=====  ==========================================  ===========  ======  ========  ===========
 0     per-clip centring (supplement C)            6            --      --        422
 pad   ReplicationPad1d((510, 0)) (causal)         6            --      --        932
 1     Conv1d, BatchNorm1d, GELU, Dropout(0.1)     6 -> 16      7       1         926
 2     Conv1d, BatchNorm1d, GELU, Dropout(0.1)     16 -> 32     7       4         902
 3     Conv1d, BatchNorm1d, GELU, Dropout(0.1)     32 -> 64     7       16        806
 4     Conv1d, BatchNorm1d, GELU, Dropout(0.1)     64 -> 128    7       64        422
 5     Conv1d (1x1, linear)                        128 -> d_M   1       1         422
 pool  mean over time                              d_M          --      --        1
=====  ==========================================  ===========  ======  ========  ===========

Receptive field 1 + 6 * (1 + 4 + 16 + 64) = 511 samples, so with GyroNet's causal left padding (510
replicated first samples) every output step sees the whole past and the length is preserved. Output:
``(B, d_M)`` with d_M = ``feature_dim`` (default 128, the width of layer 4). BatchNorm momentum 0.1
(GyroNet's). Layer 0 subtracts each clip's per-channel mean, the paper's fix for IMU drift and bias; it is
idempotent, so data already centred by the pipeline is unaffected. GyroNet's dataset-level input
normalisation (``mean_u``/``std_u``) is left out: the first BatchNorm absorbs the scale.
"""

from __future__ import annotations

import torch
from torch import nn

GYRONET_CHANNELS = (16, 32, 64, 128)
GYRONET_KERNEL = 7
GYRONET_DILATION_GAP = 4


class IMUEncoder(nn.Module):
    """``(B, L, C) -> (B, feature_dim)``; see the module docstring for the layer table."""

    def __init__(
        self,
        in_channels: int = 6,
        feature_dim: int = 128,
        *,
        channels: tuple[int, int, int, int] = GYRONET_CHANNELS,
        kernel_size: int = GYRONET_KERNEL,
        dilation_gap: int = GYRONET_DILATION_GAP,
        dropout: float = 0.1,
        bn_momentum: float = 0.1,
        center: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.feature_dim = feature_dim
        self.center = center
        dilations = [dilation_gap**i for i in range(len(channels))]  # 1, 4, 16, 64
        pad = sum(d * (kernel_size - 1) for d in dilations)  # 510: GyroNet's p0
        self.receptive_field = pad + 1
        layers: list[nn.Module] = [nn.ReplicationPad1d((pad, 0))]
        cin = in_channels
        for cout, d in zip(channels, dilations, strict=True):
            layers += [
                nn.Conv1d(cin, cout, kernel_size, dilation=d),
                nn.BatchNorm1d(cout, momentum=bn_momentum),
                nn.GELU(),
                nn.Dropout(dropout),
            ]
            cin = cout
        layers.append(nn.Conv1d(cin, feature_dim, 1))
        self.cnn = nn.Sequential(*layers)

    def forward(self, imu: torch.Tensor) -> torch.Tensor:
        if imu.dim() != 3 or imu.shape[2] != self.in_channels:
            raise ValueError(
                f"f_M expects IMU (B, L, {self.in_channels}) laid out (time, channels), got {tuple(imu.shape)}"
            )
        if self.center:
            imu = imu - imu.mean(dim=1, keepdim=True)
        return self.cnn(imu.transpose(1, 2)).mean(dim=2)
