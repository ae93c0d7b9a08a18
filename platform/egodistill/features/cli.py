"""``egodistill features``: run a trained teacher over every clip row and write its sidecar table.

    egodistill features --clips workspace/clips --teacher-dir workspace/checkpoints/teachers/ego4d/tiny3d \
        --workspace workspace

Config sources, later wins: ``--config FILE`` < the flags < ``--set KEY=VALUE``.
"""

from __future__ import annotations

import argparse
import functools

from egodistill.config import add_config_arguments

HELP = "run a teacher over the dense clip of every clips-dataset row (Ray Data actor pool) -> sidecar Parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    p = parser
    p.add_argument("--clips", help="clips dataset root (from `egodistill ingest`)")
    p.add_argument(
        "--teacher-dir", help="trained teacher (from `egodistill teacher`: checkpoints/teachers/...)"
    )
    p.add_argument("--workspace", help="workspace; features go to <workspace>/features (default ./workspace)")
    p.add_argument("--out", help="features root instead of <workspace>/features (path or URI)")
    p.add_argument("--dataset", help="only this dataset (ego4d or epic)")
    p.add_argument("--model-name", help="folder name of the sidecar (default: the teacher's name)")
    p.add_argument("--batch-size", type=int, help="clips per forward pass (default 32)")
    p.add_argument("--actors", type=int, help="model replicas (default: one per GPU, else 1)")
    add_config_arguments(p, "FeaturesConfig", "batch_size=64")
    p.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")
    p.add_argument("--progress", action="store_true", help="Ray Data progress bars")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")


def load_features_config(args: argparse.Namespace):  # -> FeaturesConfig (imports kept lazy)
    from egodistill.config import load_config
    from egodistill.features.config import FeaturesConfig

    flags = [
        ("batch_size", args.batch_size),
        ("actors", args.actors),
        ("local_num_cpus", args.num_cpus),
        ("progress_bars", True if args.progress else None),
        ("tracking.enabled", False if args.no_mlflow else None),
    ]
    cfg = load_config(
        FeaturesConfig,
        args.config,
        [f"{k}={v}" for k, v in flags if v is not None] + list(args.overrides),
        clips=args.clips,
        teacher_dir=args.teacher_dir,
        workspace=args.workspace,
        out=args.out,
        dataset=args.dataset,
        model_name=args.model_name,
    )
    cfg.require()
    return cfg


def run(args: argparse.Namespace) -> int:
    from egodistill.clitools import run_data_stage
    from egodistill.features.pipeline import run_features
    from egodistill.features.store import FeaturesOutputError
    from egodistill.ingest.store import IngestOutputError
    from egodistill.leases import LeaseHeldError
    from egodistill.runtime import ensure_ray
    from egodistill.tables import SchemaError

    cfg = load_features_config(args)
    ensure_ray(cfg.local_num_cpus)

    def tables(summary) -> dict:
        return {"quarantine_reasons.json": {d.dataset: d.reasons for d in summary.datasets}}

    errors = (FileNotFoundError, FeaturesOutputError, IngestOutputError, LeaseHeldError, SchemaError)
    work = functools.partial(run_features, cfg)
    return run_data_stage(
        "features", cfg.tracking, cfg.workspace, cfg, work, errors, features_metrics, tables
    )


def features_metrics(summary) -> dict[str, float]:  # summary: FeaturesSummary (import kept lazy)
    """Totals over the datasets (rows, clips, videos, files, quarantine per reason), the same per
    dataset under ``<dataset>.``, and the seconds."""
    keys = ("rows_in", "rows_written", "rows_quarantined", "rows_missing", "clips_processed", "files_written")
    keys += ("tasks", "videos")
    metrics: dict[str, float] = {"elapsed_sec": summary.elapsed_sec, "forward_sec": summary.forward_sec}
    metrics["ok"] = summary.ok
    for key in keys:
        metrics[key] = sum(getattr(d, key) for d in summary.datasets)
    for d in summary.datasets:
        metrics.update({f"{d.dataset}.{key}": getattr(d, key) for key in keys})
        for reason, n in d.reasons.items():
            metrics[f"quarantine.{reason}"] = metrics.get(f"quarantine.{reason}", 0) + n
            metrics[f"{d.dataset}.quarantine.{reason}"] = n
    return metrics
