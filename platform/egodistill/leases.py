"""One writer per output folder: a lease file with owner pid, host and heartbeat.

Two jobs writing the same dataset folder at once produce two versions of the same clips (their part
files are named by the clip ids *they* were given). A writer therefore holds a lease on its output:
``<folder>/_lease.json`` records who writes (job, pid, process start time, host) and a heartbeat
that a daemon thread refreshes. A second writer that finds a live lease stops at once with a
:class:`LeaseHeldError` naming the owner. A lease is *stale*, and taken over, when its owner is a
process of this host that no longer runs (or a new process under a reused pid), or when its
heartbeat is older than ``stale_after_s`` (an owner on another host that died).

Taking, checking and taking over happen under an exclusive ``fcntl.flock`` on ``<folder>/_lease.guard``
(local folders; flock is also honoured over NFSv4), so two starters cannot both decide the lease is
free. For a ``scheme://`` output there is no lock primitive; there the lease is written, read back
and compared (best effort: the window between two starters is the time of one small write).
The name starts with ``_`` so every reader of the folder skips it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import pyarrow.fs as pafs

from egodistill import storage

try:
    import psutil
except ImportError:  # Ray vendors psutil (ray/thirdparty_files), importable once ray is imported
    importlib.import_module("ray")
    import psutil

log = logging.getLogger(__name__)

LEASE_NAME = "_lease.json"
GUARD_NAME = "_lease.guard"
HEARTBEAT_S = 10.0
STALE_AFTER_S = 120.0


class LeaseHeldError(RuntimeError):
    """Another live writer holds the output's lease (the message names it)."""


@dataclass(frozen=True)
class LeaseInfo:
    """What a lease file says about its owner."""

    job: str
    pid: int
    pid_started: float
    host: str
    token: str
    acquired: float
    heartbeat: float

    def describe(self, now: float | None = None) -> str:
        age = (now or time.time()) - self.heartbeat
        return f"{self.job} pid {self.pid} on {self.host} (heartbeat {age:.0f} s ago)"


def _process_started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_stale(info: LeaseInfo, stale_after_s: float, now: float | None = None) -> str | None:
    """Why the lease may be taken over (owner dead, pid reused, heartbeat too old), or None if live."""
    now = now or time.time()
    if info.host == socket.gethostname():
        started = _process_started(info.pid)
        if started is None:
            return f"owner pid {info.pid} is not running"
        if abs(started - info.pid_started) > 1.0:
            return f"pid {info.pid} now belongs to another process"
    if now - info.heartbeat > stale_after_s:
        return f"heartbeat {now - info.heartbeat:.0f} s old (> {stale_after_s:.0f} s)"
    return None


class Lease:
    """The lease of one output folder, held by this process (see the module docstring)."""

    def __init__(
        self,
        folder: str,
        job: str,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self.folder = folder.rstrip("/")
        self.job = job
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.path = f"{self.folder}/{LEASE_NAME}"
        self.token = uuid.uuid4().hex
        self.lost = False
        self._fs, self._fs_folder = storage.resolve(self.folder)
        self._local = isinstance(self._fs, pafs.LocalFileSystem)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._info: LeaseInfo | None = None

    # -- file access --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        if not self._local:
            yield
            return
        import fcntl

        os.makedirs(self._fs_folder, exist_ok=True)
        fd = os.open(os.path.join(self._fs_folder, GUARD_NAME), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock

    def read(self) -> LeaseInfo | None:
        """The current lease file's content (None when absent; an unreadable file counts as absent)."""
        _, path = storage.resolve(self.path)
        try:
            with self._fs.open_input_stream(path) as f:
                data = json.loads(f.read().decode())
            return LeaseInfo(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as e:
            if not storage.exists(self.path):
                return None
            log.warning("lease %s is unreadable (%s); treating it as stale", self.path, e)
            return None

    def _write(self, info: LeaseInfo) -> None:
        storage.atomic_write_bytes(self.path, json.dumps(asdict(info)).encode())

    # -- lifecycle ----------------------------------------------------------------------------

    def acquire(self) -> Lease:
        """Take the lease or raise :class:`LeaseHeldError`; a stale lease is taken over (logged)."""
        now = time.time()
        mine = LeaseInfo(
            job=self.job,
            pid=os.getpid(),
            pid_started=_process_started(os.getpid()) or 0.0,
            host=socket.gethostname(),
            token=self.token,
            acquired=now,
            heartbeat=now,
        )
        with self._guard():
            current = self.read()
            if current is not None:
                why = is_stale(current, self.stale_after_s, now)
                if why is None:
                    raise LeaseHeldError(
                        f"{self.folder} is being written by {current.describe(now)}; "
                        f"one writer per output (lease {self.path}): wait for it or use another output"
                    )
                log.warning("lease %s: taking over from %s: %s", self.path, current.describe(now), why)
            self._write(mine)
        if not self._local:  # no lock there: read back, the last writer of a race wins
            time.sleep(0.05)
            back = self.read()
            if back is None or back.token != self.token:
                raise LeaseHeldError(
                    f"{self.folder}: another writer took the lease {self.path} at the same time"
                    + (f" ({back.describe()})" if back else "")
                )
        self._info = mine
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.job}", daemon=True)
        self._thread.start()
        log.info("lease %s taken by %s", self.path, mine.describe())
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.heartbeat()
            except Exception as e:  # noqa: BLE001 - a missed beat only ages the lease
                log.warning("lease %s: heartbeat failed: %s: %s", self.path, type(e).__name__, e)

    def heartbeat(self) -> None:
        """Refresh the heartbeat; marks the lease lost (and logs) if another writer replaced it."""
        if self._info is None:
            return
        with self._guard():
            current = self.read()
            if current is None or current.token != self.token:
                if not self.lost:
                    self.lost = True
                    log.error(
                        "lease %s was taken over by %s; this writer should stop",
                        self.path,
                        current.describe() if current else "nobody (file removed)",
                    )
                return
            self._info = LeaseInfo(**{**asdict(self._info), "heartbeat": time.time()})
            self._write(self._info)

    def release(self) -> None:
        """Stop the heartbeat and remove the lease file if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._info is None:
            return
        with self._guard():
            current = self.read()
            if current is not None and current.token == self.token:
                _, path = storage.resolve(self.path)
                with contextlib.suppress(FileNotFoundError):
                    self._fs.delete_file(path)
        self._info = None


@contextlib.contextmanager
def hold_lease(folder: str, job: str, **kwargs: float) -> Iterator[Lease]:
    """The lease on ``folder`` for the block (released on exit, also on errors)."""
    lease = Lease(folder, job, **kwargs).acquire()
    try:
        yield lease
    finally:
        lease.release()


__all__ = ["Lease", "LeaseHeldError", "LeaseInfo", "hold_lease", "is_stale"]
