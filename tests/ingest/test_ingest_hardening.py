"""Issue 17 cases for ingest: one writer per output, damaged files heal, bad manifests and media.

Each test is one row of the issue's table; the concurrent writer is a second process holding the
output's lease (what a running ingest holds), so the tests stay seconds long on 2 cores.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ingestfakes import clip_row, manifest_table, write_ego4d_imu, write_video

from egodistill.cli import job_main
from egodistill.ingest import store
from egodistill.ingest.config import IngestConfig
from egodistill.ingest.pipeline import run_ingest
from egodistill.leases import LEASE_NAME
from egodistill.storage import atomic_write_table

pytestmark = pytest.mark.ray

FRAMES = {"short_side": 32, "crop_size": 32, "count": 2}
PLATFORM = Path(__file__).resolve().parents[2] / "platform"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Two 4 s videos (30 fps) with IMU and 3 clips each: 6 manifest rows."""
    root = tmp_path_factory.mktemp("hardening_media")
    imu = write_ego4d_imu(root / "imu.csv", 8.0)
    rows = []
    for name in ("va", "vb"):
        write_video(root / f"{name}.mp4", seconds=4.0, gop=15)
        for k in range(3):
            rows.append(
                clip_row(f"{name}-{k}", name, root / f"{name}.mp4", imu, centre=1.2 + 0.8 * k, label=k)
            )
    return root, rows


def _manifest(path: Path, rows: list[dict]) -> Path:
    atomic_write_table(manifest_table(rows), str(path))
    return path


def _config(manifest: Path, out: Path, **frames) -> IngestConfig:
    return IngestConfig(
        manifest=str(manifest), out=str(out), frames={**FRAMES, **frames}, resources={"progress_bars": False}
    )


def _cli(manifest: Path, out: Path, *extra: str) -> list[str]:
    return ["--manifest", str(manifest), "--out", str(out), "--no-mlflow", "--no-progress", *extra]


