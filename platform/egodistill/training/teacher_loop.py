"""The per-worker teacher training loop (run by ``TorchTrainer`` on every worker).

Per epoch: stream this worker's shard of the training clips (``ray.train.get_dataset_shard("train")``,
decoded by Ray Data with a fresh temporal jitter each epoch), augment on the device, cross-entropy,
AdamW; sum the epoch's statistics over workers; every ``eval_every`` epochs rank 0 evaluates the
per-segment top-1 on the whole evaluation set (softmax averaged over each segment's dense clips)
while the other ranks wait at the report; then every rank calls
:func:`~egodistill.training.ray_wiring.report_epoch` (rank 0 attaches the checkpoint) and rank 0 logs
the metrics to MLflow. On a restart (``FailureConfig``) :func:`~egodistill.training.ray_wiring.restore`
resumes at the epoch after the last checkpoint.

Rows that failed to decode (``ok`` False) stay in their batch with zero weight, so every worker runs
the same number of steps (DDP needs that) and the failures are counted in ``train_clips_failed``.

``config`` keys: ``job`` (TeacherJobConfig as a dict), ``model`` (a :mod:`.classifiers` spec),
``num_segments``, ``run_ref`` (:class:`~egodistill.tracking.RunRef` or None), ``trainer``
(added by :func:`~egodistill.training.ray_wiring.build_trainer`).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from egodistill import tracking
from egodistill.training import classifiers, ray_wiring
from egodistill.training.augment import model_input
from egodistill.training.config import FailOnce, TeacherJobConfig

log = logging.getLogger(__name__)


class InjectedFailure(RuntimeError):
    """Raised by :class:`~egodistill.training.config.FailOnce` to exercise recovery."""


def lr_factor(epoch: int, epochs: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up over ``warmup`` epochs, then cosine from 1 to ``min_ratio``."""
    if warmup and epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    span = max(1, epochs - warmup)
    progress = min(1.0, (epoch - warmup) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _maybe_fail(fail: FailOnce | None, epoch: int, rank: int, batch: int | None) -> None:
    """Raise once (guarded by the marker file) in the configured rank and epoch."""
    if fail is None or fail.epoch != epoch or fail.rank != rank:
        return
    if batch is not None and batch != fail.after_batches:
        return
    marker = Path(fail.marker)
    if marker.exists():
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"failed once in epoch {epoch}, rank {rank}, before batch {batch}\n")
    raise InjectedFailure(f"injected failure (fail_once) in rank {rank}, epoch {epoch}, batch {batch}")


def _all_sum(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    iterator: Any,
    spec: Any,
    *,
    num_segments: int,
    num_classes: int,
    device: torch.device,
    batch_size: int,
    amp: bool,
) -> dict[str, Any]:
    """Per-segment top-1 (softmax averaged over each segment's dense clips) and per-clip top-1.

    Segments whose clips all failed to decode are left out of the top-1 and counted in
    ``val_segments_missing``. Also returns ``per_segment`` = (pred, confidence, clips) per segment.
    """
    model.eval()
    sums = torch.zeros(num_segments, num_classes, dtype=torch.float64)
    counts = torch.zeros(num_segments, dtype=torch.long)
    labels = torch.full((num_segments,), -1, dtype=torch.long)
    clip_correct = clip_n = failed = 0
    loss_sum = 0.0
    for batch in iterator.iter_torch_batches(batch_size=batch_size, device=device):
        ok = batch["ok"].bool()
        failed += int((~ok).sum())
        if not bool(ok.any()):
            continue
        x = model_input(batch["clip"][ok], spec, train=False)
        y = batch["label"][ok].long()
        seg = batch["segment"][ok].long().cpu()
        with ray_wiring.autocast(device, amp):
            logits = classifiers.logits_of(model(x)).float()
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        probs = logits.softmax(dim=1).double().cpu()
        sums.index_add_(0, seg, probs)
        counts.index_add_(0, seg, torch.ones_like(seg))
        labels[seg] = y.cpu()
        clip_correct += int((logits.argmax(1) == y).sum())
        clip_n += int(y.numel())
    covered = counts > 0
    preds = sums.argmax(1)
    conf = (sums.max(1).values / counts.clamp(min=1)).float()
    seg_correct = int((preds[covered] == labels[covered]).sum())
    n_cov = int(covered.sum())
    return {
        "val_segment_top1": seg_correct / n_cov if n_cov else float("nan"),
        "val_segments": n_cov,
        "val_segments_correct": seg_correct,
        "val_segments_missing": num_segments - n_cov,
        "val_clip_top1": clip_correct / clip_n if clip_n else float("nan"),
        "val_clips": clip_n,
        "val_clips_failed": failed,
        "val_loss": loss_sum / clip_n if clip_n else float("nan"),
        "per_segment": {
            "pred": [int(p) if c else -1 for p, c in zip(preds.tolist(), covered.tolist(), strict=True)],
            "confidence": [float(v) for v in conf.tolist()],
            "clips": counts.tolist(),
        },
    }


