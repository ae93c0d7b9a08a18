"""Frame policies: which decoded frame stands for each frame time a window needs.

* ``exact``: the frame nearest the time (``ingest.decode.decode_at``: seek to the keyframe before,
  decode forward). Time error at most half a frame period (``1 / (2 fps)``) on a constant-rate video.
* ``keyframe``: the keyframe nearest the time. Only keyframe packets are decoded (every other packet
  is demuxed and skipped), so it costs one decode per frame needed instead of up to a GOP; the time
  error is at most half the largest keyframe spacing, which is measured and reported
  (:attr:`FrameBatch.keyframe_gap_sec`).

Both return frames resized and centre-cropped with the ingest geometry
(:class:`~egodistill.ingest.frames.FrameTransform`), and for each time that got no frame a quarantine
(reason, detail) in the ingest decoder's vocabulary (``video_truncated``, ``decode_error``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import av
import numpy as np

from egodistill.ingest.decode import VideoDecodeError, VideoInfo, decode_at, open_video, probe

Policy = Literal["exact", "keyframe"]
POLICIES: tuple[str, ...] = ("exact", "keyframe")


@dataclass
class FrameBatch:
    """Frames for a set of requested times, with the times actually shown and the failures."""

    info: VideoInfo
    images: dict[float, np.ndarray] = field(default_factory=dict)
    times: dict[float, float] = field(default_factory=dict)
    missing: dict[float, tuple[str, str]] = field(default_factory=dict)
    """Requested time -> quarantine (reason, detail)."""
    frames_decoded: int = 0
    keyframe_gap_sec: float = 0.0
    """Largest keyframe spacing seen (the keyframe policy's error is at most half of it)."""
    tail_sec: float = 0.0
    """Times after the last keyframe are shown that keyframe: the stream's span beyond it."""

    def error_sec(self, target: float) -> float:
        return abs(self.times[target] - target)


def max_error_bound(policy: str, fps: float | None, keyframe_gap_sec: float, tail_sec: float = 0.0) -> float:
    """The stated maximum time error of a policy for a video (seconds): exact, half a frame period;
    keyframe, half the largest keyframe spacing, or the stretch after the last keyframe if longer."""
    if policy == "exact":
        return 0.5 / fps if fps else math.nan
    return max(0.5 * keyframe_gap_sec, tail_sec)


def decode_frames(
    policy: str,
    video: str,
    targets: Sequence[float],
    transform: Callable[[av.VideoFrame], np.ndarray],
    *,
    threads: int = 0,
) -> FrameBatch:
    """Frames for ``targets`` (seconds on the video timeline) under ``policy``.

    Raises :class:`~egodistill.ingest.decode.VideoDecodeError` only when the file cannot be opened;
    a decoder failure part-way leaves the times it did not reach in :attr:`FrameBatch.missing`.
    """
    if policy == "exact":
        return _exact(video, targets, transform, threads)
    if policy == "keyframe":
        return _keyframe(video, targets, transform, threads)
    raise ValueError(f"unknown frame policy {policy!r}; expected one of {POLICIES}")


def _exact(video: str, targets: Sequence[float], transform: Callable, threads: int) -> FrameBatch:
    # probe first: the tolerance is one frame period (nearest frame; room for small timing jitter)
    info = probe(video)
    period = 1.0 / info.average_fps if info.average_fps else 0.05
    result = decode_at(video, targets, transform, max_offset_sec=period, threads=threads)
    out = FrameBatch(info=result.info, frames_decoded=result.frames_decoded)
    for t in targets:
        picked = result.frames.get(float(t))
        if picked is None:
            reason, detail = result.missing_reason(float(t), period)
            if reason == "video_no_frames" and info.duration_sec is not None and t <= info.duration_sec:
                # a walk that starts (seeks) beyond where the data stops: the file is cut short
                reason = "video_truncated"
                detail = (
                    f"no frame decodable at {t:.3f}s although the container says {info.duration_sec:.3f}s"
                )
            out.missing[float(t)] = (reason, detail)
        else:
            out.images[float(t)] = picked.image
            out.times[float(t)] = picked.time_sec
    return out


def _keyframe(video: str, targets: Sequence[float], transform: Callable, threads: int) -> FrameBatch:
    """One forward demux from the keyframe before the first time; decode only the chosen keyframes."""
    wanted = sorted({float(t) for t in targets})
    info = probe(video)
    with open_video(video) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if threads:
            stream.codec_context.thread_count = threads
        ctx = stream.codec_context
        tb = info.time_base
        out = FrameBatch(info=info)
        if not wanted:
            return out
        start = max(0.0, wanted[0] - 1.0)
        container.seek(max(0, int((start + info.start_sec) / tb)), stream=stream, backward=True)
        prev: tuple[float, Any] | None = None  # (time, packet) of the last keyframe
        last_pt: float | None = None
        i = 0
        cache: dict[float, tuple[float, np.ndarray]] = {}

        def show(key_t: float, packet: Any) -> tuple[float, np.ndarray]:
            if key_t not in cache:
                cache.clear()
                ctx.flush_buffers()
                frames = ctx.decode(packet) or ctx.decode(None)
                ctx.flush_buffers()
                if not frames:
                    raise VideoDecodeError(
                        "decode_error", video, f"keyframe at {key_t:.3f}s decoded to nothing"
                    )
                out.frames_decoded += 1
                frame = frames[0]
                t = float(frame.pts * tb) - info.start_sec if frame.pts is not None else key_t
                cache[key_t] = (t, transform(frame))
            return cache[key_t]

        def serve(target: float, key_t: float, packet: Any) -> None:
            t, image = show(key_t, packet)
            out.images[target], out.times[target] = image, t

        error: str | None = None
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                pt = float(packet.pts * tb) - info.start_sec
                last_pt = pt if last_pt is None else max(last_pt, pt)
                if not packet.is_keyframe:
                    continue
                if prev is not None:
                    out.keyframe_gap_sec = max(out.keyframe_gap_sec, pt - prev[0])
                while i < len(wanted) and wanted[i] <= pt:
                    t = wanted[i]
                    if prev is not None and t - prev[0] <= pt - t:
                        serve(t, *prev)
                    else:
                        serve(t, pt, packet)
                    i += 1
                prev = (pt, packet)
                if i >= len(wanted):
                    break
        except VideoDecodeError as e:
            error = e.detail
        except (av.FFmpegError, OSError, ValueError, RuntimeError) as e:
            error = f"{type(e).__name__}: {e}"
        # times after the last keyframe: that keyframe is the nearest, if the stream really goes on
        while error is None and i < len(wanted) and prev is not None:
            t = wanted[i]
            end = last_pt if last_pt is not None else prev[0]
            out.tail_sec = max(
                out.tail_sec, end + (1.0 / info.average_fps if info.average_fps else 0.0) - prev[0]
            )
            if t > end + (1.0 / info.average_fps if info.average_fps else 0.05):
                break
            try:
                serve(t, *prev)
            except (VideoDecodeError, av.FFmpegError) as e:
                error = str(e)
                break
            i += 1
        for t in wanted[i:]:
            out.missing[t] = _missing_reason(info, t, last_pt, error)
    return out


def _missing_reason(info: VideoInfo, t: float, last_pt: float | None, error: str | None) -> tuple[str, str]:
    if error is not None:
        return "decode_error", f"decoder failed before {t:.3f}s: {error}"
    if last_pt is None:
        return "video_no_frames", "the video stream holds no packets"
    if info.duration_sec is not None and t <= info.duration_sec:
        return (
            "video_truncated",
            f"stream ends at {last_pt:.3f}s but the container says {info.duration_sec:.3f}s; "
            f"time {t:.3f}s not decodable",
        )
    return "clip_beyond_stream_end", f"time {t:.3f}s is after the last frame at {last_pt:.3f}s"
