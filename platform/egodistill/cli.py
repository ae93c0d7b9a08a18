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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from egodistill.config import ConfigError

SUBCOMMANDS: dict[str, str] = {
    "synth": "egodistill.synthetic.cli",
    "index": "egodistill.datasets.cli",
    "ingest": "egodistill.ingest.cli",
    "teacher": "egodistill.training.teacher_cli",
    "features": "egodistill.features.cli",
    "pretrain": "egodistill.training.student_cli:pretrain",
    "distill": "egodistill.training.student_cli:distill",
    "experiment": "egodistill.training.student_cli:experiment",
    "sweep": "egodistill.tuning.cli",
    "predict": "egodistill.inference.cli:predict",
    "retrieve": "egodistill.inference.cli:retrieve",
    "package": "egodistill.inference.cli:package",
    "demo": "egodistill.demo",
}


@dataclass(frozen=True)
class Subcommand:
    """A subcommand defined inside a module that holds several."""

    HELP: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


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
    try:
        return int(args._run(args) or 0)
    except ConfigError as e:
        print(f"egodistill {args.command}: {e}", file=sys.stderr)
        return 2


def run_data_stage(
    job: str,
    tracking_cfg: Any,
    workspace: str | None,
    params: Any,
    work: Callable[[], Any],
    errors: tuple[type[Exception], ...],
    metrics: Callable[[Any], Mapping[str, Any]],
    tables: Callable[[Any], Mapping[str, Any]],
) -> int:
    """Run a data stage (ingest, features) under its MLflow run: print its summary, log it, exit 0/1.

    ``work()`` returns a summary with ``lines()`` and ``ok``; ``errors`` are the bad-input errors
    that end the stage with a one-line message and exit status 1 (the run ends FAILED).
    """
    from egodistill import tracking

    with tracking.stage_run(tracking_cfg, workspace=workspace, job=job, params=params) as run:
        try:
            summary = work()
        except errors as e:
            print(f"egodistill {job}: error: {e}", file=sys.stderr)
            run.fail(str(e))
            return 1
        text = "\n".join(summary.lines())
        print(text)
        run.log(metrics(summary), text, tables(summary))
        if not summary.ok:
            run.fail(text)
    return 0 if summary.ok else 1


def job_main(command: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of ``jobs/<command>.py``: exactly ``egodistill <command> ...``.

    Job files stay one line of logic, and ``python jobs/X.py`` (local Ray) and
    ``ray job submit -- python jobs/X.py`` (RAY_ADDRESS set: join that cluster) share the CLI's parser.
    """
    return main([command, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
