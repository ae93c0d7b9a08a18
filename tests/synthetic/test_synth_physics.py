"""The IMU and the frames come from one head trajectory, and obey the physics they claim to."""

from __future__ import annotations

import numpy as np
from synthhelpers import clean_sorted, decode_gray, image_shift, load_gt, read_ego4d_imu, so3_exp, so3_log

from egodistill.synthetic import SynthConfig, rebuild_video
from egodistill.synthetic.trajectory import CHANNELS, GRAVITY, HeadTrajectory, Signal, Steps
from egodistill.synthetic.world import build_world


def _still(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> HeadTrajectory:
    values = {"x": 0.3, "y": -1.0, "z": 1.6, "yaw": yaw, "pitch": pitch, "roll": roll}
    return HeadTrajectory({c: Signal([Steps(start_value=values[c])]) for c in CHANNELS})


def test_still_level_head_reads_gravity_up_on_body_minus_y():
    t = np.linspace(0.0, 3.0, 7)
    traj = _still()
    np.testing.assert_allclose(traj.specific_force_body(t), np.tile([0.0, -9.81, 0.0], (7, 1)), atol=1e-12)
    np.testing.assert_allclose(traj.angular_velocity_body(t), 0.0, atol=1e-12)


def test_still_tilted_head_reads_rotated_gravity():
    traj = _still(yaw=0.7, pitch=-0.6, roll=0.2)
    f = traj.specific_force_body(np.array([1.0]))[0]
    r = traj.rotation(np.array([1.0]))[0]
    np.testing.assert_allclose(f, r.T @ -GRAVITY, atol=1e-12)
    assert abs(np.linalg.norm(f) - 9.81) < 1e-12
    assert f[2] < -5.0  # looking 34 deg down: the forward axis points partly against "up"


def test_analytic_gyro_and_accel_match_finite_differences():
    world = build_world(SynthConfig(seconds=30, width=32, height=24, seed=1), 0)
    traj = world.trajectory
    h = 1e-4
    for t in np.linspace(1.0, 29.0, 41):
        r0, r1 = traj.rotation(np.array([t - h / 2]))[0], traj.rotation(np.array([t + h / 2]))[0]
        w_num = so3_log(r0.T @ r1) / h
        np.testing.assert_allclose(traj.angular_velocity_body(np.array([t]))[0], w_num, atol=2e-4)
        p = traj.position(np.array([t - h, t, t + h]))
        a_num = (p[0] - 2 * p[1] + p[2]) / h**2
        r = traj.rotation(np.array([t]))[0]
        np.testing.assert_allclose(
            traj.specific_force_body(np.array([t]))[0], r.T @ (a_num - GRAVITY), atol=2e-3
        )


def _defect_free(video: dict, start: float, end: float) -> bool:
    return all(d["end_sec"] < start - 0.1 or d["start_sec"] > end + 0.1 for d in video["imu_defects"])


def test_integrating_written_gyro_recovers_the_trajectory_rotation(ego4d_dataset):
    """Over every defect-free 1.5 s window with a real head rotation (> 0.3 rad)."""
    root, _, _ = ego4d_dataset
    gt = load_gt(root)
    checked = 0
    for video in gt["videos"]:
        world = rebuild_video(root, video["video_id"])
        imu = clean_sorted(read_ego4d_imu(root / video["imu_paths"][0]))
        t = imu["t_ms"] / 1000.0
        for start in np.arange(0.5, video["duration_sec"] - 2.0, 0.5):
            end = start + 1.5
            if not _defect_free(video, start, end):
                continue
            sel = np.flatnonzero((t >= start) & (t <= end))
            r0, r1 = world.trajectory.rotation(t[[sel[0], sel[-1]]])
            r_true = r0.T @ r1
            angle = np.linalg.norm(so3_log(r_true))
            if angle < 0.3:
                continue
            r_int = np.eye(3)
            for i, j in zip(sel[:-1], sel[1:], strict=True):
                r_int = r_int @ so3_exp(0.5 * (imu["gyro"][i] + imu["gyro"][j]) * (t[j] - t[i]))
            err = np.linalg.norm(so3_log(r_int.T @ r_true))
            assert err < 0.03 + 0.03 * angle, (start, angle, err)
            checked += 1
    assert checked >= 5


def test_motionless_head_reads_gravity_in_the_written_accelerometer(ego4d_dataset):
    root, _, _ = ego4d_dataset
    gt = load_gt(root)
    checked = 0
    for video in gt["videos"]:
        world = rebuild_video(root, video["video_id"])
        imu = clean_sorted(read_ego4d_imu(root / video["imu_paths"][0]))
        t = imu["t_ms"] / 1000.0
        lin_acc = np.linalg.norm(world.trajectory.position(t, 2), axis=1)
        omega = np.linalg.norm(world.trajectory.angular_velocity_body(t), axis=1)
        still = (lin_acc < 0.25) & (omega < 0.2) & ~np.isnan(imu["accl"]).any(1)
        # 0.5 s windows that are entirely still
        for start in np.arange(0.5, video["duration_sec"] - 0.5, 0.5):
            w = (t >= start) & (t < start + 0.5)
            if w.sum() < 50 or not still[w].all():
                continue
            mean = imu["accl"][w].mean(0)
            up_body = world.trajectory.rotation(np.array([start + 0.25]))[0].T @ np.array([0.0, 0.0, 9.81])
            assert np.abs(mean - up_body).max() < 0.35, (mean, up_body)
            assert abs(np.linalg.norm(mean) - 9.81) < 0.35
            checked += 1
    assert checked >= 5


def test_yaw_rate_sign_agrees_with_horizontal_image_motion(ego4d_dataset):
    """Image content moves by -f * integral(gyro_y): turning left (gyro_y < 0) moves it right."""
    root, cfg, _ = ego4d_dataset
    gt = load_gt(root)
    f = (cfg.width / 2) / np.tan(np.deg2rad(cfg.hfov_deg) / 2)
    step = 3
    agree = total = 0
    predicted_all, measured_all = [], []
    for video in gt["videos"]:
        frames, times = decode_gray(root / video["video_path"])
        imu = clean_sorted(read_ego4d_imu(root / video["imu_paths"][0]))
        t = imu["t_ms"] / 1000.0
        for k in range(0, len(frames) - step, step):
            w = (t >= times[k]) & (t < times[k + step])
            if w.sum() < 10:
                continue
            pred_dx = -f * imu["gyro"][w, 1].mean() * (times[k + step] - times[k])
            if not 2.0 <= abs(pred_dx) <= 10.0:  # measurable, and small enough for phase correlation
                continue
            dx, _ = image_shift(frames[k], frames[k + step])
            total += 1
            agree += np.sign(dx) == np.sign(pred_dx)
            predicted_all.append(pred_dx)
            measured_all.append(dx)
    assert total >= 15
    assert agree / total >= 0.85, (agree, total)
    # and the size matches too (robust to the few pairs where phase correlation locks elsewhere)
    assert np.median(np.abs(np.array(measured_all) - np.array(predicted_all))) <= 1.5


def test_phase_correlation_helper_reports_the_direction_of_motion():
    rng = np.random.default_rng(0)
    a = rng.random((48, 64))
    b = np.roll(a, 3, axis=1)  # content moved right by 3 px
    assert image_shift(a, b) == (3, 0)
