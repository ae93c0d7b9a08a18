"""The window plan: where the model looks in a long video.

The student was trained on one model window (the IMU window: 422 samples at 198 Hz, about 2.13 s)
with N frames sampled uniformly inside it (``start + (k + 0.5) * window / N``, the ingest rule).
Inference tiles each video with such windows at a stride (default: the window, no overlap); a tail
shorter than the stride gets one extra window ending at the video's end, so every second of the
video is covered once the plan is run; a video shorter than one window cannot be planned at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EDGE_EPS_SEC = 1e-6


class ShortVideoError(ValueError):
    """The video is shorter than one model window (its windows would run past the end)."""


@dataclass(frozen=True)
class Window:
    """One model window of a video."""

    index: int
    start_sec: float
    end_sec: float
    frame_times: tuple[float, ...]
    anchored_to_end: bool = False
    """True for the extra window that ends at the video's end (it overlaps the one before)."""

    @property
    def center_sec(self) -> float:
        return 0.5 * (self.start_sec + self.end_sec)


def frame_times(start_sec: float, window_sec: float, num_frames: int) -> tuple[float, ...]:
    """N frame times uniformly inside a window (the ingest sampling rule, ``uniform`` strategy)."""
    return tuple(start_sec + (k + 0.5) * window_sec / num_frames for k in range(num_frames))


def plan_windows(
    duration_sec: float,
    window_sec: float,
    stride_sec: float | None = None,
    num_frames: int = 1,
    cover_tail: bool = True,
    source: str = "video",
) -> list[Window]:
    """Windows tiling ``[0, duration_sec]`` every ``stride_sec`` (default ``window_sec``).

    Every window lies inside the video. With ``cover_tail`` a remainder after the last full stride
    gets one more window anchored at the end. Raises :class:`ShortVideoError` (naming ``source``)
    when the video is shorter than one window, ValueError for non-positive sizes.
    """
    if not (window_sec > 0 and math.isfinite(window_sec)):
        raise ValueError(f"window must be a positive number of seconds, got {window_sec}")
    stride = window_sec if stride_sec is None else float(stride_sec)
    if not (stride > 0 and math.isfinite(stride)):
        raise ValueError(f"stride must be a positive number of seconds, got {stride_sec}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if not math.isfinite(duration_sec) or duration_sec + EDGE_EPS_SEC < window_sec:
        raise ShortVideoError(
            f"{source}: {duration_sec:.3f} s is shorter than one model window ({window_sec:.3f} s)"
        )
    last_start = duration_sec - window_sec
    count = int(math.floor(last_start / stride + EDGE_EPS_SEC)) + 1
    out = [
        Window(i, i * stride, i * stride + window_sec, frame_times(i * stride, window_sec, num_frames))
        for i in range(count)
    ]
    if cover_tail and last_start - out[-1].start_sec > EDGE_EPS_SEC:
        out.append(
            Window(count, last_start, duration_sec, frame_times(last_start, window_sec, num_frames), True)
        )
    return out
