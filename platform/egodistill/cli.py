"""The ``egodistill`` command.

Each subcommand lives in the module that owns its concern: either the module itself exposes ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``, or (``"module:name"``) it holds a
:class:`Subcommand` under that name. This file only wires them together, so adding a subcommand never
touches another one's code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from egodistill.clitools import Subcommand
from egodistill.config import ConfigError
from egodistill.redact import install as install_redaction
from egodistill.redact import redact

SUBCOMMANDS: dict[str, str] = {
    "synth": "egodistill.synthetic.cli",
    "index": "egodistill.datasets.cli",
    "ingest": "egodistill.ingest.cli",
    "teacher": "egodistill.teacher.cli",
    "features": "egodistill.features.cli",
    "student-inputs": "egodistill.student.cli",
    "pretrain-image": "egodistill.pretraining.cli",
    "pretrain": "egodistill.methods.egodistill.cli:pretrain",
    "distill": "egodistill.methods.egodistill.cli:distill",
    "experiment": "egodistill.methods.egodistill.cli:experiment",
    "correspondence": "egodistill.methods.correspondence.cli:correspondence",
    "multimodal": "egodistill.methods.multimodal.cli:multimodal",
    "sweep": "egodistill.tuning.cli",
    "predict": "egodistill.inference.cli:predict",
    "retrieve": "egodistill.inference.cli:retrieve",
    "package": "egodistill.inference.cli:package",
    "reproduce": "egodistill.benchmark.cli",
    "demo": "egodistill.demo",
}


def _load(target: str) -> Subcommand:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module  # a module quacks like a Subcommand


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="egodistill",
        description="egodistill: distil heavy egocentric video models into fast frame + IMU students, on Ray.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, target in SUBCOMMANDS.items():
        command = _load(target)
        p = sub.add_parser(name, help=command.HELP, description=command.HELP)
        command.add_arguments(p)
        p.set_defaults(_run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``egodistill COMMAND ...``; returns the exit code (2 for a bad config)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction()  # no credentials (tracking URIs, output URIs) in any log line
    try:
        return int(args._run(args) or 0)
    except ConfigError as e:
        print(redact(f"egodistill {args.command}: {e}"), file=sys.stderr)
        return 2


def job_main(command: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of ``jobs/<command>.py``: exactly ``egodistill <command> ...``.

    Job files stay one line of logic, and ``python jobs/X.py`` (local Ray) and
    ``ray job submit -- python jobs/X.py`` (RAY_ADDRESS set: join that cluster) share the CLI's parser.
    """
    return main([command, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
