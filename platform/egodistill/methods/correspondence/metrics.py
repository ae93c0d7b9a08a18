"""Scores of the paper's evaluations, as plain functions of arrays (scikit-learn underneath).

* correspondence ROC-AUC (Table 3): every (video i, IMU j) of a held-out set is an item, positive when
  i == j; most are negatives, hence AUC rather than accuracy. Interval: percentile bootstrap over the
  *clips* (rows resampled with their whole row of pairs; 95 %, 1000 resamples by default).
* retrieval (imu2clip): rank of the matching column per row: R@k and MRR, both directions.
* accuracies (probes, classifiers): Wilson score interval (95 %).
* the linear probe (Tables 4, 5): standardised features + multinomial logistic (softmax) regression.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Estimate:
    """A figure with its 95 % interval, how the interval was made and how many items it rests on."""

    value: float
    low: float
    high: float
    n: int
    interval: str

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)

    def text(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}] (n={self.n}, {self.interval})"


def wilson(correct: int, n: int, z: float = 1.959964) -> Estimate:
    """Accuracy ``correct / n`` with the Wilson score 95 % interval."""
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, "wilson 95%")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n, "wilson 95%")


def correspondence_auc(sim: np.ndarray) -> float:
    """ROC-AUC of a square similarity matrix whose diagonal holds the matching pairs."""
    from sklearn.metrics import roc_auc_score

    sim = np.asarray(sim, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 2:
        raise ValueError(f"correspondence needs a square similarity matrix of >= 2 pairs, got {sim.shape}")
    y = np.eye(sim.shape[0], dtype=bool).ravel()
    return float(roc_auc_score(y, sim.ravel()))


def _auc_rows(sim: np.ndarray, rows: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    sub = sim[rows]
    y = np.zeros_like(sub, dtype=bool)
    y[np.arange(len(rows)), rows] = True
    return float(roc_auc_score(y.ravel(), sub.ravel()))


def auc_estimate(sim: np.ndarray, resamples: int = 1000, seed: int = 0) -> Estimate:
    """:func:`correspondence_auc` with a bootstrap interval over clips; ``n`` counts the pairs scored."""
    sim = np.asarray(sim, dtype=np.float64)
    value = correspondence_auc(sim)
    rng = np.random.default_rng(seed)
    n = sim.shape[0]
    boots = [_auc_rows(sim, rng.integers(0, n, n)) for _ in range(resamples)]
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return Estimate(value, float(lo), float(hi), n * n, f"bootstrap 95% over {n} clips")


def retrieval(sim: np.ndarray, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Rows -> columns: R@k (matching column within the top k) and MRR (ties count against the match)."""
    sim = np.asarray(sim, dtype=np.float64)
    diag = np.diag(sim)
    rank = 1 + (sim > diag[:, None]).sum(axis=1) + ((sim == diag[:, None]).sum(axis=1) - 1)
    out = {f"r@{k}": float(np.mean(rank <= k)) for k in ks}
    out["mrr"] = float(np.mean(1.0 / rank))
    out["n"] = int(sim.shape[0])
    return out


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, c: float = 1.0, max_iter: int = 2000, seed: int = 0):
    """Standardised features -> softmax (multinomial logistic) regression, scikit-learn."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter, random_state=seed))
    return model.fit(np.asarray(x_train, np.float64), np.asarray(y_train))


def probe_probs(model, x: np.ndarray, classes: int) -> np.ndarray:
    """(N, classes) probabilities; classes unseen in training get probability 0."""
    p = model.predict_proba(np.asarray(x, np.float64))
    out = np.zeros((len(x), classes))
    out[:, model.classes_] = p
    return out


__all__ = [
    "Estimate",
    "auc_estimate",
    "correspondence_auc",
    "fit_probe",
    "probe_probs",
    "retrieval",
    "wilson",
]
