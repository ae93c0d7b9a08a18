"""A tiny student workspace: 2 synthetic videos -> manifest -> clips (9 frames + first/last at 32 px)
-> random tiny teacher -> teacher features -> student inputs (dense clips, f_I cache, join). The session-wide ``ray_session`` lives in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from egodistill.models.config import TeacherConfig

TEACHER = TeacherConfig(name="tiny3d", weights="none", crop_size=32, tiny_width=8, num_classes=5)


@pytest.fixture(scope="session")
def student_ws(ray_session, tmp_path_factory) -> Path:
    import torch

    from egodistill.datasets.config import IndexConfig
    from egodistill.datasets.manifest import build_manifest, read_manifest, write_manifest
    from egodistill.features.config import FeaturesConfig
    from egodistill.features.pipeline import run_features
    from egodistill.ingest.config import IngestConfig
    from egodistill.ingest.pipeline import run_ingest
    from egodistill.models.teachers import build_teacher
    from egodistill.student.products import StudentInputsConfig, run_student_inputs
    from egodistill.synthetic import SynthConfig, generate
    from egodistill.teacher.export import write_export

    ws = tmp_path_factory.mktemp("student_ws")
    generate(SynthConfig(layout="ego4d", out=str(ws / "synth"), videos=2, seconds=20, width=64, height=48,
                         audio=False, workers=1))  # fmt: skip
    cfg = IndexConfig(dataset="ego4d", root=str(ws / "synth"), min_class_instances=1)
    manifest = ws / "manifests" / "ego4d.parquet"
    manifest.parent.mkdir()
    write_manifest(build_manifest(cfg).manifest, str(manifest), cfg)
    summary = run_ingest(IngestConfig(manifest=str(manifest), out=str(ws / "clips"),
                                      frames={"count": 4, "short_side": 32, "crop_size": 32},
                                      resources={"progress_bars": False}))  # fmt: skip
    assert summary.ok and summary.rows_written >= 4
    n_classes = max(read_manifest(str(manifest)).column("label").to_pylist()) + 1
    teacher = TEACHER.model_copy(update={"num_classes": n_classes})
    torch.manual_seed(0)
    export = write_export(ws / "teacher", build_teacher(teacher).state_dict(), teacher,
                          {"model_name": "tiny", "clip": {"decode_size": 36}})  # fmt: skip
    fs = run_features(FeaturesConfig(clips=str(ws / "clips"), workspace=str(ws), teacher_dir=str(export)))
    assert fs.ok
    inputs = run_student_inputs(StudentInputsConfig(workspace=str(ws), dataset="ego4d", image_weights="none"))
    assert inputs.sources["clips"]["rows_written"] >= 4 and "clips_dense" in inputs.sources
    return ws
