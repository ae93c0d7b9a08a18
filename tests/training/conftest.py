"""Fixtures for the training tests: a tiny synthetic dataset and a video whose frames carry their index.

The session-wide ``ray_session`` fixture lives in tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clipfakes import write_band_video


@pytest.fixture(scope="session")
def band_video(tmp_path_factory) -> Path:
    return write_band_video(tmp_path_factory.mktemp("bands") / "bands.mkv")


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory) -> Path:
    """2 synthetic Ego4D-layout videos of 20 s at 64x48, indexed (a handful of train and val clips)."""
    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest, write_manifest
    from egodistill.synthetic import SynthConfig, generate

    root = tmp_path_factory.mktemp("teacher_data")
    data = root / "synth"
    generate(
        SynthConfig(
            layout="ego4d", out=str(data), videos=2, seconds=20, width=64, height=48, audio=False, workers=1
        )
    )
    cfg = IndexConfig(dataset="ego4d", root=str(data), min_class_instances=1)
    result = build_manifest(cfg)
    splits = result.manifest.column("split").to_pylist()
    assert splits.count("train") >= 2 and splits.count("val") >= 1, splits
    path = root / "manifest.parquet"
    write_manifest(result.manifest, str(path), cfg)
    return path
