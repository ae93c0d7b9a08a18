"""The experiment runner: a list of runs, each a chain of (method, stage) steps, any method.

A :class:`RunSpec` says what to train (``steps``: e.g. EgoDistill's ``pretrain`` then ``distill``, or a
single ``distill``) with which per-step overrides of the shared job values; the export of each step
initialises the next (``init_from``). Which runs to make (the paper's Table 1-3 grid) is the method's
recipe; what to report is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from egodistill.config import deep_merge
from egodistill.methods import job_config_class, stage_runner


@dataclass
class StageStep:
    """One (method, stage) of a run and the job values it overrides."""

    method: str
    stage: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunSpec:
    """One row of an experiment: a label, the student it trains and the chain of stages that train it."""

    label: str
    variant: str
    num_frames: int
    strategy: str
    steps: list[StageStep]

    @property
    def pretrain(self) -> bool:
        return any(s.stage == "pretrain" for s in self.steps)

    @property
    def name(self) -> str:
        """The label as a folder / run name; for the four variants it equals the variant key (``VisOnly-Distill``
        -> ``visonly_distill``), so a checkpoint folder never reads as another variant plus a stage."""
        return (
            self.label.lower()
            .replace(" ", "_")
            .replace("-", "_")
            .replace("/", "")
            .replace("=", "")
            .replace(",", "")
        )


@dataclass
class RunResult:
    spec: RunSpec
    outcomes: list[Any]  # one StudentOutcome per step, in order

    @property
    def final(self) -> Any:
        return self.outcomes[-1]

    @property
    def elapsed_sec(self) -> float:
        return sum(o.elapsed_sec for o in self.outcomes)


def run_chain(
    spec: RunSpec, values_for: Callable[[StageStep], dict[str, Any]], parent_run: Any = None
) -> RunResult:
    """Train the steps of one run in order; each step after the first starts from the previous export."""
    outcomes: list[Any] = []
    for step in spec.steps:
        values = deep_merge(values_for(step), step.overrides)
        cls = job_config_class(step.method, step.stage)
        if outcomes and "init_from" in cls.model_fields:
            values["init_from"] = outcomes[-1].student_dir
        outcomes.append(stage_runner(step.method, step.stage)(cls(**values), parent_run=parent_run))
    return RunResult(spec, outcomes)


__all__ = ["RunResult", "RunSpec", "StageStep", "run_chain"]
