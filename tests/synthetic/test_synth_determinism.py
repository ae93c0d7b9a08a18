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


def test_a_complete_dataset_of_the_same_config_is_reused_and_force_renders_again(tmp_path):
    root = tmp_path / "w"
    cfg = tiny_config("ego4d", root, videos=1, workers=1, seconds=8.0)
    first = generate(cfg)
    video = root / load_gt(root)["videos"][0]["video_path"]
    stamp = video.stat().st_mtime_ns
    again = generate(cfg)
    assert again.reused and not first.reused and video.stat().st_mtime_ns == stamp
    assert again.segments_per_verb == first.segments_per_verb and "reused" in str(again)
    assert not generate(cfg.model_copy(update={"seed": 8})).reused  # another config renders
    imu = root / load_gt(root)["videos"][0]["imu_paths"][0]
    imu.unlink()  # a missing file: the dataset is not complete, so it is rendered again
    assert not generate(cfg.model_copy(update={"seed": 8})).reused and imu.is_file()
    assert not generate(cfg.model_copy(update={"seed": 8}), force=True).reused
