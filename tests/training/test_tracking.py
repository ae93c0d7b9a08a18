"""MLflow wiring: SQLite store in the workspace, flattened params, metrics by step, nested runs, artifacts."""

from __future__ import annotations

import pyarrow as pa
import pytest

from egodistill import tracking
from egodistill.tracking import TrackingConfig


def test_flatten_turns_nested_configs_into_dotted_params():
    from egodistill.teacher.config import TeacherJobConfig

    flat = tracking.flatten({"a": {"b": 1, "c": [1, 2]}, "d": None, "e": [{"x": 1}], "f": {}})
    assert flat == {"a.b": "1", "a.c": "[1, 2]", "d": "None", "e.0.x": "1", "f": "{}"}
    params = tracking.flatten(TeacherJobConfig())
    assert params["optim.lr"] == "0.0001" and params["teacher.name"] == "mvit_v2_s"
    assert all(len(v) <= tracking.MAX_PARAM_LENGTH for v in params.values())


def test_default_store_is_an_absolute_sqlite_file_in_the_workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking.resolve_tracking_uri(TrackingConfig(), "ws")
    assert uri == f"sqlite:///{tmp_path / 'ws' / 'mlflow.db'}"
    assert (
        tracking.resolve_tracking_uri(TrackingConfig(tracking_uri="http://mlflow:5000"), "ws")
        == "http://mlflow:5000"
    )


def test_a_cluster_server_in_mlflow_tracking_uri_beats_the_workspace_store(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.cluster:5000")
    assert tracking.resolve_tracking_uri(TrackingConfig(), "ws") == "http://mlflow.cluster:5000"
    explicit = TrackingConfig(tracking_uri="sqlite:///x.db")
    assert tracking.resolve_tracking_uri(explicit, "ws") == "sqlite:///x.db"


def test_disabled_tracking_is_a_no_op(tmp_path):
    ref = tracking.start_run(TrackingConfig(enabled=False), workspace=tmp_path, job="x", params={"a": 1})
    assert ref is None
    tracking.log_metrics(ref, {"a": 1.0}, step=0)
    tracking.log_table(ref, pa.table({"a": [1]}), "t.parquet")
    tracking.end_run(ref)
    assert not (tmp_path / "mlflow.db").exists()


def test_runs_params_metrics_artifacts_and_nesting(tmp_path):
    cfg = TrackingConfig()
    with tracking.tracked_run(
        cfg, workspace=tmp_path, job="teacher", params={"optim": {"lr": 1e-3}}
    ) as parent:
        child = tracking.start_run(cfg, workspace=tmp_path, job="teacher", parent=parent, run_name="trial-0")
        for epoch, loss in enumerate([1.0, 0.5, float("nan")]):
            tracking.log_metrics(child, {"loss": loss, "note": "text is skipped", "ok": True}, step=epoch)
        tracking.log_table(child, pa.table({"clip_id": ["a"], "correct": [True]}), "tables/eval.parquet")
        (tmp_path / "ckpt").mkdir()
        (tmp_path / "ckpt" / "state.pt").write_bytes(b"x")
        tracking.log_artifact(child, tmp_path / "ckpt", "checkpoint")
        tracking.end_run(child)
    client = parent.client()
    assert parent.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = client.get_run(child.run_id)
    assert run.data.tags[tracking.PARENT_TAG] == parent.run_id
    assert run.info.experiment_id == parent.experiment_id
    assert client.get_experiment(parent.experiment_id).name == "egodistill-teacher"
    assert [m.value for m in client.get_metric_history(child.run_id, "loss")] == [1.0, 0.5]  # NaN skipped
    assert "note" not in run.data.metrics and run.data.metrics["ok"] == 1.0
    artifacts = {a.path for a in client.list_artifacts(child.run_id, "checkpoint")}
    assert artifacts == {"checkpoint/state.pt"}
    assert {a.path for a in client.list_artifacts(child.run_id, "tables")} == {"tables/eval.parquet"}
    assert client.get_run(parent.run_id).data.params == {"optim.lr": "0.001"}
    assert client.get_run(parent.run_id).info.status == "FINISHED"
    assert (tmp_path / "mlartifacts").is_dir()  # artifacts in the workspace, not ./mlruns


def test_a_failing_block_marks_the_run_failed(tmp_path):
    with (
        pytest.raises(RuntimeError),
        tracking.tracked_run(TrackingConfig(), workspace=tmp_path, job="x") as ref,
    ):
        raise RuntimeError("boom")
    assert ref.client().get_run(ref.run_id).info.status == "FAILED"
