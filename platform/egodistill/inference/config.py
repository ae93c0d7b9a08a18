"""Configs of ``egodistill predict`` and ``egodistill retrieve`` (typed; unknown keys are errors)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from egodistill.config import ConfigError, StrictConfig
from egodistill.datasets.imu import ImuWindowConfig


class WindowConfig(StrictConfig):
    """How windows tile a video."""

    stride_sec: float | None = Field(None, gt=0, description="None: the model window (422 / 198 Hz)")
    cover_tail: bool = Field(True, description="add a window ending at the video's end for the remainder")


class FramePolicyConfig(StrictConfig):
    """How the N frames of a window are decoded."""

    policy: Literal["exact", "keyframe"] = "exact"
    size: int | None = Field(
        None, ge=16, description="short side and centre crop (px); None: the student's training size"
    )
    decode_threads: int = Field(0, ge=0, description="FFmpeg threads per decode task (0: FFmpeg picks)")
    windows_per_batch: int = Field(32, ge=1, description="windows decoded per call and sent per batch")


class ComputeConfig(StrictConfig):
    """Ray resources."""

    actors: int | None = Field(None, ge=1, description="model replicas (None: one per GPU, else 1)")
    num_cpus_per_actor: float = Field(1.0, gt=0)
    num_gpus_per_actor: float | None = Field(None, ge=0, description="None: 1 when the cluster has GPUs")
    num_cpus_per_task: float = Field(1.0, gt=0, description="CPUs per decode task (one task per video)")
    concurrency: int | None = Field(None, ge=1, description="most decode tasks at once")
    batch_size: int = Field(32, ge=1, description="windows per model call")
    local_num_cpus: int | None = Field(
        None, ge=1, description="CPUs of a local Ray (ignored with RAY_ADDRESS)"
    )
    progress_bars: bool = False


class PredictConfig(StrictConfig):
    """``egodistill predict``: a trained student over long videos -> timelines."""

    student: str | None = Field(None, description="student directory (<ws>/checkpoints/students/<ds>/<name>)")
    dataset: Literal["ego4d", "epic"] | None = Field(None, description="layout of --root")
    root: str | None = Field(None, description="dataset root: every annotated video, ground truth drawn")
    annotations: str | None = Field(None, description="EPIC annotations folder (default: the root)")
    videos: list[str] = Field(default_factory=list, description="plain video files")
    imus: list[str] = Field(
        default_factory=list, description="one IMU entry per video ('a.csv' or 'accl,gyro')"
    )
    only: list[str] = Field(default_factory=list, description="only these video ids")
    out: str = "predictions"
    top_k: int = Field(3, ge=1)
    windows: WindowConfig = Field(default_factory=WindowConfig)
    frames: FramePolicyConfig = Field(default_factory=FramePolicyConfig)
    imu: ImuWindowConfig = Field(default_factory=ImuWindowConfig)
    min_imu_coverage: float = Field(0.8, ge=0, le=1, description="IMU windows with less are quarantined")
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    plots: bool = True

    def check(self) -> None:
        """Exactly one model and one source of videos (ConfigError otherwise)."""
        if self.student is None:
            raise ConfigError("predict needs --student DIR (a trained student directory)")
        if self.root is None and not self.videos:
            raise ConfigError("predict needs --root (with --dataset) or at least one --video")
        if self.root is not None and self.videos:
            raise ConfigError("give --root or --video, not both")
        if self.root is not None and self.dataset is None:
            raise ConfigError("--root needs --dataset ego4d|epic (its layout)")


class RetrieveConfig(StrictConfig):
    """``egodistill retrieve``: nearest clips by the student's feature (cosine)."""

    predictions: list[str] = Field(
        default_factory=list, description="predict output folders (features in it)"
    )
    clips: str | None = Field(None, description="clips dataset root; features computed with --student")
    dataset: str | None = None
    split: str | None = Field(None, description="clips: only this split")
    students: list[str] = Field(default_factory=list, description="student directories (with --clips)")
    query: str | None = Field(None, description="a clip id, or VIDEO@SECONDS")
    k: int = Field(5, ge=1)
    evaluate: bool = Field(False, description="precision@k of sharing the verb over every labelled item")
    same_video: bool = Field(False, description="allow neighbours from the query's own video")
    out: str | None = Field(None, description="folder for the PNG strip (default: beside the source)")
    batch_size: int = Field(64, ge=1)
