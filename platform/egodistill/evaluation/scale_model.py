"""A scale model: measured per-clip costs on this machine, projected to the full Ego4D on a cluster.

Why: the demo runs on a few synthetic minutes; deciding what a full run needs (how many cores, GPUs,
days, terabytes) takes per-clip costs measured with the platform's own code, then plain arithmetic.

*Measured* (:func:`measure_costs`): a tiny synthetic Ego4D world is generated and indexed; its videos
are expanded to dense clips (the clip sampling the projection assumes) and ingested by calling the
Ray Data map function (:func:`egodistill.ingest.worker.process_video_task`) directly, one video at a
time in this process, so the time is one core's; the features pass's decoder
(:func:`egodistill.training.data.decode_task`) decodes the teacher's dense clips and the configured
teacher runs forward on a batch (random weights: cost does not depend on weights); the frozen f_I
runs over stored frame pools read back from the clips Parquet; a stage-2 training step runs
(student + eq. 6 losses + AdamW); bytes per row are read from the Parquet files written.

*Projected* (:func:`project`): time per stage and storage for a :class:`CorpusSpec` on a
:class:`ClusterSpec`. Every figure that is not measured (GPU speed-up, decode cost at the source
resolution, the annotated fraction, I/O bandwidth) is an explicit input, and the projection lists
which of them it used under ``assumptions``. See docs/scale.md for the formulae and caveats.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
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
        from egodistill.training.student_jobs import PAPER_STAGE2, PRESETS

        preset = PRESETS["paper"].get("distill_optim", {})
        return int(preset.get("epochs") or PAPER_STAGE2["ego4d"][0])

    @property
    def global_batch(self) -> int:
        if self.batch_size is not None:
            return self.batch_size
        from egodistill.training.student_jobs import PRESETS, OptimSettings

        return int(PRESETS["paper"].get("distill_optim", {}).get("batch_size", OptimSettings().batch_size))


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


def _noop(_: str) -> None:
    pass


@contextmanager
def _random_weights_quietly() -> Iterator[None]:
    """Random weights are intended here (cost does not depend on weights): mute the loud warning."""
    import logging
    import warnings

    logger = logging.getLogger("egodistill.models.weights")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*RANDOM weights", category=RuntimeWarning)
            yield
    finally:
        logger.setLevel(level)


def teacher_config(preset: str = "paper", num_classes: int = 94) -> Any:
    """The teacher a preset trains (``training.config.PRESETS``), with random weights."""
    from egodistill.models.config import TeacherConfig
    from egodistill.training.config import PRESETS

    if preset not in PRESETS:
        raise ValueError(f"unknown teacher preset {preset!r} (known: {sorted(PRESETS)})")
    values = {**PRESETS[preset].get("teacher", {}), "weights": "none", "num_classes": num_classes}
    return TeacherConfig(**values)


def make_world(root: Path, videos: int, seconds: float, width: int, height: int, seed: int = 6) -> Path:
    """A synthetic Ego4D-layout dataset (no IMU defects, no audio): the ingest's real inputs."""
    from egodistill.synthetic import SynthConfig, generate

    out = root / "ego4d"
    generate(
        SynthConfig(
            layout="ego4d",
            out=str(out),
            videos=videos,
            seconds=seconds,
            width=width,
            height=height,
            seed=seed,
            audio=False,
            workers=1,
            imu_defect_rate=0.0,
        )  # fmt: skip
    )
    return out


def dense_manifest_rows(manifest: Any) -> list[dict[str, Any]]:
    """Each video's span as dense windows (``dense_clips`` over [0, duration]), as manifest rows."""
    from egodistill.datasets.manifest import dense_clips

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in manifest.to_pylist():
        if r["video_id"] in seen:
            continue
        seen.add(r["video_id"])
        whole = {**r, "start_sec": 0.0, "end_sec": float(r["video_duration_sec"])}
        for w in dense_clips(whole).to_pylist():
            rows.append({**whole, "clip_id": f"{r['video_id']}#w{w['dense_index']}", "split": "train",
                         "window_start_sec": w["window_start_sec"], "window_end_sec": w["window_end_sec"],
                         "start_sec": w["window_start_sec"], "end_sec": w["window_end_sec"]})  # fmt: skip
    return rows


def _marginal_bytes(path: Path, rows: int, empty: Path) -> float:
    return (path.stat().st_size - empty.stat().st_size) / rows


