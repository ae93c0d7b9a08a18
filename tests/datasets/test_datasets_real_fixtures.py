"""The readers on real files from the datasets' own releases (../shared/fixtures)."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter

import numpy as np
import pytest
from dsfakes import FIXTURES, grid, placeholder_video, write_ego4d_imu, write_epic_imu

from egodistill.datasets.common import FILTER_REASONS
from egodistill.datasets.config import EpicConfig, IndexConfig
from egodistill.datasets.epic import read_epic, read_verb_classes, read_video_info
from egodistill.datasets.imu import load_imu_stream
from egodistill.datasets.manifest import build_manifest

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(
        not FIXTURES.is_dir(), reason=f"real fixtures not found at {FIXTURES} (../shared is absent)"
    ),
]
EPIC = FIXTURES / "epic100"
EGO4D = FIXTURES / "ego4d"
UDA_VAL = "UDA_annotations/EPIC_100_uda_target_val.csv"


def test_epic_reference_tables():
    classes = read_verb_classes(EPIC / "EPIC_100_verb_classes.csv")
    assert sorted(classes) == list(range(97)) and classes[0] == "take" and classes[1] == "put"
    info = read_video_info(EPIC / "EPIC_100_video_info.csv")
    assert len(info) == 700
    ext = {v: d for v, d in info.items() if int(v.split("_")[1]) >= 100}
    assert len(ext) == 268 and {fps for _, fps in ext.values()} == {50.0}


def test_epic_uda_target_val_all_rows_parse():
    cands, bad, rows_in = read_epic(EPIC, EpicConfig(annotation_files=[UDA_VAL]))
    assert rows_in == 7906 and len(cands) == 7906 and bad == []
    assert {c.participant_id for c in cands} == {"P03", "P06", "P28", "P30"}
    assert len({c.video_id for c in cands}) == 55 and len({c.verb_class for c in cands}) == 77
    assert all(0 <= c.start_sec < c.end_sec <= c.video_duration_sec for c in cands)
    first = cands[0]
    assert (first.clip_id, first.start_sec, first.end_sec, first.verb, first.verb_class) == (
        "P03_101_0",
        2.6,
        3.86,
        "turn-on",
        6,
    )
    assert first.video_path.endswith("P03/videos/P03_101.MP4") and first.fps == 50.0


def test_epic_validation_rows_parse_and_have_no_imu():
    cands, bad, rows_in = read_epic(EPIC, EpicConfig(annotation_files=["EPIC_100_validation.csv"]))
    assert rows_in == 9668 and cands == [] and Counter(e.reason for e in bad) == {"no_imu_video": 9668}
    # with the IMU filter off, every row parses into a clip (P29_05_563 ends 13 ms past the
    # rounded video duration, inside the tolerance)
    cands, bad, _ = read_epic(
        EPIC, EpicConfig(annotation_files=["EPIC_100_validation.csv"], extension_min_index=0)
    )
    assert len(cands) == 9668 and bad == []


def test_epic_index_end_to_end_on_real_rows(tmp_path):
    """All real rows of the three shortest UDA videos, with placeholder videos and synthetic IMU."""
    info = read_video_info(EPIC / "EPIC_100_video_info.csv")
    with (EPIC / UDA_VAL).open(newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    videos = sorted({r[2] for r in rows}, key=lambda v: info[v][0])[:3]
    picked = [r for r in rows if r[2] in videos]
    ann = tmp_path / "annotations"
    ann.mkdir()
    for name in ("EPIC_100_verb_classes.csv", "EPIC_100_video_info.csv"):
        shutil.copy(EPIC / name, ann / name)
    with (ann / "EPIC_100_train.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *picked])
    root = tmp_path / "root"
    for v in videos:
        placeholder_video(root / v[:3] / "videos" / f"{v}.MP4")
        t = grid(info[v][0], 199.0)
        write_epic_imu(root / v[:3] / "meta_data", v, t, t)
    cfg = IndexConfig(
        dataset="epic",
        root=str(root),
        epic={"annotations_dir": str(ann), "annotation_files": ["EPIC_100_train.csv"]},
    )
    res = build_manifest(cfg)
    assert res.rows_in == len(picked) and res.manifest.num_rows > 0
    assert set(res.quarantine.counts()) <= FILTER_REASONS
    m = res.manifest.to_pylist()
    assert all(r["imu_coverage"] == 1.0 and abs(r["imu_rate_hz"] - 199.0) < 0.1 for r in m)
    labels = sorted({r["label"] for r in m})
    assert labels == list(range(len(labels)))


def test_ego4d_official_imu_sample():
    s = load_imu_stream("ego4d", [str(EGO4D / "imu_sample" / "ego4d_docs_imu_sample.csv")])
    np.testing.assert_allclose(s.t_ms, [0.0, 4.975124378109452, 9.950248756218905])
    assert s.rate_hz == pytest.approx(201.0)
    np.testing.assert_allclose(
        s.values[0],
        [
            -2.278177458033573,
            -1.0311750599520384,
            -1.0311750599520384,
            0.025559105431309903,
            0.25026624068157616,
            0.11182108626198084,
        ],
        rtol=1e-6,
    )
    assert s.dropped == {}


def test_ego4d_real_rows_index(tmp_path):
    """Real ego4d.json rows + the real fho_main rows (a redacted video, and the excerpt's three
    narrated actions wrapped in their interval). has_imu is switched on for the first metadata row
    so that its clip reaches the IMU checks; everything else is as released."""
    samples = EGO4D / "annotations_sample"
    meta = json.loads((samples / "ego4d_json_sample.json").read_text())
    redacted = json.loads((samples / "fho_main_sample_redacted_video.v2.json").read_text())
    actions = json.loads((samples / "fho_main_narrated_actions_excerpt.v2.json").read_text())
    uid = meta["videos"][0]["video_uid"]
    meta["videos"][0]["has_imu"] = True
    interval = {
        "clip_id": "121",
        "clip_uid": "4f68183f-610a-44de-b102-e7f300b49dcd",
        "start_sec": 0.0,
        "end_sec": 300.0,
        "clip_parent_start_sec": 0.0,
        "clip_parent_end_sec": 308.0,
        "redacted": False,
        "narrated_actions": actions,
    }
    fho = {
        "videos": [
            *redacted["videos"],
            {"video_uid": uid, "video_metadata": {"fps": 30.0}, "annotated_intervals": [interval]},
        ]
    }
    base = tmp_path / "v2"
    (base / "annotations").mkdir(parents=True)
    (base / "ego4d.json").write_text(json.dumps(meta))
    (base / "annotations" / "fho_main.json").write_text(json.dumps(fho))
    placeholder_video(base / "full_scale" / f"{uid}.mp4")
    write_ego4d_imu(base / "imu" / f"{uid}.csv", grid(40.0))

    res = build_manifest(IndexConfig(dataset="ego4d", root=str(tmp_path), min_class_instances=1))
    assert res.rows_in == 3 and dict(res.quarantine.counts()) == {"action_not_valid": 2}
    (row,) = res.manifest.to_pylist()
    assert row["clip_id"] == "3b867f4f-958b-4735-aecd-5984998658a7" and row["verb"] == "open"
    assert row["start_sec"] == pytest.approx(1029 / 30) and row["end_sec"] == pytest.approx(1063 / 30)
    assert row["video_duration_sec"] == 415.533 and row["source_row"] == 2
