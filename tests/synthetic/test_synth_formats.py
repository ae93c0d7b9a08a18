"""Every written file parses with plain csv/json as docs/data-formats.md describes the real data."""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from synthhelpers import EPIC_IDS, load_gt, read_ego4d_imu

EGO4D_IMU_HEADER = (
    "component_idx,component_timestamp_ms,canonical_timestamp_ms,gyro_x,gyro_y,gyro_z,accl_x,accl_y,accl_z"
)
EPIC_HEADER = (
    "narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,"
    "stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes"
)
HMS2 = re.compile(r"^\d\d:\d\d:\d\d\.\d\d$")
HMS3 = re.compile(r"^\d\d:\d\d:\d\d\.\d\d\d$")


def _hms(text: str) -> float:
    h, m, s = text.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_ground_truth_has_the_promised_shape(ego4d_dataset, epic_dataset):
    for root, cfg, summary in (ego4d_dataset, epic_dataset):
        gt = load_gt(root)
        assert gt["format"] == "egodistill-synthetic-ground-truth" and gt["version"] == 1
        assert gt["layout"] == cfg.layout and gt["seed"] == cfg.seed
        assert gt["config"]["videos"] == 2 and "out" not in gt["config"]
        assert len(gt["verbs"]) >= 10
        for v in gt["verbs"]:
            assert {"name", "class_id", "appearance", "scene_motion", "head_motion"} <= set(v)
        assert len(gt["videos"]) == 2 == summary.videos
        for video in gt["videos"]:
            for key in ("video_id", "participant_id", "video_path", "imu_paths", "fps", "num_frames"):
                assert key in video
            assert (root / video["video_path"]).is_file()
            assert all((root / p).is_file() for p in video["imu_paths"])
            assert (video["width"], video["height"]) == (cfg.width, cfg.height)
            assert video["duration_sec"] == video["num_frames"] / video["fps"]
            for d in video["imu_defects"]:
                assert d["kind"] and 0 <= d["start_sec"] <= d["end_sec"] <= video["duration_sec"]
            assert video["segments"]
            for s in video["segments"]:
                assert s["start_sec"] < s["end_sec"] and isinstance(s["valid"], bool)
                assert (root / s["annotation_file"]).is_file()
                if s["annotated_start_sec"] is not None:
                    assert abs(s["annotated_start_sec"] - s["start_sec"]) <= 1 / video["fps"] + 0.01
                    assert abs(s["annotated_end_sec"] - s["end_sec"]) <= 1 / video["fps"] + 0.01


def test_no_temporary_files_are_left_behind(ego4d_dataset, epic_dataset):
    for root, _, _ in (ego4d_dataset, epic_dataset):
        assert not [p for p in Path(root).rglob("*") if ".tmp-" in p.name]


