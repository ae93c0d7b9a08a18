"""EgoDistill's losses (seed paper eq. 3-7), as pure functions on tensors.

Conventions, for all functions: the paper writes each loss as a *sum* over clips; we average over the
batch (``reduction = mean``), which only rescales the learning rate. Teacher outputs (features, logits)
are targets and are detached. Every constant is an argument whose default is the paper's value.

* ``kd_loss`` (eq. 4): ``KL(softmax(t / τ) || softmax(s / τ))``, summed over classes, mean over the
  batch, multiplied by ``τ²``. Eq. 4 itself has no ``τ²``; the factor is Hinton et al.'s [31] (the
  paper's reference for α) and keeps the soft-target gradients' scale independent of τ, which matters at
  the paper's Ego4D τ = 10 (without it the KD gradients would be 100x smaller next to L_GT).
  ``scale_by_temperature_squared=False`` gives eq. 4 literally.
* ``gt_loss`` (eq. 5): cross-entropy with the labels, mean over the batch.
* ``feature_l1_loss`` (eq. 3): ``|z_V - z_φ|``; ``reduction="mean"`` averages over batch *and* feature
  dims (PyTorch's ``L1Loss``, the scale at which β = 1 balances against KD and CE);
  ``reduction="batchmean"`` is eq. 3's per-clip L1 norm averaged over the batch (D times larger).
* ``egodistill_loss`` (eq. 6): ``α·L_KD + (1 − α)·L_GT + β·L_1`` with α = 0.95, β = 1.0, τ = 10 (Ego4D;
  the paper uses τ = 1 on EPIC-Kitchens). ``distill=False`` gives the VisOnly/VisIMU loss, L_GT alone.
* ``info_nce_loss`` (eq. 7): ``-log(sim(ẑ_i, z_i) / Σ_j sim(ẑ_i, z_j))`` with
  ``sim(q, k) = exp(cos(q, k) / τ')``, τ' = 0.1, negatives = the other clips of the batch (j ≠ i; the
  sum over j includes the positive). That is the cross-entropy of the row-wise softmax of the cosine
  similarity matrix ``Q̂ Kᵀ / τ'`` with the diagonal as targets. One-directional (prediction → IMU
  feature), as in eq. 7. A batch of one has no negatives and gives 0.
* ``pretrain_loss`` (section 3.4): ``L_NCE + L_1``.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F

#: Seed paper values (section 4.1 and 3.4).
PAPER_ALPHA = 0.95
PAPER_BETA = 1.0
PAPER_KD_TEMPERATURE = {"ego4d": 10.0, "epic": 1.0}
PAPER_NCE_TEMPERATURE = 0.1

L1Reduction = Literal["mean", "batchmean"]


class LossTerms(NamedTuple):
    total: torch.Tensor
    kd: torch.Tensor | None
    gt: torch.Tensor
    l1: torch.Tensor | None


class PretrainLossTerms(NamedTuple):
    total: torch.Tensor
    nce: torch.Tensor
    l1: torch.Tensor


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = PAPER_KD_TEMPERATURE["ego4d"],
    scale_by_temperature_squared: bool = True,
) -> torch.Tensor:
    """L_KD (eq. 4): KL(teacher ‖ student) of the τ-softened distributions, batch mean, × τ² (Hinton)."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher logits {tuple(teacher_logits.shape)} differ"
        )
    log_p_s = F.log_softmax(student_logits / temperature, dim=-1)
    log_p_t = F.log_softmax(teacher_logits.detach() / temperature, dim=-1)
    kl = F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)
    return kl * temperature**2 if scale_by_temperature_squared else kl


