"""The EgoDistill student Φ and its baselines (seed paper section 3.3-3.4, 4.2, supplement C).

::

    frames (B, N, 3, 224, 224) --f_I (frozen ResNet-18)--> (B, N, 512) ---+   [or cached (B, N, 512)]
                                 N > 1: GRU(512) last state / N = 1: the frame's feature
                                                                         z_I (B, 512)
    IMU (B, 422, 6) --f_M (dilated 1-D CNN)--> z_M (B, d_M)                 |
                                                                         v
                         z_φ = Π(concat(z_I, z_M)) (B, D = teacher feature dim, 768)
                         logits = Linear(D, C)(z_φ)

Variants (``cfg.variant``, see :data:`~egodistill.models.config.VARIANTS`): ``egodistill`` and
``visimu`` are the model above (they differ in their loss); ``visonly`` and ``visonly_distill`` have no
IMU branch and Π is the same two-layer MLP on z_I alone, so L_1 to the teacher feature still applies.

Stage 1 (section 3.4) uses :meth:`EgoDistillStudent.pretrain_forward`: h predicts z_M from the first
and last frames' features, for L_NCE, and Π's output feeds L_1.

Because f_I is frozen, every entry point takes either images or precomputed 512-d frame features; both
give the same result (the encoder runs in eval mode without gradients).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from egodistill.models.config import VARIANTS, StudentConfig
from egodistill.models.fusion import FrameAggregator, FusionMLP, IMUPredictor
from egodistill.models.image import IMAGE_FEATURE_DIM, ImageEncoder
from egodistill.models.imu import IMUEncoder
from egodistill.models.weights import load_state_dict_strict, read_checkpoint


class StudentOutput(NamedTuple):
    logits: torch.Tensor  # (B, C)
    fused: torch.Tensor  # z_φ, (B, D)
    image_feature: torch.Tensor  # z_I, (B, 512 or gru_hidden)
    imu_feature: torch.Tensor | None  # z_M, (B, d_M); None for the VisOnly variants


class PretrainOutput(NamedTuple):
    predicted_imu: torch.Tensor  # ẑ_M = h(z_I^0, z_I^T), (B, d_M)
    imu_feature: torch.Tensor  # z_M = f_M(M), (B, d_M)
    fused: torch.Tensor  # z_φ = Π(z_I, z_M), (B, D), for the L_1 term of L_pretrain


class EgoDistillStudent(nn.Module):
    """Φ(I, M): see the module docstring. Built from a :class:`StudentConfig`."""

    def __init__(self, cfg: StudentConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.spec = VARIANTS[cfg.variant]
        self.num_frames = cfg.num_frames
        self.image_encoder = ImageEncoder(
            cfg.image_weights,
            frozen=cfg.freeze_image_encoder,
            allow_download=cfg.allow_download,
            download_timeout_s=cfg.download_timeout_s,
        )
        self.aggregator = FrameAggregator(IMAGE_FEATURE_DIM, cfg.gru_hidden) if cfg.num_frames > 1 else None
        image_dim = cfg.gru_hidden if self.aggregator is not None else IMAGE_FEATURE_DIM
        if self.spec.uses_imu:
            self.imu_encoder: IMUEncoder | None = IMUEncoder(
                cfg.imu_channels, cfg.imu_feature_dim, dropout=cfg.imu_dropout, center=cfg.imu_center
            )
            self.predictor: IMUPredictor | None = IMUPredictor(
                IMAGE_FEATURE_DIM, cfg.predictor_hidden, cfg.imu_feature_dim
            )
            fusion_in = image_dim + cfg.imu_feature_dim
        else:
            self.imu_encoder = None
            self.predictor = None
            fusion_in = image_dim
        self.fusion = FusionMLP(fusion_in, cfg.fusion_hidden, cfg.teacher_feature_dim)
        self.classifier = nn.Linear(cfg.teacher_feature_dim, cfg.num_classes)

    @property
    def uses_imu(self) -> bool:
        return self.spec.uses_imu

    # --- pieces ------------------------------------------------------------------------------------
    def frame_features(
        self,
        frames: torch.Tensor | None = None,
        frame_features: torch.Tensor | None = None,
        *,
        n: int | None = None,
    ) -> torch.Tensor:
        """Per-frame f_I features ``(B, n, 512)`` from frames ``(B, n, 3, H, W)`` or pass cached ones through."""
        n = self.num_frames if n is None else n
        if (frames is None) == (frame_features is None):
            raise ValueError("give exactly one of frames (B, N, 3, H, W) or frame_features (B, N, 512)")
        if frames is not None:
            if frames.dim() != 5 or frames.shape[1] != n or frames.shape[2] != 3:
                raise ValueError(f"frames must be (B, {n}, 3, H, W), got {tuple(frames.shape)}")
            return self.image_encoder.encode_frames(frames)
        assert frame_features is not None
        if frame_features.dim() != 3 or frame_features.shape[1:] != (n, IMAGE_FEATURE_DIM):
            raise ValueError(
                f"frame_features must be (B, {n}, {IMAGE_FEATURE_DIM}), got {tuple(frame_features.shape)}"
            )
        return frame_features

    def image_feature(self, frame_features: torch.Tensor) -> torch.Tensor:
        """z_I: the GRU's last hidden state for N > 1, the single frame's feature for N = 1."""
        if self.aggregator is None:
            return frame_features[:, 0]
        return self.aggregator(frame_features)

    def imu_feature(self, imu: torch.Tensor) -> torch.Tensor:
        """z_M = f_M(IMU), IMU ``(B, L, 6)``."""
        if self.imu_encoder is None:
            raise ValueError(f"variant {self.cfg.variant!r} has no IMU branch")
        return self.imu_encoder(imu)

    # --- entry points ------------------------------------------------------------------------------
    def forward(
        self,
        frames: torch.Tensor | None = None,
        frame_features: torch.Tensor | None = None,
        imu: torch.Tensor | None = None,
    ) -> StudentOutput:
        """Φ(I, M). ``imu`` is required with an IMU branch and ignored by the VisOnly variants."""
        z_i = self.image_feature(self.frame_features(frames, frame_features))
        z_m = None
        if self.imu_encoder is not None:
            if imu is None:
                raise ValueError(f"variant {self.cfg.variant!r} needs imu (B, {self.cfg.imu_length}, 6)")
            z_m = self.imu_encoder(imu)
            fused = self.fusion(z_i, z_m)
        else:
            fused = self.fusion(z_i)
        return StudentOutput(self.classifier(fused), fused, z_i, z_m)

    def pretrain_forward(
        self,
        imu: torch.Tensor,
        boundary_frames: torch.Tensor | None = None,
        boundary_features: torch.Tensor | None = None,
        frames: torch.Tensor | None = None,
        frame_features: torch.Tensor | None = None,
    ) -> PretrainOutput:
        """Stage 1 (section 3.4): ẑ_M = h(z_I^0, z_I^T), z_M = f_M(M) and z_φ = Π(z_I, z_M).

        ``boundary_*`` are the clip's first and last frames ``(B, 2, 3, H, W)`` or their features
        ``(B, 2, 512)``; ``frames``/``frame_features`` are the N student frames fed to Π.
        """
        if self.predictor is None:
            raise ValueError(f"variant {self.cfg.variant!r} has no IMU branch to pretrain")
        ends = self.frame_features(boundary_frames, boundary_features, n=2)
        z_m = self.imu_feature(imu)
        z_i = self.image_feature(self.frame_features(frames, frame_features))
        return PretrainOutput(self.predictor(ends[:, 0], ends[:, 1]), z_m, self.fusion(z_i, z_m))

    def load_checkpoint(self, path: str | Path, *, ignore_missing: tuple[str, ...] = ()) -> None:
        """Load a student state dict (e.g. stage 1 -> stage 2) with a clear error on any mismatch."""
        load_state_dict_strict(self, read_checkpoint(path), str(path), ignore_missing=ignore_missing)


def build_student(cfg: StudentConfig) -> EgoDistillStudent:
    return EgoDistillStudent(cfg)
