"""Ray job: run a trained teacher over every clip row and write the teacher-features sidecar table.

    python jobs/features.py --clips workspace/clips --teacher-dir workspace/checkpoints/teachers/ego4d/tiny3d \
        --workspace workspace
    ray job submit --working-dir . -- python jobs/features.py --clips ... --teacher-dir ... --workspace ...

Runs on a local Ray by default; with RAY_ADDRESS set (as under `ray job submit`) it joins that cluster.
All logic lives in egodistill.features; this file only parses the config and calls it.
"""

from __future__ import annotations

import argparse
import logging
import sys

from egodistill.config import ConfigError
from egodistill.features import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/features.py", description=cli.HELP)
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return cli.run(args)
    except ConfigError as e:
        print(f"features: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
