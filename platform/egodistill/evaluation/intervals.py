"""Intervals and paired tests over seeds and segments: what a benchmark needs to tell effects apart.

The unit of evaluation is a segment (per-segment top-1, seed 000 §4.1), and a run is repeated over K
training seeds on the same evaluation segments, so each model has a (K, S) matrix of 0/1 correctness.
Both the spread over seeds (training noise) and over segments (which segments happened to be in the
validation set) matter, so every figure uses a **two-level bootstrap**: each replicate resamples K
seeds and S segments with replacement and takes the mean of the resampled cells. The interval is the
2.5-97.5 percentile range of that mean.

A comparison against a reference is **paired**: the same seed and segment draws are applied to both
models' matrices (seed k of one is paired with seed k of the other, segments by id), so the shared
difficulty of a segment cancels. The p-value is two-sided, ``2 * min(P(d* <= 0), P(d* >= 0))`` over
the replicates of the mean difference d* (bounded below by 1 / replicates), which is the bootstrap
test of "no difference". With K = 1 the seed level is a no-op and this is the paired segment bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """Mean over seeds and segments with its 95 % two-level bootstrap interval."""

    mean: float
    low: float
    high: float
    seeds: int
    segments: int

    def text(self, scale: float = 100.0, digits: int = 1) -> str:
        f = f"{{:.{digits}f}}"
        return f"{f.format(self.mean * scale)} [{f.format(self.low * scale)}, {f.format(self.high * scale)}]"


@dataclass(frozen=True)
class PairedTest:
    """Mean difference (model - reference), its 95 % interval and the bootstrap p-value."""

    diff: Interval
    p_value: float

    @property
    def verdict(self) -> str:
        """higher / lower when the interval excludes 0, else not resolved."""
        if self.diff.low > 0:
            return "higher"
        if self.diff.high < 0:
            return "lower"
        return "not resolved"


def _draws(k: int, s: int, replicates: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, k, size=(replicates, k)), rng.integers(0, s, size=(replicates, s))


def _per_seed_means(m: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """(R, K): each seed's mean over each replicate's resampled segments."""
    return np.stack([m[:, segs[r]].mean(axis=1) for r in range(len(segs))])


def _over_seeds(per_seed: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """(R,): each replicate's mean over its resampled seeds."""
    return np.take_along_axis(per_seed, seeds, axis=1).mean(axis=1)


def _boot_means(m: np.ndarray, seeds: np.ndarray, segs: np.ndarray) -> np.ndarray:
    # mean over the resampled (seed, segment) cells = mean over resampled seeds of per-seed means
    # over the resampled segments
    return _over_seeds(_per_seed_means(m, segs), seeds)


def _check(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise ValueError(
            f"expected a (seeds, segments) matrix with at least one of each, got shape {m.shape}"
        )
    return m


def _p_value(boot: np.ndarray) -> float:
    """Two-sided bootstrap p of "no difference", bounded below by 1 / replicates (module docstring)."""
    p = 2 * min(float((boot <= 0).mean()), float((boot >= 0).mean()))
    return min(1.0, max(p, 1.0 / len(boot)))


def bootstrap_interval(correct: np.ndarray, replicates: int = 2000, seed: int = 0) -> Interval:
    """Mean of a (K seeds, S segments) 0/1 matrix and its two-level bootstrap 95 % interval."""
    m = _check(correct)
    seeds, segs = _draws(*m.shape, replicates, seed)
    boot = _boot_means(m, seeds, segs)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return Interval(float(m.mean()), float(lo), float(hi), m.shape[0], m.shape[1])


def paired_test(
    model: np.ndarray, reference: np.ndarray, replicates: int = 2000, seed: int = 0
) -> PairedTest:
    """Paired two-level bootstrap of mean(model) - mean(reference) on the same seeds and segments."""
    a, b = _check(model), _check(reference)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired test needs the same segments: {a.shape[1]} vs {b.shape[1]}")
    k = min(a.shape[0], b.shape[0])  # a reference trained once (the teacher) pairs with every seed
    a = a[:k] if b.shape[0] > 1 else a
    b = b[:k] if b.shape[0] > 1 else np.repeat(b, a.shape[0], axis=0)
    d = a - b
    seeds, segs = _draws(*d.shape, replicates, seed)
    boot = _boot_means(d, seeds, segs)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return PairedTest(Interval(float(d.mean()), float(lo), float(hi), d.shape[0], d.shape[1]), _p_value(boot))


def difference_of_gains(
    gain_a: np.ndarray, gain_b: np.ndarray, replicates: int = 2000, seed: int = 0
) -> PairedTest:
    """mean(gain_a) - mean(gain_b) for two disjoint segment groups of the same K seeds, with its interval.

    ``gain_*`` are (K, S_group) per-segment differences (model - reference). Seeds are resampled once
    and shared by both groups (a seed's training noise touches both); segments are resampled within
    each group. This tests "the gain is larger on group a than on group b" (seed 000's Figure 4).
    """
    a, b = _check(gain_a), _check(gain_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"both groups need the same seeds: {a.shape[0]} vs {b.shape[0]}")
    seeds, segs_a = _draws(a.shape[0], a.shape[1], replicates, seed)
    _, segs_b = _draws(b.shape[0], b.shape[1], replicates, seed + 1)
    boot = _over_seeds(_per_seed_means(a, segs_a) - _per_seed_means(b, segs_b), seeds)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    diff = float(a.mean() - b.mean())
    return PairedTest(Interval(diff, float(lo), float(hi), a.shape[0], a.shape[1] + b.shape[1]), _p_value(boot))


__all__ = ["Interval", "PairedTest", "bootstrap_interval", "difference_of_gains", "paired_test"]
