"""The multi-node scenario, run in its own process by test_multinode.py (a ``Cluster`` cannot share a
process with the test session's Ray).

    python multinode_run.py WORKSPACE RAY_TEMP_DIR RESULT_JSON

WORKSPACE already holds ``manifests/ego4d.parquet`` and a teacher export in ``teacher/``. The script:

1. starts a 3-node cluster on this machine (``ray.cluster_utils.Cluster``): head + 2 worker nodes,
   1 logical CPU each, each with one ``egd_train_slot`` custom resource;
2. ingests the manifest with ``run_ingest``; every decode task records the node it ran on (a thin
   wrapper around the library's map function, which also holds each task back ``TASK_DELAY_SEC``
   so tasks are in flight when the node goes). When the first video is done (``on_video``), it
   removes a worker node on which an ingest task has just started (so it is lost mid-task, before
   writing anything), hard (``allow_graceful=False``: raylet and workers killed, like a lost
   machine). Ray Data's map tasks have ``max_retries=-1``, so the lost task is re-run elsewhere
   once the GCS marks the node dead (5 missed health checks: ~5 s at HEALTH_CHECK_MS, 15 s by default);
3. adds a fresh worker node (a replacement), writes teacher features and runs a 1-epoch distill
   (EgoDistill variant, evaluated on the val clips) with 2 Ray Train workers that each need one ``egd_train_slot``: no node has two, so the
   workers must land on two different nodes; their node ids are read from the GCS actor table;
4. writes what it saw to RESULT_JSON and tears the cluster down.

The test asserts on RESULT_JSON and on the files in WORKSPACE.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

TASK_DELAY_SEC = 2.5
FRESH_SEC = 1.8  # remove a node whose task started at most this long ago (>= 0.7 s of its hold left)
HEALTH_CHECK_MS = 1000  # GCS -> raylet health checks (default 3000; 5 misses mark a node dead)
SLOT = "egd_train_slot"
MARKERS = "ingest_markers"  # under the workspace: one file per task attempt start / end


def _wrapped_task(inner, markers: str, delay: float):
    """The library's map function, recording (video, node, pid) at start and end of each attempt."""

    def process_video_task(task: dict[str, Any], settings: str) -> dict[str, Any]:
        import ray

        node = ray.get_runtime_context().get_node_id()
        tag = f"{task['video_id']}.{node}.{os.getpid()}"
        Path(markers, f"start.{tag}").touch()
        time.sleep(delay)  # keeps the task in flight long enough to lose its node mid-task
        res = inner(task, settings)
        Path(markers, f"end.{tag}").touch()
        return {**res, "node_id": node}

    return process_video_task


def _attempts(markers: Path) -> dict[str, set[tuple[str, str, str]]]:
    """{"start"|"end": {(video, node, pid)}} from the marker files."""
    out: dict[str, set[tuple[str, str, str]]] = {"start": set(), "end": set()}
    for p in markers.iterdir():
        kind, rest = p.name.split(".", 1)
        video, node, pid = rest.rsplit(".", 2)
        out[kind].add((video, node, pid))
    return out


def _in_flight(markers: Path, nodes: set[str], max_age: float) -> dict[str, list[str]]:
    """Videos on each of ``nodes`` whose task attempt started at most ``max_age`` s ago and has not ended.

    A young attempt is still in its ``TASK_DELAY_SEC`` hold (it has written nothing yet), so a node
    removed right now certainly loses a task mid-way, with no race against the task's end.
    """
    a = _attempts(markers)
    now = time.time()
    running: dict[str, list[str]] = {}
    for video, node, pid in a["start"] - a["end"]:
        age = now - Path(markers, f"start.{video}.{node}.{pid}").stat().st_mtime
        if node in nodes and age <= max_age:
            running.setdefault(node, []).append(video)
    return running


def _train_worker_nodes() -> list[str]:
    """Nodes of this job's Ray Train worker actors (alive or finished)."""
    import ray

    job_id = ray.JobID.from_hex(ray.get_runtime_context().get_job_id())
    table = ray._private.state.actors(job_id=job_id)  # GCS actor table (no dashboard needed)
    return sorted(
        a["Address"]["NodeID"] for a in table.values() if a["ActorClassName"].endswith("RayTrainWorker")
    )


