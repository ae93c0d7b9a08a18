"""Multi-node on one machine: ingest and a short distill run spread over a 3-node ``Cluster``; a worker
node is removed mid-ingest and the job still writes every row, once.

The cluster runs in a subprocess (multinode_run.py): ``ray.cluster_utils.Cluster`` cannot live in
the test session's process, which already holds the session-wide Ray. The subprocess reports what
it saw as JSON (which node ran each ingest task attempt, which node was removed with which videos
in flight, where the Ray Train workers ran); the assertions are here, on that report and on the
files it left in the workspace.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from egodistill.datasets.config import IndexConfig
from egodistill.datasets.manifest import build_manifest, write_manifest
from egodistill.ingest import store
from egodistill.ingest.config import IngestConfig
from egodistill.ingest.pipeline import run_ingest

pytestmark = pytest.mark.ray

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "multinode_run.py"
TIMEOUT_SEC = 600
FRAMES = {"count": 4, "short_side": 32, "crop_size": 32}  # as multinode_run.py ingests
VIDEOS = 8  # one ingest task each: 3 rounds over the 3 nodes, so tasks are in flight when a node goes


def _workspace(tmp_path: Path) -> tuple[Path, object]:
    """8 tiny synthetic Ego4D videos -> manifest (one ingest task per video) + an untrained tiny teacher."""
    import torch

    from egodistill.models.config import TeacherConfig
    from egodistill.models.teachers import build_teacher
    from egodistill.synthetic import generate
    from egodistill.teacher.export import write_export
    from synthdata import tiny_config

    ws = tmp_path / "ws"
    generate(tiny_config("ego4d", ws / "synth", videos=VIDEOS, audio=False))
    cfg = IndexConfig(dataset="ego4d", root=str(ws / "synth"), min_class_instances=1)
    manifest = build_manifest(cfg).manifest
    (ws / "manifests").mkdir()
    write_manifest(manifest, str(ws / "manifests" / "ego4d.parquet"), cfg)
    n_classes = max(manifest.column("label").to_pylist()) + 1
    teacher = TeacherConfig(name="tiny3d", weights="none", crop_size=32, tiny_width=8, num_classes=n_classes)
    torch.manual_seed(0)
    write_export(ws / "teacher", build_teacher(teacher).state_dict(), teacher,
                 {"model_name": "tiny", "clip": {"decode_size": 36}})  # fmt: skip
    return ws, manifest


def _own_processes(marker: str) -> list[int]:
    """Pids of live processes whose command line names ``marker`` (this test's Ray temp dir)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if marker.encode() in (d / "cmdline").read_bytes():
                pids.append(int(d.name))
        except OSError:
            continue
    return pids


def test_ingest_and_distill_spread_over_nodes_survive_a_lost_node(ray_session, tmp_path):
    t0 = time.perf_counter()
    ws, manifest = _workspace(tmp_path)
    t_prep = time.perf_counter() - t0
    # the Ray temp dir holds unix sockets (<= 107 bytes a path), so it must be short: /tmp, not tmp_path
    temp_dir = tempfile.mkdtemp(prefix="egdmn-", dir="/tmp")
    result_path, log_path = tmp_path / "result.json", tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    t1 = time.perf_counter()
    returncode: int | str = "timeout"
    try:
        with log_path.open("wb") as log_file:
            returncode = subprocess.run(
                [sys.executable, str(SCRIPT), str(ws), temp_dir, str(result_path)],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT_SEC,
            ).returncode
    except subprocess.TimeoutExpired:
        pass  # reported below with the log
    finally:
        time.sleep(1.0)  # let the cluster's processes finish exiting
        leftovers = _own_processes(temp_dir)
        for pid in leftovers:  # only processes started with this test's own temp dir
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)
    t_run = time.perf_counter() - t1
    log = log_path.read_text(errors="replace")
    assert returncode == 0 and result_path.is_file(), f"exit {returncode}:\n{log[-6000:]}"
    r = json.loads(result_path.read_text())
    print(f"\nmulti-node: prep {t_prep:.1f} s, subprocess {t_run:.1f} s; inside: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in r["timings"].items()))  # fmt: skip
    assert not leftovers, f"Ray processes left behind by the cluster: {leftovers}"

    # ---- ingest ran on more than one node
    ing = r["ingest"]
    nodes = {r["head_node"], *r["worker_nodes"]}
    done_on = {node for _, node in ing["completed"]}
    started_on = {node for _, node, _ in ing["attempts_started"]}
    assert started_on <= nodes and len(started_on) >= 2, ing["attempts_started"]
    assert len(done_on) >= 2, ing["completed"]

    # ---- a worker node was removed with a task in flight; its videos were redone elsewhere
    removal = ing["removal"]
    assert "error" not in removal and removal.get("node") in r["worker_nodes"], removal
    lost = set(removal["videos_in_flight"])
    assert lost
    ended = {(video, node) for video, node, _ in ing["attempts_ended"]}
    assert not any(node == removal["node"] for video, node in ended if video in lost)  # killed mid-task
    finished = dict(ing["completed"])
    assert lost <= set(finished), (lost, finished)
    assert all(finished[v] != removal["node"] for v in lost)  # retried on a surviving node
    assert removal["node"] not in r["alive_nodes"]

    # ---- the job still completed with every row, once
    s = ing["summary"]
    videos = set(manifest.column("video_id").to_pylist())
    assert ing["ok"] and s["rows_missing"] == 0, s
    assert s["rows_in"] == manifest.num_rows == s["rows_written"] + s["rows_quarantined"], s
    assert s["videos_processed"] == len(ing["completed"]) == len(videos) == len(finished)  # once each
    clips = store.read_clips(str(ws / "clips"), columns=["clip_id"]).column("clip_id").to_pylist()
    assert len(clips) == len(set(clips)) == s["rows_written"]  # no duplicate rows from the retry
    quarantined = _quarantined_ids(ws / "clips")
    assert set(clips) | quarantined == set(manifest.column("clip_id").to_pylist())
    assert not set(clips) & quarantined
    # ... and the same rows, byte for byte, as an undisturbed run of the job (on the session's Ray)
    t2 = time.perf_counter()
    clean = run_ingest(IngestConfig(manifest=str(ws / "manifests" / "ego4d.parquet"), out=str(tmp_path / "clean"),
                                    frames=FRAMES, resources={"progress_bars": False}))  # fmt: skip
    print(f"undisturbed ingest on the session's Ray: {time.perf_counter() - t2:.1f} s")
    assert clean.ok and clean.rows_written == s["rows_written"]
    assert _rows(ws / "clips") == _rows(tmp_path / "clean")

    # ---- distill: 2 Ray Train workers on 2 different nodes
    assert r["features_ok"]
    d = r["distill"]
    assert d["epochs_done"] == 1 and d["train_clips"] >= 2, d
    assert len(d["worker_nodes"]) == 2 and len(set(d["worker_nodes"])) == 2, d
    assert set(d["worker_nodes"]) <= set(r["alive_nodes"]), d
    assert (Path(d["student_dir"]) / "student.pt").is_file()


def _rows(root: Path) -> dict[str, dict]:
    return {r["clip_id"]: r for r in store.read_clips(str(root)).to_pylist()}


def _quarantined_ids(clips_root: Path) -> set[str]:
    import pyarrow.parquet as pq

    ids: set[str] = set()
    for p in clips_root.glob("_quarantine/**/*.parquet"):
        if not p.name.startswith("."):
            ids.update(str(x) for x in pq.read_table(p, columns=["item_id"]).column("item_id").to_pylist())
    return ids
