"""`ray job submit` against a private local head: jobs run through it, and stopping it stops only it.

The head runs in its own session, so it coexists with the test session's Ray (``ray_session``); the
test proves both directions: the submitted jobs see the head's resources, and after ``stop()`` no
process of the head's session is left while the session Ray still answers.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from egodistill.datasets.manifest import quarantine_path
from egodistill.demo import DemoConfig, stages
from egodistill.launch.local_head import local_head
from egodistill.launch.submit import submit_job

pytestmark = pytest.mark.ray


def test_demo_stages_are_the_jobs_with_absolute_paths(tmp_path):
    cfg = DemoConfig(out=str(tmp_path / "demo"), sweep_trials=8)
    todo = stages(cfg)
    assert [s.job for s in todo] == ["synth", "index", "ingest"] * 2 + [
        "pretrain-image",  # the stand-in f_I (image_weights: standin, the default), once
        "teacher",
        "features",
        "student-inputs",
        "experiment",
        "sweep",
    ]
    for stage in todo:
        for value in stage.args:
            if "/" in value:
                assert value.startswith(str(tmp_path)), (stage.name, value)  # jobs run in a copy of the repo
    assert "--compare-single-frame" in todo[7].args
    standin = todo[6].args
    assert standin[standin.index("--image-size") + 1] == str(cfg.frame_size)
    ckpt = [s for s in todo if s.job == "experiment"][0].args
    assert "resnet18-standin-" in ckpt[ckpt.index("--image-weights") + 1]
    bench = stages(DemoConfig(out=str(tmp_path / "b"), preset="bench", layouts=["ego4d"], teacher_pretrain=True))
    assert [s.job for s in bench][3:8] == ["pretrain-image", "synth", "index", "teacher", "teacher"]
    weights = bench[7].args[bench[7].args.index("--weights") + 1]
    assert weights.endswith("tiny3d-pool/teacher.pt") and "--model-name" in bench[6].args
    from egodistill.launch.submit import job_script

    everything = stages(
        DemoConfig(out=str(tmp_path / "d2"), sweep_trials=2, correspondence=True, multimodal=True)
    )
    missing = [s.job for s in everything if not job_script(s.job).is_file()]
    assert not missing, f"demo stages without a jobs/ script for ray job submit: {missing}"
    assert todo[4].args[-2:] == ("--set", "split.rule=random_participants")  # EPIC synthetic participants


def test_jobs_run_through_ray_job_submit_and_stop_leaves_other_ray_alone(tmp_path, ray_session, monkeypatch):
    ray = ray_session
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the jobs' runs go to <tmp_path>/mlflow.db
    data, manifest = tmp_path / "data", tmp_path / "manifests" / "ego4d.parquet"
    with local_head(num_cpus=1) as head:
        assert head.processes(), "the head's processes run in its own session"
        rc = submit_job(head.dashboard_url, "synth", ["--layout", "ego4d", "--out", str(data), "--videos", "1",
                                                      "--seconds", "8", "--width", "64", "--height", "48"])  # fmt: skip
        assert rc == 0
        rc = submit_job(
            head.dashboard_url, "index", ["--dataset", "ego4d", "--root", str(data), "--out", str(manifest)]
        )
        assert rc == 0
        bad = submit_job(head.dashboard_url, "index", ["--dataset", "ego4d", "--root", str(tmp_path / "nope"),
                                                       "--out", str(tmp_path / "x.parquet")])  # fmt: skip
        assert bad != 0, "a failing job makes `ray job submit` exit non-zero"
    assert not head.processes(), "stop() ends every process of the head's session"
    assert not head.temp_dir.exists()
    assert ray.is_initialized() and ray.cluster_resources().get("CPU", 0) >= 1  # the session Ray lives on

    truth = json.loads((data / "synthetic_ground_truth.json").read_text())
    assert len(truth["videos"]) == 1
    quarantined = pq.read_table(quarantine_path(str(manifest))).num_rows
    assert pq.read_table(manifest).num_rows + quarantined > 0  # every annotated action is accounted for

    from mlflow.tracking import MlflowClient

    from egodistill.tracking import default_tracking_uri

    client = MlflowClient(tracking_uri=default_tracking_uri(tmp_path))  # above manifests/ (and x.parquet's)
    runs = client.search_runs([client.get_experiment_by_name("egodistill-index").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FAILED", "FINISHED"]  # the submitted jobs are tracked
