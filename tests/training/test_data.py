"""Clip rows -> items -> per-video tasks -> decoded rows (the Ray Data map function, called directly)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clipfakes import band_index

from egodistill.datasets.manifest import DenseClipConfig
from egodistill.teacher import data


def test_manifest_rows_are_normalised(tiny_manifest):
    rows = data.load_rows("manifest", str(tiny_manifest))
    assert tuple(rows.column_names) == data.ROW_COLUMNS
    assert set(rows.column("split").to_pylist()) == {"train", "val"}
    classes = data.class_names(rows)
    assert len(classes) == max(rows.column("label").to_pylist()) + 1 and "?" not in classes
    only_val = data.load_rows("manifest", str(tiny_manifest), splits=["val"])
    assert set(only_val.column("split").to_pylist()) == {"val"}
    with pytest.raises(ValueError, match="no rows of dataset 'epic'"):
        data.load_rows("manifest", str(tiny_manifest), dataset="epic")


def test_eval_items_cover_every_segment_densely(tiny_manifest):
    rows = data.load_rows("manifest", str(tiny_manifest))
    items, windows = data.eval_items(rows, DenseClipConfig(stride_sec=0.5))
    assert len(items) == windows.num_rows >= rows.num_rows
    assert {it["segment"] for it in items} == set(range(rows.num_rows))
    for it in items:
        r = rows.slice(it["segment"], 1).to_pylist()[0]
        assert it["label"] == r["label"] and it["video_path"] == r["video_path"]


def test_tasks_group_by_video_in_time_order_and_respect_the_chunk_size(tiny_manifest):
    rows = data.load_rows("manifest", str(tiny_manifest))
    items = data.train_items(rows, repeats=3)
    assert len(items) == 3 * rows.num_rows
    tasks = data.make_tasks(items, clips_per_task=4)
    assert sum(t["num_items"] for t in tasks) == len(items)
    assert all(t["num_items"] <= 4 for t in tasks)
    for t in tasks:
        chunk = json.loads(t["items_json"])
        assert {c["video_path"] for c in chunk} == {t["video_path"]}
        assert [c["centre"] for c in chunk] == sorted(c["centre"] for c in chunk)
    assert sorted(i["item"] for t in tasks for i in json.loads(t["items_json"])) == list(range(len(items)))


def test_decode_task_emits_one_row_per_item_with_failures_flagged(band_video, tmp_path):
    items = [
        {"item": 0, "video_path": str(band_video), "fps": 30.0, "centre": 2.0, "start": 1.5, "end": 2.5, "label": 3, "segment": 0},
        {"item": 1, "video_path": str(band_video), "fps": 30.0, "centre": 4.0, "start": 3.5, "end": 4.5, "label": 1, "segment": 1},
    ]  # fmt: skip
    batch = {
        "video_path": np.array([str(band_video)], dtype=object),
        "items_json": np.array([json.dumps(items)], dtype=object),
    }
    spec = {"num_frames": 4, "sample_rate": 2, "size": 24}
    out = data.decode_task(batch, spec=spec)
    assert out["clip"].shape == (2, 4, 24, 24, 3) and out["ok"].all()
    assert (
        out["item"].tolist() == [0, 1]
        and out["label"].tolist() == [3, 1]
        and out["segment"].tolist() == [0, 1]
    )
    assert [band_index(f) for f in out["clip"][0]] == [57, 59, 61, 63]  # centre 2.0 s = frame 60
    jittered = data.decode_task(batch, spec=spec, jitter=1.0)
    assert jittered["ok"].all()

    missing = [dict(items[0], video_path=str(tmp_path / "gone.mp4"))]
    bad = {
        "video_path": np.array([missing[0]["video_path"]], dtype=object),
        "items_json": np.array([json.dumps(missing)], dtype=object),
    }
    out = data.decode_task(bad, spec=spec, with_reason=True)
    assert not out["ok"][0] and out["reason"][0] == "video_missing" and not out["clip"].any()
