"""``egodistill correspondence``: video/IMU correspondence SSL (seed 002) and its evaluations.

    egodistill correspondence --workspace ws --dataset ego4d --preset demo [--transfer-manifest M]
    egodistill correspondence --workspace ws --dataset ego4d --preset demo --evaluate-only \\
        --export ws/checkpoints/correspondence/ego4d/correspondence [--frozen-export ...] [--only probe]

Config sources, later wins: ``--preset`` (paper | demo | smoke, default paper) < ``--config FILE`` < the flags
< ``--set KEY=VALUE``. Reads the manifest (``egodistill index``) and decodes clips on the fly.
"""

from __future__ import annotations

import argparse
from typing import Any

from egodistill.clitools import Subcommand
from egodistill.config import add_config_arguments

HELP = "self-supervised video/head-motion correspondence (seed 002) on Ray Train, then its evaluations"


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", help="workspace with manifests/ (default ./workspace)")
    p.add_argument("--dataset", help="ego4d or epic (data.dataset, default ego4d)")
    p.add_argument("--manifest", help="clip manifest (default <workspace>/manifests/<dataset>.parquet)")
    p.add_argument(
        "--preset",
        choices=("paper", "demo", "smoke"),
        default="paper",
        help="starting config (default paper)",
    )
    add_config_arguments(p, "CorrespondenceJobConfig", "loss.kind=binary")
    p.add_argument("--epochs", type=int, help="optim.epochs")
    p.add_argument(
        "--supervised-teacher", help="teacher export for the supervised rows (eval.supervised_teacher)"
    )
    p.add_argument("--transfer-manifest", help="manifest of the second domain (eval.transfer_manifest)")
    p.add_argument("--workers", type=int, help="Ray Train workers (trainer.scaling.num_workers)")
    p.add_argument("--cpus-per-worker", type=float, help="CPUs reserved per worker")
    p.add_argument("--gpu", dest="use_gpu", action="store_const", const=True, help="train on GPUs")
    p.add_argument("--cpu", dest="use_gpu", action="store_const", const=False, help="train on CPUs only")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")
    p.add_argument("--evaluate-only", action="store_true", help="only evaluate trained exports (--export)")
    p.add_argument("--export", help="trained (video CNN updated) export for --evaluate-only")
    p.add_argument("--frozen-export", help="the frozen-video export for --evaluate-only (optional)")
    p.add_argument("--only", action="append", choices=("correspondence", "probe", "modalities", "transfer"),
                   help="run only these evaluations (repeatable)")  # fmt: skip


def load_job_config(args: argparse.Namespace):
    from egodistill.config import load_config
    from egodistill.methods.correspondence.config import CorrespondenceJobConfig, job_preset

    flags: dict[str, Any] = {
        "workspace": args.workspace, "data.dataset": args.dataset, "data.manifest": args.manifest,
        "optim.epochs": args.epochs, "eval.supervised_teacher": args.supervised_teacher,
        "eval.transfer_manifest": args.transfer_manifest, "trainer.scaling.num_workers": args.workers,
        "trainer.scaling.cpus_per_worker": args.cpus_per_worker, "trainer.scaling.use_gpu": args.use_gpu,
        "tracking.enabled": False if args.no_mlflow else None,
    }  # fmt: skip
    return load_config(
        CorrespondenceJobConfig,
        args.config,
        args.overrides,
        base=job_preset("ssl", args.preset),
        dotted=flags,
    )


def _run(args: argparse.Namespace) -> int:
    from egodistill import tracking
    from egodistill.config import ConfigError
    from egodistill.runtime import ensure_ray

    cfg = load_job_config(args)
    cfg.manifest_path()  # fail before Ray starts
    if args.evaluate_only and not args.export:
        raise ConfigError("--evaluate-only needs --export (a trained correspondence export)")
    ensure_ray(args.num_cpus)
    if args.evaluate_only:
        from egodistill.methods.correspondence.jobs import evaluate_exports
        from egodistill.methods.correspondence.report import markdown

        exports = {"updated": args.export, **({"frozen": args.frozen_export} if args.frozen_export else {})}
        with tracking.tracked_run(cfg.tracking, workspace=cfg.workspace, job="correspondence",
                                  params={"evaluate_only": True, **exports}, run_name=f"{cfg.data.dataset}/evaluate") as run:  # fmt: skip
            results = evaluate_exports(cfg, exports, run, args.only)
        print(markdown(results))
        print(f"report: {results['report_dir']}")
        return 0
    from egodistill.methods.correspondence.jobs import run_correspondence

    print("\n".join(run_correspondence(cfg).lines()))
    return 0


correspondence = Subcommand(HELP, _arguments, _run)

__all__ = ["correspondence", "load_job_config"]
