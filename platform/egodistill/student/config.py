"""Typed configs every student job shares (the floor the methods build on).

A method's job config subclasses :class:`StudentJobBase` (adding its loss and its paper defaults,
resolved once in a validator) so the driver, the inputs and the engine see one validated shape.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from egodistill.config import StrictConfig
from egodistill.models.config import StudentConfig
from egodistill.tracking import TrackingConfig
from egodistill.training import ray_wiring
from egodistill.training.failure import FailOnce
from egodistill.training.optim import OptimSettings

Strategy = Literal["uniform", "random", "first", "last", "center"]


class StudentDataConfig(StrictConfig):
    """Which clips, features and frames a student job reads (built by ``egodistill student-inputs``)."""

    dataset: str = Field("ego4d", description="ego4d or epic")
    clips: str | None = Field(None, description="clips root; None: <workspace>/clips")
    features: str | None = Field(None, description="features root; None: <workspace>/features")
    inputs: str | None = Field(
        None, description="joined student inputs root; None: <workspace>/student_inputs"
    )
    teacher_model: str | None = Field(
        None, description="teacher features folder (features/<dataset>/<name>); None: the only one there"
    )
    train_split: str = "train"
    eval_split: str = "val"
    num_frames: int = Field(1, ge=1, le=4, description="N frames per clip (paper 1..4)")
    strategy: Strategy = "uniform"
    image_size: int | None = Field(
        None, ge=16, description="f_I input size (resize); None: the stored frame size"
    )
    shuffle_buffer: int = Field(256, ge=0)


def default_trainer() -> ray_wiring.TrainerSettings:
    # the frozen/unused branches of a student (stage 1: the classifier) get no gradient
    return ray_wiring.TrainerSettings(find_unused_parameters=True)


class StudentJobBase(StrictConfig):
    """What every student stage shares: workspace, model, data, optimiser, Ray Train, MLflow, seed."""

    workspace: str = "workspace"
    name: str | None = Field(None, description="student name in the workspace (default: the variant)")
    student: StudentConfig = Field(default_factory=StudentConfig)
    data: StudentDataConfig = Field(default_factory=StudentDataConfig)
    optim: OptimSettings = Field(default_factory=OptimSettings)
    trainer: ray_wiring.TrainerSettings = Field(default_factory=default_trainer)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    seed: int = 0
    fail_once: FailOnce | None = Field(None, description="test hook: fail once (training.failure.FailOnce)")
    fail_after_epoch: int | None = Field(
        None, ge=0, description="test hook, shorthand: rank 0 fails once right after this epoch's checkpoint"
    )

    def failure(self, stage: str) -> FailOnce | None:
        """The one failure hook: ``fail_once``, or the one ``fail_after_epoch`` stands for."""
        if self.fail_once is not None or self.fail_after_epoch is None:
            return self.fail_once
        marker = self.ws() / "ray_results" / f".fail-{stage}-{self.job_name()}-{self.config_hash()}"
        return FailOnce(epoch=self.fail_after_epoch, rank=0, after_batches=None, marker=str(marker))

    def job_name(self) -> str:
        return self.name or self.student.variant

    def ws(self) -> Path:
        return Path(self.workspace).expanduser().absolute()

    def clips_root(self) -> str:
        return self.data.clips or str(self.ws() / "clips")

    def features_root(self) -> str:
        return self.data.features or str(self.ws() / "features")

    def inputs_root(self) -> str:
        return self.data.inputs or str(self.ws() / "student_inputs")

    def config_hash(self) -> str:
        """Short hash of everything that shapes the run (not tracking or test hooks): the Ray Train run
        name carries it, so a re-run of the same job resumes and a changed one starts afresh."""
        data = self.model_dump(mode="json", exclude={"tracking", "fail_after_epoch", "fail_once"})
        return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]


__all__ = ["Strategy", "StudentDataConfig", "StudentJobBase", "default_trainer"]
