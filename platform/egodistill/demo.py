"""``egodistill demo``: the whole pipeline on a fresh synthetic world, locally.

Stages (each one the library call its own job makes, so the demo exercises the real code paths):
synth → index → ingest for every layout, then for the training layouts: teacher (with the
single-frame baseline it is compared with) → teacher features → students (stage-1 pretraining and
stage-2 training of VisOnly, VisOnly-Distill, VisIMU and EgoDistill, evaluated per segment over dense
clips, with the results table, efficiency table and plot). Every stage writes under ``--out``
in the workspace layout of docs/architecture.md and prints what it did.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field

from egodistill.config import StrictConfig, add_config_arguments, load_config

HELP = "run the pipeline end to end on a fresh synthetic dataset (both layouts) and print a summary"

Layout = Literal["ego4d", "epic"]


class DemoConfig(StrictConfig):
    """Size of the demo world and of the stored frames; defaults finish in minutes on 2 cores."""

    out: str = "demo_out"
    layouts: list[Layout] = ["ego4d", "epic"]
    videos: int = Field(4, ge=1)
    seconds: float = Field(60.0, ge=5.0)
    seed: int = 0
    width: int = 160
    height: int = 120
    frame_size: int = Field(112, ge=16, description="stored frames: short side and centre crop (px)")
    train_layouts: list[Layout] = Field(["ego4d"], description="layouts that go on to teacher and students")
    teacher_epochs: int | None = Field(None, ge=1, description="None: the teacher's demo preset")
    num_cpus: int | None = Field(None, ge=1, description="CPUs for the local Ray; None = all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="workspace directory (default demo_out)")
    add_config_arguments(parser, "DemoConfig", "teacher_epochs=4")
    parser.add_argument("--videos", type=int, help="videos per layout (default 4)")
    parser.add_argument("--seconds", type=float, help="seconds per video (default 60)")
    parser.add_argument("--seed", type=int, help="world seed (default 0)")


def _stage(name: str, fn: Callable[[], str]) -> None:
    print(f"\n=== {name} ===", flush=True)
    t0 = time.perf_counter()
    text = fn()
    print(text)
    print(f"--- {name}: {time.perf_counter() - t0:.1f} s", flush=True)


def run_demo(cfg: DemoConfig) -> None:
    """Run every stage for every layout; raise on the first failure."""
    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest, quarantine_path, summarize, write_manifest
    from egodistill.ingest.config import IngestConfig
    from egodistill.ingest.pipeline import ensure_ray, run_ingest
    from egodistill.storage import atomic_write_table
    from egodistill.synthetic import SynthConfig, generate

    root = Path(cfg.out).absolute()
    ensure_ray(cfg.num_cpus)
    for layout in cfg.layouts:
        data_dir = root / "data" / layout
        manifest = root / "manifests" / f"{layout}.parquet"

        def synth(layout: str = layout, data_dir: Path = data_dir) -> str:
            scfg = SynthConfig(
                layout=layout,
                out=str(data_dir),
                videos=cfg.videos,
                seconds=cfg.seconds,
                seed=cfg.seed,
                width=cfg.width,
                height=cfg.height,
            )
            return str(generate(scfg))

        def index(layout: str = layout, data_dir: Path = data_dir, manifest: Path = manifest) -> str:
            # The synthetic camera-wearers are P01..: split EPIC by a seeded share of participants
            # instead of the paper's P30/P35/P37 (the default for the real dataset).
            split = {"rule": "random_participants"} if layout == "epic" else {}
            icfg = IndexConfig(dataset=layout, root=str(data_dir), split=split)
            result = build_manifest(icfg)
            write_manifest(result.manifest, str(manifest), icfg)
            atomic_write_table(result.quarantine.to_table(), quarantine_path(str(manifest)))
            return summarize(result)

        def ingest(manifest: Path = manifest) -> str:
            size = cfg.frame_size
            icfg = load_config(
                IngestConfig,
                manifest=str(manifest),
                out=str(root / "clips"),
                overrides=[
                    f"frames.short_side={size}",
                    f"frames.crop_size={size}",
                    "resources.progress_bars=false",
                ],
            )
            summary = run_ingest(icfg)
            if not summary.ok:
                raise RuntimeError("ingest incomplete:\n" + "\n".join(summary.lines()))
            return "\n".join(summary.lines())

        _stage(f"synth {layout}", synth)
        _stage(f"index {layout}", index)
        _stage(f"ingest {layout}", ingest)
    for layout in cfg.train_layouts:
        _train_layout(cfg, root, layout)
    print(
        f"\ndemo finished: workspace {root}; MLflow UI: mlflow ui --backend-store-uri sqlite:///{root}/mlflow.db"
    )


def _train_layout(cfg: DemoConfig, root: Path, layout: str) -> None:
    """Teacher (+ single-frame baseline), teacher features and the student experiment for one layout."""
    from egodistill.features.config import FeaturesConfig
    from egodistill.features.pipeline import run_features
    from egodistill.training.config import PRESETS, TeacherJobConfig
    from egodistill.training.export import export_dir
    from egodistill.training.student_jobs import PRESETS as STUDENT_PRESETS
    from egodistill.training.student_jobs import ExperimentConfig, run_experiment
    from egodistill.training.teacher import compare_single_frame

    teacher_cfg = load_config(
        TeacherJobConfig,
        base=PRESETS["demo"],
        dotted={
            "data.clips": str(root / "clips"),
            "data.dataset": layout,
            "workspace": str(root),
            "optim.epochs": cfg.teacher_epochs,
        },
    )

    def teacher() -> str:
        comparison = compare_single_frame(teacher_cfg)
        lines = [*comparison.teacher.lines(), *comparison.baseline.lines(), "", *comparison.lines()]
        return "\n".join(lines)

    def features() -> str:
        fcfg = FeaturesConfig(
            clips=str(root / "clips"),
            workspace=str(root),
            dataset=layout,
            teacher_dir=str(export_dir(root, layout, teacher_cfg.name)),
        )
        summary = run_features(fcfg)
        if not summary.ok:
            raise RuntimeError("features incomplete:\n" + "\n".join(summary.lines()))
        return "\n".join(summary.lines())

    def students() -> str:
        ecfg = load_config(
            ExperimentConfig,
            base=STUDENT_PRESETS["demo"],
            dotted={"workspace": str(root), "data.dataset": layout, "data.teacher_model": teacher_cfg.name},
        )
        return "\n".join(run_experiment(ecfg).lines())

    _stage(f"teacher {layout}", teacher)
    _stage(f"features {layout}", features)
    _stage(f"students {layout}", students)


def run(args: argparse.Namespace) -> int:
    values = {k: getattr(args, k) for k in ("out", "videos", "seconds", "seed")}
    cfg = load_config(DemoConfig, args.config, args.overrides, **values)
    run_demo(cfg)
    return 0
