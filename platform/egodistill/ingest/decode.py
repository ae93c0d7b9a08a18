"""Seek-aware sparse decoding with PyAV: the frames nearest a set of timestamps, one pass per video.

All timestamps a video's clips need are sorted and served in one forward walk over the stream:
seek (to the keyframe at or before the time) only when the next needed time is more than
``seek_gap_sec`` ahead of the current position, otherwise decode forward; stop as soon as the
last needed time is served. Only the frames that are picked are converted to RGB and resized,
which is where most of the per-frame cost lies.

Times are on the video's own timeline: ``(pts - stream.start_time) * time_base``, so frame 0 is at
0 s, which is how the manifest (and the datasets' annotations) count time. The picked frame's
actual time is returned with it, so the row records what was really decoded (variable frame
rate, dropped frames).

Failures are data, not crashes: a missing or unreadable file raises :class:`VideoDecodeError`
with a stable reason code; a decoder error mid-stream ends the walk and is reported in
:attr:`DecodeResult.error`, with every time served before it kept.

Why this module is long: seek-aware PyAV decoding, its timing checks and its error mapping share the container state and must change together.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np
import pyarrow.fs as pafs

from egodistill import storage


class VideoDecodeError(Exception):
    """The video cannot be opened or has no decodable video stream; ``reason`` is a quarantine code."""

    def __init__(self, reason: str, path: str, detail: str) -> None:
        super().__init__(f"{path}: {reason}: {detail}")
        self.reason = reason
        self.path = path
        self.detail = detail


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream (before decoding it)."""

    codec: str
    width: int
    height: int
    time_base: Fraction
    start_sec: float
    duration_sec: float | None
    average_fps: float | None


@dataclass(frozen=True)
class PickedFrame:
    """The decoded frame nearest one requested time."""

    target_sec: float
    time_sec: float
    image: Any
    """What the transform returned for the frame (an RGB array, or e.g. its JPEG bytes)."""

    @property
    def offset_sec(self) -> float:
        return abs(self.time_sec - self.target_sec)


@dataclass
class DecodeResult:
    """Frames served for the requested times, and how the walk ended."""

    info: VideoInfo
    frames: dict[float, PickedFrame] = field(default_factory=dict)
    last_frame_sec: float | None = None
    stream_end_sec: float | None = None
    reached_end: bool = False
    error: str | None = None
    frames_decoded: int = 0
    seeks: int = 0
    interval_sum_sec: float = 0.0
    intervals: int = 0
    """Sum and count of the spacings between consecutively decoded frames (seeks excluded)."""

    @property
    def decoded_fps(self) -> float | None:
        """Frame rate the decoded timestamps show (mean spacing, so variable rates average out)."""
        return (
            self.intervals / self.interval_sum_sec
            if self.intervals >= 5 and self.interval_sum_sec > 0
            else None
        )

    def missing_reason(self, target_sec: float, max_offset_sec: float) -> tuple[str, str]:
        """Quarantine (reason, detail) for a requested time that got no frame."""
        info = self.info
        if target_sec < -max_offset_sec:
            return "clip_before_stream_start", f"time {target_sec:.3f}s is before the first frame"
        if self.error is not None:
            return "decode_error", f"decoder failed before {target_sec:.3f}s: {self.error}"
        last = self.stream_end_sec if self.stream_end_sec is not None else self.last_frame_sec
        if self.reached_end and last is not None and target_sec > last:
            if info.duration_sec is not None and target_sec <= info.duration_sec + max_offset_sec:
                return (
                    "video_truncated",
                    f"stream ends at {last:.3f}s but the container says {info.duration_sec:.3f}s; "
                    f"time {target_sec:.3f}s not decodable",
                )
            return "clip_beyond_stream_end", f"time {target_sec:.3f}s is after the last frame at {last:.3f}s"
        if self.reached_end and last is None:
            return "video_no_frames", "the video stream decoded to no frames"
        return (
            "frame_missing",
            f"no frame within {max_offset_sec:.3f}s of {target_sec:.3f}s (variable frame rate gap?)",
        )


@contextlib.contextmanager
def open_video(source: str) -> Iterator[av.container.InputContainer]:
    """Open a local path or any pyarrow-filesystem URI with PyAV (remote files through a seekable handle)."""
    fs, path = storage.resolve(source)
    with contextlib.ExitStack() as stack:
        target: Any = path
        if not isinstance(fs, pafs.LocalFileSystem):
            try:
                target = stack.enter_context(fs.open_input_file(path))
            except FileNotFoundError as e:
                raise VideoDecodeError("video_missing", source, "file not found") from e
            except OSError as e:
                if fs.get_file_info(path).type == pafs.FileType.NotFound:
                    raise VideoDecodeError("video_missing", source, "file not found") from e
                raise VideoDecodeError("video_unreadable", source, f"{type(e).__name__}: {e}") from e
        try:
            container = av.open(target, mode="r")
        except FileNotFoundError as e:
            raise VideoDecodeError("video_missing", source, "file not found") from e
        except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise VideoDecodeError("video_unreadable", source, f"{type(e).__name__}: {e}") from e
        with container:
            yield container


