"""Ray job: clip manifest -> Parquet clips dataset (sparse JPEG frames + IMU windows).

    python jobs/ingest.py --manifest workspace/manifests/epic.parquet --out workspace/clips [--config ingest.yaml]
    ray job submit --working-dir . -- python jobs/ingest.py --manifest ... --out ...

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.ingest; this file only parses the config and calls it.
"""

from __future__ import annotations

import argparse
import logging
import sys

from egodistill.config import ConfigError
from egodistill.ingest import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/ingest.py", description=cli.HELP)
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return cli.run(args)
    except ConfigError as e:
        print(f"ingest: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
