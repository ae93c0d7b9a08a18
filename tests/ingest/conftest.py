"""Shared inputs for the ingest tests: a small mixed-codec video set with its IMU and manifest rows.

The session-wide ``ray_session`` fixture lives in tests/conftest.py.
"""

from __future__ import annotations

import random

import pytest
from ingestfakes import clip_row, write_ego4d_imu, write_video


@pytest.fixture(scope="session")
def mixed_media(tmp_path_factory):
    """Videos in several codecs plus broken ones; returns (root, manifest rows, expected reason by clip).

    Expected reason None: written; "*": written or quarantined (either is fine, never a crash).
    """
    root = tmp_path_factory.mktemp("ingest_media")
    imu = write_ego4d_imu(root / "imu.csv", 12.0)
    good = {
        "h264": write_video(root / "h264.mp4", seconds=6.0, gop=15) and root / "h264.mp4",
        "hevc": write_video(root / "hevc.mp4", codec="libx265", seconds=6.0, gop=12) and root / "hevc.mp4",
        "vp9": write_video(root / "vp9.webm", codec="libvpx-vp9", seconds=6.0, gop=20) and root / "vp9.webm",
        "vfr": write_video(root / "vfr.mp4", seconds=6.0, gop=10, vfr_steps_ms=(25, 40)) and root / "vfr.mp4",
    }
    full = root / "full.mkv"
    write_video(full, seconds=6.0)
    truncated = root / "truncated.mkv"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    corrupt = bytearray(full.read_bytes())  # random bytes over a stretch in the middle of the stream
    rng = random.Random(0)
    for i in range(len(corrupt) // 3, len(corrupt) // 3 + 400):
        corrupt[i] = rng.randrange(256)
    (root / "corrupt.mkv").write_bytes(bytes(corrupt))
    garbage = root / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01not a video" * 300)
    rows, expected = [], {}
    for name, path in good.items():
        for k in range(3):
            cid = f"{name}-{k}"
            rows.append(
                clip_row(
                    cid,
                    name,
                    path,
                    imu,
                    centre=1.3 + 1.6 * k,
                    split=("train", "val")[k % 2],
                    label=k,
                    duration=6.0,
                )
            )
            expected[cid] = None
    rows.append(clip_row("trunc-early", "truncated", truncated, imu, centre=1.3, duration=6.0))
    expected["trunc-early"] = None
    rows.append(clip_row("trunc-late", "truncated", truncated, imu, centre=4.6, duration=6.0))
    expected["trunc-late"] = "video_truncated"
    for k in range(3):  # decoded or quarantined, depending on what FFmpeg makes of the damage
        rows.append(
            clip_row(f"corrupt-{k}", "corrupt", root / "corrupt.mkv", imu, centre=1.3 + 1.6 * k, duration=6.0)
        )
        expected[f"corrupt-{k}"] = "*"
    rows.append(clip_row("garbage-0", "garbage", garbage, imu, centre=2.0, duration=6.0))
    expected["garbage-0"] = "video_unreadable"
    rows.append(clip_row("missing-0", "missing", root / "missing.mp4", imu, centre=2.0, duration=6.0))
    expected["missing-0"] = "video_missing"
    # metadata says 12 s, the stream holds 6 s: the file's timing cannot be trusted for any clip
    rows.append(clip_row("beyond-0", "short", full, imu, centre=9.0, duration=12.0))
    expected["beyond-0"] = "video_timing_mismatch"
    return root, rows, expected
