"""``egodistill index``: turn a dataset root into a clip manifest and its quarantine table."""

from __future__ import annotations

import argparse
import sys

from egodistill.config import add_config_arguments

HELP = "index a dataset root (Ego4D or EPIC-Kitchens-100) into a clip manifest (Parquet) + quarantine"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=("ego4d", "epic"))
    parser.add_argument(
        "--root", required=True, help="dataset root (Ego4D: holds v2/; EPIC: holds PXX/ folders)"
    )
    parser.add_argument(
        "--out", required=True, help="manifest path; the quarantine goes to <out>.quarantine.parquet"
    )
    parser.add_argument("--annotations", help="EPIC: folder of the annotation CSVs (default: --root)")
    parser.add_argument(
        "--workspace",
        help="workspace of the MLflow store (<workspace>/mlflow.db; default: the folder above --out's manifests/)",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    add_config_arguments(parser, "IndexConfig", "split.rule=by_video")


def run(args: argparse.Namespace) -> int:
    import time

    from egodistill import tracking
    from egodistill.config import ConfigError, load_config
    from egodistill.datasets.common import AnnotationError
    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest, quarantine_path, summarize, write_manifest
    from egodistill.storage import atomic_write_table

    cfg = load_config(
        IndexConfig,
        args.config,
        args.overrides,
        dataset=args.dataset,
        root=args.root,
        out=args.out,
        workspace=args.workspace,
        dotted={"tracking.enabled": False if args.no_mlflow else None},
    )
    if args.annotations:
        if cfg.dataset != "epic":
            raise ConfigError("--annotations applies to --dataset epic only")
        cfg.epic.annotations_dir = args.annotations
    t0 = time.perf_counter()
    with tracking.stage_run(
        cfg.tracking, workspace=cfg.tracking_workspace(), job="index", params=cfg, run_name=cfg.dataset
    ) as run:
        try:
            result = build_manifest(cfg)
        except AnnotationError as e:
            print(f"egodistill index: error: {e}", file=sys.stderr)
            run.fail(str(e))
            return 1
        out = str(cfg.out)
        write_manifest(result.manifest, out, cfg)
        atomic_write_table(result.quarantine.to_table(), quarantine_path(out))
        text = summarize(result)
        print(text)
        print(f"manifest: {out}\nquarantine: {quarantine_path(out)}")
        if result.manifest.num_rows == 0:
            print("warning: no clip was kept; see the quarantine reasons above", file=sys.stderr)
        reasons = dict(sorted(result.quarantine.counts().items()))
        run.log(index_metrics(result, time.perf_counter() - t0), text, {"quarantine_reasons.json": reasons})
    return 0


def index_metrics(result, elapsed_sec: float) -> dict[str, float]:  # result: IndexResult (import kept lazy)
    """The summary's counts as MLflow metrics: rows, clips, classes, videos, quarantine per reason."""
    m = result.manifest
    counts = result.quarantine.counts()
    metrics = {
        "rows_in": result.rows_in,
        "rows_written": m.num_rows,
        "rows_quarantined": len(result.quarantine),
        "classes": len(set(m.column("label").to_pylist())),
        "videos": len(set(m.column("video_id").to_pylist())),
        "elapsed_sec": elapsed_sec,
        **{f"quarantine.{reason}": n for reason, n in counts.items()},
        **{f"imu_rows_dropped.{reason}": n for reason, n in result.imu_rows_dropped.items()},
    }
    splits = m.column("split").to_pylist()
    for split in sorted(set(splits)):
        metrics[f"clips.{split}"] = splits.count(split)
    return metrics
