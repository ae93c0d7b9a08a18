"""The ``egodistill`` command.

Each subcommand lives in the module that owns its concern: either the module itself exposes ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``, or (``"module:name"``) it holds a
:class:`Subcommand` under that name. This file only wires them together, so adding a subcommand never
touches another one's code.

Errors: a bad config or a missing input (:class:`~egodistill.config.ConfigError`, checked before Ray
starts) is one line naming the key or file and the command that fixes it (exit 2); anything
unexpected is one line plus the path of a log file holding the full traceback
(``<workspace or cwd>/logs/egodistill-<time>.log``), and ``-v`` prints the traceback too (exit 1).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from egodistill import runtime
from egodistill.clitools import Subcommand
from egodistill.config import ConfigError
from egodistill.configshow import help_note
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
    "config": "egodistill.configshow",
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
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging, Ray's own progress bars and per-report lines, tracebacks on errors",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, target in SUBCOMMANDS.items():
        command = _load(target)
        p = sub.add_parser(name, help=command.HELP, description=command.HELP, epilog=help_note(name) or None)
        command.add_arguments(p)
        p.set_defaults(_run=command.run)
    return parser


def traceback_log(args: argparse.Namespace) -> Path:
    """Where an unexpected error's traceback goes: ``<workspace or cwd>/logs/egodistill-<time>-<pid>.log``."""
    workspace = getattr(args, "workspace", None)
    root = (
        Path(workspace).expanduser() if isinstance(workspace, str) and "://" not in workspace else Path.cwd()
    )
    name = f"egodistill-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in (root / "logs", Path.cwd() / "logs", Path(os.environ.get("TMPDIR", "/tmp"))):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return folder / name
        except OSError:
            continue
    return Path(name)


def report_unexpected(args: argparse.Namespace, error: BaseException, verbose: bool) -> Path:
    """One line on stderr naming the error and the file with its full traceback (also printed if verbose)."""
    text = "".join(traceback.format_exception(error))
    path = traceback_log(args)
    try:
        path.write_text(redact(f"egodistill {' '.join(sys.argv[1:])}\n{text}"))
    except OSError:
        path = Path("(could not write the traceback file)")
    first = (str(error).strip().splitlines() or [""])[0]
    hint = "" if verbose else "; `egodistill -v ...` prints it"
    if verbose:
        print(redact(text), file=sys.stderr, end="")
    print(redact(f"egodistill {args.command}: error: {type(error).__name__}: {first} (traceback: {path}{hint})"),
          file=sys.stderr)  # fmt: skip
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``egodistill COMMAND ...``; returns the exit code (2: bad config or input, 1: the job failed)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = bool(args.verbose) or runtime.verbose()  # a nested call (demo --runner local) keeps -v
    runtime.set_verbose(verbose)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction()  # no credentials (tracking URIs, output URIs) in any log line
    try:
        return int(args._run(args) or 0)
    except (ConfigError, runtime.RayUnreachableError) as e:
        print(redact(f"egodistill {args.command}: {e}"), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `egodistill config show X | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"egodistill {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # the top-level handler: one line + the traceback's file
        report_unexpected(args, e, verbose)
        return 1


def job_main(command: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of ``jobs/<command>.py``: exactly ``egodistill <command> ...``.

    Job files stay one line of logic, and ``python jobs/X.py`` (local Ray) and
    ``ray job submit -- python jobs/X.py`` (RAY_ADDRESS set: join that cluster) share the CLI's parser.
    """
    return main([command, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
