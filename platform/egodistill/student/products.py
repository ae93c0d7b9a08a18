"""``egodistill student-inputs``: the data products every student job reads, built as a stage.

Training jobs only read; this stage builds, in order, resumably, and under one MLflow run:

1. the dense evaluation clips (``<ws>/clips_dense``): the manifest's evaluation rows expanded to dense
   windows (:func:`~egodistill.evaluation.segments.dense_manifest`) and ingested like any clips;
2. the frozen image-feature cache (f_I over every stored frame) of the clips and the dense clips;
3. the joined inputs (:mod:`.join`): clips + image features + every teacher's features and logits,
   one table per source under ``<ws>/student_inputs/<dataset>/<pool>/<source>/``.

Each step reuses what is complete (ingest and the cache skip done rows; the join compares a
fingerprint of its input files), so a re-run after new teacher features only redoes the join.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from egodistill.config import ConfigError, StrictConfig
from egodistill.datasets.manifest import DenseClipConfig
from egodistill.student.join import JoinSpec, join_inputs
from egodistill.tracking import TrackingConfig

log = logging.getLogger(__name__)

SOURCES = ("clips", "clips_dense")


class StudentInputsConfig(StrictConfig):
    """Where the student inputs come from and how the frame pool is encoded."""

    workspace: str = "workspace"
    dataset: str = Field("ego4d", description="ego4d or epic")
    clips: str | None = Field(None, description="clips root; None: <workspace>/clips")
    features: str | None = Field(None, description="features root; None: <workspace>/features")
    out: str | None = Field(None, description="joined inputs root; None: <workspace>/student_inputs")
    teacher_features: str | None = Field(
        None,
        description="root of the teacher tables to join; None: the features root (a method's own logits elsewhere)",
    )
    manifest: str | None = Field(
        None, description="for the dense clips; None: <workspace>/manifests/<dataset>.parquet"
    )
    teachers: list[str] | None = Field(
        None, description="teacher feature folders to join; None: every teacher folder of the dataset"
    )
    image_weights: str = Field(
        "torchvision", description='f_I weights: "torchvision" | "none" | checkpoint path'
    )
    image_size: int | None = Field(None, ge=16, description="f_I input size; None: the stored frame size")
    frames: bool = Field(False, description="keep the JPEG pool instead of cached f_I features (f_I trains)")
    allow_download: bool = True
    build_dense: bool = Field(True, description="build <workspace>/clips_dense from the manifest")
    dense: DenseClipConfig = Field(default_factory=DenseClipConfig)
    eval_split: str = "val"
    num_partitions: int | None = Field(
        None, ge=1, description="hash partitions of the join (None: by file count)"
    )
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    local_num_cpus: int | None = Field(
        None, ge=1, description="CPUs of a local Ray (ignored with RAY_ADDRESS)"
    )

    def ws(self) -> Path:
        return Path(self.workspace).expanduser().absolute()

    def clips_root(self) -> str:
        return self.clips or str(self.ws() / "clips")

    def features_root(self) -> str:
        return self.features or str(self.ws() / "features")

    def out_root(self) -> str:
        return self.out or str(self.ws() / "student_inputs")

    def teachers_root(self) -> str:
        return self.teacher_features or self.features_root()

    def image_cache_config(self, clips_root: str):
        from egodistill.features.image_cache import ImageCacheConfig

        icfg = ImageCacheConfig(clips=clips_root, workspace=str(self.ws()), out=self.features_root(),
                                dataset=self.dataset, weights=self.image_weights, image_size=self.image_size,
                                allow_download=self.allow_download)  # fmt: skip
        if self.image_size is not None:
            icfg = icfg.model_copy(update={"model_name": f"{icfg.folder_name()}-{self.image_size}px"})
        return icfg

    @classmethod
    def for_job(cls, workspace: str, data: Any, student: Any, tracking: TrackingConfig | None = None):
        """The stage's config for a student job's (or experiment's) data and student settings."""
        return cls(workspace=workspace, dataset=data.dataset, clips=data.clips, features=data.features,
                   out=data.inputs, image_weights=student.image_weights, image_size=data.image_size,
                   frames=not student.freeze_image_encoder, allow_download=student.allow_download,
                   eval_split=data.eval_split, tracking=tracking or TrackingConfig(enabled=False))  # fmt: skip

    def pool_name(self) -> str:
        """The folder naming the frame pool's encoding: the image-feature folder, or ``frames``."""
        return "frames" if self.frames else self.image_cache_config(self.clips_root()).folder_name()


def inputs_dir(root: str, dataset: str, pool: str, source: str) -> str:
    return str(Path(root) / dataset / pool / source)


def teacher_folders(features_root: str, dataset: str) -> list[str]:
    """The teacher-features folders of a dataset (image caches and private folders left out)."""
    d = Path(features_root) / dataset
    return sorted(p.name for p in d.glob("*") if p.is_dir() and not p.name.startswith(("image_", "_", ".")))


@dataclass
class StudentInputsSummary:
    dataset: str
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    elapsed_sec: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.sources)

    def lines(self) -> list[str]:
        out = [
            f"student inputs of {self.dataset} ({self.elapsed_sec:.0f} s):",
            *[f"  {s}" for s in self.steps],
        ]
        for source, s in self.sources.items():
            miss = (
                ", ".join(f"{v['count']} without {k}" for k, v in s["missing"].items() if v["count"])
                or "none missing"
            )
            out.append(f"  {source}: rows in {s['rows_in']} = written {s['rows_written']} + quarantined "
                       f"{s['rows_quarantined']}; {miss}; teachers {sorted(s['teachers']) or '-'}")  # fmt: skip
        return out


