"""Band-pattern videos for the training tests: the ingest tests' fakes, reused.

Frame i shows i % 256 as 8 horizontal bands, which survives H.264 and resizing, so a test can read
back which frame a decoded clip holds.
"""

from __future__ import annotations

from pathlib import Path

from videofakes import frame_index as band_index  # noqa: F401  (re-exported for the training tests)
from videofakes import pattern as band_image  # noqa: F401
from videofakes import write_video


def write_band_video(path: Path, seconds: float = 6.0, fps: int = 30, size: int = 64) -> Path:
    """An H.264 video whose frame i shows band_image(i % 256), a keyframe every 15 frames."""
    write_video(path, seconds=seconds, fps=fps, size=(size, size), gop=15)
    return path
