"""Issue 17: IMU quarantine reasons name the defect (imu_nan, imu_timestamp_units), not imu_low_coverage."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from egodistill.datasets.common import DEFECT_REASONS
from egodistill.datasets.imu import EGO4D_IMU_HEADER, ImuFileError, ImuWindowConfig, load_imu_stream


def _write(
    path: Path, seconds: float = 10.0, rate: float = 200.0, time_scale: float = 1.0, nan_gyro=False
) -> Path:
    t = np.arange(int(seconds * rate)) * (1000.0 / rate)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EGO4D_IMU_HEADER)
        for tk in t:
            gyro = ["NaN"] * 3 if nan_gyro else [repr(float(0.01 * tk / 1000)), "0.1", "0.2"]
            w.writerow(
                ["0", repr(float(tk * time_scale)), repr(float(tk * time_scale)), *gyro, "0.0", "9.8", "0.1"]
            )
    return path


def test_all_nan_gyro_is_imu_nan(tmp_path):
    with pytest.raises(ImuFileError) as e:
        load_imu_stream("ego4d", [str(_write(tmp_path / "i.csv", nan_gyro=True))], 10.0, ImuWindowConfig())
    assert e.value.reason == "imu_nan" and "gyro_x, gyro_y, gyro_z" in str(e.value)


@pytest.mark.parametrize("duration", [10.0, None], ids=["with-duration", "no-duration"])
def test_microsecond_timestamps_are_imu_timestamp_units(tmp_path, duration):
    path = _write(tmp_path / "i.csv", time_scale=1000.0)
    with pytest.raises(ImuFileError) as e:
        load_imu_stream("ego4d", [str(path)], duration, ImuWindowConfig())
    assert e.value.reason == "imu_timestamp_units" and "microseconds" in str(e.value)


def test_a_clean_file_still_loads_and_reasons_are_known_defects(tmp_path):
    stream = load_imu_stream("ego4d", [str(_write(tmp_path / "i.csv"))], 10.0, ImuWindowConfig())
    assert abs(stream.rate_hz - 200.0) < 1.0
    assert {"imu_nan", "imu_timestamp_units"} <= DEFECT_REASONS
