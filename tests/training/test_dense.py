"""Dense clip geometry and decoding: the right frames, in order, spaced sample_rate apart; clear failures."""

from __future__ import annotations

import numpy as np
import pytest
from clipfakes import band_index

from egodistill.teacher.dense import ClipRequest, ClipSpec, clamp_centre, decode_clips, sample_centre

FPS = 30.0


def test_paper_clip_spans_the_imu_window():
    spec = ClipSpec(num_frames=16, sample_rate=4, size=224)
    offsets = spec.offsets_sec(FPS)
    assert offsets[0] == pytest.approx(-offsets[-1])  # centred
    assert np.allclose(np.diff(offsets), 4 / FPS)  # one frame every sample_rate source frames
    assert spec.span_sec(FPS) == pytest.approx(64 / 30)  # 2.13 s, the 422-sample IMU window at 198 Hz
    assert spec.span_sec(FPS) == pytest.approx(422 / 198, abs=0.01)


def test_temporal_jitter_stays_in_the_segment_or_covers_it():
    rng = np.random.default_rng(0)
    span = 64 / 30
    long = [sample_centre(rng, 10.0, 15.0, span, 1.0) for _ in range(500)]
    assert min(long) >= 10.0 + span / 2 - 1e-9 and max(long) <= 15.0 - span / 2 + 1e-9
    assert max(long) - min(long) > 2.0  # it does move
    short = [sample_centre(rng, 10.0, 11.0, span, 1.0) for _ in range(500)]
    assert all(c - span / 2 <= 10.0 and c + span / 2 >= 11.0 for c in short)  # whole segment inside
    assert sample_centre(rng, 10.0, 15.0, span, 0.0) == 12.5


def test_centre_is_clamped_into_the_video():
    spec = ClipSpec(8, 8, 32)
    half = 3.5 * 8 / FPS
    assert clamp_centre(0.2, spec, FPS, 10.0) == pytest.approx(half)
    assert clamp_centre(9.9, spec, FPS, 10.0) == pytest.approx(10.0 - 1 / FPS - half)
    assert clamp_centre(5.0, spec, FPS, 10.0) == 5.0
    assert clamp_centre(1.0, spec, FPS, 1.5) == 1.0  # video shorter than the clip: left alone


def test_decoded_clip_holds_the_requested_frames_in_order(band_video):
    spec = ClipSpec(num_frames=8, sample_rate=4, size=32)
    requests = [ClipRequest(0, 2.0, FPS), ClipRequest(1, 3.5, FPS), ClipRequest(2, 2.0, FPS)]
    clips = decode_clips(str(band_video), requests, spec)
    assert [c.item for c in clips] == [0, 1, 2] and all(c.ok for c in clips)
    for c, centre in zip(clips, (2.0, 3.5, 2.0), strict=True):
        assert c.frames.shape == (8, 32, 32, 3) and c.frames.dtype == np.uint8
        got = [band_index(f) for f in c.frames]
        first = round((centre - 3.5 * 4 / FPS) * FPS)
        assert got == [first + 4 * k for k in range(8)], got
        assert c.padded == 0
        assert c.first_sec == pytest.approx(first / FPS, abs=1e-3)
    assert np.array_equal(clips[0].frames, clips[2].frames)


def test_clip_at_the_video_edge_is_moved_inside(band_video):
    spec = ClipSpec(num_frames=8, sample_rate=4, size=32)
    (clip,) = decode_clips(str(band_video), [ClipRequest(0, 5.95, FPS)], spec)
    assert clip.ok and clip.padded == 0
    got = [band_index(f) for f in clip.frames]
    assert got[-1] <= 179 and np.all(np.diff(got) == 4)  # 6 s at 30 fps: last frame 179


def test_unreadable_inputs_fail_with_a_reason(tmp_path, band_video):
    spec = ClipSpec(num_frames=4, sample_rate=2, size=16)
    (missing,) = decode_clips(str(tmp_path / "nope.mp4"), [ClipRequest(0, 1.0, FPS)], spec)
    assert not missing.ok and missing.reason == "video_missing"
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00not a video" * 100)
    (bad,) = decode_clips(str(garbage), [ClipRequest(0, 1.0, FPS)], spec)
    assert bad.reason == "video_unreadable"
    nan_fps, nan_centre = decode_clips(
        str(band_video), [ClipRequest(0, 1.0, float("nan")), ClipRequest(1, float("nan"), FPS)], spec
    )
    assert (nan_fps.reason, nan_centre.reason) == ("bad_fps", "bad_clip_window")


def test_truncated_stream_pads_a_few_frames_then_fails(tmp_path, band_video):
    data = band_video.read_bytes()
    truncated = tmp_path / "truncated.mkv"
    truncated.write_bytes(data[: int(len(data) * 0.6)])  # the container still says 6 s
    spec = ClipSpec(num_frames=8, sample_rate=4, size=16)
    probe_clips = decode_clips(
        str(truncated), [ClipRequest(i, 0.6 + 0.1 * i, FPS) for i in range(50)], spec, max_pad_fraction=0.25
    )
    padded = [c for c in probe_clips if c.ok and c.padded]
    failed = [c for c in probe_clips if not c.ok]
    assert padded and all(c.padded <= 2 for c in padded)  # at most a quarter of 8 frames
    assert failed and {c.reason for c in failed} <= {
        "video_truncated",
        "clip_beyond_stream_end",
        "decode_error",
    }
    for c in padded:  # padding repeats the nearest decoded frame: indices never go backwards
        assert np.all(np.diff([band_index(f) for f in c.frames]) >= 0)
