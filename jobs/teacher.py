"""Ray job: train or fine-tune a teacher video model on dense clips (Ray Train), export and measure it.

    python jobs/teacher.py --manifest workspace/manifests/ego4d.parquet --workspace workspace --preset demo
    python jobs/teacher.py --clips workspace/clips --workspace workspace --preset demo --compare-single-frame
    ray job submit --working-dir . -- python jobs/teacher.py --manifest ... --workspace /shared/workspace

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.training; this file only parses the config and calls it.
"""

from __future__ import annotations

import argparse
import logging
import sys

from egodistill.config import ConfigError
from egodistill.training import teacher_cli as cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/teacher.py", description=cli.HELP)
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return cli.run(args)
    except ConfigError as e:
        print(f"teacher: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
