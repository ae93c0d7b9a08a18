"""Settings of ``egodistill pretrain-image``: the pool, the optimiser, Ray Train, MLflow, presets.

The pool is a synthetic world with its own seed (default 1_000_003, far from the benchmark worlds'
seeds 0, 1, 2, ...), so its rooms, object placements, colours and textures are ones no benchmark
world contains. The checkpoint's file name carries a hash of everything that shapes the weights, so
the same config finds and reuses its checkpoint, and a changed one trains a new one.

Pydantic only: jobs validate a YAML file without importing torch or Ray.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from egodistill.config import ConfigError, StrictConfig
from egodistill.tracking import TrackingConfig
from egodistill.training.failure import FailOnce
from egodistill.training.optim import OptimSettings
from egodistill.training.ray_wiring import TrainerSettings

#: Default pool seed: no benchmark world (demo 0, bench 1, dog +1, tests < 100) uses it.
POOL_SEED = 1_000_003


class PoolSettings(StrictConfig):
    """The separate synthetic pool: how many worlds, how many frames, at what size."""

    seed: int = Field(
        POOL_SEED, ge=0, description="world seed of the pool (keep it apart from benchmark seeds)"
    )
    worlds: int = Field(16, ge=2, description="synthetic videos (each its own room and objects)")
    val_worlds: int = Field(2, ge=1, description="of which held out for validation (whole worlds)")
    seconds: float = Field(60.0, ge=5.0, description="length of each world's head trajectory")
    frames_per_world: int = Field(200, ge=4, description="frames rendered at random times per world")
    width: int = Field(160, ge=16, description="rendered width before the centre crop (px)")
    height: int = Field(120, ge=16, description="rendered height (px)")
    image_size: int = Field(48, ge=16, description="stored square size: the students' frame size")
    visible_fraction: float = Field(
        0.003, gt=0, lt=1, description="an object counts as visible above this share of the crop's pixels"
    )

    @model_validator(mode="after")
    def _check(self) -> PoolSettings:
        if self.val_worlds >= self.worlds:
            raise ValueError(f"pool.val_worlds ({self.val_worlds}) must be < pool.worlds ({self.worlds})")
        if self.width % 2 or self.height % 2:
            raise ValueError(f"pool.width and pool.height must be even, got {self.width}x{self.height}")
        if self.image_size > min(self.width, self.height):
            raise ValueError(
                f"pool.image_size {self.image_size} is larger than the rendered frame's short side "
                f"{min(self.width, self.height)}"
            )
        return self


class AugmentSettings(StrictConfig):
    """Per-sample random resized crop, horizontal flip and brightness/contrast jitter (on the device)."""

    enabled: bool = True
    min_scale: float = Field(0.6, gt=0, le=1, description="smallest crop side as a share of the image")
    flip: bool = Field(True, description="objects keep their identity when mirrored (verbs would not)")
    brightness: float = Field(0.2, ge=0, lt=1)
    contrast: float = Field(0.2, ge=0, lt=1)


class PretrainImageConfig(StrictConfig):
    """Everything `egodistill pretrain-image` needs."""

    workspace: str = Field("workspace", description="outputs: pretrained/, ray_results/, mlflow.db")
    out: str | None = Field(None, description="checkpoint folder; None: <workspace>/pretrained/image")
    pool: PoolSettings = Field(default_factory=PoolSettings)
    augment: AugmentSettings = Field(default_factory=AugmentSettings)
    visible_weight: float = Field(1.0, ge=0, description="weight of the visible-objects (BCE) loss")
    center_weight: float = Field(1.0, ge=0, description="weight of the object-at-fixation (CE) loss")
    optim: OptimSettings = Field(
        default_factory=lambda: OptimSettings(
            epochs=6,
            batch_size=64,
            lr=2e-3,
            weight_decay=1e-4,
            schedule="cosine",
            warmup_epochs=1,
            eval_every=2,
        )  # fmt: skip
    )
    trainer: TrainerSettings = Field(default_factory=TrainerSettings)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    seed: int = 0
    reuse: bool = Field(True, description="reuse the checkpoint of an identical config instead of training")
    fail_once: FailOnce | None = None

    @model_validator(mode="after")
    def _check(self) -> PretrainImageConfig:
        if self.visible_weight == 0 and self.center_weight == 0:
            raise ValueError("visible_weight and center_weight are both 0: nothing to train on")
        return self

    def fingerprint(self) -> str:
        """Short hash of what shapes the weights (pool, augmentation, losses, optimiser, seed)."""
        keys = {"pool", "augment", "visible_weight", "center_weight", "optim", "seed"}
        shaping = self.model_dump(mode="json", include=keys)
        return hashlib.sha1(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:10]

    def out_dir(self) -> Path:
        return Path(self.out or Path(self.workspace) / "pretrained" / "image").expanduser().absolute()

    def checkpoint_path(self) -> Path:
        """``<out>/resnet18-standin-<fingerprint>.pt`` (its stem names the image-feature cache folder)."""
        return self.out_dir() / f"resnet18-standin-{self.fingerprint()}.pt"

    def info_path(self) -> Path:
        return self.checkpoint_path().with_suffix(".json")


def require_distinct_seed(cfg: PretrainImageConfig, world_seeds: list[int]) -> None:
    """ConfigError when the pool would share a seed (hence rooms and objects) with a benchmark world."""
    if cfg.pool.seed in world_seeds:
        raise ConfigError(
            f"pool.seed {cfg.pool.seed} is also a benchmark world's seed ({sorted(world_seeds)}): the "
            "stand-in f_I must be pretrained on a separate pool"
        )


_DEMO_OPTIM = {"epochs": 5, "batch_size": 64, "lr": 2e-3, "weight_decay": 1e-4, "schedule": "cosine",
               "warmup_epochs": 1, "eval_every": 5}  # fmt: skip
_ONE_WORKER = {"scaling": {"num_workers": 1, "cpus_per_worker": 1.0}, "run": {"max_failures": 1}}

#: Named starting points, applied under the config file, flags and --set overrides.
PRESETS: dict[str, dict[str, Any]] = {
    # a couple of minutes on 2 CPU cores: 12 worlds (10 trained on) x 150 frames at 48 px, 5 epochs.
    "demo": {"pool": {"worlds": 12, "val_worlds": 2, "frames_per_world": 150, "image_size": 48},
             "optim": _DEMO_OPTIM, "trainer": _ONE_WORKER},
    # the benchmark's: more worlds and epochs.
    "bench": {"pool": {"worlds": 24, "val_worlds": 2, "frames_per_world": 200, "image_size": 48},
              "optim": {**_DEMO_OPTIM, "epochs": 8, "eval_every": 4}, "trainer": _ONE_WORKER},
    # seconds of training: tests and smoke runs.
    "smoke": {"pool": {"worlds": 4, "val_worlds": 1, "frames_per_world": 48, "seconds": 20.0, "width": 64,
                       "height": 48, "image_size": 32},
              "optim": {**_DEMO_OPTIM, "epochs": 2, "batch_size": 32, "warmup_epochs": 0, "eval_every": 1},
              "trainer": _ONE_WORKER, "augment": {"enabled": False}},
}  # fmt: skip


def load_pretrain_config(
    preset: str | None,
    path: str | None = None,
    overrides: list[str] | None = None,
    dotted: dict[str, Any] | None = None,
) -> PretrainImageConfig:
    """Preset < config file < flags (dotted keys) < --set overrides, validated."""
    from egodistill.config import load_config

    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"pretrain-image: unknown preset {preset!r} (choose from {sorted(PRESETS)})")
    base = PRESETS[preset] if preset else None
    return load_config(PretrainImageConfig, path, overrides, base=base, dotted=dotted)


__all__ = ["POOL_SEED", "PRESETS", "PoolSettings", "PretrainImageConfig", "load_pretrain_config",
           "require_distinct_seed"]  # fmt: skip
