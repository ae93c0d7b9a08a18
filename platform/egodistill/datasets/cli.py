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
    add_config_arguments(parser, "IndexConfig", "split.rule=by_video")


def run(args: argparse.Namespace) -> int:
    from egodistill.config import ConfigError, load_config
    from egodistill.datasets.common import AnnotationError
    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest, quarantine_path, summarize, write_manifest
    from egodistill.storage import atomic_write_table

    cfg = load_config(
        IndexConfig, args.config, args.overrides, dataset=args.dataset, root=args.root, out=args.out
    )
    if args.annotations:
        if cfg.dataset != "epic":
            raise ConfigError("--annotations applies to --dataset epic only")
        cfg.epic.annotations_dir = args.annotations
    try:
        result = build_manifest(cfg)
    except AnnotationError as e:
        print(f"egodistill index: error: {e}", file=sys.stderr)
        return 1
    out = str(cfg.out)
    write_manifest(result.manifest, out, cfg)
    atomic_write_table(result.quarantine.to_table(), quarantine_path(out))
    print(summarize(result))
    print(f"manifest: {out}\nquarantine: {quarantine_path(out)}")
    if result.manifest.num_rows == 0:
        print("warning: no clip was kept; see the quarantine reasons above", file=sys.stderr)
    return 0
