"""A scale model: measured per-clip costs on this machine, projected to the full Ego4D on a cluster.

Why: the demo runs on a few synthetic minutes; deciding what a full run needs (how many cores, GPUs,
days, terabytes) takes per-clip costs measured with the platform's own code, then plain arithmetic.

*Measured* (:func:`egodistill.capacity.measure.measure_costs`): a tiny synthetic Ego4D world is generated and indexed; its videos
are expanded to dense clips (the clip sampling the projection assumes) and ingested by calling the
Ray Data map function (:func:`egodistill.ingest.worker.process_video_task`) directly, one video at a
time in this process, so the time is one core's; the features pass's decoder
(:func:`egodistill.teacher.data.decode_task`) decodes the teacher's dense clips and the configured
teacher runs forward on a batch (random weights: cost does not depend on weights); the frozen f_I
runs over stored frame pools read back from the clips Parquet; a stage-2 training step runs
(student + eq. 6 losses + AdamW); bytes per row are read from the Parquet files written.

*Projected* (:func:`project`): time per stage and storage for a :class:`CorpusSpec` on a
:class:`ClusterSpec`. Every figure that is not measured (GPU speed-up, decode cost at the source
resolution, the annotated fraction, I/O bandwidth) is an explicit input, and the projection lists
which of them it used under ``assumptions``. See docs/scale.md for the formulae and caveats.

Why this module is long: the projection's dataclasses and its arithmetic read as one derivation (docs/scale.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: Assumed per-GPU speed-up over one CPU core when no GPU timing was measured. Order-of-magnitude
#: guesses (see docs/scale.md): a large video model keeps a GPU busy (hundreds of times a core), a
#: small student step is launch-bound (tens of times). Replace with ``--costs-json`` from a GPU box.
DEFAULT_GPU_SPEEDUP_TEACHER = 200.0
DEFAULT_GPU_SPEEDUP_STUDENT = 20.0
#: Below this many clips per data-parallel worker a step no longer costs what it cost at the measured
#: batch (per-step overheads dominate), so the projection uses at most batch / this many workers.
DEFAULT_MIN_WORKER_BATCH = 8

_Log = Callable[[str], None]


def _positive(name: str, value: float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


@dataclass(frozen=True)
class ClipCosts:
    """Per-clip costs of each stage, measured by :func:`measure_costs` (or loaded from its JSON).

    Seconds are per clip on one CPU core (``*_sec``) or on one GPU (``*_gpu_sec``, None when not
    measured). ``ingest_decode_sec`` and ``teacher_decode_sec``/``image_decode_sec`` are the parts
    done on CPU cores; only the video-decoding parts scale with the source resolution.
    """

    ingest_sec: float
    """Ingest, whole per-video task per clip: IMU load + window, sparse PyAV decode, resize/crop, JPEG, Parquet write."""
    ingest_decode_sec: float
    """The part of ingest_sec spent decoding video and transforming the picked frames (scales with pixels)."""
    teacher_decode_sec: float
    """Features pass: dense teacher clip decode (16 x 4 frames resized) per clip, one core (scales with pixels)."""
    teacher_forward_sec: float
    """Teacher forward per clip on one CPU core (torch threads = 1)."""
    image_decode_sec: float
    """f_I cache: JPEG decode of the stored frame pool per clip, one core."""
    image_forward_sec: float
    """f_I cache: frozen ResNet-18 over the frame pool per clip, one CPU core."""
    student_step_sec: float
    """Stage-2 training step (forward, losses, backward, AdamW) per clip, one CPU core, cached f_I features."""
    clip_row_bytes: float
    """Bytes per row of the clips Parquet (marginal: per-file footer excluded)."""
    feature_row_bytes: float
    """Bytes per row of the teacher-features Parquet (marginal)."""
    source_pixels: int
    """Width x height of the video the decode times were measured on."""
    teacher_forward_gpu_sec: float | None = None
    image_forward_gpu_sec: float | None = None
    student_step_gpu_sec: float | None = None
    context: dict[str, Any] = field(default_factory=dict)
    """How and where it was measured (machine, teacher, clip counts, batch sizes, load average)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in ("context",):
                continue
            _positive(f"ClipCosts.{f.name}", getattr(self, f.name), allow_none=f.name.endswith("_gpu_sec"))
        if self.ingest_decode_sec > self.ingest_sec:
            raise ValueError(
                f"ClipCosts.ingest_decode_sec ({self.ingest_decode_sec}) is part of ingest_sec ({self.ingest_sec})"
                " and cannot exceed it"
            )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ClipCosts:
        """Costs saved by :meth:`to_json` (e.g. measured on a GPU machine); unknown keys are an error."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ClipCosts fields in JSON: {unknown}")
        return cls(**data)


@dataclass(frozen=True)
class CorpusSpec:
    """What to project for. Defaults: dense clips over all of Ego4D (an upper bound on clip count).

    ``clips = hours x 3600 x annotated_fraction / clip_stride_sec`` unless ``clips`` is given: windows
    of the model-window width placed ``clip_stride_sec`` apart, as ``dense_clips`` does over a long
    segment (default stride: half the 422/198 s window, ``DenseClipConfig``). ``annotated_fraction``
    is the share of the hours that clips cover (1.0: every hour densely; lower it for the FHO-annotated,
    IMU-bearing subset EgoDistill trains on).
    """

    hours: float = 3670.0
    annotated_fraction: float = 1.0
    clip_stride_sec: float | None = None
    """None: half the model window (the platform's dense-clip default)."""
    clips: int | None = None
    """Override the derived clip count."""
    train_fraction: float | None = None
    """Share of clips in the training split; None: 1 - the index's val_fraction."""
    stage2_epochs: int | None = None
    """None: the paper preset's stage-2 epochs on Ego4D."""
    batch_size: int | None = None
    """Global stage-2 batch; None: the paper preset's."""
    source_width: int = 1920
    source_height: int = 1080
    """Resolution of the real videos (assumed 1080p for Ego4D full_scale; varies per device)."""
    decode_scale: float | None = None
    """Decode cost at the source resolution / measured; None: pixel ratio (assumption)."""
    video_mbps: float | None = None
    """Source bitrate, for an I/O bound (assumed; None: I/O not modelled)."""

    def __post_init__(self) -> None:
        _positive("CorpusSpec.hours", self.hours)
        if not 0 < self.annotated_fraction <= 1:
            raise ValueError(
                f"CorpusSpec.annotated_fraction must be in (0, 1], got {self.annotated_fraction!r}"
            )
        if self.train_fraction is not None and not 0 < self.train_fraction <= 1:
            raise ValueError(f"CorpusSpec.train_fraction must be in (0, 1], got {self.train_fraction!r}")
        for name in ("clip_stride_sec", "decode_scale", "video_mbps"):
            _positive(f"CorpusSpec.{name}", getattr(self, name), allow_none=True)
        for name in ("clips", "stage2_epochs", "batch_size", "source_width", "source_height"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"CorpusSpec.{name} must be a positive integer, got {v!r}")

    @property
    def window_sec(self) -> float:
        from egodistill.datasets.imu import ImuWindowConfig

        return ImuWindowConfig().window_sec

    @property
    def stride_sec(self) -> float:
        return self.clip_stride_sec or self.window_sec / 2

    @property
    def num_clips(self) -> int:
        if self.clips is not None:
            return self.clips
        return int(self.hours * 3600.0 * self.annotated_fraction / self.stride_sec)

    @property
    def train_share(self) -> float:
        if self.train_fraction is not None:
            return self.train_fraction
        from egodistill.datasets.config import SplitConfig

        return 1.0 - SplitConfig().val_fraction

    @property
    def epochs(self) -> int:
        if self.stage2_epochs is not None:
            return self.stage2_epochs
        from egodistill.methods.egodistill.config import DistillJobConfig

        return int(DistillJobConfig(data={"dataset": "ego4d"}).optim.epochs or 1)

    @property
    def global_batch(self) -> int:
        if self.batch_size is not None:
            return self.batch_size
        from egodistill.methods.egodistill.config import DistillJobConfig

        return int(DistillJobConfig().optim.batch_size)


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster shape: CPU-only nodes plus GPU nodes (whose CPU cores also decode).

    ``gpu_speedup_*`` is one GPU's throughput over one CPU core for that work; it is used only when the
    costs carry no measured GPU time, and is then listed as an assumption (None: the module default).
    """

    name: str
    cpu_nodes: int = 1
    cores_per_node: int = 2
    gpu_nodes: int = 0
    gpus_per_node: int = 1
    gpu_node_cores: int = 16
    gpu_speedup_teacher: float | None = None
    gpu_speedup_student: float | None = None
    storage_gbps: float | None = None
    """Aggregate read bandwidth from the video store, GB/s (assumed; None: not modelled)."""
    min_worker_batch: int = DEFAULT_MIN_WORKER_BATCH

    def __post_init__(self) -> None:
        for name in ("cpu_nodes", "gpu_nodes"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"ClusterSpec.{name} must be an integer >= 0, got {v!r}")
        for name in ("cores_per_node", "gpus_per_node", "gpu_node_cores", "min_worker_batch"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"ClusterSpec.{name} must be an integer >= 1, got {v!r}")
        for name in ("gpu_speedup_teacher", "gpu_speedup_student", "storage_gbps"):
            _positive(f"ClusterSpec.{name}", getattr(self, name), allow_none=True)
        if self.cores == 0:
            raise ValueError(f"ClusterSpec {self.name!r} has no CPU cores (cpu_nodes and gpu_nodes are 0)")

    @property
    def cores(self) -> int:
        return self.cpu_nodes * self.cores_per_node + self.gpu_nodes * self.gpu_node_cores

    @property
    def gpus(self) -> int:
        return self.gpu_nodes * self.gpus_per_node

    def describe(self) -> str:
        parts = []
        if self.cpu_nodes:
            parts.append(f"{self.cpu_nodes} x {self.cores_per_node}-core CPU")
        if self.gpu_nodes:
            parts.append(f"{self.gpu_nodes} x ({self.gpus_per_node} GPU + {self.gpu_node_cores} cores)")
        return " + ".join(parts) + f" = {self.cores} cores, {self.gpus} GPUs"


@dataclass(frozen=True)
class StageTime:
    """One stage's projected wall time and the resources it keeps busy."""

    stage: str
    wall_sec: float
    core_sec: float
    """CPU core-seconds of work (all clips, all epochs)."""
    gpu_sec: float
    """GPU-seconds of work (0 on a CPU-only cluster)."""
    bound: str
    """What limits the wall time: cpu, gpu, io or workers."""


@dataclass(frozen=True)
class Projection:
    cluster: ClusterSpec
    clips: int
    train_clips: int
    epochs: int
    stages: list[StageTime]
    storage_bytes: dict[str, float]
    assumptions: list[str]

    @property
    def total_wall_sec(self) -> float:
        return sum(s.wall_sec for s in self.stages)


def _gpu_time(measured: float | None, cpu_sec: float, speedup: float | None, default: float, what: str,
              assumptions: list[str]) -> float:  # fmt: skip
    if measured is not None:
        return measured
    factor = speedup if speedup is not None else default
    note = f"{what} on a GPU = CPU-core time / {factor:g} (assumed GPU speed-up"
    assumptions.append(note + (")" if speedup is not None else ", module default)"))
    return cpu_sec / factor


def project(costs: ClipCosts, corpus: CorpusSpec, cluster: ClusterSpec) -> Projection:
    """Wall time per stage and storage for ``corpus`` on ``cluster`` (formulae in docs/scale.md).

    Work is split evenly over the units that do it (cores for decoding and CPU compute, GPUs for model
    compute when there are any); stages whose CPU and GPU parts run as a pipeline (features pass, f_I
    cache) take the slower of the two. Stage-2 training is data-parallel over GPUs (or cores on a
    CPU-only cluster), at most ``batch / min_worker_batch`` workers. Scheduling, start-up, all-reduce
    and evaluation are not modelled.
    """
    if (
        not isinstance(costs, ClipCosts)
        or not isinstance(corpus, CorpusSpec)
        or not isinstance(cluster, ClusterSpec)
    ):
        raise TypeError("project(costs: ClipCosts, corpus: CorpusSpec, cluster: ClusterSpec)")
    assumptions: list[str] = []
    n = corpus.num_clips
    if corpus.clips is None:
        assumptions.append(
            f"clips = {corpus.hours:g} h x 3600 x annotated fraction {corpus.annotated_fraction:g} / stride "
            f"{corpus.stride_sec:.4f} s = {n:,} (dense windows over the covered hours)"
        )
    else:
        assumptions.append(f"clips = {n:,} (given)")
    scale = corpus.decode_scale
    if scale is None:
        scale = corpus.source_width * corpus.source_height / costs.source_pixels
        assumptions.append(
            f"video decode cost x {scale:.1f} = source {corpus.source_width}x{corpus.source_height} pixels / "
            f"measured {costs.source_pixels} pixels (decode cost proportional to pixel count)"
        )
    else:
        assumptions.append(f"video decode cost x {scale:g} (given decode scale)")
    cores, gpus = cluster.cores, cluster.gpus
    io_bytes = None
    if corpus.video_mbps is not None and cluster.storage_gbps is not None:
        io_bytes = corpus.hours * 3600.0 * corpus.annotated_fraction * corpus.video_mbps * 1e6 / 8
        assumptions.append(
            f"video read once per video-reading stage: {io_bytes / 1e12:.1f} TB at {corpus.video_mbps:g} Mb/s, "
            f"{cluster.storage_gbps:g} GB/s aggregate"
        )
    io_sec = io_bytes / (cluster.storage_gbps * 1e9) if io_bytes is not None and cluster.storage_gbps else 0.0
    stages: list[StageTime] = []

    # ingest: CPU only, one video per task
    ingest = (costs.ingest_sec - costs.ingest_decode_sec) + costs.ingest_decode_sec * scale
    work = n * ingest
    wall, bound = work / cores, "cpu"
    if io_sec > wall:
        wall, bound = io_sec, "io"
    stages.append(StageTime("ingest (sparse frames + IMU)", wall, work, 0.0, bound))

    def decode_then_forward(label: str, decode_sec: float, forward_sec: float, forward_gpu_sec: float | None,
                            what: str, io: float = 0.0) -> StageTime:  # fmt: skip
        """CPU decode tasks feeding a model (actor pool): the slower side bounds the stage."""
        decode = n * decode_sec
        if gpus:
            fwd = n * _gpu_time(forward_gpu_sec, forward_sec, cluster.gpu_speedup_teacher,
                                DEFAULT_GPU_SPEEDUP_TEACHER, what, assumptions)  # fmt: skip
            cpu_wall, gpu_wall = decode / cores, fwd / gpus
            wall, bound = (cpu_wall, "cpu") if cpu_wall >= gpu_wall else (gpu_wall, "gpu")
            core_work, gpu_work = decode, fwd
        else:
            core_work, gpu_work = decode + n * forward_sec, 0.0
            wall, bound = core_work / cores, "cpu"
        if io > wall:
            wall, bound = io, "io"
        return StageTime(label, wall, core_work, gpu_work, bound)

    # features pass: the teacher's dense clips decoded on CPUs; f_I cache: JPEG decode, ResNet-18
    stages.append(decode_then_forward("teacher features (dense decode + forward)", costs.teacher_decode_sec * scale,
                                      costs.teacher_forward_sec, costs.teacher_forward_gpu_sec, "teacher forward",
                                      io_sec))  # fmt: skip
    stages.append(decode_then_forward("image features (f_I cache)", costs.image_decode_sec, costs.image_forward_sec,
                                      costs.image_forward_gpu_sec, "f_I forward"))  # fmt: skip

    # stage 2: data-parallel epochs over the training split
    train = int(round(n * corpus.train_share))
    epochs, batch = corpus.epochs, corpus.global_batch
    max_workers = max(1, batch // cluster.min_worker_batch)
    if gpus:
        step = _gpu_time(costs.student_step_gpu_sec, costs.student_step_sec, cluster.gpu_speedup_student,
                         DEFAULT_GPU_SPEEDUP_STUDENT, "student step", assumptions)  # fmt: skip
        units = gpus
    else:
        step, units = costs.student_step_sec, cores
    workers = min(units, max_workers)
    work = train * epochs * step
    wall = work / workers
    bound = "workers" if workers < units else ("gpu" if gpus else "cpu")
    if workers < units:
        assumptions.append(
            f"stage 2 uses {workers} of {units} {'GPUs' if gpus else 'cores'}: global batch {batch} / at least "
            f"{cluster.min_worker_batch} clips per worker (assumed minimum for the measured per-clip cost)"
        )
    stages.append(
        StageTime(
            f"stage-2 training ({epochs} epochs)", wall, 0.0 if gpus else work, work if gpus else 0.0, bound
        )
    )

    storage = {
        "clips Parquet": n * costs.clip_row_bytes,
        "teacher features Parquet": n * costs.feature_row_bytes,
    }
    return Projection(cluster, n, train, epochs, stages, storage, assumptions)


# ----------------------------------------------------------------------------------------------
# measurement


__all__ = [
    "DEFAULT_GPU_SPEEDUP_STUDENT",
    "DEFAULT_GPU_SPEEDUP_TEACHER",
    "DEFAULT_MIN_WORKER_BATCH",
    "ClipCosts",
    "ClusterSpec",
    "CorpusSpec",
    "Projection",
    "StageTime",
    "project",
]
