"""Config of the `ingest` job: which frames, at what size and quality, where, with what resources.

Defaults follow seed 000 (Implementation details): N <= 4 frames sampled uniformly from the clip,
plus its first and last frames for the stage-1 self-supervised objective (§3.4), resized to 224x224.
Only the ``frames`` and ``imu`` sections (and ``min_imu_coverage``) change what a row holds; they
form the config *fingerprint* stamped into every output file, so a re-run with different values
refuses to mix its rows into an existing dataset.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import Field, model_validator

from egodistill.config import StrictConfig
from egodistill.datasets.imu import ImuWindowConfig
from egodistill.tracking import TrackingConfig


class FrameConfig(StrictConfig):
    """Which frames are stored per clip and how they are encoded."""

    count: int = Field(4, ge=1, le=32)
    """The largest N a student uses: frames at span_start + (k + 0.5) * span / N, k = 0..N-1."""
    sampling: Literal["every_n", "count_only"] = "every_n"
    """every_n: store the union of the uniform grids of every N in 1..count (count 4: 9 frames at
    1/8, 1/6, 1/4, 3/8, 1/2, 5/8, 3/4, 5/6, 7/8 of the span), so each N selects exactly its uniform
    frames and N = 1 is the span's centre (the frame the single-frame baseline sees); count_only:
    the grid of N = count alone (4 frames; N < count then takes the nearest stored frames)."""
    first_last: bool = True
    """Also store the frames nearest the span's start and end (stage-1 pretraining)."""
    span: Literal["window", "segment"] = "window"
    """window: [window_start_sec, window_end_sec], the model window the IMU covers (default, so the
    first and last frames bound the motion the IMU saw); segment: the labelled [start_sec, end_sec]."""
    short_side: int | None = Field(224, ge=1)
    """Resize so the shorter side has this many pixels (aspect kept); None keeps the source size."""
    crop_size: int | None = Field(224, ge=1)
    """Centre crop to crop_size x crop_size after resizing; None keeps the whole frame."""
    interpolation: Literal["AREA", "BILINEAR", "BICUBIC", "LANCZOS"] = "AREA"
    jpeg_quality: int = Field(90, ge=1, le=100)
    max_offset_sec: float = Field(0.1, gt=0.0)
    """The decoded frame must lie within this of the requested time, else the clip is quarantined
    (frame_missing, clip_beyond_stream_end, video_truncated)."""
    seek_gap_sec: float = Field(5.0, gt=0.0)
    """Jump with a container seek (instead of reading packets forward) over gaps longer than this."""
    decode_threads: int = Field(0, ge=0)
    """FFmpeg decoder threads per video (0: FFmpeg's automatic choice, thread_type AUTO)."""
    timing_tolerance: float = Field(0.1, gt=0.0)
    """Relative difference allowed between the manifest's fps and the container's or the decoded
    timestamps' fps, and between the manifest's and the container's duration; beyond it the
    video's clips are quarantined (video_timing_mismatch) instead of storing frames of wrong times."""
    timing_tolerance_sec: float = Field(1.0, ge=0.0)
    """Durations closer than this (seconds) always agree (short videos, rounding in metadata)."""

    @model_validator(mode="after")
    def _crop_fits(self) -> FrameConfig:
        if self.short_side is not None and self.crop_size is not None and self.crop_size > self.short_side:
            raise ValueError(f"crop_size {self.crop_size} is larger than short_side {self.short_side}")
        return self


class OutputConfig(StrictConfig):
    """How the Parquet files are laid out."""

    row_group_rows: int = Field(128, ge=1)
    """Rows per row group: at 224 px about 100 KB a row (6 JPEGs + IMU), so ~13 MB a group, a
    streaming unit a training reader can fetch and decode while the previous one trains."""
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"


class ResourceConfig(StrictConfig):
    """Ray resources; the defaults fit a local 2-core `ray.init()`."""

    num_cpus_per_task: float = Field(1.0, gt=0.0)
    """CPUs reserved by each video-decoding task."""
    concurrency: int | None = Field(None, ge=1)
    """Most decoding tasks at once (None: as many as the CPUs allow)."""
    local_num_cpus: int | None = Field(None, ge=1)
    """CPUs for a local Ray started by the CLI (ignored when joining a cluster via RAY_ADDRESS)."""
    progress_bars: bool | None = None
    """Ray Data's progress bars (None: only with ``egodistill -v``); the driver prints a progress
    line (videos done, rate, ETA) every few seconds either way."""


class IngestConfig(StrictConfig):
    """Everything `egodistill ingest` needs to turn a clip manifest into the clips dataset."""

    manifest: str | None = None
    """Manifest Parquet file (local path or URI)."""
    out: str | None = None
    """Output root (local path or pyarrow filesystem URI): <out>/<dataset>/split=<split>/*.parquet."""
    frames: FrameConfig = Field(default_factory=FrameConfig)
    imu: ImuWindowConfig | None = None
    """None: the IMU config the manifest was indexed with (from its metadata), else the defaults;
    index and ingest must window the IMU the same way."""
    min_imu_coverage: float | None = Field(None, ge=0.0, le=1.0)
    """Quarantine clips whose IMU window covers less (imu_low_coverage); None: imu.min_coverage."""
    output: OutputConfig = Field(default_factory=OutputConfig)
    resources: ResourceConfig = Field(default_factory=ResourceConfig)
    workspace: str | None = None
    """Where the default MLflow store (<workspace>/mlflow.db) lives; None: the parent of a local
    ``out`` (``ws/clips`` -> ``ws``); with a URI ``out``, set it (or a tracking URI) to track the run."""
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    def tracking_workspace(self) -> str | None:
        """The MLflow store's workspace (see ``workspace``); None: do not track (a warning says why)."""
        from egodistill.tracking import local_folder, stage_workspace

        local = local_folder(self.out) if self.out else None
        return stage_workspace(self.tracking, self.workspace, str(local.parent) if local else None)

    def require_paths(self) -> tuple[str, str]:
        """(manifest, out), or a ConfigError naming what is missing."""
        from egodistill.config import ConfigError

        missing = [name for name in ("manifest", "out") if getattr(self, name) is None]
        if missing:
            raise ConfigError(
                f"ingest needs {' and '.join('--' + m for m in missing)} (or set them in --config)"
            )
        return self.manifest, self.out  # type: ignore[return-value]


def fingerprint(frames: FrameConfig, imu: ImuWindowConfig, min_coverage: float) -> str:
    """Short hash of every setting that changes row content (not paths, resources or layout)."""
    content = {
        "frames": frames.model_dump(
            mode="json",
            exclude={"seek_gap_sec", "decode_threads", "timing_tolerance", "timing_tolerance_sec"},
        ),
        "imu": imu.model_dump(mode="json"),
        "min_imu_coverage": min_coverage,
        "contract": "clips/v1",
    }
    return hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
