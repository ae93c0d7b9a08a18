"""Test videos whose frames carry their index, shared by the ingest and training tests.

A frame's index is written as 8 horizontal bands (bit b = band b, white = 1) so it survives
compression, resizing and a centre crop of the width; :func:`frame_index` reads it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def pattern(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    img = np.full((height, width, 3), 16, np.uint8)
    band = height // 8
    for b in range(8):
        if (index >> b) & 1:
            img[b * band : (b + 1) * band] = 240
    return img


def frame_index(image: np.ndarray) -> int:
    """Inverse of :func:`pattern` for an (H, W, 3) image of any size."""
    h = image.shape[0]
    out = 0
    for b in range(8):
        lo, hi = int((b + 0.3) * h / 8), int((b + 0.7) * h / 8)
        if image[lo : max(hi, lo + 1)].mean() > 128:
            out |= 1 << b
    return out


def write_video(
    path: Path,
    codec: str = "libx264",
    seconds: float = 4.0,
    fps: int = 30,
    size: tuple[int, int] = (64, 48),
    gop: int | None = 15,
    vfr_steps_ms: Sequence[int] | None = None,
) -> list[float]:
    """Write a pattern video; returns the timestamps (s) of its frames. ``vfr_steps_ms`` cycles frame spacings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    opts: dict[str, str] = {}
    if gop is not None:
        opts = (
            {"x265-params": f"keyint={gop}:min-keyint={gop}:log-level=error"}
            if codec == "libx265"
            else {"g": str(gop)}
        )
    elif codec == "libx265":
        opts = {"x265-params": "log-level=error"}
    times: list[float] = []
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps, options=opts)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if vfr_steps_ms:
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        n = int(round(seconds * fps))
        t_ms = 0
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(pattern(i % 256, *size), format="rgb24")
            if vfr_steps_ms:
                frame.pts, frame.time_base = t_ms, Fraction(1, 1000)
                times.append(t_ms / 1000.0)
                t_ms += vfr_steps_ms[i % len(vfr_steps_ms)]
                if t_ms / 1000.0 >= seconds:
                    for p in stream.encode(frame):
                        out.mux(p)
                    break
            else:
                times.append(i / fps)
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    return times
