"""Frame selection for the students: which N of the stored frames a clip's student input uses.

Frame selection (seed 000 §3.2 and supplement D, N in 1..4; strategies uniform / random / first /
last / center) happens among the *stored* frames, by their recorded times. Ingest stores, by default
(``frames.sampling: every_n``), the union of the uniform grids ``span_start + (k + 0.5) * span / N``
of every N in 1..4 (9 frames) plus the span's first and last frame, so the pool has 11 frames with
known timestamps. Each strategy defines N target times (uniform: that rule with N; first / last /
center: N consecutive source frames at the video's frame rate from the start / before the end /
around the middle of the span; random: N distinct pool frames drawn each step) and takes, for each
target in time order, the nearest pool frame not yet taken. How exact that is: ``uniform`` is exact
for every N in 1..4, and N = 1 is the window centre, the frame the teacher's single-frame baseline
sees; ``first`` / ``last`` pick the exact first / last frame and then the nearest stored frames (the
stored pool is too sparse for consecutive frames); ``center`` with N = 1 is the centre frame and
otherwise the stored frames closest to it. A pool ingested with ``sampling: count_only`` (4 frames)
is exact only for N = 4; the chosen pool indices and their time errors are reported by
:func:`selection_error`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from egodistill.evaluation.segments import DENSE_SEPARATOR, segment_of

Strategy = Literal["uniform", "random", "first", "last", "center"]
STRATEGIES: tuple[str, ...] = ("uniform", "random", "first", "last", "center")


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


def selection_error(
    pool_times: np.ndarray, start: float, end: float, fps: float, n: int, strategy: str
) -> dict[str, float]:
    """Mean / max |picked time - target time| (s) of a deterministic strategy for one clip's pool."""
    idx = select_frames(pool_times, start, end, fps, n, strategy)
    err = np.abs(np.sort(np.asarray(pool_times)[idx]) - np.sort(target_times(start, end, fps, n, strategy)))
    return {"mean_sec": float(err.mean()), "max_sec": float(err.max())}


# ----------------------------------------------------------------------------------------------
# worker side: batch -> model inputs


def batch_frames(batch: dict[str, Any], strategy: str, num_frames: int, generator: Any = None):
    """The selected N entries of each row's pool: (B, N, 512) features or (B, N, H, W, 3) frames.

    ``random`` redraws N distinct pool entries per row and step, in time order (the pool is sorted by
    time by :class:`egodistill.student.stream.SelectFrames`).
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
    "batch_frames",
    "nearest_unique",
    "segment_of",
    "select_frames",
    "selection_error",
    "target_times",
]
