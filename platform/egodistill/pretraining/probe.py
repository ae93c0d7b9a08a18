"""Linear probe of a frozen f_I on held-out synthetic frames: does the stand-in know more than random?

Frames come from worlds of a probe seed that neither the pool nor a benchmark world uses; the probe
(scikit-learn ``LogisticRegression`` on standardised 512-d features) trains on the first worlds'
frames and is scored on the others' (whole worlds held out, so scene colours cannot be memorised).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egodistill.pretraining.config import PoolSettings
from egodistill.pretraining.pool import render_world

PROBE_SEED = 4242


@dataclass(frozen=True)
class ProbeFrames:
    """Rendered probe frames and their labels, split by world."""

    images: np.ndarray  # (F, S, S, 3) uint8
    labels: dict[str, np.ndarray]  # "center" (object at fixation), "verb" ("" between actions)
    train: np.ndarray  # bool mask: frames of the training worlds


def probe_frames(
    pool: PoolSettings, worlds: int = 4, test_worlds: int = 1, seed: int = PROBE_SEED
) -> ProbeFrames:
    """``worlds`` worlds of ``seed`` rendered like the pool; the last ``test_worlds`` are held out."""
    parts = [render_world(pool, i, seed=seed) for i in range(worlds)]
    images = np.concatenate([p["image"] for p in parts])
    labels = {k: np.concatenate([p[k] for p in parts]).astype(str) for k in ("center", "verb")}
    world = np.concatenate([np.full(len(p["center"]), i) for i, p in enumerate(parts)])
    return ProbeFrames(images, labels, world < worlds - test_worlds)


def features(weights: str, images: np.ndarray, batch: int = 128) -> np.ndarray:
    """(F, 512) features of the frozen f_I loaded from ``weights`` (as the students load it)."""
    import torch

    from egodistill.models.image import ImageEncoder
    from egodistill.pretraining.task import normalise

    enc = ImageEncoder(weights, frozen=True)
    with torch.inference_mode():
        return np.concatenate(
            [
                enc(normalise(torch.as_tensor(images[i : i + batch]))).numpy()
                for i in range(0, len(images), batch)
            ]
        )


def probe_accuracy(feats: np.ndarray, labels: np.ndarray, train: np.ndarray, c: float = 0.05) -> float:
    """Held-out accuracy of a logistic-regression probe trained on the ``train`` frames."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
    probe.fit(feats[train], labels[train])
    return float(probe.score(feats[~train], labels[~train]))


__all__ = ["PROBE_SEED", "ProbeFrames", "features", "probe_accuracy", "probe_frames"]
