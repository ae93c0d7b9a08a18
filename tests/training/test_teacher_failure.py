"""Done-means check: 2 Ray Train workers, one fails mid-epoch, the run resumes from the last checkpoint.

Also checks what the run leaves behind: the exported teacher (loadable), the per-epoch checkpoints,
and the MLflow run (params, per-epoch metrics, checkpoint and model artifacts, evaluation table).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from egodistill import tracking
from egodistill.teacher import export
from egodistill.teacher.config import PRESETS, TeacherJobConfig

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def resumed_run(ray_session, tiny_manifest, tmp_path_factory):
    from egodistill.teacher.job import run_teacher

    ws = tmp_path_factory.mktemp("teacher_ws")
    marker = ws / "failed-once"
    cfg = TeacherJobConfig.model_validate(
        {
            **PRESETS["smoke"],
            "workspace": str(ws),
            "data": {**PRESETS["smoke"]["data"], "manifest": str(tiny_manifest), "train_repeats": 2},
            "optim": {**PRESETS["smoke"]["optim"], "eval_every": 2},  # evaluate after the last epoch only
            "trainer": {"scaling": {"num_workers": 2, "cpus_per_worker": 0.5}, "run": {"max_failures": 1}},
            # rank 1 raises before its second batch of the second epoch (after epoch 0 was checkpointed)
            "fail_once": {"epoch": 1, "rank": 1, "after_batches": 1, "marker": str(marker)},
            "efficiency": True,
        }
    )
    return cfg, run_teacher(cfg), marker


def test_run_resumes_from_the_checkpoint_and_finishes(resumed_run):
    cfg, outcome, marker = resumed_run
    assert marker.exists(), "the injected failure never fired"
    m = outcome.metrics
    assert m["epochs_done"] == cfg.optim.epochs == 2
    assert m["start_epoch"] == 1, "the restarted workers did not resume from the epoch-0 checkpoint"
    assert m["attempt"] == 1
    assert m["train_clips"] > 0 and m["train_clips_failed"] == 0
    assert 0.0 <= outcome.segment_top1 <= 1.0 and m["val_segments"] == outcome.eval_segments
    # the run name carries a hash of what shapes the weights (a changed model trains afresh)
    (run_dir,) = (Path(cfg.workspace) / "ray_results").glob("teacher-ego4d-tiny3d-*")
    assert sorted(p.name for p in run_dir.glob("epoch-*")) == ["epoch-0000", "epoch-0001"]


def test_the_trained_teacher_is_exported_and_measured(resumed_run):
    cfg, outcome, _ = resumed_run
    model, tcfg = export.load_teacher(outcome.export_dir)
    assert tcfg.name == "tiny3d" and tcfg.num_classes == len(outcome.classes)
    spec = model.input_spec
    out = model(torch.rand(2, 3, spec.num_frames, spec.crop_size, spec.crop_size))
    assert out.logits.shape == (2, len(outcome.classes))
    info = export.read_info(outcome.export_dir)
    assert info["clip"]["num_frames"] == 8 and info["metrics"]["epochs_done"] == 2
    e = outcome.efficiency
    assert e["gmacs"] > 0 and e["params"] > 0 and e["cpu_latency_sec"] > 0


def test_mlflow_run_has_params_epoch_metrics_and_artifacts(resumed_run):
    cfg, outcome, _ = resumed_run
    ref = tracking.RunRef(tracking.default_tracking_uri(cfg.workspace), "", outcome.run_id)
    client = ref.client()
    run = client.get_run(outcome.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["optim.epochs"] == "2" and run.data.params["teacher.name"] == "tiny3d"
    assert run.data.params["derived.dataset"] == "ego4d"
    history = client.get_metric_history(outcome.run_id, "train/loss")
    assert {h.step for h in history} == {0, 1}
    starts = {h.step: h.value for h in client.get_metric_history(outcome.run_id, "sys/start_epoch")}
    assert starts[1] == 1.0  # the epoch after the restart was logged by the resumed attempt
    assert "eval/segment_top1" in run.data.metrics and "efficiency/gmacs" in run.data.metrics
    assert run.data.metrics["eval/segment_top1_ci_low"] <= run.data.metrics["eval/segment_top1"]
    assert not [
        k for k in run.data.metrics if k.startswith("final_") or "/" not in k
    ]  # every metric in a section
    paths = {a.path for a in client.list_artifacts(outcome.run_id, "checkpoint")}
    assert "checkpoint/state.pt" in paths
    assert {a.path for a in client.list_artifacts(outcome.run_id, "model")} >= {
        "model/teacher.pt",
        "model/teacher.yaml",
    }
    assert {a.path for a in client.list_artifacts(outcome.run_id, "tables")} == {
        "tables/eval_segments.parquet"
    }
