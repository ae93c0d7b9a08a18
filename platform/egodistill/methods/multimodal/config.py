"""The multimodal job's typed config and the reference code's defaults (seed 001).

Loss (``patient_distill.py``): ``w_kd · T²·KL(softmax(t/T) ‖ softmax(s/T)) + w_gt · CE``, T = 1,
w_kd = 1, w_gt = 0; ensemble weight temperature T_w = 1; AdamW lr 1e-4, 20 epochs (their linear
warm-up / decay is replaced by the engine's cosine schedule with 2 warm-up epochs). ``None`` in
``optim.epochs`` / ``optim.milestones`` is filled in here, so workers, hashes and MLflow see the
values that train. Presets ``demo`` and ``smoke`` shorten everything.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import Field, model_validator

from egodistill.config import StrictConfig
from egodistill.student.config import StudentJobBase
from egodistill.training.optim import OptimSettings

PAPER_EPOCHS = 20
Weighting = Literal["uniform", "per_sample", "per_dataset"]
Modality = Literal["rgb", "flow", "audio", "layout", "imu"]


class EnsembleLoss(StrictConfig):
    """The reference ``DistillationCriterion`` weights and the ensemble weighting."""

    kd_weight: float = Field(1.0, ge=0, description="LOSS_WEIGHTS.DISTILLATION")
    gt_weight: float = Field(0.0, ge=0, description="LOSS_WEIGHTS.GROUND_TRUTH (their default 0)")
    temperature: float = Field(1.0, gt=0, description="KD temperature T (with T²)")
    weight_temperature: float = Field(1.0, gt=0, description="T_w of the per-sample / per-dataset softmin")
    weighting: Weighting = "per_dataset"


class TeacherSettings(StrictConfig):
    """How the modality teachers train (small models; one Ray Train run each)."""

    width: int = Field(16, ge=4, description="tiny3d width (rgb, flow) / audio CNN width")
    optim: OptimSettings = Field(default_factory=lambda: OptimSettings(epochs=20, batch_size=32, lr=1e-3,
                                                                       schedule="cosine", warmup_epochs=1))  # fmt: skip


def _paper_optim(data: dict[str, Any]) -> dict[str, Any]:
    optim = data.get("optim")
    optim = optim.model_dump() if isinstance(optim, StrictConfig) else dict(optim or {})
    optim.setdefault("lr", 1e-4)
    optim.setdefault("schedule", "cosine")
    optim.setdefault("warmup_epochs", 2)
    if optim.get("epochs") is None:
        optim["epochs"] = PAPER_EPOCHS
    if optim.get("milestones") is None:
        optim["milestones"] = []
    return {**data, "optim": optim}


class MultimodalStudentConfig(StudentJobBase):
    """One student run: RGB only (``visonly`` on labels, ``visonly_distill`` from the ensemble)."""

    loss: EnsembleLoss = Field(default_factory=EnsembleLoss)
    teachers: list[str] = Field(
        default_factory=list, description="modality teachers in the ensemble (set by the job)"
    )
    dataset_weights: list[float] | None = Field(None, description="per-dataset weights (set by the job)")

    @model_validator(mode="before")
    @classmethod
    def _paper_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = _paper_optim(data)
        student = out.get("student")
        student = student.model_dump() if isinstance(student, StrictConfig) else dict(student or {})
        student.setdefault("variant", "visonly_distill")
        return {**out, "student": student}


class MultimodalJobConfig(MultimodalStudentConfig):
    """``egodistill multimodal``: sidecars, modality teachers, ensembles, students, evaluation, report."""

    modalities: list[Modality] = Field(default_factory=lambda: ["rgb", "flow", "audio", "layout", "imu"])
    weightings: list[Weighting] = Field(default_factory=lambda: ["uniform", "per_sample", "per_dataset"])
    heldout_fraction: float = Field(0.2, gt=0, lt=1, description="training clips kept from every teacher")
    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    flow_method: Literal["dis", "farneback"] = "dis"
    audio_time_bins: int = Field(32, ge=4, description="log-mel frames kept per clip (mean-pooled)")
    views: list[int] = Field(default_factory=lambda: [1, 2, 4, 8, 16], description="dense views per segment")
    ece_bins: int = Field(15, ge=2)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "demo": {
        "student": {"image_weights": "none"},
        "optim": {"epochs": 20, "batch_size": 16, "lr": 1e-3, "warmup_epochs": 1},
        "teacher": {
            "width": 8,
            "optim": {"epochs": 15, "batch_size": 16, "lr": 2e-3, "schedule": "cosine", "warmup_epochs": 1},
        },  # fmt: skip
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1}, "find_unused_parameters": True},
    },
    "smoke": {
        "student": {"image_weights": "none", "fusion_hidden": 64, "predictor_hidden": 64},
        "optim": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "warmup_epochs": 0},
        "teacher": {"width": 4, "optim": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "schedule": "cosine"}},
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1}, "find_unused_parameters": True},
        "views": [1, 2],
    },
}


def job_preset(kind: str, preset: str) -> dict[str, Any]:
    """A preset's values (the same for every kind: the job is one stage chain)."""
    if preset not in PRESETS:
        raise KeyError(f"no multimodal preset {preset!r} (known: {sorted(PRESETS)})")
    return copy.deepcopy(PRESETS[preset])


__all__ = [
    "EnsembleLoss",
    "MultimodalJobConfig",
    "MultimodalStudentConfig",
    "PRESETS",
    "TeacherSettings",
    "job_preset",
]
