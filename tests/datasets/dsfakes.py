"""Writers for tiny Ego4D / EPIC-Kitchens layouts (data-formats.md §1.1, §2.1) used by the tests.

Videos are placeholder bytes (the index never decodes video); IMU CSVs carry a smooth known signal
so windows can be checked against the formula.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from egodistill.datasets.epic import ANNOTATION_COLUMNS
from egodistill.datasets.imu import EGO4D_IMU_HEADER, EPIC_ACCL_HEADER, EPIC_GYRO_HEADER

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
FIXTURES = SHARED / "fixtures"

VERBS = ["take", "put", "wash", "open", "close", "cut"]


def signal(t_ms: np.ndarray) -> np.ndarray:
    """(n, 6) smooth IMU-like values in IMU_CHANNELS order (accl then gyro)."""
    t = np.asarray(t_ms, dtype=float) / 1000.0
    return np.stack(
        [
            0.3 * np.sin(2 * np.pi * 0.7 * t) - 9.0,
            0.2 * np.cos(2 * np.pi * 0.5 * t),
            0.1 * np.sin(2 * np.pi * 1.3 * t) + 1.0,
            0.05 * np.sin(2 * np.pi * 0.9 * t),
            0.04 * np.cos(2 * np.pi * 1.1 * t),
            0.03 * t,
        ],
        axis=1,
    )


def num(x: float) -> str:
    """Shortest exact text of a float (numpy 2 reprs read 'np.float64(...)')."""
    return repr(float(x))


def grid(duration_s: float, rate_hz: float = 200.0, start_ms: float = 0.0) -> np.ndarray:
    return start_ms + np.arange(int(duration_s * rate_hz) + 1) * (1000.0 / rate_hz)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_ego4d_imu(path: Path, t_ms: np.ndarray, values: np.ndarray | None = None) -> Path:
    """Ego4D IMU CSV: gyro before accel in the file; None/NaN timestamps are written empty."""
    values = signal(np.nan_to_num(t_ms)) if values is None else values
    rows = []
    for t, v in zip(t_ms, values, strict=True):
        ts = "" if t is None or (isinstance(t, float) and np.isnan(t)) else repr(float(t))
        cells = ["" if np.isnan(x) else repr(float(x)) for x in v]
        rows.append(["0", ts, ts, *cells[3:], *cells[:3]])
    return write_csv(path, EGO4D_IMU_HEADER, rows)


def write_epic_imu(
    meta_dir: Path, video_id: str, accl_t: np.ndarray, gyro_t: np.ndarray, offset_ms: float = 0.0
) -> tuple[Path, Path]:
    """-accl.csv and -gyro.csv with the signal sampled at (t + offset_ms) on each file's own clock."""
    a = signal(accl_t + offset_ms)[:, :3]
    g = signal(gyro_t + offset_ms)[:, 3:]
    pa_ = write_csv(
        meta_dir / f"{video_id}-accl.csv",
        EPIC_ACCL_HEADER,
        ([num(t), *map(num, v)] for t, v in zip(accl_t, a, strict=True)),
    )
    pg = write_csv(
        meta_dir / f"{video_id}-gyro.csv",
        EPIC_GYRO_HEADER,
        ([num(t), *map(num, v)] for t, v in zip(gyro_t, g, strict=True)),
    )
    return pa_, pg


def placeholder_video(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42 placeholder")
    return path


# ---------------------------------------------------------------------------------------------- EPIC


def hms(sec: float) -> str:
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:05.2f}"


def epic_row(
    narration_id: str, video_id: str, start: float, stop: float, verb_class: int, **over: str
) -> dict[str, str]:
    row = {
        "narration_id": narration_id,
        "participant_id": video_id.split("_")[0],
        "video_id": video_id,
        "narration_timestamp": hms(start) + "0",
        "start_timestamp": hms(start),
        "stop_timestamp": hms(stop),
        "start_frame": str(int(start * 50)),
        "stop_frame": str(int(stop * 50)),
        "narration": f"{VERBS[verb_class % len(VERBS)]} thing",
        "verb": VERBS[verb_class % len(VERBS)],
        "verb_class": str(verb_class),
        "noun": "thing",
        "noun_class": "7",
        "all_nouns": "['thing']",
        "all_noun_classes": "[7]",
    }
    row.update(over)
    return row


def make_epic(
    root: Path,
    durations: dict[str, float],
    rows: list[dict[str, str]],
    *,
    validation_rows: list[dict[str, str]] | None = None,
    imu: bool = True,
) -> Path:
    """EPIC layout under root: annotation CSVs at the top, PXX/videos and PXX/meta_data below."""
    write_csv(
        root / "EPIC_100_verb_classes.csv",
        ["id", "key", "instances", "category"],
        ([i, v, f"['{v}']", "misc"] for i, v in enumerate(VERBS)),
    )
    write_csv(
        root / "EPIC_100_video_info.csv",
        ["video_id", "duration", "fps", "resolution"],
        ([v, d, 50.0, "1920x1080"] for v, d in durations.items()),
    )
    write_csv(
        root / "EPIC_100_train.csv", ANNOTATION_COLUMNS, ([r[c] for c in ANNOTATION_COLUMNS] for r in rows)
    )
    write_csv(
        root / "EPIC_100_validation.csv",
        ANNOTATION_COLUMNS,
        ([r[c] for c in ANNOTATION_COLUMNS] for r in validation_rows or []),
    )
    for vid, duration in durations.items():
        part = vid.split("_")[0]
        placeholder_video(root / part / "videos" / f"{vid}.MP4")
        if imu and int(vid.split("_")[1]) >= 100:
            write_epic_imu(root / part / "meta_data", vid, grid(duration, 200.0), grid(duration, 200.0))
    return root


