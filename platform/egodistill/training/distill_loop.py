"""Stage 2 (seed 000 eq. 3-6): the per-worker distillation loop, and the epoch engine stage 1 shares.

Per epoch every worker streams its shard of the joined student inputs
(``ray.train.get_dataset_shard("train")``: label, IMU, cached f_I features of the frame pool or the
decoded frames, selected frame indices, teacher feature and logits), picks the N frames
(:func:`~egodistill.training.student_data.batch_frames`), runs the student and the loss, steps AdamW,
and sums its statistics over the workers. Every ``eval_every`` epochs (and after the last) rank 0
predicts the evaluation clips and reports the per-segment top-1 (softmax averaged over each segment's
dense clips) while the other ranks wait at the report. Then every rank calls
:func:`~egodistill.training.ray_wiring.report_epoch` (rank 0 attaches the checkpoint: model, optimizer,
scheduler, epoch) and rank 0 logs the metrics to MLflow. A restarted worker group (``FailureConfig``)
or a re-run of the same job resumes at the epoch after the last checkpoint.

Loss (eq. 6): ``use_kd·α·L_KD(τ) + use_gt·(1−α)·L_GT + use_l1·β·L_1`` for the distilling variants
(the ``use_*`` switches are the Table 1 ablations), ``L_GT`` alone for VisOnly and VisIMU.

``config`` keys: ``job`` (DistillJobConfig as a dict), ``student`` (StudentConfig as a dict),
``init_state`` (stage-1 state dict path or None), ``eval_clip_ids``, ``eval_labels``, ``run_ref``,
``trainer`` (added by ``build_trainer``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from egodistill import tracking
from egodistill.training import ray_wiring
from egodistill.training.student_data import batch_frames

log = logging.getLogger(__name__)

StepFn = Callable[[torch.nn.Module, dict[str, torch.Tensor]], tuple[torch.Tensor, dict[str, float]]]


def all_sum(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def image_input(
    batch: dict[str, torch.Tensor], strategy: str, num_frames: int, from_frames: bool, generator=None
):
    """``{"frame_features": (B, N, 512)}`` or ``{"frames": (B, N, 3, H, W)}`` for the student."""
    picked = batch_frames(batch, strategy, num_frames, generator)
    if from_frames:
        from egodistill.features.image_cache import to_input

        return {"frames": to_input(picked)}
    return {"frame_features": picked.float()}


def boundary_input(batch: dict[str, torch.Tensor], boundary: list[int], from_frames: bool):
    """The first and last frame of the span: ``boundary_features`` (B, 2, 512) or ``boundary_frames``."""
    pool = batch["pool"]
    ends = pool[:, boundary]
    if from_frames:
        from egodistill.features.image_cache import to_input

        return {"boundary_frames": to_input(ends)}
    return {"boundary_features": ends.float()}


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    batches: Any,
    *,
    strategy: str,
    num_frames: int,
    from_frames: bool,
    uses_imu: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, softmax probabilities) over an iterable of batches (eval mode; random -> uniform-ish seed 0)."""
    model.eval()
    gen = torch.Generator().manual_seed(0)
    rows, probs = [], []
    for batch in batches:
        inputs = image_input(batch, strategy, num_frames, from_frames, gen)
        out = model(**inputs, imu=batch["imu"].float() if uses_imu else None)
        probs.append(out.logits.float().softmax(1).cpu().numpy())
        rows.append(batch["row"].cpu().numpy())
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 0))
    return np.concatenate(rows), np.concatenate(probs)


def evaluate_segments(model, iterator, job: dict[str, Any], config: dict[str, Any], device, uses_imu: bool):
    """Per-segment and per-clip top-1 of the evaluation clips (rank 0 only)."""
    from egodistill.evaluation.segments import segment_results

    data = job["data"]
    rows, probs = predict(
        ray_wiring.unwrap(model),
        iterator.iter_torch_batches(batch_size=job["optim"]["eval_batch_size"], device=device),
        strategy=data["strategy"],
        num_frames=int(config["student"]["num_frames"]),
        from_frames=bool(config.get("from_frames")),
        uses_imu=uses_imu,
    )
    ids = [config["eval_clip_ids"][i] for i in rows]
    labels = np.asarray(config["eval_labels"])[rows]
    res = segment_results(ids, probs, labels, int(config["student"]["num_classes"]))
    return {"val_segment_top1": res.top1, "val_clip_top1": res.clip_top1, "val_segments": len(res.segment_id)}


