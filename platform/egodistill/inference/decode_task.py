"""The predict job's decode task (runs in Ray workers): one video's windows -> frames + IMU batches.

Split from :mod:`.pipeline` (the driver side) so the code that runs remotely reads on its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from egodistill.datasets.imu import ImuWindowConfig
from egodistill.inference import imu_windows
from egodistill.inference.frames import decode_frames, max_error_bound
from egodistill.inference.windows import Window
from egodistill.ingest.decode import VideoDecodeError
from egodistill.ingest.frames import FrameTransform

# ----------------------------------------------------------------------------------------------
# the decode task (runs in Ray workers)


def decode_windows(batch: dict[str, np.ndarray], settings: str) -> Iterator[dict[str, np.ndarray]]:
    """Ray Data generator UDF: one video's windows -> batches of frames + IMU windows (or a reason)."""
    s = json.loads(settings)
    imu_cfg = ImuWindowConfig.model_validate(s["imu"])
    transform = FrameTransform(s["size"], s["size"])
    for j in range(len(batch["video_id"])):
        task = json.loads(batch["task_json"][j])
        yield from _video_batches(task, s, imu_cfg, transform)


def _video_batches(
    task: dict[str, Any], s: dict[str, Any], imu_cfg: ImuWindowConfig, transform: FrameTransform
) -> Iterator[dict[str, np.ndarray]]:
    video, vid = task["video_path"], task["video_id"]
    windows = [Window(w[0], w[1], w[2], tuple(w[3]), bool(w[4])) for w in task["windows"]]
    stream = None
    if task["imu_paths"]:
        try:
            stream = imu_windows.load_stream(vid, task["imu_paths"], task["duration_sec"], imu_cfg)
        except imu_windows.ImuRequiredError:
            if s["uses_imu"]:
                raise  # the driver's preflight loaded it: the file changed under the job
            stream = None  # a VisOnly student: IMU quality is informative only
    n_frames, size, per = s["num_frames"], s["size"], s["windows_per_batch"]
    for b0 in range(0, len(windows), per):
        chunk = windows[b0 : b0 + per]
        n = len(chunk)
        t0 = time.perf_counter()
        out: dict[str, Any] = {
            "video_id": np.array([vid] * n, dtype=object),
            "window_index": np.array([w.index for w in chunk], np.int32),
            "ok": np.ones(n, bool),
            "reason": np.array([""] * n, dtype=object),
            "detail": np.array([""] * n, dtype=object),
            "frames": np.zeros((n, n_frames, size, size, 3), np.uint8),
            "frame_time_sec": np.zeros((n, n_frames), np.float64),
            "frame_error_sec": np.zeros(n, np.float32),
            "imu": np.zeros((n, imu_cfg.num_samples, 6), np.float32),
            "imu_coverage": np.full(n, np.nan, np.float32),
            "imu_max_gap_ms": np.full(n, np.nan, np.float32),
            "imu_clipped": np.full(n, -1, np.int32),
            "error_bound_sec": np.zeros(n, np.float32),
        }
        try:
            fb = decode_frames(
                s["policy"], video, [t for w in chunk for t in w.frame_times], transform, threads=s["threads"]
            )
        except VideoDecodeError as e:
            out["ok"][:] = False
            out["reason"][:] = e.reason
            out["detail"][:] = e.detail
            fb = None
        if fb is not None:
            out["error_bound_sec"][:] = max_error_bound(
                s["policy"], fb.info.average_fps, fb.keyframe_gap_sec, fb.tail_sec
            )
            for i, w in enumerate(chunk):
                miss = [t for t in w.frame_times if t in fb.missing]
                if miss:
                    out["ok"][i] = False
                    out["reason"][i], out["detail"][i] = fb.missing[miss[0]]
                    continue
                for k, t in enumerate(w.frame_times):
                    out["frames"][i, k] = fb.images[t]
                    out["frame_time_sec"][i, k] = fb.times[t]
                out["frame_error_sec"][i] = max(fb.error_sec(t) for t in w.frame_times)
        if stream is not None:
            iw = imu_windows.windows(stream, [w.start_sec for w in chunk], imu_cfg)
            out["imu"], out["imu_coverage"] = iw.samples, iw.coverage
            out["imu_max_gap_ms"], out["imu_clipped"] = iw.max_gap_ms, iw.clipped
            if s["uses_imu"]:
                low = out["ok"] & (iw.coverage < s["min_imu_coverage"])
                for i in np.flatnonzero(low):
                    out["ok"][i] = False
                    out["reason"][i] = "imu_low_coverage"
                    out["detail"][i] = (
                        f"IMU covers {iw.coverage[i]:.3f} of the window at {chunk[i].start_sec:.3f}s "
                        f"(< {s['min_imu_coverage']}); {','.join(task['imu_paths'])}"
                    )
        out["decode_sec"] = np.full(n, (time.perf_counter() - t0) / n, np.float64)
        yield out


__all__ = ["decode_windows"]
