"""Bad-input corpus: each defect ends in its quarantine reason (or a structural error), and
rows in = rows kept + rows quarantined."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from dsfakes import (
    ANNOTATION_COLUMNS,
    clean_ego4d,
    clean_epic,
    ego4d_action,
    epic_row,
    grid,
    make_ego4d,
    signal,
    write_ego4d_imu,
    write_epic_imu,
)

from egodistill.datasets.common import DEFECT_REASONS, FILTER_REASONS, AnnotationError
from egodistill.datasets.config import IndexConfig
from egodistill.datasets.manifest import build_manifest

# ------------------------------------------------------------------------------------------ EPIC


def _append_rows(root: Path, rows: list[dict[str, str]]) -> None:
    with (root / "EPIC_100_train.csv").open("a", newline="") as f:
        csv.writer(f).writerows([r[c] for c in ANNOTATION_COLUMNS] for r in rows)


def _epic_truncated(root: Path) -> None:
    text = (root / "EPIC_100_train.csv").read_text()
    (root / "EPIC_100_train.csv").write_text(text.rstrip("\n")[:-25])  # last row cut mid-way


def _epic_bad_timestamp(root: Path) -> None:
    _append_rows(root, [epic_row("P01_101_90", "P01_101", 3.0, 4.0, 0, start_timestamp="00:00:0x.00")])


def _epic_reversed(root: Path) -> None:
    _append_rows(root, [epic_row("P01_101_91", "P01_101", 5.0, 4.0, 0)])


def _epic_out_of_bounds(root: Path) -> None:
    _append_rows(root, [epic_row("P01_101_92", "P01_101", 19.5, 25.0, 0)])


def _epic_traversal(root: Path) -> None:
    _append_rows(root, [epic_row("P01_101_93", "../../etc/P01_101", 3.0, 4.0, 0, participant_id="P01")])
    _append_rows(root, [epic_row("P01_101_94", "P01_101", 3.0, 4.0, 0, participant_id="..")])


def _epic_unknown_class(root: Path) -> None:
    _append_rows(root, [epic_row("P01_101_95", "P01_101", 3.0, 4.0, 96)])


def _epic_duplicate(root: Path) -> None:
    _append_rows(root, [epic_row("P01_101_0", "P01_101", 3.0, 4.0, 1)])


def _epic_not_in_video_info(root: Path) -> None:
    _append_rows(root, [epic_row("P01_199_0", "P01_199", 3.0, 4.0, 1)])


def _epic_missing_video(root: Path) -> None:
    (root / "P01" / "videos" / "P01_102.MP4").unlink()


def _epic_empty_video(root: Path) -> None:
    (root / "P01" / "videos" / "P01_102.MP4").write_bytes(b"")


def _epic_missing_gyro(root: Path) -> None:
    (root / "P01" / "meta_data" / "P01_102-gyro.csv").unlink()


def _epic_clock_skew(root: Path) -> None:
    t = grid(12.0)
    write_epic_imu(root / "P01" / "meta_data", "P01_102", t, t + 5000.0)


def _epic_imu_header(root: Path) -> None:
    (root / "P01" / "meta_data" / "P01_102-accl.csv").write_text("ms,AccX,AccY,AccZ\n0,1,2,3\n")


def _epic_imu_too_short(root: Path) -> None:
    t = grid(6.0)  # the video is 12 s; clips at 5.5 s and 7.75 s lose their IMU
    write_epic_imu(root / "P01" / "meta_data", "P01_102", t, t)


def _epic_negative_first_second(root: Path) -> None:
    t = grid(12.0, start_ms=-1000.0)  # handled by the shift rule: nothing quarantined
    write_epic_imu(root / "P01" / "meta_data", "P01_102", t, t, offset_ms=1000.0)


def _epic_empty_imu(root: Path) -> None:
    (root / "P01" / "meta_data" / "P01_102-gyro.csv").write_text("")


EPIC_CASES: dict[str, tuple[Callable[[Path], None], dict[str, int]]] = {
    "truncated_csv": (_epic_truncated, {"malformed_row": 1}),
    "unparsable_timestamp": (_epic_bad_timestamp, {"bad_timestamp": 1}),
    "stop_before_start": (_epic_reversed, {"bad_segment": 1}),
    "out_of_bounds_annotation": (_epic_out_of_bounds, {"clip_outside_video": 1}),
    "path_traversal": (_epic_traversal, {"unsafe_id": 2}),
    "unknown_verb_class": (_epic_unknown_class, {"unknown_class": 1}),
    "duplicate_narration_id": (_epic_duplicate, {"duplicate_id": 1}),
    "video_not_in_video_info": (_epic_not_in_video_info, {"video_not_in_metadata": 1}),
    "missing_video": (_epic_missing_video, {"video_missing": 4}),
    "empty_video": (_epic_empty_video, {"video_empty": 4}),
    "missing_imu_file": (_epic_missing_gyro, {"imu_missing": 4}),
    "epic_clock_skew": (_epic_clock_skew, {"imu_clock_skew": 4}),
    "imu_wrong_header": (_epic_imu_header, {"imu_bad_header": 4}),
    "imu_empty_file": (_epic_empty_imu, {"imu_empty": 4}),
    "imu_too_little_coverage": (_epic_imu_too_short, {"imu_low_coverage": 2}),
    "epic_minus_1000ms_start": (_epic_negative_first_second, {}),
}


@pytest.mark.parametrize("case", sorted(EPIC_CASES))
def test_epic_defects(tmp_path, case):
    damage, expected = EPIC_CASES[case]
    root = clean_epic(tmp_path)
    damage(root)
    res = build_manifest(IndexConfig(dataset="epic", root=str(root)))
    assert dict(res.quarantine.counts()) == expected
    assert res.manifest.num_rows + len(res.quarantine) == res.rows_in
    assert set(expected) <= DEFECT_REASONS
    for e in res.quarantine.entries:
        assert e.source_file.endswith("EPIC_100_train.csv") and e.detail
    table = res.quarantine.to_table()  # conforms to the quarantine contract
    assert table.num_rows == len(res.quarantine)


# ----------------------------------------------------------------------------------------- Ego4D


def _fho(root: Path) -> tuple[Path, dict]:
    path = root / "v2" / "annotations" / "fho_main.json"
    return path, json.loads(path.read_text())


def _add_actions(root: Path, *actions: dict) -> None:
    path, doc = _fho(root)
    doc["videos"][0]["annotated_intervals"][0]["narrated_actions"].extend(actions)
    path.write_text(json.dumps(doc))


def _ego_missing_label(root: Path) -> None:
    _add_actions(root, ego4d_action("no-verb", None, 300, 330))


def _ego_missing_critical(root: Path) -> None:
    _add_actions(root, ego4d_action("no-cf", "cut", None, None))


def _ego_bad_frames(root: Path) -> None:
    a = ego4d_action("bad-cf", "cut", 300, 330)
    a["critical_frames"]["pre_frame"] = "abc"
    _add_actions(root, a)


def _ego_reversed(root: Path) -> None:
    _add_actions(root, ego4d_action("rev", "cut", 330, 300))


def _ego_outside(root: Path) -> None:
    _add_actions(root, ego4d_action("late", "cut", 30 * 21, 30 * 22))


def _ego_not_an_object(root: Path) -> None:
    _add_actions(root, "not an action")


def _ego_traversal(root: Path) -> None:
    path, doc = _fho(root)
    doc["videos"][1]["video_uid"] = "../../outside"
    path.write_text(json.dumps(doc))


def _ego_not_in_metadata(root: Path) -> None:
    path = root / "v2" / "ego4d.json"
    doc = json.loads(path.read_text())
    doc["videos"] = doc["videos"][:1]
    path.write_text(json.dumps(doc))


def _ego_imu_known_issues(root: Path) -> None:
    """NULL / duplicate / unsorted / absurd timestamps and empty accl cells: cleaned, not quarantined."""
    t = grid(20.0)
    vals = signal(t)
    vals[::37, :3] = np.nan
    t = t.copy()
    t[::53] = np.nan
    order = np.r_[np.arange(5)[::-1], np.arange(5, len(t))]  # first rows out of order
    t2 = np.r_[t[order], [t[100], 9.9e12, -7e9]]
    v2 = np.r_[vals[order], vals[[100, 0, 0]]]
    write_ego4d_imu(root / "v2" / "imu" / "vid-a.csv", t2, v2)


def _ego_uncovered_component(root: Path) -> None:
    t = grid(20.0)
    write_ego4d_imu(root / "v2" / "imu" / "vid-b.csv", t[(t < 4500) | (t > 7000)])


def _ego_imu_garbage(root: Path) -> None:
    path = root / "v2" / "imu" / "vid-b.csv"
    lines = path.read_bytes().split(b"\n")
    lines[100] = b"0,500.0,500.0,\xff\xfe,0,0,0,0,0"  # bytes that are not text, in a well-formed row
    path.write_bytes(b"\n".join(lines))


def _ego_missing_imu(root: Path) -> None:
    (root / "v2" / "imu" / "vid-b.csv").unlink()


EGO4D_CASES: dict[str, tuple[Callable[[Path], None], dict[str, int]]] = {
    "missing_structured_verb": (_ego_missing_label, {"missing_label": 1}),
    "missing_critical_frames": (_ego_missing_critical, {"missing_critical_frames": 1}),
    "non_numeric_frame": (_ego_bad_frames, {"bad_timestamp": 1}),
    "post_before_pre": (_ego_reversed, {"bad_segment": 1}),
    "clip_after_video_end": (_ego_outside, {"clip_outside_video": 1}),
    "action_not_an_object": (_ego_not_an_object, {"malformed_row": 1}),
    "video_uid_traversal": (_ego_traversal, {"unsafe_id": 5}),
    "video_not_in_ego4d_json": (_ego_not_in_metadata, {"video_not_in_metadata": 5}),
    "imu_known_issues_cleaned": (_ego_imu_known_issues, {}),
    "imu_uncovered_component": (_ego_uncovered_component, {"imu_low_coverage": 3}),
    "imu_file_missing": (_ego_missing_imu, {"imu_missing": 5}),
    "imu_file_not_text": (_ego_imu_garbage, {"imu_unreadable": 5}),
}


@pytest.mark.parametrize("case", sorted(EGO4D_CASES))
def test_ego4d_defects(tmp_path, case):
    damage, expected = EGO4D_CASES[case]
    root = clean_ego4d(tmp_path)
    damage(root)
    res = build_manifest(IndexConfig(dataset="ego4d", root=str(root), min_class_instances=1))
    assert dict(res.quarantine.counts()) == expected
    assert res.manifest.num_rows + len(res.quarantine) == res.rows_in
    assert not set(expected) & FILTER_REASONS


def test_ego4d_imu_known_issues_are_counted(tmp_path):
    root = clean_ego4d(tmp_path)
    _ego_imu_known_issues(root)
    res = build_manifest(IndexConfig(dataset="ego4d", root=str(root)))
    d = res.imu_rows_dropped
    assert d["null_timestamp"] > 0 and d["duplicate_timestamp"] == 1 and d["out_of_range"] == 2
    assert (
        res.manifest.column("imu_coverage").to_pylist()
        and min(res.manifest.column("imu_coverage").to_pylist()) > 0.9
    )


# ------------------------------------------------------------------------------------ structural


def _rm(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


def _write(rel: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).write_text(text)


STRUCTURAL = {
    "epic_missing_train_csv": (
        "epic",
        _rm("EPIC_100_train.csv"),
        "EPIC_100_train.csv: annotation file not found",
    ),
    "epic_wrong_header": (
        "epic",
        _write("EPIC_100_train.csv", "id,video,start,stop\n1,P01_101,0,1\n"),
        "lacks",
    ),
    "epic_empty_csv": ("epic", _write("EPIC_100_validation.csv", ""), "empty file"),
    "epic_missing_verb_classes": ("epic", _rm("EPIC_100_verb_classes.csv"), "EPIC_100_verb_classes.csv"),
    "epic_bad_video_info_row": (
        "epic",
        _write("EPIC_100_video_info.csv", "video_id,duration,fps\nP01_101,long,50\n"),
        "data row 0",
    ),
    "ego4d_missing_fho_main": ("ego4d", _rm("v2/annotations/fho_main.json"), "fho_main.json"),
    "ego4d_invalid_json": ("ego4d", _write("v2/ego4d.json", '{"videos": ['), "not valid JSON"),
    "ego4d_no_videos_list": (
        "ego4d",
        _write("v2/annotations/fho_main.json", '{"clips": []}'),
        "'videos' list",
    ),
}


@pytest.mark.parametrize("case", sorted(STRUCTURAL))
def test_structural_errors_stop_and_name_the_file(tmp_path, case):
    dataset, damage, message = STRUCTURAL[case]
    root = clean_epic(tmp_path) if dataset == "epic" else clean_ego4d(tmp_path)
    damage(root)
    with pytest.raises(AnnotationError, match=message) as e:
        build_manifest(IndexConfig(dataset=dataset, root=str(root)))
    assert str(root) in str(e.value)


def test_missing_root_is_structural(tmp_path):
    with pytest.raises(AnnotationError, match="not a directory"):
        build_manifest(IndexConfig(dataset="epic", root=str(tmp_path / "nope")))


def test_corpus_covers_at_least_twelve_defect_kinds():
    kinds = set(EPIC_CASES) | set(EGO4D_CASES) | set(STRUCTURAL)
    assert len(kinds) >= 12
    reasons = {r for _, exp in list(EPIC_CASES.values()) + list(EGO4D_CASES.values()) for r in exp}
    assert len(reasons) >= 12


def test_no_actions_index_to_an_empty_manifest(tmp_path):
    make_ego4d(tmp_path / "e", [{"uid": "v", "duration": 5.0, "actions": []}])
    res = build_manifest(IndexConfig(dataset="ego4d", root=str(tmp_path / "e")))
    assert res.rows_in == 0 and res.manifest.num_rows == 0
