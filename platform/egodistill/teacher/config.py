"""Config of the `teacher` job: data, augmentation, optimisation, Ray Train, MLflow, presets.

Defaults are the seed paper's teacher fine-tuning (EgoDistill §4 "Implementation details"): 50 epochs,
learning rate 1e-4, batch size 64, 16-frame clips at sample rate 4 (the teacher's input spec).
The ``demo`` preset trains a heavy ``tiny3d`` (64 wide, 16 x 4 frames at 112 px, 3.5 GMACs: >= 20x the
demo student) from scratch on the demo world on 2 CPU cores; ``smoke`` is a tiny one for tests and CI
(plumbing only: it does not keep the paper's teacher/student cost relation).

Pydantic only: jobs validate a YAML file without importing torch or Ray.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from egodistill.config import StrictConfig
from egodistill.datasets.manifest import DenseClipConfig
from egodistill.models.config import TeacherConfig
from egodistill.tracking import TrackingConfig
from egodistill.training.failure import FailOnce
from egodistill.training.optim import OptimSettings
from egodistill.training.ray_wiring import TrainerSettings


class DataSettings(StrictConfig):
    """Which clips to train and evaluate on, and how dense clips are decoded by Ray Data."""

    manifest: str | None = Field(None, description="clip manifest (Parquet from `egodistill index`)")
    clips: str | None = Field(None, description="or: the ingested clips dataset root (`egodistill ingest`)")
    dataset: str | None = Field(None, description="ego4d/epic; needed only when the input holds both")
    train_split: str = "train"
    eval_split: str = "val"
    decode_size: int | None = Field(
        None, ge=8, description="square side frames are decoded at; None: the model's resize size"
    )
    train_repeats: int = Field(
        1, ge=1, description="clips drawn per training segment per epoch (each with its own jitter)"
    )
    dense: DenseClipConfig = Field(default_factory=DenseClipConfig)
    """Evaluation clips per segment (seed: predictions averaged over densely sampled clips)."""
    clips_per_task: int = Field(
        64, ge=1, description="clips decoded by one Ray Data task (one video stretch)"
    )
    num_cpus_per_task: float = Field(1.0, gt=0, description="CPUs reserved by a decoding task")
    concurrency: int | None = Field(
        None, ge=1, description="most decoding tasks at once (None: Ray Data decides)"
    )
    max_pad_fraction: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="frames of a clip that may be replaced by their nearest decoded neighbour",
    )
    shuffle_buffer: int = Field(256, ge=0, description="local shuffle buffer (rows) of the training iterator")
    max_eval_segments: int | None = Field(None, ge=1, description="evaluate on the first N segments only")

    @model_validator(mode="after")
    def _one_source(self) -> DataSettings:
        if self.manifest is not None and self.clips is not None:
            raise ValueError("give data.manifest or data.clips, not both")
        return self


class AugmentConfig(StrictConfig):
    """Training-time augmentation (evaluation uses the centre crop of the segment-centred clip).

    No horizontal flip, on purpose: a mirrored clip of ``turn-left`` is a ``turn-right`` (and the
    door of ``open``/``close`` swings the other way), so flipping would teach the teacher that
    direction-dependent verbs are interchangeable, which is exactly the information a dense video
    model has over a single frame.
    """

    enabled: bool = True
    temporal_jitter: float = Field(1.0, ge=0.0, le=1.0, description="clip centre jitter within the segment")
    scale: tuple[float, float] = Field((0.5, 1.0), description="area fraction of the random resized crop")
    ratio: tuple[float, float] = Field((0.75, 1.3333), description="aspect ratio range of that crop")
    brightness: float = Field(0.25, ge=0.0, lt=1.0)
    contrast: float = Field(0.25, ge=0.0, lt=1.0)
    saturation: float = Field(0.25, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _ranges(self) -> AugmentConfig:
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"scale must satisfy 0 < lo <= hi <= 1, got {self.scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < lo <= hi, got {self.ratio}")
        return self


#: The teacher's fine-tuning recipe (seed: 50 epochs, lr 1e-4, batch 64): AdamW, cosine schedule.
TEACHER_OPTIM = {"epochs": 50, "weight_decay": 0.05, "schedule": "cosine", "eval_batch_size": 32}


def teacher_optim(**overrides: Any) -> OptimSettings:
    return OptimSettings(**{**TEACHER_OPTIM, **overrides})


class SingleFrameConfig(StrictConfig):
    """The single-frame baseline trained by ``--compare-single-frame`` (same pipeline, T = 1).

    ``tiny3d``: the teacher's own network fed one frame (the window-centre frame; with T = 1 every
    3-D kernel reduces to its central 2-D slice, so it is a 2-D CNN of the same widths) — the
    controlled comparison; ``resnet18``: torchvision ResNet-18 from random init.
    """

    model: Literal["tiny3d", "resnet18"] = "tiny3d"


class TeacherJobConfig(StrictConfig):
    """Everything `egodistill teacher` needs."""

    workspace: str = Field("workspace", description="outputs: checkpoints/, ray_results/, mlflow.db")
    model_name: str | None = Field(None, description="name in the workspace (default: the teacher's name)")
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    data: DataSettings = Field(default_factory=DataSettings)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    optim: OptimSettings = Field(default_factory=teacher_optim)
    trainer: TrainerSettings = Field(default_factory=TrainerSettings)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    single_frame: SingleFrameConfig = Field(default_factory=SingleFrameConfig)
    seed: int = 0
    efficiency: bool = Field(True, description="measure GMACs, params and CPU latency of the trained model")
    fail_once: FailOnce | None = None

    @model_validator(mode="before")
    @classmethod
    def _teacher_recipe(cls, data: Any) -> Any:
        """Optimiser keys not given take the teacher's recipe, not the students' defaults."""
        if isinstance(data, dict) and isinstance(data.get("optim"), dict):
            return {**data, "optim": {**TEACHER_OPTIM, **data["optim"]}}
        return data

    @property
    def name(self) -> str:
        return self.model_name or self.teacher.name

    def require_data(self) -> tuple[str, str]:
        """(kind, path) of the input; ConfigError when none is given."""
        from egodistill.config import ConfigError

        if self.data.manifest:
            return "manifest", self.data.manifest
        if self.data.clips:
            return "clips", self.data.clips
        raise ConfigError("teacher needs --manifest or --clips (data.manifest / data.clips)")


#: Named starting points, applied *under* the config file, flags and --set overrides.
PRESETS: dict[str, dict[str, Any]] = {
    # The paper's recipe (the defaults), spelled out.
    "paper": {},
    # A heavy teacher for a light student (the paper's premise, ≥ 20x the student's GMACs): tiny3d
    # 64 wide on the paper's 16 x 4 clip at r3d's 112 px = 3.5 GMACs, against 0.15 for the demo's
    # EgoDistill student (N = 1, 48 px frames): 24x. From scratch on the demo world, 2 CPU cores.
    "demo": {
        "teacher": {
            "name": "tiny3d",
            "weights": "none",
            "num_frames": 16,
            "sample_rate": 4,
            "crop_size": 112,
            "tiny_width": 64,
        },
        "data": {"train_repeats": 2, "num_cpus_per_task": 1.0, "shuffle_buffer": 256},
        "optim": {
            "epochs": 8,
            "batch_size": 16,
            "lr": 3e-3,
            "weight_decay": 1e-4,
            "warmup_epochs": 1,
            "eval_every": 4,
        },
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1.0}, "run": {"max_failures": 1}},
    },
    # `egodistill reproduce`'s benchmark world (8 videos x 240 s): the demo's teacher. Measured on 2
    # cores: one pass over the world's ~275 training segments is ~200 s at one torch thread (a
    # 3.5-GMAC clip model is compute-bound), so 8 epochs of one clip per segment, with 2 intra-op
    # threads (the decoding tasks leave most of the second core idle).
    "bench": {
        "teacher": {
            "name": "tiny3d",
            "weights": "none",
            "num_frames": 16,
            "sample_rate": 4,
            "crop_size": 112,
            "tiny_width": 64,
        },
        "data": {"train_repeats": 1, "num_cpus_per_task": 1.0, "shuffle_buffer": 256},
        "optim": {
            "epochs": 8,
            "batch_size": 16,
            "lr": 3e-3,
            "weight_decay": 1e-4,
            "warmup_epochs": 1,
            "eval_every": 4,
        },
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1.0}, "torch_threads": 2,
                    "run": {"max_failures": 1}},  # fmt: skip
    },
    # Seconds, not minutes: tests and smoke runs (2 workers sharing 1 CPU, decoding on the other).
    "smoke": {
        "teacher": {"name": "tiny3d", "weights": "none", "crop_size": 32, "tiny_width": 8},
        "data": {"num_cpus_per_task": 1.0, "shuffle_buffer": 16},
        "optim": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "eval_batch_size": 16},
        "trainer": {"scaling": {"num_workers": 2, "cpus_per_worker": 0.5}, "run": {"num_to_keep": 2}},
        "efficiency": False,
    },
}
