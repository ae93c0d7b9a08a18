"""EPIC-KITCHENS-100 layout (data-formats.md section 2).

Writes ``PXX/videos/PXX_1YY.MP4`` (50 fps), ``PXX/meta_data/PXX_1YY-accl.csv`` and ``-gyro.csv``
(GoPro-style ``Milliseconds``, separate clocks) and, in the dataset root, ``EPIC_100_train.csv``,
``EPIC_100_validation.csv`` (15 columns), ``EPIC_100_verb_classes.csv``,
``EPIC_100_noun_classes.csv`` and ``EPIC_100_video_info.csv``.

Choices (synthetic, documented):

* Video ``i`` belongs to participant ``P{i % participants + 1:02d}`` and is that participant's
  ``(i // participants + 1)``-th extension video: ``P01_101``, ``P02_101``, ..., ``P01_102``.
* Split: the rows of the **highest-numbered participant present** go to
  ``EPIC_100_validation.csv``, all others to ``EPIC_100_train.csv`` (a participant split, as the
  paper uses); with a single participant everything is train. Unlike real EPIC-100, whose
  validation set has no IMU videos, our validation videos do have IMU files.
* Verb ids/keys are the real EPIC ones (take 0, put 1, open 3, close 4, cut 7, pour 9, mix 10,
  look 38, transition 67); ``turn-left``/``turn-right`` are ours (97/98). Noun ids are real too
  (``head`` = 300 is ours). Only the classes used are listed in the class CSVs.
* Times: ``start/stop_timestamp`` = planted times rounded to ``HH:MM:SS.ss``; the ground truth's
  ``annotated_*_sec`` are those rounded values; ``start_frame``/``stop_frame`` =
  ``floor(rounded_sec * fps)`` computed exactly; ``narration_timestamp`` ``HH:MM:SS.mmm`` falls
  inside the action. No planted invalid rows (EPIC has no validity flags).
* IMU: accelerometer and gyroscope each get their own rate (``imu_rate_hz`` +- spread), start
  phase and jitter; written ``Milliseconds`` follow gpmd2csv (even spacing inside each 1 s
  payload, first payload at 0 ms). Units m/s^2 and rad/s, camera axes (x right, y down,
  z forward). Defect planted with probability ``imu_defect_rate``: ``truncated_end`` (the last
  payload is missing from both files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from egodistill.synthetic.config import SynthConfig
from egodistill.synthetic.dog import verbs_for
from egodistill.synthetic.imu_model import ACCL_NOISE, GYRO_NOISE, gopro_milliseconds, measure, sample_times
from egodistill.synthetic.layouts.common import csv_text, fmt, hms_centis, hms_millis, write_text
from egodistill.synthetic.world import VideoWorld, stream_rng

ANNOTATION_HEADER = [
    "narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp", "stop_timestamp",
    "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun", "noun_class", "all_nouns",
    "all_noun_classes",
]  # fmt: skip
TRAIN_CSV = "EPIC_100_train.csv"
VALIDATION_CSV = "EPIC_100_validation.csv"
VERB_CLASSES_CSV = "EPIC_100_verb_classes.csv"
NOUN_CLASSES_CSV = "EPIC_100_noun_classes.csv"
VIDEO_INFO_CSV = "EPIC_100_video_info.csv"
NOUN_CLASSES = {
    3: ("cupboard", "storage"),
    4: ("knife", "cutlery"),
    7: ("bowl", "crockery"),
    13: ("cup", "crockery"),
    23: ("box", "containers"),
    34: ("food", "prepared food"),
    41: ("carrot", "vegetables"),
    42: ("top", "furniture"),
    247: ("shelf", "furniture"),
    300: ("head", "body"),
}


def participant_of(cfg: SynthConfig, index: int) -> str:
    return f"P{index % cfg.participants + 1:02d}"


def video_id(cfg: SynthConfig, index: int) -> tuple[str, str]:
    p = participant_of(cfg, index)
    return f"{p}_{100 + index // cfg.participants + 1}", p


def video_relpath(vid: str, participant: str | None) -> str:
    return f"{participant}/videos/{vid}.MP4"


def validation_participant(cfg: SynthConfig) -> str | None:
    used = min(cfg.participants, cfg.videos)
    return f"P{used:02d}" if used >= 2 else None


def write_imu(root: Path, world: VideoWorld, cfg: SynthConfig, index: int, vid: str, participant: str | None):
    """Write the ``-accl.csv`` and ``-gyro.csv`` files; returns (relative paths, defects, clock info)."""
    duration = cfg.seconds
    clock = stream_rng(cfg.seed, index, "imu_clock")
    noise = stream_rng(cfg.seed, index, "imu_noise")
    truncate = stream_rng(cfg.seed, index, "defects").random() < cfg.imu_defect_rate and duration >= 6.0
    paths, info, defects = [], {}, []
    last_payload = np.floor(duration) - 1 if duration == np.floor(duration) else np.floor(duration)
    for sensor, header, model in (
        ("accl", "Milliseconds,AcclX,AcclY,AcclZ", ACCL_NOISE),
        ("gyro", "Milliseconds,GyroX,GyroY,GyroZ", GYRO_NOISE),
    ):
        rate = cfg.imu_rate_hz + clock.uniform(-cfg.imu_rate_spread_hz, cfg.imu_rate_spread_hz)
        t = sample_times(clock, duration, rate, cfg.imu_jitter_ms, phase=clock.uniform(0.0, 1.0 / rate))
        if truncate:
            t = t[t < last_payload]
        gyro_true, accl_true = world.imu_truth(t)
        m = measure(accl_true if sensor == "accl" else gyro_true, t, noise, model.scaled(cfg.imu_noise_scale))
        ms = gopro_milliseconds(t)
        lines = [header]
        for k in range(len(t)):
            v = m.values[k]
            lines.append(f"{ms[k]:.3f},{fmt(v[0])},{fmt(v[1])},{fmt(v[2])}")
        rel = f"{participant}/meta_data/{vid}-{sensor}.csv"
        write_text(root / rel, "\n".join(lines) + "\n")
        paths.append(rel)
        info[sensor] = {"rate_hz": float(rate), "samples": len(t), "bias": m.bias.tolist()}
    info["timestamps"] = "GoPro payload Milliseconds (1 s payloads, evenly spread)"
    if truncate:
        defects.append(
            {"kind": "truncated_end", "start_sec": float(last_payload), "end_sec": float(duration)}
        )
    return paths, defects, info


def annotate(
    world: VideoWorld, cfg: SynthConfig, index: int, vid: str, participant: str | None, box_at, video_meta
):
    """Ground-truth segments and this video's annotation rows and video_info row."""
    rng = stream_rng(cfg.seed, index, "annotations")
    fps = cfg.frame_rate
    file = VALIDATION_CSV if participant == validation_participant(cfg) else TRAIN_CSV
    rows, gt = [], []
    for n, seg in enumerate(world.segments):
        v = seg.verb
        start_txt, c0 = hms_centis(seg.start)
        stop_txt, c1 = hms_centis(seg.end)
        narr = seg.start + rng.uniform(0.1, 0.7) * (seg.end - seg.start)
        nouns = [(v.noun, v.noun_class), *v.extra_nouns]
        narration_id = f"{vid}_{n}"
        f0 = c0 * int(fps) // 100 if float(fps).is_integer() else int(c0 / 100 * fps)
        f1 = c1 * int(fps) // 100 if float(fps).is_integer() else int(c1 / 100 * fps)
        rows.append(
            [
                narration_id, participant, vid, hms_millis(narr), start_txt, stop_txt, f0, f1, v.narration,
                v.epic_verb, v.class_id, v.noun, v.noun_class, str([a for a, _ in nouns]), str([b for _, b in nouns]),
            ]
        )  # fmt: skip
        gt.append(
            {
                "clip_id": narration_id,
                "verb": v.name,
                "class_id": v.class_id,
                "start_sec": seg.start,
                "end_sec": seg.end,
                "pnr_sec": seg.pnr,
                "annotated_start_sec": c0 / 100,
                "annotated_end_sec": c1 / 100,
                "valid": True,
                "invalid_kind": None,
                "annotation_file": file,
                "params": seg.params,
            }
        )
    info_row = [vid, video_meta["duration_sec"], float(fps), f"{cfg.width}x{cfg.height}"]
    return gt, {"file": file, "rows": rows, "video_info": info_row}


