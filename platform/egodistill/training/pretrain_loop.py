"""Stage 1 (seed 000 §3.4, eq. 7): the per-worker self-supervised IMU pretraining loop.

Trains f_M, h and Π with ``L_pretrain = w_nce·L_NCE(h(z_I^0, z_I^T), f_M(M)) + w_l1·L_1(Π(z_I, z_M), z_V)``:
in-batch negatives (each worker's batch; τ' = 0.1), the first and last frame of the clip's span from
the frame pool, the N selected frames for Π. The classifier gets no gradient here (DDP runs with
``find_unused_parameters``). Checkpointing, resume, metrics and MLflow come from the shared epoch
engine :func:`egodistill.training.distill_loop.run_epochs`; ``train_nce_top1`` is the in-batch
retrieval accuracy of ẑ_M against z_M (chance = 1 / batch).

``config`` keys: as :mod:`.distill_loop`, plus ``boundary`` (pool indices of the first and last frame).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from egodistill.training.distill_loop import StepFn, boundary_input, image_input, run_epochs


class PretrainView(torch.nn.Module):
    """The student with ``pretrain_forward`` as its ``forward``, so DDP sees (and all-reduces) the call.

    Its state dict is the student's with a ``student.`` prefix (:func:`student_state` strips it).
    """

    def __init__(self, student: torch.nn.Module) -> None:
        super().__init__()
        self.student = student

    def forward(self, **kwargs):
        return self.student.pretrain_forward(**kwargs)


def student_state(state: dict[str, Any]) -> dict[str, Any]:
    """A stage-1 checkpoint's model state as a plain student state dict."""
    prefix = "student."
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state.items()}


def pretrain_step(
    job: dict[str, Any], student: dict[str, Any], boundary: list[int], from_frames: bool
) -> StepFn:
    from egodistill.losses import pretrain_loss

    loss_cfg = job["loss"]
    data = job["data"]
    n = int(student["num_frames"])

    def step(model, batch):
        inputs = image_input(batch, data["strategy"], n, from_frames, batch.get("_generator"))
        ends = boundary_input(batch, boundary, from_frames)
        o = model(imu=batch["imu"].float(), **ends, **inputs)  # PretrainView: through DDP's forward
        terms = pretrain_loss(
            o.predicted_imu,
            o.imu_feature,
            o.fused,
            batch["teacher_feature"].float(),
            temperature=loss_cfg["nce_temperature"],
            nce_weight=loss_cfg["nce_weight"] if loss_cfg["use_nce"] else 0.0,
            l1_weight=loss_cfg["l1_weight"] if loss_cfg["use_l1"] else 0.0,
        )
        with torch.no_grad():
            sim = F.normalize(o.predicted_imu, dim=1) @ F.normalize(o.imu_feature, dim=1).t()
            top1 = (sim.argmax(1) == torch.arange(len(sim), device=sim.device)).float().mean()
        stats = {"loss": float(terms.total.detach()), "nce": float(terms.nce.detach()),
                 "l1": float(terms.l1.detach()), "nce_top1": float(top1)}  # fmt: skip
        return terms.total, stats

    return step


def train_loop(config: dict[str, Any]) -> None:
    """The function ``TorchTrainer`` runs on every worker (stage 1)."""
    step = pretrain_step(
        config["job"], config["student"], list(config["boundary"]), bool(config.get("from_frames"))
    )
    run_epochs(config, step, stage="pretrain", evaluate=False, wrap=PretrainView)


__all__ = ["PretrainView", "pretrain_step", "student_state", "train_loop"]
