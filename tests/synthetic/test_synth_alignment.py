"""IMU samples, video frames and the rebuilt world share one clock."""

from __future__ import annotations

import numpy as np
import pytest
from synthhelpers import clean_sorted, decode_gray, decode_rgb, load_gt, read_ego4d_imu, read_epic_sensor

from egodistill.synthetic import rebuild_video


@pytest.mark.parametrize("layout", ["ego4d", "epic"])
def test_decoded_frames_sit_on_the_k_over_fps_grid(layout, ego4d_dataset, epic_dataset):
    root, cfg, _ = ego4d_dataset if layout == "ego4d" else epic_dataset
    for video in load_gt(root)["videos"]:
        frames, times = decode_gray(root / video["video_path"])
        assert frames.shape == (video["num_frames"], cfg.height, cfg.width)
        assert video["fps"] == cfg.frame_rate == (30.0 if layout == "ego4d" else 50.0)
        np.testing.assert_allclose(times, np.arange(video["num_frames"]) / video["fps"], atol=1e-3)


def test_ego4d_imu_timestamps_are_the_sampling_instants(ego4d_dataset):
    """Written gyro matches the noise-free truth at the written times, and only there."""
    root, cfg, _ = ego4d_dataset
    for video in load_gt(root)["videos"]:
        world = rebuild_video(root, video["video_id"])
        imu = clean_sorted(read_ego4d_imu(root / video["imu_paths"][0]))
        t = imu["t_ms"] / 1000.0
        assert t[0] < 0.01 and t[-1] > video["duration_sec"] - 0.01
        rate = 1.0 / np.median(np.diff(t))
        assert abs(rate - cfg.imu_rate_hz) <= cfg.imu_rate_spread_hz + 0.5
        resid = {}
        for shift in (0.0, -0.04, 0.04):
            gyro_true, _ = world.imu_truth(t + shift)
            resid[shift] = np.sqrt(np.mean((imu["gyro"] - gyro_true) ** 2))
        assert resid[0.0] < 0.03  # bias + drift + white noise only
        assert resid[-0.04] > 1.5 * resid[0.0] and resid[0.04] > 1.5 * resid[0.0]


def test_epic_gopro_clocks_payloads_and_alignment(epic_dataset):
    root, cfg, _ = epic_dataset
    for video in load_gt(root)["videos"]:
        world = rebuild_video(root, video["video_id"])
        accl_path, gyro_path = (root / p for p in video["imu_paths"])
        ta, accl = read_epic_sensor(accl_path, ("AcclX", "AcclY", "AcclZ"))
        tg, gyro = read_epic_sensor(gyro_path, ("GyroX", "GyroY", "GyroZ"))
        for t in (ta, tg):
            assert np.all(np.diff(t) > 0) and 0.0 <= t[0] < 10.0
            # gpmd2csv: evenly spaced inside each 1 s payload
            for second in range(int(t[-1] // 1000)):
                ts = t[(t >= 1000 * second) & (t < 1000 * (second + 1))]
                assert len(ts) > 150 and np.ptp(np.diff(ts)) < 0.01
        assert len(ta) != len(tg) or not np.allclose(ta, tg)  # separate clocks
        # values line up with the truth at the written times (clock error < one sample period)
        g_true, _ = world.imu_truth(tg / 1000.0)
        _, a_true = world.imu_truth(ta / 1000.0)
        assert np.sqrt(np.mean((gyro - g_true) ** 2)) < 0.05
        assert np.sqrt(np.mean((accl - a_true) ** 2)) < 0.3
        g_late, _ = world.imu_truth(tg / 1000.0 + 0.05)
        assert np.sqrt(np.mean((gyro - g_late) ** 2)) > np.sqrt(np.mean((gyro - g_true) ** 2))


def test_rebuilt_render_matches_the_decoded_frame(ego4d_dataset):
    root, cfg, _ = ego4d_dataset
    video = load_gt(root)["videos"][0]
    world = rebuild_video(root, video["video_id"])
    decoded = decode_rgb(root / video["video_path"]).astype(np.float64)
    fps = video["fps"]
    # frames during head turns, where a wrong frame would differ a lot
    turns = [s for s in video["segments"] if s["verb"] in ("turn-left", "turn-right")]
    assert turns
    for seg in turns:
        k = int((seg["start_sec"] + seg["end_sec"]) / 2 * fps)
        same = np.abs(decoded[k] - world.render(k / fps)).mean()
        off = min(np.abs(decoded[k] - world.render((k + d) / fps)).mean() for d in (-6, 6))
        assert same < 12.0, same  # H.264 CRF 23 at 64x48
        assert same < 0.6 * off, (same, off)


def test_single_render_equals_the_batched_render_the_writer_used(ego4d_dataset):
    root, _, _ = ego4d_dataset
    video = load_gt(root)["videos"][1]
    world = rebuild_video(root, video["video_id"])
    times = np.arange(0, video["num_frames"], 97) / video["fps"]
    for t, frame in zip(times, world.frames(times), strict=True):
        np.testing.assert_array_equal(world.render(float(t)), frame.image)
