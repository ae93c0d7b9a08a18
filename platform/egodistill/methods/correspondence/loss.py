"""The correspondence losses: which IMU clip belongs to which video clip, over the *global* batch.

What the paper prints (seed 002, eq. 1)::

    L = 1/N^2 sum_i sum_j [ exp(s(v_i, m_j)) / sum_k exp(s(v_i, m_k)) + exp(s(v_i, m_j)) / sum_k exp(s(v_k, m_j)) ]

Summed over every j, each row softmax sums to 1, so L is the constant 2/N: the log and the restriction to
the matching pair were lost in extraction. What the code does (the evident intent, CLIP / imu2clip style):
the symmetric InfoNCE over cosine similarities with the matching pair as target,

    L_v->m = mean_i CE(tau^-1 * [cos(v_i, m_j)]_j, i)      L_m->v = mean_j CE(tau^-1 * [cos(v_i, m_j)]_i, j)
    L = (L_v->m + L_m->v) / 2

(imu2clip *sums* the two directions; the mean keeps the scale of one CE). tau is fixed or learned as
``log(1/tau)``, clamped to ``1/tau <= max_logit_scale``. Optional hard negatives: extra IMU clips from the same
video at a time offset, appended as columns of the video->IMU direction only (they have no video of their own).

The paper's own framing ("binary classification of corresponding pairs") is the second option,
:func:`binary_loss`: BCE on every (v_i, m_j) with target 1 on the diagonal, logits ``cos / tau + b`` (b learned),
positives weighted ``N - 1`` so matched and mismatched pairs count equally.

With several Ray Train workers the columns are the whole global batch: :func:`gather` uses
``torch.distributed.nn.functional.all_gather``, whose backward returns each rank its share of the gradient,
so every worker computes the loss of its own rows against all columns (open_clip's ``local_loss`` +
``gather_with_grad``), and DDP averages the parameter gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F


@dataclass
class ContrastiveTerms:
    """The loss and what it was computed from (``logits`` is rows = local videos, columns = global IMU)."""

    total: torch.Tensor
    v2m: torch.Tensor
    m2v: torch.Tensor
    logits: torch.Tensor
    top1_v2m: torch.Tensor  # per local row: the matching column scored highest


def world() -> tuple[int, int]:
    """(rank, world size) of the default process group, (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` of every rank along dim 0, gradients kept (identity on one process)."""
    _, size = world()
    if size == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()), dim=0)


def _masked_ce(
    logits: torch.Tensor, target: torch.Tensor, row_ok: torch.Tensor, col_ok: torch.Tensor
) -> torch.Tensor:
    """Mean CE over valid rows; invalid columns never compete (their logits are -inf)."""
    neg = torch.finfo(logits.dtype).min
    logits = logits.masked_fill(~col_ok[None, :], neg)
    per_row = F.cross_entropy(logits, target, reduction="none")
    w = row_ok.to(per_row.dtype)
    return (per_row * w).sum() / w.sum().clamp(min=1.0)


def contrastive_loss(
    v: torch.Tensor,
    m: torch.Tensor,
    logit_scale: torch.Tensor | float,
    *,
    ok: torch.Tensor | None = None,
    hard_m: torch.Tensor | None = None,
    hard_ok: torch.Tensor | None = None,
) -> ContrastiveTerms:
    """Symmetric InfoNCE of this rank's rows against the global batch (module docstring).

    ``v``, ``m``: (B, D) L2-normalised local embeddings; ``ok``: (B,) rows that count (failed decodes do not);
    ``hard_m``/``hard_ok``: (B, D)/(B,) extra same-video IMU negatives. ``logit_scale`` is 1/tau.
    """
    b = v.shape[0]
    ok = torch.ones(b, dtype=torch.bool, device=v.device) if ok is None else ok.bool()
    rank, _ = world()
    v_all, m_all, ok_all = gather(v), gather(m), gather(ok.to(torch.uint8)).bool()
    target = torch.arange(b, device=v.device) + rank * b
    logits = logit_scale * v @ m_all.t()  # (B, global B)
    cols_ok = ok_all
    if hard_m is not None:
        h_ok = (torch.ones(b, dtype=torch.bool, device=v.device) if hard_ok is None else hard_ok.bool()) & ok
        hard_all, hard_ok_all = gather(hard_m), gather(h_ok.to(torch.uint8)).bool()
        logits_v = torch.cat([logits, logit_scale * v @ hard_all.t()], dim=1)
        cols_ok = torch.cat([ok_all, hard_ok_all])
    else:
        logits_v = logits
    v2m = _masked_ce(logits_v, target, ok, cols_ok)
    m2v = _masked_ce(logit_scale * m @ v_all.t(), target, ok, ok_all)
    with torch.no_grad():
        top1 = (logits.masked_fill(~ok_all[None, :], float("-inf")).argmax(1) == target) & ok
    return ContrastiveTerms(0.5 * (v2m + m2v), v2m, m2v, logits, top1)


def binary_loss(
    v: torch.Tensor,
    m: torch.Tensor,
    logit_scale: torch.Tensor | float,
    bias: torch.Tensor | float = 0.0,
    *,
    ok: torch.Tensor | None = None,
) -> ContrastiveTerms:
    """The paper's framing: BCE on matched (diagonal) vs mismatched pairs of the global batch, balanced."""
    b = v.shape[0]
    ok = torch.ones(b, dtype=torch.bool, device=v.device) if ok is None else ok.bool()
    rank, _ = world()
    m_all, ok_all = gather(m), gather(ok.to(torch.uint8)).bool()
    target_idx = torch.arange(b, device=v.device) + rank * b
    logits = logit_scale * v @ m_all.t() + bias
    target = torch.zeros_like(logits)
    target[torch.arange(b, device=v.device), target_idx] = 1.0
    pair_ok = (ok[:, None] & ok_all[None, :]).to(logits.dtype)
    n_valid = ok_all.sum().clamp(min=2).to(logits.dtype)
    weight = pair_ok * torch.where(target > 0, n_valid - 1, torch.ones_like(target))
    per = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    total = (per * weight).sum() / weight.sum().clamp(min=1.0)
    with torch.no_grad():
        top1 = (logits.masked_fill(~ok_all[None, :], float("-inf")).argmax(1) == target_idx) & ok
    return ContrastiveTerms(total, total, total, logits, top1)


__all__ = ["ContrastiveTerms", "binary_loss", "contrastive_loss", "gather", "world"]