def test_ego4d_metadata_and_fho_main_parse(ego4d_dataset):
    root, cfg, _ = ego4d_dataset
    gt = load_gt(root)
    meta = json.loads((root / "v2/ego4d.json").read_text())
    assert {
        "date",
        "version",
        "description",
        "videos",
        "concurrent_video_sets",
        "physical_settings",
        "clips",
    } <= set(meta)
    by_uid = {v["video_uid"]: v for v in meta["videos"]}
    assert set(by_uid) == {v["video_id"] for v in gt["videos"]}
    assert {v["split_fho"] for v in meta["videos"]} == {"train", "val"}
    for v in meta["videos"]:
        assert v["has_imu"] is True and v["video_metadata"]["fps"] == 30.0
        assert v["video_components"][0]["canonical_video_end_frame"] == v["video_metadata"]["num_frames"] - 1
        assert (root / "v2/full_scale" / f"{v['video_uid']}.mp4").is_file()
        assert (root / "v2/imu" / f"{v['video_uid']}.csv").is_file()

    fho = json.loads((root / "v2/annotations/fho_main.json").read_text())
    gt_by_uid = {s["clip_id"]: s for v in gt["videos"] for s in v["segments"]}
    seen = {"valid": 0, "rejected": 0, "flagged": 0}
    for video in fho["videos"]:
        fps = video["video_metadata"]["fps"]
        assert video["video_uid"] in by_uid and fps == 30.0
        for itv in video["annotated_intervals"]:
            assert itv["redacted"] is False
            for a in itv["narrated_actions"]:
                s = gt_by_uid[a["uid"]]
                assert s["annotation_file"] == "v2/annotations/fho_main.json"
                keep = a["is_valid_action"] and not a["is_rejected"] and not a["is_invalid_annotation"]
                assert keep == s["valid"]
                if a["is_rejected"]:
                    assert a["critical_frames"] is None and a["structured_verb"] is None
                    seen["rejected"] += 1
                    continue
                cf = a["critical_frames"]
                assert all(isinstance(x, int) for x in cf.values())
                assert cf["pre_frame"] <= cf["pnr_frame"] <= cf["post_frame"]
                assert cf["pre_frame"] / fps == s["annotated_start_sec"]
                assert cf["post_frame"] / fps == s["annotated_end_sec"]
                assert {k: v - itv["clip_parent_start_frame"] for k, v in cf.items()} == a[
                    "clip_critical_frames"
                ]
                assert a["end_frame"] - a["start_frame"] <= 240
                assert a["structured_verb"]
                seen["valid" if keep else "flagged"] += 1
                for fr in a["frames"]:
                    assert fr["frame_type"] in ("pre_frame", "pnr_frame", "post_frame")
                    for b in fr["boxes"]:
                        bb = b["bbox"]
                        assert bb["x"] >= 0 and bb["x"] + bb["width"] <= cfg.width
    assert seen["valid"] >= 4 and seen["rejected"] + seen["flagged"] >= 1, seen


def test_ego4d_imu_csv_parses_and_shows_the_planted_defects(ego4d_dataset):
    root, _, _ = ego4d_dataset
    kinds = set()
    for video in load_gt(root)["videos"]:
        path = root / video["imu_paths"][0]
        with open(path, newline="") as f:
            header = f.readline().strip()
        assert header == EGO4D_IMU_HEADER
        fields, rows = _rows(path)
        assert all(r["component_idx"] == "0" for r in rows)
        imu = read_ego4d_imu(path)
        t = imu["t_ms"]
        for d in video["imu_defects"]:
            kinds.add(d["kind"])
            lo, hi = d["start_sec"] * 1000, d["end_sec"] * 1000
            comp = imu["component_ms"]
            inside = (comp >= lo - 1e-3) & (comp <= hi + 1e-3)
            if d["kind"] == "null_timestamps":
                assert inside.sum() >= 10 and np.isnan(t[inside]).all()
            elif d["kind"] == "missing_accl":
                assert inside.sum() >= 5 and np.isnan(imu["accl"][inside]).all()
            elif d["kind"] == "out_of_order":
                assert (np.diff(t[inside]) < 0).any()
            elif d["kind"] == "gap":
                clean = np.sort(t[~np.isnan(t)])
                assert np.diff(clean).max() >= 250.0
        # outside the defects: finite, increasing timestamps, gravity-sized accelerometer
        clean = t[~np.isnan(t)]
        assert (np.diff(clean) < 0).sum() <= 1
        assert np.nanmedian(np.linalg.norm(imu["accl"], axis=1)) > 9.0
    assert kinds == {"null_timestamps", "out_of_order", "gap", "missing_accl"}


