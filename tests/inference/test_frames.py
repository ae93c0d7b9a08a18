"""Both frame policies: the frame shown is the one claimed, within the policy's stated time error."""

from __future__ import annotations

import av
import numpy as np
import pytest

from egodistill.inference.frames import decode_frames, max_error_bound
from egodistill.ingest.frames import FrameTransform
from videofakes import frame_index, write_video

FPS = 30
TRANSFORM = FrameTransform(32, 32)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("frames") / "v.mp4"
    write_video(path, seconds=8.0, fps=FPS, gop=30)
    return path


def _keyframe_times(path) -> list[float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [float(p.pts * s.time_base) for p in c.demux(s) if p.size and p.is_keyframe]


TARGETS = [0.02, 0.51, 1.066, 2.0, 3.333, 4.9, 6.26, 7.9]


def test_exact_policy_shows_the_nearest_frame(video):
    fb = decode_frames("exact", str(video), TARGETS, TRANSFORM)
    assert not fb.missing
    bound = max_error_bound("exact", fb.info.average_fps, fb.keyframe_gap_sec)
    assert bound == pytest.approx(0.5 / FPS)
    for t in TARGETS:
        assert fb.error_sec(t) <= bound + 1e-6
        assert frame_index(fb.images[t]) == round(t * FPS) % 256
        assert fb.images[t].shape == (32, 32, 3)


def test_keyframe_policy_shows_the_nearest_keyframe_within_half_the_gap(video):
    keys = np.array(_keyframe_times(video))
    fb = decode_frames("keyframe", str(video), TARGETS, TRANSFORM)
    assert not fb.missing
    assert fb.frames_decoded <= len(TARGETS)  # one decode per distinct keyframe, nothing in between
    gap = float(np.diff(keys).max())
    assert fb.keyframe_gap_sec == pytest.approx(gap)
    bound = max_error_bound("keyframe", fb.info.average_fps, fb.keyframe_gap_sec, fb.tail_sec)
    for t in TARGETS:
        shown = fb.times[t]
        assert np.min(np.abs(keys - shown)) < 1e-6  # a keyframe
        assert abs(shown - t) == pytest.approx(np.min(np.abs(keys - t)))  # the nearest one
        assert fb.error_sec(t) <= bound + 1e-6
        assert frame_index(fb.images[t]) == round(shown * FPS) % 256


def test_keyframe_policy_is_coarser_than_exact(video):
    exact = decode_frames("exact", str(video), TARGETS, TRANSFORM)
    key = decode_frames("keyframe", str(video), TARGETS, TRANSFORM)
    assert max(key.error_sec(t) for t in TARGETS) > max(exact.error_sec(t) for t in TARGETS)


@pytest.mark.parametrize("policy", ["exact", "keyframe"])
def test_truncated_video_keeps_early_frames_and_names_the_rest(tmp_path, policy):
    from inferhelpers import truncate

    path = tmp_path / "cut.mp4"
    write_video(path, seconds=8.0, fps=FPS, gop=30)
    truncate(path, 0.5)
    fb = decode_frames(policy, str(path), TARGETS, TRANSFORM)
    assert fb.images and fb.missing
    assert max(fb.images) < min(fb.missing)  # readable prefix kept, the tail missing
    assert {r for r, _ in fb.missing.values()} <= {
        "video_truncated",
        "decode_error",
        "clip_beyond_stream_end",
    }


def test_unknown_policy():
    with pytest.raises(ValueError, match="unknown frame policy"):
        decode_frames("fast", "x.mp4", [1.0], TRANSFORM)


def test_keyframe_bound_covers_times_after_the_last_keyframe(tmp_path):
    """A long GOP: the end of the video is further from the last keyframe than half a GOP."""
    import av as _av

    path = tmp_path / "long_gop.mp4"
    with _av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=FPS, options={"g": "90", "keyint_min": "90", "sc_threshold": "0"})
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        from videofakes import pattern

        for i in range(int(5.5 * FPS)):  # keyframes at 0 and 3 s; the video ends at 5.5 s
            for p in s.encode(_av.VideoFrame.from_ndarray(pattern(i % 256), format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    assert _keyframe_times(path) == pytest.approx([0.0, 3.0])
    fb = decode_frames("keyframe", str(path), [5.4], TRANSFORM)
    assert fb.times[5.4] == pytest.approx(3.0)
    bound = max_error_bound("keyframe", fb.info.average_fps, fb.keyframe_gap_sec, fb.tail_sec)
    assert fb.error_sec(5.4) == pytest.approx(2.4) and bound >= 2.4 > 0.5 * 3.0