def build_dense_clips(manifest: str, out: str, dense: DenseClipConfig, clips_root: str) -> Any:
    """Expand the manifest's evaluation rows to dense windows and ingest them like the clips dataset."""
    from egodistill.datasets.manifest import read_manifest
    from egodistill.evaluation.segments import dense_manifest
    from egodistill.ingest.config import IngestConfig
    from egodistill.ingest.pipeline import run_ingest
    from egodistill.ingest.store import read_clips
    from egodistill.storage import atomic_write_table

    table = read_manifest(manifest)
    expanded = dense_manifest(table, dense).replace_schema_metadata(table.schema.metadata)
    dense_path = manifest[: -len(".parquet")] + ".dense.parquet"
    atomic_write_table(expanded, dense_path)
    probe = read_clips(clips_root, columns=["num_frames", "frame_height", "first_frame_time_sec"]).slice(0, 1)
    size = int(probe.column("frame_height")[0].as_py())
    frames = {
        "count": int(probe.column("num_frames")[0].as_py()),
        "short_side": size,
        "crop_size": size,
        "first_last": probe.column("first_frame_time_sec")[0].is_valid,
    }
    summary = run_ingest(
        IngestConfig(manifest=dense_path, out=out, frames=frames, resources={"progress_bars": False})
    )
    log.info("dense evaluation clips: %s", " / ".join(summary.lines()))
    return summary


def _has_clips(root: str, dataset: str) -> bool:
    from egodistill.ingest.store import clip_files

    try:
        return bool(clip_files(root, dataset)[1])
    except (FileNotFoundError, OSError):
        return False


