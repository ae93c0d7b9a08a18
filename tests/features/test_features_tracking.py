"""`egodistill features` leaves an MLflow run (params, counts, summary) in the workspace's store."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from egodistill.cli import main
from egodistill.tracking import default_tracking_uri

pytestmark = pytest.mark.ray


def test_features_run_lands_in_the_workspace(tiny_clips, tiny_teacher, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = tmp_path / "ws"
    argv = ["features", "--clips", str(tiny_clips), "--teacher-dir", str(tiny_teacher), "--workspace", str(ws),
            "--batch-size", "4"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    client = MlflowClient(tracking_uri=default_tracking_uri(ws))
    exp = client.get_experiment_by_name("egodistill-features")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    m = run.data.metrics
    assert m["rows_written"] == m["ego4d.rows_written"] == m["rows_in"] >= 4
    assert m["rows_quarantined"] == m["rows_missing"] == 0 and m["ok"] == 1
    assert m["clips_processed"] == m["rows_in"] and m["elapsed_sec"] > 0
    assert f"written {int(m['rows_written'])} + quarantined 0" in printed
    assert run.data.params["batch_size"] == "4" and run.data.params["workspace"] == str(ws)
    local = Path(client.download_artifacts(run.info.run_id, "summary.txt", str(tmp_path / "art")))
    assert "features OK [ego4d" in local.read_text()
