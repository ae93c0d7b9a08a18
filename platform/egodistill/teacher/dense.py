"""Dense teacher clips: which frames a clip holds, and decoding many clips of one video in one pass.

A dense clip is ``num_frames`` frames spaced ``sample_rate`` source frames apart at the video's
native frame rate, centred on a time ``c``: frame ``k`` is requested at
``c + (k - (T - 1) / 2) * sample_rate / fps`` (seed 000: 16 x 4 at 30 fps spans 64 frames = 2.13 s,
the length of the IMU window; ``tiny3d``'s 8 x 8 spans the same). Decoding reuses the ingest
decoder (:func:`egodistill.ingest.decode.decode_at`): all frames of all requested clips of a video
are served in one forward walk, and the frame geometry is ingest's (:class:`FrameTransform`: shorter
side resized to ``size``, centre crop ``size`` x ``size``). Nothing is written to disk.

Edges: the centre is first moved so the clip lies inside the stream when the stream is long enough;
a frame that still cannot be decoded (stream shorter than the container says, a variable-frame-rate
gap) is replaced by the nearest decoded frame of the same clip, up to ``max_pad_fraction`` of the
clip; beyond that, or when the video cannot be opened, the clip fails with the decoder's reason code
(``video_missing``, ``video_unreadable``, ``decode_error``, ``video_truncated``,
``clip_beyond_stream_end``, ``frame_missing``, ...), which the callers quarantine or count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from egodistill.ingest.decode import VideoDecodeError, decode_at, probe
from egodistill.ingest.frames import FrameTransform


@dataclass(frozen=True)
class ClipSpec:
    """Frames per clip, their spacing in source frames, and the decoded (square) frame size."""

    num_frames: int
    sample_rate: int
    size: int

    def __post_init__(self) -> None:
        if self.num_frames < 1 or self.sample_rate < 1 or self.size < 1:
            raise ValueError(f"invalid clip spec {self}: every field must be >= 1")

    def offsets_sec(self, fps: float) -> np.ndarray:
        """Frame times relative to the clip centre."""
        k = np.arange(self.num_frames, dtype=np.float64)
        return (k - (self.num_frames - 1) / 2.0) * self.sample_rate / fps

    def span_sec(self, fps: float) -> float:
        """Time the clip stands for: ``num_frames * sample_rate`` source frames."""
        return self.num_frames * self.sample_rate / fps

    def frame_times(self, centre_sec: float, fps: float) -> np.ndarray:
        return centre_sec + self.offsets_sec(fps)


def sample_centre(
    rng: np.random.Generator, start_sec: float, end_sec: float, span_sec: float, jitter: float
) -> float:
    """A random clip centre for a labelled segment [start, end] (temporal jitter, training only).

    The centre is uniform in ``mid +- jitter * |L - span| / 2`` (L = segment length): with
    ``jitter = 1`` a clip shorter than its segment lands anywhere inside it, and a clip longer than
    its segment always covers the whole segment. ``jitter = 0`` is the segment centre.
    """
    mid = 0.5 * (start_sec + end_sec)
    radius = 0.5 * jitter * abs((end_sec - start_sec) - span_sec)
    return float(mid + rng.uniform(-radius, radius)) if radius > 0 else float(mid)


def clamp_centre(centre_sec: float, spec: ClipSpec, fps: float, duration_sec: float | None) -> float:
    """Move the centre so every frame lies in [0, last frame]; unchanged when the video is too short."""
    half = (spec.num_frames - 1) / 2.0 * spec.sample_rate / fps
    lo = half
    if duration_sec is None or not math.isfinite(duration_sec):
        return max(centre_sec, lo)
    hi = duration_sec - 1.0 / fps - half
    if hi < lo:
        return centre_sec
    return min(max(centre_sec, lo), hi)


@dataclass(frozen=True)
class ClipRequest:
    """One clip to decode: ``item`` identifies it for the caller."""

    item: int
    centre_sec: float
    fps: float


@dataclass
class DecodedClip:
    """A decoded clip ``(T, size, size, 3)`` uint8, or the reason it could not be decoded."""

    item: int
    frames: np.ndarray | None
    first_sec: float = math.nan
    last_sec: float = math.nan
    padded: int = 0
    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.frames is not None


def decode_clips(
    video_path: str,
    requests: Sequence[ClipRequest],
    spec: ClipSpec,
    *,
    max_pad_fraction: float = 0.25,
    max_offset_sec: float = 0.1,
    seek_gap_sec: float = 5.0,
    threads: int = 0,
) -> list[DecodedClip]:
    """Decode every requested clip of one video in one pass; one :class:`DecodedClip` per request, in order."""
    out: dict[int, DecodedClip] = {}
    valid: list[ClipRequest] = []
    for r in requests:
        if not (math.isfinite(r.fps) and r.fps > 0):
            out[r.item] = DecodedClip(r.item, None, reason="bad_fps", detail=f"frame rate {r.fps!r}")
        elif not math.isfinite(r.centre_sec):
            out[r.item] = DecodedClip(
                r.item, None, reason="bad_clip_window", detail=f"centre {r.centre_sec!r}"
            )
        else:
            valid.append(r)
    if valid:
        try:
            duration = probe(video_path).duration_sec
            times = {
                r.item: np.maximum(
                    spec.frame_times(clamp_centre(r.centre_sec, spec, r.fps, duration), r.fps), 0.0
                )
                for r in valid
            }
            result = decode_at(
                video_path,
                [float(t) for ts in times.values() for t in ts],
                FrameTransform(short_side=spec.size, crop_size=spec.size),
                max_offset_sec=max_offset_sec,
                seek_gap_sec=seek_gap_sec,
                threads=threads,
            )
        except VideoDecodeError as e:
            for r in valid:
                out[r.item] = DecodedClip(r.item, None, reason=e.reason, detail=e.detail)
        else:
            for r in valid:
                out[r.item] = _assemble(r, times[r.item], result, spec, max_pad_fraction, max_offset_sec)
    return [out[r.item] for r in requests]


def _assemble(request, times, result, spec, max_pad_fraction, max_offset_sec) -> DecodedClip:
    picked = [result.frames.get(float(t)) for t in times]
    have = [i for i, p in enumerate(picked) if p is not None]
    missing = [i for i, p in enumerate(picked) if p is None]
    if missing and (not have or len(missing) > max_pad_fraction * spec.num_frames):
        reason, detail = result.missing_reason(float(times[missing[0]]), max_offset_sec)
        return DecodedClip(
            request.item,
            None,
            reason=reason,
            detail=f"{len(missing)}/{spec.num_frames} frames of the clip at {request.centre_sec:.3f}s "
            f"not decodable (first at {times[missing[0]]:.3f}s): {detail}",
        )
    frames = np.empty((spec.num_frames, spec.size, spec.size, 3), dtype=np.uint8)
    for i in range(spec.num_frames):
        src = picked[i] if picked[i] is not None else picked[min(have, key=lambda j, i=i: abs(j - i))]
        frames[i] = src.image
    return DecodedClip(
        request.item,
        frames,
        first_sec=picked[have[0]].time_sec,
        last_sec=picked[have[-1]].time_sec,
        padded=len(missing),
    )


__all__ = ["ClipRequest", "ClipSpec", "DecodedClip", "clamp_centre", "decode_clips", "sample_centre"]
