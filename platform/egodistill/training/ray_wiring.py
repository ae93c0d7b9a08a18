"""Ray Train wiring shared by every training job (teacher, pretrain, distill).

Driver side: typed settings (:class:`TrainerSettings`) become Ray Train's ``ScalingConfig``,
``RunConfig`` (storage under the workspace, ``FailureConfig``, ``CheckpointConfig``) and a
``TorchTrainer`` (:func:`build_trainer`); :func:`read_state` reads a reported checkpoint back.

Worker side (inside the per-worker loop): :func:`worker_info` (rank, world size, device),
:func:`prepare` (DDP through ``ray.train.torch.prepare_model``, ``find_unused_parameters``
configurable), :func:`autocast` / :func:`grad_scaler` (mixed precision on CUDA when enabled, a no-op
elsewhere), :func:`restore` (resume from ``ray.train.get_checkpoint()``: returns the *next* epoch to
run, not 0) and :func:`report_epoch` (every rank calls it once per epoch; rank 0 writes the model,
optimizer, scheduler, scaler and epoch into a checkpoint and ``ray.train.report``\\ s it with the
metrics, the other ranks report the metrics alone, as Ray Train requires every rank to call
``report`` equally often).

Checkpoint layout (one directory per epoch, ``epoch-NNNN``)::

    state.pt    torch.save({"epoch", "model", "optimizer", "scheduler", "scaler", "extra"}),
                readable with weights_only=True; "model" is the unwrapped (no DDP "module.") state dict
    meta.json   {"epoch": ..., "metrics": {...}} for humans and tools that do not load torch

``epoch`` is the index of the last *completed* epoch (0-based); a resumed run starts at epoch + 1.

Why this module is long: it is the single adapter between typed settings and Ray Train (trainer, checkpoints, restore, DDP, AMP), kept together so every job shares it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from egodistill.config import StrictConfig

if TYPE_CHECKING:
    import torch
    from ray.train import Checkpoint
    from ray.train.torch import TorchTrainer

log = logging.getLogger(__name__)

STATE_FILE = "state.pt"
META_FILE = "meta.json"


# ----------------------------------------------------------------------------------------------
# typed settings


class ScalingSettings(StrictConfig):
    """How many workers and what each one reserves."""

    num_workers: int = Field(1, ge=1)
    use_gpu: bool | None = Field(None, description="None: use GPUs when the Ray cluster has any")
    cpus_per_worker: float = Field(
        1.0,
        gt=0,
        description="CPUs reserved per worker; leave CPUs free for the Ray Data decoding that "
        "feeds them (on 2 cores with 2 workers: 0.5 each, so Data keeps one)",
    )
    gpus_per_worker: float | None = Field(None, ge=0, description="None: 1 when GPUs are used")
    resources_per_worker: dict[str, float] = Field(
        default_factory=dict, description="extra custom resources per worker"
    )
    placement_strategy: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = Field(
        "PACK", description="workers' placement group strategy; SPREAD: one worker per node where possible"
    )


class RunSettings(StrictConfig):
    """Where results go and how failures and checkpoints are handled."""

    name: str | None = Field(None, description="Ray Train run name (default: the job's)")
    storage_path: str | None = Field(None, description="None: <workspace>/ray_results; or a URI")
    max_failures: int = Field(1, ge=-1, description="worker-group restarts from the last checkpoint")
    num_to_keep: int | None = Field(2, ge=1, description="checkpoints kept (None: all)")


class TrainerSettings(StrictConfig):
    """Everything about *how* a job trains, independent of *what* it trains."""

    scaling: ScalingSettings = Field(default_factory=ScalingSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    amp: bool = Field(True, description="autocast (bf16, else fp16 + GradScaler) on CUDA; ignored on CPU")
    find_unused_parameters: bool = Field(False, description="DDP: parameters that may get no gradient")
    torch_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads per worker (None: the worker's whole CPUs, >= 1)"
    )


def scaling_config(s: ScalingSettings):
    """Ray Train ``ScalingConfig`` from the settings (GPU use resolved against the cluster)."""
    from ray.train import ScalingConfig

    from egodistill.runtime import cluster_has_gpus

    use_gpu = cluster_has_gpus() if s.use_gpu is None else s.use_gpu
    resources: dict[str, float] = {"CPU": s.cpus_per_worker, **s.resources_per_worker}
    if use_gpu:
        resources["GPU"] = 1.0 if s.gpus_per_worker is None else s.gpus_per_worker
    return ScalingConfig(num_workers=s.num_workers, use_gpu=use_gpu, resources_per_worker=resources,
                         placement_strategy=s.placement_strategy)  # fmt: skip


def storage_path(run: RunSettings, workspace: str | os.PathLike[str]) -> str:
    """``run.storage_path`` or ``<absolute workspace>/ray_results`` (Ray needs an absolute path or URI)."""
    if run.storage_path:
        text = run.storage_path
        return text if "://" in text else str(Path(text).expanduser().absolute())
    return str(Path(workspace).expanduser().absolute() / "ray_results")


def run_config(
    run: RunSettings,
    *,
    workspace: str | os.PathLike[str],
    default_name: str,
    callbacks: Sequence[Any] = (),
):
    """Ray Train ``RunConfig`` with ``FailureConfig(max_failures)`` and ``CheckpointConfig(num_to_keep)``.

    ``callbacks`` are Ray Train callbacks run on the controller (e.g. Tune's ``TuneReportCallback``).
    """
    import ray.train
    from ray.train import CheckpointConfig, FailureConfig, RunConfig

    from egodistill.runtime import verbose

    extra: dict[str, Any] = {}
    if hasattr(ray.train, "LoggingConfig"):  # Train v2: no TrainingReport(...) line per report unless -v
        extra["logging_config"] = ray.train.LoggingConfig(log_level="INFO" if verbose() else "WARNING")
    return RunConfig(
        name=run.name or default_name,
        storage_path=storage_path(run, workspace),
        failure_config=FailureConfig(max_failures=run.max_failures),
        checkpoint_config=CheckpointConfig(num_to_keep=run.num_to_keep),
        callbacks=list(callbacks) or None,
        **extra,
    )


def build_trainer(
    loop: Callable[[dict[str, Any]], None],
    loop_config: Mapping[str, Any],
    settings: TrainerSettings,
    *,
    workspace: str | os.PathLike[str],
    name: str,
    datasets: Mapping[str, Any] | None = None,
    datasets_to_split: Sequence[str] = ("train",),
    callbacks: Sequence[Any] = (),
) -> TorchTrainer:
    """A ``TorchTrainer`` running ``loop(loop_config)`` on every worker.

    ``loop_config`` must be picklable (plain dicts, :class:`~egodistill.tracking.RunRef`); the
    settings themselves are added under ``"trainer"`` so the loop can call :func:`prepare` etc.
    Datasets named in ``datasets_to_split`` are split evenly across workers (``streaming_split``,
    equal row counts, as DDP needs equal step counts); the others (e.g. evaluation clips) reach every
    worker whole, so one rank can evaluate without dropping rows.
    """
    from ray.train import DataConfig
    from ray.train.torch import TorchTrainer

    from egodistill.runtime import verbose

    config = {**loop_config, "trainer": settings.model_dump(mode="json"), "verbose": verbose()}
    split = [d for d in datasets_to_split if datasets and d in datasets]
    return TorchTrainer(
        loop,
        train_loop_config=config,
        scaling_config=scaling_config(settings.scaling),
        run_config=run_config(settings.run, workspace=workspace, default_name=name, callbacks=callbacks),
        datasets=dict(datasets) if datasets else None,
        dataset_config=DataConfig(datasets_to_split=split),
    )


# ----------------------------------------------------------------------------------------------
# worker side


@dataclass(frozen=True)
class WorkerInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_chief(self) -> bool:
        return self.rank == 0


def worker_info(settings: TrainerSettings | Mapping[str, Any] | None = None) -> WorkerInfo:
    """Rank, world size and torch device of this Ray Train worker; sets torch's thread count."""
    import ray.train
    import ray.train.torch
    import torch

    s = _settings(settings)
    ctx = ray.train.get_context()
    threads = s.torch_threads or max(1, int(s.scaling.cpus_per_worker))
    torch.set_num_threads(threads)
    return WorkerInfo(
        rank=ctx.get_world_rank(),
        world_size=ctx.get_world_size(),
        local_rank=ctx.get_local_rank(),
        device=ray.train.torch.get_device(),
    )


def _settings(settings: TrainerSettings | Mapping[str, Any] | None) -> TrainerSettings:
    if settings is None:
        return TrainerSettings()
    if isinstance(settings, TrainerSettings):
        return settings
    return TrainerSettings.model_validate(settings)


def prepare(model: torch.nn.Module, settings: TrainerSettings | Mapping[str, Any] | None = None):
    """Move to the worker's device and wrap in DDP (when there is more than one worker)."""
    from ray.train.torch import prepare_model

    s = _settings(settings)
    return prepare_model(
        model,
        parallel_strategy="ddp",
        parallel_strategy_kwargs={"find_unused_parameters": s.find_unused_parameters},
    )


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / ``torch.compile`` wrappers."""
    import torch

    while True:
        inner = getattr(model, "module", None)
        if inner is None:
            inner = getattr(model, "_orig_mod", None)
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


def amp_dtype(device: torch.device, enabled: bool):
    """bf16 where the GPU supports it, else fp16; None when autocast is off (CPU or disabled)."""
    import torch

    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on CUDA when enabled; a no-op context elsewhere (never required)."""
    import torch

    dtype = amp_dtype(device, enabled)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def grad_scaler(device: torch.device, enabled: bool = True):
    """A ``GradScaler`` for fp16 autocast; None when not needed (bf16, CPU, disabled)."""
    import torch

    dtype = amp_dtype(device, enabled)
    return torch.amp.GradScaler("cuda") if dtype == torch.float16 else None


def write_state(
    directory: str | os.PathLike[str],
    *,
    epoch: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
    extra: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``state.pt`` + ``meta.json`` into ``directory`` (see the module docstring)."""
    import torch

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {
        "epoch": int(epoch),
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "extra": dict(extra or {}),
    }
    torch.save(state, d / STATE_FILE)
    meta = {"epoch": int(epoch), "metrics": _jsonable(metrics or {})}
    (d / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
    return d


def _jsonable(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(metrics), default=str))


def read_state(source: str | os.PathLike[str] | Checkpoint) -> dict[str, Any]:
    """Load ``state.pt`` from a checkpoint directory or a Ray ``Checkpoint`` (on the CPU)."""
    import torch

    if hasattr(source, "as_directory"):
        with source.as_directory() as d:
            return read_state(d)
    path = Path(source) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {Path(source)} has no {STATE_FILE}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise RuntimeError(f"cannot read checkpoint state {path}: {type(e).__name__}: {e}") from e


def apply_state(
    state: Mapping[str, Any],
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
) -> int:
    """Load a state dict written by :func:`write_state`; returns the epoch to run next."""
    unwrap(model).load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    return int(state["epoch"]) + 1


def restore(
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
) -> tuple[int, dict[str, Any]]:
    """Resume from ``ray.train.get_checkpoint()`` if the run has one.

    Returns ``(start_epoch, extra)``: the epoch after the checkpointed one and the checkpoint's
    ``extra`` dict; ``(0, {})`` on a fresh start. Every rank loads the same state, so DDP replicas
    stay identical. Call it *after* :func:`prepare` and after building the optimizer from the
    prepared model: ``Optimizer.load_state_dict`` puts the loaded state on the parameters' current
    device, so restoring before the model moves to the GPU would leave Adam's moments on the CPU.
    """
    import ray.train

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return 0, {}
    state = read_state(checkpoint)
    start = apply_state(state, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler)
    log.info("resuming from checkpoint of epoch %d: starting at epoch %d", start - 1, start)
    return start, dict(state.get("extra") or {})


def report_epoch(
    metrics: Mapping[str, Any],
    *,
    epoch: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
    extra: Mapping[str, Any] | None = None,
    checkpoint: bool = True,
) -> None:
    """Report this epoch's metrics; rank 0 attaches a checkpoint of the full training state.

    All ranks must call this once per epoch (``ray.train.report`` is a barrier).
    """
    import ray.train
    from ray.train import Checkpoint

    metrics = {**metrics, "epoch": int(epoch)}
    if not checkpoint or ray.train.get_context().get_world_rank() != 0:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory(prefix="egodistill-ckpt-") as tmp:
        write_state(
            tmp,
            epoch=epoch,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=scaler,
            extra=extra,
            metrics=metrics,
        )
        ray.train.report(
            metrics,
            checkpoint=Checkpoint.from_directory(tmp),
            checkpoint_dir_name=f"epoch-{epoch:04d}",
        )


@contextlib.contextmanager
def local_checkpoint(result: Any) -> Iterator[Path]:
    """The directory of a finished run's latest checkpoint (``result.checkpoint``), as a local path."""
    ckpt = getattr(result, "checkpoint", None)
    if ckpt is None:
        raise RuntimeError("the training run reported no checkpoint")
    with ckpt.as_directory() as d:
        yield Path(d)


@dataclass(frozen=True)
class FitOutput:
    """What a finished Ray Train run left: the final state, its metrics, the checkpoint's path."""

    state: dict[str, Any]
    metrics: dict[str, Any]
    checkpoint_path: str


def fit(trainer: Any, what: str, on_checkpoint: Callable[[Path], None] | None = None) -> FitOutput:
    """``trainer.fit()``, raising on failure, then read the latest checkpoint's state and metrics.

    A re-run of a finished run resumes past its last epoch and reports nothing, so the metrics then
    come from the checkpoint's metadata. ``on_checkpoint`` sees the checkpoint as a local directory
    (e.g. to log it to MLflow).
    """
    result = trainer.fit()
    if getattr(result, "error", None) is not None:
        raise RuntimeError(f"{what} failed: {result.error}") from result.error
    metrics = dict(result.metrics or {})
    with local_checkpoint(result) as ckpt_dir:
        state = read_state(ckpt_dir)
        meta = json.loads((ckpt_dir / META_FILE).read_text())
        if on_checkpoint is not None:
            on_checkpoint(ckpt_dir)
    return FitOutput(state, metrics or dict(meta.get("metrics") or {}), str(result.checkpoint.path))


__all__ = [
    "FitOutput",
    "RunSettings",
    "ScalingSettings",
    "TrainerSettings",
    "WorkerInfo",
    "apply_state",
    "autocast",
    "build_trainer",
    "fit",
    "grad_scaler",
    "local_checkpoint",
    "prepare",
    "read_state",
    "report_epoch",
    "restore",
    "run_config",
    "scaling_config",
    "storage_path",
    "unwrap",
    "worker_info",
    "write_state",
]
