"""``SweepConfig``: what a sweep searches (``space``), how (ASHA + Optuna) and over which job.

The search spaces and presets live in ``tuning/spaces.yaml`` at the repository root (``--space FILE``
for another). Config sources, later wins: the space file's ``space`` and the chosen preset <
``--config FILE`` < flags < ``--set KEY=VALUE``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from egodistill.config import ConfigError, StrictConfig, deep_merge, load_config
from egodistill.tracking import TrackingConfig

SPACES_FILE = Path(__file__).resolve().parents[3] / "tuning" / "spaces.yaml"
SWEEP_PRESETS = ("paper", "demo", "test")


class ParamSpace(StrictConfig):
    """One searched value: ``uniform``/``loguniform`` over [low, high] or a ``choice`` among ``values``."""

    type: Literal["uniform", "loguniform", "choice"]
    low: float | None = None
    high: float | None = None
    values: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> ParamSpace:
        if self.type == "choice":
            if not self.values:
                raise ValueError("choice needs a non-empty 'values' list")
        else:
            if self.low is None or self.high is None or not self.low < self.high:
                raise ValueError(f"{self.type} needs low < high")
            if self.type == "loguniform" and self.low <= 0:
                raise ValueError("loguniform needs low > 0")
        return self

    def domain(self):
        from ray import tune

        if self.type == "choice":
            return tune.choice(list(self.values or []))
        if self.type == "loguniform":
            return tune.loguniform(self.low, self.high)
        return tune.uniform(self.low, self.high)


class AshaSettings(StrictConfig):
    """ASHA over ``training_iteration`` (one per epoch reported by the Ray Train run)."""

    grace_period: int = Field(1, ge=1, description="epochs every trial runs before it can be stopped")
    reduction_factor: float = Field(2, gt=1)
    max_t: int | None = Field(None, ge=1, description="None: the trials' epochs")


class SweepConfig(StrictConfig):
    """A Ray Tune sweep over one method stage's job config values (see ``tuning/spaces.yaml``)."""

    name: str = Field("sweep", pattern=r"^[A-Za-z0-9_.-]+$", description="<workspace>/sweeps/<name>/")
    workspace: str = "workspace"
    method: str = Field("egodistill", description="the method whose stage the trials train (egodistill.methods)")
    stage: str = Field("distill", description="the stage of that method the trials train")
    job_preset: Literal["paper", "demo", "smoke"] = "paper"
    job: dict[str, Any] = Field(default_factory=dict, description="DistillJobConfig values over job_preset")
    space: dict[str, ParamSpace] = Field(default_factory=dict, description="dotted job key -> distribution")
    metric: str = Field("val_segment_top1", description="reported every epoch by the distill loop")
    mode: Literal["max", "min"] = "max"
    num_samples: int = Field(16, ge=1, description="trials")
    max_concurrent_trials: int = Field(1, ge=1)
    search: Literal["optuna", "random"] = "optuna"
    asha: AshaSettings = Field(default_factory=AshaSettings)
    trial_cpus: float = Field(
        0.25, ge=0, description="CPUs of each trial's driver (the workers reserve their own)"
    )
    seed: int = 0
    resume: bool = Field(True, description="continue an interrupted sweep of the same name")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @model_validator(mode="after")
    def _space_not_empty(self) -> SweepConfig:
        if not self.space:
            raise ValueError("the search space is empty")
        return self

    def ws(self) -> Path:
        return Path(self.workspace).expanduser().absolute()

    def sweep_dir(self) -> Path:
        return self.ws() / "sweeps" / self.name


def read_spaces(path: str | Path | None = None) -> dict[str, Any]:
    p = Path(path) if path else SPACES_FILE
    if not p.is_file():
        raise ConfigError(f"search-space file not found: {p}")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict) or "space" not in data:
        raise ConfigError(f"{p} must hold a mapping with 'space' (and 'presets')")
    return data


def preset_values(preset: str, spaces_file: str | Path | None = None) -> dict[str, Any]:
    data = read_spaces(spaces_file)
    presets = data.get("presets") or {}
    if preset not in presets:
        raise ConfigError(f"unknown sweep preset {preset!r} (have: {', '.join(presets)})")
    return deep_merge({"space": copy.deepcopy(data["space"])}, presets[preset] or {})


def load_sweep_config(
    preset: str = "test",
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    spaces_file: str | Path | None = None,
    dotted: dict[str, Any] | None = None,
    **values: Any,
) -> SweepConfig:
    """Preset (space + preset from the space file) < ``path`` < ``values`` < ``dotted`` < ``overrides``."""
    return load_config(
        SweepConfig, path, overrides, base=preset_values(preset, spaces_file), dotted=dotted, **values
    )