def _video_info(container: av.container.InputContainer, source: str) -> tuple[av.VideoStream, VideoInfo]:
    if not container.streams.video:
        raise VideoDecodeError("video_unreadable", source, "no video stream in the container")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx is None or stream.time_base is None:
        raise VideoDecodeError("video_unreadable", source, "video stream has no decoder or no time base")
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    if stream.duration is not None:
        duration: float | None = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base - start
    else:
        duration = None
    rate = stream.average_rate or stream.guessed_rate
    return stream, VideoInfo(
        codec=ctx.name,
        width=ctx.width,
        height=ctx.height,
        time_base=stream.time_base,
        start_sec=start,
        duration_sec=duration,
        average_fps=float(rate) if rate else None,
    )


def probe(source: str) -> VideoInfo:
    """Container-level facts about the first video stream (no decoding)."""
    with open_video(source) as container:
        return _video_info(container, source)[1]


def decode_at(
    source: str,
    targets: Iterable[float],
    transform: Callable[[av.VideoFrame], np.ndarray],
    *,
    max_offset_sec: float = 0.1,
    seek_gap_sec: float = 2.0,
    threads: int = 0,
) -> DecodeResult:
    """Decode the frame nearest each time in ``targets`` (seconds), applying ``transform`` to picked frames.

    A time whose nearest frame is more than ``max_offset_sec`` away gets no frame; ask the result's
    :meth:`DecodeResult.missing_reason` why. ``threads=0`` lets FFmpeg pick the thread count.
    """
    wanted = sorted({float(t) for t in targets if math.isfinite(t)})
    with open_video(source) as container:
        stream, info = _video_info(container, source)
        stream.thread_type = "AUTO"
        if threads:
            stream.codec_context.thread_count = threads
        result = DecodeResult(info=info)
        pending = [t for t in wanted if t >= -max_offset_sec]
        if not pending:
            return result
        _walk(container, stream, info, pending, transform, max_offset_sec, seek_gap_sec, result)
    return result


# Skip decoding when the next needed time is this much beyond the reach of ``max_offset_sec``.
_SKIP_MARGIN_SEC = 0.5
# Packets held while skipping before falling back to decoding them (bounds memory on long GOPs).
_MAX_HELD_PACKETS = 512
# A real seek aims this far (at least) before the needed time, so that the keyframe it lands on is
# not the one whose open-GOP leading pictures hold the needed frame.
_SEEK_BACK_MIN_SEC = 1.0


class _Held:
    """Packets demuxed but not decoded while skipping ahead, as segments that each start decodable.

    The first segment may *continue* the decoder's current state (no keyframe needed); every other
    segment starts at a keyframe. Only the last two segments are kept: decoding may restart at the
    last keyframe, or at the one before when the needed frames may be open-GOP leading pictures of
    the last one (they reference the previous GOP).
    """

    def __init__(self, continues_decoder: bool) -> None:
        self.segments: list[list[av.Packet]] = [[]] if continues_decoder else []
        self.first_continues = continues_decoder
        self.count = 0

    def add(self, packet: av.Packet) -> None:
        if packet.is_keyframe:
            self.segments.append([packet])
            if len(self.segments) > 2:
                dropped = self.segments.pop(0)
                self.count -= len(dropped)
                self.first_continues = False
        elif self.segments:
            self.segments[-1].append(packet)
        else:
            return  # after a seek, before the first keyframe: undecodable, never needed
        self.count += 1

    def take(self, need_previous_gop: bool) -> tuple[list[av.Packet], bool]:
        """Packets to decode now and whether the decoder must be flushed first."""
        if not self.segments:
            return [], False
        start = len(self.segments) - (2 if need_previous_gop else 1)
        start = max(0, start)
        flush = not (start == 0 and self.first_continues)
        return [p for seg in self.segments[start:] for p in seg], flush


class _KeyframeModel:
    """Keyframe spacing seen so far, to use a real seek only when it lands ahead of the position.

    A seek lands on the keyframe at or before its target; it saves work only if that keyframe lies
    after the current position. With keyframes ``gop`` apart, the next keyframe after the last one
    seen is at ``last_key + gop``, so a seek to ``t`` pays off when ``t - last_key > gop``. ``gop`` is
    the largest spacing seen between keyframe packets (or since the last one).
    """

    def __init__(self) -> None:
        self.last_key = -math.inf
        self.gop = 0.0

    def saw_packet(self, t: float, key: bool) -> None:
        if math.isfinite(self.last_key):
            self.gop = max(self.gop, t - self.last_key)
        if key:
            self.last_key = t

    def after_seek(self) -> None:
        self.last_key = -math.inf

    def seek_point(self, threshold: float) -> float:
        return threshold - max(self.gop, _SEEK_BACK_MIN_SEC)

    def seek_pays(self, threshold: float) -> bool:
        return self.seek_point(threshold) - self.last_key > self.gop