def run_epochs(
    config: dict[str, Any],
    step: StepFn,
    *,
    stage: str,
    evaluate: bool,
    wrap: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
) -> None:
    """The shared epoch engine: build, prepare, restore, train, evaluate, checkpoint, log."""
    import ray.train

    from egodistill.models.config import StudentConfig
    from egodistill.models.student import build_student

    job = config["job"]
    optim = job["optim"]
    settings = ray_wiring.TrainerSettings.model_validate(config["trainer"])
    run_ref = config.get("run_ref")
    info = ray_wiring.worker_info(settings)
    torch.manual_seed(int(job["seed"]) + 1000 * info.rank)
    gen = torch.Generator().manual_seed(int(job["seed"]) + 7919 * (info.rank + 1))
    scfg = StudentConfig.model_validate(config["student"])
    model = build_student(scfg)
    if config.get("init_state"):
        state = torch.load(config["init_state"], map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    if not config.get("from_frames"):
        # cached f_I features: the frozen encoder is never called, so keep its 11 M parameters out of
        # the worker, the optimizer and every epoch's checkpoint (the driver re-attaches it)
        model.image_encoder = None
    if wrap is not None:
        model = wrap(model)
    # Device and DDP first, optimizer second, restore last: the loaded optimizer state then lands on
    # the parameters' device (GPU resume), and every rank loads the same checkpoint.
    model = ray_wiring.prepare(model, settings)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=optim["lr"], weight_decay=optim["weight_decay"])
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=optim["milestones"], gamma=optim["gamma"]
    )
    start_epoch, extra = ray_wiring.restore(model=model, optimizer=optimizer, scheduler=scheduler)
    attempt = int(extra.get("attempt", 0)) + (1 if start_epoch > 0 else 0)
    per_worker = max(1, int(optim["batch_size"]) // info.world_size)
    shard = ray.train.get_dataset_shard("train")
    val = ray.train.get_dataset_shard("val") if evaluate and config.get("eval_clip_ids") else None
    uses_imu = bool(getattr(ray_wiring.unwrap(model), "uses_imu", True))
    epochs = int(optim["epochs"])
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        model.train()
        totals: dict[str, float] = {}
        n = 0.0
        for batch in shard.iter_torch_batches(
            batch_size=per_worker,
            device=info.device,
            local_shuffle_buffer_size=job["data"]["shuffle_buffer"] or None,
        ):
            batch["_generator"] = gen  # type: ignore[assignment]
            loss, stats = step(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            b = float(len(batch["label"]))
            for k, v in stats.items():
                totals[k] = totals.get(k, 0.0) + v * b
            n += b
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        keys = sorted(totals)
        summed = all_sum([totals[k] for k in keys] + [n], info.device)
        n_all = summed[-1]
        train_sec = time.perf_counter() - t0
        metrics: dict[str, Any] = {
            f"train_{k}": v / n_all if n_all else float("nan") for k, v in zip(keys, summed, strict=False)
        }
        metrics.update({"train_clips": int(n_all), "train_sec": train_sec, "lr": lr, "start_epoch": start_epoch,
                        "attempt": attempt, "epochs_done": epoch + 1, "stage": stage})  # fmt: skip
        last = epoch == epochs - 1
        if info.is_chief and val is not None and ((epoch + 1) % int(optim["eval_every"]) == 0 or last):
            t1 = time.perf_counter()
            metrics.update(evaluate_segments(model, val, job, config, info.device, uses_imu))
            metrics["eval_sec"] = time.perf_counter() - t1
        metrics.pop("stage")
        tracking.log_metrics(run_ref, metrics, step=epoch)
        log.info(
            "%s epoch %d/%d: loss %.4f (%.1f s)",
            stage,
            epoch + 1,
            epochs,
            metrics.get("train_loss", float("nan")),
            train_sec,
        )
        ray_wiring.report_epoch(
            metrics, epoch=epoch, model=model, optimizer=optimizer, scheduler=scheduler,
            extra={"attempt": attempt, "start_epoch": start_epoch},
        )  # fmt: skip
        fail = job.get("fail_after_epoch")
        if fail is not None and epoch == int(fail) and info.is_chief:
            _fail_once(job, epoch)


def _fail_once(job: dict[str, Any], epoch: int) -> None:
    """Test hook: raise once after epoch ``fail_after_epoch`` (guarded by a marker file)."""
    from pathlib import Path

    marker = Path(job["fail_marker"])
    if marker.exists():
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"failed once after epoch {epoch}\n")
    raise RuntimeError(f"injected failure after epoch {epoch} (fail_after_epoch)")


def distill_step(job: dict[str, Any], student: dict[str, Any], from_frames: bool, distill: bool) -> StepFn:
    """One stage-2 step: forward, eq. 6 (with the ablation switches) or L_GT."""
    from egodistill.losses import feature_l1_loss, gt_loss, kd_loss

    loss_cfg = job["loss"]
    data = job["data"]
    n = int(student["num_frames"])

    def step(model, batch):
        inputs = image_input(batch, data["strategy"], n, from_frames, batch.get("_generator"))
        uses_imu = ray_wiring.unwrap(model).uses_imu
        out = model(**inputs, imu=batch["imu"].float() if uses_imu else None)
        y = batch["label"].long()
        gt = gt_loss(out.logits, y)
        stats = {"gt": float(gt.detach()), "top1": float((out.logits.argmax(1) == y).float().mean())}
        if not distill:
            return gt, {"loss": float(gt.detach()), **stats}
        kd = kd_loss(out.logits, batch["teacher_logits"].float(), loss_cfg["temperature"])
        l1 = feature_l1_loss(out.fused, batch["teacher_feature"].float())
        a, b = loss_cfg["alpha"], loss_cfg["beta"]
        total = out.logits.new_zeros(())
        if loss_cfg["use_kd"]:
            total = total + a * kd
        if loss_cfg["use_gt"]:
            total = total + (1.0 - a) * gt
        if loss_cfg["use_l1"]:
            total = total + b * l1
        stats.update({"kd": float(kd.detach()), "l1": float(l1.detach()), "loss": float(total.detach())})
        return total, stats

    return step


def train_loop(config: dict[str, Any]) -> None:
    """The function ``TorchTrainer`` runs on every worker (stage 2)."""
    from egodistill.models.config import VARIANTS

    distill = VARIANTS[config["student"]["variant"]].distill
    step = distill_step(config["job"], config["student"], bool(config.get("from_frames")), distill)
    run_epochs(config, step, stage="distill", evaluate=True)


__all__ = [
    "all_sum",
    "boundary_input",
    "distill_step",
    "evaluate_segments",
    "image_input",
    "predict",
    "run_epochs",
    "train_loop",
]
