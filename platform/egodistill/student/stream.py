"""Student training and evaluation inputs as lazy Ray Datasets over the joined inputs table.

Nothing is collected on the driver: :func:`open_inputs` reads the stage's ``_summary.json`` (counts,
classes, pool geometry, teacher dimensions, the missing report), and :func:`student_dataset` returns
``read_parquet`` → filter (split; rows with the needed teacher) → ``map_batches`` (frame selection,
JPEG decoding when f_I trains, fixed-shape tensors). Ray Train splits the training dataset over its
workers and streams it each epoch; the evaluation dataset reaches rank 0 whole and is aggregated per
segment there (:mod:`egodistill.training.evaluator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from egodistill.config import ConfigError
from egodistill.student.inputs import STRATEGIES, select_frames
from egodistill.student.join import (
    CLIP_COLUMNS,
    FRAME_COLUMNS,
    IMAGE_COLUMNS,
    TEACHER_FEATURE,
    TEACHER_LOGITS,
    read_summary,
)
from egodistill.student.products import inputs_dir


class MissingInputError(ConfigError, FileNotFoundError):
    """A student input the job needs has not been built; the message names the command that builds it."""


@dataclass
class InputsView:
    """One joined inputs table and what its stage recorded about it."""

    directory: str
    summary: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        return list(self.summary["classes"])

    @property
    def num_pool(self) -> int:
        return int(self.summary["num_pool"] or 0)

    @property
    def boundary(self) -> list[int]:
        """Pool indices (time order) of the span's first and last frame, or [] without them."""
        return [0, self.num_pool - 1] if self.summary.get("has_first_last") and self.num_pool else []

    def rows(self, split: str, teacher: str | None = None) -> int:
        """Rows of ``split`` a job reads (less those without ``teacher``'s features where one is needed)."""
        n = int(self.summary["splits"].get(split, 0))
        if teacher is not None:
            n -= self.missing_in_split(teacher, split)
        return n

    def missing_in_split(self, teacher: str, split: str) -> int:
        # the stage counts missing teacher rows over the whole table; label-only rows of other splits
        # are not read, so this is an upper bound for the split, exact when one split is read
        return int(self.summary["missing"].get(f"teacher_features:{teacher}", {}).get("count", 0))

    def notes(self, split: str, teacher: str | None) -> list[str]:
        """The missing-input report for the job's log and MLflow (counts and example clip ids)."""
        out = []
        for what, m in self.summary["missing"].items():
            if not m["count"] or (
                what.startswith("teacher_features:") and what != f"teacher_features:{teacher}"
            ):
                continue
            verb = "quarantined by the student-inputs stage" if what == "image_features" else "left out"
            out.append(f"{m['count']} clips of {self.summary['source']} without {what}: {verb} "
                       f"(e.g. {', '.join(m['examples'][:3])})")  # fmt: skip
        return out


def open_inputs(root: str, dataset: str, pool: str, source: str, workspace: str) -> InputsView:
    """The joined inputs of ``source``; a one-line error naming the command when they do not exist."""
    directory = inputs_dir(root, dataset, pool, source)
    summary = read_summary(directory)
    if summary is None:
        raise MissingInputError(
            f"no student inputs at {directory}: run `egodistill student-inputs --workspace {workspace} "
            f"--dataset {dataset}` first (it builds the dense clips, the image features and the join)"
        )
    return InputsView(directory, summary)


def teacher_for(view: InputsView, wanted: str | None) -> str:
    """The teacher whose features a distilling job uses: ``wanted`` or the only one joined."""
    names = sorted(view.summary["teachers"])
    if wanted:
        if wanted not in names:
            raise MissingInputError(
                f"{view.directory}: no features of teacher {wanted!r} joined (have {names}); run "
                f"`egodistill features` for it, then `egodistill student-inputs`"
            )
        return wanted
    if len(names) != 1:
        raise MissingInputError(
            f"{view.directory}: {'no' if not names else 'several'} teacher feature tables joined {names}; "
            + (
                "run `egodistill features`, then `egodistill student-inputs`"
                if not names
                else "set data.teacher_model"
            )
        )
    return names[0]


