"""Configs of the `index` job: dataset layout, clip and split rules, IMU windowing.

Defaults follow seed 000 (supplement B/C) and shared/docs/data-formats.md; every rule the paper
leaves open is a field here rather than a constant in a reader.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from egodistill.config import StrictConfig
from egodistill.datasets.imu import ImuWindowConfig
from egodistill.tracking import TrackingConfig

SplitRule = Literal[
    "per_class_random", "by_video", "split_fho", "participants", "random_participants", "source_file"
]

DEFAULT_SPLIT_RULE = {"ego4d": "per_class_random", "epic": "participants"}


class SplitConfig(StrictConfig):
    """How clips are split into train/val(/test).

    - per_class_random: within each kept class, a seeded random val_fraction goes to val (seed 000
      Ego4D: 70/30 per category). Default for Ego4D.
    - by_video: a seeded random val_fraction of videos goes to val.
    - split_fho (Ego4D): the video's ``split_fho`` from ego4d.json; multi/null clips are quarantined.
    - participants (EPIC): camera-wearers in val_participants form val (seed 000: P30, P35, P37),
      the rest train. Default for EPIC: the IMU-bearing videos are not in the official val set.
    - random_participants (EPIC): a seeded random val_fraction of participants forms val.
    - source_file (EPIC): by annotation file name through source_splits (others: train).
    """

    rule: SplitRule | None = None
    """None: the dataset's default (see DEFAULT_SPLIT_RULE)."""
    val_fraction: float = Field(0.3, ge=0.0, le=1.0)
    val_participants: list[str] = ["P30", "P35", "P37"]
    source_splits: dict[str, str] = {"EPIC_100_validation.csv": "val"}


class Ego4DConfig(StrictConfig):
    """Ego4D CLI layout: <root>/<version>/{ego4d.json, annotations/fho_main.json, full_scale/, imu/}."""

    version: str = "v2"
    metadata_file: str = "ego4d.json"
    annotation_file: str = "annotations/fho_main.json"
    video_dir: str = "full_scale"
    imu_dir: str = "imu"
    exclude_partial: bool = False
    """Also drop actions flagged is_partial (optional in the official filter)."""


class EpicConfig(StrictConfig):
    """EPIC-KITCHENS-100 layout: annotation CSVs plus <root>/PXX/{videos, meta_data}."""

    annotations_dir: str | None = None
    """Folder of the annotation CSVs; None: the dataset root."""
    annotation_files: list[str] = ["EPIC_100_train.csv", "EPIC_100_validation.csv"]
    verb_classes_file: str = "EPIC_100_verb_classes.csv"
    video_info_file: str = "EPIC_100_video_info.csv"
    video_ext: str = ".MP4"
    extension_min_index: int = 100
    """PXX_YYY videos with YYY >= this are EPIC-100 extension videos, the only ones with IMU."""


class IndexConfig(StrictConfig):
    """Everything `egodistill index` needs to turn a dataset root into a clip manifest."""

    dataset: Literal["ego4d", "epic"]
    root: str
    out: str | None = None
    seed: int = 0
    min_class_instances: int = Field(2, ge=1)
    """Classes with fewer usable clips are dropped (seed 000: at least 2 labelled instances)."""
    clip_tolerance_sec: float = Field(0.1, ge=0.0)
    """A segment may end this far past the video's duration (timestamps are rounded)."""
    clamp_window_to_video: bool = True
    """Shift the model window (segment centre +- half the IMU window) to lie inside the video when
    the video is longer than the window, so no window asks for time before 0 or after the end."""
    imu: ImuWindowConfig = Field(default_factory=ImuWindowConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    ego4d: Ego4DConfig = Field(default_factory=Ego4DConfig)
    epic: EpicConfig = Field(default_factory=EpicConfig)
    workspace: str | None = None
    """Where the default MLflow store (<workspace>/mlflow.db) lives; None: the folder above a local
    ``out``'s ``manifests/`` folder (``ws/manifests/ego4d.parquet`` -> ``ws``), else ``out``'s folder."""
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @model_validator(mode="after")
    def _split_rule_fits(self) -> IndexConfig:
        rule = self.split_rule
        only = {
            "split_fho": "ego4d",
            "participants": "epic",
            "random_participants": "epic",
            "source_file": "epic",
        }
        if rule in only and only[rule] != self.dataset:
            raise ValueError(f"split rule {rule!r} applies to {only[rule]} only, not {self.dataset}")
        return self

    @property
    def split_rule(self) -> str:
        return self.split.rule or DEFAULT_SPLIT_RULE[self.dataset]

    def tracking_workspace(self) -> str | None:
        """The MLflow store's workspace (see ``workspace``); None: do not track (a warning says why)."""
        from egodistill.tracking import local_folder, stage_workspace

        local = local_folder(self.out) if self.out else None
        if local is not None:
            local = local.parent.parent if local.parent.name == "manifests" else local.parent
        return stage_workspace(self.tracking, self.workspace, str(local) if local else None)
