"""MP4 encoding with PyAV, written atomically (temporary name in the same folder, then rename).

H.264 (libx264, the default) runs single-threaded so that the same frames give the same bytes;
VP9 (libvpx-vp9, as real Ego4D canonical videos use) runs in realtime mode with one thread and
row-mt off. The optional audio track is AAC, interleaved with the video by time. MP4 needs a
seekable local file, so the output must be a local path.
"""

from __future__ import annotations

import os
import uuid
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

CODECS = {
    "h264": ("libx264", lambda crf: {"crf": str(crf), "preset": "veryfast", "threads": "1"}),
    "vp9": (
        "libvpx-vp9",
        lambda crf: {
            "crf": str(crf),
            "b": "0",
            "deadline": "realtime",
            "cpu-used": "8",
            "row-mt": "0",
            "threads": "1",
        },
    ),
}
AAC_FRAME = 1024


class VideoWriter:
    """``with VideoWriter(path, ...) as w: w.write(rgb)``; the file appears only on success."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        width: int,
        height: int,
        codec: str = "h264",
        crf: int = 23,
        audio: np.ndarray | None = None,
        sample_rate: int = 16_000,
    ) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}; choose one of {sorted(CODECS)}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}")
        self.fps = Fraction(fps).limit_denominator(1001)
        self.audio = audio
        self.sample_rate = sample_rate
        self._audio_pos = 0
        self._frames = 0
        name, options = CODECS[codec]
        self.container = av.open(str(self.tmp), "w", format="mp4")
        self.stream = self.container.add_stream(name, rate=self.fps, options=options(crf))
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.thread_count = 1
        self.astream = None
        if audio is not None:
            self.astream = self.container.add_stream("aac", rate=sample_rate, layout="mono")

    def __enter__(self) -> VideoWriter:
        return self

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self._frames
        self.container.mux(self.stream.encode(frame))
        self._frames += 1
        self._write_audio_until(self._frames / float(self.fps))

    def _write_audio_until(self, t_sec: float) -> None:
        if self.astream is None or self.audio is None:
            return
        end = min(int(round(t_sec * self.sample_rate)), len(self.audio))
        while self._audio_pos < end:
            chunk = self.audio[self._audio_pos : self._audio_pos + AAC_FRAME]
            frame = av.AudioFrame.from_ndarray(
                chunk.reshape(1, -1).astype(np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = self.sample_rate
            frame.pts = self._audio_pos
            self.container.mux(self.astream.encode(frame))
            self._audio_pos += len(chunk)

    @property
    def frames_written(self) -> int:
        return self._frames

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.container.mux(self.stream.encode())
                if self.astream is not None and self.audio is not None:
                    self._write_audio_until(len(self.audio) / self.sample_rate)
                    self.container.mux(self.astream.encode())
            self.container.close()
            if exc_type is None:
                os.replace(self.tmp, self.path)
        finally:
            if self.tmp.exists():
                self.tmp.unlink()
