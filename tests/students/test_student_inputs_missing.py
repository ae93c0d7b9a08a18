"""Rows that lack an input are counted and named by the join stage without collecting the dataset."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from egodistill.features import store as fstore
from egodistill.ingest.store import clip_files
from egodistill.student.join import QUARANTINE_DIR, JoinSpec, join_inputs
from egodistill.student.stream import InputsView, student_dataset


def _no_collect(*_a, **_k):
    raise AssertionError("the dataset was collected on the driver")


def test_missing_inputs_are_reported_without_collecting_the_dataset(student_ws, tmp_path, monkeypatch):
    import ray.data

    clips = clip_files(str(student_ws / "clips"), "ego4d")[1]
    _, teacher_files = fstore.list_parquet(fstore.model_dir(str(student_ws / "features"), "ego4d", "tiny"))
    _, image_files = fstore.list_parquet(
        fstore.model_dir(str(student_ws / "features"), "ego4d", "image_resnet18-random")
    )
    table = pq.read_table(teacher_files[0])
    dropped_teacher = table.column("clip_id")[0].as_py()
    pq.write_table(table.slice(1), tmp_path / "teacher.parquet")
    image = pq.read_table(image_files[0])
    dropped_image = image.column("clip_id")[0].as_py()
    pq.write_table(image.slice(1), tmp_path / "image.parquet")

    for name in ("take_all", "take", "take_batch", "to_pandas", "to_arrow_refs"):
        monkeypatch.setattr(ray.data.Dataset, name, _no_collect)
    spec = JoinSpec(dataset="ego4d", source="clips", clip_files=clips,
                    image_files=[str(tmp_path / "image.parquet"), *image_files[1:]],
                    teachers={"t": [str(tmp_path / "teacher.parquet"), *teacher_files[1:]]},
                    out=str(tmp_path / "joined"))  # fmt: skip
    summary = join_inputs(spec)

    assert summary["rows_in"] == summary["rows_written"] + summary["rows_quarantined"]
    assert summary["missing"]["image_features"] == {"count": 1, "examples": [dropped_image]}
    if dropped_teacher != dropped_image:
        assert summary["missing"]["teacher_features:t"] == {"count": 1, "examples": [dropped_teacher]}
    quarantine = pq.read_table(tmp_path / "joined" / QUARANTINE_DIR)
    assert quarantine.column("clip_id").to_pylist() == [dropped_image]
    assert quarantine.column("reason").to_pylist() == ["missing_image_features"]
    assert json.loads((tmp_path / "joined" / "_summary.json").read_text())["rows_quarantined"] == 1

    view = InputsView(str(tmp_path / "joined"), summary)
    notes = view.notes("train", "t")
    assert any(dropped_image in n and "quarantined" in n for n in notes)
    monkeypatch.undo()
    rows = student_dataset(view, "train", num_frames=1, strategy="uniform", seed=0, teacher="t").count()
    train = set()
    for path in clips:  # one file at a time: no hive partition columns
        t = pq.read_table(path, columns=["clip_id", "split"], partitioning=None)
        train |= {c for c, s in zip(t.column("clip_id").to_pylist(), t.column("split").to_pylist(), strict=True)
                  if s == "train"}  # fmt: skip
    assert rows == len(train - {dropped_image, dropped_teacher})


@pytest.mark.parametrize("wanted", ["nope"])
def test_a_job_without_its_inputs_stops_naming_the_command(tmp_path, wanted):
    from egodistill.config import ConfigError
    from egodistill.methods.egodistill.config import DistillJobConfig
    from egodistill.student.driver import require_inputs

    cfg = DistillJobConfig(workspace=str(tmp_path), student={"image_weights": "none"}, data={"teacher_model": wanted})
    with pytest.raises(ConfigError, match="egodistill student-inputs --workspace"):
        require_inputs(cfg, needs_teacher=True, evaluates=True)