class SelectFrames:
    """``map_batches`` function: joined rows -> fixed-shape student tensors (frame selection here)."""

    def __init__(self, split: str, num_frames: int, strategy: str, seed: int, teacher: str | None, frames: bool,
                 frame_size: int | None, segments: dict[str, int] | None,
                 logit_teachers: tuple[str, ...] = ()) -> None:  # fmt: skip
        if strategy not in STRATEGIES:
            raise ValueError(f"frame strategy {strategy!r} is not one of {STRATEGIES}")
        self.split, self.n, self.strategy, self.seed = split, num_frames, strategy, seed
        self.teacher, self.frames, self.frame_size, self.segments = teacher, frames, frame_size, segments
        self.logit_teachers = tuple(logit_teachers)

    def _fixed(self, column: pa.ChunkedArray | pa.Array, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
        flat = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(dtype)
        return flat.reshape((len(column), *shape))

    def __call__(self, batch: pa.Table) -> dict[str, np.ndarray]:
        b = batch.num_rows
        length = int(batch.column("imu_num_samples")[0].as_py())
        channels = int(batch.column("imu_num_channels")[0].as_py())
        out: dict[str, np.ndarray] = {
            "label": batch.column("label").to_numpy().astype(np.int64),
            "imu": self._fixed(batch.column("imu"), np.float32, (length, channels)),
        }
        if self.frames:
            from egodistill.features.image_cache import decode_pool

            cols = [c for c in batch.column_names if "frame" in c]
            pools, times = [], []
            for r in batch.select(cols).to_pylist():
                images, t, _ = decode_pool(r, self.frame_size)
                pools.append(images)
                times.append(t)
            pool, pool_times = np.stack(pools), np.asarray(times, np.float64)
        else:
            p = int(batch.column("num_pool")[0].as_py())
            pool = self._fixed(batch.column("frame_features"), np.float32, (p, 512))
            pool_times = self._fixed(batch.column("frame_time_sec"), np.float64, (p,))
        # pool in time order: the span's first frame first, its last frame last (stage-1 boundary)
        order = np.argsort(pool_times, axis=1, kind="stable")
        pool_times = np.take_along_axis(pool_times, order, axis=1)
        out["pool"] = np.take_along_axis(pool, order.reshape(order.shape + (1,) * (pool.ndim - 2)), axis=1)
        start = batch.column("sample_start_sec").to_numpy().astype(np.float64)
        end = batch.column("sample_end_sec").to_numpy().astype(np.float64)
        fps = batch.column("video_fps").to_numpy(zero_copy_only=False).astype(np.float64)
        ids = batch.column("clip_id").to_pylist()
        def rng(i: int) -> np.random.Generator | None:  # per clip, reproducible; only "random" draws
            if self.strategy != "random":
                return None
            return np.random.default_rng([self.seed, int.from_bytes(ids[i].encode()[-8:].rjust(8, b"\0"), "little")])

        out["select"] = np.stack([
            select_frames(pool_times[i], start[i], end[i], fps[i], self.n, self.strategy, rng(i)) for i in range(b)
        ])  # fmt: skip
        if self.teacher is not None:
            d = len(batch.column(TEACHER_FEATURE + self.teacher)[0])
            c = len(batch.column(TEACHER_LOGITS + self.teacher)[0])
            out["teacher_feature"] = self._fixed(
                batch.column(TEACHER_FEATURE + self.teacher), np.float32, (d,)
            )
            out["teacher_logits"] = self._fixed(batch.column(TEACHER_LOGITS + self.teacher), np.float32, (c,))
        for name in self.logit_teachers:  # several teachers' logits (a method's ensemble), by name
            c = len(batch.column(TEACHER_LOGITS + name)[0])
            out[TEACHER_LOGITS + name] = self._fixed(batch.column(TEACHER_LOGITS + name), np.float32, (c,))
        if self.segments is not None:
            segs = batch.column("segment_id").to_pylist()
            out["segment"] = np.array([self.segments[s] for s in segs], np.int64)
        return out


def student_dataset(view: InputsView, split: str, *, num_frames: int, strategy: str, seed: int,
                    teacher: str | None = None, frame_size: int | None = None, evaluation: bool = False,
                    logit_teachers: tuple[str, ...] = ()):  # fmt: skip
    """The lazy dataset of one split (see the module docstring); ``evaluation`` adds segment indices;
    ``logit_teachers`` adds those teachers' logits as ``teacher_logits__<name>`` (rows without any left out)."""
    import ray

    files = sorted(str(p) for p in Path(view.directory).glob("*.parquet"))
    if not files:
        raise MissingInputError(
            f"{view.directory}: the joined inputs have no data files (re-run `egodistill student-inputs`)"
        )
    frames = bool(view.summary.get("frames"))
    columns = CLIP_COLUMNS + ["segment_id"] + (FRAME_COLUMNS if frames else IMAGE_COLUMNS[1:])
    if teacher is not None:
        columns += [TEACHER_FEATURE + teacher, TEACHER_LOGITS + teacher]
    columns += [TEACHER_LOGITS + t for t in logit_teachers]
    segments = {s: i for i, s in enumerate(view.summary["segments"])} if evaluation else None
    fn = SelectFrames(
        split, num_frames, strategy, seed, teacher, frames, frame_size, segments, tuple(logit_teachers)
    )
    from ray.data.expressions import col

    keep = col("split") == split
    if teacher is not None:
        keep = keep & col(TEACHER_FEATURE + teacher).is_not_null()
    for t in logit_teachers:
        keep = keep & col(TEACHER_LOGITS + t).is_not_null()
    ds = ray.data.read_parquet(files, partitioning=None).select_columns(columns).filter(expr=keep)
    return ds.map_batches(fn, batch_format="pyarrow", batch_size=256, zero_copy_batch=True)


__all__ = ["InputsView", "MissingInputError", "SelectFrames", "open_inputs", "student_dataset", "teacher_for"]
