"""IMU loading, cleaning, EPIC clock merging and the fixed model window."""

from __future__ import annotations

import numpy as np
import pytest
from dsfakes import EGO4D_IMU_HEADER, grid, num, signal, write_csv, write_ego4d_imu, write_epic_imu

from egodistill.datasets.imu import (
    IMU_CHANNELS,
    ImuFileError,
    ImuWindowConfig,
    clip_imu_window,
    extract_window,
    load_imu_stream,
)


def test_channel_order_is_accel_then_gyro():
    assert IMU_CHANNELS == ("accl_x", "accl_y", "accl_z", "gyro_x", "gyro_y", "gyro_z")


def test_ego4d_known_issues_are_cleaned_and_counted(tmp_path):
    t = grid(10.0)
    values = signal(t)
    rows = []
    for k, (tk, v) in enumerate(zip(t, values, strict=True)):
        ts = "" if k % 100 == 7 else num(tk)  # NULL canonical timestamps
        accl = ["", "", ""] if k % 50 == 3 else [num(x) for x in v[:3]]  # missing acceleration
        rows.append(["0", num(tk), ts, *map(num, v[3:]), *accl])
    rows[10], rows[11] = rows[11], rows[10]  # non-monotonic
    rows.append(list(rows[20]))  # duplicate timestamp
    rows.append(["0", "1", "9.9e12", *["0"] * 6])  # absurd timestamp
    rows.append(["0", "1", "-5000", *["0"] * 6])  # absurd timestamp
    rows.append(["0", "1", "nonsense", *["0"] * 6])  # unparsable timestamp
    path = write_csv(tmp_path / "u.csv", EGO4D_IMU_HEADER, rows)
    with path.open("a") as f:
        f.write("0,1,2,3\n")  # malformed (truncated) row

    s = load_imu_stream("ego4d", [str(path)], video_duration_sec=10.0)
    assert np.all(np.diff(s.t_ms) > 0)
    assert s.dropped == {
        "null_timestamp": 20,
        "duplicate_timestamp": 1,
        "out_of_range": 2,
        "bad_timestamp": 1,
        "malformed_row": 1,
    }
    assert s.qa["out_of_order_rows"] >= 1
    assert s.qa["missing_value_rows"] == 40
    assert np.isnan(s.values[3, :3]).all() and np.isfinite(s.values[3, 3:]).all()
    assert s.rate_hz == pytest.approx(200.0, rel=1e-3)
    assert s.units == ("unknown",) * 6
    ok = np.isfinite(s.values).all(axis=1)
    np.testing.assert_allclose(s.values[ok], signal(s.t_ms[ok]), rtol=1e-5, atol=1e-5)


def test_window_is_linear_interpolation_with_mean_removed(tmp_path):
    path = write_ego4d_imu(tmp_path / "v.csv", grid(10.0, 201.0))
    cfg = ImuWindowConfig()
    s = load_imu_stream("ego4d", [str(path)], 10.0)
    w = extract_window(s, 3.0, cfg)
    assert w.samples.shape == (422, 6) and w.samples.dtype == np.float32
    assert w.mask.all() and w.coverage == 1.0 and w.clipped == 0
    t = 3000.0 + np.arange(422) * 1000.0 / 198.0
    expected = signal(t)
    expected -= expected.mean(axis=0)
    np.testing.assert_allclose(w.samples, expected, atol=2e-4)
    assert np.abs(w.samples.mean(axis=0)).max() < 1e-5
    assert w.max_gap_ms == pytest.approx(1000.0 / 201.0, rel=1e-3)
    raw = extract_window(s, 3.0, cfg.model_copy(update={"subtract_mean": False}))
    np.testing.assert_allclose(raw.samples, signal(t), atol=2e-4)


def test_gaps_are_masked_not_interpolated(tmp_path):
    t = grid(10.0)
    t = t[(t < 4000) | (t > 4300)]  # a 300 ms hole (an uncovered component)
    s = load_imu_stream("ego4d", [str(write_ego4d_imu(tmp_path / "g.csv", t))], 10.0)
    assert s.qa["gaps"] == 1
    w = extract_window(s, 3.5, ImuWindowConfig())
    times = 3500.0 + np.arange(422) * 1000.0 / 198.0
    in_hole = (times > 3995) & (times < 4305)  # between the samples either side of the hole
    assert not w.mask[in_hole].any() and w.mask[~in_hole].all()
    assert (w.samples[~w.mask] == 0).all()
    assert w.coverage == pytest.approx(1 - in_hole.mean())
    assert w.max_gap_ms == pytest.approx(310.0, abs=0.01)


