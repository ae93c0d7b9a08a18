"""Kill the real job mid-way (SIGKILL to its process group), re-run, and get the uninterrupted result.

The job runs as ``python jobs/ingest.py`` in a subprocess that joins the test session's Ray through
RAY_ADDRESS (the cluster path of the job; starting a second local Ray would only cost time), so the
kill takes out the driver exactly as a crash would, with tasks in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ingestfakes import clip_row, manifest_table, write_ego4d_imu, write_video

from egodistill.ingest import store
from egodistill.ingest.config import IngestConfig
from egodistill.ingest.pipeline import run_ingest
from egodistill.storage import atomic_write_table

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]
VIDEOS = 12


def _visible_files(out: Path) -> list[Path]:
    if not out.exists():
        return []
    return [
        p
        for p in out.rglob("*.parquet")
        if not any(part.startswith((".", "_")) for part in p.relative_to(out).parts)
    ]


def test_killed_run_resumes_to_the_uninterrupted_result(ray_session, tmp_path):
    # one real video shared by 12 video ids: enough work per task to kill the job between videos
    video = tmp_path / "v.mp4"
    write_video(video, seconds=6.0, size=(320, 240), gop=30)
    imu = write_ego4d_imu(tmp_path / "v.csv", 6.0)
    rows = [
        clip_row(f"v{v:02d}-c{c}", f"v{v:02d}", video, imu, centre=1.2 + 1.5 * c, duration=6.0)
        for v in range(VIDEOS)
        for c in range(3)
    ]
    manifest = tmp_path / "manifest.parquet"
    atomic_write_table(manifest_table(rows), str(manifest))
    out = tmp_path / "killed"

    env = {**os.environ, "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address}
    cmd = [sys.executable, str(REPO / "jobs" / "ingest.py"), "--manifest", str(manifest), "--out", str(out)]
    cmd += ["--concurrency", "1", "--no-progress", "--size", "48"]
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and proc.poll() is None and len(_visible_files(out)) < 3:
            time.sleep(0.02)
        at_kill = len(_visible_files(out))
        still_running = proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert still_running, f"the job ended before it could be killed:\n{log[-3000:]}"
    assert 1 <= at_kill < VIDEOS, log[-3000:]
    # a task in flight may still finish its (atomic) file while Ray tears the dead job down
    done_before, stable_since = len(_visible_files(out)), time.monotonic()
    while time.monotonic() - stable_since < 1.5:
        time.sleep(0.1)
        if (n := len(_visible_files(out))) != done_before:
            done_before, stable_since = n, time.monotonic()
    assert done_before < VIDEOS

    cfg = dict(frames={"short_side": 48, "crop_size": 48}, resources={"progress_bars": False})
    resumed = run_ingest(IngestConfig(manifest=str(manifest), out=str(out), **cfg))
    assert resumed.ok and done_before <= resumed.videos_skipped < VIDEOS  # (>=: a straggler may land late)
    assert resumed.videos_processed == VIDEOS - resumed.videos_skipped
    clean = run_ingest(IngestConfig(manifest=str(manifest), out=str(tmp_path / "clean"), **cfg))
    assert clean.ok and clean.videos_processed == VIDEOS

    def content(root: Path) -> dict[str, dict]:
        return {r["clip_id"]: r for r in store.read_clips(str(root)).to_pylist()}

    assert content(out) == content(tmp_path / "clean")
    assert sorted(p.name for p in _visible_files(out)) == sorted(
        p.name for p in _visible_files(tmp_path / "clean")
    )
