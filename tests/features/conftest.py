"""Inputs for the features tests: a tiny synthetic dataset, ingested, and an untrained tiny teacher export.

The session-wide ``ray_session`` fixture lives in tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from featurefakes import make_export


@pytest.fixture(scope="session")
def tiny_clips(ray_session, tmp_path_factory) -> Path:
    """2 synthetic videos of 20 s at 64x48 -> manifest -> clips dataset (frames at 32 px)."""
    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest, write_manifest
    from egodistill.ingest.config import IngestConfig
    from egodistill.ingest.pipeline import run_ingest
    from egodistill.synthetic import SynthConfig, generate

    root = tmp_path_factory.mktemp("features_data")
    generate(
        SynthConfig(
            layout="ego4d",
            out=str(root / "synth"),
            videos=2,
            seconds=20,
            width=64,
            height=48,
            audio=False,
            workers=1,
        )
    )
    cfg = IndexConfig(dataset="ego4d", root=str(root / "synth"), min_class_instances=1)
    manifest = root / "manifest.parquet"
    write_manifest(build_manifest(cfg).manifest, str(manifest), cfg)
    out = root / "clips"
    summary = run_ingest(
        IngestConfig(
            manifest=str(manifest),
            out=str(out),
            frames={"count": 1, "short_side": 32, "crop_size": 32},
            resources={"progress_bars": False},
        )
    )
    assert summary.ok and summary.rows_written >= 4
    return out


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory) -> Path:
    return make_export(tmp_path_factory.mktemp("teacher") / "tiny")