def test_epic_annotation_csvs_parse_with_the_real_formats(epic_dataset):
    root, cfg, _ = epic_dataset
    gt = load_gt(root)
    gt_by_id = {s["clip_id"]: (v, s) for v in gt["videos"] for s in v["segments"]}
    n_rows = 0
    for name in ("EPIC_100_train.csv", "EPIC_100_validation.csv"):
        with open(root / name, newline="") as f:
            assert f.readline().strip() == EPIC_HEADER
        _, rows = _rows(root / name)
        assert rows, f"{name} is empty"
        for r in rows:
            video, s = gt_by_id[r["narration_id"]]
            assert s["annotation_file"] == name
            assert r["video_id"] == video["video_id"] and r["participant_id"] == video["participant_id"]
            assert re.fullmatch(r"P\d\d_1\d\d", r["video_id"]) and r["narration_id"].startswith(
                r["video_id"] + "_"
            )
            assert HMS2.match(r["start_timestamp"]) and HMS2.match(r["stop_timestamp"])
            assert HMS3.match(r["narration_timestamp"])
            start, stop = _hms(r["start_timestamp"]), _hms(r["stop_timestamp"])
            assert start == s["annotated_start_sec"] and stop == s["annotated_end_sec"]
            assert int(r["start_frame"]) == int(round(start * 100)) * 50 // 100 == int(start * 50 + 1e-9)
            assert int(r["stop_frame"]) == int(stop * 50 + 1e-9)
            assert start <= _hms(r["narration_timestamp"]) <= stop
            nouns, classes = ast.literal_eval(r["all_nouns"]), ast.literal_eval(r["all_noun_classes"])
            assert nouns[0] == r["noun"] and classes[0] == int(r["noun_class"]) and len(nouns) == len(classes)
            assert int(r["verb_class"]) == s["class_id"]
            if s["verb"] in EPIC_IDS:
                assert s["class_id"] == EPIC_IDS[s["verb"]]
            n_rows += 1
    assert n_rows == sum(len(v["segments"]) for v in gt["videos"])
    # participant split: the last participant present is validation
    val_ids = {r["participant_id"] for r in _rows(root / "EPIC_100_validation.csv")[1]}
    assert val_ids == {"P02"}

    fields, verbs = _rows(root / "EPIC_100_verb_classes.csv")
    assert fields == ["id", "key", "instances", "category"]
    keys = {int(v["id"]): v["key"] for v in verbs}
    assert keys[0] == "take" and keys[3] == "open" and keys[67] == "transition"
    assert all(isinstance(ast.literal_eval(v["instances"]), list) for v in verbs)
    fields, info = _rows(root / "EPIC_100_video_info.csv")
    assert fields == ["video_id", "duration", "fps", "resolution"]
    for row in info:
        assert float(row["fps"]) == 50.0 and row["resolution"] == f"{cfg.width}x{cfg.height}"
        assert abs(float(row["duration"]) - cfg.seconds) < 0.05
        pid = row["video_id"].split("_")[0]
        assert (root / pid / "videos" / f"{row['video_id']}.MP4").is_file()


def test_epic_imu_csvs_have_their_own_headers(epic_dataset):
    root, _, _ = epic_dataset
    for video in load_gt(root)["videos"]:
        accl, gyro = (root / p for p in video["imu_paths"])
        assert accl.name == f"{video['video_id']}-accl.csv" and gyro.name == f"{video['video_id']}-gyro.csv"
        assert accl.parent == root / video["participant_id"] / "meta_data"
        assert _rows(accl)[0] == ["Milliseconds", "AcclX", "AcclY", "AcclZ"]
        assert _rows(gyro)[0] == ["Milliseconds", "GyroX", "GyroY", "GyroZ"]
        last_ms = float(_rows(gyro)[1][-1]["Milliseconds"])
        truncated = [d for d in video["imu_defects"] if d["kind"] == "truncated_end"]
        if truncated:
            assert last_ms < truncated[0]["start_sec"] * 1000
        else:
            assert last_ms > (video["duration_sec"] - 1.0) * 1000


def test_per_frame_boxes_parquet(ego4d_dataset):
    root, cfg, _ = ego4d_dataset
    for video in load_gt(root)["videos"]:
        table = pq.read_table(root / video["boxes_path"])
        assert [(f.name, str(f.type)) for f in table.schema] == [
            ("frame_index", "int32"),
            ("object_id", "int32"),
            ("label", "string"),
            ("x", "float"),
            ("y", "float"),
            ("w", "float"),
            ("h", "float"),
        ]
        d = table.to_pydict()
        x, y, w, h = (np.array(d[k]) for k in "xywh")
        assert (x >= 0).all() and (y >= 0).all() and (w >= 1).all() and (h >= 1).all()
        assert (x + w <= cfg.width).all() and (y + h <= cfg.height).all()
        frames = np.array(d["frame_index"])
        assert frames.min() >= 0 and frames.max() < video["num_frames"]
        assert len(set(frames.tolist())) > 0.9 * video["num_frames"]  # the counter is nearly always in view
        assert {"counter", "door", "box", "knife", "cup"} & set(d["label"])
