"""Ego4D v2 layout: ``v2/ego4d.json``, ``v2/full_scale/<uid>.mp4``, ``v2/imu/<uid>.csv``,
``v2/annotations/fho_main.json`` (data-formats.md section 1).

Choices (synthetic, documented):

* One video component per video (``component_idx`` 0, ``component_timestamp_ms`` =
  ``canonical_timestamp_ms``); IMU ~200 Hz, gyro (rad/s) before accel (m/s^2), camera axes
  (x right, y down, z forward). Timestamps are the true sampling instants in ms.
* ``split_fho``: ``"val"`` for video indices with ``index % 4 == 1``, else ``"train"`` (so two videos
  already give one of each). ``split_em``/``split_av`` are null.
* Planted IMU defects (each kind with probability ``imu_defect_rate`` per video, none overlapping):
  ``null_timestamps`` (10-40 rows with empty ``canonical_timestamp_ms``), ``out_of_order`` (two
  adjacent blocks of 5-20 rows swapped), ``gap`` (0.3-1.5 s of rows missing) and ``missing_accl``
  (5-30 rows with empty accl cells). All are listed in the ground truth.
* Narrated actions: one per planted segment, 8 s window around the narration,
  ``critical_frames`` = ``floor(sec * fps)`` of the planted start (pre), PNR and end (post);
  ``pre_45/30/15`` are omitted where they would be negative; ``contact_frame`` only for hand-object
  verbs. A share ``invalid_action_rate`` is planted invalid: ``rejected`` (``is_rejected``, no
  critical frames, like real rejected rows), ``invalid_annotation`` (``is_invalid_annotation``) or
  ``not_valid`` (``is_valid_action`` false). Annotated intervals are 5 min long with 8 s padding.

Why this module is long: the Ego4D layout writer mirrors the real release's files one by one (metadata, annotations, IMU, boxes).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from egodistill.synthetic.config import SynthConfig
from egodistill.synthetic.imu_model import ACCL_NOISE, GYRO_NOISE, measure, sample_times
from egodistill.synthetic.layouts.common import fmt, write_json, write_text
from egodistill.synthetic.world import VideoWorld, stream_rng, video_uuid

IMU_HEADER = (
    "component_idx,component_timestamp_ms,canonical_timestamp_ms,gyro_x,gyro_y,gyro_z,accl_x,accl_y,accl_z"
)
FHO_MAIN = "v2/annotations/fho_main.json"
EGO4D_JSON = "v2/ego4d.json"
DEFECT_KINDS = ("null_timestamps", "out_of_order", "gap", "missing_accl")
INTERVAL_SEC = 300.0
PAD_SEC = 8.0
HAND_VERBS = {"take", "put", "open", "close", "cut", "pour", "mix"}
# (object_type, scene label, structured noun) written as boxes in the `frames` of valid actions
FRAME_OBJECTS: dict[str, list[tuple[str, str, str]]] = {
    "take": [("object_of_change", "box", "box_(box,_carton)")],
    "put": [("object_of_change", "box", "box_(box,_carton)")],
    "open": [("object_of_change", "door", "cupboard_(cabinet,_cupboard)")],
    "close": [("object_of_change", "door", "cupboard_(cabinet,_cupboard)")],
    "cut": [("object_of_change", "carrot", "carrot"), ("tool", "knife", "knife")],
    "pour": [("object_of_change", "cup", "cup_(cup,_mug)")],
    "mix": [("object_of_change", "bowl", "bowl"), ("tool", "spoon", "spoon")],
}
STATE_TRANSITION = {
    "open": "activate_-_[object_is_transformed_to_enable_access_to_one_or_more_objects_inside_(e.g.,_open)]",
    "close": "deactivate_-_[object_is_transformed_to_disable_access_to_objects_inside_(e.g.,_close)]",
    "cut": "separate_-_[object_is_divided_into_parts_(e.g.,_cut)]",
    "pour": "transfer_-_[material_moves_from_one_container_into_another_(e.g.,_pour)]",
    "mix": "combine_-_[materials_are_mixed_together_(e.g.,_stir)]",
}
REJECT_REASON = '"no_human-object_interaction_from_camera_wearer_(e.g._c_looks_around,_c_pauses_work)"'


def video_id(cfg: SynthConfig, index: int) -> tuple[str, str | None]:
    return video_uuid(cfg.seed, index), None


def video_relpath(vid: str, participant: str | None) -> str:
    return f"v2/full_scale/{vid}.mp4"


def split_of(index: int) -> str:
    return "val" if index % 4 == 1 else "train"


def _plan_defects(
    rng: np.random.Generator, t: np.ndarray, duration: float, rate: float
) -> list[dict[str, Any]]:
    """Choose non-overlapping defect row ranges; returns dicts with kind and row slice."""
    out: list[dict[str, Any]] = []
    n = len(t)
    for kind in DEFECT_KINDS:
        if rng.random() >= rate or duration < 6.0:
            continue
        for _ in range(20):
            t0 = rng.uniform(1.0, duration - 3.0)
            i0 = int(np.searchsorted(t, t0))
            if kind == "null_timestamps":
                i1 = i0 + int(rng.integers(10, 41))
            elif kind == "out_of_order":
                i1 = i0 + 2 * int(rng.integers(5, 21))
            elif kind == "gap":
                i1 = int(np.searchsorted(t, t0 + rng.uniform(0.3, 1.5)))
            else:
                i1 = i0 + int(rng.integers(5, 31))
            i1 = min(i1, n - 1)
            if i1 - i0 < 2 or any(i0 <= d["i1"] + 50 and d["i0"] <= i1 + 50 for d in out):
                continue
            out.append({"kind": kind, "i0": i0, "i1": i1})
            break
    return out


def write_imu(root: Path, world: VideoWorld, cfg: SynthConfig, index: int, vid: str, participant: str | None):
    """Write ``v2/imu/<uid>.csv``; returns (relative paths, ground-truth defects, clock info)."""
    duration = world.config.seconds
    clock = stream_rng(cfg.seed, index, "imu_clock")
    rate = cfg.imu_rate_hz + clock.uniform(-cfg.imu_rate_spread_hz, cfg.imu_rate_spread_hz)
    t = sample_times(clock, duration, rate, cfg.imu_jitter_ms)
    gyro_true, accl_true = world.imu_truth(t)
    noise = stream_rng(cfg.seed, index, "imu_noise")
    gyro = measure(gyro_true, t, noise, GYRO_NOISE.scaled(cfg.imu_noise_scale))
    accl = measure(accl_true, t, noise, ACCL_NOISE.scaled(cfg.imu_noise_scale))

    defects = _plan_defects(stream_rng(cfg.seed, index, "defects"), t, duration, cfg.imu_defect_rate)
    order = np.arange(len(t))
    keep = np.ones(len(t), dtype=bool)
    null_ts = np.zeros(len(t), dtype=bool)
    null_accl = np.zeros(len(t), dtype=bool)
    gt_defects = []
    for d in defects:
        i0, i1 = d["i0"], d["i1"]
        if d["kind"] == "null_timestamps":
            null_ts[i0:i1] = True
        elif d["kind"] == "gap":
            keep[i0:i1] = False
        elif d["kind"] == "missing_accl":
            null_accl[i0:i1] = True
        else:  # out_of_order: swap two adjacent halves
            m = (i1 - i0) // 2
            order[i0 : i0 + 2 * m] = np.concatenate([np.arange(i0 + m, i0 + 2 * m), np.arange(i0, i0 + m)])
            i1 = i0 + 2 * m
        gt_defects.append({"kind": d["kind"], "start_sec": float(t[i0]), "end_sec": float(t[i1 - 1])})
    gt_defects.sort(key=lambda d: d["start_sec"])

    lines = [IMU_HEADER]
    ms = t * 1000.0
    for i in order:
        if not keep[i]:
            continue
        canon = "" if null_ts[i] else f"{ms[i]:.6f}"
        g = gyro.values[i]
        a = ("", "", "") if null_accl[i] else tuple(fmt(v) for v in accl.values[i])
        lines.append(f"0,{ms[i]:.6f},{canon},{fmt(g[0])},{fmt(g[1])},{fmt(g[2])},{a[0]},{a[1]},{a[2]}")
    rel = f"v2/imu/{vid}.csv"
    write_text(root / rel, "\n".join(lines) + "\n")
    info = {
        "rate_hz": float(rate),
        "samples": int(keep.sum()),
        "gyro_bias": gyro.bias.tolist(),
        "accl_bias": accl.bias.tolist(),
        "timestamps": "true sampling instants",
    }
    return [rel], gt_defects, info


def _critical(pre: int, pnr: int, post: int, contact: int | None) -> dict[str, int]:
    cf: dict[str, int] = {}
    for key, off in (("pre_45", 45), ("pre_30", 30), ("pre_15", 15)):
        if pre - off >= 0:
            cf[key] = pre - off
    cf["pre_frame"] = pre
    if contact is not None:
        cf["contact_frame"] = contact
    cf["pnr_frame"] = pnr
    cf["post_frame"] = post
    return cf


def annotate(
    world: VideoWorld,
    cfg: SynthConfig,
    index: int,
    vid: str,
    participant: str | None,
    box_at: Callable[[int, str], tuple[float, float, float, float] | None],
    video_meta: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ground-truth segments and this video's entries for ego4d.json and fho_main.json."""
    rng = stream_rng(cfg.seed, index, "annotations")
    fps = cfg.frame_rate
    duration = video_meta["duration_sec"]
    n_frames = video_meta["num_frames"]
    n_int = max(1, math.ceil(duration / INTERVAL_SEC - 1e-9))
    intervals = []
    for k in range(n_int):
        s, e = k * INTERVAL_SEC, min((k + 1) * INTERVAL_SEC, duration)
        ps, pe = max(0.0, s - PAD_SEC), min(duration, e + PAD_SEC)
        intervals.append(
            {
                "clip_id": str(1000 * (index + 1) + k),
                "clip_uid": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                "start_sec": s,
                "end_sec": e,
                "start_frame": int(math.floor(s * fps)),
                "end_frame": int(math.floor(e * fps)) if e < duration else n_frames,
                "clip_parent_start_sec": ps,
                "clip_parent_end_sec": pe,
                "clip_parent_start_frame": int(math.floor(ps * fps)),
                "clip_parent_end_frame": int(math.floor(pe * fps)) if pe < duration else n_frames,
                "redacted": False,
                "narrated_actions": [],
            }
        )

    gt_segments = []
    for seg in world.segments:
        verb = seg.verb
        uid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        u = rng.random()
        kind = "valid"
        if u < cfg.invalid_action_rate:
            kind = ("rejected", "rejected", "invalid_annotation", "not_valid")[int(rng.integers(4))]
        narr = seg.start + rng.uniform(0.2, 0.8) * (seg.end - seg.start)
        itv = intervals[min(int(seg.start // INTERVAL_SEC), n_int - 1)]
        off_s, off_f = itv["clip_parent_start_sec"], itv["clip_parent_start_frame"]
        w0, w1 = max(0.0, narr - 4.0), min(duration, narr + 4.0)
        pre = int(math.floor(seg.start * fps))
        post = min(int(math.floor(seg.end * fps)), n_frames - 1)
        pnr = int(math.floor(seg.pnr * fps))
        contact = (
            int(math.floor((seg.start + 0.15 * (seg.end - seg.start)) * fps))
            if verb.name in HAND_VERBS
            else None
        )
        cf = None if kind == "rejected" else _critical(pre, pnr, post, contact)
        frames = None
        if cf is not None:
            frames = []
            for ftype in ("pre_frame", "pnr_frame", "post_frame"):
                fno = cf[ftype]
                boxes = []
                for otype, label, noun in FRAME_OBJECTS.get(verb.name, []):
                    b = box_at(fno, label)
                    if b is None:
                        continue
                    boxes.append(
                        {
                            "object_type": otype,
                            "structured_noun": noun,
                            "instance_number": 1,
                            "bbox": {"x": b[0], "y": b[1], "width": b[2], "height": b[3]},
                            "freeform_noun": "",
                            "_structured_noun": noun,
                            "_freeform_noun": "",
                            "unsure_noun": False,
                        }
                    )
                frames.append(
                    {
                        "frame_number": fno,
                        "frame_type": ftype,
                        "boxes": boxes,
                        "clip_frame_number": fno - off_f,
                    }
                )
        action = {
            "warnings": [],
            "uid": uid,
            "start_sec": w0,
            "end_sec": w1,
            "start_frame": int(math.floor(w0 * fps)),
            "end_frame": int(math.floor(w1 * fps)),
            "is_valid_action": kind in ("valid", "invalid_annotation"),
            "is_partial": False,
            "clip_start_sec": w0 - off_s,
            "clip_end_sec": w1 - off_s,
            "clip_start_frame": int(math.floor(w0 * fps)) - off_f,
            "clip_end_frame": int(math.floor(w1 * fps)) - off_f,
            "narration_timestamp_sec": narr,
            "clip_narration_timestamp_sec": narr - off_s,
            "narration_text": verb.ego4d_narration,
            "narration_annotation_uid": f"synthetic-{index}",
            "structured_verb": None if kind == "rejected" else verb.ego4d_verb,
            "freeform_verb": None,
            "state_transition": None if kind == "rejected" else STATE_TRANSITION.get(verb.name),
            "critical_frames": cf,
            "clip_critical_frames": None if cf is None else {k: v - off_f for k, v in cf.items()},
            "frames": frames,
            "is_rejected": kind == "rejected",
            "is_invalid_annotation": kind == "invalid_annotation",
            "reject_reason": REJECT_REASON if kind == "rejected" else None,
            "stage": "critical_frame" if kind == "rejected" else "post_period",
        }
        itv["narrated_actions"].append(action)
        gt_segments.append(
            {
                "clip_id": uid,
                "verb": verb.name,
                "class_id": verb.class_id,
                "start_sec": seg.start,
                "end_sec": seg.end,
                "pnr_sec": seg.pnr,
                "annotated_start_sec": None if cf is None else pre / fps,
                "annotated_end_sec": None if cf is None else post / fps,
                "valid": kind == "valid",
                "invalid_kind": None if kind == "valid" else kind,
                "annotation_file": FHO_MAIN,
                "params": seg.params,
            }
        )

    vm = video_meta
    ego4d_video = {
        "video_uid": vid,
        "duration_sec": round(duration, 2),
        "scenarios": ["Cooking"],
        "video_metadata": {
            "fps": fps,
            "num_frames": n_frames,
            "video_codec": vm["video_codec"],
            "audio_codec": vm["audio_codec"],
            "display_resolution_width": cfg.width,
            "display_resolution_height": cfg.height,
            "sample_resolution_width": cfg.width,
            "sample_resolution_height": cfg.height,
            "mp4_duration_sec": round(duration, 3),
            "video_start_sec": 0.0,
            "video_duration_sec": round(duration, 3),
            "audio_start_sec": 0.0 if vm["audio_codec"] else None,
            "audio_duration_sec": round(duration, 3) if vm["audio_codec"] else None,
            "video_start_pts": 0,
            "video_duration_pts": vm["duration_pts"],
            "video_base_numerator": vm["time_base"][0],
            "video_base_denominator": vm["time_base"][1],
            "audio_start_pts": 0 if vm["audio_codec"] else None,
            "audio_duration_pts": None,
            "audio_base_numerator": None,
            "audio_base_denominator": None,
        },
        "is_grouped": False,
        "group_video_uids": None,
        "split_em": None,
        "split_av": None,
        "split_fho": split_of(index),
        "split_goalstep": None,
        "s3_path": None,
        "manifold_path": None,
        "origin_video_id": f"SYNTH_{index:04d}",
        "video_source": "egodistill-synthetic",
        "device": "synthetic pinhole camera + IMU",
        "physical_setting_name": None,
        "fb_participant_id": index % cfg.participants + 1,
        "is_stereo": False,
        "has_imu": True,
        "has_gaze": False,
        "imu_metadata": {
            "synthetic": True,
            "gyro_unit": "rad/s",
            "accl_unit": "m/s^2",
            "axes": "camera frame: x right, y down, z forward",
        },
        "gaze_metadata": None,
        "video_components": [
            {
                "video_component_uid": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                "video_uid": vid,
                "component_idx": 0,
                "redacted": False,
                "canonical_video_start_sec": 0.0,
                "canonical_video_end_sec": round(duration, 3),
                "canonical_video_start_frame": 0,
                "canonical_video_end_frame": n_frames - 1,
            }
        ],
        "concurrent_sets": None,
        "has_redacted_regions": False,
        "redacted_intervals": [],
    }
    fho_video = {
        "video_uid": vid,
        "video_metadata": {
            "video_start_pts": 0,
            "video_base_numerator": vm["time_base"][0],
            "video_base_denominator": vm["time_base"][1],
            "duration_sec": round(duration, 3),
            "num_frames": n_frames,
            "fps": fps,
            "width": cfg.width,
            "height": cfg.height,
            "rotation": None,
        },
        "annotated_intervals": intervals,
    }
    return gt_segments, {"ego4d_video": ego4d_video, "fho_video": fho_video}


def write_annotations(root: Path, cfg: SynthConfig, annotations: list[dict[str, Any]]) -> list[str]:
    """Write ``v2/ego4d.json`` and ``v2/annotations/fho_main.json``; returns the relative paths."""
    meta = {
        "date": "2024-01-01",
        "version": "v2",
        "description": f"egodistill synthetic Ego4D-layout dataset (seed {cfg.seed})",
        "videos": [a["ego4d_video"] for a in annotations],
        "concurrent_video_sets": [],
        "physical_settings": [],
        "clips": [],
    }
    write_json(root / EGO4D_JSON, meta)
    fho = {
        "version": "v2",
        "date": "2024-01-01",
        "description": "egodistill synthetic FHO main annotations",
        "metadata": {"synthetic": True, "seed": cfg.seed},
        "videos": [a["fho_video"] for a in annotations],
    }
    write_json(root / FHO_MAIN, fho)
    return [EGO4D_JSON, FHO_MAIN]
