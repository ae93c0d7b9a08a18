"""One video -> clip rows: the right frames at the right times, the readers' IMU window, reasons."""

from __future__ import annotations

import numpy as np
import pytest
from ingestfakes import WINDOW_SEC, clip_row, frame_index, write_ego4d_imu, write_video

from egodistill.datasets.imu import ImuWindowConfig, clip_imu_window
from egodistill.ingest.config import FrameConfig
from egodistill.ingest.frames import decode_jpeg
from egodistill.ingest.worker import ingest_video, plan_clip, rows_to_table, uniform_fractions
from egodistill.tables import validate

FRAMES = FrameConfig(short_side=48, crop_size=48)
IMU = ImuWindowConfig()


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("worker")
    video = root / "v.mp4"
    write_video(video, seconds=8.0, gop=20)
    imu = write_ego4d_imu(root / "v.csv", 8.0)
    return root, video, imu


def test_plan_samples_uniformly_inside_the_window_or_segment():
    row = clip_row("c", "v", "v.mp4", "v.csv", centre=3.0)
    p = plan_clip(row, FrameConfig(count=4, sampling="count_only"))
    s, e = row["window_start_sec"], row["window_end_sec"]
    assert p.span == (s, e) and p.first == s and p.last == e
    assert np.allclose(p.uniform, [s + (k + 0.5) * (e - s) / 4 for k in range(4)])
    seg = plan_clip(row, FrameConfig(count=1, span="segment", first_last=False))
    assert seg.uniform == (3.0,) and seg.first is None and seg.times == (3.0,)
    with pytest.raises(ValueError, match="not a valid interval"):
        plan_clip({**row, "window_end_sec": s}, FrameConfig())


def test_every_n_up_to_count_has_its_uniform_frames_stored_and_n1_is_the_centre():
    """Seed 000: N frames sampled uniformly; N = 1 is the window centre (the single-frame baseline's)."""
    row = clip_row("c", "v", "v.mp4", "v.csv", centre=3.0)
    s, e = row["window_start_sec"], row["window_end_sec"]
    p = plan_clip(row, FrameConfig(count=4))
    assert uniform_fractions(4) == pytest.approx(
        [1 / 8, 1 / 6, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 5 / 6, 7 / 8]
    )
    assert uniform_fractions(4, "count_only") == pytest.approx([1 / 8, 3 / 8, 5 / 8, 7 / 8])
    for n in range(1, 5):
        grid = [s + (k + 0.5) * (e - s) / n for k in range(n)]
        assert all(min(abs(t - g) for t in p.uniform) < 1e-9 for g in grid), n
    assert p.uniform[4] == pytest.approx(0.5 * (s + e))


def test_rows_hold_the_frames_nearest_the_planned_times(media):
    _, video, imu = media
    rows = [clip_row(f"c{k}", "v", video, imu, centre=1.5 + 1.3 * k, duration=8.0) for k in range(4)]
    out = ingest_video(rows, FRAMES, IMU, 0.5)
    assert len(out.quarantine) == 0 and len(out.rows) == 4
    for row, got in zip(rows, out.rows, strict=True):
        plan = plan_clip(row, FRAMES)
        assert got["frame_target_sec"] == list(plan.uniform)
        for target, actual, jpeg in zip(plan.uniform, got["frame_time_sec"], got["frames"], strict=True):
            expect = round(target * 30) / 30
            assert actual == pytest.approx(expect, abs=1e-6)
            assert frame_index(decode_jpeg(jpeg)) == round(expect * 30)
        assert frame_index(decode_jpeg(got["first_frame"])) == round(plan.first * 30)
        assert frame_index(decode_jpeg(got["last_frame"])) == round(plan.last * 30)
        assert (got["frame_height"], got["frame_width"], got["frame_channels"]) == (48, 48, 3)
        assert (got["source_height"], got["source_width"]) == (48, 64)
        assert got["sample_end_sec"] - got["sample_start_sec"] == pytest.approx(WINDOW_SEC)
    assert out.frames_stored == 4 * 11  # 9 uniform (every N in 1..4) + first + last


def test_imu_window_equals_the_readers_output(media):
    _, video, imu = media
    rows = [clip_row(f"c{k}", "v", video, imu, centre=2.0 + k, duration=8.0) for k in range(3)]
    out = ingest_video(rows, FRAMES, IMU, 0.5)
    table = rows_to_table(out.rows, IMU)
    validate(table, "clips")
    for row, got in zip(rows, table.to_pylist(), strict=True):
        ref = clip_imu_window(row, IMU)
        n, c = got["imu_num_samples"], got["imu_num_channels"]
        assert (n, c) == (422, 6)
        assert np.array_equal(np.asarray(got["imu"], np.float32).reshape(n, c), ref.samples)
        assert np.array_equal(np.asarray(got["imu_mask"]), ref.mask)
        assert got["imu_coverage"] == pytest.approx(ref.coverage)
        assert got["imu_window_rate_hz"] == pytest.approx(198.0)


def test_problems_become_quarantine_reasons(media, tmp_path):
    root, video, imu = media
    short_imu = write_ego4d_imu(tmp_path / "short.csv", 2.0)
    rows = [
        clip_row("ok", "v", video, imu, centre=2.0, duration=8.0),
        {**clip_row("bad_window", "v", video, imu, centre=2.0), "window_end_sec": 0.0},
        clip_row("past_end", "v", video, imu, centre=9.5, duration=8.0),
    ]
    out = ingest_video(rows, FRAMES, IMU, 0.5)
    assert [r["clip_id"] for r in out.rows] == ["ok"]
    reasons = {e.item_id: e.reason for e in out.quarantine.entries}
    assert reasons["bad_window"] == "bad_clip_window"
    assert reasons["past_end"] in ("clip_beyond_stream_end", "imu_low_coverage")

    low = ingest_video([clip_row("low", "v", video, short_imu, centre=4.0, duration=8.0)], FRAMES, IMU, 0.5)
    assert [e.reason for e in low.quarantine.entries] == ["imu_low_coverage"]

    no_imu = ingest_video([clip_row("x", "v", video, root / "nope.csv", centre=2.0)], FRAMES, IMU, 0.5)
    assert [e.reason for e in no_imu.quarantine.entries] == ["imu_missing"]

    no_video = ingest_video([clip_row("y", "w", root / "nope.mp4", imu, centre=2.0)], FRAMES, IMU, 0.5)
    assert [e.reason for e in no_video.quarantine.entries] == ["video_missing"]
    assert no_video.quarantine.entries[0].item_id == "y"


def test_video_past_its_end_is_quarantined_not_clamped(media):
    _, video, imu = media
    long_imu = write_ego4d_imu(media[0] / "long.csv", 12.0)
    # metadata and file agree on 8 s; the clip's window runs past the last frame
    out = ingest_video([clip_row("late", "v", video, long_imu, centre=8.5, duration=8.0)], FRAMES, IMU, 0.0)
    assert [e.reason for e in out.quarantine.entries] == ["clip_beyond_stream_end"]
    # metadata says 12 s, the file holds 8 s: no clip of it can be trusted (issue 17)
    out = ingest_video([clip_row("late", "v", video, long_imu, centre=9.0, duration=12.0)], FRAMES, IMU, 0.5)
    assert [e.reason for e in out.quarantine.entries] == ["video_timing_mismatch"]
