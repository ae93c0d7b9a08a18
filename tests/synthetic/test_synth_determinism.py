"""Same seed -> same bytes (annotations, IMU, ground truth, boxes; video too with x264 threads=1)."""

from __future__ import annotations

from pathlib import Path

from synthhelpers import load_gt

from egodistill.synthetic import generate
from synthdata import tiny_config


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_the_same_bytes_in_one_process(ego4d_dataset, tmp_path):
    root, _, _ = ego4d_dataset
    again = tmp_path / "again"
    generate(tiny_config("ego4d", again, workers=1))  # serial here, two processes in the fixture
    a, b = _files(root), _files(again)
    assert sorted(a) == sorted(b)
    different = [name for name in a if a[name] != b[name]]
    assert not different, different


def test_another_seed_changes_imu_and_annotations(ego4d_dataset, tmp_path):
    root, _, _ = ego4d_dataset
    other = tmp_path / "other"
    generate(tiny_config("ego4d", other, seed=7, videos=1, workers=1, seconds=8.0))
    v0 = load_gt(root)["videos"][0]
    w0 = load_gt(other)["videos"][0]
    assert v0["video_id"] != w0["video_id"]
    assert (root / v0["imu_paths"][0]).read_bytes()[:4000] != (other / w0["imu_paths"][0]).read_bytes()[:4000]
