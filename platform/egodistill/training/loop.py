"""The one epoch engine every training job runs on its Ray Train workers.

A method hands it a :class:`TrainTask`: a model builder, a step function (one batch -> loss and
statistics), optionally an evaluation function (one batch -> per-clip probabilities with segment keys)
and its typed optimizer / schedule / failure settings. The engine owns everything else, identically
for the teacher, EgoDistill's two stages and the methods to come:

* seeding per rank, device placement and DDP (:func:`~egodistill.training.ray_wiring.prepare`),
  AdamW + schedule (:mod:`.optim`), AMP with a grad scaler, restore from the last checkpoint;
* per epoch: stream this worker's shard (``get_dataset_shard("train")``), step, sum the statistics
  over workers; every ``eval_every`` epochs (and after the last) rank 0 evaluates the whole ``val``
  dataset per segment (:class:`~egodistill.training.evaluator.SegmentAccumulator`: only per-segment
  sums are kept) while the other ranks wait at the report;
* every rank reports (rank 0 attaches the checkpoint: model, optimizer, scheduler, scaler, epoch and,
  after the last epoch, the per-segment results), rank 0 logs the metrics to MLflow;
* failure injection (:class:`~egodistill.training.failure.FailOnce`).

Rows that must not count (e.g. clips that failed to decode) stay in their batch with zero weight, so
every worker runs the same number of steps (DDP needs that): a step reports how many rows counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist

from egodistill import tracking
from egodistill.progress import duration
from egodistill.runtime import quiet_ray_logs
from egodistill.training import ray_wiring
from egodistill.training.evaluator import SegmentAccumulator
from egodistill.training.failure import FailOnce
from egodistill.training.optim import OptimSettings, build_optimizer

log = logging.getLogger(__name__)


@dataclass
class StepContext:
    """What a step may need besides the batch: the device, AMP, a per-rank generator, the epoch."""

    device: torch.device
    amp: bool
    generator: torch.Generator
    epoch: int = 0
    train: bool = True


@dataclass
class StepOutput:
    """One training step: the loss to back-propagate, per-row statistic sums and the rows that counted."""

    loss: torch.Tensor
    stats: dict[str, float]  # sums over the batch's counted rows; the engine divides by the epoch's count
    count: float
    counters: dict[str, float] = field(default_factory=dict)  # summed over the epoch, not averaged


@dataclass
class EvalOutput:
    """One evaluation batch: segment key, class probabilities and label per counted clip."""

    segments: Sequence[Hashable]
    probs: np.ndarray  # (B, C)
    labels: np.ndarray  # (B,)
    loss_sum: float = 0.0
    failed: int = 0


class TrainTask(Protocol):
    """What a method hands the engine (built on the worker from its picklable config)."""

    stage: str
    optim: OptimSettings
    seed: int
    shuffle_buffer: int
    fail_once: FailOnce | None
    num_classes: int

    def build_model(self) -> torch.nn.Module: ...

    def step(self, model: torch.nn.Module, batch: dict[str, Any], ctx: StepContext) -> StepOutput: ...

    # optional: ``evaluate_batch(model, batch, ctx) -> EvalOutput``; without it the task never evaluates


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum ``values`` over the workers (identity with one worker)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


@torch.no_grad()
def evaluate(
    task: TrainTask, model: torch.nn.Module, dataset: Any, ctx: StepContext, batch_size: int
) -> SegmentAccumulator:
    """Per-segment evaluation of ``model`` over a Ray Data iterator (eval mode, no DDP collectives)."""
    model.eval()
    acc = SegmentAccumulator(task.num_classes)
    failed = 0
    for batch in dataset.iter_torch_batches(batch_size=batch_size, device=ctx.device):
        with ray_wiring.autocast(ctx.device, ctx.amp):
            out = task.evaluate_batch(model, batch, ctx)  # type: ignore[attr-defined]
        failed += out.failed
        if len(out.labels):
            acc.add(out.segments, out.probs, out.labels, out.loss_sum)
    acc.failed = failed  # type: ignore[attr-defined]
    return acc


def _due(epoch: int, epochs: int, every: int) -> bool:
    return (epoch + 1) % every == 0 or epoch == epochs - 1


def run_epochs(
    config: dict[str, Any], task: TrainTask, wrap: Callable[[torch.nn.Module], Any] | None = None
) -> None:
    """Build, prepare, restore, then train / evaluate / checkpoint / log each epoch (module docstring)."""
    import ray.train

    quiet_ray_logs(not config.get("verbose", False))  # no TrainingReport(...) line per report, unless -v
    settings = ray_wiring.TrainerSettings.model_validate(config["trainer"])
    run_ref = config.get("run_ref")
    info = ray_wiring.worker_info(settings)
    torch.manual_seed(int(task.seed) + 1000 * info.rank)
    ctx = StepContext(
        info.device, settings.amp, torch.Generator().manual_seed(int(task.seed) + 7919 * (info.rank + 1))
    )
    model = task.build_model()
    if wrap is not None:
        model = wrap(model)
    # Device and DDP first, optimizer second, restore last: the loaded optimizer state then lands on
    # the parameters' device (GPU resume), and every rank loads the same checkpoint.
    model = ray_wiring.prepare(model, settings)
    optim = task.optim.resolved()
    epochs = int(optim.epochs or 1)
    optimizer, scheduler = build_optimizer([p for p in model.parameters() if p.requires_grad], optim)
    scaler = ray_wiring.grad_scaler(info.device, settings.amp)
    start_epoch, extra = ray_wiring.restore(
        model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler
    )
    attempt = int(extra.get("attempt", 0)) + (1 if start_epoch > 0 else 0)
    per_worker = max(1, optim.batch_size // info.world_size)
    shard = ray.train.get_dataset_shard("train")
    evaluates = hasattr(task, "evaluate_batch") and config.get("has_val", False)
    val = ray.train.get_dataset_shard("val") if evaluates else None
    fail = task.fail_once
    per_segment: dict[str, Any] | None = None

    t_loop = time.perf_counter()
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        ctx.epoch, ctx.train = epoch, True
        model.train()
        sums: dict[str, float] = {}
        counters: dict[str, float] = {}
        count = 0.0
        batches = 0
        for b, batch in enumerate(
            shard.iter_torch_batches(
                batch_size=per_worker,
                device=info.device,
                local_shuffle_buffer_size=task.shuffle_buffer or None,
            )
        ):
            if fail is not None:
                fail.check(epoch, info.rank, b)
            with ray_wiring.autocast(info.device, settings.amp):
                out = task.step(model, batch, ctx)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(out.loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                out.loss.backward()
                optimizer.step()
            for k, v in out.stats.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            for k, v in out.counters.items():
                counters[k] = counters.get(k, 0.0) + float(v)
            count += out.count
            batches += 1
        if fail is not None:
            fail.check(epoch, info.rank, -1)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        keys, ckeys = sorted(sums), sorted(counters)
        total = all_sum([sums[k] for k in keys] + [counters[k] for k in ckeys] + [count], info.device)
        n_all = total[-1]
        train_sec = time.perf_counter() - t0
        metrics: dict[str, Any] = {
            f"train_{k}": v / n_all if n_all else float("nan") for k, v in zip(keys, total, strict=False)
        }
        metrics.update({f"train_{k}": int(v) for k, v in zip(ckeys, total[len(keys) :], strict=False)})
        metrics.update({"train_clips": int(n_all), "train_batches": batches, "train_sec": train_sec,
                        "train_clips_per_sec": n_all / train_sec if train_sec > 0 else 0.0, "lr": lr,
                        "start_epoch": start_epoch, "attempt": attempt, "epochs_done": epoch + 1})  # fmt: skip
        if info.is_chief and val is not None and _due(epoch, epochs, optim.eval_every):
            t1 = time.perf_counter()
            ctx.train = False
            eval_ctx = StepContext(info.device, settings.amp, torch.Generator().manual_seed(0), epoch, False)
            acc = evaluate(task, ray_wiring.unwrap(model), val, eval_ctx, optim.eval_batch_size)
            metrics.update(acc.metrics())
            metrics["val_clips_failed"] = int(getattr(acc, "failed", 0))
            expected = config.get("num_segments")
            if expected is not None:
                metrics["val_segments_missing"] = int(expected) - metrics["val_segments"]
            metrics["eval_sec"] = time.perf_counter() - t1
            per_segment = segment_payload(acc)
        tracking.log_metrics(run_ref, metrics, step=epoch)
        if info.is_chief:  # one line per epoch, with the time left at this pace
            per_epoch = (time.perf_counter() - t_loop) / (epoch + 1 - start_epoch)
            log.info(
                "%s epoch %d/%d: loss %.4f%s (%.1f s/epoch, ETA %s)", task.stage, epoch + 1, epochs,
                metrics.get("train_loss", float("nan")),
                f", val segment top-1 {metrics['val_segment_top1']:.3f}" if "val_segment_top1" in metrics else "",
                per_epoch, duration(per_epoch * (epochs - epoch - 1)),
            )  # fmt: skip
        last = epoch == epochs - 1
        ray_wiring.report_epoch(
            metrics, epoch=epoch, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
            extra={"attempt": attempt, "start_epoch": start_epoch, "per_segment": per_segment if last else None},
        )  # fmt: skip
        if fail is not None:
            fail.check(epoch, info.rank, None)


def segment_payload(acc: SegmentAccumulator) -> dict[str, Any]:
    """The per-segment results as plain lists (what travels in the final checkpoint's metadata)."""
    r = acc.results()
    return {"segment_id": r.segment_id, "label": r.label.tolist(), "pred": r.pred.tolist(),
            "confidence": [float(c) for c in r.confidence], "num_clips": r.num_clips.tolist(),
            "clip_correct": r.clip_correct, "num_clip_rows": r.num_clip_rows, "num_classes": r.num_classes}  # fmt: skip


def segment_results_of(payload: dict[str, Any] | None):
    """:class:`~egodistill.evaluation.segments.SegmentResults` from :func:`segment_payload` (or None)."""
    from egodistill.evaluation.segments import SegmentResults

    if not payload:
        return None
    return SegmentResults(
        segment_id=list(payload["segment_id"]), label=np.asarray(payload["label"], np.int64),
        pred=np.asarray(payload["pred"], np.int64), confidence=np.asarray(payload["confidence"], np.float64),
        num_clips=np.asarray(payload["num_clips"], np.int64), clip_correct=int(payload["clip_correct"]),
        num_clip_rows=int(payload["num_clip_rows"]), num_classes=int(payload["num_classes"]),
    )  # fmt: skip


__all__ = [
    "EvalOutput",
    "StepContext",
    "StepOutput",
    "TrainTask",
    "all_sum",
    "evaluate",
    "run_epochs",
    "segment_payload",
    "segment_results_of",
]
