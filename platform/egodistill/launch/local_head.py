"""Start a private Ray head on this machine for ``ray job submit``, and stop exactly that head.

``ray stop`` kills every Ray process on the machine, including a user's own cluster or a test
session. The head started here runs in its own session (``setsid``) with its own ``--temp-dir`` and
free ports, so :meth:`LocalHead.stop` can signal the processes of that session only.

Authentication (Ray >= 2.5x): once ``~/.ray/auth_token`` exists, a head started without
``RAY_AUTH_MODE`` turns token auth on and a client without it fails with ``AuthenticationError``
(shared/docs/install-notes.md). The head and every client here run with ``RAY_AUTH_MODE=token`` and
the token is created once with ``ray get-auth-token --generate`` when there is none, readable by
its owner only (mode 0600).

Local means local: every service of the head (node IP, GCS, raylet, dashboard and its agent,
metrics export, Ray client server, workers) is bound to 127.0.0.1 (``--node-ip-address``), so
nothing of it answers on another interface.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

AUTH_ENV = {"RAY_AUTH_MODE": "token"}
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
"""Ray's single-machine mode: ``--node-ip-address 127.0.0.1`` stays loopback (on Linux Ray would
otherwise replace a localhost node IP with the machine's routable address), and the services bind it."""
LOOPBACK = "127.0.0.1"
TOKEN_MODE = 0o600


class LocalHeadError(RuntimeError):
    """The local head could not be started (the message names its log file)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> str:
    exe = Path(sys.executable).with_name("ray")
    return str(exe) if exe.exists() else (shutil.which("ray") or "ray")


def client_env() -> dict[str, str]:
    """The environment of the head and of its clients (``ray job submit``).

    This interpreter's ``bin/`` leads ``PATH``, so ``python`` in a job's entrypoint is the environment
    that has the project installed, as it is on a cluster node's image.
    """
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, **AUTH_ENV, "RAY_USAGE_STATS_ENABLED": "0", "PATH": path}


def token_path() -> Path | None:
    """The token file Ray reads (``$RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``); None if in the env."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return None
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def ensure_auth_token() -> None:
    """Create the token file with Ray's own command when there is none, and keep it mode 0600.

    The file is created under umask 077, so it is never readable by others, even for a moment; an
    existing file of ours that is group/world-readable is tightened to 0600.
    """
    path = token_path()
    if path is None:
        return
    if not path.is_file():
        if os.environ.get("RAY_AUTH_TOKEN_PATH"):
            return  # a configured path that does not exist is Ray's error to report, not ours to create
        subprocess.run([_ray_cli(), "get-auth-token", "--generate"], env=client_env(), check=True,
                       stdout=subprocess.DEVNULL, umask=0o077)  # fmt: skip
    if path.is_file() and path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        path.chmod(TOKEN_MODE)


@dataclass
class LocalHead:
    """A running private head: where to submit jobs and how to stop it."""

    dashboard_url: str
    gcs_address: str
    temp_dir: Path
    session_id: int
    log_file: Path
    owns_temp_dir: bool = True
    process: subprocess.Popen | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    def processes(self) -> list[int]:
        """PIDs in the head's session: GCS, raylet, dashboard, agents and the workers they forked."""
        return [pid for pid in _pids() if _session_of(pid) == self.session_id]

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM this head's processes, SIGKILL what is left after ``grace_s``; other Ray untouched."""
        if self._stopped:
            return
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            pids = self.processes()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.processes():
                if self.process is not None:
                    self.process.poll()  # reap `ray start` itself, else it lingers as a zombie
                time.sleep(0.2)
        if self.process is not None:
            self.process.poll()
        self._stopped = True
        if self.owns_temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _session_of(pid: int) -> int | None:
    """The session id of a live process (None for zombies and processes already gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # fields after the ")" that closes the command name: state ppid pgrp session ...
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[3])


def start_local_head(
    num_cpus: int | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
    timeout_s: float = 180.0,
    env: dict[str, str] | None = None,
) -> LocalHead:
    """``ray start --head`` bound to 127.0.0.1 on free ports; returns once jobs can be submitted.

    ``env`` is added to the head's environment, which its jobs' drivers and workers inherit.
    """
    if not Path("/proc").is_dir():
        raise LocalHeadError(
            "starting a private local head needs Linux (/proc); start one with `ray start --head`"
        )
    ensure_auth_token()
    owns = temp_dir is None
    root = Path(temp_dir) if temp_dir else Path(tempfile.mkdtemp(prefix="egodistill-ray-"))
    root.mkdir(parents=True, exist_ok=True)
    gcs_port, dash_port = _free_port(), _free_port()
    cmd = [
        _ray_cli(), "start", "--head", "--block", "--disable-usage-stats",
        "--temp-dir", str(root),
        "--port", str(gcs_port),
        "--node-ip-address", LOOPBACK,
        "--dashboard-host", LOOPBACK,
        "--dashboard-port", str(dash_port),
        "--dashboard-agent-listen-port", str(_free_port()),
        "--ray-client-server-port", str(_free_port()),
        "--metrics-export-port", str(_free_port()),
    ]  # fmt: skip
    if num_cpus:
        cmd += ["--num-cpus", str(num_cpus)]
    log_file = root / "head.log"
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**client_env(), **LOCAL_ENV, **(env or {})},
            start_new_session=True,
        )
    head = LocalHead(
        f"http://127.0.0.1:{dash_port}", f"127.0.0.1:{gcs_port}", root, proc.pid, log_file, owns, proc
    )
    try:
        _wait_until_accepting_jobs(head, proc, timeout_s)
    except BaseException:
        head.stop()
        raise
    return head


def _wait_until_accepting_jobs(head: LocalHead, proc: subprocess.Popen, timeout_s: float) -> None:
    """Submit a no-op job until one succeeds: the job agent comes up after the dashboard.

    The ``ray`` CLI is used, with the head's environment, so the check is the client users run.
    """
    deadline = time.monotonic() + timeout_s
    last = ""
    probe = [_ray_cli(), "job", "submit", "--address", head.dashboard_url, "--", "true"]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalHeadError(f"`ray start --head` exited with {proc.returncode}; see {head.log_file}")
        try:
            done = subprocess.run(probe, env=client_env(), capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            last = "probe job timed out"
            continue
        if done.returncode == 0:
            return
        lines = (done.stderr or done.stdout).strip().splitlines()
        last = lines[-1] if lines else f"exit {done.returncode}"
        time.sleep(1.0)
    raise LocalHeadError(
        f"local Ray head not accepting jobs after {timeout_s:.0f} s ({last}); see {head.log_file}"
    )


@contextlib.contextmanager
def local_head(num_cpus: int | None = None, env: dict[str, str] | None = None) -> Iterator[LocalHead]:
    """A private head for the block; stopped (it and nothing else) on exit, also on errors and Ctrl-C."""
    head = start_local_head(num_cpus, env=env)
    try:
        yield head
    finally:
        head.stop()