def train_loop(config: dict[str, Any]) -> None:
    """The function ``TorchTrainer`` runs on every worker."""
    import ray.train

    job = TeacherJobConfig.model_validate(config["job"])
    settings = ray_wiring.TrainerSettings.model_validate(config["trainer"])
    run_ref = config.get("run_ref")
    info = ray_wiring.worker_info(settings)
    torch.manual_seed(job.seed + 1000 * info.rank)
    aug_gen = torch.Generator().manual_seed(job.seed + 7919 * (info.rank + 1))

    model = classifiers.build(config["model"])
    spec = model.input_spec
    num_classes = int(model.num_classes)
    # Device and DDP first, optimizer second, restore last: loaded optimizer state then lands on the
    # parameters' device, and every rank loads the same checkpoint, so the replicas stay identical.
    model = ray_wiring.prepare(model, settings)
    o = job.optim
    optimizer = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: lr_factor(e, o.epochs, o.warmup_epochs, o.min_lr_ratio)
    )
    scaler = ray_wiring.grad_scaler(info.device, settings.amp)
    start_epoch, extra = ray_wiring.restore(
        model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler
    )
    attempt = int(extra.get("attempt", 0)) + (1 if start_epoch > 0 else 0)

    per_worker_batch = max(1, o.batch_size // info.world_size)
    train_shard = ray.train.get_dataset_shard("train")
    val_iter = ray.train.get_dataset_shard("val") if config.get("num_segments") else None
    last_eval: dict[str, Any] = {}

    for epoch in range(start_epoch, o.epochs):
        t0 = time.perf_counter()
        model.train()
        loss_sum = correct = n_ok = n_fail = 0.0
        batches = 0
        for b, batch in enumerate(
            train_shard.iter_torch_batches(
                batch_size=per_worker_batch,
                device=info.device,
                local_shuffle_buffer_size=job.data.shuffle_buffer or None,
            )
        ):
            _maybe_fail(job.fail_once, epoch, info.rank, b)
            ok = batch["ok"].bool()
            x = model_input(batch["clip"], spec, train=True, cfg=job.augment, generator=aug_gen)
            y = batch["label"].long()
            with ray_wiring.autocast(info.device, settings.amp):
                logits = classifiers.logits_of(model(x)).float()
            per_clip = F.cross_entropy(
                logits, y.clamp(min=0), reduction="none", label_smoothing=o.label_smoothing
            )
            weight = ok.to(per_clip.dtype)
            loss = (per_clip * weight).sum() / weight.sum().clamp(min=1.0)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            loss_sum += float((per_clip.detach() * weight).sum())
            correct += float(((logits.argmax(1) == y) & ok).sum())
            n_ok += float(ok.sum())
            n_fail += float((~ok).sum())
            batches += 1
        _maybe_fail(job.fail_once, epoch, info.rank, None)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        loss_sum, correct, n_ok, n_fail = _all_sum([loss_sum, correct, n_ok, n_fail], info.device)
        train_sec = time.perf_counter() - t0
        metrics: dict[str, Any] = {
            "train_loss": loss_sum / n_ok if n_ok else float("nan"),
            "train_top1": correct / n_ok if n_ok else float("nan"),
            "train_clips": int(n_ok),
            "train_clips_failed": int(n_fail),
            "train_batches": batches,
            "train_sec": train_sec,
            "train_clips_per_sec": n_ok / train_sec if train_sec > 0 else 0.0,
            "lr": lr,
            "start_epoch": start_epoch,
            "attempt": attempt,
            "epochs_done": epoch + 1,
        }
        is_last = epoch == o.epochs - 1
        if info.is_chief and val_iter is not None and ((epoch + 1) % o.eval_every == 0 or is_last):
            t1 = time.perf_counter()
            last_eval = evaluate(
                ray_wiring.unwrap(model),  # no DDP collectives: the other ranks are not evaluating
                val_iter,
                spec,
                num_segments=int(config["num_segments"]),
                num_classes=num_classes,
                device=info.device,
                batch_size=o.eval_batch_size,
                amp=settings.amp,
            )
            metrics.update({k: v for k, v in last_eval.items() if k != "per_segment"})
            metrics["eval_sec"] = time.perf_counter() - t1
        tracking.log_metrics(run_ref, metrics, step=epoch)
        log.info(
            "epoch %d/%d: loss %.4f top1 %.3f%s (%.1f s)",
            epoch + 1, o.epochs, metrics["train_loss"], metrics["train_top1"],
            f", val segment top-1 {metrics['val_segment_top1']:.3f}" if "val_segment_top1" in metrics else "",
            train_sec,
        )  # fmt: skip
        ray_wiring.report_epoch(
            metrics,
            epoch=epoch,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=scaler,
            extra={
                "attempt": attempt,
                "start_epoch": start_epoch,
                "per_segment": last_eval.get("per_segment") if is_last else None,
            },
        )


__all__ = ["InjectedFailure", "evaluate", "lr_factor", "train_loop"]
