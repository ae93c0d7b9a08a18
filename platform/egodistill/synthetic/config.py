"""Settings of the synthetic egocentric world (``egodistill synth``).

The defaults give the demo dataset: 4 videos x 90 s at 160x120 pixels, which renders, encodes
and writes in well under two minutes on two cores (see ``benchmarks/bench_synth.py``).
Every field is part of the ground truth (``synthetic_ground_truth.json`` stores the whole config),
so a dataset can be rebuilt frame by frame from it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from egodistill.config import StrictConfig

LAYOUT_FPS = {"ego4d": 30.0, "epic": 50.0}
"""Frame rate of each real layout: Ego4D canonical videos are 30 fps, EPIC-100 extension videos 50 fps."""


class SynthConfig(StrictConfig):
    """One synthetic dataset: layout, size, rendering, motion and sensor-noise knobs."""

    layout: Literal["ego4d", "epic"] = "ego4d"
    profile: Literal["human", "dog"] = Field(
        "human",
        description="human: the kitchen verbs; dog: a dog's head (walk, shake, look-left, look-right)",
    )
    out: str = Field("synthetic_data", description="output directory (the dataset root)")
    videos: int = Field(4, ge=1, le=10_000)
    seconds: float = Field(90.0, ge=5.0, le=7200.0, description="duration of every video")
    seed: int = Field(0, ge=0)

    # rendering / encoding
    width: int = Field(160, ge=16, le=1920)
    height: int = Field(120, ge=16, le=1080)
    fps: float | None = Field(None, gt=0, le=120, description="None = the layout's real rate (30 / 50)")
    hfov_deg: float = Field(90.0, gt=20, lt=170, description="horizontal field of view of the pinhole camera")
    codec: Literal["h264", "vp9"] = "h264"
    crf: int = Field(23, ge=0, le=63)
    audio: bool = Field(True, description="add a 16 kHz mono AAC track with action sounds")

    # actions and head motion
    motion_correlation: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="how strongly incidental head motion follows the verb (1 = always the verb's "
        "characteristic motion, 0 = head motion independent of the verb); see actions.py",
    )
    idle_min_sec: float = Field(1.5, ge=0.8)
    idle_max_sec: float = Field(4.0, ge=0.8)
    head_sway_scale: float = Field(1.0, ge=0.0, le=5.0, description="ambient head sway/tremor amplitude")

    # IMU
    imu_rate_hz: float = Field(200.0, ge=20.0, le=2000.0)
    imu_rate_spread_hz: float = Field(2.0, ge=0.0, le=50.0, description="per-video/per-sensor rate spread")
    imu_jitter_ms: float = Field(0.15, ge=0.0, le=2.0, description="std of sample-time jitter")
    imu_noise_scale: float = Field(
        1.0, ge=0.0, le=100.0, description="multiplies bias, drift and white noise"
    )
    imu_defect_rate: float = Field(
        0.15, ge=0.0, le=1.0, description="probability per video and defect kind of a planted IMU defect"
    )

    # annotations
    invalid_action_rate: float = Field(
        0.06, ge=0.0, le=1.0, description="share of Ego4D actions planted as rejected/invalid"
    )
    participants: int = Field(4, ge=1, le=99, description="EPIC participants P01..")

    workers: int | None = Field(None, ge=1, le=256, description="processes; None = all cores")

    @model_validator(mode="after")
    def _check(self) -> SynthConfig:
        if self.width % 2 or self.height % 2:
            raise ValueError(
                f"width and height must be even for yuv420p video, got {self.width}x{self.height}"
            )
        if self.idle_max_sec < self.idle_min_sec:
            raise ValueError("idle_max_sec must be >= idle_min_sec")
        return self

    @property
    def frame_rate(self) -> float:
        """Frame rate actually used: ``fps`` or the layout's real rate."""
        return float(self.fps) if self.fps is not None else LAYOUT_FPS[self.layout]