def test_window_beyond_the_stream_is_masked(tmp_path):
    s = load_imu_stream("ego4d", [str(write_ego4d_imu(tmp_path / "e.csv", grid(5.0)))], 5.0)
    w = extract_window(s, 4.0, ImuWindowConfig())
    assert 0.4 < w.coverage < 0.5
    assert w.mask[:100].all() and not w.mask[-100:].any()


def test_saturation_is_counted_as_clipped(tmp_path):
    t = grid(6.0)
    v = signal(t)
    v[300:320, 3] = 0.5  # gyro_x held at full scale
    s = load_imu_stream("ego4d", [str(write_ego4d_imu(tmp_path / "c.csv", t, v))], 6.0)
    assert s.saturation[1, 3] == np.float32(0.5)
    assert extract_window(s, 1.0, ImuWindowConfig()).clipped == 20
    assert extract_window(s, 3.0, ImuWindowConfig()).clipped == 0


def test_epic_files_on_separate_clocks_merge_onto_one_grid(tmp_path):
    accl_t = grid(8.0, 197.0)
    gyro_t = grid(8.0, 400.0, start_ms=2.5)  # other rate, other clock origin
    a, g = write_epic_imu(tmp_path, "P01_101", accl_t, gyro_t)
    s = load_imu_stream("epic", [str(a), str(g)], 8.0)
    np.testing.assert_array_equal(s.t_ms, accl_t)
    assert s.rate_hz == pytest.approx(197.0, rel=1e-3)
    assert s.units == ("m/s^2",) * 3 + ("rad/s",) * 3
    ok = np.isfinite(s.values).all(axis=1)
    assert ok[2:].all() and not ok[0]  # the gyro starts 2.5 ms later
    np.testing.assert_allclose(s.values[ok], signal(accl_t[ok]), atol=1e-4)


def test_epic_first_second_at_minus_1000_ms_is_shifted(tmp_path):
    t = grid(6.0, 200.0, start_ms=-1000.0)
    a, g = write_epic_imu(tmp_path, "P01_101", t, t, offset_ms=1000.0)  # true time = stamp + 1 s
    s = load_imu_stream("epic", [str(a), str(g)], 6.0)
    assert s.t_ms[0] == 0.0 and s.qa["time_shift_ms"] == 1000
    np.testing.assert_allclose(s.values, signal(s.t_ms), atol=1e-5)
    kept = load_imu_stream("epic", [str(a), str(g)], 6.0, ImuWindowConfig(epic_negative_start="drop"))
    assert kept.t_ms[0] == 0.0 and kept.dropped["negative_timestamp"] == 2 * 200


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "absent.csv", "imu_missing"),
        (lambda d: _text(d / "empty.csv", ""), "imu_empty"),
        (lambda d: _text(d / "head.csv", ",".join(EGO4D_IMU_HEADER) + "\n"), "imu_empty"),
        (lambda d: _text(d / "bad.csv", "t,ax,ay,az\n1,2,3,4\n"), "imu_bad_header"),
    ],
)
def test_unusable_files_raise_with_a_reason(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(ImuFileError) as e:
        load_imu_stream("ego4d", [str(path)], 10.0)
    assert e.value.reason == reason and str(path) in str(e.value)
    assert isinstance(e.value, ValueError)


def test_clip_imu_window_from_a_manifest_row(tmp_path):
    path = write_ego4d_imu(tmp_path / "r.csv", grid(6.0))
    row = {"dataset": "ego4d", "imu_paths": [str(path)], "window_start_sec": 1.0, "video_duration_sec": 6.0}
    cfg = ImuWindowConfig()
    w1 = clip_imu_window(row, cfg)
    w2 = clip_imu_window(row, cfg, stream=load_imu_stream("ego4d", [str(path)], 6.0))
    np.testing.assert_array_equal(w1.samples, w2.samples)
    assert w1.rate_hz == pytest.approx(200.0)


def _text(path, text):
    path.write_text(text)
    return path
