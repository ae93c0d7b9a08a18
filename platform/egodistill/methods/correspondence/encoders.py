"""The two towers: a teacher-zoo video backbone and the paper's spectrogram IMU encoder, with projection heads.

IMU path (seed 002 §2): each of the 6 channels (``accl_xyz, gyro_xyz``) becomes a magnitude spectrogram
(``torch.stft``, n_fft 64, hop 8, Hann window, centred): 396 samples -> 33 frequency bins x 50 frames per
channel, ``log1p`` compressed, stacked as a 6-channel image for an image CNN: torchvision VGG-16 (the paper's;
its first convolution takes 6 channels, random init: ImageNet weights expect RGB) or a small 4-block CNN for
CPU runs. Optionally EgoDistill's 1-D IMU encoder (:class:`egodistill.models.imu.IMUEncoder`) instead.
Video: a :mod:`egodistill.models.teachers` backbone's clip feature (its classifier head is unused).
Both features go through a 2-layer projection head into the shared, L2-normalised embedding.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

ImuEncoderName = Literal["vgg16", "small", "egodistill1d"]


def imu_spectrogram(imu: torch.Tensor, n_fft: int = 64, hop: int = 8) -> torch.Tensor:
    """``(B, L, C)`` IMU -> ``(B, C, n_fft // 2 + 1, 1 + L // hop)`` log-magnitude spectrograms (per channel)."""
    if imu.dim() != 3:
        raise ValueError(f"IMU must be (B, L, C), got {tuple(imu.shape)}")
    b, length, c = imu.shape
    x = imu.float().permute(0, 2, 1).reshape(b * c, length)
    window = torch.hann_window(n_fft, device=imu.device, dtype=x.dtype)
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop, window=window, center=True, return_complex=True)
    return torch.log1p(spec.abs()).reshape(b, c, spec.shape[-2], spec.shape[-1])


class SmallSpectrogramCNN(nn.Module):
    """Four Conv2d-BN-ReLU-MaxPool blocks (16, 32, 64, 128) and a global average: the CPU stand-in for VGG-16."""

    def __init__(self, in_channels: int = 6, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for k in range(4):
            out = width * 2**k
            layers += [
                nn.Conv2d(c, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            if k < 3:
                layers.append(nn.MaxPool2d(2))
            c = out
        self.net = nn.Sequential(*layers)
        self.feature_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=(2, 3))


class VGG16Spectrogram(nn.Module):
    """torchvision VGG-16 convolutions (random init) with a 6-channel first layer; global average -> 512."""

    def __init__(self, in_channels: int = 6) -> None:
        super().__init__()
        from torchvision.models import vgg16

        features = vgg16(weights=None).features
        first = features[0]
        features[0] = nn.Conv2d(in_channels, first.out_channels, 3, padding=1)
        self.features = features
        self.feature_dim = 512

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < 32:  # five 2x poolings: keep at least one cell
            x = F.interpolate(x, size=(max(32, x.shape[-2]), max(32, x.shape[-1])), mode="bilinear")
        return self.features(x).mean(dim=(2, 3))


class SpectrogramEncoder(nn.Module):
    """IMU ``(B, L, 6)`` -> spectrogram image -> image CNN feature ``(B, D)`` (module docstring)."""

    def __init__(self, backbone: str = "small", n_fft: int = 64, hop: int = 8, channels: int = 6) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.norm = nn.BatchNorm2d(channels)  # the channels' scales differ (m/s^2 vs rad/s)
        self.cnn = VGG16Spectrogram(channels) if backbone == "vgg16" else SmallSpectrogramCNN(channels)
        self.feature_dim = self.cnn.feature_dim

    def forward(self, imu: torch.Tensor) -> torch.Tensor:
        return self.cnn(self.norm(imu_spectrogram(imu, self.n_fft, self.hop)))


def build_imu_encoder(name: str, n_fft: int = 64, hop: int = 8) -> nn.Module:
    """An IMU encoder with ``feature_dim``: ``vgg16`` / ``small`` spectrogram CNNs or ``egodistill1d``."""
    if name == "egodistill1d":
        from egodistill.models.imu import IMUEncoder

        return IMUEncoder(6, 128)
    if name not in ("vgg16", "small"):
        raise ValueError(f"unknown IMU encoder {name!r} (vgg16, small, egodistill1d)")
    return SpectrogramEncoder(name, n_fft, hop)


def projection(in_dim: int, embed_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(in_dim, in_dim), nn.ReLU(inplace=True), nn.Linear(in_dim, embed_dim))


class CorrespondenceModel(nn.Module):
    """Video backbone + IMU encoder + projection heads + temperature (``logit_scale`` = log 1/tau) + BCE bias.

    ``freeze_video`` keeps the backbone's weights *and* its BatchNorm statistics fixed (Table 3's "freeze").
    """

    def __init__(self, video: nn.Module, imu: nn.Module, *, embed_dim: int = 128, temperature: float = 0.07,
                 learn_temperature: bool = True, freeze_video: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.video, self.imu = video, imu
        self.video_proj = projection(int(video.feature_dim), embed_dim)
        self.imu_proj = projection(int(imu.feature_dim), embed_dim)
        scale = torch.tensor(math.log(1.0 / temperature))
        self.logit_scale = nn.Parameter(scale, requires_grad=learn_temperature)
        self.bias = nn.Parameter(torch.tensor(0.0))
        self.freeze_video = freeze_video
        if freeze_video:
            for p in self.video.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> CorrespondenceModel:
        super().train(mode)
        if self.freeze_video:
            self.video.eval()
        return self

    def video_features(self, clip: torch.Tensor) -> torch.Tensor:
        return self.video.features(clip)

    def forward(self, clip: torch.Tensor, imu: torch.Tensor, hard_imu: torch.Tensor | None = None):
        """L2-normalised (video, IMU[, hard IMU]) embeddings."""
        v = F.normalize(self.video_proj(self.video_features(clip).float()), dim=1)
        m = F.normalize(self.imu_proj(self.imu(imu.float()).float()), dim=1)
        if hard_imu is None:
            return v, m, None
        return v, m, F.normalize(self.imu_proj(self.imu(hard_imu.float()).float()), dim=1)

    def scale(self, max_logit_scale: float) -> torch.Tensor:
        """1/tau, clamped to [1, max_logit_scale] (a learned tau that runs away ruins the softmax)."""
        return self.logit_scale.clamp(0.0, math.log(max_logit_scale)).exp()


__all__ = ["CorrespondenceModel", "SmallSpectrogramCNN", "SpectrogramEncoder", "VGG16Spectrogram",
           "build_imu_encoder", "imu_spectrogram", "projection"]  # fmt: skip
