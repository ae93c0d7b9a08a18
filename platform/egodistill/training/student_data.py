"""Student inputs: clips + image features + teacher features joined by clip_id, and frame selection.

What a student step needs per clip is small: the label, the IMU window (422 x 6), the cached f_I
features of its frame pool and, for distillation, the teacher's feature and logits. :func:`load_inputs`
reads exactly those columns (never the JPEGs, unless training from frames) from the three Parquet
tables, joins them on ``clip_id`` and returns an Arrow table of fixed-shape tensor columns that
:func:`to_ray_dataset` hands to Ray Data (and Ray Train streams to the workers, split per worker).
Clip rows with no image feature or (when distilling) no teacher feature are not dropped silently: they
are counted and named in :attr:`StudentInputs.missing` and the job reports them.

Frame selection (seed 000 §3.2 and supplement D, N in 1..4; strategies uniform / random / first /
last / center) happens among the *stored* frames, by their recorded times: the clips dataset stores N_s
frames (default 4) uniformly at ``span_start + (k + 0.5) * span / N_s`` plus the span's first and last
frame, so the pool has N_s + 2 frames with known timestamps. Each strategy defines N target times
(uniform: the same rule with N; first / last / center: N consecutive source frames at the video's
frame rate from the start / before the end / around the middle of the span; random: N distinct pool
frames drawn each step) and takes, for each target in time order, the nearest pool frame not yet taken.
How exact that is: ``uniform`` with N = N_s is exact (the stored frames are the targets), and N = 1 /
N = 2 with N_s = 4 are within span / 8 of the target; ``first`` / ``last`` pick the exact first / last
frame and then the nearest stored frames, which are span / N_s apart rather than one source frame
apart (the stored pool is too sparse for consecutive frames); ``center`` likewise takes the stored
frames closest to the middle. Exact consecutive-frame strategies would need those frames stored at
ingest (``frames.count``); the chosen pool indices and their time errors are reported by
:func:`selection_error`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Strategy = Literal["uniform", "random", "first", "last", "center"]
STRATEGIES: tuple[str, ...] = ("uniform", "random", "first", "last", "center")
DENSE_SEPARATOR = "#d"

_CLIP_COLUMNS = ["dataset", "clip_id", "video_id", "split", "label", "verb", "imu", "imu_num_samples",
                 "imu_num_channels", "sample_start_sec", "sample_end_sec", "video_fps"]  # fmt: skip


def segment_of(clip_id: str) -> str:
    """The labelled segment a (possibly dense, ``<segment>#d<k>``) clip id belongs to."""
    head, sep, tail = clip_id.rpartition(DENSE_SEPARATOR)
    return head if sep and tail.isdigit() else clip_id


# ----------------------------------------------------------------------------------------------
# frame selection


def target_times(start: float, end: float, fps: float, n: int, strategy: str) -> np.ndarray:
    """N requested times in [start, end] for a deterministic strategy (see the module docstring)."""
    span = max(end - start, 0.0)
    dt = 1.0 / fps if fps and fps > 0 else span / max(n, 1)
    k = np.arange(n, dtype=np.float64)
    if strategy == "uniform":
        return start + (k + 0.5) * span / n
    if strategy == "first":
        return start + k * dt
    if strategy == "last":
        return end - (n - 1 - k) * dt
    if strategy == "center":
        return 0.5 * (start + end) + (k - (n - 1) / 2) * dt
    raise ValueError(f"no target times for strategy {strategy!r} (one of {STRATEGIES})")


def nearest_unique(pool_times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each target (in order), the nearest pool index not yet taken; returned in time order."""
    if len(targets) > len(pool_times):
        raise ValueError(f"cannot select {len(targets)} frames from a pool of {len(pool_times)}")
    taken: list[int] = []
    for t in targets:
        order = np.argsort(np.abs(pool_times - t), kind="stable")
        taken.append(int(next(i for i in order if i not in taken)))
    return np.array(sorted(taken, key=lambda i: (pool_times[i], i)), dtype=np.int64)


def select_frames(
    pool_times: np.ndarray,
    start: float,
    end: float,
    fps: float,
    n: int,
    strategy: str,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Pool indices (N, time order) of the frames a strategy picks for one clip."""
    if strategy == "random":
        rng = rng or np.random.default_rng()
        picked = rng.choice(len(pool_times), size=n, replace=False)
        return np.array(sorted(picked, key=lambda i: (pool_times[i], i)), dtype=np.int64)
    return nearest_unique(np.asarray(pool_times, np.float64), target_times(start, end, fps, n, strategy))


def selection_error(inputs: StudentInputs, n: int, strategy: str) -> dict[str, float]:
    """Mean / max |picked time - target time| (s) of a deterministic strategy over the rows."""
    errs = []
    for i in range(inputs.num_rows):
        targets = target_times(inputs.start[i], inputs.end[i], inputs.fps[i], n, strategy)
        idx = inputs.select[i] if inputs.strategy == strategy else select_frames(
            inputs.pool_times[i], inputs.start[i], inputs.end[i], inputs.fps[i], n, strategy
        )  # fmt: skip
        errs.append(np.abs(np.sort(inputs.pool_times[i][idx]) - np.sort(targets)))
    e = np.concatenate(errs) if errs else np.zeros(1)
    return {"mean_sec": float(e.mean()), "max_sec": float(e.max())}


# ----------------------------------------------------------------------------------------------
# joining


@dataclass
class StudentInputs:
    """Joined, decoded student inputs of one split (numpy arrays, one row per clip)."""

    clip_id: list[str]
    segment_id: list[str]
    label: np.ndarray  # (R,) int64
    imu: np.ndarray  # (R, L, 6) float32
    pool: np.ndarray  # (R, P, 512) float32 cached f_I features, or (R, P, H, W, 3) uint8 frames
    pool_times: np.ndarray  # (R, P) float64
    start: np.ndarray
    end: np.ndarray
    fps: np.ndarray
    select: np.ndarray  # (R, N) int64 pool indices (deterministic strategies; redrawn per step for random)
    boundary: np.ndarray  # (2,) pool indices of the first and last frame, or (0,) without them
    teacher_feature: np.ndarray | None  # (R, D) float32
    teacher_logits: np.ndarray | None  # (R, C) float32
    strategy: str
    classes: list[str]
    from_frames: bool = False
    missing: dict[str, list[str]] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return len(self.clip_id)

    @property
    def num_pool(self) -> int:
        return int(self.pool.shape[1])

    def table(self, include_teacher: bool = True) -> pa.Table:
        """Arrow table of tensor columns for Ray Data (row i = clip i)."""
        from ray.data.extensions import ArrowTensorArray

        cols: dict[str, Any] = {
            "row": pa.array(np.arange(self.num_rows, dtype=np.int64)),
            "label": pa.array(self.label.astype(np.int64)),
            "imu": ArrowTensorArray.from_numpy(self.imu),
            "pool": ArrowTensorArray.from_numpy(self.pool),
            "select": ArrowTensorArray.from_numpy(self.select),
        }
        if include_teacher and self.teacher_feature is not None and self.teacher_logits is not None:
            cols["teacher_feature"] = ArrowTensorArray.from_numpy(self.teacher_feature)
            cols["teacher_logits"] = ArrowTensorArray.from_numpy(self.teacher_logits)
        return pa.table(cols)


def _fixed(column: pa.ChunkedArray, width: int, dtype: Any, what: str) -> np.ndarray:
    flat = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(dtype)  # a writable copy
    if flat.size != len(column) * width:
        raise ValueError(f"{what}: expected {width} values per row, got {flat.size} over {len(column)} rows")
    return flat.reshape(len(column), width)


def _index(keys: pa.ChunkedArray | pa.Array, by: list[str]) -> np.ndarray:
    """Position of each ``by`` key in ``keys`` (-1 when missing)."""
    idx = pc.index_in(pa.array(by, pa.string()), value_set=pa.array(keys.to_pylist(), pa.string()))
    return idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def load_inputs(
    clips_root: str,
    *,
    dataset: str,
    splits: list[str],
    image_root: str | None,
    image_model: str | None,
    teacher_root: str | None = None,
    teacher_model: str | None = None,
    num_frames: int = 1,
    strategy: str = "uniform",
    from_frames: bool = False,
    frame_size: int | None = None,
    classes: list[str] | None = None,
    seed: int = 0,
) -> StudentInputs:
    """Read, join and decode the student inputs of ``splits`` (see the module docstring)."""
    from egodistill.features.image_cache import decode_pool, read_image_features
    from egodistill.features.store import read_features
    from egodistill.ingest.store import read_clips

    if strategy not in STRATEGIES:
        raise ValueError(f"frame strategy {strategy!r} is not one of {STRATEGIES}")
    clips = read_clips(clips_root, dataset=dataset, columns=_CLIP_COLUMNS + (
        ["frames", "frame_time_sec", "first_frame", "first_frame_time_sec", "last_frame", "last_frame_time_sec"]
        if from_frames else []
    ))  # fmt: skip
    clips = clips.filter(pc.is_in(clips.column("split"), pa.array(splits, pa.string())))
    clips = clips.sort_by("clip_id")
    if clips.num_rows == 0:
        raise ValueError(f"{clips_root}: no clip rows of dataset {dataset!r} in splits {splits}")
    ids = clips.column("clip_id").to_pylist()
    missing: dict[str, list[str]] = {}
    keep = np.ones(len(ids), bool)

    image = None
    if not from_frames:
        if image_root is None or image_model is None:
            raise ValueError("cached image features need image_root and image_model")
        image = read_image_features(image_root, dataset, image_model,
                                    columns=["clip_id", "num_pool", "has_first_last", "frame_features", "frame_time_sec"])  # fmt: skip
        img_idx = _index(image.column("clip_id"), ids)
        missing["image_features"] = [c for c, i in zip(ids, img_idx, strict=True) if i < 0]
        keep &= img_idx >= 0
    teacher = None
    if teacher_root is not None and teacher_model is not None:
        teacher = read_features(teacher_root, dataset, teacher_model,
                                columns=["clip_id", "teacher_feature", "teacher_logits"])  # fmt: skip
        t_idx = _index(teacher.column("clip_id"), ids)
        missing["teacher_features"] = [c for c, i in zip(ids, t_idx, strict=True) if i < 0]
        keep &= t_idx >= 0
    if not keep.any():
        raise ValueError(
            f"{clips_root} [{dataset} {splits}]: no clip has all inputs ({ {k: len(v) for k, v in missing.items()} } missing)"
        )
    clips = clips.filter(pa.array(keep))
    ids = clips.column("clip_id").to_pylist()
    n_rows = len(ids)
    length = int(clips.column("imu_num_samples")[0].as_py())
    channels = int(clips.column("imu_num_channels")[0].as_py())
    imu = _fixed(clips.column("imu"), length * channels, np.float32, "imu").reshape(n_rows, length, channels)

    if from_frames:
        pools, times, fl = [], [], []
        for r in clips.select([c for c in clips.column_names if "frame" in c]).to_pylist():
            images, t, has = decode_pool(r, frame_size)
            pools.append(images)
            times.append(t)
            fl.append(has)
        has_fl = all(fl)
        pool = np.stack(pools)
        pool_times = np.asarray(times, np.float64)
    else:
        assert image is not None
        img = image.take(pa.array(_index(image.column("clip_id"), ids)))
        p = set(img.column("num_pool").to_pylist())
        if len(p) != 1:
            raise ValueError(f"image features of {dataset} mix frame pools of sizes {sorted(p)}")
        num_pool = p.pop()
        pool = _fixed(img.column("frame_features"), num_pool * 512, np.float32, "frame_features")
        pool = pool.reshape(n_rows, num_pool, 512)
        pool_times = _fixed(img.column("frame_time_sec"), num_pool, np.float64, "frame_time_sec")
        has_fl = all(img.column("has_first_last").to_pylist())

    # pool in time order: the span's first frame comes first, its last frame last (stage-1 boundary)
    order = np.argsort(pool_times, axis=1, kind="stable")
    pool_times = np.take_along_axis(pool_times, order, axis=1)
    pool = np.take_along_axis(pool, order.reshape(order.shape + (1,) * (pool.ndim - 2)), axis=1)
    num_pool = pool.shape[1]
    boundary = np.array([0, num_pool - 1], np.int64) if has_fl else np.zeros(0, np.int64)
    start = clips.column("sample_start_sec").to_numpy().astype(np.float64)
    end = clips.column("sample_end_sec").to_numpy().astype(np.float64)
    fps = clips.column("video_fps").to_numpy(zero_copy_only=False).astype(np.float64)
    rng = np.random.default_rng(seed)
    select = np.stack([select_frames(pool_times[i], start[i], end[i], fps[i], num_frames, strategy, rng)
                       for i in range(n_rows)])  # fmt: skip

    tf = tl = None
    if teacher is not None:
        t = teacher.take(pa.array(_index(teacher.column("clip_id"), ids)))
        d = len(t.column("teacher_feature")[0])
        c = len(t.column("teacher_logits")[0])
        tf = _fixed(t.column("teacher_feature"), d, np.float32, "teacher_feature")
        tl = _fixed(t.column("teacher_logits"), c, np.float32, "teacher_logits")
    labels = clips.column("label").to_numpy().astype(np.int64)
    if classes is None:
        classes = class_names(clips)
    return StudentInputs(
        clip_id=ids,
        segment_id=[segment_of(c) for c in ids],
        label=labels,
        imu=imu,
        pool=pool,
        pool_times=pool_times,
        start=start,
        end=end,
        fps=fps,
        select=select,
        boundary=boundary,
        teacher_feature=tf,
        teacher_logits=tl,
        strategy=strategy,
        classes=classes,
        from_frames=from_frames,
        missing={k: v for k, v in missing.items() if v},
    )


def class_names(table: pa.Table) -> list[str]:
    labels = table.column("label").to_pylist()
    verbs = table.column("verb").to_pylist()
    names = ["?"] * (max(labels) + 1 if labels else 0)
    for label, verb in zip(labels, verbs, strict=True):
        names[label] = verb
    return names


def to_ray_dataset(inputs: StudentInputs, include_teacher: bool = True):
    """A Ray Data dataset of the inputs (tensor columns; blocks of ~64 rows so workers can stream)."""
    import ray

    table = inputs.table(include_teacher)
    blocks = [table.slice(i, 64) for i in range(0, table.num_rows, 64)]
    return ray.data.from_arrow(blocks)


# ----------------------------------------------------------------------------------------------
# worker side: batch -> model inputs


def batch_frames(batch: dict[str, Any], strategy: str, num_frames: int, generator: Any = None):
    """The selected N entries of each row's pool: (B, N, 512) features or (B, N, H, W, 3) frames.

    ``random`` redraws N distinct pool entries per row and step, in time order (the pool is sorted by
    time in :func:`load_inputs`).
    """
    import torch

    pool = batch["pool"]
    b, p = pool.shape[:2]
    if strategy == "random":
        keys = torch.rand(b, p, generator=generator).to(pool.device)
        idx = keys.topk(num_frames, dim=1).indices.sort(dim=1).values
    else:
        idx = batch["select"].long()
    gather = idx.view(b, num_frames, *([1] * (pool.dim() - 2))).expand(b, num_frames, *pool.shape[2:])
    return torch.gather(pool, 1, gather)


__all__ = [
    "DENSE_SEPARATOR",
    "STRATEGIES",
    "StudentInputs",
    "batch_frames",
    "class_names",
    "load_inputs",
    "nearest_unique",
    "segment_of",
    "select_frames",
    "selection_error",
    "target_times",
    "to_ray_dataset",
]
