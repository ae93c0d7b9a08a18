"""``egodistill ingest``: decode a clip manifest's videos into the Parquet clips dataset (Ray Data).

Stable interface: ``egodistill ingest --manifest PATH --out DIR``. Everything else has defaults
(seed 000: 4 frames + first/last, 224x224) and can come from ``--config FILE`` and ``--set KEY=VALUE``
(e.g. ``--set frames.span=segment``); the flags below are shortcuts for the common ones.
"""

from __future__ import annotations

import argparse
import functools

from egodistill.config import add_config_arguments

HELP = "decode the manifest's videos into Parquet clip rows (sparse JPEG frames + IMU window) with Ray Data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", help="clip manifest (Parquet, from `egodistill index`)")
    parser.add_argument("--out", help="output root, local path or URI (<out>/<dataset>/split=<split>/...)")
    add_config_arguments(parser, "IngestConfig", "frames.count=2")
    parser.add_argument(
        "--frames", type=int, help="N uniformly sampled frames per clip (frames.count, default 4)"
    )
    parser.add_argument(
        "--size", type=int, help="resize the short side to SIZE and centre-crop SIZExSIZE (default 224)"
    )
    parser.add_argument(
        "--jpeg-quality", type=int, help="JPEG quality 1-100 (frames.jpeg_quality, default 90)"
    )
    parser.add_argument(
        "--span", choices=("window", "segment"), help="sample in the model window or the labelled segment"
    )
    parser.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (ignored with RAY_ADDRESS)")
    parser.add_argument("--cpus-per-task", type=float, help="CPUs reserved per video task (default 1)")
    parser.add_argument("--concurrency", type=int, help="most video tasks at once (default: CPU bound)")
    parser.add_argument(
        "--no-progress", action="store_true", help="no Ray Data progress bars (log lines only)"
    )
    parser.add_argument(
        "--workspace", help="workspace of the MLflow store (<workspace>/mlflow.db; default: --out's parent)"
    )
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")


def _flag_overrides(args: argparse.Namespace) -> list[str]:
    pairs = [
        ("frames.count", args.frames),
        ("frames.short_side", args.size),
        ("frames.crop_size", args.size),
        ("frames.jpeg_quality", args.jpeg_quality),
        ("frames.span", args.span),
        ("resources.local_num_cpus", args.num_cpus),
        ("resources.num_cpus_per_task", args.cpus_per_task),
        ("resources.concurrency", args.concurrency),
        ("resources.progress_bars", False if args.no_progress else None),
        ("tracking.enabled", False if args.no_mlflow else None),
    ]
    return [f"{k}={v}" for k, v in pairs if v is not None]


def load_ingest_config(args: argparse.Namespace):  # -> IngestConfig (import kept lazy)
    """The typed config from --config, the shortcut flags and --set (later wins)."""
    from egodistill.config import load_config
    from egodistill.ingest.config import IngestConfig

    cfg = load_config(
        IngestConfig,
        args.config,
        _flag_overrides(args) + list(args.overrides),
        manifest=args.manifest,
        out=args.out,
        workspace=args.workspace,
    )
    cfg.require_paths()
    return cfg


def run(args: argparse.Namespace) -> int:
    from egodistill.clitools import run_data_stage
    from egodistill.ingest.pipeline import run_ingest
    from egodistill.ingest.preflight import check_ingest
    from egodistill.ingest.store import IngestOutputError
    from egodistill.leases import LeaseHeldError
    from egodistill.runtime import ensure_ray
    from egodistill.tables import SchemaError

    cfg = load_ingest_config(args)
    check_ingest(cfg)  # a missing manifest or an --out of other settings fails here, before Ray
    ensure_ray(cfg.resources.local_num_cpus)

    def tables(summary) -> dict:
        return {"quarantine_reasons.json": summary.quarantine_reasons}

    errors = (FileNotFoundError, IngestOutputError, LeaseHeldError, SchemaError)
    work = functools.partial(run_ingest, cfg)
    return run_data_stage(
        "ingest", cfg.tracking, cfg.tracking_workspace(), cfg, work, errors, ingest_metrics, tables
    )


def ingest_metrics(summary) -> dict[str, float]:  # summary: IngestSummary (import kept lazy)
    """The summary's counts (rows, videos, clips, frames, files, seconds) and quarantine per reason."""
    from dataclasses import asdict

    counts = {
        k: v for k, v in asdict(summary).items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return {
        **counts,
        "ok": summary.ok,
        **{f"quarantine.{k}": n for k, n in summary.quarantine_reasons.items()},
    }
