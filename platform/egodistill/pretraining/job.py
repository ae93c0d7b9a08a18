"""The `pretrain-image` job (driver side): pool -> Ray Train -> the stand-in f_I checkpoint + json.

Steps: reuse the checkpoint of an identical config when it exists (its json holds the fingerprint);
otherwise render the pool with Ray Data (:mod:`.pool`), open an MLflow run, train
:class:`~egodistill.pretraining.task.StandInNet` with the shared epoch engine on Ray Train (checkpoint
every epoch, resume after a failure), then write the trunk as a bare ResNet-18 state dict (no
``fc.``) -- exactly what ``image_weights: /path`` loads -- and a json saying what it was trained on.
The written file is loaded back through :class:`~egodistill.models.image.ImageEncoder` before the job
reports success, so a checkpoint the students cannot load never leaves this job.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egodistill import tracking
from egodistill.config import dump_config
from egodistill.pretraining.config import PretrainImageConfig
from egodistill.pretraining.pool import CENTER_CLASSES, OBJECT_LABELS
from egodistill.runtime import configure_data_context
from egodistill.storage import atomic_write_bytes
from egodistill.training import ray_wiring

log = logging.getLogger(__name__)

OBJECTIVE = ("visible kitchen objects (14-way multi-label BCE) + object at the fixation point (15-way CE); "
             "never the verbs")  # fmt: skip


@dataclass
class PretrainOutcome:
    """What the job produced (or found)."""

    checkpoint: str
    info_path: str
    reused: bool
    elapsed_sec: float
    metrics: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        m = self.metrics
        how = "reused" if self.reused else f"trained in {self.elapsed_sec:.0f} s"
        return (f"stand-in f_I ({how}): held-out worlds fixation top-1 {m.get('val_segment_top1', float('nan')):.3f}, "
                f"train visible-object accuracy {m.get('train_visible_acc', float('nan')):.3f} -> {self.checkpoint}")  # fmt: skip


def read_info(cfg: PretrainImageConfig) -> dict[str, Any] | None:
    """The json of this config's checkpoint, when both files exist and the fingerprint matches."""
    ckpt, info = cfg.checkpoint_path(), cfg.info_path()
    if not (ckpt.is_file() and info.is_file()):
        return None
    data = json.loads(info.read_text())
    return data if data.get("fingerprint") == cfg.fingerprint() else None


def _write_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    from egodistill.models.image import ImageEncoder

    buf = io.BytesIO()
    torch.save(state, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(str(path), buf.getvalue())
    ImageEncoder(str(path), frozen=True)  # the students' loader must accept it (raises naming the keys)


def run_pretrain_image(cfg: PretrainImageConfig) -> PretrainOutcome:
    """Train (or reuse) the stand-in f_I of ``cfg``; Ray must be initialised."""
    t0 = time.perf_counter()
    found = read_info(cfg) if cfg.reuse else None
    if found is not None:
        log.info(
            "pretrain-image: reusing %s (same config, fingerprint %s)",
            cfg.checkpoint_path(),
            cfg.fingerprint(),
        )
        return PretrainOutcome(
            str(cfg.checkpoint_path()), str(cfg.info_path()), True, 0.0, found.get("metrics", {})
        )

    from egodistill.pretraining.pool import pool_datasets
    from egodistill.pretraining.task import StandInNet

    configure_data_context()
    pool = cfg.pool
    datasets = pool_datasets(pool)
    params = {**tracking.flatten(cfg), "derived.objective": OBJECTIVE, "derived.fingerprint": cfg.fingerprint(),
              "derived.train_frames": datasets["train"].count(), "derived.val_frames": datasets["val"].count()}  # fmt: skip
    with tracking.tracked_run(cfg.tracking, workspace=cfg.workspace, job="pretrain-image", params=params,
                              run_name=f"pretrain-image/{cfg.fingerprint()}") as run:  # fmt: skip
        tracking.log_text(run, dump_config(cfg), "config.yaml")
        trainer = ray_wiring.build_trainer(
            _train_loop(),
            {"job": cfg.model_dump(mode="json"), "has_val": True, "run_ref": run},
            cfg.trainer,
            workspace=cfg.workspace,
            name=f"pretrain-image-{cfg.fingerprint()}",
            datasets=datasets,
        )
        fitted = ray_wiring.fit(trainer, "stand-in f_I pretraining")
        model = StandInNet()
        model.load_state_dict(fitted.state["model"])
        path = cfg.checkpoint_path()
        _write_checkpoint(path, model.trunk_state())
        info = {
            "fingerprint": cfg.fingerprint(),
            "what": "stand-in for the ImageNet-pretrained ResNet-18 f_I (torchvision layout, fc removed)",
            "load_with": f"image_weights: {path}",
            "objective": OBJECTIVE,
            "object_labels": list(OBJECT_LABELS),
            "center_classes": list(CENTER_CLASSES),
            "pool": {**pool.model_dump(mode="json"), "train_worlds": pool.worlds - pool.val_worlds,
                     "train_frames": params["derived.train_frames"], "val_frames": params["derived.val_frames"],
                     "note": "synthetic kitchen worlds with their own seed: rooms, placements, colours and "
                             "textures no benchmark world shares"},
            "metrics": fitted.metrics,
            "mlflow_run_id": run.run_id if run else None,
            "ray_checkpoint": fitted.checkpoint_path,
            "config": cfg.model_dump(mode="json"),
        }  # fmt: skip
        atomic_write_bytes(str(cfg.info_path()), json.dumps(info, indent=1, default=str).encode())
        tracking.log_artifact(run, str(path), "model")
        tracking.log_artifact(run, str(cfg.info_path()), "model")
        tracking.log_metrics(run, {f"final_{k}": v for k, v in fitted.metrics.items()})
    return PretrainOutcome(str(path), str(cfg.info_path()), False, time.perf_counter() - t0, fitted.metrics)


def _train_loop():
    from egodistill.pretraining.task import train_loop

    return train_loop


__all__ = ["OBJECTIVE", "PretrainOutcome", "read_info", "run_pretrain_image"]