def _walk(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    info: VideoInfo,
    pending: list[float],
    transform: Callable[[av.VideoFrame], np.ndarray],
    max_offset_sec: float,
    seek_gap_sec: float,
    result: DecodeResult,
) -> None:
    """Serve ``pending`` (sorted times) in one forward walk; fills ``result``.

    Packets are demuxed in order. While the next needed time ``t`` is far ahead, packets are held
    (see :class:`_Held`), not decoded; the first packet with a timestamp at or after
    ``t - max_offset_sec`` ends the skip and decoding resumes from the held keyframe (decoder
    flushed) or where it was. Frames that could be the nearest within ``max_offset_sec`` are never
    skipped, so the picks equal those of decoding every frame. Gaps longer than ``seek_gap_sec``
    use a real container seek (it saves reading the bytes in between) when a keyframe is known to
    lie ahead, landing a GOP early and skipping from there.
    """
    tb = info.time_base
    tb_num, tb_den = tb.numerator, tb.denominator  # pts * num / den: exact rounding, no Fraction objects
    ctx = stream.codec_context
    keys = _KeyframeModel()
    converted: dict[int, Any] = {}
    i = 0
    prev: tuple[av.VideoFrame, float] | None = None

    def image_of(frame: av.VideoFrame) -> Any:
        key = frame.pts
        if key not in converted:
            converted.clear()  # frames are served in time order: only the latest can be asked again
            converted[key] = transform(frame)
        return converted[key]

    def serve(target: float, frame: av.VideoFrame, t: float) -> None:
        if abs(t - target) <= max_offset_sec:
            result.frames[target] = PickedFrame(target_sec=target, time_sec=t, image=image_of(frame))

    def feed(packet: av.Packet) -> None:
        nonlocal i, prev
        for frame in packet.decode():
            if frame.pts is None:
                raise VideoDecodeError("video_unreadable", "", "decoded frames carry no timestamps")
            t = frame.pts * tb_num / tb_den - info.start_sec
            result.frames_decoded += 1
            result.last_frame_sec = t if result.last_frame_sec is None else max(result.last_frame_sec, t)
            if prev is not None and t > prev[1]:
                result.interval_sum_sec += t - prev[1]
                result.intervals += 1
            while i < len(pending) and pending[i] <= t:
                target = pending[i]
                if prev is not None and target - prev[1] <= t - target:
                    serve(target, prev[0], prev[1])
                else:
                    serve(target, frame, t)
                i += 1
            prev = (frame, t)

    def resume(packets: list[av.Packet], flush: bool) -> None:
        nonlocal prev
        if flush:
            ctx.flush_buffers()
            prev = None
        for p in packets:
            feed(p)

    def seek(to: float) -> Iterator[av.Packet]:
        nonlocal prev
        container.seek(max(0, int((to + info.start_sec) / tb)), stream=stream, backward=True, any_frame=False)
        ctx.flush_buffers()
        keys.after_seek()
        prev = None
        result.seeks += 1
        return container.demux(stream)

    held: _Held | None = None
    first_threshold = pending[0] - max_offset_sec
    if first_threshold > seek_gap_sec:
        packets = seek(keys.seek_point(first_threshold))
        held = _Held(continues_decoder=False)
    else:
        packets = container.demux(stream)
    try:
        while (packet := next(packets, None)) is not None:
            if packet.size == 0:  # end of stream: drain the decoder (when skipping nothing is needed)
                if held is None:
                    feed(packet)
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            pt = ts * tb_num / tb_den - info.start_sec if ts is not None else None
            if pt is not None:
                result.stream_end_sec = (
                    pt if result.stream_end_sec is None else max(result.stream_end_sec, pt)
                )
                keys.saw_packet(pt, packet.is_keyframe)
            if held is None:
                feed(packet)
            else:
                held.add(packet)
                threshold = pending[i] - max_offset_sec
                if pt is not None and pt >= threshold:
                    last_key_pt = held.segments[-1][0].pts if held.segments and held.segments[-1] else None
                    need_prev = (
                        last_key_pt is not None
                        and last_key_pt * tb_num / tb_den - info.start_sec >= threshold
                    )
                    resume(*held.take(need_previous_gop=need_prev))
                    held = None
                elif held.count > _MAX_HELD_PACKETS:
                    resume(*held.take(need_previous_gop=True))
                    held = _Held(continues_decoder=True)
            if i >= len(pending):
                return
            threshold = pending[i] - max_offset_sec
            if held is None and pt is not None and threshold - pt > _SKIP_MARGIN_SEC:
                if threshold - pt > seek_gap_sec and keys.seek_pays(threshold):
                    packets = seek(keys.seek_point(threshold))
                    held = _Held(continues_decoder=False)
                else:
                    held = _Held(continues_decoder=True)
    except VideoDecodeError as e:
        result.error = e.detail
        return
    except (av.FFmpegError, OSError, ValueError, RuntimeError) as e:
        result.error = f"{type(e).__name__}: {e}"
        return
    result.reached_end = i < len(pending)
    if prev is not None and held is None:
        while i < len(pending):
            serve(pending[i], prev[0], prev[1])
            i += 1
