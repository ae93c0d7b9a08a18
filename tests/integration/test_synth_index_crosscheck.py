"""The readers recover exactly what the synthetic world planted (both layouts).

Every planted segment must come back either as a manifest row with the planted label and the
annotated bounds, or as a quarantine row whose reason the ground truth explains: a rule
(invalid action, rare class) or an IMU defect planted over the clip's window. Anything else is
an unexpected quarantine and fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egodistill.datasets.common import FILTER_REASONS
from egodistill.datasets.config import IndexConfig
from egodistill.datasets.manifest import build_manifest, model_window

IMU_DEFECT_REASONS = {"imu_low_coverage"}


def _ground_truth(root: Path) -> dict:
    return json.loads((root / "synthetic_ground_truth.json").read_text())


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return a0 < b1 and b0 < a1


@pytest.fixture(scope="module", params=["ego4d", "epic"])
def indexed(request, ego4d_dataset, epic_dataset):
    root, _, _ = ego4d_dataset if request.param == "ego4d" else epic_dataset
    split = {"rule": "random_participants"} if request.param == "epic" else {}
    # min_class_instances=1: the tiny world has classes with one clip; the rare-class rule is tested elsewhere
    cfg = IndexConfig(dataset=request.param, root=str(root), split=split, min_class_instances=1)
    return request.param, root, cfg, build_manifest(cfg)


def test_every_planted_segment_is_kept_or_explained(indexed):
    layout, root, cfg, result = indexed
    gt = _ground_truth(root)
    verbs = {v["name"]: v for v in gt["verbs"]}
    rows = {r["clip_id"]: r for r in result.manifest.to_pylist()}
    quarantined = {e.item_id: e for e in result.quarantine.entries}
    planted = [(v, s) for v in gt["videos"] for s in v["segments"]]

    assert result.rows_in == len(planted) == len(rows) + len(quarantined)
    assert len(rows) >= len(planted) // 2, (
        f"most planted segments should be usable: {result.quarantine.counts()}"
    )
    for video, seg in planted:
        clip_id = seg["clip_id"]
        if clip_id in rows:
            assert seg["valid"], f"{clip_id}: an invalid planted action was kept"
            row = rows[clip_id]
            expected_verb = verbs[seg["verb"]]["ego4d_structured_verb" if layout == "ego4d" else "epic_key"]
            assert row["verb"] == expected_verb
            if layout == "epic":
                assert row["verb_class"] == seg["class_id"]
            assert row["video_id"] == video["video_id"]
            assert row["start_sec"] == pytest.approx(seg["annotated_start_sec"], abs=1e-6)
            assert row["end_sec"] == pytest.approx(seg["annotated_end_sec"], abs=1e-6)
            # the annotation is a quantised copy of the planted truth: within a frame (Ego4D) or 5 ms (EPIC)
            tol = 1.0 / video["fps"] if layout == "ego4d" else 0.0051
            assert row["start_sec"] == pytest.approx(seg["start_sec"], abs=tol)
            ws, we = model_window(row["start_sec"], row["end_sec"], video["duration_sec"], cfg)
            assert (row["window_start_sec"], row["window_end_sec"]) == pytest.approx((ws, we))
            assert Path(row["video_path"]).resolve() == (root / video["video_path"]).resolve()
            assert [Path(p).resolve() for p in row["imu_paths"]] == [
                (root / p).resolve() for p in video["imu_paths"]
            ]
            assert row["imu_coverage"] >= cfg.imu.min_coverage
            continue
        entry = quarantined[clip_id]
        if not seg["valid"]:
            assert entry.reason == "action_not_valid", (clip_id, entry.reason, entry.detail)
        elif entry.reason in IMU_DEFECT_REASONS:
            ws, we = model_window(
                seg["annotated_start_sec"], seg["annotated_end_sec"], video["duration_sec"], cfg
            )
            defects = [d for d in video["imu_defects"] if d["kind"] in {"gap", "truncated_end"}]
            assert any(_overlaps(ws, we, d["start_sec"], d["end_sec"]) for d in defects), (
                f"{clip_id}: quarantined as {entry.reason} ({entry.detail}) but no IMU defect was planted there"
            )
        else:
            assert entry.reason in FILTER_REASONS, (
                f"unexpected quarantine of {clip_id}: {entry.reason} {entry.detail}"
            )


def test_labels_are_contiguous_and_splits_present(indexed):
    _, _, _, result = indexed
    labels = sorted(set(result.manifest.column("label").to_pylist()))
    assert labels == list(range(len(labels)))
    assert set(result.manifest.column("split").to_pylist()) == {"train", "val"}
