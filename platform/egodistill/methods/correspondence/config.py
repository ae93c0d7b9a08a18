"""The correspondence job's typed config and the paper's defaults (seed 002), resolved once here.

Printed by the paper: 2 s pairs; IMU 396 x 6 at 198 Hz (``accl_xyz, gyro_xyz``) as per-channel spectrograms
(n_fft 64) into VGG-16; SlowFast-50 video pretrained on Kinetics; negatives = the other pairs of the batch;
ROC-AUC on the correspondence task; linear softmax-regression probes. Not printed (ours): the STFT hop (8),
the embedding size (128), tau (0.07, learned, clamped at 1/100), AdamW lr 1e-4, batch 64, 50 epochs, the
tiling stride (2 s: consecutive windows do not overlap). Here the video backbone is a teacher-zoo model
(``r2plus1d_18`` with Kinetics weights for ``paper``; the small ``tiny3d`` from scratch for CPU presets) and
the video clip is the backbone's own input spec centred on the IMU window.

A ``None`` in ``optim.epochs``/``optim.milestones`` means "the paper default above" and is filled in when the
config is validated, so workers, run hashes and MLflow params see the values that train.

This is not a :class:`~egodistill.student.config.StudentJobBase`: the method reads videos and IMU through
the manifest (decoding clips on the fly, like the teacher), not the joined student inputs.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from egodistill.config import ConfigError, StrictConfig
from egodistill.datasets.imu import ImuWindowConfig
from egodistill.models.config import TeacherConfig
from egodistill.teacher.config import AugmentConfig
from egodistill.tracking import TrackingConfig
from egodistill.training import ray_wiring
from egodistill.training.failure import FailOnce
from egodistill.training.optim import OptimSettings

PAPER_IMU = {"rate_hz": 198.0, "num_samples": 396}
PAPER_OPTIM = {"epochs": 50, "milestones": [], "batch_size": 64, "lr": 1e-4}
EVALUATIONS = ("correspondence", "probe", "modalities", "transfer")


class CorrespondenceData(StrictConfig):
    """Where pairs come from: tiled windows of whole videos (training, held-out pairs) and labelled clips."""

    manifest: str | None = Field(
        None, description="clip manifest; None: <workspace>/manifests/<dataset>.parquet"
    )
    dataset: str = Field("ego4d", description="ego4d or epic")
    train_split: str = "train"
    eval_split: str = "val"
    imu: ImuWindowConfig = Field(default_factory=lambda: ImuWindowConfig(**PAPER_IMU))
    min_imu_coverage: float = Field(0.8, ge=0, le=1, description="pairs with less valid IMU are skipped")
    tile_stride_sec: float = Field(
        2.0, gt=0, description="stride of the unlabelled windows over whole videos"
    )
    hard_negative_offset_sec: float | None = Field(
        None, gt=0, description="add an IMU window of the same video this far away as a hard negative"
    )
    heldout_video_fraction: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="videos held out for the correspondence test when the manifest splits clips",
    )
    max_eval_pairs: int = Field(400, ge=2, description="held-out pairs scored for ROC-AUC / retrieval")
    decode_size: int | None = Field(None, ge=8, description="square decode size; None: the backbone's resize")
    clips_per_task: int = Field(32, ge=1)
    num_cpus_per_task: float = Field(1.0, gt=0)
    shuffle_buffer: int = Field(128, ge=0)


class CorrespondenceModelConfig(StrictConfig):
    """The two towers and the shared embedding."""

    video: TeacherConfig = Field(
        default_factory=lambda: TeacherConfig(name="r2plus1d_18", weights="torchvision", num_classes=1)
    )
    imu_encoder: Literal["vgg16", "small", "egodistill1d"] = "vgg16"
    n_fft: int = Field(64, ge=4)
    hop: int = Field(8, ge=1)
    embed_dim: int = Field(128, ge=2)


class CorrespondenceLoss(StrictConfig):
    """Symmetric InfoNCE (default) or the paper's binary framing; tau fixed or learned (clamped)."""

    kind: Literal["infonce", "binary"] = "infonce"
    temperature: float = Field(0.07, gt=0)
    learn_temperature: bool = True
    max_logit_scale: float = Field(100.0, gt=1, description="1/tau never exceeds this")


class EvalSettings(StrictConfig):
    """Which evaluations run after training, and their settings."""

    run: list[Literal["correspondence", "probe", "modalities", "transfer"]] = Field(
        default_factory=lambda: list(EVALUATIONS)
    )
    frozen_comparison: bool = Field(True, description="also train with the video CNN frozen (Table 3)")
    supervised_teacher: str | None = Field(
        None,
        description="teacher export (supervised backbone); None: the only one under checkpoints/teachers/<dataset>",
    )
    transfer_manifest: str | None = Field(None, description="manifest of the second domain (dog profile)")
    probe_c: float = Field(1.0, gt=0, description="inverse L2 strength of the softmax regression")
    bootstrap: int = Field(1000, ge=50)
    batch_size: int = Field(32, ge=1)


