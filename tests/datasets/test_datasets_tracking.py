"""`egodistill index` leaves an MLflow run (params, counts, summary) in the workspace's store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dsfakes import clean_epic
from mlflow.tracking import MlflowClient

from egodistill.cli import main
from egodistill.storage import read_table
from egodistill.tracking import default_tracking_uri


@pytest.fixture(autouse=True)
def _default_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _runs(workspace: Path, job: str):
    client = MlflowClient(tracking_uri=default_tracking_uri(workspace))
    exp = client.get_experiment_by_name(f"egodistill-{job}")
    assert exp is not None, f"no experiment egodistill-{job} in {workspace}/mlflow.db"
    return client, client.search_runs([exp.experiment_id])


def test_index_run_lands_beside_the_manifests_folder(tmp_path):
    data = clean_epic(tmp_path / "data")
    (data / "P01" / "videos" / "P01_102.MP4").unlink()  # 4 rows quarantined: video_missing
    ws = tmp_path / "ws"
    out = ws / "manifests" / "epic.parquet"
    assert main(["index", "--dataset", "epic", "--root", str(data), "--out", str(out)]) == 0
    manifest = read_table(str(out))
    assert b"tracking" not in manifest.schema.metadata[b"egodistill.index_config"]  # outputs unchanged
    client, (run,) = _runs(ws, "index")
    assert run.info.status == "FINISHED" and run.info.run_name == "epic"
    m = run.data.metrics
    assert (m["rows_in"], m["rows_written"], m["rows_quarantined"]) == (12, manifest.num_rows, 4)
    assert m["quarantine.video_missing"] == 4 and m["clips.train"] + m["clips.val"] == manifest.num_rows
    assert run.data.params["dataset"] == "epic" and run.data.params["out"] == str(out)
    local = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "art")))
    assert "rows read: 12; clips kept: 8; quarantined: 4" in (local / "summary.txt").read_text()
    assert json.loads((local / "quarantine_reasons.json").read_text()) == {"video_missing": 4}


def test_index_failure_is_a_failed_run_and_no_mlflow_skips_it(tmp_path):
    data = clean_epic(tmp_path / "data")
    (data / "EPIC_100_validation.csv").unlink()
    ws = tmp_path / "ws"
    argv = ["index", "--dataset", "epic", "--root", str(data), "--out", str(tmp_path / "m.parquet")]
    assert main([*argv, "--workspace", str(ws)]) == 1
    _, (run,) = _runs(ws, "index")
    assert run.info.status == "FAILED"
    other = tmp_path / "other"
    assert main([*argv, "--workspace", str(other), "--no-mlflow"]) == 1
    assert not (other / "mlflow.db").exists()