def clean_epic(root: Path) -> Path:
    """Two participants, three IMU videos, 12 clean rows over 3 verb classes."""
    durations = {"P01_101": 20.0, "P01_102": 12.0, "P30_101": 16.0}
    rows = []
    for vid, duration in durations.items():
        for k in range(4):
            start = 1.0 + k * (duration - 3.0) / 4
            rows.append(epic_row(f"{vid}_{k}", vid, start, start + 1.2, k % 3))
    return make_epic(root, durations, rows)


# ---------------------------------------------------------------------------------------------- Ego4D


def ego4d_action(
    uid: str, verb: str | None, pre: int | None, post: int | None, **over: Any
) -> dict[str, Any]:
    cf = (
        None
        if pre is None
        else {
            "pre_45": pre - 45,
            "pre_30": pre - 30,
            "pre_15": pre - 15,
            "pre_frame": pre,
            "contact_frame": pre + 5,
            "pnr_frame": pre + 10,
            "post_frame": post,
        }
    )
    narr = (pre or 0) / 30.0
    action = {
        "warnings": [],
        "uid": uid,
        "start_sec": max(0.0, narr - 4),
        "end_sec": narr + 4,
        "start_frame": max(0, (pre or 0) - 120),
        "end_frame": (pre or 0) + 120,
        "is_valid_action": True,
        "is_partial": False,
        "narration_timestamp_sec": narr,
        "narration_text": f"#C C {verb}s something",
        "structured_verb": verb,
        "freeform_verb": None,
        "state_transition": None,
        "critical_frames": cf,
        "clip_critical_frames": cf,
        "frames": None,
        "is_rejected": False,
        "is_invalid_annotation": False,
        "reject_reason": None,
        "stage": None,
    }
    action.update(over)
    return action


def make_ego4d(root: Path, videos: list[dict[str, Any]], *, imu: bool = True) -> Path:
    """videos: [{"uid", "duration", "actions": [...], optional "has_imu", "split_fho"}]."""
    base = root / "v2"
    meta_videos, fho_videos = [], []
    for v in videos:
        uid, duration = v["uid"], v["duration"]
        meta_videos.append(
            {
                "video_uid": uid,
                "duration_sec": round(duration, 2),
                "video_metadata": {
                    "fps": 30.0,
                    "num_frames": int(duration * 30),
                    "video_duration_sec": duration,
                },
                "has_imu": v.get("has_imu", True),
                "imu_metadata": {},
                "split_fho": v.get("split_fho", "train"),
                "device": "GoPro Hero Black 8",
            }
        )
        fho_videos.append(
            {
                "video_uid": uid,
                "video_metadata": {"fps": 30.0, "duration_sec": duration, "num_frames": int(duration * 30)},
                "annotated_intervals": [
                    {
                        "clip_id": "1",
                        "clip_uid": f"clip-{uid}",
                        "start_sec": 0.0,
                        "end_sec": duration,
                        "redacted": False,
                        "narrated_actions": v["actions"],
                    }
                ],
            }
        )
        if "/" in uid or ".." in uid:
            continue
        placeholder_video(base / "full_scale" / f"{uid}.mp4")
        if imu and v.get("has_imu", True):
            write_ego4d_imu(base / "imu" / f"{uid}.csv", grid(duration, 200.0))
    (base / "annotations").mkdir(parents=True, exist_ok=True)
    (base / "ego4d.json").write_text(json.dumps({"version": "v2", "videos": meta_videos}))
    (base / "annotations" / "fho_main.json").write_text(json.dumps({"version": "v2", "videos": fho_videos}))
    return root


def clean_ego4d(root: Path) -> Path:
    """Two IMU videos, 10 valid actions over 3 verbs (4 / 4 / 2 instances)."""
    verbs = ["open", "cut", "take", "open", "cut", "take", "open", "cut", "open", "cut"]
    actions: dict[str, list[dict[str, Any]]] = {"vid-a": [], "vid-b": []}
    for k, verb in enumerate(verbs):
        uid = "vid-a" if k % 2 == 0 else "vid-b"
        pre = 60 + 45 * (k // 2)
        actions[uid].append(ego4d_action(f"act-{k}", verb, pre, pre + 33))
    return make_ego4d(root, [{"uid": u, "duration": 20.0, "actions": a} for u, a in actions.items()])