def run_student_inputs(cfg: StudentInputsConfig) -> StudentInputsSummary:
    """Build every student input of one dataset (module docstring); Ray must be initialised."""
    from egodistill.features import store as fstore
    from egodistill.features.image_cache import effective_weights, run_image_cache
    from egodistill.ingest.store import clip_files

    t0 = time.perf_counter()
    summary = StudentInputsSummary(cfg.dataset)
    clips_root = cfg.clips_root()
    if not _has_clips(clips_root, cfg.dataset):
        raise FileNotFoundError(f"no {cfg.dataset} clips under {clips_root} (run `egodistill ingest` first)")
    roots = {"clips": clips_root}
    dense_root = str(cfg.ws() / "clips_dense")
    manifest = cfg.manifest or str(cfg.ws() / "manifests" / f"{cfg.dataset}.parquet")
    if _has_clips(dense_root, cfg.dataset):
        summary.steps.append(f"dense clips: {dense_root} (reused)")
    elif cfg.build_dense and Path(manifest).is_file():
        build_dense_clips(manifest, dense_root, cfg.dense, clips_root)
        summary.steps.append(f"dense clips: {dense_root} (built from {manifest})")
    else:
        summary.steps.append(f"dense clips: none (no {manifest}); evaluation uses the {cfg.eval_split} clips")
    if _has_clips(dense_root, cfg.dataset):
        roots["clips_dense"] = dense_root
    teachers = cfg.teachers if cfg.teachers is not None else teacher_folders(cfg.teachers_root(), cfg.dataset)
    teacher_files: dict[str, list[str]] = {}
    for t in teachers:
        _, files = fstore.list_parquet(fstore.model_dir(cfg.teachers_root(), cfg.dataset, t))
        if not files:
            raise FileNotFoundError(
                f"no teacher features at {fstore.model_dir(cfg.teachers_root(), cfg.dataset, t)} "
                "(run `egodistill features` first)"
            )
        teacher_files[t] = files
    pool = cfg.pool_name()
    for source, root in roots.items():
        image_files = None
        weights = None
        if not cfg.frames:
            icfg = cfg.image_cache_config(root)
            for s in run_image_cache(icfg):
                if not s.ok:
                    raise RuntimeError(f"image feature cache incomplete: {s.line()}")
            weights = effective_weights(icfg)
            _, image_files = fstore.list_parquet(
                fstore.model_dir(cfg.features_root(), cfg.dataset, icfg.folder_name())
            )
            summary.steps.append(f"image features of {source}: {icfg.folder_name()}")
        spec = JoinSpec(dataset=cfg.dataset, source=source, clip_files=clip_files(root, cfg.dataset)[1],
                        image_files=image_files, teachers=teacher_files if source == "clips" else {},
                        image_weights=weights, out=inputs_dir(cfg.out_root(), cfg.dataset, pool, source))  # fmt: skip
        summary.sources[source] = join_inputs(spec, cfg.eval_split, cfg.num_partitions)
    summary.elapsed_sec = time.perf_counter() - t0
    return summary


def require_config(cfg: StudentInputsConfig) -> None:
    """Checks that need no Ray: fail in a second, naming the key."""
    if cfg.image_weights not in ("torchvision", "none") and not Path(cfg.image_weights).is_file():
        raise ConfigError(f"image_weights: {cfg.image_weights} is neither torchvision, none nor a file")
    require_sources(cfg)


def require_sources(
    cfg: StudentInputsConfig, needs_teacher: bool = False, teacher: str | None = None
) -> None:
    """Before Ray: the clips and teacher features the inputs are built from exist (one line, the fix).

    ``needs_teacher``: a distilling job follows, so at least one teacher's features (``teacher``'s,
    when named) must be there; otherwise the f_I cache of every clip would be computed first and the
    job would stop at the join.
    """
    clips = cfg.clips_root()
    if not _has_clips(clips, cfg.dataset):
        raise ConfigError(
            f"no {cfg.dataset} clips under {clips}: run `egodistill ingest --manifest "
            f"{cfg.ws() / 'manifests' / (cfg.dataset + '.parquet')} --out {clips}` first"
        )
    root = Path(cfg.teachers_root()) / cfg.dataset
    have = teacher_folders(cfg.teachers_root(), cfg.dataset)
    fix = (f"run `egodistill features --clips {clips} --workspace {cfg.ws()} --teacher-dir "
           f"{cfg.ws() / 'checkpoints' / 'teachers' / cfg.dataset}/<teacher>` first")  # fmt: skip
    wanted = [*(cfg.teachers or []), *([teacher] if teacher else [])]
    for name in wanted:
        if name not in have:
            raise ConfigError(
                f"no features of teacher {name!r} under {root} (available: {', '.join(have) or 'none'}); {fix}"
            )
    if needs_teacher and not have:
        raise ConfigError(f"no teacher features under {root}: {fix}")


__all__ = ["SOURCES", "StudentInputsConfig", "StudentInputsSummary", "build_dense_clips", "inputs_dir",
           "require_config", "require_sources", "run_student_inputs", "teacher_folders"]  # fmt: skip
