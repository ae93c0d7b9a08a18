"""The teacher ensemble: a weighted sum of teacher logits (the reference code's three weightings).

* ``uniform``:     w_k = 1/n;
* ``per_sample``:  w_{b,k} = softmin_k(CE(z_{b,k}, y_b) / T_w) (needs the label: a training target, an
  oracle at test time);
* ``per_dataset``: w_k = softmin_k(mean CE_k over a held-out part of the training set no teacher trained
  on / T_w), computed once before the student trains (:func:`dataset_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

WEIGHTINGS = ("uniform", "per_sample", "per_dataset")


def per_sample_weights(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """(B, K) weights from teacher logits (B, K, C) and labels (B,): softmin of each teacher's CE / T_w."""
    b, k, c = logits.shape
    ce = F.cross_entropy(
        logits.reshape(b * k, c).float(), labels.long().repeat_interleave(k), reduction="none"
    )
    return torch.softmax(-ce.reshape(b, k) / temperature, dim=1)


def dataset_weights(mean_ce: Sequence[float], temperature: float = 1.0) -> list[float]:
    """Per-dataset weights: softmin of each teacher's mean held-out CE / T_w."""
    return torch.softmax(-torch.tensor(list(mean_ce), dtype=torch.float64) / temperature, dim=0).tolist()


def ensemble_logits(logits: torch.Tensor, weighting: str, labels: torch.Tensor | None = None,
                    temperature: float = 1.0, fixed: Sequence[float] | None = None) -> torch.Tensor:  # fmt: skip
    """(B, C) = Σ_k w_k · z_k over teacher logits (B, K, C) under ``weighting``."""
    b, k, _ = logits.shape
    if weighting == "uniform":
        w = torch.full((b, k), 1.0 / k, dtype=logits.dtype, device=logits.device)
    elif weighting == "per_sample":
        if labels is None:
            raise ValueError("per_sample weighting needs the labels")
        w = per_sample_weights(logits, labels, temperature).to(logits.dtype)
    elif weighting == "per_dataset":
        if fixed is None or len(fixed) != k:
            raise ValueError(f"per_dataset weighting needs {k} fixed weights, got {fixed}")
        w = torch.tensor(list(fixed), dtype=logits.dtype, device=logits.device).expand(b, k)
    else:
        raise ValueError(f"weighting {weighting!r} is not one of {WEIGHTINGS}")
    return (w.unsqueeze(2) * logits).sum(1)


__all__ = ["WEIGHTINGS", "dataset_weights", "ensemble_logits", "per_sample_weights"]