def gt_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_GT (eq. 5): cross-entropy with integer class labels, batch mean."""
    return F.cross_entropy(logits, labels)


def feature_l1_loss(
    student_feature: torch.Tensor, teacher_feature: torch.Tensor, reduction: L1Reduction = "mean"
) -> torch.Tensor:
    """L_1 (eq. 3) between the fused student feature z_φ and the teacher's clip feature z_V."""
    if student_feature.shape != teacher_feature.shape:
        raise ValueError(
            f"student feature {tuple(student_feature.shape)} and teacher feature "
            f"{tuple(teacher_feature.shape)} differ (Π's output dim must equal the teacher's feature dim)"
        )
    diff = (student_feature - teacher_feature.detach()).abs()
    if reduction == "mean":
        return diff.mean()
    if reduction == "batchmean":
        return diff.flatten(1).sum(dim=1).mean()
    raise ValueError(f'reduction must be "mean" or "batchmean", got {reduction!r}')


def egodistill_loss(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_logits: torch.Tensor | None = None,
    student_feature: torch.Tensor | None = None,
    teacher_feature: torch.Tensor | None = None,
    *,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    temperature: float = PAPER_KD_TEMPERATURE["ego4d"],
    distill: bool = True,
    use_kd: bool = True,
    use_gt: bool = True,
    use_l1: bool = True,
    scale_kd_by_temperature_squared: bool = True,
    l1_reduction: L1Reduction = "mean",
) -> LossTerms:
    """L (eq. 6) = α·L_KD + (1 − α)·L_GT + β·L_1; with ``distill=False``, L = L_GT (VisOnly, VisIMU).

    ``use_kd`` / ``use_gt`` / ``use_l1`` drop a term from the objective (the Table 1 ablations; the
    others keep their paper weights). Terms whose inputs are given are always computed and returned
    (for logging); only those the objective uses carry into ``total``.
    """
    gt = gt_loss(student_logits, labels)
    kd = None
    if teacher_logits is not None:
        kd = kd_loss(student_logits, teacher_logits, temperature, scale_kd_by_temperature_squared)
    l1 = None
    if student_feature is not None and teacher_feature is not None:
        l1 = feature_l1_loss(student_feature, teacher_feature, l1_reduction)
    if not distill:
        return LossTerms(gt, kd, gt, l1)
    if kd is None or l1 is None:
        raise ValueError(
            "the distillation loss needs teacher_logits, student_feature and teacher_feature "
            "(use distill=False for the L_GT-only variants)"
        )
    total = student_logits.new_zeros(())
    if use_kd:
        total = total + alpha * kd
    if use_gt:
        total = total + (1.0 - alpha) * gt
    if use_l1:
        total = total + beta * l1
    return LossTerms(total, kd, gt, l1)


def info_nce_loss(
    predicted: torch.Tensor, target: torch.Tensor, temperature: float = PAPER_NCE_TEMPERATURE
) -> torch.Tensor:
    """L_NCE (eq. 7) with in-batch negatives and cosine similarity; rows: ẑ_M, columns: z_M."""
    if predicted.dim() != 2 or predicted.shape != target.shape:
        raise ValueError(
            f"info_nce_loss expects two (B, D) tensors of the same shape, got {tuple(predicted.shape)} "
            f"and {tuple(target.shape)}"
        )
    q = F.normalize(predicted, dim=1)
    k = F.normalize(target, dim=1)
    logits = q @ k.t() / temperature
    return F.cross_entropy(logits, torch.arange(len(q), device=q.device))


def pretrain_loss(
    predicted_imu: torch.Tensor,
    imu_feature: torch.Tensor,
    student_feature: torch.Tensor,
    teacher_feature: torch.Tensor,
    *,
    temperature: float = PAPER_NCE_TEMPERATURE,
    nce_weight: float = 1.0,
    l1_weight: float = 1.0,
    l1_reduction: L1Reduction = "mean",
) -> PretrainLossTerms:
    """L_pretrain (section 3.4) = L_NCE(h(z_I^0, z_I^T), z_M) + L_1(Π(z_I, z_M), z_V)."""
    nce = info_nce_loss(predicted_imu, imu_feature, temperature)
    l1 = feature_l1_loss(student_feature, teacher_feature, l1_reduction)
    return PretrainLossTerms(nce_weight * nce + l1_weight * l1, nce, l1)
