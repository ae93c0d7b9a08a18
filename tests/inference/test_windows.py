"""The window plan: stride, edges, short videos."""

from __future__ import annotations

import pytest

from egodistill.inference.windows import ShortVideoError, frame_times, plan_windows

W = 422 / 198.0


def test_default_stride_tiles_without_overlap_and_covers_the_tail():
    plan = plan_windows(10.0, W)
    assert [w.index for w in plan] == list(range(len(plan)))
    full = [w for w in plan if not w.anchored_to_end]
    assert len(full) == 4  # 4 * 2.131 = 8.52 <= 10 < 5 * 2.131
    for a, b in zip(full, full[1:], strict=False):
        assert b.start_sec == pytest.approx(a.end_sec)
    tail = plan[-1]
    assert (
        tail.anchored_to_end
        and tail.end_sec == pytest.approx(10.0)
        and tail.start_sec == pytest.approx(10.0 - W)
    )
    assert all(w.start_sec >= 0.0 and w.end_sec <= 10.0 + 1e-9 for w in plan)


def test_stride_and_no_tail():
    plan = plan_windows(10.0, W, stride_sec=1.0, cover_tail=False)
    assert [round(w.start_sec, 6) for w in plan] == [0, 1, 2, 3, 4, 5, 6, 7]  # last start 7 <= 10 - 2.131
    assert not any(w.anchored_to_end for w in plan)
    assert plan[-1].end_sec <= 10.0


def test_exact_fit_gets_no_extra_window():
    plan = plan_windows(3 * W, W)
    assert len(plan) == 3 and not plan[-1].anchored_to_end
    assert plan[-1].end_sec == pytest.approx(3 * W)


def test_video_of_exactly_one_window_and_shorter():
    assert len(plan_windows(W, W)) == 1
    with pytest.raises(ShortVideoError, match=r"clip\.mp4: 1\.500 s is shorter than one model window"):
        plan_windows(1.5, W, source="clip.mp4")
    with pytest.raises(ShortVideoError):
        plan_windows(float("nan"), W)


def test_frame_times_follow_the_ingest_rule():
    assert frame_times(2.0, 2.0, 1) == (3.0,)
    assert frame_times(0.0, 4.0, 4) == (0.5, 1.5, 2.5, 3.5)
    plan = plan_windows(6.0, W, num_frames=2)
    for w in plan:
        assert len(w.frame_times) == 2 and w.start_sec < w.frame_times[0] < w.frame_times[1] < w.end_sec


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_bad_sizes_raise(bad):
    with pytest.raises(ValueError):
        plan_windows(10.0, W, stride_sec=bad)
    with pytest.raises(ValueError):
        plan_windows(10.0, bad)
