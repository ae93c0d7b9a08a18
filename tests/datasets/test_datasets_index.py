"""Indexing clean tiny layouts: clips, windows, labels, splits, manifest files, dense clips."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from dsfakes import clean_ego4d, clean_epic, ego4d_action, make_ego4d

from egodistill.datasets.common import FILTER_REASONS
from egodistill.datasets.config import IndexConfig
from egodistill.datasets.manifest import (
    DenseClipConfig,
    build_manifest,
    dense_clips,
    model_window,
    read_manifest,
    write_manifest,
)
from egodistill.tables import SchemaError

WINDOW = 422 / 198.0


def _cfg(dataset, root, **kw):
    return IndexConfig(dataset=dataset, root=str(root), **kw)


def test_epic_clean_layout(tmp_path):
    res = build_manifest(_cfg("epic", clean_epic(tmp_path)))
    m = res.manifest.to_pylist()
    assert len(m) == 12 and len(res.quarantine) == 0 and res.rows_in == 12
    first = m[0]
    assert first["clip_id"] == "P01_101_0" and first["participant_id"] == "P01"
    assert (first["start_sec"], first["end_sec"]) == (1.0, 2.2)
    assert first["verb"] == "take" and first["verb_class"] == 0 and first["label"] == 0
    assert first["video_path"].endswith("P01/videos/P01_101.MP4")
    assert [p.rsplit("/", 1)[1] for p in first["imu_paths"]] == ["P01_101-accl.csv", "P01_101-gyro.csv"]
    assert first["fps"] == 50.0 and first["video_duration_sec"] == 20.0
    assert first["imu_rate_hz"] == pytest.approx(200.0) and first["imu_coverage"] == 1.0
    assert first["imu_units"] == ["m/s^2"] * 3 + ["rad/s"] * 3
    assert first["source_file"].endswith("EPIC_100_train.csv") and first["source_row"] == 0
    # seed 000: camera-wearers P30, P35, P37 are the evaluation split
    assert {r["split"] for r in m if r["participant_id"] == "P30"} == {"val"}
    assert {r["split"] for r in m if r["participant_id"] == "P01"} == {"train"}
    for r in m:
        centre = 0.5 * (r["start_sec"] + r["end_sec"])
        ws = min(max(centre - WINDOW / 2, 0.0), r["video_duration_sec"] - WINDOW)
        assert r["window_start_sec"] == pytest.approx(ws)
        assert r["window_end_sec"] - r["window_start_sec"] == pytest.approx(WINDOW)


def test_ego4d_clean_layout_and_per_class_split(tmp_path):
    res = build_manifest(_cfg("ego4d", clean_ego4d(tmp_path)))
    m = res.manifest.to_pylist()
    assert len(m) == 10 and len(res.quarantine) == 0
    act0 = next(r for r in m if r["clip_id"] == "act-0")
    assert act0["start_sec"] == pytest.approx(60 / 30) and act0["end_sec"] == pytest.approx(93 / 30)
    assert act0["verb"] == "open" and act0["participant_id"] is None
    assert act0["video_path"].endswith("v2/full_scale/vid-a.mp4") and act0["imu_paths"][0].endswith(
        "v2/imu/vid-a.csv"
    )
    # verbs sorted: cut=0, open=1, take=2; labels contiguous over the kept classes
    assert {(r["verb"], r["verb_class"], r["label"]) for r in m} == {
        ("cut", 0, 0),
        ("open", 1, 1),
        ("take", 2, 2),
    }
    per_class = {}
    for r in m:
        per_class.setdefault(r["verb"], []).append(r["split"])
    # 70/30 per class: 4 instances -> 1 val (round 1.2), 2 instances -> 1 val
    assert {v: s.count("val") for v, s in per_class.items()} == {"cut": 1, "open": 1, "take": 1}
    again = build_manifest(_cfg("ego4d", tmp_path)).manifest
    assert again.column("split").to_pylist() == res.manifest.column("split").to_pylist()
    other = build_manifest(_cfg("ego4d", tmp_path, seed=7)).manifest
    assert other.num_rows == 10


def test_rare_classes_are_quarantined_and_labels_stay_contiguous(tmp_path):
    actions = [
        ego4d_action(f"a{k}", v, 40 + 50 * k, 70 + 50 * k)
        for k, v in enumerate(["cut", "cut", "zap", "open", "open"])
    ]
    make_ego4d(tmp_path, [{"uid": "v1", "duration": 12.0, "actions": actions}])
    res = build_manifest(_cfg("ego4d", tmp_path))
    assert res.quarantine.counts() == {"rare_class": 1}
    assert sorted({(r["verb"], r["verb_class"], r["label"]) for r in res.manifest.to_pylist()}) == [
        ("cut", 0, 0),
        ("open", 1, 1),
    ]


def test_split_rules(tmp_path):
    clean_ego4d(tmp_path / "e")
    by_video = build_manifest(
        _cfg("ego4d", tmp_path / "e", split={"rule": "by_video", "val_fraction": 0.5})
    ).manifest
    pairs = set(
        zip(by_video.column("video_id").to_pylist(), by_video.column("split").to_pylist(), strict=True)
    )
    assert len(pairs) == 2 and {s for _, s in pairs} == {"train", "val"}

    videos = [
        {
            "uid": "va",
            "duration": 8.0,
            "split_fho": "train",
            "actions": [ego4d_action("x1", "cut", 30, 60), ego4d_action("x2", "cut", 90, 120)],
        },
        {"uid": "vb", "duration": 8.0, "split_fho": "multi", "actions": [ego4d_action("y1", "cut", 30, 60)]},
        {"uid": "vc", "duration": 8.0, "split_fho": "val", "actions": [ego4d_action("z1", "cut", 30, 60)]},
    ]
    make_ego4d(tmp_path / "f", videos)
    res = build_manifest(_cfg("ego4d", tmp_path / "f", split={"rule": "split_fho"}))
    assert dict(
        zip(res.manifest.column("clip_id").to_pylist(), res.manifest.column("split").to_pylist(), strict=True)
    ) == {
        "x1": "train",
        "x2": "train",
        "z1": "val",
    }
    assert res.quarantine.counts() == {"no_split": 1}

    clean_epic(tmp_path / "p")
    rnd = build_manifest(
        _cfg("epic", tmp_path / "p", split={"rule": "random_participants", "val_fraction": 0.5})
    ).manifest
    pairs = set(zip(rnd.column("participant_id").to_pylist(), rnd.column("split").to_pylist(), strict=True))
    assert len(pairs) == 2 and {s for _, s in pairs} == {"train", "val"}
    src = build_manifest(_cfg("epic", tmp_path / "p", split={"rule": "source_file"})).manifest
    assert set(src.column("split").to_pylist()) == {"train"}
    with pytest.raises(ValueError, match="split_fho"):
        _cfg("epic", tmp_path / "p", split={"rule": "split_fho"})


def test_filtered_rows_are_rules_not_defects(tmp_path):
    actions = [
        ego4d_action("ok1", "cut", 30, 60),
        ego4d_action("ok2", "cut", 90, 120),
        ego4d_action("rej", None, None, None, is_valid_action=False, is_rejected=True),
    ]
    make_ego4d(
        tmp_path,
        [
            {"uid": "v1", "duration": 8.0, "actions": actions},
            {"uid": "v2", "duration": 8.0, "has_imu": False, "actions": [ego4d_action("n1", "cut", 30, 60)]},
        ],
    )
    res = build_manifest(_cfg("ego4d", tmp_path))
    assert res.quarantine.counts() == {"action_not_valid": 1, "no_imu_video": 1}
    assert set(res.quarantine.counts()) <= FILTER_REASONS
    assert res.manifest.num_rows + len(res.quarantine) == res.rows_in == 4


def test_manifest_files_round_trip_and_validate(tmp_path):
    cfg = _cfg("epic", clean_epic(tmp_path / "d"))
    res = build_manifest(cfg)
    out = str(tmp_path / "m.parquet")
    write_manifest(res.manifest, out, cfg)
    back = read_manifest(out)
    assert back.equals(res.manifest)
    assert b"min_class_instances" in back.schema.metadata[b"egodistill.index_config"]
    dense = dense_clips(back)
    assert dense.num_rows == back.num_rows  # all clean segments (1.2 s) are shorter than the window
    assert dense.column("window_start_sec").to_pylist() == back.column("window_start_sec").to_pylist()
    pa_bad = res.manifest.drop_columns(["label"])
    import pyarrow.parquet as pq

    pq.write_table(pa_bad, tmp_path / "bad.parquet")
    with pytest.raises(SchemaError, match="label"):
        read_manifest(str(tmp_path / "bad.parquet"))


def test_model_window_is_kept_inside_the_video():
    assert model_window(0.0, 0.4, 30.0)[0] == 0.0
    ws, we = model_window(29.5, 29.9, 30.0)
    assert we == pytest.approx(30.0)
    ws, we = model_window(0.0, 0.4, 1.0)  # video shorter than the window: centred, not clamped
    assert ws == pytest.approx(0.2 - WINDOW / 2)


def test_dense_clips_cover_the_segment():
    row = {
        "clip_id": "c",
        "start_sec": 10.0,
        "end_sec": 20.0,
        "window_start_sec": 13.93,
        "window_end_sec": 13.93 + WINDOW,
        "video_duration_sec": 100.0,
    }
    d = dense_clips(row).to_pylist()
    starts = np.array([r["window_start_sec"] for r in d])
    assert starts[0] == 10.0 and d[-1]["window_end_sec"] == pytest.approx(20.0)
    assert np.diff(starts).max() <= WINDOW / 2 + 1e-9 and len(d) == d[0]["num_dense"] == 9
    assert [r["dense_index"] for r in d] == list(range(9))
    capped = dense_clips(row, DenseClipConfig(max_clips=3)).column("window_start_sec").to_pylist()
    assert capped[0] == 10.0 and capped[-1] == pytest.approx(20.0 - WINDOW)
    short = {**row, "end_sec": 11.0, "window_start_sec": 9.43, "window_end_sec": 9.43 + WINDOW}
    assert dense_clips(short).column("window_start_sec").to_pylist() == [9.43]
    table = pa.Table.from_pylist([row, {**short, "clip_id": "d"}])
    assert dense_clips(table).num_rows == 10