def measure_ingest(rows: Sequence[Mapping[str, Any]], out: Path, log: _Log = _noop) -> dict[str, Any]:
    """Run the ingest map function per video in this process (one core); per-clip seconds and bytes."""
    import pyarrow.parquet as pq

    from egodistill.datasets.imu import ImuWindowConfig
    from egodistill.ingest import store
    from egodistill.ingest.config import FrameConfig, OutputConfig, fingerprint
    from egodistill.ingest.worker import process_video_task, rows_to_table, settings_json

    frames, imu, output = FrameConfig(decode_threads=1), ImuWindowConfig(), OutputConfig()
    fp = fingerprint(frames, imu, imu.min_coverage)
    by_video: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_video.setdefault(str(r["video_id"]), []).append(r)

    def task(vid: str, vrows: Sequence[Mapping[str, Any]], dest: Path) -> dict[str, Any]:
        t = {"dataset": "ego4d", "video_id": vid, "part": store.part_id(fp, (str(r["clip_id"]) for r in vrows)),
             "rows_json": json.dumps(list(vrows), default=str)}  # fmt: skip
        return process_video_task(t, settings_json(frames, imu, imu.min_coverage, output, fp, str(dest)))

    first = next(iter(by_video.items()))
    task(first[0], first[1][:2], out / "warmup")  # imports, codec and lru caches outside the timing
    clips = task_sec = decode_sec = 0.0
    for vid, vrows in by_video.items():
        res = task(vid, vrows, out / "clips")
        if res["quarantined"]:
            raise RuntimeError(f"ingest quarantined {res['quarantined']} synthetic clips: {res['reasons']}")
        clips += res["written"]
        task_sec += res["task_sec"]
        decode_sec += res["decode_sec"]
    files = sorted((out / "clips").rglob("*.parquet"))
    empty = out / "empty-clips.parquet"
    store.write_clips(rows_to_table([], imu), str(empty), fp, output.row_group_rows, output.compression)
    nrows = [pq.ParquetFile(f).metadata.num_rows for f in files]
    row_bytes = sum(_marginal_bytes(f, k, empty) * k for f, k in zip(files, nrows, strict=True)) / sum(nrows)
    log(f"  ingest: {int(clips)} clips in {task_sec:.2f} s of per-video tasks ({decode_sec:.2f} s decoding)")
    return {"clips": int(clips), "sec": task_sec / clips, "decode_sec": decode_sec / clips,
            "row_bytes": row_bytes, "files": [str(f) for f in files]}  # fmt: skip


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_calls(fn: Callable[[], Any], device: Any, warmup: int, repeats: int) -> float:
    """Median seconds of ``fn`` after ``warmup`` untimed calls."""
    import statistics

    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_teacher(rows: Sequence[Mapping[str, Any]], preset: str, out: Path, batch: int = 2, repeats: int = 2,
                    gpu_batch: int = 32, log: _Log = _noop) -> dict[str, Any]:  # fmt: skip
    """Dense decode with the features pass's decoder, forward of the preset's teacher, features bytes."""
    import numpy as np
    import pyarrow as pa
    import torch

    from egodistill.features import store as fstore
    from egodistill.features.pipeline import TeacherSource, _feature_table
    from egodistill.models.teachers import build_teacher
    from egodistill.training import data
    from egodistill.training.augment import model_input
    from egodistill.training.dense import ClipSpec
    from egodistill.training.ray_wiring import autocast

    cfg = teacher_config(preset)
    model = build_teacher(cfg).eval()
    spec = model.input_spec
    clip = ClipSpec(spec.num_frames, spec.sample_rate, int(spec.resize_size[0]))
    table = pa.Table.from_pylist([dict(r) for r in rows])
    tasks = data.make_tasks(data.row_items(table), 64)
    decoded: list[np.ndarray] = []
    t0 = time.perf_counter()
    for t in tasks:
        res = data.decode_task({k: np.asarray([t[k]]) for k in ("video_path", "items_json")},
                               spec={"num_frames": clip.num_frames, "sample_rate": clip.sample_rate, "size": clip.size},
                               with_reason=True)  # fmt: skip
        if not res["ok"].all():
            raise RuntimeError(f"teacher clips failed to decode: {set(res['reason'][~res['ok']])}")
        decoded.append(res["clip"])
    decode_sec = (time.perf_counter() - t0) / len(rows)
    clips = torch.from_numpy(np.concatenate(decoded))
    cpu = torch.device("cpu")
    x = model_input(clips[:batch], spec)
    with torch.inference_mode():
        outs = model(x)  # the warm-up call; its outputs fill the features file below
        fwd = _time_calls(lambda: model(x), cpu, 0, repeats) / batch
    gpu_fwd = None
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        gmodel = model.to(dev)
        reps = -(-gpu_batch // len(clips))
        xg = model_input(clips.repeat(reps, 1, 1, 1, 1)[:gpu_batch], spec).to(dev)
        with torch.inference_mode(), autocast(dev, True):
            gpu_fwd = _time_calls(lambda: gmodel(xg), dev, 2, 5) / gpu_batch
        model.to(cpu)
    # a features file for the clips that ran forward, exactly as the features pass writes it
    src = TeacherSource(cfg, cfg.name, clip, spec.crop_size, "random")
    feat_rows = [dict(r) for r in rows[:batch]]
    res_rows = [{"teacher_feature": outs.features[i].float().numpy(), "teacher_logits": outs.logits[i].float().numpy(),
                 "first_sec": 0.0, "last_sec": 1.0, "padded": 0} for i in range(batch)]  # fmt: skip
    full, empty = out / "features.parquet", out / "features-empty.parquet"
    ftable = _feature_table(feat_rows, res_rows, src)
    fstore.write_features(ftable, str(full), "scale", cfg.name)
    fstore.write_features(ftable.slice(0, 0), str(empty), "scale", cfg.name)
    log(
        f"  teacher {cfg.name}: decoded {len(rows)} dense clips, forward on {batch} (feature dim {model.feature_dim})"
    )
    return {"name": f"{cfg.name} {clip.num_frames}x{clip.sample_rate}@{spec.crop_size} (decoded at {clip.size})",
            "decode_sec": decode_sec, "forward_sec": fwd, "forward_gpu_sec": gpu_fwd,
            "row_bytes": _marginal_bytes(full, batch, empty), "feature_dim": int(model.feature_dim),
            "num_classes": int(model.num_classes), "batch": batch}  # fmt: skip


def measure_image_features(clip_files: Sequence[str], clips: int = 8, gpu_batch: int = 64,
                           log: _Log = _noop) -> dict[str, Any]:  # fmt: skip
    """The f_I cache's work on stored rows: JPEG decode of each frame pool, frozen ResNet-18 over it."""
    import numpy as np
    import pyarrow.parquet as pq
    import torch

    from egodistill.features.image_cache import decode_pool, to_input
    from egodistill.models.image import ImageEncoder

    cols = [
        "frames",
        "frame_time_sec",
        "first_frame",
        "last_frame",
        "first_frame_time_sec",
        "last_frame_time_sec",
    ]
    rows: list[dict[str, Any]] = []
    for f in clip_files:
        rows += pq.read_table(f, columns=cols).to_pylist()
        if len(rows) >= clips:
            break
    rows = rows[:clips]
    t0 = time.perf_counter()
    pools = [decode_pool(r, None)[0] for r in rows]
    decode_sec = (time.perf_counter() - t0) / len(rows)
    with _random_weights_quietly():
        encoder = ImageEncoder("none", frozen=True, allow_download=False).eval()
    x = to_input(np.concatenate(pools))
    cpu = torch.device("cpu")
    with torch.inference_mode():
        fwd = _time_calls(lambda: encoder(x), cpu, 1, 2) / len(rows)
    gpu_fwd = None
    if torch.cuda.is_available():
        from egodistill.training.ray_wiring import autocast

        dev = torch.device("cuda")
        genc = encoder.to(dev)
        per = len(pools[0])
        xg = x.repeat(-(-gpu_batch // len(rows)), 1, 1, 1)[: gpu_batch * per].to(dev)
        with torch.inference_mode(), autocast(dev, True):
            gpu_fwd = _time_calls(lambda: genc(xg), dev, 2, 5) / (len(xg) / per)
    log(f"  f_I: {len(rows)} frame pools of {len(pools[0])} frames at {pools[0].shape[1]} px")
    return {"decode_sec": decode_sec, "forward_sec": fwd, "forward_gpu_sec": gpu_fwd,
            "pool_frames": int(len(pools[0])), "clips": len(rows)}  # fmt: skip


def measure_student_step(feature_dim: int, num_classes: int, batch: int = 64, steps: int = 4,
                         log: _Log = _noop) -> dict[str, Any]:  # fmt: skip
    """Stage-2 step of the paper's EgoDistill student on cached f_I features (what an epoch runs)."""
    import torch

    from egodistill.models.config import StudentConfig
    from egodistill.models.student import build_student
    from egodistill.training.distill_loop import distill_step
    from egodistill.training.student_jobs import DistillJobConfig, _loop_job

    with tempfile.TemporaryDirectory() as ws:
        cfg = DistillJobConfig(workspace=ws, efficiency=False)
        job = _loop_job(cfg, "distill")
    scfg = StudentConfig(**{**cfg.student.model_dump(), "image_weights": "none", "num_classes": num_classes,
                            "teacher_feature_dim": feature_dim})  # fmt: skip
    step = distill_step(job, scfg.model_dump(mode="json"), False, True)
    pool_frames = cfg.data.num_frames + 2

    def run(device: Any, b: int) -> float:
        torch.manual_seed(0)
        with _random_weights_quietly():
            model = build_student(scfg)
        model.image_encoder = None  # the cache replaces f_I in training
        model.to(device).train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        data = {
            "label": torch.randint(0, num_classes, (b,)),
            "imu": torch.randn(b, scfg.imu_length, scfg.imu_channels),
            "pool": torch.randn(b, pool_frames, 512),
            "select": torch.arange(scfg.num_frames).repeat(b, 1),
            "teacher_feature": torch.randn(b, feature_dim).half(),
            "teacher_logits": torch.randn(b, num_classes),
        }
        data = {k: v.to(device) for k, v in data.items()}

        def one() -> None:
            loss, _ = step(model, data)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return _time_calls(one, device, 2, steps) / b

    cpu_sec = run(torch.device("cpu"), batch)
    gpu_sec = run(torch.device("cuda"), batch) if torch.cuda.is_available() else None
    log(f"  student: {scfg.variant} N={scfg.num_frames}, batch {batch}, {steps} timed steps")
    return {"sec": cpu_sec, "gpu_sec": gpu_sec, "batch": batch, "variant": scfg.variant,
            "num_frames": scfg.num_frames}  # fmt: skip


def measure_costs(
    workdir: Path | None = None,
    *,
    videos: int = 2,
    seconds: float = 20.0,
    width: int = 160,
    height: int = 120,
    teacher: str = "paper",
    teacher_batch: int = 2,
    image_clips: int = 8,
    student_batch: int = 64,
    log: _Log = _noop,
) -> ClipCosts:
    """Measure every per-clip cost with the platform's code on a fresh tiny synthetic world.

    CPU timings run with one torch thread and one decoder thread, so they are one core's; GPU timings
    are added when CUDA is available. ``workdir`` (default: a temporary folder, removed) holds the world
    and the Parquet files written.
    """
    import torch

    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest

    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="scale_model_") as tmp:
            return measure_costs(Path(tmp), videos=videos, seconds=seconds, width=width, height=height,
                                 teacher=teacher, teacher_batch=teacher_batch, image_clips=image_clips,
                                 student_batch=student_batch, log=log)  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        root = make_world(workdir, videos, seconds, width, height)
        manifest = build_manifest(IndexConfig(dataset="ego4d", root=str(root))).manifest
        rows = dense_manifest_rows(manifest)
        log(f"  world: {videos} videos x {seconds:g} s at {width}x{height}, {len(rows)} dense clips "
            f"({time.perf_counter() - t0:.1f} s to generate and index)")  # fmt: skip
        ing = measure_ingest(rows, workdir / "ingest", log)
        tea = measure_teacher(rows, teacher, workdir, batch=teacher_batch, log=log)
        img = measure_image_features(ing["files"], image_clips, log=log)
        stu = measure_student_step(tea["feature_dim"], tea["num_classes"], student_batch, log=log)
    finally:
        torch.set_num_threads(threads)
    context = {
        "machine": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores visible)",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_1min": os.getloadavg()[0],
        "world": f"{videos} videos x {seconds:g} s, {width}x{height} H.264 30 fps",
        "dense_clips": len(rows),
        "ingest_clips": ing["clips"],
        "teacher": tea["name"],
        "teacher_preset": teacher,
        "teacher_batch_cpu": tea["batch"],
        "image_pool_frames": img["pool_frames"],
        "student": f"{stu['variant']} N={stu['num_frames']}",
        "student_batch": stu["batch"],
        "measured_sec": round(time.perf_counter() - t0, 1),
    }
    return ClipCosts(
        ingest_sec=ing["sec"], ingest_decode_sec=ing["decode_sec"], teacher_decode_sec=tea["decode_sec"],
        teacher_forward_sec=tea["forward_sec"], image_decode_sec=img["decode_sec"],
        image_forward_sec=img["forward_sec"], student_step_sec=stu["sec"], clip_row_bytes=ing["row_bytes"],
        feature_row_bytes=tea["row_bytes"], source_pixels=width * height,
        teacher_forward_gpu_sec=tea["forward_gpu_sec"], image_forward_gpu_sec=img["forward_gpu_sec"],
        student_step_gpu_sec=stu["gpu_sec"], context=context,
    )  # fmt: skip


__all__ = [
    "DEFAULT_GPU_SPEEDUP_STUDENT",
    "DEFAULT_GPU_SPEEDUP_TEACHER",
    "DEFAULT_MIN_WORKER_BATCH",
    "ClipCosts",
    "ClusterSpec",
    "CorpusSpec",
    "Projection",
    "StageTime",
    "measure_costs",
    "project",
    "teacher_config",
]
