"""What every subcommand module needs from the command line, kept below the packages that use it.

:class:`Subcommand` (one of several subcommands defined in a module) and :func:`run_data_stage` (a
data stage under its MLflow run) live here rather than in :mod:`egodistill.cli`, which imports every
subcommand module: that keeps the package imports one-way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Subcommand:
    """A subcommand defined inside a module that holds several."""

    HELP: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


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
    from egodistill.redact import redact

    with tracking.stage_run(tracking_cfg, workspace=workspace, job=job, params=params) as run:
        try:
            summary = work()
        except errors as e:
            print(redact(f"egodistill {job}: error: {e}"), file=sys.stderr)
            run.fail(redact(str(e)))
            return 1
        text = redact("\n".join(summary.lines()))
        print(text)
        run.log(metrics(summary), text, tables(summary))
        if not summary.ok:
            run.fail(text)
    return 0 if summary.ok else 1


__all__ = ["Subcommand", "run_data_stage"]
