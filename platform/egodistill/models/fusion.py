"""The student's small heads: fusion Π, frame aggregator (GRU) and IMU-feature predictor h.

Seed paper, supplement C: "The feature fusion model consists of a concatenation operation following
two fully-connected layers with hidden dimension of 1024. Each layer except for the output layer is
followed by a ReLU activation. The output dimension is the same as the teacher video model's feature
dimension ... When N > 1, we use a one-layer GRU module to aggregate extracted features for each frame
... single-directional GRU with hidden dimension of 512."

h (section 3.4) is not specified beyond "a feature predictor"; we use the same two-layer MLP shape as Π:
``concat(z_I^0, z_I^T) -> Linear(1024) -> ReLU -> Linear(d_M)``.
"""

from __future__ import annotations

import torch
from torch import nn


class FusionMLP(nn.Module):
    """Π: ``concat(inputs) -> Linear(hidden) -> ReLU -> Linear(out_dim)``."""

    def __init__(self, in_dim: int, hidden: int = 1024, out_dim: int = 768) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))

    def forward(self, *features: torch.Tensor) -> torch.Tensor:
        x = features[0] if len(features) == 1 else torch.cat(features, dim=-1)
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"fusion expects {self.in_dim} input features in all, got {x.shape[-1]}")
        return self.mlp(x)


class FrameAggregator(nn.Module):
    """One-layer unidirectional GRU over per-frame features; the last hidden state is the clip's z_I.

    ``(B, N, in_dim) -> (B, hidden)``.
    """

    def __init__(self, in_dim: int = 512, hidden: int = 512) -> None:
        super().__init__()
        self.gru = nn.GRU(in_dim, hidden, num_layers=1, batch_first=True, bidirectional=False)
        self.out_dim = hidden

    def forward(self, frame_features: torch.Tensor) -> torch.Tensor:
        _, h_n = self.gru(frame_features)
        return h_n[-1]


class IMUPredictor(nn.Module):
    """h: ``(z_I^0, z_I^T) -> ẑ_M``, the IMU feature predicted from a clip's first and last frame features."""

    def __init__(self, image_dim: int = 512, hidden: int = 1024, imu_dim: int = 128) -> None:
        super().__init__()
        self.mlp = FusionMLP(2 * image_dim, hidden, imu_dim)

    def forward(self, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        return self.mlp(first, last)
