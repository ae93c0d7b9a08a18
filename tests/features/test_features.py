"""The features pass: every clip row gets the teacher's output (or a quarantine reason), files are
atomic and per task, a re-run computes only what is missing, and the numbers are the teacher's."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from featurefakes import TEACHER, make_export

from egodistill.features import store
from egodistill.features.config import FeaturesConfig
from egodistill.features.pipeline import run_features
from egodistill.ingest.store import read_clips
from egodistill.tables import validate
from egodistill.teacher.augment import model_input
from egodistill.teacher.dense import ClipRequest, ClipSpec, decode_clips
from egodistill.teacher.export import load_teacher

pytestmark = pytest.mark.ray


def _cfg(clips, teacher, workspace, **kw) -> FeaturesConfig:
    return FeaturesConfig(
        clips=str(clips), teacher_dir=str(teacher), workspace=str(workspace), batch_size=4, **kw
    )


@pytest.fixture(scope="module")
def first_run(tiny_clips, tiny_teacher, tmp_path_factory):
    ws = tmp_path_factory.mktemp("features_ws")
    return ws, run_features(_cfg(tiny_clips, tiny_teacher, ws))


def test_every_row_gets_features_and_counts_reconcile(first_run, tiny_clips):
    ws, summary = first_run
    rows = read_clips(str(tiny_clips))
    (d,) = summary.datasets
    assert summary.ok and d.rows_in == rows.num_rows == d.rows_written and d.rows_quarantined == 0
    table = store.read_features(str(ws / "features"), "ego4d", "tiny")
    validate(table, "teacher_features")
    assert sorted(table.column("clip_id").to_pylist()) == sorted(rows.column("clip_id").to_pylist())
    assert {len(v) for v in table.column("teacher_feature").to_pylist()} == {8 * TEACHER.tiny_width}
    assert {len(v) for v in table.column("teacher_logits").to_pylist()} == {TEACHER.num_classes}
    assert str(table.schema.field("teacher_feature").type.value_type) == "halffloat"
    files = sorted(p.name for p in (ws / "features" / "ego4d" / "tiny").glob("*.parquet"))
    assert len(files) == d.videos == 2 and all(f.startswith("part-") for f in files)


def test_features_are_the_teachers_output_on_the_dense_clip(first_run, tiny_clips, tiny_teacher):
    ws, _ = first_run
    model, cfg = load_teacher(tiny_teacher)
    row = read_clips(str(tiny_clips)).to_pylist()[0]
    got = store.read_features(str(ws / "features"), "ego4d", "tiny").to_pylist()
    got = next(r for r in got if r["clip_id"] == row["clip_id"])
    centre = 0.5 * (row["window_start_sec"] + row["window_end_sec"])
    (clip,) = decode_clips(row["video_path"], [ClipRequest(0, centre, row["video_fps"])], ClipSpec(8, 8, 36))
    with torch.no_grad():
        out = model(model_input(torch.from_numpy(clip.frames[None]), model.input_spec))
    assert np.allclose(got["teacher_logits"], out.logits[0].numpy(), atol=1e-4)
    assert np.allclose(got["teacher_feature"], out.features[0].numpy(), rtol=2e-3, atol=1e-4)
    assert got["clip_start_sec"] == pytest.approx(clip.first_sec) and got["frames_padded"] == 0
    assert (got["num_frames"], got["sample_rate"], got["teacher"]) == (8, 8, "tiny3d")


def test_rerun_computes_only_what_is_missing(first_run, tiny_clips, tiny_teacher):
    ws, _ = first_run
    directory = ws / "features" / "ego4d" / "tiny"
    victim = sorted(directory.glob("part-*.parquet"))[0]
    lost = pq.read_table(victim, columns=["clip_id"]).num_rows
    victim.unlink()
    again = run_features(_cfg(tiny_clips, tiny_teacher, ws))
    (d,) = again.datasets
    assert again.ok and d.clips_processed == lost and d.files_written == 1
    assert victim.exists()  # same deterministic name
    nothing = run_features(_cfg(tiny_clips, tiny_teacher, ws))
    assert nothing.ok and nothing.datasets[0].clips_processed == 0


def test_rows_without_a_teacher_output_are_quarantined(tiny_clips, tiny_teacher, tmp_path):
    broken = tmp_path / "clips"
    shutil.copytree(tiny_clips, broken)
    files = sorted(broken.rglob("split=*/*.parquet"))
    table = pq.read_table(files[0])
    n_broken = table.num_rows
    missing = str(tmp_path / "gone.mp4")
    col = table.schema.get_field_index("video_path")
    table = table.set_column(col, table.schema.field(col), [[missing] * n_broken])
    pq.write_table(table, files[0])
    summary = run_features(_cfg(broken, tiny_teacher, tmp_path / "ws"))
    (d,) = summary.datasets
    assert summary.ok and d.rows_in == d.rows_written + d.rows_quarantined
    assert d.reasons == {"video_missing": n_broken}
    q = store.read_quarantine(str(tmp_path / "ws" / "features"), "ego4d", "tiny")
    validate(q, "quarantine")
    assert set(q.column("item_id").to_pylist()) == set(table.column("clip_id").to_pylist())
    assert set(q.column("stage").to_pylist()) == {"features"}
    assert set(q.column("source_file").to_pylist()) == {missing}


def test_another_teacher_cannot_mix_into_the_folder(first_run, tiny_clips, tmp_path):
    ws, _ = first_run
    other = make_export(tmp_path / "other", seed=1)
    with pytest.raises(store.FeaturesOutputError, match="fingerprint"):
        run_features(_cfg(tiny_clips, other, ws))
