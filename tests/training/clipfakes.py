"""Test inputs for the training tests: a video whose frames carry their index in 8 horizontal bands."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def band_image(index: int, width: int = 64, height: int = 64) -> np.ndarray:
    """Frame ``index`` drawn as 8 horizontal bands (bit b set = band b white): survives H.264 and resizing."""
    img = np.full((height, width, 3), 16, np.uint8)
    band = height // 8
    for b in range(8):
        if (index >> b) & 1:
            img[b * band : (b + 1) * band] = 240
    return img


def band_index(image: np.ndarray) -> int:
    """Inverse of :func:`band_image` for an (H, W, 3) image of any size."""
    h = image.shape[0]
    out = 0
    for b in range(8):
        lo, hi = int((b + 0.3) * h / 8), int((b + 0.7) * h / 8)
        if image[lo : max(hi, lo + 1)].mean() > 128:
            out |= 1 << b
    return out


def write_band_video(path: Path, seconds: float = 6.0, fps: int = 30, size: int = 64) -> Path:
    """An H.264 MKV whose frame i shows band_image(i % 256)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"g": "15", "crf": "10"})
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for i in range(int(round(seconds * fps))):
            frame = av.VideoFrame.from_ndarray(band_image(i % 256, size, size), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