def _hold_lease(out: Path) -> subprocess.Popen:
    """Another process that takes the output's lease (as a running ingest does) and keeps it."""
    code = (
        "import sys, time\n"
        "from egodistill.leases import Lease\n"
        f"Lease({str(out)!r}, 'ingest', heartbeat_s=0.5).acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{PLATFORM}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.parametrize("second", ["subset_manifest", "other_size"], ids=["full+subset", "size224+size112"])
def test_a_second_writer_stops_at_once_naming_the_owner(ray_session, media, tmp_path, capsys, second):
    _, rows = media
    full = _manifest(tmp_path / "full.parquet", rows)
    subset = _manifest(tmp_path / "subset.parquet", rows[:3])
    out = tmp_path / "clips"
    owner = _hold_lease(out)
    try:
        argv = _cli(subset, out) if second == "subset_manifest" else _cli(full, out, "--size", "16")
        assert job_main("ingest", argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {owner.pid}" in err[0] and "one writer per output" in err[0], err
        assert not (out / "ego4d").exists()  # nothing written by the refused run
    finally:
        os.kill(owner.pid, signal.SIGKILL)  # the owner dies without releasing: its lease is stale
        owner.wait()
    assert (out / LEASE_NAME).is_file()
    s = run_ingest(_config(full, out))  # takes the stale lease over
    assert s.ok and s.rows_written == 6 and not (out / LEASE_NAME).exists()
    assert store.read_clips(str(out)).num_rows == 6


def test_duplicate_clip_ids_in_the_output_fail_readers_and_reruns(ray_session, media, tmp_path):
    _, rows = media
    manifest = _manifest(tmp_path / "m.parquet", rows)
    out = tmp_path / "clips"
    assert run_ingest(_config(manifest, out)).ok
    first = sorted((out / "ego4d").rglob("*.parquet"))[0]
    shutil.copy(first, first.with_name(first.stem[:-12] + "0123456789ab.parquet"))  # a second writer's part
    with pytest.raises(store.IngestOutputError, match="two writers"):
        store.read_clips(str(out))
    with pytest.raises(store.IngestOutputError, match="two writers"):
        run_ingest(_config(manifest, out))


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_a_damaged_clips_file_is_moved_aside_and_redone(ray_session, media, tmp_path, capsys, damage):
    _, rows = media
    manifest = _manifest(tmp_path / "m.parquet", rows)
    out = tmp_path / "clips"
    assert run_ingest(_config(manifest, out)).ok
    victim = sorted((out / "ego4d").rglob("*.parquet"))[0]
    n_victim = pq.read_metadata(victim).num_rows
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    with pytest.raises(store.IngestOutputError, match="damaged clips file"):
        store.read_clips(str(out))
    rc, printed = (
        job_main("ingest", _cli(manifest, out, "--frames", "2", "--size", "32")),
        capsys.readouterr(),
    )
    assert rc == 0 and "ingest OK: rows in 6 = written 6 + quarantined 0" in printed.out, printed
    moved = out / "_damaged" / victim.relative_to(out)
    assert moved.is_file() and moved.stat().st_size == (len(data) // 2 if damage == "truncated" else 0)
    assert victim.is_file() and pq.read_metadata(victim).num_rows == n_victim  # redone, same name
    assert sorted(store.read_clips(str(out)).column("clip_id").to_pylist()) == sorted(
        r["clip_id"] for r in rows
    )


def test_a_manifest_missing_a_column_is_one_line_naming_it(ray_session, media, tmp_path, capsys):
    _, rows = media
    table = manifest_table(rows).drop_columns(["video_path"])
    pq.write_table(table, tmp_path / "m.parquet")
    assert job_main("ingest", _cli(tmp_path / "m.parquet", tmp_path / "clips")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "'video_path'" in err[0] and "manifest/v1" in err[0] and "manifest.v1.json" in err[0]


@pytest.mark.parametrize(
    "column,value", [("dataset", ".."), ("video_id", "../../x"), ("split", "a/b"), ("video_id", "/abs")]
)
def test_unsafe_ids_are_quarantined_inside_the_quarantine_folder(ray_session, media, tmp_path, column, value):
    _, rows = media
    bad = {**rows[0], "clip_id": "bad-0", column: value}
    manifest = _manifest(tmp_path / "m.parquet", [*rows[:3], bad])
    out = tmp_path / "ws" / "clips"
    s = run_ingest(_config(manifest, out))
    assert s.ok and s.rows_in == 4 == s.rows_written + s.rows_quarantined
    assert s.quarantine_reasons == {"unsafe_id": 1}
    outside = [p for p in (tmp_path / "ws").rglob("*") if p.is_file() and out not in p.parents]
    assert not outside, outside
    files = [p for p in out.rglob("*.parquet") if "_quarantine" in p.parts]
    assert [p.parent for p in files] == [out / "_quarantine"]
    q = store.read_quarantine(str(out)).to_pylist()
    assert [(e["item_id"], e["reason"]) for e in q] == [("bad-0", "unsafe_id")] and value in q[0]["detail"]
    assert run_ingest(_config(manifest, out)).files_written == 0  # the re-run finds it done


@pytest.mark.parametrize(
    "fps,seconds,manifest_fps,duration",
    [(60, 4.0, 30.0, 8.0), (25, 4.0, 50.0, 4.0)],
    ids=["timestamps-2x-fast", "25fps-file-metadata-50fps"],
)
def test_video_timing_mismatch_quarantines_the_video(
    ray_session, tmp_path, fps, seconds, manifest_fps, duration
):
    imu = write_ego4d_imu(tmp_path / "imu.csv", duration + 1)
    video = tmp_path / "v.mp4"
    write_video(video, seconds=seconds, fps=fps, gop=15)
    rows = [
        {**clip_row(f"c{k}", "v", video, imu, centre=1.2 + 0.8 * k, duration=duration), "fps": manifest_fps}
        for k in range(3)
    ]
    out = tmp_path / "clips"
    s = run_ingest(_config(_manifest(tmp_path / "m.parquet", rows), out))
    assert s.ok and s.rows_written == 0 and s.quarantine_reasons == {"video_timing_mismatch": 3}
    detail = store.read_quarantine(str(out)).column("detail").to_pylist()[0]
    assert "fps" in detail or "duration" in detail
