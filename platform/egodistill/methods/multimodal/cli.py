"""``egodistill multimodal``: the seed-001 chain from the command line.

    egodistill multimodal --workspace ws --dataset ego4d --preset demo [--modalities rgb flow audio]

Needs the clips (``egodistill ingest``) and the manifest; builds everything else it reads. Config
sources, later wins: ``--preset`` (paper | demo | smoke) < ``--config FILE`` < the flags < ``--set``.
"""

from __future__ import annotations

import argparse

from egodistill.clitools import Subcommand
from egodistill.config import add_config_arguments


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", help="workspace with clips/ and manifests/ (default ./workspace)")
    p.add_argument("--dataset", help="ego4d or epic (data.dataset)")
    p.add_argument(
        "--preset",
        choices=("paper", "demo", "smoke"),
        default="paper",
        help="starting config (default paper)",
    )
    add_config_arguments(p, "the job's config", "loss.gt_weight=0.5")
    p.add_argument("--modalities", nargs="+", choices=("rgb", "flow", "audio", "layout", "imu"))
    p.add_argument("--weightings", nargs="+", choices=("uniform", "per_sample", "per_dataset"))
    p.add_argument("--epochs", type=int, help="student epochs (optim.epochs; reference 20)")
    p.add_argument("--teacher-epochs", type=int, help="teacher.optim.epochs")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")


def load_job_config(args: argparse.Namespace):
    from egodistill.config import load_config
    from egodistill.methods.multimodal.config import MultimodalJobConfig, job_preset

    flags = {"workspace": args.workspace, "data.dataset": args.dataset, "modalities": args.modalities,
             "weightings": args.weightings, "optim.epochs": args.epochs, "teacher.optim.epochs": args.teacher_epochs,
             "tracking.enabled": False if args.no_mlflow else None}  # fmt: skip
    return load_config(MultimodalJobConfig, args.config, args.overrides, base=job_preset("multimodal", args.preset),
                       dotted=flags)  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    from egodistill.ingest.store import clip_files
    from egodistill.methods.multimodal.jobs import run_multimodal
    from egodistill.runtime import ensure_ray
    from egodistill.student.stream import MissingInputError

    cfg = load_job_config(args)
    try:
        clip_files(cfg.clips_root(), cfg.data.dataset)
    except (FileNotFoundError, OSError) as e:
        raise MissingInputError(
            f"no {cfg.data.dataset} clips under {cfg.clips_root()} (run `egodistill ingest`): {e}"
        ) from e
    ensure_ray(args.num_cpus)
    print("\n".join(run_multimodal(cfg).lines()))
    return 0


multimodal = Subcommand(
    "seed 001: modality teachers (RGB, flow, audio, layout, IMU), their ensemble distilled into an RGB-only "
    "student, with calibration; prints the table",
    _args,
    _run,
)

__all__ = ["load_job_config", "multimodal"]
