"""Stage 1 -> stage 2 on Ray Train: checkpoints, resume after a failure, 2 workers, MLflow, the CLI config."""

from __future__ import annotations

import argparse

import pytest
import torch
from studenthelpers import job_values

from egodistill.methods.egodistill.config import DistillJobConfig, PretrainJobConfig
from egodistill.methods.egodistill.experiment import ExperimentConfig, experiment_runs
from egodistill.methods.egodistill.jobs import run_distill, run_pretrain


@pytest.fixture(scope="module")
def pretrained(student_ws):
    return run_pretrain(PretrainJobConfig(**job_values(student_ws, name="t1")))


def test_pretrain_writes_a_student_for_stage_two(pretrained, student_ws):
    assert pretrained.metrics["epochs_done"] == 1 and pretrained.metrics["train_nce"] > 0
    state = torch.load(f"{pretrained.student_dir}/student.pt", weights_only=True)
    assert "imu_encoder.net.0.weight" in state or any(k.startswith("imu_encoder.") for k in state)
    assert (student_ws / "mlflow.db").is_file()


def test_distill_resumes_from_its_checkpoint_after_a_failure(pretrained, student_ws):
    values = job_values(student_ws, name="t1", optim={"epochs": 2}, fail_after_epoch=0,
                        trainer={"scaling": {"num_workers": 1, "cpus_per_worker": 1},
                                 "find_unused_parameters": True, "run": {"max_failures": 1}})  # fmt: skip
    out = run_distill(DistillJobConfig(**values, init_from=pretrained.student_dir, efficiency=False))
    m = out.metrics
    # the injected failure after epoch 0 restarted the worker group, which resumed at epoch 1, not 0
    assert m["epochs_done"] == 2 and m["start_epoch"] == 1 and m["attempt"] == 1
    assert out.segments is not None and len(out.segments.label) >= 1 and 0.0 <= out.segment_top1 <= 1.0
    assert {"train_kd", "train_l1", "train_gt", "val_segment_top1"} <= set(m)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{student_ws / 'mlflow.db'}")
    run = client.get_run(out.run_id)
    assert run.info.status == "FINISHED" and "eval/segment_top1" in run.data.metrics
    assert len(client.get_metric_history(out.run_id, "train/loss")) == 2  # one per epoch, across the restart
    # validation is a curve (every epoch by default), bookkeeping sits under sys/
    assert {h.step for h in client.get_metric_history(out.run_id, "val/segment_top1")} == {0, 1}
    assert {"sys/attempt", "sys/epochs_done"} <= set(run.data.metrics)
    assert not [k for k in run.data.metrics if "/" not in k]
    arts = {a.path for a in client.list_artifacts(out.run_id)}
    assert {"student", "config.yaml"} <= arts
    (model,) = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id = '{out.run_id}'"
    )
    assert model.status == "READY"  # the student as an MLflow logged model (pyfunc, signature, example)


def test_two_workers_complete(student_ws):
    values = job_values(student_ws, name="t2", student={"variant": "visonly_distill"},
                        trainer={"scaling": {"num_workers": 2, "cpus_per_worker": 0.5},
                                 "find_unused_parameters": True})  # fmt: skip
    out = run_distill(DistillJobConfig(**values, efficiency=False))
    assert out.metrics["epochs_done"] == 1 and out.metrics["train_clips"] >= 2


def test_experiment_runs_cover_variants_and_ablations():
    cfg = ExperimentConfig(ablations=["no_kd", "no_pretrain"], frames=[1, 2], strategies=["first"])
    runs = experiment_runs(cfg)
    labels = [r.label for r in runs]
    assert labels[:4] == ["VisOnly", "VisOnly-Distill", "VisIMU", "EgoDistill"]
    assert [r.pretrain for r in runs[:4]] == [False, False, False, True]
    assert "EgoDistill w/o KD" in labels and "EgoDistill N=2" in labels and "EgoDistill first" in labels
    no_pre = next(r for r in runs if r.label == "EgoDistill w/o pretraining")
    assert not no_pre.pretrain
    assert len({r.name for r in runs}) == len(runs)


def test_cli_config_layers(tmp_path):
    from egodistill.methods.egodistill.cli import distill, load_job_config

    parser = argparse.ArgumentParser()
    distill.add_arguments(parser)
    args = parser.parse_args(["--workspace", str(tmp_path), "--preset", "demo", "--variant", "visimu",
                              "--frames", "2", "--epochs", "7", "--set", "loss.alpha=0.5"])  # fmt: skip
    cfg = load_job_config(args, "distill")
    assert cfg.student.variant == "visimu" and cfg.data.num_frames == 2
    assert cfg.optim.epochs == 7 and cfg.optim.batch_size == 16 and cfg.loss.alpha == 0.5
    paper = DistillJobConfig()
    assert (paper.optim.batch_size, paper.optim.lr, paper.loss.alpha, paper.loss.beta) == (
        64,
        1e-4,
        0.95,
        1.0,
    )
