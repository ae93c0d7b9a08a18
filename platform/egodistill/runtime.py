"""Ray plumbing every job shares: join or start Ray, quiet Ray Data, ask the cluster for GPUs.

It sits at the bottom of the package so any job (ingest, teacher, features, students, sweeps) can
reach it without importing another job's package.

*Quiet by default.* Ray's own progress bars (one ANSI redraw per operator update: thousands of lines
in a job log) and Ray Train's per-report ``TrainingReport(...)`` lines are off unless
``egodistill -v`` (:func:`set_verbose`); the jobs print their own progress (:mod:`egodistill.progress`).
The flag travels to local Ray workers in the environment (``EGODISTILL_VERBOSE``,
``RAY_DATA_DISABLE_PROGRESS_BARS``) and to Ray Train workers in their loop config.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

VERBOSE_ENV = "EGODISTILL_VERBOSE"
#: Ray loggers whose INFO lines repeat per report/epoch (the TrainingReport dicts, snapshot notices)
CHATTY_RAY_LOGGERS = ("ray.train", "ray.tune", "ray.data")


def verbose() -> bool:
    """Whether ``egodistill -v`` asked for Ray's own progress bars and per-report lines."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


DATA_LOGGING_ENV = "RAY_DATA_LOGGING_CONFIG"


def set_verbose(on: bool) -> None:
    """Set the flag for this process and for the local Ray workers it starts (they inherit the env)."""
    os.environ[VERBOSE_ENV] = "1" if on else "0"
    ours = os.environ.get(DATA_LOGGING_ENV, "") == str(quiet_data_logging_file())
    if on:
        os.environ.pop("RAY_DATA_DISABLE_PROGRESS_BARS", None)
        if ours:
            os.environ.pop(DATA_LOGGING_ENV, None)
    else:
        os.environ["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
        if DATA_LOGGING_ENV not in os.environ:  # a user's own Ray Data logging config wins
            path = quiet_data_logging_file()
            if not path.is_file():  # written once per Ray version: importing ray.data costs ~2 s
                write_quiet_data_logging()
            os.environ[DATA_LOGGING_ENV] = str(path)
            if "ray.data" in sys.modules:  # imported before the variable was set: read it again
                from ray.data._internal.logging import configure_logging

                configure_logging()


def quiet_data_logging_file() -> Path:
    from importlib.metadata import version

    name = f"ray-data-logging-{version('ray')}.yaml"  # Ray's default config may change between versions
    return Path(tempfile.gettempdir()) / f"egodistill-{os.getuid()}" / name


def write_quiet_data_logging() -> Path:
    """Ray Data's own logging config with the console at WARNING: its per-dataset "Starting execution",
    "Execution plan" and "finished" lines come from Ray's worker processes (the split coordinator of
    every epoch), which only this environment variable reaches. The full log stays in the session's
    ``logs/ray-data`` file."""
    import json

    from ray.data._internal.logging import DEFAULT_CONFIG  # the default this only quietens

    config = json.loads(json.dumps(DEFAULT_CONFIG))
    config["handlers"]["console"]["level"] = "WARNING"
    path = quiet_data_logging_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config, indent=1))  # JSON is YAML: Ray reads it with yaml.safe_load
    tmp.replace(path)
    return path


def quiet_ray_logs(on: bool | None = None) -> None:
    """Ray Train/Tune/Data INFO lines and Ray Data progress bars off in this process (unless verbose).

    Called on the driver and at the start of every Ray Train worker loop, where the
    ``TrainingReport(...)`` lines are logged.
    """
    quiet = not verbose() if on is None else on
    level = logging.WARNING if quiet else logging.NOTSET
    for name in CHATTY_RAY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    try:  # Ray Train v2 logs "Reporting training result N: TrainingReport(...)" on a logger named
        # by its file path (getLogger(__file__)), outside "ray.train" and its log-level filter
        from ray.train.v2._internal.execution import context as train_context

        logging.getLogger(train_context.__file__).setLevel(level)
    except ImportError:  # pragma: no cover - another Ray version
        pass
    try:
        from ray.data import DataContext
    except ImportError:  # pragma: no cover - ray is a dependency
        return
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = not quiet
    ctx.enable_operator_progress_bars = not quiet


def ensure_ray(local_num_cpus: int | None = None) -> None:
    """Join the cluster named by RAY_ADDRESS, or start a local Ray (optionally with ``local_num_cpus``)."""
    import ray

    if ray.is_initialized():
        return
    quiet_ray_logs()
    address = os.environ.get("RAY_ADDRESS")
    if address:
        require_reachable(address, "RAY_ADDRESS")
    try:
        if address:
            ray.init()
        else:
            ray.init(num_cpus=local_num_cpus)
    except ConnectionError as e:
        raise RayUnreachableError(
            f"cannot reach the Ray cluster at RAY_ADDRESS={address}: {str(e).splitlines()[0] if str(e) else e}; "
            "check the address, or unset RAY_ADDRESS to start a local Ray"
        ) from e


class RayUnreachableError(ConnectionError):
    """An address names a cluster that does not answer (one line, naming the address)."""


def host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of ``ray://h:p``, ``http://h:p`` or ``h:p``; None for ``auto`` and the like."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def require_reachable(address: str, what: str = "--address", timeout_s: float = 3.0) -> None:
    """A TCP connect to the address, in a second: a dead cluster fails here, not after Ray's retries."""
    import socket

    target = host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout_s):
            pass
    except OSError as e:
        raise RayUnreachableError(
            f"cannot reach the Ray cluster at {what}={address} ({e.strerror or e}): start it, or fix the address"
        ) from None


def configure_data_context(progress_bars: bool | None = None) -> None:
    """Quiet, order-free Ray Data execution on the driver (rows carry their own ids).

    ``progress_bars`` None: Ray Data's bars only with ``egodistill -v``.
    """
    from ray.data import DataContext

    if progress_bars is None:
        progress_bars = verbose()
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = progress_bars
    ctx.enable_operator_progress_bars = progress_bars
    ctx.execution_options.preserve_order = False
    ctx.print_on_execution_start = False


def cluster_has_gpus() -> bool:
    """Whether the connected Ray cluster offers any GPU (Ray must be initialised)."""
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0)) > 0.0


__all__ = ["RayUnreachableError", "cluster_has_gpus", "configure_data_context", "ensure_ray", "host_port", "quiet_ray_logs", "require_reachable",
           "set_verbose", "verbose"]  # fmt: skip