def write_annotations(root: Path, cfg: SynthConfig, annotations: list[dict[str, Any]]) -> list[str]:
    """Write the five annotation CSVs into the dataset root; returns their names."""
    train = [r for a in annotations if a["file"] == TRAIN_CSV for r in a["rows"]]
    val = [r for a in annotations if a["file"] == VALIDATION_CSV for r in a["rows"]]
    write_text(root / TRAIN_CSV, csv_text(ANNOTATION_HEADER, train))
    write_text(root / VALIDATION_CSV, csv_text(ANNOTATION_HEADER, val))
    verbs: dict[int, tuple[str, list[str], str]] = {}
    for v in verbs_for(cfg.profile):
        key, inst, cat = verbs.setdefault(v.class_id, (v.epic_key, [], v.epic_category))
        if v.epic_verb not in inst:
            inst.append(v.epic_verb)
    verb_rows = [[i, k, str(inst), cat] for i, (k, inst, cat) in sorted(verbs.items())]
    write_text(root / VERB_CLASSES_CSV, csv_text(["id", "key", "instances", "category"], verb_rows))
    nouns: dict[int, list[str]] = {}
    for v in verbs_for(cfg.profile):
        for name, cid in [(v.noun, v.noun_class), *v.extra_nouns]:
            inst = nouns.setdefault(cid, [])
            if name not in inst:
                inst.append(name)
    noun_rows = [[i, NOUN_CLASSES[i][0], str(inst), NOUN_CLASSES[i][1]] for i, inst in sorted(nouns.items())]
    write_text(root / NOUN_CLASSES_CSV, csv_text(["id", "key", "instances", "category"], noun_rows))
    info = [a["video_info"] for a in annotations]
    write_text(root / VIDEO_INFO_CSV, csv_text(["video_id", "duration", "fps", "resolution"], info))
    return [TRAIN_CSV, VALIDATION_CSV, VERB_CLASSES_CSV, NOUN_CLASSES_CSV, VIDEO_INFO_CSV]
