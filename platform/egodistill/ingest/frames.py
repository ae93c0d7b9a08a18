"""Frame geometry and JPEG bytes: what a decoded video frame becomes before it is stored.

Resizing goes through FFmpeg's swscale (``VideoFrame.reformat``) so that colour conversion and
scaling happen in one pass on the decoded YUV frame; the same path is used for RGB arrays (e.g.
frames rendered by the synthetic world) so a test can compare like with like. JPEG uses Pillow,
which torchvision already requires: it is light to import in Ray workers (torch is not) and writes
the same libjpeg-turbo bytes as ``torchvision.io.encode_jpeg``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class FrameTransform:
    """Resize so the shorter side is ``short_side`` (aspect kept), then centre-crop ``crop_size`` squared.

    ``short_side=None`` keeps the source size; ``crop_size=None`` keeps the whole resized frame.
    """

    short_side: int | None = 224
    crop_size: int | None = 224
    interpolation: str = "AREA"

    def __post_init__(self) -> None:
        if self.short_side is not None and self.short_side < 1:
            raise ValueError(f"short_side must be >= 1, got {self.short_side}")
        if self.crop_size is not None and self.crop_size < 1:
            raise ValueError(f"crop_size must be >= 1, got {self.crop_size}")
        if self.short_side is not None and self.crop_size is not None and self.crop_size > self.short_side:
            raise ValueError(f"crop_size {self.crop_size} is larger than short_side {self.short_side}")

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) after the resize step."""
        if self.short_side is None:
            return width, height
        scale = self.short_side / min(width, height)
        if width <= height:
            return self.short_side, max(1, round(height * scale))
        return max(1, round(width * scale)), self.short_side

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the stored frame for a source of this size."""
        w, h = self.resized_size(width, height)
        if self.crop_size is None:
            return w, h
        if self.crop_size > min(w, h):
            raise ValueError(f"crop {self.crop_size} does not fit a {w}x{h} frame")
        return self.crop_size, self.crop_size

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        """Decoded frame -> (H, W, 3) uint8 RGB, resized and cropped."""
        w, h = self.resized_size(frame.width, frame.height)
        rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation=self.interpolation, threads=1)
        return self._crop(rgb.to_ndarray())

    def apply_array(self, image: np.ndarray) -> np.ndarray:
        """The same transform for an (H, W, 3) uint8 RGB array (e.g. a rendered reference frame)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        return self(frame)

    def _crop(self, image: np.ndarray) -> np.ndarray:
        if self.crop_size is None:
            return image
        h, w = image.shape[:2]
        c = self.crop_size
        if c > min(h, w):
            raise ValueError(f"crop {c} does not fit a {w}x{h} frame")
        y0, x0 = (h - c) // 2, (w - c) // 2
        return np.ascontiguousarray(image[y0 : y0 + c, x0 : x0 + c])


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """(H, W, 3) uint8 RGB -> baseline JPEG bytes (4:2:0, libjpeg-turbo)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes -> (H, W, 3) uint8 RGB."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))