class CorrespondenceJobConfig(StrictConfig):
    """Everything ``egodistill correspondence`` needs."""

    workspace: str = "workspace"
    name: str = Field("correspondence", description="run name in the workspace")
    model: CorrespondenceModelConfig = Field(default_factory=CorrespondenceModelConfig)
    data: CorrespondenceData = Field(default_factory=CorrespondenceData)
    loss: CorrespondenceLoss = Field(default_factory=CorrespondenceLoss)
    augment: AugmentConfig = Field(default_factory=lambda: AugmentConfig(temporal_jitter=0.0))
    optim: OptimSettings = Field(default_factory=OptimSettings)
    trainer: ray_wiring.TrainerSettings = Field(default_factory=ray_wiring.TrainerSettings)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    freeze_video: bool = Field(False, description="train with the video CNN frozen (set by the comparison)")
    seed: int = 0
    fail_once: FailOnce | None = None

    @model_validator(mode="before")
    @classmethod
    def _paper_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        optim = data.get("optim")
        optim = optim.model_dump() if isinstance(optim, StrictConfig) else dict(optim or {})
        for k, v in PAPER_OPTIM.items():
            if optim.get(k) is None:
                optim[k] = copy.deepcopy(v)
        return {**data, "optim": optim}

    def ws(self) -> Path:
        return Path(self.workspace).expanduser().absolute()

    def manifest_path(self) -> str:
        path = self.data.manifest or str(self.ws() / "manifests" / f"{self.data.dataset}.parquet")
        if "://" not in path and not Path(path).is_file():
            raise ConfigError(f"{path}: manifest not found (run `egodistill index` first or pass --manifest)")
        return path

    def supervised_dir(self) -> str | None:
        """The supervised teacher export: given, or the only one in the workspace (None when there is none)."""
        if self.eval.supervised_teacher:
            return self.eval.supervised_teacher
        root = self.ws() / "checkpoints" / "teachers" / self.data.dataset
        found = sorted(p for p in root.glob("*") if (p / "teacher.yaml").is_file()) if root.is_dir() else []
        return str(found[0]) if len(found) == 1 else None

    def config_hash(self) -> str:
        """Hash of what shapes the weights (not tracking, evaluations or test hooks): the run name carries it."""
        data = self.model_dump(mode="json", exclude={"tracking", "fail_once", "eval"})
        return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]

    def run_name(self) -> str:
        return f"{self.name}{'-frozen' if self.freeze_video else ''}"


#: Named starting points (applied under the config file, flags and --set).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # CPU, 2 cores: tiny3d from scratch and the small spectrogram CNN
    "demo": {
        "model": {"video": {"name": "tiny3d", "weights": "none", "crop_size": 48, "tiny_width": 16, "num_classes": 1},
                  "imu_encoder": "small", "embed_dim": 64},
        "optim": {"epochs": 12, "batch_size": 32, "lr": 1e-3, "weight_decay": 1e-4, "eval_batch_size": 32},
        "loss": {"temperature": 0.1},
        "data": {"shuffle_buffer": 64, "max_eval_pairs": 300},
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1.0}, "run": {"max_failures": 1}},
        "eval": {"bootstrap": 500},
    },
    "smoke": {
        "model": {"video": {"name": "tiny3d", "weights": "none", "crop_size": 32, "tiny_width": 4, "num_classes": 1},
                  "imu_encoder": "small", "embed_dim": 16},
        "optim": {"epochs": 1, "batch_size": 8, "lr": 1e-3},
        "data": {"shuffle_buffer": 16, "max_eval_pairs": 64},
        "trainer": {"scaling": {"num_workers": 1, "cpus_per_worker": 1.0}},
        "eval": {"bootstrap": 100, "frozen_comparison": False},
    },
}  # fmt: skip


def job_preset(kind: str, preset: str) -> dict[str, Any]:
    """A preset as the values of the ``ssl`` job (the method's one stage)."""
    if preset not in PRESETS:
        raise KeyError(f"no preset {preset!r} (known: {sorted(PRESETS)})")
    return copy.deepcopy(PRESETS[preset])


__all__ = ["EVALUATIONS", "PAPER_IMU", "PAPER_OPTIM", "PRESETS", "CorrespondenceData", "CorrespondenceJobConfig",
           "CorrespondenceLoss", "CorrespondenceModelConfig", "EvalSettings", "job_preset"]  # fmt: skip
