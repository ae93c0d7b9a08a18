"""Config of the `features` job: which clips, which teacher, where, with what resources."""

from __future__ import annotations

from pydantic import Field, model_validator

from egodistill.config import StrictConfig
from egodistill.models.config import TeacherConfig
from egodistill.tracking import TrackingConfig


class FeaturesConfig(StrictConfig):
    """Run a teacher over the dense clip of every row of an ingested clips dataset."""

    clips: str | None = Field(None, description="clips dataset root (`egodistill ingest --out`)")
    workspace: str = "workspace"
    out: str | None = Field(None, description="features root; None: <workspace>/features (a URI works)")
    dataset: str | None = Field(None, description="only this dataset (default: every dataset in --clips)")
    teacher_dir: str | None = Field(None, description="a trained teacher (`egodistill teacher` export dir)")
    teacher: TeacherConfig | None = Field(None, description="or: a teacher config (e.g. Kinetics weights)")
    model_name: str | None = Field(None, description="folder name of the sidecar (default: the teacher's)")
    decode_size: int | None = Field(
        None, ge=8, description="None: the export's, else the model's resize size"
    )
    batch_size: int = Field(32, ge=1, description="clips per forward pass")
    clips_per_task: int = Field(
        64, ge=1, description="clips decoded per Ray Data task (one stretch of a video)"
    )
    num_cpus_per_task: float = Field(1.0, gt=0)
    decode_concurrency: int | None = Field(None, ge=1)
    actors: int | None = Field(None, ge=1, description="model replicas (None: one per GPU, or 1 on CPU)")
    num_cpus_per_actor: float = Field(1.0, gt=0)
    num_gpus_per_actor: float | None = Field(None, ge=0, description="None: 1 when the cluster has GPUs")
    amp: bool = Field(True, description="autocast on CUDA (features are stored as float16 anyway)")
    max_pad_fraction: float = Field(0.25, ge=0.0, le=1.0)
    row_group_rows: int = Field(1024, ge=1)
    progress_bars: bool | None = Field(None, description="Ray Data's progress bars (None: only with -v)")
    local_num_cpus: int | None = Field(
        None, ge=1, description="CPUs of a local Ray (ignored with RAY_ADDRESS)"
    )
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @model_validator(mode="after")
    def _one_teacher(self) -> FeaturesConfig:
        if self.teacher_dir is not None and self.teacher is not None:
            raise ValueError("give teacher_dir or teacher, not both")
        return self

    def require(self) -> str:
        """The clips root; ConfigError when the clips or the teacher are missing."""
        from egodistill.config import ConfigError

        if not self.clips:
            raise ConfigError("features needs --clips (the ingested clips dataset root)")
        if self.teacher_dir is None and self.teacher is None:
            raise ConfigError("features needs --teacher-dir (a trained teacher) or a teacher config")
        self._require_local_inputs()
        return self.clips

    def _require_local_inputs(self) -> None:
        """Before Ray: the clips folder exists and ``teacher_dir`` is a teacher export (one line each)."""
        from pathlib import Path

        from egodistill.config import ConfigError

        clips = self.clips or ""
        if "://" not in clips and not Path(clips).expanduser().is_dir():
            raise ConfigError(
                f"--clips {clips} does not exist: run `egodistill ingest --manifest <manifest> --out {clips}` first"
            )
        if self.teacher_dir is None or "://" in self.teacher_dir:
            return
        d = Path(self.teacher_dir).expanduser()
        if (d / "teacher.yaml").is_file() and (d / "teacher.pt").is_file():
            return
        roots = {
            d.parent,
            Path(self.workspace).expanduser() / "checkpoints" / "teachers" / (self.dataset or "*"),
        }
        found = sorted({str(p.parent) for r in roots for p in r.parent.glob(f"{r.name}/*/teacher.yaml")})
        raise ConfigError(
            f"--teacher-dir {d} is not a trained teacher (no teacher.yaml + teacher.pt there); "
            f"trained teachers: {', '.join(found) or 'none'}; train one with `egodistill teacher --clips {clips} "
            f"--workspace {self.workspace}`"
        )

    def out_root(self) -> str:
        if self.out:
            return self.out
        from pathlib import Path

        return str(Path(self.workspace).expanduser().absolute() / "features")
