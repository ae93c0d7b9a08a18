"""Accuracy with an interval, per-class accuracy and calibration (ECE, reliability diagram).

ECE follows the authors' ``calibration.py``: softmax of logits averaged over a segment's views,
confidence = max probability, 15 equal bins with a sample in bin i when lower < conf <= upper (the
first bin also takes conf = 0), ``ECE = Σ (n_i/N)·|conf_i − acc_i|`` over non-empty bins (reported
×100 in the tables). The top-1 interval is Wilson's 95 % score interval over segments (segments are
the independent units; a closed form, no resampling seed to report).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Reliability:
    """Per-bin counts, mean confidence and accuracy (the reliability diagram's data) and the ECE."""

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    ece: float


def reliability(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> Reliability:
    """Bins over max-probability confidence, lower < conf <= upper (the reference's rule)."""
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, np.int64)
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bin i holds edges[i] < conf <= edges[i+1]; searchsorted(side="left") gives exactly that
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.int64)
    csum = np.bincount(idx, weights=conf, minlength=n_bins)
    asum = np.bincount(idx, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mconf, macc = csum / count, asum / count
    n = max(len(labels), 1)
    ece = float(sum(count[i] / n * abs(mconf[i] - macc[i]) for i in range(n_bins) if count[i]))
    return Reliability(edges, count, mconf, macc, ece)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    return reliability(probs, labels, n_bins).ece


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default)."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def topk_correct(probs: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return (top == np.asarray(labels)[:, None]).any(1)


def per_class_accuracy(
    probs: np.ndarray, labels: np.ndarray, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy per class, nan without segments; segments per class)."""
    pred = probs.argmax(1)
    n = np.bincount(labels, minlength=num_classes)
    hit = np.bincount(labels, weights=(pred == labels).astype(np.float64), minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hit / np.maximum(n, 1), np.nan), n


def ece_interval(
    probs: np.ndarray, labels: np.ndarray, n_bins: int = 15, replicates: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the ECE over segments (resampled with replacement).

    ECE is a binned statistic with no closed-form interval; on a few hundred segments its sampling
    spread is several points, which a calibration claim has to be read against.
    """
    labels = np.asarray(labels, np.int64)
    n = len(labels)
    if n == 0:
        return float("nan"), float("nan")
    probs = np.asarray(probs)
    rng = np.random.default_rng(seed)
    draws = [reliability(probs[i], labels[i], n_bins).ece for i in rng.integers(0, n, size=(replicates, n))]
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return float(lo), float(hi)


def summarise(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict[str, float]:
    """top-1 (Wilson 95 %), top-5, ECE (×100, bootstrap 95 %), mean confidence, number of segments."""
    labels = np.asarray(labels, np.int64)
    n = len(labels)
    hits = int(topk_correct(probs, labels, 1).sum())
    lo, hi = wilson(hits, n)
    rel = reliability(probs, labels, n_bins)
    ece_lo, ece_hi = ece_interval(probs, labels, n_bins)
    return {"segments": n, "top1": hits / n if n else float("nan"), "top1_lo": lo, "top1_hi": hi,
            "top5": float(topk_correct(probs, labels, 5).mean()) if n else float("nan"),
            "ece": 100.0 * rel.ece, "ece_lo": 100.0 * ece_lo, "ece_hi": 100.0 * ece_hi,
            "mean_confidence": float(np.asarray(probs).max(1).mean()) if n else float("nan")}  # fmt: skip


def plot_reliability(rel: Reliability, title: str, path: str) -> None:
    """A reliability diagram (accuracy per confidence bin against the diagonal) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 3.6), dpi=110)
    width = rel.edges[1] - rel.edges[0]
    mask = rel.count > 0
    ax.bar(rel.edges[:-1][mask], rel.accuracy[mask], width=width, align="edge", edgecolor="k", alpha=0.7,
           label="accuracy")  # fmt: skip
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect")
    ax.set_xlim(0, 1), ax.set_ylim(0, 1)
    ax.set_xlabel("confidence"), ax.set_ylabel("accuracy")
    ax.set_title(f"{title}\nECE {100 * rel.ece:.1f}, n={int(rel.count.sum())}", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


__all__ = ["Reliability", "ece_interval", "expected_calibration_error", "per_class_accuracy", "plot_reliability", "reliability",
           "softmax", "summarise", "topk_correct", "wilson"]  # fmt: skip
