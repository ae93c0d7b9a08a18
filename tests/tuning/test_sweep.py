"""`egodistill sweep`: 8 ASHA + Optuna trials of stage 2 on the tiny student workspace, best.yaml, MLflow, resume."""

from __future__ import annotations

import argparse

import pytest

from egodistill.config import load_config
from egodistill.methods.egodistill.config import DistillJobConfig
from egodistill.tuning import cli as sweep_cli
from egodistill.tuning.config import SPACES_FILE, load_sweep_config
from egodistill.tuning.sweep import BEST_FILE, run_sweep
from students.conftest import student_ws  # noqa: F401  (the tiny student workspace fixture)
from students.studenthelpers import job_values

pytestmark = pytest.mark.ray


def _job(ws) -> dict:
    values = job_values(ws)
    values.pop("workspace")
    values["optim"].update({"epochs": 2, "eval_every": 1})
    values["trainer"]["scaling"]["cpus_per_worker"] = 0.5
    values["trainer"]["run"] = {"max_failures": 0}
    return values


def test_spaces_file_presets_validate():
    assert SPACES_FILE.is_file()
    for preset in ("paper", "demo", "test"):
        cfg = load_sweep_config(preset)
        assert {"loss.alpha", "loss.beta", "loss.temperature", "optim.lr"} <= set(cfg.space)
    test = load_sweep_config("test")
    assert test.num_samples >= 8 and test.job["optim"]["epochs"] <= 2
    assert test.space["loss.temperature"].values == [1, 2, 5, 10, 20]


def test_cli_layers(tmp_path):
    p = argparse.ArgumentParser()
    sweep_cli.add_arguments(p)
    args = p.parse_args(["--workspace", str(tmp_path), "--preset", "test", "--trials", "9", "--name", "x",
                         "--set", "asha.grace_period=2", "--variant", "visimu"])  # fmt: skip
    cfg = sweep_cli.load(args)
    assert (cfg.num_samples, cfg.name, cfg.asha.grace_period) == (9, "x", 2)
    assert (
        cfg.job["student"]["variant"] == "visimu" and cfg.sweep_dir() == tmp_path.absolute() / "sweeps" / "x"
    )


def test_a_stopped_trials_run_is_closed_and_a_finished_one_kept(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from egodistill import tracking
    from egodistill.tracking import TrackingConfig
    from egodistill.tuning.sweep import CloseStoppedTrialRuns

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = TrackingConfig()
    parent = tracking.start_run(cfg, workspace=tmp_path, job="sweep")
    stopped = tracking.start_run(
        cfg, workspace=tmp_path, job="distill", params={"name": "s-t1"}, parent=parent
    )
    done = tracking.start_run(cfg, workspace=tmp_path, job="distill", params={"name": "s-t2"}, parent=parent)
    tracking.end_run(done, "FINISHED")
    callback = CloseStoppedTrialRuns(parent, "s")
    for trial_id in ("t1", "t2"):
        callback.on_trial_complete(0, [], SimpleNamespace(trial_id=trial_id))
    client = parent.client()
    assert client.get_run(stopped.run_id).info.status == "KILLED"
    assert client.get_run(done.run_id).info.status == "FINISHED"


def test_sweep_eight_trials_best_config_mlflow_and_resume(student_ws):  # noqa: F811
    from mlflow.tracking import MlflowClient

    from egodistill.tracking import resolve_tracking_uri

    cfg = load_sweep_config("test", workspace=str(student_ws), name="t8", job=_job(student_ws))
    out = run_sweep(cfg)
    print("\n".join(out.lines()))
    assert out.num_trials == cfg.num_samples >= 8
    assert not [t for t in out.trials if t["error"]], out.trials
    assert {"loss.alpha", "loss.beta", "loss.temperature", "optim.lr"} == set(out.best_params)
    # ASHA saw per-epoch results: some trial reported 2 epochs (+ the final report)
    assert max(t["iterations"] for t in out.trials) >= 2

    best = student_ws / "sweeps" / "t8" / BEST_FILE
    assert best.is_file()
    job = load_config(DistillJobConfig, best)  # what `egodistill distill --config best.yaml` loads
    assert job.loss.alpha == pytest.approx(out.best_params["loss.alpha"])
    assert job.loss.temperature == out.best_params["loss.temperature"]
    assert job.name == "t8-best"

    client = MlflowClient(tracking_uri=resolve_tracking_uri(cfg.tracking, student_ws))
    parent = client.get_run(out.parent_run_id)
    assert parent.info.status == "FINISHED"
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{out.parent_run_id}'"
    )
    assert len(children) >= 8
    assert not [c for c in children if c.info.status == "RUNNING"], "every trial's run ends, stopped ones too"

    # the same sweep again restores the finished Tune experiment instead of running new trials
    again = run_sweep(cfg)
    assert again.resumed and again.num_trials == out.num_trials
    assert again.parent_run_id == out.parent_run_id