def main(ws: Path, temp_dir: str, result_path: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    from egodistill.features.config import FeaturesConfig
    from egodistill.features.pipeline import run_features
    from egodistill.ingest import pipeline
    from egodistill.ingest.config import IngestConfig
    from egodistill.methods.egodistill.config import DistillJobConfig
    from egodistill.methods.egodistill.jobs import run_distill
    from egodistill.student.products import StudentInputsConfig, run_student_inputs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stdout)
    result: dict[str, Any] = {"timings": {}}
    t0 = time.perf_counter()
    node_args = {"num_cpus": 1, "resources": {SLOT: 1}, "object_store_memory": 100 * 1024 * 1024}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            **node_args,
            "include_dashboard": False,
            "temp_dir": temp_dir,
            "_system_config": {"health_check_period_ms": HEALTH_CHECK_MS},
        },
    )
    try:
        workers = [cluster.add_node(**node_args) for _ in range(2)]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        head_id = cluster.head_node.node_id
        result["head_node"] = head_id
        result["worker_nodes"] = [n.node_id for n in workers]
        result["cluster_cpus"] = ray.cluster_resources().get("CPU")
        result["timings"]["cluster_start"] = time.perf_counter() - t0
        print(f"cluster up in {time.perf_counter() - t0:.1f} s: head {head_id[:8]}, "
              f"workers {[n.node_id[:8] for n in workers]}", flush=True)  # fmt: skip

        # ---- ingest, losing a worker node after the first video is done
        markers = ws / MARKERS
        markers.mkdir()
        original = pipeline.process_video_task
        pipeline.process_video_task = _wrapped_task(original, str(markers), TASK_DELAY_SEC)
        completed: list[tuple[str, str]] = []
        removal: dict[str, Any] = {}

        def on_video(res: dict[str, Any]) -> None:
            completed.append((str(res["video_id"]), str(res["node_id"])))
            if removal:
                return
            by_id = {n.node_id: n for n in workers}
            t_wait = time.monotonic()
            running = _in_flight(markers, set(by_id), FRESH_SEC)
            while not running and time.monotonic() - t_wait < 60:  # wait for a fresh task on a worker node
                time.sleep(0.02)
                # after 15 s (a very slow driver), any attempt in flight on a worker node will do
                running = _in_flight(
                    markers, set(by_id), FRESH_SEC if time.monotonic() - t_wait < 15 else 1e9
                )
            if not running:
                removal["error"] = "no ingest task ran on a worker node"
                return
            victim = max(running, key=lambda n: len(running[n]))
            t = time.perf_counter()
            cluster.remove_node(by_id[victim], allow_graceful=False)
            removal.update(node=victim, videos_in_flight=sorted(running[victim]),
                           after_videos=len(completed), remove_sec=time.perf_counter() - t)  # fmt: skip
            print(f"removed node {victim[:8]} with {running[victim]} in flight "
                  f"after {len(completed)} video(s)", flush=True)  # fmt: skip

        t = time.perf_counter()
        try:
            summary = pipeline.run_ingest(
                IngestConfig(
                    manifest=str(ws / "manifests" / "ego4d.parquet"),
                    out=str(ws / "clips"),
                    frames={"count": 4, "short_side": 32, "crop_size": 32},
                    resources={"progress_bars": False},
                ),
                on_video=on_video,
            )
        finally:
            pipeline.process_video_task = original
        result["timings"]["ingest"] = time.perf_counter() - t
        attempts = _attempts(markers)
        result["ingest"] = {
            "summary": {k: v for k, v in vars(summary).items()},
            "ok": summary.ok,
            "completed": completed,
            "removal": removal,
            "attempts_started": sorted(attempts["start"]),
            "attempts_ended": sorted(attempts["end"]),
        }
        print("\n".join(summary.lines()), flush=True)

        # ---- a replacement node, teacher features, then a 2-worker distill across nodes
        t = time.perf_counter()
        replacement = cluster.add_node(**node_args)
        cluster.wait_for_nodes()
        result["replacement_node"] = replacement.node_id
        result["alive_nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        fs = run_features(
            FeaturesConfig(clips=str(ws / "clips"), workspace=str(ws), teacher_dir=str(ws / "teacher"))
        )
        result["features_ok"] = bool(fs.ok)
        result["timings"]["features"] = time.perf_counter() - t
        t = time.perf_counter()
        # evaluate on the val clips: no dense-clip ingest (time)
        run_student_inputs(StudentInputsConfig(workspace=str(ws), image_weights="none", build_dense=False))
        result["timings"]["student_inputs"] = time.perf_counter() - t

        t = time.perf_counter()
        cfg = DistillJobConfig(
            workspace=str(ws),
            name="multinode",
            student={"variant": "egodistill", "image_weights": "none", "fusion_hidden": 64,
                     "predictor_hidden": 64, "imu_feature_dim": 32},
            optim={"epochs": 1, "batch_size": 8, "lr": 1e-3, "milestones": []},
            trainer={"scaling": {"num_workers": 2, "cpus_per_worker": 0.5, "resources_per_worker": {SLOT: 1}},
                     "find_unused_parameters": True},
            efficiency=False,
        )  # fmt: skip
        out = run_distill(cfg)
        result["timings"]["distill"] = time.perf_counter() - t
        result["distill"] = {
            "epochs_done": out.metrics.get("epochs_done"),
            "train_clips": out.metrics.get("train_clips"),
            "student_dir": out.student_dir,
            "worker_nodes": _train_worker_nodes(),
        }
        print("\n".join(out.lines()), flush=True)
    finally:
        t = time.perf_counter()
        ray.shutdown()
        cluster.shutdown()
        result["timings"]["shutdown"] = time.perf_counter() - t
        result["timings"]["total"] = time.perf_counter() - t0
        result_path.write_text(json.dumps(result, indent=1, default=str))
        print(f"timings: {json.dumps({k: round(v, 1) for k, v in result['timings'].items()})}", flush=True)


if __name__ == "__main__":
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.pop("RAY_ADDRESS", None)
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
