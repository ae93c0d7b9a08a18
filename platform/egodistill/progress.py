"""One progress display for every long stage: counts, rate and ETA, one line per report.

On a terminal it is a tqdm bar when tqdm is installed (it comes with Ray); anywhere else (``ray job
submit`` logs, CI, a pipe) it prints plain lines at most every ``every_s`` seconds and a final
``done`` line, never ANSI redraws, so a job log stays a few lines per stage::

    ingest ego4d: 3/8 videos (38%), 0.41 videos/s, ETA 12 s
    ingest ego4d: done 8 videos in 19 s (0.42 videos/s)

It imports nothing from the package, so any stage (synth, ingest, features, training) can use it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``: short enough for a progress line."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class Progress:
    """Counts units of work; ``update(n)`` after each, ``close()`` at the end (or use ``with``).

    ``every_s``: the least time between two plain lines (the first and last are always printed).
    ``plain``: force plain lines (None: plain unless ``stream`` is a terminal and tqdm imports).
    """

    def __init__(
        self,
        what: str,
        total: int | None,
        unit: str = "items",
        *,
        every_s: float = 10.0,
        stream: TextIO | None = None,
        plain: bool | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.what, self.total, self.unit, self.every_s = what, total, unit, every_s
        self._stream = stream  # None: sys.stderr when printing (keeps the object picklable: Tune callbacks)
        self.clock = clock
        self.done = 0
        self.start = clock()
        self._last = -float("inf")
        self._closed = False
        self._bar = None if (plain if plain is not None else not _isatty(self.stream)) else _tqdm(self)

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def line(self, extra: str = "") -> str:
        """The plain progress line: ``what: done/total unit (pct), rate, ETA`` (+ ``extra``)."""
        elapsed = self.clock() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        parts = [f"{self.what}: {count} {self.unit}"]
        if self.total:
            parts[0] += f" ({100 * self.done / self.total:.0f}%)"
        parts.append(f"{_rate(rate)} {self.unit}/s")
        if self.total and rate > 0:
            parts.append(f"ETA {duration((self.total - self.done) / rate)}")
        elif self.total:
            parts.append(f"elapsed {duration(elapsed)}")
        return ", ".join(parts) + (f"; {extra}" if extra else "")

    def update(self, n: int = 1, extra: str = "") -> None:
        """``n`` more units done; prints a line when ``every_s`` has passed since the last one."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if extra:
                self._bar.set_postfix_str(extra, refresh=False)
            return
        now = self.clock()
        if now - self._last >= self.every_s or (self.total and self.done >= self.total):
            self._last = now
            print(self.line(extra), file=self.stream, flush=True)

    def close(self, extra: str = "") -> None:
        """The final line: how many units in how long, at what rate."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elapsed = self.clock() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = (
            f"{self.what}: done {self.done} {self.unit} in {duration(elapsed)} ({_rate(rate)} {self.unit}/s)"
        )
        print(text + (f"; {extra}" if extra else ""), file=self.stream, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _rate(rate: float) -> str:
    return f"{rate:.2f}" if rate < 10 else f"{rate:.0f}"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _tqdm(p: Progress) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=p.total, desc=p.what, unit=f" {p.unit}", file=p.stream, dynamic_ncols=True, leave=False)


__all__ = ["Progress", "duration"]
